--
-- The catalog as each backend caches it (the attachments, the segments and
-- their rules, the plans made for them) follows every change within one
-- session: its own changes, inside its transaction and after a rollback,
-- and a change read again in the leader of a parallel query, where
-- PostgreSQL takes no new snapshot the usual way.  Changes made by other
-- sessions beside a writer: test/isolation/specs/catalog_*.spec.
--
CREATE TABLE contacts (id bigint PRIMARY KEY, country text NOT NULL, score int NOT NULL);
INSERT INTO contacts SELECT i, CASE WHEN i % 3 = 0 THEN 'US' ELSE 'FR' END, i % 100
FROM generate_series(1, 3000) AS i;
ANALYZE contacts;
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS created;

-- A write warms the caches.
UPDATE contacts SET country = 'US' WHERE id = 1;

-- The transaction's own change, then a write in the same transaction: the
-- write is maintained with the new rule and the new segment.
BEGIN;
SELECT segments.alter_segment('US', 'country = ''US'' and score >= 50');
SELECT segments.create_segment('Low', 'score < 10') IS NOT NULL AS created;
UPDATE contacts SET score = 5, country = 'US' WHERE id = 2;
SELECT s.name, m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = 2 ORDER BY s.name;
COMMIT;
SELECT all_verified();

-- Rolled back: the next write is maintained with the catalog as it was.
BEGIN;
SELECT segments.drop_segment('Low');
SELECT segments.alter_segment('US', 'true');
ROLLBACK;
UPDATE contacts SET score = 7 WHERE id = 4;
SELECT s.name, m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = 4 ORDER BY s.name;
SELECT all_verified();

-- The same under a savepoint rolled back.
BEGIN;
SAVEPOINT s;
SELECT segments.alter_segment('Low', 'score < 90');
ROLLBACK TO s;
UPDATE contacts SET score = 60 WHERE id = 6;
COMMIT;
SELECT s.name, m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = 6 ORDER BY s.name;
SELECT all_verified();

-- A change of the attached table (a column added) makes the attachments
-- stale; the first to read them again is matches(), in the leader of a
-- parallel query.
ALTER TABLE contacts ADD COLUMN note text;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT count(*) FILTER (WHERE segments.matches(c.id, 'country = ''US''')) AS us
FROM (SELECT id FROM contacts WHERE score >= 0) c;
SELECT count(*) FILTER (WHERE segments.matches(c.id, 'country = ''US''')) AS us
FROM (SELECT id FROM contacts WHERE score >= 0) c;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT count(*) AS us FROM contacts WHERE country = 'US';

SELECT count(*) AS dropped FROM segments.segment s, LATERAL segments.drop_segment(s.id);
SELECT segments.detach_contacts();
DROP TABLE contacts;
