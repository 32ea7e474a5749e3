/*
 * rule_eval.h
 *	  Evaluate checked rules for one contact, in C.
 *
 * A contact's data is read once into an EvalContact and shared by every
 * rule evaluated for it: its row when it is set up, and its events, lists
 * and segment memberships on the first condition that needs them, each
 * with one query of all the contact's rows (prepared once per Attachments).
 * Conditions are then tested in memory, so evaluating many rules on one
 * contact costs no query per rule: the write path (maintain.c) evaluates
 * every affected segment this way, segments.matches() and
 * segments.explain() one rule.
 */
#ifndef SEGMENTS_RULE_EVAL_H
#define SEGMENTS_RULE_EVAL_H

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "nodes/pg_list.h"

#include "rule_check.h"

/*
 * Prepared, kept SPI plans reading one contact's data: made on first use
 * for one Attachments (att->plans) and freed when rule_load_attachments()
 * replaces those attachments.
 */
typedef struct EvalPlans EvalPlans;

/* One event of the contact. */
typedef struct EvalEvent
{
	HeapTuple	tuple;
	text	   *kind;			/* not toasted; NULL for a NULL kind */
	bool		at_isnull;
	TimestampTz at;
} EvalEvent;

/*
 * The data of one contact that rules are evaluated on: read once, shared by
 * every rule evaluated for the contact.  Everything is allocated in cxt,
 * which the caller resets (or deletes) when done with the contact.
 */
typedef struct EvalContact
{
	Attachments *att;
	MemoryContext cxt;
	bool		latest;			/* false: read-only, with the caller's
								 * snapshot (matches, explain); true: the
								 * latest committed data, whatever the
								 * isolation level (the write path, which
								 * holds the contact's turn) */
	Datum		key;			/* of att->contacts.contact_type */
	HeapTuple	row;			/* NULL: no such contact */
	TupleDesc	row_desc;
	char	   *tenant;			/* canonical text of the contact's tenant
								 * value, NULL if none / no tenant column */

	/* read on first need */
	bool		events_read;
	uint64		nevents;
	EvalEvent  *events;			/* all the contact's events, of every kind */
	TupleDesc	events_desc;
	Oid			kind_collation; /* of the kind column, as e.kind = 'k' uses */

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
 * Set up c for the contact with the given key and read its row (SPI
 * connected by the caller); false when there is no such contact (c->row is
 * then NULL, and memberships can still be read).  Sets tenant.
 */
extern bool rule_eval_read_contact(EvalContact *c, Attachments *att, Datum key,
								   MemoryContext cxt, bool latest);

/*
 * Set up c for the write path with the contact's row as the caller knows
 * it (row NULL: no such contact); its other data is read with the latest
 * snapshot.  Returns whether the contact exists.
 */
extern bool rule_eval_use_contact(EvalContact *c, Attachments *att, Datum key, HeapTuple row,
								  TupleDesc desc, MemoryContext cxt);

/*
 * Is cr true for the contact?  false when the contact does not exist or is
 * not in cr->tenant (when cr->tenant is set).  cr must be checked against
 * c->att.  SPI connected by the caller; allocates in c->cxt.
 */
extern bool rule_eval_contact(const CheckedRule *cr, EvalContact *c);

/*
 * Membership of the contact as "in segment" sees it: read from
 * segments.membership on first need (SPI connected by the caller); the
 * write path updates it as it re-evaluates segments in dependency order.
 */
extern bool rule_eval_is_member(EvalContact *c, int64 segment_id);
extern void rule_eval_set_member(EvalContact *c, int64 segment_id, bool member);

/*
 * The data of many contacts, read at once: their rows (or, without rows,
 * only their keys: no rule reads a field or a tenant), their events (if
 * events), their lists (if lists) and their memberships, each with one
 * query for all of them (the latest snapshot, SPI connected by the
 * caller), allocated in cxt.
 */
typedef struct EvalChunk EvalChunk;

/*
 * The events rules count: their kinds, and the earliest time they count
 * (unless some rule counts events of any time).  A chunk reads only those.
 */
typedef struct EvalEventNeeds
{
	List	   *kinds;			/* of char *, each once */
	bool		counted;		/* some condition seen: since is set */
	bool		all_columns;	/* where clauses read other columns */
	bool		any_time;
	TimestampTz since;
} EvalEventNeeds;

/* Add what cr's event conditions count to needs (zeroed at first). */
extern void rule_eval_event_needs(const CheckedRule *cr, EvalEventNeeds *needs);

/* events: the events to read, or NULL for none */
extern EvalChunk *rule_eval_read_chunk(Attachments *att, const Datum *keys, int n, bool rows,
									   const EvalEventNeeds *events, bool lists,
									   MemoryContext cxt);

/*
 * Set up c for the chunk's i-th contact (keys[i]) from the chunk, with
 * what c allocates in cxt; data the chunk did not read is read when
 * needed.  Returns whether the contact exists.
 */
extern bool rule_eval_chunk_contact(EvalChunk *chunk, int i, EvalContact *c, MemoryContext cxt);

/* Free the plans of attachments being replaced (rule_check.c). */
extern void rule_eval_free_plans(EvalPlans *plans);

#endif							/* SEGMENTS_RULE_EVAL_H */
