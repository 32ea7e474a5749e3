--
-- Maintenance: membership follows every write to the attached tables in
-- the same transaction, at commit (INSERT, UPDATE, DELETE, COPY, MERGE,
-- TRUNCATE, on plain and partitioned tables), logged with cause write; only the
-- segments a change can affect are evaluated, only for the contacts it
-- touched; segments that use others follow.
--
SET segments.now_override = '2025-06-15 12:00:00+00';

CREATE TABLE contacts (id bigint PRIMARY KEY, account_id int NOT NULL, country text, score int, note text);
CREATE TABLE events (contact_id bigint NOT NULL, kind text NOT NULL, at timestamptz NOT NULL)
	PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE list_members (contact_id bigint NOT NULL, list_id int NOT NULL, PRIMARY KEY (list_id, contact_id));
INSERT INTO contacts SELECT i, 1 + i % 2, CASE WHEN i % 3 = 0 THEN 'US' ELSE 'FR' END, i, NULL
FROM generate_series(1, 12) AS i;
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at');
SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list_id');

-- The triggers attach installed, and how they fire: O for writes of the
-- origin (and local ones), R for replicated writes (a logical replication
-- subscriber's, session_replication_role = replica), A always.
SELECT tgrelid::regclass AS "table", tgname, tgenabled FROM pg_trigger
WHERE tgname LIKE 'segments_%' ORDER BY 1, 2;

SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS us,
	segments.create_segment('High', 'score >= 10') IS NOT NULL AS high,
	segments.create_segment('Openers', 'event ''opened'' count >= 2 within last 30 days') IS NOT NULL AS openers,
	segments.create_segment('VIP', 'in list 1 and not in list 2') IS NOT NULL AS vip,
	segments.create_segment('US openers', 'in segment ''US'' and in segment ''Openers''') IS NOT NULL AS us_openers,
	segments.create_segment('Tenant FR', 'country = ''FR''', tenant => 2) IS NOT NULL AS tenant_fr;

CREATE VIEW members AS
SELECT s.name, array_agg(m.contact ORDER BY m.contact) AS contacts
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name ORDER BY s.id;
-- The creations' joins are logged; new_log() shows what comes after.
SELECT count(*) > 0 AS built FROM new_log();
SELECT * FROM members;

-- A single-row UPDATE: the contact moves in and out at once.
UPDATE contacts SET country = 'US' WHERE id = 1;
SELECT * FROM new_log();
UPDATE contacts SET score = 20, country = 'FR' WHERE id = 3;
SELECT * FROM new_log();
-- A column no rule names: no segment is evaluated, nothing is logged.
UPDATE contacts SET note = 'called' WHERE id <= 6;
SELECT * FROM new_log();
SELECT all_verified();
-- Nor one whose conditions on the changed columns hold alike for the old
-- and new values: 5 moving from FR to DE, its score from 5 to 7, can
-- change Tenant FR only (not US, High, nor US openers, which uses US).
BEGIN;
UPDATE contacts SET country = 'DE', score = 7 WHERE id = 5;
SELECT s.name, p.contact FROM segments.pending() p JOIN segments.segment s ON s.id = p.segment_id
ORDER BY 1, 2;
-- A statement of several rows queues its rows for the segments that any
-- row's change can affect: 4 moves from FR to the US.
UPDATE contacts SET country = CASE id WHEN 4 THEN 'US' ELSE 'DE' END WHERE id IN (4, 5);
SELECT s.name, p.contact FROM segments.pending() p JOIN segments.segment s ON s.id = p.segment_id
ORDER BY 1, 2;
COMMIT;
SELECT * FROM new_log();
UPDATE contacts SET country = 'FR', score = id WHERE id IN (4, 5);
SELECT * FROM new_log();
SELECT all_verified();
-- After a VACUUM, the commit knows a membership row on an all-visible
-- page is there from the visibility map and its index entry, without
-- reading the row; it reads the rows it deletes.
VACUUM segments.membership;
UPDATE contacts SET country = 'US', score = 20 WHERE id IN (5, 6);
SELECT * FROM new_log();
SELECT * FROM members;
UPDATE contacts SET country = CASE id WHEN 5 THEN 'FR' ELSE 'US' END, score = id WHERE id IN (5, 6);
SELECT * FROM new_log();
SELECT all_verified();

-- INSERT and DELETE of contacts.
INSERT INTO contacts VALUES (13, 2, 'FR', 15, NULL), (14, 1, 'US', 1, NULL);
SELECT * FROM new_log();
DELETE FROM contacts WHERE id IN (13, 6);
SELECT * FROM new_log();

-- Events, through the partitioned table: the third open in 30 days makes an
-- opener, which makes a US opener through in segment.
INSERT INTO events VALUES (9, 'opened', '2025-06-10'), (9, 'opened', '2024-12-01'), (9, 'sent', '2025-06-10');
SELECT * FROM new_log();
INSERT INTO events VALUES (9, 'opened', '2025-06-14');
SELECT * FROM new_log();
-- COPY fires the same triggers.
COPY events FROM STDIN;
12	opened	2025-06-01 00:00:00+00
12	opened	2025-06-02 00:00:00+00
\.
SELECT * FROM new_log();
-- Moving an event out of the window (across partitions) and deleting one.
UPDATE events SET at = '2024-06-01 00:00:00+00' WHERE contact_id = 12 AND at = '2025-06-02 00:00:00+00';
SELECT * FROM new_log();
DELETE FROM events WHERE contact_id = 9 AND at = '2025-06-14';
SELECT * FROM new_log();
SELECT all_verified();

-- Lists, with MERGE.
INSERT INTO list_members VALUES (1, 1), (2, 1), (2, 2);
SELECT * FROM new_log();
MERGE INTO list_members t
USING (VALUES (2, 2), (4, 1)) AS v(contact_id, list_id)
ON t.contact_id = v.contact_id AND t.list_id = v.list_id
WHEN MATCHED THEN DELETE
WHEN NOT MATCHED THEN INSERT VALUES (v.contact_id, v.list_id);
SELECT * FROM new_log();
SELECT all_verified();

-- Inside a transaction, membership follows the writes at commit;
-- segments.flush() brings it up to date before.  A rolled-back write
-- leaves membership as it was.
BEGIN;
UPDATE contacts SET country = 'US';
SELECT name, contacts FROM members WHERE name = 'US';
SELECT segments.flush();
SELECT name, contacts FROM members WHERE name = 'US';
ROLLBACK;
SELECT name, contacts FROM members WHERE name = 'US';

-- Savepoints: what a rolled-back savepoint wrote is not maintained, what
-- was written around it is, whichever statement wrote first.
BEGIN;
SAVEPOINT a;
UPDATE contacts SET country = 'US' WHERE id = 2;
ROLLBACK TO SAVEPOINT a;
UPDATE contacts SET country = 'US' WHERE id = 4;
COMMIT;
SELECT * FROM new_log();
BEGIN;
UPDATE contacts SET country = 'FR' WHERE id = 4;
SAVEPOINT a;
UPDATE contacts SET country = 'US' WHERE id = 5;
RELEASE SAVEPOINT a;
SAVEPOINT b;
UPDATE contacts SET country = 'US' WHERE id = 7;
ROLLBACK TO SAVEPOINT b;
COMMIT;
SELECT * FROM new_log();
BEGIN;
SAVEPOINT a;
UPDATE contacts SET country = 'US' WHERE id = 8;
ROLLBACK TO SAVEPOINT a;
COMMIT;
SELECT * FROM new_log();
SELECT all_verified();

-- Which segments an update can change is found by the values their
-- conditions on the changed column name: an equality's constant only
-- when the old or new value is it, an ordering's when it lies between
-- them, any other condition always; then each found is evaluated for the
-- old and new rows.  Each step shows what its UPDATE queued, then what
-- the commit changed.
SELECT count(segments.create_segment(name, rule::segments.rule)) AS created FROM (VALUES
	('Score 15', 'score = 15'), ('Not 15', 'score != 15'), ('Score in', 'score in (3, 30)'),
	('Between', 'score between 20 and 25'), ('Not between', 'score not between 20 and 25'),
	('Below 8', 'score < 8'), ('Noted', 'note is not null'), ('Called', 'note like ''c%''')) AS s (name, rule);
INSERT INTO contacts VALUES (50, 1, 'FR', 1, NULL);
SELECT count(*) > 0 AS joined FROM new_log();
CREATE FUNCTION queued_then_commit(statement text)
RETURNS TABLE (queued text[], segment text, joined boolean) LANGUAGE plpgsql AS $$
DECLARE
	q text[];
BEGIN
	EXECUTE statement;
	SELECT array_agg(DISTINCT s.name ORDER BY s.name) INTO q
	FROM segments.pending() p JOIN segments.segment s ON s.id = p.segment_id;
	PERFORM segments.flush();
	RETURN QUERY SELECT q, l.segment, l.joined FROM new_log() l
		UNION ALL SELECT q, NULL, NULL WHERE NOT EXISTS (SELECT FROM new_log());
END
$$;
-- 1 to 2: no constant is either, none lies between
SELECT * FROM queued_then_commit('UPDATE contacts SET score = 2 WHERE id = 50');
-- 2 to 15: Score 15 and Not 15 name 15; Below 8's 8 lies between
SELECT * FROM queued_then_commit('UPDATE contacts SET score = 15 WHERE id = 50');
-- 15 to 22: the equalities on 15 again; 20 lies between
SELECT * FROM queued_then_commit('UPDATE contacts SET score = 22 WHERE id = 50');
-- to NULL: every segment on score is evaluated
SELECT * FROM queued_then_commit('UPDATE contacts SET score = NULL WHERE id = 50');
SELECT * FROM queued_then_commit('UPDATE contacts SET score = 30 WHERE id = 50');
-- a pattern is always evaluated; "is not null" only from or to NULL
SELECT * FROM queued_then_commit('UPDATE contacts SET note = ''called'' WHERE id = 50');
SELECT * FROM queued_then_commit('UPDATE contacts SET note = ''copied'' WHERE id = 50');
SELECT * FROM queued_then_commit('UPDATE contacts SET note = ''sent'' WHERE id = 50');
SELECT all_verified();
DELETE FROM contacts WHERE id = 50;
SELECT count(segments.drop_segment(s.id)) AS dropped FROM segments.segment s
WHERE s.name IN ('Score 15', 'Not 15', 'Score in', 'Between', 'Not between', 'Below 8', 'Noted', 'Called');
SELECT count(*) > 0 AS left FROM new_log();
DROP FUNCTION queued_then_commit(text);

-- SET CONSTRAINTS ... IMMEDIATE applies each statement's changes at its end.
BEGIN;
SET CONSTRAINTS ALL IMMEDIATE;
UPDATE contacts SET country = 'FR' WHERE id = 5;
SELECT * FROM new_log();
UPDATE contacts SET country = 'US' WHERE id = 5;
SELECT * FROM new_log();
COMMIT;
SELECT all_verified();

-- Statements touching many contacts (more than 16) are applied
-- set-based, a statement per segment, rather than contact by contact: the
-- same joins and leaves.  The contacts in the middle of the range open an
-- email three times.
INSERT INTO contacts SELECT i, 1 + i % 2, 'US', i % 30, NULL FROM generate_series(101, 140) AS i;
SELECT * FROM new_log();
INSERT INTO events SELECT 100 + i / 3, 'opened', timestamptz '2025-06-10' + i * interval '1 hour'
FROM generate_series(30, 92) AS i;
SELECT * FROM new_log();
BEGIN;
UPDATE contacts SET country = 'FR', score = score + 5 WHERE id > 100;
DELETE FROM events WHERE contact_id BETWEEN 120 AND 125;
SELECT count(*) AS queued FROM segments.pending();
COMMIT;
SELECT * FROM new_log();
SELECT all_verified();
DELETE FROM contacts WHERE id > 100;
SELECT * FROM new_log();
SELECT all_verified();

-- A contact that moves to another tenant leaves the segments of its
-- former tenant, and joins those of the new one.
INSERT INTO contacts VALUES (301, 2, 'FR', 1, NULL);
SELECT * FROM new_log();
UPDATE contacts SET account_id = 1 WHERE id = 301;
SELECT * FROM new_log();
UPDATE contacts SET account_id = 2 WHERE id = 301;
SELECT * FROM new_log();
DELETE FROM contacts WHERE id = 301;
SELECT * FROM new_log();
SELECT all_verified();

-- However many contacts a transaction writes, the memory that queues them
-- stays flat: past a few thousand, they move to a sort (on disk beyond
-- work_mem, here 64kB), which the commit reads back in key order, each
-- contact once.  Here 20,000 new contacts, all written twice.
SET work_mem = '64kB';
BEGIN;
INSERT INTO contacts SELECT i, 1 + i % 2, 'US', 5, NULL FROM generate_series(1001, 21000) AS i;
UPDATE contacts SET score = 50 WHERE id > 1000;
SELECT s.name, count(p.contact) AS contacts, min(p.contact::bigint) AS first,
	max(p.contact::bigint) AS last
FROM segments.pending() p JOIN segments.segment s ON s.id = p.segment_id GROUP BY s.name ORDER BY s.name;
-- Read once, the queue still takes more.
INSERT INTO contacts SELECT i, 2, 'FR', 5, NULL FROM generate_series(21001, 21100) AS i;
UPDATE contacts SET country = 'FR' WHERE id BETWEEN 20001 AND 21000;
DELETE FROM contacts WHERE id BETWEEN 20501 AND 21050;
SELECT s.name, count(p.contact) AS contacts
FROM segments.pending() p JOIN segments.segment s ON s.id = p.segment_id GROUP BY s.name ORDER BY s.name;
-- Applying it fails halfway (a trigger on the membership table); under a
-- savepoint, the queue stays whole for the commit.
CREATE SEQUENCE membership_writes;
CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF nextval('public.membership_writes') = 1 THEN
		RAISE EXCEPTION 'membership write failed';
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER fail_once AFTER INSERT ON segments.membership
	FOR EACH STATEMENT EXECUTE FUNCTION fail_once();
SAVEPOINT before_flush;
\set VERBOSITY terse
SELECT segments.flush();
\set VERBOSITY default
ROLLBACK TO SAVEPOINT before_flush;
SELECT count(*) AS queued FROM segments.pending();
COMMIT;
RESET work_mem;
SELECT segment, cause, joined, cardinality(contacts) AS contacts, contacts[1] AS first,
	contacts[cardinality(contacts)] AS last
FROM new_log();
SELECT all_verified();
DELETE FROM contacts WHERE id > 1000;
SELECT segment, cause, joined, cardinality(contacts) AS contacts FROM new_log();
SELECT all_verified();
DROP TRIGGER fail_once ON segments.membership;
DROP FUNCTION fail_once();
DROP SEQUENCE membership_writes;

-- A single contact's joins and leaves are written directly, as builds
-- write: a trigger on the membership or its log would be bypassed, so the
-- commit refuses, and nothing changes; without it, the same write goes in.
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER audit AFTER INSERT ON segments.membership_log FOR EACH ROW EXECUTE FUNCTION audit();
SELECT score FROM contacts WHERE id = 1;
UPDATE contacts SET score = 20 WHERE id = 1;
SELECT score FROM contacts WHERE id = 1;
SELECT * FROM new_log();
SELECT segments.create_segment('Low', 'score < 10');
DROP TRIGGER audit ON segments.membership_log;
DROP FUNCTION audit();
UPDATE contacts SET score = 20 WHERE id = 1;
SELECT * FROM new_log();
SELECT all_verified();

-- TRUNCATE: the segments that use the table are rebuilt.
TRUNCATE events;
SELECT * FROM new_log();
TRUNCATE list_members;
SELECT * FROM new_log();
SELECT all_verified();
SELECT * FROM members;

-- Detaching removes the triggers.
DROP VIEW members;
SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id)
WHERE s.name = 'US openers';
SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id);
SELECT segments.detach_lists(), segments.detach_events(), segments.detach_contacts();
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'segments_%';

DROP TABLE contacts, events, list_members;
RESET segments.now_override;
