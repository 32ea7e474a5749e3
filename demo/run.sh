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

. "$root/scripts/as_root.sh"
as_root "$root/demo/run.sh" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin

"$root/scripts/setup.sh"

. "$root/scripts/cluster.sh"
# Quiet unless it fails.
cluster_start demo || exit 1

# stderr into stdout so that each error shows right after its query.
"$PGBIN/psql" -X -v ON_ERROR_STOP=0 -e -d postgres -f "$root/demo/demo.sql" 2>&1
