--
-- The JSON form of rules (docs/rule-json.md): segments.rule_to_jsonb(),
-- segments.rule_from_jsonb() and the casts between segments.rule and jsonb.
--

-- The = operator on rules lives in the extension's schema.
SET search_path = public, segments;

-- The example rule of the README, as a UI builder receives it.
-- Every field is an array of path components; operators and units are
-- spelled as in the text form (singular units); times are objects.
SELECT jsonb_pretty(segments.rule_to_jsonb($$
	country = 'US' and plan in ('pro', 'team')
	and (event 'opened' count >= 3 within last 30 days or in list 7)
	and not in segment 'Churned'
	and props.ltv >= 1000 and email ends with '@gmail.com'
	and created_at < 90 days ago
$$));

-- Every form, written by rule_to_jsonb(), and the round trip: reading the
-- JSON back gives the same rule (equal stored bytes).
SELECT r AS rule, segments.rule_to_jsonb(r::segments.rule) AS json,
	   segments.rule_from_jsonb(segments.rule_to_jsonb(r::segments.rule)) = r::segments.rule AS round_trip
FROM (VALUES
	-- constants: bare JSON booleans
	('true'),
	('false'),
	-- and, or, not
	('a = 1 and b = 2 and c = 3'),
	('a = 1 or b = 2'),
	('a = 1 and (b = 2 or not c = 3)'),
	('not in list 1'),
	-- comparisons; "<>" is written "!="
	('country = ''US'''),
	('country != ''US'''),
	('country <> ''US'''),
	('score < 10'),
	('score <= 10'),
	('score > -2.5'),
	('score >= 0.50'),
	-- in and between take "values"
	('plan in (''pro'', ''team'')'),
	('plan not in (''free'')'),
	('score between 1 and 10'),
	('score not between 1 and 10'),
	-- is null takes no operand
	('phone is null'),
	('phone is not null'),
	-- string tests take "value"
	('email contains ''@'''),
	('email not contains ''@'''),
	('email starts with ''info'''),
	('email not starts with ''info'''),
	('email ends with ''@gmail.com'''),
	('email not ends with ''@gmail.com'''),
	('email like ''%@%.com'''),
	('email not like ''%@%.com'''),
	('email ilike ''%@GMAIL.COM'''),
	('email not ilike ''%@GMAIL.COM'''),
	-- within last / next take "amount" and "unit"
	('last_seen within last 30 days'),
	('renews_at within next 2 weeks'),
	-- field paths: a jsonb property, quoted and non-ASCII names
	('props.ltv >= 1000'),
	('props."Lifetime Value".eur >= 1000'),
	('props."größe" = ''XL'''),
	-- values: strings, numbers, booleans and times
	('name = ''O''''Brien'''),
	('name = '''''),
	('vip = true'),
	('vip != false'),
	('created_at < now'),
	('created_at < 90 days ago'),
	('trial_ends < 1 month from now'),
	('created_at between 1 year ago and now'),
	-- events: only what differs from count >= 1 and ever is written
	('event ''opened'''),
	('event ''opened'' count >= 3'),
	('event ''opened'' count = 0'),
	('event ''clicked'' where (url contains ''pricing'')'),
	('event ''opened'' ever'),
	('event ''opened'' within last 30 days'),
	('event ''opened'' since 7 days ago'),
	('event ''opened'' before ''2024-01-01'''),
	('event ''opened'' between 14 days ago and 7 days ago'),
	('event ''clicked'' where (url contains ''pricing'' and campaign = 42) count < 2 within last 1 hour'),
	('event ''purchased'' from ''shop'' sum(amount) >= 500'),
	-- lists and segments
	('in list 7'),
	('in list ''newsletter'''),
	('in list ''newsletter'' where (status = ''subscribed'') since 7 days ago'),
	('in segment ''Churned''')
) AS t(r);

-- What rule_to_jsonb() writes is the canonical form: spellings of one rule
-- give one JSON (defaults dropped, nested and/or flattened, plural units
-- and "<>" written in their canonical spelling, leading zeros dropped).
SELECT r AS rule, segments.rule_to_jsonb(r::segments.rule) AS json
FROM (VALUES
	('event ''opened'' count >= 1 ever'),
	('a = 1 and (b = 2 and (c = 3))'),
	('x = 007.50'),
	('x = -0'),
	('x <> 1'),
	('x within last 1 days')
) AS t(r);

-- The casts do the same.
SELECT 'in list 7'::segments.rule::jsonb AS rule_to_json,
	   '{"in_list": 7}'::jsonb::segments.rule AS json_to_rule;

-- The round trip over many generated rules at once: every rule survives
-- rule -> JSON -> rule, and JSON -> rule -> JSON gives the same JSON.
WITH rules AS (
	SELECT format('(f%s = %s or props.k%s in (''a'', %s, true)) and not event ''e%s'' where (u starts with ''x%s'') count > %s within last %s days',
				  i, i * 7 - 50, i % 3, i / 4.0, i % 5, i, i % 4, i)::segments.rule AS r
	FROM generate_series(1, 200) AS i
)
SELECT count(*) AS rules,
	   count(*) FILTER (WHERE segments.rule_from_jsonb(segments.rule_to_jsonb(r)) = r) AS round_trips,
	   count(*) FILTER (WHERE segments.rule_to_jsonb(segments.rule_from_jsonb(segments.rule_to_jsonb(r))) = segments.rule_to_jsonb(r)) AS stable_json
FROM rules;

-- Hand-written JSON, one document per form, read into rules.
SELECT j AS json, segments.rule_from_jsonb(j::jsonb) AS rule
FROM (VALUES
	('true'),
	('false'),
	('{"and": [{"field": ["a"], "op": "=", "value": 1}, {"field": ["b"], "op": "=", "value": 2}]}'),
	('{"or": [{"in_list": 1}, {"in_list": 2}]}'),
	('{"not": {"in_segment": "Churned"}}'),
	('{"field": ["country"], "op": "=", "value": "US"}'),
	('{"field": ["country"], "op": "!=", "value": "US"}'),
	('{"field": ["score"], "op": "<", "value": 10}'),
	('{"field": ["score"], "op": "<=", "value": 10}'),
	('{"field": ["score"], "op": ">", "value": -2.5}'),
	('{"field": ["score"], "op": ">=", "value": 0.50}'),
	('{"field": ["plan"], "op": "in", "values": ["pro", "team"]}'),
	('{"field": ["plan"], "op": "not in", "values": ["free"]}'),
	('{"field": ["score"], "op": "between", "values": [1, 10]}'),
	('{"field": ["score"], "op": "not between", "values": [1, 10]}'),
	('{"field": ["phone"], "op": "is null"}'),
	('{"field": ["phone"], "op": "is not null"}'),
	('{"field": ["email"], "op": "contains", "value": "@"}'),
	('{"field": ["email"], "op": "not contains", "value": "@"}'),
	('{"field": ["email"], "op": "starts with", "value": "info"}'),
	('{"field": ["email"], "op": "not starts with", "value": "info"}'),
	('{"field": ["email"], "op": "ends with", "value": "@gmail.com"}'),
	('{"field": ["email"], "op": "not ends with", "value": "@gmail.com"}'),
	('{"field": ["email"], "op": "like", "value": "%@%.com"}'),
	('{"field": ["email"], "op": "not like", "value": "%@%.com"}'),
	('{"field": ["email"], "op": "ilike", "value": "%@GMAIL.COM"}'),
	('{"field": ["email"], "op": "not ilike", "value": "%@GMAIL.COM"}'),
	('{"field": ["last_seen"], "op": "within last", "amount": 30, "unit": "day"}'),
	('{"field": ["renews_at"], "op": "within next", "amount": 2, "unit": "week"}'),
	('{"field": ["props", "Lifetime Value"], "op": ">=", "value": 1000}'),
	('{"field": ["vip"], "op": "=", "value": true}'),
	('{"field": ["vip"], "op": "=", "value": false}'),
	('{"field": ["created_at"], "op": "<", "value": {"time": "now"}}'),
	('{"field": ["created_at"], "op": "<", "value": {"time": "ago", "amount": 90, "unit": "day"}}'),
	('{"field": ["trial_ends"], "op": "<", "value": {"time": "from now", "amount": 1, "unit": "month"}}'),
	('{"event": "opened"}'),
	('{"event": "opened", "count": {"op": ">=", "value": 3}}'),
	('{"event": "clicked", "where": {"field": ["url"], "op": "contains", "value": "pricing"}}'),
	('{"event": "opened", "window": {"op": "ever"}}'),
	('{"event": "opened", "window": {"op": "within last", "amount": 30, "unit": "day"}}'),
	('{"event": "opened", "window": {"op": "since", "value": {"time": "ago", "amount": 7, "unit": "day"}}}'),
	('{"event": "opened", "window": {"op": "before", "value": "2024-01-01"}}'),
	('{"event": "opened", "window": {"op": "between", "values": [{"time": "ago", "amount": 14, "unit": "day"}, {"time": "ago", "amount": 7, "unit": "day"}]}}'),
	('{"event": "opened", "source": "email", "count": {"op": ">=", "value": 3}}'),
	('{"in_list": 7}'),
	('{"in_list": "newsletter"}'),
	('{"in_list": "newsletter", "where": {"field": ["status"], "op": "=", "value": "subscribed"}}'),
	('{"in_segment": "Churned"}')
) AS t(j);

-- Input is lenient where it costs nothing: a field may be one name as a
-- string (not split on dots), "<>" means "!=", operator, time, unit and
-- window names ignore case, units may be plural, a one-element and/or
-- stands for its element, the defaults may be spelled out, and an integral
-- number may use an exponent.  The JSON read back is canonical.
SELECT j AS json, segments.rule_from_jsonb(j::jsonb) AS rule,
	   segments.rule_to_jsonb(segments.rule_from_jsonb(j::jsonb)) AS canonical_json
FROM (VALUES
	('{"field": "country", "op": "=", "value": "US"}'),
	('{"field": "props.ltv", "op": "=", "value": 1}'),
	('{"field": "a", "op": "<>", "value": 1}'),
	('{"field": "a", "op": "NOT In", "values": [1]}'),
	('{"field": "a", "op": "Within Last", "amount": 3, "unit": "Days"}'),
	('{"field": "a", "op": "<", "value": {"time": "FROM NOW", "amount": 2, "unit": "hours"}}'),
	('{"and": [{"field": "a", "op": "is null"}]}'),
	('{"or": [{"or": [true, false]}, {"in_list": 1}]}'),
	('{"event": "opened", "count": {"op": ">=", "value": 1}, "window": {"op": "EVER"}}'),
	('{"event": "opened", "count": {"op": ">", "value": 1e1}}'),
	('{"field": "a", "op": "=", "value": 1.5e-3}')
) AS t(j);

-- Errors.  Every message names the offending element by its JSON path from
-- the root ($, $.and[1], $.where.op ...) and says what was expected there
-- and what was found.

-- A condition is true, false or an object with exactly one of the keys
-- "and", "or", "not", "field", "event", "in_list", "in_segment".
SELECT segments.rule_from_jsonb('null');
SELECT segments.rule_from_jsonb('"country = ''US''"');
SELECT segments.rule_from_jsonb('[true]');
SELECT segments.rule_from_jsonb('{}');
SELECT segments.rule_from_jsonb('{"feild": "a", "op": "is null"}');
SELECT segments.rule_from_jsonb('{"and": [true], "or": [false]}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "is null", "in_segment": "x"}');

-- Keys that do not belong to the condition are refused, wherever they are.
SELECT segments.rule_from_jsonb('{"not": true, "value": 1}');
SELECT segments.rule_from_jsonb('{"and": [true, {"or": [false, {"field": "a", "op": "=", "value": 1, "valeu": 2}]}]}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "=", "value": 1, "values": [1]}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "is null", "value": 1}');
SELECT segments.rule_from_jsonb('{"event": "opened", "op": "="}');
SELECT segments.rule_from_jsonb('{"in_list": 1, "value": 2}');

-- and, or, not
SELECT segments.rule_from_jsonb('{"and": []}');
SELECT segments.rule_from_jsonb('{"or": {"in_list": 1}}');
SELECT segments.rule_from_jsonb('{"and": [true, null]}');
SELECT segments.rule_from_jsonb('{"not": [true]}');

-- field: a non-empty name, or an array of 1 to 32 non-empty names
SELECT segments.rule_from_jsonb('{"field": [], "op": "is null"}');
SELECT segments.rule_from_jsonb('{"field": "", "op": "is null"}');
SELECT segments.rule_from_jsonb('{"field": ["props", ""], "op": "is null"}');
SELECT segments.rule_from_jsonb('{"field": ["props", 1], "op": "is null"}');
SELECT segments.rule_from_jsonb('{"field": {"props": "ltv"}, "op": "is null"}');
SELECT segments.rule_from_jsonb(jsonb_build_object('field', (SELECT jsonb_agg('p' || i) FROM generate_series(1, 33) AS i), 'op', 'is null'));

-- op: one of the operators, as a string
SELECT segments.rule_from_jsonb('{"field": "a", "value": 1}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": 1, "value": 1}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "==", "value": 1}');

-- operands: "value", "values", "amount" and "unit", or none, by operator
SELECT segments.rule_from_jsonb('{"field": "a", "op": "="}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "in", "value": 1}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "in", "values": 1}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "in", "values": []}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "between", "values": [1]}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "not between", "values": [1, 2, 3]}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "like", "value": 1}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "ilike", "value": {"time": "now"}}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "within last", "amount": 1}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "within next", "unit": "day"}');

-- values: a string, a number, true, false or a time object
SELECT segments.rule_from_jsonb('{"field": "a", "op": "=", "value": null}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "in", "values": [1, [2]]}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "=", "value": {"when": "now"}}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "=", "value": {"time": 1}}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "=", "value": {"time": "later"}}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "=", "value": {"time": "now", "amount": 1}}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "=", "value": {"time": "ago", "amount": 1}}');

-- amount and count: an integer from 0 to 2147483647; unit: a time unit
SELECT segments.rule_from_jsonb('{"field": "a", "op": "within last", "amount": "30", "unit": "day"}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "within last", "amount": 1.5, "unit": "day"}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "within last", "amount": 3.0, "unit": "day"}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "within last", "amount": -1, "unit": "day"}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "within last", "amount": 2147483648, "unit": "day"}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "within last", "amount": 1, "unit": "fortnight"}');
SELECT segments.rule_from_jsonb('{"field": "a", "op": "within last", "amount": 1, "unit": 7}');

-- event: a non-empty kind; where: a condition on the event's own columns
SELECT segments.rule_from_jsonb('{"event": ""}');
SELECT segments.rule_from_jsonb('{"event": ["opened"]}');
SELECT segments.rule_from_jsonb('{"event": "opened", "where": "url = 1"}');
SELECT segments.rule_from_jsonb('{"event": "opened", "where": {"in_list": 1}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "where": {"not": {"and": [true, {"event": "clicked"}]}}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "where": {"field": "url", "op": "contains"}}');

-- count: {"op": comparison, "value": integer}
SELECT segments.rule_from_jsonb('{"event": "opened", "count": 3}');
SELECT segments.rule_from_jsonb('{"event": "opened", "count": {"value": 3}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "count": {"op": ">="}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "count": {"op": "in", "value": 3}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "count": {"op": 3, "value": 3}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "count": {"op": ">=", "value": -3}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "count": {"op": ">=", "value": 3, "unit": "day"}}');

-- window: {"op": window name, operands}
SELECT segments.rule_from_jsonb('{"event": "opened", "window": "ever"}');
SELECT segments.rule_from_jsonb('{"event": "opened", "window": {}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "window": {"op": "always"}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "window": {"op": "ever", "value": 1}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "window": {"op": "since"}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "window": {"op": "between", "values": [1]}}');
SELECT segments.rule_from_jsonb('{"event": "opened", "window": {"op": "within last", "amount": 30}}');

-- in_list: a value; in_segment: a non-empty name
SELECT segments.rule_from_jsonb('{"in_list": null}');
SELECT segments.rule_from_jsonb('{"in_list": [1, 2]}');
SELECT segments.rule_from_jsonb('{"in_segment": ""}');
SELECT segments.rule_from_jsonb('{"in_segment": 5}');

-- Limits.  Nesting: the reader stops at a condition inside more than 203
-- others; the encoder then applies the rule's nesting limit of 100 (here
-- 101 nested nots).  Both report "rule is nested too deeply".
SELECT segments.rule_from_jsonb((repeat('{"and": [', 204) || 'true' || repeat(']}', 204))::jsonb);
SELECT segments.rule_from_jsonb((repeat('{"not": ', 101) || 'true' || repeat('}', 101))::jsonb);
SELECT segments.rule_from_jsonb((repeat('{"not": ', 100) || 'true' || repeat('}', 100))::jsonb) IS NOT NULL AS hundred_nots_ok;
-- Size: at most 10000 items and 1 MB, checked by the encoder.
SELECT segments.rule_from_jsonb(jsonb_build_object('field', 'a', 'op', 'in', 'values', (SELECT jsonb_agg(i) FROM generate_series(1, 10000) AS i)));
SELECT segments.rule_from_jsonb(jsonb_build_object('field', 'a', 'op', '=', 'value', repeat('x', 1100000)));
-- A number literal has no length limit in the text form, but a JSON number
-- is a numeric, which allows at most 16383 digits after the point.
SELECT segments.rule_to_jsonb(('a = 0.' || repeat('0', 16383))::segments.rule) IS NOT NULL AS longest_fraction_ok;
SELECT segments.rule_to_jsonb(('a = 0.' || repeat('0', 16384))::segments.rule);

-- SQLSTATEs: 22023 for malformed JSON rules, 22003 for numbers out of
-- range, 54000 for size limits, 54001 for nesting.
CREATE FUNCTION pg_temp.json_rule_sqlstate(j jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM segments.rule_from_jsonb(j);
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END
$$;
SELECT error, pg_temp.json_rule_sqlstate(j::jsonb) AS sqlstate
FROM (VALUES
	('unknown operator', '{"field": "a", "op": "=="}'),
	('amount out of range', '{"field": "a", "op": "within last", "amount": 2147483648, "unit": "day"}'),
	('field path too long', (SELECT jsonb_build_object('field', jsonb_agg('p' || i), 'op', 'is null')::text FROM generate_series(1, 33) AS i)),
	('too many items', (SELECT jsonb_build_object('field', 'a', 'op', 'in', 'values', jsonb_agg(i))::text FROM generate_series(1, 10000) AS i)),
	('nested too deeply', repeat('{"not": ', 101) || 'true' || repeat('}', 101))
) AS t(error, j);

-- NULL in, NULL out.
SELECT segments.rule_to_jsonb(NULL) IS NULL AS null_to_json,
	   segments.rule_from_jsonb(NULL) IS NULL AS null_from_json;
