-- A database with segments of every kind, for the operations tests
-- (test/scripts/upgrade.sh, restore.sh): bench/data.sql's contacts (with
-- tenants), events and lists, attached; a segment for each condition kind,
-- global and of one tenant, and one that refers to another; then the
-- lifecycle and writes of every cause.  Uses only what release 0.1 has.
--
--   psql -v contacts=2000 -v events=20000 -v tenants=4 -f test/ops/every_kind.sql

\set ON_ERROR_STOP 1
SET client_min_messages = warning;
\ir ../../bench/data.sql
-- The lists partitioned (test/ops/partitioned_lists.sql), with the rows
-- bench/data.sql made.
ALTER TABLE public.list_members RENAME TO list_members_flat;
ALTER TABLE public.list_members_flat RENAME CONSTRAINT list_members_pkey TO list_members_flat_pkey;
\ir partitioned_lists.sql
INSERT INTO public.list_members SELECT * FROM public.list_members_flat;
DROP TABLE public.list_members_flat;
ANALYZE public.list_members;

SET segments.now_override = '2025-06-15 12:00:00+00';
SELECT segments.attach_contacts('public.contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT segments.attach_lists('public.list_members', contact => 'contact_id', list => 'list_id');

SELECT count(segments.create_segment(name, rule::segments.rule)) AS global_segments
FROM (VALUES
	('US', 'country = ''US'''),
	('paying', 'plan in (''pro'', ''team'')'),
	('mid score', 'score between 10 and 20'),
	('no score', 'score is null'),
	('gmail', 'email ends with ''@gmail.com'''),
	('rich', 'props.ltv >= 1000'),
	('Paris', 'props.city = ''Paris'''),
	('vip', 'tags contains ''vip'''),
	('new', 'created_at within last 30 days'),
	('old', 'created_at < 90 days ago'),
	('US high', 'country = ''US'' and score >= 50'),
	('high or vip', 'score >= 60 or tags contains ''vip'''),
	('not US', 'not country = ''US'''),
	('openers', 'event ''opened'''),
	('engaged', 'event ''opened'' count >= 3 within last 30 days'),
	('pricing', 'event ''clicked'' where (url contains ''pricing'') within last 90 days'),
	('dormant', 'not event ''opened'' within last 180 days'),
	('clicked lately', 'event ''clicked'' between 30 days ago and 7 days ago'),
	('list 7', 'in list 7'),
	('not list 3', 'not in list 3'),
	('US and high', 'in segment ''US'' and score >= 50'),
	('to drop', 'score >= 90'),
	('to alter', 'score >= 80'),
	('to rename', 'plan = ''free''')) AS r(name, rule);
SELECT segments.create_segment('tenant 1 openers', 'event ''opened'' within last 60 days', tenant => 1);
SELECT segments.create_segment('tenant 2 US', 'country = ''US''', tenant => 2);

-- the lifecycle
SELECT segments.drop_segment('to drop');
SELECT segments.alter_segment('to alter', 'score >= 70');
SELECT segments.rename_segment('to rename', 'free plan');
SELECT segments.refresh_segment('US');

-- writes of every kind
UPDATE public.contacts SET country = 'US', score = 95 WHERE id % 97 = 0;
UPDATE public.contacts SET tags = tags || ARRAY['vip'] WHERE id % 89 = 0;
DELETE FROM public.contacts WHERE id % 101 = 0;
INSERT INTO public.contacts (id, account_id, email, country, plan, score, created_at, tags, props)
SELECT 100000 + i, 1 + i % 4, 'late' || i || '@gmail.com', 'US', 'pro', 55, '2025-06-10', ARRAY['vip'], '{"ltv": 2000}'
FROM generate_series(1, 50) i;
INSERT INTO public.events (id, contact_id, kind, occurred_at)
SELECT 10000000 + i * 10 + k, 100000 + i, 'opened', timestamptz '2025-06-14 12:00:00+00'
FROM generate_series(1, 50) i, generate_series(1, 3) k;
DELETE FROM public.list_members WHERE contact_id % 7 = 0;
INSERT INTO public.list_members (contact_id, list_id) SELECT 100000 + i, 7 FROM generate_series(1, 50) i;
-- time passes
SET segments.now_override = '2025-06-20 12:00:00+00';
SELECT segments.tick() >= 0 AS ticked;
