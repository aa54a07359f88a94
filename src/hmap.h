/* A hash map from byte strings to size_t values, for the loader's lookups
 * (names, listen addresses) that would otherwise scan everything read so
 * far. Pure: no I/O, no logging. Keys are copied; values are the caller's
 * (usually an index into an array it keeps). A zeroed struct hmap is an
 * empty map. Lookups, insertions and removals take O(1) on average. The
 * hash is not keyed: use it for what the operator writes, not for what
 * clients send (admit.c and udp_relay.c keep their own, keyed tables). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap_entry;

struct hmap {
	struct hmap_entry **buckets;
	size_t n_buckets;               /* 0 or a power of two */
	size_t n;                       /* keys held */
};

/* The value stored for key, to read or change in place, or NULL when key
 * is not in the map. The pointer stays valid until key is removed. */
size_t *hmap_get(const struct hmap *m, const void *key, size_t len);

/* Adds key with val. Returns 0; -EEXIST when key is in the map already
 * (its value is left as it is); -ENOMEM (the map is unchanged). */
int hmap_add(struct hmap *m, const void *key, size_t len, size_t val);

/* Removes key. Returns false when it was not in the map. */
bool hmap_del(struct hmap *m, const void *key, size_t len);

/* Frees every entry and leaves an empty map (which may be used again). */
void hmap_free(struct hmap *m);

/* FNV-1a over the bytes, then mixed so the low bits (the bucket) depend
 * on every byte. Exposed for the tests. */
uint64_t hmap_hash(const void *key, size_t len);
