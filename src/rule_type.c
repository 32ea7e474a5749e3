/*
 * rule_type.c
 *	  The segments.rule SQL type: text input and output, binary send and
 *	  receive, equality and hashing.
 *
 * Every constructor ends in rule_encode(), which stores one canonical form
 * per meaning, so equality and hashing work on the stored bytes.
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"

#include "rule_type.h"

PG_FUNCTION_INFO_V1(rule_in);
PG_FUNCTION_INFO_V1(rule_out);
PG_FUNCTION_INFO_V1(rule_send);
PG_FUNCTION_INFO_V1(rule_recv);
PG_FUNCTION_INFO_V1(rule_eq);
PG_FUNCTION_INFO_V1(rule_ne);
PG_FUNCTION_INFO_V1(rule_hash);
PG_FUNCTION_INFO_V1(rule_hash_extended);

/* Bytes of one item on the wire: four bytes and three 32-bit integers. */
#define RULE_WIRE_ITEM_SIZE 16

static int
error_sqlstate(RuleErrorKind kind)
{
	switch (kind)
	{
		case RULE_ERR_SYNTAX:
			return ERRCODE_SYNTAX_ERROR;
		case RULE_ERR_OUT_OF_RANGE:
			return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;
		case RULE_ERR_TOO_DEEP:
			return ERRCODE_STATEMENT_TOO_COMPLEX;
		case RULE_ERR_TOO_BIG:
			return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		case RULE_ERR_CORRUPT:
			return ERRCODE_INVALID_BINARY_REPRESENTATION;
		case RULE_ERR_INVALID:
		case RULE_OK:
			break;
	}
	return ERRCODE_INVALID_PARAMETER_VALUE;
}

/*
 * Report an error of the rule core.  text, when given, is the rule text the
 * error's byte position refers to; the position is shown in characters.
 */
static void
report_rule_error(const RuleError *err, const char *text)
{
	const char *message = err->kind == RULE_ERR_SYNTAX ? "syntax error in rule" : err->message;

	if (text && err->position >= 0)
		ereport(ERROR,
				errcode(error_sqlstate(err->kind)),
				errmsg("%s at character %d", message,
					   pg_mbstrlen_with_len(text, err->position) + 1),
				err->detail[0] ? errdetail("%s", err->detail) : 0);
	ereport(ERROR,
			errcode(error_sqlstate(err->kind)),
			errmsg("%s", message),
			err->detail[0] ? errdetail("%s", err->detail) : 0);
}

const RuleBody *
rule_datum_body(Datum d)
{
	struct varlena *value = PG_DETOAST_DATUM(d);
	const RuleBody *body = (const RuleBody *) VARDATA(value);

	if (body->version != RULE_FORMAT_VERSION)
		ereport(ERROR,
				errcode(ERRCODE_DATA_CORRUPTED),
				errmsg("unsupported rule format version %d", body->version),
				errdetail("This version of the extension reads format version %d.",
						  RULE_FORMAT_VERSION));
	return body;
}

Datum
rule_datum_from_tree(const RuleNode *root, RuleArena *arena)
{
	RuleError	err;
	size_t		len;
	char	   *value = rule_encode(root, arena, VARHDRSZ, &len, &err);

	if (value == NULL)
		report_rule_error(&err, NULL);
	SET_VARSIZE(value, len);
	return PointerGetDatum(value);
}

Datum
rule_in(PG_FUNCTION_ARGS)
{
	char	   *text = PG_GETARG_CSTRING(0);
	RuleArena	arena;
	RuleError	err;
	RuleNode   *root;
	Datum		result;

	rule_arena_init(&arena);
	root = rule_parse(text, &arena, &err);
	if (root == NULL)
		report_rule_error(&err, text);
	result = rule_datum_from_tree(root, &arena);
	PG_RETURN_DATUM(result);
}

Datum
rule_out(PG_FUNCTION_ARGS)
{
	const RuleBody *body = PG_GETARG_RULE_BODY(0);
	RuleArena	arena;

	rule_arena_init(&arena);
	PG_RETURN_CSTRING(rule_print(body, &arena));
}

/*
 * Wire format: the version byte, the item count, each item as four bytes
 * and three 32-bit integers in network order, then the pool's length and
 * bytes.  Receive re-checks everything and re-encodes, so a client can send
 * any valid (even non-canonical) tree.
 */
Datum
rule_send(PG_FUNCTION_ARGS)
{
	struct varlena *value = PG_DETOAST_DATUM(PG_GETARG_DATUM(0));
	const RuleBody *body = rule_datum_body(PointerGetDatum(value));
	size_t		poolsize = VARSIZE(value) - VARHDRSZ - RULE_BODY_ITEMS_OFFSET -
		body->nitems * sizeof(RuleItem);
	StringInfoData buf;
	uint32		i;

	pq_begintypsend(&buf);
	pq_sendbyte(&buf, body->version);
	pq_sendint32(&buf, body->nitems);
	for (i = 0; i < body->nitems; i++)
	{
		const RuleItem *item = &body->items[i];

		pq_sendbyte(&buf, item->type);
		pq_sendbyte(&buf, item->op);
		pq_sendbyte(&buf, item->arg);
		pq_sendbyte(&buf, item->flags);
		pq_sendint32(&buf, item->span);
		pq_sendint32(&buf, item->a);
		pq_sendint32(&buf, item->b);
	}
	pq_sendint32(&buf, (uint32) poolsize);
	pq_sendbytes(&buf, RULE_POOL(body), (int) poolsize);
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
recv_error(const char *detail, uint32 value)
{
	ereport(ERROR,
			errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			errmsg("invalid binary rule"),
			errdetail(detail, value));
}

/*
 * The pool's strings are stored as they come: each must be valid in the
 * database encoding (22021 otherwise), as text input would have made it,
 * or the catalog could not be dumped and reloaded.
 */
static void
verify_pool_encoding(const char *pool, uint32 poolsize)
{
	const char *end = pool + poolsize;

	while (pool < end)
	{
		const char *nul = memchr(pool, '\0', end - pool);

		(void) pg_verify_mbstr(GetDatabaseEncoding(), pool, (int) ((nul ? nul : end) - pool), false);
		if (nul == NULL)
			break;
		pool = nul + 1;
	}
}

Datum
rule_recv(PG_FUNCTION_ARGS)
{
	StringInfo	msg = (StringInfo) PG_GETARG_POINTER(0);
	RuleArena	arena;
	RuleError	err;
	RuleBody   *body;
	size_t		len;
	uint8		version;
	uint32		nitems,
				poolsize,
				i;

	version = (uint8) pq_getmsgbyte(msg);
	if (version != RULE_FORMAT_VERSION)
		recv_error("Format version %u is not supported.", version);
	nitems = pq_getmsgint(msg, 4);
	if (nitems < 1)
		recv_error("The rule has %u items.", nitems);
	if (nitems > RULE_MAX_ITEMS ||
		(size_t) nitems * RULE_WIRE_ITEM_SIZE > (size_t) (msg->len - msg->cursor))
		recv_error("The rule claims %u items, more than the message holds or the limit allows.",
				   nitems);

	len = RULE_BODY_ITEMS_OFFSET + nitems * sizeof(RuleItem);
	body = palloc0(len);
	body->version = version;
	body->nitems = nitems;
	for (i = 0; i < nitems; i++)
	{
		RuleItem   *item = &body->items[i];

		item->type = (uint8) pq_getmsgbyte(msg);
		item->op = (uint8) pq_getmsgbyte(msg);
		item->arg = (uint8) pq_getmsgbyte(msg);
		item->flags = (uint8) pq_getmsgbyte(msg);
		item->span = pq_getmsgint(msg, 4);
		item->a = pq_getmsgint(msg, 4);
		item->b = pq_getmsgint(msg, 4);
	}
	poolsize = pq_getmsgint(msg, 4);
	if (poolsize > RULE_MAX_BYTES || poolsize != (uint32) (msg->len - msg->cursor))
		recv_error("The string pool length %u does not match the rest of the message.",
				   poolsize);
	body = repalloc(body, len + poolsize);
	pq_copymsgbytes(msg, (char *) body + len, (int) poolsize);
	verify_pool_encoding((char *) body + len, poolsize);
	len += poolsize;

	if (!rule_validate(body, len, &err))
		report_rule_error(&err, NULL);
	rule_arena_init(&arena);
	PG_RETURN_DATUM(rule_datum_from_tree(rule_decode(body, &arena), &arena));
}

static bool
rules_equal(FunctionCallInfo fcinfo)
{
	struct varlena *a = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	struct varlena *b = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(1));
	bool		equal;

	equal = VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	return equal;
}

Datum
rule_eq(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(rules_equal(fcinfo));
}

Datum
rule_ne(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!rules_equal(fcinfo));
}

Datum
rule_hash(PG_FUNCTION_ARGS)
{
	struct varlena *value = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	Datum		hash = hash_any((const unsigned char *) VARDATA_ANY(value),
								(int) VARSIZE_ANY_EXHDR(value));

	PG_FREE_IF_COPY(value, 0);
	return hash;
}

Datum
rule_hash_extended(PG_FUNCTION_ARGS)
{
	struct varlena *value = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(0));
	Datum		hash = hash_any_extended((const unsigned char *) VARDATA_ANY(value),
										 (int) VARSIZE_ANY_EXHDR(value),
										 (uint64) PG_GETARG_INT64(1));

	PG_FREE_IF_COPY(value, 0);
	return hash;
}
