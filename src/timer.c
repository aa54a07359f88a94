#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "timer.h"

uint64_t
timer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
heap_swap(struct timer_heap *h, size_t a, size_t b)
{
	struct timer *t = h->v[a];

	h->v[a] = h->v[b];
	h->v[b] = t;
	h->v[a]->idx = (uint32_t)a;
	h->v[b]->idx = (uint32_t)b;
}

static void
heap_up(struct timer_heap *h, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (h->v[parent]->deadline_ms <= h->v[i]->deadline_ms)
			break;
		heap_swap(h, i, parent);
		i = parent;
	}
}

static void
heap_down(struct timer_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->len && h->v[l]->deadline_ms < h->v[m]->deadline_ms)
			m = l;
		if (r < h->len && h->v[r]->deadline_ms < h->v[m]->deadline_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(h, i, m);
		i = m;
	}
}

void
timer_remove(struct timer_heap *h, struct timer *t)
{
	size_t i = t->idx;

	if (i == TIMER_NONE)
		return;
	t->idx = TIMER_NONE;
	h->len--;
	if (i == h->len)
		return;
	h->v[i] = h->v[h->len];
	h->v[i]->idx = (uint32_t)i;
	heap_up(h, i);
	heap_down(h, h->v[i]->idx);
}

int
timer_set(struct timer_heap *h, struct timer *t, uint64_t deadline_ms)
{
	timer_remove(h, t);
	if (h->len == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct timer **v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	t->deadline_ms = deadline_ms;
	t->idx = (uint32_t)h->len;
	h->v[h->len++] = t;
	heap_up(h, t->idx);
	return 0;
}

void
timer_heap_free(struct timer_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->len = h->cap = 0;
}
