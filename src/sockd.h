/* The few types every part of sockd shares. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "acl.h"
#include "addr.h"
#include "admit.h"
#include "fdname.h"
#include "sockopt.h"

struct acl;
struct service;
struct tls_options;
struct source_table;

enum overload {
	OVERLOAD_WAIT,          /* stop accepting; the kernel backlog holds new clients */
	OVERLOAD_REJECT,        /* accept and close at once */
};

/* Counters are updated by the acceptor and the workers with relaxed atomics;
 * readers (STATUS=, later the control socket) only need a recent value. */
struct endpoint_stats {
	atomic_ulong accepted;          /* stream connections handed to workers */
	atomic_ulong refused_overload;  /* accepted and closed by overload = "reject" */
	atomic_ulong refused_acl;       /* allow/deny, allow_uid/allow_gid */
	atomic_ulong refused_limit;     /* max_connections, max_per_source of the endpoint */
	atomic_ulong refused_rate;      /* rate */
	atomic_ulong closed_idle;       /* idle_timeout or lifetime reached */
	atomic_ulong dropped_rate;      /* datagrams over udp_rate */
	atomic_ulong refused_proxy;     /* untrusted sender, bad or late PROXY header */
	atomic_ulong refused_sni;       /* routes: no route for the name, no usable ClientHello */
	atomic_ulong sni_routed;        /* routes: sent to the route for the server name */
	atomic_ulong sni_default;       /* routes: no route matched, sent to upstream */
	atomic_ulong failed;            /* exec could not start, forward found no upstream */
	atomic_ulong active;            /* stream connections open now */
	atomic_ulong datagrams_in;
	atomic_ulong datagrams_out;
	atomic_ulong dropped_guard;     /* datagrams the reflection guard ignored */
	atomic_ulong bytes_in;
	atomic_ulong bytes_out;
	atomic_ulong udp_sessions;      /* datagram forward sessions open now */
	atomic_ulong refused_sessions;  /* new datagram clients ignored: session budget held elsewhere */
	atomic_ulong evicted_source;    /* sessions ended for a new one: udp_sessions_per_source */
	atomic_ulong evicted_full;      /* ... the socket's table was full */
	atomic_ulong evicted_budget;    /* ... the daemon's session budget was used up */
	atomic_ulong tls_handshakes;    /* TLS handshakes completed */
	atomic_ulong tls_resumed;       /* ... of which resumed a session */
	atomic_ulong tls_failed[7];     /* failed handshakes by enum tls_fail (TLS_FAIL_N) */
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

	/* From inetd.conf: an address it cannot bind is left out with a
	 * warning instead of stopping the start or the reload. */
	bool optional;

	int backlog;
	bool v6only;
	struct sockopts so;             /* reuseport, rcvbuf, ... (sockopt.c) */
	enum overload overload;
	bool udp_guard;
	int mode;                       /* Unix socket file mode, -1 = leave it */
	uid_t owner;                    /* (uid_t)-1 = leave it */
	gid_t group;                    /* (gid_t)-1 = leave it */
	char *owner_name;               /* as written in the config, or NULL */
	char *group_name;

	struct acl *acl;                /* allow/deny CIDR rules; NULL = everyone */
	uid_t *allow_uid;               /* Unix peers (SO_PEERCRED) allowed by uid ... */
	size_t n_allow_uid;
	gid_t *allow_gid;               /* ... or by gid; both empty = everyone */
	size_t n_allow_gid;
	char **allow_uid_names;         /* n_allow_uid entries as written, for config_dump */
	char **allow_gid_names;         /* n_allow_gid entries as written */
	unsigned max_connections;       /* open connections of this endpoint; 0 = no own limit */
	unsigned max_per_source;        /* open connections per client address; 0 = no limit */
	double rate;                    /* new connections per second; 0 = no limit */
	unsigned burst;                 /* token bucket depth for rate */
	double udp_rate;                /* datagram replies per second per source; 0 = no limit */
	unsigned udp_burst;
	bool udp_rate_loopback;         /* udp_rate applies to loopback sources too */
	unsigned udp_sessions_per_source; /* datagram forward sessions per client address; 0 = no cap */
	double idle_timeout;            /* seconds without a byte either way; 0 = none */
	double lifetime;                /* seconds a connection may last; 0 = none */

	/* proxy_protocol: expect a PROXY header before the service starts. */
	int proxy_protocol;             /* 0 = none, else enum proxy_version (1, 2, 3 = any) */
	struct acl *proxy_from;         /* senders trusted to send it; NULL = any */
	double proxy_timeout;           /* seconds for the whole header */

	/* tls = { }: the connections speak TLS, which sockd terminates; its
	 * contexts (tls->server) are built at load. NULL = plaintext. */
	struct tls_options *tls;

	/* The keys of the endpoint's service, in that service's own struct
	 * (struct exec_options, struct forward_options, ...; see
	 * service->keys); NULL for a service without keys. */
	void *svc_opts;

	/* Runtime state that lives as long as the endpoint. */
	struct source_table *sources;   /* open connections per source (max_per_source);
	                                 * created by config_load for every endpoint */
	struct rate_limit rate_state;   /* acceptor thread only */
	uint64_t refusal_logged_ms;     /* acceptor thread only: last refusal logged */
	unsigned long refusals_unlogged;

	/* exec "wait", "listen-fds": the pid of a program holding its
	 * sockets now (the latest started, with several), 0 = none. Set by
	 * the activator thread, read for status. */
	atomic_int program_pid;

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
	char *include_dir;              /* *.conf fragments adding endpoints, or NULL */
	char *inetd_conf;               /* an inetd.conf to serve, or NULL */
	char *inetd_dir;                /* a directory of inetd.conf fragments, or NULL */
	char *control;                  /* control socket: "/path" or "@abstract", or NULL */
	uid_t uid;                      /* resolved at load; (uid_t)-1 without user */
	gid_t gid;                      /* resolved at load; (gid_t)-1 without user/group */
};

struct sockd_config {
	char *file;
	struct daemon_config daemon;
	struct endpoint **endpoints;    /* one reference each */
	size_t n_endpoints;
	size_t n_included;              /* then n_included from include_dir files */
	size_t n_inetd;                 /* and the last n_inetd from inetd_conf, inetd_dir */
	char **warnings;                /* "file: message": skipped, not refused; to log */
	size_t n_warnings;
};

/* One listening socket of an endpoint (listener.c opens and closes it).
 * The acceptor accepts on the stream ones; a worker serves each datagram
 * one; the monitor shows them all. */
struct listener {
	struct endpoint *ep;            /* holds a reference */
	struct addr addr;
	int fd;
	bool from_systemd;              /* from a .socket unit (not from the fd store) */
	bool inherited;                 /* kept from the previous sockd: fd store or upgrade */
	bool unlink_on_close;           /* a Unix socket file sockd (or its predecessor) made */
	bool keep_file;                 /* a copy lives on (fd store, upgrade): leave the file */
	char fdname[FDNAME_MAX + 1];    /* its name in the fd store and in an upgrade */
	char prev_fdname[FDNAME_MAX + 1]; /* inherited: the name it came under */
	bool enabled;                   /* in the acceptor's epoll set right now */
	bool local_is_loopback;         /* datagram: bound to a loopback address */
};

struct endpoint *endpoint_ref(struct endpoint *ep);
void endpoint_unref(struct endpoint *ep);       /* frees on the last reference; accepts NULL */
