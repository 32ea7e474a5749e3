/*
 * fuzz_rule.c
 *	  libFuzzer harness for the rule core: parser, encoder, validator,
 *	  decoder and printer, built without PostgreSQL (SEGMENTS_STANDALONE).
 *
 * An input starting with 'B' is a binary body (what binary receive gets);
 * anything else is rule text (what the type's input function gets).  Besides
 * the sanitizers' own checks, the harness aborts when a round trip that must
 * be exact is not:
 *
 *	 text:	 parse -> encode -> print -> parse -> encode gives the same bytes
 *			 and the same text, and decode -> encode of the first body gives
 *			 the same bytes; a failure carries a kind, a message and a
 *			 position inside the text.
 *	 binary: a body that validates prints without crashing; re-encoding it
 *			 (what receive stores) either fails with a rule error or gives a
 *			 rule whose text parses back to the same bytes and text.
 *
 * Build and run: make fuzz; test/fuzz/run.sh.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_tree.h"

#define MAX_INPUT	(64 * 1024)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fail(const char *input, size_t inlen, const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "fuzz_rule: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ninput (%zu bytes): %.*s\n", inlen, (int) inlen, input);
	abort();
}

/* An error must say what went wrong, and where, if it says where. */
static void
check_error(const RuleError *err, int textlen, const char *input, size_t inlen)
{
	if (err->kind == RULE_OK)
		fail(input, inlen, "failure reported with kind RULE_OK");
	if (memchr(err->message, '\0', sizeof(err->message)) == NULL)
		fail(input, inlen, "error message not terminated");
	if (memchr(err->detail, '\0', sizeof(err->detail)) == NULL)
		fail(input, inlen, "error detail not terminated");
	if (err->message[0] == '\0')
		fail(input, inlen, "empty error message (kind %d)", (int) err->kind);
	if (err->position < -1 || err->position > textlen)
		fail(input, inlen, "error position %d outside [-1, %d]: %s",
			 err->position, textlen, err->message);
}

/* Errors rule_encode may report for a tree that parsed. */
static bool
encode_error_allowed(RuleErrorKind kind)
{
	return kind == RULE_ERR_TOO_DEEP || kind == RULE_ERR_TOO_BIG ||
		kind == RULE_ERR_INVALID || kind == RULE_ERR_OUT_OF_RANGE;
}

static void
check_same_body(const char *a, size_t alen, const char *b, size_t blen,
				const char *what, const char *input, size_t inlen)
{
	if (alen != blen || memcmp(a, b, alen) != 0)
		fail(input, inlen, "%s: encodings differ (%zu vs %zu bytes)",
			 what, alen, blen);
}

/*
 * The text of an encoded rule must parse and encode to the same bytes, and
 * print the same text again.  Returns the text.
 */
static char *
check_text_round_trip(const char *body, size_t len, RuleArena *arena,
					  const char *input, size_t inlen)
{
	RuleError	err;
	RuleNode   *node;
	char	   *text;
	char	   *again;
	char	   *text2;
	size_t		againlen;

	text = rule_print((const RuleBody *) body, arena);
	if (text == NULL)
		fail(input, inlen, "rule_print returned NULL");

	memset(&err, 0, sizeof(err));
	node = rule_parse(text, arena, &err);
	if (node == NULL)
		fail(input, inlen, "printed text does not parse: %s (at %d)\ntext: %s",
			 err.message, err.position, text);

	memset(&err, 0, sizeof(err));
	again = rule_encode(node, arena, 0, &againlen, &err);
	if (again == NULL)
		fail(input, inlen, "printed text does not encode: %s\ntext: %s",
			 err.message, text);
	check_same_body(body, len, again, againlen, "print -> parse -> encode",
					input, inlen);

	text2 = rule_print((const RuleBody *) again, arena);
	if (text2 == NULL || strcmp(text, text2) != 0)
		fail(input, inlen, "printed text changes:\n1: %s\n2: %s",
			 text, text2 ? text2 : "(null)");
	return text;
}

static void
fuzz_text(const uint8_t *data, size_t size, RuleArena *arena)
{
	char	   *text;
	int			textlen;
	RuleError	err;
	RuleNode   *node;
	RuleNode   *decoded;
	char	   *body;
	char	   *again;
	size_t		len;
	size_t		againlen;

	text = malloc(size + 1);
	if (text == NULL)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	textlen = (int) strlen(text);	/* the parser stops at a NUL */

	memset(&err, 0, sizeof(err));
	node = rule_parse(text, arena, &err);
	if (node == NULL)
	{
		check_error(&err, textlen, text, size);
		free(text);
		return;
	}

	memset(&err, 0, sizeof(err));
	body = rule_encode(node, arena, 0, &len, &err);
	if (body == NULL)
	{
		check_error(&err, textlen, text, size);
		if (!encode_error_allowed(err.kind))
			fail(text, size, "rule_encode failed with kind %d: %s",
				 (int) err.kind, err.message);
		free(text);
		return;
	}

	memset(&err, 0, sizeof(err));
	if (!rule_validate((const RuleBody *) body, len, &err))
		fail(text, size, "encoded rule does not validate: %s", err.message);

	check_text_round_trip(body, len, arena, text, size);

	decoded = rule_decode((const RuleBody *) body, arena);
	if (decoded == NULL)
		fail(text, size, "rule_decode returned NULL");
	memset(&err, 0, sizeof(err));
	again = rule_encode(decoded, arena, 0, &againlen, &err);
	if (again == NULL)
		fail(text, size, "decoded rule does not encode: %s", err.message);
	check_same_body(body, len, again, againlen, "decode -> encode",
					text, size);

	free(text);
}

static void
fuzz_binary(const uint8_t *data, size_t size, RuleArena *arena)
{
	/* malloc'd exactly to size, so ASan sees any read past the end */
	char	   *body = malloc(size > 0 ? size : 1);
	RuleError	err;
	RuleNode   *decoded;
	char	   *stored;
	size_t		storedlen;

	if (body == NULL)
		return;
	memcpy(body, data, size);

	memset(&err, 0, sizeof(err));
	if (!rule_validate((const RuleBody *) body, size, &err))
	{
		check_error(&err, -1, (const char *) data, size);
		if (err.kind != RULE_ERR_CORRUPT)
			fail((const char *) data, size,
				 "rule_validate failed with kind %d", (int) err.kind);
		free(body);
		return;
	}

	/* Anything that validates is safe to print. */
	if (rule_print((const RuleBody *) body, arena) == NULL)
		fail((const char *) data, size, "rule_print returned NULL");

	/*
	 * What receive stores: the body decoded and encoded again, which applies
	 * every rule of construction and normalizes.  The validator need not
	 * check those, so encoding may refuse the body with a rule error.
	 */
	decoded = rule_decode((const RuleBody *) body, arena);
	if (decoded == NULL)
		fail((const char *) data, size, "rule_decode returned NULL");
	memset(&err, 0, sizeof(err));
	stored = rule_encode(decoded, arena, 0, &storedlen, &err);
	if (stored == NULL)
	{
		check_error(&err, -1, (const char *) data, size);
		if (!encode_error_allowed(err.kind))
			fail((const char *) data, size,
				 "re-encoding a valid body failed with kind %d: %s",
				 (int) err.kind, err.message);
		free(body);
		return;
	}

	memset(&err, 0, sizeof(err));
	if (!rule_validate((const RuleBody *) stored, storedlen, &err))
		fail((const char *) data, size,
			 "re-encoded body does not validate: %s", err.message);
	check_text_round_trip(stored, storedlen, arena, (const char *) data, size);

	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	RuleArena	arena;

	if (size > MAX_INPUT)
		return 0;

	rule_arena_init(&arena);
	if (size > 0 && data[0] == 'B')
		fuzz_binary(data + 1, size - 1, &arena);
	else
		fuzz_text(data, size, &arena);
	rule_arena_free(&arena);
	return 0;
}
