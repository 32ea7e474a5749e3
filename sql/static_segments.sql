--
-- static_segments: segments whose members are a fixed set.
--
--   segments.create_segment(name, rule [, tenant => t], static => true)
--       built once from the rule: everyone who matched then
--   segments.freeze_segment(segment)
--       a segment's current members, fixed from now on
--
-- A static segment's members are its contacts included by hand; writes
-- and time do not change them (a deleted contact leaves, and a contact
-- moving to another tenant leaves that tenant's segment); include() adds
-- a contact, exclude() and remove_override() take one out.  Its rule is
-- kept as what it was built from; it cannot be altered.  Other segments
-- use it "in segment" like any other.
--
SET TimeZone = 'UTC';
SET segments.now_override = '2025-06-15 12:00:00+00';

CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL, plan text,
	signed_up timestamptz NOT NULL);
INSERT INTO contacts SELECT i, 1 + i % 2, CASE WHEN i % 3 = 0 THEN 'free' ELSE 'pro' END,
	timestamptz '2025-06-15 12:00:00+00' - i * interval '1 day'
FROM generate_series(1, 20) AS i;
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
CREATE VIEW members AS
SELECT s.name, s.tenant, array_agg(m.contact ORDER BY m.contact) FILTER (WHERE m.contact IS NOT NULL) AS contacts
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name, s.tenant ORDER BY s.id;

-- Everyone who signed up in the last week, on launch day; and the same,
-- kept current.
SELECT segments.create_segment('Launch week', 'signed_up within last 7 days', static => true) IS NOT NULL AS static,
	segments.create_segment('Last week', 'signed_up within last 7 days') IS NOT NULL AS dynamic,
	segments.create_segment('Launch pros', 'plan = ''pro''', tenant => 1, static => true) IS NOT NULL AS tenant_static;
SELECT name, tenant, static, overridden, rule FROM segments.segment ORDER BY id;
SELECT * FROM members;
SELECT s.name, count(o.*) AS included FROM segments.segment s LEFT JOIN segments.override o ON o.segment_id = s.id
GROUP BY s.id, s.name ORDER BY s.id;
-- a static segment refers to nothing: writes never need it
SELECT s.name, count(r.*) AS references FROM segments.segment s
LEFT JOIN segments.segment_reference r ON r.segment_id = s.id GROUP BY s.id, s.name ORDER BY s.id;
SELECT count(*) FROM new_log();

-- A week later, and after writes: the static segments keep their members.
SET segments.now_override = '2025-06-22 12:00:00+00';
SELECT segments.tick() > 0 AS ticked;
UPDATE contacts SET plan = 'pro' WHERE id IN (3, 9);
UPDATE contacts SET plan = 'free' WHERE id IN (1, 5);
INSERT INTO contacts VALUES (21, 2, 'pro', '2025-06-21 00:00:00+00');
SELECT * FROM new_log();
SELECT * FROM members;
SELECT all_verified() AS verified;

-- By hand: a contact added, one taken out, one removed again.
SELECT segments.include('Launch week', 10) AS added, segments.exclude('Launch week', 2) AS taken_out,
	segments.remove_override('Launch week', 3) AS removed;
SELECT * FROM new_log();
-- A deleted contact leaves (membership holds existing contacts only); a
-- contact that moves to another tenant leaves that tenant's segment.
DELETE FROM contacts WHERE id = 4;
UPDATE contacts SET account_id = 2 WHERE id = 14;
SELECT * FROM new_log();
SELECT * FROM members;
SELECT segments.refresh_segment('Launch week') AS refresh, all_verified() AS verified;

-- Freezing a segment keeps its members; from then on only include and
-- exclude change them, and the segments its rule named may be dropped.
SELECT segments.create_segment('Pro', 'plan = ''pro''') IS NOT NULL AS created,
	segments.create_segment('Pro then', 'in segment ''Pro''') IS NOT NULL AS created;
SELECT * FROM try('SELECT segments.drop_segment(''Pro'')');
SELECT segments.freeze_segment('Pro then');
SELECT segments.freeze_segment('Pro then');
SELECT name, static FROM segments.segment WHERE name LIKE 'Pro%';
SELECT count(*) FROM new_log();
SELECT segments.drop_segment('Pro');
UPDATE contacts SET plan = 'free' WHERE id = 8;
SELECT * FROM new_log();
-- Other segments use a static one like any other, following its changes.
SELECT segments.create_segment('Pro then, free now', 'in segment ''Pro then'' and plan = ''free''') IS NOT NULL AS created;
SELECT segments.exclude('Pro then', 8) AS excluded;
SELECT * FROM new_log();
SELECT all_verified() AS verified;

-- What users get wrong.
SELECT * FROM try('SELECT segments.alter_segment(''Launch week'', ''true'')');
SELECT * FROM try('SELECT segments.freeze_segment(''Nope'')');
SELECT * FROM try('SELECT segments.create_segment(''Launch week'', ''true'', static => true)');
SELECT * FROM try('SELECT segments.create_segment(''Bad'', ''no_such_column = 1'', static => true)');
SELECT count(*) AS unchanged FROM segments.segment;

SELECT segments.drop_segment('Pro then, free now');
SELECT segments.drop_segment('Pro then');
SELECT segments.drop_segment('Launch pros', tenant => 1);
SELECT segments.drop_segment('Last week');
SELECT segments.drop_segment('Launch week');
RESET segments.now_override;
DROP VIEW members;
SELECT segments.detach_contacts();
DROP TABLE contacts;
