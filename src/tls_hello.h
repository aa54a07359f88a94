/* The TLS ClientHello a client sends first, read without terminating TLS:
 * which server name (SNI, RFC 6066 §3) and which ALPN protocols (RFC 7301)
 * it asks for, so that forward can pick an upstream and then relay the
 * bytes untouched: forward's routes (service_forward.c).
 *
 * Pure: no I/O, no logging, no allocation (about 8.5 KiB of stack);
 * thread-safe. The caller peeks (recv MSG_PEEK) at the start of a new
 * connection and calls tls_hello_parse() again with more bytes each time
 * it answers TLS_HELLO_NEED_MORE, once the input holds ->need bytes
 * (FIONREAD tells); it never needs more than TLS_HELLO_INPUT_MAX. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest ClientHello body accepted (the handshake message without its
 * 4-byte header). 2^14 is the largest record payload (RFC 8446 §5.1), so
 * an honest hello of this size fits two records; clients send 200-600
 * bytes today, ~1.8 KB with a post-quantum key share, so there is room for
 * PSK identities and padding. nginx's ssl_preread reads at most 16 KB too. */
#define TLS_HELLO_MSG_MAX 16384

/* Most records the ClientHello may be spread over. Real clients split only
 * a hello longer than their record size (OpenSSL's -max_send_frag 512: a
 * handful of records); DPI-evasion tools split it into a few small ones.
 * This bounds what the caller must buffer while a hello trickles in as
 * one-byte records. */
#define TLS_HELLO_RECORDS_MAX 256

/* The most input tls_hello_parse() ever asks for: every record header plus
 * the largest message and its header (16 KiB + 1284 bytes). */
#define TLS_HELLO_INPUT_MAX (TLS_HELLO_RECORDS_MAX * 5 + 4 + TLS_HELLO_MSG_MAX)

/* Longest server name: 253 characters, a DNS name in text form without
 * its trailing dot (RFC 1035 §3.1 allows 255 octets on the wire). */
#define TLS_HELLO_NAME_MAX 253

/* ALPN names kept in struct tls_hello; all of them are validated. */
#define TLS_HELLO_ALPN_MAX 16

enum tls_hello_status {
	TLS_HELLO_OK,           /* a whole, valid ClientHello: see struct tls_hello */
	TLS_HELLO_NEED_MORE,    /* valid so far; peek again with at least ->need bytes */
	TLS_HELLO_NOT_TLS,      /* not a TLS handshake record (other protocols, SSLv2) */
	TLS_HELLO_MALFORMED,    /* a TLS handshake that can never become a valid hello */
};

/* Why a hello is malformed (tls_hello_strerror() gives a static string). */
enum tls_hello_error {
	TLS_HELLO_E_NONE,
	TLS_HELLO_E_RECORD_LENGTH,      /* a record of 0 or more than 2^14 bytes */
	TLS_HELLO_E_RECORD_TYPE,        /* another record type before the hello ends */
	TLS_HELLO_E_RECORD_VERSION,     /* a later record's version is not 3.x */
	TLS_HELLO_E_TOO_MANY_RECORDS,   /* more than TLS_HELLO_RECORDS_MAX records */
	TLS_HELLO_E_NOT_CLIENT_HELLO,   /* first handshake message is not a ClientHello */
	TLS_HELLO_E_TOO_LARGE,          /* message longer than TLS_HELLO_MSG_MAX */
	TLS_HELLO_E_VERSION,            /* legacy_version is not 3.x */
	TLS_HELLO_E_SESSION_ID,         /* session id longer than 32 bytes */
	TLS_HELLO_E_CIPHER_SUITES,      /* cipher suite list empty or of odd length */
	TLS_HELLO_E_COMPRESSION,        /* compression method list empty */
	TLS_HELLO_E_TRUNCATED,          /* a field runs past the end of the hello */
	TLS_HELLO_E_EXTENSIONS,         /* extension block length does not fill the hello */
	TLS_HELLO_E_EXTENSION_LENGTH,   /* an extension runs past its block */
	TLS_HELLO_E_DUPLICATE_EXTENSION,
	TLS_HELLO_E_SNI_LIST,           /* server_name list length wrong or list empty */
	TLS_HELLO_E_SNI_EMPTY,          /* a zero-length host_name */
	TLS_HELLO_E_SNI_DUPLICATE,      /* two host_name entries */
	TLS_HELLO_E_SNI_NAME,           /* host_name is not a DNS name */
	TLS_HELLO_E_ALPN,               /* ALPN list length wrong, empty list or name */
	TLS_HELLO_E_SUPPORTED_VERSIONS, /* supported_versions length wrong */
	TLS_HELLO_E_COUNT
};

struct tls_hello_alpn {
	uint16_t off;   /* input offset of the name's first byte */
	uint8_t len;    /* 1..255; the name's bytes are contiguous in the input */
};

struct tls_hello {
	enum tls_hello_error error;     /* TLS_HELLO_MALFORMED: why */
	size_t need;                    /* NEED_MORE: the input must hold at least
					 * this many bytes (> len, <= TLS_HELLO_INPUT_MAX)
					 * before the next answer can differ */
	/* The rest is set for TLS_HELLO_OK only. */
	size_t end;                     /* input offset just past the hello's last
					 * byte; later bytes were not looked at */
	unsigned records;               /* records the hello came in (1..RECORDS_MAX) */
	uint16_t legacy_version;        /* ClientHello.legacy_version, 0x0303 for 1.2 and 1.3 */
	bool tls13;                     /* supported_versions offers TLS 1.3 (0x0304) */
	bool has_server_name;           /* a host_name came in the server_name extension */
	char server_name[TLS_HELLO_NAME_MAX + 1]; /* that name, lower-cased, NUL-ended;
						   * "" without one */
	size_t server_name_len;
	bool has_alpn;                  /* the ALPN extension came (it holds >= 1 name) */
	unsigned alpn_count;            /* names in alpn[] */
	bool alpn_partial;              /* alpn[] lacks names: more than TLS_HELLO_ALPN_MAX,
					 * or a name split across records */
	struct tls_hello_alpn alpn[TLS_HELLO_ALPN_MAX]; /* in the client's order */
};

/* Parse the ClientHello at the start of buf, of which len bytes have
 * arrived. Returns the status and fills *h as the status says (always:
 * the whole struct is reset first). Never reads past len, nor past
 * TLS_HELLO_INPUT_MAX. A prefix of an input never gets an answer other
 * than NEED_MORE or the answer the whole input gets, so a verdict other
 * than NEED_MORE is final.
 *
 * NOT_TLS: the first record is not a handshake record of version 3.0-3.4
 * (SSLv2-compatible hellos start with a length byte with bit 7 set, so
 * they land here). MALFORMED: all else that RFC 8446 §4.1.2, RFC 6066 §3
 * and RFC 7301 §3.1 forbid and a router must notice: a field longer than
 * what holds it, a duplicate extension (§4.2), SNI with two host_names or
 * an empty one, a server name that is not a DNS name (see
 * tls_hello_name_valid()), an empty ALPN name. Unknown extensions, cipher
 * suites and SNI name types are skipped unread. */
enum tls_hello_status tls_hello_parse(const uint8_t *buf, size_t len, struct tls_hello *h);

/* A short English reason ("duplicate extension"), never NULL. */
const char *tls_hello_strerror(enum tls_hello_error e);

/* Is name[0..len) a DNS host name as SNI carries it: 1-253 bytes, labels
 * of 1-63 letters, digits, '-' and '_' (seen in real internal names),
 * no label starting or ending with '-', no trailing dot, and not an IPv4
 * literal (RFC 6066: no addresses; the last label is not all digits). */
bool tls_hello_name_valid(const char *name, size_t len);

/* Does a server name match a route pattern? Case-insensitive. A pattern is
 * a DNS name (exact match), or "*." and a DNS name: the '*' stands for
 * exactly one whole leftmost label, so "*.example.com" matches
 * "www.example.com" but neither "example.com" nor "a.b.example.com"
 * (as in RFC 6125 §6.4.3; no partial-label wildcards like "w*.example.com").
 * An invalid pattern or name matches nothing. */
bool tls_hello_name_match(const char *pattern, const char *name);

/* Is pattern usable by tls_hello_name_match() (for config checks)? */
bool tls_hello_pattern_valid(const char *pattern);
