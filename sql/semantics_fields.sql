--
-- semantics_fields: field tests on columns (docs/design.md, "Meaning").
--
-- Every rule is evaluated three ways and the results compared:
--   compiled  the rule compiled to SQL (segments._compile) and run;
--   evaluated the per-contact evaluator in C (segments.matches);
--   hand      a hand-written SQL condition over the contacts table (alias c)
--             saying what the rule means.
-- agree is true when the three give the same set of contacts (not just the
-- same number).  Every condition is true or false, never unknown: a test on
-- a NULL column is false, except "is null".
--


-- 300 contacts over three tenants, with NULLs in every nullable column,
-- upper- and lower-case variants, and the LIKE special characters % _ \.
CREATE TYPE status_t AS ENUM ('lead', 'customer', 'churned');
CREATE DOMAIN handle_t AS text CHECK (VALUE LIKE '@%');
CREATE TABLE contacts (
	id bigint PRIMARY KEY,
	account_id integer NOT NULL,
	email text,
	country text,
	plan varchar(10),
	code char(3),
	note text,
	score integer,
	big bigint,
	amount numeric(10,2),
	ratio numeric,
	rating double precision,
	active boolean,
	tags text[],
	nums integer[],
	status status_t,
	handle handle_t
);
INSERT INTO contacts
SELECT i,
	1 + i % 3,
	CASE WHEN i % 17 = 0 THEN NULL
		ELSE (ARRAY['ann', 'Bob', 'CY', 'dee', 'Eve'])[1 + (i * 7) % 5] || i || '@'
			|| (ARRAY['gmail.com', 'Example.COM', 'mail.example.org', 'GMAIL.com'])[1 + (i * 11) % 4] END,
	(ARRAY['US', 'us', 'FR', 'DE', NULL, 'Us', ''])[1 + (i * 7919) % 7],
	(ARRAY['free', 'pro', 'team', 'PRO', NULL])[1 + (i * 31) % 5],
	(ARRAY['ab', 'abc', 'b', NULL])[1 + (i * 13) % 4],
	(ARRAY['100%', '100 percent', 'a_b', 'axb', 'back\slash', 'backslash', 'c:\dir\',
		'50%_off', '50% off', 'Mixed CASE', NULL, 'José', 'JOSÉ'])[1 + (i * 5) % 13],
	CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 7919) % 13 - 3 END,
	CASE WHEN i % 9 = 0 THEN NULL ELSE i::bigint * 100000000 END,
	CASE WHEN i % 10 = 0 THEN NULL ELSE ((i * 37) % 4000) / 100.0 END,
	CASE WHEN i % 8 = 0 THEN NULL ELSE (ARRAY[0.5, 0.50, 1, 1.000, 2.25, -0.5])[1 + i % 6] END,
	CASE WHEN i % 12 = 0 THEN NULL ELSE (i % 10) / 10.0 END,
	CASE WHEN i % 7 = 0 THEN NULL ELSE i % 2 = 0 END,
	CASE WHEN i % 6 = 0 THEN NULL WHEN i % 6 = 1 THEN '{}'
		ELSE (ARRAY[ARRAY['vip', 'new'], ARRAY['VIP', 'old'], ARRAY['new', NULL], ARRAY['a', 'b']])[1 + i % 4:1 + i % 4]
	END,
	CASE WHEN i % 5 = 0 THEN NULL ELSE ARRAY[i % 4, i % 3] END,
	(ARRAY['lead', 'customer', 'churned', NULL])[1 + (i * 3) % 4]::status_t,
	CASE WHEN i % 4 = 0 THEN NULL ELSE '@' || (ARRAY['Ann', 'bob', 'ANNA'])[1 + i % 3] || i % 10 END
FROM generate_series(1, 300) AS i;

-- tags: a one-row slice is a 2-D array; make it 1-D.
UPDATE contacts SET tags = ARRAY(SELECT unnest(tags)) WHERE tags <> '{}';

SELECT count(*) AS contacts,
	count(*) FILTER (WHERE country IS NULL) AS no_country,
	count(*) FILTER (WHERE email IS NULL) AS no_email,
	count(*) FILTER (WHERE score IS NULL) AS no_score,
	count(*) FILTER (WHERE active IS NULL) AS no_active,
	count(*) FILTER (WHERE tags IS NULL) AS no_tags
FROM contacts;

SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');

--
-- Text: = is exact (case-sensitive); comparisons use the column's btree
-- operators; NULL columns match nothing but "is null".
--
SELECT k.* FROM (VALUES
	('country = ''US''', 'c.country = ''US'''),
	('country = ''us''', 'c.country = ''us'''),
	('country = ''''', 'c.country = '''''),
	('country != ''US''', 'c.country <> ''US'''),
	('country <> ''US''', 'c.country <> ''US'''),
	('not country = ''US''', 'c.country IS DISTINCT FROM ''US'''),
	('not country != ''US''', 'c.country IS NULL OR c.country = ''US'''),
	('country < ''US''', 'c.country < ''US'''),
	('country <= ''US''', 'c.country <= ''US'''),
	('country > ''FR''', 'c.country > ''FR'''),
	('country >= ''FR''', 'c.country >= ''FR'''),
	('country in (''US'', ''FR'')', 'c.country IN (''US'', ''FR'')'),
	('country not in (''US'', ''FR'')', 'c.country NOT IN (''US'', ''FR'')'),
	('not country in (''US'', ''FR'')', 'c.country IS NULL OR c.country NOT IN (''US'', ''FR'')'),
	('country between ''DE'' and ''US''', 'c.country >= ''DE'' AND c.country <= ''US'''),
	('country not between ''DE'' and ''US''', 'c.country < ''DE'' OR c.country > ''US'''),
	('not country between ''DE'' and ''US''', 'NOT coalesce(c.country >= ''DE'' AND c.country <= ''US'', false)'),
	('country is null', 'c.country IS NULL'),
	('country is not null', 'c.country IS NOT NULL'),
	('not country is null', 'c.country IS NOT NULL'),
	('country = ''US'' or country is null', 'c.country = ''US'' OR c.country IS NULL'),
	('not (country = ''US'' or country = ''FR'')', 'c.country IS NULL OR c.country NOT IN (''US'', ''FR'')'),
	('not (country = ''US'' and plan = ''pro'')', 'NOT coalesce(c.country = ''US'' AND c.plan = ''pro'', false)')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- contains, starts with, ends with are case-insensitive; like is SQL LIKE
-- (case-sensitive), ilike is ILIKE.  The hand-written conditions avoid LIKE:
-- position() and left()/right() on lower-cased text.
--
SELECT k.* FROM (VALUES
	('email contains ''GMAIL''', 'position(''gmail'' in lower(c.email)) > 0'),
	('email contains ''example''', 'position(''example'' in lower(c.email)) > 0'),
	('email not contains ''gmail''', 'position(''gmail'' in lower(c.email)) = 0'),
	('not email contains ''gmail''', 'coalesce(position(''gmail'' in lower(c.email)), 0) = 0'),
	('email starts with ''ANN''', 'left(lower(c.email), 3) = ''ann'''),
	('email not starts with ''ann''', 'left(lower(c.email), 3) <> ''ann'''),
	('email ends with ''@GMAIL.COM''', 'right(lower(c.email), 10) = ''@gmail.com'''),
	('email not ends with ''.com''', 'right(lower(c.email), 4) <> ''.com'''),
	('not email ends with ''.com''', 'c.email IS NULL OR right(lower(c.email), 4) <> ''.com'''),
	('email contains ''''', 'c.email IS NOT NULL'),
	('email like ''ann%''', 'left(c.email, 3) = ''ann'''),
	('email like ''%@gmail.com''', 'right(c.email, 10) = ''@gmail.com'''),
	('email like ''Bob_@%''', 'c.email ~ ''^Bob.@'''),
	('email not like ''%gmail%''', 'position(''gmail'' in c.email) = 0'),
	('email ilike ''%GMAIL%''', 'position(''gmail'' in lower(c.email)) > 0'),
	('email not ilike ''BOB%''', 'left(lower(c.email), 3) <> ''bob'''),
	('not email ilike ''BOB%''', 'c.email IS NULL OR left(lower(c.email), 3) <> ''bob'''),
	('country contains ''u''', 'position(''u'' in lower(c.country)) > 0'),
	('country starts with ''''', 'c.country IS NOT NULL')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- The LIKE special characters in contains / starts with / ends with are
-- taken literally; in like and ilike they are patterns.  (In the C locale
-- of these tests, case folding is ASCII only: 'José' and 'JOSÉ' differ in
-- their last letter.)
SELECT note, count(*) FROM contacts GROUP BY note ORDER BY note COLLATE "C";
SELECT k.* FROM (VALUES
	('note contains ''%''', 'position(''%'' in c.note) > 0'),
	('note contains ''_''', 'position(''_'' in c.note) > 0'),
	('note contains ''\''', 'position(''\'' in c.note) > 0'),
	('note contains ''50%_''', 'position(''50%_'' in c.note) > 0'),
	('note contains ''0% ''', 'position(''0% '' in c.note) > 0'),
	('note starts with ''100%''', 'left(c.note, 4) = ''100%'''),
	('note ends with ''\''', 'right(c.note, 1) = ''\'''),
	('note ends with ''_OFF''', 'right(lower(c.note), 4) = ''_off'''),
	('note not contains ''%''', 'position(''%'' in c.note) = 0'),
	('note contains ''mixed case''', 'lower(c.note) = ''mixed case'''),
	('note contains ''josé''', 'c.note = ''José'''),
	('note like ''a_b''', 'c.note IN (''a_b'', ''axb'')'),
	('note like ''a\_b''', 'c.note = ''a_b'''),
	('note like ''100%''', 'left(c.note, 3) = ''100'''),
	('note like ''100\%''', 'c.note = ''100%'''),
	('note like ''back\slash''', 'c.note = ''backslash'''),
	('note like ''back\\slash''', 'c.note = ''back\slash'''),
	('note ilike ''MIXED%''', 'c.note = ''Mixed CASE'''),
	('note = ''a_b''', 'c.note = ''a_b''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- varchar(10) and char(3): text-like and blank-padded character types.
SELECT k.* FROM (VALUES
	('plan = ''pro''', 'c.plan = ''pro'''),
	('plan != ''pro''', 'c.plan <> ''pro'''),
	('plan in (''pro'', ''team'')', 'c.plan IN (''pro'', ''team'')'),
	('plan contains ''PR''', 'lower(c.plan) LIKE ''%pr%'''),
	('plan starts with ''t''', 'left(c.plan, 1) = ''t'''),
	('plan like ''P%''', 'left(c.plan, 1) = ''P'''),
	('plan is null', 'c.plan IS NULL'),
	('plan > ''pro''', 'c.plan > ''pro'''),
	('code = ''ab''', 'c.code = ''ab'''),
	('code = ''ab ''', 'c.code = ''ab'''),
	('code in (''b'', ''abc'')', 'c.code IN (''b'', ''abc'')'),
	('code < ''b''', 'c.code < ''b'''),
	('code is not null', 'c.code IS NOT NULL')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- Numbers: integer, bigint, numeric, double precision.  The literal is read
-- by the column type's input function ('5' and 5 are the same integer).
--
SELECT k.* FROM (VALUES
	('score = 5', 'c.score = 5'),
	('score = ''5''', 'c.score = 5'),
	('score != 5', 'c.score <> 5'),
	('not score = 5', 'c.score IS DISTINCT FROM 5'),
	('score < 0', 'c.score < 0'),
	('score <= 0', 'c.score <= 0'),
	('score > 5', 'c.score > 5'),
	('score >= 5', 'c.score >= 5'),
	('score = -3', 'c.score = -3'),
	('score in (1, 2, 3)', 'c.score IN (1, 2, 3)'),
	('score not in (1, 2, 3)', 'c.score NOT IN (1, 2, 3)'),
	('not score in (1, 2, 3)', 'c.score IS NULL OR c.score NOT IN (1, 2, 3)'),
	('score between 2 and 4', 'c.score BETWEEN 2 AND 4'),
	('score between 4 and 2', 'false'),
	('score not between 2 and 4', 'c.score NOT BETWEEN 2 AND 4'),
	('not score between 2 and 4', 'c.score IS NULL OR c.score NOT BETWEEN 2 AND 4'),
	('score is null', 'c.score IS NULL'),
	('score is not null', 'c.score IS NOT NULL'),
	('score > 3 and score < 7 or score = -3', '(c.score > 3 AND c.score < 7) OR c.score = -3'),
	('big > 20000000000', 'c.big > 20000000000'),
	('big between 100000000 and 500000000', 'c.big BETWEEN 100000000 AND 500000000'),
	('amount = 0.74', 'c.amount = 0.74'),
	('amount = 0.740', 'c.amount = 0.74'),
	('amount < 10', 'c.amount < 10'),
	('amount >= 39.5', 'c.amount >= 39.5'),
	('amount between 0.37 and 1.11', 'c.amount BETWEEN 0.37 AND 1.11'),
	('amount in (0.37, 1.11, 7.4)', 'c.amount IN (0.37, 1.11, 7.4)'),
	('amount not in (0.37, 1.11)', 'c.amount NOT IN (0.37, 1.11)'),
	('ratio = 0.5', 'c.ratio = 0.5'),
	('ratio = 1', 'c.ratio = 1'),
	('ratio < 0', 'c.ratio < 0'),
	('ratio in (2.25, -0.5)', 'c.ratio IN (2.25, -0.5)'),
	('rating = 0.3', 'c.rating = 0.3::float8'),
	('rating > 0.5', 'c.rating > 0.5::float8'),
	('rating between 0.1 and 0.3', 'c.rating BETWEEN 0.1::float8 AND 0.3::float8')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- Booleans.  active != true excludes contacts with no value; not active =
-- true includes them.
--
SELECT k.* FROM (VALUES
	('active = true', 'c.active'),
	('active = false', 'NOT c.active'),
	('active != true', 'c.active = false'),
	('not active = true', 'c.active IS NOT TRUE'),
	('active = ''yes''', 'c.active'),
	('active in (true, false)', 'c.active IS NOT NULL'),
	('active not in (true)', 'c.active = false'),
	('active < true', 'c.active = false'),
	('active is null', 'c.active IS NULL'),
	('active is not null and not active = false', 'c.active')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- Arrays: contains means "has this element" (exact, case-sensitive: the
-- element type's equality); = compares whole arrays.  The hand-written
-- conditions use unnest, not @>.
--
SELECT k.* FROM (VALUES
	('tags contains ''vip''', 'EXISTS (SELECT FROM unnest(c.tags) x WHERE x = ''vip'')'),
	('tags contains ''VIP''', 'EXISTS (SELECT FROM unnest(c.tags) x WHERE x = ''VIP'')'),
	('tags contains ''vi''', 'false'),
	('tags not contains ''new''', 'c.tags IS NOT NULL AND NOT EXISTS (SELECT FROM unnest(c.tags) x WHERE x = ''new'')'),
	('not tags contains ''new''', 'NOT EXISTS (SELECT FROM unnest(c.tags) x WHERE x = ''new'')'),
	('tags = ''{}''', 'cardinality(c.tags) = 0'),
	('tags = ''{vip,new}''', 'c.tags = ARRAY[''vip'', ''new'']'),
	('tags is null', 'c.tags IS NULL'),
	('tags is not null', 'c.tags IS NOT NULL'),
	('nums contains 3', 'EXISTS (SELECT FROM unnest(c.nums) x WHERE x = 3)'),
	('nums contains 0', 'EXISTS (SELECT FROM unnest(c.nums) x WHERE x = 0)'),
	('nums not contains 0', 'c.nums IS NOT NULL AND NOT EXISTS (SELECT FROM unnest(c.nums) x WHERE x = 0)'),
	('nums = ''{1,1}''', 'c.nums = ARRAY[1, 1]')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- An enum (ordered as declared) and a domain over text (a text field).
--
SELECT k.* FROM (VALUES
	('status = ''customer''', 'c.status = ''customer'''),
	('status != ''lead''', 'c.status <> ''lead'''),
	('not status = ''lead''', 'c.status IS DISTINCT FROM ''lead'''),
	('status < ''churned''', 'c.status IN (''lead'', ''customer'')'),
	('status >= ''customer''', 'c.status IN (''customer'', ''churned'')'),
	('status in (''lead'', ''churned'')', 'c.status IN (''lead'', ''churned'')'),
	('status between ''lead'' and ''customer''', 'c.status IN (''lead'', ''customer'')'),
	('status is null', 'c.status IS NULL'),
	('handle = ''@Ann1''', 'c.handle = ''@Ann1'''),
	('handle contains ''ann''', 'position(''ann'' in lower(c.handle)) > 0'),
	('handle starts with ''@a''', 'left(lower(c.handle), 2) = ''@a'''),
	('handle like ''@ANN%''', 'left(c.handle, 4) = ''@ANN'''),
	('handle in (''@bob2'', ''@bob5'')', 'c.handle IN (''@bob2'', ''@bob5'')')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- Combinations, and the constants.
--
SELECT k.* FROM (VALUES
	('true', 'true'),
	('false', 'false'),
	('not true', 'false'),
	('country = ''us'' and score > 2 and active = true', 'c.country = ''us'' AND c.score > 2 AND c.active'),
	('country = ''US'' or score > 8 or tags contains ''vip''',
	 'c.country = ''US'' OR c.score > 8 OR EXISTS (SELECT FROM unnest(c.tags) x WHERE x = ''vip'')'),
	('not (score > 2 or active = true)', 'NOT coalesce(c.score > 2, false) AND c.active IS NOT TRUE'),
	('not not country = ''FR''', 'c.country = ''FR'''),
	('not (country != ''FR'')', 'c.country IS NULL OR c.country = ''FR'''),
	('(email contains ''gmail'' or email is null) and not plan in (''pro'', ''PRO'')',
	 '(position(''gmail'' in lower(c.email)) > 0 OR c.email IS NULL) AND (c.plan IS NULL OR c.plan NOT IN (''pro'', ''PRO''))')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

--
-- The compiled SQL of a few rules, to read: literals typed and quoted,
-- "not" wrapped in coalesce where the inner test can be NULL, LIKE
-- characters escaped in contains.
--
SELECT segments._compile('country != ''US''', NULL);
SELECT segments._compile('not country = ''US''', NULL);
SELECT segments._compile('note contains ''50%_'' or email starts with ''a\b''', NULL);
SELECT segments._compile('score not in (1, 2) and amount between 1 and 2.5', NULL);
SELECT segments._compile('tags contains ''vip'' and not nums contains 3', NULL);
SELECT segments._compile('code = ''ab'' and plan = ''pro''', NULL);

--
-- explain: one row per condition, with the value seen.
--
SELECT id, email, country, score, active FROM contacts WHERE id = 34;
SELECT * FROM segments.explain(34::bigint,
	'country = ''US'' and (score > 2 or email contains ''GMAIL'') and not active = true and tags is null');
SELECT * FROM segments.explain(17::bigint, 'email is null or email contains ''x''');
-- matches takes the key as any type that reads as the key.
SELECT segments.matches(34, 'score = 0'), segments.matches('34'::text, 'score = 0'),
	segments.matches(34::bigint, 'score > 200');

--
-- A literal is read as the column's base type without its type modifier:
-- on a numeric(10,2) column 0.371 stays 0.371 (not rounded to 0.37), as in
-- SQL's amount = 0.371.
--
SELECT k.* FROM (VALUES
	('amount = 0.371', 'c.amount = 0.371'),
	('amount > 0.365', 'c.amount > 0.365')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SELECT segments._compile('amount > 0.365', NULL);

SELECT segments.detach_contacts();
DROP TABLE contacts;
DROP TYPE status_t;
DROP DOMAIN handle_t;
