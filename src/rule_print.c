/*
 * rule_print.c
 *	  Canonical text of a stored rule: lower-case keywords, parentheses only
 *	  where precedence (not > and > or) demands them, identifiers quoted only
 *	  when they are not plain lower-case words, an event's default count and
 *	  window left out.  Parsing the output yields the same stored form, so
 *	  printing is idempotent.
 */
#include "rule_tree.h"

#include <stdio.h>
#include <string.h>

static void
print_quoted(RuleBuf *buf, const char *s, char quote)
{
	const char *q;

	rule_buf_putc(buf, quote);
	while ((q = strchr(s, quote)) != NULL)
	{
		rule_buf_append(buf, s, q - s + 1);
		rule_buf_putc(buf, quote);
		s = q + 1;
	}
	rule_buf_puts(buf, s);
	rule_buf_putc(buf, quote);
}

void
rule_print_string(RuleBuf *buf, const char *s)
{
	print_quoted(buf, s, '\'');
}

void
rule_print_ident(RuleBuf *buf, const char *ident, bool first)
{
	bool		plain = (ident[0] >= 'a' && ident[0] <= 'z') || ident[0] == '_';
	const char *c;
	int			i;

	for (c = ident; plain && *c; c++)
		plain = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_';
	for (i = 0; plain && first && rule_reserved_words[i]; i++)
		plain = strcmp(ident, rule_reserved_words[i]) != 0;
	if (plain)
		rule_buf_puts(buf, ident);
	else
		print_quoted(buf, ident, '"');
}

static void
print_amount(RuleBuf *buf, const RuleItem *value)
{
	char		number[16];

	snprintf(number, sizeof(number), "%u ", value->a);
	rule_buf_puts(buf, number);
	rule_buf_puts(buf, rule_unit_name((RuleUnit) value->arg, value->a != 1));
}

const char *
rule_literal_text(const RuleBody *body, const RuleItem *value)
{
	switch ((RuleValueKind) value->op)
	{
		case RV_STRING:
		case RV_NUMBER:
			return RULE_STR(body, value->a);
		case RV_TRUE:
			return "true";
		case RV_FALSE:
			return "false";
		default:
			return NULL;
	}
}

void
rule_print_value(RuleBuf *buf, const RuleBody *body, const RuleItem *value)
{
	switch ((RuleValueKind) value->op)
	{
		case RV_STRING:
			rule_print_string(buf, RULE_STR(body, value->a));
			break;
		case RV_NUMBER:
			rule_buf_puts(buf, RULE_STR(body, value->a));
			break;
		case RV_TRUE:
			rule_buf_puts(buf, "true");
			break;
		case RV_FALSE:
			rule_buf_puts(buf, "false");
			break;
		case RV_NOW:
			rule_buf_puts(buf, "now");
			break;
		case RV_AGO:
			print_amount(buf, value);
			rule_buf_puts(buf, " ago");
			break;
		case RV_FROM_NOW:
			print_amount(buf, value);
			rule_buf_puts(buf, " from now");
			break;
		case RV_DURATION:
			print_amount(buf, value);
			break;
	}
}

/* The operands of a test or window: "a and b" for ranges, "(a, b)" for in. */
/* sample 12.5% seed 's', or bucket('s') < 1250 */
static void
print_bucket(RuleBuf *buf, const RuleBody *body, const RuleItem *item)
{
	char		number[32];

	if (item->flags & RULE_AS_SAMPLE)
	{
		if (item->b % 100 == 0)
			snprintf(number, sizeof(number), "sample %u%% seed ", item->b / 100);
		else if (item->b % 10 == 0)
			snprintf(number, sizeof(number), "sample %u.%u%% seed ", item->b / 100, item->b % 100 / 10);
		else
			snprintf(number, sizeof(number), "sample %u.%02u%% seed ", item->b / 100, item->b % 100);
		rule_buf_puts(buf, number);
		rule_print_string(buf, RULE_STR(body, item->a));
		return;
	}
	rule_buf_puts(buf, "bucket(");
	rule_print_string(buf, RULE_STR(body, item->a));
	snprintf(number, sizeof(number), ") %s %u", rule_test_op_name((RuleTestOp) item->op, false), item->b);
	rule_buf_puts(buf, number);
}

static void
print_operands(RuleBuf *buf, const RuleBody *body, const RuleItem *first, int n, bool list)
{
	int			i;

	if (list)
		rule_buf_puts(buf, " (");
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			rule_buf_puts(buf, list ? ", " : " and ");
		else if (!list)
			rule_buf_putc(buf, ' ');
		rule_print_value(buf, body, first + i);
	}
	if (list)
		rule_buf_putc(buf, ')');
}

static void
print_field(RuleBuf *buf, const RuleBody *body, const RuleItem *item)
{
	const char *component = RULE_STR(body, item->a);
	uint32_t	i;

	for (i = 0; i < item->b; i++)
	{
		if (i > 0)
			rule_buf_putc(buf, '.');
		rule_print_ident(buf, component, i == 0);
		component += strlen(component) + 1;
	}
	rule_buf_putc(buf, ' ');
	rule_buf_puts(buf, rule_test_op_name((RuleTestOp) item->op,
										 (item->flags & RULE_NEGATED) != 0));
	print_operands(buf, body, item + 1, (int) item->span - 1, item->op == RT_IN);
}

static void print_node(RuleBuf *buf, const RuleBody *body, const RuleItem *item);

/* An event's or list's where clause, if it has one; returns what follows. */
static const RuleItem *
print_where(RuleBuf *buf, const RuleBody *body, const RuleItem *item, const RuleItem *where)
{
	if (!(item->flags & RULE_HAS_WHERE))
		return where;
	rule_buf_puts(buf, " where (");
	print_node(buf, body, where);
	rule_buf_putc(buf, ')');
	return RULE_NEXT(where);
}

/* A window other than ever, its operands from operand to the item's end. */
static void
print_window(RuleBuf *buf, const RuleBody *body, const RuleItem *item, const RuleItem *operand)
{
	if (item->arg == 0 || item->arg == RW_EVER)
		return;
	rule_buf_putc(buf, ' ');
	rule_buf_puts(buf, rule_window_name((RuleWindow) item->arg));
	print_operands(buf, body, operand, (int) (RULE_NEXT(item) - operand), false);
}

static void
print_event(RuleBuf *buf, const RuleBody *body, const RuleItem *item)
{
	const RuleItem *operand;

	rule_buf_puts(buf, "event ");
	rule_print_string(buf, RULE_STR(body, item->a));
	if (item->flags & RULE_HAS_SOURCE)
	{
		rule_buf_puts(buf, " from ");
		rule_print_string(buf, rule_event_source(body, item));
	}
	operand = print_where(buf, body, item, item + 1);
	if (item->flags & RULE_HAS_MEASURE)
	{
		const RuleItem *m = operand;

		rule_buf_putc(buf, ' ');
		if (m->op == RM_COUNT_DISTINCT)
			rule_buf_puts(buf, "count(distinct ");
		else
		{
			rule_buf_puts(buf, rule_measure_name((RuleMeasure) m->op));
			if (RM_IS_AGGREGATE(m->op))
				rule_buf_putc(buf, '(');
		}
		if (RM_IS_AGGREGATE(m->op))
		{
			rule_print_ident(buf, RULE_STR(body, m->a), false);
			rule_buf_puts(buf, ") ");
			rule_buf_puts(buf, rule_test_op_name((RuleTestOp) m->arg, false));
			rule_buf_putc(buf, ' ');
			rule_print_value(buf, body, m + 1);
		}
		operand = RULE_NEXT(m);
	}
	else if (!(item->op == RT_GE && item->b == 1))
	{
		char		count[16];

		rule_buf_puts(buf, " count ");
		rule_buf_puts(buf, rule_test_op_name((RuleTestOp) item->op, false));
		snprintf(count, sizeof(count), " %u", item->b);
		rule_buf_puts(buf, count);
	}
	print_window(buf, body, item, operand);
}

/* A child of and/or/not, parenthesized when it binds less tightly. */
static void
print_child(RuleBuf *buf, const RuleBody *body, const RuleItem *child, bool paren)
{
	if (paren)
		rule_buf_putc(buf, '(');
	print_node(buf, body, child);
	if (paren)
		rule_buf_putc(buf, ')');
}

static void
print_node(RuleBuf *buf, const RuleBody *body, const RuleItem *item)
{
	const RuleItem *child;
	uint32_t	i;

	rule_check_stack();
	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
			child = item + 1;
			for (i = 0; i < item->a; i++, child = RULE_NEXT(child))
			{
				if (i > 0)
					rule_buf_puts(buf, item->type == RI_AND ? " and " : " or ");
				print_child(buf, body, child,
							item->type == RI_AND && child->type == RI_OR);
			}
			break;
		case RI_NOT:
			rule_buf_puts(buf, "not ");
			print_child(buf, body, item + 1,
						item[1].type == RI_AND || item[1].type == RI_OR);
			break;
		case RI_TRUE:
			rule_buf_puts(buf, "true");
			break;
		case RI_FALSE:
			rule_buf_puts(buf, "false");
			break;
		case RI_FIELD:
			print_field(buf, body, item);
			break;
		case RI_EVENT:
			print_event(buf, body, item);
			break;
		case RI_IN_LIST:
			rule_buf_puts(buf, "in list ");
			rule_print_value(buf, body, item + 1);
			print_window(buf, body, item, print_where(buf, body, item, item + 2));
			break;
		case RI_IN_SEGMENT:
			rule_buf_puts(buf, "in segment ");
			rule_print_string(buf, RULE_STR(body, item->a));
			if (item->op != 0)
			{
				rule_buf_puts(buf, item->op == RT_GE ? " for at least " : " for less than ");
				print_amount(buf, item + 1);
			}
			break;
		case RI_BUCKET:
			print_bucket(buf, body, item);
			break;
		case RI_VALUE:
			rule_print_value(buf, body, item);
			break;
		case RI_MEASURE:
			break;
	}
}

char *
rule_print(const RuleBody *body, RuleArena *arena)
{
	return rule_print_item(body, body->items, arena);
}

char *
rule_print_item(const RuleBody *body, const RuleItem *item, RuleArena *arena)
{
	RuleBuf		buf;

	rule_buf_init(&buf, arena);
	print_node(&buf, body, item);
	return buf.data;
}
