-- Attaching tables distributed by Citus (docs/design.md, "On a Citus
-- cluster"): run on the coordinator of a cluster of two workers
-- (test/scripts/citus.sh).
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE EXTENSION segments;
SELECT extversion FROM pg_extension WHERE extname = 'segments';
-- every node has it
SELECT nodeport > 0 AS worker, result FROM run_command_on_workers(
	$$SELECT extversion FROM pg_extension WHERE extname = 'segments'$$) ORDER BY nodeport;

-- An account's contacts, events and lists, numbered per account.
CREATE TABLE contacts (
	account_id bigint NOT NULL,
	id bigint NOT NULL,
	email text NOT NULL,
	country text,
	plan text,
	score integer,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id));
CREATE TABLE events (
	account_id bigint NOT NULL,
	id bigint GENERATED ALWAYS AS IDENTITY,
	contact_id bigint NOT NULL,
	kind text NOT NULL,
	occurred_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, id));
CREATE TABLE list_members (
	account_id bigint NOT NULL,
	contact_id bigint NOT NULL,
	list_id text NOT NULL,
	PRIMARY KEY (account_id, contact_id, list_id));

-- Contacts distributed by another column than the tenant: refused.
SELECT create_distributed_table('contacts', 'id');
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
-- Without a tenant: refused.
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT undistribute_table('contacts');
-- A reference table: refused.
SELECT create_reference_table('contacts');
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT undistribute_table('contacts');

-- Distributed by the tenant: attached.
SELECT create_distributed_table('contacts', 'account_id');
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
-- membership, its log and the overrides: distributed by tenant beside the
-- contacts; the catalog: a copy on every node
SELECT logicalrelid, partmethod,
	colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 'contacts'::regclass) AS with_contacts
FROM pg_dist_partition
WHERE logicalrelid::text LIKE 'segments.%' OR logicalrelid = 'contacts'::regclass
ORDER BY logicalrelid::text;
-- the write path's triggers are on every shard, but the one for replicated
-- writes, which a shard move would fire
SELECT result FROM run_command_on_workers($$
	SELECT string_agg(DISTINCT regexp_replace(tgname, '_[0-9]+$', ''), ', ' ORDER BY regexp_replace(tgname, '_[0-9]+$', ''))
	FROM pg_trigger WHERE tgrelid::regclass::text ~ '^contacts_[0-9]+$'$$);

-- Events not distributed, or not beside the contacts: refused.
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT create_distributed_table('events', 'account_id', colocate_with => 'none');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT update_distributed_table_colocation('events', colocate_with => 'contacts');
SELECT segments.attach_events('events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');

SELECT create_distributed_table('list_members', 'account_id', colocate_with => 'contacts');
SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list_id');
SELECT role, table_name, tenant_column FROM segments.attached ORDER BY role;

-- A partitioned table distributed by Citus: refused.
CREATE TABLE clicks (account_id bigint NOT NULL, contact_id bigint NOT NULL, kind text NOT NULL,
	at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE clicks_2025 PARTITION OF clicks FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
SELECT create_distributed_table('clicks', 'account_id', colocate_with => 'contacts');
SELECT segments.attach_events('clicks', contact => 'contact_id', kind => 'kind', at => 'at', source => 'clicks');
