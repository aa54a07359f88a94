/* inetd.conf as Debian's openbsd-inetd reads it, turned into records
 * (pure: no sockets, no name lookups, no logging).
 *
 * Contract for the wiring (issue 16, "inetd.conf as a configuration
 * source"): nothing in the daemon calls this yet. The inetd.conf source of
 * the configuration-source interface (config.c's successor) will, at start
 * and at every reload, read the file with textconf_read(), call
 * inetd_parse() and then inetd_resolve(), and turn each record into an
 * endpoint:
 *   - a record with reason == NULL and !disabled becomes one endpoint, named
 *     after the service and protocol ("finger/tcp"), one listen address per
 *     host and family (INETD_FAMILY_ANY: an IPv4 and an IPv6 socket), with
 *     service = the built-in when internal, else exec with command = server,
 *     argv = argv, user/group, wait mode, sndbuf/rcvbuf;
 *   - a record with a reason and !disabled is printed as a warning
 *     "file:line: reason" (sockd -n lists them all) and never stops the
 *     other records or the native endpoints;
 *   - a disabled record (update-inetd's "#<off># ") is never served and
 *     not warned about; the converter (sockd --convert inetd) shows it as a
 *     commented-out endpoint.
 * Host names in hosts[] are left for the wiring (addr_parse/getaddrinfo),
 * as inetd resolves them when it binds. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "textconf.h"

#define INETD_ARGV_MAX 64       /* arguments after the server program */

enum inetd_proto {
	INETD_PROTO_TCP,
	INETD_PROTO_UDP,
	INETD_PROTO_UNIX,
};

enum inetd_family {
	INETD_FAMILY_ANY,       /* "tcp", "udp": an IPv4 and an IPv6 socket (Debian) */
	INETD_FAMILY_IPV4,      /* "tcp4", "udp4" */
	INETD_FAMILY_IPV6,      /* "tcp6", "udp6": IPv6 only */
	INETD_FAMILY_IPV46,     /* "tcp46", "udp46": one IPv6 socket taking v4-mapped */
	INETD_FAMILY_UNIX,      /* "unix" */
};

struct inetd_rec {
	const char *file;       /* the conf's file name */
	unsigned line;          /* first line of the entry */
	char *text;             /* the entry as written (continuations joined by a
				 * space, without "#<off># "), for messages and the
				 * converter's comments; NULL when the line could
				 * not be read at all (NUL or control bytes, too long) */
	bool disabled;          /* "#<off># ": parsed but never served */
	char *reason;           /* non-NULL: skipped, and why (one line, no
				 * "file:line: " prefix). The fields below are
				 * then only what was read before the problem. */

	char *service;          /* name, port number, or (unix) socket path */
	uint16_t port;          /* numeric service, or inetd_resolve()'s; 0 = not yet */
	struct strv hosts;      /* bind addresses, "*" = any; empty for unix */
	bool hosts_default;     /* hosts came from a bare "addr:" line (or the implied "*:") */
	int socktype;           /* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	char *protocol;         /* as written, without ",sndbuf=...": "tcp6" */
	enum inetd_proto proto;
	enum inetd_family family;
	int sndbuf, rcvbuf;     /* bytes; 0 = not given */
	bool wait;              /* as written; inetd ignores it for internal services */
	unsigned max;           /* ".N" of wait/nowait; 0 = not given (inetd: 256 a minute) */
	char *user;
	char *group;            /* NULL: the user's own */
	bool internal;          /* echo, discard, chargen, daytime, time */
	char *server;           /* absolute path; NULL when internal */
	struct strv argv;       /* argv[0] first (the basename of server when the
				 * line gives no arguments); empty when internal */
};

struct inetd_conf {
	char *file;
	struct inetd_rec *recs;
	size_t n;
	size_t cap;
};

/* Parse text[0..len) (from `file`, named in messages) into *c, which must
 * be zeroed or freed. Every service line, and every line that looks like
 * one but cannot be served, gives one record in file order; comments,
 * blank lines and bare "addr:" lines give none (an invalid "addr:" line
 * gives a record with a reason, and so does every line relying on it).
 * Returns 0, -EFBIG when len > TEXTCONF_FILE_MAX, or -ENOMEM; on failure
 * *c is left empty. */
int inetd_parse(struct inetd_conf *c, const char *file, const char *text, size_t len);

/* Look a service name up as getservbyname("name", "tcp"|"udp") does.
 * Returns the port (1..65535) or -ENOENT. */
typedef int inetd_lookup_fn(const char *name, const char *proto, void *ctx);

/* The system's lookup: getservbyname_r(), i.e. /etc/services through NSS. */
int inetd_lookup_services(const char *name, const char *proto, void *ctx);

/* Give every usable IP record with a named service its port, through
 * lookup (NULL: inetd_lookup_services). A name it does not know turns the
 * record into a skipped one ("unknown service 'x/tcp'"). A separate step so
 * the parser stays pure and deterministic (tests, fuzzing) and the wiring
 * can run the lookup where NSS may be consulted. Returns 0 or -ENOMEM. */
int inetd_resolve(struct inetd_conf *c, inetd_lookup_fn *lookup, void *ctx);

void inetd_conf_free(struct inetd_conf *c);     /* leaves c empty */

const char *inetd_socktype_name(int socktype);  /* "stream", "dgram", "seqpacket" */
