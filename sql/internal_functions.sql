--
-- Internal functions refuse input they were not made for, whoever calls
-- them: the extension's own SQL calls them with what it compiled, and
-- nothing else may make them store or read the wrong thing.
--
CREATE TABLE contacts (id bigint PRIMARY KEY, country text NOT NULL);
INSERT INTO contacts VALUES (1, 'US'), (2, 'FR');
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT segments.create_segment('US', 'country = ''US''') AS us_id \gset

-- segments._build stores the first column of its query as contact keys:
-- a column of another type (a text's pointer read as a bigint), or no
-- column, is refused (42804) and nothing is stored.
SELECT segments._build(:us_id, $$SELECT 'hello'::text$$);
SELECT segments._build(:us_id, $$SELECT 4096::int4$$);
SELECT segments._build(:us_id, $$SELECT$$);
SELECT m.contact FROM segments.membership m WHERE m.segment_id = :us_id ORDER BY 1;
SELECT * FROM segments.verify_segment('US');

SELECT segments.drop_segment('US');
SELECT segments.detach_contacts();
DROP TABLE contacts;

-- With a text key, a bigint read as a pointer to text would crash the
-- server.
CREATE TABLE contacts (handle text PRIMARY KEY, country text NOT NULL);
INSERT INTO contacts VALUES ('@ann', 'US');
SELECT segments.attach_contacts('contacts', key => 'handle');
SELECT segments.create_segment('US', 'country = ''US''') AS us_id \gset
SELECT segments._build(:us_id, $$SELECT 4096::bigint$$);
SELECT m.contact FROM segments.membership m WHERE m.segment_id = :us_id ORDER BY 1;
-- Nor may the membership policies' visibility test take the keys it
-- reads for another type than the one it is asked about.
SELECT segments._contact_visible(4096::bigint);
SELECT segments._contact_visible('@ann'::text) AS ann_visible;

SELECT segments.drop_segment('US');
SELECT segments.detach_contacts();
DROP TABLE contacts;

-- The trigger functions: a role that puts them on a table of its own, a
-- temporary one here, could have its rows taken as contacts (forging
-- membership, or a crash when its columns have other types) and make a
-- TRUNCATE rebuild every segment.  They are not executable by PUBLIC
-- (42501), nor is taking every contact's turn.
CREATE TABLE contacts (id bigint PRIMARY KEY, country text NOT NULL)
	PARTITION BY RANGE (id);
CREATE TABLE contacts_low PARTITION OF contacts FOR VALUES FROM (0) TO (100);
INSERT INTO contacts VALUES (10, 'FR');
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS created;
-- as the README's grants allow an application role: USAGE on the schema
CREATE ROLE segments_test_forger;
GRANT USAGE ON SCHEMA segments TO segments_test_forger;
SET ROLE segments_test_forger;
CREATE TEMP TABLE forged (id bigint, country text);
CREATE TRIGGER forge AFTER INSERT ON forged REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION segments._on_write('contacts');
CREATE TRIGGER forge_truncate AFTER TRUNCATE ON forged
	FOR EACH STATEMENT EXECUTE FUNCTION segments._on_truncate('contacts');
-- taking every contact's turn, which would hold back every committing writer
SELECT segments._take_all_turns();
RESET ROLE;

-- A role allowed to run them (as one that attaches tables must be) still
-- cannot point them at a table of its own: they fire only on the attached
-- table of their role and its partitions (39P01).
GRANT EXECUTE ON FUNCTION segments._on_write(), segments._on_truncate() TO segments_test_forger;
SET ROLE segments_test_forger;
CREATE TRIGGER forge AFTER INSERT ON forged REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION segments._on_write('contacts');
CREATE TRIGGER forge_truncate AFTER TRUNCATE ON forged
	FOR EACH STATEMENT EXECUTE FUNCTION segments._on_truncate('contacts');
INSERT INTO forged VALUES (10, 'US');
TRUNCATE forged;
-- text where the key is bigint
CREATE TEMP TABLE forged_types (id text, country text);
CREATE TRIGGER forge AFTER INSERT ON forged_types REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION segments._on_write('contacts');
INSERT INTO forged_types SELECT i::text, 'US' FROM generate_series(1, 4096) AS i;
RESET ROLE;
SELECT m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE s.name = 'US';

-- The attached table and its partitions, also one created after the
-- writer's attachments were read, keep being maintained.
UPDATE contacts SET country = 'US' WHERE id = 10;
CREATE TABLE contacts_high PARTITION OF contacts FOR VALUES FROM (100) TO (200);
INSERT INTO contacts_high VALUES (150, 'US');
INSERT INTO contacts_low VALUES (20, 'US');
SELECT m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE s.name = 'US' ORDER BY 1;
SELECT * FROM segments.verify_segment('US');

DROP TABLE forged, forged_types;
REVOKE EXECUTE ON FUNCTION segments._on_write(), segments._on_truncate() FROM segments_test_forger;
REVOKE USAGE ON SCHEMA segments FROM segments_test_forger;
DROP ROLE segments_test_forger;
SELECT segments.drop_segment('US');
SELECT segments.detach_contacts();
DROP TABLE contacts;

-- segments._arm_commit() is the WHEN clause of the commit trigger: true
-- for the first row written, so that one event applies the transaction's
-- queue at commit.  Called by hand first, it makes the WHEN clause of every
-- row false, and no event is queued; the queue is applied before the
-- commit all the same.
CREATE TABLE contacts (id bigint PRIMARY KEY, country text NOT NULL);
INSERT INTO contacts VALUES (1, 'FR');
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS created;
BEGIN;
SELECT segments._arm_commit();
UPDATE contacts SET country = 'US' WHERE id = 1;
COMMIT;
SELECT m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE s.name = 'US';
-- a write rolled back to a savepoint, and none after it: the queue of the
-- rolled-back write is applied at commit (it changes nothing)
BEGIN;
SAVEPOINT s;
UPDATE contacts SET country = 'FR' WHERE id = 1;
ROLLBACK TO s;
COMMIT;
SELECT * FROM segments.verify_segment('US');
SELECT segments.drop_segment('US');
SELECT segments.detach_contacts();
DROP TABLE contacts;
