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
-- it is not NULL.  Relative times are constants of this moment, for the
-- statement about to run, or with portable calls of segments.now() and
-- friends, for SQL kept and run later (to_sql).
CREATE FUNCTION segments._compile(rule segments.rule, tenant text, portable boolean DEFAULT false,
	few boolean DEFAULT false)
	RETURNS text
	AS 'MODULE_PATHNAME', 'segments_compile' LANGUAGE C STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION segments._rule_rename_segment(rule segments.rule, old_name text, new_name text)
	RETURNS segments.rule
	AS 'MODULE_PATHNAME', 'rule_rename_segment' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Per-contact evaluation in C, with the caller's privileges.
CREATE FUNCTION segments.matches(contact anyelement, rule segments.rule) RETURNS boolean
	AS 'MODULE_PATHNAME', 'segments_matches' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION segments.matches(anyelement, segments.rule) IS
	'whether the rule holds for the contact';
CREATE FUNCTION segments.explain(contact anyelement, rule segments.rule,
	OUT condition text, OUT result boolean, OUT observed text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'segments_explain' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED ROWS 10
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION segments.explain(anyelement, segments.rule) IS
	'why a rule holds for a contact or not: each condition, its result and the value seen';
-- The same within a tenant: as preview(rule, lim, tenant), in segment names
-- the tenant's segments, and a contact of another tenant does not match.
CREATE FUNCTION segments.matches(contact anyelement, rule segments.rule, tenant anycompatible)
	RETURNS boolean
	AS 'MODULE_PATHNAME', 'segments_matches' LANGUAGE C STABLE PARALLEL RESTRICTED
	SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION segments.explain(contact anyelement, rule segments.rule, tenant anycompatible,
	OUT condition text, OUT result boolean, OUT observed text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'segments_explain' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10
	SET search_path = pg_catalog, pg_temp;

-- == Catalog and lifecycle ==
--
-- The attached tables, the segment catalog and its dependency index, and the
-- SQL functions that attach and detach tables and create, alter, rename,
-- drop, refresh and verify segments.  Rules are checked and compiled to SQL
-- by segments._compile(rule, tenant) and renamed by
-- segments._rule_rename_segment(rule, old, new) (both in C).
--
-- Conventions:
--  * Every function runs with SET search_path = pg_catalog, pg_temp, as
--    SECURITY INVOKER (with the caller's privileges), and names every object
--    with its schema; dynamic SQL quotes identifiers with format('%I') and
--    passes values as parameters.
--  * Nothing stored depends on an OID that a dump and restore would change:
--    tables and columns are recorded by name, tenants as the canonical text
--    of the tenant value, segments by name within their tenant.
--  * Functions whose name starts with an underscore are internal.
--  * The objects whose types depend on the contact key (segments.membership,
--    segments.membership_log, segments.preview) are created by
--    attach_contacts and dropped by detach_contacts.  They are not members
--    of the extension, so pg_dump dumps them (definition and rows) like any
--    table or function.

CREATE TABLE segments.attached (
	role text PRIMARY KEY CHECK (role IN ('contacts', 'events', 'lists')),
	table_schema name NOT NULL,
	table_name name NOT NULL,
	contact_column name NOT NULL,
	tenant_column name,
	kind_column name,
	at_column name,
	list_column name,
	attached_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE segments.attached IS
	'the application tables segments work on, one row per role (contacts, events, lists), recorded by name';
COMMENT ON COLUMN segments.attached.contact_column IS
	'contacts: the key column; events and lists: the column referencing the contact';
COMMENT ON COLUMN segments.attached.tenant_column IS 'contacts only: the tenant column, if any';
COMMENT ON COLUMN segments.attached.kind_column IS 'events only: the event kind (text)';
COMMENT ON COLUMN segments.attached.at_column IS 'events only: the event time (timestamptz)';
COMMENT ON COLUMN segments.attached.list_column IS 'lists only: the list a row puts the contact on';

CREATE TABLE segments.segment (
	id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	name text NOT NULL CHECK (name <> ''),
	tenant text,
	rule segments.rule NOT NULL,
	created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
	UNIQUE NULLS NOT DISTINCT (tenant, name)
);
COMMENT ON TABLE segments.segment IS
	'the segment catalog: named rules, unique per tenant; change it only through the segments functions';
COMMENT ON COLUMN segments.segment.tenant IS
	'the canonical text of the tenant value, NULL for a segment over all contacts';

-- Bumped by every catalog change (see _writers_lock).
CREATE TABLE segments.catalog_version (version bigint NOT NULL);
INSERT INTO segments.catalog_version VALUES (0);

CREATE TABLE segments.segment_reference (
	segment_id bigint NOT NULL REFERENCES segments.segment (id) ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind IN ('field', 'event', 'event_field', 'list', 'segment')),
	name text NOT NULL,
	path text[],
	relative boolean NOT NULL
);
CREATE INDEX segment_reference_kind_name_idx ON segments.segment_reference (kind, name);
CREATE INDEX segment_reference_segment_idx ON segments.segment_reference (segment_id);
COMMENT ON TABLE segments.segment_reference IS
	'the dependency index: what each segment''s rule refers to (segments.rule_references of its rule)';

-- How far time has been applied to each segment's membership: a full
-- evaluation (build, alter, refresh, TRUNCATE) brings it to the time it
-- evaluated at, segments.tick() to the time it ran at (src/tick.c).
CREATE TABLE segments.segment_state (
	segment_id bigint PRIMARY KEY REFERENCES segments.segment (id) ON DELETE CASCADE,
	swept_to timestamptz NOT NULL,
	last_change timestamptz
);
COMMENT ON TABLE segments.segment_state IS
	'per segment, the time (segments.now()) up to which changes due to time were applied, and its last join or leave as of the last tick';

-- The last tick: one row.
CREATE TABLE segments.tick_state (
	swept_to timestamptz,
	ticked_at timestamptz,
	changes bigint,
	contacts bigint,
	-- the log rows whose times segment_state.last_change holds: those of
	-- id <= logged_to, except those of transactions started at or after
	-- log_horizon (they may have committed since)
	logged_to bigint NOT NULL DEFAULT 0,
	log_horizon timestamptz
);
CREATE UNIQUE INDEX tick_state_one_row ON segments.tick_state ((true));
INSERT INTO segments.tick_state DEFAULT VALUES;
COMMENT ON TABLE segments.tick_state IS
	'the last segments.tick(): the time it applied (swept_to), when it ran, the joins and leaves it wrote and the contacts its sweeps found and evaluated';

-- pg_dump dumps the rows of these tables (and the identity sequence's value)
-- although the tables belong to the extension.
SELECT pg_catalog.pg_extension_config_dump('segments.attached', '');
SELECT pg_catalog.pg_extension_config_dump('segments.segment', '');
SELECT pg_catalog.pg_extension_config_dump(
	pg_catalog.pg_get_serial_sequence('segments.segment', 'id')::pg_catalog.regclass, '');
SELECT pg_catalog.pg_extension_config_dump('segments.segment_reference', '');
SELECT pg_catalog.pg_extension_config_dump('segments.segment_state', '');

--
-- Internal helpers
--

-- The schema-qualified, quoted name of a relation, for messages and SQL.
CREATE FUNCTION segments._relation_name(rel regclass) RETURNS text
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
	SELECT format('%I.%I', n.nspname, c.relname)
	FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = rel
$$;

-- A segment as messages name it: "name", or "name" (tenant t).
CREATE FUNCTION segments._segment_label(name text, tenant text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN tenant IS NULL THEN format('"%s"', name)
		ELSE format('"%s" (tenant %s)', name, tenant) END
$$;

-- The hint for a column that does not exist: the nearest column's name when
-- it is close enough to be a typo, else the list of the table's columns
-- (src/rule_check.c, as rules' fields have it).
CREATE FUNCTION segments._column_hint(rel regclass, col text) RETURNS text
	AS 'MODULE_PATHNAME', 'segments_column_hint' LANGUAGE C STABLE STRICT;

-- A column of an attached (or to be attached) table: its number, its type
-- as declared, and the base type under any domain (oid, typmod, text).
-- what names the argument in messages ("key", "tenant", ...).
CREATE FUNCTION segments._column(rel regclass, col name, what text,
	OUT attnum smallint, OUT notnull boolean, OUT declared text,
	OUT base oid, OUT base_typmod integer, OUT base_type text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	typ oid;
	mod integer;
	t record;
BEGIN
	IF col IS NULL THEN
		RAISE EXCEPTION 'the % column must not be null', what
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT a.attnum, a.attnotnull, format_type(a.atttypid, a.atttypmod), a.atttypid, a.atttypmod
	INTO attnum, notnull, declared, typ, mod
	FROM pg_catalog.pg_attribute a
	WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'column "%" of table % does not exist', col, segments._relation_name(rel)
			USING ERRCODE = 'undefined_column',
			DETAIL = format('It was given as the %s column.', what),
			HINT = segments._column_hint(rel, col);
	END IF;
	-- Strip domains: a domain's typmod is its own typtypmod.
	LOOP
		SELECT pt.typtype, pt.typbasetype, pt.typtypmod INTO t
		FROM pg_catalog.pg_type pt WHERE pt.oid = typ;
		EXIT WHEN t.typtype <> 'd';
		typ := t.typbasetype;
		mod := t.typtypmod;
	END LOOP;
	base := typ;
	base_typmod := mod;
	base_type := format_type(typ, mod);
END
$$;

-- Whether a type has a default btree operator class (equality and order),
-- as PostgreSQL itself decides it for ORDER BY.
CREATE FUNCTION segments._has_btree(typ text) RETURNS boolean
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	EXECUTE format('SELECT v FROM (SELECT NULL::%s AS v) s ORDER BY v', typ);
	RETURN true;
EXCEPTION WHEN undefined_function THEN
	RETURN false;
END
$$;

-- Checks that rel can be attached in role: an ordinary or partitioned
-- permanent table not attached in another role.  Returns its name.
CREATE FUNCTION segments._check_table(rel regclass, role text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c record;
	other text;
	qname text;
	owner regrole;
BEGIN
	IF rel IS NULL THEN
		RAISE EXCEPTION 'the % table must not be null', role
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT cl.relkind, cl.relpersistence INTO c
	FROM pg_catalog.pg_class cl WHERE cl.oid = rel;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'relation with OID % does not exist', rel::oid
			USING ERRCODE = 'undefined_table';
	END IF;
	qname := segments._relation_name(rel);
	IF c.relkind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '% is not a table', qname
			USING ERRCODE = 'wrong_object_type',
			DETAIL = format('It is %s; the %s table must be an ordinary or partitioned table.',
				CASE c.relkind WHEN 'v' THEN 'a view' WHEN 'm' THEN 'a materialized view'
					WHEN 'f' THEN 'a foreign table' WHEN 'S' THEN 'a sequence'
					WHEN 'c' THEN 'a composite type' WHEN 'i' THEN 'an index'
					WHEN 'I' THEN 'a partitioned index' ELSE 'not a table' END,
				role);
	END IF;
	IF c.relpersistence = 't' THEN
		RAISE EXCEPTION 'table % is temporary', quote_ident((SELECT cl.relname FROM pg_catalog.pg_class cl WHERE cl.oid = rel))
			USING ERRCODE = 'wrong_object_type',
			DETAIL = format('The %s table must be a permanent table.', role);
	END IF;
	SELECT a.role INTO other FROM segments.attached a
	WHERE a.table_schema = (SELECT n.nspname FROM pg_catalog.pg_class cl
			JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = rel)
		AND a.table_name = (SELECT cl.relname FROM pg_catalog.pg_class cl WHERE cl.oid = rel);
	IF FOUND THEN
		RAISE EXCEPTION '% is already attached as the % table', qname, other
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	-- Attaching runs as the extension's owner (SECURITY DEFINER), which
	-- installs the table's triggers and drops them again at detach: only
	-- a role with the rights of the table's owner may drop a trigger.
	SELECT cl.relowner::regrole INTO owner FROM pg_catalog.pg_class cl WHERE cl.oid = rel;
	IF NOT pg_catalog.pg_has_role(current_user, owner, 'USAGE') THEN
		RAISE EXCEPTION 'the extension''s owner % cannot attach %', quote_ident(current_user), qname
			USING ERRCODE = 'insufficient_privilege',
			DETAIL = format('Attaching installs triggers on the %s table and detaching drops them, which needs the rights of its owner %s.',
				role, owner),
			HINT = format('Grant role %s to %s.', owner, quote_ident(current_user));
	END IF;
	RETURN qname;
END
$$;

-- The attached contacts table and its key column; an error when contacts
-- are not attached.
CREATE FUNCTION segments._contacts(OUT rel regclass, OUT key_column name,
	OUT key_base oid, OUT key_type text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
BEGIN
	SELECT * INTO a FROM segments.attached WHERE role = 'contacts';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'contacts are not attached'
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Attach the contacts table first with segments.attach_contacts().';
	END IF;
	rel := to_regclass(format('%I.%I', a.table_schema, a.table_name));
	IF rel IS NULL THEN
		RAISE EXCEPTION 'the attached contacts table %.% does not exist',
			quote_ident(a.table_schema), quote_ident(a.table_name)
			USING ERRCODE = 'undefined_table';
	END IF;
	key_column := a.contact_column;
	SELECT x.base, x.base_type INTO key_base, key_type
	FROM segments._column(rel, a.contact_column, 'key') x;
END
$$;

-- The canonical text of a tenant value: the value read as the tenant
-- column's type and printed again, so 7, '7' and '07' name one tenant.
-- NULL stands for no tenant.  Read as rules read tenants (src/rule_check.c,
-- rule_read_tenant): as the base type, by the contacts table's owner.
CREATE FUNCTION segments._tenant_text(tenant anycompatible) RETURNS text
	AS 'MODULE_PATHNAME', 'segments_tenant_text' LANGUAGE C STABLE
	SET search_path = pg_catalog, pg_temp;

-- Checks a segment name given by the caller.
CREATE FUNCTION segments._check_name(name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'a segment name must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	ELSIF name = '' THEN
		RAISE EXCEPTION 'a segment name must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

CREATE FUNCTION segments._check_rule(rule segments.rule) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF rule IS NULL THEN
		RAISE EXCEPTION 'a segment rule must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
END
$$;

-- The id of the segment a caller names.  With by_tenant, the segment of
-- that name in that tenant (NULL: no tenant).  Without, the segment of that
-- name without a tenant, or else the only one of that name in any tenant.
CREATE FUNCTION segments._segment_id(name text, tenant text, by_tenant boolean) RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	found_id bigint;
	n bigint;
	tenants text;
BEGIN
	IF name IS NULL THEN
		RAISE EXCEPTION 'a segment name must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT s.id INTO found_id FROM segments.segment s
	WHERE s.name = _segment_id.name AND s.tenant IS NOT DISTINCT FROM _segment_id.tenant;
	IF FOUND THEN
		RETURN found_id;
	END IF;
	IF by_tenant THEN
		RAISE EXCEPTION 'segment "%" does not exist', name
			USING ERRCODE = 'undefined_object',
			DETAIL = CASE WHEN tenant IS NULL THEN 'There is no segment of that name without a tenant.'
				ELSE format('Tenant %s has no segment of that name.', tenant) END;
	END IF;
	SELECT count(*), min(s.id), string_agg(s.tenant, ', ' ORDER BY s.tenant)
	INTO n, found_id, tenants
	FROM segments.segment s WHERE s.name = _segment_id.name;
	IF n = 0 THEN
		RAISE EXCEPTION 'segment "%" does not exist', name
			USING ERRCODE = 'undefined_object';
	ELSIF n > 1 THEN
		RAISE EXCEPTION 'segment name "%" is not unique', name
			USING ERRCODE = 'ambiguous_function',
			DETAIL = format('Tenants %s each have a segment of that name.', tenants),
			HINT = 'Give the tenant (tenant => ...) or the segment''s id.';
	END IF;
	RETURN found_id;
END
$$;

-- The catalog row of a segment given by id; an error when there is none.
-- With for_update, the row is locked against concurrent changes.
CREATE FUNCTION segments._segment(id bigint, for_update boolean DEFAULT false)
RETURNS segments.segment
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
BEGIN
	IF id IS NULL THEN
		RAISE EXCEPTION 'a segment id must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF for_update THEN
		SELECT * INTO s FROM segments.segment g WHERE g.id = _segment.id FOR NO KEY UPDATE;
	ELSE
		SELECT * INTO s FROM segments.segment g WHERE g.id = _segment.id;
	END IF;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segment with id % does not exist', id
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN s;
END
$$;

-- Catalog changes (create, alter, rename, drop, detach) serialize on this
-- lock.  They run only under READ COMMITTED: a build must see the writes
-- committed while it waited for the writers.
CREATE FUNCTION segments._lock() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF pg_catalog.current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'segments can only be changed under READ COMMITTED'
			USING ERRCODE = 'feature_not_supported',
			DETAIL = format('This transaction is %s.', pg_catalog.current_setting('transaction_isolation')),
			HINT = 'Build or change segments in a READ COMMITTED transaction, so that writes committed meanwhile are seen.';
	END IF;
	-- one catalog change at a time, and wait for the writers under way
	-- (they hold the writers' lock shared, see _on_write): a build or change
	-- of a segment then sees all their data, and writers starting now wait
	-- to see the new segment
	PERFORM segments._writers_lock(true);
END
$$;

-- Makes every backend read its cache of the segment catalog again once
-- this transaction commits (see src/segment_cache.c).
CREATE FUNCTION segments._catalog_changed() RETURNS void
	AS 'MODULE_PATHNAME', 'segments_catalog_changed' LANGUAGE C VOLATILE;

-- Every change of the attachments is a change of the catalog.
CREATE FUNCTION segments._attached_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._catalog_changed();
	RETURN NULL;
END
$$;
CREATE TRIGGER attached_changed AFTER INSERT OR UPDATE OR DELETE ON segments.attached
	FOR EACH STATEMENT EXECUTE FUNCTION segments._attached_changed();

-- The lock between catalog changes (exclusive) and writers' maintenance
-- (shared), held until the transaction ends: while a writer holds it, the
-- rules and attachments it maintains with cannot change (docs/design.md,
-- "Catalog changes and the caches").  A lock tag that pg_advisory_lock()
-- cannot reach (src/locks.h), so that writers need no privilege on the
-- catalog and no role can hold it from SQL.
--
-- Every change of the rules or attachments takes it exclusively: the
-- segment lifecycle through _lock(), and the DDL that the event triggers
-- follow (a renamed column or table) directly.  Exclusive, it is taken
-- after SHARE ROW EXCLUSIVE on segments.segment (catalog changes run one at
-- a time, in that order of locks), and it bumps
-- segments.catalog_version: a REPEATABLE READ or SERIALIZABLE writer reads
-- that row FOR SHARE and so gets a serialization failure, rather than
-- maintaining with rules older than its snapshot.
CREATE FUNCTION segments._writers_lock(exclusive boolean) RETURNS void
	AS 'MODULE_PATHNAME', 'segments_writers_lock' LANGUAGE C VOLATILE STRICT;

-- Records what a segment's rule refers to in segments.segment_reference,
-- then checks that every segment it refers to exists in its tenant and that
-- no cycle goes through it.
CREATE FUNCTION segments._set_references(id bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
	missing text;
	cycle text[];
	reached bigint[];
	reached_from bigint[];
	frontier bigint[];
	next_ids bigint[];
	next_from bigint[];
	back bigint;
BEGIN
	s := segments._segment(id);
	DELETE FROM segments.segment_reference r WHERE r.segment_id = s.id;
	INSERT INTO segments.segment_reference (segment_id, kind, name, path, relative)
	SELECT s.id, x.kind, x.name, x.path, x.relative
	FROM segments.rule_references(s.rule) x;

	SELECT r.name INTO missing
	FROM segments.segment_reference r
	WHERE r.segment_id = s.id AND r.kind = 'segment'
		AND NOT EXISTS (SELECT FROM segments.segment o
			WHERE o.name = r.name AND o.tenant IS NOT DISTINCT FROM s.tenant)
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'segment "%" does not exist', missing
			USING ERRCODE = 'undefined_object',
			DETAIL = format('The rule of segment %s refers to it%s.',
				segments._segment_label(s.name, s.tenant),
				CASE WHEN s.tenant IS NULL THEN ' (among the segments without a tenant)'
					ELSE ' (in segment resolves within the tenant)' END);
	END IF;

	-- Breadth first through the segments this one refers to, directly and
	-- indirectly, each reached once (a path per segment would double with
	-- every layer of a diamond); the rest of the graph is acyclic, so a
	-- cycle must come back here, and the first way back is a shortest one.
	reached := ARRAY[s.id];
	reached_from := ARRAY[NULL::bigint];
	frontier := ARRAY[s.id];
	WHILE cardinality(frontier) > 0 AND back IS NULL LOOP
		SELECT array_agg(e.used ORDER BY e.used), array_agg(e.user_id ORDER BY e.used)
		INTO next_ids, next_from
		FROM (SELECT DISTINCT ON (o.id) o.id AS used, r.segment_id AS user_id
			FROM segments.segment_reference r
			JOIN segments.segment o ON o.name = r.name AND o.tenant IS NOT DISTINCT FROM s.tenant
			WHERE r.kind = 'segment' AND r.segment_id = ANY (frontier)
				AND (o.id = s.id OR o.id <> ALL (reached))
			ORDER BY o.id, r.segment_id) e;
		back := next_from[array_position(next_ids, s.id)];
		reached := reached || next_ids;
		reached_from := reached_from || next_from;
		frontier := next_ids;
	END LOOP;
	IF back IS NOT NULL THEN
		-- from the segment that refers back to this one, up to this one
		cycle := ARRAY[s.name];
		WHILE back <> s.id LOOP
			cycle := (SELECT o.name FROM segments.segment o WHERE o.id = back) || cycle;
			back := reached_from[array_position(reached, back)];
		END LOOP;
		cycle := s.name || cycle;
		RAISE EXCEPTION 'the rule of segment % makes a cycle: %',
			segments._segment_label(s.name, s.tenant),
			(SELECT string_agg(format('"%s"', p), ' -> ' ORDER BY i)
				FROM unnest(cycle) WITH ORDINALITY AS u(p, i))
			USING ERRCODE = 'invalid_object_definition',
			DETAIL = 'A segment cannot refer to itself, directly or through other segments.';
	END IF;
END
$$;

-- The first build of a segment's membership: the contacts compiled
-- selects become members, each logged as joined by 'build'.  Written in
-- batches as COPY writes (src/membership.c).  Returns the number of members.
-- A segment was evaluated for every contact at segments.now().
CREATE FUNCTION segments._swept(id bigint) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp AS $$
	INSERT INTO segments.segment_state AS s (segment_id, swept_to) VALUES (id, segments.now())
	ON CONFLICT (segment_id) DO UPDATE SET swept_to = excluded.swept_to
$$;

CREATE FUNCTION segments._build(id bigint, compiled text) RETURNS bigint
	AS 'MODULE_PATHNAME', 'segments_build' LANGUAGE C VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp;

-- The contacts a compiled rule selects, evaluated as the contacts table's
-- owner in a security-restricted operation (src/data_owner.c): the
-- extension's statements compare them with the membership as its owner.
-- key gives the result's type; _matching_among passes contacts as $1.
CREATE FUNCTION segments._matching(compiled text, key anyelement) RETURNS SETOF anyelement
	AS 'MODULE_PATHNAME', 'segments_matching' LANGUAGE C VOLATILE ROWS 10000
	SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION segments._matching_among(query text, contacts anyarray) RETURNS SETOF anyelement
	AS 'MODULE_PATHNAME', 'segments_matching' LANGUAGE C VOLATILE ROWS 100
	SET search_path = pg_catalog, pg_temp;

-- Brings a segment's membership to the result of compiled, in one
-- statement: the members no longer matching leave, the new ones join, both
-- logged with cause; members that stay are untouched.  Returns the number
-- of joins and leaves.  With contacts (an array of the key's type), only
-- those contacts are considered: what a write to them can have changed;
-- without, the segment is then current at segments.now() (_swept).
CREATE FUNCTION segments._apply(id bigint, compiled text, cause text, contacts anyarray DEFAULT NULL::text[])
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
	fresh text;
	stored_only text := '';
BEGIN
	IF contacts IS NOT NULL THEN
		-- a semi-join, which the planner can hash, where = ANY would
		-- search the array for every row
		fresh := format('segments._matching_among(%L, $3)',
			format('SELECT q.contact FROM (%s) q WHERE q.contact IN (SELECT pg_catalog.unnest($1))',
				compiled));
		stored_only := ' AND s.contact IN (SELECT pg_catalog.unnest($3))';
	ELSE
		fresh := format('segments._matching(%L, NULL::%s)', compiled, (segments._contacts()).key_type);
	END IF;
	EXECUTE format($q$
		WITH diff AS (
			-- one pass over fresh and stored members: who joins, who leaves
			SELECT f.contact AS joining, m.contact AS leaving
			FROM %s f(contact)
			FULL JOIN (SELECT s.contact FROM segments.membership s WHERE s.segment_id = $1 %s) m
				ON m.contact = f.contact
			WHERE m.contact IS NULL OR f.contact IS NULL),
		left_ AS (
			DELETE FROM segments.membership m
			USING diff d
			WHERE m.segment_id = $1 AND m.contact = d.leaving
			RETURNING m.contact),
		joined AS (
			INSERT INTO segments.membership (segment_id, contact)
			SELECT $1, d.joining FROM diff d WHERE d.joining IS NOT NULL
			RETURNING contact)
		INSERT INTO segments.membership_log (segment_id, contact, joined, cause)
		SELECT $1, contact, false, $2 FROM left_
		UNION ALL
		SELECT $1, contact, true, $2 FROM joined$q$,
		fresh, stored_only)
	USING id, cause, contacts;
	GET DIAGNOSTICS n = ROW_COUNT;
	IF contacts IS NULL THEN
		PERFORM segments._swept(id);
	END IF;
	RETURN n;
END
$$;

-- After a segment's membership changed, brings up to date the segments
-- whose rules use it ("in segment"), directly or through others, each after
-- the segments it uses; their joins and leaves are logged with cause.
-- Returns the number of their joins and leaves.
CREATE FUNCTION segments._apply_dependents(id bigint, cause text) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	dependent bigint;
	s segments.segment;
	n bigint := 0;
BEGIN
	FOR dependent IN SELECT o.id FROM segments._maintenance_order(ARRAY[_apply_dependents.id]) AS o(id)
		WHERE o.id <> _apply_dependents.id
	LOOP
		s := segments._segment(dependent, true);
		n := n + segments._apply(s.id, segments._compile(s.rule, s.tenant), cause);
	END LOOP;
	RETURN n;
END
$$;

-- The SQL of preview: the first lim matching contacts in key order.
CREATE FUNCTION segments._preview_sql(rule segments.rule, lim integer, tenant text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF lim < 0 THEN
		RAISE EXCEPTION 'preview limit must not be negative'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN format('SELECT q.contact::%s FROM (%s) q ORDER BY 1 LIMIT $1',
		(segments._contacts()).key_type, segments._compile(rule, tenant));
END
$$;

--
-- Attach and detach
--

-- The start of every attach: lock the attachments, refuse a role that is
-- already attached and, for events and lists, one attached before the
-- contacts; check the table.  Returns the table's qualified name.
CREATE FUNCTION segments._attach_begin(role text, tbl regclass) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	current segments.attached;
BEGIN
	LOCK TABLE segments.attached IN SHARE ROW EXCLUSIVE MODE;
	SELECT * INTO current FROM segments.attached x WHERE x.role = _attach_begin.role;
	IF FOUND THEN
		RAISE EXCEPTION '% are already attached', role
			USING ERRCODE = 'object_not_in_prerequisite_state',
			DETAIL = format('The %s table is %I.%I.', role, current.table_schema, current.table_name),
			HINT = format('Detach them first with segments.detach_%s().', role);
	END IF;
	IF role <> 'contacts' AND NOT EXISTS (SELECT FROM segments.attached x WHERE x.role = 'contacts') THEN
		RAISE EXCEPTION 'contacts must be attached before %', role
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Attach the contacts table first with segments.attach_contacts().';
	END IF;
	RETURN segments._check_table(tbl, role);
END
$$;

-- The column of an events or lists table that refers to the contact: it
-- must have the type of the contact key.
CREATE FUNCTION segments._contact_column(tbl regclass, qname text, col name)
RETURNS smallint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	contacts record := segments._contacts();
	c record := segments._column(tbl, col, 'contact');
BEGIN
	IF c.base <> contacts.key_base THEN
		RAISE EXCEPTION 'contact column "%" of table % has type %, but the contact key has type %',
			col, qname, c.declared, contacts.key_type
			USING ERRCODE = 'datatype_mismatch',
			DETAIL = format('The contact column must have the type of the key %s.%I.',
				segments._relation_name(contacts.rel), contacts.key_column);
	END IF;
	RETURN c.attnum;
END
$$;

-- Whether row-level security leaves the current role every row of the
-- contacts table (the policies of membership and its log).
CREATE FUNCTION segments._sees_all_contacts() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT NOT pg_catalog.row_security_active(pg_catalog.format('%I.%I', a.table_schema, a.table_name))
	FROM segments.attached a WHERE a.role = 'contacts'
$$;

-- Whether the current role can read the contact of this key in the
-- contacts table, its privileges and policies applied (the policies of
-- membership and its log, for a role that row-level security limits
-- there).  The keys it can read are read once per query
-- (src/contact_visibility.c).  Not SECURITY DEFINER and no SET clause:
-- it runs as the reading role, and once for each row.
CREATE FUNCTION segments._contact_visible(contact anyelement) RETURNS boolean
	AS 'MODULE_PATHNAME', 'segments_contact_visible' LANGUAGE C STABLE STRICT;

-- Maintenance reads and evaluates the attached tables as the contacts
-- table's owner (src/data_owner.c), and "in segment" reads the membership
-- (whose policies let that owner see every row): what it needs is granted
-- to the contacts table's owner while it is attached (at attach and when
-- its owner changes), and revoked from whoever had it before.  The
-- direct grant of EXECUTE on _sees_all_contacts() marks those roles.
CREATE FUNCTION segments._sync_data_owner() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	owner oid;
	former text;
BEGIN
	SELECT c.relowner INTO owner
	FROM segments.attached a
	JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(format('%I.%I', a.table_schema, a.table_name))
	WHERE a.role = 'contacts' AND pg_catalog.to_regclass('segments.membership') IS NOT NULL;
	FOR former IN
		SELECT DISTINCT g.grantee::regrole::text
		FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) g
		WHERE p.oid = 'segments._sees_all_contacts()'::pg_catalog.regprocedure
			AND g.grantee NOT IN (0, p.proowner, 'segments_reader'::pg_catalog.regrole)
			AND g.grantee IS DISTINCT FROM owner
	LOOP
		EXECUTE format('REVOKE SELECT ON segments.attached FROM %s', former);
		EXECUTE format('REVOKE EXECUTE ON FUNCTION segments._sees_all_contacts() FROM %s', former);
		IF pg_catalog.to_regclass('segments.membership') IS NOT NULL THEN
			EXECUTE format('REVOKE SELECT ON segments.membership FROM %s', former);
		END IF;
		EXECUTE format('REVOKE EXECUTE ON FUNCTION segments._contact_visible(anyelement) FROM %s', former);
	END LOOP;
	IF owner IS NOT NULL AND NOT EXISTS (SELECT
			FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) g
			WHERE p.oid = 'segments._sees_all_contacts()'::pg_catalog.regprocedure AND g.grantee = owner) THEN
		EXECUTE format('GRANT SELECT ON segments.membership, segments.attached TO %s', owner::regrole);
		EXECUTE format('GRANT EXECUTE ON FUNCTION segments._sees_all_contacts(), segments._contact_visible(anyelement) TO %s',
			owner::regrole);
	END IF;
END
$$;

-- The attached events or lists table (tbl) must be readable by the
-- contacts table's owner, as which maintenance reads it.
CREATE FUNCTION segments._check_data_owner(tbl regclass, qname text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	owner regrole := (SELECT c.relowner FROM pg_catalog.pg_class c
		WHERE c.oid = (segments._contacts()).rel);
BEGIN
	IF NOT pg_catalog.has_table_privilege(owner, tbl, 'SELECT') THEN
		RAISE EXCEPTION 'role % cannot read table %', owner, qname
			USING ERRCODE = 'insufficient_privilege',
			DETAIL = 'Maintenance reads the attached tables as the owner of the contacts table.',
			HINT = format('GRANT SELECT ON %s TO %s;', qname, owner);
	END IF;
END
$$;

CREATE FUNCTION segments.attach_contacts(tbl regclass, key name, tenant name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	qname text := segments._attach_begin('contacts', tbl);
	k record;
	t record;
BEGIN

	k := segments._column(tbl, attach_contacts.key, 'key');
	IF k.base NOT IN ('pg_catalog.int8'::regtype, 'pg_catalog.int4'::regtype,
			'pg_catalog.uuid'::regtype, 'pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype) THEN
		RAISE EXCEPTION 'key column "%" of table % has type %', attach_contacts.key, qname, k.declared
			USING ERRCODE = 'datatype_mismatch',
			DETAIL = 'A contact key must be of type bigint, integer, uuid, text or varchar.';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_index i
			WHERE i.indrelid = tbl AND i.indisunique AND i.indimmediate AND i.indisvalid
				AND i.indnkeyatts = 1 AND i.indkey[0] = k.attnum
				AND i.indpred IS NULL AND i.indexprs IS NULL) THEN
		RAISE EXCEPTION 'key column "%" of table % is not unique', attach_contacts.key, qname
			USING ERRCODE = 'invalid_column_reference',
			DETAIL = 'The key must be the primary key of the table or have a unique constraint or unique index of its own (not partial, not deferrable).',
			HINT = format('Add one with ALTER TABLE %s ADD UNIQUE (%I).', qname, attach_contacts.key);
	END IF;
	IF NOT k.notnull THEN
		RAISE EXCEPTION 'key column "%" of table % allows nulls', attach_contacts.key, qname
			USING ERRCODE = 'invalid_column_reference',
			DETAIL = 'Every contact must have a key.',
			HINT = format('Add the constraint with ALTER TABLE %s ALTER COLUMN %I SET NOT NULL.',
				qname, attach_contacts.key);
	END IF;

	IF tenant IS NOT NULL THEN
		t := segments._column(tbl, tenant, 'tenant');
		-- a tenant names one account: a scalar, compared and printed whole
		IF EXISTS (SELECT FROM pg_catalog.pg_type y WHERE y.oid = t.base
				AND (y.typtype NOT IN ('b', 'e') OR y.typcategory = 'A')) THEN
			RAISE EXCEPTION 'tenant column "%" of table % has type %', tenant, qname, t.declared
				USING ERRCODE = 'datatype_mismatch',
				DETAIL = 'A tenant must be of a base type or an enum: not an array, composite, range or multirange.';
		END IF;
		IF NOT segments._has_btree(t.declared) THEN
			RAISE EXCEPTION 'tenant column "%" of table % has type %, which has no default btree operator class',
				tenant, qname, t.declared
				USING ERRCODE = 'datatype_mismatch',
				DETAIL = 'Tenant values must be comparable for equality and order.';
		END IF;
	END IF;

	INSERT INTO segments.attached (role, table_schema, table_name, contact_column, tenant_column)
	SELECT 'contacts', n.nspname, c.relname, attach_contacts.key, attach_contacts.tenant
	FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = tbl;
	PERFORM segments._install_triggers('contacts', tbl);

	-- The objects typed by the contact key.
	EXECUTE format($ddl$
		CREATE TABLE segments.membership (
			segment_id bigint NOT NULL,
			contact %s NOT NULL,
			since timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (segment_id, contact))$ddl$, k.base_type);
	CREATE INDEX membership_contact_idx ON segments.membership (contact, segment_id);
	COMMENT ON TABLE segments.membership IS
		'the current members of every segment, maintained by the segments functions';

	EXECUTE format($ddl$
		CREATE TABLE segments.membership_log (
			id bigint GENERATED ALWAYS AS IDENTITY,
			segment_id bigint NOT NULL,
			contact %s NOT NULL,
			joined boolean NOT NULL,
			at timestamptz NOT NULL DEFAULT now(),
			cause text NOT NULL CHECK (cause IN ('build', 'alter', 'refresh', 'write', 'time')))$ddl$,
		k.base_type);
	-- Append-only, read by id ranges (WHERE id > last_seen) and, for
	-- segments.stats, by recent times: a BRIN index costs next to nothing
	-- per row where a btree would double the cost of a build.
	CREATE INDEX membership_log_id_at_idx ON segments.membership_log USING brin (id, at)
		WITH (autosummarize = on);
	COMMENT ON TABLE segments.membership_log IS
		'every join (joined) and leave (not joined) of a segment, in order of id: an outbox to poll with WHERE id > last_seen';

	-- A reader sees the members and log rows of the contacts it can see in
	-- the contacts table (docs/design.md, "Security model"): all of them
	-- when row-level security does not limit it there (an initplan, run
	-- once per query), else those its policies let it read.  The
	-- extension's owner, which maintains them, is not subject to these.
	-- The policies name the contacts table only through functions, so
	-- that dropping or changing it is not held back by them.
	ALTER TABLE segments.membership ENABLE ROW LEVEL SECURITY;
	ALTER TABLE segments.membership_log ENABLE ROW LEVEL SECURITY;
	CREATE POLICY visible_contacts ON segments.membership FOR SELECT
		USING ((SELECT segments._sees_all_contacts())
			OR segments._contact_visible(membership.contact));
	CREATE POLICY visible_contacts ON segments.membership_log FOR SELECT
		USING ((SELECT segments._sees_all_contacts())
			OR segments._contact_visible(membership_log.contact));
	GRANT SELECT ON segments.membership, segments.membership_log TO segments_reader;
	PERFORM segments._sync_data_owner();

	EXECUTE format($ddl$
		CREATE FUNCTION segments.preview(rule segments.rule, lim integer DEFAULT 100)
		RETURNS SETOF %s
		LANGUAGE plpgsql ROWS 100
		SET search_path = pg_catalog, pg_temp AS $f$
		BEGIN
			RETURN QUERY EXECUTE segments._preview_sql(rule, lim, NULL) USING lim;
		END
		$f$
		$ddl$, k.base_type);
	COMMENT ON FUNCTION segments.preview(segments.rule, integer) IS
		'the first lim contacts (in key order) that match a rule';

	EXECUTE format($ddl$
		CREATE FUNCTION segments.preview(rule segments.rule, lim integer, tenant anycompatible)
		RETURNS SETOF %s
		LANGUAGE plpgsql ROWS 100
		SET search_path = pg_catalog, pg_temp AS $f$
		BEGIN
			RETURN QUERY EXECUTE segments._preview_sql(rule, lim, segments._tenant_text(tenant)) USING lim;
		END
		$f$
		$ddl$, k.base_type);
	COMMENT ON FUNCTION segments.preview(segments.rule, integer, anycompatible) IS
		'the first lim contacts (in key order) of a tenant that match a rule';
	REVOKE ALL ON FUNCTION segments.preview(segments.rule, integer),
		segments.preview(segments.rule, integer, anycompatible) FROM PUBLIC;
	GRANT EXECUTE ON FUNCTION segments.preview(segments.rule, integer),
		segments.preview(segments.rule, integer, anycompatible) TO segments_reader;
END
$$;
COMMENT ON FUNCTION segments.attach_contacts(regclass, name, name) IS
	'attach the contacts table: its key column (bigint, integer, uuid, text or varchar, unique and not null) and optional tenant column';

CREATE FUNCTION segments.attach_events(tbl regclass, contact name, kind name, at name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	qname text := segments._attach_begin('events', tbl);
	contact_attnum smallint := segments._contact_column(tbl, qname, attach_events.contact);
	k record;
	a record;
BEGIN
	k := segments._column(tbl, attach_events.kind, 'kind');
	IF k.base NOT IN ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype) THEN
		RAISE EXCEPTION 'kind column "%" of table % has type %', attach_events.kind, qname, k.declared
			USING ERRCODE = 'datatype_mismatch',
			DETAIL = 'The event kind must be of type text or varchar.';
	END IF;
	a := segments._column(tbl, attach_events.at, 'at');
	IF a.base <> 'pg_catalog.timestamptz'::regtype THEN
		RAISE EXCEPTION 'at column "%" of table % has type %', attach_events.at, qname, a.declared
			USING ERRCODE = 'datatype_mismatch',
			DETAIL = 'The event time must be of type timestamp with time zone (timestamptz).';
	END IF;
	IF contact_attnum IN (k.attnum, a.attnum) THEN
		RAISE EXCEPTION 'column "%" of table % cannot be both the contact and the % column',
			attach_events.contact, qname, CASE WHEN contact_attnum = k.attnum THEN 'kind' ELSE 'at' END
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	PERFORM segments._check_data_owner(tbl, qname);

	INSERT INTO segments.attached (role, table_schema, table_name, contact_column, kind_column, at_column)
	SELECT 'events', n.nspname, cl.relname, attach_events.contact, attach_events.kind, attach_events.at
	FROM pg_catalog.pg_class cl JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
	WHERE cl.oid = tbl;
	PERFORM segments._install_triggers('events', tbl);
END
$$;
COMMENT ON FUNCTION segments.attach_events(regclass, name, name, name) IS
	'attach the events table: its contact column (the key''s type), kind column (text) and at column (timestamptz)';

CREATE FUNCTION segments.attach_lists(tbl regclass, contact name, list name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	qname text := segments._attach_begin('lists', tbl);
	contact_attnum smallint := segments._contact_column(tbl, qname, attach_lists.contact);
	l record;
BEGIN
	l := segments._column(tbl, attach_lists.list, 'list');
	IF NOT segments._has_btree(l.declared) THEN
		RAISE EXCEPTION 'list column "%" of table % has type %, which has no default btree operator class',
			attach_lists.list, qname, l.declared
			USING ERRCODE = 'datatype_mismatch',
			DETAIL = 'List values must be comparable for equality and order.';
	END IF;
	IF contact_attnum = l.attnum THEN
		RAISE EXCEPTION 'column "%" of table % cannot be both the contact and the list column',
			attach_lists.contact, qname
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	PERFORM segments._check_data_owner(tbl, qname);

	INSERT INTO segments.attached (role, table_schema, table_name, contact_column, list_column)
	SELECT 'lists', n.nspname, cl.relname, attach_lists.contact, attach_lists.list
	FROM pg_catalog.pg_class cl JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
	WHERE cl.oid = tbl;
	PERFORM segments._install_triggers('lists', tbl);
END
$$;
COMMENT ON FUNCTION segments.attach_lists(regclass, name, name) IS
	'attach the list membership table: its contact column (the key''s type) and list column';

CREATE FUNCTION segments.detach_contacts() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
	others text;
BEGIN
	LOCK TABLE segments.attached IN SHARE ROW EXCLUSIVE MODE;
	PERFORM segments._lock();
	IF NOT EXISTS (SELECT FROM segments.attached a WHERE a.role = 'contacts') THEN
		RAISE EXCEPTION 'contacts are not attached'
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT string_agg(a.role, ' and ' ORDER BY a.role) INTO others
	FROM segments.attached a WHERE a.role <> 'contacts';
	IF others IS NOT NULL THEN
		RAISE EXCEPTION 'cannot detach contacts while % % attached', others,
			CASE WHEN others LIKE '% and %' THEN 'are' ELSE 'is' END
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'Detach them first with ' || (SELECT string_agg(format('segments.detach_%s()', a.role), ' and ' ORDER BY a.role)
				FROM segments.attached a WHERE a.role <> 'contacts') || '.';
	END IF;
	SELECT count(*) INTO n FROM segments.segment;
	IF n > 0 THEN
		RAISE EXCEPTION 'cannot detach contacts while segments exist'
			USING ERRCODE = 'object_not_in_prerequisite_state',
			DETAIL = format('There %s %s segment%s.', CASE WHEN n = 1 THEN 'is' ELSE 'are' END,
				n, CASE WHEN n = 1 THEN '' ELSE 's' END),
			HINT = 'Drop the segments first with segments.drop_segment().';
	END IF;
	DROP FUNCTION IF EXISTS segments.preview(segments.rule, integer);
	DROP FUNCTION IF EXISTS segments.preview(segments.rule, integer, anycompatible);
	DROP TABLE IF EXISTS segments.membership;
	DROP TABLE IF EXISTS segments.membership_log;
	PERFORM segments._drop_triggers('contacts');
	DELETE FROM segments.attached a WHERE a.role = 'contacts';
	PERFORM segments._sync_data_owner();
END
$$;
COMMENT ON FUNCTION segments.detach_contacts() IS
	'detach the contacts table (no segment may exist, events and lists must be detached); drops membership and its log';

-- Detaches events or lists unless a segment's rule refers to them.
CREATE FUNCTION segments._detach(role text, kinds text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	users text;
	n bigint;
BEGIN
	LOCK TABLE segments.attached IN SHARE ROW EXCLUSIVE MODE;
	PERFORM segments._lock();
	IF NOT EXISTS (SELECT FROM segments.attached a WHERE a.role = _detach.role) THEN
		RAISE EXCEPTION '% are not attached', role
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	SELECT count(*), string_agg(segments._segment_label(s.name, s.tenant), ', ' ORDER BY s.name, s.tenant)
	INTO n, users
	FROM segments.segment s
	WHERE EXISTS (SELECT FROM segments.segment_reference r
		WHERE r.segment_id = s.id AND r.kind = ANY (kinds));
	IF n > 0 THEN
		RAISE EXCEPTION 'cannot detach %: segment% % refer% to them', role,
			CASE WHEN n = 1 THEN '' ELSE 's' END, users, CASE WHEN n = 1 THEN 's' ELSE '' END
			USING ERRCODE = 'dependent_objects_still_exist',
			HINT = 'Drop those segments or alter their rules first.';
	END IF;
	PERFORM segments._drop_triggers(role);
	DELETE FROM segments.attached a WHERE a.role = _detach.role;
END
$$;

CREATE FUNCTION segments.detach_events() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._detach('events', ARRAY['event', 'event_field']);
END
$$;
COMMENT ON FUNCTION segments.detach_events() IS
	'detach the events table, unless a segment''s rule refers to events';

CREATE FUNCTION segments.detach_lists() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._detach('lists', ARRAY['list']);
END
$$;
COMMENT ON FUNCTION segments.detach_lists() IS
	'detach the lists table, unless a segment''s rule refers to lists';

--
-- Segment lifecycle.  The public functions resolve the segment (by name,
-- name and tenant, or id) and call an internal function taking the id.
--

CREATE FUNCTION segments._create(name text, rule segments.rule, tenant text) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	new_id bigint;
BEGIN
	PERFORM segments._check_name(name);
	PERFORM segments._check_rule(rule);
	PERFORM segments._lock();
	PERFORM segments._contacts();
	IF EXISTS (SELECT FROM segments.segment s
			WHERE s.name = _create.name AND s.tenant IS NOT DISTINCT FROM _create.tenant) THEN
		RAISE EXCEPTION 'segment % already exists', segments._segment_label(name, tenant)
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO segments.segment (name, tenant, rule)
	VALUES (name, tenant, rule)
	RETURNING id INTO new_id;
	PERFORM segments._set_references(new_id);
	PERFORM segments._build(new_id, segments._compile(rule, tenant));
	PERFORM segments._swept(new_id);
	-- Writes read membership by contact with plans made once: statistics
	-- that still see the table (nearly) empty would have them scan it all.
	-- So builds that have more than doubled it since it was last analyzed
	-- analyze it (autovacuum would, later).
	IF pg_catalog.pg_relation_size('segments.membership') / 8192 >
			2 * (SELECT c.relpages FROM pg_catalog.pg_class c
				WHERE c.oid = 'segments.membership'::pg_catalog.regclass) + 128 THEN
		ANALYZE segments.membership;
	END IF;
	RETURN new_id;
END
$$;

CREATE FUNCTION segments.create_segment(name text, rule segments.rule) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._create(name, rule, NULL);
END
$$;
COMMENT ON FUNCTION segments.create_segment(text, segments.rule) IS
	'create a segment over all contacts and build its membership; returns its id';

CREATE FUNCTION segments.create_segment(name text, rule segments.rule, tenant anycompatible)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._create(name, rule, segments._tenant_text(tenant));
END
$$;
COMMENT ON FUNCTION segments.create_segment(text, segments.rule, anycompatible) IS
	'create a segment over one tenant''s contacts and build its membership; returns its id';

CREATE FUNCTION segments._alter(id bigint, rule segments.rule) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
BEGIN
	PERFORM segments._check_rule(rule);
	s := segments._segment(id, true);
	UPDATE segments.segment g SET rule = _alter.rule, updated_at = now() WHERE g.id = s.id;
	PERFORM segments._set_references(s.id);
	IF segments._apply(s.id, segments._compile(rule, s.tenant), 'alter') > 0 THEN
		PERFORM segments._apply_dependents(s.id, 'alter');
	END IF;
END
$$;

CREATE FUNCTION segments.alter_segment(name text, rule segments.rule) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._alter(segments._segment_id(name, NULL, false), rule);
END
$$;
COMMENT ON FUNCTION segments.alter_segment(text, segments.rule) IS
	'replace a segment''s rule; membership (and that of the segments using it) changes by the difference only';

CREATE FUNCTION segments.alter_segment(name text, rule segments.rule, tenant anycompatible)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._alter(segments._segment_id(name, segments._tenant_text(tenant), true), rule);
END
$$;

CREATE FUNCTION segments.alter_segment(id bigint, rule segments.rule) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._alter(id, rule);
END
$$;

CREATE FUNCTION segments._rename(id bigint, new_name text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
BEGIN
	PERFORM segments._check_name(new_name);
	s := segments._segment(id, true);
	IF s.name = new_name THEN
		RETURN;
	END IF;
	IF EXISTS (SELECT FROM segments.segment g
			WHERE g.name = new_name AND g.tenant IS NOT DISTINCT FROM s.tenant) THEN
		RAISE EXCEPTION 'segment % already exists', segments._segment_label(new_name, s.tenant)
			USING ERRCODE = 'duplicate_object';
	END IF;
	UPDATE segments.segment g SET name = new_name, updated_at = now() WHERE g.id = s.id;
	-- The segments of the tenant that refer to the old name now refer to
	-- the new one.
	UPDATE segments.segment g
	SET rule = segments._rule_rename_segment(g.rule, s.name, new_name), updated_at = now()
	WHERE g.tenant IS NOT DISTINCT FROM s.tenant
		AND EXISTS (SELECT FROM segments.segment_reference r
			WHERE r.segment_id = g.id AND r.kind = 'segment' AND r.name = s.name);
	UPDATE segments.segment_reference r SET name = new_name
	FROM segments.segment g
	WHERE r.segment_id = g.id AND g.tenant IS NOT DISTINCT FROM s.tenant
		AND r.kind = 'segment' AND r.name = s.name;
END
$$;

CREATE FUNCTION segments.rename_segment(name text, new_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._rename(segments._segment_id(name, NULL, false), new_name);
END
$$;
COMMENT ON FUNCTION segments.rename_segment(text, text) IS
	'rename a segment; the rules that refer to it are rewritten to the new name';

CREATE FUNCTION segments.rename_segment(name text, new_name text, tenant anycompatible)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._rename(segments._segment_id(name, segments._tenant_text(tenant), true), new_name);
END
$$;

CREATE FUNCTION segments.rename_segment(id bigint, new_name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._rename(id, new_name);
END
$$;

CREATE FUNCTION segments._drop(id bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
	n bigint;
	users text;
BEGIN
	s := segments._segment(id, true);
	SELECT count(*), string_agg(format('"%s"', g.name), ', ' ORDER BY g.name)
	INTO n, users
	FROM segments.segment g
	WHERE g.id <> s.id AND g.tenant IS NOT DISTINCT FROM s.tenant
		AND EXISTS (SELECT FROM segments.segment_reference r
			WHERE r.segment_id = g.id AND r.kind = 'segment' AND r.name = s.name);
	IF n > 0 THEN
		RAISE EXCEPTION 'cannot drop segment % because other segments refer to it',
			segments._segment_label(s.name, s.tenant)
			USING ERRCODE = 'dependent_objects_still_exist',
			DETAIL = format('%s %s %s to it.',
				CASE WHEN n = 1 THEN 'Segment' ELSE 'Segments' END, users,
				CASE WHEN n = 1 THEN 'refers' ELSE 'refer' END),
			HINT = 'Drop those segments or alter their rules first.';
	END IF;
	DELETE FROM segments.membership m WHERE m.segment_id = s.id;
	DELETE FROM segments.segment g WHERE g.id = s.id;
END
$$;

CREATE FUNCTION segments.drop_segment(name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._drop(segments._segment_id(name, NULL, false));
END
$$;
COMMENT ON FUNCTION segments.drop_segment(text) IS
	'drop a segment and its membership (its log stays); refused while another segment refers to it';

CREATE FUNCTION segments.drop_segment(name text, tenant anycompatible) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._drop(segments._segment_id(name, segments._tenant_text(tenant), true));
END
$$;

CREATE FUNCTION segments.drop_segment(id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._drop(id);
END
$$;

CREATE FUNCTION segments._refresh(id bigint) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
	n bigint;
BEGIN
	s := segments._segment(id, true);
	n := segments._apply(s.id, segments._compile(s.rule, s.tenant), 'refresh');
	IF n > 0 THEN
		PERFORM segments._apply_dependents(s.id, 'refresh');
	END IF;
	RETURN n;
END
$$;

CREATE FUNCTION segments.refresh_segment(name text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._refresh(segments._segment_id(name, NULL, false));
END
$$;
COMMENT ON FUNCTION segments.refresh_segment(text) IS
	're-evaluate a segment in full and apply the difference (also to the segments using it); returns the number of its joins and leaves';

CREATE FUNCTION segments.refresh_segment(name text, tenant anycompatible) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._refresh(segments._segment_id(name, segments._tenant_text(tenant), true));
END
$$;

CREATE FUNCTION segments.refresh_segment(id bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._refresh(id);
END
$$;

CREATE FUNCTION segments._verify(id bigint, OUT missing bigint, OUT extra bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
BEGIN
	s := segments._segment(id);
	EXECUTE format($q$
		SELECT count(*) FILTER (WHERE m.contact IS NULL),
			count(*) FILTER (WHERE f.contact IS NULL)
		FROM segments._matching(%L, NULL::%s) f(contact)
		FULL JOIN (SELECT s.contact FROM segments.membership s WHERE s.segment_id = $1) m
			ON m.contact = f.contact
		WHERE m.contact IS NULL OR f.contact IS NULL$q$,
		segments._compile(s.rule, s.tenant), (segments._contacts()).key_type)
	INTO missing, extra
	USING s.id;
END
$$;

CREATE FUNCTION segments.verify_segment(name text) RETURNS TABLE (missing bigint, extra bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT v.missing, v.extra FROM segments._verify(segments._segment_id(name, NULL, false)) v;
END
$$;
COMMENT ON FUNCTION segments.verify_segment(text) IS
	'compare materialized and fresh membership: missing = matching contacts not members, extra = members not matching';

CREATE FUNCTION segments.verify_segment(name text, tenant anycompatible)
RETURNS TABLE (missing bigint, extra bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT v.missing, v.extra
	FROM segments._verify(segments._segment_id(name, segments._tenant_text(tenant), true)) v;
END
$$;

CREATE FUNCTION segments.verify_segment(id bigint) RETURNS TABLE (missing bigint, extra bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT v.missing, v.extra FROM segments._verify(id) v;
END
$$;

--
-- Ad hoc evaluation: count a rule's matches, show its SQL.  (preview,
-- typed by the contact key, is created by attach_contacts.)
--

CREATE FUNCTION segments._preview_count(rule segments.rule, tenant text) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
BEGIN
	IF rule IS NULL THEN
		RETURN NULL;
	END IF;
	EXECUTE format('SELECT count(*) FROM (%s) q', segments._compile(rule, tenant)) INTO n;
	RETURN n;
END
$$;

CREATE FUNCTION segments.preview_count(rule segments.rule) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._preview_count(rule, NULL);
END
$$;
COMMENT ON FUNCTION segments.preview_count(segments.rule) IS
	'the number of contacts that match a rule';

CREATE FUNCTION segments.preview_count(rule segments.rule, tenant anycompatible) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._preview_count(rule, segments._tenant_text(tenant));
END
$$;
COMMENT ON FUNCTION segments.preview_count(segments.rule, anycompatible) IS
	'the number of a tenant''s contacts that match a rule';

CREATE FUNCTION segments.to_sql(rule segments.rule) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN CASE WHEN rule IS NOT NULL THEN segments._compile(rule, NULL, portable => true) END;
END
$$;
COMMENT ON FUNCTION segments.to_sql(segments.rule) IS
	'the SQL query a rule stands for: one column, contact, the key of every matching contact';

CREATE FUNCTION segments.to_sql(rule segments.rule, tenant anycompatible) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN CASE WHEN rule IS NOT NULL THEN segments._compile(rule, segments._tenant_text(tenant), portable => true) END;
END
$$;
COMMENT ON FUNCTION segments.to_sql(segments.rule, anycompatible) IS
	'the SQL query a rule stands for, over one tenant''s contacts';

--
-- Maintenance: membership follows writes in the same transaction
--
-- attach installs statement-level AFTER triggers on the attached table
-- (INSERT, UPDATE and DELETE with transition tables, which COPY, MERGE and
-- partitioned tables fire too; TRUNCATE) and a deferred constraint
-- trigger.  Each statement's trigger collects the contacts it touched and
-- what it changed (columns, event kinds, lists), finds the segments whose
-- rules can see that change (from segments.segment_reference) and those
-- that use them "in segment", and queues them.  At commit (or at
-- segments.flush()) the queue is applied: each queued contact's turn is
-- taken, then each affected segment is brought up to date for the queued
-- contacts only, in dependency order, logging cause 'write' and notifying
-- channel "segments" once per changed segment (src/maintain.c).
--

-- Notifies listeners on channel "segments" that a segment's membership
-- changed, at commit, as the write path does (src/maintain.c).
CREATE FUNCTION segments._announce_change(segment_id bigint) RETURNS void
	AS 'MODULE_PATHNAME', 'segments_announce_change' LANGUAGE C VOLATILE STRICT;

-- The segments of ids and those that use them through "in segment",
-- directly or not, each after the segments it uses, as the write path
-- orders them (src/segment_cache.c), under the current snapshot.
CREATE FUNCTION segments._maintenance_order(ids bigint[]) RETURNS SETOF bigint
	AS 'MODULE_PATHNAME', 'segments_maintenance_order' LANGUAGE C STABLE STRICT;

-- Bring segments ids (and their dependents) up to date for contacts (an
-- array of the key's type, or NULL for all), logging cause.  Returns the joins and leaves.
CREATE FUNCTION segments._maintain(ids bigint[], contacts anyarray, cause text) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	seg_id bigint;
	s segments.segment;
	n bigint;
	total bigint := 0;
BEGIN
	FOR seg_id IN SELECT * FROM segments._maintenance_order(ids) LOOP
		SELECT * INTO s FROM segments.segment x WHERE x.id = seg_id;
		-- per-contact counts of events for a few contacts; for many, the
		-- set form (one pass over the events)
		n := segments._apply(s.id,
			segments._compile(s.rule, s.tenant, few => coalesce(cardinality(contacts) <= 1000, false)),
			cause, contacts);
		IF n > 0 THEN
			PERFORM segments._announce_change(s.id);
		END IF;
		total := total + n;
	END LOOP;
	RETURN total;
END
$$;

-- The statement-level trigger of INSERT, UPDATE and DELETE on an attached
-- table (TG_ARGV[0] is its role): queues the touched contacts and the
-- segments the change can affect, for the commit (src/maintain.c).
-- Maintenance runs as the extension's owner (SECURITY DEFINER, with a
-- pinned search_path): membership must reflect all the data, whatever the
-- writer may read, and writers need no privilege on segments' tables.
CREATE FUNCTION segments._on_write() RETURNS trigger
	AS 'MODULE_PATHNAME', 'segments_on_write' LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

-- The WHEN clause of the commit trigger: true for the first row a
-- transaction writes, so that one commit event is queued.
CREATE FUNCTION segments._arm_commit() RETURNS boolean
	AS 'MODULE_PATHNAME', 'segments_arm_commit' LANGUAGE C VOLATILE;

-- The deferred constraint trigger that applies the queue at commit.
CREATE FUNCTION segments._at_commit() RETURNS trigger
	AS 'MODULE_PATHNAME', 'segments_at_commit' LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

-- The queue, batch by batch: a contact that writes queued for different
-- sets of segments comes once per batch.
CREATE FUNCTION segments._pending() RETURNS TABLE (segment_id bigint, contact text)
	AS 'MODULE_PATHNAME', 'segments_pending' LANGUAGE C VOLATILE STRICT;
CREATE FUNCTION segments.pending() RETURNS TABLE (segment_id bigint, contact text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
	SELECT DISTINCT p.segment_id, p.contact FROM segments._pending() p
$$;
COMMENT ON FUNCTION segments.pending() IS
	'the segments and contacts this transaction''s writes so far queued for its commit';

CREATE FUNCTION segments.tick() RETURNS bigint
	AS 'MODULE_PATHNAME', 'segments_tick' LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION segments.tick() IS
	'apply the membership changes due because time moved (to segments.now()); returns the joins and leaves written, 0 at once while another tick runs';

-- The log rows segment_state.last_change does not hold yet (tick_state):
-- the last join or leave of each segment among them.  (PL/pgSQL: the log
-- exists once the contacts are attached.)
CREATE FUNCTION segments._recent_changes()
RETURNS TABLE (segment_id bigint, last_change timestamptz, last_id bigint)
LANGUAGE plpgsql STABLE
-- the estimates of a range of a BRIN index are the whole table's: no
-- workers nor JIT for what reads the last pages
SET search_path = pg_catalog, pg_temp SET max_parallel_workers_per_gather = 0 SET jit = off AS $$
DECLARE
	logged_to bigint;
	horizon timestamptz;
BEGIN
	IF pg_catalog.to_regclass('segments.membership_log') IS NULL THEN
		RETURN;
	END IF;
	-- values, not a join: the conditions on id and at are then BRIN scans
	SELECT t.logged_to, coalesce(t.log_horizon, 'infinity') INTO logged_to, horizon
	FROM segments.tick_state t;
	RETURN QUERY
	SELECT l.segment_id, max(l.at), max(l.id)
	FROM segments.membership_log l
	WHERE l.id > logged_to OR l.at >= horizon
	GROUP BY l.segment_id;
END
$$;

-- BRIN scans read the pages of every range not yet summarized: those
-- written since the last tick are summarized here, once, so that the log's
-- ranges of id and at read little more than its tail (autovacuum does it
-- too, a minute or so after a range fills: autosummarize).  While
-- autovacuum holds the table, the tick does not wait for it.
CREATE FUNCTION segments._summarize_log() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp SET lock_timeout = '20ms' AS $$
BEGIN
	PERFORM pg_catalog.brin_summarize_new_values('segments.membership_log_id_at_idx'::pg_catalog.regclass);
EXCEPTION WHEN lock_not_available THEN
	NULL;
END
$$;

-- Fold the recent log into segment_state.last_change (segments.tick() does
-- it at the end of each tick).  A log row is stamped with the start of its
-- transaction, so the rows of transactions still running now are stamped
-- at or after the start of the oldest of them (client backends and
-- background workers of this database): the next fold reads those again.
-- The starts of prepared transactions are not known: while there are any,
-- the next fold reads the whole log.
CREATE FUNCTION segments._fold_log() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	horizon timestamptz;
BEGIN
	IF pg_catalog.to_regclass('segments.membership_log') IS NULL THEN
		RETURN;
	END IF;
	-- the sessions that can write this database's log: not autovacuum's
	SELECT CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_prepared_xacts p
			WHERE p.database = pg_catalog.current_database()) THEN '-infinity'
		ELSE least(min(a.xact_start), pg_catalog.now()) END
	INTO horizon
	FROM pg_catalog.pg_stat_activity a
	WHERE a.xact_start IS NOT NULL AND a.datname = pg_catalog.current_database()
		AND a.backend_type IN ('client backend', 'background worker');
	PERFORM segments._summarize_log();
	WITH recent AS MATERIALIZED (SELECT * FROM segments._recent_changes()),
	changed AS (
		UPDATE segments.segment_state s SET last_change = r.last_change
		FROM recent r
		WHERE r.segment_id = s.segment_id AND (s.last_change IS NULL OR s.last_change < r.last_change))
	UPDATE segments.tick_state
	SET logged_to = greatest(logged_to, coalesce((SELECT max(r.last_id) FROM recent r), 0)),
		log_horizon = horizon;
END
$$;

CREATE FUNCTION segments._stats()
RETURNS TABLE (segment_id bigint, name text, tenant text, members bigint, last_change timestamptz,
	last_tick timestamptz, swept_to timestamptz, behind interval)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF pg_catalog.to_regclass('segments.membership') IS NULL THEN
		RETURN;
	END IF;
	RETURN QUERY
	SELECT s.id, s.name, s.tenant,
		(SELECT count(*) FROM segments.membership m WHERE m.segment_id = s.id),
		greatest(st.last_change, r.last_change),
		t.ticked_at,
		st.swept_to,
		CASE WHEN segments.rule_depends_on_time(s.rule) THEN segments.now() - st.swept_to END
	FROM segments.segment s
	LEFT JOIN segments.segment_state st ON st.segment_id = s.id
	LEFT JOIN segments._recent_changes() r ON r.segment_id = s.id
	CROSS JOIN segments.tick_state t
	ORDER BY s.id;
END
$$;

CREATE VIEW segments.stats AS SELECT * FROM segments._stats();
COMMENT ON VIEW segments.stats IS
	'per segment: its members, the time of its last join or leave, the last tick, the time up to which time''s changes were applied (swept_to) and, for a segment time changes, how far behind segments.now() that is';

-- Takes the turn of every contact (src/maintain.c), for the maintenance
-- that DDL and TRUNCATE do at once rather than at commit.
CREATE FUNCTION segments._take_all_turns() RETURNS void
	AS 'MODULE_PATHNAME', 'segments_take_all_turns' LANGUAGE C VOLATILE;

CREATE FUNCTION segments.flush() RETURNS void
	AS 'MODULE_PATHNAME', 'segments_flush' LANGUAGE C VOLATILE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION segments.flush() IS
	'bring membership up to date with this transaction''s writes now, rather than at commit';

-- TRUNCATE of an attached table: the segments that use it are rebuilt.
-- A TRUNCATE of a partitioned table fires this on it and then on each of
-- its partitions; the first does the work (see segments._truncate_done).
CREATE FUNCTION segments._on_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ids bigint[];
BEGIN
	-- a TRUNCATE of the role's table only: any other would rebuild its segments for nothing
	IF NOT EXISTS (SELECT FROM segments._attached_tables() t
			WHERE t.role = TG_ARGV[0] AND t.relid = TG_RELID) THEN
		RAISE EXCEPTION 'segments._on_truncate() fires only on the attached % table', TG_ARGV[0]
			USING ERRCODE = 'trigger_protocol_violated',
			DETAIL = format('Table %s is not the attached %s table nor one of its partitions.',
				TG_RELID::pg_catalog.regclass, TG_ARGV[0]);
	END IF;
	IF segments._truncate_done(TG_RELID) THEN
		RETURN NULL;
	END IF;
	PERFORM segments._writers_lock(false);
	SELECT array_agg(DISTINCT s.id) INTO ids
	FROM segments.segment s
	WHERE TG_ARGV[0] = 'contacts'
		OR EXISTS (SELECT FROM segments.segment_reference r
			WHERE r.segment_id = s.id
				AND r.kind = ANY (CASE TG_ARGV[0] WHEN 'events' THEN ARRAY['event'] ELSE ARRAY['list'] END));
	IF ids IS NOT NULL THEN
		PERFORM segments._take_all_turns();
		PERFORM segments._maintain(ids, NULL::text[], 'write');
	END IF;
	RETURN NULL;
END
$$;

-- The triggers of a role on an attached table and on every partition (and
-- inheritance child) under it: a statement that names a partition fires
-- only the partition's statement-level triggers, and one that names the
-- table only the table's.  Later partitions get them from the event
-- triggers (see "DDL safety").
CREATE FUNCTION segments._install_triggers(role text, tbl regclass) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
BEGIN
	FOR t IN SELECT x.relid, x.relkind FROM segments._tree(tbl) x ORDER BY x.depth, x.relid LOOP
		PERFORM segments._check_member(role, tbl, t.relid, t.relkind);
		PERFORM segments._install_triggers_on(role, t.relid);
	END LOOP;
END
$$;

-- Removes the triggers of a role from every table that has them.
CREATE FUNCTION segments._drop_triggers(role text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	rel oid;
BEGIN
	FOR rel IN SELECT t.relid FROM segments._triggered() t WHERE t.role = _drop_triggers.role ORDER BY t.relid LOOP
		PERFORM segments._drop_triggers_on(rel);
	END LOOP;
END
$$;

-- == DDL safety ==
--
-- Event triggers keep the attachments true to the tables they name, so
-- that no change of the tables leaves membership silently wrong:
--
--  * Partitions.  A statement that names a partition fires that
--    partition's statement-level triggers and not the root's, and a
--    statement that names the root fires only the root's.  So the triggers
--    of an attached table are on every partition (and inheritance child)
--    under it: attach installs them, a partition created or attached later
--    gets them, one detached loses them.  The rows a partition brings
--    (ATTACH PARTITION) or takes away (DETACH PARTITION, DROP TABLE) change
--    membership as a write of those rows would, logged with cause 'write'.
--    A foreign table cannot be such a partition: its triggers cannot have
--    transition tables.
--  * Columns.  A column that a segment's rule names, or that the
--    attachment names (key, tenant, contact, kind, at, list), cannot be
--    dropped or change its type (or collation).  Renaming it is followed:
--    segments.attached and the rules are rewritten to the new name.
--    Renaming the table or moving it to another schema updates
--    segments.attached.  An ALTER COLUMN ... TYPE ... USING that rewrites
--    such a column in place (same type) rebuilds the segments using it.
--  * Tables.  Dropping an attached table detaches it, as detach_* would,
--    and is refused where detach_* would be: while segments use it (or,
--    for the contacts, while events or lists are attached, or when the
--    session could not drop segments.membership and its log itself).
--
-- ddl_command_start records the attached tables (the tables under them,
-- the roots' columns) in segments._ddl_before; ddl_command_end compares
-- them with that record and brings the triggers of partitions up to date;
-- sql_drop sees the dropped tables and columns.  Refusing is raising an
-- error, which aborts the command.  These functions run as the extension's
-- owner (SECURITY DEFINER, pinned search_path) since whoever changes a
-- table needs no privilege on the segments catalog; event triggers fire
-- for every DDL command of the database, so each returns at once when
-- nothing is attached.  Tables are followed by OID only for the length of
-- a command: nothing kept depends on OIDs.
--

-- What ddl_command_start saw, for the ddl_command_end or sql_drop of the
-- same command: a stack per transaction (a command's event triggers may
-- run commands).  tables: [{role, relid, root, relfilenode}], every table
-- of the attached trees; columns: [{role, relid, attnum, name, type,
-- typmod, coll, version}] of the attached tables themselves, version
-- being the xmin of the column's pg_attribute row.  A backend removes the
-- rows its earlier transactions left (a command that ends in another
-- transaction: DETACH PARTITION CONCURRENTLY), never those of another
-- backend, so that no two transactions delete the same rows.
CREATE UNLOGGED TABLE segments._ddl_before (
	pid integer NOT NULL,
	xact xid8 NOT NULL,
	depth integer NOT NULL,
	tag text NOT NULL,
	tables jsonb NOT NULL,
	columns jsonb NOT NULL,
	PRIMARY KEY (xact, depth)
);
COMMENT ON TABLE segments._ddl_before IS
	'internal: the attached tables as a DDL command under way found them';

-- The partitions whose TRUNCATE trigger has nothing left to do in this
-- transaction (skip), because the trigger of a partitioned table above
-- them, truncated by the same statement, brought membership up to date;
-- and those whose trigger did its own work (not skip), which must not be
-- skipped later in the transaction.  As in segments._ddl_before, a backend
-- removes only the rows of its own earlier transactions.
CREATE UNLOGGED TABLE segments._truncated (
	pid integer NOT NULL,
	xact xid8 NOT NULL,
	relid oid NOT NULL,
	skip boolean NOT NULL
);
COMMENT ON TABLE segments._truncated IS
	'internal: TRUNCATE triggers of partitions done by the trigger of a partitioned table above them';

-- rel and the partitions and inheritance children under it, at any depth.
CREATE FUNCTION segments._tree(rel oid) RETURNS TABLE (relid oid, relkind "char", depth integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	WITH RECURSIVE t(relid, depth) AS (
		SELECT rel, 0
		UNION ALL
		SELECT i.inhrelid, t.depth + 1
		FROM t JOIN pg_catalog.pg_inherits i ON i.inhparent = t.relid
	)
	SELECT t.relid, c.relkind, min(t.depth)
	FROM t JOIN pg_catalog.pg_class c ON c.oid = t.relid
	GROUP BY t.relid, c.relkind
$$;

-- Every attached table that exists (root) and the tables under it.
CREATE FUNCTION segments._attached_tables()
RETURNS TABLE (role text, root oid, relid oid, relkind "char")
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT a.role, r.oid, t.relid, t.relkind
	FROM segments.attached a
	CROSS JOIN LATERAL (SELECT pg_catalog.to_regclass(
		pg_catalog.format('%I.%I', a.table_schema, a.table_name))::oid AS oid) r
	CROSS JOIN LATERAL segments._tree(r.oid) t
	WHERE r.oid IS NOT NULL
$$;

-- The tables that carry the triggers of a role (its name is the triggers'
-- argument), among those whose triggers the extension's owner may drop:
-- a trigger some other role put on a table of its own is not the
-- extension's (it refuses to fire, src/maintain.c) and is left alone.
CREATE FUNCTION segments._triggered() RETURNS TABLE (role text, relid oid)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT DISTINCT pg_catalog.split_part(pg_catalog.encode(t.tgargs, 'escape'), E'\\000', 1), t.tgrelid
	FROM pg_catalog.pg_trigger t
	JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
	WHERE t.tgfoid IN ('segments._on_write()'::pg_catalog.regprocedure,
		'segments._on_truncate()'::pg_catalog.regprocedure)
		AND pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')
$$;

-- Refuses a table that cannot be part of an attached table: a foreign
-- table, whose triggers cannot have transition tables.
CREATE FUNCTION segments._check_member(role text, root regclass, rel oid, relkind "char") RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF relkind = 'f' THEN
		RAISE EXCEPTION 'foreign table % cannot be a partition of %, the % table',
			segments._relation_name(rel), segments._relation_name(root), role
			USING ERRCODE = 'feature_not_supported',
			DETAIL = 'Triggers on foreign tables cannot have transition tables, so writes to it could not be followed.';
	END IF;
END
$$;

-- The triggers of a role on one table, those it does not have yet.
CREATE FUNCTION segments._install_triggers_on(role text, rel oid) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
BEGIN
	FOR t IN
		SELECT x.name, x.event, x.transitions, x.fn
		FROM (VALUES
			('segments_after_insert', 'INSERT', 'REFERENCING NEW TABLE AS new_rows', 'segments._on_write'),
			('segments_after_update', 'UPDATE', 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows', 'segments._on_write'),
			('segments_after_delete', 'DELETE', 'REFERENCING OLD TABLE AS old_rows', 'segments._on_write'),
			('segments_after_truncate', 'TRUNCATE', '', 'segments._on_truncate')) AS x(name, event, transitions, fn)
		WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g
			WHERE g.tgrelid = rel AND g.tgname = x.name
				AND g.tgfoid = (x.fn || '()')::pg_catalog.regprocedure)
	LOOP
		EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH STATEMENT EXECUTE FUNCTION %s(%L)',
			t.name, t.event, rel::regclass, t.transitions, t.fn, role);
	END LOOP;
	-- The commit trigger: a partition gets it from its partitioned table
	-- (a clone of the same name).
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g
		WHERE g.tgrelid = rel AND g.tgname = 'segments_at_commit'
			AND g.tgfoid = 'segments._at_commit()'::pg_catalog.regprocedure)
	THEN
		EXECUTE format('CREATE CONSTRAINT TRIGGER segments_at_commit AFTER INSERT OR UPDATE OR DELETE ON %s '
			'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (segments._arm_commit()) '
			'EXECUTE FUNCTION segments._at_commit()', rel::regclass);
	END IF;
END
$$;

-- Removes the segments triggers from one table.
CREATE FUNCTION segments._drop_triggers_on(rel oid) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t name;
BEGIN
	FOR t IN
		SELECT g.tgname FROM pg_catalog.pg_trigger g
		WHERE g.tgrelid = rel
			AND g.tgfoid IN ('segments._on_write()'::pg_catalog.regprocedure,
				'segments._on_truncate()'::pg_catalog.regprocedure,
				'segments._at_commit()'::pg_catalog.regprocedure)
			-- a clone goes with the trigger it was cloned from
			AND g.tgparentid = 0
		ORDER BY g.tgname
	LOOP
		EXECUTE format('DROP TRIGGER %I ON %s', t, rel::regclass);
	END LOOP;
END
$$;

-- Whether the TRUNCATE trigger on rel has nothing to do: the trigger of a
-- partitioned table above it ran first in the same statement.  A TRUNCATE
-- of a partitioned table truncates every partition under it and fires the
-- triggers of the table named first, then of the tables under it; so the
-- trigger of a partitioned table marks those below it as done, unless
-- their trigger already ran in this transaction (they were named before
-- it, or truncated by an earlier statement): a mark is always consumed by
-- the same statement, never by a later one.
CREATE FUNCTION segments._truncate_done(rel oid) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	x xid8 := pg_catalog.pg_current_xact_id();
	c record;
BEGIN
	DELETE FROM segments._truncated t WHERE t.pid = pg_catalog.pg_backend_pid() AND t.xact <> x;
	DELETE FROM segments._truncated t WHERE t.xact = x AND t.relid = rel AND t.skip;
	IF FOUND THEN
		RETURN true;
	END IF;
	SELECT cl.relkind, cl.relispartition INTO c FROM pg_catalog.pg_class cl WHERE cl.oid = rel;
	IF c.relispartition THEN
		INSERT INTO segments._truncated (pid, xact, relid, skip)
		VALUES (pg_catalog.pg_backend_pid(), x, rel, false);
	END IF;
	IF c.relkind = 'p' THEN
		INSERT INTO segments._truncated (pid, xact, relid, skip)
		SELECT pg_catalog.pg_backend_pid(), x, t.relid, true FROM segments._tree(rel) t
		WHERE t.relid <> rel
			AND NOT EXISTS (SELECT FROM segments._truncated d
				WHERE d.xact = x AND d.relid = t.relid AND NOT d.skip);
	END IF;
	RETURN false;
END
$$;

-- The segments whose membership the data of a role's table can change.
CREATE FUNCTION segments._role_segments(role text) RETURNS bigint[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT array_agg(s.id ORDER BY s.id)
	FROM segments.segment s
	WHERE role = 'contacts'
		OR EXISTS (SELECT FROM segments.segment_reference r
			WHERE r.segment_id = s.id
				AND r.kind = ANY (CASE role WHEN 'events' THEN ARRAY['event', 'event_field']
					ELSE ARRAY['list'] END))
$$;

-- Segments as messages list them: "A", "B" (tenant 2) and 3 others.
CREATE FUNCTION segments._segment_list(ids bigint[]) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT string_agg(x.label, ', ' ORDER BY x.i)
		|| CASE WHEN max(x.n) > 5 THEN format(' and %s other%s', max(x.n) - 5,
			CASE WHEN max(x.n) = 6 THEN '' ELSE 's' END) ELSE '' END
	FROM (SELECT segments._segment_label(s.name, s.tenant) AS label,
			row_number() OVER (ORDER BY s.name, s.tenant) AS i,
			count(*) OVER () AS n
		FROM segments.segment s WHERE s.id = ANY (ids)) x
	WHERE x.i <= 5
$$;

-- What uses column col of the table attached as role: the attachment
-- (what: 'key', 'tenant', 'contact', 'kind', 'at' or 'list'; then every
-- segment using the table), or the rules that name it (ids).  Both NULL:
-- the column can change freely.
CREATE FUNCTION segments._column_users(role text, col text, OUT what text, OUT ids bigint[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
BEGIN
	SELECT * INTO a FROM segments.attached x WHERE x.role = _column_users.role;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	what := CASE col
		WHEN a.contact_column THEN CASE WHEN role = 'contacts' THEN 'key' ELSE 'contact' END
		WHEN a.tenant_column THEN 'tenant'
		WHEN a.kind_column THEN 'kind'
		WHEN a.at_column THEN 'at'
		WHEN a.list_column THEN 'list' END;
	IF what IS NOT NULL THEN
		ids := segments._role_segments(role);
	ELSIF role = 'contacts' THEN
		SELECT array_agg(DISTINCT r.segment_id) INTO ids
		FROM segments.segment_reference r WHERE r.kind = 'field' AND r.name = col;
	ELSIF role = 'events' THEN
		SELECT array_agg(DISTINCT r.segment_id) INTO ids
		FROM segments.segment_reference r WHERE r.kind = 'event_field' AND r.path[1] = col;
	END IF;
END
$$;

-- Refuses to drop (change 'drop') or change the type of (change 'type')
-- column col of the table attached as role when something uses it.
CREATE FUNCTION segments._refuse_column_change(role text, qname text, col text, change text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	u record := segments._column_users(role, col);
	doing text := CASE change WHEN 'drop' THEN 'drop' ELSE 'change the type of' END;
	code text := CASE change WHEN 'drop' THEN '2BP01' ELSE '0A000' END;
	n integer := coalesce(cardinality(u.ids), 0);
BEGIN
	IF u.what IS NOT NULL THEN
		RAISE EXCEPTION 'cannot % column "%" of table % because it is the % column of the attached % table',
			doing, col, qname, u.what, role
			USING ERRCODE = code,
			DETAIL = CASE WHEN n = 0 THEN format('No segment uses the %s table.', role)
				ELSE format('%s %s %s the %s table.', CASE WHEN n = 1 THEN 'Segment' ELSE 'Segments' END,
					segments._segment_list(u.ids), CASE WHEN n = 1 THEN 'uses' ELSE 'use' END, role) END,
			HINT = CASE WHEN n = 0 THEN format('Detach the table first with segments.detach_%s().', role)
				ELSE format('Drop those segments or alter their rules, then detach the table with segments.detach_%s().', role) END;
	ELSIF n > 0 THEN
		RAISE EXCEPTION 'cannot % column "%" of table % because %', doing, col, qname,
			format('%s %s %s to it', CASE WHEN n = 1 THEN 'segment' ELSE 'segments' END,
				segments._segment_list(u.ids), CASE WHEN n = 1 THEN 'refers' ELSE 'refer' END)
			USING ERRCODE = code,
			HINT = 'Drop those segments or alter their rules first.';
	END IF;
END
$$;

-- A rule's JSON form with the field old renamed new: the contacts' fields
-- (outside the where of events) or, with in_events, the events' fields
-- (inside them).  inside: whether node is in an event's where.
CREATE FUNCTION segments._rename_field(node jsonb, old text, new text, in_events boolean,
	inside boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	k text;
BEGIN
	IF jsonb_typeof(node) <> 'object' THEN
		RETURN node;
	ELSIF node ? 'and' OR node ? 'or' THEN
		k := CASE WHEN node ? 'and' THEN 'and' ELSE 'or' END;
		RETURN jsonb_build_object(k, (
			SELECT jsonb_agg(segments._rename_field(e.value, old, new, in_events, inside) ORDER BY e.i)
			FROM jsonb_array_elements(node -> k) WITH ORDINALITY AS e(value, i)));
	ELSIF node ? 'not' THEN
		RETURN jsonb_build_object('not', segments._rename_field(node -> 'not', old, new, in_events, inside));
	ELSIF node ? 'field' THEN
		IF inside = in_events AND node #>> '{field,0}' = old THEN
			RETURN jsonb_set(node, '{field,0}', to_jsonb(new));
		END IF;
	ELSIF node ? 'event' AND node ? 'where' AND NOT inside THEN
		RETURN jsonb_set(node, '{where}', segments._rename_field(node -> 'where', old, new, in_events, true));
	END IF;
	RETURN node;
END
$$;

-- A column of the table attached as role was renamed from old to new: the
-- attachment and the rules that name it follow.  Membership does not
-- change.
CREATE FUNCTION segments._follow_column_rename(role text, old text, new text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ids bigint[];
	seg_id bigint;
BEGIN
	-- the lock _writers_lock(true) takes below, taken before the catalog is
	-- read: the catalog changes that refer to the column are then over
	LOCK TABLE segments.segment IN SHARE ROW EXCLUSIVE MODE;
	IF role <> 'lists' THEN
		SELECT array_agg(DISTINCT r.segment_id ORDER BY r.segment_id) INTO ids
		FROM segments.segment_reference r
		WHERE CASE WHEN role = 'contacts' THEN r.kind = 'field' AND r.name = old
			ELSE r.kind = 'event_field' AND r.path[1] = old END;
	END IF;
	IF ids IS NULL AND NOT EXISTS (SELECT FROM segments.attached a
			WHERE a.role = _follow_column_rename.role
				AND old IN (a.contact_column, a.tenant_column, a.kind_column, a.at_column, a.list_column)) THEN
		RETURN;
	END IF;
	-- the rules or the attachments change: no writer may maintain with
	-- the old ones from now on
	PERFORM segments._writers_lock(true);
	UPDATE segments.attached a SET
		contact_column = CASE WHEN a.contact_column = old THEN new ELSE a.contact_column END,
		tenant_column = CASE WHEN a.tenant_column = old THEN new ELSE a.tenant_column END,
		kind_column = CASE WHEN a.kind_column = old THEN new ELSE a.kind_column END,
		at_column = CASE WHEN a.at_column = old THEN new ELSE a.at_column END,
		list_column = CASE WHEN a.list_column = old THEN new ELSE a.list_column END
	WHERE a.role = _follow_column_rename.role
		AND old IN (a.contact_column, a.tenant_column, a.kind_column, a.at_column, a.list_column);
	FOREACH seg_id IN ARRAY coalesce(ids, '{}') LOOP
		UPDATE segments.segment s
		SET rule = segments.rule_from_jsonb(segments._rename_field(
				segments.rule_to_jsonb(s.rule), old, new, role = 'events')),
			updated_at = now()
		WHERE s.id = seg_id;
		PERFORM segments._set_references(seg_id);
	END LOOP;
END
$$;

-- Brings membership up to date for the contacts of the rows of tables
-- (each without the tables under it) of the table attached as role: rows
-- that have just joined it or left it.
CREATE FUNCTION segments._maintain_rows(role text, tables oid[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
	rel oid;
	found_ text[];
	contacts text[] := '{}';
	ids bigint[];
BEGIN
	-- before the catalog is read: a segment created meanwhile is then
	-- either built with these rows or seen below
	PERFORM segments._writers_lock(false);
	SELECT * INTO a FROM segments.attached x WHERE x.role = _maintain_rows.role;
	IF NOT FOUND OR NOT EXISTS (SELECT FROM segments.segment) THEN
		RETURN;
	END IF;
	FOREACH rel IN ARRAY tables LOOP
		IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = rel) = 'r' THEN
			EXECUTE format('SELECT array_agg(DISTINCT r.%I::text) FROM ONLY %s r', a.contact_column, rel::regclass)
			INTO found_;
			contacts := contacts || coalesce(found_, '{}');
		END IF;
	END LOOP;
	SELECT array_agg(DISTINCT c) INTO contacts FROM unnest(contacts) AS c;
	ids := segments._role_segments(role);
	IF contacts IS NULL OR ids IS NULL THEN
		RETURN;
	END IF;
	PERFORM segments._take_all_turns();
	EXECUTE format('SELECT segments._maintain($1, $2::%s[], %L)', (segments._contacts()).key_type, 'write')
	USING ids, contacts;
END
$$;

-- Puts the triggers on the tables under an attached table that lack them
-- (when the table itself has them: attached by attach_*) and takes them
-- from the tables no longer under it; the rows of those tables joined or
-- left the attached table.
CREATE FUNCTION segments._sync_partitions() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
	roles text[] := '{}';
	moved oid[] := '{}';
	role_ text;
BEGIN
	FOR t IN
		WITH tree AS (SELECT * FROM segments._attached_tables()),
		trig AS (SELECT * FROM segments._triggered())
		SELECT x.role, x.root, x.relid, x.relkind, true AS adding
		FROM tree x
		WHERE EXISTS (SELECT FROM trig g WHERE g.relid = x.root AND g.role = x.role)
			AND NOT EXISTS (SELECT FROM trig g WHERE g.relid = x.relid)
		UNION ALL
		-- only for a role whose table exists, so that a table whose
		-- attachment lost track of it keeps its triggers
		SELECT g.role, NULL, g.relid, NULL, false
		FROM trig g
		WHERE EXISTS (SELECT FROM tree x WHERE x.role = g.role)
			AND NOT EXISTS (SELECT FROM tree x WHERE x.relid = g.relid)
		ORDER BY 5 DESC, 1, 3
	LOOP
		IF t.adding THEN
			PERFORM segments._check_member(t.role, t.root, t.relid, t.relkind);
			PERFORM segments._install_triggers_on(t.role, t.relid);
		ELSE
			PERFORM segments._drop_triggers_on(t.relid);
		END IF;
		roles := roles || t.role;
		moved := moved || t.relid;
	END LOOP;
	FOR role_ IN SELECT DISTINCT r FROM unnest(roles) AS r ORDER BY 1 LOOP
		PERFORM segments._maintain_rows(role_,
			ARRAY(SELECT m FROM unnest(roles, moved) AS u(r, m) WHERE u.r = role_));
	END LOOP;
END
$$;

-- After a command, what it changed of the attached tables, as against
-- what ddl_command_start recorded: a renamed or moved table is followed; a
-- column of the table that something uses may not change its type and,
-- renamed, is followed; one rewritten in place is re-evaluated.
CREATE FUNCTION segments._follow_changes(before segments._ddl_before) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
	root oid;
	c record;
	qname text;
	rewritten boolean;
	ids bigint[];
BEGIN
	FOR a IN SELECT * FROM segments.attached x ORDER BY x.role LOOP
		SELECT t.relid INTO root
		FROM jsonb_to_recordset(before.tables) AS t(role text, relid oid, root boolean)
		WHERE t.role = a.role AND t.root;
		SELECT n.nspname, cl.relname INTO c
		FROM pg_catalog.pg_class cl JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
		WHERE cl.oid = root;
		IF root IS NULL OR NOT FOUND THEN
			CONTINUE;   -- not there before, or dropped (see _on_sql_drop)
		END IF;
		IF (c.nspname, c.relname) IS DISTINCT FROM (a.table_schema, a.table_name) THEN
			-- writers' plans name the table: none may use them from now on
			PERFORM segments._writers_lock(true);
			UPDATE segments.attached x SET table_schema = c.nspname, table_name = c.relname
			WHERE x.role = a.role;
		END IF;
		qname := segments._relation_name(root);

		-- the table's data rewritten (ALTER COLUMN TYPE, ...) by this command
		SELECT EXISTS (
			SELECT FROM jsonb_to_recordset(before.tables) AS t(role text, relid oid, relfilenode oid)
			JOIN pg_catalog.pg_class cl ON cl.oid = t.relid
			WHERE t.role = a.role AND t.relfilenode <> 0 AND cl.relfilenode <> t.relfilenode)
		INTO rewritten;

		FOR c IN
			SELECT b.name AS old, now_.attname AS new,
				(b.type, b.typmod, b.coll) IS DISTINCT FROM
					(now_.atttypid, now_.atttypmod, now_.attcollation) AS retyped,
				b.version <> now_.xmin::text AS touched
			FROM jsonb_to_recordset(before.columns) AS b(role text, relid oid, attnum smallint,
				name name, type oid, typmod integer, coll oid, version text)
			JOIN pg_catalog.pg_attribute now_ ON now_.attrelid = b.relid AND now_.attnum = b.attnum
			WHERE b.role = a.role AND b.relid = root AND NOT now_.attisdropped
				AND (now_.attname <> b.name OR b.version <> now_.xmin::text)
			ORDER BY b.attnum
		LOOP
			IF c.retyped THEN
				PERFORM segments._refuse_column_change(a.role, qname, c.old, 'type');
			ELSIF c.touched AND rewritten THEN
				-- same type, values possibly rewritten (USING): re-evaluate
				-- the segments that use the column
				SELECT CASE WHEN u.what IS NOT NULL THEN segments._role_segments(a.role) ELSE u.ids END
				INTO ids FROM segments._column_users(a.role, c.old) u;
				IF ids IS NOT NULL THEN
					PERFORM segments._writers_lock(false);
					PERFORM segments._take_all_turns();
					PERFORM segments._maintain(ids, NULL::text[], 'write');
				END IF;
			END IF;
			IF c.new <> c.old THEN
				PERFORM segments._follow_column_rename(a.role, c.old, c.new);
			END IF;
		END LOOP;
	END LOOP;
END
$$;

-- ddl_command_start of the commands that can rename, retype, move or drop
-- attached tables and their columns: records them.
CREATE FUNCTION segments._on_ddl_start() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	x xid8;
BEGIN
	IF NOT EXISTS (SELECT FROM segments.attached) THEN
		RETURN;
	END IF;
	x := pg_catalog.pg_current_xact_id();
	DELETE FROM segments._ddl_before b WHERE b.pid = pg_catalog.pg_backend_pid() AND b.xact <> x;
	INSERT INTO segments._ddl_before (pid, xact, depth, tag, tables, columns)
	SELECT pg_catalog.pg_backend_pid(), x, coalesce((SELECT max(b.depth) FROM segments._ddl_before b WHERE b.xact = x), 0) + 1, TG_TAG,
		coalesce((SELECT jsonb_agg(jsonb_build_object('role', t.role, 'relid', t.relid,
				'root', t.relid = t.root, 'relfilenode', cl.relfilenode))
			FROM segments._attached_tables() t JOIN pg_catalog.pg_class cl ON cl.oid = t.relid), '[]'),
		coalesce((SELECT jsonb_agg(jsonb_build_object('role', t.role, 'relid', t.relid,
				'attnum', at.attnum, 'name', at.attname, 'type', at.atttypid, 'typmod', at.atttypmod,
				'coll', at.attcollation, 'version', at.xmin::text))
			FROM segments._attached_tables() t
			JOIN pg_catalog.pg_attribute at ON at.attrelid = t.relid AND at.attnum > 0 AND NOT at.attisdropped
			WHERE t.relid = t.root), '[]');
END
$$;

-- The record ddl_command_start made for the command now ending, taken off
-- the stack; NULL when it made none.
CREATE FUNCTION segments._ddl_pop(tag text) RETURNS segments._ddl_before
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	x xid8 := pg_catalog.pg_current_xact_id_if_assigned();
	b segments._ddl_before;
BEGIN
	IF x IS NULL THEN
		RETURN NULL;
	END IF;
	DELETE FROM segments._ddl_before d
	WHERE d.xact = x AND d.tag = _ddl_pop.tag
		AND d.depth = (SELECT max(e.depth) FROM segments._ddl_before e WHERE e.xact = x)
	RETURNING * INTO b;
	RETURN b;
END
$$;

-- The record of the command under way, left on the stack (for sql_drop).
CREATE FUNCTION segments._ddl_top(tag text) RETURNS segments._ddl_before
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT d.* FROM segments._ddl_before d
	WHERE d.xact = pg_catalog.pg_current_xact_id_if_assigned() AND d.tag = _ddl_top.tag
		AND d.depth = (SELECT max(e.depth) FROM segments._ddl_before e WHERE e.xact = d.xact)
$$;

-- ddl_command_end: follows renames, refuses type changes, and keeps the
-- triggers of partitions.
CREATE FUNCTION segments._on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	before segments._ddl_before;
BEGIN
	before := segments._ddl_pop(TG_TAG);
	IF NOT EXISTS (SELECT FROM segments.attached) THEN
		RETURN;
	END IF;
	IF before.xact IS NOT NULL THEN
		PERFORM segments._follow_changes(before);
	END IF;
	IF TG_TAG NOT LIKE 'DROP %' THEN
		PERFORM segments._sync_partitions();
	END IF;
	-- ALTER TABLE ... OWNER TO: maintenance evaluates as the new owner
	IF TG_TAG = 'ALTER TABLE' THEN
		PERFORM segments._sync_data_owner();
	END IF;
END
$$;

-- Attached tables dropped (roles): refused while segments use them, else
-- detached.
CREATE FUNCTION segments._drop_attached(roles text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
	qname text;
	ids bigint[];
	n integer;
	others text;
BEGIN
	LOCK TABLE segments.attached IN SHARE ROW EXCLUSIVE MODE;
	PERFORM segments._lock();
	FOR a IN SELECT * FROM segments.attached x WHERE x.role = ANY (roles) ORDER BY x.role LOOP
		qname := format('%I.%I', a.table_schema, a.table_name);
		ids := segments._role_segments(a.role);
		n := coalesce(cardinality(ids), 0);
		IF n > 0 THEN
			RAISE EXCEPTION 'cannot drop table % because % % % it', qname,
				CASE WHEN n = 1 THEN 'segment' ELSE 'segments' END, segments._segment_list(ids),
				CASE WHEN n = 1 THEN 'uses' ELSE 'use' END
				USING ERRCODE = 'dependent_objects_still_exist',
				DETAIL = format('It is the attached %s table.', a.role),
				HINT = 'Drop those segments or alter their rules first; dropping the table then detaches it.';
		END IF;
		IF a.role = 'contacts' THEN
			SELECT string_agg(x.role, ' and ' ORDER BY x.role) INTO others
			FROM segments.attached x WHERE x.role <> ALL (roles);
			IF others IS NOT NULL THEN
				RAISE EXCEPTION 'cannot drop table % while % % attached', qname, others,
					CASE WHEN others LIKE '% and %' THEN 'are' ELSE 'is' END
					USING ERRCODE = 'dependent_objects_still_exist',
					DETAIL = 'It is the attached contacts table.',
					HINT = format('Detach %s first with %s, or drop %s in the same statement.',
						CASE WHEN others LIKE '% and %' THEN 'them' ELSE 'it' END,
						(SELECT string_agg(format('segments.detach_%s()', x.role), ' and ' ORDER BY x.role)
							FROM segments.attached x WHERE x.role <> ALL (roles)),
						CASE WHEN others LIKE '% and %' THEN 'those tables' ELSE 'that table' END);
			END IF;
		END IF;
	END LOOP;
	-- Detaching the contacts drops segments.membership and its log: only
	-- for a session that could do it with detach_contacts() (this runs as
	-- the extension's owner; session_user is who is connected).
	IF 'contacts' = ANY (roles) AND EXISTS (
			SELECT FROM pg_catalog.pg_class c
			WHERE c.oid IN (pg_catalog.to_regclass('segments.membership'),
					pg_catalog.to_regclass('segments.membership_log'))
				AND NOT pg_catalog.pg_has_role(session_user, c.relowner, 'USAGE')) THEN
		SELECT * INTO a FROM segments.attached x WHERE x.role = 'contacts';
		RAISE EXCEPTION 'cannot drop table %.% because role % may not detach it',
			quote_ident(a.table_schema), quote_ident(a.table_name), quote_ident(session_user)
			USING ERRCODE = 'insufficient_privilege',
			DETAIL = 'It is the attached contacts table; detaching it drops segments.membership and segments.membership_log, which that role does not own.',
			HINT = 'Have their owner run segments.detach_contacts() first.';
	END IF;
	IF 'lists' = ANY (roles) THEN
		PERFORM segments._detach('lists', ARRAY['list']);
	END IF;
	IF 'events' = ANY (roles) THEN
		PERFORM segments._detach('events', ARRAY['event', 'event_field']);
	END IF;
	IF 'contacts' = ANY (roles) THEN
		PERFORM segments.detach_contacts();
	END IF;
END
$$;

-- sql_drop: a dropped column that something uses is refused; a dropped
-- attached table is detached (or refused); a dropped partition of an
-- attached table re-evaluates the segments that use the table.
CREATE FUNCTION segments._on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	d record;
	dropped text[];
	before segments._ddl_before;
	role_ text;
	ids bigint[];
BEGIN
	IF NOT EXISTS (SELECT FROM segments.attached)
		OR NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() o
			WHERE o.object_type IN ('table', 'table column')) THEN
		RETURN;
	END IF;

	FOR d IN
		SELECT a.role, o.address_names[3] AS col
		FROM pg_catalog.pg_event_trigger_dropped_objects() o
		JOIN segments.attached a ON o.address_names[1] = a.table_schema AND o.address_names[2] = a.table_name
		WHERE o.object_type = 'table column'
		ORDER BY a.role, o.objsubid
	LOOP
		PERFORM segments._refuse_column_change(d.role,
			format('%I.%I', (SELECT x.table_schema FROM segments.attached x WHERE x.role = d.role),
				(SELECT x.table_name FROM segments.attached x WHERE x.role = d.role)), d.col, 'drop');
	END LOOP;

	SELECT array_agg(a.role) INTO dropped
	FROM segments.attached a
	WHERE EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() o
		WHERE o.object_type = 'table' AND o.schema_name = a.table_schema AND o.object_name = a.table_name);
	IF dropped IS NOT NULL THEN
		PERFORM segments._drop_attached(dropped);
	END IF;

	-- partitions: their rows are gone, and which contacts they held is not
	-- known any more
	before := segments._ddl_top(TG_TAG);
	IF before.xact IS NULL THEN
		RETURN;
	END IF;
	FOR role_ IN
		SELECT DISTINCT t.role
		FROM jsonb_to_recordset(before.tables) AS t(role text, relid oid, root boolean)
		JOIN pg_catalog.pg_event_trigger_dropped_objects() o ON o.object_type = 'table' AND o.objid = t.relid
		WHERE NOT t.root AND t.role <> ALL (coalesce(dropped, '{}'))
		ORDER BY 1
	LOOP
		ids := segments._role_segments(role_);
		IF ids IS NOT NULL THEN
			PERFORM segments._writers_lock(false);
			PERFORM segments._maintain(ids, NULL::text[], 'write');
		END IF;
	END LOOP;
END
$$;

CREATE EVENT TRIGGER segments_ddl_start ON ddl_command_start
	WHEN TAG IN ('ALTER TABLE', 'ALTER FOREIGN TABLE', 'ALTER SCHEMA', 'ALTER TYPE',
		'DROP TABLE', 'DROP FOREIGN TABLE', 'DROP SCHEMA', 'DROP OWNED')
	EXECUTE FUNCTION segments._on_ddl_start();
CREATE EVENT TRIGGER segments_ddl_end ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'ALTER FOREIGN TABLE', 'ALTER SCHEMA', 'ALTER TYPE',
		'DROP TABLE', 'DROP FOREIGN TABLE', 'DROP SCHEMA', 'DROP OWNED',
		'CREATE TABLE', 'CREATE FOREIGN TABLE', 'CREATE SCHEMA')
	EXECUTE FUNCTION segments._on_ddl_end();
CREATE EVENT TRIGGER segments_sql_drop ON sql_drop
	EXECUTE FUNCTION segments._on_sql_drop();

--
-- Privileges (docs/design.md, "Security model").  Nothing is granted to
-- PUBLIC but the rule type's support functions, the clock and the JSON
-- readers the compiled SQL calls, and what a writer of the attached
-- tables may call in its own transaction (flush, pending, and the WHEN
-- clause of the commit trigger).  People get one of two roles, created
-- here if missing (roles belong to the cluster, so another database's
-- installation may have created them):
--
--  * segments_reader: the catalog, membership, its log, stats, and the
--    ad hoc functions (preview, preview_count, matches, explain, to_sql),
--    which run with the reader's own privileges;
--  * segments_editor: also creates, alters, renames, drops, refreshes and
--    verifies segments and runs tick(), through SECURITY DEFINER functions
--    that write the catalog and the membership as the extension's owner.
--
-- Only the extension's owner writes the extension's tables.  Attaching
-- and detaching tables is left to the owner too.
--
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'segments_reader') THEN
		CREATE ROLE segments_reader NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'segments_editor') THEN
		CREATE ROLE segments_editor NOLOGIN;
	END IF;
	IF NOT pg_catalog.pg_has_role('segments_editor', 'segments_reader', 'MEMBER') THEN
		GRANT segments_reader TO segments_editor;
	END IF;
END
$roles$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA segments FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA segments FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
	segments.rule_in(pg_catalog.cstring), segments.rule_out(segments.rule),
	segments.rule_recv(pg_catalog.internal), segments.rule_send(segments.rule),
	segments.rule_eq(segments.rule, segments.rule), segments.rule_ne(segments.rule, segments.rule),
	segments.rule_hash(segments.rule), segments.rule_hash_extended(segments.rule, bigint),
	segments.rule_to_jsonb(segments.rule), segments.rule_from_jsonb(pg_catalog.jsonb),
	segments.rule_references(segments.rule), segments.rule_depends_on_time(segments.rule),
	segments.now(), segments.ago(integer, text), segments.from_now(integer, text),
	segments.json_string(pg_catalog.jsonb), segments.json_number(pg_catalog.jsonb),
	segments.json_boolean(pg_catalog.jsonb), segments.json_time(pg_catalog.jsonb),
	segments._arm_commit(), segments.flush(), segments.pending()
	TO PUBLIC;

-- Naming the schema's objects reveals nothing the catalogs do not; the
-- privileges on each object decide.
GRANT USAGE ON SCHEMA segments TO PUBLIC;
GRANT SELECT ON segments.attached, segments.segment, segments.segment_reference,
	segments.segment_state, segments.tick_state, segments.stats
	TO segments_reader;
-- the ad hoc functions and the invoker's helpers they call
GRANT EXECUTE ON FUNCTION
	segments.preview_count(segments.rule), segments.preview_count(segments.rule, anycompatible),
	segments.to_sql(segments.rule), segments.to_sql(segments.rule, anycompatible),
	segments.matches(anyelement, segments.rule), segments.matches(anyelement, segments.rule, anycompatible),
	segments.explain(anyelement, segments.rule), segments.explain(anyelement, segments.rule, anycompatible),
	segments._preview_count(segments.rule, text), segments._preview_sql(segments.rule, integer, text),
	segments._compile(segments.rule, text, boolean, boolean), segments._tenant_text(anycompatible),
	segments._contacts(), segments._column(regclass, name, text),
	segments._column_hint(regclass, text),
	segments._relation_name(regclass), segments._stats(), segments._recent_changes(),
	segments._sees_all_contacts(), segments._contact_visible(anyelement)
	TO segments_reader;

GRANT EXECUTE ON FUNCTION
	segments.create_segment(text, segments.rule), segments.create_segment(text, segments.rule, anycompatible),
	segments.alter_segment(text, segments.rule), segments.alter_segment(text, segments.rule, anycompatible),
	segments.alter_segment(bigint, segments.rule),
	segments.rename_segment(text, text), segments.rename_segment(text, text, anycompatible),
	segments.rename_segment(bigint, text),
	segments.drop_segment(text), segments.drop_segment(text, anycompatible), segments.drop_segment(bigint),
	segments.refresh_segment(text), segments.refresh_segment(text, anycompatible),
	segments.refresh_segment(bigint),
	segments.verify_segment(text), segments.verify_segment(text, anycompatible),
	segments.verify_segment(bigint),
	segments.tick()
	TO segments_editor;
