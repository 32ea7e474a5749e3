--
-- Internal functions refuse input they were not made for, whoever calls
-- them: the extension's own SQL calls them with what it compiled, and
-- nothing else may make them store or read the wrong thing.
--
CREATE TABLE contacts (id bigint PRIMARY KEY, country text NOT NULL);
INSERT INTO contacts VALUES (1, 'US'), (2, 'FR');
SELECT segments.attach_contacts('contacts', key => 'id');
SELECT segments.create_segment('US', 'country = ''US''') AS us_id \gset

-- segments._build stores the first column of its query as contact keys:
-- a column of another type (a text's pointer read as a bigint), or no
-- column, is refused (42804) and nothing is stored.
SELECT segments._build(:us_id, $$SELECT 'hello'::text$$);
SELECT segments._build(:us_id, $$SELECT 4096::int4$$);
SELECT segments._build(:us_id, $$SELECT$$);
SELECT m.contact FROM segments.membership m WHERE m.segment_id = :us_id ORDER BY 1;
SELECT * FROM segments.verify_segment('US');

SELECT segments.drop_segment('US');
SELECT segments.detach_contacts();
DROP TABLE contacts;

-- With a text key, a bigint read as a pointer to text would crash the
-- server.
CREATE TABLE contacts (handle text PRIMARY KEY, country text NOT NULL);
INSERT INTO contacts VALUES ('@ann', 'US');
SELECT segments.attach_contacts('contacts', key => 'handle');
SELECT segments.create_segment('US', 'country = ''US''') AS us_id \gset
SELECT segments._build(:us_id, $$SELECT 4096::bigint$$);
SELECT m.contact FROM segments.membership m WHERE m.segment_id = :us_id ORDER BY 1;

SELECT segments.drop_segment('US');
SELECT segments.detach_contacts();
DROP TABLE contacts;
