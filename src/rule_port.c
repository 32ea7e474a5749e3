/*
 * rule_port.c
 *	  Memory for the rule core: palloc inside the server, tracked malloc
 *	  blocks when built standalone for the fuzzer.
 */
#include "rule_port.h"

#include <string.h>

#ifdef SEGMENTS_STANDALONE
#include <stdlib.h>

typedef struct ArenaBlock
{
	struct ArenaBlock *next;
	max_align_t data[];
} ArenaBlock;

void
rule_arena_init(RuleArena *arena)
{
	arena->blocks = NULL;
}

void *
rule_alloc(RuleArena *arena, size_t size)
{
	ArenaBlock *block = calloc(1, sizeof(ArenaBlock) + (size ? size : 1));

	if (block == NULL)
		abort();
	block->next = arena->blocks;
	arena->blocks = block;
	return block->data;
}

int
rule_clip_length(const char *s, int len, int limit)
{
	if (len <= limit)
		return len;
	/* back off over UTF-8 continuation bytes */
	while (limit > 0 && (s[limit] & 0xC0) == 0x80)
		limit--;
	return limit;
}

void
rule_arena_free(RuleArena *arena)
{
	ArenaBlock *block = arena->blocks;

	while (block)
	{
		ArenaBlock *next = block->next;

		free(block);
		block = next;
	}
	arena->blocks = NULL;
}

#else							/* in the server */

void
rule_arena_init(RuleArena *arena)
{
	arena->blocks = NULL;
}

void *
rule_alloc(RuleArena *arena, size_t size)
{
	return palloc0(size);
}

void
rule_arena_free(RuleArena *arena)
{
	/* memory belongs to the current memory context */
}

int
rule_clip_length(const char *s, int len, int limit)
{
	return len <= limit ? len : pg_mbcliplen(s, len, limit);
}

#endif

void
rule_buf_init(RuleBuf *buf, RuleArena *arena)
{
	buf->arena = arena;
	buf->cap = 64;
	buf->len = 0;
	buf->data = rule_alloc(arena, buf->cap);
}

void
rule_buf_append(RuleBuf *buf, const char *s, size_t n)
{
	if (buf->len + n + 1 > buf->cap)
	{
		size_t		cap = buf->cap;
		char	   *data;

		while (buf->len + n + 1 > cap)
			cap *= 2;
		/* the old block stays in the arena; growth is geometric */
		data = rule_alloc(buf->arena, cap);
		memcpy(data, buf->data, buf->len);
		buf->data = data;
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, s, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
}

void
rule_buf_puts(RuleBuf *buf, const char *s)
{
	rule_buf_append(buf, s, strlen(s));
}

void
rule_buf_putc(RuleBuf *buf, char c)
{
	rule_buf_append(buf, &c, 1);
}

char *
rule_strndup(RuleArena *arena, const char *s, size_t n)
{
	char	   *copy = rule_alloc(arena, n + 1);

	memcpy(copy, s, n);
	copy[n] = '\0';
	return copy;
}
