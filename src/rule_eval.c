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

#include "contact_data.h"
#include "bucket.h"
#include "contact_key.h"
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

static bool eval_node(EvalState *st, const RuleItem *item, const EvalRow *row, int depth);

static const CheckedItem *
checked(EvalState *st, const RuleItem *item)
{
	return &st->cr->items[item - st->body->items];
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

/*
 * The time an operand stands for: a literal, or now, ago, from now, the
 * last as a clock in zone shows it (NULL: a timestamptz's instant).
 */
static int64
operand_usec(EvalState *st, const RuleItem *value, const char *zone)
{
	const CheckedItem *cv = checked(st, value);

	if (OidIsValid(cv->valtype))
		return time_usec(cv->value, getBaseType(cv->valtype));
	return rule_clock_time(rule_time_value((RuleValueKind) value->op, value->a, (RuleUnit) value->arg),
						   zone);
}

/* The bounds of within last/next N unit, as a clock in zone shows them. */
static void
window_bounds(RuleTestOp op, const RuleItem *duration, const char *zone, int64 *low, int64 *high)
{
	TimestampTz now = rule_now();
	TimestampTz other = rule_time_shift(now, op == RT_WITHIN_LAST ? -1 : 1, duration->a,
										(RuleUnit) duration->arg);

	*low = rule_clock_time(op == RT_WITHIN_LAST ? other : now, zone);
	*high = rule_clock_time(op == RT_WITHIN_LAST ? now : other, zone);
}

/*
 * A field's column in rows of desc: where the attached table has it, when
 * the row has it there too (one comparison of its name), else found by
 * name (a partition whose columns are in other places).
 */
static int
field_attnum(const CheckedItem *ci, TupleDesc desc)
{
	Form_pg_attribute a;

	if (ci->attnum > 0 && ci->attnum <= desc->natts)
	{
		a = TupleDescAttr(desc, ci->attnum - 1);
		if (!a->attisdropped && strcmp(NameStr(a->attname), ci->column) == 0)
			return ci->attnum;
	}
	return contact_column(desc, ci->column);
}

static Datum
field_value(const CheckedItem *ci, const EvalRow *row, bool *isnull)
{
	return heap_getattr(row->tuple, field_attnum(ci, row->desc), row->desc, isnull);
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
				low = operand_usec(st, first, ci->clock_zone);
				high = operand_usec(st, first + 1, ci->clock_zone);
				return negated ? (v < low || v > high) : (v >= low && v <= high);
			case RT_WITHIN_LAST:
			case RT_WITHIN_NEXT:
				window_bounds(op, first, ci->clock_zone, &low, &high);
				return v >= low && v <= high;
			default:
				return rule_comparison_holds(op, int64_cmp(v, operand_usec(st, first, ci->clock_zone)));
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
					equal = time_usec(value, ci->cmptype) == operand_usec(st, first + i, ci->clock_zone);
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
			return rule_comparison_holds(op, COMPARE(first));
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
			return int64_cmp(DatumGetTimestampTz(typed), operand_usec(st, operand, NULL));
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
				window_bounds(op, first, NULL, &low, &high);
				return DatumGetTimestampTz(typed) >= low && DatumGetTimestampTz(typed) <= high;
			}
		default:
			if (!json_typed(&v, kind, &typed))
				return false;
			return rule_comparison_holds(op, json_cmp(st, kind, typed, first));
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

/*
 * The window of an event condition (item, its operands at operand): the
 * times it takes, as the events' time column's clock shows them, worked
 * out once for all the contact's events.
 */
typedef struct EventWindow
{
	RuleWindow	kind;
	int64		low;			/* within last, since, between: the first time in */
	int64		high;			/* within last, between: the last time in;
								 * before: the first time after */
} EventWindow;

static void
event_window(EvalState *st, const RuleItem *item, const RuleItem *operand, EventWindow *w)
{
	const char *zone = checked(st, item)->clock_zone;

	w->kind = (RuleWindow) item->arg;
	switch (w->kind)
	{
		case RW_WITHIN_LAST:
			window_bounds(RT_WITHIN_LAST, operand, zone, &w->low, &w->high);
			break;
		case RW_SINCE:
			w->low = operand_usec(st, operand, zone);
			break;
		case RW_BEFORE:
			w->high = operand_usec(st, operand, zone);
			break;
		case RW_BETWEEN:
			w->low = operand_usec(st, operand, zone);
			w->high = operand_usec(st, operand + 1, zone);
			break;
		case RW_EVER:
			break;
	}
}

/* Does an event's time fall in the window? */
static bool
in_window(const EventWindow *w, int64 at)
{
	switch (w->kind)
	{
		case RW_WITHIN_LAST:
		case RW_BETWEEN:
			return at >= w->low && at <= w->high;
		case RW_SINCE:
			return at >= w->low;
		case RW_BEFORE:
			return at < w->high;
		case RW_EVER:
			break;
	}
	return true;
}

/* Where a segment is, or would be, in c->members. */
static int
member_position(EvalContact *c, int64 segment_id, bool *found)
{
	int			low = 0,
				high;

	if (!c->members_read)
		elog(ERROR, "the memberships of the contact were not read");
	high = c->nmembers;
	while (low < high)
	{
		int			mid = low + (high - low) / 2;

		if (c->members[mid].segment_id < segment_id)
			low = mid + 1;
		else
			high = mid;
	}
	*found = low < c->nmembers && c->members[low].segment_id == segment_id;
	return low;
}

bool
rule_eval_is_member(EvalContact *c, int64 segment_id)
{
	bool		found;

	(void) member_position(c, segment_id, &found);
	return found;
}

int
rule_eval_override(EvalContact *c, int64 segment_id)
{
	int			i;

	if (!c->overrides_read)
		elog(ERROR, "the overrides of the contact were not read");
	/* a contact has few: of the segments it was included in or excluded from */
	for (i = 0; i < c->noverrides; i++)
		if (c->overrides[i] == segment_id || c->overrides[i] == -segment_id)
			return c->overrides[i] > 0 ? 1 : -1;
	return 0;
}

bool
rule_eval_member_since(EvalContact *c, int64 segment_id, TimestampTz *since)
{
	bool		found;
	int			pos = member_position(c, segment_id, &found);

	if (found)
		*since = c->members[pos].since;
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
			c->members = repalloc(c->members, sizeof(EvalMember) * c->members_space);
		}
		memmove(&c->members[pos + 1], &c->members[pos], sizeof(EvalMember) * (c->nmembers - pos));
		/* a join is written with the time of the rules' clock (membership.c) */
		c->members[pos].segment_id = segment_id;
		c->members[pos].since = rule_now();
		c->nmembers++;
	}
	else
	{
		memmove(&c->members[pos], &c->members[pos + 1], sizeof(EvalMember) * (c->nmembers - pos - 1));
		c->nmembers--;
	}
}

/* The contact's events, read now if they were deferred. */
static void
read_contact_events(EvalContact *c)
{
	if (!c->events_read && c->read_events)
		c->read_events(c);
	if (!c->events_read)
		elog(ERROR, "the events of the contact were not read");
}

/*
 * Whether an event matches an event condition (item): its source, its kind
 * (kind, as text) and where clause, and its window when one is given;
 * without one, it needs a time (first and last).
 */
static bool
event_matches(EvalState *st, const RuleItem *item, Datum kind, const EventWindow *window,
			  const EvalEvent *e)
{
	EvalRow		row = {e->tuple, st->c->events_descs[e->source]};

	if (e->source != checked(st, item)->source)
		return false;
	/* e.kind = 'k' as SQL has it: text equality in the column's collation */
	if (e->kind == NULL ||
		!DatumGetBool(DirectFunctionCall2Coll(texteq, st->c->kind_collations[e->source],
											  PointerGetDatum(e->kind), kind)))
		return false;
	/* an event without a time counts only for "ever", as in SQL */
	if (e->at_isnull ? window == NULL || window->kind != RW_EVER :
		window != NULL && !in_window(window, e->at))
		return false;
	return !(item->flags & RULE_HAS_WHERE) || eval_node(st, item + 1, &row, -1);
}

static int64
count_events(EvalState *st, const RuleItem *item)
{
	EvalContact *c = st->c;
	Datum		kind = CStringGetTextDatum(RULE_STR(st->body, item->a));
	EventWindow window;
	int64		count = 0;
	uint64		i;

	event_window(st, item, (item->flags & RULE_HAS_WHERE) ? RULE_NEXT(item + 1) : item + 1, &window);
	read_contact_events(c);
	for (i = 0; i < c->nevents; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (event_matches(st, item, kind, &window, &c->events[i]))
			count++;
	}
	return count;
}

/* A number column's value as numeric, as the SQL path's sum reads it. */
static Datum
as_numeric(Datum value, Oid type)
{
	switch (type)
	{
		case INT2OID:
			return DirectFunctionCall1(int2_numeric, value);
		case INT4OID:
			return DirectFunctionCall1(int4_numeric, value);
		case INT8OID:
			return DirectFunctionCall1(int8_numeric, value);
		case FLOAT4OID:
			return DirectFunctionCall1(float4_numeric, value);
		case FLOAT8OID:
			return DirectFunctionCall1(float8_numeric, value);
		default:
			return value;
	}
}

typedef struct DistinctSort
{
	FmgrInfo   *cmp;
	Oid			collation;
} DistinctSort;

static int
distinct_cmp(const void *a, const void *b, void *arg)
{
	DistinctSort *ds = arg;

	return DatumGetInt32(FunctionCall2Coll(ds->cmp, ds->collation, *(const Datum *) a,
										   *(const Datum *) b));
}

/*
 * An event condition with a measure (m): the matching events' aggregate
 * compared with its value, or the time of the first or last matching event
 * tested by the window.  As the SQL path: no events make a sum and a count
 * 0 and an avg, min, max, first or last match nothing; NULL values are
 * left out; sum and avg are exact numerics.
 */
static bool
eval_measure(EvalState *st, const RuleItem *item, const RuleItem *m, char **observed)
{
	EvalContact *c = st->c;
	EventWindow window;
	bool		aggregate = RM_IS_AGGREGATE(m->op);
	const CheckedItem *ci = checked(st, m);
	const CheckedItem *cv = aggregate ? checked(st, m + 1) : NULL;
	Datum		kind = CStringGetTextDatum(RULE_STR(st->body, item->a));
	TypeCacheEntry *tc = NULL;
	int			column = 0;
	int64		matching = 0;
	int64		values = 0;
	Datum		sum = DirectFunctionCall1(int4_numeric, Int32GetDatum(0));
	Datum		best = (Datum) 0;
	int64		best_at = 0;
	Datum	   *distinct = NULL;
	RuleTestOp	op = (RuleTestOp) m->arg;
	bool		result;
	uint64		i;

	event_window(st, item, RULE_NEXT(m), &window);
	read_contact_events(c);
	if (aggregate)
	{
		column = field_attnum(ci, c->events_descs[checked(st, item)->source]);
		tc = lookup_type_cache(ci->coltype, TYPECACHE_CMP_PROC_FINFO);
		if (m->op == RM_COUNT_DISTINCT)
			distinct = palloc(sizeof(Datum) * Max(c->nevents, 1));
	}
	for (i = 0; i < c->nevents; i++)
	{
		const EvalEvent *e = &c->events[i];
		Datum		value;
		bool		isnull;

		CHECK_FOR_INTERRUPTS();
		/* the window filters an aggregate's events; first and last's it tests */
		if (!event_matches(st, item, kind, aggregate ? &window : NULL, e))
			continue;
		matching++;
		if (!aggregate)
		{
			if (matching == 1 || (m->op == RM_FIRST ? e->at < best_at : e->at > best_at))
				best_at = e->at;
			continue;
		}
		value = heap_getattr(e->tuple, column, c->events_descs[e->source], &isnull);
		if (isnull)
			continue;
		switch ((RuleMeasure) m->op)
		{
			case RM_SUM:
			case RM_AVG:
				sum = DirectFunctionCall2(numeric_add, sum, as_numeric(value, ci->cmptype));
				break;
			case RM_MIN:
			case RM_MAX:
				if (values == 0)
					best = value;
				else
				{
					int			cmp = DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, ci->colcollation,
																	  value, best));

					if (m->op == RM_MIN ? cmp < 0 : cmp > 0)
						best = value;
				}
				break;
			case RM_COUNT_DISTINCT:
				distinct[values] = value;
				break;
			case RM_FIRST:
			case RM_LAST:
				break;
		}
		values++;
	}

	switch ((RuleMeasure) m->op)
	{
		case RM_SUM:
			result = rule_comparison_holds(op, DatumGetInt32(DirectFunctionCall2(numeric_cmp, sum, cv->value)));
			if (observed)
				*observed = psprintf("sum %s of " INT64_FORMAT " matching event%s",
									 value_text(sum, NUMERICOID), matching, matching == 1 ? "" : "s");
			return result;
		case RM_AVG:
			{
				Datum		n = DirectFunctionCall1(int8_numeric, Int64GetDatum(values));

				result = values > 0 &&
					rule_comparison_holds(op, DatumGetInt32(DirectFunctionCall2(numeric_cmp, sum,
																	DirectFunctionCall2(numeric_mul, cv->value, n))));
				if (observed)
					*observed = values == 0 ? psprintf("no values in " INT64_FORMAT " matching event%s",
													   matching, matching == 1 ? "" : "s") :
						psprintf("avg %s of " INT64_FORMAT " value%s",
								 value_text(DirectFunctionCall1(numeric_trim_scale,
																DirectFunctionCall2(numeric_round,
																					DirectFunctionCall2(numeric_div, sum, n),
																					Int32GetDatum(6))),
											NUMERICOID),
								 values, values == 1 ? "" : "s");
				return result;
			}
		case RM_MIN:
		case RM_MAX:
			if (values == 0)
				result = false;
			else if (ci->fclass == FC_TIME)
				result = rule_comparison_holds(op, int64_cmp(time_usec(best, ci->cmptype),
															 operand_usec(st, m + 1, ci->clock_zone)));
			else
				result = rule_comparison_holds(op, DatumGetInt32(FunctionCall2Coll(&tc->cmp_proc_finfo, ci->colcollation,
																	   best, cv->value)));
			if (observed)
				*observed = values == 0 ? psprintf("no values in " INT64_FORMAT " matching event%s",
												   matching, matching == 1 ? "" : "s") :
					psprintf("%s %s", m->op == RM_MIN ? "min" : "max", value_text(best, ci->coltype));
			return result;
		case RM_COUNT_DISTINCT:
			{
				DistinctSort ds = {&tc->cmp_proc_finfo, ci->colcollation};
				int64		n = 0;

				qsort_arg(distinct, values, sizeof(Datum), distinct_cmp, &ds);
				for (i = 0; i < (uint64) values; i++)
					if (i == 0 || distinct_cmp(&distinct[i - 1], &distinct[i], &ds) != 0)
						n++;
				if (observed)
					*observed = psprintf(INT64_FORMAT " distinct value%s", n, n == 1 ? "" : "s");
				return rule_comparison_holds(op, int64_cmp(n, DatumGetInt64(cv->value)));
			}
		case RM_FIRST:
		case RM_LAST:
			result = matching > 0 && in_window(&window, best_at);
			if (observed)
				*observed = matching == 0 ? pstrdup("no matching event") :
					psprintf("%s at %s", m->op == RM_FIRST ? "first" : "last",
							 value_text(TimestampTzGetDatum(best_at), TIMESTAMPTZOID));
			return result;
	}
	return false;
}

/*
 * Is the checked literal one of the contact's lists, by the type's = ?
 * With a where clause or a window, of a list row that passes them (a row
 * without a time is in no window), as the SQL path's EXISTS has it.
 */
static bool
in_list(EvalState *st, const RuleItem *item)
{
	EvalContact *c = st->c;
	const AttachedTable *lists = &st->cr->att->lists;
	TypeCacheEntry *tc = lookup_type_cache(lists->list_type, TYPECACHE_EQ_OPR_FINFO);
	Datum		wanted = checked(st, item + 1)->value;
	const RuleItem *where = (item->flags & RULE_HAS_WHERE) ? item + 2 : NULL;
	EventWindow window;
	int			list_fnum,
				at_fnum = 0;
	Oid			at_type = InvalidOid;
	uint64		i;

	if (!OidIsValid(tc->eq_opr))
		elog(ERROR, "no equality operator for type %s", format_type_be(lists->list_type));
	if (where == NULL && item->arg == 0)
	{
		if (!c->lists_read)
			elog(ERROR, "the lists of the contact were not read");
		for (i = 0; i < c->nlists; i++)
			if (DatumGetBool(FunctionCall2Coll(&tc->eq_opr_finfo, c->list_collation, c->lists[i], wanted)))
				return true;
		return false;
	}

	if (!c->list_rows_read)
		elog(ERROR, "the list rows of the contact were not read");
	list_fnum = contact_column(c->lists_desc, lists->list_column);
	if (item->arg != 0)
	{
		event_window(st, item, where ? RULE_NEXT(where) : item + 2, &window);
		at_fnum = contact_column(c->lists_desc, lists->at_column);
		at_type = getBaseType(TupleDescAttr(c->lists_desc, at_fnum - 1)->atttypid);
	}
	for (i = 0; i < c->nlist_rows; i++)
	{
		EvalRow		row = {c->list_rows[i], c->lists_desc};
		bool		isnull;
		Datum		value = heap_getattr(row.tuple, list_fnum, row.desc, &isnull);

		CHECK_FOR_INTERRUPTS();
		if (isnull ||
			!DatumGetBool(FunctionCall2Coll(&tc->eq_opr_finfo, c->list_collation, value, wanted)))
			continue;
		if (where && !eval_node(st, where, &row, -1))
			continue;
		if (item->arg != 0)
		{
			Datum		at = heap_getattr(row.tuple, at_fnum, row.desc, &isnull);

			if (isnull || !in_window(&window, time_usec(at, at_type)))
				continue;
		}
		return true;
	}
	return false;
}

/*
 * in segment 'name' [for at least | for less than N unit]: a member, for
 * long enough (joined at least N unit ago) or not yet.
 */
static bool
eval_in_segment(EvalState *st, const RuleItem *item, char **observed)
{
	int64		segment_id = checked(st, item)->segment_id;
	int			by_hand = st->c->overrides_read ? rule_eval_override(st->c, segment_id) : 0;
	TimestampTz since;
	TimestampTz edge;

	if (!rule_eval_member_since(st->c, segment_id, &since))
	{
		if (observed && (item->op != 0 || by_hand < 0))
			*observed = pstrdup(by_hand < 0 ? "excluded by hand" : "not a member");
		return false;
	}
	if (observed && by_hand > 0)
		*observed = item->op == 0 ? pstrdup("included by hand") :
			psprintf("included by hand, member since %s", timestamptz_to_str(since));
	else if (observed && item->op != 0)
		*observed = psprintf("member since %s", timestamptz_to_str(since));
	if (item->op == 0)
		return true;
	edge = rule_time_shift(rule_now(), -1, item[1].a, (RuleUnit) item[1].arg);
	return item->op == RT_GE ? since <= edge : since > edge;
}

/*
 * The contact's bucket under a seed: of its key's text and its tenant's,
 * as segments.bucket() of the SQL path reads them (src/bucket.c).
 */
static uint32
contact_bucket(EvalContact *c, const char *seed)
{
	const AttachedTable *co = &c->att->contacts;
	char	   *key;
	const char *tenant = c->tenant;

	if (c->att->key_per_tenant)
	{
		Datum		tenant_value,
					contact;

		contact_key_split(c->att, c->key, &tenant_value, &contact);
		tenant = value_text(tenant_value, getBaseType(co->tenant_type));
		key = value_text(contact, getBaseType(co->contact_type));
	}
	else
		key = value_text(c->key, co->contact_type);
	return bucket_of(seed, strlen(seed), key, strlen(key), tenant, tenant ? strlen(tenant) : 0);
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
			if (item->flags & RULE_HAS_MEASURE)
			{
				const RuleItem *m = (item->flags & RULE_HAS_WHERE) ? RULE_NEXT(item + 1) : item + 1;

				result = eval_measure(st, item, m, explain ? &observed : NULL);
			}
			else
			{
				int64		count = count_events(st, item);

				result = rule_comparison_holds((RuleTestOp) item->op, int64_cmp(count, item->b));
				if (explain)
					observed = psprintf(INT64_FORMAT " matching event%s", count, count == 1 ? "" : "s");
			}
			break;
		case RI_IN_LIST:
			result = in_list(st, item);
			break;
		case RI_IN_SEGMENT:
			result = eval_in_segment(st, item, explain ? &observed : NULL);
			break;
		case RI_BUCKET:
			{
				uint32		bucket = contact_bucket(st->c, RULE_STR(st->body, item->a));

				result = rule_comparison_holds((RuleTestOp) item->op, int64_cmp(bucket, item->b));
				if (explain)
					observed = psprintf("bucket %u", bucket);
			}
			break;
		case RI_VALUE:
		case RI_MEASURE:
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

bool
rule_eval_update_matters(const CheckedRule *cr, HeapTuple old_row, HeapTuple new_row, TupleDesc desc,
						 const Bitmapset *changed)
{
	EvalState	st = {cr, cr->body, NULL, NULL};
	EvalRow		o = {old_row, desc};
	EvalRow		n = {new_row, desc};
	const RuleItem *end = cr->body->items + cr->body->nitems;
	const RuleItem *item;

	for (item = rule_next_contact_field(cr->body->items, end); item;
		 item = rule_next_contact_field(RULE_NEXT(item), end))
	{
		const CheckedItem *ci = checked(&st, item);

		if (!bms_is_member(field_attnum(ci, desc), changed))
			continue;
		/* a time column's or a relative literal's truth moves with the clock */
		if (ci->fclass == FC_TIME || rule_operands_are_relative(item + 1, RULE_NEXT(item)) ||
			eval_field(&st, item, &o, NULL) != eval_field(&st, item, &n, NULL))
			return true;
	}
	return false;
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
	return cr->tenant == NULL || (c->tenant != NULL && strcmp(c->tenant, cr->tenant) == 0);
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
 * the contact's data the rule needs into a context of its own; the caller
 * evaluates, calls SPI_finish() and deletes c->cxt.
 */
static const CheckedRule *
begin_evaluation(FunctionCallInfo fcinfo, EvalContact *c, bool explain)
{
	Attachments *att = rule_load_attachments();
	const CheckedRule *cr = rule_check(PG_GETARG_RULE_BODY(1), att, tenant_arg(fcinfo));
	const AttachedTable *co = &att->contacts;
	Datum		key = contact_key_arg(fcinfo, 0, att->key_type);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "segments contact",
											  ALLOCSET_DEFAULT_SIZES);
	EvalNeeds	needs;
	ContactChunk *chunk;

	memset(&needs, 0, sizeof(needs));
	rule_eval_needs(cr, &needs);
	/* explain says which memberships were made by hand */
	needs.overrides = explain && needs.members;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* a chunk of one, read with the caller's snapshot and privileges */
	chunk = contact_chunk_read(att, &key, 1, &needs, true, false, cxt);
	if (!contact_chunk_contact(chunk, 0, c, cxt))
		ereport(ERROR,
				errcode(ERRCODE_NO_DATA_FOUND),
				errmsg("contact %s does not exist in %s", contact_key_text(att, key),
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
	cr = begin_evaluation(fcinfo, &c, false);
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
	st.cr = begin_evaluation(fcinfo, &c, true);
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
					   contact_key_text(c.att, c.key), st.cr->tenant));
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

void
rule_eval_needs(const CheckedRule *cr, EvalNeeds *needs)
{
	EvalState	st = {cr, cr->body, NULL, NULL};
	const RuleItem *item;
	const RuleItem *end = cr->body->items + cr->body->nitems;
	const RuleItem *where_end = NULL;	/* the end of the event or list condition being walked */
	ListCell   *lc;

	needs->fields |= cr->tenant != NULL;
	for (item = cr->body->items; item < end; item++)
	{
		const char *kind;
		EventNeeds *source;
		const RuleItem *operand;
		int64		low = DT_NOBEGIN;
		int64		high;
		bool		known = false;
		bool		first;

		if (where_end && item >= where_end)
			where_end = NULL;
		switch ((RuleItemType) item->type)
		{
			case RI_FIELD:
				/* a field in a where clause is an event's or a list row's */
				needs->fields |= where_end == NULL;
				continue;
			case RI_IN_LIST:
				needs->lists = true;
				needs->list_rows |= (item->flags & RULE_HAS_WHERE) || item->arg != 0;
				where_end = RULE_NEXT(item);
				continue;
			case RI_IN_SEGMENT:
				needs->members = true;
				continue;
			case RI_BUCKET:
				/* the tenant's text, from the row, unless it is in the key */
				needs->fields |= cr->att->contacts.tenant_column != NULL && !cr->att->key_per_tenant;
				continue;
			case RI_EVENT:
				break;
			default:
				continue;
		}
		where_end = RULE_NEXT(item);
		if (needs->sources == NULL)
		{
			needs->nsources = cr->att->nsources;
			needs->sources = palloc0(sizeof(EventNeeds) * needs->nsources);
		}
		needs->events = true;
		source = &needs->sources[cr->items[item - cr->body->items].source];
		first = source->kinds == NIL;
		kind = RULE_STR(cr->body, item->a);
		/* a where clause or an aggregate reads other columns of the events */
		source->event_columns |= (item->flags & (RULE_HAS_WHERE | RULE_HAS_MEASURE)) != 0;
		foreach(lc, source->kinds)
			known |= strcmp(lfirst(lc), kind) == 0;
		if (!known)
			source->kinds = lappend(source->kinds, pstrdup(kind));
		operand = (item->flags & RULE_HAS_WHERE) ? RULE_NEXT(item + 1) : item + 1;
		if (item->flags & RULE_HAS_MEASURE)
		{
			/* the first or last event of all time, whatever the window */
			if (!RM_IS_AGGREGATE(operand->op))
			{
				source->any_time = true;
				if (first || low < source->since)
					source->since = low;
				continue;
			}
			operand = RULE_NEXT(operand);
		}
		switch ((RuleWindow) item->arg)
		{
			case RW_WITHIN_LAST:
				window_bounds(RT_WITHIN_LAST, operand, NULL, &low, &high);
				break;
			case RW_SINCE:
			case RW_BETWEEN:
				low = operand_usec(&st, operand, NULL);
				break;
			case RW_BEFORE:
			case RW_EVER:
				source->any_time = true;
				break;
		}
		if (first || low < source->since)
			source->since = low;
	}
}
