#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "builtin.h"

/* Long enough for a fill of four periods at any offset inside one period. */
#define REF_LEN (6 * CHARGEN_PERIOD)

static uint8_t ref[REF_LEN];

/* The stream exactly as RFC 864 words it, independent of the code under
 * test: line N holds printing characters (0+N mod 95) .. (71+N mod 95). */
static void
build_reference(void)
{
	size_t i = 0;

	for (unsigned line = 0; i < REF_LEN; line++) {
		for (unsigned c = 0; c < 72 && i < REF_LEN; c++)
			ref[i++] = (uint8_t)(0x20 + (line + c) % 95);
		if (i < REF_LEN)
			ref[i++] = '\r';
		if (i < REF_LEN)
			ref[i++] = '\n';
	}
}

static void
assert_same(const uint8_t *got, const uint8_t *want, size_t len, const char *what)
{
	for (size_t i = 0; i < len; i++)
		ck_assert_msg(got[i] == want[i], "%s: byte %zu is 0x%02x, want 0x%02x", what, i,
			      got[i], want[i]);
}

static void
get_line(uint8_t *line, unsigned n)
{
	chargen_fill(line, CHARGEN_LINE, (uint64_t)n * CHARGEN_LINE);
}

START_TEST(chargen_first_lines)
{
	static const char line0[] =
		" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n";
	static const char line1[] =
		"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n";
	uint8_t buf[2 * CHARGEN_LINE];

	ck_assert_uint_eq(sizeof(line0) - 1, CHARGEN_LINE);
	chargen_fill(buf, sizeof(buf), 0);
	ck_assert_mem_eq(buf, line0, CHARGEN_LINE);
	ck_assert_mem_eq(buf + CHARGEN_LINE, line1, CHARGEN_LINE);

	ck_assert_int_eq(buf[0], ' ');
	ck_assert_int_eq(buf[71], 'g');
	ck_assert_int_eq(buf[72], '\r');
	ck_assert_int_eq(buf[73], '\n');
	ck_assert_int_eq(buf[CHARGEN_LINE + 0], '!');
	ck_assert_int_eq(buf[CHARGEN_LINE + 71], 'h');
	ck_assert_int_eq(buf[CHARGEN_LINE + 72], '\r');
	ck_assert_int_eq(buf[CHARGEN_LINE + 73], '\n');
}
END_TEST

START_TEST(chargen_wraps_and_repeats)
{
	uint8_t l0[CHARGEN_LINE], l94[CHARGEN_LINE], l95[CHARGEN_LINE], l96[CHARGEN_LINE];
	uint8_t l1[CHARGEN_LINE];

	get_line(l0, 0);
	get_line(l1, 1);
	get_line(l94, 94);
	get_line(l95, 95);
	get_line(l96, 96);

	/* Line 94 starts at the last printing character and wraps to space. */
	ck_assert_int_eq(l94[0], '~');
	ck_assert_int_eq(l94[1], ' ');
	ck_assert_int_eq(l94[71], 'f');
	ck_assert_int_eq(l94[72], '\r');
	ck_assert_int_eq(l94[73], '\n');

	ck_assert_mem_eq(l95, l0, CHARGEN_LINE);
	ck_assert_mem_eq(l96, l1, CHARGEN_LINE);
	ck_assert_int_eq(CHARGEN_PERIOD, 7030);
}
END_TEST

START_TEST(chargen_only_printing_and_crlf)
{
	static uint8_t buf[3 * CHARGEN_PERIOD + 11];

	chargen_fill(buf, sizeof(buf), 12345);
	for (size_t i = 0; i < sizeof(buf); i++)
		ck_assert_msg((buf[i] >= 0x20 && buf[i] <= 0x7e) || buf[i] == '\r' ||
			      buf[i] == '\n', "byte %zu is 0x%02x", i, buf[i]);
}
END_TEST

START_TEST(chargen_whole_reference)
{
	static uint8_t buf[REF_LEN];

	build_reference();
	chargen_fill(buf, sizeof(buf), 0);
	assert_same(buf, ref, sizeof(buf), "offset 0");
}
END_TEST

static const uint64_t fill_offsets[] = {
	0, 1, 71, 72, 73, 74, 75, 147, 1000, 3517, CHARGEN_PERIOD - 74, CHARGEN_PERIOD - 1,
};

static const size_t fill_lengths[] = {
	0, 1, 2, 73, 74, 75, 512, 1024, CHARGEN_PERIOD - 1, CHARGEN_PERIOD, CHARGEN_PERIOD + 1,
	2 * CHARGEN_PERIOD + 37, 4 * CHARGEN_PERIOD,
};

#define N_OFFSETS (sizeof(fill_offsets) / sizeof(fill_offsets[0]))
#define N_LENGTHS (sizeof(fill_lengths) / sizeof(fill_lengths[0]))

/* Every offset and length against a slice of the reference, with canaries
 * on both sides to catch writes outside [0, len). */
START_TEST(chargen_slices)
{
	uint64_t off = fill_offsets[_i / N_LENGTHS];
	size_t len = fill_lengths[_i % N_LENGTHS];
	uint8_t *buf = malloc(len + 16);
	char what[64];

	ck_assert_ptr_nonnull(buf);
	build_reference();
	memset(buf, 0xA5, len + 16);
	chargen_fill(buf + 8, len, off);
	snprintf(what, sizeof(what), "offset %llu len %zu", (unsigned long long)off, len);
	assert_same(buf + 8, ref + off, len, what);
	for (size_t i = 0; i < 8; i++) {
		ck_assert_msg(buf[i] == 0xA5, "%s: wrote before buf", what);
		ck_assert_msg(buf[8 + len + i] == 0xA5, "%s: wrote past len", what);
	}
	free(buf);
}
END_TEST

START_TEST(chargen_offset_beyond_period)
{
	static const uint64_t offs[] = {
		CHARGEN_PERIOD, CHARGEN_PERIOD + 5, 7 * (uint64_t)CHARGEN_PERIOD + 1234,
		(uint64_t)1 << 40, UINT64_MAX,
	};
	uint8_t buf[2 * CHARGEN_LINE + 3];

	build_reference();
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		char what[64];

		chargen_fill(buf, sizeof(buf), offs[k]);
		snprintf(what, sizeof(what), "offset %llu", (unsigned long long)offs[k]);
		assert_same(buf, ref + offs[k] % CHARGEN_PERIOD, sizeof(buf), what);
	}
	/* Cross-check the modulus the test relies on (worked out outside C). */
	ck_assert_uint_eq(UINT64_MAX % CHARGEN_PERIOD, 1935);
}
END_TEST

START_TEST(time_anchors)
{
	ck_assert_uint_eq(rfc868_time(0), 2208988800u);                 /* 1970-01-01 */
	ck_assert_uint_eq(rfc868_time(189302400), 2398291200u);         /* 1976-01-01 */
	ck_assert_uint_eq(rfc868_time(420595200), 2629584000u);         /* 1983-05-01 */
	ck_assert_uint_eq(rfc868_time(-2208988800LL), 0);               /* 1900-01-01 */
	ck_assert_uint_eq(rfc868_time(-1), 2208988799u);
}
END_TEST

START_TEST(time_wraps_in_2036)
{
	/* 2036-02-07 06:28:16 UTC is 2^32 seconds after 1900. */
	ck_assert_uint_eq(rfc868_time(2085978495), 0xFFFFFFFFu);
	ck_assert_uint_eq(rfc868_time(2085978496), 0);
	ck_assert_uint_eq(rfc868_time(2085978497), 1);
	ck_assert_uint_eq(rfc868_time(2085978496 + 2208988800LL), 2208988800u);
}
END_TEST

static void
tz_utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

/* 1982-02-22 17:37:43 UTC, RFC 867's example moment. */
#define RFC867_T ((time_t)383247463)

START_TEST(daytime_default)
{
	char buf[128];
	const char *want = "Monday, February 22, 1982 17:37:43-UTC\r\n";
	size_t n = daytime_format(buf, sizeof(buf), DAYTIME_DEFAULT_FORMAT, RFC867_T);

	ck_assert_uint_eq(n, strlen(want));
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(buf[n - 2], '\r');
	ck_assert_int_eq(buf[n - 1], '\n');
}
END_TEST

START_TEST(daytime_local_time)
{
	char buf[128];

	/* A POSIX TZ string needs no tzdata: UTC-8, named PST. */
	setenv("TZ", "PST8", 1);
	tzset();
	ck_assert_uint_gt(daytime_format(buf, sizeof(buf), DAYTIME_DEFAULT_FORMAT, RFC867_T), 0);
	ck_assert_str_eq(buf, "Monday, February 22, 1982 09:37:43-PST\r\n");
}
END_TEST

START_TEST(daytime_custom)
{
	char buf[64];

	ck_assert_uint_eq(daytime_format(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", RFC867_T), 22);
	ck_assert_str_eq(buf, "1982-02-22T17:37:43Z\r\n");
	ck_assert_uint_eq(daytime_format(buf, sizeof(buf), "%d %b %y %H:%M:%S %Z", RFC867_T), 24);
	ck_assert_str_eq(buf, "22 Feb 82 17:37:43 UTC\r\n");
	ck_assert_uint_eq(daytime_format(buf, sizeof(buf), "plain", RFC867_T), 7);
	ck_assert_str_eq(buf, "plain\r\n");
}
END_TEST

START_TEST(daytime_too_small)
{
	/* "1982" + CRLF + NUL needs 7 bytes. */
	char buf[16];

	ck_assert_uint_eq(daytime_format(buf, 7, "%Y", RFC867_T), 6);
	ck_assert_str_eq(buf, "1982\r\n");
	ck_assert_uint_eq(daytime_format(buf, 6, "%Y", RFC867_T), 0);
	ck_assert_uint_eq(daytime_format(buf, 5, "%Y", RFC867_T), 0);
	ck_assert_uint_eq(daytime_format(buf, 2, "%Y", RFC867_T), 0);
	ck_assert_uint_eq(daytime_format(buf, 0, "%Y", RFC867_T), 0);
	ck_assert_uint_eq(daytime_format(buf, 16, DAYTIME_DEFAULT_FORMAT, RFC867_T), 0);
}
END_TEST

START_TEST(daytime_empty)
{
	char buf[64];

	ck_assert_uint_eq(daytime_format(buf, sizeof(buf), "", RFC867_T), 0);
}
END_TEST

START_TEST(daytime_valid)
{
	char long_fmt[256];

	ck_assert(daytime_format_valid(DAYTIME_DEFAULT_FORMAT));
	ck_assert(daytime_format_valid("%Y-%m-%dT%H:%M:%SZ"));
	ck_assert(daytime_format_valid("%c"));
	ck_assert(daytime_format_valid("x"));
	ck_assert(daytime_format_valid("%%"));

	ck_assert(!daytime_format_valid(""));
	ck_assert(!daytime_format_valid("%n"));
	ck_assert(!daytime_format_valid("%t"));
	ck_assert(!daytime_format_valid("%Y%n"));
	ck_assert(!daytime_format_valid("a\tb"));
	ck_assert(!daytime_format_valid("a\r\n"));
	ck_assert(!daytime_format_valid("caf\xc3\xa9 %H"));
	ck_assert(!daytime_format_valid("\x7f"));
	ck_assert(!daytime_format_valid(NULL));

	memset(long_fmt, 'x', 200);
	long_fmt[200] = '\0';
	ck_assert(daytime_format_valid(long_fmt));
	long_fmt[200] = 'x';
	long_fmt[201] = '\0';
	ck_assert(!daytime_format_valid(long_fmt));
	/* The expansion counts, not the format's own length: 40 weekday
	 * names are at least 240 bytes from an 80-byte format. */
	long_fmt[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(long_fmt, "%A");
	ck_assert(!daytime_format_valid(long_fmt));
	long_fmt[2 * 20] = '\0';
	ck_assert(daytime_format_valid(long_fmt));
}
END_TEST

static Suite *
builtin_suite(void)
{
	Suite *s = suite_create("builtin");
	TCase *tc;

	tc = tcase_create("chargen");
	tcase_add_test(tc, chargen_first_lines);
	tcase_add_test(tc, chargen_wraps_and_repeats);
	tcase_add_test(tc, chargen_only_printing_and_crlf);
	tcase_add_test(tc, chargen_whole_reference);
	tcase_add_loop_test(tc, chargen_slices, 0, (int)(N_OFFSETS * N_LENGTHS));
	tcase_add_test(tc, chargen_offset_beyond_period);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_add_test(tc, time_anchors);
	tcase_add_test(tc, time_wraps_in_2036);
	suite_add_tcase(s, tc);

	tc = tcase_create("daytime");
	tcase_add_checked_fixture(tc, tz_utc, NULL);
	tcase_add_test(tc, daytime_default);
	tcase_add_test(tc, daytime_local_time);
	tcase_add_test(tc, daytime_custom);
	tcase_add_test(tc, daytime_too_small);
	tcase_add_test(tc, daytime_empty);
	tcase_add_test(tc, daytime_valid);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(builtin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
