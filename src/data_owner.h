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

typedef struct DataOwnerScope
{
	Oid			owner;			/* the contacts table's owner */
	Oid			outer_user;		/* the role that entered: writes as it */
	int			outer_context;
	int			guc_level;
} DataOwnerScope;

/* Become the owner of the table contacts (the attached contacts table). */
extern void data_owner_enter(DataOwnerScope *scope, Oid contacts);
/* Back to the role that entered; settings made meanwhile are undone. */
extern void data_owner_leave(DataOwnerScope *scope);

/* Around a write of the extension's tables within the scope. */
extern void data_owner_pause(DataOwnerScope *scope);
extern void data_owner_resume(DataOwnerScope *scope);

#endif
