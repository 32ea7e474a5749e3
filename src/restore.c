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
 * them (docs/design.md, "Backup and restore").
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"
#include "utils/rls.h"

#include "restore.h"

PG_FUNCTION_INFO_V1(segments_restoring_dump);

bool
restoring_dump(void)
{
	return !check_function_bodies && !row_security;
}

/* segments._restoring_dump() -> boolean */
Datum
segments_restoring_dump(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(restoring_dump());
}
