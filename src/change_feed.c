/*
 * change_feed.c
 *	  The change feed: every change of membership, exactly once, in the
 *	  order of the log's ids (segments.changes()).
 *
 * segments.membership_log's ids come from a sequence, drawn while a
 * transaction runs, and the transaction commits later: a consumer polling
 * "id > last_seen" can see id 12 before id 11 commits, and skip 11 for
 * good.  The feed returns only ids up to a watermark that no change still
 * to commit can be under (docs/design.md, "The change feed"):
 *
 * - before its first log row, a transaction draws one id V and holds a lock
 *   tagged with it (locks.h, class 6) until it ends, in its top-level
 *   resource owner (a subtransaction's abort does not release it; a
 *   prepared transaction keeps it until COMMIT or ROLLBACK PREPARED): every
 *   id it writes is above V;
 * - a reader reads the sequence's last value L, then the lock table, takes
 *   W = the least of L and every V held, and only then reads the log, with
 *   a snapshot taken after that.  An id I <= W that will ever be visible
 *   was drawn before L was read by a transaction which, had it still been
 *   running when the locks were read, would have held a V < I <= W: so it
 *   had ended, and its rows are visible to that snapshot, or never.
 *
 * A consumer that keeps the cursor of the last change it processed and
 * asks for what follows sees each change once, across its restarts,
 * concurrent and long transactions, savepoints and prepared transactions.
 * A batch costs about its own size: the log is read by windows of ids (its
 * BRIN index on id), from the cursor on, not to the end.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "lib/stringinfo.h"
#include "utils/timestamp.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "change_feed.h"
#include "contact_key.h"
#include "locks.h"
#include "spi_plan.h"

PG_FUNCTION_INFO_V1(segments_changes);
PG_FUNCTION_INFO_V1(segments_log_writing);
PG_FUNCTION_INFO_V1(segments_log_watermark);

/* The top transaction whose log writes are announced by a lock. */
static FullTransactionId announced = {0};

/* The sequence of the log's ids; an error when the contacts are not attached. */
static Oid
log_sequence(void)
{
	Oid			log = get_relname_relid("membership_log", get_namespace_oid("segments", false));

	if (!OidIsValid(log))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("contacts are not attached"),
				errhint("Attach the contacts table first with segments.attach_contacts()."));
	return getIdentitySequence(log, get_attnum(log, "id"), false);
}

static void
set_writer_tag(LOCKTAG *tag, int64 below)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) ((uint64) below >> 32), (uint32) below,
						 LOG_WRITER_CLASS);
}

void
change_feed_writing(void)
{
	FullTransactionId xid = GetTopFullTransactionId();
	ResourceOwner owner = CurrentResourceOwner;
	LOCKTAG		tag;

	if (FullTransactionIdEquals(xid, announced))
		return;
	set_writer_tag(&tag, nextval_internal(log_sequence(), false));
	CurrentResourceOwner = TopTransactionResourceOwner;
	PG_TRY();
	{
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
	PG_FINALLY();
	{
		CurrentResourceOwner = owner;
	}
	PG_END_TRY();
	announced = xid;
}

/* segments._log_writing() -> void: change_feed_writing() for SQL writers. */
Datum
segments_log_writing(PG_FUNCTION_ARGS)
{
	change_feed_writing();
	PG_RETURN_VOID();
}

/*
 * The greatest id no change still to commit is under (see the top): the
 * sequence's last value first, then the locks (SPI connected).
 */
static int64
watermark(void)
{
	bool		isnull;
	int64		w;
	LockData   *locks;
	int			i;

	/* as the extension's owner: a reader has no privilege on the sequence */
	if (SPI_execute("SELECT segments._log_last_id()", false, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the last id of segments.membership_log");
	w = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	locks = GetLockStatusData();
	for (i = 0; i < locks->nelements; i++)
	{
		const LOCKTAG *t = &locks->locks[i].locktag;

		if (locks->locks[i].holdMask != 0 && t->locktag_type == LOCKTAG_ADVISORY &&
			t->locktag_field4 == LOG_WRITER_CLASS && t->locktag_field1 == MyDatabaseId)
			w = Min(w, (int64) (((uint64) t->locktag_field2 << 32) | t->locktag_field3));
	}
	return w;
}

/*
 * segments._log_watermark() -> bigint: the greatest id of the log under
 * which every change is final, for what reads the log once (the rollup of
 * segments.size_history).
 */
Datum
segments_log_watermark(PG_FUNCTION_ARGS)
{
	int64		w;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	w = watermark();
	SPI_finish();
	PG_RETURN_INT64(w);
}

/* The log's epoch and what was pruned of it (segments.log_state). */
static void
log_state(char **epoch, int64 *pruned_to)
{
	bool		isnull;

	if (SPI_execute("SELECT s.epoch, s.pruned_to FROM segments.log_state s", true, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read segments.log_state");
	*epoch = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*pruned_to = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

/*
 * The feed by node group.  On one server the log's ids come from one
 * sequence and the feed has one group.  On a Citus cluster each node draws
 * the ids of the log rows it holds from its own copy of the sequence, which
 * Citus gives the range [g << 48, (g + 1) << 48) of the node's group g, and
 * holds the locks of its own writers: the watermark argument holds node by
 * node, and a cursor is a position in each group's range (docs/design.md,
 * "The change feed on a cluster").
 */
#define GROUP_BITS 48
#define GROUP_FIRST(g) ((int64) (g) << GROUP_BITS)
#define GROUP_LAST(g) (GROUP_FIRST((g) + 1) - 1)
#define GROUP_OF(id) ((int32) ((id) >> GROUP_BITS))

typedef struct FeedRow
{
	int64		id;
	Datum		values[5];		/* segment_id, contact, joined, at, cause */
	bool		nulls[5];
} FeedRow;

typedef struct FeedGroup
{
	int32		group;
	int64		last;			/* the range's last id */
	int64		from;			/* the last id returned */
	int64		until;			/* the watermark, in the group's range */
	int64		read_to;		/* the log is read up to here */
	FeedRow    *rows;			/* a batch read, in id order */
	int			nrows;
	int			next;			/* the next row to return */
	MemoryContext cxt;			/* the batch's, reset for the next */
} FeedGroup;

/* The rows of a group read at once: memory stays bounded whatever max_rows. */
#define FEED_BATCH 1000

static int
group_cmp(const void *a, const void *b)
{
	int32		x = ((const FeedGroup *) a)->group;
	int32		y = ((const FeedGroup *) b)->group;

	return (x > y) - (x < y);
}

/*
 * A group of the feed, added when new; by_group, a group of a cluster,
 * otherwise the one of a server, whose range has no end.
 */
static FeedGroup *
feed_group(List **groups, int32 group, bool by_group)
{
	ListCell   *lc;
	FeedGroup  *g;

	foreach(lc, *groups)
	{
		g = lfirst(lc);
		if (g->group == group)
			return g;
	}
	g = palloc0(sizeof(FeedGroup));
	g->group = group;
	g->last = by_group ? GROUP_LAST(group) : PG_INT64_MAX;
	g->from = GROUP_FIRST(group);
	g->until = -1;				/* not known yet */
	*groups = lappend(*groups, g);
	return g;
}

/* The positions of a cursor "epoch:id[,id...]" of this log, one a group. */
static void
cursor_positions(const char *cursor, const char *epoch, int64 pruned_to, bool by_group, int32 last_group,
				 List **groups)
{
	const char *colon = strrchr(cursor, ':');
	const char *p;

	if (colon == NULL || (size_t) (colon - cursor) != strlen(epoch) ||
		strncmp(cursor, epoch, colon - cursor) != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("\"%s\" is not a cursor of this log", cursor),
				errdetail("A cursor is one that segments.changes() returned since the contacts were attached."),
				errhint("Read the current membership from segments.membership, then follow the changes from segments.changes(NULL)."));
	for (p = colon + 1;;)
	{
		char	   *end;
		int64		id;
		FeedGroup  *g;

		errno = 0;
		id = strtoi64(p, &end, 10);
		/* no group past the cluster's last: each costs a read of every shard */
		if (errno != 0 || end == p || id < 0 || (*end != '\0' && *end != ',') ||
			(by_group && GROUP_OF(id) > last_group) ||
			feed_group(groups, by_group ? GROUP_OF(id) : 0, by_group)->until != -1)
			ereport(ERROR,
					errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					errmsg("\"%s\" is not a cursor of this log", cursor));
		g = feed_group(groups, by_group ? GROUP_OF(id) : 0, by_group);
		g->from = id;
		g->until = -2;			/* seen in the cursor */
		if (g->group == 0 && id < pruned_to)
			ereport(ERROR,
					errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					errmsg("changes after the cursor were pruned"),
					errdetail("The cursor is at id " INT64_FORMAT "; segments.prune_log() deleted the log up to id " INT64_FORMAT ".",
							  id, pruned_to),
					errhint("Read the current membership from segments.membership, then follow the changes from segments.changes(NULL)."));
		if (*end == '\0')
			break;
		p = end + 1;
	}
}

/*
 * The node groups of a Citus cluster's nodes (SPI connected), and the last
 * group it made, which no cursor may pass.
 */
static int32
cluster_node_groups(List **nodes)
{
	int32		last = 0;
	uint64		i;

	/* the groups of the nodes, and the last the cluster's sequence gave */
	if (SPI_execute("SELECT DISTINCT n.groupid, true FROM pg_catalog.pg_dist_node n UNION ALL "
					"SELECT s.last_value::pg_catalog.int4, false FROM pg_catalog.pg_sequences s "
					" WHERE s.schemaname OPERATOR(pg_catalog.=) 'pg_catalog' "
					" AND s.sequencename OPERATOR(pg_catalog.=) 'pg_dist_groupid_seq' "
					" AND s.last_value IS NOT NULL", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the cluster's node groups");
	for (i = 0; i < SPI_processed; i++)
	{
		int32		group = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
														&(bool) {false}));

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &(bool) {false})))
			*nodes = lappend_int(*nodes, group);
		last = Max(last, group);
	}
	return last;
}

/*
 * The watermark of each node group of a Citus cluster (SPI connected):
 * this node's read here, the others' on their nodes.  A group of the
 * cursor that gave none: its node is gone, and it draws no more ids (its
 * range's end), or it is there but did not answer (disabled, not a
 * primary), and its changes wait where the cursor is.
 */
static void
cluster_watermarks(List **groups, List *nodes)
{
	int32		local;
	ListCell   *lc;
	uint64		i;

	if (SPI_execute("SELECT l.groupid FROM pg_catalog.pg_dist_local_group l", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read this node's group");
	local = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &(bool) {false}));
	feed_group(groups, local, true)->until = watermark();
	if (SPI_execute("SELECT w.group_id, w.watermark FROM segments._log_watermarks() w", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the watermarks of the cluster's nodes");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int32		group = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

		if (group != local)
			feed_group(groups, group, true)->until =
				DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	foreach(lc, *groups)
	{
		FeedGroup  *g = lfirst(lc);

		if (g->until == -2)
			g->until = list_member_int(nodes, g->group) ? g->from : g->last;
	}
}

/*
 * Read the next batch of a group's rows, after what was read and up to its
 * watermark, in id order (SPI connected): by windows of ids, wider while
 * they come back short.  Returns false when there is none left.
 */
static bool
read_group(FeedGroup *g, SPIPlanPtr plan, int batch)
{
	int64		until = Min(g->until, g->last);
	int64		window = Max((int64) batch * 2, 1024);

	MemoryContextReset(g->cxt);
	g->rows = MemoryContextAlloc(g->cxt, sizeof(FeedRow) * batch);
	g->nrows = g->next = 0;
	while (g->nrows < batch && g->read_to < until)
	{
		int64		to = (until - g->read_to > window) ? g->read_to + window : until;
		Datum		args[3] = {Int64GetDatum(g->read_to), Int64GetDatum(to), Int64GetDatum(batch - g->nrows)};
		uint64		i;

		CHECK_FOR_INTERRUPTS();
		/* not read-only: a snapshot of its own, taken after the watermark */
		if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read segments.membership_log");
		for (i = 0; i < SPI_processed; i++)
		{
			FeedRow    *r = &g->rows[g->nrows++];
			MemoryContext old = MemoryContextSwitchTo(g->cxt);
			bool		isnull;
			int			c;

			r->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
			for (c = 0; c < 5; c++)
			{
				Form_pg_attribute a = TupleDescAttr(SPI_tuptable->tupdesc, c + 1);

				r->values[c] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, c + 2, &r->nulls[c]);
				if (!r->nulls[c])
					r->values[c] = datumCopy(r->values[c], a->attbyval, a->attlen);
			}
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
		/* a full batch ends at its last row; a short window was read whole */
		g->read_to = g->nrows == batch ? g->rows[batch - 1].id : to;
		if (window < PG_INT64_MAX / 2)
			window *= 2;
	}
	return g->nrows > 0;
}

/* A cursor: the epoch and every group's position, in the groups' order. */
static char *
cursor_text(const char *epoch, FeedGroup *groups, int ngroups)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s:", epoch);
	for (i = 0; i < ngroups; i++)
		appendStringInfo(&buf, "%s" INT64_FORMAT, i > 0 ? "," : "", groups[i].from);
	return buf.data;
}

/*
 * segments.changes(after text, max_rows integer)
 *	 RETURNS TABLE (cursor text, segment_id bigint, contact text, joined boolean,
 *					at timestamptz, cause text)
 *
 * Each group's changes in id order; the groups' merged by time.
 */
Datum
segments_changes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		max_rows = PG_ARGISNULL(1) ? -1 : PG_GETARG_INT32(1);
	MemoryContext cxt = CurrentMemoryContext;
	static SPIPlanPtr plan = NULL;
	static uint64 plan_generation = 0;
	Attachments *att;
	char	   *epoch;
	int64		pruned_to;
	List	   *group_list = NIL;
	List	   *nodes = NIL;
	int32		last_group = 0;
	FeedGroup  *first;
	FeedGroup  *groups;
	bool		behind = false;
	int			ngroups;
	int			i;
	int32		left;
	ListCell   *lc;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("segments.changes() runs only under READ COMMITTED"),
				errdetail("It reads the log with a snapshot taken after it knows which changes are final."));
	if (max_rows < 1)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("max_rows must be at least 1"));
	InitMaterializedSRF(fcinfo, 0);
	att = rule_load_attachments();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(cxt);
	log_state(&epoch, &pruned_to);
	epoch = pstrdup(epoch);
	if (att->distributed)
		last_group = cluster_node_groups(&nodes);
	if (!PG_ARGISNULL(0))
		cursor_positions(text_to_cstring(PG_GETARG_TEXT_PP(0)), epoch, pruned_to, att->distributed,
						 last_group, &group_list);
	first = feed_group(&group_list, 0, att->distributed);
	first->from = Max(first->from, pruned_to);
	if (att->distributed)
		cluster_watermarks(&group_list, nodes);
	else
		first->until = watermark();
	MemoryContextSwitchTo(cxt);
	ngroups = list_length(group_list);
	groups = palloc(sizeof(FeedGroup) * ngroups);
	foreach(lc, group_list)
	{
		FeedGroup  *g = lfirst(lc);

		groups[foreach_current_index(lc)] = *g;
		behind |= g->from < Min(g->until, g->last);
	}
	qsort(groups, ngroups, sizeof(FeedGroup), group_cmp);

	/* the ranges a build just wrote are read whole until summarized */
	if (behind && !RecoveryInProgress() &&
		SPI_execute("SELECT segments._summarize_log()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not summarize segments.membership_log");
	if (plan == NULL || plan_generation != att->generation)
	{
		Oid			types[3] = {INT8OID, INT8OID, INT8OID};
		/* a key per tenant as its composite's text, (tenant,contact) */
		char	   *query = psprintf("SELECT l.id, l.segment_id, %s::text, l.joined, l.at, l.cause "
									 "FROM segments.membership_log l "
									 "WHERE l.id > $1 AND l.id <= $2 ORDER BY l.id LIMIT $3",
									 member_key_sql(att, "l"));

		if (plan)
			SPI_freeplan(plan);
		/* Citus plans a distributed read only with its parameters' values */
		plan = att->distributed ? keep_custom_plan(query, 3, types) : keep_generic_plan(query, 3, types);
		plan_generation = att->generation;
	}
	for (i = 0; i < ngroups; i++)
	{
		groups[i].read_to = groups[i].from;
		groups[i].cxt = AllocSetContextCreate(cxt, "segments feed group", ALLOCSET_DEFAULT_SIZES);
		(void) read_group(&groups[i], plan, Min(max_rows, FEED_BATCH));
	}

	/* the groups merged by the time of their next change */
	for (left = max_rows; left > 0; left--)
	{
		FeedGroup  *next = NULL;
		FeedRow    *r;
		Datum		values[6];
		bool		nulls[6] = {false};

		for (i = 0; i < ngroups; i++)
			if ((groups[i].next < groups[i].nrows ||
				 read_group(&groups[i], plan, Min(max_rows, FEED_BATCH))) &&
				(next == NULL || timestamptz_cmp_internal(DatumGetTimestampTz(groups[i].rows[groups[i].next].values[3]),
														  DatumGetTimestampTz(next->rows[next->next].values[3])) < 0))
				next = &groups[i];
		if (next == NULL)
			break;
		r = &next->rows[next->next++];
		next->from = r->id;
		values[0] = CStringGetTextDatum(cursor_text(epoch, groups, ngroups));
		memcpy(&values[1], r->values, sizeof(r->values));
		memcpy(&nulls[1], r->nulls, sizeof(r->nulls));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
