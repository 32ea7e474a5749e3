/*
 * contact_queue.h
 *	  A queue of contact keys whose memory stays flat however many keys
 *	  are queued: the latest ones are kept in a hash table, which drops
 *	  repeats; when it fills, they move to a sort that spills to disk past
 *	  work_mem.  Read back without repeats, in key order once it spilled.
 */
#ifndef SEGMENTS_CONTACT_QUEUE_H
#define SEGMENTS_CONTACT_QUEUE_H

#include "utils/typcache.h"

typedef struct ContactQueue ContactQueue;

/*
 * An empty queue of keys of type (contact_key_type()), allocated in cxt.
 * Its sort's temporary files belong to the top transaction: a queue
 * lives until the transaction ends, and must be freed before it commits.
 */
extern ContactQueue *contact_queue_create(TypeCacheEntry *type, MemoryContext cxt);

extern void contact_queue_add(ContactQueue *queue, Datum key);

/* Whether keys moved to the sort: a queue of many contacts. */
extern bool contact_queue_spilled(ContactQueue *queue);

/*
 * The keys queued: exact until the queue spills; then a key is counted
 * once for each hash table's worth of keys it was queued in.
 */
extern int64 contact_queue_count(ContactQueue *queue);

/*
 * Read the keys from the start: each key once, in key order if the queue
 * spilled.  A key returned is valid until the next call, or (a copy in
 * the caller's context, for a type passed by reference) until the
 * caller's context is reset.  Read to the end before adding again.
 */
extern void contact_queue_rewind(ContactQueue *queue);
extern bool contact_queue_next(ContactQueue *queue, Datum *key);

/* Release the sort and its temporary files. */
extern void contact_queue_free(ContactQueue *queue);

#endif							/* SEGMENTS_CONTACT_QUEUE_H */
