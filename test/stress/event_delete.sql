-- Recent events leave: deleted, moved out of the windows, changed kind or
-- moved to another contact (hot contacts most of the time).
\set c random(1, 5000)
\set h random(4001, 4010)
\set k random(0, 9)
-- The rows are locked in key order before they are deleted: a plain
-- DELETE ... WHERE id IN (...) locks them in the order of its plan (a hash
-- aggregate's, once a hot contact has many events), which differs between
-- two such statements and lets them deadlock without the extension.
WITH doomed AS (
    SELECT id FROM public.events
    WHERE contact_id = CASE WHEN :k < 8 THEN :h ELSE :c END
      AND kind = (ARRAY['opened', 'clicked'])[1 + :k % 2]
    ORDER BY occurred_at DESC LIMIT 1 + :k % 3),
locked AS (
    SELECT e.id FROM public.events AS e
    WHERE e.id IN (SELECT id FROM doomed)
    ORDER BY e.id FOR UPDATE)
DELETE FROM public.events WHERE id IN (SELECT id FROM locked);
UPDATE public.events SET occurred_at = occurred_at - interval '200 days'
WHERE id = (SELECT id FROM public.events WHERE contact_id = :h AND kind = 'opened'
            AND occurred_at > timestamptz '2025-05-16 12:00:00+00' ORDER BY id LIMIT 1);
UPDATE public.events SET kind = CASE kind WHEN 'opened' THEN 'delivered' ELSE 'opened' END
WHERE id = (SELECT max(id) FROM public.events WHERE contact_id = :h);
UPDATE public.events SET contact_id = 4001 + (contact_id + :k) % 10
WHERE id = (SELECT max(id) FROM public.events WHERE contact_id = :h AND kind = 'opened');
