--
-- history: one segment's past, read from the log.  segments.history()
-- returns its joins and leaves in a window of time, size_history() its
-- members at the end of each step.  A segment is named as everywhere (a
-- name, a name and a tenant, an id); a dropped segment's history stays
-- readable by its id.  One segment's rows are found through the log's BRIN
-- index (a bloom filter of segment ids per range), not by scanning the log.
--
SET segments.now_override = '2025-06-15 12:00:00+00';
CREATE TABLE contacts (id bigint PRIMARY KEY, workspace integer NOT NULL, country text,
	owner text NOT NULL DEFAULT 'ann');
INSERT INTO contacts (id, workspace, country)
SELECT i, 1 + i % 2, CASE WHEN i % 3 = 0 THEN 'US' ELSE 'FR' END
FROM generate_series(1, 12) AS i;
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'workspace');

-- Two segments of the same name in two tenants, one without a tenant.
SELECT segments.create_segment('US', $$country = 'US'$$, tenant => 1) AS us1 \gset
SELECT segments.create_segment('US', $$country = 'US'$$, tenant => 2) AS us2 \gset
SELECT segments.create_segment('Everyone', 'true') AS everyone \gset
SELECT now() AS built \gset
UPDATE contacts SET country = 'US' WHERE id = 2;
UPDATE contacts SET country = 'FR' WHERE id = 6;
UPDATE contacts SET country = 'US' WHERE id = 5;
SELECT now() AS written \gset

-- A segment's joins and leaves in order, by name and tenant or by id.
SELECT contact, joined, cause FROM segments.history('US', tenant => 1);
SELECT contact, joined, cause FROM segments.history(:us1);
SELECT count(*) AS everyone_joins FROM segments.history('Everyone') WHERE joined;
-- in a window of time: from_ included, to_ not
SELECT contact, joined, cause FROM segments.history('US', :'built', tenant => 2);
SELECT contact, joined, cause FROM segments.history(:us2, '-infinity', :'built');
SELECT count(*) AS nothing_yet FROM segments.history(:us2, :'written');
-- the rows are the log's, ids increasing
SELECT bool_and(h.id = l.id AND h.contact = l.contact::text AND h.joined = l.joined AND h.at = l.at)
	AS same_as_the_log
FROM (SELECT *, row_number() OVER (ORDER BY id) AS n FROM segments.history(:us1)) h
JOIN (SELECT *, row_number() OVER (ORDER BY id) AS n FROM segments.membership_log
	WHERE segment_id = :us1) l USING (n);

-- A name in several tenants must be told apart.
\set VERBOSITY terse
SELECT * FROM segments.history('US');
SELECT * FROM segments.history('US', tenant => 3);
SELECT * FROM segments.history('Nope');
SELECT * FROM segments.history(NULL::bigint);
SELECT * FROM segments.history('US', NULL, tenant => 1);
\set VERBOSITY default

-- A dropped segment's history stays, its members' leaves last (cause
-- drop); by name it is gone.
SELECT segments.drop_segment(:us2);
SELECT contact, joined, cause FROM segments.history(:us2) WHERE cause = 'drop';
\set VERBOSITY terse
SELECT * FROM segments.history('US', tenant => 2);
SELECT * FROM segments.history(999999);
\set VERBOSITY default

-- The query history() runs reads the log through its BRIN index: the
-- ranges whose bloom filter has the segment, within the window.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF)
SELECT l.id FROM segments.membership_log l
WHERE l.segment_id = 1::bigint AND l.at >= '-infinity' AND l.at < 'infinity';
RESET enable_seqscan;

-- size_history: a segment's members at the end of each step and its joins
-- and leaves in it, from the log, and after a tick from its counts by
-- minute (the same), or only what a limited reader can see.
CREATE TEMP VIEW us_history WITH (security_invoker = true) AS
SELECT h.members, h.joins, h.leaves,
	h.members = (SELECT count(*) FROM segments.members m WHERE m.segment_id = :us1) AS members_now
FROM segments.size_history('US', date_trunc('minute', now()) - interval '1 day', date_trunc('minute', now()),
	'1 day', tenant => 1) h;
SELECT * FROM us_history;
SELECT segments.tick() >= 0 AS ticked;
SELECT rolled_to > 0 AS rolled_up FROM segments.log_state;
SELECT * FROM us_history;
-- by id, the same; a dropped segment's too: its members left
SELECT members, joins, leaves FROM segments.size_history(:us1,
	date_trunc('minute', now()) - interval '1 day', date_trunc('minute', now()), '1 day');
SELECT members, joins, leaves FROM segments.size_history(:us2,
	date_trunc('minute', now()) - interval '1 day', date_trunc('minute', now()), '1 day');

-- A reader limited by row-level security on the contacts counts and sees
-- the changes of its contacts only.
CREATE ROLE seg_history_reader IN ROLE segments_reader;
GRANT SELECT ON contacts TO seg_history_reader;
GRANT SELECT ON us_history TO seg_history_reader;
UPDATE contacts SET owner = 'bob' WHERE id > 6;
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON contacts USING (owner = 'ann');
SET ROLE seg_history_reader;
SELECT * FROM us_history;
SELECT count(*) AS rollup_rows_seen FROM segments.log_rollup;
SELECT contact, joined, cause FROM segments.history('US', tenant => 1);
RESET ROLE;
ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;
DROP POLICY own ON contacts;
DROP VIEW us_history;

-- What size_history() refuses.
\set VERBOSITY terse
SELECT * FROM segments.size_history('US', now(), now(), '30 seconds', tenant => 1);
SELECT * FROM segments.size_history(:us1, date_trunc('minute', now()), date_trunc('minute', now()) - interval '1 day');
SELECT * FROM segments.size_history('Nope', date_trunc('minute', now()), date_trunc('minute', now()));
SELECT * FROM segments.size_history('US', date_trunc('minute', now()), date_trunc('minute', now()), '0 minutes', 1);
SELECT * FROM segments.size_history(:us1, NULL, date_trunc('minute', now()));
\set VERBOSITY default

-- A role without the reader's grants reads nothing.
CREATE ROLE seg_history_stranger;
SET ROLE seg_history_stranger;
\set VERBOSITY terse
SELECT * FROM segments.history(:us1);
SELECT * FROM segments.size_history(:us1, date_trunc('minute', now()), date_trunc('minute', now()));
\set VERBOSITY default
RESET ROLE;

SELECT segments.drop_segment(:us1), segments.drop_segment(:everyone);
SELECT segments.detach_contacts();
DROP TABLE contacts;
DROP ROLE seg_history_reader, seg_history_stranger;
