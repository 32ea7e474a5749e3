/*
 * shard_task.c
 *	  What a catalog change does in each shard group of a Citus cluster
 *	  (docs/design.md, "Catalog changes fan out").
 *
 * The coordinator holds no membership: what it does itself on one server
 * (build a segment, sweep the time's edges) runs on the shard groups, on
 * their nodes, in its transaction.  segments.shard_task is distributed by
 * the tenant beside the contacts; the coordinator inserts a row of the task
 * into each of its shards (a tenant value hashing into the shard stands for
 * it), and Citus runs the inserts on the nodes at once, two-phase committed
 * with the rest of the change.  A trigger on the shards,
 * segments._on_shard_task(), runs the task in the shard's group and sets
 * the row's result, which the insert returns; the rows are deleted at once.
 *
 * A second trigger follows the catalog on each node:
 * segments._on_catalog_version(), AFTER UPDATE of catalog_version, which
 * every catalog change bumps (segments._writers_lock()) and which is a
 * reference table on Citus, a copy on every node: it takes the node's
 * writers' lock exclusively and makes the node's backends read their caches
 * again once the change commits, as the coordinator does for its own.
 * Without Citus it fires where the change runs, and repeats what the
 * change did already.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "citus.h"
#include "contact_data.h"
#include "contact_key.h"
#include "contact_queue.h"
#include "locks.h"
#include "maintain.h"
#include "membership.h"
#include "rule_sql.h"
#include "rule_time.h"
#include "rule_type.h"
#include "segment_cache.h"
#include "shard_task.h"
#include "tick.h"

PG_FUNCTION_INFO_V1(segments_on_catalog_version);
PG_FUNCTION_INFO_V1(segments_on_shard_task);
PG_FUNCTION_INFO_V1(segments_run_shard_task);

/* The columns of segments.shard_task. */
#define ST_TENANT 1
#define ST_TASK 2
#define ST_SEGMENT 3
#define ST_CLOCK 4
#define ST_CONTACT 5
#define ST_RULE 6
#define ST_RULE_TENANT 7
#define ST_OVERRIDDEN 8
#define ST_CAUSE 9
#define ST_RESULT 10

/*
 * On a Citus node, refuse a catalog change in a transaction whose other
 * connections to this node wrote attached tables: they hold the node's
 * writers' lock, which the change would wait for until the transaction
 * ends (Citus would report a distributed deadlock after a while).
 */
static void
refuse_after_sibling_writes(void)
{
	bool		found;

	if (!citus_installed())
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(psprintf("SELECT EXISTS (SELECT FROM pg_catalog.get_current_transaction_id() me "
							 " JOIN pg_catalog.get_all_active_transactions() a "
							 "  ON a.transaction_number OPERATOR(pg_catalog.=) me.transaction_number "
							 "  AND a.transaction_stamp OPERATOR(pg_catalog.=) me.transaction_stamp "
							 " JOIN pg_catalog.pg_locks l ON l.pid OPERATOR(pg_catalog.=) a.process_id "
							 " WHERE me.transaction_number OPERATOR(pg_catalog.<>) 0 "
							 "  AND a.process_id OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid() "
							 "  AND l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted "
							 "  AND l.classid OPERATOR(pg_catalog.=) %u::pg_catalog.oid "
							 "  AND l.objid OPERATOR(pg_catalog.=) %u::pg_catalog.oid "
							 "  AND l.objsubid OPERATOR(pg_catalog.=) %d)",
							 (unsigned) SEGMENTS_LOCK_KEY, (unsigned) WRITERS_LOCK_KEY2, SEGMENTS_LOCK_CLASS),
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read this transaction's connections to this node");
	found = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &(bool) {false}));
	SPI_finish();
	if (found)
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("a segments catalog change cannot follow writes to attached tables in the same transaction on a Citus cluster"),
				errdetail("The transaction wrote attached tables over other connections to this node, whose writers' lock the change would wait for until the transaction ends."),
				errhint("Commit the writes first, or make the catalog change before them."));
}

/* segments._on_catalog_version() trigger: AFTER UPDATE ... FOR EACH ROW */
Datum
segments_on_catalog_version(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_AFTER(td->tg_event) || !TRIGGER_FIRED_BY_UPDATE(td->tg_event) ||
		strcmp(get_namespace_name(RelationGetNamespace(td->tg_relation)), "segments") != 0 ||
		strncmp(RelationGetRelationName(td->tg_relation), "catalog_version", strlen("catalog_version")) != 0)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("segments._on_catalog_version() must be fired AFTER UPDATE ... FOR EACH ROW on segments.catalog_version"));
	refuse_after_sibling_writes();
	maintain_catalog_lock();
	segment_cache_catalog_changed();
	return PointerGetDatum(NULL);
}

/* The index of a segment in the cache. */
static int
segment_index(SegmentCache *cache, int64 segment_id)
{
	int			i;

	for (i = 0; i < cache->nsegments && cache->segments[i].id != segment_id; i++)
		;
	if (i == cache->nsegments)
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_OBJECT),
				errmsg("segment " INT64_FORMAT " does not exist on this node", segment_id),
				errdetail("A task of a change of the segment reached a node whose catalog does not have it yet."),
				errhint("Run the change again in a transaction of its own."));
	return i;
}

/*
 * Build a segment of rule (of tenant, its canonical text, or NULL) in a
 * shard group; returns its members there.  The rule comes with the task,
 * not from the catalog: the segment's row, written in the task's
 * transaction, may be on another of its connections to this node, whose
 * writes this one does not see.
 */
static int64
build_in(Attachments *group, int64 segment_id, Datum rule, const char *tenant)
{
	CheckedRule local = *rule_check(rule_datum_body(rule), group->logical, tenant);

	local.att = group;
	return membership_build(group, segment_id, rule_compile_sql(&local, false, false));
}

/*
 * Bring a segment's membership in a shard group to what its rule (NULL: a
 * static segment's, not applied; with overridden, the overrides decide
 * too) selects there, logged with cause, as segments._apply() does on one
 * server; returns the joins and leaves.  A drop is an apply of nothing.
 * Run in the group so that the log's ids come from this node's sequence
 * and this node holds the log's lock of the transaction (change_feed.c).
 */
static int64
apply_in(Attachments *group, int64 segment_id, const RuleBody *rule, const char *tenant,
		 bool overridden, const char *cause)
{
	char	   *compiled = NULL;
	bool		isnull;
	Datum		args[5];

	if (rule)
	{
		CheckedRule local = *rule_check(rule, group->logical, tenant);

		local.att = group;
		compiled = rule_compile_sql(&local, false, false);
	}
	if (overridden)
		compiled = rule_overridden_sql(group, compiled, segment_id, tenant);
	else if (compiled == NULL)
		compiled = psprintf("SELECT NULL::%s AS contact WHERE false", format_type_be_qualified(group->key_type));
	/* as one server's callers of _apply take every turn first */
	maintain_take_group_turns(group);
	args[0] = Int64GetDatum(segment_id);
	args[1] = CStringGetTextDatum(compiled);
	args[2] = CStringGetTextDatum(cause);
	args[3] = CStringGetTextDatum(rule_segments_table_sql(group->membership_table));
	args[4] = CStringGetTextDatum(rule_segments_table_sql(group->log_table));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT segments._apply($1, $2, $3, NULL::pg_catalog.text[], "
							  "$4::pg_catalog.regclass, $5::pg_catalog.regclass)", 5,
							  (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID}, args, NULL, false, 1)
		!= SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not apply segment " INT64_FORMAT " in a shard group", segment_id);
	args[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_finish();
	return isnull ? 0 : DatumGetInt64(args[0]);
}

/*
 * A contact's membership of a segment (and those using it), now, as a
 * write's at its commit: after an override (override.c).  Returns the
 * joins and leaves.
 */
static int64
contact_in(SegmentCache *cache, Attachments *group, int64 segment_id, const char *contact)
{
	ContactQueue *queue = contact_queue_create(contact_key_type(group), CurrentMemoryContext);
	Oid			input;
	Oid			ioparam;
	int64		evaluated;
	int64		changes;

	getTypeInputInfo(group->key_type, &input, &ioparam);
	contact_queue_add(queue, OidInputFunctionCall(input, (char *) contact, ioparam, -1));
	changes = maintain_apply(group, segment_cache_with_dependents(cache,
																   bms_make_singleton(segment_index(cache, segment_id))),
							 queue, "manual", &evaluated);
	contact_queue_free(queue);
	return changes;
}

/*
 * segments._on_shard_task() trigger: BEFORE INSERT ... FOR EACH ROW on the
 * shards of segments.shard_task.  Runs the row's task in the shard's group
 * at the coordinator's clock, and sets its result.
 */
Datum
segments_on_shard_task(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	Datum		values[ST_RESULT];
	bool		isnull[ST_RESULT];
	bool		replace[ST_RESULT] = {false};
	SegmentCache *cache;
	Attachments *group;
	char	   *task;
	char	   *tenant;
	TimestampTz clock;
	volatile int64 result = 0;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
		!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_BY_INSERT(td->tg_event) ||
		RelationGetDescr(td->tg_relation)->natts != ST_RESULT ||
		strcmp(get_namespace_name(RelationGetNamespace(td->tg_relation)), "segments") != 0 ||
		strncmp(RelationGetRelationName(td->tg_relation), "shard_task_", strlen("shard_task_")) != 0)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("segments._on_shard_task() must be fired BEFORE INSERT ... FOR EACH ROW on a shard of segments.shard_task"));
	desc = RelationGetDescr(td->tg_relation);
	heap_deform_tuple(td->tg_trigtuple, desc, values, isnull);
	if (isnull[ST_TASK - 1] || isnull[ST_CLOCK - 1])
		elog(ERROR, "a shard task needs a task and a clock");
	task = TextDatumGetCString(values[ST_TASK - 1]);
	clock = DatumGetTimestampTz(values[ST_CLOCK - 1]);

	/* the task's transaction holds the writers' lock (maintain.h) */
	maintain_in_shard_task(true);
	PG_TRY();
	{
		/* a build, an apply or a drop carries what it needs of the catalog */
		cache = (strcmp(task, "build") == 0 || strcmp(task, "apply") == 0 || strcmp(task, "drop") == 0)
			? NULL : segment_cache_get();
		group = citus_shard_group(cache ? cache->att : rule_load_attachments(), RelationGetRelid(td->tg_relation));
		if (group == NULL)
			ereport(ERROR,
					errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					errmsg("segments._on_shard_task() fires only on the shards of segments.shard_task"),
					errdetail("Table %s is not one.", RelationGetRelationName(td->tg_relation)));
		rule_pin_now(clock);
		tenant = isnull[ST_RULE_TENANT - 1] ? NULL : TextDatumGetCString(values[ST_RULE_TENANT - 1]);
		if (strcmp(task, "build") == 0 && !isnull[ST_SEGMENT - 1] && !isnull[ST_RULE - 1])
			result = build_in(group, DatumGetInt64(values[ST_SEGMENT - 1]), values[ST_RULE - 1], tenant);
		else if (((strcmp(task, "apply") == 0 && !isnull[ST_OVERRIDDEN - 1]) || strcmp(task, "drop") == 0) &&
				 !isnull[ST_SEGMENT - 1] && !isnull[ST_CAUSE - 1])
			result = apply_in(group, DatumGetInt64(values[ST_SEGMENT - 1]),
							  strcmp(task, "apply") == 0 && !isnull[ST_RULE - 1] ?
							  rule_datum_body(values[ST_RULE - 1]) : NULL, tenant,
							  strcmp(task, "apply") == 0 && !isnull[ST_OVERRIDDEN - 1] &&
							  DatumGetBool(values[ST_OVERRIDDEN - 1]),
							  TextDatumGetCString(values[ST_CAUSE - 1]));
		else if (strcmp(task, "contact") == 0 && !isnull[ST_SEGMENT - 1] && !isnull[ST_CONTACT - 1])
		{
			/*
			 * The override just made the segment overridden; this backend
			 * may not see that row of the catalog (another of the change's
			 * connections to this node wrote it), but sees the overrides,
			 * which are the contact's shard group's.  Reading them for a
			 * segment without any changes nothing, so the flag is kept.
			 */
			cache->segments[segment_index(cache, DatumGetInt64(values[ST_SEGMENT - 1]))].overridden = true;
			result = contact_in(cache, group, DatumGetInt64(values[ST_SEGMENT - 1]),
								TextDatumGetCString(values[ST_CONTACT - 1]));
		}
		else if (strcmp(task, "tick") == 0)
			result = tick_sweep_group(cache, group, clock);
		else
			elog(ERROR, "unknown shard task \"%s\"", task);
	}
	PG_FINALLY();
	{
		rule_pin_now(0);
		maintain_in_shard_task(false);
	}
	PG_END_TRY();

	values[ST_RESULT - 1] = Int64GetDatum(result);
	isnull[ST_RESULT - 1] = false;
	replace[ST_RESULT - 1] = true;
	return PointerGetDatum(heap_modify_tuple(td->tg_trigtuple, desc, values, isnull, replace));
}

/*
 * One tenant value of each shard of segments.shard_task, as SQL literals
 * of the tenant's type: the first of 0, 1, 2, ... (as that type) whose
 * Citus hash falls in the shard's range.  The candidates are tried in runs
 * that double until every shard has one: a series far longer than needed
 * costs seconds, as a set-returning function is read whole.
 */
static List *
shard_representatives(void)
{
	List	   *literals = NIL;
	MemoryContext caller = CurrentMemoryContext;
	Oid			type;
	const char *gen;
	int64		shards;
	int64		candidates;
	uint64		i;

	if (SPI_execute("SELECT a.atttypid, (SELECT pg_catalog.count(*) FROM pg_catalog.pg_dist_shard s "
					" WHERE s.logicalrelid OPERATOR(pg_catalog.=) a.attrelid) "
					"FROM pg_catalog.pg_attribute a "
					"WHERE a.attrelid OPERATOR(pg_catalog.=) 'segments.shard_task'::pg_catalog.regclass "
					"AND a.attname OPERATOR(pg_catalog.=) 'tenant'", true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read the tenant's type of segments.shard_task");
	type = getBaseType(DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
													  &(bool) {false})));
	shards = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &(bool) {false}));
	gen = type == UUIDOID ? "pg_catalog.md5(g::pg_catalog.text)::pg_catalog.uuid" :
		(type == INT8OID || type == INT4OID) ? "g" : "g::pg_catalog.text";
	for (candidates = Max(shards * 16, 1024);; candidates *= 2)
	{
		if (candidates > PG_INT32_MAX)
			elog(ERROR, "could not find a tenant of each shard of segments.shard_task");
		if (SPI_execute(psprintf("SELECT DISTINCT ON (s.shardid) pg_catalog.quote_literal(x.v) "
								 "FROM pg_catalog.generate_series(0, " INT64_FORMAT ") g "
								 "CROSS JOIN LATERAL (SELECT (%s)::%s AS v) x "
								 "JOIN pg_catalog.pg_dist_shard s ON pg_catalog.worker_hash(x.v) "
								 " BETWEEN s.shardminvalue::pg_catalog.int4 AND s.shardmaxvalue::pg_catalog.int4 "
								 "WHERE s.logicalrelid OPERATOR(pg_catalog.=) 'segments.shard_task'::pg_catalog.regclass "
								 "ORDER BY s.shardid, g",
								 candidates - 1, gen, format_type_be(type)), true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not find a tenant of each shard");
		if ((int64) SPI_processed == shards)
			break;
	}
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(caller);

		literals = lappend(literals, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		MemoryContextSwitchTo(old);
	}
	return literals;
}

/*
 * Insert a task's rows, one for each tenant (a literal), and return the
 * sum of their results; SPI is connected.
 */
static int64
run_rows(List *tenants, const char *task, int64 segment_id, TimestampTz clock, const char *contact,
		 const char *rule, const char *cause)
{
	StringInfoData sql;
	ListCell   *lc;
	int64		total = 0;
	uint64		i;
	const char *segment = segment_id > 0 ? psprintf(INT64_FORMAT, segment_id) : "NULL";
	const char *at = quote_literal_cstr(DatumGetCString(DirectFunctionCall1(timestamptz_out,
																				TimestampTzGetDatum(clock))));

	initStringInfo(&sql);
	appendStringInfoString(&sql, "INSERT INTO segments.shard_task (tenant, task, segment_id, clock, contact, "
						   "rule, rule_tenant, overridden, cause) VALUES ");
	foreach(lc, tenants)
		appendStringInfo(&sql, "%s(%s, %s, %s, %s, %s, %s, %s)", foreach_current_index(lc) > 0 ? ", " : "",
						 (char *) lfirst(lc), quote_literal_cstr(task), segment, at,
						 contact ? quote_literal_cstr(contact) : "NULL", rule ? rule : "NULL, NULL, NULL",
						 cause ? quote_literal_cstr(cause) : "NULL");
	appendStringInfoString(&sql, " RETURNING result");
	if (SPI_execute(sql.data, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not run the task on the shard groups");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		n = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			total += DatumGetInt64(n);
	}
	if (SPI_execute("DELETE FROM segments.shard_task", false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not clear segments.shard_task");
	return total;
}

int64
shard_task_run(const char *task, int64 segment_id, TimestampTz clock, const char *cause)
{
	int64		total;
	const char *rule = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* a segment's rule (NULL when static), tenant and overrides, as SQL literals */
	if (segment_id > 0)
	{
		if (SPI_execute_with_args("SELECT pg_catalog.quote_nullable(CASE WHEN NOT s.static THEN s.rule::pg_catalog.text END) "
								  "|| '::segments.rule, ' || pg_catalog.quote_nullable(s.tenant) "
								  "|| ', ' || (s.overridden OR s.static)::pg_catalog.text "
								  "FROM segments.segment s WHERE s.id OPERATOR(pg_catalog.=) $1",
								  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(segment_id)}, NULL, true, 1)
			!= SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "segment " INT64_FORMAT " is not in the catalog", segment_id);
		rule = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	}
	total = run_rows(shard_representatives(), task, segment_id, clock, NULL, rule, cause);
	SPI_finish();
	return total;
}

/* segments._run_shard_task(task text, id bigint, cause text) -> bigint */
Datum
segments_run_shard_task(PG_FUNCTION_ARGS)
{
	char	   *task = text_to_cstring(PG_GETARG_TEXT_PP(0));

	if (strcmp(task, "apply") != 0 && strcmp(task, "drop") != 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("segments._run_shard_task() runs an apply or a drop, not \"%s\"", task));
	PG_RETURN_INT64(shard_task_run(task, PG_GETARG_INT64(1), rule_now(), text_to_cstring(PG_GETARG_TEXT_PP(2))));
}

int64
shard_task_contact(const Attachments *att, int64 segment_id, Datum key)
{
	Datum		tenant;
	Datum		contact;
	Oid			output;
	bool		varlena;
	int64		total;

	contact_key_split(att, key, &tenant, &contact);
	getTypeOutputInfo(att->contacts.tenant_type, &output, &varlena);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	total = run_rows(list_make1(quote_literal_cstr(OidOutputFunctionCall(output, tenant))), "contact",
					 segment_id, rule_now(), contact_key_text(att, key), NULL, NULL);
	SPI_finish();
	return total;
}
