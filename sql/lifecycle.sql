--
-- lifecycle: the segment catalog (README, "Segments").
--
-- A segment is a named rule; its members are materialized in
-- segments.membership and every join and leave is recorded in
-- segments.membership_log with its cause.  create_segment builds the
-- membership in one statement; alter_segment and refresh_segment apply only
-- the difference; verify_segment compares stored and fresh membership;
-- rename_segment rewrites the rules that refer to the segment; drop_segment
-- is refused while another segment refers to it.  Names are unique per
-- tenant; every function also takes a segment id, or a name and a tenant.
--

-- Ten contacts of two accounts (the tenant column).
CREATE TABLE contacts (
	id bigint PRIMARY KEY,
	account_id integer NOT NULL,
	country text,
	score integer
);
INSERT INTO contacts VALUES
	(1, 1, 'US', 12), (2, 1, 'FR', 3), (3, 1, 'US', 7), (4, 1, NULL, 15), (5, 1, 'DE', 9),
	(6, 2, 'US', 20), (7, 2, 'FR', 1), (8, 2, 'US', 11), (9, 2, 'DE', NULL), (10, 2, NULL, 5);
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');

-- members: the current members of every segment.
CREATE VIEW members AS
SELECT s.id, s.name, s.tenant,
       coalesce(array_agg(m.contact ORDER BY m.contact) FILTER (WHERE m.contact IS NOT NULL), '{}') AS contacts
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id ORDER BY s.id;

--
-- 1. create_segment: the rule is checked, recorded, and the membership
--    built.  It returns the new segment's id.
--
SELECT segments.create_segment('US', 'country = ''US''');
SELECT id, name, tenant, rule, created_at = updated_at AS unchanged FROM segments.segment;
SELECT * FROM members;
SELECT * FROM new_log();
-- What the rule refers to is kept in segments.segment_reference, the
-- dependency index the maintenance engine reads.
SELECT segment_id, kind, name, path, relative FROM segments.segment_reference;

\x on
-- Names are unique (per tenant), not empty, not null; the rule must not be
-- null and must make sense for the attached tables.  A refused segment
-- leaves nothing behind.
SELECT * FROM try($$SELECT segments.create_segment('US', 'true')$$);
SELECT * FROM try($$SELECT segments.create_segment('', 'true')$$);
SELECT * FROM try($$SELECT segments.create_segment(NULL, 'true')$$);
SELECT * FROM try($$SELECT segments.create_segment('Nothing', NULL)$$);
SELECT state, message FROM try($$SELECT segments.create_segment('Typo', 'contry = ''US''')$$);
\x off
SELECT count(*) AS segments FROM segments.segment;
SELECT count(*) AS references FROM segments.segment_reference;
SELECT count(*) AS members FROM segments.membership;

--
-- 2. Ad hoc: a rule can be tried before it is saved.  preview lists the
--    first matching contacts in key order (100 unless told), preview_count
--    counts them, to_sql shows the query (it is run here to compare).
--
SELECT * FROM segments.preview('score >= 10');
SELECT * FROM segments.preview('score >= 10', 2);
SELECT * FROM segments.preview('score >= 10', 0);
-- page by page: the next ones after the last contact of a page
SELECT * FROM segments.preview('score >= 10', 2, after => 4);
SELECT * FROM segments.preview('score >= 10', 2, after => 8);
SELECT * FROM segments.preview('score >= 10', 2, tenant => 1, after => 1);
SELECT segments.preview_count('score >= 10'), segments.preview_count('false');
CREATE FUNCTION run_count(sql text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM (%s) q', sql) INTO n;
	RETURN n;
END
$$;
SELECT run_count(segments.to_sql('score >= 10')) AS to_sql_count;
SELECT segments.preview_count(NULL), segments.to_sql(NULL);
\x on
SELECT * FROM try($$SELECT segments.preview('true', -1)$$);
\x off

--
-- 3. alter_segment replaces the rule and applies only the difference:
--    contacts that no longer match leave, new matches join, the others
--    stay untouched (their "since" is kept) and are not logged.
--
CREATE TABLE since_before AS SELECT contact, since FROM segments.membership
WHERE segment_id = (SELECT id FROM segments.segment WHERE name = 'US');
SELECT segments.alter_segment('US', 'country = ''US'' and score >= 10');
SELECT * FROM members;
SELECT * FROM new_log();
SELECT m.contact, m.since = b.since AS same_since
FROM segments.membership m JOIN since_before b USING (contact)
WHERE m.segment_id = (SELECT id FROM segments.segment WHERE name = 'US') ORDER BY 1;
SELECT segments.alter_segment('US', 'score >= 10');
SELECT * FROM members;
SELECT * FROM new_log();
SELECT rule, updated_at > created_at AS updated FROM segments.segment WHERE name = 'US';
SELECT segment_id, kind, name, path, relative FROM segments.segment_reference;
-- The same rule again changes nothing.
SELECT segments.alter_segment('US', 'score >= 10');
SELECT * FROM new_log();
-- A refused rule leaves the segment as it was.
\x on
SELECT state, message FROM try($$SELECT segments.alter_segment('US', 'scor >= 10')$$);
SELECT * FROM try($$SELECT segments.alter_segment('US', NULL)$$);
SELECT * FROM try($$SELECT segments.alter_segment('Nowhere', 'true')$$);
\x off
SELECT rule FROM segments.segment WHERE name = 'US';
SELECT * FROM members;

--
-- 4. Writes to the contacts change membership when they commit,
--    logged with cause write.  verify_segment compares the stored
--    membership with a fresh evaluation; refresh_segment re-evaluates and
--    returns the number of joins and leaves it made: none after writes,
--    one here after a member was deleted behind the extension's back.
--
UPDATE contacts SET score = 0 WHERE id = 1;
INSERT INTO contacts VALUES (11, 1, 'US', 50);
SELECT * FROM new_log();
SELECT * FROM segments.verify_segment('US');
SELECT segments.refresh_segment('US');
DELETE FROM segments.membership
WHERE segment_id = (SELECT id FROM segments.segment WHERE name = 'US') AND contact = 11;
SELECT * FROM segments.verify_segment('US');
SELECT segments.refresh_segment('US');
SELECT * FROM new_log();
SELECT * FROM segments.verify_segment('US');
SELECT * FROM members;

--
-- 5. One segment can use another: "in segment 'name'".  Renaming a
--    segment rewrites the rules that refer to it; dropping it is refused
--    while they do.
--
SELECT segments.create_segment('Top US', 'in segment ''US'' and country = ''US''');
SELECT * FROM members;
SELECT * FROM new_log();
SELECT segment_id, kind, name, path, relative FROM segments.segment_reference ORDER BY 1, 2;
-- When a segment's membership changes (by a write, alter or refresh), the
-- segments that use it follow in the same transaction.
UPDATE contacts SET score = 0 WHERE id = 6;
SELECT segments.refresh_segment('US');
SELECT * FROM members;
SELECT * FROM new_log();
SELECT * FROM segments.verify_segment('Top US');
\x on
SELECT * FROM try($$SELECT segments.create_segment('Top FR', 'in segment ''Nowhere'' and country = ''FR''')$$);
\x off

SELECT segments.rename_segment('US', 'Scorers');
SELECT id, name, rule FROM segments.segment ORDER BY id;
SELECT segment_id, kind, name FROM segments.segment_reference WHERE kind = 'segment';
-- Membership is kept by id: renaming changes no member.
SELECT * FROM members;
SELECT * FROM new_log();
\x on
SELECT * FROM try($$SELECT segments.rename_segment('Scorers', 'Top US')$$);
SELECT * FROM try($$SELECT segments.rename_segment('Scorers', '')$$);
SELECT * FROM try($$SELECT segments.rename_segment('US', 'Others')$$);
SELECT * FROM try($$SELECT segments.drop_segment('Scorers')$$);
\x off
-- Renaming to the same name is allowed and changes nothing.
SELECT segments.rename_segment('Scorers', 'Scorers');

--
-- 6. Cycles through "in segment" are refused: a segment cannot refer to
--    itself, directly or through others.
--
SELECT segments.create_segment('A', 'true');
SELECT segments.create_segment('B', 'in segment ''A''');
SELECT segments.create_segment('C', 'in segment ''B'' and score >= 5');
\x on
SELECT * FROM try($$SELECT segments.alter_segment('A', 'in segment ''C''')$$);
SELECT * FROM try($$SELECT segments.alter_segment('A', 'in segment ''A'' or score > 1')$$);
SELECT * FROM try($$SELECT segments.create_segment('D', 'not in segment ''D''')$$);
\x off
SELECT name, rule FROM segments.segment WHERE name IN ('A', 'B', 'C', 'D') ORDER BY name;
SELECT * FROM members WHERE name IN ('A', 'B', 'C');
SELECT * FROM new_log();
-- Altering A changes B, which uses it, then C, which uses B.
SELECT segments.alter_segment('A', 'score >= 8');
SELECT * FROM members WHERE name IN ('A', 'B', 'C');
SELECT * FROM new_log();

--
-- 7. Every function that takes a segment's name also takes its id.
--
SELECT id AS a_id FROM segments.segment WHERE name = 'A' \gset
SELECT id AS b_id FROM segments.segment WHERE name = 'B' \gset
SELECT id AS c_id FROM segments.segment WHERE name = 'C' \gset
SELECT :c_id AS c_id;
SELECT segments.alter_segment(:c_id, 'in segment ''B'' and score >= 10');
SELECT * FROM segments.verify_segment(:c_id);
UPDATE contacts SET score = 10 WHERE id = 5;
SELECT segments.refresh_segment(:c_id);
SELECT segments.rename_segment(:c_id, 'C2');
SELECT * FROM members WHERE id = :c_id;
SELECT * FROM new_log();
SELECT segments.drop_segment(:c_id);
SELECT segments.drop_segment(:b_id);
SELECT segments.drop_segment('A');
\x on
SELECT * FROM try($$SELECT segments.refresh_segment(999)$$);
SELECT * FROM try($$SELECT segments.drop_segment(NULL::bigint)$$);
\x off
-- A dropped segment's members leave, logged with cause drop; its log stays,
-- as history.
SELECT segment_id, count(*) FILTER (WHERE joined) AS joins, count(*) FILTER (WHERE NOT joined) AS leaves
FROM segments.membership_log WHERE segment_id IN (:a_id, :b_id, :c_id) GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM segments.membership WHERE segment_id IN (:a_id, :b_id, :c_id);
SELECT segments.drop_segment('Top US');
SELECT segments.drop_segment('Scorers');
SELECT count(*) AS segments FROM segments.segment;
SELECT count(*) AS members FROM segments.membership;
SELECT count(*) AS references FROM segments.segment_reference;

--
-- 8. Tenants.  A segment created with a tenant contains only that tenant's
--    contacts; names are unique per tenant; "in segment" resolves within
--    the tenant.  The tenant is stored as the canonical text of the value
--    read as the tenant column's type, so 2, '2' and '02' are one tenant.
--
SELECT segments.create_segment('Active', 'score >= 5', tenant => 1);
SELECT segments.create_segment('Active', 'score >= 5', tenant => '02');
SELECT segments.create_segment('Active US', 'in segment ''Active'' and country = ''US''', tenant => 1);
SELECT * FROM members;
SELECT * FROM new_log();
\x on
SELECT * FROM try($$SELECT segments.create_segment('Active', 'true', tenant => 2)$$);
SELECT * FROM try($$SELECT segments.create_segment('Active', 'true', tenant => 'two')$$);
SELECT * FROM try($$SELECT segments.create_segment('Active US', 'in segment ''Active US 2''', tenant => 2)$$);
-- A name alone must designate one segment.
SELECT * FROM try($$SELECT segments.refresh_segment('Active')$$);
SELECT * FROM try($$SELECT segments.refresh_segment('Active', tenant => 3)$$);
\x off
-- A name that only one tenant uses needs no tenant.
SELECT * FROM segments.verify_segment('Active US');
-- With the tenant, each function finds the segment.
UPDATE contacts SET score = 6 WHERE id = 7;
SELECT segments.refresh_segment('Active', tenant => 1) AS tenant_1,
       segments.refresh_segment('Active', tenant => 2) AS tenant_2;
SELECT * FROM segments.verify_segment('Active', tenant => 2);
-- Rules tried with the tenant spelt otherwise ('02') see the same tenant.
SELECT c.id, segments.matches(c.id, 'in segment ''Active''', tenant => '02') AS in_active,
       m.contact IS NOT NULL AS member
FROM contacts c
LEFT JOIN segments.membership m ON m.contact = c.id
	AND m.segment_id = (SELECT s.id FROM segments.segment s WHERE s.name = 'Active' AND s.tenant = '2')
ORDER BY c.id;
SELECT segments.alter_segment('Active', 'score >= 10', tenant => 2);
SELECT * FROM new_log();
\x on
SELECT * FROM try($$SELECT segments.drop_segment('Active', tenant => 1)$$);
\x off
SELECT segments.rename_segment('Active', 'Engaged', tenant => 1);
SELECT id, name, tenant, rule FROM segments.segment ORDER BY id;
-- A segment without a tenant takes precedence for a name alone.
SELECT segments.create_segment('Active', 'score >= 15');
SELECT segments.refresh_segment('Active');
SELECT * FROM members;
-- Ad hoc evaluation within a tenant.
SELECT * FROM segments.preview('score >= 5', 10, tenant => 1);
SELECT segments.preview_count('score >= 5', tenant => 2);
SELECT run_count(segments.to_sql('score >= 5', tenant => 2)) AS to_sql_count;
-- tenant => NULL means no tenant.
SELECT segments.preview_count('score >= 5', tenant => NULL);
SELECT * FROM segments.verify_segment('Active', tenant => NULL);
SELECT segments.drop_segment('Active', tenant => NULL);
SELECT segments.drop_segment('Active US');
SELECT segments.drop_segment('Engaged');
SELECT segments.drop_segment('Active');

--
-- 9. Catalog changes serialize: create, alter, rename and drop lock
--    segments.segment in SHARE ROW EXCLUSIVE mode until the end of the
--    transaction.
--
BEGIN;
SELECT segments.create_segment('Locked', 'true') > 0 AS created;
SELECT mode FROM pg_locks
WHERE relation = 'segments.segment'::regclass AND pid = pg_backend_pid() AND mode = 'ShareRowExclusiveLock';
ROLLBACK;

--
-- 10. The functions do not depend on the caller's search_path: they run
--     with search_path = pg_catalog, pg_temp and qualify every name.  Here
--     a schema placed before pg_catalog makes every text equal and moves
--     now() back to 2000; the catalog is not fooled.
--
CREATE SCHEMA hostile;
CREATE FUNCTION hostile.always(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR hostile.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hostile.always);
CREATE FUNCTION hostile.now() RETURNS timestamptz LANGUAGE sql AS $$SELECT '2000-01-01 00:00+00'::timestamptz$$;
CREATE TABLE hostile.segment (id bigint, name text, tenant text);
SET search_path = hostile, pg_catalog, public;
SELECT segments.create_segment('Safe', 'country = ''FR''');
SELECT segments.create_segment('Also safe', 'country = ''DE''');
SELECT segments.rename_segment('Safe', 'Still safe');
SELECT * FROM segments.verify_segment('Still safe');
RESET search_path;
SELECT * FROM members;
SELECT name, created_at > '2001-01-01' AS created_now FROM segments.segment ORDER BY name;
SELECT segments.drop_segment('Still safe');
SELECT segments.drop_segment('Also safe');
DROP SCHEMA hostile CASCADE;

--
-- 11. Detach.  Contacts cannot be detached while segments exist; without a
--     tenant column, a tenant cannot be given.
--
SELECT segments.create_segment('Last', 'true');
\x on
SELECT * FROM try($$SELECT segments.detach_contacts()$$);
\x off
SELECT segments.drop_segment('Last');
DROP VIEW members;
SELECT segments.detach_contacts();
SELECT segments.attach_contacts('contacts', key => 'id');
\x on
SELECT * FROM try($$SELECT segments.create_segment('Tenant 1', 'true', tenant => 1)$$);
SELECT * FROM try($$SELECT segments.preview_count('true', tenant => 1)$$);
\x off
SELECT segments.create_segment('All', 'true', tenant => NULL);
SELECT tenant IS NULL AS no_tenant, (SELECT count(*) FROM segments.membership) AS members
FROM segments.segment;
SELECT segments.drop_segment('All');
SELECT segments.detach_contacts();

DROP FUNCTION run_count(text);
DROP TABLE contacts, since_before;
