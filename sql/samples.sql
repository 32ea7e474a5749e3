--
-- samples: stable random samples of contacts.
--
--   sample P% seed 's'     the contacts whose bucket under seed s is below
--                          P * 100 (P from 0 to 100, in steps of 0.01)
--   bucket('s') cmp n      the bucket compared with n (0 to 10000)
--
-- A contact's bucket, 0 to 9999, is segments.bucket(seed, key, tenant): a
-- documented hash of the seed, the key's text and the tenant's text
-- (src/bucket.c), the same in SQL and C, in every release, after a dump
-- and restore.  The same seed picks the same contacts every time; another
-- seed picks others.
--
-- Each rule is evaluated by the compiled SQL, by the C evaluator and by a
-- hand-written condition (see semantics_setup); agree is true when the
-- three sets of contacts are equal.
--

-- The hash is a contract: these values never change.
SELECT segments.bucket('spring test', '1') AS b1, segments.bucket('spring test', '2') AS b2,
	segments.bucket('spring test', '1', '7') AS with_tenant, segments.bucket('', '') AS empty,
	segments.bucket('spring test', '3f2504e0-4f89-11d3-9a0c-0305e82c3301') AS uuid,
	segments.bucket('Spring test', '1') AS other_seed, segments.bucket(NULL, '1') AS no_seed,
	segments.bucket('s', '1', NULL) = segments.bucket('s', '1') AS null_tenant_is_none;

-- Uniform: over 1,000,000 keys, each of the 100 percentiles (a sample of
-- 1% more) holds 10,000 keys within 5%; over the 10,000 buckets (100 keys
-- each on average, so single buckets vary by about 10% by chance alone),
-- Pearson's chi-square statistic is within what uniform buckets give
-- (9999 degrees of freedom: mean 9999, standard deviation 141; below 10,700
-- is five deviations).
CREATE TEMP TABLE buckets AS
SELECT segments.bucket('uniformity', i::text) AS b, count(*) AS n
FROM generate_series(1, 1000000) AS i GROUP BY 1;
SELECT count(*) AS buckets, min(b) AS lowest, max(b) AS highest FROM buckets;
SELECT min(n) >= 9500 AND max(n) <= 10500 AS percentiles_within_5_percent
FROM (SELECT b / 100 AS p, sum(n) AS n FROM buckets GROUP BY 1) x;
SELECT sum((n - 100.0) ^ 2 / 100.0) < 10700 AS chi_square_uniform FROM buckets;
-- Keys of a tenant: the same.
SELECT min(n) >= 9500 AND max(n) <= 10500 AS per_tenant_within_5_percent
FROM (SELECT segments.bucket('uniformity', (i / 10)::text, (i % 10)::text) / 100 AS p, count(*) AS n
	FROM generate_series(0, 999999) AS i GROUP BY 1) x;
-- Two seeds pick independent samples: of the 10% under one, about 10% are
-- in the 10% under the other.
SELECT round(100.0 * count(*) FILTER (WHERE segments.bucket('b', i::text) < 1000) / count(*)) AS percent
FROM generate_series(1, 100000) AS i WHERE segments.bucket('a', i::text) < 1000;
DROP TABLE buckets;

CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL, plan text);
INSERT INTO contacts SELECT i, 1 + i % 3, CASE WHEN i % 4 = 0 THEN 'free' ELSE 'pro' END
FROM generate_series(1, 2000) AS i;
SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');

SELECT k.* FROM (VALUES
	('sample 10% seed ''spring test''', 'segments.bucket(''spring test'', c.id::text, c.account_id::text) < 1000'),
	('not sample 10% seed ''spring test''', 'segments.bucket(''spring test'', c.id::text, c.account_id::text) >= 1000'),
	('sample 0% seed ''x''', 'false'),
	('sample 100% seed ''x''', 'true'),
	('sample 12.5% seed ''x''', 'segments.bucket(''x'', c.id::text, c.account_id::text) < 1250'),
	('sample 0.5% seed ''x''', 'segments.bucket(''x'', c.id::text, c.account_id::text) < 50'),
	('bucket(''spring test'') < 1000', 'segments.bucket(''spring test'', c.id::text, c.account_id::text) < 1000'),
	('bucket(''ab'') >= 5000 and bucket(''ab'') < 7500', 'segments.bucket(''ab'', c.id::text, c.account_id::text) BETWEEN 5000 AND 7499'),
	('bucket(''ab'') = 42 or bucket(''ab'') != 42', 'true'),
	('bucket(''ab'') > 9999', 'false'),
	('bucket(''ab'') <= 10000', 'true'),
	('plan = ''pro'' and sample 30% seed ''holdout''', 'c.plan = ''pro'' AND segments.bucket(''holdout'', c.id::text, c.account_id::text) < 3000')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- About the share asked for: the contacts whose documented bucket is
-- below 1000, whoever computes it.
SELECT segments.preview_count('sample 10% seed ''spring test''') AS ten_percent_of_2000,
	(SELECT count(*) FROM contacts c
	 WHERE segments.bucket('spring test', c.id::text, c.account_id::text) < 1000) AS by_the_function;
-- A/B: groups of one seed are disjoint and together make everyone.
SELECT segments.preview_count('bucket(''ab'') < 5000') + segments.preview_count('bucket(''ab'') >= 5000') AS a_plus_b,
	segments.preview_count('bucket(''ab'') < 5000 and bucket(''ab'') >= 5000') AS both,
	(SELECT count(*) FROM contacts) AS contacts;
SELECT * FROM segments.explain(7::bigint, 'sample 10% seed ''spring test'' or bucket(''ab'') < 5000');
SELECT segments.bucket('spring test', '7', '2') AS bucket_of_7;
-- to_sql computes the bucket as the documented function does.
SELECT segments.to_sql('sample 10% seed ''spring test''');

-- Within a tenant; a segment keeps its sample as contacts come and go.
SELECT k.* FROM (VALUES
	('sample 50% seed ''t''', '2', 'segments.bucket(''t'', c.id::text, c.account_id::text) < 5000')
) AS t(rule, tenant, expected), LATERAL check_tenant(t.rule, t.tenant, t.expected) k;
SELECT segments.create_segment('Holdout', 'sample 10% seed ''holdout''', tenant => 1) IS NOT NULL AS created,
	segments.create_segment('Pro test', 'plan = ''pro'' and not in segment ''Holdout'' and bucket(''pro'') < 5000', tenant => 1) IS NOT NULL AS tenant_created;
SELECT count(*) FROM new_log();
INSERT INTO contacts SELECT i, 1 + i % 3, 'pro' FROM generate_series(2001, 2100) AS i;
UPDATE contacts SET plan = 'free' WHERE id BETWEEN 1 AND 40;
DELETE FROM contacts WHERE id BETWEEN 41 AND 60;
-- A contact moving to another tenant is hashed with its new tenant.
UPDATE contacts SET account_id = 3 WHERE id = 61;
SELECT all_verified() AS verified;
SELECT segment, cause, joined, cardinality(contacts) FROM new_log();

-- Text, canonical text and JSON.
SELECT r::text AS canonical, segments.rule_to_jsonb(r) AS json,
	segments.rule_from_jsonb(segments.rule_to_jsonb(r)) OPERATOR(segments.=) r AS round_trip
FROM (VALUES
	('sample 10% seed ''spring test'''::segments.rule),
	('SAMPLE 12.50% SEED ''x'''),
	('sample 0.05% seed '''''),
	('sample 100.0% seed ''it''''s'''),
	('bucket(''spring test'') < 1000'),
	('BUCKET (''x'') <> 3'),
	('not sample 5% seed ''h'' and bucket(''h'') >= 9000')
) AS t(r);
SELECT '{"sample": 12.5, "seed": "x"}'::jsonb::segments.rule AS from_json,
	'{"sample": 1e1, "seed": "x"}'::jsonb::segments.rule AS exponent,
	'{"sample": 2.500, "seed": "x"}'::jsonb::segments.rule AS trailing_zeros,
	'{"bucket": "x", "op": ">=", "value": 9000}'::jsonb::segments.rule AS bucket;
-- sample and bucket remain field names where a field test follows.
SELECT 'sample = 1 and bucket > 2 and sample.x is null'::segments.rule::text AS fields;
SELECT * FROM segments.rule_references('sample 10% seed ''x'' and plan = ''pro''');

-- What users get wrong.
SELECT * FROM try_rule('sample 10 seed ''x''');
SELECT * FROM try_rule('sample 10%');
SELECT * FROM try_rule('sample 10% seed x');
SELECT * FROM try_rule('sample 101% seed ''x''');
SELECT * FROM try_rule('sample 100.01% seed ''x''');
SELECT * FROM try_rule('sample 1.234% seed ''x''');
SELECT * FROM try_rule('sample -5% seed ''x''');
SELECT * FROM try_rule('bucket(''x'') < 10001');
SELECT * FROM try_rule('bucket(''x'') < 5000000000');
SELECT * FROM try_rule('bucket(x) < 5');
SELECT * FROM try_rule('bucket(''x'') between 1 and 5');
SELECT * FROM try_rule('bucket(''x'')');
SELECT * FROM try_rule('event ''opened'' where (sample 10% seed ''x'')');
SELECT * FROM try('SELECT ''{"sample": 101, "seed": "x"}''::jsonb::segments.rule');
SELECT * FROM try('SELECT ''{"sample": 0.001, "seed": "x"}''::jsonb::segments.rule');
SELECT * FROM try('SELECT ''{"sample": -1, "seed": "x"}''::jsonb::segments.rule');
SELECT * FROM try('SELECT ''{"sample": "10%", "seed": "x"}''::jsonb::segments.rule');
SELECT * FROM try('SELECT ''{"sample": 10}''::jsonb::segments.rule');
SELECT * FROM try('SELECT ''{"bucket": "x", "op": "in", "value": 3}''::jsonb::segments.rule');
SELECT * FROM try('SELECT ''{"bucket": "x", "op": "<", "value": 10001}''::jsonb::segments.rule');
SELECT * FROM try('SELECT ''{"event": "opened", "where": {"sample": 10, "seed": "x"}}''::jsonb::segments.rule');

SELECT segments.drop_segment('Pro test', tenant => 1);
SELECT segments.drop_segment('Holdout', tenant => 1);
SELECT segments.detach_contacts();
DROP TABLE contacts;

-- The text of a tenant is what its type's output function writes (a
-- char(n) keeps its padding, where a cast to text would trim it), in
-- both paths alike.
CREATE TABLE padded (id bigint PRIMARY KEY, region char(4) NOT NULL);
INSERT INTO padded SELECT i, (ARRAY['eu', 'us'])[1 + i % 2] FROM generate_series(1, 1000) AS i;
SELECT segments.attach_contacts('padded', key => 'id', tenant => 'region');
SELECT segments.preview_count('sample 50% seed ''p''') AS compiled,
	(SELECT count(*) FROM padded p WHERE segments.matches(p.id, 'sample 50% seed ''p''')) AS evaluated,
	(SELECT count(*) FROM padded p WHERE segments.bucket('p', p.id::text, concat(p.region)) < 5000) AS by_output,
	(SELECT count(*) FROM padded p WHERE segments.bucket('p', p.id::text, 'eu  ') < 5000 AND p.region = 'eu') +
	(SELECT count(*) FROM padded p WHERE segments.bucket('p', p.id::text, 'us  ') < 5000 AND p.region = 'us') AS padded_text;
SELECT segments.detach_contacts();
DROP TABLE padded;
