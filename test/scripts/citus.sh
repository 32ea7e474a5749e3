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
schedule=(citus_attach citus_maintenance)
if ! runuser -u postgres -- env CITUS_WORKER_PORT="${workers[0]}" CITUS_COORDINATOR_PORT="$coordinator" \
		"$PGBIN/../lib/pgxs/src/test/regress/pg_regress" --use-existing --host="$CLUSTER_DIR" \
		--port="$coordinator" --user=postgres --dbname="$db" --inputdir="$root/test/citus" \
		--outputdir="$out" --bindir="$PGBIN" "${schedule[@]}" >"$out/log" 2>&1; then
	cat "$out/log"
	[ -f "$out/regression.diffs" ] && head -n 200 "$out/regression.diffs"
	fail "the regression tests of test/citus failed"
fi

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
COMMIT;
DELETE FROM list_members WHERE account_id = :a AND contact_id = :j AND list_id = 'vip';
INSERT INTO events (account_id, contact_id, kind) VALUES (:a, :i, 'opened');
SQL
chmod 644 "$out/write.sql"
pids=()
for port in "$coordinator" "${workers[@]}"; do
	runuser -u postgres -- "$PGBIN/pgbench" -h "$CLUSTER_DIR" -p "$port" -U postgres -n -c 3 -j 1 \
		-T "$seconds" --max-tries=20 -f "$out/write.sql" "$db" >"$out/pgbench.$port" 2>&1 &
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || { cat "$out"/pgbench.*; fail "pgbench failed"; }
done
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

echo "citus: coordinator and 2 workers; ${#schedule[@]} regression tests passed; $writes concurrent transactions through every node ($retried retried after a deadlock), every segment verifies (0, 0)"
