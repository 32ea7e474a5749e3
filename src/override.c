/*
 * override.c
 *	  Contacts included in or excluded from a segment by hand, whatever its
 *	  rule says: segments.include(), exclude() and remove_override()
 *	  (docs/design.md, "Overrides and static segments").
 *
 * An override is a row of segments.override; the segment is then marked
 * overridden, which tells the write path to read the overrides of the
 * contacts it evaluates for it (a catalog change, made once, under the
 * catalog lock: every backend's cache learns of it).  The contact's
 * membership is then brought up to date at once, as a write's is at
 * commit, taking its turn, with cause 'manual'; so are the segments that
 * use the segment "in segment".
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "contact_data.h"
#include "contact_key.h"
#include "contact_queue.h"
#include "data_owner.h"
#include "maintain.h"
#include "segment_cache.h"
#include "shard_task.h"

PG_FUNCTION_INFO_V1(segments_override);

/*
 * The contact as the role that called the segments function sees it (the
 * outer role, not the extension's owner the function runs as): with its
 * privileges and the row-level security of the contacts table.  Returns
 * its tenant's text (NULL: none); an error when it is not there for it.
 */
static char *
caller_sees_contact(Attachments *att, Datum key, MemoryContext cxt)
{
	EvalNeeds	needs;
	EvalContact contact;
	DataOwnerScope scope;
	bool		exists;

	memset(&needs, 0, sizeof(needs));
	needs.fields = att->contacts.tenant_column != NULL;
	/* in a security-restricted operation, settings made meanwhile undone */
	data_owner_enter_role(&scope, data_owner_caller());
	exists = contact_chunk_contact(contact_chunk_read(att, &key, 1, &needs, true, false, cxt),
								   0, &contact, cxt);
	data_owner_leave(&scope);
	if (!exists)
		ereport(ERROR,
				errcode(ERRCODE_NO_DATA_FOUND),
				errmsg("contact %s does not exist in %s", contact_key_text(att, key),
					   quote_qualified_identifier(att->contacts.schema, att->contacts.name)));
	return contact.tenant;
}

/*
 * Whether segment id has overrides, and its name and tenant; with name
 * given, its row locked against a drop (FOR KEY SHARE, which alter's row
 * lock does not wait for).
 */
static bool
segment_overridden(int64 id, Datum *args, MemoryContext cxt, char **name, char **tenant)
{
	bool		isnull;

	if (SPI_execute_with_args(name ? "SELECT s.name, s.tenant, s.overridden FROM segments.segment s "
							  "WHERE s.id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE" :
							  "SELECT s.name, s.tenant, s.overridden FROM segments.segment s "
							  "WHERE s.id OPERATOR(pg_catalog.=) $1",
							  1, (Oid[]) {INT8OID}, args, NULL, false, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read segments.segment");
	if (SPI_processed == 0)
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_OBJECT),
				errmsg("segment with id " INT64_FORMAT " does not exist", id));
	MemoryContextSwitchTo(cxt);
	if (name)
	{
		*name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		*tenant = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	}
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
}

/*
 * segments._override(id bigint, contact anyelement, included boolean)
 * -> bigint
 *
 * Include the contact in segment id (included true), exclude it (false)
 * or remove its override (NULL), and apply what that changes; returns the
 * joins and leaves made (of the segment and of those using it).
 */
Datum
segments_override(PG_FUNCTION_ARGS)
{
	int64		id = PG_GETARG_INT64(0);
	bool		remove = PG_ARGISNULL(2);
	Attachments *att;
	Datum		key;
	MemoryContext cxt;
	MemoryContext old;
	char	   *name;
	char	   *tenant;
	char	   *contact_tenant;
	bool		overridden;
	Datum		args[3];
	SegmentCache *cache;
	ContactQueue *queue;
	int64		changes = 0;
	int64		evaluated;
	int			i;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("a segment and a contact are needed"));
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				errmsg("contacts can only be included or excluded under READ COMMITTED"),
				errhint("Run it in a READ COMMITTED transaction, so that writes committed meanwhile are seen."));
	att = rule_load_attachments();
	key = contact_key_arg(fcinfo, 1, att->key_type);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "segments override", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * The segment.  Its first override is a catalog change, whose lock
	 * comes first, as for the others (alter, drop); then the segment's row,
	 * kept from being dropped meanwhile.
	 */
	args[0] = Int64GetDatum(id);
	overridden = segment_overridden(id, args, cxt, NULL, NULL);
	if (!remove && !overridden &&
		SPI_execute("SELECT segments._lock()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not take the catalog lock");
	overridden = segment_overridden(id, args, cxt, &name, &tenant);

	contact_tenant = caller_sees_contact(att, key, cxt);
	if (tenant && (contact_tenant == NULL || strcmp(tenant, contact_tenant) != 0))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("contact %s is not of tenant %s", contact_key_text(att, key), tenant),
				errdetail("Segment \"%s\" (tenant %s) holds only the contacts of its tenant.", name, tenant));

	/* the first override of the segment: writes must read them from now on */
	if (!remove && !overridden &&
		SPI_execute_with_args("UPDATE segments.segment AS s SET overridden = true "
							  "WHERE s.id OPERATOR(pg_catalog.=) $1",
							  1, (Oid[]) {INT8OID}, args, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "could not mark segment " INT64_FORMAT " overridden", id);

	args[1] = key;
	if (remove)
	{
		if (SPI_execute_with_args(psprintf("DELETE FROM segments.override AS o "
										   "WHERE o.segment_id OPERATOR(pg_catalog.=) $1 AND %s",
										   member_key_matches(att, "o", "$2")),
								  2, (Oid[]) {INT8OID, att->key_type}, args, NULL, false, 0) != SPI_OK_DELETE)
			elog(ERROR, "could not delete from segments.override");
	}
	else
	{
		args[2] = PG_GETARG_DATUM(2);
		if (SPI_execute_with_args(psprintf("INSERT INTO segments.override AS o (segment_id, %s, included) "
										   "VALUES ($1, %s, $3) ON CONFLICT (segment_id, %s) DO UPDATE "
										   "SET included = excluded.included, at = excluded.at, made_by = excluded.made_by",
										   member_key_columns(att), member_key_values(att, "$2"),
										   member_key_columns(att)),
								  3, (Oid[]) {INT8OID, att->key_type, BOOLOID}, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write segments.override");
	}
	SPI_finish();

	/* the contact's membership, now, as a write's at its commit */
	CommandCounterIncrement();
	maintain_writers_lock();
	cache = segment_cache_get();
	for (i = 0; i < cache->nsegments; i++)
		if (cache->segments[i].id == id)
			break;
	/* on a Citus cluster, in the contact's shard group, on its node */
	if (i < cache->nsegments && cache->att->distributed)
		changes = shard_task_contact(cache->att, id, key);
	else if (i < cache->nsegments)
	{
		queue = contact_queue_create(contact_key_type(cache->att), cxt);
		contact_queue_add(queue, key);
		changes = maintain_apply(NULL, segment_cache_with_dependents(cache, bms_make_singleton(i)),
								 queue, "manual", &evaluated);
		contact_queue_free(queue);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	PG_RETURN_INT64(changes);
}
