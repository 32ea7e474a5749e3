--
-- Comparing rules: = and <> compare canonical forms, and a hash operator
-- class lets rules be grouped, deduplicated, indexed and partitioned.
--

-- The operators live in schema segments: name them with OPERATOR(), or put
-- segments on the search_path.
SELECT 'a = 1'::segments.rule = '(A = 1)'::segments.rule;
SELECT 'a = 1'::segments.rule OPERATOR(segments.=) '(A = 1)'::segments.rule AS equal;
SET search_path = public, segments;

-- Spellings of one rule are equal: case, spacing, parentheses, quoting of
-- plain names, unit plurals, the default event count and window, nested
-- and/or, leading zeros.
SELECT a::segments.rule = b::segments.rule AS equal, a, b
FROM (VALUES
	('country = ''US''', 'COUNTRY   =   ''US'''),
	('country = ''US''', '"country" = ''US'''),
	('a = 1 and b = 2', '((a = 1) and (b = 2))'),
	('a = 1 and b = 2 and c = 3', 'a = 1 and (b = 2 and c = 3)'),
	('a = 1 or b = 2 or c = 3', '(a = 1 or b = 2) or c = 3'),
	('x != 1', 'x <> 1'),
	('created_at < 1 day ago', 'created_at < 1 DAYS AGO'),
	('event ''opened''', 'event ''opened'' count >= 1 ever'),
	('event ''opened''', 'EVENT ''opened'' EVER'),
	('score = 7', 'score = 007'),
	('score = 0', 'score = -0'),
	('plan in (''a'', ''b'')', 'plan IN (''a'',''b'')')
) AS t(a, b);

-- Different rules are not equal, even when they mean the same: equality is
-- by form, not by logic.  Operand order, literal spelling of numbers with
-- different scales, and negation placement all count.
SELECT a::segments.rule = b::segments.rule AS equal,
	   a::segments.rule <> b::segments.rule AS not_equal, a, b
FROM (VALUES
	('a = 1 and b = 2', 'b = 2 and a = 1'),
	('score = 7.0', 'score = 7.00'),
	('score = 7', 'score = ''7'''),
	('country = ''US''', 'country = ''us'''),
	('"Country" = ''US''', 'country = ''US'''),
	('not plan in (''a'')', 'plan not in (''a'')'),
	('event ''opened'' count >= 2', 'event ''opened'' count > 1'),
	('not not a = 1', 'a = 1')
) AS t(a, b);

-- NULL behaves as for any type.
SELECT NULL::segments.rule = 'a = 1' AS null_equal;

-- Equal rules hash alike, through both hash support functions.
SELECT segments.rule_hash('(A = 1)') = segments.rule_hash('a = 1') AS same_hash,
	   segments.rule_hash_extended('(A = 1)', 42) = segments.rule_hash_extended('a = 1', 42) AS same_extended_hash,
	   segments.rule_hash_extended('a = 1', 0) <> segments.rule_hash_extended('a = 1', 1) AS seed_matters;

-- Grouping and deduplication: the planner hashes (there is no ordering).
CREATE TABLE saved_rules (id serial PRIMARY KEY, rule segments.rule);
INSERT INTO saved_rules (rule) VALUES
	('country = ''US'''), ('(COUNTRY = ''US'')'), ('"country" = ''US'''),
	('event ''opened'' within last 30 days'), ('EVENT ''opened'' WITHIN LAST 30 DAYS'),
	('in list 7'), ('in list 7 and true'), ('in list 7');

EXPLAIN (COSTS OFF) SELECT rule, count(*) FROM saved_rules GROUP BY rule;
SELECT rule, count(*) FROM saved_rules GROUP BY rule ORDER BY rule::text;
SELECT rule FROM (SELECT DISTINCT rule FROM saved_rules) AS d ORDER BY rule::text;
SELECT count(*) AS distinct_rules FROM (SELECT DISTINCT rule FROM saved_rules) AS d;

-- A hash join on rules.
SELECT a.id, b.id
FROM saved_rules a JOIN saved_rules b ON a.rule = b.rule AND a.id < b.id
ORDER BY 1, 2;

-- A hash index answers equality lookups.
CREATE INDEX saved_rules_rule ON saved_rules USING hash (rule);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM saved_rules WHERE rule = 'in list 7';
SELECT id FROM saved_rules WHERE rule = 'IN LIST 7' ORDER BY id;
RESET enable_seqscan;

-- An exclusion constraint with the hash operator class keeps rules unique,
-- by canonical form.
CREATE TABLE unique_rules (rule segments.rule, EXCLUDE USING hash (rule WITH =));
INSERT INTO unique_rules VALUES ('a = 1 or b = 2');
INSERT INTO unique_rules VALUES ('(A = 1) OR (B = 2)');   -- refused: same rule
INSERT INTO unique_rules VALUES ('a = 1 and b = 2');
SELECT rule FROM unique_rules ORDER BY rule::text;

-- Hash partitioning by rule uses the extended hash function: equal rules
-- land in the same partition.
CREATE TABLE rules_by_hash (rule segments.rule) PARTITION BY HASH (rule);
CREATE TABLE rules_by_hash_0 PARTITION OF rules_by_hash FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE rules_by_hash_1 PARTITION OF rules_by_hash FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO rules_by_hash SELECT rule FROM saved_rules;
SELECT rule::text, count(DISTINCT tableoid) AS partitions
FROM rules_by_hash GROUP BY rule::text ORDER BY 1;

-- Rules have no ordering: sort by their text.  An aggregate with DISTINCT
-- needs sorting, so count distinct rules with a subquery, as above.
SELECT rule FROM saved_rules ORDER BY rule;
SELECT 'a = 1'::segments.rule < 'b = 1'::segments.rule;
SELECT count(DISTINCT rule) FROM saved_rules;

DROP TABLE saved_rules, unique_rules, rules_by_hash;
RESET search_path;
