/*
 * contact_key.c
 *	  A contact's key: one column's value, or for contacts keyed per tenant
 *	  a segments.contact_key (tenant, contact) made of two (contact_key.h).
 *
 * Keyed per tenant, everything that holds a contact (the write path's
 * queues and hash tables, the queries reading contacts' data, the
 * functions taking or returning a contact) holds one composite value, so
 * that it is one Datum, hashed and compared by the type's own functions,
 * as a single column's value is; only the membership and its log store
 * the pair as two columns, and the attached tables have it as two.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "contact_data.h"
#include "contact_key.h"

ContactKeyColumns
contact_key_columns(const Attachments *att, const AttachedTable *t, TupleDesc desc)
{
	ContactKeyColumns cols;

	cols.contact = contact_column(desc, t->contact_column);
	cols.tenant = att->key_per_tenant ? contact_column(desc, t->tenant_column) : 0;
	return cols;
}

Datum
contact_key_make(const Attachments *att, Datum tenant, Datum contact)
{
	Datum		values[2] = {tenant, contact};
	bool		nulls[2] = {false, false};

	Assert(att->key_per_tenant);
	return HeapTupleGetDatum(heap_form_tuple(att->key_desc, values, nulls));
}

Datum
contact_key_of_tuple(const Attachments *att, const ContactKeyColumns *cols,
					 HeapTuple tuple, TupleDesc desc, bool *isnull)
{
	Datum		contact = heap_getattr(tuple, cols->contact, desc, isnull);
	Datum		tenant;

	if (*isnull || cols->tenant == 0)
		return contact;
	tenant = heap_getattr(tuple, cols->tenant, desc, isnull);
	return *isnull ? (Datum) 0 : contact_key_make(att, tenant, contact);
}

Datum
contact_key_of_slot(const Attachments *att, const ContactKeyColumns *cols,
					TupleTableSlot *slot, bool *isnull)
{
	Datum		contact = slot_getattr(slot, cols->contact, isnull);
	Datum		tenant;

	if (*isnull || cols->tenant == 0)
		return contact;
	tenant = slot_getattr(slot, cols->tenant, isnull);
	return *isnull ? (Datum) 0 : contact_key_make(att, tenant, contact);
}

void
contact_key_split(const Attachments *att, Datum key, Datum *tenant, Datum *contact)
{
	HeapTupleHeader header;
	HeapTupleData tuple;
	bool		isnull;

	if (!att->key_per_tenant)
	{
		*tenant = (Datum) 0;
		*contact = key;
		return;
	}
	header = DatumGetHeapTupleHeader(key);
	tuple.t_len = HeapTupleHeaderGetDatumLength(header);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = header;
	*tenant = heap_getattr(&tuple, 1, att->key_desc, &isnull);
	if (!isnull)
		*contact = heap_getattr(&tuple, 2, att->key_desc, &isnull);
	/* attaching and the DDL that follows keep both columns NOT NULL */
	if (isnull)
		ereport(ERROR,
				errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				errmsg("a contact's tenant and key must not be null"),
				errdetail("Contacts are keyed per tenant: a contact is a (tenant, key) pair."));
}

char *
contact_key_text(const Attachments *att, Datum key)
{
	Oid			output;
	bool		varlena;

	getTypeOutputInfo(att->key_type, &output, &varlena);
	return OidOutputFunctionCall(output, key);
}

char *
contact_key_sql(const Attachments *att, const AttachedTable *t, const char *alias)
{
	if (!att->key_per_tenant)
		return psprintf("%s.%s", alias, quote_identifier(t->contact_column));
	return psprintf("ROW(%s.%s, %s.%s)::segments.contact_key",
					alias, quote_identifier(t->tenant_column),
					alias, quote_identifier(t->contact_column));
}

char *
contact_key_join_sql(const Attachments *att, const AttachedTable *t, const char *a,
					 const AttachedTable *u, const char *b)
{
	char	   *contacts = psprintf("%s.%s OPERATOR(pg_catalog.=) %s.%s",
									a, quote_identifier(t->contact_column),
									b, quote_identifier(u->contact_column));

	if (!att->key_per_tenant)
		return contacts;
	return psprintf("%s AND %s.%s OPERATOR(pg_catalog.=) %s.%s", contacts,
					a, quote_identifier(t->tenant_column),
					b, quote_identifier(u->tenant_column));
}

char *
contact_key_in_array_sql(const Attachments *att, const AttachedTable *t,
						 const char *alias, const char *array)
{
	if (!att->key_per_tenant)
		return psprintf("%s.%s OPERATOR(pg_catalog.=) ANY (%s)",
						alias, quote_identifier(t->contact_column), array);
	return psprintf("EXISTS (SELECT FROM pg_catalog.unnest(%s) AS k"
					" WHERE k.tenant OPERATOR(pg_catalog.=) %s.%s"
					" AND k.contact OPERATOR(pg_catalog.=) %s.%s)",
					array, alias, quote_identifier(t->tenant_column),
					alias, quote_identifier(t->contact_column));
}

char *
member_key_sql(const Attachments *att, const char *alias)
{
	if (!att->key_per_tenant)
		return psprintf("%s.contact", alias);
	return psprintf("ROW(%s.tenant, %s.contact)::segments.contact_key", alias, alias);
}

const char *
member_key_columns(const Attachments *att)
{
	return att->key_per_tenant ? "tenant, contact" : "contact";
}

char *
member_key_values(const Attachments *att, const char *key)
{
	if (!att->key_per_tenant)
		return pstrdup(key);
	return psprintf("(%s).tenant, (%s).contact", key, key);
}

char *
member_key_matches(const Attachments *att, const char *alias, const char *key)
{
	if (!att->key_per_tenant)
		return psprintf("%s.contact OPERATOR(pg_catalog.=) %s", alias, key);
	return psprintf("%s.tenant OPERATOR(pg_catalog.=) (%s).tenant AND %s.contact OPERATOR(pg_catalog.=) (%s).contact",
					alias, key, alias, key);
}

Datum
contact_key_arg(FunctionCallInfo fcinfo, int argno, Oid keytype)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, argno);
	Oid			input,
				ioparam,
				output;
	bool		varlena;

	if (type_is_rowtype(keytype) && !type_is_rowtype(argtype))
		ereport(ERROR,
				errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("contacts are keyed per tenant: a contact is a (tenant, key) pair, not a value of type %s",
					   format_type_be(argtype)),
				errhint("Give it as a row: ROW(tenant, key)::segments.contact_key."));
	if (argtype == keytype)
		return PG_GETARG_DATUM(argno);
	getTypeOutputInfo(argtype, &output, &varlena);
	getTypeInputInfo(keytype, &input, &ioparam);
	return OidInputFunctionCall(input, OidOutputFunctionCall(output, PG_GETARG_DATUM(argno)), ioparam, -1);
}
