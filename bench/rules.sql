-- The benchmark's rule suite: one rule per condition kind, each with a
-- hand-written SQL condition over public.contacts c that selects the same
-- contacts, the way someone without the extension would write it.  Read by
-- bench/build.sql, bench/preview.sql and bench/refresh.sql (\ir rules.sql)
-- into the temporary table bench_rule (id, kind, rule, hand), after setting
-- up their session (bench/session.sql).
--
-- The times are those of segments.now_override = '2025-06-15 12:00:00+00',
-- the end of the year bench/data.sql generates: "30 days ago" is written
-- 2025-05-16 12:00:00+00 by hand.  Rule 24 refers to the segment
-- 'bench US' (country = 'US'), which the scripts create first and keep
-- while they run; by hand it reads that segment's membership, as an
-- application would read a table it maintains itself.

\ir session.sql

CREATE TEMP TABLE bench_rule (id int PRIMARY KEY, kind text NOT NULL, rule text NOT NULL, hand text NOT NULL);
INSERT INTO bench_rule VALUES
(1, 'field =', 'country = ''US''', 'c.country = ''US'''),
(2, 'field in', 'plan in (''pro'', ''team'')', 'c.plan IN (''pro'', ''team'')'),
(3, 'field between', 'score between 10 and 20', 'c.score BETWEEN 10 AND 20'),
(4, 'field is null', 'score is null', 'c.score IS NULL'),
(5, 'text ends with', 'email ends with ''@gmail.com''', 'c.email ILIKE ''%@gmail.com'''),
(6, 'text like', 'email like ''user1%''', 'c.email LIKE ''user1%'''),
(7, 'jsonb property, number', 'props.ltv >= 1000',
 'jsonb_typeof(c.props -> ''ltv'') = ''number'' AND (c.props ->> ''ltv'')::numeric >= 1000'),
(8, 'jsonb property, text', 'props.city = ''Paris''', 'c.props @> ''{"city": "Paris"}'''),
(9, 'array contains', 'tags contains ''vip''', 'c.tags @> ARRAY[''vip'']'),
(10, 'field within last', 'created_at within last 30 days',
 'c.created_at BETWEEN timestamptz ''2025-05-16 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'''),
(11, 'field < N ago', 'created_at < 90 days ago', 'c.created_at < timestamptz ''2025-03-17 12:00:00+00'''),
(12, 'and', 'country = ''US'' and score >= 50', 'c.country = ''US'' AND c.score >= 50'),
(13, 'or', 'score >= 60 or tags contains ''vip''', 'c.score >= 60 OR c.tags @> ARRAY[''vip'']'),
(14, 'not', 'not country = ''US''', 'c.country IS DISTINCT FROM ''US'''),
(15, 'event, ever', 'event ''opened''',
 'EXISTS (SELECT FROM public.events e WHERE e.contact_id = c.id AND e.kind = ''opened'')'),
(16, 'event count within last', 'event ''opened'' count >= 3 within last 30 days',
 'c.id IN (SELECT e.contact_id FROM public.events e WHERE e.kind = ''opened'' AND e.occurred_at BETWEEN timestamptz ''2025-05-16 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'' GROUP BY 1 HAVING count(*) >= 3)'),
(17, 'event where', 'event ''clicked'' where (url contains ''pricing'') within last 90 days',
 'EXISTS (SELECT FROM public.events e WHERE e.contact_id = c.id AND e.kind = ''clicked'' AND e.url ILIKE ''%pricing%'' AND e.occurred_at BETWEEN timestamptz ''2025-03-17 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'')'),
(18, 'not event within last', 'not event ''opened'' within last 180 days',
 'NOT EXISTS (SELECT FROM public.events e WHERE e.contact_id = c.id AND e.kind = ''opened'' AND e.occurred_at BETWEEN timestamptz ''2024-12-17 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'')'),
(19, 'event count <', 'event ''opened'' count < 2',
 'NOT EXISTS (SELECT FROM (SELECT e.contact_id FROM public.events e WHERE e.kind = ''opened'' GROUP BY 1 HAVING count(*) >= 2) g WHERE g.contact_id = c.id)'),
(20, 'event between', 'event ''clicked'' between 30 days ago and 7 days ago',
 'EXISTS (SELECT FROM public.events e WHERE e.contact_id = c.id AND e.kind = ''clicked'' AND e.occurred_at BETWEEN timestamptz ''2025-05-16 12:00:00+00'' AND timestamptz ''2025-06-08 12:00:00+00'')'),
(21, 'event since', 'event ''bounced'' since 45 days ago',
 'EXISTS (SELECT FROM public.events e WHERE e.contact_id = c.id AND e.kind = ''bounced'' AND e.occurred_at >= timestamptz ''2025-05-01 12:00:00+00'')'),
(22, 'in list', 'in list 7',
 'EXISTS (SELECT FROM public.list_members l WHERE l.contact_id = c.id AND l.list_id = 7)'),
(23, 'not in list', 'not in list 3',
 'NOT EXISTS (SELECT FROM public.list_members l WHERE l.contact_id = c.id AND l.list_id = 3)'),
(24, 'in segment', 'in segment ''bench US'' and score >= 50',
 'EXISTS (SELECT FROM segments.membership m WHERE m.segment_id = (SELECT s.id FROM segments.segment s WHERE s.name = ''bench US'') AND m.contact = c.id) AND c.score >= 50'),
(25, 'event count distinct', 'event ''opened'' count(distinct campaign) >= 3 within last 90 days',
 'c.id IN (SELECT e.contact_id FROM public.events e WHERE e.kind = ''opened'' AND e.occurred_at BETWEEN timestamptz ''2025-03-17 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'' GROUP BY 1 HAVING count(DISTINCT e.campaign) >= 3)'),
(26, 'event last before', 'event ''opened'' last before 30 days ago',
 'c.id IN (SELECT e.contact_id FROM public.events e WHERE e.kind = ''opened'' GROUP BY 1 HAVING max(e.occurred_at) < timestamptz ''2025-05-16 12:00:00+00'')'),
(27, 'event first within last', 'event ''clicked'' first within last 30 days',
 'c.id IN (SELECT e.contact_id FROM public.events e WHERE e.kind = ''clicked'' GROUP BY 1 HAVING min(e.occurred_at) BETWEEN timestamptz ''2025-05-16 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'')'),
(28, 'event max of a column', 'event ''bounced'' max(campaign) >= ''campaign-35''',
 'c.id IN (SELECT e.contact_id FROM public.events e WHERE e.kind = ''bounced'' GROUP BY 1 HAVING max(e.campaign) >= ''campaign-35'')'),
(29, 'in list where', 'in list 7 where (status = ''subscribed'')',
 'EXISTS (SELECT FROM public.list_members l WHERE l.contact_id = c.id AND l.list_id = 7 AND l.status = ''subscribed'')'),
(30, 'in list within last', 'in list 7 within last 30 days',
 'EXISTS (SELECT FROM public.list_members l WHERE l.contact_id = c.id AND l.list_id = 7 AND l.subscribed_at BETWEEN timestamptz ''2025-05-16 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'')'),
(31, 'event sum, second source', 'event ''purchased'' sum(amount) >= 500 within last 90 days',
 'c.id IN (SELECT p.contact_id FROM public.purchases p WHERE p.purchased_at BETWEEN timestamptz ''2025-03-17 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'' GROUP BY 1 HAVING sum(p.amount) >= 500)'),
(32, 'event avg, second source', 'event ''purchased'' where (currency = ''EUR'') avg(amount) >= 250',
 'c.id IN (SELECT p.contact_id FROM public.purchases p WHERE p.currency = ''EUR'' GROUP BY 1 HAVING avg(p.amount) >= 250)');

-- On contacts keyed per tenant (bench/tenant_keys.sh sets keyed): the
-- events, purchases, lists and membership name a contact by its tenant
-- too, and the hand-written queries join on both, as with such a schema
-- one would.
\if :{?keyed}
UPDATE bench_rule SET hand = replace(replace(replace(replace(replace(replace(replace(hand,
	'e.contact_id = c.id', 'e.contact_id = c.id AND e.account_id = c.account_id'),
	'l.contact_id = c.id', 'l.contact_id = c.id AND l.account_id = c.account_id'),
	'm.contact = c.id', 'm.contact = c.id AND m.tenant = c.account_id'),
	'c.id IN (SELECT e.contact_id ', '(c.account_id, c.id) IN (SELECT e.account_id, e.contact_id '),
	'c.id IN (SELECT p.contact_id ', '(c.account_id, c.id) IN (SELECT p.account_id, p.contact_id '),
	'(SELECT e.contact_id FROM', '(SELECT e.account_id, e.contact_id FROM'),
	'g.contact_id = c.id', 'g.contact_id = c.id AND g.account_id = c.account_id');
UPDATE bench_rule SET hand = replace(hand, ' GROUP BY 1 ', ' GROUP BY 1, 2 ') WHERE hand LIKE '%account_id, %.contact_id FROM%';
\endif
