/*
 * rule_check.c
 *	  Check a rule against the attached tables.
 *
 * Fields become columns (of the contacts table, or of the events table
 * inside an event's where clause), jsonb property paths go through jsonb
 * columns only, literals are read by the input function of the type they
 * are compared with, and segment names are resolved within the tenant.
 * Whatever is wrong is an error that names the table, the field or the
 * value.  The result drives both the SQL compiler and the evaluator.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_coerce.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
#include "utils/varlena.h"

#include "data_owner.h"
#include "rule_check.h"
#include "citus.h"
#include "contact_data.h"
#include "rule_time.h"

typedef struct CheckState
{
	CheckedRule *cr;
	const RuleBody *body;
	Attachments *att;
	uint32		condition;		/* the item being checked, for errors */
} CheckState;

/* Context for errors raised while reading a literal. */
typedef struct LiteralContext
{
	const char *literal;
	const char *field;
	Oid			type;
} LiteralContext;

int
rule_enter_utc(void)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("timezone", "UTC", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("datestyle", "ISO, YMD", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("intervalstyle", "postgres", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return level;
}

static char *
qualified_name(const AttachedTable *t)
{
	return quote_qualified_identifier(t->schema, t->name);
}

static char *
attached_string(HeapTuple tuple, TupleDesc desc, int column)
{
	char	   *value = SPI_getvalue(tuple, desc, column);

	return value ? pstrdup(value) : NULL;
}

static Oid
column_type(const AttachedTable *t, const char *column)
{
	int			i;

	for (i = 0; i < t->tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(t->tupdesc, i);

		if (!attr->attisdropped && strcmp(NameStr(attr->attname), column) == 0)
			return attr->atttypid;
	}
	ereport(ERROR,
			errcode(ERRCODE_UNDEFINED_COLUMN),
			errmsg("column \"%s\" of attached table %s no longer exists", column, qualified_name(t)),
			errhint("Detach and attach the table again."));
	return InvalidOid;
}

/*
 * The attachments are read once and kept for the backend: maintenance
 * compiles every affected segment's rule in every write statement.  Any
 * relcache invalidation drops them (attach and detach create and drop
 * triggers on the attached table, so they send one, as do renames and
 * column changes); so does a change of user, since reading
 * segments.attached is subject to privileges.
 *
 * The invalidation callback only marks them stale: it runs wherever
 * invalidations are accepted (any lock taken, any command counter
 * increment), possibly in the middle of an evaluation using them and their
 * plans.  The next call accepts the invalidations sent so far, reads them
 * again into a new memory context under a snapshot taken after that (the
 * statement's may predate the change: docs/design.md, "Catalog changes
 * and the caches") and retires the old ones, which stay valid until their
 * transaction ends: they are freed by a rebuild in a later transaction.
 */
typedef struct RetiredAttachments
{
	MemoryContext cxt;
	ContactPlans  *plans;
	List	   *shard_groups;	/* Attachments, in cxt, with plans to free */
	LocalTransactionId lxid;
} RetiredAttachments;

static Attachments *cached_attachments = NULL;
static MemoryContext cached_context = NULL;
static bool attachments_valid = false;
static Oid	cached_for_user = InvalidOid;
static bool callback_registered = false;
static Oid	catalog_relid = InvalidOid;	/* segments.segment at the last reading */
static uint64 attachments_generation = 0;
static List *retired = NIL;		/* of RetiredAttachments, in CacheMemoryContext */

/*
 * Any change of the attached tables' definitions (their relcache entries)
 * or of the catalog (segments._catalog_changed(), which every change of
 * segments.attached calls) makes the attachments stale.
 */
static void
forget_attachments(Datum arg, Oid relid)
{
	Attachments *att = cached_attachments;
	int			i;

	if (relid == InvalidOid || relid == catalog_relid || att == NULL ||
		relid == att->contacts.relid || relid == att->lists.relid)
		attachments_valid = false;
	else
		for (i = 0; i < att->nsources; i++)
			if (relid == att->events[i].relid)
				attachments_valid = false;
}

/* Free the attachments retired by earlier transactions; retire the current. */
static void
retire_attachments(void)
{
	List	   *keep = NIL;
	ListCell   *lc;
	MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);

	foreach(lc, retired)
	{
		RetiredAttachments *r = lfirst(lc);

		if (r->lxid == MyProc->lxid)
			keep = lappend(keep, r);
		else
		{
			ListCell   *g;

			if (r->plans)
				contact_free_plans(r->plans);
			foreach(g, r->shard_groups)
			{
				Attachments *group = lfirst(g);

				if (group->plans)
					contact_free_plans(group->plans);
			}
			MemoryContextDelete(r->cxt);
			pfree(r);
		}
	}
	list_free(retired);
	retired = keep;
	if (cached_attachments)
	{
		RetiredAttachments *r = palloc(sizeof(RetiredAttachments));

		r->cxt = cached_context;
		r->plans = cached_attachments->plans;
		r->shard_groups = cached_attachments->shard_groups;
		r->lxid = MyProc->lxid;
		retired = lappend(retired, r);
	}
	else if (cached_context)
		MemoryContextDelete(cached_context);
	MemoryContextSwitchTo(old);
	cached_attachments = NULL;
	cached_context = NULL;
}

static Attachments *
read_attachments(MemoryContext target)
{
	Attachments *att = MemoryContextAllocZero(target, sizeof(Attachments));
	uint64		i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/*
	 * time_zone and source read so that the SQL of release 0.1, without
	 * them, works too; events without a source's name are the table's
	 */
	if (SPI_execute("SELECT role, table_schema, table_name, contact_column, tenant_column, "
					"kind_column, at_column, list_column, "
					"COALESCE(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'time_zone', 'UTC'), "
					"COALESCE(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'source', a.table_name), "
					"pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'constant_kind', "
					"COALESCE(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'key_per_tenant', 'false') "
					"OPERATOR(pg_catalog.=) 'true' "
					"FROM segments.attached a ORDER BY a.role, 10",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read segments.attached");

	/* the event sources, in the order of their names */
	for (i = 0; i < SPI_processed; i++)
		if (strcmp(attached_string(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1), "events") == 0)
			att->nsources++;
	att->events = MemoryContextAllocZero(target, sizeof(AttachedTable) * Max(att->nsources, 1));
	att->nsources = 0;

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext spi = MemoryContextSwitchTo(target);
		char	   *role = attached_string(tuple, desc, 1);
		AttachedTable *t;
		Relation	rel;

		t = strcmp(role, "contacts") == 0 ? &att->contacts :
			strcmp(role, "events") == 0 ? &att->events[att->nsources++] : &att->lists;
		t->present = true;
		t->schema = attached_string(tuple, desc, 2);
		t->name = attached_string(tuple, desc, 3);
		t->contact_column = attached_string(tuple, desc, 4);
		t->tenant_column = attached_string(tuple, desc, 5);
		t->kind_column = attached_string(tuple, desc, 6);
		t->at_column = attached_string(tuple, desc, 7);
		t->list_column = attached_string(tuple, desc, 8);
		t->time_zone = attached_string(tuple, desc, 9);
		t->source = attached_string(tuple, desc, 10);
		t->constant_kind = attached_string(tuple, desc, 11);
		if (t == &att->contacts)
		{
			bool		isnull;

			att->key_per_tenant = DatumGetBool(heap_getattr(tuple, 12, desc, &isnull));
		}

		t->relid = RangeVarGetRelid(makeRangeVar(t->schema, t->name, -1), AccessShareLock, true);
		if (!OidIsValid(t->relid))
			ereport(ERROR,
					errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					errmsg("attached %s table %s no longer exists", role, qualified_name(t)),
					errhint("Detach it with segments.detach_%s().", role));
		rel = table_open(t->relid, AccessShareLock);
		t->tupdesc = CreateTupleDescCopy(RelationGetDescr(rel));
		table_close(rel, AccessShareLock);

		t->contact_type = column_type(t, t->contact_column);
		if (t->tenant_column)
			t->tenant_type = column_type(t, t->tenant_column);
		if (t->list_column)
			t->list_type = column_type(t, t->list_column);
		if (t->kind_column && type_is_enum(getBaseType(column_type(t, t->kind_column))))
			t->kind_enum = getBaseType(column_type(t, t->kind_column));
		MemoryContextSwitchTo(spi);
	}

	att->membership_table = MemoryContextStrdup(target, "membership");
	att->log_table = MemoryContextStrdup(target, "membership_log");
	att->override_table = MemoryContextStrdup(target, "override");
	att->distributed = att->contacts.present && citus_distributed(att->contacts.relid);
	if (att->contacts.present)
	{
		MemoryContext spi = MemoryContextSwitchTo(target);

		if (att->key_per_tenant)
		{
			att->key_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
											CStringGetDatum("contact_key"),
											ObjectIdGetDatum(get_namespace_oid("segments", false)));
			if (!OidIsValid(att->key_type))
				ereport(ERROR,
						errcode(ERRCODE_UNDEFINED_OBJECT),
						errmsg("type segments.contact_key does not exist"),
						errdetail("Contacts keyed per tenant need the type attach_contacts() made."),
						errhint("Detach and attach the contacts again."));
			att->key_desc = lookup_rowtype_tupdesc_copy(att->key_type, -1);
		}
		else
			att->key_type = getBaseType(att->contacts.contact_type);
		MemoryContextSwitchTo(spi);
	}

	/*
	 * What attach_contacts() made under release 0.1 lacks what later ones
	 * write to: right in an installation of 0.1 not yet updated, which
	 * this library serves too, not when a dump of 0.1 was restored into a
	 * later release.
	 */
	if (att->contacts.present &&
		!OidIsValid(RangeVarGetRelid(makeRangeVar("segments", "log_state", -1), NoLock, true)))
	{
		if (SPI_execute("SELECT FROM pg_catalog.pg_extension "
						"WHERE extname = 'segments' AND extversion <> '0.1'", true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read pg_extension");
		if (SPI_processed > 0)
			ereport(ERROR,
					errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					errmsg("the objects attach_contacts() made are those of an earlier release of segments"),
					errdetail("Table segments.log_state does not exist: a dump of an earlier release was restored."),
					errhint("Run SELECT segments.upgrade_attachments() as the extension's owner."));
	}
	SPI_finish();
	return att;
}

/*
 * The tree of an attached table is found on first use and kept with the
 * attachments.  A partition or child added since (which does not always
 * invalidate the parent) is not in it: a relation not found is looked for
 * again in a tree found now, before it is refused.
 */
bool
rule_attached_relation(Attachments *att, AttachedTable *t, Oid relid)
{
	int			attempt;

	if (!t->present)
		return false;
	if (relid == t->relid)
		return true;
	for (attempt = 0; attempt < 2; attempt++)
	{
		if (t->tree == NIL || attempt > 0)
		{
			MemoryContext old = MemoryContextSwitchTo(GetMemoryChunkContext(att));

			list_free(t->tree);
			t->tree = find_all_inheritors(t->relid, NoLock, NULL);
			MemoryContextSwitchTo(old);
		}
		if (list_member_oid(t->tree, relid))
			return true;
	}
	return false;
}

uint64
rule_attachments_generation(void)
{
	return ++attachments_generation;
}

char *
rule_segments_table_sql(const char *name)
{
	return quote_qualified_identifier("segments", name);
}

Oid
rule_catalog_relid(void)
{
	return get_relname_relid("segment", get_namespace_oid("segments", false));
}

/*
 * Make a snapshot taken now the active one, until PopActiveSnapshot(): the
 * caches are read under it.  GetLatestSnapshot() would do, but it refuses
 * to run in parallel mode, where matches() and explain() run in the leader
 * of a parallel query; a snapshot of our own is taken the way the catalog
 * snapshot is.
 */
void
rule_push_fresh_snapshot(void)
{
	static SnapshotData fresh = {SNAPSHOT_MVCC};

	PushActiveSnapshot(GetSnapshotData(&fresh));
}

Attachments *
rule_load_attachments(void)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_attachments, (Datum) 0);
		callback_registered = true;
	}
	/* the changes committed so far, whatever lock the caller took */
	AcceptInvalidationMessages();
	if (cached_attachments == NULL || !attachments_valid || cached_for_user != GetUserId())
	{
		retire_attachments();
		cached_context = AllocSetContextCreate(CacheMemoryContext, "segments attachments",
											   ALLOCSET_SMALL_SIZES);
		/* the extension may have been dropped and created again */
		catalog_relid = rule_catalog_relid();
		/* an invalidation while reading makes the next call read again */
		attachments_valid = true;
		rule_push_fresh_snapshot();
		cached_attachments = read_attachments(cached_context);
		PopActiveSnapshot();
		cached_attachments->generation = rule_attachments_generation();
		cached_for_user = GetUserId();
	}
	return cached_attachments;
}

char *
rule_field_name(const RuleBody *body, const RuleItem *field)
{
	RuleArena	arena;
	RuleBuf		buf;
	const char *component = RULE_STR(body, field->a);
	uint32		i;

	rule_arena_init(&arena);
	rule_buf_init(&buf, &arena);
	for (i = 0; i < field->b; i++)
	{
		if (i > 0)
			rule_buf_putc(&buf, '.');
		rule_print_ident(&buf, component, i == 0);
		component += strlen(component) + 1;
	}
	return buf.data;
}

/*
 * The hint for a column name that a table (desc, named qualified) does not
 * have: the nearest column's name when it is close enough to be a typo, case
 * aside (at most a third of the name's characters differ), else the list of
 * the table's columns.  The one wording of "did you mean" for columns, in
 * rule checks and in attaching (segments._column_hint).
 */
char *
rule_column_hint(TupleDesc desc, const char *qualified, const char *name)
{
	const char *nearest = NULL;
	int			best = INT_MAX;
	int			namelen = strlen(name);
	char	   *lowered = str_tolower(name, namelen, DEFAULT_COLLATION_OID);
	int			i;
	StringInfoData columns;

	initStringInfo(&columns);
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);
		const char *attname = NameStr(attr->attname);
		char	   *attlowered;
		int			distance;

		if (attr->attisdropped)
			continue;
		attlowered = str_tolower(attname, strlen(attname), DEFAULT_COLLATION_OID);
		distance = varstr_levenshtein(lowered, strlen(lowered), attlowered, strlen(attlowered),
									  1, 1, 1, true);
		if (distance < best)
		{
			best = distance;
			nearest = attname;
		}
		appendStringInfo(&columns, "%s%s", columns.len ? ", " : "", quote_identifier(attname));
	}
	if (nearest == NULL)
		return psprintf("Table %s has no columns.", qualified);
	if (best <= Max(1, (namelen + 2) / 3))
		return psprintf("Perhaps you meant \"%s\".", nearest);
	return psprintf("The columns of %s are: %s.", qualified, columns.data);
}

PG_FUNCTION_INFO_V1(segments_column_hint);

/* segments._column_hint(rel regclass, col text) RETURNS text */
Datum
segments_column_hint(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	Relation	rel = relation_open(relid, AccessShareLock);
	char	   *hint = rule_column_hint(RelationGetDescr(rel),
										quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
																   RelationGetRelationName(rel)),
										name);

	relation_close(rel, AccessShareLock);
	PG_RETURN_TEXT_P(cstring_to_text(hint));
}

/* The attribute number of a column, or an error hinting the nearest one. */
static AttrNumber
find_column(const AttachedTable *t, const char *role, const char *name)
{
	int			i;

	for (i = 0; i < t->tupdesc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(t->tupdesc, i);

		if (!attr->attisdropped && strcmp(NameStr(attr->attname), name) == 0)
			return attr->attnum;
	}
	ereport(ERROR,
			errcode(ERRCODE_UNDEFINED_COLUMN),
			errmsg("field \"%s\" does not exist in %s table %s", name, role, qualified_name(t)),
			errhint("%s", rule_column_hint(t->tupdesc, qualified_name(t), name)));
	return InvalidAttrNumber;
}

static void
literal_error_context(void *arg)
{
	LiteralContext *ctx = arg;

	errcontext("reading the value '%s' of field %s as type %s",
			   ctx->literal, ctx->field, format_type_be(ctx->type));
}

/*
 * A literal read as the owner of the contacts table, in a security-
 * restricted operation (src/data_owner.c): an input function may run code
 * that role controls (the CHECK of a domain that is an array's element or
 * a composite's attribute, say), and rules are checked as the extension's
 * owner, or whoever evaluates them.
 */
static Datum
input_as_data_owner(Attachments *att, Oid input, char *literal, Oid ioparam)
{
	DataOwnerScope scope;
	Datum		value;

	data_owner_enter(&scope, att->contacts.relid);
	value = OidInputFunctionCall(input, literal, ioparam, -1);
	data_owner_leave(&scope);
	return value;
}

/*
 * Read a literal with the input function of a base type, without a type
 * modifier: a length limit or a domain's check must not turn a comparison
 * into an error, nor round the literal.
 */
static void
read_literal(CheckState *st, const RuleItem *value, CheckedItem *out, Oid type,
			 const char *field)
{
	LiteralContext ctx;
	ErrorContextCallback callback;
	Oid			input,
				ioparam;

	ctx.literal = rule_literal_text(st->body, value);
	ctx.field = field;
	ctx.type = type;
	callback.callback = literal_error_context;
	callback.arg = &ctx;
	callback.previous = error_context_stack;
	error_context_stack = &callback;

	getTypeInputInfo(type, &input, &ioparam);
	out->value = input_as_data_owner(st->att, input, (char *) ctx.literal, ioparam);
	out->valtype = type;

	error_context_stack = callback.previous;
}

/*
 * A time literal that reads the clock ('now', 'today' ...) would be frozen
 * when the rule is checked; the rule language has now and "N unit ago".
 */
static void
refuse_clock_word(CheckState *st, const RuleItem *value, const char *field)
{
	const char *text = rule_literal_text(st->body, value);
	char	   *word = pstrdup(text);
	char	   *end;

	while (*word == ' ')
		word++;
	for (end = word + strlen(word); end > word && end[-1] == ' '; end--)
		;
	*end = '\0';
	if (rule_is_relative_word(word))
		ereport(ERROR,
				errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				errmsg("the time '%s' of field %s would be fixed when the rule is checked", text, field),
				errhint("Write now, or a time such as 1 day ago or 1 day from now, so the rule follows the clock."));
}

/*
 * Whether a time string names its zone ('2025-06-16 00:00+02', '... Z',
 * '... Europe/Paris'): read as a timestamptz, it is then the same instant
 * whatever the session's zone.  'epoch' and the infinities are too, and
 * name none.
 */
static bool
names_zone(const char *text)
{
	pg_tz	   *session = session_timezone;
	Datum		here,
				there;

	if (pg_strcasecmp(text, "epoch") == 0 || pg_strcasecmp(text, "infinity") == 0 ||
		pg_strcasecmp(text, "+infinity") == 0 || pg_strcasecmp(text, "-infinity") == 0)
		return false;
	here = DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	PG_TRY();
	{
		session_timezone = pg_tzset("Etc/GMT+5");
		there = DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
									ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
	PG_FINALLY();
	{
		session_timezone = session;
	}
	PG_END_TRY();
	return DatumGetTimestampTz(here) == DatumGetTimestampTz(there);
}

/*
 * A time literal compared with a time column (type, its base type; zone,
 * the zone of a timestamp or date column's clock, else NULL), read by the
 * type's input.  A timestamp or date holds no zone, and its input drops
 * one the string names: such a string is refused unless the instant it
 * names is the time read, on the column's clock.
 */
static void
read_time_literal(CheckState *st, const RuleItem *value, CheckedItem *out, Oid type,
				  const char *zone, const char *field)
{
	const char *text = rule_literal_text(st->body, value);

	refuse_clock_word(st, value, field);
	read_literal(st, value, out, type, field);
	if (zone == NULL || !names_zone(text))
		return;
	if (type == TIMESTAMPOID)
	{
		TimestampTz instant = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(text),
																	  ObjectIdGetDatum(InvalidOid),
																	  Int32GetDatum(-1)));

		if (rule_clock_time(instant, zone) == DatumGetTimestamp(out->value))
			return;
	}
	ereport(ERROR,
			errcode(ERRCODE_INVALID_DATETIME_FORMAT),
			errmsg("the time '%s' of field %s names a zone, which a %s column does not hold",
				   text, field, format_type_be(type)),
			errdetail("The column holds times as a clock in zone %s shows them; the zone in the string would be dropped.",
					  zone),
			errhint("Write the time as that clock shows it, without a zone."));
}

static void
refuse_time(const char *field, Oid type)
{
	ereport(ERROR,
			errcode(ERRCODE_DATATYPE_MISMATCH),
			errmsg("field %s of type %s cannot be compared with a time", field, format_type_be(type)),
			errhint("now, ago and from now compare with timestamptz, timestamp, date and jsonb fields."));
}

/* A jsonb operand: typed by the literal. */
static void
read_json_operand(CheckState *st, const RuleItem *value, CheckedItem *out, const char *field)
{
	switch ((RuleValueKind) value->op)
	{
		case RV_STRING:
			out->valtype = TEXTOID;
			out->value = CStringGetTextDatum(RULE_STR(st->body, value->a));
			break;
		case RV_NUMBER:
			read_literal(st, value, out, NUMERICOID, field);
			break;
		case RV_TRUE:
		case RV_FALSE:
			out->valtype = BOOLOID;
			out->value = BoolGetDatum(value->op == RV_TRUE);
			break;
		default:
			out->valtype = InvalidOid;	/* a relative time */
			break;
	}
}

static void
require_btree(const char *field, Oid type, const char *what)
{
	TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_CMP_PROC | TYPECACHE_EQ_OPR);

	if (!OidIsValid(tc->cmp_proc))
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_FUNCTION),
				errmsg("field %s of type %s does not support %s", field, format_type_be(type), what),
				errhint("Comparisons need a type with a default btree operator class."));
}

static void
unsupported_test(const char *field, const char *test, Oid type, const char *needs)
{
	ereport(ERROR,
			errcode(ERRCODE_UNDEFINED_FUNCTION),
			errmsg("field %s of type %s does not support \"%s\"", field, format_type_be(type), test),
			errhint("\"%s\" needs %s.", test, needs));
}

static FieldClass
classify(Oid type, Oid *elemtype, Oid *basetype)
{
	Oid			base = getBaseType(type);

	*basetype = base;
	*elemtype = InvalidOid;
	if (base == JSONBOID)
		return FC_JSON;
	if (base == TIMESTAMPTZOID || base == TIMESTAMPOID || base == DATEOID)
		return FC_TIME;
	if (OidIsValid(*elemtype = get_element_type(base)))
		return FC_ARRAY;
	if (IsBinaryCoercible(base, TEXTOID))
		return FC_TEXT;
	return FC_SCALAR;
}

/* The zone relative times are read in for a column of the table (base type). */
static const char *
clock_zone(const AttachedTable *table, Oid basetype)
{
	return basetype == TIMESTAMPOID || basetype == DATEOID ? table->time_zone : NULL;
}

static void
check_field(CheckState *st, uint32 index, const AttachedTable *table, const char *role)
{
	const RuleItem *item = &st->body->items[index];
	CheckedItem *ci = &st->cr->items[index];
	RuleTestOp	op = (RuleTestOp) item->op;
	const char *test = rule_test_op_name(op, (item->flags & RULE_NEGATED) != 0);
	char	   *field = rule_field_name(st->body, item);
	Form_pg_attribute attr;
	uint32		i,
				nops = item->span - 1;

	ci->column = RULE_STR(st->body, item->a);
	ci->attnum = find_column(table, role, ci->column);
	attr = TupleDescAttr(table->tupdesc, ci->attnum - 1);
	ci->coltype = attr->atttypid;
	ci->colcollation = attr->attcollation;
	ci->fclass = classify(ci->coltype, &ci->elemtype, &ci->cmptype);
	ci->clock_zone = clock_zone(table, ci->cmptype);

	if (item->b > 1 && ci->fclass != FC_JSON)
		ereport(ERROR,
				errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("field %s: column \"%s\" is of type %s, and property paths need a jsonb column",
					   field, ci->column, format_type_be(ci->coltype)));

	switch (op)
	{
		case RT_IS_NULL:
			return;
		case RT_WITHIN_LAST:
		case RT_WITHIN_NEXT:
			if (ci->fclass != FC_TIME && ci->fclass != FC_JSON)
				unsupported_test(field, test, ci->coltype, "a timestamptz, timestamp, date or jsonb field");
			return;
		case RT_CONTAINS:
			if (ci->fclass == FC_SCALAR || ci->fclass == FC_TIME)
				unsupported_test(field, test, ci->coltype, "a text, array or jsonb field");
			break;
		case RT_STARTS_WITH:
		case RT_ENDS_WITH:
		case RT_LIKE:
		case RT_ILIKE:
			if (ci->fclass != FC_TEXT && ci->fclass != FC_JSON)
				unsupported_test(field, test, ci->coltype, "a text or jsonb field");
			break;
		default:
			if (ci->fclass != FC_JSON)
				require_btree(field, ci->coltype, test);
			break;
	}

	for (i = 1; i <= nops; i++)
	{
		const RuleItem *value = item + i;
		CheckedItem *cv = &st->cr->items[index + i];

		if (ci->fclass == FC_JSON)
		{
			if (RV_IS_RELATIVE(value->op) && op != RT_IN && !RT_IS_COMPARISON(op) && op != RT_BETWEEN)
				refuse_time(field, ci->coltype);
			read_json_operand(st, value, cv, field);
		}
		else if (RV_IS_RELATIVE(value->op))
		{
			if (ci->fclass != FC_TIME || op == RT_CONTAINS)
				refuse_time(field, ci->coltype);
			cv->valtype = InvalidOid;
		}
		else if (op == RT_CONTAINS && ci->fclass == FC_ARRAY)
			read_literal(st, value, cv, ci->elemtype, field);
		else if (op == RT_CONTAINS || op == RT_STARTS_WITH || op == RT_ENDS_WITH ||
				 op == RT_LIKE || op == RT_ILIKE)
		{
			cv->valtype = TEXTOID;
			cv->value = CStringGetTextDatum(rule_literal_text(st->body, value));
		}
		else if (ci->fclass == FC_TIME)
			read_time_literal(st, value, cv, ci->cmptype, ci->clock_zone, field);
		else
			read_literal(st, value, cv, ci->cmptype, field);
	}

	/* jsonb bounds compare as one kind */
	if (ci->fclass == FC_JSON && op == RT_BETWEEN && RV_JSON_KIND(item[1].op) != RV_JSON_KIND(item[2].op))
		ereport(ERROR,
				errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("the bounds of %s between ... and ... are of different kinds", field),
				errhint("A jsonb property is compared as a string, a number, a boolean or a time, as its bounds say; give both bounds the same kind."));
}

static void check_node(CheckState *st, uint32 index, const AttachedTable *where);

static void
require_attached(const AttachedTable *t, const char *role, const char *what)
{
	if (!t->present)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("the rule uses %s, but no %s table is attached", what, role),
				errhint("Attach one with segments.attach_%s().", role));
}

/*
 * An aggregate's column and the value it is compared with.  sum and avg
 * take a number column and are compared as numeric; min and max compare
 * as the column's type; count(distinct ...) counts distinct values by the
 * type's btree equality.
 */
static void
check_aggregate(CheckState *st, uint32 index, const AttachedTable *events, const char *kind)
{
	const RuleItem *m = &st->body->items[index];
	CheckedItem *ci = &st->cr->items[index];
	const RuleItem *value = m + 1;
	CheckedItem *cv = &st->cr->items[index + 1];
	const char *name = rule_measure_name((RuleMeasure) m->op);
	char	   *what;
	Form_pg_attribute attr;

	ci->column = RULE_STR(st->body, m->a);
	ci->attnum = find_column(events, "events", ci->column);
	attr = TupleDescAttr(events->tupdesc, ci->attnum - 1);
	ci->coltype = attr->atttypid;
	ci->colcollation = attr->attcollation;
	ci->fclass = classify(ci->coltype, &ci->elemtype, &ci->cmptype);
	ci->clock_zone = clock_zone(events, ci->cmptype);
	what = psprintf("%s(%s) of event '%s'", m->op == RM_COUNT_DISTINCT ? "count distinct" : name,
					ci->column, kind);

	switch ((RuleMeasure) m->op)
	{
		case RM_SUM:
		case RM_AVG:
			switch (ci->cmptype)
			{
				case INT2OID:
				case INT4OID:
				case INT8OID:
				case NUMERICOID:
				case FLOAT4OID:
				case FLOAT8OID:
					break;
				default:
					ereport(ERROR,
							errcode(ERRCODE_DATATYPE_MISMATCH),
							errmsg("%s needs a number column, and column \"%s\" of the events table is of type %s",
								   what, ci->column, format_type_be(ci->coltype)),
							errhint("sum and avg take a smallint, integer, bigint, numeric, real or double precision column."));
			}
			read_literal(st, value, cv, NUMERICOID, ci->column);
			break;
		case RM_MIN:
		case RM_MAX:
			if (ci->fclass == FC_JSON || ci->fclass == FC_ARRAY)
				ereport(ERROR,
						errcode(ERRCODE_DATATYPE_MISMATCH),
						errmsg("%s needs a column of a type with an order, and column \"%s\" is of type %s",
							   what, ci->column, format_type_be(ci->coltype)));
			require_btree(ci->column, ci->cmptype, name);
			if (RV_IS_RELATIVE(value->op))
			{
				if (ci->fclass != FC_TIME)
					refuse_time(ci->column, ci->coltype);
				cv->valtype = InvalidOid;
			}
			else if (ci->fclass == FC_TIME)
				read_time_literal(st, value, cv, ci->cmptype, ci->clock_zone, ci->column);
			else
				read_literal(st, value, cv, ci->cmptype, ci->column);
			break;
		case RM_COUNT_DISTINCT:
			require_btree(ci->column, ci->cmptype, "count(distinct ...)");
			read_literal(st, value, cv, INT8OID, ci->column);
			break;
		case RM_FIRST:
		case RM_LAST:
			break;
	}
}

/*
 * The window operands (next to the end) of the event or list condition at
 * index (what, for messages), against the time column of its table.
 */
static void
check_window(CheckState *st, uint32 index, uint32 next, const AttachedTable *table,
			 const char *what)
{
	uint32		end = index + st->body->items[index].span;
	Oid			attype = column_type(table, table->at_column);

	st->cr->items[index].clock_zone = clock_zone(table, getBaseType(attype));
	for (; next < end; next++)
	{
		const RuleItem *value = &st->body->items[next];
		CheckedItem *cv = &st->cr->items[next];

		if (RV_IS_RELATIVE(value->op) || value->op == RV_DURATION)
			cv->valtype = InvalidOid;
		else if (value->op == RV_STRING)
			read_time_literal(st, value, cv, getBaseType(attype), st->cr->items[index].clock_zone,
							  table->at_column);
		else
			ereport(ERROR,
					errcode(ERRCODE_DATATYPE_MISMATCH),
					errmsg("the window of %s needs a time, not %s",
						   what, rule_literal_text(st->body, value)),
					errhint("Write a time as a string ('2024-01-01'), now, or an amount and unit with ago or from now."));
	}
}

/* The attached event sources, for messages: "email" (table public.events), ... */
static char *
source_list(const Attachments *att)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < att->nsources; i++)
		appendStringInfo(&buf, "%s\"%s\" (table %s)", i > 0 ? ", " : "", att->events[i].source,
						 quote_qualified_identifier(att->events[i].schema, att->events[i].name));
	return buf.data;
}

AttachedTable *
rule_find_source(Attachments *att, const char *name)
{
	int			i;

	for (i = 0; i < att->nsources; i++)
		if (strcmp(att->events[i].source, name) == 0)
			return &att->events[i];
	return NULL;
}

/* Whether some source holds events of kind: one of a kind column, or of that kind. */
static bool
source_of_kind(Attachments *att, const char *kind)
{
	int			i;

	for (i = 0; i < att->nsources; i++)
		if (att->events[i].kind_column || strcmp(att->events[i].constant_kind, kind) == 0)
			return true;
	return false;
}

AttachedTable *
rule_event_table(const CheckedRule *cr, const RuleItem *event)
{
	return &cr->att->events[cr->items[event - cr->body->items].source];
}

/*
 * A source named, else the one source of the kind's events: a source whose
 * events are all of that kind, else the one source with a kind column.
 */
int
rule_resolve_source(Attachments *att, const char *kind, const char *named)
{
	AttachedTable *source;
	int			found = -1,
				i;

	if (named)
		return (source = rule_find_source(att, named)) ? source - att->events : -1;
	for (i = 0; i < att->nsources; i++)
		if (att->events[i].constant_kind && strcmp(att->events[i].constant_kind, kind) == 0)
		{
			if (found >= 0)
				return -1;
			found = i;
		}
	if (found >= 0)
		return found;
	for (i = 0; i < att->nsources; i++)
		if (att->events[i].kind_column)
		{
			if (found >= 0)
				return -1;
			found = i;
		}
	return found;
}

/*
 * The event source of an event condition (rule_resolve_source), or an
 * error that says why there is none.
 */
static int
resolve_source(CheckState *st, const RuleItem *item)
{
	const char *kind = RULE_STR(st->body, item->a);
	const char *named = rule_event_source(st->body, item);
	int			source = rule_resolve_source(st->att, kind, named);

	if (st->att->nsources == 0)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("the rule uses events, but no events table is attached"),
				errhint("Attach one with segments.attach_events()."));
	if (source >= 0)
		return source;
	if (named)
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_OBJECT),
				errmsg("event source \"%s\" does not exist", named),
				errhint("The event sources attached are %s.", source_list(st->att)));
	if (!source_of_kind(st->att, kind))
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_OBJECT),
				errmsg("no event source holds events of kind '%s'", kind),
				errdetail("The event sources attached are %s.", source_list(st->att)),
				errhint("Each holds the events of one kind; attach the table of those events with segments.attach_events()."));
	ereport(ERROR,
			errcode(ERRCODE_AMBIGUOUS_COLUMN),
			errmsg("event '%s' may come from several event sources", kind),
			errdetail("The event sources attached are %s.", source_list(st->att)),
			errhint("Name one: event '%s' from '%s'.", kind, st->att->events[0].source));
	return -1;
}

static void
check_event(CheckState *st, uint32 index)
{
	const RuleItem *item = &st->body->items[index];
	uint32		next = index + 1;
	AttachedTable *events;

	st->cr->items[index].source = resolve_source(st, item);
	events = &st->att->events[st->cr->items[index].source];
	if (item->flags & RULE_HAS_WHERE)
	{
		check_node(st, next, events);
		st->condition = index;
		next += st->body->items[next].span;
	}
	if (item->flags & RULE_HAS_MEASURE)
	{
		if (RM_IS_AGGREGATE(st->body->items[next].op))
			check_aggregate(st, next, events, RULE_STR(st->body, item->a));
		next += st->body->items[next].span;
	}
	check_window(st, index, next, events, psprintf("event '%s'", RULE_STR(st->body, item->a)));
}

/*
 * A list condition: the list read as the list column's type; its where
 * clause tests the list row's columns; its window the lists' time column.
 */
static void
check_in_list(CheckState *st, uint32 index)
{
	const RuleItem *item = &st->body->items[index];
	const AttachedTable *lists = &st->att->lists;
	uint32		next = index + 2;
	RuleArena	arena;
	RuleBuf		buf;
	char	   *what;

	require_attached(lists, "lists", "lists");
	if (RV_IS_RELATIVE(item[1].op))
		ereport(ERROR,
				errcode(ERRCODE_DATATYPE_MISMATCH),
				errmsg("a list is named by a value, not a time"));
	read_literal(st, item + 1, &st->cr->items[index + 1], getBaseType(lists->list_type),
				 lists->list_column);
	if (item->flags & RULE_HAS_WHERE)
	{
		check_node(st, next, lists);
		st->condition = index;
		next += st->body->items[next].span;
	}
	if (item->arg == 0)
		return;
	rule_arena_init(&arena);
	rule_buf_init(&buf, &arena);
	rule_buf_puts(&buf, "list ");
	rule_print_value(&buf, st->body, item + 1);
	what = buf.data;
	if (lists->at_column == NULL)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("%s has a window, but the lists table has no time column", what),
				errdetail("The window tests when the contact was put on the list, a column attach_lists() was not given."),
				errhint("Attach the lists table with its time column: segments.attach_lists(..., at => 'subscribed_at')."));
	check_window(st, index, next, lists, what);
}

static void
check_in_segment(CheckState *st, uint32 index)
{
	const RuleItem *item = &st->body->items[index];
	const char *name = RULE_STR(st->body, item->a);
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', st->cr->tenant ? ' ' : 'n'};
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	values[1] = st->cr->tenant ? CStringGetTextDatum(st->cr->tenant) : (Datum) 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT id FROM segments.segment WHERE name = $1 "
							  "AND tenant IS NOT DISTINCT FROM $2",
							  2, types, values, nulls, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read segments.segment");
	if (SPI_processed == 0)
		ereport(ERROR,
				errcode(ERRCODE_UNDEFINED_OBJECT),
				errmsg("segment \"%s\" does not exist", name),
				st->cr->tenant ? errdetail("Segments are looked up within tenant %s.", st->cr->tenant) : 0);
	st->cr->items[index].segment_id =
		DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
}

/* where: the events or lists table a where clause tests, or NULL */
static void
check_node(CheckState *st, uint32 index, const AttachedTable *where)
{
	const RuleItem *item = &st->body->items[index];
	const RuleItem *child;

	check_stack_depth();
	st->condition = index;
	switch ((RuleItemType) item->type)
	{
		case RI_AND:
		case RI_OR:
		case RI_NOT:
			for (child = item + 1; child < RULE_NEXT(item); child = RULE_NEXT(child))
				check_node(st, child - st->body->items, where);
			break;
		case RI_FIELD:
			if (where == NULL)
				check_field(st, index, &st->att->contacts, "contacts");
			else
				check_field(st, index, where, where == &st->att->lists ? "lists" : "events");
			break;
		case RI_EVENT:
			check_event(st, index);
			break;
		case RI_IN_LIST:
			check_in_list(st, index);
			break;
		case RI_IN_SEGMENT:
			check_in_segment(st, index);
			break;
		case RI_BUCKET:
			/* a seed and a bound: nothing of the tables to check */
		case RI_TRUE:
		case RI_FALSE:
		case RI_VALUE:
		case RI_MEASURE:
			break;
	}
}

/*
 * A tenant given as text, read as the contacts' tenant column's type (as
 * its base type: a domain's CHECK is code the table's owner wrote) by that
 * table's owner (input_as_data_owner); returns its canonical text ('03'
 * and '3' name one tenant of an integer column) and sets *value.
 */
char *
rule_read_tenant(Attachments *att, const char *tenant, Datum *value)
{
	Oid			base;
	Oid			input,
				ioparam,
				output;
	bool		varlena;

	if (!att->contacts.tenant_column)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("a tenant was given, but contacts have no tenant column"),
				errhint("Attach the contacts table with tenant => 'column' to use tenants."));
	base = getBaseType(att->contacts.tenant_type);
	getTypeInputInfo(base, &input, &ioparam);
	*value = input_as_data_owner(att, input, (char *) tenant, ioparam);
	getTypeOutputInfo(base, &output, &varlena);
	return OidOutputFunctionCall(output, *value);
}

PG_FUNCTION_INFO_V1(segments_tenant_text);

/*
 * segments._tenant_text(tenant anycompatible) -> text: a tenant given to a
 * function, as the canonical text the catalog and rules use.
 */
Datum
segments_tenant_text(PG_FUNCTION_ARGS)
{
	Attachments *att;
	Oid			output;
	bool		varlena;
	Datum		value;
	int			level;
	char	   *canonical;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	att = rule_load_attachments();
	if (!att->contacts.present)
		ereport(ERROR,
				errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				errmsg("contacts are not attached"),
				errhint("Attach the contacts table first with segments.attach_contacts()."));
	getTypeOutputInfo(get_fn_expr_argtype(fcinfo->flinfo, 0), &output, &varlena);
	canonical = OidOutputFunctionCall(output, PG_GETARG_DATUM(0));
	level = rule_enter_utc();
	canonical = rule_read_tenant(att, canonical, &value);
	AtEOXact_GUC(true, level);
	PG_RETURN_TEXT_P(cstring_to_text(canonical));
}

CheckedRule *
rule_check(const RuleBody *body, Attachments *att, const char *tenant)
{
	CheckState	st;
	CheckedRule *cr = palloc0(sizeof(CheckedRule));
	MemoryContext caller = CurrentMemoryContext;
	int			level;

	require_attached(&att->contacts, "contacts", "contacts");
	cr->body = body;
	cr->att = att;
	cr->items = palloc0(sizeof(CheckedItem) * body->nitems);
	cr->tenant = tenant;
	st.cr = cr;
	st.body = body;
	st.att = att;

	level = rule_enter_utc();
	if (tenant)
		cr->tenant = rule_read_tenant(att, tenant, &cr->tenant_value);
	st.condition = 0;
	PG_TRY();
	{
		check_node(&st, 0, NULL);
	}
	PG_CATCH();
	{
		/*
		 * The condition at fault, as a rule builder finds it in the JSON
		 * form (but for the whole rule, "$", which says nothing).
		 */
		MemoryContext cxt = MemoryContextSwitchTo(caller);
		ErrorData  *edata = CopyErrorData();
		char	   *path = rule_json_path(body, ((volatile CheckState *) &st)->condition);

		if (strcmp(path, "$") != 0)
		{
			FlushErrorState();
			edata->detail = edata->detail ?
				psprintf("%s\nThe condition is at %s in the rule's JSON form.", edata->detail, path) :
				psprintf("The condition is at %s in the rule's JSON form.", path);
			ReThrowError(edata);
		}
		MemoryContextSwitchTo(cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(true, level);
	return cr;
}
