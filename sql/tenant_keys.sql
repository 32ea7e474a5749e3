--
-- tenant_keys: contacts keyed per tenant.  A contacts table whose key is
-- unique only together with its tenant, PRIMARY KEY (workspace_id, id),
-- attaches without an extra unique index: a contact is then the pair
-- (tenant, key), of type segments.contact_key; the membership and its log
-- hold it as two columns, and the events and lists tables name the
-- contact's tenant as well as its key.  Ids repeat across workspaces here,
-- so that a rule or a write that mixed them up would show.
--
SET segments.now_override = '2025-06-15 12:00:00+00';

CREATE TABLE contacts (
	workspace_id bigint NOT NULL,
	id bigint NOT NULL,
	country text,
	score integer,
	props jsonb,
	PRIMARY KEY (workspace_id, id)
);
INSERT INTO contacts
SELECT w, i, (ARRAY['US', 'DE', 'FR'])[1 + (i + w) % 3], (i * 7 + w) % 100,
	jsonb_build_object('plan', (ARRAY['free', 'pro'])[1 + (i * 3 + w) % 2])
FROM generate_series(1, 3) AS w, generate_series(1, 30) AS i;

CREATE TABLE events (
	workspace_id bigint NOT NULL,
	contact_id bigint NOT NULL,
	kind text NOT NULL,
	at timestamptz NOT NULL,
	amount numeric
);
-- workspace 1's contacts open a lot; the same ids in workspace 2 rarely
INSERT INTO events
SELECT 1 + (i % 7 = 0)::integer, 1 + i % 20, (ARRAY['opened', 'purchased'])[1 + (i % 5 = 0)::integer],
	timestamptz '2025-06-15 12:00+00' - i * interval '9 hours', i % 40
FROM generate_series(1, 400) AS i;

CREATE TABLE subscriptions (
	workspace_id bigint NOT NULL,
	contact_id bigint NOT NULL,
	list text NOT NULL,
	status text NOT NULL,
	subscribed_at timestamptz NOT NULL
);
INSERT INTO subscriptions
SELECT 1 + i % 3, 1 + i % 25, 'newsletter', (ARRAY['subscribed', 'unsubscribed'])[1 + (i % 4 = 0)::integer],
	timestamptz '2025-06-15 12:00+00' - i * interval '1 day'
FROM generate_series(1, 60) AS i;

-- What attaching checks.  The key alone is not unique, and without the
-- tenant nothing makes it so.
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id')$$);
-- with a tenant that is not part of a unique key either
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'score')$$);
-- a tenant in the key must be of a key's type and never NULL
CREATE TABLE loose (ws numeric NOT NULL, id bigint NOT NULL, UNIQUE (ws, id));
SELECT * FROM try($$SELECT segments.attach_contacts('loose', key => 'id', tenant => 'ws')$$);
ALTER TABLE loose ALTER COLUMN ws TYPE bigint, ALTER COLUMN ws DROP NOT NULL;
SELECT * FROM try($$SELECT segments.attach_contacts('loose', key => 'id', tenant => 'ws')$$);
DROP TABLE loose;

SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'workspace_id');
SELECT role, contact_column, tenant_column, key_per_tenant FROM segments.attached;
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = 'segments.contact_key'::regclass AND attnum > 0 ORDER BY attnum;
SELECT c.relname, array_agg(a.attname ORDER BY a.attnum) AS columns
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
WHERE c.relnamespace = 'segments'::regnamespace AND c.relname IN ('membership', 'membership_log')
GROUP BY c.relname ORDER BY 1;
SELECT indexrelid::regclass AS index, regexp_replace(pg_get_indexdef(indexrelid), '.* USING ', '') AS definition
FROM pg_index WHERE indrelid = 'segments.membership'::regclass ORDER BY 1;

-- The events and lists tables name the contact's tenant: by default the
-- column of the contacts' tenant's name; another column when given.
ALTER TABLE events RENAME COLUMN workspace_id TO ws;
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at')$$);
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at', tenant => 'amount')$$);
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at', tenant => 'contact_id')$$);
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at', tenant => 'ws');
SELECT segments.attach_lists('subscriptions', contact => 'contact_id', list => 'list', at => 'subscribed_at');
SELECT role, contact_column, tenant_column FROM segments.attached ORDER BY role;

-- Every form of rule, three ways: compiled to SQL, evaluated in C
-- (segments.matches of the pair) and written by hand; contacts as
-- 'workspace:id'.
CREATE FUNCTION keyed_three_ways(rule text, tenant bigint, expected text,
	OUT rule_text text, OUT compiled text[], OUT agree boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r segments.rule := rule::segments.rule;
	evaluated text[];
	hand text[];
BEGIN
	rule_text := r::text;
	EXECUTE format('SELECT coalesce(array_agg((q.contact).tenant || '':'' || (q.contact).contact ORDER BY q.contact), ''{}'') FROM (%s) q',
		segments._compile(r, tenant::text)) INTO compiled;
	SELECT coalesce(array_agg(c.workspace_id || ':' || c.id ORDER BY c.workspace_id, c.id), '{}') INTO evaluated
	FROM contacts c
	WHERE (tenant IS NULL OR c.workspace_id = tenant)
		AND CASE WHEN tenant IS NULL THEN segments.matches(ROW(c.workspace_id, c.id), r)
			ELSE segments.matches(ROW(c.workspace_id, c.id), r, tenant) END;
	EXECUTE format('SELECT coalesce(array_agg(c.workspace_id || '':'' || c.id ORDER BY c.workspace_id, c.id), ''{}'') FROM contacts c WHERE (%L::bigint IS NULL OR c.workspace_id = %L::bigint) AND (%s)',
		tenant, tenant, expected) INTO hand;
	agree := compiled = evaluated AND evaluated = hand
		AND cardinality(compiled) = CASE WHEN tenant IS NULL THEN segments.preview_count(r)
			ELSE segments.preview_count(r, tenant) END;
END
$$;
CREATE FUNCTION ev(c contacts, kind text, filter text DEFAULT 'true') RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	result bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM events e WHERE e.ws = $1 AND e.contact_id = $2 AND e.kind = $3 AND (%s)', filter)
	INTO result USING c.workspace_id, c.id, kind;
	RETURN result;
END
$$;

SELECT rule_text, cardinality(compiled) AS contacts, agree FROM keyed_three_ways(
	'country = ''US'' and score >= 50', NULL, 'c.country = ''US'' AND c.score >= 50');
SELECT rule_text, cardinality(compiled) AS contacts, agree FROM keyed_three_ways(
	'props.plan = ''pro''', 2, 'c.props->>''plan'' = ''pro''');
SELECT rule_text, cardinality(compiled) AS contacts, agree FROM keyed_three_ways(
	'event ''opened'' count >= 3 within last 30 days', NULL,
	'ev(c, ''opened'', $f$e.at >= timestamptz ''2025-05-16 12:00+00''$f$) >= 3');
SELECT rule_text, cardinality(compiled) AS contacts, agree FROM keyed_three_ways(
	'event ''opened'' count = 0', NULL, 'ev(c, ''opened'') = 0');
SELECT rule_text, cardinality(compiled) AS contacts, agree FROM keyed_three_ways(
	'event ''purchased'' sum(amount) >= 60', NULL,
	'(SELECT coalesce(sum(e.amount), 0) FROM events e WHERE e.ws = c.workspace_id AND e.contact_id = c.id AND e.kind = ''purchased'') >= 60');
SELECT rule_text, cardinality(compiled) AS contacts, agree FROM keyed_three_ways(
	'event ''opened'' last before 10 days ago', NULL,
	'(SELECT max(e.at) FROM events e WHERE e.ws = c.workspace_id AND e.contact_id = c.id AND e.kind = ''opened'') < timestamptz ''2025-06-05 12:00+00''');
SELECT rule_text, cardinality(compiled) AS contacts, agree FROM keyed_three_ways(
	'in list ''newsletter'' where (status = ''subscribed'') within last 20 days', NULL,
	'EXISTS (SELECT FROM subscriptions s WHERE s.workspace_id = c.workspace_id AND s.contact_id = c.id AND s.status = ''subscribed'' AND s.subscribed_at BETWEEN timestamptz ''2025-05-26 12:00+00'' AND timestamptz ''2025-06-15 12:00+00'')');
-- one contact's data is never another workspace's: workspace 2's
-- contacts 1..20 have the ids of workspace 1's openers
SELECT rule_text, compiled, agree FROM keyed_three_ways(
	'event ''opened'' count >= 3', 2, 'ev(c, ''opened'') >= 3');

-- Segments: over all contacts, and of a workspace.
SELECT segments.create_segment('us', 'country = ''US''') IS NOT NULL AS created;
SELECT segments.create_segment('openers', 'event ''opened'' count >= 2 within last 14 days') IS NOT NULL AS created;
SELECT segments.create_segment('subscribed', 'in list ''newsletter'' where (status = ''subscribed'')') IS NOT NULL AS created;
SELECT segments.create_segment('openers', 'event ''opened'' within last 14 days', tenant => 2) IS NOT NULL AS created;
SELECT segments.create_segment('engaged', 'in segment ''openers'' or country = ''US''', tenant => 2) IS NOT NULL AS created;
SELECT s.name, s.tenant, count(m.*) AS members, count(DISTINCT m.tenant) AS workspaces
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name, s.tenant ORDER BY s.id;
-- the time in a segment and samples, by pair: a bucket hashes the
-- workspace with the id (members joined in this run, after the clock the
-- test sets, so less than a day ago)
SELECT rule_text, cardinality(compiled) AS contacts, agree FROM keyed_three_ways(
	'in segment ''openers'' for less than 1 day', 2,
	'EXISTS (SELECT FROM segments.membership m WHERE m.segment_id = (SELECT g.id FROM segments.segment g WHERE g.name = ''openers'' AND g.tenant = ''2'') AND m.tenant = c.workspace_id AND m.contact = c.id)');
SELECT rule_text, cardinality(compiled) AS contacts, agree FROM keyed_three_ways(
	'sample 30% seed ''x''', NULL, 'segments.bucket(''x'', c.id::text, c.workspace_id::text) < 3000');
-- a workspace's segment holds only its contacts
SELECT count(*) AS strays FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE s.tenant IS NOT NULL AND m.tenant::text <> s.tenant;

-- Writes maintain each pair: an event of workspace 3's contact 5 is not
-- workspace 1's contact 5's.
SELECT count(*) FILTER (WHERE tenant = 1) AS ws1, count(*) FILTER (WHERE tenant = 3) AS ws3
FROM segments.membership m WHERE m.segment_id = (SELECT g.id FROM segments.segment g WHERE g.name = 'openers' AND g.tenant IS NULL) AND m.contact = 5;
INSERT INTO events SELECT 3, 5, 'opened', timestamptz '2025-06-15 10:00+00' - i * interval '1 hour', 1
FROM generate_series(1, 3) AS i;
SELECT m.tenant, m.contact FROM segments.membership m WHERE m.segment_id = (SELECT g.id FROM segments.segment g WHERE g.name = 'openers' AND g.tenant IS NULL) AND m.contact = 5 ORDER BY 1;
SELECT l.tenant, l.contact, l.joined, l.cause FROM segments.membership_log l
WHERE l.cause = 'write' ORDER BY l.id;
-- a field write (the fast path), then one of many contacts (chunks)
UPDATE contacts SET country = 'US' WHERE workspace_id = 2 AND id = 2;
UPDATE contacts SET score = score + 1;
UPDATE subscriptions SET status = 'unsubscribed' WHERE workspace_id = 1;
DELETE FROM events WHERE ws = 2 AND contact_id = 1;
-- a contact moving to another workspace leaves the first's segments
SELECT s.name, m.tenant FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = 2 AND m.tenant = 2 ORDER BY 1, 2;
UPDATE contacts SET workspace_id = 4 WHERE workspace_id = 2 AND id = 2;
SELECT s.name, m.tenant FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = 2 AND m.tenant IN (2, 4) ORDER BY 1, 2;
UPDATE contacts SET workspace_id = 2 WHERE workspace_id = 4 AND id = 2;
SELECT name, tenant, missing, extra FROM segments.verify_all() ORDER BY segment_id;

-- Time: the ticks sweep pairs too.
SET segments.now_override = '2025-06-25 12:00:00+00';
SELECT segments.tick() > 0 AS changed;
SELECT name, tenant, missing, extra FROM segments.verify_all() ORDER BY segment_id;
-- a clock set back needs a refresh, which finds the members it changes
SET segments.now_override = '2025-06-15 12:00:00+00';
SELECT name, tenant, changes FROM segments.refresh_all() WHERE changes > 0 ORDER BY segment_id;
SELECT name, tenant, missing, extra FROM segments.verify_all() ORDER BY segment_id;

-- Functions taking or returning a contact take or return the pair.
SELECT * FROM segments.preview('event ''opened'' count >= 10', 3);
SELECT * FROM segments.preview('event ''opened'' count >= 10', 3, after => ROW(1, 3));
SELECT * FROM segments.preview('country = ''DE''', 2, tenant => 3);
SELECT segments.matches(ROW(1, 3), 'event ''opened'' count >= 10') AS ws1,
	segments.matches(ROW(2, 3)::segments.contact_key, 'event ''opened'' count >= 10') AS ws2;
SELECT * FROM segments.explain(ROW(3, 5), 'event ''opened'' and country = ''US''');
SELECT * FROM try($$SELECT segments.matches(5, 'country = ''US''')$$);
SELECT * FROM try($$SELECT segments.matches(ROW(9, 5), 'country = ''US''')$$);
SELECT * FROM try($$SELECT * FROM segments.explain(ROW(1, 5), 'country = ''US''', 2)$$);
-- (workspace 2's own 'openers' is shown by name: ids depend on what ran before)
SELECT replace(segments.to_sql('event ''opened'' and in segment ''openers''', 2),
               'segment_id OPERATOR(pg_catalog.=) ' || (SELECT g.id FROM segments.segment g WHERE g.name = 'openers' AND g.tenant = '2'),
               'segment_id OPERATOR(pg_catalog.=) <openers of workspace 2>') AS to_sql;
SELECT name, tenant, contact FROM segments.members WHERE name = 'engaged' ORDER BY tenant, contact;
SELECT contact, joined, cause FROM segments.history('openers', tenant => 2) ORDER BY id LIMIT 3;
SELECT contact, joined, cause FROM segments.changes(NULL, 2000) WHERE cause = 'write' ORDER BY cursor LIMIT 3;

-- A reader sees the memberships of the contacts it can read, by pair.
CREATE ROLE keys_reader;
GRANT segments_reader TO keys_reader;
GRANT SELECT ON contacts TO keys_reader;
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY workspace_1 ON contacts FOR SELECT TO keys_reader USING (workspace_id = 1);
SET ROLE keys_reader;
SELECT m.tenant, count(*) FROM segments.membership m GROUP BY m.tenant ORDER BY 1;
SELECT DISTINCT tenant FROM segments.membership_log ORDER BY 1;
SELECT count(*) FROM segments.members WHERE tenant <> 1;
RESET ROLE;
ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;
DROP POLICY workspace_1 ON contacts;
REVOKE SELECT ON contacts FROM keys_reader;
DROP ROLE keys_reader;

-- The columns naming the contact's tenant are guarded and followed.
SELECT * FROM try($$ALTER TABLE events DROP COLUMN ws$$);
SELECT * FROM try($$ALTER TABLE subscriptions ALTER COLUMN workspace_id TYPE text$$);
ALTER TABLE events RENAME COLUMN ws TO workspace;
SELECT tenant_column FROM segments.attached WHERE role = 'events';
INSERT INTO events VALUES (3, 6, 'opened', '2025-06-15 11:00+00', 0), (3, 6, 'opened', '2025-06-15 11:01+00', 0),
	(3, 6, 'opened', '2025-06-15 11:02+00', 0);
SELECT m.tenant, m.contact FROM segments.membership m WHERE m.segment_id = (SELECT g.id FROM segments.segment g WHERE g.name = 'openers' AND g.tenant IS NULL) AND m.contact = 6 ORDER BY 1;
SELECT name, tenant, missing, extra FROM segments.verify_all() ORDER BY segment_id;

-- A partition attached to an attached table brings its rows' pairs into
-- the segments reading it, and detaching it takes them out again.
CREATE TABLE visits (ws bigint NOT NULL, contact_id bigint NOT NULL, at timestamptz NOT NULL)
	PARTITION BY RANGE (at);
CREATE TABLE visits_2024 PARTITION OF visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
SELECT segments.attach_events('visits', contact => 'contact_id', at => 'at', constant_kind => 'visited',
	source => 'site', tenant => 'ws');
SELECT segments.create_segment('visitors', 'event ''visited'' within last 30 days') IS NOT NULL AS created;
CREATE TABLE visits_2025 (LIKE visits);
INSERT INTO visits_2025 VALUES (1, 7, '2025-06-14'), (3, 7, '2025-06-10'), (2, 8, '2025-01-02');
ALTER TABLE visits ATTACH PARTITION visits_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT tenant, contact FROM segments.members WHERE name = 'visitors' ORDER BY 1, 2;
ALTER TABLE visits DETACH PARTITION visits_2025;
SELECT count(*) AS visitors FROM segments.members WHERE name = 'visitors';
SELECT name, tenant, missing, extra FROM segments.verify_all() ORDER BY segment_id;

-- Detaching drops the type with the membership.
SELECT segments.drop_segment(name, tenant) FROM segments.segment ORDER BY id DESC;
SELECT segments.detach_lists();
SELECT segments.detach_events('site');
SELECT segments.detach_events('events');
SELECT segments.detach_contacts();
SELECT to_regtype('segments.contact_key') AS contact_key;

-- Contacts keyed alone take no tenant column elsewhere.
CREATE TABLE people (id bigint PRIMARY KEY, workspace_id bigint);
SELECT segments.attach_contacts('people', key => 'id', tenant => 'workspace_id');
SELECT key_per_tenant FROM segments.attached;
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at', tenant => 'workspace')$$);
SELECT segments.detach_contacts();

-- Attached, a contacts table's tenant and key stay NOT NULL (here, where
-- no primary key holds them so).
CREATE TABLE accounts (ws bigint NOT NULL, id bigint NOT NULL, UNIQUE (ws, id));
INSERT INTO accounts VALUES (1, 1), (2, 1);
SELECT segments.attach_contacts('accounts', key => 'id', tenant => 'ws');
SELECT segments.create_segment('everyone', 'true') IS NOT NULL AS created;
SELECT * FROM try($$ALTER TABLE accounts ALTER COLUMN ws DROP NOT NULL$$);
SELECT * FROM try($$ALTER TABLE accounts ALTER COLUMN id DROP NOT NULL$$);
SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0 ORDER BY attnum;
SELECT segments.drop_segment('everyone');
SELECT segments.detach_contacts();
DROP TABLE accounts;

DROP FUNCTION keyed_three_ways(text, bigint, text), ev(contacts, text, text);
DROP TABLE contacts, events, subscriptions, people;
RESET segments.now_override;
