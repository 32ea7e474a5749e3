-- Several events in one statement, over several hot contacts.
\set h random(4001, 4010)
\set n random(2, 6)
\set m random(1, 300)
INSERT INTO public.events (contact_id, kind, occurred_at, campaign, url)
SELECT 4001 + (:h + g) % 10, (ARRAY['opened', 'clicked', 'opened', 'delivered'])[1 + g % 4],
       timestamptz '2025-06-15 12:00:00+00' - (g * :m) * interval '1 hour',
       'stress', CASE WHEN g % 4 = 1 THEN 'https://example.com/pricing/' || g END
FROM generate_series(1, :n) AS g;
