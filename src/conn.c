#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "proxy_proto.h"
#include "runtime.h"
#include "service.h"
#include "tls.h"

#define SCRATCH_SIZE (256 * 1024)
#define LINGER_MS 5000
#define TLS_LOG_MS 10000                /* failed handshakes: a line per worker this often */

_Static_assert(TLS_FAIL_N == sizeof(((struct endpoint_stats *)0)->tls_failed) / sizeof(atomic_ulong),
	       "one counter per TLS failure reason");

struct conn *
conn_new(int fd, struct endpoint *ep, int socktype, const struct sockaddr *peer, socklen_t peer_len)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->watch.kind = WATCH_CONN;
	c->fd = fd;
	c->socktype = socktype;
	c->ep = endpoint_ref(ep);
	timer_init(&c->timer);
	if (peer && (peer->sa_family == AF_INET || peer->sa_family == AF_INET6) &&
	    peer_len <= sizeof(c->peer)) {
		memcpy(&c->peer, peer, peer_len);
		c->peer_len = peer_len;
	}
	return c;
}

void
conn_discard(struct sockd *d, struct conn *c)
{
	struct endpoint *ep = c->ep;

	close(c->fd);
	if (c->source_counted)
		source_release(ep->sources, &c->peer.sa, c->peer_len);
	atomic_fetch_sub_explicit(&ep->stats.active, 1, memory_order_relaxed);
	endpoint_unref(ep);
	free(c);
	atomic_fetch_sub(&d->active, 1);
	if (atomic_exchange(&d->acceptor_waiting, false))
		d->room_freed(d);
}

static const char *
conn_proto(const struct conn *c)
{
	if (c->peer_len == 0)
		return c->socktype == SOCK_SEQPACKET ? "unix-seqpacket" : "unix";
	return "tcp";
}

/* Bring epoll's interest in line with what c needs now. */
static int
conn_arm(struct conn *c, uint32_t events)
{
	struct epoll_event ev;

	/* A TLS record layer that must write to read (or read to write)
	 * waits for that too, whatever the service asked for. */
	if (events && c->tls_cross)
		events |= c->tls_cross;
	ev = (struct epoll_event){ .events = events, .data.ptr = &c->watch };

	if (events == c->armed && (events || !c->registered))
		return 0;
	/* A connection is in the epoll set only while it waits for something:
	 * one EPOLL_CTL_ADD with its first interest (none at all for one that
	 * is done at once), and out again when it waits for nothing, since
	 * epoll reports hangups even then. */
	if (!events) {
		if (epoll_ctl(c->loop->epfd, EPOLL_CTL_DEL, c->fd, NULL) == -1)
			return -errno;
		c->registered = false;
		c->armed = 0;
		return 0;
	}
	if (epoll_ctl(c->loop->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) == -1)
		return -errno;
	c->registered = true;
	c->armed = events;
	return 0;
}

/* Close fd, which was (maybe) in lp's epoll set. An exec child between
 * clone() and execve() holds a copy of every fd, and then close() alone
 * would leave the registration, whose events would name freed memory: it
 * leaves the set first whenever children may be spawned. */
static void
loop_close_fd(struct conn_loop *lp, int fd, bool registered)
{
	if (registered && atomic_load(&lp->d->spawns_children))
		epoll_ctl(lp->epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static void
conn_unlink(struct conn *c)
{
	struct conn_loop *lp = c->loop;

	if (c->prev)
		c->prev->next = c->next;
	else
		lp->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	lp->n_conns--;
}

static void
handoff_release(struct conn_loop *lp, struct conn *c)
{
	struct conn_handoff_slot *h = &lp->handoffs[c->handoff - 1];

	h->c = NULL;
	h->gen = (h->gen + 1) & 0x7fffffff;
	h->next_free = lp->free_handoff;
	lp->free_handoff = c->handoff - 1;
	c->handoff = 0;
}

/* The registration stays after close(): epoll keys it by the open file,
 * which lives on in the child, and drops it by itself once the last
 * holder closes it. Nothing of ours holds the socket, so the client gets
 * its EOF when the program closes its side, as before. The registration
 * asks for nothing but what epoll always reports -- EPOLLHUP (both
 * directions closed, or reset) and EPOLLERR -- and only once
 * (EPOLLONESHOT): a half-close by the client is no hang-up, and a stale
 * registration (a grandchild kept the socket after c ended) can fire at
 * most once, into a slot whose generation moved on. */
int
conn_handoff(struct conn *c, int fd)
{
	struct conn_loop *lp = c->loop;
	struct epoll_event ev;
	uint32_t i;
	int r = 0;

	if (lp->free_handoff != CONN_NO_SLOT) {
		i = lp->free_handoff;
		lp->free_handoff = lp->handoffs[i].next_free;
	} else {
		struct conn_handoff_slot *v;
		uint32_t cap = lp->n_handoffs ? 2 * lp->n_handoffs : 16;

		v = realloc(lp->handoffs, cap * sizeof(*v));
		if (!v) {
			conn_replace_fd(c, fd);
			return -ENOMEM;
		}
		lp->handoffs = v;
		for (uint32_t k = cap; k-- > lp->n_handoffs + 1;) {
			v[k] = (struct conn_handoff_slot){ .next_free = lp->free_handoff };
			lp->free_handoff = k;
		}
		i = lp->n_handoffs;
		v[i].gen = 0;
		lp->n_handoffs = cap;
	}
	lp->handoffs[i].c = c;
	ev.events = EPOLLONESHOT | EPOLLET;
	ev.data.u64 = (((uint64_t)lp->handoffs[i].gen << 32 | i) << 1) | CONN_HANDOFF_TAG;
	if (epoll_ctl(lp->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		r = -errno;
		c->handoff = i + 1;
		handoff_release(lp, c);
		conn_replace_fd(c, fd);
		return r;
	}
	c->handoff = i + 1;
	close(c->fd);
	c->fd = fd;
	c->armed = 0;
	c->registered = false;
	return 0;
}

void
conn_handoff_event(struct conn_loop *lp, uint64_t data)
{
	uint32_t i = (uint32_t)(data >> 1), gen = (uint32_t)(data >> 33);
	struct conn *c;

	if (i >= lp->n_handoffs || lp->handoffs[i].gen != gen || !(c = lp->handoffs[i].c) || c->closed)
		return;         /* the connection ended before its socket did */
	handoff_release(lp, c);
	if (c->ep->service->conn_hangup)
		c->ep->service->conn_hangup(c);
}

void
conn_close(struct conn *c)
{
	struct conn_loop *lp = c->loop;
	struct sockd *d = lp->d;
	struct endpoint *ep = c->ep;

	int level = ep->service->flags & SERVICE_LOG_INFO ? LOG_INFO : LOG_DEBUG;

	if (c->closed)
		return;
	c->closed = true;
	timer_remove(&lp->timers, &c->timer);
	conn_unlink(c);
	if (c->handoff)
		handoff_release(lp, c);
	/* First: an exec program that is still running is stopped here, and
	 * its end belongs in the line below. */
	if (ep->service->conn_free)
		ep->service->conn_free(c);
	if (log_max_level >= level) {
		char peer[ADDR_STRLEN], counts[320];

		/* The bytes of an opaque service (exec) never pass through
		 * sockd: what it knows instead is the service's to say. Others
		 * may add their own fields (forward: the SNI name). */
		if (ep->service->flags & SERVICE_OPAQUE)
			snprintf(counts, sizeof(counts), "%s", c->detail ? c->detail : "");
		else
			snprintf(counts, sizeof(counts), "in=%llu out=%llu%s%s",
				 (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out,
				 c->detail ? " " : "", c->detail ? c->detail : "");
		log_msg(level, "conn endpoint=%s proto=%s peer=%s%s %s%sduration=%.3fs outcome=%s",
			ep->name, conn_proto(c),
			c->peer_len ? addr_format_peer(&c->peer.sa, c->peer_len, peer, sizeof(peer)) : "unix",
			c->proxied ? " proxied=yes" : "", counts, counts[0] ? " " : "",
			(double)(timer_now_ms() - c->started_ms) / 1000.0, c->outcome ? c->outcome : "closed");
	}
	free(c->out);
	c->out = NULL;
	free(c->proxy_buf);
	c->proxy_buf = NULL;
	if (c->tls) {
		/* close_notify, if the socket takes it now: the client can
		 * tell our end from a cut. Its SSL holds its context, which
		 * a reload may have replaced meanwhile: freed here. */
		tls_conn_shutdown(c->tls);
		tls_conn_free(c->tls);
		c->tls = NULL;
	}
	atomic_fetch_add_explicit(&ep->stats.bytes_in, c->bytes_in, memory_order_relaxed);
	atomic_fetch_add_explicit(&ep->stats.bytes_out, c->bytes_out, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->served, 1, memory_order_relaxed);

	/* The memory waits for the end of the batch. */
	loop_close_fd(lp, c->fd, c->registered);
	c->fd = -1;
	if (c->source_counted)
		source_release(ep->sources, &c->peer.sa, c->peer_len);
	atomic_fetch_sub_explicit(&ep->stats.active, 1, memory_order_relaxed);
	atomic_fetch_sub(&d->active, 1);
	if (atomic_exchange(&d->acceptor_waiting, false))
		d->room_freed(d);
	c->next = lp->graveyard;
	lp->graveyard = c;
}

/* Free what was closed. A connection still on the again list (queued,
 * then closed in the same round) waits for the next round, whose again
 * pass takes it off the list. */
void
conn_loop_bury(struct conn_loop *lp)
{
	struct conn *keep = NULL;

	while (lp->graveyard) {
		struct conn *c = lp->graveyard;

		lp->graveyard = c->next;
		if (c->again) {
			c->next = keep;
			keep = c;
			continue;
		}
		free(c->svc_state);
		endpoint_unref(c->ep);
		free(c);
	}
	lp->graveyard = keep;
}

void
conn_again(struct conn *c)
{
	if (c->again)
		return;
	c->again = true;
	c->again_next = c->loop->again;
	c->loop->again = c;
}

/* Call conn_io(c, 0) for what asked to run again, once each; what asks
 * again meanwhile waits for the next round. */
void
conn_loop_run_again(struct conn_loop *lp)
{
	struct conn *c = lp->again;

	lp->again = NULL;
	while (c) {
		struct conn *next = c->again_next;

		c->again = false;
		if (!c->closed)
			c->ep->service->conn_io(c, 0);
		c = next;
	}
}

void
conn_aux_init(struct conn *c, struct conn_aux *aux, int fd)
{
	aux->watch.kind = WATCH_AUX;
	aux->c = c;
	aux->fd = fd;
	aux->armed = 0;
	aux->added = false;
}

int
conn_aux_want(struct conn_aux *aux, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &aux->watch };

	if (events == aux->armed && (events || !aux->added))
		return 0;
	if (!events) {          /* as for connections (conn_arm) */
		if (epoll_ctl(aux->c->loop->epfd, EPOLL_CTL_DEL, aux->fd, NULL) == -1)
			return -errno;
		aux->added = false;
		aux->armed = 0;
		return 0;
	}
	if (epoll_ctl(aux->c->loop->epfd, aux->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, aux->fd, &ev) == -1)
		return -errno;
	aux->armed = events;
	aux->added = true;
	return 0;
}

void
conn_aux_close(struct conn_aux *aux)
{
	if (aux->fd < 0)
		return;
	loop_close_fd(aux->c->loop, aux->fd, aux->added);
	aux->fd = -1;
	aux->added = false;
	aux->armed = 0;
}

uint64_t
conn_now_ms(const struct conn *c)
{
	return c->loop->now_ms;
}

void
conn_replace_fd(struct conn *c, int fd)
{
	/* The old fd lives on in the exec child (its stdin): its registration
	 * must not outlive c, nor report its hangups to us. */
	if (c->registered)
		epoll_ctl(c->loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = fd;
	c->armed = 0;
	c->registered = false;
}

bool
conn_tls_kernel(const struct conn *c)
{
	return c->tls && tls_conn_ktls_send(c->tls) && tls_conn_ktls_recv(c->tls);
}

void
conn_shutdown_write(struct conn *c)
{
	if (c->tls)
		tls_conn_shutdown(c->tls);
	shutdown(c->fd, SHUT_WR);
}

void
conn_count(struct conn *c, size_t in, size_t out)
{
	c->bytes_in += in;
	c->bytes_out += out;
	if (in || out)
		c->active_ms = c->loop->now_ms;
}

int
conn_pipe_get(struct conn *c, int p[2])
{
	struct conn_loop *lp = c->loop;

	if (lp->n_pipes > 0) {
		lp->n_pipes--;
		p[0] = lp->pipes[lp->n_pipes][0];
		p[1] = lp->pipes[lp->n_pipes][1];
		return 0;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		return -errno;
	return 0;
}

void
conn_pipe_put(struct conn *c, int p[2])
{
	struct conn_loop *lp = c->loop;

	if (lp->n_pipes < CONN_PIPE_POOL) {
		lp->pipes[lp->n_pipes][0] = p[0];
		lp->pipes[lp->n_pipes][1] = p[1];
		lp->n_pipes++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
}

void
conn_want(struct conn *c, uint32_t events)
{
	c->want = events;
	if (c->out || c->lingering)
		return;         /* re-armed from want once the output is gone */
	if (conn_arm(c, events) < 0) {
		log_warn_errno(errno, "endpoint %s: epoll_ctl, closing connection", c->ep->name);
		conn_close(c);
	}
}

/* The result of a read of c's input: counted, or -errno. */
static ssize_t
counted_in(struct conn *c, ssize_t n)
{
	if (n == -1)
		return -errno;
	if (n > 0) {
		c->bytes_in += (uint64_t)n;
		c->active_ms = c->loop->now_ms;
	}
	return n;
}

/* A TLS call that returned -EAGAIN waiting for the other direction: keep
 * that direction armed until it comes (conn_dispatch). */
static void
tls_cross_wait(struct conn *c, ssize_t n, uint32_t wrong)
{
	if (n != -EAGAIN || tls_conn_events(c->tls) != wrong || (c->tls_cross & wrong))
		return;
	c->tls_cross |= wrong;
	if (c->registered || c->want)
		conn_arm(c, c->out ? EPOLLOUT : c->want ? c->want : wrong);
}

static ssize_t
tls_read(struct conn *c, void *buf, size_t len)
{
	ssize_t n = tls_conn_read(c->tls, buf, len);

	if (n == -EAGAIN)
		tls_cross_wait(c, n, EPOLLOUT);
	else if (n > 0 && tls_conn_pending(c->tls))
		conn_again(c);          /* decrypted and waiting: epoll cannot know */
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	if (c->tls)
		return counted_in(c, tls_read(c, buf, len));
	return counted_in(c, read(c->fd, buf, len));
}

static bool
conn_is_tcp(const struct conn *c)
{
	/* conn_new keeps only inet peers; a PROXY header may have put one
	 * on a Unix connection, so those are left out. */
	return c->socktype == SOCK_STREAM && c->peer_len > 0 && !c->proxied;
}

ssize_t
conn_drop(struct conn *c, void *buf, size_t len)
{
	if (c->tls)
		return counted_in(c, tls_read(c, buf, len));
	return counted_in(c, conn_is_tcp(c) ? recv(c->fd, buf, len, MSG_TRUNC) : read(c->fd, buf, len));
}

ssize_t
conn_write(struct conn *c, const void *buf, size_t len)
{
	ssize_t n;

	if (c->tls) {
		/* A TLS write takes one record at a time (partial writes):
		 * short means full only once the socket said so. */
		size_t done = 0;

		do {
			n = tls_conn_write(c->tls, (const uint8_t *)buf + done, len - done);
			if (n > 0)
				done += (size_t)n;
		} while (n > 0 && done < len);
		if (done == 0) {
			tls_cross_wait(c, n, EPOLLIN);
			return n;
		}
		n = (ssize_t)done;
	} else {
		/* MSG_NOSIGNAL: a peer that went away must not raise SIGPIPE. */
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n == -1)
			return -errno;
	}
	if (n > 0) {
		c->bytes_out += (uint64_t)n;
		c->active_ms = c->loop->now_ms;
	}
	return n;
}

int
conn_send(struct conn *c, const void *buf, size_t len)
{
	ssize_t n = conn_write(c, buf, len);

	if (n == -EAGAIN || n == -EINTR)
		n = 0;
	if (n < 0) {
		c->outcome = "write-error";
		conn_close(c);
		return (int)n;
	}
	if ((size_t)n == len)
		return 0;

	/* Keep only the rest of this one write: the service reads nothing
	 * more until it is gone, so a client that does not read costs at
	 * most one buffer. */
	c->out = malloc(len - (size_t)n);
	if (!c->out) {
		conn_close(c);
		return -ENOMEM;
	}
	memcpy(c->out, (const uint8_t *)buf + n, len - (size_t)n);
	c->out_len = (uint32_t)(len - (size_t)n);
	c->out_off = 0;
	if (conn_arm(c, EPOLLOUT) < 0) {
		conn_close(c);
		return -EIO;
	}
	return 0;
}

static uint64_t
ms_of(double seconds)
{
	return (uint64_t)(seconds * 1000.0 + 0.5);
}

/* The earliest moment c must be looked at: idle timeout, lifetime or the
 * end of lingering; 0 when none applies. Activity does not touch the heap:
 * an expired entry whose connection was busy is simply pushed back. */
static uint64_t
conn_due(const struct conn *c)
{
	const struct endpoint *ep = c->ep;
	uint64_t due = 0;

	if (ep->idle_timeout > 0 && !(ep->service->flags & SERVICE_OPAQUE))
		due = c->active_ms + ms_of(ep->idle_timeout);
	if (ep->lifetime > 0) {
		uint64_t end = c->started_ms + ms_of(ep->lifetime);

		if (!due || end < due)
			due = end;
	}
	if (c->lingering && (!due || c->linger_until_ms < due))
		due = c->linger_until_ms;
	if (c->timer_ms && (!due || c->timer_ms < due))
		due = c->timer_ms;
	return due;
}

/* (Re)schedule c; false (c is closed) when the heap cannot grow. */
static bool
conn_schedule(struct conn *c)
{
	uint64_t due = conn_due(c);

	if (!due) {
		timer_remove(&c->loop->timers, &c->timer);
		return true;
	}
	if (timer_set(&c->loop->timers, &c->timer, due) < 0) {
		log_warn("endpoint %s: out of memory for a timer, closing connection", c->ep->name);
		conn_close(c);
		return false;
	}
	return true;
}

void
conn_set_timer(struct conn *c, uint64_t deadline_ms)
{
	c->timer_ms = deadline_ms;
	conn_schedule(c);
}

/* All output is out. A client that sent nothing more can have its FIN at
 * once; one whose bytes are still unread would get a reset instead, which
 * may cost it the reply: that one keeps reading until the client's EOF. */
static void
conn_linger(struct conn *c)
{
	ssize_t n = conn_read(c, c->loop->scratch, SCRATCH_SIZE);

	if (n == 0 || (n < 0 && n != -EINTR)) {
		conn_close(c);  /* EOF already, nothing pending (EAGAIN), or an error */
		return;
	}
	if (c->tls)
		tls_conn_shutdown(c->tls);
	shutdown(c->fd, SHUT_WR);
	c->lingering = true;
	c->linger_until_ms = c->loop->now_ms + LINGER_MS;
	if (conn_arm(c, EPOLLIN) < 0) {
		conn_close(c);
		return;
	}
	conn_schedule(c);
}

void
conn_finish(struct conn *c)
{
	c->finishing = true;
	if (!c->out)
		conn_linger(c);
}

uint8_t *
conn_scratch(struct conn *c, size_t *size)
{
	*size = SCRATCH_SIZE;
	return c->loop->scratch;
}

/* EPOLLOUT with output pending: send more of it. */
static void
conn_flush(struct conn *c)
{
	ssize_t n = conn_write(c, c->out + c->out_off, c->out_len - c->out_off);

	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n < 0) {
		c->outcome = "write-error";
		conn_close(c);
		return;
	}
	c->out_off += (uint32_t)n;
	if (c->out_off < c->out_len)
		return;
	free(c->out);
	c->out = NULL;
	if (c->finishing) {
		conn_linger(c);
		return;
	}
	conn_want(c, c->want);
}

/* Writes are shut down: drop input until the peer closes. */
static void
conn_drain_input(struct conn *c)
{
	uint8_t *buf = c->loop->scratch;

	for (int i = 0; i < 4; i++) {
		ssize_t n = conn_read(c, buf, SCRATCH_SIZE);

		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n <= 0)
			break;
	}
	conn_close(c);
}

/* A failed handshake: counted by reason, logged with the peer and
 * OpenSSL's words, at most one line per TLS_LOG_MS per worker (a client
 * can fail handshakes as fast as it connects). */
static void
tls_refuse(struct conn *c, enum tls_fail why, const char *text)
{
	struct conn_loop *lp = c->loop;
	char peer[ADDR_STRLEN];
	const char *p = c->peer_len ? addr_format_peer(&c->peer.sa, c->peer_len, peer, sizeof(peer)) : "unix";

	atomic_fetch_add_explicit(&c->ep->stats.tls_failed[why], 1, memory_order_relaxed);
	if (lp->tls_logged_ms && lp->now_ms - lp->tls_logged_ms < TLS_LOG_MS) {
		lp->tls_unlogged++;
		log_debug("endpoint %s: TLS handshake with %s failed (%s): %s", c->ep->name, p,
			  tls_fail_names[why], text);
	} else {
		if (lp->tls_unlogged)
			log_notice("endpoint %s: TLS handshake with %s failed (%s): %s; "
				   "and %lu more failed since the last such line",
				   c->ep->name, p, tls_fail_names[why], text, lp->tls_unlogged);
		else
			log_notice("endpoint %s: TLS handshake with %s failed (%s): %s",
				   c->ep->name, p, tls_fail_names[why], text);
		lp->tls_logged_ms = lp->now_ms;
		lp->tls_unlogged = 0;
	}
	c->outcome = "tls-failed";
	conn_close(c);
}

/* Take the handshake as far as the socket lets it; once done, the
 * service starts and sees plaintext. */
static void
tls_step(struct conn *c)
{
	struct endpoint *ep = c->ep;
	int r = tls_conn_handshake(c->tls);

	if (r == 0) {
		conn_want(c, tls_conn_events(c->tls));
		return;
	}
	if (r < 0) {
		tls_refuse(c, tls_conn_fail(c->tls), tls_conn_error(c->tls));
		return;
	}
	c->tls_ready = true;
	c->timer_ms = 0;
	if (!conn_schedule(c))
		return;
	atomic_fetch_add_explicit(&ep->stats.tls_handshakes, 1, memory_order_relaxed);
	if (tls_conn_resumed(c->tls))
		atomic_fetch_add_explicit(&ep->stats.tls_resumed, 1, memory_order_relaxed);
	if (tls_conn_ktls_send(c->tls) || tls_conn_ktls_recv(c->tls))
		log_debug("endpoint %s: kTLS on (send %s, receive %s)", ep->name,
			  tls_conn_ktls_send(c->tls) ? "yes" : "no", tls_conn_ktls_recv(c->tls) ? "yes" : "no");
	ep->service->conn_start(c);
	if (!c->closed && c->tls && tls_conn_pending(c->tls))
		conn_again(c);
}

/* The connection may start: at once in plaintext, after a handshake
 * with TLS. */
static void
conn_begin(struct conn *c)
{
	struct endpoint *ep = c->ep;

	if (!ep->tls) {
		ep->service->conn_start(c);
		return;
	}
	c->tls = tls_conn_server(ep->tls->server, c->fd);
	if (!c->tls) {
		log_warn("endpoint %s: out of memory for a TLS connection, closing it", ep->name);
		c->outcome = "tls-failed";
		atomic_fetch_add_explicit(&ep->stats.tls_failed[TLS_FAIL_OTHER], 1, memory_order_relaxed);
		conn_close(c);
		return;
	}
	c->timer_ms = c->loop->now_ms + ms_of(ep->tls->handshake_timeout);
	if (!conn_schedule(c))
		return;
	tls_step(c);
}

static void
proxy_refuse(struct conn *c, const char *why)
{
	char peer[ADDR_STRLEN];

	atomic_fetch_add_explicit(&c->ep->stats.refused_proxy, 1, memory_order_relaxed);
	log_debug("endpoint %s: %s: %s", c->ep->name,
		  c->peer_len ? addr_format_peer(&c->peer.sa, c->peer_len, peer, sizeof(peer)) : "unix", why);
	c->outcome = "refused-proxy";
	conn_close(c);
}

/* The header is in: the client is who it says, and access, limits and
 * the service go by that. */
static void
proxy_accepted(struct conn *c, const struct proxy_result *res)
{
	struct endpoint *ep = c->ep;

	free(c->proxy_buf);
	c->proxy_buf = NULL;
	c->timer_ms = 0;
	if (!conn_schedule(c))
		return;
	if (!res->local && (res->src.ss_family == AF_INET || res->src.ss_family == AF_INET6) &&
	    res->src_len <= sizeof(c->peer) && res->dst_len <= sizeof(c->local)) {
		memcpy(&c->peer, &res->src, res->src_len);
		c->peer_len = res->src_len;
		memcpy(&c->local, &res->dst, res->dst_len);
		c->local_len = res->dst_len;
		c->proxied = true;
	}
	if (!acl_allows(ep->acl, &c->peer.sa, c->peer_len)) {
		atomic_fetch_add_explicit(&ep->stats.refused_acl, 1, memory_order_relaxed);
		c->outcome = "refused-acl";
		conn_close(c);
		return;
	}
	if (ep->max_per_source) {
		if (source_acquire(ep->sources, &c->peer.sa, c->peer_len, ep->max_per_source) < 0) {
			atomic_fetch_add_explicit(&ep->stats.refused_limit, 1, memory_order_relaxed);
			c->outcome = "refused-limit";
			conn_close(c);
			return;
		}
		c->source_counted = c->peer_len > 0;
	}
	conn_begin(c);
}

/* Read the PROXY header without taking a byte of what follows it: one byte
 * to tell the versions apart, then up to the v1 line's LF (peeked first)
 * or exactly the v2 length. */
static void
proxy_read(struct conn *c)
{
	uint8_t *b = c->proxy_buf;
	struct proxy_result res;
	ssize_t n = 0;

	for (int round = 0; round < 8; round++) {
		size_t have = c->proxy_have, want;
		ssize_t r;

		if (have == 0) {
			want = 1;
		} else if (b[0] == 'P') {
			uint8_t *lf;

			n = recv(c->fd, b + have, PROXY_V1_MAX - have, MSG_PEEK | MSG_DONTWAIT);
			if (n <= 0)
				goto read_failed;
			lf = memchr(b + have, '\n', (size_t)n);
			want = lf ? (size_t)(lf - (b + have)) + 1 : (size_t)n;
		} else if (have < 16) {
			want = 16 - have;
		} else {
			want = 16 + (((size_t)b[14] << 8) | b[15]) - have;
		}
		if (want == 0 || have + want > PROXY_HEADER_MAX) {
			proxy_refuse(c, "PROXY header too long");
			return;
		}
		n = recv(c->fd, b + have, want, MSG_DONTWAIT);
		if (n <= 0)
			goto read_failed;
		c->proxy_have += (uint32_t)n;
		r = proxy_parse(b, c->proxy_have, c->ep->proxy_protocol, &res);
		if (r < 0) {
			proxy_refuse(c, r == -EPROTONOSUPPORT ? "PROXY header of the wrong version"
							      : "invalid PROXY header");
			return;
		}
		if (r > 0) {
			proxy_accepted(c, &res);
			return;
		}
	}
	return;

read_failed:
	/* n == 0 is the client's EOF, and errno is then stale. */
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	proxy_refuse(c, "closed before its PROXY header was complete");
}

void
conn_dispatch(struct conn *c, uint32_t events)
{
	if (c->proxy_buf) {
		proxy_read(c);
		return;
	}
	if (c->tls) {
		if (!c->tls_ready) {
			tls_step(c);
			return;
		}
		if (c->tls_cross && (events & c->tls_cross)) {
			/* What TLS waited for came: the service's read or
			 * write may go on, whichever way it looked. */
			c->tls_cross = 0;
			events |= c->want & (EPOLLIN | EPOLLOUT);
			if (c->out)
				events |= EPOLLOUT;
			conn_arm(c, c->out ? EPOLLOUT : c->lingering ? EPOLLIN : c->want);
		}
	}
	if (c->out) {
		if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			conn_flush(c);
		return;
	}
	if (c->lingering) {
		conn_drain_input(c);
		return;
	}
	c->ep->service->conn_io(c, events);
}

void
conn_adopt(struct conn_loop *lp, struct conn *c)
{
	c->loop = lp;
	c->started_ms = c->active_ms = lp->now_ms;
	c->next = lp->conns;
	if (lp->conns)
		lp->conns->prev = c;
	lp->conns = c;
	lp->n_conns++;

	/* Not in the epoll set yet: the service's first conn_want() puts it there. */
	if (c->ep->proxy_protocol) {
		c->proxy_buf = malloc(PROXY_HEADER_MAX);
		if (!c->proxy_buf) {
			conn_close(c);
			return;
		}
		c->timer_ms = lp->now_ms + ms_of(c->ep->proxy_timeout);
		if (conn_schedule(c))
			conn_want(c, EPOLLIN);
		return;
	}
	if (!conn_schedule(c))
		return;
	if (lp->fault_stall_ms && strcmp(c->ep->name, "fault-stall") == 0) {
		struct timespec ts = { (time_t)(lp->fault_stall_ms / 1000), (long)(lp->fault_stall_ms % 1000) * 1000000 };

		log_warn("worker %u: stalling %lu ms ($SOCKD_FAULT_STALL_MS)", lp->id, lp->fault_stall_ms);
		lp->fault_stall_ms = 0;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	conn_begin(c);
}

void
conn_loop_expire(struct conn_loop *lp)
{
	struct timer *t;

	while ((t = timer_first(&lp->timers)) && t->deadline_ms <= lp->now_ms) {
		struct conn *c = (struct conn *)(void *)((char *)t - offsetof(struct conn, timer));
		uint64_t due = conn_due(c);

		if (due > lp->now_ms) {
			timer_set(&c->loop->timers, &c->timer, due);      /* it moved: cannot grow the heap */
			continue;
		}
		if (c->timer_ms && c->timer_ms <= lp->now_ms) {
			c->timer_ms = 0;
			if (c->proxy_buf) {
				proxy_refuse(c, "no complete PROXY header in time");
				continue;
			}
			if (c->tls && !c->tls_ready) {
				tls_refuse(c, TLS_FAIL_TIMEOUT, "no complete handshake within handshake_timeout");
				continue;
			}
			if (c->ep->service->conn_timeout) {
				c->ep->service->conn_timeout(c);
				if (!c->closed)
					conn_schedule(c);
				continue;
			}
			c->outcome = "timeout";
		} else if (!c->lingering) {
			atomic_fetch_add_explicit(&c->ep->stats.closed_idle, 1, memory_order_relaxed);
			c->outcome = c->ep->lifetime > 0 && lp->now_ms >= c->started_ms + ms_of(c->ep->lifetime)
				     ? "lifetime" : "idle-timeout";
		}
		conn_close(c);
	}
}

int
conn_loop_init(struct conn_loop *lp, struct sockd *d, unsigned id)
{
	const char *stall = getenv("SOCKD_FAULT_STALL_MS");

	memset(lp, 0, sizeof(*lp));
	lp->d = d;
	lp->id = id;
	lp->epfd = -1;
	lp->free_handoff = CONN_NO_SLOT;
	if (stall)
		lp->fault_stall_ms = strtoul(stall, NULL, 10);
	lp->scratch = malloc(SCRATCH_SIZE);
	return lp->scratch ? 0 : -ENOMEM;
}

void
conn_loop_free(struct conn_loop *lp)
{
	for (unsigned i = 0; i < lp->n_pipes; i++) {
		close(lp->pipes[i][0]);
		close(lp->pipes[i][1]);
	}
	lp->n_pipes = 0;
	timer_heap_free(&lp->timers);
	free(lp->handoffs);
	lp->handoffs = NULL;
	free(lp->scratch);
	lp->scratch = NULL;
}
