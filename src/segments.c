/*
 * segments.c
 *	  The segments extension's module: dynamic contact segments kept
 *	  current inside PostgreSQL.  The rule type lives in rule_*.c.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "maintain.h"
#include "rule_time.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	rule_time_init();
	maintain_init();
	worker_init();
	MarkGUCPrefixReserved("segments");
}
