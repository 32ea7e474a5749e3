--
-- transactions: membership stays exact whatever a transaction does with
-- its writes: savepoints rolled back after a flush, exception blocks,
-- SET CONSTRAINTS ... IMMEDIATE under a savepoint (docs/design.md,
-- "Writes: statements queue, commit applies").
--
CREATE TABLE contacts (id bigint PRIMARY KEY, country text);
INSERT INTO contacts SELECT i, 'FR' FROM generate_series(1, 40) AS i;
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT segments.create_segment('US', 'country = ''US''') IS NOT NULL AS created;

-- A flush under a savepoint that rolls back: its joins are undone with
-- it, and the write, which stays, is maintained at commit.
BEGIN;
UPDATE contacts SET country = 'US' WHERE id = 1;
SAVEPOINT s;
SELECT segments.flush();
SELECT count(*) AS members_after_flush FROM segments.membership;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS members_after_rollback FROM segments.membership;
COMMIT;
SELECT * FROM new_log();
SELECT all_verified();

-- The same with many contacts (queued past the one-by-one path).
BEGIN;
UPDATE contacts SET country = 'US' WHERE id BETWEEN 2 AND 30;
SAVEPOINT s;
SELECT segments.flush();
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT segment, cause, joined, cardinality(contacts) AS contacts FROM new_log();
SELECT all_verified();

-- A PL/pgSQL exception block around flush() is a savepoint too.
BEGIN;
UPDATE contacts SET country = 'FR' WHERE id = 1;
DO $$
BEGIN
	PERFORM segments.flush();
	RAISE EXCEPTION 'undo the flush';
EXCEPTION WHEN raise_exception THEN
	NULL;
END $$;
COMMIT;
SELECT * FROM new_log();
SELECT all_verified();

-- SET CONSTRAINTS ALL IMMEDIATE under a savepoint that rolls back.
BEGIN;
UPDATE contacts SET country = 'FR' WHERE id = 2;
SAVEPOINT s;
SET CONSTRAINTS ALL IMMEDIATE;
UPDATE contacts SET country = 'FR' WHERE id = 3;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT * FROM new_log();
SELECT all_verified();

-- Nested: a flush in an inner savepoint released into an outer one that
-- rolls back is undone too; one in a savepoint that is released stays.
BEGIN;
UPDATE contacts SET country = 'FR' WHERE id = 4;
SAVEPOINT outer_s;
SAVEPOINT inner_s;
SELECT segments.flush();
RELEASE SAVEPOINT inner_s;
ROLLBACK TO SAVEPOINT outer_s;
UPDATE contacts SET country = 'FR' WHERE id = 5;
SAVEPOINT kept;
SELECT segments.flush();
RELEASE SAVEPOINT kept;
SELECT count(*) AS queued FROM segments.pending();
COMMIT;
SELECT * FROM new_log();
SELECT all_verified();

SELECT segments.drop_segment('US');
SELECT segments.detach_contacts();
DROP TABLE contacts;
