#!/usr/bin/env bash
# A physical standby: it serves membership, previews, counts, the change
# feed and histories; tick() there says it cannot run, and the tick worker
# waits for promotion.
#
#   sudo test/scripts/standby.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# A primary on a throwaway cluster (the tick worker preloaded, ticking the
# database ops every second), set up by test/ops/every_kind.sql; a standby
# made by pg_basebackup -R, streaming from it, with the same settings.
# Checked on the standby, once a change made on the primary has reached
# it: the membership equals the primary's, preview, preview_count,
# verify_segment, stats, segments.members, changes() and history() answer;
# segments.tick() fails with SQLSTATE 25006 and a hint to run it on the
# primary; no tick worker runs.  Then the standby is promoted and its
# worker ticks.
#
# Prints a summary line; exits 0 when all holds, 1 otherwise.  Takes about
# 20 seconds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/standby.sh" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin
db=ops

. "$root/scripts/cluster.sh"
cluster_require_install

settings=(-c shared_preload_libraries=segments -c segments.tick_databases=$db -c segments.tick_interval=1s
	-c fsync=off)
cluster_start standby "${settings[@]}" || exit 1
primary_port=$PGPORT

standby_dir=$CLUSTER_DIR/standby

psql_() { cluster_psql "$@"; }
fail() { cluster_fail standby "$1"; }
on_primary() { PGPORT=$primary_port cluster_value "$db" "$1"; }
on_standby() { PGPORT=$standby_port cluster_value "$db" "$1"; }

psql_ -d postgres -c "CREATE DATABASE $db"
psql_ -d "$db" -c "CREATE EXTENSION segments"
psql_ -d "$db" -v contacts=2000 -v events=20000 -v tenants=4 -f "$root/test/ops/every_kind.sql" >/dev/null ||
	fail "setting up the primary"

runuser -u postgres -- "$PGBIN/pg_basebackup" -h "$CLUSTER_DIR" -p "$primary_port" -U postgres \
	-D "$standby_dir" -R -X stream --checkpoint=fast >/dev/null 2>&1 || fail "pg_basebackup"
standby_port=$("$root/scripts/free_port.sh") || fail "no free port for the standby"
cluster_also "$standby_dir"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$standby_dir" -l "$standby_dir.log" -w -t 60 \
	-o "-c listen_addresses='' -k $CLUSTER_DIR -p $standby_port ${settings[*]}" start >/dev/null 2>&1 ||
	fail "the standby did not start"
[ "$(on_standby "SELECT pg_is_in_recovery()")" = t ] || fail "the standby is not in recovery"

# a change on the primary, then wait for it on the standby
psql_ -d "$db" -c "UPDATE contacts SET country = 'US' WHERE id = 3"
lsn=$(on_primary "SELECT pg_current_wal_lsn()")
PGPORT=$standby_port cluster_wait_for "$db" 30 "SELECT pg_last_wal_replay_lsn() >= '$lsn'" ||
	fail "the standby did not replay the primary's change"

members="SELECT md5(string_agg(segment_id || ':' || contact, ',' ORDER BY segment_id, contact)) FROM segments.membership"
[ "$(on_standby "$members")" = "$(on_primary "$members")" ] || fail "the standby's membership differs from the primary's"

reads=(
	"SELECT count(*) > 0 FROM segments.preview('country = ''US''', 10)"
	"SELECT segments.preview_count('country = ''US''') > 0"
	"SELECT (SELECT missing + extra FROM segments.verify_segment('US')) = 0"
	"SELECT count(*) > 0 FROM segments.stats WHERE last_tick IS NOT NULL"
	"SELECT count(*) > 0 FROM segments.members WHERE name = 'US'"
	"SELECT count(*) = 100 FROM segments.changes(NULL, 100)"
	"SELECT count(*) > 0 FROM segments.history('US')"
	"SELECT count(*) > 0 FROM segments.size_history('US', date_trunc('minute', now()) - interval '1 day', now(), '1 hour')"
)
for q in "${reads[@]}"; do
	got=$(on_standby "$q" 2>&1) || fail "on the standby: $q: $got"
	[ "$got" = t ] || fail "on the standby: $q returned $got"
done

out=$(PGPORT=$standby_port "$PGBIN/psql" -X -d "$db" -At -v VERBOSITY=verbose -c "SELECT segments.tick()" 2>&1 || true)
case $out in
	*"25006"*"segments.tick() cannot run on a standby"*"Run segments.tick()"*"on the primary"*) ;;
	*) fail "tick() on the standby: $out" ;;
esac
[ "$(on_standby "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'segments tick worker'")" = 0 ] ||
	fail "a tick worker runs on the standby"

# promoted, the standby ticks by itself
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$standby_dir" promote -w >/dev/null || fail "promote"
PGPORT=$standby_port cluster_wait_for "$db" 30 \
	"SELECT max(ticked_at) > now() - interval '5 seconds' FROM segments.tick_state" ||
	fail "the promoted standby's worker did not tick"

echo "standby: membership as the primary's; preview, counts, verify, stats, members, the feed and histories served; tick() refused (25006); the worker ticks once promoted"
