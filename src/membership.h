/*
 * membership.h
 *	  Direct writes of segments.membership and its log (membership.c).
 */
#ifndef SEGMENTS_MEMBERSHIP_H
#define SEGMENTS_MEMBERSHIP_H

#include "rule_check.h"

/* The writer of single contacts' changes, open for one commit's maintenance. */
typedef struct ContactWriter ContactWriter;

extern ContactWriter *contact_writer_open(const char *cause, const Attachments *att);
extern int	contact_writer_apply(ContactWriter *w, Datum contact, const int64 *segment,
								 const bool *member, int n, bool *changed);
extern void contact_writer_close(ContactWriter *w);

#endif
