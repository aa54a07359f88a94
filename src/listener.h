/* Listening sockets (adopted from systemd or bound here) and the acceptor
 * thread that accepts on every stream listener and feeds the queue. */
#pragma once

#include <stdbool.h>

#include "sockd.h"
#include "textconf.h"

struct sockd;

/* Adopt the passed fds (a .socket unit's, the fd store's, or those of the
 * sockd that started this one in an upgrade) and bind the rest, for every
 * listen address of every endpoint in cfg. On success *out holds one
 * listener per address, each with its fdname set. A passed control socket
 * (FDNAME_CONTROL) goes to *control_fd (-1: none; control_fd may be NULL).
 * The file paths of kept Unix sockets no longer configured are added to
 * *stale (may be NULL): the caller removes them once it serves.
 * On failure everything opened is closed again and the error is logged. */
int listeners_open(const struct sockd_config *cfg, struct listener ***out, size_t *n_out,
		   int *control_fd, struct strv *stale);

/* A listener of ep on a, owning fd (-1: none yet). NULL on ENOMEM. */
struct listener *listener_new(struct endpoint *ep, const struct addr *a, int fd);

/* Close the socket, unlink a socket file we created, drop the reference. */
void listener_free(struct listener *l);

/* Start the acceptor thread over the stream listeners of d. */
int acceptor_start(struct sockd *d);

/* Wake the acceptor (room freed: a connection closed). Thread-safe. */
void acceptor_wake(struct sockd *d);

/* Stop accepting: the thread closes no listener but leaves, and is joined.
 * acceptor_start() may run it again (reload swaps listeners in between). */
void acceptor_stop(struct sockd *d);

/* Watchdog: ask the acceptor to answer; answered once its loop came round. */
void acceptor_ping(struct sockd *d);
bool acceptor_answered(struct sockd *d);

/* Bind one listen address of ep (used at start and by reload). */
int listener_bind(struct endpoint *ep, const struct addr *a, struct listener **out);
