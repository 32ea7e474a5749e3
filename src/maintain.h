/*
 * maintain.h
 *	  Membership follows writes: the triggers of the attached tables.
 */
#ifndef SEGMENTS_MAINTAIN_H
#define SEGMENTS_MAINTAIN_H

/* Register the transaction callbacks that reset the queue (_PG_init). */
extern void maintain_init(void);

#endif							/* SEGMENTS_MAINTAIN_H */
