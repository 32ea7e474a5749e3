-- The segments demo: the rule type, its canonical text, its JSON form and
-- its errors.  Run by demo/run.sh (psql -e echoes each query before its
-- result).  Errors are part of the walkthrough: only the CREATE EXTENSION
-- below must succeed.

\set ON_ERROR_STOP 1
CREATE EXTENSION segments;
\set ON_ERROR_STOP 0

-- The rule operators (=, <>) live in schema segments.
SET search_path = public, segments;

\echo
\echo '== 1. Rules are values of type segments.rule, written in a small language.'
\echo '   Whatever the spelling (upper-case keywords, redundant parentheses,'
\echo '   quoted identifiers), a rule prints in one canonical form: lower-case'
\echo '   keywords, parentheses only where and/or priority needs them,'
\echo '   identifiers quoted only where needed.'
\echo

SELECT $$((COUNTRY = 'US')) AND ("plan" IN ('pro','team') OR "Signup Source" = 'ads') AND NOT (IN SEGMENT 'Churned')$$::segments.rule;

SELECT $$Event 'opened' WHERE (Campaign = 'spring') COUNT >= 3 WITHIN LAST 30 DAYS$$::segments.rule;

\echo
\echo '== 2. The example of the specification, written over several lines:'
\echo '   fields, jsonb properties (props.ltv), events with a count and a window,'
\echo '   lists, other segments and times relative to now.'
\echo

SELECT $$
country = 'US' and plan in ('pro', 'team')
and (event 'opened' count >= 3 within last 30 days or in list 7)
and not in segment 'Churned'
and props.ltv >= 1000 and email ends with '@gmail.com'
and created_at < 90 days ago
$$::segments.rule AS rule;

\echo
\echo '== 3. The canonical text reads back as the same rule:'
\echo

SELECT r::text AS canonical,
       (r::text)::segments.rule::text = r::text AS reads_back_the_same
FROM (VALUES ($$NOT (a = 1 OR b = 2) AND (c.d.e IS NOT NULL)$$::segments.rule)) AS v(r);

\echo
\echo '== 4. Two spellings of one rule are equal (=):'
\echo

SELECT $$(Country = 'US') AND ((plan <> 'free'))$$::segments.rule
     = $$"country" = 'US' and plan != 'free'$$::segments.rule AS same_rule;

SELECT $$country = 'US'$$::segments.rule
     = $$country = 'CA'$$::segments.rule AS same_rule;

\echo
\echo '== 5. The JSON form, for rule builders in a user interface,'
\echo '   and back: the round trip is exact.'
\echo

SELECT jsonb_pretty(segments.rule_to_jsonb(
  $$country = 'US' and (event 'opened' count >= 3 within last 30 days or in list 7)$$::segments.rule
)) AS json;

SELECT segments.rule_from_jsonb(segments.rule_to_jsonb(r)) AS from_json,
       segments.rule_from_jsonb(segments.rule_to_jsonb(r)) = r AS round_trip_exact
FROM (VALUES ($$country = 'US' and (event 'opened' count >= 3 within last 30 days or in list 7)$$::segments.rule)) AS v(r);

\echo
\echo '== 6. What a rule refers to (what its segment depends on),'
\echo '   and whether its truth changes as time passes:'
\echo

SELECT *
FROM segments.rule_references($$
country = 'US' and props.ltv >= 1000
and event 'clicked' where (url contains 'pricing') count >= 2 within last 7 days
and in list 7 and not in segment 'Churned'
$$::segments.rule);

SELECT r AS rule, segments.rule_depends_on_time(r) AS depends_on_time
FROM (VALUES
  ($$country = 'US'$$::segments.rule),
  ($$created_at < 90 days ago$$::segments.rule),
  ($$event 'opened' within last 30 days$$::segments.rule),
  ($$event 'opened' count >= 3$$::segments.rule)
) AS v(r);

\echo
\echo '== 7. Bad rules give clear errors (and the demo goes on).'
\echo '   A syntax error names its position:'
\echo

SELECT $$country = 'US' and and plan = 'pro'$$::segments.rule;

SELECT $$plan in ('pro', 'team'$$::segments.rule;

SELECT $$created_at < 3 fortnights ago$$::segments.rule;

\echo
\echo '   Nesting deeper than the documented limit:'
\echo

SELECT (repeat('(', 200) || 'a = 1' || repeat(')', 200))::segments.rule;

\echo
\echo '   JSON that is not a rule:'
\echo

SELECT segments.rule_from_jsonb('{"frobnicate": true}');

SELECT segments.rule_from_jsonb('[1, 2, 3]');

\echo
\echo '== Done.'
