/* Connection lifetime and I/O helpers: what a stream service calls on a
 * connection, and the per-thread set of connections a worker drives
 * (adopt, dispatch, expire, free). Single-threaded: a connection belongs to
 * one worker's loop from conn_adopt() to its end. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "timer.h"
#include "watch.h"

struct endpoint;
struct sockd;
struct tls_conn;

#define CONN_PIPE_POOL 32               /* empty pipes a worker keeps for splice */
#define CONN_NO_SLOT UINT32_MAX
/* epoll data with this bit set is a handed-off socket (conn_handoff), not
 * a struct watch: pointers are aligned, so the low bit is free. */
#define CONN_HANDOFF_TAG 1u

/* A socket handed to a child (conn_handoff) and still watched; the epoll
 * registration names the slot and its generation, never the connection,
 * because it outlives our fd and may outlive the connection too. */
struct conn_handoff_slot {
	struct conn *c;                 /* NULL when free */
	uint32_t gen;                   /* bumped when freed: stale events miss */
	uint32_t next_free;
};

/* What the connections of one worker thread share. The worker owns it and
 * runs its loop; everything else here belongs to the connection layer. */
struct conn_loop {
	struct sockd *d;
	unsigned id;                    /* the worker's number, for messages */
	int epfd;
	uint64_t now_ms;                /* CLOCK_MONOTONIC, taken once per round */
	uint8_t *scratch;
	int pipes[CONN_PIPE_POOL][2];
	unsigned n_pipes;
	struct conn *graveyard;         /* closed during this batch, freed after it */
	struct conn *again;             /* conn_again(): run once more after this batch */
	struct conn *conns;
	unsigned n_conns;
	struct timer_heap timers;
	struct conn_handoff_slot *handoffs;     /* sockets handed to children (conn_handoff) */
	uint32_t n_handoffs;
	uint32_t free_handoff;          /* head of the free list, CONN_NO_SLOT = none */

	/* Fault injection for the watchdog test: $SOCKD_FAULT_STALL_MS makes
	 * the first worker to take a connection of an endpoint named
	 * "fault-stall" hang that long, once. */
	unsigned long fault_stall_ms;

	/* Failed TLS handshakes: one line per TLS_LOG_MS per worker, then a
	 * count of the ones not logged. */
	uint64_t tls_logged_ms;
	unsigned long tls_unlogged;
};

/* An accepted stream connection. The acceptor creates it (conn_new) and
 * pushes it through the queue; from then on the worker that popped it owns
 * it and its fd until conn_close(). */
struct conn {
	struct watch watch;
	int fd;
	uint32_t want;                  /* the service's epoll interest */
	uint32_t armed;                 /* what epoll has now */
	bool registered;                /* in the worker's epoll set (at the first conn_want) */
	struct endpoint *ep;            /* holds a reference */
	struct conn_loop *loop;        /* the worker serving it, from conn_adopt() */
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

	bool source_counted;            /* holds a count in ep->sources */
	bool closed;                    /* closed; freed after the current event batch */
	bool proxied;                   /* peer/local come from a PROXY header */
	const char *outcome;            /* why it ended, for the log line; NULL = "closed" */
	const char *detail;             /* the service's own fields for the log line, or NULL */
	uint32_t handoff;               /* its slot in the worker's handoff table + 1, 0 = none */
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} local;                        /* for PROXY headers and exec; AF_UNSPEC until known */
	socklen_t local_len;
	void *svc_state;                /* the service's own allocation, freed by conn_free */
	uint8_t *proxy_buf;             /* waiting for a PROXY header: what arrived of it */
	uint32_t proxy_have;
	struct tls_conn *tls;           /* the endpoint has tls: the records of c->fd */
	bool tls_ready;                 /* its handshake is done: the service runs */
	uint32_t tls_cross;             /* TLS needs this epoll event for the service's
					 * read (EPOLLOUT) or write (EPOLLIN) to go on */

	uint64_t svc;                   /* service state (chargen position, ...) */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t started_ms;            /* CLOCK_MONOTONIC */
	uint64_t active_ms;             /* last byte in or out */
	uint64_t linger_until_ms;       /* while lingering */
	uint64_t timer_ms;              /* the service's own deadline (conn_set_timer), 0 = none */
	struct timer timer;             /* in the worker's timer heap: when it looks at c next */

	struct conn *prev, *next;       /* the worker's list of connections */
	struct conn *again_next;        /* the worker's again list, while again */
	bool again;                     /* conn_again() was called this round */
};

/* Allocate a connection for an accepted fd (takes a reference on ep).
 * NULL when out of memory; the fd is then still the caller's. */
struct conn *conn_new(int fd, struct endpoint *ep, int socktype,
		      const struct sockaddr *peer, socklen_t peer_len);

/* Close and free a connection that never reached a worker, undoing what
 * the acceptor counted for it (endpoint, source and daemon totals). */
void conn_discard(struct sockd *d, struct conn *c);

/* --- for services, from inside conn_start/conn_io --- */

/* Set the epoll interest (EPOLLIN, EPOLLOUT or both, with any other epoll
 * flag such as EPOLLET), or 0: not watched at all, not even for hangups. */
void conn_want(struct conn *c, uint32_t events);

/* Call conn_io(c, 0) once more after the current batch of events, before
 * the worker waits again: for an edge-triggered service that stopped on
 * its budget while input may still be waiting (no new edge will come). */
void conn_again(struct conn *c);

/* Send len bytes. What the socket does not take now is kept and sent when it
 * is writable; meanwhile conn_io is not called. 0 or -errno (the connection
 * is then already closed and freed). */
int conn_send(struct conn *c, const void *buf, size_t len);

/* Close c now (its fds, its counts); the memory goes after the current
 * event batch, so a later event of the same batch finds it closed. */
void conn_close(struct conn *c);

/* A second fd watched for c (an upstream socket, a child's pidfd). Embed it
 * in the service's state; the service closes the fd itself. */
struct conn_aux {
	struct watch watch;
	struct conn *c;
	int fd;
	uint32_t armed;
	bool added;
};

/* Attach fd to c as aux, watched for nothing yet; conn_aux_want() sets
 * the interest (0 or -errno), conn_aux_close() detaches and closes fd. */
void conn_aux_init(struct conn *c, struct conn_aux *aux, int fd);
int conn_aux_want(struct conn_aux *aux, uint32_t events);
void conn_aux_close(struct conn_aux *aux);

/* Replace c's fd (closing the old one) with fd, watched for nothing yet
 * (conn_want() sets the interest). */
void conn_replace_fd(struct conn *c, int fd);

/* Like conn_replace_fd, for a socket a child process now holds: close
 * our copy (so the peer sees EOF as soon as the child lets go), yet hear
 * once, through the service's conn_hangup, if the socket hangs up both
 * ways or fails while c lives. 0, or -errno when it cannot be watched
 * (c has fd all the same). */
int conn_handoff(struct conn *c, int fd);

/* Whether c's bytes go through TLS in sockd (not kTLS): the service must
 * use conn_read/conn_write on it, never the fd itself. */
static inline bool
conn_tls(const struct conn *c)
{
	return c->tls != NULL;
}

/* No more output: close_notify first on TLS, then shutdown(SHUT_WR). */
void conn_shutdown_write(struct conn *c);

/* Bytes moved without conn_read/conn_write (splice): count them. */
void conn_count(struct conn *c, size_t in, size_t out);

/* An empty pipe from the worker's pool (for splice), or -errno; give it
 * back with conn_pipe_put only once empty, else close it. */
int conn_pipe_get(struct conn *c, int p[2]);
void conn_pipe_put(struct conn *c, int p[2]);

/* Set c's own deadline (connect or PROXY timeout), 0 to clear: the timer
 * calls the service's conn_timeout, or closes c if it has none. */
void conn_set_timer(struct conn *c, uint64_t deadline_ms);
uint64_t conn_now_ms(const struct conn *c);

/* Orderly end: send what is pending, shut down writing, discard input until
 * the peer closes (at most a few seconds), then close. */
void conn_finish(struct conn *c);

/* The worker's scratch buffer, valid until the handler returns. */
uint8_t *conn_scratch(struct conn *c, size_t *size);

/* A non-blocking read/write that counts bytes; -errno on failure, 0 on EOF.
 * On a TLS endpoint they move plaintext through the connection's TLS. */
ssize_t conn_read(struct conn *c, void *buf, size_t len);
ssize_t conn_write(struct conn *c, const void *buf, size_t len);

/* Like conn_read, for input that is thrown away: on TCP the kernel drops
 * it without copying (MSG_TRUNC) and buf is left alone, so len may be
 * large; elsewhere it is read into buf. */
ssize_t conn_drop(struct conn *c, void *buf, size_t len);

/* --- for the worker that runs the loop --- */

/* Set up lp for worker id of d (epfd is the caller's to fill in): 0 or
 * -ENOMEM. conn_loop_free() releases what it holds, not the connections. */
int conn_loop_init(struct conn_loop *lp, struct sockd *d, unsigned id);
void conn_loop_free(struct conn_loop *lp);

/* The worker took c from the queue: c is now lp's; start its service. */
void conn_adopt(struct conn_loop *lp, struct conn *c);

/* An epoll event for c. */
void conn_dispatch(struct conn *c, uint32_t events);

/* An epoll event whose data has CONN_HANDOFF_TAG: a handed-off socket. */
void conn_handoff_event(struct conn_loop *lp, uint64_t data);

/* After a batch of events: run what asked to run again (conn_again), act on
 * the deadlines that passed, then free what was closed meanwhile. */
void conn_loop_run_again(struct conn_loop *lp);
void conn_loop_expire(struct conn_loop *lp);
void conn_loop_bury(struct conn_loop *lp);
