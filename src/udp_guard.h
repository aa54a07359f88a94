/* Reflection guard for datagram services: should a reply go to this source?
 * Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Extra IPv4 broadcast addresses to refuse (the interfaces' broadcast
 * addresses), network byte order. */
struct udp_guard_bcast {
	const struct in_addr *addrs;
	size_t n;
};

/* Returns true when a reply to src may be sent. local_is_loopback says the
 * receiving socket is bound to a loopback address: only then are loopback
 * sources answered. Refused: source ports < 1024 and 2049, multicast,
 * limited and listed broadcast, 0.0.0.0/8, unspecified IPv6, and loopback
 * unless local_is_loopback. v4-mapped IPv6 is judged as IPv4. Non-IP
 * families (AF_UNIX) are always allowed. */
bool udp_guard_allow(const struct sockaddr *src, socklen_t len, bool local_is_loopback,
		     const struct udp_guard_bcast *bcast);

/* True when the address (IPv4, IPv6 or v4-mapped) is a loopback or, for the
 * wildcard case, false. Used to decide local_is_loopback for a socket. */
bool udp_guard_is_loopback(const struct sockaddr *sa, socklen_t len);
