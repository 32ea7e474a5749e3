#!/usr/bin/env bash
# The segments demo: a walkthrough of the extension on a throwaway server.
#
#   sudo demo/run.sh
#
# Installs and builds what is missing (scripts/setup.sh), creates a temporary
# PostgreSQL 15 cluster (run by the user postgres, on a free port, with its
# unix socket in the temporary directory), runs demo/demo.sql with psql
# echoing each query, then stops the server and removes the cluster.
# demo.sql generates its sample data with bench/data.sql (20,000 contacts,
# 200,000 events; a few seconds).  Statements that are meant to fail show
# their errors without stopping the demo; any other error stops it, and
# this script then exits non-zero.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		exec sudo -- "$root/demo/run.sh" "$@"
	fi
	echo "demo/run.sh: must run as root (and sudo is not available)" >&2
	exit 1
fi

PGBIN=/usr/lib/postgresql/15/bin

"$root/scripts/setup.sh"

tmp=$(mktemp -d /tmp/segments-demo.XXXXXX)
pgdata=$tmp/data
started=0

cleanup() {
	if [ "$started" -eq 1 ]; then
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$pgdata" stop -m fast -w \
			>/dev/null 2>&1 ||
			runuser -u postgres -- "$PGBIN/pg_ctl" -D "$pgdata" stop -m immediate -w \
				>/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

chown postgres: "$tmp"
port=$("$root/scripts/free_port.sh")

# Quiet unless it fails.
if ! runuser -u postgres -- "$PGBIN/initdb" -D "$pgdata" -U postgres -A trust \
		-E UTF8 --no-locale >"$tmp/initdb.log" 2>&1; then
	cat "$tmp/initdb.log" >&2
	exit 1
fi

started=1
if ! runuser -u postgres -- "$PGBIN/pg_ctl" -D "$pgdata" -l "$tmp/server.log" -w -t 60 \
		-o "-c listen_addresses='' -k $tmp -p $port" start >/dev/null 2>&1; then
	echo "demo/run.sh: the server did not start; its log:" >&2
	cat "$tmp/server.log" >&2
	exit 1
fi

# stderr into stdout so that each error shows right after its query.
"$PGBIN/psql" -X -v ON_ERROR_STOP=0 -e -h "$tmp" -p "$port" -U postgres \
	-d postgres -f "$root/demo/demo.sql" 2>&1
