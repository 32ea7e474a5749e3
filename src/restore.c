/*
 * restore.c
 *	  A session restoring a dump, and what the extension lets it do.
 *
 * A dump restores the extension's catalog (its configuration tables), the
 * membership and its log as they were: it is consistent as it stands.  So
 * while a session restores one, the extension keeps out of its way:
 *
 *	 - writes to the attached tables are not maintained (a data-only
 *	   restore loads the attached tables with their triggers in place, and
 *	   the membership and log rows those rows have come from the dump);
 *	 - dropping an attached table is neither refused nor a detach
 *	   (pg_restore --clean drops the tables it restores before it drops and
 *	   creates the extension again; see segments._on_sql_drop).
 *
 * A session restores a dump when it runs with check_function_bodies and
 * row_security both off, as every script of pg_dump and pg_restore sets
 * them (docs/design.md, "Releases, backup and restore").  Its writes to a
 * table go unmaintained only if it owns the table (a superuser does), as
 * only then could it write them unmaintained anyway, with DISABLE
 * TRIGGER: any other writer that turns both settings off is maintained as
 * ever.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/rls.h"

#include "restore.h"

PG_FUNCTION_INFO_V1(segments_restoring_dump);

bool
restoring_dump(void)
{
	return !check_function_bodies && !row_security;
}

/*
 * Whether the session restores a dump into table relid (see the top): its
 * role, not that of the SECURITY DEFINER trigger asking, owns the table.
 */
bool
restoring_dump_into(Oid relid)
{
#if PG_VERSION_NUM >= 160000
	return restoring_dump() && object_ownercheck(RelationRelationId, relid, GetOuterUserId());
#else
	return restoring_dump() && pg_class_ownercheck(relid, GetOuterUserId());
#endif
}

/* segments._restoring_dump() -> boolean */
Datum
segments_restoring_dump(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(restoring_dump());
}
