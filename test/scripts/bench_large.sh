#!/usr/bin/env bash
# Test of the large regime's benchmark: bench/large.sh at the small scale
# (50,000 contacts, 500,000 events), a second a side, on its own throwaway
# server.
#
#   sudo test/scripts/bench_large.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# Checks that it runs from end to end: every segment verifies with nothing
# missing and nothing extra after each part's writes, and tick() after a
# day makes the same joins and leaves as the set query written by hand
# (bench/large.sh fails otherwise); and that it prints every row, with
# the changes a write and the WAL a write.  Timings are printed, never
# checked.  Takes two to three minutes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/bench_large.sh" -- "$@" || exit 1

out=$(mktemp /tmp/segments-bench-large-test.XXXXXX)
trap 'rm -f "$out"' EXIT

if ! "$root/bench/large.sh" --scale small --seconds 1 --rounds 1 >"$out" 2>&1; then
	cat "$out"
	echo "bench_large.sh: bench/large.sh --scale small failed" >&2
	exit 1
fi
cat "$out"

missing=0
for row in '^single-row UPDATE, 100 large field segments .* changes a write$' \
	'^single event INSERT, 50 engagement segments .* changes a write$' \
	'^tick\(\) after one day, 50 engagement segments .* leaves$' \
	'^single-row UPDATE, 1,000 segments in one tenant .* changes a write$' \
	'^single event INSERT, 500 event segments .* changes a write$'; do
	if ! grep -Eq "$row" "$out"; then
		echo "bench_large.sh: no row matching $row" >&2
		missing=1
	fi
done
if [ "$(grep -c '^  WAL a write ' "$out")" != 4 ]; then
	echo "bench_large.sh: not every write row says the WAL a write" >&2
	missing=1
fi
exit "$missing"
