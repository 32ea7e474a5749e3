--
-- semantics_sources: several event sources.  Each attached events table is
-- a source with a name (the table's unless attach_events gives one), its
-- own contact, kind and time columns and time zone; a table whose rows are
-- all events of one kind (purchases) has that kind, constant_kind, instead
-- of a kind column.  event 'k' reads the source it names (from 'name'),
-- else the source of kind k: one of that constant kind, else the one with
-- a kind column.  Once several sources are attached, stored rules name
-- their sources, so that attaching another never changes what they read.
--
SET segments.now_override = '2025-06-15 12:00:00+00';

CREATE TABLE contacts (id bigint PRIMARY KEY, account_id integer NOT NULL DEFAULT 1);
INSERT INTO contacts (id) SELECT i FROM generate_series(1, 60) AS i;

CREATE TABLE email_events (
	contact_id bigint NOT NULL,
	kind text NOT NULL,
	occurred_at timestamptz NOT NULL,
	amount integer
);
INSERT INTO email_events
SELECT 1 + i % 50, (ARRAY['opened', 'clicked', 'purchased'])[1 + i % 3],
	timestamptz '2025-06-15 12:00+00' - i * interval '7 hours', i % 5
FROM generate_series(1, 300) AS i;

-- a shop's orders: one kind of event, times on a Berlin clock
CREATE TABLE purchases (
	customer bigint NOT NULL,
	amount numeric(10, 2),
	currency text NOT NULL DEFAULT 'EUR',
	purchased_at timestamp NOT NULL
);
INSERT INTO purchases
SELECT 1 + (i * 7) % 40, (i * 13) % 90 + 0.5, 'EUR', timestamp '2025-06-15 14:00' - i * interval '11 hours'
FROM generate_series(1, 120) AS i;

CREATE TABLE app_events (user_id bigint NOT NULL, kind text NOT NULL, at timestamptz NOT NULL);
INSERT INTO app_events
SELECT 1 + (i * 3) % 45, (ARRAY['opened', 'viewed'])[1 + i % 2], timestamptz '2025-06-15 12:00+00' - i * interval '5 hours'
FROM generate_series(1, 200) AS i;

SELECT segments.attach_contacts('contacts', key => 'id');
SELECT segments.attach_events('email_events', contact => 'contact_id', kind => 'kind', at => 'occurred_at',
	source => 'email');
SELECT segments.create_segment('openers', 'event ''opened'' count >= 3 within last 30 days') IS NOT NULL AS created;
SELECT segments.create_segment('spenders', 'event ''opened'' where (amount > 2) within last 30 days') IS NOT NULL AS created;

-- What attaching a source checks.
SELECT * FROM try($$SELECT segments.attach_events('purchases', contact => 'customer', at => 'purchased_at')$$);
SELECT * FROM try($$SELECT segments.attach_events('purchases', contact => 'customer', kind => 'currency', at => 'purchased_at', constant_kind => 'purchased')$$);
SELECT * FROM try($$SELECT segments.attach_events('purchases', contact => 'customer', constant_kind => 'purchased')$$);
SELECT * FROM try($$SELECT segments.attach_events('purchases', contact => 'customer', constant_kind => '', at => 'purchased_at')$$);
SELECT * FROM try($$SELECT segments.attach_events('purchases', contact => 'customer', constant_kind => 'purchased', at => 'purchased_at', source => 'email')$$);
SELECT * FROM try($$SELECT segments.attach_events('email_events', contact => 'contact_id', kind => 'kind', at => 'occurred_at', source => 'again')$$);
SELECT * FROM try($$SELECT segments.attach_events('purchases', contact => 'customer', constant_kind => 'purchased', at => 'purchased_at', source => repeat('s', 64))$$);

-- A second source: the stored rules now name the one they read.
SELECT segments.attach_events('purchases', contact => 'customer', constant_kind => 'purchased',
	at => 'purchased_at', time_zone => 'Europe/Berlin', source => 'shop');
SELECT role, table_name, source, kind_column, constant_kind, time_zone FROM segments.attached
WHERE role = 'events' ORDER BY source;
SELECT name, rule::text FROM segments.segment ORDER BY id;

-- n(source, contact, kind, filter): the hand-written count of events.
CREATE FUNCTION n(source text, contact bigint, kind text, filter text DEFAULT 'true') RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
	result bigint;
BEGIN
	IF source = 'email' THEN
		EXECUTE format('SELECT count(*) FROM email_events e WHERE e.contact_id = $1 AND e.kind = $2 AND (%s)', filter)
		INTO result USING contact, kind;
	ELSIF source = 'shop' THEN
		EXECUTE format('SELECT count(*) FROM purchases e WHERE e.customer = $1 AND $2 = ''purchased'' AND (%s)', filter)
		INTO result USING contact, kind;
	ELSE
		EXECUTE format('SELECT count(*) FROM app_events e WHERE e.user_id = $1 AND e.kind = $2 AND (%s)', filter)
		INTO result USING contact, kind;
	END IF;
	RETURN result;
END
$$;

-- 'purchased' is the shop's kind: its events, not the email table's rows
-- of that kind (reached by naming the source); 'opened' is the email's,
-- the one source with a kind column.
SELECT k.* FROM (VALUES
	('event ''purchased''', $$n('shop', c.id, 'purchased') >= 1$$),
	('event ''purchased'' from ''email''', $$n('email', c.id, 'purchased') >= 1$$),
	('event ''purchased'' sum(amount) >= 50 within last 14 days',
		$$(SELECT coalesce(sum(e.amount), 0) FROM purchases e WHERE e.customer = c.id AND e.purchased_at BETWEEN '2025-06-01 14:00' AND '2025-06-15 14:00') >= 50$$),
	('event ''purchased'' where (currency = ''EUR'' and amount > 80) count >= 1', $$n('shop', c.id, 'purchased', 'e.currency = ''EUR'' AND e.amount > 80') >= 1$$),
	('event ''purchased'' last before 10 days ago',
		$$(SELECT max(e.purchased_at) FROM purchases e WHERE e.customer = c.id) < '2025-06-05 14:00'$$),
	('event ''opened'' within last 30 days', $$n('email', c.id, 'opened', $f$e.occurred_at >= '2025-05-16 12:00+00'$f$) >= 1$$),
	('event ''opened'' from ''shop''', 'false'),
	('not event ''opened'' from ''shop''', 'true'),
	('event ''purchased'' and not event ''opened'' from ''email'' within last 7 days',
		$$n('shop', c.id, 'purchased') >= 1 AND n('email', c.id, 'opened', $f$e.occurred_at >= '2025-06-08 12:00+00'$f$) = 0$$)
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;

-- A third source with a kind column: a kind no constant source has is now
-- ambiguous, until the rule names its source.
SELECT segments.attach_events('app_events', contact => 'user_id', kind => 'kind', at => 'at', source => 'app');
SELECT * FROM try($$SELECT segments.preview_count('event ''opened''')$$);
SELECT * FROM try($$SELECT segments.preview_count('event ''opened'' from ''web''')$$);
SELECT k.* FROM (VALUES
	('event ''opened'' from ''app'' count >= 2 within last 10 days', $$n('app', c.id, 'opened', $f$e.at >= '2025-06-05 12:00+00'$f$) >= 2$$),
	('event ''opened'' from ''email'' or event ''opened'' from ''app''', $$n('email', c.id, 'opened') + n('app', c.id, 'opened') >= 1$$),
	('event ''purchased''', $$n('shop', c.id, 'purchased') >= 1$$)
) AS t(rule, expected), LATERAL check_rule(t.rule, t.expected) k;
SELECT * FROM segments.rule_references('event ''opened'' from ''app'' where (at > 1 day ago) and event ''purchased'' sum(amount) > 1');

-- Segments on every source; new ones are stored naming their sources.
SELECT segments.create_segment('buyers', 'event ''purchased'' sum(amount) >= 50 within last 14 days') IS NOT NULL AS created;
SELECT segments.create_segment('app users', 'event ''opened'' from ''app'' within last 10 days') IS NOT NULL AS created;
SELECT name, rule::text FROM segments.segment ORDER BY id;
SELECT s.name, count(m.contact) AS members
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id, s.name ORDER BY s.id;

-- A write to one source queues the segments reading it, not the others.
BEGIN;
INSERT INTO purchases VALUES (55, 500, 'EUR', '2025-06-15 13:00');
SELECT DISTINCT s.name FROM segments.pending() p JOIN segments.segment s ON s.id = p.segment_id ORDER BY 1;
COMMIT;
BEGIN;
INSERT INTO app_events VALUES (56, 'opened', '2025-06-15 11:00+00');
SELECT DISTINCT s.name FROM segments.pending() p JOIN segments.segment s ON s.id = p.segment_id ORDER BY 1;
COMMIT;
INSERT INTO email_events SELECT 57, 'opened', '2025-06-15 11:00+00', 3 FROM generate_series(1, 3);
SELECT s.name, m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact IN (55, 56, 57) ORDER BY s.id, m.contact;
DELETE FROM purchases WHERE customer = 55;
UPDATE app_events SET kind = 'viewed' WHERE user_id = 56;
SET segments.now_override = '2025-06-25 12:00:00+00';
SELECT segments.tick() > 0 AS ticked;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;

-- A column renamed is followed in the rules of its own source only: the
-- shop's amount, not the email's.
ALTER TABLE purchases RENAME COLUMN amount TO total;
ALTER TABLE app_events RENAME COLUMN at TO seen_at;
SELECT name, rule::text FROM segments.segment ORDER BY id;
SELECT role, source, at_column FROM segments.attached WHERE role = 'events' ORDER BY source;
SELECT * FROM try($$ALTER TABLE purchases DROP COLUMN total$$);
SELECT * FROM try($$ALTER TABLE email_events DROP COLUMN amount$$);
SELECT * FROM try($$ALTER TABLE purchases DROP COLUMN purchased_at$$);
ALTER TABLE purchases DROP COLUMN currency;
SELECT s.name, v.missing, v.extra FROM segments.segment s, LATERAL segments.verify_segment(s.id) v ORDER BY s.id;

-- A table is under one attached table: a partition or child of a source
-- is not attached as another, nor made one of another's.
CREATE TABLE app_archive (LIKE app_events);
ALTER TABLE app_archive INHERIT app_events;
SELECT * FROM try($$SELECT segments.attach_events('app_archive', contact => 'user_id', kind => 'kind', at => 'seen_at', source => 'archive')$$);
SELECT * FROM try($$SELECT segments.attach_events('app_events', contact => 'user_id', kind => 'kind', at => 'seen_at', source => 'again')$$);
ALTER TABLE app_archive NO INHERIT app_events;
SELECT segments.attach_events('app_archive', contact => 'user_id', kind => 'kind', at => 'seen_at', source => 'archive');
SELECT * FROM try($$ALTER TABLE app_archive INHERIT app_events$$);
SELECT segments.detach_events('archive');
DROP TABLE app_archive;
CREATE TABLE app_all (LIKE app_events);
ALTER TABLE app_events INHERIT app_all;
SELECT * FROM try($$SELECT segments.attach_events('app_all', contact => 'user_id', kind => 'kind', at => 'seen_at', source => 'all')$$);
ALTER TABLE app_events NO INHERIT app_all;
DROP TABLE app_all;

-- One DROP of a source's table and of a partition of another source: the
-- other source's segments lose the partition's events.
CREATE TABLE visits (user_id bigint NOT NULL, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE visits_old PARTITION OF visits FOR VALUES FROM ('2000-01-01') TO ('2025-06-01');
CREATE TABLE visits_new PARTITION OF visits FOR VALUES FROM ('2025-06-01') TO ('2030-01-01');
INSERT INTO visits VALUES (1, '2025-05-01'), (2, '2025-06-10');
CREATE TABLE spare (user_id bigint NOT NULL, at timestamptz NOT NULL);
SELECT segments.attach_events('visits', contact => 'user_id', constant_kind => 'visited', at => 'at');
SELECT segments.attach_events('spare', contact => 'user_id', constant_kind => 'spared', at => 'at');
SELECT segments.create_segment('visitors', 'event ''visited''') IS NOT NULL AS created;
DROP TABLE spare, visits_old;
SELECT m.contact FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE s.name = 'visitors' ORDER BY 1;
SELECT segments.drop_segment('visitors');
SELECT segments.detach_events('visits');
DROP TABLE visits;

-- Detaching: by name when several are attached; refused while read.
SELECT * FROM try($$SELECT segments.detach_events()$$);
SELECT * FROM try($$SELECT segments.detach_events('shop')$$);
SELECT * FROM try($$SELECT segments.detach_events('web')$$);
SELECT segments.drop_segment('app users');
SELECT segments.detach_events('app');
SELECT count(*) AS app_triggers FROM pg_trigger WHERE tgrelid = 'app_events'::regclass AND tgname LIKE 'segments%';
-- a dropped source table is detached, when no rule reads it
SELECT segments.drop_segment('buyers');
DROP TABLE purchases;
SELECT source FROM segments.attached WHERE role = 'events' ORDER BY source;

SELECT segments.drop_segment(name) FROM segments.segment ORDER BY id;
SELECT segments.detach_events();
SELECT segments.detach_contacts();
DROP FUNCTION n(text, bigint, text, text);
DROP TABLE contacts, email_events, app_events;
RESET segments.now_override;
