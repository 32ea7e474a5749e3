/*
 * rule_time.h
 *	  The clock rules use (segments.now()) and time arithmetic in UTC.
 */
#ifndef SEGMENTS_RULE_TIME_H
#define SEGMENTS_RULE_TIME_H

#include "datatype/timestamp.h"

#include "rule_tree.h"

extern void rule_time_init(void);
extern TimestampTz rule_now(void);
extern TimestampTz rule_time_shift(TimestampTz base, int sign, uint32 amount, RuleUnit unit);
extern TimestampTz rule_time_value(RuleValueKind kind, uint32 amount, RuleUnit unit);
extern bool rule_parse_utc_timestamp(const char *str, TimestampTz *result);
extern RuleUnit rule_unit_from_name(const char *name);
extern bool rule_is_relative_word(const char *word);

#endif							/* SEGMENTS_RULE_TIME_H */
