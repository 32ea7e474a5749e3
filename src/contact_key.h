/*
 * contact_key.h
 *	  A contact's key as segments handle it: the value of the contacts'
 *	  key column, or, for contacts keyed per tenant, the pair (tenant, key)
 *	  as one value of the composite type segments.contact_key.  The key
 *	  read from a row of any attached table, split into the membership's
 *	  columns, and the SQL that reads, compares and writes it
 *	  (docs/design.md, "Contacts keyed per tenant").
 */
#ifndef SEGMENTS_CONTACT_KEY_H
#define SEGMENTS_CONTACT_KEY_H

#include "access/htup.h"
#include "executor/tuptable.h"
#include "fmgr.h"

#include "rule_check.h"

/* Where a table's rows hold their contact's key. */
typedef struct ContactKeyColumns
{
	int			contact;		/* attribute number of the contact (key) column */
	int			tenant;			/* of the tenant column; 0 unless keyed per tenant */
} ContactKeyColumns;

/* The columns of t holding the key, in rows of desc (by name). */
extern ContactKeyColumns contact_key_columns(const Attachments *att, const AttachedTable *t,
											 TupleDesc desc);

/*
 * The key of a row (NULL when the contact column, or the tenant, is NULL),
 * allocated in the current memory context when keyed per tenant.
 */
extern Datum contact_key_of_tuple(const Attachments *att, const ContactKeyColumns *cols,
								  HeapTuple tuple, TupleDesc desc, bool *isnull);
extern Datum contact_key_of_slot(const Attachments *att, const ContactKeyColumns *cols,
								 TupleTableSlot *slot, bool *isnull);

/* The key of the tenant and contact columns' values (keyed per tenant). */
extern Datum contact_key_make(const Attachments *att, Datum tenant, Datum contact);

/* The membership's columns of a key: contact, and the tenant (if per tenant). */
extern void contact_key_split(const Attachments *att, Datum key, Datum *tenant, Datum *contact);

/*
 * A function's contact argument (argno), converted to the key type
 * (keytype, att->key_type) through text when it is of another type.
 */
extern Datum contact_key_arg(FunctionCallInfo fcinfo, int argno, Oid keytype);

/* The key as text, for messages. */
extern char *contact_key_text(const Attachments *att, Datum key);

/* SQL: the key of the row of t called alias. */
extern char *contact_key_sql(const Attachments *att, const AttachedTable *t, const char *alias);

/* SQL: the rows of t (alias a) and u (alias b) are of the same contact. */
extern char *contact_key_join_sql(const Attachments *att, const AttachedTable *t, const char *a,
								  const AttachedTable *u, const char *b);

/*
 * SQL: the row of t called alias has a key in the array expression
 * (a semi-join for keys per tenant, so that an index on the pair serves).
 */
extern char *contact_key_in_array_sql(const Attachments *att, const AttachedTable *t,
									  const char *alias, const char *array);

/*
 * SQL for segments.membership and its log: the key of the row alias, the
 * columns a key takes, a key expression's values for them, and whether
 * the row alias has the key.
 */
extern char *member_key_sql(const Attachments *att, const char *alias);
extern const char *member_key_columns(const Attachments *att);
extern char *member_key_values(const Attachments *att, const char *key);
extern char *member_key_matches(const Attachments *att, const char *alias, const char *key);

#endif							/* SEGMENTS_CONTACT_KEY_H */
