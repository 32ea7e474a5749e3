#!/usr/bin/env bash
# Test of segments.tick() scheduled by pg_cron, without segments in
# shared_preload_libraries (so without the tick worker).
#
#   sudo test/scripts/cron.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# pg_cron is Debian's package postgresql-15-cron, which scripts/setup.sh
# installs; when it is missing this script runs scripts/setup.sh, and fails
# (does not skip) when pg_cron still cannot be installed.
#
# Starts a throwaway PostgreSQL 15 cluster (user postgres, a free port, a
# temporary directory removed on exit) with
#
#   shared_preload_libraries  = pg_cron
#   cron.database_name        = segcron
#   cron.use_background_workers = on     (jobs run in background workers, not
#                                         through libpq connections)
#
# creates the extensions pg_cron and segments in segcron, a small schema and
# a contact with an 'opened' event 55 seconds ago, a member of "event
# 'opened' within last 1 minute", and schedules
#
#   SELECT cron.schedule('segments-tick', SCHEDULE, 'SELECT segments.tick()')
#
# with SCHEDULE '1 seconds' on pg_cron 1.5 and later and '* * * * *' (every
# minute, the finest schedule before 1.5) on older versions.  Never calling
# segments.tick() itself, it waits until the contact has left with cause
# 'time' in segments.membership_log, checks that cron.job_run_details has a
# succeeded run of the job, then unschedules it.
#
# Prints a summary line; exits 0 when all holds, 1 with a message otherwise.
# Takes about 10 seconds with pg_cron 1.5 or later, up to about 75 with
# pg_cron 1.4 (Debian 12's), whose job runs at the start of each minute.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/cron.sh" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin
db=segcron
started_at=$(date +%s)

installed() {
	local share
	[ -x "$PGBIN/pg_config" ] || return 1
	share=$("$PGBIN/pg_config" --sharedir)
	[ -f "$share/extension/segments.control" ] && [ -f "$share/extension/pg_cron.control" ]
}
# test/run.sh's setup installs both; alone, install what is missing.
if ! installed; then
	if ! "$root/scripts/setup.sh" || ! installed; then
		echo "cron: FAILED: pg_cron (Debian package postgresql-15-cron) or segments could not be installed; see scripts/setup.sh's output above"
		exit 1
	fi
fi

. "$root/scripts/cluster.sh"
# The pg_cron launcher cannot connect until segcron exists: it exits and the
# postmaster restarts it a second later, until the database is created below.
cluster_start cron -c shared_preload_libraries=pg_cron -c cron.database_name=$db \
	-c cron.use_background_workers=on -c fsync=off -c synchronous_commit=off || exit 1
log=$CLUSTER_DIR/server.log

psql_() { cluster_psql "$@"; }
value() { cluster_value "$db" "$1"; }
fail() { cluster_fail cron "$1"; }
wait_for() { cluster_wait_for "$db" "$1" "$2"; }

psql_ -d postgres -c "CREATE DATABASE $db"
psql_ -d "$db" -c "CREATE EXTENSION pg_cron" -c "CREATE EXTENSION segments"
[ "$(value "SELECT count(*) FROM pg_extension WHERE extname = 'segments'")" = 1 ] || fail "no extension segments"
if value "SHOW segments.tick_databases" >/dev/null 2>&1; then
	fail "segments.tick_databases exists: segments is preloaded, which this test is not about"
fi

# pg_cron 1.5 and later take schedules in seconds; before, every minute.
version=$(value "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")
if value "SELECT (string_to_array(split_part('$version', '-', 1), '.')::int[]) >= '{1,5}'" | grep -q t; then
	schedule='1 seconds'
	timeout=30
else
	schedule='* * * * *'
	timeout=75
	# The contact leaves 5 seconds after its event is written: write it at
	# least 8 seconds before the start of a minute, so that the job's next
	# run finds it due.
	wait=$(value "SELECT ceil(extract(second FROM clock_timestamp()))::int")
	if [ "$wait" -gt 52 ]; then
		sleep $((61 - wait))
	fi
fi

psql_ -d "$db" >/dev/null <<'SQL'
CREATE TABLE public.contacts (id bigint PRIMARY KEY, email text);
CREATE TABLE public.events (contact_id bigint, kind text, at timestamptz);
SELECT segments.attach_contacts('public.contacts', key => 'id');
SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'at');
INSERT INTO public.contacts VALUES (1, 'a@example.com');
INSERT INTO public.events VALUES (1, 'opened', now() - interval '55 seconds');
SELECT segments.create_segment('Opened this minute', 'event ''opened'' within last 1 minute');
SQL
segment=$(value "SELECT id FROM segments.segment WHERE name = 'Opened this minute'")
[ "$(value "SELECT count(*) FROM segments.membership WHERE segment_id = $segment AND contact = 1")" = 1 ] ||
	fail "contact 1 is not a member right after create_segment"

job=$(value "SELECT cron.schedule('segments-tick', '$schedule', 'SELECT segments.tick()')")
[ -n "$job" ] || fail "cron.schedule returned nothing"

wait_for "$timeout" "SELECT NOT EXISTS (SELECT FROM segments.membership WHERE segment_id = $segment AND contact = 1)
	AND EXISTS (SELECT FROM segments.membership_log
		WHERE segment_id = $segment AND contact = 1 AND NOT joined AND cause = 'time')" ||
	fail "contact 1 did not leave with cause 'time' within $timeout seconds; the job's runs: $(value "SELECT string_agg(format('%s %s %s', start_time, status, return_message), '; ') FROM cron.job_run_details WHERE jobid = $job")"
left_after=$(value "SELECT round(extract(epoch FROM l.at - e.at)::numeric, 1)
	FROM segments.membership_log l, public.events e
	WHERE l.contact = 1 AND NOT l.joined AND e.contact_id = 1")

# cron.job_run_details records the job's runs once they finish.
wait_for 10 "SELECT EXISTS (SELECT FROM cron.job_run_details WHERE jobid = $job AND status = 'succeeded')" ||
	fail "cron.job_run_details has no succeeded run of the job: $(value "SELECT string_agg(format('%s %s', status, return_message), '; ') FROM cron.job_run_details WHERE jobid = $job")"
runs=$(value "SELECT count(*) FROM cron.job_run_details WHERE jobid = $job AND status = 'succeeded'")
failed_runs=$(value "SELECT count(*) FROM cron.job_run_details WHERE jobid = $job AND status = 'failed'")
[ "$failed_runs" = 0 ] ||
	fail "$failed_runs runs of the job failed: $(value "SELECT string_agg(DISTINCT return_message, '; ') FROM cron.job_run_details WHERE jobid = $job AND status = 'failed'")"

[ "$(value "SELECT cron.unschedule('segments-tick')")" = t ] || fail "cron.unschedule('segments-tick') did not return true"
[ "$(value "SELECT count(*) FROM cron.job")" = 0 ] || fail "cron.job is not empty after cron.unschedule"

if grep -E 'PANIC|terminated by signal|server process .* exited' "$log"; then
	fail "a server process crashed"
fi

echo "cron: ok: pg_cron $version, schedule '$schedule': contact 1 left ${left_after}s after its event, with cause 'time'; $runs succeeded runs; unscheduled; $(($(date +%s) - started_at)) s"
