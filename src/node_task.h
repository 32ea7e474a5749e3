/*
 * node_task.h
 *	  A catalog change's work on each node of a Citus cluster (node_task.c).
 */
#ifndef SEGMENTS_NODE_TASK_H
#define SEGMENTS_NODE_TASK_H

/*
 * Build a segment on every node, each in its shard groups, at this
 * transaction's clock (rule_now()); returns its members, counted over the
 * cluster.
 */
extern int64 node_task_build(int64 segment_id);

#endif
