/* bench_addr.h: "tcp:HOST:PORT", "udp:HOST:PORT" (numeric IPv4 or [IPv6]),
 * "unix:/path" and "unix:@abstract" for the bench programs. Header-only, so
 * that bench/run can still build each program from its one .c file. */
#ifndef BENCH_ADDR_H
#define BENCH_ADDR_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

struct bench_addr {
	const char *text;
	int family;
	int socktype;
	socklen_t len;
	struct sockaddr_storage sa;
};

/* Fill *a from s (kept as a->text); 0, or -EINVAL. */
static int
bench_addr_parse(const char *s, struct bench_addr *a)
{
	const char *rest;
	char host[256];
	const char *colon;
	long port;
	char *end;

	memset(a, 0, sizeof(*a));
	a->text = s;
	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
		size_t n;

		rest = s + 5;
		n = strlen(rest);
		if (n == 0 || n >= sizeof(un->sun_path))
			return -EINVAL;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, rest, n);
		if (rest[0] == '@')
			un->sun_path[0] = '\0';
		a->family = AF_UNIX;
		a->socktype = SOCK_STREAM;
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (rest[0] == '@' ? 0 : 1));
		return 0;
	}
	if (strncmp(s, "tcp:", 4) == 0)
		a->socktype = SOCK_STREAM;
	else if (strncmp(s, "udp:", 4) == 0)
		a->socktype = SOCK_DGRAM;
	else
		return -EINVAL;
	rest = s + 4;
	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');

		if (!close || close[1] != ':' || (size_t)(close - rest - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, rest + 1, (size_t)(close - rest - 1));
		host[close - rest - 1] = '\0';
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (!colon || (size_t)(colon - rest) >= sizeof(host))
			return -EINVAL;
		memcpy(host, rest, (size_t)(colon - rest));
		host[colon - rest] = '\0';
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || port < 1 || port > 65535)
		return -EINVAL;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&a->sa)->sin_addr) == 1) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		a->family = AF_INET;
		a->len = sizeof(*in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&a->sa)->sin6_addr) == 1) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		a->family = AF_INET6;
		a->len = sizeof(*in6);
	} else {
		return -EINVAL;
	}
	return 0;
}

#endif
