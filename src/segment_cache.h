/*
 * segment_cache.h
 *	  The segment catalog as the write path needs it, read once per backend:
 *	  every segment's rule, its place in dependency order, and an index from
 *	  what a write changes (a column, an event kind, a list) to the segments
 *	  whose rules can see that change.
 */
#ifndef SEGMENTS_SEGMENT_CACHE_H
#define SEGMENTS_SEGMENT_CACHE_H

#include "nodes/bitmapset.h"

#include "rule_check.h"

typedef struct CachedSegment
{
	int64		id;
	char	   *name;
	char	   *tenant;			/* canonical text, NULL: all contacts */
	const RuleBody *rule;
	CheckedRule *checked;		/* checked on first evaluation */
	Bitmapset  *dependents;		/* segments using this one "in segment" */
	bool		overridden;		/* has had contacts included or excluded by hand */
	bool		is_static;		/* its rule is false: members are the included */
} CachedSegment;

/* A name (column or event kind) and the segments whose rules use it. */
typedef struct NamedUse
{
	const char *name;
	Bitmapset  *segments;
} NamedUse;

/* The kinds of one event source that rules count, sorted by name. */
typedef struct KindUses
{
	int			nkinds;
	NamedUse   *kinds;
} KindUses;

typedef struct SegmentCache
{
	/* in dependency order: a segment after every segment it uses */
	int			nsegments;
	CachedSegment *segments;
	/* sorted by name, for binary search */
	int			nfields;
	NamedUse   *fields;
	struct FieldIndex **field_indexes;	/* parallel to fields, each built on
										 * first use (field_index.c) */
	KindUses   *kind_uses;		/* per event source (att->events) */
	Bitmapset  *list_users;
	Bitmapset  *all;
	/* segments by tenant, sorted by tenant; those over all contacts */
	int			ntenants;
	NamedUse   *tenants;
	Bitmapset  *untenanted;
	/* the last set segment_cache_with_dependents was asked for, its result */
	Bitmapset  *dependents_of;
	Bitmapset  *with_dependents;
	/* segments whose rules were checked (segment_cache_checked) */
	Bitmapset  *checked;
	Attachments *att;			/* what the rules are checked against */
	MemoryContext cxt;
} SegmentCache;

/*
 * The cache, read again (under a snapshot taken now) on first use after a
 * committed change of the catalog, which it learns of by accepting
 * invalidations itself: docs/design.md, "Catalog changes and the caches".
 * Call it under the writers' lock, so that the catalog stays as read until
 * the transaction ends.  What it returns stays valid until the end of the
 * transaction, even if the catalog changes meanwhile.  SPI must not be
 * connected by the caller.
 */
extern SegmentCache *segment_cache_get(void);

/* The entry of name, or NULL. */
extern const NamedUse *segment_cache_use(const NamedUse *uses, int nuses, const char *name);

/* The segments (indexes into cache->segments) using name, or NULL. */
extern Bitmapset *segment_cache_users(const NamedUse *uses, int nuses, const char *name);

/* A segment's checked rule, checked on first use. */
extern const CheckedRule *segment_cache_checked(SegmentCache *cache, int index);

/*
 * add and everything that uses them "in segment", directly or not.  The
 * result belongs to the cache: copy it to change it.
 */
extern Bitmapset *segment_cache_with_dependents(SegmentCache *cache, Bitmapset *add);

/* Check every rule of segments (segment_cache_checked); errors name the first that fails. */
extern void segment_cache_check_all(SegmentCache *cache, Bitmapset *segments);

/*
 * The segments a contact of the tenant (canonical text; NULL: none) can
 * be a member of: the tenant's and those over all contacts.
 */
extern Bitmapset *segment_cache_in_tenant(SegmentCache *cache, const char *tenant);

/*
 * This transaction changes the catalog: every backend's cache is read again
 * once it commits (this backend's at its next command).
 */
extern void segment_cache_catalog_changed(void);

#endif							/* SEGMENTS_SEGMENT_CACHE_H */
