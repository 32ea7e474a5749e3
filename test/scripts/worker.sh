#!/usr/bin/env bash
# Test of the tick worker: segments.tick() called in the background, with
# the real clock, by the worker of segments.tick_databases.
#
#   sudo test/scripts/worker.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# Starts a throwaway PostgreSQL 15 cluster (user postgres, a free port, a
# temporary directory removed on exit) with
#
#   shared_preload_libraries = segments
#   segments.tick_databases  = segtick    (a database that does not exist yet)
#   segments.tick_interval   = 1s
#
# and checks, never calling segments.tick() itself:
#
#   1. the worker of a database that does not exist fails to connect and is
#      restarted; once the database exists it shows in pg_stat_activity
#      (backend_type and application_name "segments tick worker").  The
#      database's default_transaction_isolation is serializable, which
#      segments.tick() refuses: the worker ticks at READ COMMITTED anyway;
#   2. while the extension is not installed it says so once in the log, and
#      once it is, that it found it;
#   3. a contact with an 'opened' event 55 seconds ago is a member of "event
#      'opened' within last 1 minute" and leaves by itself a few seconds
#      later, with a row of cause 'time' in segments.membership_log;
#   4. a tick that fails (a trigger on segments.tick_state raises while the
#      table public.tick_fail has a row) is logged with the worker's context
#      line, changes nothing, and does not stop the worker: the same process
#      applies the change due once the failure is gone, and after a reload
#      of the configuration and a pg_cancel_backend between ticks;
#   5. pg_ctl stop -m fast stops the server, the worker included, and the
#      server log holds no FATAL or PANIC line other than those expected
#      (the missing database of 1, the worker's termination at shutdown)
#      and no crash.
#
# Prints a summary line; exits 0 when all holds, 1 with a message otherwise.
# Takes about 20 seconds (the worker's restart after 1 takes up to 10).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/worker.sh" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin
db=segtick
started_at=$(date +%s)

. "$root/scripts/cluster.sh"
cluster_require_install

cluster_start worker -c shared_preload_libraries=segments -c segments.tick_databases=$db \
	-c segments.tick_interval=1s -c fsync=off -c synchronous_commit=off || exit 1
log=$CLUSTER_DIR/server.log

psql_() { cluster_psql "$@"; }
value() { cluster_value "$db" "$1"; }
fail() { cluster_fail worker "$1"; }
wait_for() { cluster_wait_for "$db" "$1" "$2"; }

# wait_for_log SECONDS PATTERN: poll until the server log (from offset
# log_from on) has a line matching the extended regular expression
wait_for_log() {
	local deadline=$(($(date +%s) + $1))
	while ! tail -c +"$((log_from + 1))" "$log" | grep -qE "$2"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# 1. The database does not exist yet: the worker could not connect.  Create
# it; the postmaster restarts the worker within 10 seconds.
# The database's default isolation level is not one segments.tick() accepts:
# the worker must run its ticks at READ COMMITTED all the same.  This
# script's own sessions do so through PGOPTIONS.
export PGOPTIONS="-c default_transaction_isolation=read\\ committed"
psql_ -d postgres -c "CREATE DATABASE $db"
psql_ -d postgres -c "ALTER DATABASE $db SET default_transaction_isolation = 'serializable'"
log_from=$(stat -c %s "$log")
wait_for 25 "SELECT EXISTS (SELECT FROM pg_stat_activity
	WHERE backend_type = 'segments tick worker' AND datname = current_database()
	AND application_name = 'segments tick worker')" ||
	fail "no worker in pg_stat_activity 25 seconds after the database was created"
worker_pid=$(value "SELECT pid FROM pg_stat_activity WHERE backend_type = 'segments tick worker'")

# 2. The extension is not installed: said once, however many ticks.
wait_for_log 10 "extension \"segments\" is not installed in database \"$db\"" ||
	fail "the worker did not log that the extension is not installed"
sleep 2.5
n=$(tail -c +"$((log_from + 1))" "$log" | grep -c "is not installed in database \"$db\"" || true)
[ "$n" -eq 1 ] || fail "the worker logged $n times (not once) that the extension is not installed"

# 3. The extension, a small schema, a contact who opened 55 seconds ago.
psql_ -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION segments;
CREATE TABLE public.contacts (id bigint PRIMARY KEY, email text);
CREATE TABLE public.events (contact_id bigint, kind text, at timestamptz);
SELECT segments.attach_contacts('public.contacts', key => 'id');
SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'at');
INSERT INTO public.contacts VALUES (1, 'a@example.com'), (2, 'b@example.com');
INSERT INTO public.events VALUES (1, 'opened', now() - interval '55 seconds');
SELECT segments.create_segment('Opened this minute', 'event ''opened'' within last 1 minute');
SQL
segment=$(value "SELECT id FROM segments.segment WHERE name = 'Opened this minute'")
[ "$(value "SELECT count(*) FROM segments.membership WHERE segment_id = $segment AND contact = 1")" = 1 ] ||
	fail "contact 1 is not a member right after create_segment"
wait_for_log 10 "extension \"segments\" found in database \"$db\"" ||
	fail "the worker did not log that it found the extension"

wait_for 30 "SELECT NOT EXISTS (SELECT FROM segments.membership WHERE segment_id = $segment AND contact = 1)
	AND EXISTS (SELECT FROM segments.membership_log
		WHERE segment_id = $segment AND contact = 1 AND NOT joined AND cause = 'time')" ||
	fail "contact 1 did not leave with cause 'time' within 30 seconds: $(value "SELECT string_agg(format('%s %s', CASE WHEN joined THEN 'join' ELSE 'leave' END, cause), ', ' ORDER BY id) FROM segments.membership_log WHERE contact = 1"); tick_state: $(value "SELECT * FROM segments.tick_state")"
left_after=$(value "SELECT round(extract(epoch FROM l.at - e.at)::numeric, 1)
	FROM segments.membership_log l, public.events e
	WHERE l.contact = 1 AND NOT l.joined AND e.contact_id = 1")

# 4. A failing tick.  Contact 2 opens 57 seconds ago (a write: joins at once),
# then every tick fails while public.tick_fail has a row.
psql_ -d "$db" >/dev/null <<'SQL'
CREATE TABLE public.tick_fail (reason text);
CREATE FUNCTION public.tick_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT FROM public.tick_fail) THEN
		RAISE EXCEPTION 'tick failure injected by worker.sh';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER tick_fail BEFORE UPDATE ON segments.tick_state
	FOR EACH ROW EXECUTE FUNCTION public.tick_fail();
INSERT INTO public.tick_fail VALUES ('on');
INSERT INTO public.events VALUES (2, 'opened', now() - interval '57 seconds');
SQL
[ "$(value "SELECT count(*) FROM segments.membership WHERE segment_id = $segment AND contact = 2")" = 1 ] ||
	fail "contact 2 is not a member after its event was inserted"
log_from=$(stat -c %s "$log")
wait_for_log 10 "ERROR: +tick failure injected by worker.sh" ||
	fail "no failed tick in the server log"
# Past the moment contact 2 should leave, it is still a member: the ticks
# fail and roll back.
wait_for 10 "SELECT now() > (SELECT at FROM public.events WHERE contact_id = 2) + interval '61 seconds'" ||
	fail "the clock did not move"
failed_from=$log_from
log_from=$(stat -c %s "$log")
wait_for_log 10 "ERROR: +tick failure injected by worker.sh" ||
	fail "no failed tick after contact 2 was due to leave"
log_from=$failed_from
[ "$(value "SELECT count(*) FROM segments.membership WHERE segment_id = $segment AND contact = 2")" = 1 ] ||
	fail "contact 2 left although every tick failed"
failures=$(tail -c +"$((log_from + 1))" "$log" | grep -c "ERROR: *tick failure injected by worker.sh" || true)
tail -c +"$((log_from + 1))" "$log" | grep -A 8 "ERROR: *tick failure injected" |
	grep -q "segments tick worker in database \"$db\"" ||
	fail "the failed tick's error has no context line naming the worker"

# The failure goes away, and the configuration is reloaded: the same worker
# applies the change.
psql_ -d "$db" -c "DELETE FROM public.tick_fail"
psql_ -d postgres -c "ALTER SYSTEM SET segments.tick_interval = '1500ms'" -c "SELECT pg_reload_conf()" >/dev/null
wait_for 15 "SELECT NOT EXISTS (SELECT FROM segments.membership WHERE segment_id = $segment AND contact = 2)
	AND EXISTS (SELECT FROM segments.membership_log
		WHERE segment_id = $segment AND contact = 2 AND NOT joined AND cause = 'time')" ||
	fail "contact 2 did not leave with cause 'time' after the failure was removed"
[ "$(value "SELECT pid FROM pg_stat_activity WHERE backend_type = 'segments tick worker'")" = "$worker_pid" ] ||
	fail "the worker was restarted (pid $worker_pid before the failed ticks)"

# A cancel between ticks (there is nothing to cancel) leaves the worker be.
cancelled_at=$(value "SELECT clock_timestamp()")
[ "$(value "SELECT pg_cancel_backend($worker_pid)")" = t ] || fail "pg_cancel_backend of the worker failed"
wait_for 10 "SELECT ticked_at > '$cancelled_at' FROM segments.tick_state" ||
	fail "no tick after pg_cancel_backend of the worker"
[ "$(value "SELECT pid FROM pg_stat_activity WHERE backend_type = 'segments tick worker'")" = "$worker_pid" ] ||
	fail "the worker was restarted after pg_cancel_backend"

# The interval's lower bound.
if psql_ -d postgres -c "ALTER SYSTEM SET segments.tick_interval = '500ms'" 2>/dev/null; then
	fail "segments.tick_interval accepted 500ms (the minimum is 1s)"
fi

# 5. A fast shutdown.
if ! runuser -u postgres -- "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" stop -m fast -w -t 30 >/dev/null; then
	fail "pg_ctl stop -m fast did not stop the server within 30 seconds"
fi
cluster_started=0
grep -q "database system is shut down" "$log" || fail "the server log does not say the server shut down"
if [ -n "$(runuser -u postgres -- "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" status 2>/dev/null | grep 'server is running' || true)" ]; then
	fail "the server still runs after pg_ctl stop"
fi
if kill -0 "$worker_pid" 2>/dev/null; then
	fail "the worker (pid $worker_pid) outlived the server"
fi
unexpected=$(grep -E 'FATAL|PANIC' "$log" |
	grep -vE "FATAL: +database \"$db\" does not exist|FATAL: +terminating background worker \"segments tick worker\" due to administrator command" || true)
[ -z "$unexpected" ] || fail "unexpected FATAL or PANIC lines in the server log:
$unexpected"
if grep -E 'terminated by signal|was terminated|server process .* exited' "$log"; then
	fail "a server process crashed"
fi
grep -q 'terminating background worker "segments tick worker" due to administrator command' "$log" ||
	fail "the worker's termination at shutdown is not in the server log"

echo "worker: ok: contact 1 left by itself ${left_after}s after its event, with cause 'time'; $failures failed ticks logged and survived by worker $worker_pid; clean fast shutdown; $(($(date +%s) - started_at)) s"
