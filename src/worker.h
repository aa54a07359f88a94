/* Worker threads: each runs its own epoll loop over many connections and
 * over the datagram sockets it owns. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct endpoint;
struct listener;
struct sockd;
struct worker;

/* What an epoll_event's data.ptr points at: the first member of every
 * watched object, so the loop can tell them apart. */
enum watch_kind { WATCH_CONN, WATCH_DGRAM, WATCH_QUEUE, WATCH_MAIL };

struct watch {
	enum watch_kind kind;
};

/* An accepted stream connection. The acceptor creates it (conn_new) and
 * pushes it through the queue; from then on the worker that popped it owns
 * it and its fd until conn_close(). */
struct conn {
	struct watch watch;
	int fd;
	uint32_t want;                  /* the service's epoll interest */
	uint32_t armed;                 /* what epoll has now */
	struct endpoint *ep;            /* holds a reference */
	struct worker *w;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;                         /* zeroed (AF_UNSPEC) for Unix peers */
	socklen_t peer_len;
	int socktype;

	uint8_t *out;                   /* unsent output, malloc'd, or NULL */
	uint32_t out_len;
	uint32_t out_off;
	bool finishing;                 /* after output: shut down writes, linger, close */
	bool lingering;                 /* writes shut down; waiting for the peer's EOF */

	uint64_t svc;                   /* service state (chargen position, ...) */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t started_ms;            /* CLOCK_MONOTONIC */
	uint64_t deadline_ms;           /* 0 = none */
	uint32_t heap_idx;              /* position in the worker's timer heap */

	struct conn *prev, *next;       /* the worker's list of connections */
};

/* Allocate a connection for an accepted fd (takes a reference on ep).
 * NULL when out of memory; the fd is then still the caller's. */
struct conn *conn_new(int fd, struct endpoint *ep, int socktype,
		      const struct sockaddr *peer, socklen_t peer_len);

/* Close and free a connection that never reached a worker. */
void conn_discard(struct conn *c);

/* --- for services, from inside conn_start/conn_io --- */

/* Set the epoll interest (EPOLLIN, EPOLLOUT or both, or 0). */
void conn_want(struct conn *c, uint32_t events);

/* Send len bytes. What the socket does not take now is kept and sent when it
 * is writable; meanwhile conn_io is not called. 0 or -errno (the connection
 * is then already closed and freed). */
int conn_send(struct conn *c, const void *buf, size_t len);

/* Close now and free c. */
void conn_close(struct conn *c);

/* Orderly end: send what is pending, shut down writing, discard input until
 * the peer closes (at most a few seconds), then close. */
void conn_finish(struct conn *c);

/* The worker's scratch buffer, valid until the handler returns. */
uint8_t *conn_scratch(struct conn *c, size_t *size);

/* A non-blocking read/write that counts bytes; -errno on failure, 0 on EOF. */
ssize_t conn_read(struct conn *c, void *buf, size_t len);
ssize_t conn_write(struct conn *c, const void *buf, size_t len);

/* --- for the daemon --- */

int worker_start(struct sockd *d, unsigned id, struct worker **out);

/* Give a datagram listener to w (thread-safe; takes a reference on l->ep,
 * the listener stays owned by the caller and must outlive w's use of it). */
int worker_add_dgram(struct worker *w, struct listener *l);

/* Graceful stop: close datagram sockets, serve what is queued and open,
 * exit when no connection is left. Thread-safe. */
void worker_drain(struct worker *w);

/* Close every connection now and exit. Thread-safe. */
void worker_abort(struct worker *w);

/* Wait for the thread and free w. */
void worker_join(struct worker *w);
