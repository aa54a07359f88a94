/* The few types every part of sockd shares. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

struct service;

enum overload {
	OVERLOAD_WAIT,          /* stop accepting; the kernel backlog holds new clients */
	OVERLOAD_REJECT,        /* accept and close at once */
};

/* Counters are updated by the acceptor and the workers with relaxed atomics;
 * readers (STATUS=, later the control socket) only need a recent value. */
struct endpoint_stats {
	atomic_ulong accepted;          /* stream connections handed to workers */
	atomic_ulong refused_overload;  /* accepted and closed by overload = "reject" */
	atomic_ulong active;            /* stream connections open now */
	atomic_ulong datagrams_in;
	atomic_ulong datagrams_out;
	atomic_ulong dropped_guard;     /* datagrams the reflection guard ignored */
	atomic_ulong bytes_in;
	atomic_ulong bytes_out;
};

/* One configured endpoint: a service behind one or more listen addresses.
 * Immutable once loaded, except for refs and stats. Every listener and
 * connection holds a reference, so an endpoint outlives the config that
 * declared it for as long as anything uses it. */
struct endpoint {
	char *name;
	char *file;                     /* where it was declared, for messages */
	int line;
	const struct service *service;
	struct addr *listen;
	size_t n_listen;

	int backlog;
	bool v6only;
	enum overload overload;
	bool udp_guard;
	int mode;                       /* Unix socket file mode, -1 = leave it */
	uid_t owner;                    /* (uid_t)-1 = leave it */
	gid_t group;                    /* (gid_t)-1 = leave it */
	char *owner_name;               /* as written in the config, or NULL */
	char *group_name;
	char *daytime_format;           /* strftime format; never NULL */

	atomic_uint refs;
	struct endpoint_stats stats;
};

struct daemon_config {
	unsigned workers;               /* 0 = one per CPU we may run on */
	unsigned queue;
	unsigned max_connections;
	double shutdown_timeout;        /* seconds */
	int log_level;                  /* LOG_ERR .. LOG_DEBUG */
	char *user;                     /* drop to this user after binding, or NULL */
	char *group;                    /* and this group (default: the user's), or NULL */
	uid_t uid;                      /* resolved at load; (uid_t)-1 without user */
	gid_t gid;                      /* resolved at load; (gid_t)-1 without user/group */
};

struct sockd_config {
	char *file;
	struct daemon_config daemon;
	struct endpoint **endpoints;    /* one reference each */
	size_t n_endpoints;
};

struct endpoint *endpoint_ref(struct endpoint *ep);
void endpoint_unref(struct endpoint *ep);       /* frees on the last reference; accepts NULL */
