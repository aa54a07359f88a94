/* service "forward": pair each client with a connection to an upstream and
 * relay bytes both ways, honouring half-close.
 *
 * Small messages go through the worker's scratch buffer with recv+send,
 * two syscalls a hop. Once a read fills a whole chunk the flow is bulk and
 * moves through a pipe with splice(2), without copying, until reads get
 * short again. Seqpacket keeps its record boundaries with recv+send.
 *
 * Both sockets are registered once, edge-triggered: epoll says when a side
 * may have become readable or writable, and struct side remembers it until
 * a syscall says otherwise. That spares the epoll_ctl calls a level-
 * triggered relay needs whenever a flow stops or starts (the first
 * EPOLLOUT is asked for only once a side is full). In return, whatever
 * stops with input left (the per-wakeup budget) must come back by itself:
 * conn_again(). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "proxy_proto.h"
#include "keys.h"
#include "service.h"
#include "sockopt.h"
#include "forward_options.h"
#include "forward_route.h"
#include "sockd.h"
#include "tls.h"
#include "tls_hello.h"
#include "upstream_tls.h"

#define CHUNK (64 * 1024)               /* a read; a default pipe holds this much */
#define BULK_END (CHUNK / 4)            /* a splice read shorter than this ends bulk mode */
#define RELAY_ROUNDS 4                  /* reads per wakeup and direction, for fairness */
#define PROXY_HDR_MAX 256               /* v2 with Unix addresses: 16 + 216 */

/* One direction. What dst did not take yet waits in a pipe (bulk) or a
 * buffer; at most one read's worth is held, so a slow reader costs one
 * pipe or buffer, never more, and the source is not read meanwhile. */
struct flow {
	int p[2];                       /* bulk: pipe from the pool while in use */
	uint8_t *buf;                   /* copy: unsent bytes, malloc'd */
	size_t pending;                 /* bytes held, in the pipe or buf */
	size_t off;                     /* into buf */
	bool bulk;                      /* reads fill chunks: splice */
	bool eof;                       /* src said EOF */
	bool shut;                      /* dst's write side is done */
};

/* What epoll last said of a socket, until a syscall says otherwise. */
struct side {
	bool rd;                        /* may have input (or EOF) */
	bool wr;                        /* may take output */
	bool drain;                     /* read to EAGAIN: a short read may not
					 * have emptied it (EOF or urgent data
					 * behind the bytes read) */
};

/* Edge-triggered interest; EPOLLOUT is added once a side fills up. */
#define SIDE_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLET)

struct fwd {
	struct conn_aux up;             /* the upstream socket */
	const struct addr *ups;         /* the upstreams of this client: the route's */
	size_t n_ups;
	bool routing;                   /* SNI routing: waiting for the ClientHello */
	struct tls_conn *ut;            /* upstream_tls: the upstream's TLS */
	bool handshaking;               /* ... connected, its handshake runs */
	char tls_err[192];              /* why the last upstream handshake failed */
	size_t hello_need;              /* peek again once this many bytes are in */
	char detail[TLS_HELLO_NAME_MAX + 8];    /* "sni=NAME" for the log line */
	struct side cs;                 /* the client */
	struct side us;                 /* the upstream */
	unsigned tried;                 /* upstreams tried so far */
	unsigned first;                 /* where this client started */
	bool connected;
	bool client_gone;               /* hung up or failed: it takes nothing more */
	bool upstream_gone;
	bool seqpacket;                 /* records: never splice, never assume drained */
	int last_err;
	struct flow cu;                 /* client -> upstream */
	struct flow uc;                 /* upstream -> client */
	uint8_t hdr[PROXY_HDR_MAX];     /* PROXY header still to send */
	size_t hdr_len;
	size_t hdr_off;
};

static void try_next(struct conn *c);
static void fwd_relay(struct conn *c);

/* connect() as upstream_user. A Unix server learns who connected
 * from SO_PEERCRED (and SO_PEERGROUPS), which record the connecting
 * thread's effective ids and groups, and the kernel checks the socket
 * file's permissions against the same. Linux keeps credentials per
 * thread; glibc's set*id() wrappers make a change process-wide by
 * signalling every thread, the raw system calls do not. So this worker
 * thread alone becomes that user, for one non-blocking connect() that
 * never waits on the peer, and then root again: its real and saved uid
 * stay 0, which is what allows the way back (and brings the capabilities
 * back with the effective uid 0). config_check.c lets upstream_user through
 * only when sockd runs as root and keeps it (no daemon.user). The other
 * way, a helper process per user that passes connected sockets back,
 * would cost a round trip per client and a process to supervise; this
 * costs six system calls and keeps no state between clients. */
static int
connect_as(int fd, const struct addr *a, const struct endpoint *ep)
{
	const struct forward_options *fo = forward_options(ep);
	gid_t saved_egid = getegid(), *groups;
	long n;
	int r, err;

	n = syscall(SYS_getgroups, 0, NULL);
	if (n < 0)
		return -errno;
	groups = malloc(((size_t)n + 1) * sizeof(*groups));
	if (!groups)
		return -ENOMEM;
	if ((n = syscall(SYS_getgroups, n, groups)) < 0) {
		err = errno;
		free(groups);
		return -err;
	}
	if (syscall(SYS_setgroups, 1, &fo->upstream_gid) == -1) {
		err = errno;
		free(groups);
		return -err;
	}
	if (syscall(SYS_setresgid, -1, fo->upstream_gid, -1) == -1 ||
	    syscall(SYS_setresuid, -1, fo->upstream_uid, -1) == -1) {
		r = -errno;
	} else {
		r = connect(fd, (const struct sockaddr *)&a->sa, a->len) == -1 ? -errno : 0;
	}
	/* Back to root, whatever happened. A thread left as another user
	 * would serve every later client of every endpoint wrongly: that is
	 * not a state to carry on in. */
	if (syscall(SYS_setresuid, -1, 0, -1) == -1 ||
	    syscall(SYS_setresgid, -1, saved_egid, -1) == -1 ||
	    syscall(SYS_setgroups, n, groups) == -1) {
		log_err("endpoint %s: cannot switch back from upstream_user '%s': %s, aborting",
			ep->name, fo->upstream_user, strerror(errno));
		abort();
	}
	free(groups);
	return r;
}

static void
flow_release(struct conn *c, struct flow *f)
{
	if (f->p[0] >= 0) {
		/* A pipe that still holds bytes cannot go back to the pool. */
		if (f->pending) {
			close(f->p[0]);
			close(f->p[1]);
			f->p[0] = f->p[1] = -1;
		} else {
			conn_pipe_put(c, f->p);
		}
	}
	free(f->buf);
	f->buf = NULL;
	f->pending = 0;
}

static void
fwd_free(struct conn *c)
{
	struct fwd *f = c->svc_state;

	if (!f)
		return;
	flow_release(c, &f->cu);
	flow_release(c, &f->uc);
	tls_conn_free(f->ut);
	f->ut = NULL;
	conn_aux_close(&f->up);
}

/* On a TLS endpoint the client's bytes go through conn_read/conn_write,
 * which decrypt, encrypt and count them; these return -1 and errno as
 * recv and send do. */
static ssize_t
client_recv(struct conn *c, void *buf, size_t len)
{
	ssize_t n = conn_read(c, buf, len);

	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

static ssize_t
client_send(struct conn *c, const void *buf, size_t len)
{
	ssize_t n = conn_write(c, buf, len);

	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

/* The upstream's bytes, through its TLS with upstream_tls; like recv and
 * send otherwise. */
static ssize_t
up_recv(struct fwd *fw, int fd, void *buf, size_t len)
{
	ssize_t n;

	if (!fw->ut)
		return recv(fd, buf, len, MSG_DONTWAIT);
	n = tls_conn_read(fw->ut, buf, len);
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

static ssize_t
up_send(struct fwd *fw, int fd, const void *buf, size_t len)
{
	ssize_t n;

	if (!fw->ut)
		return send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	n = tls_conn_write(fw->ut, buf, len);
	if (n < 0) {
		errno = (int)-n;
		return -1;
	}
	return n;
}

/* Send what f holds. 1 when all of it went, 0 when dst is full, -errno. */
static int
flow_flush(struct conn *c, struct flow *f, int dst, bool to_upstream)
{
	while (f->pending) {
		ssize_t n;

		if (!to_upstream && conn_tls(c))
			n = client_send(c, f->buf + f->off, f->pending);
		else if (f->buf)
			n = to_upstream ? up_send(c->svc_state, dst, f->buf + f->off, f->pending)
					: send(dst, f->buf + f->off, f->pending, MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = splice(f->p[0], NULL, dst, NULL, f->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -errno;
		}
		f->pending -= (size_t)n;
		f->off += (size_t)n;
		if (!to_upstream && !conn_tls(c))
			conn_count(c, 0, (size_t)n);
	}
	f->off = 0;
	free(f->buf);
	f->buf = NULL;
	if (f->p[0] >= 0)
		conn_pipe_put(c, f->p);
	return 1;
}

/* Bulk: one chunk from src into the pipe and on to dst. The number of
 * bytes read (0 at EOF), or -errno. */
static ssize_t
flow_splice(struct conn *c, struct flow *f, int src, int dst, bool to_upstream)
{
	ssize_t n;
	int r;

	if (f->p[0] < 0 && (r = conn_pipe_get(c, f->p)) < 0)
		return r;
	n = splice(src, NULL, f->p[1], NULL, CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n <= 0) {
		r = n == 0 ? 0 : -errno;
		conn_pipe_put(c, f->p);
		return r;
	}
	if (to_upstream)
		conn_count(c, (size_t)n, 0);
	f->pending = (size_t)n;
	r = flow_flush(c, f, dst, to_upstream);
	return r < 0 ? r : n;
}

/* Copy: one read from src through the scratch buffer to dst; what dst
 * does not take is kept. The number of bytes read (0 at EOF), or -errno.
 * A record (seqpacket) may be as large as the scratch buffer. */
static ssize_t
flow_copy(struct conn *c, struct flow *f, int src, int dst, bool to_upstream, bool record)
{
	size_t size;
	uint8_t *scratch = conn_scratch(c, &size);
	ssize_t n, m;

	if (to_upstream && conn_tls(c))
		n = client_recv(c, scratch, CHUNK);
	else if (!to_upstream)
		n = up_recv(c->svc_state, src, scratch, record ? size : CHUNK);
	else
		n = recv(src, scratch, record ? size : CHUNK, MSG_DONTWAIT);
	if (n <= 0)
		return n == 0 ? 0 : -errno;
	if (to_upstream && !conn_tls(c))
		conn_count(c, (size_t)n, 0);
	do
		m = !to_upstream && conn_tls(c) ? client_send(c, scratch, (size_t)n)
		    : to_upstream ? up_send(c->svc_state, dst, scratch, (size_t)n)
		    : send(dst, scratch, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (m == -1 && errno == EINTR);
	if (m == -1) {
		if (errno != EAGAIN)
			return -errno;
		m = 0;
	}
	if (!to_upstream && !conn_tls(c))
		conn_count(c, 0, (size_t)m);
	if (m < n) {
		f->buf = malloc((size_t)(n - m));
		if (!f->buf)
			return -ENOMEM;
		memcpy(f->buf, scratch + m, (size_t)(n - m));
		f->pending = (size_t)(n - m);
		f->off = 0;
	}
	return n;
}

/* Move what src has to dst, as far as in and out allow. 0, or -errno when
 * the pair must be closed. */
static int
flow_run(struct conn *c, struct fwd *fw, struct flow *f, struct flow *back, int src, int dst,
	 struct side *in, struct side *out, bool to_upstream)
{
	for (int round = 0;; round++) {
		bool spliced = f->bulk;
		ssize_t n;
		int r;

		if (f->pending) {
			if (!out->wr)
				return 0;       /* dst's EPOLLOUT resumes */
			r = flow_flush(c, f, dst, to_upstream);
			if (r < 0)
				return r;
			if (r == 0) {
				out->wr = false;
				return 0;
			}
		}
		if (f->eof || !in->rd)
			break;
		if (round == RELAY_ROUNDS) {
			conn_again(c);  /* the others first; no edge will say so */
			return 0;
		}
		if (spliced)
			n = flow_splice(c, f, src, dst, to_upstream);
		else
			n = flow_copy(c, f, src, dst, to_upstream, fw->seqpacket && !conn_tls(c));
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN) {
			in->rd = false;
			break;
		}
		if (n == -EINVAL && f->bulk) {
			fw->seqpacket = true;   /* this pair cannot splice after all */
			f->bulk = false;
			continue;
		}
		if (n < 0)
			return (int)n;
		if (n == 0) {
			f->eof = true;
			break;
		}
		if (!fw->seqpacket)
			f->bulk = f->bulk ? n >= BULK_END : n == CHUNK;
		/* A stream read that asked for more than it got emptied the
		 * socket, and the next byte in brings a new edge: that spares
		 * a read that would only fail. Not so for records, nor for
		 * splice (which also stops when the pipe runs out of slots),
		 * nor once EOF or urgent data was seen (a read stops short of
		 * either, with more to come). */
		if (!fw->seqpacket && !spliced && !in->drain && n < CHUNK)
			in->rd = false;
		if (f->pending) {
			out->wr = false;        /* a short write: dst is full */
			return 0;
		}
	}
	if (f->eof && !f->pending && !f->shut) {
		/* Closing both sockets says the rest: a shutdown is needed
		 * only while the other direction still runs. */
		if (!(back->eof && back->pending == 0)) {
			if (to_upstream) {
				/* close_notify first: TLS 1.3 reads it as a
				 * half-close; a full send buffer loses it, and
				 * the FIN says the same. */
				if (fw->ut)
					tls_conn_shutdown(fw->ut);
				shutdown(dst, SHUT_WR);
			} else {
				conn_shutdown_write(c);
			}
		}
		f->shut = true;
	}
	return 0;
}

/* Each side is registered once for input, and once more with EPOLLOUT
 * the first time it is full; edge-triggered, it stays that way. */
static int
fwd_arm(struct conn *c, struct fwd *f)
{
	uint32_t cev = SIDE_EVENTS, uev = SIDE_EVENTS;

	if (f->uc.pending || (c->armed & EPOLLOUT))
		cev |= EPOLLOUT;
	/* A TLS upstream may need to write to read on (and the reverse):
	 * edge-triggered, EPOLLOUT costs nothing while it stays writable. */
	if (f->cu.pending || f->hdr_off < f->hdr_len || (f->up.armed & EPOLLOUT) || f->ut)
		uev |= EPOLLOUT;
	conn_want(c, cev);
	if (c->closed)
		return -EIO;
	return conn_aux_want(&f->up, uev);
}

/* Note what an event says of a side. */
static void
side_note(struct side *s, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLHUP | EPOLLERR))
		s->rd = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		s->wr = true;
	if (events & (EPOLLRDHUP | EPOLLPRI | EPOLLHUP | EPOLLERR))
		s->drain = true;
}

/* Relay what the sides allow, both ways. */
static void
fwd_relay(struct conn *c)
{
	struct fwd *f = c->svc_state;
	int r = 0;

	/* A PROXY header goes out before any byte of the client's. */
	while (f->hdr_off < f->hdr_len && f->us.wr) {
		ssize_t n = send(f->up.fd, f->hdr + f->hdr_off, f->hdr_len - f->hdr_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				f->us.wr = false;
				break;
			}
			conn_close(c);
			return;
		}
		f->hdr_off += (size_t)n;
	}
	if (f->hdr_off == f->hdr_len)
		r = flow_run(c, f, &f->cu, &f->uc, c->fd, f->up.fd, &f->cs, &f->us, true);
	if (r == 0)
		r = flow_run(c, f, &f->uc, &f->cu, f->up.fd, c->fd, &f->us, &f->cs, false);
	if (r < 0 || (f->cu.shut && f->uc.shut)) {
		conn_close(c);
		return;
	}
	/* A side that hung up takes nothing more: done once what it sent
	 * has been passed on. */
	if ((f->client_gone && f->cu.eof && !f->cu.pending) ||
	    (f->upstream_gone && f->uc.eof && !f->uc.pending)) {
		conn_close(c);
		return;
	}
	if (fwd_arm(c, f) < 0)
		conn_close(c);
}

/* Connected to the upstream, and its TLS, if any, is up: relay. */
static void
relay_start(struct conn *c)
{
	struct fwd *f = c->svc_state;

	f->connected = true;
	conn_set_timer(c, 0);
	/* What the client sent while we connected goes first (its socket
	 * joins epoll only after this read, so it reports only what is
	 * newer); the upstream has hardly had time to say anything, but a
	 * TLS upstream may have sent its session tickets already. */
	f->cs.rd = f->cs.wr = true;
	f->us.wr = true;
	f->us.rd = f->ut != NULL;
	fwd_relay(c);
}

/* upstream_tls: the PROXY header goes first, in the clear (as HAProxy's
 * send-proxy does before its TLS), then the handshake runs as far as the
 * socket lets it. Edge-triggered for both ways since the connect, the
 * upstream's next event brings us back. connect_timeout covers it too. */
static void
up_handshake(struct conn *c)
{
	struct fwd *f = c->svc_state;
	int r;

	while (f->hdr_off < f->hdr_len) {
		ssize_t n = send(f->up.fd, f->hdr + f->hdr_off, f->hdr_len - f->hdr_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			f->last_err = errno;
			try_next(c);
			return;
		}
		f->hdr_off += (size_t)n;
	}
	r = tls_conn_handshake(f->ut);
	if (r == 0)
		return;
	if (r < 0) {
		snprintf(f->tls_err, sizeof(f->tls_err), "%s", tls_conn_error(f->ut));
		f->last_err = EPROTO;
		try_next(c);
		return;
	}
	f->handshaking = false;
	relay_start(c);
}

static void
connected(struct conn *c)
{
	struct fwd *f = c->svc_state;
	struct endpoint *ep = c->ep;
	struct forward_options *fo = forward_options(ep);

	if (fo->send_proxy) {
		socklen_t len = sizeof(c->local);

		/* Without a PROXY header of its own, the client reached us here. */
		if (!c->local_len && c->peer_len && getsockname(c->fd, &c->local.sa, &len) == 0 &&
		    len <= sizeof(c->local))
			c->local_len = len;
		ssize_t n = proxy_build(fo->send_proxy, c->peer_len ? &c->peer.sa : NULL, c->peer_len,
				       c->local_len ? &c->local.sa : NULL, c->local_len, f->hdr, sizeof(f->hdr));

		if (n < 0) {
			log_err("endpoint %s: cannot build a PROXY header", ep->name);
			conn_close(c);
			return;
		}
		f->hdr_len = (size_t)n;
	}
	if (fo->upstream_tls) {
		f->ut = tls_conn_client(fo->upstream_tls->ctx, f->up.fd, fo->upstream_tls->server_name);
		if (!f->ut) {
			conn_close(c);
			return;
		}
		f->handshaking = true;
		up_handshake(c);
		return;
	}
	relay_start(c);
}

static void
give_up(struct conn *c)
{
	struct fwd *f = c->svc_state;
	struct endpoint *ep = c->ep;
	char text[ADDR_STRLEN];

	atomic_fetch_add_explicit(&ep->stats.failed, 1, memory_order_relaxed);
	log_warn("endpoint %s: no upstream reachable (last: %s: %s%s), closing the client",
		 ep->name, addr_format(&f->ups[(f->first + f->tried - 1) % f->n_ups], text, sizeof(text)),
		 f->last_err == EPROTO ? "TLS handshake failed: " : "",
		 f->last_err == EPROTO ? f->tls_err : f->last_err ? strerror(f->last_err) : "timed out");
	conn_close(c);
}

/* Connect to the next upstream not tried yet. */
static void
try_next(struct conn *c)
{
	struct fwd *f = c->svc_state;
	struct endpoint *ep = c->ep;
	struct forward_options *fo = forward_options(ep);

	tls_conn_free(f->ut);
	f->ut = NULL;
	f->handshaking = false;
	f->hdr_off = 0;
	conn_aux_close(&f->up);
	while (f->tried < f->n_ups) {
		const struct addr *a = &f->ups[(f->first + f->tried) % f->n_ups];
		int fd, r;

		f->tried++;
		fd = socket(addr_family(a), addr_socktype(a) | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    addr_protocol(a));
		if (fd == -1) {
			f->last_err = errno;
			continue;
		}
		r = sockopt_upstream(fd, a, &fo->up_so);
		if (r < 0) {
			f->last_err = -r;
			close(fd);
			continue;
		}
		if (fo->upstream_uid != (uid_t)-1 && addr_family(a) == AF_UNIX) {
			r = connect_as(fd, a, ep);
			if (r < 0) {
				errno = -r;
				r = -1;
			}
		} else {
			r = connect(fd, (const struct sockaddr *)&a->sa, a->len);
		}
		if (r == -1 && errno != EINPROGRESS) {
			f->last_err = errno;
			close(fd);
			continue;
		}
		conn_aux_init(c, &f->up, fd);
		f->us = (struct side){ 0 };
		/* TLS is records too: the client's plaintext is never spliced
		 * (sockd decrypts it), and a record read says nothing of what
		 * else the socket holds. With kTLS both ways the kernel could
		 * splice it; reading a control record (a TLS 1.3 ticket, an
		 * alert) from it fails with EIO, though, so it is not done. */
		f->seqpacket = c->socktype == SOCK_SEQPACKET || addr_socktype(a) == SOCK_SEQPACKET ||
			       conn_tls(c) || fo->upstream_tls;
		if (r == 0) {
			connected(c);   /* Unix sockets connect at once */
			return;
		}
		/* Writable says connected; the registration stays for good. */
		if ((r = conn_aux_want(&f->up, SIDE_EVENTS | EPOLLOUT)) < 0) {
			f->last_err = -r;
			conn_aux_close(&f->up);
			continue;
		}
		conn_set_timer(c, conn_now_ms(c) + (uint64_t)(fo->connect_timeout * 1000.0));
		return;
	}
	give_up(c);
}

/* Connect this client to the upstreams ups[0..n), starting where balance
 * says. */
static void
begin(struct conn *c, const struct addr *ups, size_t n, atomic_uint *rr_next)
{
	struct fwd *f = c->svc_state;

	f->ups = ups;
	f->n_ups = n;
	if (forward_options(c->ep)->balance == BALANCE_ROUNDROBIN)
		f->first = atomic_fetch_add_explicit(rr_next, 1, memory_order_relaxed) % n;
	conn_want(c, 0);        /* nothing to read the client for until connected */
	if (!c->closed)
		try_next(c);
}

/* ------------------------------------------------------------ SNI routing */

/* Refused by routes: no route for the name, or no usable ClientHello. The
 * connection's log line says which (detail); the reason in full is for
 * debugging only, as every client can make one. */
static void
sni_refuse(struct conn *c, const char *detail, const char *why, bool alert)
{
	/* A fatal unrecognized_name alert (RFC 6066 §3) in a TLS 1.2-style
	 * record, which TLS 1.3 clients read too (RFC 8446 §5.1): the client
	 * learns why instead of seeing a reset. */
	static const uint8_t unrecognized_name[] = { 21, 3, 3, 0, 2, 2, 112 };
	struct fwd *f = c->svc_state;
	char peer[ADDR_STRLEN];

	atomic_fetch_add_explicit(&c->ep->stats.refused_sni, 1, memory_order_relaxed);
	if (detail != f->detail)
		snprintf(f->detail, sizeof(f->detail), "%s", detail);
	c->detail = f->detail;
	c->outcome = "refused-sni";
	log_debug("endpoint %s: %s: %s", c->ep->name,
		  c->peer_len ? addr_format_peer(&c->peer.sa, c->peer_len, peer, sizeof(peer)) : "unix", why);
	if (!alert) {
		conn_close(c);
		return;
	}
	/* The hello is still unread: finishing reads it away, so that the
	 * close does not turn into a reset that could beat the alert. */
	if (conn_send(c, unrecognized_name, sizeof(unrecognized_name)) == 0)
		conn_finish(c);
}

/* The whole ClientHello is in (and still unread): pick the upstreams. */
static void
sni_route(struct conn *c, const struct tls_hello *h)
{
	struct fwd *f = c->svc_state;
	struct forward_options *fo = forward_options(c->ep);
	struct fwd_route *r = NULL;

	snprintf(f->detail, sizeof(f->detail), "sni=%s", h->has_server_name ? h->server_name : "none");
	c->detail = f->detail;
	if (h->has_server_name)
		r = (struct fwd_route *)forward_route_find(fo, h->server_name);
	f->routing = false;
	conn_set_timer(c, 0);
	if (c->closed)
		return;
	if (r) {
		atomic_fetch_add_explicit(&c->ep->stats.sni_routed, 1, memory_order_relaxed);
		begin(c, r->upstream, r->n_upstream, &r->rr_next);
		return;
	}
	if (fo->n_upstream) {
		atomic_fetch_add_explicit(&c->ep->stats.sni_default, 1, memory_order_relaxed);
		begin(c, fo->upstream, fo->n_upstream, &fo->rr_next);
		return;
	}
	sni_refuse(c, f->detail, h->has_server_name ? "no route for the server name"
						    : "no server name, and no default upstream", true);
}

/* Look at what the client sent so far, without taking it: the upstream
 * gets every byte. Edge-triggered, epoll reports each arrival once, so
 * a hello that trickles in costs one wakeup per segment and no spinning;
 * FIONREAD spares the peek until the parser's ->need is there. */
static void
sni_peek(struct conn *c, uint32_t events)
{
	struct fwd *f = c->svc_state;
	bool eof = events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR);
	struct tls_hello h;
	size_t size;
	uint8_t *buf = conn_scratch(c, &size);
	int avail = 0;
	ssize_t n;

	if (!eof && ioctl(c->fd, FIONREAD, &avail) == 0 && (size_t)avail < f->hello_need)
		return;
	do
		n = recv(c->fd, buf, TLS_HELLO_INPUT_MAX, MSG_PEEK | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN && !eof)
		return;
	if (n <= 0) {
		sni_refuse(c, "hello=incomplete", "closed before its ClientHello was complete", false);
		return;
	}
	switch (tls_hello_parse(buf, (size_t)n, &h)) {
	case TLS_HELLO_OK:
		sni_route(c, &h);
		return;
	case TLS_HELLO_NEED_MORE:
		if (eof) {
			sni_refuse(c, "hello=incomplete", "closed before its ClientHello was complete", false);
			return;
		}
		f->hello_need = h.need;
		return;
	case TLS_HELLO_NOT_TLS:
		sni_refuse(c, "hello=not-tls", "not a TLS ClientHello", false);
		return;
	case TLS_HELLO_MALFORMED:
		sni_refuse(c, "hello=malformed", tls_hello_strerror(h.error), false);
		return;
	}
}

static void
fwd_start(struct conn *c)
{
	struct endpoint *ep = c->ep;
	struct forward_options *fo = forward_options(ep);
	struct fwd *f = calloc(1, sizeof(*f));

	if (!f) {
		conn_close(c);
		return;
	}
	f->up.fd = -1;
	f->cu.p[0] = f->cu.p[1] = f->uc.p[0] = f->uc.p[1] = -1;
	c->svc_state = f;
	if (conn_tls_kernel(c))
		log_debug("endpoint %s: kTLS both ways: the client's plaintext could be spliced, "
			  "but is relayed through OpenSSL (a control record fails a plain read)", ep->name);
	if (fo->n_routes == 0) {
		begin(c, fo->upstream, fo->n_upstream, &fo->rr_next);
		return;
	}
	f->routing = true;
	f->hello_need = 1;
	conn_set_timer(c, conn_now_ms(c) + (uint64_t)(fo->sni_timeout * 1000.0));
	if (c->closed)
		return;
	conn_want(c, EPOLLIN | EPOLLRDHUP | EPOLLET);
	if (!c->closed)
		sni_peek(c, 0);
}

static void
fwd_io(struct conn *c, uint32_t events)
{
	struct fwd *f = c->svc_state;

	if (f->routing) {
		sni_peek(c, events);
		return;
	}
	if (!f->connected)
		return;         /* not watched until then (fwd_start) */
	if (events & (EPOLLHUP | EPOLLERR))
		f->client_gone = true;
	side_note(&f->cs, events);      /* none: conn_again() */
	fwd_relay(c);
}

static void
fwd_aux_io(struct conn *c, struct conn_aux *aux, uint32_t events)
{
	struct fwd *f = c->svc_state;

	if (f->handshaking) {
		up_handshake(c);
		return;
	}
	if (!f->connected) {
		int err = 0;
		socklen_t len = sizeof(err);

		/* Writable without an error means connected. */
		if (events & (EPOLLERR | EPOLLHUP)) {
			if (getsockopt(f->up.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
				err = errno;
			f->last_err = err ? err : ECONNREFUSED;
			try_next(c);
			return;
		}
		side_note(&f->us, events);
		connected(c);
		return;
	}
	if (events & (EPOLLHUP | EPOLLERR))
		f->upstream_gone = true;
	side_note(&f->us, events);
	if (f->ut)
		f->us.rd = f->us.wr = true;     /* a record may need the other way */
	fwd_relay(c);
}

/* connect_timeout passed for the current upstream, or sni_timeout for
 * the ClientHello. */
static void
fwd_timeout(struct conn *c)
{
	struct fwd *f = c->svc_state;

	if (f->routing) {
		sni_refuse(c, "hello=timeout", "no complete ClientHello in time", false);
		return;
	}
	f->last_err = 0;
	try_next(c);
}

/* ------------------------------------------------------------ keys */

#define CONNECT_TIMEOUT_MIN     0.1
#define CONNECT_TIMEOUT_MAX     3600
#define F(field)                offsetof(struct forward_options, field)

static bool
set_upstream(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct forward_options *fo = (struct forward_options *)((char *)field - k->offset);

	free(fo->upstream);
	return forward_parse_addrs(c, v, "upstream", &fo->upstream, &fo->n_upstream);
}

static void
print_upstream(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const struct forward_options *fo = base;

	(void)outer;
	if (fo->n_upstream)
		forward_print_addrs(f, indent, k->name, fo->upstream, fo->n_upstream);
}

static bool
has_routes(const void *base)
{
	return ((const struct forward_options *)base)->n_routes > 0;
}

/* upstream_user: connect to Unix upstreams as that user (and group). */
static bool
set_upstream_user(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct forward_options *fo = (struct forward_options *)((char *)field - k->offset);
	struct key_user u;

	if (!key_parse_user(c, v, &u))
		return false;
	free(fo->upstream_user);
	free(fo->upstream_group);
	fo->upstream_user = u.name;
	fo->upstream_group = u.group;
	fo->upstream_uid = u.uid;
	fo->upstream_gid = u.gid;
	return true;
}

static void
print_upstream_user(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	const struct forward_options *fo = base;
	char *u;

	if (!fo->upstream_user)
		return;
	u = fo->upstream_group ? diag_format("%s:%s", fo->upstream_user, fo->upstream_group) : NULL;
	key_dump_key_string(f, indent, k->name, u ? u : fo->upstream_user);
	free(u);
}

static void
release_upstream_user(const struct key *k, void *base)
{
	struct forward_options *fo = base;

	free(fo->upstream_user);
	free(fo->upstream_group);
	fo->upstream_user = fo->upstream_group = NULL;
}

/* The upstream socket options are for stream upstreams; -nv leaves them
 * out of datagram endpoints, where they would not load again. */
static bool
streams(const void *outer)
{
	const struct endpoint *ep = outer;

	return ep && ep->n_listen > 0 && addr_is_stream(&ep->listen[0]);
}

static void
print_stream_bool(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	if (streams(outer))
		key_print_bool(f, indent, k, base, outer);
}

static void
print_stream_uint(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	if (streams(outer))
		key_print_uint(f, indent, k, base, outer);
}

static void
forward_init(void *base)
{
	struct forward_options *fo = base;

	atomic_init(&fo->rr_next, 0);
	fo->upstream_uid = (uid_t)-1;
	fo->upstream_gid = (gid_t)-1;
}

static const struct key_choice balance_choices[] = {
	{ "first", BALANCE_FIRST }, { "roundrobin", BALANCE_ROUNDROBIN }, { NULL, 0 },
};
static const struct key_choice send_proxy_choices[] = {
	{ "v1", PROXY_V1 }, { "v2", PROXY_V2 }, { NULL, 0 },
};

static const struct key forward_keys[] = {
	{ .name = "upstream", .type = KEY_ADDRESSES, .set = set_upstream, .print = print_upstream,
	  .offset = F(upstream), .doc_def = "required without routes",
	  .release = key_release_ptr,
	  .doc = "where to connect, tried in order; with routes: for names no route has" },
	{ .name = "routes", .type = KEY_GROUPS, .set = forward_set_routes,
	  .print = forward_print_routes, .offset = F(routes), .doc_def = "none",
	  .addrs = KEY_ADDRS_STREAM, .release = forward_release_routes,
	  .doc = "route TLS clients by the server name in their ClientHello: "
	  "( { server_name = [ ... ]; upstream = [ ... ]; }, ... )" },
	{ .name = "sni_timeout", .type = KEY_NUMBER, .set = key_set_double,
	  .print = key_print_double, .offset = F(sni_timeout), .min = CONNECT_TIMEOUT_MIN,
	  .max = CONNECT_TIMEOUT_MAX, .def = "5", .shown = has_routes,
	  .doc = "seconds a client of routes has to send its whole ClientHello" },
	{ .name = "connect_timeout", .type = KEY_NUMBER, .set = key_set_double,
	  .print = key_print_double, .offset = F(connect_timeout), .min = CONNECT_TIMEOUT_MIN,
	  .max = CONNECT_TIMEOUT_MAX, .def = "5", .doc = "seconds per upstream attempt" },
	{ .name = "balance", .type = KEY_CHOICE, .set = key_set_choice, .print = key_print_choice,
	  .offset = F(balance), .choices = balance_choices, .def = "first",
	  .doc = "which upstream to try first" },
	{ .name = "send_proxy", .type = KEY_CHOICE, .set = key_set_choice, .print = key_print_choice,
	  .offset = F(send_proxy), .choices = send_proxy_choices, .doc_def = "none",
	  .addrs = KEY_ADDRS_STREAM, .doc = "send the upstream a PROXY header of this version" },
	{ .name = "upstream_tls", .type = KEY_GROUP, .set = upstream_tls_set,
	  .print = upstream_tls_print, .offset = F(upstream_tls), .doc_def = "none",
	  .addrs = KEY_ADDRS_STREAM, .release = upstream_tls_release,
	  .doc = "speak TLS to the upstream: { ca; server_name; certificate; key; verify; min_version; }" },
	{ .name = "upstream_user", .type = KEY_ID, .set = set_upstream_user,
	  .print = print_upstream_user, .offset = F(upstream_user),
	  .doc_def = "the user sockd serves as", .release = release_upstream_user,
	  .doc = "connect to Unix upstreams as user or user:group (needs root)" },
	{ .name = "upstream_source", .type = KEY_STRING, .set = sockopt_set_source,
	  .print = sockopt_print_source, .offset = F(up_so), .doc_def = "none",
	  .addrs = KEY_ADDRS_STREAM,
	  .doc = "connect to tcp upstreams from this address (IP_BIND_ADDRESS_NO_PORT)" },
	{ .name = "upstream_keepalive", .type = KEY_BOOLEAN, .set = key_set_bool,
	  .print = print_stream_bool, .offset = F(up_so.keepalive), .def = "false",
	  .addrs = KEY_ADDRS_STREAM,
	  .doc = "SO_KEEPALIVE on tcp upstream connections" },
	{ .name = "upstream_nodelay", .type = KEY_BOOLEAN, .set = key_set_bool,
	  .print = print_stream_bool, .offset = F(up_so.nodelay), .def = "false",
	  .addrs = KEY_ADDRS_STREAM,
	  .doc = "TCP_NODELAY on tcp upstream connections" },
	{ .name = "upstream_mark", .type = KEY_INTEGER, .set = key_set_uint,
	  .print = print_stream_uint, .offset = F(up_so.mark), .min = 0, .max = 4294967295.0,
	  .def = "0", .addrs = KEY_ADDRS_STREAM,
	  .doc = "SO_MARK of upstream connections (needs CAP_NET_ADMIN); 0 = none" },
	{ .name = NULL },
};

static const struct key_set forward_key_set = {
	.section = "forward",
	.keys = forward_keys,
	.size = sizeof(struct forward_options),
	.init = forward_init,
};

const struct service service_forward = {
	.keys = &forward_key_set,
	.name = "forward",
	.flags = SERVICE_STREAM | SERVICE_DGRAM | SERVICE_LOG_INFO,
	.conn_start = fwd_start,
	.conn_io = fwd_io,
	.conn_aux_io = fwd_aux_io,
	.conn_timeout = fwd_timeout,
	.conn_free = fwd_free,
};
