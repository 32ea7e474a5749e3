--
-- rule_errors: what happens on a bad rule (docs/design.md, "The rule language").
--
-- A rule that does not follow the grammar is refused with SQLSTATE 42601
-- (syntax_error), the message "syntax error in rule at character N", where
-- N counts characters (not bytes) from 1 at the start of the rule text, and
-- a detail saying what was expected and what was found.  A well-formed
-- rule that means nothing (an empty event kind or segment name) gives 22023
-- (invalid_parameter_value); a count or time amount past 2147483647 gives
-- 22003 (numeric_value_out_of_range).  Limits are in rule_limits.
--

--
-- As psql shows them.  The character position in the message is inside the
-- rule; the LINE/caret that psql adds points at the literal in the query.
--
SELECT ''::segments.rule;
SELECT 'country = '::segments.rule;
SELECT 'country = ''US'' and'::segments.rule;
SELECT 'country = US'::segments.rule;
SELECT 'name = ''héllo'' and @'::segments.rule;
SELECT 'event ''opened'' count >= 1.5'::segments.rule;
SELECT 'in segment '''''::segments.rule;
SELECT 'event ''opened'' count > 2147483648'::segments.rule;

-- The same errors, showing only their SQLSTATE.  (VERBOSITY verbose would
-- print it too, but also the C source line, which is not stable output.)
\set VERBOSITY sqlstate
SELECT ''::segments.rule;
SELECT 'country = '::segments.rule;
SELECT 'country = ''US'' and'::segments.rule;
SELECT 'country = US'::segments.rule;
SELECT 'name = ''héllo'' and @'::segments.rule;
SELECT 'event ''opened'' count >= 1.5'::segments.rule;
SELECT 'in segment '''''::segments.rule;
SELECT 'event ''opened'' count > 2147483648'::segments.rule;
\set VERBOSITY default

-- An application catches them like any other error, by SQLSTATE or by
-- condition name.
DO $$
BEGIN
    PERFORM 'plan in (''pro'''::segments.rule;
EXCEPTION WHEN syntax_error THEN
    RAISE NOTICE 'caught % (%)', SQLSTATE, SQLERRM;
END
$$;

--
-- For the tables below: try_rule(text) casts the text and returns the
-- SQLSTATE, message and detail of the error, or 00000 and the canonical
-- text when the rule is valid.
--

SELECT * FROM try_rule('country = ''US''');
SELECT * FROM try_rule('country = ');

--
-- Nothing to parse.
--
SELECT what, e.*
FROM (VALUES
    ('empty string', ''),
    ('three spaces', '   '),
    ('newline and tab', E'\n\t')
) AS t(what, input), LATERAL try_rule(input) AS e;

--
-- A condition cut short, or conditions not joined by and/or.
--
SELECT input, e.*
FROM (VALUES
    ('country'),
    ('country ='),
    ('country = ''US'' and'),
    ('country = ''US'' AND'),
    ('country = ''US'' or'),
    ('and country = ''US'''),
    ('or country = ''US'''),
    ('country = ''US'' and and plan = ''pro'''),
    ('country = ''US'' or or plan = ''pro'''),
    ('country = ''US'' plan = ''pro'''),
    ('country = ''US'' not plan = ''pro'''),
    ('country = ''US'','),
    ('not'),
    ('country = ''US'' and not'),
    ('true = 1')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Operators: unknown ones, and the multi-word tests misspelt.
--
SELECT input, e.*
FROM (VALUES
    ('age ~ 3'),
    ('age == 3'),
    ('age => 3'),
    ('age ! 3'),
    ('age not = 3'),
    ('age not null'),
    ('age is 3'),
    ('age is not 3'),
    ('age is null null'),
    ('name starts ''a'''),
    ('name ends ''a'''),
    ('name starts with'),
    ('name contains'),
    ('seen within 3 days'),
    ('seen within last 3'),
    ('seen within last days'),
    ('seen within last -3 days'),
    ('seen within last 1.5 days')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- in (...) and between.
--
SELECT input, e.*
FROM (VALUES
    ('plan in ''pro'''),
    ('plan in ()'),
    ('plan in (''pro'','),
    ('plan in (''pro'',)'),
    ('plan in (''pro'' ''team'')'),
    ('plan in (''pro'', team)'),
    ('plan in (''pro'', ''team'''),
    ('plan in list 3'),
    ('age between 18'),
    ('age between 18 or 65'),
    ('age between 18 and'),
    ('age between 18, 65')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- like and ilike take a string pattern, nothing else.
--
SELECT input, e.*
FROM (VALUES
    ('name like 3'),
    ('name not like 3'),
    ('name ilike 3'),
    ('name not ilike true'),
    ('name like abc%'),
    ('name like "a%"'),
    ('name like')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Values.  Strings are in single quotes (double quotes make a name); there
-- is no null value (use is null); numbers have no exponent and no bare
-- point; a time needs ago or from now, and a whole, non-negative amount.
--
SELECT input, e.*
FROM (VALUES
    ('country = US'),
    ('country = "US"'),
    ('country = null'),
    ('total = 1e5'),
    ('total = .5'),
    ('total = 5.'),
    ('total = - 5'),
    ('total = 1.5.3'),
    ('total = $5'),
    ('seen = now()'),
    ('seen > 1 minutes'),
    ('seen > 3 days'),
    ('seen > 3 days from'),
    ('seen > 3 days from then'),
    ('seen > 3 day ago ago'),
    ('seen > 1.5 days ago'),
    ('seen > -3 days ago'),
    ('seen > 3 fortnights ago')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Unterminated and empty quotes.  An unterminated quote is reported where
-- it opens.  A quote inside a string must be doubled.
--
SELECT input, e.*
FROM (VALUES
    ('name = ''abc'),
    ('name = ''it''s'''),
    ('name = ''abc'' and city = ''Paris'),
    ('"name = ''abc'''),
    ('props."name = 1'),
    ('"" = 1'),
    ('props."" = 1')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Characters that have no place in a rule.  There are no comments, no
-- semicolons, no parameters.
--
SELECT input, e.*
FROM (VALUES
    ('country = ''US'' @'),
    ('country = #'),
    ('country = ''US'';'),
    ('country = $1'),
    ('country = ''US'' -- the US'),
    ('tags = [1]'),
    ('a = 1 & b = 2'),
    ('a = 1 || b = 2'),
    ('a.b-c = 1')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Parentheses out of balance, both ways, and empty ones.
--
SELECT input, e.*
FROM (VALUES
    ('(a = 1'),
    ('((a = 1)'),
    ('(a = 1 or (b = 2)'),
    ('a = 1)'),
    ('(a = 1))'),
    ('a = 1 or b = 2)'),
    (')'),
    ('()'),
    ('not ()'),
    ('a = 1 and ()'),
    ('(a = 1) (b = 2)')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Field names.  A reserved word (and, or, not, true, false, event, in) must
-- be double-quoted to name a field; so must a name with characters other
-- than ASCII letters, digits and _, or one starting with a digit; a path has
-- no empty component; a string is not a name.
--
SELECT input, e.*
FROM (VALUES
    ('and = 1'),
    ('or = 1'),
    ('not = 1'),
    ('true = 1'),
    ('false = 1'),
    ('event = ''opened'''),
    ('in = 1'),
    ('größe = 1'),
    ('名前 = ''太郎'''),
    ('props.größe = 1'),
    ('1st = 1'),
    ('props.1st = 1'),
    ('props. = 1'),
    ('props..x = 1'),
    ('.x = 1'),
    ('props.'),
    ('''name'' = 1')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Event conditions: the kind is a 'string'; the parts come in the order
-- from, where, count, window; from takes a 'string'; count takes a comparison and a whole number of 0 or
-- more; the window "within" is always "within last"; where needs
-- parentheses around a non-empty condition.
--
SELECT input, e.*
FROM (VALUES
    ('event'),
    ('event opened'),
    ('event "opened"'),
    ('event 7'),
    ('event ''opened'' count'),
    ('event ''opened'' count 3'),
    ('event ''opened'' count in (1, 2)'),
    ('event ''opened'' count >= -1'),
    ('event ''opened'' count >= 1.5'),
    ('event ''opened'' count = ''3'''),
    ('event ''opened'' count = 0 count = 1'),
    ('event ''opened'' within 3 days'),
    ('event ''opened'' within next 3 days'),
    ('event ''opened'' within last'),
    ('event ''opened'' within last 3'),
    ('event ''opened'' since'),
    ('event ''opened'' before'),
    ('event ''opened'' between 2 days ago'),
    ('event ''opened'' ever ever'),
    ('event ''opened'' ever since now'),
    ('event ''opened'' where url = ''x'''),
    ('event ''opened'' where ()'),
    ('event ''opened'' where (url = ''x'''),
    ('event ''opened'' where (url = ''x'') where (campaign = 1)'),
    ('event ''opened'' from email'),
    ('event ''opened'' from'),
    ('event ''opened'' where (url = ''x'') from ''email''')
) AS t(input), LATERAL try_rule(input) AS e;

-- Out of order: the window comes last, where comes first.
SELECT input, e.*
FROM (VALUES
    ('event ''opened'' within last 3 days count > 1'),
    ('event ''opened'' since now count > 1'),
    ('event ''opened'' count > 1 where (url = ''x'')'),
    ('event ''opened'' since now where (url = ''x'')')
) AS t(input), LATERAL try_rule(input) AS e;

-- Inside where, only tests of the event's own columns: no event, list or
-- segment condition, at any depth.
SELECT input, e.*
FROM (VALUES
    ('event ''clicked'' where (event ''opened'')'),
    ('event ''clicked'' where (in list 3)'),
    ('event ''clicked'' where (in segment ''VIP'')'),
    ('event ''clicked'' where (url = ''x'' and not event ''opened'')'),
    ('event ''clicked'' where (url = ''x'' or (campaign = 1 and in list 3))')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- in list takes one value; in segment takes the name as a 'string'.
--
SELECT input, e.*
FROM (VALUES
    ('in'),
    ('in lists 3'),
    ('in list'),
    ('in list (1, 2)'),
    ('in list vip'),
    ('in segment'),
    ('in segment 7'),
    ('in segment Churned'),
    ('in segment "Churned"'),
    ('not in segment 7 or x = 1')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Positions count characters, not bytes: text before the error may hold
-- multibyte characters.
--
SELECT input, e.*
FROM (VALUES
    ('name = ''hello'' and @'),
    ('name = ''héllo'' and @'),
    ('"prénom" = ''Zoë'' and x ~ 1'),
    ('city = ''東京'' or'),
    ('city = ''東京'' and größe = 1'),
    ('props."日本語" = ''日本'' and in segment 7'),
    ('note = ''😀😀😀'' and #')
) AS t(input), LATERAL try_rule(input) AS e;

-- The detail quotes what was found, cut after 40 bytes.
SELECT input, e.*
FROM (VALUES
    ('x = 1 ''abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij''')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Well-formed but meaningless: an empty event kind or segment name (22023).
-- These are found after parsing, so they have no position.
--
SELECT input, e.*
FROM (VALUES
    ('event '''''),
    ('event '''' count = 0'),
    ('in segment '''''),
    ('event ''opened'' and not in segment '''''),
    ('event ''opened'' from ''''')
) AS t(input), LATERAL try_rule(input) AS e;

--
-- Numbers out of range (22003): a count or a time amount is at most
-- 2147483647 (other numbers are values and have no limit).
--
SELECT input, e.*
FROM (VALUES
    ('event ''opened'' count > 2147483647'),
    ('event ''opened'' count > 2147483648'),
    ('event ''opened'' count > 99999999999999999999'),
    ('event ''opened'' within last 2147483648 minutes'),
    ('seen within last 2147483648 days'),
    ('seen within next 99999999999 years'),
    ('seen > 2147483648 days ago'),
    ('seen < 9999999999 hours from now'),
    ('total = 99999999999999999999')
) AS t(input), LATERAL try_rule(input) AS e;

-- A long token is cut in the detail at a character boundary, so the detail
-- is valid text whatever the characters.
SELECT e.detail, convert_to(e.detail, 'UTF8') IS NOT NULL AS valid_utf8
FROM try_rule('x = 1 ''' || repeat('é', 30) || '''') AS e;

