--
-- Binary send and receive: the wire form is the version byte, the item
-- count, the items (four bytes and three 32-bit integers each) and the
-- string pool, in network byte order.  Receive validates everything it reads
-- and stores the canonical form.
--

CREATE TABLE rules_out (id int, rule segments.rule);
INSERT INTO rules_out VALUES
	(1, 'true'),
	(2, 'not false'),
	(3, 'country = ''US'' and plan in (''pro'', ''team'')'),
	(4, 'props.ltv >= 1000.50 and props."First Name" starts with ''Ann'''),
	(5, 'email not ends with ''@example.com'' or email is null'),
	(6, 'created_at < 90 days ago and renews_at within next 2 weeks'),
	(7, 'event ''opened'' count >= 3 within last 30 days'),
	(8, 'event ''clicked'' where (url contains ''pricing'' and campaign != ''x'') count = 0 between ''2024-01-01'' and now'),
	(9, 'in list 7 or in list ''vip'' or not in segment ''Churned'''),
	(10, 'name like ''A%'' and name not ilike ''%test%'' and age between -1 and 1.5'),
	(11, 'in list ''newsletter'' where (status = ''subscribed'') within last 7 days or in list 3 before now');

-- Round trip through COPY in binary format: the server writes each rule
-- with its send function and reads it back with its receive function.
SELECT current_setting('data_directory') || '/rule_binary_test.copy' AS copy_path \gset
COPY rules_out TO :'copy_path' (FORMAT binary);
CREATE TABLE rules_in (id int, rule segments.rule);
COPY rules_in FROM :'copy_path' (FORMAT binary);
SELECT o.id, o.rule OPERATOR(segments.=) i.rule AS same, i.rule
FROM rules_out o JOIN rules_in i USING (id) ORDER BY o.id;

-- To test receive on hand-made bytes, wrap a payload into a one-column
-- binary COPY file, have the server read it, and show what it stored, or
-- the SQLSTATE, message and detail of the error.
CREATE TABLE received (rule segments.rule);
CREATE FUNCTION receive(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	path text := current_setting('data_directory') || '/rule_binary_test.recv';
	lo oid;
	state text;
	message text;
	detail text;
BEGIN
	lo := lo_from_bytea(0,
		'\x5047434f50590aff0d0a00'::bytea	-- PGCOPY signature
		|| int4send(0) || int4send(0)		-- flags, header extension
		|| int2send(1::int2) || int4send(length(payload)) || payload
		|| int2send(-1::int2));				-- trailer
	PERFORM lo_export(lo, path);
	PERFORM lo_unlink(lo);
	TRUNCATE received;
	EXECUTE format('COPY received FROM %L (FORMAT binary)', path);
	RETURN (SELECT rule::text FROM received);
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL;
	RETURN format('%s: %s: %s', state, message, detail);
END
$$;

-- One item: type, op, arg, flags, then span, a and b.
CREATE FUNCTION item(type int, op int, arg int, flags int, span int, a int, b int)
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
	SELECT set_byte(set_byte(set_byte(set_byte('\x00000000'::bytea, 0, type), 1, op), 2, arg), 3, flags)
		|| int4send(span) || int4send(a) || int4send(b)
$$;

-- A whole rule: version 1, the items, the pool.
CREATE FUNCTION wire(items bytea, nitems int, pool bytea DEFAULT '') RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
	SELECT '\x01'::bytea || int4send(nitems) || items || int4send(length(pool)) || pool
$$;

-- The send function's output is what receive reads.
SELECT segments.rule_send('true');
SELECT receive(segments.rule_send('true'));
SELECT receive(segments.rule_send(rule)) = rule::text AS round_trip FROM rules_out ORDER BY id;

-- Item types: 1 and, 2 or, 3 not, 4 true, 5 false, 6 field, 7 event,
-- 8 in list, 9 in segment, 10 value, 11 measure, 12 bucket.
-- A client may send a valid tree that is not canonical: and nested in and,
-- an explicit default count and window, a number with leading zeros.
-- Receive stores the canonical form.
SELECT receive(wire(item(1, 0, 0, 0, 5, 2, 0) || item(1, 0, 0, 0, 3, 2, 0)
	|| item(4, 0, 0, 0, 1, 0, 0) || item(5, 0, 0, 0, 1, 0, 0) || item(4, 0, 0, 0, 1, 0, 0), 5));
-- event 'x' count >= 1 ever (op 6 is >=, arg 1 is ever)
SELECT receive(wire(item(7, 6, 1, 0, 1, 0, 1), 1, '\x7800'));
-- field score = 007 (op 1 is =, value kind 2 is a number)
SELECT receive(wire(item(6, 1, 0, 0, 2, 0, 1) || item(10, 2, 0, 0, 1, 6, 3), 2,
	convert_to('score', 'UTF8') || '\x00'::bytea || convert_to('007', 'UTF8') || '\x00'::bytea));

-- Everything is checked; each of these is refused with 22P03.
SELECT receive('\x02'::bytea || substring(segments.rule_send('true') from 2));	-- version 2
SELECT receive(wire('', 0));												-- no items
SELECT receive(wire(item(4, 0, 0, 0, 1, 0, 0), 10001));						-- too many items
SELECT receive(wire(item(4, 0, 0, 0, 1, 0, 0), 2));							-- fewer items than claimed
SELECT receive(wire(item(99, 0, 0, 0, 1, 0, 0), 1));						-- unknown type
SELECT receive(wire(item(10, 1, 0, 0, 1, 0, 0), 1, '\x00'));				-- a value as the rule
SELECT receive(wire(item(3, 0, 0, 0, 1, 0, 0), 1));							-- not without child
SELECT receive(wire(item(3, 0, 0, 0, 5, 0, 0) || item(4, 0, 0, 0, 1, 0, 0), 2));	-- span past the end
SELECT receive(wire(item(1, 0, 0, 0, 2, 1, 0) || item(4, 0, 0, 0, 1, 0, 0), 2));	-- and of one
SELECT receive(wire(item(1, 0, 0, 0, 3, 3, 0) || item(4, 0, 0, 0, 1, 0, 0) || item(4, 0, 0, 0, 1, 0, 0), 3));	-- and counts 3 children, has 2
SELECT receive(wire(item(4, 0, 0, 0, 1, 0, 0) || item(4, 0, 0, 0, 1, 0, 0), 2));	-- root spans 1 of 2 items
SELECT receive(wire(item(9, 0, 0, 0, 1, 5, 0), 1, '\x5300'));				-- pool offset outside the pool
SELECT receive(wire(item(9, 0, 0, 0, 1, 0, 0), 1, '\x5353'));				-- string without terminator
SELECT receive(wire(item(9, 0, 0, 0, 1, 0, 0), 1, '\x00'));					-- empty segment name
SELECT receive(wire(item(8, 0, 0, 0, 2, 0, 0) || item(10, 1, 0, 0, 1, 0, 5), 2, '\x7800'));	-- string length 5 given, 1 real
SELECT receive(wire(item(6, 99, 0, 0, 2, 0, 1) || item(10, 4, 0, 0, 1, 0, 0), 2, '\x7800'));	-- unknown field test
SELECT receive(wire(item(6, 1, 0, 1, 2, 0, 1) || item(10, 4, 0, 0, 1, 0, 0), 2, '\x7800'));	-- "not =" has no negated form
SELECT receive(wire(item(6, 1, 0, 0, 2, 0, 33) || item(10, 4, 0, 0, 1, 0, 0), 2, '\x7800'));	-- path of 33 components
SELECT receive(wire(item(6, 8, 0, 0, 2, 0, 1) || item(10, 4, 0, 0, 1, 0, 0), 2, '\x7800'));	-- between with one operand
SELECT receive(wire(item(6, 13, 0, 0, 2, 0, 1) || item(10, 2, 0, 0, 1, 2, 1), 2, '\x780031'));	-- like with a number
SELECT receive(wire(item(6, 15, 0, 0, 2, 0, 1) || item(10, 3, 0, 0, 1, 0, 0), 2, '\x7800'));	-- within last with true
SELECT receive(wire(item(6, 1, 0, 0, 2, 0, 1) || item(10, 8, 3, 0, 1, 5, 0), 2, '\x7800'));	-- a time span as a value
SELECT receive(wire(item(6, 1, 0, 0, 2, 0, 1) || item(10, 6, 9, 0, 1, 5, 0), 2, '\x7800'));	-- unknown unit
SELECT receive(wire(item(6, 1, 0, 0, 2, 0, 1) || item(10, 6, 3, 0, 1, -1, 0), 2, '\x7800'));	-- amount out of range
SELECT receive(wire(item(6, 1, 0, 0, 2, 0, 1) || item(10, 42, 0, 0, 1, 0, 0), 2, '\x7800'));	-- unknown value kind
SELECT receive(wire(item(7, 0, 1, 0, 1, 0, 1), 1, '\x7800'));				-- count comparison 0
SELECT receive(wire(item(7, 6, 9, 0, 1, 0, 1), 1, '\x7800'));				-- unknown window
SELECT receive(wire(item(7, 6, 2, 0, 1, 0, 1), 1, '\x7800'));				-- within last without its span
SELECT receive(wire(item(7, 6, 1, 16, 1, 0, 1), 1, '\x7800'));				-- unknown flag
SELECT receive(wire(item(7, 6, 1, 4, 1, 0, 1), 1, '\x7800'));				-- a count and a measure
SELECT receive(wire(item(7, 0, 1, 4, 1, 0, 0), 1, '\x7800'));				-- measure flag without measure
SELECT receive(wire(item(7, 0, 1, 4, 2, 0, 0) || item(11, 9, 0, 0, 1, 0, 0), 2, '\x7800'));	-- unknown measure
SELECT receive(wire(item(7, 0, 1, 4, 2, 0, 0) || item(11, 7, 0, 0, 1, 0, 0), 2, '\x7800'));	-- last with the window ever
SELECT receive(wire(item(7, 0, 1, 4, 2, 0, 0) || item(11, 2, 6, 0, 1, 0, 0), 2, '\x7800'));	-- sum without its value
SELECT receive(wire(item(7, 0, 1, 4, 3, 0, 0) || item(11, 2, 9, 0, 2, 0, 0) || item(10, 2, 0, 0, 1, 2, 3), 3,
	'\x780035303000'));													-- sum with an unknown comparison
SELECT receive(wire(item(7, 0, 1, 4, 3, 0, 0) || item(11, 2, 6, 0, 2, 0, 0) || item(10, 2, 0, 0, 1, 2, 3), 3,
	'\x780035303000'));													-- event 'x' sum(x) >= 500
SELECT receive(wire(item(7, 0, 1, 4, 3, 0, 0) || item(11, 2, 6, 0, 2, 0, 0) || item(10, 1, 0, 0, 1, 2, 3), 3,
	'\x780035303000'));													-- sum compared with a string
SELECT receive(wire(item(7, 6, 1, 2, 1, 0, 1), 1, '\x7800'));				-- where flag without where
SELECT receive(wire(item(7, 6, 1, 2, 2, 0, 1) || item(7, 6, 1, 0, 1, 0, 1), 2, '\x7800'));	-- event inside where
SELECT receive(wire(item(7, 6, 1, 8, 1, 0, 1), 1, '\x78007300'));			-- event 'x' from 's'
SELECT receive(wire(item(7, 6, 1, 8, 1, 0, 1), 1, '\x7800'));				-- from without its string
SELECT receive(wire(item(7, 6, 1, 8, 1, 0, 1), 1, '\x780000'));				-- from an empty source
SELECT receive(wire(item(8, 0, 3, 0, 3, 0, 0) || item(10, 2, 0, 0, 1, 0, 1) || item(10, 5, 0, 0, 1, 0, 0), 3,
	'\x3700'));															-- in list 7 since now
SELECT receive(wire(item(8, 0, 0, 2, 4, 0, 0) || item(10, 2, 0, 0, 1, 0, 1) || item(6, 1, 0, 0, 2, 2, 1)
	|| item(10, 2, 0, 0, 1, 0, 1), 4, '\x37007800'));						-- in list 7 where (x = 7)
SELECT receive(wire(item(8, 0, 0, 0, 1, 0, 0), 1, '\x3700'));				-- a list without its value
SELECT receive(wire(item(8, 0, 1, 0, 2, 0, 0) || item(10, 2, 0, 0, 1, 0, 1), 2, '\x3700'));	-- the window ever stored
SELECT receive(wire(item(8, 0, 9, 0, 2, 0, 0) || item(10, 2, 0, 0, 1, 0, 1), 2, '\x3700'));	-- unknown window
SELECT receive(wire(item(8, 0, 3, 0, 2, 0, 0) || item(10, 2, 0, 0, 1, 0, 1), 2, '\x3700'));	-- since without its time
SELECT receive(wire(item(8, 0, 0, 4, 2, 0, 0) || item(10, 2, 0, 0, 1, 0, 1), 2, '\x3700'));	-- a measure flag
SELECT receive(wire(item(8, 1, 0, 0, 2, 0, 0) || item(10, 2, 0, 0, 1, 0, 1), 2, '\x3700'));	-- an operator
SELECT receive(wire(item(8, 0, 0, 2, 2, 0, 0) || item(10, 2, 0, 0, 1, 0, 1), 2, '\x3700'));	-- where flag without where
SELECT receive(wire(item(8, 0, 0, 2, 3, 0, 0) || item(10, 2, 0, 0, 1, 0, 1) || item(9, 0, 0, 0, 1, 0, 0), 3,
	'\x3700'));															-- in segment inside where
SELECT receive(wire(item(4, 0, 0, 0, 1, 0, 0), 1) || '\x00'::bytea);		-- trailing bytes

-- Time in a segment: op 6 (>=, for at least) or 3 (<, for less than) and a
-- duration value (kind 8, unit 3 is day) after the name.  Samples and
-- buckets (type 12): op the comparison, b the bound, flag 16 when written
-- as a sample.
SELECT receive(wire(item(9, 6, 0, 0, 2, 0, 0) || item(10, 8, 3, 0, 1, 30, 0), 2, '\x5600'));
SELECT receive(wire(item(12, 3, 0, 16, 1, 0, 1250), 1, '\x7300'));
SELECT receive(wire(item(12, 5, 0, 0, 1, 0, 9000), 1, '\x7300'));
SELECT receive(wire(item(9, 1, 0, 0, 2, 0, 0) || item(10, 8, 3, 0, 1, 30, 0), 2, '\x5600'));	-- for with =
SELECT receive(wire(item(9, 6, 0, 0, 1, 0, 0), 1, '\x5600'));				-- for without its duration
SELECT receive(wire(item(9, 6, 0, 0, 2, 0, 0) || item(10, 6, 3, 0, 1, 30, 0), 2, '\x5600'));	-- 30 days ago as the duration
SELECT receive(wire(item(9, 0, 0, 0, 1, 0, 7), 1, '\x5600'));				-- in segment with an operand
SELECT receive(wire(item(12, 3, 0, 0, 1, 0, 10001), 1, '\x7300'));			-- bucket past 10000
SELECT receive(wire(item(12, 6, 0, 16, 1, 0, 1000), 1, '\x7300'));			-- a sample with >=
SELECT receive(wire(item(12, 7, 0, 0, 1, 0, 10), 1, '\x7300'));				-- bucket in
SELECT receive(wire(item(12, 3, 0, 0, 2, 0, 10) || item(4, 0, 0, 0, 1, 0, 0), 2, '\x7300'));	-- bucket with a child

-- The strings must be valid in the database encoding (22021), or the
-- catalog's dump could not be reloaded: a lone continuation byte, an
-- overlong encoding, a truncated sequence in an unreferenced string.
SELECT receive(wire(item(9, 0, 0, 0, 1, 0, 0), 1, '\x418000'));				-- in segment 'A\x80'
SELECT receive(wire(item(7, 6, 1, 0, 1, 0, 1), 1, '\xc0af00'));				-- event '\xc0\xaf'
SELECT receive(wire(item(9, 0, 0, 0, 1, 0, 0), 1, '\x4100e282'));			-- a trailing '\xe2\x82'
-- and a valid multibyte name is kept as it is
SELECT receive(wire(item(9, 0, 0, 0, 1, 0, 0), 1, convert_to('Café', 'UTF8') || '\x00'::bytea));

-- Nesting is bounded before anything recurses: 300 nested nots are refused
-- as too deep (54001) by the structural check.
SELECT receive(wire(
	(SELECT string_agg(item(3, 0, 0, 0, 301 - i, 0, 0), ''::bytea ORDER BY i) FROM generate_series(0, 299) i)
	|| item(4, 0, 0, 0, 1, 0, 0), 301));

-- The limits of text input apply to received rules too: 100 nested nots
-- are accepted, 101 pass the structural check but not the depth limit of
-- the rule language.
SELECT length(receive(wire(
	(SELECT string_agg(item(3, 0, 0, 0, 101 - i, 0, 0), ''::bytea ORDER BY i) FROM generate_series(0, 99) i)
	|| item(4, 0, 0, 0, 1, 0, 0), 101))) AS length_of_100_nots_true;
SELECT receive(wire(
	(SELECT string_agg(item(3, 0, 0, 0, 102 - i, 0, 0), ''::bytea ORDER BY i) FROM generate_series(0, 100) i)
	|| item(4, 0, 0, 0, 1, 0, 0), 102));

DROP TABLE rules_out, rules_in, received;
DROP FUNCTION receive(bytea), item(int, int, int, int, int, int, int), wire(bytea, int, bytea);
