/*
 * rule_tree.h
 *	  A rule as a tree: what the parser, the JSON reader and binary receive
 *	  build, and what rule_encode() turns into the stored flat form.
 *
 * Construction goes through rule_encode(), which checks everything a rule
 * must satisfy whatever its source (operand kinds per test, counts, depth,
 * size, event conditions inside where) and normalizes: nested and/or are
 * flattened, an event's default count (>= 1) and window (ever) are dropped.
 */
#ifndef SEGMENTS_RULE_TREE_H
#define SEGMENTS_RULE_TREE_H

#include "rule_port.h"

typedef enum RuleErrorKind
{
	RULE_OK = 0,
	RULE_ERR_SYNTAX,			/* 42601 */
	RULE_ERR_INVALID,			/* a well-formed but meaningless rule */
	RULE_ERR_OUT_OF_RANGE,		/* 22003 */
	RULE_ERR_TOO_DEEP,			/* 54001 */
	RULE_ERR_TOO_BIG,			/* 54000 */
	RULE_ERR_CORRUPT			/* binary form fails validation */
} RuleErrorKind;

typedef struct RuleError
{
	RuleErrorKind kind;
	int			position;		/* byte offset in the text, or -1 */
	char		message[256];	/* lower case, no final period */
	char		detail[512];	/* sentence(s), or empty */
} RuleError;

extern void rule_error(RuleError *err, RuleErrorKind kind, int position,
					   const char *message, const char *detailfmt,...)
#ifdef __GNUC__
			__attribute__((format(printf, 5, 6)))
#endif
			;

typedef struct RuleValue
{
	RuleValueKind kind;
	const char *text;			/* STRING, NUMBER: NUL-terminated */
	uint32_t	amount;			/* AGO, FROM_NOW, DURATION */
	RuleUnit	unit;
} RuleValue;

typedef enum RuleNodeType
{
	RN_AND = RI_AND,
	RN_OR = RI_OR,
	RN_NOT = RI_NOT,
	RN_TRUE = RI_TRUE,
	RN_FALSE = RI_FALSE,
	RN_FIELD = RI_FIELD,
	RN_EVENT = RI_EVENT,
	RN_IN_LIST = RI_IN_LIST,
	RN_IN_SEGMENT = RI_IN_SEGMENT,
	RN_BUCKET = RI_BUCKET
} RuleNodeType;

typedef struct RuleNode RuleNode;

struct RuleNode
{
	RuleNodeType type;

	/* AND, OR (nargs >= 1; one child stands for itself), NOT (nargs 1) */
	int			nargs;
	RuleNode  **args;

	/*
	 * FIELD; op also of IN_SEGMENT (0, or RT_GE "for at least", RT_LT "for
	 * less than", its duration the one value) and of BUCKET
	 */
	int			npath;
	const char **path;
	RuleTestOp	op;
	bool		negated;

	/* BUCKET: name is the seed, count the bound; written as a sample */
	bool		as_sample;

	/* Operands: of a FIELD test; of an EVENT or IN_LIST window. */
	int			nvalues;
	RuleValue  *values;

	/* IN_LIST: the list */
	RuleValue	list;

	/* EVENT; where and window also IN_LIST */
	const char *name;			/* EVENT kind; IN_SEGMENT name */
	const char *source;			/* EVENT: the event source named, or NULL */
	RuleNode   *where;			/* or NULL */
	RuleTestOp	count_op;		/* comparison; 0 means the default, >= 1 */
	uint32_t	count;
	RuleWindow	window;			/* 0 means the default, ever */

	/* EVENT: what is measured instead of the count (0: the count) */
	RuleMeasure measure;
	const char *measure_column; /* an aggregate's event column */
	RuleTestOp	measure_op;		/* an aggregate's comparison */
	RuleValue	measure_value;	/* and the value it is compared with */
};

extern RuleNode *rule_node_new(RuleArena *arena, RuleNodeType type);

/*
 * Normalize the text of a number literal (-?digits[.digits]): leading zeros
 * dropped, "-0" becomes "0".  Returns NULL if it is not a number literal.
 */
extern char *rule_normalize_number(RuleArena *arena, const char *s, size_t len);

/* Words that start a condition, and so cannot name a field unquoted. */
extern const char *const rule_reserved_words[];

/* Keyword spellings shared by the printer, the parser and the JSON form. */
extern const char *rule_test_op_name(RuleTestOp op, bool negated);
extern const char *rule_unit_name(RuleUnit unit, bool plural);
extern const char *rule_window_name(RuleWindow window);
extern const char *rule_measure_name(RuleMeasure measure);	/* sum, first, count ... */
extern int	rule_operand_count(RuleTestOp op, int *max);	/* min, max */

/* Whether a comparison (RT_EQ .. RT_GE) holds, given the sign of a - b. */
extern bool rule_comparison_holds(RuleTestOp op, int cmp);

/* The event source an EVENT item of a validated body names, or NULL. */
extern const char *rule_event_source(const RuleBody *body, const RuleItem *event);

/*
 * The first FIELD item from item on, before end, that tests the contact:
 * not one of an event's where clause (and, or and not are looked into;
 * everything else is skipped whole).  NULL when there is none.
 */
extern const RuleItem *rule_next_contact_field(const RuleItem *item, const RuleItem *end);

/* Does a VALUE item, or one of the VALUE items [from, to), read the clock? */
extern bool rule_value_is_relative(const RuleItem *value);
extern bool rule_operands_are_relative(const RuleItem *from, const RuleItem *to);

/*
 * Check and encode a tree.  Returns the body preceded by `header` zeroed
 * bytes (room for a varlena header), and its total length in *len; or NULL
 * with *err filled in.
 */
extern char *rule_encode(const RuleNode *root, RuleArena *arena, size_t header,
						 size_t *len, RuleError *err);

/*
 * Check that a body of `len` bytes is safe to walk: version, item types and
 * enums, spans, child counts, operand kinds, pool offsets and string
 * terminators.  Returns false with *err filled in: RULE_ERR_CORRUPT, or
 * RULE_ERR_TOO_DEEP past RULE_MAX_TREE_DEPTH.
 */
extern bool rule_validate(const RuleBody *body, size_t len, RuleError *err);

/* Rebuild the tree of a validated body (for re-encoding received rules). */
extern RuleNode *rule_decode(const RuleBody *body, RuleArena *arena);

/* Parse rule text; NULL with *err filled in. */
extern RuleNode *rule_parse(const char *text, RuleArena *arena, RuleError *err);

/* Canonical text of a validated body, or of one condition in it. */
extern char *rule_print(const RuleBody *body, RuleArena *arena);
extern char *rule_print_item(const RuleBody *body, const RuleItem *item, RuleArena *arena);

/* Identifier as printed: quoted when it is not a plain lower-case word. */
extern void rule_print_ident(RuleBuf *buf, const char *ident, bool first);
extern void rule_print_string(RuleBuf *buf, const char *s);
extern void rule_print_value(RuleBuf *buf, const RuleBody *body, const RuleItem *value);

/* The text of a string, number, true or false literal; NULL for a time. */
extern const char *rule_literal_text(const RuleBody *body, const RuleItem *value);

#endif							/* SEGMENTS_RULE_TREE_H */
