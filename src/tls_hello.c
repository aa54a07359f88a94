#include <string.h>

#include "tls_hello.h"

#define REC_HANDSHAKE   22
#define REC_HEADER      5
#define REC_PAYLOAD_MAX 16384           /* 2^14, RFC 8446 §5.1 */
#define HS_CLIENT_HELLO 1
#define HS_HEADER       4

#define EXT_SERVER_NAME        0
#define EXT_ALPN               16
#define EXT_SUPPORTED_VERSIONS 43
#define SNI_HOST_NAME          0

#define LABEL_MAX 63

/*
 * A forward-only reader of the handshake byte stream inside the records.
 * The hello is parsed in one pass, so there is no reassembly buffer: each
 * read crosses record boundaries as it must, checking each record header
 * it meets.
 *
 * Reads are atomic: a field (a length, a name, a skipped block) is either
 * all there or the parse stops with NEED_MORE, and nothing is decided on a
 * part of it. That is what makes ->need exact: the smallest input length
 * at which the answer can change is where the field being read ends, or
 * the next record header's first checked byte, whichever comes first.
 */
struct cursor {
	const uint8_t *in;
	size_t len;             /* input bytes, at most TLS_HELLO_INPUT_MAX */
	size_t pos;             /* input offset of the next unread byte */
	size_t rec_left;        /* payload bytes of the current record not yet read */
	unsigned records;       /* record headers read */
	size_t hs;              /* handshake bytes read */
	enum tls_hello_status st; /* TLS_HELLO_OK while nothing stopped the parse */
	enum tls_hello_error err;
	size_t need;
};

static bool
stop(struct cursor *c, enum tls_hello_status st, enum tls_hello_error err)
{
	c->st = st;
	c->err = err;
	return false;
}

static bool
malformed(struct cursor *c, enum tls_hello_error err)
{
	return stop(c, TLS_HELLO_MALFORMED, err);
}

static bool
need_more(struct cursor *c, size_t need)
{
	c->need = need;
	return stop(c, TLS_HELLO_NEED_MORE, TLS_HELLO_E_NONE);
}

/* Read the next record header. The first record decides whether this is
 * TLS at all, byte by byte, so that a client of another protocol that
 * sends one byte and waits gets its answer at once. */
static bool
next_record(struct cursor *c)
{
	bool first = c->records == 0;
	size_t avail = c->len - c->pos, checked = first ? 3 : 2;
	const uint8_t *r = c->in + c->pos;
	size_t rlen;

	if (c->records == TLS_HELLO_RECORDS_MAX)
		return malformed(c, TLS_HELLO_E_TOO_MANY_RECORDS);
	if (avail >= 1 && r[0] != REC_HANDSHAKE)
		return first ? stop(c, TLS_HELLO_NOT_TLS, TLS_HELLO_E_NONE)
			     : malformed(c, TLS_HELLO_E_RECORD_TYPE);
	/* legacy_record_version "MUST be ignored" (RFC 8446 §5.1), but a
	 * major other than 3 is not TLS; 3.0 (SSLv3) up to 3.4 are seen on
	 * the first record. */
	if (avail >= 2 && r[1] != 3)
		return first ? stop(c, TLS_HELLO_NOT_TLS, TLS_HELLO_E_NONE)
			     : malformed(c, TLS_HELLO_E_RECORD_VERSION);
	if (first && avail >= 3 && r[2] > 4)
		return stop(c, TLS_HELLO_NOT_TLS, TLS_HELLO_E_NONE);
	if (avail < REC_HEADER)
		return need_more(c, c->pos + (avail < checked ? avail + 1 : REC_HEADER));
	rlen = (size_t)r[3] << 8 | r[4];
	/* Zero-length handshake fragments are forbidden too (§5.1). */
	if (rlen == 0 || rlen > REC_PAYLOAD_MAX)
		return malformed(c, TLS_HELLO_E_RECORD_LENGTH);
	c->records++;
	c->pos += REC_HEADER;
	c->rec_left = rlen;
	return true;
}

/* Read n handshake bytes into out (NULL: skip them). They must end by
 * stream offset end, or the hello is malformed for reason why: that is
 * checked first, as end and n come from bytes already read. */
static bool
take(struct cursor *c, size_t n, size_t end, enum tls_hello_error why, uint8_t *out)
{
	if (n > end - c->hs)
		return malformed(c, why);
	while (n > 0) {
		size_t k;

		if (c->rec_left == 0 && !next_record(c))
			return false;
		if (c->pos == c->len) {
			if (n <= c->rec_left)
				return need_more(c, c->pos + n);
			/* The rest of this record, then either the record
			 * limit or the next header's first byte decides. */
			if (c->records == TLS_HELLO_RECORDS_MAX)
				return need_more(c, c->pos + c->rec_left);
			return need_more(c, c->pos + c->rec_left + 1);
		}
		k = n;
		if (k > c->rec_left)
			k = c->rec_left;
		if (k > c->len - c->pos)
			k = c->len - c->pos;
		if (out) {
			memcpy(out, c->in + c->pos, k);
			out += k;
		}
		c->pos += k;
		c->rec_left -= k;
		c->hs += k;
		n -= k;
	}
	return true;
}

/* A big-endian integer of n = 1..3 bytes. */
static bool
take_uint(struct cursor *c, size_t n, size_t end, enum tls_hello_error why, size_t *v)
{
	uint8_t b[3];

	if (!take(c, n, end, why, b))
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return true;
}

static char
ascii_lower(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

bool
tls_hello_name_valid(const char *name, size_t len)
{
	size_t label = 0;
	bool digits = true;

	if (len == 0 || len > TLS_HELLO_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];

		if (ch == '.') {
			if (label == 0 || name[i - 1] == '-')
				return false;
			label = 0;
			digits = true;
			continue;
		}
		if (ch >= '0' && ch <= '9') {
			/* a digit */
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_') {
			digits = false;
		} else if (ch == '-') {
			if (label == 0)
				return false;
			digits = false;
		} else {
			return false;
		}
		if (++label > LABEL_MAX)
			return false;
	}
	/* An empty last label is a trailing dot, which SNI leaves out. */
	return label > 0 && name[len - 1] != '-' && !digits;
}

/* server_name (RFC 6066 §3): a list of (name_type, name) of which at most
 * one is a host_name. Other name types were never defined; their names are
 * skipped as 16-bit-length opaque data, the form every type was meant to
 * share. */
static bool
parse_server_name(struct cursor *c, size_t elen, struct tls_hello *h)
{
	size_t end = c->hs + elen, list, type, nlen;
	uint8_t name[TLS_HELLO_NAME_MAX];

	if (!take_uint(c, 2, end, TLS_HELLO_E_SNI_LIST, &list))
		return false;
	if (list == 0 || list != end - c->hs)
		return malformed(c, TLS_HELLO_E_SNI_LIST);
	while (c->hs < end) {
		if (!take_uint(c, 1, end, TLS_HELLO_E_SNI_LIST, &type) ||
		    !take_uint(c, 2, end, TLS_HELLO_E_SNI_LIST, &nlen))
			return false;
		if (type != SNI_HOST_NAME) {
			if (!take(c, nlen, end, TLS_HELLO_E_SNI_LIST, NULL))
				return false;
			continue;
		}
		if (h->has_server_name)
			return malformed(c, TLS_HELLO_E_SNI_DUPLICATE);
		if (nlen > end - c->hs)
			return malformed(c, TLS_HELLO_E_SNI_LIST);
		if (nlen == 0)
			return malformed(c, TLS_HELLO_E_SNI_EMPTY);
		if (nlen > TLS_HELLO_NAME_MAX)
			return malformed(c, TLS_HELLO_E_SNI_NAME);
		if (!take(c, nlen, end, TLS_HELLO_E_SNI_LIST, name))
			return false;
		if (!tls_hello_name_valid((const char *)name, nlen))
			return malformed(c, TLS_HELLO_E_SNI_NAME);
		for (size_t i = 0; i < nlen; i++)
			h->server_name[i] = ascii_lower((char)name[i]);
		h->server_name[nlen] = '\0';
		h->server_name_len = nlen;
		h->has_server_name = true;
	}
	return true;
}

/* ALPN (RFC 7301 §3.1): a non-empty list of non-empty names. */
static bool
parse_alpn(struct cursor *c, size_t elen, struct tls_hello *h)
{
	size_t end = c->hs + elen, list, nlen;

	if (!take_uint(c, 2, end, TLS_HELLO_E_ALPN, &list))
		return false;
	if (list < 2 || list != end - c->hs)
		return malformed(c, TLS_HELLO_E_ALPN);
	while (c->hs < end) {
		unsigned before;
		bool fresh;

		if (!take_uint(c, 1, end, TLS_HELLO_E_ALPN, &nlen))
			return false;
		if (nlen == 0)
			return malformed(c, TLS_HELLO_E_ALPN);
		before = c->records;
		fresh = c->rec_left == 0;
		if (!take(c, nlen, end, TLS_HELLO_E_ALPN, NULL))
			return false;
		/* Contiguous when no record header was crossed, or just the
		 * one in front of it. */
		if (c->records - before != (fresh ? 1u : 0u) || h->alpn_count == TLS_HELLO_ALPN_MAX) {
			h->alpn_partial = true;
			continue;
		}
		h->alpn[h->alpn_count].off = (uint16_t)(c->pos - nlen);
		h->alpn[h->alpn_count].len = (uint8_t)nlen;
		h->alpn_count++;
	}
	h->has_alpn = true;
	return true;
}

/* supported_versions in a ClientHello (RFC 8446 §4.2.1): versions<2..254>. */
static bool
parse_supported_versions(struct cursor *c, size_t elen, struct tls_hello *h)
{
	size_t end = c->hs + elen, n, v;

	if (!take_uint(c, 1, end, TLS_HELLO_E_SUPPORTED_VERSIONS, &n))
		return false;
	if (n < 2 || n % 2 != 0 || n != end - c->hs)
		return malformed(c, TLS_HELLO_E_SUPPORTED_VERSIONS);
	while (c->hs < end) {
		if (!take_uint(c, 2, end, TLS_HELLO_E_SUPPORTED_VERSIONS, &v))
			return false;
		if (v == 0x0304)
			h->tls13 = true;
	}
	return true;
}

static bool
parse_extensions(struct cursor *c, size_t end, struct tls_hello *h)
{
	/* One bit per extension type: a hello may hold thousands of tiny
	 * extensions, so a pairwise check could cost millions of steps. */
	uint64_t seen[65536 / 64];
	size_t type, elen;

	memset(seen, 0, sizeof(seen));
	while (c->hs < end) {
		if (!take_uint(c, 2, end, TLS_HELLO_E_EXTENSION_LENGTH, &type) ||
		    !take_uint(c, 2, end, TLS_HELLO_E_EXTENSION_LENGTH, &elen))
			return false;
		if (elen > end - c->hs)
			return malformed(c, TLS_HELLO_E_EXTENSION_LENGTH);
		/* "There MUST NOT be more than one extension of the same
		 * type" (RFC 8446 §4.2); a router that took the first SNI
		 * while the server took the second would be fooled. */
		if (seen[type / 64] & (UINT64_C(1) << (type % 64)))
			return malformed(c, TLS_HELLO_E_DUPLICATE_EXTENSION);
		seen[type / 64] |= UINT64_C(1) << (type % 64);

		switch (type) {
		case EXT_SERVER_NAME:
			if (!parse_server_name(c, elen, h))
				return false;
			break;
		case EXT_ALPN:
			if (!parse_alpn(c, elen, h))
				return false;
			break;
		case EXT_SUPPORTED_VERSIONS:
			if (!parse_supported_versions(c, elen, h))
				return false;
			break;
		default:
			if (!take(c, elen, end, TLS_HELLO_E_EXTENSION_LENGTH, NULL))
				return false;
		}
	}
	return true;
}

/* RFC 8446 §4.1.2; TLS 1.0-1.2 hellos have the same shape, and may end
 * after the compression methods (no extensions at all). */
static bool
parse_hello(struct cursor *c, struct tls_hello *h)
{
	size_t v, end, n;

	if (!take_uint(c, 1, HS_HEADER, TLS_HELLO_E_TRUNCATED, &v))
		return false;
	if (v != HS_CLIENT_HELLO)
		return malformed(c, TLS_HELLO_E_NOT_CLIENT_HELLO);
	if (!take_uint(c, 3, HS_HEADER, TLS_HELLO_E_TRUNCATED, &n))
		return false;
	if (n > TLS_HELLO_MSG_MAX)
		return malformed(c, TLS_HELLO_E_TOO_LARGE);
	end = HS_HEADER + n;

	if (!take_uint(c, 2, end, TLS_HELLO_E_TRUNCATED, &v))
		return false;
	if (v >> 8 != 3)
		return malformed(c, TLS_HELLO_E_VERSION);
	h->legacy_version = (uint16_t)v;
	if (!take(c, 32, end, TLS_HELLO_E_TRUNCATED, NULL))
		return false;

	if (!take_uint(c, 1, end, TLS_HELLO_E_TRUNCATED, &n))
		return false;
	if (n > 32)
		return malformed(c, TLS_HELLO_E_SESSION_ID);
	if (!take(c, n, end, TLS_HELLO_E_TRUNCATED, NULL))
		return false;

	if (!take_uint(c, 2, end, TLS_HELLO_E_TRUNCATED, &n))
		return false;
	if (n == 0 || n % 2 != 0)
		return malformed(c, TLS_HELLO_E_CIPHER_SUITES);
	if (!take(c, n, end, TLS_HELLO_E_TRUNCATED, NULL))
		return false;

	if (!take_uint(c, 1, end, TLS_HELLO_E_TRUNCATED, &n))
		return false;
	if (n == 0)
		return malformed(c, TLS_HELLO_E_COMPRESSION);
	if (!take(c, n, end, TLS_HELLO_E_TRUNCATED, NULL))
		return false;

	if (c->hs == end)
		return true;
	if (!take_uint(c, 2, end, TLS_HELLO_E_TRUNCATED, &n))
		return false;
	if (n != end - c->hs)
		return malformed(c, TLS_HELLO_E_EXTENSIONS);
	return parse_extensions(c, end, h);
}

enum tls_hello_status
tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *h)
{
	struct cursor c = {
		.in = buf,
		.len = len < TLS_HELLO_INPUT_MAX ? len : TLS_HELLO_INPUT_MAX,
		.st = TLS_HELLO_OK,
	};

	memset(h, 0, sizeof(*h));
	if (!parse_hello(&c, h)) {
		enum tls_hello_error err = c.err;
		size_t need = c.need;

		/* On failure only the verdict's own fields are set. */
		memset(h, 0, sizeof(*h));
		h->error = err;
		h->need = need;
		return c.st;
	}
	h->end = c.pos;
	h->records = c.records;
	return TLS_HELLO_OK;
}

static const char *const reasons[TLS_HELLO_E_COUNT] = {
	[TLS_HELLO_E_NONE] = "no error",
	[TLS_HELLO_E_RECORD_LENGTH] = "record length 0 or over 16384",
	[TLS_HELLO_E_RECORD_TYPE] = "non-handshake record inside the ClientHello",
	[TLS_HELLO_E_RECORD_VERSION] = "record version is not 3.x",
	[TLS_HELLO_E_TOO_MANY_RECORDS] = "ClientHello spread over too many records",
	[TLS_HELLO_E_NOT_CLIENT_HELLO] = "first handshake message is not a ClientHello",
	[TLS_HELLO_E_TOO_LARGE] = "ClientHello too large",
	[TLS_HELLO_E_VERSION] = "ClientHello version is not 3.x",
	[TLS_HELLO_E_SESSION_ID] = "session id longer than 32 bytes",
	[TLS_HELLO_E_CIPHER_SUITES] = "cipher suite list empty or odd",
	[TLS_HELLO_E_COMPRESSION] = "compression method list empty",
	[TLS_HELLO_E_TRUNCATED] = "field runs past the end of the ClientHello",
	[TLS_HELLO_E_EXTENSIONS] = "extension block does not fill the ClientHello",
	[TLS_HELLO_E_EXTENSION_LENGTH] = "extension runs past the extension block",
	[TLS_HELLO_E_DUPLICATE_EXTENSION] = "duplicate extension",
	[TLS_HELLO_E_SNI_LIST] = "bad server_name list",
	[TLS_HELLO_E_SNI_EMPTY] = "empty server name",
	[TLS_HELLO_E_SNI_DUPLICATE] = "more than one server name",
	[TLS_HELLO_E_SNI_NAME] = "server name is not a DNS name",
	[TLS_HELLO_E_ALPN] = "bad ALPN list",
	[TLS_HELLO_E_SUPPORTED_VERSIONS] = "bad supported_versions list",
};

const char *
tls_hello_strerror(enum tls_hello_error e)
{
	if ((unsigned)e >= TLS_HELLO_E_COUNT || !reasons[e])
		return "unknown error";
	return reasons[e];
}

bool
tls_hello_pattern_valid(const char *pattern)
{
	if (pattern[0] == '*' && pattern[1] == '.')
		pattern += 2;
	return tls_hello_name_valid(pattern, strlen(pattern));
}

static bool
same_name(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

bool
tls_hello_name_match(const char *pattern, const char *name)
{
	size_t plen = strlen(pattern), nlen = strlen(name);
	const char *dot;

	if (!tls_hello_pattern_valid(pattern) || !tls_hello_name_valid(name, nlen))
		return false;
	if (pattern[0] != '*')
		return plen == nlen && same_name(pattern, name, nlen);
	/* "*.example.com": the name's first label is the star's, whatever it
	 * is; the rest must equal the pattern's rest. */
	dot = memchr(name, '.', nlen);
	if (!dot)
		return false;
	dot++;
	return strlen(dot) == plen - 2 && same_name(pattern + 2, dot, plen - 2);
}
