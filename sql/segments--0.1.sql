/* segments--0.1.sql: the rule type, its JSON form and introspection */

\echo Use "CREATE EXTENSION segments" to load this file. \quit

-- Every name is schema-qualified: the script must not depend on search_path.

CREATE TYPE segments.rule;

CREATE FUNCTION segments.rule_in(pg_catalog.cstring) RETURNS segments.rule
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.rule_out(segments.rule) RETURNS pg_catalog.cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.rule_recv(pg_catalog.internal) RETURNS segments.rule
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.rule_send(segments.rule) RETURNS pg_catalog.bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE segments.rule (
	INPUT = segments.rule_in,
	OUTPUT = segments.rule_out,
	RECEIVE = segments.rule_recv,
	SEND = segments.rule_send,
	INTERNALLENGTH = VARIABLE,
	ALIGNMENT = int4,
	STORAGE = extended
);

COMMENT ON TYPE segments.rule IS
	'a segment rule: a boolean condition over contact fields, events, lists and segments';

-- Equality by canonical form: every rule is stored in one canonical
-- encoding, so two spellings of one rule compare equal.

CREATE FUNCTION segments.rule_eq(segments.rule, segments.rule) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION segments.rule_ne(segments.rule, segments.rule) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
CREATE FUNCTION segments.rule_hash(segments.rule) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.rule_hash_extended(segments.rule, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE OPERATOR segments.= (
	LEFTARG = segments.rule,
	RIGHTARG = segments.rule,
	FUNCTION = segments.rule_eq,
	COMMUTATOR = OPERATOR(segments.=),
	NEGATOR = OPERATOR(segments.<>),
	RESTRICT = pg_catalog.eqsel,
	JOIN = pg_catalog.eqjoinsel,
	HASHES
);

CREATE OPERATOR segments.<> (
	LEFTARG = segments.rule,
	RIGHTARG = segments.rule,
	FUNCTION = segments.rule_ne,
	COMMUTATOR = OPERATOR(segments.<>),
	NEGATOR = OPERATOR(segments.=),
	RESTRICT = pg_catalog.neqsel,
	JOIN = pg_catalog.neqjoinsel
);

CREATE OPERATOR CLASS segments.rule_hash_ops
	DEFAULT FOR TYPE segments.rule USING hash AS
	OPERATOR 1 segments.= (segments.rule, segments.rule),
	FUNCTION 1 segments.rule_hash(segments.rule),
	FUNCTION 2 segments.rule_hash_extended(segments.rule, bigint);

-- JSON form, for UI builders (docs/rule-json.md).

CREATE FUNCTION segments.rule_to_jsonb(segments.rule) RETURNS pg_catalog.jsonb
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.rule_from_jsonb(pg_catalog.jsonb) RETURNS segments.rule
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE CAST (segments.rule AS pg_catalog.jsonb)
	WITH FUNCTION segments.rule_to_jsonb(segments.rule);
CREATE CAST (pg_catalog.jsonb AS segments.rule)
	WITH FUNCTION segments.rule_from_jsonb(pg_catalog.jsonb);

-- Introspection, for the maintenance engine and for people.

CREATE FUNCTION segments.rule_references(rule segments.rule,
	OUT kind text, OUT name text, OUT path text[], OUT relative boolean)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION segments.rule_references(segments.rule) IS
	'what a rule refers to: fields, events, event fields, lists, segments; relative when compared with the clock';

CREATE FUNCTION segments.rule_depends_on_time(rule segments.rule) RETURNS boolean
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION segments.rule_depends_on_time(segments.rule) IS
	'true when the rule''s truth can change as time passes (now, ago, from now, within)';

-- == Clock, checking, compiling and evaluating rules ==

CREATE FUNCTION segments.now() RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'segments_now' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION segments.now() IS
	'the clock rules use: now(), or the superuser-only setting segments.now_override';
CREATE FUNCTION segments.ago(amount integer, unit text) RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'segments_ago' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION segments.ago(integer, text) IS
	'segments.now() minus amount units (minute, hour, day, week, month, year), in UTC';
CREATE FUNCTION segments.from_now(amount integer, unit text) RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'segments_from_now' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION segments.from_now(integer, text) IS
	'segments.now() plus amount units (minute, hour, day, week, month, year), in UTC';

-- jsonb properties typed by the literal they are compared with: NULL for a
-- value of another JSON type.
CREATE FUNCTION segments.json_string(jsonb) RETURNS text
	AS 'MODULE_PATHNAME', 'segments_json_string' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.json_number(jsonb) RETURNS numeric
	AS 'MODULE_PATHNAME', 'segments_json_number' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.json_boolean(jsonb) RETURNS boolean
	AS 'MODULE_PATHNAME', 'segments_json_boolean' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION segments.json_time(jsonb) RETURNS timestamptz
	AS 'MODULE_PATHNAME', 'segments_json_time' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION segments.json_time(jsonb) IS
	'a JSON string holding a date and time (UTC when it has no zone), else NULL';

-- The rule checked against the attached tables and compiled to the SELECT
-- of the matching contact keys (column "contact"), within the tenant when
-- it is not NULL.
CREATE FUNCTION segments._compile(rule segments.rule, tenant text) RETURNS text
	AS 'MODULE_PATHNAME', 'segments_compile' LANGUAGE C STABLE PARALLEL RESTRICTED;

CREATE FUNCTION segments._rule_rename_segment(rule segments.rule, old_name text, new_name text)
	RETURNS segments.rule
	AS 'MODULE_PATHNAME', 'rule_rename_segment' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Per-contact evaluation in C, with the caller's privileges.
CREATE FUNCTION segments.matches(contact anyelement, rule segments.rule) RETURNS boolean
	AS 'MODULE_PATHNAME', 'segments_matches' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION segments.matches(anyelement, segments.rule) IS
	'whether the rule holds for the contact';
CREATE FUNCTION segments.explain(contact anyelement, rule segments.rule,
	OUT condition text, OUT result boolean, OUT observed text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'segments_explain' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 10;
COMMENT ON FUNCTION segments.explain(anyelement, segments.rule) IS
	'why a rule holds for a contact or not: each condition, its result and the value seen';
