/*
 * rule_encode.c
 *	  Check a rule tree and write its stored flat form.
 *
 * Every way of making a rule (text, JSON, binary receive) ends here, so the
 * rules a rule must follow are checked once: operand kinds per test, event
 * counts and windows, no event, list or segment condition inside where,
 * nesting and size limits.  The tree is normalized on the way so that one
 * meaning has one stored form, which makes equality a byte comparison:
 * nested and/or are flattened and an event's default count (>= 1) and
 * window (ever) are dropped.
 */
#include "rule_tree.h"

#include <stdlib.h>
#include <string.h>

typedef struct EncodeState
{
	RuleArena  *arena;
	RuleError  *err;
	size_t		nitems;
	size_t		poolsize;
	/* emit pass */
	RuleItem   *items;
	size_t		nextitem;
	char	   *pool;
	size_t		nextpool;
} EncodeState;

static bool
invalid(EncodeState *st, const char *message, const char *detail)
{
	rule_error(st->err, RULE_ERR_INVALID, -1, message, "%s", detail ? detail : "");
	return false;
}

static bool
count_item(EncodeState *st)
{
	if (++st->nitems > RULE_MAX_ITEMS)
	{
		rule_error(st->err, RULE_ERR_TOO_BIG, -1, "rule is too large",
				   "A rule may hold at most %d conditions, operators and values.",
				   RULE_MAX_ITEMS);
		return false;
	}
	return true;
}

static bool
count_string(EncodeState *st, const char *s)
{
	st->poolsize += strlen(s) + 1;
	if (st->poolsize > RULE_MAX_BYTES)
	{
		rule_error(st->err, RULE_ERR_TOO_BIG, -1, "rule is too large",
				   "A rule may take at most %d bytes.", RULE_MAX_BYTES);
		return false;
	}
	return true;
}

/* An and/or of one element stands for that element. */
static const RuleNode *
unwrap(const RuleNode *node)
{
	while ((node->type == RN_AND || node->type == RN_OR) && node->nargs == 1)
		node = node->args[0];
	return node;
}

/* Children of an and/or, with nested ones of the same type inlined. */
static void
flatten(const RuleNode *node, RuleNodeType type, const RuleNode **out, int *n,
		bool store)
{
	int			i;

	rule_check_stack();
	for (i = 0; i < node->nargs; i++)
	{
		const RuleNode *child = unwrap(node->args[i]);

		/* an empty group stays, for normalize() to refuse */
		if (child->type == type && child->nargs > 0)
			flatten(child, type, out, n, store);
		else
		{
			if (store)
				out[*n] = child;
			(*n)++;
		}
	}
}

static bool
check_value(EncodeState *st, RuleValue *value, bool duration)
{
	if (!count_item(st))
		return false;
	if ((value->kind == RV_DURATION) != duration)
		return invalid(st, duration ? "expected a time span" : "a time span is not a value",
					   duration ? "\"within last\" and \"within next\" take an amount and a unit, such as 30 days." :
					   "An amount and a unit stand alone only after \"within last\" and \"within next\"; write \"30 days ago\" for a time.");
	switch (value->kind)
	{
		case RV_STRING:
			if (value->text == NULL)
				return invalid(st, "string value without text", NULL);
			return count_string(st, value->text);
		case RV_NUMBER:
			{
				const char *text = value->text;

				if (text == NULL ||
					(value->text = rule_normalize_number(st->arena, text, strlen(text))) == NULL)
					return invalid(st, "invalid number", NULL);
				return count_string(st, value->text);
			}
		case RV_TRUE:
		case RV_FALSE:
		case RV_NOW:
			return true;
		case RV_AGO:
		case RV_FROM_NOW:
		case RV_DURATION:
			if (value->amount > RULE_MAX_AMOUNT)
			{
				rule_error(st->err, RULE_ERR_OUT_OF_RANGE, -1, "time amount out of range",
						   "An amount may be at most %u.", RULE_MAX_AMOUNT);
				return false;
			}
			if (value->unit < RU_MINUTE || value->unit > RU_LAST)
				return invalid(st, "invalid time unit", NULL);
			return true;
	}
	return invalid(st, "invalid value kind", NULL);
}

/*
 * Copy a value array, checking each; the copy holds normalized numbers so
 * the caller's tree is never modified.
 */
static RuleValue *
check_values(EncodeState *st, const RuleValue *values, int n, bool duration)
{
	RuleValue  *copy = rule_alloc(st->arena, sizeof(RuleValue) * (n ? n : 1));
	int			i;

	for (i = 0; i < n; i++)
	{
		copy[i] = values[i];
		if (!check_value(st, &copy[i], duration))
			return NULL;
	}
	return copy;
}

static bool
check_field(EncodeState *st, const RuleNode *node, RuleNode *out)
{
	int			min,
				max,
				i;

	if (node->npath < 1 || node->npath > RULE_MAX_PATH)
	{
		if (node->npath > RULE_MAX_PATH)
		{
			rule_error(st->err, RULE_ERR_TOO_BIG, -1, "field path is too long",
					   "A field path may have at most %d components.", RULE_MAX_PATH);
			return false;
		}
		return invalid(st, "field without a name", NULL);
	}
	for (i = 0; i < node->npath; i++)
	{
		if (node->path[i] == NULL || node->path[i][0] == '\0')
			return invalid(st, "zero-length field name", NULL);
		if (!count_string(st, node->path[i]))
			return false;
	}
	if (node->op < RT_EQ || node->op > RT_LAST)
		return invalid(st, "invalid field test", NULL);
	if (node->negated &&
		(RT_IS_COMPARISON(node->op) || node->op == RT_WITHIN_LAST || node->op == RT_WITHIN_NEXT))
		return invalid(st, "this field test cannot be negated",
					   "Only in, between, is null, contains, starts with, ends with, like and ilike have a \"not\" form.");
	min = rule_operand_count(node->op, &max);
	if (node->nvalues < min || (max >= 0 && node->nvalues > max))
		return invalid(st, "wrong number of operands for a field test", NULL);
	if (node->op == RT_LIKE || node->op == RT_ILIKE)
		for (i = 0; i < node->nvalues; i++)
			if (node->values[i].kind != RV_STRING)
				return invalid(st, "like and ilike take a string pattern", NULL);
	out->values = check_values(st, node->values, node->nvalues,
							   node->op == RT_WITHIN_LAST || node->op == RT_WITHIN_NEXT);
	return out->values != NULL;
}

static bool
check_window(EncodeState *st, const RuleNode *node, RuleNode *out)
{
	int			operands;

	switch ((int) node->window)
	{
		case 0:
		case RW_EVER:
			operands = 0;
			break;
		case RW_WITHIN_LAST:
		case RW_SINCE:
		case RW_BEFORE:
			operands = 1;
			break;
		case RW_BETWEEN:
			operands = 2;
			break;
		default:
			return invalid(st, "invalid window", NULL);
	}
	if (node->nvalues != operands)
		return invalid(st, "wrong number of operands for a window", NULL);
	out->window = node->window == RW_EVER ? 0 : node->window;
	out->values = check_values(st, node->values, node->nvalues,
							   node->window == RW_WITHIN_LAST);
	return out->values != NULL;
}

/* An event's measure, if it has one: the MEASURE item and its value. */
static bool
check_measure(EncodeState *st, const RuleNode *node, RuleNode *out)
{
	if (node->measure == 0)
		return true;
	if (node->measure < RM_COUNT_DISTINCT || node->measure > RM_LAST_MEASURE)
		return invalid(st, "invalid event measure", NULL);
	if (node->count_op != 0)
		return invalid(st, "an event condition compares one measure",
					   "Write a count, an aggregate (sum, avg, min, max, count(distinct ...)), first or last, not two of them.");
	if (!count_item(st))
		return false;
	if (!RM_IS_AGGREGATE(node->measure))
	{
		if (node->window == 0 || node->window == RW_EVER)
			return invalid(st, "first and last take a window",
						   "The window tests the time of the first or last matching event, as in event 'opened' last before 30 days ago.");
		return true;
	}
	if (node->measure_column == NULL || node->measure_column[0] == '\0')
		return invalid(st, "an aggregate needs an event column", NULL);
	if (!count_string(st, node->measure_column))
		return false;
	if (!RT_IS_COMPARISON(node->measure_op))
		return invalid(st, "an aggregate takes a comparison operator", NULL);
	out->measure_value = node->measure_value;
	if (!check_value(st, &out->measure_value, false))
		return false;
	if (node->measure == RM_COUNT_DISTINCT || node->measure == RM_SUM || node->measure == RM_AVG)
	{
		if (out->measure_value.kind != RV_NUMBER)
			return invalid(st, "an aggregate of numbers is compared with a number", NULL);
	}
	if (node->measure == RM_COUNT_DISTINCT)
	{
		const char *text = out->measure_value.text;
		size_t		i;

		for (i = 0; text[i]; i++)
			if (text[i] < '0' || text[i] > '9')
				return invalid(st, "a count is compared with a whole number", NULL);
		if (i > 10 || strtoul(text, NULL, 10) > RULE_MAX_AMOUNT)
		{
			rule_error(st->err, RULE_ERR_OUT_OF_RANGE, -1, "event count out of range",
					   "A count may be at most %u.", RULE_MAX_AMOUNT);
			return false;
		}
	}
	return true;
}

/*
 * Check a node and return its normalized copy, counting items and pool
 * bytes; NULL on error.  depth counts operator nodes above.
 */
static RuleNode *
normalize(EncodeState *st, const RuleNode *node, int depth, bool in_where)
{
	RuleNode   *out;

	rule_check_stack();
	node = unwrap(node);
	if (depth > RULE_MAX_TREE_DEPTH)
	{
		rule_error(st->err, RULE_ERR_TOO_DEEP, -1, "rule is nested too deeply",
				   "The maximum nesting depth is %d.", RULE_MAX_DEPTH);
		return NULL;
	}
	if (!count_item(st))
		return NULL;

	out = rule_node_new(st->arena, node->type);
	*out = *node;
	switch (node->type)
	{
		case RN_AND:
		case RN_OR:
			{
				int			n = 0,
							i;

				if (node->nargs < 1)
				{
					invalid(st, node->type == RN_AND ? "empty and" : "empty or", NULL);
					return NULL;
				}
				flatten(node, node->type, NULL, &n, false);
				out->args = rule_alloc(st->arena, sizeof(RuleNode *) * n);
				out->nargs = 0;
				flatten(node, node->type, (const RuleNode **) out->args, &out->nargs, true);
				for (i = 0; i < n; i++)
					if ((out->args[i] = normalize(st, out->args[i], depth + 1, in_where)) == NULL)
						return NULL;
				return out;
			}
		case RN_NOT:
			if (node->nargs != 1)
			{
				invalid(st, "not takes one condition", NULL);
				return NULL;
			}
			out->args = rule_alloc(st->arena, sizeof(RuleNode *));
			out->args[0] = normalize(st, node->args[0], depth + 1, in_where);
			return out->args[0] ? out : NULL;
		case RN_TRUE:
		case RN_FALSE:
			return out;
		case RN_FIELD:
			return check_field(st, node, out) ? out : NULL;
		case RN_EVENT:
			if (in_where)
				break;
			if (node->name == NULL || node->name[0] == '\0')
			{
				invalid(st, "event kind must not be empty", NULL);
				return NULL;
			}
			if (!count_string(st, node->name))
				return NULL;
			if (node->source != NULL && node->source[0] == '\0')
			{
				invalid(st, "event source must not be empty", NULL);
				return NULL;
			}
			if (node->source != NULL && !count_string(st, node->source))
				return NULL;
			if (node->count_op != 0 && !RT_IS_COMPARISON(node->count_op))
			{
				invalid(st, "an event count takes a comparison operator", NULL);
				return NULL;
			}
			if (node->count > RULE_MAX_AMOUNT)
			{
				rule_error(st->err, RULE_ERR_OUT_OF_RANGE, -1, "event count out of range",
						   "A count may be at most %u.", RULE_MAX_AMOUNT);
				return NULL;
			}
			/* count >= 1 is the default */
			if (node->count_op == 0 || (node->count_op == RT_GE && node->count == 1))
			{
				out->count_op = 0;
				out->count = 0;
			}
			if (!check_window(st, node, out) || !check_measure(st, node, out))
				return NULL;
			if (node->where &&
				(out->where = normalize(st, node->where, depth + 1, true)) == NULL)
				return NULL;
			return out;
		case RN_IN_LIST:
			if (in_where)
				break;
			if (!check_value(st, &out->list, false) || !check_window(st, node, out))
				return NULL;
			if (node->where &&
				(out->where = normalize(st, node->where, depth + 1, true)) == NULL)
				return NULL;
			return out;
		case RN_IN_SEGMENT:
			if (in_where)
				break;
			if (node->name == NULL || node->name[0] == '\0')
			{
				invalid(st, "segment name must not be empty", NULL);
				return NULL;
			}
			if (!count_string(st, node->name))
				return NULL;
			if (node->op == 0 && node->nvalues == 0)
				return out;
			if (node->op != RT_GE && node->op != RT_LT)
			{
				invalid(st, "time in a segment is \"for at least\" or \"for less than\"", NULL);
				return NULL;
			}
			if (node->nvalues != 1)
			{
				invalid(st, "time in a segment takes one duration", NULL);
				return NULL;
			}
			out->values = check_values(st, node->values, 1, true);
			return out->values ? out : NULL;
		case RN_BUCKET:
			if (in_where)
				break;
			if (node->name == NULL)
			{
				invalid(st, "a sample needs a seed", NULL);
				return NULL;
			}
			if (!RT_IS_COMPARISON(node->op))
			{
				invalid(st, "a bucket takes a comparison operator", NULL);
				return NULL;
			}
			if (node->as_sample && node->op != RT_LT)
			{
				invalid(st, "a sample is the buckets below its percentage", NULL);
				return NULL;
			}
			if (node->count > RULE_BUCKETS)
			{
				rule_error(st->err, RULE_ERR_OUT_OF_RANGE, -1,
						   node->as_sample ? "sample percentage out of range" : "bucket out of range",
						   node->as_sample ? "A sample is from 0%% to 100%%, in steps of 0.01%%." :
						   "A contact's bucket is from 0 to %d.", RULE_BUCKETS - 1);
				return NULL;
			}
			return count_string(st, node->name) ? out : NULL;
		default:
			invalid(st, "invalid rule node", NULL);
			return NULL;
	}
	invalid(st, "event, list, segment and sample conditions cannot appear inside where",
			"The conditions of a where clause test the columns of the event or list row itself.");
	return NULL;
}

/*
 * Nesting of the canonical text: parentheses, not and where, as
 * rule_print() writes them and rule_parse() counts them.
 */
static int
printed_nesting(const RuleNode *node)
{
	int			nesting = 0,
				i;

	rule_check_stack();
	switch (node->type)
	{
		case RN_AND:
		case RN_OR:
			for (i = 0; i < node->nargs; i++)
			{
				const RuleNode *child = node->args[i];
				int			n = printed_nesting(child);

				if (node->type == RN_AND && child->type == RN_OR)
					n++;
				if (n > nesting)
					nesting = n;
			}
			return nesting;
		case RN_NOT:
			nesting = 1 + printed_nesting(node->args[0]);
			if (node->args[0]->type == RN_AND || node->args[0]->type == RN_OR)
				nesting++;
			return nesting;
		case RN_EVENT:
		case RN_IN_LIST:
			return node->where ? 1 + printed_nesting(node->where) : 0;
		default:
			return 0;
	}
}

static uint32_t
emit_string(EncodeState *st, const char *s)
{
	size_t		len = strlen(s) + 1;
	uint32_t	offset = (uint32_t) st->nextpool;

	memcpy(st->pool + st->nextpool, s, len);
	st->nextpool += len;
	return offset;
}

static RuleItem *
emit_item(EncodeState *st, RuleItemType type)
{
	RuleItem   *item = &st->items[st->nextitem++];

	item->type = (uint8_t) type;
	return item;
}

static void
emit_values(EncodeState *st, const RuleValue *values, int n)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		RuleItem   *item = emit_item(st, RI_VALUE);

		item->op = (uint8_t) values[i].kind;
		item->span = 1;
		if (values[i].kind == RV_STRING || values[i].kind == RV_NUMBER)
		{
			item->b = (uint32_t) strlen(values[i].text);
			item->a = emit_string(st, values[i].text);
		}
		else if (values[i].kind == RV_AGO || values[i].kind == RV_FROM_NOW ||
				 values[i].kind == RV_DURATION)
		{
			item->a = values[i].amount;
			item->arg = (uint8_t) values[i].unit;
		}
	}
}

static void
emit(EncodeState *st, const RuleNode *node)
{
	size_t		first = st->nextitem;
	RuleItem   *item = emit_item(st, (RuleItemType) node->type);
	int			i;

	rule_check_stack();
	switch (node->type)
	{
		case RN_AND:
		case RN_OR:
			item->a = (uint32_t) node->nargs;
			for (i = 0; i < node->nargs; i++)
				emit(st, node->args[i]);
			break;
		case RN_NOT:
			emit(st, node->args[0]);
			break;
		case RN_TRUE:
		case RN_FALSE:
			break;
		case RN_FIELD:
			item->op = (uint8_t) node->op;
			item->flags = node->negated ? RULE_NEGATED : 0;
			item->b = (uint32_t) node->npath;
			item->a = emit_string(st, node->path[0]);
			for (i = 1; i < node->npath; i++)
				emit_string(st, node->path[i]);
			emit_values(st, node->values, node->nvalues);
			break;
		case RN_EVENT:
			item->a = emit_string(st, node->name);
			/* the source's name right after the kind's (rule_event_source) */
			if (node->source)
			{
				emit_string(st, node->source);
				item->flags |= RULE_HAS_SOURCE;
			}
			item->op = (uint8_t) (node->measure ? 0 : node->count_op ? node->count_op : RT_GE);
			item->b = node->measure ? 0 : node->count_op ? node->count : 1;
			item->arg = (uint8_t) (node->window ? node->window : RW_EVER);
			if (node->where)
			{
				item->flags |= RULE_HAS_WHERE;
				emit(st, node->where);
			}
			if (node->measure)
			{
				size_t		measure = st->nextitem;
				RuleItem   *m = emit_item(st, RI_MEASURE);

				st->items[first].flags |= RULE_HAS_MEASURE;
				m->op = (uint8_t) node->measure;
				if (RM_IS_AGGREGATE(node->measure))
				{
					m->arg = (uint8_t) node->measure_op;
					m->a = emit_string(st, node->measure_column);
					emit_values(st, &node->measure_value, 1);
				}
				st->items[measure].span = (uint32_t) (st->nextitem - measure);
			}
			emit_values(st, node->values, node->nvalues);
			break;
		case RN_IN_LIST:
			/* ever is 0, as release 0.1 stored every list condition */
			item->arg = (uint8_t) node->window;
			emit_values(st, &node->list, 1);
			if (node->where)
			{
				item->flags = RULE_HAS_WHERE;
				emit(st, node->where);
			}
			emit_values(st, node->values, node->nvalues);
			break;
		case RN_IN_SEGMENT:
			item->a = emit_string(st, node->name);
			item->op = (uint8_t) node->op;
			emit_values(st, node->values, node->nvalues);
			break;
		case RN_BUCKET:
			item->a = emit_string(st, node->name);
			item->op = (uint8_t) node->op;
			item->b = node->count;
			item->flags = node->as_sample ? RULE_AS_SAMPLE : 0;
			break;
	}
	/* the span is known once the whole subtree is written */
	st->items[first].span = (uint32_t) (st->nextitem - first);
}

char *
rule_encode(const RuleNode *root, RuleArena *arena, size_t header,
			size_t *len, RuleError *err)
{
	EncodeState st;
	RuleNode   *normal;
	RuleBody   *body;
	size_t		total;
	char	   *result;

	memset(&st, 0, sizeof(st));
	st.arena = arena;
	st.err = err;
	err->kind = RULE_OK;

	if ((normal = normalize(&st, root, 0, false)) == NULL)
		return NULL;
	if (printed_nesting(normal) > RULE_MAX_DEPTH)
	{
		rule_error(err, RULE_ERR_TOO_DEEP, -1, "rule is nested too deeply",
				   "The maximum nesting depth is %d.", RULE_MAX_DEPTH);
		return NULL;
	}

	total = header + RULE_BODY_ITEMS_OFFSET + st.nitems * sizeof(RuleItem) + st.poolsize;
	if (total > RULE_MAX_BYTES)
	{
		rule_error(err, RULE_ERR_TOO_BIG, -1, "rule is too large",
				   "A rule may take at most %d bytes.", RULE_MAX_BYTES);
		return NULL;
	}
	result = rule_alloc(arena, total);
	body = (RuleBody *) (result + header);
	body->version = RULE_FORMAT_VERSION;
	body->nitems = (uint32_t) st.nitems;
	st.items = body->items;
	st.pool = (char *) (body->items + st.nitems);
	emit(&st, normal);
	*len = total;
	return result;
}
