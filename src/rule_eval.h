/*
 * rule_eval.h
 *	  Evaluate checked rules for one contact, in C.
 *
 * The contact's data is read beforehand into an EvalContact (its row,
 * events, lists and memberships: contact_data.h reads them for a chunk of
 * contacts at once, as much as the rules to evaluate need) and shared by
 * every rule evaluated for it.  Conditions are then tested in memory, so
 * evaluating many rules on one contact costs no query per rule: the write
 * path (maintain.c) evaluates every affected segment this way,
 * segments.matches() and segments.explain() one rule.
 */
#ifndef SEGMENTS_RULE_EVAL_H
#define SEGMENTS_RULE_EVAL_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "rule_check.h"

/* One event of the contact. */
typedef struct EvalEvent
{
	HeapTuple	tuple;
	text	   *kind;			/* not toasted; NULL for a NULL kind */
	bool		at_isnull;
	TimestampTz at;
} EvalEvent;

/*
 * The data of one contact that rules are evaluated on, shared by every
 * rule evaluated for the contact.  What evaluation allocates goes to cxt,
 * which the caller resets (or deletes) when done with the contact.
 */
typedef struct EvalContact
{
	Attachments *att;
	MemoryContext cxt;
	Datum		key;			/* of att->contacts.contact_type */
	HeapTuple	row;			/* NULL: no such contact */
	TupleDesc	row_desc;
	char	   *tenant;			/* canonical text of the contact's tenant
								 * value, NULL if none / no tenant column */

	/* each read only when the rules need it (EvalNeeds) */
	bool		events_read;
	uint64		nevents;
	EvalEvent  *events;			/* the events the rules count */
	TupleDesc	events_desc;
	Oid			kind_collation; /* of the kind column, as e.kind = 'k' uses */
	/* reads the events when a rule first counts them (contact_defer_events) */
	void		(*read_events) (struct EvalContact *c);
	const struct EvalNeeds *events_needs;

	bool		lists_read;
	uint64		nlists;
	Datum	   *lists;			/* the contact's non-NULL list values */
	Oid			list_collation;

	bool		members_read;
	int			nmembers;
	int64	   *members;		/* ids of the segments the contact is a
								 * member of, ascending */
	int			members_space;
} EvalContact;

/*
 * What evaluating some rules needs of a contact's data: its row (a rule
 * reads a field or has a tenant; else only whether it exists), its lists,
 * its memberships ("in segment"), and the events its rules count: their
 * kinds, and the earliest time they count unless some rule counts events
 * of any time.
 */
typedef struct EvalNeeds
{
	bool		fields;
	bool		lists;
	bool		members;
	List	   *kinds;			/* of char *, each once; NIL: no events */
	bool		event_columns;	/* where clauses read other columns */
	bool		any_time;
	TimestampTz since;			/* when kinds and not any_time */
} EvalNeeds;

/* Add what evaluating cr needs to needs (zeroed at first). */
extern void rule_eval_needs(const CheckedRule *cr, EvalNeeds *needs);

/*
 * Is cr true for the contact?  false when the contact does not exist or is
 * not in cr->tenant (when cr->tenant is set).  cr must be checked against
 * c->att.
 */
extern bool rule_eval_contact(const CheckedRule *cr, EvalContact *c);

/*
 * Membership of the contact as "in segment" sees it (read with the
 * contact's data); the write path updates it as it re-evaluates segments
 * in dependency order.
 */
extern bool rule_eval_is_member(EvalContact *c, int64 segment_id);
extern void rule_eval_set_member(EvalContact *c, int64 segment_id, bool member);

#endif							/* SEGMENTS_RULE_EVAL_H */
