-- Rebuilding everything against keeping current: the segments of the rule
-- suite (bench/rules.sql) against a materialized view of the same
-- memberships, written by hand (one UNION ALL branch per rule), which is
-- what an application without the extension refreshes on a schedule.
--
--   psql -v updates=50 -v runs=3 -f bench/refresh.sql   (after bench/data.sql and attach)
--
-- Rows ("row|..." for bench/run.sh):
--   * rebuild all: segments.refresh_segment of every suite segment (a full
--     re-evaluation that writes only the differences) against
--     REFRESH MATERIALIZED VIEW; the best of runs each;
--   * current after one write: a single-row UPDATE of a contact's score and
--     country in its own transaction, COMMIT (and so the maintenance of
--     every segment) included, the median of updates of them, against the
--     one REFRESH MATERIALIZED VIEW CONCURRENTLY (the view stays readable)
--     that brings the view up to date after them (run once).
-- Then the view, refreshed, must equal the maintained membership of every
-- segment, contact by contact; a difference stops the script with an error.
-- The updated contacts are restored at the end; the segments and the view
-- are dropped.  Setup (the segments' builds, the view's) is printed apart.

\set ON_ERROR_STOP 1
\ir rules.sql
\if :{?updates}
\else
\set updates 50
\endif
SELECT set_config('bench.updates', :'updates', false) \gset

SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE 'bench %' ORDER BY id DESC) s \gset
DROP MATERIALIZED VIEW IF EXISTS public.bench_segments_mv;

SELECT pg_temp.elapsed($$
	SELECT segments.create_segment('bench US', 'country = ''US''');
	SELECT count(segments.create_segment('bench ' || id, rule::segments.rule)) FROM bench_rule$$) AS "setup: segments built (ms)";
SELECT pg_temp.elapsed(format(
	'CREATE MATERIALIZED VIEW public.bench_segments_mv AS %s',
	string_agg(format('SELECT %s AS rule, c.id AS contact FROM public.contacts c WHERE %s', id, hand),
	           ' UNION ALL ' ORDER BY id))) AS "setup: view built (ms)"
FROM bench_rule;
CREATE UNIQUE INDEX ON public.bench_segments_mv (rule, contact);
VACUUM ANALYZE public.bench_segments_mv, segments.membership, segments.membership_log;

CREATE TEMP TABLE bench_times (what text, ms numeric);
DO $$
DECLARE i int;
BEGIN
	FOR i IN 1 .. current_setting('bench.runs')::int LOOP
		INSERT INTO bench_times
		SELECT 'refresh_segment', pg_temp.elapsed('SELECT count(segments.refresh_segment(id)) FROM segments.segment WHERE name ~ ''^bench [0-9]+$''');
		INSERT INTO bench_times SELECT 'refresh view', pg_temp.elapsed('REFRESH MATERIALIZED VIEW public.bench_segments_mv');
	END LOOP;
END $$;

-- The contacts the updates touch, as they were.
CREATE TEMP TABLE bench_updated AS
SELECT c.id, c.score, c.country
FROM generate_series(1, current_setting('bench.updates')::int) AS i
JOIN public.contacts c ON c.id = 1 + (i::bigint * 7919) % (SELECT max(id) FROM public.contacts);

DO $$
DECLARE
	k bigint;
	t0 timestamptz;
BEGIN
	FOR k IN SELECT id FROM bench_updated ORDER BY id LOOP
		t0 := clock_timestamp();
		UPDATE public.contacts
		SET score = (coalesce(score, 0) + 37) % 101,
		    country = CASE WHEN country = 'US' THEN 'CA' ELSE 'US' END
		WHERE id = k;
		COMMIT;
		INSERT INTO bench_times VALUES ('update', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 3));
	END LOOP;
	-- once: it is three orders of magnitude away, and the slowest step
	INSERT INTO bench_times
	SELECT 'refresh view concurrently', pg_temp.elapsed('REFRESH MATERIALIZED VIEW CONCURRENTLY public.bench_segments_mv');
END $$;

-- The rebuilt view and the maintained membership agree.
DO $$
DECLARE differ bigint;
BEGIN
	SELECT count(*) INTO differ FROM (
		(SELECT v.rule, v.contact FROM public.bench_segments_mv v
		 EXCEPT SELECT substr(s.name, 7)::int, m.contact
		        FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
		        WHERE s.name ~ '^bench [0-9]+$')
		UNION ALL
		(SELECT substr(s.name, 7)::int, m.contact
		 FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
		 WHERE s.name ~ '^bench [0-9]+$'
		 EXCEPT SELECT v.rule, v.contact FROM public.bench_segments_mv v)) d;
	IF differ <> 0 THEN
		RAISE EXCEPTION '% (rule, contact) pairs differ between the maintained segments and the refreshed view', differ;
	END IF;
END $$;

SELECT what, count(*) AS times, min(ms) AS best_ms,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS median_ms
FROM bench_times GROUP BY what ORDER BY what;

\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'
WITH t AS (
	SELECT min(ms) FILTER (WHERE what = 'refresh_segment') AS ours_rebuild,
	       min(ms) FILTER (WHERE what = 'refresh view') AS view_rebuild,
	       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FILTER (WHERE what = 'update') AS ours_update,
	       min(ms) FILTER (WHERE what = 'refresh view concurrently') AS view_update,
	       (SELECT count(*) FROM bench_rule) AS n
	FROM bench_times)
SELECT 'row', format('rebuild %s segments: refresh_segment, REFRESH MATERIALIZED VIEW', n),
       round(ours_rebuild) || ' ms', round(view_rebuild) || ' ms',
       round(ours_rebuild / greatest(view_rebuild, 0.1), 2) || 'x', '-', '-'
FROM t
UNION ALL
SELECT 'row', format('%s segments current after a 1-row UPDATE: the UPDATE, REFRESH CONCURRENTLY', n),
       round(ours_update::numeric, 2) || ' ms', round(view_update) || ' ms',
       ltrim(to_char(ours_update / greatest(view_update, 0.1), '9.9EEEE')) || 'x', '-', '-'
FROM t;
\pset format aligned
\pset tuples_only off

UPDATE public.contacts c SET score = u.score, country = u.country FROM bench_updated u WHERE u.id = c.id;
DROP MATERIALIZED VIEW public.bench_segments_mv;
SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name ~ '^bench [0-9]+$' ORDER BY id DESC) s \gset
SELECT segments.drop_segment('bench US') \gset
