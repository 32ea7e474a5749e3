/*
 * contact_data.c
 *	  Reading contacts' data for evaluation: rows, events, lists and
 *	  memberships of a chunk of contacts, one query per table.
 *
 * Each query reads the data of the whole chunk (key = ANY (keys)) by a
 * plan prepared once per Attachments; rows are then grouped by contact,
 * found by key in a hash table.  Events, of which a contact can have
 * many, are streamed instead: a cursor returns them in the chunk's order of
 * contacts, and each contact's are fetched as it is evaluated, so that
 * memory holds one contact's events, not a chunk's.  Only what the rules to
 * evaluate need is
 * read (EvalNeeds): the contacts' keys alone when no rule reads a field,
 * the events of the kinds the rules name from the earliest time they
 * count, and only their contact, kind and time when no where clause reads
 * more (an index of the three can then answer alone).  A single contact
 * (segments.matches(), a write of a few contacts) is a chunk of one.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "contact_data.h"
#include "contact_key.h"
#include "spi_plan.h"

/* The queries, each with the chunk's keys as $1. */
typedef enum ContactQuery
{
	CQ_CONTACTS,
	CQ_CONTACT_KEYS,			/* only the keys: which contacts exist */
	CQ_EVENTS,					/* of kinds $2 */
	CQ_EVENTS_SINCE,			/* of kinds $2, from $3 */
	CQ_EVENT_TIMES,				/* only contact, kind and time */
	CQ_EVENT_TIMES_SINCE,
	CQ_LISTS,
	CQ_LIST_ROWS,				/* the whole rows */
	CQ_MEMBERS,
	CQ_OVERRIDES				/* segment ids, negated when excluded */
} ContactQuery;

#define CQ_COUNT (CQ_OVERRIDES + 1)
#define CQ_IS_EVENTS(which) ((which) >= CQ_EVENTS && (which) <= CQ_EVENT_TIMES_SINCE)
#define CQ_EVENT_QUERIES (CQ_EVENT_TIMES_SINCE - CQ_EVENTS + 1)

/* Each NULL until first used; the events queries per source. */
struct ContactPlans
{
	SPIPlanPtr	plans[CQ_COUNT];
	int			nsources;
	SPIPlanPtr *event_plans;	/* [source * CQ_EVENT_QUERIES + which - CQ_EVENTS] */
};

/* A chunk's events of one source, in the order of the contacts. */
typedef struct ChunkEvents
{
	TupleDesc	desc;			/* NULL: not read; the last column is i + 1 */
	Portal		cursor;			/* NULL: every row fetched */
	SPITupleTable *fetched;		/* rows fetched and not yet handed out ... */
	uint64		next_fetched;	/* ... from this one */
	int			next_contact;	/* contacts before it were handed out */
} ChunkEvents;

/* Events fetched from a chunk's cursor at a time. */
#define EVENTS_FETCH 1000

/*
 * The second column of a query's rows (the first: the contact), grouped;
 * and the third, a timestamptz, when the query has one.
 */
typedef struct Grouped
{
	uint64	   *start;			/* NULL: not read; contact i's values are
								 * [start[i], start[i + 1]) */
	Datum	   *values;
	bool	   *nulls;
	TimestampTz *times;			/* NULL: two columns */
	FormData_pg_attribute attr;
} Grouped;

struct ContactChunk
{
	Attachments *att;
	int			n;
	Datum	   *keys;
	HTAB	   *index;			/* ChunkSlot by key */
	bool		rows_read;
	HeapTuple  *rows;			/* NULL: no such contact */
	TupleDesc	row_desc;
	bool		keys_only;		/* rows of the key column alone */
	bool		events_read;
	ChunkEvents *events;		/* per source */
	/* grouped rows: contact i's are [start[i], start[i + 1]) */
	Grouped		lists;
	Grouped		members;
	Grouped		overrides;
	uint64	   *list_rows_start;	/* NULL: not read */
	HeapTuple  *list_rows;
	TupleDesc	lists_desc;
};

typedef struct ChunkSlot
{
	Datum		key;			/* the hash key: first */
	int			index;
} ChunkSlot;

int
contact_column(TupleDesc desc, const char *column)
{
	int			fnum = SPI_fnumber(desc, column);

	if (fnum <= 0)
		elog(ERROR, "column \"%s\" is missing from the row", column);
	return fnum;
}

Oid
contact_column_type(const AttachedTable *t, const char *column)
{
	return TupleDescAttr(t->tupdesc, contact_column(t->tupdesc, column) - 1)->atttypid;
}

/*
 * A timestamp or date column compared with a timestamptz parameter would
 * be read in the session's TimeZone, which the session sets: the
 * parameter is made the timestamp of a UTC clock instead.
 */
static bool
time_without_zone(Oid type)
{
	type = getBaseType(type);
	return type == TIMESTAMPOID || type == DATEOID;
}

/*
 * The row of t called alias is of the contact of the keys' row k, whose
 * columns are member_key_columns() (unnest() of composites gives theirs).
 */
static char *
key_matches(const Attachments *att, const AttachedTable *t, const char *alias, const char *k)
{
	if (!att->key_per_tenant)
		return psprintf("%s.%s = %s.contact", alias, quote_identifier(t->contact_column), k);
	return psprintf("%s.%s OPERATOR(pg_catalog.=) %s.contact AND %s.%s OPERATOR(pg_catalog.=) %s.tenant",
					alias, quote_identifier(t->contact_column), k,
					alias, quote_identifier(t->tenant_column), k);
}

/* source: the event source of an events query */
static char *
query_text(const Attachments *att, ContactQuery which, int source, Oid *argtypes, int *nargs)
{
	Oid			keys = get_array_type(att->key_type);
	const AttachedTable *t;

	argtypes[0] = keys;
	*nargs = 1;
	switch (which)
	{
		case CQ_CONTACTS:
		case CQ_CONTACT_KEYS:
			t = &att->contacts;
			return psprintf("SELECT %s FROM %s AS c WHERE %s",
							which == CQ_CONTACTS ? "*" :
							att->key_per_tenant ?
							psprintf("c.%s, c.%s", quote_identifier(t->contact_column),
									 quote_identifier(t->tenant_column)) :
							psprintf("c.%s", quote_identifier(t->contact_column)),
							quote_qualified_identifier(t->schema, t->name),
							contact_key_in_array_sql(att, t, "c", "$1"));
		case CQ_EVENTS:
		case CQ_EVENTS_SINCE:
		case CQ_EVENT_TIMES:
		case CQ_EVENT_TIMES_SINCE:
			{
				bool		since = which == CQ_EVENTS_SINCE || which == CQ_EVENT_TIMES_SINCE;
				bool		all = which == CQ_EVENTS || which == CQ_EVENTS_SINCE;

				/*
				 * The kinds are a filter, not an index condition (IS TRUE):
				 * with two arrays in its conditions a btree scan descends
				 * once per pair of elements.
				 */
				t = &att->events[source];
				/* an enum's kinds as text: a label the type lacks is no error */
				argtypes[1] = OidIsValid(t->kind_enum) || t->constant_kind ? TEXTARRAYOID :
					get_array_type(getBaseType(contact_column_type(t, t->kind_column)));
				argtypes[2] = TIMESTAMPTZOID;
				*nargs = since ? 3 : 2;

				/* a source of one kind: every event is of a kind asked for */
				if (t->constant_kind)
					return psprintf("SELECT %s, k.i FROM pg_catalog.unnest($1) WITH ORDINALITY AS k(%s, i)"
									" JOIN %s AS e ON %s WHERE $2 IS NOT NULL%s ORDER BY k.i",
									all ? "e.*" : psprintf("e.%s, e.%s", quote_identifier(t->contact_column),
														   quote_identifier(t->at_column)),
									member_key_columns(att),
									quote_qualified_identifier(t->schema, t->name),
									key_matches(att, t, "e", "k"),
									since ? psprintf(" AND e.%s >= $3%s", quote_identifier(t->at_column),
													 time_without_zone(contact_column_type(t, t->at_column)) ?
													 " AT TIME ZONE 'UTC'" : "") : "");

				/*
				 * In the order of the keys: a nested loop over them, each
				 * an index scan.  The position is the last column, so
				 * that the table's own column names come first.
				 */
				return psprintf("SELECT %s, k.i FROM pg_catalog.unnest($1) WITH ORDINALITY AS k(%s, i)"
								" JOIN %s AS e ON %s WHERE (e.%s%s = ANY ($2)) IS TRUE%s"
								" ORDER BY k.i",
								all ? "e.*" : psprintf("e.%s, e.%s, e.%s", quote_identifier(t->contact_column),
													   quote_identifier(t->kind_column),
													   quote_identifier(t->at_column)),
								member_key_columns(att),
								quote_qualified_identifier(t->schema, t->name),
								key_matches(att, t, "e", "k"),
								quote_identifier(t->kind_column),
								OidIsValid(t->kind_enum) ? "::pg_catalog.text" : "",
								since ? psprintf(" AND e.%s >= $3%s", quote_identifier(t->at_column),
												 time_without_zone(contact_column_type(t, t->at_column)) ?
												 " AT TIME ZONE 'UTC'" : "") : "");
			}
		case CQ_LISTS:
			t = &att->lists;
			return psprintf("SELECT %s, l.%s FROM %s AS l WHERE %s",
							contact_key_sql(att, t, "l"),
							quote_identifier(t->list_column),
							quote_qualified_identifier(t->schema, t->name),
							contact_key_in_array_sql(att, t, "l", "$1"));
		case CQ_LIST_ROWS:
			t = &att->lists;
			return psprintf("SELECT l.* FROM %s AS l WHERE %s",
							quote_qualified_identifier(t->schema, t->name),
							contact_key_in_array_sql(att, t, "l", "$1"));
		case CQ_MEMBERS:
			if (att->key_per_tenant)
				return psprintf("SELECT ROW(m.tenant, m.contact)::segments.contact_key, m.segment_id, m.since "
								"FROM %s AS m WHERE EXISTS (SELECT FROM pg_catalog.unnest($1) AS k "
								"WHERE k.tenant OPERATOR(pg_catalog.=) m.tenant "
								"AND k.contact OPERATOR(pg_catalog.=) m.contact)",
								rule_segments_table_sql(att->membership_table));
			return psprintf("SELECT m.contact, m.segment_id, m.since FROM %s AS m "
							"WHERE m.contact OPERATOR(pg_catalog.=) ANY ($1)",
							rule_segments_table_sql(att->membership_table));
		case CQ_OVERRIDES:
			if (att->key_per_tenant)
				return psprintf("SELECT ROW(o.tenant, o.contact)::segments.contact_key, "
								"CASE WHEN o.included THEN o.segment_id ELSE OPERATOR(pg_catalog.-) o.segment_id END "
								"FROM %s AS o WHERE EXISTS (SELECT FROM pg_catalog.unnest($1) AS k "
								"WHERE k.tenant OPERATOR(pg_catalog.=) o.tenant "
								"AND k.contact OPERATOR(pg_catalog.=) o.contact)",
								rule_segments_table_sql(att->override_table));
			return psprintf("SELECT o.contact, "
							"CASE WHEN o.included THEN o.segment_id ELSE OPERATOR(pg_catalog.-) o.segment_id END "
							"FROM %s AS o WHERE o.contact OPERATOR(pg_catalog.=) ANY ($1)",
							rule_segments_table_sql(att->override_table));
	}
	elog(ERROR, "unexpected query %d", (int) which);
	return NULL;
}

/*
 * The plan of one of the queries (of an event source for the events
 * queries), prepared on first use (generic: each reads by key, whatever
 * the keys).
 */
static SPIPlanPtr
query_plan(Attachments *att, ContactQuery which, int source)
{
	ContactPlans *plans = att->plans;
	SPIPlanPtr *plan;

	if (plans == NULL)
	{
		/* freed with the attachments, which first free the plans */
		plans = MemoryContextAllocZero(GetMemoryChunkContext(att), sizeof(ContactPlans));
		plans->nsources = att->nsources;
		plans->event_plans = MemoryContextAllocZero(GetMemoryChunkContext(att),
													sizeof(SPIPlanPtr) * CQ_EVENT_QUERIES *
													Max(att->nsources, 1));
		att->plans = plans;
	}
	plan = CQ_IS_EVENTS(which) ? &plans->event_plans[source * CQ_EVENT_QUERIES + which - CQ_EVENTS] :
		&plans->plans[which];
	if (*plan == NULL)
	{
		Oid			argtypes[3];
		int			nargs;
		char	   *query = query_text(att, which, source, argtypes, &nargs);

		/* on the coordinator of a Citus cluster, the distributed tables */
		*plan = att->distributed && att->logical == NULL ? keep_custom_plan(query, nargs, argtypes) :
			keep_generic_plan(query, nargs, argtypes);
	}
	return *plan;
}

/*
 * Run one of the queries; the rows are in the returned table, which the
 * caller frees.  SPI calls leave SPI's procedure context current: the
 * caller's is made current again.
 */
static SPITupleTable *
run_query(Attachments *att, ContactQuery which, int source, Datum *args, bool latest)
{
	MemoryContext caller = CurrentMemoryContext;
	SPIPlanPtr	plan = query_plan(att, which, source);

	if (SPI_execute_snapshot(plan, args, NULL,
							 latest ? GetLatestSnapshot() : InvalidSnapshot, InvalidSnapshot,
							 !latest, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the data of contacts");
	MemoryContextSwitchTo(caller);
	return SPI_tuptable;
}

void
contact_free_plans(ContactPlans *plans)
{
	int			i;

	for (i = 0; i < CQ_COUNT; i++)
		if (plans->plans[i])
			SPI_freeplan(plans->plans[i]);
	for (i = 0; i < plans->nsources * CQ_EVENT_QUERIES; i++)
		if (plans->event_plans[i])
			SPI_freeplan(plans->event_plans[i]);
}

/* The key type of the table being hashed (one per database). */
static TypeCacheEntry *hashed_type = NULL;

static uint32
key_hash(const void *key, Size keysize)
{
	return DatumGetUInt32(FunctionCall1Coll(&hashed_type->hash_proc_finfo, hashed_type->typcollation,
											*(const Datum *) key));
}

static int
key_match(const void *a, const void *b, Size keysize)
{
	return DatumGetBool(FunctionCall2Coll(&hashed_type->eq_opr_finfo, hashed_type->typcollation,
										  *(const Datum *) a, *(const Datum *) b)) ? 0 : 1;
}

TypeCacheEntry *
contact_key_type(Attachments *att)
{
	Oid			keytype = att->key_type;
	TypeCacheEntry *type = lookup_type_cache(keytype, TYPECACHE_HASH_PROC_FINFO |
											 TYPECACHE_EQ_OPR_FINFO |
											 TYPECACHE_HASH_EXTENDED_PROC_FINFO |
											 TYPECACHE_LT_OPR);

	if (!OidIsValid(type->hash_proc) || !OidIsValid(type->eq_opr) || !OidIsValid(type->lt_opr))
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("the contact key type %s has no hash function or no ordering", format_type_be(keytype)),
				errdetail("Writes and their maintenance keep the contacts they touch in hash tables, and sort them when they are many."));
	return type;
}

HTAB *
contact_key_table(TypeCacheEntry *type, Size entrysize, long nelem, MemoryContext cxt)
{
	HASHCTL		ctl;

	hashed_type = type;
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Datum);
	ctl.entrysize = entrysize;
	ctl.hash = key_hash;
	ctl.match = key_match;
	ctl.hcxt = cxt;
	return hash_create("segments contact keys", nelem, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

static int
chunk_index(ContactChunk *chunk, Datum key)
{
	ChunkSlot  *slot = hash_search(chunk->index, &key, HASH_FIND, NULL);

	if (slot == NULL)
		elog(ERROR, "a row of a contact outside the chunk");
	return slot->index;
}

/*
 * Group the rows of result by contact (its key in the columns key):
 * returns start[0..n], and the rows' positions in order (*order).
 */
static uint64 *
group_rows(ContactChunk *chunk, SPITupleTable *result, uint64 nrows, ContactKeyColumns key, uint64 **order)
{
	uint64	   *start = palloc0(sizeof(uint64) * (chunk->n + 1));
	int		   *owner = palloc(sizeof(int) * Max(nrows, 1));
	uint64	   *next;
	uint64		i;

	for (i = 0; i < nrows; i++)
	{
		bool		isnull;
		Datum		value = contact_key_of_tuple(chunk->att, &key, result->vals[i], result->tupdesc, &isnull);

		owner[i] = chunk_index(chunk, value);
		start[owner[i] + 1]++;
	}
	for (i = 0; i < (uint64) chunk->n; i++)
		start[i + 1] += start[i];
	next = palloc(sizeof(uint64) * Max(chunk->n, 1));
	memcpy(next, start, sizeof(uint64) * chunk->n);
	*order = palloc(sizeof(uint64) * Max(nrows, 1));
	for (i = 0; i < nrows; i++)
		(*order)[next[owner[i]]++] = i;
	pfree(owner);
	pfree(next);
	return start;
}

static void
read_rows(ContactChunk *chunk, Datum array, bool keys_only, bool latest)
{
	const AttachedTable *co = &chunk->att->contacts;
	SPITupleTable *result = run_query(chunk->att, keys_only ? CQ_CONTACT_KEYS : CQ_CONTACTS, -1,
									  &array, latest);
	ContactKeyColumns cols = contact_key_columns(chunk->att, co, result->tupdesc);
	uint64		i;

	chunk->rows_read = true;
	chunk->keys_only = keys_only;
	chunk->row_desc = CreateTupleDescCopy(result->tupdesc);
	chunk->rows = palloc0(sizeof(HeapTuple) * Max(chunk->n, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		key = contact_key_of_tuple(chunk->att, &cols, result->vals[i], result->tupdesc, &isnull);

		chunk->rows[chunk_index(chunk, key)] = heap_copytuple(result->vals[i]);
	}
	SPI_freetuptable(result);
}

/*
 * Start reading the chunk's events of a source: a cursor, or for one
 * contact all at once.
 */
static void
read_events(ContactChunk *chunk, int source, Datum array, const EventNeeds *needs, bool latest)
{
	const AttachedTable *ev = &chunk->att->events[source];
	ChunkEvents *ce = &chunk->events[source];
	/* a domain's CHECK is the table owner's code: kinds are read as its base type */
	Oid			kindtype = OidIsValid(ev->kind_enum) || ev->constant_kind ? TEXTOID :
		getBaseType(contact_column_type(ev, ev->kind_column));
	Oid			input,
				ioparam;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *kinds = palloc(sizeof(Datum) * list_length(needs->kinds));
	Datum		args[3];
	ListCell   *lc;
	int			k = 0;
	ContactQuery which;
	SPIPlanPtr	plan;

	getTypeInputInfo(kindtype, &input, &ioparam);
	get_typlenbyvalalign(kindtype, &typlen, &typbyval, &typalign);
	foreach(lc, needs->kinds)
		kinds[k++] = OidInputFunctionCall(input, lfirst(lc), ioparam, -1);
	args[0] = array;
	args[1] = PointerGetDatum(construct_array(kinds, k, kindtype, typlen, typbyval, typalign));
	/* two days early: the time column may be a date or a timestamp */
	args[2] = TimestampTzGetDatum(needs->any_time ? DT_NOBEGIN : needs->since - 2 * USECS_PER_DAY);
	which = needs->any_time ?
		(needs->event_columns ? CQ_EVENTS : CQ_EVENT_TIMES) :
		(needs->event_columns ? CQ_EVENTS_SINCE : CQ_EVENT_TIMES_SINCE);
	if (chunk->n == 1)
	{
		/* one contact's events at once: a cursor would only cost more */
		ce->fetched = run_query(chunk->att, which, source, args, latest);
		ce->next_fetched = 0;
		ce->desc = CreateTupleDescCopy(ce->fetched->tupdesc);
		return;
	}
	plan = query_plan(chunk->att, which, source);

	/*
	 * Read-only: with the active snapshot, the latest one if asked (after
	 * the transaction's own last writes, as SPI_execute_snapshot does).
	 */
	if (latest)
	{
		CommandCounterIncrement();
		PushActiveSnapshot(GetLatestSnapshot());
	}
	ce->cursor = SPI_cursor_open(NULL, plan, args, NULL, true);
	if (latest)
		PopActiveSnapshot();
	if (ce->cursor == NULL)
		elog(ERROR, "could not read the events of contacts: %s", SPI_result_code_string(SPI_result));
	ce->desc = CreateTupleDescCopy(ce->cursor->tupDesc);
}

/*
 * The events of a source of contact i, copied into the current memory
 * context, and their number: the rows the source's cursor returns for it.
 * Contacts are asked for in order; the last one asked for closes the
 * cursor.
 */
static HeapTuple *
contact_events(ChunkEvents *ce, int i, uint64 *n)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			position = ce->desc->natts;
	uint64		space = 8;
	HeapTuple  *events = palloc(sizeof(HeapTuple) * space);

	if (i < ce->next_contact)
		elog(ERROR, "the events of a chunk's contacts are read in order");
	ce->next_contact = i + 1;
	*n = 0;
	for (;;)
	{
		HeapTuple	row;
		bool		isnull;
		int64		owner;

		if (ce->fetched == NULL || ce->next_fetched == ce->fetched->numvals)
		{
			if (ce->fetched)
				SPI_freetuptable(ce->fetched);
			ce->fetched = NULL;
			if (ce->cursor == NULL)
				break;
			SPI_cursor_fetch(ce->cursor, true, EVENTS_FETCH);
			MemoryContextSwitchTo(cxt);
			if (SPI_processed == 0)
			{
				SPI_freetuptable(SPI_tuptable);
				SPI_cursor_close(ce->cursor);
				ce->cursor = NULL;
				break;
			}
			ce->fetched = SPI_tuptable;
			ce->next_fetched = 0;
		}
		row = ce->fetched->vals[ce->next_fetched];
		owner = DatumGetInt64(heap_getattr(row, position, ce->fetched->tupdesc, &isnull)) - 1;
		/* the next contact's, or a contact's not asked for */
		if (owner > i)
			break;
		ce->next_fetched++;
		if (owner < i)
			continue;
		if (*n == space)
		{
			space *= 2;
			events = repalloc(events, sizeof(HeapTuple) * space);
		}
		events[(*n)++] = heap_copytuple(row);
	}
	return events;
}

static void
read_grouped(ContactChunk *chunk, ContactQuery which, Datum array, bool latest, Grouped *out)
{
	SPITupleTable *result = run_query(chunk->att, which, -1, &array, latest);
	uint64		nrows = SPI_processed;
	uint64	   *order;
	uint64		i;

	out->attr = *TupleDescAttr(result->tupdesc, 1);
	/* the key, whole, is the first column */
	out->start = group_rows(chunk, result, nrows, (ContactKeyColumns) {1, 0}, &order);
	out->values = palloc(sizeof(Datum) * Max(nrows, 1));
	out->nulls = palloc(sizeof(bool) * Max(nrows, 1));
	out->times = result->tupdesc->natts > 2 ? palloc(sizeof(TimestampTz) * Max(nrows, 1)) : NULL;
	for (i = 0; i < nrows; i++)
	{
		Datum		value = heap_getattr(result->vals[order[i]], 2, result->tupdesc, &out->nulls[i]);
		bool		isnull;

		out->values[i] = out->nulls[i] ? (Datum) 0 :
			datumCopy(value, out->attr.attbyval, out->attr.attlen);
		if (out->times)
			out->times[i] = DatumGetTimestampTz(heap_getattr(result->vals[order[i]], 3,
															 result->tupdesc, &isnull));
	}
	SPI_freetuptable(result);
}

/* The contacts' list rows, grouped by contact. */
static void
read_list_rows(ContactChunk *chunk, Datum array, bool latest)
{
	SPITupleTable *result = run_query(chunk->att, CQ_LIST_ROWS, -1, &array, latest);
	uint64		nrows = SPI_processed;
	uint64	   *order;
	uint64		i;

	chunk->lists_desc = CreateTupleDescCopy(result->tupdesc);
	chunk->list_rows_start = group_rows(chunk, result, nrows,
										contact_key_columns(chunk->att, &chunk->att->lists, result->tupdesc),
										&order);
	chunk->list_rows = palloc(sizeof(HeapTuple) * Max(nrows, 1));
	for (i = 0; i < nrows; i++)
		chunk->list_rows[i] = heap_copytuple(result->vals[order[i]]);
	SPI_freetuptable(result);
}

ContactChunk *
contact_chunk_read(Attachments *att, const Datum *keys, int n, const EvalNeeds *needs,
				   bool rows, bool latest, MemoryContext cxt)
{
	MemoryContext caller = MemoryContextSwitchTo(cxt);
	ContactChunk *chunk = palloc0(sizeof(ContactChunk));
	TypeCacheEntry *keytype = contact_key_type(att);
	Datum		array;
	int			i;

	chunk->att = att;
	chunk->n = n;
	chunk->keys = palloc(sizeof(Datum) * Max(n, 1));
	memcpy(chunk->keys, keys, sizeof(Datum) * n);
	chunk->index = contact_key_table(keytype, sizeof(ChunkSlot), n, cxt);
	for (i = 0; i < n; i++)
		((ChunkSlot *) hash_search(chunk->index, &keys[i], HASH_ENTER, NULL))->index = i;
	array = PointerGetDatum(construct_array(chunk->keys, n, keytype->type_id, keytype->typlen,
											keytype->typbyval, keytype->typalign));

	/* each read leaves SPI's context current: back to cxt after it */
	if (rows)
		read_rows(chunk, array, !needs->fields, latest);
	MemoryContextSwitchTo(cxt);
	if (needs->events)
	{
		int			source;

		chunk->events_read = true;
		chunk->events = palloc0(sizeof(ChunkEvents) * Max(att->nsources, 1));
		for (source = 0; source < needs->nsources; source++)
			if (needs->sources[source].kinds != NIL)
			{
				read_events(chunk, source, array, &needs->sources[source], latest);
				MemoryContextSwitchTo(cxt);
			}
	}
	MemoryContextSwitchTo(cxt);
	if (needs->list_rows)
		read_list_rows(chunk, array, latest);
	else if (needs->lists)
		read_grouped(chunk, CQ_LISTS, array, latest, &chunk->lists);
	MemoryContextSwitchTo(cxt);
	if (needs->members)
		read_grouped(chunk, CQ_MEMBERS, array, latest, &chunk->members);
	MemoryContextSwitchTo(cxt);
	if (needs->overrides)
		read_grouped(chunk, CQ_OVERRIDES, array, latest, &chunk->overrides);
	MemoryContextSwitchTo(caller);
	return chunk;
}

/* The evaluator's first count of events: read them now. */
static void
read_deferred_events(EvalContact *c)
{
	EvalNeeds	events_only = *c->events_needs;
	ContactChunk *chunk;
	EvalContact read;

	events_only.fields = events_only.lists = events_only.list_rows = events_only.members = false;
	events_only.overrides = false;
	chunk = contact_chunk_read(c->att, &c->key, 1, &events_only, false, true, c->cxt);
	(void) contact_chunk_contact(chunk, 0, &read, c->cxt);
	c->events = read.events;
	c->nevents = read.nevents;
	c->events_descs = read.events_descs;
	c->kind_collations = read.kind_collations;
	c->events_read = true;
}

void
contact_defer_events(EvalContact *c, const EvalNeeds *needs)
{
	c->read_events = needs->events ? read_deferred_events : NULL;
	c->events_needs = needs;
}

bool
contact_set_row(EvalContact *c, HeapTuple row, TupleDesc desc)
{
	const AttachedTable *co = &c->att->contacts;

	c->row_desc = desc;
	c->row = row;
	if (row && co->tenant_column)
	{
		int			fnum = contact_column(desc, co->tenant_column);
		bool		isnull;
		Datum		tenant = heap_getattr(row, fnum, desc, &isnull);
		Oid			output;
		bool		varlena;

		if (!isnull)
		{
			getTypeOutputInfo(TupleDescAttr(desc, fnum - 1)->atttypid, &output, &varlena);
			c->tenant = OidOutputFunctionCall(output, tenant);
		}
	}
	return row != NULL;
}

/*
 * The contact's events of a source, added to those of the sources before
 * it: tuples allocated in the contact's context.
 */
static void
add_events(EvalContact *c, int source, HeapTuple *tuples, uint64 n, TupleDesc desc)
{
	const AttachedTable *ev = &c->att->events[source];
	int			kind_fnum = ev->kind_column ? contact_column(desc, ev->kind_column) : 0;
	int			at_fnum = contact_column(desc, ev->at_column);
	bool		at_date = getBaseType(TupleDescAttr(desc, at_fnum - 1)->atttypid) == DATEOID;
	text	   *constant_kind = ev->constant_kind ? cstring_to_text(ev->constant_kind) : NULL;
	uint64		i;

	c->events_descs[source] = desc;
	/* an enum's labels, and a source's one kind, compare exactly */
	c->kind_collations[source] = OidIsValid(ev->kind_enum) || constant_kind ? C_COLLATION_OID :
		TupleDescAttr(desc, kind_fnum - 1)->attcollation;
	c->events = c->events ? repalloc(c->events, sizeof(EvalEvent) * Max(c->nevents + n, 1)) :
		palloc(sizeof(EvalEvent) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		EvalEvent  *e = &c->events[c->nevents + i];
		bool		isnull;
		Datum		kind;
		Datum		at;

		e->source = source;
		e->tuple = tuples[i];
		if (constant_kind)
			e->kind = constant_kind;
		else
		{
			kind = heap_getattr(e->tuple, kind_fnum, desc, &isnull);
			/* detoasted once here rather than for every condition */
			if (isnull)
				e->kind = NULL;
			else if (OidIsValid(ev->kind_enum))
				e->kind = cstring_to_text(DatumGetCString(DirectFunctionCall1(enum_out, kind)));
			else
				e->kind = (text *) PG_DETOAST_DATUM_PACKED(kind);
		}
		/* a timestamp is its microseconds read as UTC, a date its midnight */
		at = heap_getattr(e->tuple, at_fnum, desc, &e->at_isnull);
		if (e->at_isnull || !at_date)
			e->at = DatumGetTimestampTz(at);
		else
		{
			DateADT		date = DatumGetDateADT(at);

			e->at = DATE_IS_NOBEGIN(date) ? DT_NOBEGIN : DATE_IS_NOEND(date) ? DT_NOEND :
				(TimestampTz) date * USECS_PER_DAY;
		}
	}
	c->nevents += n;
}

/* Memberships in order of segment id. */
static int
member_cmp(const void *a, const void *b)
{
	int64		x = ((const EvalMember *) a)->segment_id;
	int64		y = ((const EvalMember *) b)->segment_id;

	return x < y ? -1 : x > y;
}

bool
contact_chunk_contact(ContactChunk *chunk, int i, EvalContact *c, MemoryContext cxt)
{
	MemoryContext caller = MemoryContextSwitchTo(cxt);
	uint64		j;

	memset(c, 0, sizeof(EvalContact));
	c->att = chunk->att;
	c->cxt = cxt;
	c->key = chunk->keys[i];
	if (chunk->rows_read && chunk->keys_only)
	{
		/* whether the contact exists; no rule reads its fields or tenant */
		c->row = chunk->rows[i];
		c->row_desc = chunk->row_desc;
	}
	else if (chunk->rows_read)
		contact_set_row(c, chunk->rows[i], chunk->row_desc);
	if (chunk->events_read)
	{
		int			source;

		c->events_descs = palloc0(sizeof(TupleDesc) * Max(chunk->att->nsources, 1));
		c->kind_collations = palloc0(sizeof(Oid) * Max(chunk->att->nsources, 1));
		for (source = 0; source < chunk->att->nsources; source++)
			if (chunk->events[source].desc)
			{
				uint64		n;
				HeapTuple  *events = contact_events(&chunk->events[source], i, &n);

				add_events(c, source, events, n, chunk->events[source].desc);
			}
		c->events_read = true;
	}
	if (chunk->lists.start)
	{
		const Grouped *g = &chunk->lists;

		c->list_collation = g->attr.attcollation;
		c->lists = palloc(sizeof(Datum) * Max(g->start[i + 1] - g->start[i], 1));
		/* a NULL list is no list, as for l.list = v */
		for (j = g->start[i]; j < g->start[i + 1]; j++)
			if (!g->nulls[j])
				c->lists[c->nlists++] = g->values[j];
		c->lists_read = true;
	}
	if (chunk->list_rows_start)
	{
		int			list_fnum = contact_column(chunk->lists_desc, chunk->att->lists.list_column);

		c->lists_desc = chunk->lists_desc;
		c->list_rows = &chunk->list_rows[chunk->list_rows_start[i]];
		c->nlist_rows = chunk->list_rows_start[i + 1] - chunk->list_rows_start[i];
		c->list_rows_read = true;
		/* and the values, for the list conditions that take every row */
		c->list_collation = TupleDescAttr(chunk->lists_desc, list_fnum - 1)->attcollation;
		c->lists = palloc(sizeof(Datum) * Max(c->nlist_rows, 1));
		for (j = 0; j < c->nlist_rows; j++)
		{
			bool		isnull;
			Datum		value = heap_getattr(c->list_rows[j], list_fnum, chunk->lists_desc, &isnull);

			if (!isnull)
				c->lists[c->nlists++] = value;
		}
		c->lists_read = true;
	}
	if (chunk->members.start)
	{
		const Grouped *g = &chunk->members;

		/* sorted, in a space of its own: rule_eval_set_member changes it */
		c->nmembers = (int) (g->start[i + 1] - g->start[i]);
		c->members_space = Max(c->nmembers, 8);
		c->members = palloc(sizeof(EvalMember) * c->members_space);
		for (j = g->start[i]; j < g->start[i + 1]; j++)
		{
			c->members[j - g->start[i]].segment_id = DatumGetInt64(g->values[j]);
			c->members[j - g->start[i]].since = g->times[j];
		}
		qsort(c->members, c->nmembers, sizeof(EvalMember), member_cmp);
		c->members_read = true;
	}
	if (chunk->overrides.start)
	{
		const Grouped *g = &chunk->overrides;

		c->noverrides = (int) (g->start[i + 1] - g->start[i]);
		c->overrides = palloc(sizeof(int64) * Max(c->noverrides, 1));
		for (j = g->start[i]; j < g->start[i + 1]; j++)
			c->overrides[j - g->start[i]] = DatumGetInt64(g->values[j]);
		c->overrides_read = true;
	}
	MemoryContextSwitchTo(caller);
	return c->row != NULL;
}
