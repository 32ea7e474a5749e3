/*
 * data_owner.h
 *	  Whose rights the attached tables' data is read and evaluated with:
 *	  the contacts table's owner, in a security-restricted operation, as
 *	  PostgreSQL evaluates index expressions and REFRESH MATERIALIZED VIEW.
 *	  The extension's own tables are written as the role that entered (the
 *	  extension's owner, through SECURITY DEFINER).  docs/design.md,
 *	  "Security model".
 */
#ifndef SEGMENTS_DATA_OWNER_H
#define SEGMENTS_DATA_OWNER_H

#include "utils/portal.h"

typedef struct DataOwnerScope
{
	Oid			owner;			/* the contacts table's owner */
	Oid			outer_user;		/* the role that entered: writes as it */
	int			outer_context;
	int			guc_level;
} DataOwnerScope;

/* Become the owner of the table contacts (the attached contacts table). */
extern void data_owner_enter(DataOwnerScope *scope, Oid contacts);
/*
 * Become role, likewise: for reading the data as the role that called
 * (data_owner_caller), with its privileges and row-level security.
 */
extern void data_owner_enter_role(DataOwnerScope *scope, Oid role);

/*
 * The role a function of segments acts for: the current one, or, within
 * one of the extension's SECURITY DEFINER functions (running as its
 * owner), the role that called it.
 */
extern Oid	data_owner_caller(void);

/* Back to the role that entered; settings made meanwhile are undone. */
extern void data_owner_leave(DataOwnerScope *scope);

/*
 * Enter the scope and open a cursor on a compiled rule's query, checked
 * to return contact keys of type keytype first (within SPI).
 */
extern Portal data_owner_open_keys(DataOwnerScope *scope, const char *query, int nargs,
								   Oid *types, Datum *values, Oid keytype);

/* Around a write of the extension's tables within the scope. */
extern void data_owner_pause(DataOwnerScope *scope);
extern void data_owner_resume(DataOwnerScope *scope);

#endif
