-- An explicit transaction that records an event, then touches its contact
-- (a common shape: log the activity, then update the contact).  Without
-- the extension it cannot deadlock with any other script here.
\set h random(4001, 4010)
\set r random(0, 9)
BEGIN;
INSERT INTO public.events (contact_id, kind, occurred_at, campaign)
VALUES (:h, (ARRAY['opened', 'clicked'])[1 + :r % 2], timestamptz '2025-06-15 12:00:00+00' - :r * interval '3 days', 'stress');
UPDATE public.contacts SET score = (coalesce(score, 0) + 7) % 101 WHERE id = :h;
COMMIT;
