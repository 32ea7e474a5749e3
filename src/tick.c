/*
 * tick.c
 *	  Time: segments.tick() applies the membership changes that are due
 *	  because time moved.
 *
 * A time-relative condition changes its truth only when the clock passes
 * one of its edges: a value of the contact (a field, an event's time or
 * field, a list) equal to now shifted by the condition's amount ("30 days
 * ago": now - 30 days; "within last 30 days": that and now itself).  So
 * between a segment's last sweep (segments.segment_state.swept_to, t0) and
 * now (t1), the only contacts whose membership can have changed are those
 * with such a value between t0 and t1 shifted likewise: a range, which an
 * index on the value finds in time proportional to what it holds.  The
 * shift is monotonic (month and year arithmetic included), so the range
 * holds every crossing.  Those contacts are evaluated like a write's, in
 * dependency order with the segments that use the swept ones, with cause
 * 'time'; the segments are then swept to t1.  A segment with no sweep on
 * record (restored from a dump) is evaluated for every contact.
 *
 * One tick runs at a time: a concurrent call returns 0 at once (it takes
 * the tick lock, locks.h, without waiting).  Like a writer it holds the writers' lock shared, so catalog
 * changes wait for it, and takes the turns of the contacts it evaluates.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "contact_data.h"
#include "contact_key.h"
#include "contact_queue.h"
#include "data_owner.h"
#include "locks.h"
#include "maintain.h"
#include "rule_sql.h"
#include "rule_time.h"
#include "segment_cache.h"
#include "shard_task.h"
#include "spi_plan.h"
#include "tick.h"

PG_FUNCTION_INFO_V1(segments_tick);

/* Contacts fetched from a sweep at a time. */
#define SWEEP_FETCH 10000

/*
 * One edge of a segment's conditions: the query of the contacts with a
 * value in [$1, $2], and the shift from now to the value at the edge
 * (now + sign * amount unit).
 */
typedef struct Sweep
{
	char	   *query;
	int			sign;
	uint32		amount;
	RuleUnit	unit;
	bool		widen;			/* a date or timestamp: two days more each way */
	TimestampTz from;			/* swept from this time (to now) */
} Sweep;

static bool
same_sweep(const Sweep *a, const Sweep *b)
{
	return a->sign == b->sign && a->amount == b->amount && a->unit == b->unit &&
		a->from == b->from && strcmp(a->query, b->query) == 0;
}

/* The sweeps' plans, kept for the attachments they were prepared for. */
typedef struct SweepPlan
{
	char	   *query;
	SPIPlanPtr	plan;
} SweepPlan;

static List *sweep_plans = NIL;
static uint64 sweep_plans_generation = 0;

typedef struct EdgeCollector
{
	const CheckedRule *cr;
	List	   *sweeps;
} EdgeCollector;

static bool
is_time_without_zone(Oid type)
{
	type = getBaseType(type);
	return type == DATEOID || type == TIMESTAMPOID;
}

/*
 * The query of the contacts with a value of expr in [$1, $2].  clock: expr
 * is a timestamp or date, compared with the bounds as a UTC clock shows
 * them (not in the session's TimeZone); the sweep widens them by two days,
 * more than any zone's offset.
 */
static char *
sweep_query(const CheckedRule *cr, const char *role, const AttachedTable *events,
			const char *event_kind, const char *expr, bool clock)
{
	const Attachments *att = cr->att;
	const char *utc = clock ? " AT TIME ZONE 'UTC'" : "";

	/* pg_catalog's operators, whatever the search_path (rule_sql.h) */
	if (strcmp(role, "contacts") == 0)
		return psprintf("SELECT %s FROM %s AS c WHERE %s" BUILTIN_OP(">=") "($1%s) AND %s" BUILTIN_OP("<=") "($2%s)",
						contact_key_sql(att, &att->contacts, "c"),
						quote_qualified_identifier(att->contacts.schema, att->contacts.name), expr, utc, expr, utc);
	if (strcmp(role, "lists") == 0)
		return psprintf("SELECT %s FROM %s AS l WHERE %s" BUILTIN_OP(">=") "($1%s) AND %s" BUILTIN_OP("<=") "($2%s)",
						contact_key_sql(att, &att->lists, "l"),
						quote_qualified_identifier(att->lists.schema, att->lists.name), expr, utc, expr, utc);
	return psprintf("SELECT %s FROM %s AS e WHERE %s "
					"AND %s" BUILTIN_OP(">=") "($1%s) AND %s" BUILTIN_OP("<=") "($2%s)",
					contact_key_sql(att, events, "e"),
					quote_qualified_identifier(events->schema, events->name),
					rule_sql_kind_test(events, "e", event_kind),
					expr, utc, expr, utc);
}

static void
add_sweep(EdgeCollector *ec, const char *query, bool widen, int sign, const RuleItem *amount)
{
	Sweep	   *sweep = palloc(sizeof(Sweep));

	sweep->query = pstrdup(query);
	sweep->widen = widen;
	sweep->sign = amount ? sign : 0;
	sweep->amount = amount ? amount->a : 0;
	sweep->unit = amount ? (RuleUnit) amount->arg : RU_MINUTE;
	ec->sweeps = lappend(ec->sweeps, sweep);
}

/* The edges of relative operands: now, N unit ago, N unit from now. */
static void
add_operand_sweeps(EdgeCollector *ec, const char *query, bool widen,
				   const RuleItem *from, const RuleItem *to)
{
	for (; from < to; from = RULE_NEXT(from))
	{
		if (from->op == RV_NOW)
			add_sweep(ec, query, widen, 0, NULL);
		else if (from->op == RV_AGO)
			add_sweep(ec, query, widen, -1, from);
		else if (from->op == RV_FROM_NOW)
			add_sweep(ec, query, widen, 1, from);
	}
}

/*
 * The sweeps of a condition: role and, for events, their source and kind
 * say whose columns a field reads (a where clause's).
 */
/*
 * The edges of an event's or list's window (its operands from to end) on
 * the time its query reads: within last N unit, rows enter at now and
 * leave at now - N unit; the other windows, at their times.
 */
static void
add_window_sweeps(EdgeCollector *ec, const char *query, bool widen, RuleWindow window,
				  const RuleItem *from, const RuleItem *to)
{
	if (window == RW_WITHIN_LAST)
	{
		add_sweep(ec, query, widen, 0, NULL);
		add_sweep(ec, query, widen, -1, from);
	}
	else
		add_operand_sweeps(ec, query, widen, from, to);
}

static void
collect_edges(EdgeCollector *ec, const RuleItem *item, const char *role,
			  const AttachedTable *events, const char *event_kind)
{
	const RuleBody *body = ec->cr->body;
	const Attachments *att = ec->cr->att;
	const RuleItem *end = RULE_NEXT(item);
	const RuleItem *child;

	check_stack_depth();
	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
		case RI_NOT:
			for (child = item + 1; child < end; child = RULE_NEXT(child))
				collect_edges(ec, child, role, events, event_kind);
			break;
		case RI_FIELD:
			{
				const CheckedItem *ci = &ec->cr->items[item - body->items];
				bool		within = item->op == RT_WITHIN_LAST || item->op == RT_WITHIN_NEXT;
				char	   *query;
				bool		widen;

				if (!within && !rule_operands_are_relative(item + 1, end))
					break;
				widen = ci->fclass == FC_TIME && is_time_without_zone(ci->coltype);
				query = sweep_query(ec->cr, role, events, event_kind,
									rule_sql_time_field(ec->cr, item,
														strcmp(role, "events") == 0 ? "e" :
														strcmp(role, "lists") == 0 ? "l" : "c"),
									widen);
				if (within)
				{
					/* between now - N unit and now, or now and now + N unit */
					add_sweep(ec, query, widen, 0, NULL);
					add_sweep(ec, query, widen, item->op == RT_WITHIN_LAST ? -1 : 1, item + 1);
				}
				else
					add_operand_sweeps(ec, query, widen, item + 1, end);
			}
			break;
		case RI_EVENT:
			{
				const char *kind = RULE_STR(body, item->a);
				const AttachedTable *source = rule_event_table(ec->cr, item);
				bool		widen;

				child = item + 1;
				if (item->flags & RULE_HAS_WHERE)
				{
					collect_edges(ec, child, "events", source, kind);
					child = RULE_NEXT(child);
				}
				if (item->flags & RULE_HAS_MEASURE)
				{
					/* min or max of a time column compared with a time now moves */
					if (RM_IS_AGGREGATE(child->op) && rule_value_is_relative(child + 1))
					{
						const CheckedItem *ci = &ec->cr->items[child - body->items];

						widen = is_time_without_zone(ci->coltype);
						add_operand_sweeps(ec, sweep_query(ec->cr, "events", source, kind,
														   psprintf("e.%s", quote_identifier(ci->column)), widen),
										   widen, child + 1, RULE_NEXT(child));
					}
					child = RULE_NEXT(child);
				}
				if (!rule_operands_are_relative(child, end))
					break;
				widen = is_time_without_zone(contact_column_type(source, source->at_column));
				add_window_sweeps(ec, sweep_query(ec->cr, "events", source, kind,
												  psprintf("e.%s", quote_identifier(source->at_column)), widen),
								  widen, (RuleWindow) item->arg, child, end);
			}
			break;
		case RI_IN_LIST:
			{
				bool		widen;

				child = item + 2;
				if (item->flags & RULE_HAS_WHERE)
				{
					collect_edges(ec, child, "lists", NULL, NULL);
					child = RULE_NEXT(child);
				}
				if (!rule_operands_are_relative(child, end))
					break;
				/* every list's rows: a superset, as for a list's where clause */
				widen = is_time_without_zone(contact_column_type(&att->lists, att->lists.at_column));
				add_window_sweeps(ec, sweep_query(ec->cr, "lists", NULL, NULL,
												  psprintf("l.%s", quote_identifier(att->lists.at_column)), widen),
								  widen, (RuleWindow) item->arg, child, end);
			}
			break;
		case RI_IN_SEGMENT:
			/* for at least / less than N unit: members who joined N unit ago */
			if (item->op != 0)
				add_sweep(ec, psprintf("SELECT %s FROM segments.membership AS m "
									   "WHERE m.segment_id" BUILTIN_OP("=") INT64_FORMAT
									   " AND m.since" BUILTIN_OP(">=") "$1 AND m.since" BUILTIN_OP("<=") "$2",
									   member_key_sql(att, "m"), ec->cr->items[item - body->items].segment_id),
						  false, -1, item + 1);
			break;
		case RI_BUCKET:
		case RI_TRUE:
		case RI_FALSE:
		case RI_VALUE:
		case RI_MEASURE:
			break;
	}
}

/* The sweeps of a segment's rule: NIL when time cannot change it. */
static List *
rule_sweeps(const CheckedRule *cr)
{
	EdgeCollector ec;

	ec.cr = cr;
	ec.sweeps = NIL;
	if (cr->body->nitems > 0)
		collect_edges(&ec, cr->body->items, "contacts", NULL, NULL);
	return ec.sweeps;
}

static SPIPlanPtr
sweep_plan(Attachments *att, const char *query)
{
	static const Oid types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	MemoryContext old;
	ListCell   *lc;
	SweepPlan  *sp;
	SPIPlanPtr	plan;

	if (sweep_plans_generation != att->generation)
	{
		foreach(lc, sweep_plans)
		{
			sp = lfirst(lc);
			SPI_freeplan(sp->plan);
			pfree(sp->query);
			pfree(sp);
		}
		list_free(sweep_plans);
		sweep_plans = NIL;
		sweep_plans_generation = att->generation;
	}
	foreach(lc, sweep_plans)
	{
		sp = lfirst(lc);
		if (strcmp(sp->query, query) == 0)
			return sp->plan;
	}
	plan = keep_generic_plan(query, 2, (Oid *) types);
	old = MemoryContextSwitchTo(TopMemoryContext);
	sp = palloc(sizeof(SweepPlan));
	sp->query = pstrdup(query);
	sp->plan = plan;
	sweep_plans = lappend(sweep_plans, sp);
	MemoryContextSwitchTo(old);
	return plan;
}

/* Queue the contacts with a value at an edge that time crossed from t0 to t1. */
static void
sweep(Attachments *att, const Sweep *sw, TimestampTz t0, TimestampTz t1, ContactQueue *queue)
{
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz from = Min(t0, t1);
	TimestampTz to = Max(t0, t1);
	Datum		bounds[2];
	Portal		cursor;
	DataOwnerScope scope;

	if (sw->sign != 0)
	{
		from = rule_time_shift(from, sw->sign, sw->amount, sw->unit);
		to = rule_time_shift(to, sw->sign, sw->amount, sw->unit);
	}
	if (sw->widen)
	{
		from -= 2 * USECS_PER_DAY;
		to += 2 * USECS_PER_DAY;
	}
	bounds[0] = TimestampTzGetDatum(from);
	bounds[1] = TimestampTzGetDatum(to);
	/* with the latest data, as a writer's commit reads it */
	CommandCounterIncrement();
	data_owner_enter(&scope, att->contacts.relid);
	PushActiveSnapshot(GetLatestSnapshot());
	cursor = SPI_cursor_open(NULL, sweep_plan(att, sw->query), bounds, NULL, true);
	PopActiveSnapshot();
	for (;;)
	{
		uint64		i;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(cursor, true, SWEEP_FETCH);
		MemoryContextSwitchTo(caller);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		key = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

			if (!isnull)
				contact_queue_add(queue, key);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_freetuptable(SPI_tuptable);
	SPI_cursor_close(cursor);
	data_owner_leave(&scope);
}

static Datum
segment_ids(SegmentCache *cache, Bitmapset *segments)
{
	Datum	   *ids = palloc(sizeof(Datum) * Max(bms_num_members(segments), 1));
	int			n = 0;
	int			i = -1;

	while ((i = bms_next_member(segments, i)) >= 0)
		ids[n++] = Int64GetDatum(cache->segments[i].id);
	return PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* Whether a prepared transaction (its locks have no process) holds tag. */
static bool
held_by_prepared(const LOCKTAG *tag)
{
	LockData   *locks = GetLockStatusData();
	int			i;

	for (i = 0; i < locks->nelements; i++)
	{
		LockInstanceData *l = &locks->locks[i];

		if (l->pid == 0 && l->holdMask != 0 &&
			memcmp(&l->locktag, tag, sizeof(LOCKTAG)) == 0)
			return true;
	}
	return false;
}

/*
 * The tick lock, if no other tick holds it.  A tick of a prepared
 * transaction holds it until COMMIT PREPARED or ROLLBACK PREPARED: every
 * tick until then is skipped, which is said (a WARNING), not silent.
 */
static bool
try_tick_lock(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_SEGMENTS(tag, SEGMENTS_LOCK_KEY, TICK_LOCK_KEY2, SEGMENTS_LOCK_CLASS);
	if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
		return true;
	if (held_by_prepared(&tag))
		ereport(WARNING,
				errcode(ERRCODE_LOCK_NOT_AVAILABLE),
				errmsg("segments.tick() skipped: a prepared transaction holds the tick lock"),
				errdetail("A transaction that called segments.tick() was prepared and is neither committed nor rolled back; no tick runs until it is."),
				errhint("Finish it with COMMIT PREPARED or ROLLBACK PREPARED (see pg_prepared_xacts)."));
	return false;
}

/*
 * The segments time can change and how far each was swept (the positions
 * are indexes into the cache): *swept, those with a sweep on record, up to
 * swept_to[i]; *unswept, the others.  Not read-only: under a new snapshot,
 * which sees the sweeps of the segments created while tick waited for the
 * writers' lock, as the cache does.  SPI is connected.
 */
static TimestampTz *
read_sweep_state(SegmentCache *cache, Bitmapset **swept, Bitmapset **unswept)
{
	TimestampTz *swept_to = palloc0(sizeof(TimestampTz) * Max(cache->nsegments, 1));
	MemoryContext caller = CurrentMemoryContext;
	Datum		args[1];
	uint64		k;
	int			i;

	*swept = NULL;
	*unswept = NULL;
	for (i = 0; i < cache->nsegments; i++)
		if (rule_sweeps(segment_cache_checked(cache, i)) != NIL)
			*unswept = bms_add_member(*unswept, i);
	args[0] = segment_ids(cache, cache->all);
	if (SPI_execute_with_args("SELECT u.i - 1, s.swept_to FROM pg_catalog.unnest($1) WITH ORDINALITY AS u(id, i) "
							  "JOIN segments.segment_state s ON s.segment_id = u.id",
							  1, (Oid[]) {INT8ARRAYOID}, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read segments.segment_state");
	MemoryContextSwitchTo(caller);
	for (k = 0; k < SPI_processed; k++)
	{
		bool		isnull;

		i = (int) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull));
		if (!bms_is_member(i, *unswept))
			continue;
		*unswept = bms_del_member(*unswept, i);
		*swept = bms_add_member(*swept, i);
		swept_to[i] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2,
														&isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	return swept_to;
}

/*
 * The contacts at an edge time crossed from each swept segment's swept_to
 * to t1, each sweep once, found in att's tables (one server's, or a shard
 * group's on a Citus node) and brought up to date; returns the joins and
 * leaves, adds the contacts evaluated to *evaluated.  SPI is connected.
 */
static int64
sweep_swept(SegmentCache *cache, Attachments *att, Bitmapset *swept, const TimestampTz *swept_to,
			TimestampTz t1, int64 *evaluated)
{
	ContactQueue *queue = NULL;
	List	   *done = NIL;
	int64		changes = 0;
	int			i = -1;

	while ((i = bms_next_member(swept, i)) >= 0)
	{
		CheckedRule local;
		ListCell   *lc;

		if (swept_to[i] == t1)
			continue;
		local = *segment_cache_checked(cache, i);
		local.att = att;
		foreach(lc, rule_sweeps(&local))
		{
			Sweep	   *sw = lfirst(lc);
			ListCell   *d;
			bool		seen = false;

			sw->from = swept_to[i];
			foreach(d, done)
				seen = seen || same_sweep(lfirst(d), sw);
			if (seen)
				continue;
			if (queue == NULL)
				queue = contact_queue_create(contact_key_type(att), CurrentMemoryContext);
			sweep(att, sw, swept_to[i], t1, queue);
			done = lappend(done, sw);
		}
	}
	if (queue != NULL && contact_queue_count(queue) > 0)
		changes = maintain_apply(att, segment_cache_with_dependents(cache, swept), queue, "time", evaluated);
	if (queue != NULL)
		contact_queue_free(queue);
	return changes;
}

int64
tick_sweep_group(SegmentCache *cache, Attachments *group, TimestampTz t1)
{
	Bitmapset  *swept;
	Bitmapset  *unswept;
	TimestampTz *swept_to;
	int64		evaluated = 0;
	int64		changes;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	swept_to = read_sweep_state(cache, &swept, &unswept);
	changes = sweep_swept(cache, group, swept, swept_to, t1, &evaluated);
	SPI_finish();
	return changes;
}

/*
 * segments.tick() -> bigint: apply the membership changes due because time
 * moved; returns the joins and leaves written (0 too when another tick is
 * running).
 */
Datum
segments_tick(PG_FUNCTION_ARGS)
{
	MemoryContext work;
	MemoryContext old;
	SegmentCache *cache;
	TimestampTz t1 = rule_now();
	Bitmapset  *swept;
	Bitmapset  *unswept;
	TimestampTz *swept_to;
	int64		changes = 0;
	int64		evaluated = 0;	/* contacts the sweeps found */
	bool		isnull;
	Datum		args[3];

	/* a standby replays the primary's ticks (docs/operations.md) */
	if (RecoveryInProgress())
		ereport(ERROR,
				errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				errmsg("segments.tick() cannot run on a standby"),
				errdetail("The server is in recovery: the primary's ticks, and every membership change, reach it by replication."),
				errhint("Run segments.tick() (or the tick worker) on the primary."));
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("segments.tick() runs only under READ COMMITTED"),
				errhint("Call it in a transaction of its own, or in a READ COMMITTED one."));
	if (!try_tick_lock())
		PG_RETURN_INT64(0);
	maintain_writers_lock();

	work = AllocSetContextCreate(CurrentMemoryContext, "segments tick", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(work);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(work);
	cache = segment_cache_get();
	swept_to = read_sweep_state(cache, &swept, &unswept);

	/* segments without a sweep on record: every contact */
	if (!bms_is_empty(unswept))
	{
		maintain_take_all_turns();
		args[0] = segment_ids(cache, segment_cache_with_dependents(cache, unswept));
		if (SPI_execute_with_args("SELECT segments._maintain($1, NULL::pg_catalog.text[], 'time')",
								  1, (Oid[]) {INT8ARRAYOID}, args, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not run segments._maintain");
		changes += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContextSwitchTo(work);
	}

	/*
	 * the others: the contacts at an edge time crossed, on a Citus cluster
	 * in each shard group (shard_task.c), where the contacts are
	 */
	if (!bms_is_empty(swept))
	{
		if (cache->att->distributed)
			changes += shard_task_run("tick", 0, t1, NULL);
		else
			changes += sweep_swept(cache, cache->att, swept, swept_to, t1, &evaluated);
		MemoryContextSwitchTo(work);
	}

	/* every time-relative segment, and those using them, is now swept to t1 */
	args[0] = segment_ids(cache, segment_cache_with_dependents(cache, bms_union(swept, unswept)));
	args[1] = TimestampTzGetDatum(t1);
	if (SPI_execute_with_args("INSERT INTO segments.segment_state AS s (segment_id, swept_to) "
							  "SELECT pg_catalog.unnest($1), $2 "
							  "ON CONFLICT (segment_id) DO UPDATE SET swept_to = excluded.swept_to",
							  2, (Oid[]) {INT8ARRAYOID, TIMESTAMPTZOID}, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not update segments.segment_state");
	args[0] = TimestampTzGetDatum(t1);
	args[1] = Int64GetDatum(changes);
	args[2] = Int64GetDatum(evaluated);
	if (SPI_execute_with_args("UPDATE segments.tick_state SET swept_to = $1, "
							  "ticked_at = pg_catalog.clock_timestamp(), changes = $2, contacts = $3",
							  3, (Oid[]) {TIMESTAMPTZOID, INT8OID, INT8OID}, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not update segments.tick_state");
	/* the last change of each segment, for segments.stats */
	if (SPI_execute("SELECT segments._fold_log()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not run segments._fold_log");
	SPI_finish();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	PG_RETURN_INT64(changes);
}
