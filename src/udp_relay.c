#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/un.h>
#include <unistd.h>

#include "dgram_src.h"
#include "log.h"
#include "sockd.h"
#include "forward_options.h"
#include "udp_relay.h"
#include "watch.h"

#define RELAY_BUF (64 * 1024)
#define REPLIES_PER_WAKEUP 32           /* per session, so one busy upstream cannot hog the worker */
#define DEFAULT_SESSION_IDLE_MS 60000   /* when the endpoint sets no idle_timeout */
#define LIMIT_LOG_MS 10000              /* at most one line per relay this often about limits */
#define SOURCE_SCAN 16                  /* sessions of a source looked at for a new one to end */
#define BUDGET_NOFILE_MAX (1UL << 30)

/* Why a session ended; the order of end_names. */
enum end_reason { END_CLOSED, END_IDLE, END_SOURCE, END_FULL, END_BUDGET };

static const char *const end_names[] = {
	[END_CLOSED] = "closed",
	[END_IDLE] = "idle",
	[END_SOURCE] = "evicted-source",
	[END_FULL] = "evicted-full",
	[END_BUDGET] = "evicted-budget",
};

/* Sessions oldest to newest by their last datagram either way. */
struct age_list {
	struct udp_session *newest;
	struct udp_session *oldest;
};

/* The sessions of one client IP address, for udp_sessions_per_source. */
struct udp_source {
	uint8_t key[16];                /* IPv4 as v4-mapped IPv6 */
	unsigned n;
	struct age_list sessions;       /* linked through snewer/solder */
	struct udp_source *hnext;
};

struct udp_session {
	struct watch watch;
	struct udp_relay *r;
	int fd;
	struct sockaddr_storage client;
	socklen_t client_len;
	struct dgram_src src;           /* where the client's last datagram came to */
	uint64_t last_ms;
	uint64_t opened_ms;
	/* A client that sent a second datagram has shown it is using the
	 * session: such sessions are ended for new clients only after every
	 * one-datagram session, so a flood of one datagram from each of many
	 * ports churns among itself and spares the clients being served. */
	bool confirmed;
	bool ended;                     /* in r->graveyard: fd closed, nothing links to it */
	unsigned long long dgrams_in, bytes_in, dgrams_out, bytes_out;
	struct udp_session *hnext;      /* hash chain; the graveyard once ended */
	struct udp_session *newer;      /* in r->age[confirmed] */
	struct udp_session *older;
	struct udp_source *source;      /* NULL for non-IP clients */
	struct udp_session *snewer;     /* in source->sessions */
	struct udp_session *solder;
};

struct udp_relay {
	struct listener *l;
	int epfd;
	size_t max;
	unsigned per_source;            /* 0 = no cap */
	struct udp_budget *budget;      /* NULL = none */
	size_t share;                   /* sessions that take nothing from the budget's pool */
	size_t n;
	size_t nbuckets;                /* a power of two */
	struct udp_session **buckets;
	struct udp_source **sbuckets;   /* also nbuckets of them */
	struct age_list age[2];         /* [0] one datagram so far, [1] confirmed */
	/* Sessions ended while the worker goes through a batch of events:
	 * later events of the batch may point to them. */
	struct udp_session *graveyard;
	uint64_t seed;                  /* per relay, so clients cannot aim at one chain */
	uint64_t idle_ms;
	uint64_t now_ms;                /* the latest time we were given */
	unsigned rr;
	uint64_t limit_logged_ms;       /* 0 = never */
	unsigned long unlogged_evicted;
	unsigned long unlogged_refused;
	uint8_t buf[RELAY_BUF];
};

/* ------------------------------------------------------------ budget */

unsigned long
udp_budget_size(unsigned long nofile, unsigned long max_connections)
{
	unsigned long lo, hi, v;

	if (nofile > BUDGET_NOFILE_MAX)
		nofile = BUDGET_NOFILE_MAX;
	if (max_connections > BUDGET_NOFILE_MAX)
		max_connections = BUDGET_NOFILE_MAX;
	lo = nofile / 4;
	hi = nofile / 2;
	v = nofile > 2 * max_connections ? nofile - 2 * max_connections : 0;
	return v < lo ? lo : v > hi ? hi : v;
}

unsigned long
udp_budget_for_process(unsigned long max_connections)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY)
		return udp_budget_size(BUDGET_NOFILE_MAX, max_connections);
	return udp_budget_size((unsigned long)rl.rlim_cur, max_connections);
}

void
udp_budget_set(struct udp_budget *b, unsigned long limit, size_t relays)
{
	unsigned long share = relays ? limit / 2 / relays : 0;

	atomic_store(&b->limit, limit);
	atomic_store(&b->share, share);
	atomic_store(&b->pool, limit - share * relays);
}

/*
 * A relay's first `share` sessions are its own; beyond them each takes a
 * unit of the shared pool. The relay's units of the pool are a function of
 * its session count, max(0, n - share), so taking and giving back need no
 * record of which session holds what.
 */
static bool
budget_take(struct udp_relay *r)
{
	struct udp_budget *b = r->budget;
	unsigned long used;

	if (!b)
		return true;
	if (r->n >= r->share) {
		used = atomic_load_explicit(&b->pool_used, memory_order_relaxed);
		do {
			if (used >= atomic_load_explicit(&b->pool, memory_order_relaxed))
				return false;
		} while (!atomic_compare_exchange_weak_explicit(&b->pool_used, &used, used + 1,
								memory_order_relaxed, memory_order_relaxed));
	}
	atomic_fetch_add_explicit(&b->open, 1, memory_order_relaxed);
	return true;
}

/* Give back what budget_take took when the relay had r->n sessions. */
static void
budget_put(struct udp_relay *r)
{
	struct udp_budget *b = r->budget;

	if (!b)
		return;
	if (r->n >= r->share)
		atomic_fetch_sub_explicit(&b->pool_used, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&b->open, 1, memory_order_relaxed);
}

/* ------------------------------------------------------------ tables */

static uint64_t
hash_bytes(const struct udp_relay *r, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ULL ^ r->seed;

	for (size_t i = 0; i < len; i++) {
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
	struct udp_session **pp = &r->buckets[hash_bytes(r, sa, len) & (r->nbuckets - 1)];

	while (*pp && ((*pp)->client_len != len || memcmp(&(*pp)->client, sa, len) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

/* The per-source key of an IP client; false for other families. */
static bool
source_key(const struct sockaddr *sa, socklen_t len, uint8_t key[16])
{
	static const uint8_t v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		memcpy(key, v4_mapped, 12);
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		return true;
	}
	return false;
}

static struct udp_source **
find_source(struct udp_relay *r, const uint8_t key[16])
{
	struct udp_source **pp = &r->sbuckets[hash_bytes(r, key, 16) & (r->nbuckets - 1)];

	while (*pp && memcmp((*pp)->key, key, 16) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

/* The age lists: one in the relay per kind of session, one per source. */
static void
age_unlink(struct udp_relay *r, struct udp_session *s)
{
	struct age_list *a = &r->age[s->confirmed];

	if (s->newer)
		s->newer->older = s->older;
	else if (a->newest == s)
		a->newest = s->older;
	if (s->older)
		s->older->newer = s->newer;
	else if (a->oldest == s)
		a->oldest = s->newer;
	s->newer = s->older = NULL;
}

static void
age_push(struct udp_relay *r, struct udp_session *s)
{
	struct age_list *a = &r->age[s->confirmed];

	s->newer = NULL;
	s->older = a->newest;
	if (a->newest)
		a->newest->newer = s;
	a->newest = s;
	if (!a->oldest)
		a->oldest = s;
}

static void
source_unlink(struct udp_session *s)
{
	struct age_list *a = &s->source->sessions;

	if (s->snewer)
		s->snewer->solder = s->solder;
	else if (a->newest == s)
		a->newest = s->solder;
	if (s->solder)
		s->solder->snewer = s->snewer;
	else if (a->oldest == s)
		a->oldest = s->snewer;
	s->snewer = s->solder = NULL;
}

static void
source_push(struct udp_session *s)
{
	struct age_list *a = &s->source->sessions;

	s->solder = a->newest;
	if (a->newest)
		a->newest->snewer = s;
	a->newest = s;
	if (!a->oldest)
		a->oldest = s;
}

/* Activity on s: it becomes the newest of its lists. */
static void
touch(struct udp_relay *r, struct udp_session *s, uint64_t now_ms)
{
	s->last_ms = now_ms;
	if (r->age[s->confirmed].newest != s) {
		age_unlink(r, s);
		age_push(r, s);
	}
	if (s->source && s->source->sessions.newest != s) {
		source_unlink(s);
		source_push(s);
	}
}

/* ------------------------------------------------------------ sessions */

static void
session_log(const struct udp_relay *r, const struct udp_session *s, const char *what)
{
	char peer[ADDR_STRLEN];

	if (log_max_level < LOG_DEBUG)
		return;
	addr_format_peer((const struct sockaddr *)&s->client, s->client_len, peer, sizeof(peer));
	if (!what)
		log_debug("udp-session endpoint=%s peer=%s opened sessions=%zu", r->l->ep->name, peer, r->n);
	else
		log_debug("udp-session endpoint=%s peer=%s in=%llu/%llu out=%llu/%llu duration=%.3fs outcome=%s",
			  r->l->ep->name, peer, s->dgrams_in, s->bytes_in, s->dgrams_out, s->bytes_out,
			  (double)(r->now_ms - s->opened_ms) / 1000.0, what);
}

static void
session_end(struct udp_relay *r, struct udp_session *s, enum end_reason why)
{
	struct udp_session **pp = find_slot(r, (struct sockaddr *)&s->client, s->client_len);
	struct endpoint *ep = r->l->ep;

	session_log(r, s, end_names[why]);
	if (*pp == s)
		*pp = s->hnext;
	age_unlink(r, s);
	if (s->source) {
		struct udp_source *src = s->source;

		source_unlink(s);
		if (--src->n == 0) {
			struct udp_source **sp = find_source(r, src->key);

			if (*sp == src)
				*sp = src->hnext;
			free(src);
		}
	}
	/* Not close() alone: an exec child between clone() and execve()
	 * holds a copy of the fd, and with it the registration. */
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	s->ended = true;
	s->hnext = r->graveyard;
	r->graveyard = s;
	r->n--;
	budget_put(r);
	atomic_fetch_sub_explicit(&ep->stats.udp_sessions, 1, memory_order_relaxed);
	switch (why) {
	case END_SOURCE:
		atomic_fetch_add_explicit(&ep->stats.evicted_source, 1, memory_order_relaxed);
		break;
	case END_FULL:
		atomic_fetch_add_explicit(&ep->stats.evicted_full, 1, memory_order_relaxed);
		break;
	case END_BUDGET:
		atomic_fetch_add_explicit(&ep->stats.evicted_budget, 1, memory_order_relaxed);
		break;
	case END_CLOSED:
	case END_IDLE:
		break;
	}
}

/* The session to end for a new client when the relay is full: the idlest
 * of those with one datagram, else the idlest of all. */
static struct udp_session *
idlest(const struct udp_relay *r)
{
	return r->age[0].oldest ? r->age[0].oldest : r->age[1].oldest;
}

/* The same among the sessions of one source, looking at a few only. */
static struct udp_session *
idlest_of_source(const struct udp_source *src)
{
	struct udp_session *s = src->sessions.oldest;

	for (int i = 0; s && i < SOURCE_SCAN; i++, s = s->snewer)
		if (!s->confirmed)
			return s;
	return src->sessions.oldest;
}

/* A limit made a session end, or a client be ignored: say so, at most
 * once per LIMIT_LOG_MS, with how many went unsaid. */
static void
note_limit(struct udp_relay *r, enum end_reason why, bool refused, const struct sockaddr *from,
	   socklen_t from_len)
{
	struct endpoint *ep = r->l->ep;
	char peer[ADDR_STRLEN];
	char what[320];

	if (refused)
		r->unlogged_refused++;
	else
		r->unlogged_evicted++;
	if (r->limit_logged_ms && r->now_ms - r->limit_logged_ms < LIMIT_LOG_MS)
		return;
	addr_format_peer(from, from_len, peer, sizeof(peer));
	if (refused)
		snprintf(what, sizeof(what), "the datagram session budget (%lu) is held by other endpoints: "
			 "ignoring %s", r->budget ? atomic_load(&r->budget->limit) : 0UL, peer);
	else if (why == END_SOURCE)
		snprintf(what, sizeof(what), "%u sessions from the address of %s (udp_sessions_per_source): "
			 "ending its idlest", r->per_source, peer);
	else if (why == END_FULL)
		snprintf(what, sizeof(what), "%zu sessions, the most it keeps: ending the idlest for %s",
			 r->max, peer);
	else
		snprintf(what, sizeof(what), "the datagram session budget (%lu) is used up: "
			 "ending the idlest for %s", r->budget ? atomic_load(&r->budget->limit) : 0UL, peer);
	log_notice("endpoint %s: %s (since the last such line, this one included: %lu sessions ended, "
		   "%lu clients ignored)", ep->name, what, r->unlogged_evicted, r->unlogged_refused);
	r->limit_logged_ms = r->now_ms ? r->now_ms : 1;
	r->unlogged_evicted = 0;
	r->unlogged_refused = 0;
}

static void
bury(struct udp_relay *r)
{
	while (r->graveyard) {
		struct udp_session *s = r->graveyard;

		r->graveyard = s->hnext;
		free(s);
	}
}

struct udp_relay *
udp_relay_new(struct listener *l, int epfd, size_t max_sessions, unsigned per_source, struct udp_budget *budget)
{
	struct udp_relay *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->l = l;
	r->epfd = epfd;
	r->max = max_sessions ? max_sessions : 1;
	r->per_source = per_source;
	r->budget = budget;
	r->share = budget ? atomic_load(&budget->share) : SIZE_MAX;
	r->nbuckets = 16;
	while (r->nbuckets < r->max)
		r->nbuckets *= 2;
	r->buckets = calloc(r->nbuckets, sizeof(*r->buckets));
	r->sbuckets = calloc(r->nbuckets, sizeof(*r->sbuckets));
	if (!r->buckets || !r->sbuckets) {
		free(r->buckets);
		free(r->sbuckets);
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
	for (int k = 0; k < 2; k++)
		while (r->age[k].oldest)
			session_end(r, r->age[k].oldest, END_CLOSED);
	bury(r);
	free(r->buckets);
	free(r->sbuckets);
	free(r);
}

/* A socket connected to the first upstream that takes it. */
static int
upstream_socket(struct udp_relay *r)
{
	const struct forward_options *fo = forward_options(r->l->ep);
	unsigned start = fo->balance == BALANCE_ROUNDROBIN ? r->rr++ : 0;
	int err = ENOENT;

	for (size_t i = 0; i < fo->n_upstream; i++) {
		const struct addr *a = &fo->upstream[(start + i) % fo->n_upstream];
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

/* Make room for a session of a new client from `from` (key: its source
 * key, or NULL): end the idlest session that stands in the way of a
 * limit, and take a unit of the budget. False when the client must be
 * ignored: the relay has no share of its own and the pool is held by
 * other relays. */
static bool
make_room(struct udp_relay *r, const uint8_t *key, const struct sockaddr *from, socklen_t from_len)
{
	if (key && r->per_source) {
		struct udp_source *src = *find_source(r, key);

		if (src && src->n >= r->per_source) {
			session_end(r, idlest_of_source(src), END_SOURCE);
			note_limit(r, END_SOURCE, false, from, from_len);
		}
	}
	if (r->n >= r->max) {
		session_end(r, idlest(r), END_FULL);
		note_limit(r, END_FULL, false, from, from_len);
	}
	if (budget_take(r))
		return true;
	/* Another relay may take what we give back before we do: then the
	 * client is ignored this time, and its next datagram tries again. */
	if (r->n > 0) {
		session_end(r, idlest(r), END_BUDGET);
		note_limit(r, END_BUDGET, false, from, from_len);
		if (budget_take(r))
			return true;
	}
	atomic_fetch_add_explicit(&r->l->ep->stats.refused_sessions, 1, memory_order_relaxed);
	note_limit(r, END_BUDGET, true, from, from_len);
	return false;
}

static struct udp_session *
session_open(struct udp_relay *r, const struct sockaddr *from, socklen_t from_len)
{
	struct endpoint *ep = r->l->ep;
	uint8_t key[16];
	bool has_key = source_key(from, from_len, key);
	struct udp_session *s;
	struct udp_source **sp;
	struct epoll_event ev;
	int fd;

	if (!make_room(r, has_key ? key : NULL, from, from_len))
		return NULL;
	fd = upstream_socket(r);
	if (fd < 0) {
		atomic_fetch_add_explicit(&ep->stats.failed, 1, memory_order_relaxed);
		log_debug("endpoint %s: no upstream for a datagram: %s", ep->name, strerror(-fd));
		goto out_budget;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out_close_fd;
	if (has_key) {
		sp = find_source(r, key);
		if (!*sp) {
			*sp = calloc(1, sizeof(**sp));
			if (!*sp)
				goto out_free;
			memcpy((*sp)->key, key, 16);
		}
		s->source = *sp;
	}
	s->watch.kind = WATCH_UDPSESS;
	s->r = r;
	s->fd = fd;
	memcpy(&s->client, from, from_len);
	s->client_len = from_len;
	s->opened_ms = s->last_ms = r->now_ms;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &s->watch };
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		goto out_source;
	if (s->source) {
		s->source->n++;
		source_push(s);
	}
	{
		struct udp_session **pp = find_slot(r, from, from_len);

		s->hnext = *pp;
		*pp = s;
	}
	age_push(r, s);
	r->n++;
	atomic_fetch_add_explicit(&ep->stats.udp_sessions, 1, memory_order_relaxed);
	session_log(r, s, NULL);
	return s;

out_source:
	if (s->source && s->source->n == 0) {
		sp = find_source(r, key);
		*sp = s->source->hnext;
		free(s->source);
	}
out_free:
	free(s);
out_close_fd:
	close(fd);
out_budget:
	budget_put(r);
	return NULL;
}

void
udp_relay_input(struct udp_relay *r, const struct sockaddr *from, socklen_t from_len,
		const struct dgram_src *src, const uint8_t *data, size_t len, uint64_t now_ms)
{
	struct udp_session *s;

	if (from_len == 0 || from_len > sizeof(s->client))
		return;
	r->now_ms = now_ms;
	s = *find_slot(r, from, from_len);
	if (!s) {
		s = session_open(r, from, from_len);
		if (!s)
			return;
	} else if (!s->confirmed) {
		age_unlink(r, s);
		s->confirmed = true;
		age_push(r, s);
	}
	s->src = *src;
	s->dgrams_in++;
	s->bytes_in += len;
	touch(r, s, now_ms);
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

	if (s->ended)
		return;
	r->now_ms = now_ms;
	for (int i = 0; i < REPLIES_PER_WAKEUP; i++) {
		ssize_t n = recv(s->fd, r->buf, sizeof(r->buf), MSG_DONTWAIT);

		if (n == -1) {
			/* ECONNREFUSED: an ICMP error for an earlier datagram;
			 * the upstream may come back, keep the session. */
			if (errno == EAGAIN || errno == EINTR)
				break;
			continue;
		}
		touch(r, s, now_ms);
		if (reply(r, s, (size_t)n) == (ssize_t)n) {
			s->dgrams_out++;
			s->bytes_out += (unsigned long long)n;
			atomic_fetch_add_explicit(&ep->stats.datagrams_out, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&ep->stats.bytes_out, (unsigned long)n, memory_order_relaxed);
		}
	}
}

uint64_t
udp_relay_expire(struct udp_relay *r, uint64_t now_ms)
{
	uint64_t next = 0;

	r->now_ms = now_ms;
	for (int k = 0; k < 2; k++) {
		struct age_list *a = &r->age[k];

		while (a->oldest && a->oldest->last_ms + r->idle_ms <= now_ms)
			session_end(r, a->oldest, END_IDLE);
		if (a->oldest && (!next || a->oldest->last_ms + r->idle_ms < next))
			next = a->oldest->last_ms + r->idle_ms;
	}
	/* Called between batches of events: what ended can go now. */
	bury(r);
	return next;
}

size_t
udp_relay_sessions(const struct udp_relay *r)
{
	return r->n;
}
