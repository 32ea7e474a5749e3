/*
 * membership.c
 *	  Bulk writes of a segment's membership and its log.
 *
 * The first build of a segment inserts every member into
 * segments.membership and logs each join in segments.membership_log.  Done
 * as INSERT ... SELECT, the log doubles the cost of a build; here both
 * tables are written the way COPY writes, in batches (table_multi_insert:
 * one WAL record per page rather than per row), with their indexes
 * maintained tuple by tuple, so a build costs about what a hand-written
 * INSERT ... SELECT of the members alone costs.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
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

static void
bulk_open(BulkTable *t, Oid relid)
{
	AclResult	acl;
	int			i;

	t->rel = table_open(relid, RowExclusiveLock);
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(t->rel));
	/* what COPY would honour and a bulk write bypasses must not be there */
	if (t->rel->trigdesc != NULL ||
		check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED ||
		t->rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("segments.%s must be a plain table without triggers or row-level security",
					   RelationGetRelationName(t->rel)));
	t->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(t->rri, t->rel, 1, NULL, 0);
	ExecOpenIndices(t->rri, false);
	t->bistate = GetBulkInsertState();
	for (i = 0; i < BUILD_BATCH; i++)
		t->slots[i] = MakeSingleTupleTableSlot(RelationGetDescr(t->rel), &TTSOpsVirtual);
	t->nslots = 0;
}

/* The next slot to fill, cleared. */
static TupleTableSlot *
bulk_slot(BulkTable *t)
{
	TupleTableSlot *slot = t->slots[t->nslots++];

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	return slot;
}

static void
bulk_flush(BulkTable *t, EState *estate)
{
	int			i;

	if (t->nslots == 0)
		return;
	table_multi_insert(t->rel, t->slots, t->nslots, GetCurrentCommandId(true), 0, t->bistate);
	for (i = 0; i < t->nslots; i++)
	{
		List	   *recheck;

#if PG_VERSION_NUM >= 160000
		recheck = ExecInsertIndexTuples(t->rri, t->slots[i], estate, false, false, NULL, NIL, false);
#else
		recheck = ExecInsertIndexTuples(t->rri, t->slots[i], estate, false, false, NULL, NIL);
#endif
		list_free(recheck);
	}
	t->nslots = 0;
	ResetPerTupleExprContext(estate);
}

static void
bulk_close(BulkTable *t)
{
	int			i;

	for (i = 0; i < BUILD_BATCH; i++)
		ExecDropSingleTupleTableSlot(t->slots[i]);
	FreeBulkInsertState(t->bistate);
	table_finish_bulk_insert(t->rel, 0);
	ExecCloseIndices(t->rri);
	table_close(t->rel, NoLock);
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
	int64		segment_id = PG_GETARG_INT64(0);
	char	   *compiled = text_to_cstring(PG_GETARG_TEXT_PP(1));
	EState	   *estate = CreateExecutorState();
	BulkTable	members,
				log;
	AttrNumber	m_segment,
				m_contact,
				m_since,
				l_id,
				l_segment,
				l_contact,
				l_joined,
				l_at,
				l_cause;
	Oid			log_sequence;
	Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	Datum		cause = CStringGetTextDatum("build");
	Portal		portal;
	int64		total = 0;

	bulk_open(&members, segments_table("membership"));
	bulk_open(&log, segments_table("membership_log"));
	m_segment = column(members.rel, "segment_id");
	m_contact = column(members.rel, "contact");
	m_since = column(members.rel, "since");
	l_id = column(log.rel, "id");
	l_segment = column(log.rel, "segment_id");
	l_contact = column(log.rel, "contact");
	l_joined = column(log.rel, "joined");
	l_at = column(log.rel, "at");
	l_cause = column(log.rel, "cause");
	log_sequence = getIdentitySequence(RelationGetRelid(log.rel), l_id, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = SPI_cursor_open_with_args(NULL, compiled, 0, NULL, NULL, NULL, true, 0);
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
			TupleTableSlot *m;
			TupleTableSlot *l;

			if (isnull)
				continue;		/* a key column admits no NULL; stay safe */
			m = bulk_slot(&members);
			l = bulk_slot(&log);
			m->tts_values[m_segment - 1] = Int64GetDatum(segment_id);
			m->tts_values[m_contact - 1] = contact;
			m->tts_values[m_since - 1] = now;
			m->tts_isnull[m_segment - 1] = m->tts_isnull[m_contact - 1] = m->tts_isnull[m_since - 1] = false;
			ExecStoreVirtualTuple(m);

			l->tts_values[l_id - 1] = Int64GetDatum(nextval_internal(log_sequence, false));
			l->tts_values[l_segment - 1] = Int64GetDatum(segment_id);
			l->tts_values[l_contact - 1] = contact;
			l->tts_values[l_joined - 1] = BoolGetDatum(true);
			l->tts_values[l_at - 1] = now;
			l->tts_values[l_cause - 1] = cause;
			l->tts_isnull[l_id - 1] = l->tts_isnull[l_segment - 1] = l->tts_isnull[l_contact - 1] =
				l->tts_isnull[l_joined - 1] = l->tts_isnull[l_at - 1] = l->tts_isnull[l_cause - 1] = false;
			ExecStoreVirtualTuple(l);
			total++;
		}
		/* the batch's contacts live in SPI's tuple table: write them now */
		bulk_flush(&members, estate);
		bulk_flush(&log, estate);
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();

	bulk_close(&members);
	bulk_close(&log);
	FreeExecutorState(estate);
	CommandCounterIncrement();
	PG_RETURN_INT64(total);
}
