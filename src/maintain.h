/*
 * maintain.h
 *	  Membership follows writes: the triggers of the attached tables.
 */
#ifndef SEGMENTS_MAINTAIN_H
#define SEGMENTS_MAINTAIN_H

#include "nodes/bitmapset.h"

#include "contact_queue.h"
#include "rule_check.h"

/* Register the transaction callbacks that reset the queue (_PG_init). */
extern void maintain_init(void);

/*
 * Take the writers' lock shared, as a writer does: catalog changes wait for
 * the holder, and the holder for them.
 */
extern void maintain_writers_lock(void);

/*
 * A shard task (shard_task.c) runs in this backend, for a transaction that
 * holds the writers' lock on its coordinator (and, for a catalog change,
 * on this node, maybe in another of its backends here): the maintenance it
 * does takes no writers' lock of its own, which would wait for that
 * transaction's.
 */
extern void maintain_in_shard_task(bool on);

/*
 * Take the writers' lock exclusively, as a catalog change does: writers
 * under way are waited for, new ones wait for this transaction's end.
 */
extern void maintain_catalog_lock(void);

/* Take every contact's turn (what TRUNCATE and DDL do). */
extern void maintain_take_all_turns(void);

/*
 * Take the turn of every contact of a shard group on a Citus node (what a
 * catalog change's apply or drop does there): writers of the group's
 * contacts take theirs in the group's own space.
 */
extern void maintain_take_group_turns(Attachments *group);

/*
 * Bring segments (indexes into segment_cache_get(), with their dependents)
 * up to date for the queued contacts at once, as a commit does for a
 * write's, taking their turns; joins and leaves are logged with cause.
 * att: the tables, a shard group's on a Citus node (citus.h), NULL for
 * the cache's.  Returns their number, and sets *evaluated to the contacts
 * evaluated.
 */
extern int64 maintain_apply(Attachments *att, Bitmapset *segments, ContactQueue *contacts,
							const char *cause, int64 *evaluated);

#endif							/* SEGMENTS_MAINTAIN_H */
