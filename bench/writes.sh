#!/usr/bin/env bash
# Write cost of maintenance: the write goals (docs/design.md), each
# measured against the same writes to twin tables without the extension's
# triggers, in the same run.  Prints one table: workload, with, without,
# ratio, goal.  Figures only: a slow figure never makes it fail.
#
#   PGHOST=... PGPORT=... PGDATABASE=... bench/writes.sh [--memory] [seconds]
#
#   seconds      pgbench duration of each side of each throughput row (15)
#   --memory     also run the memory row (or WRITES_MEMORY=1): COPYs of
#                MEMORY_ROWS / 2 and MEMORY_ROWS events (default 10,000,000)
#                into the attached events table, sampling the COPY backend's
#                memory every SAMPLE_SECONDS (1) until its COMMIT returns.
#                Long: about five times the COPY row.  The server must run on
#                this machine (the script reads /proc/<pid>/status).
#
# Environment:
#   COPY_ROWS    rows of the COPY row (default 1,000,000)
#   WRITES_ROUNDS  runs of each side of each throughput row, alternately,
#                the best kept (1; 3 gives steadier ratios on a busy machine)
#   WRITES_ROWS  the rows to run, of: update tenants event copy sources
#                (all five; memory comes with --memory, after copy)
#   FIELD_SEGMENTS       segments of the UPDATE rows (100)
#   TENANT_SEGMENTS      segments of the tenants row, spread evenly over the
#                        tenants (10 per tenant)
#   ENGAGEMENT_SEGMENTS  segments of the event, COPY and memory rows (50)
#   SOURCE_SEGMENTS      segments of the sources rows, reading the purchases
#                        (50)
#   WRITES_VERIFY=1  also check each group of segments with verify_segment
#                before dropping it (slow: one full evaluation per segment);
#                a segment that differs makes the script fail
#   BENCH_ROWS   a file to which each row is appended as
#                "row|workload|with|without|ratio|goal|" (for bench/run.sh)
#   WRITES_ANALYZE=0  do not VACUUM ANALYZE segments.membership and its log
#                after creating each group of segments (by default it does,
#                so that the rows do not depend on when autovacuum gets to
#                them)
#   PGBENCH      pgbench to use (default /usr/lib/postgresql/15/bin/pgbench)
#
# Needs bench/data.sql loaded (any scale: the contact ids and tenants are
# read from the tables) and the three tables attached (README,
# "Performance"), and a superuser: every session runs with
# segments.now_override = 2025-06-15 12:00 UTC, the time the data was
# generated for, so that written events fall inside the rules' windows
# (without a superuser the real clock is used, and says so), and the COPY
# rows are timed after a CHECKPOINT.
#
# Rows, in order:
#   * single-row UPDATE of contacts.score, 100 segments naming it
#     (score = i and country = 'US'; past 101 segments, other countries);
#     the same UPDATE of email = email, which no rule names; the UPDATE of
#     score again with 10 static segments and 10 whose members were changed
#     by hand beside (segments.include), which it must not pay for
#   * the same UPDATE of score with 10 segments per tenant (1,000 over 100
#     tenants): eight in ten name score, mixed with fields, properties, tags
#     and an event condition, two do not
#   * single event INSERT ('opened', an hour before now) with 50 engagement
#     segments (event 'opened' count >= 1..5 within last 10..59 days)
#   * COPY of COPY_ROWS events (the same segments) from a file generated
#     once, like bench/data.sql's events (a year of events of every kind):
#     BEGIN, COPY, COMMIT, against the same into the twin
#   * sources: with 50 segments reading the purchases, a second event source
#     (sum(amount) >= x within last d days), and none the events: a single
#     purchase INSERT, and a single event INSERT (whose segments do not
#     read the source written: it costs them nothing); needs the purchases
#     attached as source 'shop' (bench/lib.sh), else says so
#   * with --memory: the same kind of COPY of MEMORY_ROWS events, streamed
#     from a second backend.  with: the COPY backend's private memory
#     (RssAnon, not VmRSS, which counts the shared buffers it touched) at
#     10%, 50% and 100% of the rows read (pg_stat_progress_copy), then its
#     peak until COMMIT returned (maintenance runs at the end of the
#     statement or at COMMIT); without: that peak for a COPY of half the
#     rows (both past the millions of rows whose queued contacts fill the
#     sort's work_mem, which a smaller COPY leaves partly unused).  "flat"
#     when the three first figures and the two peaks agree within 10%; the
#     samples are printed.
# Setup (twins, segment builds, generating the file) is timed and printed
# apart from the table.  The twins are full copies (as much disk again as
# contacts and events).  On the reference data (1,000,000 contacts,
# 10,000,000 events, 100 tenants; 2 cores) a run with --memory takes about
# 20 minutes, 5 of them setup.
#
# Everything it creates is removed on exit, also after an error or ^C, and
# at the start if a previous run was interrupted: its segments (names
# 'bench ...'), its events and purchases (ids >= 10^12, deleted after its
# segments are dropped, then VACUUM), the contacts' scores as they were
# before, the twins contacts_twin, events_twin and purchases_twin.  The membership log keeps the rows of
# the segments it built, as for any dropped segment.
set -euo pipefail

secs=15
memory=${WRITES_MEMORY:-0}
for a in "$@"; do
	case $a in
	--memory) memory=1 ;;
	[0-9]*) secs=$a ;;
	*) echo "usage: $0 [--memory] [seconds]" >&2; exit 2 ;;
	esac
done
copy_rows=${COPY_ROWS:-1000000}
rows_wanted=" ${WRITES_ROWS:-update tenants event copy sources} "
n_field=${FIELD_SEGMENTS:-100}
n_engagement=${ENGAGEMENT_SEGMENTS:-50}
n_source=${SOURCE_SEGMENTS:-50}
wants() { [[ "$rows_wanted" == *" $1 "* ]]; }
memory_rows=${MEMORY_ROWS:-10000000}
sample=${SAMPLE_SECONDS:-1}
pgbench=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
base=1000000000000		# ids of the events this script writes
# with a space (escaped for PGOPTIONS) and a numeric zone: builds before
# ab1af72 crashed parallel workers on a value with letters (2025-06-15T12:00Z)
now_override='2025-06-15\ 12:00:00+00'

q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
qv() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }	# one value
say() { printf '# %s\n' "$*" >&2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {r = a / b; printf (r >= 0.1 ? "%.2fx" : r >= 0.0001 ? "%.4fx" : "%.1ex"), r}'; }
secs_since() { echo "$(date +%s.%N) - $1" | bc -l; }
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }	# kB -> MB
fmt() { printf '%s' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }	# 1000000 -> 1,000,000

tmp=$(mktemp -d)
chmod 755 "$tmp"
bg_pids=()
copy_backend=

cleanup() {
	local p
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$copy_backend" ]; then
		qv -c "SELECT pg_cancel_backend($copy_backend)" >/dev/null 2>&1 || true
	fi
	for p in "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	bg_pids=()
	copy_backend=
	# segments first: the deletes and score restores then have no segment to
	# maintain (those of other segments, if any, are maintained as usual)
	q -c "SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE 'bench %' ORDER BY id DESC) s" >/dev/null || true
	q <<SQL >/dev/null || true
SET client_min_messages = warning;
DO \$\$
BEGIN
	IF to_regclass('public.bench_contacts_score') IS NOT NULL THEN
		UPDATE public.contacts c SET score = s.score
		FROM public.bench_contacts_score s
		WHERE s.id = c.id AND c.score IS DISTINCT FROM s.score;
		DROP TABLE public.bench_contacts_score;
	END IF;
END \$\$;
DROP TABLE IF EXISTS public.contacts_twin, public.events_twin, public.purchases_twin;
DROP SEQUENCE IF EXISTS public.bench_event_id;
SQL
	if [ "$(qv -c "SELECT to_regclass('public.purchases') IS NOT NULL AND EXISTS (SELECT FROM public.purchases WHERE id >= $base)" 2>/dev/null)" = t ]; then
		q -c "DELETE FROM public.purchases WHERE id >= $base" -c "VACUUM public.purchases" >/dev/null || true
	fi
	if [ "$(qv -c "SELECT EXISTS (SELECT FROM public.events WHERE id >= $base)" 2>/dev/null)" = t ]; then
		q -c "DELETE FROM public.events WHERE id >= $base" -c "VACUUM public.events" >/dev/null || true
	fi
	q -c "VACUUM public.contacts" >/dev/null || true
}
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# --- settings, scale ---------------------------------------------------------

if [ "$(qv -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" = t ]; then
	export PGOPTIONS="${PGOPTIONS:-} -c segments.now_override=$now_override"
	superuser=1
else
	say "not a superuser: rules see the real clock, COPY rows are timed without a CHECKPOINT"
	superuser=0
fi
checkpoint() { if [ "$superuser" = 1 ]; then q -c CHECKPOINT; fi; }

cleanup		# what an interrupted run left
read -r n_contacts n_tenants n_events max_event <<<"$(qv -F ' ' -c "
	SELECT (SELECT max(id) FROM public.contacts), (SELECT count(DISTINCT account_id) FROM public.contacts),
	       (SELECT count(*) FROM public.events), (SELECT coalesce(max(id), 0) FROM public.events)")"
say "$(fmt "$n_contacts") contacts of $n_tenants tenants, $(fmt "$n_events") events; ${secs}s per pgbench side"
if [ "$max_event" -ge "$base" ]; then
	echo "public.events has ids >= $base, which this script uses and deletes" >&2
	exit 1
fi

# the purchases as an event source: the sources rows need them
if wants sources && [ "$(qv -c "SELECT EXISTS (SELECT FROM segments.attached a WHERE a.role = 'events' AND a.source = 'shop' AND a.table_name = 'purchases')")" != t ]; then
	say "no event source 'shop' of public.purchases (bench/lib.sh attaches it): the sources rows are left out"
	rows_wanted=${rows_wanted/ sources / }
fi

# the twins of the tables the rows write: full copies without triggers
twins=()
if wants update || wants tenants; then twins+=(contacts); fi
if wants event || wants copy || wants sources; then twins+=(events); fi
if wants sources; then twins+=(purchases); fi
t0=$(date +%s.%N)
q -c "CREATE TABLE public.bench_contacts_score AS SELECT id, score FROM public.contacts" \
	-c "CREATE SEQUENCE public.bench_event_id START $base"
for t in "${twins[@]}"; do
	q -c "CREATE TABLE public.${t}_twin (LIKE public.$t INCLUDING ALL)" \
		-c "INSERT INTO public.${t}_twin SELECT * FROM public.$t" \
		-c "VACUUM ANALYZE public.${t}_twin"
done
say "setup: twin tables (copies of ${twins[*]:-no table}) $(printf %.1f "$(secs_since "$t0")") s"
checkpoint

# --- the table ---------------------------------------------------------------

rows=()
record() {	# workload with without ratio goal
	rows+=("$(printf '%-64s %24s %14s %12s  %s' "$@")")
	if [ -n "${BENCH_ROWS:-}" ]; then printf 'row|%s|%s|%s|%s|%s|\n' "$@" >>"$BENCH_ROWS"; fi
	say "$(printf '%s: %s / %s = %s (goal %s)' "$@")"
}
failed=0

tps() {	# script file -> tps, empty on error
	"$pgbench" -n -c 2 -j 2 -T "$secs" -f "$1" 2>"$tmp/pgbench.err" | sed -n 's/^tps = \([0-9.]*\) .*/\1/p' || true
}

tps_row() {	# name script twin-script goal: the best of WRITES_ROUNDS alternations
	local a='' b='' x y
	for _ in $(seq 1 "${WRITES_ROUNDS:-1}"); do
		y=$(tps "$3")
		x=$(tps "$2")
		if [ -z "$x" ] || [ -z "$y" ]; then a=$x; b=$y; break; fi
		if [ -z "$a" ] || awk -v x="$x" -v a="$a" 'BEGIN {exit !(x > a)}'; then a=$x; fi
		if [ -z "$b" ] || awk -v y="$y" -v b="$b" 'BEGIN {exit !(y > b)}'; then b=$y; fi
	done
	if [ -z "$a" ] || [ -z "$b" ]; then
		sed 's/^/# pgbench: /' "$tmp/pgbench.err" >&2
		record "$1" "${a:-error} tps" "${b:-error} tps" "-" "$4"
		failed=1
		return
	fi
	record "$1" "$(printf '%.1f tps' "$a")" "$(printf '%.1f tps' "$b")" \
		"$(ratio "$a" "$b")" "$4"
}

segments() {	# label sql...: creates segments, prints the time
	local t0 label=$1 sql
	t0=$(date +%s.%N)
	shift
	for sql in "$@"; do q -c "$sql" >/dev/null; done
	say "setup: $label $(printf %.1f "$(secs_since "$t0")") s"
	# the membership and its log as autovacuum leaves them a minute later:
	# the figures then do not depend on whether it ran before or during
	# the row
	if [ "${WRITES_ANALYZE:-1}" = 1 ]; then
		q -c "VACUUM ANALYZE segments.membership, segments.membership_log"
	fi
	checkpoint	# the builds' writes are not flushed during the rows
}
# WRITES_VERIFY=1: before its segments are dropped, each group is checked
# with segments.verify_segment (materialized against fresh membership)
verify_segments() {
	local n missing extra
	[ "${WRITES_VERIFY:-0}" = 1 ] || return 0
	read -r n missing extra <<<"$(qv -F ' ' -c "SELECT count(*), coalesce(sum(v.missing), 0), coalesce(sum(v.extra), 0) FROM segments.segment s, segments.verify_segment(s.id) v WHERE s.name LIKE '$1'")"
	say "verify '$1': $n segments, missing $missing, extra $extra"
	if [ "$missing" != 0 ] || [ "$extra" != 0 ]; then
		echo "bench/writes.sh: the segments '$1' differ from a fresh evaluation: $missing missing, $extra extra" >&2
		failed=1
	fi
}
drop_segments() { verify_segments "$1"; q -c "SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE '$1' ORDER BY id DESC) s" >/dev/null; }

cat >"$tmp/update.sql" <<SQL
\set id random(1, $n_contacts)
\set s random(0, 100)
UPDATE public.contacts SET score = :s WHERE id = :id;
SQL
sed 's/public.contacts /public.contacts_twin /' "$tmp/update.sql" >"$tmp/update_twin.sql"
cat >"$tmp/untouched.sql" <<SQL
\set id random(1, $n_contacts)
UPDATE public.contacts SET email = email WHERE id = :id;
SQL
sed 's/public.contacts /public.contacts_twin /' "$tmp/untouched.sql" >"$tmp/untouched_twin.sql"
cat >"$tmp/event.sql" <<SQL
\set id random(1, $n_contacts)
INSERT INTO public.events VALUES (nextval('public.bench_event_id'), :id, 'opened', '2025-06-15 11:00:00+00', 'campaign-1', NULL);
SQL
sed 's/public.events /public.events_twin /' "$tmp/event.sql" >"$tmp/event_twin.sql"
cat >"$tmp/purchase.sql" <<SQL
\set id random(1, $n_contacts)
INSERT INTO public.purchases VALUES (nextval('public.bench_event_id'), :id, 99.50, 'EUR', '2025-06-15 11:00:00+00');
SQL
sed 's/public.purchases /public.purchases_twin /' "$tmp/purchase.sql" >"$tmp/purchase_twin.sql"

# 1. segments on the updated column
if wants update; then
	segments "$(fmt "$n_field") segments (score = i and country = 'US', ...)" \
		"SELECT count(segments.create_segment('bench field ' || i, format('score = %s and country = %L', i % 101, (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + (i / 101) % 5])::segments.rule)) FROM generate_series(0, $n_field - 1) AS i"
	tps_row "single-row UPDATE of a rule column, $(fmt "$n_field") segments" "$tmp/update.sql" "$tmp/update_twin.sql" ">= 0.7x"
	tps_row "single-row UPDATE of no rule's column, $(fmt "$n_field") segments" "$tmp/untouched.sql" "$tmp/untouched_twin.sql" "-"
	# segments by hand beside them: the UPDATE's segments do not pay for them
	segments "20 more: 10 static, 10 with a contact included by hand" \
		"SELECT count(segments.create_segment('bench static ' || i, format('country = %L', (ARRAY['US', 'CA', 'GB', 'DE', 'FR'])[1 + i % 5])::segments.rule, static => true)) FROM generate_series(0, 9) AS i" \
		"SELECT count(segments.include(segments.create_segment('bench overridden ' || i, format('plan = %L', (ARRAY['free', 'pro', 'team'])[1 + i % 3])::segments.rule), (SELECT min(id) FROM public.contacts))) FROM generate_series(0, 9) AS i"
	tps_row "the same, with 10 static and 10 overridden segments beside" "$tmp/update.sql" "$tmp/update_twin.sql" "as the row above"
	drop_segments 'bench static %'
	drop_segments 'bench overridden %'
	drop_segments 'bench field %'
fi

# 2. segments of each tenant
if wants tenants; then
	n_tenant_segments=${TENANT_SEGMENTS:-$((10 * n_tenants))}
	per_tenant=$((n_tenant_segments / n_tenants))
	if [ "$per_tenant" -lt 1 ]; then per_tenant=1; fi
	n_tenant_segments=$((per_tenant * n_tenants))
	segments "$(fmt $n_tenant_segments) segments, $per_tenant per tenant" "
SELECT count(segments.create_segment('bench tenant ' || k, (ARRAY[
	format('score >= %s', 50 + (t + k / 10) % 20),
	format('score < %s', 5 + (t + k / 10) % 10),
	'score between 20 and 40 and country = ''US''',
	'score >= 80 and plan in (''pro'', ''team'')',
	'score > 30 and props.ltv >= 1000',
	'score >= 60 or tags contains ''vip''',
	'not score between 40 and 60',
	'score >= 70 and event ''opened'' within last 30 days',
	'country = ''GB'' and plan = ''free''',
	'email ends with ''@gmail.com'' and created_at < 90 days ago'])[k % 10 + 1]::segments.rule, t))
FROM (SELECT DISTINCT account_id AS t FROM public.contacts) AS tenants, generate_series(0, $per_tenant - 1) AS k"
	tps_row "single-row UPDATE of a rule column, $(fmt $n_tenant_segments) segments / $n_tenants tenants" \
		"$tmp/update.sql" "$tmp/update_twin.sql" ">= 0.7x"
	drop_segments 'bench tenant %'
fi

# 3. engagement segments: one event, a COPY, the memory of a long COPY
if wants event || wants copy || [ "$memory" = 1 ]; then
	segments "$(fmt "$n_engagement") engagement segments" \
		"SELECT count(segments.create_segment('bench opens ' || i, format('event ''opened'' count >= %s within last %s days', 1 + i % 5, 10 + i % 350)::segments.rule)) FROM generate_series(0, $n_engagement - 1) AS i"
fi
if wants event; then
	tps_row "single event INSERT, $(fmt "$n_engagement") engagement segments" "$tmp/event.sql" "$tmp/event_twin.sql" ">= 0.5x"
fi

events_sql() {	# first-id count -> one line of SQL: events as bench/data.sql makes them
	echo "SELECT j, 1 + floor($n_contacts * power((hashint8(j)::float8 + 2147483648) / 4294967296, 3))::bigint," \
		"(ARRAY['delivered', 'delivered', 'delivered', 'opened', 'opened', 'clicked', 'bounced', 'unsubscribed'])[1 + (hashint8(-j) & 7)]," \
		"timestamptz '2025-06-15 12:00:00+00' - floor((hashint8(j + 1000000000000)::float8 + 2147483648) / 4294967296 * 525600) * interval '1 minute'," \
		"'campaign-' || (j * 17) % 40," \
		"CASE WHEN (hashint8(-j) & 7) = 5 THEN (ARRAY['https://example.com/pricing', 'https://example.com/blog', 'https://example.com/docs'])[1 + (hashint8(j * 3) & 3) % 3] END" \
		"FROM generate_series($1::bigint, $1::bigint + $2 - 1) AS j"
}

copy_time() {	# table file; sets copy_secs to the seconds of BEGIN; COPY; COMMIT, empty on error
	local t0
	checkpoint
	t0=$(date +%s.%N)
	copy_secs=
	if q -c BEGIN -c "\\copy $1 FROM '$2'" -c COMMIT >"$tmp/copy.err" 2>&1; then
		copy_secs=$(printf '%.2f' "$(secs_since "$t0")")
	else
		sed 's/^/# copy: /' "$tmp/copy.err" >&2
	fi
}

if wants copy; then
	copy_first=$((base + 1000000000))
	t0=$(date +%s.%N)
	q -c "\\copy ($(events_sql $copy_first "$copy_rows")) TO '$tmp/events.copy'"
	say "setup: $(fmt "$copy_rows") events written to a file $(printf %.1f "$(secs_since "$t0")") s"
	copy_time public.events_twin "$tmp/events.copy"
	b=$copy_secs
	copy_time public.events "$tmp/events.copy"
	a=$copy_secs
	if [ -n "$a" ] && [ -n "$b" ]; then
		record "COPY of $(fmt "$copy_rows") events, $(fmt "$n_engagement") engagement segments" "$a s" "$b s" \
			"$(ratio "$a" "$b")" "<= 3x"
	else
		record "COPY of $(fmt "$copy_rows") events, $(fmt "$n_engagement") engagement segments" "${a:-error} s" "${b:-error} s" "-" "<= 3x"
		failed=1
	fi
	rm -f "$tmp/events.copy"
fi

sampled_copy() {	# first-id count; sets copy_result to "secs a10 a50 a100 after peak hwm" (kB), or error, n/a
	local first=$1 count=$2 p t0 bpid='' n anon rss hwm phase
	checkpoint
	t0=$(date +%s.%N)
	# the events are generated by a second backend and streamed through
	(
		set -o pipefail
		psql -X -q -v ON_ERROR_STOP=1 -c "COPY ($(events_sql "$first" "$count")) TO STDOUT" |
			PGAPPNAME=bench_copy_memory psql -X -q -v ON_ERROR_STOP=1 -f "$tmp/memcopy.sql"
	) >"$tmp/memcopy.err" 2>&1 &
	p=$!
	bg_pids+=("$p")
	for _ in $(seq 1 100); do
		bpid=$(qv -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_copy_memory'" || true)
		[ -n "$bpid" ] && break
		sleep 0.1
	done
	copy_backend=$bpid
	: >"$tmp/samples"
	if [ -n "$bpid" ] && [ -r "/proc/$bpid/status" ]; then
		while kill -0 "$p" 2>/dev/null && [ -r "/proc/$bpid/status" ]; do
			n=$(qv -c "SELECT tuples_processed FROM pg_stat_progress_copy WHERE pid = $bpid" 2>/dev/null || true)
			read -r anon rss hwm < <(awk '/^RssAnon:/ {a = $2} /^VmRSS:/ {r = $2} /^VmHWM:/ {h = $2}
				END {print a + 0, r + 0, h + 0}' "/proc/$bpid/status" 2>/dev/null || echo "0 0 0")
			# rows: reading rows; after: every row read (the statement's
			# end, AFTER triggers, COMMIT)
			if [ -n "$n" ] && [ "$n" -lt "$count" ]; then phase=rows; else phase=after; fi
			[ "$anon" -gt 0 ] && printf '%.1f %s %s %s %s %s\n' "$(secs_since "$t0")" "$phase" "${n:-$count}" "$anon" "$rss" "$hwm" >>"$tmp/samples"
			sleep "$sample"
		done
	fi
	if ! wait "$p"; then
		bg_pids=()
		copy_backend=
		sed 's/^/# memory copy: /' "$tmp/memcopy.err" >&2
		copy_result=error
		return
	fi
	bg_pids=()
	copy_backend=
	if [ -z "$bpid" ] || ! [ -s "$tmp/samples" ]; then
		say "memory: the COPY backend's /proc/<pid>/status could not be read (is the server on this machine?)"
		copy_result=n/a
		return
	fi
	say "memory: COPY of $(fmt "$count") events and COMMIT $(printf %.1f "$(secs_since "$t0")") s; samples (s, phase, rows, RssAnon kB, VmRSS kB, VmHWM kB), about 20 of them:"
	awk -v k="$(( ($(wc -l <"$tmp/samples") + 19) / 20 ))" '(NR - 1) % k == 0 {print "#   " $0}' "$tmp/samples" >&2
	# RssAnon at the first samples past 10% and 50% of the rows, at the
	# last sample before every row was read ("100%"), the peak after that
	# (end of the statement, COMMIT), the peak of all samples, VmHWM
	copy_result=$(awk -v n="$count" -v secs="$(secs_since "$t0")" '
		$2 == "rows" && $3 >= 0.1 * n && !a10 {a10 = $4}
		$2 == "rows" && $3 >= 0.5 * n && !a50 {a50 = $4}
		$2 == "rows" {a100 = $4}
		$2 == "after" && $4 > ca {ca = $4}
		$4 > peak {peak = $4}
		{h = $6}
		END {printf "%.1f %d %d %d %d %d %d\n", secs, a10, a50, a100, ca, peak, h}' "$tmp/samples")
}

# The memory row: two COPYs in one transaction each, sampled until COMMIT
# returned: half the rows, then all of them.  Memory is flat when the
# backend's private memory does not grow while the rows are read (10% to
# 100%) and its peak, COMMIT included, is the same for twice the rows.
memory_row() {
	local name small big
	name="memory over a $(fmt "$memory_rows")-row COPY, $(fmt "$n_engagement") segments"
	local a10 a50 a100 ca peak h secs speak x
	cat >"$tmp/memcopy.sql" <<'SQL'
BEGIN;
\copy public.events FROM pstdin
COMMIT;
SQL
	sampled_copy $((base + 2000000000)) $((memory_rows / 2))
	small=$copy_result
	sampled_copy $((base + 3000000000)) "$memory_rows"
	big=$copy_result
	case "$small $big" in
	*error*) record "$name" "error" "-" "-" "flat"; failed=1; return ;;
	*n/a*) record "$name" "n/a" "-" "-" "flat"; return ;;
	esac
	read -r x x x x x speak x <<<"$small"
	read -r secs a10 a50 a100 ca peak h <<<"$big"
	say "memory: $(fmt "$memory_rows") rows: RssAnon at 10% of the rows $(mb $a10) MB, 50% $(mb $a50) MB," \
		"100% $(mb $a100) MB, after the rows until COMMIT returned $(mb $ca) MB at most;" \
		"VmHWM (shared buffers included) $(mb $h) MB; peak of the COPY of $(fmt $((memory_rows / 2))) rows $(mb $speak) MB"
	if [ "$a10" -gt 0 ] && [ "$speak" -gt 0 ]; then
		local verdict
		if awk -v a="$a10" -v b="$a100" -v p="$peak" -v s="$speak" 'BEGIN {exit !(b < 1.1 * a && p < 1.1 * s)}'; then
			verdict=flat
		else
			verdict=grows
		fi
		record "$name" "$(mb $a10)/$(mb $a50)/$(mb $a100), $(mb $peak) MB" \
			"$(mb $speak) MB" "$(ratio "$peak" "$speak") $verdict" "flat"
	else
		record "$name" "too short to sample" "-" "-" "flat"
	fi
}
if [ "$memory" = 1 ]; then
	memory_row
fi
if wants event || wants copy || [ "$memory" = 1 ]; then
	drop_segments 'bench opens %'
fi

# 4. a second event source
if wants sources; then
	segments "$(fmt "$n_source") segments reading the purchases" \
		"SELECT count(segments.create_segment('bench shop ' || i, format('event ''purchased'' from ''shop'' sum(amount) >= %s within last %s days', 50 * (1 + i % 10), 10 + i % 350)::segments.rule)) FROM generate_series(0, $n_source - 1) AS i"
	tps_row "single purchase INSERT, $(fmt "$n_source") segments reading the purchases" "$tmp/purchase.sql" "$tmp/purchase_twin.sql" "as the event row"
	tps_row "single event INSERT, $(fmt "$n_source") segments reading only the purchases" "$tmp/event.sql" "$tmp/event_twin.sql" "-"
	drop_segments 'bench shop %'
fi

printf '%-64s %24s %14s %12s  %s\n' workload with without ratio goal
printf '%s\n' "${rows[@]}"
if [ "$memory" = 1 ]; then
	echo "memory: with = the COPY backend's RssAnon at 10%/50%/100% of the rows read, then its peak until COMMIT"
	echo "        returned; without = that peak for a COPY of half the rows; flat when the first three agree"
	echo "        and the peaks too (within 10%)"
fi
exit "$failed"
