-- Segments on a Citus cluster: builds run on every node, writes through
-- the coordinator or a worker are maintained on the node of their tenant,
-- in their transaction (docs/design.md, "On a Citus cluster").
\set VERBOSITY terse
\getenv worker_port CITUS_WORKER_PORT
\getenv coordinator_port CITUS_COORDINATOR_PORT

-- Four accounts of 50 contacts each, on both workers.  Times are relative
-- to now(): every node's clock is its own (segments.now_override, a
-- session's setting, does not reach the workers).
INSERT INTO contacts (account_id, id, email, country, plan, score, created_at)
SELECT a, i, format('c%s@a%s.example', i, a), (ARRAY['US', 'DE', 'FR'])[1 + i % 3],
	(ARRAY['free', 'pro', 'team'])[1 + i % 3 + a % 2 - (i % 3 + a % 2) / 3 * 3], i % 100,
	now() - i * interval '1 day' - interval '1 hour'
FROM generate_series(1, 4) a, generate_series(1, 50) i;
INSERT INTO events (account_id, contact_id, kind, occurred_at)
SELECT a, i, CASE WHEN i % 2 = 0 THEN 'opened' ELSE 'clicked' END,
	now() - (i % 20) * interval '1 day' - interval '1 hour'
FROM generate_series(1, 4) a, generate_series(1, 50) i, generate_series(1, 2) r;
INSERT INTO list_members SELECT a, i, CASE WHEN i % 5 = 0 THEN 'vip' ELSE 'news' END
FROM generate_series(1, 4) a, generate_series(1, 50) i;
SELECT count(DISTINCT nodeport) AS nodes FROM citus_shards WHERE table_name = 'contacts'::regclass;

-- One rule of each kind; each is built on every node at once.
SELECT segments.create_segment('us', 'country = ''US''');
SELECT segments.create_segment('pro_us', 'plan in (''pro'', ''team'') and country = ''US''');
SELECT segments.create_segment('engaged', 'event ''opened'' count >= 2 within last 10 days');
SELECT segments.create_segment('vip', 'in list ''vip''');
SELECT segments.create_segment('vip_us', 'in segment ''us'' and in segment ''vip''');
SELECT segments.create_segment('new', 'created_at > 30 days ago');
SELECT segments.create_segment('account_2_us', 'country = ''US''', tenant => 2);
SELECT s.name, m.members
FROM segments.segment s
JOIN (SELECT segment_id, count(*) AS members FROM segments.membership GROUP BY segment_id) m ON m.segment_id = s.id
ORDER BY s.id;
-- each node's members, as many as its contacts'
SELECT nodeport > 0 AS worker, result::int > 0 AS has_members FROM run_command_on_workers(
	$$SELECT count(*) FROM segments.membership$$) ORDER BY nodeport;
SELECT * FROM segments.verify_all() ORDER BY segment_id;

-- Writes through the coordinator: one row, many rows over every shard,
-- several accounts in one transaction (two-phase commit on both workers).
UPDATE contacts SET country = 'US' WHERE account_id = 1 AND id = 2;
UPDATE contacts SET country = 'DE' WHERE account_id = 2 AND id = 3;
SELECT tenant, contact, joined FROM segments.membership_log
WHERE cause = 'write' AND segment_id = 1 ORDER BY tenant, contact;
UPDATE contacts SET score = score + 1, plan = 'pro' WHERE id % 7 = 0;
BEGIN;
INSERT INTO events (account_id, contact_id, kind, occurred_at) VALUES
	(1, 1, 'opened', now() - interval '1 hour'), (1, 1, 'opened', now() - interval '1 hour');
INSERT INTO events (account_id, contact_id, kind, occurred_at) VALUES
	(2, 1, 'opened', now() - interval '1 hour'), (2, 1, 'opened', now() - interval '1 hour');
INSERT INTO list_members VALUES (3, 1, 'vip'), (4, 1, 'vip');
DELETE FROM contacts WHERE account_id = 4 AND id = 10;
COMMIT;
SELECT s.name, l.tenant, l.contact, l.joined FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.cause = 'write' AND l.contact IN (1, 10) ORDER BY 1, 2, 3;
COPY events (account_id, contact_id, kind) FROM stdin;
3	3	opened
3	3	opened
4	3	opened
\.
SELECT * FROM segments.verify_all() ORDER BY segment_id;

-- A rolled-back write leaves nothing.
BEGIN;
UPDATE contacts SET country = 'FR' WHERE account_id = 1;
ROLLBACK;
SELECT count(*) FROM segments.membership_log WHERE cause = 'write' AND contact = 5 AND tenant = 1;

-- Writes on a worker, to its own shards and through it to the other's.
\c - - - :worker_port
UPDATE contacts SET country = 'US' WHERE id = 5;
INSERT INTO events (account_id, contact_id, kind, occurred_at)
SELECT a, 7, 'opened', now() - interval '1 hour' FROM generate_series(1, 4) a, generate_series(1, 2);
\c - - - :coordinator_port
SELECT * FROM segments.verify_all() ORDER BY segment_id;
SELECT l.tenant, l.joined FROM segments.membership_log l
WHERE l.cause = 'write' AND l.contact = 7 AND l.segment_id = 3 ORDER BY 1;

-- Reads of the distributed tables, on the coordinator.
SELECT segments.preview_count('country = ''US''');
SELECT * FROM segments.preview('country = ''US'' and score < 10', 5);
SELECT count(*) FROM segments.members WHERE name = 'us';

-- Altering, refreshing and dropping.
SELECT segments.alter_segment('us', 'country = ''DE''');
SELECT * FROM segments.verify_all() ORDER BY segment_id;
SELECT segments.refresh_segment('engaged');
SELECT segments.drop_segment('account_2_us');
SELECT count(*) FROM segments.membership WHERE segment_id = 7;

-- Time: each node sweeps its shard groups.  A contact 30 days old two
-- seconds from now leaves "new" at the first tick after.
INSERT INTO contacts (account_id, id, email, created_at)
VALUES (3, 100, 'edge@a3.example', now() - interval '30 days' + interval '2 seconds');
SELECT count(*) FROM segments.membership WHERE segment_id = 6 AND tenant = 3 AND contact = 100;
SELECT pg_sleep(3);
SELECT segments.tick();
SELECT count(*) FROM segments.membership WHERE segment_id = 6 AND tenant = 3 AND contact = 100;
SELECT joined, cause FROM segments.membership_log WHERE segment_id = 6 AND tenant = 3 AND contact = 100 ORDER BY id;
SELECT * FROM segments.verify_all() ORDER BY segment_id;

-- The statistics, counted on every node.
SELECT name, members, swept_to IS NOT NULL AS swept FROM segments.stats ORDER BY segment_id;

-- Contacts included and excluded by hand: their membership changes in
-- their shard group, on its node.
SELECT segments.include('engaged', ROW(2, 49)::segments.contact_key) AS included,
	segments.exclude('engaged', ROW(3, 2)::segments.contact_key) AS excluded;
SELECT tenant, contact, joined, cause FROM segments.membership_log
WHERE segment_id = 3 AND cause = 'manual' ORDER BY tenant;
UPDATE contacts SET country = 'FR' WHERE account_id IN (2, 3) AND id IN (2, 49);
INSERT INTO events (account_id, contact_id, kind) VALUES (3, 2, 'opened'), (3, 2, 'opened');
SELECT segments.remove_override('engaged', ROW(2, 49)::segments.contact_key) AS removed;
SELECT * FROM segments.verify_all() ORDER BY segment_id;

-- Readers: the membership's policies run in each shard's query.  A
-- reader the contacts' policies do not limit counts what the owner does.
SELECT count(*) FROM segments.membership WHERE segment_id = 3;
CREATE ROLE citus_reader LOGIN;
GRANT segments_reader TO citus_reader;
GRANT SELECT ON contacts TO citus_reader;
SET ROLE citus_reader;
SELECT count(*) FROM segments.membership WHERE segment_id = 3;
SELECT count(*) FROM segments.members WHERE name = 'vip';
RESET ROLE;
-- A reader the contacts' row-level security limits: refused, not answered
-- with the members it cannot see.
CREATE ROLE citus_limited LOGIN;
GRANT segments_reader TO citus_limited;
GRANT SELECT ON contacts TO citus_limited;
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY first_account ON contacts FOR SELECT TO citus_limited USING (account_id = 1);
SET ROLE citus_limited;
SELECT count(*) FROM contacts;
SELECT count(*) FROM segments.membership WHERE segment_id = 3;
RESET ROLE;
DROP POLICY first_account ON contacts;
ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;
