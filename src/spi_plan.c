/*
 * spi_plan.c
 *	  SPI plans the extension prepares once and keeps for the session.
 */
#include "postgres.h"

#include "executor/spi.h"

#include "spi_plan.h"

static SPIPlanPtr
keep_plan(const char *query, int nargs, Oid *types, int options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(query, nargs, types, options);

	if (plan == NULL || SPI_keepplan(plan) != 0)
		elog(ERROR, "could not prepare \"%s\": %s", query, SPI_result_code_string(SPI_result));
	return plan;
}

SPIPlanPtr
keep_generic_plan(const char *query, int nargs, Oid *types)
{
	return keep_plan(query, nargs, types, CURSOR_OPT_GENERIC_PLAN);
}

SPIPlanPtr
keep_custom_plan(const char *query, int nargs, Oid *types)
{
	return keep_plan(query, nargs, types, CURSOR_OPT_CUSTOM_PLAN);
}
