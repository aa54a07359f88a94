/*
 * Separate chaining: each bucket is a singly linked list of entries, each
 * entry one allocation holding its key. Entries never move when the bucket
 * array grows, so hmap_get()'s pointer stays valid until its key goes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

#define HMAP_MIN_BUCKETS 16

struct hmap_entry {
	struct hmap_entry *next;
	uint64_t hash;
	size_t val;
	size_t len;
	unsigned char key[];
};

uint64_t
hmap_hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	/* FNV's low bits mix poorly over keys that differ only in their
	 * last bytes ("...:20001", "...:20002"); the bucket is the low bits.
	 * The finaliser of MurmurHash3 spreads every bit over all of them. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static struct hmap_entry **
slot(const struct hmap *m, const void *key, size_t len, uint64_t h)
{
	struct hmap_entry **pp = &m->buckets[h & (m->n_buckets - 1)];

	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->len == len &&
		    (len == 0 || memcmp((*pp)->key, key, len) == 0))
			break;
	return pp;
}

size_t *
hmap_get(const struct hmap *m, const void *key, size_t len)
{
	struct hmap_entry *e;

	if (m->n == 0)
		return NULL;
	e = *slot(m, key, len, hmap_hash(key, len));
	return e ? &e->val : NULL;
}

/* Doubles the bucket array once there are as many keys as buckets. */
static int
grow(struct hmap *m)
{
	size_t nb = m->n_buckets ? 2 * m->n_buckets : HMAP_MIN_BUCKETS;
	struct hmap_entry **b;

	if (nb > SIZE_MAX / sizeof(*b))
		return -ENOMEM;
	b = calloc(nb, sizeof(*b));
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct hmap_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
	return 0;
}

int
hmap_add(struct hmap *m, const void *key, size_t len, size_t val)
{
	uint64_t h = hmap_hash(key, len);
	struct hmap_entry **pp, *e;

	if (m->n >= m->n_buckets && grow(m) < 0 && m->n_buckets == 0)
		return -ENOMEM;         /* a fuller table is slower, not wrong */
	pp = slot(m, key, len, h);
	if (*pp)
		return -EEXIST;
	if (len > SIZE_MAX - sizeof(*e))
		return -ENOMEM;
	e = malloc(sizeof(*e) + len);
	if (!e)
		return -ENOMEM;
	e->next = NULL;
	e->hash = h;
	e->val = val;
	e->len = len;
	if (len > 0)
		memcpy(e->key, key, len);
	*pp = e;
	m->n++;
	return 0;
}

bool
hmap_del(struct hmap *m, const void *key, size_t len)
{
	struct hmap_entry **pp, *e;

	if (m->n == 0)
		return false;
	pp = slot(m, key, len, hmap_hash(key, len));
	if (!(e = *pp))
		return false;
	*pp = e->next;
	free(e);
	m->n--;
	return true;
}

void
hmap_free(struct hmap *m)
{
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct hmap_entry *e = m->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}
