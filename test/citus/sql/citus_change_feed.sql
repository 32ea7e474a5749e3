-- The change feed on a Citus cluster: each node draws the ids of the log
-- rows it holds from its own range, and a cursor is a position in each
-- node group's range (docs/design.md, "The change feed on a cluster").
\set VERBOSITY terse
\getenv worker_port CITUS_WORKER_PORT
\getenv coordinator_port CITUS_COORDINATOR_PORT

-- Every log row was written by the node that holds it: its id is in the
-- range of the node's group (the coordinator holds no shard here).
SELECT n.groupid, count(*) > 0 AS has_rows
FROM segments.membership_log l
JOIN pg_dist_shard_placement p ON p.shardid = get_shard_id_for_distribution_column('segments.membership_log', l.tenant)
JOIN pg_dist_node n ON n.nodeport = p.nodeport
WHERE l.id >> 48 = n.groupid
GROUP BY 1 ORDER BY 1;
SELECT count(*) AS rows_out_of_their_range
FROM segments.membership_log l
JOIN pg_dist_shard_placement p ON p.shardid = get_shard_id_for_distribution_column('segments.membership_log', l.tenant)
JOIN pg_dist_node n ON n.nodeport = p.nodeport
WHERE l.id >> 48 <> n.groupid;

-- A cursor holds a position for each node group, and the whole feed is
-- the whole log.
SELECT cardinality(string_to_array(split_part(c.cursor, ':', 2), ',')) AS positions
FROM segments.changes(NULL, 1) c;
SELECT (SELECT count(*) FROM segments.changes(NULL, 1000000)) = (SELECT count(*) FROM segments.membership_log)
	AS whole_log;

-- Followed in small batches, every change comes once: the groups' changes
-- merged by time, each group's in the order of its ids.
CREATE TABLE followed (n serial, cursor text, segment_id bigint, contact text, joined boolean,
	at timestamptz, cause text);
DO $$
DECLARE
	position text;
	got bigint;
BEGIN
	LOOP
		INSERT INTO followed (cursor, segment_id, contact, joined, at, cause)
		SELECT * FROM segments.changes(position, 7);
		GET DIAGNOSTICS got = ROW_COUNT;
		EXIT WHEN got = 0;
		SELECT f.cursor INTO position FROM followed f ORDER BY f.n DESC LIMIT 1;
	END LOOP;
END
$$;
SELECT count(*) = (SELECT count(*) FROM segments.membership_log) AS each_once,
	count(DISTINCT cursor) = count(*) AS distinct_cursors
FROM followed;
SELECT count(*) AS missing FROM (
	SELECT l.segment_id, format('(%s,%s)', l.tenant, l.contact), l.joined, l.at, l.cause FROM segments.membership_log l
	EXCEPT ALL
	SELECT f.segment_id, f.contact, f.joined, f.at, f.cause FROM followed f) d;
-- each group's positions only grow along the feed
SELECT count(*) AS positions_going_back
FROM (SELECT f.n, p.i, p.v::bigint AS v,
		lag(p.v::bigint) OVER (PARTITION BY p.i ORDER BY f.n) AS before
	FROM followed f,
		unnest(string_to_array(split_part(f.cursor, ':', 2), ',')) WITH ORDINALITY p(v, i)) x
WHERE x.v < x.before;

-- Resumed from the last cursor: nothing new, until a write on a worker
-- ('us' is now country = 'DE').
SELECT count(*) AS nothing_new
FROM segments.changes((SELECT f.cursor FROM followed f ORDER BY f.n DESC LIMIT 1));
\c - - - :worker_port
UPDATE contacts SET country = 'DE' WHERE account_id = 1 AND id = 2;
\c - - - :coordinator_port
SELECT segment_id, contact, joined, cause
FROM segments.changes((SELECT f.cursor FROM followed f ORDER BY f.n DESC LIMIT 1))
ORDER BY segment_id;

-- What is not a cursor of this log is refused: two positions in one
-- group, a negative one, another log's, one of a node group the cluster
-- never had (their codes: the epoch is new with each attach).
\set VERBOSITY sqlstate
SELECT * FROM segments.changes((SELECT split_part(c.cursor, ':', 1) || ':5,6' FROM segments.changes(NULL, 1) c));
SELECT * FROM segments.changes((SELECT split_part(c.cursor, ':', 1) || ':-1' FROM segments.changes(NULL, 1) c));
SELECT * FROM segments.changes('another:0');
SELECT * FROM segments.changes((SELECT split_part(c.cursor, ':', 1) || ':0,' || (1000::bigint << 48)
	FROM segments.changes(NULL, 1) c));
\set VERBOSITY terse
-- A cursor naming only some groups starts the others from their start.
SELECT count(*) = (SELECT count(*) FROM segments.membership_log) AS whole_log
FROM segments.changes((SELECT split_part(c.cursor, ':', 1) || ':0' FROM segments.changes(NULL, 1) c), 1000000);

-- A reader the contacts' policies do not limit follows the feed too.
SELECT count(*) AS logged FROM segments.membership_log \gset
SET ROLE citus_reader;
SELECT count(*) = :logged AS reader_sees_all FROM segments.changes(NULL, 1000000);
RESET ROLE;
-- One the contacts' row-level security limits is refused, as it is
-- reading the membership.
ALTER TABLE contacts ENABLE ROW LEVEL SECURITY;
CREATE POLICY first_account ON contacts FOR SELECT TO citus_limited USING (account_id = 1);
SET ROLE citus_limited;
SELECT count(*) FROM segments.changes(NULL, 1000000);
RESET ROLE;
DROP POLICY first_account ON contacts;
ALTER TABLE contacts DISABLE ROW LEVEL SECURITY;

-- One segment's history and its size by the hour read the log of every node.
SELECT count(*) = (SELECT count(*) FROM segments.membership_log WHERE segment_id = 1) AS history_whole
FROM segments.history('us');
SELECT count(*) AS members FROM segments.membership WHERE segment_id = 1 \gset
SELECT sum(h.joins) - sum(h.leaves) = :members AS size_adds_up,
	(array_agg(h.members ORDER BY h.step_start DESC))[1] = :members AS last_size
FROM segments.size_history('us', date_trunc('hour', now()) - interval '1 day', date_trunc('hour', now()) + interval '1 hour', '1 hour') h;

-- Pruning is not there yet on a cluster: refused, nothing deleted.
SELECT segments.prune_log(now());
SELECT count(*) = :logged AS log_kept FROM segments.membership_log;
DROP TABLE followed;
