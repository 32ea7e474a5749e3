/*
 * removal.c
 *	  DROP EXTENSION segments CASCADE removes what attach_contacts made.
 *
 * The membership, its log and the tables beside the log are made by
 * segments.attach_contacts(), not by the extension's script, so they are
 * not members of the extension and a DROP EXTENSION leaves them behind
 * (a CREATE EXTENSION would then work, and attaching would not).  This
 * event trigger, on ddl_command_start of DROP EXTENSION, drops them first
 * (segments._drop_contact_objects()), when the statement drops segments
 * with CASCADE and its caller owns the extension: without CASCADE,
 * PostgreSQL refuses the drop as it would anyway (the triggers on the
 * attached tables depend on the extension's functions), and whoever does
 * not own the extension gets PostgreSQL's refusal, nothing dropped before
 * it.  The triggers on the attached tables go with the functions they
 * call; the application's tables, rows and other triggers stay.  The
 * whole is one statement: if the drop fails, nothing was dropped.
 */
#include "postgres.h"

#include "catalog/pg_extension.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"

PG_FUNCTION_INFO_V1(segments_on_drop_extension);

/* Whether the statement drops the extension segments with CASCADE. */
static bool
drops_segments_cascade(Node *parsetree)
{
	DropStmt   *stmt;
	ListCell   *lc;

	if (parsetree == NULL || !IsA(parsetree, DropStmt))
		return false;
	stmt = (DropStmt *) parsetree;
	if (stmt->removeType != OBJECT_EXTENSION || stmt->behavior != DROP_CASCADE)
		return false;
	foreach(lc, stmt->objects)
	{
		if (strcmp(strVal(lfirst(lc)), "segments") == 0)
			return true;
	}
	return false;
}

/* segments._on_drop_extension() -> event_trigger */
Datum
segments_on_drop_extension(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Oid			extension;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("segments._on_drop_extension() fires on ddl_command_start of DROP EXTENSION only"));
	trigdata = (EventTriggerData *) fcinfo->context;
	if (strcmp(trigdata->event, "ddl_command_start") != 0)
		ereport(ERROR,
				errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				errmsg("segments._on_drop_extension() fires on ddl_command_start of DROP EXTENSION only"));
	if (!drops_segments_cascade(trigdata->parsetree))
		PG_RETURN_VOID();
	extension = get_extension_oid("segments", true);
#if PG_VERSION_NUM >= 160000
	if (!OidIsValid(extension) || !object_ownercheck(ExtensionRelationId, extension, GetUserId()))
#else
	if (!OidIsValid(extension) || !pg_extension_ownercheck(extension, GetUserId()))
#endif
		PG_RETURN_VOID();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute("SELECT segments._drop_contact_objects()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not remove the attachments of segments");
	SPI_finish();
	PG_RETURN_VOID();
}
