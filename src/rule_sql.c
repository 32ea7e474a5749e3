/*
 * rule_sql.c
 *	  Compile a checked rule to SQL that PostgreSQL's planner runs: the set
 *	  of contact keys matching the rule.
 *
 * Every condition is true or false, never unknown: a test on a NULL value
 * yields NULL, which a WHERE clause takes as false, so conditions outside
 * any "not" are written plainly (and stay indexable), and a nullable one
 * under "not" is wrapped in coalesce(..., false).  Event counts become
 * semi- and anti-joins against the events grouped by contact.  Identifiers
 * and literals are always quoted; literals are written as their type's
 * output in UTC and ISO style, so the SQL means the same in any session.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/stratnum.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "contact_data.h"
#include "rule_check.h"
#include "contact_key.h"
#include "rule_sql.h"
#include "rule_time.h"

PG_FUNCTION_INFO_V1(segments_compile);

typedef struct SqlState
{
	const CheckedRule *cr;
	const RuleBody *body;
	StringInfo	buf;
	bool		portable;		/* relative times as calls, not constants */
	bool		few;			/* for a few contacts: events counted per contact */
} SqlState;

static bool compile_node(SqlState *st, const RuleItem *item, const char *alias,
						 const AttachedTable *table);

static uint32
item_index(SqlState *st, const RuleItem *item)
{
	return (uint32) (item - st->body->items);
}

/* A literal as 'text'::type. */
static void
append_literal(StringInfo buf, Datum value, Oid type, int32 typmod)
{
	Oid			output;
	bool		varlena;

	getTypeOutputInfo(type, &output, &varlena);
	appendStringInfo(buf, "%s::%s",
					 quote_literal_cstr(OidOutputFunctionCall(output, value)),
					 format_type_extended(type, typmod,
										  FORMAT_TYPE_TYPEMOD_GIVEN | FORMAT_TYPE_FORCE_QUALIFY));
}

static const char *
unit_sql(uint32 unit)
{
	return quote_literal_cstr(rule_unit_name((RuleUnit) unit, false));
}

static void append_value(SqlState *st, const RuleItem *value, const char *zone);
static void append_operator(StringInfo buf, Oid type, RuleTestOp op);

/*
 * A time computed now, as a constant: the planner then estimates the rows
 * of a window from the statistics, as for a hand-written query.  The text
 * is compiled afresh for every statement that runs it.  With a zone, the
 * timestamp a clock there shows then.
 */
static void
append_time(SqlState *st, TimestampTz time, const char *zone)
{
	if (zone)
		append_literal(st->buf, TimestampGetDatum(rule_clock_time(time, zone)), TIMESTAMPOID, -1);
	else
		append_literal(st->buf, TimestampTzGetDatum(time), TIMESTAMPTZOID, -1);
}

/* " AT TIME ZONE 'zone'", or nothing without a zone */
static char *
at_zone(const char *zone)
{
	return zone ? psprintf(" AT TIME ZONE %s", quote_literal_cstr(zone)) : "";
}


/* The bounds of within last/next N unit: ago and now, or now and from now. */
static void
window_bounds(SqlState *st, RuleTestOp op, const RuleItem *duration, const char *zone,
			  char **low, char **high)
{
	const char *at = at_zone(zone);
	StringInfo	saved = st->buf;
	StringInfoData lo,
				hi;

	initStringInfo(&lo);
	initStringInfo(&hi);
	if (!st->portable)
	{
		TimestampTz now = rule_now();
		TimestampTz other = rule_time_shift(now, op == RT_WITHIN_LAST ? -1 : 1,
											duration->a, (RuleUnit) duration->arg);

		st->buf = &lo;
		append_time(st, op == RT_WITHIN_LAST ? other : now, zone);
		st->buf = &hi;
		append_time(st, op == RT_WITHIN_LAST ? now : other, zone);
		st->buf = saved;
	}
	else if (op == RT_WITHIN_LAST)
	{
		appendStringInfo(&lo, "(SELECT segments.ago(%u, %s)%s)", duration->a, unit_sql(duration->arg), at);
		appendStringInfo(&hi, "(SELECT segments.now()%s)", at);
	}
	else
	{
		appendStringInfo(&lo, "(SELECT segments.now()%s)", at);
		appendStringInfo(&hi, "(SELECT segments.from_now(%u, %s)%s)", duration->a, unit_sql(duration->arg), at);
	}
	*low = lo.data;
	*high = hi.data;
}

/* N unit ago, of a duration: a constant of this moment, or portable. */
static void
append_ago(SqlState *st, const RuleItem *duration)
{
	if (st->portable)
		appendStringInfo(st->buf, "(SELECT segments.ago(%u, %s))", duration->a, unit_sql(duration->arg));
	else
		append_time(st, rule_time_shift(rule_now(), -1, duration->a, (RuleUnit) duration->arg), NULL);
}

/*
 * bucket('seed') cmp n: segments.bucket() of the contact's key and
 * tenant as text, as the per-contact path computes it (src/bucket.c):
 * the text their types' output functions write, which concat() gives
 * (a cast to text may differ: char(n) trims, boolean spells true), ''
 * for a NULL tenant, which hashes as none.
 */
static void
compile_bucket(SqlState *st, const RuleItem *item)
{
	const AttachedTable *co = &st->cr->att->contacts;

	appendStringInfoString(st->buf, "segments.bucket(");
	append_literal(st->buf, CStringGetTextDatum(RULE_STR(st->body, item->a)), TEXTOID, -1);
	appendStringInfo(st->buf, ", pg_catalog.concat(c.%s), ", quote_identifier(co->contact_column));
	if (co->tenant_column)
		appendStringInfo(st->buf, "pg_catalog.concat(c.%s))", quote_identifier(co->tenant_column));
	else
		appendStringInfoString(st->buf, "NULL)");
	append_operator(st->buf, INT4OID, (RuleTestOp) item->op);
	appendStringInfo(st->buf, "%u", item->b);
}

/* expr BETWEEN low AND high (or NOT), with pg_catalog's operators. */
static void
append_between(StringInfo buf, const char *expr, bool negated, const char *low, const char *high)
{
	if (negated)
		appendStringInfo(buf, "(%s" BUILTIN_OP("<") "%s OR %s" BUILTIN_OP(">") "%s)", expr, low, expr, high);
	else
		appendStringInfo(buf, "(%s" BUILTIN_OP(">=") "%s AND %s" BUILTIN_OP("<=") "%s)", expr, low, expr, high);
}

/* expr within last/next N unit, with pg_catalog's operators. */
static void
append_window(SqlState *st, const char *expr, RuleTestOp op, const RuleItem *duration, const char *zone)
{
	char	   *low,
			   *high;

	window_bounds(st, op, duration, zone, &low, &high);
	append_between(st->buf, expr, false, low, high);
}

/*
 * A value operand.  Relative times become calls of segments.now() and
 * friends; a zone gives the timestamp (without time zone) a clock there
 * shows, for comparing with timestamp and date columns.
 */
static void
append_value(SqlState *st, const RuleItem *value, const char *zone)
{
	const CheckedItem *cv = &st->cr->items[item_index(st, value)];
	StringInfo	buf = st->buf;

	if (OidIsValid(cv->valtype))
	{
		append_literal(buf, cv->value, cv->valtype, -1);
		return;
	}
	if (!st->portable)
	{
		append_time(st, rule_time_value((RuleValueKind) value->op, value->a, (RuleUnit) value->arg),
					zone);
		return;
	}

	/*
	 * A scalar subquery, so the time is computed once per execution (an
	 * initplan) rather than per row, and can still bound an index scan.
	 */
	appendStringInfoString(buf, "(SELECT ");
	switch ((RuleValueKind) value->op)
	{
		case RV_NOW:
			appendStringInfoString(buf, "segments.now()");
			break;
		case RV_AGO:
			appendStringInfo(buf, "segments.ago(%u, %s)", value->a, unit_sql(value->arg));
			break;
		case RV_FROM_NOW:
			appendStringInfo(buf, "segments.from_now(%u, %s)", value->a, unit_sql(value->arg));
			break;
		default:
			elog(ERROR, "unexpected value kind %d", value->op);
	}
	appendStringInfo(buf, "%s)", at_zone(zone));
}


/* A btree operator of a type's default operator class, with its schema. */
static void
append_operator(StringInfo buf, Oid type, RuleTestOp op)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_BTREE_OPFAMILY);
	int			strategy;
	Oid			opno;
	HeapTuple	tuple;
	Form_pg_operator form;

	switch (op)
	{
		case RT_LT:
			strategy = BTLessStrategyNumber;
			break;
		case RT_LE:
			strategy = BTLessEqualStrategyNumber;
			break;
		case RT_GT:
			strategy = BTGreaterStrategyNumber;
			break;
		case RT_GE:
			strategy = BTGreaterEqualStrategyNumber;
			break;
		default:
			strategy = BTEqualStrategyNumber;
			break;
	}
	opno = get_opfamily_member(tc->btree_opf, tc->btree_opintype, tc->btree_opintype, strategy);
	if (op == RT_NE)
		opno = get_negator(opno);
	if (!OidIsValid(opno))
		elog(ERROR, "no operator for type %s", format_type_be(type));
	tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for operator %u", opno);
	form = (Form_pg_operator) GETSTRUCT(tuple);
	appendStringInfo(buf, " OPERATOR(%s.%s) ",
					 quote_identifier(get_namespace_name(form->oprnamespace)),
					 NameStr(form->oprname));
	ReleaseSysCache(tuple);
}

static const char *
plain_operator(RuleTestOp op)
{
	switch (op)
	{
		case RT_EQ:
			return BUILTIN_OP("=");
		case RT_NE:
			return BUILTIN_OP("<>");
		case RT_LT:
			return BUILTIN_OP("<");
		case RT_LE:
			return BUILTIN_OP("<=");
		case RT_GT:
			return BUILTIN_OP(">");
		default:
			return BUILTIN_OP(">=");
	}
}

/* LIKE, ILIKE and their negations, as pg_catalog's operators. */
static const char *
like_operator(RuleTestOp op, bool negated)
{
	if (op == RT_LIKE)
		return negated ? BUILTIN_OP("!~~") : BUILTIN_OP("~~");
	return negated ? BUILTIN_OP("!~~*") : BUILTIN_OP("~~*");
}

/* The expression of a field: a column, or a jsonb column followed by keys. */
static void
append_field(SqlState *st, const RuleItem *item, const char *alias)
{
	const char *component = RULE_STR(st->body, item->a);
	uint32		i;

	appendStringInfo(st->buf, "%s.%s", alias, quote_identifier(component));
	for (i = 1; i < item->b; i++)
	{
		component += strlen(component) + 1;
		appendStringInfo(st->buf, BUILTIN_OP("->") "%s", quote_literal_cstr(component));
	}
}

/*
 * The SQL of an operand, a field (of alias) or a value, as a string of its
 * own: for an operand written twice, or before what precedes it is known.
 */
static char *
operand_sql(SqlState *st, const RuleItem *item, const char *alias, const char *zone)
{
	StringInfo	saved = st->buf;
	StringInfoData buf;

	initStringInfo(&buf);
	st->buf = &buf;
	if (item->type == RI_FIELD)
		append_field(st, item, alias);
	else
		append_value(st, item, zone);
	st->buf = saved;
	return buf.data;
}

char *
rule_sql_time_field(const CheckedRule *cr, const RuleItem *field, const char *alias)
{
	SqlState	st;
	StringInfoData buf;

	memset(&st, 0, sizeof(st));
	st.cr = cr;
	st.body = cr->body;
	st.buf = &buf;
	initStringInfo(&buf);
	if (cr->items[item_index(&st, field)].fclass == FC_JSON)
	{
		appendStringInfoString(&buf, "segments.json_time(");
		append_field(&st, field, alias);
		appendStringInfoChar(&buf, ')');
	}
	else
		append_field(&st, field, alias);
	return buf.data;
}

/* A case-insensitive text match: contains, starts with, ends with. */
static char *
match_pattern(const char *text, RuleTestOp op)
{
	StringInfoData buf;
	const char *c;

	initStringInfo(&buf);
	if (op != RT_STARTS_WITH)
		appendStringInfoChar(&buf, '%');
	for (c = text; *c; c++)
	{
		if (*c == '%' || *c == '_' || *c == '\\')
			appendStringInfoChar(&buf, '\\');
		appendStringInfoChar(&buf, *c);
	}
	if (op != RT_ENDS_WITH)
		appendStringInfoChar(&buf, '%');
	return buf.data;
}

char *
rule_match_pattern(const char *text, RuleTestOp op)
{
	return match_pattern(text, op);
}

/* The typed read of a jsonb value a literal compares with. */
static const char *
json_reader(const RuleItem *value)
{
	switch ((RuleValueKind) value->op)
	{
		case RV_STRING:
			return "segments.json_string";
		case RV_NUMBER:
			return "segments.json_number";
		case RV_TRUE:
		case RV_FALSE:
			return "segments.json_boolean";
		default:
			return "segments.json_time";
	}
}

/* A JSON scalar for a literal, as JSON text. */
static void
append_json_scalar(StringInfo buf, const RuleBody *body, const RuleItem *value)
{
	if (value->op == RV_STRING)
		escape_json(buf, RULE_STR(body, value->a));
	else if (value->op == RV_NUMBER)
		appendStringInfoString(buf, RULE_STR(body, value->a));
	else
		appendStringInfoString(buf, value->op == RV_TRUE ? "true" : "false");
}

/*
 * column @> '{"k1": {"k2": <json>}}': the property at the path holds the
 * given JSON (a GIN index on the column answers it).  element wraps the
 * scalar in an array: the property is an array with that element.
 */
static void
append_containment(SqlState *st, const RuleItem *item, const char *alias,
				   const RuleItem *value, bool element)
{
	StringInfoData json;
	const char *component = RULE_STR(st->body, item->a);
	uint32		i;

	initStringInfo(&json);
	for (i = 1; i < item->b; i++)
	{
		component += strlen(component) + 1;
		appendStringInfoChar(&json, '{');
		escape_json(&json, component);
		appendStringInfoString(&json, ": ");
	}
	if (element)
		appendStringInfoChar(&json, '[');
	append_json_scalar(&json, st->body, value);
	if (element)
		appendStringInfoChar(&json, ']');
	for (i = 1; i < item->b; i++)
		appendStringInfoChar(&json, '}');
	appendStringInfo(st->buf, "%s.%s" BUILTIN_OP("@>") "%s::pg_catalog.jsonb", alias,
					 quote_identifier(RULE_STR(st->body, item->a)),
					 quote_literal_cstr(json.data));
}

/* A jsonb field test.  Returns whether the result can be NULL. */
static bool
compile_json_field(SqlState *st, const RuleItem *item, const char *alias)
{
	StringInfo	buf = st->buf;
	RuleTestOp	op = (RuleTestOp) item->op;
	bool		negated = (item->flags & RULE_NEGATED) != 0;
	const RuleItem *first = item + 1;
	uint32		nops = item->span - 1;
	char	   *field = operand_sql(st, item, alias, NULL);
	uint32		i;

	switch (op)
	{
		case RT_IS_NULL:
			if (negated)
				appendStringInfo(buf, "(%s IS NOT NULL AND pg_catalog.jsonb_typeof(%s)" BUILTIN_OP("<>") "'null')",
								 field, field);
			else
				appendStringInfo(buf, "(%s IS NULL OR pg_catalog.jsonb_typeof(%s)" BUILTIN_OP("=") "'null')",
								 field, field);
			return false;
		case RT_EQ:
			if (item->b > 1 && !RV_IS_RELATIVE(first->op))
			{
				/* NULL when the column is */
				append_containment(st, item, alias, first, false);
				return true;
			}
			/* FALLTHROUGH */
		case RT_NE:
		case RT_LT:
		case RT_LE:
		case RT_GT:
		case RT_GE:
			appendStringInfo(buf, "%s(%s)%s", json_reader(first), field, plain_operator(op));
			append_value(st, first, NULL);
			return true;
		case RT_BETWEEN:
			append_between(buf, psprintf("%s(%s)", json_reader(first), field), negated,
						   operand_sql(st, first, NULL, NULL), operand_sql(st, first + 1, NULL, NULL));
			return true;
		case RT_IN:
			{
				/* one typed IN per kind of literal, or-ed */
				static const RuleValueKind kinds[] = {RV_STRING, RV_NUMBER, RV_TRUE, RV_NOW};
				int			k,
							groups = 0;

				appendStringInfoChar(buf, '(');
				for (k = 0; k < (int) lengthof(kinds); k++)
				{
					bool		any = false;

					for (i = 0; i < nops; i++)
					{
						const RuleItem *value = first + i;
						int			kind = RV_JSON_KIND(value->op);

						if (kind != (int) kinds[k])
							continue;
						if (!any)
						{
							if (groups++ > 0)
								appendStringInfoString(buf, " OR ");
							appendStringInfo(buf, negated ? "coalesce(%s(%s)" BUILTIN_OP("<>") "ALL (ARRAY[" :
											 "%s(%s)" BUILTIN_OP("=") "ANY (ARRAY[",
											 json_reader(value), field);
						}
						else
							appendStringInfoString(buf, ", ");
						append_value(st, value, NULL);
						any = true;
					}
					if (any)
						appendStringInfoString(buf, negated ? "]), false)" : "])");
				}
				appendStringInfoChar(buf, ')');
				return !negated;
			}
		case RT_CONTAINS:
			/* a string containing the text, or an array holding the element */
			appendStringInfo(buf, "%sCASE pg_catalog.jsonb_typeof(%s)", negated ? "NOT " : "", field);
			if (first->op == RV_STRING)
				appendStringInfo(buf, " WHEN 'string' THEN segments.json_string(%s)" BUILTIN_OP("~~*") "%s",
								 field, quote_literal_cstr(match_pattern(RULE_STR(st->body, first->a), op)));
			appendStringInfo(buf, " WHEN 'array' THEN %s" BUILTIN_OP("@>"), field);
			{
				StringInfoData json;

				initStringInfo(&json);
				appendStringInfoChar(&json, '[');
				append_json_scalar(&json, st->body, first);
				appendStringInfoChar(&json, ']');
				appendStringInfo(buf, "%s::pg_catalog.jsonb END", quote_literal_cstr(json.data));
			}
			return true;
		case RT_STARTS_WITH:
		case RT_ENDS_WITH:
			appendStringInfo(buf, "segments.json_string(%s)%s%s", field,
							 negated ? BUILTIN_OP("!~~*") : BUILTIN_OP("~~*"),
							 quote_literal_cstr(match_pattern(rule_literal_text(st->body, first), op)));
			return true;
		case RT_LIKE:
		case RT_ILIKE:
			appendStringInfo(buf, "segments.json_string(%s)%s%s", field, like_operator(op, negated),
							 quote_literal_cstr(RULE_STR(st->body, first->a)));
			return true;
		case RT_WITHIN_LAST:
		case RT_WITHIN_NEXT:
			append_window(st, psprintf("segments.json_time(%s)", field), op, first, NULL);
			return true;
	}
	return true;
}

/* A scalar, text, time or array field test.  Returns whether it can be NULL. */
static bool
compile_column_field(SqlState *st, const RuleItem *item, const char *alias)
{
	const CheckedItem *ci = &st->cr->items[item_index(st, item)];
	StringInfo	buf = st->buf;
	RuleTestOp	op = (RuleTestOp) item->op;
	bool		negated = (item->flags & RULE_NEGATED) != 0;
	const RuleItem *first = item + 1;
	uint32		nops = item->span - 1;
	char	   *field = operand_sql(st, item, alias, NULL);
	bool		time = ci->fclass == FC_TIME;
	const char *zone = ci->clock_zone;
	uint32		i;

	switch (op)
	{
		case RT_IS_NULL:
			appendStringInfo(buf, "%s IS %sNULL", field, negated ? "NOT " : "");
			return false;
		case RT_EQ:
		case RT_NE:
		case RT_LT:
		case RT_LE:
		case RT_GT:
		case RT_GE:
			appendStringInfoString(buf, field);
			if (time)
				appendStringInfoString(buf, plain_operator(op));
			else
				append_operator(buf, ci->coltype, op);
			append_value(st, first, zone);
			return true;
		case RT_BETWEEN:
			appendStringInfo(buf, "(%s", field);
			if (time)
				appendStringInfoString(buf, plain_operator(negated ? RT_LT : RT_GE));
			else
				append_operator(buf, ci->coltype, negated ? RT_LT : RT_GE);
			append_value(st, first, zone);
			appendStringInfo(buf, " %s %s", negated ? "OR" : "AND", field);
			if (time)
				appendStringInfoString(buf, plain_operator(negated ? RT_GT : RT_LE));
			else
				append_operator(buf, ci->coltype, negated ? RT_GT : RT_LE);
			append_value(st, first + 1, zone);
			appendStringInfoChar(buf, ')');
			return true;
		case RT_IN:
			/* = ANY with the type's own equality, wherever its schema */
			appendStringInfoString(buf, field);
			append_operator(buf, ci->coltype, negated ? RT_NE : RT_EQ);
			appendStringInfo(buf, "%s (ARRAY[", negated ? "ALL" : "ANY");
			for (i = 0; i < nops; i++)
			{
				if (i > 0)
					appendStringInfoString(buf, ", ");
				append_value(st, first + i, zone);
			}
			appendStringInfoString(buf, "])");
			return true;
		case RT_CONTAINS:
			if (ci->fclass == FC_ARRAY)
			{
				appendStringInfo(buf, "%s(%s" BUILTIN_OP("@>") "ARRAY[", negated ? "NOT " : "", field);
				append_value(st, first, NULL);
				appendStringInfoString(buf, "])");
				return true;
			}
			/* FALLTHROUGH */
		case RT_STARTS_WITH:
		case RT_ENDS_WITH:
			appendStringInfo(buf, "%s%s%s%s", field,
							 ci->cmptype == TEXTOID ? "" : "::pg_catalog.text",
							 negated ? BUILTIN_OP("!~~*") : BUILTIN_OP("~~*"),
							 quote_literal_cstr(match_pattern(rule_literal_text(st->body, first), op)));
			return true;
		case RT_LIKE:
		case RT_ILIKE:
			appendStringInfo(buf, "%s%s%s%s", field,
							 ci->cmptype == TEXTOID ? "" : "::pg_catalog.text",
							 like_operator(op, negated),
							 quote_literal_cstr(RULE_STR(st->body, first->a)));
			return true;
		case RT_WITHIN_LAST:
		case RT_WITHIN_NEXT:
			append_window(st, field, op, first, zone);
			return true;
	}
	return true;
}

char *
rule_sql_kind_test(const AttachedTable *ev, const char *alias, const char *kind)
{
	HeapTuple	label;

	/* a source of one kind: all its events or none */
	if (ev->constant_kind)
		return pstrdup(strcmp(ev->constant_kind, kind) == 0 ? "true" : "false");
	if (!OidIsValid(ev->kind_enum))
		return psprintf("%s.%s" BUILTIN_OP("=") "%s", alias, quote_identifier(ev->kind_column),
						quote_literal_cstr(kind));
	label = strlen(kind) >= NAMEDATALEN ? NULL :
		SearchSysCache2(ENUMTYPOIDNAME, ObjectIdGetDatum(ev->kind_enum), CStringGetDatum(kind));
	if (!HeapTupleIsValid(label))
	{
		/* as text: the label may be added later, while this SQL is kept */
		return psprintf("%s.%s::pg_catalog.text" BUILTIN_OP("=") "%s", alias,
						quote_identifier(ev->kind_column), quote_literal_cstr(kind));
	}
	ReleaseSysCache(label);
	/* the column as the enum (a no-op unless it is a domain over it) */
	return psprintf("%s.%s::%s" BUILTIN_OP("=") "%s::%s", alias, quote_identifier(ev->kind_column),
					format_type_be_qualified(ev->kind_enum), quote_literal_cstr(kind),
					format_type_be_qualified(ev->kind_enum));
}

/*
 * An event's or list's window (not ever) as a test of at, its time, into
 * st->buf.
 */
static void
append_time_window(SqlState *st, const RuleItem *item, const char *at, const RuleItem *operand)
{
	/* a timestamp or date time column: times as its zone's clock shows them */
	const char *zone = st->cr->items[item_index(st, item)].clock_zone;

	switch ((RuleWindow) item->arg)
	{
		case RW_WITHIN_LAST:
			append_window(st, at, RT_WITHIN_LAST, operand, zone);
			break;
		case RW_SINCE:
			appendStringInfo(st->buf, "%s" BUILTIN_OP(">="), at);
			append_value(st, operand, zone);
			break;
		case RW_BEFORE:
			appendStringInfo(st->buf, "%s" BUILTIN_OP("<"), at);
			append_value(st, operand, zone);
			break;
		case RW_BETWEEN:
			append_between(st->buf, at, false, operand_sql(st, operand, NULL, zone),
						   operand_sql(st, operand + 1, NULL, zone));
			break;
		case RW_EVER:
			appendStringInfoString(st->buf, "true");
			break;
	}
}

/*
 * The events an event condition takes, as a condition on alias e into
 * st->buf: its kind, its where clause and, given its operands (window),
 * its window.
 */
static void
append_event_filter(SqlState *st, const RuleItem *item, const RuleItem *window)
{
	const AttachedTable *ev = rule_event_table(st->cr, item);

	appendStringInfoString(st->buf, rule_sql_kind_test(ev, "e", RULE_STR(st->body, item->a)));
	if (item->flags & RULE_HAS_WHERE)
	{
		appendStringInfoString(st->buf, " AND ");
		compile_node(st, item + 1, "e", ev);
	}
	if (window && item->arg != RW_EVER)
	{
		appendStringInfoString(st->buf, " AND ");
		append_time_window(st, item, psprintf("e.%s", quote_identifier(ev->at_column)), window);
	}
}

/*
 * Whether pg_catalog's min and max take values of a base type as they are
 * and order them as its default btree operator class does.  Other types
 * (boolean, uuid, an extension's) have none, or one of a type they are cast
 * to, whose order may differ.
 */
static bool
builtin_min_max(Oid type)
{
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case FLOAT4OID:
		case FLOAT8OID:
		case MONEYOID:
		case OIDOID:
		case TEXTOID:
		case VARCHAROID:		/* min(text), in text's order, as varchar's btree */
		case BPCHAROID:
		case DATEOID:
		case TIMEOID:
		case TIMETZOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case INTERVALOID:
		case INETOID:
			return true;
		default:
			return type_is_enum(type);
	}
}

/*
 * The test an event condition's measure makes of a contact's matching
 * events, as an aggregate expression over alias e, into st->buf; returns
 * whether it holds for a contact without any (0 of a sum or a count).
 * sum and avg are exact: numeric sums (each value of a float column made
 * numeric first), and avg op v as sum op v * count, without a division.
 */
static bool
append_measure_test(SqlState *st, const RuleItem *event, const RuleItem *m,
					const RuleItem *window)
{
	const AttachedTable *ev = rule_event_table(st->cr, event);
	const CheckedItem *ci = &st->cr->items[item_index(st, m)];
	StringInfo	buf = st->buf;
	const char *column = RM_IS_AGGREGATE(m->op) ? quote_identifier(ci->column) : NULL;
	bool		float_column = column && (ci->cmptype == FLOAT4OID || ci->cmptype == FLOAT8OID);
	const char *number = float_column ? psprintf("e.%s::pg_catalog.numeric", column) :
		column ? psprintf("e.%s", column) : NULL;
	RuleTestOp	op = (RuleTestOp) m->arg;
	const CheckedItem *cv = &st->cr->items[item_index(st, m + 1)];

	switch ((RuleMeasure) m->op)
	{
		case RM_SUM:
			appendStringInfo(buf, "coalesce(pg_catalog.sum(%s)::pg_catalog.numeric, 0)", number);
			appendStringInfoString(buf, plain_operator(op));
			append_value(st, m + 1, NULL);
			return rule_comparison_holds(op, DatumGetInt32(DirectFunctionCall2(numeric_cmp,
																		 DirectFunctionCall1(int4_numeric, Int32GetDatum(0)),
																		 cv->value)));
		case RM_AVG:
			appendStringInfo(buf, "pg_catalog.sum(%s)::pg_catalog.numeric", number);
			appendStringInfoString(buf, plain_operator(op));
			appendStringInfoChar(buf, '(');
			append_value(st, m + 1, NULL);
			appendStringInfo(buf, " OPERATOR(pg_catalog.*) pg_catalog.count(e.%s))", column);
			return false;
		case RM_COUNT_DISTINCT:
			appendStringInfo(buf, "pg_catalog.count(DISTINCT e.%s)", column);
			appendStringInfoString(buf, plain_operator(op));
			append_value(st, m + 1, NULL);
			return rule_comparison_holds(op, DatumGetInt64(cv->value) == 0 ? 0 : -1);
		case RM_MIN:
		case RM_MAX:
			{
				bool		time = ci->fclass == FC_TIME;

				if (builtin_min_max(ci->cmptype))
					appendStringInfo(buf, "pg_catalog.%s(e.%s)", m->op == RM_MIN ? "min" : "max", column);
				else
				{
					/* the first value in the type's own order, as the C path takes it */
					appendStringInfo(buf, "(pg_catalog.array_agg(e.%s ORDER BY e.%s USING", column, column);
					append_operator(buf, ci->coltype, m->op == RM_MIN ? RT_LT : RT_GT);
					appendStringInfo(buf, ") FILTER (WHERE e.%s IS NOT NULL))[1]", column);
				}
				if (time)
					appendStringInfoString(buf, plain_operator(op));
				else
					append_operator(buf, ci->coltype, op);
				append_value(st, m + 1, ci->clock_zone);
				return false;
			}
		case RM_FIRST:
		case RM_LAST:
			{
				const char *at = psprintf("pg_catalog.%s(e.%s)", m->op == RM_FIRST ? "min" : "max",
										  quote_identifier(ev->at_column));

				append_time_window(st, event, at, window);
				return false;
			}
	}
	return false;
}

/*
 * The contact of a group of events (grouped by it: as the GROUP BY list),
 * and the test that the group is the contact c's.
 */
static char *
grouped_contact(SqlState *st, const AttachedTable *ev, bool group_by)
{
	if (!st->cr->att->key_per_tenant)
		return psprintf(group_by ? "e.%s" : "e.%s AS contact", quote_identifier(ev->contact_column));
	/* the tenant first, as the (tenant, key) indexes are ordered */
	return psprintf(group_by ? "e.%s, e.%s" : "e.%s AS tenant, e.%s AS contact",
					quote_identifier(ev->tenant_column), quote_identifier(ev->contact_column));
}

static char *
grouped_contact_matches(SqlState *st, const AttachedTable *ev)
{
	const AttachedTable *co = &st->cr->att->contacts;
	char	   *contact = psprintf("g.contact" BUILTIN_OP("=") "c.%s", quote_identifier(co->contact_column));

	if (!st->cr->att->key_per_tenant)
		return contact;
	return psprintf("%s AND g.tenant" BUILTIN_OP("=") "c.%s", contact, quote_identifier(co->tenant_column));
}

/*
 * An event condition with a measure: the contacts whose matching events
 * (kind, where, and the window but for first and last, whose window tests
 * the time of the first or last) pass the measure's test.  As the count
 * does, grouped by contact, or for a few contacts each one's events alone.
 */
static void
compile_event_measure(SqlState *st, const RuleItem *item, const RuleItem *m,
					  const RuleItem *window)
{
	const AttachedTable *ev = rule_event_table(st->cr, item);
	const AttachedTable *co = &st->cr->att->contacts;
	StringInfo	buf = st->buf;
	StringInfoData filter;
	StringInfoData test;
	bool		without_events;

	initStringInfo(&filter);
	initStringInfo(&test);
	st->buf = &filter;
	/* the window filters an aggregate's events; first and last's it tests */
	append_event_filter(st, item, RM_IS_AGGREGATE(m->op) ? window : NULL);
	st->buf = &test;
	without_events = append_measure_test(st, item, m, window);
	st->buf = buf;

	if (st->few)
		appendStringInfo(buf, "coalesce((SELECT %s FROM %s AS e WHERE %s AND %s), false)",
						 test.data, quote_qualified_identifier(ev->schema, ev->name),
						 contact_key_join_sql(st->cr->att, ev, "e", co, "c"), filter.data);
	else
		appendStringInfo(buf, "%sEXISTS (SELECT FROM (SELECT %s FROM %s AS e WHERE %s "
						 "GROUP BY %s HAVING %s%s%s) AS g WHERE %s)",
						 without_events ? "NOT " : "",
						 grouped_contact(st, ev, false),
						 quote_qualified_identifier(ev->schema, ev->name), filter.data,
						 grouped_contact(st, ev, true),
						 without_events ? "NOT coalesce(" : "", test.data, without_events ? ", false)" : "",
						 grouped_contact_matches(st, ev));
}

/*
 * An event condition.  The count comparison becomes "at least k" (a
 * semi-join), its negation (an anti-join), "exactly n" or its negation;
 * the matching events are grouped by contact only when a count other than
 * "at least one" is asked for.
 */
static void
compile_event(SqlState *st, const RuleItem *item)
{
	const AttachedTable *ev = rule_event_table(st->cr, item);
	const AttachedTable *co = &st->cr->att->contacts;
	StringInfo	buf = st->buf;
	const RuleItem *operand = item + 1;
	int64		n = item->b;
	bool		positive = true;
	bool		exact = false;	/* count = n rather than count >= n */
	int64		k;
	StringInfoData filter;
	StringInfo	saved;

	if (item->flags & RULE_HAS_MEASURE)
	{
		const RuleItem *m = (item->flags & RULE_HAS_WHERE) ? RULE_NEXT(item + 1) : item + 1;

		compile_event_measure(st, item, m, RULE_NEXT(m));
		return;
	}
	switch ((RuleTestOp) item->op)
	{
		case RT_GE:
			k = n;
			break;
		case RT_GT:
			k = n + 1;
			break;
		case RT_LT:
			k = n;
			positive = false;
			break;
		case RT_LE:
			k = n + 1;
			positive = false;
			break;
		case RT_EQ:
			k = n == 0 ? 1 : n;
			exact = n != 0;
			positive = n != 0;
			break;
		default:				/* RT_NE */
			k = n == 0 ? 1 : n;
			exact = n != 0;
			positive = n == 0;
			break;
	}
	if (!exact && k == 0)
	{
		/* at least none: always */
		appendStringInfoString(buf, positive ? "true" : "false");
		return;
	}

	/* the events that count: kind, where, window */
	initStringInfo(&filter);
	saved = st->buf;
	st->buf = &filter;
	append_event_filter(st, item, (item->flags & RULE_HAS_WHERE) ? RULE_NEXT(operand) : operand);
	st->buf = saved;

	if (!exact && k == 1)
		appendStringInfo(buf, "%sEXISTS (SELECT FROM %s AS e WHERE %s AND %s)",
						 positive ? "" : "NOT ",
						 quote_qualified_identifier(ev->schema, ev->name),
						 contact_key_join_sql(st->cr->att, ev, "e", co, "c"), filter.data);
	else if (st->few)
	{
		/*
		 * For a few contacts, count each one's events through the index on
		 * the contact rather than aggregating the events of everyone.
		 */
		appendStringInfo(buf, "(SELECT count(*) FROM %s AS e WHERE %s AND %s)"
						 " OPERATOR(pg_catalog.%s) " INT64_FORMAT,
						 quote_qualified_identifier(ev->schema, ev->name),
						 contact_key_join_sql(st->cr->att, ev, "e", co, "c"), filter.data,
						 rule_test_op_name((RuleTestOp) item->op, false), n);
	}
	else
		appendStringInfo(buf, "%sEXISTS (SELECT FROM (SELECT %s FROM %s AS e WHERE %s "
						 "GROUP BY %s HAVING count(*) OPERATOR(pg_catalog.%s) " INT64_FORMAT ") AS g "
						 "WHERE %s)",
						 positive ? "" : "NOT ",
						 grouped_contact(st, ev, false),
						 quote_qualified_identifier(ev->schema, ev->name), filter.data,
						 grouped_contact(st, ev, true), exact ? "=" : ">=", k,
						 grouped_contact_matches(st, ev));
}

/*
 * A list condition: a row of the contact's on the list, passing the where
 * clause, its time in the window.
 */
static void
compile_in_list(SqlState *st, const RuleItem *item)
{
	const AttachedTable *li = &st->cr->att->lists;
	const RuleItem *window;

	appendStringInfo(st->buf, "EXISTS (SELECT FROM %s AS l WHERE %s AND l.%s",
					 quote_qualified_identifier(li->schema, li->name),
					 contact_key_join_sql(st->cr->att, li, "l", &st->cr->att->contacts, "c"),
					 quote_identifier(li->list_column));
	append_operator(st->buf, li->list_type, RT_EQ);
	append_value(st, item + 1, NULL);
	window = item + 2;
	if (item->flags & RULE_HAS_WHERE)
	{
		appendStringInfoString(st->buf, " AND ");
		compile_node(st, window, "l", li);
		window = RULE_NEXT(window);
	}
	if (item->arg != 0)
	{
		appendStringInfoString(st->buf, " AND ");
		append_time_window(st, item, psprintf("l.%s", quote_identifier(li->at_column)), window);
	}
	appendStringInfoChar(st->buf, ')');
}

/* A condition; returns whether its SQL can be NULL. */
static bool
compile_node(SqlState *st, const RuleItem *item, const char *alias,
			 const AttachedTable *table)
{
	StringInfo	buf = st->buf;
	const RuleItem *child;
	bool		nullable = false;

	check_stack_depth();
	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
			appendStringInfoChar(buf, '(');
			for (child = item + 1; child < RULE_NEXT(item); child = RULE_NEXT(child))
			{
				if (child > item + 1)
					appendStringInfoString(buf, item->type == RI_AND ? " AND " : " OR ");
				nullable |= compile_node(st, child, alias, table);
			}
			appendStringInfoChar(buf, ')');
			return nullable;
		case RI_NOT:
			{
				StringInfoData inner;
				bool		inner_nullable;

				initStringInfo(&inner);
				st->buf = &inner;
				inner_nullable = compile_node(st, item + 1, alias, table);
				st->buf = buf;
				if (inner_nullable)
					appendStringInfo(buf, "NOT coalesce(%s, false)", inner.data);
				else
					appendStringInfo(buf, "NOT %s", inner.data);
				return false;
			}
		case RI_TRUE:
			appendStringInfoString(buf, "true");
			return false;
		case RI_FALSE:
			appendStringInfoString(buf, "false");
			return false;
		case RI_FIELD:
			if (st->cr->items[item_index(st, item)].fclass == FC_JSON)
				return compile_json_field(st, item, alias);
			return compile_column_field(st, item, alias);
		case RI_EVENT:
			compile_event(st, item);
			return false;
		case RI_IN_LIST:
			compile_in_list(st, item);
			return false;
		case RI_IN_SEGMENT:
			appendStringInfo(buf, "EXISTS (SELECT FROM %s AS m "
							 "WHERE m.segment_id" BUILTIN_OP("=") INT64_FORMAT " AND m.contact" BUILTIN_OP("=") "c.%s",
							 rule_segments_table_sql(st->cr->att->membership_table),
							 st->cr->items[item_index(st, item)].segment_id,
							 quote_identifier(st->cr->att->contacts.contact_column));
			if (st->cr->att->key_per_tenant)
				appendStringInfo(buf, " AND m.tenant" BUILTIN_OP("=") "c.%s",
								 quote_identifier(st->cr->att->contacts.tenant_column));
			if (item->op != 0)
			{
				/* joined at least N unit ago, or less */
				appendStringInfo(buf, " AND m.since%s", item->op == RT_GE ? BUILTIN_OP("<=") : BUILTIN_OP(">"));
				append_ago(st, item + 1);
			}
			appendStringInfoChar(buf, ')');
			return false;
		case RI_BUCKET:
			compile_bucket(st, item);
			return false;
		case RI_VALUE:
		case RI_MEASURE:
			break;
	}
	elog(ERROR, "unexpected rule item type %d", item->type);
	return false;
}

char *
rule_compile_sql(const CheckedRule *cr, bool portable, bool few)
{
	const AttachedTable *co = &cr->att->contacts;
	StringInfoData buf;
	SqlState	st;
	int			level = rule_enter_utc();

	initStringInfo(&buf);
	st.cr = cr;
	st.body = cr->body;
	st.buf = &buf;
	st.portable = portable;
	st.few = few;
	/* to read, a key per tenant is two columns; to run, one value */
	if (cr->att->key_per_tenant && portable)
		appendStringInfo(&buf, "SELECT c.%s AS tenant, c.%s AS contact\nFROM %s AS c\nWHERE ",
						 quote_identifier(co->tenant_column),
						 quote_identifier(co->contact_column),
						 quote_qualified_identifier(co->schema, co->name));
	else
		appendStringInfo(&buf, "SELECT %s AS contact\nFROM %s AS c\nWHERE ",
						 contact_key_sql(cr->att, co, "c"),
						 quote_qualified_identifier(co->schema, co->name));
	if (cr->tenant)
	{
		appendStringInfo(&buf, "c.%s", quote_identifier(co->tenant_column));
		/* the base type, as the tenant was read (rule_check.c) */
		append_operator(&buf, getBaseType(co->tenant_type), RT_EQ);
		append_literal(&buf, cr->tenant_value, getBaseType(co->tenant_type), -1);
		appendStringInfoString(&buf, "\n  AND ");
	}
	compile_node(&st, cr->body->items, "c", co);
	AtEOXact_GUC(true, level);
	return buf.data;
}

/*
 * The members of segment id whose contacts were included or excluded by
 * hand: those compiled selects (its rule's; NULL for a static segment,
 * whose rule is not applied) but the excluded, and the included contacts
 * of its tenant (NULL: every tenant) that exist (docs/design.md,
 * "Overrides and static segments").
 */
char *
rule_overridden_sql(Attachments *att, const char *compiled, int64 id, const char *tenant)
{
	const AttachedTable *co = &att->contacts;
	const char *overrides = rule_segments_table_sql(att->override_table);
	StringInfoData buf;

	initStringInfo(&buf);
	if (compiled)
		appendStringInfo(&buf, "SELECT q.contact FROM (%s) AS q WHERE NOT EXISTS ("
						 "SELECT FROM %s AS o WHERE o.segment_id" BUILTIN_OP("=") INT64_FORMAT
						 " AND NOT o.included AND %s)\nUNION\n",
						 compiled, overrides, id, member_key_matches(att, "o", "q.contact"));
	appendStringInfo(&buf, "SELECT %s AS contact FROM %s AS c JOIN %s AS o ON o.contact" BUILTIN_OP("=") "c.%s",
					 contact_key_sql(att, co, "c"), quote_qualified_identifier(co->schema, co->name),
					 overrides, quote_identifier(co->contact_column));
	if (att->key_per_tenant)
		appendStringInfo(&buf, " AND o.tenant" BUILTIN_OP("=") "c.%s", quote_identifier(co->tenant_column));
	appendStringInfo(&buf, " WHERE o.segment_id" BUILTIN_OP("=") INT64_FORMAT " AND o.included", id);
	if (tenant)
	{
		Datum		value;
		int			level = rule_enter_utc();

		(void) rule_read_tenant(att, tenant, &value);
		AtEOXact_GUC(true, level);
		appendStringInfo(&buf, " AND c.%s", quote_identifier(co->tenant_column));
		append_operator(&buf, getBaseType(co->tenant_type), RT_EQ);
		append_literal(&buf, value, getBaseType(co->tenant_type), -1);
	}
	return buf.data;
}

PG_FUNCTION_INFO_V1(segments_overridden_sql);

/* segments._overridden_sql(compiled text, id bigint, tenant text) -> text */
Datum
segments_overridden_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(rule_overridden_sql(rule_load_attachments(),
														 PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
														 PG_GETARG_INT64(1),
														 PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)))));
}

/*
 * segments._compile(rule, tenant text, portable boolean, few boolean) -> text
 *
 * The SELECT of the contact keys the rule matches (within the tenant when
 * it is not NULL), after checking the rule against the attached tables.
 * Portable SQL computes relative times with segments.now() and friends,
 * so it can be kept and run later (to_sql); otherwise they are constants
 * of this moment, for the statement about to run.  With few, the SQL suits
 * a query restricted to a few contacts (maintenance after a write): event
 * conditions count each contact's events instead of grouping everyone's.
 */
Datum
segments_compile(PG_FUNCTION_ARGS)
{
	const RuleBody *body;
	char	   *tenant;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	body = PG_GETARG_RULE_BODY(0);
	tenant = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	PG_RETURN_TEXT_P(cstring_to_text(rule_compile_sql(rule_check(body, rule_load_attachments(), tenant),
													  PG_NARGS() > 2 && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2),
													  PG_NARGS() > 3 && !PG_ARGISNULL(3) && PG_GETARG_BOOL(3))));
}
