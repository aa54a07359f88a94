/* Included, not linked, so the tests can look at the tables' sizes. */
#include "admit.c"

#include <arpa/inet.h>
#include <check.h>
#include <sys/un.h>

/* ------------------------------------------------------------ helpers */

/* A peer sockaddr for an IPv4 or IPv6 text address. */
struct peer {
	struct sockaddr_storage ss;
	socklen_t len;
};

static struct peer
peer_of(const char *text)
{
	struct peer p = { .len = 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&p.ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p.ss;

	memset(&p.ss, 0, sizeof(p.ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
		p.len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40000);
		p.len = sizeof(*sin6);
	} else {
		ck_abort_msg("bad test address %s", text);
	}
	return p;
}

static struct peer
peer_v4(uint32_t host_order)
{
	struct peer p = { .len = sizeof(struct sockaddr_in) };
	struct sockaddr_in *sin = (struct sockaddr_in *)&p.ss;

	memset(&p.ss, 0, sizeof(p.ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(host_order);
	return p;
}

/* ------------------------------------------------------------ source_table */

#define SA(p) ((struct sockaddr *)&(p).ss), (p).len

START_TEST(test_source_limit)
{
	struct source_table *t = source_table_new();
	struct peer a = peer_of("192.0.2.1"), b = peer_of("2001:db8::1");

	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(source_acquire(t, SA(a), 3), 0);
	ck_assert_uint_eq(source_count(t, SA(a)), 3);
	ck_assert_int_eq(source_acquire(t, SA(a), 3), -EBUSY);
	ck_assert_int_eq(source_acquire(t, SA(a), 3), -EBUSY);
	ck_assert_uint_eq(source_count(t, SA(a)), 3);

	/* Another source has its own count. */
	ck_assert_int_eq(source_acquire(t, SA(b), 3), 0);
	ck_assert_uint_eq(source_count(t, SA(b)), 1);

	/* A release makes room for exactly one more. */
	source_release(t, SA(a));
	ck_assert_uint_eq(source_count(t, SA(a)), 2);
	ck_assert_int_eq(source_acquire(t, SA(a), 3), 0);
	ck_assert_int_eq(source_acquire(t, SA(a), 3), -EBUSY);

	/* limit 0: counted, never refused */
	ck_assert_int_eq(source_acquire(t, SA(a), 0), 0);
	ck_assert_uint_eq(source_count(t, SA(a)), 4);

	for (int i = 0; i < 4; i++)
		source_release(t, SA(a));
	source_release(t, SA(b));
	ck_assert_uint_eq(source_count(t, SA(a)), 0);
	ck_assert_uint_eq(source_count(t, SA(b)), 0);
	ck_assert_uint_eq(t->n, 0);
	/* A release too many is ignored rather than wrapping around. */
	source_release(t, SA(a));
	ck_assert_uint_eq(source_count(t, SA(a)), 0);
	ck_assert_int_eq(source_acquire(t, SA(a), 1), 0);
	ck_assert_int_eq(source_acquire(t, SA(a), 1), -EBUSY);
	source_table_free(t);
	source_table_free(NULL);
}
END_TEST

START_TEST(test_source_v4_mapped_and_unix)
{
	struct source_table *t = source_table_new();
	struct peer v4 = peer_of("192.0.2.1"), mapped = peer_of("::ffff:192.0.2.1");
	struct peer compat = peer_of("::192.0.2.1");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	/* One client, whichever socket family it came in on. */
	ck_assert_int_eq(source_acquire(t, SA(v4), 2), 0);
	ck_assert_int_eq(source_acquire(t, SA(mapped), 2), 0);
	ck_assert_int_eq(source_acquire(t, SA(v4), 2), -EBUSY);
	ck_assert_uint_eq(source_count(t, SA(mapped)), 2);
	ck_assert_uint_eq(source_count(t, SA(compat)), 0);
	source_release(t, SA(mapped));
	ck_assert_uint_eq(source_count(t, SA(v4)), 1);

	/* Unix peers are not counted. */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(source_acquire(t, (struct sockaddr *)&sun, sizeof(sun), 1), 0);
	ck_assert_uint_eq(source_count(t, (struct sockaddr *)&sun, sizeof(sun)), 0);
	source_release(t, (struct sockaddr *)&sun, sizeof(sun));
	ck_assert_uint_eq(t->n, 1);

	ck_assert_int_eq(source_acquire(t, (struct sockaddr *)&v4.ss, v4.len - 1, 1), -EINVAL);
	source_table_free(t);
}
END_TEST

START_TEST(test_source_memory_bounded)
{
	struct source_table *t = source_table_new();
	const uint32_t base = 0x0a000000, n = 100000;

	for (uint32_t i = 0; i < n; i++) {
		struct peer p = peer_v4(base + i);

		ck_assert_int_eq(source_acquire(t, SA(p), 1), 0);
	}
	ck_assert_uint_eq(t->n, n);
	ck_assert_uint_ge(t->cap, 2 * n);
	for (uint32_t i = 0; i < n; i += 997) {
		struct peer p = peer_v4(base + i);

		ck_assert_uint_eq(source_count(t, SA(p)), 1);
		ck_assert_int_eq(source_acquire(t, SA(p), 1), -EBUSY);
	}
	/* Release in an order unlike the insertion order, to move entries around. */
	for (uint32_t i = 0; i < n; i++) {
		struct peer p = peer_v4(base + (i * 7919) % n);

		source_release(t, SA(p));
	}
	ck_assert_uint_eq(t->n, 0);
	ck_assert_uint_eq(t->cap, SOURCE_TABLE_MIN);
	for (uint32_t i = 0; i < n; i += 101) {
		struct peer p = peer_v4(base + i);

		ck_assert_uint_eq(source_count(t, SA(p)), 0);
	}
	source_table_free(t);
}
END_TEST

/* Every entry must stay reachable from its home slot through deletions. */
START_TEST(test_source_churn)
{
	struct source_table *t = source_table_new();
	static uint8_t count[4096];
	uint32_t x = 12345;

	memset(count, 0, sizeof(count));
	for (int step = 0; step < 200000; step++) {
		uint32_t a;
		struct peer p;

		x = x * 1103515245 + 12345;
		a = (x >> 8) % 4096;
		p = peer_v4(0xc0000000 + a);
		if (count[a] && (x & 0x80000000)) {
			source_release(t, SA(p));
			count[a]--;
		} else if (source_acquire(t, SA(p), 3) == 0) {
			ck_assert_uint_lt(count[a], 3);
			count[a]++;
		} else {
			ck_assert_uint_eq(count[a], 3);
		}
	}
	for (uint32_t a = 0; a < 4096; a++) {
		struct peer p = peer_v4(0xc0000000 + a);

		ck_assert_uint_eq(source_count(t, SA(p)), count[a]);
	}
	source_table_free(t);
}
END_TEST

#define THREADS 4
#define SHARED_LIMIT 1500
#define OWN 5000

struct worker_arg {
	struct source_table *t;
	int id;
	unsigned got;                   /* successful acquires of the shared peer */
};

/* Thread id's own sources: 10.id.x.y, number i. */
static struct peer
own_peer(int id, unsigned i)
{
	return peer_v4(0x0a000000 + ((uint32_t)id << 16) + i);
}

/* 1000 tries at the shared source, 10 connections each from own sources
 * 0..99, then one each from own sources 100..OWN-1 (growing the table
 * while the others use it). */
static void *
worker(void *p)
{
	struct worker_arg *w = p;
	struct peer shared = peer_of("203.0.113.9");

	for (unsigned i = 0; i < 1000; i++) {
		struct peer own = own_peer(w->id, i % 100);
		int r = source_acquire(w->t, SA(shared), SHARED_LIMIT);

		if (r == 0)
			w->got++;
		else if (r != -EBUSY)
			return (void *)1;
		if (source_acquire(w->t, SA(own), 0) != 0)
			return (void *)1;
	}
	for (unsigned i = 100; i < OWN; i++) {
		struct peer own = own_peer(w->id, i);

		if (source_acquire(w->t, SA(own), 0) != 0)
			return (void *)1;
	}
	return NULL;
}

static void *
releaser(void *p)
{
	struct worker_arg *w = p;
	struct peer shared = peer_of("203.0.113.9");

	for (unsigned i = 0; i < w->got; i++)
		source_release(w->t, SA(shared));
	for (unsigned i = 0; i < 1000; i++) {
		struct peer own = own_peer(w->id, i % 100);

		source_release(w->t, SA(own));
	}
	for (unsigned i = 100; i < OWN; i++) {
		struct peer own = own_peer(w->id, i);

		source_release(w->t, SA(own));
	}
	return NULL;
}

START_TEST(test_source_threads)
{
	struct source_table *t = source_table_new();
	struct worker_arg args[THREADS];
	pthread_t th[THREADS];
	struct peer shared = peer_of("203.0.113.9");
	unsigned total = 0;
	void *ret;

	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct worker_arg){ .t = t, .id = i };
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], &ret), 0);
		ck_assert_ptr_null(ret);
		total += args[i].got;
	}
	/* 4000 tries at a limit of 1500: exactly 1500 got in. */
	ck_assert_uint_eq(total, SHARED_LIMIT);
	ck_assert_uint_eq(source_count(t, SA(shared)), SHARED_LIMIT);
	ck_assert_uint_eq(t->n, 1 + THREADS * OWN);
	for (int i = 0; i < THREADS; i++) {
		struct peer p7 = own_peer(i, 7), p700 = own_peer(i, 700);

		ck_assert_uint_eq(source_count(t, SA(p7)), 10);
		ck_assert_uint_eq(source_count(t, SA(p700)), 1);
	}

	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, releaser, &args[i]), 0);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	ck_assert_uint_eq(source_count(t, SA(shared)), 0);
	ck_assert_uint_eq(t->n, 0);
	ck_assert_uint_eq(t->cap, SOURCE_TABLE_MIN);
	source_table_free(t);
}
END_TEST

/* ------------------------------------------------------------ rate_limit */

START_TEST(test_rate_limit)
{
	struct rate_limit rl;
	uint64_t t0 = 1000000;

	/* 2 per second, bursts of 5: the bucket starts full. */
	rate_limit_init(&rl, 2, 5, t0);
	for (int i = 0; i < 5; i++)
		ck_assert(rate_limit_take(&rl, t0));
	ck_assert(!rate_limit_take(&rl, t0));
	ck_assert(!rate_limit_take(&rl, t0 + 499));
	/* 500 ms earns one token, and only one. */
	ck_assert(rate_limit_take(&rl, t0 + 500));
	ck_assert(!rate_limit_take(&rl, t0 + 500));
	ck_assert(!rate_limit_take(&rl, t0 + 999));
	ck_assert(rate_limit_take(&rl, t0 + 1000));
	ck_assert(!rate_limit_take(&rl, t0 + 1000));

	/* A long pause refills to the burst, no further. */
	t0 += 3600 * 1000;
	for (int i = 0; i < 5; i++)
		ck_assert(rate_limit_take(&rl, t0));
	ck_assert(!rate_limit_take(&rl, t0));

	/* A clock stepping back gives nothing, and earns nothing twice. */
	ck_assert(!rate_limit_take(&rl, t0 - 10000));
	ck_assert(!rate_limit_take(&rl, t0 + 499));
	ck_assert(rate_limit_take(&rl, t0 + 500));
}
END_TEST

START_TEST(test_rate_limit_fractional)
{
	struct rate_limit rl;
	int granted = 0;

	/* 0.1 per second, burst 1: one now, the next 10 s later. */
	rate_limit_init(&rl, 0.1, 1, 0);
	ck_assert(rate_limit_take(&rl, 0));
	ck_assert(!rate_limit_take(&rl, 9999));
	ck_assert(rate_limit_take(&rl, 10000));

	/* 3 per second polled every millisecond for 10 s: the burst of 2,
	 * then 30 earned tokens, none lost to rounding. */
	rate_limit_init(&rl, 3, 2, 0);
	for (uint64_t ms = 0; ms <= 10000; ms++)
		granted += rate_limit_take(&rl, ms);
	ck_assert_int_eq(granted, 32);

	/* 0.8 per second polled every 100 ms: steps of 0.08 do not add up
	 * to whole tokens exactly in binary, yet 10 s earn 8 tokens. */
	rate_limit_init(&rl, 0.8, 2, 0);
	granted = 0;
	for (uint64_t ms = 0; ms <= 10000; ms += 100)
		granted += rate_limit_take(&rl, ms);
	ck_assert_int_eq(granted, 2 + 8);
}
END_TEST

START_TEST(test_rate_limit_unlimited)
{
	struct rate_limit rl;

	rate_limit_init(&rl, 0, 1, 0);
	for (int i = 0; i < 100000; i++)
		ck_assert(rate_limit_take(&rl, 0));
	/* burst 0 would never let anything through: it is taken as 1. */
	rate_limit_init(&rl, 1, 0, 0);
	ck_assert(rate_limit_take(&rl, 0));
	ck_assert(!rate_limit_take(&rl, 0));
	ck_assert(rate_limit_take(&rl, 1000));
}
END_TEST

/* ------------------------------------------------------------ source_rates */

/* The index and the LRU list agree with each other. */
static void
check_rates_consistent(const struct source_rates *r)
{
	size_t in_index = 0, in_list = 0;

	for (size_t i = 0; i <= r->index_mask; i++) {
		if (r->index[i] == NIL)
			continue;
		in_index++;
		ck_assert_uint_lt(r->index[i], r->used);
		ck_assert_uint_eq(index_find(r, &r->slots[r->index[i]].key, r->slots[r->index[i]].hash), i);
	}
	for (uint32_t s = r->head; s != NIL; s = r->slots[s].next)
		in_list++;
	ck_assert_uint_eq(in_index, r->used);
	ck_assert_uint_eq(in_list, r->used);
}

START_TEST(test_source_rates_per_source)
{
	struct source_rates *r = source_rates_new(1, 2, 16);
	struct peer a = peer_of("192.0.2.1"), b = peer_of("2001:db8::1");
	struct peer mapped = peer_of("::ffff:192.0.2.1");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	ck_assert_ptr_nonnull(r);
	ck_assert(source_rates_take(r, SA(a), 0));
	ck_assert(source_rates_take(r, SA(mapped), 0));     /* same source as a */
	ck_assert(!source_rates_take(r, SA(a), 0));
	/* b has its own bucket */
	ck_assert(source_rates_take(r, SA(b), 0));
	ck_assert(source_rates_take(r, SA(b), 0));
	ck_assert(!source_rates_take(r, SA(b), 0));
	ck_assert(!source_rates_take(r, SA(a), 999));
	ck_assert(source_rates_take(r, SA(a), 1000));
	/* non-IP peers are not limited */
	for (int i = 0; i < 10; i++)
		ck_assert(source_rates_take(r, (struct sockaddr *)&sun, sizeof(sun), 0));
	ck_assert_uint_eq(r->used, 2);
	source_rates_free(r);
	source_rates_free(NULL);

	/* rate 0: unlimited, nothing tracked */
	r = source_rates_new(0, 1, 16);
	for (int i = 0; i < 100; i++)
		ck_assert(source_rates_take(r, SA(a), 0));
	ck_assert_uint_eq(r->used, 0);
	source_rates_free(r);
}
END_TEST

START_TEST(test_source_rates_eviction)
{
	struct source_rates *r = source_rates_new(1, 1, 4);
	struct peer p[6];

	for (int i = 0; i < 6; i++)
		p[i] = peer_v4(0xc0000201 + (uint32_t)i);
	/* Four sources use up their bucket. */
	for (int i = 0; i < 4; i++) {
		ck_assert(source_rates_take(r, SA(p[i]), 0));
		ck_assert(!source_rates_take(r, SA(p[i]), 0));
	}
	/* p[0] is seen again, so p[1] is now the least recently seen. */
	ck_assert(!source_rates_take(r, SA(p[0]), 0));
	/* A fifth source takes p[1]'s slot ... */
	ck_assert(source_rates_take(r, SA(p[4]), 0));
	ck_assert_uint_eq(r->used, 4);
	/* ... so p[1] is new again (a full bucket), while p[0] was kept. */
	ck_assert(!source_rates_take(r, SA(p[0]), 0));
	ck_assert(source_rates_take(r, SA(p[1]), 0));   /* evicts p[2] */
	ck_assert(!source_rates_take(r, SA(p[3]), 0));
	ck_assert(!source_rates_take(r, SA(p[4]), 0));
	ck_assert_uint_eq(r->used, 4);
	check_rates_consistent(r);
	source_rates_free(r);
}
END_TEST

START_TEST(test_source_rates_bound)
{
	const size_t slots = 1000;
	struct source_rates *r = source_rates_new(1, 3, slots);
	uint32_t x = 42;

	/* Many more sources than slots, some coming back often. */
	for (int step = 0; step < 300000; step++) {
		struct peer p;

		x = x * 1103515245 + 12345;
		p = peer_v4(x & 0x100000 ? 0x0a000000 + (x >> 20) % 500 : 0x0b000000 + (x >> 8));
		source_rates_take(r, SA(p), (uint64_t)step / 100);
		ck_assert_uint_le(r->used, slots);
	}
	ck_assert_uint_eq(r->used, slots);
	check_rates_consistent(r);

	/* The tracked sources are the most recently seen ones: a source seen
	 * last, after its bucket ran dry, is still limited. */
	{
		struct peer q = peer_of("198.51.100.1");
		uint64_t now = 300000 / 100;

		for (int i = 0; i < 3; i++)
			ck_assert(source_rates_take(r, SA(q), now));
		ck_assert(!source_rates_take(r, SA(q), now));
		for (uint32_t i = 0; i < slots - 1; i++) {
			struct peer o = peer_v4(0x0c000000 + i);

			source_rates_take(r, SA(o), now);
		}
		ck_assert(!source_rates_take(r, SA(q), now));
	}
	source_rates_free(r);
}
END_TEST

static Suite *
admit_suite(void)
{
	Suite *s = suite_create("admit");
	TCase *tc;

	tc = tcase_create("sources");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_source_limit);
	tcase_add_test(tc, test_source_v4_mapped_and_unix);
	tcase_add_test(tc, test_source_memory_bounded);
	tcase_add_test(tc, test_source_churn);
	tcase_add_test(tc, test_source_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("rates");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rate_limit);
	tcase_add_test(tc, test_rate_limit_fractional);
	tcase_add_test(tc, test_rate_limit_unlimited);
	tcase_add_test(tc, test_source_rates_per_source);
	tcase_add_test(tc, test_source_rates_eviction);
	tcase_add_test(tc, test_source_rates_bound);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(admit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
