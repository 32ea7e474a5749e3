/*
 * change_feed.h
 *	  The change feed: segments.membership_log read in id order, each change
 *	  exactly once (change_feed.c).
 */
#ifndef SEGMENTS_CHANGE_FEED_H
#define SEGMENTS_CHANGE_FEED_H

/*
 * Call before the transaction writes its first row of the log (every
 * writer does: builds, the commit of writes, ticks, lifecycle functions).
 */
extern void change_feed_writing(void);

#endif							/* SEGMENTS_CHANGE_FEED_H */
