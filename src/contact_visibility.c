/*
 * contact_visibility.c
 *	  Which contacts the current role can read: the test of the policies
 *	  on segments.membership and segments.membership_log for a role that
 *	  row-level security limits on the contacts table.
 *
 * segments._contact_visible(contact) reads the keys of the contacts
 * table as the calling role, so its privileges and the table's policies
 * apply, once per query (the set lives in the calling expression's
 * memory), and then answers each row by one lookup.  The keys stream
 * from the executor into the set without a result table in between.
 * Integer keys go into a compressed bitmap: chunks of 65,536 consecutive
 * keys, each a sorted array while it holds few keys and a bitmap once it
 * holds many, so that the keys of a million contacts numbered in order
 * take a few hundred kilobytes and a lookup touches memory in the cache.
 * Other keys go into a hash table hashed by their type's functions.
 * (A subquery in the policy would be planned as a scan per row once the
 * keys do not fit in work_mem; a set-returning function's keys are
 * copied twice before they are hashed, and a hash table of a million
 * keys misses the cache on every lookup.)
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "tcop/dest.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "citus.h"
#include "contact_data.h"

/* Integer keys: chunks of CHUNK_SPAN consecutive keys. */
#define CHUNK_BITS		16
#define CHUNK_SPAN		(1 << CHUNK_BITS)
/* A chunk holding more keys than this is a bitmap (8 kB, as the array). */
#define CHUNK_ARRAY_MAX	(CHUNK_SPAN / 16)

typedef struct KeyChunk
{
	int			n;				/* keys in values; -1 when a bitmap */
	int			capacity;
	uint16	   *values;			/* the keys' low bits, sorted once read */
	uint64	   *bits;
} KeyChunk;

typedef struct ChunkEntry
{
	int64		high;			/* the keys' high bits */
	char		status;
	KeyChunk   *chunk;
} ChunkEntry;

#define SH_PREFIX		chunkmap
#define SH_ELEMENT_TYPE	ChunkEntry
#define SH_KEY_TYPE		int64
#define SH_KEY			high
#define SH_HASH_KEY(tb, k)	murmurhash32((uint32) (k) ^ (uint32) ((uint64) (k) >> 32))
#define SH_EQUAL(tb, a, b)	((a) == (b))
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct VisibleContacts
{
	Oid			keytype;
	MemoryContext cxt;			/* the set's own */
	/* the snapshot the keys were read with */
	TransactionId xmin;
	TransactionId xmax;
	CommandId	curcid;
	/* integer keys */
	chunkmap_hash *chunks;
	KeyChunk   *last;			/* the chunk of the last key asked for */
	int64		last_high;
	/* other keys */
	HTAB	   *keys;
	int16		typlen;
	bool		byval;
} VisibleContacts;

static bool
integer_key(Oid keytype)
{
	return keytype == INT8OID || keytype == INT4OID || keytype == INT2OID;
}

static int64
integer_value(Oid keytype, Datum key)
{
	switch (keytype)
	{
		case INT2OID:
			return DatumGetInt16(key);
		case INT4OID:
			return DatumGetInt32(key);
		default:
			return DatumGetInt64(key);
	}
}

static KeyChunk *
find_chunk(VisibleContacts *set, int64 high)
{
	ChunkEntry *entry;

	if (set->last != NULL && set->last_high == high)
		return set->last;
	entry = chunkmap_lookup(set->chunks, high);
	if (entry == NULL)
		return NULL;
	set->last = entry->chunk;
	set->last_high = high;
	return entry->chunk;
}

static void
add_integer(VisibleContacts *set, int64 value)
{
	int64		high = value >> CHUNK_BITS;
	uint16		low = (uint16) (value & (CHUNK_SPAN - 1));
	KeyChunk   *chunk = find_chunk(set, high);

	if (chunk == NULL)
	{
		bool		found;
		ChunkEntry *entry = chunkmap_insert(set->chunks, high, &found);

		chunk = MemoryContextAllocZero(set->cxt, sizeof(KeyChunk));
		entry->chunk = chunk;
		set->last = chunk;
		set->last_high = high;
	}
	if (chunk->n < 0)
	{
		chunk->bits[low / 64] |= UINT64CONST(1) << (low % 64);
		return;
	}
	if (chunk->n == CHUNK_ARRAY_MAX)
	{
		int			i;

		chunk->bits = MemoryContextAllocZero(set->cxt, CHUNK_SPAN / 8);
		for (i = 0; i < chunk->n; i++)
			chunk->bits[chunk->values[i] / 64] |= UINT64CONST(1) << (chunk->values[i] % 64);
		pfree(chunk->values);
		chunk->values = NULL;
		chunk->n = -1;
		chunk->bits[low / 64] |= UINT64CONST(1) << (low % 64);
		return;
	}
	if (chunk->n == chunk->capacity)
	{
		chunk->capacity = chunk->capacity == 0 ? 16 : chunk->capacity * 2;
		chunk->values = chunk->values == NULL
			? MemoryContextAlloc(set->cxt, sizeof(uint16) * chunk->capacity)
			: repalloc(chunk->values, sizeof(uint16) * chunk->capacity);
	}
	chunk->values[chunk->n++] = low;
}

static int
compare_low(const void *a, const void *b)
{
	return (int) *(const uint16 *) a - (int) *(const uint16 *) b;
}

static bool
contains_integer(VisibleContacts *set, int64 value)
{
	KeyChunk   *chunk = find_chunk(set, value >> CHUNK_BITS);
	uint16		low = (uint16) (value & (CHUNK_SPAN - 1));
	int			lo,
				hi;

	if (chunk == NULL)
		return false;
	if (chunk->n < 0)
		return (chunk->bits[low / 64] >> (low % 64)) & 1;
	lo = 0;
	hi = chunk->n - 1;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (chunk->values[mid] == low)
			return true;
		if (chunk->values[mid] < low)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

static void
add_key(VisibleContacts *set, Datum key)
{
	bool		found;
	Datum	   *entry;

	if (set->chunks != NULL)
	{
		add_integer(set, integer_value(set->keytype, key));
		return;
	}
	entry = hash_search(set->keys, &key, HASH_ENTER, &found);
	if (!found && !set->byval)
	{
		MemoryContext executor = MemoryContextSwitchTo(set->cxt);

		*entry = datumCopy(key, false, set->typlen);
		MemoryContextSwitchTo(executor);
	}
}

/* The set is read: sort the arrays of the chunks. */
static void
finish_keys(VisibleContacts *set)
{
	chunkmap_iterator it;
	ChunkEntry *entry;

	if (set->chunks == NULL)
		return;
	chunkmap_start_iterate(set->chunks, &it);
	while ((entry = chunkmap_iterate(set->chunks, &it)) != NULL)
		if (entry->chunk->n > 1)
			qsort(entry->chunk->values, entry->chunk->n, sizeof(uint16), compare_low);
}

static bool
contains_key(VisibleContacts *set, Datum key)
{
	if (set->chunks != NULL)
		return contains_integer(set, integer_value(set->keytype, key));
	return hash_search(set->keys, &key, HASH_FIND, NULL) != NULL;
}

/* The receiver the contacts' keys stream into. */
typedef struct KeyReceiver
{
	DestReceiver pub;
	VisibleContacts *set;
} KeyReceiver;

static bool
receive_key(TupleTableSlot *slot, DestReceiver *self)
{
	KeyReceiver *r = (KeyReceiver *) self;
	bool		isnull;
	Datum		key = slot_getattr(slot, 1, &isnull);

	if (!isnull)
		add_key(r->set, key);
	return true;
}

/* The keys read must be of the type asked about. */
static void
receiver_startup(DestReceiver *self, int operation, TupleDesc desc)
{
	KeyReceiver *r = (KeyReceiver *) self;
	Oid			keytype = getBaseType(TupleDescAttr(desc, 0)->atttypid);

	if (keytype != r->set->keytype)
		ereport(ERROR,
				errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("the contact key is of type %s, not %s",
					   format_type_be(keytype), format_type_be(r->set->keytype)));
}

static void
receiver_shutdown(DestReceiver *self)
{
}

static void
receiver_destroy(DestReceiver *self)
{
}

/*
 * The keys of the attached contacts table that the current role can read
 * with the active snapshot, as keys of type keytype (the membership's
 * contact column), in a context of their own under parent.
 */
/* The attached contacts table (SPI connected, its row read). */
static Oid
contacts_relid(void)
{
	return DatumGetObjectId(DirectFunctionCall1(regclassin,
												CStringGetDatum(SPI_getvalue(SPI_tuptable->vals[0],
																			 SPI_tuptable->tupdesc, 2))));
}

static VisibleContacts *
read_visible_contacts(Oid keytype, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "segments visible contacts", ALLOCSET_DEFAULT_SIZES);
	VisibleContacts *set = MemoryContextAllocZero(cxt, sizeof(VisibleContacts));
	Snapshot	snapshot = GetActiveSnapshot();
	KeyReceiver receiver;
	SPIExecuteOptions options;
	char	   *query;
	int			level;

	set->keytype = keytype;
	set->cxt = cxt;
	set->xmin = snapshot->xmin;
	set->xmax = snapshot->xmax;
	set->curcid = snapshot->curcid;
	if (integer_key(keytype))
		set->chunks = chunkmap_create(cxt, 64, NULL);
	else
	{
		TypeCacheEntry *type = lookup_type_cache(keytype, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);

		if (!OidIsValid(type->hash_proc) || !OidIsValid(type->eq_opr))
			ereport(ERROR,
					errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					errmsg("the contact key type %s has no hash function", format_type_be(keytype)));
		set->keys = contact_key_table(type, sizeof(Datum), 1024, cxt);
		get_typlenbyval(keytype, &set->typlen, &set->byval);
	}

	SPI_connect();
	level = citus_catalog_read_begin();
	/* a key per tenant as segments.contact_key, as the policies give it */
	if (SPI_execute("SELECT CASE WHEN pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'key_per_tenant'"
					" OPERATOR(pg_catalog.=) 'true'"
					" THEN pg_catalog.format('SELECT ROW(c.%I, c.%I)::segments.contact_key FROM %I.%I c',"
					"  a.tenant_column, a.contact_column, a.table_schema, a.table_name)"
					" ELSE pg_catalog.format('SELECT c.%I FROM %I.%I c', a.contact_column, a.table_schema, a.table_name) END,"
					" pg_catalog.format('%I.%I', a.table_schema, a.table_name)"
					" FROM segments.attached a WHERE a.role OPERATOR(pg_catalog.=) 'contacts'", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the attached contacts table");
	citus_catalog_read_end(level);
	if (SPI_processed != 1)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("contacts are not attached"));
	query = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	/*
	 * On a Citus cluster this runs in each shard's query: the contacts of
	 * other shards are not to be read from there.
	 */
	if (level >= 0 && citus_distributed(contacts_relid()))
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("the members of a Citus cluster cannot be limited by the contacts' row-level security"),
				errdetail("Role %s reads the membership under the contacts table's row-level security, which each shard would have to check against every other shard's contacts.",
						  GetUserNameFromId(GetUserId(), false)),
				errhint("Read the membership as a role the contacts' policies do not limit, or with the contacts joined by tenant."));

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = receive_key;
	receiver.pub.rStartup = receiver_startup;
	receiver.pub.rShutdown = receiver_shutdown;
	receiver.pub.rDestroy = receiver_destroy;
	receiver.pub.mydest = DestNone;
	receiver.set = set;

	memset(&options, 0, sizeof(options));
	options.read_only = true;
	options.dest = (DestReceiver *) &receiver;
	if (SPI_execute_extended(query, &options) < 0)
		elog(ERROR, "could not read the keys of the contacts table");
	SPI_finish();
	finish_keys(set);
	return set;
}

PG_FUNCTION_INFO_V1(segments_contact_visible);

/*
 * segments._contact_visible(contact anyelement) RETURNS boolean
 *
 * The set is kept with the calling expression, for one query; an
 * expression that outlives its snapshot (PL/pgSQL keeps those of simple
 * expressions for the transaction) reads the keys again.
 */
Datum
segments_contact_visible(PG_FUNCTION_ARGS)
{
	VisibleContacts *set = fcinfo->flinfo->fn_extra;
	Snapshot	snapshot = GetActiveSnapshot();

	if (set != NULL && (set->xmin != snapshot->xmin || set->xmax != snapshot->xmax ||
						set->curcid != snapshot->curcid))
	{
		MemoryContextDelete(set->cxt);
		set = fcinfo->flinfo->fn_extra = NULL;
	}
	if (set == NULL)
	{
		set = read_visible_contacts(getBaseType(get_fn_expr_argtype(fcinfo->flinfo, 0)),
									 fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = set;
	}
	PG_RETURN_BOOL(contains_key(set, PG_GETARG_DATUM(0)));
}

PG_FUNCTION_INFO_V1(segments_sees_all_contacts);

/*
 * segments._sees_all_contacts() RETURNS boolean
 *
 * Whether row-level security leaves the current role every row of the
 * contacts table, for the policies of the membership, its log and the
 * overrides.  Kept with the calling expression for one snapshot, as
 * _contact_visible() keeps its keys: on a Citus cluster the policies call
 * it for each row (Citus takes no subquery in them).
 */
typedef struct SeesAll
{
	TransactionId xmin;
	TransactionId xmax;
	CommandId	curcid;
	Oid			user;
	bool		sees_all;
} SeesAll;

Datum
segments_sees_all_contacts(PG_FUNCTION_ARGS)
{
	SeesAll    *known = fcinfo->flinfo->fn_extra;
	Snapshot	snapshot = GetActiveSnapshot();
	int			level;
	bool		isnull = true;

	if (known != NULL && known->xmin == snapshot->xmin && known->xmax == snapshot->xmax &&
		known->curcid == snapshot->curcid && known->user == GetUserId())
		PG_RETURN_BOOL(known->sees_all);
	if (known == NULL)
		known = fcinfo->flinfo->fn_extra = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(SeesAll));
	known->xmin = snapshot->xmin;
	known->xmax = snapshot->xmax;
	known->curcid = snapshot->curcid;
	known->user = GetUserId();
	SPI_connect();
	level = citus_catalog_read_begin();
	if (SPI_execute("SELECT NOT pg_catalog.row_security_active(pg_catalog.format('%I.%I', a.table_schema, a.table_name)) "
					"FROM segments.attached a WHERE a.role OPERATOR(pg_catalog.=) 'contacts'", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the attached contacts table");
	citus_catalog_read_end(level);
	if (SPI_processed == 1)
		known->sees_all = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	/* no contacts attached: NULL, as a policy reads false */
	if (isnull)
	{
		known->sees_all = false;
		fcinfo->flinfo->fn_extra = NULL;
		PG_RETURN_NULL();
	}
	PG_RETURN_BOOL(known->sees_all);
}
