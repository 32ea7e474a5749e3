--
-- Privileges: preview, preview_count, matches and explain run with the
-- caller's privileges, so row-level security on the contacts table applies
-- and a role that may not read a table gets an error, not its rows.  The
-- SQL the rules compile to quotes every identifier and literal, and no
-- function depends on the caller's search_path.
--

-- A contacts table whose schema and columns need quoting.
CREATE SCHEMA "Sales Data";
CREATE TABLE "Sales Data"."Contacts" (
	"Id" bigint PRIMARY KEY,
	"Owner" text NOT NULL,
	"First Name" text,
	"it's" integer
);
INSERT INTO "Sales Data"."Contacts"
SELECT i, CASE WHEN i % 2 = 0 THEN 'alice' ELSE 'bob' END, 'name ' || i, i % 5
FROM generate_series(1, 20) AS i;
SELECT segments.attach_contacts('"Sales Data"."Contacts"', key => 'Id');

-- Every identifier and literal of the rule is quoted in the SQL.
SELECT segments.to_sql($$"First Name" = 'name 1''s' and "it's" >= 3$$);
SELECT segments.preview_count($$"it's" >= 3$$) AS as_owner;

-- Row-level security: each owner sees only their own contacts.
CREATE ROLE seg_alice;
CREATE ROLE seg_nobody;
GRANT USAGE ON SCHEMA segments, "Sales Data" TO seg_alice, seg_nobody;
GRANT SELECT ON segments.attached, segments.segment TO seg_alice, seg_nobody;
GRANT SELECT ON "Sales Data"."Contacts" TO seg_alice;
ALTER TABLE "Sales Data"."Contacts" ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON "Sales Data"."Contacts" USING ("Owner" = current_user::text OR 'seg_' || "Owner" = current_user::text);

SET ROLE seg_alice;
SELECT segments.preview_count($$"it's" >= 3$$) AS as_alice;
SELECT segments.preview($$"it's" >= 3$$, 100) AS visible_to_alice;
-- an even id is alice's: she can evaluate it; an odd one is not visible to her
SELECT segments.matches(4::bigint, $$"it's" >= 3$$) AS alice_4;
\set VERBOSITY terse
SELECT segments.matches(3::bigint, $$"it's" >= 3$$) AS alice_3;
\set VERBOSITY default
SELECT * FROM segments.explain(4::bigint, $$"it's" >= 3 and "First Name" contains 'NAME'$$);
RESET ROLE;

-- A role without SELECT on the contacts gets an error.
SET ROLE seg_nobody;
\set VERBOSITY terse
SELECT segments.preview_count('true');
SELECT segments.matches(2::bigint, 'true');
\set VERBOSITY default
RESET ROLE;

-- A hostile search_path changes nothing: a schema ahead of pg_catalog with
-- its own = for bigint, always true.
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.always(bigint, bigint) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR hostile.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = hostile.always);
SET search_path = hostile, pg_catalog, public;
SELECT segments.matches(4::bigint, $$"it's" >= 3$$) AS still_4,
	segments.preview_count($$"it's" >= 3$$) AS still_counted;
\set VERBOSITY terse
SELECT segments.matches(99::bigint, 'true');
\set VERBOSITY default
RESET search_path;
DROP SCHEMA hostile CASCADE;

ALTER TABLE "Sales Data"."Contacts" DISABLE ROW LEVEL SECURITY;
SELECT segments.detach_contacts();
DROP SCHEMA "Sales Data" CASCADE;
REVOKE ALL ON segments.attached, segments.segment FROM seg_alice, seg_nobody;
REVOKE ALL ON SCHEMA segments FROM seg_alice, seg_nobody;
DROP ROLE seg_alice, seg_nobody;
