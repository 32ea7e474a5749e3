-- Catalog changes beside the writers, at READ COMMITTED whatever the
-- writers' level, one of four at random: rules change back and forth (the
-- dependents of "Engaged" follow); a segment is refreshed; "Rotating" is
-- created if it does not exist and dropped if it does; "Hot score", which
-- "Hot score US" refers to, is renamed back and forth.  The writers run on
-- long-lived connections: each change must reach them all.
\set change random(0, 3)
\set r random(0, 1)
BEGIN ISOLATION LEVEL READ COMMITTED;
-- The lock every catalog change takes, taken first so that the tests of
-- existence below see the last change committed.
LOCK TABLE segments.segment IN SHARE ROW EXCLUSIVE MODE;
\if :change = 0
SELECT segments.alter_segment('Hot country',
    CASE WHEN :r = 0 THEN $$id between 4001 and 4010 and country = 'US'$$
         ELSE $$id between 4001 and 4010 and country = 'GB'$$ END::segments.rule);
SELECT segments.alter_segment('Engaged',
    CASE WHEN :r = 0 THEN $$event 'opened' count >= 3 within last 30 days$$
         ELSE $$event 'opened' count >= 2 within last 14 days$$ END::segments.rule);
\elif :change = 1
SELECT segments.refresh_segment('Dormant');
\elif :change = 2
DO $$
BEGIN
    IF EXISTS (SELECT FROM segments.segment WHERE name = 'Rotating') THEN
        PERFORM segments.drop_segment('Rotating');
    ELSE
        PERFORM segments.create_segment('Rotating',
            $r$id between 4001 and 4010 and (score >= 50 or event 'opened' count >= 4 within last 30 days)$r$);
    END IF;
END
$$;
\else
DO $$
BEGIN
    IF EXISTS (SELECT FROM segments.segment WHERE name = 'Hot score') THEN
        PERFORM segments.rename_segment('Hot score', 'Hot score renamed');
    ELSE
        PERFORM segments.rename_segment('Hot score renamed', 'Hot score');
    END IF;
END
$$;
\endif
COMMIT;
