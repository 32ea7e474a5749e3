/*
 * rule_port.h
 *	  What the rule core (parser, printer, encoder, validator) needs from its
 *	  host: memory and a stack check.  Inside the server that is palloc and
 *	  check_stack_depth(); built standalone (SEGMENTS_STANDALONE, for the
 *	  fuzzer) it is malloc, and every allocation is tracked by the arena so
 *	  one call frees a whole parse.
 */
#ifndef SEGMENTS_RULE_PORT_H
#define SEGMENTS_RULE_PORT_H

#ifdef SEGMENTS_STANDALONE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#define rule_check_stack()	((void) 0)
#else
#include "postgres.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#define rule_check_stack()	check_stack_depth()
#endif

#include "rule_format.h"

/*
 * Allocations of one construction.  In the server it only forwards to
 * palloc in the current memory context; standalone it keeps a list of
 * blocks for rule_arena_free().
 */
typedef struct RuleArena
{
	void	   *blocks;			/* standalone: chain of malloc'd blocks */
} RuleArena;

extern void rule_arena_init(RuleArena *arena);
extern void *rule_alloc(RuleArena *arena, size_t size);	/* zeroed */
extern void rule_arena_free(RuleArena *arena);

/* A growing string. */
typedef struct RuleBuf
{
	RuleArena  *arena;
	char	   *data;
	size_t		len;
	size_t		cap;
} RuleBuf;

extern void rule_buf_init(RuleBuf *buf, RuleArena *arena);
extern void rule_buf_append(RuleBuf *buf, const char *s, size_t n);
extern void rule_buf_puts(RuleBuf *buf, const char *s);
extern void rule_buf_putc(RuleBuf *buf, char c);
extern char *rule_strndup(RuleArena *arena, const char *s, size_t n);

/*
 * The longest prefix of s[0..len) of at most limit bytes that ends on a
 * character boundary in the server's encoding (standalone: UTF-8).
 */
extern int	rule_clip_length(const char *s, int len, int limit);

#endif							/* SEGMENTS_RULE_PORT_H */
