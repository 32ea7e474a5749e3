--
-- time_in_segment: how long a contact has been a member of a segment.
--
--   in segment 'n' for at least N unit   a member since N unit ago or earlier
--   in segment 'n' for less than N unit  a member, joined after N unit ago
--
-- The time is the membership's since (when the contact last joined), N
-- unit ago is now - N unit with PostgreSQL's interval arithmetic in UTC,
-- and the edge belongs to "for at least".  A contact that is not a member
-- matches neither.  tick() sweeps the members whose since crosses the
-- edge; a write that makes a contact leave and join again starts its time
-- anew.
--
-- Each rule is evaluated by the compiled SQL, by the C evaluator and by a
-- hand-written condition (see semantics_setup); agree is true when the
-- three sets of contacts are equal.
--
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';

CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL, plan text);
INSERT INTO contacts
SELECT i, 1 + i % 2, CASE WHEN i % 7 = 0 THEN 'free' ELSE 'vip' END
FROM generate_series(1, 60) AS i;
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT segments.create_segment('VIP', 'plan = ''vip''') IS NOT NULL AS created;

-- Membership's since is when the contact joined, by the rules' clock
-- (segments.now()).  To test edges at known times, the members' since is
-- set here as if contact i had joined on 2025-01-01 plus (i % 40) days (a
-- test may do this as the superuser; applications never write the
-- membership).
UPDATE segments.membership SET since = '2025-01-01 00:00:00+00'::timestamptz + (contact % 40) * interval '1 day'
WHERE segment_id = (SELECT id FROM segments.segment WHERE name = 'VIP');
SET segments.now_override = '2025-02-10 00:00:00+00';
CREATE FUNCTION joined(c bigint) RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT m.since FROM segments.membership m
	WHERE m.segment_id = (SELECT id FROM segments.segment WHERE name = 'VIP') AND m.contact = c
$$;

-- 30 days before 2025-02-10 is 2025-01-11: contacts with i % 40 = 10 joined
-- exactly then, and have been members for at least 30 days.
SELECT k.* FROM (VALUES
	('in segment ''VIP'' for at least 30 days', 'joined(c.id) <= ''2025-01-11 00:00:00+00'''),
	('in segment ''VIP'' for less than 30 days', 'joined(c.id) > ''2025-01-11 00:00:00+00'''),
	('not in segment ''VIP'' for at least 30 days', 'joined(c.id) IS NULL OR joined(c.id) > ''2025-01-11 00:00:00+00'''),
	('in segment ''VIP'' for at least 0 days', 'joined(c.id) IS NOT NULL'),
	('in segment ''VIP'' for less than 0 minutes', 'false'),
	('in segment ''VIP'' for at least 1 month', 'joined(c.id) <= ''2025-01-10 00:00:00+00'''),
	('in segment ''VIP'' for less than 2 weeks and account_id = 1', 'joined(c.id) > ''2025-01-27 00:00:00+00'' AND c.account_id = 1'),
	('in segment ''VIP'' for at least 10 days and in segment ''VIP'' for less than 20 days',
		'joined(c.id) <= ''2025-01-31 00:00:00+00'' AND joined(c.id) > ''2025-01-21 00:00:00+00'''),
	('in segment ''VIP'' for at least 1 year', 'false')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- The edge itself: contact 10 joined exactly 30 days ago, contact 11 a
-- day later; contact 14 is not a member.
SELECT c, joined(c), segments.matches(c, 'in segment ''VIP'' for at least 30 days') AS at_least_30,
	segments.matches(c, 'in segment ''VIP'' for less than 30 days') AS less_than_30
FROM unnest(ARRAY[10, 11, 14]::bigint[]) AS c;
SELECT * FROM segments.explain(10::bigint, 'in segment ''VIP'' for at least 30 days or in segment ''VIP''');
SELECT * FROM segments.explain(11::bigint, 'in segment ''VIP'' for less than 30 days');
SELECT * FROM segments.explain(14::bigint, 'in segment ''VIP'' for less than 30 days');

-- Text, canonical text and JSON.
SELECT r::text AS canonical, segments.rule_to_jsonb(r) AS json,
	segments.rule_from_jsonb(segments.rule_to_jsonb(r)) OPERATOR(segments.=) r AS round_trip
FROM (VALUES
	('in segment ''VIP'' for at least 30 days'::segments.rule),
	('IN SEGMENT ''VIP'' FOR LESS THAN 1 HOUR'),
	('not in segment ''Trial'' for at least 1 day'),
	('in segment ''VIP'' for at least 0 days and in segment ''VIP''')
) AS t(r);
SELECT '{"in_segment": "Trial", "for": {"op": "less than", "amount": 3, "unit": "days"}}'::jsonb::segments.rule;
SELECT * FROM segments.rule_references('in segment ''VIP'' for at least 30 days and in segment ''Other''');
SELECT segments.rule_depends_on_time('in segment ''VIP'' for at least 30 days') AS relative,
	segments.rule_depends_on_time('in segment ''VIP''') AS plain;

-- What users get wrong.
SELECT * FROM try_rule('in segment ''VIP'' for 30 days');
SELECT * FROM try_rule('in segment ''VIP'' for at least 30');
SELECT * FROM try_rule('in segment ''VIP'' for more than 30 days');
SELECT * FROM try_rule('in segment ''VIP'' for at most 30 days');
SELECT * FROM try_rule('in segment ''VIP'' for less 3 days');
SELECT * FROM try_rule('in segment ''VIP'' for at least -1 days');
SELECT * FROM try_rule('event ''opened'' where (in segment ''VIP'' for at least 1 day)');
SELECT * FROM try('SELECT ''{"in_segment": "VIP", "for": {"op": "more than", "amount": 3, "unit": "day"}}''::jsonb::segments.rule');
SELECT * FROM try('SELECT ''{"in_segment": "VIP", "for": {"op": "at least", "amount": 3}}''::jsonb::segments.rule');
SELECT * FROM try('SELECT ''{"in_segment": "VIP", "for": 3}''::jsonb::segments.rule');
SELECT * FROM try('SELECT segments.preview_count(''in segment ''''Nope'''' for at least 1 day'')');

-- to_sql: the time relative to segments.now(), to keep and run later.
SELECT regexp_replace(segments.to_sql('in segment ''VIP'' for at least 30 days'), '\(pg_catalog\.=\) \d+', '(pg_catalog.=) <VIP>');

--
-- A segment of members of long standing, kept by writes and ticks.
--
SELECT segments.create_segment('Loyal', 'in segment ''VIP'' for at least 30 days') IS NOT NULL AS loyal,
	segments.create_segment('New', 'in segment ''VIP'' for less than 7 days') IS NOT NULL AS new;
SELECT count(*) FILTER (WHERE m.segment_id = (SELECT id FROM segments.segment WHERE name = 'Loyal')) AS loyal,
	count(*) FILTER (WHERE m.segment_id = (SELECT id FROM segments.segment WHERE name = 'New')) AS new,
	all_verified() AS verified
FROM segments.membership m;
SELECT count(*) FROM new_log();

-- Time passes: on 2025-02-12 the members who joined up to 2025-01-13
-- (i % 40 <= 12) are loyal; those who joined before 2025-02-05 are no
-- longer new.
SET segments.now_override = '2025-02-12 00:00:00+00';
SELECT segments.tick() AS changes;
SELECT * FROM new_log();
SELECT all_verified() AS verified;
-- Nothing more is due at the same time.
SELECT segments.tick() AS changes;

-- A write: contact 12 (loyal) leaves VIP, and so Loyal, in the same
-- statement; back on the plan, it joins VIP now and is new again.
UPDATE contacts SET plan = 'free' WHERE id = 12;
SELECT * FROM new_log();
UPDATE contacts SET plan = 'vip' WHERE id = 12;
SELECT * FROM new_log();
SELECT joined(12) AS joined_anew, all_verified() AS verified;

-- The time in segment of a segment that is itself time-relative: both
-- are swept in one tick, in dependency order.  Contact 12 joined New on
-- 2025-02-12 and 38 on 2025-02-10, when it was built; a day and a half
-- later, 12 is new in it and 38 is not.
SELECT segments.create_segment('Recent', 'plan = ''vip'' and in segment ''New'' for less than 1 day') IS NOT NULL AS created;
SELECT * FROM new_log();
SET segments.now_override = '2025-02-13 12:00:00+00';
SELECT segments.tick() AS changes;
SELECT * FROM new_log();
SET segments.now_override = '2025-03-31 00:00:00+00';
SELECT segments.tick() AS changes;
SELECT * FROM new_log();
SELECT all_verified() AS verified;

-- The segment a rule measures time in cannot be dropped while it is used.
SELECT * FROM try('SELECT segments.drop_segment(''VIP'')');

SELECT segments.drop_segment('Recent');
SELECT segments.drop_segment('Loyal');
SELECT segments.drop_segment('New');
SELECT segments.drop_segment('VIP');
RESET segments.now_override;
SELECT segments.detach_contacts();
DROP FUNCTION joined(bigint);
DROP TABLE contacts;
