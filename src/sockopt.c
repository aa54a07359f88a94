/*
 * Socket options per endpoint. A new socket gets all of them before
 * bind(); a socket systemd passed or a reload kept is bound already, so the
 * options that only act at bind() (reuseport) are compared instead: sockd
 * cannot rebind such an address without a moment in which it refuses
 * clients, and a reload must not refuse anybody. The rest are plain
 * setsockopt()s on the listener that the accepted sockets inherit.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "sockopt.h"

struct ctx {
	int fd;
	const char *text;
	enum sockopt_stage stage;
	int err;                        /* the first failure, for a new socket */
};

/* One setsockopt(); a failure is an error for a new socket (the caller
 * gives up the bind) and a warning otherwise (the socket serves on with
 * what it had). */
static void
set_int(struct ctx *c, int level, int opt, const char *name, int value)
{
	int e;

	if (c->err < 0)
		return;
	if (setsockopt(c->fd, level, opt, &value, sizeof(value)) == 0)
		return;
	e = errno;
	if (c->stage == SOCKOPT_NEW)
		c->err = log_errno(e, "%s: %s = %d", c->text, name, value);
	else
		log_warn_errno(e, "%s: %s = %d, ignoring", c->text, name, value);
}

static bool
get_bool(int fd, int level, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, opt, &v, &len) == 0 && v != 0;
}

/* An option that acts at bind(), on a socket bound already. */
static void
bind_time(struct ctx *c, const char *name, bool want, bool had, const char *how)
{
	if (want == had)
		return;
	if (c->stage == SOCKOPT_ADOPTED)
		log_warn("%s: '%s = %s' has no effect on a socket from systemd (%s), ignoring",
		    c->text, name, want ? "true" : "false", how);
	else
		log_warn("%s: '%s' changed to %s: it applies when the address is bound again "
		    "(a restart, or a reload without it and one with it), ignoring",
		    c->text, name, want ? "true" : "false");
}

/* A buffer size back to "the kernel's" cannot be undone on a socket: the
 * kernel stops autotuning a buffer once it is set. */
static void
buf(struct ctx *c, int opt, const char *name, int want, int had)
{
	if (want > 0) {
		if (c->stage != SOCKOPT_KEPT || want != had)
			set_int(c, SOL_SOCKET, opt, name, want);
	} else if (had > 0) {
		log_warn("%s: '%s' removed: the socket keeps %d bytes until it is bound again, "
		    "ignoring", c->text, name, had);
	}
}

int
sockopt_apply(int fd, const struct addr *a, const struct sockopts *so,
    const struct sockopts *old, enum sockopt_stage stage, const char *text)
{
	struct ctx c = { .fd = fd, .text = text, .stage = stage };
	bool ip = addr_family(a) != AF_UNIX;

	switch (stage) {
	case SOCKOPT_NEW:
		if (so->reuseport)
			set_int(&c, SOL_SOCKET, SO_REUSEPORT, "reuseport", 1);
		break;
	case SOCKOPT_ADOPTED:
		if (ip)
			bind_time(&c, "reuseport", so->reuseport,
			    get_bool(fd, SOL_SOCKET, SO_REUSEPORT), "set ReusePort= in the .socket unit");
		break;
	case SOCKOPT_KEPT:
		if (ip && old)
			bind_time(&c, "reuseport", so->reuseport, old->reuseport, NULL);
		break;
	}
	buf(&c, SO_RCVBUF, "rcvbuf", so->rcvbuf, old ? old->rcvbuf : 0);
	buf(&c, SO_SNDBUF, "sndbuf", so->sndbuf, old ? old->sndbuf : 0);
	return c.err;
}
