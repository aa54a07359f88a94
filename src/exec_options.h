/* Options of service "exec", set by its keys (declared in service_exec.c); read by service_exec.c. Header only: no module includes back. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "service.h"
#include "sockd.h"

#define NICE_UNSET (-100)
#define EXEC_FDS_MAX 64                /* listen-fds: listen addresses of one endpoint */

struct exec_rlimit {
	int resource;                   /* RLIMIT_* */
	unsigned long long soft, hard;  /* RLIM_INFINITY for "unlimited" */
};

/* How the program meets its clients (key "handoff"). */
enum exec_handoff {
	HANDOFF_NOWAIT,                 /* one program per connection, on stdin and stdout */
	HANDOFF_WAIT,                   /* the listening or datagram socket itself, on stdin
	                                 * and stdout; sockd stops watching it meanwhile */
	HANDOFF_LISTEN_FDS,             /* the endpoint's sockets as fds 3.. (systemd Accept=no) */
	HANDOFF_ACCEPT_FDS,             /* each connection as fd 3 (systemd Accept=yes) */
};

struct exec_options {
	char **command;                 /* argv, NULL-terminated; command[0] is absolute */
	char *argv0;                    /* argv[0] instead of command[0], or NULL */
	int handoff;                    /* enum exec_handoff */
	bool start_at_launch;           /* listen-fds: start when the sockets open */
	char **env;                     /* "NAME=value", NULL-terminated; NULL = none */
	char *user;                     /* run the program as this user, or NULL */
	char *group;                    /* ... in this group, or NULL: the user's */
	uid_t uid;                      /* (uid_t)-1 = as sockd */
	gid_t gid;
	unsigned instances;             /* children at once; 0 = no own limit */
	int umask;                      /* -1 = inherit */
	int nice;                       /* NICE_UNSET = inherit */
	struct exec_rlimit *rlimits;
	size_t n_rlimits;
};

static inline const struct exec_options *
exec_options(const struct endpoint *ep)
{
	return ep->svc_opts;
}

/* The program takes ep's sockets themselves (exec with handoff "wait" or
 * "listen-fds"): no acceptor, no worker watches them, activator.c does. */
static inline bool
exec_holds_sockets(const struct endpoint *ep)
{
	const struct exec_options *eo = ep->svc_opts;

	return ep->service == &service_exec && eo &&
	       (eo->handoff == HANDOFF_WAIT || eo->handoff == HANDOFF_LISTEN_FDS);
}
