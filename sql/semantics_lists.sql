--
-- semantics_lists: list membership, segment membership and tenants
-- (docs/design.md, "Meaning").
--
--   in list v       a row (contact, v) exists in the lists table; v is
--                   read as the list column's type
--   in segment 'n'  the contact is a current member of segment n of the
--                   same tenant
-- A rule evaluated for a tenant sees only that tenant's contacts.
--
-- Each rule is evaluated by the compiled SQL, by the C evaluator and by a
-- hand-written condition (see semantics_fields); agree is true when the
-- three sets of contacts are equal.
--

-- 300 contacts of three tenants (account_id 1, 2, 3).
CREATE TABLE contacts (
	id bigint PRIMARY KEY,
	account_id integer NOT NULL,
	country text,
	score integer
);
INSERT INTO contacts
SELECT i, 1 + i % 3, (ARRAY['US', 'FR', NULL, 'DE'])[1 + (i * 7) % 4],
	CASE WHEN i % 10 = 0 THEN NULL ELSE (i * 7919) % 20 END
FROM generate_series(1, 300) AS i;

-- List membership with integer list ids: contacts 1 to 240 are on one to
-- three of the lists 1 to 9 (241 to 300 are on none).
CREATE TABLE list_members (
	contact_id bigint NOT NULL,
	list_id integer NOT NULL,
	PRIMARY KEY (contact_id, list_id)
);
INSERT INTO list_members
SELECT DISTINCT i, 1 + (i * k * 7) % 9
FROM generate_series(1, 240) AS i, generate_series(1, 3) AS k
WHERE k = 1 OR (i * k) % 5 < 2;
SELECT list_id, count(*) FROM list_members GROUP BY list_id ORDER BY list_id;

SELECT segments.attach_contacts('contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list_id');

SELECT k.* FROM (VALUES
	('in list 7', 'EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 7)'),
	('in list ''7''', 'EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 7)'),
	('in list ''07''', 'EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 7)'),
	('not in list 7', 'NOT EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 7)'),
	('in list 99', 'false'),
	('not in list 99', 'true'),
	('in list 7 and in list 8', 'c.id IN (SELECT l.contact_id FROM list_members l WHERE l.list_id = 7 INTERSECT SELECT l.contact_id FROM list_members l WHERE l.list_id = 8)'),
	('in list 1 or in list 2 or in list 3', 'EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id IN (1, 2, 3))'),
	('not (in list 1 or in list 2)', 'NOT EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id IN (1, 2))'),
	('in list 4 and not in list 5 and country = ''US''', 'c.id IN (SELECT l.contact_id FROM list_members l WHERE l.list_id = 4 EXCEPT SELECT l.contact_id FROM list_members l WHERE l.list_id = 5) AND c.country = ''US'''),
	('in list 0 or country is null', 'c.country IS NULL')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

SELECT segments._compile('in list 7 and not in list ''8''', NULL);
SELECT * FROM segments.explain(7::bigint, 'in list 7 or not in list 8');

-- Lists named by text: a number literal is read as text; names are exact.
SELECT segments.detach_lists();
CREATE TABLE list_names (
	contact_id bigint NOT NULL,
	list text NOT NULL
);
INSERT INTO list_names
SELECT i, (ARRAY['vip', 'VIP', 'newsletter', '7', 'it''s'])[1 + (i * 13) % 5]
FROM generate_series(1, 300, 2) AS i;
SELECT segments.attach_lists('list_names', contact => 'contact_id', list => 'list');
SELECT k.* FROM (VALUES
	('in list ''vip''', 'EXISTS (SELECT FROM list_names l WHERE l.contact_id = c.id AND l.list = ''vip'')'),
	('in list ''VIP''', 'EXISTS (SELECT FROM list_names l WHERE l.contact_id = c.id AND l.list = ''VIP'')'),
	('in list 7', 'EXISTS (SELECT FROM list_names l WHERE l.contact_id = c.id AND l.list = ''7'')'),
	('in list ''it''''s''', 'EXISTS (SELECT FROM list_names l WHERE l.contact_id = c.id AND l.list = ''it''''s'')'),
	('in list true', 'false'),
	('not in list ''newsletter''', 'NOT EXISTS (SELECT FROM list_names l WHERE l.contact_id = c.id AND l.list = ''newsletter'')')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SELECT segments._compile('in list ''it''''s''', NULL);
SELECT segments.detach_lists();
SELECT segments.attach_lists('list_members', contact => 'contact_id', list => 'list_id');

--
-- Tenants: segments._compile(rule, tenant) selects only the tenant's
-- contacts; preview_count(rule, tenant => t) counts them.
--
SELECT account_id, count(*) FROM contacts GROUP BY account_id ORDER BY account_id;
SELECT k.* FROM (VALUES
	('true', '1', 'true'),
	('true', '2', 'true'),
	('country = ''US''', '1', 'c.country = ''US'''),
	('country = ''US''', '3', 'c.country = ''US'''),
	('not country = ''US''', '2', 'c.country IS DISTINCT FROM ''US'''),
	('score > 10 and in list 7', '3', 'c.score > 10 AND EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 7)'),
	('not in list 7', '1', 'NOT EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 7)'),
	('account_id = 2', '1', 'false'),
	('account_id = 2', '02', 'true')
) AS t(rule, tenant, expected), LATERAL check_tenant(t.rule, t.tenant, t.expected) k;
SELECT segments._compile('country = ''US''', '02');
-- No tenant: all contacts.
SELECT segments.preview_count('country = ''US'''), segments.preview_count('country = ''US''', tenant => NULL),
	(SELECT count(*) FROM contacts WHERE country = 'US') AS hand;

--
-- in segment: the current members of another segment.
--
SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS created;
SELECT segments.create_segment('Listed', 'in list 1 or in list 2') IS NOT NULL AS created;
SELECT segments.create_segment('US listed', 'in segment ''US'' and in segment ''Listed''') IS NOT NULL AS created;
SELECT name, tenant, (SELECT count(*) FROM segments.membership m WHERE m.segment_id = s.id) AS members
FROM segments.segment s ORDER BY id;
SELECT k.* FROM (VALUES
	('in segment ''US''', 'c.country = ''US'''),
	('not in segment ''US''', 'c.country IS DISTINCT FROM ''US'''),
	('in segment ''US'' and score >= 10', 'c.country = ''US'' AND c.score >= 10'),
	('in segment ''US listed''', 'c.country = ''US'' AND EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id IN (1, 2))'),
	('in segment ''Listed'' and not in segment ''US listed''', 'EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id IN (1, 2)) AND c.country IS DISTINCT FROM ''US'''),
	('in segment ''US'' or in list 9', 'c.country = ''US'' OR EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 9)')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SELECT segments._compile('in segment ''US'' and not in segment ''Listed''', NULL)
	= format(E'SELECT c.id AS contact\nFROM public.contacts AS c\nWHERE (EXISTS (SELECT FROM segments.membership AS m WHERE m.segment_id = %s AND m.contact = c.id) AND NOT EXISTS (SELECT FROM segments.membership AS m WHERE m.segment_id = %s AND m.contact = c.id))',
		(SELECT id FROM segments.segment WHERE name = 'US'), (SELECT id FROM segments.segment WHERE name = 'Listed')) AS compiled_as_expected;
SELECT * FROM segments.explain(4::bigint, 'in segment ''US listed'' or in segment ''US''');

-- Membership follows writes in the same statement: after a change to the
-- data, in segment sees it at once, on both paths.
UPDATE contacts SET country = 'US' WHERE id = 3;
SELECT k.* FROM (VALUES
	('in segment ''US''', 'c.country = ''US'''),
	('country = ''US'' and not in segment ''US''', 'false')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
UPDATE contacts SET country = NULL WHERE id = 3;
SELECT k.* FROM (VALUES
	('in segment ''US''', 'c.country = ''US''')
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- Segments of a tenant: the same name in two tenants; in segment resolves
-- within the tenant of the rule.
SELECT segments.create_segment('High', 'score >= 15', tenant => 1) IS NOT NULL AS created;
SELECT segments.create_segment('High', 'score >= 5', tenant => 2) IS NOT NULL AS created;
SELECT segments.create_segment('High US', 'in segment ''High'' and country = ''US''', tenant => 2) IS NOT NULL AS created;
SELECT k.* FROM (VALUES
	('in segment ''High''', '1', 'c.score >= 15'),
	('in segment ''High''', '2', 'c.score >= 5'),
	('in segment ''High'' and country = ''FR''', '2', 'c.score >= 5 AND c.country = ''FR'''),
	('not in segment ''High''', '1', 'c.score IS NULL OR c.score < 15'),
	('in segment ''High US''', '2', 'c.score >= 5 AND c.country = ''US'''),
	('country = ''US'' and not in segment ''High''', '2', 'c.country = ''US'' AND (c.score IS NULL OR c.score < 5)')
) AS t(rule, tenant, expected), LATERAL check_tenant(t.rule, t.tenant, t.expected, evaluate => false) k;
-- A segment without a tenant is not visible within a tenant.
\set VERBOSITY terse
SELECT segments._compile('in segment ''US''', '2');
\set VERBOSITY default
SELECT segments._compile('in segment ''High''', '1') <> segments._compile('in segment ''High''', '2') AS resolved_per_tenant;

--
-- segments.matches and segments.explain evaluate as preview does: without
-- a tenant, "in segment" names the segments without one; with tenant =>,
-- that tenant's segments, and a contact of another tenant does not match.
--
\set VERBOSITY terse
SELECT segments.matches(2::bigint, 'in segment ''High''');
\set VERBOSITY default
SELECT c.id, c.account_id,
	segments.matches(c.id, 'in segment ''High''', tenant => c.account_id) AS matches,
	c.id IN (SELECT segments.preview('in segment ''High''', 1000, tenant => c.account_id)) AS in_preview,
	segments.matches(c.id, 'in segment ''High''', tenant => 3 - c.account_id) AS other_tenant
FROM contacts c WHERE c.account_id IN (1, 2) ORDER BY c.id LIMIT 6;
SELECT * FROM segments.explain((SELECT min(id) FROM contacts WHERE account_id = 2),
	'in segment ''High'' or score > 90', tenant => 2);

SELECT segments.drop_segment('High US', tenant => 2);
SELECT segments.drop_segment('High', tenant => 1);
SELECT segments.drop_segment('High', tenant => 2);
SELECT segments.drop_segment('US listed');
SELECT segments.drop_segment('US');
SELECT segments.drop_segment('Listed');
SELECT segments.detach_lists();
SELECT segments.detach_contacts();
DROP TABLE contacts, list_members, list_names;
