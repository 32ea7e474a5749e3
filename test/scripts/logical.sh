#!/usr/bin/env bash
# Logical replication: a subscriber whose attached tables receive
# replicated changes keeps membership exact.
#
#   sudo test/scripts/logical.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# A publisher (a throwaway cluster without segments, bench/data.sql's
# contacts, events and lists, published) and a subscriber (a second
# cluster: the same tables, the lists partitioned, attached, with segments
# of every kind, some of one tenant, one that refers to another).  The
# subscription streams large transactions and applies two-phase ones as
# prepared transactions.  Then, each followed by the subscriber's catching
# up and a check:
#
#   initial copy    the subscription's first copy of the tables
#   single rows     inserts, updates (a field, jsonb, the tenant, the key)
#                   and deletes of contacts, events and list rows
#   large           one transaction of thousands of rows (streamed)
#   catalog         segments created, altered and dropped on the subscriber
#                   while its apply worker runs, then more writes
#   two-phase       PREPARE TRANSACTION and COMMIT PREPARED on the publisher
#   truncate        TRUNCATE of the lists and the events
#   local           a write made on the subscriber itself
#
# The check: the subscriber has the publisher's rows; every segment
# verifies (0, 0); the log agrees with the membership; the step logged
# joins or leaves, all with cause write.
#
# Prints a line per step; exits 0 when all holds, 1 otherwise.  Takes about
# 30 seconds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/logical.sh" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin

. "$root/scripts/cluster.sh"
cluster_require_install

# The publisher: large transactions are streamed past 64kB.
cluster_start logical -c wal_level=logical -c max_prepared_transactions=5 \
	-c logical_decoding_work_mem=64kB -c fsync=off || exit 1
publisher_port=$PGPORT

subscriber_dir=$CLUSTER_DIR/subscriber
fail() { cluster_fail logical "$1"; }
on_publisher() { PGPORT=$publisher_port cluster_psql -d app "$@"; }
on_subscriber() { PGPORT=$subscriber_port cluster_psql -d app "$@"; }
subscriber_value() { PGPORT=$subscriber_port cluster_value app "$1"; }
publisher_value() { PGPORT=$publisher_port cluster_value app "$1"; }

subscriber_port=$("$root/scripts/free_port.sh") || fail "no free port for the subscriber"
runuser -u postgres -- "$PGBIN/initdb" -D "$subscriber_dir" -U postgres -A trust -E UTF8 --no-locale \
	>"$CLUSTER_DIR/subscriber-initdb.log" 2>&1 || fail "initdb of the subscriber"
cluster_also "$subscriber_dir"
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$subscriber_dir" -l "$subscriber_dir.log" -w -t 60 \
	-o "-c listen_addresses='' -k $CLUSTER_DIR -p $subscriber_port -c max_prepared_transactions=5 -c fsync=off" \
	start >/dev/null 2>&1 || fail "the subscriber did not start"

# The publisher: the application's tables, and a marker table whose rows
# tell when the subscriber has applied everything before them.
PGPORT=$publisher_port cluster_psql -d postgres -c "CREATE DATABASE app"
PGOPTIONS='-c client_min_messages=warning' on_publisher -v contacts=3000 -v events=30000 -v tenants=3 \
	-f "$root/bench/data.sql" >/dev/null ||
	fail "loading the publisher's data"
on_publisher -c "CREATE TABLE public.caught_up (step integer PRIMARY KEY)" \
	-c "CREATE PUBLICATION app FOR TABLE public.contacts, public.events, public.list_members, public.caught_up"

# The subscriber: the same tables (the lists partitioned, each partition
# with its own key), attached, and segments.
PGPORT=$subscriber_port cluster_psql -d postgres -c "CREATE DATABASE app" \
	-c "ALTER DATABASE app SET segments.now_override = '2025-06-15 12:00:00+00'"
"$PGBIN/pg_dump" -h "$CLUSTER_DIR" -p "$publisher_port" -U postgres --schema-only \
	-t public.contacts -t public.events -t public.caught_up app >"$CLUSTER_DIR/schema.sql"
on_subscriber -f "$CLUSTER_DIR/schema.sql" >/dev/null
on_subscriber -f "$root/test/ops/partitioned_lists.sql" >/dev/null
on_subscriber >/dev/null <<'SQL'
CREATE EXTENSION segments;
SELECT segments.attach_contacts('public.contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT segments.attach_lists('public.list_members', contact => 'contact_id', list => 'list_id');
SELECT count(segments.create_segment(name, rule::segments.rule)) AS global_segments
FROM (VALUES
	('US', 'country = ''US'''),
	('paying', 'plan in (''pro'', ''team'')'),
	('rich', 'props.ltv >= 1000'),
	('vip', 'tags contains ''vip'''),
	('engaged', 'event ''opened'' count >= 3 within last 30 days'),
	('pricing', 'event ''clicked'' where (url contains ''pricing'') within last 90 days'),
	('dormant', 'not event ''opened'' within last 180 days'),
	('list 7', 'in list 7'),
	('not list 13', 'not in list 13'),
	('US and engaged', 'in segment ''US'' and in segment ''engaged'''),
	('to alter', 'score >= 50'),
	('to drop', 'score < 10')) AS s(name, rule);
SELECT segments.create_segment('tenant 2 paying', 'plan = ''pro''', tenant => 2) IS NOT NULL AS tenant_segment;
-- what the checks read: the last log row seen
CREATE TABLE public.log_seen (last bigint NOT NULL);
INSERT INTO public.log_seen SELECT coalesce(max(id), 0) FROM segments.membership_log;
SQL

# caught_up STEP: the publisher marks STEP; wait until the subscriber has it
caught_up() {
	on_publisher -c "INSERT INTO public.caught_up VALUES ($1)"
	PGPORT=$subscriber_port cluster_wait_for app 60 "SELECT EXISTS (SELECT FROM public.caught_up WHERE step = $1)" ||
		fail "$2: the subscriber did not catch up"
}

rows="SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
	SELECT 'c' || id || account_id || coalesce(country, '') || coalesce(plan, '') || coalesce(score::text, '')
		|| coalesce(props::text, '') || coalesce(tags::text, '') AS x FROM public.contacts
	UNION ALL SELECT 'e' || id || contact_id || kind || occurred_at || coalesce(url, '') FROM public.events
	UNION ALL SELECT 'l' || list_id || ':' || contact_id FROM public.list_members) r"

# checked STEP: the subscriber is exact, and the step changed membership
checked() {
	local got
	[ "$(subscriber_value "$rows")" = "$(publisher_value "$rows")" ] ||
		fail "$1: the subscriber's rows differ from the publisher's"
	got=$(subscriber_value "SELECT string_agg(name || ' (missing ' || missing || ', extra ' || extra || ')', ', ')
		FROM segments.verify_all() WHERE missing + extra > 0")
	[ -z "$got" ] || fail "$1: segments that do not verify: $got"
	got=$(subscriber_value "SELECT count(*)
		FROM (SELECT l.segment_id, l.contact, sum(CASE WHEN l.joined THEN 1 ELSE -1 END) AS n
			FROM segments.membership_log l GROUP BY 1, 2) g
		FULL JOIN segments.membership m ON m.segment_id = g.segment_id AND m.contact = g.contact
		WHERE coalesce(g.n, 0) <> CASE WHEN m.contact IS NULL THEN 0 ELSE 1 END")
	[ "$got" = 0 ] || fail "$1: the log disagrees with the membership on $got (segment, contact) pairs"
	got=$(subscriber_value "SELECT count(*) || ' ' || coalesce(string_agg(DISTINCT cause, ','), '')
		FROM segments.membership_log WHERE id > (SELECT last FROM public.log_seen)")
	case $got in
		"0 "*) fail "$1: no join or leave was logged" ;;
		*" write") ;;
		*) fail "$1: logged $got (count, causes); expected cause write only" ;;
	esac
	on_subscriber -c "UPDATE public.log_seen SET last = (SELECT max(id) FROM segments.membership_log)"
	echo "logical $1: the publisher's rows; every segment verifies, the log agrees (${got% *} joins and leaves)"
}

# initial copy
on_subscriber -c "CREATE SUBSCRIPTION app CONNECTION 'host=$CLUSTER_DIR port=$publisher_port dbname=app user=postgres'
	PUBLICATION app WITH (streaming = on, two_phase = on)" 2>/dev/null
PGPORT=$subscriber_port cluster_wait_for app 120 \
	"SELECT count(*) = 4 AND bool_and(srsubstate = 'r') FROM pg_catalog.pg_subscription_rel" ||
	fail "initial copy: the tables were not synchronized"
caught_up 1 "initial copy"
checked "initial copy"

# single rows, each its own transaction, as an application writes them
on_publisher >/dev/null <<'SQL'
UPDATE public.contacts SET country = CASE WHEN country = 'US' THEN 'DE' ELSE 'US' END WHERE id % 97 = 1;
UPDATE public.contacts SET props = props || '{"ltv": 4000}' WHERE id % 89 = 2;
UPDATE public.contacts SET tags = ARRAY['vip'] WHERE id % 83 = 3 AND tags IS NULL;
UPDATE public.contacts SET account_id = 2 WHERE id % 79 = 4 AND account_id <> 2;
UPDATE public.contacts SET id = id + 100000 WHERE id % 211 = 5;
INSERT INTO public.contacts (id, account_id, country, plan, score, created_at)
	VALUES (200001, 2, 'US', 'pro', 70, '2025-06-01'), (200002, 1, 'FR', 'free', 5, '2025-06-01');
DELETE FROM public.contacts WHERE id % 223 = 6;
INSERT INTO public.events (id, contact_id, kind, occurred_at, url)
	SELECT 50000000 + i, i * 7, 'opened', '2025-06-10', NULL FROM generate_series(1, 60) i;
INSERT INTO public.events (id, contact_id, kind, occurred_at, url)
	SELECT 50001000 + i, i * 11, 'clicked', '2025-06-01', 'https://example.com/pricing' FROM generate_series(1, 30) i;
DELETE FROM public.events WHERE id % 509 = 7;
UPDATE public.events SET kind = 'opened', occurred_at = '2025-06-12' WHERE id % 521 = 8 AND kind <> 'opened';
INSERT INTO public.list_members (contact_id, list_id)
	SELECT i * 13, 7 FROM generate_series(1, 40) i
	WHERE NOT EXISTS (SELECT FROM public.list_members l WHERE l.contact_id = i * 13 AND l.list_id = 7);
DELETE FROM public.list_members WHERE contact_id % 31 = 9;
-- from one partition of the subscriber's lists to the other
UPDATE public.list_members l SET list_id = 13 WHERE l.list_id = 3 AND l.contact_id % 5 = 0
	AND NOT EXISTS (SELECT FROM public.list_members o WHERE o.list_id = 13 AND o.contact_id = l.contact_id);
SQL
caught_up 2 "single rows"
checked "single rows"

# one large transaction, streamed to the subscriber before its commit
on_publisher >/dev/null <<'SQL'
BEGIN;
UPDATE public.contacts SET plan = CASE WHEN plan = 'free' THEN 'pro' ELSE 'free' END, score = coalesce(score, 0) + 7
	WHERE id % 3 = 0;
INSERT INTO public.events (id, contact_id, kind, occurred_at)
	SELECT 60000000 + i, 1 + i % 3000, 'opened', '2025-06-01'::timestamptz + (i % 13) * interval '1 day'
	FROM generate_series(1, 6000) i;
DELETE FROM public.list_members WHERE list_id = 7 AND contact_id % 2 = 0;
COMMIT;
SQL
caught_up 3 "large"
PGPORT=$publisher_port cluster_wait_for app 30 \
	"SELECT stream_txns > 0 FROM pg_catalog.pg_stat_replication_slots WHERE slot_name = 'app'" ||
	fail "large: the transaction was not streamed"
checked "large (streamed)"

# the catalog changes on the subscriber while its apply worker runs
on_subscriber >/dev/null <<'SQL'
SELECT segments.create_segment('team', 'plan = ''team''');
SELECT segments.create_segment('opened lately', 'event ''opened'' within last 7 days');
SELECT segments.alter_segment('to alter', 'score >= 60 and country = ''US''');
SELECT segments.drop_segment('to drop');
UPDATE public.log_seen SET last = (SELECT max(id) FROM segments.membership_log);
SQL
on_publisher >/dev/null <<'SQL'
UPDATE public.contacts SET plan = 'team', score = 65, country = 'US' WHERE id % 101 = 10;
INSERT INTO public.events (id, contact_id, kind, occurred_at)
	SELECT 70000000 + i, i * 17, 'opened', '2025-06-14' FROM generate_series(1, 40) i;
SQL
caught_up 4 "catalog"
checked "catalog changed under the apply worker"

# two-phase: applied as a prepared transaction, then committed
on_publisher >/dev/null <<'SQL'
BEGIN;
UPDATE public.contacts SET country = 'US', plan = 'team' WHERE id % 103 = 11;
INSERT INTO public.events (id, contact_id, kind, occurred_at)
	SELECT 80000000 + i, i * 19, 'opened', '2025-06-13' FROM generate_series(1, 30) i;
PREPARE TRANSACTION 'app_two_phase';
SQL
PGPORT=$subscriber_port cluster_wait_for app 60 "SELECT count(*) = 1 FROM pg_catalog.pg_prepared_xacts" ||
	fail "two-phase: the subscriber did not prepare the transaction"
on_publisher -c "COMMIT PREPARED 'app_two_phase'"
caught_up 5 "two-phase"
checked "two-phase (prepared, then committed)"

# truncate
on_publisher -c "TRUNCATE public.list_members" -c "TRUNCATE public.events"
caught_up 6 "truncate"
checked "truncate"

# a write on the subscriber itself
on_subscriber -c "UPDATE public.contacts SET country = 'US' WHERE id % 107 = 12 AND country IS DISTINCT FROM 'US'"
on_publisher -c "UPDATE public.contacts SET country = 'US' WHERE id % 107 = 12 AND country IS DISTINCT FROM 'US'"
caught_up 7 "local"
checked "local write on the subscriber"

got=$(subscriber_value "SELECT coalesce(sum(changes), 0) FROM segments.refresh_all()")
[ "$got" = 0 ] || fail "refresh_all() on the subscriber changed $got memberships"
echo "logical: ok"
