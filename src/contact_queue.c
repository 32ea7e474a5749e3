/*
 * contact_queue.c
 *	  A queue of contact keys with flat memory (contact_queue.h).
 *
 * A write queues the contacts it touched for the commit, and one
 * statement can touch millions (a COPY).  The keys queued lately are kept
 * in a hash table of at most QUEUE_TABLE_KEYS keys, which drops the
 * repeats of a contact written again soon (the rows of one statement, a
 * contact's events); when it fills, its keys move to a datum sort (the
 * executor's tuplesort: within work_mem, then on disk), which the commit
 * reads in key order, skipping repeats.  The sort is random-access so that
 * it can be read again: a commit that fails under a savepoint leaves the
 * queue for a later one, and segments.pending() reads it before the
 * commit does.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/tuplesort.h"

#include "contact_data.h"
#include "contact_queue.h"

/* The hash table's keys at most: a few hundred kilobytes. */
#define QUEUE_TABLE_KEYS 8192

struct ContactQueue
{
	TypeCacheEntry *type;
	MemoryContext cxt;
	MemoryContext table_cxt;	/* the hash table and its keys */
	HTAB	   *table;			/* the latest keys (Datum) */
	Tuplesortstate *sort;		/* older keys; NULL: none */
	bool		sorted;			/* the sort was read: it takes no more input */
	int64		spilled;		/* keys put into the sort, repeats included */
	/* reading */
	HASH_SEQ_STATUS seq;
	MemoryContext last_cxt;		/* the key read last, to skip its repeats
								 * (made on the first read of the sort) */
	bool		has_last;
	Datum		last;
};

static void
new_table(ContactQueue *queue)
{
	MemoryContextReset(queue->table_cxt);
	queue->table = contact_key_table(queue->type, sizeof(Datum), 64, queue->table_cxt);
}

ContactQueue *
contact_queue_create(TypeCacheEntry *type, MemoryContext cxt)
{
	ContactQueue *queue = MemoryContextAllocZero(cxt, sizeof(ContactQueue));

	queue->type = type;
	queue->cxt = cxt;
	queue->table_cxt = AllocSetContextCreate(cxt, "segments queued keys", ALLOCSET_DEFAULT_SIZES);
	new_table(queue);
	return queue;
}

/*
 * The sort's calls that may create temporary files make them for the top
 * transaction: a statement's resource owner would close them when the
 * statement ends.
 */
#define FOR_TRANSACTION(call) \
	do { \
		ResourceOwner saved_owner = CurrentResourceOwner; \
		CurrentResourceOwner = TopTransactionResourceOwner; \
		call; \
		CurrentResourceOwner = saved_owner; \
	} while (0)

static Tuplesortstate *
new_sort(ContactQueue *queue)
{
	MemoryContext old = MemoryContextSwitchTo(queue->cxt);
	Tuplesortstate *sort;

	FOR_TRANSACTION(sort = tuplesort_begin_datum(queue->type->type_id, queue->type->lt_opr,
												 queue->type->typcollation, false, work_mem,
												 NULL, TUPLESORT_RANDOMACCESS));
	MemoryContextSwitchTo(old);
	return sort;
}

static void
put_key(ContactQueue *queue, Tuplesortstate *sort, Datum key)
{
	FOR_TRANSACTION(tuplesort_putdatum(sort, key, false));
}

static bool
get_key(ContactQueue *queue, Datum *key)
{
	ResourceOwner saved_owner = CurrentResourceOwner;
	bool		isnull;
	bool		found;

	/* a key passed by reference comes palloc'd in the caller's context */
	CurrentResourceOwner = TopTransactionResourceOwner;
#if PG_VERSION_NUM >= 160000
	found = tuplesort_getdatum(queue->sort, true, true, key, &isnull, NULL);
#else
	found = tuplesort_getdatum(queue->sort, true, key, &isnull, NULL);
#endif
	CurrentResourceOwner = saved_owner;
	return found;
}

/* Move the hash table's keys to the sort. */
static void
spill(ContactQueue *queue)
{
	HASH_SEQ_STATUS seq;
	Datum	   *key;

	if (queue->sort == NULL)
		queue->sort = new_sort(queue);
	hash_seq_init(&seq, queue->table);
	while ((key = hash_seq_search(&seq)) != NULL)
		put_key(queue, queue->sort, *key);
	queue->spilled += hash_get_num_entries(queue->table);
	new_table(queue);
}

/* A sort that was read takes no more keys: copy them to a new one. */
static void
reopen(ContactQueue *queue)
{
	Tuplesortstate *sort = new_sort(queue);
	MemoryContext old = MemoryContextSwitchTo(queue->last_cxt);
	Datum		key;

	FOR_TRANSACTION(tuplesort_rescan(queue->sort));
	while (get_key(queue, &key))
	{
		put_key(queue, sort, key);
		MemoryContextReset(queue->last_cxt);
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextSwitchTo(old);
	FOR_TRANSACTION(tuplesort_end(queue->sort));
	queue->sort = sort;
	queue->sorted = false;
}

void
contact_queue_add(ContactQueue *queue, Datum key)
{
	bool		found;
	Datum	   *entry;

	if (queue->sorted)
		reopen(queue);
	entry = hash_search(queue->table, &key, HASH_ENTER, &found);
	if (found)
		return;
	if (!queue->type->typbyval)
	{
		/* the entry's key must live as long as the table */
		MemoryContext old = MemoryContextSwitchTo(queue->table_cxt);

		*entry = datumCopy(key, false, queue->type->typlen);
		MemoryContextSwitchTo(old);
	}
	if (hash_get_num_entries(queue->table) >= QUEUE_TABLE_KEYS)
		spill(queue);
}

bool
contact_queue_spilled(ContactQueue *queue)
{
	return queue->sort != NULL;
}

int64
contact_queue_count(ContactQueue *queue)
{
	return queue->spilled + hash_get_num_entries(queue->table);
}

void
contact_queue_rewind(ContactQueue *queue)
{
	queue->has_last = false;
	if (queue->sort == NULL)
	{
		hash_seq_init(&queue->seq, queue->table);
		return;
	}
	if (queue->sorted)
	{
		FOR_TRANSACTION(tuplesort_rescan(queue->sort));
		return;
	}
	if (hash_get_num_entries(queue->table) > 0)
		spill(queue);
	if (queue->last_cxt == NULL)
		queue->last_cxt = AllocSetContextCreate(queue->cxt, "segments queue reader",
												ALLOCSET_SMALL_SIZES);
	FOR_TRANSACTION(tuplesort_performsort(queue->sort));
	queue->sorted = true;
}

bool
contact_queue_next(ContactQueue *queue, Datum *key)
{
	TypeCacheEntry *type = queue->type;

	if (queue->sort == NULL)
	{
		Datum	   *entry = hash_seq_search(&queue->seq);

		if (entry == NULL)
			return false;
		*key = *entry;
		return true;
	}
	for (;;)
	{
		MemoryContext old;

		if (!get_key(queue, key))
			return false;
		/* repeats are next to each other */
		if (queue->has_last &&
			DatumGetBool(FunctionCall2Coll(&type->eq_opr_finfo, type->typcollation,
										   queue->last, *key)))
		{
			if (!type->typbyval)
				pfree(DatumGetPointer(*key));
			continue;
		}
		MemoryContextReset(queue->last_cxt);
		old = MemoryContextSwitchTo(queue->last_cxt);
		queue->last = datumCopy(*key, type->typbyval, type->typlen);
		MemoryContextSwitchTo(old);
		queue->has_last = true;
		return true;
	}
}

void
contact_queue_free(ContactQueue *queue)
{
	if (queue->sort != NULL)
		FOR_TRANSACTION(tuplesort_end(queue->sort));
	queue->sort = NULL;
	MemoryContextDelete(queue->table_cxt);
	if (queue->last_cxt != NULL)
		MemoryContextDelete(queue->last_cxt);
	pfree(queue);
}
