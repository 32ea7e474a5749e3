/*
 * membership.c
 *	  Direct writes of the membership and its log.
 *
 * The first build of a segment inserts every member into
 * segments.membership and logs each join in segments.membership_log.  Done
 * as INSERT ... SELECT, the log doubles the cost of a build; here both
 * tables are written the way COPY writes, in batches (table_multi_insert:
 * one WAL record per page rather than per row), with their indexes
 * maintained tuple by tuple, so a build costs about what a hand-written
 * INSERT ... SELECT of the members alone costs.
 *
 * The commit of a single-row write changes one contact's membership of a
 * few segments.  A statement that works out and writes those changes costs
 * more to start than to run (three tables, their indexes, a plan of a
 * dozen nodes), about as much as the write it maintains; the contact writer
 * reads the contact's memberships through its index and deletes and
 * inserts rows itself, with the tables opened once per commit, a
 * contact's new rows of each table inserted together.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_relation.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "change_feed.h"
#include "data_owner.h"
#include "contact_key.h"
#include "membership.h"
#include "shard_task.h"
#include "rule_time.h"

PG_FUNCTION_INFO_V1(segments_build);

#define BUILD_BATCH 1000

/* A table written in batches. */
typedef struct BulkTable
{
	Relation	rel;
	ResultRelInfo *rri;
	BulkInsertState bistate;
	TupleTableSlot *slots[BUILD_BATCH];
	int			nslots;
} BulkTable;

static Oid
segments_table(const char *name)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("segments", false));

	if (!OidIsValid(relid))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("table segments.%s does not exist", name),
				errhint("Attach a contacts table with segments.attach_contacts()."));
	return relid;
}

static AttrNumber
column(Relation rel, const char *name)
{
	AttrNumber	attnum = attnameAttNum(rel, name, false);

	if (attnum == InvalidAttrNumber)
		elog(ERROR, "column \"%s\" of %s is missing", name, RelationGetRelationName(rel));
	return attnum;
}

/*
 * Whether a row written or deleted directly would skip one of the table's
 * triggers (a TRUNCATE trigger, as the log has, is not skipped).
 */
static bool
has_row_write_triggers(TriggerDesc *trigdesc)
{
	return trigdesc != NULL &&
		(trigdesc->trig_insert_before_row || trigdesc->trig_insert_after_row ||
		 trigdesc->trig_insert_instead_row || trigdesc->trig_insert_before_statement ||
		 trigdesc->trig_insert_after_statement || trigdesc->trig_insert_new_table ||
		 trigdesc->trig_update_before_row || trigdesc->trig_update_after_row ||
		 trigdesc->trig_update_instead_row || trigdesc->trig_update_before_statement ||
		 trigdesc->trig_update_after_statement || trigdesc->trig_update_old_table ||
		 trigdesc->trig_update_new_table ||
		 trigdesc->trig_delete_before_row || trigdesc->trig_delete_after_row ||
		 trigdesc->trig_delete_instead_row || trigdesc->trig_delete_before_statement ||
		 trigdesc->trig_delete_after_statement || trigdesc->trig_delete_old_table);
}

/*
 * Refuses a direct write of a Citus cluster's distributed membership or
 * log: they are written in their shard groups (citus.h), whose shards a
 * write of the distributed table itself would not reach.
 */
static void
refuse_distributed(const Attachments *att)
{
	if (att->distributed && att->logical == NULL)
		elog(ERROR, "the membership of a Citus cluster is written in its shard groups");
}

/*
 * One of the extension's tables, opened for a direct write (mode: the
 * privileges it needs), with its indexes.
 */
static ResultRelInfo *
open_for_writing(Oid relid, AclMode mode)
{
	Relation	rel = table_open(relid, RowExclusiveLock);
	AclResult	acl = pg_class_aclcheck(relid, GetUserId(), mode);
	ResultRelInfo *rri;

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel));
	/* what a statement would honour and a direct write bypasses must not be there */
	if (has_row_write_triggers(rel->trigdesc) ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED ||
		rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("segments.%s must be a plain table without insert, update or delete triggers or row-level security",
					   RelationGetRelationName(rel)));
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	return rri;
}

static void
close_for_writing(ResultRelInfo *rri)
{
	ExecCloseIndices(rri);
	table_close(rri->ri_RelationDesc, NoLock);
}

/* Where the membership's rows and the log's put their values. */
typedef struct RowLayout
{
	const Attachments *att;		/* keyed per tenant: the tenant columns too */
	AttrNumber	m_segment,
				m_tenant,
				m_contact,
				m_since,
				l_id,
				l_segment,
				l_tenant,
				l_contact,
				l_joined,
				l_at,
				l_cause;
	Oid			log_sequence;	/* of the log's id */
} RowLayout;

static void
row_layout(RowLayout *r, Relation members, Relation log, const Attachments *att)
{
	r->att = att;
	r->m_tenant = r->att->key_per_tenant ? column(members, "tenant") : 0;
	r->l_tenant = r->att->key_per_tenant ? column(log, "tenant") : 0;
	r->m_segment = column(members, "segment_id");
	r->m_contact = column(members, "contact");
	r->m_since = column(members, "since");
	r->l_id = column(log, "id");
	r->l_segment = column(log, "segment_id");
	r->l_contact = column(log, "contact");
	r->l_joined = column(log, "joined");
	r->l_at = column(log, "at");
	r->l_cause = column(log, "cause");
	/* a shard has no identity: the logical log's sequence numbers its rows */
	if (att->logical == NULL)
		r->log_sequence = getIdentitySequence(RelationGetRelid(log), r->l_id, false);
	else
	{
		Oid			logical = segments_table(att->logical->log_table);

		r->log_sequence = getIdentitySequence(logical, get_attnum(logical, "id"), false);
	}
}

/* A membership row; since is the time of the rules' clock (segments.now()). */
static void
member_row(TupleTableSlot *m, const RowLayout *r, int64 segment, Datum contact, Datum since)
{
	ExecClearTuple(m);
	memset(m->tts_isnull, true, sizeof(bool) * m->tts_tupleDescriptor->natts);
	m->tts_values[r->m_segment - 1] = Int64GetDatum(segment);
	m->tts_values[r->m_since - 1] = since;
	m->tts_isnull[r->m_segment - 1] = m->tts_isnull[r->m_contact - 1] = m->tts_isnull[r->m_since - 1] = false;
	if (r->m_tenant)
	{
		contact_key_split(r->att, contact, &m->tts_values[r->m_tenant - 1], &m->tts_values[r->m_contact - 1]);
		m->tts_isnull[r->m_tenant - 1] = false;
	}
	else
		m->tts_values[r->m_contact - 1] = contact;
	ExecStoreVirtualTuple(m);
}

/* A log row, its id drawn from the identity's sequence. */
static void
log_row(TupleTableSlot *l, const RowLayout *r, int64 segment, Datum contact, bool joined, Datum now,
		Datum cause)
{
	change_feed_writing();
	ExecClearTuple(l);
	memset(l->tts_isnull, true, sizeof(bool) * l->tts_tupleDescriptor->natts);
	l->tts_values[r->l_id - 1] = Int64GetDatum(nextval_internal(r->log_sequence, false));
	l->tts_values[r->l_segment - 1] = Int64GetDatum(segment);
	if (r->l_tenant)
	{
		contact_key_split(r->att, contact, &l->tts_values[r->l_tenant - 1], &l->tts_values[r->l_contact - 1]);
		l->tts_isnull[r->l_tenant - 1] = false;
	}
	else
		l->tts_values[r->l_contact - 1] = contact;
	l->tts_values[r->l_joined - 1] = BoolGetDatum(joined);
	l->tts_values[r->l_at - 1] = now;
	l->tts_values[r->l_cause - 1] = cause;
	l->tts_isnull[r->l_id - 1] = l->tts_isnull[r->l_segment - 1] = l->tts_isnull[r->l_contact - 1] =
		l->tts_isnull[r->l_joined - 1] = l->tts_isnull[r->l_at - 1] = l->tts_isnull[r->l_cause - 1] = false;
	ExecStoreVirtualTuple(l);
}

static void
bulk_open(BulkTable *t, Oid relid)
{
	int			i;

	t->rri = open_for_writing(relid, ACL_INSERT);
	t->rel = t->rri->ri_RelationDesc;
	t->bistate = GetBulkInsertState();
	for (i = 0; i < BUILD_BATCH; i++)
		t->slots[i] = MakeSingleTupleTableSlot(RelationGetDescr(t->rel), &TTSOpsVirtual);
	t->nslots = 0;
}

/* The next slot to fill. */
static TupleTableSlot *
bulk_slot(BulkTable *t)
{
	return t->slots[t->nslots++];
}

/*
 * Rows inserted together, as COPY does: one WAL record per page rather than
 * per row; then their index entries, one by one (a duplicate key fails).
 */
static void
insert_rows(ResultRelInfo *rri, TupleTableSlot **slots, int n, BulkInsertState bistate,
			EState *estate)
{
	int			i;

	if (n == 0)
		return;
	table_multi_insert(rri->ri_RelationDesc, slots, n, GetCurrentCommandId(true), 0, bistate);
	for (i = 0; i < n; i++)
	{
		List	   *recheck;

#if PG_VERSION_NUM >= 160000
		recheck = ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL, false);
#else
		recheck = ExecInsertIndexTuples(rri, slots[i], estate, false, false, NULL, NIL);
#endif
		list_free(recheck);
	}
	ResetPerTupleExprContext(estate);
}

static void
bulk_flush(BulkTable *t, EState *estate)
{
	insert_rows(t->rri, t->slots, t->nslots, t->bistate, estate);
	t->nslots = 0;
}

static void
bulk_close(BulkTable *t)
{
	int			i;

	for (i = 0; i < BUILD_BATCH; i++)
		ExecDropSingleTupleTableSlot(t->slots[i]);
	FreeBulkInsertState(t->bistate);
	table_finish_bulk_insert(t->rel, 0);
	close_for_writing(t->rri);
}

/*
 * segments._build(id bigint, compiled text) -> bigint
 *
 * Insert the contacts the compiled rule selects as members of segment id,
 * logging each as joined by 'build'.  Returns the number of members.
 */
Datum
segments_build(PG_FUNCTION_ARGS)
{
	Attachments *att = rule_load_attachments();

	/* on a Citus cluster, every node builds its shard groups' */
	if (att->distributed)
		PG_RETURN_INT64(shard_task_run("build", PG_GETARG_INT64(0), rule_now(), NULL));
	PG_RETURN_INT64(membership_build(att, PG_GETARG_INT64(0), text_to_cstring(PG_GETARG_TEXT_PP(1))));
}

int64
membership_build(const Attachments *att, int64 segment_id, const char *compiled)
{
	EState	   *estate = CreateExecutorState();
	BulkTable	members,
				log;
	RowLayout	layout;
	Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	Datum		since = TimestampTzGetDatum(rule_now());
	Datum		cause = CStringGetTextDatum("build");
	Portal		portal;
	int64		total = 0;
	DataOwnerScope scope;

	refuse_distributed(att);
	bulk_open(&members, segments_table(att->membership_table));
	bulk_open(&log, segments_table(att->log_table));
	row_layout(&layout, members.rel, log.rel, att);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = data_owner_open_keys(&scope, compiled, 0, NULL, NULL, layout.att->key_type);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, BUILD_BATCH);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		contact = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

			if (isnull)
				continue;		/* a key column admits no NULL; stay safe */
			member_row(bulk_slot(&members), &layout, segment_id, contact, since);
			log_row(bulk_slot(&log), &layout, segment_id, contact, true, now, cause);
			total++;
		}
		/* the batch's contacts live in SPI's tuple table: write them now */
		data_owner_pause(&scope);
		bulk_flush(&members, estate);
		bulk_flush(&log, estate);
		data_owner_resume(&scope);
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	data_owner_leave(&scope);
	SPI_finish();

	bulk_close(&members);
	bulk_close(&log);
	FreeExecutorState(estate);
	CommandCounterIncrement();
	return total;
}

/* The writer of single contacts' changes (membership.h). */
struct ContactWriter
{
	EState	   *estate;
	ResultRelInfo *members;
	ResultRelInfo *log;
	Relation	by_contact;		/* the membership's btree index led by the
								 * key's columns (tenant, contact) */
	int			nkeys;
	AttrNumber	segment_in_index;	/* where by_contact holds segment_id, or 0 */
	ScanKeyData key[2];			/* = ?, their arguments set per contact */
	TupleTableSlot *found;		/* a membership row read */
	int			nslots;			/* of each of: */
	TupleTableSlot **member_slots;	/* the rows of a contact's joins */
	TupleTableSlot **log_slots;	/* the log rows of its changes */
	TupleDesc	member_desc;	/* copies of the tables' descriptors, which */
	TupleDesc	log_desc;		/* slots use without a reference count */
	MemoryContext cxt;			/* of the writer */
	RowLayout	layout;
	Datum		cause;
};

ContactWriter *
contact_writer_open(const char *cause, const Attachments *att)
{
	ContactWriter *w = palloc0(sizeof(ContactWriter));
	Relation	members;
	Relation	log;
	int			i;

	refuse_distributed(att);
	w->estate = CreateExecutorState();
	w->members = open_for_writing(segments_table(att->membership_table), ACL_SELECT | ACL_INSERT | ACL_DELETE);
	w->log = open_for_writing(segments_table(att->log_table), ACL_INSERT);
	members = w->members->ri_RelationDesc;
	log = w->log->ri_RelationDesc;
	row_layout(&w->layout, members, log, att);
	w->cause = CStringGetTextDatum(cause);

	w->nkeys = w->layout.m_tenant ? 2 : 1;
	for (i = 0; i < w->members->ri_NumIndices && w->by_contact == NULL; i++)
	{
		Relation	index = w->members->ri_IndexRelationDescs[i];
		Oid			eq[2] = {InvalidOid, InvalidOid};
		int			k;

		if (index->rd_rel->relam != BTREE_AM_OID || index->rd_index->indnkeyatts < w->nkeys ||
			index->rd_index->indkey.values[w->nkeys - 1] != w->layout.m_contact ||
			(w->layout.m_tenant && index->rd_index->indkey.values[0] != w->layout.m_tenant))
			continue;
		for (k = 0; k < w->nkeys; k++)
			eq[k] = get_opfamily_member(index->rd_opfamily[k], index->rd_opcintype[k],
										index->rd_opcintype[k], BTEqualStrategyNumber);
		if (!OidIsValid(eq[0]) || (w->nkeys == 2 && !OidIsValid(eq[1])))
			continue;
		w->by_contact = index;
		for (k = w->nkeys; k < index->rd_index->indnkeyatts; k++)
			if (index->rd_index->indkey.values[k] == w->layout.m_segment)
				w->segment_in_index = k + 1;
		/* the index's collation: a search must compare as its order does */
		for (k = 0; k < w->nkeys; k++)
			ScanKeyEntryInitialize(&w->key[k], 0, k + 1, BTEqualStrategyNumber, InvalidOid,
								   index->rd_indcollation[k], get_opcode(eq[k]), (Datum) 0);
	}
	if (w->by_contact == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("segments.membership has no index led by its contact's key"),
				errhint("Create one: CREATE INDEX ON segments.membership (%s, segment_id).",
						member_key_columns(w->layout.att)));

	w->found = table_slot_create(members, NULL);
	w->member_desc = CreateTupleDescCopy(RelationGetDescr(members));
	w->log_desc = CreateTupleDescCopy(RelationGetDescr(log));
	w->cxt = CurrentMemoryContext;
	return w;
}

void
contact_writer_close(ContactWriter *w)
{
	int			i;

	ExecDropSingleTupleTableSlot(w->found);
	for (i = 0; i < w->nslots; i++)
	{
		ExecDropSingleTupleTableSlot(w->member_slots[i]);
		ExecDropSingleTupleTableSlot(w->log_slots[i]);
	}
	close_for_writing(w->members);
	close_for_writing(w->log);
	FreeTupleDesc(w->member_desc);
	FreeTupleDesc(w->log_desc);
	FreeExecutorState(w->estate);
	pfree(w);
}

/* At least n slots for rows of each table. */
static void
writer_slots(ContactWriter *w, int n)
{
	MemoryContext old;
	int			space = Max(n, 16);
	int			i;

	if (n <= w->nslots)
		return;
	old = MemoryContextSwitchTo(w->cxt);
	if (w->nslots == 0)
	{
		w->member_slots = palloc(sizeof(TupleTableSlot *) * space);
		w->log_slots = palloc(sizeof(TupleTableSlot *) * space);
	}
	else
	{
		space = Max(space, w->nslots * 2);
		w->member_slots = repalloc(w->member_slots, sizeof(TupleTableSlot *) * space);
		w->log_slots = repalloc(w->log_slots, sizeof(TupleTableSlot *) * space);
	}
	for (i = w->nslots; i < space; i++)
	{
		w->member_slots[i] = MakeSingleTupleTableSlot(w->member_desc, &TTSOpsVirtual);
		w->log_slots[i] = MakeSingleTupleTableSlot(w->log_desc, &TTSOpsVirtual);
	}
	w->nslots = space;
	MemoryContextSwitchTo(old);
}

static int
id_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/*
 * Make contact a member of exactly those of the n segments (ascending
 * ids) whose member[i] is true; its memberships of others stay.  Sets
 * changed[i] for each it joined or left, logs them (leaves first, like a
 * batch's statement) and returns their number.  The caller holds the
 * contact's turn: no one else changes these memberships until it commits.
 */
int
contact_writer_apply(ContactWriter *w, Datum contact, const int64 *segment, const bool *member,
					 int n, bool *changed)
{
	bool	   *present = palloc0(sizeof(bool) * Max(n, 1));
	Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	Datum		since = TimestampTzGetDatum(rule_now());
	Relation	heap = w->members->ri_RelationDesc;
	Snapshot	snapshot;
	IndexScanDesc scan;
	ItemPointer tid;
	Buffer		vmbuffer = InvalidBuffer;
	int			changes = 0;
	int			joins = 0;
	int			written = 0;
	int			i;

	/* what this transaction wrote so far, and what others committed */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	if (w->nkeys == 2)
		contact_key_split(w->layout.att, contact, &w->key[0].sk_argument, &w->key[1].sk_argument);
	else
		w->key[0].sk_argument = contact;
	/*
	 * The index entries tell the segment: a row is read only for a segment
	 * looked at, and only to delete it or when the visibility map cannot
	 * tell that it is visible (as an index-only scan does).
	 */
	scan = index_beginscan(heap, w->by_contact, snapshot, w->nkeys, 0);
	scan->xs_want_itup = w->segment_in_index > 0;
	index_rescan(scan, w->key, w->nkeys, NULL, 0);
	while ((tid = index_getnext_tid(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		int64		id;
		int64	   *at = NULL;

		if (w->segment_in_index > 0)
		{
			id = DatumGetInt64(index_getattr(scan->xs_itup, w->segment_in_index, scan->xs_itupdesc,
											 &isnull));
			at = bsearch(&id, segment, n, sizeof(int64), id_cmp);
			if (at == NULL)
				continue;
			if (member[at - segment] &&
				VM_ALL_VISIBLE(heap, ItemPointerGetBlockNumber(tid), &vmbuffer))
			{
				present[at - segment] = true;
				continue;
			}
		}
		if (!index_fetch_heap(scan, w->found))
			continue;
		if (w->segment_in_index == 0)
		{
			id = DatumGetInt64(slot_getattr(w->found, w->layout.m_segment, &isnull));
			at = bsearch(&id, segment, n, sizeof(int64), id_cmp);
			if (at == NULL)
				continue;
		}
		i = at - segment;
		present[i] = true;
		if (!member[i])
		{
			simple_table_tuple_delete(heap, &w->found->tts_tid, snapshot);
			changed[i] = true;
		}
	}
	if (vmbuffer != InvalidBuffer)
		ReleaseBuffer(vmbuffer);
	index_endscan(scan);
	UnregisterSnapshot(snapshot);

	/* the joins' rows, then the log's: leaves first, like a batch's statement */
	for (i = 0; i < n; i++)
	{
		if (member[i] && !present[i])
			changed[i] = true;
		changes += changed[i];
	}
	writer_slots(w, changes);
	for (i = 0; i < n; i++)
		if (member[i] && !present[i])
			member_row(w->member_slots[joins++], &w->layout, segment[i], contact, since);
	insert_rows(w->members, w->member_slots, joins, NULL, w->estate);
	for (i = 0; i < n; i++)
		if (changed[i] && !member[i])
			log_row(w->log_slots[written++], &w->layout, segment[i], contact, false, now, w->cause);
	for (i = 0; i < n; i++)
		if (changed[i] && member[i])
			log_row(w->log_slots[written++], &w->layout, segment[i], contact, true, now, w->cause);
	insert_rows(w->log, w->log_slots, written, NULL, w->estate);
	ResetPerTupleExprContext(w->estate);
	pfree(present);
	if (written > 0)
		CommandCounterIncrement();
	return written;
}
