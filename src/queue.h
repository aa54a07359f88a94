/* Bounded multi-producer multi-consumer FIFO of pointers. Never blocks.
 *
 * Wake-ups: queue_fd() is an eventfd that is written and never drained.
 * Consumers watch it with EPOLLIN | EPOLLET | EPOLLEXCLUSIVE, so each write
 * is one wake-up for one idle consumer (or an event waiting for a busy
 * one), and on every wake-up a consumer pops. A producer pushes a batch and
 * then calls queue_publish() once: it writes the eventfd if the batch went
 * into an empty queue (otherwise a wake-up is already on its way). A pop
 * that leaves items behind writes it again, passing the rest on to the next
 * idle consumer; a consumer that stops watching must call queue_pass_on()
 * in case the last wake-up was meant for it.
 *
 * queue_room_fd() becomes readable after a pop that follows a failed (full)
 * push, so a producer can wait for room without polling. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct queue;

int queue_new(size_t capacity, struct queue **out);     /* 0 or -errno */
void queue_free(struct queue *q);                        /* accepts NULL; items are not freed */

/* 0, or -EAGAIN when full (ownership of item stays with the caller).
 * Consumers learn of the item at the next queue_publish(). */
int queue_push(struct queue *q, void *item);

/* Wake a consumer for what was pushed since the last call, if needed. */
void queue_publish(struct queue *q);

/* Wake a consumer if items are waiting (for a consumer that leaves). */
void queue_pass_on(struct queue *q);

/* Move up to max items into items[], oldest first; returns how many.
 * Wakes another consumer when items remain. */
size_t queue_pop(struct queue *q, void **items, size_t max);

/* True when a push would succeed now. When false, room_fd is signalled
 * after the next pop, as after a failed push. */
bool queue_has_room(struct queue *q);

int queue_fd(const struct queue *q);
int queue_room_fd(const struct queue *q);
void queue_room_ack(struct queue *q);   /* consume a room notification */
size_t queue_length(struct queue *q);
size_t queue_capacity(const struct queue *q);
