/*
 * citus.h
 *	  Citus: whether it is installed, and this node's shard groups (citus.c).
 */
#ifndef SEGMENTS_CITUS_H
#define SEGMENTS_CITUS_H

#include "rule_check.h"

/* Whether the extension citus is installed in this database. */
extern bool citus_installed(void);

/* Whether relid is a distributed table of Citus (not a reference table). */
extern bool citus_distributed(Oid relid);

/*
 * The shard group of relid, a shard of one of the attached tables on this
 * node: att localized to the group's shards, kept with att.  NULL when
 * relid is no such shard (or Citus is not installed).
 */
extern Attachments *citus_shard_group(Attachments *att, Oid relid);

/* The shard groups of the contacts' shards on this node (NIL without Citus). */
extern List *citus_local_shard_groups(Attachments *att);

#endif
