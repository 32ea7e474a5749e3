-- Preview cost: segments.preview_count against a hand-written
-- SELECT count(*) of the same rule, for the rule suite of bench/rules.sql.
--
--   psql -v runs=3 -f bench/preview.sql      (after bench/data.sql and attach)
--
-- Each count runs runs times each way; the best time of each is kept.  A
-- count that differs from the hand-written one stops the script with an
-- error.  Creates the segment 'bench US' (rule 24 refers to it) and drops it
-- at the end.  Prints one row per rule with its ratio, then the summary row
-- that bench/run.sh collects ("row|...").

\set ON_ERROR_STOP 1
\ir rules.sql

SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE 'bench %' ORDER BY id DESC) s \gset
SELECT segments.create_segment('bench US', 'country = ''US''') \gset

CREATE TEMP TABLE bench_result AS
SELECT r.id, r.kind, r.rule, o.n AS matching, h.n AS hand_matching, o.ms AS ours_ms, h.ms AS hand_ms
FROM bench_rule r,
	LATERAL pg_temp.best(format('SELECT segments.preview_count(%L)', r.rule)) o,
	LATERAL pg_temp.best('SELECT count(*) FROM public.contacts c WHERE ' || r.hand) h;

SELECT id, kind, rule, matching, ours_ms, hand_ms, round(ours_ms / hand_ms, 2) AS ratio
FROM bench_result ORDER BY id;

DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT * FROM bench_result WHERE matching <> hand_matching ORDER BY id LOOP
		RAISE EXCEPTION 'preview_count(%) is %, the hand-written count %', r.rule, r.matching, r.hand_matching;
	END LOOP;
END $$;

SELECT segments.drop_segment('bench US') \gset
\set work 'preview_count'
\set goal '<= 1.2x'
\set limit 1.2
\ir summary.sql
