/* Worker threads: each runs its own epoll loop over many connections
 * (conn.c) and over the datagram sockets it owns (dgram.c), fed by the
 * acceptor's queue. The daemon's main thread starts, steers and joins them. */
#pragma once

#include <stdbool.h>

struct listener;
struct sockd;
struct worker;

int worker_start(struct sockd *d, unsigned id, struct worker **out);

/* Give a datagram listener to w (thread-safe; takes a reference on l->ep,
 * the listener stays owned by the caller and must outlive w's use of it). */
int worker_add_dgram(struct worker *w, struct listener *l);

/* Stop serving datagram sockets; returns once w no longer touches them. */
void worker_release_dgrams(struct worker *w);

/* Graceful stop: close datagram sockets, serve what is queued and open,
 * exit when no connection is left. Thread-safe. */
void worker_drain(struct worker *w);

/* Leave the pool (reload with fewer workers): take no new connections,
 * finish the open ones, then exit. Thread-safe. */
void worker_retire(struct worker *w);

/* True once w's thread has left its loop (then worker_join is quick). */
bool worker_exited(struct worker *w);

/* Watchdog: ask w to answer; worker_answered() is true once it has
 * come round its loop since the last worker_ping(). */
void worker_ping(struct worker *w);
bool worker_answered(struct worker *w);

/* Close every connection now and exit. Thread-safe. */
void worker_abort(struct worker *w);

/* Wait for the thread and free w. */
void worker_join(struct worker *w);
