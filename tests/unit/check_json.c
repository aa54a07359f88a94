/* The JSON reader (json.c) and writer (buf.c) of the control protocol. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

static struct json *
parse_ok(const char *text)
{
	struct json *j = NULL;
	size_t where = 0;
	int r = json_parse(text, strlen(text), &j, &where);

	if (r != 0)
		ck_abort_msg("'%s' did not parse: %d at byte %zu", text, r, where);
	return j;
}

START_TEST(test_values)
{
	struct json *j = parse_ok(" {\"a\": 1, \"b\": [true, false, null, \"x\"], \"c\": {\"d\": -2.5e1},"
				  " \"big\": 18446744073709551615, \"a\": 7 } ");
	const struct json *b;

	ck_assert_int_eq(j->type, JSON_OBJECT);
	ck_assert_uint_eq(j->n, 5);
	/* A repeated key: the last one counts. */
	ck_assert_uint_eq(json_get_uint(j, "a", 0), 7);
	b = json_get(j, "b");
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->type, JSON_ARRAY);
	ck_assert_uint_eq(b->n, 4);
	ck_assert(b->items[0]->type == JSON_BOOL && b->items[0]->boolean);
	ck_assert(b->items[1]->type == JSON_BOOL && !b->items[1]->boolean);
	ck_assert_int_eq(b->items[2]->type, JSON_NULL);
	ck_assert_str_eq(b->items[3]->string, "x");
	ck_assert_double_eq(json_get_number(json_get(j, "c"), "d", 0), -25.0);
	/* Counters beyond 2^53 stay exact. */
	ck_assert_uint_eq(json_get_uint(j, "big", 0), 18446744073709551615ULL);
	/* Missing keys and wrong types fall back. */
	ck_assert_uint_eq(json_get_uint(j, "nope", 42), 42);
	ck_assert_str_eq(json_get_string(j, "a", "dflt"), "dflt");
	ck_assert_uint_eq(json_get_uint(json_get(j, "c"), "d", 3), 3);      /* negative: not a uint */
	ck_assert(json_get_bool(j, "a", true));
	ck_assert_ptr_null(json_get(b, "a"));           /* not an object */
	json_free(j);
}
END_TEST

START_TEST(test_strings)
{
	struct json *j = parse_ok("[\"a\\\"b\\\\c\\/d\\n\\t\", \"\\u00e9\\u20ac\", \"\\ud83d\\ude00\", \"caf\xc3\xa9\"]");

	ck_assert_str_eq(j->items[0]->string, "a\"b\\c/d\n\t");
	ck_assert_str_eq(j->items[1]->string, "\xc3\xa9\xe2\x82\xac");
	ck_assert_str_eq(j->items[2]->string, "\xf0\x9f\x98\x80");
	ck_assert_str_eq(j->items[3]->string, "caf\xc3\xa9");
	json_free(j);
}
END_TEST

static const char *const bad_json[] = {
	"", " ", "{", "}", "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{1:2}", "\"abc", "\"a\\x\"",
	"\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
	"[1] x", "\"tab\there\"", "{\"a\":1,}",
	"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",     /* 34 deep */
};

START_TEST(test_rejects)
{
	const char *text = bad_json[_i];
	struct json *j = NULL;
	size_t where = 99999;

	ck_assert_msg(json_parse(text, strlen(text), &j, &where) == -EINVAL, "accepted '%s'", text);
	ck_assert_ptr_null(j);
	ck_assert_uint_le(where, strlen(text));
}
END_TEST

START_TEST(test_depth_limit)
{
	char text[2 * (JSON_DEPTH_MAX + 1) + 1];
	struct json *j = NULL;

	/* JSON_DEPTH_MAX + 1 nested arrays: the outermost is depth 0. */
	memset(text, '[', JSON_DEPTH_MAX + 1);
	memset(text + JSON_DEPTH_MAX + 1, ']', JSON_DEPTH_MAX + 1);
	text[sizeof(text) - 1] = '\0';
	ck_assert_int_eq(json_parse(text, strlen(text), &j, NULL), 0);
	json_free(j);
}
END_TEST

START_TEST(test_writer_round_trip)
{
	static const char *const in[] = {
		"plain", "quote \" backslash \\ slash /", "ctl \x01\x1f\x7f nl \n tab \t cr \r",
		"utf8 \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "",
	};
	struct buf b = { 0 };
	struct json *j;

	buf_puts(&b, "[");
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		if (i)
			buf_puts(&b, ",");
		buf_json_string(&b, in[i]);
	}
	buf_puts(&b, "]");
	ck_assert_int_eq(buf_status(&b), 0);
	j = parse_ok(b.data);
	ck_assert_uint_eq(j->n, sizeof(in) / sizeof(in[0]));
	for (size_t i = 0; i < j->n; i++)
		ck_assert_str_eq(j->items[i]->string, in[i]);
	json_free(j);
	buf_free(&b);
}
END_TEST

START_TEST(test_writer_invalid_utf8)
{
	/* A lone continuation byte, an overlong '/', a surrogate, a cut sequence. */
	struct buf b = { 0 };
	struct json *j;

	buf_json_string(&b, "a\x80" "b\xc0\xaf" "c\xed\xa0\x80" "d\xe2\x82");
	ck_assert_str_eq(b.data, "\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd\"");
	j = parse_ok(b.data);
	ck_assert_int_eq(j->type, JSON_STRING);
	json_free(j);
	buf_free(&b);
}
END_TEST

START_TEST(test_buf_printf_grows)
{
	struct buf b = { 0 };
	char big[5000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "<%s>", big);
	buf_printf(&b, "%d", 42);
	ck_assert_uint_eq(b.len, sizeof(big) - 1 + 2 + 2);
	ck_assert_uint_eq(strlen(b.data), b.len);
	ck_assert_str_eq(b.data + b.len - 3, ">42");
	buf_free(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_strings);
	tcase_add_loop_test(tc, test_rejects, 0, (int)(sizeof(bad_json) / sizeof(bad_json[0])));
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_writer_round_trip);
	tcase_add_test(tc, test_writer_invalid_utf8);
	tcase_add_test(tc, test_buf_printf_grows);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
