/*
 * node_task.c
 *	  What a catalog change does on each node of a Citus cluster
 *	  (docs/design.md, "Catalog changes fan out").
 *
 * The catalog is a set of reference tables: Citus writes a change to the
 * copy on every node, in one distributed transaction.  Two triggers on
 * those copies do there what the change means for the node:
 *
 * - segments._on_catalog_version(), AFTER UPDATE of catalog_version, which
 *   every catalog change bumps (segments._writers_lock): takes the node's
 *   writers' lock exclusively and makes the node's backends read their
 *   caches again once the change commits, as the coordinator does for its
 *   own;
 * - segments._on_node_task(), BEFORE INSERT of node_task: runs a task for
 *   each of the node's shard groups and keeps no row.  The coordinator
 *   inserts one where, on one server, it would work on the membership
 *   itself (node_task_build()).
 *
 * Without Citus both fire only where the change runs, and do nothing it
 * has not done already.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "citus.h"
#include "maintain.h"
#include "membership.h"
#include "node_task.h"
#include "rule_sql.h"
#include "rule_time.h"
#include "segment_cache.h"

PG_FUNCTION_INFO_V1(segments_on_catalog_version);
PG_FUNCTION_INFO_V1(segments_on_node_task);

/* The trigger fires as it must, on one of the extension's tables. */
static void
check_trigger(FunctionCallInfo fcinfo, const char *fname, bool before, const char *table)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		(before ? !TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event) :
		 !TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_BY_UPDATE(td->tg_event)) ||
		strcmp(get_namespace_name(RelationGetNamespace(td->tg_relation)), "segments") != 0 ||
		strncmp(RelationGetRelationName(td->tg_relation), table, strlen(table)) != 0)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("%s must be fired %s ... FOR EACH ROW on segments.%s", fname,
					   before ? "BEFORE INSERT" : "AFTER UPDATE", table));
}

/* segments._on_catalog_version() trigger */
Datum
segments_on_catalog_version(PG_FUNCTION_ARGS)
{
	check_trigger(fcinfo, "segments._on_catalog_version()", false, "catalog_version");
	maintain_catalog_lock();
	segment_cache_catalog_changed();
	return PointerGetDatum(NULL);
}

/*
 * Build a segment in each shard group of this node, its rule evaluated at
 * the coordinator's clock.
 */
static void
build_here(int64 segment_id, TimestampTz clock)
{
	SegmentCache *cache = segment_cache_get();
	const CheckedRule *cr = NULL;
	ListCell   *lc;
	int			i;

	for (i = 0; i < cache->nsegments && cr == NULL; i++)
		if (cache->segments[i].id == segment_id)
			cr = segment_cache_checked(cache, i);
	if (cr == NULL)
		elog(ERROR, "segment " INT64_FORMAT " is not in the catalog of this node", segment_id);
	rule_pin_now(clock);
	foreach(lc, citus_local_shard_groups(cache->att))
	{
		CheckedRule local = *cr;

		local.att = lfirst(lc);
		membership_build(local.att, segment_id, rule_compile_sql(&local, false, false));
	}
	rule_pin_now(0);
}

/* segments._on_node_task() trigger: runs the task of the row, keeps no row */
Datum
segments_on_node_task(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	bool		isnull[3];
	char	   *task;
	int64		segment_id;
	TimestampTz clock;

	check_trigger(fcinfo, "segments._on_node_task()", true, "node_task");
	desc = RelationGetDescr(td->tg_relation);
	task = TextDatumGetCString(heap_getattr(td->tg_trigtuple, 1, desc, &isnull[0]));
	segment_id = DatumGetInt64(heap_getattr(td->tg_trigtuple, 2, desc, &isnull[1]));
	clock = DatumGetTimestampTz(heap_getattr(td->tg_trigtuple, 3, desc, &isnull[2]));
	if (isnull[1] || isnull[2])
		elog(ERROR, "a node task needs a segment and a clock");
	if (strcmp(task, "build") == 0)
		build_here(segment_id, clock);
	else
		elog(ERROR, "unknown node task \"%s\"", task);
	return PointerGetDatum(NULL);
}

int64
node_task_build(int64 segment_id)
{
	Datum		args[3] = {CStringGetTextDatum("build"), Int64GetDatum(segment_id),
	TimestampTzGetDatum(rule_now())};
	Oid			types[3] = {TEXTOID, INT8OID, TIMESTAMPTZOID};
	bool		isnull;
	int64		members;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("INSERT INTO segments.node_task (task, segment_id, clock) VALUES ($1, $2, $3)",
							  3, types, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not run the build on the nodes");
	if (SPI_execute_with_args("SELECT pg_catalog.count(*) FROM segments.membership m "
							  "WHERE m.segment_id OPERATOR(pg_catalog.=) $1",
							  1, &types[1], &args[1], NULL, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the members");
	members = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return members;
}
