/* http.c: telling a complete HTTP/1.x request head from an incomplete one
 * and from garbage, as the metrics service must. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static int
parse(const char *text, struct http_request *req)
{
	return http_parse_request(text, strlen(text), req);
}

START_TEST(test_complete)
{
	struct http_request req;

	ck_assert_int_eq(parse("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", &req), 1);
	ck_assert_uint_eq(req.method_len, 3);
	ck_assert_int_eq(memcmp(req.method, "GET", 3), 0);
	ck_assert_uint_eq(req.target_len, 8);
	ck_assert_int_eq(memcmp(req.target, "/metrics", 8), 0);
	ck_assert_int_eq(req.minor, 1);
	ck_assert(http_target_is(&req, "/metrics"));
	ck_assert(!http_target_is(&req, "/metric"));
	ck_assert(!http_target_is(&req, "/metrics/x"));

	/* HTTP/1.0 without headers, bare LFs, a query, another method. */
	ck_assert_int_eq(parse("HEAD /metrics?name[]=x HTTP/1.0\r\n\r\n", &req), 1);
	ck_assert_int_eq(req.minor, 0);
	ck_assert(http_target_is(&req, "/metrics"));
	ck_assert_int_eq(parse("GET / HTTP/1.0\n\n", &req), 1);
	ck_assert(!http_target_is(&req, "/metrics"));
	ck_assert_int_eq(parse("POST /metrics HTTP/1.1\nContent-Length: 3\n\nabc", &req), 1);
	ck_assert_uint_eq(req.method_len, 4);
}
END_TEST

START_TEST(test_incomplete)
{
	struct http_request req;
	static const char full[] = "GET /metrics HTTP/1.1\r\nHost: localhost:9100\r\n\r\n";

	/* Every proper prefix of a good request asks for more. */
	for (size_t n = 0; n < sizeof(full) - 1; n++)
		ck_assert_msg(http_parse_request(full, n, &req) == 0, "prefix of %zu bytes", n);
	ck_assert_int_eq(http_parse_request(full, sizeof(full) - 1, &req), 1);
}
END_TEST

static const char *const garbage[] = {
	"\x16\x03\x01\x02\x00\x01\x00",                 /* a TLS ClientHello */
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",             /* the HTTP/2 preface */
	"GET /metrics\r\n",                             /* HTTP/0.9 */
	"GET /metrics HTTP/1.2\r\n\r\n",
	"GET /metrics HTTP/1.1 x\r\n\r\n",
	"GET  /metrics HTTP/1.1\r\n\r\n",
	"GET /met rics HTTP/1.1\r\n\r\n",
	"G(T /metrics HTTP/1.1\r\n\r\n",
	" GET /metrics HTTP/1.1\r\n\r\n",
	"GET /metrics\x01 HTTP/1.1\r\n",
	"GET /m\r\retrics HTTP/1.1\r\n\r\n",
	"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
	"hello\n",
	"\r\n",
};

START_TEST(test_garbage)
{
	struct http_request req;
	const char *text = garbage[_i];

	ck_assert_msg(http_parse_request(text, strlen(text), &req) == -EINVAL, "accepted #%d", _i);
}
END_TEST

START_TEST(test_garbage_early)
{
	struct http_request req;

	/* Known to be garbage before any line ends. */
	ck_assert_int_eq(http_parse_request("\x16\x03", 2, &req), -EINVAL);
	ck_assert_int_eq(http_parse_request("GET /\x00", 6, &req), -EINVAL);
	ck_assert_int_eq(http_parse_request("GET /", 5, &req), 0);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_complete);
	tcase_add_test(tc, test_incomplete);
	tcase_add_loop_test(tc, test_garbage, 0, (int)(sizeof(garbage) / sizeof(garbage[0])));
	tcase_add_test(tc, test_garbage_early);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
