#!/usr/bin/env bash
# segments on a Citus cluster (docs/design.md, "On a Citus cluster").
#
#   sudo test/scripts/citus.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#   CITUS_SRC=path/to/citus-13.2.2.tar.gz   the source to build Citus from when
#                   citus.so is not installed (scripts/setup.sh --citus; by
#                   default ../shared/citus/citus-13.2.2.tar.gz beside the
#                   repository; about three minutes on two cores)
#
# Starts a coordinator and two workers (throwaway servers, free ports,
# Citus preloaded, the coordinator in the metadata), then:
#
#   1. the regression tests of test/citus/ against the coordinator
#      (pg_regress --use-existing): attaching distributed tables and the
#      refusals of layouts segments cannot serve, builds, writes through
#      the coordinator and a worker, reads, alter, refresh, drop;
#   2. a concurrent run: pgbench writes contacts and events of every
#      tenant through the coordinator and through both workers at once,
#      single rows and transactions over several tenants (two-phase
#      commits), for CITUS_SECONDS seconds (default 15), retrying the
#      deadlocks of transactions that write the same contacts in other
#      orders; none may fail, and then every segment must verify as (0, 0).
#      Meanwhile a consumer follows segments.changes() on the coordinator
#      in batches, and must have had every row of the log exactly once;
#   3. the feed holds back a node's changes above one logged there and
#      not yet committed, and returns them once it commits.
#
# Prints a summary line; exits 0 when all holds, 1 otherwise.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/citus.sh" CITUS_SRC="${CITUS_SRC:-}" CITUS_SECONDS="${CITUS_SECONDS:-15}" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin
seconds=${CITUS_SECONDS:-15}
db=regression

. "$root/scripts/cluster.sh"
. "$root/scripts/citus_cluster.sh"
cluster_require_install
citus_cluster_start citus "$db" -c fsync=off || { echo "citus: FAILED: the cluster did not start"; exit 1; }
coordinator=$CITUS_COORDINATOR
workers=("${CITUS_WORKERS[@]}")

fail() { cluster_fail citus "$1"; }

# 1. the regression tests
out=$CLUSTER_DIR/regress
mkdir -p "$out"
chown postgres: "$out"
# (citus_ddl, which renames and detaches tables, runs last, after 3.)
regress() {
	if ! runuser -u postgres -- env CITUS_WORKER_PORT="${workers[0]}" CITUS_COORDINATOR_PORT="$coordinator" \
			"$PGBIN/../lib/pgxs/src/test/regress/pg_regress" --use-existing --host="$CLUSTER_DIR" \
			--port="$coordinator" --user=postgres --dbname="$db" --inputdir="$root/test/citus" \
			--outputdir="$out" --bindir="$PGBIN" "$@" >"$out/log" 2>&1; then
		cat "$out/log"
		[ -f "$out/regression.diffs" ] && head -n 200 "$out/regression.diffs"
		fail "the regression tests of test/citus failed"
	fi
}
schedule=(citus_attach citus_maintenance citus_change_feed citus_ddl)
regress "${schedule[@]:0:3}"

# 2. concurrent writes through every node (the country by CASE: Citus
# 13.2.2 on PostgreSQL 15.20 crashes deparsing an array subscript in an
# UPDATE's SET, with or without segments)
cat >"$out/write.sql" <<'SQL'
\set a random(1, 4)
\set b random(1, 4)
\set i random(1, 50)
\set j random(1, 50)
BEGIN;
UPDATE contacts SET country = CASE :j % 3 WHEN 0 THEN 'US' WHEN 1 THEN 'DE' ELSE 'FR' END, score = :j
	WHERE account_id = :a AND id = :i;
INSERT INTO events (account_id, contact_id, kind) VALUES (:b, :j, 'opened');
INSERT INTO list_members VALUES (:b, :i, 'vip') ON CONFLICT DO NOTHING;
-- maintained now: changes logged, not committed yet, while the feed's
-- consumer reads
SET CONSTRAINTS ALL IMMEDIATE;
SELECT pg_sleep(0.01);
COMMIT;
DELETE FROM list_members WHERE account_id = :a AND contact_id = :j AND list_id = 'vip';
INSERT INTO events (account_id, contact_id, kind) VALUES (:a, :i, 'opened');
SQL
chmod 644 "$out/write.sql"
# the consumer: a batch and its cursor saved in one transaction
cluster_psql "$db" -c "CREATE TABLE feed_seen AS SELECT c.*, 0::bigint AS n FROM segments.changes(NULL, 1) c LIMIT 0" \
	-c "CREATE TABLE feed_position (cursor text)" -c "INSERT INTO feed_position VALUES (NULL)" >/dev/null ||
	fail "could not set up the feed's consumer"
consume() {
	cluster_value "$db" "WITH batch AS (SELECT o.* FROM feed_position p,
			segments.changes(p.cursor, 40) WITH ORDINALITY AS o(cursor, segment_id, contact, joined, at, cause, n)),
		kept AS (INSERT INTO feed_seen SELECT * FROM batch)
		UPDATE feed_position SET cursor = coalesce((SELECT b.cursor FROM batch b ORDER BY b.n DESC LIMIT 1), cursor)
		RETURNING (SELECT count(*) FROM batch)"
}
(
	while [ ! -f "$out/writes_done" ]; do
		consume >/dev/null || { echo "the consumer failed" >"$out/consumer_failed"; exit 1; }
		sleep 0.05
	done
) &
consumer=$!
pids=()
for port in "$coordinator" "${workers[@]}"; do
	runuser -u postgres -- "$PGBIN/pgbench" -h "$CLUSTER_DIR" -p "$port" -U postgres -n -c 3 -j 1 \
		-T "$seconds" --max-tries=20 -f "$out/write.sql" "$db" >"$out/pgbench.$port" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || { cat "$out"/pgbench.*; fail "pgbench failed"; }
done
touch "$out/writes_done"
wait "$consumer" || fail "the feed's consumer failed"
while [ "$(consume)" != 0 ]; do :; done
writes=$(awk '/number of transactions actually processed/ {n += $NF} END {print n + 0}' "$out"/pgbench.*)
[ "$writes" -gt 0 ] || { cat "$out"/pgbench.*; fail "no transaction went through"; }
# deadlocks of transactions writing the same contacts in other orders are
# retried (docs/design.md, "Writes: maintenance on the tenant's node");
# none may fail every try, nor anything fail otherwise
failures=$(awk '/number of failed transactions/ {n += $5} END {print n + 0}' "$out"/pgbench.*)
retried=$(awk '/number of transactions retried/ {n += $5} END {print n + 0}' "$out"/pgbench.*)
[ "$failures" = 0 ] || { cat "$out"/pgbench.*; fail "$failures transactions failed"; }
bad=$(cluster_value "$db" "SELECT count(*) FROM segments.verify_all() WHERE missing + extra > 0") ||
	fail "verify_all() failed"
[ "$bad" = 0 ] || fail "$bad segments do not verify after the concurrent writes: $(cluster_value "$db" "SELECT string_agg(format('%s (%s, %s)', name, missing, extra), ', ') FROM segments.verify_all() WHERE missing + extra > 0")"

# every change exactly once: the rows consumed are the log's, as a multiset
consumed=$(cluster_value "$db" "SELECT count(*) FROM feed_seen") || fail "could not count the feed's rows"
logged=$(cluster_value "$db" "SELECT count(*) FROM segments.membership_log") || fail "could not count the log"
differ=$(cluster_value "$db" "SELECT count(*) FROM (
	(SELECT f.segment_id, f.contact, f.joined, f.at, f.cause FROM feed_seen f
	 EXCEPT ALL SELECT l.segment_id, format('(%s,%s)', l.tenant, l.contact), l.joined, l.at, l.cause FROM segments.membership_log l)
	UNION ALL
	(SELECT l.segment_id, format('(%s,%s)', l.tenant, l.contact), l.joined, l.at, l.cause FROM segments.membership_log l
	 EXCEPT ALL SELECT f.segment_id, f.contact, f.joined, f.at, f.cause FROM feed_seen f)) d") ||
	fail "could not compare the feed with the log"
[ "$consumed" = "$logged" ] && [ "$differ" = 0 ] ||
	fail "the feed's consumer had $consumed changes, the log has $logged; $differ differ"

# 3. the feed holds back a node's later changes while an earlier one is
# logged and not committed there: a transaction on the first worker
# maintains a contact of a tenant the worker holds (SET CONSTRAINTS ALL
# IMMEDIATE) and waits; another contact's change there commits; the feed
# must not return it (its id is above the waiting one's) until the first
# commits, when it returns both
w0=${workers[0]}
read -r tenant_a contact_a tenant_b contact_b < <(PGPORT=$w0 cluster_value "$db" "
	SELECT string_agg(format('%s %s', c.account_id, c.id), ' ')
	FROM (SELECT c.account_id, c.id FROM contacts c
		JOIN pg_dist_shard_placement p ON p.shardid = get_shard_id_for_distribution_column('contacts', c.account_id)
		WHERE p.nodeport = $w0 ORDER BY 1, 2 LIMIT 2) c") || fail "could not find two contacts of the first worker"
[ -n "$contact_b" ] || fail "the first worker holds fewer than two contacts"
# in and out of 'us' (country = 'DE' since citus_maintenance altered it)
flip="SET country = CASE WHEN country = 'DE' THEN 'FR' ELSE 'DE' END"
PGPORT=$w0 cluster_psql -d "$db" -c "CREATE TABLE feed_release ()" || fail "could not create feed_release"
PGPORT=$w0 cluster_psql -d "$db" >"$out/held.log" 2>&1 <<SQL &
BEGIN;
UPDATE contacts $flip WHERE account_id = $tenant_a AND id = $contact_a;
SET CONSTRAINTS ALL IMMEDIATE;
DO \$\$ BEGIN WHILE NOT EXISTS (SELECT FROM feed_release) LOOP PERFORM pg_sleep(0.05); END LOOP; END \$\$;
COMMIT;
SQL
held=$!
PGPORT=$w0 cluster_wait_for "$db" 30 "SELECT EXISTS (SELECT FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 6 AND l.pid <> pg_backend_pid())" ||
	fail "the held transaction did not log its change"
PGPORT=$w0 cluster_psql -d "$db" -c "UPDATE contacts $flip WHERE account_id = $tenant_b AND id = $contact_b" ||
	fail "the later change failed"
before=$(cluster_value "$db" "SELECT (SELECT count(*) FROM segments.changes(NULL, 1000000)) || ' ' || (SELECT count(*) FROM segments.membership_log)") ||
	fail "could not read the feed"
PGPORT=$w0 cluster_psql -d "$db" -c "INSERT INTO feed_release DEFAULT VALUES" || fail "could not release"
wait "$held" || { cat "$out/held.log"; fail "the held transaction failed"; }
after=$(cluster_value "$db" "SELECT (SELECT count(*) FROM segments.changes(NULL, 1000000)) || ' ' || (SELECT count(*) FROM segments.membership_log)") ||
	fail "could not read the feed"
read -r fed_before logged_before <<<"$before"
read -r fed_after logged_after <<<"$after"
[ "$fed_before" -lt "$logged_before" ] ||
	fail "the feed returned a node's change above one not committed there ($fed_before changes of $logged_before committed)"
[ "$fed_after" = "$logged_after" ] && [ "$logged_after" -gt "$logged_before" ] ||
	fail "after the commit the feed has $fed_after changes, the log $logged_after (before: $logged_before)"

regress citus_ddl

echo "citus: coordinator and 2 workers; ${#schedule[@]} regression tests passed; $writes concurrent transactions through every node ($retried retried after a deadlock), every segment verifies (0, 0); the change feed gave each of the $logged changes once and held back a node's changes behind one not committed"
