/* Per-endpoint socket options (reuseport, rcvbuf, sndbuf, ...): what the
 * keys hold, and setting them on a listening socket. */
#pragma once

#include <stdbool.h>

#include "addr.h"

/* The values of the keys, in struct endpoint (config_keys.c has the rows).
 * Numbers use 0 for "leave the kernel's default". */
struct sockopts {
	bool reuseport;                 /* SO_REUSEPORT, before bind */
	int rcvbuf;                     /* SO_RCVBUF bytes (the kernel doubles it) */
	int sndbuf;                     /* SO_SNDBUF bytes */
};

/* Which socket the options go on. */
enum sockopt_stage {
	SOCKOPT_NEW,                    /* ours, before bind(): every option */
	SOCKOPT_ADOPTED,                /* from systemd: the .socket unit bound it */
	SOCKOPT_KEPT,                   /* kept by a reload: old holds what it had */
};

/* Set so on fd, a socket for a. Options that only act at bind() are
 * compared, not set, on a socket bound already: a difference is a warning.
 * text names the socket in messages. Returns 0, or -errno after logging
 * (an error for a new socket; for a kept or adopted one every failure is
 * a warning and the result is 0). */
int sockopt_apply(int fd, const struct addr *a, const struct sockopts *so,
    const struct sockopts *old, enum sockopt_stage stage, const char *text);
