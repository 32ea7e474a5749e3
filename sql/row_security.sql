--
-- Row-level security: a role learns through segments only about the
-- contacts it can SELECT.  preview, preview_count, matches and explain run
-- with the caller's privileges, so the contacts table's policies apply to
-- them; membership and its log show a reader only the contacts its
-- policies let it see, while maintenance sees every contact.
--

-- Each owner sees only their own contacts (alice the even ones, bob the
-- odd ones, test_setup.sql).  Identifiers that need quoting.
CALL create_sales_contacts();
CREATE TABLE "Sales Data".events (contact bigint NOT NULL, kind text NOT NULL, at timestamptz NOT NULL);
INSERT INTO "Sales Data".events SELECT i, 'opened', '2025-01-01' FROM generate_series(1, 20) AS i;
SELECT segments.attach_contacts('"Sales Data"."Contacts"', key => 'Id');
SELECT segments.attach_events('"Sales Data".events', contact => 'contact', kind => 'kind', at => 'at');
SELECT segments.create_segment('Three plus', $$"it's" >= 3$$) AS three_plus \gset

CREATE ROLE seg_alice IN ROLE segments_editor;
CREATE ROLE seg_nobody IN ROLE segments_reader;
CREATE ROLE seg_analyst IN ROLE segments_reader;
GRANT USAGE ON SCHEMA "Sales Data" TO seg_alice, seg_nobody, seg_analyst;
GRANT SELECT ON "Sales Data"."Contacts", "Sales Data".events TO seg_alice, seg_analyst;
ALTER TABLE "Sales Data"."Contacts" ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON "Sales Data"."Contacts"
	USING ('seg_' || "Owner" = current_user::text OR current_user = 'seg_analyst');

-- Evaluating rules: alice counts, lists and explains her contacts only;
-- bob's are as if they did not exist.
SET ROLE seg_alice;
SELECT segments.preview_count($$"it's" >= 3$$) AS as_alice;
SELECT segments.preview($$"it's" >= 3$$, 100) AS visible_to_alice;
SELECT segments.matches(4::bigint, $$"it's" >= 3$$) AS alice_4;
\set VERBOSITY terse
SELECT segments.matches(3::bigint, $$"it's" >= 3$$) AS alice_3;
\set VERBOSITY default
SELECT * FROM segments.explain(4::bigint, $$"it's" >= 3 and "First Name" contains 'NAME'$$);

-- Reading membership and its log: the segment holds 8 contacts, 4 of them
-- alice's; she sees those 4, and counts 4 in stats.
SELECT m.contact FROM segments.membership m WHERE m.segment_id = :three_plus ORDER BY 1;
-- so does the view of members with their segments' names
SELECT name, tenant, contact FROM segments.members ORDER BY name, contact;
SELECT count(*) AS log_rows, count(*) FILTER (WHERE l.contact % 2 = 1) AS of_bob
FROM segments.membership_log l WHERE l.segment_id = :three_plus;
SELECT name, members FROM segments.stats;

-- A segment alice creates over data she cannot see: its membership holds
-- every matching contact, as maintenance sees them all, but she reads
-- only hers.
SELECT segments.create_segment('Opened', $$event 'opened'$$) AS opened \gset
SELECT count(*) AS visible_members FROM segments.membership m WHERE m.segment_id = :opened;
SELECT count(*) AS visible_joins FROM segments.membership_log l WHERE l.segment_id = :opened;
-- "in segment" in an ad hoc rule reads membership as alice too
SELECT segments.preview_count($$in segment 'Opened'$$) AS opened_via_segment;
RESET ROLE;
SELECT count(*) AS all_members FROM segments.membership m WHERE m.segment_id = :opened;

-- A role the policy lets see every contact sees every member; so does one
-- the contacts table's row-level security does not apply to.
SET ROLE seg_analyst;
SELECT count(*) AS analyst_members FROM segments.membership m WHERE m.segment_id = :opened;
RESET ROLE;
ALTER TABLE "Sales Data"."Contacts" DISABLE ROW LEVEL SECURITY;
SET ROLE seg_alice;
SELECT count(*) AS without_rls FROM segments.membership m WHERE m.segment_id = :opened;
RESET ROLE;
ALTER TABLE "Sales Data"."Contacts" ENABLE ROW LEVEL SECURITY;

-- A reader without SELECT on the contacts table gets an error, not rows,
-- whether it evaluates a rule or reads the membership.
SET ROLE seg_nobody;
\set VERBOSITY terse
SELECT segments.preview_count('true');
SELECT segments.matches(2::bigint, 'true');
SELECT count(*) FROM segments.membership;
SELECT count(*) FROM segments.membership_log;
\set VERBOSITY default
RESET ROLE;

-- A write by a role the policies limit is maintained as any other (it
-- updates contact 2 only: 1 is bob's).
GRANT UPDATE ON "Sales Data"."Contacts" TO seg_alice;
SET ROLE seg_alice;
UPDATE "Sales Data"."Contacts" SET "it's" = 4 WHERE "Id" IN (1, 2);
RESET ROLE;
SELECT m.contact FROM segments.membership m WHERE m.segment_id = :three_plus ORDER BY 1;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v
ORDER BY s.name;

ALTER TABLE "Sales Data"."Contacts" DISABLE ROW LEVEL SECURITY;
SELECT segments.drop_segment('Opened');
SELECT segments.drop_segment('Three plus');
SELECT segments.detach_events();
SELECT segments.detach_contacts();
DROP SCHEMA "Sales Data" CASCADE;
DROP ROLE seg_alice, seg_nobody, seg_analyst;

-- The policies read the keys a reader can see once per query, into a
-- structure made for the key's type: integer keys dense and sparse, far
-- apart and negative, a chunk of them in a bitmap; text keys hashed.
CREATE TABLE wide_keys (id bigint PRIMARY KEY, visible boolean NOT NULL);
INSERT INTO wide_keys
SELECT k, k % 3 <> 0
FROM (SELECT generate_series(1, 10000) UNION ALL SELECT 1000000000000 + 7 * generate_series(1, 200)
	UNION ALL SELECT -generate_series(1, 50) UNION ALL SELECT 9223372036854775807
	UNION ALL SELECT -9223372036854775808) AS k(k);
SELECT segments.attach_contacts('public.wide_keys', key => 'id');
SELECT segments.create_segment('Every key', 'true') AS every_key \gset
CREATE ROLE seg_partial IN ROLE segments_reader;
GRANT SELECT ON wide_keys TO seg_partial;
ALTER TABLE wide_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY some_keys ON wide_keys USING (visible);
SET ROLE seg_partial;
SELECT count(*) AS seen, count(*) FILTER (WHERE m.contact % 3 = 0) AS hidden_seen,
	min(m.contact), max(m.contact)
FROM segments.membership m WHERE m.segment_id = :every_key;
SELECT count(*) AS seen_in_log FROM segments.membership_log l WHERE l.segment_id = :every_key;
RESET ROLE;
SELECT count(*) FILTER (WHERE visible) AS visible_keys FROM wide_keys;
SET ROLE seg_partial;
-- a reader's view follows the data it can see, statement by statement,
-- even where PL/pgSQL keeps an expression for the whole transaction
RESET ROLE;
GRANT INSERT ON wide_keys TO seg_partial;
SET ROLE seg_partial;
BEGIN;
DO $$
BEGIN
	RAISE NOTICE 'contact 20001 visible: %', segments._contact_visible(20001::bigint);
	INSERT INTO wide_keys VALUES (20001, true);
	RAISE NOTICE 'contact 20001 visible after its insert: %', segments._contact_visible(20001::bigint);
END $$;
ROLLBACK;
RESET ROLE;
ALTER TABLE wide_keys DISABLE ROW LEVEL SECURITY;
SELECT segments.drop_segment('Every key');
SELECT segments.detach_contacts();

CREATE TABLE text_keys (id text PRIMARY KEY);
INSERT INTO text_keys SELECT 'contact ' || i FROM generate_series(1, 3000) AS i;
SELECT segments.attach_contacts('public.text_keys', key => 'id');
SELECT segments.create_segment('Every text key', 'true') AS every_text_key \gset
GRANT SELECT ON text_keys TO seg_partial;
ALTER TABLE text_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY some_keys ON text_keys USING (id LIKE '%7');
SET ROLE seg_partial;
SELECT count(*) AS seen, count(*) FILTER (WHERE m.contact NOT LIKE '%7') AS hidden_seen
FROM segments.membership m WHERE m.segment_id = :every_text_key;
RESET ROLE;
SELECT count(*) AS visible_text_keys FROM text_keys WHERE id LIKE '%7';
ALTER TABLE text_keys DISABLE ROW LEVEL SECURITY;
SELECT segments.drop_segment('Every text key');
SELECT segments.detach_contacts();
DROP TABLE wide_keys, text_keys;
DROP ROLE seg_partial;
