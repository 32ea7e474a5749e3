#!/usr/bin/env bash
# The Node.js consumer (examples/node) against concurrent writers: every
# change of membership is processed exactly once, through a kill -9.
#
#   sudo test/scripts/node_consumer.sh   (test/run.sh runs it, as every test/scripts/*.sh)
#
# On a throwaway cluster with 300 contacts and four segments, starts the
# consumer, then for NODE_SECONDS (default 20) runs writers at once:
# single-row and multi-row updates, long transactions (two seconds open
# after their writes, flushed or not), transactions and savepoints rolled
# back after a flush, and segments created, altered and dropped.  Midway
# the consumer is killed (SIGKILL) and started again.  When the writers
# are done and the consumer has caught up, it checks that
#
#   * the changes processed are the log's, each exactly once (same rows,
#     no repeats, none missing);
#   * replaying them gives the current membership of every segment.
#
# scripts/setup.sh --node installs Node.js and npm (Debian's, when missing)
# and the example's dependencies from npm.  Prints a summary line; exits 0
# when all holds, 1 with a message otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/node_consumer.sh" NODE_SECONDS="${NODE_SECONDS:-20}" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin
db=segfeed
seconds=${NODE_SECONDS:-20}
example=$root/examples/node

if [ ! -d "$example/node_modules/pg" ] || ! command -v node >/dev/null ||
	[ ! -f "$("$PGBIN/pg_config" --sharedir)/extension/segments.control" ]; then
	"$root/scripts/setup.sh" --node
fi

. "$root/scripts/cluster.sh"
cluster_start node -c fsync=off -c synchronous_commit=off -c max_connections=40 || exit 1
psql_() { cluster_psql "$@"; }
value() { cluster_value "$db" "$1"; }
fail() { cluster_fail node_consumer "$1"; }

psql_ -d postgres -c "CREATE DATABASE $db"
psql_ -d "$db" >/dev/null <<'SQL'
CREATE EXTENSION segments;
CREATE TABLE contacts (id bigint PRIMARY KEY, country text, score int);
INSERT INTO contacts SELECT i, (ARRAY['US', 'FR', 'DE'])[1 + i % 3], i % 100 FROM generate_series(1, 300) AS i;
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT segments.create_segment('US', 'country = ''US''');
SELECT segments.create_segment('High', 'score >= 50');
SELECT segments.create_segment('US high', 'in segment ''US'' and in segment ''High''');
SELECT segments.create_segment('FR', 'country = ''FR''');
SQL

consumer_log=$CLUSTER_DIR/consumer.log
consumer_pid=
start_consumer() {
	(cd "$example" && exec runuser -u postgres -- env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
		PGDATABASE="$db" POLL_MS=500 BATCH=50 node consumer.js) >>"$consumer_log" 2>&1 &
	consumer_pid=$!
}
stop_consumer() {	# signal
	kill "-$1" "$consumer_pid" 2>/dev/null || true
	wait "$consumer_pid" 2>/dev/null || true
}
trap 'stop_consumer KILL; cluster_stop' EXIT

start_consumer
cluster_wait_for "$db" 20 "SELECT to_regclass('consumer_state') IS NOT NULL" ||
	fail "the consumer did not start: $(cat "$consumer_log")"

# writer NAME SQL: runs SQL again and again until the deadline, errors
# (deadlocks, serialization failures) ignored; counts its runs
deadline=$(($(date +%s) + seconds))
writer() {
	local sql=$2 n=0
	while [ "$(date +%s)" -lt "$deadline" ]; do
		psql_ -d "$db" -c "$sql" >/dev/null 2>&1 || true
		n=$((n + 1))
	done
	echo "$n" >"$CLUSTER_DIR/runs.$1"
}
r='(1 + floor(random() * 300))::bigint'
pids=()
writer single "UPDATE contacts SET country = (ARRAY['US', 'FR', 'DE'])[1 + floor(random() * 3)::int], score = floor(random() * 100) WHERE id = $r" &
pids+=($!)
writer multi "UPDATE contacts SET score = floor(random() * 100) WHERE id BETWEEN $r AND $r + 30" &
pids+=($!)
writer long "BEGIN; UPDATE contacts SET country = 'US' WHERE id = $r; SELECT segments.flush(); UPDATE contacts SET score = 99 WHERE id = $r; SELECT pg_sleep(2); COMMIT;" &
pids+=($!)
writer long_unflushed "BEGIN; UPDATE contacts SET country = 'FR' WHERE id IN ($r, $r); SELECT pg_sleep(1.5); COMMIT;" &
pids+=($!)
writer rolled_back "BEGIN; UPDATE contacts SET country = 'US', score = 75 WHERE id BETWEEN $r AND $r + 10; SELECT segments.flush(); SELECT pg_sleep(0.3); ROLLBACK;" &
pids+=($!)
writer savepoint "BEGIN; UPDATE contacts SET score = 10 WHERE id = $r; SAVEPOINT s; UPDATE contacts SET score = 90 WHERE id BETWEEN $r AND $r + 5; SELECT segments.flush(); ROLLBACK TO SAVEPOINT s; COMMIT;" &
pids+=($!)
writer catalog "SELECT segments.create_segment('Temp', 'score < 20'); SELECT pg_sleep(0.5);
	SELECT segments.alter_segment('Temp', 'score < 40'); SELECT pg_sleep(0.5);
	SELECT segments.alter_segment('FR', ('country = ''FR'' and score >= ' || floor(random() * 50)::int)::segments.rule);
	SELECT segments.drop_segment('Temp'); SELECT pg_sleep(0.5);" &
pids+=($!)

sleep $((seconds / 2))
stop_consumer KILL
killed_at=$(value "SELECT count(*) FROM consumer_processed")
start_consumer
for p in "${pids[@]}"; do
	wait "$p"
done

# caught up: everything in the log processed (the consumer polls too)
cluster_wait_for "$db" 60 "SELECT (SELECT count(*) FROM consumer_processed) = (SELECT count(*) FROM segments.membership_log)" ||
	fail "the consumer did not catch up: processed $(value "SELECT count(*) FROM consumer_processed"), log $(value "SELECT count(*) FROM segments.membership_log"); $(tail -5 "$consumer_log")"
sleep 1
stop_consumer TERM

log_rows=$(value "SELECT count(*) FROM segments.membership_log")
[ "$log_rows" -gt 1000 ] || fail "the writers made only $log_rows changes"
repeats=$(value "SELECT count(*) - count(DISTINCT cursor) FROM consumer_processed")
[ "$repeats" = 0 ] || fail "$repeats changes processed twice"
differ=$(value "
	WITH p AS (SELECT (split_part(cursor, ':', 2))::bigint AS id, segment_id, contact, joined, cause FROM consumer_processed),
	l AS (SELECT id, segment_id, contact::text, joined, cause FROM segments.membership_log)
	SELECT count(*) FROM ((SELECT * FROM p EXCEPT ALL SELECT * FROM l) UNION ALL (SELECT * FROM l EXCEPT ALL SELECT * FROM p)) d")
[ "$differ" = 0 ] || fail "$differ changes differ between what was processed and the log"
# in the order of the cursors, each (segment, contact)'s last change says
# whether it is a member
replay=$(value "
	WITH last AS (
		SELECT DISTINCT ON (segment_id, contact) segment_id, contact, joined
		FROM consumer_processed ORDER BY segment_id, contact, (split_part(cursor, ':', 2))::bigint DESC),
	replayed AS (SELECT l.segment_id, l.contact FROM last l JOIN segments.segment s ON s.id = l.segment_id WHERE l.joined),
	current AS (SELECT segment_id, contact::text FROM segments.membership)
	SELECT count(*) FROM ((SELECT * FROM replayed EXCEPT SELECT * FROM current) UNION ALL (SELECT * FROM current EXCEPT SELECT * FROM replayed)) d")
[ "$replay" = 0 ] || fail "replaying the processed changes differs from the membership in $replay rows"
unverified=$(value "SELECT count(*) FROM segments.segment s, LATERAL segments.verify_segment(s.id) v WHERE v.missing + v.extra > 0")
[ "$unverified" = 0 ] || fail "$unverified segments do not verify"

runs=$(cat "$CLUSTER_DIR"/runs.* | paste -sd+ | bc)
echo "node_consumer: ok: $log_rows changes of $runs writer transactions processed exactly once ($killed_at before the kill -9), replayed into the current membership"
