/* cval_print: what it writes, libconfig 1.5 reads back as the same tree. */
#include <check.h>
#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cval_print.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct cval
scalar_s(const char *name, const char *s)
{
	return (struct cval){ .type = CVAL_STRING, .name = name, .s = s };
}

/* Compare a libconfig setting with the cval it came from. */
static void
same(const config_setting_t *s, const struct cval *v)
{
	switch (v->type) {
	case CVAL_INT:
		ck_assert(config_setting_type(s) == CONFIG_TYPE_INT ||
		    config_setting_type(s) == CONFIG_TYPE_INT64);
		ck_assert_int_eq(config_setting_get_int64(s), v->i);
		break;
	case CVAL_FLOAT:
		ck_assert_int_eq(config_setting_type(s), CONFIG_TYPE_FLOAT);
		ck_assert(config_setting_get_float(s) == v->f);
		break;
	case CVAL_BOOL:
		ck_assert_int_eq(config_setting_type(s), CONFIG_TYPE_BOOL);
		ck_assert_int_eq(config_setting_get_bool(s), v->b);
		break;
	case CVAL_STRING:
		ck_assert_int_eq(config_setting_type(s), CONFIG_TYPE_STRING);
		ck_assert_str_eq(config_setting_get_string(s), v->s);
		break;
	case CVAL_ARRAY:
	case CVAL_LIST:
	case CVAL_GROUP:
		ck_assert_int_eq(config_setting_type(s), v->type == CVAL_ARRAY ? CONFIG_TYPE_ARRAY :
		    v->type == CVAL_LIST ? CONFIG_TYPE_LIST : CONFIG_TYPE_GROUP);
		ck_assert_int_eq(config_setting_length(s), (int)v->n);
		for (size_t i = 0; i < v->n; i++) {
			const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

			ck_assert_ptr_nonnull(e);
			if (v->type == CVAL_GROUP)
				ck_assert_str_eq(config_setting_name(e), v->elems[i].name);
			same(e, &v->elems[i]);
		}
		break;
	}
}

/* Print g, read it back with libconfig, compare. */
static void
round_trip(const struct cval *g)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_t lc;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(cval_print_members(f, "", g), 0);
	fclose(f);
	config_init(&lc);
	if (!config_read_string(&lc, text))
		ck_abort_msg("libconfig refused line %d: %s\n%s", config_error_line(&lc),
		    config_error_text(&lc), text);
	same(config_root_setting(&lc), g);
	config_destroy(&lc);
	free(text);
}

START_TEST(strings_quoted)
{
	/* Every byte but NUL, one string each, and some together. */
	static char bytes[255][2];
	struct cval m[255 + 6];
	static char names[255 + 6][16];
	struct cval g = { .type = CVAL_GROUP, .elems = m };

	for (int b = 1; b < 256; b++) {
		bytes[b - 1][0] = (char)b;
		snprintf(names[b - 1], sizeof(names[0]), "b%d", b);
		m[g.n++] = scalar_s(names[b - 1], bytes[b - 1]);
	}
	m[g.n++] = scalar_s("empty", "");
	m[g.n++] = scalar_s("quotes", "say \"hi\" \\ back\\slash \\\"");
	m[g.n++] = scalar_s("escapes", "tab\there\nnewline\rcr\fff\x01\x1f\x7f end");
	m[g.n++] = scalar_s("utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	m[g.n++] = scalar_s("looks_like_syntax", "\"; } include = ( # // /* */ @include \"x\"");
	m[g.n++] = scalar_s("hex_text", "\\x41 is not A");
	round_trip(&g);
}
END_TEST

START_TEST(numbers_and_bools)
{
	struct cval m[] = {
		{ .type = CVAL_INT, .name = "zero", .i = 0 },
		{ .type = CVAL_INT, .name = "neg", .i = -42 },
		{ .type = CVAL_INT, .name = "imax", .i = 2147483647 },
		{ .type = CVAL_INT, .name = "imin", .i = -2147483647LL - 1 },
		{ .type = CVAL_INT, .name = "big", .i = 4294967296LL },
		{ .type = CVAL_INT, .name = "bigneg", .i = -9000000000LL },
		{ .type = CVAL_INT, .name = "mode", .i = 0660, .hex = true },
		{ .type = CVAL_INT, .name = "hexbig", .i = 0x123456789LL, .hex = true },
		{ .type = CVAL_FLOAT, .name = "f1", .f = 0.1 },
		{ .type = CVAL_FLOAT, .name = "f2", .f = 2.0 },
		{ .type = CVAL_FLOAT, .name = "f3", .f = 1e-7 },
		{ .type = CVAL_FLOAT, .name = "f4", .f = -123456.789 },
		{ .type = CVAL_FLOAT, .name = "f5", .f = 1.0 / 3 },
		{ .type = CVAL_FLOAT, .name = "f6", .f = 1e300 },
		{ .type = CVAL_FLOAT, .name = "f7", .f = 120 / 60.0 },
		{ .type = CVAL_BOOL, .name = "yes", .b = true },
		{ .type = CVAL_BOOL, .name = "no", .b = false },
	};
	struct cval g = { .type = CVAL_GROUP, .elems = m, .n = N(m) };

	round_trip(&g);
}
END_TEST

START_TEST(nested)
{
	struct cval strs[] = { scalar_s(NULL, "tcp:[::1]:7"), scalar_s(NULL, "unix:@x \"y\"") };
	struct cval ints[] = { { .type = CVAL_INT, .i = 1 }, { .type = CVAL_INT, .i = -2 } };
	struct cval inner[] = {
		{ .type = CVAL_INT, .name = "nofile", .i = 1024 },
		scalar_s("cpu", "unlimited"),
	};
	struct cval mixed[] = {
		scalar_s(NULL, "a"),
		{ .type = CVAL_INT, .i = 7 },
		{ .type = CVAL_GROUP, .elems = inner, .n = N(inner) },
		{ .type = CVAL_ARRAY, .elems = strs, .n = N(strs) },
		{ .type = CVAL_LIST },
	};
	struct cval ep[] = {
		scalar_s("name", "x"),
		{ .type = CVAL_ARRAY, .name = "listen", .elems = strs, .n = N(strs) },
		{ .type = CVAL_ARRAY, .name = "nums", .elems = ints, .n = N(ints) },
		{ .type = CVAL_ARRAY, .name = "none" },
		{ .type = CVAL_GROUP, .name = "rlimit", .elems = inner, .n = N(inner) },
		{ .type = CVAL_GROUP, .name = "empty_group" },
		{ .type = CVAL_LIST, .name = "mixed", .elems = mixed, .n = N(mixed) },
	};
	struct cval eps[] = {
		{ .type = CVAL_GROUP, .elems = ep, .n = N(ep) },
		{ .type = CVAL_GROUP, .elems = ep, .n = N(ep) },
	};
	struct cval top[] = { { .type = CVAL_LIST, .name = "endpoints", .elems = eps, .n = N(eps) } };
	struct cval g = { .type = CVAL_GROUP, .elems = top, .n = N(top) };

	round_trip(&g);
}
END_TEST

/* What libconfig could not read back the same is refused, and nothing is
 * printed. */
START_TEST(refused)
{
	struct cval bad_name[] = { scalar_s("1abc", "x") };
	struct cval no_name[] = { scalar_s(NULL, "x") };
	struct cval dash_first[] = { scalar_s("-x", "x") };
	struct cval mixed_elems[] = { scalar_s(NULL, "a"), { .type = CVAL_INT, .i = 1 } };
	struct cval nested_elems[] = { { .type = CVAL_LIST } };
	struct cval mixed_array[] = { { .type = CVAL_ARRAY, .name = "a", .elems = mixed_elems, .n = 2 } };
	struct cval nested_array[] = { { .type = CVAL_ARRAY, .name = "a", .elems = nested_elems, .n = 1 } };
	struct cval nan_f[] = { { .type = CVAL_FLOAT, .name = "f", .f = NAN } };
	struct cval inf_f[] = { { .type = CVAL_FLOAT, .name = "f", .f = INFINITY } };
	struct cval null_s[] = { { .type = CVAL_STRING, .name = "s" } };
	struct cval deep_bad[] = { { .type = CVAL_GROUP, .name = "ok", .elems = bad_name, .n = 1 } };
	struct {
		struct cval *m;
		size_t n;
	} cases[] = {
		{ bad_name, 1 }, { no_name, 1 }, { dash_first, 1 }, { mixed_array, 1 },
		{ nested_array, 1 }, { nan_f, 1 }, { inf_f, 1 }, { null_s, 1 }, { deep_bad, 1 },
	};

	for (size_t i = 0; i < N(cases); i++) {
		struct cval g = { .type = CVAL_GROUP, .elems = cases[i].m, .n = cases[i].n };
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		ck_assert_int_eq(cval_print_members(f, "", &g), -EINVAL);
		fclose(f);
		ck_assert_msg(len == 0, "case %zu printed '%s'", i, text);
		free(text);
	}
	ck_assert(cval_name_valid("a"));
	ck_assert(cval_name_valid("max_per_source"));
	ck_assert(cval_name_valid("a-b*1"));
	ck_assert(!cval_name_valid(""));
	ck_assert(!cval_name_valid("_a"));
	ck_assert(!cval_name_valid("a.b"));
	ck_assert(!cval_name_valid("a b"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("cval_print");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, strings_quoted);
	tcase_add_test(tc, numbers_and_bools);
	tcase_add_test(tc, nested);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
