/*
 * segments.c
 *	  The segments extension's module: dynamic contact segments kept
 *	  current inside PostgreSQL.  The rule type lives in rule_*.c.
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;
