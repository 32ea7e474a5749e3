/*
 * rule_tree.c
 *	  Building blocks shared by everything that constructs a rule: nodes,
 *	  errors, number literals and the keyword spellings of operators, units
 *	  and windows.
 */
#include "rule_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
rule_error(RuleError *err, RuleErrorKind kind, int position,
		   const char *message, const char *detailfmt,...)
{
	va_list		args;

	err->kind = kind;
	err->position = position;
	snprintf(err->message, sizeof(err->message), "%s", message);
	err->detail[0] = '\0';
	if (detailfmt)
	{
		va_start(args, detailfmt);
		vsnprintf(err->detail, sizeof(err->detail), detailfmt, args);
		va_end(args);
	}
}

RuleNode *
rule_node_new(RuleArena *arena, RuleNodeType type)
{
	RuleNode   *node = rule_alloc(arena, sizeof(RuleNode));

	node->type = type;
	return node;
}

char *
rule_normalize_number(RuleArena *arena, const char *s, size_t len)
{
	const char *end = s + len;
	const char *digits;
	const char *p;
	bool		negative = false;
	bool		nonzero = false;
	RuleBuf		buf;

	if (s < end && *s == '-')
	{
		negative = true;
		s++;
	}
	digits = s;
	while (s < end && *s >= '0' && *s <= '9')
		s++;
	if (s == digits)
		return NULL;
	if (s < end && *s == '.')
	{
		const char *fraction = ++s;

		while (s < end && *s >= '0' && *s <= '9')
			s++;
		if (s == fraction)
			return NULL;
	}
	if (s != end)
		return NULL;

	/* drop leading zeros of the integer part, keeping one before a point */
	while (digits + 1 < end && digits[0] == '0' && digits[1] != '.')
		digits++;
	for (p = digits; p < end; p++)
		if (*p >= '1' && *p <= '9')
			nonzero = true;

	rule_buf_init(&buf, arena);
	if (negative && nonzero)
		rule_buf_putc(&buf, '-');
	rule_buf_append(&buf, digits, end - digits);
	return buf.data;
}

const char *const rule_reserved_words[] = {
	"and", "or", "not", "true", "false", "event", "in", NULL
};

const char *
rule_test_op_name(RuleTestOp op, bool negated)
{
	switch (op)
	{
		case RT_EQ:
			return "=";
		case RT_NE:
			return "!=";
		case RT_LT:
			return "<";
		case RT_LE:
			return "<=";
		case RT_GT:
			return ">";
		case RT_GE:
			return ">=";
		case RT_IN:
			return negated ? "not in" : "in";
		case RT_BETWEEN:
			return negated ? "not between" : "between";
		case RT_IS_NULL:
			return negated ? "is not null" : "is null";
		case RT_CONTAINS:
			return negated ? "not contains" : "contains";
		case RT_STARTS_WITH:
			return negated ? "not starts with" : "starts with";
		case RT_ENDS_WITH:
			return negated ? "not ends with" : "ends with";
		case RT_LIKE:
			return negated ? "not like" : "like";
		case RT_ILIKE:
			return negated ? "not ilike" : "ilike";
		case RT_WITHIN_LAST:
			return "within last";
		case RT_WITHIN_NEXT:
			return "within next";
	}
	return NULL;
}

const char *
rule_unit_name(RuleUnit unit, bool plural)
{
	switch (unit)
	{
		case RU_MINUTE:
			return plural ? "minutes" : "minute";
		case RU_HOUR:
			return plural ? "hours" : "hour";
		case RU_DAY:
			return plural ? "days" : "day";
		case RU_WEEK:
			return plural ? "weeks" : "week";
		case RU_MONTH:
			return plural ? "months" : "month";
		case RU_YEAR:
			return plural ? "years" : "year";
	}
	return NULL;
}

const char *
rule_window_name(RuleWindow window)
{
	switch (window)
	{
		case RW_EVER:
			return "ever";
		case RW_WITHIN_LAST:
			return "within last";
		case RW_SINCE:
			return "since";
		case RW_BEFORE:
			return "before";
		case RW_BETWEEN:
			return "between";
	}
	return NULL;
}

bool
rule_comparison_holds(RuleTestOp op, int cmp)
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
		case RT_GE:
			return cmp >= 0;
		default:
			return false;
	}
}

/* A measure's name in JSON; also the function the text form writes, but count(distinct ...). */
const char *
rule_measure_name(RuleMeasure measure)
{
	switch (measure)
	{
		case RM_COUNT_DISTINCT:
			return "count_distinct";
		case RM_SUM:
			return "sum";
		case RM_AVG:
			return "avg";
		case RM_MIN:
			return "min";
		case RM_MAX:
			return "max";
		case RM_FIRST:
			return "first";
		case RM_LAST:
			return "last";
	}
	return NULL;
}

/*
 * How many operands a field test takes: returns the minimum and sets *max
 * (-1 for no maximum).
 */
int
rule_operand_count(RuleTestOp op, int *max)
{
	switch (op)
	{
		case RT_IN:
			*max = -1;
			return 1;
		case RT_BETWEEN:
			*max = 2;
			return 2;
		case RT_IS_NULL:
			*max = 0;
			return 0;
		default:
			*max = 1;
			return 1;
	}
}

const char *
rule_event_source(const RuleBody *body, const RuleItem *event)
{
	const char *kind = RULE_STR(body, event->a);

	return (event->flags & RULE_HAS_SOURCE) ? kind + strlen(kind) + 1 : NULL;
}

const RuleItem *
rule_next_contact_field(const RuleItem *item, const RuleItem *end)
{
	while (item < end && item->type != RI_FIELD)
		item = item->type == RI_AND || item->type == RI_OR || item->type == RI_NOT ?
			item + 1 : RULE_NEXT(item);
	return item < end ? item : NULL;
}

bool
rule_value_is_relative(const RuleItem *value)
{
	return RV_IS_RELATIVE(value->op) || value->op == RV_DURATION;
}

bool
rule_operands_are_relative(const RuleItem *from, const RuleItem *to)
{
	for (; from < to; from++)
		if (rule_value_is_relative(from))
			return true;
	return false;
}
