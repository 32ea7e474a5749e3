/*
 * rule_type.h
 *	  The segments.rule SQL type: getting a rule's body out of a Datum and
 *	  making a Datum from a rule tree.
 */
#ifndef SEGMENTS_RULE_TYPE_H
#define SEGMENTS_RULE_TYPE_H

#include "rule_tree.h"

/* Detoast and check the format version; returns the body. */
extern const RuleBody *rule_datum_body(Datum d);

#define PG_GETARG_RULE_BODY(n)	rule_datum_body(PG_GETARG_DATUM(n))

/*
 * Encode a tree into a varlena Datum, ereport()ing the encoder's error with
 * its SQLSTATE (42601, 54000, 54001, 22003, 22023 ...).
 */
extern Datum rule_datum_from_tree(const RuleNode *root, RuleArena *arena);

/*
 * Where the condition holding item index is in the rule's JSON form
 * (rule_to_jsonb): "$", "$.and[1]", "$.and[0].where.or[2]" ... (palloc'd).
 */
extern char *rule_json_path(const RuleBody *body, uint32 index);

#endif							/* SEGMENTS_RULE_TYPE_H */
