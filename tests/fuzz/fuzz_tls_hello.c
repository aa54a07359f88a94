/* tls_hello_parse() reads the first bytes of any client of an SNI-routing
 * forward endpoint; tls_hello_name_match() compares what it found with the
 * configured routes.
 *
 * The first input byte picks the mode:
 *   0x00-0x3F, 0xC0-0xFF  the rest is the peeked input, as is;
 *   0x40-0x7F             the rest is a handshake message, wrapped here in
 *                         records of (byte & 0x3F) + 1 bytes (0x7F: 16384),
 *                         to reach fragmentation and the record limit;
 *   0x80-0xBF             the rest is "pattern\0name" for the matcher.
 * Properties: no crash, leak or UB; the parse is deterministic and reads
 * only len bytes; each status sets what the header promises (need in
 * (len, TLS_HELLO_INPUT_MAX], a known reason, ...); a parsed server_name is
 * a lower-case DNS name by this file's own rules, and every ALPN name lies
 * inside the hello; no prefix gets an answer that contradicts the whole
 * input's, and a need is exact; bytes after the hello change nothing;
 * tls_hello_name_valid() and tls_hello_name_match() agree with a model. */
#include <stdbool.h>

#include "fuzz.h"
#include "tls_hello.h"

static enum tls_hello_status
parse_exact(const uint8_t *data, size_t len, struct tls_hello *h)
{
	uint8_t *copy = malloc(len ? len : 1);
	enum tls_hello_status st;

	if (!copy)
		abort();
	if (len)
		memcpy(copy, data, len);
	st = tls_hello_parse(copy, len, h);
	free(copy);
	return st;
}

/* ---------------------------------------------------------------- the model */

static bool
model_label_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_';
}

/* The rules of tls_hello.h, written label by label. */
static bool
model_name_valid(const char *s, size_t n)
{
	size_t start = 0;
	bool last_numeric = false;

	if (n < 1 || n > TLS_HELLO_NAME_MAX)
		return false;
	while (start <= n) {
		const char *dot = memchr(s + start, '.', n - start);
		size_t end = dot ? (size_t)(dot - s) : n, ll = end - start;

		if (ll < 1 || ll > 63 || s[start] == '-' || s[end - 1] == '-')
			return false;
		last_numeric = true;
		for (size_t i = start; i < end; i++) {
			if (!model_label_char(s[i]))
				return false;
			if (s[i] < '0' || s[i] > '9')
				last_numeric = false;
		}
		if (!dot)
			break;
		start = end + 1;
	}
	return !last_numeric;
}

static char
lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch + 32) : ch;
}

static bool
model_equal(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

static bool
model_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t first;

	if (!model_name_valid(s, sn))
		return false;
	if (pn >= 2 && p[0] == '*' && p[1] == '.') {
		if (!model_name_valid(p + 2, pn - 2))
			return false;
		for (first = 0; first < sn && s[first] != '.'; first++)
			;
		return first < sn && sn - first - 1 == pn - 2 && model_equal(p + 2, s + first + 1, pn - 2);
	}
	return model_name_valid(p, pn) && pn == sn && model_equal(p, s, sn);
}

static void
match_mode(const uint8_t *data, size_t size)
{
	char *p = fuzz_strdup(data, size);
	size_t pn = strlen(p);
	const char *s = pn < size ? p + pn + 1 : p + pn;
	size_t sn = strlen(s);

	FUZZ_ASSERT(tls_hello_name_valid(p, pn) == model_name_valid(p, pn));
	FUZZ_ASSERT(tls_hello_name_valid(s, sn) == model_name_valid(s, sn));
	FUZZ_ASSERT(tls_hello_name_match(p, s) == model_match(p, pn, s, sn));
	FUZZ_ASSERT(tls_hello_pattern_valid(p) ==
		    (pn >= 2 && p[0] == '*' && p[1] == '.' ? model_name_valid(p + 2, pn - 2)
							    : model_name_valid(p, pn)));
	free(p);
}

/* ---------------------------------------------------------------- parse */

static void
check_result(const uint8_t *buf, size_t len, enum tls_hello_status st, const struct tls_hello *h)
{
	/* The first record's type and version bytes alone decide NOT_TLS,
	 * as soon as each arrives. */
	bool foreign = (len >= 1 && buf[0] != 22) || (len >= 2 && buf[1] != 3) || (len >= 3 && buf[2] > 4);

	FUZZ_ASSERT((st == TLS_HELLO_NOT_TLS) == foreign);
	switch (st) {
	case TLS_HELLO_NEED_MORE:
		FUZZ_ASSERT(h->need > len && h->need <= TLS_HELLO_INPUT_MAX);
		FUZZ_ASSERT(h->error == TLS_HELLO_E_NONE);
		FUZZ_ASSERT(len < TLS_HELLO_INPUT_MAX);
		return;
	case TLS_HELLO_NOT_TLS:
		FUZZ_ASSERT(h->error == TLS_HELLO_E_NONE);
		return;
	case TLS_HELLO_MALFORMED:
		FUZZ_ASSERT(h->error > TLS_HELLO_E_NONE && h->error < TLS_HELLO_E_COUNT);
		FUZZ_ASSERT(strcmp(tls_hello_strerror(h->error), "unknown error") != 0);
		return;
	case TLS_HELLO_OK:
		break;
	default:
		FUZZ_ASSERT(!"unknown status");
	}
	FUZZ_ASSERT(h->error == TLS_HELLO_E_NONE);
	FUZZ_ASSERT(h->end <= len && h->end <= TLS_HELLO_INPUT_MAX);
	FUZZ_ASSERT(h->records >= 1 && h->records <= TLS_HELLO_RECORDS_MAX);
	FUZZ_ASSERT(h->end >= 5 * h->records + 4 + 41);
	FUZZ_ASSERT(h->legacy_version >> 8 == 3);
	FUZZ_ASSERT(h->server_name[TLS_HELLO_NAME_MAX] == '\0');
	FUZZ_ASSERT(strlen(h->server_name) == h->server_name_len);
	if (h->has_server_name) {
		FUZZ_ASSERT(model_name_valid(h->server_name, h->server_name_len));
		for (size_t i = 0; i < h->server_name_len; i++)
			FUZZ_ASSERT(h->server_name[i] < 'A' || h->server_name[i] > 'Z');
		/* What a route for this name would be. */
		FUZZ_ASSERT(tls_hello_name_match(h->server_name, h->server_name));
	} else {
		FUZZ_ASSERT(h->server_name_len == 0);
	}
	FUZZ_ASSERT(h->alpn_count <= TLS_HELLO_ALPN_MAX);
	if (!h->has_alpn)
		FUZZ_ASSERT(h->alpn_count == 0 && !h->alpn_partial);
	if (h->has_alpn && h->alpn_count == 0)
		FUZZ_ASSERT(h->alpn_partial);
	for (unsigned i = 0; i < h->alpn_count; i++) {
		FUZZ_ASSERT(h->alpn[i].len >= 1);
		FUZZ_ASSERT(h->alpn[i].off >= 5 + 4 + 41);
		FUZZ_ASSERT((size_t)h->alpn[i].off + h->alpn[i].len <= h->end);
		/* Names do not overlap, and keep the client's order. */
		if (i > 0)
			FUZZ_ASSERT(h->alpn[i].off > h->alpn[i - 1].off + h->alpn[i - 1].len);
	}
}

/* The answer for a prefix of k bytes against the whole's; the need of a
 * prefix is exact: one byte short of it, the answer is the same. */
static void
check_prefix(const uint8_t *buf, size_t k, enum tls_hello_status wst, const struct tls_hello *whole,
	     size_t len)
{
	struct tls_hello h, again;
	enum tls_hello_status st = parse_exact(buf, k, &h);

	check_result(buf, k, st, &h);
	if (st == TLS_HELLO_NEED_MORE) {
		if (wst != TLS_HELLO_NEED_MORE)
			FUZZ_ASSERT(h.need <= len);
		if (wst == TLS_HELLO_OK)
			FUZZ_ASSERT(h.need <= whole->end);
		if (h.need - 1 > k && h.need - 1 <= len) {
			FUZZ_ASSERT(parse_exact(buf, h.need - 1, &again) == TLS_HELLO_NEED_MORE);
			FUZZ_ASSERT(again.need == h.need);
		}
		return;
	}
	FUZZ_ASSERT(st == wst);
	FUZZ_ASSERT(memcmp(&h, whole, sizeof(h)) == 0);
}

static void
parse_mode(const uint8_t *buf, size_t len)
{
	static struct tls_hello h, again;
	enum tls_hello_status st = parse_exact(buf, len, &h);

	check_result(buf, len, st, &h);
	FUZZ_ASSERT(parse_exact(buf, len, &again) == st);
	FUZZ_ASSERT(memcmp(&h, &again, sizeof(h)) == 0);

	for (size_t k = 0; k < len && k < 16; k++)
		check_prefix(buf, k, st, &h, len);
	for (size_t i = 1; i < 8; i++)
		check_prefix(buf, len * i / 8, st, &h, len);
	if (st == TLS_HELLO_OK) {
		check_prefix(buf, h.end - 1, st, &h, len);
		/* Bytes after the hello are never looked at. */
		FUZZ_ASSERT(parse_exact(buf, h.end, &again) == TLS_HELLO_OK);
		FUZZ_ASSERT(memcmp(&h, &again, sizeof(h)) == 0);
	}
}

static void
wrap_mode(uint8_t sel, const uint8_t *msg, size_t n)
{
	size_t frag = (sel & 0x3F) == 0x3F ? 16384 : (size_t)(sel & 0x3F) + 1;
	size_t records = n ? (n + frag - 1) / frag : 0;
	uint8_t *out = malloc(n + 5 * records + 1);
	size_t o = 0;

	if (!out)
		abort();
	for (size_t p = 0; p < n; p += frag) {
		size_t k = n - p < frag ? n - p : frag;

		out[o++] = 22;
		out[o++] = 3;
		out[o++] = p == 0 ? 1 : 3;
		out[o++] = (uint8_t)(k >> 8);
		out[o++] = (uint8_t)k;
		memcpy(out + o, msg + p, k);
		o += k;
	}
	parse_mode(out, o);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	switch (data[0] & 0xC0) {
	case 0x40:
		wrap_mode(data[0], data + 1, size - 1);
		break;
	case 0x80:
		match_mode(data + 1, size - 1);
		break;
	default:
		parse_mode(data + 1, size - 1);
	}
	return 0;
}
