/* tls_hello: real ClientHellos of openssl, gnutls-cli and curl
 * (tests/unit/data, captured by capture-client-hellos.sh), every prefix of
 * them, each of them corrupted one field at a time, spread over records of
 * many sizes; hellos at the size limits; the route pattern matcher. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_hello.h"

#ifndef TLS_HELLO_DATA
#error "TLS_HELLO_DATA: the directory of the captured ClientHellos"
#endif

#define BUF_MAX (2 * TLS_HELLO_INPUT_MAX)

/* ------------------------------------------------------------ byte buffers */

struct bytes {
	size_t n;
	uint8_t b[BUF_MAX];
};

static void
put(struct bytes *d, const void *p, size_t n)
{
	ck_assert_uint_le(d->n + n, sizeof(d->b));
	memcpy(d->b + d->n, p, n);
	d->n += n;
}

static void
put8(struct bytes *d, unsigned v)
{
	uint8_t b = (uint8_t)v;

	put(d, &b, 1);
}

static void
put16(struct bytes *d, unsigned v)
{
	put8(d, v >> 8);
	put8(d, v);
}

static void
put24(struct bytes *d, unsigned v)
{
	put8(d, v >> 16);
	put16(d, v);
}

static void
set16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t
get16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* Insert n bytes at off (p NULL: zeros), or delete -n bytes when n < 0. */
static void
splice_bytes(struct bytes *d, size_t off, const void *p, long n)
{
	ck_assert_uint_le(off, d->n);
	if (n < 0) {
		ck_assert_uint_le(off + (size_t)-n, d->n);
		memmove(d->b + off, d->b + off + (size_t)-n, d->n - off - (size_t)-n);
		d->n -= (size_t)-n;
		return;
	}
	ck_assert_uint_le(d->n + (size_t)n, sizeof(d->b));
	memmove(d->b + off + n, d->b + off, d->n - off);
	if (p)
		memcpy(d->b + off, p, (size_t)n);
	else
		memset(d->b + off, 0, (size_t)n);
	d->n += (size_t)n;
}

/* ------------------------------------------------------------ records */

/* The handshake bytes of a sequence of records (the test's own, simple
 * reading: it trusts its input). */
static void
unwrap(const struct bytes *in, struct bytes *msg)
{
	msg->n = 0;
	for (size_t p = 0; p < in->n;) {
		size_t rlen = get16(in->b + p + 3);

		ck_assert_uint_le(p + 5 + rlen, in->n);
		put(msg, in->b + p + 5, rlen);
		p += 5 + rlen;
	}
}

/* Records of at most frag bytes holding msg; the first record says 3.1,
 * as clients do for compatibility, the others 3.3. */
static void
wrap(const struct bytes *msg, size_t frag, struct bytes *out)
{
	out->n = 0;
	for (size_t p = 0; p < msg->n; p += frag) {
		size_t k = msg->n - p < frag ? msg->n - p : frag;

		put8(out, 22);
		put16(out, p == 0 ? 0x0301 : 0x0303);
		put16(out, (unsigned)k);
		put(out, msg->b + p, k);
	}
}

/* Where the fields of a ClientHello message are (offsets into it). */
struct layout {
	size_t sid, cs, comp, exts;     /* each at its length field */
	size_t next;
	size_t ext[64];                 /* each extension's type field */
};

static void
layout(const struct bytes *m, struct layout *l)
{
	size_t p;

	l->sid = 4 + 2 + 32;
	l->cs = l->sid + 1 + m->b[l->sid];
	l->comp = l->cs + 2 + get16(m->b + l->cs);
	l->exts = l->comp + 1 + m->b[l->comp];
	l->next = 0;
	for (p = l->exts + 2; p < m->n; p += 4 + get16(m->b + p + 2)) {
		ck_assert_uint_lt(l->next, 64);
		l->ext[l->next++] = p;
	}
	ck_assert_uint_eq(p, m->n);
}

/* The extension of that type, or -1. */
static long
find_ext(const struct bytes *m, const struct layout *l, unsigned type)
{
	for (size_t i = 0; i < l->next; i++)
		if (get16(m->b + l->ext[i]) == type)
			return (long)l->ext[i];
	return -1;
}

/* ------------------------------------------------------------ parsing */

/* Parse from a heap copy of exactly n bytes, so ASan sees a read past
 * the end; *h is poisoned first, to see what the parse set. */
static enum tls_hello_status
parse_n(const uint8_t *p, size_t n, struct tls_hello *h)
{
	uint8_t *copy = malloc(n ? n : 1);
	enum tls_hello_status st;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, p, n);
	memset(h, 0xA5, sizeof(*h));
	st = tls_hello_parse(copy, n, h);
	free(copy);
	return st;
}

static enum tls_hello_status
parse(const struct bytes *in, struct tls_hello *h)
{
	return parse_n(in->b, in->n, h);
}

static const char *
status_name(enum tls_hello_status st)
{
	switch (st) {
	case TLS_HELLO_OK:
		return "OK";
	case TLS_HELLO_NEED_MORE:
		return "NEED_MORE";
	case TLS_HELLO_NOT_TLS:
		return "NOT_TLS";
	case TLS_HELLO_MALFORMED:
		return "MALFORMED";
	}
	return "?";
}

/* Every prefix of in: NEED_MORE with a need in (k, n], or exactly the
 * whole input's verdict; and a need is exact: all lengths from k up to
 * need - 1 get NEED_MORE with that same need. */
static void
check_prefixes(const struct bytes *in)
{
	struct tls_hello whole, h;
	enum tls_hello_status wst = parse(in, &whole), st;
	size_t prev_need = 0;

	for (size_t k = 0; k < in->n; k++) {
		st = parse_n(in->b, k, &h);
		if (k < prev_need) {
			ck_assert_msg(st == TLS_HELLO_NEED_MORE && h.need == prev_need,
				      "prefix %zu of %zu: %s need %zu, not NEED_MORE need %zu as prefix %zu said",
				      k, in->n, status_name(st), h.need, prev_need, k - 1);
			continue;
		}
		if (st == TLS_HELLO_NEED_MORE) {
			ck_assert_msg(h.need > k && h.need <= TLS_HELLO_INPUT_MAX,
				      "prefix %zu: need %zu", k, h.need);
			/* The whole got further, so it had what was needed. */
			if (wst != TLS_HELLO_NEED_MORE)
				ck_assert_msg(h.need <= in->n, "prefix %zu: need %zu, the whole is %zu", k,
					      h.need, in->n);
			if (wst == TLS_HELLO_OK)
				ck_assert_uint_le(h.need, whole.end);
			prev_need = h.need;
			continue;
		}
		ck_assert_msg(st == wst, "prefix %zu of %zu: %s, the whole: %s", k, in->n, status_name(st),
			      status_name(wst));
		ck_assert_int_eq(h.error, whole.error);
		if (st == TLS_HELLO_OK)
			ck_assert_mem_eq(&h, &whole, sizeof(h));
		prev_need = 0;
	}
}

/* ------------------------------------------------------------ the captured hellos */

struct vector {
	const char *file;
	unsigned records;
	const char *server_name;        /* NULL: no SNI */
	const char *alpn[3];            /* first names, NULL-ended */
	unsigned alpn_count;
	bool alpn_partial;
	bool tls13;
};

static const struct vector vectors[] = {
	/* -servername www.Example.COM: lower-cased */
	{ "openssl-sni-alpn.bin", 1, "www.example.com", { "h2", "http/1.1" }, 2, false, true },
	{ "openssl-tls12.bin", 1, "tls12.example.org", { NULL }, 0, false, false },
	{ "openssl-nosni.bin", 1, NULL, { NULL }, 0, false, true },
	/* -max_send_frag 512 and 42 ALPN names: two records, alpn[] full */
	{ "openssl-fragmented.bin", 2, "frag.example.net", { "h2", "http/1.1", "proto-001" }, 16, true, true },
	{ "gnutls-sni-alpn.bin", 1, "gnutls.example.com", { "h2", "http/1.1" }, 2, false, true },
	{ "curl-sni.bin", 1, "curl.example.com", { "h2", "http/1.1" }, 2, false, true },
};
#define NVECTORS (sizeof(vectors) / sizeof(vectors[0]))

static void
load(const char *file, struct bytes *d)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", TLS_HELLO_DATA, file);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	d->n = fread(d->b, 1, sizeof(d->b), f);
	ck_assert_int_eq(ferror(f), 0);
	fclose(f);
	ck_assert_uint_gt(d->n, 0);
}

/* All ALPN names of the hello in the records in, by the test's own walk;
 * returns how many. */
static size_t
alpn_names(const struct bytes *in, char names[][256], size_t max)
{
	static struct bytes msg;
	struct layout l;
	size_t n = 0, p, end;
	long at;

	unwrap(in, &msg);
	layout(&msg, &l);
	at = find_ext(&msg, &l, 16);
	if (at < 0)
		return 0;
	end = (size_t)at + 4 + get16(msg.b + at + 2);
	for (p = (size_t)at + 6; p < end; p += 1 + msg.b[p]) {
		ck_assert_uint_lt(n, max);
		memcpy(names[n], msg.b + p + 1, msg.b[p]);
		names[n][msg.b[p]] = '\0';
		n++;
	}
	return n;
}

/* The result for a vector: what the table says, and ALPN names that are
 * the hello's own, in order, each inside the input. When records may cut
 * names, the names cut are left out, and alpn_partial says so. */
static void
check_vector_result(const struct vector *v, const struct bytes *in, const struct tls_hello *h,
		    bool names_may_split)
{
	static char names[512][256];
	size_t total = alpn_names(in, names, 512), k = 0;
	size_t kept = total < TLS_HELLO_ALPN_MAX ? total : TLS_HELLO_ALPN_MAX;

	if (v->server_name) {
		ck_assert(h->has_server_name);
		ck_assert_str_eq(h->server_name, v->server_name);
		ck_assert_uint_eq(h->server_name_len, strlen(v->server_name));
	} else {
		ck_assert(!h->has_server_name);
		ck_assert_str_eq(h->server_name, "");
	}
	ck_assert_int_eq(h->tls13, v->tls13);
	ck_assert_uint_eq(h->legacy_version, 0x0303);
	ck_assert_int_eq(h->has_alpn, v->alpn_count > 0);
	ck_assert_uint_le(h->alpn_count, kept);
	for (unsigned i = 0; i < h->alpn_count; i++) {
		ck_assert_uint_le(h->alpn[i].off + h->alpn[i].len, h->end);
		while (k < total && (strlen(names[k]) != h->alpn[i].len ||
				     memcmp(in->b + h->alpn[i].off, names[k], h->alpn[i].len) != 0))
			k++;
		ck_assert_msg(k < total, "alpn[%u] '%.*s' is not one of the hello's names, in order", i,
			      (int)h->alpn[i].len, (const char *)in->b + h->alpn[i].off);
		k++;
	}
	if (h->alpn_count < kept)
		ck_assert(h->alpn_partial);
	if (names_may_split)
		return;
	ck_assert_uint_eq(h->alpn_count, v->alpn_count);
	ck_assert_int_eq(h->alpn_partial, v->alpn_partial);
	for (k = 0; k < 3 && v->alpn[k]; k++) {
		ck_assert_uint_eq(h->alpn[k].len, strlen(v->alpn[k]));
		ck_assert_mem_eq(in->b + h->alpn[k].off, v->alpn[k], h->alpn[k].len);
	}
}

START_TEST(test_vector)
{
	const struct vector *v = &vectors[_i];
	static struct bytes in;
	struct tls_hello h;

	load(v->file, &in);
	ck_assert_int_eq(parse(&in, &h), TLS_HELLO_OK);
	ck_assert_int_eq(h.error, TLS_HELLO_E_NONE);
	ck_assert_uint_eq(h.end, in.n);
	ck_assert_uint_eq(h.records, v->records);
	check_vector_result(v, &in, &h, false);
}
END_TEST

/* Every truncation asks for more, never calls it malformed. */
START_TEST(test_vector_prefixes)
{
	static struct bytes in;
	struct tls_hello h;

	load(vectors[_i].file, &in);
	for (size_t k = 0; k < in.n; k++) {
		ck_assert_msg(parse_n(in.b, k, &h) == TLS_HELLO_NEED_MORE, "%s cut at %zu: %s (%s)",
			      vectors[_i].file, k, status_name(parse_n(in.b, k, &h)),
			      tls_hello_strerror(h.error));
		ck_assert_uint_gt(h.need, k);
		ck_assert_uint_le(h.need, in.n);
	}
	check_prefixes(&in);
}
END_TEST

/* What follows the hello (early data, the next flight, garbage) is not
 * looked at. */
START_TEST(test_vector_trailing)
{
	static struct bytes in;
	struct tls_hello h, more;
	size_t n;

	load(vectors[_i].file, &in);
	n = in.n;
	ck_assert_int_eq(parse(&in, &h), TLS_HELLO_OK);
	put(&in, "\x17\x03\x03\xff\xff garbage", 14);
	ck_assert_int_eq(parse(&in, &more), TLS_HELLO_OK);
	ck_assert_mem_eq(&h, &more, sizeof(h));
	ck_assert_uint_eq(more.end, n);
}
END_TEST

/* The same hello over records of many sizes: the same answer, bar ALPN
 * names cut by a record boundary, up to the record limit. */
START_TEST(test_vector_fragmented)
{
	static const size_t frags[] = { 1, 2, 3, 5, 7, 64, 100, 255, 511, 16384 };
	const struct vector *v = &vectors[_i];
	static struct bytes in, msg, out;
	struct tls_hello h;

	load(v->file, &in);
	unwrap(&in, &msg);
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		size_t records = (msg.n + frags[i] - 1) / frags[i];
		enum tls_hello_status st;

		wrap(&msg, frags[i], &out);
		st = parse(&out, &h);
		if (records > TLS_HELLO_RECORDS_MAX) {
			ck_assert_int_eq(st, TLS_HELLO_MALFORMED);
			ck_assert_int_eq(h.error, TLS_HELLO_E_TOO_MANY_RECORDS);
			continue;
		}
		ck_assert_msg(st == TLS_HELLO_OK, "%s in %zu-byte records: %s (%s)", v->file, frags[i],
			      status_name(st), tls_hello_strerror(h.error));
		ck_assert_uint_eq(h.records, records);
		ck_assert_uint_eq(h.end, out.n);
		check_vector_result(v, &out, &h, frags[i] < 511);
		if (frags[i] == 3 && v->alpn_count > 0)
			/* "http/1.1" cannot fit in 3 bytes. */
			ck_assert(h.alpn_partial);
		if (frags[i] == 7)
			check_prefixes(&out);
	}
}
END_TEST

/* ------------------------------------------------------------ corruptions */

/* After a change of size inside the extension block. */
static void
fix_lengths(struct bytes *m, const struct layout *l)
{
	m->b[1] = (uint8_t)((m->n - 4) >> 16);
	set16(m->b + 2, m->n - 4);
	set16(m->b + l->exts, m->n - l->exts - 2);
}

/* Give extension type new data (replacing its old data, or appended as a
 * new extension when there is none); lengths are fixed up. */
static void
set_ext(struct bytes *m, unsigned type, const void *data, size_t n)
{
	struct layout l;
	long at;

	layout(m, &l);
	at = find_ext(m, &l, type);
	if (at < 0) {
		uint8_t hdr[4] = { (uint8_t)(type >> 8), (uint8_t)type, 0, 0 };

		at = (long)m->n;
		splice_bytes(m, m->n, hdr, 4);
	} else {
		splice_bytes(m, (size_t)at + 4, NULL, -(long)get16(m->b + at + 2));
	}
	splice_bytes(m, (size_t)at + 4, data, (long)n);
	set16(m->b + at + 2, n);
	fix_lengths(m, &l);
}

/* A server_name extension's data holding the given raw list entries. */
static size_t
sni_data(uint8_t *out, const uint8_t *entries, size_t n)
{
	set16(out, n);
	memcpy(out + 2, entries, n);
	return n + 2;
}

static size_t
sni_entry(uint8_t *out, unsigned type, const char *name)
{
	size_t n = strlen(name);

	out[0] = (uint8_t)type;
	set16(out + 1, n);
	memcpy(out + 3, name, n);
	return n + 3;
}

static void
set_sni_names(struct bytes *m, const char *a, const char *b)
{
	uint8_t e[1024], d[1030];
	size_t n = sni_entry(e, 0, a);

	if (b)
		n += sni_entry(e + n, 0, b);
	set_ext(m, 0, d, sni_data(d, e, n));
}

enum where { IN_MESSAGE, IN_RECORDS };

struct corruption {
	const char *what;
	enum where where;
	/* Change the message m (or, IN_RECORDS, the records r); false when
	 * the vector lacks what it changes. */
	bool (*apply)(struct bytes *m, const struct layout *l);
	enum tls_hello_error want;
};

static bool
c_hs_type(struct bytes *m, const struct layout *l)
{
	(void)l;
	m->b[0] = 2;    /* ServerHello */
	return true;
}

static bool
c_hs_too_large(struct bytes *m, const struct layout *l)
{
	(void)l;
	m->b[1] = 0;
	set16(m->b + 2, TLS_HELLO_MSG_MAX + 1);
	return true;
}

static bool
c_hs_short(struct bytes *m, const struct layout *l)
{
	(void)l;
	set16(m->b + 2, get16(m->b + 2) - 1);
	return true;
}

static bool
c_version(struct bytes *m, const struct layout *l)
{
	(void)l;
	m->b[4] = 2;
	return true;
}

static bool
c_sid_long(struct bytes *m, const struct layout *l)
{
	m->b[l->sid] = 33;
	return true;
}

static bool
c_sid_past_end(struct bytes *m, const struct layout *l)
{
	/* Cut the message right after a session id length of 32. */
	m->b[l->sid] = 32;
	m->n = l->sid + 1 + 10;
	m->b[1] = 0;
	set16(m->b + 2, m->n - 4);
	return true;
}

static bool
c_cs_odd(struct bytes *m, const struct layout *l)
{
	/* Move one byte from the cipher suites to the compression list. */
	set16(m->b + l->cs, get16(m->b + l->cs) - 1);
	m->b[l->comp - 1] = (uint8_t)(m->b[l->comp] + 1);
	return true;
}

static bool
c_cs_empty(struct bytes *m, const struct layout *l)
{
	set16(m->b + l->cs, 0);
	return true;
}

static bool
c_comp_empty(struct bytes *m, const struct layout *l)
{
	m->b[l->comp] = 0;
	return true;
}

static bool
c_exts_short(struct bytes *m, const struct layout *l)
{
	set16(m->b + l->exts, get16(m->b + l->exts) - 1);
	return true;
}

static bool
c_exts_long(struct bytes *m, const struct layout *l)
{
	set16(m->b + l->exts, get16(m->b + l->exts) + 1);
	return true;
}

static bool
c_exts_half(struct bytes *m, const struct layout *l)
{
	/* One byte where the extension block's length should be. */
	m->n = l->exts + 1;
	m->b[1] = 0;
	set16(m->b + 2, m->n - 4);
	return true;
}

static bool
c_last_ext_long(struct bytes *m, const struct layout *l)
{
	size_t last = l->ext[l->next - 1];

	set16(m->b + last + 2, get16(m->b + last + 2) + 1);
	return true;
}

static bool
c_ext_header_cut(struct bytes *m, const struct layout *l)
{
	/* Three stray bytes after the last extension: half a header. */
	splice_bytes(m, m->n, "\x00\x15\x00", 3);
	fix_lengths(m, l);
	return true;
}

static bool
c_dup_first_ext(struct bytes *m, const struct layout *l)
{
	size_t first = l->ext[0], n = 4 + get16(m->b + first + 2);
	uint8_t copy[1024];

	ck_assert_uint_le(n, sizeof(copy));
	memcpy(copy, m->b + first, n);
	splice_bytes(m, m->n, copy, (long)n);
	fix_lengths(m, l);
	return true;
}

static bool
c_dup_unknown_ext(struct bytes *m, const struct layout *l)
{
	/* Two empty GREASE-like extensions (RFC 8701 value 0x3a3a). */
	splice_bytes(m, m->n, "\x3a\x3a\x00\x00\x3a\x3a\x00\x00", 8);
	fix_lengths(m, l);
	return true;
}

static bool
c_sni_empty_ext(struct bytes *m, const struct layout *l)
{
	(void)l;
	set_ext(m, 0, NULL, 0);
	return true;
}

static bool
c_sni_empty_list(struct bytes *m, const struct layout *l)
{
	(void)l;
	set_ext(m, 0, "\x00\x00", 2);
	return true;
}

static bool
c_sni_list_long(struct bytes *m, const struct layout *l)
{
	long at = find_ext(m, l, 0);

	if (at < 0)
		return false;
	set16(m->b + at + 4, get16(m->b + at + 4) + 1);
	return true;
}

static bool
c_sni_name_long(struct bytes *m, const struct layout *l)
{
	long at = find_ext(m, l, 0);

	if (at < 0)
		return false;
	/* ext header 4, list length 2, name type 1: the name length */
	set16(m->b + at + 7, get16(m->b + at + 7) + 1);
	return true;
}

static bool
c_sni_empty_name(struct bytes *m, const struct layout *l)
{
	(void)l;
	set_ext(m, 0, "\x00\x03\x00\x00\x00", 5);
	return true;
}

static bool
c_sni_two_names(struct bytes *m, const struct layout *l)
{
	(void)l;
	set_sni_names(m, "a.example.com", "b.example.com");
	return true;
}

static bool
c_sni_same_twice(struct bytes *m, const struct layout *l)
{
	(void)l;
	set_sni_names(m, "a.example.com", "a.example.com");
	return true;
}

static bool
c_sni_bad_char(struct bytes *m, const struct layout *l)
{
	long at = find_ext(m, l, 0);

	if (at < 0)
		return false;
	m->b[at + 4 + 2 + 3] = ' ';
	return true;
}

static bool
c_sni_nul(struct bytes *m, const struct layout *l)
{
	long at = find_ext(m, l, 0);

	if (at < 0)
		return false;
	/* "evil.com\0.example.com" tricks a C-string compare. */
	m->b[at + 4 + 2 + 3 + 1] = '\0';
	return true;
}

static bool
c_sni_ip(struct bytes *m, const struct layout *l)
{
	(void)l;
	set_sni_names(m, "192.0.2.1", NULL);
	return true;
}

static bool
c_sni_trailing_dot(struct bytes *m, const struct layout *l)
{
	(void)l;
	set_sni_names(m, "www.example.com.", NULL);
	return true;
}

static bool
c_sni_type_cut(struct bytes *m, const struct layout *l)
{
	(void)l;
	/* A list holding a name type and one byte of the length. */
	set_ext(m, 0, "\x00\x02\x00\x00", 4);
	return true;
}

static bool
c_alpn_empty_name(struct bytes *m, const struct layout *l)
{
	long at = find_ext(m, l, 16);

	if (at < 0)
		return false;
	/* The first name's length: 0. The rest no longer parses as names,
	 * but the empty one is met first. */
	m->b[at + 4 + 2] = 0;
	return true;
}

static bool
c_alpn_list_long(struct bytes *m, const struct layout *l)
{
	long at = find_ext(m, l, 16);

	if (at < 0)
		return false;
	set16(m->b + at + 4, get16(m->b + at + 4) + 1);
	return true;
}

static bool
c_alpn_empty_list(struct bytes *m, const struct layout *l)
{
	(void)l;
	set_ext(m, 16, "\x00\x00", 2);
	return true;
}

static bool
c_alpn_name_past(struct bytes *m, const struct layout *l)
{
	(void)l;
	/* list of 3 bytes: "h2" and a name claiming 5 bytes */
	set_ext(m, 16, "\x00\x04\x02h2\x05", 6);
	return true;
}

static bool
c_versions_odd(struct bytes *m, const struct layout *l)
{
	(void)l;
	set_ext(m, 43, "\x03\x03\x04\x03", 4);
	return true;
}

static bool
c_versions_long(struct bytes *m, const struct layout *l)
{
	long at = find_ext(m, l, 43);

	if (at < 0)
		return false;
	m->b[at + 4] = (uint8_t)(m->b[at + 4] + 2);
	return true;
}

/* Record-level corruptions get the records in m (wrapped in 100-byte
 * records, so there are several). */
static bool
r_len_zero(struct bytes *r, const struct layout *l)
{
	(void)l;
	set16(r->b + 3, 0);
	return true;
}

static bool
r_len_over(struct bytes *r, const struct layout *l)
{
	(void)l;
	set16(r->b + 3, 16385);
	return true;
}

static bool
r_second_type(struct bytes *r, const struct layout *l)
{
	(void)l;
	r->b[105] = 21;         /* an alert */
	return true;
}

static bool
r_second_version(struct bytes *r, const struct layout *l)
{
	(void)l;
	r->b[106] = 2;
	return true;
}

static bool
r_second_len_zero(struct bytes *r, const struct layout *l)
{
	(void)l;
	set16(r->b + 108, 0);
	return true;
}

static const struct corruption corruptions[] = {
	{ "handshake type 2", IN_MESSAGE, c_hs_type, TLS_HELLO_E_NOT_CLIENT_HELLO },
	{ "message length 16385", IN_MESSAGE, c_hs_too_large, TLS_HELLO_E_TOO_LARGE },
	{ "message length one short", IN_MESSAGE, c_hs_short, TLS_HELLO_E_EXTENSIONS },
	{ "legacy_version 2.3", IN_MESSAGE, c_version, TLS_HELLO_E_VERSION },
	{ "session id 33", IN_MESSAGE, c_sid_long, TLS_HELLO_E_SESSION_ID },
	{ "session id past the end", IN_MESSAGE, c_sid_past_end, TLS_HELLO_E_TRUNCATED },
	{ "cipher suites odd", IN_MESSAGE, c_cs_odd, TLS_HELLO_E_CIPHER_SUITES },
	{ "cipher suites empty", IN_MESSAGE, c_cs_empty, TLS_HELLO_E_CIPHER_SUITES },
	{ "compression empty", IN_MESSAGE, c_comp_empty, TLS_HELLO_E_COMPRESSION },
	{ "extension block short", IN_MESSAGE, c_exts_short, TLS_HELLO_E_EXTENSIONS },
	{ "extension block long", IN_MESSAGE, c_exts_long, TLS_HELLO_E_EXTENSIONS },
	{ "extension block length cut", IN_MESSAGE, c_exts_half, TLS_HELLO_E_TRUNCATED },
	{ "last extension long", IN_MESSAGE, c_last_ext_long, TLS_HELLO_E_EXTENSION_LENGTH },
	{ "extension header cut", IN_MESSAGE, c_ext_header_cut, TLS_HELLO_E_EXTENSION_LENGTH },
	{ "first extension twice", IN_MESSAGE, c_dup_first_ext, TLS_HELLO_E_DUPLICATE_EXTENSION },
	{ "unknown extension twice", IN_MESSAGE, c_dup_unknown_ext, TLS_HELLO_E_DUPLICATE_EXTENSION },
	{ "SNI without data", IN_MESSAGE, c_sni_empty_ext, TLS_HELLO_E_SNI_LIST },
	{ "SNI empty list", IN_MESSAGE, c_sni_empty_list, TLS_HELLO_E_SNI_LIST },
	{ "SNI list long", IN_MESSAGE, c_sni_list_long, TLS_HELLO_E_SNI_LIST },
	{ "SNI name long", IN_MESSAGE, c_sni_name_long, TLS_HELLO_E_SNI_LIST },
	{ "SNI empty name", IN_MESSAGE, c_sni_empty_name, TLS_HELLO_E_SNI_EMPTY },
	{ "SNI two names", IN_MESSAGE, c_sni_two_names, TLS_HELLO_E_SNI_DUPLICATE },
	{ "SNI one name twice", IN_MESSAGE, c_sni_same_twice, TLS_HELLO_E_SNI_DUPLICATE },
	{ "SNI space", IN_MESSAGE, c_sni_bad_char, TLS_HELLO_E_SNI_NAME },
	{ "SNI NUL", IN_MESSAGE, c_sni_nul, TLS_HELLO_E_SNI_NAME },
	{ "SNI IPv4 literal", IN_MESSAGE, c_sni_ip, TLS_HELLO_E_SNI_NAME },
	{ "SNI trailing dot", IN_MESSAGE, c_sni_trailing_dot, TLS_HELLO_E_SNI_NAME },
	{ "SNI entry cut", IN_MESSAGE, c_sni_type_cut, TLS_HELLO_E_SNI_LIST },
	{ "ALPN empty name", IN_MESSAGE, c_alpn_empty_name, TLS_HELLO_E_ALPN },
	{ "ALPN list long", IN_MESSAGE, c_alpn_list_long, TLS_HELLO_E_ALPN },
	{ "ALPN empty list", IN_MESSAGE, c_alpn_empty_list, TLS_HELLO_E_ALPN },
	{ "ALPN name past list", IN_MESSAGE, c_alpn_name_past, TLS_HELLO_E_ALPN },
	{ "supported_versions odd", IN_MESSAGE, c_versions_odd, TLS_HELLO_E_SUPPORTED_VERSIONS },
	{ "supported_versions long", IN_MESSAGE, c_versions_long, TLS_HELLO_E_SUPPORTED_VERSIONS },
	{ "record length 0", IN_RECORDS, r_len_zero, TLS_HELLO_E_RECORD_LENGTH },
	{ "record length 16385", IN_RECORDS, r_len_over, TLS_HELLO_E_RECORD_LENGTH },
	{ "second record an alert", IN_RECORDS, r_second_type, TLS_HELLO_E_RECORD_TYPE },
	{ "second record version 2.x", IN_RECORDS, r_second_version, TLS_HELLO_E_RECORD_VERSION },
	{ "second record length 0", IN_RECORDS, r_second_len_zero, TLS_HELLO_E_RECORD_LENGTH },
};
#define NCORRUPTIONS (sizeof(corruptions) / sizeof(corruptions[0]))

/* Each vector with the corruption: MALFORMED for that reason, in one
 * record and in 100-byte records, and no prefix says otherwise. (One test
 * per corruption, not per pair: a fork under ASan costs more than the
 * checks.) */
START_TEST(test_corruption)
{
	const struct corruption *c = &corruptions[_i];
	static struct bytes in, msg, out;
	struct layout l;
	struct tls_hello h;
	enum tls_hello_status st;
	unsigned applied = 0;

	for (size_t v = 0; v < NVECTORS; v++) {
		load(vectors[v].file, &in);
		unwrap(&in, &msg);
		layout(&msg, &l);
		for (size_t frag = 100; frag <= 16384; frag += 16284) {
			unwrap(&in, &msg);
			if (c->where == IN_RECORDS) {
				wrap(&msg, 100, &out);
				c->apply(&out, &l);
			} else {
				if (!c->apply(&msg, &l))
					break;
				wrap(&msg, frag, &out);
			}
			applied++;
			st = parse(&out, &h);
			ck_assert_msg(st == TLS_HELLO_MALFORMED && h.error == c->want,
				      "%s, %s, %zu-byte records: %s (%s), not MALFORMED (%s)", vectors[v].file,
				      c->what, frag, status_name(st), tls_hello_strerror(h.error),
				      tls_hello_strerror(c->want));
			check_prefixes(&out);
			if (c->where == IN_RECORDS)
				break;
		}
	}
	/* Every corruption applies to at least the vectors with SNI and
	 * ALPN. */
	ck_assert_uint_ge(applied, 4);
}
END_TEST

/* The edits of set_ext() themselves make valid hellos: a test of the
 * helpers, so that the corruptions above break only what they say. */
START_TEST(test_edits_valid)
{
	static struct bytes in, msg, out;
	struct tls_hello h;
	uint8_t e[600], d[610];
	size_t n;

	load("openssl-sni-alpn.bin", &in);
	unwrap(&in, &msg);
	set_sni_names(&msg, "Other.Example.Net", NULL);
	set_ext(&msg, 16, "\x00\x09\x08http/1.1", 11);
	set_ext(&msg, 43, "\x02\x03\x03", 3);
	wrap(&msg, 16384, &out);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_OK);
	ck_assert_str_eq(h.server_name, "other.example.net");
	ck_assert_uint_eq(h.alpn_count, 1);
	ck_assert_mem_eq(out.b + h.alpn[0].off, "http/1.1", 8);
	ck_assert(!h.tls13);

	/* A name type other than host_name is skipped; the host_name after
	 * it counts. */
	n = sni_entry(e, 7, "opaque thing");
	n += sni_entry(e + n, 0, "after.example");
	set_ext(&msg, 0, d, sni_data(d, e, n));
	wrap(&msg, 16384, &out);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_OK);
	ck_assert_str_eq(h.server_name, "after.example");

	/* A longest name: 253 characters, labels of 63. */
	memset(e, 'a', 253);
	e[63] = e[127] = e[191] = '.';
	e[253] = '\0';
	set_sni_names(&msg, (const char *)e, NULL);
	wrap(&msg, 16384, &out);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_OK);
	ck_assert_uint_eq(h.server_name_len, 253);
	/* 254 */
	e[253] = 'a';
	e[254] = '\0';
	set_sni_names(&msg, (const char *)e, NULL);
	wrap(&msg, 16384, &out);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_MALFORMED);
	ck_assert_int_eq(h.error, TLS_HELLO_E_SNI_NAME);
}
END_TEST

/* ------------------------------------------------------------ not TLS */

START_TEST(test_not_tls)
{
	/* An SSLv2-compatible CLIENT-HELLO (RFC 5246 E.2): 2-byte length with
	 * bit 15 set, msg_type 1, version 3.1, cipher specs, challenge. */
	static const uint8_t sslv2[] = {
		0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
		0x00, 0x00, 0x39, 0x00, 0x00, 0x38, 0x00, 0x00, 0x35, 0x00, 0x00, 0x33, 0x00, 0x00, 0x32,
		0x00, 0x00, 0x2f, 0x03, 0x00, 0x80,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	};
	static const struct {
		const char *what;
		const char *bytes;
		size_t n;
	} rows[] = {
		{ "HTTP", "GET / HTTP/1.1\r\n", 16 },
		{ "one byte", "G", 1 },
		{ "SSH", "SSH-2.0-OpenSSH_9.2\r\n", 21 },
		{ "alert record", "\x15\x03\x03\x00\x02\x02\x28", 7 },
		{ "version 2.x", "\x16\x02\x00\x00\x10", 5 },
		{ "version 3.5", "\x16\x03\x05\x00\x10", 5 },
		{ "version 3.5, two bytes seen", "\x16\x03\x05", 3 },
		{ "PROXY v1", "PROXY TCP4 ", 11 },
	};
	struct tls_hello h;

	ck_assert_int_eq(parse_n(sslv2, sizeof(sslv2), &h), TLS_HELLO_NOT_TLS);
	ck_assert_int_eq(parse_n(sslv2, 1, &h), TLS_HELLO_NOT_TLS);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum tls_hello_status st = parse_n((const uint8_t *)rows[i].bytes, rows[i].n, &h);

		ck_assert_msg(st == TLS_HELLO_NOT_TLS, "%s: %s", rows[i].what, status_name(st));
		ck_assert_int_eq(h.error, TLS_HELLO_E_NONE);
	}
	/* Before the bytes that tell, more are needed, one at a time. */
	ck_assert_int_eq(parse_n((const uint8_t *)"", 0, &h), TLS_HELLO_NEED_MORE);
	ck_assert_uint_eq(h.need, 1);
	ck_assert_int_eq(parse_n((const uint8_t *)"\x16", 1, &h), TLS_HELLO_NEED_MORE);
	ck_assert_uint_eq(h.need, 2);
	ck_assert_int_eq(parse_n((const uint8_t *)"\x16\x03", 2, &h), TLS_HELLO_NEED_MORE);
	ck_assert_uint_eq(h.need, 3);
	ck_assert_int_eq(parse_n((const uint8_t *)"\x16\x03\x01", 3, &h), TLS_HELLO_NEED_MORE);
	ck_assert_uint_eq(h.need, 5);
}
END_TEST

/* ------------------------------------------------------------ size limits */

/* A minimal valid ClientHello whose message is exactly size bytes long
 * (header included), filled up with a padding extension (RFC 7685). */
static void
hello_of_size(struct bytes *m, size_t size, const char *sni)
{
	static const uint8_t suites[] = { 0x00, 0x02, 0x13, 0x01 };
	size_t pad;

	m->n = 0;
	put8(m, 1);
	put24(m, 0);
	put16(m, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(m, (unsigned)i);
	put8(m, 0);
	put(m, suites, sizeof(suites));
	put8(m, 1);
	put8(m, 0);
	put16(m, 0);
	if (sni) {
		put16(m, 0);
		put16(m, (unsigned)strlen(sni) + 5);
		put16(m, (unsigned)strlen(sni) + 3);
		put8(m, 0);
		put16(m, (unsigned)strlen(sni));
		put(m, sni, strlen(sni));
	}
	ck_assert_uint_ge(size, m->n + 4);
	pad = size - m->n - 4;
	put16(m, 21);
	put16(m, (unsigned)pad);
	for (size_t i = 0; i < pad; i++)
		put8(m, 0);
	m->b[1] = (uint8_t)((m->n - 4) >> 16);
	set16(m->b + 2, m->n - 4);
	set16(m->b + 4 + 2 + 32 + 1 + 4 + 2, m->n - (4 + 2 + 32 + 1 + 4 + 2) - 2);
	ck_assert_uint_eq(m->n, size);
}

START_TEST(test_largest)
{
	static struct bytes msg, out;
	struct tls_hello h;

	/* The largest message in the fewest records: 16384 + 4 bytes. */
	hello_of_size(&msg, 4 + TLS_HELLO_MSG_MAX, "big.example");
	wrap(&msg, 16384, &out);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_OK);
	ck_assert_uint_eq(h.records, 2);
	ck_assert_str_eq(h.server_name, "big.example");

	/* ... and one byte more. */
	hello_of_size(&msg, 4 + TLS_HELLO_MSG_MAX + 1, "big.example");
	wrap(&msg, 16384, &out);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_MALFORMED);
	ck_assert_int_eq(h.error, TLS_HELLO_E_TOO_LARGE);
	/* Decided from the message header, before the body arrives. */
	ck_assert_int_eq(parse_n(out.b, 9, &h), TLS_HELLO_MALFORMED);
}
END_TEST

/* The most input a hello can take: the largest message over the most
 * records is exactly TLS_HELLO_INPUT_MAX bytes, and every prefix of it
 * asks for no more than that. */
START_TEST(test_input_max)
{
	static struct bytes msg, out;
	struct tls_hello h;
	size_t per = (4 + TLS_HELLO_MSG_MAX) / TLS_HELLO_RECORDS_MAX;

	hello_of_size(&msg, 4 + TLS_HELLO_MSG_MAX, "max.example");
	/* 255 records of 64 bytes, then one of the remaining 68. */
	out.n = 0;
	for (size_t p = 0, r = 0; r < TLS_HELLO_RECORDS_MAX; r++) {
		size_t k = r + 1 < TLS_HELLO_RECORDS_MAX ? per : msg.n - p;

		put8(&out, 22);
		put16(&out, 0x0303);
		put16(&out, (unsigned)k);
		put(&out, msg.b + p, k);
		p += k;
	}
	ck_assert_uint_eq(out.n, TLS_HELLO_INPUT_MAX);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_OK);
	ck_assert_uint_eq(h.end, TLS_HELLO_INPUT_MAX);
	ck_assert_uint_eq(h.records, TLS_HELLO_RECORDS_MAX);
	ck_assert_str_eq(h.server_name, "max.example");
	check_prefixes(&out);

	/* A longer input changes nothing. */
	put(&out, "\x16\x03\x03\x00\x01\x01", 6);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_OK);
	ck_assert_uint_eq(h.end, TLS_HELLO_INPUT_MAX);

	/* One record more (the last byte moved into a record of its own) is
	 * refused as soon as the 256th record is used up. */
	out.n = TLS_HELLO_INPUT_MAX - 1;
	set16(out.b + out.n - 68 + 1 - 2, 67);
	put8(&out, 22);
	put16(&out, 0x0303);
	put16(&out, 1);
	put8(&out, msg.b[msg.n - 1]);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_MALFORMED);
	ck_assert_int_eq(h.error, TLS_HELLO_E_TOO_MANY_RECORDS);
	ck_assert_int_eq(parse_n(out.b, TLS_HELLO_INPUT_MAX - 1, &h), TLS_HELLO_MALFORMED);
	ck_assert_int_eq(h.error, TLS_HELLO_E_TOO_MANY_RECORDS);
	ck_assert_int_eq(parse_n(out.b, TLS_HELLO_INPUT_MAX - 2, &h), TLS_HELLO_NEED_MORE);
	ck_assert_uint_eq(h.need, TLS_HELLO_INPUT_MAX - 1);
}
END_TEST

/* A hello without extensions (TLS 1.0-1.2 allow it) and an SSLv3 one. */
START_TEST(test_no_extensions)
{
	static struct bytes msg, out;
	struct tls_hello h;

	hello_of_size(&msg, 100, NULL);
	/* Cut off the extension block, then say SSL 3.0. */
	msg.n = 4 + 2 + 32 + 1 + 4 + 2;
	set16(msg.b + 2, msg.n - 4);
	msg.b[5] = 0;
	wrap(&msg, 16384, &out);
	out.b[2] = 0;
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_OK);
	ck_assert_uint_eq(h.legacy_version, 0x0300);
	ck_assert(!h.has_server_name && !h.has_alpn && !h.tls13);
	check_prefixes(&out);

	/* An empty extension block is fine too. */
	msg.n += 2;
	msg.b[msg.n - 2] = msg.b[msg.n - 1] = 0;
	set16(msg.b + 2, msg.n - 4);
	wrap(&msg, 16384, &out);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_OK);
}
END_TEST

/* Thousands of one-byte-apart extensions: the duplicate check does not
 * go quadratic, and finds the pair at the end. */
START_TEST(test_many_extensions)
{
	static struct bytes msg, out;
	struct tls_hello h;
	size_t ext_at = 4 + 2 + 32 + 1 + 4 + 2;

	hello_of_size(&msg, ext_at + 2 + 4, NULL);
	msg.n = ext_at + 2;
	for (unsigned t = 100; msg.n + 4 <= 4 + TLS_HELLO_MSG_MAX; t++) {
		put16(&msg, t);
		put16(&msg, 0);
	}
	msg.b[1] = (uint8_t)((msg.n - 4) >> 16);
	set16(msg.b + 2, msg.n - 4);
	set16(msg.b + ext_at, msg.n - ext_at - 2);
	wrap(&msg, 16384, &out);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_OK);
	/* The last one becomes a copy of the first. */
	set16(msg.b + msg.n - 4, 100);
	wrap(&msg, 16384, &out);
	ck_assert_int_eq(parse(&out, &h), TLS_HELLO_MALFORMED);
	ck_assert_int_eq(h.error, TLS_HELLO_E_DUPLICATE_EXTENSION);
}
END_TEST

/* ------------------------------------------------------------ names and patterns */

START_TEST(test_name_valid)
{
	static const struct {
		const char *name;
		bool ok;
	} rows[] = {
		{ "example.com", true },
		{ "a", true },
		{ "localhost", true },
		{ "WWW.Example.COM", true },
		{ "xn--bcher-kva.example", true },
		{ "_dmarc.example.com", true },
		{ "a-b.c-d.e", true },
		{ "0.example.com", true },
		{ "example.c0m", true },
		{ "", false },
		{ ".", false },
		{ "example.com.", false },
		{ ".example.com", false },
		{ "a..b", false },
		{ "-a.example", false },
		{ "a-.example", false },
		{ "a.-b.example", false },
		{ "exa mple.com", false },
		{ "exa*mple.com", false },
		{ "*.example.com", false },
		{ "example.com/", false },
		{ "b\xc3\xbc" "cher.example", false },
		{ "192.0.2.1", false },
		{ "1.2.3.4.5", false },
		{ "example.123", false },
		{ "[::1]", false },
		{ "::1", false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(tls_hello_name_valid(rows[i].name, strlen(rows[i].name)) == rows[i].ok,
			      "'%s': expected %s", rows[i].name, rows[i].ok ? "valid" : "invalid");
}
END_TEST

START_TEST(test_name_lengths)
{
	char name[300];

	/* A 63-character label is fine, 64 is not. */
	memset(name, 'x', 64);
	memcpy(name + 64, ".example", 9);
	ck_assert(!tls_hello_name_valid(name, strlen(name)));
	ck_assert(tls_hello_name_valid(name + 1, strlen(name + 1)));
	/* 253 characters in all is fine, 254 is not. */
	for (size_t i = 0; i < 254; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[253] = 'a';
	ck_assert(tls_hello_name_valid(name, 253));
	ck_assert(!tls_hello_name_valid(name, 254));
	/* An embedded NUL is just a bad character. */
	ck_assert(!tls_hello_name_valid("a\0b", 3));
}
END_TEST

START_TEST(test_match)
{
	static const struct {
		const char *pattern, *name;
		bool match;
	} rows[] = {
		{ "example.com", "example.com", true },
		{ "example.com", "EXAMPLE.com", true },
		{ "Example.COM", "example.com", true },
		{ "example.com", "www.example.com", false },
		{ "example.com", "example.co", false },
		{ "example.com", "example.com.au", false },
		{ "*.example.com", "www.example.com", true },
		{ "*.example.com", "WWW.EXAMPLE.COM", true },
		{ "*.EXAMPLE.com", "a.example.com", true },
		{ "*.example.com", "_x.example.com", true },
		{ "*.example.com", "example.com", false },
		{ "*.example.com", "a.b.example.com", false },
		{ "*.example.com", ".example.com", false },
		{ "*.example.com", "wwwexample.com", false },
		{ "*.example.com", "www.example.com.", false },
		{ "*.example.com", "www.example.co", false },
		{ "*.example.com", "www.notexample.com", false },
		{ "*.example.com", "www.example.com.au", false },
		{ "*.example.com", "www.example.comm", false },
		{ "*.com", "example.com", true },
		{ "*.com", "com", false },
		{ "*", "example", false },
		{ "*.*.example.com", "a.b.example.com", false },
		{ "w*.example.com", "www.example.com", false },
		{ "www.*.com", "www.example.com", false },
		{ "", "", false },
		{ "example.com", "", false },
		{ "example.com.", "example.com.", false },
		{ "*.example.com", "*.example.com", false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_msg(tls_hello_name_match(rows[i].pattern, rows[i].name) == rows[i].match,
			      "'%s' against '%s': expected %s", rows[i].pattern, rows[i].name,
			      rows[i].match ? "a match" : "no match");
	ck_assert(tls_hello_pattern_valid("*.example.com"));
	ck_assert(tls_hello_pattern_valid("example.com"));
	ck_assert(!tls_hello_pattern_valid("*"));
	ck_assert(!tls_hello_pattern_valid("*."));
	ck_assert(!tls_hello_pattern_valid("**.example.com"));
	ck_assert(!tls_hello_pattern_valid("*.*.example.com"));
	ck_assert(!tls_hello_pattern_valid("a.*.example.com"));
}
END_TEST

START_TEST(test_strerror)
{
	for (int e = 0; e < TLS_HELLO_E_COUNT; e++) {
		const char *s = tls_hello_strerror((enum tls_hello_error)e);

		ck_assert_ptr_nonnull(s);
		ck_assert_str_ne(s, "unknown error");
	}
	ck_assert_str_eq(tls_hello_strerror(TLS_HELLO_E_COUNT), "unknown error");
	ck_assert_str_eq(tls_hello_strerror(TLS_HELLO_E_DUPLICATE_EXTENSION), "duplicate extension");
}
END_TEST

static Suite *
tls_hello_suite(void)
{
	Suite *s = suite_create("tls_hello");
	TCase *tc;

	tc = tcase_create("vectors");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_vector, 0, NVECTORS);
	tcase_add_loop_test(tc, test_vector_prefixes, 0, NVECTORS);
	tcase_add_loop_test(tc, test_vector_trailing, 0, NVECTORS);
	tcase_add_loop_test(tc, test_vector_fragmented, 0, NVECTORS);
	suite_add_tcase(s, tc);

	tc = tcase_create("corruptions");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_corruption, 0, NCORRUPTIONS);
	tcase_add_test(tc, test_edits_valid);
	tcase_add_test(tc, test_not_tls);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	/* check_prefixes() over 17 KB parses each prefix: quadratic, and
	 * under sanitizers on a loaded machine. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_largest);
	tcase_add_test(tc, test_input_max);
	tcase_add_test(tc, test_no_extensions);
	tcase_add_test(tc, test_many_extensions);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_name_valid);
	tcase_add_test(tc, test_name_lengths);
	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_strerror);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tls_hello_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
