-- bench/data.sql's tables laid out as a multi-tenant schema numbering
-- contacts per account would be: the contacts' primary key is
-- (account_id, id), and the events, purchases and list rows carry the
-- contact's account_id, indexed with it.  data.sql gives contact i the
-- account 1 + i % tenants.
--
--   psql -v tenants=N -f bench/keyed.sql      (after bench/data.sql)

\set ON_ERROR_STOP 1
ALTER TABLE public.contacts DROP CONSTRAINT contacts_pkey, ADD PRIMARY KEY (account_id, id);
ALTER TABLE public.events ADD COLUMN account_id integer;
UPDATE public.events SET account_id = 1 + contact_id % :tenants;
ALTER TABLE public.events ALTER COLUMN account_id SET NOT NULL;
DROP INDEX public.events_contact_id_kind_occurred_at_idx;
CREATE INDEX ON public.events (account_id, contact_id, kind, occurred_at);
ALTER TABLE public.purchases ADD COLUMN account_id integer;
UPDATE public.purchases SET account_id = 1 + contact_id % :tenants;
ALTER TABLE public.purchases ALTER COLUMN account_id SET NOT NULL;
DROP INDEX public.purchases_contact_id_purchased_at_idx;
CREATE INDEX ON public.purchases (account_id, contact_id, purchased_at);
ALTER TABLE public.list_members ADD COLUMN account_id integer;
UPDATE public.list_members SET account_id = 1 + contact_id % :tenants;
ALTER TABLE public.list_members ALTER COLUMN account_id SET NOT NULL,
	DROP CONSTRAINT list_members_pkey, ADD PRIMARY KEY (list_id, account_id, contact_id);
VACUUM ANALYZE public.contacts, public.events, public.purchases, public.list_members;
