/* Datagram forwarding: each client address gets a session, a socket
 * connected to the upstream; replies from it go back to the client through
 * the listening socket. Sessions end after the endpoint's idle_timeout.
 * Single-threaded: one worker owns a relay and all its sessions. */
#pragma once

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

/* A relay for datagram listener l, registering session sockets in epfd. */
struct udp_relay *udp_relay_new(struct listener *l, int epfd, size_t max_sessions);
void udp_relay_free(struct udp_relay *r);      /* closes every session; accepts NULL */

/* A datagram from a client, which came to src (DGRAM_SRC_NONE: not known): send
 * it upstream (creating its session); replies go back from src. */
void udp_relay_input(struct udp_relay *r, const struct sockaddr *from, socklen_t from_len,
		     const struct dgram_src *src, const uint8_t *data, size_t len, uint64_t now_ms);

/* A session's socket is readable: carry the replies back. */
void udp_relay_upstream(struct udp_session *s, uint64_t now_ms);

/* End sessions idle for longer than the endpoint's idle_timeout; returns
 * when the next one would expire (0 = none). */
uint64_t udp_relay_expire(struct udp_relay *r, uint64_t now_ms);

size_t udp_relay_sessions(const struct udp_relay *r);
