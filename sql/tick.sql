--
-- tick: segments.tick() applies the membership changes due because time
-- moved (docs/design.md, "Time"): contacts join and leave at the edges of every
-- relative condition, inclusive as the rule language says (within last N
-- unit: now - N unit <= x <= now), logged with cause time.  A tick looks
-- only at the contacts with a value at an edge crossed since the last one;
-- after every tick each segment must verify as (0, 0).
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET IntervalStyle = 'postgres';

-- Nothing attached yet: nothing is due.
SELECT segments.tick();

CREATE TABLE contacts (id bigint PRIMARY KEY, created_at timestamptz, renews_on date,
	trial_ends timestamp, props jsonb);
CREATE TABLE events (contact_id bigint NOT NULL, kind text NOT NULL, at timestamptz NOT NULL,
	due timestamptz);
CREATE TABLE list_members (contact_id bigint NOT NULL, list_id int NOT NULL);
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at');
SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list_id');

-- Moves the clock to t, ticks, and shows what the tick returned and the
-- joins and leaves it logged, with whether every segment verifies.
CREATE FUNCTION tick_at(t text)
RETURNS TABLE (changes bigint, segment text, joined boolean, contacts bigint[], verified boolean)
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
	ok boolean;
BEGIN
	PERFORM set_config('segments.now_override', t, false);
	n := segments.tick();
	ok := all_verified();
	RETURN QUERY
	WITH news AS (SELECT l.segment, l.joined, l.contacts FROM new_log() l WHERE l.cause = 'time')
	SELECT n, x.segment, x.joined, x.contacts, ok FROM news x
	UNION ALL SELECT n, NULL, NULL, NULL, ok WHERE NOT EXISTS (SELECT FROM news)
	ORDER BY 2, 3;
END
$$;
CREATE VIEW members AS
SELECT s.name, array_agg(m.contact ORDER BY m.contact) FILTER (WHERE m.contact IS NOT NULL) AS contacts
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name ORDER BY s.id;

--
-- Month and year arithmetic: a month before March 1st is February 1st, a
-- month before February 28th is January 28th; a year before 2025-03-01 is
-- 2024-03-01.
--
SET segments.now_override = '2025-02-20 00:00:00+00';
INSERT INTO contacts (id, created_at) VALUES
	(1, '2025-01-31 12:00:00+00'),
	(2, '2024-02-29 12:00:00+00');
SELECT segments.create_segment('Month', 'created_at >= 1 month ago') IS NOT NULL AS month,
	segments.create_segment('Year', 'created_at < 1 year ago') IS NOT NULL AS year;
SELECT * FROM members;
SELECT * FROM tick_at('2025-02-28 23:59:59+00');
-- 1 leaves Month and 2 joins Year at midnight, not a moment before.
SELECT * FROM tick_at('2025-03-01 00:00:00+00');
-- Idempotent: nothing more is due at the same time.
SELECT * FROM tick_at('2025-03-01 00:00:00+00');
-- Back in time, they come back.
SELECT * FROM tick_at('2025-02-28 12:00:00+00');
SELECT segments.drop_segment('Month'), segments.drop_segment('Year');
DELETE FROM contacts;

--
-- Every kind of relative condition, from 2025-06-15 12:00 UTC.
--
SET segments.now_override = '2025-06-15 12:00:00+00';
INSERT INTO contacts (id, created_at, renews_on, trial_ends, props) VALUES
	-- created 29 days ago
	(1, '2025-05-17 12:00:00+00', NULL, NULL, NULL),
	-- created 89 days ago
	(2, '2025-03-18 12:00:00+00', NULL, NULL, NULL),
	-- renews on the 24th (a date: its midnight, UTC), renewal (a JSON
	-- time) on the 20th at noon
	(3, NULL, '2025-06-24', NULL, '{"renewal": "2025-06-20T12:00:00Z"}'),
	-- trial ends on the 19th at noon (a timestamp: a UTC time)
	(4, NULL, NULL, '2025-06-19 12:00:00', '{"renewal": "not a time"}'),
	(5, NULL, NULL, NULL, NULL),
	(6, NULL, NULL, NULL, NULL);
INSERT INTO events VALUES
	(4, 'opened', '2025-06-11 12:00:00+00', NULL),
	(5, 'opened', '2025-06-09 12:00:00+00', NULL),
	(5, 'opened', '2025-06-13 12:00:00+00', NULL),
	(6, 'purchase', '2025-05-17 12:00:00+00', NULL),
	(6, 'invoice', '2025-06-10 00:00:00+00', '2025-06-18 12:00:00+00'),
	(6, 'webinar', '2025-06-16 12:00:00+00', NULL);
INSERT INTO list_members VALUES (5, 1);
SELECT segments.create_segment('New', 'created_at within last 30 days') IS NOT NULL AS s1,
	segments.create_segment('Old', 'created_at < 90 days ago') IS NOT NULL AS s2,
	segments.create_segment('Renewing', 'renews_on within next 7 days') IS NOT NULL AS s3,
	segments.create_segment('Trial ending', 'trial_ends within next 3 days') IS NOT NULL AS s4,
	segments.create_segment('Renewal soon', 'props.renewal < 3 days from now') IS NOT NULL AS s5,
	segments.create_segment('Engaged', 'event ''opened'' count >= 2 within last 7 days') IS NOT NULL AS s6,
	segments.create_segment('Buyers', 'event ''purchase'' since 30 days ago') IS NOT NULL AS s7,
	segments.create_segment('Lapsed', 'event ''purchase'' before 30 days ago') IS NOT NULL AS s8,
	segments.create_segment('Window', 'event ''opened'' between 10 days ago and 5 days ago') IS NOT NULL AS s9,
	segments.create_segment('Due', 'event ''invoice'' where (due within next 2 days)') IS NOT NULL AS s10,
	segments.create_segment('Attended', 'event ''webinar'' within last 1 day') IS NOT NULL AS s11,
	segments.create_segment('Engaged listed', 'in segment ''Engaged'' and in list 1') IS NOT NULL AS s12,
	segments.create_segment('Static', 'id = 5') IS NOT NULL AS s13;
SELECT * FROM members;
-- Nothing is due at the time the segments were built, nor a second
-- before the first edges.
SELECT * FROM tick_at('2025-06-15 12:00:00+00');
SELECT * FROM tick_at('2025-06-16 11:59:59+00');
-- The 16th at noon: the trial ends within 3 days, 4's open (the 11th) is
-- 5 days old, the invoice due within 2 days, the webinar now.
SELECT * FROM tick_at('2025-06-16 12:00:00+00');
-- A second later: 1 was created more than 30 days ago, 2 more than 90; 5's
-- open of the 9th is more than 7 days old (one left: Engaged, and so
-- Engaged listed, lose 5); 6's purchase is more than 30 days old.
SELECT * FROM tick_at('2025-06-16 12:00:01+00');
-- Midnight: the 24th is within 7 days.
SELECT * FROM tick_at('2025-06-17 00:00:00+00');
-- The renewal is less than 3 days away a second after noon; the webinar
-- more than a day old.
SELECT * FROM tick_at('2025-06-17 12:00:00+00');
SELECT * FROM tick_at('2025-06-17 12:00:01+00');
-- Past the invoice's due date (18th, noon) and the trial's end (19th,
-- noon).
SELECT * FROM tick_at('2025-06-20 00:00:00+00');
SELECT * FROM members;

-- Writes in between are maintained as usual; a tick then finds nothing.
INSERT INTO events VALUES (5, 'opened', '2025-06-19 12:00:00+00', NULL),
	(5, 'opened', '2025-06-19 13:00:00+00', NULL);
SELECT name, contacts FROM members WHERE name IN ('Engaged', 'Engaged listed');
SELECT * FROM tick_at('2025-06-20 00:00:00+00');
-- The 26th, 13:00: 5 has one open in 7 days again; the 24th passed; 4's
-- open left the window (the 21st, noon), where 5's of the 19th are now.
SELECT * FROM tick_at('2025-06-26 13:00:00+00');

-- A segment with no sweep on record (its membership restored from
-- elsewhere, say) is evaluated for every contact, then swept like the
-- others.
INSERT INTO events VALUES (5, 'purchase', '2025-06-20 00:00:00+00', NULL);
DELETE FROM segments.segment_state
WHERE segment_id = (SELECT id FROM segments.segment WHERE name = 'Buyers');
DELETE FROM segments.membership
WHERE segment_id = (SELECT id FROM segments.segment WHERE name = 'Buyers');
SELECT * FROM tick_at('2025-06-27 00:00:00+00');
SELECT s.name, st.swept_to FROM segments.segment s
LEFT JOIN segments.segment_state st ON st.segment_id = s.id ORDER BY s.id;
SELECT swept_to, changes FROM segments.tick_state;

-- segments.stats: per segment its members, its last join or leave (the
-- start of the transaction that made it), the last tick, the time up to
-- which time's changes were applied and, for a segment time changes, how
-- far behind segments.now() that is.  Each tick folds the log into it;
-- what was logged since is read from the log.
CREATE VIEW stats_checked AS
SELECT s.name, s.members,
	s.members = (SELECT count(*) FROM segments.membership m WHERE m.segment_id = s.segment_id) AS members_right,
	s.last_change IS NOT DISTINCT FROM
		(SELECT max(l.at) FROM segments.membership_log l WHERE l.segment_id = s.segment_id) AS last_change_right,
	s.last_tick = (SELECT ticked_at FROM segments.tick_state) AS last_tick_right,
	s.swept_to, s.behind
FROM segments.stats s;
SELECT * FROM stats_checked;
SET segments.now_override = '2025-06-27 06:00:00+00';
INSERT INTO events VALUES (6, 'webinar', '2025-06-27 05:00:00+00', NULL);
SELECT * FROM stats_checked WHERE name IN ('Attended', 'Old');
SELECT * FROM tick_at('2025-06-27 06:00:00+00');
SELECT * FROM stats_checked WHERE name IN ('Attended', 'Old');
DROP VIEW stats_checked;

-- A segment the clock cannot change is never swept.
SELECT count(*) AS static_log FROM segments.membership_log l
JOIN segments.segment s ON s.id = l.segment_id WHERE s.name = 'Static' AND l.cause = 'time';

-- Only under READ COMMITTED.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT segments.tick();
ROLLBACK;

-- An UPDATE of a time column between ticks evaluates the segments that
-- use it even when the old and new values are on the same side of an edge
-- at the time of the write: the membership stored may be the one from
-- before an edge that the next tick would no longer find (it sweeps the
-- new value).  20 is created 29 days ago; two days later, before a tick,
-- its creation moves a day earlier: it leaves New by the write.
SELECT * FROM tick_at('2025-06-26 13:00:00+00');
INSERT INTO contacts (id, created_at) VALUES (20, '2025-05-28 12:00:00+00');
SELECT segment, cause, joined, contacts FROM new_log();
SET segments.now_override = '2025-06-28 13:00:00+00';
UPDATE contacts SET created_at = '2025-05-27 12:00:00+00' WHERE id = 20;
SELECT segment, cause, joined, contacts FROM new_log();
SELECT * FROM tick_at('2025-06-28 13:00:00+00');
DELETE FROM contacts WHERE id = 20;
SELECT segment, cause, joined, contacts FROM new_log();

-- Cleanup.
DROP VIEW members;
DROP FUNCTION tick_at(text);
-- (the segments no other segment uses, chosen before any is dropped)
WITH unused AS MATERIALIZED (
	SELECT s.id FROM segments.segment s
	WHERE NOT EXISTS (SELECT FROM segments.segment_reference r WHERE r.kind = 'segment' AND r.name = s.name))
SELECT count(*) AS dropped FROM unused u, LATERAL segments.drop_segment(u.id);
SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id);
SELECT segments.detach_lists(), segments.detach_events(), segments.detach_contacts();
RESET segments.now_override;
