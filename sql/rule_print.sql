--
-- rule_print: the canonical text of a rule (docs/design.md, "Stored form,
-- text and JSON").  rule::text prints lower-case keywords, the fewest parentheses
-- the precedence needs (not binds tighter than and, and tighter than or),
-- and quotes only where needed; printing is idempotent, and two rules are
-- equal exactly when their canonical texts are.
--

--
-- Precedence: not > and > or.  A group is parenthesized only where it
-- binds less tightly than the operator around it: an or inside an and, an
-- and or an or under not.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('a = 1 or b = 2 and c = 3'),
    ('a = 1 or (b = 2 and c = 3)'),
    ('(a = 1 or b = 2) and c = 3'),
    ('(a = 1 and b = 2) or (c = 3 and d = 4)'),
    ('(a = 1 or b = 2) and (c = 3 or d = 4)'),
    ('a = 1 and (b = 2 or c = 3) and d = 4'),
    ('a = 1 and (b = 2 or c = 3 and (d = 4 or e = 5))'),
    ('not a = 1 and b = 2'),
    ('(not a = 1) and b = 2'),
    ('not (a = 1) or b = 2'),
    ('not (a = 1 and b = 2)'),
    ('not (a = 1 or b = 2)'),
    ('not (a = 1 or b = 2) and c = 3'),
    ('not ((a = 1 or b = 2) and c = 3)'),
    ('event ''x'' where ((a = 1 or b = 2) and c = 3)'),
    ('event ''x'' where (not (a = 1 and b = 2))')
) AS t(input);

--
-- Redundant parentheses are removed: around a single condition, around the
-- whole rule, doubled ones, and those that precedence makes useless.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('(a = 1)'),
    ('((((a = 1))))'),
    ('(a = 1) and (b = 2)'),
    ('((a = 1 and b = 2))'),
    ('(a = 1 and b = 2) or c = 3'),
    ('a = 1 or (b = 2 and c = 3)'),
    ('(not a = 1)'),
    ('not (a = 1)'),
    ('not ((a = 1))'),
    ('(event ''x'') or (in list 7) or (in segment ''s'')'),
    ('not (event ''x'')'),
    ('(true) and ((false))'),
    ('event ''x'' where (((a = 1)))')
) AS t(input);

--
-- Nested and/or of the same kind are flattened into one list, whatever the
-- grouping; the order of the conditions is kept.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('a = 1 and (b = 2 and c = 3)'),
    ('(a = 1 and b = 2) and c = 3'),
    ('(a = 1 and b = 2) and (c = 3 and d = 4)'),
    ('a = 1 or (b = 2 or (c = 3 or d = 4))'),
    ('((a = 1 or b = 2) or c = 3) or d = 4'),
    ('a = 1 and ((b = 2 or c = 3) or d = 4)'),
    ('not (a = 1 and (b = 2 and c = 3))'),
    ('event ''x'' where (a = 1 and (b = 2 and c = 3))')
) AS t(input);

--
-- not is kept as written: not not x is not simplified to x.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('not not a = 1'),
    ('not (not a = 1)'),
    ('not not not a = 1'),
    ('not (not (a = 1 and b = 2))'),
    ('not true'),
    ('not not event ''x''')
) AS t(input);

--
-- "x not in (...)" and "not x in (...)" are different rules: a test is false
-- on a missing value, so "x not in (1, 2)" excludes contacts without x while
-- "not x in (1, 2)" includes them.  Both print as written, and they are not
-- equal.  The same holds for every test with a not form.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('x not in (1, 2)'),
    ('not x in (1, 2)'),
    ('not x not in (1, 2)'),
    ('x not between 1 and 2'),
    ('not x between 1 and 2'),
    ('x is not null'),
    ('not x is null'),
    ('x not contains ''a'''),
    ('not x contains ''a'''),
    ('x not starts with ''a'''),
    ('not x starts with ''a'''),
    ('x not ends with ''a'''),
    ('not x ends with ''a'''),
    ('x not like ''a%'''),
    ('not x like ''a%'''),
    ('x not ilike ''a%'''),
    ('not x ilike ''a%'''),
    ('x != 1'),
    ('not x = 1')
) AS t(input);

SELECT 'x not in (1, 2)'::segments.rule OPERATOR(segments.=)
       'not x in (1, 2)'::segments.rule AS same_rule;

--
-- Idempotence.  A table of varied rules, written in all sorts of ways.
--
CREATE TEMP TABLE sample (id int PRIMARY KEY, input text NOT NULL);
INSERT INTO sample VALUES
    (1, 'country = ''US'' and plan in (''pro'', ''team'')'),
    (2, $$country = 'US' and plan in ('pro', 'team')
and (event 'opened' count >= 3 within last 30 days or in list 7)
and not in segment 'Churned'
and props.ltv >= 1000 and email ends with '@gmail.com'
and created_at < 90 days ago$$),
    (3, 'NOT (A = 1 AND b = 2)'),
    (4, 'not not x = 1'),
    (5, 'x not in (1, 2)'),
    (6, 'not x in (1, 2)'),
    (7, '((a = 1 or b = 2) and (c = 3 or d = 4))'),
    (8, 'a = 1 or (b = 2 and (c = 3 or (d = 4 and e = 5)))'),
    (9, 'event ''opened'' count >= 1 ever'),
    (10, 'event ''clicked'' where (url ilike ''%pricing%'' or campaign in (1, 2)) count >= 3 within last 30 days'),
    (11, 'event ''bounced'' count = 0 since 90 days ago'),
    (12, 'event ''x'' before ''2024-01-01'' and event ''y'' between 2 weeks ago and 1 week ago'),
    (13, 'in list 007 or in list ''vip'''),
    (14, 'not in segment ''Bob''''s "VIP"'''),
    (15, '"First Name" = ''Ann'' and "and" = 1'),
    (16, 'props."utm.source" = ''news'' and Props.Address.City = ''Paris'''),
    (17, 'props."ville préférée" = ''Lyon'' and "名前" = ''太郎'''),
    (18, 'n = -000.500'),
    (19, 'n between -1 and 1.0'),
    (20, 't < 1 days ago and t > 2 week from now'),
    (21, 't within last 1 minutes or t within next 3 years'),
    (22, 'email not like ''%@spam.%'' and name not ilike ''test%'''),
    (23, 'email not contains ''x'' and email not starts with ''y'' and email not ends with ''z'''),
    (24, 'phone is null or phone is not null'),
    (25, 'true'),
    (26, 'not false'),
    (27, 'true and (false or true)'),
    (28, 'name = ''O''''Brien'''),
    (29, 'note = '''''),
    (30, E'note = \'line one\nline two\''),
    (31, 'count > 3 and within within last 1 day'),
    (32, 'is is null'),
    (33, '"event" = ''x'' and event ''x'''),
    (34, 'not (event ''a'' or event ''b'') and not in list 3'),
    (35, 'event ''x'' where (not (a = 1 and b = 2) and c is not null)'),
    (36, 'event ''x'' where ((a = 1 or b = 2) and c = 3) count < 2'),
    (37, 'x = now or x = NOW or x > 3 DAYS FROM NOW'),
    (38, 'flag in (true, false) and flag <> false'),
    (39, 'a <> 1 and b >= 2 and c <= 3 and d < 4 and e > 5'),
    (40, '"2x" = 1 and _x = 2 and "_" = 3'),
    (41, '(not a = 1) or (not (b = 2)) or not (c = 3 or d = 4)'),
    (42, 'n = 123456789012345678901234567890 and path = ''C:\dir\'''),
    (43, 'EVENT ''x'' COUNT <> 2 BETWEEN ''2024-01-01'' AND NOW'),
    (44, '"say ""hi""" = ''say "hi"'' and props."it''s" = ''it''''s''');

-- The canonical text of each.
SELECT id, input::segments.rule AS canonical FROM sample ORDER BY id;

-- Printing the canonical text again gives the same text: no row violates
-- (r::text)::segments.rule::text = r::text.
SELECT id, input::segments.rule::text AS once,
       input::segments.rule::text::segments.rule::text AS twice
FROM sample
WHERE input::segments.rule::text::segments.rule::text
      IS DISTINCT FROM input::segments.rule::text;

-- And reading the canonical text back gives the same rule.
SELECT id
FROM sample
WHERE NOT (input::segments.rule::text::segments.rule OPERATOR(segments.=)
           input::segments.rule);

-- How many samples were written in canonical form already, and how many
-- the printer rewrote.
SELECT count(*) FILTER (WHERE input = input::segments.rule::text) AS already_canonical,
       count(*) FILTER (WHERE input <> input::segments.rule::text) AS rewritten
FROM sample;

--
-- Equality.  Two spellings of one rule are the same rule; rules that print
-- differently are different rules.  Only spelling is normalized (case,
-- spaces, <>, leading zeros, units, quotes, parentheses, defaults); the
-- order of conditions and the structure are not.
--
CREATE TEMP TABLE spelling (id int PRIMARY KEY, a text NOT NULL, b text NOT NULL);
INSERT INTO spelling VALUES
    (1, 'a = 1 and b = 2', 'A=1 AND (b = 2)'),
    (2, 'event ''x''', 'EVENT ''x'' count >= 1 ever'),
    (3, 'x <> 1', 'x != 1'),
    (4, 'n = 007', 'n = 7'),
    (5, 't < 1 days ago', 't < 1 day ago'),
    (6, 'a = 1 and (b = 2 and c = 3)', '(a = 1 and b = 2) and c = 3'),
    (7, '"a" = 1', 'a = 1'),
    (8, 'props."x" = 1', 'props.X = 1'),
    (9, 'x not in (1)', 'not x in (1)'),
    (10, 'a = 1', 'a = 1.0'),
    (11, 'a = 1 and b = 2', 'b = 2 and a = 1'),
    (12, 'event ''x'' count > 0', 'event ''x'''),
    (13, '"A" = 1', 'a = 1'),
    (14, 'not not a = 1', 'a = 1'),
    (15, 'a = ''1''', 'a = 1'),
    (16, 'event ''X''', 'event ''x'''),
    (17, 'in list 7', 'in list ''7'''),
    (18, 'x = now', 'x = 0 minutes ago');
SELECT id, a, b,
       a::segments.rule::text = b::segments.rule::text AS same_text,
       a::segments.rule OPERATOR(segments.=) b::segments.rule AS same_rule
FROM spelling ORDER BY id;

-- Over every pair of rules above (samples and spellings), equal canonical
-- texts and equal rules go together: no pair violates it.
WITH rules AS (
    SELECT input AS r FROM sample
    UNION SELECT a FROM spelling
    UNION SELECT b FROM spelling
)
SELECT x.r AS left_rule, y.r AS right_rule
FROM rules x, rules y
WHERE (x.r::segments.rule::text = y.r::segments.rule::text)
      <> (x.r::segments.rule OPERATOR(segments.=) y.r::segments.rule);

-- The number of distinct rules among those texts, by canonical text and by
-- rule (the hash operator class of segments.rule serves DISTINCT).
WITH rules AS (
    SELECT input AS r FROM sample
    UNION SELECT a FROM spelling
    UNION SELECT b FROM spelling
)
SELECT count(*) AS texts,
       count(DISTINCT r::segments.rule::text) AS canonical_texts,
       (SELECT count(*) FROM (SELECT DISTINCT r::segments.rule FROM rules) d) AS rules
FROM rules;

DROP TABLE sample, spelling;
