#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "queue.h"

/* A ring under one mutex. The critical sections are a few loads and stores,
 * and the acceptor is the only producer in sockd, so contention is low; the
 * eventfd writes happen outside the lock.
 *
 * Invariant: while the ring holds items, a wake-up for them is pending (an
 * eventfd write not yet seen by a consumer), or a consumer has seen one and
 * has yet to pop, or a producer has yet to publish. A push into an empty
 * ring sets `unannounced`, and the producer's queue_publish() writes; a push
 * into a non-empty ring finds the invariant holding already. A pop that
 * leaves items writes for the next consumer. Wake-ups may be spurious (a
 * consumer pops nothing), never missing. The eventfd is never read: with
 * edge-triggered consumers its count does not matter, and it cannot reach
 * its limit (2^64 - 2 writes). */
struct queue {
	pthread_mutex_t lock;
	void **ring;
	size_t cap;
	size_t head;            /* next to pop */
	size_t len;
	bool unannounced;       /* pushed into an empty ring, not yet published */
	bool want_room;         /* a push failed: signal room_fd on the next pop */
	int efd;
	int room_fd;
};

static void
eventfd_signal(int fd)
{
	uint64_t one = 1;

	/* Only fails with EAGAIN when the counter would overflow, which means
	 * it is readable anyway. */
	(void)!write(fd, &one, sizeof(one));
}

static void
eventfd_drain(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof(v));
}

int
queue_new(size_t capacity, struct queue **out)
{
	struct queue *q;
	int r;

	if (capacity == 0)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->efd = q->room_fd = -1;
	q->cap = capacity;
	q->ring = calloc(capacity, sizeof(*q->ring));
	if (!q->ring) {
		r = -ENOMEM;
		goto out_free;
	}
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->room_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd == -1 || q->room_fd == -1) {
		r = -errno;
		goto out_free;
	}
	pthread_mutex_init(&q->lock, NULL);
	*out = q;
	return 0;

out_free:
	if (q->efd != -1)
		close(q->efd);
	free(q->ring);
	free(q);
	return r;
}

void
queue_free(struct queue *q)
{
	if (!q)
		return;
	close(q->efd);
	close(q->room_fd);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}

int
queue_push(struct queue *q, void *item)
{
	pthread_mutex_lock(&q->lock);
	if (q->len == q->cap) {
		q->want_room = true;
		pthread_mutex_unlock(&q->lock);
		return -EAGAIN;
	}
	if (q->len == 0)
		q->unannounced = true;
	q->ring[(q->head + q->len) % q->cap] = item;
	q->len++;
	pthread_mutex_unlock(&q->lock);
	return 0;
}

void
queue_publish(struct queue *q)
{
	bool wake;

	pthread_mutex_lock(&q->lock);
	wake = q->unannounced;
	q->unannounced = false;
	pthread_mutex_unlock(&q->lock);
	if (wake)
		eventfd_signal(q->efd);
}

void
queue_pass_on(struct queue *q)
{
	if (queue_length(q) > 0)
		eventfd_signal(q->efd);
}

size_t
queue_pop(struct queue *q, void **items, size_t max)
{
	bool room = false, more;
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->len < max ? q->len : max;
	for (size_t i = 0; i < n; i++) {
		items[i] = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
	}
	q->len -= n;
	more = q->len > 0;
	if (n > 0 && q->want_room) {
		q->want_room = false;
		room = true;
	}
	pthread_mutex_unlock(&q->lock);
	if (room)
		eventfd_signal(q->room_fd);
	if (more)
		eventfd_signal(q->efd);
	return n;
}

bool
queue_has_room(struct queue *q)
{
	bool room;

	pthread_mutex_lock(&q->lock);
	room = q->len < q->cap;
	if (!room)
		q->want_room = true;
	pthread_mutex_unlock(&q->lock);
	return room;
}

int
queue_fd(const struct queue *q)
{
	return q->efd;
}

int
queue_room_fd(const struct queue *q)
{
	return q->room_fd;
}

void
queue_room_ack(struct queue *q)
{
	eventfd_drain(q->room_fd);
}

size_t
queue_length(struct queue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}

size_t
queue_capacity(const struct queue *q)
{
	return q->cap;
}
