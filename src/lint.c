/*
 * lint.c
 *	  segments.lint(rule [, tenant]): the conditions of a valid rule that
 *	  look wrong for the data, as a new user writes them and then wonders
 *	  why nobody matches (docs/design.md, "Lint").
 *
 * A rule can be valid and still match nobody by a slip: an event kind or
 * a list nobody has ('opend'), a jsonb key never present (industy), a
 * literal of the wrong JSON type (employees > '100'), a case that differs
 * (tags contains 'VIP' where the tags are 'vip'), a tenant without
 * contacts.  Lint looks at the data to say so, at a bounded cost whatever
 * the tables' sizes: a value is looked up exactly through a btree index led
 * by its column when there is one, and otherwise among the column's most
 * common values (pg_stats) and the distinct values of a sample of at most
 * LINT_SAMPLE_ROWS rows (TABLESAMPLE SYSTEM, a fraction of the pages).  A
 * value missing from the sample may be rare rather than absent: the
 * warnings say what was looked at.
 *
 * The data is read as the role that called (the outer role, also when a
 * SECURITY DEFINER function of segments calls lint), with its privileges
 * and row-level security: lint says nothing of a table it may not read.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/formatting.h"
#include "utils/varlena.h"

#include "contact_data.h"
#include "data_owner.h"
#include "rule_check.h"
#include "rule_sql.h"
#include "rule_tree.h"

PG_FUNCTION_INFO_V1(segments_lint);

/* Rows of a table read at most, and distinct values kept, per look. */
#define LINT_SAMPLE_ROWS	20000
#define LINT_VALUES			1000
/* Nearest values named in a hint, of at most this length. */
#define LINT_NEAREST		3
#define LINT_HINT_LENGTH	100

typedef struct Lint
{
	const CheckedRule *cr;
	Tuplestorestate *store;
	TupleDesc	desc;
	RuleArena	arena;
} Lint;

static void
warn(Lint *l, const RuleItem *item, const char *warning, const char *hint)
{
	Datum		values[3];
	bool		nulls[3] = {item == NULL, false, hint == NULL};

	if (item)
		values[0] = CStringGetTextDatum(rule_print_item(l->cr->body, item, &l->arena));
	values[1] = CStringGetTextDatum(warning);
	if (hint)
		values[2] = CStringGetTextDatum(hint);
	tuplestore_putvalues(l->store, l->desc, values, nulls);
}

/* Whether the role lint reads as may read the table (else it says nothing of it). */
static bool
readable(const AttachedTable *t)
{
	return t->present && pg_class_aclcheck(t->relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK;
}

/*
 * FROM clause of a bounded sample of t (alias x): the table itself when
 * it holds few rows, else TABLESAMPLE SYSTEM of about LINT_SAMPLE_ROWS
 * rows (pages at random, the same every time), by its statistics or, when
 * it was never analyzed, its size.  The reader limits the rows too.
 */
static char *
sample_from(const AttachedTable *t)
{
	char	   *table = quote_qualified_identifier(t->schema, t->name);
	bool		isnull;
	double		rows;

	/* the rows by the statistics, or by the size: 100 rows a page (82 bytes a row) */
	if (SPI_execute_with_args("SELECT greatest(pg_catalog.sum(greatest(c.reltuples, 0)), "
							  "pg_catalog.sum(pg_catalog.pg_relation_size(c.oid)) OPERATOR(pg_catalog./) 82)::pg_catalog.float8 "
							  "FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1 "
							  "OR c.oid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT p.relid FROM pg_catalog.pg_partition_tree($1) p))",
							  1, (Oid[]) {REGCLASSOID}, (Datum[]) {ObjectIdGetDatum(t->relid)},
							  NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not size %s", table);
	rows = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull || rows <= 2 * LINT_SAMPLE_ROWS)
		return psprintf("%s AS x", table);
	return psprintf("%s AS x TABLESAMPLE SYSTEM (%.6f) REPEATABLE (0)", table,
					100.0 * LINT_SAMPLE_ROWS / rows);
}

/* Text values of a query's first column (NULLs left out). */
static List *
text_column(const char *query, int nargs, Oid *types, Datum *args)
{
	List	   *values = NIL;
	uint64		i;

	if (SPI_execute_with_args(query, nargs, types, args, NULL, true, LINT_VALUES) != SPI_OK_SELECT)
		elog(ERROR, "could not run lint query: %s", query);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		if (v)
			values = lappend(values, v);
	}
	return values;
}

/*
 * The values of expr (over the table's row x, as text) lint knows: the
 * distinct ones of a sample, and for a plain column its most common values
 * (or elements, for an array) by the statistics the caller may read.
 */
static List *
known_values(const AttachedTable *t, const char *expr, const char *column, bool elements)
{
	List	   *values;

	values = text_column(psprintf("SELECT DISTINCT v FROM (SELECT %s%s%s AS v FROM %s LIMIT %d) s",
								  elements ? "pg_catalog.unnest(" : "", expr,
								  elements ? ")::pg_catalog.text" : "::pg_catalog.text",
								  sample_from(t), LINT_SAMPLE_ROWS),
						 0, NULL, NULL);
	if (column)
		values = list_concat(values,
							 text_column(psprintf("SELECT pg_catalog.unnest(s.%s::pg_catalog.text::pg_catalog.text[]) FROM pg_catalog.pg_stats s "
												  "WHERE s.schemaname OPERATOR(pg_catalog.=) $1 AND s.tablename OPERATOR(pg_catalog.=) $2 "
												  "AND s.attname OPERATOR(pg_catalog.=) $3",
												  elements ? "most_common_elems" : "most_common_vals"),
										 3, (Oid[]) {NAMEOID, NAMEOID, NAMEOID},
										 (Datum[]) {CStringGetDatum(t->schema), CStringGetDatum(t->name),
									CStringGetDatum(column)}));
	return values;
}

/* Whether a btree index of t leads with column (an exact lookup is cheap). */
static bool
indexed(const AttachedTable *t, const char *column)
{
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid "
							  "JOIN pg_catalog.pg_am a ON a.oid = c.relam "
							  "JOIN pg_catalog.pg_attribute t ON t.attrelid = i.indrelid AND t.attnum = i.indkey[0] "
							  "WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND t.attname OPERATOR(pg_catalog.=) $2 "
							  "AND a.amname OPERATOR(pg_catalog.=) 'btree' AND i.indisvalid",
							  2, (Oid[]) {OIDOID, NAMEOID},
							  (Datum[]) {ObjectIdGetDatum(t->relid), CStringGetDatum(column)},
							  NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_index");
	return SPI_processed > 0;
}

static bool
listed(List *values, const char *value, bool ignore_case)
{
	ListCell   *lc;

	foreach(lc, values)
		if (ignore_case ? pg_strcasecmp(lfirst(lc), value) == 0 : strcmp(lfirst(lc), value) == 0)
			return true;
	return false;
}

/* "Perhaps 'a', 'b' or 'c'.": the known values nearest value, or NULL. */
static char *
nearest_hint(List *values, const char *value, const char *prefix)
{
	const char *best[LINT_NEAREST];
	int			distance[LINT_NEAREST];
	int			n = 0,
				i,
				j;
	char	   *lowered;
	int			limit = Max(1, (int) strlen(value) / 3);
	ListCell   *lc;
	StringInfoData buf;

	/* names and kinds are short: long ones are not worth the distance's cost */
	if (strlen(value) > LINT_HINT_LENGTH)
		return NULL;
	lowered = asc_tolower(value, strlen(value));
	foreach(lc, values)
	{
		char	   *candidate = lfirst(lc);
		char	   *low;
		int			d;
		bool		seen = false;

		if (strlen(candidate) > LINT_HINT_LENGTH)
			continue;
		low = asc_tolower(candidate, strlen(candidate));

		for (i = 0; i < n; i++)
			seen |= strcmp(best[i], candidate) == 0;
		if (seen)
			continue;
		d = varstr_levenshtein_less_equal(lowered, strlen(lowered), low, strlen(low), 1, 1, 1, limit, true);
		if (d > limit)
			continue;
		/* insertion into the few kept, nearest first */
		for (i = 0; i < n && distance[i] <= d; i++)
			;
		if (i >= LINT_NEAREST)
			continue;
		for (j = Min(n, LINT_NEAREST - 1); j > i; j--)
		{
			best[j] = best[j - 1];
			distance[j] = distance[j - 1];
		}
		best[i] = candidate;
		distance[i] = d;
		n = Min(n + 1, LINT_NEAREST);
	}
	if (n == 0)
		return NULL;
	initStringInfo(&buf);
	appendStringInfoString(&buf, prefix);
	for (i = 0; i < n; i++)
		appendStringInfo(&buf, "%s%s", i == 0 ? " " : i == n - 1 ? " or " : ", ",
						 quote_literal_cstr(best[i]));
	appendStringInfoChar(&buf, '?');
	return buf.data;
}

/*
 * Whether some row of t has value in column (compared as text): exactly,
 * through an index, when the column is text and indexed; else among the
 * known values.  *known gets them (NIL after an exact lookup that found
 * it).  True too when nothing is known: a table without rows yet.
 */
static bool
present(const AttachedTable *t, const char *column, const char *value, List **known)
{
	Oid			type = getBaseType(contact_column_type(t, column));

	*known = NIL;
	if ((type == TEXTOID || type == VARCHAROID) && indexed(t, column))
	{
		if (SPI_execute_with_args(psprintf("SELECT FROM %s AS x WHERE x.%s OPERATOR(pg_catalog.=) $1 LIMIT 1",
										   quote_qualified_identifier(t->schema, t->name),
										   quote_identifier(column)),
								  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(value)},
								  NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not look up %s", column);
		if (SPI_processed > 0)
			return true;
	}
	*known = known_values(t, psprintf("x.%s", quote_identifier(column)), column, false);
	/* an empty table (no data yet) tells nothing */
	return *known == NIL || listed(*known, value, false);
}

/* An event condition: its kind among the source's. */
static void
lint_event(Lint *l, const RuleItem *item)
{
	const AttachedTable *ev = rule_event_table(l->cr, item);
	const char *kind = RULE_STR(l->cr->body, item->a);
	List	   *known;

	if (ev->constant_kind || !readable(ev) || present(ev, ev->kind_column, kind, &known))
		return;
	warn(l, item,
		 psprintf("no event of kind %s in %s", quote_literal_cstr(kind),
				  quote_qualified_identifier(ev->schema, ev->name)),
		 nearest_hint(known, kind, "Did you mean"));
}

/* A list condition: its list among the lists table's. */
static void
lint_list(Lint *l, const RuleItem *item)
{
	const AttachedTable *li = &l->cr->att->lists;
	const char *list = rule_literal_text(l->cr->body, item + 1);
	List	   *known;

	if (list == NULL || !readable(li) || present(li, li->list_column, list, &known))
		return;
	warn(l, item,
		 psprintf("no row of list %s in %s", quote_literal_cstr(list),
				  quote_qualified_identifier(li->schema, li->name)),
		 nearest_hint(known, list, "Did you mean"));
}

/* The path of a jsonb field after its column, as a text[] literal. */
static Datum
json_path(const RuleBody *body, const RuleItem *item, int upto)
{
	const char *component = RULE_STR(body, item->a);
	Datum	   *keys = palloc(sizeof(Datum) * Max(upto, 1));
	int			i;

	for (i = 0; i <= upto; i++)
	{
		if (i > 0)
			keys[i - 1] = CStringGetTextDatum(component);
		component += strlen(component) + 1;
	}
	return PointerGetDatum(construct_array(keys, upto, TEXTOID, -1, false, TYPALIGN_INT));
}

static const char *
json_kind_name(RuleValueKind kind)
{
	switch (RV_JSON_KIND(kind))
	{
		case RV_STRING:
			return "string";
		case RV_NUMBER:
			return "number";
		case RV_TRUE:
			return "boolean";
		default:
			return "string";	/* a time is read from a string */
	}
}

/*
 * A property of a jsonb column: its key path among the sampled contacts',
 * and the literal's JSON type among the values there.
 */
static void
lint_json_field(Lint *l, const RuleItem *item, const CheckedItem *ci)
{
	const AttachedTable *co = &l->cr->att->contacts;
	const RuleBody *body = l->cr->body;
	const char *column = quote_identifier(ci->column);
	int			depth = (int) item->b - 1;
	char	   *from = sample_from(co);
	char	   *field = rule_field_name(body, item);
	int64		sampled,
				having,
				typed[4];
	const RuleItem *value = item->span > 1 ? item + 1 : NULL;
	bool		isnull;
	int			k;
	static const char *const types[4] = {"string", "number", "boolean", "array"};

	if (depth < 1 || item->op == RT_IS_NULL)
		return;
	if (SPI_execute_with_args(psprintf("SELECT pg_catalog.count(*), pg_catalog.count(v), "
									   "pg_catalog.count(v) FILTER (WHERE pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'string'), "
									   "pg_catalog.count(v) FILTER (WHERE pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'number'), "
									   "pg_catalog.count(v) FILTER (WHERE pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'boolean'), "
									   "pg_catalog.count(v) FILTER (WHERE pg_catalog.jsonb_typeof(v) OPERATOR(pg_catalog.=) 'array') "
									   "FROM (SELECT x.%s OPERATOR(pg_catalog.#>) $1 AS v FROM %s LIMIT %d) s",
									   column, from, LINT_SAMPLE_ROWS),
							  1, (Oid[]) {TEXTARRAYOID}, (Datum[]) {json_path(body, item, depth)},
							  NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not sample %s", field);
	sampled = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	having = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	for (k = 0; k < 4; k++)
		typed[k] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3 + k, &isnull));
	if (sampled == 0)
		return;
	if (having == 0)
	{
		/* the keys at that level, where it is an object */
		List	   *keys = text_column(psprintf("SELECT DISTINCT k FROM (SELECT x.%s OPERATOR(pg_catalog.#>) $1 AS o FROM %s LIMIT %d) s, "
												"pg_catalog.jsonb_object_keys(CASE WHEN pg_catalog.jsonb_typeof(s.o) OPERATOR(pg_catalog.=) 'object' THEN s.o END) AS k",
												column, from, LINT_SAMPLE_ROWS),
									   1, (Oid[]) {TEXTARRAYOID}, (Datum[]) {json_path(body, item, depth - 1)});
		const char *last = RULE_STR(body, item->a);

		for (k = 0; k < depth; k++)
			last += strlen(last) + 1;
		warn(l, item,
			 psprintf("%s is in none of the " INT64_FORMAT " contacts sampled", field, sampled),
			 nearest_hint(keys, last, "Did you mean the key"));
		return;
	}
	/* a literal compared with values of another JSON type never matches */
	if (value && value->type == RI_VALUE &&
		(RT_IS_COMPARISON(item->op) || item->op == RT_IN || item->op == RT_BETWEEN))
	{
		const char *want = json_kind_name((RuleValueKind) value->op);
		int			best = -1;

		for (k = 0; k < 3; k++)
			if (strcmp(types[k], want) == 0 && typed[k] > 0)
				return;
		for (k = 0; k < 4; k++)
			if (typed[k] > 0 && (best < 0 || typed[k] > typed[best]))
				best = k;
		if (best < 0)
			return;
		warn(l, item,
			 psprintf("%s holds %ss (" INT64_FORMAT " of the " INT64_FORMAT " contacts sampled that have it), never a %s",
					  field, types[best], typed[best], having, want),
			 strcmp(types[best], "number") == 0 && strcmp(want, "string") == 0 ?
			 "A quoted literal compares with JSON strings only: write the number without quotes." :
			 strcmp(types[best], "string") == 0 && strcmp(want, "number") == 0 ?
			 "A number compares with JSON numbers only: quote it to compare with strings." :
			 psprintf("The literal's type decides which JSON values it compares with: write a %s.", types[best]));
	}
}

/*
 * A text column compared for equality, or an array's element: the value
 * missing but another case of it present (text compares exactly).
 */
static void
lint_case(Lint *l, const RuleItem *item, const CheckedItem *ci)
{
	const AttachedTable *co = &l->cr->att->contacts;
	bool		array = ci->fclass == FC_ARRAY;
	const RuleItem *value;
	List	   *known = NIL;
	bool		read = false;

	if (item->flags & RULE_NEGATED)
		return;
	if (array ? item->op != RT_CONTAINS : (item->op != RT_EQ && item->op != RT_IN))
		return;
	if (array && getBaseType(ci->elemtype) != TEXTOID && getBaseType(ci->elemtype) != VARCHAROID)
		return;
	for (value = item + 1; value < RULE_NEXT(item); value++)
	{
		const char *text = rule_literal_text(l->cr->body, value);
		ListCell   *lc;

		if (text == NULL)
			continue;
		if (!read)
		{
			if (!array && present(co, ci->column, text, &known))
				continue;
			if (array)
				known = known_values(co, psprintf("x.%s", quote_identifier(ci->column)), ci->column, true);
			read = true;
		}
		if (listed(known, text, false) || !listed(known, text, true))
			continue;
		foreach(lc, known)
			if (pg_strcasecmp(lfirst(lc), text) == 0)
				break;
		warn(l, item,
			 psprintf("no contact %s %s, but %s %s", array ? "has the element" : "has the value",
					  quote_literal_cstr(text), quote_literal_cstr(lfirst(lc)), array ? "is one" : "is present"),
			 "Text compares exactly, case included.");
		return;
	}
}

static void
lint_node(Lint *l, const RuleItem *item)
{
	const RuleItem *child;
	const CheckedItem *ci;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
		case RI_NOT:
			for (child = item + 1; child < RULE_NEXT(item); child = RULE_NEXT(child))
				lint_node(l, child);
			break;
		case RI_FIELD:
			ci = &l->cr->items[item - l->cr->body->items];
			if (!readable(&l->cr->att->contacts))
				break;
			if (ci->fclass == FC_JSON)
				lint_json_field(l, item, ci);
			else if (ci->fclass == FC_TEXT || ci->fclass == FC_ARRAY)
				lint_case(l, item, ci);
			break;
		case RI_EVENT:
			lint_event(l, item);
			break;
		case RI_IN_LIST:
			lint_list(l, item);
			break;
		case RI_IN_SEGMENT:
		case RI_BUCKET:
		case RI_TRUE:
		case RI_FALSE:
		case RI_VALUE:
		case RI_MEASURE:
			break;
	}
}

/* The tenant: some contact of it. */
static void
lint_tenant(Lint *l)
{
	const AttachedTable *co = &l->cr->att->contacts;
	List	   *known;
	bool		found;

	if (!readable(co))
		return;
	if (indexed(co, co->tenant_column))
	{
		/* the tenant as rule_check read it, compared as its type: the index serves */
		Oid			base = getBaseType(co->tenant_type);

		if (SPI_execute_with_args(psprintf("SELECT FROM %s AS x WHERE x.%s OPERATOR(pg_catalog.=) $1 LIMIT 1",
										   quote_qualified_identifier(co->schema, co->name),
										   quote_identifier(co->tenant_column)),
								  1, (Oid[]) {base}, (Datum[]) {l->cr->tenant_value},
								  NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not look up the tenant");
		found = SPI_processed > 0;
		known = found ? NIL : known_values(co, psprintf("x.%s", quote_identifier(co->tenant_column)),
										   co->tenant_column, false);
	}
	else
	{
		known = known_values(co, psprintf("x.%s", quote_identifier(co->tenant_column)), co->tenant_column, false);
		found = listed(known, l->cr->tenant, false);
	}
	if (!found && known != NIL)
		warn(l, NULL,
			 psprintf("tenant %s has no contacts in %s", l->cr->tenant,
					  quote_qualified_identifier(co->schema, co->name)),
			 nearest_hint(known, l->cr->tenant, "Did you mean tenant"));
}

/*
 * segments._lint(rule, tenant text) -> TABLE(condition text, warning text,
 * hint text)
 */
Datum
segments_lint(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *tenant = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	Lint		l;
	DataOwnerScope scope;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	l.store = rsinfo->setResult;
	l.desc = rsinfo->setDesc;
	rule_arena_init(&l.arena);
	l.cr = rule_check(PG_GETARG_RULE_BODY(0), rule_load_attachments(), tenant);

	/*
	 * The data as the role that called sees it, in a security-restricted
	 * operation whose settings are undone when it ends
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	data_owner_enter_role(&scope, data_owner_caller());
	if (l.cr->tenant)
		lint_tenant(&l);
	lint_node(&l, l.cr->body->items);
	data_owner_leave(&scope);
	SPI_finish();
	return (Datum) 0;
}
