--
-- Introspection: segments.rule_references(rule) lists what a rule refers
-- to, and segments.rule_depends_on_time(rule) says whether the clock alone
-- can change its truth.  The maintenance engine uses both to find the
-- segments a change can affect.
--

-- Every kind of reference, in order of first appearance: fields (name is
-- the column, path the column and its property keys), events (name is the
-- kind, path the source when the rule names one), event fields tested in
-- an event's where clause, lists (the value as text), list fields tested
-- in a list's where clause and segments.
SELECT * FROM segments.rule_references(
	'country = ''US'' and props.ltv >= 1000 and props."First Name" starts with ''a''
	 and event ''clicked'' where (url contains ''pricing'' and campaign = ''spring'') count >= 2
	 and in list 7 and in list ''vip'' and not in segment ''Churned''
	 and event ''purchased'' from ''shop'' and in list ''news'' where (status = ''on'')');

-- A reference used several times is listed once; relative is true when
-- any use of it compares with the clock.
SELECT * FROM segments.rule_references(
	'created_at > ''2024-01-01'' or created_at > 30 days ago or created_at is null');
SELECT * FROM segments.rule_references(
	'event ''opened'' count >= 3 within last 30 days and not event ''opened'' within last 1 day');
SELECT * FROM segments.rule_references('event ''opened'' since ''2024-01-01'' and event ''sent''');

-- The same column as a contact field and as an event field are different
-- references; so are two paths into one jsonb column.
SELECT * FROM segments.rule_references(
	'campaign = ''a'' and event ''sent'' where (campaign = ''a'') and props.a = 1 and props.b = 1 and props.a.b = 1');

-- A list value is shown as text, so 7 and '7' name the same list.
SELECT * FROM segments.rule_references('in list 7 or in list ''7'' or in list true');

-- A rule without references.
SELECT * FROM segments.rule_references('true');
SELECT count(*) FROM segments.rule_references('not false');

-- Which rules depend on time: every relative form, and absolute ones.
SELECT segments.rule_depends_on_time(r::segments.rule) AS depends_on_time, r
FROM (VALUES
	('created_at < 90 days ago'),
	('renews_at < 2 weeks from now'),
	('last_seen > now'),
	('last_seen within last 7 days'),
	('renews_at within next 1 month'),
	('created_at between 1 year ago and now'),
	('event ''opened'' within last 30 days'),
	('event ''opened'' since 1 week ago'),
	('event ''opened'' before now'),
	('event ''opened'' between 2 days ago and 1 day ago'),
	('event ''opened'' where (at > 1 hour ago)'),
	('in list 7 or created_at < 1 minute ago'),
	('created_at < ''2024-01-01'''),
	('event ''opened'' count >= 3'),
	('event ''opened'' since ''2024-01-01'''),
	('country = ''US'' and in list 7 and in segment ''VIP'''),
	('true')
) AS t(r);

-- The functions are strict, and need a valid rule.
SELECT * FROM segments.rule_references(NULL);
SELECT segments.rule_depends_on_time(NULL);
SELECT segments.rule_depends_on_time('created_at <');
