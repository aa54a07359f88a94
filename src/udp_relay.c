#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/un.h>
#include <unistd.h>

#include "dgram_src.h"
#include "log.h"
#include "sockd.h"
#include "udp_relay.h"
#include "watch.h"

#define RELAY_BUF (64 * 1024)
#define REPLIES_PER_WAKEUP 32           /* per session, so one busy upstream cannot hog the worker */
#define DEFAULT_SESSION_IDLE_MS 60000   /* when the endpoint sets no idle_timeout */

struct udp_session {
	struct watch watch;
	struct udp_relay *r;
	int fd;
	struct sockaddr_storage client;
	socklen_t client_len;
	struct dgram_src src;           /* where the client's last datagram came to */
	uint64_t last_ms;
	struct udp_session *hnext;      /* hash chain */
	struct udp_session *newer;      /* age list: r->newest ... r->oldest */
	struct udp_session *older;
};

struct udp_relay {
	struct listener *l;
	int epfd;
	size_t max;
	size_t n;
	size_t nbuckets;                /* a power of two */
	struct udp_session **buckets;
	struct udp_session *newest;
	struct udp_session *oldest;
	uint64_t seed;                  /* per relay, so clients cannot aim at one chain */
	uint64_t idle_ms;
	unsigned rr;
	bool full_logged;
	uint8_t buf[RELAY_BUF];
};

static uint64_t
hash_addr(const struct udp_relay *r, const struct sockaddr *sa, socklen_t len)
{
	const uint8_t *p = (const uint8_t *)sa;
	uint64_t h = 0xcbf29ce484222325ULL ^ r->seed;

	for (socklen_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

/* Client addresses from recvmmsg() are compared as bytes: the kernel fills
 * them the same way every time (padding zeroed). */
static struct udp_session **
find_slot(struct udp_relay *r, const struct sockaddr *sa, socklen_t len)
{
	struct udp_session **pp = &r->buckets[hash_addr(r, sa, len) & (r->nbuckets - 1)];

	while (*pp && ((*pp)->client_len != len || memcmp(&(*pp)->client, sa, len) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

static void
age_unlink(struct udp_relay *r, struct udp_session *s)
{
	if (s->newer)
		s->newer->older = s->older;
	else
		r->newest = s->older;
	if (s->older)
		s->older->newer = s->newer;
	else
		r->oldest = s->newer;
	s->newer = s->older = NULL;
}

static bool
age_linked(const struct udp_relay *r, const struct udp_session *s)
{
	return s->newer || s->older || r->newest == s;
}

static void
age_touch(struct udp_relay *r, struct udp_session *s, uint64_t now_ms)
{
	s->last_ms = now_ms;
	if (r->newest == s)
		return;
	if (age_linked(r, s))
		age_unlink(r, s);
	s->older = r->newest;
	if (r->newest)
		r->newest->newer = s;
	r->newest = s;
	if (!r->oldest)
		r->oldest = s;
}

static void
session_free(struct udp_relay *r, struct udp_session *s)
{
	struct udp_session **pp = find_slot(r, (struct sockaddr *)&s->client, s->client_len);

	if (*pp == s)
		*pp = s->hnext;
	age_unlink(r, s);
	/* Not close() alone: an exec child between clone() and execve()
	 * holds a copy of the fd, and with it the registration. */
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	free(s);
	r->n--;
}

struct udp_relay *
udp_relay_new(struct listener *l, int epfd, size_t max_sessions)
{
	struct udp_relay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->l = l;
	r->epfd = epfd;
	r->max = max_sessions ? max_sessions : 1;
	r->nbuckets = 16;
	while (r->nbuckets < r->max)
		r->nbuckets *= 2;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	if (!r->buckets) {
		free(r);
		return NULL;
	}
	if (getrandom(&r->seed, sizeof(r->seed), 0) != sizeof(r->seed))
		r->seed = (uint64_t)(uintptr_t)r;
	r->idle_ms = l->ep->idle_timeout > 0 ? (uint64_t)(l->ep->idle_timeout * 1000.0) : DEFAULT_SESSION_IDLE_MS;
	return r;
}

void
udp_relay_free(struct udp_relay *r)
{
	if (!r)
		return;
	while (r->oldest)
		session_free(r, r->oldest);
	free(r->buckets);
	free(r);
}

/* A socket connected to the first upstream that takes it. */
static int
upstream_socket(struct udp_relay *r)
{
	const struct endpoint *ep = r->l->ep;
	unsigned start = ep->balance == BALANCE_ROUNDROBIN ? r->rr++ : 0;
	int err = ENOENT;

	for (size_t i = 0; i < ep->n_upstream; i++) {
		const struct addr *a = &ep->upstream[(start + i) % ep->n_upstream];
		int fd = socket(addr_family(a), SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd == -1) {
			err = errno;
			continue;
		}
		if (addr_family(a) == AF_UNIX) {
			/* An unbound Unix datagram socket cannot be answered:
			 * autobind gives it an abstract name. */
			sa_family_t fam = AF_UNIX;

			if (bind(fd, (struct sockaddr *)&fam, sizeof(fam)) == -1) {
				err = errno;
				close(fd);
				continue;
			}
		}
		if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0)
			return fd;
		err = errno;
		close(fd);
	}
	return -err;
}

void
udp_relay_input(struct udp_relay *r, const struct sockaddr *from, socklen_t from_len,
		const struct dgram_src *src, const uint8_t *data, size_t len, uint64_t now_ms)
{
	struct endpoint *ep = r->l->ep;
	struct udp_session **pp, *s;

	if (from_len == 0 || from_len > sizeof(s->client))
		return;
	pp = find_slot(r, from, from_len);
	s = *pp;
	if (!s) {
		struct epoll_event ev;
		int fd;

		if (r->n >= r->max) {
			/* Full: new clients wait for idle sessions to end;
			 * the ones already served keep their sessions. */
			atomic_fetch_add_explicit(&ep->stats.refused_limit, 1, memory_order_relaxed);
			if (!r->full_logged)
				log_warn("endpoint %s: %zu datagram sessions, the most it keeps: "
					 "ignoring new clients until some go idle", ep->name, r->max);
			r->full_logged = true;
			return;
		}
		fd = upstream_socket(r);
		if (fd < 0) {
			atomic_fetch_add_explicit(&ep->stats.failed, 1, memory_order_relaxed);
			log_debug("endpoint %s: no upstream for a datagram: %s", ep->name, strerror(-fd));
			return;
		}
		s = calloc(1, sizeof(*s));
		if (!s) {
			close(fd);
			return;
		}
		s->watch.kind = WATCH_UDPSESS;
		s->r = r;
		s->fd = fd;
		memcpy(&s->client, from, from_len);
		s->client_len = from_len;
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &s->watch };
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(s);
			return;
		}
		s->hnext = *pp;
		*pp = s;
		r->n++;
		r->full_logged = false;
	}
	s->src = *src;
	age_touch(r, s, now_ms);
	/* Lost if the upstream's buffer is full or it is unreachable, as any
	 * datagram may be. */
	(void)!send(s->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Send r->buf[0..len) to s's client, from where it sent to. */
static ssize_t
reply(struct udp_relay *r, struct udp_session *s, size_t len)
{
	union dgram_src_buf cmsg;
	struct iovec iov = { r->buf, len };
	struct msghdr h = {
		.msg_name = &s->client,
		.msg_namelen = s->client_len,
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};

	h.msg_controllen = dgram_src_put(&s->src, cmsg.buf);
	if (h.msg_controllen)
		h.msg_control = cmsg.buf;
	return sendmsg(r->l->fd, &h, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void
udp_relay_upstream(struct udp_session *s, uint64_t now_ms)
{
	struct udp_relay *r = s->r;
	struct endpoint *ep = r->l->ep;

	for (int i = 0; i < REPLIES_PER_WAKEUP; i++) {
		ssize_t n = recv(s->fd, r->buf, sizeof(r->buf), MSG_DONTWAIT);

		if (n == -1) {
			/* ECONNREFUSED: an ICMP error for an earlier datagram;
			 * the upstream may come back, keep the session. */
			if (errno == EAGAIN || errno == EINTR)
				break;
			continue;
		}
		age_touch(r, s, now_ms);
		if (reply(r, s, (size_t)n) == (ssize_t)n) {
			atomic_fetch_add_explicit(&ep->stats.datagrams_out, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&ep->stats.bytes_out, (unsigned long)n, memory_order_relaxed);
		}
	}
}

uint64_t
udp_relay_expire(struct udp_relay *r, uint64_t now_ms)
{
	while (r->oldest && r->oldest->last_ms + r->idle_ms <= now_ms)
		session_free(r, r->oldest);
	return r->oldest ? r->oldest->last_ms + r->idle_ms : 0;
}

size_t
udp_relay_sessions(const struct udp_relay *r)
{
	return r->n;
}
