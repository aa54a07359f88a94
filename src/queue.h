/* Bounded multi-producer multi-consumer FIFO of pointers. Never blocks.
 *
 * queue_fd() is an eventfd that is readable whenever the queue may hold
 * items: consumers put it in their epoll set (EPOLLEXCLUSIVE) and pop up to
 * QUEUE_BATCH at a time. A push signals it (waking one consumer) when the
 * queue was empty and then once per QUEUE_BATCH items, not for each. queue_room_fd() becomes readable after a pop that follows a
 * failed (full) push, so a producer can wait for room without polling. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define QUEUE_BATCH 8

struct queue;

int queue_new(size_t capacity, struct queue **out);     /* 0 or -errno */
void queue_free(struct queue *q);                        /* accepts NULL; items are not freed */

/* 0, or -EAGAIN when full (ownership of item stays with the caller). */
int queue_push(struct queue *q, void *item);

/* Move up to max items into items[], oldest first; returns how many. */
size_t queue_pop(struct queue *q, void **items, size_t max);

/* True when a push would succeed now. When false, room_fd is signalled
 * after the next pop, as after a failed push. */
bool queue_has_room(struct queue *q);

int queue_fd(const struct queue *q);
int queue_room_fd(const struct queue *q);
void queue_room_ack(struct queue *q);   /* consume a room notification */
size_t queue_length(struct queue *q);
size_t queue_capacity(const struct queue *q);
