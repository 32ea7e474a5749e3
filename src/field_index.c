/*
 * field_index.c
 *	  The segments an UPDATE of a contact's column can change, found by the
 *	  values their conditions on the column name (docs/design.md, "Writes:
 *	  statements queue, commit applies").
 *
 * A comparison of a column with constants holds differently for an old
 * and a new value only around those constants: "x = k", "x != k" and
 * "x in (...)" only if the old or the new value is one of them; "x < k",
 * "x between a and b" and the other orderings only if one of them lies
 * between the old and the new value (both included).  Per column, the
 * constants of the segments' comparisons are kept sorted, those of the
 * equalities apart from those of the orderings, so that an update finds
 * the segments it can change by binary search however many there are,
 * as a publish/subscribe matcher indexes its subscriptions.  "is null"
 * cannot change between two values.  A segment with any other condition on
 * the column (a pattern, a time, a jsonb property, an array, a relative
 * literal) is always taken.  rule_eval_update_matters then tells exactly.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "field_index.h"
#include "rule_check.h"

/* A constant of a segment's comparison. */
typedef struct FieldConstant
{
	Datum		value;			/* in the segment's checked rule */
	int			segment;		/* index in the cache */
} FieldConstant;

struct FieldIndex
{
	FmgrInfo	cmp;			/* the column type's btree comparison */
	Oid			collation;		/* the column's */
	int			nequal;
	FieldConstant *equal;		/* of =, != and (not) in, sorted */
	int			nordered;
	FieldConstant *ordered;		/* of <, <=, >, >= and (not) between, sorted */
	int			space_equal;
	int			space_ordered;
	Bitmapset  *others;			/* segments with another condition on it */
};

static int
compare(FieldIndex *index, Datum a, Datum b)
{
	return DatumGetInt32(FunctionCall2Coll(&index->cmp, index->collation, a, b));
}

static int
constant_cmp(const void *a, const void *b, void *arg)
{
	return compare(arg, ((const FieldConstant *) a)->value, ((const FieldConstant *) b)->value);
}

static void
add_constant(FieldConstant **array, int *n, int *space, Datum value, int segment)
{
	if (*n == *space)
	{
		*space = Max(16, *space * 2);
		*array = *array ? repalloc(*array, sizeof(FieldConstant) * *space) :
			palloc(sizeof(FieldConstant) * *space);
	}
	(*array)[*n].value = value;
	(*array)[*n].segment = segment;
	(*n)++;
}

/*
 * Whether a condition on the column is a comparison with constants, the
 * index then needing its column type's comparison (set on the first).
 */
static bool
indexable(FieldIndex *index, const RuleItem *item, const CheckedItem *ci)
{
	if ((ci->fclass != FC_SCALAR && ci->fclass != FC_TEXT) || item->op < RT_EQ || item->op > RT_BETWEEN ||
		rule_operands_are_relative(item + 1, RULE_NEXT(item)))
		return false;
	if (index->cmp.fn_oid == InvalidOid)
	{
		TypeCacheEntry *tc = lookup_type_cache(ci->coltype, TYPECACHE_CMP_PROC_FINFO);

		if (!OidIsValid(tc->cmp_proc))
			return false;
		fmgr_info_copy(&index->cmp, &tc->cmp_proc_finfo, CurrentMemoryContext);
		index->collation = ci->colcollation;
	}
	return true;
}

/* The segment's conditions on the column, into the index. */
static void
add_segment(FieldIndex *index, const CheckedRule *cr, const char *column, int segment)
{
	const RuleItem *end = cr->body->items + cr->body->nitems;
	const RuleItem *item;

	for (item = rule_next_contact_field(cr->body->items, end); item;
		 item = rule_next_contact_field(RULE_NEXT(item), end))
	{
		const CheckedItem *ci = &cr->items[item - cr->body->items];
		const RuleItem *operand;

		if (strcmp(ci->column, column) != 0 || item->op == RT_IS_NULL)
			continue;
		if (!indexable(index, item, ci))
		{
			index->others = bms_add_member(index->others, segment);
			continue;
		}
		for (operand = item + 1; operand < RULE_NEXT(item); operand++)
		{
			Datum		value = cr->items[operand - cr->body->items].value;

			if (item->op == RT_EQ || item->op == RT_NE || item->op == RT_IN)
				add_constant(&index->equal, &index->nequal, &index->space_equal, value, segment);
			else
				add_constant(&index->ordered, &index->nordered, &index->space_ordered, value, segment);
		}
	}
}

FieldIndex *
field_index_get(SegmentCache *cache, const NamedUse *field)
{
	int			at = field - cache->fields;
	FieldIndex *index;
	MemoryContext old;
	int			i = -1;

	if (cache->field_indexes && cache->field_indexes[at])
		return cache->field_indexes[at];

	old = MemoryContextSwitchTo(cache->cxt);
	if (cache->field_indexes == NULL)
		cache->field_indexes = palloc0(sizeof(FieldIndex *) * cache->nfields);
	index = palloc0(sizeof(FieldIndex));
	while ((i = bms_next_member(field->segments, i)) >= 0)
		add_segment(index, segment_cache_checked(cache, i), field->name, i);
	qsort_arg(index->equal, index->nequal, sizeof(FieldConstant), constant_cmp, index);
	qsort_arg(index->ordered, index->nordered, sizeof(FieldConstant), constant_cmp, index);
	MemoryContextSwitchTo(old);
	cache->field_indexes[at] = index;
	return index;
}

/* The first of n sorted constants not below value. */
static int
lower_bound(FieldIndex *index, const FieldConstant *constants, int n, Datum value)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (compare(index, constants[mid].value, value) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Adds the segments of the constants from low to high, both included. */
static Bitmapset *
add_range(FieldIndex *index, const FieldConstant *constants, int n, Datum low, Datum high,
		  Bitmapset *segments)
{
	int			i;

	for (i = lower_bound(index, constants, n, low); i < n && compare(index, constants[i].value, high) <= 0; i++)
		segments = bms_add_member(segments, constants[i].segment);
	return segments;
}

Bitmapset *
field_index_candidates(FieldIndex *index, Datum old_value, Datum new_value, Bitmapset *segments)
{
	bool		ascending;

	segments = bms_add_members(segments, index->others);
	if (index->nequal == 0 && index->nordered == 0)
		return segments;
	ascending = compare(index, old_value, new_value) <= 0;
	segments = add_range(index, index->equal, index->nequal, old_value, old_value, segments);
	segments = add_range(index, index->equal, index->nequal, new_value, new_value, segments);
	return add_range(index, index->ordered, index->nordered, ascending ? old_value : new_value,
					 ascending ? new_value : old_value, segments);
}
