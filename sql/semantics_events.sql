--
-- semantics_events: event conditions (docs/design.md, "Meaning").
--
-- event 'k' [where (...)] [count op n] [window] counts the contact's events
-- of kind k (exact match) that pass the filter and fall in the window, and
-- compares the number with n; the default is count >= 1, window ever.
-- count = 0 and count < n also match contacts without any event.  Windows
-- (at is the event's time, now is segments.now()):
--   ever                 any at
--   within last N unit   now - N unit <= at <= now
--   since v              at >= v
--   before v             at < v
--   between a and b      a <= at <= b
-- Every filter in where (...) applies to the same event row.
--
-- Each rule is evaluated by the compiled SQL, by the C evaluator and by a
-- hand-written condition (see semantics_fields); agree is true when the
-- three sets of contacts are equal.
--

SET segments.now_override = '2025-06-15 12:00:00+00';

CREATE TABLE contacts (
	id bigint PRIMARY KEY,
	account_id integer NOT NULL,
	name text
);
INSERT INTO contacts SELECT i, 1 + i % 3, 'c' || i FROM generate_series(1, 300) AS i;

-- 3000 events for contacts 1 to 250 (251 to 300 have none; low ids have
-- more), over the 400 days before now, 60 of them in the future; kinds
-- include a case variant
-- ('Opened'); campaign, url, amount and meta have NULLs and case variants.
CREATE TABLE events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	contact_id bigint NOT NULL,
	kind text NOT NULL,
	occurred_at timestamptz,
	campaign text,
	url text,
	amount numeric,
	meta jsonb
);
INSERT INTO events (contact_id, kind, occurred_at, campaign, url, amount, meta)
SELECT 1 + (((i * 7919) % 1000) * ((i * 7919) % 1000) / 4000) % 250,
	(ARRAY['delivered', 'opened', 'opened', 'clicked', 'bounced', 'Opened', 'purchased'])[1 + (i * 13 + i / 11) % 7],
	CASE WHEN i % 50 = 0
		THEN timestamptz '2025-06-15 12:00:00+00' + (i % 10 + 1) * interval '1 day'
		ELSE timestamptz '2025-06-15 12:00:00+00' - ((i * 37) % (400 * 24)) * interval '1 hour' END,
	(ARRAY['spring', 'summer', NULL, 'Spring'])[1 + (i * 3) % 4],
	(ARRAY['https://x.com/pricing', 'https://x.com/blog', NULL, 'https://x.com/PRICING?a=1', 'https://x.com/'])[1 + (i * 11) % 5],
	CASE WHEN i % 6 = 0 THEN NULL ELSE (i * 17) % 200 END,
	CASE WHEN i % 4 = 0 THEN NULL ELSE jsonb_build_object('device', (ARRAY['mobile', 'desktop', 'Mobile'])[1 + i % 3]) END
FROM generate_series(1, 3000) AS i;

-- Events of kind 'edge' at the edges of the windows used below.
INSERT INTO events (contact_id, kind, occurred_at) VALUES
	(1, 'edge', '2025-05-16 12:00:00+00'),	-- now - 30 days: within last 30 days
	(2, 'edge', '2025-05-16 11:59:59+00'),	-- one second earlier: not
	(3, 'edge', '2025-06-15 12:00:00+00'),	-- now: within last 30 days
	(4, 'edge', '2025-06-15 12:00:01+00'),	-- one second in the future: not
	(5, 'edge', '2025-06-01 00:00:00+00'),	-- since '2025-06-01', not before it
	(6, 'edge', '2025-05-31 00:00:00+00'),	-- between '2025-05-01' and '2025-05-31'
	(7, 'edge', '2025-05-31 10:00:00+00'),	-- after the upper bound '2025-05-31'
	(8, 'edge', '2025-05-01 00:00:00+00'),	-- the lower bound
	(9, 'edge', '2025-03-15 12:00:00+00'),	-- now - 3 months
	(10, 'edge', '2025-06-15 11:00:00+00'),	-- now - 1 hour, twice
	(10, 'edge', '2025-06-15 11:00:00+00');

SELECT count(*) AS events, count(DISTINCT contact_id) AS contacts_with_events,
	count(*) FILTER (WHERE occurred_at > '2025-06-15 12:00:00+00') AS future
FROM events;
SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind COLLATE "C";

CREATE INDEX ON events (contact_id, kind);

SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');

--
-- Counts, window ever.  count = 0, count < n and count != n (n > 0) match
-- the contacts without events; the kind is matched exactly.
--
SELECT k.* FROM (VALUES
	('event ''opened''', 'n(c.id, ''opened'') >= 1'),
	('event ''Opened''', 'n(c.id, ''Opened'') >= 1'),
	('event ''OPENED''', 'false'),
	('event ''opened'' count >= 1', 'n(c.id, ''opened'') >= 1'),
	('event ''opened'' count >= 5', 'n(c.id, ''opened'') >= 5'),
	('event ''opened'' count > 5', 'n(c.id, ''opened'') > 5'),
	('event ''opened'' count = 5', 'n(c.id, ''opened'') = 5'),
	('event ''opened'' count != 5', 'n(c.id, ''opened'') <> 5'),
	('event ''opened'' count <> 0', 'n(c.id, ''opened'') > 0'),
	('event ''opened'' count < 5', 'n(c.id, ''opened'') < 5'),
	('event ''opened'' count <= 5', 'n(c.id, ''opened'') <= 5'),
	('event ''opened'' count = 0', 'n(c.id, ''opened'') = 0'),
	('event ''opened'' count < 1', 'n(c.id, ''opened'') = 0'),
	('event ''opened'' count <= 0', 'n(c.id, ''opened'') = 0'),
	('event ''opened'' count > 0', 'n(c.id, ''opened'') > 0'),
	('event ''opened'' count >= 0', 'true'),
	('event ''opened'' count < 0', 'false'),
	('event ''nothing''', 'false'),
	('event ''nothing'' count = 0', 'true'),
	('not event ''opened''', 'n(c.id, ''opened'') = 0'),
	('not event ''opened'' count = 0', 'n(c.id, ''opened'') > 0'),
	('event ''opened'' count >= 2147483647', 'false'),
	('event ''opened'' count <= 2147483647', 'true')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- Windows.  Now is 2025-06-15 12:00:00 UTC; future events are outside
-- "within last" but inside "ever" and "since now".
--
SELECT k.* FROM (VALUES
	('event ''opened'' within last 30 days', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-05-16 12:00+00'' AND ''2025-06-15 12:00+00''$$) >= 1'),
	('event ''opened'' count >= 2 within last 120 days', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-02-15 12:00+00'' AND ''2025-06-15 12:00+00''$$) >= 2'),
	('event ''opened'' count = 0 within last 30 days', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-05-16 12:00+00'' AND ''2025-06-15 12:00+00''$$) = 0'),
	('event ''opened'' count < 2 within last 90 days', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-03-17 12:00+00'' AND ''2025-06-15 12:00+00''$$) < 2'),
	('event ''opened'' count = 2 within last 90 days', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-03-17 12:00+00'' AND ''2025-06-15 12:00+00''$$) = 2'),
	('event ''opened'' count != 2 within last 90 days', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-03-17 12:00+00'' AND ''2025-06-15 12:00+00''$$) <> 2'),
	('event ''opened'' within last 12 hours', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-06-15 00:00+00'' AND ''2025-06-15 12:00+00''$$) >= 1'),
	('event ''opened'' within last 1 year', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2024-06-15 12:00+00'' AND ''2025-06-15 12:00+00''$$) >= 1'),
	('event ''opened'' ever', 'n(c.id, ''opened'') >= 1'),
	('event ''opened'' since now', 'n(c.id, ''opened'', $$e.occurred_at >= ''2025-06-15 12:00+00''$$) >= 1'),
	('event ''opened'' since 7 days ago', 'n(c.id, ''opened'', $$e.occurred_at >= ''2025-06-08 12:00+00''$$) >= 1'),
	('event ''opened'' since ''2025-06-01''', 'n(c.id, ''opened'', $$e.occurred_at >= ''2025-06-01 00:00+00''$$) >= 1'),
	('event ''opened'' since 1 week from now', 'n(c.id, ''opened'', $$e.occurred_at >= ''2025-06-22 12:00+00''$$) >= 1'),
	('event ''opened'' before ''2025-01-01''', 'n(c.id, ''opened'', $$e.occurred_at < ''2025-01-01 00:00+00''$$) >= 1'),
	('event ''opened'' before now', 'n(c.id, ''opened'', $$e.occurred_at < ''2025-06-15 12:00+00''$$) >= 1'),
	('event ''opened'' count >= 3 before 6 months ago', 'n(c.id, ''opened'', $$e.occurred_at < ''2024-12-15 12:00+00''$$) >= 3'),
	('event ''opened'' between ''2025-05-01'' and ''2025-05-31''', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-05-01 00:00+00'' AND ''2025-05-31 00:00+00''$$) >= 1'),
	('event ''opened'' between 10 days ago and 1 day ago', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-06-05 12:00+00'' AND ''2025-06-14 12:00+00''$$) >= 1'),
	('event ''opened'' between now and 30 days from now', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-06-15 12:00+00'' AND ''2025-07-15 12:00+00''$$) >= 1'),
	('event ''opened'' between 1 day ago and 10 days ago', 'false'),
	('event ''opened'' count = 0 since ''2025-06-01 00:00:00+02''', 'n(c.id, ''opened'', $$e.occurred_at >= ''2025-05-31 22:00+00''$$) = 0'),
	('not event ''opened'' within last 180 days', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2024-12-17 12:00+00'' AND ''2025-06-15 12:00+00''$$) = 0')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- The edges are inclusive (but "before" is strict).
SELECT k.* FROM (VALUES
	('event ''edge'' within last 30 days', 'c.id IN (1, 3, 5, 6, 7, 10)'),
	('event ''edge'' within last 3 months', 'c.id IN (1, 2, 3, 5, 6, 7, 8, 9, 10)'),
	('event ''edge'' within last 1 hour', 'c.id IN (3, 10)'),
	('event ''edge'' count = 2 within last 1 hour', 'c.id = 10'),
	('event ''edge'' since ''2025-06-01''', 'c.id IN (3, 4, 5, 10)'),
	('event ''edge'' before ''2025-06-01''', 'c.id IN (1, 2, 6, 7, 8, 9)'),
	('event ''edge'' between ''2025-05-01'' and ''2025-05-31''', 'c.id IN (1, 2, 6, 8)'),
	('event ''edge'' between ''2025-05-01'' and ''2025-05-31 23:59:59.999999''', 'c.id IN (1, 2, 6, 7, 8)'),
	('event ''edge'' since now', 'c.id IN (3, 4)'),
	('event ''edge'' before now', 'c.id IN (1, 2, 5, 6, 7, 8, 9, 10)'),
	('event ''edge'' between 30 days ago and now', 'c.id IN (1, 3, 5, 6, 7, 10)'),
	('event ''edge''', 'c.id BETWEEN 1 AND 10'),
	('event ''edge'' count = 0', 'c.id > 10')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- where (...): the events table's columns, with the tests of contact
-- fields; every filter applies to the same event row.
--
SELECT k.* FROM (VALUES
	('event ''clicked'' where (campaign = ''spring'')', 'n(c.id, ''clicked'', $$e.campaign = ''spring''$$) >= 1'),
	('event ''clicked'' where (campaign != ''spring'')', 'n(c.id, ''clicked'', $$e.campaign <> ''spring''$$) >= 1'),
	('event ''clicked'' where (not campaign = ''spring'')', 'n(c.id, ''clicked'', $$e.campaign IS DISTINCT FROM ''spring''$$) >= 1'),
	('event ''clicked'' where (campaign is null)', 'n(c.id, ''clicked'', $$e.campaign IS NULL$$) >= 1'),
	('event ''clicked'' where (url contains ''PRICING'')', 'n(c.id, ''clicked'', $$position(''pricing'' in lower(e.url)) > 0$$) >= 1'),
	('event ''clicked'' where (url contains ''pricing'' and campaign = ''spring'')', 'n(c.id, ''clicked'', $$position(''pricing'' in lower(e.url)) > 0 AND e.campaign = ''spring''$$) >= 1'),
	('event ''clicked'' where (url contains ''pricing'' and campaign = ''spring'') count >= 2', 'n(c.id, ''clicked'', $$position(''pricing'' in lower(e.url)) > 0 AND e.campaign = ''spring''$$) >= 2'),
	('event ''clicked'' where (url contains ''pricing'' or campaign ilike ''spring'') count >= 3 within last 200 days', 'n(c.id, ''clicked'', $$(position(''pricing'' in lower(e.url)) > 0 OR lower(e.campaign) = ''spring'') AND e.occurred_at BETWEEN ''2024-11-27 12:00+00'' AND ''2025-06-15 12:00+00''$$) >= 3'),
	('event ''clicked'' where (url contains ''pricing'') count = 0', 'n(c.id, ''clicked'', $$position(''pricing'' in lower(e.url)) > 0$$) = 0'),
	('event ''clicked'' where (url not contains ''pricing'')', 'n(c.id, ''clicked'', $$position(''pricing'' in lower(e.url)) = 0$$) >= 1'),
	('event ''clicked'' where (url ends with ''/'')', 'n(c.id, ''clicked'', $$right(e.url, 1) = ''/''$$) >= 1'),
	('event ''purchased'' where (amount > 150)', 'n(c.id, ''purchased'', $$e.amount > 150$$) >= 1'),
	('event ''purchased'' where (amount between 10 and 20) count >= 2', 'n(c.id, ''purchased'', $$e.amount BETWEEN 10 AND 20$$) >= 2'),
	('event ''purchased'' where (amount is null)', 'n(c.id, ''purchased'', $$e.amount IS NULL$$) >= 1'),
	('event ''purchased'' where (not amount > 150) count >= 3', 'n(c.id, ''purchased'', $$e.amount IS NULL OR e.amount <= 150$$) >= 3'),
	('event ''opened'' where (meta.device = ''mobile'')', 'n(c.id, ''opened'', $$e.meta->''device'' = ''"mobile"''$$) >= 1'),
	('event ''opened'' where (meta.device contains ''MOBILE'')', 'n(c.id, ''opened'', $$lower(e.meta->>''device'') = ''mobile''$$) >= 1'),
	('event ''opened'' where (meta.device is null) count >= 2', 'n(c.id, ''opened'', $$e.meta IS NULL$$) >= 2'),
	('event ''opened'' where (occurred_at > 30 days ago)', 'n(c.id, ''opened'', $$e.occurred_at > ''2025-05-16 12:00+00''$$) >= 1'),
	('event ''opened'' where (occurred_at within last 30 days)', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-05-16 12:00+00'' AND ''2025-06-15 12:00+00''$$) >= 1'),
	('event ''opened'' where (kind = ''opened'' and id > 1500)', 'n(c.id, ''opened'', $$e.id > 1500$$) >= 1'),
	('event ''opened'' where (kind = ''Opened'')', 'false'),
	('event ''opened'' where (true)', 'n(c.id, ''opened'') >= 1'),
	('event ''opened'' where (false) count = 0', 'true'),
	('event ''clicked'' where (campaign in (''spring'', ''Spring'')) count >= 2 since 100 days ago', 'n(c.id, ''clicked'', $$e.campaign IN (''spring'', ''Spring'') AND e.occurred_at >= ''2025-03-07 12:00+00''$$) >= 2')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- "Same row": contacts with a pricing click and a spring click, but no
-- click that is both, do not match the combined where.
SELECT count(*) FILTER (WHERE n(c.id, 'clicked', $$position('pricing' in lower(e.url)) > 0$$) > 0
		AND n(c.id, 'clicked', $$e.campaign = 'spring'$$) > 0) AS pricing_click_and_spring_click,
	count(*) FILTER (WHERE n(c.id, 'clicked', $$position('pricing' in lower(e.url)) > 0 AND e.campaign = 'spring'$$) > 0) AS spring_pricing_click,
	count(*) FILTER (WHERE segments.matches(c.id, 'event ''clicked'' where (url contains ''pricing'' and campaign = ''spring'')')) AS matches
FROM contacts c;

--
-- Several event conditions, with fields and negation.
--
SELECT k.* FROM (VALUES
	('event ''opened'' and event ''clicked''', 'n(c.id, ''opened'') > 0 AND n(c.id, ''clicked'') > 0'),
	('event ''opened'' within last 30 days or event ''clicked'' count >= 3', 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-05-16 12:00+00'' AND ''2025-06-15 12:00+00''$$) > 0 OR n(c.id, ''clicked'') >= 3'),
	('event ''delivered'' count >= 2 and not event ''opened'' within last 60 days', 'n(c.id, ''delivered'') >= 2 AND n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-04-16 12:00+00'' AND ''2025-06-15 12:00+00''$$) = 0'),
	('event ''bounced'' count = 0 and event ''purchased'' count = 0', 'n(c.id, ''bounced'') = 0 AND n(c.id, ''purchased'') = 0'),
	('not (event ''bounced'' or event ''purchased'' where (amount > 100))', 'n(c.id, ''bounced'') = 0 AND n(c.id, ''purchased'', $$e.amount > 100$$) = 0'),
	('(event ''opened'' count >= 3 or event ''Opened'') and account_id = 2', '(n(c.id, ''opened'') >= 3 OR n(c.id, ''Opened'') > 0) AND c.account_id = 2'),
	('event ''opened'' count >= 4 within last 1 year and event ''opened'' count < 2 within last 30 days',
	 'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2024-06-15 12:00+00'' AND ''2025-06-15 12:00+00''$$) >= 4 AND n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-05-16 12:00+00'' AND ''2025-06-15 12:00+00''$$) < 2')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- The compiled SQL: a semi-join for "at least one", an anti-join for
-- count = 0, a grouped semi-join for a threshold, exact counts grouped.
--
SELECT segments._compile('event ''opened'' within last 30 days', NULL);
SELECT segments._compile('event ''opened'' count = 0 since ''2025-06-01''', NULL);
SELECT segments._compile('event ''clicked'' where (url contains ''pricing'' and campaign = ''spring'') count >= 2', NULL);
SELECT segments._compile('event ''opened'' count != 2 between 10 days ago and 1 day ago', NULL);
SELECT segments._compile('event ''opened'' count < 3 before now', NULL);

--
-- Maintenance after a write compiles rules for the few contacts it
-- touched (few => true): event conditions then count each contact's events
-- instead of grouping everyone's.  Both forms select the same contacts.
--
CREATE FUNCTION same_for_few(rule text, OUT contacts int, OUT same boolean) LANGUAGE plpgsql AS $$
DECLARE
	every_contact bigint[];
	few bigint[];
BEGIN
	EXECUTE format('SELECT array_agg(q.contact ORDER BY q.contact) FROM (%s) q',
		segments._compile(rule::segments.rule, NULL)) INTO every_contact;
	EXECUTE format('SELECT array_agg(q.contact ORDER BY q.contact) FROM (%s) q',
		segments._compile(rule::segments.rule, NULL, few => true)) INTO few;
	contacts := coalesce(cardinality(every_contact), 0);
	same := every_contact IS NOT DISTINCT FROM few;
END $$;
SELECT r.rule, f.*
FROM (VALUES
	('event ''opened'' count = 0'),
	('event ''opened'' count = 2'),
	('event ''opened'' count != 2'),
	('event ''opened'' count < 3'),
	('event ''opened'' count <= 1'),
	('event ''opened'' count > 1 within last 60 days'),
	('not event ''opened'' count >= 2 since 10 days ago'),
	('event ''clicked'' where (url contains ''pricing'') count >= 2 between 60 days ago and 1 day ago')
) AS r(rule), LATERAL same_for_few(r.rule) AS f;
DROP FUNCTION same_for_few(text);

--
-- explain: the number of matching events.
--
SELECT * FROM segments.explain(10::bigint,
	'event ''edge'' count = 2 within last 1 hour and not event ''opened'' and event ''clicked'' where (url contains ''pricing'') count >= 1');
SELECT * FROM segments.explain(300::bigint, 'event ''opened'' count = 0 or event ''opened'' count >= 1');

--
-- Edge cases both paths once disagreed on.
--
-- 1. An event whose time is NULL (attach_events does not require the time
--    column to be NOT NULL) counts for the window ever, and for no other.
INSERT INTO events (contact_id, kind, occurred_at) VALUES (11, 'undated', NULL), (12, 'undated', NULL);
SELECT k.* FROM (VALUES
	('event ''undated''', 'n(c.id, ''undated'') >= 1'),
	('event ''undated'' count = 0', 'n(c.id, ''undated'') = 0'),
	('event ''undated'' since ''2000-01-01''', 'false')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- 2. "not" over "=" on a jsonb property path inside where, for an event
--    whose jsonb column is NULL: the condition is false, so its negation
--    is true and the event counts.
SELECT k.* FROM (VALUES
	('event ''opened'' where (not meta.device = ''mobile'') count >= 4', 'n(c.id, ''opened'', $$e.meta->''device'' IS DISTINCT FROM ''"mobile"''$$) >= 4')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- The events table is an event source a rule may name: by the table's
-- name unless attach_events gave it one (here, none).  A source not
-- attached is an error.
SELECT role, table_name, source FROM segments.attached WHERE role = 'events';
SELECT k.* FROM (VALUES
	('event ''opened'' from ''events'' count >= 4', 'n(c.id, ''opened'') >= 4'),
	('not event ''opened'' from ''events'' within last 30 days',
		'n(c.id, ''opened'', $$e.occurred_at BETWEEN ''2025-05-16 12:00:00+00'' AND ''2025-06-15 12:00:00+00''$$) = 0')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SELECT * FROM try($$SELECT segments.preview_count('event ''opened'' from ''email''')$$);
SELECT segments.to_sql('event ''opened'' from ''events'' count >= 4') = segments.to_sql('event ''opened'' count >= 4') AS same_sql;

SELECT segments.detach_events();
-- attached with a name of its own
SELECT * FROM try($$SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at', source => '')$$);
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at', source => 'email');
SELECT k.rule_text, k.agree FROM check_rule('event ''opened'' from ''email'' count >= 4', 'n(c.id, ''opened'') >= 4') k;
SELECT * FROM try($$SELECT segments.preview_count('event ''opened'' from ''events''')$$);
SELECT segments.detach_events();
SELECT segments.detach_contacts();
DROP TABLE contacts, events;
RESET segments.now_override;
