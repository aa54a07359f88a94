#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fdname.h"

static const char *
name_of(const char *ep, const char *text)
{
	static char out[FDNAME_MAX + 1];
	const char *why = NULL;
	struct addr a;

	ck_assert_msg(addr_parse(text, &a, &why) == 0, "%s: %s", text, why ? why : "-");
	fdname_listener(ep, &a, out);
	return out;
}

/* What systemd's fdname_is_valid() accepts: printable ASCII but ':'. */
static void
assert_valid(const char *s)
{
	ck_assert_uint_le(strlen(s), FDNAME_MAX);
	for (const char *p = s; *p; p++)
		ck_assert_msg(*p >= ' ' && *p < 127 && *p != ':', "byte 0x%02x in '%s'", (unsigned char)*p, s);
}

START_TEST(test_format)
{
	ck_assert_str_eq(name_of("echo", "tcp:127.0.0.1:7"), "sockd/echo/tcp%3A127.0.0.1%3A7");
	ck_assert_str_eq(name_of("e", "udp:[::1]:7"), "sockd/e/udp%3A[%3A%3A1]%3A7");
	ck_assert_str_eq(name_of("e", "unix:/run/a%b.sock"), "sockd/e/unix%3A/run/a%25b.sock");
	assert_valid(name_of("e", "unix:@abstract"));
	/* Stable: the same twice. */
	ck_assert_str_eq(name_of("echo", "tcp:127.0.0.1:7"), "sockd/echo/tcp%3A127.0.0.1%3A7");
}
END_TEST

START_TEST(test_long)
{
	char ep[65], path[120], a[FDNAME_MAX + 1], b[FDNAME_MAX + 1];

	memset(ep, 'e', 64);
	ep[64] = '\0';
	/* 100 ':' escape to 300 bytes: over the limit, cut with a hash. */
	strcpy(path, "unix:/");
	memset(path + 6, ':', 100);
	path[106] = '\0';
	strcpy(a, name_of(ep, path));
	path[105] = 'x';
	strcpy(b, name_of(ep, path));
	assert_valid(a);
	assert_valid(b);
	ck_assert_uint_eq(strlen(a), FDNAME_MAX);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(a[FDNAME_MAX - 17], '#');
	ck_assert(fdname_is_listener(a));
}
END_TEST

START_TEST(test_is_listener)
{
	ck_assert(fdname_is_listener("sockd/echo/tcp%3A127.0.0.1%3A7"));
	ck_assert(!fdname_is_listener("echo"));
	ck_assert(!fdname_is_listener("sockd.socket"));
	ck_assert(!fdname_is_listener("unknown"));
	ck_assert(!fdname_is_listener("sockd/"));
	ck_assert(!fdname_is_listener("sockd//x"));
	ck_assert(!fdname_is_listener("sockd/echo"));
	ck_assert(!fdname_is_listener(FDNAME_CONTROL));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("fdname");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_long);
	tcase_add_test(tc, test_is_listener);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
