-- Deterministic sample data for benchmarks and the demo.
--
--   psql -v contacts=1000000 -v events=10000000 -v tenants=100 -f bench/data.sql
--
-- contacts (with a tenant column and jsonb properties), events over the
-- year before segments.now(), a shop's purchases (an event source of one
-- kind), and list memberships with a status and a time.  Values come from
-- arithmetic on the row number, so every run produces the same data.

\set ON_ERROR_STOP 1
SELECT :'contacts'::bigint AS n_contacts, :'events'::bigint AS n_events,
       :'tenants'::int AS n_tenants \gset

DROP TABLE IF EXISTS public.contacts, public.events, public.purchases, public.list_members CASCADE;

CREATE TABLE public.contacts (
    id          bigint PRIMARY KEY,
    account_id  integer NOT NULL,
    email       text,
    country     text,
    plan        text,
    score       integer,
    created_at  timestamptz NOT NULL,
    tags        text[],
    props       jsonb
);

INSERT INTO public.contacts
SELECT i,
       1 + i % :n_tenants,
       CASE WHEN i % 50 = 0 THEN NULL
            ELSE 'user' || i || (ARRAY['@gmail.com', '@yahoo.com', '@example.com', '@Outlook.com'])[1 + i % 4] END,
       (ARRAY['US', 'US', 'US', 'CA', 'GB', 'DE', 'FR', NULL])[1 + (i * 7) % 8],
       (ARRAY['free', 'free', 'free', 'pro', 'pro', 'team'])[1 + (i * 13) % 6],
       CASE WHEN i % 17 = 0 THEN NULL ELSE (i * 7919) % 101 END,
       timestamptz '2025-06-15 12:00:00+00' - ((i * 104729) % 730) * interval '1 day'
           - ((i * 31) % 1440) * interval '1 minute',
       CASE (i * 3) % 5 WHEN 0 THEN ARRAY['vip'] WHEN 1 THEN ARRAY['beta', 'vip'] WHEN 2 THEN '{}' ELSE NULL END,
       CASE WHEN i % 23 = 0 THEN NULL
            ELSE jsonb_build_object('ltv', (i * 48271) % 5000,
                                    'city', (ARRAY['Paris', 'Berlin', 'Austin', 'Toronto', 'Lyon'])[1 + i % 5],
                                    'vip', i % 9 = 0) END
FROM generate_series(1::bigint, :n_contacts) AS i;

CREATE TABLE public.events (
    id           bigint PRIMARY KEY,
    contact_id   bigint NOT NULL,
    kind         text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    campaign     text,
    url          text
);

-- Each event's contact, kind and time come from independent hashes of its
-- number: a few contacts are very active (the contact is drawn with a cubic
-- skew), many have a handful of events, some have none.
INSERT INTO public.events
SELECT j,
       1 + floor(:n_contacts * power((hashint8(j)::float8 + 2147483648) / 4294967296, 3))::bigint,
       (ARRAY['delivered', 'delivered', 'delivered', 'opened', 'opened', 'clicked', 'bounced', 'unsubscribed'])[1 + (hashint8(-j) & 7)],
       timestamptz '2025-06-15 12:00:00+00'
           - floor((hashint8(j + 1000000000000)::float8 + 2147483648) / 4294967296 * 525600) * interval '1 minute',
       'campaign-' || (j * 17) % 40,
       CASE WHEN (hashint8(-j) & 7) = 5
            THEN (ARRAY['https://example.com/pricing', 'https://example.com/blog', 'https://example.com/docs'])[1 + (hashint8(j * 3) & 3) % 3] END
FROM generate_series(1::bigint, :n_events) AS j;

CREATE INDEX ON public.events (contact_id, kind, occurred_at);

-- A shop's orders, one per two contacts: a purchase of an amount in a
-- currency; most contacts buy nothing, a few often (a square skew).
CREATE TABLE public.purchases (
    id            bigint PRIMARY KEY,
    contact_id    bigint NOT NULL,
    amount        numeric(10, 2) NOT NULL,
    currency      text NOT NULL,
    purchased_at  timestamptz NOT NULL
);

INSERT INTO public.purchases
SELECT j,
       1 + floor(:n_contacts * power((hashint8(j + 2000000000000)::float8 + 2147483648) / 4294967296, 2))::bigint,
       5 + (hashint8(j + 3000000000000) & 65535) % 49500 / 100.0,
       (ARRAY['EUR', 'EUR', 'USD', 'GBP'])[1 + (hashint8(j + 4000000000000) & 3)],
       timestamptz '2025-06-15 12:00:00+00'
           - floor((hashint8(j + 5000000000000)::float8 + 2147483648) / 4294967296 * 525600) * interval '1 minute'
FROM generate_series(1::bigint, :n_contacts / 2) AS j;

CREATE INDEX ON public.purchases (contact_id, purchased_at);

CREATE TABLE public.list_members (
    contact_id    bigint NOT NULL,
    list_id       integer NOT NULL,
    status        text NOT NULL DEFAULT 'subscribed',
    subscribed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (list_id, contact_id)
);

-- About two lists per contact, drawn by hashing (contact, list); one row
-- in five unsubscribed since; joined at a time of the year.
INSERT INTO public.list_members
SELECT i, l,
       CASE WHEN (hashint8(i * 20 + l + 7) & 15) < 3 THEN 'unsubscribed' ELSE 'subscribed' END,
       timestamptz '2025-06-15 12:00:00+00'
           - floor((hashint8(i * 20 + l + 11)::float8 + 2147483648) / 4294967296 * 525600) * interval '1 minute'
FROM generate_series(1::bigint, :n_contacts) AS i, generate_series(1, 20) AS l
WHERE hashint8(i * 20 + l) % 10 = 0;

VACUUM ANALYZE public.contacts, public.events, public.purchases, public.list_members;
