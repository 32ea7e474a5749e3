/*
 * citus.c
 *	  The one place that knows Citus (docs/design.md, "On a Citus
 *	  cluster"): whether it is installed, and the shard groups of this
 *	  node, the shards of the attached tables, the membership, its log and
 *	  the overrides that hold one hash range.
 *
 * A shard group is an Attachments localized to it: the same attachments,
 * naming the group's shards instead of the distributed tables, so that
 * the write path, the SQL compiled from rules and the direct writes of
 * membership work on it as on one server.  Groups are made from the
 * metadata Citus keeps on every node (pg_dist_shard, pg_dist_partition,
 * pg_dist_placement) and kept with the attachments they localize, which
 * are read again after any change of the attached tables; shard ids are
 * never reused, so a group found by its shard stays right while its
 * shards exist.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "citus.h"

bool
citus_installed(void)
{
	return OidIsValid(get_extension_oid("citus", true));
}

int
citus_catalog_read_begin(void)
{
	int			level;

	if (!citus_installed())
		return -1;
	level = NewGUCNestLevel();
	(void) set_config_option("citus.allow_nested_distributed_execution", "on", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

void
citus_catalog_read_end(int level)
{
	if (level >= 0)
		AtEOXact_GUC(true, level);
}

bool
citus_distributed(Oid relid)
{
	bool		distributed;

	if (!citus_installed())
		return false;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT FROM pg_catalog.pg_dist_partition p "
							  "WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1 AND p.partmethod OPERATOR(pg_catalog.<>) 'n'",
							  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(relid)},
							  NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_dist_partition");
	distributed = SPI_processed > 0;
	SPI_finish();
	return distributed;
}

/* The shard id a shard's name ends with (<table>_<shard id>), or 0. */
static int64
shard_id_of(Oid relid)
{
	const char *name = get_rel_name(relid);
	const char *digits;
	int64		id = 0;

	if (name == NULL || (digits = strrchr(name, '_')) == NULL || digits[1] == '\0')
		return 0;
	for (digits++; *digits; digits++)
	{
		if (*digits < '0' || *digits > '9' || id > PG_INT64_MAX / 10 - 1)
			return 0;
		id = id * 10 + (*digits - '0');
	}
	return id;
}

/* Whether relid is one of the attached tables. */
static bool
attached_relid(const Attachments *att, Oid relid)
{
	int			i;

	if ((att->contacts.present && relid == att->contacts.relid) ||
		(att->lists.present && relid == att->lists.relid))
		return true;
	for (i = 0; i < att->nsources; i++)
		if (relid == att->events[i].relid)
			return true;
	return false;
}

/* The group of att holding relid as one of its attached tables, or NULL. */
static Attachments *
known_group(Attachments *att, Oid relid)
{
	ListCell   *lc;

	foreach(lc, att->shard_groups)
	{
		if (attached_relid(lfirst(lc), relid))
			return lfirst(lc);
	}
	return NULL;
}

/* Column column (an oid) of SPI's rows, in cxt; NULL as InvalidOid. */
static Oid *
spi_oids(int column, MemoryContext cxt)
{
	Oid		   *oids = MemoryContextAlloc(cxt, sizeof(Oid) * Max(SPI_processed, 1));
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		oids[i] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, column, &isnull));
		if (isnull)
			oids[i] = InvalidOid;
	}
	return oids;
}

/*
 * The shards of the group of shard id on this node, as pairs (logical
 * relid, shard relid), in *logical and *shards; returns their number.
 * The shard itself is among them when it is a shard of a distributed
 * table; none when it is not.
 */
static int
group_shards(int64 shard, Oid **logical, Oid **shards)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(shard)};
	MemoryContext caller = CurrentMemoryContext;
	int			n;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT g.logicalrelid::pg_catalog.oid, "
							  "pg_catalog.to_regclass(pg_catalog.shard_name(g.logicalrelid, g.shardid, false))::pg_catalog.oid "
							  "FROM pg_catalog.pg_dist_shard s "
							  "JOIN pg_catalog.pg_dist_partition ps ON ps.logicalrelid OPERATOR(pg_catalog.=) s.logicalrelid "
							  "JOIN pg_catalog.pg_dist_partition pg ON pg.colocationid OPERATOR(pg_catalog.=) ps.colocationid "
							  "JOIN pg_catalog.pg_dist_shard g ON g.logicalrelid OPERATOR(pg_catalog.=) pg.logicalrelid "
							  " AND g.shardminvalue OPERATOR(pg_catalog.=) s.shardminvalue "
							  " AND g.shardmaxvalue OPERATOR(pg_catalog.=) s.shardmaxvalue "
							  "WHERE s.shardid OPERATOR(pg_catalog.=) $1 AND ps.partmethod OPERATOR(pg_catalog.=) 'h'",
							  1, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the shards of shard " INT64_FORMAT, shard);
	n = (int) SPI_processed;
	*logical = spi_oids(1, caller);
	*shards = spi_oids(2, caller);
	SPI_finish();
	return n;
}

/* The shard of the group of logical relid, or InvalidOid. */
static Oid
shard_of(Oid relid, int n, const Oid *logical, const Oid *shards)
{
	int			i;

	for (i = 0; i < n; i++)
		if (logical[i] == relid)
			return shards[i];
	return InvalidOid;
}

/* t, localized to its shard (in cxt). */
static void
localize_table(AttachedTable *t, MemoryContext cxt, int n, const Oid *logical, const Oid *shards)
{
	Oid			shard;
	Relation	rel;
	MemoryContext old;

	if (!t->present)
		return;
	shard = shard_of(t->relid, n, logical, shards);
	if (!OidIsValid(shard))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("the attached table %s has no shard on this node beside the shard written",
					   quote_qualified_identifier(t->schema, t->name)),
				errdetail("segments needs the attached tables distributed by the tenant and co-located."));
	old = MemoryContextSwitchTo(cxt);
	t->relid = shard;
	t->name = get_rel_name(shard);
	rel = table_open(shard, AccessShareLock);
	t->tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
	table_close(rel, AccessShareLock);
	t->tree = NIL;
	MemoryContextSwitchTo(old);
}

/* The name of the shard of the group of one of the extension's tables. */
static char *
extension_shard(const char *table, MemoryContext cxt, int n, const Oid *logical, const Oid *shards)
{
	Oid			relid = get_relname_relid(table, get_namespace_oid("segments", false));
	Oid			shard = OidIsValid(relid) ? shard_of(relid, n, logical, shards) : InvalidOid;

	if (!OidIsValid(shard))
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("segments.%s has no shard on this node beside the shard written", table),
				errdetail("attach_contacts() distributes it by the tenant, co-located with the contacts."));
	return MemoryContextStrdup(cxt, get_rel_name(shard));
}

Attachments *
citus_shard_group(Attachments *att, Oid relid)
{
	Attachments *g = known_group(att, relid);
	MemoryContext cxt = GetMemoryChunkContext(att);
	int64		shard;
	Oid		   *logical;
	Oid		   *shards;
	int			n;
	int			i;

	if (g != NULL)
		return g;
	if (att->logical != NULL || !att->distributed || (shard = shard_id_of(relid)) == 0)
		return NULL;
	n = group_shards(shard, &logical, &shards);
	/*
	 * relid must be that shard itself, of one of the attached tables or of
	 * segments.shard_task (shard_task.c)
	 */
	for (i = 0; i < n && shards[i] != relid; i++)
		;
	if (i == n || !(attached_relid(att, logical[i]) ||
					logical[i] == get_relname_relid("shard_task", get_namespace_oid("segments", false))))
		return NULL;
	/* a group known by another of its shards */
	g = known_group(att, shard_of(att->contacts.relid, n, logical, shards));
	if (g != NULL)
		return g;

	g = MemoryContextAlloc(cxt, sizeof(Attachments));
	*g = *att;
	g->events = MemoryContextAlloc(cxt, sizeof(AttachedTable) * Max(att->nsources, 1));
	memcpy(g->events, att->events, sizeof(AttachedTable) * att->nsources);
	localize_table(&g->contacts, cxt, n, logical, shards);
	localize_table(&g->lists, cxt, n, logical, shards);
	for (i = 0; i < g->nsources; i++)
		localize_table(&g->events[i], cxt, n, logical, shards);
	g->membership_table = extension_shard(att->membership_table, cxt, n, logical, shards);
	g->log_table = extension_shard(att->log_table, cxt, n, logical, shards);
	g->override_table = extension_shard(att->override_table, cxt, n, logical, shards);
	g->plans = NULL;
	g->generation = rule_attachments_generation();
	g->logical = att;
	g->shard_groups = NIL;
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		att->shard_groups = lappend(att->shard_groups, g);
		MemoryContextSwitchTo(old);
	}
	return g;
}

List *
citus_local_shard_groups(Attachments *att)
{
	List	   *groups = NIL;
	MemoryContext caller = CurrentMemoryContext;
	uint64		i;
	uint64		n;
	Oid		   *shards;

	if (!att->distributed)
		return NIL;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT pg_catalog.to_regclass(pg_catalog.shard_name(s.logicalrelid, s.shardid, false))::pg_catalog.oid "
							  "FROM pg_catalog.pg_dist_shard s "
							  "JOIN pg_catalog.pg_dist_placement p ON p.shardid OPERATOR(pg_catalog.=) s.shardid "
							  "WHERE s.logicalrelid OPERATOR(pg_catalog.=) $1 "
							  " AND p.groupid OPERATOR(pg_catalog.=) (SELECT l.groupid FROM pg_catalog.pg_dist_local_group l) "
							  "ORDER BY s.shardid",
							  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(att->contacts.relid)},
							  NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the shards of this node");
	n = SPI_processed;
	shards = spi_oids(1, caller);
	SPI_finish();
	for (i = 0; i < n; i++)
	{
		Attachments *g = OidIsValid(shards[i]) ? citus_shard_group(att, shards[i]) : NULL;

		if (g == NULL)
			elog(ERROR, "shard %u of the contacts is not in the metadata of this node", shards[i]);
		groups = lappend(groups, g);
	}
	return groups;
}
