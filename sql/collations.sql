--
-- collations: text contact keys and tenants in a database whose collation
-- is not C.  The membership's indexes are then sorted the way that
-- collation sorts ('alice' < 'Bob' < 'carol'), not byte by byte
-- ('Bob' < 'alice'), and every search of them by contact (a write's
-- maintenance, one contact at a time) must compare the same way, or it
-- would miss the memberships it is to end and add twins.  The other tests
-- run in a C database, where both orders are one.
--
\set home :DBNAME
CREATE DATABASE segments_collations TEMPLATE template0 ENCODING UTF8
	LOCALE_PROVIDER icu ICU_LOCALE 'en' LC_COLLATE 'C' LC_CTYPE 'C';
\c segments_collations
CREATE EXTENSION segments;
SELECT datlocprovider, daticulocale FROM pg_database WHERE datname = current_database();
SELECT 'alice' < 'Bob' AS sorted_by_language, 'alice' < 'Bob' COLLATE "C" AS sorted_by_bytes;

CREATE TABLE people (
	id text PRIMARY KEY,
	country text NOT NULL
);
-- names of both cases, and some beyond ASCII, so that the two orders differ
-- throughout the index
INSERT INTO people
SELECT n || i, (ARRAY['US', 'DE'])[1 + i % 2]
FROM unnest(ARRAY['alice', 'Bob', 'carol', 'Dave', 'émile', 'Zoë', 'zack', 'Éva']) AS n,
	generate_series(1, 40) AS i;

-- Contacts keyed alone by text.
SELECT segments.attach_contacts('people', key => 'id');
SELECT segments.create_segment('us', 'country = ''US''') IS NOT NULL AS created;
SELECT segments.create_segment('de', 'country = ''DE''') IS NOT NULL AS created;
-- one contact at a time: each leaves one segment and joins the other
UPDATE people SET country = CASE country WHEN 'US' THEN 'DE' ELSE 'US' END
WHERE id IN ('alice1', 'Bob2', 'carol3', 'Dave4', 'émile5', 'Zoë6', 'zack7', 'Éva8');
UPDATE people SET country = 'US' WHERE id = 'Bob2';
UPDATE people SET country = 'DE' WHERE id = 'Bob2';
SELECT count(*) FILTER (WHERE joined) AS joins, count(*) FILTER (WHERE NOT joined) AS leaves
FROM segments.membership_log WHERE cause = 'write';
SELECT name, missing, extra FROM segments.verify_all() ORDER BY segment_id;
SELECT segments.drop_segment(name) FROM segments.segment ORDER BY id;
SELECT segments.detach_contacts();

-- Contacts keyed per tenant, both text.
CREATE TABLE members (
	team text NOT NULL,
	id text NOT NULL,
	country text NOT NULL,
	PRIMARY KEY (team, id)
);
INSERT INTO members
SELECT t, p.id, p.country
FROM people p, unnest(ARRAY['acme', 'Beta', 'cobalt', 'Ærø']) AS t;
SELECT segments.attach_contacts('members', key => 'id', tenant => 'team');
SELECT segments.create_segment('us', 'country = ''US''') IS NOT NULL AS created;
SELECT segments.create_segment('de', 'country = ''DE''', tenant => 'Beta') IS NOT NULL AS created;
UPDATE members SET country = CASE country WHEN 'US' THEN 'DE' ELSE 'US' END
WHERE id IN ('alice1', 'Bob2', 'carol3', 'Zoë6') AND team IN ('Beta', 'Ærø');
UPDATE members SET country = 'US' WHERE team = 'Beta' AND id = 'Bob2';
UPDATE members SET country = 'DE' WHERE team = 'Beta' AND id = 'Bob2';
SELECT count(*) FILTER (WHERE joined) AS joins, count(*) FILTER (WHERE NOT joined) AS leaves
FROM segments.membership_log WHERE cause = 'write';
SELECT name, tenant, missing, extra FROM segments.verify_all() ORDER BY segment_id;

\c :home
DROP DATABASE segments_collations;
