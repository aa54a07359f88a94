/* Included, not linked, like the other unit tests' modules. */
#include "timer.c"

#include <check.h>
#include <stdlib.h>

#define N 1000

/* Every entry in the heap knows its place, and no parent is later than
 * its children. */
static void
check_heap(const struct timer_heap *h)
{
	for (size_t i = 0; i < h->len; i++) {
		ck_assert_uint_eq(h->v[i]->idx, i);
		if (i > 0)
			ck_assert_uint_le(h->v[(i - 1) / 2]->deadline_ms, h->v[i]->deadline_ms);
	}
}

START_TEST(test_empty)
{
	struct timer_heap h = { 0 };
	struct timer t;

	timer_init(&t);
	ck_assert_ptr_null(timer_first(&h));
	timer_remove(&h, &t);           /* not in it: nothing */
	ck_assert_uint_eq(h.len, 0);
	timer_heap_free(&h);
}
END_TEST

/* Set, move and remove at random; the heap pops in deadline order and
 * holds exactly the timers that are set. */
START_TEST(test_order_under_churn)
{
	static struct timer t[N];
	struct timer_heap h = { 0 };
	unsigned seed = 12345;
	size_t in = 0;
	uint64_t last = 0;

	for (size_t i = 0; i < N; i++)
		timer_init(&t[i]);
	for (int round = 0; round < 20 * N; round++) {
		struct timer *x = &t[rand_r(&seed) % N];

		if (rand_r(&seed) % 4 == 0) {
			if (x->idx != TIMER_NONE)
				in--;
			timer_remove(&h, x);
			ck_assert_uint_eq(x->idx, TIMER_NONE);
		} else {
			if (x->idx == TIMER_NONE)
				in++;
			ck_assert_int_eq(timer_set(&h, x, (uint64_t)(rand_r(&seed) % 100000)), 0);
		}
		ck_assert_uint_eq(h.len, in);
	}
	check_heap(&h);
	while (timer_first(&h)) {
		struct timer *x = timer_first(&h);

		ck_assert_uint_ge(x->deadline_ms, last);
		last = x->deadline_ms;
		timer_remove(&h, x);
		check_heap(&h);
	}
	ck_assert_uint_eq(h.len, 0);
	timer_heap_free(&h);
}
END_TEST

/* Moving a timer later or earlier keeps one entry for it. */
START_TEST(test_move)
{
	struct timer a, b, c;
	struct timer_heap h = { 0 };

	timer_init(&a);
	timer_init(&b);
	timer_init(&c);
	ck_assert_int_eq(timer_set(&h, &a, 10), 0);
	ck_assert_int_eq(timer_set(&h, &b, 20), 0);
	ck_assert_int_eq(timer_set(&h, &c, 30), 0);
	ck_assert_ptr_eq(timer_first(&h), &a);
	ck_assert_int_eq(timer_set(&h, &a, 40), 0);
	ck_assert_uint_eq(h.len, 3);
	ck_assert_ptr_eq(timer_first(&h), &b);
	ck_assert_int_eq(timer_set(&h, &c, 5), 0);
	ck_assert_ptr_eq(timer_first(&h), &c);
	check_heap(&h);
	timer_heap_free(&h);
}
END_TEST

START_TEST(test_clock_moves_forward)
{
	uint64_t a = timer_now_ms(), b = timer_now_ms();

	ck_assert_uint_ge(b, a);
	ck_assert_uint_gt(a, 0);
}
END_TEST

static Suite *
timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("heap");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_order_under_churn);
	tcase_add_test(tc, test_move);
	tcase_add_test(tc, test_clock_moves_forward);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(timer_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
