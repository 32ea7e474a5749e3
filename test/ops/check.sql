-- What the operations tests (test/scripts/upgrade.sh, restore.sh) require
-- of a database set up by test/ops/every_kind.sql, after the operation:
-- every segment verifies (0, 0) and the log agrees with the membership
-- (each member's joins outnumber its leaves by one, everyone else's are
-- even); then writes of every kind and a tick a day later, then writes
-- replicated (as a logical replication subscriber applies them, under
-- session_replication_role = replica), and the same again.  Stops with an error at the first thing that does not hold.  The
-- attached tables are found on the search_path.
--
--   psql -v step=N -f test/ops/check.sql      (N: 1, 2, ... for each call;
--                                              call N ticks a day after N - 1)

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.check_segments(stage text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	r record;
	v record;
	wrong text := '';
	disagree bigint;
BEGIN
	FOR r IN SELECT s.id, s.name FROM segments.segment s ORDER BY s.id LOOP
		SELECT * INTO v FROM segments.verify_segment(r.id);
		IF v.missing <> 0 OR v.extra <> 0 THEN
			wrong := wrong || format(' %s (missing %s, extra %s)', r.name, v.missing, v.extra);
		END IF;
	END LOOP;
	IF wrong <> '' THEN
		RAISE EXCEPTION '%: segments that do not verify:%', stage, wrong;
	END IF;
	SELECT count(*) INTO disagree
	FROM (SELECT l.segment_id, l.contact, sum(CASE WHEN l.joined THEN 1 ELSE -1 END) AS n
		FROM segments.membership_log l GROUP BY 1, 2) g
	FULL JOIN segments.membership m ON m.segment_id = g.segment_id AND m.contact = g.contact
	WHERE coalesce(g.n, 0) <> CASE WHEN m.contact IS NULL THEN 0 ELSE 1 END;
	IF disagree <> 0 THEN
		RAISE EXCEPTION '%: the log disagrees with the membership on % (segment, contact) pairs', stage, disagree;
	END IF;
END
$$;

-- the clock of the last tick: every_kind.sql's, or the last call's
SELECT set_config('segments.now_override',
	(timestamptz '2025-06-20 12:00:00+00' + (:'step' - 1) * interval '1 day')::text, false) IS NOT NULL AS clock_set;
SELECT pg_temp.check_segments('after the operation');

-- writes and time keep it exact
SELECT set_config('segments.now_override',
	(timestamptz '2025-06-20 12:00:00+00' + :'step' * interval '1 day')::text, false) IS NOT NULL AS clock_set;
UPDATE contacts SET country = CASE WHEN country = 'US' THEN 'DE' ELSE 'US' END,
	score = coalesce(score, 0) + 1 WHERE id % 53 = :'step';
UPDATE contacts SET props = props || '{"city": "Paris"}' WHERE id % 59 = :'step';
DELETE FROM contacts WHERE id % 211 = :'step';
INSERT INTO events (id, contact_id, kind, occurred_at, url)
SELECT 20000000 + :'step' * 1000 + i, i * 7, 'clicked', segments.now() - interval '10 days', 'https://example.com/pricing'
FROM generate_series(1, 100) i;
DELETE FROM list_members WHERE contact_id % 61 = :'step';
SELECT segments.tick() >= 0 AS ticked;
SELECT pg_temp.check_segments('after writes and a tick');
SET session_replication_role = replica;
UPDATE contacts SET country = CASE WHEN country = 'US' THEN 'DE' ELSE 'US' END,
	score = coalesce(score, 0) + 1 WHERE id % 67 = :'step';
DELETE FROM contacts WHERE id % 223 = :'step';
INSERT INTO events (id, contact_id, kind, occurred_at)
SELECT 30000000 + :'step' * 1000 + i, i * 11, 'opened', segments.now() - interval '1 day'
FROM generate_series(1, 50) i;
INSERT INTO list_members (contact_id, list_id)
SELECT i * 13 + :'step', 7 FROM generate_series(1, 50) i
WHERE NOT EXISTS (SELECT FROM list_members l WHERE l.contact_id = i * 13 + :'step' AND l.list_id = 7);
DELETE FROM list_members WHERE contact_id % 73 = :'step';
RESET session_replication_role;
SELECT pg_temp.check_segments('after replicated writes');
