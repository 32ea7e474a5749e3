--
-- semantics_json: tests on jsonb properties (docs/design.md, "Meaning").
--
-- A property is compared as the literal says: a string literal with a JSON
-- string, a number with a JSON number, true/false with a JSON boolean, a
-- time (now, ago, from now) with a JSON string read as timestamptz (UTC
-- when it has no zone).  A value of another JSON type, a missing key, JSON
-- null, a path through a non-object or a string that is not a timestamp
-- make the condition false (never an error); "is null" is true for a
-- missing key, JSON null and an SQL NULL column.
--
-- Each rule is evaluated by the compiled SQL, by the C evaluator and by a
-- hand-written condition (see semantics_fields); agree is true when the
-- three sets of contacts are equal.
--

-- Hand-written readers, independent of the extension's: a JSON value as a
-- string, a number, a boolean (NULL for another JSON type), and a JSON
-- string read as timestamptz in UTC (NULL when it is not one; the words
-- now, today, infinity ... are refused, as they would make truth drift).
CREATE FUNCTION j_text(v jsonb) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}' END $$;
CREATE FUNCTION j_num(v jsonb) RETURNS numeric LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'number' THEN (v #>> '{}')::numeric END $$;
CREATE FUNCTION j_bool(v jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'boolean' THEN (v #>> '{}')::boolean END $$;
CREATE FUNCTION j_time(v jsonb) RETURNS timestamptz LANGUAGE plpgsql IMMUTABLE
SET TimeZone = 'UTC' SET DateStyle = 'ISO, YMD' AS $$
BEGIN
	IF jsonb_typeof(v) IS DISTINCT FROM 'string'
		OR lower(v #>> '{}') ~ '(now|today|tomorrow|yesterday|infinity|epoch|allballs)' THEN
		RETURN NULL;
	END IF;
	RETURN (v #>> '{}')::timestamptz;
EXCEPTION WHEN OTHERS THEN
	RETURN NULL;
END
$$;

-- Times are shown in UTC, in ISO style.
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, YMD';
SET segments.now_override = '2025-06-15 12:00:00+00';

-- 300 contacts.  props holds: plan (strings in several cases, a number, a
-- boolean, JSON null, an array, or missing), ltv (numbers, numbers stored as
-- strings), vip (booleans, the string "true"), signup (times with and
-- without a zone, dates, invalid dates, non-strings), address (an object,
-- or a string: a path through a non-object), tags (arrays of strings,
-- numbers, mixed, nested, or a plain string), and keys needing quotes.
-- Some contacts have props NULL, or a JSON array or scalar as props.
CREATE TABLE contacts (
	id bigint PRIMARY KEY,
	account_id integer NOT NULL,
	name text,
	props jsonb
);
INSERT INTO contacts
SELECT i, 1 + i % 3, 'c' || i,
	CASE
		WHEN i % 29 = 0 THEN NULL
		WHEN i % 31 = 0 THEN '[{"plan": "pro"}, "vip"]'::jsonb
		WHEN i % 37 = 0 THEN '"pro"'::jsonb
		ELSE (SELECT jsonb_object_agg(kv.k, kv.v) FROM (VALUES
			('plan', (ARRAY['"pro"', '"PRO"', '"team"', '"free"', '3', 'true', 'null', '["pro"]', NULL, '"Pro plan"'])[1 + (i * 7) % 10]::jsonb),
			('ltv', (ARRAY['1000', '1e3', '1000.00', '"1000"', '250.5', '-20', '0', '5000', NULL, 'null', '"abc"', '999.99'])[1 + (i * 11) % 12]::jsonb),
			('vip', (ARRAY['true', 'false', '"true"', NULL, '1'])[1 + (i * 13) % 5]::jsonb),
			('signup', to_jsonb((ARRAY['2025-06-15 11:00:00', '2025-06-15 11:00:00+02', '2025-06-14',
				'2025-06-08 12:00:00+00', '2025-06-08 11:59:59', '2025-05-15 12:00:00', 'not a date',
				'2025-02-30', '2025-07-01 00:00:00-05', NULL, 'now', '', '2025-06-15 12:00:00'])[1 + (i * 17) % 13])),
			('address', (ARRAY['{"city": "Paris", "zip": 75001}', '{"city": "paris", "zip": "75001"}',
				'{"city": "Lyon", "geo": {"lat": 45.7}}', '"Paris"', '{"city": null}', NULL,
				'{"zip": 69001}', '[{"city": "Paris"}]'])[1 + (i * 19) % 8]::jsonb),
			('tags', (ARRAY['["vip", "new"]', '["VIP"]', '[1, 2, 3]', '["1", 1]', '"vip,new"',
				'[["vip"]]', '[]', NULL, '[true, null]'])[1 + (i * 23) % 9]::jsonb),
			('First Name', (ARRAY['"Ann"', '"bob"', NULL])[1 + i % 3]::jsonb),
			('a.b', (ARRAY['1', '2', NULL, NULL])[1 + (i * 3) % 4]::jsonb),
			('keep_null', CASE WHEN i % 4 = 0 THEN 'null'::jsonb END)
		) AS kv(k, v) WHERE kv.v IS NOT NULL)
	END
FROM generate_series(1, 300) AS i;

SELECT count(*) AS contacts,
	count(*) FILTER (WHERE props IS NULL) AS props_null,
	count(*) FILTER (WHERE jsonb_typeof(props) <> 'object') AS props_not_object,
	count(*) FILTER (WHERE props ? 'plan') AS has_plan,
	count(*) FILTER (WHERE props->'plan' = 'null') AS plan_json_null
FROM contacts;
SELECT jsonb_typeof(props->'plan') AS plan_type, count(*) FROM contacts GROUP BY 1 ORDER BY 1;
SELECT jsonb_typeof(props->'ltv') AS ltv_type, props->>'ltv' AS ltv, count(*) FROM contacts GROUP BY 1, 2 ORDER BY 1, 2;
SELECT props->'signup' AS signup, count(*) FROM contacts GROUP BY 1 ORDER BY 1;

SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');

--
-- String literals compare with JSON strings only; = is exact.
--
SELECT k.* FROM (VALUES
	('props.plan = ''pro''', 'c.props->''plan'' = ''"pro"'''),
	('props.plan = ''PRO''', 'j_text(c.props->''plan'') = ''PRO'''),
	('props.plan != ''pro''', 'j_text(c.props->''plan'') <> ''pro'''),
	('props.plan < ''pro''', 'j_text(c.props->''plan'') < ''pro'''),
	('props.plan <= ''pro''', 'j_text(c.props->''plan'') <= ''pro'''),
	('props.plan > ''PRO''', 'j_text(c.props->''plan'') > ''PRO'''),
	('props.plan >= ''team''', 'j_text(c.props->''plan'') >= ''team'''),
	('props.plan in (''pro'', ''team'')', 'j_text(c.props->''plan'') IN (''pro'', ''team'')'),
	('props.plan not in (''pro'', ''team'')', 'j_text(c.props->''plan'') NOT IN (''pro'', ''team'')'),
	('not props.plan in (''pro'', ''team'')', 'j_text(c.props->''plan'') IS NULL OR j_text(c.props->''plan'') NOT IN (''pro'', ''team'')'),
	('props.plan between ''a'' and ''q''', 'j_text(c.props->''plan'') BETWEEN ''a'' AND ''q'''),
	('props.plan not between ''a'' and ''q''', 'j_text(c.props->''plan'') NOT BETWEEN ''a'' AND ''q'''),
	('props.plan contains ''R''', 'position(''r'' in lower(j_text(c.props->''plan''))) > 0 OR EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.props->''plan'') = ''array'' THEN c.props->''plan'' END) e WHERE e = ''"R"'')'),
	('props.plan contains ''pro''', 'position(''pro'' in lower(j_text(c.props->''plan''))) > 0 OR EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.props->''plan'') = ''array'' THEN c.props->''plan'' END) e WHERE e = ''"pro"'')'),
	('props.plan not contains ''pro''', 'position(''pro'' in lower(j_text(c.props->''plan''))) = 0 OR (jsonb_typeof(c.props->''plan'') = ''array'' AND NOT c.props->''plan'' @> ''["pro"]'')'),
	('props.plan starts with ''p''', 'left(lower(j_text(c.props->''plan'')), 1) = ''p'''),
	('props.plan ends with ''O''', 'right(lower(j_text(c.props->''plan'')), 1) = ''o'''),
	('props.plan not ends with ''o''', 'right(lower(j_text(c.props->''plan'')), 1) <> ''o'''),
	('props.plan like ''P%''', 'left(j_text(c.props->''plan''), 1) = ''P'''),
	('props.plan ilike ''P%''', 'left(lower(j_text(c.props->''plan'')), 1) = ''p'''),
	('props.plan not like ''P%''', 'left(j_text(c.props->''plan''), 1) <> ''P'''),
	('props.plan not ilike ''%PLAN''', 'right(lower(j_text(c.props->''plan'')), 4) <> ''plan'''),
	('props.plan is null', 'c.props->''plan'' IS NULL OR c.props->''plan'' = ''null'''),
	('props.plan is not null', 'c.props->''plan'' <> ''null'''),
	('props.name is null', 'c.props->''name'' IS NULL')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- Number literals compare with JSON numbers only (1e3, 1000 and 1000.00
-- are one number; the string "1000" is not a number).  A string literal
-- compares with the string "1000" only.
--
SELECT k.* FROM (VALUES
	('props.ltv = 1000', 'j_num(c.props->''ltv'') = 1000'),
	('props.ltv = 1000.0', 'j_num(c.props->''ltv'') = 1000'),
	('props.ltv = ''1000''', 'c.props->''ltv'' = ''"1000"'''),
	('props.ltv != 1000', 'j_num(c.props->''ltv'') <> 1000'),
	('props.ltv < 0', 'j_num(c.props->''ltv'') < 0'),
	('props.ltv <= 0', 'j_num(c.props->''ltv'') <= 0'),
	('props.ltv > 999.99', 'j_num(c.props->''ltv'') > 999.99'),
	('props.ltv >= 999.99', 'j_num(c.props->''ltv'') >= 999.99'),
	('props.ltv between 250 and 1000', 'j_num(c.props->''ltv'') BETWEEN 250 AND 1000'),
	('props.ltv not between 250 and 1000', 'j_num(c.props->''ltv'') NOT BETWEEN 250 AND 1000'),
	('props.ltv in (0, 5000)', 'j_num(c.props->''ltv'') IN (0, 5000)'),
	('props.ltv in (1000, ''1000'')', 'j_num(c.props->''ltv'') = 1000 OR j_text(c.props->''ltv'') = ''1000'''),
	('props.ltv not in (1000, ''abc'')', 'j_num(c.props->''ltv'') <> 1000 OR j_text(c.props->''ltv'') <> ''abc'''),
	('props.ltv between ''1'' and ''2''', 'j_text(c.props->''ltv'') BETWEEN ''1'' AND ''2'''),
	('props.ltv > ''0''', 'j_text(c.props->''ltv'') > ''0'''),
	('props.ltv contains 1000', 'false'),
	('props.ltv starts with 10', 'left(j_text(c.props->''ltv''), 2) = ''10'''),
	('props.ltv is null', 'c.props->''ltv'' IS NULL OR c.props->''ltv'' = ''null''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- Booleans: true/false compare with JSON booleans only (not "true", not 1).
--
SELECT k.* FROM (VALUES
	('props.vip = true', 'j_bool(c.props->''vip'')'),
	('props.vip = false', 'NOT j_bool(c.props->''vip'')'),
	('props.vip != true', 'NOT j_bool(c.props->''vip'')'),
	('props.vip = ''true''', 'j_text(c.props->''vip'') = ''true'''),
	('props.vip in (true, ''true'', 1)', 'j_bool(c.props->''vip'') OR j_text(c.props->''vip'') = ''true'' OR j_num(c.props->''vip'') = 1'),
	('props.vip > false', 'j_bool(c.props->''vip'')'),
	('props.vip is not null', 'c.props ? ''vip'' AND c.props->''vip'' <> ''null''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- Times: a JSON string read as timestamptz, UTC when it has no zone; a
-- string that is not a timestamp (or a non-string) makes it false.  Now is
-- 2025-06-15 12:00:00 UTC.  A string literal compares as a string.
--
SELECT props->>'signup' AS signup, j_time(props->'signup') AS read_as,
	segments.json_time(props->'signup') AS segments_reads, count(*)
FROM contacts WHERE props ? 'signup' GROUP BY 1, 2, 3 ORDER BY 1;
SELECT k.* FROM (VALUES
	('props.signup within last 1 hour', 'j_time(c.props->''signup'') BETWEEN ''2025-06-15 11:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('props.signup within last 7 days', 'j_time(c.props->''signup'') BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('props.signup within last 1 month', 'j_time(c.props->''signup'') BETWEEN ''2025-05-15 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('props.signup within next 1 month', 'j_time(c.props->''signup'') BETWEEN ''2025-06-15 12:00:00+00'' AND ''2025-07-15 12:00:00+00'''),
	('props.signup > 1 day ago', 'j_time(c.props->''signup'') > ''2025-06-14 12:00:00+00'''),
	('props.signup <= 1 day ago', 'j_time(c.props->''signup'') <= ''2025-06-14 12:00:00+00'''),
	('props.signup = now', 'j_time(c.props->''signup'') = ''2025-06-15 12:00:00+00'''),
	('props.signup != now', 'j_time(c.props->''signup'') <> ''2025-06-15 12:00:00+00'''),
	('props.signup >= 7 days ago', 'j_time(c.props->''signup'') >= ''2025-06-08 12:00:00+00'''),
	('props.signup < 7 days ago', 'j_time(c.props->''signup'') < ''2025-06-08 12:00:00+00'''),
	('props.signup between 7 days ago and now', 'j_time(c.props->''signup'') BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('props.signup not between 7 days ago and now', 'j_time(c.props->''signup'') NOT BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('props.signup in (now, 1 hour ago)', 'j_time(c.props->''signup'') IN (''2025-06-15 12:00:00+00'', ''2025-06-15 11:00:00+00'')'),
	('props.signup in (now, ''2025-06-14'')', 'j_time(c.props->''signup'') = ''2025-06-15 12:00:00+00'' OR j_text(c.props->''signup'') = ''2025-06-14'''),
	-- not in is decided per kind of literal: a time not equal to now, or a
	-- string not equal to '2025-06-14'; so the string "2025-06-14" (a time
	-- other than now) is "not in" the list although it is in it as a string.
	('props.signup not in (now, ''2025-06-14'')', 'j_time(c.props->''signup'') <> ''2025-06-15 12:00:00+00'' OR j_text(c.props->''signup'') <> ''2025-06-14'''),
	('props.signup > 1 week from now', 'j_time(c.props->''signup'') > ''2025-06-22 12:00:00+00'''),
	('props.signup < ''2025-06-08''', 'j_text(c.props->''signup'') < ''2025-06-08'''),
	('props.signup = ''2025-06-14''', 'j_text(c.props->''signup'') = ''2025-06-14'''),
	('props.signup is null', 'c.props->''signup'' IS NULL'),
	('props.ltv > 1 day ago', 'false'),
	('props.plan within last 100 years', 'false'),
	('not props.signup within last 7 days', 'j_time(c.props->''signup'') IS NULL OR j_time(c.props->''signup'') NOT BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-15 12:00:00+00''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- The same answers in any session time zone: zone-less strings are UTC.
SET TimeZone = 'Asia/Tokyo';
SELECT k.* FROM (VALUES
	('props.signup within last 1 hour', 'j_time(c.props->''signup'') BETWEEN ''2025-06-15 11:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('props.signup within last 7 days', 'j_time(c.props->''signup'') BETWEEN ''2025-06-08 12:00:00+00'' AND ''2025-06-15 12:00:00+00''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SET TimeZone = 'America/New_York';
SELECT k.* FROM (VALUES
	('props.signup within last 1 hour', 'j_time(c.props->''signup'') BETWEEN ''2025-06-15 11:00:00+00'' AND ''2025-06-15 12:00:00+00'''),
	('props.signup > 1 day ago', 'j_time(c.props->''signup'') > ''2025-06-14 12:00:00+00''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SET TimeZone = 'UTC';

--
-- Nested paths; a path through a non-object (a string, an array) finds
-- nothing, so "is null" is true and every other test false.
--
SELECT k.* FROM (VALUES
	('props.address.city = ''Paris''', 'c.props->''address''->''city'' = ''"Paris"'''),
	('props.address.city = ''paris''', 'c.props->''address''->''city'' = ''"paris"'''),
	('props.address.city contains ''PAR''', 'position(''par'' in lower(j_text(c.props->''address''->''city''))) > 0'),
	('props.address.city != ''Paris''', 'j_text(c.props->''address''->''city'') <> ''Paris'''),
	('props.address.city is null', 'jsonb_typeof(c.props->''address''->''city'') IS DISTINCT FROM ''string'''),
	('props.address.city is not null', 'jsonb_typeof(c.props->''address''->''city'') = ''string'''),
	('props.address.zip = 75001', 'j_num(c.props->''address''->''zip'') = 75001'),
	('props.address.zip = ''75001''', 'j_text(c.props->''address''->''zip'') = ''75001'''),
	('props.address.zip > 70000', 'j_num(c.props->''address''->''zip'') > 70000'),
	('props.address.geo.lat = 45.7', 'j_num(c.props->''address''->''geo''->''lat'') = 45.7'),
	('props.address.geo.lat between 45 and 46', 'j_num(c.props->''address''->''geo''->''lat'') BETWEEN 45 AND 46'),
	('props.address.geo.lat.x is null', 'true'),
	('props.address = ''Paris''', 'c.props->''address'' = ''"Paris"'''),
	('props.address contains ''par''', 'position(''par'' in lower(j_text(c.props->''address''))) > 0'),
	('props.address is not null', 'c.props ? ''address'''),
	('props."First Name" starts with ''a''', 'left(lower(j_text(c.props->''First Name'')), 1) = ''a'''),
	('props."a.b" = 1', 'j_num(c.props->''a.b'') = 1'),
	('props.a.b = 1', 'false'),
	('props.keep_null is null', 'c.props->''keep_null'' IS NULL OR c.props->''keep_null'' = ''null'''),
	('props.keep_null is not null', 'false')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- JSON arrays: contains means "has this element" (a string element equal to
-- the string, a number element to the number; nested arrays are not
-- searched); on a JSON string, contains is the case-insensitive substring
-- test.  = never matches an array.
--
SELECT k.* FROM (VALUES
	('props.tags contains ''vip''', 'EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.props->''tags'') = ''array'' THEN c.props->''tags'' END) e WHERE e = ''"vip"'') OR position(''vip'' in lower(j_text(c.props->''tags''))) > 0'),
	('props.tags contains ''VIP''', 'EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.props->''tags'') = ''array'' THEN c.props->''tags'' END) e WHERE e = ''"VIP"'') OR position(''vip'' in lower(j_text(c.props->''tags''))) > 0'),
	('props.tags contains 1', 'EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.props->''tags'') = ''array'' THEN c.props->''tags'' END) e WHERE e = ''1'')'),
	('props.tags contains ''1''', 'EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.props->''tags'') = ''array'' THEN c.props->''tags'' END) e WHERE e = ''"1"'')'),
	('props.tags contains 1.0', 'EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.props->''tags'') = ''array'' THEN c.props->''tags'' END) e WHERE e = ''1'')'),
	('props.tags contains true', 'EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.props->''tags'') = ''array'' THEN c.props->''tags'' END) e WHERE e = ''true'')'),
	('props.tags not contains ''vip''', '(jsonb_typeof(c.props->''tags'') = ''array'' AND NOT EXISTS (SELECT FROM jsonb_array_elements(c.props->''tags'') e WHERE e = ''"vip"'')) OR position(''vip'' in lower(j_text(c.props->''tags''))) = 0'),
	('not props.tags contains ''vip''', 'NOT EXISTS (SELECT FROM jsonb_array_elements(CASE WHEN jsonb_typeof(c.props->''tags'') = ''array'' THEN c.props->''tags'' END) e WHERE e = ''"vip"'') AND coalesce(position(''vip'' in lower(j_text(c.props->''tags''))), 0) = 0'),
	('props.tags = ''vip''', 'c.props->''tags'' = ''"vip"'''),
	('props.tags is null', 'c.props->''tags'' IS NULL'),
	('props.plan contains ''pro'' and props.tags contains ''new''',
	 '(position(''pro'' in lower(j_text(c.props->''plan''))) > 0 OR c.props->''plan'' @> ''["pro"]'') AND (c.props->''tags'' @> ''["new"]'' OR position(''new'' in lower(j_text(c.props->''tags''))) > 0)')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- The jsonb column itself: props = 'pro' reads a JSON string scalar;
-- contains on a top-level array looks for the element; is null is SQL NULL
-- or JSON null.
--
SELECT k.* FROM (VALUES
	('props = ''pro''', 'c.props = ''"pro"'''),
	('props contains ''vip''', 'jsonb_typeof(c.props) = ''array'' AND c.props @> ''["vip"]'' OR position(''vip'' in lower(j_text(c.props))) > 0'),
	('props is null', 'c.props IS NULL OR c.props = ''null'''),
	('props is not null', 'c.props IS NOT NULL'),
	('props.plan = ''pro'' or props = ''pro''', 'c.props->''plan'' = ''"pro"'' OR c.props = ''"pro"''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- The compiled SQL of a few rules: typed readers, containment for = on a
-- path (a GIN index can answer it), one typed IN per kind of literal.
--
SELECT segments._compile('props.plan = ''pro'' and props.address.zip = 75001', NULL);
SELECT segments._compile('props.ltv in (1000, ''1000'', true) and props.vip != true', NULL);
SELECT segments._compile('props.signup within last 7 days or props.tags contains ''vip''', NULL);
SELECT segments._compile('props.plan is null or not props.ltv not in (1, 2)', NULL);

--
-- explain shows the JSON value seen.
--
SELECT id, props FROM contacts WHERE id = 1;
SELECT * FROM segments.explain(1::bigint,
	'props.plan = ''pro'' and props.ltv = ''1000'' and props.signup within last 1 hour and props.tags contains ''vip'' and props.address.zip is null');
SELECT * FROM segments.explain(29::bigint, 'props.plan is null and not props.plan = ''pro''');

--
-- Edge cases both paths once got wrong.
--
-- 1. "not" over "=" on a property path when the jsonb column is SQL NULL:
--    the condition is false, so its negation is true (under not, the
--    compiled containment test is wrapped in coalesce).
SELECT k.* FROM (VALUES
	('not props.plan = ''pro''', 'c.props->''plan'' IS DISTINCT FROM ''"pro"'''),
	('not props.ltv = 1000', 'j_num(c.props->''ltv'') IS DISTINCT FROM 1000'),
	('not props.address.zip = 75001', 'j_num(c.props->''address''->''zip'') IS DISTINCT FROM 75001')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SELECT segments._compile('not props.plan = ''pro''', NULL);
SELECT segments.matches(29, 'not props.plan = ''pro'''),
	29 IN (SELECT segments.preview('not props.plan = ''pro''', 1000)) AS in_preview;

-- 2. ISO 8601 strings with a "T" separator or a zone name ("Z", "UTC")
--    are read as times.
UPDATE contacts SET props = props || jsonb_build_object('seen',
	(ARRAY['2025-06-15T11:30:00Z', '2025-06-15T11:30:00+00:00', '2025-06-15 11:30:00 UTC',
		'2025-06-15T11:30:00', '2025-06-15 11:30:00+00'])[1 + id % 5])
WHERE jsonb_typeof(props) = 'object' AND id <= 50;
SELECT props->>'seen' AS seen, j_time(props->'seen') AS read_as,
	segments.json_time(props->'seen') AS segments_reads, count(*)
FROM contacts WHERE props ? 'seen' GROUP BY 1, 2, 3 ORDER BY 1;
SELECT k.* FROM (VALUES
	('props.seen within last 1 hour', 'j_time(c.props->''seen'') BETWEEN ''2025-06-15 11:00:00+00'' AND ''2025-06-15 12:00:00+00''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

SELECT segments.detach_contacts();
DROP TABLE contacts;
DROP FUNCTION j_text(jsonb), j_num(jsonb), j_bool(jsonb), j_time(jsonb);
RESET segments.now_override;
RESET TimeZone;
RESET DateStyle;
