/*
 * rule_refs.c
 *	  Introspection: what a rule refers to, and whether it depends on time.
 *
 * The maintenance engine uses these to find the segments a change can
 * affect (by column, property path, event kind, list and segment) and the
 * ones the clock can change.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "rule_check.h"
#include "rule_type.h"

PG_FUNCTION_INFO_V1(rule_references);
PG_FUNCTION_INFO_V1(rule_depends_on_time);
PG_FUNCTION_INFO_V1(rule_rename_segment);
PG_FUNCTION_INFO_V1(rule_rename_event_kind);
PG_FUNCTION_INFO_V1(rule_name_sources);

/* One reference; duplicates are merged, keeping the first position. */
typedef struct RuleRef
{
	const char *kind;			/* field, event, event_field, list, segment */
	const char *name;
	uint32		path;			/* pool offset of the path's first component */
	uint32		npath;			/* its components (consecutive strings); 0: none */
	const char *source;			/* events, event fields: the source named, or NULL */
	StringInfoData key;			/* kind, name, path and source, NUL-separated */
	int			seq;			/* order of first appearance */
	bool		relative;		/* its truth can change as time passes */
} RuleRef;

typedef struct RefCollector
{
	const RuleBody *body;
	RuleRef    *refs;			/* at most one per item */
	int			nrefs;
} RefCollector;

static void
add_ref(RefCollector *rc, const char *kind, const char *name,
		uint32 path, uint32 npath, const char *source, bool relative)
{
	RuleRef    *ref = &rc->refs[rc->nrefs];

	ref->kind = kind;
	ref->name = name;
	ref->path = path;
	ref->npath = npath;
	ref->source = source;
	ref->seq = rc->nrefs++;
	ref->relative = relative;
	initStringInfo(&ref->key);
	appendStringInfoString(&ref->key, kind);
	appendStringInfoChar(&ref->key, '\0');
	appendStringInfoString(&ref->key, name);
	if (npath > 0)
	{
		const char *component = RULE_STR(rc->body, path);
		uint32		i;

		for (i = 0; i < npath; i++)
		{
			appendStringInfoChar(&ref->key, '\0');
			appendStringInfoString(&ref->key, component);
			component += strlen(component) + 1;
		}
	}
	/* a source of its own, told apart from none */
	if (source)
	{
		appendStringInfoChar(&ref->key, '\x01');
		appendStringInfoString(&ref->key, source);
	}
}

/*
 * The event or list condition a where clause belongs to: its fields are
 * event_field references named by the event kind, or list_field ones
 * named by the list.
 */
typedef struct WhereOwner
{
	const char *ref_kind;		/* event_field or list_field */
	const char *name;
	const char *source;			/* an event's source named, or NULL */
} WhereOwner;

/* A list value as text: a string without its quotes. */
static char *
list_text(const RuleBody *body, const RuleItem *value)
{
	RuleArena	arena;
	RuleBuf		buf;

	rule_arena_init(&arena);
	rule_buf_init(&buf, &arena);
	if (value->op == RV_STRING)
		rule_buf_puts(&buf, RULE_STR(body, value->a));
	else
		rule_print_value(&buf, body, value);
	return buf.data;
}

static void
collect(RefCollector *rc, const RuleItem *item, const WhereOwner *owner)
{
	const RuleItem *end = RULE_NEXT(item);
	const RuleItem *child;

	check_stack_depth();
	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
		case RI_NOT:
			for (child = item + 1; child < end; child = RULE_NEXT(child))
				collect(rc, child, owner);
			break;
		case RI_FIELD:
			add_ref(rc, owner ? owner->ref_kind : "field",
					owner ? owner->name : RULE_STR(rc->body, item->a), item->a, item->b,
					owner ? owner->source : NULL,
					item->op == RT_WITHIN_LAST || item->op == RT_WITHIN_NEXT ||
					rule_operands_are_relative(item + 1, end));
			break;
		case RI_EVENT:
			{
				const char *kind = RULE_STR(rc->body, item->a);
				WhereOwner	event = {"event_field", kind, rule_event_source(rc->body, item)};
				const RuleItem *measure = NULL;

				child = item + 1;
				if (item->flags & RULE_HAS_WHERE)
					child = RULE_NEXT(child);
				if (item->flags & RULE_HAS_MEASURE)
				{
					measure = child;
					child = RULE_NEXT(child);
				}
				add_ref(rc, "event", kind, 0, 0, event.source, rule_operands_are_relative(child, end));
				if (item->flags & RULE_HAS_WHERE)
					collect(rc, item + 1, &event);
				/* an aggregate's column, compared as a where clause's field is */
				if (measure && RM_IS_AGGREGATE(measure->op))
					add_ref(rc, "event_field", kind, measure->a, 1, event.source,
							rule_value_is_relative(measure + 1));
			}
			break;
		case RI_IN_LIST:
			{
				WhereOwner	list = {"list_field", list_text(rc->body, item + 1), NULL};

				child = item + 2;
				if (item->flags & RULE_HAS_WHERE)
					child = RULE_NEXT(child);
				add_ref(rc, "list", list.name, 0, 0, NULL, rule_operands_are_relative(child, end));
				if (item->flags & RULE_HAS_WHERE)
					collect(rc, item + 2, &list);
			}
			break;
		case RI_IN_SEGMENT:
			/* for at least / less than: relative, its duration's edge */
			add_ref(rc, "segment", RULE_STR(rc->body, item->a), 0, 0, NULL, item->op != 0);
			break;
		case RI_BUCKET:
			/* the contact's key and tenant, which every write of them reads */
		case RI_TRUE:
		case RI_FALSE:
		case RI_VALUE:
		case RI_MEASURE:
			break;
	}
}

static bool
same_key(const RuleRef *a, const RuleRef *b)
{
	return a->key.len == b->key.len && memcmp(a->key.data, b->key.data, a->key.len) == 0;
}

/* By key, then by order of appearance, so the first of equals comes first. */
static int
compare_keys(const void *a, const void *b)
{
	const RuleRef *ra = a;
	const RuleRef *rb = b;
	int			cmp;

	cmp = memcmp(ra->key.data, rb->key.data, Min(ra->key.len, rb->key.len));
	if (cmp == 0)
		cmp = ra->key.len - rb->key.len;
	return cmp != 0 ? cmp : ra->seq - rb->seq;
}

static int
compare_seq(const void *a, const void *b)
{
	return ((const RuleRef *) a)->seq - ((const RuleRef *) b)->seq;
}

static Datum
path_array(const RuleBody *body, uint32 path, uint32 npath)
{
	Datum	   *components = palloc(sizeof(Datum) * npath);
	const char *component = RULE_STR(body, path);
	uint32		i;

	for (i = 0; i < npath; i++)
	{
		components[i] = CStringGetTextDatum(component);
		component += strlen(component) + 1;
	}
	return PointerGetDatum(construct_array(components, (int) npath, TEXTOID,
										   -1, false, TYPALIGN_INT));
}

/*
 * segments.rule_references(rule) -> TABLE(kind, name, path, relative, source)
 *
 * One row per distinct reference in order of first appearance: fields
 * (name is the column, path the column and its property keys), events
 * (name is the kind), event fields tested in an event's where clause or
 * aggregated (name is the event kind, path the event column), lists (name
 * is the value as text), list fields tested in a list's where clause
 * (name is the list, path the column) and segments.  relative is true when
 * some use of the reference compares with the clock; source, of events
 * and event fields, the event source the rule names.  The SQL of release
 * 0.1 declares the first four columns only, which is what it gets.
 */
Datum
rule_references(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	RefCollector rc;
	int			i,
				kept;

	InitMaterializedSRF(fcinfo, 0);
	rc.body = PG_GETARG_RULE_BODY(0);
	rc.refs = palloc0(sizeof(RuleRef) * rc.body->nitems);
	rc.nrefs = 0;
	collect(&rc, rc.body->items, NULL);

	/* merge duplicates: sort by key, then restore the order of appearance */
	qsort(rc.refs, rc.nrefs, sizeof(RuleRef), compare_keys);
	for (i = 0, kept = 0; i < rc.nrefs; i++)
	{
		if (kept > 0 && same_key(&rc.refs[kept - 1], &rc.refs[i]))
			rc.refs[kept - 1].relative |= rc.refs[i].relative;
		else
			rc.refs[kept++] = rc.refs[i];
	}
	qsort(rc.refs, kept, sizeof(RuleRef), compare_seq);

	for (i = 0; i < kept; i++)
	{
		RuleRef    *ref = &rc.refs[i];
		Datum		values[5];
		bool		nulls[5] = {false, false, ref->npath == 0, false, ref->source == NULL};

		values[0] = CStringGetTextDatum(ref->kind);
		values[1] = CStringGetTextDatum(ref->name);
		values[2] = ref->npath > 0 ? path_array(rc.body, ref->path, ref->npath) : (Datum) 0;
		values[3] = BoolGetDatum(ref->relative);
		values[4] = ref->source ? CStringGetTextDatum(ref->source) : (Datum) 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * segments.rule_depends_on_time(rule) -> boolean
 *
 * True when some value compares with the clock (now, ago, from now, within
 * last/next), so that the rule's truth can change without any data change.
 */
Datum
rule_depends_on_time(PG_FUNCTION_ARGS)
{
	const RuleBody *body = PG_GETARG_RULE_BODY(0);
	uint32		i;

	for (i = 0; i < body->nitems; i++)
		if (body->items[i].type == RI_VALUE && rule_value_is_relative(&body->items[i]))
			PG_RETURN_BOOL(true);
	PG_RETURN_BOOL(false);
}

/* Replace every name 'from' of "in segment" conditions by 'to' in a tree. */
static void
rename_segment_in_tree(RuleNode *node, const char *from, const char *to)
{
	int			i;

	check_stack_depth();
	if (node->type == RN_IN_SEGMENT && strcmp(node->name, from) == 0)
		node->name = to;
	for (i = 0; i < node->nargs; i++)
		rename_segment_in_tree(node->args[i], from, to);
}

/*
 * segments._rule_rename_segment(rule, old_name text, new_name text) -> rule
 *
 * The rule with every "in segment 'old_name'" naming new_name instead: what
 * rename_segment() does to the rules that refer to a renamed segment.
 */
Datum
rule_rename_segment(PG_FUNCTION_ARGS)
{
	const RuleBody *body = PG_GETARG_RULE_BODY(0);
	RuleArena	arena;
	RuleNode   *root;

	rule_arena_init(&arena);
	root = rule_decode(body, &arena);
	rename_segment_in_tree(root, text_to_cstring(PG_GETARG_TEXT_PP(1)), text_to_cstring(PG_GETARG_TEXT_PP(2)));
	PG_RETURN_DATUM(rule_datum_from_tree(root, &arena));
}

/*
 * Replace the kind 'from' by 'to' in a tree's event conditions of source
 * (naming it, or none): as their kind, and as a string their where
 * clauses compare kind_column with (in_where: node is in one).
 */
static void
rename_kind_in_tree(RuleNode *node, const char *from, const char *to, const char *source,
					const char *kind_column, bool in_where)
{
	int			i;

	check_stack_depth();
	if (in_where && node->type == RN_FIELD && node->npath == 1 && strcmp(node->path[0], kind_column) == 0)
		for (i = 0; i < node->nvalues; i++)
			if (node->values[i].kind == RV_STRING && strcmp(node->values[i].text, from) == 0)
				node->values[i].text = to;
	if (node->type == RN_EVENT && (node->source == NULL || strcmp(node->source, source) == 0))
	{
		if (strcmp(node->name, from) == 0)
			node->name = to;
		if (node->where)
			rename_kind_in_tree(node->where, from, to, source, kind_column, true);
	}
	for (i = 0; i < node->nargs; i++)
		rename_kind_in_tree(node->args[i], from, to, source, kind_column, in_where);
}

/*
 * segments._rule_rename_event_kind(rule, old_kind text, new_kind text,
 *									source text, kind_column text) -> rule
 *
 * The rule with the kind old_kind of the source's events named new_kind
 * instead, as their kind and where their where clauses compare the kind
 * column with it: what an enum kind's label renamed does to the rules.
 */
Datum
rule_rename_event_kind(PG_FUNCTION_ARGS)
{
	const RuleBody *body = PG_GETARG_RULE_BODY(0);
	RuleArena	arena;
	RuleNode   *root;

	rule_arena_init(&arena);
	root = rule_decode(body, &arena);
	rename_kind_in_tree(root, text_to_cstring(PG_GETARG_TEXT_PP(1)), text_to_cstring(PG_GETARG_TEXT_PP(2)),
						text_to_cstring(PG_GETARG_TEXT_PP(3)), text_to_cstring(PG_GETARG_TEXT_PP(4)), false);
	PG_RETURN_DATUM(rule_datum_from_tree(root, &arena));
}

/* Name the source of every event condition of a tree that names none. */
static void
name_sources(RuleNode *node, Attachments *att)
{
	int			i;

	check_stack_depth();
	if (node->type == RN_EVENT && node->source == NULL)
	{
		int			source = rule_resolve_source(att, node->name, NULL);

		/* one that means no source, or several, fails when checked */
		if (source >= 0)
			node->source = att->events[source].source;
	}
	for (i = 0; i < node->nargs; i++)
		name_sources(node->args[i], att);
}

/*
 * segments._rule_name_sources(rule) -> rule
 *
 * The rule with every event condition naming the event source it reads,
 * as the attached sources resolve it now: the catalog keeps rules so once
 * several sources are attached, so that attaching another never changes
 * what a stored rule reads.
 */
Datum
rule_name_sources(PG_FUNCTION_ARGS)
{
	const RuleBody *body = PG_GETARG_RULE_BODY(0);
	Attachments *att = rule_load_attachments();
	RuleArena	arena;
	RuleNode   *root;

	rule_arena_init(&arena);
	root = rule_decode(body, &arena);
	name_sources(root, att);
	PG_RETURN_DATUM(rule_datum_from_tree(root, &arena));
}
