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
