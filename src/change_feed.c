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
#include "utils/lsyscache.h"
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

/* The id of a cursor "epoch:id" of this log. */
static int64
cursor_id(const char *cursor, const char *epoch, int64 pruned_to)
{
	const char *colon = strrchr(cursor, ':');
	char	   *end;
	int64		id;

	if (colon == NULL || (size_t) (colon - cursor) != strlen(epoch) ||
		strncmp(cursor, epoch, colon - cursor) != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("\"%s\" is not a cursor of this log", cursor),
				errdetail("A cursor is one that segments.changes() returned since the contacts were attached."),
				errhint("Read the current membership from segments.membership, then follow the changes from segments.changes(NULL)."));
	errno = 0;
	id = strtoi64(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || id < 0 || end == colon + 1)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("\"%s\" is not a cursor of this log", cursor));
	if (id < pruned_to)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("changes after the cursor were pruned"),
				errdetail("The cursor is at id " INT64_FORMAT "; segments.prune_log() deleted the log up to id " INT64_FORMAT ".",
						  id, pruned_to),
				errhint("Read the current membership from segments.membership, then follow the changes from segments.changes(NULL)."));
	return id;
}

/*
 * segments.changes(after text, max_rows integer)
 *	 RETURNS TABLE (cursor text, segment_id bigint, contact text, joined boolean,
 *					at timestamptz, cause text)
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
	int64		from = 0;
	int64		until;
	int64		window;
	int64		left;

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
	if (!PG_ARGISNULL(0))
		from = cursor_id(text_to_cstring(PG_GETARG_TEXT_PP(0)), epoch, pruned_to);
	else if (pruned_to > 0)
		from = pruned_to;
	until = watermark();
	/* the ranges a build just wrote are read whole until summarized */
	if (from < until && !RecoveryInProgress() &&
		SPI_execute("SELECT segments._summarize_log()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not summarize segments.membership_log");
	if (plan == NULL || plan_generation != att->generation)
	{
		Oid			types[3] = {INT8OID, INT8OID, INT8OID};

		if (plan)
			SPI_freeplan(plan);
		/* a key per tenant as its composite's text, (tenant,contact) */
		plan = keep_generic_plan(psprintf("SELECT l.id, l.segment_id, %s::text, l.joined, l.at, l.cause "
										  "FROM segments.membership_log l "
										  "WHERE l.id > $1 AND l.id <= $2 ORDER BY l.id LIMIT $3",
										  member_key_sql(att, "l")),
								 3, types);
		plan_generation = att->generation;
	}
	/* windows of ids from the cursor on, wider while they come back short */
	window = Max((int64) max_rows * 2, 1024);
	left = max_rows;
	while (left > 0 && from < until)
	{
		int64		to = (until - from > window) ? from + window : until;
		Datum		args[3] = {Int64GetDatum(from), Int64GetDatum(to), Int64GetDatum(left)};
		uint64		i;

		CHECK_FOR_INTERRUPTS();
		/* not read-only: a snapshot of its own, taken after the watermark */
		if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read segments.membership_log");
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	row = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			Datum		values[6];
			bool		nulls[6];
			int			c;

			for (c = 0; c < 5; c++)
				values[c + 1] = SPI_getbinval(row, desc, c + 2, &nulls[c + 1]);
			values[0] = CStringGetTextDatum(psprintf("%s:" INT64_FORMAT, epoch,
													 DatumGetInt64(SPI_getbinval(row, desc, 1, &nulls[0]))));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		left -= SPI_processed;
		from = to;
		if (window < PG_INT64_MAX / 2)
			window *= 2;
	}
	SPI_finish();
	return (Datum) 0;
}
