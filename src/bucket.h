/*
 * bucket.h
 *	  A contact's bucket under a seed, for stable random samples
 *	  (docs/design.md, "Samples").
 */
#ifndef SEGMENTS_BUCKET_H
#define SEGMENTS_BUCKET_H

#include <stddef.h>
#include <stdint.h>

/*
 * The bucket (0 .. RULE_BUCKETS - 1) of a contact, given as the text of
 * its key and of its tenant (NULL: none), under a seed.
 */
extern uint32_t bucket_of(const char *seed, size_t seedlen, const char *key, size_t keylen,
						  const char *tenant, size_t tenantlen);

#endif							/* SEGMENTS_BUCKET_H */
