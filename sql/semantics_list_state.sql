--
-- semantics_list_state: lists with state and time.  A list condition may
-- filter the contact's rows of the list, as an event condition filters
-- events:
--
--   in list v where (cond)   a row (contact, v) passing cond, a condition
--                            on the row's columns
--   in list v <window>       a row (contact, v) whose time (the lists'
--                            at column) is in the window: within last N
--                            unit, since t, before t, between t1 and t2
--
-- A row without a time is in no window.  Each rule is evaluated by the
-- compiled SQL, by the C evaluator and by a hand-written condition (see
-- semantics_fields); agree is true when the three sets are equal.
--
SET segments.now_override = '2025-06-15 12:00:00+00';

CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL DEFAULT 1);
INSERT INTO contacts (id) SELECT i FROM generate_series(1, 200) AS i;

-- Subscriptions: a status, when (a Berlin clock: 12:00 UTC is 14:00
-- there), and where from.  Contacts 1 to 160 are on the newsletter, some
-- unsubscribed since; 161 to 200 on no list.
CREATE TABLE subscriptions (
	contact_id bigint NOT NULL,
	list text NOT NULL,
	status text,
	subscribed_at timestamp,
	source text,
	PRIMARY KEY (contact_id, list)
);
INSERT INTO subscriptions
SELECT i, 'newsletter',
	CASE WHEN i % 10 = 0 THEN NULL WHEN i % 4 = 0 THEN 'unsubscribed' ELSE 'subscribed' END,
	CASE WHEN i % 25 = 0 THEN NULL ELSE timestamp '2025-06-15 14:00' - i * interval '9 hours' END,
	(ARRAY['form', 'import', 'api'])[1 + i % 3]
FROM generate_series(1, 160) AS i;
INSERT INTO subscriptions
SELECT i, 'product news', 'subscribed', timestamp '2025-06-15 14:00' - i * interval '2 days', 'form'
FROM generate_series(1, 160, 3) AS i;
SELECT list, status, count(*), count(subscribed_at) AS with_time
FROM subscriptions GROUP BY list, status ORDER BY list, status;

SELECT segments.attach_contacts('contacts', key => 'id');

-- The time column is optional; without it a window is refused.
SELECT segments.attach_lists('subscriptions', contact => 'contact_id', list => 'list');
SELECT * FROM try($$SELECT segments.preview_count('in list ''newsletter'' within last 7 days')$$);
SELECT segments.detach_lists();
SELECT * FROM try($$SELECT segments.attach_lists('subscriptions', contact => 'contact_id', list => 'list', at => 'source')$$);
SELECT * FROM try($$SELECT segments.attach_lists('subscriptions', contact => 'contact_id', list => 'list', at => 'list')$$);
SELECT * FROM try($$SELECT segments.attach_lists('subscriptions', contact => 'contact_id', list => 'list', at => 'subscribed')$$);
SELECT segments.attach_lists('subscriptions', contact => 'contact_id', list => 'list',
	at => 'subscribed_at', time_zone => 'Europe/Berlin');
SELECT role, list_column, at_column, time_zone FROM segments.attached WHERE role = 'lists';

-- s(contact, list, filter): the hand-written test of the contact's rows.
CREATE FUNCTION s(contact bigint, list text, filter text DEFAULT 'true') RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
	result boolean;
BEGIN
	EXECUTE format('SELECT EXISTS (SELECT FROM subscriptions l WHERE l.contact_id = $1 AND l.list = $2 AND (%s))', filter)
	INTO result USING contact, list;
	RETURN result;
END
$$;

-- Berlin's clock shows 2025-06-15 14:00.
SELECT k.* FROM (VALUES
	('in list ''newsletter''', $$s(c.id, 'newsletter')$$),
	('in list ''newsletter'' where (status = ''subscribed'')', $$s(c.id, 'newsletter', 'l.status = ''subscribed''')$$),
	('not in list ''newsletter'' where (status = ''unsubscribed'')', $$NOT s(c.id, 'newsletter', 'l.status = ''unsubscribed''')$$),
	('in list ''newsletter'' where (status is null)', $$s(c.id, 'newsletter', 'l.status IS NULL')$$),
	('in list ''newsletter'' where (status != ''unsubscribed'')', $$s(c.id, 'newsletter', 'l.status <> ''unsubscribed''')$$),
	('in list ''newsletter'' where (status = ''subscribed'' and (source = ''form'' or source = ''api''))',
		$$s(c.id, 'newsletter', 'l.status = ''subscribed'' AND l.source IN (''form'', ''api'')')$$),
	('in list ''newsletter'' where (not source in (''import''))', $$s(c.id, 'newsletter', 'l.source <> ''import''')$$),
	('in list ''newsletter'' within last 7 days', $$s(c.id, 'newsletter', $f$l.subscribed_at BETWEEN '2025-06-08 14:00' AND '2025-06-15 14:00'$f$)$$),
	('in list ''newsletter'' since 20 days ago', $$s(c.id, 'newsletter', $f$l.subscribed_at >= '2025-05-26 14:00'$f$)$$),
	('in list ''newsletter'' before 40 days ago', $$s(c.id, 'newsletter', $f$l.subscribed_at < '2025-05-06 14:00'$f$)$$),
	('in list ''newsletter'' between ''2025-05-01'' and ''2025-05-31''', $$s(c.id, 'newsletter', $f$l.subscribed_at BETWEEN '2025-05-01' AND '2025-05-31'$f$)$$),
	('in list ''newsletter'' ever', $$s(c.id, 'newsletter')$$),
	('in list ''newsletter'' where (status = ''subscribed'') within last 30 days',
		$$s(c.id, 'newsletter', $f$l.status = 'subscribed' AND l.subscribed_at BETWEEN '2025-05-16 14:00' AND '2025-06-15 14:00'$f$)$$),
	('not in list ''newsletter'' within last 30 days', $$NOT s(c.id, 'newsletter', $f$l.subscribed_at BETWEEN '2025-05-16 14:00' AND '2025-06-15 14:00'$f$)$$),
	('in list ''product news'' within last 30 days and in list ''newsletter'' where (status = ''subscribed'')',
		$$s(c.id, 'product news', $f$l.subscribed_at BETWEEN '2025-05-16 14:00' AND '2025-06-15 14:00'$f$) AND s(c.id, 'newsletter', 'l.status = ''subscribed''')$$),
	('in list ''newsletter'' where (subscribed_at > 10 days ago)', $$s(c.id, 'newsletter', $f$l.subscribed_at > '2025-06-05 14:00'$f$)$$),
	('in list ''nobody'' within last 7 days', 'false')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- The text, JSON and references of the new forms.
SELECT r::segments.rule::text AS canonical, r::segments.rule::jsonb AS json,
	(r::segments.rule::jsonb)::segments.rule::text = r::segments.rule::text AS json_round_trip
FROM (VALUES
	('IN LIST ''newsletter'' WHERE (status = ''subscribed'') WITHIN LAST 7 DAYS'),
	('in list 7 ever'),
	('in list 7 since ''2025-01-01'''),
	('in list ''a'' where (x in (1, 2)) between 3 days ago and now')
) AS t(r);
SELECT * FROM segments.rule_references('in list ''newsletter'' where (status = ''subscribed'') within last 7 days or in list 3');
SELECT segments.rule_from_jsonb('{"in_list": "newsletter", "where": {"field": ["status"], "op": "=", "value": "subscribed"}, "window": {"op": "since", "value": {"time": "ago", "amount": 7, "unit": "day"}}}')::text;

-- What is wrong, said.
SELECT * FROM try($$SELECT 'in list 7 where (in list 8)'::segments.rule$$);
SELECT * FROM try($$SELECT 'in list 7 where (event ''x'')'::segments.rule$$);
SELECT * FROM try($$SELECT 'in list 7 within 3 days'::segments.rule$$);
SELECT * FROM try($$SELECT segments.rule_from_jsonb('{"in_list": 7, "where": {"in_list": 8}}')$$);
SELECT * FROM try($$SELECT segments.rule_from_jsonb('{"in_list": 7, "window": {"op": "sometimes"}}')$$);
SELECT * FROM try($$SELECT segments.preview_count('in list ''newsletter'' where (stauts = ''subscribed'')')$$);
SELECT * FROM try($$SELECT segments.preview_count('in list ''newsletter'' since 5')$$);
SELECT * FROM try($$SELECT segments.preview_count('in list ''newsletter'' since ''today''')$$);

-- explain and to_sql.
SELECT * FROM segments.explain(3::bigint, 'in list ''newsletter'' where (status = ''subscribed'') within last 7 days');
SELECT segments.to_sql('in list ''newsletter'' where (status = ''subscribed'') within last 7 days');

-- Segments are built, then kept by writes to the lists and by time.
SELECT segments.create_segment('subscribed', 'in list ''newsletter'' where (status = ''subscribed'')') IS NOT NULL AS created;
SELECT segments.create_segment('new subscribers', 'in list ''newsletter'' within last 7 days') IS NOT NULL AS created;
SELECT segments.create_segment('lapsed', 'in list ''newsletter'' where (status = ''subscribed'') before 30 days ago') IS NOT NULL AS created;
SELECT s.name, count(m.contact) AS members
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name ORDER BY s.id;
UPDATE subscriptions SET status = 'unsubscribed' WHERE contact_id = 1 AND list = 'newsletter';
INSERT INTO subscriptions VALUES (170, 'newsletter', 'subscribed', '2025-06-15 13:00', 'form');
UPDATE subscriptions SET subscribed_at = '2025-04-01' WHERE contact_id = 2 AND list = 'newsletter';
SELECT s.name, m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact IN (1, 2, 170) ORDER BY s.id, m.contact;
SET segments.now_override = '2025-06-20 12:00:00+00';
SELECT segments.tick() > 0 AS ticked;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;

-- A renamed column of the lists is followed; a column a where clause
-- uses cannot be dropped.
ALTER TABLE subscriptions RENAME COLUMN status TO state;
SELECT name, rule::text FROM segments.segment ORDER BY id;
SELECT * FROM try($$ALTER TABLE subscriptions DROP COLUMN state$$);
ALTER TABLE subscriptions DROP COLUMN source;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;

SELECT segments.drop_segment(name) FROM segments.segment ORDER BY id;
SELECT segments.detach_lists();
SELECT segments.detach_contacts();
DROP FUNCTION s(bigint, text, text);
DROP TABLE contacts, subscriptions;
RESET segments.now_override;
