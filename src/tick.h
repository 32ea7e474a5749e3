/*
 * tick.h
 *	  Time's changes (tick.c).
 */
#ifndef SEGMENTS_TICK_H
#define SEGMENTS_TICK_H

#include "datatype/timestamp.h"

#include "segment_cache.h"

/*
 * A tick's sweeps in one shard group of a Citus node, up to t1 (the
 * coordinator's clock): the contacts of the group at an edge time crossed
 * since each segment's swept_to, brought up to date; returns the joins
 * and leaves.  The coordinator records the sweep (segments.tick()).
 */
extern int64 tick_sweep_group(SegmentCache *cache, Attachments *group, TimestampTz t1);

#endif
