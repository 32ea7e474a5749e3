--
-- restore_mode: a session restoring a dump (check_function_bodies and
-- row_security both off, as every pg_dump and pg_restore script sets them)
-- is let be: the dump's membership and log come with its rows.  Only for
-- a role that owns the table, which could write it unmaintained anyway
-- (DISABLE TRIGGER).
--

CREATE TABLE restore_contacts (id bigint PRIMARY KEY, plan text);
SELECT segments.attach_contacts('restore_contacts', key => 'id');
SELECT segments.create_segment('pro', 'plan = ''pro''') IS NOT NULL AS created;
CREATE ROLE restore_writer;
GRANT SELECT, INSERT, UPDATE ON restore_contacts TO restore_writer;

-- A writer that does not own the table is maintained whatever it sets.
SET ROLE restore_writer;
SET check_function_bodies = off;
SET row_security = off;
INSERT INTO restore_contacts VALUES (1, 'pro');
RESET ROLE;
SELECT contact FROM segments.membership ORDER BY contact;

-- The owner restoring rows (a superuser here): not maintained.
INSERT INTO restore_contacts VALUES (2, 'pro');
SELECT contact FROM segments.membership ORDER BY contact;
SELECT * FROM segments.verify_segment('pro');

-- One of the two settings alone is no restore.
RESET row_security;
INSERT INTO restore_contacts VALUES (3, 'pro');
SELECT contact FROM segments.membership ORDER BY contact;
RESET check_function_bodies;
SELECT segments.refresh_segment('pro');
SELECT * FROM segments.verify_segment('pro');

-- Dropping the attached table a segment uses is refused; restoring, as
-- pg_restore --clean drops it before the extension, it is let be, the
-- attachment kept by name for the table created again.
SELECT state, message FROM try('DROP TABLE restore_contacts');
SET check_function_bodies = off;
SET row_security = off;
DROP TABLE restore_contacts;
RESET check_function_bodies;
RESET row_security;
SELECT table_name FROM segments.attached WHERE role = 'contacts';
CREATE TABLE restore_contacts (id bigint PRIMARY KEY, plan text);
SELECT segments.drop_segment('pro');
SELECT segments.detach_contacts();
DROP TABLE restore_contacts;
DROP ROLE restore_writer;
