#!/usr/bin/env bash
# The cost of segments.tick(): the performance goal "tick() with nothing
# due, 1M contacts, 20 time rules" (goal: at most 20 ms), how a tick's cost
# grows with the contacts whose values crossed an edge, and that it does not
# grow with the contacts.  Figures only: a slow figure never makes it fail.
#
#   PGHOST=... PGPORT=... PGDATABASE=... bench/tick.sh [runs]
#
#   runs   ticks measured for each figure, the median kept (default 21)
#
# Needs bench/data.sql loaded (any scale) and the three tables attached
# (README, "Performance"), and a superuser (the clock is moved with
# segments.now_override).  Setup, timed and printed apart:
#   * the indexes the sweeps read, bench_tick_events_kind_at on events
#     (kind, occurred_at) and bench_tick_contacts_created_at on contacts
#     (created_at), unless they exist;
#   * 20 time-relative segments (names 'bench time ...'): events of each
#     kind within the last 7 to 90 days, with counts; contacts created
#     within the last N days or before N days ago;
#   * a second database (bench_tick_small) with a tenth of the contacts
#     and events, the same indexes and segments, for the contacts row;
#   * VACUUM ANALYZE of segments.membership and its log, as autovacuum
#     leaves them a minute or so after the builds (until then each tick
#     reads the log rows of the builds, whose BRIN ranges it cannot
#     summarize while autovacuum works on the table).
# Rows:
#   * nothing due: ticks a second apart, in both databases: every sweep
#     runs and finds next to nothing (the two figures show whether the cost
#     follows the contacts);
#   * crossings: the clock moved on by 1 minute to 1 day before each tick,
#     with the contacts the tick re-evaluated and the joins and leaves it
#     wrote, and its time per re-evaluated contact.
# Environment:
#   TICK_SMALL=0      no second database (and no contacts row)
#   TICK_CROSSINGS=0  no crossings rows
#   TICK_VERIFY=1     after the ticks, check every segment with
#                     verify_segment at the clock of the last tick; a
#                     segment that differs makes the script fail
#   BENCH_ROWS        a file to which the nothing-due row is appended as
#                     "row|work|with|without|ratio|goal|" (for bench/run.sh)
# Everything it creates is removed on exit (the segments, the indexes it
# made, the second database).
set -euo pipefail

runs=${1:-21}
case "$runs" in '' | *[!0-9]*) echo "usage: $0 [runs]" >&2; exit 2 ;; esac
small_db=bench_tick_small
start='2025-06-15 12:00:00+00'

q() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }
qv() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
say() { printf '# %s\n' "$*" >&2; }
secs_since() { echo "$(date +%s.%N) - $1" | bc -l; }
fmt() { printf '%s' "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

made_indexes=()
cleanup() {
	q -c "SELECT count(segments.drop_segment(s.id)) FROM (SELECT id FROM segments.segment WHERE name LIKE 'bench time %' ORDER BY id DESC) s" \
		>/dev/null 2>&1 || true
	for i in "${made_indexes[@]}"; do q -c "DROP INDEX IF EXISTS $i" >/dev/null 2>&1 || true; done
	q -d postgres -c "DROP DATABASE IF EXISTS $small_db" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(qv -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" != t ]; then
	echo "bench/tick.sh: needs a superuser (it moves the clock with segments.now_override)" >&2
	exit 1
fi
db=$(qv -c "SELECT current_database()")
n_contacts=$(qv -c "SELECT count(*) FROM public.contacts")
n_events=$(qv -c "SELECT count(*) FROM public.events")
n_tenants=$(qv -c "SELECT count(DISTINCT account_id) FROM public.contacts")
say "$(fmt "$n_contacts") contacts, $(fmt "$n_events") events, $n_tenants tenants; median of $runs ticks per figure"

# The rule suite: 20 rules the clock changes.
segments_sql="SET segments.now_override = '$start';
SELECT count(segments.create_segment('bench time ' || i, r::segments.rule)) FROM (VALUES
 (1, 'event ''opened'' within last 7 days'),
 (2, 'event ''opened'' count >= 3 within last 30 days'),
 (3, 'event ''opened'' count >= 5 within last 90 days'),
 (4, 'event ''clicked'' within last 14 days'),
 (5, 'event ''clicked'' count >= 2 within last 60 days'),
 (6, 'event ''delivered'' within last 30 days and not event ''opened'' within last 30 days'),
 (7, 'event ''bounced'' within last 14 days'),
 (8, 'event ''unsubscribed'' within last 30 days'),
 (9, 'event ''opened'' since 45 days ago'),
 (10, 'event ''clicked'' between 30 days ago and 7 days ago'),
 (11, 'event ''delivered'' count >= 10 within last 30 days'),
 (12, 'event ''opened'' count < 2 within last 60 days'),
 (13, 'created_at within last 30 days'),
 (14, 'created_at < 365 days ago'),
 (15, 'created_at within last 90 days and event ''opened'' within last 14 days'),
 (16, 'event ''clicked'' where (url contains ''pricing'') within last 30 days'),
 (17, 'event ''opened'' within last 3 days or event ''clicked'' within last 3 days'),
 (18, 'event ''delivered'' before 90 days ago and not event ''delivered'' since 90 days ago'),
 (19, 'created_at < 180 days ago and not event ''opened'' within last 180 days'),
 (20, 'event ''opened'' count >= 2 within last 1 day')) AS s(i, r)"

# index_if_missing DB TABLE COLUMNS NAME: the index NAME on TABLE (COLUMNS),
# made (and removed on exit) when there is no index of that name
index_if_missing() {
	if [ -z "$(qv -d "$1" -c "SELECT to_regclass('public.$4')")" ]; then
		q -d "$1" -c "CREATE INDEX $4 ON public.$2 ($3)"
		[ "$1" = "$db" ] && made_indexes+=("public.$4")
	fi
	return 0
}

setup_db() {	# DB
	local t0
	t0=$(date +%s.%N)
	index_if_missing "$1" events "kind,occurred_at" bench_tick_events_kind_at
	index_if_missing "$1" contacts "created_at" bench_tick_contacts_created_at
	q -d "$1" -c "ANALYZE public.events" -c "ANALYZE public.contacts"
	say "setup ($1): sweep indexes $(printf %.1f "$(secs_since "$t0")") s"
	t0=$(date +%s.%N)
	q -d "$1" -c "$segments_sql" >/dev/null
	say "setup ($1): 20 time-relative segments $(printf %.1f "$(secs_since "$t0")") s"
	# as autovacuum leaves them a minute or so after a build: the log's
	# BRIN ranges summarized (until then, ticks read the build's log rows)
	t0=$(date +%s.%N)
	q -d "$1" -c "VACUUM ANALYZE segments.membership, segments.membership_log"
	say "setup ($1): VACUUM ANALYZE of membership and its log $(printf %.1f "$(secs_since "$t0")") s"
}

# tick_ms DB TIME: one tick at TIME; prints "ms changes"
tick_ms() {
	qv -d "$1" -c "SET segments.now_override = '$2'" -c "\\timing on" -c "SELECT segments.tick()" |
		awk '/^Time:/ {ms = $2} /^[0-9]+$/ {n = $1} END {printf "%.3f %d\n", ms, n}'
}

# median_nothing_due DB: median ms of RUNS ticks a second apart: every sweep
# runs, over a second's range, and finds next to nothing
median_nothing_due() {
	local i
	tick_ms "$1" "$start" >/dev/null
	for ((i = 1; i <= runs; i++)); do
		tick_ms "$1" "$(qv -c "SELECT (timestamptz '$start' + $i * interval '1 second')::text")"
	done | awk '{print $1}' | sort -n | awk '{a[NR] = $1} END {printf "%.2f", a[int((NR + 1) / 2)]}'
}

setup_db "$db"
if [ "${TICK_SMALL:-1}" = 1 ]; then
t0=$(date +%s.%N)
q -d postgres -c "DROP DATABASE IF EXISTS $small_db" -c "CREATE DATABASE $small_db" >/dev/null
small_contacts=$((n_contacts / 10))
small_events=$((n_events / 10))
(cd "$(dirname "${BASH_SOURCE[0]}")/.." &&
	q -d "$small_db" -v contacts="$small_contacts" -v events="$small_events" -v tenants="$n_tenants" \
		-c "SET client_min_messages = warning" -c "CREATE EXTENSION segments" -f bench/data.sql >/dev/null &&
	q -d "$small_db" -c "SELECT segments.attach_contacts('public.contacts', key => 'id', tenant => 'account_id')" \
		-c "SELECT segments.attach_events('public.events', contact => 'contact_id', kind => 'kind', at => 'occurred_at')" \
		-c "SELECT segments.attach_lists('public.list_members', contact => 'contact_id', list => 'list_id', at => 'subscribed_at')" >/dev/null)
say "setup: $small_db with $(fmt $small_contacts) contacts, $(fmt $small_events) events $(printf %.1f "$(secs_since "$t0")") s"
setup_db "$small_db"
fi

big=$(median_nothing_due "$db")
# over the goal: one more tick shows its slow statements and their plans
if awk -v ms="$big" 'BEGIN {exit !(ms > 20)}'; then
	say "a tick with nothing due took $big ms; the statements of one more over 5 ms:"
	qv -c "LOAD 'auto_explain'" -c "SET auto_explain.log_min_duration = 5" \
		-c "SET auto_explain.log_nested_statements = on" -c "SET auto_explain.log_analyze = on" \
		-c "SET auto_explain.log_level = notice" -c "SET client_min_messages = notice" \
		-c "SET segments.now_override = '$(qv -c "SELECT (timestamptz '$start' + ($runs + 0.5) * interval '1 second')::text")'" \
		-c "SELECT segments.tick()" 2>&1 >/dev/null | sed 's/^/#   /' >&2 || true
fi
if [ "${TICK_SMALL:-1}" = 1 ]; then
	small=$(median_nothing_due "$small_db")
	printf '%-58s %14s %14s  %s\n' "tick, 20 time-relative segments" "$(fmt "$n_contacts")" "$(fmt $small_contacts)" "goal"
	printf '%-58s %11s ms %11s ms  %s\n' "nothing due (a second since the last tick)" "$big" "$small" "<= 20 ms at 1,000,000"
else
	printf '%-58s %14s  %s\n' "tick, 20 time-relative segments" "$(fmt "$n_contacts")" "goal"
	printf '%-58s %11s ms  %s\n' "nothing due (a second since the last tick)" "$big" "<= 20 ms at 1,000,000"
fi
if [ -n "${BENCH_ROWS:-}" ]; then
	printf 'row|tick() with nothing due, %s contacts, 20 time rules|%s ms|-|-|<= 20 ms|%s\n' "$(fmt "$n_contacts")" "$big" \
		"$(awk -v ms="$big" -v n="$n_contacts" 'BEGIN {print (n < 1000000 ? "-" : ms <= 20 ? "met" : "missed")}')" >>"$BENCH_ROWS"
fi
now=$(qv -c "SELECT (timestamptz '$start' + $runs * interval '1 second')::text")
if [ "${TICK_CROSSINGS:-1}" = 1 ]; then
	echo
	printf '%-14s %12s %12s %12s %14s\n' "clock moved" "contacts" "changes" "ms" "us per contact"
	for step in '1 minute' '10 minutes' '1 hour' '6 hours' '1 day' '7 days'; do
		next=$(qv -c "SELECT (timestamptz '$now' + interval '$step')::text")
		read -r ms changes < <(tick_ms "$db" "$next")
		# the contacts the tick's sweeps found and it evaluated
		evaluated=$(qv -c "SELECT contacts FROM segments.tick_state")
		printf '%-14s %12s %12s %12s %14s\n' "+$step" "$(fmt "$evaluated")" "$(fmt "$changes")" "$ms" \
			"$(awk -v ms="$ms" -v n="$evaluated" 'BEGIN {if (n > 0) printf "%.1f", ms * 1000 / n; else print "-"}')"
		now=$next
	done
fi

# every segment as a full evaluation at the last tick's clock finds it
if [ "${TICK_VERIFY:-0}" = 1 ]; then
	read -r n missing extra <<<"$(qv -F ' ' -c "SET segments.now_override = '$now'" -c "SELECT count(*), coalesce(sum(v.missing), 0), coalesce(sum(v.extra), 0) FROM segments.segment s, segments.verify_segment(s.id) v WHERE s.name LIKE 'bench time %'")"
	say "verify at $now: $n segments, missing $missing, extra $extra"
	if [ "$missing" != 0 ] || [ "$extra" != 0 ]; then
		echo "bench/tick.sh: after the ticks, the segments differ from a fresh evaluation: $missing missing, $extra extra" >&2
		exit 1
	fi
fi
