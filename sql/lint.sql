--
-- lint: the conditions of a valid rule that look wrong for the data.
--
--   segments.lint(rule [, tenant]) -> TABLE(condition, warning, hint)
--
-- Tried as a new user would, these match nobody without an error: an event
-- kind or a list that no row has, a jsonb key never present, a literal of
-- another JSON type than the values, a text in the wrong case, a tenant
-- without contacts.  Lint looks them up in the data (an index, the
-- statistics, a bounded sample) as the calling role, and hints the nearest
-- existing value.  create_segment and alter_segment say the same as
-- NOTICEs (SQLSTATE 01000) and go on.
--
CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL, country text,
	tags text[], props jsonb);
INSERT INTO contacts
SELECT i, 1 + i % 3, (ARRAY['US', 'FR', 'DE'])[1 + i % 3], CASE WHEN i % 4 = 0 THEN '{vip}'::text[] ELSE '{beta}' END,
	jsonb_build_object('industry', (ARRAY['saas', 'retail'])[1 + i % 2], 'employees', i * 10,
		'address', jsonb_build_object('city', 'Paris'))
FROM generate_series(1, 500) AS i;
CREATE INDEX ON contacts (account_id);
CREATE TABLE events (contact_id bigint NOT NULL, kind text NOT NULL, at timestamptz NOT NULL);
INSERT INTO events SELECT 1 + i % 500, (ARRAY['opened', 'clicked', 'delivered'])[1 + i % 3], '2025-06-01'
FROM generate_series(1, 3000) AS i;
CREATE TABLE list_members (contact_id bigint NOT NULL, list text NOT NULL);
INSERT INTO list_members SELECT i, (ARRAY['newsletter', 'product updates'])[1 + i % 2] FROM generate_series(1, 500) AS i;
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at');
SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list');

-- The slips of a new user, each found and explained.
SELECT * FROM segments.lint($$event 'opend' within last 30 days$$);
SELECT * FROM segments.lint($$in list 'newsleter'$$);
SELECT * FROM segments.lint($$props.industy = 'saas'$$);
SELECT * FROM segments.lint($$props.address.citty = 'Paris'$$);
SELECT * FROM segments.lint($$props.employees > '100'$$);
SELECT * FROM segments.lint($$props.industry = 1$$);
SELECT * FROM segments.lint($$tags contains 'VIP'$$);
SELECT * FROM segments.lint($$country in ('us', 'FR')$$);
SELECT * FROM segments.lint('true', tenant => 4);
SELECT * FROM segments.lint('true', tenant => 44);
-- All at once, in the order of the rule.
SELECT * FROM segments.lint($$(event 'opend' or in list 'newsleter') and props.industy = 'saas'
	and props.employees > '100' and tags contains 'VIP'$$, tenant => 1);

-- Rules that are right say nothing.
SELECT count(*) AS warnings FROM segments.lint($$event 'opened' within last 30 days and in list 'newsletter'
	and props.industry = 'saas' and props.employees > 100 and props.address.city = 'Paris'
	and tags contains 'vip' and country in ('US', 'FR') and props.missing is null$$, tenant => 2);
-- Nor does a value that is merely absent (only another case of it is a slip);
-- under not, a slip keeps everyone in: it is said too.
SELECT count(*) AS warnings FROM segments.lint($$country = 'GB' and tags contains 'gold'$$);
SELECT * FROM segments.lint($$not tags contains 'VIP'$$);

-- create_segment and alter_segment say the warnings and go on.
SELECT segments.create_segment('Openers', $$event 'opend' within last 30 days$$) IS NOT NULL AS created;
SELECT segments.alter_segment('Openers', $$event 'opened' within last 30 days and props.employees > '100'$$);
SELECT segments.alter_segment('Openers', $$event 'opened' within last 30 days$$);
SELECT segments.create_segment('Empty tenant', 'true', tenant => 44) IS NOT NULL AS created;
-- the SQLSTATE of the NOTICE: 01000, a warning
DO $$
BEGIN
	PERFORM segments.alter_segment('Openers', $r$in list 'newsleter'$r$);
END
$$;
\set VERBOSITY verbose
SELECT segments.alter_segment('Openers', $$in list 'newsleter'$$);
\set VERBOSITY default

-- An invalid rule is an error, as everywhere.
SELECT * FROM try($$SELECT * FROM segments.lint('contry = ''US''')$$);

-- The data is read as the caller: it learns nothing of a table it may not
-- read, nor of rows row-level security hides from it.
CREATE ROLE lint_reader IN ROLE segments_reader;
GRANT SELECT ON contacts TO lint_reader;
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_1 ON contacts FOR SELECT TO lint_reader USING (account_id = 1);
SET ROLE lint_reader;
SELECT * FROM segments.lint($$event 'opend' and country = 'us'$$);
SELECT * FROM segments.lint('true', tenant => 2);
RESET ROLE;
ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;
DROP POLICY tenant_1 ON contacts;
REVOKE SELECT ON contacts FROM lint_reader;
DROP ROLE lint_reader;

SELECT segments.drop_segment('Empty tenant', tenant => 44);
SELECT segments.drop_segment('Openers');
SELECT segments.detach_lists();
SELECT segments.detach_events();
SELECT segments.detach_contacts();
DROP TABLE contacts, events, list_members;
