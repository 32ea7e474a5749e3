--
-- semantics_time: relative times (docs/design.md, "Meaning").
--
-- now is segments.now(): now(), or the superuser-only setting
-- segments.now_override.  "N unit ago" is now - N unit, "N unit from now"
-- now + N unit, computed with PostgreSQL's interval arithmetic on the UTC
-- time (months clamp to the end of shorter months; no daylight saving
-- time), so results are the same in every session time zone.
--   within last N unit   now - N unit <= x <= now
--   within next N unit   now <= x <= now + N unit
-- timestamp (without time zone) values are UTC times; a date is its
-- midnight, UTC.
--
-- Each rule is evaluated by the compiled SQL, by the C evaluator and by a
-- hand-written condition with the expected times written out; agree is
-- true when the three sets of contacts are equal.
--

-- Times are shown in UTC, in ISO style.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

--
-- The clock.
--
RESET segments.now_override;
SELECT segments.now() = now() AS is_now, current_setting('segments.now_override') AS override;
BEGIN;
SELECT segments.now() = now() AS is_now, segments.now() = transaction_timestamp() AS is_transaction_start;
COMMIT;
SET segments.now_override = '2025-06-15 12:00:00+00';
SELECT segments.now(), current_setting('segments.now_override') AS override;
-- Without a zone the value is UTC, whatever the session's time zone; with
-- one, it is that time.
SET TimeZone = 'Asia/Tokyo';
SET segments.now_override = '2025-06-15 12:00:00';
SELECT segments.now() = '2025-06-15 12:00:00+00' AS is_utc_noon;
SET segments.now_override = '2025-06-15 14:00:00+02';
SELECT segments.now() = '2025-06-15 12:00:00+00' AS is_utc_noon;
SET TimeZone = 'UTC';
-- A bad value is refused and the setting keeps its value.
SELECT * FROM try($$SET segments.now_override = 'garbage'$$);
SELECT * FROM try($$SET segments.now_override = 'now'$$);
SELECT * FROM try($$SET segments.now_override = 'infinity'$$);
SELECT * FROM try($$SET segments.now_override = '2025-02-30 00:00:00'$$);
SELECT segments.now();
-- The empty string (the default) means now().
SET segments.now_override = '';
SELECT segments.now() = now() AS is_now;
-- Only superusers may set it.
CREATE ROLE regress_segments_time;
GRANT USAGE ON SCHEMA segments TO regress_segments_time;
SET segments.now_override = '2025-06-15 12:00:00+00';
SET ROLE regress_segments_time;
SELECT * FROM try($$SET segments.now_override = '2000-01-01 00:00:00+00'$$);
SELECT * FROM try($$RESET segments.now_override$$);
SELECT * FROM try($$SET segments.now_override = ''$$);
SELECT segments.now();
RESET ROLE;
REVOKE USAGE ON SCHEMA segments FROM regress_segments_time;
DROP ROLE regress_segments_time;

-- segments.ago and segments.from_now, which the compiled SQL calls.
SELECT segments.ago(0, 'minute') AS now, segments.ago(90, 'minutes') AS "90 minutes ago",
	segments.ago(1, 'Day') AS "1 day ago", segments.from_now(2, 'WEEKS') AS "2 weeks from now",
	segments.ago(1, 'month') AS "1 month ago", segments.from_now(1, 'year') AS "1 year from now";
SELECT * FROM try($$SELECT segments.ago(1, 'fortnight')$$);
SELECT * FROM try($$SELECT segments.ago(-1, 'day')$$);
SELECT * FROM try($$SELECT segments.from_now(2147483647, 'year')$$);

--
-- Contacts with times at and around every unit's distance from now
-- (2025-06-15 12:00:00 UTC), in the past and the future, as timestamptz,
-- timestamp (the same UTC time) and date (the UTC day); and a column of
-- times at the edges of the month-end, leap-year and daylight-saving
-- cases below.
--
CREATE TABLE contacts (
	id bigint PRIMARY KEY,
	account_id integer NOT NULL,
	seen_at timestamptz,
	seen_local timestamp,
	seen_day date,
	edge_at timestamptz
);
INSERT INTO contacts (id, account_id, seen_at, edge_at)
SELECT i, 1 + i % 3,
	timestamptz '2025-06-15 12:00:00+00' - (ARRAY[
		'0', '1 second', '59 seconds', '1 minute', '61 seconds', '59 minutes', '1 hour',
		'1 hour 1 second', '23 hours', '1 day', '1 day 1 second', '6 days', '7 days',
		'7 days 1 second', '14 days', '30 days', '31 days', '31 days 1 second', '3 months',
		'11 months', '365 days', '366 days', '1 year 1 second', '2 years', NULL,
		'-1 second', '-1 minute', '-61 seconds', '-1 hour', '-1 day', '-7 days', '-30 days',
		'-1 year', '-1 year -1 second', '-13 hours'
	])[1 + i % 35]::interval,
	(ARRAY[
		'2025-02-28 12:00:00+00', '2025-02-28 11:59:59+00', '2025-03-01 12:00:00+00',
		'2025-01-31 12:00:00+00', '2025-04-30 12:00:00+00', '2025-04-30 12:00:01+00',
		'2025-03-31 12:00:00+00', '2024-02-29 12:00:00+00', '2024-02-28 12:00:00+00',
		'2023-02-28 12:00:00+00', '2023-03-01 12:00:00+00', '2025-02-28 12:00:01+00',
		'2024-03-29 12:00:00+00', '2024-01-29 12:00:00+00', '2024-03-31 12:00:00+00',
		'2025-03-08 12:00:00+00', '2025-03-08 12:30:00+00', '2025-03-08 11:59:59+00',
		'2025-03-09 12:00:00+00', NULL
	])[1 + i % 20]::timestamptz
FROM generate_series(1, 300) AS i;
UPDATE contacts SET seen_local = seen_at AT TIME ZONE 'UTC', seen_day = (seen_at AT TIME ZONE 'UTC')::date;
-- 365 days before 2025-06-15 12:00 is 2024-06-15 12:00, exactly one
-- year (no February 29 in between).
SELECT seen_at, count(*) FROM contacts GROUP BY seen_at ORDER BY seen_at;

SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');

--
-- Every unit, on the three kinds of time columns, now 2025-06-15 12:00 UTC.
-- The hand-written conditions spell out the times.
--
SET segments.now_override = '2025-06-15 12:00:00+00';
CREATE TABLE time_rules (n serial, rule text, expected text);
INSERT INTO time_rules (rule, expected) VALUES
	('seen_at within last 1 minute', 'c.seen_at BETWEEN ''2025-06-15 11:59:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 1 hour', 'c.seen_at BETWEEN ''2025-06-15 11:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 1 day', 'c.seen_at BETWEEN ''2025-06-14 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 1 week', 'c.seen_at BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 1 month', 'c.seen_at BETWEEN ''2025-05-15 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 1 year', 'c.seen_at BETWEEN ''2024-06-15 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 90 minutes', 'c.seen_at BETWEEN ''2025-06-15 10:30:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 2 weeks', 'c.seen_at BETWEEN ''2025-06-01 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 3 months', 'c.seen_at BETWEEN ''2025-03-15 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 0 days', 'c.seen_at = ''2025-06-15 12:00:00+00'''),
	('seen_at within next 1 minute', 'c.seen_at BETWEEN ''2025-06-15 12:00:00+00'' AND ''2025-06-15 12:01:00+00'''),
	('seen_at within next 1 hour', 'c.seen_at BETWEEN ''2025-06-15 12:00:00+00'' AND ''2025-06-15 13:00:00+00'''),
	('seen_at within next 1 day', 'c.seen_at BETWEEN ''2025-06-15 12:00:00+00'' AND ''2025-06-16 12:00:00+00'''),
	('seen_at within next 1 week', 'c.seen_at BETWEEN ''2025-06-15 12:00:00+00'' AND ''2025-06-22 12:00:00+00'''),
	('seen_at within next 1 month', 'c.seen_at BETWEEN ''2025-06-15 12:00:00+00'' AND ''2025-07-15 12:00:00+00'''),
	('seen_at within next 1 year', 'c.seen_at BETWEEN ''2025-06-15 12:00:00+00'' AND ''2026-06-15 12:00:00+00'''),
	('seen_at > 1 day ago', 'c.seen_at > ''2025-06-14 12:00:00+00'''),
	('seen_at >= 1 week ago', 'c.seen_at >= ''2025-06-08 12:00:00+00'''),
	('seen_at < 1 month ago', 'c.seen_at < ''2025-05-15 12:00:00+00'''),
	('seen_at <= 1 year ago', 'c.seen_at <= ''2024-06-15 12:00:00+00'''),
	('seen_at = 1 hour ago', 'c.seen_at = ''2025-06-15 11:00:00+00'''),
	('seen_at = 1 minute from now', 'c.seen_at = ''2025-06-15 12:01:00+00'''),
	('seen_at != now', 'c.seen_at <> ''2025-06-15 12:00:00+00'''),
	('seen_at > now', 'c.seen_at > ''2025-06-15 12:00:00+00'''),
	('seen_at < 1 year from now', 'c.seen_at < ''2026-06-15 12:00:00+00'''),
	('seen_at between 1 week ago and 1 day ago', 'c.seen_at BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-14 12:00:00+00'''),
	('seen_at not between 1 week ago and 1 day from now', 'c.seen_at NOT BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-16 12:00:00+00'''),
	('seen_at in (now, 1 day ago, 1 hour from now)', 'c.seen_at IN (''2025-06-15 12:00:00+00'', ''2025-06-14 12:00:00+00'', ''2025-06-15 13:00:00+00'')'),
	('seen_at not in (now, 1 day ago)', 'c.seen_at NOT IN (''2025-06-15 12:00:00+00'', ''2025-06-14 12:00:00+00'')'),
	('seen_at > ''2025-06-15''', 'c.seen_at > ''2025-06-15 00:00:00+00'''),
	('seen_at in (''2025-06-15 11:00'', ''2025-06-15 13:00:00+01'')', 'c.seen_at IN (''2025-06-15 11:00:00+00'', ''2025-06-15 12:00:00+00'')'),
	('seen_at in (''2025-06-15 11:00'', 1 minute ago)', 'c.seen_at IN (''2025-06-15 11:00:00+00'', ''2025-06-15 11:59:00+00'')'),
	('seen_at between ''2025-06-14 12:00'' and now', 'c.seen_at BETWEEN ''2025-06-14 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at is null', 'c.seen_at IS NULL'),
	('not seen_at within last 1 week', 'c.seen_at IS NULL OR c.seen_at NOT BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('seen_at within last 1 day or seen_at within next 1 day', 'c.seen_at BETWEEN ''2025-06-14 12:00:00+00'' AND ''2025-06-16 12:00:00+00'''),
	('seen_local within last 1 hour', 'c.seen_local BETWEEN ''2025-06-15 11:00:00'' AND ''2025-06-15 12:00:00'''),
	('seen_local within last 1 month', 'c.seen_local BETWEEN ''2025-05-15 12:00:00'' AND ''2025-06-15 12:00:00'''),
	('seen_local within next 1 day', 'c.seen_local BETWEEN ''2025-06-15 12:00:00'' AND ''2025-06-16 12:00:00'''),
	('seen_local > 1 year ago', 'c.seen_local > ''2024-06-15 12:00:00'''),
	('seen_local = 1 day ago', 'c.seen_local = ''2025-06-14 12:00:00'''),
	('seen_local between 1 week ago and now', 'c.seen_local BETWEEN ''2025-06-08 12:00:00'' AND ''2025-06-15 12:00:00'''),
	('seen_local in (now, 1 minute ago)', 'c.seen_local IN (''2025-06-15 12:00:00'', ''2025-06-15 11:59:00'')'),
	('seen_local in (now, ''2025-06-15 11:00'')', 'c.seen_local IN (''2025-06-15 12:00:00'', ''2025-06-15 11:00:00'')'),
	('seen_local >= ''2025-06-15 11:00''', 'c.seen_local >= ''2025-06-15 11:00:00'''),
	('seen_day within last 1 day', 'c.seen_day = ''2025-06-15'''),
	('seen_day within last 1 week', 'c.seen_day BETWEEN ''2025-06-09'' AND ''2025-06-15'''),
	('seen_day within next 1 week', 'c.seen_day BETWEEN ''2025-06-16'' AND ''2025-06-22'''),
	('seen_day >= 1 day ago', 'c.seen_day >= ''2025-06-15'''),
	('seen_day < 1 month ago', 'c.seen_day <= ''2025-05-15'''),
	('seen_day = 1 day ago', 'false'),
	('seen_day > now', 'c.seen_day > ''2025-06-15'''),
	('seen_day = ''2025-06-14''', 'c.seen_day = ''2025-06-14'''),
	('seen_day in (''2025-06-14'', ''2025-06-15'')', 'c.seen_day IN (''2025-06-14'', ''2025-06-15'')'),
	('seen_day in (''2025-06-14'', now, 1 day from now)', 'c.seen_day = ''2025-06-14'''),
	('seen_day between 1 year ago and 1 month ago', 'c.seen_day BETWEEN ''2024-06-16'' AND ''2025-05-15''');

SELECT k.* FROM time_rules r, LATERAL check_rule(r.rule, r.expected) k ORDER BY r.n;

-- The same answers in other session time zones.
CREATE TABLE time_results AS
SELECT 'UTC'::text AS zone, r.n, k.* FROM time_rules r, LATERAL check_rule(r.rule, r.expected) k;
SET TimeZone = 'America/New_York';
INSERT INTO time_results SELECT 'America/New_York', r.n, k.* FROM time_rules r, LATERAL check_rule(r.rule, r.expected) k;
SET TimeZone = 'Asia/Tokyo';
INSERT INTO time_results SELECT 'Asia/Tokyo', r.n, k.* FROM time_rules r, LATERAL check_rule(r.rule, r.expected) k;
SET TimeZone = 'UTC';
SELECT t.zone, count(*) AS rules, count(*) FILTER (WHERE t.agree) AS agree,
	count(*) FILTER (WHERE (t.compiled, t.evaluated, t.hand) IS DISTINCT FROM (u.compiled, u.evaluated, u.hand)) AS differ_from_utc
FROM time_results t JOIN time_results u ON u.zone = 'UTC' AND u.n = t.n
GROUP BY t.zone ORDER BY t.zone;

-- Builds and previews compile relative times as constants of the moment;
-- to_sql writes them as calls of segments.now() and friends, so its SQL
-- can be kept and run later.  Both select the same contacts, in every
-- session time zone.
CREATE FUNCTION portable_count(rule text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
	EXECUTE 'SELECT count(*) FROM (' || segments.to_sql(rule::segments.rule) || ') q' INTO n;
	RETURN n;
END $$;
SELECT zone, count(*) AS rules,
	count(*) FILTER (WHERE portable_count(r.rule) = segments.preview_count(r.rule::segments.rule)) AS same
FROM time_rules r, (VALUES ('UTC'), ('America/New_York'), ('Asia/Tokyo')) AS z(zone),
	LATERAL set_config('TimeZone', z.zone, true) AS s
GROUP BY zone ORDER BY zone;
SET TimeZone = 'UTC';
SELECT segments.to_sql('seen_at within last 1 day and seen_local < 2 hours ago');

--
-- Month ends: now 2025-03-31 12:00 UTC.  1 month ago is 2025-02-28 12:00
-- (the month is shorter), 1 month from now 2025-04-30 12:00, 2 months ago
-- 2025-01-31 12:00.
--
SET segments.now_override = '2025-03-31 12:00:00+00';
SELECT segments.ago(1, 'month') AS "1 month ago", segments.from_now(1, 'month') AS "1 month from now",
	segments.ago(2, 'months') AS "2 months ago", segments.ago(1, 'year') AS "1 year ago";
SELECT k.* FROM (VALUES
	('edge_at within last 1 month', 'c.edge_at BETWEEN ''2025-02-28 12:00:00+00'' AND ''2025-03-31 12:00:00+00'''),
	('edge_at >= 1 month ago', 'c.edge_at >= ''2025-02-28 12:00:00+00'''),
	('edge_at = 1 month ago', 'c.edge_at = ''2025-02-28 12:00:00+00'''),
	('edge_at within next 1 month', 'c.edge_at BETWEEN ''2025-03-31 12:00:00+00'' AND ''2025-04-30 12:00:00+00'''),
	('edge_at = 2 months ago', 'c.edge_at = ''2025-01-31 12:00:00+00'''),
	('edge_at = 4 weeks ago', 'c.edge_at = ''2025-03-03 12:00:00+00'''),
	('edge_at between 30 days ago and now', 'c.edge_at BETWEEN ''2025-03-01 12:00:00+00'' AND ''2025-03-31 12:00:00+00''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- Leap day: now 2024-02-29 12:00 UTC.  1 year ago is 2023-02-28, 1 year
-- from now 2025-02-28, 1 month from now 2024-03-29, 1 month ago 2024-01-29.
SET segments.now_override = '2024-02-29 12:00:00+00';
SELECT k.* FROM (VALUES
	('edge_at = 1 year ago', 'c.edge_at = ''2023-02-28 12:00:00+00'''),
	('edge_at within last 1 year', 'c.edge_at BETWEEN ''2023-02-28 12:00:00+00'' AND ''2024-02-29 12:00:00+00'''),
	('edge_at = 1 year from now', 'c.edge_at = ''2025-02-28 12:00:00+00'''),
	('edge_at within next 1 year', 'c.edge_at BETWEEN ''2024-02-29 12:00:00+00'' AND ''2025-02-28 12:00:00+00'''),
	('edge_at = 1 month from now', 'c.edge_at = ''2024-03-29 12:00:00+00'''),
	('edge_at = 1 month ago', 'c.edge_at = ''2024-01-29 12:00:00+00'''),
	('edge_at = 1 day ago', 'c.edge_at = ''2024-02-28 12:00:00+00'''),
	('edge_at = 365 days from now', 'c.edge_at = ''2025-02-28 12:00:00+00''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- Now 2024-03-31 12:00 UTC: 1 month ago is the leap day.
SET segments.now_override = '2024-03-31 12:00:00+00';
SELECT k.* FROM (VALUES
	('edge_at = 1 month ago', 'c.edge_at = ''2024-02-29 12:00:00+00'''),
	('edge_at within last 1 month', 'c.edge_at BETWEEN ''2024-02-29 12:00:00+00'' AND ''2024-03-31 12:00:00+00''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- Daylight saving time: now 2025-03-09 12:00 UTC, a few hours after New
-- York's clocks went forward.  1 day ago is 2025-03-08 12:00 UTC (24
-- hours), also in a New York session (where local arithmetic would give
-- 23 hours).
SET segments.now_override = '2025-03-09 12:00:00+00';
SET TimeZone = 'America/New_York';
SELECT segments.ago(1, 'day') AS "1 day ago", now_local - interval '1 day' AS "local arithmetic"
FROM (SELECT segments.now() AS now_local) s;
SELECT k.* FROM (VALUES
	('edge_at within last 1 day', 'c.edge_at BETWEEN ''2025-03-08 12:00:00+00'' AND ''2025-03-09 12:00:00+00'''),
	('edge_at = 1 day ago', 'c.edge_at = ''2025-03-08 12:00:00+00'''),
	('edge_at > 1 day ago', 'c.edge_at > ''2025-03-08 12:00:00+00''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SET TimeZone = 'UTC';

--
-- The compiled SQL: relative times call segments.now(), segments.ago()
-- and segments.from_now(), so a stored query follows the clock; timestamp
-- and date columns compare with the UTC time.
--
SELECT segments._compile('seen_at within last 7 days and seen_local > 1 month ago', NULL);
SELECT segments._compile('seen_day within next 2 weeks or seen_at = ''2025-06-15 14:00+02''', NULL);

--
-- explain shows the value of a time column.
--
SET segments.now_override = '2025-06-15 12:00:00+00';
SELECT * FROM segments.explain(7::bigint,
	'seen_at within last 1 hour and seen_local within last 1 hour and seen_day = 1 hour ago');

--
-- A string compared with a time column is read by the type's input
-- function, but PostgreSQL's words that read the clock ('today', 'now',
-- 'tomorrow', 'yesterday') are refused: they would be frozen when the rule
-- is checked.  The rule language has now and "N unit ago" for that.  Fixed
-- special values ('epoch', 'infinity') are fine.
--
SELECT * FROM try($$SELECT segments._compile('seen_at > ''today''', NULL)$$);
SELECT segments._compile('seen_at > ''epoch'' and seen_local < ''infinity''', NULL);

--
-- segments.now_override reads ISO 8601 times with a "T" or a zone name.
--
SELECT '2025-06-15T12:00:00Z'::timestamptz = '2025-06-15 12:00:00+00' AS valid_timestamptz;
SELECT * FROM try($$SET segments.now_override = '2025-06-15T12:00:00Z'$$);
SELECT * FROM try($$SET segments.now_override = '2025-06-15 12:00:00 UTC'$$);
-- It is kept in a form without letters: a parallel worker sets it again
-- before it can read zone names, and must see the same time.
SET segments.now_override = '2025-06-15T12:00:00.5Z';
SHOW segments.now_override;
SET force_parallel_mode = on;
SELECT segments.now() AS in_a_worker FROM time_rules LIMIT 1;
RESET force_parallel_mode;
SET segments.now_override = '2025-06-15 12:00:00+00';

SELECT segments.detach_contacts();
DROP TABLE contacts, time_rules, time_results;
DROP FUNCTION portable_count(text);
RESET segments.now_override;
RESET TimeZone;
RESET DateStyle;
