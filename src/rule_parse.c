/*
 * rule_parse.c
 *	  Tokenizer and recursive-descent parser of the rule language
 *	  (docs/design.md, "Grammar"), producing a RuleNode tree for rule_encode().
 *
 * Keywords are bare words recognized by position, case-insensitively, so
 * most of them remain usable as field names; the words that can start a
 * condition (and, or, not, true, false, event, in) must be quoted to name a
 * field.  Errors report the byte offset of the offending token and what the
 * parser expected there.  Nesting (parentheses, not, where) is bounded by
 * RULE_MAX_DEPTH before recursing, and the number of nodes by
 * RULE_MAX_ITEMS, so no input can exhaust the stack or memory.
 */
#include "rule_tree.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef enum TokenType
{
	TK_END,
	TK_WORD,					/* bare identifier or keyword */
	TK_IDENT,					/* "quoted identifier" */
	TK_STRING,					/* 'string' */
	TK_NUMBER,
	TK_OP,						/* = != <> < <= > >= */
	TK_LPAREN,
	TK_RPAREN,
	TK_COMMA,
	TK_DOT,
	TK_PERCENT					/* % of a sample */
} TokenType;

typedef struct Token
{
	TokenType	type;
	int			start;			/* byte offset in the input */
	int			len;			/* bytes of input it covers */
	const char *text;			/* unescaped text of IDENT and STRING */
	RuleTestOp	op;				/* of TK_OP */
} Token;

typedef struct Parser
{
	const char *input;
	int			pos;			/* next byte to tokenize */
	Token		tok;			/* current token */
	int			depth;			/* nesting of parentheses, not, where */
	int			nodes;			/* nodes and values made so far */
	RuleArena  *arena;
	RuleError  *err;
	bool		failed;
} Parser;

static bool
is_word_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
is_word_char(char c)
{
	return is_word_start(c) || (c >= '0' && c <= '9');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Describe the current token for an error message. */
static void
describe_token(Parser *p, char *out, size_t outlen)
{
	int			len = p->tok.len;

	if (p->tok.type == TK_END)
	{
		snprintf(out, outlen, "end of rule");
		return;
	}
	if (len > 40)
		snprintf(out, outlen, "\"%.*s...\"",
				 rule_clip_length(p->input + p->tok.start, len, 40),
				 p->input + p->tok.start);
	else
		snprintf(out, outlen, "\"%.*s\"", len, p->input + p->tok.start);
}

/* Syntax error at the current token: what was expected, what was found. */
static void *
expected(Parser *p, const char *what)
{
	char		found[64];

	if (p->failed)
		return NULL;
	describe_token(p, found, sizeof(found));
	rule_error(p->err, RULE_ERR_SYNTAX, p->tok.start, "syntax error",
			   "Expected %s, but found %s.", what, found);
	p->failed = true;
	return NULL;
}

static void *
fail_at(Parser *p, RuleErrorKind kind, int position, const char *message,
		const char *detailfmt,...)
#ifdef __GNUC__
__attribute__((format(printf, 5, 6)))
#endif
;

static void *
fail_at(Parser *p, RuleErrorKind kind, int position, const char *message,
		const char *detailfmt,...)
{
	va_list		args;

	if (!p->failed)
	{
		rule_error(p->err, kind, position, message, NULL);
		va_start(args, detailfmt);
		vsnprintf(p->err->detail, sizeof(p->err->detail), detailfmt, args);
		va_end(args);
	}
	p->failed = true;
	return NULL;
}

/* Read a quoted string or identifier; doubled quotes stand for one. */
static bool
lex_quoted(Parser *p, char quote)
{
	const char *in = p->input;
	int			start = p->pos;
	int			i = start + 1;
	RuleBuf		buf;

	rule_buf_init(&buf, p->arena);
	for (;;)
	{
		const char *next = strchr(in + i, quote);

		if (next == NULL)
		{
			p->tok.start = start;
			fail_at(p, RULE_ERR_SYNTAX, start, "syntax error",
					quote == '\'' ? "Unterminated quoted string." :
					"Unterminated quoted identifier.");
			return false;
		}
		rule_buf_append(&buf, in + i, next - (in + i));
		i = (int) (next - in) + 1;
		if (in[i] != quote)
			break;
		rule_buf_putc(&buf, quote);
		i++;
	}
	p->tok.text = buf.data;
	p->tok.len = i - start;
	return true;
}

/* Advance to the next token. */
static bool
next_token(Parser *p)
{
	const char *in = p->input;
	int			i = p->pos;

	if (p->failed)
		return false;
	while (in[i] == ' ' || in[i] == '\t' || in[i] == '\n' || in[i] == '\r' ||
		   in[i] == '\f' || in[i] == '\v')
		i++;
	p->pos = i;
	p->tok.start = i;
	p->tok.text = NULL;
	p->tok.len = 1;

	if (in[i] == '\0')
	{
		p->tok.type = TK_END;
		p->tok.len = 0;
	}
	else if (is_word_start(in[i]))
	{
		while (is_word_char(in[i + p->tok.len]))
			p->tok.len++;
		p->tok.type = TK_WORD;
	}
	else if (is_digit(in[i]) || (in[i] == '-' && is_digit(in[i + 1])))
	{
		int			j = i + 1;

		while (is_digit(in[j]))
			j++;
		if (in[j] == '.' && is_digit(in[j + 1]))
			for (j++; is_digit(in[j]); j++)
				;
		p->tok.type = TK_NUMBER;
		p->tok.len = j - i;
	}
	else if (in[i] == '\'' || in[i] == '"')
	{
		p->tok.type = in[i] == '\'' ? TK_STRING : TK_IDENT;
		if (!lex_quoted(p, in[i]))
			return false;
		if (p->tok.type == TK_IDENT && p->tok.text[0] == '\0')
		{
			fail_at(p, RULE_ERR_SYNTAX, i, "syntax error",
					"A quoted identifier must not be empty.");
			return false;
		}
	}
	else
	{
		p->tok.type = TK_OP;
		switch (in[i])
		{
			case '(':
				p->tok.type = TK_LPAREN;
				break;
			case ')':
				p->tok.type = TK_RPAREN;
				break;
			case ',':
				p->tok.type = TK_COMMA;
				break;
			case '.':
				p->tok.type = TK_DOT;
				break;
			case '%':
				p->tok.type = TK_PERCENT;
				break;
			case '=':
				p->tok.op = RT_EQ;
				break;
			case '!':
				if (in[i + 1] != '=')
				{
					expected(p, "\"!=\"");
					return false;
				}
				p->tok.op = RT_NE;
				p->tok.len = 2;
				break;
			case '<':
				p->tok.op = in[i + 1] == '=' ? RT_LE : in[i + 1] == '>' ? RT_NE : RT_LT;
				p->tok.len = p->tok.op == RT_LT ? 1 : 2;
				break;
			case '>':
				p->tok.op = in[i + 1] == '=' ? RT_GE : RT_GT;
				p->tok.len = p->tok.op == RT_GT ? 1 : 2;
				break;
			default:
				if ((unsigned char) in[i] >= 0x80)
					fail_at(p, RULE_ERR_SYNTAX, i, "syntax error",
							"Unexpected non-ASCII character; a name with characters other than ASCII letters, digits and _ must be written in double quotes.");
				else if (in[i] < ' ' || in[i] == 0x7f)
					fail_at(p, RULE_ERR_SYNTAX, i, "syntax error",
							"Unexpected control character 0x%02X.", (unsigned) in[i]);
				else
					fail_at(p, RULE_ERR_SYNTAX, i, "syntax error",
							"Unexpected character \"%c\".", in[i]);
				return false;
		}
	}
	p->pos = i + p->tok.len;
	return true;
}

/* The type of the token after the current one, without consuming it. */
static TokenType
peek_type(Parser *p, const char **word, int *wordlen)
{
	Parser		ahead = *p;
	RuleError	scratch;

	ahead.err = &scratch;
	if (!next_token(&ahead))
		return TK_END;
	if (word)
	{
		*word = ahead.input + ahead.tok.start;
		*wordlen = ahead.tok.len;
	}
	return ahead.tok.type;
}

/* Is word[0..len) the keyword kw (lower case), in any case? */
static bool
word_is(const char *word, int len, const char *kw)
{
	int			i;

	for (i = 0; i < len; i++)
	{
		char		c = word[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != kw[i])
			return false;
	}
	return kw[len] == '\0';
}

/* Is the current token the keyword kw? */
static bool
at_keyword(Parser *p, const char *kw)
{
	return p->tok.type == TK_WORD && word_is(p->input + p->tok.start, p->tok.len, kw);
}

/* Is the current token a word that cannot name a field unquoted? */
static bool
at_reserved(Parser *p)
{
	int			i;

	for (i = 0; rule_reserved_words[i]; i++)
		if (at_keyword(p, rule_reserved_words[i]))
			return true;
	return false;
}

/* Consume keyword kw if it is the current token. */
static bool
accept_keyword(Parser *p, const char *kw)
{
	if (!at_keyword(p, kw))
		return false;
	next_token(p);
	return true;
}

static bool
expect_keyword(Parser *p, const char *kw, const char *what)
{
	if (accept_keyword(p, kw))
		return !p->failed;
	expected(p, what);
	return false;
}

static bool
expect_token(Parser *p, TokenType type, const char *what)
{
	if (p->tok.type != type)
	{
		expected(p, what);
		return false;
	}
	return next_token(p);
}

static bool
count_node(Parser *p)
{
	if (++p->nodes > RULE_MAX_ITEMS)
	{
		fail_at(p, RULE_ERR_TOO_BIG, p->tok.start, "rule is too large",
				"A rule may hold at most %d conditions, operators and values.", RULE_MAX_ITEMS);
		return false;
	}
	return true;
}

static bool
enter(Parser *p)
{
	if (++p->depth > RULE_MAX_DEPTH)
	{
		fail_at(p, RULE_ERR_TOO_DEEP, p->tok.start, "rule is nested too deeply",
				"The maximum nesting depth is %d.", RULE_MAX_DEPTH);
		return false;
	}
	return true;
}

/* A growing array of pointers or values in the arena. */
typedef struct Vec
{
	void	   *data;
	int			n;
	int			cap;
	size_t		elemsize;
} Vec;

static void
vec_init(Vec *v, size_t elemsize)
{
	v->data = NULL;
	v->n = v->cap = 0;
	v->elemsize = elemsize;
}

static void *
vec_push(Parser *p, Vec *v)
{
	if (v->n == v->cap)
	{
		int			cap = v->cap ? v->cap * 2 : 4;
		void	   *data = rule_alloc(p->arena, v->elemsize * cap);

		if (v->n)
			memcpy(data, v->data, v->elemsize * v->n);
		v->data = data;
		v->cap = cap;
	}
	return (char *) v->data + v->elemsize * v->n++;
}

static const char *const unit_expectation =
"a time unit (minutes, hours, days, weeks, months or years)";

/* If the current token is a unit word, consume it. */
static bool
accept_unit(Parser *p, RuleUnit *unit)
{
	RuleUnit	u;

	for (u = RU_MINUTE; u <= RU_LAST; u++)
		if (at_keyword(p, rule_unit_name(u, false)) || at_keyword(p, rule_unit_name(u, true)))
		{
			*unit = u;
			return next_token(p);
		}
	return false;
}

/* Is the token after the current one "ago" or "from"? */
static bool
at_time_suffix(Parser *p)
{
	const char *word;
	int			len;

	if (peek_type(p, &word, &len) != TK_WORD)
		return false;
	return word_is(word, len, "ago") || word_is(word, len, "from");
}

/* A whole number 0 .. RULE_MAX_AMOUNT (counts, time amounts). */
static bool
parse_amount(Parser *p, uint32_t *amount, const char *what)
{
	uint64_t	value = 0;
	int			i;

	if (p->tok.type != TK_NUMBER || p->input[p->tok.start] == '-')
	{
		expected(p, what);
		return false;
	}
	for (i = 0; i < p->tok.len; i++)
	{
		char		c = p->input[p->tok.start + i];

		if (!is_digit(c))
		{
			expected(p, what);
			return false;
		}
		value = value * 10 + (uint64_t) (c - '0');
		if (value > RULE_MAX_AMOUNT)
		{
			fail_at(p, RULE_ERR_OUT_OF_RANGE, p->tok.start, "number out of range",
					"A count or time amount may be at most %u.", RULE_MAX_AMOUNT);
			return false;
		}
	}
	*amount = (uint32_t) value;
	return next_token(p);
}

/* amount unit, as after "within last" */
static bool
parse_duration(Parser *p, RuleValue *value)
{
	value->kind = RV_DURATION;
	if (!parse_amount(p, &value->amount, "a whole number of time units"))
		return false;
	if (!accept_unit(p, &value->unit))
	{
		expected(p, unit_expectation);
		return false;
	}
	return !p->failed;
}

static const char *const value_expectation =
"a value (a 'string', a number, true, false, now, or a time such as 30 days ago)";

/* value := string | number | true | false | now | n unit ago | n unit from now */
static bool
parse_value(Parser *p, RuleValue *value)
{
	if (!count_node(p))
		return false;
	if (p->tok.type == TK_STRING)
	{
		value->kind = RV_STRING;
		value->text = p->tok.text;
		return next_token(p);
	}
	if (accept_keyword(p, "true"))
		value->kind = RV_TRUE;
	else if (accept_keyword(p, "false"))
		value->kind = RV_FALSE;
	else if (accept_keyword(p, "now"))
		value->kind = RV_NOW;
	else if (p->tok.type == TK_NUMBER)
	{
		Token		number = p->tok;

		next_token(p);
		if (p->failed)
			return false;
		if (accept_unit(p, &value->unit))
		{
			/* a time: re-read the number as an amount */
			p->tok = number;
			p->pos = number.start + number.len;
			value->kind = RV_AGO;
			if (!parse_amount(p, &value->amount, "a whole number of time units"))
				return false;
			accept_unit(p, &value->unit);
			if (accept_keyword(p, "ago"))
				return !p->failed;
			if (accept_keyword(p, "from"))
			{
				value->kind = RV_FROM_NOW;
				return expect_keyword(p, "now", "\"now\" after \"from\"");
			}
			expected(p, "\"ago\" or \"from now\" after a time span");
			return false;
		}
		if (p->tok.type == TK_WORD && at_time_suffix(p))
		{
			/* "3 fortnights ago": a word where the unit belongs */
			expected(p, unit_expectation);
			return false;
		}
		value->kind = RV_NUMBER;
		value->text = rule_normalize_number(p->arena, p->input + number.start, number.len);
		return !p->failed;
	}
	else
	{
		expected(p, value_expectation);
		return false;
	}
	return !p->failed;
}

static RuleNode *parse_or(Parser *p, bool in_where);

/* field := ident { '.' ident } */
static bool
parse_path(Parser *p, RuleNode *node)
{
	Vec			path;

	vec_init(&path, sizeof(char *));
	for (;;)
	{
		const char **slot;

		if (p->tok.type == TK_WORD)
		{
			char	   *ident = rule_strndup(p->arena, p->input + p->tok.start, p->tok.len);
			char	   *c;

			for (c = ident; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c += 'a' - 'A';
			slot = vec_push(p, &path);
			*slot = ident;
		}
		else if (p->tok.type == TK_IDENT)
		{
			slot = vec_push(p, &path);
			*slot = p->tok.text;
		}
		else
		{
			expected(p, "a field name after \".\"");
			return false;
		}
		if (path.n > RULE_MAX_PATH)
		{
			fail_at(p, RULE_ERR_TOO_BIG, p->tok.start, "field path is too long",
					"A field path may have at most %d components.", RULE_MAX_PATH);
			return false;
		}
		if (!next_token(p))
			return false;
		if (p->tok.type != TK_DOT)
			break;
		if (!next_token(p))
			return false;
	}
	node->path = path.data;
	node->npath = path.n;
	return true;
}

/* Operands of a field test: n values, separated by sep ("," or "and"). */
static bool
parse_values(Parser *p, RuleNode *node, int n)
{
	int			i;

	node->values = rule_alloc(p->arena, sizeof(RuleValue) * n);
	node->nvalues = n;
	for (i = 0; i < n; i++)
	{
		if (i > 0 && !expect_keyword(p, "and", "\"and\" between the two bounds"))
			return false;
		if (!parse_value(p, &node->values[i]))
			return false;
	}
	return true;
}

static const char *const test_expectation =
"a comparison (=, !=, <, <=, >, >=), in, between, is, contains, starts with, ends with, like, ilike or within";

/* fieldtest, after the path */
static bool
parse_field_test(Parser *p, RuleNode *node)
{
	if (p->tok.type == TK_OP)
	{
		node->op = p->tok.op;
		return next_token(p) && parse_values(p, node, 1);
	}
	if (accept_keyword(p, "is"))
	{
		node->op = RT_IS_NULL;
		node->negated = accept_keyword(p, "not");
		return expect_keyword(p, "null", node->negated ? "\"null\" after \"is not\"" : "\"null\" or \"not null\" after \"is\"");
	}
	if (accept_keyword(p, "within"))
	{
		if (accept_keyword(p, "last"))
			node->op = RT_WITHIN_LAST;
		else if (accept_keyword(p, "next"))
			node->op = RT_WITHIN_NEXT;
		else
		{
			expected(p, "\"last\" or \"next\" after \"within\"");
			return false;
		}
		node->values = rule_alloc(p->arena, sizeof(RuleValue));
		node->nvalues = 1;
		return count_node(p) && parse_duration(p, &node->values[0]);
	}

	node->negated = accept_keyword(p, "not");
	if (accept_keyword(p, "in"))
	{
		Vec			values;

		node->op = RT_IN;
		if (!expect_token(p, TK_LPAREN, "\"(\" to open the list of values"))
			return false;
		vec_init(&values, sizeof(RuleValue));
		do
		{
			if (!parse_value(p, vec_push(p, &values)))
				return false;
		} while (p->tok.type == TK_COMMA && next_token(p));
		node->values = values.data;
		node->nvalues = values.n;
		return expect_token(p, TK_RPAREN, "\",\" or \")\" in the list of values");
	}
	if (accept_keyword(p, "between"))
	{
		node->op = RT_BETWEEN;
		return parse_values(p, node, 2);
	}
	if (accept_keyword(p, "contains"))
		node->op = RT_CONTAINS;
	else if (accept_keyword(p, "starts"))
	{
		node->op = RT_STARTS_WITH;
		if (!expect_keyword(p, "with", "\"with\" after \"starts\""))
			return false;
	}
	else if (accept_keyword(p, "ends"))
	{
		node->op = RT_ENDS_WITH;
		if (!expect_keyword(p, "with", "\"with\" after \"ends\""))
			return false;
	}
	else if (accept_keyword(p, "like"))
		node->op = RT_LIKE;
	else if (accept_keyword(p, "ilike"))
		node->op = RT_ILIKE;
	else
	{
		expected(p, node->negated ?
				 "in, between, contains, starts with, ends with, like or ilike after \"not\"" :
				 test_expectation);
		return false;
	}
	if ((node->op == RT_LIKE || node->op == RT_ILIKE) && p->tok.type != TK_STRING)
	{
		expected(p, "a 'string' pattern");
		return false;
	}
	return !p->failed && parse_values(p, node, 1);
}

/* A column name: a word (folded to lower case) or a "quoted identifier". */
static const char *
parse_column(Parser *p, const char *what)
{
	char	   *ident;
	char	   *c;

	if (p->tok.type == TK_IDENT)
		ident = (char *) p->tok.text;
	else if (p->tok.type == TK_WORD)
	{
		ident = rule_strndup(p->arena, p->input + p->tok.start, p->tok.len);
		for (c = ident; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c += 'a' - 'A';
	}
	else
	{
		expected(p, what);
		return NULL;
	}
	return next_token(p) ? ident : NULL;
}

/*
 * An aggregate after its function's name: '(' [DISTINCT] column ')' cmp
 * value.  count takes distinct (count alone is the count of events).
 */
static bool
parse_aggregate(Parser *p, RuleNode *node, RuleMeasure measure)
{
	if (!count_node(p) || !expect_token(p, TK_LPAREN, "\"(\" after the aggregate's name"))
		return false;
	if (measure == RM_COUNT_DISTINCT &&
		!expect_keyword(p, "distinct", "\"distinct\" after \"count(\": count(distinct column)"))
		return false;
	if ((node->measure_column = parse_column(p, "an event column in the aggregate")) == NULL)
		return false;
	if (!expect_token(p, TK_RPAREN, "\")\" after the aggregate's column"))
		return false;
	if (p->tok.type != TK_OP)
	{
		expected(p, "a comparison (=, !=, <, <=, >, >=) after the aggregate");
		return false;
	}
	node->measure = measure;
	node->measure_op = p->tok.op;
	return next_token(p) && parse_value(p, &node->measure_value);
}

/* [WHERE '(' rule ')'], of an event or a list condition */
static bool
parse_where(Parser *p, RuleNode *node)
{
	if (!at_keyword(p, "where"))
		return true;
	if (!enter(p) || !next_token(p) ||
		!expect_token(p, TK_LPAREN, "\"(\" after \"where\""))
		return false;
	if ((node->where = parse_or(p, true)) == NULL)
		return false;
	if (!expect_token(p, TK_RPAREN, "\"and\", \"or\" or \")\" to close the where clause"))
		return false;
	p->depth--;
	return true;
}

/*
 * [window], of an event or a list condition:
 * EVER | WITHIN LAST duration | SINCE value | BEFORE value
 * | BETWEEN value AND value
 */
static bool
parse_window(Parser *p, RuleNode *node)
{
	if (accept_keyword(p, "ever"))
		node->window = RW_EVER;
	else if (accept_keyword(p, "within"))
	{
		node->window = RW_WITHIN_LAST;
		if (!expect_keyword(p, "last", "\"last\" after \"within\" in a window"))
			return false;
		node->values = rule_alloc(p->arena, sizeof(RuleValue));
		node->nvalues = 1;
		if (!count_node(p) || !parse_duration(p, &node->values[0]))
			return false;
	}
	else if (accept_keyword(p, "since"))
	{
		node->window = RW_SINCE;
		if (!parse_values(p, node, 1))
			return false;
	}
	else if (accept_keyword(p, "before"))
	{
		node->window = RW_BEFORE;
		if (!parse_values(p, node, 1))
			return false;
	}
	else if (accept_keyword(p, "between"))
	{
		node->window = RW_BETWEEN;
		if (!parse_values(p, node, 2))
			return false;
	}
	return !p->failed;
}

/*
 * EVENT string [FROM string] [WHERE '(' rule ')'] [measure] [window]
 * measure := COUNT cmp number | COUNT '(' DISTINCT column ')' cmp number
 *		   | (SUM | AVG | MIN | MAX) '(' column ')' cmp value | FIRST | LAST
 */
static RuleNode *
parse_event(Parser *p, RuleNode *node)
{
	static const struct
	{
		const char *name;
		RuleMeasure measure;
	}			aggregates[] = {
		{"sum", RM_SUM}, {"avg", RM_AVG}, {"min", RM_MIN}, {"max", RM_MAX}
	};
	int			i;

	if (p->tok.type != TK_STRING)
		return expected(p, "the event kind as a 'string' after \"event\"");
	node->name = p->tok.text;
	if (!next_token(p))
		return NULL;
	if (accept_keyword(p, "from"))
	{
		if (p->tok.type != TK_STRING)
			return expected(p, "the event source as a 'string' after \"from\"");
		node->source = p->tok.text;
		if (!next_token(p))
			return NULL;
	}
	if (!parse_where(p, node))
		return NULL;
	for (i = 0; i < (int) (sizeof(aggregates) / sizeof(aggregates[0])); i++)
		if (accept_keyword(p, aggregates[i].name))
		{
			if (!parse_aggregate(p, node, aggregates[i].measure))
				return NULL;
			break;
		}
	if (node->measure)
		;
	else if (accept_keyword(p, "first"))
		node->measure = RM_FIRST;
	else if (accept_keyword(p, "last"))
		node->measure = RM_LAST;
	else if (accept_keyword(p, "count"))
	{
		if (p->tok.type == TK_LPAREN)
		{
			if (!parse_aggregate(p, node, RM_COUNT_DISTINCT))
				return NULL;
		}
		else
		{
			if (p->tok.type != TK_OP)
				return expected(p, "a comparison (=, !=, <, <=, >, >=) or \"(distinct\" after \"count\"");
			node->count_op = p->tok.op;
			if (!next_token(p) ||
				!parse_amount(p, &node->count, "a whole number (0 or more) after the count comparison"))
				return NULL;
		}
	}

	return parse_window(p, node) ? node : NULL;
}

/*
 * "for at least" or "for less than" amount unit after in segment 'name':
 * the time since the contact joined it.
 */
static bool
parse_time_in_segment(Parser *p, RuleNode *node)
{
	if (accept_keyword(p, "at"))
	{
		if (!expect_keyword(p, "least", "\"least\" after \"for at\""))
			return false;
		node->op = RT_GE;
	}
	else if (accept_keyword(p, "less"))
	{
		if (!expect_keyword(p, "than", "\"than\" after \"for less\""))
			return false;
		node->op = RT_LT;
	}
	else
	{
		expected(p, "\"at least\" or \"less than\" after \"for\"");
		return false;
	}
	if (!count_node(p))
		return false;
	node->nvalues = 1;
	node->values = rule_alloc(p->arena, sizeof(RuleValue));
	return parse_duration(p, &node->values[0]);
}

/*
 * The percentage of "sample P% seed 's'": 0 to 100 with at most two
 * decimals, as hundredths of a percent (the buckets below it).
 */
static bool
parse_percentage(Parser *p, uint32_t *buckets)
{
	const char *text = p->input + p->tok.start;
	uint32_t	whole = 0,
				hundredths = 0;
	int			i = 0,
				decimals = 0;

	if (p->tok.type != TK_NUMBER || text[0] == '-')
	{
		expected(p, "a percentage from 0 to 100 after \"sample\"");
		return false;
	}
	for (; i < p->tok.len && text[i] != '.'; i++)
	{
		whole = whole * 10 + (uint32_t) (text[i] - '0');
		if (whole > 100)
			break;
	}
	if (i < p->tok.len && text[i] == '.')
		for (i++; i < p->tok.len; i++, decimals++)
		{
			if (decimals == 2)
			{
				fail_at(p, RULE_ERR_SYNTAX, p->tok.start, "syntax error",
						"A sample's percentage has at most two decimals (0.01%% steps).");
				return false;
			}
			hundredths = hundredths * 10 + (uint32_t) (text[i] - '0');
		}
	if (decimals == 1)
		hundredths *= 10;
	if (whole > 100 || whole * 100 + hundredths > RULE_BUCKETS)
	{
		fail_at(p, RULE_ERR_OUT_OF_RANGE, p->tok.start, "sample percentage out of range",
				"A sample is from 0%% to 100%%.");
		return false;
	}
	*buckets = whole * 100 + hundredths;
	if (!next_token(p))
		return false;
	return expect_token(p, TK_PERCENT, "\"%\" after the sample's percentage");
}

/* sample P% seed 'seed' | bucket('seed') cmp n, after the first word */
static RuleNode *
parse_bucket(Parser *p, bool sample)
{
	RuleNode   *node = rule_node_new(p->arena, RN_BUCKET);
	int			at;

	if (sample)
	{
		node->as_sample = true;
		node->op = RT_LT;
		if (!parse_percentage(p, &node->count) ||
			!expect_keyword(p, "seed", "\"seed\" and the sample's seed as a 'string'"))
			return NULL;
		if (p->tok.type != TK_STRING)
			return expected(p, "the sample's seed as a 'string' after \"seed\"");
		node->name = p->tok.text;
		return next_token(p) ? node : NULL;
	}
	if (!expect_token(p, TK_LPAREN, "\"(\" after \"bucket\""))
		return NULL;
	if (p->tok.type != TK_STRING)
		return expected(p, "the seed as a 'string' in bucket(...)");
	node->name = p->tok.text;
	if (!next_token(p) || !expect_token(p, TK_RPAREN, "\")\" after the bucket's seed"))
		return NULL;
	if (p->tok.type != TK_OP)
		return expected(p, "a comparison (=, !=, <, <=, >, >=) after bucket(...)");
	node->op = p->tok.op;
	if (!next_token(p))
		return NULL;
	at = p->tok.start;
	if (!parse_amount(p, &node->count, "a bucket number (0 to 9999) after the comparison"))
		return NULL;
	if (node->count > RULE_BUCKETS)
		return fail_at(p, RULE_ERR_OUT_OF_RANGE, at, "bucket out of range",
					   "A contact's bucket is from 0 to %d.", RULE_BUCKETS - 1);
	return node;
}

/* Is the current token "sample" before a number, or "bucket" before "("? */
static bool
at_bucket(Parser *p, bool *sample)
{
	*sample = at_keyword(p, "sample");
	if (*sample)
		return peek_type(p, NULL, NULL) == TK_NUMBER;
	return at_keyword(p, "bucket") && peek_type(p, NULL, NULL) == TK_LPAREN;
}

static RuleNode *
parse_unary(Parser *p, bool in_where)
{
	bool		sample;

	RuleNode   *node;

	rule_check_stack();
	if (p->tok.type == TK_LPAREN)
	{
		/* parentheses make no item, so they do not count toward the size */
		if (!enter(p) || !next_token(p))
			return NULL;
		if ((node = parse_or(p, in_where)) == NULL)
			return NULL;
		if (!expect_token(p, TK_RPAREN, "\"and\", \"or\" or \")\""))
			return NULL;
		p->depth--;
		return node;
	}
	if (!count_node(p))
		return NULL;
	if (p->tok.type == TK_WORD && at_reserved(p) && peek_type(p, NULL, NULL) == TK_OP)
	{
		/* "event = 'x'": a reserved word used as a field name */
		char		what[160];

		snprintf(what, sizeof(what),
				 "a condition (to name a field \"%.*s\", write it in double quotes)",
				 p->tok.len, p->input + p->tok.start);
		return expected(p, what);
	}
	if (at_keyword(p, "not"))
	{
		if (!enter(p) || !next_token(p))
			return NULL;
		node = rule_node_new(p->arena, RN_NOT);
		node->nargs = 1;
		node->args = rule_alloc(p->arena, sizeof(RuleNode *));
		if ((node->args[0] = parse_unary(p, in_where)) == NULL)
			return NULL;
		p->depth--;
		return node;
	}
	if (accept_keyword(p, "true"))
		return p->failed ? NULL : rule_node_new(p->arena, RN_TRUE);
	if (accept_keyword(p, "false"))
		return p->failed ? NULL : rule_node_new(p->arena, RN_FALSE);
	if (in_where && (at_keyword(p, "event") || at_keyword(p, "in") || at_bucket(p, &sample)))
		return expected(p, "a condition on a column of the event or list row (event, list, segment and sample conditions cannot be used inside where)");
	if (accept_keyword(p, "event"))
		return p->failed ? NULL : parse_event(p, rule_node_new(p->arena, RN_EVENT));
	if (accept_keyword(p, "in"))
	{
		if (accept_keyword(p, "list"))
		{
			/* IN LIST value [WHERE '(' rule ')'] [window] */
			node = rule_node_new(p->arena, RN_IN_LIST);
			if (!parse_value(p, &node->list) || !parse_where(p, node) || !parse_window(p, node))
				return NULL;
			return node;
		}
		if (accept_keyword(p, "segment"))
		{
			if (p->tok.type != TK_STRING)
				return expected(p, "the segment name as a 'string' after \"in segment\"");
			node = rule_node_new(p->arena, RN_IN_SEGMENT);
			node->name = p->tok.text;
			if (!next_token(p))
				return NULL;
			if (accept_keyword(p, "for") && !parse_time_in_segment(p, node))
				return NULL;
			return p->failed ? NULL : node;
		}
		return expected(p, "\"list\" or \"segment\" after \"in\"");
	}
	if (at_bucket(p, &sample))
		return next_token(p) ? parse_bucket(p, sample) : NULL;
	if ((p->tok.type == TK_WORD && !at_reserved(p)) || p->tok.type == TK_IDENT)
	{
		node = rule_node_new(p->arena, RN_FIELD);
		if (!parse_path(p, node) || !parse_field_test(p, node))
			return NULL;
		return node;
	}
	return expected(p, "a condition (a field test, event, in list, in segment, not, true, false or \"(\")");
}

/* and := unary { AND unary } ; or := and { OR and } */
static RuleNode *
parse_list(Parser *p, bool in_where, RuleNodeType type)
{
	const char *keyword = type == RN_OR ? "or" : "and";
	RuleNode   *first;
	RuleNode   *node;
	Vec			args;

	first = type == RN_OR ? parse_list(p, in_where, RN_AND) : parse_unary(p, in_where);
	if (first == NULL || !at_keyword(p, keyword))
		return first;

	vec_init(&args, sizeof(RuleNode *));
	*(RuleNode **) vec_push(p, &args) = first;
	while (accept_keyword(p, keyword))
	{
		RuleNode   *next;

		if (p->failed)
			return NULL;
		next = type == RN_OR ? parse_list(p, in_where, RN_AND) : parse_unary(p, in_where);
		if (next == NULL)
			return NULL;
		*(RuleNode **) vec_push(p, &args) = next;
	}
	node = rule_node_new(p->arena, type);
	node->args = args.data;
	node->nargs = args.n;
	return node;
}

static RuleNode *
parse_or(Parser *p, bool in_where)
{
	return parse_list(p, in_where, RN_OR);
}

RuleNode *
rule_parse(const char *text, RuleArena *arena, RuleError *err)
{
	Parser		p;
	RuleNode   *root;

	memset(&p, 0, sizeof(p));
	p.input = text;
	p.arena = arena;
	p.err = err;
	err->kind = RULE_OK;

	if (!next_token(&p))
		return NULL;
	if (p.tok.type == TK_END)
		return expected(&p, "a rule");
	root = parse_or(&p, false);
	if (root == NULL)
		return NULL;
	if (p.tok.type != TK_END)
		return expected(&p, "\"and\", \"or\" or the end of the rule");
	return root;
}
