# A throwaway Citus cluster for the scripts that run as root
# (test/scripts/citus.sh, bench/citus.sh).  Source it after
# scripts/cluster.sh, then:
#
#   citus_cluster_start NAME DB [server options]
#
# builds Citus when it is not installed (scripts/setup.sh --citus, from
# CITUS_SRC), starts a coordinator (cluster_start: PGHOST, PGPORT) and two
# workers on free ports, Citus preloaded, creates DB with the extension
# citus on each, puts the coordinator in the metadata and adds the
# workers.  Sets CITUS_COORDINATOR and CITUS_WORKERS (their ports).  The
# servers are stopped and removed on exit, as cluster_start's.

CITUS_COORDINATOR=
CITUS_WORKERS=()

citus_cluster_start() {
	local name=$1 db=$2 root n dir port
	shift 2
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	"$root/scripts/setup.sh" --citus || { echo "$name: Citus could not be installed" >&2; return 1; }
	local settings=(-c shared_preload_libraries=citus -c listen_addresses=localhost
		-c max_prepared_transactions=100 -c max_connections=200 "$@")
	cluster_start "$name" "${settings[@]}" || return 1
	CITUS_COORDINATOR=$PGPORT
	CITUS_WORKERS=()
	for n in 1 2; do
		dir=$CLUSTER_DIR/worker$n
		port=$("$root/scripts/free_port.sh") || { echo "$name: no free port for worker $n" >&2; return 1; }
		runuser -u postgres -- "$PGBIN/initdb" -D "$dir" -U postgres -A trust -E UTF8 --no-locale \
			>"$dir.initdb.log" 2>&1 || { echo "$name: initdb of worker $n failed" >&2; return 1; }
		cluster_also "$dir"
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir" -l "$dir.log" -w -t 60 \
			-o "-k $CLUSTER_DIR -p $port ${settings[*]}" start >/dev/null 2>&1 ||
			{ echo "$name: worker $n did not start" >&2; cat "$dir.log" >&2; return 1; }
		CITUS_WORKERS+=("$port")
	done
	for port in "$CITUS_COORDINATOR" "${CITUS_WORKERS[@]}"; do
		PGPORT=$port cluster_psql -d postgres -c "CREATE DATABASE $db" &&
			PGPORT=$port cluster_psql -d "$db" -c "CREATE EXTENSION citus" ||
			{ echo "$name: the database $db with Citus on port $port" >&2; return 1; }
	done
	cluster_psql -d "$db" -c "SELECT citus_set_coordinator_host('localhost', $CITUS_COORDINATOR)" \
		-c "SELECT citus_add_node('localhost', ${CITUS_WORKERS[0]})" \
		-c "SELECT citus_add_node('localhost', ${CITUS_WORKERS[1]})" >/dev/null ||
		{ echo "$name: adding the workers failed" >&2; return 1; }
}
