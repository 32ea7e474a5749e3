--
-- rule_limits: the documented limits of a rule (README, "Limits").
--
--   nesting depth   100 levels: each "(", "not" and "where (" opens one
--                   (SQLSTATE 54001, statement_too_complex)
--   size            10000 conditions, operators and values (54000,
--                   program_limit_exceeded)
--   field path      32 components (54000)
--   stored size     1 MB, 1048576 bytes (54000)
--   counts, amounts 2147483647 (22003, numeric_value_out_of_range)
--
-- Past a limit the rule is refused with a clear error, never a crash, however
-- far past it is.  Rules here are built with repeat() and string_agg(); to
-- keep the output short, big rules are shown by their length, an abbreviated
-- canonical text and whether printing is idempotent.
--

-- try_long_rule(text) casts the text (try_rule).  For a valid rule it returns 00000, the
-- length of the canonical text, its first characters and whether reading
-- the canonical text back prints it again; otherwise the error.
CREATE FUNCTION try_long_rule(input text,
                              OUT sqlstate text, OUT message text, OUT detail text,
                              OUT length int, OUT canonical text,
                              OUT idempotent boolean)
LANGUAGE sql AS $$
    SELECT r.sqlstate, CASE WHEN r.sqlstate <> '00000' THEN r.message END, r.detail,
           CASE WHEN r.sqlstate = '00000' THEN pg_catalog.length(r.message) END,
           CASE WHEN r.sqlstate <> '00000' THEN NULL
                WHEN pg_catalog.length(r.message) > 40 THEN left(r.message, 37) || '...'
                ELSE r.message END,
           CASE WHEN r.sqlstate = '00000' THEN r.message::segments.rule::text = r.message END
    FROM try_rule(input) r
$$;

--
-- Nesting depth: parentheses.  100 levels are accepted (and, being
-- redundant, dropped from the output); the 101st "(" is refused where it
-- stands, and so is anything deeper, even 10000 or 100000 levels, and
-- parentheses never closed.
--
SELECT levels, e.*
FROM (VALUES (1), (99), (100), (101), (102), (10000), (100000)) AS t(levels),
     LATERAL try_long_rule(repeat('(', levels) || 'a = 1' || repeat(')', levels)) AS e;

SELECT e.* FROM try_long_rule(repeat('(', 10000)) AS e;

--
-- Nesting depth: not.  Each not is one level.
--
SELECT levels, e.*
FROM (VALUES (1), (100), (101), (10000)) AS t(levels),
     LATERAL try_long_rule(repeat('not ', levels) || 'a = 1') AS e;

--
-- Nesting depth: where.  An event's where (...) is one level, its
-- parentheses included; any parentheses or not inside count on top.
--
SELECT levels AS levels_inside_where, e.*
FROM (VALUES (0), (99), (100)) AS t(levels),
     LATERAL try_long_rule('event ''clicked'' where (' || repeat('(', levels) ||
                      'url = ''x''' || repeat(')', levels) || ')') AS e;

SELECT levels AS nots_around, e.*
FROM (VALUES (99), (100)) AS t(levels),
     LATERAL try_long_rule(repeat('not ', levels) ||
                      'event ''clicked'' where (url = ''x'')') AS e;

SELECT levels AS nots_inside_where, e.*
FROM (VALUES (99), (100)) AS t(levels),
     LATERAL try_long_rule('event ''clicked'' where (' || repeat('not ', levels) ||
                      'url = ''x'')') AS e;

--
-- Nesting depth: a mix.  "not (" is two levels, so 50 of them reach 100.
--
SELECT pairs AS not_paren_pairs, extra_not, e.*
FROM (VALUES (50, false), (50, true), (51, false)) AS t(pairs, extra_not),
     LATERAL try_long_rule(repeat('not (', pairs) ||
                      CASE WHEN extra_not THEN 'not ' ELSE '' END ||
                      'a = 1 or b = 2' || repeat(')', pairs)) AS e;

-- Parentheses that cannot be dropped: an or inside an and, 100 levels deep.
-- The canonical text keeps all of them.
SELECT levels, e.*
FROM (VALUES (100), (101)) AS t(levels),
     LATERAL try_long_rule(repeat('a = 1 or b = 2 and (', levels) || 'c = 3 or d = 4' ||
                      repeat(')', levels)) AS e;

SELECT length(r) - length(replace(r, '(', '')) AS parentheses_kept
FROM (SELECT (repeat('a = 1 or b = 2 and (', 100) || 'c = 3 or d = 4' ||
              repeat(')', 100))::segments.rule::text AS r) AS t;

-- The deepest tree a rule can have: or and and alternating through 99
-- parentheses, then a where holding an or of ands.  100 levels: accepted.
SELECT e.*
FROM try_long_rule(repeat('a = 1 or b = 1 and (', 99) ||
              'a = 1 or b = 1 and event ''e'' where (a = 1 or b = 1 and c = 1)' ||
              repeat(')', 99)) AS e;

-- Each kind of level, side by side, with one level to spare: only the
-- deepest branch counts, not the total.
SELECT e.*
FROM try_long_rule(repeat('(', 99) || 'a = 1' || repeat(')', 99) || ' and ' ||
              repeat('not ', 99) || 'b = 2' || ' and ' ||
              'event ''e'' where (' || repeat('(', 98) || 'c = 3' ||
              repeat(')', 98) || ')') AS e;

-- An application catches it by its condition name.
DO $$
BEGIN
    PERFORM (repeat('(', 101) || 'a = 1' || repeat(')', 101))::segments.rule;
EXCEPTION WHEN statement_too_complex THEN
    RAISE NOTICE 'caught % (%)', SQLSTATE, SQLERRM;
END
$$;

--
-- Size: at most 10000 conditions, operators and values.  Each condition,
-- each value it holds and each and/or/not counts one.  "a = 1 and ..." with
-- n conditions holds n conditions, n values and one and: 2n + 1, so 4999
-- conditions make 9999 and 5000 make 10001.  A rule far past the limit is
-- stopped while it is read, at the character where the count is exceeded.
--
SELECT conditions, e.*
FROM (VALUES (1), (2), (4000), (4999), (5000), (20000)) AS t(conditions),
     LATERAL try_long_rule((SELECT string_agg('a = 1', ' and ')
                       FROM generate_series(1, conditions))) AS e;

-- Parentheses hold no item of their own, so redundant ones do not count:
-- 3334 conditions in parentheses make 6669 items.
SELECT e.*
FROM try_long_rule((SELECT string_agg('(a = 1)', ' and ') FROM generate_series(1, 3334))) AS e;

-- The same with or, and in a list of values: "a in (...)" is one condition
-- and its values.
SELECT conditions, e.*
FROM (VALUES (4999), (5000)) AS t(conditions),
     LATERAL try_long_rule((SELECT string_agg('a = ' || i, ' or ' ORDER BY i)
                       FROM generate_series(1, conditions) AS i)) AS e;

SELECT n AS values_in_list, e.*
FROM (VALUES (9998), (9999), (10000)) AS t(n),
     LATERAL try_long_rule('a in (' || (SELECT string_agg(i::text, ', ' ORDER BY i)
                                    FROM generate_series(1, n) AS i) || ')') AS e;

-- A rule of 4000 conditions of every kind is fine, and prints back the same.
SELECT e.*
FROM try_long_rule((SELECT string_agg(CASE i % 4
                                     WHEN 0 THEN 'props.n' || i || ' >= ' || i
                                     WHEN 1 THEN 'event ''e' || i || ''' count > ' || i
                                     WHEN 2 THEN 'not in list ' || i
                                     ELSE 'name not in (''' || i || ''')'
                                 END, CASE WHEN i % 3 = 0 THEN ' or ' ELSE ' and ' END
                                 ORDER BY i)
               FROM generate_series(1, 4000) AS i)) AS e;

--
-- Field paths: at most 32 components; the 33rd is refused where it stands.
--
SELECT components, e.*
FROM (VALUES (1), (31), (32), (33), (1000)) AS t(components),
     LATERAL try_long_rule((SELECT string_agg('p' || i, '.' ORDER BY i)
                       FROM generate_series(1, components) AS i) || ' = 1') AS e;

-- The same inside where, and with quoted components.
SELECT components, e.*
FROM (VALUES (32), (33)) AS t(components),
     LATERAL try_long_rule('event ''clicked'' where (' ||
                      (SELECT string_agg('"P ' || i || '"', '.' ORDER BY i)
                       FROM generate_series(1, components) AS i) || ' = 1)') AS e;

--
-- Stored size: at most 1 MB (1048576 bytes).  A string of 500,000
-- characters fits, one of 1,100,000 does not.  The limit is on bytes, so
-- 600,000 two-byte characters are too many.
--
SELECT characters, e.sqlstate, e.message, e.detail, e.length, e.idempotent
FROM (VALUES (500000), (1000000), (1100000)) AS t(characters),
     LATERAL try_long_rule('note = ''' || repeat('x', characters) || '''') AS e;

SELECT characters, octet_length(repeat('é', characters)) AS bytes,
       e.sqlstate, e.message, e.detail, e.length
FROM (VALUES (500000), (600000)) AS t(characters),
     LATERAL try_long_rule('note = ''' || repeat('é', characters) || '''') AS e;

-- Many medium strings add up the same way.
SELECT strings, e.sqlstate, e.message, e.detail, e.length
FROM (VALUES (90), (110)) AS t(strings),
     LATERAL try_long_rule((SELECT string_agg('note = ''' || repeat('x', 10000) || '''', ' or ')
                       FROM generate_series(1, strings))) AS e;

-- A big rule is stored (and toasted) like any value.
CREATE TEMP TABLE big_rule (r segments.rule);
INSERT INTO big_rule VALUES (('note = ''' || repeat('x', 500000) || '''')::segments.rule);
SELECT length(r::text), md5(r::text) = md5('note = ''' || repeat('x', 500000) || '''') AS same_text
FROM big_rule;
DROP TABLE big_rule;

--
-- Counts and time amounts: at most 2147483647.  (Other numbers are values
-- compared with the field, and have no such limit.)
--
SELECT input, e.sqlstate, e.message, e.detail, e.canonical
FROM (VALUES
    ('event ''opened'' count >= 2147483647'),
    ('event ''opened'' count >= 2147483648'),
    ('event ''opened'' within last 2147483647 minutes'),
    ('event ''opened'' within last 2147483648 minutes'),
    ('seen within last 2147483647 days'),
    ('seen within last 2147483648 days'),
    ('seen within next 2147483647 years'),
    ('seen within next 2147483648 years'),
    ('seen > 2147483647 hours ago'),
    ('seen > 2147483648 hours ago'),
    ('seen < 2147483647 weeks from now'),
    ('seen < 2147483648 weeks from now'),
    ('event ''opened'' since 2147483648 months ago'),
    ('event ''opened'' count = 000002147483647'),
    ('total = 2147483648')
) AS t(input), LATERAL try_long_rule(input) AS e;

DROP FUNCTION try_long_rule(text);
