--
-- Denial of service: what a role allowed to create segments can make the
-- extension do must cost in proportion to what it created.  Checking a new
-- rule for cycles walks the segments it refers to, each once: a "diamond"
-- whose every layer's two segments both use the previous layer's two has
-- 2^n paths through n layers, and a walk along every path, run while the
-- catalog is locked against every writer, would never end.  The
-- statement_timeout turns such a walk into an error instead of a hang.
--
CREATE TABLE contacts (id bigint PRIMARY KEY, score int NOT NULL);
INSERT INTO contacts SELECT i, i FROM generate_series(1, 50) AS i;
SELECT segments.attach_contacts('contacts', key => 'id');

SET statement_timeout = '60s';
SELECT segments.create_segment('L0a', 'score > 10') IS NOT NULL AS created,
	segments.create_segment('L0b', 'score > 20') IS NOT NULL AS created;
-- 40 layers: 2^40 paths from the last layer down to the first
SELECT count(*) AS created
FROM generate_series(1, 40) AS i,
	LATERAL (SELECT segments.create_segment(format('L%sa', i),
			format($$in segment 'L%sa' and in segment 'L%sb'$$, i - 1, i - 1)::segments.rule) AS a,
		segments.create_segment(format('L%sb', i),
			format($$in segment 'L%sa' or in segment 'L%sb'$$, i - 1, i - 1)::segments.rule) AS b) s;
SELECT s.name, count(m.contact) AS members
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
WHERE s.name IN ('L0a', 'L0b', 'L40a', 'L40b')
GROUP BY s.name ORDER BY s.name;

-- A cycle through the diamond is found, and a shortest one is named.
\set SHOW_CONTEXT never
SELECT segments.alter_segment('L0b', $$in segment 'L3a'$$);
SELECT segments.alter_segment('L0b', $$in segment 'L40b' and score > 0$$);
-- a segment that refers to itself
SELECT segments.alter_segment('L0a', $$in segment 'L0a'$$);
\set SHOW_CONTEXT errors
RESET statement_timeout;

SELECT count(*) AS dropped
FROM (SELECT segments.drop_segment(s.id) FROM segments.segment s ORDER BY s.id DESC) d;
SELECT segments.detach_contacts();
DROP TABLE contacts;
