/*
 * rule_eval.h
 *	  Evaluate checked rules for one contact, in C.
 *
 * The contact's data is read beforehand into an EvalContact (its row,
 * events, lists and memberships: contact_data.h reads them for a chunk of
 * contacts at once, as much as the rules to evaluate need) and shared by
 * every rule evaluated for it.  Conditions are then tested in memory, so
 * evaluating many rules on one contact costs no query per rule: the write
 * path (maintain.c) evaluates every affected segment this way,
 * segments.matches() and segments.explain() one rule.
 */
#ifndef SEGMENTS_RULE_EVAL_H
#define SEGMENTS_RULE_EVAL_H

#include "contact_data.h"
#include "rule_check.h"

/* Add what evaluating cr needs to needs (zeroed at first). */
extern void rule_eval_needs(const CheckedRule *cr, EvalNeeds *needs);

/*
 * Is cr true for the contact?  false when the contact does not exist or is
 * not in cr->tenant (when cr->tenant is set).  cr must be checked against
 * c->att.
 */
extern bool rule_eval_contact(const CheckedRule *cr, EvalContact *c);

/*
 * Whether an UPDATE of a contact's row from old_row to new_row (of desc;
 * changed: the attribute numbers whose values differ, not the key's nor
 * the tenant's) can change its membership of cr's segment: whether one of
 * cr's conditions on those columns holds differently for the two rows.
 * Its other inputs (events, lists, memberships, key, tenant) are the same
 * for both rows, so when none does, the rule's truth is the same.  A
 * condition relative to the clock counts as one that does: its stored
 * truth may be one a tick has yet to bring up to date.
 */
extern bool rule_eval_update_matters(const CheckedRule *cr, HeapTuple old_row, HeapTuple new_row,
									 TupleDesc desc, const Bitmapset *changed);

/*
 * Membership of the contact as "in segment" sees it (read with the
 * contact's data); the write path updates it as it re-evaluates segments
 * in dependency order.
 */
extern bool rule_eval_is_member(EvalContact *c, int64 segment_id);
extern bool rule_eval_member_since(EvalContact *c, int64 segment_id, TimestampTz *since);

/*
 * Whether the contact was included in the segment by hand (1), excluded
 * from it (-1) or neither (0); its overrides must have been read.
 */
extern int	rule_eval_override(EvalContact *c, int64 segment_id);
extern void rule_eval_set_member(EvalContact *c, int64 segment_id, bool member);

#endif							/* SEGMENTS_RULE_EVAL_H */
