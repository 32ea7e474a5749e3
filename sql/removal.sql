--
-- removal: DROP EXTENSION segments CASCADE removes what the extension and
-- attach_* made, and nothing of the application's.  (Last: it drops the
-- extension the other tests use.)
--

CREATE TABLE removal_contacts (id bigint PRIMARY KEY, plan text);
CREATE TABLE removal_events (contact_id bigint, kind text, at timestamptz);
INSERT INTO removal_contacts VALUES (1, 'pro'), (2, 'free');
INSERT INTO removal_events VALUES (1, 'opened', now());
-- the application's own trigger on an attached table
CREATE TABLE removal_audit (n bigint);
CREATE FUNCTION removal_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO removal_audit SELECT count(*) FROM new_rows;
	RETURN NULL;
END
$$;
CREATE TRIGGER audit AFTER INSERT ON removal_contacts REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION removal_audit();
SELECT segments.attach_contacts('removal_contacts', key => 'id');
SELECT segments.attach_events('removal_events', contact => 'contact_id', kind => 'kind', at => 'at');
SELECT segments.create_segment('pro', 'plan = ''pro''') IS NOT NULL AS created;
SELECT segments.create_segment('openers', 'event ''opened''') IS NOT NULL AS created;

-- Without CASCADE, refused as PostgreSQL refuses it, nothing dropped.
SELECT state, message FROM try('DROP EXTENSION segments');
SELECT count(*) AS members FROM segments.membership;

-- By a role that does not own the extension: PostgreSQL's refusal, nothing
-- dropped before it.
CREATE ROLE removal_stranger;
GRANT CREATE ON SCHEMA public TO removal_stranger;
SET ROLE removal_stranger;
SELECT state, message FROM try('DROP EXTENSION segments CASCADE');
RESET ROLE;
SELECT count(*) AS members FROM segments.membership;

-- With CASCADE: the schema segments is left empty (PostgreSQL made it for
-- the extension and leaves it, as for any extension with a fixed schema),
-- the attached tables keep their rows and their own triggers.
SET client_min_messages = warning;
DROP EXTENSION segments CASCADE;
RESET client_min_messages;
SELECT c.relname, c.relkind FROM pg_class c WHERE c.relnamespace = 'segments'::regnamespace;
SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'segments'::regnamespace;
SELECT evtname FROM pg_event_trigger;
SELECT tgrelid::regclass AS "table", tgname FROM pg_trigger
WHERE tgrelid IN ('removal_contacts'::regclass, 'removal_events'::regclass) ORDER BY 1, 2;
SELECT * FROM removal_contacts ORDER BY id;
SELECT count(*) AS events FROM removal_events;
INSERT INTO removal_contacts VALUES (3, 'pro');
SELECT * FROM removal_audit;

-- Installed and attached again, as new.
CREATE EXTENSION segments;
SELECT segments.attach_contacts('removal_contacts', key => 'id');
SELECT segments.create_segment('pro', 'plan = ''pro''') IS NOT NULL AS created;
SELECT contact FROM segments.membership ORDER BY contact;
UPDATE removal_contacts SET plan = 'pro' WHERE id = 2;
SELECT contact FROM segments.membership ORDER BY contact;
SELECT * FROM segments.verify_segment('pro');

-- DROP SCHEMA segments CASCADE drops the extension, and with it all.
SET client_min_messages = warning;
DROP SCHEMA segments CASCADE;
RESET client_min_messages;
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'segments';
SELECT tgname FROM pg_trigger WHERE tgrelid = 'removal_contacts'::regclass ORDER BY 1;

DROP TABLE removal_contacts, removal_events, removal_audit;
DROP FUNCTION removal_audit();
REVOKE CREATE ON SCHEMA public FROM removal_stranger;
DROP ROLE removal_stranger;
