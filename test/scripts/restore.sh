#!/usr/bin/env bash
# Backup and restore with pg_dump and pg_restore.
#
#   sudo test/scripts/restore.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# On a throwaway cluster, a database set up by test/ops/every_kind.sql
# (attached tables in their own schema, zapp, which sorts after segments,
# so that a data-only restore loads segments.attached before the tables,
# whose triggers then fire;
# segments of every kind; every cause of change) is dumped, in the custom
# and the plain format, and restored:
#
#   custom         pg_restore into a new database
#   plain          psql -f into a new database
#   parallel       pg_restore -j 2
#   single         pg_restore --single-transaction
#   schema, data   pg_restore --schema-only, then --data-only
#   reordered      the same, the rows naming a segment loaded before the
#                  segments (as -j may load them)
#   triggers first pg_restore, the partitioned lists' triggers restored
#                  before their partitions' (as -j may restore them)
#   clean          pg_restore --clean --if-exists over the live database,
#                  changed since the dump (rows added, a segment dropped)
#   schema, attach pg_restore --schema-only, then attach_contacts again:
#                  it makes the leftover empty membership anew
#
# Each restored database must have the dumped rows, segments.stats must
# show the last tick and the catalog version be the dumped one, and then
# every segment verify, the log agree with the membership, and writes and
# ticks keep both exact (test/ops/check.sql).
#
# Prints a line per case; exits 0 when all holds, 1 otherwise.  Takes
# about 30 seconds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/restore.sh" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin

. "$root/scripts/cluster.sh"
cluster_require_install

cluster_start restore -c fsync=off || exit 1

psql_() { cluster_psql "$@"; }
value() { cluster_value "$@"; }
fail() { cluster_fail restore "$1"; }
dumps=$CLUSTER_DIR/dumps
mkdir "$dumps"

# The source: the tables in schema zapp, which the extension follows.
psql_ -d postgres -c "CREATE DATABASE source"
psql_ -d source -c "CREATE EXTENSION segments"
psql_ -d source -v contacts=2000 -v events=20000 -v tenants=4 -f "$root/test/ops/every_kind.sql" >/dev/null ||
	fail "setting up the source database"
psql_ -d source -c "CREATE SCHEMA zapp" -c "ALTER TABLE public.contacts SET SCHEMA zapp" \
	-c "ALTER TABLE public.events SET SCHEMA zapp" -c "ALTER TABLE public.list_members SET SCHEMA zapp" \
	-c "ALTER DATABASE source SET search_path = zapp, public"
psql_ -d source -c "UPDATE segments.catalog_version SET version = version + 1000"

# what must come back: rows of each table, the last tick, the catalog version
facts="SELECT (SELECT count(*) FROM zapp.contacts) || ' contacts, ' || (SELECT count(*) FROM zapp.events) || ' events, '
	|| (SELECT count(*) FROM zapp.list_members) || ' list rows, ' || (SELECT count(*) FROM segments.segment) || ' segments, '
	|| (SELECT count(*) FROM segments.membership) || ' members, ' || (SELECT count(*) FROM segments.membership_log) || ' logged, '
	|| 'last tick ' || coalesce((SELECT max(last_tick)::text FROM segments.stats), 'none') || ', catalog version '
	|| (SELECT version FROM segments.catalog_version)"
expected=$(value source "$facts")
case $expected in *"last tick none"*) fail "the source has no last tick" ;; esac

"$PGBIN/pg_dump" -Fc -d source -f "$dumps/source.dump"
"$PGBIN/pg_dump" -Fp -d source -f "$dumps/source.sql"

# checked NAME DB: the restored DB has the source's rows, tick and catalog
# version, and stays exact (test/ops/check.sql)
checked() {
	local got
	got=$(value "$2" "$facts") || fail "$1: reading the restored database"
	[ "$got" = "$expected" ] || fail "$1: restored $got; dumped $expected"
	psql_ -d "$2" -c "ALTER DATABASE \"$2\" SET search_path = zapp, public"
	for step in 1 2; do
		psql_ -d "$2" -v step=$step -f "$root/test/ops/check.sql" >/dev/null ||
			fail "$1: the segments after the restore (check $step)"
	done
	echo "restore $1: the dumped rows, last tick and catalog version; every segment verifies, the log agrees, writes and ticks maintain"
}

new_db() { psql_ -d postgres -c "CREATE DATABASE \"$1\""; }

new_db custom
"$PGBIN/pg_restore" --exit-on-error -d custom "$dumps/source.dump" || fail "custom: pg_restore"
checked custom custom

new_db plain
psql_ -d plain -f "$dumps/source.sql" >/dev/null || fail "plain: psql -f"
checked plain plain

new_db parallel
"$PGBIN/pg_restore" --exit-on-error -j 2 -d parallel "$dumps/source.dump" || fail "parallel: pg_restore -j 2"
checked "-j 2" parallel

new_db single
"$PGBIN/pg_restore" --single-transaction --exit-on-error -d single "$dumps/source.dump" ||
	fail "single: pg_restore --single-transaction"
checked "--single-transaction" single

new_db two_steps
"$PGBIN/pg_restore" --schema-only --exit-on-error -d two_steps "$dumps/source.dump" ||
	fail "schema, data: pg_restore --schema-only"
"$PGBIN/pg_restore" --data-only --exit-on-error -d two_steps "$dumps/source.dump" ||
	fail "schema, data: pg_restore --data-only"
checked "--schema-only, then --data-only" two_steps

# pg_restore -j loads the rows of the extension's tables in any order: the
# rows that name a segment loaded before the segments (a list file orders
# a restore without -j) must load
new_db reordered
"$PGBIN/pg_restore" --schema-only --exit-on-error -d reordered "$dumps/source.dump" ||
	fail "reordered: pg_restore --schema-only"
"$PGBIN/pg_restore" -l "$dumps/source.dump" | grep ' TABLE DATA ' >"$dumps/data.list"
{ grep -E ' segments (segment_reference|segment_state) ' "$dumps/data.list"
  grep -vE ' segments (segment_reference|segment_state) ' "$dumps/data.list"; } >"$dumps/reordered.list"
[ "$(head -c 1 "$dumps/reordered.list")" != "" ] && grep -q ' segment_state ' "$dumps/reordered.list" ||
	fail "reordered: no data of segments.segment_state in the dump's list"
"$PGBIN/pg_restore" --data-only --exit-on-error -L "$dumps/reordered.list" -d reordered "$dumps/source.dump" ||
	fail "reordered: pg_restore --data-only, segment_reference and segment_state first"
checked "--data-only with segment_reference and segment_state before segment" reordered

# pg_restore -j may restore a partitioned table's triggers before its
# partitions' (another worker restoring those): a session restoring a dump
# leaves the partitions' triggers to the dump
new_db triggers_first
"$PGBIN/pg_restore" -l "$dumps/source.dump" >"$dumps/all.list"
{ grep -v ' TRIGGER ' "$dumps/all.list"
  grep ' TRIGGER zapp list_members ' "$dumps/all.list"
  grep ' TRIGGER ' "$dumps/all.list" | grep -v ' TRIGGER zapp list_members '; } >"$dumps/triggers_first.list"
grep -q ' TRIGGER public list_members_low ' "$dumps/triggers_first.list" ||
	fail "triggers first: no trigger of a partition in the dump's list"
"$PGBIN/pg_restore" --exit-on-error -L "$dumps/triggers_first.list" -d triggers_first "$dumps/source.dump" ||
	fail "triggers first: pg_restore, the partitioned lists' triggers before their partitions'"
checked "with the partitioned table's triggers before its partitions'" triggers_first

# over the live database, changed since the dump
psql_ -d source -c "INSERT INTO zapp.contacts (id, account_id, email, country, plan, score, created_at)
	SELECT 200000 + i, 1, 'x' || i || '@gmail.com', 'US', 'pro', 1, '2025-06-01' FROM generate_series(1, 100) i" \
	-c "SELECT segments.drop_segment('free plan')"
"$PGBIN/pg_restore" --clean --if-exists --exit-on-error -d source "$dumps/source.dump" ||
	fail "clean: pg_restore --clean --if-exists"
checked "--clean --if-exists over the live database" source

# the schema alone, then attached anew: the leftover membership is made anew
new_db schema_only
"$PGBIN/pg_restore" --schema-only --exit-on-error -d schema_only "$dumps/source.dump" ||
	fail "schema, attach: pg_restore --schema-only"
psql_ -d schema_only -c "INSERT INTO zapp.contacts (id, account_id, country, created_at) VALUES (1, 1, 'US', now())" \
	-c "SELECT segments.attach_contacts('zapp.contacts', key => 'id', tenant => 'account_id')" \
	-c "SELECT segments.create_segment('US', 'country = ''US''')" >/dev/null ||
	fail "schema, attach: attach_contacts after a restore of the schema alone"
got=$(value schema_only "SELECT count(*) FROM segments.membership")
[ "$got" = 1 ] || fail "schema, attach: $got members, not 1"
state=$(psql_ -d schema_only -At -c "SELECT segments.drop_segment('US')" -c "SELECT segments.detach_contacts()" \
	-c "CREATE TABLE segments.membership (x int)" -c "INSERT INTO segments.membership VALUES (1)" \
	-c "DO \$\$ BEGIN PERFORM segments.attach_contacts('zapp.contacts', key => 'id');
		EXCEPTION WHEN duplicate_table THEN RAISE NOTICE 'refused %', SQLSTATE; END \$\$" 2>&1 || true)
case $state in *"refused 42P07"*) ;; *) fail "schema, attach: a leftover membership with rows was not refused: $state" ;; esac
echo "restore --schema-only, then attach: the leftover empty membership made anew, one with rows refused (42P07)"

echo "restore: ok"
