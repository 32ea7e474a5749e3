#!/usr/bin/env bash
# The benchmark: every performance goal (docs/design.md), each against its baseline
# measured in the same run, printed as one table of ratios.
#
#   sudo bench/run.sh [--scale reference|small] [--check] [--seconds N]
#                     [--runs N] [--rounds N] [--no-memory] [--here]
#   sudo bench/run.sh --regime large [--scale reference|small] [--seconds N] [--rounds N]
#
#   --regime large     the large regime instead (bench/large.sh): large
#                      memberships, many changes a write, data beyond
#                      shared buffers
#
#   --scale reference  1,000,000 contacts, 10,000,000 events over a year,
#                      about 2,000,000 list rows, 100 tenants (the default;
#                      about 30 minutes on 2 cores, 12 GB of disk)
#   --scale small      20,000 contacts, 200,000 events, 10 tenants (a minute)
#   --check            also check that every result of the extension equals
#                      its baseline's (builds, counts, the rebuilt view, the
#                      segments after the writes and the ticks) and fail
#                      when one differs; one run of each timing, 2 s per
#                      pgbench side unless --seconds says otherwise.  The
#                      test suite runs it at the small scale.
#   --seconds N        pgbench seconds per side of each throughput row (10)
#   --rounds N         pgbench runs of each side of each throughput row,
#                      alternately, the best kept (3; fsync-bound
#                      throughput moves by 10% from one run to the next)
#   --runs N           runs of each build, count and refresh, the best kept (3)
#   --no-memory        leave out the memory row (a 10,000,000-row COPY and
#                      one of half of it: about a quarter of the time)
#   --here             use the server and database of the PG* variables
#                      instead of a throwaway server; the data is generated
#                      there if public.contacts does not exist.  The scripts
#                      truncate segments.membership and its log: use a
#                      database made for it.
#
# Without --here it installs what is missing (scripts/setup.sh), runs a
# throwaway PostgreSQL 15 server (user postgres, a free port, a temporary
# directory removed on exit; shared_buffers a quarter of the memory, at
# most 2 GB), generates the data with bench/data.sql, attaches it, and runs:
#
#   bench/build.sql    create a segment      vs INSERT ... SELECT by hand
#   bench/preview.sql  preview_count         vs SELECT count(*) by hand
#   bench/refresh.sql  rebuilding and keeping current
#                                            vs REFRESH MATERIALIZED VIEW
#   bench/writes.sh    UPDATE, INSERT, COPY  vs twin tables without triggers
#                      and the memory of a long COPY
#   bench/tick.sh      tick() with nothing due (and as the clock moves on)
#   bench/reader.sql   a segments_reader's reads of a segment of every
#                      contact       vs the same reads by the owner
#   bench/feed.sql     segments.changes() at the start, middle and end of
#                      a log         vs the same rows read by id range
#
# Each prints its details as it goes; the table comes last, with the
# machine it ran on.  Ratios are "with the extension / without": for times
# lower is better, for throughputs (tps) higher is better.  A goal missed
# is reported, never an error; the exit status is non-zero only when a
# script failed or (--check) a result differed.  docs/benchmarks.md
# explains the method and gives the figures of the reference machine.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=("$@")

scale=reference
check=0
seconds=
runs=
rounds=
memory=1
here=0
while [ $# -gt 0 ]; do
	case $1 in
	--scale) scale=${2:-}; shift ;;
	--check) check=1 ;;
	--seconds) seconds=${2:-}; shift ;;
	--runs) runs=${2:-}; shift ;;
	--rounds) rounds=${2:-}; shift ;;
	--no-memory) memory=0 ;;
	--here) here=1 ;;
	--regime)
		if [ "${2:-}" != large ]; then echo "$0: --regime takes large" >&2; exit 2; fi
		shift 2
		large=(--scale "$scale")
		[ -n "$seconds" ] && large+=(--seconds "$seconds")
		[ -n "$rounds" ] && large+=(--rounds "$rounds")
		while [ $# -gt 0 ]; do large+=("$1"); shift; done
		exec "$root/bench/large.sh" "${large[@]}" ;;
	-h | --help) sed -n '2,50p' "${BASH_SOURCE[0]}"; exit 0 ;;
	*) echo "usage: $0 [--scale reference|small] [--check] [--seconds N] [--runs N] [--rounds N] [--no-memory] [--here] | --regime large [...]" >&2; exit 2 ;;
	esac
	shift
done
# sample_seconds: how often the memory row samples its COPY; the small
# scale's COPYs last about a second, and a sample a second could miss the
# first 10% of the rows, leaving the row without a figure.
case $scale in
reference) contacts=1000000 events=10000000 tenants=100 copy_rows=1000000 memory_rows=10000000 sample_seconds=1 ;;
small) contacts=20000 events=200000 tenants=10 copy_rows=20000 memory_rows=200000 sample_seconds=0.1 ;;
*) echo "bench/run.sh: --scale is reference or small" >&2; exit 2 ;;
esac
for v in "$seconds" "$runs" "$rounds"; do
	case $v in *[!0-9]*) echo "bench/run.sh: --seconds, --runs and --rounds take a whole number" >&2; exit 2 ;; esac
done
if [ "$check" = 1 ]; then
	seconds=${seconds:-2}
	runs=${runs:-1}
	rounds=${rounds:-1}
fi
seconds=${seconds:-10}
runs=${runs:-3}
rounds=${rounds:-3}

. "$root/bench/lib.sh"
if [ "$here" = 0 ]; then
	. "$root/scripts/as_root.sh"
	as_root "$root/bench/run.sh" -- "${args[@]}" || exit 1
	bench_server || exit 1
	export PGDATABASE=bench
	"$PGBIN/createdb" bench
fi


rows=$(mktemp /tmp/segments-bench-rows.XXXXXX)
chmod 644 "$rows"
trap 'rm -f "$rows"; if declare -F cluster_stop >/dev/null; then cluster_stop; fi' EXIT
failed=()

if [ -z "$(qv -c "SELECT to_regclass('public.contacts')")" ]; then
	say "data (bench/data.sql)"
	bench_data "$contacts" "$events" "$tenants"
fi

# part NAME COMMAND...: runs one script, its output shown, its rows collected
part() {
	local name=$1 t0
	shift
	say "$name"
	t0=$(date +%s.%N)
	if "$@"; then
		printf -- '-- %s: %.0f s\n' "$name" "$(secs_since "$t0")"
	else
		echo "-- $name FAILED" >&2
		failed+=("$name")
	fi
}
sqlpart() {	# name file: a psql script whose "row|" lines are collected
	local out
	out=$(mktemp)
	if q -v runs="$runs" -v updates=$((check ? 20 : 50)) -f "$root/bench/$2" >"$out" 2>&1; then
		grep -v '^row|' "$out" || true
		grep '^row|' "$out" >>"$rows"
		rm -f "$out"
	else
		cat "$out"
		rm -f "$out"
		return 1
	fi
}

part "create a segment (bench/build.sql)" sqlpart build build.sql
part "preview_count (bench/preview.sql)" sqlpart preview preview.sql
part "rebuild everything (bench/refresh.sql)" sqlpart refresh refresh.sql
part "reading membership as a reader (bench/reader.sql)" sqlpart reader reader.sql
part "the change feed (bench/feed.sql)" sqlpart feed feed.sql
writes_args=("$seconds")
if [ "$memory" = 1 ]; then writes_args=(--memory "${writes_args[@]}"); fi
part "writes (bench/writes.sh)" env BENCH_ROWS="$rows" WRITES_VERIFY="$check" WRITES_ROUNDS="$rounds" \
	COPY_ROWS="$copy_rows" MEMORY_ROWS="$memory_rows" SAMPLE_SECONDS="$sample_seconds" \
	bash "$root/bench/writes.sh" "${writes_args[@]}"
part "tick (bench/tick.sh)" env BENCH_ROWS="$rows" TICK_SMALL=0 TICK_VERIFY="$check" \
	bash "$root/bench/tick.sh" $((check ? 5 : 21))

# --- the table ----------------------------------------------------------------

# verdict RATIO GOAL: met or missed for goals "<= Nx", ">= Nx" and "flat"
verdict() {
	awk -v r="$1" -v g="$2" 'BEGIN {
		if (g == "flat") { print (r ~ /flat/ ? "met" : "missed"); exit }
		n = split(g, w, " ")
		if (n != 2 || r !~ /^[0-9.]+x/) { print "-"; exit }
		x = r + 0; lim = w[2] + 0
		print ((w[1] == "<=" ? x <= lim : x >= lim) ? "met" : "missed")
	}'
}

say "segments benchmark, scale $scale$([ "$check" = 1 ] && echo ", checked")"
bench_machine
echo "with = with the extension, without = the baseline; pgbench: best of $rounds alternations of ${seconds}s per side; builds, counts, refreshes: best of $runs"
echo
notes=()
printf '%-76s %20s %14s %12s  %-9s %s\n' work with without ratio goal verdict
printf '%s\n' "$(printf '%.0s-' {1..140})"
while IFS='|' read -r _ work with without ratio goal v note; do
	# the goals are those of the reference scale
	if [ "$scale" != reference ]; then
		v=-
	elif [ -z "$v" ]; then
		v=$(verdict "$ratio" "$goal")
	fi
	printf '%-76s %20s %14s %12s  %-9s %s\n' "$work" "$with" "$without" "$ratio" "$goal" "$v"
	if [ -n "$note" ]; then notes+=("$note"); fi
done <"$rows"
for n in "${notes[@]}"; do echo "* $n"; done
if [ "$memory" = 0 ]; then
	echo "(memory over a long COPY: not measured, --no-memory)"
fi

if [ "${#failed[@]}" -gt 0 ]; then
	echo
	echo "failed: ${failed[*]}" >&2
	exit 1
fi
