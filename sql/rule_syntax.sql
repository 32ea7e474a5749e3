--
-- rule_syntax: the rule language, production by production (docs/design.md, "Grammar").
--
-- Every query shows the text a user writes next to its canonical form, the
-- text that segments.rule prints back: keywords in lower case, one space
-- between tokens, identifiers quoted only where needed, numbers without
-- leading zeros, the default count and window of an event left out.
-- Errors are in rule_errors, limits in rule_limits, the printing of
-- and/or/not and parentheses in rule_print.
--

--
-- A rule is text cast to segments.rule; casting back to text prints it.
--
SELECT 'country = ''US'''::segments.rule;
SELECT 'country=''US'''::segments.rule::text AS canonical;

-- The README's example, written over several lines.
SELECT $$country = 'US' and plan in ('pro', 'team')
and (event 'opened' count >= 3 within last 30 days or in list 7)
and not in segment 'Churned'
and props.ltv >= 1000 and email ends with '@gmail.com'
and created_at < 90 days ago$$::segments.rule;

--
-- Comparisons: = != <> < <= > >=.  <> is another spelling of != and
-- prints as !=.  Spaces around operators are optional.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('age = 30'),
    ('age != 30'),
    ('age <> 30'),
    ('age < 30'),
    ('age <= 30'),
    ('age > 30'),
    ('age >= 30'),
    ('age=30'),
    ('age<>30'),
    ('age>=-30'),
    ('age<-30')
) AS t(input);

--
-- in and not in: a parenthesized list of one or more values, of any kind.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('plan in (''pro'')'),
    ('plan in (''pro'', ''team'', ''enterprise'')'),
    ('plan not in (''free'', ''trial'')'),
    ('score in (1,2,3)'),
    ('score not in (-1, 0.5, 007)'),
    ('flag in (true, false)'),
    ('seen in (now, 1 day ago, 2 days from now)'),
    ('anything in (1, ''one'', true)')
) AS t(input);

--
-- between and not between: two values joined by "and" (bounds included).
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('age between 18 and 65'),
    ('age not between 18 and 65'),
    ('price between 9.99 and 19.99'),
    ('name between ''a'' and ''m'''),
    ('created_at between 30 days ago and now'),
    ('renews_at between now and 1 month from now'),
    ('born between ''1980-01-01'' and ''1989-12-31''')
) AS t(input);

--
-- is null and is not null take no value.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('phone is null'),
    ('phone is not null'),
    ('props.vip is null'),
    ('props.vip is not null')
) AS t(input);

--
-- Text tests, each with its not form: contains, starts with, ends with.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('email contains ''example'''),
    ('email not contains ''example'''),
    ('tags contains ''vip'''),
    ('props.scores contains 3'),
    ('name starts with ''Mc'''),
    ('name not starts with ''Mc'''),
    ('email ends with ''@gmail.com'''),
    ('email not ends with ''@gmail.com''')
) AS t(input);

--
-- like and ilike take a string (an SQL pattern); each has a not form.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('email like ''%@example.com'''),
    ('email not like ''%@example.com'''),
    ('name ilike ''jo_n%'''),
    ('name not ilike ''jo_n%'''),
    ('code like ''100\%'''),
    ('code like ''''')
) AS t(input);

--
-- within last and within next: an amount of time units around now.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('last_seen within last 30 days'),
    ('renews_at within next 2 weeks'),
    ('last_seen within last 0 minutes'),
    ('last_seen within last 1 hour'),
    ('props.trial_end within next 12 months')
) AS t(input);

--
-- Values: strings.  A quote inside a string is doubled; everything else,
-- double quotes, backslashes, newlines and any Unicode text, is kept as is.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('name = ''Ann'''),
    ('name = ''O''''Brien'''),
    ('name = '''''),
    ('name = '''''''''),
    ('name = ''say "hi"'''),
    ('path = ''C:\temp\'''),
    ('city = ''Zürich'''),
    ('city = ''東京'''),
    ('note = ''two
lines''')
) AS t(input);

--
-- Values: numbers.  Integers and decimals, possibly negative.  Leading zeros
-- are dropped (one is kept before the decimal point), -0 is 0, trailing
-- zeros after the point are kept.  A value may have any number of digits
-- (only counts and time amounts have a maximum, see rule_limits).
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('n = 42'),
    ('n = 0'),
    ('n = -42'),
    ('n = 3.25'),
    ('n = -3.25'),
    ('n = 007'),
    ('n = -007'),
    ('n = 000'),
    ('n = 00.50'),
    ('n = -00.5'),
    ('n = -0'),
    ('n = -0.00'),
    ('n = 1.500'),
    ('n = 123456789012345678901234567890.123456789')
) AS t(input);

--
-- Values: true, false and now (keywords, in any case).
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('subscribed = true'),
    ('subscribed = false'),
    ('subscribed != TRUE'),
    ('subscribed = False'),
    ('trial_end > now'),
    ('trial_end > NOW')
) AS t(input);

--
-- Values: times relative to now, "N unit ago" and "N unit from now".
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('created_at < 90 days ago'),
    ('created_at >= 1 year ago'),
    ('trial_end <= 3 days from now'),
    ('trial_end > 0 minutes from now'),
    ('created_at = 007 hours ago')
) AS t(input);

--
-- Time units: minute, hour, day, week, month, year, each in the singular or
-- the plural.  The output uses the singular for 1 and the plural otherwise,
-- whichever the input used.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('t < 1 minute ago'),
    ('t < 1 minutes ago'),
    ('t < 2 minute ago'),
    ('t < 2 minutes ago'),
    ('t < 1 hour ago'),
    ('t < 1 hours ago'),
    ('t < 2 hour ago'),
    ('t < 2 hours ago'),
    ('t < 1 day ago'),
    ('t < 1 days ago'),
    ('t < 2 day ago'),
    ('t < 2 days ago'),
    ('t < 1 week ago'),
    ('t < 1 weeks ago'),
    ('t < 2 week ago'),
    ('t < 2 weeks ago'),
    ('t < 1 month ago'),
    ('t < 1 months ago'),
    ('t < 2 month ago'),
    ('t < 2 months ago'),
    ('t < 1 year ago'),
    ('t < 1 years ago'),
    ('t < 2 year ago'),
    ('t < 2 years ago'),
    ('t < 0 days ago'),
    ('t > 1 weeks from now'),
    ('t within last 1 minutes'),
    ('t within next 10 year'),
    ('t < 3 DAYS AGO'),
    ('t > 1 Month From Now')
) AS t(input);

--
-- Fields.  An unquoted name is letters, digits and _ (not starting with a
-- digit) and is folded to lower case; a double-quoted name is taken exactly,
-- with "" for a double quote inside.  The canonical form quotes a name only
-- when it is not a plain lower-case word.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('first_name = ''Ann'''),
    ('First_Name = ''Ann'''),
    ('FIRST_NAME = ''Ann'''),
    ('"first_name" = ''Ann'''),
    ('"First_Name" = ''Ann'''),
    ('_private = 1'),
    ('x2 = 1'),
    ('"2x" = 1'),
    ('"_" = 1'),
    ('"first name" = ''Ann'''),
    ('"say ""hi""" = 1'),
    ('"it''s" = 1'),
    ('"a-b" = 1'),
    ('"straße" = 1'),
    ('"名前" = ''太郎''')
) AS t(input);

--
-- jsonb properties: a path of names joined by dots, column first.  Each
-- component follows the rules above, so keys with dots, spaces, quotes,
-- upper case or non-ASCII letters are written in double quotes.  Spaces
-- around the dots are allowed.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('props.ltv >= 1000'),
    ('props.address.city = ''Paris'''),
    ('a.b.c.d.e = 1'),
    ('Props.LTV >= 1000'),
    ('props."LTV" >= 1000'),
    ('props."utm.source" = ''news'''),
    ('props."favourite colour" = ''red'''),
    ('props."say ""hi""" = 1'),
    ('props."it''s" = 1'),
    ('props."ville préférée" = ''Lyon'''),
    ('props."好き" is not null'),
    ('"Props".x = 1'),
    ('props . address . city = ''Paris'''),
    ('props."2023" = 1')
) AS t(input);

--
-- Reserved words.  and, or, not, true, false, event and in start a
-- condition or join two, so a field with one of these names must be quoted
-- (as the first component of a path; after a dot any word is a key).  The
-- canonical form quotes them too.  Unquoted, they are syntax errors (see
-- rule_errors).
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('"and" = 1'),
    ('"or" = 1'),
    ('"not" = 1'),
    ('"true" = true'),
    ('"false" = false'),
    ('"event" = ''opened'''),
    ('"in" = 1'),
    ('"IN" = 1'),
    ('props.and = 1'),
    ('props.event.in = 1'),
    ('props."not" = 1')
) AS t(input);

--
-- Every other keyword is recognized only where the grammar expects it, so
-- it is an ordinary field name elsewhere, unquoted.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('count > 3'),
    ('within within last 1 day'),
    ('list = 1'),
    ('segment = ''b2b'''),
    ('now < now'),
    ('ever = 1'),
    ('since >= 2020'),
    ('before = 1'),
    ('between between 1 and 2'),
    ('where = 1'),
    ('ago = 1'),
    ('from = ''x'''),
    ('is is null'),
    ('null is not null'),
    ('like like ''a%'''),
    ('ilike ilike ''a%'''),
    ('contains contains ''a'''),
    ('starts starts with ''a'''),
    ('ends ends with ''a'''),
    ('with = 1'),
    ('last = 1'),
    ('next = 1'),
    ('day = 1'),
    ('days = 1 and minute = 2 and hours = 3 and weeks = 4 and month = 5 and years = 6'),
    ('Count = 1')
) AS t(input);

--
-- Event conditions: event 'kind' [where (...)] [count cmp n] [window].
-- The kind is a string, matched exactly (case and all).
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('event ''opened'''),
    ('event ''Opened'''),
    ('event ''page viewed'''),
    ('event ''it''''s'''),
    ('event ''ouvert é'''),
    ('not event ''bounced''')
) AS t(input);

-- The defaults, count >= 1 and the window ever, are left out of the output;
-- any other count or window is kept.
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('event ''opened'' count >= 1'),
    ('event ''opened'' ever'),
    ('event ''opened'' count >= 1 ever'),
    ('event ''opened'' count >= 001'),
    ('event ''opened'' count > 0'),
    ('event ''opened'' count >= 2'),
    ('event ''opened'' count >= 1 within last 7 days')
) AS t(input);

-- count with every comparison.  count = 0 and count < n also match contacts
-- that have no such event at all.
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('event ''opened'' count = 0'),
    ('event ''opened'' count = 3'),
    ('event ''opened'' count != 3'),
    ('event ''opened'' count <> 3'),
    ('event ''opened'' count < 3'),
    ('event ''opened'' count <= 3'),
    ('event ''opened'' count > 3'),
    ('event ''opened'' count >= 3'),
    ('event ''opened'' count>=3'),
    ('event ''opened'' count = 2147483647')
) AS t(input);

-- Every window: ever, within last N unit, since v, before v, between a and b.
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('event ''opened'' ever'),
    ('event ''opened'' within last 30 days'),
    ('event ''opened'' within last 1 hours'),
    ('event ''opened'' since 7 days ago'),
    ('event ''opened'' since now'),
    ('event ''opened'' since ''2024-01-01'''),
    ('event ''opened'' before 1 month ago'),
    ('event ''opened'' before ''2024-01-01 00:00:00+00'''),
    ('event ''opened'' between 14 days ago and 7 days ago'),
    ('event ''opened'' between ''2024-01-01'' and ''2024-01-31''')
) AS t(input);

-- where (...) filters the events on their own columns, with the same field
-- tests as contacts and any and/or/not inside; then count, then window.
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('event ''clicked'' where (url contains ''pricing'')'),
    ('event ''clicked'' where (campaign = 42 and url ends with ''/buy'')'),
    ('event ''clicked'' where (campaign in (1, 2) or not url is null)'),
    ('event ''clicked'' where ((campaign = 1))'),
    ('event ''clicked'' where (true)'),
    ('event ''clicked'' where (payload.utm.source = ''news'')'),
    ('event ''clicked'' where ("count" > 1 and count < 5)'),
    ('event ''clicked'' where (at within last 1 day)'),
    ('event ''clicked'' where (campaign = 42) count >= 2'),
    ('event ''clicked'' where (campaign = 42) within last 30 days'),
    ('event ''clicked'' where (campaign = 42) count = 0 since 1 week ago'),
    ('event ''clicked'' count < 5 before now'),
    ('event ''clicked'' count >= 1 between 2 days ago and now'),
    ('event ''clicked'' where (campaign = 42) count >= 3 within last 30 days')
) AS t(input);

-- from 'source' names the event source, after the kind (see semantics_events).
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('event ''opened'' from ''email'''),
    ('EVENT ''opened'' FROM ''email'' WHERE (campaign = 1) COUNT >= 2 WITHIN LAST 7 DAYS'),
    ('event ''purchased'' from ''shop'' sum(amount) >= 500'),
    ('event ''from'' from ''from'''),
    ('event ''opened'' from ''it''''s'' last before 3 days ago'),
    ('from = 1 and event ''x'' from ''y''')
) AS t(input);

--
-- in list v: list membership; the list id is a value (a number or a string).
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('in list 7 where (status = ''on'') within last 7 days'),
    ('in list 7'),
    ('in list 0007'),
    ('in list -1'),
    ('in list ''newsletter'''),
    ('in list ''it''''s'''),
    ('in list ''7'''),
    ('not in list 7')
) AS t(input);

--
-- in segment 'name': membership of another segment, by name (a string).
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('in segment ''Churned'''),
    ('in segment ''churned'''),
    ('in segment ''Bob''''s "VIP" list'''),
    ('in segment ''année 2024'''),
    ('not in segment ''Churned''')
) AS t(input);

--
-- true and false are rules too (everyone, no one).
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('true'),
    ('false'),
    ('TRUE'),
    ('(false)'),
    ('not true'),
    ('true and false or true')
) AS t(input);

--
-- and, or, not and parentheses.  not binds tightest, then and, then or.
-- (rule_print shows how parentheses are printed.)
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('a = 1 and b = 2'),
    ('a = 1 or b = 2'),
    ('not a = 1'),
    ('a = 1 and b = 2 or c = 3'),
    ('a = 1 or b = 2 and c = 3'),
    ('(a = 1 or b = 2) and c = 3'),
    ('not (a = 1 or b = 2)'),
    ('not a = 1 or b = 2'),
    ('(a = 1)'),
    ('event ''opened'' and not event ''clicked'' or in list 7 and in segment ''x''')
) AS t(input);

--
-- Keywords are case-insensitive.
--
SELECT input, input::segments.rule AS canonical
FROM (VALUES
    ('EVENT ''opened'' COUNT >= 3 WITHIN LAST 30 DAYS'),
    ('Event ''opened'' Where (url Contains ''x'') Count > 1 Within Last 2 Weeks'),
    ('event ''opened'' SINCE 1 DAY AGO'),
    ('event ''opened'' Before Now'),
    ('event ''opened'' BETWEEN 2 days ago AND 1 day ago'),
    ('event ''opened'' EVER'),
    ('NOT a = 1 AND b = 2 OR c = 3'),
    ('a IN (1, 2) And b NOT IN (3)'),
    ('a Between 1 AND 2'),
    ('a IS NULL and b Is Not Null'),
    ('a STARTS WITH ''x'' and b Ends With ''y'' and c NOT CONTAINS ''z'''),
    ('a LIKE ''x%'' and b NOT ILIKE ''y%'''),
    ('a Within Last 3 Days and b WITHIN NEXT 1 WEEK'),
    ('a = 3 Days Ago and b = 2 DAYS FROM NOW'),
    ('IN LIST 7 or In Segment ''S'''),
    ('True or FALSE')
) AS t(input);

--
-- Whitespace between tokens: spaces, tabs, newlines (\n and \r\n), form
-- feeds, any amount, or none where the tokens stay apart.  (The first
-- column names the whitespace used, so the output stays readable.)
--
SELECT whitespace, input::segments.rule AS canonical
FROM (VALUES
    ('tabs', E'a = 1\tand\tb = 2'),
    ('newlines', E'a = 1\nand b = 2\n'),
    ('CR LF', E'a = 1\r\nand\r\nb = 2'),
    ('leading and trailing, form feed', E'\n\n  a = 1 \f'),
    ('runs of spaces, tabs, newlines', E'  event  \'opened\'\n\tcount  >=  3\n\twithin   last   30   days  '),
    ('none around operators', 'a=1 and(b=2 or c=3)'),
    ('none after a string', 'a=''x''and b=2'),
    ('none after a number', 'a=1and b=2'),
    ('none around parentheses', 'a in(1,2)and not(b=2)'),
    ('none at all', '(((a=1)))')
) AS t(whitespace, input);
