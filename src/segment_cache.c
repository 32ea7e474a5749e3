/*
 * segment_cache.c
 *	  The segment catalog, read once per backend for the write path.
 *
 * Every write statement on an attached table must find the segments its
 * change can affect; reading segments.segment and segment_reference and
 * checking rules in every statement would cost more than the write.  So a
 * backend reads them once and keeps them until the catalog changes.  Why
 * no backend ever uses a cache older than the catalog it writes under is
 * argued in docs/design.md ("Catalog changes and the caches"); in short:
 *
 * - every catalog change (create, alter, rename, drop of a segment; attach
 *   and detach) calls segments._catalog_changed(), which sends a relcache
 *   invalidation of segments.segment; every change that can alter what an
 *   existing segment means takes the writers' lock exclusively, and
 *   PostgreSQL sends the invalidation at commit, after the change is
 *   visible to new snapshots and before the lock is released;
 * - writers take the writers' lock shared before they use the cache (see
 *   maintain.c), and segment_cache_get() accepts invalidations itself, so a
 *   change committed before the lock was granted has marked it stale;
 * - a stale cache is read again under a snapshot taken after that, never
 *   under the statement's snapshot, which may predate the change; the
 *   rules are checked (segment names resolved) under such a snapshot too.
 *
 * A cache being used must survive an invalidation arriving meanwhile (any
 * lock taken by a query may process one): a stale cache is given to the
 * transaction's memory, freed when the transaction ends, and a new one is
 * read on the next request.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "rule_type.h"
#include "segment_cache.h"

PG_FUNCTION_INFO_V1(segments_catalog_changed);
PG_FUNCTION_INFO_V1(segments_maintenance_order);

static SegmentCache *cache = NULL;
static uint64 cache_generation = 0;
static Oid	cache_user = InvalidOid;
static bool cache_stale = true;
static bool callback_registered = false;

/*
 * segments.segment as of the last reading: the extension may be dropped
 * and created again in the life of a backend, so it is looked up anew.
 */
static Oid	catalog_relid = InvalidOid;

/*
 * Marks the cache stale, also while it is being read (an invalidation
 * processed by a lock the reading takes must not be lost).
 */
static void
catalog_invalidated(Datum arg, Oid relid)
{
	/* relid 0: every relation (the invalidation queue overflowed) */
	if (relid == InvalidOid || relid == catalog_relid)
		cache_stale = true;
}

/* (tenant, name) pairs, to resolve "in segment" names */
typedef struct SegmentName
{
	const char *tenant;
	const char *name;
	int			index;
} SegmentName;

static int
strcmp_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int
segment_name_cmp(const void *a, const void *b)
{
	const SegmentName *x = a;
	const SegmentName *y = b;
	int			c = strcmp_null(x->tenant, y->tenant);

	return c != 0 ? c : strcmp(x->name, y->name);
}

static int
named_use_cmp(const void *a, const void *b)
{
	return strcmp(((const NamedUse *) a)->name, ((const NamedUse *) b)->name);
}

/* A reference read from segment_reference. */
typedef struct Reference
{
	int			segment;		/* index in load order */
	char	   *kind;
	char	   *name;
	char	   *source;			/* of an event reference: the source named, or NULL */
} Reference;

/* Collapse sorted (name, one segment) pairs into one entry per name. */
static int
merge_uses(NamedUse *uses, int n)
{
	int			out = 0;
	int			i;

	qsort(uses, n, sizeof(NamedUse), named_use_cmp);
	for (i = 0; i < n; i++)
	{
		if (out > 0 && strcmp(uses[out - 1].name, uses[i].name) == 0)
			uses[out - 1].segments = bms_add_members(uses[out - 1].segments, uses[i].segments);
		else
			uses[out++] = uses[i];
	}
	return out;
}

/* depth of each segment: 0 if it uses none, else 1 + the deepest it uses */
static int
segment_depth(int index, List **uses, int *depth)
{
	ListCell   *lc;
	int			d = 0;

	check_stack_depth();
	if (depth[index] >= 0)
		return depth[index];
	foreach(lc, uses[index])
		d = Max(d, segment_depth(lfirst_int(lc), uses, depth) + 1);
	depth[index] = d;
	return d;
}

typedef struct Ordered
{
	int			depth;
	int64		id;
	int			loaded;
} Ordered;

static int
ordered_cmp(const void *a, const void *b)
{
	const Ordered *x = a;
	const Ordered *y = b;

	if (x->depth != y->depth)
		return x->depth - y->depth;
	return (x->id > y->id) - (x->id < y->id);
}

/*
 * The catalog's references (all kinds), each with the load-order index of
 * its segment (n when none: a reference read after its segment was).
 */
static Reference *
read_references(int n, const CachedSegment *loaded, int *nrefs)
{
	Reference  *refs;
	MemoryContext cxt = CurrentMemoryContext;
	int			i;

	/* source read so that the SQL of release 0.1, without it, works too */
	if (SPI_execute("SELECT r.segment_id, r.kind, r.name, "
					"pg_catalog.to_jsonb(r) OPERATOR(pg_catalog.->>) 'source' "
					"FROM segments.segment_reference r",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read segments.segment_reference");
	/* SPI returns in its own context */
	MemoryContextSwitchTo(cxt);
	*nrefs = (int) SPI_processed;
	refs = palloc(sizeof(Reference) * Max(*nrefs, 1));
	for (i = 0; i < *nrefs; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		int			j;

		/* both results are small: a linear match keeps this simple */
		for (j = 0; j < n && loaded[j].id != id; j++)
			;
		refs[i].segment = j;
		refs[i].kind = SPI_getvalue(t, d, 2);
		refs[i].name = SPI_getvalue(t, d, 3);
		refs[i].source = strcmp(refs[i].kind, "event") == 0 ? SPI_getvalue(t, d, 4) : NULL;
	}
	return refs;
}

/*
 * The order segments are maintained in, its one definition (the write
 * path's cache and segments._maintenance_order): a segment after every
 * segment it uses "in segment" (by depth: 0 if it uses none, else 1 + the
 * deepest it uses), then by id.  Sets uses[i] (zeroed by the caller) to
 * the segments loaded[i] uses, and returns the indexes into loaded in that
 * order.
 */
static int *
maintenance_order(int n, const CachedSegment *loaded, int nrefs, const Reference *refs, List **uses)
{
	SegmentName *sorted = palloc(sizeof(SegmentName) * Max(n, 1));
	int		   *depth = palloc(sizeof(int) * Max(n, 1));
	Ordered    *order = palloc(sizeof(Ordered) * Max(n, 1));
	int		   *result = palloc(sizeof(int) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
	{
		sorted[i].tenant = loaded[i].tenant;
		sorted[i].name = loaded[i].name;
		sorted[i].index = i;
	}
	qsort(sorted, n, sizeof(SegmentName), segment_name_cmp);
	for (i = 0; i < nrefs; i++)
	{
		SegmentName key;
		SegmentName *used;

		if (refs[i].segment >= n || strcmp(refs[i].kind, "segment") != 0)
			continue;
		key.tenant = loaded[refs[i].segment].tenant;
		key.name = refs[i].name;
		used = bsearch(&key, sorted, n, sizeof(SegmentName), segment_name_cmp);
		if (used)
			uses[refs[i].segment] = lappend_int(uses[refs[i].segment], used->index);
	}
	for (i = 0; i < n; i++)
		depth[i] = -1;
	for (i = 0; i < n; i++)
	{
		order[i].depth = segment_depth(i, uses, depth);
		order[i].id = loaded[i].id;
		order[i].loaded = i;
	}
	qsort(order, n, sizeof(Ordered), ordered_cmp);
	for (i = 0; i < n; i++)
		result[i] = order[i].loaded;
	pfree(sorted);
	pfree(depth);
	pfree(order);
	return result;
}

/* The rule false, in the current memory context. */
static const RuleBody *
false_rule(void)
{
	RuleBody   *body = palloc0(RULE_BODY_ITEMS_OFFSET + sizeof(RuleItem));

	body->version = RULE_FORMAT_VERSION;
	body->nitems = 1;
	body->items[0].type = RI_FALSE;
	body->items[0].span = 1;
	return body;
}

/*
 * The segments of the catalog (SPI connected), in the current memory
 * context; with their rules when rules is true.
 */
static CachedSegment *
read_segments(bool rules, int *n)
{
	MemoryContext cxt = CurrentMemoryContext;
	CachedSegment *loaded;
	bool		isnull;
	int			i;

	/* overridden and static read so that the SQL of release 0.1, without them, works too */
	if (SPI_execute("SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute a "
					"WHERE a.attrelid OPERATOR(pg_catalog.=) 'segments.segment'::pg_catalog.regclass "
					"AND a.attname OPERATOR(pg_catalog.=) 'static' AND NOT a.attisdropped)",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read pg_attribute");
	if (SPI_execute(DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) ?
					"SELECT s.id, s.name, s.tenant, s.rule, s.overridden, s.static FROM segments.segment s" :
					"SELECT s.id, s.name, s.tenant, s.rule, false, false FROM segments.segment s",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read segments.segment");
	/* SPI returns in its own context */
	MemoryContextSwitchTo(cxt);
	*n = (int) SPI_processed;
	loaded = palloc0(sizeof(CachedSegment) * Max(*n, 1));
	for (i = 0; i < *n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;

		loaded[i].id = DatumGetInt64(SPI_getbinval(t, d, 1, &isnull));
		loaded[i].name = SPI_getvalue(t, d, 2);
		loaded[i].tenant = SPI_getvalue(t, d, 3);
		loaded[i].overridden = DatumGetBool(SPI_getbinval(t, d, 5, &isnull));
		loaded[i].is_static = DatumGetBool(SPI_getbinval(t, d, 6, &isnull));
		/* a static segment's members are those included: its rule is false */
		if (rules && loaded[i].is_static)
			loaded[i].rule = false_rule();
		else if (rules)
			loaded[i].rule = rule_datum_body(PointerGetDatum(PG_DETOAST_DATUM_COPY(SPI_getbinval(t, d, 4, &isnull))));
	}
	return loaded;
}

static SegmentCache *
read_cache(MemoryContext cxt, Attachments *att)
{
	MemoryContext old;
	SegmentCache *c;
	CachedSegment *loaded;
	Reference  *refs;
	List	  **uses;
	int		   *position;
	int		   *order;
	int			n,
				nrefs,
				i;
	NamedUse   *fields;
	int			nfields = 0,
				source;

	old = CurrentMemoryContext;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* read-only SPI runs under the active snapshot: see segment_cache_get */
	MemoryContextSwitchTo(cxt);
	c = palloc0(sizeof(SegmentCache));
	c->cxt = cxt;

	loaded = read_segments(true, &n);
	refs = read_references(n, loaded, &nrefs);

	/* which segments each one uses "in segment", and the order */
	uses = palloc0(sizeof(List *) * Max(n, 1));
	order = maintenance_order(n, loaded, nrefs, refs, uses);
	position = palloc(sizeof(int) * Max(n, 1));
	c->nsegments = n;
	c->segments = palloc0(sizeof(CachedSegment) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		c->segments[i] = loaded[order[i]];
		position[order[i]] = i;
		c->all = bms_add_member(c->all, i);
	}
	for (i = 0; i < n; i++)
	{
		ListCell   *lc;

		foreach(lc, uses[i])
		{
			CachedSegment *used = &c->segments[position[lfirst_int(lc)]];

			used->dependents = bms_add_member(used->dependents, position[i]);
		}
	}

	/* the dependency index */
	fields = palloc(sizeof(NamedUse) * Max(nrefs, 1));
	c->kind_uses = palloc0(sizeof(KindUses) * Max(att->nsources, 1));
	for (source = 0; source < att->nsources; source++)
		c->kind_uses[source].kinds = palloc(sizeof(NamedUse) * Max(nrefs, 1));
	for (i = 0; i < nrefs; i++)
	{
		int			s;

		if (refs[i].segment >= n)
			continue;
		s = position[refs[i].segment];
		if (strcmp(refs[i].kind, "field") == 0)
		{
			fields[nfields].name = refs[i].name;
			fields[nfields++].segments = bms_make_singleton(s);
		}
		else if (strcmp(refs[i].kind, "event") == 0)
		{
			int			found = rule_resolve_source(att, refs[i].name, refs[i].source);

			/* a rule naming no source it can mean: written by every one, checking fails */
			for (source = 0; source < att->nsources; source++)
				if (found < 0 || found == source)
				{
					KindUses   *uses = &c->kind_uses[source];

					uses->kinds[uses->nkinds].name = refs[i].name;
					uses->kinds[uses->nkinds++].segments = bms_make_singleton(s);
				}
		}
		else if (strcmp(refs[i].kind, "list") == 0)
			c->list_users = bms_add_member(c->list_users, s);
	}
	c->nfields = merge_uses(fields, nfields);
	c->fields = fields;
	for (source = 0; source < att->nsources; source++)
		c->kind_uses[source].nkinds = merge_uses(c->kind_uses[source].kinds, c->kind_uses[source].nkinds);

	/* the tenant index */
	c->tenants = palloc(sizeof(NamedUse) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (c->segments[i].tenant == NULL)
		{
			c->untenanted = bms_add_member(c->untenanted, i);
			continue;
		}
		c->tenants[c->ntenants].name = c->segments[i].tenant;
		c->tenants[c->ntenants++].segments = bms_make_singleton(i);
	}
	c->ntenants = merge_uses(c->tenants, c->ntenants);

	SPI_finish();
	MemoryContextSwitchTo(old);
	return c;
}

SegmentCache *
segment_cache_get(void)
{
	Attachments *att;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(catalog_invalidated, (Datum) 0);
		callback_registered = true;
	}
	/*
	 * It accepts the invalidations sent so far (the writers' lock does not
	 * when granted), this cache's too.
	 */
	att = rule_load_attachments();
	/* checked rules point into the attachments, and both follow the user */
	if (cache != NULL && (cache_stale || att->generation != cache_generation || cache_user != GetUserId()))
	{
		/* still in use by this transaction: freed when it ends */
		MemoryContextSetParent(cache->cxt, TopTransactionContext);
		cache = NULL;
	}
	if (cache == NULL)
	{
		MemoryContext cxt = AllocSetContextCreate(CacheMemoryContext, "segments catalog",
												  ALLOCSET_DEFAULT_SIZES);

		/* an invalidation processed while reading makes the next call read again */
		cache_stale = false;
		catalog_relid = rule_catalog_relid();
		/*
		 * Under a snapshot taken now, after the invalidations: the
		 * statement's snapshot may predate the change that made the cache
		 * stale, and reading under it would keep the old catalog for good.
		 */
		rule_push_fresh_snapshot();
		PG_TRY();
		{
			cache = read_cache(cxt, att);
		}
		PG_CATCH();
		{
			MemoryContextDelete(cxt);
			PG_RE_THROW();
		}
		PG_END_TRY();
		PopActiveSnapshot();
		cache->att = att;
		cache_generation = att->generation;
		cache_user = GetUserId();
	}
	return cache;
}

const NamedUse *
segment_cache_use(const NamedUse *uses, int nuses, const char *name)
{
	NamedUse	key = {name, NULL};

	return bsearch(&key, uses, nuses, sizeof(NamedUse), named_use_cmp);
}

Bitmapset *
segment_cache_users(const NamedUse *uses, int nuses, const char *name)
{
	const NamedUse *found = segment_cache_use(uses, nuses, name);

	return found ? found->segments : NULL;
}

const CheckedRule *
segment_cache_checked(SegmentCache *c, int index)
{
	CachedSegment *s = &c->segments[index];

	if (s->checked == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(c->cxt);

		/* "in segment" names resolved in the catalog the cache was read from */
		rule_push_fresh_snapshot();
		s->checked = rule_check(s->rule, c->att, s->tenant);
		PopActiveSnapshot();
		MemoryContextSwitchTo(old);
	}
	return s->checked;
}

Bitmapset *
segment_cache_with_dependents(SegmentCache *c, Bitmapset *add)
{
	MemoryContext old;
	Bitmapset  *result;
	int			i = -1;

	/* a write path's statements ask for the same set again and again */
	if (c->dependents_of != NULL && bms_equal(c->dependents_of, add))
		return c->with_dependents;
	old = MemoryContextSwitchTo(c->cxt);
	result = bms_copy(add);
	/* dependents come later in the order, so one pass reaches them all */
	while ((i = bms_next_member(result, i)) >= 0)
		result = bms_add_members(result, c->segments[i].dependents);
	bms_free(c->dependents_of);
	bms_free(c->with_dependents);
	c->dependents_of = bms_copy(add);
	c->with_dependents = result;
	MemoryContextSwitchTo(old);
	return result;
}

void
segment_cache_check_all(SegmentCache *c, Bitmapset *segments)
{
	MemoryContext old;
	int			i = -1;

	if (bms_is_subset(segments, c->checked))
		return;
	while ((i = bms_next_member(segments, i)) >= 0)
		(void) segment_cache_checked(c, i);
	old = MemoryContextSwitchTo(c->cxt);
	c->checked = bms_add_members(c->checked, segments);
	MemoryContextSwitchTo(old);
}

Bitmapset *
segment_cache_in_tenant(SegmentCache *c, const char *tenant)
{
	Bitmapset  *of_tenant = tenant ? segment_cache_users(c->tenants, c->ntenants, tenant) : NULL;

	return bms_union(c->untenanted, of_tenant);
}

void
segment_cache_catalog_changed(void)
{
	CacheInvalidateRelcacheByRelid(rule_catalog_relid());
}

/*
 * segments._catalog_changed() -> void
 *
 * Called by every change of the catalog: every backend reads its cache
 * again once this transaction commits (this one at its next command).
 */
Datum
segments_catalog_changed(PG_FUNCTION_ARGS)
{
	segment_cache_catalog_changed();
	PG_RETURN_VOID();
}

/*
 * segments._maintenance_order(ids bigint[]) RETURNS SETOF bigint
 *
 * The segments ids and those that use them "in segment", directly or not,
 * in the order they are maintained, as the catalog is under the active
 * snapshot: the lifecycle functions call it in the transaction that
 * changes the catalog, where the cache would be out of date.
 */
Datum
segments_maintenance_order(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ArrayType  *given = PG_GETARG_ARRAYTYPE_P(0);
	MemoryContext cxt = CurrentMemoryContext;
	Datum	   *wanted_ids;
	bool	   *wanted_nulls;
	int			nwanted;
	CachedSegment *loaded;
	Reference  *refs;
	List	  **uses;
	int		   *order;
	bool	   *wanted;
	int			n,
				nrefs,
				i,
				k;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	deconstruct_array(given, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &wanted_ids, &wanted_nulls, &nwanted);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(cxt);
	loaded = read_segments(false, &n);
	refs = read_references(n, loaded, &nrefs);
	uses = palloc0(sizeof(List *) * Max(n, 1));
	order = maintenance_order(n, loaded, nrefs, refs, uses);

	wanted = palloc0(sizeof(bool) * Max(n, 1));
	for (k = 0; k < nwanted; k++)
		for (i = 0; i < n; i++)
			if (!wanted_nulls[k] && loaded[i].id == DatumGetInt64(wanted_ids[k]))
				wanted[i] = true;
	/* a segment comes after those it uses: one pass reaches every dependent */
	for (k = 0; k < n; k++)
	{
		ListCell   *lc;
		Datum		value;
		bool		isnull = false;

		i = order[k];
		foreach(lc, uses[i])
			wanted[i] |= wanted[lfirst_int(lc)];
		if (!wanted[i])
			continue;
		value = Int64GetDatum(loaded[i].id);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	SPI_finish();
	return (Datum) 0;
}
