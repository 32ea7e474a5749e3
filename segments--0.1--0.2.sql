/* segments--0.1--0.2.sql: from release 0.1 to 0.2 */

\echo Use "ALTER EXTENSION segments UPDATE TO '0.2'" to load this file. \quit

-- Release 0.2: the change feed (segments.changes, prune_log), one
-- segment's history (history, size_history), the members view, preview
-- pages, drop_segment logging its leaves.  A released script never
-- changes: what 0.2 changes of 0.1 is here, for a new installation
-- (CREATE EXTENSION runs 0.1, then this) as for an upgraded one, whose
-- attached tables' objects are brought up to date at the end.
-- Every name is schema-qualified: the script must not depend on search_path.

-- Citus (docs/design.md, "On a Citus cluster"): first, since the event
-- triggers this script replaces call them.
-- Citus's distribution method of a table ('h' hash, 'n' reference, ...),
-- NULL when it is not a Citus table or Citus is not installed.
CREATE FUNCTION segments._citus_method(tbl regclass) RETURNS "char"
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	method "char";
BEGIN
	IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
		RETURN NULL;
	END IF;
	EXECUTE 'SELECT p.partmethod FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1'
		INTO method USING tbl;
	RETURN method;
END
$$;

-- Whether this is a Citus worker: the DDL Citus replays on a worker is the
-- coordinator's, whose event triggers follow it in the catalog.
CREATE FUNCTION segments._citus_worker() RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	node integer;
BEGIN
	IF pg_catalog.to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
		RETURN false;
	END IF;
	EXECUTE 'SELECT l.groupid FROM pg_catalog.pg_dist_local_group l' INTO node;
	RETURN node IS DISTINCT FROM 0;
END
$$;

-- preview's SQL takes a page's start now
DROP FUNCTION segments._preview_sql(segments.rule, integer, text);

-- Drops segments.preview, whose last argument has the contact key's type.
CREATE FUNCTION segments._drop_preview() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'segments'::pg_catalog.regnamespace AND p.proname = 'preview'
	LOOP
		EXECUTE format('DROP FUNCTION %s', f);
	END LOOP;
END
$$;

-- Brings a segment's membership to the result of compiled, in one
-- statement: the members no longer matching leave, the new ones join, both
-- logged with cause; members that stay are untouched.  Returns the number
-- of joins and leaves.  With contacts (an array of the key's type), only
-- those contacts are considered: what a write to them can have changed;
-- without, the segment is then current at segments.now() (_swept).
-- On a Citus cluster each shard group does it on its node (the task
-- apply, src/shard_task.c), so that the log's ids come from the node
-- that holds the rows (docs/design.md, "On a Citus cluster"): the task
-- calls this function with the group's shards of the membership and its
-- log, compiled against the group's tables.
DROP FUNCTION segments._apply(bigint, text, text, anyarray);
CREATE FUNCTION segments._apply(id bigint, compiled text, cause text, contacts anyarray DEFAULT NULL::text[],
	members regclass DEFAULT NULL, log regclass DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
	-- a shard of the log has no identity: its ids from the log's sequence
	log_id text := '';
	log_id_value text := '';
	in_group boolean := members IS NOT NULL;
BEGIN
	IF NOT in_group AND segments._citus_method('segments.membership') = 'h' THEN
		-- every contact: a task carries no list of them
		n := segments._run_shard_task('apply', id, cause);
	ELSE
		IF members IS NULL THEN
			members := 'segments.membership';
			log := 'segments.membership_log';
		ELSE
			log_id := 'id, ';
			log_id_value := format('pg_catalog.nextval(%L), ',
				pg_catalog.pg_get_serial_sequence('segments.membership_log', 'id'));
		END IF;
		n := segments._apply_to(id, compiled, cause, contacts, members, log, log_id, log_id_value);
	END IF;
	IF n > 0 AND NOT in_group THEN
		PERFORM segments._announce_change(id);
	END IF;
	IF contacts IS NULL AND NOT in_group THEN
		PERFORM segments._swept(id);
	END IF;
	RETURN n;
END
$$;

CREATE FUNCTION segments._apply_to(id bigint, compiled text, cause text, contacts anyarray,
	members regclass, log regclass, log_id text, log_id_value text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
	fresh text;
	stored_only text := '';
	columns text := segments._member_columns();
BEGIN
	IF contacts IS NOT NULL AND segments._key_per_tenant() THEN
		-- the pair's columns, not the row value, so that the semi-join
		-- reaches the contacts' and the membership's (tenant, key) indexes
		fresh := format('segments._matching_among(%L, $3)',
			format('SELECT q.contact FROM (%s) q WHERE ((q.contact).tenant, (q.contact).contact) IN (SELECT u.tenant, u.contact FROM pg_catalog.unnest($1) u)',
				compiled));
		stored_only := ' AND (s.tenant, s.contact) IN (SELECT u.tenant, u.contact FROM pg_catalog.unnest($3) u)';
	ELSIF contacts IS NOT NULL THEN
		-- a semi-join, which the planner can hash, where = ANY would
		-- search the array for every row
		fresh := format('segments._matching_among(%L, $3)',
			format('SELECT q.contact FROM (%s) q WHERE q.contact IN (SELECT pg_catalog.unnest($1))',
				compiled));
		stored_only := ' AND s.contact IN (SELECT pg_catalog.unnest($3))';
	ELSE
		fresh := format('segments._matching(%L, NULL::%s)', compiled, segments._contact_type());
	END IF;
	PERFORM segments._log_writing();
	EXECUTE format($q$
		WITH diff AS (
			-- one pass over fresh and stored members: who joins, who leaves
			SELECT f.contact AS joining, m.contact AS leaving
			-- a row type's function in FROM would give its columns
			FROM (SELECT %s AS contact) f
			FULL JOIN (SELECT %s AS contact FROM %s s WHERE s.segment_id = $1 %s) m
				ON m.contact = f.contact
			WHERE m.contact IS NULL OR f.contact IS NULL),
		left_ AS (
			DELETE FROM %s m
			USING diff d
			WHERE m.segment_id = $1 AND %s = d.leaving
			RETURNING %s AS contact),
		joined AS (
			INSERT INTO %s AS m (segment_id, since, %s)
			SELECT $1, segments.now(), %s FROM diff d WHERE d.joining IS NOT NULL
			RETURNING %s AS contact)
		INSERT INTO %s (%ssegment_id, %s, joined, cause)
		SELECT %s$1, %s, c.joined, $2
		FROM (SELECT l.contact, false AS joined FROM left_ l
			UNION ALL
			SELECT j.contact, true FROM joined j) c$q$,
		fresh, segments._member_key('s'), members, stored_only,
		members, segments._member_key('m'), segments._member_key('m'),
		members, columns, segments._member_values('d.joining'), segments._member_key('m'),
		log, log_id, columns, log_id_value, segments._member_values('c.contact'))
	USING id, cause, contacts;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;
REVOKE ALL ON FUNCTION segments._apply(bigint, text, text, anyarray, regclass, regclass),
	segments._apply_to(bigint, text, text, anyarray, regclass, regclass, text, text) FROM PUBLIC;

-- Compares a segment's membership with its rule's contacts now.
CREATE OR REPLACE FUNCTION segments._verify(id bigint, OUT missing bigint, OUT extra bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
BEGIN
	s := segments._segment(id);
	EXECUTE format($q$
		SELECT count(*) FILTER (WHERE m.contact IS NULL),
			count(*) FILTER (WHERE f.contact IS NULL)
		FROM (SELECT segments._matching(%L, NULL::%s) AS contact) f
		FULL JOIN (SELECT %s AS contact FROM segments.membership s WHERE s.segment_id = $1) m
			ON m.contact = f.contact
		WHERE m.contact IS NULL OR f.contact IS NULL$q$,
		segments._segment_sql(s), segments._contact_type(), segments._member_key('s'))
	INTO missing, extra
	USING s.id;
END
$$;

-- The SQL of preview: the first lim matching contacts in key order.
CREATE FUNCTION segments._preview_sql(rule segments.rule, lim integer, tenant text, paged boolean)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF lim < 0 THEN
		RAISE EXCEPTION 'preview limit must not be negative'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- a contact keyed per tenant: the columns of its row type
	RETURN format('SELECT %s FROM (%s) q %s ORDER BY q.contact LIMIT $1',
		CASE WHEN segments._key_per_tenant() THEN '(q.contact).*'
			ELSE format('q.contact::%s', segments._contact_type()) END,
		segments._compile(rule, tenant),
		CASE WHEN paged THEN 'WHERE q.contact > $2' ELSE '' END);
END
$$;

-- What attach_contacts makes beside the log, and the upgrade from 0.1 for
-- a log made before it: the log's index and TRUNCATE trigger, and the
-- tables the change feed and size_history keep (log_state, log_rollup).
CREATE FUNCTION segments._equip_log() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- Append-only, read by id ranges (segments.changes()), by recent times
	-- (segments.stats) and by segment (segments.history()): a BRIN index
	-- costs next to nothing per row where a btree would double the cost of
	-- a build.  A range's bloom filter of segment ids (a range holds a few
	-- hundred segments at most) lets one segment's reads skip the ranges
	-- it has no row in.  A summarized range's summary is rewritten by
	-- every row added to it (ids and times grow, and the bloom filter is a
	-- kilobyte), which would make a build three times as slow: the range
	-- being filled, the log's last, is kept unsummarized (see
	-- _summarize_log), from the first, which an index built on an empty
	-- table summarizes, on.
	CREATE INDEX membership_log_brin ON segments.membership_log
		USING brin (id, at, segment_id pg_catalog.int8_bloom_ops (n_distinct_per_range = 1000))
		WITH (pages_per_range = 128, autosummarize = on);
	PERFORM pg_catalog.brin_desummarize_range('segments.membership_log_brin'::pg_catalog.regclass, 0);
	CREATE TRIGGER membership_log_truncated AFTER TRUNCATE ON segments.membership_log
		FOR EACH STATEMENT EXECUTE FUNCTION segments._log_truncated();
	COMMENT ON TABLE segments.membership_log IS
		'every join (joined) and leave (not joined) of a segment, in order of id; read it as a feed with segments.changes()';
	-- The log's epoch (part of every cursor segments.changes() returns, so
	-- that a cursor of a log since dropped is refused, not misread) and the
	-- id up to which segments.prune_log() deleted it.
	CREATE TABLE segments.log_state (
		epoch text NOT NULL DEFAULT pg_catalog.md5(pg_catalog.random()::text || pg_catalog.clock_timestamp()::text),
		pruned_to bigint NOT NULL DEFAULT 0,
		rolled_to bigint NOT NULL DEFAULT 0);
	CREATE UNIQUE INDEX log_state_one_row ON segments.log_state ((true));
	INSERT INTO segments.log_state DEFAULT VALUES;
	GRANT SELECT ON segments.log_state TO segments_reader;
	-- The log counted by segment and minute, up to log_state.rolled_to
	-- (segments._rollup_log): what size_history() reads instead of the log.
	CREATE TABLE segments.log_rollup (
		segment_id bigint NOT NULL,
		minute timestamptz NOT NULL,
		joins bigint NOT NULL,
		leaves bigint NOT NULL,
		PRIMARY KEY (segment_id, minute));
	-- counts of every contact's changes: for readers that see every contact
	ALTER TABLE segments.log_rollup ENABLE ROW LEVEL SECURITY;
	CREATE POLICY sees_all_contacts ON segments.log_rollup FOR SELECT
		USING ((SELECT segments._sees_all_contacts()));
	GRANT SELECT ON segments.log_rollup TO segments_reader;
END
$$;

-- The members view, for readers and BI tools (attach_contacts, and the
-- upgrade from 0.1).
CREATE FUNCTION segments._create_members_view() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- The members with their segments' names, for readers and BI tools; as
	-- the reader (security_invoker), so the membership's policies apply.
	-- Keyed per tenant, tenant is the member's (typed as the column).
	IF segments._key_per_tenant() THEN
		CREATE VIEW segments.members WITH (security_invoker = true) AS
		SELECT m.segment_id, s.name, m.tenant, m.contact, m.since
		FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id;
	ELSE
		CREATE VIEW segments.members WITH (security_invoker = true) AS
		SELECT m.segment_id, s.name, s.tenant, m.contact, m.since
		FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id;
	END IF;
	COMMENT ON VIEW segments.members IS
		'the members of every segment, with the segment''s name and tenant';
	GRANT SELECT ON segments.members TO segments_reader;
END
$$;

-- segments.preview, whose last argument has the contact key's type
-- (attach_contacts, and the upgrade from 0.1).
CREATE FUNCTION segments._create_preview(key_type text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	EXECUTE format($ddl$
		CREATE FUNCTION segments.preview(rule segments.rule, lim integer DEFAULT 100,
			tenant anycompatible DEFAULT NULL, after %s DEFAULT NULL)
		RETURNS SETOF %s
		LANGUAGE plpgsql ROWS 100
		SET search_path = pg_catalog, pg_temp AS $f$
		BEGIN
			RETURN QUERY EXECUTE segments._preview_sql(rule, lim, segments._tenant_text(tenant), after IS NOT NULL)
				USING lim, after;
		END
		$f$
		$ddl$, key_type, key_type);
	EXECUTE format('COMMENT ON FUNCTION segments.preview(segments.rule, integer, anycompatible, %s) IS %L',
		key_type, 'the first lim contacts (in key order, after the contact after) of a tenant or of all that match a rule');
	EXECUTE format('REVOKE ALL ON FUNCTION segments.preview(segments.rule, integer, anycompatible, %s) FROM PUBLIC',
		key_type);
	EXECUTE format('GRANT EXECUTE ON FUNCTION segments.preview(segments.rule, integer, anycompatible, %s) TO segments_reader',
		key_type);
END
$$;

DROP FUNCTION segments.attach_contacts(regclass, name, name);
CREATE FUNCTION segments.attach_contacts(tbl regclass, key name, tenant name DEFAULT NULL,
	time_zone text DEFAULT 'UTC')
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	qname text := segments._attach_begin('contacts', tbl);
	zone text := segments._time_zone(attach_contacts.time_zone);
	k record;
	t record;
	per_tenant boolean := false;
	tenant_type text;
BEGIN
	PERFORM segments._drop_leftover_contact_objects();

	k := segments._column(tbl, attach_contacts.key, 'key');
	IF k.base NOT IN ('pg_catalog.int8'::regtype, 'pg_catalog.int4'::regtype,
			'pg_catalog.uuid'::regtype, 'pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype) THEN
		RAISE EXCEPTION 'key column "%" of table % has type %', attach_contacts.key, qname, k.declared
			USING ERRCODE = 'datatype_mismatch',
			DETAIL = 'A contact key must be of type bigint, integer, uuid, text or varchar.';
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

	PERFORM segments._citus_check('contacts', tbl, tenant);
	-- The key: unique by itself, or else, with a tenant, unique with it
	-- (a table keyed per tenant, whose contact is the pair).
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_index i
			WHERE i.indrelid = tbl AND i.indisunique AND i.indimmediate AND i.indisvalid
				AND i.indnkeyatts = 1 AND i.indkey[0] = k.attnum
				AND i.indpred IS NULL AND i.indexprs IS NULL) THEN
		IF tenant IS NOT NULL THEN
			per_tenant := t.attnum <> k.attnum AND EXISTS (SELECT FROM pg_catalog.pg_index i
				WHERE i.indrelid = tbl AND i.indisunique AND i.indimmediate AND i.indisvalid
					AND i.indnkeyatts = 2 AND i.indkey[0] IN (k.attnum, t.attnum) AND i.indkey[1] IN (k.attnum, t.attnum)
					AND i.indpred IS NULL AND i.indexprs IS NULL);
		END IF;
		IF NOT per_tenant THEN
			RAISE EXCEPTION 'key column "%" of table % is not unique', attach_contacts.key, qname
				USING ERRCODE = 'invalid_column_reference',
				DETAIL = CASE WHEN tenant IS NULL
					THEN 'The key must be the primary key of the table or have a unique constraint or unique index of its own (not partial, not deferrable).'
					ELSE 'The key must be unique by itself, or together with the tenant column: a primary key, unique constraint or unique index of the key or of (tenant, key) (not partial, not deferrable).' END,
				HINT = CASE WHEN tenant IS NULL
					THEN format('Add one with ALTER TABLE %s ADD UNIQUE (%I).', qname, attach_contacts.key)
					ELSE format('Add one with ALTER TABLE %s ADD UNIQUE (%I, %I).', qname, tenant, attach_contacts.key) END;
		END IF;
		-- the tenant is part of every contact's key
		IF t.base NOT IN ('pg_catalog.int8'::regtype, 'pg_catalog.int4'::regtype,
				'pg_catalog.uuid'::regtype, 'pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype) THEN
			RAISE EXCEPTION 'tenant column "%" of table % has type %', tenant, qname, t.declared
				USING ERRCODE = 'datatype_mismatch',
				DETAIL = 'The key is unique only with the tenant, which then must be of type bigint, integer, uuid, text or varchar, as a key.';
		END IF;
		IF NOT t.notnull THEN
			RAISE EXCEPTION 'tenant column "%" of table % allows nulls', tenant, qname
				USING ERRCODE = 'invalid_column_reference',
				DETAIL = 'The key is unique only with the tenant: every contact must have a tenant.',
				HINT = format('Add the constraint with ALTER TABLE %s ALTER COLUMN %I SET NOT NULL.', qname, tenant);
		END IF;
	END IF;
	IF NOT k.notnull THEN
		RAISE EXCEPTION 'key column "%" of table % allows nulls', attach_contacts.key, qname
			USING ERRCODE = 'invalid_column_reference',
			DETAIL = 'Every contact must have a key.',
			HINT = format('Add the constraint with ALTER TABLE %s ALTER COLUMN %I SET NOT NULL.',
				qname, attach_contacts.key);
	END IF;

	INSERT INTO segments.attached (role, table_schema, table_name, contact_column, tenant_column, time_zone,
		key_per_tenant)
	SELECT 'contacts', n.nspname, c.relname, attach_contacts.key, attach_contacts.tenant, zone, per_tenant
	FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE c.oid = tbl;
	PERFORM segments._install_triggers('contacts', tbl);

	-- The objects typed by the contact key.
	IF per_tenant THEN
		tenant_type := t.base_type;
		EXECUTE format('CREATE TYPE segments.contact_key AS (tenant %s, contact %s)', tenant_type, k.base_type);
		COMMENT ON TYPE segments.contact_key IS
			'a contact of a contacts table keyed per tenant: its tenant and its key';
		EXECUTE format($ddl$
			CREATE TABLE segments.membership (
				segment_id bigint NOT NULL,
				tenant %s NOT NULL,
				contact %s NOT NULL,
				since timestamptz NOT NULL DEFAULT now())$ddl$, tenant_type, k.base_type);
	ELSE
		EXECUTE format($ddl$
			CREATE TABLE segments.membership (
				segment_id bigint NOT NULL,
				contact %s NOT NULL,
				since timestamptz NOT NULL DEFAULT now())$ddl$, k.base_type);
	END IF;
	PERFORM segments._index_membership();
	COMMENT ON TABLE segments.membership IS
		'the current members of every segment, maintained by the segments functions';

	EXECUTE format($ddl$
		CREATE TABLE segments.membership_log (
			id bigint GENERATED ALWAYS AS IDENTITY,
			segment_id bigint NOT NULL,
			%s
			contact %s NOT NULL,
			joined boolean NOT NULL,
			at timestamptz NOT NULL DEFAULT now(),
			cause text NOT NULL CHECK (cause IN ('build', 'alter', 'refresh', 'write', 'time', 'drop', 'manual')))$ddl$,
		CASE WHEN per_tenant THEN format('tenant %s NOT NULL,', tenant_type) ELSE '' END, k.base_type);
	PERFORM segments._equip_log();
	PERFORM segments._create_overrides();

	-- A reader sees the members and log rows of the contacts it can see in
	-- the contacts table (docs/design.md, "Security model"): all of them
	-- when row-level security does not limit it there (an initplan, run
	-- once per query), else those its policies let it read.  The
	-- extension's owner, which maintains them, is not subject to these.
	-- The policies name the contacts table only through functions, so
	-- that dropping or changing it is not held back by them.
	ALTER TABLE segments.membership ENABLE ROW LEVEL SECURITY;
	ALTER TABLE segments.membership_log ENABLE ROW LEVEL SECURITY;
	EXECUTE format($ddl$
		CREATE POLICY visible_contacts ON segments.membership FOR SELECT
			USING ((SELECT segments._sees_all_contacts())
				OR segments._contact_visible(%s))$ddl$, segments._member_key('membership'));
	EXECUTE format($ddl$
		CREATE POLICY visible_contacts ON segments.membership_log FOR SELECT
			USING ((SELECT segments._sees_all_contacts())
				OR segments._contact_visible(%s))$ddl$, segments._member_key('membership_log'));
	PERFORM segments._citus_distribute(tbl);
	GRANT SELECT ON segments.membership, segments.membership_log TO segments_reader;
	PERFORM segments._sync_data_owner();

	PERFORM segments._create_members_view();
	PERFORM segments._create_preview(segments._contact_type());
END
$$;
COMMENT ON FUNCTION segments.attach_contacts(regclass, name, name, text) IS
	'attach the contacts table: its key column (bigint, integer, uuid, text or varchar, unique and not null, by itself or with the tenant) and optional tenant column';

-- What attach_contacts made in the schema segments: dropped by
-- detach_contacts, and before DROP EXTENSION segments CASCADE
-- (src/removal.c).
CREATE FUNCTION segments._drop_contact_objects() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._drop_preview();
	DROP VIEW IF EXISTS segments.members;
	DROP TABLE IF EXISTS segments.membership;
	DROP TABLE IF EXISTS segments.membership_log;
	DROP TABLE IF EXISTS segments.log_state;
	DROP TABLE IF EXISTS segments.log_rollup;
	DROP TABLE IF EXISTS segments.override;
	-- on a Citus cluster only
	IF pg_catalog.to_regclass('segments.shard_task') IS NOT NULL THEN
		DROP TABLE segments.shard_task;
	END IF;
	IF pg_catalog.to_regtype('segments.contact_key') IS NOT NULL THEN
		DROP TYPE segments.contact_key;
	END IF;
END
$$;

CREATE OR REPLACE FUNCTION segments.detach_contacts() RETURNS void
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
	PERFORM segments._drop_contact_objects();
	PERFORM segments._drop_triggers('contacts');
	DELETE FROM segments.attached a WHERE a.role = 'contacts';
	PERFORM segments._sync_data_owner();
END
$$;
COMMENT ON FUNCTION segments.detach_contacts() IS
	'detach the contacts table (no segment may exist, events and lists must be detached); drops membership and its log';

CREATE OR REPLACE FUNCTION segments._create(name text, rule segments.rule, tenant text) RETURNS bigint
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
	IF segments._build(new_id, segments._compile(rule, tenant)) > 0 THEN
		PERFORM segments._announce_change(new_id);
	END IF;
	PERFORM segments._swept(new_id);
	PERFORM segments._say_lint(new_id);
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

CREATE OR REPLACE FUNCTION segments._drop(id bigint) RETURNS void
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
	-- every member leaves, logged and announced like any change; on a
	-- Citus cluster, in each shard group (see _apply)
	IF segments._citus_method('segments.membership') = 'h' THEN
		n := segments._run_shard_task('drop', s.id, 'drop');
	ELSIF segments._key_per_tenant() THEN
		PERFORM segments._log_writing();
		WITH gone AS (DELETE FROM segments.membership m WHERE m.segment_id = s.id RETURNING m.tenant, m.contact)
		INSERT INTO segments.membership_log (segment_id, tenant, contact, joined, cause)
		SELECT s.id, g.tenant, g.contact, false, 'drop' FROM gone g;
		GET DIAGNOSTICS n = ROW_COUNT;
	ELSE
		PERFORM segments._log_writing();
		WITH gone AS (DELETE FROM segments.membership m WHERE m.segment_id = s.id RETURNING m.contact)
		INSERT INTO segments.membership_log (segment_id, contact, joined, cause)
		SELECT s.id, g.contact, false, 'drop' FROM gone g;
		GET DIAGNOSTICS n = ROW_COUNT;
	END IF;
	IF n > 0 THEN
		PERFORM segments._announce_change(s.id);
	END IF;
	DELETE FROM segments.segment_reference r WHERE r.segment_id = s.id;
	DELETE FROM segments.segment_state t WHERE t.segment_id = s.id;
	IF pg_catalog.to_regclass('segments.override') IS NOT NULL THEN
		DELETE FROM segments.override o WHERE o.segment_id = s.id;
	END IF;
	DELETE FROM segments.segment g WHERE g.id = s.id;
END
$$;

COMMENT ON FUNCTION segments.drop_segment(text) IS
	'drop a segment: every member leaves (logged with cause drop; the log stays); refused while another segment refers to it';

-- Called before a transaction's first row of the log, by every writer of
-- it: what lets segments.changes() return each change once
-- (src/change_feed.c).
CREATE FUNCTION segments._log_writing() RETURNS void
	AS 'MODULE_PATHNAME', 'segments_log_writing' LANGUAGE C VOLATILE;

-- The last id drawn for the log (0 when none), for segments.changes(),
-- whose callers have no privilege on the log's sequence.
CREATE FUNCTION segments._log_last_id() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce(pg_catalog.pg_sequence_last_value(
		pg_catalog.pg_get_serial_sequence('segments.membership_log', 'id')::pg_catalog.regclass), 0)
$$;

-- The greatest id of the log under which every change is final
-- (src/change_feed.c).
CREATE FUNCTION segments._log_watermark() RETURNS bigint
	AS 'MODULE_PATHNAME', 'segments_log_watermark' LANGUAGE C VOLATILE;

-- On a Citus cluster, the watermark of each node's group, read on the node
-- (src/change_feed.c): each draws the ids of the log rows it holds.
CREATE FUNCTION segments._log_watermarks(OUT group_id integer, OUT watermark bigint) RETURNS SETOF record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r record;
BEGIN
	FOR r IN EXECUTE $q$SELECT n.groupid, c.success, c.result
		FROM pg_catalog.run_command_on_all_nodes('SELECT segments._log_watermark()') c
		JOIN pg_catalog.pg_dist_node n ON n.nodeid = c.nodeid
		WHERE n.noderole = 'primary'$q$
	LOOP
		IF NOT r.success THEN
			RAISE EXCEPTION 'could not read the change feed''s watermark of node group %', r.groupid
				USING ERRCODE = 'connection_failure', DETAIL = r.result;
		END IF;
		group_id := r.groupid;
		watermark := r.result::bigint;
		RETURN NEXT;
	END LOOP;
END
$$;

-- A segment's size over time: for each step of the given length from
-- from_ to to_, its members at the step's end and its joins and leaves in
-- the step.  Computed from log_rollup (the log counted by minute, as far
-- as the last tick) and the log's rows since: steps are whole minutes.
-- Runs as the caller: a reader that row-level security limits on the
-- contacts counts only the changes it can see, from the segment's rows of
-- the log (the ranges of the log's BRIN index that hold any).
CREATE FUNCTION segments._size_history(seg_id bigint, from_ timestamptz, to_ timestamptz,
	step interval)
RETURNS TABLE (step_start timestamptz, members bigint, joins bigint, leaves bigint)
LANGUAGE plpgsql VOLATILE
-- the log's rows since the last tick, or a limited reader's, are read
-- through its BRIN index even where statistics made before a build would
-- take the log for small: a scan of it reads at least as much
SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off AS $$
DECLARE
	done bigint := (SELECT s.rolled_to FROM segments.log_state s);
	sees_all boolean := (SELECT segments._sees_all_contacts());
BEGIN
	IF from_ IS NULL OR to_ IS NULL OR step IS NULL THEN
		RAISE EXCEPTION 'from_, to_ and step must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF step < interval '1 minute' OR date_trunc('minute', from_) <> from_
			OR extract(epoch FROM step)::numeric % 60 <> 0 THEN
		RAISE EXCEPTION 'the history is counted by the minute: from_ must be a whole minute and step whole minutes'
			USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Use date_trunc(''minute'', ...) for from_, and a step such as ''1 hour'' or ''1 day''.';
	END IF;
	IF to_ < from_ THEN
		RAISE EXCEPTION 'to_ must not be before from_' USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the ranges not summarized yet would be read whatever they hold
	IF NOT pg_catalog.pg_is_in_recovery() THEN
		PERFORM segments._summarize_log();
	END IF;
	RETURN QUERY
	WITH changes AS (
		-- a reader the contacts' policies limit counts what it can see of the log
		SELECT r.minute, r.joins, r.leaves FROM segments.log_rollup r
		WHERE r.segment_id = seg_id AND sees_all
		UNION ALL
		SELECT pg_catalog.date_trunc('minute', l.at), count(*) FILTER (WHERE l.joined),
			count(*) FILTER (WHERE NOT l.joined)
		FROM segments.membership_log l
		WHERE l.id > CASE WHEN sees_all THEN done ELSE 0 END AND l.segment_id = seg_id
		GROUP BY 1),
	steps AS (
		SELECT t, n - 1 AS k FROM pg_catalog.generate_series(from_, to_, step) WITH ORDINALITY AS g(t, n)),
	per_step AS (
		SELECT floor(extract(epoch FROM c.minute - from_) / extract(epoch FROM step))::bigint AS k,
			sum(c.joins) AS joins, sum(c.leaves) AS leaves
		FROM changes c WHERE c.minute >= from_
		GROUP BY 1),
	before AS (SELECT coalesce(sum(c.joins - c.leaves), 0) AS n FROM changes c WHERE c.minute < from_)
	SELECT s.t,
		((SELECT b.n FROM before b)
			+ sum(coalesce(p.joins, 0) - coalesce(p.leaves, 0)) OVER (ORDER BY s.k))::bigint,
		coalesce(p.joins, 0)::bigint, coalesce(p.leaves, 0)::bigint
	FROM steps s LEFT JOIN per_step p ON p.k = s.k
	ORDER BY s.t;
END
$$;

-- A segment named by its id, also one since dropped whose changes the log
-- still has (its history stays readable).
CREATE FUNCTION segments._logged_segment_id(id bigint) RETURNS bigint
LANGUAGE plpgsql STABLE
-- the log through its BRIN index (see _history)
SET search_path = pg_catalog, pg_temp SET enable_seqscan = off AS $$
BEGIN
	IF id IS NULL THEN
		RAISE EXCEPTION 'a segment id must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM segments._contacts();
	IF EXISTS (SELECT FROM segments.segment s WHERE s.id = _logged_segment_id.id)
			OR EXISTS (SELECT FROM segments.membership_log l WHERE l.segment_id = _logged_segment_id.id) THEN
		RETURN id;
	END IF;
	RAISE EXCEPTION 'segment % does not exist', id
		USING ERRCODE = 'undefined_object',
		DETAIL = 'No segment has that id, and the log has no change of one that had it.';
END
$$;

CREATE FUNCTION segments.size_history(segment text, from_ timestamptz, to_ timestamptz,
	step interval DEFAULT '1 day', tenant anycompatible DEFAULT NULL)
RETURNS TABLE (step_start timestamptz, members bigint, joins bigint, leaves bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT * FROM segments._size_history(
		segments._segment_id(segment, segments._tenant_text(tenant), tenant IS NOT NULL), from_, to_, step);
END
$$;
COMMENT ON FUNCTION segments.size_history(text, timestamptz, timestamptz, interval, anycompatible) IS
	'a segment''s members at the end of each step from from_ to to_, and its joins and leaves in each step';

CREATE FUNCTION segments.size_history(id bigint, from_ timestamptz, to_ timestamptz,
	step interval DEFAULT '1 day')
RETURNS TABLE (step_start timestamptz, members bigint, joins bigint, leaves bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT * FROM segments._size_history(segments._logged_segment_id(id), from_, to_, step);
END
$$;
COMMENT ON FUNCTION segments.size_history(bigint, timestamptz, timestamptz, interval) IS
	'a segment''s members at the end of each step from from_ to to_, and its joins and leaves in each step';

-- One segment's joins and leaves stamped from from_ up to (not including)
-- to_, in the log's order.  The segment's rows are found through the
-- bloom filters of the log's BRIN index: the ranges of the log without
-- any are not read.  Runs as the caller (the log's row-level security
-- applies).
CREATE FUNCTION segments._history(seg_id bigint, from_ timestamptz, to_ timestamptz)
RETURNS TABLE (id bigint, contact text, joined boolean, at timestamptz, cause text)
LANGUAGE plpgsql VOLATILE
-- the estimates of the index's ranges are the whole table's, and stale
-- right after a build: no workers nor JIT for what reads a few ranges,
-- and never a scan of the whole log, which reads at least as much
SET search_path = pg_catalog, pg_temp SET max_parallel_workers_per_gather = 0 SET jit = off
SET enable_seqscan = off AS $$
BEGIN
	IF from_ IS NULL OR to_ IS NULL THEN
		RAISE EXCEPTION 'from_ and to_ must not be null' USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Use ''-infinity'' or ''infinity'' for no bound.';
	END IF;
	-- the ranges not summarized yet would be read whatever they hold
	IF NOT pg_catalog.pg_is_in_recovery() THEN
		PERFORM segments._summarize_log();
	END IF;
	-- a contact keyed per tenant as its composite's text, (tenant,contact)
	RETURN QUERY EXECUTE format($q$
		SELECT l.id, %s::text, l.joined, l.at, l.cause
		FROM segments.membership_log l
		WHERE l.segment_id = $1 AND l.at >= $2 AND l.at < $3
		ORDER BY l.id$q$, segments._member_key('l'))
	USING seg_id, from_, to_;
END
$$;

CREATE FUNCTION segments.history(segment text, from_ timestamptz DEFAULT '-infinity',
	to_ timestamptz DEFAULT 'infinity', tenant anycompatible DEFAULT NULL)
RETURNS TABLE (id bigint, contact text, joined boolean, at timestamptz, cause text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT * FROM segments._history(
		segments._segment_id(segment, segments._tenant_text(tenant), tenant IS NOT NULL), from_, to_);
END
$$;
COMMENT ON FUNCTION segments.history(text, timestamptz, timestamptz, anycompatible) IS
	'a segment''s joins and leaves logged from from_ up to to_, in order';

CREATE FUNCTION segments.history(segment_id bigint, from_ timestamptz DEFAULT '-infinity',
	to_ timestamptz DEFAULT 'infinity')
RETURNS TABLE (id bigint, contact text, joined boolean, at timestamptz, cause text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN QUERY SELECT * FROM segments._history(segments._logged_segment_id(segment_id), from_, to_);
END
$$;
COMMENT ON FUNCTION segments.history(bigint, timestamptz, timestamptz) IS
	'a segment''s joins and leaves logged from from_ up to to_, in order (also of a dropped segment)';

-- The change feed: the log's changes after the cursor after (from the
-- start when NULL), at most max_rows, in the order of their ids, each
-- once: only changes no change still to commit can come before
-- (src/change_feed.c; docs/design.md, "The change feed").  Runs as the
-- caller: a reader sees the changes of the contacts it can see.
CREATE FUNCTION segments.changes(after text DEFAULT NULL, max_rows integer DEFAULT 1000)
RETURNS TABLE (cursor text, segment_id bigint, contact text, joined boolean, at timestamptz, cause text)
	AS 'MODULE_PATHNAME', 'segments_changes' LANGUAGE C VOLATILE ROWS 1000;
COMMENT ON FUNCTION segments.changes(text, integer) IS
	'the membership changes after a cursor, each once, in order: process them, then call again with the last cursor';

-- Deletes the log's rows older than before that segments.stats has
-- taken into account; a consumer whose cursor is older is told so by
-- segments.changes().  Returns the rows deleted.
CREATE FUNCTION segments.prune_log(before timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	n bigint;
	last_id bigint;
BEGIN
	IF before IS NULL THEN
		RAISE EXCEPTION 'before must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM segments._contacts();
	IF segments._citus_method('segments.membership_log') = 'h' THEN
		-- the counts of size_history() are kept for the coordinator's ids only
		RAISE EXCEPTION 'segments.prune_log() does not run on a Citus cluster yet'
			USING ERRCODE = 'feature_not_supported',
			DETAIL = 'The log''s rows of each node are counted by minute only as size_history() reads them; pruning them would lose those counts.',
			HINT = 'Delete old rows of segments.membership_log yourself once no consumer of segments.changes() and no history you need reads them.';
	END IF;
	-- what stats has not folded yet stays
	PERFORM segments._fold_log();
	WITH gone AS (
		DELETE FROM segments.membership_log l
		USING segments.tick_state t
		WHERE l.at < before AND l.id <= t.logged_to AND l.at < coalesce(t.log_horizon, '-infinity')
			AND l.id <= (SELECT s.rolled_to FROM segments.log_state s)
		RETURNING l.id)
	SELECT count(*), max(g.id) INTO n, last_id FROM gone g;
	IF n > 0 THEN
		UPDATE segments.log_state SET pruned_to = greatest(pruned_to, last_id);
	END IF;
	RETURN n;
END
$$;
COMMENT ON FUNCTION segments.prune_log(timestamptz) IS
	'delete the log''s changes older than before (once every consumer has read them); returns how many';

-- Bring segments ids (and their dependents) up to date for contacts (an
-- array of the key's type, or NULL for all), logging cause.  Returns the joins and leaves.
CREATE OR REPLACE FUNCTION segments._maintain(ids bigint[], contacts anyarray, cause text) RETURNS bigint
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
			segments._segment_sql(s, few => coalesce(cardinality(contacts) <= 1000, false)),
			cause, contacts);
		total := total + n;
	END LOOP;
	RETURN total;
END
$$;

-- BRIN scans read the pages of every range not yet summarized: those
-- written since the last tick are summarized here, once, so that the log's
-- ranges of id and at read little more than its tail (autovacuum does it
-- too, a minute or so after a range fills: autosummarize), and by
-- segments.changes() before it reads (a build's ranges would otherwise be
-- read whole by every batch until then): as the log's owner, so that a
-- reader can.  The last range, unless full, is left unsummarized: every
-- row added to a summarized range rewrites its summary (see
-- attach_contacts), and reading its 128 pages whole costs little.  While
-- autovacuum or another summary holds the table, it does not wait.
CREATE OR REPLACE FUNCTION segments._summarize_log() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET lock_timeout = '20ms' AS $$
DECLARE
	pages bigint;
BEGIN
	PERFORM pg_catalog.brin_summarize_new_values('segments.membership_log_brin'::pg_catalog.regclass);
	pages := pg_catalog.pg_relation_size('segments.membership_log'::pg_catalog.regclass)
		/ pg_catalog.current_setting('block_size')::bigint;
	IF pages % 128 <> 0 THEN
		PERFORM pg_catalog.brin_desummarize_range('segments.membership_log_brin'::pg_catalog.regclass,
			pages / 128 * 128);
	END IF;
EXCEPTION WHEN lock_not_available THEN
	NULL;
END
$$;

-- A truncated log's index is built anew, its first range summarized
-- empty: unsummarized again, so that the rows that fill it do not rewrite
-- its summary one by one (see attach_contacts).  As the index's owner,
-- whoever was granted TRUNCATE.
CREATE FUNCTION segments._log_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- the log, or on a Citus cluster a shard of it (named for its shard)
	IF NOT (TG_RELID = 'segments.membership_log'::pg_catalog.regclass
			OR (TG_TABLE_SCHEMA = 'segments' AND TG_TABLE_NAME ~ '^membership_log_[0-9]+$'
				AND segments._citus_method('segments.membership_log') = 'h'))
			OR TG_LEVEL <> 'STATEMENT' OR TG_OP <> 'TRUNCATE' OR TG_WHEN <> 'AFTER' THEN
		RAISE EXCEPTION 'segments._log_truncated() fires after a TRUNCATE of segments.membership_log only'
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	PERFORM pg_catalog.brin_desummarize_range(i.indexrelid, 0)
	FROM pg_catalog.pg_index i
	JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
	JOIN pg_catalog.pg_am a ON a.oid = c.relam
	WHERE i.indrelid = TG_RELID AND a.amname = 'brin';
	RETURN NULL;
END
$$;

-- Fold the recent log into segment_state.last_change (segments.tick() does
-- it at the end of each tick).  A log row is stamped with the start of its
-- transaction, so the rows of transactions still running now are stamped
-- at or after the start of the oldest of them (client backends and
-- background workers of this database): the next fold reads those again.
-- The starts of prepared transactions are not known: while there are any,
-- the next fold reads the whole log.
-- Counts the log's changes by segment and minute into log_rollup, each
-- once: those up to the change feed's watermark not counted yet
-- (src/change_feed.c).  segments.tick() does it (with _fold_log).
CREATE FUNCTION segments._rollup_log() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	done bigint;
	upto bigint;
BEGIN
	IF pg_catalog.to_regclass('segments.log_rollup') IS NULL THEN
		RETURN;
	END IF;
	SELECT s.rolled_to INTO done FROM segments.log_state s FOR UPDATE;
	-- the reads of the log's tail by id (here, size_history, stats) are
	-- BRIN range scans only with statistics that know its size: a log
	-- that has more than doubled since it was last analyzed is analyzed
	IF pg_catalog.pg_relation_size('segments.membership_log') / 8192 >
			2 * (SELECT c.relpages FROM pg_catalog.pg_class c
				WHERE c.oid = 'segments.membership_log'::pg_catalog.regclass) + 128 THEN
		ANALYZE segments.membership_log;
	END IF;
	upto := segments._log_watermark();
	IF upto <= done THEN
		RETURN;
	END IF;
	INSERT INTO segments.log_rollup AS r (segment_id, minute, joins, leaves)
	SELECT l.segment_id, pg_catalog.date_trunc('minute', l.at),
		count(*) FILTER (WHERE l.joined), count(*) FILTER (WHERE NOT l.joined)
	FROM segments.membership_log l
	WHERE l.id > done AND l.id <= upto
	GROUP BY 1, 2
	ON CONFLICT (segment_id, minute) DO UPDATE
	SET joins = r.joins + excluded.joins, leaves = r.leaves + excluded.leaves;
	UPDATE segments.log_state SET rolled_to = upto;
END
$$;

CREATE OR REPLACE FUNCTION segments._fold_log() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	horizon timestamptz;
	ids bigint[];
	times timestamptz[];
	last_id bigint;
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
	PERFORM segments._rollup_log();
	-- read first, then written: on a Citus cluster the catalog is written
	-- on every node, where the distributed log cannot be read
	SELECT array_agg(r.segment_id), array_agg(r.last_change), max(r.last_id)
	INTO ids, times, last_id
	FROM segments._recent_changes() r;
	UPDATE segments.segment_state s SET last_change = r.last_change
	FROM ROWS FROM (pg_catalog.unnest(ids), pg_catalog.unnest(times)) AS r(segment_id, last_change)
	WHERE r.segment_id = s.segment_id AND (s.last_change IS NULL OR s.last_change < r.last_change);
	UPDATE segments.tick_state
	SET logged_to = greatest(logged_to, coalesce(last_id, 0)),
		log_horizon = horizon;
END
$$;

--
-- Backup and restore (docs/design.md, "Releases, backup and restore").
--

-- The rows of segment_reference and segment_state name their segment
-- without a foreign key: pg_restore -j loads the rows of an extension's
-- tables in parallel, in any order (the archive does not record that one
-- table's rows must come before another's), and a foreign key check then
-- fails.  drop_segment deletes them with their segment.
ALTER TABLE segments.segment_reference DROP CONSTRAINT segment_reference_segment_id_fkey;
ALTER TABLE segments.segment_state DROP CONSTRAINT segment_state_segment_id_fkey;

-- Whether this session restores a dump (src/restore.c): its writes to the
-- attached tables are not maintained, its drops of them not refused.
CREATE FUNCTION segments._restoring_dump() RETURNS boolean
	AS 'MODULE_PATHNAME', 'segments_restoring_dump' LANGUAGE C STABLE;

-- sql_drop: a dropped column that something uses is refused; a dropped
-- attached table is detached (or refused); a dropped partition of an
-- attached table re-evaluates the segments that use the table.  A session
-- restoring a dump (src/restore.c) is let be: pg_restore --clean drops the
-- attached tables before it drops the extension, whose catalog it then
-- restores with the tables.
CREATE OR REPLACE FUNCTION segments._on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	d record;
	dropped text[];
	dropped_sources text[];
	before segments._ddl_before;
	p record;
	ids bigint[];
BEGIN
	-- on a Citus worker, the DDL Citus replays there: the coordinator follows it
	IF segments._citus_worker() THEN
		RETURN;
	END IF;
	IF segments._restoring_dump() OR NOT EXISTS (SELECT FROM segments.attached)
		OR NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() o
			WHERE o.object_type IN ('table', 'table column')) THEN
		RETURN;
	END IF;

	FOR d IN
		SELECT a.role, a.source, format('%I.%I', a.table_schema, a.table_name) AS qname,
			o.address_names[3] AS col
		FROM pg_catalog.pg_event_trigger_dropped_objects() o
		JOIN segments.attached a ON o.address_names[1] = a.table_schema AND o.address_names[2] = a.table_name
		WHERE o.object_type = 'table column'
		ORDER BY a.role, a.source, o.objsubid
	LOOP
		PERFORM segments._refuse_column_change(d.role, d.qname, d.col, 'drop', d.source);
	END LOOP;

	SELECT array_agg(a.role), array_agg(a.source) FILTER (WHERE a.source IS NOT NULL)
	INTO dropped, dropped_sources
	FROM segments.attached a
	WHERE EXISTS (SELECT FROM pg_catalog.pg_event_trigger_dropped_objects() o
		WHERE o.object_type = 'table' AND o.schema_name = a.table_schema AND o.object_name = a.table_name);
	IF dropped IS NOT NULL THEN
		PERFORM segments._drop_attached(dropped, coalesce(dropped_sources, '{}'));
	END IF;

	-- partitions: their rows are gone, and which contacts they held is not
	-- known any more
	before := segments._ddl_top(TG_TAG);
	IF before.xact IS NULL THEN
		RETURN;
	END IF;
	FOR p IN
		SELECT DISTINCT t.role, t.source
		FROM jsonb_to_recordset(before.tables) AS t(role text, relid oid, root boolean, source text)
		JOIN pg_catalog.pg_event_trigger_dropped_objects() o ON o.object_type = 'table' AND o.objid = t.relid
		WHERE NOT t.root AND NOT (t.role = ANY (coalesce(dropped, '{}'))
			AND (t.role <> 'events' OR t.source = ANY (coalesce(dropped_sources, '{}'))))
		ORDER BY 1, 2
	LOOP
		ids := segments._role_segments(p.role, p.source);
		IF ids IS NOT NULL THEN
			PERFORM segments._writers_lock(false);
			PERFORM segments._maintain(ids, NULL::text[], 'write');
		END IF;
	END LOOP;
END
$$;

-- The last tick and the catalog's version are dumped too.  CREATE
-- EXTENSION makes their one row, into which a restore's row is merged.
CREATE UNIQUE INDEX catalog_version_one_row ON segments.catalog_version ((true));
CREATE FUNCTION segments._merge_one_row() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	-- a Citus copy of catalog_version (its name ends with the shard's id),
	-- whose rows Citus writes as the coordinator's table has them
	IF TG_LEVEL = 'ROW' AND TG_OP = 'INSERT' AND TG_WHEN = 'BEFORE' AND TG_TABLE_SCHEMA = 'segments'
			AND TG_TABLE_NAME ~ '^catalog_version_[0-9]+$' AND segments._citus_method('segments.catalog_version') = 'n' THEN
		RETURN NEW;
	END IF;
	IF TG_LEVEL <> 'ROW' OR TG_OP <> 'INSERT' OR TG_WHEN <> 'BEFORE' OR TG_TABLE_SCHEMA <> 'segments'
			OR TG_TABLE_NAME NOT IN ('tick_state', 'catalog_version') THEN
		RAISE EXCEPTION 'segments._merge_one_row() fires before an insert into segments.tick_state or segments.catalog_version only'
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	IF TG_TABLE_NAME = 'tick_state' THEN
		UPDATE segments.tick_state t
		SET (swept_to, ticked_at, changes, contacts, logged_to, log_horizon) =
			(NEW.swept_to, NEW.ticked_at, NEW.changes, NEW.contacts, NEW.logged_to, NEW.log_horizon);
	ELSE
		UPDATE segments.catalog_version SET version = NEW.version;
	END IF;
	IF FOUND THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER merge_restored_row BEFORE INSERT ON segments.tick_state
	FOR EACH ROW EXECUTE FUNCTION segments._merge_one_row();
CREATE TRIGGER merge_restored_row BEFORE INSERT ON segments.catalog_version
	FOR EACH ROW EXECUTE FUNCTION segments._merge_one_row();
SELECT pg_catalog.pg_extension_config_dump('segments.tick_state', '');
SELECT pg_catalog.pg_extension_config_dump('segments.catalog_version', '');

-- What a restore of the schema alone leaves of an attachment (the
-- membership, its log and the tables beside it, without the rows of
-- segments.attached): made anew by attach_contacts when they are empty.
CREATE FUNCTION segments._drop_leftover_contact_objects() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t regclass;
	holds_rows boolean;
	left_over boolean := false;
BEGIN
	FOR t IN
		SELECT c.oid FROM pg_catalog.pg_class c
		WHERE c.relnamespace = 'segments'::pg_catalog.regnamespace
			AND c.relname IN ('membership', 'membership_log', 'log_state', 'log_rollup')
		ORDER BY c.relname
	LOOP
		EXECUTE format('SELECT EXISTS (SELECT FROM %s)', t) INTO holds_rows;
		IF holds_rows THEN
			RAISE EXCEPTION 'table % already exists and holds rows', t
				USING ERRCODE = 'duplicate_table',
				DETAIL = 'Contacts are not attached: a restore of the schema alone, or of part of a dump, left it.',
				HINT = format('Restore the rest of the dump (pg_restore --data-only), or drop the table (DROP TABLE %s) and attach again.', t);
		END IF;
		left_over := true;
	END LOOP;
	IF left_over THEN
		PERFORM segments._drop_contact_objects();
	END IF;
END
$$;

-- DROP EXTENSION segments CASCADE drops what attach_contacts made first
-- (src/removal.c): the membership, its log and what goes with them.  The
-- triggers on the attached tables go with the functions they call.
CREATE FUNCTION segments._on_drop_extension() RETURNS event_trigger
	AS 'MODULE_PATHNAME', 'segments_on_drop_extension' LANGUAGE C;

CREATE EVENT TRIGGER segments_drop_extension ON ddl_command_start
	WHEN TAG IN ('DROP EXTENSION')
	EXECUTE FUNCTION segments._on_drop_extension();

--
-- Every segment at once, for the DBA and for monitoring: writes that fired
-- no statement trigger (session_replication_role = replica, DISABLE
-- TRIGGER, a partial restore) leave membership behind, and these find and
-- repair it.
--

CREATE FUNCTION segments.verify_all()
RETURNS TABLE (segment_id bigint, name text, tenant text, missing bigint, extra bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
BEGIN
	FOR s IN SELECT * FROM segments.segment g ORDER BY g.id LOOP
		segment_id := s.id;
		name := s.name;
		tenant := s.tenant;
		SELECT v.missing, v.extra INTO missing, extra FROM segments._verify(s.id) v;
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION segments.verify_all() IS
	'every segment''s members its rule selects but the membership lacks (missing) and has but the rule does not select (extra)';

-- Each segment rebuilt once, those another refers to first.
CREATE FUNCTION segments.refresh_all()
RETURNS TABLE (segment_id bigint, name text, tenant text, changes bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
BEGIN
	FOR s IN
		SELECT g.* FROM segments._maintenance_order(ARRAY(SELECT x.id FROM segments.segment x)) WITH ORDINALITY o(id, n)
		JOIN segments.segment g ON g.id = o.id
		ORDER BY o.n
	LOOP
		s := segments._segment(s.id, true);
		segment_id := s.id;
		name := s.name;
		tenant := s.tenant;
		changes := segments._apply(s.id, segments._segment_sql(s), 'refresh');
		RETURN NEXT;
	END LOOP;
END
$$;
COMMENT ON FUNCTION segments.refresh_all() IS
	'rebuild every segment''s membership from its rule (those others refer to first); the joins and leaves of each, logged with cause refresh';

GRANT EXECUTE ON FUNCTION segments.verify_all(), segments.refresh_all() TO segments_editor;

-- == Replicated writes ==
--
-- Writes made under session_replication_role = replica fire only the
-- triggers enabled for replicas (or always): a logical replication
-- subscriber's apply worker writes so, and fires row-level triggers only
-- (its TRUNCATE fires the statement-level ones).  So each attached table
-- also carries a row-level trigger enabled for replicas, which queues the
-- contacts of such writes for the commit (src/maintain.c), and its
-- TRUNCATE trigger is enabled always.  ALTER TABLE ... ENABLE TRIGGER ALL
-- (pg_restore --disable-triggers ends with it) would enable both for the
-- origin only: the end of every ALTER TABLE puts back how they fire.

CREATE FUNCTION segments._on_replicated_write() RETURNS trigger
	AS 'MODULE_PATHNAME', 'segments_on_replicated_write' LANGUAGE C SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp;

-- How each trigger of the write path fires ('O': for the origin and local
-- writes, 'R': for replicas, 'A': always), by the trigger's function.
CREATE FUNCTION segments._trigger_firing(fn regprocedure) RETURNS "char"
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE fn
		WHEN 'segments._on_replicated_write()'::pg_catalog.regprocedure THEN 'R'
		WHEN 'segments._on_truncate()'::pg_catalog.regprocedure THEN 'A'
		ELSE 'O' END::"char"
$$;

-- Sets the write path's triggers on rel that are enabled, but not as they
-- should fire, to fire so; a disabled one stays disabled.  An ALTER TABLE
-- per trigger (Citus takes no more in one), whose own end sets the others.
CREATE FUNCTION segments._set_trigger_firing(rel oid) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	setting text;
BEGIN
	LOOP
		SELECT format('ENABLE %s TRIGGER %I',
				CASE segments._trigger_firing(g.tgfoid) WHEN 'R' THEN 'REPLICA' ELSE 'ALWAYS' END, g.tgname)
		INTO setting
		FROM pg_catalog.pg_trigger g
		WHERE g.tgrelid = rel
			AND g.tgfoid IN ('segments._on_replicated_write()'::pg_catalog.regprocedure,
				'segments._on_truncate()'::pg_catalog.regprocedure)
			AND g.tgenabled <> 'D'
			AND g.tgenabled <> segments._trigger_firing(g.tgfoid)
		ORDER BY g.tgname
		LIMIT 1;
		EXIT WHEN setting IS NULL;
		-- ONLY: a partition's clone is set on the partition itself
		EXECUTE format('ALTER TABLE ONLY %s %s', rel::pg_catalog.regclass, setting);
	END LOOP;
END
$$;

-- The triggers of a role on one table, those it does not have yet, firing
-- as they should.
CREATE OR REPLACE FUNCTION segments._install_triggers_on(role text, rel oid) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
	citus boolean := segments._citus_method(rel) IS NOT NULL;
BEGIN
	IF citus THEN
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	END IF;
	FOR t IN
		SELECT x.name, x.event, x.transitions, x.fn, x.level
		FROM (VALUES
			('segments_after_insert', 'INSERT', 'REFERENCING NEW TABLE AS new_rows', 'segments._on_write', 'STATEMENT'),
			('segments_after_update', 'UPDATE', 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows', 'segments._on_write', 'STATEMENT'),
			('segments_after_delete', 'DELETE', 'REFERENCING OLD TABLE AS old_rows', 'segments._on_write', 'STATEMENT'),
			('segments_after_truncate', 'TRUNCATE', '', 'segments._on_truncate', 'STATEMENT'),
			-- a partition gets it from its partitioned table (a clone of the same name)
			('segments_replicated_write', 'INSERT OR UPDATE OR DELETE', '', 'segments._on_replicated_write', 'ROW'))
			AS x(name, event, transitions, fn, level)
		WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_trigger g
			WHERE g.tgrelid = rel AND g.tgname = x.name
				AND g.tgfoid = (x.fn || '()')::pg_catalog.regprocedure)
			-- Citus moves shards by logical replication: the rows it
			-- replicates come with their membership
			AND NOT (citus AND x.name = 'segments_replicated_write')
	LOOP
		EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH %s EXECUTE FUNCTION %s(%L)',
			t.name, t.event, rel::regclass, t.transitions, t.level, t.fn, role);
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
	PERFORM segments._set_trigger_firing(rel);
END
$$;

-- Removes the segments triggers from one table.
CREATE OR REPLACE FUNCTION segments._drop_triggers_on(rel oid) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t name;
BEGIN
	IF segments._citus_method(rel) IS NOT NULL THEN
		PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
	END IF;
	FOR t IN
		SELECT g.tgname FROM pg_catalog.pg_trigger g
		WHERE g.tgrelid = rel
			AND g.tgfoid IN ('segments._on_write()'::pg_catalog.regprocedure,
				'segments._on_truncate()'::pg_catalog.regprocedure,
				'segments._on_replicated_write()'::pg_catalog.regprocedure,
				'segments._at_commit()'::pg_catalog.regprocedure)
			-- a clone goes with the trigger it was cloned from
			AND g.tgparentid = 0
		ORDER BY g.tgname
	LOOP
		EXECUTE format('DROP TRIGGER %I ON %s', t, rel::regclass);
	END LOOP;
END
$$;

-- The end of a DDL command: as in 0.1, and the triggers of the attached
-- tables fire as they should again after an ALTER TABLE (ENABLE TRIGGER
-- ALL enables every trigger for the origin only).
CREATE OR REPLACE FUNCTION segments._on_ddl_end() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	before segments._ddl_before;
	rel oid;
BEGIN
	before := segments._ddl_pop(TG_TAG);
	-- a dump restored has the triggers and attachments as they were: with
	-- pg_restore -j, another session may be restoring a partition's
	-- triggers while this one restores its parent's
	-- on a Citus worker, the DDL Citus replays there: the coordinator follows it
	IF segments._citus_worker() THEN
		RETURN;
	END IF;
	IF segments._restoring_dump() OR NOT EXISTS (SELECT FROM segments.attached) THEN
		RETURN;
	END IF;
	IF before.xact IS NOT NULL THEN
		PERFORM segments._follow_changes(before);
		IF before.labels <> '{}' THEN
			PERFORM segments._follow_label_renames(before.labels);
		END IF;
	END IF;
	IF TG_TAG NOT LIKE 'DROP %' THEN
		PERFORM segments._sync_partitions();
	END IF;
	IF TG_TAG = 'ALTER TABLE' THEN
		-- ALTER TABLE ... OWNER TO: maintenance evaluates as the new owner
		PERFORM segments._sync_data_owner();
		-- of the tables the command altered (and those under them)
		FOR rel IN
			SELECT DISTINCT x.relid FROM pg_catalog.pg_event_trigger_ddl_commands() c
			CROSS JOIN LATERAL segments._tree(c.objid) x
			WHERE c.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
				AND x.relid IN (SELECT t.relid FROM segments._attached_tables() t)
			ORDER BY 1
		LOOP
			PERFORM segments._set_trigger_firing(rel);
		END LOOP;
	END IF;
END
$$;

-- The catalog is kept consistent by triggers enabled for the origin (its
-- foreign keys, the attachments' change trigger): under
-- session_replication_role = replica they would not fire, so segments are
-- not changed there.  Otherwise as in 0.1.
CREATE OR REPLACE FUNCTION segments._lock() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF pg_catalog.current_setting('session_replication_role') = 'replica' THEN
		RAISE EXCEPTION 'segments cannot be changed under session_replication_role = replica'
			USING ERRCODE = 'object_not_in_prerequisite_state',
			DETAIL = 'The triggers that keep the segment catalog consistent do not fire in this mode.',
			HINT = 'Run RESET session_replication_role first.';
	END IF;
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

-- Event triggers, like the others, fire for the origin only unless
-- enabled always: DDL under session_replication_role = replica is
-- followed (or refused) as any other.
ALTER EVENT TRIGGER segments_ddl_start ENABLE ALWAYS;
ALTER EVENT TRIGGER segments_ddl_end ENABLE ALWAYS;
ALTER EVENT TRIGGER segments_sql_drop ENABLE ALWAYS;
ALTER EVENT TRIGGER segments_drop_extension ENABLE ALWAYS;


-- What attach_* made under an earlier release, brought up to this one:
-- run by the upgrade, and by the DBA after restoring a dump of an earlier
-- release (the dump holds those objects as that release made them, and
-- until this runs writes and catalog changes refuse to work with them).
-- Objects already current are left as they are.
-- The membership's indexes (docs/design.md, "The membership's layout"):
-- the primary key leads with the contact's key, (tenant,) contact, then
-- segment_id, so that a write reads and changes one contact's memberships
-- in one place of one index; (segment_id, since), with the contact's key
-- included for index-only reads, finds a segment's members, and what
-- tick() reads to find who crossed "in segment ... for at least /
-- less than N unit" (src/tick.c).  A join adds an entry at the end of its
-- segment's range there, where the entries of recent joins are, rather
-- than at a random place of a key led by the segment.  A membership made
-- by 0.1 (primary key (segment_id, contact), index (contact, segment_id))
-- is brought to this layout.
CREATE FUNCTION segments._index_membership() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	members regclass := pg_catalog.to_regclass('segments.membership');
	key_columns text;
	primary_key name;
	by_segment text;
BEGIN
	IF members IS NULL THEN
		RETURN;
	END IF;
	key_columns := segments._member_columns() || ', segment_id';
	SELECT c.conname INTO primary_key FROM pg_catalog.pg_constraint c
	WHERE c.conrelid = members AND c.contype = 'p';
	IF primary_key IS NULL OR (SELECT pg_catalog.pg_get_constraintdef(c.oid) FROM pg_catalog.pg_constraint c
			WHERE c.conrelid = members AND c.conname = primary_key) <> format('PRIMARY KEY (%s)', key_columns) THEN
		IF primary_key IS NOT NULL THEN
			EXECUTE format('ALTER TABLE segments.membership DROP CONSTRAINT %I', primary_key);
		END IF;
		EXECUTE format('ALTER TABLE segments.membership ADD CONSTRAINT membership_pkey PRIMARY KEY (%s)',
			key_columns);
	END IF;
	IF pg_catalog.to_regclass('segments.membership_contact_idx') IS NOT NULL THEN
		DROP INDEX segments.membership_contact_idx;
	END IF;
	by_segment := format('CREATE INDEX membership_since_idx ON segments.membership USING btree (segment_id, since) INCLUDE (%s)',
		segments._member_columns());
	IF pg_catalog.pg_get_indexdef(pg_catalog.to_regclass('segments.membership_since_idx')) <> by_segment THEN
		DROP INDEX segments.membership_since_idx;
	END IF;
	IF pg_catalog.to_regclass('segments.membership_since_idx') IS NULL THEN
		EXECUTE by_segment;
	END IF;
END
$$;
REVOKE ALL ON FUNCTION segments._index_membership() FROM PUBLIC;

CREATE FUNCTION segments.upgrade_attachments() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	key_type text;
	t record;
BEGIN
	-- 0.1's events: the source named after the table
	UPDATE segments.attached a SET source = a.table_name WHERE a.role = 'events' AND a.source IS NULL;
	IF pg_catalog.to_regclass('segments.membership_log') IS NULL THEN
		RETURN;
	END IF;
	-- 0.1's: the log, previews and members view as attach_contacts now
	-- makes them
	IF pg_catalog.to_regclass('segments.log_state') IS NULL THEN
		key_type := (segments._contacts()).key_type;
		ALTER TABLE segments.membership_log DROP CONSTRAINT membership_log_cause_check,
			ADD CONSTRAINT membership_log_cause_check
			CHECK (cause IN ('build', 'alter', 'refresh', 'write', 'time', 'drop'));
		DROP INDEX IF EXISTS segments.membership_log_id_at_idx;
		PERFORM segments._equip_log();
		PERFORM segments._drop_preview();
		PERFORM segments._create_members_view();
		PERFORM segments._create_preview(key_type);
		-- what an extension's script creates joins the extension; these
		-- belong to the attachment, as attach_contacts makes them (detach
		-- drops them)
		FOR t IN
			SELECT pg_catalog.pg_describe_object(d.classid, d.objid, 0) AS what
			FROM pg_catalog.pg_depend d
			WHERE d.deptype = 'e'
				AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'segments')
				AND (d.classid, d.objid) IN (
					('pg_catalog.pg_class'::pg_catalog.regclass, 'segments.log_state'::pg_catalog.regclass),
					('pg_catalog.pg_class'::pg_catalog.regclass, 'segments.log_rollup'::pg_catalog.regclass),
					('pg_catalog.pg_class'::pg_catalog.regclass, 'segments.members'::pg_catalog.regclass),
					('pg_catalog.pg_proc'::pg_catalog.regclass, pg_catalog.format(
						'segments.preview(segments.rule, integer, anycompatible, %s)', key_type)::pg_catalog.regprocedure))
			ORDER BY 1
		LOOP
			EXECUTE 'ALTER EXTENSION segments DROP ' || t.what;
		END LOOP;
		-- 0.1's drop_segment deleted the members without logging their
		-- leaves: logged now, so that the log agrees with the membership
		PERFORM segments._log_writing();
		INSERT INTO segments.membership_log (segment_id, contact, joined, cause)
		SELECT l.segment_id, l.contact, false, 'drop'
		FROM (SELECT DISTINCT ON (g.segment_id, g.contact) g.segment_id, g.contact, g.joined
			FROM segments.membership_log g
			WHERE NOT EXISTS (SELECT FROM segments.segment s WHERE s.id = g.segment_id)
			ORDER BY g.segment_id, g.contact, g.id DESC) l
		WHERE l.joined
		ORDER BY l.segment_id, l.contact;
	END IF;
	PERFORM segments._index_membership();
	PERFORM segments._create_overrides();
	-- 0.1's attached tables: the row-level trigger for replicated writes (a
	-- partition's is cloned from its partitioned table, so those come
	-- first) and the TRUNCATE trigger enabled always
	FOR t IN
		SELECT g.role, g.relid FROM segments._triggered() g
		JOIN pg_catalog.pg_class c ON c.oid = g.relid
		ORDER BY c.relispartition, g.relid
	LOOP
		PERFORM segments._install_triggers_on(t.role, t.relid);
	END LOOP;
END
$$;
COMMENT ON FUNCTION segments.upgrade_attachments() IS
	'bring the objects attach_* made under an earlier release of segments up to this one (after restoring a dump of that release)';


-- == Event measures ==
--
-- An event condition may compare an aggregate of an event column (sum,
-- avg, min, max, count(distinct ...)) or test the time of the first or
-- last matching event (src/rule_sql.c, src/rule_eval.c).  A rename of
-- the column an aggregate reads is followed as a where clause's field is.
DROP FUNCTION segments._rename_field(jsonb, text, text, boolean, boolean);
-- A rule (as JSON) with column old of the table attached as role (of the
-- event source source) renamed new: the fields of the contacts (where_role
-- NULL), or of an event's or a list's where clause (where_role events or
-- lists), and an aggregate's column.  An event naming no source reads the
-- only one.
CREATE FUNCTION segments._rename_field(node jsonb, old text, new text, role text,
	where_role text DEFAULT NULL, source text DEFAULT NULL)
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
			SELECT jsonb_agg(segments._rename_field(e.value, old, new, role, where_role, source) ORDER BY e.i)
			FROM jsonb_array_elements(node -> k) WITH ORDINALITY AS e(value, i)));
	ELSIF node ? 'not' THEN
		RETURN jsonb_build_object('not', segments._rename_field(node -> 'not', old, new, role, where_role, source));
	ELSIF node ? 'field' THEN
		IF coalesce(where_role, 'contacts') = role AND node #>> '{field,0}' = old THEN
			RETURN jsonb_set(node, '{field,0}', to_jsonb(new));
		END IF;
	ELSIF node ? 'event' AND where_role IS NULL THEN
		IF role = 'events' AND NOT coalesce(node ->> 'source' = source, true) THEN
			RETURN node;
		END IF;
		IF node ? 'where' THEN
			node := jsonb_set(node, '{where}', segments._rename_field(node -> 'where', old, new, role, 'events', source));
		END IF;
		IF role = 'events' AND node #>> '{aggregate,column}' = old THEN
			node := jsonb_set(node, '{aggregate,column}', to_jsonb(new));
		END IF;
	ELSIF node ? 'in_list' AND where_role IS NULL AND node ? 'where' THEN
		node := jsonb_set(node, '{where}', segments._rename_field(node -> 'where', old, new, role, 'lists'));
	END IF;
	RETURN node;
END
$$;

-- == Event kinds of an enum type, event times without a zone ==
--
-- attach_events takes a kind column of an enum type (or a domain over
-- one) too: rules name its labels as strings; a label the type does not
-- have names no event (src/rule_sql.c, src/contact_data.c).  And a time
-- column of type timestamp or date, read in the table's time zone (see
-- Time zones below).
-- The column of an events or lists table holding its contact's tenant,
-- when contacts are keyed per tenant (the contacts' tenant column's name
-- unless given): of the tenant's type, not the contact column.  NULL
-- otherwise, where giving one is an error.
CREATE FUNCTION segments._tenant_column(tbl regclass, qname text, tenant name, contact_attnum smallint)
RETURNS name
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	contacts segments.attached;
	col name;
	c record;
	t record;
BEGIN
	SELECT * INTO contacts FROM segments.attached a WHERE a.role = 'contacts';
	IF NOT contacts.key_per_tenant THEN
		IF tenant IS NOT NULL THEN
			RAISE EXCEPTION 'contacts are keyed by their key alone: table % needs no tenant column', qname
				USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Leave tenant out: the contact column finds the contact.';
		END IF;
		RETURN NULL;
	END IF;
	col := coalesce(tenant, contacts.tenant_column);
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute x
			WHERE x.attrelid = tbl AND x.attname = col AND x.attnum > 0 AND NOT x.attisdropped) THEN
		RAISE EXCEPTION 'table % has no tenant column "%"', qname, col
			USING ERRCODE = 'undefined_column',
			DETAIL = format('Contacts are keyed per tenant, (%I, %I): a row names its contact by both.',
				contacts.tenant_column, contacts.contact_column),
			HINT = 'Name the column holding the contact''s tenant: tenant => ''column''.';
	END IF;
	c := segments._column(tbl, col, 'tenant');
	t := segments._column(pg_catalog.to_regclass(pg_catalog.format('%I.%I', contacts.table_schema, contacts.table_name)),
		contacts.tenant_column, 'tenant');
	IF c.base <> t.base THEN
		RAISE EXCEPTION 'tenant column "%" of table % has type %, but the contacts'' tenant has type %',
			col, qname, c.declared, t.declared
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF c.attnum = contact_attnum THEN
		RAISE EXCEPTION 'column "%" of table % cannot be both the contact and the tenant column', col, qname
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN col;
END
$$;

DROP FUNCTION segments.attach_events(regclass, name, name, name);
CREATE FUNCTION segments.attach_events(tbl regclass, contact name, kind name DEFAULT NULL, at name DEFAULT NULL,
	time_zone text DEFAULT 'UTC', source text DEFAULT NULL, constant_kind text DEFAULT NULL,
	tenant name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	qname text := segments._attach_begin('events', tbl);
	zone text := segments._time_zone(attach_events.time_zone);
	source_name text := coalesce(attach_events.source,
		(SELECT cl.relname FROM pg_catalog.pg_class cl WHERE cl.oid = tbl));
	contact_attnum smallint := segments._contact_column(tbl, qname, attach_events.contact);
	tenant_column name := segments._tenant_column(tbl, qname, attach_events.tenant, contact_attnum);
	kind_attnum smallint;
	k record;
	a record;
	existing segments.attached;
	seg_id bigint;
BEGIN
	IF (attach_events.kind IS NULL) = (attach_events.constant_kind IS NULL) THEN
		RAISE EXCEPTION 'an event source has a kind column or a constant kind, one of them'
			USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Give kind => ''the kind column'', or constant_kind => ''purchased'' for a table whose rows are all events of one kind.';
	END IF;
	IF attach_events.constant_kind = '' THEN
		RAISE EXCEPTION 'an event source''s constant kind must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF attach_events.at IS NULL THEN
		RAISE EXCEPTION 'the at column of an event source must be given'
			USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Give at => ''the time column''.';
	END IF;
	IF source_name = '' THEN
		RAISE EXCEPTION 'an event source''s name must not be empty'
			USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Leave it out to name the source after the table.';
	END IF;
	IF pg_catalog.octet_length(source_name) > 63 THEN
		RAISE EXCEPTION 'an event source''s name is at most 63 bytes long'
			USING ERRCODE = 'name_too_long';
	END IF;
	SELECT * INTO existing FROM segments.attached x WHERE x.role = 'events' AND x.source = source_name;
	IF FOUND THEN
		RAISE EXCEPTION 'event source "%" is already attached', source_name
			USING ERRCODE = 'duplicate_object',
			DETAIL = format('Its table is %I.%I.', existing.table_schema, existing.table_name),
			HINT = 'Give the source another name: source => ''...''.';
	END IF;
	IF attach_events.kind IS NOT NULL THEN
		k := segments._column(tbl, attach_events.kind, 'kind');
		IF k.base NOT IN ('pg_catalog.text'::regtype, 'pg_catalog.varchar'::regtype)
				AND NOT EXISTS (SELECT FROM pg_catalog.pg_type t WHERE t.oid = k.base AND t.typtype = 'e') THEN
			RAISE EXCEPTION 'kind column "%" of table % has type %', attach_events.kind, qname, k.declared
				USING ERRCODE = 'datatype_mismatch',
				DETAIL = 'The event kind must be of type text or varchar, an enum, or a domain over one of them.';
		END IF;
		IF contact_attnum = k.attnum THEN
			RAISE EXCEPTION 'column "%" of table % cannot be both the contact and the kind column',
				attach_events.contact, qname
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		kind_attnum := k.attnum;
	END IF;
	a := segments._column(tbl, attach_events.at, 'at');
	IF a.base NOT IN ('pg_catalog.timestamptz'::regtype, 'pg_catalog.timestamp'::regtype,
			'pg_catalog.date'::regtype) THEN
		RAISE EXCEPTION 'at column "%" of table % has type %', attach_events.at, qname, a.declared
			USING ERRCODE = 'datatype_mismatch',
			DETAIL = 'The event time must be of type timestamptz, or timestamp or date (read in time_zone, UTC unless given).';
	END IF;
	IF a.attnum IN (contact_attnum, kind_attnum) THEN
		RAISE EXCEPTION 'column "%" of table % cannot be both the % and the at column',
			attach_events.at, qname, CASE WHEN a.attnum = contact_attnum THEN 'contact' ELSE 'kind' END
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	PERFORM segments._check_data_owner(tbl, qname);

	-- another source: the stored rules name the sources they read now, so
	-- that this one changes nothing they mean (docs/design.md, "Event
	-- sources")
	IF EXISTS (SELECT FROM segments.attached x WHERE x.role = 'events') THEN
		LOCK TABLE segments.segment IN SHARE ROW EXCLUSIVE MODE;
		PERFORM segments._writers_lock(true);
		FOR seg_id IN
			SELECT DISTINCT r.segment_id FROM segments.segment_reference r
			WHERE r.kind = 'event' AND r.source IS NULL ORDER BY 1
		LOOP
			UPDATE segments.segment g SET rule = segments._rule_name_sources(g.rule) WHERE g.id = seg_id;
			PERFORM segments._set_references(seg_id);
		END LOOP;
	END IF;

	INSERT INTO segments.attached (role, table_schema, table_name, contact_column, kind_column, at_column,
		time_zone, source, constant_kind, tenant_column)
	SELECT 'events', n.nspname, cl.relname, attach_events.contact, attach_events.kind, attach_events.at, zone,
		source_name, attach_events.constant_kind, tenant_column
	FROM pg_catalog.pg_class cl JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
	WHERE cl.oid = tbl;
	PERFORM segments._citus_check('events', tbl, tenant_column);
	PERFORM segments._install_triggers('events', tbl);
END
$$;
COMMENT ON FUNCTION segments.attach_events(regclass, name, name, name, text, text, text, name) IS
	'attach an events table as an event source: its contact column (the key''s type), kind column (text, varchar or an enum) or constant kind, and at column (timestamptz, or timestamp or date read in time_zone); rules name it as source (the table''s name unless given); for contacts keyed per tenant, the column of the contact''s tenant (tenant, by default the contacts'' tenant column''s name)';

-- An enum's label renamed (ALTER TYPE ... RENAME VALUE) is followed, as a
-- column's name is: the events keep their kind under its new name, so the
-- rules that name the old label name the new one.  ddl_command_start
-- records the labels of the events' kind enum (by their pg_enum OID, which
-- a rename keeps) for an ALTER TYPE; ddl_command_end compares.
ALTER TABLE segments._ddl_before ADD COLUMN labels jsonb NOT NULL DEFAULT '{}';

-- The event sources whose kind column is of an enum (under any domain), and the enum.
CREATE FUNCTION segments._kind_enums() RETURNS TABLE (source text, enum oid, kind_column name)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
	k record;
BEGIN
	FOR a IN SELECT * FROM segments.attached x WHERE x.role = 'events' AND x.kind_column IS NOT NULL ORDER BY x.source LOOP
		IF pg_catalog.to_regclass(format('%I.%I', a.table_schema, a.table_name)) IS NULL THEN
			CONTINUE;
		END IF;
		k := segments._column(format('%I.%I', a.table_schema, a.table_name)::pg_catalog.regclass, a.kind_column, 'kind');
		source := a.source;
		kind_column := a.kind_column;
		enum := (SELECT t.oid FROM pg_catalog.pg_type t WHERE t.oid = k.base AND t.typtype = 'e');
		IF enum IS NOT NULL THEN
			RETURN NEXT;
		END IF;
	END LOOP;
END
$$;

-- The name rules give an event source (see Event sources below).
ALTER TABLE segments.attached ADD COLUMN source text;
COMMENT ON COLUMN segments.attached.source IS
	'events: the name rules give the source (event ''k'' from ''name''); NULL: the table''s name';

-- The tables of the attachments, with the event source of the events
-- tables: the DDL that the event triggers follow finds by it which source
-- a table is.
DROP FUNCTION segments._attached_tables();
CREATE FUNCTION segments._attached_tables()
RETURNS TABLE (role text, root oid, relid oid, relkind "char", source text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT a.role, r.oid, t.relid, t.relkind, a.source
	FROM segments.attached a
	CROSS JOIN LATERAL (SELECT pg_catalog.to_regclass(
		pg_catalog.format('%I.%I', a.table_schema, a.table_name))::oid AS oid) r
	CROSS JOIN LATERAL segments._tree(r.oid) t
	WHERE r.oid IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION segments._on_ddl_start() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	x xid8;
BEGIN
	-- on a Citus worker, the DDL Citus replays there: the coordinator follows it
	IF segments._citus_worker() THEN
		RETURN;
	END IF;
	IF segments._restoring_dump() OR NOT EXISTS (SELECT FROM segments.attached) THEN
		RETURN;
	END IF;
	x := pg_catalog.pg_current_xact_id();
	DELETE FROM segments._ddl_before b WHERE b.pid = pg_catalog.pg_backend_pid() AND b.xact <> x;
	INSERT INTO segments._ddl_before (pid, xact, depth, tag, tables, columns, labels)
	SELECT pg_catalog.pg_backend_pid(), x, coalesce((SELECT max(b.depth) FROM segments._ddl_before b WHERE b.xact = x), 0) + 1, TG_TAG,
		coalesce((SELECT jsonb_agg(jsonb_build_object('role', t.role, 'source', t.source, 'relid', t.relid,
				'root', t.relid = t.root, 'relfilenode', cl.relfilenode))
			FROM segments._attached_tables() t JOIN pg_catalog.pg_class cl ON cl.oid = t.relid), '[]'),
		coalesce((SELECT jsonb_agg(jsonb_build_object('role', t.role, 'source', t.source, 'relid', t.relid,
				'attnum', at.attnum, 'name', at.attname, 'type', at.atttypid, 'typmod', at.atttypmod,
				'coll', at.attcollation, 'version', at.xmin::text))
			FROM segments._attached_tables() t
			JOIN pg_catalog.pg_attribute at ON at.attrelid = t.relid AND at.attnum > 0 AND NOT at.attisdropped
			WHERE t.relid = t.root), '[]'),
		CASE WHEN TG_TAG = 'ALTER TYPE' THEN
			coalesce((SELECT jsonb_object_agg(e.oid::text, e.enumlabel)
				FROM pg_catalog.pg_enum e WHERE e.enumtypid IN (SELECT k.enum FROM segments._kind_enums() k)), '{}')
		ELSE '{}' END;
END
$$;

-- The rule with the kind old of the source's events named new, as their
-- kind and in their where clauses' tests of kind_column (src/rule_refs.c).
CREATE FUNCTION segments._rule_rename_event_kind(rule segments.rule, old text, new text, source text,
	kind_column text) RETURNS segments.rule
	AS 'MODULE_PATHNAME', 'rule_rename_event_kind' LANGUAGE C IMMUTABLE STRICT;

-- The labels of the kind enum as ddl_command_start found them (OID to
-- label): those renamed since are renamed in the rules that name them.
CREATE FUNCTION segments._follow_label_renames(labels jsonb) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	r record;
	seg_id bigint;
BEGIN
	FOR r IN
		SELECT l.value #>> '{}' AS old, e.enumlabel::text AS new, k.source, k.kind_column
		FROM pg_catalog.jsonb_each(labels) l
		JOIN pg_catalog.pg_enum e ON e.oid = l.key::oid
		JOIN segments._kind_enums() k ON k.enum = e.enumtypid
		WHERE e.enumlabel::text <> l.value #>> '{}'
		ORDER BY e.enumsortorder, k.source
	LOOP
		-- as _follow_column_rename: the lock _writers_lock(true) takes, first
		LOCK TABLE segments.segment IN SHARE ROW EXCLUSIVE MODE;
		PERFORM segments._writers_lock(true);
		-- the rules that name the label: as an event's kind, or compared
		-- with the kind column in an event's where clause
		FOR seg_id IN
			SELECT DISTINCT x.segment_id FROM segments.segment_reference x
			WHERE (x.source IS NULL OR x.source = r.source)
				AND ((x.kind = 'event' AND x.name = r.old)
					OR (x.kind = 'event_field' AND x.path = ARRAY[r.kind_column::text]))
			ORDER BY 1
		LOOP
			UPDATE segments.segment s
			SET rule = segments._rule_rename_event_kind(s.rule, r.old, r.new, r.source, r.kind_column),
				updated_at = now()
			WHERE s.id = seg_id;
			PERFORM segments._set_references(seg_id);
		END LOOP;
	END LOOP;
END
$$;

-- == Time zones ==
--
-- A timestamp or date column holds a time as a clock shows it, without
-- the zone: each attached table names the zone its clock is in, and a
-- relative time (now, ago, from now, a window) compared with such a
-- column is that clock's time then (docs/design.md, "Time zones").  UTC
-- unless attach_* or set_time_zone says otherwise.
ALTER TABLE segments.attached ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
COMMENT ON COLUMN segments.attached.time_zone IS
	'the zone the table''s timestamp and date columns are read in (a name of pg_timezone_names)';

-- A zone's name as pg_timezone_names spells it.  Abbreviations other than
-- UTC and GMT are refused: AT TIME ZONE reads one by the session's
-- timezone_abbreviations, which may differ between sessions, and every
-- session must read the attached times alike; so are the names of the
-- host's own zone.
CREATE FUNCTION segments._time_zone(zone text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	known text;
BEGIN
	IF zone IS NULL THEN
		RAISE EXCEPTION 'time zone must not be null'
			USING ERRCODE = 'null_value_not_allowed',
			HINT = 'Leave it out for UTC.';
	END IF;
	SELECT n.name INTO known FROM pg_catalog.pg_timezone_names n
	WHERE pg_catalog.lower(n.name) = pg_catalog.lower(zone)
	ORDER BY n.name = zone DESC, n.name LIMIT 1;
	IF known IS NULL THEN
		RAISE EXCEPTION 'time zone "%" not recognized', zone
			USING ERRCODE = 'invalid_parameter_value',
			HINT = 'Name a zone of pg_timezone_names, such as UTC, Europe/Berlin or America/New_York.';
	END IF;
	-- the zone of the server's host, which another host reads otherwise
	IF pg_catalog.lower(known) IN ('localtime', 'posixrules', 'factory') THEN
		RAISE EXCEPTION 'time zone "%" depends on the server''s host', zone
			USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'A standby, a restored copy or the same server after a change of its host''s zone would read the times otherwise.',
			HINT = 'Name the zone by its region, such as Europe/Berlin.';
	END IF;
	IF pg_catalog.upper(known) NOT IN ('UTC', 'GMT')
			AND EXISTS (SELECT FROM pg_catalog.pg_timezone_abbrevs a
				WHERE pg_catalog.lower(a.abbrev) = pg_catalog.lower(known)) THEN
		RAISE EXCEPTION 'time zone "%" is also an abbreviation', zone
			USING ERRCODE = 'invalid_parameter_value',
			DETAIL = 'An abbreviation is read by the timezone_abbreviations setting, which may differ between sessions.',
			HINT = 'Name the zone by its region, such as Europe/Paris for CET or America/New_York for EST.';
	END IF;
	RETURN known;
END
$$;

-- A new zone for an attached table: the segments that read the table (and
-- those that use them) are rebuilt, their changes logged with cause
-- refresh.
CREATE FUNCTION segments.set_time_zone(tbl regclass, time_zone text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	zone text := segments._time_zone(set_time_zone.time_zone);
	a segments.attached;
	s segments.segment;
BEGIN
	IF tbl IS NULL THEN
		RAISE EXCEPTION 'table must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM segments._lock();
	SELECT x.* INTO a FROM segments.attached x
	JOIN pg_catalog.pg_namespace n ON n.nspname = x.table_schema
	JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = x.table_name
	WHERE c.oid = tbl;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'table % is not attached', tbl
			USING ERRCODE = 'object_not_in_prerequisite_state',
			HINT = 'attach_contacts, attach_events and attach_lists take the time zone too.';
	END IF;
	IF a.time_zone = zone THEN
		RETURN;
	END IF;
	UPDATE segments.attached x SET time_zone = zone
	WHERE x.role = a.role AND x.source IS NOT DISTINCT FROM a.source;
	FOR s IN
		SELECT g.* FROM segments._maintenance_order(ARRAY(
			SELECT DISTINCT r.segment_id FROM segments.segment_reference r
			WHERE r.kind = ANY (CASE a.role WHEN 'contacts' THEN ARRAY['field']
				WHEN 'events' THEN ARRAY['event', 'event_field'] ELSE ARRAY['list'] END)
				AND (a.role <> 'events' OR r.source IS NULL OR r.source = a.source))) WITH ORDINALITY o(id, n)
		JOIN segments.segment g ON g.id = o.id
		ORDER BY o.n
	LOOP
		s := segments._segment(s.id, true);
		PERFORM segments._apply(s.id, segments._segment_sql(s), 'refresh');
	END LOOP;
END
$$;
COMMENT ON FUNCTION segments.set_time_zone(regclass, text) IS
	'read an attached table''s timestamp and date columns in another zone; the segments that read the table are rebuilt (cause refresh)';

-- == Lists with state and time ==
--
-- A list condition may filter the contact's rows of the list with a where
-- clause on their columns (in list 'newsletter' where (status =
-- 'subscribed')) and test their time with a window, as an event condition
-- does (in list 7 within last 7 days), when attach_lists names the time
-- column (at, kept in segments.attached.at_column).  The fields of a
-- list's where clause are list_field references (name: the list, path:
-- the column), followed through renames and guarded against drops as an
-- event's are.
ALTER TABLE segments.segment_reference DROP CONSTRAINT segment_reference_kind_check;
ALTER TABLE segments.segment_reference ADD CONSTRAINT segment_reference_kind_check
	CHECK (kind IN ('field', 'event', 'event_field', 'list', 'list_field', 'segment'));
COMMENT ON COLUMN segments.attached.at_column IS
	'events: the event time; lists: when the contact was put on the list (optional)';

DROP FUNCTION segments.attach_lists(regclass, name, name);
CREATE FUNCTION segments.attach_lists(tbl regclass, contact name, list name, at name DEFAULT NULL,
	time_zone text DEFAULT 'UTC', tenant name DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	qname text := segments._attach_begin('lists', tbl);
	contact_attnum smallint := segments._contact_column(tbl, qname, attach_lists.contact);
	tenant_column name := segments._tenant_column(tbl, qname, attach_lists.tenant, contact_attnum);
	zone text := segments._time_zone(attach_lists.time_zone);
	l record;
	a record;
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
	IF attach_lists.at IS NOT NULL THEN
		a := segments._column(tbl, attach_lists.at, 'at');
		IF a.base NOT IN ('pg_catalog.timestamptz'::regtype, 'pg_catalog.timestamp'::regtype,
				'pg_catalog.date'::regtype) THEN
			RAISE EXCEPTION 'at column "%" of table % has type %', attach_lists.at, qname, a.declared
				USING ERRCODE = 'datatype_mismatch',
				DETAIL = 'The time a contact was put on a list must be of type timestamptz, or timestamp or date (read in time_zone, UTC unless given).';
		END IF;
		IF a.attnum IN (contact_attnum, l.attnum) THEN
			RAISE EXCEPTION 'column "%" of table % cannot be both the % and the at column',
				attach_lists.at, qname, CASE WHEN a.attnum = contact_attnum THEN 'contact' ELSE 'list' END
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;

	PERFORM segments._check_data_owner(tbl, qname);

	INSERT INTO segments.attached (role, table_schema, table_name, contact_column, list_column, at_column, time_zone,
		tenant_column)
	SELECT 'lists', n.nspname, cl.relname, attach_lists.contact, attach_lists.list, attach_lists.at, zone,
		tenant_column
	FROM pg_catalog.pg_class cl JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace
	WHERE cl.oid = tbl;
	PERFORM segments._citus_check('lists', tbl, tenant_column);
	PERFORM segments._install_triggers('lists', tbl);
END
$$;
COMMENT ON FUNCTION segments.attach_lists(regclass, name, name, name, text, name) IS
	'attach the list membership table: its contact column (the key''s type), list column and, optionally, the time a row put the contact on the list (at); its timestamp and date columns read in time_zone; for contacts keyed per tenant, the column of the contact''s tenant (tenant, by default the contacts'' tenant column''s name)';

-- What uses column col of the table attached as role (of the event source
-- source): as in 0.1, and the fields of lists' where clauses.
DROP FUNCTION segments._column_users(text, text);
CREATE FUNCTION segments._column_users(role text, col text, source text DEFAULT NULL,
	OUT what text, OUT ids bigint[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
BEGIN
	SELECT * INTO a FROM segments.attached x
	WHERE x.role = _column_users.role AND x.source IS NOT DISTINCT FROM _column_users.source;
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
		ids := segments._role_segments(role, source);
	ELSE
		SELECT array_agg(DISTINCT r.segment_id) INTO ids
		FROM segments.segment_reference r
		WHERE CASE role WHEN 'contacts' THEN r.kind = 'field' AND r.name = col
			WHEN 'events' THEN r.kind = 'event_field' AND r.path[1] = col
				AND (r.source IS NULL OR r.source = _column_users.source)
			ELSE r.kind = 'list_field' AND r.path[1] = col END;
	END IF;
END
$$;

-- The segments whose membership the data of a role's table (of the event
-- source source; NULL: of any) can change.
DROP FUNCTION segments._role_segments(text);
CREATE FUNCTION segments._role_segments(role text, source text DEFAULT NULL) RETURNS bigint[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT array_agg(s.id ORDER BY s.id)
	FROM segments.segment s
	WHERE role = 'contacts'
		OR EXISTS (SELECT FROM segments.segment_reference r
			WHERE r.segment_id = s.id
				AND CASE role WHEN 'events' THEN r.kind IN ('event', 'event_field')
						AND (_role_segments.source IS NULL OR r.source IS NULL OR r.source = _role_segments.source)
					ELSE r.kind IN ('list', 'list_field') END)
$$;

-- Refuses to drop (change 'drop') or change the type of (change 'type')
-- column col of the table attached as role (of the event source source)
-- when something uses it.
DROP FUNCTION segments._refuse_column_change(text, text, text, text);
CREATE FUNCTION segments._refuse_column_change(role text, qname text, col text, change text,
	source text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	u record := segments._column_users(role, col, source);
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
			HINT = CASE WHEN n = 0 THEN format('Detach the table first with segments.detach_%s(%s).', role,
					coalesce(quote_literal(source), ''))
				ELSE format('Drop those segments or alter their rules, then detach the table with segments.detach_%s(%s).',
					role, coalesce(quote_literal(source), '')) END;
	ELSIF n > 0 THEN
		RAISE EXCEPTION 'cannot % column "%" of table % because %', doing, col, qname,
			format('%s %s %s to it', CASE WHEN n = 1 THEN 'segment' ELSE 'segments' END,
				segments._segment_list(u.ids), CASE WHEN n = 1 THEN 'refers' ELSE 'refer' END)
			USING ERRCODE = code,
			HINT = 'Drop those segments or alter their rules first.';
	END IF;
END
$$;

-- A column of an attached table (of the event source source) renamed: as
-- in 0.1, and the fields of lists' where clauses follow too.
DROP FUNCTION segments._follow_column_rename(text, text, text);
CREATE FUNCTION segments._follow_column_rename(role text, old text, new text, source text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ids bigint[];
	seg_id bigint;
BEGIN
	-- the lock _writers_lock(true) takes below, taken before the catalog is
	-- read: the catalog changes that refer to the column are then over
	LOCK TABLE segments.segment IN SHARE ROW EXCLUSIVE MODE;
	SELECT array_agg(DISTINCT r.segment_id ORDER BY r.segment_id) INTO ids
	FROM segments.segment_reference r
	WHERE CASE role WHEN 'contacts' THEN r.kind = 'field' AND r.name = old
		WHEN 'events' THEN r.kind = 'event_field' AND r.path[1] = old
			AND (r.source IS NULL OR r.source = _follow_column_rename.source)
		ELSE r.kind = 'list_field' AND r.path[1] = old END;
	IF ids IS NULL AND NOT EXISTS (SELECT FROM segments.attached a
			WHERE a.role = _follow_column_rename.role AND a.source IS NOT DISTINCT FROM _follow_column_rename.source
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
	WHERE a.role = _follow_column_rename.role AND a.source IS NOT DISTINCT FROM _follow_column_rename.source
		AND old IN (a.contact_column, a.tenant_column, a.kind_column, a.at_column, a.list_column);
	FOREACH seg_id IN ARRAY coalesce(ids, '{}') LOOP
		UPDATE segments.segment s
		SET rule = segments.rule_from_jsonb(segments._rename_field(
				segments.rule_to_jsonb(s.rule), old, new, role, NULL, source)),
			updated_at = now()
		WHERE s.id = seg_id;
		PERFORM segments._set_references(seg_id);
	END LOOP;
END
$$;


-- == Event sources ==
--
-- The events table is an event source, which a rule may name: event
-- 'opened' from 'events'.  The name is the table's unless attach_events
-- gives one; events attached under 0.1 (or restored from its dumps, whose
-- rows have none) are named after their table by upgrade_attachments().

-- Several event sources may be attached, one row each, by their names; a
-- source whose rows are all events of one kind (purchases) has that kind
-- instead of a kind column.
ALTER TABLE segments.attached ADD COLUMN constant_kind text;

-- Contacts keyed per tenant (docs/design.md, "Contacts keyed per
-- tenant"): a table whose key is unique only with its tenant, (tenant,
-- key).  A contact is then the pair, of the composite type
-- segments.contact_key that attach_contacts makes; the membership and its
-- log hold it as two columns, tenant and contact, and the events and
-- lists tables name the tenant in tenant_column.
ALTER TABLE segments.attached ADD COLUMN key_per_tenant boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN segments.attached.key_per_tenant IS
	'contacts: whether the key is unique only within the tenant, a contact being (tenant, key)';
COMMENT ON COLUMN segments.attached.tenant_column IS
	'contacts: the tenant column, if any; events and lists of contacts keyed per tenant: the column of the contact''s tenant';

-- Whether contacts are keyed per tenant.
CREATE FUNCTION segments._key_per_tenant() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT coalesce((SELECT a.key_per_tenant FROM segments.attached a WHERE a.role = 'contacts'), false)
$$;

-- The type of a contact as the functions take and return it: the key's,
-- or segments.contact_key.
CREATE FUNCTION segments._contact_type() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN CASE WHEN segments._key_per_tenant() THEN 'segments.contact_key'
		ELSE (segments._contacts()).key_type END;
END
$$;

-- SQL for the membership and its log: the contact of the row alias, the
-- columns a contact takes, and a contact expression's values for them.
CREATE FUNCTION segments._member_key(alias text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN segments._key_per_tenant()
		THEN format('ROW(%s.tenant, %s.contact)::segments.contact_key', alias, alias)
		ELSE alias || '.contact' END
$$;

CREATE FUNCTION segments._member_columns() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN segments._key_per_tenant() THEN 'tenant, contact' ELSE 'contact' END
$$;

CREATE FUNCTION segments._member_values(contact text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT CASE WHEN segments._key_per_tenant()
		THEN format('(%s).tenant, (%s).contact', contact, contact) ELSE contact END
$$;
COMMENT ON COLUMN segments.attached.constant_kind IS
	'events without a kind column: the kind of every row';
COMMENT ON COLUMN segments.attached.kind_column IS
	'events: the event kind (text, varchar or an enum), NULL when constant_kind gives it';
ALTER TABLE segments.attached DROP CONSTRAINT attached_pkey;
ALTER TABLE segments.attached ADD CONSTRAINT attached_role_source_key UNIQUE NULLS NOT DISTINCT (role, source);

-- The references of event conditions name their source, as the rule does
-- (NULL: it names none, which it may only while one source is attached).
ALTER TABLE segments.segment_reference ADD COLUMN source text;
COMMENT ON COLUMN segments.segment_reference.source IS
	'event and event_field references: the event source the rule names, NULL when it names none';
DROP FUNCTION segments.rule_references(segments.rule);
CREATE FUNCTION segments.rule_references(rule segments.rule,
	OUT kind text, OUT name text, OUT path text[], OUT relative boolean, OUT source text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 5;
COMMENT ON FUNCTION segments.rule_references(segments.rule) IS
	'what a rule refers to: fields, events, event fields, lists, list fields, segments; relative when compared with the clock; source, the event source named';
GRANT EXECUTE ON FUNCTION segments.rule_references(segments.rule) TO PUBLIC;

-- The rule with every event condition naming its source (src/rule_refs.c).
CREATE FUNCTION segments._rule_name_sources(rule segments.rule) RETURNS segments.rule
	AS 'MODULE_PATHNAME', 'rule_name_sources' LANGUAGE C STABLE STRICT;

-- The event source of that name, or the only one (name NULL).
CREATE FUNCTION segments._event_source(name text) RETURNS segments.attached
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
	n bigint;
BEGIN
	IF name IS NULL THEN
		SELECT count(*) INTO n FROM segments.attached x WHERE x.role = 'events';
		IF n > 1 THEN
			RAISE EXCEPTION 'several event sources are attached'
				USING ERRCODE = 'ambiguous_parameter',
				DETAIL = format('They are %s.', (SELECT string_agg(format('"%s"', x.source), ', ' ORDER BY x.source)
					FROM segments.attached x WHERE x.role = 'events')),
				HINT = 'Name the source: source => ''...''.';
		END IF;
	END IF;
	SELECT * INTO a FROM segments.attached x
	WHERE x.role = 'events' AND (name IS NULL OR x.source = name);
	IF NOT FOUND THEN
		RAISE EXCEPTION '%', CASE WHEN name IS NULL THEN 'events are not attached'
			ELSE format('event source "%s" is not attached', name) END
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	RETURN a;
END
$$;

-- Records what a segment's rule refers to, as in 0.1, with the event
-- source each event condition names; once several sources are attached,
-- the rule is stored naming them (attach_events names those of the rules
-- stored before).
CREATE OR REPLACE FUNCTION segments._set_references(id bigint) RETURNS void
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
	IF (SELECT count(*) FROM segments.attached x WHERE x.role = 'events') > 1 THEN
		s.rule := segments._rule_name_sources(s.rule);
		UPDATE segments.segment g SET rule = s.rule WHERE g.id = s.id AND g.rule OPERATOR(segments.<>) s.rule;
	END IF;
	DELETE FROM segments.segment_reference r WHERE r.segment_id = s.id;
	INSERT INTO segments.segment_reference (segment_id, kind, name, path, relative, source)
	SELECT s.id, x.kind, x.name, x.path, x.relative, x.source
	FROM segments.rule_references(s.rule) x
	WHERE NOT s.static;

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

-- Attaching: as in 0.1, but events may be attached again, as another
-- source (attach_events refuses a name taken).
CREATE OR REPLACE FUNCTION segments._attach_begin(role text, tbl regclass) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	current segments.attached;
BEGIN
	LOCK TABLE segments.attached IN SHARE ROW EXCLUSIVE MODE;
	SELECT * INTO current FROM segments.attached x WHERE x.role = _attach_begin.role;
	IF FOUND AND role <> 'events' THEN
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


-- After a command, what it changed of the attached tables: as in 0.1, for
-- each attachment, an event source's by its name.
CREATE OR REPLACE FUNCTION segments._follow_changes(before segments._ddl_before) RETURNS void
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
	FOR a IN SELECT * FROM segments.attached x ORDER BY x.role, x.source LOOP
		SELECT t.relid INTO root
		FROM jsonb_to_recordset(before.tables) AS t(role text, source text, relid oid, root boolean)
		WHERE t.role = a.role AND t.source IS NOT DISTINCT FROM a.source AND t.root;
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
			WHERE x.role = a.role AND x.source IS NOT DISTINCT FROM a.source;
		END IF;
		qname := segments._relation_name(root);

		-- the table's data rewritten (ALTER COLUMN TYPE, ...) by this command
		SELECT EXISTS (
			SELECT FROM jsonb_to_recordset(before.tables) AS t(role text, source text, relid oid, relfilenode oid)
			JOIN pg_catalog.pg_class cl ON cl.oid = t.relid
			WHERE t.role = a.role AND t.source IS NOT DISTINCT FROM a.source
				AND t.relfilenode <> 0 AND cl.relfilenode <> t.relfilenode)
		INTO rewritten;

		FOR c IN
			SELECT b.name AS old, now_.attname AS new,
				(b.type, b.typmod, b.coll) IS DISTINCT FROM
					(now_.atttypid, now_.atttypmod, now_.attcollation) AS retyped,
				b.version <> now_.xmin::text AS touched, now_.attnotnull AS notnull
			FROM jsonb_to_recordset(before.columns) AS b(role text, source text, relid oid, attnum smallint,
				name name, type oid, typmod integer, coll oid, version text)
			JOIN pg_catalog.pg_attribute now_ ON now_.attrelid = b.relid AND now_.attnum = b.attnum
			WHERE b.role = a.role AND b.source IS NOT DISTINCT FROM a.source AND b.relid = root
				AND NOT now_.attisdropped
				AND (now_.attname <> b.name OR b.version <> now_.xmin::text)
			ORDER BY b.attnum
		LOOP
			IF a.role = 'contacts' AND NOT c.notnull AND (c.old = a.contact_column
					OR (c.old = a.tenant_column AND a.key_per_tenant)) THEN
				-- every contact has its key: a NULL in it would be no contact
				RAISE EXCEPTION 'column "%" of table % must stay NOT NULL: it is the % column of the attached contacts table',
					c.old, qname, CASE WHEN c.old = a.contact_column THEN 'key' ELSE 'tenant' END
					USING ERRCODE = 'invalid_table_definition',
					DETAIL = CASE WHEN c.old = a.contact_column THEN 'Every contact must have a key.'
						ELSE 'Contacts are keyed per tenant: every contact must have a tenant.' END,
					HINT = 'Detach the table first with segments.detach_contacts().';
			END IF;
			IF c.retyped THEN
				PERFORM segments._refuse_column_change(a.role, qname, c.old, 'type', a.source);
			ELSIF c.touched AND rewritten THEN
				-- same type, values possibly rewritten (USING): re-evaluate
				-- the segments that use the column
				SELECT CASE WHEN u.what IS NOT NULL THEN segments._role_segments(a.role, a.source) ELSE u.ids END
				INTO ids FROM segments._column_users(a.role, c.old, a.source) u;
				IF ids IS NOT NULL THEN
					PERFORM segments._writers_lock(false);
					PERFORM segments._take_all_turns();
					PERFORM segments._maintain(ids, NULL::text[], 'write');
				END IF;
			END IF;
			IF c.new <> c.old THEN
				PERFORM segments._follow_column_rename(a.role, c.old, c.new, a.source);
			END IF;
		END LOOP;
	END LOOP;
END
$$;

-- Brings membership up to date for the contacts of the rows of tables
-- (each without the tables under it) of the table attached as role, of
-- the event source source, or of each source whose contact column the
-- tables have (source NULL: a table no longer under any): rows that have
-- just joined it or left it.
DROP FUNCTION segments._maintain_rows(text, oid[]);
CREATE FUNCTION segments._maintain_rows(role text, tables oid[], source text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
	rel oid;
	found_ text[];
	contacts text[];
	ids bigint[];
BEGIN
	-- before the catalog is read: a segment created meanwhile is then
	-- either built with these rows or seen below
	PERFORM segments._writers_lock(false);
	IF NOT EXISTS (SELECT FROM segments.segment) THEN
		RETURN;
	END IF;
	FOR a IN
		SELECT * FROM segments.attached x
		WHERE x.role = _maintain_rows.role AND (_maintain_rows.source IS NULL OR x.source = _maintain_rows.source)
		ORDER BY x.source
	LOOP
		contacts := '{}';
		FOREACH rel IN ARRAY tables LOOP
			IF (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = rel) = 'r'
					AND EXISTS (SELECT FROM pg_catalog.pg_attribute t
						WHERE t.attrelid = rel AND t.attname = a.contact_column AND NOT t.attisdropped)
					AND (a.tenant_column IS NULL OR EXISTS (SELECT FROM pg_catalog.pg_attribute t
						WHERE t.attrelid = rel AND t.attname = a.tenant_column AND NOT t.attisdropped)) THEN
				-- keyed per tenant: the contact's text as segments.contact_key's
				EXECUTE CASE WHEN segments._key_per_tenant()
					THEN format('SELECT array_agg(DISTINCT ROW(r.%I, r.%I)::segments.contact_key::text) FROM ONLY %s r',
						a.tenant_column, a.contact_column, rel::regclass)
					ELSE format('SELECT array_agg(DISTINCT r.%I::text) FROM ONLY %s r', a.contact_column, rel::regclass) END
				INTO found_;
				contacts := contacts || coalesce(found_, '{}');
			END IF;
		END LOOP;
		SELECT array_agg(DISTINCT c) INTO contacts FROM unnest(contacts) AS c;
		ids := segments._role_segments(role, a.source);
		IF contacts IS NULL OR ids IS NULL THEN
			CONTINUE;
		END IF;
		PERFORM segments._take_all_turns();
		EXECUTE format('SELECT segments._maintain($1, $2::%s[], %L)', segments._contact_type(), 'write')
		USING ids, contacts;
	END LOOP;
END
$$;

-- Puts the triggers on the tables under an attached table that lack them
-- and takes them from the tables no longer under it, as in 0.1; the rows
-- of those tables joined or left the attachment (an event source's,
-- found by its table, or by the columns of one no longer under any).
CREATE OR REPLACE FUNCTION segments._sync_partitions() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t record;
	keys text[] := '{}';
	sources text[] := '{}';
	moved oid[] := '{}';
	k record;
BEGIN
	-- INHERIT or ATTACH PARTITION put a table under two attached tables
	SELECT x.relid, string_agg(x.role || coalesce(format(' (source "%s")', x.source), '') || ' table '
		|| segments._relation_name(x.root), ' and ' ORDER BY x.role, x.source) AS owners INTO t
	FROM segments._attached_tables() x GROUP BY x.relid HAVING count(*) > 1 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'table % would be under two attached tables, the %', segments._relation_name(t.relid), t.owners
			USING ERRCODE = 'object_not_in_prerequisite_state',
			DETAIL = 'A table under two attached tables would be maintained for one of them only.';
	END IF;
	FOR t IN
		WITH tree AS (SELECT * FROM segments._attached_tables()),
		trig AS (SELECT * FROM segments._triggered())
		SELECT x.role, x.source, x.root, x.relid, x.relkind, true AS adding
		FROM tree x
		WHERE EXISTS (SELECT FROM trig g WHERE g.relid = x.root AND g.role = x.role)
			AND NOT EXISTS (SELECT FROM trig g WHERE g.relid = x.relid)
		UNION ALL
		-- only for a role whose table exists, so that a table whose
		-- attachment lost track of it keeps its triggers
		SELECT g.role, NULL, NULL, g.relid, NULL, false
		FROM trig g
		WHERE EXISTS (SELECT FROM tree x WHERE x.role = g.role)
			AND NOT EXISTS (SELECT FROM tree x WHERE x.relid = g.relid)
		ORDER BY 6 DESC, 1, 2, 4
	LOOP
		IF t.adding THEN
			PERFORM segments._check_member(t.role, t.root, t.relid, t.relkind);
			PERFORM segments._install_triggers_on(t.role, t.relid);
		ELSE
			PERFORM segments._drop_triggers_on(t.relid);
		END IF;
		keys := keys || t.role;
		sources := sources || t.source;
		moved := moved || t.relid;
	END LOOP;
	FOR k IN SELECT DISTINCT u.r, u.s FROM unnest(keys, sources) AS u(r, s) ORDER BY 1, 2 LOOP
		PERFORM segments._maintain_rows(k.r,
			ARRAY(SELECT u.m FROM unnest(keys, sources, moved) AS u(r, s, m)
				WHERE u.r = k.r AND u.s IS NOT DISTINCT FROM k.s), k.s);
	END LOOP;
END
$$;

-- Attached tables dropped (roles; of events, the sources): refused while
-- segments use them, else detached.
DROP FUNCTION segments._drop_attached(text[]);
CREATE FUNCTION segments._drop_attached(roles text[], sources text[]) RETURNS void
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
	FOR a IN
		SELECT * FROM segments.attached x
		WHERE x.role = ANY (roles) AND (x.role <> 'events' OR x.source = ANY (sources))
		ORDER BY x.role, x.source
	LOOP
		qname := format('%I.%I', a.table_schema, a.table_name);
		ids := segments._role_segments(a.role, a.source);
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
			SELECT string_agg(DISTINCT x.role, ' and ') INTO others
			FROM segments.attached x
			WHERE x.role <> ALL (roles) OR (x.role = 'events' AND x.source <> ALL (sources));
			IF others IS NOT NULL THEN
				RAISE EXCEPTION 'cannot drop table % while % % attached', qname, others,
					CASE WHEN others LIKE '% and %' THEN 'are' ELSE 'is' END
					USING ERRCODE = 'dependent_objects_still_exist',
					DETAIL = 'It is the attached contacts table.',
					HINT = format('Detach %s first with %s, or drop %s in the same statement.',
						CASE WHEN others LIKE '% and %' THEN 'them' ELSE 'it' END,
						(SELECT string_agg(DISTINCT format('segments.detach_%s()', x.role), ' and ')
							FROM segments.attached x
							WHERE x.role <> ALL (roles) OR (x.role = 'events' AND x.source <> ALL (sources))),
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
	FOR a IN SELECT * FROM segments.attached x WHERE x.role = 'events' AND x.source = ANY (sources) ORDER BY x.source LOOP
		PERFORM segments._detach_source(a);
	END LOOP;
	IF 'contacts' = ANY (roles) THEN
		PERFORM segments.detach_contacts();
	END IF;
END
$$;

-- A table to attach: as in 0.1, and neither part of an attached table nor
-- holding one (a partition or inheritance child under two attachments
-- would be maintained for one of them only).
CREATE OR REPLACE FUNCTION segments._check_table(rel regclass, role text) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	c record;
	other text;
	qname text;
	owner regrole;
	o record;
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
	SELECT t.role, t.source, t.root, t.relid = rel AS inside INTO o
	FROM segments._attached_tables() t
	WHERE t.relid = rel OR t.relid IN (SELECT x.relid FROM segments._tree(rel) x)
	ORDER BY t.relid = rel DESC LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION '% % the attached % table %', qname,
			CASE WHEN o.inside THEN 'is part of' ELSE 'holds' END,
			o.role || coalesce(format(' (source "%s")', o.source), ''), segments._relation_name(o.root)
			USING ERRCODE = 'object_not_in_prerequisite_state',
			DETAIL = 'A table under two attached tables would be maintained for one of them only.';
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

-- TRUNCATE of an attached table (or a partition): as in 0.1, the segments
-- that read it rebuilt, of an event source those reading that source.
CREATE OR REPLACE FUNCTION segments._on_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	ids bigint[];
	t record;
BEGIN
	-- a TRUNCATE of the role's table only: any other would rebuild its segments for nothing
	SELECT x.source INTO t FROM segments._attached_tables() x WHERE x.role = TG_ARGV[0] AND x.relid = TG_RELID;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'segments._on_truncate() fires only on the attached % table', TG_ARGV[0]
			USING ERRCODE = 'trigger_protocol_violated',
			DETAIL = format('Table %s is not the attached %s table nor one of its partitions.',
				TG_RELID::pg_catalog.regclass, TG_ARGV[0]);
	END IF;
	IF segments._citus_method(TG_RELID) IS NOT NULL THEN
		-- Citus fires the table's TRUNCATE triggers on the coordinator
		-- before it truncates the shards, and none on the shards
		RAISE EXCEPTION 'cannot truncate %: segments cannot follow a TRUNCATE on a Citus cluster yet',
				TG_RELID::pg_catalog.regclass
			USING ERRCODE = 'feature_not_supported',
			DETAIL = 'Citus truncates the shards after the table''s triggers have run, and segments would miss the rows removed.',
			HINT = format('Delete the rows instead (DELETE FROM %s), which is maintained, or detach the table first.',
				TG_RELID::pg_catalog.regclass);
	END IF;
	IF segments._truncate_done(TG_RELID) THEN
		RETURN NULL;
	END IF;
	PERFORM segments._writers_lock(false);
	ids := segments._role_segments(TG_ARGV[0], t.source);
	IF ids IS NOT NULL THEN
		PERFORM segments._take_all_turns();
		PERFORM segments._maintain(ids, NULL::text[], 'write');
	END IF;
	RETURN NULL;
END
$$;

-- Detaching one event source: refused while a rule reads it.
DROP FUNCTION segments.detach_events();
CREATE FUNCTION segments.detach_events(source text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	a segments.attached;
BEGIN
	LOCK TABLE segments.attached IN SHARE ROW EXCLUSIVE MODE;
	PERFORM segments._lock();
	a := segments._event_source(detach_events.source);
	PERFORM segments._detach_source(a);
END
$$;
COMMENT ON FUNCTION segments.detach_events(text) IS
	'detach an event source (the only one unless named), unless a segment''s rule reads it';

CREATE FUNCTION segments._detach_source(a segments.attached) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	users text;
	n bigint;
	rel oid;
BEGIN
	SELECT count(*), string_agg(segments._segment_label(s.name, s.tenant), ', ' ORDER BY s.name, s.tenant)
	INTO n, users
	FROM segments.segment s
	WHERE EXISTS (SELECT FROM segments.segment_reference r
		WHERE r.segment_id = s.id AND r.kind IN ('event', 'event_field')
			AND (r.source IS NULL OR r.source = a.source));
	IF n > 0 THEN
		RAISE EXCEPTION 'cannot detach event source "%": segment% % read% it', a.source,
			CASE WHEN n = 1 THEN '' ELSE 's' END, users, CASE WHEN n = 1 THEN 's' ELSE '' END
			USING ERRCODE = 'dependent_objects_still_exist',
			HINT = 'Drop those segments or alter their rules first.';
	END IF;
	FOR rel IN
		SELECT t.relid FROM segments._attached_tables() t
		WHERE t.role = 'events' AND t.root = pg_catalog.to_regclass(pg_catalog.format('%I.%I', a.table_schema, a.table_name))
			AND t.relid IN (SELECT g.relid FROM segments._triggered() g)
		ORDER BY t.relid
	LOOP
		PERFORM segments._drop_triggers_on(rel);
	END LOOP;
	DELETE FROM segments.attached x WHERE x.role = 'events' AND x.source = a.source;
END
$$;

-- The new functions, as every function: not executable by PUBLIC; the
-- documented ones granted to the roles that use them.
REVOKE ALL ON FUNCTION
	segments._key_per_tenant(), segments._contact_type(), segments._member_key(text),
	segments._member_columns(), segments._member_values(text),
	segments._drop_preview(), segments._preview_sql(segments.rule, integer, text, boolean),
	segments._equip_log(), segments._create_members_view(), segments._create_preview(text),
	segments._log_writing(), segments._log_last_id(), segments._log_watermark(), segments._log_watermarks(),
	segments._size_history(bigint, timestamptz, timestamptz, interval), segments._logged_segment_id(bigint),
	segments.size_history(text, timestamptz, timestamptz, interval, anycompatible),
	segments.size_history(bigint, timestamptz, timestamptz, interval),
	segments._history(bigint, timestamptz, timestamptz),
	segments.history(text, timestamptz, timestamptz, anycompatible),
	segments.history(bigint, timestamptz, timestamptz),
	segments.changes(text, integer), segments.prune_log(timestamptz),
	segments._log_truncated(), segments._rollup_log(), segments._drop_contact_objects(),
	segments._on_drop_extension(), segments._restoring_dump(), segments._merge_one_row(),
	segments._drop_leftover_contact_objects(), segments.verify_all(), segments.refresh_all(),
	segments._on_replicated_write(), segments._trigger_firing(regprocedure),
	segments._set_trigger_firing(oid), segments.upgrade_attachments(),
	segments._kind_enums(), segments._rule_rename_event_kind(segments.rule, text, text, text, text),
	segments._follow_label_renames(jsonb), segments.attach_contacts(regclass, name, name, text),
	segments.attach_events(regclass, name, name, name, text, text, text, name),
	segments.attach_lists(regclass, name, name, name, text, name), segments._tenant_column(regclass, text, name, smallint),
	segments._rename_field(jsonb, text, text, text, text, text),
	segments._time_zone(text), segments.set_time_zone(regclass, text),
	segments._rule_name_sources(segments.rule), segments._event_source(text),
	segments.detach_events(text), segments._detach_source(segments.attached),
	segments._attached_tables(), segments._maintain_rows(text, oid[], text),
	segments._drop_attached(text[], text[]), segments._column_users(text, text, text),
	segments._role_segments(text, text), segments._refuse_column_change(text, text, text, text, text),
	segments._follow_column_rename(text, text, text, text)
	FROM PUBLIC;

GRANT EXECUTE ON FUNCTION
	segments._key_per_tenant(), segments._contact_type(), segments._member_key(text),
	segments._preview_sql(segments.rule, integer, text, boolean),
	segments.changes(text, integer), segments._log_last_id(), segments._log_watermarks(), segments._summarize_log(),
	segments.size_history(text, timestamptz, timestamptz, interval, anycompatible),
	segments.size_history(bigint, timestamptz, timestamptz, interval),
	segments._size_history(bigint, timestamptz, timestamptz, interval),
	segments.history(text, timestamptz, timestamptz, anycompatible),
	segments.history(bigint, timestamptz, timestamptz),
	segments._history(bigint, timestamptz, timestamptz),
	segments._segment_id(text, text, boolean), segments._logged_segment_id(bigint)
	TO segments_reader;

GRANT EXECUTE ON FUNCTION segments.prune_log(timestamptz) TO segments_editor;

-- == Samples ==
--
-- A contact's bucket, 0 to 9999, under a seed: a documented hash of the
-- seed, the tenant's text and the key's text (src/bucket.c), which the
-- sample and bucket conditions of rules compare, in SQL and in C alike.
-- Part of the documented API: anyone may compute the bucket of a key.
CREATE FUNCTION segments.bucket(seed text, contact text, tenant text DEFAULT NULL) RETURNS integer
	AS 'MODULE_PATHNAME', 'segments_bucket'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION segments.bucket(text, text, text) IS
	'the bucket (0 to 9999) of the contact with this key and tenant (as text) under a seed, as the sample and bucket conditions of rules compute it';

-- == Overrides and static segments ==
--
-- A contact may be included in a segment or excluded from it by hand,
-- whatever the rule says: membership is (the rule or included) and not
-- excluded, in both evaluation paths, through alter and refresh.  A static
-- segment's members are fixed: built once from its rule (or frozen from a
-- segment's members), they are its included contacts, changed only by
-- include and exclude; writes and time leave them be (but a deleted
-- contact leaves).  docs/design.md, "Overrides and static segments".
ALTER TABLE segments.segment
	ADD COLUMN overridden boolean NOT NULL DEFAULT false,
	ADD COLUMN static boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN segments.segment.overridden IS
	'contacts have been included or excluded by hand: the write path reads segments.override for it';
COMMENT ON COLUMN segments.segment.static IS
	'the members are fixed: the contacts included (its rule is what it was built from)';

-- segments.override, beside the membership and typed like it (by
-- attach_contacts, and by upgrade_attachments for contacts attached
-- before); and the log's cause 'manual'.
CREATE FUNCTION segments._create_overrides() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	key_type text;
	tenant_type text;
BEGIN
	IF pg_catalog.to_regclass('segments.membership') IS NULL THEN
		RETURN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint c
			WHERE c.conrelid = 'segments.membership_log'::pg_catalog.regclass
				AND c.conname = 'membership_log_cause_check'
				AND pg_catalog.pg_get_constraintdef(c.oid) LIKE '%manual%') THEN
		ALTER TABLE segments.membership_log DROP CONSTRAINT membership_log_cause_check,
			ADD CONSTRAINT membership_log_cause_check
			CHECK (cause IN ('build', 'alter', 'refresh', 'write', 'time', 'drop', 'manual'));
	END IF;
	IF pg_catalog.to_regclass('segments.override') IS NOT NULL THEN
		RETURN;
	END IF;
	SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO key_type
	FROM pg_catalog.pg_attribute a
	WHERE a.attrelid = 'segments.membership'::pg_catalog.regclass AND a.attname = 'contact';
	SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO tenant_type
	FROM pg_catalog.pg_attribute a
	WHERE a.attrelid = 'segments.membership'::pg_catalog.regclass AND a.attname = 'tenant'
		AND NOT a.attisdropped;
	EXECUTE format($ddl$
		CREATE TABLE segments.override (
			segment_id bigint NOT NULL,
			%s
			contact %s NOT NULL,
			included boolean NOT NULL,
			at timestamptz NOT NULL DEFAULT now(),
			made_by name NOT NULL DEFAULT session_user,
			PRIMARY KEY (segment_id, %s))$ddl$,
		CASE WHEN tenant_type IS NOT NULL THEN format('tenant %s NOT NULL,', tenant_type) ELSE '' END,
		key_type, segments._member_columns());
	-- the write path reads a contact's overrides by its key
	EXECUTE format('CREATE INDEX override_contact_idx ON segments.override (%s, segment_id)',
		segments._member_columns());
	COMMENT ON TABLE segments.override IS
		'contacts included in (included) or excluded from a segment by hand: segments.include(), exclude(), remove_override()';
	ALTER TABLE segments.override ENABLE ROW LEVEL SECURITY;
	EXECUTE format($ddl$
		CREATE POLICY visible_contacts ON segments.override FOR SELECT
			USING ((SELECT segments._sees_all_contacts())
				OR segments._contact_visible(%s))$ddl$, segments._member_key('override'));
	GRANT SELECT ON segments.override TO segments_reader;
	PERFORM segments._sync_data_owner();
	-- made by the upgrade's script, it would join the extension: it belongs
	-- to the attachment, as attach_contacts makes it (detach drops it)
	IF EXISTS (SELECT FROM pg_catalog.pg_depend d
			WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
				AND d.objid = 'segments.override'::pg_catalog.regclass AND d.deptype = 'e') THEN
		ALTER EXTENSION segments DROP TABLE segments.override;
	END IF;
END
$$;

-- 0.1's, and the contacts table's owner also reads the overrides: the
-- write path and the SQL of a segment's members read them as that owner.
CREATE OR REPLACE FUNCTION segments._sync_data_owner() RETURNS void
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
		IF pg_catalog.to_regclass('segments.override') IS NOT NULL THEN
			EXECUTE format('REVOKE SELECT ON segments.override FROM %s', former);
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
	IF owner IS NOT NULL AND pg_catalog.to_regclass('segments.override') IS NOT NULL AND NOT EXISTS (SELECT
			FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) g
			WHERE c.oid = pg_catalog.to_regclass('segments.override') AND g.grantee = owner
				AND g.privilege_type = 'SELECT') THEN
		EXECUTE format('GRANT SELECT ON segments.override TO %s', owner::regrole);
	END IF;
END
$$;

-- The SQL of a segment's members now: its rule's, but for the contacts
-- included or excluded by hand (a static segment's: the included).
CREATE FUNCTION segments._overridden_sql(compiled text, id bigint, tenant text) RETURNS text
	AS 'MODULE_PATHNAME', 'segments_overridden_sql' LANGUAGE C STABLE;
CREATE FUNCTION segments._segment_sql(s segments.segment, few boolean DEFAULT false) RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	IF NOT s.overridden AND NOT s.static THEN
		RETURN segments._compile(s.rule, s.tenant, few => few);
	END IF;
	RETURN segments._overridden_sql(
		CASE WHEN NOT s.static THEN segments._compile(s.rule, s.tenant, few => few) END, s.id, s.tenant);
END
$$;

-- 0.1's, reading a segment's members with its overrides.
CREATE OR REPLACE FUNCTION segments._apply_dependents(id bigint, cause text) RETURNS bigint
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
		n := n + segments._apply(s.id, segments._segment_sql(s), cause);
	END LOOP;
	RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION segments._refresh(id bigint) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
	n bigint;
BEGIN
	s := segments._segment(id, true);
	n := segments._apply(s.id, segments._segment_sql(s), 'refresh');
	IF n > 0 THEN
		PERFORM segments._apply_dependents(s.id, 'refresh');
	END IF;
	RETURN n;
END
$$;

-- A static segment keeps the rule it was built from: a new rule would be
-- a new snapshot, made by creating one.
CREATE OR REPLACE FUNCTION segments._alter(id bigint, rule segments.rule) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
BEGIN
	PERFORM segments._check_rule(rule);
	s := segments._segment(id, true);
	IF s.static THEN
		RAISE EXCEPTION 'segment % is static', segments._segment_label(s.name, s.tenant)
			USING ERRCODE = 'object_not_in_prerequisite_state',
			DETAIL = 'Its members are fixed; its rule is the one it was built from.',
			HINT = 'Change its members with segments.include() and segments.exclude(), or create a static segment of the new rule.';
	END IF;
	UPDATE segments.segment g SET rule = _alter.rule, updated_at = now() WHERE g.id = s.id;
	PERFORM segments._set_references(s.id);
	s := segments._segment(s.id);
	IF segments._apply(s.id, segments._segment_sql(s), 'alter') > 0 THEN
		PERFORM segments._apply_dependents(s.id, 'alter');
	END IF;
	PERFORM segments._say_lint(s.id);
END
$$;

-- Make a segment static: its members become its included contacts (those
-- included already stay so), its rule is no longer applied and refers to
-- nothing (the segments it names may be dropped).  Its membership does
-- not change.
CREATE FUNCTION segments._freeze(id bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment;
BEGIN
	s := segments._segment(id, true);
	IF s.static THEN
		RETURN;
	END IF;
	EXECUTE format('INSERT INTO segments.override AS o (segment_id, %s, included)
		SELECT m.segment_id, %s, true FROM segments.membership m WHERE m.segment_id = $1
		ON CONFLICT (segment_id, %s) DO NOTHING',
		segments._member_columns(), segments._member_values(segments._member_key('m')),
		segments._member_columns())
	USING s.id;
	UPDATE segments.segment g SET static = true, overridden = true, updated_at = now() WHERE g.id = s.id;
	DELETE FROM segments.segment_reference r WHERE r.segment_id = s.id;
END
$$;

CREATE FUNCTION segments.freeze_segment(name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._freeze(segments._segment_id(name, NULL, false));
END
$$;
COMMENT ON FUNCTION segments.freeze_segment(text) IS
	'make a segment static: its current members stay, and only segments.include() and exclude() change them';

CREATE FUNCTION segments.freeze_segment(name text, tenant anycompatible) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._freeze(segments._segment_id(name, segments._tenant_text(tenant), true));
END
$$;

CREATE FUNCTION segments.freeze_segment(id bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	PERFORM segments._lock();
	PERFORM segments._freeze(id);
END
$$;

-- A static segment: built from the rule, then frozen.
CREATE FUNCTION segments.create_segment(name text, rule segments.rule, static boolean) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	new_id bigint := segments._create(name, rule, NULL);
BEGIN
	IF static THEN
		PERFORM segments._freeze(new_id);
	END IF;
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION segments.create_segment(text, segments.rule, boolean) IS
	'create a segment over all contacts; static: its members are fixed at those its rule selects now';

CREATE FUNCTION segments.create_segment(name text, rule segments.rule, tenant anycompatible, static boolean)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	new_id bigint := segments._create(name, rule, segments._tenant_text(tenant));
BEGIN
	IF static THEN
		PERFORM segments._freeze(new_id);
	END IF;
	RETURN new_id;
END
$$;
COMMENT ON FUNCTION segments.create_segment(text, segments.rule, anycompatible, boolean) IS
	'create a segment over one tenant''s contacts; static: its members are fixed at those its rule selects now';

-- Include, exclude, remove an override: the contact as the caller sees it
-- (src/override.c); returns the joins and leaves made.
CREATE FUNCTION segments._override(id bigint, contact anyelement, included boolean) RETURNS bigint
	AS 'MODULE_PATHNAME', 'segments_override' LANGUAGE C;

CREATE FUNCTION segments.include(segment text, contact anyelement) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._override(segments._segment_id(segment, NULL, false), contact, true);
END
$$;
COMMENT ON FUNCTION segments.include(text, anyelement) IS
	'make the contact a member of the segment whatever its rule says (until remove_override); returns the joins and leaves made';
CREATE FUNCTION segments.include(segment text, contact anyelement, tenant anycompatible) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._override(segments._segment_id(segment, segments._tenant_text(tenant), true), contact, true);
END
$$;
CREATE FUNCTION segments.include(segment_id bigint, contact anyelement) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._override(segment_id, contact, true);
END
$$;

CREATE FUNCTION segments.exclude(segment text, contact anyelement) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._override(segments._segment_id(segment, NULL, false), contact, false);
END
$$;
COMMENT ON FUNCTION segments.exclude(text, anyelement) IS
	'keep the contact out of the segment whatever its rule says (until remove_override); returns the joins and leaves made';
CREATE FUNCTION segments.exclude(segment text, contact anyelement, tenant anycompatible) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._override(segments._segment_id(segment, segments._tenant_text(tenant), true), contact, false);
END
$$;
CREATE FUNCTION segments.exclude(segment_id bigint, contact anyelement) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._override(segment_id, contact, false);
END
$$;

CREATE FUNCTION segments.remove_override(segment text, contact anyelement) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._override(segments._segment_id(segment, NULL, false), contact, NULL);
END
$$;
COMMENT ON FUNCTION segments.remove_override(text, anyelement) IS
	'let the segment''s rule decide for the contact again (for a static segment: remove it); returns the joins and leaves made';
CREATE FUNCTION segments.remove_override(segment text, contact anyelement, tenant anycompatible) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._override(segments._segment_id(segment, segments._tenant_text(tenant), true), contact, NULL);
END
$$;
CREATE FUNCTION segments.remove_override(segment_id bigint, contact anyelement) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
	RETURN segments._override(segment_id, contact, NULL);
END
$$;

REVOKE ALL ON FUNCTION
	segments._create_overrides(), segments._overridden_sql(text, bigint, text),
	segments._segment_sql(segments.segment, boolean), segments._freeze(bigint),
	segments._override(bigint, anyelement, boolean),
	segments.freeze_segment(text), segments.freeze_segment(text, anycompatible), segments.freeze_segment(bigint),
	segments.create_segment(text, segments.rule, boolean),
	segments.create_segment(text, segments.rule, anycompatible, boolean),
	segments.include(text, anyelement), segments.include(text, anyelement, anycompatible),
	segments.include(bigint, anyelement),
	segments.exclude(text, anyelement), segments.exclude(text, anyelement, anycompatible),
	segments.exclude(bigint, anyelement),
	segments.remove_override(text, anyelement), segments.remove_override(text, anyelement, anycompatible),
	segments.remove_override(bigint, anyelement)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	segments.freeze_segment(text), segments.freeze_segment(text, anycompatible), segments.freeze_segment(bigint),
	segments.create_segment(text, segments.rule, boolean),
	segments.create_segment(text, segments.rule, anycompatible, boolean),
	segments.include(text, anyelement), segments.include(text, anyelement, anycompatible),
	segments.include(bigint, anyelement),
	segments.exclude(text, anyelement), segments.exclude(text, anyelement, anycompatible),
	segments.exclude(bigint, anyelement),
	segments.remove_override(text, anyelement), segments.remove_override(text, anyelement, anycompatible),
	segments.remove_override(bigint, anyelement)
	TO segments_editor;

-- == Lint ==
--
-- The conditions of a valid rule that look wrong for the data (an event
-- kind or a list no row has, a jsonb key never present, a literal of the
-- wrong JSON type, a case that differs, a tenant without contacts), from
-- indexes, statistics and bounded samples, read as the calling role
-- (src/lint.c).  create_segment and alter_segment say them as NOTICEs of
-- SQLSTATE 01000 and go on.
CREATE FUNCTION segments._lint(rule segments.rule, tenant text,
	OUT condition text, OUT warning text, OUT hint text) RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'segments_lint' LANGUAGE C STABLE;
CREATE FUNCTION segments.lint(rule segments.rule,
	OUT condition text, OUT warning text, OUT hint text) RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM segments._lint(rule, NULL)
$$;
COMMENT ON FUNCTION segments.lint(segments.rule) IS
	'the conditions of the rule that look wrong for the data, with a warning and a hint each (an unknown event kind or list, a jsonb key never present, ...)';
CREATE FUNCTION segments.lint(rule segments.rule, tenant anycompatible,
	OUT condition text, OUT warning text, OUT hint text) RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp AS $$
	SELECT * FROM segments._lint(rule, segments._tenant_text(tenant))
$$;
COMMENT ON FUNCTION segments.lint(segments.rule, anycompatible) IS
	'lint within a tenant: also says when the tenant has no contacts';

-- The warnings of a segment's rule, as NOTICEs (01000).
CREATE FUNCTION segments._say_lint(id bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	s segments.segment := segments._segment(id);
	w record;
BEGIN
	IF s.static THEN
		RETURN;
	END IF;
	FOR w IN SELECT * FROM segments._lint(s.rule, s.tenant) LOOP
		IF w.hint IS NULL THEN
			RAISE NOTICE 'segment %: %', segments._segment_label(s.name, s.tenant), w.warning
				USING ERRCODE = '01000', DETAIL = coalesce('In: ' || w.condition, 'The segment''s tenant.');
		ELSE
			RAISE NOTICE 'segment %: %', segments._segment_label(s.name, s.tenant), w.warning
				USING ERRCODE = '01000', DETAIL = coalesce('In: ' || w.condition, 'The segment''s tenant.'),
				HINT = w.hint;
		END IF;
	END LOOP;
END
$$;

REVOKE ALL ON FUNCTION segments._lint(segments.rule, text), segments.lint(segments.rule),
	segments.lint(segments.rule, anycompatible), segments._say_lint(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION segments._lint(segments.rule, text), segments.lint(segments.rule),
	segments.lint(segments.rule, anycompatible) TO segments_reader;

-- == Citus (docs/design.md, "On a Citus cluster") ==
--
-- Nothing here needs Citus: without it every test says "not a Citus
-- table", and the functions that call Citus's own run only on one.

-- Refuses to attach a table of a layout segments cannot maintain shard by
-- shard (tenant: the column naming the tenant, NULL when none); for a
-- Citus table, sets what creating its triggers and the distributed
-- objects in one transaction needs.
CREATE FUNCTION segments._citus_check(role text, tbl regclass, tenant name) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	method "char" := segments._citus_method(tbl);
	contacts regclass;
	distributed_by name;
	colocated boolean;
BEGIN
	IF role <> 'contacts' THEN
		SELECT format('%I.%I', a.table_schema, a.table_name)::pg_catalog.regclass INTO contacts
		FROM segments.attached a WHERE a.role = 'contacts';
		IF contacts IS NOT NULL AND segments._citus_method(contacts) IS NULL THEN
			contacts := NULL;
		END IF;
	END IF;
	IF method IS NULL THEN
		IF contacts IS NOT NULL THEN
			RAISE EXCEPTION 'table % is not distributed', tbl
				USING ERRCODE = 'feature_not_supported',
				DETAIL = format('The contacts table %s is distributed by Citus: membership is maintained on the node of each tenant, which needs the %s there too.', contacts, role),
				HINT = format('Distribute it by its tenant column, co-located with the contacts: SELECT create_distributed_table(%L, %L, colocate_with => %L).',
					tbl::text, coalesce(tenant, 'tenant'), contacts::text);
		END IF;
		RETURN;
	END IF;
	IF tenant IS NULL THEN
		RAISE EXCEPTION 'table % is distributed by Citus, but no tenant column was given', tbl
			USING ERRCODE = 'feature_not_supported',
			DETAIL = 'segments maintains membership on the node of each tenant: the contacts, events and lists are distributed by the tenant.',
			HINT = 'Attach the contacts with tenant => the column the table is distributed by.';
	END IF;
	EXECUTE 'SELECT pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1'
		INTO distributed_by USING tbl;
	IF method <> 'h' OR distributed_by IS DISTINCT FROM tenant THEN
		RAISE EXCEPTION 'table % is not distributed by its tenant column %', tbl, tenant
			USING ERRCODE = 'feature_not_supported',
			DETAIL = CASE WHEN method = 'n' THEN 'It is a Citus reference table (a copy on every node).'
				WHEN distributed_by IS NULL THEN 'It is a Citus table without a distribution column.'
				ELSE format('It is distributed by column %I.', distributed_by) END
				|| ' segments maintains membership on the node of each tenant.',
			HINT = format('Distribute it by the tenant: SELECT undistribute_table(%L); SELECT create_distributed_table(%L, %L%s).',
				tbl::text, tbl::text, tenant, CASE WHEN contacts IS NULL THEN '' ELSE format(', colocate_with => %L', contacts::text) END);
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = tbl AND c.relkind = 'p') THEN
		RAISE EXCEPTION 'table % is partitioned', tbl
			USING ERRCODE = 'feature_not_supported',
			DETAIL = 'segments does not maintain partitioned tables distributed by Citus: a write fires on a partition''s shard.',
			HINT = 'Attach a table that is not partitioned.';
	END IF;
	IF contacts IS NOT NULL THEN
		EXECUTE 'SELECT (SELECT p.colocationid FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1) '
			'= (SELECT p.colocationid FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $2)'
			INTO colocated USING tbl, contacts;
		IF NOT colocated THEN
			RAISE EXCEPTION 'table % is not co-located with the contacts table %', tbl, contacts
				USING ERRCODE = 'feature_not_supported',
				DETAIL = 'A tenant''s events and lists must be on the node of its contacts.',
				HINT = format('SELECT update_distributed_table_colocation(%L, colocate_with => %L).', tbl::text, contacts::text);
		END IF;
	END IF;
	-- the triggers, then distributed tables and a type: one connection a node
	PERFORM pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
	PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
END
$$;

-- What a catalog change does in each shard group of a Citus cluster
-- (src/shard_task.c): segments.shard_task, which attaching distributed
-- contacts makes beside them; a row inserted into a shard runs its task
-- there.
CREATE FUNCTION segments._on_shard_task() RETURNS trigger
	AS 'MODULE_PATHNAME', 'segments_on_shard_task' LANGUAGE C;

-- Runs an apply or a drop of segment id (logged with cause) in every shard
-- group, returning the sum of the groups' changes: _apply's and _drop's
-- work on a Citus cluster (builds and ticks start their tasks in C).
CREATE FUNCTION segments._run_shard_task(task text, id bigint, cause text) RETURNS bigint
	AS 'MODULE_PATHNAME', 'segments_run_shard_task' LANGUAGE C VOLATILE STRICT;

-- Every catalog change bumps catalog_version (_writers_lock): on each node
-- whose copy it updates, the node's writers' lock and caches follow.
CREATE FUNCTION segments._on_catalog_version() RETURNS trigger
	AS 'MODULE_PATHNAME', 'segments_on_catalog_version' LANGUAGE C;
CREATE TRIGGER follow_on_node AFTER UPDATE ON segments.catalog_version
	FOR EACH ROW EXECUTE FUNCTION segments._on_catalog_version();

-- Attaching distributed contacts: membership, its log and the overrides
-- distributed by tenant beside them, the catalog copied to every node.
CREATE FUNCTION segments._citus_distribute(contacts regclass) RETURNS void
LANGUAGE plpgsql
-- not Citus's notices of the catalog's rows it copies (and then removes)
SET client_min_messages = warning
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
	t text;
BEGIN
	IF segments._citus_method(contacts) IS NULL THEN
		RETURN;
	END IF;
	-- the tasks of catalog changes in each shard group: always empty
	EXECUTE format($ddl$
		CREATE TABLE segments.shard_task (
			tenant %s NOT NULL,
			task text NOT NULL CHECK (task IN ('build', 'apply', 'drop', 'tick', 'contact')),
			segment_id bigint,
			clock timestamptz NOT NULL,		-- the rules' clock of the change
			contact text,					-- of a task of one contact
			rule segments.rule,				-- of a build or an apply (NULL: static),
			rule_tenant text,				-- its segment's tenant,
			overridden boolean,				-- whether overrides decide too
			cause text,						-- and the cause to log
			result bigint)$ddl$,
		(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a
			WHERE a.attrelid = 'segments.membership'::pg_catalog.regclass AND a.attname = 'tenant'));
	COMMENT ON TABLE segments.shard_task IS
		'always empty: on a Citus cluster, an insert into a shard runs a task of a catalog change in its shard group';
	CREATE TRIGGER run_in_shard_group BEFORE INSERT ON segments.shard_task
		FOR EACH ROW EXECUTE FUNCTION segments._on_shard_task();
	REVOKE ALL ON segments.shard_task FROM PUBLIC;
	EXECUTE 'SELECT pg_catalog.create_distributed_table(''segments.shard_task'', ''tenant'', colocate_with => $1)'
		USING contacts::text;
	-- Citus takes no subquery in a policy of a distributed table
	FOREACH t IN ARRAY ARRAY['membership', 'membership_log', 'override'] LOOP
		EXECUTE format('DROP POLICY visible_contacts ON segments.%I', t);
		EXECUTE format($ddl$
			CREATE POLICY visible_contacts ON segments.%I FOR SELECT
				USING (segments._sees_all_contacts() OR segments._contact_visible(%s))$ddl$,
			t, segments._member_key(t));
		EXECUTE 'SELECT pg_catalog.create_distributed_table($1, ''tenant'', colocate_with => $2)'
			USING 'segments.' || t, contacts::text;
	END LOOP;
	FOREACH t IN ARRAY ARRAY['attached', 'segment', 'segment_reference', 'segment_state', 'catalog_version',
			'log_state'] LOOP
		IF segments._citus_method(('segments.' || t)::pg_catalog.regclass) IS NULL THEN
			EXECUTE 'SELECT pg_catalog.create_reference_table($1)' USING 'segments.' || t;
			EXECUTE 'SELECT pg_catalog.truncate_local_data_after_distributing_table($1)' USING 'segments.' || t;
		END IF;
	END LOOP;
END
$$;

-- The statistics: each segment's members counted at once, grouped, which
-- Citus runs on every node (it takes no count correlated with a row of a
-- reference table).
CREATE OR REPLACE FUNCTION segments._stats()
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
		coalesce(c.members, 0),
		greatest(st.last_change, r.last_change),
		t.ticked_at,
		st.swept_to,
		CASE WHEN segments.rule_depends_on_time(s.rule) THEN segments.now() - st.swept_to END
	FROM segments.segment s
	LEFT JOIN (SELECT m.segment_id, count(*) AS members FROM segments.membership m GROUP BY m.segment_id) c
		ON c.segment_id = s.id
	LEFT JOIN segments.segment_state st ON st.segment_id = s.id
	LEFT JOIN segments._recent_changes() r ON r.segment_id = s.id
	CROSS JOIN segments.tick_state t
	ORDER BY s.id;
END
$$;

-- Whether row-level security leaves the current role every contact: in C,
-- kept for a query, since on a Citus cluster the policies call it for each
-- row (Citus takes no subquery in them) in each shard's query, where it
-- reads the catalog's copy on that node.
CREATE OR REPLACE FUNCTION segments._sees_all_contacts() RETURNS boolean
	AS 'MODULE_PATHNAME', 'segments_sees_all_contacts' LANGUAGE C STABLE;

REVOKE ALL ON FUNCTION segments._citus_method(regclass), segments._citus_worker(),
	segments._citus_check(text, regclass, name), segments._on_shard_task(), segments._on_catalog_version(),
	segments._run_shard_task(text, bigint, text),
	segments._citus_distribute(regclass) FROM PUBLIC;

-- An installation with tables attached: what attach_* made, as it now makes it.
SELECT segments.upgrade_attachments();
