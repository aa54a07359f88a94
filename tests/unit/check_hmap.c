#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

#define S(s) (s), strlen(s)

START_TEST(test_empty)
{
	struct hmap m = { 0 };

	ck_assert_ptr_null(hmap_get(&m, S("a")));
	ck_assert(!hmap_del(&m, S("a")));
	ck_assert_ptr_null(hmap_get(&m, NULL, 0));
	hmap_free(&m);
	hmap_free(&m);          /* twice: it leaves an empty map */
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

START_TEST(test_add_get_del)
{
	struct hmap m = { 0 };
	size_t *v;

	ck_assert_int_eq(hmap_add(&m, S("echo"), 1), 0);
	ck_assert_int_eq(hmap_add(&m, S("echo-2"), 2), 0);
	ck_assert_int_eq(hmap_add(&m, S("ech"), 3), 0);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_ptr_nonnull(v = hmap_get(&m, S("echo")));
	ck_assert_uint_eq(*v, 1);
	ck_assert_uint_eq(*hmap_get(&m, S("echo-2")), 2);
	ck_assert_uint_eq(*hmap_get(&m, S("ech")), 3);
	ck_assert_ptr_null(hmap_get(&m, S("echo-")));
	ck_assert_ptr_null(hmap_get(&m, S("")));
	/* A prefix of a key is another key: the length counts. */
	ck_assert_uint_eq(*hmap_get(&m, "echo", 3), 3);

	/* The first value stays. */
	ck_assert_int_eq(hmap_add(&m, S("echo"), 9), -EEXIST);
	ck_assert_uint_eq(*hmap_get(&m, S("echo")), 1);
	ck_assert_uint_eq(m.n, 3);

	/* Changed in place. */
	*hmap_get(&m, S("echo-2")) = 7;
	ck_assert_uint_eq(*hmap_get(&m, S("echo-2")), 7);

	ck_assert(hmap_del(&m, S("echo")));
	ck_assert(!hmap_del(&m, S("echo")));
	ck_assert_ptr_null(hmap_get(&m, S("echo")));
	ck_assert_uint_eq(*hmap_get(&m, S("echo-2")), 7);
	ck_assert_uint_eq(m.n, 2);
	/* Back, with a new value. */
	ck_assert_int_eq(hmap_add(&m, S("echo"), 4), 0);
	ck_assert_uint_eq(*hmap_get(&m, S("echo")), 4);
	hmap_free(&m);
}
END_TEST

/* Keys are bytes, not strings: NULs inside, and the empty key. */
START_TEST(test_binary_keys)
{
	struct hmap m = { 0 };
	const unsigned char a[] = { 0, 1, 0, 2 }, b[] = { 0, 1, 0, 3 }, c[] = { 0, 1, 0 };

	ck_assert_int_eq(hmap_add(&m, a, sizeof(a), 10), 0);
	ck_assert_int_eq(hmap_add(&m, b, sizeof(b), 11), 0);
	ck_assert_int_eq(hmap_add(&m, c, sizeof(c), 12), 0);
	ck_assert_int_eq(hmap_add(&m, NULL, 0, 13), 0);
	ck_assert_int_eq(hmap_add(&m, "", 0, 14), -EEXIST);
	ck_assert_uint_eq(*hmap_get(&m, a, sizeof(a)), 10);
	ck_assert_uint_eq(*hmap_get(&m, b, sizeof(b)), 11);
	ck_assert_uint_eq(*hmap_get(&m, c, sizeof(c)), 12);
	ck_assert_uint_eq(*hmap_get(&m, "x", 0), 13);
	ck_assert(hmap_del(&m, NULL, 0));
	ck_assert_ptr_null(hmap_get(&m, NULL, 0));
	ck_assert_uint_eq(*hmap_get(&m, c, sizeof(c)), 12);
	hmap_free(&m);
}
END_TEST

/* Many keys: the table grows, keeps every one, and the pointer hmap_get
 * gave stays valid across the growth. */
START_TEST(test_many)
{
	enum { N = 50000 };
	struct hmap m = { 0 };
	char key[32];
	size_t *first;

	ck_assert_int_eq(hmap_add(&m, S("tcp:127.0.0.1:0"), 0), 0);
	first = hmap_get(&m, S("tcp:127.0.0.1:0"));
	for (size_t i = 1; i < N; i++) {
		snprintf(key, sizeof(key), "tcp:127.0.0.1:%zu", i);
		ck_assert_int_eq(hmap_add(&m, S(key), i), 0);
	}
	ck_assert_uint_eq(m.n, N);
	ck_assert_ptr_eq(hmap_get(&m, S("tcp:127.0.0.1:0")), first);
	/* Load factor at most 1 after growing. */
	ck_assert_uint_ge(m.n_buckets, N / 2);
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "tcp:127.0.0.1:%zu", i);
		ck_assert_ptr_nonnull(hmap_get(&m, S(key)));
		ck_assert_uint_eq(*hmap_get(&m, S(key)), i);
	}
	for (size_t i = 0; i < N; i += 2) {
		snprintf(key, sizeof(key), "tcp:127.0.0.1:%zu", i);
		ck_assert(hmap_del(&m, S(key)));
	}
	ck_assert_uint_eq(m.n, N / 2);
	for (size_t i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "tcp:127.0.0.1:%zu", i);
		if (i % 2 == 0)
			ck_assert_ptr_null(hmap_get(&m, S(key)));
		else
			ck_assert_uint_eq(*hmap_get(&m, S(key)), i);
	}
	hmap_free(&m);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_ptr_null(hmap_get(&m, S("tcp:127.0.0.1:1")));
	/* Used again after hmap_free. */
	ck_assert_int_eq(hmap_add(&m, S("x"), 5), 0);
	ck_assert_uint_eq(*hmap_get(&m, S("x")), 5);
	hmap_free(&m);
}
END_TEST

/* Keys that differ in their last byte only land in many buckets: the
 * chains stay short (the table would work with long ones, only slowly). */
START_TEST(test_spread)
{
	enum { N = 4096, BUCKETS = 1024 };
	unsigned count[BUCKETS] = { 0 }, worst = 0;
	char key[32];

	for (unsigned i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "127.0.0.1:%u", 20000 + i);
		count[hmap_hash(S(key)) & (BUCKETS - 1)]++;
	}
	for (unsigned i = 0; i < BUCKETS; i++)
		if (count[i] > worst)
			worst = count[i];
	/* 4 a bucket on average; a uniform hash makes 16 all but impossible. */
	ck_assert_uint_lt(worst, 16);
	ck_assert_uint_ne(hmap_hash(S("a")), hmap_hash(S("b")));
	ck_assert_uint_eq(hmap_hash(S("abc")), hmap_hash("abcd", 3));
}
END_TEST

static Suite *
hmap_suite(void)
{
	Suite *s = suite_create("hmap");
	TCase *tc = tcase_create("map");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_add_get_del);
	tcase_add_test(tc, test_binary_keys);
	tcase_add_test(tc, test_many);
	tcase_add_test(tc, test_spread);
	tcase_set_timeout(tc, 30);      /* valgrind and sanitizers */
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hmap_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
