/*
 * citus.h
 *	  Citus: whether it is installed, and this node's shard groups (citus.c).
 */
#ifndef SEGMENTS_CITUS_H
#define SEGMENTS_CITUS_H

#include "rule_check.h"

/* Whether the extension citus is installed in this database. */
extern bool citus_installed(void);

/*
 * Around a read of the extension's catalog, a set of reference tables on a
 * Citus cluster, where the read may run inside a shard's query (a policy
 * of the membership on a worker): Citus refuses a query of a Citus table
 * there unless told it may nest; a reference table's copy is on this node,
 * and the read stays local.  begin returns what end takes (-1: nothing to
 * undo).
 */
extern int	citus_catalog_read_begin(void);
extern void citus_catalog_read_end(int level);

/* Whether relid is a distributed table of Citus (not a reference table). */
extern bool citus_distributed(Oid relid);

/*
 * The shard group of relid, a shard of one of the attached tables on this
 * node: att localized to the group's shards, kept with att.  NULL when
 * relid is no such shard (or the contacts are not distributed).
 */
extern Attachments *citus_shard_group(Attachments *att, Oid relid);

/* The shard groups of the contacts' shards on this node (NIL unless distributed). */
extern List *citus_local_shard_groups(Attachments *att);

#endif
