-- The summary row of a suite's timings in bench_result (ours_ms, hand_ms per
-- rule), for bench/run.sh: "row|work|with|without|ratio|goal|verdict|note".
-- The verdict compares the geometric mean of the per-rule ratios with
-- :limit; the ratio column also gives their range and how many rules are
-- above the limit.  Set work, goal and limit before \ir summary.sql.

\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'
WITH r AS (SELECT ours_ms, hand_ms, greatest(ours_ms, 0.1) / greatest(hand_ms, 0.1) AS ratio FROM bench_result)
SELECT 'row', :'work' || ', geometric mean of ' || count(*) || ' rules',
       round(sum(ours_ms)) || ' ms', round(sum(hand_ms)) || ' ms',
       round(exp(avg(ln(ratio))), 2) || 'x', :'goal',
       CASE WHEN exp(avg(ln(ratio))) <= :limit THEN 'met' ELSE 'missed' END,
       format('%s: per rule %sx to %sx, %s of %s above %sx (times: sums over the rules)', :'work',
              round(min(ratio), 2), round(max(ratio), 2), count(*) FILTER (WHERE ratio > :limit), count(*), :limit)
FROM r;
\pset format aligned
\pset tuples_only off
