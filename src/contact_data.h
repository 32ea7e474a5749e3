/*
 * contact_data.h
 *	  A contact's data as rules are evaluated on it (EvalContact) and what
 *	  of it some rules need (EvalNeeds); reading it for evaluation
 *	  (rule_eval.h): rows, events, lists and memberships, for a chunk of
 *	  contacts at once, one query per table; and hash tables keyed by
 *	  contact keys.
 */
#ifndef SEGMENTS_CONTACT_DATA_H
#define SEGMENTS_CONTACT_DATA_H

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "nodes/pg_list.h"
#include "utils/hsearch.h"
#include "utils/typcache.h"

#include "rule_check.h"

/* One event of the contact. */
typedef struct EvalEvent
{
	int			source;			/* its event source (att->events) */
	HeapTuple	tuple;
	text	   *kind;			/* not toasted; NULL for a NULL kind */
	bool		at_isnull;
	TimestampTz at;
} EvalEvent;

/* A membership of the contact: the segment, and since when. */
typedef struct EvalMember
{
	int64		segment_id;
	TimestampTz since;
} EvalMember;

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
	EvalEvent  *events;			/* the events the rules count, of every source */
	TupleDesc  *events_descs;	/* per source; NULL for one not read */
	Oid		   *kind_collations;	/* per source: of the kind column, as
									 * e.kind = 'k' uses */
	/* reads the events when a rule first counts them (contact_defer_events) */
	void		(*read_events) (struct EvalContact *c);
	const struct EvalNeeds *events_needs;

	bool		lists_read;
	uint64		nlists;
	Datum	   *lists;			/* the contact's non-NULL list values */
	Oid			list_collation;
	/* the contact's list rows, read when a list condition filters them */
	bool		list_rows_read;
	uint64		nlist_rows;
	HeapTuple  *list_rows;
	TupleDesc	lists_desc;

	bool		members_read;
	int			nmembers;
	EvalMember *members;		/* the contact's memberships, by segment id */
	int			members_space;

	/* segments it was included in by hand, and (negated) excluded from */
	bool		overrides_read;
	int			noverrides;
	int64	   *overrides;
} EvalContact;

/*
 * What evaluating some rules needs of one event source's events: the
 * kinds they count, whether they read other columns than the kind and the
 * time, and the earliest time they count unless some rule counts events of
 * any time.
 */
typedef struct EventNeeds
{
	List	   *kinds;			/* of char *, each once; NIL: none */
	bool		event_columns;	/* where clauses or aggregates read others */
	bool		any_time;
	TimestampTz since;			/* when kinds and not any_time */
} EventNeeds;

/*
 * What evaluating some rules needs of a contact's data: its row (a rule
 * reads a field or has a tenant; else only whether it exists), its lists
 * (the values, or the rows when a list condition filters them),
 * its memberships ("in segment"), its overrides (of segments whose
 * members were included or excluded by hand), and the events of each
 * source its rules count.  Zeroed, it needs nothing.
 */
typedef struct EvalNeeds
{
	bool		fields;
	bool		lists;
	bool		list_rows;		/* a list condition has a where clause or a window */
	bool		members;
	bool		overrides;		/* segments.include() and exclude()'s */
	bool		events;			/* some rule counts events: sources says which */
	int			nsources;
	EventNeeds *sources;		/* per event source, nsources of them */
} EvalNeeds;


/*
 * Prepared, kept SPI plans reading contacts' data: made on first use for
 * one Attachments (att->plans) and freed when rule_load_attachments()
 * replaces those attachments.
 */
typedef struct ContactPlans ContactPlans;

extern void contact_free_plans(ContactPlans *plans);

/*
 * The data of n contacts (keys, of the contact key's type) that needs
 * asks for, each query reading the whole chunk, allocated in cxt (SPI
 * connected by the caller).  latest: with the latest snapshot (the write
 * path, which holds the contacts' turns), else read-only with the caller's.
 * rows: read the contacts' rows (false: the caller knows them).
 */
typedef struct ContactChunk ContactChunk;

extern ContactChunk *contact_chunk_read(Attachments *att, const Datum *keys, int n,
										const EvalNeeds *needs, bool rows, bool latest,
										MemoryContext cxt);

/*
 * Set up c for the chunk's i-th contact, c allocating in cxt; returns
 * whether it exists (false too when the chunk did not read rows).
 */
extern bool contact_chunk_contact(ContactChunk *chunk, int i, EvalContact *c, MemoryContext cxt);

/*
 * Read the events needs asks for (its kinds, from its time) only when a
 * rule first counts them, with the latest snapshot: a contact whose
 * rules are decided before (score >= 70 and event ...) costs no query.
 * needs must live as long as c.
 */
extern void contact_defer_events(EvalContact *c, const EvalNeeds *needs);

/* Give c the contact's row as the caller knows it (NULL: none). */
extern bool contact_set_row(EvalContact *c, HeapTuple row, TupleDesc desc);

/* The attribute number of a column, which the row must have. */
extern int	contact_column(TupleDesc desc, const char *column);

/* The type of a column of an attached table. */
extern Oid	contact_column_type(const AttachedTable *t, const char *column);

/*
 * Hash tables keyed by contact keys (a Datum of the key's base type,
 * first in each entry), hashed and compared by the type's own functions.
 * contact_key_type errors out when the type has no hash function.
 */
extern TypeCacheEntry *contact_key_type(Attachments *att);
extern HTAB *contact_key_table(TypeCacheEntry *type, Size entrysize, long nelem,
							   MemoryContext cxt);

#endif							/* SEGMENTS_CONTACT_DATA_H */
