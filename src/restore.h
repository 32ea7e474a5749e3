/*
 * restore.h
 *	  A session restoring a dump (restore.c).
 */
#ifndef SEGMENTS_RESTORE_H
#define SEGMENTS_RESTORE_H

extern bool restoring_dump(void);
extern bool restoring_dump_into(Oid relid);

#endif
