-- The session of every benchmark script (\ir session.sql), and the
-- functions that time statements: the clock at the end of the data's year,
-- no parallel workers (the goals are for one backend on each side), :runs
-- (3 unless given) also as the setting bench.runs for the functions.
SET segments.now_override = '2025-06-15 12:00:00+00';
SET max_parallel_workers_per_gather = 0;
\if :{?runs}
\else
\set runs 3
\endif
SELECT set_config('bench.runs', :'runs', false) \gset
SET client_min_messages = warning;

-- The milliseconds a statement takes.
CREATE FUNCTION pg_temp.elapsed(sql text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
	EXECUTE sql;
	RETURN round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
END $$;

-- The best time of :runs runs of a query returning one count, as role who
-- ('none': the session's own).
CREATE FUNCTION pg_temp.best(sql text, who text DEFAULT 'none') RETURNS TABLE (ms numeric, n bigint)
LANGUAGE plpgsql AS $$
DECLARE
	t0 timestamptz;
	i int;
BEGIN
	ms := NULL;
	FOR i IN 1 .. current_setting('bench.runs')::int LOOP
		PERFORM set_config('role', who, true);
		t0 := clock_timestamp();
		EXECUTE sql INTO n;
		ms := least(ms, round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1));
		PERFORM set_config('role', 'none', true);
	END LOOP;
	RETURN NEXT;
END $$;
