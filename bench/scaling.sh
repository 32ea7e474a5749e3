#!/usr/bin/env bash
# How the costs grow: with contacts, with segments, with tenants.  Each
# figure is measured against its baseline in the same run, as in
# bench/run.sh, so that the curves show the extension's share.
#
#   sudo bench/scaling.sh [--contacts "100000 300000 1000000"] [--seconds N] [--rounds N]
#
#   --contacts LIST  the points of the contacts axis (three by default);
#                    each has 10 events and about 2 list rows per contact,
#                    100 tenants
#   --seconds N      pgbench seconds per side of each throughput figure (10)
#   --rounds N       pgbench runs of each side, alternately, the best kept (2)
#
# Axes:
#   contacts  at each point, a database of that size: a build and a
#             preview_count of the suite's rules (sums, and the geometric
#             mean of the ratios to the hand-written SQL), a single-row
#             UPDATE with 100 segments and a single event INSERT with 50
#             engagement segments (tps with and without), a tick with
#             nothing due (20 time rules);
#   segments  on the first point's data: the UPDATE with 10, 100 and 1,000
#             segments naming the column; the event INSERT with 5, 50 and
#             500 engagement segments;
#   tenants   on the first point's data, its contacts spread over 1, 10 and
#             100 tenants: the UPDATE with 1,000 segments spread evenly over
#             them (1,000, 100 and 10 per tenant).
# The segments and tenants axes use the smallest data: a write's cost does
# not follow the contacts (the contacts axis shows it), and 1,000 builds
# stay quick.  Runs a throwaway server (as bench/run.sh does); on 2 cores
# the default points take about 25 minutes.  Prints a table per axis.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=("$@")
points="100000 300000 1000000"
seconds=10
rounds=2
while [ $# -gt 0 ]; do
	case $1 in
	--contacts) points=${2:-}; shift ;;
	--seconds) seconds=${2:-}; shift ;;
	--rounds) rounds=${2:-}; shift ;;
	-h | --help) sed -n '2,31p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "usage: $0 [--contacts \"N N N\"] [--seconds N] [--rounds N]" >&2; exit 2 ;;
	esac
	shift
done
for v in $points $seconds $rounds; do
	case $v in '' | *[!0-9]*) echo "bench/scaling.sh: --contacts, --seconds and --rounds take whole numbers" >&2; exit 2 ;; esac
done
read -r -a points <<<"$points"
[ "${#points[@]}" -gt 0 ] || { echo "bench/scaling.sh: no points" >&2; exit 2; }

. "$root/scripts/as_root.sh"
as_root "$root/bench/scaling.sh" -- "${args[@]}" || exit 1
. "$root/bench/lib.sh"
bench_server || exit 1

log=$(mktemp /tmp/segments-scaling.XXXXXX)
rows=$(mktemp /tmp/segments-scaling-rows.XXXXXX)
chmod 644 "$rows"
trap 'rm -f "$log" "$rows"; cluster_stop' EXIT
out=()	# the tables, printed at the end

# field ROWS-FILE PATTERN N: field N (2 work, 3 with, 4 without, 5 ratio)
# of the first row whose work matches PATTERN
field() { awk -F'|' -v p="$2" -v n="$3" '$2 ~ p {print $n; exit}' "$1"; }

# run_part NAME COMMAND...: its output into the log, shown when it fails
run_part() {
	local name=$1 t0
	shift
	t0=$(date +%s.%N)
	if ! "$@" >"$log" 2>&1; then
		cat "$log"
		echo "bench/scaling.sh: $name failed" >&2
		exit 1
	fi
	printf -- '-- %s: %.0f s\n' "$name" "$(secs_since "$t0")"
}
sql_rows() { q -v runs=1 -f "$root/bench/$1" | grep '^row|' >>"$rows"; }
writes() { env BENCH_ROWS="$rows" WRITES_ROUNDS="$rounds" "$@" bash "$root/bench/writes.sh" "$seconds"; }	# writes VAR=VALUE...

# --- contacts ---------------------------------------------------------------

out+=("$(printf '%-11s %22s %22s %26s %26s %9s' contacts "build ms (hand), ratio" "count ms (hand), ratio" "UPDATE, 100 segments" "event INSERT, 50 segments" "tick ms")")
for n in "${points[@]}"; do
	export PGDATABASE=scale_$n
	say "contacts: $(fmt "$n")"
	createdb "$PGDATABASE"
	run_part "data" bench_data "$n" $((10 * n)) 100
	: >"$rows"
	run_part "builds" sql_rows build.sql
	run_part "counts" sql_rows preview.sql
	run_part "writes" writes WRITES_ROWS="update event"
	run_part "tick" env BENCH_ROWS="$rows" TICK_SMALL=0 TICK_CROSSINGS=0 bash "$root/bench/tick.sh" 11
	out+=("$(printf '%-11s %22s %22s %26s %26s %9s' "$(fmt "$n")" \
		"$(field "$rows" '^create' 3 | tr -d ' ms') ($(field "$rows" '^create' 4 | tr -d ' ms')), $(field "$rows" '^create' 5)" \
		"$(field "$rows" '^preview' 3 | tr -d ' ms') ($(field "$rows" '^preview' 4 | tr -d ' ms')), $(field "$rows" '^preview' 5)" \
		"$(field "$rows" 'UPDATE of a rule' 3) / $(field "$rows" 'UPDATE of a rule' 4 | tr -d ' tps'), $(field "$rows" 'UPDATE of a rule' 5)" \
		"$(field "$rows" 'event INSERT' 3) / $(field "$rows" 'event INSERT' 4 | tr -d ' tps'), $(field "$rows" 'event INSERT' 5)" \
		"$(field "$rows" '^tick' 3 | tr -d ' ms')")")
	echo "${out[-1]}"
	# only the first point's data is kept, for the other axes
	if [ "$n" != "${points[0]}" ]; then
		psql -X -q -d postgres -c "DROP DATABASE $PGDATABASE"
	fi
done
export PGDATABASE=scale_${points[0]}
base=$(fmt "${points[0]}")

# --- segments ---------------------------------------------------------------

out+=("" "$(printf '%-56s %16s %16s %8s' "segments ($base contacts)" with without ratio)")
for k in 10 100 1000; do
	say "segments: $k"
	: >"$rows"
	run_part "UPDATE, $k segments" writes WRITES_ROWS=update FIELD_SEGMENTS=$k
	run_part "event INSERT, $((k / 2)) segments" writes WRITES_ROWS=event ENGAGEMENT_SEGMENTS=$((k / 2))
	for w in 'UPDATE of a rule' 'event INSERT'; do
		out+=("$(printf '%-56s %16s %16s %8s' "$(field "$rows" "$w" 2)" "$(field "$rows" "$w" 3)" "$(field "$rows" "$w" 4)" "$(field "$rows" "$w" 5)")")
		echo "${out[-1]}"
	done
done

# --- tenants ----------------------------------------------------------------

out+=("" "$(printf '%-56s %16s %16s %8s' "tenants ($base contacts, 1,000 segments)" with without ratio)")
for t in 1 10 100; do
	say "tenants: $t"
	: >"$rows"
	# no segments exist here: the UPDATE only moves the contacts
	run_part "contacts spread over $t tenants" \
		q -c "UPDATE public.contacts SET account_id = 1 + id % $t WHERE account_id <> 1 + id % $t" -c "VACUUM ANALYZE public.contacts"
	run_part "UPDATE, 1,000 segments over $t tenants" writes WRITES_ROWS=tenants TENANT_SEGMENTS=1000
	out+=("$(printf '%-56s %16s %16s %8s' "$(field "$rows" 'UPDATE' 2 | sed 's/.*, //')" "$(field "$rows" 'UPDATE' 3)" "$(field "$rows" 'UPDATE' 4)" "$(field "$rows" 'UPDATE' 5)")")
	echo "${out[-1]}"
done

say "segments scaling; pgbench: best of $rounds alternations of ${seconds}s per side"
bench_machine
echo
printf '%s\n' "${out[@]}"
