/*
 * rule_eval.c
 *	  Evaluate a checked rule for one contact, in C, walking the stored
 *	  items: the write path's per-contact maintenance, segments.matches()
 *	  and segments.explain().
 *
 * The contact's data is read through SPI with the caller's privileges
 * (row-level security applies) into an EvalContact: its row first, then
 * all its events, all its lists and all its segment memberships, each the
 * first time a condition needs them, by plans prepared once per
 * Attachments.  Every rule evaluated for the contact then works in memory,
 * so the write path pays a few queries per contact rather than some per
 * rule and condition.  Conditions are evaluated with the same comparison
 * functions and collations the compiled SQL uses, so the two paths agree.
 * Every condition is true or false: a NULL value, a missing property or a
 * property of another JSON type makes it false, except "is null".
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "rule_check.h"
#include "rule_eval.h"
#include "rule_jsonb.h"
#include "rule_sql.h"
#include "rule_time.h"

PG_FUNCTION_INFO_V1(segments_matches);
PG_FUNCTION_INFO_V1(segments_explain);

/* A row being tested: the contact, or one of its events. */
typedef struct EvalRow
{
	HeapTuple	tuple;
	TupleDesc	desc;
} EvalRow;

/* One line of explain's output. */
typedef struct ExplainLine
{
	bool		present;
	int			depth;
	bool		result;
	char	   *observed;
} ExplainLine;

typedef struct EvalState
{
	const CheckedRule *cr;
	const RuleBody *body;
	EvalContact *c;
	ExplainLine *lines;			/* explain: one per item, or NULL */
} EvalState;

/*
 * The queries reading a contact's data, each with its key as $1; the
 * _ANY forms read a chunk of contacts, their keys as an array in $1.
 */
typedef enum EvalQuery
{
	EQ_CONTACT,
	EQ_EVENTS,
	EQ_LISTS,
	EQ_MEMBERS,
	EQ_CONTACT_ANY,
	EQ_CONTACT_KEYS_ANY,		/* only the keys: which contacts exist */
	EQ_EVENTS_ANY,
	EQ_EVENTS_ANY_SINCE,
	EQ_EVENT_TIMES_ANY,			/* only contact, kind and time */
	EQ_EVENT_TIMES_ANY_SINCE,
	EQ_LISTS_ANY,
	EQ_MEMBERS_ANY
} EvalQuery;

#define EQ_COUNT (EQ_MEMBERS_ANY + 1)

struct EvalPlans
{
	SPIPlanPtr	plans[EQ_COUNT];	/* NULL until first used */
};

static bool eval_node(EvalState *st, const RuleItem *item, const EvalRow *row, int depth);

static const CheckedItem *
checked(EvalState *st, const RuleItem *item)
{
	return &st->cr->items[item - st->body->items];
}

static bool
apply_cmp(RuleTestOp op, int cmp)
{
	switch (op)
	{
		case RT_EQ:
			return cmp == 0;
		case RT_NE:
			return cmp != 0;
		case RT_LT:
			return cmp < 0;
		case RT_LE:
			return cmp <= 0;
		case RT_GT:
			return cmp > 0;
		default:
			return cmp >= 0;
	}
}

static int
int64_cmp(int64 a, int64 b)
{
	return (a > b) - (a < b);
}

/* A timestamptz, timestamp or date as microseconds, as SQL compares them. */
static int64
time_usec(Datum value, Oid type)
{
	if (type == DATEOID)
	{
		DateADT		date = DatumGetDateADT(value);

		if (DATE_IS_NOBEGIN(date))
			return DT_NOBEGIN;
		if (DATE_IS_NOEND(date))
			return DT_NOEND;
		return (int64) date * USECS_PER_DAY;
	}
	return DatumGetTimestamp(value);
}

/* The time an operand stands for: a literal, or now, ago, from now. */
static int64
operand_usec(EvalState *st, const RuleItem *value)
{
	const CheckedItem *cv = checked(st, value);

	if (OidIsValid(cv->valtype))
		return time_usec(cv->value, getBaseType(cv->valtype));
	return rule_time_value((RuleValueKind) value->op, value->a, (RuleUnit) value->arg);
}

/* The bounds of within last/next N unit. */
static void
window_bounds(RuleTestOp op, const RuleItem *duration, int64 *low, int64 *high)
{
	TimestampTz now = rule_now();

	if (op == RT_WITHIN_LAST)
	{
		*low = rule_time_shift(now, -1, duration->a, (RuleUnit) duration->arg);
		*high = now;
	}
	else
	{
		*low = now;
		*high = rule_time_shift(now, 1, duration->a, (RuleUnit) duration->arg);
	}
}

static int
column_number(TupleDesc desc, const char *column)
{
	int			fnum = SPI_fnumber(desc, column);

	if (fnum <= 0)
		elog(ERROR, "column \"%s\" is missing from the row", column);
	return fnum;
}

static Datum
field_value(const CheckedItem *ci, const EvalRow *row, bool *isnull)
{
	return heap_getattr(row->tuple, column_number(row->desc, ci->column), row->desc, isnull);
}

static bool
text_match(Datum value, Oid collation, const char *pattern, bool insensitive)
{
	FmgrInfo	flinfo;

	fmgr_info(insensitive ? F_TEXTICLIKE : F_TEXTLIKE, &flinfo);
	return DatumGetBool(FunctionCall2Coll(&flinfo, collation, value,
										  CStringGetTextDatum(pattern)));
}

static char *
value_text(Datum value, Oid type)
{
	Oid			output;
	bool		varlena;

	getTypeOutputInfo(type, &output, &varlena);
	return OidOutputFunctionCall(output, value);
}

/* A test on a column that is not jsonb. */
static bool
eval_column_field(EvalState *st, const RuleItem *item, const CheckedItem *ci,
				  Datum value, char **observed)
{
	RuleTestOp	op = (RuleTestOp) item->op;
	bool		negated = (item->flags & RULE_NEGATED) != 0;
	const RuleItem *first = item + 1;
	uint32		nops = item->span - 1;
	TypeCacheEntry *tc;
	uint32		i;

	if (observed)
		*observed = value_text(value, ci->coltype);

	if (ci->fclass == FC_TIME && op != RT_IN)
	{
		int64		v = time_usec(value, ci->cmptype);
		int64		low,
					high;

		switch (op)
		{
			case RT_BETWEEN:
				low = operand_usec(st, first);
				high = operand_usec(st, first + 1);
				return negated ? (v < low || v > high) : (v >= low && v <= high);
			case RT_WITHIN_LAST:
			case RT_WITHIN_NEXT:
				window_bounds(op, first, &low, &high);
				return v >= low && v <= high;
			default:
				return apply_cmp(op, int64_cmp(v, operand_usec(st, first)));
		}
	}

	switch (op)
	{
		case RT_CONTAINS:
			if (ci->fclass == FC_ARRAY)
			{
				FmgrInfo	flinfo;
				int16		typlen;
				bool		typbyval;
				char		typalign;
				Datum		element = checked(st, first)->value;
				ArrayType  *wanted;

				get_typlenbyvalalign(ci->elemtype, &typlen, &typbyval, &typalign);
				wanted = construct_array(&element, 1, ci->elemtype, typlen, typbyval, typalign);
				fmgr_info(F_ARRAYCONTAINS, &flinfo);
				return negated != DatumGetBool(FunctionCall2Coll(&flinfo, ci->colcollation, value,
																 PointerGetDatum(wanted)));
			}
			/* FALLTHROUGH */
		case RT_STARTS_WITH:
		case RT_ENDS_WITH:
			return negated != text_match(value, ci->colcollation,
										 rule_match_pattern(TextDatumGetCString(checked(st, first)->value), op),
										 true);
		case RT_LIKE:
		case RT_ILIKE:
			return negated != text_match(value, ci->colcollation, RULE_STR(st->body, first->a),
										 op == RT_ILIKE);
		default:
			break;
	}

	/* comparisons, in, between: the type's btree comparison function */
	tc = lookup_type_cache(ci->coltype, TYPECACHE_CMP_PROC_FINFO);
#define COMPARE(operand) \
	DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, ci->colcollation, value, \
									checked(st, operand)->value))
	switch (op)
	{
		case RT_IN:
			for (i = 0; i < nops; i++)
			{
				bool		equal;

				if (ci->fclass == FC_TIME)
					equal = time_usec(value, ci->cmptype) == operand_usec(st, first + i);
				else
					equal = COMPARE(first + i) == 0;
				if (equal)
					return !negated;
			}
			return negated;
		case RT_BETWEEN:
			if (negated)
				return COMPARE(first) < 0 || COMPARE(first + 1) > 0;
			return COMPARE(first) >= 0 && COMPARE(first + 1) <= 0;
		default:
			return apply_cmp(op, COMPARE(first));
	}
#undef COMPARE
}

/*
 * A JSON value read as the kind of a literal (string, number, boolean,
 * time), as segments.json_string() and friends do; false when it is of
 * another type.
 */
static bool
json_typed(const JsonbValue *v, int kind, Datum *out)
{
	TimestampTz time;

	switch (kind)
	{
		case RV_STRING:
			if (v->type != jbvString)
				return false;
			*out = PointerGetDatum(cstring_to_text_with_len(v->val.string.val, v->val.string.len));
			return true;
		case RV_NUMBER:
			if (v->type != jbvNumeric)
				return false;
			*out = NumericGetDatum(v->val.numeric);
			return true;
		case RV_TRUE:
			if (v->type != jbvBool)
				return false;
			*out = BoolGetDatum(v->val.boolean);
			return true;
		default:
			if (!rule_jsonb_time(v, &time))
				return false;
			*out = TimestampTzGetDatum(time);
			return true;
	}
}

/* Compare a typed JSON value with an operand of the same kind. */
static int
json_cmp(EvalState *st, int kind, Datum typed, const RuleItem *operand)
{
	Datum		literal = checked(st, operand)->value;

	switch (kind)
	{
		case RV_STRING:
			return DatumGetInt32(DirectFunctionCall2Coll(bttextcmp, DEFAULT_COLLATION_OID,
														 typed, literal));
		case RV_NUMBER:
			return DatumGetInt32(DirectFunctionCall2(numeric_cmp, typed, literal));
		case RV_TRUE:
			return (int) DatumGetBool(typed) - (int) DatumGetBool(literal);
		default:
			return int64_cmp(DatumGetTimestampTz(typed), operand_usec(st, operand));
	}
}

/* Does a JSON array hold a scalar equal to the literal (as @> does)? */
static bool
json_array_has(const JsonbValue *array, const RuleItem *operand, EvalState *st)
{
	JsonbIterator *it = JsonbIteratorInit(array->val.binary.data);
	JsonbValue	element;
	JsonbIteratorToken token;
	int			kind = RV_JSON_KIND(operand->op);
	bool		found = false;

	while ((token = JsonbIteratorNext(&it, &element, true)) != WJB_DONE)
	{
		Datum		typed;

		if (token == WJB_ELEM && !found && element.type != jbvBinary &&
			json_typed(&element, kind, &typed))
		{
			if (kind == RV_STRING)
				found = element.val.string.len == (int) strlen(RULE_STR(st->body, operand->a)) &&
					memcmp(element.val.string.val, RULE_STR(st->body, operand->a),
						   element.val.string.len) == 0;
			else
				found = json_cmp(st, kind, typed, operand) == 0;
		}
	}
	return found;
}

static char *
json_text(JsonbValue *v)
{
	if (v->type == jbvBinary)
		return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
	return JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 0);
}

/* A test on a jsonb column or property: typed by each literal. */
static bool
eval_json_field(EvalState *st, const RuleItem *item, Datum column, bool isnull,
				char **observed)
{
	RuleTestOp	op = (RuleTestOp) item->op;
	bool		negated = (item->flags & RULE_NEGATED) != 0;
	const RuleItem *first = item + 1;
	uint32		nops = item->span - 1;
	JsonbValue	v;
	Datum		typed;
	int			kind = nops > 0 ? RV_JSON_KIND(first->op) : 0;
	uint32		i;
	const char *keys = RULE_STR(st->body, item->a);

	keys += strlen(keys) + 1;	/* the keys after the column */
	if (isnull || !rule_jsonb_lookup(DatumGetJsonbP(column), keys, (int) item->b - 1, &v))
		return op == RT_IS_NULL && !negated;
	if (observed)
		*observed = json_text(&v);

	switch (op)
	{
		case RT_IS_NULL:
			return (v.type == jbvNull) != negated;
		case RT_IN:
			{
				/* per kind of literal: the value typed so, in (or not in) those literals */
				for (i = 0; i < nops; i++)
				{
					int			k = RV_JSON_KIND(first[i].op);
					uint32		j;
					bool		equal = false;

					if (!json_typed(&v, k, &typed))
						continue;
					for (j = 0; j < nops && !equal; j++)
						if (RV_JSON_KIND(first[j].op) == k)
							equal = json_cmp(st, k, typed, first + j) == 0;
					if (equal != negated)
						return true;
				}
				return false;
			}
		case RT_BETWEEN:
			if (!json_typed(&v, kind, &typed))
				return false;
			if (negated)
				return json_cmp(st, kind, typed, first) < 0 || json_cmp(st, kind, typed, first + 1) > 0;
			return json_cmp(st, kind, typed, first) >= 0 && json_cmp(st, kind, typed, first + 1) <= 0;
		case RT_CONTAINS:
			if (v.type == jbvString)
			{
				if (first->op != RV_STRING)
					return false;
				json_typed(&v, RV_STRING, &typed);
				return negated != text_match(typed, DEFAULT_COLLATION_OID,
											 rule_match_pattern(RULE_STR(st->body, first->a), op), true);
			}
			if (v.type == jbvBinary && JsonContainerIsArray(v.val.binary.data))
				return negated != json_array_has(&v, first, st);
			return false;
		case RT_STARTS_WITH:
		case RT_ENDS_WITH:
		case RT_LIKE:
		case RT_ILIKE:
			if (!json_typed(&v, RV_STRING, &typed))
				return false;
			return negated != text_match(typed, DEFAULT_COLLATION_OID,
										 op == RT_LIKE || op == RT_ILIKE ? RULE_STR(st->body, first->a) :
										 rule_match_pattern(rule_literal_text(st->body, first), op),
										 op != RT_LIKE);
		case RT_WITHIN_LAST:
		case RT_WITHIN_NEXT:
			{
				int64		low,
							high;

				if (!json_typed(&v, RV_NOW, &typed))
					return false;
				window_bounds(op, first, &low, &high);
				return DatumGetTimestampTz(typed) >= low && DatumGetTimestampTz(typed) <= high;
			}
		default:
			if (!json_typed(&v, kind, &typed))
				return false;
			return apply_cmp(op, json_cmp(st, kind, typed, first));
	}
}

static bool
eval_field(EvalState *st, const RuleItem *item, const EvalRow *row, char **observed)
{
	const CheckedItem *ci = checked(st, item);
	bool		isnull;
	Datum		value = field_value(ci, row, &isnull);

	if (ci->fclass == FC_JSON)
		return eval_json_field(st, item, value, isnull, observed);
	if (isnull)
		return item->op == RT_IS_NULL && !(item->flags & RULE_NEGATED);
	if (item->op == RT_IS_NULL)
	{
		if (observed)
			*observed = value_text(value, ci->coltype);
		return (item->flags & RULE_NEGATED) != 0;
	}
	return eval_column_field(st, item, ci, value, observed);
}

/* Does an event's time fall in the window of an event condition? */
static bool
in_window(EvalState *st, const RuleItem *item, const RuleItem *operand, int64 at)
{
	int64		low,
				high;

	switch ((RuleWindow) item->arg)
	{
		case RW_WITHIN_LAST:
			window_bounds(RT_WITHIN_LAST, operand, &low, &high);
			return at >= low && at <= high;
		case RW_SINCE:
			return at >= operand_usec(st, operand);
		case RW_BEFORE:
			return at < operand_usec(st, operand);
		case RW_BETWEEN:
			return at >= operand_usec(st, operand) && at <= operand_usec(st, operand + 1);
		case RW_EVER:
			break;
	}
	return true;
}

/* The type of a column of an attached table. */
static Oid
column_type_of(const AttachedTable *t, const char *column)
{
	return TupleDescAttr(t->tupdesc, column_number(t->tupdesc, column) - 1)->atttypid;
}

/*
 * The contact's data, read by plans kept with the attachments: each query
 * reads all of the contact's rows, once, for every rule evaluated on it.
 */
static char *
query_text(const Attachments *att, EvalQuery which, Oid *argtype, int *nargs)
{
	const AttachedTable *t;

	switch (which)
	{
		case EQ_CONTACT:
			t = &att->contacts;
			*argtype = t->contact_type;
			return psprintf("SELECT * FROM %s AS c WHERE c.%s = $1",
							quote_qualified_identifier(t->schema, t->name),
							quote_identifier(t->contact_column));
		case EQ_EVENTS:
			t = &att->events;
			*argtype = t->contact_type;
			return psprintf("SELECT * FROM %s AS e WHERE e.%s = $1",
							quote_qualified_identifier(t->schema, t->name),
							quote_identifier(t->contact_column));
		case EQ_LISTS:
			t = &att->lists;
			*argtype = t->contact_type;
			return psprintf("SELECT l.%s FROM %s AS l WHERE l.%s = $1",
							quote_identifier(t->list_column),
							quote_qualified_identifier(t->schema, t->name),
							quote_identifier(t->contact_column));
		case EQ_MEMBERS:
			*argtype = att->contacts.contact_type;
			return pstrdup("SELECT m.segment_id FROM segments.membership AS m WHERE m.contact = $1");
		case EQ_CONTACT_ANY:
		case EQ_CONTACT_KEYS_ANY:
			t = &att->contacts;
			*argtype = get_array_type(getBaseType(t->contact_type));
			return psprintf("SELECT %s FROM %s AS c WHERE c.%s = ANY ($1)",
							which == EQ_CONTACT_ANY ? "*" :
							psprintf("c.%s", quote_identifier(t->contact_column)),
							quote_qualified_identifier(t->schema, t->name),
							quote_identifier(t->contact_column));
		case EQ_EVENTS_ANY:
		case EQ_EVENTS_ANY_SINCE:
		case EQ_EVENT_TIMES_ANY:
		case EQ_EVENT_TIMES_ANY_SINCE:
			/*
			 * The kinds the rules name ($2), and the earliest time they
			 * count ($3).  The kinds are a filter, not an index condition
			 * (IS TRUE): with two arrays in its conditions a btree scan
			 * descends once per pair of elements.
			 */
			t = &att->events;
			argtype[0] = get_array_type(getBaseType(att->contacts.contact_type));
			argtype[1] = get_array_type(column_type_of(t, t->kind_column));
			argtype[2] = TIMESTAMPTZOID;
			{
				bool		since = which == EQ_EVENTS_ANY_SINCE || which == EQ_EVENT_TIMES_ANY_SINCE;
				bool		all = which == EQ_EVENTS_ANY || which == EQ_EVENTS_ANY_SINCE;

				*nargs = since ? 3 : 2;
				/* without where clauses, an index of the three can answer alone */
				return psprintf("SELECT %s FROM %s AS e WHERE e.%s = ANY ($1) AND (e.%s = ANY ($2)) IS TRUE%s",
								all ? "*" : psprintf("e.%s, e.%s, e.%s", quote_identifier(t->contact_column),
													 quote_identifier(t->kind_column),
													 quote_identifier(t->at_column)),
								quote_qualified_identifier(t->schema, t->name),
								quote_identifier(t->contact_column),
								quote_identifier(t->kind_column),
								since ? psprintf(" AND e.%s >= $3", quote_identifier(t->at_column)) : "");
			}
		case EQ_LISTS_ANY:
			t = &att->lists;
			*argtype = get_array_type(getBaseType(att->contacts.contact_type));
			return psprintf("SELECT l.%s, l.%s FROM %s AS l WHERE l.%s = ANY ($1)",
							quote_identifier(t->contact_column),
							quote_identifier(t->list_column),
							quote_qualified_identifier(t->schema, t->name),
							quote_identifier(t->contact_column));
		case EQ_MEMBERS_ANY:
			*argtype = get_array_type(getBaseType(att->contacts.contact_type));
			return pstrdup("SELECT m.contact, m.segment_id FROM segments.membership AS m "
						   "WHERE m.contact = ANY ($1)");
	}
	elog(ERROR, "unexpected query %d", (int) which);
	return NULL;
}

/*
 * Run one of the contact's queries, preparing its plan on first use; the
 * rows are in the returned table, which the caller frees.  SPI calls leave
 * SPI's procedure context current: the caller's is made current again.
 */
static SPITupleTable *
run_query_on(Attachments *att, EvalQuery which, Datum *args, bool latest, long tcount)
{
	MemoryContext caller = CurrentMemoryContext;
	EvalPlans  *plans = att->plans;

	if (plans == NULL)
	{
		/* freed with the attachments, which first free the plans */
		plans = MemoryContextAllocZero(GetMemoryChunkContext(att), sizeof(EvalPlans));
		att->plans = plans;
	}
	if (plans->plans[which] == NULL)
	{
		Oid			argtypes[3];
		int			nargs = 1;
		char	   *query = query_text(att, which, argtypes, &nargs);
		/* generic plans: each query reads by key, whatever its value */
		SPIPlanPtr	plan = SPI_prepare_cursor(query, nargs, argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare \"%s\": %s", query, SPI_result_code_string(SPI_result));
		plans->plans[which] = plan;
	}
	if (SPI_execute_snapshot(plans->plans[which], args, NULL,
							 latest ? GetLatestSnapshot() : InvalidSnapshot, InvalidSnapshot,
							 !latest, false, tcount) != SPI_OK_SELECT)
		elog(ERROR, "could not read the data of a contact");
	MemoryContextSwitchTo(caller);
	return SPI_tuptable;
}

static SPITupleTable *
run_query(EvalContact *c, EvalQuery which, long tcount)
{
	return run_query_on(c->att, which, &c->key, c->latest, tcount);
}

void
rule_eval_free_plans(EvalPlans *plans)
{
	int			i;

	for (i = 0; i < EQ_COUNT; i++)
		if (plans->plans[i])
			SPI_freeplan(plans->plans[i]);
}

/* Start c for a contact: no data read yet. */
static void
begin_contact(EvalContact *c, Attachments *att, Datum key, MemoryContext cxt, bool latest)
{
	int16		typlen;
	bool		typbyval;

	memset(c, 0, sizeof(EvalContact));
	c->att = att;
	c->cxt = cxt;
	c->latest = latest;
	get_typlenbyval(att->contacts.contact_type, &typlen, &typbyval);
	c->key = datumCopy(key, typbyval, typlen);
}

/* The contact's row (in cxt) and its tenant. */
static void
set_row(EvalContact *c, HeapTuple row, TupleDesc desc)
{
	const AttachedTable *co = &c->att->contacts;

	c->row_desc = desc;
	c->row = row;
	if (co->tenant_column)
	{
		int			fnum = column_number(desc, co->tenant_column);
		bool		isnull;
		Datum		tenant = heap_getattr(row, fnum, desc, &isnull);

		if (!isnull)
			c->tenant = value_text(tenant, TupleDescAttr(desc, fnum - 1)->atttypid);
	}
}

bool
rule_eval_read_contact(EvalContact *c, Attachments *att, Datum key, MemoryContext cxt,
					   bool latest)
{
	MemoryContext caller = MemoryContextSwitchTo(cxt);
	SPITupleTable *result;

	begin_contact(c, att, key, cxt, latest);
	result = run_query(c, EQ_CONTACT, 1);
	MemoryContextSwitchTo(cxt);
	if (SPI_processed > 0)
		set_row(c, heap_copytuple(result->vals[0]), CreateTupleDescCopy(result->tupdesc));
	SPI_freetuptable(result);
	MemoryContextSwitchTo(caller);
	return c->row != NULL;
}

bool
rule_eval_use_contact(EvalContact *c, Attachments *att, Datum key, HeapTuple row,
					  TupleDesc desc, MemoryContext cxt)
{
	MemoryContext caller = MemoryContextSwitchTo(cxt);

	begin_contact(c, att, key, cxt, true);
	if (row)
		set_row(c, row, desc);
	MemoryContextSwitchTo(caller);
	return c->row != NULL;
}

/* The contact's events: tuples (kept, in c->cxt or longer-lived). */
static void
set_events(EvalContact *c, HeapTuple *tuples, uint64 n, TupleDesc desc)
{
	const AttachedTable *ev = &c->att->events;
	MemoryContext caller = MemoryContextSwitchTo(c->cxt);
	int			kind_fnum = column_number(desc, ev->kind_column);
	int			at_fnum = column_number(desc, ev->at_column);
	uint64		i;

	c->events_desc = desc;
	c->kind_collation = TupleDescAttr(desc, kind_fnum - 1)->attcollation;
	c->events = palloc(sizeof(EvalEvent) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		EvalEvent  *e = &c->events[i];
		bool		isnull;
		Datum		kind;

		e->tuple = tuples[i];
		kind = heap_getattr(e->tuple, kind_fnum, desc, &isnull);
		/* detoasted once here rather than for every condition */
		e->kind = isnull ? NULL : (text *) PG_DETOAST_DATUM_PACKED(kind);
		e->at = DatumGetTimestampTz(heap_getattr(e->tuple, at_fnum, desc, &e->at_isnull));
	}
	c->nevents = n;
	c->events_read = true;
	MemoryContextSwitchTo(caller);
}

static void
read_events(EvalContact *c)
{
	SPITupleTable *result = run_query(c, EQ_EVENTS, 0);
	uint64		n = SPI_processed;
	MemoryContext caller = MemoryContextSwitchTo(c->cxt);
	HeapTuple  *tuples = palloc(sizeof(HeapTuple) * Max(n, 1));
	uint64		i;

	for (i = 0; i < n; i++)
		tuples[i] = heap_copytuple(result->vals[i]);
	set_events(c, tuples, n, CreateTupleDescCopy(result->tupdesc));
	SPI_freetuptable(result);
	MemoryContextSwitchTo(caller);
}

/* The contact's lists: values of the list column (attr), NULLs left out. */
static void
set_lists(EvalContact *c, Datum *values, bool *nulls, uint64 n, Form_pg_attribute attr)
{
	MemoryContext caller = MemoryContextSwitchTo(c->cxt);
	uint64		i;

	c->list_collation = attr->attcollation;
	c->lists = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		/* a NULL list is no list, as for l.list = v */
		if (!nulls[i])
			c->lists[c->nlists++] = values[i];
	}
	c->lists_read = true;
	MemoryContextSwitchTo(caller);
}

static void
read_lists(EvalContact *c)
{
	SPITupleTable *result = run_query(c, EQ_LISTS, 0);
	uint64		n = SPI_processed;
	MemoryContext caller = MemoryContextSwitchTo(c->cxt);
	Form_pg_attribute attr = TupleDescAttr(result->tupdesc, 0);
	Datum	   *values = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	uint64		i;

	for (i = 0; i < n; i++)
	{
		values[i] = heap_getattr(result->vals[i], 1, result->tupdesc, &nulls[i]);
		if (!nulls[i])
			values[i] = datumCopy(values[i], attr->attbyval, attr->attlen);
	}
	set_lists(c, values, nulls, n, attr);
	SPI_freetuptable(result);
	MemoryContextSwitchTo(caller);
}

static int
int64_qsort_cmp(const void *a, const void *b)
{
	return int64_cmp(*(const int64 *) a, *(const int64 *) b);
}

/* The segments the contact is a member of (copied: set_member changes them). */
static void
set_members(EvalContact *c, const int64 *ids, int n)
{
	c->members_space = Max(n, 8);
	c->members = MemoryContextAlloc(c->cxt, sizeof(int64) * c->members_space);
	memcpy(c->members, ids, sizeof(int64) * n);
	qsort(c->members, n, sizeof(int64), int64_qsort_cmp);
	c->nmembers = n;
	c->members_read = true;
}

static void
read_members(EvalContact *c)
{
	SPITupleTable *result = run_query(c, EQ_MEMBERS, 0);
	int			n = (int) SPI_processed;
	int64	   *ids = palloc(sizeof(int64) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(heap_getattr(result->vals[i], 1, result->tupdesc, &isnull));
	}
	set_members(c, ids, n);
	pfree(ids);
	SPI_freetuptable(result);
}

/* Where a segment is, or would be, in c->members. */
static int
member_position(EvalContact *c, int64 segment_id, bool *found)
{
	int			low = 0,
				high;

	if (!c->members_read)
		read_members(c);
	high = c->nmembers;
	while (low < high)
	{
		int			mid = low + (high - low) / 2;

		if (c->members[mid] < segment_id)
			low = mid + 1;
		else
			high = mid;
	}
	*found = low < c->nmembers && c->members[low] == segment_id;
	return low;
}

bool
rule_eval_is_member(EvalContact *c, int64 segment_id)
{
	bool		found;

	(void) member_position(c, segment_id, &found);
	return found;
}

void
rule_eval_set_member(EvalContact *c, int64 segment_id, bool member)
{
	bool		found;
	int			pos = member_position(c, segment_id, &found);

	if (member == found)
		return;
	if (member)
	{
		if (c->nmembers == c->members_space)
		{
			c->members_space *= 2;
			c->members = repalloc(c->members, sizeof(int64) * c->members_space);
		}
		memmove(&c->members[pos + 1], &c->members[pos], sizeof(int64) * (c->nmembers - pos));
		c->members[pos] = segment_id;
		c->nmembers++;
	}
	else
	{
		memmove(&c->members[pos], &c->members[pos + 1], sizeof(int64) * (c->nmembers - pos - 1));
		c->nmembers--;
	}
}

static int64
count_events(EvalState *st, const RuleItem *item)
{
	EvalContact *c = st->c;
	const RuleItem *where = (item->flags & RULE_HAS_WHERE) ? item + 1 : NULL;
	const RuleItem *operand = where ? RULE_NEXT(where) : item + 1;
	Datum		kind = CStringGetTextDatum(RULE_STR(st->body, item->a));
	int64		count = 0;
	uint64		i;

	if (!c->events_read)
		read_events(c);
	for (i = 0; i < c->nevents; i++)
	{
		const EvalEvent *e = &c->events[i];
		EvalRow		row = {e->tuple, c->events_desc};

		CHECK_FOR_INTERRUPTS();
		/* e.kind = 'k' as SQL has it: text equality in the column's collation */
		if (e->kind == NULL ||
			!DatumGetBool(DirectFunctionCall2Coll(texteq, c->kind_collation,
												  PointerGetDatum(e->kind), kind)))
			continue;
		/* an event without a time counts only for "ever", as in SQL */
		if (e->at_isnull ? item->arg != RW_EVER : !in_window(st, item, operand, e->at))
			continue;
		if (where && !eval_node(st, where, &row, -1))
			continue;
		count++;
	}
	return count;
}

/* Is the checked literal one of the contact's lists, by the type's = ? */
static bool
in_list(EvalState *st, const RuleItem *item)
{
	EvalContact *c = st->c;
	Oid			list_type = st->cr->att->lists.list_type;
	TypeCacheEntry *tc = lookup_type_cache(list_type, TYPECACHE_EQ_OPR_FINFO);
	Datum		wanted = checked(st, item + 1)->value;
	uint64		i;

	if (!OidIsValid(tc->eq_opr))
		elog(ERROR, "no equality operator for type %s", format_type_be(list_type));
	if (!c->lists_read)
		read_lists(c);
	for (i = 0; i < c->nlists; i++)
		if (DatumGetBool(FunctionCall2Coll(&tc->eq_opr_finfo, c->list_collation, c->lists[i], wanted)))
			return true;
	return false;
}

/*
 * Evaluate a condition.  depth >= 0 records explain lines (conditions on
 * the contact); depth < 0 is inside an event's where clause.
 */
static bool
eval_node(EvalState *st, const RuleItem *item, const EvalRow *row, int depth)
{
	const RuleItem *child;
	char	   *observed = NULL;
	bool		result = false;
	bool		explain = st->lines != NULL && depth >= 0;

	check_stack_depth();
	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
			{
				bool		is_and = item->type == RI_AND;

				/* explain evaluates every condition; otherwise short-circuit */
				result = is_and;
				for (child = item + 1; child < RULE_NEXT(item); child = RULE_NEXT(child))
				{
					if (eval_node(st, child, row, explain ? depth + 1 : -1) != is_and)
					{
						result = !is_and;
						if (!explain)
							break;
					}
				}
			}
			break;
		case RI_NOT:
			result = !eval_node(st, item + 1, row, explain ? depth + 1 : -1);
			break;
		case RI_TRUE:
			result = true;
			break;
		case RI_FALSE:
			result = false;
			break;
		case RI_FIELD:
			result = eval_field(st, item, row, explain ? &observed : NULL);
			break;
		case RI_EVENT:
			{
				int64		count = count_events(st, item);

				result = apply_cmp((RuleTestOp) item->op, int64_cmp(count, item->b));
				if (explain)
					observed = psprintf(INT64_FORMAT " matching event%s", count, count == 1 ? "" : "s");
			}
			break;
		case RI_IN_LIST:
			result = in_list(st, item);
			break;
		case RI_IN_SEGMENT:
			result = rule_eval_is_member(st->c, checked(st, item)->segment_id);
			break;
		case RI_VALUE:
			elog(ERROR, "unexpected value item");
	}
	if (explain)
	{
		ExplainLine *line = &st->lines[item - st->body->items];

		line->present = true;
		line->depth = depth;
		line->result = result;
		line->observed = observed;
	}
	return result;
}

/* The contact key argument, converted to the key type when it differs. */
static Datum
contact_key(FunctionCallInfo fcinfo, Oid keytype)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 0);
	Oid			input,
				ioparam;

	if (argtype == keytype)
		return PG_GETARG_DATUM(0);
	getTypeInputInfo(keytype, &input, &ioparam);
	return OidInputFunctionCall(input, value_text(PG_GETARG_DATUM(0), argtype), ioparam, -1);
}

/* The optional tenant argument as text, or NULL. */
static char *
tenant_arg(FunctionCallInfo fcinfo)
{
	if (PG_NARGS() < 3 || PG_ARGISNULL(2))
		return NULL;
	return value_text(PG_GETARG_DATUM(2), get_fn_expr_argtype(fcinfo->flinfo, 2));
}

/* Is the contact in the rule's tenant (in any, when the rule has none)? */
static bool
in_tenant(const CheckedRule *cr, const EvalContact *c)
{
	return cr->tenant == NULL ||
		(c->tenant != NULL &&
		 strcmp(c->tenant, value_text(cr->tenant_value, c->att->contacts.tenant_type)) == 0);
}

bool
rule_eval_contact(const CheckedRule *cr, EvalContact *c)
{
	EvalState	st = {cr, cr->body, c, NULL};
	EvalRow		row = {c->row, c->row_desc};
	MemoryContext caller;
	bool		result;

	Assert(cr->att == c->att);
	if (c->row == NULL)
		return false;
	/* what evaluating allocates goes with the contact */
	caller = MemoryContextSwitchTo(c->cxt);
	result = in_tenant(cr, c) && eval_node(&st, cr->body->items, &row, -1);
	MemoryContextSwitchTo(caller);
	return result;
}

/*
 * Check the rule (within the tenant, as preview does), connect SPI and read
 * the contact into a context of its own; the caller evaluates, calls
 * SPI_finish() and deletes c->cxt.
 */
static const CheckedRule *
begin_evaluation(FunctionCallInfo fcinfo, EvalContact *c)
{
	Attachments *att = rule_load_attachments();
	const CheckedRule *cr = rule_check(PG_GETARG_RULE_BODY(1), att, tenant_arg(fcinfo));
	const AttachedTable *co = &att->contacts;
	Datum		key = contact_key(fcinfo, co->contact_type);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "segments contact",
											  ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (!rule_eval_read_contact(c, att, key, cxt, false))
		ereport(ERROR,
				errcode(ERRCODE_NO_DATA_FOUND),
				errmsg("contact %s does not exist in %s", value_text(key, co->contact_type),
					   quote_qualified_identifier(co->schema, co->name)));
	return cr;
}

/*
 * segments.matches(contact anyelement, rule segments.rule [, tenant]) -> boolean
 *
 * Whether the rule is true for the contact, evaluated in C: the same
 * answer as membership of segments.preview(rule [, tenant]), so in segment
 * names the segments of that tenant (or those without one).
 */
Datum
segments_matches(PG_FUNCTION_ARGS)
{
	EvalContact c;
	const CheckedRule *cr;
	bool		result;

	/* the overload with a tenant is not strict: a NULL tenant means none */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	cr = begin_evaluation(fcinfo, &c);
	result = rule_eval_contact(cr, &c);
	SPI_finish();
	MemoryContextDelete(c.cxt);
	PG_RETURN_BOOL(result);
}

/*
 * segments.explain(contact anyelement, rule segments.rule [, tenant])
 *	 -> TABLE(condition text, result boolean, observed text)
 *
 * One row per condition, the whole rule first, each indented by its depth:
 * its canonical text, whether it holds for the contact, and what was seen
 * (the field's value, the number of matching events).
 */
Datum
segments_explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EvalContact c;
	EvalState	st;
	EvalRow		row;
	RuleArena	arena;
	uint32		i;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		return (Datum) 0;
	st.cr = begin_evaluation(fcinfo, &c);
	st.body = st.cr->body;
	st.c = &c;
	row.tuple = c.row;
	row.desc = c.row_desc;

	/* the lines, in the contact's context, outlive SPI's memory */
	MemoryContextSwitchTo(c.cxt);
	if (!in_tenant(st.cr, &c))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("contact %s is not in tenant %s",
					   value_text(c.key, c.att->contacts.contact_type), st.cr->tenant));
	st.lines = palloc0(sizeof(ExplainLine) * st.body->nitems);
	eval_node(&st, st.body->items, &row, 0);
	SPI_finish();

	rule_arena_init(&arena);
	for (i = 0; i < st.body->nitems; i++)
	{
		ExplainLine *line = &st.lines[i];
		Datum		values[3];
		bool		nulls[3] = {false, false, line->observed == NULL};

		if (!line->present)
			continue;
		values[0] = CStringGetTextDatum(psprintf("%*s%s", line->depth * 2, "",
												 rule_print_item(st.body, &st.body->items[i], &arena)));
		values[1] = BoolGetDatum(line->result);
		values[2] = line->observed ? CStringGetTextDatum(line->observed) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(c.cxt);
	return (Datum) 0;
}

/*
 * Chunks: the data of many contacts read at once, for the write path when
 * a transaction touched many contacts.  Each query reads the data of the
 * whole chunk (key = ANY (keys)); rows are then grouped by contact, found
 * by key in a hash table.
 */
typedef struct ChunkSlot
{
	Datum		key;			/* the hash key: first */
	int			index;
} ChunkSlot;

struct EvalChunk
{
	Attachments *att;
	MemoryContext cxt;
	int			n;
	Datum	   *keys;
	HTAB	   *index;			/* ChunkSlot by key */
	HeapTuple  *rows;			/* NULL: no such contact */
	TupleDesc	row_desc;
	bool		keys_only;		/* rows of the key column alone */
	/* grouped rows: contact i's are [start[i], start[i + 1]) */
	uint64	   *event_start;	/* NULL: not read */
	HeapTuple  *events;
	TupleDesc	events_desc;
	uint64	   *list_start;		/* NULL: not read */
	Datum	   *lists;
	bool	   *list_nulls;
	FormData_pg_attribute list_attr;
	uint64	   *member_start;
	int64	   *members;
};

/* The key type of the chunk being hashed (one per database). */
static TypeCacheEntry *chunk_key_type = NULL;

static uint32
chunk_hash(const void *key, Size keysize)
{
	return DatumGetUInt32(FunctionCall1Coll(&chunk_key_type->hash_proc_finfo,
											chunk_key_type->typcollation, *(const Datum *) key));
}

static int
chunk_match(const void *a, const void *b, Size keysize)
{
	return DatumGetBool(FunctionCall2Coll(&chunk_key_type->eq_opr_finfo,
										  chunk_key_type->typcollation,
										  *(const Datum *) a, *(const Datum *) b)) ? 0 : 1;
}

static int
chunk_index(EvalChunk *chunk, Datum key)
{
	ChunkSlot  *slot = hash_search(chunk->index, &key, HASH_FIND, NULL);

	if (slot == NULL)
		elog(ERROR, "a row of a contact outside the chunk");
	return slot->index;
}

/*
 * Group the rows of result by contact (its key in column key_fnum):
 * returns start[0..n], and the rows' positions in order (*order).
 */
static uint64 *
group_rows(EvalChunk *chunk, SPITupleTable *result, uint64 nrows, int key_fnum, uint64 **order)
{
	uint64	   *start = palloc0(sizeof(uint64) * (chunk->n + 1));
	int		   *owner = palloc(sizeof(int) * Max(nrows, 1));
	uint64	   *next;
	uint64		i;

	for (i = 0; i < nrows; i++)
	{
		bool		isnull;
		Datum		key = heap_getattr(result->vals[i], key_fnum, result->tupdesc, &isnull);

		owner[i] = chunk_index(chunk, key);
		start[owner[i] + 1]++;
	}
	for (i = 0; i < (uint64) chunk->n; i++)
		start[i + 1] += start[i];
	next = palloc(sizeof(uint64) * Max(chunk->n, 1));
	memcpy(next, start, sizeof(uint64) * chunk->n);
	*order = palloc(sizeof(uint64) * Max(nrows, 1));
	for (i = 0; i < nrows; i++)
		(*order)[next[owner[i]]++] = i;
	pfree(owner);
	pfree(next);
	return start;
}

void
rule_eval_event_needs(const CheckedRule *cr, EvalEventNeeds *needs)
{
	EvalState	st = {cr, cr->body, NULL, NULL};
	const RuleItem *item;
	ListCell   *lc;

	for (item = cr->body->items; item < cr->body->items + cr->body->nitems; item++)
	{
		const char *kind;
		const RuleItem *operand;
		int64		low = DT_NOBEGIN;
		int64		high;
		bool		known = false;

		if (item->type != RI_EVENT)
			continue;
		kind = RULE_STR(cr->body, item->a);
		/* a where clause reads other columns of the events */
		needs->all_columns |= (item->flags & RULE_HAS_WHERE) != 0;
		foreach(lc, needs->kinds)
			known |= strcmp(lfirst(lc), kind) == 0;
		if (!known)
			needs->kinds = lappend(needs->kinds, pstrdup(kind));
		operand = (item->flags & RULE_HAS_WHERE) ? RULE_NEXT(item + 1) : item + 1;
		switch ((RuleWindow) item->arg)
		{
			case RW_WITHIN_LAST:
				window_bounds(RT_WITHIN_LAST, operand, &low, &high);
				break;
			case RW_SINCE:
			case RW_BETWEEN:
				low = operand_usec(&st, operand);
				break;
			case RW_BEFORE:
			case RW_EVER:
				needs->any_time = true;
				break;
		}
		if (!needs->counted || low < needs->since)
			needs->since = low;
		needs->counted = true;
	}
}

EvalChunk *
rule_eval_read_chunk(Attachments *att, const Datum *keys, int n, bool rows,
					 const EvalEventNeeds *events, bool lists, MemoryContext cxt)
{
	MemoryContext caller = MemoryContextSwitchTo(cxt);
	EvalChunk  *chunk = palloc0(sizeof(EvalChunk));
	Oid			keytype = getBaseType(att->contacts.contact_type);
	HASHCTL		ctl;
	Datum		array;
	SPITupleTable *result;
	uint64		nrows;
	uint64	   *order;
	uint64		i;
	int			fnum;

	chunk->att = att;
	chunk->cxt = cxt;
	chunk->n = n;
	chunk->keys_only = !rows;
	chunk->keys = palloc(sizeof(Datum) * Max(n, 1));
	memcpy(chunk->keys, keys, sizeof(Datum) * n);
	chunk_key_type = lookup_type_cache(keytype, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Datum);
	ctl.entrysize = sizeof(ChunkSlot);
	ctl.hash = chunk_hash;
	ctl.match = chunk_match;
	ctl.hcxt = cxt;
	chunk->index = hash_create("segments chunk", n, &ctl,
							   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	for (i = 0; i < (uint64) n; i++)
		((ChunkSlot *) hash_search(chunk->index, &keys[i], HASH_ENTER, NULL))->index = (int) i;
	array = PointerGetDatum(construct_array(chunk->keys, n, keytype, chunk_key_type->typlen,
											chunk_key_type->typbyval, chunk_key_type->typalign));

	/* the contacts' rows */
	result = run_query_on(att, rows ? EQ_CONTACT_ANY : EQ_CONTACT_KEYS_ANY, &array, true, 0);
	MemoryContextSwitchTo(cxt);
	chunk->row_desc = CreateTupleDescCopy(result->tupdesc);
	chunk->rows = palloc0(sizeof(HeapTuple) * Max(n, 1));
	fnum = column_number(result->tupdesc, att->contacts.contact_column);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		key = heap_getattr(result->vals[i], fnum, result->tupdesc, &isnull);

		chunk->rows[chunk_index(chunk, key)] = heap_copytuple(result->vals[i]);
	}
	SPI_freetuptable(result);

	if (events && events->kinds != NIL)
	{
		Oid			kindtype = column_type_of(&att->events, att->events.kind_column);
		Oid			input,
					ioparam;
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *kinds = palloc(sizeof(Datum) * list_length(events->kinds));
		Datum		args[3];
		ListCell   *lc;
		int			k = 0;

		getTypeInputInfo(kindtype, &input, &ioparam);
		get_typlenbyvalalign(kindtype, &typlen, &typbyval, &typalign);
		foreach(lc, events->kinds)
			kinds[k++] = OidInputFunctionCall(input, lfirst(lc), ioparam, -1);
		args[0] = array;
		args[1] = PointerGetDatum(construct_array(kinds, k, kindtype, typlen, typbyval, typalign));
		/* two days early: the time column may be a date or a timestamp */
		args[2] = TimestampTzGetDatum(events->any_time ? DT_NOBEGIN :
									  events->since - 2 * USECS_PER_DAY);
		result = run_query_on(att, events->any_time ?
							  (events->all_columns ? EQ_EVENTS_ANY : EQ_EVENT_TIMES_ANY) :
							  (events->all_columns ? EQ_EVENTS_ANY_SINCE : EQ_EVENT_TIMES_ANY_SINCE),
							  args, true, 0);
		MemoryContextSwitchTo(cxt);
		nrows = SPI_processed;
		chunk->events_desc = CreateTupleDescCopy(result->tupdesc);
		chunk->event_start = group_rows(chunk, result, nrows,
										column_number(result->tupdesc, att->events.contact_column),
										&order);
		chunk->events = palloc(sizeof(HeapTuple) * Max(nrows, 1));
		for (i = 0; i < nrows; i++)
			chunk->events[i] = heap_copytuple(result->vals[order[i]]);
		SPI_freetuptable(result);
	}
	if (lists)
	{
		result = run_query_on(att, EQ_LISTS_ANY, &array, true, 0);
		MemoryContextSwitchTo(cxt);
		nrows = SPI_processed;
		chunk->list_attr = *TupleDescAttr(result->tupdesc, 1);
		chunk->list_start = group_rows(chunk, result, nrows, 1, &order);
		chunk->lists = palloc(sizeof(Datum) * Max(nrows, 1));
		chunk->list_nulls = palloc(sizeof(bool) * Max(nrows, 1));
		for (i = 0; i < nrows; i++)
		{
			Datum		value = heap_getattr(result->vals[order[i]], 2, result->tupdesc,
											 &chunk->list_nulls[i]);

			if (!chunk->list_nulls[i])
				value = datumCopy(value, chunk->list_attr.attbyval, chunk->list_attr.attlen);
			chunk->lists[i] = value;
		}
		SPI_freetuptable(result);
	}

	result = run_query_on(att, EQ_MEMBERS_ANY, &array, true, 0);
	MemoryContextSwitchTo(cxt);
	nrows = SPI_processed;
	chunk->member_start = group_rows(chunk, result, nrows, 1, &order);
	chunk->members = palloc(sizeof(int64) * Max(nrows, 1));
	for (i = 0; i < nrows; i++)
	{
		bool		isnull;

		chunk->members[i] = DatumGetInt64(heap_getattr(result->vals[order[i]], 2,
													   result->tupdesc, &isnull));
	}
	SPI_freetuptable(result);
	MemoryContextSwitchTo(caller);
	return chunk;
}

bool
rule_eval_chunk_contact(EvalChunk *chunk, int i, EvalContact *c, MemoryContext cxt)
{
	MemoryContext caller = MemoryContextSwitchTo(cxt);

	begin_contact(c, chunk->att, chunk->keys[i], cxt, true);
	if (chunk->rows[i] && chunk->keys_only)
	{
		/* the contact exists; no rule reads its fields or its tenant */
		c->row = chunk->rows[i];
		c->row_desc = chunk->row_desc;
	}
	else if (chunk->rows[i])
		set_row(c, chunk->rows[i], chunk->row_desc);
	if (chunk->event_start)
		set_events(c, &chunk->events[chunk->event_start[i]],
				   chunk->event_start[i + 1] - chunk->event_start[i], chunk->events_desc);
	if (chunk->list_start)
		set_lists(c, &chunk->lists[chunk->list_start[i]], &chunk->list_nulls[chunk->list_start[i]],
				  chunk->list_start[i + 1] - chunk->list_start[i], &chunk->list_attr);
	set_members(c, &chunk->members[chunk->member_start[i]],
				(int) (chunk->member_start[i + 1] - chunk->member_start[i]));
	MemoryContextSwitchTo(caller);
	return c->row != NULL;
}
