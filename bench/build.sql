-- Build cost: segments.create_segment against a hand-written
-- INSERT ... SELECT of the same rule into a table like segments.membership
-- (same columns and indexes), for the rule suite of bench/rules.sql.
--
--   psql -v runs=3 -f bench/build.sql      (after bench/data.sql and attach)
--
-- Each rule is built runs times each way, alternately, after a CHECKPOINT;
-- the best time of each is kept.  Before each run both targets hold the
-- same rows: those of the segment 'bench US' (which rule 24 refers to).
-- Every build is checked against the hand-written one, contact by contact,
-- and a difference stops the script with an error.  It truncates
-- segments.membership and its log: run it on a benchmark database only.
-- Prints one row per rule with its ratio, then the summary rows that
-- bench/run.sh collects ("row|...").

\set ON_ERROR_STOP 1
\ir rules.sql

DROP TABLE IF EXISTS public.bench_base;
CREATE TABLE public.bench_base (LIKE segments.membership INCLUDING ALL);
-- on a Citus cluster (bench/citus.sh), distributed as the membership is
SELECT segments._citus_method('segments.membership') IS NOT NULL AS on_citus \gset
\if :on_citus
SELECT create_distributed_table('public.bench_base', 'tenant', colocate_with => 'public.contacts') AS distributed \gset
\endif
SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE 'bench %' ORDER BY id DESC) s \gset
SELECT segments.create_segment('bench US', 'country = ''US''') \gset

CREATE TEMP TABLE bench_result (id int, kind text, rule text, members bigint, ours_ms numeric, hand_ms numeric);

DO $$
DECLARE
	r record;
	i int;
	ours numeric;
	hand numeric;
	best_ours numeric;
	best_hand numeric;
	n bigint;
	sid bigint;
	differ bigint;
BEGIN
	FOR r IN SELECT * FROM bench_rule ORDER BY id LOOP
		best_ours := NULL;
		best_hand := NULL;
		FOR i IN 1 .. current_setting('bench.runs')::int LOOP
			-- both targets hold the rows of 'bench US' only
			TRUNCATE public.bench_base, segments.membership, segments.membership_log;
			PERFORM segments.refresh_segment('bench US');
			INSERT INTO public.bench_base SELECT * FROM segments.membership;
			-- each step its own transaction, as a build is (on Citus, a
			-- transaction that wrote a table over several connections to a
			-- node cannot read it over one)
			COMMIT;
			CHECKPOINT;
			hand := pg_temp.elapsed(format(
				CASE WHEN segments._key_per_tenant()
					THEN 'INSERT INTO public.bench_base (segment_id, tenant, contact) SELECT -1, c.account_id, c.id FROM public.contacts c WHERE %s'
					ELSE 'INSERT INTO public.bench_base (segment_id, contact) SELECT -1, c.id FROM public.contacts c WHERE %s' END,
				r.hand));
			COMMIT;
			CHECKPOINT;
			ours := pg_temp.elapsed(format('SELECT segments.create_segment(%L, %L)', 'bench ' || r.id, r.rule));
			SELECT id INTO sid FROM segments.segment WHERE name = 'bench ' || r.id;
			SELECT count(*) INTO n FROM segments.membership WHERE segment_id = sid;
			SELECT count(*) INTO differ FROM (
				(SELECT contact FROM segments.membership WHERE segment_id = sid
				 EXCEPT SELECT contact FROM public.bench_base WHERE segment_id = -1)
				UNION ALL
				(SELECT contact FROM public.bench_base WHERE segment_id = -1
				 EXCEPT SELECT contact FROM segments.membership WHERE segment_id = sid)) d;
			IF differ <> 0 THEN
				RAISE EXCEPTION 'rule % built % members, % of them or of the hand-written query''s % differ',
					r.rule, n, differ, (SELECT count(*) FROM public.bench_base WHERE segment_id = -1);
			END IF;
			PERFORM segments.drop_segment(sid);
			best_ours := least(best_ours, ours);
			best_hand := least(best_hand, hand);
			COMMIT;
		END LOOP;
		INSERT INTO bench_result VALUES (r.id, r.kind, r.rule, n, best_ours, best_hand);
	END LOOP;
END $$;

SELECT id, kind, rule, members, ours_ms, hand_ms, round(ours_ms / hand_ms, 2) AS ratio
FROM bench_result ORDER BY id;

SELECT segments.drop_segment('bench US') \gset
DROP TABLE public.bench_base;
\set work 'create a segment (full build)'
\set goal '<= 1.2x'
\set limit 1.2
\ir summary.sql
