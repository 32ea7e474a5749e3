#!/usr/bin/env bash
# Stress test of membership maintenance under concurrent writes.
#
#   sudo test/scripts/stress.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# Starts a throwaway PostgreSQL 15 cluster (user postgres, a free port, a
# temporary directory removed on exit), generates a sample database with
# bench/data.sql (5,000 contacts of 5 tenants, 50,000 events, about 10,000
# list memberships), attaches it and creates segments of every kind
# (test/stress/setup.sql).  Then pgbench runs the scripts of
# test/stress/ (single-row and multi-row writes of contacts, events
# and lists, explicit transactions, many of them on ten hot contacts so that
# transactions collide, and catalog changes beside them, always at READ
# COMMITTED: admin.sql alters, refreshes, creates, drops and renames) with 8
# clients in 2 threads, each on one connection for the whole phase, in
# three phases:
#
#   READ COMMITTED   STRESS_SECONDS seconds (default 30)
#   REPEATABLE READ  a third of that
#   SERIALIZABLE     a sixth of that
#
# Serialization failures (40001) are expected under REPEATABLE READ and
# SERIALIZABLE: pgbench retries them (--max-tries) and counts the ones that
# fail every try.  Any other error fails the test, deadlocks included: the
# writers' scripts cannot deadlock with one another without the extension
# (a statement that locks several rows locks them in key order, and an
# explicit transaction locks existing rows of the contacts, events and list
# tables in that order), so a deadlock is one that the extension brought in.
#
# After every phase, every segment must verify as (0, 0)
# (segments.verify_segment), with no membership row of a segment that no
# longer exists: a writer that maintained with a catalog older than the
# last change it waited for shows there.  At the end
# segments.membership_log must agree with segments.membership: for every
# segment and contact, the log alternates join, leave, join, ... starting
# with a join, and its last row says joined exactly when the contact is a
# member.  Prints a summary; exits 0 when all holds, 1 otherwise with a
# report of what did not.
#
# STRESS_SECONDS          length of the READ COMMITTED phase (default 30)
# STRESS_SEED             pgbench's random seed (default: a random one, printed)
# STRESS_ALLOW_DEADLOCKS  1: report deadlocks but do not fail on them
# STRESS_CATALOG          0: no catalog changes (admin.sql) beside the writers
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$root/test/stress

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/stress.sh" STRESS_SECONDS="${STRESS_SECONDS:-30}" \
	STRESS_SEED="${STRESS_SEED:-}" STRESS_ALLOW_DEADLOCKS="${STRESS_ALLOW_DEADLOCKS:-0}" \
	STRESS_CATALOG="${STRESS_CATALOG:-1}" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin
seconds=${STRESS_SECONDS:-30}
seed=${STRESS_SEED:-$((RANDOM * 32768 + RANDOM))}
case "$seed" in
	'' | *[!0-9]*) echo "stress.sh: STRESS_SEED must be a whole number" >&2; exit 1 ;;
esac
case "$seconds" in
	'' | *[!0-9]*) echo "stress.sh: STRESS_SECONDS must be a whole number" >&2; exit 1 ;;
esac
[ "$seconds" -ge 3 ] || seconds=3
rr_seconds=$((seconds / 3 > 2 ? seconds / 3 : 2))
ser_seconds=$((seconds / 6 > 2 ? seconds / 6 : 2))

. "$root/scripts/cluster.sh"
cluster_require_install

# A throwaway cluster: durability off.  A short deadlock_timeout only makes
# deadlocks found sooner.
cluster_start stress -c max_connections=40 -c fsync=off -c synchronous_commit=off \
	-c full_page_writes=off -c deadlock_timeout=200ms || exit 1
tmp=$CLUSTER_DIR

psql_() { cluster_psql "$@"; }
value() { cluster_value stress "$1"; }

started_at=$(date +%s)
echo "stress: seed $seed; READ COMMITTED ${seconds}s, REPEATABLE READ ${rr_seconds}s, SERIALIZABLE ${ser_seconds}s; 8 clients, 2 threads"

psql_ -d postgres -c "CREATE DATABASE stress"
# The sample's clock, in every session (pgbench's too).
psql_ -d postgres -c "ALTER DATABASE stress SET segments.now_override = '2025-06-15 12:00:00+00'"
psql_ -d stress -v contacts=5000 -v events=50000 -v tenants=5 \
	-c "SET client_min_messages = warning" -f "$root/bench/data.sql" >/dev/null
psql_ -d stress -f "$here/setup.sql" >/dev/null

# Membership before the writes, per segment.
psql_ -d stress -c "CREATE TABLE public.stress_before AS
	SELECT s.id, count(m.contact) AS members
	FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
	GROUP BY s.id"
log_start=$(value "SELECT coalesce(max(id), 0) FROM segments.membership_log")

scripts=(
	-f "$here/contact_update.sql@10"
	-f "$here/contact_props.sql@5"
	-f "$here/contact_unused.sql@10"
	-f "$here/contact_insert_delete.sql@3"
	-f "$here/event_insert.sql@20"
	-f "$here/event_insert_multi.sql@8"
	-f "$here/event_delete.sql@8"
	-f "$here/list.sql@10"
	-f "$here/transaction.sql@6"
	-f "$here/transaction_event_first.sql@3"
)

# admin.sql's weight against the writers' 83: about one transaction in 30
# changes the catalog.
admin_weight=3

# pgbench numbers the scripts from 0 in its error messages.
legend=$(for ((i = 1; i < ${#scripts[@]}; i += 2)); do
	f=${scripts[i]##*/}
	printf '%d %s, ' $((i / 2)) "${f%@*}"
done)
legend="${legend}$((${#scripts[@]} / 2)) admin.sql"

total_tx=0
total_serialization=0
total_deadlock=0
total_retried=0
problems=()

# number FILE LABEL: the number after "LABEL: " in pgbench's report (0 when absent)
number() {
	local n
	n=$(sed -n "s/^$2: \([0-9]*\).*/\1/p" "$1" | sed -n 1p)
	echo "${n:-0}"
}

# phase NAME ISOLATION SECONDS MAX_TRIES ADMIN_WEIGHT
phase() {
	local name=$1 iso=$2 secs=$3 tries=$4 admin=$5 rc=0 out err tx ser dl retried other
	local -a catalog=(-f "$here/admin.sql@$admin")
	out=$tmp/pgbench-$name.out
	err=$tmp/pgbench-$name.err
	if [ "${STRESS_CATALOG:-1}" = 0 ]; then
		catalog=()
	fi
	PGOPTIONS="-c default_transaction_isolation=${iso// /\\ }" \
		"$PGBIN/pgbench" -n -c 8 -j 2 -T "$secs" --random-seed="$seed" \
		--max-tries="$tries" --failures-detailed --verbose-errors \
		"${scripts[@]}" "${catalog[@]}" stress >"$out" 2>"$err" || rc=$?
	tx=$(number "$out" "number of transactions actually processed")
	ser=$(grep -c 'ERROR:  could not serialize access' "$err" || true)
	dl=$(grep -c 'ERROR:  deadlock detected' "$err" || true)
	retried=$(number "$out" "total number of retries")
	other=$(grep 'ERROR:' "$err" | grep -cv 'could not serialize access\|deadlock detected' || true)
	printf '%-16s %7d transactions, %5d serialization failures (%d retries), %3d deadlocks, %3d other errors\n' \
		"$name" "$tx" "$ser" "$retried" "$dl" "$other"
	total_tx=$((total_tx + tx))
	total_serialization=$((total_serialization + ser))
	total_deadlock=$((total_deadlock + dl))
	total_retried=$((total_retried + retried))

	if [ "$rc" -ne 0 ] || [ "$other" -gt 0 ] || grep -q 'aborted' "$err"; then
		problems+=("$name: pgbench exited with status $rc, $other errors other than serialization failures and deadlocks")
		echo "-- $name: pgbench's errors other than serialization failures and deadlocks (up to 20;"
		echo "   scripts: $legend):"
		{ grep 'ERROR:\|error:\|abort' "$err" | grep -v 'could not serialize access\|deadlock detected'; } |
			sed -n 1,20p || true
		echo "-- $name: the first of them, in full:"
		awk 'p && /^pgbench:/ { exit }
			/ERROR:|error:/ && !/could not serialize access|deadlock detected/ { p = 1 } p' "$err" |
			sed -n 1,30p || true
	fi
	if [ "$iso" = "read committed" ] && [ "$ser" -gt 0 ]; then
		problems+=("$name: $ser serialization failures under READ COMMITTED")
	fi
	if [ "$dl" -gt 0 ]; then
		if [ "${STRESS_ALLOW_DEADLOCKS:-0}" != 1 ]; then
			problems+=("$name: $dl deadlocks between writers that cannot deadlock without the extension")
		fi
		echo "-- $name: the first deadlock (scripts: $legend):"
		grep -m 1 -A 12 'ERROR:  deadlock detected' "$err" || true
	fi
}

# after_phase NAME: the server is up, and every segment verifies as
# (0, 0) with no membership row of a segment that does not exist;
# otherwise a problem, with the contacts whose membership is wrong.
# Checked after every phase, not only at the end: a later phase's catalog
# changes (alter, refresh) re-evaluate segments wholesale and would repair
# what an earlier phase's writers got wrong, as would the serialization
# failures that REPEATABLE READ and SERIALIZABLE writers get where a READ
# COMMITTED writer maintains.
after_phase() {
	local name=$1 wrong orphans
	if ! value "SELECT 1" >/dev/null 2>&1; then
		echo "stress: FAILED (seed $seed): the server is down after the $name phase; its log:"
		tail -n 40 "$tmp/server.log"
		exit 1
	fi
	wrong=$(value "SELECT coalesce(string_agg(format('%s (%s, %s)', s.name, v.missing, v.extra), ', ' ORDER BY s.id), '')
		FROM segments.segment s CROSS JOIN LATERAL segments.verify_segment(s.id) v
		WHERE v.missing <> 0 OR v.extra <> 0")
	orphans=$(value "SELECT count(*) FROM segments.membership m
		WHERE NOT EXISTS (SELECT FROM segments.segment s WHERE s.id = m.segment_id)")
	if [ "$orphans" -ne 0 ]; then
		problems+=("after $name: $orphans membership rows of segments that do not exist")
	fi
	if [ -z "$wrong" ]; then
		return
	fi
	problems+=("after $name: segments that do not verify as (0, 0), as (missing, extra): $wrong")
	echo "-- after $name: contacts whose membership is wrong (up to 20), with their log:"
	psql_ -d stress -c "
		CREATE FUNCTION pg_temp.wrong(id bigint) RETURNS TABLE (contact bigint, what text)
		LANGUAGE plpgsql AS \$\$
		DECLARE
			q text;
		BEGIN
			SELECT CASE WHEN s.tenant IS NULL THEN segments.to_sql(s.rule)
				ELSE segments.to_sql(s.rule, tenant => s.tenant) END
			INTO q FROM segments.segment s WHERE s.id = wrong.id;
			RETURN QUERY EXECUTE format(
				'SELECT f.contact::bigint, %L FROM (%s) f
				 WHERE NOT EXISTS (SELECT FROM segments.membership m WHERE m.segment_id = \$1 AND m.contact = f.contact)
				 UNION ALL
				 SELECT m.contact::bigint, %L FROM segments.membership m
				 WHERE m.segment_id = \$1 AND NOT EXISTS (SELECT FROM (%s) f WHERE f.contact = m.contact)',
				'missing', q, 'extra', q) USING id;
		END \$\$;
		SELECT s.name, w.contact, w.what,
			(SELECT string_agg(format('%s %s (%s)', l.id, CASE WHEN l.joined THEN 'join' ELSE 'leave' END, l.cause), ', ' ORDER BY l.id)
			 FROM segments.membership_log l WHERE l.segment_id = s.id AND l.contact = w.contact) AS log
		FROM segments.segment s, LATERAL pg_temp.wrong(s.id) w
		ORDER BY s.id, w.contact LIMIT 20" || true
}

phase read-committed "read committed" "$seconds" 1 "$admin_weight"
after_phase read-committed
phase repeatable-read "repeatable read" "$rr_seconds" 5 "$admin_weight"
after_phase repeatable-read
phase serializable "serializable" "$ser_seconds" 5 "$admin_weight"
after_phase serializable

if grep -qE 'PANIC|terminated by signal|server process .* was terminated' "$tmp/server.log"; then
	problems+=("a server process crashed; see the server log below")
	echo "-- server log, crashes:"
	grep -E -B 2 -A 5 'PANIC|terminated by signal|was terminated' "$tmp/server.log" | sed -n 1,60p || true
fi

# Every segment: members before (none for one created meanwhile) and after.
psql_ -d stress -c "CREATE TABLE public.stress_after AS
	SELECT s.id, s.name, coalesce(s.tenant, '') AS tenant, b.members AS before,
		(SELECT count(*) FROM segments.membership m WHERE m.segment_id = s.id) AS after
	FROM segments.segment s
	LEFT JOIN public.stress_before b ON b.id = s.id"
echo
psql_ -d stress -P footer=off -c "SELECT * FROM public.stress_after ORDER BY id"

# The log against the membership, of the segments that exist: dropping a
# segment deletes its members, and its log stops where it was.
log_counts=$(value "
	WITH l AS (
		SELECT segment_id, contact, joined, id,
			lag(joined) OVER (PARTITION BY segment_id, contact ORDER BY id) AS prev,
			row_number() OVER (PARTITION BY segment_id, contact ORDER BY id DESC) AS from_last
		FROM segments.membership_log),
	last AS (SELECT segment_id, contact, joined FROM l
		WHERE from_last = 1 AND segment_id IN (SELECT id FROM segments.segment))
	SELECT
		(SELECT count(*) FROM last FULL JOIN segments.membership m USING (segment_id, contact)
		 WHERE coalesce(last.joined, false) <> (m.contact IS NOT NULL)),
		(SELECT count(*) FROM l WHERE joined IS NOT DISTINCT FROM prev OR (prev IS NULL AND NOT joined))")
log_bad_last=${log_counts%|*}
log_bad_order=${log_counts#*|}
if [ "$log_bad_last" -ne 0 ]; then
	problems+=("$log_bad_last (segment, contact) pairs whose last log row disagrees with the membership")
fi
if [ "$log_bad_order" -ne 0 ]; then
	problems+=("$log_bad_order log rows that do not alternate join, leave, join, ... from a join")
fi
if [ "$log_bad_last" -ne 0 ] || [ "$log_bad_order" -ne 0 ]; then
	echo "-- log rows out of step (up to 20 pairs):"
	psql_ -d stress -c "
		WITH l AS (
			SELECT segment_id, contact, joined, id,
				lag(joined) OVER (PARTITION BY segment_id, contact ORDER BY id) AS prev
			FROM segments.membership_log),
		bad AS (
			SELECT DISTINCT segment_id, contact FROM l
			WHERE joined IS NOT DISTINCT FROM prev OR (prev IS NULL AND NOT joined)
			UNION
			SELECT coalesce(x.segment_id, m.segment_id), coalesce(x.contact, m.contact)
			FROM (SELECT DISTINCT ON (segment_id, contact) segment_id, contact, joined
				FROM segments.membership_log WHERE segment_id IN (SELECT id FROM segments.segment)
				ORDER BY segment_id, contact, id DESC) x
			FULL JOIN segments.membership m USING (segment_id, contact)
			WHERE coalesce(x.joined, false) <> (m.contact IS NOT NULL)
			LIMIT 20)
		SELECT b.segment_id, b.contact,
			EXISTS (SELECT FROM segments.membership m WHERE m.segment_id = b.segment_id AND m.contact = b.contact) AS member,
			(SELECT string_agg(format('%s %s (%s)', l.id, CASE WHEN l.joined THEN 'join' ELSE 'leave' END, l.cause), ', ' ORDER BY l.id)
			 FROM segments.membership_log l WHERE l.segment_id = b.segment_id AND l.contact = b.contact) AS log
		FROM bad b ORDER BY 1, 2" || true
fi

echo
psql_ -d stress -P footer=off -c "
	SELECT cause, count(*) FILTER (WHERE joined) AS joins, count(*) FILTER (WHERE NOT joined) AS leaves
	FROM segments.membership_log WHERE id > $log_start GROUP BY cause ORDER BY cause"
echo "stress: $total_tx transactions ($total_serialization serialization failures, $total_retried retries, $total_deadlock deadlocks), $(value "SELECT count(*) FROM segments.membership_log WHERE id > $log_start") log rows written, $(value "SELECT count(*) FROM segments.membership_log") in all; $(($(date +%s) - started_at)) s"

if [ "${#problems[@]}" -gt 0 ]; then
	echo
	echo "stress: FAILED (seed $seed):"
	printf '  - %s\n' "${problems[@]}"
	exit 1
fi
if [ "$total_deadlock" -gt 0 ]; then
	echo "stress: ok (deadlocks allowed by STRESS_ALLOW_DEADLOCKS)"
else
	echo "stress: ok"
fi
