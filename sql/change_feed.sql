--
-- change_feed: segments.changes(after, max_rows) returns the log's
-- changes after a cursor, in id order, each once (docs/design.md, "The
-- change feed"); segments.prune_log(before) deletes old changes.  Order
-- under concurrency is tested by the isolation spec change_feed.
--
SET segments.now_override = '2025-06-15 12:00:00+00';
CREATE TABLE contacts (id bigint PRIMARY KEY, country text, owner text NOT NULL DEFAULT 'ann');
INSERT INTO contacts (id, country) SELECT i, CASE WHEN i % 2 = 0 THEN 'US' ELSE 'FR' END
FROM generate_series(1, 10) AS i;
SELECT segments.attach_contacts('contacts', key => 'id');

-- feed(after, max_rows): the changes without their cursors (whose epoch
-- differs on each attach), the last cursor kept in last_cursor.
CREATE TABLE last_cursor (cursor text);
INSERT INTO last_cursor VALUES (NULL);
CREATE FUNCTION feed(max_rows integer DEFAULT 1000)
RETURNS TABLE (segment text, contact text, joined boolean, cause text)
LANGUAGE plpgsql AS $$
DECLARE
	c record;
BEGIN
	FOR c IN SELECT * FROM segments.changes((SELECT l.cursor FROM last_cursor l), max_rows) LOOP
		UPDATE last_cursor SET cursor = c.cursor;
		segment := coalesce((SELECT s.name FROM segments.segment s WHERE s.id = c.segment_id), '(dropped)');
		contact := c.contact;
		joined := c.joined;
		cause := c.cause;
		RETURN NEXT;
	END LOOP;
END
$$;

-- A build, then its joins in pages of two, each after the last cursor.
SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS created;
SELECT * FROM feed(2);
CREATE TABLE behind AS SELECT cursor FROM last_cursor;	-- a consumer that stops here
SELECT * FROM feed(2);
SELECT * FROM feed(2);
SELECT * FROM feed(2);

-- Writes, an alter and a drop: every cause is a change of the feed; a
-- dropped segment's members leave.
UPDATE contacts SET country = 'US' WHERE id = 1;
SELECT segments.alter_segment('US', 'country = ''US'' and id < 8');
SELECT segments.create_segment('FR', 'country = ''FR''') IS NOT NULL AS created;
SELECT segments.drop_segment('FR');
SELECT * FROM feed();
-- nothing new
SELECT * FROM feed();

-- The whole feed from the start equals the log.
SELECT count(*) = (SELECT count(*) FROM segments.membership_log) AS all_of_the_log
FROM segments.changes(NULL, 100000);

-- A reader limited by row-level security on the contacts sees the changes
-- of its contacts only.
CREATE ROLE seg_feed_reader IN ROLE segments_reader;
GRANT SELECT ON contacts TO seg_feed_reader;
UPDATE contacts SET owner = 'bob' WHERE id > 4;
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON contacts USING (owner = 'ann');
SET ROLE seg_feed_reader;
SELECT array_agg(c.contact::bigint ORDER BY c.contact::bigint) AS visible
FROM (SELECT DISTINCT contact FROM segments.changes(NULL, 100000)) c;
RESET ROLE;
ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;
DROP POLICY own ON contacts;

-- What changes() refuses: a cursor of nothing, max_rows under 1, a
-- transaction that reads with one snapshot.
\set VERBOSITY terse
SELECT * FROM segments.changes('not a cursor');
SELECT state, regexp_replace(message, '[0-9a-f]{32}', '<epoch>') AS message
FROM try($$SELECT * FROM segments.changes((SELECT cursor FROM last_cursor) || '0x')$$);
SELECT * FROM segments.changes(NULL, 0);
-- Any max_rows above that is taken: the log is read in batches.
SELECT count(*) = (SELECT count(*) FROM segments.membership_log) AS whole_log
FROM segments.changes(NULL, 2147483647);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM segments.changes();
ROLLBACK;
\set VERBOSITY default

-- prune_log(before) deletes the changes older than before that stats has
-- taken into account; a consumer that had read them all goes on, one whose
-- cursor is older is told, and a new one starts after them.
SET segments.now_override = '2025-06-16 12:00:00+00';
SELECT segments.tick();
SELECT segments.prune_log(now() + interval '1 hour') > 0 AS pruned;
SELECT count(*) AS left_in_log FROM segments.membership_log;
UPDATE contacts SET country = 'US' WHERE id = 3;
SELECT * FROM feed();
SELECT * FROM segments.changes((SELECT b.cursor FROM behind b));
UPDATE last_cursor SET cursor = NULL;
SELECT * FROM feed();
SELECT * FROM segments.prune_log(NULL);

-- A cursor of a log since dropped (detached and attached again) is refused.
SELECT segments.drop_segment('US');
SELECT segments.detach_contacts();
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT state, regexp_replace(message, '[0-9a-f]{32}', '<epoch>') AS message
FROM try('SELECT * FROM feed()');

-- A build of 30,000 members fills two ranges of the log's BRIN index
-- (128 pages each) and part of a third, and the reads of the feed would
-- read those it has not summarized whole, batch after batch: the first
-- read summarizes them, all but the last, partial, range, which the log's
-- next rows fill (its summary would be rewritten by each of them).
INSERT INTO contacts (id, country) SELECT i, 'XX' FROM generate_series(11, 30010) AS i;
SELECT segments.create_segment('XX', 'country = ''XX''') IS NOT NULL AS created;
SELECT pg_relation_size('segments.membership_log') / current_setting('block_size')::int / 128 AS full_ranges;
SELECT count(*) FROM segments.changes(NULL, 10);
SELECT brin_summarize_new_values('segments.membership_log_brin') AS left_to_summarize;
SELECT segments.drop_segment('XX');

-- A truncated log's index starts again with its first range summarized
-- empty; a trigger on the log unsummarizes it.
TRUNCATE segments.membership_log;
UPDATE contacts SET country = 'US' WHERE id = 3;
SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS created;
SELECT brin_summarize_new_values('segments.membership_log_brin') AS left_to_summarize;
SELECT segments.drop_segment('US');

SELECT segments.detach_contacts();
DROP FUNCTION feed(integer);
DROP TABLE contacts, last_cursor, behind;
DROP ROLE seg_feed_reader;
RESET segments.now_override;
