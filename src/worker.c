/*
 * worker.c
 *	  The tick worker: with segments in shared_preload_libraries, one
 *	  background worker per database named in segments.tick_databases calls
 *	  segments.tick() every segments.tick_interval.
 *
 * The workers are static: _PG_init registers them in the postmaster, one
 * per listed database, so the list is read at server start only.  A worker
 * starts once the server accepts connections (on a standby: once it is
 * promoted), connects to its database as the bootstrap superuser or as
 * segments.tick_role, and loops:
 *
 *	 - each tick is a transaction of its own, at READ COMMITTED whatever the
 *	   database's default (segments.tick() refuses other levels): it looks
 *	   the extension up in pg_extension (one index probe) and, when it is
 *	   there, runs SELECT segments.tick().  While the extension is missing
 *	   the worker says so once, at LOG level, and looks again at every
 *	   interval;
 *	 - an error in a tick is logged (with a context line naming the worker
 *	   and its database), the transaction is rolled back and the worker
 *	   waits for the next interval: one bad tick does not stop the next;
 *	 - ticks start every tick_interval, counted from the start of the last
 *	   one (a tick longer than the interval is followed by the next at
 *	   once); SIGHUP rereads the configuration, so a new interval applies
 *	   from the last tick's start;
 *	 - SIGTERM (a fast or smart shutdown, pg_terminate_backend) ends it at
 *	   the next interrupt check, a running tick included, which is rolled
 *	   back; the postmaster restarts a worker that exited with an error
 *	   (pg_terminate_backend and a crash included) after
 *	   WORKER_RESTART_SECONDS, and one whose database does not exist (yet)
 *	   likewise, with a FATAL line each time.
 *
 * In pg_stat_activity a worker shows with backend_type "segments tick
 * worker", application_name likewise, and SELECT segments.tick() as its
 * query while a tick runs.
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "worker.h"

/* bgw_type, and application_name */
#define WORKER_TYPE "segments tick worker"

/* segments.tick_databases lists at most this many databases */
#define WORKER_MAX_DATABASES 32

/* the postmaster restarts a worker that exited with an error after this */
#define WORKER_RESTART_SECONDS 10

#define TICK_QUERY "SELECT segments.tick()"

PGDLLEXPORT void segments_tick_worker_main(Datum main_arg);

/* settings */
static int	tick_interval = 60000;	/* milliseconds */
static char *tick_databases = NULL;
static char *tick_role = NULL;

/* whether the extension was there at the last look */
typedef enum ExtensionState
{
	EXTENSION_UNKNOWN,
	EXTENSION_MISSING,
	EXTENSION_INSTALLED
} ExtensionState;

/*
 * Split a segments.tick_databases value into database names (SQL
 * identifiers: lower-cased unless double-quoted).  On a bad value, returns
 * false with *detail set.
 */
static bool
split_databases(const char *value, List **names, const char **detail)
{
	char	   *raw = pstrdup(value != NULL ? value : "");
	ListCell   *a;

	if (!SplitIdentifierString(raw, ',', names))
	{
		*detail = "List syntax is invalid.";
		return false;
	}
	if (list_length(*names) > WORKER_MAX_DATABASES)
	{
		*detail = psprintf("At most %d databases can be listed.", WORKER_MAX_DATABASES);
		return false;
	}
	foreach(a, *names)
	{
		ListCell   *b;

		for_each_cell(b, *names, lnext(*names, a))
			if (strcmp(lfirst(a), lfirst(b)) == 0)
			{
				*detail = psprintf("Database \"%s\" is listed twice.", (char *) lfirst(a));
				return false;
			}
	}
	return true;
}

static bool
check_tick_databases(char **newval, void **extra, GucSource source)
{
	List	   *names = NIL;
	const char *detail = NULL;

	if (!split_databases(*newval, &names, &detail))
	{
		GUC_check_errdetail("%s", detail);
		return false;
	}
	list_free(names);
	return true;
}

/* Register one worker per database of segments.tick_databases. */
static void
register_workers(void)
{
	List	   *names = NIL;
	const char *detail = NULL;
	ListCell   *lc;

	if (!split_databases(tick_databases, &names, &detail))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("invalid value for parameter \"segments.tick_databases\""),
				errdetail("%s", detail));

	foreach(lc, names)
	{
		const char *dbname = lfirst(lc);
		BackgroundWorker worker;

		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = WORKER_RESTART_SECONDS;
		strlcpy(worker.bgw_library_name, "segments", BGW_MAXLEN);
		strlcpy(worker.bgw_function_name, "segments_tick_worker_main", BGW_MAXLEN);
		snprintf(worker.bgw_name, BGW_MAXLEN, WORKER_TYPE " for database %s", dbname);
		strlcpy(worker.bgw_type, WORKER_TYPE, BGW_MAXLEN);
		/* the database's name; SplitIdentifierString kept it < NAMEDATALEN */
		StaticAssertStmt(NAMEDATALEN <= BGW_EXTRALEN, "a database name must fit in bgw_extra");
		strlcpy(worker.bgw_extra, dbname, BGW_EXTRALEN);
		worker.bgw_main_arg = (Datum) 0;
		worker.bgw_notify_pid = 0;
		RegisterBackgroundWorker(&worker);
	}
	list_free(names);
}

void
worker_init(void)
{
	DefineCustomIntVariable("segments.tick_interval",
							"Sets the time between two calls of segments.tick() by the tick worker.",
							"Read by the workers of segments.tick_databases; each tick starts this long "
							"after the start of the last one.",
							&tick_interval,
							60000,
							1000,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL,
							NULL,
							NULL);

	/* PGC_POSTMASTER settings can only be defined at server start */
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomStringVariable("segments.tick_databases",
							   "Lists the databases in which a background worker calls segments.tick().",
							   "Comma-separated database names, read as SQL identifiers (lower-cased "
							   "unless double-quoted).  Empty: no worker.  Needs segments in "
							   "shared_preload_libraries.",
							   &tick_databases,
							   "",
							   PGC_POSTMASTER,
							   0,
							   check_tick_databases,
							   NULL,
							   NULL);

	DefineCustomStringVariable("segments.tick_role",
							   "Sets the role the tick workers connect as.",
							   "Empty: the bootstrap superuser.  The role needs LOGIN and USAGE on "
							   "schema segments.",
							   &tick_role,
							   "",
							   PGC_POSTMASTER,
							   0,
							   NULL,
							   NULL,
							   NULL);

	register_workers();
}

/* The context line of a tick's errors. */
static void
tick_error_context(void *arg)
{
	errcontext("segments tick worker in database \"%s\"", (const char *) arg);
}

/*
 * One tick, in a transaction of its own: segments.tick() when the extension
 * is installed.  An error is logged and rolled back.
 */
static void
run_tick(const char *dbname, ExtensionState *state)
{
	MemoryContext cxt = CurrentMemoryContext;
	ErrorContextCallback errcb;
	volatile bool ok = false;
	volatile bool installed = false;
	volatile int64 changes = 0;

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		errcb.callback = tick_error_context;
		errcb.arg = (void *) dbname;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		PushActiveSnapshot(GetTransactionSnapshot());

		installed = OidIsValid(get_extension_oid("segments", true));
		if (installed)
		{
			bool		isnull;

			pgstat_report_activity(STATE_RUNNING, TICK_QUERY);
			debug_query_string = TICK_QUERY;
			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			if (SPI_execute(TICK_QUERY, false, 0) != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "%s did not return one row", TICK_QUERY);
			changes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			SPI_finish();
		}

		PopActiveSnapshot();
		error_context_stack = errcb.previous;
		CommitTransactionCommand();
		ok = true;
	}
	PG_CATCH();
	{
		/* PG_CATCH has restored error_context_stack */
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();

	debug_query_string = NULL;
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (!ok)
		return;

	if (!installed && *state != EXTENSION_MISSING)
		ereport(LOG,
				errmsg("segments tick worker: extension \"segments\" is not installed in database \"%s\"; waiting for it",
					   dbname),
				errhint("Run CREATE EXTENSION segments in that database, or remove it from segments.tick_databases."));
	else if (installed && *state == EXTENSION_MISSING)
		ereport(LOG,
				errmsg("segments tick worker: extension \"segments\" found in database \"%s\"; ticking",
					   dbname));
	*state = installed ? EXTENSION_INSTALLED : EXTENSION_MISSING;
	if (installed)
		elog(DEBUG1, "segments tick worker: segments.tick() in database \"%s\" wrote " INT64_FORMAT " joins and leaves",
			 dbname, (int64) changes);
}

/* The worker's entry point (bgw_function_name). */
void
segments_tick_worker_main(Datum main_arg)
{
	char		dbname[NAMEDATALEN];
	ExtensionState state = EXTENSION_UNKNOWN;
	TimestampTz last = 0;
	bool		first = true;

	strlcpy(dbname, MyBgworkerEntry->bgw_extra, sizeof(dbname));

	/* SIGTERM: end at the next CHECK_FOR_INTERRUPTS; SIGHUP: reload */
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(dbname,
										 tick_role != NULL && tick_role[0] != '\0' ? tick_role : NULL,
										 0);

	/*
	 * segments.tick() runs only under READ COMMITTED: override any other
	 * default the database or role may set.
	 */
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", WORKER_TYPE, PGC_USERSET, PGC_S_SESSION);

	ereport(LOG,
			errmsg("segments tick worker started in database \"%s\", ticking every %d ms",
				   dbname, tick_interval));

	for (;;)
	{
		TimestampTz now;
		TimestampTz due;

		/*
		 * A cancel (pg_cancel_backend) is for a running tick, where it is an
		 * error like any other; between ticks there is nothing to cancel, and
		 * here, outside run_tick's PG_TRY, it would end the worker.
		 */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		now = GetCurrentTimestamp();
		if (now < last)
			last = now;			/* the clock went back */
		due = TimestampTzPlusMilliseconds(last, tick_interval);
		if (first || now >= due)
		{
			first = false;
			last = now;
			run_tick(dbname, &state);
			continue;
		}

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 TimestampDifferenceMilliseconds(now, due),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
