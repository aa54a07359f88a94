#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"

#define SUN_PATH_MAX    sizeof(((struct sockaddr_un *)0)->sun_path)
#define SUN_OFFSET      offsetof(struct sockaddr_un, sun_path)

static const char *const type_names[] = {
	[ADDR_TCP] = "tcp",
	[ADDR_UDP] = "udp",
	[ADDR_UNIX] = "unix",
	[ADDR_UNIX_DGRAM] = "unix-dgram",
	[ADDR_UNIX_SEQPACKET] = "unix-seqpacket",
	[ADDR_MPTCP] = "mptcp",
};

#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

static bool
type_is_ip(enum addr_type t)
{
	return t == ADDR_TCP || t == ADDR_UDP || t == ADDR_MPTCP;
}

static int
fail(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Decimal without sign; saturates instead of overflowing. */
static unsigned long
parse_decimal(const char *s)
{
	unsigned long v = 0;

	for (; *s; s++) {
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > UINT32_MAX)
			return (unsigned long)UINT32_MAX + 1;
	}
	return v;
}

/* Port in host byte order, or -EINVAL. */
static int
parse_port(const char *s, enum addr_type type, const char **why)
{
	struct servent se, *res = NULL;
	char buf[4096];
	unsigned long v;

	if (*s == '\0')
		return fail(why, "missing port");
	if (all_digits(s)) {
		v = parse_decimal(s);
		if (v < 1 || v > 65535)
			return fail(why, "port out of range");
		return (int)v;
	}
	/* Service names start with a letter or digit ("9pfs" exists) and go
	 * on with those, '-', '_' or '.'; a sign or a space is a bad number. */
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char)*p) ||
		    (p > s && (*p == '-' || *p == '_' || *p == '.'))))
			return fail(why, "invalid port");
	if (getservbyname_r(s, type == ADDR_UDP ? "udp" : "tcp", &se, buf,
	    sizeof(buf), &res) != 0 || res == NULL)
		return fail(why, "unknown service name");
	v = ntohs((uint16_t)res->s_port);
	if (v < 1)
		return fail(why, "port out of range");
	return (int)v;
}

/* "ADDR" or "ADDR%ZONE"; a zone is an interface name or index. */
static int
parse_ipv6(const char *host, struct sockaddr_in6 *sin6, const char **why)
{
	char buf[INET6_ADDRSTRLEN];
	const char *zone = strchr(host, '%');
	size_t n = zone ? (size_t)(zone - host) : strlen(host);
	unsigned long idx;

	if (n == 0 || n >= sizeof(buf))
		return fail(why, "invalid IPv6 address");
	memcpy(buf, host, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
		return fail(why, "invalid IPv6 address");
	if (!zone)
		return 0;
	zone++;
	if (all_digits(zone)) {
		idx = parse_decimal(zone);
		if (idx > UINT32_MAX)
			return fail(why, "invalid IPv6 zone id");
	} else {
		idx = *zone ? if_nametoindex(zone) : 0;
		if (idx == 0)
			return fail(why, "unknown interface in IPv6 zone id");
	}
	sin6->sin6_scope_id = (uint32_t)idx;
	return 0;
}

static int
resolve_host(const char *host, enum addr_type type, struct addr *a,
    const char **why)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	int r;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type == ADDR_UDP ? SOCK_DGRAM : SOCK_STREAM;
	r = getaddrinfo(host, NULL, &hints, &res);
	switch (r) {
	case 0:
		break;
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		return fail(why, "unknown host");
	case EAI_AGAIN:
		return fail(why, "unknown host (temporary failure in name resolution)");
	default:
		return fail(why, "unknown host (name resolution failed)");
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

			sin->sin_family = AF_INET;
			sin->sin_addr = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
			a->len = sizeof(*sin);
			break;
		}
		if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			const struct sockaddr_in6 *src = (struct sockaddr_in6 *)ai->ai_addr;
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = src->sin6_addr;
			sin6->sin6_scope_id = src->sin6_scope_id;
			a->len = sizeof(*sin6);
			break;
		}
	}
	freeaddrinfo(res);
	if (!ai)
		return fail(why, "unknown host (no IPv4 or IPv6 address)");
	return 0;
}

static int
parse_ip(const char *s, struct addr *a, const char **why)
{
	char host[NI_MAXHOST];
	const char *port, *end;
	bool bracketed = *s == '[';
	struct in_addr in4;
	size_t n;
	int r;

	if (bracketed) {
		end = strchr(s, ']');
		if (!end)
			return fail(why, "missing ']' after IPv6 address");
		if (end[1] == '\0')
			return fail(why, "missing port");
		if (end[1] != ':')
			return fail(why, "expected ':' after ']'");
		s++;
		port = end + 2;
	} else {
		end = strrchr(s, ':');
		if (!end)
			return fail(why, *s ? "missing port" : "missing host");
		port = end + 1;
	}
	n = (size_t)(end - s);
	if (n == 0)
		return fail(why, bracketed ? "invalid IPv6 address" : "missing host");
	if (n >= sizeof(host))
		return fail(why, "host name too long");
	memcpy(host, s, n);
	host[n] = '\0';
	if (!bracketed && strchr(host, ':'))
		return fail(why, "IPv6 address must be in brackets");

	r = parse_port(port, a->type, why);
	if (r < 0)
		return r;

	if (bracketed) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

		if (parse_ipv6(host, sin6, why) < 0)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		a->len = sizeof(*sin6);
	} else if (inet_pton(AF_INET, host, &in4) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

		sin->sin_family = AF_INET;
		sin->sin_addr = in4;
		a->len = sizeof(*sin);
	} else if (strcmp(host, "*") == 0) {
		return fail(why, "unknown host (use 0.0.0.0 or [::] for any address)");
	} else if (resolve_host(host, a->type, a, why) < 0) {
		return -EINVAL;
	}
	if (a->sa.ss_family == AF_INET)
		((struct sockaddr_in *)&a->sa)->sin_port = htons((uint16_t)r);
	else
		((struct sockaddr_in6 *)&a->sa)->sin6_port = htons((uint16_t)r);
	return 0;
}

static int
parse_unix(const char *s, struct addr *a, const char **why)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa;
	size_t n;

	sun->sun_family = AF_UNIX;
	if (*s == '@') {
		n = strlen(s + 1);
		if (n == 0)
			return fail(why, "empty abstract name");
		if (n + 1 > SUN_PATH_MAX)
			return fail(why, "abstract name too long");
		/* The kernel compares abstract names by length, so no NUL is
		 * counted: getsockname() returns exactly this length. */
		sun->sun_path[0] = '\0';
		memcpy(sun->sun_path + 1, s + 1, n);
		a->len = (socklen_t)(SUN_OFFSET + 1 + n);
		return 0;
	}
	if (*s == '\0')
		return fail(why, "missing unix path");
	if (*s != '/')
		return fail(why, "unix path must be absolute");
	n = strlen(s);
	if (n + 1 > SUN_PATH_MAX)
		return fail(why, "unix path too long");
	memcpy(sun->sun_path, s, n + 1);
	/* Count the NUL, as getsockname() does for path sockets on Linux. */
	a->len = (socklen_t)(SUN_OFFSET + n + 1);
	return 0;
}

int
addr_parse(const char *text, struct addr *a, const char **why)
{
	struct addr tmp;
	const char *colon;
	size_t n, i;
	int r;

	if (!text)
		return fail(why, "missing address");
	colon = strchr(text, ':');
	n = colon ? (size_t)(colon - text) : 0;
	for (i = 0; i < NTYPES; i++)
		if (colon && strlen(type_names[i]) == n &&
		    memcmp(text, type_names[i], n) == 0)
			break;
	if (i == NTYPES)
		return fail(why, "unknown address type (tcp, udp, mptcp, unix, unix-dgram, unix-seqpacket)");

	memset(&tmp, 0, sizeof(tmp));
	tmp.type = (enum addr_type)i;
	if (type_is_ip(tmp.type))
		r = parse_ip(colon + 1, &tmp, why);
	else
		r = parse_unix(colon + 1, &tmp, why);
	if (r < 0)
		return r;
	*a = tmp;
	return 0;
}

/* Unix name bytes as text; control bytes (possible in abstract names
 * from elsewhere) become '?' so a log line stays one line. */
static void
format_unix(const char *prefix, const struct sockaddr_un *sun, socklen_t len,
    char *buf, size_t size)
{
	size_t n = len > SUN_OFFSET ? len - SUN_OFFSET : 0, off = 0, i;
	bool abstract = n > 0 && sun->sun_path[0] == '\0';
	int w;

	if (n > SUN_PATH_MAX)
		n = SUN_PATH_MAX;
	if (!abstract)
		n = strnlen(sun->sun_path, n);
	w = snprintf(buf, size, "%s%s", prefix, abstract ? "@" : "");
	if (w < 0 || (size_t)w >= size)
		return;
	off = (size_t)w;
	for (i = abstract ? 1 : 0; i < n && off + 1 < size; i++) {
		unsigned char c = (unsigned char)sun->sun_path[i];

		buf[off++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[off] = '\0';
}

char *
addr_format(const struct addr *a, char *buf, size_t size)
{
	const char *name = addr_type_name(a->type);
	char host[INET6_ADDRSTRLEN], zone[IF_NAMESIZE + 16] = "";
	char prefix[32];

	if (size == 0)
		return buf;
	switch (a->sa.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%s:%u", name, host, ntohs(sin->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->sa;
		char ifname[IF_NAMESIZE];

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		if (sin6->sin6_scope_id != 0) {
			if (if_indextoname(sin6->sin6_scope_id, ifname))
				snprintf(zone, sizeof(zone), "%%%s", ifname);
			else
				snprintf(zone, sizeof(zone), "%%%u", sin6->sin6_scope_id);
		}
		snprintf(buf, size, "%s:[%s%s]:%u", name, host, zone,
		    ntohs(sin6->sin6_port));
		break;
	}
	case AF_UNIX:
		snprintf(prefix, sizeof(prefix), "%s:", name);
		format_unix(prefix, (const struct sockaddr_un *)&a->sa, a->len, buf, size);
		break;
	default:
		snprintf(buf, size, "%s:?", name);
		break;
	}
	return buf;
}

int
addr_from_sockaddr(int socktype, const struct sockaddr *sa, socklen_t len,
    struct addr *a)
{
	struct addr tmp;
	size_t n;

	if (!sa || len < sizeof(sa_family_t))
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	switch (sa->sa_family) {
	case AF_INET:
	case AF_INET6:
		if (socktype == SOCK_STREAM)
			tmp.type = ADDR_TCP;
		else if (socktype == SOCK_DGRAM)
			tmp.type = ADDR_UDP;
		else
			return -EAFNOSUPPORT;
		break;
	case AF_UNIX:
		if (socktype == SOCK_STREAM)
			tmp.type = ADDR_UNIX;
		else if (socktype == SOCK_DGRAM)
			tmp.type = ADDR_UNIX_DGRAM;
		else if (socktype == SOCK_SEQPACKET)
			tmp.type = ADDR_UNIX_SEQPACKET;
		else
			return -EAFNOSUPPORT;
		break;
	default:
		return -EAFNOSUPPORT;
	}

	/* Copy only the fields that identify the address, so that padding,
	 * flow labels and trailing bytes never make equal addresses differ. */
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *src = (const struct sockaddr_in *)sa;
		struct sockaddr_in *sin = (struct sockaddr_in *)&tmp.sa;

		if (len < sizeof(*src))
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_addr = src->sin_addr;
		sin->sin_port = src->sin_port;
		tmp.len = sizeof(*sin);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *src = (const struct sockaddr_in6 *)sa;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&tmp.sa;

		if (len < sizeof(*src))
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = src->sin6_addr;
		sin6->sin6_port = src->sin6_port;
		sin6->sin6_scope_id = src->sin6_scope_id;
		tmp.len = sizeof(*sin6);
	} else {
		const struct sockaddr_un *src = (const struct sockaddr_un *)sa;
		struct sockaddr_un *sun = (struct sockaddr_un *)&tmp.sa;

		/* An unnamed socket has no text form and cannot be a listen
		 * address. */
		if (len <= SUN_OFFSET)
			return -EINVAL;
		n = len - SUN_OFFSET;
		if (n > SUN_PATH_MAX)
			n = SUN_PATH_MAX;
		sun->sun_family = AF_UNIX;
		if (src->sun_path[0] == '\0') {
			if (n < 2)
				return -EINVAL;
			memcpy(sun->sun_path, src->sun_path, n);
			tmp.len = (socklen_t)(SUN_OFFSET + n);
		} else {
			/* Callers pass the path with or without its NUL, or the
			 * whole struct; count exactly one NUL, like addr_parse().
			 * A path filling sun_path has no NUL to count. */
			n = strnlen(src->sun_path, n);
			memcpy(sun->sun_path, src->sun_path, n);
			tmp.len = (socklen_t)(SUN_OFFSET + n + (n < SUN_PATH_MAX ? 1 : 0));
		}
	}
	*a = tmp;
	return 0;
}

bool
addr_equal(const struct addr *a, const struct addr *b)
{
	if (a->type != b->type || a->sa.ss_family != b->sa.ss_family)
		return false;
	switch (a->sa.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *x = (const struct sockaddr_in *)&a->sa;
		const struct sockaddr_in *y = (const struct sockaddr_in *)&b->sa;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->sa;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->sa;

		return x->sin6_port == y->sin6_port &&
		    x->sin6_scope_id == y->sin6_scope_id &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	case AF_UNIX:
		if (a->len != b->len || a->len < SUN_OFFSET || a->len > sizeof(a->sa))
			return false;
		return memcmp(((const struct sockaddr_un *)&a->sa)->sun_path,
		    ((const struct sockaddr_un *)&b->sa)->sun_path,
		    a->len - SUN_OFFSET) == 0;
	default:
		return false;
	}
}

/* Keep in step with addr_equal(): the same fields, and nothing else (a
 * sockaddr's padding and sin6_flowinfo are not compared). */
size_t
addr_key(const struct addr *a, unsigned char key[ADDR_KEYLEN])
{
	size_t n = 0;

#define PUT(p, len) (memcpy(key + n, (p), (len)), n += (len))
	key[n++] = (unsigned char)a->type;
	key[n++] = (unsigned char)a->sa.ss_family;
	switch (a->sa.ss_family) {
	case AF_INET: {
		const struct sockaddr_in *x = (const struct sockaddr_in *)&a->sa;

		PUT(&x->sin_port, sizeof(x->sin_port));
		PUT(&x->sin_addr.s_addr, sizeof(x->sin_addr.s_addr));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->sa;

		PUT(&x->sin6_port, sizeof(x->sin6_port));
		PUT(&x->sin6_scope_id, sizeof(x->sin6_scope_id));
		PUT(&x->sin6_addr, sizeof(x->sin6_addr));
		break;
	}
	case AF_UNIX:
		if (a->len < SUN_OFFSET || a->len > sizeof(a->sa))
			return 0;
		/* The path's length is the key's length less the fixed part,
		 * so equal keys mean equal a->len. */
		PUT(((const struct sockaddr_un *)&a->sa)->sun_path, a->len - SUN_OFFSET);
		break;
	default:
		return 0;
	}
#undef PUT
	return n;
}

int
addr_family(const struct addr *a)
{
	return a->sa.ss_family;
}

int
addr_socktype(const struct addr *a)
{
	switch (a->type) {
	case ADDR_UDP:
	case ADDR_UNIX_DGRAM:
		return SOCK_DGRAM;
	case ADDR_UNIX_SEQPACKET:
		return SOCK_SEQPACKET;
	case ADDR_TCP:
	case ADDR_MPTCP:
	case ADDR_UNIX:
	default:
		return SOCK_STREAM;
	}
}

int
addr_protocol(const struct addr *a)
{
	return a->type == ADDR_MPTCP ? IPPROTO_MPTCP : 0;
}

bool
addr_is_tcp(const struct addr *a)
{
	return a->type == ADDR_TCP || a->type == ADDR_MPTCP;
}

bool
addr_is_stream(const struct addr *a)
{
	return addr_socktype(a) != SOCK_DGRAM;
}

bool
addr_is_unix_path(const struct addr *a)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a->sa;

	return !type_is_ip(a->type) && a->sa.ss_family == AF_UNIX &&
	    a->len > SUN_OFFSET && sun->sun_path[0] != '\0';
}

const char *
addr_type_name(enum addr_type t)
{
	if ((unsigned)t >= NTYPES)
		return "unknown";
	return type_names[t];
}

char *
addr_format_peer(const struct sockaddr *sa, socklen_t len, char *buf,
    size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (size == 0)
		return buf;
	if (!sa || len < sizeof(sa_family_t)) {
		snprintf(buf, size, "unknown");
		return buf;
	}
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host, sizeof(host));
			snprintf(buf, size, "%s:%u", host, ntohs(sin6->sin6_port));
		} else {
			/* Numeric zone: no interface lookup per logged peer. */
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
			if (sin6->sin6_scope_id != 0)
				snprintf(buf, size, "[%s%%%u]:%u", host,
				    sin6->sin6_scope_id, ntohs(sin6->sin6_port));
			else
				snprintf(buf, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
		}
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;

		if (len <= SUN_OFFSET || (sun->sun_path[0] == '\0' && len <= SUN_OFFSET + 1))
			snprintf(buf, size, "unix");
		else
			format_unix("unix:", sun, len, buf, size);
	} else {
		snprintf(buf, size, "unknown");
	}
	return buf;
}
