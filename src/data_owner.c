/*
 * data_owner.c
 *	  Evaluating the attached data as the contacts table's owner.
 *
 * Maintenance, builds and ticks run as the extension's owner (SECURITY
 * DEFINER), usually a superuser.  Reading the attached tables runs code
 * that other roles control: the operators of a column's type, functions
 * in policies.  So that code runs as the contacts table's owner, never
 * with more rights, in a security-restricted operation (no SET ROLE, no
 * temporary objects, no settings left behind), the way PostgreSQL runs
 * index expressions and REFRESH MATERIALIZED VIEW.  Writes of the
 * extension's own tables pause the scope: they run as the role that
 * entered.  A scope left by an error is undone by the (sub)transaction's
 * abort, which restores the user and the settings.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "data_owner.h"
#include "rule_check.h"

void
data_owner_enter(DataOwnerScope *scope, Oid contacts)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(contacts));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_TABLE),
				errmsg("the attached contacts table (OID %u) does not exist", contacts));
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	data_owner_enter_role(scope, owner);
}

void
data_owner_enter_role(DataOwnerScope *scope, Oid role)
{
	scope->owner = role;
	GetUserIdAndSecContext(&scope->outer_user, &scope->outer_context);
	SetUserIdAndSecContext(scope->owner, scope->outer_context | SECURITY_RESTRICTED_OPERATION);
	scope->guc_level = NewGUCNestLevel();
}

Oid
data_owner_caller(void)
{
	Oid			user = GetUserId();
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(rule_catalog_relid()));
	Oid			extension_owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for segments.segment");
	extension_owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return user == extension_owner ? GetOuterUserId() : user;
}

void
data_owner_leave(DataOwnerScope *scope)
{
	AtEOXact_GUC(false, scope->guc_level);
	SetUserIdAndSecContext(scope->outer_user, scope->outer_context);
}

void
data_owner_pause(DataOwnerScope *scope)
{
	SetUserIdAndSecContext(scope->outer_user, scope->outer_context | SECURITY_RESTRICTED_OPERATION);
}

void
data_owner_resume(DataOwnerScope *scope)
{
	SetUserIdAndSecContext(scope->owner, scope->outer_context | SECURITY_RESTRICTED_OPERATION);
}

/*
 * Open a cursor on query (with its nargs parameters), a compiled rule
 * whose first column is the contact key, as the attached contacts table's
 * owner: the scope is entered, for the caller to leave once it has read
 * the rows.  The first column is taken as contact keys datum for datum,
 * so it must be of the key's type or a domain over it: a datum of another
 * type would be read back as what it is not.
 */
Portal
data_owner_open_keys(DataOwnerScope *scope, const char *query, int nargs, Oid *types,
					 Datum *values, Oid keytype)
{
	Attachments *att = rule_load_attachments();
	Portal		portal;
	TupleDesc	desc;

	if (!att->contacts.present)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("contacts are not attached"),
				errhint("Attach the contacts table first with segments.attach_contacts()."));
	data_owner_enter(scope, att->contacts.relid);
	portal = SPI_cursor_open_with_args(NULL, query, nargs, types, values, NULL, true, 0);
	desc = portal->tupDesc;
	if (desc == NULL || desc->natts < 1 ||
		getBaseType(TupleDescAttr(desc, 0)->atttypid) != getBaseType(keytype))
		ereport(ERROR,
				errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("the query of a compiled rule must return the contact key first, of type %s",
					   format_type_be(keytype)),
				desc == NULL || desc->natts < 1 ? errdetail("It returns no column.") :
				errdetail("Its first column has type %s.",
						  format_type_be(TupleDescAttr(desc, 0)->atttypid)));
	return portal;
}

PG_FUNCTION_INFO_V1(segments_matching);

/*
 * segments._matching(query text, key anyelement) -> SETOF anyelement
 * segments._matching_among(query text, contacts anyarray) -> SETOF anyelement
 *
 * The contact keys a compiled rule selects, evaluated as the contacts
 * table's owner: the rows that the extension's own statements (refresh,
 * alter, verify) then compare with the membership as the extension's
 * owner.  _matching_among passes contacts to the query as $1.
 */
Datum
segments_matching(PG_FUNCTION_ARGS)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	bool		among = OidIsValid(get_element_type(argtype));
	/* a contact keyed per tenant: segments.contact_key, returned as its row */
	Oid			keytype = get_fn_expr_rettype(fcinfo->flinfo);
	bool		composite = type_is_rowtype(keytype);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DataOwnerScope scope;
	Portal		portal;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("the query must not be null"));
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (among && PG_ARGISNULL(1))
		return (Datum) 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	portal = data_owner_open_keys(&scope, text_to_cstring(PG_GETARG_TEXT_PP(0)), among ? 1 : 0,
								  &argtype, among ? &fcinfo->args[1].value : NULL,
								  composite ? keytype : TupleDescAttr(rsinfo->setDesc, 0)->atttypid);
	for (;;)
	{
		uint64		i;

		CHECK_FOR_INTERRUPTS();
		SPI_cursor_fetch(portal, true, 1000);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			Datum		key = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

			if (composite && !isnull)
			{
				HeapTupleData row;

				row.t_data = DatumGetHeapTupleHeader(key);
				row.t_len = HeapTupleHeaderGetDatumLength(row.t_data);
				ItemPointerSetInvalid(&row.t_self);
				row.t_tableOid = InvalidOid;
				tuplestore_puttuple(rsinfo->setResult, &row);
			}
			else if (!composite)
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &key, &isnull);
		}
		SPI_freetuptable(SPI_tuptable);
	}
	SPI_cursor_close(portal);
	data_owner_leave(&scope);
	SPI_finish();
	return (Datum) 0;
}
