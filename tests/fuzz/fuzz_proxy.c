/* proxy_parse() reads the PROXY v1/v2 header a load balancer, or anyone
 * who can reach a proxy_protocol endpoint, sends first.
 *
 * The first input byte picks the mode. Bit 7 clear: parse the rest with
 * accept = bits 0-1 (0 and 3: any, 1: v1, 2: v2) and check the contract of
 * proxy_parse() (proxy_proto.h): the verdict on a prefix never contradicts
 * the verdict on the whole (a worker calls it again as bytes trickle in),
 * *res is only written on success, and what it holds is well-formed; then
 * build the header again from the result and parse that. Bit 7 set: the
 * rest describes two addresses; proxy_build() must produce a header that
 * parses back to the same addresses. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/un.h>

#include "addr.h"
#include "fuzz.h"
#include "proxy_proto.h"

#define SUN_OFFSET offsetof(struct sockaddr_un, sun_path)
#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* Parse exactly len bytes from a buffer of exactly that size, so ASan
 * catches a read beyond len. */
static ssize_t
parse_exact(const uint8_t *data, size_t len, enum proxy_version accept, struct proxy_result *res)
{
	uint8_t *copy = malloc(len ? len : 1);
	ssize_t r;

	memcpy(copy, data, len);
	r = proxy_parse(copy, len, accept, res);
	free(copy);
	return r;
}

/* ---------------------------------------------------------------- addresses */

/* An IP end as 16 bytes (IPv4 v4-mapped) and a port: the form both versions
 * of the protocol carry, so results compare equal across them. */
struct ip_end {
	uint8_t a[16];
	uint16_t port;
};

static bool
ip_end(const struct sockaddr_storage *ss, socklen_t len, struct ip_end *e)
{
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (ss->ss_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		memcpy(e->a, mapped, 12);
		memcpy(e->a + 12, &sin->sin_addr, 4);
		e->port = sin->sin_port;
		return true;
	}
	if (ss->ss_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		memcpy(e->a, &sin6->sin6_addr, 16);
		e->port = sin6->sin6_port;
		return true;
	}
	return false;
}

/* A Unix name as the protocol can carry it in its fixed 108-byte field:
 * a path up to its NUL; an abstract name without trailing NULs. */
struct unix_name {
	size_t n;
	uint8_t b[SUN_PATH_MAX];
};

static void
unix_name(const struct sockaddr_storage *ss, socklen_t len, struct unix_name *u)
{
	const uint8_t *p = (const uint8_t *)((const struct sockaddr_un *)ss)->sun_path;
	size_t n = len > SUN_OFFSET ? len - SUN_OFFSET : 0;

	if (n > SUN_PATH_MAX)
		n = SUN_PATH_MAX;
	if (n > 0 && p[0] != '\0')
		n = strnlen((const char *)p, n);
	else
		while (n > 0 && p[n - 1] == '\0')
			n--;
	u->n = n;
	memcpy(u->b, p, n);
}

static bool
same_ip(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b, socklen_t blen)
{
	struct ip_end x, y;

	return ip_end(a, alen, &x) && ip_end(b, blen, &y) && memcmp(x.a, y.a, 16) == 0 && x.port == y.port;
}

static bool
same_unix(const struct sockaddr_storage *a, socklen_t alen, const struct sockaddr_storage *b, socklen_t blen)
{
	struct unix_name x, y;

	if (a->ss_family != AF_UNIX || b->ss_family != AF_UNIX)
		return false;
	unix_name(a, alen, &x);
	unix_name(b, blen, &y);
	return x.n == y.n && memcmp(x.b, y.b, x.n) == 0;
}

static void
check_result(const struct proxy_result *res, ssize_t r)
{
	char peer[ADDR_STRLEN];

	FUZZ_ASSERT(res->header_len == (size_t)r);
	FUZZ_ASSERT(res->version == 1 || res->version == 2);
	FUZZ_ASSERT(res->socktype == SOCK_STREAM || res->socktype == SOCK_DGRAM ||
		    (res->version == 2 && res->socktype == 0));
	if (res->version == 1)
		FUZZ_ASSERT(res->socktype == SOCK_STREAM);
	if (res->local) {
		FUZZ_ASSERT(res->src_len == 0 && res->dst_len == 0);
		return;
	}
	FUZZ_ASSERT(res->src.ss_family == res->dst.ss_family);
	switch (res->src.ss_family) {
	case AF_INET:
		FUZZ_ASSERT(res->src_len == sizeof(struct sockaddr_in) && res->dst_len == res->src_len);
		break;
	case AF_INET6:
		FUZZ_ASSERT(res->src_len == sizeof(struct sockaddr_in6) && res->dst_len == res->src_len);
		break;
	case AF_UNIX:
		FUZZ_ASSERT(res->version == 2);
		FUZZ_ASSERT(res->src_len >= SUN_OFFSET && res->src_len <= sizeof(struct sockaddr_un));
		FUZZ_ASSERT(res->dst_len >= SUN_OFFSET && res->dst_len <= sizeof(struct sockaddr_un));
		break;
	default:
		FUZZ_ASSERT(!"unexpected address family");
	}
	/* What the worker logs and matches the client by from now on. */
	addr_format_peer((const struct sockaddr *)&res->src, res->src_len, peer, sizeof(peer));
	addr_format_peer((const struct sockaddr *)&res->dst, res->dst_len, peer, sizeof(peer));
}

/* Build a header for res's addresses in version v and parse it back. */
static void
rebuild(const struct proxy_result *res, enum proxy_version v)
{
	uint8_t out[PROXY_BUILD_MAX];
	struct proxy_result back;
	ssize_t n, r;

	n = proxy_build(v, (const struct sockaddr *)&res->src, res->src_len,
			(const struct sockaddr *)&res->dst, res->dst_len, out, sizeof(out));
	FUZZ_ASSERT(n > 0 && (size_t)n <= sizeof(out));
	r = parse_exact(out, (size_t)n, PROXY_ANY, &back);
	FUZZ_ASSERT(r == n);
	check_result(&back, r);
	FUZZ_ASSERT(back.version == (int)v);
	if (res->src.ss_family == AF_UNIX && v == PROXY_V1) {
		FUZZ_ASSERT(back.local);
	} else if (res->src.ss_family == AF_UNIX) {
		FUZZ_ASSERT(!back.local);
		FUZZ_ASSERT(same_unix(&res->src, res->src_len, &back.src, back.src_len));
		FUZZ_ASSERT(same_unix(&res->dst, res->dst_len, &back.dst, back.dst_len));
	} else {
		FUZZ_ASSERT(!back.local);
		FUZZ_ASSERT(same_ip(&res->src, res->src_len, &back.src, back.src_len));
		FUZZ_ASSERT(same_ip(&res->dst, res->dst_len, &back.dst, back.dst_len));
	}
}

/* ---------------------------------------------------------------- parse mode */

static void
check_prefix(const uint8_t *buf, size_t k, enum proxy_version accept, ssize_t whole)
{
	struct proxy_result res;
	ssize_t r = parse_exact(buf, k, accept, &res);

	if (whole > 0 && k < (size_t)whole)
		FUZZ_ASSERT(r == 0);
	else if (whole > 0)
		FUZZ_ASSERT(r == whole);
	else if (whole == 0)
		FUZZ_ASSERT(r == 0);
	else
		FUZZ_ASSERT(r == 0 || r == whole);
}

static void
parse_mode(const uint8_t *buf, size_t len, enum proxy_version accept)
{
	struct proxy_result res, untouched;
	ssize_t r;

	memset(&res, 0xa5, sizeof(res));
	memcpy(&untouched, &res, sizeof(res));
	r = parse_exact(buf, len, accept, &res);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -EPROTONOSUPPORT || (r > 0 && (size_t)r <= len));
	if (len >= PROXY_HEADER_MAX)
		FUZZ_ASSERT(r != 0);
	if (r == -EPROTONOSUPPORT)
		FUZZ_ASSERT((buf[0] == 'P' && !(accept & PROXY_V1)) ||
			    (buf[0] == 0x0d && !(accept & PROXY_V2)));
	if (r <= 0)
		FUZZ_ASSERT(memcmp(&res, &untouched, sizeof(res)) == 0);

	/* Every short prefix, then a spread of longer ones, the header's
	 * last byte missing, and the header alone. */
	for (size_t k = 0; k < len && k < 20; k++)
		check_prefix(buf, k, accept, r);
	for (size_t i = 1; i < 8; i++)
		check_prefix(buf, len * i / 8, accept, r);
	if (r > 0) {
		check_prefix(buf, (size_t)r - 1, accept, r);
		check_prefix(buf, (size_t)r, accept, r);
	}

	if (r <= 0)
		return;
	check_result(&res, r);
	if (!res.local) {
		rebuild(&res, PROXY_V1);
		rebuild(&res, PROXY_V2);
	}
}

/* ---------------------------------------------------------------- build mode */

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint8_t
take(struct reader *rd)
{
	if (rd->n == 0)
		return 0;
	rd->n--;
	return *rd->p++;
}

static void
take_bytes(struct reader *rd, void *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)out)[i] = take(rd);
}

/* kind: 0 none (NULL), 1 IPv4, 2 IPv6, 3 Unix, other: a family the
 * protocol cannot carry. Bit 7 of the length byte cuts an IP address
 * short, which proxy_build must refuse. */
static bool
take_addr(struct reader *rd, struct sockaddr_storage *ss, socklen_t *len, bool *cut)
{
	uint8_t kind = take(rd), lb = take(rd);

	memset(ss, 0, sizeof(*ss));
	*cut = false;
	switch (kind & 7) {
	case 0:
		*len = 0;
		return false;
	case 1: {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		take_bytes(rd, &sin->sin_addr, 4);
		take_bytes(rd, &sin->sin_port, 2);
		*len = sizeof(*sin);
		break;
	}
	case 2: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		take_bytes(rd, &sin6->sin6_addr, 16);
		take_bytes(rd, &sin6->sin6_port, 2);
		*len = sizeof(*sin6);
		break;
	}
	case 3: {
		struct sockaddr_un *sun = (struct sockaddr_un *)ss;
		size_t n = lb % (SUN_PATH_MAX + 1);

		sun->sun_family = AF_UNIX;
		take_bytes(rd, sun->sun_path, n);
		*len = (socklen_t)(SUN_OFFSET + n);
		return true;
	}
	default:
		ss->ss_family = (sa_family_t)(kind == 4 ? AF_UNSPEC : AF_NETLINK);
		*len = sizeof(sa_family_t);
		return true;
	}
	if (lb & 0x80) {
		*len = (socklen_t)(lb & 0x7f) % *len;
		*cut = true;
	}
	return true;
}

static void
build_mode(const uint8_t *data, size_t size)
{
	struct reader rd = { data, size };
	struct sockaddr_storage src, dst;
	socklen_t src_len, dst_len;
	bool has_src, has_dst, cut_src, cut_dst, ip, unix_both;
	uint8_t out[PROXY_BUILD_MAX], small;

	has_src = take_addr(&rd, &src, &src_len, &cut_src);
	has_dst = take_addr(&rd, &dst, &dst_len, &cut_dst);
	small = take(&rd);
	ip = has_src && has_dst && !cut_src && !cut_dst &&
	     (src.ss_family == AF_INET || src.ss_family == AF_INET6) &&
	     (dst.ss_family == AF_INET || dst.ss_family == AF_INET6);
	unix_both = has_src && has_dst && src.ss_family == AF_UNIX && dst.ss_family == AF_UNIX;

	for (enum proxy_version v = PROXY_V1; v <= PROXY_V2; v++) {
		const struct sockaddr *s = has_src ? (const struct sockaddr *)&src : NULL;
		const struct sockaddr *d = has_dst ? (const struct sockaddr *)&dst : NULL;
		struct proxy_result res;
		ssize_t n, r;

		n = proxy_build(v, s, src_len, d, dst_len, out, sizeof(out));
		if (cut_src || cut_dst) {
			FUZZ_ASSERT(n == -EINVAL);
			continue;
		}
		FUZZ_ASSERT(n > 0 && (size_t)n <= sizeof(out));
		/* Too small a buffer is refused as a whole, never cut. */
		if (small < n)
			FUZZ_ASSERT(proxy_build(v, s, src_len, d, dst_len, out, small) == -ENOSPC);
		n = proxy_build(v, s, src_len, d, dst_len, out, sizeof(out));
		r = parse_exact(out, (size_t)n, v, &res);
		FUZZ_ASSERT(r == n);
		check_result(&res, r);
		FUZZ_ASSERT(res.version == (int)v);
		if (ip) {
			FUZZ_ASSERT(!res.local && res.socktype == SOCK_STREAM);
			FUZZ_ASSERT(same_ip(&src, src_len, &res.src, res.src_len));
			FUZZ_ASSERT(same_ip(&dst, dst_len, &res.dst, res.dst_len));
		} else if (unix_both && v == PROXY_V2) {
			FUZZ_ASSERT(!res.local);
			FUZZ_ASSERT(same_unix(&src, src_len, &res.src, res.src_len));
			FUZZ_ASSERT(same_unix(&dst, dst_len, &res.dst, res.dst_len));
		} else {
			FUZZ_ASSERT(res.local);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum proxy_version accepts[4] = { PROXY_ANY, PROXY_V1, PROXY_V2, PROXY_ANY };

	if (size == 0)
		return 0;
	if (data[0] & 0x80)
		build_mode(data + 1, size - 1);
	else
		parse_mode(data + 1, size - 1, accepts[data[0] & 3]);
	return 0;
}
