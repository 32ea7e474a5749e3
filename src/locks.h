/*
 * locks.h
 *	  The heavyweight locks segments takes, each named once.
 *
 * All are advisory lock tags of the current database in classes of their
 * own (the tag's fourth field, which pg_locks shows as objsubid):
 * pg_advisory_lock() and its kin use classes 1 and 2 only, so no role can
 * take or hold these from SQL to stall writers, catalog changes or ticks.
 * Being heavyweight locks, their waits are seen by the deadlock detector
 * and end at lock_timeout and statement_timeout.
 *
 *	 class 3  a bucket of contacts' turns (key: SEGMENTS_LOCK_KEY, bucket)
 *	 class 4  one contact's turn (key: the contact key's 64-bit hash)
 *	 class 5  the writers' lock (SEGMENTS_LOCK_KEY, 0) and the tick lock
 *			  (SEGMENTS_LOCK_KEY, 1)
 *	 class 6  a transaction writing the log (key: the 64-bit log id below
 *			  which it writes nothing; change_feed.c)
 *	 class 7  on a Citus node, a bucket of the turns of a shard group's
 *			  contacts (key: the contacts' shard, bucket): a distributed
 *			  transaction works on a node over several connections, one
 *			  for each shard group it touched, which must not share turns
 *
 * Citus takes advisory locks of classes 4 to 16 too, with a first key of
 * 0 (a shard id's high half): they meet ours only where a 64-bit key of
 * ours has a high half of 0.  In class 4 (a contact's hash: one chance in
 * 2^32 a contact) one would wait for the other; in class 6 (the log's ids
 * on a server or a coordinator) a Citus job's lock would make the feed's
 * watermark lower for a while (change_feed.c), never higher.
 */
#ifndef SEGMENTS_LOCKS_H
#define SEGMENTS_LOCKS_H

#include "storage/lock.h"

/* 'segs': the first key of the locks that are not per contact */
#define SEGMENTS_LOCK_KEY 1936025971

#define TURN_BUCKET_CLASS 3
#define TURN_CONTACT_CLASS 4
#define SEGMENTS_LOCK_CLASS 5
#define LOG_WRITER_CLASS 6
#define TURN_GROUP_BUCKET_CLASS 7

#define WRITERS_LOCK_KEY2 0
#define TICK_LOCK_KEY2 1

#define SET_LOCKTAG_SEGMENTS(tag, key1, key2, class) \
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, key1, key2, class)

#endif							/* SEGMENTS_LOCKS_H */
