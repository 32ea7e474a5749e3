--
-- semantics_setup: the helper the semantics_* tests share.
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
CREATE FUNCTION check_rule(rule text, expected text,
	OUT rule_text text, OUT compiled bigint, OUT evaluated bigint, OUT hand bigint,
	OUT agree boolean)
LANGUAGE plpgsql AS $$
DECLARE
	r segments.rule := rule::segments.rule;
	a bigint[];
	b bigint[];
	h bigint[];
BEGIN
	rule_text := r::text;
	EXECUTE format('SELECT coalesce(array_agg(q.contact ORDER BY q.contact), ''{}'') FROM (%s) q',
		segments._compile(r, NULL)) INTO a;
	SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}') INTO b
	FROM contacts c WHERE segments.matches(c.id, r);
	EXECUTE format('SELECT coalesce(array_agg(c.id ORDER BY c.id), ''{}'') FROM contacts c WHERE %s',
		expected) INTO h;
	compiled := cardinality(a);
	evaluated := cardinality(b);
	hand := cardinality(h);
	agree := a = b AND b = h;
END
$$;
