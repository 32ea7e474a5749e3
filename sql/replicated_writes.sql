--
-- replicated_writes: writes made under session_replication_role = replica
-- (the way a logical replication subscriber applies changes: only row-level
-- triggers enabled for replicas fire, the commit trigger does not) are
-- maintained as any other write, at commit; TRUNCATE too.  The triggers
-- keep firing as they should after ALTER TABLE ... ENABLE TRIGGER ALL.
--
SET segments.now_override = '2025-06-15 12:00:00+00';

CREATE TABLE rep_contacts (id bigint PRIMARY KEY, account_id int NOT NULL, country text, note text);
CREATE TABLE rep_events (contact_id bigint NOT NULL, kind text NOT NULL, at timestamptz NOT NULL)
	PARTITION BY RANGE (at);
CREATE TABLE rep_events_2024 PARTITION OF rep_events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE rep_events_2025 PARTITION OF rep_events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE rep_lists (contact_id bigint NOT NULL, list_id int NOT NULL, PRIMARY KEY (list_id, contact_id));
INSERT INTO rep_contacts SELECT i, 1 + i % 2, CASE WHEN i % 3 = 0 THEN 'US' ELSE 'FR' END, NULL
FROM generate_series(1, 6) AS i;
SELECT segments.attach_contacts('rep_contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('rep_events', contact => 'contact_id', kind => 'kind', at => 'at');
SELECT segments.attach_lists('rep_lists', contact => 'contact_id', list => 'list_id');
SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS us,
	segments.create_segment('Openers', 'event ''opened'' count >= 2 within last 30 days') IS NOT NULL AS openers,
	segments.create_segment('Listed', 'in list 1') IS NOT NULL AS listed,
	segments.create_segment('US openers', 'in segment ''US'' and in segment ''Openers''') IS NOT NULL AS us_openers,
	segments.create_segment('Tenant 2 FR', 'country = ''FR''', tenant => 2) IS NOT NULL AS tenant_fr;
SELECT count(*) > 0 AS built FROM new_log();

-- The row-level trigger fires for replicated writes only, on the partitions
-- too (clones of the partitioned table's).
SELECT tgrelid::regclass AS "table", tgenabled, tgparentid <> 0 AS clone FROM pg_trigger
WHERE tgname = 'segments_replicated_write' ORDER BY 1;

SET session_replication_role = replica;

-- Each replicated write, as an apply worker makes them, one row at a time.
INSERT INTO rep_contacts VALUES (7, 2, 'US', NULL);
SELECT * FROM new_log();
UPDATE rep_contacts SET country = 'US' WHERE id = 1;
SELECT * FROM new_log();
-- A contact that moves to another tenant leaves that tenant's segments.
UPDATE rep_contacts SET account_id = 1 WHERE id = 5;
SELECT * FROM new_log();
-- A key that changes: the old contact leaves, the new one joins.
UPDATE rep_contacts SET id = 8 WHERE id = 7;
SELECT * FROM new_log();
DELETE FROM rep_contacts WHERE id = 8;
SELECT * FROM new_log();
-- A column no rule names: nothing is queued.
BEGIN;
UPDATE rep_contacts SET note = 'called' WHERE id <= 3;
SELECT count(*) AS queued FROM segments.pending();
COMMIT;
SELECT * FROM new_log();
-- Events through the partitioned table; a kind no rule names queues nothing.
INSERT INTO rep_events VALUES (3, 'opened', '2025-06-10'), (3, 'opened', '2025-06-11'), (3, 'sent', '2025-06-10');
SELECT * FROM new_log();
BEGIN;
INSERT INTO rep_events VALUES (4, 'sent', '2025-06-10');
SELECT count(*) AS queued FROM segments.pending();
COMMIT;
-- Moving an event out of the window, across partitions (a DELETE and an
-- INSERT), then a DELETE.
UPDATE rep_events SET at = '2024-06-01' WHERE contact_id = 3 AND at = '2025-06-11';
SELECT * FROM new_log();
INSERT INTO rep_events VALUES (6, 'opened', '2025-06-12'), (6, 'opened', '2025-06-13');
SELECT * FROM new_log();
DELETE FROM rep_events WHERE contact_id = 6 AND at = '2025-06-13';
SELECT * FROM new_log();
-- Lists, and COPY.
COPY rep_lists FROM STDIN;
1	1
2	1
\.
SELECT * FROM new_log();
DELETE FROM rep_lists WHERE contact_id = 2;
SELECT * FROM new_log();
SELECT all_verified();

-- In a transaction: queued until the commit, or segments.flush(); what a
-- rolled-back savepoint wrote is not maintained.
BEGIN;
UPDATE rep_contacts SET country = 'US' WHERE id = 2;
SELECT segment_id IS NOT NULL AS queued, contact FROM segments.pending() ORDER BY 2 LIMIT 1;
SELECT count(*) AS logged_before_commit FROM new_log();
SAVEPOINT a;
UPDATE rep_contacts SET country = 'US' WHERE id = 4;
ROLLBACK TO SAVEPOINT a;
COMMIT;
SELECT * FROM new_log();
BEGIN;
UPDATE rep_contacts SET country = 'FR' WHERE id = 2;
SELECT segments.flush();
SELECT * FROM new_log();
COMMIT;
SELECT all_verified();

-- TRUNCATE fires its statement-level trigger, enabled always.
INSERT INTO rep_events VALUES (3, 'opened', '2025-06-12'), (3, 'opened', '2025-06-13');
SELECT * FROM new_log();
TRUNCATE rep_lists;
SELECT * FROM new_log();
TRUNCATE rep_events;
SELECT * FROM new_log();
SELECT all_verified();

RESET session_replication_role;

-- ENABLE TRIGGER ALL (pg_restore --disable-triggers ends with it) would
-- make every trigger fire for the origin only; the end of the ALTER TABLE
-- puts back how the extension's fire.  A trigger disabled stays disabled.
ALTER TABLE rep_contacts DISABLE TRIGGER ALL;
ALTER TABLE rep_events DISABLE TRIGGER ALL;
SELECT tgrelid::regclass AS "table", tgname, tgenabled FROM pg_trigger
WHERE tgname IN ('segments_replicated_write', 'segments_after_truncate') ORDER BY 1, 2;
ALTER TABLE rep_contacts ENABLE TRIGGER ALL;
ALTER TABLE rep_events ENABLE TRIGGER ALL;
SELECT tgrelid::regclass AS "table", tgname, tgenabled FROM pg_trigger
WHERE tgname IN ('segments_replicated_write', 'segments_after_truncate') ORDER BY 1, 2;
ALTER TABLE rep_contacts DISABLE TRIGGER segments_replicated_write;
ALTER TABLE rep_contacts ADD COLUMN added integer;
SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'rep_contacts'::regclass AND tgname = 'segments_replicated_write';
ALTER TABLE rep_contacts ENABLE REPLICA TRIGGER segments_replicated_write;

-- Set to fire always (or for the origin), it is put back likewise.
ALTER TABLE rep_contacts ENABLE ALWAYS TRIGGER segments_replicated_write;
SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'rep_contacts'::regclass AND tgname = 'segments_replicated_write';

-- An application's trigger that writes the contact again: the contact's
-- latest row counts, in either mode, whichever trigger fires first.
CREATE FUNCTION rep_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.country = 'XX' THEN
		UPDATE rep_contacts SET country = 'US' WHERE id = NEW.id;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER a_bump AFTER UPDATE ON rep_contacts FOR EACH ROW EXECUTE FUNCTION rep_bump();
ALTER TABLE rep_contacts ENABLE ALWAYS TRIGGER a_bump;
UPDATE rep_contacts SET country = 'XX' WHERE id = 4;
SELECT * FROM new_log();
SET session_replication_role = replica;
UPDATE rep_contacts SET country = 'FR' WHERE id = 4;
UPDATE rep_contacts SET country = 'XX' WHERE id = 4;
RESET session_replication_role;
SELECT * FROM new_log();
SELECT all_verified();
DROP TRIGGER a_bump ON rep_contacts;
DROP FUNCTION rep_bump();

-- Segments are not changed in replica mode (the catalog's own triggers
-- would not fire); DDL on the attached tables is followed as ever.
SET session_replication_role = replica;
SELECT state, message, hint FROM try($$SELECT segments.create_segment('FR', 'country = ''FR''')$$);
ALTER TABLE rep_contacts RENAME COLUMN country TO country_code;
SELECT rule FROM segments.segment WHERE name = 'US';
ALTER TABLE rep_contacts RENAME COLUMN country_code TO country;
SELECT state, message FROM try('ALTER TABLE rep_contacts DROP COLUMN country');
RESET session_replication_role;

-- The trigger function checks how it is fired and on what.
CREATE TABLE rep_other (id bigint);
CREATE TRIGGER wrong AFTER INSERT ON rep_other FOR EACH STATEMENT
	EXECUTE FUNCTION segments._on_replicated_write('contacts');
SELECT state, message FROM try('INSERT INTO rep_other VALUES (1)');
DROP TRIGGER wrong ON rep_other;
CREATE TRIGGER wrong AFTER INSERT ON rep_other FOR EACH ROW
	EXECUTE FUNCTION segments._on_replicated_write('contacts');
ALTER TABLE rep_other ENABLE REPLICA TRIGGER wrong;
SET session_replication_role = replica;
SELECT state, message, detail FROM try('INSERT INTO rep_other VALUES (1)');
RESET session_replication_role;
DROP TABLE rep_other;
-- Nor may anyone but the extension call it.
SELECT has_function_privilege('public', 'segments._on_replicated_write()', 'EXECUTE') AS public_may_call;

-- Detaching removes the triggers, the partitions' clones with them.
SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id)
WHERE s.name = 'US openers';
SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id);
SELECT segments.detach_lists(), segments.detach_events(), segments.detach_contacts();
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE 'segments_%';

DROP TABLE rep_contacts, rep_events, rep_lists;
RESET segments.now_override;
