/* Reply source addresses for datagram sockets on wildcard addresses. */
#include "dgram_src.h"

#include <errno.h>
#include <string.h>

bool
dgram_src_needed(const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return false;
}

int
dgram_src_enable(int fd, int family)
{
	int one = 1;

	/* On an IPv6 socket IPV6_PKTINFO also covers IPv4 clients, as
	 * v4-mapped addresses, and is accepted back for them on send. */
	if (family == AF_INET6)
		return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) == -1 ? -errno : 0;
	return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) == -1 ? -errno : 0;
}

void
dgram_src_from_msg(const struct msghdr *h, struct dgram_src *src)
{
	memset(src, 0, sizeof(*src));
	if (h->msg_flags & MSG_CTRUNC)
		return;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(h); cm; cm = CMSG_NXTHDR((struct msghdr *)h, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			src->kind = DGRAM_SRC_V4;
			/* The address it came to; any interface the route
			 * picks (a fixed one would defeat asymmetric routes). */
			src->info.v4.ipi_spec_dst = pi.ipi_addr;
			return;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			src->kind = DGRAM_SRC_V6;
			src->info.v6.ipi6_addr = pi.ipi6_addr;
			/* A link-local address means nothing without its link. */
			if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				src->info.v6.ipi6_ifindex = pi.ipi6_ifindex;
			return;
		}
	}
}

size_t
dgram_src_put(const struct dgram_src *src, void *at)
{
	struct cmsghdr *cm = at;
	size_t len;

	if (src->kind == DGRAM_SRC_V4) {
		len = sizeof(struct in_pktinfo);
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
	} else if (src->kind == DGRAM_SRC_V6) {
		len = sizeof(struct in6_pktinfo);
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
	} else {
		return 0;
	}
	cm->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cm), &src->info, len);
	return CMSG_SPACE(len);
}

bool
dgram_src_equal(const struct dgram_src *a, const struct dgram_src *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == DGRAM_SRC_V4)
		return a->info.v4.ipi_spec_dst.s_addr == b->info.v4.ipi_spec_dst.s_addr;
	if (a->kind == DGRAM_SRC_V6)
		return memcmp(&a->info.v6, &b->info.v6, sizeof(a->info.v6)) == 0;
	return true;
}
