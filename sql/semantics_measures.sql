--
-- semantics_measures: what an event condition measures beside the count.
--
--   event 'k' [where (...)] sum(col) op v [window]         (also avg, min, max)
--   event 'k' [where (...)] count(distinct col) op n [window]
--   event 'k' [where (...)] first|last window
--
-- An aggregate is taken over the matching events (kind, where, window);
-- NULL values are left out.  Over no values a sum and a count are 0; avg,
-- min and max are nothing, and match no comparison.  sum and avg are
-- exact: numerics (a float column's values made numeric), avg compared as
-- sum op v * count.  min and max compare as the column's type.  first and
-- last take the earliest or latest matching event of all time (its time
-- not NULL), and the window tests its time: a contact without one matches
-- nothing.
--
-- Each rule is evaluated by the compiled SQL, by the C evaluator and by a
-- hand-written condition (see semantics_setup); agree is true when the
-- three sets of contacts are equal.
--
SET segments.now_override = '2025-06-15 12:00:00+00';

CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL);
INSERT INTO contacts SELECT i, 1 + i % 3 FROM generate_series(1, 200) AS i;

-- 2000 events for contacts 1 to 180 (181 to 200 have none) over the 400
-- days before now; amount (numeric) has NULLs, ties and negatives; units
-- (integer), weight (double precision, with values a float sum rounds),
-- campaign (text, with a case variant) and some events without a time.
CREATE TABLE events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	contact_id bigint NOT NULL,
	kind text NOT NULL,
	occurred_at timestamptz,
	amount numeric,
	units integer,
	weight double precision,
	campaign text,
	flag boolean,
	grade "char"
);
INSERT INTO events (contact_id, kind, occurred_at, amount, units, weight, campaign, flag, grade)
SELECT 1 + (i * 7919) % 180,
	(ARRAY['purchased', 'opened', 'opened', 'clicked'])[1 + (i * 13 + i / 7) % 4],
	CASE WHEN i % 97 = 0 THEN NULL
		ELSE timestamptz '2025-06-15 12:00:00+00' - ((i * 37) % (400 * 24)) * interval '1 hour' END,
	CASE WHEN i % 9 = 0 THEN NULL ELSE ((i * 31) % 300 - 20) + (i % 4) * 0.25 END,
	CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 17) % 50 END,
	CASE WHEN i % 5 = 0 THEN 0.1 ELSE (i % 7) * 0.3 END,
	(ARRAY['spring', 'summer', NULL, 'Spring', 'fall'])[1 + (i * 3) % 5],
	CASE WHEN i % 13 = 0 THEN NULL ELSE i % 3 = 0 END,
	CASE WHEN i % 17 = 0 THEN NULL WHEN i % 23 = 0 THEN '\377'::"char" ELSE chr(97 + i % 5)::"char" END
FROM generate_series(1, 2000) AS i;
CREATE INDEX ON events (contact_id, kind);
SELECT count(*) AS events, count(DISTINCT contact_id) AS contacts_with_events FROM events;

SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');

-- agg(contact, kind, aggregate, filter): the hand-written aggregate of a
-- contact's events of a kind that satisfy an SQL condition over e.
CREATE FUNCTION agg(contact bigint, kind text, aggregate text, filter text DEFAULT 'true') RETURNS numeric
LANGUAGE plpgsql STABLE AS $$
DECLARE
	result numeric;
BEGIN
	EXECUTE format('SELECT %s FROM events e WHERE e.contact_id = $1 AND e.kind = $2 AND (%s)', aggregate, filter)
	INTO result USING contact, kind;
	RETURN result;
END
$$;

--
-- sum: 0 over no values, so sum <= v and sum = 0 match contacts without
-- purchases; exact, whatever the column's type.
--
SELECT k.* FROM (VALUES
	('event ''purchased'' sum(amount) >= 500', 'coalesce(agg(c.id, ''purchased'', ''sum(e.amount)''), 0) >= 500'),
	('event ''purchased'' sum(amount) > 499.75', 'coalesce(agg(c.id, ''purchased'', ''sum(e.amount)''), 0) > 499.75'),
	('event ''purchased'' sum(amount) < 100', 'coalesce(agg(c.id, ''purchased'', ''sum(e.amount)''), 0) < 100'),
	('event ''purchased'' sum(amount) = 0', 'coalesce(agg(c.id, ''purchased'', ''sum(e.amount)''), 0) = 0'),
	('event ''purchased'' sum(amount) != 0', 'coalesce(agg(c.id, ''purchased'', ''sum(e.amount)''), 0) <> 0'),
	('event ''purchased'' sum(amount) <= -10', 'coalesce(agg(c.id, ''purchased'', ''sum(e.amount)''), 0) <= -10'),
	('event ''purchased'' sum(units) >= 100', 'coalesce(agg(c.id, ''purchased'', ''sum(e.units)''), 0) >= 100'),
	('event ''purchased'' sum(weight) = 0.4', 'coalesce(agg(c.id, ''purchased'', ''sum(e.weight::numeric)''), 0) = 0.4'),
	('event ''purchased'' sum(weight) > 1.2', 'coalesce(agg(c.id, ''purchased'', ''sum(e.weight::numeric)''), 0) > 1.2'),
	('event ''nothing'' sum(amount) = 0', 'true'),
	('not event ''purchased'' sum(amount) >= 500', 'coalesce(agg(c.id, ''purchased'', ''sum(e.amount)''), 0) < 500'),
	('event ''purchased'' sum(amount) >= 200 within last 90 days',
		'coalesce(agg(c.id, ''purchased'', ''sum(e.amount)'', $$e.occurred_at BETWEEN ''2025-03-17 12:00:00+00'' AND ''2025-06-15 12:00:00+00''$$), 0) >= 200'),
	('event ''purchased'' where (campaign = ''spring'') sum(amount) >= 100 since 200 days ago',
		'coalesce(agg(c.id, ''purchased'', ''sum(e.amount)'', $$e.campaign = ''spring'' AND e.occurred_at >= ''2024-11-27 12:00:00+00''$$), 0) >= 100')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- avg: over the non-NULL values; no values match nothing, under not
-- everything.
--
SELECT k.* FROM (VALUES
	('event ''purchased'' avg(amount) >= 150', 'agg(c.id, ''purchased'', ''avg(e.amount)'') >= 150'),
	('event ''purchased'' avg(amount) < 150', 'agg(c.id, ''purchased'', ''avg(e.amount)'') < 150'),
	('event ''purchased'' avg(amount) = 134.25', 'agg(c.id, ''purchased'', ''avg(e.amount)'') = 134.25'),
	('event ''purchased'' avg(units) > 24.5', 'agg(c.id, ''purchased'', ''avg(e.units)'') > 24.5'),
	('event ''purchased'' avg(weight) <= 0.3', 'agg(c.id, ''purchased'', ''avg(e.weight::numeric)'') <= 0.3'),
	('not event ''purchased'' avg(amount) >= 150', 'agg(c.id, ''purchased'', ''avg(e.amount)'') < 150 OR agg(c.id, ''purchased'', ''avg(e.amount)'') IS NULL'),
	('event ''purchased'' avg(amount) > 100 within last 30 days',
		'agg(c.id, ''purchased'', ''avg(e.amount)'', $$e.occurred_at BETWEEN ''2025-05-16 12:00:00+00'' AND ''2025-06-15 12:00:00+00''$$) > 100')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- min and max, as the column's type: numbers, text (its collation), times.
--
SELECT k.* FROM (VALUES
	('event ''purchased'' max(amount) >= 270', 'agg(c.id, ''purchased'', ''max(e.amount)'') >= 270'),
	('event ''purchased'' min(amount) < 0', 'agg(c.id, ''purchased'', ''min(e.amount)'') < 0'),
	('event ''purchased'' min(units) = 0', 'agg(c.id, ''purchased'', ''min(e.units)'') = 0'),
	('event ''opened'' max(campaign) = ''summer''', $$(SELECT max(e.campaign) FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened') = 'summer'$$),
	('event ''opened'' min(campaign) < ''c''', $$(SELECT min(e.campaign) FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened') < 'c'$$),
	('event ''opened'' max(occurred_at) < 60 days ago', $$(SELECT max(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened') < '2025-04-16 12:00:00+00'$$),
	('not event ''purchased'' max(amount) >= 270', 'NOT coalesce(agg(c.id, ''purchased'', ''max(e.amount)'') >= 270, false)'),
	-- types without pg_catalog's min and max, or whose would cast them to
	-- another type's order ("char" to text): the type's own btree order
	('event ''purchased'' max(flag) = true', $$(SELECT bool_or(e.flag) FROM events e WHERE e.contact_id = c.id AND e.kind = 'purchased')$$),
	('event ''purchased'' min(flag) = false', $$NOT (SELECT bool_and(e.flag) FROM events e WHERE e.contact_id = c.id AND e.kind = 'purchased')$$),
	('event ''opened'' max(grade) = ''e''', $$(SELECT e.grade FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened' AND e.grade IS NOT NULL ORDER BY e.grade DESC LIMIT 1) = 'e'$$),
	('event ''opened'' min(grade) > ''a''', $$(SELECT e.grade FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened' AND e.grade IS NOT NULL ORDER BY e.grade LIMIT 1) > 'a'$$)
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- count(distinct ...): NULLs left out, case variants distinct.
--
SELECT k.* FROM (VALUES
	('event ''opened'' count(distinct campaign) >= 3', 'coalesce(agg(c.id, ''opened'', ''count(DISTINCT e.campaign)''), 0) >= 3'),
	('event ''opened'' count(distinct campaign) >= 2', 'coalesce(agg(c.id, ''opened'', ''count(DISTINCT e.campaign)''), 0) >= 2'),
	('event ''opened'' count(distinct units) > 3', 'coalesce(agg(c.id, ''opened'', ''count(DISTINCT e.units)''), 0) > 3'),
	('event ''opened'' count(distinct campaign) = 0', 'coalesce(agg(c.id, ''opened'', ''count(DISTINCT e.campaign)''), 0) = 0'),
	('event ''opened'' count(distinct campaign) < 2 within last 180 days',
		'coalesce(agg(c.id, ''opened'', ''count(DISTINCT e.campaign)'', $$e.occurred_at BETWEEN ''2024-12-17 12:00:00+00'' AND ''2025-06-15 12:00:00+00''$$), 0) < 2')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- first and last: the window tests the earliest or latest matching event.
--
SELECT k.* FROM (VALUES
	('event ''opened'' last before 30 days ago',
		$$(SELECT max(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened') < '2025-05-16 12:00:00+00'$$),
	('event ''opened'' last within last 7 days',
		$$(SELECT max(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened') BETWEEN '2025-06-08 12:00:00+00' AND '2025-06-15 12:00:00+00'$$),
	('event ''purchased'' first within last 60 days',
		$$(SELECT min(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'purchased') BETWEEN '2025-04-16 12:00:00+00' AND '2025-06-15 12:00:00+00'$$),
	('event ''clicked'' first within last 200 days',
		$$(SELECT min(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'clicked') BETWEEN '2024-11-27 12:00:00+00' AND '2025-06-15 12:00:00+00'$$),
	('event ''purchased'' first since ''2024-06-01''',
		$$(SELECT min(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'purchased') >= '2024-06-01'$$),
	('event ''clicked'' where (campaign = ''spring'') last between 200 days ago and 100 days ago',
		$$(SELECT max(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'clicked' AND e.campaign = 'spring')
			BETWEEN '2024-11-27 12:00:00+00' AND '2025-03-07 12:00:00+00'$$),
	('not event ''opened'' last before 30 days ago',
		$$NOT coalesce((SELECT max(e.occurred_at) FROM events e WHERE e.contact_id = c.id AND e.kind = 'opened') < '2025-05-16 12:00:00+00', false)$$)
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- In a segment: built, then kept by writes and by time (tick).
--
SELECT segments.create_segment('big spenders', 'event ''purchased'' sum(amount) >= 500 within last 90 days') IS NOT NULL AS created;
SELECT segments.create_segment('lapsed', 'event ''opened'' last before 30 days ago') IS NOT NULL AS created;
SELECT segments.create_segment('many campaigns', 'event ''opened'' count(distinct campaign) >= 3') IS NOT NULL AS created;
INSERT INTO events (contact_id, kind, occurred_at, amount) VALUES (190, 'purchased', '2025-06-14', 600);
INSERT INTO events (contact_id, kind, occurred_at, campaign) VALUES
	(191, 'opened', '2025-06-01', 'a'), (191, 'opened', '2025-06-02', 'b'), (191, 'opened', '2025-06-03', 'c');
UPDATE events SET amount = amount + 1000 WHERE contact_id = 2 AND kind = 'purchased' AND amount IS NOT NULL;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;
SELECT s.name, m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact IN (2, 190, 191) ORDER BY 1, 2;
-- 60 days on: 191's opens are now more than 30 days old, 190's purchase
-- has not left the 90-day window
SET segments.now_override = '2025-08-14 12:00:00+00';
SELECT segments.tick() > 0 AS ticked;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;
SELECT s.name, m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact IN (2, 190, 191) ORDER BY 1, 2;
SET segments.now_override = '2025-06-15 12:00:00+00';
-- The column an aggregate reads is followed when renamed, and cannot be
-- dropped while a segment reads it.
ALTER TABLE events RENAME COLUMN amount TO total;
SELECT name, rule FROM segments.segment WHERE name = 'big spenders';
SELECT state, message FROM try('ALTER TABLE events DROP COLUMN total');
ALTER TABLE events RENAME COLUMN total TO amount;
SELECT name, rule FROM segments.segment WHERE name = 'big spenders';

--
-- Every form prints back as it parses, and round-trips through JSON.
--
SELECT r::text AS printed, segments.rule_from_jsonb(segments.rule_to_jsonb(r))::text = r::text AS json_round_trip,
	r::text::segments.rule::text = r::text AS text_round_trip,
	segments.rule_to_jsonb(r) AS json
FROM (VALUES
	('event ''purchased'' SUM(Amount) >= 500.50 within last 90 days'::segments.rule),
	('event ''x'' count( distinct "Campaign Name" ) > 2'),
	('event ''opened'' where (campaign = ''a'') LAST before 30 days ago'),
	('event ''p'' min(at) < 30 days ago'),
	('event ''p'' first since ''2024-01-01''')
) AS t(r);
SELECT * FROM segments.rule_references('event ''purchased'' where (campaign = ''a'') sum(amount) >= 5 and event ''opened'' max(occurred_at) < 7 days ago');

--
-- explain says what was measured.
--
SELECT * FROM segments.explain(2::bigint,
	'event ''purchased'' sum(amount) >= 500 and event ''purchased'' avg(amount) > 1 and event ''opened'' count(distinct campaign) >= 1 and event ''opened'' last before 30 days ago and event ''opened'' min(campaign) < ''z''');
SELECT * FROM segments.explain(200::bigint, 'event ''purchased'' sum(amount) = 0 or event ''purchased'' avg(amount) > 1 or event ''opened'' first since ''2000-01-01''');

--
-- What is refused.
--
SELECT * FROM try($$SELECT segments.create_segment('x', 'event ''purchased'' sum(campaign) >= 1')$$);
SELECT * FROM try($$SELECT segments.create_segment('x', 'event ''purchased'' sum(nope) >= 1')$$);
SELECT * FROM try($$SELECT segments.create_segment('x', 'event ''purchased'' max(amount) >= ''a lot''')$$);
SELECT * FROM try($$SELECT segments.create_segment('x', 'event ''purchased'' max(units) < 30 days ago')$$);
SELECT * FROM try($$SELECT 'event ''purchased'' sum(amount) >= ''500'''::segments.rule$$);
SELECT * FROM try($$SELECT 'event ''purchased'' count(distinct campaign) >= 2.5'::segments.rule$$);
SELECT * FROM try($$SELECT 'event ''opened'' last'::segments.rule$$);
SELECT * FROM try($$SELECT 'event ''opened'' first ever'::segments.rule$$);
SELECT * FROM try($$SELECT 'event ''opened'' count >= 2 sum(amount) > 1'::segments.rule$$);
SELECT * FROM try($$SELECT 'event ''opened'' sum amount > 1'::segments.rule$$);
SELECT * FROM try($$SELECT 'event ''opened'' count(campaign) > 1'::segments.rule$$);
SELECT * FROM try($$SELECT 'event ''opened'' sum(amount) between 1 and 2'::segments.rule$$);
SELECT * FROM try($$SELECT segments.rule_from_jsonb('{"event": "p", "aggregate": {"fn": "median", "column": "amount", "op": ">", "value": 1}}')$$);
SELECT * FROM try($$SELECT segments.rule_from_jsonb('{"event": "p", "count": {"op": ">", "value": 1}, "aggregate": {"fn": "sum", "column": "amount", "op": ">", "value": 1}}')$$);
SELECT * FROM try($$SELECT segments.rule_from_jsonb('{"event": "p", "occurrence": "middle", "window": {"op": "since", "value": "2024-01-01"}}')$$);

SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id);
SELECT segments.detach_events();
SELECT segments.detach_contacts();
DROP TABLE contacts, events;
DROP FUNCTION agg(bigint, text, text, text);
RESET segments.now_override;
