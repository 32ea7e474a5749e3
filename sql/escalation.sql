--
-- Escalation: code that the owner of an attached table controls must not
-- run with the rights of the extension's owner, under which maintenance
-- runs.  A domain's CHECK is such code: the tenant and event kind literals
-- of the rules are read as the domain's base type, so no CHECK runs when
-- the owner's own writes are maintained.  Every call of the owner's check
-- functions is recorded with the role it ran as.
--
CREATE ROLE segments_test_owner;
GRANT CREATE ON SCHEMA public TO segments_test_owner;
SET ROLE segments_test_owner;
CREATE TABLE public.check_calls (ran_as name, what text);
GRANT INSERT ON public.check_calls TO PUBLIC;
CREATE FUNCTION public.owner_check(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	-- a real attack would ALTER ROLE ... SUPERUSER here
	INSERT INTO public.check_calls VALUES (current_user, what);
	RETURN true;
END
$$;
CREATE DOMAIN public.tenant_id AS integer CHECK (public.owner_check('tenant ' || VALUE));
-- a domain over a domain: both CHECKs would run
CREATE DOMAIN public.account_ref AS tenant_id CHECK (public.owner_check('account ' || VALUE));
CREATE DOMAIN public.event_kind AS text CHECK (public.owner_check('kind ' || VALUE));
-- domains inside an array and a composite type
CREATE DOMAIN public.tag AS text CHECK (public.owner_check('tag ' || VALUE));
CREATE TYPE public.address AS (city tag);
CREATE TABLE public.contacts (id bigint PRIMARY KEY, account account_ref NOT NULL, country text,
	tags tag[], addr address);
CREATE TABLE public.events (contact_id bigint NOT NULL, kind event_kind NOT NULL, at timestamptz NOT NULL);
INSERT INTO public.contacts VALUES (1, 1, 'FR'), (2, 2, 'US');
RESET ROLE;

-- The extension's owner attaches the table: it needs its owner's rights
-- (docs/design.md, "What needs a superuser"; nothing to grant to a superuser).
DO $$ BEGIN
	EXECUTE format('GRANT segments_test_owner TO %I', (SELECT p.proowner::regrole FROM pg_proc p
		WHERE p.oid = 'segments.attach_contacts(regclass, name, name, text)'::regprocedure));
END $$;
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at');
SELECT segments.create_segment('US', 'country = ''US''', tenant => 1) IS NOT NULL AS created,
	segments.create_segment('Openers', 'event ''opened''', tenant => 1) IS NOT NULL AS created;

-- The owner writes; maintenance runs as the extension's owner.
TRUNCATE check_calls;
SET ROLE segments_test_owner;
UPDATE contacts SET country = 'US' WHERE id = 1;
INSERT INTO events VALUES (1, 'opened', '2025-06-01');
RESET ROLE;
-- the owner's own row's CHECK ran as the owner; nothing ran as anyone else
SELECT ran_as, what FROM check_calls ORDER BY what;
SELECT s.name, array_agg(m.contact ORDER BY m.contact) AS members
FROM segments.segment s JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.name ORDER BY s.name;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.name;
-- a tenant written as the base type reads the same ('01' is tenant 1)
SELECT segments.preview_count('true', tenant => '01') AS tenant_1;

-- A domain inside an array or a composite type: reading the literals of
-- "tags contains 'vip'" and "addr = '(paris)'" runs their CHECKs, as the
-- contacts table's owner, whoever checks the rule (here a superuser
-- creating the segments, then maintenance).
TRUNCATE check_calls;
SELECT segments.create_segment('VIP', 'tags contains ''vip''', tenant => 1) IS NOT NULL AS created,
	segments.create_segment('Paris', 'addr = ''(paris)''', tenant => 1) IS NOT NULL AS created;
SET ROLE segments_test_owner;
UPDATE contacts SET tags = ARRAY['vip']::tag[], addr = ROW('paris') WHERE id = 1;
RESET ROLE;
SELECT DISTINCT ran_as, what FROM check_calls ORDER BY what;
SELECT s.name, array_agg(m.contact ORDER BY m.contact) AS members
FROM segments.segment s JOIN segments.membership m ON m.segment_id = s.id
WHERE s.name IN ('VIP', 'Paris') GROUP BY s.name ORDER BY s.name;

-- Maintenance, builds and verification read the attached tables as their
-- owner, in a security-restricted operation: code the owner controls
-- there, here a function in a policy the owner forces on itself, runs as
-- the owner, never as the extension's owner (a superuser, which row-level
-- security would not even apply to).
SET ROLE segments_test_owner;
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY checked ON contacts USING (public.owner_check('policy'));
RESET ROLE;
TRUNCATE check_calls;
SELECT segments.create_segment('FR', 'country = ''FR''', tenant => 2) IS NOT NULL AS created;
SET ROLE segments_test_owner;
UPDATE contacts SET country = 'FR' WHERE id = 2;
RESET ROLE;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v
WHERE s.name = 'FR';
SELECT DISTINCT ran_as, what FROM check_calls ORDER BY what;
SELECT m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE s.name = 'FR';
-- A contact excluded by hand: the write path and the SQL of the segment's
-- members read the overrides as the contacts' owner.
SELECT segments.exclude('FR', 2, tenant => 2) AS excluded;
SET ROLE segments_test_owner;
UPDATE contacts SET country = 'FR' WHERE id = 2;
RESET ROLE;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v
WHERE s.name = 'FR';
-- What the owner's code may not do there: leave objects in the session,
-- or anything else a security-restricted operation forbids.  Verifying reads
-- the contacts.
SET ROLE segments_test_owner;
CREATE OR REPLACE FUNCTION public.owner_check(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE 'CREATE TEMP TABLE IF NOT EXISTS owner_stash (x int)';
	RETURN true;
END
$$;
RESET ROLE;
\set VERBOSITY terse
SELECT * FROM segments.verify_segment('FR', tenant => 2);
\set VERBOSITY default

SELECT segments.drop_segment(id) FROM segments.segment ORDER BY id DESC;
SELECT segments.detach_events();
SELECT segments.detach_contacts();
-- An UPDATE decides which segments it can change by evaluating their
-- conditions on the changed columns for the old and new values, as the
-- contacts' owner; their rules are checked before that, as the
-- extension's owner, since checking "in segment" reads the catalog, which
-- the owner may not (a new connection checks them first here).
SET ROLE segments_test_owner;
CREATE TABLE public.owned (id bigint PRIMARY KEY, country text, plan text);
INSERT INTO public.owned VALUES (1, 'US', 'pro'), (2, 'FR', 'free'), (3, 'US', 'free');
RESET ROLE;
SELECT segments.attach_contacts('owned', key => 'id');
SELECT segments.create_segment('Pro', 'plan = ''pro''') IS NOT NULL AS created,
	segments.create_segment('FR pro', 'country = ''FR'' and in segment ''Pro''') IS NOT NULL AS created,
	segments.create_segment('FR or XX', 'country in (''FR'', ''XX'')') IS NOT NULL AS created;
\c
SET ROLE segments_test_owner;
UPDATE public.owned SET country = 'FR' WHERE id = 1;
RESET ROLE;
-- likewise when a value becomes NULL (every segment on the column is then
-- evaluated)
\c
SET ROLE segments_test_owner;
UPDATE public.owned SET country = NULL WHERE id = 3;
RESET ROLE;
SELECT s.name, array_agg(m.contact ORDER BY m.contact) AS members
FROM segments.segment s JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.name ORDER BY s.name;
-- When row-level security applies to the owner, a policy may hide a row
-- for its new values, which a rule reads no differently: here 2's country
-- becomes XX, which FR or XX holds for as it held for FR, but the policy
-- hides the row from the owner, for whom 2 then is no contact (a
-- superuser writes it).  Every segment reading a changed column is then
-- evaluated.
SET ROLE segments_test_owner;
ALTER TABLE public.owned ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY not_xx ON public.owned USING (country IS DISTINCT FROM 'XX');
RESET ROLE;
UPDATE public.owned SET country = 'XX' WHERE id = 2;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v
ORDER BY s.name;
SELECT s.name, array_agg(m.contact ORDER BY m.contact) AS members
FROM segments.segment s JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.name ORDER BY s.name;
SELECT segments.drop_segment(id) FROM segments.segment ORDER BY id DESC;
SELECT segments.detach_contacts();
DROP TABLE public.owned;

-- A tenant column of a container type is refused: a tenant is a scalar.
CREATE TABLE public.accounts (id bigint PRIMARY KEY, owner address NOT NULL);
\set VERBOSITY terse
SELECT segments.attach_contacts('accounts', key => 'id', tenant => 'owner');
\set VERBOSITY default
DROP TABLE public.accounts;
DROP TABLE public.events, public.contacts, public.check_calls;
DROP TYPE public.address;
DROP DOMAIN public.tag;
DROP DOMAIN public.account_ref;
DROP DOMAIN public.tenant_id;
DROP DOMAIN public.event_kind;
DROP FUNCTION public.owner_check(text);
REVOKE CREATE ON SCHEMA public FROM segments_test_owner;
DROP ROLE segments_test_owner;
