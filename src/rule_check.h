/*
 * rule_check.h
 *	  A rule checked against the attached tables: every field resolved to a
 *	  column and a way of reading it, every literal read by the input
 *	  function of the type it is compared with, every segment name resolved.
 *	  The SQL compiler (rule_sql.c) and the per-contact evaluator
 *	  (rule_eval.c) both work from this, so they agree.
 */
#ifndef SEGMENTS_RULE_CHECK_H
#define SEGMENTS_RULE_CHECK_H

#include "access/tupdesc.h"

#include "rule_type.h"

/* One attached table (a row of segments.attached). */
typedef struct AttachedTable
{
	bool		present;
	Oid			relid;
	char	   *schema;
	char	   *name;
	char	   *contact_column; /* contacts: the key; others: the contact */
	Oid			contact_type;
	char	   *tenant_column;	/* contacts: the tenant, or NULL; others: the
								 * contact's tenant when keyed per tenant */
	Oid			tenant_type;
	char	   *kind_column;	/* events, or NULL when all of one kind */
	char	   *constant_kind;	/* events without a kind column: their kind */
	Oid			kind_enum;		/* events: the kind's enum type, or InvalidOid (text) */
	char	   *at_column;		/* events */
	char	   *list_column;	/* lists */
	Oid			list_type;
	char	   *time_zone;		/* the zone of its timestamp and date columns */
	char	   *source;			/* events: the name rules give the source */
	TupleDesc	tupdesc;
	List	   *tree;			/* the table, its partitions and inheritance
								 * children, as last found; NIL until asked */
} AttachedTable;

typedef struct Attachments
{
	AttachedTable contacts;
	int			nsources;
	AttachedTable *events;		/* the event sources, nsources of them */
	AttachedTable lists;

	/*
	 * Contacts keyed per tenant: a contact is (tenant, key), of the
	 * composite type segments.contact_key (contact_key.h)
	 */
	bool		key_per_tenant;
	Oid			key_type;		/* a contact's type: the key's base type or
								 * segments.contact_key */
	TupleDesc	key_desc;		/* segments.contact_key's, when per tenant */
	struct ContactPlans *plans;	/* contact_data.c's queries, made on first use */
	uint64		generation;		/* differs for every reading of the attachments */

	/*
	 * The extension's tables the write path reads and writes, by name in
	 * schema segments: membership, membership_log and override; in a
	 * shard group on a Citus node, the group's shards of them (citus.h).
	 */
	char	   *membership_table;
	char	   *log_table;
	char	   *override_table;
	bool		distributed;	/* the contacts are a Citus distributed table */
	struct Attachments *logical;	/* a shard group's: the attachments it
									 * localizes; NULL for those */
	List	   *shard_groups;	/* the shard groups made from these */
} Attachments;

/* How a field's value is read and compared. */
typedef enum FieldClass
{
	FC_SCALAR,					/* the type's default btree operators */
	FC_TEXT,					/* also: case-insensitive text matching */
	FC_TIME,					/* timestamptz, timestamp or date */
	FC_ARRAY,					/* also: contains an element */
	FC_JSON 					/* jsonb: typed by each literal */
} FieldClass;

typedef struct CheckedItem
{
	/* FIELD */
	const char *column;
	AttrNumber	attnum;			/* the column's number in the attached table:
								 * where a row of it (or of a partition with
								 * its columns in the same places) has it */
	Oid			coltype;
	Oid			colcollation;
	FieldClass	fclass;
	Oid			elemtype;		/* FC_ARRAY */
	Oid			cmptype;		/* FC_SCALAR, FC_TEXT: the base type compared */

	/*
	 * FIELD and MEASURE of a timestamp or date column, and EVENT of events
	 * whose time is one: the zone of the column's table, in which relative
	 * times are read to compare with it; NULL otherwise
	 */
	const char *clock_zone;

	/*
	 * VALUE: the base type the literal was read as, without a type modifier
	 * (InvalidOid for a relative time)
	 */
	Oid			valtype;
	Datum		value;

	/* IN_SEGMENT */
	int64		segment_id;

	/* EVENT: its event source, an index into att->events */
	int			source;
} CheckedItem;

typedef struct CheckedRule
{
	const RuleBody *body;
	Attachments *att;
	CheckedItem *items;			/* parallel to body->items */
	const char *tenant;			/* canonical text, or NULL for all contacts */
	Datum		tenant_value;
} CheckedRule;

/*
 * Read segments.attached and the attached tables' descriptors, or return
 * them as read before: they stay valid until a later call replaces them
 * after a relcache invalidation or a change of user.
 */
extern Attachments *rule_load_attachments(void);

/* A number no attachments have had: a new reading's, a shard group's. */
extern uint64 rule_attachments_generation(void);

/* segments.<name>, quoted: one of the extension's tables in SQL. */
extern char *rule_segments_table_sql(const char *name);

/* The event source of an EVENT item of a checked rule. */
extern AttachedTable *rule_event_table(const CheckedRule *cr, const RuleItem *event);

/* The event source of that name, or NULL. */
extern AttachedTable *rule_find_source(Attachments *att, const char *name);

/*
 * The event source (an index into att->events) of the events of a kind a
 * rule counts, naming the source or not (NULL); -1 when none or several
 * may be meant.
 */
extern int	rule_resolve_source(Attachments *att, const char *kind, const char *named);

/*
 * Whether relid is the attached table t or one of its partitions or
 * inheritance children (the tables its triggers are installed on).
 */
extern bool rule_attached_relation(Attachments *att, AttachedTable *t, Oid relid);

/* segments.segment, whose relcache invalidation announces a catalog change */
extern Oid	rule_catalog_relid(void);

/*
 * Push a snapshot taken now as the active one (end it with
 * PopActiveSnapshot()): the attachments and the segment cache are read
 * under it, never under a statement's snapshot that may predate the
 * catalog change that made them stale.
 */
extern void rule_push_fresh_snapshot(void);

/*
 * Check a rule against the attached tables, for the given tenant (NULL:
 * all contacts).  Errors name what is wrong.  Runs with TimeZone UTC and
 * DateStyle ISO, so literals read the same in every session.
 */
extern CheckedRule *rule_check(const RuleBody *body, Attachments *att, const char *tenant);

/*
 * Read a tenant given as text as the contacts' tenant column's type;
 * returns its canonical text and sets *value.
 */
extern char *rule_read_tenant(Attachments *att, const char *tenant, Datum *value);

/* The field of a FIELD item as written, for messages. */
extern char *rule_field_name(const RuleBody *body, const RuleItem *field);

/*
 * The hint for a column a table does not have: the nearest column's name,
 * or the table's columns (qualified: the table's name in the message).
 */
extern char *rule_column_hint(TupleDesc desc, const char *qualified, const char *name);

/* Set TimeZone UTC, DateStyle ISO, IntervalStyle postgres until the
 * returned level is closed with AtEOXact_GUC(true, level). */
extern int	rule_enter_utc(void);

#endif							/* SEGMENTS_RULE_CHECK_H */
