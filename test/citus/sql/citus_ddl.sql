-- Changing attached tables on a Citus cluster: TRUNCATE brings the
-- segments up to date in every shard group, renames are followed, and
-- detaching works as on one server (docs/design.md, "On a Citus cluster").
\set VERBOSITY terse
\getenv worker_port CITUS_WORKER_PORT
\getenv coordinator_port CITUS_COORDINATOR_PORT

-- (the sizes depend on the writes that ran before: compared, not shown)
CREATE VIEW sizes AS
SELECT s.name, count(m.contact) AS members
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.name ORDER BY s.name;
CREATE TABLE sizes_before AS SELECT * FROM sizes;
SELECT name, members > 0 AS has_members FROM sizes_before ORDER BY name;

-- TRUNCATE of an attached table is refused, through the coordinator and
-- on a worker (Citus fires its triggers before it truncates the shards);
-- deleting every row is maintained, on every node: the segments reading
-- the lists or the events lose the members they gave them, the others
-- are untouched.
TRUNCATE list_members;
\c - - - :worker_port
TRUNCATE events;
\c - - - :coordinator_port
SELECT count(*) > 0 AS still_there FROM list_members;
-- (the changes since: the feed from the last cursor; the log's ids are
-- each node's own)
SELECT c.cursor AS before FROM segments.changes(NULL, 1000000) WITH ORDINALITY c
ORDER BY c.ordinality DESC LIMIT 1 \gset
BEGIN;
DELETE FROM list_members;
DELETE FROM events;
COMMIT;
SELECT s.name, c.joined, c.cause, count(*) = b.members AS every_member_left
FROM segments.changes(:'before', 1000000) c JOIN segments.segment s ON s.id = c.segment_id
JOIN sizes_before b ON b.name = s.name
GROUP BY 1, 2, 3, b.members ORDER BY 1, 2;
SELECT a.name, a.members = 0 AS emptied, a.members = b.members AS unchanged
FROM sizes a JOIN sizes_before b USING (name) ORDER BY 1;
SELECT * FROM segments.verify_all() WHERE missing + extra > 0;

-- A renamed column and a renamed table are followed: the rules and the
-- attachment name the new ones, and writes through a worker go on being
-- maintained.
ALTER TABLE contacts RENAME COLUMN plan TO tier;
SELECT name, rule FROM segments.segment WHERE name = 'pro_us';
ALTER TABLE list_members RENAME TO list_entries;
SELECT role, relid::regclass FROM segments._attached_tables() WHERE role = 'lists';
\c - - - :worker_port
UPDATE contacts SET tier = 'team', country = 'DE' WHERE account_id = 3 AND id = 4;
INSERT INTO list_entries VALUES (3, 4, 'vip');
\c - - - :coordinator_port
SELECT s.name FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.tenant = 3 AND m.contact = 4 ORDER BY 1;
SELECT * FROM segments.verify_all() WHERE missing + extra > 0;

-- Detaching: refused while a segment reads the table, then done; the
-- table is written (and truncated) freely afterwards, on every node.
SELECT segments.detach_lists();
SELECT segments.drop_segment('vip_us');
SELECT segments.drop_segment('vip');
SELECT segments.detach_lists();
\c - - - :worker_port
INSERT INTO list_entries VALUES (1, 2, 'news2'), (2, 2, 'news2');
\c - - - :coordinator_port
TRUNCATE list_entries;
SELECT count(*) AS list_triggers_left
FROM run_command_on_all_nodes($$SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	WHERE c.relname LIKE 'list_entries%' AND t.tgname LIKE 'segments%'$$) r WHERE r.result <> '0';
SELECT * FROM segments.verify_all() WHERE missing + extra > 0;
-- A catalog change after writes made over several connections to a node
-- in the same transaction is refused, not left to wait for its own
-- transaction (one connection a shard: citus.force_max_query_parallelization).
BEGIN;
SET LOCAL citus.force_max_query_parallelization = on;
UPDATE contacts SET score = score + 1;
SELECT segments.create_segment('late', 'score > 50');
ROLLBACK;
-- Made first, or committed first, it is done.
BEGIN;
SELECT segments.create_segment('late', 'score > 50') > 0 AS built;
SET LOCAL citus.force_max_query_parallelization = on;
UPDATE contacts SET score = score + 1;
COMMIT;
SELECT * FROM segments.verify_all() WHERE missing + extra > 0;
SELECT segments.drop_segment('late');
DROP VIEW sizes;
DROP TABLE sizes_before;
