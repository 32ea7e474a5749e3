# A throwaway PostgreSQL 15 cluster for the scripts that run as root
# (demo/run.sh, test/scripts/*.sh).  Source it, then:
#
#   cluster_start NAME [server options]
#
# creates a cluster in a new temporary directory (CLUSTER_DIR, also its
# unix socket directory), run by the user postgres on a free port, starts
# it with the options (e.g. -c fsync=off) and exports PGHOST, PGPORT and
# PGUSER for psql.  On exit the server is stopped and the directory
# removed.  When initdb or the server fails, it prints their log and
# returns non-zero.  The server's log is CLUSTER_DIR/server.log.
#
#   cluster_also DIR
#
# registers a second server a test started itself, with its data in DIR
# (under CLUSTER_DIR) and its log in DIR.log: it is stopped on exit, and
# cluster_fail shows its log too.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
CLUSTER_DIR=
cluster_started=0
cluster_others=()

cluster_also() { cluster_others+=("$1"); }

# shellcheck disable=SC2317  # called from the trap
cluster_stop() {
	local d
	for d in "${cluster_others[@]}"; do
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d" stop -m immediate -w >/dev/null 2>&1 || true
	done
	cluster_others=()
	if [ "$cluster_started" -eq 1 ]; then
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" stop -m fast -w -t 30 \
			>/dev/null 2>&1 ||
			runuser -u postgres -- "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" stop -m immediate -w \
				>/dev/null 2>&1 || true
		cluster_started=0
	fi
	if [ -n "$CLUSTER_DIR" ]; then
		rm -rf "$CLUSTER_DIR"
	fi
}

cluster_start() {
	local name=$1 root port
	shift
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	CLUSTER_DIR=$(mktemp -d "/tmp/segments-$name.XXXXXX")
	trap cluster_stop EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	chown postgres: "$CLUSTER_DIR"
	chmod 755 "$CLUSTER_DIR"
	port=$("$root/scripts/free_port.sh") || return 1
	if ! runuser -u postgres -- "$PGBIN/initdb" -D "$CLUSTER_DIR/data" -U postgres -A trust \
			-E UTF8 --no-locale >"$CLUSTER_DIR/initdb.log" 2>&1; then
		echo "$name: initdb failed:" >&2
		cat "$CLUSTER_DIR/initdb.log" >&2
		return 1
	fi
	cluster_started=1
	if ! runuser -u postgres -- "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" \
			-w -t 60 -o "-c listen_addresses='' -k $CLUSTER_DIR -p $port $*" start >/dev/null 2>&1; then
		echo "$name: the server did not start; its log:" >&2
		cat "$CLUSTER_DIR/server.log" >&2
		return 1
	fi
	export PGHOST=$CLUSTER_DIR PGPORT=$port PGUSER=postgres
}

# The extension installed: test/run.sh's setup does it; a test script run
# alone installs it (scripts/setup.sh).
cluster_require_install() {
	local root
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	if [ ! -x "$PGBIN/pg_config" ] ||
		[ ! -f "$("$PGBIN/pg_config" --sharedir)/extension/segments.control" ]; then
		"$root/scripts/setup.sh"
	fi
}

# What the test scripts ask of their cluster.
#   cluster_psql ARG...            psql, quiet, stopping at the first error
#   cluster_value DB SQL           the one value SQL returns in DB
#   cluster_wait_for DB SECONDS SQL
#                                  polls (every 0.2 s) until SQL returns t;
#                                  returns 1 when SECONDS have passed
#   cluster_fail NAME MESSAGE      prints "NAME: FAILED: MESSAGE" and the
#                                  last lines of the server log; exits 1
cluster_psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
cluster_value() { cluster_psql -d "$1" -At -c "$2"; }
cluster_wait_for() {
	local deadline=$(($(date +%s) + $2)) v
	while :; do
		v=$(cluster_value "$1" "$3" 2>/dev/null || true)
		[ "$v" = t ] && return 0
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}
cluster_fail() {
	local d
	echo "$1: FAILED: $2"
	if [ -f "$CLUSTER_DIR/server.log" ]; then
		echo "-- last lines of the server log:"
		tail -n 40 "$CLUSTER_DIR/server.log"
	fi
	for d in "${cluster_others[@]}"; do
		if [ -f "$d.log" ]; then
			echo "-- last lines of $(basename "$d").log:"
			tail -n 20 "$d.log"
		fi
	done
	exit 1
}
