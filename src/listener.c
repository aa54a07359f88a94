#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "activator.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "queue.h"
#include "runtime.h"
#include "service.h"
#include "sockopt.h"
#include "systemd.h"
#include "udp_guard.h"

#define ACCEPTS_PER_ROUND 64            /* per listener, so busy listeners share fairly */
#define EMFILE_PAUSE_MS 100
#define REFUSAL_LOG_MS 10000            /* at most one refusal line per endpoint this often */
#define NGROUPS_MAX_PEER 256            /* supplementary groups looked at for allow_gid */

/* ------------------------------------------------------------ opening */

struct listener *
listener_new(struct endpoint *ep, const struct addr *a, int fd)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->ep = endpoint_ref(ep);
	l->addr = *a;
	l->fd = fd;
	fdname_listener(ep->name, a, l->fdname);
	l->local_is_loopback = udp_guard_is_loopback((const struct sockaddr *)&a->sa, a->len);
	return l;
}

void
listener_free(struct listener *l)
{
	if (!l)
		return;
	if (l->fd >= 0)
		close(l->fd);
	if (l->unlink_on_close && !l->keep_file) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&l->addr.sa;

		unlink(un->sun_path);
	}
	endpoint_unref(l->ep);
	free(l);
}

/* A socket file is in the way: replace it only when nothing listens there. */
static int
unix_clear_stale(const struct addr *a, const char *text)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
	struct stat st;
	int fd, r;

	if (lstat(un->sun_path, &st) == -1)
		return errno == ENOENT ? 0 : log_errno(errno, "%s: stat", text);
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s: '%s' exists and is not a socket", text, un->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, addr_socktype(a) | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return log_errno(errno, "%s: socket", text);
	r = connect(fd, (const struct sockaddr *)&a->sa, a->len);
	close(fd);
	if (r == 0) {
		log_err("%s: another process is listening on '%s'", text, un->sun_path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED)
		return log_errno(errno, "%s: probing '%s'", text, un->sun_path);
	if (unlink(un->sun_path) == -1 && errno != ENOENT)
		return log_errno(errno, "%s: removing stale socket '%s'", text, un->sun_path);
	log_info("%s: removed stale socket file", text);
	return 0;
}

static int
unix_apply_perms(const struct endpoint *ep, const char *path, const char *text)
{
	if (ep->mode >= 0 && chmod(path, (mode_t)ep->mode) == -1)
		return log_errno(errno, "%s: chmod %04o", text, (unsigned)ep->mode);
	if ((ep->owner != (uid_t)-1 || ep->group != (gid_t)-1) &&
	    chown(path, ep->owner, ep->group) == -1)
		return log_errno(errno, "%s: chown", text);
	return 0;
}

int
listener_bind(struct endpoint *ep, const struct addr *a, struct listener **out)
{
	char text[ADDR_STRLEN];
	struct listener *l = NULL;
	int fd, r, one = 1;

	addr_format(a, text, sizeof(text));
	if (addr_is_unix_path(a)) {
		r = unix_clear_stale(a, text);
		if (r < 0)
			return r;
	}
	fd = socket(addr_family(a), addr_socktype(a) | SOCK_CLOEXEC | SOCK_NONBLOCK, addr_protocol(a));
	if (fd == -1 && addr_protocol(a) == IPPROTO_MPTCP &&
	    (errno == EPROTONOSUPPORT || errno == ENOPROTOOPT || errno == EINVAL)) {
		/* EPROTONOSUPPORT: a kernel without CONFIG_MPTCP; ENOPROTOOPT:
		 * net.mptcp.enabled = 0 in this network namespace. */
		log_err("%s: this kernel does not offer MPTCP here (%s): it needs CONFIG_MPTCP and "
			"sysctl net.mptcp.enabled = 1; use a tcp: address instead", text, strerror(errno));
		return -EPROTONOSUPPORT;
	}
	if (fd == -1)
		return log_errno(errno, "%s: socket", text);
	if (addr_family(a) != AF_UNIX && addr_is_stream(a) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1) {
		r = log_errno(errno, "%s: SO_REUSEADDR", text);
		goto out_close;
	}
	if (addr_family(a) == AF_INET6) {
		int v6only = ep->v6only;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1) {
			r = log_errno(errno, "%s: IPV6_V6ONLY", text);
			goto out_close;
		}
	}
	r = sockopt_apply(fd, a, &ep->so, NULL, SOCKOPT_NEW, text);
	if (r < 0)
		goto out_close;
	if (bind(fd, (const struct sockaddr *)&a->sa, a->len) == -1) {
		r = log_errno(errno, "%s: bind", text);
		goto out_close;
	}
	l = listener_new(ep, a, fd);
	if (!l) {
		r = log_errno(ENOMEM, "%s", text);
		goto out_close;
	}
	l->unlink_on_close = addr_is_unix_path(a);
	fd = -1;
	/* Permissions before listen(), so nobody connects through a wider mode. */
	if (addr_is_unix_path(a)) {
		r = unix_apply_perms(ep, ((const struct sockaddr_un *)&a->sa)->sun_path, text);
		if (r < 0)
			goto out_free;
	}
	if (addr_is_stream(a) && listen(l->fd, ep->backlog) == -1) {
		r = log_errno(errno, "%s: listen", text);
		goto out_free;
	}
	log_info("listening on %s (%s)", text, ep->name);
	*out = l;
	return 0;

out_free:
	listener_free(l);
	return r;
out_close:
	close(fd);
	return r;
}

/* What a passed socket is. A connected stream socket (Accept=yes) cannot
 * be served by a super-server that accepts itself. */
static int
passed_fd_addr(const struct passed_fd *p, struct addr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), olen;
	int type, listening = 0, r, flags, proto = 0;
	struct stat st;

	if (fstat(p->fd, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		log_err("fd %d '%s' from systemd is not a socket", p->fd, p->name);
		return -ENOTSOCK;
	}
	olen = sizeof(type);
	if (getsockopt(p->fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1)
		return log_errno(errno, "fd %d '%s' from systemd: SO_TYPE", p->fd, p->name);
	if (getsockname(p->fd, (struct sockaddr *)&ss, &len) == -1)
		return log_errno(errno, "fd %d '%s' from systemd: getsockname", p->fd, p->name);
	if (type == SOCK_STREAM || type == SOCK_SEQPACKET) {
		olen = sizeof(listening);
		if (getsockopt(p->fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) == -1)
			return log_errno(errno, "fd %d '%s' from systemd: SO_ACCEPTCONN", p->fd, p->name);
		if (!listening) {
			log_err("fd %d '%s' from systemd is a connected socket: sockd accepts "
				"connections itself, so its .socket unit needs Accept=no", p->fd, p->name);
			return -EINVAL;
		}
	}
	r = addr_from_sockaddr(type, (const struct sockaddr *)&ss, len, a);
	if (r < 0) {
		log_err("fd %d '%s' from systemd has an unsupported address family", p->fd, p->name);
		return r;
	}
	/* systemd 252 cannot make MPTCP listeners, but a socket handed back
	 * (an fd store) may be one: it stands for an mptcp: address. */
	olen = sizeof(proto);
	if (a->type == ADDR_TCP && getsockopt(p->fd, SOL_SOCKET, SO_PROTOCOL, &proto, &olen) == 0 &&
	    proto == IPPROTO_MPTCP)
		a->type = ADDR_MPTCP;
	/* systemd passes sockets blocking; the acceptor and the workers must
	 * never block on one. */
	flags = fcntl(p->fd, F_GETFL);
	if (flags == -1 || fcntl(p->fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return log_errno(errno, "fd %d '%s' from systemd: O_NONBLOCK", p->fd, p->name);
	return 0;
}

/* The endpoint a passed fd belongs to: by FileDescriptorName first, then by
 * an equal listen address. *covers is the listen address it stands for. */
static struct endpoint *
passed_fd_match(const struct sockd_config *cfg, const struct passed_fd *p, const struct addr *a,
		const struct addr **covers)
{
	*covers = NULL;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		struct endpoint *ep = cfg->endpoints[i];

		/* A name sockd gave its own socket says nothing about where
		 * it belongs now: only its address does. */
		if (fdname_is_listener(p->name) || strcmp(ep->name, p->name) != 0)
			continue;
		for (size_t j = 0; j < ep->n_listen; j++)
			if (addr_equal(&ep->listen[j], a))
				*covers = &ep->listen[j];
		return ep;
	}
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		struct endpoint *ep = cfg->endpoints[i];

		for (size_t j = 0; j < ep->n_listen; j++)
			if (addr_equal(&ep->listen[j], a)) {
				*covers = &ep->listen[j];
				return ep;
			}
	}
	return NULL;
}

static bool
service_serves(const struct endpoint *ep, const struct addr *a)
{
	return ep->service->flags & (addr_is_stream(a) ? SERVICE_STREAM : SERVICE_DGRAM);
}

static int
listeners_push(struct listener ***v, size_t *n, struct listener *l)
{
	struct listener **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = l;
	*v = nv;
	return 0;
}

/* A socket sockd kept (fd store, upgrade) that it will not use: out of
 * the store too, or it would come back at every restart. */
static void
drop_kept(struct passed_fd *p, const char *why)
{
	if (why)
		log_notice("fd %d '%s': %s", p->fd, p->name, why);
	systemd_fdstore_remove(p->name);
	close(p->fd);
	p->fd = -1;
}

static bool
is_covered(const struct addr **covered, size_t n, const struct addr *a)
{
	for (size_t k = 0; k < n; k++)
		if (covered[k] == a)
			return true;
	return false;
}

/* A kept Unix socket whose file was removed (or replaced by something
 * else) since can no longer be reached by its path. */
static bool
unix_file_present(const struct addr *a)
{
	const struct sockaddr_un *un = (const struct sockaddr_un *)&a->sa;
	struct stat st;

	return lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode);
}

int
listeners_open(const struct sockd_config *cfg, struct listener ***out, size_t *n_out, int *control_fd,
	       struct strv *stale)
{
	struct passed_fd *passed = NULL;
	const struct addr **covered = NULL;
	struct listener **v = NULL;
	size_t n = 0, n_covered = 0;
	int n_passed, r = 0;

	n_passed = systemd_listen_fds(&passed);
	if (n_passed < 0)
		return log_errno(n_passed, "reading sockets passed by systemd");
	if (n_passed > 0) {
		covered = calloc((size_t)n_passed, sizeof(*covered));
		if (!covered) {
			r = log_errno(ENOMEM, "sockets from systemd");
			goto out;
		}
	}

	for (int i = 0; i < n_passed; i++) {
		struct passed_fd *p = &passed[i];
		bool ours = fdname_is_listener(p->name);
		char text[ADDR_STRLEN];
		struct endpoint *ep;
		struct listener *l;
		struct addr a;

		if (strcmp(p->name, FDNAME_CONTROL) == 0 && control_fd && *control_fd < 0) {
			*control_fd = p->fd;
			p->fd = -1;
			continue;
		}
		r = passed_fd_addr(p, &a);
		if (r < 0) {
			if (!ours)
				goto out;
			/* Not worth failing the start for: bind it anew. */
			drop_kept(p, "unusable, ignoring");
			r = 0;
			continue;
		}
		addr_format(&a, text, sizeof(text));
		ep = passed_fd_match(cfg, p, &a, &covered[n_covered]);
		if (ours && (!ep || !covered[n_covered])) {
			log_info("%s (%s) is no longer configured: closing it", text, p->name);
			if (stale && addr_is_unix_path(&a) &&
			    strv_push(stale, ((const struct sockaddr_un *)&a.sa)->sun_path) < 0)
				log_warn("%s: out of memory, its file stays", text);
			drop_kept(p, NULL);
			continue;
		}
		if (!ep) {
			log_warn("%s (fd %d '%s') from systemd matches no endpoint, closing it",
				 text, p->fd, p->name);
			close(p->fd);
			p->fd = -1;
			continue;
		}
		if (covered[n_covered] && is_covered(covered, n_covered, covered[n_covered])) {
			/* A .socket unit and the fd store both hold it (or the
			 * store twice): the first one passed wins. */
			log_info("%s (fd %d '%s') is passed twice, closing the second", text, p->fd, p->name);
			if (ours)
				drop_kept(p, NULL);
			else
				close(p->fd);
			p->fd = -1;
			continue;
		}
		if (ours && addr_is_unix_path(&a) && !unix_file_present(&a)) {
			drop_kept(p, "its socket file is gone, binding it anew");
			continue;
		}
		if (!service_serves(ep, &a)) {
			log_err("%s (fd %d '%s') from systemd: service %s cannot serve it",
				text, p->fd, p->name, ep->service->name);
			r = -EINVAL;
			goto out;
		}
		if (covered[n_covered])
			n_covered++;
		sockopt_apply(p->fd, &a, &ep->so, NULL, SOCKOPT_ADOPTED, text);
		l = listener_new(ep, &a, p->fd);
		if (!l || listeners_push(&v, &n, l) < 0) {
			listener_free(l);
			r = log_errno(ENOMEM, "%s", text);
			goto out;
		}
		p->fd = -1;
		if (ours) {
			l->inherited = true;
			l->unlink_on_close = addr_is_unix_path(&a);
			/* Until this start succeeds (daemon_start). */
			l->keep_file = true;
			snprintf(l->prev_fdname, sizeof(l->prev_fdname), "%s", p->name);
			log_info("listening on %s (%s, kept from the previous sockd)", text, ep->name);
		} else {
			l->from_systemd = true;
			log_info("listening on %s (%s, from systemd)", text, ep->name);
		}
	}

	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		struct endpoint *ep = cfg->endpoints[i];

		for (size_t j = 0; j < ep->n_listen; j++) {
			struct listener *l = NULL;
			bool done = false;

			for (size_t k = 0; k < n_covered; k++)
				done |= covered[k] == &ep->listen[j];
			if (done)
				continue;
			r = listener_bind(ep, &ep->listen[j], &l);
			if (r < 0 && r != -ENOMEM && ep->optional) {
				char text[ADDR_STRLEN];

				log_warn("%s:%d: endpoint %s is not served on %s: %s, ignoring",
					 ep->file, ep->line, ep->name,
					 addr_format(&ep->listen[j], text, sizeof(text)), strerror(-r));
				r = 0;
				continue;
			}
			if (r < 0)
				goto out;
			if (listeners_push(&v, &n, l) < 0) {
				listener_free(l);
				r = log_errno(ENOMEM, "listeners");
				goto out;
			}
		}
	}

out:
	for (int i = 0; i < n_passed; i++) {
		if (passed[i].fd >= 0)
			close(passed[i].fd);
		free(passed[i].name);
	}
	free(passed);
	free(covered);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			listener_free(v[i]);
		free(v);
		return r;
	}
	*out = v;
	*n_out = n;
	return 0;
}

/* ------------------------------------------------------------ acceptor */

/* epoll data for the acceptor: listeners by index, and these. */
enum {
	ACC_WAKE = UINT32_MAX - 2,
	ACC_ROOM,
	ACC_TIMER,
};

struct acceptor_state {
	struct sockd *d;
	int timerfd;
	bool emfile;                    /* paused: out of file descriptors */
	bool emfile_logged;             /* this episode was logged */
};

static bool
have_room(struct sockd *d)
{
	if (atomic_load(&d->active) >= d->max_connections) {
		/* Ask workers to wake us, then look again: a close between
		 * the two loads would otherwise go unnoticed. */
		atomic_store(&d->acceptor_waiting, true);
		if (atomic_load(&d->active) >= d->max_connections)
			return false;
		atomic_store(&d->acceptor_waiting, false);
	}
	return queue_has_room(d->queue);
}

static void
listener_enable(struct sockd *d, struct listener *l, size_t idx, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.u64 = idx };

	if (l->enabled == on)
		return;
	if (epoll_ctl(d->acceptor_epfd, EPOLL_CTL_MOD, l->fd, &ev) == -1) {
		log_warn_errno(errno, "endpoint %s: epoll_ctl, ignoring", l->ep->name);
		return;
	}
	l->enabled = on;
}

/* Listen while there is room; without room, only endpoints that reject. */
static void
acceptor_update(struct acceptor_state *st)
{
	struct sockd *d = st->d;
	bool room = have_room(d);

	for (size_t i = 0; i < d->n_listeners; i++) {
		struct listener *l = d->listeners[i];

		if (!addr_is_stream(&l->addr) || activator_owns(l))
			continue;
		listener_enable(d, l, i, !st->emfile && (room || l->ep->overload == OVERLOAD_REJECT));
	}
}

static void
emfile_pause(struct acceptor_state *st, int err)
{
	struct itimerspec its = { .it_value.tv_nsec = EMFILE_PAUSE_MS * 1000000L };

	st->emfile = true;
	if (!st->emfile_logged) {
		log_warn("out of file descriptors (accept: %s), pausing accepts", strerror(err));
		st->emfile_logged = true;
	}
	timerfd_settime(st->timerfd, 0, &its, NULL);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The peer's supplementary groups, as they were when it connected. */
static bool
peer_in_groups(const struct endpoint *ep, int fd)
{
	gid_t groups[NGROUPS_MAX_PEER];
	socklen_t len = sizeof(groups);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return false;
	for (size_t g = 0; g < len / sizeof(gid_t); g++)
		for (size_t i = 0; i < ep->n_allow_gid; i++)
			if (ep->allow_gid[i] == groups[g])
				return true;
	return false;
}

static bool
peer_cred_allowed(const struct endpoint *ep, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (ep->n_allow_uid == 0 && ep->n_allow_gid == 0)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return false;
	for (size_t i = 0; i < ep->n_allow_uid; i++)
		if (ep->allow_uid[i] == cred.uid)
			return true;
	for (size_t i = 0; i < ep->n_allow_gid; i++)
		if (ep->allow_gid[i] == cred.gid)
			return true;
	return ep->n_allow_gid && peer_in_groups(ep, fd);
}

/* A client can drive refusals as fast as it connects: say so at most once
 * per REFUSAL_LOG_MS per endpoint, with how many went unsaid. */
static void
log_refusal(struct endpoint *ep, const char *why, const struct sockaddr *peer, socklen_t len)
{
	uint64_t now = now_ms();
	char text[ADDR_STRLEN];

	if (ep->refusal_logged_ms && now - ep->refusal_logged_ms < REFUSAL_LOG_MS) {
		ep->refusals_unlogged++;
		return;
	}
	if (ep->refusals_unlogged)
		log_notice("endpoint %s: refused %s (%s), and %lu more since the last such line",
			   ep->name, addr_format_peer(peer, len, text, sizeof(text)), why, ep->refusals_unlogged);
	else
		log_notice("endpoint %s: refused %s (%s)", ep->name,
			   addr_format_peer(peer, len, text, sizeof(text)), why);
	ep->refusal_logged_ms = now;
	ep->refusals_unlogged = 0;
}

/* Access and limits of the endpoint itself; on refusal fd is closed.
 * On success the connection is counted on the endpoint (and its source). */
static bool
admit(struct endpoint *ep, int fd, const struct sockaddr *peer, socklen_t len, bool *source_counted)
{
	const char *why = NULL;
	atomic_ulong *counter = NULL;

	*source_counted = false;
	if (ep->proxy_protocol) {
		/* Only trusted proxies may speak for a client; allow/deny and
		 * max_per_source apply to that client, once its header is in. */
		if (!acl_allows(ep->proxy_from, peer, len) || !peer_cred_allowed(ep, fd)) {
			why = "not a trusted PROXY sender";
			counter = &ep->stats.refused_proxy;
		}
	} else if (!acl_allows(ep->acl, peer, len) || !peer_cred_allowed(ep, fd)) {
		why = "access denied";
		counter = &ep->stats.refused_acl;
	}
	if (why) {
		/* refused below */
	} else if (ep->rate > 0 && !rate_limit_take(&ep->rate_state, now_ms())) {
		why = "over the connection rate";
		counter = &ep->stats.refused_rate;
	} else if (ep->max_connections &&
		   atomic_load_explicit(&ep->stats.active, memory_order_relaxed) >= ep->max_connections) {
		why = "endpoint max_connections reached";
		counter = &ep->stats.refused_limit;
	} else if (ep->service->max_active && ep->service->max_active(ep) &&
		   atomic_load_explicit(&ep->stats.active, memory_order_relaxed) >= ep->service->max_active(ep)) {
		why = "instances reached";
		counter = &ep->stats.refused_limit;
	} else if (ep->max_per_source && !ep->proxy_protocol) {
		int r = source_acquire(ep->sources, peer, len, ep->max_per_source);

		if (r < 0) {
			why = r == -EBUSY ? "max_per_source reached" : "out of memory";
			counter = &ep->stats.refused_limit;
		} else {
			*source_counted = true;
		}
	}
	if (why) {
		atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
		log_refusal(ep, why, peer, len);
		close(fd);
		return false;
	}
	atomic_fetch_add_explicit(&ep->stats.active, 1, memory_order_relaxed);
	return true;
}

static void
accept_some(struct acceptor_state *st, struct listener *l)
{
	struct sockd *d = st->d;
	struct endpoint *ep = l->ep;

	for (int i = 0; i < ACCEPTS_PER_ROUND; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		bool room = have_room(d), counted;
		struct conn *c;
		int fd;

		if (!room && ep->overload != OVERLOAD_REJECT)
			return;
		fd = accept4(l->fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
			case EPERM:             /* a firewall said no */
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				emfile_pause(st, errno);
				return;
			default:
				log_warn_errno(errno, "endpoint %s: accept, ignoring", ep->name);
				return;
			}
		}
		if (st->emfile_logged) {
			log_info("accepting again after running out of file descriptors");
			st->emfile_logged = false;
		}
		if (!room) {
			atomic_fetch_add_explicit(&ep->stats.refused_overload, 1, memory_order_relaxed);
			log_refusal(ep, "overloaded", (struct sockaddr *)&peer, len);
			close(fd);
			continue;
		}
		if (!admit(ep, fd, (struct sockaddr *)&peer, len, &counted))
			continue;
		c = conn_new(fd, ep, addr_socktype(&l->addr), (struct sockaddr *)&peer, len);
		if (!c) {
			if (counted)
				source_release(ep->sources, (struct sockaddr *)&peer, len);
			atomic_fetch_sub_explicit(&ep->stats.active, 1, memory_order_relaxed);
			close(fd);
			emfile_pause(st, ENOMEM);
			return;
		}
		c->source_counted = counted;
		atomic_fetch_add(&d->active, 1);
		if (queue_push(d->queue, c) < 0) {
			/* Cannot happen while we are the only producer and
			 * checked for room; if it does, the client goes. */
			conn_discard(d, c);
			continue;
		}
		atomic_fetch_add_explicit(&ep->stats.accepted, 1, memory_order_relaxed);
	}
}

static void *
acceptor_main(void *arg)
{
	struct acceptor_state st = { .d = arg, .timerfd = -1 };
	struct sockd *d = st.d;
	struct epoll_event ev, evs[64];
	struct sched_param sp = { 0 };

	pthread_setname_np(pthread_self(), "sockd-acceptor");
	/* Batch scheduling: a new connection wakes the acceptor, but it does
	 * not preempt a worker busy on the same CPU; it runs when that worker
	 * waits or its turn comes, and then takes every connection queued
	 * meanwhile. On one saturated CPU that costs a fifth less CPU per
	 * accept and lets the worker run longer stretches (bench/RESULTS.md).
	 * It still gets its fair share, and on an idle CPU it runs at once.
	 * An operator's own policy (chrt, CPUSchedulingPolicy=) is kept. */
	if (sched_getscheduler(0) == SCHED_OTHER && pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp) != 0)
		log_debug("acceptor: cannot use SCHED_BATCH, staying with SCHED_OTHER");

	st.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (st.timerfd == -1) {
		log_errno(errno, "acceptor: timerfd");
		return NULL;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = ACC_TIMER };
	epoll_ctl(d->acceptor_epfd, EPOLL_CTL_ADD, st.timerfd, &ev);

	acceptor_update(&st);
	while (!atomic_load(&d->acceptor_stop)) {
		int n;

		atomic_store(&d->acceptor_pongs, atomic_load(&d->acceptor_pings));
		n = epoll_wait(d->acceptor_epfd, evs, 64, -1);

		if (n == -1 && errno != EINTR) {
			log_errno(errno, "acceptor: epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t id = evs[i].data.u64, v;

			switch (id) {
			case ACC_WAKE:
				(void)!read(d->acceptor_wakefd, &v, sizeof(v));
				break;
			case ACC_ROOM:
				queue_room_ack(d->queue);
				break;
			case ACC_TIMER:
				(void)!read(st.timerfd, &v, sizeof(v));
				st.emfile = false;
				break;
			default:
				if (id < d->n_listeners && !st.emfile)
					accept_some(&st, d->listeners[id]);
				break;
			}
		}
		/* One wake-up for everything this round accepted: a worker
		 * woken per connection would, on a busy core, preempt the
		 * acceptor before it has drained the backlog. */
		queue_publish(d->queue);
		acceptor_update(&st);
	}
	close(st.timerfd);
	return NULL;
}

int
acceptor_start(struct sockd *d)
{
	struct epoll_event ev;
	int r;

	d->acceptor_epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->acceptor_epfd == -1)
		return log_errno(errno, "acceptor: epoll_create1");
	atomic_store(&d->acceptor_stop, false);

	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = ACC_WAKE };
	if (epoll_ctl(d->acceptor_epfd, EPOLL_CTL_ADD, d->acceptor_wakefd, &ev) == -1)
		return log_errno(errno, "acceptor: epoll_ctl");
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = ACC_ROOM };
	if (epoll_ctl(d->acceptor_epfd, EPOLL_CTL_ADD, queue_room_fd(d->queue), &ev) == -1)
		return log_errno(errno, "acceptor: epoll_ctl");
	/* Listeners join disabled; acceptor_update() turns them on. */
	for (size_t i = 0; i < d->n_listeners; i++) {
		struct listener *l = d->listeners[i];

		if (!addr_is_stream(&l->addr) || activator_owns(l))
			continue;
		if (l->ep->rate_state.last_ms == 0)
			rate_limit_init(&l->ep->rate_state, l->ep->rate, l->ep->burst, now_ms());
		ev = (struct epoll_event){ .events = 0, .data.u64 = i };
		if (epoll_ctl(d->acceptor_epfd, EPOLL_CTL_ADD, l->fd, &ev) == -1)
			return log_errno(errno, "acceptor: epoll_ctl");
		l->enabled = false;
	}
	r = pthread_create(&d->acceptor, NULL, acceptor_main, d);
	if (r != 0)
		return log_errno(r, "acceptor: pthread_create");
	d->acceptor_running = true;
	return 0;
}

void
acceptor_wake(struct sockd *d)
{
	uint64_t one = 1;

	(void)!write(d->acceptor_wakefd, &one, sizeof(one));
}

void
acceptor_stop(struct sockd *d)
{
	if (!d->acceptor_running)
		return;
	atomic_store(&d->acceptor_stop, true);
	acceptor_wake(d);
	pthread_join(d->acceptor, NULL);
	d->acceptor_running = false;
	close(d->acceptor_epfd);
	d->acceptor_epfd = -1;
}

void
acceptor_ping(struct sockd *d)
{
	atomic_fetch_add(&d->acceptor_pings, 1);
	acceptor_wake(d);
}

bool
acceptor_answered(struct sockd *d)
{
	return !d->acceptor_running ||
	       atomic_load(&d->acceptor_pongs) == atomic_load(&d->acceptor_pings);
}
