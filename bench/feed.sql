-- Reading the change feed: segments.changes() returning 10,000 changes
-- from a cursor at the start, the middle and the end of a log of every
-- contact's join, against the same 10,000 log rows read by hand by their
-- ids (a range the reader would have to know), and a naive poll
-- "WHERE id > cursor ORDER BY id LIMIT 10000" (which loses changes under
-- concurrency: docs/design.md, "The change feed").
--
--   psql -v runs=3 -f bench/feed.sql      (after bench/data.sql and attach)
--
-- A batch must cost the same wherever the cursor is: the row's goal is
-- that the batch at the start costs at most 2x the batch at the end.  Best
-- of runs each; every read must return 10,000 changes.  Prints the "row|"
-- lines bench/run.sh collects.

\set ON_ERROR_STOP 1
\ir session.sql
SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE 'bench %' ORDER BY id DESC) s \gset
SELECT segments.create_segment('bench feed', 'true') AS feed \gset
SELECT min(id) AS first_id, max(id) AS last_id, count(*) AS log_rows
FROM segments.membership_log WHERE segment_id = :feed \gset
SELECT epoch FROM segments.log_state \gset

CREATE TEMP TABLE bench_position (position text, after bigint);
INSERT INTO bench_position VALUES
	('start', :first_id - 1),
	('middle', :first_id - 1 + (:log_rows - 10000) / 2),
	('end', :last_id - 10000);

CREATE TEMP TABLE bench_result AS
SELECT p.position, f.ms AS feed_ms, f.n AS feed_n, h.ms AS hand_ms, h.n AS hand_n, q.ms AS poll_ms, q.n AS poll_n
FROM bench_position p,
	LATERAL pg_temp.best(format('SELECT count(*) FROM segments.changes(%L, 10000)', :'epoch' || ':' || p.after)) f,
	LATERAL pg_temp.best(format('SELECT count(*) FROM (SELECT l.id, l.segment_id, l.contact::text, l.joined, l.at, l.cause FROM segments.membership_log l WHERE l.id > %s AND l.id <= %s ORDER BY l.id) q',
		p.after, p.after + 10000)) h,
	LATERAL pg_temp.best(format('SELECT count(*) FROM (SELECT l.id, l.segment_id, l.contact::text, l.joined, l.at, l.cause FROM segments.membership_log l WHERE l.id > %s ORDER BY l.id LIMIT 10000) q',
		p.after)) q;

SELECT :log_rows AS log_rows;
SELECT position, feed_ms, hand_ms, poll_ms, round(feed_ms / hand_ms, 2) AS feed_vs_hand FROM bench_result
ORDER BY array_position(ARRAY['start', 'middle', 'end'], position);
DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT * FROM bench_result WHERE feed_n <> 10000 OR hand_n <> 10000 OR poll_n <> 10000 LOOP
		RAISE EXCEPTION 'reading at the % returned % changes, by hand %, polling %', r.position, r.feed_n, r.hand_n, r.poll_n;
	END LOOP;
END $$;

-- One segment's history in that log: a segment of 10,000 members built
-- after it, read with segments.history() against the scan of the log a
-- reader would otherwise run for its rows.  The first read summarizes the
-- build's ranges of the log's BRIN index (timed apart).
SELECT segments.create_segment('bench history', 'id <= 10000') AS small \gset
SELECT pg_temp.elapsed(format('SELECT count(*) FROM segments.history(%s)', :small)) AS history_first_ms \gset
SELECT h.ms AS history_ms, h.n AS history_n, s.ms AS scan_ms, s.n AS scan_n
FROM pg_temp.best(format('SELECT count(*) FROM segments.history(%s)', :small)) h,
	pg_temp.best(format('SELECT count(*) FROM (SELECT l.id, l.contact::text, l.joined, l.at, l.cause FROM segments.membership_log l WHERE l.segment_id + 0 = %s ORDER BY l.id) q', :small)) s \gset
SELECT :history_first_ms AS history_first_ms, :history_ms AS history_ms, :scan_ms AS scan_ms,
	set_config('bench.history_n', :'history_n', false) AS history_n, set_config('bench.scan_n', :'scan_n', false) AS scan_n;
DO $$
BEGIN
	IF current_setting('bench.history_n')::bigint <> 10000 OR current_setting('bench.scan_n')::bigint <> 10000 THEN
		RAISE EXCEPTION 'the history returned % changes, the scan %', current_setting('bench.history_n'),
			current_setting('bench.scan_n');
	END IF;
END $$;

SELECT segments.drop_segment('bench history') \gset
SELECT segments.drop_segment('bench feed') \gset

\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'
SELECT 'row', format('segments.changes(): 10,000 changes at the start of a %s-change log, against the end', :log_rows),
	s.feed_ms || ' ms', e.feed_ms || ' ms', round(s.feed_ms / e.feed_ms, 2) || 'x', '<= 2x',
	CASE WHEN s.feed_ms / e.feed_ms <= 2 THEN 'met' ELSE 'missed' END,
	format('per 10,000 changes: %s ms at the start, %s in the middle, %s at the end; reading the same rows by id range by hand %s to %s ms; a naive poll %s to %s ms',
		s.feed_ms, m.feed_ms, e.feed_ms, least(s.hand_ms, m.hand_ms, e.hand_ms), greatest(s.hand_ms, m.hand_ms, e.hand_ms),
		least(s.poll_ms, m.poll_ms, e.poll_ms), greatest(s.poll_ms, m.poll_ms, e.poll_ms))
FROM bench_result s, bench_result m, bench_result e
WHERE s.position = 'start' AND m.position = 'middle' AND e.position = 'end';
SELECT 'row', format('segments.history(): a 10,000-change segment in a %s-change log, against a scan of the log', :log_rows + 10000),
	:history_ms || ' ms', :scan_ms || ' ms', round(:history_ms / :scan_ms, 2) || 'x', '<= 0.1x',
	CASE WHEN :history_ms / :scan_ms <= 0.1 THEN 'met' ELSE 'missed' END,
	format('best of %s; the first read, which summarized the build''s ranges of the log''s BRIN index, %s ms',
		current_setting('bench.runs'), :history_first_ms);
\pset format aligned
\pset tuples_only off
