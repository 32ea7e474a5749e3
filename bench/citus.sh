#!/usr/bin/env bash
# segments on a Citus cluster (docs/design.md, "On a Citus cluster"): a
# coordinator and two workers on this machine, against the same work by
# hand on the cluster and against one server, in the same run.  The data is
# bench/data.sql's keyed per tenant (bench/keyed.sql), on the cluster
# distributed by the tenant and co-located.  Prints:
#
#   * builds (bench/build.sql) and preview_count (bench/preview.sql) of the
#     rule suite, each against the hand-written query (joining on both
#     columns), on the cluster and on one server;
#   * single-row UPDATE of a rule column with 100 segments and single event
#     INSERT with 50 engagement segments, through the coordinator, against
#     twin distributed tables without triggers (pgbench, alternately, the
#     best kept); the same on one server.
#
#   sudo bench/citus.sh [--scale small|reference] [--seconds N] [--runs N]
#
#   --scale small      20,000 contacts, 200,000 events, 10 tenants (default;
#                      about ten minutes on 2 cores)
#   --scale reference  1,000,000 contacts, 10,000,000 events, 100 tenants
#   --seconds N        pgbench seconds per side of each write row (10)
#   --runs N           runs of each build and count, the best kept (3); and
#                      pgbench runs of each side of each write row
#
# On two cores three servers share what one server has alone: the cluster
# is not faster here, and the figures say what distributing costs, not what
# more machines gain.  Every segment written to is verified before it is
# dropped: a difference makes the script fail; figures never do.

set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=("$@")
. "$root/bench/lib.sh"
bench_scale_options citus "$@"
. "$root/scripts/as_root.sh"
as_root "$root/bench/citus.sh" CITUS_SRC="${CITUS_SRC:-}" -- "${args[@]}" || exit 1
. "$root/scripts/cluster.sh"
. "$root/scripts/citus_cluster.sh"
"$root/scripts/setup.sh" || exit 1
export PGDATABASE=bench
citus_cluster_start bench-citus bench -c max_wal_size=4GB || exit 1
cluster=$PGPORT
tmp=$(mktemp -d /tmp/segments-bench-citus-files.XXXXXX)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"; cluster_stop' EXIT

# one server beside it, for the same work without Citus
single_dir=$CLUSTER_DIR/single
single=$("$root/scripts/free_port.sh") || exit 1
runuser -u postgres -- "$PGBIN/initdb" -D "$single_dir" -U postgres -A trust -E UTF8 --no-locale >/dev/null 2>&1 || exit 1
cluster_also "$single_dir"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$single_dir" -l "$single_dir.log" -w -t 60 \
	-o "-k $CLUSTER_DIR -p $single -c max_wal_size=4GB" start >/dev/null 2>&1 || exit 1
PGPORT=$single createdb bench || exit 1
failed=0
on() { local port=$1; shift; PGPORT=$port "$@"; }

say "data: bench/data.sql, keyed per tenant, on the cluster and on one server"
attach="SELECT segments.attach_contacts('public.contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT segments.attach_events('public.purchases', contact => 'contact_id', at => 'purchased_at', constant_kind => 'purchased', source => 'shop');
SELECT segments.attach_lists('public.list_members', contact => 'contact_id', list => 'list_id', at => 'subscribed_at');"
for port in "$cluster" "$single"; do
	t0=$(date +%s.%N)
	on "$port" q -c "SET client_min_messages = warning" -c "CREATE EXTENSION segments" \
		-v contacts="$contacts" -v events="$events" -v tenants="$tenants" -f "$root/bench/data.sql" || exit 1
	on "$port" q -v tenants="$tenants" -f "$root/bench/keyed.sql" >/dev/null || exit 1
	if [ "$port" = "$cluster" ]; then
		on "$port" q -c "SET client_min_messages = warning" \
			-c "ALTER TABLE public.events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (account_id, id)" \
			-c "ALTER TABLE public.purchases DROP CONSTRAINT purchases_pkey, ADD PRIMARY KEY (account_id, id)" \
			-c "SELECT create_distributed_table('public.contacts', 'account_id')" \
			-c "SELECT create_distributed_table(t, 'account_id', colocate_with => 'public.contacts')
				FROM unnest(ARRAY['public.events', 'public.purchases', 'public.list_members']) t" \
			-c "SELECT truncate_local_data_after_distributing_table(t)
				FROM unnest(ARRAY['public.contacts', 'public.events', 'public.purchases', 'public.list_members']) t" \
			>/dev/null || exit 1
	fi
	on "$port" q -c "SET client_min_messages = warning" -c "$attach" >/dev/null || exit 1
	printf 'data on %s: %s contacts, %s events, %s tenants in %.0f s\n' \
		"$([ "$port" = "$cluster" ] && echo "the cluster" || echo "one server")" \
		"$(fmt "$contacts")" "$(fmt "$events")" "$tenants" "$(secs_since "$t0")"
done
bench_machine

rows=$tmp/rows
: >"$rows"
suite() {	# port where file: the suite's summary row, "where|work|with|without|ratio"
	on "$1" q -v runs="$runs" -v keyed=1 -f "$root/bench/$3" >"$tmp/suite.out" 2>&1 || { cat "$tmp/suite.out"; failed=1; return; }
	grep -v '^row|' "$tmp/suite.out"
	grep '^row|' "$tmp/suite.out" | awk -F'|' -v w="$2" '{print w "|" $2 "|" $3 "|" $4 "|" $5}' >>"$rows"
}
for file in build.sql preview.sql; do
	say "$file on the cluster"
	suite "$cluster" "cluster" "$file"
	say "$file on one server"
	suite "$single" "one server" "$file"
done

# the writes and their verification at the real now, on both sides: on a
# cluster every node evaluates at its own clock (segments.now_override, a
# session's setting, reaches only the coordinator), so the data's time of
# bench/writes.sh cannot hold there; the engagement segments then count the
# events written here (an hour before now), on the cluster as on one server
twins="CREATE TABLE public.contacts_twin (LIKE public.contacts INCLUDING ALL);
INSERT INTO public.contacts_twin SELECT * FROM public.contacts;
CREATE TABLE public.events_twin (LIKE public.events INCLUDING ALL);
INSERT INTO public.events_twin SELECT * FROM public.events;
CREATE SEQUENCE public.bench_event_id START $((events * 2));"
on "$single" q -c "$twins" -c "VACUUM ANALYZE public.contacts_twin, public.events_twin" >/dev/null || exit 1
on "$cluster" q -c "CREATE TABLE public.contacts_twin (LIKE public.contacts INCLUDING ALL)" \
	-c "SELECT create_distributed_table('public.contacts_twin', 'account_id', colocate_with => 'public.contacts')" \
	-c "INSERT INTO public.contacts_twin SELECT * FROM public.contacts" \
	-c "CREATE TABLE public.events_twin (LIKE public.events INCLUDING ALL)" \
	-c "SELECT create_distributed_table('public.events_twin', 'account_id', colocate_with => 'public.contacts')" \
	-c "INSERT INTO public.events_twin SELECT * FROM public.events" \
	-c "CREATE SEQUENCE public.bench_event_id START $((events * 2))" >/dev/null || exit 1
cat >"$tmp/update.sql" <<SQL
\set id random(1, $contacts)
\set s random(0, 100)
UPDATE public.contacts SET score = :s WHERE account_id = 1 + :id % $tenants AND id = :id;
SQL
sed 's/public.contacts /public.contacts_twin /' "$tmp/update.sql" >"$tmp/update_twin.sql"
cat >"$tmp/event.sql" <<SQL
\set id random(1, $contacts)
INSERT INTO public.events (id, contact_id, kind, occurred_at, campaign, account_id)
VALUES (nextval('public.bench_event_id'), :id, 'opened', now() - interval '1 hour', 'campaign-1', 1 + :id % $tenants);
SQL
sed 's/public.events /public.events_twin /' "$tmp/event.sql" >"$tmp/event_twin.sql"
chmod 644 "$tmp"/*.sql

tps() { PGPORT=$1 pgbench -n -c 2 -j 2 -T "$seconds" -f "$2" 2>"$tmp/pgbench.err" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'; }
write_row() {	# port where name script twin-script
	local with=0 without=0 t i
	for i in $(seq "$runs"); do
		t=$(tps "$1" "$4"); with=$(echo "if (${t:-0} > $with) ${t:-0} else $with" | bc -l)
		t=$(tps "$1" "$5"); without=$(echo "if (${t:-0} > $without) ${t:-0} else $without" | bc -l)
	done
	printf '%-12s %-52s %9.0f tps %9.0f tps %6.2fx\n' "$2" "$3" "$with" "$without" "$(echo "$with / $without" | bc -l)"
	printf '%s|%s|%.0f tps|%.0f tps|%.2fx\n' "$2" "$3" "$with" "$without" "$(echo "$with / $without" | bc -l)" >>"$rows"
}
verify() {	# port like: every segment of that name verifies, then is dropped
	local bad
	bad=$(on "$1" qv -c "SELECT count(*) FROM segments.segment s, segments.verify_segment(s.id) v WHERE s.name LIKE '$2' AND (v.missing, v.extra) <> (0, 0)")
	if [ "$bad" != 0 ]; then
		echo "bench/citus.sh: $bad segments '$2' differ from a fresh evaluation" >&2
		failed=1
	fi
	on "$1" q -c "SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE '$2' ORDER BY id DESC) s" >/dev/null
}

say "writes against twin tables without triggers (pgbench, ${seconds}s a side, best of $runs)"
for port in "$cluster" "$single"; do
	where=$([ "$port" = "$cluster" ] && echo "cluster" || echo "one server")
	on "$port" q -c "SELECT count(segments.create_segment('bench field ' || i, format('score = %s and country = %L', i % 101, (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + (i / 101) % 5])::segments.rule)) FROM generate_series(0, 99) AS i" >/dev/null || exit 1
	write_row "$port" "$where" "single-row UPDATE of a rule column, 100 segments" "$tmp/update.sql" "$tmp/update_twin.sql"
	verify "$port" 'bench field %'
	on "$port" q -c "SELECT count(segments.create_segment('bench engagement ' || i, format('event ''opened'' count >= %s within last %s days', 1 + i % 5, 10 + i)::segments.rule)) FROM generate_series(0, 49) AS i" >/dev/null || exit 1
	write_row "$port" "$where" "single event INSERT, 50 engagement segments" "$tmp/event.sql" "$tmp/event_twin.sql"
	verify "$port" 'bench engagement %'
done

say "segments on a Citus cluster, scale $scale"
printf '%-12s %-70s %16s %16s %8s\n' where work with without ratio
awk -F'|' '{printf "%-12s %-70s %16s %16s %8s\n", $1, $2, $3, $4, $5}' "$rows"
awk -F'|' '$2 ~ /^create a segment|^preview_count/ {t[$1 "|" $2] = $3} END {
	for (k in t) if (k ~ /^cluster\|/) { split(k, p, "|"); o = "one server|" p[2];
		if (o in t) { a = t[k]; b = t[o]; sub(/ ms/, "", a); sub(/ ms/, "", b);
			printf "* %s: the cluster %s ms, one server %s ms (%.2fx)\n", p[2], a, b, a / b } } }' "$rows"
exit $failed
