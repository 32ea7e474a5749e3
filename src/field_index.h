/*
 * field_index.h
 *	  The segments an UPDATE of a contact's column can change, found by the
 *	  values their conditions on the column name (field_index.c).
 */
#ifndef SEGMENTS_FIELD_INDEX_H
#define SEGMENTS_FIELD_INDEX_H

#include "segment_cache.h"

typedef struct FieldIndex FieldIndex;

/*
 * The index of the conditions on a column of the contacts table (field:
 * its entry in cache->fields), built on first use and kept with the
 * cache.  The rules of the segments using it must have been checked
 * (segment_cache_check_all), and it is built comparing their constants
 * with the column type's comparison, code the contacts' owner may
 * control: call it as that owner (data_owner_enter).
 */
extern FieldIndex *field_index_get(SegmentCache *cache, const NamedUse *field);

/*
 * Adds to *segments those of the index whose truth can differ for the old
 * and the new value of the column (neither NULL): a superset of them,
 * which rule_eval_update_matters narrows down.  Allocates in the current
 * memory context; called as the contacts' owner.
 */
extern Bitmapset *field_index_candidates(FieldIndex *index, Datum old_value, Datum new_value,
										 Bitmapset *segments);

#endif							/* SEGMENTS_FIELD_INDEX_H */
