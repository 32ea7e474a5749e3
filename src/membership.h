/*
 * membership.h
 *	  Direct writes of segments.membership and its log (membership.c).
 */
#ifndef SEGMENTS_MEMBERSHIP_H
#define SEGMENTS_MEMBERSHIP_H

#include "rule_check.h"

/*
 * Insert the contacts the compiled rule selects (its SQL over att's tables)
 * as members of a segment in att's membership, logged as joined by
 * 'build'; returns their number.
 */
extern int64 membership_build(const Attachments *att, int64 segment_id, const char *compiled);

/* The writer of single contacts' changes, open for one commit's maintenance. */
typedef struct ContactWriter ContactWriter;

extern ContactWriter *contact_writer_open(const char *cause, const Attachments *att);
extern int	contact_writer_apply(ContactWriter *w, Datum contact, const int64 *segment,
								 const bool *member, int n, bool *changed);
extern void contact_writer_close(ContactWriter *w);

#endif
