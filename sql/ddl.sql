--
-- ddl: changing the attached tables (README "Changing attached tables").
--
-- Event triggers keep the attachments and the membership true to the
-- tables, whatever DDL runs on them:
--  1. every partition of an attached table carries the table's triggers,
--     also partitions created, attached or detached later, and the rows a
--     partition brings or takes away join or leave like written rows;
--  2. a column that a segment or the attachment uses cannot be dropped or
--     change its type; renaming it, the table or its schema is followed;
--  3. dropping an attached table detaches it, and is refused while
--     segments use it.
--
SET segments.now_override = '2025-06-15 12:00:00+00';

-- Contacts partitioned by key; events partitioned by year, 2025 again by
-- kind; list memberships with an inheritance child for archived rows.
CREATE TYPE plan_t AS ENUM ('free', 'pro');
CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL,
	country text, score integer, plan plan_t, note text)
	PARTITION BY RANGE (id);
CREATE TABLE contacts_low PARTITION OF contacts FOR VALUES FROM (1) TO (100);
CREATE TABLE contacts_high PARTITION OF contacts FOR VALUES FROM (100) TO (200);
CREATE TABLE events (contact_id bigint NOT NULL, kind text NOT NULL,
	at timestamptz NOT NULL, url text, campaign text)
	PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')
	PARTITION BY LIST (kind);
CREATE TABLE events_2025_opened PARTITION OF events_2025 FOR VALUES IN ('opened');
CREATE TABLE events_2025_other PARTITION OF events_2025 DEFAULT;
CREATE TABLE list_members (contact_id bigint NOT NULL, list_id integer NOT NULL);
CREATE TABLE list_members_archive () INHERITS (list_members);
INSERT INTO contacts VALUES
	(1, 1, 'US', 5, 'free', NULL), (2, 1, 'FR', 20, 'pro', NULL), (3, 2, 'US', 30, 'pro', NULL),
	(101, 2, 'DE', 1, 'free', NULL), (102, 1, 'US', 50, NULL, NULL);
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at');
SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list_id');

-- triggers: the tables carrying the segments triggers (all four of them).
CREATE VIEW triggers AS
SELECT tgrelid::regclass AS "table", count(*) AS triggers
FROM pg_trigger WHERE tgname LIKE 'segments\_after\_%'
GROUP BY tgrelid ORDER BY tgrelid::regclass::text;
-- members: the current members of every segment.
CREATE VIEW members AS
SELECT s.name, coalesce(array_agg(m.contact ORDER BY m.contact)
	FILTER (WHERE m.contact IS NOT NULL), '{}') AS contacts
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name ORDER BY s.id;
-- queued(): the segments and contacts this transaction's writes queued for
-- its commit.
CREATE FUNCTION queued() RETURNS TABLE (segment text, contacts text[])
LANGUAGE sql AS $$
	SELECT s.name, array_agg(p.contact ORDER BY p.contact)
	FROM segments.pending() p JOIN segments.segment s ON s.id = p.segment_id
	GROUP BY s.name ORDER BY s.name
$$;

--
-- 1. Partitions
--
-- Attach put the triggers on the attached tables and on every table under
-- them, at any depth: partitions and inheritance children.
SELECT * FROM triggers;

SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS us,
	segments.create_segment('High', 'score >= 10') IS NOT NULL AS high,
	segments.create_segment('Openers', $$event 'opened' where (url contains 'pricing') count >= 2$$) IS NOT NULL AS openers,
	segments.create_segment('Listed', 'in list 7') IS NOT NULL AS listed,
	segments.create_segment('US openers', $$in segment 'US' and in segment 'Openers'$$) IS NOT NULL AS us_openers,
	segments.create_segment('Pro', $$plan = 'pro'$$, tenant => 1) IS NOT NULL AS pro;
SELECT * FROM members;
SELECT count(*) > 0 AS built FROM new_log();

-- A statement that names the root fires only the root's triggers, so it
-- is maintained once, even across partitions: contacts 1 and 3 are queued
-- once for the segments that use opens.
BEGIN;
INSERT INTO events VALUES
	(1, 'opened', '2024-06-01', '/pricing', NULL), (1, 'opened', '2025-06-01', '/pricing', NULL),
	(3, 'opened', '2024-07-01', '/pricing', NULL), (3, 'sent', '2025-06-01', NULL, NULL);
SELECT * FROM queued();
COMMIT;
SELECT * FROM queued();
SELECT * FROM new_log();
-- A statement that names a partition fires that partition's triggers: a
-- leaf, a partitioned partition, COPY into a leaf.
INSERT INTO events_2025_opened VALUES (3, 'opened', '2025-06-02', '/pricing', NULL);
SELECT * FROM new_log();
UPDATE events_2025 SET url = '/home' WHERE contact_id = 1;
SELECT * FROM new_log();
COPY events_2025_opened FROM STDIN;
2	opened	2025-06-03 00:00:00+00	/pricing/team	\N
2	opened	2025-06-04 00:00:00+00	/pricing	\N
\.
SELECT * FROM new_log();
DELETE FROM events_2024 WHERE contact_id = 3;
SELECT * FROM new_log();
-- Contacts written through their partitions: an update, an insert.
UPDATE contacts_low SET country = 'US', score = 25 WHERE id = 2;
SELECT * FROM new_log();
INSERT INTO contacts_high VALUES (103, 1, 'US', 12, 'pro', NULL);
SELECT * FROM new_log();
-- Lists: the inheritance child is part of the table, written directly.
INSERT INTO list_members_archive VALUES (101, 7);
SELECT * FROM new_log();
SELECT all_verified();

-- TRUNCATE of a partition rebuilds the segments that use the table;
-- TRUNCATE of the root fires the triggers of the root and of every
-- partition, and the segments are rebuilt once, by the first.
TRUNCATE events_2025_opened;
SELECT * FROM new_log();
INSERT INTO events VALUES (2, 'opened', '2024-02-01', '/pricing', NULL), (2, 'opened', '2024-02-02', '/pricing', NULL);
SELECT * FROM new_log();
BEGIN;
SET LOCAL track_functions = 'pl';
SELECT coalesce(sum(calls), 0) AS before FROM pg_stat_xact_user_functions
WHERE schemaname = 'segments' AND funcname = '_maintain' \gset
TRUNCATE events;
SELECT coalesce(sum(calls), 0) - :before AS rebuilds FROM pg_stat_xact_user_functions
WHERE schemaname = 'segments' AND funcname = '_maintain';
SELECT * FROM new_log();
ROLLBACK;
SELECT all_verified();

-- A partition created later gets the triggers at once.
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT * FROM triggers WHERE "table"::text = 'events_2026';
INSERT INTO events_2026 VALUES (102, 'opened', '2026-01-02', '/pricing', NULL),
	(102, 'opened', '2026-01-03', '/pricing', NULL);
SELECT * FROM new_log();

-- A table attached as a partition gets them too, and its rows are new
-- events: contact 101 becomes an opener.
CREATE TABLE events_2023 (LIKE events);
INSERT INTO events_2023 VALUES
	(101, 'opened', '2023-03-01', '/pricing', NULL), (101, 'opened', '2023-03-02', '/pricing', NULL);
ALTER TABLE events ATTACH PARTITION events_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
SELECT * FROM triggers WHERE "table"::text = 'events_2023';
SELECT * FROM new_log();

-- A partition detached takes its rows away and loses the triggers; writing
-- to it then changes nothing.
ALTER TABLE events DETACH PARTITION events_2023;
SELECT * FROM new_log();
SELECT * FROM triggers WHERE "table"::text = 'events_2023';
INSERT INTO events_2023 VALUES (102, 'opened', '2023-04-01', '/pricing', NULL),
	(102, 'opened', '2023-04-02', '/pricing', NULL);
SELECT * FROM new_log();

-- Dropping a partition takes its rows away too.
ALTER TABLE events ATTACH PARTITION events_2023 FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
SELECT * FROM new_log();
DROP TABLE events_2023;
SELECT * FROM new_log();

-- The same for contacts: a partition of new contacts joins, and leaves.
CREATE TABLE contacts_more (LIKE contacts);
INSERT INTO contacts_more VALUES (201, 1, 'US', 99, 'pro', NULL);
ALTER TABLE contacts ATTACH PARTITION contacts_more FOR VALUES FROM (200) TO (300);
SELECT * FROM new_log();
ALTER TABLE contacts DETACH PARTITION contacts_more;
SELECT * FROM new_log();
DROP TABLE contacts_more;
-- An inheritance child added or removed later, likewise.
CREATE TABLE list_members_old (contact_id bigint NOT NULL, list_id integer NOT NULL);
INSERT INTO list_members_old VALUES (1, 7);
ALTER TABLE list_members_old INHERIT list_members;
SELECT * FROM new_log();
ALTER TABLE list_members_old NO INHERIT list_members;
SELECT * FROM new_log();
SELECT * FROM triggers;
DROP TABLE list_members_old;
SELECT all_verified();

-- A foreign table cannot be a partition: writes to it could not be
-- followed.  PostgreSQL itself refuses it (42809), since partitions get the
-- commit trigger, a constraint trigger, of their partitioned table.
CREATE FOREIGN DATA WRAPPER ddl_dummy;
CREATE SERVER ddl_nowhere FOREIGN DATA WRAPPER ddl_dummy;
SELECT * FROM try($$CREATE FOREIGN TABLE events_remote PARTITION OF events
	FOR VALUES FROM ('2022-01-01') TO ('2023-01-01') SERVER ddl_nowhere$$);
CREATE FOREIGN TABLE events_remote (contact_id bigint NOT NULL, kind text NOT NULL,
	at timestamptz NOT NULL, url text, campaign text) SERVER ddl_nowhere;
SELECT * FROM try($$ALTER TABLE events ATTACH PARTITION events_remote
	FOR VALUES FROM ('2022-01-01') TO ('2023-01-01')$$);

--
-- 2. Columns
--
-- A column a rule names cannot be dropped (2BP01) or change its type
-- (0A000); the message names the segments.
SELECT * FROM try('ALTER TABLE contacts DROP COLUMN country');
SELECT * FROM try('ALTER TABLE contacts ALTER COLUMN score TYPE bigint');
SELECT * FROM try('ALTER TABLE events DROP COLUMN url');
SELECT * FROM try('ALTER TABLE events ALTER COLUMN url TYPE varchar(200)');
-- A change of collation is a change of type: comparisons would change.
SELECT * FROM try('ALTER TABLE contacts ALTER COLUMN country TYPE text COLLATE "POSIX"');
-- Dropped by a cascade: the type of a column a rule names.
SELECT * FROM try('DROP TYPE plan_t CASCADE');
-- Many segments: the message names five and counts the others.
SELECT segments.create_segment('US ' || i, ('country = ''US'' and score > ' || i)::segments.rule) IS NOT NULL AS created
FROM generate_series(1, 6) AS i;
SELECT * FROM try('ALTER TABLE contacts DROP COLUMN country');
SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id)
WHERE s.name LIKE 'US _';

-- The columns the attachment names cannot change either: the message
-- names the segments that use the table.  (Here the key, the event time
-- and kind are also partition keys, which PostgreSQL itself protects; see
-- the end for the key.)
SELECT * FROM try('ALTER TABLE contacts DROP COLUMN account_id');
SELECT * FROM try('ALTER TABLE contacts ALTER COLUMN account_id TYPE bigint');
SELECT * FROM try('ALTER TABLE events DROP COLUMN contact_id');
SELECT * FROM try('ALTER TABLE list_members DROP COLUMN list_id CASCADE');
SELECT * FROM try('ALTER TABLE list_members ALTER COLUMN contact_id TYPE numeric');
-- A refused change changes nothing.
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'contacts'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- Other columns change freely.
ALTER TABLE contacts ALTER COLUMN note TYPE varchar(100);
ALTER TABLE contacts DROP COLUMN note;
ALTER TABLE events DROP COLUMN campaign;
ALTER TABLE contacts ALTER COLUMN country SET DEFAULT 'US', ALTER COLUMN score SET STATISTICS 200;
SELECT * FROM new_log();

-- Rewriting a used column in place (same type, USING) is a write of every
-- row: the segments that use it are brought up to date.
ALTER TABLE contacts ALTER COLUMN score TYPE integer USING score / 10;
SELECT * FROM new_log();
SELECT all_verified();

-- Renaming is followed: the rules are rewritten to the new name and the
-- attachment records it; membership does not change.
ALTER TABLE contacts RENAME COLUMN country TO country_code;
ALTER TABLE events RENAME COLUMN url TO page;
ALTER TABLE events RENAME COLUMN at TO occurred_at;
ALTER TABLE contacts RENAME COLUMN account_id TO "Account";
ALTER TABLE list_members RENAME COLUMN list_id TO list;
SELECT name, rule FROM segments.segment ORDER BY id;
SELECT s.name AS segment, r.kind, r.name, r.path
FROM segments.segment_reference r JOIN segments.segment s ON s.id = r.segment_id
WHERE r.kind IN ('field', 'event_field') ORDER BY s.id, r.kind, r.name;
SELECT role, table_name, contact_column, tenant_column, kind_column, at_column, list_column
FROM segments.attached ORDER BY role;
SELECT * FROM new_log();
INSERT INTO events VALUES (101, 'opened', '2025-06-10', '/pricing'), (101, 'opened', '2025-06-11', '/pricing');
SELECT * FROM new_log();
SELECT all_verified();

-- So is renaming the table, moving it to another schema, renaming that
-- schema.
ALTER TABLE events RENAME TO activity;
CREATE SCHEMA crm;
ALTER TABLE contacts SET SCHEMA crm;
ALTER SCHEMA crm RENAME TO sales;
SELECT role, table_schema, table_name FROM segments.attached ORDER BY role;
UPDATE sales.contacts SET score = 70 WHERE id = 103;
SELECT * FROM new_log();
SELECT all_verified();

-- With the event triggers disabled (do not) nothing follows a rename: the
-- attachment names a column that is not there, and whatever needs it
-- fails (42703), writes of events included.
ALTER EVENT TRIGGER segments_ddl_end DISABLE;
ALTER TABLE activity RENAME COLUMN occurred_at TO happened_at;
SELECT * FROM try('SELECT segments.refresh_segment(''Openers'')');
SELECT * FROM try($$INSERT INTO activity VALUES (3, 'opened', '2025-06-12', '/pricing')$$);
ALTER TABLE activity RENAME COLUMN happened_at TO occurred_at;
-- enabled again as the extension enables it: always, replica mode included
ALTER EVENT TRIGGER segments_ddl_end ENABLE ALWAYS;
SELECT all_verified();

--
-- 3. Tables
--
DROP VIEW members;
-- Dropping an attached table is refused while segments use it (2BP01),
-- with the dependency on the contacts after that; the schema holding it
-- likewise.
SELECT * FROM try('DROP TABLE activity');
SELECT * FROM try('DROP TABLE sales.contacts CASCADE');
SELECT * FROM try('DROP SCHEMA sales CASCADE');
SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id)
WHERE s.name = 'US openers';
SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id);
SELECT * FROM try('DROP TABLE sales.contacts');

-- Unused, it detaches as detach_* would: the lists, then the events and
-- the contacts together (membership and its log go with the contacts).
DROP TABLE list_members CASCADE;
SELECT role, table_schema, table_name FROM segments.attached ORDER BY role;
DROP TABLE sales.contacts, activity;
SELECT count(*) AS attached FROM segments.attached;
SELECT to_regclass('segments.membership') AS membership, to_regclass('segments.membership_log') AS log;
SELECT * FROM triggers;

-- A role that owns an attached table but has no privilege on the segments
-- schema: its DDL goes through the same checks (the event triggers run as
-- the extension's owner), and the key cannot change either.
CREATE ROLE ddl_owner;
GRANT CREATE ON SCHEMA public TO ddl_owner;
SET SESSION AUTHORIZATION ddl_owner;
CREATE TABLE contacts (id bigint PRIMARY KEY, country text);
RESET SESSION AUTHORIZATION;
-- The extension's owner attaches the table: it needs its owner's rights
-- (docs/design.md, "What needs a superuser"; nothing to grant to a superuser).
DO $$ BEGIN
	EXECUTE format('GRANT ddl_owner TO %I', (SELECT p.proowner::regrole FROM pg_proc p
		WHERE p.oid = 'segments.attach_contacts(regclass, name, name, text)'::regprocedure));
END $$;
SELECT segments.attach_contacts('contacts', key => 'id');
SET SESSION AUTHORIZATION ddl_owner;
SELECT * FROM try('ALTER TABLE contacts ALTER COLUMN id TYPE integer');
SELECT * FROM try('ALTER TABLE contacts DROP COLUMN id');
ALTER TABLE contacts RENAME COLUMN country TO land;
CREATE TABLE own (id int, note text) PARTITION BY RANGE (id);
CREATE TABLE own_1 PARTITION OF own FOR VALUES FROM (1) TO (10);
ALTER TABLE own RENAME COLUMN note TO remark;
DROP TABLE own;
-- Dropping the contacts would drop segments.membership and its log, which
-- this role could not do with detach_contacts(): refused (42501).
SELECT * FROM try('DROP TABLE contacts');
RESET SESSION AUTHORIZATION;
DROP TABLE contacts;
SELECT count(*) AS attached FROM segments.attached;
REVOKE CREATE ON SCHEMA public FROM ddl_owner;
DROP ROLE ddl_owner;

DROP VIEW triggers;
DROP FOREIGN TABLE events_remote;
DROP SERVER ddl_nowhere;
DROP FOREIGN DATA WRAPPER ddl_dummy;
DROP FUNCTION queued();
DROP TYPE plan_t;
DROP SCHEMA sales;
RESET segments.now_override;
