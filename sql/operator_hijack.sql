--
-- Operator hijack: a role that may create objects in a schema on the
-- search_path defines an operator that matches a column's type better
-- than pg_catalog's does (=(varchar, text) for a varchar column compared
-- with a varchar literal; pg_catalog has only =(text, text)).  PostgreSQL
-- would pick it over pg_catalog's for an unqualified "=", and run it with
-- the rights of whoever runs the query.  The SQL that segments generates
-- (builds, previews, counts, and the text to_sql returns) names every
-- operator with its schema, so the role's operators never run.
--
CREATE TABLE contacts (id bigint PRIMARY KEY, nickname varchar(20), note varchar(20), props jsonb);
INSERT INTO contacts VALUES (1, 'n5', 'vip', '{"tier": "gold"}'), (2, 'n6', 'regular', '{"tier": "silver"}');
SELECT segments.attach_contacts('contacts', key => 'id');

-- Every call of the role's operators is recorded here.
CREATE TABLE hijack_calls (caller name, operator text);
CREATE ROLE segments_test_hijacker;
GRANT CREATE ON SCHEMA public TO segments_test_hijacker;
SET ROLE segments_test_hijacker;
CREATE FUNCTION public.hijacked(varchar, text) RETURNS boolean LANGUAGE sql
	AS $$ INSERT INTO public.hijack_calls VALUES (current_user, 'called'); SELECT true $$;
CREATE OPERATOR public.= (LEFTARG = varchar, RIGHTARG = text, FUNCTION = public.hijacked);
CREATE OPERATOR public.~~* (LEFTARG = varchar, RIGHTARG = text, FUNCTION = public.hijacked);
CREATE OPERATOR public.<> (LEFTARG = varchar, RIGHTARG = text, FUNCTION = public.hijacked);
RESET ROLE;
SHOW search_path;

-- The attack works on a hand-written query: the superuser ran the role's
-- function, and every contact matched.
SELECT count(*) AS matched FROM contacts c WHERE c.nickname = 'n5'::character varying;
SELECT caller, count(*) FROM hijack_calls GROUP BY caller;
TRUNCATE hijack_calls;

-- Generated SQL is not hijacked: builds, counts, previews, to_sql's text,
-- and maintenance after a write.
SELECT segments.create_segment('n5', $$nickname = 'n5'$$) IS NOT NULL AS created;
SELECT segments.create_segment('not vip', $$note != 'vip' and note ends with 'ar'$$) IS NOT NULL AS created;
SELECT segments.preview_count($$nickname = 'n5' or note contains 'vi'$$) AS previewed;
SELECT segments.preview($$nickname in ('n5', 'n6') and not nickname = 'n6'$$);
CREATE FUNCTION run_count(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	EXECUTE 'SELECT count(*) FROM (' || query || ') q' INTO n;
	RETURN n;
END
$$;
SELECT run_count(segments.to_sql($$nickname = 'n5'$$)) AS to_sql_count,
	run_count(segments.to_sql($$note ilike 'V%' and nickname != 'x'$$)) AS to_sql_ilike;
UPDATE contacts SET nickname = 'n5' WHERE id = 2;
SELECT s.name, array_agg(m.contact ORDER BY m.contact) AS members
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.name ORDER BY s.name;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.name;
SELECT count(*) AS hijacked_calls FROM hijack_calls;

DROP FUNCTION run_count(text);
SELECT segments.drop_segment(id) FROM segments.segment ORDER BY id DESC;
SELECT segments.detach_contacts();
DROP OPERATOR public.= (varchar, text);
DROP OPERATOR public.~~* (varchar, text);
DROP OPERATOR public.<> (varchar, text);
DROP FUNCTION public.hijacked(varchar, text);
REVOKE CREATE ON SCHEMA public FROM segments_test_hijacker;
DROP ROLE segments_test_hijacker;
DROP TABLE hijack_calls, contacts;
