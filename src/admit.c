#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "admit.h"

/* ------------------------------------------------------------ hashing */

/*
 * Source addresses are chosen by clients, and an IPv6 client has whole
 * prefixes to pick from: with a fixed hash it could fill one chain of a
 * table. So the tables hash with SipHash-1-3 under a random key per table.
 */
struct hash_key {
	uint64_t k0, k1;
};

static uint64_t
rotl64(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void
sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl64(v[1], 13) ^ v[0];
	v[0] = rotl64(v[0], 32);
	v[2] += v[3];
	v[3] = rotl64(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = rotl64(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = rotl64(v[1], 17) ^ v[2];
	v[2] = rotl64(v[2], 32);
}

static uint64_t
key_hash(const struct hash_key *hk, const struct ip_key *k)
{
	uint64_t v[4] = {
		hk->k0 ^ 0x736f6d6570736575ULL,
		hk->k1 ^ 0x646f72616e646f6dULL,
		hk->k0 ^ 0x6c7967656e657261ULL,
		hk->k1 ^ 0x7465646279746573ULL,
	};
	uint64_t m;

	for (size_t i = 0; i < 16; i += 8) {
		memcpy(&m, k->b + i, 8);
		v[3] ^= m;
		sip_round(v);
		v[0] ^= m;
	}
	m = (uint64_t)16 << 56;
	v[3] ^= m;
	sip_round(v);
	v[0] ^= m;
	v[2] ^= 0xff;
	for (int i = 0; i < 3; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static void
hash_key_init(struct hash_key *hk, const void *salt)
{
	struct timespec ts;

	if (getrandom(hk, sizeof(*hk), GRND_NONBLOCK) == (ssize_t)sizeof(*hk))
		return;
	/* No entropy yet (early boot): weaker, but still not fixed. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	hk->k0 = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
	hk->k1 = (uint64_t)(uintptr_t)salt * 0xbf58476d1ce4e5b9ULL ^ (uint64_t)getpid();
}


/* ------------------------------------------------------------ source_table */

/*
 * Open addressing with linear probing and backward-shift deletion: no
 * tombstones, so a slot is either empty (count 0) or a live source, and the
 * table shrinks again when sources leave.
 */
#define SOURCE_TABLE_MIN 16

struct source_slot {
	struct ip_key key;
	uint32_t count;                 /* 0 = empty slot */
};

struct source_table {
	pthread_mutex_t lock;
	struct hash_key hk;
	struct source_slot *slots;
	size_t cap;                     /* a power of two */
	size_t n;
};

struct source_table *
source_table_new(void)
{
	struct source_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->slots = calloc(SOURCE_TABLE_MIN, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->cap = SOURCE_TABLE_MIN;
	hash_key_init(&t->hk, t);
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void
source_table_free(struct source_table *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	free(t);
}

static size_t
table_find(const struct source_table *t, const struct ip_key *k)
{
	size_t i = key_hash(&t->hk, k) & (t->cap - 1);

	while (t->slots[i].count && memcmp(&t->slots[i].key, k, sizeof(*k)) != 0)
		i = (i + 1) & (t->cap - 1);
	return i;
}

static int
table_resize(struct source_table *t, size_t cap)
{
	struct source_slot *old = t->slots, *slots;
	size_t old_cap = t->cap;

	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	t->slots = slots;
	t->cap = cap;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].count)
			t->slots[table_find(t, &old[i].key)] = old[i];
	free(old);
	return 0;
}

/* Empty slot i and pull later entries of its probe run back into it. */
static void
table_remove(struct source_table *t, size_t i)
{
	size_t mask = t->cap - 1, j = i, home;

	for (;;) {
		t->slots[i].count = 0;
		for (;;) {
			j = (j + 1) & mask;
			if (!t->slots[j].count)
				return;
			home = key_hash(&t->hk, &t->slots[j].key) & mask;
			/* j may move to i unless its home lies cyclically in (i, j]. */
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		t->slots[i] = t->slots[j];
		i = j;
	}
}

int
source_acquire(struct source_table *t, const struct sockaddr *peer, socklen_t len, unsigned limit)
{
	struct ip_key k;
	size_t i;
	int r;

	r = acl_peer_key(peer, len, &k);
	if (r <= 0)
		return r;
	pthread_mutex_lock(&t->lock);
	i = table_find(t, &k);
	if (t->slots[i].count) {
		if ((limit && t->slots[i].count >= limit) || t->slots[i].count == UINT32_MAX) {
			r = -EBUSY;
		} else {
			t->slots[i].count++;
			r = 0;
		}
		goto out_unlock;
	}
	/* Keep the load at most 1/2 so probe runs stay short. */
	if ((t->n + 1) * 2 > t->cap) {
		if (table_resize(t, t->cap * 2) < 0) {
			r = -ENOMEM;
			goto out_unlock;
		}
		i = table_find(t, &k);
	}
	t->slots[i].key = k;
	t->slots[i].count = 1;
	t->n++;
	r = 0;
out_unlock:
	pthread_mutex_unlock(&t->lock);
	return r;
}

void
source_release(struct source_table *t, const struct sockaddr *peer, socklen_t len)
{
	struct ip_key k;
	size_t i;

	if (acl_peer_key(peer, len, &k) <= 0)
		return;
	pthread_mutex_lock(&t->lock);
	i = table_find(t, &k);
	if (t->slots[i].count && --t->slots[i].count == 0) {
		table_remove(t, i);
		t->n--;
		/* Give memory back after a crowd has left; a failed shrink
		 * only keeps the larger table. */
		if (t->cap > SOURCE_TABLE_MIN && t->n * 8 < t->cap)
			table_resize(t, t->cap / 2);
	}
	pthread_mutex_unlock(&t->lock);
}

size_t
source_count(struct source_table *t, const struct sockaddr *peer, socklen_t len)
{
	struct ip_key k;
	size_t n;

	if (acl_peer_key(peer, len, &k) <= 0)
		return 0;
	pthread_mutex_lock(&t->lock);
	n = t->slots[table_find(t, &k)].count;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* ------------------------------------------------------------ rate_limit */

void
rate_limit_init(struct rate_limit *rl, double rate, unsigned burst, uint64_t now_ms)
{
	rl->rate = rate > 0 ? rate : 0;
	rl->burst = burst > 0 ? burst : 1;
	rl->tokens = rl->burst;
	rl->last_ms = now_ms;
}

bool
rate_limit_take(struct rate_limit *rl, uint64_t now_ms)
{
	if (rl->rate <= 0)
		return true;
	/* A clock that steps back refills nothing, and the next refill counts
	 * from the latest time seen. */
	if (now_ms > rl->last_ms) {
		rl->tokens += (double)(now_ms - rl->last_ms) * rl->rate / 1000.0;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
		rl->last_ms = now_ms;
	}
	/* Rounding must not withhold a token that a whole interval earned. */
	if (rl->tokens < 1.0 - 1e-9)
		return false;
	rl->tokens -= 1.0;
	if (rl->tokens < 0)
		rl->tokens = 0;
	return true;
}

/* ------------------------------------------------------------ source_rates */

/*
 * A fixed array of `slots` buckets on an LRU list, found through an open
 * addressing index twice as large. When every slot is in use, the least
 * recently seen source gives its slot to the new one.
 */
#define NIL UINT32_MAX
#define SOURCE_RATES_MAX (1u << 24)

struct rate_slot {
	struct ip_key key;
	uint64_t hash;
	struct rate_limit rl;
	uint32_t prev, next;            /* LRU list; head = most recent */
};

struct source_rates {
	double rate;
	unsigned burst;
	struct hash_key hk;
	struct rate_slot *slots;
	uint32_t n_slots, used;
	uint32_t head, tail;
	uint32_t *index;                /* slot number, or NIL */
	size_t index_mask;
};

struct source_rates *
source_rates_new(double rate, unsigned burst, size_t slots)
{
	struct source_rates *r;
	size_t cap = 2;

	if (slots == 0)
		slots = 1;
	if (slots > SOURCE_RATES_MAX)
		slots = SOURCE_RATES_MAX;
	while (cap < 2 * slots)
		cap *= 2;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->slots = calloc(slots, sizeof(*r->slots));
	r->index = malloc(cap * sizeof(*r->index));
	if (!r->slots || !r->index) {
		source_rates_free(r);
		return NULL;
	}
	for (size_t i = 0; i < cap; i++)
		r->index[i] = NIL;
	r->index_mask = cap - 1;
	r->rate = rate;
	r->burst = burst;
	r->n_slots = (uint32_t)slots;
	r->head = r->tail = NIL;
	hash_key_init(&r->hk, r);
	return r;
}

void
source_rates_free(struct source_rates *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r->index);
	free(r);
}

static void
lru_unlink(struct source_rates *r, uint32_t s)
{
	struct rate_slot *e = &r->slots[s];

	if (e->prev != NIL)
		r->slots[e->prev].next = e->next;
	else
		r->head = e->next;
	if (e->next != NIL)
		r->slots[e->next].prev = e->prev;
	else
		r->tail = e->prev;
}

static void
lru_push_front(struct source_rates *r, uint32_t s)
{
	struct rate_slot *e = &r->slots[s];

	e->prev = NIL;
	e->next = r->head;
	if (r->head != NIL)
		r->slots[r->head].prev = s;
	r->head = s;
	if (r->tail == NIL)
		r->tail = s;
}

/* Index position of key k (with hash h), or of the empty cell ending its run. */
static size_t
index_find(const struct source_rates *r, const struct ip_key *k, uint64_t h)
{
	size_t i = h & r->index_mask;

	while (r->index[i] != NIL &&
	    (r->slots[r->index[i]].hash != h ||
	     memcmp(&r->slots[r->index[i]].key, k, sizeof(*k)) != 0))
		i = (i + 1) & r->index_mask;
	return i;
}

static void
index_remove(struct source_rates *r, size_t i)
{
	size_t mask = r->index_mask, j = i, home;

	for (;;) {
		r->index[i] = NIL;
		for (;;) {
			j = (j + 1) & mask;
			if (r->index[j] == NIL)
				return;
			home = r->slots[r->index[j]].hash & mask;
			if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
				break;
		}
		r->index[i] = r->index[j];
		i = j;
	}
}

bool
source_rates_take(struct source_rates *r, const struct sockaddr *peer, socklen_t len, uint64_t now_ms)
{
	struct rate_slot *e;
	struct ip_key k;
	uint32_t s;
	uint64_t h;
	size_t i;
	int ok;

	if (r->rate <= 0)
		return true;
	ok = acl_peer_key(peer, len, &k);
	if (ok == 0)
		return true;
	if (ok < 0)
		return false;
	h = key_hash(&r->hk, &k);
	i = index_find(r, &k, h);
	if (r->index[i] != NIL) {
		s = r->index[i];
		if (s != r->head) {
			lru_unlink(r, s);
			lru_push_front(r, s);
		}
		return rate_limit_take(&r->slots[s].rl, now_ms);
	}

	if (r->used < r->n_slots) {
		s = r->used++;
	} else {
		s = r->tail;
		lru_unlink(r, s);
		index_remove(r, index_find(r, &r->slots[s].key, r->slots[s].hash));
		/* The removal may have moved k's empty cell. */
		i = index_find(r, &k, h);
	}
	e = &r->slots[s];
	e->key = k;
	e->hash = h;
	rate_limit_init(&e->rl, r->rate, r->burst, now_ms);
	r->index[i] = s;
	lru_push_front(r, s);
	return rate_limit_take(&e->rl, now_ms);
}
