/*
 * rule_sql.h
 *	  A checked rule compiled to SQL.
 */
#ifndef SEGMENTS_RULE_SQL_H
#define SEGMENTS_RULE_SQL_H

#include "rule_check.h"

/*
 * An operator of pg_catalog by name.  Every operator of the generated SQL
 * is named with its schema: an operator that any role can create on the
 * search_path, a better match for the operands' types than pg_catalog's,
 * would otherwise run instead, with the rights of whoever runs the SQL.
 * (BETWEEN and IN are written out for the same reason: the parser expands
 * them with unqualified operators.)
 */
#define BUILTIN_OP(name) " OPERATOR(pg_catalog." name ") "

/*
 * SELECT c.<key> AS contact FROM <contacts> AS c WHERE <tenant and rule>;
 * portable: relative times as calls of segments.now() and friends rather
 * than constants of this moment; few: for a query restricted to a few
 * contacts, event conditions as per-contact counts.
 */
extern char *rule_compile_sql(const CheckedRule *cr, bool portable, bool few);
extern char *rule_overridden_sql(Attachments *att, const char *compiled, int64 id,
								 const char *tenant);

/*
 * A field (a FIELD item of the rule) as a time: the column, or the jsonb
 * property read by segments.json_time(); alias names the table.
 */
extern char *rule_sql_time_field(const CheckedRule *cr, const RuleItem *field, const char *alias);

/*
 * alias.<kind column> = 'kind': for a kind of an enum type, the label as
 * that type, or compared as text when the type has no such label (yet);
 * true or false for a source whose events are all of one kind.
 */
extern char *rule_sql_kind_test(const AttachedTable *events, const char *alias, const char *kind);

/* The ILIKE pattern of contains / starts with / ends with a text. */
extern char *rule_match_pattern(const char *text, RuleTestOp op);

#endif							/* SEGMENTS_RULE_SQL_H */
