--
-- test_setup: what several regression tests use, created once before them
-- (they run in this order, in one database).  Each test creates its own
-- tables and attaches them; these helpers only show what happened.
--

-- try_error(sql) runs a statement and returns the error it raises: its
-- SQLSTATE, message, detail, hint and context (without the lines of
-- PL/pgSQL functions and their statements, which name the extension's
-- internals); 00000 and 'no error' when there is none.
CREATE FUNCTION try_error(sql text,
	OUT state text, OUT message text, OUT detail text, OUT hint text, OUT context text)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	state := '00000';
	message := 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT, context = PG_EXCEPTION_CONTEXT;
	detail := nullif(detail, '');
	hint := nullif(hint, '');
	context := nullif(array_to_string(ARRAY(
		SELECT line FROM regexp_split_to_table(context, E'\n') AS line
		WHERE line !~ '^(PL/pgSQL function|SQL statement)'), E'\n'), '');
END
$$;

-- try(sql): the same without the context.
CREATE FUNCTION try(sql text, OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE sql AS $$
	SELECT e.state, e.message, e.detail, e.hint FROM try_error(sql) e
$$;

-- try_rule(text) casts the text to a rule: 00000 and the canonical text
-- (as the message) when it is valid, else the SQLSTATE, message and detail
-- of the error.
CREATE FUNCTION try_rule(input text, OUT sqlstate text, OUT message text, OUT detail text)
LANGUAGE plpgsql AS $$
DECLARE
	state text;
	msg text;
	det text;
BEGIN
	BEGIN
		msg := input::segments.rule::text;
		state := '00000';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
			det = PG_EXCEPTION_DETAIL;
	END;
	sqlstate := state;
	message := msg;
	detail := nullif(det, '');
END
$$;

-- new_log(): the joins and leaves segments.membership_log received since
-- the last call (by id, in a session whose writes are its own),
-- grouped for reading (segment, with its tenant if it has one; cause;
-- joined or left; the contacts).  A log created anew (contacts attached
-- again) is read from its start.
CREATE TABLE log_seen (log regclass, last bigint NOT NULL);
INSERT INTO log_seen VALUES (NULL, 0);
CREATE FUNCTION new_log() RETURNS TABLE (segment text, cause text, joined boolean, contacts bigint[])
LANGUAGE plpgsql AS $$
DECLARE
	seen bigint;
BEGIN
	SELECT CASE WHEN s.log = 'segments.membership_log'::regclass THEN s.last ELSE 0 END
	INTO seen FROM log_seen s;
	UPDATE log_seen SET log = 'segments.membership_log'::regclass,
		last = coalesce((SELECT max(l.id) FROM segments.membership_log l), 0);
	RETURN QUERY
	SELECT s.name || coalesce(' (tenant ' || s.tenant || ')', ''), l.cause, l.joined,
		array_agg(l.contact ORDER BY l.contact)
	FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
	WHERE l.id > seen
	GROUP BY s.name, s.tenant, l.cause, l.joined
	ORDER BY 1, l.joined, min(l.id);
END
$$;

-- all_verified(): whether every segment equals a fresh evaluation of its
-- rule (verify_segment finds nothing missing and nothing extra).
CREATE FUNCTION all_verified() RETURNS boolean LANGUAGE sql AS $$
	SELECT bool_and(v.missing = 0 AND v.extra = 0)
	FROM segments.segment s, LATERAL segments.verify_segment(s.id) v
$$;

-- create_sales_contacts(): a contacts table whose schema and columns need
-- quoting, "Sales Data"."Contacts" ("Id" bigint key, "Owner" text,
-- "First Name" text, "it's" integer), with 20 contacts: the even ones
-- alice's, the odd ones bob's, "it's" the key modulo 5.  The tests about
-- privileges and row-level security create it and drop its schema.
CREATE PROCEDURE create_sales_contacts() LANGUAGE plpgsql AS $$
BEGIN
	CREATE SCHEMA "Sales Data";
	CREATE TABLE "Sales Data"."Contacts" (
		"Id" bigint PRIMARY KEY,
		"Owner" text NOT NULL,
		"First Name" text,
		"it's" integer
	);
	INSERT INTO "Sales Data"."Contacts"
	SELECT i, CASE WHEN i % 2 = 0 THEN 'alice' ELSE 'bob' END, 'name ' || i, i % 5
	FROM generate_series(1, 20) AS i;
END
$$;
