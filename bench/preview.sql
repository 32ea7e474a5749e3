-- Preview cost: segments.preview_count against a hand-written
-- SELECT count(*) of the same rule, for rules of every condition kind.
--
--   psql -v runs=3 -f bench/preview.sql      (after bench/data.sql and attach)
--
-- Each count runs runs times each way; the best time of each is kept.

\set ON_ERROR_STOP 1
SET segments.now_override = '2025-06-15 12:00:00+00';
SET max_parallel_workers_per_gather = 0;
\if :{?runs}
\else
\set runs 3
\endif
SELECT set_config('bench.runs', :'runs', false);

CREATE TEMP TABLE bench_rule (id serial, rule text, hand text);
INSERT INTO bench_rule (rule, hand) VALUES
('country = ''US''', 'c.country = ''US'''),
('plan in (''pro'', ''team'')', 'c.plan IN (''pro'', ''team'')'),
('score between 10 and 20', 'c.score BETWEEN 10 AND 20'),
('email ends with ''@gmail.com''', 'c.email ILIKE ''%@gmail.com'''),
('props.ltv >= 1000', 'jsonb_typeof(c.props -> ''ltv'') = ''number'' AND (c.props ->> ''ltv'')::numeric >= 1000'),
('props.city = ''Paris''', 'c.props @> ''{"city": "Paris"}'''),
('tags contains ''vip''', 'c.tags @> ARRAY[''vip'']'),
('created_at within last 30 days', 'c.created_at BETWEEN timestamptz ''2025-05-16 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'''),
('event ''opened''', 'EXISTS (SELECT FROM events e WHERE e.contact_id = c.id AND e.kind = ''opened'')'),
('event ''opened'' count >= 3 within last 30 days',
 'c.id IN (SELECT e.contact_id FROM events e WHERE e.kind = ''opened'' AND e.occurred_at BETWEEN timestamptz ''2025-05-16 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'' GROUP BY 1 HAVING count(*) >= 3)'),
('event ''clicked'' where (url contains ''pricing'') within last 90 days',
 'EXISTS (SELECT FROM events e WHERE e.contact_id = c.id AND e.kind = ''clicked'' AND e.url ILIKE ''%pricing%'' AND e.occurred_at BETWEEN timestamptz ''2025-03-17 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'')'),
('not event ''opened'' within last 180 days',
 'NOT EXISTS (SELECT FROM events e WHERE e.contact_id = c.id AND e.kind = ''opened'' AND e.occurred_at BETWEEN timestamptz ''2024-12-17 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'')'),
('event ''opened'' count < 2',
 'NOT EXISTS (SELECT FROM (SELECT e.contact_id FROM events e WHERE e.kind = ''opened'' GROUP BY 1 HAVING count(*) >= 2) g WHERE g.contact_id = c.id)'),
('in list 7', 'EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 7)'),
('not in list 3', 'NOT EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 3)');

CREATE FUNCTION pg_temp.best(sql text) RETURNS TABLE (ms numeric, n bigint) LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	i int;
BEGIN
	ms := NULL;
	FOR i IN 1 .. current_setting('bench.runs')::int LOOP
		t0 := clock_timestamp();
		EXECUTE sql INTO n;
		ms := least(ms, round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1));
	END LOOP;
	RETURN NEXT;
END $$;

CREATE TEMP TABLE bench_result AS
SELECT r.rule, o.n AS matching, o.ms AS ours_ms, h.ms AS hand_ms, o.n = h.n AS same
FROM bench_rule r,
	LATERAL pg_temp.best(format('SELECT segments.preview_count(%L)', r.rule)) o,
	LATERAL pg_temp.best('SELECT count(*) FROM public.contacts c WHERE ' || r.hand) h
ORDER BY r.id;

SELECT rule, matching, ours_ms, hand_ms, round(ours_ms / hand_ms, 2) AS ratio, same FROM bench_result;
SELECT round(exp(avg(ln(ours_ms / hand_ms))), 2) AS geometric_mean_ratio FROM bench_result;
