#!/usr/bin/env bash
# The upgrade path from every released version to the one under way.
#
#   sudo test/scripts/upgrade.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# A released install or upgrade script never changes (its checksum is
# below): every change since goes into the upgrade script of the release
# under way, which CREATE EXTENSION runs after the released ones.  On a
# throwaway cluster, for each released version V:
#
#   upgraded  CREATE EXTENSION segments VERSION 'V', then test/ops/every_kind.sql
#             (attached tables, segments of every kind, lifecycle, writes,
#             a tick), then ALTER EXTENSION segments UPDATE;
#   fresh     CREATE EXTENSION segments (the default version), then the same;
#   restored  the upgraded database as dumped before its update (pg_dump
#             -Fc), restored into a new one, which installs the default
#             version: a write refuses (55000) until
#             SELECT segments.upgrade_attachments() brings what attach_*
#             made up to date.
#
# Then the two databases must have the same objects: the extension's
# members (\dx+ segments) and the whole schema, members' definitions
# included (pg_dump --schema-only --binary-upgrade, without what differs
# from one database to another by nature: OIDs, transaction ids, sequence
# positions), and so must the restored one; and in both every segment
# must verify, the log agree with the membership, and writes and ticks
# keep both exact (test/ops/check.sql), with the change feed and a history
# readable.
#
# Prints a summary line; exits 0 when all holds, 1 with the differences
# otherwise.  Takes about 20 seconds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/upgrade.sh" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin

# The released scripts, as released.
released=(
	"segments--0.1.sql 9159ac6b6c8789a369f2cf773c33419dfa38f75377a53aafb863ce9a5795ebed"
)
released_versions=()	# the version each released script brings an installation to

for entry in "${released[@]}"; do
	read -r file sum <<<"$entry"
	v=${file%.sql}
	released_versions+=("${v##*--}")
	if [ "$(sha256sum "$root/$file" | cut -d' ' -f1)" != "$sum" ]; then
		echo "upgrade: FAILED: $file, a released script, has changed; put the change in the upgrade script of the release under way"
		exit 1
	fi
done

. "$root/scripts/cluster.sh"
cluster_require_install

cluster_start upgrade -c fsync=off || exit 1

psql_() { cluster_psql "$@"; }
fail() { cluster_fail upgrade "$1"; }
out=$CLUSTER_DIR/out
mkdir "$out"

default=$(sed -n "s/^default_version = '\(.*\)'$/\1/p" "$root/segments.control")

# schema DB: what pg_dump --binary-upgrade says of DB's schema, without
# what differs between two databases made alike
schema() {
	"$PGBIN/pg_dump" --schema-only --binary-upgrade -d "$1" |
		grep -v -e 'binary_upgrade_set_next' -e 'binary_upgrade_set_record_init_privs' \
			-e '^-- Dumped' -e '^\\restrict' -e '^\\unrestrict' -e 'relfrozenxid' \
			-e "^WHERE oid = '" -e 'pg_catalog.setval(' |
		sed "s/'{[0-9,]*}'/'{oids}'/"
}

setup() {	# db [version]
	psql_ -d postgres -c "CREATE DATABASE \"$1\""
	if [ -n "${2:-}" ]; then
		psql_ -d "$1" -c "CREATE EXTENSION segments VERSION '$2'"
	else
		psql_ -d "$1" -c "CREATE EXTENSION segments"
	fi
	psql_ -d "$1" -v contacts=2000 -v events=20000 -v tenants=4 -f "$root/test/ops/every_kind.sql" >/dev/null ||
		fail "setting up $1"
}

setup fresh
schema fresh >"$out/fresh.sql"
psql_ -d fresh -c '\dx+ segments' >"$out/fresh.dx"

# like_fresh DB WHAT: DB has a fresh install's objects, and its segments
# stay exact under writes and ticks (test/ops/check.sql); WHAT names DB
# in messages ("from 0.1", "a dump of 0.1 restored")
like_fresh() {
	psql_ -d "$1" -c '\dx+ segments' >"$out/$1.dx"
	if ! diff -u "$out/fresh.dx" "$out/$1.dx"; then
		fail "$2: the extension's members differ from a fresh install's (above: - fresh, + $1)"
	fi
	schema "$1" >"$out/$1.sql"
	if ! diff -u "$out/fresh.sql" "$out/$1.sql"; then
		fail "$2: the schema differs from a fresh install's (above: - fresh, + $1)"
	fi
	for step in 1 2; do
		psql_ -d "$1" -v step=$step -f "$root/test/ops/check.sql" >/dev/null ||
			fail "$2: the segments (check $step)"
	done
}

for v in "${released_versions[@]}"; do
	db=from_$v
	setup "$db" "$v"
	"$PGBIN/pg_dump" -Fc -d "$db" -f "$out/$db.dump"
	psql_ -d "$db" -c "ALTER EXTENSION segments UPDATE" || fail "ALTER EXTENSION segments UPDATE from $v"
	got=$(cluster_value "$db" "SELECT extversion FROM pg_extension WHERE extname = 'segments'")
	[ "$got" = "$default" ] || fail "from $v: the extension is at version $got after the update, not $default"
	like_fresh "$db" "from $v"
	n=$(cluster_value "$db" "SELECT (SELECT count(*) FROM segments.changes(NULL, 1000000)) = (SELECT count(*) FROM segments.membership_log)
		AND (SELECT count(*) FROM segments.history('US')) > 0")
	[ "$n" = t ] || fail "from $v: the change feed or a history after the update"
	echo "upgrade from $v to $default: same objects as a fresh install; every segment verifies, the log agrees, writes and ticks maintain"

	# a dump of V restored under the default version
	restored=restored_$v
	psql_ -d postgres -c "CREATE DATABASE \"$restored\""
	"$PGBIN/pg_restore" --exit-on-error -d "$restored" "$out/$db.dump" || fail "restoring a dump of $v"
	got=$("$PGBIN/psql" -X -d "$restored" -At -v VERBOSITY=verbose \
		-c "UPDATE contacts SET country = 'US' WHERE id = 3" 2>&1 || true)
	case $got in
		*55000*"segments.upgrade_attachments()"*) ;;
		*) fail "a dump of $v restored: a write before upgrade_attachments() did not refuse: $got" ;;
	esac
	psql_ -d "$restored" -c "SELECT segments.upgrade_attachments()" >/dev/null ||
		fail "a dump of $v restored: segments.upgrade_attachments()"
	like_fresh "$restored" "a dump of $v restored"
	echo "a dump of $v restored under $default: writes refused until upgrade_attachments(), then the same objects as a fresh install; every segment verifies, writes and ticks maintain"
done
echo "upgrade: ok (${#released_versions[@]} released version(s), $default under way)"
