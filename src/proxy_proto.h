/* PROXY protocol v1 and v2 (haproxy doc/proxy-protocol.txt): parse the
 * header a load balancer puts in front of a connection, and build one for
 * an upstream. Pure: no I/O, no logging, no allocation; thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* What an endpoint accepts (parse) or what to send (build: V1 or V2). */
enum proxy_version {
	PROXY_V1 = 1,
	PROXY_V2 = 2,
	PROXY_ANY = 3,
};

/* Longest v1 line, CRLF included. */
#define PROXY_V1_MAX 107

/* Largest header proxy_parse() accepts, and so the buffer a receiver needs:
 * a v2 header whose 16 + len exceeds it is refused. The spec allows 16 +
 * 65535, but real senders stay far below (addresses plus a few TLVs: ALPN,
 * SNI, unique id <= 128, SSL details); nginx uses the same 4096-byte cap. */
#define PROXY_HEADER_MAX 4096

/* Largest header proxy_build() writes (v2 with two Unix addresses). */
#define PROXY_BUILD_MAX (16 + 216)

struct proxy_result {
	int version;                    /* 1 or 2 */
	bool local;                     /* v1 UNKNOWN, v2 LOCAL or v2 UNSPEC family:
					 * keep the connection's real addresses */
	int socktype;                   /* SOCK_STREAM or SOCK_DGRAM; v1 always
					 * SOCK_STREAM; 0 for v2 UNSPEC transport */
	struct sockaddr_storage src, dst; /* when !local: AF_INET, AF_INET6, or
					   * (v2 only) AF_UNIX; zeroed when local */
	socklen_t src_len, dst_len;     /* 0 when local */
	size_t header_len;              /* bytes the header occupies */
};

/* Parse a PROXY header at the start of buf, of which len bytes have arrived.
 * Returns the header length (> 0, <= len) and fills *res when the header is
 * complete and valid: consume exactly that many bytes, the rest is payload.
 * Returns 0 when everything seen so far is a valid beginning and more bytes
 * are needed; -EINVAL when the bytes can never become a valid header (close
 * the connection); -EPROTONOSUPPORT when the first byte starts the version
 * that accept excludes ('P' for v1, 0x0D for v2). Never reads past len and
 * writes *res only on success. With len >= PROXY_HEADER_MAX the answer is
 * never 0, so a receiver with that much buffered always gets a verdict.
 * v2 TLVs are walked and bounds-checked, a CRC32C TLV is verified, others
 * are skipped; v2 LOCAL and UNSPEC-family blocks are skipped unread. */
ssize_t proxy_parse(const uint8_t *buf, size_t len, enum proxy_version accept, struct proxy_result *res);

/* Write a header announcing a connection from src to dst into buf (no NUL).
 * v is PROXY_V1 or PROXY_V2. Both IPv4 (IPv4 or v4-mapped IPv6 on both sides)
 * gives TCP4, both IP otherwise gives TCP6 with IPv4 mapped; v2 also carries
 * two AF_UNIX addresses. Anything else, or a NULL address, gives v1
 * "PROXY UNKNOWN\r\n" or a v2 LOCAL header. The v2 transport is always
 * STREAM. Returns the length written, -ENOSPC when size is too small
 * (PROXY_BUILD_MAX always suffices), or -EINVAL for a bad v or an address
 * length too short for its family. */
ssize_t proxy_build(enum proxy_version v, const struct sockaddr *src, socklen_t src_len,
		    const struct sockaddr *dst, socklen_t dst_len, uint8_t *buf, size_t size);
