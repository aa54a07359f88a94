/* Datagram sockets (udp, unix-dgram) a worker serves: recvmmsg batches in,
 * the service's replies (or the relay's sessions) out with sendmmsg, in
 * UDP_SEGMENT trains where the socket allows. Single-threaded: one worker
 * owns a dgram_sock and the batch it serves it with. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "watch.h"

struct listener;
struct source_rates;
struct udp_budget;
struct udp_relay;

/* A datagram socket this worker serves. The listener owns the fd. */
struct dgram_sock {
	struct watch watch;
	struct listener *l;
	struct source_rates *rates;     /* udp_rate per source, or NULL */
	struct udp_relay *relay;        /* service forward: the sessions, or NULL */
	bool no_gso;                    /* UDP_SEGMENT failed here once: send one by one */
	uint64_t rate_logged_ms;        /* a udp_rate drop was last logged; 0 = never */
	unsigned long rate_unlogged;    /* drops since */
	bool reply_src;                 /* on a wildcard address: each reply leaves
					 * from the address its request came to */
	struct dgram_sock *next;
};

/* Scratch for one batch: large (2 MiB), one per worker. */
struct dgram_batch;

/* A dgram_sock for listener l (the listener keeps its fd); a forward
 * endpoint's relay registers its session sockets in epfd and takes its
 * sessions from budget (the daemon's, shared). NULL on ENOMEM.
 * Logs a warning when replies cannot leave from the request's address. */
struct dgram_sock *dgram_sock_new(struct listener *l, int epfd, struct udp_budget *budget);
void dgram_sock_free(struct dgram_sock *ds);

/* Allocate a batch (NULL on ENOMEM); free() it. */
struct dgram_batch *dgram_batch_new(void);

/* ds is readable: answer what is waiting, a few batches at most, and count
 * each reply sent in *served. Never blocks. */
void dgram_serve(struct dgram_sock *ds, struct dgram_batch *b, uint64_t *rand_state, uint64_t now_ms,
		 atomic_ulong *served);

/* End the relay sessions of ds that are idle; when the next one expires
 * (0 = none, or ds has no relay). */
uint64_t dgram_expire(struct dgram_sock *ds, uint64_t now_ms);
