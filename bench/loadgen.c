/* loadgen: the load generator of the sockd benchmark suite (bench/run).
 *
 * Non-blocking sockets on epoll, one or two threads. Every workload is bounded
 * by a duration (-d) and optionally by a count (-n), verifies what comes back
 * and prints one machine-readable line of key=value figures on stdout.
 *
 *   pingpong  C connections, each sends S bytes and waits for them back
 *   oneshot   C connections in flight: connect, send, read, close
 *   bulk      C connections stream S-byte writes into discard or through echo
 *   udp       C datagrams of S bytes outstanding on one socket (per thread)
 *   idle      open C connections, hold them, then check each is still served
 *   probe     connect until it works (readiness check for scripts)
 *
 * Exit codes: 0 ok, 1 verification or I/O failure, 2 usage.
 * Standalone on purpose: nothing from src/ is shared with the daemon. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "bench_addr.h"

#define EXIT_FAIL       1
#define EXIT_USAGE      2

/* Payloads are slices of a pattern with a prime period, so a byte that
 * comes back shifted, duplicated or from another connection is caught. */
#define PAT_PERIOD      251
#define MAX_SIZE        (1 << 20)
#define MAX_THREADS     2
#define MAX_EVENTS      256
/* Non-blocking connects in flight at once while opening many connections:
 * more only overflows listen backlogs into SYN retransmits. */
#define MAX_CONNECTING  256
#define UDP_BATCH       64
#define UDP_TIMEOUT_NS  200000000ULL
#define ONESHOT_MAX     4096

/* Latency histogram: exact below 64 ns, then 64 sub-buckets per power of
 * two (under 1.6 % error), up to 2^40 ns. */
#define H_SUB_BITS      6
#define H_SUB           (1 << H_SUB_BITS)
#define H_BUCKETS       (H_SUB + (40 - H_SUB_BITS) * H_SUB)

enum workload { W_PINGPONG, W_ONESHOT, W_BULK, W_UDP, W_IDLE, W_PROBE };
enum expect { X_NONE, X_ECHO, X_LEN, X_CRLF, X_TEXT };

struct hist {
	uint64_t n;
	uint64_t b[H_BUCKETS];
};

/* What one thread measured; summed over threads at the end. */
struct stats {
	uint64_t ops;           /* round trips, connections, datagrams answered */
	uint64_t bytes;         /* payload bytes verified (or written, for discard) */
	uint64_t sent;          /* udp: datagrams sent in the window */
	uint64_t lost;          /* udp: given up after UDP_TIMEOUT_NS */
	uint64_t late;          /* udp: replies to datagrams already given up */
	uint64_t errors;        /* connect/read/write failures, counted and retried */
	uint64_t bad;           /* verification failures: these fail the run */
	struct hist h;
};

struct opts {
	enum workload w;
	struct bench_addr addr;
	bool have_addr;
	long conns;
	long size;
	double secs;
	double warmup;
	long count;
	int threads;
	bool halfclose;
	bool nodelay;
	enum expect expect;
	long expect_len;
	char *expect_text;
	size_t expect_text_len;
	bool bulk_echo;
	double hold;
	pid_t pid;
	const char *label;
};

static struct opts o = {
	.conns = 1, .size = 64, .secs = 5, .warmup = 1, .threads = 1,
	.nodelay = true, .hold = 5,
};
static uint8_t pat[PAT_PERIOD + MAX_SIZE];
static uint64_t t_start;        /* warm-up starts */
static uint64_t t_measure;      /* the measured window starts */
static uint64_t t_end;          /* ... and ends */
static atomic_ulong total_ops;  /* for -n */

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAIL);
}

static void
usage(void)
{
	fputs("usage: loadgen -w WORKLOAD -a ADDR [options]\n"
	      "  -w pingpong|oneshot|bulk|udp|idle|probe\n"
	      "  -a tcp:HOST:PORT | udp:HOST:PORT | unix:/path | unix:@name\n"
	      "  -c N      connections (pingpong, bulk, idle), in flight (oneshot),\n"
	      "            datagrams outstanding (udp)                  [1]\n"
	      "  -s BYTES  message size (pingpong, udp), bytes sent (oneshot),\n"
	      "            write size (bulk)                            [64]\n"
	      "  -d SECS   measured duration                           [5]\n"
	      "  -W SECS   warm-up before it, not measured             [1]\n"
	      "  -n COUNT  stop after COUNT operations (bulk: writes)   [no limit]\n"
	      "  -t 1|2    threads                                      [1]\n"
	      "  -x SPEC   oneshot reply: echo | len:N | crlf | text:STR (\\n, \\r)\n"
	      "  -h        oneshot: half-close after sending, read to EOF\n"
	      "  -m MODE   bulk: discard | echo                         [discard]\n"
	      "  -H SECS   idle: hold time                              [5]\n"
	      "  -p PID    idle: the server's pid, for its memory figures\n"
	      "  -N        no TCP_NODELAY\n"
	      "  -l LABEL  prefix the output line with LABEL\n", stderr);
	exit(EXIT_USAGE);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const uint8_t *
pat_at(uint64_t off)
{
	return pat + off % PAT_PERIOD;
}

static void
hist_add(struct hist *h, uint64_t v)
{
	unsigned idx;

	if (v < H_SUB) {
		idx = (unsigned)v;
	} else {
		unsigned k = 63 - (unsigned)__builtin_clzll(v);

		if (k >= 40)
			k = 39, v = (1ULL << 40) - 1;
		idx = H_SUB + (k - H_SUB_BITS) * H_SUB +
		      (unsigned)((v >> (k - H_SUB_BITS)) & (H_SUB - 1));
	}
	h->b[idx]++;
	h->n++;
}

/* The middle of the bucket holding the q-quantile, in ns. */
static double
hist_q(const struct hist *h, double q)
{
	uint64_t want, cum = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (unsigned i = 0; i < H_BUCKETS; i++) {
		cum += h->b[i];
		if (cum > want) {
			unsigned k, sub;
			double lo, width;

			if (i < H_SUB)
				return i;
			k = (i - H_SUB) / H_SUB + H_SUB_BITS;
			sub = (i - H_SUB) % H_SUB;
			width = (double)(1ULL << (k - H_SUB_BITS));
			lo = (double)(1ULL << k) + sub * width;
			return lo + width / 2;
		}
	}
	return 0;
}

/* Start a non-blocking connect. Returns the fd (>= 0) with *done telling
 * whether it is connected already, or -errno (-EAGAIN: a full Unix backlog,
 * try again later). */
static int
start_connect(bool *done)
{
	int fd, one = 1;

	fd = socket(o.addr.family, o.addr.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (o.addr.family != AF_UNIX && o.addr.socktype == SOCK_STREAM && o.nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&o.addr.sa, o.addr.len) == 0) {
		*done = true;
		return fd;
	}
	if (errno == EINPROGRESS) {
		*done = false;
		return fd;
	}
	one = -errno;
	close(fd);
	return one;
}

static int
sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -errno;
	return -err;
}

static int
epoll_add(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1 ? -errno : 0;
}

static int
epoll_mod(int ep, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == -1 ? -errno : 0;
}

static bool
measuring(uint64_t t)
{
	return t >= t_measure && t < t_end;
}

static bool
finished(uint64_t t)
{
	return t >= t_end ||
	       (o.count > 0 && atomic_load_explicit(&total_ops, memory_order_relaxed) >= (unsigned long)o.count);
}

static void
count_op(struct stats *st, uint64_t t, uint64_t lat, uint64_t bytes)
{
	if (!measuring(t))
		return;
	st->ops++;
	st->bytes += bytes;
	hist_add(&st->h, lat);
	if (o.count > 0)
		atomic_fetch_add_explicit(&total_ops, 1, memory_order_relaxed);
}

/* Milliseconds until t (for epoll_wait), at least 0, at most 100. */
static int
wait_ms(uint64_t t)
{
	uint64_t n = now_ns();

	if (t <= n)
		return 0;
	t = (t - n + 999999) / 1000000;
	return t > 100 ? 100 : (int)t;
}

/* Open n stream connections at most MAX_CONNECTING at a time, by deadline.
 * Returns how many are open; fds[] gets them. */
static long
open_many(int *fds, long n, uint64_t deadline, struct stats *st)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[MAX_EVENTS];
	long opened = 0, next = 0, pending = 0;

	if (ep == -1)
		fail("epoll_create1: %s", strerror(errno));
	while (opened < n && now_ns() < deadline) {
		while (next < n && pending < MAX_CONNECTING) {
			bool done;
			int fd = start_connect(&done);

			if (fd == -EAGAIN)
				break;
			if (fd < 0) {
				st->errors++;
				if (st->errors > (uint64_t)n + 100)
					fail("connect %s: %s", o.addr.text, strerror(-fd));
				break;
			}
			if (done) {
				fds[opened++] = fd;
				next++;
				continue;
			}
			if (epoll_add(ep, fd, EPOLLOUT, (uint64_t)fd) < 0)
				fail("epoll_ctl: %s", strerror(errno));
			pending++;
			next++;
		}
		if (pending == 0) {
			if (next < n)
				usleep(1000);
			continue;
		}
		int k = epoll_wait(ep, evs, MAX_EVENTS, 100);

		for (int i = 0; i < k; i++) {
			int fd = (int)evs[i].data.u64, r = sock_error(fd);

			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			pending--;
			if (r < 0) {
				st->errors++;
				close(fd);
				next--;
				continue;
			}
			fds[opened++] = fd;
		}
	}
	close(ep);
	return opened;
}

/* ---- pingpong */

struct pp_conn {
	int fd;
	uint64_t tx_off;        /* bytes of the pattern sent so far */
	uint64_t rx_off;        /* bytes verified so far */
	uint64_t t_sent;
	long unsent;            /* of the current message */
};

struct thread {
	pthread_t tid;
	int id;
	long conns;
	struct stats st;
};

static void
pp_send(struct pp_conn *c, int ep, uint64_t t)
{
	ssize_t n;

	if (c->unsent == 0) {
		c->unsent = o.size;
		c->t_sent = t;
	}
	n = write(c->fd, pat_at(c->tx_off), (size_t)c->unsent);
	if (n < 0) {
		if (errno != EAGAIN)
			fail("write %s: %s", o.addr.text, strerror(errno));
		n = 0;
	}
	c->tx_off += (uint64_t)n;
	c->unsent -= n;
	if (c->unsent > 0)
		epoll_mod(ep, c->fd, EPOLLIN | EPOLLOUT, (uint64_t)(uintptr_t)c);
}

static void
run_pingpong(struct thread *th)
{
	struct pp_conn *cs = calloc((size_t)th->conns, sizeof(*cs));
	int *fds = calloc((size_t)th->conns, sizeof(int));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[MAX_EVENTS];
	uint8_t *buf = malloc(MAX_SIZE);
	long n;

	if (!cs || !fds || !buf || ep == -1)
		fail("out of memory");
	n = open_many(fds, th->conns, now_ns() + 10000000000ULL, &th->st);
	if (n < th->conns)
		fail("only %ld of %ld connections to %s opened", n, th->conns, o.addr.text);
	for (long i = 0; i < n; i++) {
		cs[i].fd = fds[i];
		/* Each connection starts elsewhere in the pattern. */
		cs[i].tx_off = cs[i].rx_off = (uint64_t)(th->id * 7919 + i * 104729);
		if (epoll_add(ep, fds[i], EPOLLIN, (uint64_t)(uintptr_t)&cs[i]) < 0)
			fail("epoll_ctl: %s", strerror(errno));
	}
	uint64_t t = now_ns();
	for (long i = 0; i < n; i++)
		pp_send(&cs[i], ep, t);
	while (!finished(t = now_ns())) {
		int k = epoll_wait(ep, evs, MAX_EVENTS, wait_ms(t_end));

		if (k < 0 && errno != EINTR)
			fail("epoll_wait: %s", strerror(errno));
		t = now_ns();
		for (int i = 0; i < k; i++) {
			struct pp_conn *c = evs[i].data.ptr;
			ssize_t r;

			if (c->unsent > 0) {
				if (evs[i].events & EPOLLOUT) {
					pp_send(c, ep, c->t_sent);
					if (c->unsent == 0)
						epoll_mod(ep, c->fd, EPOLLIN, (uint64_t)(uintptr_t)c);
				}
				if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
					continue;
			}
			r = read(c->fd, buf, MAX_SIZE);
			if (r < 0) {
				if (errno == EAGAIN)
					continue;
				fail("read %s: %s", o.addr.text, strerror(errno));
			}
			if (r == 0)
				fail("%s closed a ping-pong connection", o.addr.text);
			if (c->rx_off + (uint64_t)r > c->tx_off) {
				th->st.bad++;
				fail("%s sent more than it was sent", o.addr.text);
			}
			if (memcmp(buf, pat_at(c->rx_off), (size_t)r) != 0) {
				th->st.bad++;
				fail("%s echoed wrong bytes", o.addr.text);
			}
			c->rx_off += (uint64_t)r;
			if (c->rx_off == c->tx_off && c->unsent == 0) {
				count_op(&th->st, t, t - c->t_sent, (uint64_t)o.size);
				pp_send(c, ep, t);
			}
		}
	}
	for (long i = 0; i < n; i++)
		close(cs[i].fd);
	close(ep);
	free(buf);
	free(fds);
	free(cs);
}

/* ---- oneshot */

struct os_slot {
	int fd;                 /* -1: idle */
	bool connecting;
	uint64_t t0;
	uint64_t pat_off;
	size_t got;
	uint8_t rx[ONESHOT_MAX];
};

static bool
os_verify(const struct os_slot *s)
{
	switch (o.expect) {
	case X_NONE:
		return true;
	case X_ECHO:
		return s->got == (size_t)o.size && memcmp(s->rx, pat_at(s->pat_off), s->got) == 0;
	case X_LEN:
		return s->got == (size_t)o.expect_len;
	case X_CRLF:
		return s->got >= 3 && s->rx[s->got - 2] == '\r' && s->rx[s->got - 1] == '\n' &&
		       memchr(s->rx, '\n', s->got) == s->rx + s->got - 1;
	case X_TEXT:
		return s->got == o.expect_text_len && memcmp(s->rx, o.expect_text, s->got) == 0;
	}
	return false;
}

/* Without -h, an echo reply is complete at o.size bytes (the client then
 * closes first); everything else reads to EOF. */
static bool
os_complete(const struct os_slot *s)
{
	return !o.halfclose && o.expect == X_ECHO && s->got >= (size_t)o.size;
}

static void
os_release(struct os_slot *s, int ep)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
}

static void
os_start(struct os_slot *s, int ep, struct thread *th, uint64_t seq)
{
	bool done;
	int fd = start_connect(&done);

	if (fd < 0) {
		/* A full backlog or a refused connect: counted, retried on the
		 * next round of the loop. */
		th->st.errors++;
		return;
	}
	s->fd = fd;
	/* Sending waits for writability even when connect() completed at
	 * once (Unix sockets): one code path. */
	s->connecting = !done || o.size > 0;
	s->got = 0;
	s->t0 = now_ns();
	s->pat_off = seq * 17;
	if (epoll_add(ep, fd, s->connecting ? EPOLLOUT : EPOLLIN, (uint64_t)(uintptr_t)s) < 0)
		fail("epoll_ctl: %s", strerror(errno));
}

static void
run_oneshot(struct thread *th)
{
	struct os_slot *slots = calloc((size_t)th->conns, sizeof(*slots));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[MAX_EVENTS];
	uint64_t seq = (uint64_t)th->id << 40, t;

	if (!slots || ep == -1)
		fail("out of memory");
	for (long i = 0; i < th->conns; i++)
		slots[i].fd = -1;
	while (!finished(t = now_ns())) {
		bool idle_slot = false;

		for (long i = 0; i < th->conns; i++) {
			if (slots[i].fd == -1)
				os_start(&slots[i], ep, th, seq++);
			if (slots[i].fd == -1)
				idle_slot = true;
		}
		int k = epoll_wait(ep, evs, MAX_EVENTS, idle_slot ? 1 : wait_ms(t_end));

		if (k < 0 && errno != EINTR)
			fail("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < k; i++) {
			struct os_slot *s = evs[i].data.ptr;
			ssize_t r;

			if (s->connecting) {
				int err = sock_error(s->fd);

				if (err < 0) {
					th->st.errors++;
					os_release(s, ep);
					continue;
				}
				s->connecting = false;
				if (o.size > 0) {
					r = write(s->fd, pat_at(s->pat_off), (size_t)o.size);
					if (r != o.size) {
						th->st.errors++;
						os_release(s, ep);
						continue;
					}
					if (o.halfclose)
						shutdown(s->fd, SHUT_WR);
				}
				epoll_mod(ep, s->fd, EPOLLIN, (uint64_t)(uintptr_t)s);
				continue;
			}
			r = read(s->fd, s->rx + s->got, sizeof(s->rx) - s->got);
			if (r < 0) {
				if (errno == EAGAIN)
					continue;
				th->st.errors++;
				os_release(s, ep);
				continue;
			}
			s->got += (size_t)r;
			if (r > 0 && !os_complete(s)) {
				if (s->got == sizeof(s->rx)) {
					th->st.bad++;
					fail("%s: reply longer than %d bytes", o.addr.text, ONESHOT_MAX);
				}
				continue;
			}
			if (!os_verify(s)) {
				th->st.bad++;
				fail("%s: wrong reply (%zu bytes)", o.addr.text, s->got);
			}
			t = now_ns();
			count_op(&th->st, t, t - s->t0, s->got);
			os_release(s, ep);
		}
	}
	for (long i = 0; i < th->conns; i++)
		if (slots[i].fd != -1)
			close(slots[i].fd);
	close(ep);
	free(slots);
}

/* ---- bulk */

struct bk_conn {
	int fd;
	uint64_t tx_off, rx_off, base;
	bool eof;
};

static void
run_bulk(struct thread *th)
{
	struct bk_conn *cs = calloc((size_t)th->conns, sizeof(*cs));
	int *fds = calloc((size_t)th->conns, sizeof(int));
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[MAX_EVENTS];
	uint8_t *buf = malloc(MAX_SIZE);
	uint64_t t, tx_at_start = 0, tx_at_end = 0, rx_at_start = 0, rx_at_end = 0;
	bool started = false;
	long n;

	if (!cs || !fds || !buf || ep == -1)
		fail("out of memory");
	n = open_many(fds, th->conns, now_ns() + 10000000000ULL, &th->st);
	if (n < th->conns)
		fail("only %ld of %ld connections to %s opened", n, th->conns, o.addr.text);
	for (long i = 0; i < n; i++) {
		cs[i].fd = fds[i];
		cs[i].base = cs[i].tx_off = cs[i].rx_off = (uint64_t)(i * 4099);
		if (epoll_add(ep, fds[i], EPOLLOUT | (o.bulk_echo ? EPOLLIN : 0), (uint64_t)(uintptr_t)&cs[i]) < 0)
			fail("epoll_ctl: %s", strerror(errno));
	}
	while (!finished(t = now_ns())) {
		if (!started && t >= t_measure) {
			started = true;
			for (long i = 0; i < n; i++) {
				tx_at_start += cs[i].tx_off - cs[i].base;
				rx_at_start += cs[i].rx_off - cs[i].base;
			}
		}
		int k = epoll_wait(ep, evs, MAX_EVENTS, wait_ms(started ? t_end : t_measure));

		if (k < 0 && errno != EINTR)
			fail("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < k; i++) {
			struct bk_conn *c = evs[i].data.ptr;
			ssize_t r;

			if (evs[i].events & EPOLLOUT) {
				r = write(c->fd, pat_at(c->tx_off), (size_t)o.size);
				if (r < 0 && errno != EAGAIN)
					fail("write %s: %s", o.addr.text, strerror(errno));
				if (r > 0) {
					c->tx_off += (uint64_t)r;
					if (o.count > 0 && measuring(t))
						atomic_fetch_add_explicit(&total_ops, 1, memory_order_relaxed);
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				if (!o.bulk_echo)
					fail("%s closed or sent data into discard", o.addr.text);
				r = read(c->fd, buf, MAX_SIZE);
				if (r < 0 && errno != EAGAIN)
					fail("read %s: %s", o.addr.text, strerror(errno));
				if (r == 0)
					fail("%s closed a bulk connection", o.addr.text);
				if (r > 0) {
					if (memcmp(buf, pat_at(c->rx_off), (size_t)r) != 0) {
						th->st.bad++;
						fail("%s echoed wrong bytes", o.addr.text);
					}
					c->rx_off += (uint64_t)r;
				}
			}
		}
	}
	t = now_ns();
	if (t > t_end)
		t = t_end;
	for (long i = 0; i < n; i++) {
		tx_at_end += cs[i].tx_off - cs[i].base;
		rx_at_end += cs[i].rx_off - cs[i].base;
	}
	th->st.bytes = o.bulk_echo ? rx_at_end - rx_at_start : tx_at_end - tx_at_start;
	th->st.ops = th->st.bytes / (uint64_t)o.size;

	/* Everything sent must arrive. Echo: read back the tail (without a
	 * half-close, which some proxies take for the end of the session).
	 * Discard: half-close and wait for the server's EOF, which comes
	 * once it has read it all. Both bounded by 10 s. */
	for (long i = 0; i < n; i++) {
		if (!o.bulk_echo)
			shutdown(cs[i].fd, SHUT_WR);
		cs[i].eof = o.bulk_echo && cs[i].rx_off == cs[i].tx_off;
		epoll_mod(ep, cs[i].fd, EPOLLIN, (uint64_t)(uintptr_t)&cs[i]);
	}
	uint64_t deadline = now_ns() + 10000000000ULL;
	long open_conns = 0;

	for (long i = 0; i < n; i++)
		open_conns += !cs[i].eof;
	while (open_conns > 0 && now_ns() < deadline) {
		int k = epoll_wait(ep, evs, MAX_EVENTS, 100);

		for (int i = 0; i < k; i++) {
			struct bk_conn *c = evs[i].data.ptr;
			ssize_t r;

			if (c->eof)
				continue;
			r = read(c->fd, buf, MAX_SIZE);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r > 0 && o.bulk_echo) {
				if (memcmp(buf, pat_at(c->rx_off), (size_t)r) != 0) {
					th->st.bad++;
					fail("%s echoed wrong bytes", o.addr.text);
				}
				c->rx_off += (uint64_t)r;
				if (c->rx_off != c->tx_off)
					continue;
			} else if (r > 0) {
				fail("%s sent data on a discard connection", o.addr.text);
			} else if (r < 0) {
				th->st.errors++;
			}
			c->eof = true;
			open_conns--;
		}
	}
	for (long i = 0; i < n; i++) {
		if (o.bulk_echo && cs[i].rx_off != cs[i].tx_off)
			fail("%s echoed %llu of %llu bytes", o.addr.text,
			     (unsigned long long)(cs[i].rx_off - cs[i].base),
			     (unsigned long long)(cs[i].tx_off - cs[i].base));
		if (!cs[i].eof)
			fail("%s did not close a bulk connection within 10 s of our half-close", o.addr.text);
		close(cs[i].fd);
	}
	close(ep);
	free(buf);
	free(fds);
	free(cs);
}

/* ---- udp */

#define UDP_RING        65536

struct udp_slot {
	uint64_t seq;
	uint64_t t_sent;
	bool pending;
};

static void
run_udp(struct thread *th)
{
	struct udp_slot *ring = calloc(UDP_RING, sizeof(*ring));
	uint8_t *rxbuf = malloc((size_t)UDP_BATCH * (size_t)o.size + 64 * UDP_BATCH);
	uint8_t *txbuf = malloc((size_t)UDP_BATCH * (size_t)o.size);
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	struct epoll_event ev;
	int fd, ep = epoll_create1(EPOLL_CLOEXEC);
	uint64_t seq = 1, t, last_rx;
	long outstanding = 0;
	size_t rxsz = (size_t)o.size + 64;

	if (!ring || !rxbuf || !txbuf || ep == -1)
		fail("out of memory");
	if (o.size < 16 || o.size > 65000)
		fail("udp: -s must be 16..65000");
	fd = socket(o.addr.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fail("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&o.addr.sa, o.addr.len) == -1)
		fail("connect %s: %s", o.addr.text, strerror(errno));
	if (epoll_add(ep, fd, EPOLLIN, 0) < 0)
		fail("epoll_ctl: %s", strerror(errno));
	last_rx = now_ns();
	while (!finished(t = now_ns())) {
		/* Fill the window in one sendmmsg. */
		int k = 0;

		while (outstanding + k < th->conns && k < UDP_BATCH) {
			uint8_t *p = txbuf + (size_t)k * (size_t)o.size;
			struct udp_slot *s = &ring[seq % UDP_RING];

			memcpy(p, &seq, 8);
			memcpy(p + 8, pat_at(seq), (size_t)o.size - 8);
			s->seq = seq++;
			s->t_sent = t;
			s->pending = true;
			iov[k].iov_base = p;
			iov[k].iov_len = (size_t)o.size;
			memset(&msgs[k], 0, sizeof(msgs[k]));
			msgs[k].msg_hdr.msg_iov = &iov[k];
			msgs[k].msg_hdr.msg_iovlen = 1;
			k++;
		}
		if (k > 0) {
			int sent = sendmmsg(fd, msgs, (unsigned)k, 0);

			if (sent < 0) {
				if (errno != EAGAIN && errno != ECONNREFUSED)
					fail("sendmmsg %s: %s", o.addr.text, strerror(errno));
				sent = 0;
				th->st.errors++;
			}
			for (int i = sent; i < k; i++) {
				uint64_t s;

				memcpy(&s, txbuf + (size_t)i * (size_t)o.size, 8);
				ring[s % UDP_RING].pending = false;
			}
			outstanding += sent;
			if (measuring(t))
				th->st.sent += (uint64_t)sent;
		}
		int m = epoll_wait(ep, &ev, 1, 10);

		if (m < 0 && errno != EINTR)
			fail("epoll_wait: %s", strerror(errno));
		t = now_ns();
		if (m <= 0) {
			if (outstanding > 0 && t - last_rx > UDP_TIMEOUT_NS) {
				/* Give up on everything outstanding: lost. */
				for (uint64_t s = seq - 1; s > 0 && s + UDP_RING > seq; s--) {
					struct udp_slot *sl = &ring[s % UDP_RING];

					if (sl->seq == s && sl->pending) {
						sl->pending = false;
						if (measuring(sl->t_sent))
							th->st.lost++;
					}
				}
				outstanding = 0;
				last_rx = t;
			}
			continue;
		}
		for (int i = 0; i < UDP_BATCH; i++) {
			iov[i].iov_base = rxbuf + (size_t)i * rxsz;
			iov[i].iov_len = rxsz;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int r = recvmmsg(fd, msgs, UDP_BATCH, MSG_DONTWAIT, NULL);

		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == ECONNREFUSED) {
				th->st.errors++;
				continue;
			}
			fail("recvmmsg %s: %s", o.addr.text, strerror(errno));
		}
		t = now_ns();
		last_rx = t;
		for (int i = 0; i < r; i++) {
			const uint8_t *p = iov[i].iov_base;
			uint64_t s;
			struct udp_slot *sl;

			if (msgs[i].msg_len != (unsigned)o.size) {
				th->st.bad++;
				fail("%s: reply of %u bytes to %ld", o.addr.text, msgs[i].msg_len, o.size);
			}
			memcpy(&s, p, 8);
			if (memcmp(p + 8, pat_at(s), (size_t)o.size - 8) != 0) {
				th->st.bad++;
				fail("%s: wrong reply", o.addr.text);
			}
			sl = &ring[s % UDP_RING];
			if (sl->seq != s || !sl->pending) {
				th->st.late++;
				continue;
			}
			sl->pending = false;
			outstanding--;
			count_op(&th->st, t, t - sl->t_sent, (uint64_t)o.size);
		}
	}
	close(fd);
	close(ep);
	free(txbuf);
	free(rxbuf);
	free(ring);
}

/* ---- idle */

static long
proc_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static void
run_idle(struct stats *st, char *extra, size_t extra_size)
{
	int *fds = calloc((size_t)o.conns, sizeof(int));
	uint8_t *done = calloc((size_t)o.conns, 1);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[MAX_EVENTS];
	long rss0 = -1, rss1 = -1, hwm = -1, opened, closed = 0, served = 0;
	uint64_t t0, t_open, deadline;

	if (!fds || !done || ep == -1)
		fail("out of memory");
	if (o.pid > 0)
		rss0 = proc_kb(o.pid, "VmRSS");
	t0 = now_ns();
	opened = open_many(fds, o.conns, t0 + (uint64_t)(o.secs * 1e9), st);
	t_open = now_ns();
	for (long i = 0; i < opened; i++)
		if (epoll_add(ep, fds[i], EPOLLIN | EPOLLRDHUP, (uint64_t)i) < 0)
			fail("epoll_ctl: %s", strerror(errno));

	/* Hold: nothing should happen; a server that drops idle clients shows
	 * up here. */
	deadline = now_ns() + (uint64_t)(o.hold * 1e9);
	while (now_ns() < deadline) {
		int k = epoll_wait(ep, evs, MAX_EVENTS, wait_ms(deadline));

		for (int i = 0; i < k; i++) {
			long idx = (long)evs[i].data.u64;

			epoll_ctl(ep, EPOLL_CTL_DEL, fds[idx], NULL);
			done[idx] = 2;
			closed++;
		}
	}
	if (o.pid > 0) {
		rss1 = proc_kb(o.pid, "VmRSS");
		hwm = proc_kb(o.pid, "VmHWM");
	}

	/* Then every connection must still echo its own 8 bytes. */
	for (long i = 0; i < opened; i++) {
		uint64_t v = (uint64_t)i * 2654435761ULL;

		if (done[i])
			continue;
		if (write(fds[i], &v, 8) != 8)
			done[i] = 2;
	}
	deadline = now_ns() + 10000000000ULL;
	while (served + closed < opened && now_ns() < deadline) {
		int k = epoll_wait(ep, evs, MAX_EVENTS, 100);

		for (int i = 0; i < k; i++) {
			long idx = (long)evs[i].data.u64;
			uint64_t v = 0, want = (uint64_t)idx * 2654435761ULL;
			ssize_t r = read(fds[idx], &v, 8);

			if (r < 0 && errno == EAGAIN)
				continue;
			epoll_ctl(ep, EPOLL_CTL_DEL, fds[idx], NULL);
			if (r == 8 && v == want) {
				served++;
				done[idx] = 1;
			} else {
				closed++;
				done[idx] = 2;
			}
		}
	}
	for (long i = 0; i < opened; i++)
		close(fds[i]);
	close(ep);
	st->ops = (uint64_t)served;
	snprintf(extra, extra_size,
		 "opened=%ld served=%ld dropped=%ld open_secs=%.3f rss_before_kb=%ld rss_idle_kb=%ld hwm_kb=%ld bytes_per_conn=%.0f",
		 opened, served, o.conns - served, (double)(t_open - t0) / 1e9, rss0, rss1, hwm,
		 (rss0 >= 0 && rss1 >= 0 && opened > 0) ? (double)(rss1 - rss0) * 1024.0 / (double)opened : -1.0);
	free(done);
	free(fds);
	if (served < o.conns)
		st->bad += (uint64_t)(o.conns - served);
}

/* ---- main */

static void *
thread_main(void *arg)
{
	struct thread *th = arg;

	switch (o.w) {
	case W_PINGPONG:
		run_pingpong(th);
		break;
	case W_ONESHOT:
		run_oneshot(th);
		break;
	case W_BULK:
		run_bulk(th);
		break;
	case W_UDP:
		run_udp(th);
		break;
	default:
		break;
	}
	return NULL;
}

static char *
unescape(const char *s, size_t *len)
{
	char *out = malloc(strlen(s) + 1), *p = out;

	if (!out)
		fail("out of memory");
	for (; *s; s++) {
		if (*s == '\\' && s[1] == 'n')
			*p++ = '\n', s++;
		else if (*s == '\\' && s[1] == 'r')
			*p++ = '\r', s++;
		else if (*s == '\\' && s[1] == '\\')
			*p++ = '\\', s++;
		else
			*p++ = *s;
	}
	*len = (size_t)(p - out);
	return out;
}

static long
num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		usage();
	return v;
}

static double
secs(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*end || !(v >= 0) || v > 3600)
		usage();
	return v;
}

static const char *
wname(enum workload w)
{
	static const char *const names[] = { "pingpong", "oneshot", "bulk", "udp", "idle", "probe" };

	return names[w];
}

static int
probe(void)
{
	uint64_t deadline = now_ns() + (uint64_t)(o.secs * 1e9);

	do {
		bool done;
		int fd = start_connect(&done);

		if (fd >= 0 && !done) {
			struct epoll_event ev;
			int ep = epoll_create1(EPOLL_CLOEXEC);

			epoll_add(ep, fd, EPOLLOUT, 0);
			epoll_wait(ep, &ev, 1, 1000);
			close(ep);
			done = sock_error(fd) == 0;
		}
		if (fd >= 0)
			close(fd);
		if (fd >= 0 && done)
			return 0;
		usleep(20000);
	} while (now_ns() < deadline);
	fprintf(stderr, "loadgen: %s: nothing accepts connections\n", o.addr.text);
	return EXIT_FAIL;
}

int
main(int argc, char **argv)
{
	struct thread th[MAX_THREADS];
	struct stats st;
	struct rlimit rl;
	char extra[512] = "";
	int c;

	while ((c = getopt(argc, argv, "w:a:c:s:d:W:n:t:x:hm:H:p:Nl:")) != -1) {
		switch (c) {
		case 'w':
			if (strcmp(optarg, "pingpong") == 0)
				o.w = W_PINGPONG;
			else if (strcmp(optarg, "oneshot") == 0)
				o.w = W_ONESHOT;
			else if (strcmp(optarg, "bulk") == 0)
				o.w = W_BULK;
			else if (strcmp(optarg, "udp") == 0)
				o.w = W_UDP;
			else if (strcmp(optarg, "idle") == 0)
				o.w = W_IDLE;
			else if (strcmp(optarg, "probe") == 0)
				o.w = W_PROBE;
			else
				usage();
			break;
		case 'a':
			if (bench_addr_parse(optarg, &o.addr) < 0)
				usage();
			o.have_addr = true;
			break;
		case 'c':
			o.conns = num(optarg, 1, 1000000);
			break;
		case 's':
			o.size = num(optarg, 0, MAX_SIZE);
			break;
		case 'd':
			o.secs = secs(optarg);
			break;
		case 'W':
			o.warmup = secs(optarg);
			break;
		case 'n':
			o.count = num(optarg, 1, LONG_MAX);
			break;
		case 't':
			o.threads = (int)num(optarg, 1, MAX_THREADS);
			break;
		case 'x':
			if (strcmp(optarg, "echo") == 0) {
				o.expect = X_ECHO;
			} else if (strcmp(optarg, "crlf") == 0) {
				o.expect = X_CRLF;
			} else if (strncmp(optarg, "len:", 4) == 0) {
				o.expect = X_LEN;
				o.expect_len = num(optarg + 4, 0, ONESHOT_MAX - 1);
			} else if (strncmp(optarg, "text:", 5) == 0) {
				o.expect = X_TEXT;
				o.expect_text = unescape(optarg + 5, &o.expect_text_len);
			} else {
				usage();
			}
			break;
		case 'h':
			o.halfclose = true;
			break;
		case 'm':
			if (strcmp(optarg, "echo") == 0)
				o.bulk_echo = true;
			else if (strcmp(optarg, "discard") == 0)
				o.bulk_echo = false;
			else
				usage();
			break;
		case 'H':
			o.hold = secs(optarg);
			break;
		case 'p':
			o.pid = (pid_t)num(optarg, 1, INT_MAX);
			break;
		case 'N':
			o.nodelay = false;
			break;
		case 'l':
			o.label = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || !o.have_addr)
		usage();
	if ((o.w == W_UDP) != (o.addr.socktype == SOCK_DGRAM))
		fail("workload %s does not go with address %s", wname(o.w), o.addr.text);
	if (o.w == W_PINGPONG && o.size == 0)
		usage();
	if (o.w == W_BULK && o.size == 0)
		usage();
	if (o.w == W_ONESHOT && o.expect == X_ECHO && (o.size == 0 || o.size >= ONESHOT_MAX))
		fail("oneshot -x echo needs -s 1..%d", ONESHOT_MAX - 1);
	if (o.threads > o.conns)
		o.threads = (int)o.conns;

	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (o.w == W_PROBE)
		return probe();

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)((i % PAT_PERIOD) * 97 + 13);

	memset(&st, 0, sizeof(st));
	t_start = now_ns();
	if (o.w == W_IDLE) {
		run_idle(&st, extra, sizeof(extra));
		t_measure = t_start;
		t_end = now_ns();
	} else {
		t_measure = t_start + (uint64_t)(o.warmup * 1e9);
		t_end = t_measure + (uint64_t)(o.secs * 1e9);
		memset(th, 0, sizeof(th));
		for (int i = 0; i < o.threads; i++) {
			th[i].id = i;
			th[i].conns = o.conns / o.threads + (i < o.conns % o.threads);
		}
		for (int i = 1; i < o.threads; i++)
			if (pthread_create(&th[i].tid, NULL, thread_main, &th[i]) != 0)
				fail("pthread_create failed");
		thread_main(&th[0]);
		for (int i = 1; i < o.threads; i++)
			pthread_join(th[i].tid, NULL);
		for (int i = 0; i < o.threads; i++) {
			st.ops += th[i].st.ops;
			st.bytes += th[i].st.bytes;
			st.sent += th[i].st.sent;
			st.lost += th[i].st.lost;
			st.late += th[i].st.late;
			st.errors += th[i].st.errors;
			st.bad += th[i].st.bad;
			st.h.n += th[i].st.h.n;
			for (int b = 0; b < H_BUCKETS; b++)
				st.h.b[b] += th[i].st.h.b[b];
		}
	}

	/* The window may end early at -n; rates use the real length. */
	double window = (double)(t_end - t_measure) / 1e9;
	uint64_t t_last = now_ns();

	if (o.w != W_IDLE && o.count > 0 && t_last < t_end)
		window = (double)(t_last - t_measure) / 1e9;
	if (window <= 0)
		window = 1e-9;

	if (o.label)
		printf("%s ", o.label);
	printf("workload=%s addr=%s conns=%ld size=%ld threads=%d secs=%.3f ops=%llu rate=%.1f",
	       wname(o.w), o.addr.text, o.conns, o.size, o.threads, window,
	       (unsigned long long)st.ops, (double)st.ops / window);
	if (o.w == W_BULK)
		printf(" mbps=%.1f", (double)st.bytes / window / 1e6);
	if (o.w == W_PINGPONG || o.w == W_ONESHOT || o.w == W_UDP)
		printf(" p50_us=%.1f p99_us=%.1f p999_us=%.1f",
		       hist_q(&st.h, 0.50) / 1e3, hist_q(&st.h, 0.99) / 1e3, hist_q(&st.h, 0.999) / 1e3);
	if (o.w == W_UDP)
		printf(" sent=%llu lost=%llu late=%llu loss=%.5f", (unsigned long long)st.sent,
		       (unsigned long long)st.lost, (unsigned long long)st.late,
		       st.sent ? (double)st.lost / (double)st.sent : 0.0);
	if (extra[0])
		printf(" %s", extra);
	printf(" bytes=%llu errors=%llu bad=%llu ok=%d\n", (unsigned long long)st.bytes,
	       (unsigned long long)st.errors, (unsigned long long)st.bad, st.bad == 0 && st.ops > 0);
	fflush(stdout);
	return st.bad == 0 && st.ops > 0 ? 0 : EXIT_FAIL;
}
