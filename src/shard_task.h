/*
 * shard_task.h
 *	  A catalog change's work in each shard group of a Citus cluster
 *	  (shard_task.c).
 */
#ifndef SEGMENTS_SHARD_TASK_H
#define SEGMENTS_SHARD_TASK_H

#include "datatype/timestamp.h"

#include "rule_check.h"

/*
 * Run a task ("build", "apply" or "drop" of segment_id, logged with cause;
 * "tick") in every shard group of the cluster, on its node, in this
 * transaction, at the rules' clock; returns the sum of the groups' results
 * (members built, changes made).
 */
extern int64 shard_task_run(const char *task, int64 segment_id, TimestampTz clock, const char *cause);

/*
 * Bring a contact's membership of a segment (and of those using it) up to
 * date in its shard group, after an override; returns the joins and
 * leaves.
 */
extern int64 shard_task_contact(const Attachments *att, int64 segment_id, Datum key);

#endif
