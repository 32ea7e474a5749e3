-- public.list_members as a table partitioned by list (lists 1 to 10, and
-- the others), for the operations tests (test/ops/every_kind.sql,
-- test/scripts/logical.sh's subscriber): the triggers of partitions are
-- clones of the partitioned table's row-level ones.  Each partition has
-- its own primary key: PostgreSQL 15's pg_restore --clean cannot drop a
-- partition's key inherited from its partitioned table ("cannot drop
-- inherited constraint"), with or without segments.
CREATE TABLE public.list_members (
	contact_id bigint NOT NULL,
	list_id integer NOT NULL,
	status text NOT NULL DEFAULT 'subscribed',
	subscribed_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (list_id);
CREATE TABLE public.list_members_low PARTITION OF public.list_members (PRIMARY KEY (list_id, contact_id))
	FOR VALUES FROM (MINVALUE) TO (11);
CREATE TABLE public.list_members_high PARTITION OF public.list_members (PRIMARY KEY (list_id, contact_id))
	FOR VALUES FROM (11) TO (MAXVALUE);
