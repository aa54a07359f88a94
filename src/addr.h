/* Endpoint addresses: "tcp:HOST:PORT", "udp:[::1]:7", "mptcp:HOST:PORT", "unix:/path",
 * "unix-dgram:/path", "unix-seqpacket:/path", "unix:@abstract".
 * No sockets are touched here; only name resolution (getaddrinfo,
 * getservbyname) may consult the system. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>

enum addr_type {
	ADDR_TCP,
	ADDR_UDP,
	ADDR_UNIX,              /* SOCK_STREAM */
	ADDR_UNIX_DGRAM,
	ADDR_UNIX_SEQPACKET,
	ADDR_MPTCP,             /* SOCK_STREAM, IPPROTO_MPTCP: serves plain TCP clients too */
};

struct addr {
	enum addr_type type;
	socklen_t len;                  /* valid bytes of sa */
	struct sockaddr_storage sa;     /* sockaddr_in, _in6 or _un */
};

/* Longest text addr_format() produces, including the NUL. */
#define ADDR_STRLEN 128

/* Parse text into *a. Returns 0, or -EINVAL with *why set to a static
 * English reason ("missing port", "unknown host", "path too long", ...). */
int addr_parse(const char *text, struct addr *a, const char **why);

/* Canonical text of a: "tcp:127.0.0.1:7", "tcp:[::1]:7", "unix:@name".
 * Always NUL-terminates; returns buf. */
char *addr_format(const struct addr *a, char *buf, size_t size);

/* Build an address from what getsockname()/recvfrom() return. Returns 0 or
 * -EAFNOSUPPORT / -EINVAL. socktype is SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
 * A stream IP socket is tcp: an MPTCP one shows only in SO_PROTOCOL, which
 * the caller reads and sets as type ADDR_MPTCP. */
int addr_from_sockaddr(int socktype, const struct sockaddr *sa, socklen_t len, struct addr *a);

bool addr_equal(const struct addr *a, const struct addr *b);

/* At most ADDR_KEYLEN bytes. */
#define ADDR_KEYLEN (4 + sizeof(struct sockaddr_storage))

/* The bytes addr_equal() compares, as a key for a hash map: the keys of a
 * and b are the same bytes exactly when addr_equal(a, b). Returns the key's
 * length, or 0 for an address that addr_equal() finds equal to nothing
 * (not a valid one). */
size_t addr_key(const struct addr *a, unsigned char key[ADDR_KEYLEN]);
int addr_family(const struct addr *a);          /* AF_INET, AF_INET6, AF_UNIX */
int addr_socktype(const struct addr *a);        /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
int addr_protocol(const struct addr *a);        /* socket()'s third argument: IPPROTO_MPTCP or 0 */
bool addr_is_tcp(const struct addr *a);         /* tcp or mptcp */
bool addr_is_stream(const struct addr *a);      /* accepts connections (tcp, unix, unix-seqpacket) */
bool addr_is_unix_path(const struct addr *a);   /* a filesystem Unix socket (not abstract) */
const char *addr_type_name(enum addr_type t);   /* "tcp", "udp", "unix", ... */

/* Format an IP or Unix peer for logs ("127.0.0.1:4321", "[::1]:80", "unix");
 * v4-mapped IPv6 is shown as IPv4. Returns buf. */
char *addr_format_peer(const struct sockaddr *sa, socklen_t len, char *buf, size_t size);
