/* Included, not linked, so the tests can reach the static CRC32C. */
#include "proxy_proto.c"

#include <check.h>
#include <stdlib.h>

/* ------------------------------------------------------------ helpers */

#define PAYLOAD "GET / HTTP/1.0\r\n\r\n"

/* Parse from a heap copy of exactly n bytes, so ASan sees any read past
 * the end. *res is poisoned first, to see whether it was written. */
static ssize_t
parse_n(const void *p, size_t n, enum proxy_version accept, struct proxy_result *res)
{
	uint8_t *copy = malloc(n ? n : 1);
	ssize_t r;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, p, n);
	memset(res, 0xA5, sizeof(*res));
	r = proxy_parse(copy, n, accept, res);
	free(copy);
	return r;
}

static ssize_t
parse_s(const char *s, enum proxy_version accept, struct proxy_result *res)
{
	return parse_n(s, strlen(s), accept, res);
}

static bool
res_untouched(const struct proxy_result *res)
{
	const uint8_t *p = (const uint8_t *)res;

	for (size_t i = 0; i < sizeof(*res); i++)
		if (p[i] != 0xA5)
			return false;
	return true;
}

/* "192.0.2.1:40000", "[::1]:7", "unix:/path", "unix:@name", "unix:" */
static const char *
fmt(const struct sockaddr_storage *ss, socklen_t len, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET && len == sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else if (ss->ss_family == AF_UNIX && len >= SUN_OFFSET) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)ss;
		size_t n = len - SUN_OFFSET;

		if (n > 0 && sun->sun_path[0] == '\0')
			snprintf(buf, size, "unix:@%.*s", (int)(n - 1), sun->sun_path + 1);
		else
			snprintf(buf, size, "unix:%.*s", (int)n, sun->sun_path);
	} else {
		snprintf(buf, size, "bad family %d len %u", ss->ss_family, (unsigned)len);
	}
	return buf;
}

#define ck_assert_src(res, want)                                                                         \
	do {                                                                                             \
		char b_[160];                                                                            \
		ck_assert_str_eq(fmt(&(res)->src, (res)->src_len, b_, sizeof(b_)), want);               \
	} while (0)
#define ck_assert_dst(res, want)                                                                         \
	do {                                                                                             \
		char b_[160];                                                                            \
		ck_assert_str_eq(fmt(&(res)->dst, (res)->dst_len, b_, sizeof(b_)), want);               \
	} while (0)

struct sa {
	struct sockaddr_storage ss;
	socklen_t len;
};

static struct sa
ip(const char *text, unsigned port)
{
	struct sa a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a.ss;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a.len = sizeof(*sin);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a.len = sizeof(*sin6);
	}
	return a;
}

/* name "@x" is abstract, "" unnamed, else a path. */
static struct sa
unx(const char *name)
{
	struct sa a;
	struct sockaddr_un *sun = (struct sockaddr_un *)&a.ss;
	size_t n = strlen(name);

	memset(&a, 0, sizeof(a));
	sun->sun_family = AF_UNIX;
	if (name[0] == '@') {
		memcpy(sun->sun_path + 1, name + 1, n - 1);
		a.len = (socklen_t)(SUN_OFFSET + n);
	} else if (n == 0) {
		a.len = (socklen_t)SUN_OFFSET;
	} else {
		memcpy(sun->sun_path, name, n + 1);
		a.len = (socklen_t)(SUN_OFFSET + n + 1);
	}
	return a;
}

static uint32_t
crc32c(const uint8_t *p, size_t n)
{
	return ~crc32c_update(~UINT32_C(0), p, n);
}

/* Bit-at-a-time CRC32C, as an independent reference for the table. */
static uint32_t
crc32c_ref(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFF;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78 : crc >> 1;
	}
	return ~crc;
}

/* A v2 header with the given ver_cmd, fam and block; returns its length. */
static size_t
v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *block, size_t blen)
{
	memcpy(out, v2_sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	if (blen)
		memcpy(out + 16, block, blen);
	return 16 + blen;
}

/* 192.0.2.1:40000 -> 198.51.100.2:7 */
static const uint8_t inet_block[12] = { 192, 0, 2, 1, 198, 51, 100, 2, 0x9C, 0x40, 0x00, 0x07 };

/* 2001:db8::1:1 -> ::1:65535 */
static const uint8_t inet6_block[36] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0x00, 0x01, 0xFF, 0xFF,
};

/* Appends a TLV to p, returns the new end. */
static uint8_t *
tlv(uint8_t *p, uint8_t type, const void *value, size_t n)
{
	p[0] = type;
	p[1] = (uint8_t)(n >> 8);
	p[2] = (uint8_t)n;
	if (value)
		memcpy(p + 3, value, n);
	else
		memset(p + 3, 0, n);
	return p + 3 + n;
}

/* A TCP4 header with an ALPN and a CRC32C TLV, the CRC filled in
 * correctly. Returns the length; *crc_off is where the CRC value sits. */
static void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t
v2_with_crc(uint8_t *out, size_t *crc_off)
{
	uint8_t block[64], *p = block;
	size_t n;
	uint32_t crc;

	memcpy(p, inet_block, sizeof(inet_block));
	p += sizeof(inet_block);
	p = tlv(p, 0x01, "h2", 2);
	p = tlv(p, V2_TLV_CRC32C, "\0\0\0\0", 4);
	n = v2(out, 0x21, 0x11, block, (size_t)(p - block));
	*crc_off = n - 4;
	crc = crc32c_ref(out, n);
	put_be32(out + n - 4, crc);
	return n;
}

/* TCP6, 45 + 36 characters of address: exactly 107 bytes with CRLF. */
static const char line107[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
			      "2001:db8:1111:2222:3333:4444:5555:66 65535 65535\r\n";

/* ----------------------------------------------------------------- v1 */

START_TEST(test_v1_tcp4)
{
	struct proxy_result res;
	const char *h = "PROXY TCP4 192.0.2.1 198.51.100.2 40000 7\r\n";

	ck_assert_int_eq(parse_s(h, PROXY_V1, &res), (ssize_t)strlen(h));
	ck_assert_int_eq(res.version, 1);
	ck_assert(!res.local);
	ck_assert_int_eq(res.socktype, SOCK_STREAM);
	ck_assert_uint_eq(res.header_len, strlen(h));
	ck_assert_src(&res, "192.0.2.1:40000");
	ck_assert_dst(&res, "198.51.100.2:7");
}
END_TEST

START_TEST(test_v1_tcp6)
{
	struct proxy_result res;
	const char *h = "PROXY TCP6 2001:DB8::1 ::ffff:192.0.2.9 0 65535\r\n";

	ck_assert_int_eq(parse_s(h, PROXY_ANY, &res), (ssize_t)strlen(h));
	ck_assert_int_eq(res.version, 1);
	ck_assert(!res.local);
	ck_assert_int_eq(res.socktype, SOCK_STREAM);
	ck_assert_src(&res, "[2001:db8::1]:0");
	ck_assert_dst(&res, "[::ffff:192.0.2.9]:65535");
}
END_TEST

START_TEST(test_v1_unknown)
{
	struct proxy_result res;

	ck_assert_int_eq(parse_s("PROXY UNKNOWN\r\n", PROXY_V1, &res), 15);
	ck_assert_int_eq(res.version, 1);
	ck_assert(res.local);
	ck_assert_int_eq(res.src_len, 0);
	ck_assert_int_eq(res.dst_len, 0);
	ck_assert_uint_eq(res.header_len, 15);

	/* Whatever follows UNKNOWN, even nonsense or a NUL, is ignored. */
	ck_assert_int_eq(parse_n("PROXY UNKNOWN 01.2.3.4 :: 99999 x\0y\r\nZ", 38, PROXY_V1, &res), 37);
	ck_assert(res.local);
}
END_TEST

struct v1_row {
	const char *line;
	bool valid;
};

static const struct v1_row v1_rows[] = {
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", true },
	{ "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", true },
	{ "PROXY TCP4 10.0.0.1 10.0.0.2 100 10\r\n", true },
	{ "PROXY TCP6 ::1 2001:db8::2 1 2\r\n", true },
	{ "PROXY TCP6 ::ffff:1.2.3.4 :: 1 2\r\n", true },
	{ "PROXY TCP6 2001:DB8::A ::1 80 443\r\n", true },
	{ "PROXY UNKNOWN\r\n", true },
	{ "PROXY UNKNOWN \r\n", true },
	{ "PROXY UNKNOWN TCP4 1.2.3.4 5.6.7.8 1 2\r\n", true },
	/* IPv4: canonical, in range, four octets, right family. */
	{ "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.00 1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4 005.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4 ::1 1 2\r\n", false },
	/* IPv6. */
	{ "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", false },
	{ "PROXY TCP6 ::g ::1 1 2\r\n", false },
	{ "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n", false },
	{ "PROXY TCP6 ::1 :::1 1 2\r\n", false },
	{ "PROXY TCP6 fe80::1%lo ::1 1 2\r\n", false },
	/* Ports. */
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 0x10 2\r\n", false },
	/* Fields and separators. */
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", false },
	{ "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", false },
	{ "PROXY  UNKNOWN\r\n", false },
	{ "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4\r\n", false },
	{ "PROXY\r\n", false },
	{ "PROXY \r\n", false },
	{ " PROXY UNKNOWN\r\n", false },
	{ "proxy UNKNOWN\r\n", false },
	{ "PROXYUNKNOWN\r\n", false },
	{ "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", false },
	{ "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", false },
	{ "PROXY UNKNOWNX\r\n", false },
	{ "PROXY UNKNOW\r\n", false },
	/* Line ends: CRLF only. */
	{ "PROXY UNKNOWN\n", false },
	{ "PROXY UNKNOWN\r\r\n", false },
	{ "PROXY UNKNOWN\rX\r\n", false },
	{ "PROXY UNKNOWN junk\nmore\r\n", false },
	{ "PROXY UNKNOWN junk\rmore\r\n", false },
	{ "PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n", false },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r\n", false },
};

START_TEST(test_v1_rows)
{
	const struct v1_row *row = &v1_rows[_i];
	struct proxy_result res;
	char with_payload[256];
	ssize_t want = row->valid ? (ssize_t)strlen(row->line) : -EINVAL;

	ck_assert_msg(parse_s(row->line, PROXY_V1, &res) == want, "'%s'", row->line);
	if (!row->valid)
		ck_assert(res_untouched(&res));
	/* Payload after the header is never part of it. */
	snprintf(with_payload, sizeof(with_payload), "%s%s", row->line, PAYLOAD);
	ck_assert_msg(parse_s(with_payload, PROXY_ANY, &res) == want, "'%s' + payload", row->line);
	if (row->valid)
		ck_assert_uint_eq(res.header_len, strlen(row->line));
}
END_TEST

struct v1_prefix {
	const char *text;
	ssize_t want;
};

/* Incomplete input: 0 while it can still become valid, -EINVAL as soon as
 * it cannot. */
static const struct v1_prefix v1_prefixes[] = {
	{ "P", 0 },
	{ "PROX", 0 },
	{ "PROXY", 0 },
	{ "PROXY ", 0 },
	{ "PROXY T", 0 },
	{ "PROXY TCP", 0 },
	{ "PROXY UNKNOWN", 0 },
	{ "PROXY UNKNOWN whatever", 0 },
	{ "PROXY UNKNOWN\r", 0 },
	{ "PROXY TCP4 1", 0 },
	{ "PROXY TCP4 1.2.3.4 ", 0 },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 6553", 0 },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 0 ", 0 },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2", 0 },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 0 },
	{ "PROXY TCP6 2001:db8::", 0 },
	{ "PRX", -EINVAL },
	{ "PROXYX", -EINVAL },
	{ "PROXY X", -EINVAL },
	{ "PROXY  ", -EINVAL },
	{ "PROXY TCP4X", -EINVAL },
	{ "PROXY UNKNOWNX", -EINVAL },
	{ "PROXY TCP4 01", -EINVAL },
	{ "PROXY TCP4 300", -EINVAL },
	{ "PROXY TCP4 1.2.3.4.", -EINVAL },
	{ "PROXY TCP4 1.2.3.4 x", -EINVAL },
	{ "PROXY TCP4 1.2.3.4 ::", -EINVAL },
	{ "PROXY TCP6 ::g", -EINVAL },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 01", -EINVAL },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536", -EINVAL },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", -EINVAL },
	{ "PROXY TCP4 1.2.3.4\r", -EINVAL },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", -EINVAL },
	{ "PROXY UNKNOWN\rX", -EINVAL },
	{ "PROXY UNKNOWN \n", -EINVAL },
};

START_TEST(test_v1_prefixes)
{
	const struct v1_prefix *p = &v1_prefixes[_i];
	struct proxy_result res;

	ck_assert_msg(parse_s(p->text, PROXY_V1, &res) == p->want, "'%s'", p->text);
	ck_assert(res_untouched(&res));
}
END_TEST

/* A wrong byte anywhere in "PROXY " is refused right there. */
START_TEST(test_v1_signature_bytes)
{
	struct proxy_result res;

	for (size_t i = 0; i < 6; i++) {
		char s[7] = "PROXY ";

		s[i] = 'x';
		ck_assert_msg(parse_n(s, i + 1, PROXY_ANY, &res) == -EINVAL, "byte %zu", i);
		s[i] = (char)("PROXY "[i] ^ 0x20); /* case matters too */
		ck_assert_msg(parse_n(s, i + 1, PROXY_ANY, &res) == -EINVAL, "byte %zu", i);
	}
}
END_TEST

START_TEST(test_v1_max_length)
{
	struct proxy_result res;
	char buf[256];

	ck_assert_uint_eq(strlen(line107), PROXY_V1_MAX);
	ck_assert_int_eq(parse_s(line107, PROXY_V1, &res), PROXY_V1_MAX);
	ck_assert_src(&res, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
	ck_assert_dst(&res, "[2001:db8:1111:2222:3333:4444:5555:66]:65535");
	snprintf(buf, sizeof(buf), "%s%s", line107, PAYLOAD);
	ck_assert_int_eq(parse_s(buf, PROXY_V1, &res), PROXY_V1_MAX);

	/* UNKNOWN padded to 107 bytes with CRLF: accepted. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	memset(buf + 14, 'x', PROXY_V1_MAX - 2 - 14);
	memcpy(buf + PROXY_V1_MAX - 2, "\r\n", 2);
	ck_assert_int_eq(parse_n(buf, PROXY_V1_MAX, PROXY_V1, &res), PROXY_V1_MAX);
	ck_assert(res.local);

	/* One more byte before CRLF: the CR is the 107th byte, the LF would be
	 * the 108th. Refused with or without the LF. */
	memset(buf + 14, 'x', PROXY_V1_MAX - 1 - 14);
	memcpy(buf + PROXY_V1_MAX - 1, "\r\n", 2);
	ck_assert_int_eq(parse_n(buf, PROXY_V1_MAX + 1, PROXY_V1, &res), -EINVAL);
	ck_assert_int_eq(parse_n(buf, PROXY_V1_MAX, PROXY_V1, &res), -EINVAL);
	ck_assert_int_eq(parse_n(buf, PROXY_V1_MAX - 1, PROXY_V1, &res), 0);

	/* 108 bytes without CRLF: refused once 107 have arrived. */
	memset(buf + 14, 'x', 108 - 14);
	ck_assert_int_eq(parse_n(buf, 108, PROXY_V1, &res), -EINVAL);
	ck_assert_int_eq(parse_n(buf, PROXY_V1_MAX, PROXY_V1, &res), -EINVAL);
	ck_assert_int_eq(parse_n(buf, PROXY_V1_MAX - 1, PROXY_V1, &res), 0);

	/* Every field valid but the line too long (116 bytes). */
	snprintf(buf, sizeof(buf), "PROXY TCP6 %s %s 65535 65535\r\n", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255",
		 "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	ck_assert_uint_eq(strlen(buf), 116);
	ck_assert_int_eq(parse_s(buf, PROXY_V1, &res), -EINVAL);
	ck_assert_int_eq(parse_n(buf, PROXY_V1_MAX, PROXY_V1, &res), -EINVAL);
	ck_assert_int_eq(parse_n(buf, PROXY_V1_MAX - 1, PROXY_V1, &res), 0);
}
END_TEST

/* ----------------------------------------------------------------- v2 */

START_TEST(test_v2_inet)
{
	struct proxy_result res;
	uint8_t h[64];
	size_t n = v2(h, 0x21, 0x11, inet_block, sizeof(inet_block));

	ck_assert_uint_eq(n, 28);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 28);
	ck_assert_int_eq(res.version, 2);
	ck_assert(!res.local);
	ck_assert_int_eq(res.socktype, SOCK_STREAM);
	ck_assert_uint_eq(res.header_len, 28);
	ck_assert_src(&res, "192.0.2.1:40000");
	ck_assert_dst(&res, "198.51.100.2:7");

	n = v2(h, 0x21, 0x12, inet_block, sizeof(inet_block));
	ck_assert_int_eq(parse_n(h, n, PROXY_ANY, &res), 28);
	ck_assert_int_eq(res.socktype, SOCK_DGRAM);
	ck_assert_src(&res, "192.0.2.1:40000");
}
END_TEST

START_TEST(test_v2_inet6)
{
	struct proxy_result res;
	uint8_t h[64];
	size_t n = v2(h, 0x21, 0x21, inet6_block, sizeof(inet6_block));

	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 52);
	ck_assert(!res.local);
	ck_assert_int_eq(res.socktype, SOCK_STREAM);
	ck_assert_src(&res, "[2001:db8::1]:1");
	ck_assert_dst(&res, "[::1]:65535");

	n = v2(h, 0x21, 0x22, inet6_block, sizeof(inet6_block));
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 52);
	ck_assert_int_eq(res.socktype, SOCK_DGRAM);
}
END_TEST

START_TEST(test_v2_unix)
{
	struct proxy_result res;
	uint8_t block[216], h[256];
	size_t n;

	memset(block, 0, sizeof(block));
	memcpy(block, "/run/client.sock", 16);
	memcpy(block + 108, "\0sockd", 6);
	n = v2(h, 0x21, 0x31, block, sizeof(block));
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 232);
	ck_assert(!res.local);
	ck_assert_int_eq(res.socktype, SOCK_STREAM);
	ck_assert_int_eq(res.src.ss_family, AF_UNIX);
	ck_assert_int_eq(res.src_len, SUN_OFFSET + 17);
	ck_assert_int_eq(res.dst_len, SUN_OFFSET + 6);
	ck_assert_str_eq(((struct sockaddr_un *)&res.src)->sun_path, "/run/client.sock");
	ck_assert_dst(&res, "unix:@sockd");

	/* Unnamed source, a path filling all 108 bytes (no NUL), datagram. */
	memset(block, 0, sizeof(block));
	memset(block + 108, 'p', 108);
	n = v2(h, 0x21, 0x32, block, sizeof(block));
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 232);
	ck_assert_int_eq(res.socktype, SOCK_DGRAM);
	ck_assert_int_eq(res.src_len, SUN_OFFSET);
	ck_assert_int_eq(res.dst_len, SUN_OFFSET + 108);
}
END_TEST

START_TEST(test_v2_local)
{
	struct proxy_result res;
	uint8_t h[64], junk[12] = { 0x03, 0xFF, 0xFF, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	size_t n;

	n = v2(h, 0x20, 0x00, NULL, 0);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 16);
	ck_assert_int_eq(res.version, 2);
	ck_assert(res.local);
	ck_assert_int_eq(res.src_len, 0);
	ck_assert_int_eq(res.socktype, 0);

	/* LOCAL skips its block unread, even one that would be a broken TLV
	 * or too short for the family. */
	n = v2(h, 0x20, 0x00, junk, 5);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 21);
	ck_assert(res.local);
	n = v2(h, 0x20, 0x11, junk, sizeof(junk));
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 28);
	ck_assert(res.local);
	ck_assert_int_eq(res.socktype, SOCK_STREAM);
	n = v2(h, 0x20, 0x21, junk, 3);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 19);
	ck_assert(res.local);

	/* PROXY for an UNSPEC family: keep the real endpoints too. */
	n = v2(h, 0x21, 0x00, junk, 7);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 23);
	ck_assert(res.local);
	n = v2(h, 0x21, 0x00, NULL, 0);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 16);
	ck_assert(res.local);
}
END_TEST

START_TEST(test_v2_signature_bytes)
{
	struct proxy_result res;
	uint8_t h[64];
	size_t n = v2(h, 0x21, 0x11, inet_block, sizeof(inet_block));

	for (size_t i = 0; i < 12; i++) {
		uint8_t bad[64];

		memcpy(bad, h, n);
		bad[i] ^= 0x01;
		ck_assert_msg(parse_n(bad, i + 1, PROXY_V2, &res) == -EINVAL, "byte %zu", i);
		ck_assert_msg(parse_n(bad, n, PROXY_V2, &res) == -EINVAL, "byte %zu", i);
		ck_assert_msg(parse_n(h, i + 1, PROXY_V2, &res) == 0, "byte %zu", i);
	}
}
END_TEST

START_TEST(test_v2_ver_cmd)
{
	struct proxy_result res;
	uint8_t h[64];

	for (unsigned vc = 0; vc < 256; vc++) {
		bool ok = vc == 0x20 || vc == 0x21;
		size_t n = v2(h, (uint8_t)vc, 0x11, inet_block, sizeof(inet_block));

		/* Judged as soon as the byte arrives. */
		ck_assert_msg(parse_n(h, 13, PROXY_V2, &res) == (ok ? 0 : -EINVAL), "ver_cmd %#x", vc);
		ck_assert_msg(parse_n(h, n, PROXY_V2, &res) == (ok ? (ssize_t)n : -EINVAL), "ver_cmd %#x", vc);
	}
}
END_TEST

START_TEST(test_v2_fam)
{
	static const uint8_t valid[] = { 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32 };
	struct proxy_result res;
	uint8_t block[216] = { 0 }, h[256];

	for (unsigned fam = 0; fam < 256; fam++) {
		bool ok = memchr(valid, (int)fam, sizeof(valid)) != NULL;
		size_t n = v2(h, 0x21, (uint8_t)fam, block, sizeof(block));

		ck_assert_msg(parse_n(h, 14, PROXY_V2, &res) == (ok ? 0 : -EINVAL), "fam %#x", fam);
		ck_assert_msg(parse_n(h, n, PROXY_V2, &res) == (ok ? (ssize_t)n : -EINVAL), "fam %#x", fam);
		/* LOCAL judges the byte the same way. */
		h[12] = 0x20;
		ck_assert_msg(parse_n(h, n, PROXY_V2, &res) == (ok ? (ssize_t)n : -EINVAL), "fam %#x", fam);
	}
}
END_TEST

struct len_row {
	uint8_t fam;
	size_t min;
};

static const struct len_row len_rows[] = {
	{ 0x11, 12 }, { 0x12, 12 }, { 0x21, 36 }, { 0x22, 36 }, { 0x31, 216 }, { 0x32, 216 },
};

START_TEST(test_v2_address_length)
{
	const struct len_row *row = &len_rows[_i];
	struct proxy_result res;
	uint8_t block[216], h[256];
	size_t n;

	memset(block, 0x7F, sizeof(block));
	/* One byte short: refused as soon as the length is known. */
	n = v2(h, 0x21, row->fam, block, row->min - 1);
	ck_assert_int_eq(parse_n(h, 16, PROXY_V2, &res), -EINVAL);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), -EINVAL);
	n = v2(h, 0x21, row->fam, NULL, 0);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), -EINVAL);
	/* Exactly enough. */
	n = v2(h, 0x21, row->fam, block, row->min);
	ck_assert_int_eq(parse_n(h, 16, PROXY_V2, &res), 0);
	ck_assert_int_eq(parse_n(h, n - 1, PROXY_V2, &res), 0);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), (ssize_t)n);
	ck_assert(!res.local);
	/* LOCAL has no minimum. */
	n = v2(h, 0x20, row->fam, NULL, 0);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), 16);
}
END_TEST

START_TEST(test_v2_length_cap)
{
	struct proxy_result res;
	uint8_t *h = calloc(1, PROXY_HEADER_MAX + 64);
	size_t n;

	ck_assert_ptr_nonnull(h);
	n = v2(h, 0x21, 0x11, inet_block, sizeof(inet_block));
	/* Largest accepted: a NOOP TLV filling the rest. */
	h[14] = (PROXY_HEADER_MAX - 16) >> 8;
	h[15] = (PROXY_HEADER_MAX - 16) & 0xFF;
	tlv(h + n, 0x04, NULL, 0);
	h[n + 1] = (PROXY_HEADER_MAX - n - 3) >> 8;
	h[n + 2] = (PROXY_HEADER_MAX - n - 3) & 0xFF;
	ck_assert_int_eq(parse_n(h, 16, PROXY_V2, &res), 0);
	ck_assert_int_eq(parse_n(h, PROXY_HEADER_MAX - 1, PROXY_V2, &res), 0);
	ck_assert_int_eq(parse_n(h, PROXY_HEADER_MAX + 10, PROXY_V2, &res), PROXY_HEADER_MAX);
	ck_assert_src(&res, "192.0.2.1:40000");

	/* One byte more, and the spec's maximum: refused from the 16 bytes. */
	h[14] = (PROXY_HEADER_MAX - 15) >> 8;
	h[15] = (PROXY_HEADER_MAX - 15) & 0xFF;
	ck_assert_int_eq(parse_n(h, 16, PROXY_V2, &res), -EINVAL);
	h[14] = h[15] = 0xFF;
	ck_assert_int_eq(parse_n(h, 16, PROXY_V2, &res), -EINVAL);
	h[12] = 0x20;   /* LOCAL too */
	ck_assert_int_eq(parse_n(h, 16, PROXY_V2, &res), -EINVAL);
	free(h);
}
END_TEST

START_TEST(test_v2_tlvs)
{
	struct proxy_result res;
	uint8_t block[128], h[160], *p;
	size_t n;

	/* Known and unknown TLVs, an empty one, and an SSL TLV: skipped. */
	memcpy(block, inet_block, 12);
	p = tlv(block + 12, 0x04, "\0\0\0", 3);
	p = tlv(p, 0xEA, "vpce-", 5);
	p = tlv(p, 0xE0, NULL, 0);
	p = tlv(p, 0x20, "\x01\0\0\0\0", 5);
	n = v2(h, 0x21, 0x11, block, (size_t)(p - block));
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), (ssize_t)n);
	ck_assert_src(&res, "192.0.2.1:40000");

	/* The last TLV's value runs one byte past the block. */
	h[n - 5 - 1] = 6;
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), -EINVAL);
	/* ... or claims the largest length. */
	h[n - 5 - 2] = 0xFF;
	h[n - 5 - 1] = 0xFF;
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), -EINVAL);

	/* A TLV header cut after 1 or 2 of its 3 bytes. */
	for (size_t cut = 1; cut <= 2; cut++) {
		memcpy(block + 12, "\x04\x00\x00", cut);
		n = v2(h, 0x21, 0x11, block, 12 + cut);
		ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), -EINVAL);
	}
	/* Same for IPv6 and Unix blocks. */
	memset(block, 0, sizeof(block));
	memcpy(block, inet6_block, 36);
	tlv(block + 36, 0x04, NULL, 4);
	n = v2(h, 0x21, 0x21, block, 36 + 7);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), (ssize_t)n);
	n = v2(h, 0x21, 0x21, block, 36 + 6);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), -EINVAL);
	{
		uint8_t ublock[224] = { 0 }, uh[256];

		tlv(ublock + 216, 0x04, NULL, 2);
		n = v2(uh, 0x21, 0x31, ublock, 216 + 5);
		ck_assert_int_eq(parse_n(uh, n, PROXY_V2, &res), (ssize_t)n);
		n = v2(uh, 0x21, 0x31, ublock, 216 + 4);
		ck_assert_int_eq(parse_n(uh, n, PROXY_V2, &res), -EINVAL);
	}
}
END_TEST

START_TEST(test_v2_crc)
{
	struct proxy_result res;
	uint8_t h[128], bad[128], block[64], *p;
	size_t crc_off, n = v2_with_crc(h, &crc_off);
	uint32_t crc;

	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), (ssize_t)n);
	ck_assert_src(&res, "192.0.2.1:40000");

	/* Any bit of the CRC, or of the covered bytes, changed: refused. */
	for (size_t i = 0; i < n; i++) {
		if ((i >= 12 && i < 16) || i == crc_off - 3)
			continue;       /* ver/fam/len have their own checks */
		memcpy(bad, h, n);
		bad[i] ^= 0x10;
		ck_assert_msg(parse_n(bad, n, PROXY_V2, &res) == -EINVAL, "byte %zu", i);
	}
	/* The CRC is optional: with another type, the TLV is just skipped. */
	memcpy(bad, h, n);
	bad[crc_off - 3] = 0xEF;
	ck_assert_int_eq(parse_n(bad, n, PROXY_V2, &res), (ssize_t)n);

	/* A CRC TLV of the wrong size, or two of them. */
	memcpy(block, inet_block, 12);
	p = tlv(block + 12, V2_TLV_CRC32C, "\0\0\0", 3);
	n = v2(h, 0x21, 0x11, block, (size_t)(p - block));
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), -EINVAL);
	p = tlv(block + 12, V2_TLV_CRC32C, "\0\0\0\0\0", 5);
	n = v2(h, 0x21, 0x11, block, (size_t)(p - block));
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), -EINVAL);
	p = tlv(block + 12, V2_TLV_CRC32C, "\0\0\0\0", 4);
	p = tlv(p, V2_TLV_CRC32C, "\0\0\0\0", 4);
	n = v2(h, 0x21, 0x11, block, (size_t)(p - block));
	/* Two: each is checked with only its own field zeroed, so the CRC
	 * of the header with both zeroed matches neither. */
	crc = crc32c_ref(h, n);
	put_be32(h + n - 11, crc);
	put_be32(h + n - 4, crc);
	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), -EINVAL);
}
END_TEST

START_TEST(test_crc32c)
{
	uint8_t buf[300];
	unsigned seed = 7;

	ck_assert_uint_eq(crc32c((const uint8_t *)"123456789", 9), 0xE3069283);
	ck_assert_uint_eq(crc32c_ref((const uint8_t *)"123456789", 9), 0xE3069283);
	ck_assert_uint_eq(crc32c(NULL, 0), 0);
	/* 32 zero bytes: RFC 3720 B.4 test vector. */
	memset(buf, 0, 32);
	ck_assert_uint_eq(crc32c(buf, 32), 0x8A9136AA);
	memset(buf, 0xFF, 32);
	ck_assert_uint_eq(crc32c(buf, 32), 0x62A8AB43);
	for (int k = 0; k < 200; k++) {
		size_t n = (size_t)(rand_r(&seed) % (int)sizeof(buf)), cut;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		ck_assert_uint_eq(crc32c(buf, n), crc32c_ref(buf, n));
		cut = n ? (size_t)rand_r(&seed) % n : 0;
		ck_assert_uint_eq(~crc32c_update(crc32c_update(~0u, buf, cut), buf + cut, n - cut),
				  crc32c_ref(buf, n));
	}
}
END_TEST

/* ------------------------------------------------------- both versions */

START_TEST(test_version_selection)
{
	struct proxy_result res;
	uint8_t h[64];
	size_t n = v2(h, 0x21, 0x11, inet_block, sizeof(inet_block));
	const char *h1 = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";
	static const char *const garbage[] = { "GET / HTTP/1.0\r\n", "SSH-2.0-x\r\n", "\x16\x03\x01\x02", "\n", "X" };

	ck_assert_int_eq(parse_n(h, n, PROXY_V2, &res), (ssize_t)n);
	ck_assert_int_eq(parse_n(h, n, PROXY_ANY, &res), (ssize_t)n);
	ck_assert_int_eq(parse_n(h, n, PROXY_V1, &res), -EPROTONOSUPPORT);
	ck_assert_int_eq(parse_n(h, 1, PROXY_V1, &res), -EPROTONOSUPPORT);
	ck_assert_int_eq(parse_s(h1, PROXY_V1, &res), (ssize_t)strlen(h1));
	ck_assert_int_eq(parse_s(h1, PROXY_ANY, &res), (ssize_t)strlen(h1));
	ck_assert_int_eq(parse_s(h1, PROXY_V2, &res), -EPROTONOSUPPORT);
	ck_assert_int_eq(parse_s("P", PROXY_V2, &res), -EPROTONOSUPPORT);
	ck_assert(res_untouched(&res));

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
		for (int a = PROXY_V1; a <= PROXY_ANY; a++)
			ck_assert_msg(parse_s(garbage[i], a, &res) == -EINVAL, "garbage %zu accept %d", i, a);
	ck_assert_int_eq(parse_n("\0", 1, PROXY_ANY, &res), -EINVAL);

	ck_assert_int_eq(parse_n("", 0, PROXY_ANY, &res), 0);
	ck_assert_int_eq(parse_s(h1, 0, &res), -EINVAL);
	ck_assert_int_eq(parse_s(h1, 4, &res), -EINVAL);
}
END_TEST

struct sample {
	uint8_t bytes[256];
	size_t len;
};

/* Valid headers of every kind, for truncation and mutation. */
static size_t
samples(struct sample *s)
{
	static const char *const lines[] = {
		"PROXY TCP4 192.0.2.1 198.51.100.2 40000 7\r\n",
		"PROXY TCP6 2001:db8::1 ::1 0 65535\r\n",
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN 1.2.3.4 junk\r\n",
		line107,
	};
	uint8_t ublock[216] = { 0 }, block[64], *p;
	size_t k = 0, crc_off;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++, k++) {
		s[k].len = strlen(lines[i]);
		memcpy(s[k].bytes, lines[i], s[k].len);
	}
	s[k].len = v2(s[k].bytes, 0x21, 0x11, inet_block, 12);
	k++;
	s[k].len = v2_with_crc(s[k].bytes, &crc_off);
	k++;
	s[k].len = v2(s[k].bytes, 0x21, 0x21, inet6_block, 36);
	k++;
	memcpy(ublock, "/run/x", 6);
	s[k].len = v2(s[k].bytes, 0x21, 0x31, ublock, 216);
	k++;
	s[k].len = v2(s[k].bytes, 0x20, 0x00, NULL, 0);
	k++;
	s[k].len = v2(s[k].bytes, 0x20, 0x00, "abc", 3);
	k++;
	s[k].len = v2(s[k].bytes, 0x21, 0x00, "abcdefg", 7);
	k++;
	memcpy(block, inet_block, 12);
	p = tlv(block + 12, 0x05, "unique-id", 9);
	p = tlv(p, 0xE1, NULL, 0);
	s[k].len = v2(s[k].bytes, 0x21, 0x12, block, (size_t)(p - block));
	k++;
	return k;

}

START_TEST(test_truncation)
{
	struct sample s[16];
	size_t ns = samples(s);
	struct proxy_result res;

	for (size_t k = 0; k < ns; k++) {
		uint8_t buf[600];

		for (size_t i = 0; i < s[k].len; i++) {
			ck_assert_msg(parse_n(s[k].bytes, i, PROXY_ANY, &res) == 0, "sample %zu prefix %zu", k, i);
			ck_assert(res_untouched(&res));
		}
		ck_assert_msg(parse_n(s[k].bytes, s[k].len, PROXY_ANY, &res) == (ssize_t)s[k].len, "sample %zu", k);
		ck_assert_uint_eq(res.header_len, s[k].len);
		memcpy(buf, s[k].bytes, s[k].len);
		memcpy(buf + s[k].len, PAYLOAD, strlen(PAYLOAD));
		ck_assert_msg(parse_n(buf, s[k].len + strlen(PAYLOAD), PROXY_ANY, &res) == (ssize_t)s[k].len,
			      "sample %zu + payload", k);
		ck_assert_uint_eq(res.header_len, s[k].len);
		/* A second header is payload too. */
		memcpy(buf + s[k].len, s[k].bytes, s[k].len);
		ck_assert_int_eq(parse_n(buf, 2 * s[k].len, PROXY_ANY, &res), (ssize_t)s[k].len);
	}
}
END_TEST

/* -------------------------------------------------------------- build */

START_TEST(test_build_v1)
{
	struct sa s4 = ip("192.0.2.1", 40000), d4 = ip("198.51.100.2", 7);
	struct sa s6 = ip("2001:db8::1", 1), d6 = ip("::1", 65535);
	struct sa m4 = ip("::ffff:192.0.2.1", 40000), u = unx("/run/x");
	struct proxy_result res;
	uint8_t buf[PROXY_BUILD_MAX];
	ssize_t n;

	n = proxy_build(PROXY_V1, (struct sockaddr *)&s4.ss, s4.len, (struct sockaddr *)&d4.ss, d4.len, buf,
			sizeof(buf));
	ck_assert_int_eq(n, 43);
	ck_assert_mem_eq(buf, "PROXY TCP4 192.0.2.1 198.51.100.2 40000 7\r\n", 43);
	ck_assert_int_eq(parse_n(buf, (size_t)n, PROXY_V1, &res), n);
	ck_assert_src(&res, "192.0.2.1:40000");
	ck_assert_dst(&res, "198.51.100.2:7");

	n = proxy_build(PROXY_V1, (struct sockaddr *)&s6.ss, s6.len, (struct sockaddr *)&d6.ss, d6.len, buf,
			sizeof(buf));
	ck_assert_int_eq(n, 36);
	ck_assert_mem_eq(buf, "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n", 36);
	ck_assert_int_eq(parse_n(buf, (size_t)n, PROXY_V1, &res), n);
	ck_assert_src(&res, "[2001:db8::1]:1");
	ck_assert_dst(&res, "[::1]:65535");

	/* v4-mapped on both sides is plain TCP4; mixed families map to TCP6. */
	n = proxy_build(PROXY_V1, (struct sockaddr *)&m4.ss, m4.len, (struct sockaddr *)&d4.ss, d4.len, buf,
			sizeof(buf));
	ck_assert_int_eq(n, 43);
	ck_assert_mem_eq(buf, "PROXY TCP4 192.0.2.1 198.51.100.2 40000 7\r\n", 43);
	n = proxy_build(PROXY_V1, (struct sockaddr *)&s4.ss, s4.len, (struct sockaddr *)&d6.ss, d6.len, buf,
			sizeof(buf));
	ck_assert_int_eq(parse_n(buf, (size_t)n, PROXY_V1, &res), n);
	ck_assert_src(&res, "[::ffff:192.0.2.1]:40000");
	ck_assert_dst(&res, "[::1]:65535");

	/* Unix or missing addresses: UNKNOWN. */
	n = proxy_build(PROXY_V1, (struct sockaddr *)&u.ss, u.len, (struct sockaddr *)&d4.ss, d4.len, buf,
			sizeof(buf));
	ck_assert_int_eq(n, 15);
	ck_assert_mem_eq(buf, "PROXY UNKNOWN\r\n", 15);
	n = proxy_build(PROXY_V1, NULL, 0, (struct sockaddr *)&d4.ss, d4.len, buf, sizeof(buf));
	ck_assert_int_eq(n, 15);
	ck_assert_int_eq(parse_n(buf, (size_t)n, PROXY_V1, &res), 15);
	ck_assert(res.local);
}
END_TEST

START_TEST(test_build_v2)
{
	static const uint8_t want4[28] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49,
					   0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C, 192,  0,    2,    1,
					   198,  51,   100,  2,    0x9C, 0x40, 0x00, 0x07 };
	struct sa s4 = ip("192.0.2.1", 40000), d4 = ip("198.51.100.2", 7);
	struct sa s6 = ip("2001:db8::1", 1), d6 = ip("::1", 65535);
	struct proxy_result res;
	uint8_t buf[PROXY_BUILD_MAX];
	ssize_t n;

	n = proxy_build(PROXY_V2, (struct sockaddr *)&s4.ss, s4.len, (struct sockaddr *)&d4.ss, d4.len, buf,
			sizeof(buf));
	ck_assert_int_eq(n, 28);
	ck_assert_mem_eq(buf, want4, 28);
	ck_assert_int_eq(parse_n(buf, (size_t)n, PROXY_V2, &res), 28);
	ck_assert_int_eq(res.socktype, SOCK_STREAM);
	ck_assert_src(&res, "192.0.2.1:40000");
	ck_assert_dst(&res, "198.51.100.2:7");

	n = proxy_build(PROXY_V2, (struct sockaddr *)&s6.ss, s6.len, (struct sockaddr *)&d6.ss, d6.len, buf,
			sizeof(buf));
	ck_assert_int_eq(n, 52);
	ck_assert_int_eq(buf[13], 0x21);
	ck_assert_mem_eq(buf + 16, inet6_block, 36);
	ck_assert_int_eq(parse_n(buf, (size_t)n, PROXY_V2, &res), 52);
	ck_assert_src(&res, "[2001:db8::1]:1");
	ck_assert_dst(&res, "[::1]:65535");

	n = proxy_build(PROXY_V2, (struct sockaddr *)&d6.ss, d6.len, (struct sockaddr *)&s4.ss, s4.len, buf,
			sizeof(buf));
	ck_assert_int_eq(parse_n(buf, (size_t)n, PROXY_V2, &res), 52);
	ck_assert_src(&res, "[::1]:65535");
	ck_assert_dst(&res, "[::ffff:192.0.2.1]:40000");
}
END_TEST

START_TEST(test_build_v2_unix_local)
{
	static const char *const names[][2] = {
		{ "/run/client.sock", "@sockd" },
		{ "", "/run/sockd/sockd.sock" },
		{ "@a", "@b" },
	};
	struct sa d4 = ip("198.51.100.2", 7);
	struct proxy_result res;
	uint8_t buf[PROXY_BUILD_MAX];
	char want[160];
	ssize_t n;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct sa s = unx(names[i][0]), d = unx(names[i][1]);

		n = proxy_build(PROXY_V2, (struct sockaddr *)&s.ss, s.len, (struct sockaddr *)&d.ss, d.len, buf,
				sizeof(buf));
		ck_assert_int_eq(n, 232);
		ck_assert_int_eq(buf[13], 0x31);
		ck_assert_int_eq(parse_n(buf, (size_t)n, PROXY_V2, &res), 232);
		ck_assert(!res.local);
		ck_assert_int_eq(res.src_len, s.len);
		ck_assert_int_eq(res.dst_len, d.len);
		ck_assert_str_eq(fmt(&res.src, res.src_len, want, sizeof(want)),
				 fmt(&s.ss, s.len, (char[160]){ 0 }, 160));
		ck_assert_mem_eq(&res.dst, &d.ss, d.len);
	}

	/* Unix to IP, or nothing known: LOCAL. */
	{
		struct sa u = unx("/run/x");
		static const uint8_t want_local[16] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
							0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00 };

		n = proxy_build(PROXY_V2, (struct sockaddr *)&u.ss, u.len, (struct sockaddr *)&d4.ss, d4.len, buf,
				sizeof(buf));
		ck_assert_int_eq(n, 16);
		ck_assert_mem_eq(buf, want_local, 16);
		n = proxy_build(PROXY_V2, (struct sockaddr *)&d4.ss, d4.len, NULL, 0, buf, sizeof(buf));
		ck_assert_int_eq(n, 16);
		ck_assert_int_eq(parse_n(buf, (size_t)n, PROXY_V2, &res), 16);
		ck_assert(res.local);
	}
}
END_TEST

START_TEST(test_build_errors)
{
	struct sa s4 = ip("192.0.2.1", 40000), d4 = ip("198.51.100.2", 7);
	struct sa s6 = ip("2001:db8::1", 1), u = unx("/run/x");
	uint8_t buf[PROXY_BUILD_MAX];
	struct {
		enum proxy_version v;
		struct sa *s, *d;
		ssize_t n;
	} rows[] = {
		{ PROXY_V1, &s4, &d4, 43 }, { PROXY_V1, &s6, &s6, 40 }, { PROXY_V1, &u, &u, 15 },
		{ PROXY_V2, &s4, &d4, 28 }, { PROXY_V2, &s6, &s6, 52 }, { PROXY_V2, &u, &u, 232 },
		{ PROXY_V2, &u, &s4, 16 },
	};

	/* Exactly the needed size works, one byte less is -ENOSPC. */
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct sockaddr *s = (struct sockaddr *)&rows[i].s->ss, *d = (struct sockaddr *)&rows[i].d->ss;

		ck_assert_int_eq(proxy_build(rows[i].v, s, rows[i].s->len, d, rows[i].d->len, buf, (size_t)rows[i].n),
				 rows[i].n);
		ck_assert_int_eq(
			proxy_build(rows[i].v, s, rows[i].s->len, d, rows[i].d->len, buf, (size_t)rows[i].n - 1),
			-ENOSPC);
	}
	ck_assert_int_eq(proxy_build(PROXY_ANY, (struct sockaddr *)&s4.ss, s4.len, (struct sockaddr *)&d4.ss,
				     d4.len, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_int_eq(proxy_build(PROXY_V2, (struct sockaddr *)&s4.ss, s4.len - 1, (struct sockaddr *)&d4.ss,
				     d4.len, buf, sizeof(buf)),
			 -EINVAL);
	ck_assert_int_eq(proxy_build(PROXY_V1, (struct sockaddr *)&s4.ss, s4.len, (struct sockaddr *)&s6.ss,
				     s6.len - 1, buf, sizeof(buf)),
			 -EINVAL);
}
END_TEST

/* ------------------------------------------------------------- random */

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
check_sane(const uint8_t *buf, size_t len, ssize_t r, const struct proxy_result *res, int accept)
{
	ck_assert_msg(r == 0 || r == -EINVAL || r == -EPROTONOSUPPORT || (r > 0 && (size_t)r <= len),
		      "result %zd for len %zu", r, len);
	if (r > 0) {
		ck_assert_uint_eq(res->header_len, (size_t)r);
		ck_assert(res->version == 1 || res->version == 2);
		ck_assert(res->version & accept);
		ck_assert(res->version == 1 ? buf[0] == 'P' : buf[0] == 0x0D);
		if (res->local)
			ck_assert_int_eq(res->src_len, 0);
		else
			ck_assert(res->src.ss_family == AF_INET || res->src.ss_family == AF_INET6 ||
				  (res->version == 2 && res->src.ss_family == AF_UNIX));
	}
	if (r == -EPROTONOSUPPORT)
		ck_assert(accept != PROXY_ANY);
	if (len >= PROXY_HEADER_MAX)
		ck_assert_int_ne(r, 0);
}

START_TEST(test_random)
{
	static const char alphabet[] = "PROXY TCP46UNKOW0123456789abcdefABCDEF.:\r\n \0\t";
	struct sample s[16];
	size_t ns = samples(s);
	uint32_t seed = 0x5EED1234;
	struct proxy_result res;
	unsigned accepted = 0;

	for (int it = 0; it < 100000; it++) {
		int accept = 1 + (int)(xorshift(&seed) % 3);
		int mode = (int)(xorshift(&seed) % 5);
		size_t len = 0;
		uint8_t *buf;
		ssize_t r;

		if (it % 2000 == 0)
			len = PROXY_HEADER_MAX + xorshift(&seed) % 16;
		else if (mode == 0 || mode == 1)
			len = xorshift(&seed) % 300;
		else if (mode == 2)
			len = xorshift(&seed) % 130;
		else
			len = xorshift(&seed) % 260;
		buf = malloc(len ? len : 1);
		ck_assert_ptr_nonnull(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)xorshift(&seed);
		if (mode == 1) {
			/* A v2 signature with a plausible length, to go deep. */
			memcpy(buf, v2_sig, len < 12 ? len : 12);
			if (len > 12)
				buf[12] = (uint8_t)(0x20 | (xorshift(&seed) % 3));
			if (len > 14)
				buf[14] = 0;
			if (len > 15 && xorshift(&seed) % 2)
				buf[15] = (uint8_t)(len - 16);
		} else if (mode == 2) {
			memcpy(buf, "PROXY ", len < 6 ? len : 6);
			for (size_t i = 6; i < len; i++)
				buf[i] = (uint8_t)alphabet[xorshift(&seed) % (sizeof(alphabet) - 1)];
		} else if (mode >= 3) {
			/* A valid header with a few bytes changed, then cut. */
			const struct sample *smp = &s[xorshift(&seed) % ns];
			size_t n = smp->len < len ? smp->len : len;

			memcpy(buf, smp->bytes, n);
			for (int f = (int)(xorshift(&seed) % 3); f > 0 && n > 0; f--)
				buf[xorshift(&seed) % n] ^= (uint8_t)(1 + xorshift(&seed) % 255);
		}
		r = proxy_parse(buf, len, (enum proxy_version)accept, &res);
		check_sane(buf, len, r, &res, accept);
		if (r > 0)
			accepted++;

		/* Once refused, always refused; once complete, no prefix of the
		 * header is refused or complete. */
		if (it % 50 == 0 && len < 300) {
			for (size_t k = 0; k < len; k++) {
				ssize_t rk = proxy_parse(buf, k, (enum proxy_version)accept, &res);

				if (r < 0)
					ck_assert(rk == 0 || rk == r);
				else if (r > 0 && k < (size_t)r)
					ck_assert_int_eq(rk, 0);
				if (rk < 0)
					ck_assert_int_eq(r, rk);
			}
		}
		free(buf);
	}
	/* The mutation modes must reach the success path, or the loop proves
	 * little. */
	ck_assert_uint_gt(accepted, 1000);
}
END_TEST

static Suite *
proxy_proto_suite(void)
{
	Suite *s = suite_create("proxy_proto");
	TCase *tc;

	tc = tcase_create("v1");
	tcase_add_test(tc, test_v1_tcp4);
	tcase_add_test(tc, test_v1_tcp6);
	tcase_add_test(tc, test_v1_unknown);
	tcase_add_loop_test(tc, test_v1_rows, 0, sizeof(v1_rows) / sizeof(v1_rows[0]));
	tcase_add_loop_test(tc, test_v1_prefixes, 0, sizeof(v1_prefixes) / sizeof(v1_prefixes[0]));
	tcase_add_test(tc, test_v1_signature_bytes);
	tcase_add_test(tc, test_v1_max_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("v2");
	tcase_add_test(tc, test_v2_inet);
	tcase_add_test(tc, test_v2_inet6);
	tcase_add_test(tc, test_v2_unix);
	tcase_add_test(tc, test_v2_local);
	tcase_add_test(tc, test_v2_signature_bytes);
	tcase_add_test(tc, test_v2_ver_cmd);
	tcase_add_test(tc, test_v2_fam);
	tcase_add_loop_test(tc, test_v2_address_length, 0, sizeof(len_rows) / sizeof(len_rows[0]));
	tcase_add_test(tc, test_v2_length_cap);
	tcase_add_test(tc, test_v2_tlvs);
	tcase_add_test(tc, test_v2_crc);
	tcase_add_test(tc, test_crc32c);
	suite_add_tcase(s, tc);

	tc = tcase_create("both");
	tcase_add_test(tc, test_version_selection);
	tcase_add_test(tc, test_truncation);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_add_test(tc, test_build_v1);
	tcase_add_test(tc, test_build_v2);
	tcase_add_test(tc, test_build_v2_unix_local);
	tcase_add_test(tc, test_build_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("random");
	/* Sanitizers on a loaded machine: generous, it is not a timing test. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proxy_proto_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
