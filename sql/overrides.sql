--
-- overrides: contacts included in or excluded from a segment by hand.
--
--   segments.include(segment, contact [, tenant])   a member whatever the rule says
--   segments.exclude(segment, contact [, tenant])   never a member
--   segments.remove_override(segment, contact [, tenant])   the rule decides again
--
-- Membership is (the rule or included) and not excluded, in the write
-- path and the SQL path alike; overrides survive writes, alter, refresh
-- and ticks, go with a dropped segment, and are logged with cause manual.
-- Each returns the joins and leaves it made (of the segment and of the
-- segments using it).  segments.explain() says which memberships were
-- made by hand.
--
SET TimeZone = 'UTC';

CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL, plan text, score integer);
INSERT INTO contacts SELECT i, 1 + i % 2, CASE WHEN i % 3 = 0 THEN 'free' ELSE 'pro' END, i
FROM generate_series(1, 30) AS i;
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT segments.create_segment('Pro', 'plan = ''pro''') IS NOT NULL AS pro,
	segments.create_segment('Pro high', 'in segment ''Pro'' and score > 20') IS NOT NULL AS pro_high;
SELECT count(*) FROM new_log();
CREATE VIEW members AS
SELECT s.name, array_agg(m.contact ORDER BY m.contact) FILTER (WHERE m.contact IS NOT NULL) AS contacts
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name ORDER BY s.id;

-- Contact 21 is free: included, it joins Pro and, through it, Pro high.
-- Contact 22 is pro: excluded, it leaves both.  Doing it again changes
-- nothing.
SELECT segments.include('Pro', 21) AS included, segments.exclude('Pro', 22) AS excluded;
SELECT * FROM new_log();
SELECT segments.include('Pro', 21) AS again, segments.exclude('Pro', 22) AS again;
SELECT name, overridden, static FROM segments.segment ORDER BY id;
SELECT segment_id = (SELECT id FROM segments.segment WHERE name = 'Pro') AS of_pro, contact, included,
	at <= now() AS at, made_by = session_user AS by_me
FROM segments.override ORDER BY contact;
SELECT all_verified() AS verified;
SELECT * FROM segments.explain(21::bigint, 'in segment ''Pro'' and in segment ''Pro high''');
SELECT * FROM segments.explain(22::bigint, 'in segment ''Pro''');
SELECT * FROM segments.explain(23::bigint, 'in segment ''Pro''');

-- Writes: the rule no longer decides for 21 and 22.
UPDATE contacts SET plan = 'free' WHERE id IN (20, 21, 23);
UPDATE contacts SET plan = 'pro' WHERE id IN (22, 24);
SELECT * FROM new_log();
SELECT * FROM members;
-- A contact included that is deleted leaves; back, it is a member again.
DELETE FROM contacts WHERE id = 21;
INSERT INTO contacts VALUES (21, 2, 'free', 21);
SELECT * FROM new_log();
-- alter, refresh and refresh_all keep the overrides.
SELECT segments.alter_segment('Pro', 'plan = ''pro'' or score = 3');
SELECT * FROM new_log();
SELECT segments.refresh_segment('Pro') AS refresh, (SELECT sum(changes) FROM segments.refresh_all()) AS refresh_all,
	all_verified() AS verified;
SELECT * FROM members;

-- Removing an override gives the contact back to the rule.
SELECT segments.remove_override('Pro', 21) AS removed, segments.remove_override('Pro', 22) AS removed;
SELECT * FROM new_log();
SELECT segments.remove_override('Pro', 22) AS none_left;
-- An exclusion replaces an inclusion, and the other way round.
SELECT segments.include('Pro', 3), segments.exclude('Pro', 3);
SELECT contact, included FROM segments.override;
SELECT * FROM new_log();

-- By id, and within a tenant.
SELECT segments.include((SELECT id FROM segments.segment WHERE name = 'Pro'), 6::bigint) AS by_id;
SELECT segments.create_segment('Pro', 'plan = ''pro''', tenant => 1) IS NOT NULL AS created;
SELECT segments.include('Pro', 12, tenant => 1) AS tenant_include;
SELECT * FROM new_log();
SELECT * FROM try('SELECT segments.include(''Pro'', 9, tenant => 1)');
SELECT * FROM try('SELECT segments.exclude(''Pro'', 9, tenant => 3)');
-- A contact included in a tenant's segment that moves to another tenant
-- leaves it, and is a member again when it comes back.
UPDATE contacts SET account_id = 2 WHERE id = 12;
SELECT * FROM new_log();
UPDATE contacts SET account_id = 1 WHERE id = 12;
SELECT * FROM new_log();

-- What users get wrong.
SELECT * FROM try('SELECT segments.include(''Nope'', 1)');
SELECT * FROM try('SELECT segments.include(''Pro'', 999)');
SELECT * FROM try('SELECT segments.include(''Pro'', ''x''::text)');
SELECT * FROM try('SELECT segments.include(''Pro'', NULL::bigint)');
SELECT * FROM try('SELECT segments.include(12345, 1)');
-- Only under READ COMMITTED, as catalog changes.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM try('SELECT segments.include(''Pro'', 1)');
ROLLBACK;

-- Who may: editors; a reader may not, nor may an editor include a contact
-- it cannot see (row-level security on the contacts).
CREATE ROLE override_reader IN ROLE segments_reader;
CREATE ROLE override_editor IN ROLE segments_editor;
GRANT SELECT ON contacts TO override_reader, override_editor;
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY odd_only ON contacts FOR SELECT TO override_editor USING (id % 2 = 1);
CREATE POLICY everyone ON contacts FOR SELECT TO override_reader USING (true);
SET ROLE override_reader;
SELECT * FROM try('SELECT segments.include(''Pro'', 1)');
SELECT * FROM try('SELECT segments._override(1, 1::bigint, true)');
SET ROLE override_editor;
SELECT segments.include('Pro', 27) AS visible_odd;
SELECT * FROM try('SELECT segments.include(''Pro'', 28)');
SELECT * FROM try('SELECT segments.exclude(''Pro'', 999)');
SELECT count(*) AS overrides_it_sees FROM segments.override;
RESET ROLE;
ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;
DROP POLICY odd_only ON contacts;
DROP POLICY everyone ON contacts;
SELECT * FROM new_log();
SELECT all_verified() AS verified;

-- Dropping a segment drops its overrides.
SELECT count(*) AS overrides FROM segments.override;
SELECT segments.drop_segment('Pro', tenant => 1);
SELECT segments.drop_segment('Pro high');
SELECT segments.drop_segment('Pro');
SELECT count(*) AS overrides FROM segments.override;

DROP VIEW members;
SELECT segments.detach_contacts();
SELECT to_regclass('segments.override') AS gone;
DROP TABLE contacts;
REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM override_reader, override_editor;
DROP ROLE override_reader, override_editor;
