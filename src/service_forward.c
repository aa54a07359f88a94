/* service "forward": pair each client with a connection to an upstream and
 * move bytes both ways with splice(2), honouring half-close. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proxy_proto.h"
#include "service.h"
#include "sockd.h"
#include "worker.h"

#define SPLICE_CHUNK (64 * 1024)        /* a default pipe holds this much */
#define RELAY_ROUNDS 4                  /* per wakeup and direction, for fairness */
#define PROXY_HDR_MAX 256               /* v2 with Unix addresses: 16 + 216 */

/* One direction: bytes read from src wait in a pipe (splice) or a buffer
 * (copy mode) until dst takes them. At most one chunk is ever held, so a
 * slow reader costs a pipe or one buffer, never more. */
struct flow {
	int p[2];                       /* pipe from the pool while it holds bytes */
	size_t pending;                 /* bytes in the pipe or buf */
	uint8_t *buf;                   /* copy mode */
	size_t off;
	bool eof;                       /* src said EOF */
	bool shut;                      /* dst's write side is shut down */
};

struct fwd {
	struct conn_aux up;             /* the upstream socket */
	int ufd;
	unsigned tried;                 /* upstreams tried so far */
	unsigned first;                 /* where this client started */
	bool connected;
	bool copy;                      /* splice unsupported here (seqpacket): read/write */
	int last_err;
	struct flow cu;                 /* client -> upstream */
	struct flow uc;                 /* upstream -> client */
	uint8_t hdr[PROXY_HDR_MAX];     /* PROXY header still to send */
	size_t hdr_len;
	size_t hdr_off;
};

static void try_next(struct conn *c);

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
}

static void
fwd_free(struct conn *c)
{
	struct fwd *f = c->svc_state;

	if (!f)
		return;
	flow_release(c, &f->cu);
	flow_release(c, &f->uc);
	if (f->ufd >= 0) {
		conn_aux_del(&f->up);
		close(f->ufd);
		f->ufd = -1;
	}
}

/* Move what src has to dst through f. Returns 0, or -errno when the pair
 * must be closed. */
static int
flow_run(struct conn *c, struct fwd *fw, struct flow *f, int src, int dst, bool to_upstream)
{
	for (int round = 0; round < RELAY_ROUNDS; round++) {
		ssize_t n;

		if (f->pending) {
			if (fw->copy)
				n = send(dst, f->buf + f->off, f->pending, MSG_NOSIGNAL | MSG_DONTWAIT);
			else
				n = splice(f->p[0], NULL, dst, NULL, f->pending, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == -1)
				return errno == EAGAIN || errno == EINTR ? 0 : -errno;
			f->pending -= (size_t)n;
			f->off += (size_t)n;
			if (!to_upstream)
				conn_count(c, 0, (size_t)n);
			if (f->pending)
				continue;
			f->off = 0;
			if (!fw->copy)
				conn_pipe_put(c, f->p);
		}
		if (f->eof) {
			if (!f->shut) {
				shutdown(dst, SHUT_WR);
				f->shut = true;
			}
			return 0;
		}
		if (fw->copy) {
			if (!f->buf && !(f->buf = malloc(SPLICE_CHUNK)))
				return -ENOMEM;
			n = recv(src, f->buf, SPLICE_CHUNK, MSG_DONTWAIT);
		} else {
			if (f->p[0] < 0) {
				int r = conn_pipe_get(c, f->p);

				if (r < 0)
					return r;
			}
			n = splice(src, NULL, f->p[1], NULL, SPLICE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n == -1 && errno == EINVAL && f->pending == 0) {
				/* This socket type cannot splice: copy instead. */
				conn_pipe_put(c, f->p);
				fw->copy = true;
				round--;
				continue;
			}
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				if (!fw->copy && f->pending == 0 && f->p[0] >= 0)
					conn_pipe_put(c, f->p);
				return 0;
			}
			return -errno;
		}
		if (n == 0) {
			f->eof = true;
			if (!fw->copy && f->p[0] >= 0)
				conn_pipe_put(c, f->p);
			continue;
		}
		f->pending = (size_t)n;
		if (to_upstream)
			conn_count(c, (size_t)n, 0);
	}
	return 0;
}

/* Interest follows the flows: read a side only while its flow is empty,
 * wait for writability only while bytes are pending toward it. */
static int
fwd_arm(struct conn *c, struct fwd *f)
{
	uint32_t cev = 0, uev = 0;

	if (!f->cu.eof && !f->cu.pending)
		cev |= EPOLLIN;
	if (f->uc.pending)
		cev |= EPOLLOUT;
	if (!f->uc.eof && !f->uc.pending)
		uev |= EPOLLIN;
	if (f->cu.pending || f->hdr_off < f->hdr_len)
		uev |= EPOLLOUT;
	conn_want(c, cev);
	if (c->closed)
		return -EIO;
	return conn_aux_want(&f->up, uev);
}

static void
fwd_relay(struct conn *c)
{
	struct fwd *f = c->svc_state;
	int r;

	/* A PROXY header goes out before any byte of the client's. */
	while (f->hdr_off < f->hdr_len) {
		ssize_t n = send(f->ufd, f->hdr + f->hdr_off, f->hdr_len - f->hdr_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				if (fwd_arm(c, f) < 0)
					conn_close(c);
				return;
			}
			conn_close(c);
			return;
		}
		f->hdr_off += (size_t)n;
	}
	r = flow_run(c, f, &f->cu, c->fd, f->ufd, true);
	if (r == 0)
		r = flow_run(c, f, &f->uc, f->ufd, c->fd, false);
	if (r < 0 || (f->cu.shut && f->uc.shut)) {
		conn_close(c);
		return;
	}
	if (fwd_arm(c, f) < 0)
		conn_close(c);
}

static void
connected(struct conn *c)
{
	struct fwd *f = c->svc_state;
	struct endpoint *ep = c->ep;

	f->connected = true;
	conn_set_timer(c, 0);
	if (ep->send_proxy) {
		socklen_t len = sizeof(c->local);

		/* Without a PROXY header of its own, the client reached us here. */
		if (!c->local_len && c->peer_len && getsockname(c->fd, &c->local.sa, &len) == 0 &&
		    len <= sizeof(c->local))
			c->local_len = len;
		ssize_t n = proxy_build(ep->send_proxy, c->peer_len ? &c->peer.sa : NULL, c->peer_len,
				       c->local_len ? &c->local.sa : NULL, c->local_len, f->hdr, sizeof(f->hdr));

		if (n < 0) {
			log_err("endpoint %s: cannot build a PROXY header", ep->name);
			conn_close(c);
			return;
		}
		f->hdr_len = (size_t)n;
	}
	fwd_relay(c);
}

static void
give_up(struct conn *c)
{
	struct fwd *f = c->svc_state;
	struct endpoint *ep = c->ep;
	char text[ADDR_STRLEN];

	atomic_fetch_add_explicit(&ep->stats.failed, 1, memory_order_relaxed);
	log_warn("endpoint %s: no upstream reachable (last: %s: %s), closing the client",
		 ep->name, addr_format(&ep->upstream[(f->first + f->tried - 1) % ep->n_upstream], text, sizeof(text)),
		 f->last_err ? strerror(f->last_err) : "timed out");
	conn_close(c);
}

/* Connect to the next upstream not tried yet. */
static void
try_next(struct conn *c)
{
	struct fwd *f = c->svc_state;
	struct endpoint *ep = c->ep;

	if (f->ufd >= 0) {
		conn_aux_del(&f->up);
		close(f->ufd);
		f->ufd = -1;
	}
	while (f->tried < ep->n_upstream) {
		const struct addr *a = &ep->upstream[(f->first + f->tried) % ep->n_upstream];
		int fd, r;

		f->tried++;
		fd = socket(addr_family(a), addr_socktype(a) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd == -1) {
			f->last_err = errno;
			continue;
		}
		r = connect(fd, (const struct sockaddr *)&a->sa, a->len);
		if (r == -1 && errno != EINPROGRESS) {
			f->last_err = errno;
			close(fd);
			continue;
		}
		f->ufd = fd;
		f->copy = c->socktype == SOCK_SEQPACKET || addr_socktype(a) == SOCK_SEQPACKET;
		if (conn_aux_add(c, &f->up, fd, r == 0 ? 0 : EPOLLOUT) < 0) {
			f->last_err = errno;
			close(fd);
			f->ufd = -1;
			continue;
		}
		if (r == 0) {
			connected(c);
			return;
		}
		conn_set_timer(c, conn_now_ms(c) + (uint64_t)(ep->connect_timeout * 1000.0));
		return;
	}
	give_up(c);
}

static void
fwd_start(struct conn *c)
{
	struct endpoint *ep = c->ep;
	struct fwd *f = calloc(1, sizeof(*f));

	if (!f) {
		conn_close(c);
		return;
	}
	f->ufd = -1;
	f->cu.p[0] = f->cu.p[1] = f->uc.p[0] = f->uc.p[1] = -1;
	c->svc_state = f;
	if (ep->balance == BALANCE_ROUNDROBIN)
		f->first = atomic_fetch_add_explicit(&ep->rr_next, 1, memory_order_relaxed) % ep->n_upstream;
	conn_want(c, 0);
	try_next(c);
}

static void
fwd_io(struct conn *c, uint32_t events)
{
	struct fwd *f = c->svc_state;

	if (!f->connected)
		return;
	fwd_relay(c);
}

static void
fwd_aux_io(struct conn *c, struct conn_aux *aux, uint32_t events)
{
	struct fwd *f = c->svc_state;

	if (!f->connected) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(f->ufd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err) {
			f->last_err = err;
			try_next(c);
			return;
		}
		connected(c);
		return;
	}
	fwd_relay(c);
}

/* connect_timeout passed for the current upstream. */
static void
fwd_timeout(struct conn *c)
{
	struct fwd *f = c->svc_state;

	f->last_err = 0;
	try_next(c);
}

const struct service service_forward = {
	.name = "forward",
	.flags = SERVICE_STREAM | SERVICE_DGRAM | SERVICE_LOG_INFO,
	.conn_start = fwd_start,
	.conn_io = fwd_io,
	.conn_aux_io = fwd_aux_io,
	.conn_timeout = fwd_timeout,
	.conn_free = fwd_free,
};
