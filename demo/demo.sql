-- The segments demo: a walkthrough of the extension.  Run by demo/run.sh
-- (psql -e echoes each query before its result).
--
-- Part 1 shows the rule type on its own: canonical text, JSON form,
-- introspection and the errors of bad rules.  Part 2 generates a sample
-- database with bench/data.sql (contacts of 10 tenants, a year of email
-- events, list memberships), attaches it and works with segments: trying a
-- rule, creating segments of every kind, explaining one contact, showing
-- the SQL of a rule, altering, writes moving a contact into and out of
-- segments as they happen (with the log and the notifications they
-- produce), refreshing and verifying, segments changed by hand (include,
-- exclude, static segments), lint, and time passing (segments.tick()).
--
-- Everything must succeed (ON_ERROR_STOP) except the statements that are
-- meant to fail, which run with ON_ERROR_STOP off so that their errors are
-- shown and the demo goes on.

\set ON_ERROR_STOP 1
CREATE EXTENSION segments;

-- The rule operators (=, <>) live in schema segments; times print in UTC.
SET search_path = public, segments;
SET TimeZone = 'UTC';

\echo
\echo '======== Part 1: rules ========'
\echo
\echo '== 1. Rules are values of type segments.rule, written in a small language.'
\echo '   Whatever the spelling (upper-case keywords, redundant parentheses,'
\echo '   quoted identifiers), a rule prints in one canonical form, which reads'
\echo '   back as the same rule.'
\echo

SELECT $$((COUNTRY = 'US')) AND ("plan" IN ('pro','team') OR "Signup Source" = 'ads') AND NOT (IN SEGMENT 'Churned')$$::segments.rule;

SELECT $$Event 'opened' WHERE (Campaign = 'spring') COUNT >= 1 EVER$$::segments.rule;

SELECT r::text AS canonical,
       (r::text)::segments.rule::text = r::text AS reads_back_the_same
FROM (VALUES ($$NOT (a = 1 OR b = 2) AND (c.d.e IS NOT NULL)$$::segments.rule)) AS v(r);

\echo
\echo '== 2. The example of the README: fields, jsonb properties'
\echo '   (props.ltv), events with a count and a window, lists, other segments'
\echo '   and times relative to now.  Two spellings of one rule are equal.'
\echo

SELECT $$
country = 'US' and plan in ('pro', 'team')
and (event 'opened' count >= 3 within last 30 days or in list 7)
and not in segment 'Churned'
and props.ltv >= 1000 and email ends with '@gmail.com'
and created_at < 90 days ago
$$::segments.rule AS rule;

SELECT $$(Country = 'US') AND ((plan <> 'free'))$$::segments.rule
     = $$"country" = 'US' and plan != 'free'$$::segments.rule AS same_rule;

\echo
\echo '== 3. The JSON form, for rule builders in a user interface, and back:'
\echo '   the round trip is exact.'
\echo

SELECT jsonb_pretty(segments.rule_to_jsonb(
  $$country = 'US' and (event 'opened' count >= 3 within last 30 days or in list 7)$$::segments.rule
)) AS json;

SELECT segments.rule_from_jsonb(segments.rule_to_jsonb(r)) = r AS round_trip_exact
FROM (VALUES ($$country = 'US' and (event 'opened' count >= 3 within last 30 days or in list 7)$$::segments.rule)) AS v(r);

\echo
\echo '== 4. What a rule refers to (what its segment depends on), and whether'
\echo '   its truth changes as time passes:'
\echo

SELECT *
FROM segments.rule_references($$
country = 'US' and props.ltv >= 1000
and event 'clicked' where (url contains 'pricing') count >= 2 within last 7 days
and in list 7 and not in segment 'Churned'
$$::segments.rule);

SELECT r AS rule, segments.rule_depends_on_time(r) AS depends_on_time
FROM (VALUES
  ($$country = 'US'$$::segments.rule),
  ($$created_at < 90 days ago$$::segments.rule),
  ($$event 'opened' count >= 3$$::segments.rule)
) AS v(r);

\echo
\echo '== 5. Bad rules give clear errors.  A syntax error names its position;'
\echo '   nesting deeper than the documented limit and JSON that is not a rule'
\echo '   are refused too.'
\echo

\set ON_ERROR_STOP 0
SELECT $$country = 'US' and and plan = 'pro'$$::segments.rule;

SELECT $$created_at < 3 fortnights ago$$::segments.rule;

SELECT (repeat('(', 200) || 'a = 1' || repeat(')', 200))::segments.rule;

SELECT segments.rule_from_jsonb('{"frobnicate": true}');
\set ON_ERROR_STOP 1

\echo
\echo '======== Part 2: segments on a sample database ========'
\echo
\echo '== 6. A sample database from bench/data.sql: 20,000 contacts of 10'
\echo '   tenants (account_id) with jsonb properties (props), 200,000 email'
\echo '   events over the year before 2025-06-15 12:00 UTC (a few contacts very'
\echo '   active, many with a handful of events, some with none), 10,000'
\echo '   purchases from a shop (an amount in a currency), and about 40,000'
\echo '   list memberships over 20 lists, two per contact on average, some'
\echo '   unsubscribed since, each with the time it began.'
\echo '   (Generating it takes a second or two.)'
\echo

\set contacts 20000
\set events 200000
\set tenants 10
\set ECHO none
\set QUIET on
SET client_min_messages = warning;
\ir ../bench/data.sql
RESET client_min_messages;
\set QUIET off
\set ECHO queries
\set ON_ERROR_STOP 1

SELECT (SELECT count(*) FROM contacts) AS contacts,
       (SELECT count(*) FROM events) AS events,
       (SELECT count(*) FROM purchases) AS purchases,
       (SELECT count(*) FROM list_members) AS list_members;

SELECT status, count(*) AS list_rows FROM list_members GROUP BY status ORDER BY status;

SELECT * FROM contacts ORDER BY id LIMIT 3;

SELECT kind, count(*) AS events FROM events GROUP BY kind ORDER BY count(*) DESC, kind;

\echo
\echo '   The clock rules use is segments.now(): now(), or the superuser-only'
\echo '   setting segments.now_override.  Pin it to the end of the generated'
\echo '   year so that this output is the same every day.'
\echo

SET segments.now_override = '2025-06-15 12:00:00+00';
SELECT segments.now();

\echo
\echo '== 7. Attach the tables, once per database.  Attach checks the tables'
\echo '   and columns; attaching the contacts creates segments.membership,'
\echo '   segments.membership_log and segments.preview, typed by the key.'
\echo

SELECT segments.attach_contacts('public.contacts', key => 'id', tenant => 'account_id');
-- Two event sources: the email events, with a kind column, and the shop's
-- purchases, all of one kind.
SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'occurred_at',
                              source => 'email');
SELECT segments.attach_events('public.purchases', contact => 'contact_id', at => 'purchased_at',
                              constant_kind => 'purchased', source => 'shop');
SELECT segments.attach_lists('public.list_members', contact => 'contact_id', list => 'list_id', at => 'subscribed_at');

SELECT role, source, table_name, contact_column, tenant_column, kind_column, constant_kind, at_column, list_column
FROM segments.attached ORDER BY role, source;

\echo
\echo '== 8. Try a rule before saving it: preview lists the first matching'
\echo '   contacts in key order, preview_count counts them, over all contacts'
\echo '   or within one tenant.'
\echo

SELECT * FROM segments.preview($$props.ltv >= 4000 and props.vip = true$$, 5);

SELECT segments.preview_count($$props.ltv >= 4000 and props.vip = true$$) AS all_tenants,
       segments.preview_count($$props.ltv >= 4000 and props.vip = true$$, tenant => 3) AS tenant_3;

\echo
\echo '== 9. Create segments of every kind.  Each is checked against the'
\echo '   attached tables, recorded in segments.segment and built: the'
\echo '   contacts its rule selects are written to the membership and its log'
\echo '   in batches, as COPY writes; create_segment returns its id.'
\echo

-- A test of plain columns.
SELECT segments.create_segment('US paid', $$country = 'US' and plan in ('pro', 'team')$$);
-- jsonb properties, typed by the literal: a number, a boolean.
SELECT segments.create_segment('High value', $$props.ltv >= 4000 and props.vip = true$$);
-- Engagement: a count of events over a window.
SELECT segments.create_segment('Engaged', $$event 'opened' count >= 3 within last 30 days$$);
-- A list.
SELECT segments.create_segment('Newsletter', $$in list 7$$);
-- A list's state and time: still subscribed, and joined in the last 30 days.
SELECT segments.create_segment('Newsletter subscribers', $$in list 7 where (status = 'subscribed')$$);
SELECT segments.create_segment('New on the newsletter', $$in list 7 within last 30 days$$);
-- A negation: mail delivered lately, but no open in 180 days.
SELECT segments.create_segment('Dormant', $$event 'delivered' within last 90 days and not event 'opened' within last 180 days$$);
-- Other segments.
SELECT segments.create_segment('Engaged readers', $$in segment 'Engaged' and in segment 'Newsletter'$$);
-- A segment of one tenant: only account 3's contacts, with a filter on the
-- event's own columns.
SELECT segments.create_segment('Pricing interest', $$event 'clicked' where (url contains 'pricing') within last 30 days$$, tenant => 3);
-- The latest event: contacts who opened once, but not for 30 days.
SELECT segments.create_segment('Lapsed openers', $$event 'opened' last before 30 days ago$$);
-- An aggregate of an event column: clicks on three campaigns or more.
SELECT segments.create_segment('Campaign hoppers', $$event 'clicked' count(distinct campaign) >= 3 within last 90 days$$);
-- The shop's purchases: spent 500 or more in 90 days; an average basket
-- of 250 or more; a first purchase this month.
SELECT segments.create_segment('Big spenders', $$event 'purchased' sum(amount) >= 500 within last 90 days$$);
SELECT segments.create_segment('Big baskets', $$event 'purchased' where (currency = 'EUR') avg(amount) >= 250$$);
SELECT segments.create_segment('New customers', $$event 'purchased' first within last 30 days$$);
-- Time in a segment: engaged for a week at least (its members joined now,
-- by the demo's clock: part 15 moves the clock and they become loyal).
SELECT segments.create_segment('Loyal engaged', $$in segment 'Engaged' for at least 7 days$$);
-- A stable random sample: the same 10% of the engaged every time, to hold
-- out of a campaign (the bucket is a hash of the seed and the contact).
SELECT segments.create_segment('Engaged holdout', $$in segment 'Engaged' and sample 10% seed 'spring campaign'$$);

\echo
\echo '   The catalog and the number of members of each segment, read from'
\echo '   segments.membership (segment_id, contact, since):'
\echo

SELECT s.id, s.name, s.tenant, count(m.contact) AS members, s.rule
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id ORDER BY s.id;

\echo
\echo '== 10. Why does a contact match a rule, or not?  explain evaluates the'
\echo '   rule for one contact, one row per condition, with the value it saw.'
\echo '   Here the first member of "Engaged readers" that the rule matches:'
\echo

SELECT min(m.contact) AS contact
FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE s.name = 'Engaged readers'
  AND segments.matches(m.contact,
    $$in segment 'Engaged' and (country = 'US' or props.ltv >= 4000) and not event 'clicked' where (url contains 'pricing') within last 90 days$$) \gset

SELECT id, account_id, email, country, plan, props FROM contacts WHERE id = :contact;

-- Membership is a plain table: the segments this contact is in.
SELECT s.name
FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = :contact ORDER BY s.id;

SELECT * FROM segments.explain(:contact::bigint,
  $$in segment 'Engaged' and (country = 'US' or props.ltv >= 4000) and not event 'clicked' where (url contains 'pricing') within last 90 days$$);

SELECT segments.matches(:contact::bigint, $$in segment 'Dormant'$$) AS dormant;

\echo
\echo '== 11. The SQL a rule stands for (to read, or to run from a BI tool):'
\echo '   every identifier and literal quoted, relative times computed by'
\echo '   segments.ago() and segments.now() when it runs.'
\echo

SELECT segments.to_sql($$country = 'US' and event 'opened' count >= 3 within last 30 days and not in list 7$$)
\g (format=unaligned tuples_only=on)

\echo
\echo '== 12. Change a rule: alter_segment applies only the difference.'
\echo '   Contacts that no longer match leave, new matches join, each logged'
\echo '   in segments.membership_log (id, segment_id, contact, joined, at,'
\echo '   cause); the members that stay are not touched.  Segments using the'
\echo '   altered one ("in segment") follow in the same transaction.'
\echo

SELECT coalesce(max(id), 0) AS log_seen FROM segments.membership_log \gset

SELECT segments.alter_segment('Engaged', $$event 'opened' count >= 2 within last 14 days$$);

SELECT s.name, l.cause, CASE WHEN l.joined THEN 'joined' ELSE 'left' END AS change, count(*) AS contacts
FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.id > :log_seen
GROUP BY s.id, s.name, l.cause, l.joined ORDER BY s.id, l.joined DESC;

\echo
\echo '   A consumer follows the log with segments.changes(cursor, max_rows):'
\echo '   every change once, in order, even with writers still committing; it'
\echo '   keeps the last cursor of each batch and asks again from there.'
\echo

SELECT c.segment_id, c.contact, c.joined, c.cause
FROM segments.changes(NULL, 5) c;

\echo
\echo '== 13. Writes move contacts at once.  Triggers on the attached tables'
\echo '   bring membership up to date when the writing transaction commits,'
\echo '   for the contacts it touched and the segments its change can affect'
\echo '   (and those using them), logging each join and leave with cause'
\echo '   write.  Each changed segment is notified once per transaction on the'
\echo '   channel segments, its id as the payload: this session listens, and'
\echo '   psql prints each notification after the statement that delivered it.'
\echo

LISTEN segments;

\echo
\echo '   Our contact: a free-plan US subscriber of the newsletter (list 7),'
\echo '   mailed lately but silent, hence Dormant.'
\echo

SELECT min(c.id) AS who
FROM contacts c
JOIN segments.membership m ON m.contact = c.id
JOIN segments.segment s ON s.id = m.segment_id AND s.name = 'Dormant'
WHERE c.country = 'US' AND c.plan = 'free'
  AND EXISTS (SELECT FROM list_members l WHERE l.contact_id = c.id AND l.list_id = 7) \gset

SELECT id, account_id, email, country, plan FROM contacts WHERE id = :who;

SELECT string_agg(s.name, ', ' ORDER BY s.id) AS segments
FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = :who;

SELECT coalesce(max(id), 0) AS log_seen FROM segments.membership_log \gset

\echo
\echo '   a. An UPDATE of one field: on the pro plan, the contact joins'
\echo '      "US paid" (country = US and plan in (pro, team)).'
\echo

UPDATE contacts SET plan = 'pro' WHERE id = :who;

SELECT l.id, s.name AS segment, l.contact, CASE WHEN l.joined THEN 'joined' ELSE 'left' END AS change, l.cause
FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.id > :log_seen ORDER BY l.id;
SELECT max(id) AS log_seen FROM segments.membership_log \gset

SELECT string_agg(s.name, ', ' ORDER BY s.id) AS segments
FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = :who;

\echo
\echo '   An update of a column that no rule names (score) evaluates nothing:'
\echo '   no log row, no notification.'
\echo

UPDATE contacts SET score = score + 1 WHERE id = :who;

SELECT count(*) AS new_log_rows FROM segments.membership_log WHERE id > :log_seen;

\echo
\echo '   b. Events, up to a count threshold.  "Engaged" now asks for 2 opens'
\echo '   in 14 days, and "Engaged readers" for Engaged and the newsletter.'
\echo '   A first open (2 days ago by the pinned clock; the sample''s events'
\echo '   are numbered up to 200,000) ends the silence: the contact leaves'
\echo '   Dormant, but one open is below the threshold.'
\echo

INSERT INTO events (id, contact_id, kind, occurred_at, campaign)
VALUES (200001, :who, 'opened', segments.now() - interval '2 days', 'campaign-7');

SELECT l.id, s.name AS segment, l.contact, CASE WHEN l.joined THEN 'joined' ELSE 'left' END AS change, l.cause
FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.id > :log_seen ORDER BY l.id;
SELECT max(id) AS log_seen FROM segments.membership_log \gset

\echo
\echo '   The second open reaches the threshold: Engaged, and through it'
\echo '   Engaged readers.  Inside a transaction, membership changes when it'
\echo '   commits; segments.flush() applies the transaction''s writes so far'
\echo '   before that.  The notifications are delivered at commit.'
\echo

BEGIN;
INSERT INTO events (id, contact_id, kind, occurred_at, campaign)
VALUES (200002, :who, 'opened', segments.now() - interval '1 hour', 'campaign-8');

SELECT string_agg(s.name, ', ' ORDER BY s.id) AS segments_before_flush
FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = :who;
SELECT segments.flush();
SELECT string_agg(s.name, ', ' ORDER BY s.id) AS segments_after_flush
FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = :who;
COMMIT;

SELECT l.id, s.name AS segment, l.contact, CASE WHEN l.joined THEN 'joined' ELSE 'left' END AS change, l.cause
FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.id > :log_seen ORDER BY l.id;
SELECT max(id) AS log_seen FROM segments.membership_log \gset

SELECT * FROM segments.explain(:who::bigint, $$event 'opened' count >= 2 within last 14 days$$);

\echo
\echo '   c. A list: leaving the newsletter takes the contact out of'
\echo '   "Newsletter" and, with it, out of "Engaged readers".'
\echo

DELETE FROM list_members WHERE contact_id = :who AND list_id = 7;

SELECT l.id, s.name AS segment, l.contact, CASE WHEN l.joined THEN 'joined' ELSE 'left' END AS change, l.cause
FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.id > :log_seen ORDER BY l.id;
SELECT max(id) AS log_seen FROM segments.membership_log \gset

SELECT string_agg(s.name, ', ' ORDER BY s.id) AS segments
FROM segments.membership m JOIN segments.segment s ON s.id = m.segment_id
WHERE m.contact = :who;

UNLISTEN segments;

\echo
\echo '== 14. refresh_segment re-evaluates a segment in full and applies the'
\echo '   difference (none here: the writes above were applied as they'
\echo '   happened); verify_segment compares the stored membership with a'
\echo '   fresh evaluation: (0, 0) is right.'
\echo

SELECT segments.refresh_segment('Engaged') AS changes;

SELECT s.name, v.missing, v.extra
FROM segments.segment s, LATERAL segments.verify_segment(s.id) v
ORDER BY s.id;

\echo
\echo '== 14b. By hand: exclude a contact from a segment or include one,'
\echo '   whatever the rule says (logged with cause manual; explain says it);'
\echo '   and static segments, whose members are fixed: everyone who matched'
\echo '   on launch day, changed only by hand from then on.'
\echo

SELECT segments.exclude('Engaged', :who::bigint) AS changes;
SELECT * FROM segments.explain(:who::bigint, $$in segment 'Engaged'$$);
SELECT segments.create_segment('Launch day', $$plan = 'pro' and country = 'US'$$, static => true);
UPDATE contacts SET plan = 'free' WHERE id = (SELECT min(m.contact) FROM segments.membership m
	JOIN segments.segment s ON s.id = m.segment_id WHERE s.name = 'Launch day');
SELECT s.name, count(m.contact) AS members FROM segments.segment s
LEFT JOIN segments.membership m ON m.segment_id = s.id WHERE s.name = 'Launch day' GROUP BY s.name;
SELECT s.name AS segment, l.cause, l.joined, count(*) AS contacts
FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.id > :log_seen GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
SELECT max(id) AS log_seen FROM segments.membership_log \gset

\echo
\echo '   Rules that look wrong for the data: lint says which conditions, with'
\echo '   a hint (create_segment and alter_segment say it as NOTICEs).'
\echo

SELECT * FROM segments.lint($$event 'opend' within last 30 days and tags contains 'VIP' and props.ltv > '1000'$$);

\echo
\echo '== 15. Time passes.  Engaged (now 2 opens within the last 14 days), Dormant'
\echo '   and Pricing interest change as the days go by, with no write at all:'
\echo '   segments.tick() applies what is due (the background worker or'
\echo '   pg_cron calls it every minute).  It reads only the contacts with an'
\echo '   event or value at an edge that time crossed since the last tick.'
\echo '   Fast-forward the clock a week, then a month; then back.'
\echo

SELECT s.name, count(m.contact) AS members
FROM segments.segment s LEFT JOIN segments.membership m ON m.segment_id = s.id
GROUP BY s.id ORDER BY s.id;

SET segments.now_override = '2025-06-22 12:00:00+00';
SELECT segments.tick() AS changes;
SELECT s.name AS segment, count(*) FILTER (WHERE l.joined) AS joined,
       count(*) FILTER (WHERE NOT l.joined) AS "left"
FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.id > :log_seen AND l.cause = 'time'
GROUP BY s.id, s.name ORDER BY s.id;
SELECT max(id) AS log_seen FROM segments.membership_log \gset

SET segments.now_override = '2025-07-22 12:00:00+00';
SELECT segments.tick() AS changes;
SELECT s.name AS segment, count(*) FILTER (WHERE l.joined) AS joined,
       count(*) FILTER (WHERE NOT l.joined) AS "left"
FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.id > :log_seen AND l.cause = 'time'
GROUP BY s.id, s.name ORDER BY s.id;
SELECT max(id) AS log_seen FROM segments.membership_log \gset

\echo
\echo '   A tick with nothing due does next to nothing; every segment still'
\echo '   verifies.  Moving the clock back undoes it all.'
\echo

SELECT segments.tick() AS changes;
SELECT s.name, v.missing, v.extra
FROM segments.segment s, LATERAL segments.verify_segment(s.id) v
ORDER BY s.id;
SET segments.now_override = '2025-06-15 12:00:00+00';
SELECT segments.tick() AS changes;

\echo
\echo '   segments.stats: per segment, its members, its last join or leave,'
\echo '   the last tick, and how far behind the clock a segment that time'
\echo '   changes is (times here are the real clock''s).'
\echo

SELECT name, members, last_change, last_tick, swept_to, behind FROM segments.stats;

\echo
\echo '== 16. Rules are checked against the attached tables.  An unknown field'
\echo '   names the table and hints the nearest column; a literal is read by'
\echo '   the column type''s input function; a segment that others use cannot'
\echo '   be dropped.  Nothing changes when a statement fails.'
\echo

\set ON_ERROR_STOP 0
\set SHOW_CONTEXT never
SELECT segments.preview_count($$contry = 'US'$$);

-- (The context of this error says which field the value was read for.)
\set SHOW_CONTEXT errors
SELECT segments.create_segment('Top scores', $$score >= 'high'$$);
\set SHOW_CONTEXT never

SELECT segments.drop_segment('Newsletter');
\set SHOW_CONTEXT errors
\set ON_ERROR_STOP 1

SELECT count(*) AS segments FROM segments.segment;

\echo
\echo '== Done.'
