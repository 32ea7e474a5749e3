-- One event for a hot contact (most of the time) or any contact, in the
-- windows the rules use.
\set c random(1, 5000)
\set h random(4001, 4010)
\set k random(0, 9)
\set m random(0, 50000)
INSERT INTO public.events (contact_id, kind, occurred_at, campaign, url)
VALUES (CASE WHEN :k < 7 THEN :h ELSE :c END,
        (ARRAY['opened', 'opened', 'opened', 'opened', 'clicked', 'clicked', 'delivered', 'delivered', 'unsubscribed', 'opened'])[:k + 1],
        timestamptz '2025-06-15 12:00:00+00' - :m * interval '1 minute',
        'stress', CASE WHEN :k IN (4, 5) THEN 'https://example.com/pricing' END);
