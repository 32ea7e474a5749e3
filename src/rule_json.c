/*
 * rule_json.c
 *	  segments.rule to and from jsonb, the form UI rule builders exchange.
 *
 * The JSON shape follows the rule tree node for node (docs/rule-json.md
 * shows every form):
 *
 *	 true, false
 *	 {"and": [node, ...]}, {"or": [node, ...]}, {"not": node}
 *	 {"field": ["props", "ltv"], "op": ">=", "value": 1000}
 *	 {"event": "opened", "source": "email", "where": node, "count": {"op": ">=", "value": 3},
 *	  "window": {"op": "within last", "amount": 30, "unit": "day"}}
 *	 {"event": "purchased", "aggregate": {"fn": "sum", "column": "amount",
 *	  "op": ">=", "value": 500}}, {"event": "opened", "occurrence": "last",
 *	  "window": {...}}
 *	 {"in_list": value, "where": node, "window": {...}}, {"in_segment": "name"}
 *
 * Output walks the stored flat form.  Input reads jsonb through its
 * container API into a RuleNode tree and hands that to the encoder, which
 * checks and normalizes it exactly as it does a parsed text rule.  Reading
 * what rule_to_jsonb() wrote gives back the same stored bytes.
 *
 * Input is strict, because a UI that sends a misspelled key should hear
 * about it rather than get a rule meaning something else: unknown keys,
 * wrong JSON types and missing operands are errors that name the element by
 * its JSON path from the root and say what was expected there.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "rule_type.h"

PG_FUNCTION_INFO_V1(rule_to_jsonb);
PG_FUNCTION_INFO_V1(rule_from_jsonb);

/*
 * The keys that carry the operands of a field test or an event window.
 */
typedef enum OperandKeys
{
	OPERANDS_NONE,				/* is null, ever */
	OPERANDS_VALUE,				/* "value": one value */
	OPERANDS_VALUES,			/* "values": an array of values */
	OPERANDS_DURATION			/* "amount" and "unit" */
} OperandKeys;

/* Value kinds written as {"time": ...} objects, and their names there. */
static const struct
{
	RuleValueKind kind;
	const char *name;
}			time_names[] =
{
	{RV_NOW, "now"},
	{RV_AGO, "ago"},
	{RV_FROM_NOW, "from now"}
};

static const char *
time_name(RuleValueKind kind)
{
	size_t		i;

	for (i = 0; i < lengthof(time_names); i++)
		if (time_names[i].kind == kind)
			return time_names[i].name;
	elog(ERROR, "unexpected time value kind %d", (int) kind);
}

/*
 * How the operands of a field test are written.  *min and *max bound the
 * length of "values" (max -1: no bound).
 */
static OperandKeys
test_operand_keys(RuleTestOp op, int *min, int *max)
{
	*min = rule_operand_count(op, max);
	if (op == RT_WITHIN_LAST || op == RT_WITHIN_NEXT)
		return OPERANDS_DURATION;
	if (*max == 0)
		return OPERANDS_NONE;
	if (*min == 1 && *max == 1)
		return OPERANDS_VALUE;
	return OPERANDS_VALUES;
}

/* How the operands of an event window are written, as above. */
static OperandKeys
window_operand_keys(RuleWindow window, int *min, int *max)
{
	switch (window)
	{
		case RW_EVER:
			*min = *max = 0;
			return OPERANDS_NONE;
		case RW_WITHIN_LAST:
			*min = *max = 1;
			return OPERANDS_DURATION;
		case RW_SINCE:
		case RW_BEFORE:
			*min = *max = 1;
			return OPERANDS_VALUE;
		case RW_BETWEEN:
			*min = *max = 2;
			return OPERANDS_VALUES;
	}
	elog(ERROR, "unexpected event window %d", (int) window);
}


/*
 * Output: the stored flat form to jsonb
 *
 * Items are visited in prefix order; an item's operands and children follow
 * it, and RULE_NEXT() steps over a whole subtree.  Scalars are pushed with
 * the token of their position: WJB_VALUE after a key, WJB_ELEM in an array.
 */

static void
push_key(JsonbParseState **state, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = unconstify(char *, key);
	v.val.string.len = strlen(key);
	pushJsonbValue(state, WJB_KEY, &v);
}

static JsonbValue *
push_string(JsonbParseState **state, JsonbIteratorToken token,
			const char *s, size_t len)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = unconstify(char *, s);
	v.val.string.len = len;
	return pushJsonbValue(state, token, &v);
}

static JsonbValue *
push_bool(JsonbParseState **state, JsonbIteratorToken token, bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	return pushJsonbValue(state, token, &v);
}

static void
push_amount(JsonbParseState **state, JsonbIteratorToken token, uint32 amount)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(amount);
	pushJsonbValue(state, token, &v);
}

/*
 * A number literal becomes a JSON number through numeric, whose output
 * spells it the same way again (digits, sign and scale are kept), so the
 * round trip gives back the same text.
 */
static void
push_number(JsonbParseState **state, JsonbIteratorToken token, const char *text)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
														CStringGetDatum(text),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
	pushJsonbValue(state, token, &v);
}

/* "amount" and "unit" of an AGO, FROM_NOW or DURATION value item. */
static void
push_duration(JsonbParseState **state, const RuleItem *value)
{
	const char *unit = rule_unit_name((RuleUnit) value->arg, false);

	push_key(state, "amount");
	push_amount(state, WJB_VALUE, value->a);
	push_key(state, "unit");
	push_string(state, WJB_VALUE, unit, strlen(unit));
}

static void
push_time(JsonbParseState **state, const RuleItem *value)
{
	const char *name = time_name((RuleValueKind) value->op);

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_key(state, "time");
	push_string(state, WJB_VALUE, name, strlen(name));
	if (value->op != RV_NOW)
		push_duration(state, value);
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

static void
push_value(JsonbParseState **state, JsonbIteratorToken token,
		   const RuleBody *body, const RuleItem *value)
{
	switch ((RuleValueKind) value->op)
	{
		case RV_STRING:
			push_string(state, token, RULE_STR(body, value->a), value->b);
			break;
		case RV_NUMBER:
			push_number(state, token, RULE_STR(body, value->a));
			break;
		case RV_TRUE:
		case RV_FALSE:
			push_bool(state, token, value->op == RV_TRUE);
			break;
		case RV_NOW:
		case RV_AGO:
		case RV_FROM_NOW:
			push_time(state, value);
			break;
		case RV_DURATION:

			/*
			 * The encoder admits a duration only as the operand of within
			 * last/next, which push_operands() writes as amount and unit.
			 */
			elog(ERROR, "unexpected duration value in rule");
	}
}

/* The n operands starting at first, under the keys of their test or window. */
static void
push_operands(JsonbParseState **state, OperandKeys keys,
			  const RuleBody *body, const RuleItem *first, int n)
{
	const RuleItem *value = first;
	int			i;

	switch (keys)
	{
		case OPERANDS_NONE:
			break;
		case OPERANDS_VALUE:
			push_key(state, "value");
			push_value(state, WJB_VALUE, body, first);
			break;
		case OPERANDS_VALUES:
			push_key(state, "values");
			pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
			for (i = 0; i < n; i++)
			{
				push_value(state, WJB_ELEM, body, value);
				value = RULE_NEXT(value);
			}
			pushJsonbValue(state, WJB_END_ARRAY, NULL);
			break;
		case OPERANDS_DURATION:
			push_duration(state, first);
			break;
	}
}

static JsonbValue *push_node(JsonbParseState **state, JsonbIteratorToken token,
							 const RuleBody *body, const RuleItem *item);

static JsonbValue *
push_and_or(JsonbParseState **state, const RuleBody *body, const RuleItem *item)
{
	const RuleItem *child = item + 1;
	uint32		i;

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_key(state, item->type == RI_AND ? "and" : "or");
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < item->a; i++)
	{
		push_node(state, WJB_ELEM, body, child);
		child = RULE_NEXT(child);
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

static JsonbValue *
push_not(JsonbParseState **state, const RuleBody *body, const RuleItem *item)
{
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_key(state, "not");
	push_node(state, WJB_VALUE, body, item + 1);
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

static JsonbValue *
push_field(JsonbParseState **state, const RuleBody *body, const RuleItem *item)
{
	const char *component = RULE_STR(body, item->a);
	const char *op = rule_test_op_name((RuleTestOp) item->op,
									   (item->flags & RULE_NEGATED) != 0);
	int			min,
				max;
	uint32		i;

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);

	/* the path components are consecutive strings in the pool */
	push_key(state, "field");
	pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
	for (i = 0; i < item->b; i++)
	{
		size_t		len = strlen(component);

		push_string(state, WJB_ELEM, component, len);
		component += len + 1;
	}
	pushJsonbValue(state, WJB_END_ARRAY, NULL);

	push_key(state, "op");
	push_string(state, WJB_VALUE, op, strlen(op));
	push_operands(state, test_operand_keys((RuleTestOp) item->op, &min, &max),
				  body, item + 1, item->span - 1);
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * "window": {"op": window, operands} of an event or list condition, its
 * operands from operand to the item's end; nothing for ever (stored as
 * ever or 0).
 */
static void
push_window(JsonbParseState **state, const RuleBody *body, const RuleItem *item,
			const RuleItem *operand)
{
	const char *window;
	int			min,
				max;

	if (item->arg == 0 || item->arg == RW_EVER)
		return;
	window = rule_window_name((RuleWindow) item->arg);
	push_key(state, "window");
	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_key(state, "op");
	push_string(state, WJB_VALUE, window, strlen(window));
	push_operands(state,
				  window_operand_keys((RuleWindow) item->arg, &min, &max),
				  body, operand, RULE_NEXT(item) - operand);
	pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * The encoder stores an event's default count and window as count >= 1 and
 * ever, whether the rule spelled them or not; those are left out, so the
 * JSON shows only what changes the meaning.
 */
static JsonbValue *
push_event(JsonbParseState **state, const RuleBody *body, const RuleItem *item)
{
	const char *kind = RULE_STR(body, item->a);
	const RuleItem *operand = item + 1;

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_key(state, "event");
	push_string(state, WJB_VALUE, kind, strlen(kind));
	if (item->flags & RULE_HAS_SOURCE)
	{
		const char *source = rule_event_source(body, item);

		push_key(state, "source");
		push_string(state, WJB_VALUE, source, strlen(source));
	}

	if (item->flags & RULE_HAS_WHERE)
	{
		push_key(state, "where");
		push_node(state, WJB_VALUE, body, operand);
		operand = RULE_NEXT(operand);
	}

	if (item->flags & RULE_HAS_MEASURE)
	{
		const RuleItem *m = operand;
		const char *name = rule_measure_name((RuleMeasure) m->op);

		if (RM_IS_AGGREGATE(m->op))
		{
			const char *column = RULE_STR(body, m->a);
			const char *op = rule_test_op_name((RuleTestOp) m->arg, false);

			push_key(state, "aggregate");
			pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
			push_key(state, "fn");
			push_string(state, WJB_VALUE, name, strlen(name));
			push_key(state, "column");
			push_string(state, WJB_VALUE, column, strlen(column));
			push_key(state, "op");
			push_string(state, WJB_VALUE, op, strlen(op));
			push_key(state, "value");
			push_value(state, WJB_VALUE, body, m + 1);
			pushJsonbValue(state, WJB_END_OBJECT, NULL);
		}
		else
		{
			push_key(state, "occurrence");
			push_string(state, WJB_VALUE, name, strlen(name));
		}
		operand = RULE_NEXT(m);
	}
	else if (item->op != RT_GE || item->b != 1)
	{
		const char *op = rule_test_op_name((RuleTestOp) item->op, false);

		push_key(state, "count");
		pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_key(state, "op");
		push_string(state, WJB_VALUE, op, strlen(op));
		push_key(state, "value");
		push_amount(state, WJB_VALUE, item->b);
		pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}

	push_window(state, body, item, operand);
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

static JsonbValue *
push_in_list(JsonbParseState **state, const RuleBody *body, const RuleItem *item)
{
	const RuleItem *operand = item + 2;

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_key(state, "in_list");
	push_value(state, WJB_VALUE, body, item + 1);
	if (item->flags & RULE_HAS_WHERE)
	{
		push_key(state, "where");
		push_node(state, WJB_VALUE, body, operand);
		operand = RULE_NEXT(operand);
	}
	push_window(state, body, item, operand);
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

static JsonbValue *
push_in_segment(JsonbParseState **state, const RuleBody *body,
				const RuleItem *item)
{
	const char *name = RULE_STR(body, item->a);

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	push_key(state, "in_segment");
	push_string(state, WJB_VALUE, name, strlen(name));
	if (item->op != 0)
	{
		const char *op = item->op == RT_GE ? "at least" : "less than";

		push_key(state, "for");
		pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
		push_key(state, "op");
		push_string(state, WJB_VALUE, op, strlen(op));
		push_duration(state, item + 1);
		pushJsonbValue(state, WJB_END_OBJECT, NULL);
	}
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * {"sample": percent, "seed": s} or {"bucket": s, "op": comparison,
 * "value": n}
 */
static JsonbValue *
push_bucket(JsonbParseState **state, const RuleBody *body, const RuleItem *item)
{
	const char *seed = RULE_STR(body, item->a);

	pushJsonbValue(state, WJB_BEGIN_OBJECT, NULL);
	if (item->flags & RULE_AS_SAMPLE)
	{
		push_key(state, "sample");
		push_number(state, WJB_VALUE,
					item->b % 100 == 0 ? psprintf("%u", item->b / 100) :
					item->b % 10 == 0 ? psprintf("%u.%u", item->b / 100, item->b % 100 / 10) :
					psprintf("%u.%02u", item->b / 100, item->b % 100));
		push_key(state, "seed");
		push_string(state, WJB_VALUE, seed, strlen(seed));
	}
	else
	{
		const char *op = rule_test_op_name((RuleTestOp) item->op, false);

		push_key(state, "bucket");
		push_string(state, WJB_VALUE, seed, strlen(seed));
		push_key(state, "op");
		push_string(state, WJB_VALUE, op, strlen(op));
		push_key(state, "value");
		push_amount(state, WJB_VALUE, item->b);
	}
	return pushJsonbValue(state, WJB_END_OBJECT, NULL);
}

/*
 * Push the subtree at item.  Returns what pushJsonbValue() returned last,
 * which for the outermost node is the finished JSON value.
 */
static JsonbValue *
push_node(JsonbParseState **state, JsonbIteratorToken token,
		  const RuleBody *body, const RuleItem *item)
{
	check_stack_depth();

	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
			return push_and_or(state, body, item);
		case RI_NOT:
			return push_not(state, body, item);
		case RI_TRUE:
		case RI_FALSE:
			return push_bool(state, token, item->type == RI_TRUE);
		case RI_FIELD:
			return push_field(state, body, item);
		case RI_EVENT:
			return push_event(state, body, item);
		case RI_IN_LIST:
			return push_in_list(state, body, item);
		case RI_IN_SEGMENT:
			return push_in_segment(state, body, item);
		case RI_BUCKET:
			return push_bucket(state, body, item);
		case RI_VALUE:
		case RI_MEASURE:
			break;
	}
	elog(ERROR, "unexpected rule item type %d", (int) item->type);
}

/*
 * Append to path the steps from item (whose subtree holds target) down to
 * the condition holding target: its and/or element, not, where clause.  A
 * value or measure stops at the condition it belongs to.
 */
static void
append_json_path(const RuleBody *body, const RuleItem *item, uint32 target, StringInfo path)
{
	const RuleItem *child;
	uint32		i = 0;

	check_stack_depth();
	if ((uint32) (item - body->items) == target)
		return;
	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
			for (child = item + 1; child < RULE_NEXT(item); child = RULE_NEXT(child), i++)
				if (target < (uint32) (RULE_NEXT(child) - body->items))
				{
					appendStringInfo(path, ".%s[%u]", item->type == RI_AND ? "and" : "or", i);
					append_json_path(body, child, target, path);
					return;
				}
			break;
		case RI_NOT:
			appendStringInfoString(path, ".not");
			append_json_path(body, item + 1, target, path);
			break;
		case RI_EVENT:
		case RI_IN_LIST:
			child = item->type == RI_EVENT ? item + 1 : item + 2;
			if ((item->flags & RULE_HAS_WHERE) && target < (uint32) (RULE_NEXT(child) - body->items))
			{
				appendStringInfoString(path, ".where");
				append_json_path(body, child, target, path);
			}
			break;
		default:
			break;
	}
}

char *
rule_json_path(const RuleBody *body, uint32 index)
{
	StringInfoData path;

	initStringInfo(&path);
	appendStringInfoChar(&path, '$');
	if (index < body->nitems)
		append_json_path(body, body->items, index, &path);
	return path.data;
}

Datum
rule_to_jsonb(PG_FUNCTION_ARGS)
{
	const RuleBody *body = PG_GETARG_RULE_BODY(0);
	const RuleItem *root = body->items;
	JsonbParseState *state = NULL;
	JsonbValue	scalar;
	JsonbValue *result;

	/*
	 * A constant rule is a bare JSON boolean; JsonbValueToJsonb() wraps a
	 * scalar itself, whereas pushJsonbValue() needs an enclosing container.
	 */
	if (root->type == RI_TRUE || root->type == RI_FALSE)
	{
		scalar.type = jbvBool;
		scalar.val.boolean = (root->type == RI_TRUE);
		result = &scalar;
	}
	else
		result = push_node(&state, WJB_VALUE, body, root);

	PG_RETURN_JSONB_P(JsonbValueToJsonb(result));
}


/*
 * Input: jsonb to a rule tree
 *
 * Every element is handled as a JsonbValue: a scalar, or jbvBinary for an
 * array or object still in its on-disk container.
 */

/*
 * Where an element is, for error messages: a chain of steps from the root,
 * kept on the stack and spelled out ($.and[2].where.op) only on error.
 */
typedef struct JsonPos
{
	const struct JsonPos *parent;	/* NULL for the root */
	const char *key;			/* member name, or NULL for an array element */
	int			index;			/* array element number */
} JsonPos;

/*
 * An object being read.  Each key the reader asks for is allowed in it; at
 * the end, a member under any other key is an error.
 */
#define JSON_OBJECT_MAX_KEYS 16

typedef struct JsonObject
{
	JsonbContainer *container;
	const JsonPos *pos;
	int			nallowed;
	const char *allowed[JSON_OBJECT_MAX_KEYS];
	uint32		nfound;			/* members present under allowed keys */
} JsonObject;

/* Keys that make an object a condition; exactly one must be present. */
typedef enum NodeKey
{
	NK_AND,
	NK_OR,
	NK_NOT,
	NK_FIELD,
	NK_EVENT,
	NK_IN_LIST,
	NK_IN_SEGMENT,
	NK_SAMPLE,
	NK_BUCKET
} NodeKey;

static const char *const node_keys[] =
{
	"and", "or", "not", "field", "event", "in_list", "in_segment", "sample", "bucket"
};

#define NUM_NODE_KEYS ((int) lengthof(node_keys))

static void expected_error(const JsonPos *pos, const char *expected,
						   const JsonbValue *found) pg_attribute_noreturn();
static RuleNode *read_node(const JsonbValue *v, const JsonPos *pos, int depth,
						   bool in_where, RuleArena *arena);

static void
append_pos(StringInfo buf, const JsonPos *pos)
{
	if (pos->parent == NULL)
	{
		appendStringInfoChar(buf, '$');
		return;
	}
	append_pos(buf, pos->parent);
	if (pos->key)
		appendStringInfo(buf, ".%s", pos->key);
	else
		appendStringInfo(buf, "[%d]", pos->index);
}

static char *
pos_text(const JsonPos *pos)
{
	StringInfoData buf;

	initStringInfo(&buf);
	append_pos(&buf, pos);
	return buf.data;
}

static bool
is_object(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
is_array(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

/* What a JSON value is, for "found ..." in messages. */
static const char *
json_kind(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return v->val.string.len == 0 ? "an empty string" : "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return v->val.boolean ? "true" : "false";
		case jbvBinary:
			if (JsonContainerIsArray(v->val.binary.data))
				return JsonContainerSize(v->val.binary.data) == 0 ?
					"an empty array" : "an array";
			return JsonContainerSize(v->val.binary.data) == 0 ?
				"an empty object" : "an object";
		default:
			break;
	}
	elog(ERROR, "unexpected jsonb value type %d", (int) v->type);
}

static void
expected_error(const JsonPos *pos, const char *expected, const JsonbValue *found)
{
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("invalid rule JSON at %s: expected %s, found %s",
				   pos_text(pos), expected, json_kind(found)));
}

/* Add a quoted name to a list for a message: "a", "b", "c". */
static void
append_choice(StringInfo buf, const char *name)
{
	if (buf->len > 0)
		appendStringInfoString(buf, ", ");
	appendStringInfo(buf, "\"%s\"", name);
}

/* Does the JSON string v spell keyword, ignoring case? */
static bool
keyword_equals(const JsonbValue *v, const char *keyword)
{
	return strlen(keyword) == (size_t) v->val.string.len &&
		pg_strncasecmp(keyword, v->val.string.val, v->val.string.len) == 0;
}

static void
object_init(JsonObject *obj, const JsonbValue *v, const JsonPos *pos)
{
	Assert(is_object(v));
	obj->container = v->val.binary.data;
	obj->pos = pos;
	obj->nallowed = 0;
	obj->nfound = 0;
}

/* Look up a member without allowing its key (to tell what the object is). */
static bool
object_find(JsonObject *obj, const char *key, JsonbValue *member)
{
	return getKeyJsonValueFromContainer(obj->container, key, strlen(key),
										member) != NULL;
}

/* Look up a member, allowing its key in this object.  Ask once per key. */
static bool
object_get(JsonObject *obj, const char *key, JsonbValue *member)
{
	Assert(obj->nallowed < JSON_OBJECT_MAX_KEYS);
	obj->allowed[obj->nallowed++] = key;
	if (!object_find(obj, key, member))
		return false;
	obj->nfound++;
	return true;
}

/* Look up a member that must be there; detail, if any, says why. */
static void
object_require(JsonObject *obj, const char *key, JsonbValue *member,
			   const char *detail)
{
	if (!object_get(obj, key, member))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid rule JSON at %s: missing key \"%s\"",
					   pos_text(obj->pos), key),
				detail ? errdetail("%s", detail) : 0);
}

static bool
key_allowed(const JsonObject *obj, const JsonbValue *key)
{
	int			i;

	for (i = 0; i < obj->nallowed; i++)
		if (strlen(obj->allowed[i]) == (size_t) key->val.string.len &&
			memcmp(obj->allowed[i], key->val.string.val, key->val.string.len) == 0)
			return true;
	return false;
}

/* Reject a member under a key that no reader asked for. */
static void
object_finish(JsonObject *obj)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	StringInfoData allowed;
	int			i;

	if (obj->nfound == JsonContainerSize(obj->container))
		return;

	initStringInfo(&allowed);
	for (i = 0; i < obj->nallowed; i++)
		append_choice(&allowed, obj->allowed[i]);

	it = JsonbIteratorInit(obj->container);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
		if (token == WJB_KEY && !key_allowed(obj, &v))
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid rule JSON at %s: unexpected key \"%.*s\"",
						   pos_text(obj->pos), v.val.string.len, v.val.string.val),
					errdetail_plural("The key allowed here is %s.",
									 "The keys allowed here are %s.",
									 obj->nallowed, allowed.data));
}

static char *
numeric_text(Numeric n)
{
	return DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

/* A non-empty string: a field name, an event kind or a segment name. */
static const char *
read_name(const JsonbValue *v, const JsonPos *pos, const char *what,
		  RuleArena *arena)
{
	if (v->type != jbvString || v->val.string.len == 0)
		expected_error(pos, psprintf("%s (a non-empty string)", what), v);
	return rule_strndup(arena, v->val.string.val, v->val.string.len);
}

/*
 * A count or time amount: an integer from 0 to RULE_MAX_AMOUNT.  numeric_out
 * writes an integral JSON number (even 1e3) as plain digits; one written
 * with a fraction (3.0) is not taken for an integer.
 */
static uint32
read_amount(const JsonbValue *v, const JsonPos *pos)
{
	const char *text;
	const char *p;
	uint64		amount = 0;

	if (v->type != jbvNumeric)
		expected_error(pos, "an integer", v);

	text = numeric_text(v->val.numeric);
	for (p = (text[0] == '-') ? text + 1 : text; *p; p++)
	{
		if (*p < '0' || *p > '9')
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid rule JSON at %s: expected an integer, found %s",
						   pos_text(pos), text));
		/* stop accumulating once out of range, before uint64 could overflow */
		if (amount <= RULE_MAX_AMOUNT)
			amount = amount * 10 + (*p - '0');
	}
	if (text[0] == '-' || amount > RULE_MAX_AMOUNT)
		ereport(ERROR,
				errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				errmsg("invalid rule JSON at %s: %s is out of range",
					   pos_text(pos), text),
				errdetail("Counts and time amounts are integers from 0 to %u.",
						  RULE_MAX_AMOUNT));
	return (uint32) amount;
}

static RuleUnit
read_unit(const JsonbValue *v, const JsonPos *pos)
{
	StringInfoData choices;
	RuleUnit	unit;

	if (v->type != jbvString)
		expected_error(pos, "a time unit (a string)", v);
	for (unit = RU_MINUTE; unit <= RU_LAST; unit++)
		if (keyword_equals(v, rule_unit_name(unit, false)) ||
			keyword_equals(v, rule_unit_name(unit, true)))
			return unit;

	initStringInfo(&choices);
	for (unit = RU_MINUTE; unit <= RU_LAST; unit++)
		append_choice(&choices, rule_unit_name(unit, false));
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("invalid rule JSON at %s: unknown time unit \"%.*s\"",
				   pos_text(pos), v->val.string.len, v->val.string.val),
			errhint("The units are %s, or their plurals.", choices.data));
}

/*
 * "amount" and "unit" of obj, into an AGO, FROM_NOW or DURATION value.
 * owner names what takes them, for messages: operator "within last".
 */
static void
read_duration(JsonObject *obj, const char *owner, RuleValue *value)
{
	JsonbValue	member;
	JsonPos		amount_pos = {obj->pos, "amount", 0};
	JsonPos		unit_pos = {obj->pos, "unit", 0};
	char	   *detail = psprintf("The %s takes an \"amount\" and a \"unit\".",
								  owner);

	object_require(obj, "amount", &member, detail);
	value->amount = read_amount(&member, &amount_pos);
	object_require(obj, "unit", &member, detail);
	value->unit = read_unit(&member, &unit_pos);
}

static RuleValueKind
read_time_name(const JsonbValue *v, const JsonPos *pos)
{
	StringInfoData choices;
	size_t		i;

	if (v->type != jbvString)
		expected_error(pos, "a time name (a string)", v);
	for (i = 0; i < lengthof(time_names); i++)
		if (keyword_equals(v, time_names[i].name))
			return time_names[i].kind;

	initStringInfo(&choices);
	for (i = 0; i < lengthof(time_names); i++)
		append_choice(&choices, time_names[i].name);
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("invalid rule JSON at %s: unknown time \"%.*s\"",
				   pos_text(pos), v->val.string.len, v->val.string.val),
			errhint("The times are %s.", choices.data));
}

/* {"time": "now"} or {"time": "ago" | "from now", "amount": n, "unit": u} */
static void
read_time(const JsonbValue *v, const JsonPos *pos, RuleValue *value)
{
	JsonObject	obj;
	JsonbValue	member;
	JsonPos		time_pos = {pos, "time", 0};

	object_init(&obj, v, pos);
	object_require(&obj, "time", &member,
				   "A time is written {\"time\": \"now\"}, {\"time\": \"ago\", \"amount\": 90, \"unit\": \"day\"} or {\"time\": \"from now\", \"amount\": 2, \"unit\": \"week\"}.");
	value->kind = read_time_name(&member, &time_pos);
	if (value->kind != RV_NOW)
		read_duration(&obj, psprintf("time \"%s\"", time_name(value->kind)),
					  value);
	object_finish(&obj);
}

/*
 * jsonb holds only finite numbers (to_jsonb() turns NaN and infinities into
 * strings), and numeric_out writes those without an exponent, so the text is
 * always a rule number literal; the check guards that assumption.
 */
static const char *
read_number(Numeric n, RuleArena *arena)
{
	const char *text = numeric_text(n);
	const char *number = rule_normalize_number(arena, text, strlen(text));

	if (number == NULL)
		elog(ERROR, "numeric output \"%s\" is not a rule number", text);
	return number;
}

/* A value: a string, a number, true, false or a time object. */
static void
read_value(const JsonbValue *v, const JsonPos *pos, RuleArena *arena,
		   RuleValue *value)
{
	if (v->type == jbvString)
	{
		value->kind = RV_STRING;
		value->text = rule_strndup(arena, v->val.string.val, v->val.string.len);
	}
	else if (v->type == jbvNumeric)
	{
		value->kind = RV_NUMBER;
		value->text = read_number(v->val.numeric, arena);
	}
	else if (v->type == jbvBool)
		value->kind = v->val.boolean ? RV_TRUE : RV_FALSE;
	else if (is_object(v))
		read_time(v, pos, value);
	else
		expected_error(pos,
					   "a value (a string, a number, true, false or a time object)",
					   v);
}

/* An operand; like and ilike patterns (strings_only) must be strings. */
static void
read_operand(const JsonbValue *v, const JsonPos *pos, bool strings_only,
			 RuleArena *arena, RuleValue *value)
{
	if (strings_only && v->type != jbvString)
		expected_error(pos, "a pattern (a string)", v);
	read_value(v, pos, arena, value);
}

/* "values": an array of min to max values (max -1: no bound). */
static void
read_value_array(const JsonbValue *v, const JsonPos *pos, int min, int max,
				 bool strings_only, RuleArena *arena, RuleNode *node)
{
	int			n;
	int			i;

	if (!is_array(v))
		expected_error(pos, "an array of values", v);
	n = JsonContainerSize(v->val.binary.data);
	if (n < min || (max >= 0 && n > max))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid rule JSON at %s: expected %s, found %s",
					   pos_text(pos),
					   min == max ? psprintf("an array of %d values", min) :
					   psprintf("an array of %d or more values", min),
					   n == 0 ? "an empty array" :
					   psprintf("an array of %d", n)));

	node->nvalues = n;
	node->values = rule_alloc(arena, sizeof(RuleValue) * n);
	for (i = 0; i < n; i++)
	{
		JsonPos		elem_pos = {pos, NULL, i};

		read_operand(getIthJsonbValueFromContainer(v->val.binary.data, i),
					 &elem_pos, strings_only, arena, &node->values[i]);
	}
}

/*
 * The operands of a field test or window, from the members of obj.  owner
 * names what takes them, for messages: operator "in", window "since".
 */
static void
read_operands(JsonObject *obj, const char *owner, OperandKeys keys,
			  int min, int max, bool strings_only, RuleArena *arena,
			  RuleNode *node)
{
	JsonbValue	member;

	switch (keys)
	{
		case OPERANDS_NONE:
			break;
		case OPERANDS_VALUE:
			{
				JsonPos		value_pos = {obj->pos, "value", 0};

				object_require(obj, "value", &member,
							   psprintf("The %s takes one operand, \"value\".",
										owner));
				node->nvalues = 1;
				node->values = rule_alloc(arena, sizeof(RuleValue));
				read_operand(&member, &value_pos, strings_only, arena,
							 &node->values[0]);
				break;
			}
		case OPERANDS_VALUES:
			{
				JsonPos		values_pos = {obj->pos, "values", 0};

				object_require(obj, "values", &member,
							   psprintf("The %s takes an array of operands, \"values\".",
										owner));
				read_value_array(&member, &values_pos, min, max, strings_only,
								 arena, node);
				break;
			}
		case OPERANDS_DURATION:
			node->nvalues = 1;
			node->values = rule_alloc(arena, sizeof(RuleValue));
			node->values[0].kind = RV_DURATION;
			read_duration(obj, owner, &node->values[0]);
			break;
	}
}

/* A test operator name, or "<>"; false if v spells none. */
static bool
lookup_test_op(const JsonbValue *v, RuleTestOp *op, bool *negated)
{
	RuleTestOp	o;

	if (keyword_equals(v, "<>"))
	{
		*op = RT_NE;
		*negated = false;
		return true;
	}
	/* the plain form first: the negated name of a comparison is its own */
	for (o = RT_EQ; o <= RT_LAST; o++)
	{
		if (keyword_equals(v, rule_test_op_name(o, false)))
		{
			*op = o;
			*negated = false;
			return true;
		}
		if (keyword_equals(v, rule_test_op_name(o, true)))
		{
			*op = o;
			*negated = true;
			return true;
		}
	}
	return false;
}

static void
read_test_op(const JsonbValue *v, const JsonPos *pos, RuleNode *node)
{
	StringInfoData choices;
	RuleTestOp	op;

	if (v->type != jbvString)
		expected_error(pos, "an operator (a string)", v);
	if (lookup_test_op(v, &node->op, &node->negated))
		return;

	initStringInfo(&choices);
	for (op = RT_EQ; op <= RT_LAST; op++)
	{
		const char *plain = rule_test_op_name(op, false);
		const char *negated = rule_test_op_name(op, true);

		append_choice(&choices, plain);
		if (strcmp(plain, negated) != 0)
			append_choice(&choices, negated);
	}
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("invalid rule JSON at %s: unknown operator \"%.*s\"",
				   pos_text(pos), v->val.string.len, v->val.string.val),
			errhint("The operators are %s; \"<>\" is also accepted for \"!=\".",
					choices.data));
}

/* "field": a path as an array of names, or one name as a string. */
static void
read_field_path(const JsonbValue *v, const JsonPos *pos, RuleArena *arena,
				RuleNode *node)
{
	int			i;

	if (v->type == jbvString)
	{
		node->npath = 1;
		node->path = rule_alloc(arena, sizeof(char *));
		node->path[0] = read_name(v, pos, "a field name", arena);
		return;
	}
	if (!is_array(v) || JsonContainerSize(v->val.binary.data) == 0)
		expected_error(pos, "a field name or a non-empty array of field names", v);

	node->npath = JsonContainerSize(v->val.binary.data);
	if (node->npath > RULE_MAX_PATH)
		ereport(ERROR,
				errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				errmsg("invalid rule JSON at %s: field path has %d components",
					   pos_text(pos), node->npath),
				errdetail("A field path may have at most %d components.",
						  RULE_MAX_PATH));

	node->path = rule_alloc(arena, sizeof(char *) * node->npath);
	for (i = 0; i < node->npath; i++)
	{
		JsonPos		elem_pos = {pos, NULL, i};

		node->path[i] = read_name(getIthJsonbValueFromContainer(v->val.binary.data, i),
								  &elem_pos, "a field name", arena);
	}
}

/* {"field": path, "op": op, operands} */
static RuleNode *
read_field(JsonObject *obj, const JsonbValue *field, const JsonPos *field_pos,
		   RuleArena *arena)
{
	RuleNode   *node = rule_node_new(arena, RN_FIELD);
	JsonbValue	member;
	JsonPos		op_pos = {obj->pos, "op", 0};
	OperandKeys keys;
	int			min,
				max;

	read_field_path(field, field_pos, arena, node);
	object_require(obj, "op", &member, NULL);
	read_test_op(&member, &op_pos, node);
	keys = test_operand_keys(node->op, &min, &max);
	read_operands(obj,
				  psprintf("operator \"%s\"",
						   rule_test_op_name(node->op, node->negated)),
				  keys, min, max, node->op == RT_LIKE || node->op == RT_ILIKE,
				  arena, node);
	return node;
}

/* "count": {"op": comparison, "value": n} */
static void
read_count(const JsonbValue *v, const JsonPos *pos, RuleNode *node)
{
	JsonObject	obj;
	JsonbValue	member;
	JsonPos		op_pos = {pos, "op", 0};
	JsonPos		value_pos = {pos, "value", 0};
	bool		negated;

	if (!is_object(v))
		expected_error(pos, "a count object such as {\"op\": \">=\", \"value\": 3}", v);
	object_init(&obj, v, pos);

	object_require(&obj, "op", &member, NULL);
	if (member.type != jbvString)
		expected_error(&op_pos, "a comparison operator (a string)", &member);
	if (!lookup_test_op(&member, &node->count_op, &negated) ||
		!RT_IS_COMPARISON(node->count_op))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid rule JSON at %s: expected a comparison operator, found \"%.*s\"",
					   pos_text(&op_pos), member.val.string.len, member.val.string.val),
				errhint("An event count is compared with \"=\", \"!=\", \"<\", \"<=\", \">\" or \">=\"."));

	object_require(&obj, "value", &member, NULL);
	node->count = read_amount(&member, &value_pos);
	object_finish(&obj);
}

static RuleWindow
read_window_name(const JsonbValue *v, const JsonPos *pos)
{
	StringInfoData choices;
	RuleWindow	window;

	if (v->type != jbvString)
		expected_error(pos, "a window name (a string)", v);
	for (window = RW_EVER; window <= RW_LAST; window++)
		if (keyword_equals(v, rule_window_name(window)))
			return window;

	initStringInfo(&choices);
	for (window = RW_EVER; window <= RW_LAST; window++)
		append_choice(&choices, rule_window_name(window));
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("invalid rule JSON at %s: unknown window \"%.*s\"",
				   pos_text(pos), v->val.string.len, v->val.string.val),
			errhint("The windows are %s.", choices.data));
}

/* "window": {"op": window, operands} */
static void
read_window(const JsonbValue *v, const JsonPos *pos, RuleArena *arena,
			RuleNode *node)
{
	JsonObject	obj;
	JsonbValue	member;
	JsonPos		op_pos = {pos, "op", 0};
	int			min,
				max;
	OperandKeys keys;

	if (!is_object(v))
		expected_error(pos, "a window object such as {\"op\": \"within last\", \"amount\": 30, \"unit\": \"day\"}", v);
	object_init(&obj, v, pos);
	object_require(&obj, "op", &member, NULL);
	node->window = read_window_name(&member, &op_pos);
	keys = window_operand_keys(node->window, &min, &max);
	read_operands(&obj,
				  psprintf("window \"%s\"", rule_window_name(node->window)),
				  keys, min, max, false, arena, node);
	object_finish(&obj);
}

/* "aggregate": {"fn": sum | avg | min | max | count_distinct, "column": name, "op": comparison, "value": v} */
static void
read_aggregate(const JsonbValue *v, const JsonPos *pos, RuleArena *arena, RuleNode *node)
{
	JsonObject	obj;
	JsonbValue	member;
	JsonPos		fn_pos = {pos, "fn", 0};
	JsonPos		column_pos = {pos, "column", 0};
	JsonPos		op_pos = {pos, "op", 0};
	JsonPos		value_pos = {pos, "value", 0};
	RuleMeasure measure;
	bool		negated;

	if (!is_object(v))
		expected_error(pos, "an aggregate object such as {\"fn\": \"sum\", \"column\": \"amount\", \"op\": \">=\", \"value\": 500}", v);
	object_init(&obj, v, pos);

	object_require(&obj, "fn", &member, NULL);
	if (member.type != jbvString)
		expected_error(&fn_pos, "an aggregate function name (a string)", &member);
	for (measure = RM_COUNT_DISTINCT; RM_IS_AGGREGATE(measure); measure++)
		if (keyword_equals(&member, rule_measure_name(measure)))
			break;
	if (!RM_IS_AGGREGATE(measure))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid rule JSON at %s: unknown aggregate \"%.*s\"",
					   pos_text(&fn_pos), member.val.string.len, member.val.string.val),
				errhint("The aggregates are \"sum\", \"avg\", \"min\", \"max\" and \"count_distinct\"."));
	node->measure = measure;

	object_require(&obj, "column", &member, NULL);
	node->measure_column = read_name(&member, &column_pos, "an event column", arena);

	object_require(&obj, "op", &member, NULL);
	if (member.type != jbvString)
		expected_error(&op_pos, "a comparison operator (a string)", &member);
	if (!lookup_test_op(&member, &node->measure_op, &negated) ||
		!RT_IS_COMPARISON(node->measure_op))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid rule JSON at %s: expected a comparison operator, found \"%.*s\"",
					   pos_text(&op_pos), member.val.string.len, member.val.string.val),
				errhint("An aggregate is compared with \"=\", \"!=\", \"<\", \"<=\", \">\" or \">=\"."));

	object_require(&obj, "value", &member, NULL);
	read_operand(&member, &value_pos, false, arena, &node->measure_value);
	object_finish(&obj);
}

/* "occurrence": "first" or "last" */
static void
read_occurrence(const JsonbValue *v, const JsonPos *pos, RuleNode *node)
{
	if (v->type == jbvString && keyword_equals(v, "first"))
		node->measure = RM_FIRST;
	else if (v->type == jbvString && keyword_equals(v, "last"))
		node->measure = RM_LAST;
	else
		expected_error(pos, "\"first\" or \"last\"", v);
}

/*
 * {"event": kind [, "source": name] [, "where": node] [, "count": {...} |
 * "aggregate": {...} | "occurrence": ...] [, "window": {...}]}
 */
static RuleNode *
read_event(JsonObject *obj, const JsonbValue *event, const JsonPos *event_pos,
		   int depth, RuleArena *arena)
{
	RuleNode   *node = rule_node_new(arena, RN_EVENT);
	JsonbValue	member;
	JsonPos		where_pos = {obj->pos, "where", 0};
	JsonPos		count_pos = {obj->pos, "count", 0};
	JsonPos		aggregate_pos = {obj->pos, "aggregate", 0};
	JsonPos		occurrence_pos = {obj->pos, "occurrence", 0};
	JsonPos		window_pos = {obj->pos, "window", 0};
	JsonPos		source_pos = {obj->pos, "source", 0};

	node->name = read_name(event, event_pos, "an event kind", arena);
	if (object_get(obj, "source", &member))
		node->source = read_name(&member, &source_pos, "an event source", arena);
	if (object_get(obj, "where", &member))
		node->where = read_node(&member, &where_pos, depth + 1, true, arena);
	if (object_get(obj, "count", &member))
		read_count(&member, &count_pos, node);
	if (object_get(obj, "aggregate", &member))
	{
		if (node->count_op)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid rule JSON at %s: an event has a count or an aggregate, not both",
						   pos_text(&aggregate_pos)));
		read_aggregate(&member, &aggregate_pos, arena, node);
	}
	if (object_get(obj, "occurrence", &member))
	{
		if (node->count_op || node->measure)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid rule JSON at %s: an event has a count, an aggregate or an occurrence, one of them",
						   pos_text(&occurrence_pos)));
		read_occurrence(&member, &occurrence_pos, node);
	}
	if (object_get(obj, "window", &member))
		read_window(&member, &window_pos, arena, node);
	return node;
}

/* {"and": [node, ...]} or {"or": [node, ...]} */
static RuleNode *
read_and_or(RuleNodeType type, const JsonbValue *v, const JsonPos *pos,
			int depth, bool in_where, RuleArena *arena)
{
	RuleNode   *node = rule_node_new(arena, type);
	int			i;

	if (!is_array(v) || JsonContainerSize(v->val.binary.data) == 0)
		expected_error(pos, "a non-empty array of conditions", v);

	node->nargs = JsonContainerSize(v->val.binary.data);
	node->args = rule_alloc(arena, sizeof(RuleNode *) * node->nargs);
	for (i = 0; i < node->nargs; i++)
	{
		JsonPos		elem_pos = {pos, NULL, i};

		node->args[i] = read_node(getIthJsonbValueFromContainer(v->val.binary.data, i),
								  &elem_pos, depth + 1, in_where, arena);
	}
	return node;
}

static RuleNode *
read_not(const JsonbValue *v, const JsonPos *pos, int depth, bool in_where,
		 RuleArena *arena)
{
	RuleNode   *node = rule_node_new(arena, RN_NOT);

	node->nargs = 1;
	node->args = rule_alloc(arena, sizeof(RuleNode *));
	node->args[0] = read_node(v, pos, depth + 1, in_where, arena);
	return node;
}

/* {"in_list": value [, "where": node] [, "window": {...}]} */
static RuleNode *
read_in_list(JsonObject *obj, const JsonbValue *v, const JsonPos *pos, int depth,
			 RuleArena *arena)
{
	RuleNode   *node = rule_node_new(arena, RN_IN_LIST);
	JsonbValue	member;
	JsonPos		where_pos = {obj->pos, "where", 0};
	JsonPos		window_pos = {obj->pos, "window", 0};

	read_value(v, pos, arena, &node->list);
	if (object_get(obj, "where", &member))
		node->where = read_node(&member, &where_pos, depth + 1, true, arena);
	if (object_get(obj, "window", &member))
		read_window(&member, &window_pos, arena, node);
	return node;
}

/* {"in_segment": name [, "for": {"op": "at least" | "less than", "amount": n, "unit": u}]} */
static RuleNode *
read_in_segment(JsonObject *obj, const JsonbValue *v, const JsonPos *pos, RuleArena *arena)
{
	RuleNode   *node = rule_node_new(arena, RN_IN_SEGMENT);
	JsonbValue	member;
	JsonPos		for_pos = {obj->pos, "for", 0};

	node->name = read_name(v, pos, "a segment name", arena);
	if (object_get(obj, "for", &member))
	{
		JsonObject	duration;
		JsonPos		op_pos = {&for_pos, "op", 0};

		if (!is_object(&member))
			expected_error(&for_pos, "a time in segment such as {\"op\": \"at least\", \"amount\": 30, \"unit\": \"day\"}", &member);
		object_init(&duration, &member, &for_pos);
		object_require(&duration, "op", &member, NULL);
		if (member.type == jbvString && keyword_equals(&member, "at least"))
			node->op = RT_GE;
		else if (member.type == jbvString && keyword_equals(&member, "less than"))
			node->op = RT_LT;
		else
			expected_error(&op_pos, "\"at least\" or \"less than\"", &member);
		node->nvalues = 1;
		node->values = rule_alloc(arena, sizeof(RuleValue));
		node->values[0].kind = RV_DURATION;
		read_duration(&duration, "time in segment", &node->values[0]);
		object_finish(&duration);
	}
	return node;
}

/*
 * {"sample": percent, "seed": s}: the percentage, 0 to 100 in steps of
 * 0.01, as the number of buckets below it.
 */
static RuleNode *
read_sample(JsonObject *obj, const JsonbValue *v, const JsonPos *pos, RuleArena *arena)
{
	RuleNode   *node = rule_node_new(arena, RN_BUCKET);
	JsonbValue	member;
	JsonPos		seed_pos = {obj->pos, "seed", 0};
	const char *text;
	const char *c;
	uint32		whole = 0,
				hundredths = 0;
	int			decimals = 0;
	bool		valid = true;

	if (v->type != jbvNumeric)
		expected_error(pos, "a percentage (a number from 0 to 100)", v);
	/* numeric_out: digits, a point and digits; beyond 0.01 only zeros */
	text = numeric_text(v->val.numeric);
	for (c = text; *c >= '0' && *c <= '9' && whole <= 100; c++)
		whole = whole * 10 + (uint32) (*c - '0');
	if (*c == '.')
		for (c++; *c >= '0' && *c <= '9'; c++, decimals++)
		{
			if (decimals < 2)
				hundredths = hundredths * 10 + (uint32) (*c - '0');
			else
				valid &= *c == '0';
		}
	if (decimals == 1)
		hundredths *= 10;
	if (*c != '\0' || !valid || whole > 100 || whole * 100 + hundredths > RULE_BUCKETS)
		ereport(ERROR,
				errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				errmsg("invalid rule JSON at %s: %s is not a sample percentage",
					   pos_text(pos), text),
				errdetail("A sample is from 0%% to 100%%, in steps of 0.01%%."));
	node->as_sample = true;
	node->op = RT_LT;
	node->count = whole * 100 + hundredths;
	object_require(obj, "seed", &member, "A sample takes a \"seed\": the same seed picks the same contacts.");
	if (member.type != jbvString)
		expected_error(&seed_pos, "a seed (a string)", &member);
	node->name = rule_strndup(arena, member.val.string.val, member.val.string.len);
	return node;
}

/* {"bucket": seed, "op": comparison, "value": n} */
static RuleNode *
read_bucket(JsonObject *obj, const JsonbValue *v, const JsonPos *pos, RuleArena *arena)
{
	RuleNode   *node = rule_node_new(arena, RN_BUCKET);
	JsonbValue	member;
	JsonPos		op_pos = {obj->pos, "op", 0};
	JsonPos		value_pos = {obj->pos, "value", 0};
	bool		negated;

	if (v->type != jbvString)
		expected_error(pos, "a seed (a string)", v);
	node->name = rule_strndup(arena, v->val.string.val, v->val.string.len);
	object_require(obj, "op", &member, NULL);
	if (member.type != jbvString)
		expected_error(&op_pos, "a comparison operator (a string)", &member);
	if (!lookup_test_op(&member, &node->op, &negated) || !RT_IS_COMPARISON(node->op))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid rule JSON at %s: expected a comparison operator, found \"%.*s\"",
					   pos_text(&op_pos), member.val.string.len, member.val.string.val),
				errhint("A bucket is compared with \"=\", \"!=\", \"<\", \"<=\", \">\" or \">=\"."));
	object_require(obj, "value", &member, NULL);
	node->count = read_amount(&member, &value_pos);
	if (node->count > RULE_BUCKETS)
		ereport(ERROR,
				errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				errmsg("invalid rule JSON at %s: %u is out of range", pos_text(&value_pos), node->count),
				errdetail("A contact's bucket is from 0 to %d.", RULE_BUCKETS - 1));
	return node;
}

/* The node keys, listed for a message. */
static char *
node_key_choices(void)
{
	StringInfoData choices;
	int			key;

	initStringInfo(&choices);
	for (key = 0; key < NUM_NODE_KEYS; key++)
		append_choice(&choices, node_keys[key]);
	return choices.data;
}

/* Which condition an object is: it must have exactly one node key. */
static NodeKey
find_node_key(JsonObject *obj)
{
	JsonbValue	member;
	int			found = -1;
	int			key;

	for (key = 0; key < NUM_NODE_KEYS; key++)
	{
		if (!object_find(obj, node_keys[key], &member))
			continue;
		if (found >= 0)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("invalid rule JSON at %s: expected one condition, found both \"%s\" and \"%s\"",
						   pos_text(obj->pos), node_keys[found], node_keys[key]),
					errhint("A condition object has exactly one of the keys %s; combine conditions with \"and\" or \"or\".",
							node_key_choices()));
		found = key;
	}
	if (found < 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid rule JSON at %s: expected a condition, found %s",
					   pos_text(obj->pos),
					   JsonContainerSize(obj->container) == 0 ? "an empty object" :
					   "an object without a condition key"),
				errhint("A condition object has exactly one of the keys %s.",
						node_key_choices()));
	return (NodeKey) found;
}

/*
 * A condition: true, false or an object with one node key.  depth counts
 * the conditions above, as the encoder does; stopping at its limit keeps a
 * hostile document from recursing further (the encoder then checks the
 * exact nesting of the normalized rule).
 */
static RuleNode *
read_node(const JsonbValue *v, const JsonPos *pos, int depth, bool in_where,
		  RuleArena *arena)
{
	JsonObject	obj;
	NodeKey		key;
	JsonbValue	member;
	JsonPos		member_pos;
	RuleNode   *node = NULL;	/* keep compiler quiet */

	check_stack_depth();
	if (depth > RULE_MAX_TREE_DEPTH)
		ereport(ERROR,
				errcode(ERRCODE_STATEMENT_TOO_COMPLEX),
				errmsg("rule is nested too deeply"),
				errdetail("A condition in rule JSON may be inside at most %d others.",
						  RULE_MAX_TREE_DEPTH));

	if (v->type == jbvBool)
		return rule_node_new(arena, v->val.boolean ? RN_TRUE : RN_FALSE);
	if (!is_object(v))
		expected_error(pos, "a condition (true, false or an object)", v);

	object_init(&obj, v, pos);
	key = find_node_key(&obj);
	if (in_where && key >= NK_EVENT)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid rule JSON at %s: event, list, segment and sample conditions cannot appear inside where",
					   pos_text(pos)),
				errdetail("The conditions of a where clause test the columns of the event or list row itself."));

	object_get(&obj, node_keys[key], &member);
	member_pos.parent = pos;
	member_pos.key = node_keys[key];
	member_pos.index = 0;

	switch (key)
	{
		case NK_AND:
			node = read_and_or(RN_AND, &member, &member_pos, depth, in_where, arena);
			break;
		case NK_OR:
			node = read_and_or(RN_OR, &member, &member_pos, depth, in_where, arena);
			break;
		case NK_NOT:
			node = read_not(&member, &member_pos, depth, in_where, arena);
			break;
		case NK_FIELD:
			node = read_field(&obj, &member, &member_pos, arena);
			break;
		case NK_EVENT:
			node = read_event(&obj, &member, &member_pos, depth, arena);
			break;
		case NK_IN_LIST:
			node = read_in_list(&obj, &member, &member_pos, depth, arena);
			break;
		case NK_IN_SEGMENT:
			node = read_in_segment(&obj, &member, &member_pos, arena);
			break;
		case NK_SAMPLE:
			node = read_sample(&obj, &member, &member_pos, arena);
			break;
		case NK_BUCKET:
			node = read_bucket(&obj, &member, &member_pos, arena);
			break;
	}
	object_finish(&obj);
	return node;
}

Datum
rule_from_jsonb(PG_FUNCTION_ARGS)
{
	Jsonb	   *jb = PG_GETARG_JSONB_P(0);
	JsonPos		root_pos = {NULL, NULL, 0};
	JsonbValue	root;
	RuleArena	arena;

	/* a top-level true or false is stored as a one-element scalar array */
	if (!JsonbExtractScalar(&jb->root, &root))
		JsonbToJsonbValue(jb, &root);

	rule_arena_init(&arena);
	PG_RETURN_DATUM(rule_datum_from_tree(read_node(&root, &root_pos, 0, false,
												   &arena),
										 &arena));
}
