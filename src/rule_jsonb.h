/*
 * rule_jsonb.h
 *	  jsonb properties typed by the literal they are compared with.
 */
#ifndef SEGMENTS_RULE_JSONB_H
#define SEGMENTS_RULE_JSONB_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/*
 * The value at a path of nkeys object keys (consecutive NUL-terminated
 * strings at keys) in doc; false when a key is missing or a step is not an
 * object.  With no keys, the document itself.
 */
extern bool rule_jsonb_lookup(Jsonb *doc, const char *keys, int nkeys, JsonbValue *result);

/* A JSON string read as a time (UTC without a zone); false otherwise. */
extern bool rule_jsonb_time(const JsonbValue *value, TimestampTz *result);

#endif							/* SEGMENTS_RULE_JSONB_H */
