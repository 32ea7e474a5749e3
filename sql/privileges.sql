--
-- Privileges: nothing internal is executable by PUBLIC, and people get one
-- of two roles.  segments_reader reads the catalog, membership, its log
-- and stats and evaluates rules ad hoc with its own privileges;
-- segments_editor also creates, alters, renames, drops, refreshes and
-- verifies segments, whose catalog and membership only the extension's
-- owner writes.  Writers of the attached tables need nothing.  The SQL the
-- rules compile to quotes every identifier and literal, and no function
-- depends on the caller's search_path.
--

-- The roles: created by the install script, unable to log in.
SELECT r.rolname, r.rolcanlogin, ARRAY(SELECT b.rolname FROM pg_auth_members m
		JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = r.oid) AS member_of
FROM pg_roles r WHERE r.rolname LIKE 'segments\_%' ORDER BY 1;

-- What PUBLIC may execute: the rule type's support, the clock, the bucket and JSON
-- readers of the compiled SQL, and what a writer calls in its own
-- transaction.
SELECT p.oid::regprocedure AS executable_by_public
FROM pg_proc p
WHERE p.pronamespace = 'segments'::regnamespace
	AND has_function_privilege('public', p.oid, 'EXECUTE')
ORDER BY p.oid::regprocedure::text COLLATE "C";
-- Tables: nothing for PUBLIC.
SELECT c.relname, c.relacl IS NOT NULL AND EXISTS (SELECT FROM aclexplode(c.relacl) g WHERE g.grantee = 0) AS public_may
FROM pg_class c WHERE c.relnamespace = 'segments'::regnamespace AND c.relkind IN ('r', 'v')
ORDER BY 1;

-- A contacts table whose schema and columns need quoting (test_setup.sql).
CALL create_sales_contacts();
SELECT segments.attach_contacts('"Sales Data"."Contacts"', key => 'Id');

-- Every identifier and literal of the rule is quoted in the SQL.
SELECT segments.to_sql($$"First Name" = 'name 1''s' and "it's" >= 3$$);
SELECT segments.preview_count($$"it's" >= 3$$) AS as_owner;

CREATE ROLE seg_writer;
CREATE ROLE seg_reader IN ROLE segments_reader;
CREATE ROLE seg_editor IN ROLE segments_editor;
CREATE ROLE seg_stranger;
GRANT USAGE ON SCHEMA "Sales Data" TO seg_writer, seg_reader, seg_editor, seg_stranger;
GRANT SELECT, INSERT, UPDATE, DELETE ON "Sales Data"."Contacts" TO seg_writer;
GRANT SELECT ON "Sales Data"."Contacts" TO seg_reader, seg_editor, seg_stranger;

-- An editor creates, alters, renames, refreshes and verifies segments.
SET ROLE seg_editor;
SELECT segments.create_segment('Three', $$"it's" = 3$$) IS NOT NULL AS created;
SELECT segments.alter_segment('Three', $$"it's" >= 3$$);
SELECT segments.rename_segment('Three', 'Three plus');
SELECT segments.refresh_segment('Three plus');
SELECT * FROM segments.verify_segment('Three plus');
SELECT segments.tick() >= 0 AS ticked;
-- It cannot write the catalog or the membership itself (which would leave
-- them disagreeing), nor call the internal functions.
\set VERBOSITY terse
UPDATE segments.segment SET rule = 'true';
INSERT INTO segments.membership (segment_id, contact) VALUES (1, 1);
DELETE FROM segments.membership_log;
UPDATE segments.segment_state SET swept_to = now();
SELECT segments._build(1, 'SELECT 1::bigint');
SELECT segments._writers_lock(true);
SELECT segments._lock();
SELECT segments._apply(1, 'SELECT 1::bigint AS contact', 'refresh');
SELECT segments._matching('SELECT 1::bigint', NULL::bigint);
SELECT segments._set_references(1);
SELECT segments._catalog_changed();
SELECT segments.attach_lists('"Sales Data"."Contacts"', contact => 'Id', list => 'Owner');
SELECT segments.detach_contacts();
\set VERBOSITY default
RESET ROLE;

-- A reader reads the catalog, membership, log and stats, and evaluates
-- rules; it cannot change segments.
SET ROLE seg_reader;
SELECT name, rule FROM segments.segment;
SELECT count(*) AS members FROM segments.membership;
SELECT count(*) AS log_rows FROM segments.membership_log;
SELECT name, members FROM segments.stats;
SELECT segments.preview_count($$"it's" >= 3$$) AS counted;
SELECT segments.preview($$"it's" >= 4$$, 3) AS previewed;
SELECT segments.matches(3::bigint, $$"it's" >= 3$$) AS matches_3;
SELECT segments.to_sql('in segment ''Three plus''') IS NOT NULL AS compiled;
\set VERBOSITY terse
SELECT segments.create_segment('Mine', 'true');
SELECT segments.drop_segment('Three plus');
SELECT segments.refresh_segment('Three plus');
SELECT segments.tick();
\set VERBOSITY default
RESET ROLE;

-- A role with neither gets nothing: not even its own SELECT on the
-- contacts lets it call the functions or read the tables.
SET ROLE seg_stranger;
\set VERBOSITY terse
SELECT segments.preview_count('true');
SELECT count(*) FROM segments.membership;
SELECT segments.create_segment('Mine', 'true');
\set VERBOSITY default
RESET ROLE;

-- A writer of the attached table needs no privilege on segments: its
-- writes are maintained in its transaction, and it may flush them.
SET ROLE seg_writer;
UPDATE "Sales Data"."Contacts" SET "it's" = 3 WHERE "Id" = 1;
BEGIN;
INSERT INTO "Sales Data"."Contacts" VALUES (21, 'carol', 'name 21', 4);
SELECT segments.flush();
COMMIT;
DELETE FROM "Sales Data"."Contacts" WHERE "Id" = 3;
RESET ROLE;
SELECT m.contact FROM segments.membership m ORDER BY 1;
SELECT * FROM segments.verify_segment('Three plus');

-- It may not list what its writes queued: which segments a write queues
-- tells which values their rules test.  A reader may.
SET ROLE seg_writer;
BEGIN;
UPDATE "Sales Data"."Contacts" SET "it's" = 1 WHERE "Id" = 1;
\set VERBOSITY terse
SELECT count(*) FROM segments.pending();
\set VERBOSITY default
ROLLBACK;
RESET ROLE;
GRANT UPDATE ON "Sales Data"."Contacts" TO seg_reader;
SET ROLE seg_reader;
BEGIN;
UPDATE "Sales Data"."Contacts" SET "it's" = 1 WHERE "Id" = 1;
SELECT count(*) AS queued FROM segments.pending();
ROLLBACK;
RESET ROLE;
REVOKE UPDATE ON "Sales Data"."Contacts" FROM seg_reader;

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

SELECT segments.drop_segment('Three plus');
SELECT segments.detach_contacts();
DROP SCHEMA "Sales Data" CASCADE;
DROP ROLE seg_writer, seg_reader, seg_editor, seg_stranger;
