/*
 * rule_time.h
 *	  The clock rules use (segments.now()) and time arithmetic in UTC.
 */
#ifndef SEGMENTS_RULE_TIME_H
#define SEGMENTS_RULE_TIME_H

#include "datatype/timestamp.h"

#include "rule_tree.h"

extern void rule_time_init(void);
/*
 * The time rules see: segments.now_override, or the time maintenance
 * pinned while it evaluates, or the transaction's start (now()).
 */
extern TimestampTz rule_now(void);

/* segments.now_override, or the clock. */
extern TimestampTz rule_clock(void);

/*
 * Maintenance evaluates with the clock read once it holds the contacts'
 * turns (0 unpins): a transaction that started before a concurrent one
 * brought them up to date at a later time must not bring them back.
 */
extern void rule_pin_now(TimestampTz now);
extern TimestampTz rule_time_shift(TimestampTz base, int sign, uint32 amount, RuleUnit unit);
extern TimestampTz rule_time_value(RuleValueKind kind, uint32 amount, RuleUnit unit);

/*
 * The time a clock in zone shows at t, as a timestamp without time zone
 * (what t AT TIME ZONE zone gives); t itself when zone is NULL.
 */
extern int64 rule_clock_time(TimestampTz t, const char *zone);
extern bool rule_parse_utc_timestamp(const char *str, TimestampTz *result);
extern RuleUnit rule_unit_from_name(const char *name);
extern bool rule_is_relative_word(const char *word);

#endif							/* SEGMENTS_RULE_TIME_H */
