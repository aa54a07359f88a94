/* Datagram forwarding: each client address gets a session, a socket
 * connected to the upstream; replies from it go back to the client through
 * the listening socket. Sessions end after the endpoint's idle_timeout.
 * Single-threaded: one worker owns a relay and all its sessions; only the
 * budget is shared. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dgram_src;
struct listener;
struct udp_relay;

/* What the worker's epoll data points at for a session's socket (the
 * first member of the session is a struct watch of kind WATCH_UDPSESS). */
struct udp_session;

/* The sessions of every relay together, each holding a file descriptor,
 * may not exceed limit: what stream service needs stays free. Half of it
 * is split evenly: each relay may always hold `share` sessions, so a flood
 * on one endpoint cannot take every session from the others; the rest is a
 * pool that any relay takes from beyond its share. Thread-safe. */
struct udp_budget {
	atomic_ulong open;              /* sessions open, all relays */
	atomic_ulong limit;
	atomic_ulong share;             /* read by a relay when it is created */
	atomic_ulong pool;              /* limit - relays * share */
	atomic_ulong pool_used;
};

/* Size b for `relays` relays (the datagram forward sockets); relays made
 * before keep the share they had. */
void udp_budget_set(struct udp_budget *b, unsigned long limit, size_t relays);

/* The budget for an open-files limit of nofile and daemon.max_connections:
 * nofile - 2 * max_connections, but at least nofile / 4 and at most
 * nofile / 2. Pure. */
unsigned long udp_budget_size(unsigned long nofile, unsigned long max_connections);

/* The same, from this process's RLIMIT_NOFILE. */
unsigned long udp_budget_for_process(unsigned long max_connections);

/* A relay for datagram listener l, registering session sockets in epfd.
 * At most max_sessions sessions, per_source of them (0 = no cap) for one
 * client IP address, and those only while budget allows. */
struct udp_relay *udp_relay_new(struct listener *l, int epfd, size_t max_sessions, unsigned per_source,
				struct udp_budget *budget);
void udp_relay_free(struct udp_relay *r);      /* closes every session; accepts NULL */

/* A datagram from a client, which came to src (DGRAM_SRC_NONE: not known): send
 * it upstream (creating its session); replies go back from src. When a limit
 * is reached, the idlest session that stands in the way ends for the new one. */
void udp_relay_input(struct udp_relay *r, const struct sockaddr *from, socklen_t from_len,
		     const struct dgram_src *src, const uint8_t *data, size_t len, uint64_t now_ms);

/* A session's socket is readable: carry the replies back. A session ended
 * earlier in the same batch of events is ignored: its memory stays until
 * udp_relay_expire, which the worker calls after each batch. */
void udp_relay_upstream(struct udp_session *s, uint64_t now_ms);

/* End sessions idle for longer than the endpoint's idle_timeout and free
 * those ended since the last call; call it between batches of events.
 * Returns when the next one would expire (0 = none). */
uint64_t udp_relay_expire(struct udp_relay *r, uint64_t now_ms);

size_t udp_relay_sessions(const struct udp_relay *r);
