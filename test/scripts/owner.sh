#!/usr/bin/env bash
# The regression suite with the extension owned by a role that is not a
# superuser.
#
#   sudo test/scripts/owner.sh      (test/run.sh runs it, as every test/scripts/*.sh)
#
# Only a superuser can create the extension (C functions, event triggers).
# Its objects can then belong to an ordinary role, so that maintenance,
# builds and ticks (SECURITY DEFINER functions) run with that role's
# rights: no superuser bypasses row-level security or privileges there.
# The event triggers stay with the superuser, as PostgreSQL requires; their
# functions run as the objects' owner.  docs/design.md ("What needs a
# superuser") says what that owner needs: the rights of the attached
# tables' owners, whose triggers it installs and drops.
#
# On a throwaway cluster: creates the extension as postgres in a database
# made as pg_regress makes its own, gives every object of the extension but
# its event triggers to the role test_owner_of_segments (NOLOGIN, not a
# superuser), a member of postgres since the tests create their tables as
# postgres, and runs the Makefile's REGRESS with pg_regress --use-existing:
# the same tests and expected output as test/run.sh's regress suite (but
# removal, which drops the extension).  Then
# checks that the owner is still no superuser and that attaching a table
# whose owner it has no rights of is refused (42501) with nothing attached.
#
# Prints a summary line; exits 0 when all holds, 1 with the differences
# otherwise.  Takes about 20 seconds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

. "$root/scripts/as_root.sh"
as_root "$root/test/scripts/owner.sh" -- "$@" || exit 1

PGBIN=/usr/lib/postgresql/15/bin
PG_REGRESS=/usr/lib/postgresql/15/lib/pgxs/src/test/regress/pg_regress
db=contrib_regression
owner=test_owner_of_segments

. "$root/scripts/cluster.sh"
cluster_require_install

cluster_start owner -c fsync=off || exit 1

psql_() { cluster_psql "$@"; }
fail() { cluster_fail owner "$1"; }

psql_ -d postgres -c "CREATE DATABASE $db TEMPLATE template0 ENCODING UTF8 LC_COLLATE 'C' LC_CTYPE 'C'"
psql_ -d "$db" -v owner="$owner" <<'SQL'
CREATE EXTENSION segments;
CREATE ROLE :"owner" NOLOGIN;
GRANT postgres TO :"owner";
SET owner.name = :'owner';
DO $$
DECLARE
	o record;
	owner text := current_setting('owner.name');
BEGIN
	FOR o IN
		SELECT d.classid::regclass::text AS catalog, d.objid
		FROM pg_depend d
		WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
			AND d.refobjid = (SELECT e.oid FROM pg_extension e WHERE e.extname = 'segments')
	LOOP
		CASE o.catalog
		WHEN 'pg_proc' THEN
			EXECUTE format('ALTER ROUTINE %s OWNER TO %I', o.objid::regprocedure, owner);
		WHEN 'pg_class' THEN
			IF (SELECT c.relkind FROM pg_class c WHERE c.oid = o.objid) IN ('r', 'v') THEN
				EXECUTE format('ALTER TABLE %s OWNER TO %I', o.objid::regclass, owner);
			END IF;
		WHEN 'pg_type' THEN
			EXECUTE format('ALTER TYPE %s OWNER TO %I', o.objid::regtype, owner);
		WHEN 'pg_operator' THEN
			EXECUTE format('ALTER OPERATOR %s OWNER TO %I', o.objid::regoperator, owner);
		WHEN 'pg_opclass' THEN
			EXECUTE (SELECT format('ALTER OPERATOR CLASS segments.%I USING %I OWNER TO %I', c.opcname, a.amname, owner)
				FROM pg_opclass c JOIN pg_am a ON a.oid = c.opcmethod WHERE c.oid = o.objid);
		WHEN 'pg_opfamily' THEN
			EXECUTE (SELECT format('ALTER OPERATOR FAMILY segments.%I USING %I OWNER TO %I', f.opfname, a.amname, owner)
				FROM pg_opfamily f JOIN pg_am a ON a.oid = f.opfmethod WHERE f.oid = o.objid);
		ELSE	-- event triggers (a superuser's), casts (no owner)
		END CASE;
	END LOOP;
	EXECUTE format('ALTER SCHEMA segments OWNER TO %I', owner);
END $$;
SQL

others=$(psql_ -d "$db" -At -c "
	SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'segments'::regnamespace
		AND p.proowner <> '$owner'::regrole")
[ "$others" = 0 ] || fail "$others functions of the extension are not owned by $owner"

wd=$CLUSTER_DIR/regress
mkdir -p "$wd"
cp -R "$root/sql" "$root/expected" "$wd/"
chown -R postgres: "$wd"
# all but removal, which drops the extension whose objects were handed over
read -r -a tests <<<"$(make -s --no-print-directory -C "$root" print-regress | sed 's/\<removal\>//')"
if ! (cd "$wd" && runuser -u postgres -- "$PG_REGRESS" --use-existing --host="$PGHOST" \
		--port="$PGPORT" --dbname="$db" --inputdir="$wd" --outputdir="$wd" "${tests[@]}") \
		>"$wd/output" 2>&1; then
	cat "$wd/output"
	[ -s "$wd/regression.diffs" ] && cat "$wd/regression.diffs"
	fail "the regression tests differ with $owner owning the extension"
fi

[ "$(psql_ -d "$db" -At -c "SELECT rolsuper FROM pg_roles WHERE rolname = '$owner'")" = f ] ||
	fail "$owner became a superuser"

# A table of a role whose rights the owner does not have: refused, and
# nothing attached.
psql_ -d "$db" -c "CREATE ROLE test_stranger NOLOGIN" \
	-c "CREATE TABLE public.stranger_contacts (id bigint PRIMARY KEY)" \
	-c "ALTER TABLE public.stranger_contacts OWNER TO test_stranger"
state=$(psql_ -d "$db" -At 2>&1 <<'SQL'
DO $$
BEGIN
	PERFORM segments.attach_contacts('public.stranger_contacts', key => 'id');
	RAISE NOTICE 'attached';
EXCEPTION WHEN OTHERS THEN
	RAISE NOTICE '% %', SQLSTATE, SQLERRM;
END $$;
SELECT count(*) FROM segments.attached;
SQL
)
expected="NOTICE:  42501 the extension's owner $owner cannot attach public.stranger_contacts
0"
[ "$state" = "$expected" ] || fail "attaching a stranger's table: expected
$expected
got
$state"

echo "owner: ${#tests[@]} regression tests pass with the extension owned by $owner (not a superuser); a table whose owner's rights it lacks is refused"
