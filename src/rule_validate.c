/*
 * rule_validate.c
 *	  Check that bytes claiming to be a stored rule are safe to walk, and
 *	  rebuild the tree of one that is.
 *
 * Binary receive trusts nothing: every item type, enum, span, child count,
 * operand kind and pool offset is checked before anything walks the items,
 * with recursion bounded by RULE_MAX_TREE_DEPTH.
 */
#include "rule_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct ValidateState
{
	const RuleBody *body;
	size_t		poolsize;
	RuleError  *err;
} ValidateState;

static bool
corrupt(ValidateState *st, const char *fmt,...)
#ifdef __GNUC__
__attribute__((format(printf, 2, 3)))
#endif
;

static bool
corrupt(ValidateState *st, const char *fmt,...)
{
	char		detail[sizeof(st->err->detail)];
	va_list		args;

	va_start(args, fmt);
	vsnprintf(detail, sizeof(detail), fmt, args);
	va_end(args);
	rule_error(st->err, RULE_ERR_CORRUPT, -1, "invalid binary rule", "%s", detail);
	return false;
}

/* A string at a pool offset: terminated inside the pool. */
static bool
valid_string(ValidateState *st, uint32_t offset, uint32_t index, bool nonempty)
{
	const char *pool = RULE_POOL(st->body);

	if (offset >= st->poolsize)
		return corrupt(st, "Item %u refers to pool offset %u outside the string pool.",
					   index, offset);
	if (memchr(pool + offset, '\0', st->poolsize - offset) == NULL)
		return corrupt(st, "Item %u refers to a string at offset %u that is not terminated.",
					   index, offset);
	if (nonempty && pool[offset] == '\0')
		return corrupt(st, "Item %u refers to an empty string at offset %u.", index, offset);
	return true;
}

static bool
valid_value(ValidateState *st, uint32_t index, bool duration, bool string_only)
{
	const RuleItem *item = &st->body->items[index];

	if (item->type != RI_VALUE || item->span != 1)
		return corrupt(st, "Item %u should be a value but has type %u.", index, item->type);
	if (item->op < RV_STRING || item->op > RV_LAST)
		return corrupt(st, "Item %u has an unknown value kind %u.", index, item->op);
	if ((item->op == RV_DURATION) != duration)
		return corrupt(st, "Item %u has value kind %u where it is not allowed.", index, item->op);
	if (string_only && item->op != RV_STRING)
		return corrupt(st, "Item %u should be a string but has value kind %u.", index, item->op);
	switch ((RuleValueKind) item->op)
	{
		case RV_STRING:
		case RV_NUMBER:
			if (!valid_string(st, item->a, index, false))
				return false;
			if (strlen(RULE_STR(st->body, item->a)) != item->b)
				return corrupt(st, "Item %u gives a wrong string length %u.", index, item->b);
			break;
		case RV_AGO:
		case RV_FROM_NOW:
		case RV_DURATION:
			if (item->arg < RU_MINUTE || item->arg > RU_LAST)
				return corrupt(st, "Item %u has an unknown time unit %u.", index, item->arg);
			if (item->a > RULE_MAX_AMOUNT)
				return corrupt(st, "Item %u has an amount %u out of range.", index, item->a);
			break;
		default:
			break;
	}
	return true;
}

static bool
valid_field(ValidateState *st, uint32_t index)
{
	const RuleItem *item = &st->body->items[index];
	RuleTestOp	op = (RuleTestOp) item->op;
	uint32_t	offset = item->a;
	uint32_t	nops = item->span - 1;
	int			min,
				max;
	uint32_t	i;

	if (op < RT_EQ || op > RT_LAST)
		return corrupt(st, "Item %u has an unknown field test %u.", index, op);
	if (item->flags & ~RULE_NEGATED)
		return corrupt(st, "Item %u has unknown flags %u.", index, item->flags);
	if ((item->flags & RULE_NEGATED) &&
		(RT_IS_COMPARISON(op) || op == RT_WITHIN_LAST || op == RT_WITHIN_NEXT))
		return corrupt(st, "Item %u negates field test %u, which has no negated form.", index, op);
	if (item->b < 1 || item->b > RULE_MAX_PATH)
		return corrupt(st, "Item %u has a field path of %u components.", index, item->b);
	for (i = 0; i < item->b; i++)
	{
		if (!valid_string(st, offset, index, true))
			return false;
		offset += (uint32_t) strlen(RULE_STR(st->body, offset)) + 1;
	}
	min = rule_operand_count(op, &max);
	if (nops < (uint32_t) min || (max >= 0 && nops > (uint32_t) max))
		return corrupt(st, "Item %u has %u operands, a wrong number for its test.", index, nops);
	for (i = 1; i <= nops; i++)
		if (!valid_value(st, index + i, op == RT_WITHIN_LAST || op == RT_WITHIN_NEXT,
						 op == RT_LIKE || op == RT_ILIKE))
			return false;
	return true;
}

static bool valid_node(ValidateState *st, uint32_t index, uint32_t end,
					   int depth, bool in_where);

/*
 * The window (RuleWindow, 0 for none) of the event or list condition at
 * index, whose operands are its items from next to its end.
 */
static bool
valid_window(ValidateState *st, uint32_t index, uint8_t window, uint32_t next)
{
	uint32_t	end = index + st->body->items[index].span;
	uint32_t	nops,
				want,
				i;

	switch (window)
	{
		case 0:
		case RW_EVER:
			want = 0;
			break;
		case RW_WITHIN_LAST:
		case RW_SINCE:
		case RW_BEFORE:
			want = 1;
			break;
		case RW_BETWEEN:
			want = 2;
			break;
		default:
			return corrupt(st, "Item %u has an unknown window %u.", index, window);
	}
	nops = end - next;
	if (nops != want)
		return corrupt(st, "Item %u has %u window operands, a wrong number for its window.",
					   index, nops);
	for (i = 0; i < nops; i++)
		if (!valid_value(st, next + i, window == RW_WITHIN_LAST, false))
			return false;
	return true;
}

/*
 * The where clause of the event or list condition at index, at *next
 * (moved past it).
 */
static bool
valid_where(ValidateState *st, uint32_t index, uint32_t *next, int depth)
{
	uint32_t	end = index + st->body->items[index].span;

	if (*next >= end)
		return corrupt(st, "Item %u has a where clause but no items for it (span %u).",
					   index, st->body->items[index].span);
	if (!valid_node(st, *next, end, depth + 1, true))
		return false;
	*next += st->body->items[*next].span;
	return true;
}

/*
 * A list condition: its value, a where clause, a window other than ever
 * (ever is 0, the one form release 0.1 wrote).
 */
static bool
valid_in_list(ValidateState *st, uint32_t index, int depth)
{
	const RuleItem *item = &st->body->items[index];
	uint32_t	next = index + 2;

	if (item->flags & ~RULE_HAS_WHERE)
		return corrupt(st, "Item %u has unknown flags %u.", index, item->flags);
	if (item->op != 0 || item->a != 0 || item->b != 0)
		return corrupt(st, "Item %u has unknown operands.", index);
	if (item->arg == RW_EVER)
		return corrupt(st, "Item %u has the window ever, which a list condition stores as 0.", index);
	if (item->span < 2)
		return corrupt(st, "Item %u has no list value (span %u).", index, item->span);
	if (!valid_value(st, index + 1, false, false))
		return false;
	if ((item->flags & RULE_HAS_WHERE) && !valid_where(st, index, &next, depth))
		return false;
	return valid_window(st, index, item->arg, next);
}

/*
 * A segment condition: its name, and for "for at least" or "for less than"
 * one duration (release 0.1 wrote only the name, with op, arg, b and flags
 * zero).
 */
static bool
valid_in_segment(ValidateState *st, uint32_t index)
{
	const RuleItem *item = &st->body->items[index];

	if (item->flags != 0 || item->arg != 0 || item->b != 0)
		return corrupt(st, "Item %u has unknown flags or operands.", index);
	if (!valid_string(st, item->a, index, true))
		return false;
	if (item->op == 0)
		return item->span == 1 ||
			corrupt(st, "Item %u is a leaf but has span %u.", index, item->span);
	if (item->op != RT_GE && item->op != RT_LT)
		return corrupt(st, "Item %u has an unknown time in segment test %u.", index, item->op);
	if (item->span != 2)
		return corrupt(st, "Item %u should have one duration but has span %u.", index, item->span);
	return valid_value(st, index + 1, true, false);
}

/* A bucket or sample condition: a leaf with its seed and bound. */
static bool
valid_bucket(ValidateState *st, uint32_t index)
{
	const RuleItem *item = &st->body->items[index];

	if (item->span != 1)
		return corrupt(st, "Item %u is a leaf but has span %u.", index, item->span);
	if (item->flags & ~RULE_AS_SAMPLE || item->arg != 0)
		return corrupt(st, "Item %u has unknown flags or operands.", index);
	if (!RT_IS_COMPARISON(item->op))
		return corrupt(st, "Item %u has an unknown bucket comparison %u.", index, item->op);
	if ((item->flags & RULE_AS_SAMPLE) && item->op != RT_LT)
		return corrupt(st, "Item %u is a sample with comparison %u.", index, item->op);
	if (item->b > RULE_BUCKETS)
		return corrupt(st, "Item %u compares a bucket with %u, past %u.", index, item->b, RULE_BUCKETS);
	return valid_string(st, item->a, index, false);
}

static bool
valid_event(ValidateState *st, uint32_t index, int depth)
{
	const RuleItem *item = &st->body->items[index];
	uint32_t	end = index + item->span;
	uint32_t	next = index + 1;

	if (!valid_string(st, item->a, index, true))
		return false;
	if (item->arg == 0)
		return corrupt(st, "Item %u has no window; an event condition stores ever.", index);
	if (item->flags & ~(RULE_HAS_WHERE | RULE_HAS_MEASURE | RULE_HAS_SOURCE))
		return corrupt(st, "Item %u has unknown flags %u.", index, item->flags);
	/* the source's name: the string after the kind's */
	if ((item->flags & RULE_HAS_SOURCE) &&
		!valid_string(st, item->a + (uint32_t) strlen(RULE_STR(st->body, item->a)) + 1, index, true))
		return false;
	if (item->flags & RULE_HAS_MEASURE)
	{
		if (item->op != 0 || item->b != 0)
			return corrupt(st, "Item %u has both a count and a measure.", index);
	}
	else if (!RT_IS_COMPARISON(item->op))
		return corrupt(st, "Item %u has an unknown count comparison %u.", index, item->op);
	if (item->b > RULE_MAX_AMOUNT)
		return corrupt(st, "Item %u has a count %u out of range.", index, item->b);
	if ((item->flags & RULE_HAS_WHERE) && !valid_where(st, index, &next, depth))
		return false;
	if (item->flags & RULE_HAS_MEASURE)
	{
		const RuleItem *m;

		if (next >= end)
			return corrupt(st, "Item %u has a measure but no item for it (span %u).",
						   index, item->span);
		m = &st->body->items[next];
		if (m->type != RI_MEASURE)
			return corrupt(st, "Item %u has type %u where a measure belongs.", next, m->type);
		if (m->op < RM_COUNT_DISTINCT || m->op > RM_LAST_MEASURE)
			return corrupt(st, "Item %u has an unknown measure %u.", next, m->op);
		if (m->flags != 0 || m->b != 0)
			return corrupt(st, "Item %u has unknown flags or operands.", next);
		if (RM_IS_AGGREGATE(m->op))
		{
			if (m->span != 2 || m->span > end - next)
				return corrupt(st, "Item %u should have one value but has span %u.", next, m->span);
			if (!RT_IS_COMPARISON(m->arg))
				return corrupt(st, "Item %u has an unknown comparison %u.", next, m->arg);
			if (!valid_string(st, m->a, next, true) || !valid_value(st, next + 1, false, false))
				return false;
		}
		else
		{
			if (m->span != 1 || m->a != 0 || m->arg != 0)
				return corrupt(st, "Item %u is a leaf but has span %u or operands.", next, m->span);
			if (item->arg == RW_EVER)
				return corrupt(st, "Item %u tests the first or last event without a window.", index);
		}
		next += m->span;
	}
	return valid_window(st, index, item->arg, next);
}

/* Check the subtree at index, which must end exactly at end. */
static bool
valid_node(ValidateState *st, uint32_t index, uint32_t end, int depth, bool in_where)
{
	const RuleItem *item = &st->body->items[index];
	uint32_t	child,
				i;

	rule_check_stack();
	if (depth > RULE_MAX_TREE_DEPTH)
	{
		rule_error(st->err, RULE_ERR_TOO_DEEP, -1, "rule is nested too deeply",
				   "The maximum nesting depth is %d.", RULE_MAX_DEPTH);
		return false;
	}
	if (item->span < 1 || item->span > end - index)
		return corrupt(st, "Item %u has a span %u past the end of its parent.", index, item->span);
	if (in_where &&
		(item->type == RI_EVENT || item->type == RI_IN_LIST || item->type == RI_IN_SEGMENT ||
		 item->type == RI_BUCKET))
		return corrupt(st, "Item %u is an event, list, segment or sample condition inside where (type %u).",
					   index, item->type);

	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
			if (item->a < 2)
				return corrupt(st, "Item %u joins %u conditions; and/or need at least two.",
							   index, item->a);
			child = index + 1;
			for (i = 0; i < item->a; i++)
			{
				if (child >= index + item->span)
					return corrupt(st, "Item %u has fewer children than its count %u.",
								   index, item->a);
				if (!valid_node(st, child, index + item->span, depth + 1, in_where))
					return false;
				child += st->body->items[child].span;
			}
			if (child != index + item->span)
				return corrupt(st, "Item %u has items beyond its %u children.", index, item->a);
			return true;
		case RI_NOT:
			if (item->span < 2)
				return corrupt(st, "Item %u negates nothing (span %u).", index, item->span);
			if (!valid_node(st, index + 1, index + item->span, depth + 1, in_where))
				return false;
			if (1 + st->body->items[index + 1].span != item->span)
				return corrupt(st, "Item %u has items beyond its child (span %u).", index, item->span);
			return true;
		case RI_TRUE:
		case RI_FALSE:
			if (item->span != 1)
				return corrupt(st, "Item %u is a leaf but has span %u.", index, item->span);
			return true;
		case RI_IN_SEGMENT:
			return valid_in_segment(st, index);
		case RI_BUCKET:
			return valid_bucket(st, index);
		case RI_FIELD:
			return valid_field(st, index);
		case RI_EVENT:
			return valid_event(st, index, depth);
		case RI_IN_LIST:
			return valid_in_list(st, index, depth);
		case RI_VALUE:
		case RI_MEASURE:
			break;
	}
	return corrupt(st, "Item %u has type %u where a condition belongs.", index, item->type);
}

bool
rule_validate(const RuleBody *body, size_t len, RuleError *err)
{
	ValidateState st;
	size_t		itemsize;

	st.body = body;
	st.err = err;
	err->kind = RULE_OK;
	if (len < RULE_BODY_ITEMS_OFFSET)
		return corrupt(&st, "The value is %zu bytes long, shorter than a header.", len);
	if (body->version != RULE_FORMAT_VERSION)
		return corrupt(&st, "Format version %u is not supported (this is version %u).",
					   body->version, RULE_FORMAT_VERSION);
	if (body->reserved[0] || body->reserved[1] || body->reserved[2])
		return corrupt(&st, "Reserved header bytes are not zero.");
	if (body->nitems < 1 || body->nitems > RULE_MAX_ITEMS)
		return corrupt(&st, "The rule claims %u items; it must have 1 to %u.",
					   body->nitems, RULE_MAX_ITEMS);
	itemsize = (size_t) body->nitems * sizeof(RuleItem);
	if (len - RULE_BODY_ITEMS_OFFSET < itemsize)
		return corrupt(&st, "The value is %zu bytes long, too short for %u items.",
					   len, body->nitems);
	st.poolsize = len - RULE_BODY_ITEMS_OFFSET - itemsize;
	if (st.poolsize > RULE_MAX_BYTES)
		return corrupt(&st, "The string pool of %zu bytes is larger than the limit %d.",
					   st.poolsize, RULE_MAX_BYTES);
	if (!valid_node(&st, 0, body->nitems, 0, false))
		return false;
	if (body->items[0].span != body->nitems)
		return corrupt(&st, "The root spans %u of %u items.", body->items[0].span, body->nitems);
	return true;
}

static RuleValue *
decode_values(const RuleBody *body, const RuleItem *first, int n, RuleArena *arena)
{
	RuleValue  *values = rule_alloc(arena, sizeof(RuleValue) * (n ? n : 1));
	int			i;

	for (i = 0; i < n; i++)
	{
		const RuleItem *item = first + i;

		values[i].kind = (RuleValueKind) item->op;
		if (item->op == RV_STRING || item->op == RV_NUMBER)
			values[i].text = RULE_STR(body, item->a);
		else
		{
			values[i].amount = item->a;
			values[i].unit = (RuleUnit) item->arg;
		}
	}
	return values;
}

static RuleNode *
decode_node(const RuleBody *body, const RuleItem *item, RuleArena *arena)
{
	RuleNode   *node = rule_node_new(arena, (RuleNodeType) item->type);
	const RuleItem *child;
	uint32_t	offset;
	int			i;

	rule_check_stack();
	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
			node->nargs = (int) item->a;
			node->args = rule_alloc(arena, sizeof(RuleNode *) * item->a);
			child = item + 1;
			for (i = 0; i < node->nargs; i++, child = RULE_NEXT(child))
				node->args[i] = decode_node(body, child, arena);
			break;
		case RI_NOT:
			node->nargs = 1;
			node->args = rule_alloc(arena, sizeof(RuleNode *));
			node->args[0] = decode_node(body, item + 1, arena);
			break;
		case RI_FIELD:
			node->op = (RuleTestOp) item->op;
			node->negated = (item->flags & RULE_NEGATED) != 0;
			node->npath = (int) item->b;
			node->path = rule_alloc(arena, sizeof(char *) * item->b);
			offset = item->a;
			for (i = 0; i < node->npath; i++)
			{
				node->path[i] = RULE_STR(body, offset);
				offset += (uint32_t) strlen(node->path[i]) + 1;
			}
			node->nvalues = (int) item->span - 1;
			node->values = decode_values(body, item + 1, node->nvalues, arena);
			break;
		case RI_EVENT:
			node->name = RULE_STR(body, item->a);
			node->source = rule_event_source(body, item);
			node->count_op = (RuleTestOp) item->op;
			node->count = item->b;
			node->window = (RuleWindow) item->arg;
			child = item + 1;
			if (item->flags & RULE_HAS_WHERE)
			{
				node->where = decode_node(body, child, arena);
				child = RULE_NEXT(child);
			}
			if (item->flags & RULE_HAS_MEASURE)
			{
				node->count_op = 0;
				node->measure = (RuleMeasure) child->op;
				if (RM_IS_AGGREGATE(child->op))
				{
					node->measure_column = RULE_STR(body, child->a);
					node->measure_op = (RuleTestOp) child->arg;
					node->measure_value = decode_values(body, child + 1, 1, arena)[0];
				}
				child = RULE_NEXT(child);
			}
			node->nvalues = (int) (RULE_NEXT(item) - child);
			node->values = decode_values(body, child, node->nvalues, arena);
			break;
		case RI_IN_LIST:
			node->list = decode_values(body, item + 1, 1, arena)[0];
			node->window = (RuleWindow) item->arg;
			child = item + 2;
			if (item->flags & RULE_HAS_WHERE)
			{
				node->where = decode_node(body, child, arena);
				child = RULE_NEXT(child);
			}
			node->nvalues = (int) (RULE_NEXT(item) - child);
			node->values = decode_values(body, child, node->nvalues, arena);
			break;
		case RI_IN_SEGMENT:
			node->name = RULE_STR(body, item->a);
			node->op = (RuleTestOp) item->op;
			node->nvalues = (int) item->span - 1;
			node->values = decode_values(body, item + 1, node->nvalues, arena);
			break;
		case RI_BUCKET:
			node->name = RULE_STR(body, item->a);
			node->op = (RuleTestOp) item->op;
			node->count = item->b;
			node->as_sample = (item->flags & RULE_AS_SAMPLE) != 0;
			break;
		case RI_TRUE:
		case RI_FALSE:
		case RI_VALUE:
		case RI_MEASURE:
			break;
	}
	return node;
}

RuleNode *
rule_decode(const RuleBody *body, RuleArena *arena)
{
	return decode_node(body, body->items, arena);
}
