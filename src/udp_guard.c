#include <arpa/inet.h>
#include <string.h>

#include "udp_guard.h"

/* NFS serves on 2049, above the reserved ports: never reflect into it. */
#define PORT_NFS 2049

static bool
v4_is_loopback(const struct in_addr *a)
{
	return (ntohl(a->s_addr) >> 24) == 127;
}

/* The IPv4 address inside ::ffff:a.b.c.d. */
static struct in_addr
v6_mapped_v4(const struct in6_addr *a)
{
	struct in_addr v4;

	memcpy(&v4.s_addr, &a->s6_addr[12], sizeof(v4.s_addr));
	return v4;
}

static bool
v4_allow(const struct in_addr *a, bool local_is_loopback, const struct udp_guard_bcast *bcast)
{
	uint32_t h = ntohl(a->s_addr);

	if ((h >> 24) == 0)
		return false;
	if ((h >> 24) == 127 && !local_is_loopback)
		return false;
	if (IN_MULTICAST(h))
		return false;
	if (h == INADDR_BROADCAST)
		return false;
	if (bcast != NULL)
		for (size_t i = 0; i < bcast->n; i++)
			if (bcast->addrs[i].s_addr == a->s_addr)
				return false;
	return true;
}

static bool
port_allow(in_port_t port)
{
	uint16_t p = ntohs(port);

	return p >= IPPORT_RESERVED && p != PORT_NFS;
}

bool
udp_guard_allow(const struct sockaddr *src, socklen_t len, bool local_is_loopback,
		const struct udp_guard_bcast *bcast)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	struct in_addr v4;

	if (src == NULL || len < (socklen_t)sizeof(sa_family_t))
		return false;

	switch (src->sa_family) {
	case AF_INET:
		if (len < (socklen_t)sizeof(*sin))
			return false;
		sin = (const struct sockaddr_in *)src;
		return port_allow(sin->sin_port) &&
		       v4_allow(&sin->sin_addr, local_is_loopback, bcast);
	case AF_INET6:
		if (len < (socklen_t)sizeof(*sin6))
			return false;
		sin6 = (const struct sockaddr_in6 *)src;
		if (!port_allow(sin6->sin6_port))
			return false;
		/* A dual-stack socket sees IPv4 peers as mapped addresses. */
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			v4 = v6_mapped_v4(&sin6->sin6_addr);
			return v4_allow(&v4, local_is_loopback, bcast);
		}
		if (IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) ||
		    IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr))
			return false;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) && !local_is_loopback)
			return false;
		return true;
	default:
		/* AF_UNIX peers are local processes the socket mode admits. */
		return true;
	}
}

bool
udp_guard_is_loopback(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in6 *sin6;
	struct in_addr v4;

	if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
		return false;

	switch (sa->sa_family) {
	case AF_INET:
		if (len < (socklen_t)sizeof(struct sockaddr_in))
			return false;
		return v4_is_loopback(&((const struct sockaddr_in *)sa)->sin_addr);
	case AF_INET6:
		if (len < (socklen_t)sizeof(*sin6))
			return false;
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			v4 = v6_mapped_v4(&sin6->sin6_addr);
			return v4_is_loopback(&v4);
		}
		return false;
	default:
		return false;
	}
}
