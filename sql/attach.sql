--
-- attach: connecting segments to the application's own tables (docs/design.md, "Attached tables").
--
-- The extension does not own the data.  A DBA attaches the existing tables
-- once per database: the contacts table (its key column and, optionally, a
-- tenant column), then optionally an events table and a list membership
-- table.  Attach checks the tables and columns and says exactly what is
-- wrong; it records them by name in segments.attached, and attaching the
-- contacts creates the objects typed by the contact key:
-- segments.membership, segments.membership_log and segments.preview.
-- Detach undoes it, but not while something still depends on it.
--

-- The application's tables.
CREATE TABLE contacts (
	id bigint PRIMARY KEY,
	account_id integer NOT NULL,
	email text UNIQUE,
	country text,
	score integer,
	created_at timestamptz NOT NULL DEFAULT now(),
	props jsonb,
	settings json
);
-- Events are partitioned by time, as a large events table would be.
CREATE TABLE events (
	contact_id bigint NOT NULL,
	kind text NOT NULL,
	occurred_at timestamptz NOT NULL,
	occurred_local timestamp,
	legacy_contact integer,
	code integer,
	campaign text
) PARTITION BY RANGE (occurred_at);
CREATE TABLE events_2024 PARTITION OF events
	FOR VALUES FROM ('2024-01-01 00:00+00') TO ('2025-01-01 00:00+00');
CREATE TABLE list_members (
	contact_id bigint NOT NULL,
	list_id integer NOT NULL,
	labels json,
	PRIMARY KEY (contact_id, list_id)
);
INSERT INTO contacts (id, account_id, email, country, score) VALUES
	(1, 10, 'ann@example.com', 'US', 12),
	(2, 10, 'bob@example.com', 'FR', 3),
	(3, 20, 'cy@example.com', 'US', 7);
INSERT INTO events (contact_id, kind, occurred_at) VALUES
	(1, 'opened', '2024-05-01 10:00+00'),
	(3, 'clicked', '2024-05-02 10:00+00');
INSERT INTO list_members VALUES (1, 7), (2, 7), (2, 8);

-- Nothing is attached yet.
SELECT * FROM segments.attached;

\x on

--
-- Order matters: contacts first.
--
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at')$$);
SELECT * FROM try($$SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list_id')$$);
SELECT * FROM try($$SELECT segments.detach_contacts()$$);
SELECT * FROM try($$SELECT segments.detach_events()$$);
SELECT * FROM try($$SELECT segments.create_segment('US', 'country = ''US''')$$);

--
-- What attach_contacts refuses.
--
-- A table that does not exist, and objects that are not tables.
SELECT * FROM try($$SELECT segments.attach_contacts('public.nope', key => 'id')$$);
CREATE VIEW contacts_view AS SELECT * FROM contacts;
SELECT * FROM try($$SELECT segments.attach_contacts('contacts_view', key => 'id')$$);
CREATE MATERIALIZED VIEW contacts_mat AS SELECT * FROM contacts;
SELECT * FROM try($$SELECT segments.attach_contacts('contacts_mat', key => 'id')$$);
CREATE TEMPORARY TABLE contacts_temp (id bigint PRIMARY KEY);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts_temp', key => 'id')$$);
-- A key column that does not exist: the hint names the nearest column when
-- the name looks like a typo, or else lists the table's columns.
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'idd')$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'ID')$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'contact_number')$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => NULL)$$);
-- A key of a type segments does not support (bigint, integer, uuid, text,
-- varchar), not unique, or nullable.
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'created_at')$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'country')$$);
CREATE TABLE contacts_no_key (id bigint NOT NULL, email text);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts_no_key', key => 'id')$$);
CREATE TABLE contacts_partial (id bigint NOT NULL, deleted boolean);
CREATE UNIQUE INDEX ON contacts_partial (id) WHERE NOT deleted;
SELECT * FROM try($$SELECT segments.attach_contacts('contacts_partial', key => 'id')$$);
CREATE TABLE contacts_pair (id bigint NOT NULL, region text NOT NULL, PRIMARY KEY (region, id));
SELECT * FROM try($$SELECT segments.attach_contacts('contacts_pair', key => 'id')$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'email')$$);
-- A tenant column that does not exist, or whose type has no equality and
-- order (no default btree operator class).
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'acount_id')$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'settings')$$);
-- None of this attached anything.
SELECT count(*) FROM segments.attached;
SELECT to_regclass('segments.membership') AS membership;

\x off

--
-- Attach the contacts, with a tenant column.
--
SELECT segments.attach_contacts('public.contacts', key => 'id', tenant => 'account_id');
SELECT role, table_schema, table_name, contact_column, tenant_column, kind_column, at_column, list_column
FROM segments.attached;

-- segments.membership (one row per segment and member) and
-- segments.membership_log (every join and leave) now exist, their contact
-- column of the key's type; membership is indexed for reading by segment
-- (its primary key) and by contact, the log by segment and id.
SELECT attrelid::regclass AS "table", attname AS "column",
       format_type(atttypid, atttypmod) AS type, attnotnull AS not_null
FROM pg_attribute
WHERE attrelid IN ('segments.membership'::regclass, 'segments.membership_log'::regclass)
  AND attnum > 0 AND NOT attisdropped
ORDER BY attrelid::regclass::text, attnum;
SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) AS definition
FROM pg_index
WHERE indrelid IN ('segments.membership'::regclass, 'segments.membership_log'::regclass)
ORDER BY 1::text;
SELECT conrelid::regclass AS "table", conname, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE conrelid IN ('segments.membership'::regclass, 'segments.membership_log'::regclass)
ORDER BY 1::text, 2;
-- preview returns contact keys, so it is created now, typed by the key.
SELECT p.oid::regprocedure AS function, pg_get_function_result(p.oid) AS result
FROM pg_proc p WHERE p.proname = 'preview' AND p.pronamespace = 'segments'::regnamespace
ORDER BY 1::text;

\x on

-- Contacts can be attached only once.
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id')$$);

--
-- Events: the contact column must have the key's type, the kind is text (or
-- an enum) and the time timestamptz (or a timestamp or date, read in UTC).
--
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact', kind => 'kind', at => 'occurred_at')$$);
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'legacy_contact', kind => 'kind', at => 'occurred_at')$$);
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'code', at => 'occurred_at')$$);
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'campaign')$$);
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'ocurred_at')$$);
SELECT * FROM try($$SELECT segments.attach_events('contacts', contact => 'id', kind => 'country', at => 'created_at')$$);
SELECT * FROM try($$SELECT segments.attach_events('contacts_view', contact => 'id', kind => 'country', at => 'created_at')$$);

\x off
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
\x on
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at')$$);

--
-- Lists: the contact column as for events; the list column of any type
-- with equality and order.
--
SELECT * FROM try($$SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'labels')$$);
SELECT * FROM try($$SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'contact_id')$$);
SELECT * FROM try($$SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list')$$);

\x off
SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list_id');
\x on
SELECT * FROM try($$SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list_id')$$);
\x off

SELECT role, table_schema, table_name, contact_column, tenant_column, kind_column, at_column, list_column
FROM segments.attached ORDER BY role;

--
-- Detach refuses while something depends on the attachment.
--
\x on
-- The contacts, while events or lists are attached, or segments exist.
SELECT * FROM try($$SELECT segments.detach_contacts()$$);

\x off
SELECT segments.create_segment('Openers', 'event ''opened''');
SELECT segments.create_segment('On list 7', 'in list 7');
SELECT segments.create_segment('Everyone', 'true');
SELECT s.name, array_agg(m.contact ORDER BY m.contact) AS members
FROM segments.segment s JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name ORDER BY s.id;
-- The log's BRIN index leaves the range being filled unsummarized, from
-- the first on (a summarized range's summary would be rewritten by every
-- row added to it): the builds' rows are there to summarize.
SELECT brin_summarize_new_values('segments.membership_log_brin') AS ranges_summarized;
\x on

-- Events and lists, while a segment's rule refers to them.
SELECT * FROM try($$SELECT segments.detach_events()$$);
SELECT * FROM try($$SELECT segments.detach_lists()$$);
\x off
SELECT segments.drop_segment('Openers');
SELECT segments.drop_segment('On list 7');
SELECT segments.detach_events();
SELECT segments.detach_lists();
\x on
SELECT * FROM try($$SELECT segments.detach_contacts()$$);
\x off
SELECT segments.drop_segment('Everyone');
SELECT segments.detach_contacts();

-- Everything attach created is gone; the history went with the log.
SELECT count(*) FROM segments.attached;
SELECT to_regclass('segments.membership') AS membership,
       to_regclass('segments.membership_log') AS membership_log,
       (SELECT count(*) FROM pg_proc p
        WHERE p.pronamespace = 'segments'::regnamespace AND p.proname = 'preview') AS previews;

--
-- The contact key's type is whatever the contacts table uses: membership,
-- its log and preview follow it.
--
CREATE FUNCTION key_types(key_type text)
RETURNS TABLE (membership text, log text, preview text, previewed text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('CREATE TABLE people (key %s PRIMARY KEY, name text)', key_type);
	EXECUTE format('INSERT INTO people VALUES (%L::%s, ''Ann'')',
		CASE WHEN key_type = 'uuid' THEN 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' ELSE '42' END, key_type);
	PERFORM segments.attach_contacts('people', key => 'key');
	RETURN QUERY
	SELECT (SELECT format_type(atttypid, atttypmod) FROM pg_attribute
			WHERE attrelid = 'segments.membership'::regclass AND attname = 'contact'),
		(SELECT format_type(atttypid, atttypmod) FROM pg_attribute
			WHERE attrelid = 'segments.membership_log'::regclass AND attname = 'contact'),
		(SELECT pg_get_function_result(p.oid) FROM pg_proc p
			WHERE p.pronamespace = 'segments'::regnamespace AND p.proname = 'preview'),
		(SELECT string_agg(p::text, ', ') FROM segments.preview('name = ''Ann''') p);
	PERFORM segments.detach_contacts();
	DROP TABLE people;
END
$$;
SELECT t AS key_type, k.* FROM unnest(ARRAY['bigint', 'integer', 'uuid', 'text', 'varchar(40)']) t,
	LATERAL key_types(t) k;
-- A domain over one of these types is read as its base type.
CREATE DOMAIN contact_key AS bigint CHECK (VALUE > 0);
SELECT * FROM key_types('contact_key');

--
-- What pg_dump saves: the rows of the catalog tables (and the segment id
-- sequence) belong to the database, not to the extension script.
--
SELECT c::regclass AS config_table, cond AS filter
FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(c, cond)
WHERE e.extname = 'segments'
ORDER BY 1::text;

DROP FUNCTION key_types(text);
DROP DOMAIN contact_key;
DROP VIEW contacts_view;
DROP MATERIALIZED VIEW contacts_mat;
DROP TABLE contacts, events, list_members, contacts_no_key, contacts_partial, contacts_pair, contacts_temp;
