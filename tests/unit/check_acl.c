/* Included, not linked, like the other unit tests' modules. */
#include "acl.c"

#include <check.h>
#include <sys/un.h>

/* ------------------------------------------------------------ helpers */

/* A peer sockaddr for an IPv4 or IPv6 text address. */
struct peer {
	struct sockaddr_storage ss;
	socklen_t len;
};

static struct peer
peer_of(const char *text)
{
	struct peer p = { .len = 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&p.ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p.ss;

	memset(&p.ss, 0, sizeof(p.ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
		p.len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40000);
		p.len = sizeof(*sin6);
	} else {
		ck_abort_msg("bad test address %s", text);
	}
	return p;
}

static struct acl_rule
rule(const char *text)
{
	struct acl_rule r;
	const char *why = NULL;

	if (acl_rule_parse(text, &r, &why) != 0)
		ck_abort_msg("rule %s: %s", text, why);
	return r;
}

/* An ACL from two NULL-terminated lists of rule texts. */
static struct acl *
acl_of(const char *const *allow, const char *const *deny)
{
	struct acl_rule a[16], d[16];
	size_t na = 0, nd = 0;
	struct acl *acl;

	for (; allow && *allow; allow++)
		a[na++] = rule(*allow);
	for (; deny && *deny; deny++)
		d[nd++] = rule(*deny);
	acl = acl_new(a, na, d, nd);
	ck_assert_ptr_nonnull(acl);
	return acl;
}

static bool
allows(const struct acl *acl, const char *addr)
{
	struct peer p = peer_of(addr);

	return acl_allows(acl, (struct sockaddr *)&p.ss, p.len);
}

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ------------------------------------------------------------ rules */

START_TEST(test_rule_round_trip)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8" },
		{ "192.0.2.1", "192.0.2.1/32" },
		{ "192.0.2.1/32", "192.0.2.1/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "172.16.0.0/012", "172.16.0.0/12" },
		{ "2001:DB8::/32", "2001:db8::/32" },
		{ "2001:0db8:0000::/48", "2001:db8::/48" },
		{ "::1", "::1/128" },
		{ "::/0", "::/0" },
		{ "fe80::/10", "fe80::/10" },
		/* a v4-mapped rule is the IPv4 rule */
		{ "::ffff:10.0.0.0/104", "10.0.0.0/8" },
		{ "::ffff:192.0.2.7", "192.0.2.7/32" },
		{ "::ffff:0:0/96", "0.0.0.0/0" },
		/* shorter than the mapped prefix: a plain IPv6 rule */
		{ "::/95", "::/95" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct acl_rule r = rule(cases[i].in), r2;

		ck_assert_str_eq(acl_rule_format(&r, buf, sizeof(buf)), cases[i].out);
		/* The canonical text parses back to the same rule. */
		r2 = rule(buf);
		ck_assert_int_eq(r2.family, r.family);
		ck_assert_uint_eq(r2.prefix, r.prefix);
		ck_assert_mem_eq(r2.addr, r.addr, 16);
	}

	struct acl_rule r = rule("10.1.0.0/16");
	ck_assert_int_eq(r.family, AF_INET);
	ck_assert_uint_eq(r.prefix, 16);
	ck_assert_mem_eq(r.addr, "\x0a\x01\x00\x00", 4);
	r = rule("2001:db8::/32");
	ck_assert_int_eq(r.family, AF_INET6);
	ck_assert_uint_eq(r.prefix, 32);
}
END_TEST

START_TEST(test_rule_errors)
{
	static const struct { const char *in, *why; } cases[] = {
		{ "", "empty rule" },
		{ "10.0.0.0/", "invalid prefix length" },
		{ "10.0.0.0/-1", "invalid prefix length" },
		{ "10.0.0.0/+8", "invalid prefix length" },
		{ "10.0.0.0/8x", "invalid prefix length" },
		{ "10.0.0.0/8/8", "invalid prefix length" },
		{ "10.0.0.0/ 8", "invalid prefix length" },
		{ "10.0.0.0/33", "prefix length longer than 32" },
		{ "10.0.0.0/99999999999", "prefix length longer than 32" },
		{ "::/129", "prefix length longer than 128" },
		{ "10.0.0.1/8", "host bits set" },
		{ "192.0.2.1/31", "host bits set" },
		{ "0.0.0.1/0", "host bits set" },
		{ "2001:db8::1/32", "host bits set" },
		{ "::ffff:10.0.0.1/104", "host bits set" },
		{ "garbage", "not an IP address or network" },
		{ "10.0.0.256", "not an IP address or network" },
		{ "10/8", "not an IP address or network" },
		{ " 10.0.0.0/8", "not an IP address or network" },
		{ "10.0.0.0 /8", "not an IP address or network" },
		{ "/8", "not an IP address or network" },
		{ "fe80::1%eth0", "not an IP address or network" },
		{ "[::1]", "not an IP address or network" },
		{ "2001:db8::/32 trailing text that makes it longer than any address", "not an IP address or network" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct acl_rule r = { .family = 99 };
		const char *why = NULL;

		ck_assert_msg(acl_rule_parse(cases[i].in, &r, &why) == -EINVAL, "'%s' parsed", cases[i].in);
		ck_assert_ptr_nonnull(why);
		ck_assert_msg(strcmp(why, cases[i].why) == 0, "'%s': '%s', expected '%s'",
		    cases[i].in, why, cases[i].why);
		ck_assert_int_eq(r.family, 99);         /* untouched on error */
	}
	/* why may be NULL */
	struct acl_rule r;
	ck_assert_int_eq(acl_rule_parse("x", &r, NULL), -EINVAL);
	ck_assert_int_eq(acl_rule_parse(NULL, &r, NULL), -EINVAL);
}
END_TEST

/* ------------------------------------------------------------ acl_allows */

START_TEST(test_specific_deny_inside_allow)
{
	struct acl *acl = acl_of(LIST("10.0.0.0/8"), LIST("10.1.0.0/16"));

	ck_assert(!allows(acl, "10.1.2.3"));
	ck_assert(allows(acl, "10.2.3.4"));
	ck_assert(allows(acl, "10.255.255.255"));
	ck_assert(!allows(acl, "10.1.0.0"));
	/* there are allow rules, so what none matches is refused */
	ck_assert(!allows(acl, "192.0.2.1"));
	ck_assert(!allows(acl, "11.0.0.1"));
	acl_free(acl);
}
END_TEST

START_TEST(test_specific_allow_inside_deny)
{
	struct acl *acl = acl_of(LIST("10.1.2.3/32"), LIST("10.0.0.0/8"));

	ck_assert(allows(acl, "10.1.2.3"));
	ck_assert(!allows(acl, "10.1.2.4"));
	ck_assert(!allows(acl, "10.9.9.9"));
	ck_assert(!allows(acl, "192.0.2.1"));   /* allow rules exist */
	acl_free(acl);

	/* The order the rules are given in does not matter. */
	acl = acl_of(LIST("0.0.0.0/0", "10.1.2.0/24"), LIST("10.0.0.0/8", "10.1.2.128/25"));
	ck_assert(allows(acl, "192.0.2.1"));
	ck_assert(!allows(acl, "10.0.0.1"));
	ck_assert(allows(acl, "10.1.2.1"));
	ck_assert(!allows(acl, "10.1.2.200"));
	acl_free(acl);
}
END_TEST

START_TEST(test_tie_goes_to_deny)
{
	struct acl *acl = acl_of(LIST("10.0.0.0/8"), LIST("10.0.0.0/8"));

	ck_assert(!allows(acl, "10.1.2.3"));
	acl_free(acl);

	acl = acl_of(LIST("192.0.2.1", "2001:db8::/32"), LIST("192.0.2.1/32", "2001:db8::/32"));
	ck_assert(!allows(acl, "192.0.2.1"));
	ck_assert(!allows(acl, "2001:db8::5"));
	acl_free(acl);
}
END_TEST

START_TEST(test_default)
{
	/* Only deny rules: everything else is allowed. */
	struct acl *acl = acl_of(NULL, LIST("192.0.2.0/24"));

	ck_assert(allows(acl, "192.0.3.1"));
	ck_assert(allows(acl, "2001:db8::1"));
	ck_assert(!allows(acl, "192.0.2.99"));
	acl_free(acl);

	/* Only allow rules: everything else is refused. */
	acl = acl_of(LIST("192.0.2.0/24"), NULL);
	ck_assert(allows(acl, "192.0.2.99"));
	ck_assert(!allows(acl, "192.0.3.1"));
	ck_assert(!allows(acl, "2001:db8::1"));
	acl_free(acl);

	/* No rules at all, and no acl: everyone. */
	acl = acl_new(NULL, 0, NULL, 0);
	ck_assert_ptr_nonnull(acl);
	ck_assert(allows(acl, "192.0.2.1"));
	ck_assert(allows(acl, "::1"));
	acl_free(acl);
	ck_assert(allows(NULL, "192.0.2.1"));
	acl_free(NULL);
}
END_TEST

START_TEST(test_v4_mapped_peers)
{
	struct acl *acl = acl_of(LIST("10.0.0.0/8"), LIST("10.1.0.0/16"));

	ck_assert(allows(acl, "::ffff:10.2.3.4"));
	ck_assert(!allows(acl, "::ffff:10.1.2.3"));
	ck_assert(!allows(acl, "::ffff:192.0.2.1"));
	acl_free(acl);

	/* An IPv6 rule, even ::/0, does not match IPv4 peers, mapped or not. */
	acl = acl_of(LIST("::/0"), NULL);
	ck_assert(allows(acl, "2001:db8::1"));
	ck_assert(!allows(acl, "192.0.2.1"));
	ck_assert(!allows(acl, "::ffff:192.0.2.1"));
	acl_free(acl);
	acl = acl_of(NULL, LIST("::/0"));
	ck_assert(!allows(acl, "::1"));
	ck_assert(allows(acl, "::ffff:192.0.2.1"));
	ck_assert(allows(acl, "192.0.2.1"));
	acl_free(acl);

	/* ... and an IPv4 rule, even 0.0.0.0/0, never matches a native IPv6 peer. */
	acl = acl_of(LIST("0.0.0.0/0"), NULL);
	ck_assert(allows(acl, "192.0.2.1"));
	ck_assert(allows(acl, "::ffff:192.0.2.1"));
	ck_assert(!allows(acl, "::1"));
	ck_assert(!allows(acl, "::"));
	ck_assert(!allows(acl, "::192.0.2.1"));  /* IPv4-compatible is IPv6 */
	acl_free(acl);
	acl = acl_of(NULL, LIST("0.0.0.0/0"));
	ck_assert(allows(acl, "::1"));
	ck_assert(!allows(acl, "::ffff:127.0.0.1"));
	acl_free(acl);

	/* A rule written v4-mapped is an IPv4 rule. */
	acl = acl_of(LIST("::ffff:127.0.0.0/104"), NULL);
	ck_assert(allows(acl, "127.0.0.1"));
	ck_assert(allows(acl, "::ffff:127.1.2.3"));
	ck_assert(!allows(acl, "::1"));
	acl_free(acl);
}
END_TEST

START_TEST(test_ipv6)
{
	struct acl *acl = acl_of(LIST("2001:db8::/32", "::1"), LIST("2001:db8:1::/48", "2001:db8:0:8000::/49"));

	ck_assert(allows(acl, "2001:db8::1"));
	ck_assert(allows(acl, "2001:db8:ffff::1"));
	ck_assert(!allows(acl, "2001:db8:1::1"));
	ck_assert(!allows(acl, "2001:db8:1:ffff:ffff:ffff:ffff:ffff"));
	ck_assert(allows(acl, "2001:db8:0:7fff::1"));
	ck_assert(!allows(acl, "2001:db8:0:8000::1"));
	ck_assert(allows(acl, "::1"));
	ck_assert(!allows(acl, "::2"));
	ck_assert(!allows(acl, "2001:db9::1"));
	ck_assert(!allows(acl, "127.0.0.1"));
	acl_free(acl);

	/* Prefixes that are not a multiple of 8. */
	acl = acl_of(LIST("fe80::/10", "192.0.2.64/26"), NULL);
	ck_assert(allows(acl, "fe80::1"));
	ck_assert(allows(acl, "febf:ffff::1"));
	ck_assert(!allows(acl, "fec0::1"));
	ck_assert(allows(acl, "192.0.2.64"));
	ck_assert(allows(acl, "192.0.2.127"));
	ck_assert(!allows(acl, "192.0.2.63"));
	ck_assert(!allows(acl, "192.0.2.128"));
	acl_free(acl);
}
END_TEST

START_TEST(test_unix_and_odd_peers)
{
	struct acl *acl = acl_of(LIST("10.0.0.0/8"), LIST("0.0.0.0/0", "::/0"));
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/run/x.sock" };
	struct peer p = peer_of("10.0.0.1");

	ck_assert(acl_allows(acl, (struct sockaddr *)&sun, sizeof(sun)));
	/* an unnamed Unix peer: only the family, or nothing at all */
	ck_assert(acl_allows(acl, (struct sockaddr *)&sun, sizeof(sa_family_t)));
	ck_assert(acl_allows(acl, NULL, 0));
	/* an IP address cut short is refused, not guessed */
	ck_assert(acl_allows(acl, (struct sockaddr *)&p.ss, p.len));
	ck_assert(!acl_allows(acl, (struct sockaddr *)&p.ss, p.len - 1));
	acl_free(acl);
}
END_TEST

START_TEST(test_acl_rules_kept)
{
	struct acl *acl = acl_of(LIST("10.0.0.0/8", "::1"), LIST("10.1.0.0/16"));
	const struct acl_rule *r;
	char buf[64];
	size_t n;

	r = acl_rules(acl, true, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(acl_rule_format(&r[0], buf, sizeof(buf)), "10.0.0.0/8");
	ck_assert_str_eq(acl_rule_format(&r[1], buf, sizeof(buf)), "::1/128");
	r = acl_rules(acl, false, &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(acl_rule_format(&r[0], buf, sizeof(buf)), "10.1.0.0/16");
	acl_free(acl);

	ck_assert_ptr_null(acl_rules(NULL, true, &n));
	ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *tc;

	tc = tcase_create("rules");
	tcase_add_test(tc, test_rule_round_trip);
	tcase_add_test(tc, test_rule_errors);
	tcase_add_test(tc, test_specific_deny_inside_allow);
	tcase_add_test(tc, test_specific_allow_inside_deny);
	tcase_add_test(tc, test_tie_goes_to_deny);
	tcase_add_test(tc, test_default);
	tcase_add_test(tc, test_v4_mapped_peers);
	tcase_add_test(tc, test_ipv6);
	tcase_add_test(tc, test_unix_and_odd_peers);
	tcase_add_test(tc, test_acl_rules_kept);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(acl_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
