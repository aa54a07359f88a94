#include <arpa/inet.h>
#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "udp_guard.h"

/* Stand-ins for interface broadcast addresses. */
static struct in_addr bcast_addrs[2];
static struct udp_guard_bcast bcast_list = { bcast_addrs, 2 };

enum { ALLOW = 1, REFUSE = 0 };
enum { NO_LIST = 0, LIST = 1 };

struct row {
	const char *addr;
	unsigned port;
	bool local_lo;
	int bcast;
	int want;
};

static const struct row rows[] = {
	/* Source ports, IPv4. */
	{ "192.0.2.1", 0, false, NO_LIST, REFUSE },
	{ "192.0.2.1", 7, false, NO_LIST, REFUSE },
	{ "192.0.2.1", 19, false, NO_LIST, REFUSE },
	{ "192.0.2.1", 1023, false, NO_LIST, REFUSE },
	{ "192.0.2.1", 1024, false, NO_LIST, ALLOW },
	{ "192.0.2.1", 2048, false, NO_LIST, ALLOW },
	{ "192.0.2.1", 2049, false, NO_LIST, REFUSE },
	{ "192.0.2.1", 2050, false, NO_LIST, ALLOW },
	{ "192.0.2.1", 65535, false, NO_LIST, ALLOW },
	{ "192.0.2.1", 1023, true, NO_LIST, REFUSE },
	/* 0.0.0.0/8 */
	{ "0.0.0.0", 40000, false, NO_LIST, REFUSE },
	{ "0.1.2.3", 40000, false, NO_LIST, REFUSE },
	{ "0.255.255.255", 40000, true, NO_LIST, REFUSE },
	{ "1.0.0.0", 40000, false, NO_LIST, ALLOW },
	/* 127.0.0.0/8 only on a loopback socket. */
	{ "127.0.0.1", 40000, false, NO_LIST, REFUSE },
	{ "127.0.0.1", 40000, true, NO_LIST, ALLOW },
	{ "127.255.255.254", 40000, false, NO_LIST, REFUSE },
	{ "127.255.255.254", 40000, true, NO_LIST, ALLOW },
	{ "127.0.0.1", 1023, true, NO_LIST, REFUSE },
	{ "127.0.0.1", 2049, true, NO_LIST, REFUSE },
	{ "126.255.255.255", 40000, false, NO_LIST, ALLOW },
	{ "128.0.0.1", 40000, false, NO_LIST, ALLOW },
	/* Multicast 224.0.0.0/4, even on a loopback socket. */
	{ "224.0.0.1", 40000, false, NO_LIST, REFUSE },
	{ "224.0.0.1", 40000, true, NO_LIST, REFUSE },
	{ "239.255.255.250", 40000, false, NO_LIST, REFUSE },
	{ "223.255.255.255", 40000, false, NO_LIST, ALLOW },
	{ "240.0.0.1", 40000, false, NO_LIST, ALLOW },
	/* Limited broadcast. */
	{ "255.255.255.255", 40000, false, NO_LIST, REFUSE },
	{ "255.255.255.255", 40000, true, NO_LIST, REFUSE },
	{ "255.255.255.254", 40000, false, NO_LIST, ALLOW },
	/* Listed (interface) broadcast addresses. */
	{ "192.0.2.255", 40000, false, LIST, REFUSE },
	{ "198.51.100.127", 40000, false, LIST, REFUSE },
	{ "192.0.2.254", 40000, false, LIST, ALLOW },
	{ "192.0.2.255", 40000, false, NO_LIST, ALLOW },
	{ "203.0.113.9", 40000, false, LIST, ALLOW },
	/* IPv6 ports. */
	{ "2001:db8::1", 1023, false, NO_LIST, REFUSE },
	{ "2001:db8::1", 1024, false, NO_LIST, ALLOW },
	{ "2001:db8::1", 2048, false, NO_LIST, ALLOW },
	{ "2001:db8::1", 2049, false, NO_LIST, REFUSE },
	{ "2001:db8::1", 2050, false, NO_LIST, ALLOW },
	{ "2001:db8::1", 0, false, NO_LIST, REFUSE },
	/* IPv6 addresses. */
	{ "::", 40000, false, NO_LIST, REFUSE },
	{ "::", 40000, true, NO_LIST, REFUSE },
	{ "ff02::1", 40000, false, NO_LIST, REFUSE },
	{ "ff0e::1", 40000, true, NO_LIST, REFUSE },
	{ "ff00::", 40000, false, NO_LIST, REFUSE },
	{ "feff::1", 40000, false, NO_LIST, ALLOW },
	{ "fe80::1", 40000, false, NO_LIST, ALLOW },
	{ "::1", 40000, false, NO_LIST, REFUSE },
	{ "::1", 40000, true, NO_LIST, ALLOW },
	{ "::1", 1023, true, NO_LIST, REFUSE },
	{ "::2", 40000, false, NO_LIST, ALLOW },
	/* v4-compatible is not v4-mapped: plain IPv6. */
	{ "::192.0.2.1", 40000, false, NO_LIST, ALLOW },
	{ "::127.0.0.1", 40000, false, NO_LIST, ALLOW },
	/* v4-mapped follows every IPv4 rule. */
	{ "::ffff:192.0.2.1", 40000, false, NO_LIST, ALLOW },
	{ "::ffff:192.0.2.1", 1023, false, NO_LIST, REFUSE },
	{ "::ffff:192.0.2.1", 2049, false, NO_LIST, REFUSE },
	{ "::ffff:192.0.2.1", 1024, false, NO_LIST, ALLOW },
	{ "::ffff:0.0.0.0", 40000, false, NO_LIST, REFUSE },
	{ "::ffff:0.1.2.3", 40000, true, NO_LIST, REFUSE },
	{ "::ffff:1.0.0.0", 40000, false, NO_LIST, ALLOW },
	{ "::ffff:127.0.0.1", 40000, false, NO_LIST, REFUSE },
	{ "::ffff:127.0.0.1", 40000, true, NO_LIST, ALLOW },
	{ "::ffff:127.1.2.3", 40000, false, NO_LIST, REFUSE },
	{ "::ffff:224.0.0.1", 40000, false, NO_LIST, REFUSE },
	{ "::ffff:239.255.255.250", 40000, true, NO_LIST, REFUSE },
	{ "::ffff:223.255.255.255", 40000, false, NO_LIST, ALLOW },
	{ "::ffff:255.255.255.255", 40000, false, NO_LIST, REFUSE },
	{ "::ffff:192.0.2.255", 40000, false, LIST, REFUSE },
	{ "::ffff:192.0.2.255", 40000, false, NO_LIST, ALLOW },
	{ "::ffff:198.51.100.127", 40000, false, LIST, REFUSE },
};

#define N_ROWS ((int)(sizeof(rows) / sizeof(rows[0])))

static socklen_t
make_sa(struct sockaddr_storage *ss, const char *addr, unsigned port)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
		return sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
		return sizeof(*sin);
	}
}

static void
setup_bcast(void)
{
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.255", &bcast_addrs[0]), 1);
	ck_assert_int_eq(inet_pton(AF_INET, "198.51.100.127", &bcast_addrs[1]), 1);
}

START_TEST(guard_table)
{
	const struct row *r = &rows[_i];
	struct sockaddr_storage ss;
	socklen_t len = make_sa(&ss, r->addr, r->port);
	bool got = udp_guard_allow((struct sockaddr *)&ss, len, r->local_lo,
				   r->bcast == LIST ? &bcast_list : NULL);

	ck_assert_msg(got == (r->want == ALLOW), "%s port %u%s%s: got %s, want %s", r->addr,
		      r->port, r->local_lo ? " (loopback socket)" : "",
		      r->bcast == LIST ? " (bcast list)" : "", got ? "allow" : "refuse",
		      r->want == ALLOW ? "allow" : "refuse");
}
END_TEST

START_TEST(guard_empty_bcast_list)
{
	struct udp_guard_bcast none = { NULL, 0 };
	struct sockaddr_storage ss;
	socklen_t len = make_sa(&ss, "192.0.2.255", 40000);

	ck_assert(udp_guard_allow((struct sockaddr *)&ss, len, false, &none));
}
END_TEST

START_TEST(guard_non_ip_allowed)
{
	struct sockaddr_un sun;
	struct sockaddr sa;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/run/x.sock");
	ck_assert(udp_guard_allow((struct sockaddr *)&sun,
				  offsetof(struct sockaddr_un, sun_path) + sizeof("/run/x.sock"),
				  false, NULL));
	/* Only the family, no path. */
	ck_assert(udp_guard_allow((struct sockaddr *)&sun, sizeof(sa_family_t), false, NULL));

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_APPLETALK;
	ck_assert(udp_guard_allow(&sa, sizeof(sa), false, &bcast_list));
}
END_TEST

START_TEST(guard_short_len)
{
	struct sockaddr_storage ss;
	socklen_t len;

	len = make_sa(&ss, "192.0.2.1", 40000);
	ck_assert(udp_guard_allow((struct sockaddr *)&ss, len, false, NULL));
	ck_assert(!udp_guard_allow((struct sockaddr *)&ss, len - 1, false, NULL));
	ck_assert(!udp_guard_allow((struct sockaddr *)&ss, sizeof(sa_family_t), false, NULL));

	len = make_sa(&ss, "2001:db8::1", 40000);
	ck_assert(udp_guard_allow((struct sockaddr *)&ss, len, false, NULL));
	ck_assert(!udp_guard_allow((struct sockaddr *)&ss, len - 1, false, NULL));
	ck_assert(!udp_guard_allow((struct sockaddr *)&ss, sizeof(struct sockaddr_in), false,
				   NULL));

	/* Not even a family: nowhere to reply to. */
	ck_assert(!udp_guard_allow((struct sockaddr *)&ss, 0, false, NULL));
	ck_assert(!udp_guard_allow((struct sockaddr *)&ss, 1, false, NULL));
	ck_assert(!udp_guard_allow(NULL, sizeof(ss), false, NULL));
}
END_TEST

static const struct {
	const char *addr;
	bool want;
} lo_rows[] = {
	{ "127.0.0.1", true },
	{ "127.1.2.3", true },
	{ "127.255.255.255", true },
	{ "126.0.0.1", false },
	{ "128.0.0.1", false },
	{ "0.0.0.0", false },
	{ "192.0.2.1", false },
	{ "::1", true },
	{ "::", false },
	{ "::2", false },
	{ "fe80::1", false },
	{ "::ffff:127.0.0.1", true },
	{ "::ffff:127.9.9.9", true },
	{ "::ffff:10.0.0.1", false },
	{ "::ffff:0.0.0.0", false },
	{ "::127.0.0.1", false },
};

#define N_LO_ROWS ((int)(sizeof(lo_rows) / sizeof(lo_rows[0])))

START_TEST(is_loopback_table)
{
	struct sockaddr_storage ss;
	socklen_t len = make_sa(&ss, lo_rows[_i].addr, 7);

	ck_assert_msg(udp_guard_is_loopback((struct sockaddr *)&ss, len) == lo_rows[_i].want,
		      "%s: want %s", lo_rows[_i].addr, lo_rows[_i].want ? "loopback" : "not loopback");
}
END_TEST

START_TEST(is_loopback_other)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun;
	socklen_t len;

	len = make_sa(&ss, "127.0.0.1", 7);
	ck_assert(!udp_guard_is_loopback((struct sockaddr *)&ss, len - 1));
	len = make_sa(&ss, "::1", 7);
	ck_assert(!udp_guard_is_loopback((struct sockaddr *)&ss, len - 1));
	ck_assert(!udp_guard_is_loopback((struct sockaddr *)&ss, 0));
	ck_assert(!udp_guard_is_loopback(NULL, sizeof(ss)));

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/run/x.sock");
	ck_assert(!udp_guard_is_loopback((struct sockaddr *)&sun, sizeof(sun)));
}
END_TEST

static Suite *
udp_guard_suite(void)
{
	Suite *s = suite_create("udp_guard");
	TCase *tc;

	tc = tcase_create("allow");
	tcase_add_checked_fixture(tc, setup_bcast, NULL);
	tcase_add_loop_test(tc, guard_table, 0, N_ROWS);
	tcase_add_test(tc, guard_empty_bcast_list);
	tcase_add_test(tc, guard_non_ip_allowed);
	tcase_add_test(tc, guard_short_len);
	suite_add_tcase(s, tc);

	tc = tcase_create("is_loopback");
	tcase_add_loop_test(tc, is_loopback_table, 0, N_LO_ROWS);
	tcase_add_test(tc, is_loopback_other);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(udp_guard_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
