#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "queue.h"

static bool
readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

START_TEST(test_bounded_fifo)
{
	struct queue *q;
	void *out[8];

	ck_assert_int_eq(queue_new(4, &q), 0);
	ck_assert_uint_eq(queue_capacity(q), 4);
	ck_assert(!readable(queue_fd(q)));
	for (uintptr_t i = 1; i <= 4; i++)
		ck_assert_int_eq(queue_push(q, (void *)i), 0);
	ck_assert_int_eq(queue_push(q, (void *)5), -EAGAIN);
	ck_assert_uint_eq(queue_length(q), 4);
	ck_assert(readable(queue_fd(q)));

	ck_assert_uint_eq(queue_pop(q, out, 3), 3);
	ck_assert_ptr_eq(out[0], (void *)1);
	ck_assert_ptr_eq(out[1], (void *)2);
	ck_assert_ptr_eq(out[2], (void *)3);
	ck_assert(readable(queue_fd(q)));

	/* wrap around the ring */
	ck_assert_int_eq(queue_push(q, (void *)6), 0);
	ck_assert_int_eq(queue_push(q, (void *)7), 0);
	ck_assert_int_eq(queue_push(q, (void *)8), 0);
	ck_assert_int_eq(queue_push(q, (void *)9), -EAGAIN);
	ck_assert_uint_eq(queue_pop(q, out, 8), 4);
	ck_assert_ptr_eq(out[0], (void *)4);
	ck_assert_ptr_eq(out[1], (void *)6);
	ck_assert_ptr_eq(out[3], (void *)8);
	ck_assert(!readable(queue_fd(q)));
	ck_assert_uint_eq(queue_pop(q, out, 8), 0);
	queue_free(q);
}
END_TEST

START_TEST(test_zero_capacity)
{
	struct queue *q;

	ck_assert_int_eq(queue_new(0, &q), -EINVAL);
}
END_TEST

START_TEST(test_room_signal)
{
	struct queue *q;
	void *out;

	ck_assert_int_eq(queue_new(1, &q), 0);
	ck_assert_int_eq(queue_push(q, (void *)1), 0);
	ck_assert(!readable(queue_room_fd(q)));
	ck_assert_uint_eq(queue_pop(q, &out, 1), 1);
	/* no push failed, so nobody waits for room */
	ck_assert(!readable(queue_room_fd(q)));

	ck_assert_int_eq(queue_push(q, (void *)2), 0);
	ck_assert_int_eq(queue_push(q, (void *)3), -EAGAIN);
	ck_assert(!readable(queue_room_fd(q)));
	ck_assert_uint_eq(queue_pop(q, &out, 1), 1);
	ck_assert(readable(queue_room_fd(q)));
	queue_room_ack(q);
	ck_assert(!readable(queue_room_fd(q)));

	/* asking for room on a full queue arms the signal too */
	ck_assert_int_eq(queue_push(q, (void *)4), 0);
	ck_assert(!queue_has_room(q));
	ck_assert(!readable(queue_room_fd(q)));
	ck_assert_uint_eq(queue_pop(q, &out, 1), 1);
	ck_assert(readable(queue_room_fd(q)));
	ck_assert(queue_has_room(q));
	queue_free(q);
}
END_TEST

#define PRODUCERS 3
#define CONSUMERS 3
#define PER_PRODUCER 100000

static struct queue *cq;
static _Atomic unsigned char seen[PRODUCERS * PER_PRODUCER];
static atomic_long consumed;
static atomic_long full_hits;

static void *
producer(void *arg)
{
	uintptr_t base = (uintptr_t)arg * PER_PRODUCER;

	for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
		/* +1: never push NULL, so a bogus NULL pop is detectable */
		while (queue_push(cq, (void *)(base + i + 1)) == -EAGAIN) {
			struct pollfd p = { .fd = queue_room_fd(cq), .events = POLLIN };

			atomic_fetch_add(&full_hits, 1);
			poll(&p, 1, 10);
			queue_room_ack(cq);
		}
	}
	return NULL;
}

static void *
consumer(void *arg)
{
	void *items[16];

	while (atomic_load(&consumed) < PRODUCERS * PER_PRODUCER) {
		struct pollfd p = { .fd = queue_fd(cq), .events = POLLIN };
		size_t n;

		poll(&p, 1, 10);
		n = queue_pop(cq, items, 16);
		for (size_t i = 0; i < n; i++) {
			uintptr_t v = (uintptr_t)items[i];

			ck_assert(v >= 1 && v <= PRODUCERS * PER_PRODUCER);
			ck_assert_int_eq(atomic_fetch_add(&seen[v - 1], 1), 0);
		}
		atomic_fetch_add(&consumed, (long)n);
	}
	return NULL;
}

/* Every item pushed by concurrent producers through a small queue is popped
 * exactly once by concurrent consumers, and nobody waits forever. */
START_TEST(test_concurrent)
{
	pthread_t p[PRODUCERS], c[CONSUMERS];

	ck_assert_int_eq(queue_new(64, &cq), 0);
	for (uintptr_t i = 0; i < CONSUMERS; i++)
		ck_assert_int_eq(pthread_create(&c[i], NULL, consumer, NULL), 0);
	for (uintptr_t i = 0; i < PRODUCERS; i++)
		ck_assert_int_eq(pthread_create(&p[i], NULL, producer, (void *)i), 0);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(c[i], NULL);

	ck_assert_int_eq(atomic_load(&consumed), PRODUCERS * PER_PRODUCER);
	for (size_t i = 0; i < PRODUCERS * PER_PRODUCER; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_uint_eq(queue_length(cq), 0);
	ck_assert(!readable(queue_fd(cq)));
	queue_free(cq);
}
END_TEST

static Suite *
queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_bounded_fifo);
	tcase_add_test(tc, test_zero_capacity);
	tcase_add_test(tc, test_room_signal);
	tcase_add_test(tc, test_concurrent);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(queue_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
