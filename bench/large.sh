#!/usr/bin/env bash
# The large regime (docs/benchmarks.md, "The large regime"): writes when
# memberships are large and a write flips many of them, against the same
# writes without the extension and against an oracle that writes the same
# membership and log rows by hand, in the same run.  Prints, per row, the
# throughputs, their ratio and the membership changes per write.
#
#   sudo bench/large.sh [--scale small|reference] [--seconds N] [--rounds N]
#
#   --scale reference  1,000,000 contacts, 10,000,000 events, 100 tenants
#                      (the default; about an hour on 2 cores: 100 segments
#                      of 100,000 to 500,000 members are built)
#   --scale small      50,000 contacts, 500,000 events, 10 tenants
#   --seconds N        pgbench seconds per side of each row (10)
#   --rounds N         pgbench runs of each side, alternately, the best
#                      kept (2)
#   --profile          perf (if installed) samples the extension's side of
#                      each row's last round: the top symbols of the
#                      server's processes are printed after the row
#   --parts LIST       the parts to run, of fields,engagement,tenant,events
#                      (all; engagement has the tick row)
#   --shared-buffers S the server's shared_buffers (a quarter of the
#                      memory, at most 2GB): 32MB makes the small scale a
#                      data set that does not fit, as the reference's
#                      memberships do not
#
# Rows:
#   * single-row UPDATE of country and score, 100 large field segments
#     (country and plan, jsonb properties, score != n): against the twin
#     table without triggers, and against the oracle, a twin transaction
#     that also deletes and inserts, in twin membership and log tables,
#     as many rows as the extension's writes changed on average
#   * single event INSERT ('opened' at now for a uniformly random contact),
#     50 engagement segments (count >= 1..10 within last 1, 7, 30, 90, 365
#     days), likewise
#   * tick() after the clock moves a day, those 50 segments, against a
#     set query written by hand for the same joins and leaves (which must
#     agree)
#   * the same UPDATE of a contact of tenant 1, 1,000 segments of tenant 1
#   * the same event INSERT, 500 event segments (opened, clicked or
#     delivered, count >= 1..10 within the last 1 to 365 days)
#
# It runs its own throwaway server (bench/lib.sh); every segment must
# verify (0, 0) after the rows, else it fails.  Figures never make it fail.

set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scale=reference
seconds=10
rounds=2
parts=fields,engagement,tenant,events
profile=0
args=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--scale) scale=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--parts) parts=$2; shift 2 ;;
	--profile) profile=1; shift ;;
	--shared-buffers) export BENCH_SHARED_BUFFERS=$2; shift 2 ;;
	*) echo "usage: bench/large.sh [--scale small|reference] [--seconds N] [--rounds N] [--parts LIST] [--profile] [--shared-buffers S]" >&2; exit 2 ;;
	esac
done
case $scale in
small) contacts=50000 events=500000 tenants=10 ;;
reference) contacts=1000000 events=10000000 tenants=100 ;;
*) echo "bench/large.sh: unknown scale $scale" >&2; exit 2 ;;
esac

. "$root/bench/lib.sh"
. "$root/scripts/as_root.sh"
as_root "$root/bench/large.sh" -- "${args[@]}" || exit 1
bench_start large || exit 1
failed=0

part() { [[ ",$parts," == *",$1,"* ]]; }
# the event INSERT of the engagement and events parts
cat >"$tmp/event.sql" <<SQL
\set id random(1, $contacts)
INSERT INTO public.events (id, contact_id, kind, occurred_at) VALUES (nextval('public.bench_event_id'), :id, 'opened', '2025-06-15 12:00:00+00');
SQL
sed 's/public.events /public.events_twin /' "$tmp/event.sql" >"$tmp/event_twin.sql"
chmod 644 "$tmp"/*.sql

say "data: bench/data.sql"
bench_data "$contacts" "$events" "$tenants" || exit 1
q -c "CREATE SEQUENCE public.bench_event_id START $((events * 2))" >/dev/null
bench_machine
# every session from here on at the data's time, 2025-06-15 12:00 UTC (at
# a day later after the tick row)
base_options=${PGOPTIONS:-}
clock() { export PGOPTIONS="$base_options -c segments.now_override=$1\\ 12:00:00+00"; }
clock 2025-06-15

# prepared statements on every side: the oracle's are then planned once,
# as the extension's writer of membership rows is
wal_bytes() { qv -c "SELECT wal_bytes FROM pg_catalog.pg_stat_wal"; }
# side SCRIPT: one pgbench run; sets tps, n (its transactions) and wal
# (the WAL it wrote a transaction, in bytes)
side() {
	local w0
	w0=$(wal_bytes)
	pgbench -n -M prepared -c 2 -j 2 -T "$seconds" -f "$1" >"$tmp/pgbench.out" 2>"$tmp/pgbench.err"
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$tmp/pgbench.out")
	n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$tmp/pgbench.out")
	wal=$(echo "($(wal_bytes) - $w0) / ${n:-1}" | bc)
	tps=${tps:-0}
}
# perf over the whole machine while the extension's side runs; the
# symbols of the server's processes, by their share of its samples
profile_start() {
	[ "$profile" = 1 ] && command -v perf >/dev/null || return 0
	perf record -F 999 -a -o "$tmp/perf.data" -- sleep "$seconds" >/dev/null 2>&1 &
	perf_pid=$!
}
profile_stop() {
	[ "$profile" = 1 ] && [ -n "${perf_pid:-}" ] || return 0
	wait "$perf_pid"
	perf_pid=
	perf report -i "$tmp/perf.data" --stdio --no-children --comm postgres --sort dso,symbol \
		--percentage relative 2>/dev/null | grep '%' | grep -v '^#' | head -25 >"$tmp/profile.txt"
}
best() { echo "if ($1 > $2) $1 else $2" | bc -l; }
changes() { qv -c "SELECT count(*) FROM segments.membership_log WHERE cause = 'write'"; }

# row name script twin oracle-of-k: the three sides alternately, rounds
# times, the best of each; the changes per write of the extension's runs,
# and the WAL a write of each side (of its last run)
row() {
	local name=$1 with_script=$2 twin=$3 oracle=$4 with=0 without=0 by_hand=0 total=0 k
	local wal_with wal_without wal_oracle
	for r in $(seq "$rounds"); do
		[ "$r" = "$rounds" ] && profile_start
		side "$with_script"; with=$(best "$tps" "$with"); total=$((total + ${n:-0})); wal_with=$wal
		[ "$r" = "$rounds" ] && profile_stop
		side "$twin"; without=$(best "$tps" "$without"); wal_without=$wal
	done
	k=$(echo "scale=1; $(changes) / $total" | bc -l)
	# the oracle writes as many membership and log rows per write
	"$oracle" "$k" >"$tmp/oracle.sql"
	for _ in $(seq "$rounds"); do
		side "$tmp/oracle.sql"; by_hand=$(best "$tps" "$by_hand"); wal_oracle=$wal
	done
	printf '%-58s %8.0f tps  %8.0f tps %6.2fx   oracle %8.0f tps %6.2fx   %5.1f changes a write\n' \
		"$name" "$with" "$without" "$(echo "$with / $without" | bc -l)" \
		"$by_hand" "$(echo "$with / $by_hand" | bc -l)" "$k"
	printf '%-58s %8.1f kB   %8.1f kB            oracle %8.1f kB\n' "  WAL a write" \
		"$(echo "$wal_with / 1024" | bc -l)" "$(echo "$wal_without / 1024" | bc -l)" "$(echo "$wal_oracle / 1024" | bc -l)"
	if [ "$profile" = 1 ] && [ -s "$tmp/profile.txt" ]; then
		echo "  profile of the extension's side (perf, the server's processes):"
		sed 's/^/    /' "$tmp/profile.txt"
		rm -f "$tmp/profile.txt"
	fi
}

verify() {	# every segment verifies (0, 0), then they are dropped
	local bad
	bad=$(qv -c "SELECT count(*) FROM segments.segment s, segments.verify_segment(s.id) v WHERE (v.missing, v.extra) <> (0, 0)")
	if [ "$bad" != 0 ]; then
		echo "bench/large.sh: $bad segments differ from a fresh evaluation" >&2
		failed=1
	fi
	q -c "SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment ORDER BY id DESC) s" >/dev/null
	q -c "TRUNCATE segments.membership_log" -c "VACUUM ANALYZE segments.membership" >/dev/null
}

# the twins of the written tables, and of the membership and its log for
# the oracle (filled like the extension's, so that it writes into indexes
# of the same size)
twins() {
	q -c "DROP TABLE IF EXISTS public.contacts_twin, public.events_twin, public.membership_twin, public.log_twin" \
		-c "CREATE TABLE public.contacts_twin (LIKE public.contacts INCLUDING ALL)" \
		-c "INSERT INTO public.contacts_twin SELECT * FROM public.contacts" \
		-c "CREATE TABLE public.events_twin (LIKE public.events INCLUDING ALL)" \
		-c "INSERT INTO public.events_twin SELECT * FROM public.events" \
		-c "CREATE TABLE public.membership_twin (LIKE segments.membership INCLUDING ALL)" \
		-c "INSERT INTO public.membership_twin SELECT * FROM segments.membership" \
		-c "CREATE TABLE public.log_twin (LIKE segments.membership_log INCLUDING DEFAULTS INCLUDING INDEXES)" \
		-c "ALTER TABLE public.log_twin ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY" \
		-c "VACUUM ANALYZE public.contacts_twin, public.events_twin, public.membership_twin, public.log_twin" \
		-c "CHECKPOINT" >/dev/null
}
# k membership changes a write, by hand: half leaves (a member row of a
# random segment deleted), half joins (one inserted), each logged
oracle() {	# base-statement k
	local k half
	k=$(printf '%.0f' "$2")
	half=$(( (k + 1) / 2 ))
	cat <<SQL
\\set id random(1, $contacts)
\\set s random(0, 100)
\\set r random(1, 100000000)
BEGIN;
$1;
WITH gone AS (DELETE FROM public.membership_twin m WHERE (m.segment_id, m.contact) IN
	(SELECT t.segment_id, t.contact FROM public.membership_twin t WHERE t.contact = :id LIMIT $half)
	RETURNING m.segment_id, m.contact)
INSERT INTO public.log_twin (segment_id, contact, joined, cause) SELECT g.segment_id, g.contact, false, 'write' FROM gone g;
WITH came AS (INSERT INTO public.membership_twin (segment_id, contact)
	SELECT -(:r::bigint * 64 + g), :id FROM generate_series(1, $((k - half))) g ON CONFLICT DO NOTHING RETURNING segment_id, contact)
INSERT INTO public.log_twin (segment_id, contact, joined, cause) SELECT c.segment_id, c.contact, true, 'write' FROM came c;
COMMIT;
SQL
}
oracle_update() { oracle "UPDATE public.contacts_twin SET country = (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + :s % 5], score = :s WHERE id = :id" "$1"; }
oracle_event() { oracle "INSERT INTO public.events_twin (id, contact_id, kind, occurred_at) VALUES (nextval('public.bench_event_id'), :id, 'opened', '2025-06-15 12:00:00+00')" "$1"; }

if part fields; then
say "large field segments"
t0=$(date +%s.%N)
q -c "SELECT count(segments.create_segment('large ' || i, (CASE i % 4
	WHEN 0 THEN format('country = %L and plan in (''pro'', ''team'')', (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + i / 4 % 5])
	WHEN 1 THEN format('props.ltv >= %s and country != %L', 500 * (1 + i / 4 % 8), (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + i / 4 % 5])
	WHEN 2 THEN format('score != %s and country in (%L, %L)', i % 101, (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + i / 4 % 5], (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + (i / 4 + 2) % 5])
	ELSE format('score between %s and %s', i % 70, i % 70 + 30) END)::segments.rule)) FROM generate_series(0, 99) AS i" \
	-c "VACUUM ANALYZE segments.membership" >/dev/null || exit 1
printf 'built in %.0f s: %s memberships, %s to %s members a segment\n' "$(secs_since "$t0")" \
	$(qv -F ' ' -c "SELECT to_char(sum(n), 'FM9,999,999,999'), min(n), max(n) FROM (SELECT count(*) AS n FROM segments.membership GROUP BY segment_id) x")
q -c "TRUNCATE segments.membership_log" >/dev/null
twins
cat >"$tmp/update.sql" <<SQL
\set id random(1, $contacts)
\set s random(0, 100)
UPDATE public.contacts SET country = (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + :s % 5], score = :s WHERE id = :id;
SQL
sed 's/public.contacts /public.contacts_twin /' "$tmp/update.sql" >"$tmp/update_twin.sql"
chmod 644 "$tmp"/*.sql
printf '%-58s %12s  %12s %7s   %s\n' "workload" "with" "without" "ratio" "oracle (by hand), ratio, changes"
row "single-row UPDATE, 100 large field segments" "$tmp/update.sql" "$tmp/update_twin.sql" oracle_update
verify

fi
if part engagement; then
say "engagement segments over windows up to 365 days"
q -c "SELECT count(segments.create_segment('opens ' || i, format('event ''opened'' count >= %s within last %s days', 1 + i % 10, (ARRAY[1, 7, 30, 90, 365])[1 + i / 10])::segments.rule)) FROM generate_series(0, 49) AS i" \
	-c "VACUUM ANALYZE segments.membership" >/dev/null || exit 1
q -c "TRUNCATE segments.membership_log" >/dev/null
twins
row "single event INSERT, 50 engagement segments" "$tmp/event.sql" "$tmp/event_twin.sql" oracle_event

# tick() after the clock moves a day, against a set query written by hand
# for the same joins and leaves: per segment, the contacts with an opened
# event at one of the window's edges (entering at now, leaving at now - d),
# their events counted in the new window and compared with the membership.
# The query runs twice (the second timed, its data then cached, as the
# tick's is after it); its joins and leaves must be the tick's.
cat >"$tmp/tick_by_hand.sql" <<'SQL'
DO $$
DECLARE
	t0 timestamptz := '2025-06-15 12:00:00+00';
	t1 timestamptz := t0 + interval '1 day';
	s record;
	i int;
	k int;
	d interval;
	j bigint := 0;
	l bigint := 0;
	a bigint;
	b bigint;
	started timestamptz := clock_timestamp();
BEGIN
	FOR s IN SELECT g.id, g.name FROM segments.segment g WHERE g.name LIKE 'opens %' LOOP
		i := substring(s.name from 7)::int;
		k := 1 + i % 10;
		d := (ARRAY[1, 7, 30, 90, 365])[1 + i / 10] * interval '1 day';
		WITH candidates AS (
			SELECT DISTINCT e.contact_id FROM public.events e
			WHERE e.kind = 'opened' AND (e.occurred_at BETWEEN t0 - d AND t1 - d OR e.occurred_at BETWEEN t0 AND t1)),
		fresh AS (
			SELECT c.contact_id FROM candidates c
			WHERE (SELECT count(*) FROM public.events e WHERE e.contact_id = c.contact_id AND e.kind = 'opened'
				AND e.occurred_at BETWEEN t1 - d AND t1) >= k),
		stored AS (
			SELECT m.contact FROM segments.membership m
			WHERE m.segment_id = s.id AND m.contact IN (SELECT c.contact_id FROM candidates c))
		SELECT (SELECT count(*) FROM fresh f WHERE f.contact_id NOT IN (SELECT contact FROM stored)),
			(SELECT count(*) FROM stored m WHERE m.contact NOT IN (SELECT contact_id FROM fresh))
		INTO a, b;
		j := j + a;
		l := l + b;
	END LOOP;
	RAISE NOTICE 'by hand|%|%|%', j, l, round(extract(epoch FROM clock_timestamp() - started) * 1000);
END
$$;
SQL
cat >"$tmp/tick.sql" <<'SQL'
SET segments.now_override = '2025-06-16 12:00:00+00';
DO $$
DECLARE
	started timestamptz := clock_timestamp();
	n bigint := segments.tick();
BEGIN
	RAISE NOTICE 'tick|%|%|%', (SELECT count(*) FROM segments.membership_log l WHERE l.cause = 'time' AND l.joined),
		(SELECT count(*) FROM segments.membership_log l WHERE l.cause = 'time' AND NOT l.joined),
		round(extract(epoch FROM clock_timestamp() - started) * 1000);
END
$$;
SQL
chmod 644 "$tmp"/*.sql
q -f "$tmp/tick_by_hand.sql" 2>/dev/null
IFS='|' read -r _ hand_j hand_l hand_ms < <(q -f "$tmp/tick_by_hand.sql" 2>&1 | sed -n 's/.*NOTICE:  //p')
IFS='|' read -r _ tick_j tick_l tick_ms < <(q -f "$tmp/tick.sql" 2>&1 | sed -n 's/.*NOTICE:  //p')
printf '%-58s %8s ms   %8s ms %6.2fx   %s joins, %s leaves\n' "tick() after one day, 50 engagement segments" \
	"$tick_ms" "$hand_ms" "$(echo "$tick_ms / $hand_ms" | bc -l)" "$tick_j" "$tick_l"
if [ "$tick_j/$tick_l" != "$hand_j/$hand_l" ]; then
	echo "bench/large.sh: the tick made $tick_j joins and $tick_l leaves, the query by hand $hand_j and $hand_l" >&2
	failed=1
fi
clock 2025-06-16
verify
clock 2025-06-15

fi
if part tenant; then
say "1,000 segments in one tenant"
# data.sql gives contact i the tenant 1 + i % tenants: tenant 1's ids are
# the multiples of tenants
q -c "SELECT count(segments.create_segment('tenant ' || i, (CASE i % 4
	WHEN 0 THEN format('country = %L and score >= %s', (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + i / 4 % 5], i % 100)
	WHEN 1 THEN format('props.ltv >= %s and score < %s', 100 * (i % 50), 1 + i % 100)
	WHEN 2 THEN format('score != %s and plan = %L', i % 101, (ARRAY['free', 'pro', 'team'])[1 + i % 3])
	ELSE format('score between %s and %s and country != %L', i % 70, i % 70 + 30, (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + i % 5]) END)::segments.rule,
	tenant => 1)) FROM generate_series(0, 999) AS i" \
	-c "VACUUM ANALYZE segments.membership" >/dev/null || exit 1
q -c "TRUNCATE segments.membership_log" >/dev/null
twins
cat >"$tmp/tenant_update.sql" <<SQL
\\set id $tenants * random(1, $((contacts / tenants)))
\\set s random(0, 100)
UPDATE public.contacts SET country = (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + :s % 5], score = :s WHERE id = :id;
SQL
sed 's/public.contacts /public.contacts_twin /' "$tmp/tenant_update.sql" >"$tmp/tenant_update_twin.sql"
chmod 644 "$tmp"/*.sql
oracle_tenant() { oracle "UPDATE public.contacts_twin SET country = (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + :s % 5], score = :s WHERE id = :id" "$1" | sed "s/random(1, $contacts)/$tenants * random(1, $((contacts / tenants)))/"; }
row "single-row UPDATE, 1,000 segments in one tenant" "$tmp/tenant_update.sql" "$tmp/tenant_update_twin.sql" oracle_tenant
verify

fi
if part events; then
say "500 event segments"
q -c "SELECT count(segments.create_segment('events ' || i, format('event %L count >= %s within last %s days',
	(ARRAY['opened', 'clicked', 'delivered'])[1 + i % 3], 1 + i % 10, 1 + i % 365)::segments.rule)) FROM generate_series(0, 499) AS i" \
	-c "VACUUM ANALYZE segments.membership" >/dev/null || exit 1
q -c "TRUNCATE segments.membership_log" >/dev/null
twins
row "single event INSERT, 500 event segments" "$tmp/event.sql" "$tmp/event_twin.sql" oracle_event
verify

fi
exit "$failed"
