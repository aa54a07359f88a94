/*
 * The rules that span keys: what a key needs besides itself (group needs
 * user, proxy_from needs proxy_protocol), which services and listen
 * addresses a key belongs with (from the tables' service sets and addrs),
 * what a service requires, and the rules across endpoints. Each rule has
 * its own message, and the rules run in a fixed order, so that a file with
 * several mistakes gets the same lines every time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_source.h"
#include "service.h"
#include "exec_options.h"
#include "forward_options.h"

/* What the listen addresses of an endpoint are, as far as they parsed. */
struct kinds {
	bool listen_ok;                 /* listen given, and every address parsed */
	bool has_path, has_ip, has_stream, has_dgram, has_unix_dgram;
};

/* ------------------------------------------------------------ daemon */

void
check_daemon(struct loader *l)
{
	struct daemon_config *dc = &l->cfg->daemon;
	const struct cval *user = loader_seen(l, NULL, "user");
	const struct cval *group = loader_seen(l, NULL, "group");
	int r;

	/* The names are only kept when they resolve: the rules across
	 * endpoints name daemon.user only when it is real. */
	if (group && !user) {
		key_error(&l->kc, group, "'group' requires 'user'");
		free(dc->group);
		dc->group = NULL;
		return;
	}
	if (user) {
		r = key_lookup_user(dc->user, &dc->uid, &dc->gid);
		if (r < 0) {
			key_lookup_error(&l->kc, user, "user", dc->user, r);
			free(dc->user);
			dc->user = NULL;
		}
	}
	if (group) {
		r = key_lookup_group(dc->group, &dc->gid);
		if (r < 0) {
			key_lookup_error(&l->kc, group, "group", dc->group, r);
			free(dc->group);
			dc->group = NULL;
		}
	}
}

/* ------------------------------------------------------------ endpoints */

static bool
service_serves(const struct service *svc, const struct addr *a)
{
	return svc->flags & (addr_is_stream(a) ? SERVICE_STREAM : SERVICE_DGRAM);
}

/* A key that makes sense only with some listen addresses (the table's
 * addrs), on an endpoint whose addresses all parsed. */
static void
check_addrs(struct loader *l, const struct ep_state *st, const struct key_set *set,
    const char *name, const struct kinds *h)
{
	const struct cval *v = loader_seen(l, st->ep, name);
	const struct key *k = key_find(set, name);

	if (!v || !k || !h->listen_ok)
		return;
	switch (k->addrs) {
	case KEY_ADDRS_UNIX_PATH:
		if (!h->has_path)
			key_error(&l->kc, v, "'%s' is only allowed with a Unix socket path address", name);
		break;
	case KEY_ADDRS_UNIX_CONN:
		/* Peer credentials exist only for Unix peers, and SO_PEERCRED
		 * tells nothing about a datagram's sender. */
		if (h->has_ip)
			key_error(&l->kc, v, "'%s' is only allowed on Unix socket endpoints", name);
		else if (h->has_unix_dgram)
			key_error(&l->kc, v, "'%s' is only allowed on Unix stream and seqpacket endpoints",
			    name);
		break;
	case KEY_ADDRS_IP:
		/* CIDR rules never match Unix peers: they would allow all. */
		if (!h->has_ip)
			key_error(&l->kc, v, "'%s' is only allowed on endpoints with tcp or udp addresses",
			    name);
		break;
	case KEY_ADDRS_TCP:
		/* CIDR rules never match Unix peers: the list would trust
		 * everyone. */
		if (!h->has_ip)
			key_error(&l->kc, v, "'%s' is only allowed on endpoints with tcp addresses "
			    "(allow_uid and allow_gid pick trusted Unix senders)", name);
		break;
	case KEY_ADDRS_STREAM:
		if (h->has_dgram)
			key_error(&l->kc, v, "'%s' is only allowed on stream endpoints "
			    "(tcp, unix, unix-seqpacket addresses only)", name);
		break;
	case KEY_ADDRS_ANY:
		break;
	}
}

/* The keys of another service than the endpoint's. */
static void
check_foreign(struct loader *l, const struct ep_state *st, const struct service *owner)
{
	if (!st->ep->service || st->ep->service->keys == owner->keys)
		return;
	for (const struct key *k = owner->keys->keys; k->name; k++) {
		const struct cval *v = loader_seen(l, st->ep, k->name);

		if (v)
			key_error(&l->kc, v, "'%s' is only allowed with service '%s'", k->name,
			    owner->name);
	}
}

/* The keys a service cannot do without (the table's required). */
static bool
check_required(struct loader *l, const struct ep_state *st)
{
	const struct service *svc = st->ep->service;
	bool ok = true;

	for (const struct key *k = svc->keys->keys; k->name; k++) {
		if (k->required && !loader_seen(l, st->ep, k->name)) {
			key_error(&l->kc, st->group, "endpoint %s has no '%s' (service '%s' requires it)",
			    st->label, k->name, svc->name);
			ok = false;
		}
	}
	return ok;
}

/* proxy_*: the header must be expected before anything is said about it. */
static void
check_proxy(struct loader *l, const struct ep_state *st, const struct kinds *h)
{
	static const char *const needs_proxy[] = { "proxy_from", "proxy_timeout" };
	const struct cval *v;

	if (!loader_seen(l, st->ep, "proxy_protocol")) {
		for (size_t i = 0; i < 2; i++)
			if ((v = loader_seen(l, st->ep, needs_proxy[i])))
				key_error(&l->kc, v, "'%s' requires 'proxy_protocol'", needs_proxy[i]);
		return;
	}
	check_addrs(l, st, &endpoint_keys, "proxy_protocol", h);
	check_addrs(l, st, &endpoint_keys, "proxy_from", h);
}

/* forward: a stream client is relayed to a stream upstream, a datagram one
 * to a datagram upstream; one endpoint cannot be both. */
static void
check_forward(struct loader *l, const struct ep_state *st, const struct kinds *h)
{
	const struct endpoint *ep = st->ep;
	const struct forward_options *fo = forward_options(ep);
	const struct cval *up = loader_seen(l, ep, "upstream"), *e;
	char buf[ADDR_STRLEN];
	size_t n = 0, j = 0;
	struct addr a;
	const char *why;

	if (!h->listen_ok)
		return;
	/* Only said when the service serves both kinds: otherwise the
	 * address is wrong anyway. */
	if (h->has_stream && h->has_dgram) {
		if ((ep->service->flags & SERVICE_STREAM) && (ep->service->flags & SERVICE_DGRAM))
			key_error(&l->kc, loader_seen(l, ep, "listen"), "service 'forward' needs 'listen' "
			    "addresses of one kind: all stream (tcp, unix, unix-seqpacket) or all "
			    "datagram (udp, unix-dgram)");
		return;
	}
	check_addrs(l, st, ep->service->keys, "send_proxy", h);
	if ((e = loader_seen(l, ep, "upstream_user"))) {
		bool unix_up = false;

		for (size_t i = 0; i < fo->n_upstream; i++)
			unix_up |= addr_family(&fo->upstream[i]) == AF_UNIX;
		if (h->has_dgram || !unix_up)
			key_error(&l->kc, e, "'upstream_user' applies to Unix stream upstreams "
			    "(unix, unix-seqpacket), and endpoint %s has none", st->label);
	}
	/* Only the upstreams that parsed, each with its own line. */
	e = up->type == CVAL_STRING ? up : cval_is_seq(up) ? up->elems : NULL;
	n = up->type == CVAL_STRING ? 1 : cval_is_seq(up) ? up->n : 0;
	for (size_t i = 0; i < n && j < fo->n_upstream; i++) {
		const struct addr *u = &fo->upstream[j];

		why = "?";
		if (e[i].type != CVAL_STRING || addr_parse(e[i].s, &a, &why) < 0)
			continue;
		j++;
		addr_format(u, buf, sizeof(buf));
		if (h->has_stream && !addr_is_stream(u))
			key_error(&l->kc, &e[i], "upstream '%s' is a datagram address, "
			    "but endpoint %s listens on stream addresses (tcp, unix, unix-seqpacket)",
			    buf, st->label);
		else if (h->has_dgram && addr_is_stream(u))
			key_error(&l->kc, &e[i], "upstream '%s' is a stream address, "
			    "but endpoint %s listens on datagram addresses (udp, unix-dgram)",
			    buf, st->label);
		for (size_t k = 0; k < ep->n_listen; k++)
			if (addr_equal(u, &ep->listen[k]))
				key_error(&l->kc, &e[i],
				    "upstream '%s' is a listen address of endpoint %s itself",
				    buf, st->label);
	}
}

/* exec's handoff modes. With "wait" and "listen-fds" sockd never sees a
 * connection or a datagram (the program takes them off the socket), so
 * the keys about admitting clients cannot work, and one program holds the
 * socket at a time. "nowait" and "accept-fds" hand over connections, which
 * datagram sockets do not have. */
static void
check_exec(struct loader *l, const struct ep_state *st, const struct kinds *h)
{
	static const char *const per_client[] = {
		"overload", "max_connections", "max_per_source", "rate", "burst", "udp_rate",
		"udp_burst", "udp_rate_loopback", "idle_timeout", "lifetime", "allow", "deny",
		"allow_uid", "allow_gid", "proxy_protocol",
	};
	const struct endpoint *ep = st->ep;
	const struct exec_options *eo = exec_options(ep);
	const struct cval *hv = loader_seen(l, ep, "handoff"), *v;
	const char *mode = hv && hv->type == CVAL_STRING ? hv->s : "nowait";
	bool holds_socket = eo->handoff == HANDOFF_WAIT || eo->handoff == HANDOFF_LISTEN_FDS;
	char buf[ADDR_STRLEN];

	if ((v = loader_seen(l, ep, "start_at_launch")) && eo->handoff != HANDOFF_LISTEN_FDS)
		key_error(&l->kc, v, "'start_at_launch' requires handoff = \"listen-fds\"");
	if (!holds_socket) {
		for (size_t i = 0; i < ep->n_listen && h->listen_ok; i++) {
			if (addr_is_stream(&ep->listen[i]))
				continue;
			addr_format(&ep->listen[i], buf, sizeof(buf));
			key_error(&l->kc, hv ? hv : st->listen_at[i], "service 'exec' serves datagram "
			    "addresses like '%s' only with handoff = \"wait\" or \"listen-fds\" "
			    "(handoff = \"%s\" hands over connections)", buf, mode);
			break;
		}
		return;
	}
	if (eo->handoff == HANDOFF_LISTEN_FDS && ep->n_listen > EXEC_FDS_MAX)
		key_error(&l->kc, loader_seen(l, ep, "listen"), "handoff = \"listen-fds\" passes at "
		    "most %d sockets to one program", EXEC_FDS_MAX);
	if ((v = loader_seen(l, ep, "instances")) && eo->instances > 1)
		key_error(&l->kc, v, "'instances' must be 0 or 1 with handoff = \"%s\": "
		    "one program holds the socket at a time", mode);
	for (size_t i = 0; i < sizeof(per_client) / sizeof(per_client[0]); i++)
		if ((v = loader_seen(l, ep, per_client[i])))
			key_error(&l->kc, v, "'%s' does not apply with handoff = \"%s\": "
			    "the program takes the clients off the socket, not sockd",
			    per_client[i], mode);
}

/* Keys whose address rule runs at a place of its own above, so that a
 * file with several mistakes keeps getting its lines in the same order;
 * any other key with an addrs in its row is checked by check_rest(). */
static bool
checked_in_place(const char *name)
{
	static const char *const names[] = {
		"mode", "owner", "group", "allow_uid", "allow", "allow_gid", "deny",
		"proxy_protocol", "proxy_from", "send_proxy",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

static void
check_rest(struct loader *l, const struct ep_state *st, const struct key_set *set,
    const struct kinds *h)
{
	for (const struct key *k = set->keys; k->name; k++)
		if (k->addrs != KEY_ADDRS_ANY && !checked_in_place(k->name))
			check_addrs(l, st, set, k->name, h);
}

void
check_endpoint(struct loader *l, struct ep_state *st)
{
	static const char *const required[] = { "name", "listen", "service" };
	const struct endpoint *ep = st->ep;
	struct kinds h = { 0 };
	char buf[ADDR_STRLEN];

	for (size_t i = 0; i < 3; i++)
		if (!loader_seen(l, ep, required[i]))
			key_error(&l->kc, st->group, "endpoint %s has no '%s'", st->label, required[i]);

	for (size_t i = 0; i < ep->n_listen; i++) {
		const struct addr *a = &ep->listen[i];

		if (addr_is_unix_path(a))
			h.has_path = true;
		if (addr_family(a) != AF_UNIX)
			h.has_ip = true;
		if (addr_is_stream(a))
			h.has_stream = true;
		else
			h.has_dgram = true;
		if (a->type == ADDR_UNIX_DGRAM)
			h.has_unix_dgram = true;
		if (ep->service && !service_serves(ep->service, a)) {
			addr_format(a, buf, sizeof(buf));
			key_error(&l->kc, st->listen_at[i],
			    "service '%s' does not serve %s addresses like '%s'",
			    ep->service->name, addr_is_stream(a) ? "stream" : "datagram", buf);
		}
	}
	/* With a bad address we cannot tell whether a Unix path was meant. */
	h.listen_ok = loader_seen(l, ep, "listen") && !st->listen_bad;

	check_addrs(l, st, &endpoint_keys, "mode", &h);
	check_addrs(l, st, &endpoint_keys, "owner", &h);
	check_addrs(l, st, &endpoint_keys, "group", &h);
	check_addrs(l, st, &endpoint_keys, "allow_uid", &h);
	check_addrs(l, st, &endpoint_keys, "allow", &h);
	check_addrs(l, st, &endpoint_keys, "allow_gid", &h);
	check_addrs(l, st, &endpoint_keys, "deny", &h);

	check_foreign(l, st, &service_daytime);
	check_proxy(l, st, &h);
	check_rest(l, st, &endpoint_keys, &h);
	if (!ep->service)
		return;
	check_foreign(l, st, &service_exec);
	if (ep->service == &service_exec && check_required(l, st))
		check_exec(l, st, &h);
	check_foreign(l, st, &service_forward);
	if (ep->service == &service_forward && check_required(l, st))
		check_forward(l, st, &h);
	/* Any other service's keys: the same rules, from its table. */
	for (const struct service *const *s = service_table; *s; s++) {
		if (!(*s)->keys || *s == &service_daytime || *s == &service_exec ||
		    *s == &service_forward)
			continue;
		check_foreign(l, st, *s);
		if (ep->service == *s)
			check_required(l, st);
	}
	if (ep->service->keys)
		check_rest(l, st, ep->service->keys, &h);
}

/* ------------------------------------------------------------ across */

/* After privilege drop sockd cannot switch users: an exec 'user' is only
 * possible with no daemon.user, or when it is daemon.user anyway. */
static void
check_exec_user(struct loader *l, struct endpoint *ep)
{
	const struct daemon_config *dc = &l->cfg->daemon;
	struct exec_options *eo = ep->svc_opts;

	if (!dc->user || !eo->user)
		return;
	if (eo->uid == dc->uid && eo->gid == dc->gid) {
		/* Already who the child is: setgroups() would fail. */
		eo->uid = (uid_t)-1;
		eo->gid = (gid_t)-1;
		return;
	}
	key_error(&l->kc, loader_seen(l, ep, "user"), "exec 'user' needs sockd to run as root: "
	    "remove daemon.user or run the program as '%s%s%s'",
	    dc->user, dc->group ? ":" : "", dc->group ? dc->group : "");
}

/* A worker thread connects to a Unix upstream as upstream_user by
 * switching its own effective ids for the connect() (service_forward.c):
 * that takes root, kept for good, so no daemon.user. Being that user
 * already needs no switch. */
static void
check_upstream_user(struct loader *l, struct endpoint *ep)
{
	const struct daemon_config *dc = &l->cfg->daemon;
	struct forward_options *fo = ep->svc_opts;
	const struct cval *v = loader_seen(l, ep, "upstream_user");
	uid_t uid = dc->user ? dc->uid : geteuid();
	gid_t gid = dc->user ? dc->gid : getegid();

	if (!fo->upstream_user)
		return;
	if (fo->upstream_uid == uid && fo->upstream_gid == gid) {
		fo->upstream_uid = (uid_t)-1;
		fo->upstream_gid = (gid_t)-1;
		return;
	}
	if (dc->user)
		key_error(&l->kc, v, "'upstream_user' needs sockd to keep root, but it switches to "
		    "daemon.user '%s': remove daemon.user or connect as '%s%s%s'",
		    dc->user, dc->user, dc->group ? ":" : "", dc->group ? dc->group : "");
	else if (geteuid() != 0)
		key_error(&l->kc, v, "'upstream_user' needs sockd to run as root (it runs as uid %u)",
		    (unsigned)geteuid());
}

void
check_across(struct loader *l)
{
	for (size_t i = 0; i < l->cfg->n_endpoints && !l->kc.nomem; i++) {
		struct endpoint *ep = l->cfg->endpoints[i];

		if (ep->service == &service_exec && ep->svc_opts)
			check_exec_user(l, ep);
		else if (ep->service == &service_forward && ep->svc_opts)
			check_upstream_user(l, ep);
	}
}
