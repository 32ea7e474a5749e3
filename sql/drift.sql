--
-- drift: writes that fire no trigger of the extension are not maintained
-- (ALTER TABLE ... DISABLE TRIGGER, a partial restore); verify_all() finds
-- the drift of every segment in one call and refresh_all() repairs it.
--

CREATE TABLE drift_contacts (id bigint PRIMARY KEY, plan text, score integer);
INSERT INTO drift_contacts SELECT i, 'free', i FROM generate_series(1, 10) AS i;
SELECT segments.attach_contacts('drift_contacts', key => 'id');
SELECT segments.create_segment('pro and high', 'plan = ''pro'' and score >= 5') IS NOT NULL AS created;
SELECT segments.create_segment('pro', 'plan = ''pro''') IS NOT NULL AS created;
SELECT segments.alter_segment('pro and high', 'in segment ''pro'' and score >= 5');
SELECT segments.create_segment('high', 'score >= 5') IS NOT NULL AS created;
SELECT name, missing, extra FROM segments.verify_all();

-- The table's owner writes with the triggers disabled.
ALTER TABLE drift_contacts DISABLE TRIGGER ALL;
UPDATE drift_contacts SET plan = 'pro' WHERE id IN (2, 6, 7);
DELETE FROM drift_contacts WHERE id = 10;
ALTER TABLE drift_contacts ENABLE TRIGGER ALL;
SELECT name, missing, extra FROM segments.verify_all();

-- Repaired in one call, each segment once, 'pro' before the segment that
-- refers to it; the changes are logged with cause refresh.
SELECT name, changes FROM segments.refresh_all();
SELECT name, missing, extra FROM segments.verify_all();
SELECT s.name, l.contact, l.joined FROM segments.membership_log l JOIN segments.segment s ON s.id = l.segment_id
WHERE l.cause = 'refresh' ORDER BY l.id;

-- For editors: a reader may not.
CREATE ROLE drift_reader IN ROLE segments_reader;
SET ROLE drift_reader;
SELECT state, message FROM try('SELECT * FROM segments.verify_all()');
SELECT state, message FROM try('SELECT * FROM segments.refresh_all()');
RESET ROLE;
DROP ROLE drift_reader;

-- Nothing attached, no segment: nothing to say.
SELECT segments.drop_segment('pro and high');
SELECT segments.drop_segment('pro');
SELECT segments.drop_segment('high');
SELECT segments.detach_contacts();
SELECT count(*) FROM segments.verify_all();
SELECT count(*) FROM segments.refresh_all();
DROP TABLE drift_contacts;
