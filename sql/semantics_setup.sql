--
-- semantics_setup: the helpers the semantics_* tests share.
--
-- check_rule(rule, expected) evaluates a rule three ways and compares:
--   compiled  the rule compiled to SQL (segments._compile) and run;
--   evaluated the per-contact evaluator in C (segments.matches);
--   hand      a hand-written SQL condition over the contacts table (alias c)
--             saying what the rule means.
-- It returns the rule's canonical text, the number of contacts each way,
-- and agree: whether the three give the same set of contacts (not just the
-- same number).  Each test creates its own contacts table.
--
-- three_ways(rule, tenant, expected, evaluate): the contacts (their ids) the
-- rule matches, within the tenant (account_id) unless it is NULL, as
-- compiled, evaluated (NULL when evaluate is false) and hand see it.
CREATE FUNCTION three_ways(r segments.rule, tenant text, expected text, evaluate boolean,
	OUT compiled bigint[], OUT evaluated bigint[], OUT hand bigint[])
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('SELECT coalesce(array_agg(q.contact ORDER BY q.contact), ''{}'') FROM (%s) q',
		segments._compile(r, tenant)) INTO compiled;
	IF evaluate THEN
		SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}') INTO evaluated
		FROM contacts c
		WHERE (tenant IS NULL OR c.account_id = tenant::integer) AND segments.matches(c.id, r);
	END IF;
	EXECUTE format('SELECT coalesce(array_agg(c.id ORDER BY c.id), ''{}'') FROM contacts c WHERE %s AND (%s)',
		CASE WHEN tenant IS NULL THEN 'true' ELSE format('c.account_id = %L::integer', tenant) END,
		expected) INTO hand;
END
$$;

CREATE FUNCTION check_rule(rule text, expected text,
	OUT rule_text text, OUT compiled bigint, OUT evaluated bigint, OUT hand bigint,
	OUT agree boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r segments.rule := rule::segments.rule;
	t record := three_ways(r, NULL, expected, true);
BEGIN
	rule_text := r::text;
	compiled := cardinality(t.compiled);
	evaluated := cardinality(t.evaluated);
	hand := cardinality(t.hand);
	agree := t.compiled = t.evaluated AND t.evaluated = t.hand;
END
$$;

-- check_tenant(rule, tenant, expected): the same within a tenant, for the
-- tests with an account_id column; also counted by
-- segments.preview_count(rule, tenant).  With evaluate false, evaluated is
-- NULL and not compared.
CREATE FUNCTION check_tenant(rule text, tenant text, expected text, evaluate boolean DEFAULT true,
	OUT rule_text text, OUT tenant_ text, OUT compiled bigint, OUT evaluated bigint, OUT hand bigint,
	OUT preview_count bigint, OUT agree boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r segments.rule := rule::segments.rule;
	t record := three_ways(r, tenant, expected, evaluate);
BEGIN
	rule_text := r::text;
	tenant_ := tenant;
	preview_count := segments.preview_count(r, tenant => tenant::integer);
	compiled := cardinality(t.compiled);
	evaluated := cardinality(t.evaluated);
	hand := cardinality(t.hand);
	agree := (NOT evaluate OR t.compiled = t.evaluated) AND t.compiled = t.hand AND preview_count = compiled;
END
$$;

-- n(contact, kind, filter): the hand-written count of a contact's events of
-- a kind (compared as text, so an enum's label too) that satisfy an SQL
-- condition over the event row e, in the table events of the test.
CREATE FUNCTION n(contact bigint, kind text, filter text DEFAULT 'true') RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	result bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM events e WHERE e.contact_id = $1 AND e.kind::text = $2 AND (%s)', filter)
	INTO result USING contact, kind;
	RETURN result;
END
$$;
