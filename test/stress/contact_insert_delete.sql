-- Contacts come and go: a new contact; an upsert of a generated one (that
-- may have been deleted: its events and lists are still there); a delete;
-- now and then a change of key (the contact's events stay with the old key).
\set c random(1, 5000)
\set d random(1, 5000)
\set t random(1, 5)
\set r random(0, 9)
INSERT INTO public.contacts (id, account_id, email, country, plan, score, created_at, tags, props)
VALUES (nextval('public.contact_ids'), :t, 'new' || :r || '@gmail.com',
        (ARRAY['US', 'FR'])[1 + :r % 2], (ARRAY['pro', 'free'])[1 + :r % 2], :r * 11,
        '2025-06-01', ARRAY['vip'], jsonb_build_object('ltv', :r * 500, 'vip', true, 'city', 'Paris'));
INSERT INTO public.contacts (id, account_id, email, country, plan, score, created_at, tags, props)
VALUES (:c, 1 + :c % 5, 'back' || :c || '@gmail.com', 'US', 'team', 90, '2025-01-01', NULL, NULL)
ON CONFLICT (id) DO UPDATE SET score = excluded.score, email = excluded.email;
DELETE FROM public.contacts
WHERE id = CASE WHEN :r < 5 THEN :d ELSE (SELECT max(id) FROM public.contacts) END;
UPDATE public.contacts SET id = nextval('public.contact_ids') WHERE id = :d + 1 AND :r = 9;
