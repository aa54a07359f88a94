#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"

#define SUN_OFFSET      offsetof(struct sockaddr_un, sun_path)
#define SUN_PATH_MAX    sizeof(((struct sockaddr_un *)0)->sun_path)

#define N(x) (sizeof(x) / sizeof((x)[0]))

static struct addr
parse_ok(const char *text)
{
	struct addr a;
	const char *why = NULL;
	int r;

	memset(&a, 0, sizeof(a));
	r = addr_parse(text, &a, &why);
	ck_assert_msg(r == 0, "addr_parse(\"%s\") = %d (%s)", text, r, why ? why : "-");
	return a;
}

static const char *
fmt(const struct addr *a)
{
	static char buf[ADDR_STRLEN];

	return addr_format(a, buf, sizeof(buf));
}

/* text -> canonical text */
static const struct {
	const char *text;
	const char *canon;
} ok_cases[] = {
	{ "tcp:127.0.0.1:7", "tcp:127.0.0.1:7" },
	{ "udp:0.0.0.0:65535", "udp:0.0.0.0:65535" },
	{ "tcp:10.1.2.3:1", "tcp:10.1.2.3:1" },
	{ "tcp:127.0.0.1:007", "tcp:127.0.0.1:7" },
	{ "tcp:127.1:2000", "tcp:127.0.0.1:2000" },
	{ "tcp:[::1]:7", "tcp:[::1]:7" },
	{ "udp:[::]:7", "udp:[::]:7" },
	{ "tcp:[2001:DB8:0:0:0:0:0:1]:443", "tcp:[2001:db8::1]:443" },
	{ "tcp:[::ffff:1.2.3.4]:80", "tcp:[::ffff:1.2.3.4]:80" },
	{ "udp:[::ffff:7f00:1]:9", "udp:[::ffff:127.0.0.1]:9" },
	{ "tcp:[fe80::1%1]:7", NULL },  /* zone name depends on the host */
	{ "tcp:127.0.0.1:echo", "tcp:127.0.0.1:7" },
	{ "udp:[::1]:echo", "udp:[::1]:7" },
	{ "udp:127.0.0.1:domain", "udp:127.0.0.1:53" },
	{ "tcp:127.0.0.1:http", "tcp:127.0.0.1:80" },
	{ "unix:/run/x.sock", "unix:/run/x.sock" },
	{ "unix-dgram:/tmp/d", "unix-dgram:/tmp/d" },
	{ "unix-seqpacket:/a/b c", "unix-seqpacket:/a/b c" },
	{ "unix:@name", "unix:@name" },
	{ "unix-dgram:@a:b", "unix-dgram:@a:b" },
	{ "unix-seqpacket:@name", "unix-seqpacket:@name" },
	{ "unix:/", "unix:/" },
	{ "mptcp:127.0.0.1:7", "mptcp:127.0.0.1:7" },
	{ "mptcp:[::]:443", "mptcp:[::]:443" },
	{ "mptcp:127.0.0.1:http", "mptcp:127.0.0.1:80" },
};

START_TEST(test_parse_ok)
{
	struct addr a = parse_ok(ok_cases[_i].text), b, c;
	char text[ADDR_STRLEN];

	addr_format(&a, text, sizeof(text));
	if (ok_cases[_i].canon)
		ck_assert_str_eq(text, ok_cases[_i].canon);

	/* Round trip: the canonical text parses back to the same address,
	 * byte for byte. */
	b = parse_ok(text);
	ck_assert_msg(addr_equal(&a, &b), "%s -> %s", ok_cases[_i].text, text);
	ck_assert_int_eq(a.len, b.len);
	ck_assert_mem_eq(&a.sa, &b.sa, a.len);
	ck_assert_str_eq(fmt(&b), text);

	if (ok_cases[_i].canon) {
		c = parse_ok(ok_cases[_i].canon);
		ck_assert(addr_equal(&a, &c));
	}
}
END_TEST

#define BAD_TYPE "unknown address type (tcp, udp, mptcp, unix, unix-dgram, unix-seqpacket)"

static const struct {
	const char *text;
	const char *why;
} bad_cases[] = {
	{ "", BAD_TYPE },
	{ "tcp", BAD_TYPE },
	{ "127.0.0.1:7", BAD_TYPE },
	{ "sctp:127.0.0.1:7", BAD_TYPE },
	{ "TCP:127.0.0.1:7", BAD_TYPE },
	{ "unix-stream:/a", BAD_TYPE },
	{ "unixx:/a", BAD_TYPE },
	{ "/run/x.sock", BAD_TYPE },
	{ "tcp:", "missing host" },
	{ "tcp::7", "missing host" },
	{ "udp::", "missing host" },
	{ "tcp:127.0.0.1", "missing port" },
	{ "tcp:127.0.0.1:", "missing port" },
	{ "tcp:localhost", "missing port" },
	{ "tcp:[::1]", "missing port" },
	{ "tcp:[::1]:", "missing port" },
	{ "tcp:127.0.0.1:0", "port out of range" },
	{ "tcp:127.0.0.1:00", "port out of range" },
	{ "udp:127.0.0.1:65536", "port out of range" },
	{ "tcp:127.0.0.1:4294967303", "port out of range" },    /* 2^32 + 7 */
	{ "tcp:127.0.0.1:99999999999999999999999", "port out of range" },
	{ "tcp:127.0.0.1:+7", "invalid port" },
	{ "tcp:127.0.0.1:-7", "invalid port" },
	{ "tcp:127.0.0.1: 7", "invalid port" },
	{ "tcp:127.0.0.1:7 ", "invalid port" },
	{ "tcp:[::1]:7:8", "invalid port" },
	{ "tcp:127.0.0.1:no-such-service", "unknown service name" },
	{ "tcp:127.0.0.1:7x", "unknown service name" },
	{ "tcp:::1:7", "IPv6 address must be in brackets" },
	{ "tcp:::1", "IPv6 address must be in brackets" },
	{ "udp::::7", "IPv6 address must be in brackets" },
	{ "tcp:fe80::1:7", "IPv6 address must be in brackets" },
	{ "tcp:[::1:7", "missing ']' after IPv6 address" },
	{ "tcp:[::1]7", "expected ':' after ']'" },
	{ "tcp:[]:7", "invalid IPv6 address" },
	{ "tcp:[1.2.3.4]:7", "invalid IPv6 address" },
	{ "tcp:[::g]:7", "invalid IPv6 address" },
	{ "tcp:[%lo]:7", "invalid IPv6 address" },
	{ "tcp:[fe80::1%no-such-if0]:7", "unknown interface in IPv6 zone id" },
	{ "tcp:[fe80::1%]:7", "unknown interface in IPv6 zone id" },
	{ "tcp:[fe80::1%4294967296]:7", "invalid IPv6 zone id" },
	{ "tcp:*:7", "unknown host (use 0.0.0.0 or [::] for any address)" },
	{ "unix:", "missing unix path" },
	{ "unix-dgram:", "missing unix path" },
	{ "unix:run/x.sock", "unix path must be absolute" },
	{ "unix-seqpacket:./x", "unix path must be absolute" },
	{ "unix:~/x", "unix path must be absolute" },
	{ "unix:@", "empty abstract name" },
	{ "unix-dgram:@", "empty abstract name" },
	{ "unix-seqpacket:@", "empty abstract name" },
	{ "MPTCP:127.0.0.1:7", BAD_TYPE },
	{ "mptcp:", "missing host" },
	{ "mptcp:127.0.0.1", "missing port" },
	{ "mptcp:::1:7", "IPv6 address must be in brackets" },
	{ "mptcp:/run/x.sock", "missing port" },
};

START_TEST(test_parse_bad)
{
	struct addr a, before;
	const char *why = NULL;

	memset(&a, 0xa5, sizeof(a));
	before = a;
	ck_assert_int_eq(addr_parse(bad_cases[_i].text, &a, &why), -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strcmp(why, bad_cases[_i].why) == 0, "\"%s\": got \"%s\", want \"%s\"",
	    bad_cases[_i].text, why, bad_cases[_i].why);
	/* A failed parse leaves the output alone. */
	ck_assert_mem_eq(&a, &before, sizeof(a));
}
END_TEST

START_TEST(test_parse_null)
{
	struct addr a;
	const char *why = NULL;

	ck_assert_int_eq(addr_parse(NULL, &a, &why), -EINVAL);
	ck_assert_str_eq(why, "missing address");
	/* why is optional */
	ck_assert_int_eq(addr_parse("tcp:", &a, NULL), -EINVAL);
}
END_TEST

START_TEST(test_port_fields)
{
	struct addr a;

	a = parse_ok("tcp:127.0.0.1:65535");
	ck_assert_int_eq(addr_family(&a), AF_INET);
	ck_assert_int_eq(a.len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&a.sa)->sin_port), 65535);
	ck_assert_uint_eq(ntohl(((struct sockaddr_in *)&a.sa)->sin_addr.s_addr), 0x7f000001);

	a = parse_ok("udp:[::1]:1");
	ck_assert_int_eq(addr_family(&a), AF_INET6);
	ck_assert_int_eq(a.len, sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&a.sa)->sin6_port), 1);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&a.sa)->sin6_addr));
	ck_assert_uint_eq(((struct sockaddr_in6 *)&a.sa)->sin6_scope_id, 0);
}
END_TEST

/* /etc/services from netbase: echo is 7 over both protocols. */
START_TEST(test_service_names)
{
	struct addr a;

	a = parse_ok("tcp:127.0.0.1:echo");
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&a.sa)->sin_port), 7);
	ck_assert_int_eq(a.type, ADDR_TCP);
	a = parse_ok("udp:[::]:echo");
	ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&a.sa)->sin6_port), 7);
	ck_assert_int_eq(a.type, ADDR_UDP);
	a = parse_ok("tcp:127.0.0.1:ssh");
	ck_assert_str_eq(fmt(&a), "tcp:127.0.0.1:22");
	a = parse_ok("udp:127.0.0.1:time");
	ck_assert_str_eq(fmt(&a), "udp:127.0.0.1:37");
}
END_TEST

static void
fill(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
}

START_TEST(test_unix_path_limits)
{
	char text[256], name[160];
	struct addr a;
	const char *why = NULL;
	size_t max = SUN_PATH_MAX - 1;  /* room for the NUL */

	/* "/xxx...": exactly sun_path minus its NUL */
	name[0] = '/';
	fill(name + 1, 'x', max - 1);
	snprintf(text, sizeof(text), "unix:%s", name);
	a = parse_ok(text);
	ck_assert_int_eq(a.len, sizeof(struct sockaddr_un));
	ck_assert_str_eq(((struct sockaddr_un *)&a.sa)->sun_path, name);
	ck_assert(addr_is_unix_path(&a));

	/* The longest text fits ADDR_STRLEN. */
	snprintf(text, sizeof(text), "unix-seqpacket:%s", name);
	a = parse_ok(text);
	ck_assert_str_eq(fmt(&a), text);
	ck_assert_uint_lt(strlen(text), ADDR_STRLEN);

	fill(name + 1, 'x', max);
	snprintf(text, sizeof(text), "unix:%s", name);
	ck_assert_int_eq(addr_parse(text, &a, &why), -EINVAL);
	ck_assert_str_eq(why, "unix path too long");

	fill(name, 'y', max);
	snprintf(text, sizeof(text), "unix-dgram:@%s", name);
	a = parse_ok(text);
	ck_assert_int_eq(a.len, sizeof(struct sockaddr_un));
	ck_assert_str_eq(fmt(&a), text);

	fill(name, 'y', max + 1);
	snprintf(text, sizeof(text), "unix-dgram:@%s", name);
	why = NULL;
	ck_assert_int_eq(addr_parse(text, &a, &why), -EINVAL);
	ck_assert_str_eq(why, "abstract name too long");
}
END_TEST

START_TEST(test_unix_len)
{
	struct addr a;
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&a.sa;

	a = parse_ok("unix:@name");
	ck_assert_int_eq(addr_family(&a), AF_UNIX);
	ck_assert_int_eq(a.len, SUN_OFFSET + 1 + 4);
	ck_assert_int_eq(sun->sun_path[0], '\0');
	ck_assert_mem_eq(sun->sun_path + 1, "name", 4);
	ck_assert(!addr_is_unix_path(&a));

	a = parse_ok("unix:/run/x.sock");
	ck_assert_int_eq(a.len, SUN_OFFSET + strlen("/run/x.sock") + 1);
	ck_assert_str_eq(sun->sun_path, "/run/x.sock");
	ck_assert(addr_is_unix_path(&a));
}
END_TEST

/* Whatever host names resolve to here, "localhost" is a loopback. */
START_TEST(test_host_name)
{
	struct addr a = parse_ok("tcp:localhost:2000");

	if (addr_family(&a) == AF_INET) {
		ck_assert_str_eq(fmt(&a), "tcp:127.0.0.1:2000");
	} else {
		ck_assert_int_eq(addr_family(&a), AF_INET6);
		ck_assert_str_eq(fmt(&a), "tcp:[::1]:2000");
	}
}
END_TEST

START_TEST(test_unknown_host)
{
	struct addr a;
	const char *why = NULL;

	/* RFC 6761 reserves .invalid; bound the resolver if DNS is not
	 * reachable so the test ends well within its timeout. */
	setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
	ck_assert_int_eq(addr_parse("tcp:no-such-host.invalid:7", &a, &why), -EINVAL);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strncmp(why, "unknown host", strlen("unknown host")) == 0, "why: %s", why);
}
END_TEST

START_TEST(test_zone_id)
{
	unsigned int lo = if_nametoindex("lo");
	char text[64];
	struct addr a, b;

	a = parse_ok("tcp:[fe80::1%3]:7");
	ck_assert_uint_eq(((struct sockaddr_in6 *)&a.sa)->sin6_scope_id, 3);
	b = parse_ok("tcp:[fe80::1%4]:7");
	ck_assert(!addr_equal(&a, &b));
	b = parse_ok("tcp:[fe80::1]:7");
	ck_assert(!addr_equal(&a, &b));
	b = parse_ok("tcp:[fe80::1%0]:7");
	ck_assert_uint_eq(((struct sockaddr_in6 *)&b.sa)->sin6_scope_id, 0);
	ck_assert_str_eq(fmt(&b), "tcp:[fe80::1]:7");

	if (lo == 0)
		return;         /* no loopback interface in this namespace */
	a = parse_ok("udp:[fe80::1%lo]:7");
	ck_assert_uint_eq(((struct sockaddr_in6 *)&a.sa)->sin6_scope_id, lo);
	ck_assert_str_eq(fmt(&a), "udp:[fe80::1%lo]:7");
	snprintf(text, sizeof(text), "udp:[fe80::1%%%u]:7", lo);
	b = parse_ok(text);
	ck_assert(addr_equal(&a, &b));
}
END_TEST

START_TEST(test_equal)
{
	static const struct {
		const char *x, *y;
		bool eq;
	} cases[] = {
		{ "tcp:127.0.0.1:7", "tcp:127.0.0.1:7", true },
		{ "tcp:127.0.0.1:7", "tcp:127.0.0.1:echo", true },
		{ "tcp:[::1]:7", "tcp:[0:0::1]:7", true },
		{ "unix:/a", "unix:/a", true },
		{ "unix:@a", "unix:@a", true },
		{ "tcp:127.0.0.1:7", "udp:127.0.0.1:7", false },
		{ "tcp:127.0.0.1:7", "tcp:127.0.0.1:8", false },
		{ "tcp:127.0.0.1:7", "tcp:127.0.0.2:7", false },
		{ "tcp:127.0.0.1:7", "tcp:[::ffff:127.0.0.1]:7", false },
		{ "tcp:0.0.0.0:7", "tcp:[::]:7", false },
		{ "tcp:[::1]:7", "tcp:[::2]:7", false },
		{ "unix:/a", "unix-dgram:/a", false },
		{ "unix:/a", "unix-seqpacket:/a", false },
		{ "unix:/a", "unix:/ab", false },
		{ "unix:/a", "unix:@/a", false },
		{ "unix:@a", "unix:@ab", false },
		{ "unix:@a", "unix-dgram:@a", false },
		{ "mptcp:127.0.0.1:7", "mptcp:127.0.0.1:echo", true },
		{ "mptcp:127.0.0.1:7", "tcp:127.0.0.1:7", false },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct addr x = parse_ok(cases[i].x), y = parse_ok(cases[i].y);

		ck_assert_msg(addr_equal(&x, &y) == cases[i].eq, "%s vs %s", cases[i].x, cases[i].y);
		ck_assert_msg(addr_equal(&y, &x) == cases[i].eq, "%s vs %s", cases[i].y, cases[i].x);
	}
}
END_TEST

/* Only family, address, port (and scope) count, never padding. */
START_TEST(test_equal_ignores_padding)
{
	struct addr x = parse_ok("tcp:127.0.0.1:7"), y = x;
	struct sockaddr_in6 *s6;

	memset(((struct sockaddr_in *)&y.sa)->sin_zero, 0xff, 8);
	memset((char *)&y.sa + sizeof(struct sockaddr_in), 0xee,
	    sizeof(y.sa) - sizeof(struct sockaddr_in));
	ck_assert(addr_equal(&x, &y));

	x = parse_ok("udp:[::1]:7");
	y = x;
	s6 = (struct sockaddr_in6 *)&y.sa;
	s6->sin6_flowinfo = htonl(0x12345);
	memset((char *)&y.sa + sizeof(*s6), 0xee, sizeof(y.sa) - sizeof(*s6));
	ck_assert(addr_equal(&x, &y));
	s6->sin6_scope_id = 2;
	ck_assert(!addr_equal(&x, &y));

	/* Unix: bytes beyond len do not count. */
	x = parse_ok("unix:@ab");
	y = x;
	memset((char *)&y.sa + y.len, 'z', sizeof(y.sa) - y.len);
	ck_assert(addr_equal(&x, &y));
}
END_TEST

/* addr_key(): equal keys exactly when addr_equal(), over every pair of a
 * set of addresses that differ in one field each, and of variants that
 * differ only in what addr_equal() ignores. */
static bool
same_key(const struct addr *x, const struct addr *y)
{
	unsigned char kx[ADDR_KEYLEN], ky[ADDR_KEYLEN];
	size_t nx = addr_key(x, kx), ny = addr_key(y, ky);

	ck_assert_uint_gt(nx, 0);
	ck_assert_uint_gt(ny, 0);
	ck_assert_uint_le(nx, ADDR_KEYLEN);
	return nx == ny && memcmp(kx, ky, nx) == 0;
}

START_TEST(test_key)
{
	static const char *const texts[] = {
		"tcp:127.0.0.1:7", "tcp:127.0.0.1:echo", "tcp:127.0.0.1:8", "tcp:127.0.0.2:7",
		"udp:127.0.0.1:7", "mptcp:127.0.0.1:7", "mptcp:127.0.0.1:8",
		"tcp:[::ffff:127.0.0.1]:7", "tcp:0.0.0.0:7", "tcp:[::]:7", "tcp:[::1]:7",
		"tcp:[0:0::1]:7", "tcp:[::2]:7", "udp:[::1]:7", "mptcp:[::1]:7",
		"tcp:[fe80::1%3]:7", "tcp:[fe80::1%4]:7", "tcp:[fe80::1]:7",
		"unix:/a", "unix:/ab", "unix:/b", "unix-dgram:/a", "unix-seqpacket:/a",
		"unix:@a", "unix:@ab", "unix:@/a", "unix-dgram:@a", "unix-seqpacket:@a",
	};
	struct addr a[N(texts)], y;
	struct sockaddr_in6 *s6;

	for (size_t i = 0; i < N(texts); i++)
		a[i] = parse_ok(texts[i]);
	for (size_t i = 0; i < N(texts); i++)
		for (size_t j = 0; j < N(texts); j++)
			ck_assert_msg(same_key(&a[i], &a[j]) == addr_equal(&a[i], &a[j]),
			    "%s vs %s", texts[i], texts[j]);
	/* Some pairs are equal, or the loop above proves little. */
	ck_assert(same_key(&a[0], &a[1]));
	ck_assert(same_key(&a[10], &a[11]));

	/* Padding, flow label and bytes past a Unix address's length. */
	y = a[0];
	memset(((struct sockaddr_in *)&y.sa)->sin_zero, 0xff, 8);
	memset((char *)&y.sa + sizeof(struct sockaddr_in), 0xee,
	    sizeof(y.sa) - sizeof(struct sockaddr_in));
	ck_assert(same_key(&a[0], &y));
	y = a[10];
	s6 = (struct sockaddr_in6 *)&y.sa;
	s6->sin6_flowinfo = htonl(0x12345);
	ck_assert(same_key(&a[10], &y));
	y = a[23];
	memset((char *)&y.sa + y.len, 'z', sizeof(y.sa) - y.len);
	ck_assert(same_key(&a[23], &y));

	/* What addr_equal() finds equal to nothing has no key. */
	y = a[18];
	y.len = sizeof(y.sa) + 1;
	ck_assert(!addr_equal(&y, &y));
	ck_assert_uint_eq(addr_key(&y, (unsigned char[ADDR_KEYLEN]){ 0 }), 0);
	y.sa.ss_family = AF_PACKET;
	ck_assert_uint_eq(addr_key(&y, (unsigned char[ADDR_KEYLEN]){ 0 }), 0);
}
END_TEST

START_TEST(test_predicates)
{
	static const struct {
		const char *text;
		enum addr_type type;
		const char *name;
		int family, socktype;
		bool stream, path;
	} cases[] = {
		{ "tcp:127.0.0.1:7", ADDR_TCP, "tcp", AF_INET, SOCK_STREAM, true, false },
		{ "tcp:[::1]:7", ADDR_TCP, "tcp", AF_INET6, SOCK_STREAM, true, false },
		{ "udp:127.0.0.1:7", ADDR_UDP, "udp", AF_INET, SOCK_DGRAM, false, false },
		{ "udp:[::]:7", ADDR_UDP, "udp", AF_INET6, SOCK_DGRAM, false, false },
		{ "unix:/a", ADDR_UNIX, "unix", AF_UNIX, SOCK_STREAM, true, true },
		{ "unix:@a", ADDR_UNIX, "unix", AF_UNIX, SOCK_STREAM, true, false },
		{ "unix-dgram:/a", ADDR_UNIX_DGRAM, "unix-dgram", AF_UNIX, SOCK_DGRAM, false, true },
		{ "unix-dgram:@a", ADDR_UNIX_DGRAM, "unix-dgram", AF_UNIX, SOCK_DGRAM, false, false },
		{ "unix-seqpacket:/a", ADDR_UNIX_SEQPACKET, "unix-seqpacket", AF_UNIX, SOCK_SEQPACKET, true, true },
		{ "unix-seqpacket:@a", ADDR_UNIX_SEQPACKET, "unix-seqpacket", AF_UNIX, SOCK_SEQPACKET, true, false },
		{ "mptcp:127.0.0.1:7", ADDR_MPTCP, "mptcp", AF_INET, SOCK_STREAM, true, false },
		{ "mptcp:[::1]:7", ADDR_MPTCP, "mptcp", AF_INET6, SOCK_STREAM, true, false },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct addr a = parse_ok(cases[i].text);

		ck_assert_msg(a.type == cases[i].type, "%s", cases[i].text);
		ck_assert_str_eq(addr_type_name(a.type), cases[i].name);
		ck_assert_int_eq(addr_family(&a), cases[i].family);
		ck_assert_int_eq(addr_socktype(&a), cases[i].socktype);
		ck_assert_msg(addr_is_stream(&a) == cases[i].stream, "%s", cases[i].text);
		ck_assert_msg(addr_is_unix_path(&a) == cases[i].path, "%s", cases[i].text);
		ck_assert_int_eq(addr_protocol(&a), a.type == ADDR_MPTCP ? IPPROTO_MPTCP : 0);
		ck_assert_msg(addr_is_tcp(&a) == (a.type == ADDR_TCP || a.type == ADDR_MPTCP),
		    "%s", cases[i].text);
	}
}
END_TEST

/* Bind a real socket, read its name back and compare with the parsed text. */
static void
check_bound(int family, int socktype, const struct sockaddr *sa, socklen_t len,
    const char *text)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	struct addr got, want = parse_ok(text);
	int fd;

	fd = socket(family, socktype | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	ck_assert_msg(bind(fd, sa, len) == 0, "bind %s: %s", text, strerror(errno));
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &sslen), 0);
	close(fd);
	ck_assert_int_eq(addr_from_sockaddr(socktype, (struct sockaddr *)&ss, sslen, &got), 0);
	ck_assert_msg(addr_equal(&got, &want), "%s: got %s (len %u, want %u)", text,
	    fmt(&got), (unsigned)got.len, (unsigned)want.len);
	ck_assert_int_eq(got.len, want.len);
	ck_assert_str_eq(fmt(&got), text);
}

START_TEST(test_from_bound_unix_path)
{
	static const struct {
		int socktype;
		const char *type;
	} kinds[] = {
		{ SOCK_STREAM, "unix" },
		{ SOCK_DGRAM, "unix-dgram" },
		{ SOCK_SEQPACKET, "unix-seqpacket" },
	};
	char dir[] = "/tmp/check_addr.XXXXXX", text[ADDR_STRLEN];
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (size_t i = 0; i < N(kinds); i++) {
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s%zu", dir, i);
		snprintf(text, sizeof(text), "%s:%s", kinds[i].type, sun.sun_path);
		/* bind with the NUL counted, as most programs do */
		check_bound(AF_UNIX, kinds[i].socktype, (struct sockaddr *)&sun,
		    sizeof(sun), text);
		unlink(sun.sun_path);
	}
	rmdir(dir);
}
END_TEST

START_TEST(test_from_bound_unix_abstract)
{
	static const int socktypes[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
	static const char *const types[] = { "unix", "unix-dgram", "unix-seqpacket" };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char name[64], text[ADDR_STRLEN];
	size_t n;

	for (size_t i = 0; i < N(socktypes); i++) {
		n = (size_t)snprintf(name, sizeof(name), "check_addr.%ld.%zu", (long)getpid(), i);
		memcpy(sun.sun_path + 1, name, n);
		snprintf(text, sizeof(text), "%s:@%s", types[i], name);
		check_bound(AF_UNIX, socktypes[i], (struct sockaddr *)&sun,
		    (socklen_t)(SUN_OFFSET + 1 + n), text);
	}
}
END_TEST

static void
check_bound_ip(int family, int socktype, const char *type)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sslen = sizeof(ss), len;
	char text[ADDR_STRLEN], want[ADDR_STRLEN];
	struct addr got, parsed;
	unsigned int port;
	int fd;

	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	fd = socket(family, socktype | SOCK_CLOEXEC, 0);
	if (fd < 0 && family == AF_INET6)
		return;         /* no IPv6 here */
	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		ck_assert_msg(family == AF_INET6, "bind: %s", strerror(errno));
		close(fd);
		return;
	}
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &sslen), 0);
	close(fd);
	ck_assert_int_eq(addr_from_sockaddr(socktype, (struct sockaddr *)&ss, sslen, &got), 0);
	port = family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) :
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	ck_assert_uint_ne(port, 0);
	snprintf(want, sizeof(want), family == AF_INET ? "%s:127.0.0.1:%u" : "%s:[::1]:%u",
	    type, port);
	addr_format(&got, text, sizeof(text));
	ck_assert_str_eq(text, want);
	parsed = parse_ok(want);
	ck_assert(addr_equal(&got, &parsed));
}

START_TEST(test_from_bound_ip)
{
	check_bound_ip(AF_INET, SOCK_STREAM, "tcp");
	check_bound_ip(AF_INET, SOCK_DGRAM, "udp");
	check_bound_ip(AF_INET6, SOCK_STREAM, "tcp");
	check_bound_ip(AF_INET6, SOCK_DGRAM, "udp");
}
END_TEST

START_TEST(test_from_sockaddr_synthetic)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/run/x.sock" };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(7) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(7) };
	struct sockaddr_storage other = { .ss_family = AF_NETLINK };
	struct addr a, want;
	size_t plen = strlen(sun.sun_path);

	/* Path length with the NUL, without it, and the whole struct: all
	 * normalise to what the parser produces. */
	want = parse_ok("unix:/run/x.sock");
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&sun,
	    (socklen_t)(SUN_OFFSET + plen + 1), &a), 0);
	ck_assert(addr_equal(&a, &want));
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&sun,
	    (socklen_t)(SUN_OFFSET + plen), &a), 0);
	ck_assert(addr_equal(&a, &want));
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&sun,
	    sizeof(sun), &a), 0);
	ck_assert(addr_equal(&a, &want));
	ck_assert_int_eq(a.len, want.len);

	/* sin_zero garbage and sin6_flowinfo are dropped */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(sin.sin_zero, 0x55, sizeof(sin.sin_zero));
	ck_assert_int_eq(addr_from_sockaddr(SOCK_DGRAM, (struct sockaddr *)&sin, sizeof(sin), &a), 0);
	want = parse_ok("udp:127.0.0.1:7");
	ck_assert(addr_equal(&a, &want));
	ck_assert_mem_eq(&a, &want, sizeof(a));
	sin6.sin6_addr = in6addr_loopback;
	sin6.sin6_flowinfo = htonl(0xabcde);
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&sin6, sizeof(sin6), &a), 0);
	want = parse_ok("tcp:[::1]:7");
	ck_assert_mem_eq(&a, &want, sizeof(a));
	inet_pton(AF_INET6, "fe80::1", &sin6.sin6_addr);
	sin6.sin6_scope_id = 3;
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&sin6, sizeof(sin6), &a), 0);
	want = parse_ok("tcp:[fe80::1%3]:7");
	ck_assert(addr_equal(&a, &want));

	/* unsupported combinations */
	ck_assert_int_eq(addr_from_sockaddr(SOCK_SEQPACKET, (struct sockaddr *)&sin, sizeof(sin), &a),
	    -EAFNOSUPPORT);
	ck_assert_int_eq(addr_from_sockaddr(SOCK_RAW, (struct sockaddr *)&sin6, sizeof(sin6), &a),
	    -EAFNOSUPPORT);
	ck_assert_int_eq(addr_from_sockaddr(SOCK_RAW, (struct sockaddr *)&sun, sizeof(sun), &a),
	    -EAFNOSUPPORT);
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&other, sizeof(other), &a),
	    -EAFNOSUPPORT);

	/* truncated or unnamed */
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&sin, sizeof(sin) - 1, &a),
	    -EINVAL);
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&sin6, sizeof(sin6) - 4, &a),
	    -EINVAL);
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&sun, SUN_OFFSET, &a),
	    -EINVAL);
	ck_assert_int_eq(addr_from_sockaddr(SOCK_STREAM, (struct sockaddr *)&sun, 0, &a), -EINVAL);
}
END_TEST

START_TEST(test_format_peer)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(5) };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(5) };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct sockaddr_storage other = { .ss_family = AF_NETLINK };
	char buf[ADDR_STRLEN], small[4];

	inet_pton(AF_INET, "1.2.3.4", &sin.sin_addr);
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sin, sizeof(sin), buf, sizeof(buf)),
	    "1.2.3.4:5");

	inet_pton(AF_INET6, "::ffff:1.2.3.4", &sin6.sin6_addr);
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf)),
	    "1.2.3.4:5");
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf)),
	    "[::1]:5");
	inet_pton(AF_INET6, "2001:db8::ff00:42:8329", &sin6.sin6_addr);
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sin6, sizeof(sin6), buf, sizeof(buf)),
	    "[2001:db8::ff00:42:8329]:5");

	/* unnamed Unix client, named, abstract */
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sun, sizeof(sa_family_t), buf, sizeof(buf)),
	    "unix");
	strcpy(sun.sun_path, "/run/c.sock");
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sun,
	    (socklen_t)(SUN_OFFSET + strlen(sun.sun_path) + 1), buf, sizeof(buf)),
	    "unix:/run/c.sock");
	memcpy(sun.sun_path, "\0c1\n", 4);
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sun, SUN_OFFSET + 4, buf, sizeof(buf)),
	    "unix:@c1?");

	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sin, 0, buf, sizeof(buf)), "unknown");
	ck_assert_str_eq(addr_format_peer(NULL, 0, buf, sizeof(buf)), "unknown");
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&other, sizeof(other), buf, sizeof(buf)),
	    "unknown");
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sin, sizeof(sin) - 1, buf, sizeof(buf)),
	    "unknown");

	/* truncated, still terminated */
	ck_assert_str_eq(addr_format_peer((struct sockaddr *)&sin, sizeof(sin), small, sizeof(small)),
	    "1.2");
}
END_TEST

START_TEST(test_format_truncates)
{
	struct addr a = parse_ok("unix:/run/sockd/echo.sock");
	char buf[8];

	memset(buf, 'X', sizeof(buf));
	ck_assert_str_eq(addr_format(&a, buf, sizeof(buf)), "unix:/r");
	a = parse_ok("tcp:[2001:db8::1]:443");
	memset(buf, 'X', sizeof(buf));
	ck_assert_str_eq(addr_format(&a, buf, sizeof(buf)), "tcp:[20");
	a = parse_ok("unix:@abcdefgh");
	ck_assert_str_eq(addr_format(&a, buf, sizeof(buf)), "unix:@a");
}
END_TEST

START_TEST(test_type_name)
{
	ck_assert_str_eq(addr_type_name(ADDR_TCP), "tcp");
	ck_assert_str_eq(addr_type_name(ADDR_UDP), "udp");
	ck_assert_str_eq(addr_type_name(ADDR_UNIX), "unix");
	ck_assert_str_eq(addr_type_name(ADDR_UNIX_DGRAM), "unix-dgram");
	ck_assert_str_eq(addr_type_name(ADDR_UNIX_SEQPACKET), "unix-seqpacket");
	ck_assert_str_eq(addr_type_name(ADDR_MPTCP), "mptcp");
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_ok, 0, (int)N(ok_cases));
	tcase_add_loop_test(tc, test_parse_bad, 0, (int)N(bad_cases));
	tcase_add_test(tc, test_parse_null);
	tcase_add_test(tc, test_port_fields);
	tcase_add_test(tc, test_service_names);
	tcase_add_test(tc, test_unix_path_limits);
	tcase_add_test(tc, test_unix_len);
	tcase_add_test(tc, test_zone_id);
	suite_add_tcase(s, tc);

	tc = tcase_create("resolve");
	/* a resolver with an unreachable DNS server may take a while */
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_host_name);
	tcase_add_test(tc, test_unknown_host);
	suite_add_tcase(s, tc);

	tc = tcase_create("compare");
	tcase_add_test(tc, test_equal);
	tcase_add_test(tc, test_equal_ignores_padding);
	tcase_add_test(tc, test_key);
	tcase_add_test(tc, test_predicates);
	tcase_add_test(tc, test_type_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("sockaddr");
	tcase_add_test(tc, test_from_bound_unix_path);
	tcase_add_test(tc, test_from_bound_unix_abstract);
	tcase_add_test(tc, test_from_bound_ip);
	tcase_add_test(tc, test_from_sockaddr_synthetic);
	tcase_add_test(tc, test_format_peer);
	tcase_add_test(tc, test_format_truncates);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(addr_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
