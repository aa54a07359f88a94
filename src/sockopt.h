/* Per-endpoint socket options (reuseport, keepalive, fastopen, ...): what
 * the keys hold, checking the values that need the system, and setting
 * them on a listening socket. */
#pragma once

#include <stdbool.h>

#include "addr.h"
#include "keys.h"

/* The values of the keys, in struct endpoint (config_keys.c has the rows).
 * Numbers use 0 and strings NULL for "leave the kernel's default". */
struct sockopts {
	bool reuseport;                 /* SO_REUSEPORT, before bind */
	int rcvbuf;                     /* SO_RCVBUF bytes (the kernel doubles it) */
	int sndbuf;                     /* SO_SNDBUF bytes */
	bool freebind;                  /* IP_FREEBIND, before bind */
	bool transparent;               /* IP_TRANSPARENT (CAP_NET_ADMIN) */
	char *bind_to_device;           /* SO_BINDTODEVICE: an interface or a VRF */
	unsigned mark;                  /* SO_MARK (CAP_NET_ADMIN) */
	int tos;                        /* IP_TOS / IPV6_TCLASS, 0..255 */
	bool keepalive;                 /* SO_KEEPALIVE */
	int keepalive_time;             /* TCP_KEEPIDLE seconds */
	int keepalive_interval;         /* TCP_KEEPINTVL seconds */
	int keepalive_count;            /* TCP_KEEPCNT */
	int user_timeout;               /* TCP_USER_TIMEOUT ms */
	bool nodelay;                   /* TCP_NODELAY */
	int defer_accept;               /* TCP_DEFER_ACCEPT seconds */
	int fastopen;                   /* TCP_FASTOPEN queue length */
	char *congestion;               /* TCP_CONGESTION */
};

/* Which socket the options go on. */
enum sockopt_stage {
	SOCKOPT_NEW,                    /* ours, before bind(): every option */
	SOCKOPT_ADOPTED,                /* from systemd: the .socket unit bound it */
	SOCKOPT_KEPT,                   /* kept by a reload: old holds what it had */
};

/* Set so on fd, a socket for a. Options that only act at bind() are
 * compared, not set, on a socket bound already: a difference is a warning.
 * On a kept socket only what differs from old is set. TCP options are set
 * on stream IP sockets only, IP options on IP sockets only. text names the
 * socket in messages. Returns 0, or -errno after logging (an error for a
 * new socket; on a kept or adopted one a failure is a warning, result 0). */
int sockopt_apply(int fd, const struct addr *a, const struct sockopts *so,
    const struct sockopts *old, enum sockopt_stage stage, const char *text);

/* The options forward sets on its upstream connections. */
struct upstream_sockopts {
	struct addr source;             /* connect from this address (port 0) ... */
	bool has_source;                /* ... when set */
	bool keepalive;
	bool nodelay;
	unsigned mark;
};

/* Before connect(): the options and, with a source, bind() to it with
 * IP_BIND_ADDRESS_NO_PORT (the port is picked at connect, per upstream).
 * -errno; the caller logs. */
int sockopt_upstream(int fd, const struct addr *upstream, const struct upstream_sockopts *uo);

/* Key setters that check a value against the running system. */
key_set_fn sockopt_set_congestion;      /* char *: an available algorithm */
key_set_fn sockopt_set_device;          /* char *: an interface name */
key_set_fn sockopt_set_source;          /* struct upstream_sockopts.source: an IP address */
key_print_fn sockopt_print_source;
