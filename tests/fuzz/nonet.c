/* Name resolution without the network, for harnesses whose parsers call
 * getaddrinfo(): a fuzzer must not send DNS queries, and an answer that
 * depends on the resolver would make findings irreproducible. Numeric
 * hosts (IPv4 in inet_aton()'s forms, as glibc accepts them) and
 * "localhost" resolve as they would; every other name is unknown. These
 * definitions take the place of the C library's (and of the sanitizer's
 * weak interceptors) in the harness executables. */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static struct addrinfo *
ai_new(int family, const void *addr, const struct addrinfo *hints)
{
	struct addrinfo *ai = calloc(1, sizeof(*ai) + sizeof(struct sockaddr_in6));

	if (!ai)
		return NULL;
	ai->ai_family = family;
	ai->ai_socktype = hints ? hints->ai_socktype : 0;
	ai->ai_addr = (struct sockaddr *)(ai + 1);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ai->ai_addr;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		ai->ai_addrlen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ai->ai_addr;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		ai->ai_addrlen = sizeof(*sin6);
	}
	return ai;
}

int
getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
	    struct addrinfo **res)
{
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} a;
	int family = hints ? hints->ai_family : AF_UNSPEC;

	(void)service;
	*res = NULL;
	/* inet_aton() stops at white space; getaddrinfo() does not. */
	if (!node || strpbrk(node, " \t\n\v\f\r"))
		return EAI_NONAME;
	if (strcmp(node, "localhost") == 0)
		node = family == AF_INET6 ? "::1" : "127.0.0.1";
	if (family != AF_INET6 && inet_aton(node, &a.v4) == 1)
		*res = ai_new(AF_INET, &a.v4, hints);
	else if (family != AF_INET && inet_pton(AF_INET6, node, &a.v6) == 1)
		*res = ai_new(AF_INET6, &a.v6, hints);
	else
		return EAI_NONAME;
	return *res ? 0 : EAI_MEMORY;
}

void
freeaddrinfo(struct addrinfo *ai)
{
	while (ai) {
		struct addrinfo *next = ai->ai_next;

		free(ai);
		ai = next;
	}
}
