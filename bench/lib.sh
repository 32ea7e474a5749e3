# Shared by the scripts of bench/ that run their own server: source it.
#
#   bench_server             installs what is missing (scripts/setup.sh) and
#                            starts a throwaway server for benchmarks (as root)
#   bench_start NAME         bench_server, then an empty database bench
#                            (PGDATABASE) and a temporary directory ($tmp,
#                            /tmp/segments-NAME.*), both gone on exit
#   say TEXT                 prints a heading
#   bench_data N E T         generates bench/data.sql's data (N contacts, E
#                            events, T tenants) into the current database
#                            (PGDATABASE) and attaches it
#   bench_machine            prints the machine, the server and the data
#   bench_scale_options NAME ARG...
#                            reads --scale small|reference, --seconds N and
#                            --runs N (defaults small, 10, 3) into scale,
#                            seconds and runs, and the scale's contacts,
#                            events and tenants; exits 2 with bench/NAME.sh's
#                            usage on anything else

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PATH=/usr/lib/postgresql/15/bin:$PATH

bench_scale_options() {
	local name=$1
	shift
	scale=small seconds=10 runs=3
	while [ $# -gt 0 ]; do
		case $1 in
		--scale) scale=$2; shift 2 ;;
		--seconds) seconds=$2; shift 2 ;;
		--runs) runs=$2; shift 2 ;;
		*) echo "usage: bench/$name.sh [--scale small|reference] [--seconds N] [--runs N]" >&2; exit 2 ;;
		esac
	done
	case $scale in
	small) contacts=20000 events=200000 tenants=10 ;;
	reference) contacts=1000000 events=10000000 tenants=100 ;;
	*) echo "bench/$name.sh: unknown scale $scale" >&2; exit 2 ;;
	esac
}

q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
qv() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
secs_since() { echo "$(date +%s.%N) - $1" | bc -l; }
fmt() { printf '%s' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }	# 1000000 -> 1,000,000

# A server run by the user postgres on a free port in a temporary directory,
# removed on exit (scripts/cluster.sh); shared_buffers a quarter of the
# memory, at most 2 GB, or BENCH_SHARED_BUFFERS (e.g. 32MB: a small data
# set that does not fit); checkpoints far apart (the scripts CHECKPOINT
# before what they time).
bench_server() {
	local mem_mb shared_mb
	"$bench_root/scripts/setup.sh" || return 1
	. "$bench_root/scripts/cluster.sh"
	mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
	shared_mb=$((mem_mb / 4 < 2048 ? mem_mb / 4 : 2048))
	cluster_start bench -c shared_buffers=${BENCH_SHARED_BUFFERS:-${shared_mb}MB} -c max_wal_size=8GB \
		-c checkpoint_timeout=30min || return 1
}

bench_start() {
	bench_server || return 1
	tmp=$(mktemp -d "/tmp/segments-$1.XXXXXX")
	chmod 755 "$tmp"
	trap 'rm -rf "$tmp"; cluster_stop' EXIT
	export PGDATABASE=bench
	createdb bench
}

say() { printf '\n== %s\n' "$*"; }

bench_data() {
	local t0
	t0=$(date +%s.%N)
	q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS segments" \
		-v contacts="$1" -v events="$2" -v tenants="$3" -f "$bench_root/bench/data.sql" &&
	q -c "SELECT segments.attach_contacts('public.contacts', key => 'id', tenant => 'account_id')" \
		-c "SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'occurred_at')" \
		-c "SELECT segments.attach_events('public.purchases', contact => 'contact_id', at => 'purchased_at', constant_kind => 'purchased', source => 'shop')" \
		-c "SELECT segments.attach_lists('public.list_members', contact => 'contact_id', list => 'list_id', at => 'subscribed_at')" >/dev/null || return 1
	printf 'data: %s contacts, %s events, %s tenants generated and attached in %.0f s\n' \
		"$(fmt "$1")" "$(fmt "$2")" "$3" "$(secs_since "$t0")"
}

bench_machine() {
	echo "machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/^MemTotal:/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo) of memory"
	echo "server: $(qv -c "SELECT version()" | cut -d, -f1); shared_buffers $(qv -c "SHOW shared_buffers"), work_mem $(qv -c "SHOW work_mem")"
	echo "data: $(qv -c "SELECT to_char((SELECT count(*) FROM public.contacts), 'FM9,999,999,999') || ' contacts, ' || to_char((SELECT count(*) FROM public.events), 'FM9,999,999,999') || ' events, ' || to_char((SELECT count(*) FROM public.list_members), 'FM9,999,999,999') || ' list rows, ' || (SELECT count(DISTINCT account_id) FROM public.contacts) || ' tenants'")"
}
