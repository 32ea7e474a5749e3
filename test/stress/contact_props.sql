-- A single-row update of jsonb properties and tags (hot contacts too).
\set c random(1, 5000)
\set h random(4001, 4010)
\set r random(0, 9)
UPDATE public.contacts
SET props = coalesce(props, '{}') || jsonb_build_object('ltv', :r * 500 + 150, 'vip', :r % 2 = 0,
        'city', (ARRAY['Paris', 'Berlin', 'Austin', 'Lyon', 'Paris'])[1 + :r % 5]),
    tags = CASE WHEN :r < 5 THEN ARRAY['vip'] ELSE ARRAY['beta'] END
WHERE id = CASE WHEN :r < 3 THEN :h ELSE :c END;
