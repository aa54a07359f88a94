#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "proxy_proto.h"

#define V2_HDR_LEN      16
#define V2_INET_LEN     12      /* 4 + 4 + 2 + 2 */
#define V2_INET6_LEN    36      /* 16 + 16 + 2 + 2 */
#define V2_UNIX_LEN     216     /* 108 + 108 */
#define V2_UNIX_PATH    108

#define V2_CMD_LOCAL    0x0
#define V2_CMD_PROXY    0x1
#define V2_FAM_UNSPEC   0x0
#define V2_FAM_INET     0x1
#define V2_FAM_INET6    0x2
#define V2_FAM_UNIX     0x3
#define V2_TRANS_STREAM 0x1
#define V2_TRANS_DGRAM  0x2

#define V2_TLV_CRC32C   0x03

#define SUN_OFFSET      offsetof(struct sockaddr_un, sun_path)

/* Contains a NUL: compare with memcmp only. */
static const uint8_t v2_sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
};

/* CRC32C (Castagnoli, reflected polynomial 0x82F63B78), four bits at a time:
 * headers are small, so a 16-entry table is plenty. */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1, 0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
	0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9, 0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

/* Feeds n bytes into a running CRC32C state, which starts at ~0 and is
 * inverted at the end; p may be NULL to feed n zero bytes. */
static uint32_t
crc32c_update(uint32_t crc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		crc ^= p ? p[i] : 0;
		crc = (crc >> 4) ^ crc32c_nibble[crc & 0xF];
		crc = (crc >> 4) ^ crc32c_nibble[crc & 0xF];
	}
	return crc;
}

/* ------------------------------------------------------------------ v1 */

enum { V1_PROXY, V1_PROTO, V1_SRC, V1_DST, V1_SPORT, V1_DPORT, V1_NTOKENS };

struct v1_state {
	int family;                     /* AF_INET, AF_INET6, or 0 for UNKNOWN */
	uint8_t addr[2][16];
	uint16_t port[2];
};

static bool
is_prefix(const uint8_t *tok, size_t n, const char *word)
{
	return n <= strlen(word) && memcmp(tok, word, n) == 0;
}

static bool
is_word(const uint8_t *tok, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(tok, word, n) == 0;
}

/* Is tok a dotted quad so far, with no leading zeros? Completeness is left
 * to inet_pton(). */
static bool
v1_ipv4_ok(const uint8_t *tok, size_t n)
{
	unsigned octets = 1, digits = 0, val = 0;

	if (n > INET_ADDRSTRLEN - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '.') {
			if (digits == 0 || ++octets > 4)
				return false;
			digits = val = 0;
		} else if (tok[i] >= '0' && tok[i] <= '9') {
			if (digits == 1 && val == 0)
				return false;   /* leading zero */
			val = val * 10 + (unsigned)(tok[i] - '0');
			if (++digits > 3 || val > 255)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

static bool
v1_ipv6_chars_ok(const uint8_t *tok, size_t n)
{
	if (n > INET6_ADDRSTRLEN - 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = tok[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		      c == ':' || c == '.'))
			return false;
	}
	return true;
}

static bool
v1_addr(const uint8_t *tok, size_t n, bool done, int family, uint8_t *out)
{
	char text[INET6_ADDRSTRLEN];

	if (family == AF_INET ? !v1_ipv4_ok(tok, n) : !v1_ipv6_chars_ok(tok, n))
		return false;
	if (!done)
		return true;
	memcpy(text, tok, n);
	text[n] = '\0';
	return inet_pton(family, text, out) == 1;
}

/* Decimal 0..65535 without leading zeros; a prefix is fine when !done. */
static bool
v1_port(const uint8_t *tok, size_t n, bool done, uint16_t *out)
{
	unsigned long val = 0;

	if (n > 5 || (n > 1 && tok[0] == '0') || (done && n == 0))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return false;
		val = val * 10 + (unsigned long)(tok[i] - '0');
	}
	if (val > 65535)
		return false;
	*out = (uint16_t)val;
	return true;
}

/* Check token number idx; done says it is complete (a separator or the
 * line's end follows), otherwise it may still grow. */
static bool
v1_token(struct v1_state *st, int idx, const uint8_t *tok, size_t n, bool done)
{
	switch (idx) {
	case V1_PROXY:
		return done ? is_word(tok, n, "PROXY") : is_prefix(tok, n, "PROXY");
	case V1_PROTO:
		if (!done)
			return is_prefix(tok, n, "TCP4") || is_prefix(tok, n, "TCP6") ||
			       is_prefix(tok, n, "UNKNOWN");
		if (is_word(tok, n, "TCP4"))
			st->family = AF_INET;
		else if (is_word(tok, n, "TCP6"))
			st->family = AF_INET6;
		else
			return false;
		return true;
	case V1_SRC:
	case V1_DST:
		return v1_addr(tok, n, done, st->family, st->addr[idx - V1_SRC]);
	case V1_SPORT:
	case V1_DPORT:
		return v1_port(tok, n, done, &st->port[idx - V1_SPORT]);
	default:
		return false;           /* a seventh field */
	}
}

/* Validate the line's text (without CRLF): n bytes, complete when the CR
 * has been seen. Fields are separated by exactly one space; an empty field
 * (two spaces, a trailing space) is invalid. Returns 0 or -EINVAL. */
static int
v1_line(const uint8_t *line, size_t n, bool complete, struct v1_state *st)
{
	size_t start = 0;
	int idx = 0;

	st->family = 0;
	for (size_t i = 0; i <= n; i++) {
		bool done;

		if (i < n && line[i] != ' ')
			continue;
		done = i < n || complete;
		if (idx == V1_PROTO && done && is_word(line + start, i - start, "UNKNOWN"))
			return 0;       /* whatever follows UNKNOWN is ignored */
		if (!v1_token(st, idx, line + start, i - start, done))
			return -EINVAL;
		if (!done)
			return 0;
		idx++;
		start = i + 1;
	}
	return idx == V1_NTOKENS ? 0 : -EINVAL;
}

static void
v1_fill(const struct v1_state *st, struct proxy_result *res)
{
	struct sockaddr_storage *ss[2] = { &res->src, &res->dst };
	socklen_t *lens[2] = { &res->src_len, &res->dst_len };

	for (int i = 0; i < 2; i++) {
		if (st->family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)ss[i];

			sin->sin_family = AF_INET;
			sin->sin_port = htons(st->port[i]);
			memcpy(&sin->sin_addr, st->addr[i], 4);
			*lens[i] = sizeof(*sin);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss[i];

			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons(st->port[i]);
			memcpy(&sin6->sin6_addr, st->addr[i], 16);
			*lens[i] = sizeof(*sin6);
		}
	}
}

static ssize_t
v1_parse(const uint8_t *buf, size_t len, struct proxy_result *res)
{
	size_t lim = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	struct v1_state st;
	size_t eol;
	bool have_cr = false;
	int r;

	for (eol = 0; eol < lim; eol++) {
		if (buf[eol] == '\n')
			return -EINVAL; /* LF without CR */
		if (buf[eol] == '\r') {
			have_cr = true;
			break;
		}
	}
	if (have_cr) {
		if (eol + 2 > PROXY_V1_MAX)
			return -EINVAL;
		if (eol + 1 < len && buf[eol + 1] != '\n')
			return -EINVAL; /* CR without LF */
	}
	r = v1_line(buf, eol, have_cr, &st);
	if (r < 0)
		return r;
	if (!have_cr)
		return len >= PROXY_V1_MAX ? -EINVAL : 0;
	if (eol + 1 >= len)
		return 0;

	memset(res, 0, sizeof(*res));
	res->version = 1;
	res->socktype = SOCK_STREAM;
	res->header_len = eol + 2;
	if (st.family == 0)
		res->local = true;
	else
		v1_fill(&st, res);
	return (ssize_t)res->header_len;
}

/* ------------------------------------------------------------------ v2 */

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The spec names exactly these family/transport pairs; anything else, mixed
 * UNSPEC halves included, "must not be emitted" and is refused. */
static bool
v2_fam_ok(uint8_t fam)
{
	uint8_t family = fam >> 4, trans = fam & 0xF;

	if (family == V2_FAM_UNSPEC || trans == 0)
		return fam == 0;
	return family <= V2_FAM_UNIX && trans <= V2_TRANS_DGRAM;
}

static size_t
v2_addr_len(uint8_t family)
{
	switch (family) {
	case V2_FAM_INET:
		return V2_INET_LEN;
	case V2_FAM_INET6:
		return V2_INET6_LEN;
	case V2_FAM_UNIX:
		return V2_UNIX_LEN;
	default:
		return 0;
	}
}

/* The NUL padding of the fixed 108-byte field hides an abstract name's
 * length, so trailing NULs are dropped; a path counts its NUL as
 * getsockname() does. */
static socklen_t
v2_unix(const uint8_t *path, struct sockaddr_un *sun)
{
	size_t n;

	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, V2_UNIX_PATH);
	if (path[0] != '\0') {
		n = strnlen(sun->sun_path, V2_UNIX_PATH);
		return (socklen_t)(SUN_OFFSET + n + (n < V2_UNIX_PATH ? 1 : 0));
	}
	for (n = V2_UNIX_PATH; n > 0 && path[n - 1] == '\0'; n--)
		;
	return (socklen_t)(SUN_OFFSET + n);
}

static void
v2_fill(uint8_t family, const uint8_t *a, struct proxy_result *res)
{
	if (family == V2_FAM_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&res->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&res->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		res->src_len = res->dst_len = sizeof(*s);
	} else if (family == V2_FAM_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&res->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&res->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		res->src_len = res->dst_len = sizeof(*s);
	} else {
		res->src_len = v2_unix(a, (struct sockaddr_un *)&res->src);
		res->dst_len = v2_unix(a + V2_UNIX_PATH, (struct sockaddr_un *)&res->dst);
	}
}

/* Walk the TLVs in buf[off, total): each must fit, and a CRC32C TLV must
 * match the whole header computed with its own value zeroed. */
static int
v2_tlvs(const uint8_t *buf, size_t off, size_t total)
{
	while (off < total) {
		size_t vlen;

		if (total - off < 3)
			return -EINVAL;
		vlen = be16(buf + off + 1);
		if (vlen > total - off - 3)
			return -EINVAL;
		if (buf[off] == V2_TLV_CRC32C) {
			size_t v = off + 3;
			uint32_t crc = ~UINT32_C(0);

			if (vlen != 4)
				return -EINVAL;
			crc = crc32c_update(crc, buf, v);
			crc = crc32c_update(crc, NULL, 4);
			crc = crc32c_update(crc, buf + v + 4, total - v - 4);
			if (~crc != be32(buf + v))
				return -EINVAL;
		}
		off += 3 + vlen;
	}
	return 0;
}

static ssize_t
v2_parse(const uint8_t *buf, size_t len, struct proxy_result *res)
{
	uint8_t cmd, family, trans;
	size_t total, need;
	int r;

	if (memcmp(buf, v2_sig, len < sizeof(v2_sig) ? len : sizeof(v2_sig)) != 0)
		return -EINVAL;
	if (len < 13)
		return 0;
	if (buf[12] >> 4 != 2)
		return -EINVAL;
	cmd = buf[12] & 0xF;
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return -EINVAL;
	if (len < 14)
		return 0;
	if (!v2_fam_ok(buf[13]))
		return -EINVAL;
	family = buf[13] >> 4;
	trans = buf[13] & 0xF;
	if (len < V2_HDR_LEN)
		return 0;
	total = V2_HDR_LEN + (size_t)be16(buf + 14);
	if (total > PROXY_HEADER_MAX)
		return -EINVAL;
	need = cmd == V2_CMD_PROXY ? v2_addr_len(family) : 0;
	if (total - V2_HDR_LEN < need)
		return -EINVAL;
	if (len < total)
		return 0;

	/* LOCAL, and PROXY for an UNSPEC family, mean "use the real
	 * endpoints": the whole block is skipped unread. */
	if (cmd == V2_CMD_PROXY && family != V2_FAM_UNSPEC) {
		r = v2_tlvs(buf, V2_HDR_LEN + need, total);
		if (r < 0)
			return r;
	}

	memset(res, 0, sizeof(*res));
	res->version = 2;
	res->socktype = trans == V2_TRANS_STREAM ? SOCK_STREAM : trans == V2_TRANS_DGRAM ? SOCK_DGRAM : 0;
	res->header_len = total;
	if (need == 0)
		res->local = true;
	else
		v2_fill(family, buf + V2_HDR_LEN, res);
	return (ssize_t)total;
}

ssize_t
proxy_parse(const uint8_t *buf, size_t len, enum proxy_version accept, struct proxy_result *res)
{
	if (accept != PROXY_V1 && accept != PROXY_V2 && accept != PROXY_ANY)
		return -EINVAL;
	if (len == 0)
		return 0;
	if (buf[0] == 'P')
		return accept & PROXY_V1 ? v1_parse(buf, len, res) : -EPROTONOSUPPORT;
	if (buf[0] == v2_sig[0])
		return accept & PROXY_V2 ? v2_parse(buf, len, res) : -EPROTONOSUPPORT;
	return -EINVAL;
}

/* --------------------------------------------------------------- build */

static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };

struct ip_end {
	uint8_t addr[16];               /* IPv6, or IPv4 v4-mapped */
	uint16_t port;                  /* host order */
};

/* 1 when sa is IP (filled into *e), 0 when it is not, -EINVAL when its
 * length is too short for its family. */
static int
ip_end_get(const struct sockaddr *sa, socklen_t len, struct ip_end *e)
{
	if (sa == NULL)
		return 0;
	if (len < sizeof(sa_family_t))
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		if (len < sizeof(*sin))
			return -EINVAL;
		memcpy(e->addr, v4_mapped, 12);
		memcpy(e->addr + 12, &sin->sin_addr, 4);
		e->port = ntohs(sin->sin_port);
		return 1;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (len < sizeof(*sin6))
			return -EINVAL;
		memcpy(e->addr, &sin6->sin6_addr, 16);
		e->port = ntohs(sin6->sin6_port);
		return 1;
	}
	return 0;
}

static bool
ip_end_is_v4(const struct ip_end *e)
{
	return memcmp(e->addr, v4_mapped, 12) == 0;
}

static bool
is_unix(const struct sockaddr *sa, socklen_t len)
{
	return sa != NULL && len >= sizeof(sa_family_t) && sa->sa_family == AF_UNIX;
}

static ssize_t
put(uint8_t *buf, size_t size, const void *data, size_t n)
{
	if (n > size)
		return -ENOSPC;
	memcpy(buf, data, n);
	return (ssize_t)n;
}

static ssize_t
build_v1(bool ip, const struct ip_end *s, const struct ip_end *d, uint8_t *buf, size_t size)
{
	char line[PROXY_V1_MAX + 1], sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
	bool v4 = ip && ip_end_is_v4(s) && ip_end_is_v4(d);
	int n;

	if (!ip)
		return put(buf, size, "PROXY UNKNOWN\r\n", 15);
	if (v4) {
		inet_ntop(AF_INET, s->addr + 12, sa, sizeof(sa));
		inet_ntop(AF_INET, d->addr + 12, da, sizeof(da));
	} else {
		inet_ntop(AF_INET6, s->addr, sa, sizeof(sa));
		inet_ntop(AF_INET6, d->addr, da, sizeof(da));
	}
	n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n", v4 ? "TCP4" : "TCP6", sa, da,
		     (unsigned)s->port, (unsigned)d->port);
	return put(buf, size, line, (size_t)n);
}

static void
put_unix(uint8_t *out, const struct sockaddr *sa, socklen_t len)
{
	size_t n = len > SUN_OFFSET ? len - SUN_OFFSET : 0;

	if (n > V2_UNIX_PATH)
		n = V2_UNIX_PATH;
	memset(out, 0, V2_UNIX_PATH);
	memcpy(out, ((const struct sockaddr_un *)sa)->sun_path, n);
}

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static ssize_t
build_v2(bool ip, const struct ip_end *s, const struct ip_end *d, const struct sockaddr *src,
	 socklen_t src_len, const struct sockaddr *dst, socklen_t dst_len, uint8_t *buf, size_t size)
{
	uint8_t h[PROXY_BUILD_MAX];
	size_t alen = 0;

	memcpy(h, v2_sig, sizeof(v2_sig));
	h[12] = 0x20 | V2_CMD_PROXY;
	if (ip && ip_end_is_v4(s) && ip_end_is_v4(d)) {
		h[13] = V2_FAM_INET << 4 | V2_TRANS_STREAM;
		memcpy(h + 16, s->addr + 12, 4);
		memcpy(h + 20, d->addr + 12, 4);
		put_be16(h + 24, s->port);
		put_be16(h + 26, d->port);
		alen = V2_INET_LEN;
	} else if (ip) {
		h[13] = V2_FAM_INET6 << 4 | V2_TRANS_STREAM;
		memcpy(h + 16, s->addr, 16);
		memcpy(h + 32, d->addr, 16);
		put_be16(h + 48, s->port);
		put_be16(h + 50, d->port);
		alen = V2_INET6_LEN;
	} else if (is_unix(src, src_len) && is_unix(dst, dst_len)) {
		h[13] = V2_FAM_UNIX << 4 | V2_TRANS_STREAM;
		put_unix(h + 16, src, src_len);
		put_unix(h + 16 + V2_UNIX_PATH, dst, dst_len);
		alen = V2_UNIX_LEN;
	} else {
		h[12] = 0x20 | V2_CMD_LOCAL;
		h[13] = 0;
	}
	put_be16(h + 14, (uint16_t)alen);
	return put(buf, size, h, V2_HDR_LEN + alen);
}

ssize_t
proxy_build(enum proxy_version v, const struct sockaddr *src, socklen_t src_len, const struct sockaddr *dst,
	    socklen_t dst_len, uint8_t *buf, size_t size)
{
	struct ip_end s, d;
	int rs, rd;

	if (v != PROXY_V1 && v != PROXY_V2)
		return -EINVAL;
	rs = ip_end_get(src, src_len, &s);
	rd = ip_end_get(dst, dst_len, &d);
	if (rs < 0 || rd < 0)
		return -EINVAL;
	if (v == PROXY_V1)
		return build_v1(rs && rd, &s, &d, buf, size);
	return build_v2(rs && rd, &s, &d, src, src_len, dst, dst_len, buf, size);
}
