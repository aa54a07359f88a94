#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "proxy_proto.h"
#include "queue.h"
#include "service.h"
#include "udp_guard.h"
#include "dgram_src.h"
#include "udp_relay.h"
#include "worker.h"

#define EVENTS_PER_WAIT 256
#define CONNS_PER_POP 8  /* small, so that idle workers get a share */
#define SCRATCH_SIZE (256 * 1024)
#define LINGER_MS 5000
#define DGRAM_BATCH 32
#define DGRAM_MAX (64 * 1024)
#define DGRAM_ROUNDS 8          /* batches per wakeup before serving others */
#define GSO_SEG_MAX 1200        /* largest reply sent in a UDP_SEGMENT train (fits any MTU >= 1280) */
#define GSO_TRAIN_MAX 60000     /* bytes in one train: under the 64 KiB of one UDP packet */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define NO_HEAP UINT32_MAX
#define PIPE_POOL 32            /* empty pipes a worker keeps for splice */

#define UDP_RATE_SOURCES 4096   /* sources tracked per datagram socket for udp_rate */
#define RATE_LOG_MS 10000       /* at most one line about udp_rate drops per socket this often */
#define UDP_SESSIONS 4096       /* datagram forward sessions per socket, unless max_connections says */

/* A datagram socket this worker serves. The listener owns the fd. */
struct dgram_sock {
	struct watch watch;
	struct listener *l;
	struct source_rates *rates;     /* udp_rate per source, or NULL */
	struct udp_relay *relay;        /* service forward: the sessions, or NULL */
	bool no_gso;                    /* UDP_SEGMENT failed here once: send one by one */
	uint64_t rate_logged_ms;        /* a udp_rate drop was last logged; 0 = never */
	unsigned long rate_unlogged;    /* drops since */
	bool reply_src;                 /* on a wildcard address: each reply leaves
					 * from the address its request came to */
	struct dgram_sock *next;
};

struct dgram_batch {
	struct mmsghdr in[DGRAM_BATCH];
	struct iovec in_iov[DGRAM_BATCH];
	struct sockaddr_storage from[DGRAM_BATCH];
	union dgram_src_buf in_cmsg[DGRAM_BATCH];
	struct mmsghdr out[DGRAM_BATCH];
	struct iovec out_iov[DGRAM_BATCH];
	struct dgram_src out_src[DGRAM_BATCH];
	/* what is handed to sendmmsg: replies, or trains of them */
	struct mmsghdr send[DGRAM_BATCH];
	unsigned first[DGRAM_BATCH];    /* send[k] starts at out[first[k]], one reply per iovec */
	union {
		char buf[DGRAM_SRC_SPACE + CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cmsg[DGRAM_BATCH];
	uint8_t reply[DGRAM_BATCH][DGRAM_REPLY_MAX];
	uint8_t data[DGRAM_BATCH][DGRAM_MAX];
};

/* A socket handed to a child (conn_handoff) and still watched; the epoll
 * registration names the slot and its generation, never the connection,
 * because it outlives our fd and may outlive the connection too. */
struct handoff_slot {
	struct conn *c;                 /* NULL when free */
	uint32_t gen;                   /* bumped when freed: stale events miss */
	uint32_t next_free;
};

#define NO_SLOT UINT32_MAX
#define HANDOFF_TAG 1u                  /* epoll data with this bit: a handoff, not a watch */

struct worker {
	struct sockd *d;
	unsigned id;
	pthread_t thread;
	int epfd;
	int mailfd;                     /* eventfd: look at the mailbox */

	pthread_mutex_t mail_lock;
	struct dgram_sock *mail_dgrams; /* handed over, not yet in epoll */
	bool mail_drain;
	bool mail_abort;
	bool mail_retire;
	bool mail_release;
	sem_t released;                 /* posted when mail_release was done */
	atomic_uint pings;              /* watchdog: asked ... */
	atomic_uint pongs;              /* ... and answered */
	atomic_bool exited;

	struct conn *graveyard;         /* closed during this batch, freed after it */
	struct conn *again;             /* conn_again(): run once more after this batch */
	int pipes[PIPE_POOL][2];
	unsigned n_pipes;
	uint64_t relay_due;             /* next datagram session expiry, 0 = none */

	bool draining;                  /* shutdown: finish what is open and queued */
	bool retiring;                  /* reload: finish what is open, take nothing new */
	struct conn *conns;
	unsigned n_conns;
	struct dgram_sock *dgrams;

	struct handoff_slot *handoffs;
	uint32_t n_handoffs;
	uint32_t free_handoff;          /* head of the free list, NO_SLOT = none */

	struct conn **heap;             /* min-heap on deadline_ms */
	size_t heap_len;
	size_t heap_cap;

	uint8_t *scratch;
	struct dgram_batch *batch;      /* allocated with the first datagram socket */
	uint64_t rand;
	uint64_t now_ms;

	struct watch queue_watch;
	struct watch mail_watch;

	/* Fault injection for the watchdog test: $SOCKD_FAULT_STALL_MS makes
	 * the first worker to take a connection of an endpoint named
	 * "fault-stall" hang that long, once. */
	unsigned long fault_stall_ms;
};

static uint64_t
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ timer heap */

static void
heap_swap(struct worker *w, size_t a, size_t b)
{
	struct conn *t = w->heap[a];

	w->heap[a] = w->heap[b];
	w->heap[b] = t;
	w->heap[a]->heap_idx = (uint32_t)a;
	w->heap[b]->heap_idx = (uint32_t)b;
}

static void
heap_up(struct worker *w, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (w->heap[parent]->deadline_ms <= w->heap[i]->deadline_ms)
			break;
		heap_swap(w, i, parent);
		i = parent;
	}
}

static void
heap_down(struct worker *w, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < w->heap_len && w->heap[l]->deadline_ms < w->heap[m]->deadline_ms)
			m = l;
		if (r < w->heap_len && w->heap[r]->deadline_ms < w->heap[m]->deadline_ms)
			m = r;
		if (m == i)
			break;
		heap_swap(w, i, m);
		i = m;
	}
}

static void
heap_remove(struct worker *w, struct conn *c)
{
	size_t i = c->heap_idx;

	if (i == NO_HEAP)
		return;
	c->heap_idx = NO_HEAP;
	w->heap_len--;
	if (i == w->heap_len)
		return;
	w->heap[i] = w->heap[w->heap_len];
	w->heap[i]->heap_idx = (uint32_t)i;
	heap_up(w, i);
	heap_down(w, w->heap[i]->heap_idx);
}

/* Set (or move) c's deadline. Returns -ENOMEM when the heap cannot grow. */
static int
conn_set_deadline(struct conn *c, uint64_t deadline_ms)
{
	struct worker *w = c->w;

	heap_remove(w, c);
	if (w->heap_len == w->heap_cap) {
		size_t cap = w->heap_cap ? 2 * w->heap_cap : 64;
		struct conn **h = realloc(w->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		w->heap = h;
		w->heap_cap = cap;
	}
	c->deadline_ms = deadline_ms;
	c->heap_idx = (uint32_t)w->heap_len;
	w->heap[w->heap_len++] = c;
	heap_up(w, c->heap_idx);
	return 0;
}

/* ------------------------------------------------------------ connections */

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
	c->heap_idx = NO_HEAP;
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
		acceptor_wake(d);
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
	struct epoll_event ev = { .events = events, .data.ptr = &c->watch };

	if (events == c->armed && (events || !c->registered))
		return 0;
	/* A connection is in the epoll set only while it waits for something:
	 * one EPOLL_CTL_ADD with its first interest (none at all for one that
	 * is done at once), and out again when it waits for nothing, since
	 * epoll reports hangups even then. */
	if (!events) {
		if (epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->fd, NULL) == -1)
			return -errno;
		c->registered = false;
		c->armed = 0;
		return 0;
	}
	if (epoll_ctl(c->w->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) == -1)
		return -errno;
	c->registered = true;
	c->armed = events;
	return 0;
}

/* Close fd, which was (maybe) in w's epoll set. An exec child between
 * clone() and execve() holds a copy of every fd, and then close() alone
 * would leave the registration, whose events would name freed memory: it
 * leaves the set first whenever children may be spawned. */
static void
worker_close_fd(struct worker *w, int fd, bool registered)
{
	if (registered && atomic_load(&w->d->spawns_children))
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static void
conn_unlink(struct conn *c)
{
	struct worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_conns--;
}

static void
handoff_release(struct worker *w, struct conn *c)
{
	struct handoff_slot *h = &w->handoffs[c->handoff - 1];

	h->c = NULL;
	h->gen = (h->gen + 1) & 0x7fffffff;
	h->next_free = w->free_handoff;
	w->free_handoff = c->handoff - 1;
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
	struct worker *w = c->w;
	struct epoll_event ev;
	uint32_t i;
	int r = 0;

	if (w->free_handoff != NO_SLOT) {
		i = w->free_handoff;
		w->free_handoff = w->handoffs[i].next_free;
	} else {
		struct handoff_slot *v;
		uint32_t cap = w->n_handoffs ? 2 * w->n_handoffs : 16;

		v = realloc(w->handoffs, cap * sizeof(*v));
		if (!v) {
			conn_replace_fd(c, fd);
			return -ENOMEM;
		}
		w->handoffs = v;
		for (uint32_t k = cap; k-- > w->n_handoffs + 1;) {
			v[k] = (struct handoff_slot){ .next_free = w->free_handoff };
			w->free_handoff = k;
		}
		i = w->n_handoffs;
		v[i].gen = 0;
		w->n_handoffs = cap;
	}
	w->handoffs[i].c = c;
	ev.events = EPOLLONESHOT | EPOLLET;
	ev.data.u64 = (((uint64_t)w->handoffs[i].gen << 32 | i) << 1) | HANDOFF_TAG;
	if (epoll_ctl(w->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		r = -errno;
		c->handoff = i + 1;
		handoff_release(w, c);
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

/* An event of a handed-off socket. */
static void
handoff_event(struct worker *w, uint64_t data)
{
	uint32_t i = (uint32_t)(data >> 1), gen = (uint32_t)(data >> 33);
	struct conn *c;

	if (i >= w->n_handoffs || w->handoffs[i].gen != gen || !(c = w->handoffs[i].c) || c->closed)
		return;         /* the connection ended before its socket did */
	handoff_release(w, c);
	if (c->ep->service->conn_hangup)
		c->ep->service->conn_hangup(c);
}

void
conn_close(struct conn *c)
{
	struct worker *w = c->w;
	struct sockd *d = w->d;
	struct endpoint *ep = c->ep;

	int level = ep->service->flags & SERVICE_LOG_INFO ? LOG_INFO : LOG_DEBUG;

	if (c->closed)
		return;
	c->closed = true;
	heap_remove(w, c);
	conn_unlink(c);
	if (c->handoff)
		handoff_release(w, c);
	/* First: an exec program that is still running is stopped here, and
	 * its end belongs in the line below. */
	if (ep->service->conn_free)
		ep->service->conn_free(c);
	if (log_max_level >= level) {
		char peer[ADDR_STRLEN], counts[64];

		/* The bytes of an opaque service (exec) never pass through
		 * sockd: what it knows instead is the service's to say. */
		if (ep->service->flags & SERVICE_OPAQUE)
			snprintf(counts, sizeof(counts), "%s", c->detail ? c->detail : "");
		else
			snprintf(counts, sizeof(counts), "in=%llu out=%llu",
				 (unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out);
		log_msg(level, "conn endpoint=%s proto=%s peer=%s%s %s%sduration=%.3fs outcome=%s",
			ep->name, conn_proto(c),
			c->peer_len ? addr_format_peer(&c->peer.sa, c->peer_len, peer, sizeof(peer)) : "unix",
			c->proxied ? " proxied=yes" : "", counts, counts[0] ? " " : "",
			(double)(monotonic_ms() - c->started_ms) / 1000.0, c->outcome ? c->outcome : "closed");
	}
	free(c->out);
	c->out = NULL;
	free(c->proxy_buf);
	c->proxy_buf = NULL;
	atomic_fetch_add_explicit(&ep->stats.bytes_in, c->bytes_in, memory_order_relaxed);
	atomic_fetch_add_explicit(&ep->stats.bytes_out, c->bytes_out, memory_order_relaxed);
	atomic_fetch_add_explicit(&d->served, 1, memory_order_relaxed);

	/* The memory waits for the end of the batch. */
	worker_close_fd(w, c->fd, c->registered);
	c->fd = -1;
	if (c->source_counted)
		source_release(ep->sources, &c->peer.sa, c->peer_len);
	atomic_fetch_sub_explicit(&ep->stats.active, 1, memory_order_relaxed);
	atomic_fetch_sub(&d->active, 1);
	if (atomic_exchange(&d->acceptor_waiting, false))
		acceptor_wake(d);
	c->next = w->graveyard;
	w->graveyard = c;
}

/* Free what was closed. A connection still on the again list (queued,
 * then closed in the same round) waits for the next round, whose again
 * pass takes it off the list. */
static void
worker_bury(struct worker *w)
{
	struct conn *keep = NULL;

	while (w->graveyard) {
		struct conn *c = w->graveyard;

		w->graveyard = c->next;
		if (c->again) {
			c->next = keep;
			keep = c;
			continue;
		}
		free(c->svc_state);
		endpoint_unref(c->ep);
		free(c);
	}
	w->graveyard = keep;
}

void
conn_again(struct conn *c)
{
	if (c->again)
		return;
	c->again = true;
	c->again_next = c->w->again;
	c->w->again = c;
}

/* Call conn_io(c, 0) for what asked to run again, once each; what asks
 * again meanwhile waits for the next round. */
static void
worker_run_again(struct worker *w)
{
	struct conn *c = w->again;

	w->again = NULL;
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
		if (epoll_ctl(aux->c->w->epfd, EPOLL_CTL_DEL, aux->fd, NULL) == -1)
			return -errno;
		aux->added = false;
		aux->armed = 0;
		return 0;
	}
	if (epoll_ctl(aux->c->w->epfd, aux->added ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, aux->fd, &ev) == -1)
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
	worker_close_fd(aux->c->w, aux->fd, aux->added);
	aux->fd = -1;
	aux->added = false;
	aux->armed = 0;
}

uint64_t
conn_now_ms(const struct conn *c)
{
	return c->w->now_ms;
}

void
conn_replace_fd(struct conn *c, int fd)
{
	/* The old fd lives on in the exec child (its stdin): its registration
	 * must not outlive c, nor report its hangups to us. */
	if (c->registered)
		epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = fd;
	c->armed = 0;
	c->registered = false;
}

void
conn_count(struct conn *c, size_t in, size_t out)
{
	c->bytes_in += in;
	c->bytes_out += out;
	if (in || out)
		c->active_ms = c->w->now_ms;
}

int
conn_pipe_get(struct conn *c, int p[2])
{
	struct worker *w = c->w;

	if (w->n_pipes > 0) {
		w->n_pipes--;
		p[0] = w->pipes[w->n_pipes][0];
		p[1] = w->pipes[w->n_pipes][1];
		return 0;
	}
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) == -1)
		return -errno;
	return 0;
}

void
conn_pipe_put(struct conn *c, int p[2])
{
	struct worker *w = c->w;

	if (w->n_pipes < PIPE_POOL) {
		w->pipes[w->n_pipes][0] = p[0];
		w->pipes[w->n_pipes][1] = p[1];
		w->n_pipes++;
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
		c->active_ms = c->w->now_ms;
	}
	return n;
}

ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
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
	return counted_in(c, conn_is_tcp(c) ? recv(c->fd, buf, len, MSG_TRUNC) : read(c->fd, buf, len));
}

ssize_t
conn_write(struct conn *c, const void *buf, size_t len)
{
	/* MSG_NOSIGNAL: a peer that went away must not raise SIGPIPE. */
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

	if (n == -1)
		return -errno;
	if (n > 0) {
		c->bytes_out += (uint64_t)n;
		c->active_ms = c->w->now_ms;
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
		heap_remove(c->w, c);
		return true;
	}
	if (conn_set_deadline(c, due) < 0) {
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
	ssize_t n = conn_read(c, c->w->scratch, SCRATCH_SIZE);

	if (n == 0 || (n < 0 && n != -EINTR)) {
		conn_close(c);  /* EOF already, nothing pending (EAGAIN), or an error */
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->lingering = true;
	c->linger_until_ms = c->w->now_ms + LINGER_MS;
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
	return c->w->scratch;
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
	uint8_t *buf = c->w->scratch;

	for (int i = 0; i < 4; i++) {
		ssize_t n = conn_read(c, buf, SCRATCH_SIZE);

		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n <= 0)
			break;
	}
	conn_close(c);
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
	ep->service->conn_start(c);
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

static void
conn_dispatch(struct conn *c, uint32_t events)
{
	if (c->proxy_buf) {
		proxy_read(c);
		return;
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

static void
conn_adopt(struct worker *w, struct conn *c)
{
	c->w = w;
	c->started_ms = c->active_ms = w->now_ms;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->n_conns++;

	/* Not in the epoll set yet: the service's first conn_want() puts it there. */
	if (c->ep->proxy_protocol) {
		c->proxy_buf = malloc(PROXY_HEADER_MAX);
		if (!c->proxy_buf) {
			conn_close(c);
			return;
		}
		c->timer_ms = w->now_ms + ms_of(c->ep->proxy_timeout);
		if (conn_schedule(c))
			conn_want(c, EPOLLIN);
		return;
	}
	if (!conn_schedule(c))
		return;
	if (w->fault_stall_ms && strcmp(c->ep->name, "fault-stall") == 0) {
		struct timespec ts = { (time_t)(w->fault_stall_ms / 1000), (long)(w->fault_stall_ms % 1000) * 1000000 };

		log_warn("worker %u: stalling %lu ms ($SOCKD_FAULT_STALL_MS)", w->id, w->fault_stall_ms);
		w->fault_stall_ms = 0;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	c->ep->service->conn_start(c);
}

static void
worker_take_conns(struct worker *w)
{
	void *items[CONNS_PER_POP];
	size_t n = queue_pop(w->d->queue, items, CONNS_PER_POP);

	for (size_t i = 0; i < n; i++)
		conn_adopt(w, items[i]);
}

static void
worker_expire(struct worker *w)
{
	while (w->heap_len > 0 && w->heap[0]->deadline_ms <= w->now_ms) {
		struct conn *c = w->heap[0];
		uint64_t due = conn_due(c);

		if (due > w->now_ms) {
			conn_set_deadline(c, due);      /* it moved: cannot grow the heap */
			continue;
		}
		if (c->timer_ms && c->timer_ms <= w->now_ms) {
			c->timer_ms = 0;
			if (c->proxy_buf) {
				proxy_refuse(c, "no complete PROXY header in time");
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
			c->outcome = c->ep->lifetime > 0 && w->now_ms >= c->started_ms + ms_of(c->ep->lifetime)
				     ? "lifetime" : "idle-timeout";
		}
		conn_close(c);
	}
}

/* ------------------------------------------------------------ datagrams */

/* How many replies from out[i] on can travel as one UDP_SEGMENT train:
 * same peer, same size (the last may be shorter), small enough for any
 * path MTU. The kernel cuts the train into the same datagrams again, but
 * routes and queues it once. */
static unsigned
gso_train(const struct dgram_batch *b, unsigned i, unsigned nout)
{
	const struct msghdr *h = &b->out[i].msg_hdr;
	size_t seg = b->out_iov[i].iov_len, total = seg;
	unsigned j = i + 1;

	if (seg == 0 || seg > GSO_SEG_MAX)
		return 1;
	for (; j < nout; j++) {
		const struct msghdr *o = &b->out[j].msg_hdr;
		size_t len = b->out_iov[j].iov_len;

		if (len == 0 || len > seg || total + len > GSO_TRAIN_MAX ||
		    o->msg_namelen != h->msg_namelen || memcmp(o->msg_name, h->msg_name, h->msg_namelen) != 0 ||
		    !dgram_src_equal(&b->out_src[j], &b->out_src[i]))
			break;
		total += len;
		if (len < seg) {
			j++;
			break;
		}
	}
	return j - i;
}

/* Group out[from..nout) into send[]; returns how many messages. */
static unsigned
dgram_group(struct dgram_batch *b, unsigned from, unsigned nout, bool gso)
{
	unsigned k = 0;

	for (unsigned i = from; i < nout; k++) {
		unsigned cnt = gso ? gso_train(b, i, nout) : 1;
		struct msghdr *h = &b->send[k].msg_hdr;

		size_t used = dgram_src_put(&b->out_src[i], b->cmsg[k].buf);

		*h = b->out[i].msg_hdr;
		h->msg_iovlen = cnt;
		if (cnt > 1) {
			/* CMSG_SPACE keeps the next header aligned. */
			struct cmsghdr *cm = (struct cmsghdr *)(void *)(b->cmsg[k].buf + used);
			uint16_t seg = (uint16_t)b->out_iov[i].iov_len;

			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
			used += CMSG_SPACE(sizeof(seg));
		}
		if (used) {
			h->msg_control = b->cmsg[k].buf;
			h->msg_controllen = used;
		}
		b->first[k] = i;
		i += cnt;
	}
	return k;
}

/* Send the replies out[0..nout): trains where the socket allows them. */
static void
dgram_send(struct worker *w, struct dgram_sock *ds, struct dgram_batch *b, unsigned nout)
{
	struct endpoint *ep = ds->l->ep;
	bool gso = !ds->no_gso && addr_family(&ds->l->addr) != AF_UNIX;
	unsigned done = 0;

	while (done < nout) {
		unsigned nsend = dgram_group(b, done, nout, gso), sent = 0;

		while (sent < nsend) {
			int m = sendmmsg(ds->l->fd, b->send + sent, nsend - sent, MSG_DONTWAIT);

			if (m == -1 && errno == EINTR)
				continue;
			if (m <= 0) {
				int err = m == -1 ? errno : 0;

				/* A device that cannot segment (EIO), or a
				 * kernel without UDP_SEGMENT: one by one from
				 * here on, starting with this train. */
				if (b->send[sent].msg_hdr.msg_iovlen > 1 && (err == EIO || err == EINVAL || err == ENOPROTOOPT ||
							   err == EOPNOTSUPP)) {
					log_info("endpoint %s: sending replies one by one (UDP_SEGMENT: %s)",
						 ep->name, strerror(err));
					ds->no_gso = true;
					gso = false;
					break;
				}
				/* A full send buffer or an unreachable peer loses
				 * this reply (or train), as datagrams may be lost;
				 * the error belongs to the first unsent one. */
				sent++;
				continue;
			}
			for (int k = 0; k < m; k++) {
				const struct mmsghdr *mh = &b->send[sent + k];

				atomic_fetch_add_explicit(&ep->stats.bytes_out, mh->msg_len, memory_order_relaxed);
				atomic_fetch_add_explicit(&ep->stats.datagrams_out, mh->msg_hdr.msg_iovlen,
							  memory_order_relaxed);
				atomic_fetch_add_explicit(&w->d->served, mh->msg_hdr.msg_iovlen, memory_order_relaxed);
			}
			sent += (unsigned)m;
		}
		done = sent < nsend ? b->first[sent] : nout;
	}
}

/* Replies stop for a source over udp_rate: say so, so that whoever wonders
 * why sees it, but at most once per RATE_LOG_MS per socket. */
static void
rate_drop_log(struct worker *w, struct dgram_sock *ds, const struct sockaddr *peer, socklen_t len)
{
	const struct endpoint *ep = ds->l->ep;
	char text[ADDR_STRLEN];

	if (ds->rate_logged_ms && w->now_ms - ds->rate_logged_ms < RATE_LOG_MS) {
		ds->rate_unlogged++;
		return;
	}
	log_notice("endpoint %s: not answering %s beyond udp_rate (%g replies/s, burst %u) "
		   "(%lu more dropped since the last such line)", ep->name,
		   addr_format_peer(peer, len, text, sizeof(text)), ep->udp_rate, ep->udp_burst, ds->rate_unlogged);
	ds->rate_logged_ms = w->now_ms ? w->now_ms : 1;
	ds->rate_unlogged = 0;
}

static void
dgram_serve(struct worker *w, struct dgram_sock *ds)
{
	struct listener *l = ds->l;
	struct endpoint *ep = l->ep;
	struct dgram_batch *b = w->batch;
	struct dgram_ctx ctx = { .ep = ep, .rand_state = &w->rand };
	bool is_unix = addr_family(&l->addr) == AF_UNIX;

	for (int round = 0; round < DGRAM_ROUNDS; round++) {
		unsigned nout = 0;
		int n;

		for (int i = 0; i < DGRAM_BATCH; i++) {
			b->in_iov[i] = (struct iovec){ b->data[i], DGRAM_MAX };
			b->in[i].msg_hdr = (struct msghdr){
				.msg_name = &b->from[i],
				.msg_namelen = sizeof(b->from[i]),
				.msg_iov = &b->in_iov[i],
				.msg_iovlen = 1,
			};
			if (ds->reply_src) {
				b->in[i].msg_hdr.msg_control = b->in_cmsg[i].buf;
				b->in[i].msg_hdr.msg_controllen = sizeof(b->in_cmsg[i].buf);
			}
		}
		n = recvmmsg(l->fd, b->in, DGRAM_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				log_warn_errno(errno, "endpoint %s: recvmmsg, ignoring", ep->name);
			return;
		}
		atomic_fetch_add_explicit(&ep->stats.datagrams_in, (unsigned long)n, memory_order_relaxed);

		for (int i = 0; i < n; i++) {
			struct msghdr *h = &b->in[i].msg_hdr;
			const uint8_t *reply;
			struct dgram_src src = { 0 };
			ssize_t len;

			if (ds->reply_src)
				dgram_src_from_msg(h, &src);      /* where the reply leaves from */
			atomic_fetch_add_explicit(&ep->stats.bytes_in, b->in[i].msg_len, memory_order_relaxed);
			if (h->msg_flags & MSG_TRUNC)
				continue;       /* larger than any datagram we answer */
			if (is_unix) {
				/* An unbound sender has no address to answer. */
				if (h->msg_namelen <= offsetof(struct sockaddr_un, sun_path))
					continue;
			} else if (ep->udp_guard &&
				   !udp_guard_allow(h->msg_name, h->msg_namelen, l->local_is_loopback, NULL)) {
				atomic_fetch_add_explicit(&ep->stats.dropped_guard, 1, memory_order_relaxed);
				continue;
			} else if (!acl_allows(ep->acl, h->msg_name, h->msg_namelen)) {
				atomic_fetch_add_explicit(&ep->stats.refused_acl, 1, memory_order_relaxed);
				continue;
			} else if (ds->relay) {
				/* Replies come from the upstream, not from us:
				 * udp_rate does not apply. */
				udp_relay_input(ds->relay, h->msg_name, h->msg_namelen, &src, b->data[i],
						b->in[i].msg_len, w->now_ms);
				continue;
			} else if (ds->rates &&
				   (ep->udp_rate_loopback || !udp_guard_is_loopback(h->msg_name, h->msg_namelen)) &&
				   !source_rates_take(ds->rates, h->msg_name, h->msg_namelen, w->now_ms)) {
				/* Loopback sources are exempt unless udp_rate_loopback:
				 * the limit keeps us from being aimed at a spoofed
				 * source, and a loopback source cannot come from
				 * outside the host. */
				atomic_fetch_add_explicit(&ep->stats.dropped_rate, 1, memory_order_relaxed);
				rate_drop_log(w, ds, h->msg_name, h->msg_namelen);
				continue;
			}
			ctx.buf = b->reply[nout];
			len = ep->service->dgram_reply(&ctx, b->data[i], b->in[i].msg_len, &reply);
			if (len < 0)
				continue;
			b->out_src[nout] = src;
			b->out_iov[nout] = (struct iovec){ (void *)reply, (size_t)len };
			b->out[nout].msg_hdr = (struct msghdr){
				.msg_name = h->msg_name,
				.msg_namelen = h->msg_namelen,
				.msg_iov = &b->out_iov[nout],
				.msg_iovlen = 1,
			};
			nout++;
		}

		dgram_send(w, ds, b, nout);
		if (n < DGRAM_BATCH)
			return;         /* drained */
	}
}

int
worker_add_dgram(struct worker *w, struct listener *l)
{
	struct dgram_sock *ds = calloc(1, sizeof(*ds));
	uint64_t one = 1;

	if (!ds)
		return -ENOMEM;
	ds->watch.kind = WATCH_DGRAM;
	ds->l = l;
	if (dgram_src_needed((const struct sockaddr *)&l->addr.sa, l->addr.len)) {
		int r = dgram_src_enable(l->fd, addr_family(&l->addr));

		if (r < 0)
			log_warn_errno(-r, "endpoint %s: cannot learn where datagrams arrive; "
				       "replies leave from the address the route picks", l->ep->name);
		ds->reply_src = r == 0;
	}
	if (l->ep->service == &service_forward) {
		ds->relay = udp_relay_new(l, w->epfd, l->ep->max_connections ? l->ep->max_connections : UDP_SESSIONS,
					  l->ep->udp_sessions_per_source, &w->d->udp_budget);
		if (!ds->relay) {
			free(ds);
			return -ENOMEM;
		}
	} else if (l->ep->udp_rate > 0 && addr_family(&l->addr) != AF_UNIX) {
		ds->rates = source_rates_new(l->ep->udp_rate, l->ep->udp_burst, UDP_RATE_SOURCES);
		if (!ds->rates) {
			free(ds);
			return -ENOMEM;
		}
	}
	pthread_mutex_lock(&w->mail_lock);
	ds->next = w->mail_dgrams;
	w->mail_dgrams = ds;
	pthread_mutex_unlock(&w->mail_lock);
	(void)!write(w->mailfd, &one, sizeof(one));
	return 0;
}

static void
dgram_sock_free(struct dgram_sock *ds)
{
	udp_relay_free(ds->relay);
	source_rates_free(ds->rates);
	free(ds);
}

static void
worker_close_dgrams(struct worker *w)
{
	while (w->dgrams) {
		struct dgram_sock *ds = w->dgrams;

		w->dgrams = ds->next;
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, ds->l->fd, NULL);
		dgram_sock_free(ds);
	}
}

/* ------------------------------------------------------------ the loop */

static void
worker_mail(struct worker *w, bool *abort_now)
{
	struct dgram_sock *list;
	bool drain, abrt, retire, release;
	uint64_t v;

	(void)!read(w->mailfd, &v, sizeof(v));
	pthread_mutex_lock(&w->mail_lock);
	list = w->mail_dgrams;
	w->mail_dgrams = NULL;
	drain = w->mail_drain;
	abrt = w->mail_abort;
	retire = w->mail_retire;
	release = w->mail_release;
	w->mail_release = false;
	pthread_mutex_unlock(&w->mail_lock);

	if (release) {
		worker_close_dgrams(w);
		sem_post(&w->released);
	}
	if (retire && !w->retiring) {
		w->retiring = true;
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, queue_fd(w->d->queue), NULL);
		queue_pass_on(w->d->queue);     /* the last wake-up may have been ours */
		worker_close_dgrams(w);
	}

	while (list) {
		struct dgram_sock *ds = list;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ds->watch };

		list = ds->next;
		if (!w->batch)
			w->batch = malloc(sizeof(*w->batch));
		if (!w->batch || epoll_ctl(w->epfd, EPOLL_CTL_ADD, ds->l->fd, &ev) == -1) {
			log_err("worker %u: cannot serve datagram endpoint %s: %s", w->id,
				ds->l->ep->name, w->batch ? strerror(errno) : "out of memory");
			dgram_sock_free(ds);
			continue;
		}
		ds->next = w->dgrams;
		w->dgrams = ds;
	}
	if (drain && !w->draining) {
		w->draining = true;
		worker_close_dgrams(w);
		/* Children of exec connections are told to finish now. */
		for (struct conn *c = w->conns; c; c = c->next)
			if (c->ep->service->conn_stop)
				c->ep->service->conn_stop(c, false);
	}
	if (abrt)
		*abort_now = true;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[EVENTS_PER_WAIT];
	bool abort_now = false;
	uint64_t one = 1;
	char name[16];

	snprintf(name, sizeof(name), "sockd-worker%u", w->id);
	pthread_setname_np(pthread_self(), name);
	w->now_ms = monotonic_ms();
	while (!abort_now) {
		bool mail = false;
		int timeout = -1, n;

		/* Answering here, once per round, proves the loop is not stuck. */
		atomic_store(&w->pongs, atomic_load(&w->pings));
		if (w->retiring && w->n_conns == 0)
			break;
		if (w->draining && w->n_conns == 0 && queue_length(w->d->queue) == 0)
			break;
		if (w->again) {
			timeout = 0;
		} else if (w->heap_len > 0 || w->relay_due) {
			uint64_t due = w->heap_len > 0 ? w->heap[0]->deadline_ms : UINT64_MAX;

			if (w->relay_due && w->relay_due < due)
				due = w->relay_due;
			timeout = due <= w->now_ms ? 0 : (int)(due - w->now_ms);
		}
		n = epoll_wait(w->epfd, evs, EVENTS_PER_WAIT, timeout);
		if (n == -1 && errno != EINTR) {
			log_errno(errno, "worker %u: epoll_wait", w->id);
			break;
		}
		w->now_ms = monotonic_ms();
		for (int i = 0; i < n; i++) {
			struct watch *wt = evs[i].data.ptr;

			/* Pointers are aligned: the low bit is free for the tag. */
			if (evs[i].data.u64 & HANDOFF_TAG) {
				handoff_event(w, evs[i].data.u64);
				continue;
			}
			switch (wt->kind) {
			case WATCH_CONN:
				if (!((struct conn *)wt)->closed)
					conn_dispatch((struct conn *)wt, evs[i].events);
				break;
			case WATCH_AUX: {
				struct conn_aux *aux = (struct conn_aux *)wt;

				if (!aux->c->closed)
					aux->c->ep->service->conn_aux_io(aux->c, aux, evs[i].events);
				break;
			}
			case WATCH_DGRAM:
				dgram_serve(w, (struct dgram_sock *)wt);
				break;
			case WATCH_UDPSESS:
				udp_relay_upstream((struct udp_session *)wt, w->now_ms);
				break;
			case WATCH_QUEUE:
				worker_take_conns(w);
				break;
			case WATCH_MAIL:
				/* After the batch: mail may free datagram
				 * sockets that later events of it point to. */
				mail = true;
				break;
			}
		}
		if (mail)
			worker_mail(w, &abort_now);
		worker_run_again(w);
		worker_expire(w);
		worker_bury(w);
		w->relay_due = 0;
		for (struct dgram_sock *ds = w->dgrams; ds; ds = ds->next) {
			uint64_t due = ds->relay ? udp_relay_expire(ds->relay, w->now_ms) : 0;

			if (due && (!w->relay_due || due < w->relay_due))
				w->relay_due = due;
		}
	}

	/* Leaving: close whatever is still open (after an abort). */
	while (w->conns) {
		struct conn *c = w->conns;

		if (c->ep->service->conn_stop)
			c->ep->service->conn_stop(c, true);
		if (!c->outcome)
			c->outcome = "aborted";
		conn_close(c);
	}
	for (struct conn *c = w->again; c; c = c->again_next)
		c->again = false;
	w->again = NULL;
	worker_bury(w);
	if (abort_now) {
		void *item;

		while (queue_pop(w->d->queue, &item, 1) == 1)
			conn_discard(w->d, item);
	}
	worker_close_dgrams(w);
	pthread_mutex_lock(&w->mail_lock);
	atomic_store(&w->exited, true);
	if (w->mail_release) {
		w->mail_release = false;
		sem_post(&w->released);
	}
	pthread_mutex_unlock(&w->mail_lock);
	(void)!write(w->d->exitfd, &one, sizeof(one));
	return NULL;
}

int
worker_start(struct sockd *d, unsigned id, struct worker **out)
{
	struct epoll_event ev;
	struct worker *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->d = d;
	w->id = id;
	w->epfd = w->mailfd = -1;
	w->free_handoff = NO_SLOT;
	w->queue_watch.kind = WATCH_QUEUE;
	w->mail_watch.kind = WATCH_MAIL;
	pthread_mutex_init(&w->mail_lock, NULL);
	sem_init(&w->released, 0, 0);
	if (getenv("SOCKD_FAULT_STALL_MS"))
		w->fault_stall_ms = strtoul(getenv("SOCKD_FAULT_STALL_MS"), NULL, 10);
	if (getrandom(&w->rand, sizeof(w->rand), 0) != sizeof(w->rand) || w->rand == 0)
		w->rand = 0x9e3779b97f4a7c15ULL ^ (uint64_t)id;

	w->scratch = malloc(SCRATCH_SIZE);
	if (!w->scratch) {
		r = -ENOMEM;
		goto out_free;
	}
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->mailfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->epfd == -1 || w->mailfd == -1) {
		r = -errno;
		goto out_free;
	}
	/* EPOLLEXCLUSIVE: a new connection wakes one idle worker, not all;
	 * EPOLLET: the queue's eventfd is never drained (queue.h). */
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLET | EPOLLEXCLUSIVE, .data.ptr = &w->queue_watch };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, queue_fd(d->queue), &ev) == -1) {
		r = -errno;
		goto out_free;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &w->mail_watch };
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->mailfd, &ev) == -1) {
		r = -errno;
		goto out_free;
	}
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	if (r < 0)
		goto out_free;
	*out = w;
	return 0;

out_free:
	if (w->epfd != -1)
		close(w->epfd);
	if (w->mailfd != -1)
		close(w->mailfd);
	pthread_mutex_destroy(&w->mail_lock);
	sem_destroy(&w->released);
	free(w->scratch);
	free(w);
	return r;
}

enum mail { MAIL_DRAIN, MAIL_ABORT, MAIL_RETIRE, MAIL_PING };

static void
worker_post(struct worker *w, enum mail m)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->mail_lock);
	switch (m) {
	case MAIL_DRAIN:
		w->mail_drain = true;
		break;
	case MAIL_ABORT:
		w->mail_abort = true;
		break;
	case MAIL_RETIRE:
		w->mail_retire = true;
		break;
	case MAIL_PING:
		break;
	}
	pthread_mutex_unlock(&w->mail_lock);
	(void)!write(w->mailfd, &one, sizeof(one));
}

void
worker_drain(struct worker *w)
{
	worker_post(w, MAIL_DRAIN);
}

void
worker_abort(struct worker *w)
{
	worker_post(w, MAIL_ABORT);
}

void
worker_retire(struct worker *w)
{
	worker_post(w, MAIL_RETIRE);
}

void
worker_release_dgrams(struct worker *w)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->mail_lock);
	if (atomic_load(&w->exited)) {
		pthread_mutex_unlock(&w->mail_lock);
		return;
	}
	w->mail_release = true;
	pthread_mutex_unlock(&w->mail_lock);
	(void)!write(w->mailfd, &one, sizeof(one));
	/* The loop answers between two batches and never blocks otherwise;
	 * a worker that leaves first answers on its way out. */
	while (sem_wait(&w->released) == -1 && errno == EINTR)
		;
}

bool
worker_exited(struct worker *w)
{
	return atomic_load(&w->exited);
}

void
worker_ping(struct worker *w)
{
	atomic_fetch_add(&w->pings, 1);
	worker_post(w, MAIL_PING);
}

bool
worker_answered(struct worker *w)
{
	return atomic_load(&w->pongs) == atomic_load(&w->pings) || atomic_load(&w->exited);
}

void
worker_join(struct worker *w)
{
	if (!w)
		return;
	pthread_join(w->thread, NULL);
	while (w->mail_dgrams) {
		struct dgram_sock *ds = w->mail_dgrams;

		w->mail_dgrams = ds->next;
		dgram_sock_free(ds);
	}
	close(w->epfd);
	close(w->mailfd);
	for (unsigned i = 0; i < w->n_pipes; i++) {
		close(w->pipes[i][0]);
		close(w->pipes[i][1]);
	}
	pthread_mutex_destroy(&w->mail_lock);
	sem_destroy(&w->released);
	free(w->heap);
	free(w->handoffs);
	free(w->scratch);
	free(w->batch);
	free(w);
}
