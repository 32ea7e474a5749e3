-- Build cost: segments.create_segment against a hand-written
-- INSERT ... SELECT of the same rule into a table like segments.membership
-- (same columns and indexes), for rules of every condition kind.
--
--   psql -v runs=3 -f bench/build.sql      (after bench/data.sql and attach)
--
-- Each rule is built runs times each way, alternately, into empty tables
-- after a CHECKPOINT; the best time of each is kept.  It truncates
-- segments.membership and its log: run it on a benchmark database only.  Prints one row per rule with the ratio.

\set ON_ERROR_STOP 1
SET segments.now_override = '2025-06-15 12:00:00+00';
SET max_parallel_workers_per_gather = 0;
\if :{?runs}
\else
\set runs 3
\endif
SELECT set_config('bench.runs', :'runs', false);

DROP TABLE IF EXISTS public.bench_base;
CREATE TABLE public.bench_base (LIKE segments.membership INCLUDING ALL);

CREATE TEMP TABLE bench_rule (id serial, rule text, hand text);
INSERT INTO bench_rule (rule, hand) VALUES
('plan in (''pro'', ''team'')', 'c.plan IN (''pro'', ''team'')'),
('country = ''US'' and score >= 50', 'c.country = ''US'' AND c.score >= 50'),
('email ends with ''@gmail.com''', 'c.email ILIKE ''%@gmail.com'''),
('props.ltv >= 1000', 'jsonb_typeof(c.props -> ''ltv'') = ''number'' AND (c.props ->> ''ltv'')::numeric >= 1000'),
('tags contains ''vip''', 'c.tags @> ARRAY[''vip'']'),
('created_at < 90 days ago', 'c.created_at < timestamptz ''2025-06-15 12:00:00+00'' - interval ''90 days'''),
('event ''opened'' count >= 3 within last 30 days',
 'c.id IN (SELECT e.contact_id FROM events e WHERE e.kind = ''opened'' AND e.occurred_at BETWEEN timestamptz ''2025-05-16 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'' GROUP BY 1 HAVING count(*) >= 3)'),
('not event ''opened'' within last 180 days',
 'NOT EXISTS (SELECT FROM events e WHERE e.contact_id = c.id AND e.kind = ''opened'' AND e.occurred_at BETWEEN timestamptz ''2024-12-17 12:00:00+00'' AND timestamptz ''2025-06-15 12:00:00+00'')'),
('in list 7', 'EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 7)');

CREATE FUNCTION pg_temp.elapsed(sql text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE sql;
	RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
END $$;

CREATE TEMP TABLE bench_result (rule text, members bigint, ours_ms numeric, hand_ms numeric);

DO $$
DECLARE
	r record;
	i int;
	ours numeric;
	hand numeric;
	best_ours numeric;
	best_hand numeric;
	n bigint;
BEGIN
	FOR r IN SELECT * FROM bench_rule ORDER BY id LOOP
		best_ours := NULL;
		best_hand := NULL;
		FOR i IN 1 .. current_setting('bench.runs')::int LOOP
			-- both targets empty and freshly truncated, dirty pages flushed
			TRUNCATE public.bench_base, segments.membership, segments.membership_log;
			CHECKPOINT;
			hand := pg_temp.elapsed(format(
				'INSERT INTO public.bench_base (segment_id, contact) SELECT 1, c.id FROM public.contacts c WHERE %s',
				r.hand));
			CHECKPOINT;
			ours := pg_temp.elapsed(format('SELECT segments.create_segment(%L, %L)', 'bench ' || r.id, r.rule));
			SELECT count(*) INTO n FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
			WHERE s.name = 'bench ' || r.id;
			IF n <> (SELECT count(*) FROM public.bench_base) THEN
				RAISE EXCEPTION 'rule % built % members, the hand-written query %', r.rule, n,
					(SELECT count(*) FROM public.bench_base);
			END IF;
			PERFORM segments.drop_segment('bench ' || r.id);
			best_ours := least(best_ours, ours);
			best_hand := least(best_hand, hand);
		END LOOP;
		INSERT INTO bench_result VALUES (r.rule, n, best_ours, best_hand);
	END LOOP;
END $$;

SELECT rule, members, ours_ms, hand_ms, round(ours_ms / hand_ms, 2) AS ratio FROM bench_result;
SELECT round(exp(avg(ln(ours_ms / hand_ms))), 2) AS geometric_mean_ratio FROM bench_result;
DROP TABLE public.bench_base;
