-- List memberships come and go (lists 1, 2 and 7 are in rules).
\set c random(1, 5000)
\set h random(4001, 4010)
\set l random(0, 3)
\set k random(0, 9)
INSERT INTO public.list_members (contact_id, list_id)
VALUES (CASE WHEN :k < 6 THEN :h ELSE :c END, (ARRAY[1, 2, 7, 3])[:l + 1])
ON CONFLICT DO NOTHING;
DELETE FROM public.list_members
WHERE contact_id = CASE WHEN :k < 3 THEN :h ELSE :c END AND list_id = (ARRAY[7, 1, 2, 3])[:l + 1];
