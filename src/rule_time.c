/*
 * rule_time.c
 *	  The clock rules use, and time arithmetic in UTC.
 *
 * segments.now() is now(), or the superuser-only GUC segments.now_override
 * when set (tests and demos fast-forward time with it).  "N unit ago" is
 * computed with PostgreSQL's interval arithmetic on timestamps in UTC, so a
 * rule's meaning does not depend on the session's TimeZone.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "rule_time.h"

PG_FUNCTION_INFO_V1(segments_now);
PG_FUNCTION_INFO_V1(segments_ago);
PG_FUNCTION_INFO_V1(segments_from_now);

static char *now_override_string = NULL;
static bool now_overridden = false;
static TimestampTz now_override_value = 0;

/*
 * Is a word of a time literal one that reads the clock (now, today,
 * tomorrow, yesterday)?  A rule must not freeze such a time when it is
 * checked: it writes now or "N unit ago" instead.
 */
bool
rule_is_relative_word(const char *word)
{
	static const char *const words[] = {"now", "today", "tomorrow", "yesterday", NULL};
	int			i;

	for (i = 0; words[i]; i++)
		if (pg_strcasecmp(word, words[i]) == 0)
			return true;
	return false;
}

/*
 * Read a timestamp with time zone; a string without a zone is read as UTC.
 * Never throws: returns false for anything that is not a date and time,
 * special values such as 'now' or 'infinity' included.
 */
bool
rule_parse_utc_timestamp(const char *str, TimestampTz *result)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf,
				dtype,
				tz = 0,
				i,
				err;
	struct pg_tm tm;
	fsec_t		fsec;
	pg_tz	   *saved = session_timezone;
	int			saved_order = DateOrder;
#if PG_VERSION_NUM >= 160000
	DateTimeErrorExtra extra;
#endif

	if (strlen(str) >= MAXDATELEN)
		return false;
	err = ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf);
	if (err != 0)
		return false;
	for (i = 0; i < nf; i++)
		if (ftype[i] == DTK_STRING && rule_is_relative_word(field[i]))
			return false;

	/*
	 * A missing zone is taken from session_timezone, and the order of an
	 * ambiguous date from DateOrder: make them UTC and year-month-day, so
	 * the result does not depend on the session.
	 */
	session_timezone = pg_tzset("UTC");
	DateOrder = DATEORDER_YMD;
#if PG_VERSION_NUM >= 160000
	err = DecodeDateTime(field, ftype, nf, &dtype, &tm, &fsec, &tz, &extra);
#else
	err = DecodeDateTime(field, ftype, nf, &dtype, &tm, &fsec, &tz);
#endif
	session_timezone = saved;
	DateOrder = saved_order;
	if (err != 0 || dtype != DTK_DATE)
		return false;			/* infinity, epoch ... */
	return tm2timestamp(&tm, fsec, &tz, result) == 0 && IS_VALID_TIMESTAMP(*result);
}

static bool
check_now_override(char **newval, void **extra, GucSource source)
{
	TimestampTz value;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (!rule_parse_utc_timestamp(*newval, &value))
	{
		GUC_check_errdetail("\"%s\" is not a timestamp; a value without a time zone is read as UTC.",
							*newval);
		return false;
	}
	/*
	 * Keep the value in a canonical form without letters (2025-06-15
	 * 12:00:00+00, not 2025-06-15T12:00Z): a parallel worker sets it again
	 * before it has time zone abbreviations to read letters with.
	 */
	if (!TIMESTAMP_NOT_FINITE(value))
	{
		struct pg_tm tm;
		fsec_t		fsec;
		char		canonical[64];
		char	   *copy;

		if (timestamp2tm(value, NULL, &tm, &fsec, NULL, NULL) != 0)
		{
			GUC_check_errdetail("\"%s\" is out of range.", *newval);
			return false;
		}
		snprintf(canonical, sizeof(canonical), "%04d-%02d-%02d %02d:%02d:%02d%s+00%s",
				 tm.tm_year > 0 ? tm.tm_year : -(tm.tm_year - 1), tm.tm_mon, tm.tm_mday,
				 tm.tm_hour, tm.tm_min, tm.tm_sec,
				 fsec != 0 ? psprintf(".%06d", (int) fsec) : "", tm.tm_year > 0 ? "" : " BC");
#if PG_VERSION_NUM >= 160000
		copy = guc_strdup(LOG, canonical);
#else
		copy = strdup(canonical);	/* guc.c frees it with free() */
#endif
		if (copy == NULL)
			return false;
#if PG_VERSION_NUM >= 160000
		guc_free(*newval);
#else
		free(*newval);
#endif
		*newval = copy;
	}
	/* GUC extra data is freed by guc.c: allocated as it frees */
#if PG_VERSION_NUM >= 160000
	*extra = guc_malloc(LOG, sizeof(TimestampTz));
#else
	*extra = malloc(sizeof(TimestampTz));
#endif
	if (*extra == NULL)
		return false;
	*(TimestampTz *) *extra = value;
	return true;
}

static void
assign_now_override(const char *newval, void *extra)
{
	now_overridden = extra != NULL;
	if (extra)
		now_override_value = *(TimestampTz *) extra;
}

void
rule_time_init(void)
{
	DefineCustomStringVariable("segments.now_override",
							   "Sets the time segments.now() returns, instead of now().",
							   "Empty means now().  For tests and demos: rules then see this time.  "
							   "A value without a time zone is read as UTC.",
							   &now_override_string,
							   "",
							   PGC_SUSET,
							   0,
							   check_now_override,
							   assign_now_override,
							   NULL);
}

/* Maintenance's time while it evaluates (rule_pin_now), else 0. */
static TimestampTz pinned_now = 0;

TimestampTz
rule_now(void)
{
	if (now_overridden)
		return now_override_value;
	return pinned_now != 0 ? pinned_now : GetCurrentTransactionStartTimestamp();
}

TimestampTz
rule_clock(void)
{
	return now_overridden ? now_override_value : GetCurrentTimestamp();
}

void
rule_pin_now(TimestampTz now)
{
	pinned_now = now;
}

/*
 * now + sign * amount unit, in UTC.  Overflow is an error, as it is for
 * interval arithmetic in SQL.
 */
TimestampTz
rule_time_shift(TimestampTz base, int sign, uint32 amount, RuleUnit unit)
{
	/*
	 * The write path shifts the same moment by the same windows for every
	 * contact it evaluates: the last shifts are remembered.
	 */
	static struct
	{
		bool		valid;
		TimestampTz base;
		int64		n;
		RuleUnit	unit;
		TimestampTz result;
	}			memo[16];
	Interval	span;
	int64		n = (int64) sign * amount;
	int			slot = (int) (((uint64) n * 31 + (uint64) unit) % lengthof(memo));
	TimestampTz result;

	if (memo[slot].valid && memo[slot].base == base && memo[slot].n == n && memo[slot].unit == unit)
		return memo[slot].result;

	memset(&span, 0, sizeof(span));
	switch (unit)
	{
		case RU_MINUTE:
			span.time = n * USECS_PER_MINUTE;
			break;
		case RU_HOUR:
			span.time = n * USECS_PER_HOUR;
			break;
		case RU_DAY:
			span.day = (int32) n;
			break;
		case RU_WEEK:
			if (n * 7 > PG_INT32_MAX || n * 7 < PG_INT32_MIN)
				ereport(ERROR,
						errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						errmsg("interval out of range"));
			span.day = (int32) (n * 7);
			break;
		case RU_MONTH:
			span.month = (int32) n;
			break;
		case RU_YEAR:
			if (n * MONTHS_PER_YEAR > PG_INT32_MAX || n * MONTHS_PER_YEAR < PG_INT32_MIN)
				ereport(ERROR,
						errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						errmsg("interval out of range"));
			span.month = (int32) (n * MONTHS_PER_YEAR);
			break;
	}
	/* timestamp (without zone) arithmetic on the UTC value: no DST, no zone */
	result = DatumGetTimestamp(DirectFunctionCall2(timestamp_pl_interval,
												   TimestampGetDatum(base),
												   IntervalPGetDatum(&span)));
	memo[slot].valid = true;
	memo[slot].base = base;
	memo[slot].n = n;
	memo[slot].unit = unit;
	memo[slot].result = result;
	return result;
}

/* The time a relative value (now, ago, from now) stands for. */
TimestampTz
rule_time_value(RuleValueKind kind, uint32 amount, RuleUnit unit)
{
	switch (kind)
	{
		case RV_AGO:
			return rule_time_shift(rule_now(), -1, amount, unit);
		case RV_FROM_NOW:
			return rule_time_shift(rule_now(), 1, amount, unit);
		default:
			return rule_now();
	}
}

RuleUnit
rule_unit_from_name(const char *name)
{
	RuleUnit	unit;

	for (unit = RU_MINUTE; unit <= RU_LAST; unit++)
		if (pg_strcasecmp(name, rule_unit_name(unit, false)) == 0 ||
			pg_strcasecmp(name, rule_unit_name(unit, true)) == 0)
			return unit;
	ereport(ERROR,
			errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			errmsg("unknown time unit \"%s\"", name),
			errhint("The units are minute, hour, day, week, month and year."));
	return RU_MINUTE;			/* keep the compiler quiet */
}

static uint32
amount_arg(FunctionCallInfo fcinfo)
{
	int32		amount = PG_GETARG_INT32(0);

	if (amount < 0)
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("time amount must not be negative"));
	return (uint32) amount;
}

/* segments.now() -> timestamptz */
Datum
segments_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(rule_now());
}

/* segments.ago(amount integer, unit text) -> timestamptz */
Datum
segments_ago(PG_FUNCTION_ARGS)
{
	uint32		amount = amount_arg(fcinfo);
	RuleUnit	unit = rule_unit_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));

	PG_RETURN_TIMESTAMPTZ(rule_time_value(RV_AGO, amount, unit));
}

/* segments.from_now(amount integer, unit text) -> timestamptz */
Datum
segments_from_now(PG_FUNCTION_ARGS)
{
	uint32		amount = amount_arg(fcinfo);
	RuleUnit	unit = rule_unit_from_name(text_to_cstring(PG_GETARG_TEXT_PP(1)));

	PG_RETURN_TIMESTAMPTZ(rule_time_value(RV_FROM_NOW, amount, unit));
}

int64
rule_clock_time(TimestampTz t, const char *zone)
{
	/* the same function as AT TIME ZONE, so both paths read clocks alike */
	if (zone == NULL || strcmp(zone, "UTC") == 0)
		return t;
	return DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone, CStringGetTextDatum(zone),
												 TimestampTzGetDatum(t)));
}
