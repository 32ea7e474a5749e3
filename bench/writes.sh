#!/usr/bin/env bash
# Write cost of maintenance: throughput of writes to the attached tables
# against the same writes to twin tables without triggers, in one run.
#
#   PGHOST=... PGPORT=... PGDATABASE=... bench/writes.sh [seconds]
#
# Needs bench/data.sql loaded and the three tables attached (see README,
# "Performance").  It creates its twin tables and segments and removes them
# at the end.  Prints one row per workload: tps with and without, ratio.
set -euo pipefail
secs=${1:-15}
pgbench=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; psql -X -q -c "SELECT segments.drop_segment(id) FROM segments.segment WHERE name LIKE '"'"'bench %'"'"'" >/dev/null 2>&1 || true' EXIT

q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

q <<'SQL'
SET segments.now_override = '2025-06-15 12:00:00+00';
DROP TABLE IF EXISTS public.contacts_twin, public.events_twin;
CREATE TABLE public.contacts_twin (LIKE public.contacts INCLUDING ALL);
INSERT INTO public.contacts_twin SELECT * FROM public.contacts;
CREATE TABLE public.events_twin (LIKE public.events INCLUDING ALL);
VACUUM ANALYZE public.contacts_twin;
SQL

tps() {	# script file -> tps
	"$pgbench" -n -c 2 -j 2 -T "$secs" -f "$1" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}

row() {	# name script twin-script
	local a b
	b=$(tps "$3")
	a=$(tps "$2")
	printf '%-58s %10s %10s %6.2f\n' "$1" "$a" "$b" "$(echo "$a / $b" | bc -l)"
}

cat >"$tmp/update.sql" <<'SQL'
\set id random(1, 1000000)
\set s random(0, 100)
UPDATE public.contacts SET score = :s WHERE id = :id;
SQL
sed 's/public.contacts /public.contacts_twin /' "$tmp/update.sql" >"$tmp/update_twin.sql"
cat >"$tmp/untouched.sql" <<'SQL'
\set id random(1, 1000000)
UPDATE public.contacts SET email = email WHERE id = :id;
SQL
sed 's/public.contacts /public.contacts_twin /' "$tmp/untouched.sql" >"$tmp/untouched_twin.sql"
cat >"$tmp/event.sql" <<'SQL'
\set id random(1, 1000000)
INSERT INTO public.events VALUES (nextval('bench_event_id'), :id, 'opened', '2025-06-15 11:00:00+00', 'campaign-1', NULL);
SQL
sed 's/public.events /public.events_twin /' "$tmp/event.sql" >"$tmp/event_twin.sql"
q -c "CREATE SEQUENCE IF NOT EXISTS public.bench_event_id START 100000000"

printf '%-58s %10s %10s %6s\n' workload tps twin_tps ratio

q -c "SELECT count(segments.create_segment('bench field ' || i, format('score = %s and country = ''US''', i)::segments.rule)) FROM generate_series(0, 99) AS i" >/dev/null
row "single-row UPDATE of a rule column, 100 segments" "$tmp/update.sql" "$tmp/update_twin.sql"
row "single-row UPDATE of no rule's column, 100 segments" "$tmp/untouched.sql" "$tmp/untouched_twin.sql"
q -c "SELECT segments.drop_segment(id) FROM segments.segment WHERE name LIKE 'bench field %'" >/dev/null

q -c "SELECT count(segments.create_segment('bench opens ' || i, format('event ''opened'' count >= %s within last %s days', 1 + i % 5, 10 + i)::segments.rule)) FROM generate_series(0, 49) AS i" >/dev/null
row "single event INSERT, 50 engagement segments" "$tmp/event.sql" "$tmp/event_twin.sql"
q -c "SELECT segments.drop_segment(id) FROM segments.segment WHERE name LIKE 'bench opens %'" >/dev/null

q -c "DELETE FROM public.events WHERE id >= 100000000; DROP TABLE public.contacts_twin, public.events_twin; DROP SEQUENCE public.bench_event_id" >/dev/null
