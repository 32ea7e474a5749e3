/*
 * rule_sql.h
 *	  A checked rule compiled to SQL.
 */
#ifndef SEGMENTS_RULE_SQL_H
#define SEGMENTS_RULE_SQL_H

#include "rule_check.h"

/*
 * SELECT c.<key> AS contact FROM <contacts> AS c WHERE <tenant and rule>;
 * portable: relative times as calls of segments.now() and friends rather
 * than constants of this moment; few: for a query restricted to a few
 * contacts, event conditions as per-contact counts.
 */
extern char *rule_compile_sql(const CheckedRule *cr, bool portable, bool few);

/*
 * A field (a FIELD item of the rule) as a time: the column, or the jsonb
 * property read by segments.json_time(); alias names the table.
 */
extern char *rule_sql_time_field(const CheckedRule *cr, const RuleItem *field, const char *alias);

/* The ILIKE pattern of contains / starts with / ends with a text. */
extern char *rule_match_pattern(const char *text, RuleTestOp op);

#endif							/* SEGMENTS_RULE_SQL_H */
