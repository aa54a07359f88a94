/* udp_relay.c: the session budget's size, and which session ends when a
 * limit is reached. The relay runs for real (sockets connected to a UDP
 * socket of the test on 127.0.0.1); clients are addresses handed to
 * udp_relay_input, as the worker does with what recvmmsg gave it. */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "dgram_src.h"
#include "listener.h"
#include "forward_options.h"
#include "sockd.h"
#include "udp_relay.h"

START_TEST(test_budget_size)
{
	/* nofile - 2 * max_connections, within [nofile / 4, nofile / 2] */
	ck_assert_uint_eq(udp_budget_size(2048, 65536), 512);
	ck_assert_uint_eq(udp_budget_size(20000, 65536), 5000);
	ck_assert_uint_eq(udp_budget_size(20000, 8000), 5000);
	ck_assert_uint_eq(udp_budget_size(20000, 6000), 8000);
	ck_assert_uint_eq(udp_budget_size(20000, 1000), 10000);
	ck_assert_uint_eq(udp_budget_size(1048576, 65536), 524288);
	ck_assert_uint_eq(udp_budget_size(0, 10), 0);
	ck_assert_uint_eq(udp_budget_size(~0UL, ~0UL), (1UL << 30) / 4);
}
END_TEST

struct fixture {
	int upstream;                   /* where sessions send to */
	int epfd;
	struct endpoint ep;
	struct forward_options fo;      /* ep's service options */
	struct listener l;
};

static void
fixture_init(struct fixture *f)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);

	memset(f, 0, sizeof(*f));
	f->upstream = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->upstream, 0);
	ck_assert_int_eq(bind(f->upstream, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(f->upstream, (struct sockaddr *)&sin, &len), 0);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(f->epfd, 0);
	f->ep.name = "t";
	f->ep.idle_timeout = 300;
	f->ep.svc_opts = &f->fo;
	f->fo.n_upstream = 1;
	f->fo.upstream = calloc(1, sizeof(*f->fo.upstream));
	ck_assert_int_eq(addr_from_sockaddr(SOCK_DGRAM, (struct sockaddr *)&sin, len, f->fo.upstream), 0);
	f->l.ep = &f->ep;
	f->l.fd = -1;                   /* no replies are sent here */
}

static void
fixture_free(struct fixture *f)
{
	free(f->fo.upstream);
	close(f->epfd);
	close(f->upstream);
}

/* One datagram from a.b.c.d:port. */
static void
send_from(struct udp_relay *r, const char *ip, unsigned port, uint64_t now_ms)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct dgram_src src = { 0 };

	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
	udp_relay_input(r, (struct sockaddr *)&sin, sizeof(sin), &src, (const uint8_t *)"x", 1, now_ms);
}

static unsigned long
count(atomic_ulong *v)
{
	return atomic_load(v);
}

/* A flood of one datagram from each of many ports ends its own sessions,
 * not the one of a client that uses its session, even an idler one. */
START_TEST(test_full_spares_confirmed)
{
	struct fixture f;
	struct udp_relay *r;

	fixture_init(&f);
	r = udp_relay_new(&f.l, f.epfd, 8, 0, NULL);
	ck_assert_ptr_nonnull(r);
	send_from(r, "10.0.0.1", 5000, 1);
	send_from(r, "10.0.0.1", 5000, 2);
	for (unsigned i = 0; i < 100; i++)
		send_from(r, "10.0.1.1", 20000 + i, 10 + i);
	ck_assert_uint_eq(udp_relay_sessions(r), 8);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_full), 93);
	ck_assert_uint_eq(count(&f.ep.stats.udp_sessions), 8);
	/* Still its session: no new one, nothing else ended. */
	send_from(r, "10.0.0.1", 5000, 200);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_full), 93);
	/* The flood's sessions went oldest first: the newest is still there. */
	send_from(r, "10.0.1.1", 20099, 201);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_full), 93);
	send_from(r, "10.0.1.1", 20000, 202);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_full), 94);
	udp_relay_free(r);
	ck_assert_uint_eq(count(&f.ep.stats.udp_sessions), 0);
	fixture_free(&f);
}
END_TEST

/* Over udp_sessions_per_source, the source's own idlest session ends. */
START_TEST(test_per_source)
{
	struct fixture f;
	struct udp_relay *r;

	fixture_init(&f);
	r = udp_relay_new(&f.l, f.epfd, 100, 4, NULL);
	ck_assert_ptr_nonnull(r);
	send_from(r, "10.0.0.9", 7000, 1);
	for (unsigned i = 0; i < 10; i++)
		send_from(r, "10.0.0.2", 1000 + i, 10 + i);
	ck_assert_uint_eq(udp_relay_sessions(r), 5);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_source), 6);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_full), 0);
	/* The other source kept its session. */
	send_from(r, "10.0.0.9", 7000, 30);
	ck_assert_uint_eq(udp_relay_sessions(r), 5);
	/* A confirmed session of the source stays while new ones churn. */
	send_from(r, "10.0.0.2", 1009, 31);
	for (unsigned i = 0; i < 10; i++)
		send_from(r, "10.0.0.2", 2000 + i, 40 + i);
	send_from(r, "10.0.0.2", 1009, 60);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_source), 16);
	udp_relay_free(r);
	fixture_free(&f);
}
END_TEST

/* The budget: half of it split evenly, so a relay flooded beyond its share
 * ends its own idlest and cannot take another relay's share away. */
START_TEST(test_budget_shared)
{
	struct fixture f, g;
	struct udp_budget b = { 0 };
	struct udp_relay *r1, *r2;

	fixture_init(&f);
	fixture_init(&g);
	udp_budget_set(&b, 8, 2);       /* 2 each, a pool of 4 */
	ck_assert_uint_eq(atomic_load(&b.share), 2);
	ck_assert_uint_eq(atomic_load(&b.pool), 4);
	r1 = udp_relay_new(&f.l, f.epfd, 100, 0, &b);
	r2 = udp_relay_new(&g.l, g.epfd, 100, 0, &b);
	ck_assert_ptr_nonnull(r1);
	ck_assert_ptr_nonnull(r2);
	for (unsigned i = 0; i < 10; i++)
		send_from(r1, "10.0.0.1", 3000 + i, 1 + i);
	ck_assert_uint_eq(udp_relay_sessions(r1), 6);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_budget), 4);
	ck_assert_uint_eq(atomic_load(&b.open), 6);
	ck_assert_uint_eq(atomic_load(&b.pool_used), 4);
	/* r2 still has its share; beyond it, it ends its own idlest. */
	send_from(r2, "10.0.0.2", 4000, 20);
	send_from(r2, "10.0.0.2", 4001, 21);
	ck_assert_uint_eq(udp_relay_sessions(r2), 2);
	send_from(r2, "10.0.0.2", 4002, 22);
	ck_assert_uint_eq(udp_relay_sessions(r2), 2);
	ck_assert_uint_eq(count(&g.ep.stats.evicted_budget), 1);
	ck_assert_uint_eq(count(&g.ep.stats.refused_sessions), 0);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_budget), 4);
	ck_assert_uint_eq(atomic_load(&b.open), 8);
	/* r1's sessions idle out (300 s): the pool is free again, r2 grows. */
	ck_assert_uint_eq(udp_relay_expire(r1, 10 + 300000), 0);
	ck_assert_uint_eq(atomic_load(&b.pool_used), 0);
	ck_assert_uint_eq(atomic_load(&b.open), 2);
	send_from(r2, "10.0.0.2", 4003, 300020);
	ck_assert_uint_eq(udp_relay_sessions(r2), 3);
	ck_assert_uint_eq(atomic_load(&b.pool_used), 1);
	udp_relay_free(r1);
	udp_relay_free(r2);
	ck_assert_uint_eq(atomic_load(&b.open), 0);
	ck_assert_uint_eq(atomic_load(&b.pool_used), 0);
	fixture_free(&f);
	fixture_free(&g);
}
END_TEST

/* A relay with no share of its own (a budget smaller than two per relay)
 * ignores a new client while the pool is held by others. */
START_TEST(test_budget_refused)
{
	struct fixture f, g;
	struct udp_budget b = { 0 };
	struct udp_relay *r1, *r2;

	fixture_init(&f);
	fixture_init(&g);
	udp_budget_set(&b, 2, 3);
	ck_assert_uint_eq(atomic_load(&b.share), 0);
	r1 = udp_relay_new(&f.l, f.epfd, 100, 0, &b);
	r2 = udp_relay_new(&g.l, g.epfd, 100, 0, &b);
	send_from(r1, "10.0.0.1", 3000, 1);
	send_from(r1, "10.0.0.1", 3001, 2);
	send_from(r2, "10.0.0.2", 4000, 3);
	ck_assert_uint_eq(udp_relay_sessions(r2), 0);
	ck_assert_uint_eq(count(&g.ep.stats.refused_sessions), 1);
	send_from(r1, "10.0.0.1", 3002, 4);
	ck_assert_uint_eq(count(&f.ep.stats.evicted_budget), 1);
	ck_assert_uint_eq(atomic_load(&b.open), 2);
	udp_relay_free(r1);
	udp_relay_free(r2);
	ck_assert_uint_eq(atomic_load(&b.pool_used), 0);
	fixture_free(&f);
	fixture_free(&g);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("udp_relay");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_budget_size);
	tcase_add_test(tc, test_full_spares_confirmed);
	tcase_add_test(tc, test_per_source);
	tcase_add_test(tc, test_budget_shared);
	tcase_add_test(tc, test_budget_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
