/*
 * maintain.c
 *	  Membership follows writes: the triggers of the attached tables.
 *
 * Each write statement on an attached table fires a statement-level AFTER
 * trigger (segments._on_write) that reads the statement's transition
 * tables, finds through the segment cache which segments the change can
 * affect (the columns it changed, the event kinds it wrote, the lists) and
 * which contacts it touched, and queues them for the transaction.
 *
 * The queue is applied at commit, by a deferred constraint trigger
 * (segments._at_commit) that the first row written in the transaction arms
 * (its WHEN clause calls segments._arm_commit(), true once per
 * transaction; so one trigger event is queued, however many rows are
 * written).  What is still queued once the deferred triggers have fired
 * is applied just before the commit (maintain_xact_callback): calling
 * _arm_commit() by hand, so that no event is queued, skips nothing.  Applying it first takes the turn of every queued contact (a
 * lock, see take_turns); a concurrent writer of the same contact waits
 * there until the first commits, and then evaluates with the latest data,
 * the first's included, whatever the isolation level.  Taking turns at
 * commit, after every lock the transaction's own statements take, is what
 * keeps writers from deadlocking on them: a transaction holding turns
 * waits only for turns of transactions that are themselves committing, and
 * all take them in the same order.  A writer that needs membership current
 * before it commits calls segments.flush().
 *
 * Every contact is evaluated in C for all of its segments at once
 * (rule_eval.c): a few one by one, each contact's data read with a query
 * per table (or, for a contact the transaction wrote, taken from the
 * write); many a chunk at a time, each query reading the data of the whole
 * chunk.  The joins and leaves are written in bulk.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/typcache.h"

#include "change_feed.h"
#include "citus.h"
#include "locks.h"
#include "maintain.h"
#include "membership.h"
#include "restore.h"
#include "contact_data.h"
#include "contact_key.h"
#include "data_owner.h"
#include "field_index.h"
#include "contact_queue.h"
#include "rule_eval.h"
#include "rule_time.h"
#include "segment_cache.h"
#include "spi_plan.h"

PG_FUNCTION_INFO_V1(segments_on_write);
PG_FUNCTION_INFO_V1(segments_on_replicated_write);
PG_FUNCTION_INFO_V1(segments_arm_commit);
PG_FUNCTION_INFO_V1(segments_at_commit);
PG_FUNCTION_INFO_V1(segments_flush);
PG_FUNCTION_INFO_V1(segments_take_all_turns);
PG_FUNCTION_INFO_V1(segments_pending);
PG_FUNCTION_INFO_V1(segments_writers_lock);

/* Up to this many contacts in a batch are evaluated one by one in C. */
#define FAST_PATH_CONTACTS 16

/*
 * A contact the transaction wrote to the contacts table, as it left it:
 * no other transaction can change the row before the commit (this one
 * holds its lock), so the commit need not read it again.  Kept for the
 * first few contacts written only: those evaluated one by one.
 */
typedef struct WrittenContact
{
	Datum		key;			/* the hash key: first */
	HeapTuple	row;			/* NULL: deleted */
	TupleDesc	desc;
	bool		moved;			/* inserted, deleted, or its key or tenant changed */
	bool		row_known;		/* false: written by several writes, read it again */
	uint64		write;			/* the write that remembered it first */
} WrittenContact;

/*
 * Contacts whose membership in some segments is due, queued by the
 * statements of the transaction: one batch per set of segments.
 */
typedef struct PendingBatch
{
	SegmentCache *cache;		/* segments are indexes into it */
	Attachments *att;			/* the tables written: cache->att, or on a
								 * Citus node a shard group of it */
	Bitmapset  *segments;		/* with their dependents */
	ContactQueue *contacts;
} PendingBatch;

/* Transaction state, reset when the transaction ends. */
static MemoryContext pending_cxt = NULL;
static List *pending = NIL;
static bool armed = false;
static SubTransactionId armed_subid = InvalidSubTransactionId;
static HTAB *written = NULL;	/* WrittenContact by key, in pending_cxt */
static uint64 write_count = 0;	/* trigger calls that queued: numbers them */
static Oid	queued_by = InvalidOid; /* the role the write path's triggers run as */
static bool writers_locked = false; /* the writers' lock, taken by ... */
static bool in_shard_task = false;	/* a shard task runs (shard_task.c) */
static SubTransactionId writers_subid = InvalidSubTransactionId;	/* ... this one */
static bool written_unknown = false;	/* contacts were written that it lacks */

/*
 * Batches a flush applied in a subtransaction, kept until the transaction
 * ends: if that subtransaction rolls back, so do the joins and leaves they
 * wrote, and they are queued again (maintain_subxact_callback).
 */
typedef struct AppliedBatches
{
	SubTransactionId subid;
	List	   *batches;
	MemoryContext cxt;			/* theirs, a child of TopTransactionContext */
} AppliedBatches;

static List *applied = NIL;		/* of AppliedBatches, in TopTransactionContext */

/*
 * Tells listeners on channel "segments" that a segment's membership
 * changed (its id as the payload), once per segment and transaction: the
 * one sender, for every cause (the write path, ticks, and the lifecycle
 * functions through segments._announce_change).  The notifications are
 * sent just before the commit (send_announcements), not when the change
 * is made: a transaction may yet be prepared (PREPARE TRANSACTION refuses
 * one that has notified; its changes reach listeners through the change
 * feed), and a subtransaction may roll its changes back.
 */
typedef struct Announcement
{
	int64		segment_id;
	SubTransactionId subid;
} Announcement;

static List *announcements = NIL;	/* in TopTransactionContext */

static void
announce_change(int64 segment_id)
{
	MemoryContext old;
	Announcement *a;
	SubTransactionId subid = GetCurrentSubTransactionId();
	ListCell   *lc;

	foreach(lc, announcements)
	{
		a = lfirst(lc);
		if (a->segment_id == segment_id && a->subid == subid)
			return;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	a = palloc(sizeof(Announcement));
	a->segment_id = segment_id;
	a->subid = subid;
	announcements = lappend(announcements, a);
	MemoryContextSwitchTo(old);
}

/* At commit: one notification per changed segment (Async_Notify folds repeats). */
static void
send_announcements(void)
{
	ListCell   *lc;

	foreach(lc, announcements)
		Async_Notify("segments", psprintf(INT64_FORMAT, ((Announcement *) lfirst(lc))->segment_id));
	announcements = NIL;
}

/* The contact key's type, set when a transaction first queues. */
static TypeCacheEntry *key_type = NULL;

/* Plans kept for the attachments they were prepared for. */
static uint64 plans_generation = 0;
static SPIPlanPtr write_plan = NULL;

static void flush(void);
static void flush_as_queued(void);
static void take_turns(List *batches);

static void
free_queues(List *batches)
{
	ListCell   *lc;

	foreach(lc, batches)
		contact_queue_free(((PendingBatch *) lfirst(lc))->contacts);
}

/* The queues of the batches flushes applied, at the end of the transaction. */
static void
free_applied(void)
{
	ListCell   *lc;

	foreach(lc, applied)
		free_queues(((AppliedBatches *) lfirst(lc))->batches);
}

static void
pending_reset(void)
{
	pending_cxt = NULL;
	pending = NIL;
	queued_by = InvalidOid;
	applied = NIL;
	announcements = NIL;
	armed = false;
	armed_subid = InvalidSubTransactionId;
	written = NULL;
	written_unknown = false;
	writers_locked = false;
	in_shard_task = false;
}

static void
maintain_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			/*
			 * The deferred triggers have fired: a queue still pending was
			 * never armed (its rows' subtransaction rolled back, or a
			 * caller armed the event itself with segments._arm_commit()
			 * so that none was queued).  Applied now, it cannot be skipped.
			 */
			if (pending != NIL)
				flush_as_queued();
			if (event == XACT_EVENT_PRE_COMMIT)
				send_announcements();
			else
				announcements = NIL;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
			/*
			 * Contacts queued by statements that rolled back, never
			 * applied: their queues' temporary files are closed before
			 * the transaction's resource owner would complain of them.
			 */
			free_queues(pending);
			free_applied();
			pending_reset();
			break;
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* pending_cxt goes with TopTransactionContext, files with the transaction */
			pending_reset();
			rule_pin_now(0);
			break;
		default:
			break;
	}
}

/*
 * The armed trigger event belongs to the subtransaction whose row armed
 * it: it is discarded if that subtransaction rolls back.  The contacts it
 * queued were then queued by rolled-back statements too; they stay queued
 * (re-evaluating a contact is harmless) for a later write to arm again, or
 * else for the commit.
 */
static void
maintain_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	ListCell   *lc;

	foreach(lc, announcements)
	{
		Announcement *a = lfirst(lc);

		if (a->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			a->subid = parentSubid;
		else if (event == SUBXACT_EVENT_ABORT_SUB)
			announcements = foreach_delete_current(announcements, lc);
	}
	foreach(lc, applied)
	{
		AppliedBatches *a = lfirst(lc);

		if (a->subid != mySubid)
			continue;
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			a->subid = parentSubid;
		else if (event == SUBXACT_EVENT_ABORT_SUB)
		{
			/* their writes are undone: queue them again, rows unknown */
			if (pending_cxt == NULL)
				pending_cxt = a->cxt;
			else
				MemoryContextSetParent(a->cxt, pending_cxt);
			pending = list_concat(pending, a->batches);
			written_unknown = true;
			applied = foreach_delete_current(applied, lc);
		}
	}

	/* maintenance that failed under a savepoint no longer evaluates */
	if (event == SUBXACT_EVENT_ABORT_SUB)
		rule_pin_now(0);
	/* rows kept may be those of rolled-back statements: read them again */
	if (event == SUBXACT_EVENT_ABORT_SUB && written != NULL)
	{
		hash_destroy(written);
		written = NULL;
		written_unknown = true;
	}
	/* a lock taken by a subtransaction goes with it, or to its parent */
	if (writers_locked && writers_subid == mySubid)
	{
		if (event == SUBXACT_EVENT_COMMIT_SUB)
			writers_subid = parentSubid;
		else if (event == SUBXACT_EVENT_ABORT_SUB)
			writers_locked = false;
	}
	if (!armed || armed_subid != mySubid)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
		armed_subid = parentSubid;
	else if (event == SUBXACT_EVENT_ABORT_SUB)
		armed = false;
}

void
maintain_init(void)
{
	RegisterXactCallback(maintain_xact_callback, NULL);
	RegisterSubXactCallback(maintain_subxact_callback, NULL);
}

/*
 * The writers' lock, between catalog changes (exclusive) and maintenance
 * (shared), held to the end of the transaction (or of the subtransaction
 * that took it, if that rolls back); its tag is in locks.h.
 */
static void
lock_writers(LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_SEGMENTS(tag, SEGMENTS_LOCK_KEY, WRITERS_LOCK_KEY2, SEGMENTS_LOCK_CLASS);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * Take the writers' lock shared: a catalog change under way is waited for,
 * and seen (segment_cache_get() accepts its invalidation and reads the
 * catalog under a snapshot taken after it).  Under REPEATABLE READ or
 * SERIALIZABLE, a catalog change committed after the snapshot is a
 * serialization failure (reading catalog_version FOR SHARE).  Once per
 * transaction: while it holds the lock, the catalog cannot change.
 */
static void
writers_lock(void)
{
	if (writers_locked || in_shard_task)
		return;
	lock_writers(ShareLock);
	/* catalog changes committed while waiting */
	AcceptInvalidationMessages();
	if (IsolationUsesXactSnapshot())
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		if (SPI_execute("SELECT FROM segments.catalog_version FOR SHARE", false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read segments.catalog_version");
		SPI_finish();
	}
	writers_locked = true;
	writers_subid = GetCurrentSubTransactionId();
}

static int
column_number(TupleDesc desc, const char *name, Relation rel)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
			return i + 1;
	}
	ereport(ERROR,
			errcode(ERRCODE_UNDEFINED_COLUMN),
			errmsg("column \"%s\" of attached table %s does not exist", name,
				   RelationGetRelationName(rel)));
	return 0;
}

/* The columns of a written table's rows holding their contact's key. */
static ContactKeyColumns
key_columns(const Attachments *att, const AttachedTable *table, TupleDesc desc, Relation rel)
{
	ContactKeyColumns cols;

	cols.contact = column_number(desc, table->contact_column, rel);
	cols.tenant = att->key_per_tenant ? column_number(desc, table->tenant_column, rel) : 0;
	return cols;
}

/* Read a transition table from its start into slot, row by row. */
static void
rows_begin(Tuplestorestate *rows)
{
	int			ptr = tuplestore_alloc_read_pointer(rows, EXEC_FLAG_REWIND);

	tuplestore_select_read_pointer(rows, ptr);
	tuplestore_rescan(rows);
}

static void
rows_end(Tuplestorestate *rows)
{
	tuplestore_select_read_pointer(rows, 0);
}

/* An empty table of entries starting with a contact's key, in pending_cxt. */
static HTAB *
key_table(Size entrysize)
{
	return contact_key_table(key_type, entrysize, 64, pending_cxt);
}

/*
 * The batch of this transaction for a set of segments and the tables
 * written (att), created if new.
 */
static PendingBatch *
batch_for(SegmentCache *cache, Attachments *att, Bitmapset *segments)
{
	ListCell   *lc;
	PendingBatch *batch;
	MemoryContext old;

	foreach(lc, pending)
	{
		batch = lfirst(lc);
		if (batch->cache == cache && batch->att == att && bms_equal(batch->segments, segments))
			return batch;
	}
	if (pending_cxt == NULL)
	{
		key_type = contact_key_type(cache->att);
		pending_cxt = AllocSetContextCreate(TopTransactionContext, "segments pending",
											ALLOCSET_DEFAULT_SIZES);
	}
	/* the triggers are SECURITY DEFINER: their owner's */
	queued_by = GetUserId();
	old = MemoryContextSwitchTo(pending_cxt);
	batch = palloc0(sizeof(PendingBatch));
	batch->cache = cache;
	batch->att = att;
	batch->segments = bms_copy(segments);
	batch->contacts = contact_queue_create(key_type, pending_cxt);
	pending = lappend(pending, batch);
	MemoryContextSwitchTo(old);
	return batch;
}

/* Whether rows of two descriptors are read alike: the same columns. */
static bool
same_columns(TupleDesc a, TupleDesc b)
{
	int			i;

	if (a->natts != b->natts)
		return false;
	for (i = 0; i < a->natts; i++)
	{
		Form_pg_attribute x = TupleDescAttr(a, i);
		Form_pg_attribute y = TupleDescAttr(b, i);

		if (x->attisdropped != y->attisdropped || x->atttypid != y->atttypid ||
			x->atttypmod != y->atttypmod || x->attlen != y->attlen ||
			x->attbyval != y->attbyval || x->attalign != y->attalign ||
			x->attcollation != y->attcollation ||
			strcmp(NameStr(x->attname), NameStr(y->attname)) != 0)
			return false;
	}
	return true;
}

/*
 * Remember a contact's row as a write on the contacts table left it (NULL:
 * deleted); write numbers the trigger call.  Its old and new rows come
 * from the same call, new last.  A contact that another call writes too is
 * not remembered: which row is the latest cannot be told (a trigger's own
 * write of the contact fires before the statement-level trigger of the
 * write that fired it), so the commit reads it.  The rows kept share a
 * copy of their descriptor while the columns stay the same.
 */
static void
remember_written(Datum key, TupleTableSlot *row, bool moved, uint64 write)
{
	static TupleDesc written_desc = NULL;	/* in pending_cxt, with written */
	bool		found;
	WrittenContact *w;
	MemoryContext old;

	if (written == NULL)
	{
		written = key_table(sizeof(WrittenContact));
		written_desc = NULL;
	}
	w = hash_search(written, &key, HASH_FIND, NULL);
	if (w == NULL && hash_get_num_entries(written) >= FAST_PATH_CONTACTS)
	{
		written_unknown = true;
		return;
	}
	old = MemoryContextSwitchTo(pending_cxt);
	if (w == NULL)
	{
		w = hash_search(written, &key, HASH_ENTER, &found);
		w->key = datumCopy(key, key_type->typbyval, key_type->typlen);
		w->moved = false;
		w->row_known = true;
		w->write = write;
	}
	else
	{
		if (w->row)
			heap_freetuple(w->row);
		if (w->write != write)
			w->row_known = false;
	}
	w->row = NULL;
	w->desc = NULL;
	if (row && w->row_known)
	{
		if (written_desc == NULL || !same_columns(written_desc, row->tts_tupleDescriptor))
			written_desc = CreateTupleDescCopy(row->tts_tupleDescriptor);
		w->row = ExecCopySlotHeapTuple(row);
		w->desc = written_desc;
	}
	w->moved |= moved;
	MemoryContextSwitchTo(old);
}

/*
 * Queue the contact of a row.  For the contacts table, also remember the
 * row: a new row (present), or an old one as deleted.
 */
static void
queue_row(PendingBatch *batch, TupleTableSlot *slot, const ContactKeyColumns *contact, bool contacts,
		  bool present, bool moved, uint64 write)
{
	bool		isnull;
	Datum		key = contact_key_of_slot(batch->cache->att, contact, slot, &isnull);

	if (isnull)
		return;
	contact_queue_add(batch->contacts, key);
	if (contacts)
		remember_written(key, present ? slot : NULL, moved, write);
}

/* Queue every contact of a transition table, as queue_row(). */
static void
queue_rows(PendingBatch *batch, Tuplestorestate *rows, TupleTableSlot *slot,
		   const ContactKeyColumns *contact, bool contacts, bool present, bool moved, uint64 write)
{
	MemoryContext old = MemoryContextSwitchTo(pending_cxt);

	rows_begin(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		CHECK_FOR_INTERRUPTS();
		queue_row(batch, slot, contact, contacts, present, moved, write);
	}
	rows_end(rows);
	MemoryContextSwitchTo(old);
}

/* Adds to changed the columns (attribute numbers) whose values differ in o and n. */
static Bitmapset *
changed_columns(TupleDesc desc, TupleTableSlot *o, TupleTableSlot *n, Bitmapset *changed)
{
	int			i;

	slot_getallattrs(o);
	slot_getallattrs(n);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (a->attisdropped || bms_is_member(i + 1, changed))
			continue;
		if (o->tts_isnull[i] != n->tts_isnull[i] ||
			(!o->tts_isnull[i] &&
			 !datumIsEqual(o->tts_values[i], n->tts_values[i], a->attbyval, a->attlen)))
			changed = bms_add_member(changed, i + 1);
	}
	return changed;
}

/*
 * The segments an UPDATE of contacts that changed these columns can
 * affect: those using one of them; every segment if the key or the tenant
 * changed (a contact moved).
 */
static Bitmapset *
changed_columns_users(SegmentCache *cache, TupleDesc desc, Bitmapset *changed, int key, int tenant)
{
	Bitmapset  *segments = NULL;
	int			i = -1;

	if (bms_is_member(key, changed) || (tenant > 0 && bms_is_member(tenant, changed)))
		return cache->all;
	while ((i = bms_next_member(changed, i)) >= 0)
		segments = bms_add_members(segments,
								   segment_cache_users(cache->fields, cache->nfields,
													   NameStr(TupleDescAttr(desc, i - 1)->attname)));
	return segments;
}

/*
 * Of segments, those that can hold for the contact of a row: its tenant's
 * and those over all contacts.
 */
static Bitmapset *
row_tenant_segments(SegmentCache *cache, Bitmapset *segments, HeapTuple row, TupleDesc desc)
{
	EvalContact contact;

	if (cache->ntenants == 0)
		return segments;
	memset(&contact, 0, sizeof(contact));
	contact.att = cache->att;
	(void) contact_set_row(&contact, row, desc);
	return bms_int_members(segment_cache_in_tenant(cache, contact.tenant), segments);
}

/*
 * The segments an UPDATE of contacts can affect: those with a condition
 * on a column whose value changed in some row that holds differently for
 * its old and new values (a country changed from 'US' to 'DE' does not
 * affect "country = 'FR'"): the index of the conditions on the column
 * finds those that can (field_index.c), rule_eval_update_matters tells.
 * Old and new rows come in pairs, in the same order; a pair whose keys
 * differ moved a contact (or is not a pair): then every segment.  The
 * conditions are compared and evaluated as the contacts' owner, as at
 * commit, the rules checked before, as the extension's owner (checking
 * reads the catalog).  When row-level security applies to that owner, a
 * policy may hide the row for its new values: then every segment using a
 * changed column, as for a NULL old or new value.  Only the contact's
 * tenant's segments and those over all contacts can hold for it.
 */
static Bitmapset *
updated_contacts(SegmentCache *cache, TriggerData *td, int key, int tenant)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	TupleTableSlot *o = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	TupleTableSlot *n = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);
	MemoryContext pair_cxt = AllocSetContextCreate(CurrentMemoryContext, "segments updated row",
												   ALLOCSET_DEFAULT_SIZES);
	MemoryContext outer = CurrentMemoryContext;
	bool		by_value = true;
	Bitmapset  *segments = NULL;
	bool		everything = false;
	bool		as_owner = false;
	DataOwnerScope scope;

	rows_begin(td->tg_oldtable);
	rows_begin(td->tg_newtable);
	for (;;)
	{
		bool		more_old;
		bool		more_new;
		Bitmapset  *changed;
		Bitmapset  *candidates = NULL;
		HeapTuple	old_row;
		HeapTuple	new_row;
		int			a = -1;
		int			i = -1;

		/* a row read back from disk is the slot's, freed at the next */
		MemoryContextSwitchTo(outer);
		more_old = tuplestore_gettupleslot(td->tg_oldtable, true, false, o);
		more_new = tuplestore_gettupleslot(td->tg_newtable, true, false, n);
		if (!more_old || !more_new)
		{
			everything = more_old != more_new;
			break;
		}
		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(pair_cxt);
		MemoryContextSwitchTo(pair_cxt);
		changed = changed_columns(desc, o, n, NULL);
		/* a moved contact: every segment, whatever else changed */
		if (bms_is_member(key, changed) || (tenant > 0 && bms_is_member(tenant, changed)))
		{
			everything = true;
			break;
		}
		while ((a = bms_next_member(changed, a)) >= 0)
		{
			const NamedUse *field = segment_cache_use(cache->fields, cache->nfields,
													  NameStr(TupleDescAttr(desc, a - 1)->attname));
			Bitmapset  *users = field ? field->segments : NULL;

			if (bms_is_subset(users, segments))
				continue;
			if (!as_owner)
			{
				data_owner_enter(&scope, cache->att->contacts.relid);
				as_owner = true;
				by_value = check_enable_rls(cache->att->contacts.relid, InvalidOid, true) == RLS_NONE;
			}
			/* rules are checked as the extension's owner, once */
			if (!bms_is_subset(users, cache->checked))
			{
				data_owner_pause(&scope);
				segment_cache_check_all(cache, users);
				data_owner_resume(&scope);
			}
			if (!by_value || o->tts_isnull[a - 1] || n->tts_isnull[a - 1])
			{
				candidates = bms_add_members(candidates, users);
				continue;
			}
			candidates = field_index_candidates(field_index_get(cache, field), o->tts_values[a - 1],
												n->tts_values[a - 1], candidates);
		}
		candidates = bms_del_members(candidates, segments);
		if (bms_is_empty(candidates))
			continue;
		new_row = ExecFetchSlotHeapTuple(n, false, NULL);
		candidates = row_tenant_segments(cache, candidates, new_row, desc);
		if (!by_value)
		{
			MemoryContextSwitchTo(outer);
			segments = bms_add_members(segments, candidates);
			continue;
		}
		old_row = ExecFetchSlotHeapTuple(o, false, NULL);
		while ((i = bms_next_member(candidates, i)) >= 0)
		{
			if (!rule_eval_update_matters(segment_cache_checked(cache, i), old_row, new_row, desc, changed))
				continue;
			MemoryContextSwitchTo(outer);
			segments = bms_add_member(segments, i);
			MemoryContextSwitchTo(pair_cxt);
		}
	}
	MemoryContextSwitchTo(outer);
	rows_end(td->tg_oldtable);
	rows_end(td->tg_newtable);
	if (as_owner)
		data_owner_leave(&scope);
	ExecDropSingleTupleTableSlot(o);
	ExecDropSingleTupleTableSlot(n);
	MemoryContextDelete(pair_cxt);

	return everything ? cache->all : segments;
}

/*
 * The segments using the event kinds of a transition table.  A batch
 * mostly repeats a few kinds: the first KINDS_SEEN are looked up once.
 */
#define KINDS_SEEN 64

/* Adds the segments using an event kind, given as a value and its output function. */
static Bitmapset *
kind_users(const KindUses *uses, Oid output, Datum value, Bitmapset *segments)
{
	char	   *name = OidOutputFunctionCall(output, value);

	segments = bms_add_members(segments, segment_cache_users(uses->kinds, uses->nkinds, name));
	pfree(name);
	return segments;
}

/*
 * The kinds that the rules reading an event source count, with their
 * segments; NULL for a source of one kind, whose rules counting it are
 * added to *segments (any row written is of that kind).
 */
static const KindUses *
kind_uses_of(SegmentCache *cache, const Attachments *att, const AttachedTable *table, Bitmapset **segments)
{
	const KindUses *uses = &cache->kind_uses[table - att->events];

	if (table->kind_column)
		return uses;
	*segments = bms_add_members(*segments, segment_cache_users(uses->kinds, uses->nkinds, table->constant_kind));
	return NULL;
}

static Bitmapset *
written_kinds(const KindUses *uses, Tuplestorestate *rows, TupleTableSlot *slot, int kind,
			  Bitmapset *segments)
{
	Form_pg_attribute attr = TupleDescAttr(slot->tts_tupleDescriptor, kind - 1);
	Oid			output;
	bool		isvarlena;
	Datum		seen[KINDS_SEEN];
	int			nseen = 0;

	getTypeOutputInfo(attr->atttypid, &output, &isvarlena);
	rows_begin(rows);
	while (tuplestore_gettupleslot(rows, true, false, slot))
	{
		bool		isnull;
		Datum		value = slot_getattr(slot, kind, &isnull);
		int			i;

		CHECK_FOR_INTERRUPTS();
		if (isnull)
			continue;
		for (i = 0; i < nseen && !datumIsEqual(value, seen[i], attr->attbyval, attr->attlen); i++)
			;
		if (i < nseen)
			continue;
		if (nseen < KINDS_SEEN)
			seen[nseen++] = datumCopy(value, attr->attbyval, attr->attlen);
		segments = kind_users(uses, output, value, segments);
	}
	rows_end(rows);
	return segments;
}

/*
 * The event source whose table (or one of its partitions or children) is
 * relid; the first one when none is (the caller refuses the trigger), NULL
 * when no events are attached.
 */
static AttachedTable *
written_source(Attachments *att, Oid relid)
{
	int			i;

	for (i = 0; i < att->nsources; i++)
		if (rule_attached_relation(att, &att->events[i], relid))
			return &att->events[i];
	return att->nsources > 0 ? &att->events[0] : NULL;
}

/*
 * The attached table whose write fired a trigger of the write path (fname)
 * whose argument is the table's role, with the segment cache it was found
 * in; NULL when there is nothing to maintain.  Refuses a trigger on any
 * other table: its rows would be taken as the role's rows.
 */
static AttachedTable *
written_table(TriggerData *td, const char *fname, SegmentCache **cache, Attachments **att)
{
	const char *role = td->tg_trigger->tgargs[0];
	Oid			relid = RelationGetRelid(td->tg_relation);
	AttachedTable *table;

	/* a restored dump's membership and log come with it (restore.c) */
	if (restoring_dump_into(relid))
		return NULL;

	writers_lock();
	*cache = segment_cache_get();
	if ((*cache)->nsegments == 0)
		return NULL;
	/*
	 * on a Citus node, a shard of an attached table: its shard group's
	 * tables (NULL at once when the contacts are not distributed)
	 */
	*att = citus_shard_group((*cache)->att, relid);
	if (*att == NULL)
		*att = (*cache)->att;
	table = strcmp(role, "contacts") == 0 ? &(*att)->contacts :
		strcmp(role, "events") == 0 ? written_source(*att, relid) :
		&(*att)->lists;
	if (table == NULL || !table->present)
		return NULL;
	if (!rule_attached_relation(*att, table, relid))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("%s fires only on the attached %s table", fname, role),
				errdetail("Table %s is not the attached %s table nor one of its partitions.",
						  RelationGetRelationName(td->tg_relation), role),
				errhint("Attaching a table installs it; use segments.attach_%s().", role));
	return table;
}

/*
 * The batch a write's contacts go to, for the segments its change can
 * affect and those that use them; *moved when the write may have moved
 * contacts between tenants (a contact's memberships of another tenant's
 * segments are then looked at).  Numbers the write (remember_written).
 */
static PendingBatch *
write_batch(SegmentCache *cache, Attachments *att, const AttachedTable *table, Bitmapset *segments,
			bool *moved)
{
	*moved = table == &att->contacts && segments == cache->all;
	segments = segment_cache_with_dependents(cache, segments);
	/* a rule that no longer checks fails the statement, not the commit */
	segment_cache_check_all(cache, segments);
	write_count++;
	return batch_for(cache, att, segments);
}

/*
 * segments._on_write() trigger: AFTER INSERT, UPDATE or DELETE FOR EACH
 * STATEMENT with transition tables; its argument is the table's role.
 */
Datum
segments_on_write(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	SegmentCache *cache;
	Attachments *att;
	AttachedTable *table;
	TupleDesc	desc;
	TupleTableSlot *slot;
	Bitmapset  *segments = NULL;
	PendingBatch *batch;
	ContactKeyColumns contact;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_STATEMENT(td->tg_event) ||
		!TRIGGER_FIRED_AFTER(td->tg_event) || td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("segments._on_write() must be fired as an AFTER ... FOR EACH STATEMENT trigger with one argument"),
				errhint("Attaching a table installs it; use segments.attach_contacts(), attach_events() or attach_lists()."));
	table = written_table(td, "segments._on_write()", &cache, &att);
	if (table == NULL)
		return PointerGetDatum(NULL);

	desc = RelationGetDescr(td->tg_relation);
	contact = key_columns(att, table, desc, td->tg_relation);
	slot = MakeSingleTupleTableSlot(desc, &TTSOpsMinimalTuple);

	if (table == &att->contacts)
	{
		if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
			segments = updated_contacts(cache, td, contact.contact,
										table->tenant_column ?
										column_number(desc, table->tenant_column, td->tg_relation) : 0);
		else
			segments = cache->all;
	}
	else if (table != &att->lists)
	{
		const KindUses *uses = kind_uses_of(cache, att, table, &segments);

		if (uses)
		{
			int			kind = column_number(desc, table->kind_column, td->tg_relation);

			if (td->tg_newtable)
				segments = written_kinds(uses, td->tg_newtable, slot, kind, segments);
			if (td->tg_oldtable)
				segments = written_kinds(uses, td->tg_oldtable, slot, kind, segments);
		}
	}
	else
		segments = cache->list_users;

	if (!bms_is_empty(segments))
	{
		bool		moved;

		batch = write_batch(cache, att, table, segments, &moved);
		/* old rows first: an updated contact is known by its new row */
		if (td->tg_oldtable)
			queue_rows(batch, td->tg_oldtable, slot, &contact, table == &att->contacts, false,
					   moved, write_count);
		if (td->tg_newtable)
			queue_rows(batch, td->tg_newtable, slot, &contact, table == &att->contacts, true,
					   moved, write_count);

		/*
		 * On a Citus node, the contacts' turns now rather than at the
		 * commit: a two-phase commit prepares on each node in turn, and a
		 * prepared part keeps its turns while another node's part waits for
		 * turns held there; Citus finds no deadlock through a prepared
		 * transaction.  Waits in a statement it finds.
		 */
		if (att->logical != NULL)
			take_turns(list_make1(batch));

		/*
		 * The commit trigger's event of this statement's first row fired
		 * already: the trigger is IMMEDIATE (SET CONSTRAINTS), and its
		 * events fire before this statement-level one.  Apply now, as
		 * IMMEDIATE asks.
		 */
		if (!armed)
			flush();
	}
	ExecDropSingleTupleTableSlot(slot);
	return PointerGetDatum(NULL);
}

/* Adds the segments using the event kind of a row. */
static Bitmapset *
row_kind_users(const KindUses *uses, TupleTableSlot *slot, int kind, Bitmapset *segments)
{
	bool		isnull;
	Datum		value = slot_getattr(slot, kind, &isnull);
	Oid			output;
	bool		isvarlena;

	if (isnull)
		return segments;
	getTypeOutputInfo(TupleDescAttr(slot->tts_tupleDescriptor, kind - 1)->atttypid,
					  &output, &isvarlena);
	return kind_users(uses, output, value, segments);
}

/*
 * segments._on_replicated_write() trigger: AFTER INSERT, UPDATE or DELETE
 * FOR EACH ROW, enabled for replicas only (ENABLE REPLICA TRIGGER); its
 * argument is the table's role.
 *
 * Writes made under session_replication_role = replica fire no trigger
 * enabled for the origin, the statement-level ones of the write path
 * included; a logical replication subscriber's apply worker writes so,
 * and fires row-level triggers only.  This trigger queues each such row's
 * contact as _on_write() queues a statement's, for the same segments; the
 * queue is applied just before the commit (maintain_xact_callback), since
 * the commit trigger is not fired either.  Fired otherwise (enabled
 * ALWAYS), it leaves the write to the statement-level triggers.
 */
Datum
segments_on_replicated_write(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	SegmentCache *cache;
	Attachments *att;
	AttachedTable *table;
	TupleDesc	desc;
	TupleTableSlot *old_row = NULL;
	TupleTableSlot *new_row = NULL;
	Bitmapset  *segments = NULL;
	PendingBatch *batch;
	bool		moved;
	ContactKeyColumns contact;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_AFTER(td->tg_event) || TRIGGER_FIRED_BY_TRUNCATE(td->tg_event) ||
		td->tg_trigger->tgnargs != 1)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("segments._on_replicated_write() must be fired as an AFTER INSERT, UPDATE or DELETE ... FOR EACH ROW trigger with one argument"),
				errhint("Attaching a table installs it; use segments.attach_contacts(), attach_events() or attach_lists()."));
	if (SessionReplicationRole != SESSION_REPLICATION_ROLE_REPLICA)
		return PointerGetDatum(NULL);
	table = written_table(td, "segments._on_replicated_write()", &cache, &att);
	/*
	 * A Citus shard's rows replicated to it are a shard move's, whose
	 * membership the move copies with them (docs/design.md)
	 */
	if (table == NULL || att != cache->att)
		return PointerGetDatum(NULL);

	desc = RelationGetDescr(td->tg_relation);
	contact = key_columns(att, table, desc, td->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		new_row = td->tg_trigslot;
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		old_row = td->tg_trigslot;
	else
	{
		old_row = td->tg_trigslot;
		new_row = td->tg_newslot;
	}

	if (table == &att->contacts)
	{
		if (old_row && new_row)
			segments = changed_columns_users(cache, desc, changed_columns(desc, old_row, new_row, NULL),
											 contact.contact,
											 table->tenant_column ?
											 column_number(desc, table->tenant_column, td->tg_relation) : 0);
		else
			segments = cache->all;
	}
	else if (table != &att->lists)
	{
		const KindUses *uses = kind_uses_of(cache, att, table, &segments);

		if (uses)
		{
			int			kind = column_number(desc, table->kind_column, td->tg_relation);

			if (new_row)
				segments = row_kind_users(uses, new_row, kind, segments);
			if (old_row)
				segments = row_kind_users(uses, old_row, kind, segments);
		}
	}
	else
		segments = cache->list_users;

	if (bms_is_empty(segments))
		return PointerGetDatum(NULL);
	batch = write_batch(cache, att, table, segments, &moved);
	if (old_row)
		queue_row(batch, old_row, &contact, table == &att->contacts, false, moved, write_count);
	if (new_row)
		queue_row(batch, new_row, &contact, table == &att->contacts, true, moved, write_count);
	return PointerGetDatum(NULL);
}

/*
 * segments._arm_commit() -> boolean: the WHEN clause of the commit
 * trigger; true for the first row written in the transaction (or since
 * the armed event fired), so that one event is queued.
 */
Datum
segments_arm_commit(PG_FUNCTION_ARGS)
{
	if (armed)
		PG_RETURN_BOOL(false);
	armed = true;
	armed_subid = GetCurrentSubTransactionId();
	PG_RETURN_BOOL(true);
}

/* (Re)prepare the plans when the attachments changed. */
static void
prepare_plans(Attachments *att)
{
	Oid			write_types[4] = {INT8ARRAYOID, get_array_type(att->key_type), BOOLARRAYOID, TEXTOID};
	const char *columns = member_key_columns(att);
	const char *log_id = "";
	const char *log_id_value = "";

	if (plans_generation == att->generation)
		return;
	/* a shard group's log has no identity: its ids from the log's sequence */
	if (att->logical != NULL)
	{
		Oid			log = get_relname_relid(att->logical->log_table, get_namespace_oid("segments", false));
		Oid			sequence = getIdentitySequence(log, get_attnum(log, "id"), false);

		log_id = "id, ";
		log_id_value = psprintf("pg_catalog.nextval(%s::pg_catalog.regclass), ",
								quote_literal_cstr(quote_qualified_identifier(get_namespace_name(get_rel_namespace(sequence)),
																			  get_rel_name(sequence))));
	}
	if (write_plan)
		SPI_freeplan(write_plan);
	write_plan = NULL;
	plans_generation = 0;

	/*
	 * Changes of many contacts: (segment $1, contact $2, joined $3), cause
	 * $4.  Logged the leaves first, each contact's in the order of
	 * segment ids.
	 */
	write_plan = keep_generic_plan(psprintf("WITH change AS ("
											"  SELECT u.segment_id, %s AS contact, u.joined"
											"  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3))"
											"  AS u(segment_id, %s, joined)),"
											" left_ AS ("
											"  DELETE FROM %s m USING change c"
											"  WHERE NOT c.joined AND m.segment_id = c.segment_id AND %s"
											"  RETURNING m.segment_id, %s AS contact),"
											" joined AS ("
											"  INSERT INTO %s AS m (segment_id, %s)"
											"  SELECT c.segment_id, %s FROM change c WHERE c.joined"
											"  RETURNING m.segment_id, %s AS contact) "
											"INSERT INTO %s AS g (%ssegment_id, %s, joined, cause) "
											"SELECT %sc.segment_id, %s, c.joined, $4 FROM ("
											" SELECT l.segment_id, l.contact, false AS joined FROM left_ l"
											" UNION ALL SELECT j.segment_id, j.contact, true FROM joined j) c "
											"ORDER BY c.joined, c.contact, c.segment_id",
											/* unnest() of composites gives their columns */
											member_key_sql(att, "u"), columns,
											rule_segments_table_sql(att->membership_table),
											member_key_matches(att, "m", "c.contact"),
											member_key_sql(att, "m"),
											rule_segments_table_sql(att->membership_table),
											columns, member_key_values(att, "c.contact"),
											member_key_sql(att, "m"),
											rule_segments_table_sql(att->log_table), log_id,
											columns, log_id_value, member_key_values(att, "c.contact")),
								   4, write_types);

	plans_generation = att->generation;
}

/* The segments of a batch queued against an older cache, in this one. */
static Bitmapset *
batch_segments_in(SegmentCache *cache, PendingBatch *batch)
{
	Bitmapset  *result = NULL;
	int			i = -1;

	if (batch->cache == cache)
		return batch->segments;
	/* the transaction changed the catalog after writing: rare */
	while ((i = bms_next_member(batch->segments, i)) >= 0)
	{
		int64		id = batch->cache->segments[i].id;
		int			j;

		for (j = 0; j < cache->nsegments; j++)
			if (cache->segments[j].id == id)
				result = bms_add_member(result, j);
	}
	return segment_cache_with_dependents(cache, result);
}

/*
 * The joins and leaves found while applying the queue: those of a chunk
 * of contacts written in bulk, a statement at a time; those of single
 * contacts by the contact writer.
 */
typedef struct Changes
{
	int			n;
	int			space;
	int64	   *segment;
	Datum	   *contact;
	bool	   *joined;
	Bitmapset  *changed;		/* cache indexes of the segments changed */
	MemoryContext cxt;			/* of the arrays and changed */
	Datum		cause;			/* of the log rows (text) */
	const char *cause_name;
	Attachments *att;			/* the tables of the batch being applied */
	ContactWriter *writer;		/* of single contacts, opened when first needed */
	Attachments *writer_att;	/* the tables it writes */
	int64		written;		/* joins and leaves written */
	int64		evaluated;		/* contacts evaluated */
	DataOwnerScope scope;		/* evaluating as the contacts' owner */
} Changes;

static void
add_change(Changes *ch, int index, int64 segment, Datum contact, bool joined)
{
	MemoryContext old;

	if (ch->n == ch->space)
	{
		ch->space = Max(16, ch->space * 2);
		ch->segment = repalloc_huge(ch->segment, sizeof(int64) * ch->space);
		ch->contact = repalloc_huge(ch->contact, sizeof(Datum) * ch->space);
		ch->joined = repalloc_huge(ch->joined, sizeof(bool) * ch->space);
	}
	ch->segment[ch->n] = segment;
	ch->contact[ch->n] = contact;
	ch->joined[ch->n] = joined;
	ch->n++;
	old = MemoryContextSwitchTo(ch->cxt);
	ch->changed = bms_add_member(ch->changed, index);
	MemoryContextSwitchTo(old);
}

static void
init_changes(Changes *ch, const char *cause)
{
	memset(ch, 0, sizeof(Changes));
	ch->cxt = CurrentMemoryContext;
	ch->cause = CStringGetTextDatum(cause);
	ch->cause_name = cause;
	ch->space = 16;
	ch->segment = palloc(sizeof(int64) * ch->space);
	ch->contact = palloc(sizeof(Datum) * ch->space);
	ch->joined = palloc(sizeof(bool) * ch->space);
}

/* Write the changes to membership and its log, and forget them. */
static void
write_changes(Changes *ch)
{
	Datum		values[4];
	Datum	   *ids;
	Datum	   *flags;
	int			i;

	if (ch->n == 0)
		return;
	ids = palloc(sizeof(Datum) * ch->n);
	flags = palloc(sizeof(Datum) * ch->n);
	for (i = 0; i < ch->n; i++)
	{
		ids[i] = Int64GetDatum(ch->segment[i]);
		flags[i] = BoolGetDatum(ch->joined[i]);
	}
	values[0] = PointerGetDatum(construct_array(ids, ch->n, INT8OID, 8, FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(ch->contact, ch->n, key_type->type_id,
												key_type->typlen, key_type->typbyval,
												key_type->typalign));
	values[2] = PointerGetDatum(construct_array(flags, ch->n, BOOLOID, 1, true, TYPALIGN_CHAR));
	values[3] = ch->cause;
	data_owner_pause(&ch->scope);
	change_feed_writing();
	if (SPI_execute_snapshot(write_plan, values, NULL, GetLatestSnapshot(), InvalidSnapshot,
							 false, true, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not change membership");
	data_owner_resume(&ch->scope);
	ch->written += SPI_processed;
	ch->n = 0;
}

/*
 * Whether a contact of the segment's tenant belongs to it: as included or
 * excluded by hand, else as its rule says (a static segment's is false).
 */
static bool
segment_holds(SegmentCache *cache, int i, EvalContact *contact)
{
	CachedSegment *s = &cache->segments[i];
	int			by_hand = s->overridden ? rule_eval_override(contact, s->id) : 0;

	if (by_hand != 0)
		return by_hand > 0;
	return rule_eval_contact(segment_cache_checked(cache, i), contact);
}

/*
 * Evaluate the segments for one contact (in dependency order: "in segment"
 * sees the memberships just found) and note the changes; key lives as
 * long as the changes.
 */
static void
evaluate_contact(SegmentCache *cache, Bitmapset *segments, EvalContact *contact, bool exists,
				 Datum key, Changes *ch)
{
	int			i = -1;

	while ((i = bms_next_member(segments, i)) >= 0)
	{
		CachedSegment *s = &cache->segments[i];
		bool		member;

		CHECK_FOR_INTERRUPTS();
		/* another tenant's segment needs no evaluation */
		if (!exists || (s->tenant && (contact->tenant == NULL || strcmp(s->tenant, contact->tenant) != 0)))
			member = false;
		else
			member = segment_holds(cache, i, contact);
		if (member == rule_eval_is_member(contact, s->id))
			continue;
		rule_eval_set_member(contact, s->id, member);
		add_change(ch, i, s->id, key, member);
	}
}

/* A segment looked at for one contact, and whether the contact belongs. */
typedef struct Looked
{
	int64		id;
	int			index;			/* in the cache */
	bool		member;
} Looked;

static int
looked_cmp(const void *a, const void *b)
{
	int64		x = ((const Looked *) a)->id;
	int64		y = ((const Looked *) b)->id;

	return (x > y) - (x < y);
}

/*
 * One contact, a chunk of one (its row not read when the transaction wrote
 * it).  Its segments are evaluated, and the contact writer makes its
 * membership of them so (membership.c).
 */
static void
maintain_contact(SegmentCache *cache, Bitmapset *segments, const EvalNeeds *needs, Datum key,
				 HTAB *rows, bool rows_unknown, MemoryContext cxt, Changes *ch)
{
	WrittenContact *w = rows ? hash_search(rows, &key, HASH_FIND, NULL) : NULL;
	bool		moved = w ? w->moved : rows_unknown;
	EvalContact contact;
	bool		exists;
	int			n = bms_num_members(segments);
	Looked	   *looked = palloc(sizeof(Looked) * Max(n, 1));
	int64	   *ids;
	bool	   *member;
	bool	   *changed;
	int			nlooked = 0;
	int			i = -1;
	int			j;
	EvalNeeds	without_events = *needs;
	MemoryContext old;

	/* the events only if a rule gets to count them */
	without_events.events = false;
	if (w && !w->row_known)
		w = NULL;
	exists = contact_chunk_contact(contact_chunk_read(ch->att, &key, 1, &without_events, w == NULL,
													  true, cxt),
								   0, &contact, cxt);
	contact_defer_events(&contact, needs);
	if (w)
		exists = contact_set_row(&contact, w->row, w->desc);
	while ((i = bms_next_member(segments, i)) >= 0)
	{
		CachedSegment *s = &cache->segments[i];
		bool		in_tenant = s->tenant == NULL ||
			(contact.tenant && strcmp(s->tenant, contact.tenant) == 0);
		Looked	   *l;

		CHECK_FOR_INTERRUPTS();
		/*
		 * Another tenant's segment needs no evaluation, nor a look at its
		 * membership unless the contact may have been in that tenant.
		 */
		if (exists && !moved && !in_tenant)
			continue;
		l = &looked[nlooked++];
		l->id = s->id;
		l->index = i;
		l->member = exists && in_tenant && segment_holds(cache, i, &contact);
		if (!bms_is_empty(s->dependents))
			rule_eval_set_member(&contact, s->id, l->member);
	}

	qsort(looked, nlooked, sizeof(Looked), looked_cmp);
	ids = palloc(sizeof(int64) * Max(nlooked, 1));
	member = palloc(sizeof(bool) * Max(nlooked, 1));
	changed = palloc0(sizeof(bool) * Max(nlooked, 1));
	for (j = 0; j < nlooked; j++)
	{
		ids[j] = looked[j].id;
		member[j] = looked[j].member;
	}
	if (ch->writer == NULL || ch->writer_att != ch->att)
	{
		old = MemoryContextSwitchTo(ch->cxt);
		data_owner_pause(&ch->scope);
		if (ch->writer)
			contact_writer_close(ch->writer);
		ch->writer = contact_writer_open(ch->cause_name, ch->att);
		ch->writer_att = ch->att;
		data_owner_resume(&ch->scope);
		MemoryContextSwitchTo(old);
	}
	ch->written += contact_writer_apply(ch->writer, key, ids, member, nlooked, changed);
	old = MemoryContextSwitchTo(ch->cxt);
	for (j = 0; j < nlooked; j++)
		if (changed[j])
			ch->changed = bms_add_member(ch->changed, looked[j].index);
	MemoryContextSwitchTo(old);
}

/* Up to this many contacts have their data read together. */
#define CHUNK_CONTACTS 1000

/* Joins and leaves written by one statement at most. */
#define CHANGES_AT_ONCE 2000

/*
 * Many contacts, a chunk at a time, each query reading a whole chunk (in
 * key order, when the queue spilled).
 */
static void
maintain_chunks(SegmentCache *cache, Bitmapset *segments, const EvalNeeds *needs,
				ContactQueue *contacts, MemoryContext chunk_cxt, MemoryContext contact_cxt, Changes *ch)
{
	MemoryContext keys_cxt = AllocSetContextCreate(CurrentMemoryContext, "segments chunk keys",
												   ALLOCSET_DEFAULT_SIZES);
	Datum		keys[CHUNK_CONTACTS];
	EvalNeeds	with_members = *needs;
	bool		more = true;

	/* the changes are found by comparing with the memberships */
	with_members.members = true;
	contact_queue_rewind(contacts);
	while (more)
	{
		MemoryContext old;
		ContactChunk *chunk;
		int			n = 0;
		int			j;

		MemoryContextReset(keys_cxt);
		old = MemoryContextSwitchTo(keys_cxt);
		while (n < CHUNK_CONTACTS && (more = contact_queue_next(contacts, &keys[n])))
			n++;
		MemoryContextSwitchTo(old);
		if (n == 0)
			break;
		MemoryContextReset(chunk_cxt);
		chunk = contact_chunk_read(ch->att, keys, n, &with_members, true, true, chunk_cxt);
		old = MemoryContextSwitchTo(chunk_cxt);
		for (j = 0; j < n; j++)
		{
			EvalContact contact;
			bool		exists;

			MemoryContextReset(contact_cxt);
			exists = contact_chunk_contact(chunk, j, &contact, contact_cxt);
			evaluate_contact(cache, segments, &contact, exists, keys[j], ch);
			ch->evaluated++;
			/* the changes of many segments' contacts: a statement per CHANGES_AT_ONCE */
			if (ch->n >= CHANGES_AT_ONCE)
			{
				write_changes(ch);
				MemoryContextSwitchTo(chunk_cxt);
			}
		}
		write_changes(ch);
		MemoryContextSwitchTo(old);
	}
	MemoryContextDelete(keys_cxt);
}

/*
 * A contact's turn is a heavyweight lock on a hash of its key, taken at
 * commit and held to the end of the transaction.  A transaction with many
 * contacts (a COPY) would fill the lock table, so contacts hash into
 * TURN_BUCKETS buckets as well: a transaction with few contacts takes each
 * one's bucket in RowExclusiveLock (which does not conflict with itself)
 * and then the contact in ExclusiveLock; one with many takes their buckets
 * in ExclusiveLock.  Everybody takes them in the order (space, bucket,
 * bucket lock before contact locks, hash), so turns cannot deadlock.  Their tags are
 * in locks.h.
 */
#define TURN_BUCKETS 256
#define TURN_CONTACTS_MAX 64

/*
 * A shard group's space has fewer buckets: a backend on a Citus node may
 * write many groups at once (a COPY through the coordinator), and every
 * bucket of each is a lock in the shared lock table.
 */
#define TURN_GROUP_BUCKETS 16

typedef struct Turn
{
	uint16		class;			/* the bucket's lock class and key (TURN_SPACE) */
	uint32		space;
	uint32		bucket;
	uint64		hash;
} Turn;

/*
 * The space of a batch's turns: one server's, or on a Citus node its shard
 * group's (locks.h, class 7), so that two connections of one distributed
 * transaction, each with its shard groups, never wait for each other.
 */
#define TURN_SPACE(att) ((att)->logical != NULL ? (uint32) (att)->contacts.relid : SEGMENTS_LOCK_KEY)
#define TURN_SPACE_CLASS(att) ((att)->logical != NULL ? TURN_GROUP_BUCKET_CLASS : TURN_BUCKET_CLASS)
#define TURN_SPACE_BUCKETS(att) ((att)->logical != NULL ? TURN_GROUP_BUCKETS : TURN_BUCKETS)

static int
turn_cmp(const void *a, const void *b)
{
	const Turn *x = a;
	const Turn *y = b;

	if (x->class != y->class)
		return x->class < y->class ? -1 : 1;
	if (x->space != y->space)
		return x->space < y->space ? -1 : 1;
	if (x->bucket != y->bucket)
		return x->bucket < y->bucket ? -1 : 1;
	return (x->hash > y->hash) - (x->hash < y->hash);
}

static uint64
key_hash64(Datum key)
{
	if (OidIsValid(key_type->hash_extended_proc))
		return DatumGetUInt64(FunctionCall2Coll(&key_type->hash_extended_proc_finfo, key_type->typcollation,
												key, UInt64GetDatum(0)));
	return DatumGetUInt32(FunctionCall1Coll(&key_type->hash_proc_finfo, key_type->typcollation, key));
}

static void
lock_turn(uint32 key1, uint32 key2, uint16 class, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_SEGMENTS(tag, key1, key2, class);
	(void) LockAcquire(&tag, mode, false, false);
}

/* Every turn of a space (TURN_SPACE) of buckets buckets. */
static void
lock_all_turns(uint32 space, uint16 class, uint32 buckets)
{
	uint32		bucket;

	for (bucket = 0; bucket < buckets; bucket++)
		lock_turn(space, bucket, class, ExclusiveLock);
}

/*
 * Take the turn of every queued contact.  A queue that spilled holds so
 * many contacts that they fall in every bucket.
 */
static void
take_turns(List *batches)
{
	ListCell   *lc;
	Datum		key;
	Turn	   *turns;
	int64		total = 0;
	int			n = 0;
	int			i;
	bool		many;

	/* a queue that spilled holds contacts in every bucket of its space */
	foreach(lc, batches)
	{
		PendingBatch *batch = lfirst(lc);

		total += contact_queue_spilled(batch->contacts) ? TURN_SPACE_BUCKETS(batch->att) :
			contact_queue_count(batch->contacts);
	}
	turns = palloc(sizeof(Turn) * Max(total, 1));
	foreach(lc, batches)
	{
		PendingBatch *batch = lfirst(lc);
		bool		spilled = contact_queue_spilled(batch->contacts);

		if (!spilled)
			contact_queue_rewind(batch->contacts);
		for (i = 0; spilled ? i < (int) TURN_SPACE_BUCKETS(batch->att) : contact_queue_next(batch->contacts, &key); i++)
		{
			turns[n].class = TURN_SPACE_CLASS(batch->att);
			turns[n].space = TURN_SPACE(batch->att);
			turns[n].hash = spilled ? 0 : key_hash64(key);
			turns[n].bucket = spilled ? (uint32) i : (uint32) (turns[n].hash % TURN_SPACE_BUCKETS(batch->att));
			n++;
		}
	}
	/* with a spilled queue, n > TURN_CONTACTS_MAX: buckets only */
	qsort(turns, n, sizeof(Turn), turn_cmp);
	many = n > TURN_CONTACTS_MAX;
	for (i = 0; i < n; i++)
	{
		if (i == 0 || turns[i].bucket != turns[i - 1].bucket || turns[i].space != turns[i - 1].space ||
			turns[i].class != turns[i - 1].class)
			lock_turn(turns[i].space, turns[i].bucket, turns[i].class, many ? ExclusiveLock : RowExclusiveLock);
		if (!many && (i == 0 || turn_cmp(&turns[i], &turns[i - 1]) != 0))
			lock_turn((uint32) (turns[i].hash >> 32), (uint32) turns[i].hash, TURN_CONTACT_CLASS,
					  ExclusiveLock);
	}
}

/* The contacts' data the rules of segments read. */
static void
needs_of(SegmentCache *cache, Bitmapset *segments, EvalNeeds *needs)
{
	int			i = -1;

	memset(needs, 0, sizeof(EvalNeeds));
	while ((i = bms_next_member(segments, i)) >= 0)
	{
		rule_eval_needs(segment_cache_checked(cache, i), needs);
		needs->overrides |= cache->segments[i].overridden;
	}
}

/*
 * Of segments, those a contact the transaction wrote can be a member of,
 * when its row tells its tenant and it stayed in that tenant: it has no
 * memberships of other tenants' segments to look at.  Otherwise all of
 * them.
 */
static Bitmapset *
tenant_segments(SegmentCache *cache, Bitmapset *segments, Datum key, HTAB *rows)
{
	WrittenContact *w;

	if (cache->ntenants == 0 || rows == NULL)
		return segments;
	w = hash_search(rows, &key, HASH_FIND, NULL);
	if (w == NULL || w->moved || !w->row_known || w->row == NULL)
		return segments;
	return row_tenant_segments(cache, segments, w->row, w->desc);
}

/*
 * Apply the batches; rows: the contacts' rows the transaction wrote
 * (WrittenContact), rows_unknown: it wrote others too.  The joins and
 * leaves are logged with cause; returns their number.  Rules see the clock
 * as it is once the turns are taken (rule_pin_now).
 */
static int64
apply_batches(List *batches, HTAB *rows, bool rows_unknown, const char *cause, int64 *evaluated)
{
	SegmentCache *cache;
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "segments flush",
											   ALLOCSET_DEFAULT_SIZES);
	MemoryContext chunk_cxt = AllocSetContextCreate(work, "segments chunk",
													ALLOCSET_DEFAULT_SIZES);
	MemoryContext contact_cxt = AllocSetContextCreate(work, "segments contact",
													  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(work);
	ListCell   *lc;
	Changes		ch;
	int			i = -1;

	/*
	 * Held since the first write, unless the subtransaction that took it
	 * rolled back: then the catalog may have changed since, and the queue
	 * is applied with the catalog as it is now.
	 */
	writers_lock();
	cache = segment_cache_get();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(work);
	take_turns(batches);
	rule_pin_now(rule_clock());
	init_changes(&ch, cause);
	/* rules are checked as the extension's owner, which reads the catalog */
	foreach(lc, batches)
		segment_cache_check_all(cache, batch_segments_in(cache, lfirst(lc)));
	data_owner_enter(&ch.scope, cache->att->contacts.relid);
	/*
	 * A row the transaction wrote is the contact only if the owner sees it:
	 * when row-level security applies to the owner, every row is read.
	 */
	if (check_enable_rls(cache->att->contacts.relid, InvalidOid, true) != RLS_NONE)
	{
		rows = NULL;
		rows_unknown = true;
	}
	foreach(lc, batches)
	{
		PendingBatch *batch = lfirst(lc);
		Bitmapset  *segments = batch_segments_in(cache, batch);
		EvalNeeds	needs;

		if (bms_is_empty(segments))
			continue;
		ch.att = batch->att;
		prepare_plans(ch.att);
		if (contact_queue_count(batch->contacts) <= FAST_PATH_CONTACTS)
		{
			Datum		key;

			contact_queue_rewind(batch->contacts);
			while (contact_queue_next(batch->contacts, &key))
			{
				Bitmapset  *own;

				MemoryContextReset(contact_cxt);
				MemoryContextSwitchTo(contact_cxt);
				own = tenant_segments(cache, segments, key, rows);
				needs_of(cache, own, &needs);
				maintain_contact(cache, own, &needs, key, rows, rows_unknown, contact_cxt, &ch);
				ch.evaluated++;
				MemoryContextSwitchTo(work);
			}
		}
		else
		{
			needs_of(cache, segments, &needs);
			maintain_chunks(cache, segments, &needs, batch->contacts, chunk_cxt, contact_cxt, &ch);
		}
	}
	data_owner_leave(&ch.scope);
	while ((i = bms_next_member(ch.changed, i)) >= 0)
		announce_change(cache->segments[i].id);
	if (ch.writer)
		contact_writer_close(ch.writer);
	rule_pin_now(0);
	SPI_finish();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	if (evaluated)
		*evaluated = ch.evaluated;
	return ch.written;
}

int64
maintain_apply(Attachments *att, Bitmapset *segments, ContactQueue *contacts, const char *cause,
			   int64 *evaluated)
{
	SegmentCache *cache;
	PendingBatch batch;

	writers_lock();
	cache = segment_cache_get();

	key_type = contact_key_type(cache->att);
	batch.cache = cache;
	batch.att = att ? att : cache->att;
	batch.segments = segments;
	batch.contacts = contacts;
	return apply_batches(list_make1(&batch), NULL, true, cause, evaluated);
}

void
maintain_writers_lock(void)
{
	writers_lock();
}

void
maintain_in_shard_task(bool on)
{
	in_shard_task = on;
}

void
maintain_catalog_lock(void)
{
	lock_writers(ExclusiveLock);
}

PG_FUNCTION_INFO_V1(segments_announce_change);

/* segments._announce_change(segment_id bigint) -> void */
Datum
segments_announce_change(PG_FUNCTION_ARGS)
{
	announce_change(PG_GETARG_INT64(0));
	PG_RETURN_VOID();
}

/*
 * segments._writers_lock(exclusive boolean) -> void
 *
 * Shared: as a writer takes it (writers_lock()).  Exclusive: for a change
 * of the catalog, which first takes SHARE ROW EXCLUSIVE on segments.segment
 * (catalog changes run one at a time; readers are not blocked), then waits
 * for the writers under way and makes new ones wait until it ends; it
 * bumps segments.catalog_version, so that
 * REPEATABLE READ and SERIALIZABLE writers whose snapshot predates it get
 * a serialization failure, and makes every backend read its caches again
 * once it commits (docs/design.md, "Catalog changes and the caches").
 */
Datum
segments_writers_lock(PG_FUNCTION_ARGS)
{
	if (!PG_GETARG_BOOL(0))
	{
		writers_lock();
		PG_RETURN_VOID();
	}
	LockRelationOid(rule_catalog_relid(), ShareRowExclusiveLock);
	lock_writers(ExclusiveLock);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("UPDATE segments.catalog_version SET version = version + 1", false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update segments.catalog_version");
	SPI_finish();
	segment_cache_catalog_changed();
	PG_RETURN_VOID();
}

void
maintain_take_group_turns(Attachments *group)
{
	lock_all_turns(TURN_SPACE(group), TURN_SPACE_CLASS(group), TURN_SPACE_BUCKETS(group));
}

void
maintain_take_all_turns(void)
{
	lock_all_turns(SEGMENTS_LOCK_KEY, TURN_BUCKET_CLASS, TURN_BUCKETS);
}

/*
 * Apply the transaction's queue.  Writes made meanwhile (by triggers on
 * the membership tables) queue anew; if applying fails and the failure is
 * caught (a savepoint), the queue is kept for a later flush or the commit.
 */
static void
flush(void)
{
	List	   *batches = pending;
	MemoryContext batches_cxt = pending_cxt;
	HTAB	   *batches_written = written;
	bool		batches_unknown = written_unknown;

	if (batches == NIL)
		return;
	pending = NIL;
	pending_cxt = NULL;
	written = NULL;
	written_unknown = false;
	PG_TRY();
	{
		apply_batches(batches, batches_written, batches_unknown, "write", NULL);
	}
	PG_CATCH();
	{
		if (pending_cxt != NULL)
			MemoryContextSetParent(pending_cxt, batches_cxt);
		pending_cxt = batches_cxt;
		pending = list_concat(batches, pending);
		/* rows written meanwhile are not in the restored table */
		written_unknown = batches_unknown || written != NULL;
		written = batches_written;
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (GetCurrentTransactionNestLevel() > 1)
	{
		/* undone if the subtransaction rolls back: kept to queue again */
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		AppliedBatches *a = palloc(sizeof(AppliedBatches));

		a->subid = GetCurrentSubTransactionId();
		a->batches = batches;
		a->cxt = batches_cxt;
		applied = lappend(applied, a);
		MemoryContextSwitchTo(old);
		return;
	}
	free_queues(batches);
	MemoryContextDelete(batches_cxt);
}

/*
 * Apply the queue outside the triggers, just before the commit: as the
 * role the triggers that queued it ran as (the extension's owner), with the
 * search_path their functions pin, as the commit trigger would.  An error
 * aborts the transaction, which restores both.
 */
static void
flush_as_queued(void)
{
	Oid			outer_user;
	int			outer_context;
	int			guc_level;

	GetUserIdAndSecContext(&outer_user, &outer_context);
	if (OidIsValid(queued_by))
		SetUserIdAndSecContext(queued_by, outer_context | SECURITY_LOCAL_USERID_CHANGE);
	guc_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	flush();
	AtEOXact_GUC(true, guc_level);
	SetUserIdAndSecContext(outer_user, outer_context);
}

/*
 * segments._at_commit() trigger: the deferred constraint trigger armed by
 * the transaction's first row; fires at commit (or at SET CONSTRAINTS ...
 * IMMEDIATE).
 */
Datum
segments_at_commit(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("segments._at_commit() must be fired as a trigger"),
				errhint("Attaching a table installs it; call segments.flush() to apply this transaction's writes now."));
	/* this event is consumed: a later row arms another */
	armed = false;
	flush();
	return PointerGetDatum(NULL);
}

/*
 * segments.flush() -> void: bring membership up to date with this
 * transaction's writes now rather than at commit.  Takes the contacts'
 * turns now, so it is best called once, after the transaction's writes.
 */
Datum
segments_flush(PG_FUNCTION_ARGS)
{
	flush();
	PG_RETURN_VOID();
}

/*
 * segments._take_all_turns() -> void: the turn of every contact, for
 * maintenance of all contacts at once (TRUNCATE, partitions attached or
 * detached).
 */
Datum
segments_take_all_turns(PG_FUNCTION_ARGS)
{
	lock_all_turns(SEGMENTS_LOCK_KEY, TURN_BUCKET_CLASS, TURN_BUCKETS);
	PG_RETURN_VOID();
}

/*
 * segments._pending() -> TABLE(segment_id bigint, contact text)
 *
 * What the transaction's commit (or segments.flush()) will bring up to
 * date: each segment and contact queued by its writes so far, batch by
 * batch (segments.pending() lists each pair once).
 */
Datum
segments_pending(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ListCell   *lc;
	Oid			output;
	bool		isvarlena;

	/* the segments a write queued tell which values their rules test */
	if (pg_class_aclcheck(rule_catalog_relid(), data_owner_caller(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				errmsg("permission denied to list the changes pending"),
				errdetail("The segments a write queued tell about their rules, which the role may not read."),
				errhint("Grant the role segments_reader."));
	InitMaterializedSRF(fcinfo, 0);
	foreach(lc, pending)
	{
		PendingBatch *batch = lfirst(lc);
		int			i = -1;

		getTypeOutputInfo(key_type->type_id, &output, &isvarlena);
		while ((i = bms_next_member(batch->segments, i)) >= 0)
		{
			Datum		key;

			contact_queue_rewind(batch->contacts);
			while (contact_queue_next(batch->contacts, &key))
			{
				Datum		values[2];
				bool		nulls[2] = {false, false};

				values[0] = Int64GetDatum(batch->cache->segments[i].id);
				values[1] = CStringGetTextDatum(OidOutputFunctionCall(output, key));
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
	}
	return (Datum) 0;
}
