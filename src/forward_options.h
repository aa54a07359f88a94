/* Options of service "forward", set by its keys (declared in service_forward.c); read by service_forward.c and udp_relay.c. Header only. */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

#include "addr.h"
#include "sockd.h"
#include "sockopt.h"

enum balance {
	BALANCE_FIRST,                  /* always start with the first upstream */
	BALANCE_ROUNDROBIN,
};

/* One route of SNI routing (key routes): clients whose ClientHello names
 * one of server_names go to upstream. */
struct fwd_route {
	char **server_names;            /* patterns, lower-cased: "a.example", "*.b.example" */
	size_t n_names;
	struct addr *upstream;
	size_t n_upstream;
	atomic_uint rr_next;            /* roundrobin position */
};

struct forward_options {
	struct addr *upstream;          /* with routes: the default route, or none */
	size_t n_upstream;
	struct fwd_route *routes;       /* SNI routing when n_routes > 0 */
	size_t n_routes;
	double sni_timeout;             /* seconds for the whole ClientHello */
	struct upstream_tls_options *upstream_tls;      /* TLS to the upstream, or NULL */
	double connect_timeout;         /* seconds per upstream attempt */
	int balance;                    /* enum balance */
	int send_proxy;                 /* 0 = none, else PROXY_V1 or PROXY_V2 */
	char *upstream_user;            /* connect to Unix upstreams as this user, or NULL */
	char *upstream_group;
	uid_t upstream_uid;             /* (uid_t)-1 = as sockd */
	gid_t upstream_gid;
	struct upstream_sockopts up_so; /* upstream_source, upstream_keepalive, ... */
	atomic_uint rr_next;            /* roundrobin position (streams) */
};

static inline struct forward_options *
forward_options(const struct endpoint *ep)
{
	return ep->svc_opts;
}
