/*
 * shard_task.h
 *	  A catalog change's work in each shard group of a Citus cluster
 *	  (shard_task.c).
 */
#ifndef SEGMENTS_SHARD_TASK_H
#define SEGMENTS_SHARD_TASK_H

#include "datatype/timestamp.h"

/*
 * Run a task ("build" of segment_id, "tick") in every shard group of the
 * cluster, on its node, in this transaction, at the rules' clock; returns
 * the sum of the groups' results (members built, changes made).
 */
extern int64 shard_task_run(const char *task, int64 segment_id, TimestampTz clock);

#endif
