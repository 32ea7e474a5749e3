#!/usr/bin/env bash
# Fuzz the rule parser, encoder, validator and printer with libFuzzer
# (ASan + UBSan).  Part of test/run.sh; also usable on its own.
#
#   test/fuzz/run.sh                       60 seconds, one process
#   FUZZ_SECONDS=3600 test/fuzz/run.sh -jobs=4 -workers=4
#                                          a longer run: 4 jobs of an hour each,
#                                          4 at a time (their logs are printed
#                                          if one fails)
#
# Extra arguments go to the fuzzer (see test/fuzz/fuzz_rule -help=1).  The
# seeds in test/fuzz/corpus are copied to a temporary directory, so the
# repository is not written to, except that when the fuzzer fails, the input
# that crashed, leaked or hung is saved as test/fuzz/artifacts/<kind>-<sha1>;
# replay one with `test/fuzz/fuzz_rule <file>`.  Needs clang-14 and
# libclang-rt-14-dev (scripts/setup.sh --fuzz).  Exit status 0 iff the fuzzer
# found nothing.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
artifacts=$here/artifacts

log=$(mktemp /tmp/segments-fuzz-build.XXXXXX)
work=$(mktemp -d /tmp/segments-fuzz.XXXXXX)
trap 'rm -rf "$work" "$log"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! make -C "$root" PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config fuzz >"$log" 2>&1; then
	echo "test/fuzz/run.sh: make fuzz failed:" >&2
	cat "$log" >&2
	exit 1
fi

mkdir -p "$work/corpus" "$work/artifacts"
cp -R "$here/corpus/." "$work/corpus/"

# With -jobs the fuzzer writes fuzz-<n>.log into the current directory.
cd "$work" || exit 1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
"$here/fuzz_rule" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-dict="$here/fuzz.dict" -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
	"$@" "$work/corpus" >"$work/fuzz.log" 2>&1
rc=$?

if [ "$rc" -eq 0 ]; then
	# A summary rather than the whole progress log.
	grep -E '^(Done|stat::number_of_executed_units)' "$work/fuzz.log" || true
	echo "fuzz: ok ($seconds s)"
else
	echo "fuzz: FAILED (exit status $rc); fuzzer output:"
	tail -n 100 "$work/fuzz.log"
	for f in "$work"/fuzz-*.log; do
		[ -e "$f" ] || continue
		echo "-- $(basename "$f"):"
		tail -n 60 "$f"
	done
	# Keep what it found (the work directory is removed on exit).
	if [ -n "$(ls -A "$work/artifacts")" ]; then
		mkdir -p "$artifacts" && cp "$work"/artifacts/* "$artifacts/" &&
			echo "saved in $artifacts:" && ls -l "$artifacts"
	fi
fi
exit "$rc"
