/*
 * contact_data.h
 *	  Reading contacts' data for evaluation (rule_eval.h): their rows,
 *	  events, lists and memberships, for a chunk of contacts at once, one
 *	  query per table; and hash tables keyed by contact keys.
 */
#ifndef SEGMENTS_CONTACT_DATA_H
#define SEGMENTS_CONTACT_DATA_H

#include "executor/spi.h"
#include "utils/hsearch.h"
#include "utils/typcache.h"

#include "rule_eval.h"

/*
 * A plan of query kept for the session, generic (SPI connected): the write
 * path's statements cost more to plan anew than to run.
 */
extern SPIPlanPtr keep_generic_plan(const char *query, int nargs, Oid *types);

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
