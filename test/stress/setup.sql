-- The database of test/scripts/stress.sh, after bench/data.sql: ids for new
-- rows, the extension, the attached tables and segments of every kind.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- New events and contacts take ids past the generated ones.
CREATE SEQUENCE public.event_ids;
SELECT setval('public.event_ids', (SELECT max(id) FROM public.events));
ALTER TABLE public.events ALTER COLUMN id SET DEFAULT nextval('public.event_ids');
CREATE SEQUENCE public.contact_ids START 1000001;

CREATE EXTENSION segments;
SELECT segments.attach_contacts('public.contacts', key => 'id', tenant => 'account_id');
SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'occurred_at');
SELECT segments.attach_lists('public.list_members', contact => 'contact_id', list => 'list_id');

-- Fields.
SELECT segments.create_segment('US paid', $$country = 'US' and plan in ('pro', 'team')$$);
SELECT segments.create_segment('High score', $$score >= 80 and email ends with '@gmail.com'$$);
SELECT segments.create_segment('Tagged vip', $$tags contains 'vip'$$);
-- jsonb properties.
SELECT segments.create_segment('High value', $$props.ltv >= 4000 and props.vip = true$$);
SELECT segments.create_segment('Parisians', $$props.city = 'Paris' or props.ltv between 100 and 200$$);
-- Event counts with windows, filters on the event's columns, negations.
SELECT segments.create_segment('Engaged', $$event 'opened' count >= 3 within last 30 days$$);
SELECT segments.create_segment('Pricing clickers', $$event 'clicked' where (url contains 'pricing') count >= 2 within last 90 days$$);
SELECT segments.create_segment('Dormant', $$event 'delivered' within last 90 days and not event 'opened' within last 180 days$$);
SELECT segments.create_segment('Few opens', $$event 'opened' count < 5 since '2025-05-01'$$);
SELECT segments.create_segment('Not US', $$not country = 'US'$$);
-- Lists.
SELECT segments.create_segment('Newsletter', $$in list 7$$);
SELECT segments.create_segment('List 1 only', $$in list 1 and not in list 2$$);
-- Segments of segments, two levels.
SELECT segments.create_segment('Engaged readers', $$in segment 'Engaged' and in segment 'Newsletter'$$);
SELECT segments.create_segment('Engaged US readers', $$in segment 'Engaged readers' and (country = 'US' or in segment 'High value')$$);
SELECT segments.create_segment('Quiet', $$not in segment 'Engaged' and not in segment 'Dormant'$$);
-- Segments of one tenant, one of them using another.
SELECT segments.create_segment('T3 pricing', $$event 'clicked' where (url contains 'pricing') within last 30 days$$, tenant => 3);
SELECT segments.create_segment('T3 gmail', $$email ends with '@gmail.com' and score > 50$$, tenant => 3);
SELECT segments.create_segment('T3 gmail openers', $$in segment 'T3 gmail' and event 'opened' count >= 2 within last 14 days$$, tenant => 3);
SELECT segments.create_segment('T2 everyone', $$true$$, tenant => 2);
-- Over the hot contacts: the segment that admin.sql alters back and forth,
-- and the one it renames back and forth, with a segment referring to it.
SELECT segments.create_segment('Hot country', $$id between 4001 and 4010 and country = 'US'$$);
SELECT segments.create_segment('Hot score', $$id between 4001 and 4010 and score >= 40$$);
SELECT segments.create_segment('Hot score US', $$in segment 'Hot score' and country = 'US'$$);

VACUUM ANALYZE;
