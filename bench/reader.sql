-- Reading membership under the security model: a BI tool's reads of a
-- segment holding every contact, by a segments_reader role, against the
-- same reads by the extension's owner, to which the policies of
-- segments.membership do not apply (docs/design.md, "Security model").
--
--   psql -v runs=3 -f bench/reader.sql      (after bench/data.sql and attach)
--
-- Two readers: one that row-level security on the contacts table does not
-- limit (the policies' initplan lets it see every row at once), and one it
-- does, by a policy that lets it see every contact (the worst case: every
-- member is looked up).  Two reads: the members counted, and the members
-- joined with their contacts' country.  Best of runs each; every read must
-- count the same rows.  For the limited reader, also the least a count
-- can cost: its policies read the contacts' keys as the reader once.
-- Prints the "row|" lines bench/run.sh collects.

\set ON_ERROR_STOP 1
\ir session.sql
SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE 'bench %' ORDER BY id DESC) s \gset
SELECT segments.create_segment('bench everyone', 'true') AS everyone \gset
VACUUM ANALYZE segments.membership;
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_reader') THEN	-- a run cut short
		DROP OWNED BY bench_reader;
		DROP ROLE bench_reader;
	END IF;
END $$;
CREATE ROLE bench_reader IN ROLE segments_reader;
GRANT SELECT ON public.contacts TO bench_reader;

CREATE TEMP TABLE bench_read (read text, sql text);
INSERT INTO bench_read VALUES
	('count the members', format('SELECT count(*) FROM segments.membership m WHERE m.segment_id = %s', :everyone)),
	('members by country', format('SELECT sum(n) FROM (SELECT c.country, count(*) AS n FROM segments.membership m JOIN public.contacts c ON c.id = m.contact WHERE m.segment_id = %s GROUP BY c.country) q', :everyone));

CREATE TEMP TABLE bench_result AS
SELECT r.read, 'reader, contacts without row-level security' AS reader, o.ms AS ours_ms, h.ms AS hand_ms, o.n, h.n AS hand_n
FROM bench_read r, LATERAL pg_temp.best(r.sql, 'bench_reader') o, LATERAL pg_temp.best(r.sql) h;
ALTER TABLE public.contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY bench_everyone ON public.contacts USING (account_id IS NOT NULL);
INSERT INTO bench_result
SELECT r.read, 'reader limited by row-level security', o.ms, h.ms, o.n, h.n
FROM bench_read r, LATERAL pg_temp.best(r.sql, 'bench_reader') o, LATERAL pg_temp.best(r.sql) h;
-- What the policy cannot do without: reading the contacts' keys as the
-- reader, once per query, which a count of the members alone does not do.
SELECT k.ms AS reader_reads_keys_ms, o.ms AS owner_counts_members_ms,
	round((k.ms + o.ms) / o.ms, 2) AS least_ratio_of_a_count
FROM pg_temp.best('SELECT count(c.id) FROM public.contacts c', 'bench_reader') k,
	pg_temp.best(format('SELECT count(*) FROM segments.membership m WHERE m.segment_id = %s', :everyone)) o;
DROP POLICY bench_everyone ON public.contacts;
ALTER TABLE public.contacts DISABLE ROW LEVEL SECURITY;

SELECT read, reader, n AS rows_counted, ours_ms AS reader_ms, hand_ms AS owner_ms, round(ours_ms / hand_ms, 2) AS ratio
FROM bench_result ORDER BY reader, read;
DO $$
DECLARE r record;
BEGIN
	FOR r IN SELECT * FROM bench_result WHERE n <> hand_n LOOP
		RAISE EXCEPTION '% (%) counted % rows, the owner %', r.read, r.reader, r.n, r.hand_n;
	END LOOP;
END $$;

SELECT segments.drop_segment('bench everyone') \gset
REVOKE SELECT ON public.contacts FROM bench_reader;
DROP ROLE bench_reader;

\pset format unaligned
\pset tuples_only on
\pset fieldsep '|'
SELECT 'row', format('%s of a %s-member segment, %s', read, n, reader),
	ours_ms || ' ms', hand_ms || ' ms', round(ours_ms / hand_ms, 2) || 'x', '<= 2x',
	CASE WHEN ours_ms / hand_ms <= 2 THEN 'met' ELSE 'missed' END, ''
FROM bench_result ORDER BY reader, read;
\pset format aligned
\pset tuples_only off
