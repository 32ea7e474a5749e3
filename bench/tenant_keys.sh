#!/usr/bin/env bash
# Contacts keyed per tenant (README, "Contacts keyed per tenant"): the
# costs of the pair against the same work by hand on the same layout, in
# the same run.  The data is bench/data.sql's, laid out as a multi-tenant
# schema numbering contacts per account would be: the contacts' primary key
# is (account_id, id), and the events, purchases and list rows carry the
# contact's account_id, indexed with it.  Prints:
#
#   * builds (bench/build.sql) and preview_count (bench/preview.sql) of the
#     rule suite, each against the hand-written query joining on both
#     columns (rules.sql's keyed variant);
#   * single-row UPDATE of a rule column with 100 segments, and single event
#     INSERT with 50 engagement segments, as in bench/writes.sh, against
#     twin tables without triggers (pgbench, alternately, the best kept).
#
#   sudo bench/tenant_keys.sh [--scale small|reference] [--seconds N] [--runs N]
#
#   --scale small      20,000 contacts, 200,000 events, 10 tenants (default;
#                      about three minutes on 2 cores)
#   --scale reference  1,000,000 contacts, 10,000,000 events, 100 tenants
#                      (about 40 minutes)
#   --seconds N        pgbench seconds per side of each write row (10)
#   --runs N           runs of each build and count, the best kept (3); and
#                      pgbench runs of each side of each write row
#
# It runs its own throwaway server (bench/lib.sh) and verifies every
# segment it wrote to before it drops it: a difference makes it fail.
# Figures never make it fail.

set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
args=("$@")
. "$root/bench/lib.sh"
bench_scale_options tenant_keys "$@"
. "$root/scripts/as_root.sh"
as_root "$root/bench/tenant_keys.sh" -- "${args[@]}" || exit 1
bench_start tenant-keys || exit 1
failed=0

say "data: bench/data.sql, keyed per tenant"
t0=$(date +%s.%N)
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION segments" \
	-v contacts="$contacts" -v events="$events" -v tenants="$tenants" -f "$root/bench/data.sql" || exit 1
q -v tenants="$tenants" -f "$root/bench/keyed.sql" >/dev/null || exit 1
q <<SQL || exit 1
SELECT segments.attach_contacts('public.contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT segments.attach_events('public.purchases', contact => 'contact_id', at => 'purchased_at', constant_kind => 'purchased', source => 'shop');
SELECT segments.attach_lists('public.list_members', contact => 'contact_id', list => 'list_id', at => 'subscribed_at');
SQL
printf 'data: %s contacts, %s events, %s tenants, keyed per tenant, in %.0f s\n' \
	"$(fmt "$contacts")" "$(fmt "$events")" "$tenants" "$(secs_since "$t0")"
bench_machine

say "builds against INSERT ... SELECT by hand (bench/build.sql)"
q -v runs="$runs" -v keyed=1 -f "$root/bench/build.sql" | grep -v '^row|' || failed=1
say "preview_count against count(*) by hand (bench/preview.sql)"
q -v runs="$runs" -v keyed=1 -f "$root/bench/preview.sql" | grep -v '^row|' || failed=1

# every session from here on (pgbench's, the verification) at the data's
# time, 2025-06-15 12:00 UTC, as bench/writes.sh
export PGOPTIONS="${PGOPTIONS:-} -c segments.now_override=2025-06-15\\ 12:00:00+00"
say "writes against twin tables without triggers (pgbench, ${seconds}s a side, best of $runs)"
q -c "CREATE TABLE public.contacts_twin (LIKE public.contacts INCLUDING ALL)" \
	-c "INSERT INTO public.contacts_twin SELECT * FROM public.contacts" \
	-c "CREATE TABLE public.events_twin (LIKE public.events INCLUDING ALL)" \
	-c "INSERT INTO public.events_twin SELECT * FROM public.events" \
	-c "CREATE SEQUENCE public.bench_event_id START $((events * 2))" \
	-c "VACUUM ANALYZE public.contacts_twin, public.events_twin" || exit 1
cat >"$tmp/update.sql" <<SQL
\set id random(1, $contacts)
\set s random(0, 100)
UPDATE public.contacts SET score = :s WHERE account_id = 1 + :id % $tenants AND id = :id;
SQL
sed 's/public.contacts /public.contacts_twin /' "$tmp/update.sql" >"$tmp/update_twin.sql"
cat >"$tmp/event.sql" <<SQL
\set id random(1, $contacts)
INSERT INTO public.events (id, contact_id, kind, occurred_at, campaign, account_id)
VALUES (nextval('public.bench_event_id'), :id, 'opened', '2025-06-15 11:00:00+00', 'campaign-1', 1 + :id % $tenants);
SQL
sed 's/public.events /public.events_twin /' "$tmp/event.sql" >"$tmp/event_twin.sql"
chmod 644 "$tmp"/*.sql

tps() { pgbench -n -c 2 -j 2 -T "$seconds" -f "$1" 2>"$tmp/pgbench.err" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'; }
write_row() {	# name script twin-script goal
	local with=0 without=0 t i
	for i in $(seq "$runs"); do
		t=$(tps "$2"); with=$(echo "if ($t > $with) $t else $with" | bc -l)
		t=$(tps "$3"); without=$(echo "if ($t > $without) $t else $without" | bc -l)
	done
	printf '%-62s %9.0f tps %9.0f tps %6.2fx  goal %s\n' "$1" "$with" "$without" "$(echo "$with / $without" | bc -l)" "$4"
}
verify() {	# like: every segment of that name verifies, then is dropped
	local bad
	bad=$(qv -c "SELECT count(*) FROM segments.segment s, segments.verify_segment(s.id) v WHERE s.name LIKE '$1' AND (v.missing, v.extra) <> (0, 0)")
	if [ "$bad" != 0 ]; then
		echo "bench/tenant_keys.sh: $bad segments '$1' differ from a fresh evaluation" >&2
		failed=1
	fi
	q -c "SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE '$1' ORDER BY id DESC) s" >/dev/null
}

q -c "SELECT count(segments.create_segment('bench field ' || i, format('score = %s and country = %L', i % 101, (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + (i / 101) % 5])::segments.rule)) FROM generate_series(0, 99) AS i" \
	-c "VACUUM ANALYZE segments.membership, segments.membership_log" >/dev/null || exit 1
write_row "single-row UPDATE of a rule column, 100 segments" "$tmp/update.sql" "$tmp/update_twin.sql" ">= 0.7x"
verify 'bench field %'
q -c "SELECT count(segments.create_segment('bench engagement ' || i, format('event ''opened'' count >= %s within last %s days', 1 + i % 5, 10 + i)::segments.rule)) FROM generate_series(0, 49) AS i" \
	-c "VACUUM ANALYZE segments.membership, segments.membership_log" >/dev/null || exit 1
write_row "single event INSERT, 50 engagement segments" "$tmp/event.sql" "$tmp/event_twin.sql" ">= 0.5x"
verify 'bench engagement %'

exit $failed
