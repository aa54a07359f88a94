/* Deadlines of one thread: a min-heap of struct timer, each embedded in
 * its owner (a connection), and the monotonic clock they are measured on.
 * Pure and single-threaded: no I/O, no logging, no locks. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define TIMER_NONE UINT32_MAX

struct timer {
	uint64_t deadline_ms;           /* when the heap looks at the owner next */
	uint32_t idx;                   /* position in the heap, TIMER_NONE = not in it */
};

struct timer_heap {
	struct timer **v;               /* min-heap on deadline_ms */
	size_t len;
	size_t cap;
};

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t timer_now_ms(void);

static inline void
timer_init(struct timer *t)
{
	t->idx = TIMER_NONE;
}

/* Set (or move) t's deadline. Returns -ENOMEM when the heap cannot grow. */
int timer_set(struct timer_heap *h, struct timer *t, uint64_t deadline_ms);

/* Take t out of the heap; nothing when it is not in it. */
void timer_remove(struct timer_heap *h, struct timer *t);

/* The earliest timer, or NULL when the heap is empty. */
static inline struct timer *
timer_first(const struct timer_heap *h)
{
	return h->len > 0 ? h->v[0] : NULL;
}

/* Free the heap's array (not the timers). */
void timer_heap_free(struct timer_heap *h);
