-- A single-row update of columns that rules use (country, score, plan;
-- now and then the tenant, which concerns every segment); one in eight on
-- a hot contact.
\set c random(1, 5000)
\set r random(0, 15)
UPDATE public.contacts
SET country = (ARRAY['US', 'US', 'CA', 'GB', 'DE', 'FR', NULL, 'US'])[1 + :r % 8],
    score = (coalesce(score, 0) + :r * 13) % 101,
    plan = (ARRAY['free', 'pro', 'team', 'free'])[1 + :r % 4],
    account_id = CASE WHEN :r = 15 THEN 1 + account_id % 5 ELSE account_id END
WHERE id = CASE WHEN :r < 2 THEN 4001 + :c % 10 ELSE :c END;
