--
-- semantics_kinds: event kinds and times of the types schemas use.  Kinds:
-- text, varchar, an enum, a domain over text or over an enum.  A rule
-- names a kind as a string: an enum's label, compared as the type's =
-- compares it; a label the enum lacks names no event, and no error, until
-- the type gains it.  Times: timestamptz, or timestamp or date read in UTC.
--
SET segments.now_override = '2025-06-15 12:00:00+00';

CREATE TYPE event_kind AS ENUM ('delivered', 'opened', 'clicked');
CREATE DOMAIN event_kind_d AS event_kind;
CREATE DOMAIN kind_text AS text CHECK (VALUE <> '');

CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL);
INSERT INTO contacts SELECT i, 1 + i % 2 FROM generate_series(1, 60) AS i;
CREATE TABLE events (
	contact_id bigint NOT NULL,
	kind event_kind NOT NULL,
	occurred_at timestamptz NOT NULL,
	campaign text
);
INSERT INTO events
SELECT 1 + (i * 13) % 50, (ARRAY['delivered', 'opened', 'opened', 'clicked'])[1 + i % 4]::event_kind,
	timestamptz '2025-06-15 12:00:00+00' - ((i * 37) % (60 * 24)) * interval '1 hour',
	'c' || i % 7
FROM generate_series(1, 600) AS i;
CREATE INDEX ON events (contact_id, kind);

SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');

-- Counts, windows, measures; 'bounced' is no label of the type, 'Opened'
-- none either (labels are exact).
SELECT k.* FROM (VALUES
	('event ''opened''', 'n(c.id, ''opened'') >= 1'),
	('event ''opened'' count >= 4 within last 30 days',
		'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-05-16 12:00:00+00'' AND ''2025-06-15 12:00:00+00''$$) >= 4'),
	('event ''clicked'' count(distinct campaign) >= 2', $$(SELECT count(DISTINCT e.campaign) FROM events e WHERE e.contact_id = c.id AND e.kind = 'clicked') >= 2$$),
	('event ''delivered'' last before 3 days ago', $$(SELECT max(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'delivered') < '2025-06-12 12:00:00+00'$$),
	('event ''bounced''', 'false'),
	('event ''bounced'' count = 0', 'true'),
	('event ''Opened''', 'false'),
	('not event ''clicked'' within last 7 days',
		'n(c.id, ''clicked'', $$e.occurred_at BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-15 12:00:00+00''$$) = 0')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- Segments are built, then kept by writes and time.
SELECT segments.create_segment('openers', 'event ''opened'' within last 30 days') IS NOT NULL AS created;
SELECT segments.create_segment('bounced', 'event ''bounced''') IS NOT NULL AS created;
INSERT INTO events VALUES (55, 'opened', '2025-06-14', 'x');
SELECT m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE s.name = 'openers' AND m.contact = 55;
-- the type gains the label: an event of it is maintained like any other
ALTER TYPE event_kind ADD VALUE 'bounced';
INSERT INTO events VALUES (56, 'bounced', '2025-06-14', 'x');
SELECT s.name, m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE s.name = 'bounced';
-- A label renamed is followed, as a column's name is: the rules that name
-- it name the new one, and membership does not change.
SELECT segments.create_segment('clickers', 'event ''clicked'' count >= 2 and not event ''bounced''') IS NOT NULL AS created;
-- and where a where clause compares the kind with it
SELECT segments.create_segment('active', 'event ''opened'' where (kind in (''opened'', ''clicked''))
	and event ''delivered'' where (not kind = ''clicked'')') IS NOT NULL AS created;
SELECT count(*) AS clickers FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id WHERE s.name = 'clickers';
ALTER TYPE event_kind RENAME VALUE 'clicked' TO 'click';
SELECT name, rule FROM segments.segment ORDER BY id;
SELECT count(*) AS clickers FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id WHERE s.name = 'clickers';
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;
INSERT INTO events VALUES (57, 'click', '2025-06-14', 'x'), (57, 'click', '2025-06-13', 'y');
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;
ALTER TYPE event_kind RENAME VALUE 'click' TO 'clicked';
SELECT name, rule FROM segments.segment WHERE name = 'clickers';
SET segments.now_override = '2025-07-20 12:00:00+00';
SELECT segments.tick() > 0 AS ticked;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;
SET segments.now_override = '2025-06-15 12:00:00+00';
SELECT * FROM segments.explain(56::bigint, 'event ''bounced'' and not event ''opened'' within last 30 days');


SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id);
SELECT segments.detach_events();

-- A domain over the enum, and a domain over text.
ALTER TABLE events ALTER COLUMN kind TYPE event_kind_d;
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT k.* FROM (VALUES
	('event ''opened'' count >= 3', 'n(c.id, ''opened'') >= 3'),
	('event ''nothing''', 'false')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SELECT segments.detach_events();
ALTER TABLE events ALTER COLUMN kind TYPE kind_text USING kind::text;
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT k.* FROM (VALUES
	('event ''opened'' count >= 3', 'n(c.id, ''opened'') >= 3')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SELECT segments.detach_events();

-- Event times of type timestamp (without a zone) are read in UTC, as the
-- contacts' timestamp fields are, whatever the session's TimeZone: window
-- edges included; a date is its midnight.
ALTER TABLE events ALTER COLUMN occurred_at TYPE timestamp USING occurred_at AT TIME ZONE 'UTC';
INSERT INTO events VALUES (58, 'edge', '2025-05-16 12:00:00', 'x'), (59, 'edge', '2025-05-16 11:59:59', 'x');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SET TimeZone = 'Asia/Tokyo';
SELECT k.* FROM (VALUES
	('event ''edge'' within last 30 days', 'c.id = 58'),
	('event ''edge'' before 30 days ago', 'c.id = 59'),
	('event ''opened'' count >= 3 since 20 days ago', 'n(c.id, ''opened'', $$e.occurred_at >= ''2025-05-26 12:00:00''$$) >= 3'),
	('event ''opened'' between ''2025-05-01'' and ''2025-05-20 06:00''',
		'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-05-01'' AND ''2025-05-20 06:00''$$) >= 1'),
	('event ''opened'' last before 10 days ago', $$(SELECT max(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened') < '2025-06-05 12:00:00'$$)
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SELECT segments.create_segment('edge', 'event ''edge'' within last 30 days') IS NOT NULL AS created;
SELECT m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id WHERE s.name = 'edge';
SET segments.now_override = '2025-06-15 12:00:01+00';
SELECT segments.tick() > 0 AS ticked;
SELECT m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id WHERE s.name = 'edge';
SET segments.now_override = '2025-06-15 12:00:00+00';
SELECT segments.drop_segment('edge');
SELECT segments.detach_events();
ALTER TABLE events ALTER COLUMN occurred_at TYPE date;
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT k.* FROM (VALUES
	('event ''edge'' within last 30 days', 'false'),
	('event ''edge'' since 31 days ago', 'c.id IN (58, 59)'),
	('event ''opened'' count >= 2 since ''2025-06-01''', 'n(c.id, ''opened'', $$e.occurred_at >= ''2025-06-01''$$) >= 2')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
RESET TimeZone;
SELECT segments.detach_events();

-- Other types are refused.
ALTER TABLE events ALTER COLUMN kind TYPE integer USING length(kind);
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at')$$);
ALTER TABLE events ALTER COLUMN kind TYPE text, ALTER COLUMN occurred_at TYPE time USING time '12:00';
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at')$$);

SELECT segments.detach_contacts();
DROP TABLE contacts, events;
DROP DOMAIN event_kind_d, kind_text;
DROP TYPE event_kind;
RESET segments.now_override;
