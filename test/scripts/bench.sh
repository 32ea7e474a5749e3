#!/usr/bin/env bash
# Test of the benchmark: bench/run.sh at the small scale with --check, on
# its own throwaway server (20,000 contacts, 200,000 events, 10 tenants).
#
#   sudo test/scripts/bench.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# Checks that the benchmark runs from end to end and that the extension's
# results equal the baselines' (bench/run.sh --check fails otherwise):
#   * every suite rule's build equals its hand-written INSERT ... SELECT,
#     contact by contact, and its preview_count the hand-written count;
#   * the refreshed materialized view equals the maintained membership of
#     every suite segment after single-row UPDATEs;
#   * after the writes (UPDATEs, event INSERTs, COPYs) and the ticks, every
#     benchmark segment verifies with nothing missing and nothing extra;
# and that the table holds every row of the performance goals
# (docs/design.md, "Performance goals").  Timings are
# printed, never checked.  Takes about a minute.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/bench.sh" -- "$@" || exit 1

out=$(mktemp /tmp/segments-bench-test.XXXXXX)
trap 'rm -f "$out"' EXIT

if ! "$root/bench/run.sh" --scale small --check >"$out" 2>&1; then
	cat "$out"
	echo "bench.sh: bench/run.sh --scale small --check failed" >&2
	exit 1
fi
cat "$out"

# each row of the table (the performance goals, then the rebuild baseline)
missing=0
for row in '^create a segment \(full build\), geometric mean of [0-9]+ rules ' \
	'^preview_count, geometric mean of [0-9]+ rules ' \
	'^single-row UPDATE of a rule column, 100 segments ' \
	'^the same, with 10 static and 10 overridden segments beside ' \
	'^single-row UPDATE of a rule column, 100 segments / 10 tenants ' \
	'^single event INSERT, 50 engagement segments ' \
	'^COPY of 20,000 events, 50 engagement segments ' \
	'^memory over a 200,000-row COPY, 50 segments ' \
	'^single purchase INSERT, 50 segments reading the purchases ' \
	'^single event INSERT, 50 segments reading only the purchases ' \
	'^tick\(\) with nothing due, 20,000 contacts, 20 time rules ' \
	'^rebuild [0-9]+ segments: refresh_segment, REFRESH MATERIALIZED VIEW ' \
	'^[0-9]+ segments current after a 1-row UPDATE' \
	'^count the members of a [0-9]+-member segment, reader limited by row-level security' \
	'^segments.changes\(\): 10,000 changes at the start of a [0-9]+-change log'; do
	if ! grep -Eq "$row.*[0-9.]+x" "$out" && ! grep -Eq "$row.* ms +- +- " "$out"; then
		echo "bench.sh: no figure in the table for: $row" >&2
		missing=1
	fi
done
# the checks ran: six groups of write segments (the static and overridden
# ones beside the UPDATE's among them) and the tick's segments
verified=$(grep -Ec "^# verify .*missing 0, extra 0$" "$out" || true)
if [ "$verified" -ne 7 ]; then
	echo "bench.sh: expected 7 verified groups of segments, found $verified" >&2
	missing=1
fi
[ "$missing" -eq 0 ]
echo "bench.sh: the benchmark ran at the small scale and every result equals its baseline's"
