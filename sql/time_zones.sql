--
-- time_zones: timestamp and date columns read in the zone of their table.
-- A timestamp (without time zone) holds a time as a clock shows it; each
-- attached table names the zone of that clock (time_zone, UTC unless
-- given), and a relative time (now, ago, from now, a window) compared
-- with such a column is the time that clock shows then.  A timestamptz
-- column needs no zone.  The session's TimeZone changes nothing.
--
-- The clock: 2025-11-02 06:30 UTC, half an hour after New York set its
-- clocks back from 02:00 EDT to 01:00 EST: a New York clock shows 01:30
-- for the second time, and one hour ago it showed 01:30 too.
SET segments.now_override = '2025-11-02 06:30:00+00';

CREATE TABLE contacts (
	id bigint PRIMARY KEY,
	account_id integer NOT NULL DEFAULT 1,
	signed_up timestamp,
	trial_ends timestamp,
	birthday date,
	seen timestamptz
);
-- contact i signed up i * 20 minutes before 2025-11-02 02:00 (New York clock)
INSERT INTO contacts (id, signed_up, trial_ends, birthday, seen)
SELECT i, timestamp '2025-11-02 02:00' - i * interval '20 minutes',
	timestamp '2025-11-02 02:00' + i * interval '7 hours',
	date '2025-11-02' - (i % 5),
	timestamptz '2025-11-02 06:30+00' - i * interval '1 hour'
FROM generate_series(1, 40) AS i;
INSERT INTO contacts (id) VALUES (41);
INSERT INTO contacts (id, signed_up) VALUES (43, '2025-11-02 01:30');

CREATE TABLE events (
	contact_id bigint NOT NULL,
	kind text NOT NULL,
	at timestamp,
	sent date
);
-- a Tokyo clock: 2025-11-02 06:30 UTC is 15:30 there
INSERT INTO events
SELECT 1 + i % 40, (ARRAY['opened', 'clicked'])[1 + i % 2],
	timestamp '2025-11-02 15:30' - i * interval '50 minutes', date '2025-11-02' - i % 9
FROM generate_series(1, 300) AS i;
INSERT INTO events VALUES (40, 'opened', NULL, NULL);

-- Zones: a name of pg_timezone_names, spelt as it is there; not an
-- abbreviation (read by the session's timezone_abbreviations), except UTC
-- and GMT.
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id', time_zone => 'Mars/Olympus_Mons')$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id', time_zone => 'EST')$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id', time_zone => NULL)$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id', time_zone => '+05')$$);
SELECT * FROM try($$SELECT segments.attach_contacts('contacts', key => 'id', time_zone => 'localtime')$$);
SELECT segments.attach_contacts('contacts', key => 'id', time_zone => 'america/new_york');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'at', time_zone => 'Asia/Tokyo');
SELECT role, time_zone FROM segments.attached ORDER BY role;

-- The clocks now: New York 01:30 (EST), Tokyo 15:30.  Compiled SQL, the
-- C evaluator and the hand-written condition agree, whatever the
-- session's TimeZone.
CREATE FUNCTION zone_cases() RETURNS TABLE (rule text, expected text) LANGUAGE sql AS $cases$
VALUES
	-- one hour ago a New York clock also showed 01:30 (EDT): the window is
	-- the clock's times from 01:30 to 01:30
	('signed_up within last 1 hours', $$c.signed_up = '2025-11-02 01:30'$$),
	-- three hours ago it showed 23:30 (EDT) the day before
	('signed_up within last 3 hours', $$c.signed_up BETWEEN '2025-11-01 23:30' AND '2025-11-02 01:30'$$),
	-- a day ago it showed 02:30 (EDT)
	('signed_up < 1 days ago', $$c.signed_up < '2025-11-01 02:30'$$),
	('signed_up > now', $$c.signed_up > '2025-11-02 01:30'$$),
	('signed_up between 1 days ago and now', $$c.signed_up BETWEEN '2025-11-01 02:30' AND '2025-11-02 01:30'$$),
	('signed_up in (now)', $$c.signed_up = '2025-11-02 01:30'$$),
	('signed_up >= ''2025-11-01 12:00''', $$c.signed_up >= '2025-11-01 12:00'$$),
	('trial_ends within next 2 days', $$c.trial_ends BETWEEN '2025-11-02 01:30' AND '2025-11-04 01:30'$$),
	-- a date is its midnight
	('birthday within last 2 days', $$c.birthday BETWEEN timestamp '2025-10-31 02:30' AND timestamp '2025-11-02 01:30'$$),
	('birthday < now', $$c.birthday < timestamp '2025-11-02 01:30'$$),
	('seen within last 5 hours', $$c.seen BETWEEN '2025-11-02 01:30+00' AND '2025-11-02 06:30+00'$$),
	('event ''opened'' within last 1 days', $$n(c.id, 'opened', $f$e.at BETWEEN '2025-11-01 15:30' AND '2025-11-02 15:30'$f$) >= 1$$),
	('event ''opened'' count >= 2 since 2 days ago', $$n(c.id, 'opened', $f$e.at >= '2025-10-31 15:30'$f$) >= 2$$),
	('event ''clicked'' before 1 days ago', $$n(c.id, 'clicked', $f$e.at < '2025-11-01 15:30'$f$) >= 1$$),
	('event ''opened'' between 3 days ago and 2 days ago', $$n(c.id, 'opened', $f$e.at BETWEEN '2025-10-30 15:30' AND '2025-10-31 15:30'$f$) >= 1$$),
	('event ''opened'' last before 12 hours ago',
		$$(SELECT max(e.at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened') < '2025-11-02 03:30'$$),
	('event ''clicked'' first within last 11 days',
		$$(SELECT min(e.at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'clicked') BETWEEN '2025-10-22 15:30' AND '2025-11-02 15:30'$$),
	('event ''opened'' max(sent) >= 1 days ago',
		$$(SELECT max(e.sent) FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened') >= timestamp '2025-11-01 15:30'$$),
	('event ''clicked'' where (sent < 3 days ago) count >= 2',
		$$n(c.id, 'clicked', $f$e.sent < timestamp '2025-10-30 15:30'$f$) >= 2$$),
	('event ''opened'' count >= 0 ever', 'true')
$cases$;
SELECT k.* FROM zone_cases() t, LATERAL check_rule(t.rule, t.expected) k;
-- A string naming its zone would have it dropped by the timestamp input:
-- refused, unless the instant it names is the time the column's clock
-- shows then (15:00 in Tokyo is 06:00 UTC).
SELECT * FROM try($$SELECT segments.preview_count('signed_up > ''2025-11-01 12:00+00''')$$);
SELECT * FROM try($$SELECT segments.preview_count('event ''opened'' since ''2025-11-01 00:00 Europe/Paris''')$$);
SELECT * FROM try($$SELECT segments.preview_count('birthday < ''2025-11-01 00:00Z''')$$);
SELECT k.rule_text, k.agree FROM check_rule('event ''opened'' since ''2025-11-02 15:00+09''',
	$$n(c.id, 'opened', $f$e.at >= '2025-11-02 15:00'$f$) >= 1$$) k;
SELECT k.rule_text, k.agree FROM check_rule('event ''opened'' since ''2025-11-02 15:00''',
	$$n(c.id, 'opened', $f$e.at >= '2025-11-02 15:00'$f$) >= 1$$) k;
SELECT * FROM try($$SELECT segments.preview_count('seen > ''2025-11-02 01:00+05''')$$);
SELECT * FROM try($$SELECT segments.set_time_zone(NULL, 'UTC')$$);
SET TimeZone = 'Pacific/Auckland';
SELECT count(*) AS cases, bool_and(k.agree) AS all_agree FROM zone_cases() t, LATERAL check_rule(t.rule, t.expected) k;
RESET TimeZone;

-- to_sql: the zone in the SQL, for a session of any TimeZone.
SELECT segments.to_sql('signed_up within last 3 hours and event ''opened'' since 2 days ago');

-- Segments are built and kept: writes, the clock moving on, a tick.
SELECT segments.create_segment('recent signups', 'signed_up within last 3 hours') IS NOT NULL AS created;
SELECT segments.create_segment('openers today', 'event ''opened'' within last 1 days') IS NOT NULL AS created;
SELECT segments.create_segment('trial ending', 'trial_ends within next 2 days') IS NOT NULL AS created;
SELECT s.name, count(m.contact) AS members
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name ORDER BY s.id;
INSERT INTO contacts (id, signed_up) VALUES (42, '2025-11-02 01:29');
INSERT INTO events VALUES (41, 'opened', '2025-11-02 15:00', NULL);
SELECT s.name, m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact IN (41, 42) ORDER BY s.name, m.contact;
SET segments.now_override = '2025-11-02 09:00:00+00';
SELECT segments.tick() >= 0 AS ticked;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;

-- A zone changed: the segments that read the table are rebuilt (cause
-- refresh); the others are left alone.
SELECT * FROM try($$SELECT segments.set_time_zone('contacts', 'Nowhere/Land')$$);
CREATE TABLE unattached (x int);
SELECT * FROM try($$SELECT segments.set_time_zone('unattached', 'UTC')$$);
SELECT max(id) AS log_before FROM segments.membership_log \gset
SELECT segments.set_time_zone('contacts', 'Europe/Berlin');
SELECT role, time_zone FROM segments.attached ORDER BY role;
SELECT s.name, l.cause, count(*) FILTER (WHERE l.joined) AS joined, count(*) FILTER (WHERE NOT l.joined) AS left_
FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.id > :log_before GROUP BY s.id, s.name, l.cause ORDER BY s.id;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;
-- the same zone again: nothing to do
SELECT max(id) AS log_before FROM segments.membership_log \gset
SELECT segments.set_time_zone('contacts', 'Europe/Berlin');
SELECT count(*) AS logged FROM segments.membership_log WHERE id > :log_before;
-- Berlin's clock shows 10:00 at 09:00 UTC
SELECT k.rule_text, k.agree FROM check_rule('signed_up within last 12 hours',
	$$c.signed_up BETWEEN '2025-11-01 22:00' AND '2025-11-02 10:00'$$) k;

-- Nor does the session's TimeZone, even an offset of days: a write reads
-- the contact's events, a tick sweeps, as in any other session.
SET TimeZone = '<X>-150';
INSERT INTO events VALUES (39, 'opened', '2025-11-02 17:50', NULL);
SELECT segments.matches(39::bigint, 'event ''opened'' within last 1 days') AS matches,
	EXISTS (SELECT FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
		WHERE s.name = 'openers today' AND m.contact = 39) AS member;
SET segments.now_override = '2025-11-03 12:00:00+00';
SET TimeZone = '<X>+150';
SELECT segments.tick() > 0 AS ticked;
RESET TimeZone;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;

-- Only the extension's owner sets zones.
CREATE ROLE tz_editor;
GRANT segments_editor TO tz_editor;
SET ROLE tz_editor;
SELECT * FROM try($$SELECT segments.set_time_zone('contacts', 'UTC')$$);
RESET ROLE;
DROP ROLE tz_editor;

SELECT segments.drop_segment(name) FROM segments.segment ORDER BY id;
SELECT segments.detach_events();
SELECT segments.detach_contacts();
DROP FUNCTION zone_cases();
DROP TABLE contacts, events, unattached;
RESET segments.now_override;
