/*
 * spi_plan.h
 *	  SPI plans the extension prepares once and keeps for the session.
 */
#ifndef SEGMENTS_SPI_PLAN_H
#define SEGMENTS_SPI_PLAN_H

#include "executor/spi.h"

/*
 * A plan of query kept for the session, generic (SPI connected): the write
 * path's statements cost more to plan anew than to run.
 */
extern SPIPlanPtr keep_generic_plan(const char *query, int nargs, Oid *types);

/*
 * The same, planned again for each execution's arguments: Citus plans a
 * query of distributed tables only with the values of its parameters.
 */
extern SPIPlanPtr keep_custom_plan(const char *query, int nargs, Oid *types);

#endif							/* SEGMENTS_SPI_PLAN_H */
