#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "dgram_src.h"

/* A received message whose only control message is (level, type, data). */
struct rx {
	struct msghdr h;
	union dgram_src_buf c;
};

static void
rx_with(struct rx *m, int level, int type, const void *data, size_t len)
{
	struct cmsghdr *cm = &m->c.align;

	memset(m, 0, sizeof(*m));
	m->h.msg_control = m->c.buf;
	m->h.msg_controllen = CMSG_SPACE(len);
	cm->cmsg_level = level;
	cm->cmsg_type = type;
	cm->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(cm), data, len);
}

START_TEST(v4_round_trip)
{
	struct in_pktinfo in = { .ipi_ifindex = 3 }, out;
	struct dgram_src src;
	struct rx m;
	union dgram_src_buf tx;
	struct cmsghdr *cm = &tx.align;

	inet_pton(AF_INET, "192.0.2.7", &in.ipi_addr);
	inet_pton(AF_INET, "198.51.100.1", &in.ipi_spec_dst);     /* the route's pick: not used */
	rx_with(&m, IPPROTO_IP, IP_PKTINFO, &in, sizeof(in));
	dgram_src_from_msg(&m.h, &src);
	ck_assert_int_eq(src.kind, DGRAM_SRC_V4);

	ck_assert_uint_eq(dgram_src_put(&src, tx.buf), CMSG_SPACE(sizeof(struct in_pktinfo)));
	ck_assert_int_eq(cm->cmsg_level, IPPROTO_IP);
	ck_assert_int_eq(cm->cmsg_type, IP_PKTINFO);
	ck_assert_uint_eq(cm->cmsg_len, CMSG_LEN(sizeof(struct in_pktinfo)));
	memcpy(&out, CMSG_DATA(cm), sizeof(out));
	/* The reply leaves from the address the request came to, on any
	 * interface the route picks. */
	ck_assert_uint_eq(out.ipi_spec_dst.s_addr, in.ipi_addr.s_addr);
	ck_assert_int_eq(out.ipi_ifindex, 0);
	ck_assert_uint_eq(out.ipi_addr.s_addr, 0);
}
END_TEST

START_TEST(v6_round_trip)
{
	struct in6_pktinfo in = { .ipi6_ifindex = 4 }, out;
	struct dgram_src src;
	struct rx m;
	union dgram_src_buf tx;

	/* A global address: no interface. */
	inet_pton(AF_INET6, "2001:db8::5", &in.ipi6_addr);
	rx_with(&m, IPPROTO_IPV6, IPV6_PKTINFO, &in, sizeof(in));
	dgram_src_from_msg(&m.h, &src);
	ck_assert_int_eq(src.kind, DGRAM_SRC_V6);
	ck_assert_uint_eq(dgram_src_put(&src, tx.buf), CMSG_SPACE(sizeof(struct in6_pktinfo)));
	ck_assert_int_eq(tx.align.cmsg_type, IPV6_PKTINFO);
	memcpy(&out, CMSG_DATA(&tx.align), sizeof(out));
	ck_assert(IN6_ARE_ADDR_EQUAL(&out.ipi6_addr, &in.ipi6_addr));
	ck_assert_int_eq(out.ipi6_ifindex, 0);

	/* A link-local address keeps its link. */
	inet_pton(AF_INET6, "fe80::1", &in.ipi6_addr);
	rx_with(&m, IPPROTO_IPV6, IPV6_PKTINFO, &in, sizeof(in));
	dgram_src_from_msg(&m.h, &src);
	dgram_src_put(&src, tx.buf);
	memcpy(&out, CMSG_DATA(&tx.align), sizeof(out));
	ck_assert_int_eq(out.ipi6_ifindex, 4);
}
END_TEST

START_TEST(nothing_known)
{
	struct in_pktinfo in = { .ipi_ifindex = 1 };
	struct dgram_src src;
	struct rx m;
	union dgram_src_buf tx;
	uint32_t other = 1;

	/* No control messages. */
	memset(&m, 0, sizeof(m));
	dgram_src_from_msg(&m.h, &src);
	ck_assert_int_eq(src.kind, DGRAM_SRC_NONE);
	ck_assert_uint_eq(dgram_src_put(&src, tx.buf), 0);

	/* Truncated control data is not trusted. */
	rx_with(&m, IPPROTO_IP, IP_PKTINFO, &in, sizeof(in));
	m.h.msg_flags = MSG_CTRUNC;
	dgram_src_from_msg(&m.h, &src);
	ck_assert_int_eq(src.kind, DGRAM_SRC_NONE);

	/* Some other control message, or one too short to hold the info. */
	rx_with(&m, IPPROTO_IP, IP_TTL, &other, sizeof(other));
	dgram_src_from_msg(&m.h, &src);
	ck_assert_int_eq(src.kind, DGRAM_SRC_NONE);
	rx_with(&m, IPPROTO_IP, IP_PKTINFO, &other, sizeof(other));
	dgram_src_from_msg(&m.h, &src);
	ck_assert_int_eq(src.kind, DGRAM_SRC_NONE);
}
END_TEST

START_TEST(equal)
{
	struct dgram_src a = { 0 }, b = { 0 };

	ck_assert(dgram_src_equal(&a, &b));
	a.kind = b.kind = DGRAM_SRC_V4;
	inet_pton(AF_INET, "127.0.0.2", &a.info.v4.ipi_spec_dst);
	ck_assert(!dgram_src_equal(&a, &b));
	b.info.v4.ipi_spec_dst = a.info.v4.ipi_spec_dst;
	ck_assert(dgram_src_equal(&a, &b));
	b.kind = DGRAM_SRC_V6;
	ck_assert(!dgram_src_equal(&a, &b));
}
END_TEST

START_TEST(needed)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	ck_assert(dgram_src_needed((struct sockaddr *)&in, sizeof(in)));
	ck_assert(dgram_src_needed((struct sockaddr *)&in6, sizeof(in6)));
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	ck_assert(!dgram_src_needed((struct sockaddr *)&in, sizeof(in)));
	ck_assert(!dgram_src_needed((struct sockaddr *)&in6, sizeof(in6)));
	ck_assert(!dgram_src_needed((struct sockaddr *)&un, sizeof(un)));
	in.sin_addr.s_addr = 0;
	ck_assert(!dgram_src_needed((struct sockaddr *)&in, 4));   /* too short */
}
END_TEST

static Suite *
dgram_src_suite(void)
{
	Suite *s = suite_create("dgram_src");
	TCase *tc = tcase_create("pktinfo");

	tcase_add_test(tc, v4_round_trip);
	tcase_add_test(tc, v6_round_trip);
	tcase_add_test(tc, nothing_known);
	tcase_add_test(tc, equal);
	tcase_add_test(tc, needed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(dgram_src_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
