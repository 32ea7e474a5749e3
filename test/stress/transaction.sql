-- An explicit transaction of several statements on one hot contact: the
-- contact first, then its events and lists.
\set h random(4001, 4010)
\set r random(0, 9)
BEGIN;
UPDATE public.contacts SET score = (:r * 17) % 101, country = (ARRAY['US', 'GB'])[1 + :r % 2] WHERE id = :h;
INSERT INTO public.events (contact_id, kind, occurred_at, campaign)
VALUES (:h, 'opened', timestamptz '2025-06-15 12:00:00+00' - :r * interval '1 day', 'stress'),
       (:h, 'opened', timestamptz '2025-06-15 12:00:00+00' - :r * interval '2 days', 'stress');
INSERT INTO public.list_members VALUES (:h, 7) ON CONFLICT DO NOTHING;
DELETE FROM public.events WHERE id = (SELECT min(id) FROM public.events WHERE contact_id = :h AND kind = 'opened' AND campaign = 'stress');
DELETE FROM public.list_members WHERE contact_id = :h AND list_id = CASE WHEN :r < 5 THEN 7 ELSE 1 END;
COMMIT;
