#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "queue.h"

static bool
readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* A consumer's view of queue_fd(): an edge-triggered epoll set. */
static int
watch(struct queue *q)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET | EPOLLEXCLUSIVE };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	ck_assert_int_ge(ep, 0);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, queue_fd(q), &ev), 0);
	return ep;
}

/* Whether a wake-up arrived since the last call (and consume it). */
static bool
woken(int ep)
{
	struct epoll_event ev;

	return epoll_wait(ep, &ev, 1, 0) == 1;
}

START_TEST(test_bounded_fifo)
{
	struct queue *q;
	void *out[8];
	int ep;

	ck_assert_int_eq(queue_new(4, &q), 0);
	ep = watch(q);
	ck_assert_uint_eq(queue_capacity(q), 4);
	ck_assert(!woken(ep));
	for (uintptr_t i = 1; i <= 4; i++)
		ck_assert_int_eq(queue_push(q, (void *)i), 0);
	ck_assert_int_eq(queue_push(q, (void *)5), -EAGAIN);
	ck_assert_uint_eq(queue_length(q), 4);
	/* a batch is announced when published, and once */
	ck_assert(!woken(ep));
	queue_publish(q);
	ck_assert(woken(ep));
	queue_publish(q);
	ck_assert(!woken(ep));

	/* a pop that leaves items passes the wake-up on */
	ck_assert_uint_eq(queue_pop(q, out, 3), 3);
	ck_assert_ptr_eq(out[0], (void *)1);
	ck_assert_ptr_eq(out[1], (void *)2);
	ck_assert_ptr_eq(out[2], (void *)3);
	ck_assert(woken(ep));

	/* wrap around the ring; pushing into a non-empty ring needs no
	 * wake-up, since the one passed on has not been followed yet */
	ck_assert_int_eq(queue_push(q, (void *)6), 0);
	ck_assert_int_eq(queue_push(q, (void *)7), 0);
	ck_assert_int_eq(queue_push(q, (void *)8), 0);
	ck_assert_int_eq(queue_push(q, (void *)9), -EAGAIN);
	queue_publish(q);
	ck_assert(!woken(ep));
	ck_assert_uint_eq(queue_pop(q, out, 8), 4);
	ck_assert_ptr_eq(out[0], (void *)4);
	ck_assert_ptr_eq(out[1], (void *)6);
	ck_assert_ptr_eq(out[3], (void *)8);
	ck_assert(!woken(ep));
	ck_assert_uint_eq(queue_pop(q, out, 8), 0);
	ck_assert(!woken(ep));

	/* a consumer that leaves hands its wake-up on only if it matters */
	queue_pass_on(q);
	ck_assert(!woken(ep));
	ck_assert_int_eq(queue_push(q, (void *)10), 0);
	queue_pass_on(q);
	ck_assert(woken(ep));
	close(ep);
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
#define WAIT_MS 1000

static struct queue *cq;
static int stop_fd;
static _Atomic unsigned char seen[PRODUCERS * PER_PRODUCER];
static atomic_long consumed;
static atomic_long stalls;

static void *
producer(void *arg)
{
	uintptr_t base = (uintptr_t)arg * PER_PRODUCER;
	unsigned seed = (unsigned)base;

	for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
		/* +1: never push NULL, so a bogus NULL pop is detectable */
		while (queue_push(cq, (void *)(base + i + 1)) == -EAGAIN) {
			struct pollfd p = { .fd = queue_room_fd(cq), .events = POLLIN };

			queue_publish(cq);
			poll(&p, 1, 10);
			queue_room_ack(cq);
		}
		/* batches of 1 to 8, like accept rounds */
		if (rand_r(&seed) % 8 == 0)
			queue_publish(cq);
	}
	queue_publish(cq);
	return NULL;
}

/* Pops once per wake-up, as a worker does. A wait that times out while
 * items wait and nobody consumed anything since the previous timeout is a
 * lost wake-up (two in a row, so a merely slow machine does not count). */
static void *
consumer(void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 1 };
	int ep = watch(cq);
	long before = -1;
	void *items[8];

	(void)arg;
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &ev), 0);
	for (;;) {
		int n = epoll_wait(ep, &ev, 1, WAIT_MS);
		size_t got;

		if (n == 1 && ev.data.u32 == 1)
			break;
		if (n == 0) {
			long now = atomic_load(&consumed);

			if (queue_length(cq) > 0 && now == before)
				atomic_fetch_add(&stalls, 1);
			before = now;
		}
		got = queue_pop(cq, items, 8);
		for (size_t i = 0; i < got; i++) {
			uintptr_t v = (uintptr_t)items[i];

			ck_assert(v >= 1 && v <= PRODUCERS * PER_PRODUCER);
			ck_assert_int_eq(atomic_fetch_add(&seen[v - 1], 1), 0);
		}
		atomic_fetch_add(&consumed, (long)got);
	}
	close(ep);
	return NULL;
}

/* Every item pushed by concurrent producers through a small queue is popped
 * exactly once by concurrent edge-triggered consumers, and no wake-up is
 * lost. */
START_TEST(test_concurrent)
{
	pthread_t p[PRODUCERS], c[CONSUMERS];
	uint64_t one = 1;

	ck_assert_int_eq(queue_new(64, &cq), 0);
	stop_fd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(stop_fd, 0);
	for (uintptr_t i = 0; i < CONSUMERS; i++)
		ck_assert_int_eq(pthread_create(&c[i], NULL, consumer, NULL), 0);
	for (uintptr_t i = 0; i < PRODUCERS; i++)
		ck_assert_int_eq(pthread_create(&p[i], NULL, producer, (void *)i), 0);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	for (int i = 0; i < 60000 && atomic_load(&consumed) < PRODUCERS * PER_PRODUCER; i++)
		usleep(1000);
	ck_assert_int_eq(write(stop_fd, &one, sizeof(one)), sizeof(one));
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(c[i], NULL);

	ck_assert_int_eq(atomic_load(&stalls), 0);
	ck_assert_int_eq(atomic_load(&consumed), PRODUCERS * PER_PRODUCER);
	for (size_t i = 0; i < PRODUCERS * PER_PRODUCER; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_uint_eq(queue_length(cq), 0);
	close(stop_fd);
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
