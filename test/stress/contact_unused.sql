-- A single-row update of a column that no rule names.
\set c random(1, 5000)
UPDATE public.contacts SET created_at = created_at + interval '1 second' WHERE id = :c;
