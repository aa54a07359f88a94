/* The service table: what runs behind an endpoint. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct conn;
struct conn_aux;
struct endpoint;
struct key_set;

enum {
	SERVICE_STREAM = 1 << 0,        /* tcp, unix, unix-seqpacket */
	SERVICE_DGRAM = 1 << 1,         /* udp, unix-dgram */
	SERVICE_OPAQUE = 1 << 2,        /* the bytes bypass sockd: no idle_timeout, no
					 * byte counts (conn.detail says what is known) */
	SERVICE_LOG_INFO = 1 << 3,      /* log each connection at info (else at debug) */
};

/* Per-datagram context handed to a service's dgram handler. */
struct dgram_ctx {
	const struct endpoint *ep;
	uint64_t *rand_state;           /* the worker's PRNG state (xorshift64) */
	uint8_t *buf;                   /* reply scratch, DGRAM_REPLY_MAX bytes */
};

#define DGRAM_REPLY_MAX 1024

/* xorshift64: cheap, non-cryptographic (chargen reply lengths). */
static inline uint64_t
xorshift_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

struct service {
	const char *name;
	unsigned flags;                 /* SERVICE_STREAM | SERVICE_DGRAM */

	/* The keys this service owns (only allowed on its endpoints), stored
	 * in its own options struct at endpoint->svc_opts; NULL: none. */
	const struct key_set *keys;

	/* Connections the endpoint may have open at once for this service
	 * (exec: instances); the acceptor counts them when it accepts. 0 or
	 * NULL: no limit of the service's own. */
	unsigned (*max_active)(const struct endpoint *ep);

	/* Stream: the worker now owns c. The service sets its interest with
	 * conn_want(), sends with conn_send(), or ends with conn_close() or
	 * conn_finish(). Must not block. */
	void (*conn_start)(struct conn *c);

	/* Stream: c is ready (EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR). Must not
	 * touch c after closing it. Only called when c has no unsent output. */
	void (*conn_io)(struct conn *c, uint32_t events);

	/* Stream: an auxiliary fd of c is ready (see conn_aux_add). */
	void (*conn_aux_io)(struct conn *c, struct conn_aux *aux, uint32_t events);

	/* Stream: the socket c handed to a program (conn_handoff) hung up both
	 * ways, or failed: its peer is gone. Called once at most. */
	void (*conn_hangup)(struct conn *c);

	/* Stream: the deadline set with conn_set_timer passed. NULL: close c. */
	void (*conn_timeout)(struct conn *c);

	/* Stream: c is closing; close the service's own fds, stop children.
	 * svc_state is freed by the worker afterwards. Optional. */
	void (*conn_free)(struct conn *c);

	/* The daemon is stopping (drain) or giving up on c (abort): e.g. send
	 * SIGTERM or SIGKILL to a child. Optional. */
	void (*conn_stop)(struct conn *c, bool force);

	/* Datagram: the reply to one request of len bytes at in. Set *out to in,
	 * to static data or to ctx->buf, and return its length; or return -1
	 * to send nothing. */
	ssize_t (*dgram_reply)(struct dgram_ctx *ctx, const uint8_t *in, size_t len,
			       const uint8_t **out);
};

/* NULL when no service has that name. */
const struct service *service_lookup(const char *name);

/* The names of all services, NULL-terminated, for messages. */
extern const struct service *const service_table[];

extern const struct service service_echo;
extern const struct service service_discard;
extern const struct service service_chargen;
extern const struct service service_daytime;
extern const struct service service_time;
extern const struct service service_exec;
extern const struct service service_forward;
extern const struct service service_metrics;
