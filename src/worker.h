/*
 * worker.h
 *	  The tick worker: a background worker per database that calls
 *	  segments.tick() every segments.tick_interval.
 */
#ifndef SEGMENTS_WORKER_H
#define SEGMENTS_WORKER_H

/*
 * Define the settings segments.tick_interval (always) and, when the library
 * is being preloaded (shared_preload_libraries), segments.tick_databases and
 * segments.tick_role, and register one worker per listed database (_PG_init).
 */
extern void worker_init(void);

#endif							/* SEGMENTS_WORKER_H */
