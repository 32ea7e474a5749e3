-- Catalog changes beside the writers, at READ COMMITTED whatever the
-- writers' level: rules change back and forth (the dependents of
-- "Engaged" follow), a segment is refreshed.
\set r random(0, 1)
BEGIN ISOLATION LEVEL READ COMMITTED;
SELECT segments.alter_segment('Hot country',
    CASE WHEN :r = 0 THEN $$id between 4001 and 4010 and country = 'US'$$
         ELSE $$id between 4001 and 4010 and country = 'GB'$$ END::segments.rule);
SELECT segments.alter_segment('Engaged',
    CASE WHEN :r = 0 THEN $$event 'opened' count >= 3 within last 30 days$$
         ELSE $$event 'opened' count >= 2 within last 14 days$$ END::segments.rule);
SELECT segments.refresh_segment('Dormant');
COMMIT;
