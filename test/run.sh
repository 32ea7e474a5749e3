#!/usr/bin/env bash
# The whole test suite of segments.
#
#   sudo test/run.sh
#
# Installs what is missing and builds/installs the extension
# (scripts/setup.sh --fuzz --node), then runs every suite:
#
#   regress    pg_regress on a throwaway instance: the Makefile's REGRESS
#   isolation  pg_isolation_regress likewise: the Makefile's ISOLATION
#   fuzz       the libFuzzer harness for FUZZ_SECONDS (default 60) seconds
#   scripts    every executable test/scripts/*.sh, one test each (exit 0 = pass)
#
# Each pg_regress test counts as one test; a test pg_regress did not report
# (a crash, a server that would not start) counts as failed.  The last line
# of output is always "N passed, N failed"; the exit status is non-zero when
# anything failed or could not run.
#
# Runs from any directory, as root (the servers and pg_regress run as the
# user postgres), on a clean clone with nothing running; everything it
# creates goes to a temporary directory removed on exit.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

. "$root/scripts/as_root.sh"
if ! as_root "$root/test/run.sh" FUZZ_SECONDS="${FUZZ_SECONDS:-60}" -- "$@"; then
	echo "0 passed, 1 failed"
	exit 1
fi

PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
PGBIN=/usr/lib/postgresql/15/bin
PGXSDIR=/usr/lib/postgresql/15/lib/pgxs
PG_REGRESS=$PGXSDIR/src/test/regress/pg_regress
PG_ISOLATION_REGRESS=$PGXSDIR/src/test/isolation/pg_isolation_regress

passed=0
failed=0
tmp=

# shellcheck disable=SC2317  # called from the trap
cleanup() {
	local pidfile
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		# A server left behind by an interrupted pg_regress.
		while IFS= read -r pidfile; do
			runuser -u postgres -- "$PGBIN/pg_ctl" -D "$(dirname "$pidfile")" \
				stop -m immediate -w >/dev/null 2>&1 || true
		done < <(find "$tmp" -name postmaster.pid 2>/dev/null)
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# count SUITE PASSED FAILED
count() {
	echo "== $1: $2 passed, $3 failed"
	passed=$((passed + $2))
	failed=$((failed + $3))
}

finish() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

if ! "$root/scripts/setup.sh" --fuzz --node; then
	echo "test/run.sh: scripts/setup.sh failed; nothing could be tested" >&2
	count setup 0 1
	finish
fi

tmp=$(mktemp -d /tmp/segments-test.XXXXXX)
chown postgres: "$tmp"
chmod 755 "$tmp"

makevar() {
	make -s --no-print-directory -C "$root" PG_CONFIG="$PG_CONFIG" "print-$1"
}

# pg_suite NAME DRIVER TESTS OPTS DIR...
#   Run DRIVER (pg_regress or pg_isolation_regress) as postgres on a temporary
#   instance over a copy of the repository's DIRs, then count its results.
pg_suite() {
	local name=$1 driver=$2 tests=$3 opts=$4
	shift 4
	local wd="$tmp/$name" d port rc ntests npass nfail reported
	local -a logs tlist olist
	read -r -a tlist <<<"$tests"
	read -r -a olist <<<"$opts"
	ntests=${#tlist[@]}

	mkdir -p "$wd"
	for d in "$@"; do
		[ -d "$root/$d" ] && cp -R "$root/$d" "$wd/"
	done
	chown -R postgres: "$wd"

	if ! port=$("$root/scripts/free_port.sh"); then
		count "$name" 0 "$((ntests > 0 ? ntests : 1))"
		return
	fi

	echo "== $name: ${tlist[*]}"
	(
		cd "$wd" &&
		runuser -u postgres -- "$driver" "${olist[@]}" \
			--temp-instance="$wd/tmp_check" --inputdir="$wd" --outputdir="$wd" \
			--bindir="$PGBIN" --port="$port" "${tlist[@]}"
	) >"$wd/output" 2>&1
	rc=$?
	cat "$wd/output"

	# PostgreSQL 15: "test NAME ... ok 12 ms", "     NAME ... FAILED 3 ms",
	# "... failed (ignored)".  PostgreSQL 16 and later print TAP:
	# "ok 1 - NAME 12 ms", "not ok 2 + NAME 3 ms".
	npass=$(grep -cE '^(test |     )\s*\S+\s+\.\.\. (ok|failed \(ignored\))|^ok [0-9]+ +[-+] ' "$wd/output")
	nfail=$(grep -cE '^(test |     )\s*\S+\s+\.\.\. FAILED|^not ok [0-9]+ +[-+] ' "$wd/output")
	reported=$((npass + nfail))
	# Tests that never reported (a crash, a server that did not start).
	if [ "$reported" -lt "$ntests" ]; then
		nfail=$((ntests - npass))
	fi
	# The driver failed although every test passed (or it failed to start).
	if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		nfail=1
	fi

	if [ "$nfail" -gt 0 ]; then
		echo "-- $name failed (exit status $rc)"
		if [ -s "$wd/regression.diffs" ]; then
			echo "-- $wd/regression.diffs:"
			cat "$wd/regression.diffs"
		fi
		# Server logs, when the tests did not run or a server process died.
		logs=()
		if ! grep -q "running regression test queries" "$wd/output"; then
			logs=("$wd/log/initdb.log" "$wd/log/postmaster.log")
		elif [ "$reported" -eq 0 ] || grep -qE "terminated abnormally|exited with exit code|connection to server was lost" "$wd/output" "$wd/regression.diffs" 2>/dev/null; then
			logs=("$wd/log/postmaster.log")
		fi
		for d in "${logs[@]}"; do
			if [ -s "$d" ]; then
				echo "-- last lines of ${d#"$wd/"}:"
				tail -n 40 "$d"
			fi
		done
	fi
	count "$name" "$npass" "$nfail"
}

# a. regression tests
if tests=$(makevar regress) && opts=$(makevar regress-opts); then
	if [ -z "$tests" ]; then
		echo "== regress: REGRESS is empty, nothing to run"
	elif [ ! -x "$PG_REGRESS" ]; then
		echo "test/run.sh: $PG_REGRESS not found" >&2
		count regress 0 1
	else
		pg_suite regress "$PG_REGRESS" "$tests" "$opts" sql expected input output data
	fi
else
	echo "test/run.sh: could not read REGRESS from the Makefile" >&2
	count regress 0 1
fi

# b. isolation tests
if tests=$(makevar isolation) && opts=$(makevar isolation-opts); then
	if [ -z "$tests" ]; then
		echo "== isolation: ISOLATION is empty, skipped"
	elif [ ! -x "$PG_ISOLATION_REGRESS" ]; then
		echo "test/run.sh: $PG_ISOLATION_REGRESS not found" >&2
		count isolation 0 1
	else
		pg_suite isolation "$PG_ISOLATION_REGRESS" "$tests" "$opts" test/isolation/specs test/isolation/expected
	fi
else
	echo "test/run.sh: could not read ISOLATION from the Makefile" >&2
	count isolation 0 1
fi

# c. fuzzing
echo "== fuzz: ${FUZZ_SECONDS:-60} seconds"
if "$root/test/fuzz/run.sh"; then
	count fuzz 1 0
else
	count fuzz 0 1
fi

# d. test scripts (stress and crash tests)
shopt -s nullglob
scripts=()
for f in "$root"/test/scripts/*.sh; do
	[ -x "$f" ] && scripts+=("$f")
done
if [ "${#scripts[@]}" -eq 0 ]; then
	echo "== scripts: no executable test/scripts/*.sh, nothing to run"
else
	spass=0
	sfail=0
	for f in "${scripts[@]}"; do
		log="$tmp/script-$(basename "$f").log"
		if (cd "$root" && "$f") >"$log" 2>&1; then
			echo "script ${f#"$root/"} ... ok"
			spass=$((spass + 1))
		else
			echo "script ${f#"$root/"} ... FAILED (exit status $?); output:"
			cat "$log"
			sfail=$((sfail + 1))
		fi
	done
	count scripts "$spass" "$sfail"
fi

finish
