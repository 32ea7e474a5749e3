/*
 * rule_jsonb.c
 *	  jsonb properties typed by the literal they are compared with.
 *
 * A rule compares a property as a string, a number, a boolean or a time,
 * as its literal says; a value of another JSON type reads as NULL, so the
 * condition is false, never an error.  The SQL compiler calls these
 * functions (segments.json_string() ...) and the evaluator calls the same
 * C code, so both agree.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "rule_jsonb.h"
#include "rule_time.h"

PG_FUNCTION_INFO_V1(segments_json_string);
PG_FUNCTION_INFO_V1(segments_json_number);
PG_FUNCTION_INFO_V1(segments_json_boolean);
PG_FUNCTION_INFO_V1(segments_json_time);

bool
rule_jsonb_lookup(Jsonb *doc, const char *keys, int nkeys, JsonbValue *result)
{
	JsonbContainer *container = &doc->root;
	int			i;

	if (nkeys == 0)
	{
		if (JsonContainerIsScalar(container))
			return JsonbExtractScalar(container, result);
		result->type = jbvBinary;
		result->val.binary.data = container;
		result->val.binary.len = VARSIZE(doc) - VARHDRSZ;
		return true;
	}
	for (i = 0; i < nkeys; i++)
	{
		JsonbValue *found;

		if (!JsonContainerIsObject(container))
			return false;
		found = getKeyJsonValueFromContainer(container, keys, strlen(keys), result);
		if (found == NULL)
			return false;
		keys += strlen(keys) + 1;
		if (i + 1 < nkeys)
		{
			if (result->type != jbvBinary)
				return false;
			container = result->val.binary.data;
		}
	}
	return true;
}

bool
rule_jsonb_time(const JsonbValue *value, TimestampTz *result)
{
	char	   *text;

	if (value->type != jbvString)
		return false;
	text = pnstrdup(value->val.string.val, value->val.string.len);
	return rule_parse_utc_timestamp(text, result);
}

/* The scalar a jsonb datum holds, or false for a container. */
static bool
datum_scalar(FunctionCallInfo fcinfo, JsonbValue *value)
{
	Jsonb	   *doc = PG_GETARG_JSONB_P(0);

	return JsonContainerIsScalar(&doc->root) && JsonbExtractScalar(&doc->root, value);
}

/* segments.json_string(jsonb) -> text: a JSON string, else NULL */
Datum
segments_json_string(PG_FUNCTION_ARGS)
{
	JsonbValue	value;

	if (!datum_scalar(fcinfo, &value) || value.type != jbvString)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text_with_len(value.val.string.val, value.val.string.len));
}

/* segments.json_number(jsonb) -> numeric: a JSON number, else NULL */
Datum
segments_json_number(PG_FUNCTION_ARGS)
{
	JsonbValue	value;

	if (!datum_scalar(fcinfo, &value) || value.type != jbvNumeric)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(value.val.numeric);
}

/* segments.json_boolean(jsonb) -> boolean: a JSON boolean, else NULL */
Datum
segments_json_boolean(PG_FUNCTION_ARGS)
{
	JsonbValue	value;

	if (!datum_scalar(fcinfo, &value) || value.type != jbvBool)
		PG_RETURN_NULL();
	PG_RETURN_BOOL(value.val.boolean);
}

/*
 * segments.json_time(jsonb) -> timestamptz: a JSON string holding a date
 * and time (read as UTC without a zone), else NULL
 */
Datum
segments_json_time(PG_FUNCTION_ARGS)
{
	JsonbValue	value;
	TimestampTz result;

	if (!datum_scalar(fcinfo, &value) || !rule_jsonb_time(&value, &result))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(result);
}
