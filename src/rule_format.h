/*
 * rule_format.h
 *	  The stored (binary) form of a segments.rule.
 *
 * A rule is a flat array of fixed-size items in prefix order followed by a
 * pool of NUL-terminated strings, in the manner of tsquery.  Every item
 * records the number of items in its subtree ("span"), so a walker skips a
 * subtree with one addition and evaluates without allocating or re-parsing.
 *
 * This header is free of PostgreSQL headers: the parser, printer and
 * validator also build outside the server, for the fuzzer.
 *
 * Layout of the body (the varlena header, when there is one, precedes it):
 *
 *	 RuleBody	 version, item count
 *	 RuleItem[]  nitems items in prefix order
 *	 char[]		 string pool up to the end of the value
 *
 * Items, by type:
 *
 *	 AND, OR	 a = number of children (>= 2); the children follow.
 *	 NOT		 one child follows.
 *	 TRUE, FALSE leaf.
 *	 FIELD		 op = RuleTestOp, flags = RULE_NEGATED or 0,
 *				 a = pool offset of the first path component, b = number of
 *				 components (consecutive strings in the pool); the operands
 *				 follow as VALUE items (span - 1 of them).
 *	 EVENT		 a = pool offset of the event kind, op = count comparison
 *				 (RT_EQ .. RT_GE), b = count, arg = RuleWindow,
 *				 flags = RULE_HAS_WHERE, RULE_HAS_MEASURE, RULE_HAS_SOURCE
 *				 or 0 (with RULE_HAS_SOURCE the name of the event source is
 *				 the string after the kind in the pool); the where
 *				 subtree follows, if any, then the MEASURE item, if any,
 *				 then the window operands as VALUE items.  With a measure,
 *				 op and b are 0: the measure says what is compared.
 *	 MEASURE	 what an event condition tests instead of the count: op =
 *				 RuleMeasure; for an aggregate a = pool offset of the
 *				 event column, arg = comparison (RT_EQ .. RT_GE) and one
 *				 VALUE item follows; for first and last, a leaf whose
 *				 event's time the window tests.
 *	 IN_LIST	 the list's VALUE item follows, then the where subtree if
 *				 flags has RULE_HAS_WHERE, then the window operands as VALUE
 *				 items; arg = RuleWindow, or 0 for ever (as release 0.1
 *				 stored every list condition).
 *	 IN_SEGMENT  a = pool offset of the segment name; op = 0, or RT_GE for
 *				 "for at least", RT_LT for "for less than", and then one
 *				 DURATION VALUE item follows (span 2).
 *	 BUCKET 	 the contact's bucket (0 .. RULE_BUCKETS - 1) under a seed:
 *				 a = pool offset of the seed, op = comparison (RT_EQ ..
 *				 RT_GE), b = the number compared with (0 .. RULE_BUCKETS);
 *				 flags = RULE_AS_SAMPLE when written "sample P% seed s"
 *				 (op RT_LT, b = P * 100).  A leaf.
 *	 VALUE		 op = RuleValueKind; STRING and NUMBER: a = pool offset,
 *				 b = length; AGO, FROM_NOW, DURATION: a = amount, arg = unit.
 */
#ifndef SEGMENTS_RULE_FORMAT_H
#define SEGMENTS_RULE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define RULE_FORMAT_VERSION 1

/* Documented limits (README, "Limits"). */
#define RULE_MAX_DEPTH		100 	/* nesting of parentheses, not, where */
#define RULE_MAX_ITEMS		10000	/* conditions, operators and values */
#define RULE_MAX_PATH		32		/* components of a field path */
#define RULE_MAX_BYTES		(1024 * 1024)	/* stored size */
#define RULE_MAX_AMOUNT		2147483647u 	/* counts and time amounts */
#define RULE_BUCKETS		10000	/* a contact's bucket: 0 .. 9999 */

/*
 * Tree depth (operator items on a path) that a rule within RULE_MAX_DEPTH can
 * reach: or/and alternate with one parenthesis per two levels, and a where
 * clause holds an or of ands inside its own parentheses.  Readers of
 * untrusted trees (receive, JSON) stop there before recursing further.
 */
#define RULE_MAX_TREE_DEPTH (2 * RULE_MAX_DEPTH + 3)

typedef enum RuleItemType
{
	RI_AND = 1,
	RI_OR,
	RI_NOT,
	RI_TRUE,
	RI_FALSE,
	RI_FIELD,
	RI_EVENT,
	RI_IN_LIST,
	RI_IN_SEGMENT,
	RI_VALUE,
	RI_MEASURE,
	RI_BUCKET
} RuleItemType;

#define RI_LAST RI_BUCKET

/* What an event condition measures, beside the count. */
typedef enum RuleMeasure
{
	RM_COUNT_DISTINCT = 1,		/* count(distinct column) */
	RM_SUM,
	RM_AVG,
	RM_MIN,
	RM_MAX,
	RM_FIRST,					/* the earliest matching event's time */
	RM_LAST 					/* the latest */
} RuleMeasure;

#define RM_LAST_MEASURE RM_LAST
#define RM_IS_AGGREGATE(m) ((m) >= RM_COUNT_DISTINCT && (m) <= RM_MAX)

typedef enum RuleTestOp
{
	RT_EQ = 1,
	RT_NE,
	RT_LT,
	RT_LE,
	RT_GT,
	RT_GE,
	RT_IN,
	RT_BETWEEN,
	RT_IS_NULL,
	RT_CONTAINS,
	RT_STARTS_WITH,
	RT_ENDS_WITH,
	RT_LIKE,
	RT_ILIKE,
	RT_WITHIN_LAST,
	RT_WITHIN_NEXT
} RuleTestOp;

#define RT_IS_COMPARISON(op)	((op) >= RT_EQ && (op) <= RT_GE)
#define RT_LAST 				RT_WITHIN_NEXT

typedef enum RuleValueKind
{
	RV_STRING = 1,
	RV_NUMBER,
	RV_TRUE,
	RV_FALSE,
	RV_NOW,
	RV_AGO,						/* amount unit ago */
	RV_FROM_NOW,				/* amount unit from now */
	RV_DURATION 				/* amount unit, of within last/next */
} RuleValueKind;

#define RV_LAST RV_DURATION

/* Values that read the clock: now, ago, from now. */
#define RV_IS_RELATIVE(kind) ((kind) == RV_NOW || (kind) == RV_AGO || (kind) == RV_FROM_NOW)

/*
 * The kind a jsonb property is compared as, for a literal: RV_STRING,
 * RV_NUMBER, RV_TRUE (a boolean) or RV_NOW (a time).
 */
#define RV_JSON_KIND(kind) \
	(RV_IS_RELATIVE(kind) ? RV_NOW : (kind) == RV_FALSE ? RV_TRUE : (kind))

typedef enum RuleUnit
{
	RU_MINUTE = 1,
	RU_HOUR,
	RU_DAY,
	RU_WEEK,
	RU_MONTH,
	RU_YEAR
} RuleUnit;

#define RU_LAST RU_YEAR

typedef enum RuleWindow
{
	RW_EVER = 1,
	RW_WITHIN_LAST,
	RW_SINCE,
	RW_BEFORE,
	RW_BETWEEN
} RuleWindow;

#define RW_LAST RW_BETWEEN

/* item flags */
#define RULE_NEGATED	0x01	/* FIELD: not in, not between, is not null ... */
#define RULE_HAS_WHERE	0x02	/* EVENT, IN_LIST: a where subtree follows */
#define RULE_HAS_MEASURE 0x04	/* EVENT: a MEASURE item follows (after where) */
#define RULE_HAS_SOURCE 0x08	/* EVENT: the source's name follows the kind */
#define RULE_AS_SAMPLE	0x10	/* BUCKET: written as sample P% seed s */

typedef struct RuleItem
{
	uint8_t		type;			/* RuleItemType */
	uint8_t		op;
	uint8_t		arg;
	uint8_t		flags;
	uint32_t	span;			/* items in this subtree, itself included */
	uint32_t	a;
	uint32_t	b;
} RuleItem;

typedef struct RuleBody
{
	uint8_t		version;		/* RULE_FORMAT_VERSION */
	uint8_t		reserved[3];	/* zero */
	uint32_t	nitems;
	RuleItem	items[];
} RuleBody;

#define RULE_BODY_ITEMS_OFFSET	offsetof(RuleBody, items)
#define RULE_POOL(body) ((const char *) ((body)->items + (body)->nitems))

/* The string at a pool offset of a validated rule. */
#define RULE_STR(body, off) (RULE_POOL(body) + (off))

/* Next sibling of an item. */
#define RULE_NEXT(item) ((item) + (item)->span)

#endif							/* SEGMENTS_RULE_FORMAT_H */
