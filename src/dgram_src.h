/* The address a datagram came to, so that its reply leaves from there.
 *
 * A socket bound to a wildcard address (0.0.0.0, ::) on a host with
 * several addresses would otherwise answer from whichever address the
 * route back to the client prefers; a client that checks where replies
 * come from (any connected UDP socket) drops such a reply. Pure, apart
 * from dgram_src_enable. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum dgram_src_kind { DGRAM_SRC_NONE, DGRAM_SRC_V4, DGRAM_SRC_V6 };

struct dgram_src {
	enum dgram_src_kind kind;       /* NONE: not known (zeroed) */
	union {
		struct in_pktinfo v4;   /* ipi_spec_dst: the source to use */
		struct in6_pktinfo v6;  /* ipi6_addr */
	} info;
};

/* Room for one source control message, received or sent. */
#define DGRAM_SRC_SPACE CMSG_SPACE(sizeof(struct in6_pktinfo))

/* A control buffer for one source message, aligned for its header. */
union dgram_src_buf {
	char buf[DGRAM_SRC_SPACE];
	struct cmsghdr align;
};

/* Whether a socket bound to sa needs this: an inet wildcard address. */
bool dgram_src_needed(const struct sockaddr *sa, socklen_t len);

/* Have fd (AF_INET or AF_INET6) report each datagram's destination.
 * 0 or -errno. */
int dgram_src_enable(int fd, int family);

/* The destination of a received datagram, from h's control messages, as
 * the source of its reply; src->kind is DGRAM_SRC_NONE when h
 * has none. */
void dgram_src_from_msg(const struct msghdr *h, struct dgram_src *src);

/* Write src as a control message at at (DGRAM_SRC_SPACE bytes, aligned
 * for a struct cmsghdr); the bytes used, 0 for DGRAM_SRC_NONE. */
size_t dgram_src_put(const struct dgram_src *src, void *at);

bool dgram_src_equal(const struct dgram_src *a, const struct dgram_src *b);
