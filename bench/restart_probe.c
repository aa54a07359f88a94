/* restart_probe: what clients see while a server restarts (issue 17).
 *
 * One thread per target, each with its own epoll loop:
 *   stream (tcp:, unix:)  RATE new connections per second, each a
 *                         non-blocking connect that sends a short unique
 *                         line, reads it back and closes; plus HELD
 *                         long-lived connections that send a line every
 *                         INTERVAL ms and are reopened when they end.
 *   udp:                  RATE datagrams per second on one connected
 *                         socket, each with a sequence number and its send
 *                         time; one that has no reply within the timeout is
 *                         lost, and its sequence number is reported.
 *
 * Every attempt is classified (ok, refused, reset, timeout, closed, wrong,
 * error) and the connect-to-echo wait of the ok ones goes into a histogram.
 * SIGUSR1 marks "a restart begins now", SIGUSR2 "it ended": attempts that
 * overlap a marked window are also counted in the window's figures.
 * SIGINT/SIGTERM end the run early, with the report.
 *
 * Exit codes: 0 nothing refused, reset, timed out, cut, lost or wrong;
 * 1 otherwise (or the probe itself failed); 64 usage.
 * Standalone on purpose, like loadgen: nothing from src/ is shared. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
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
#define EXIT_USAGE      64

#define MAX_TARGETS     16
#define MAX_HELD        100
#define MAX_MARKS       1024
#define MAX_EVENTS      256
/* Stream attempts in flight per target; more would only mean the server
 * makes clients wait for tens of seconds, which the timeout already caps. */
#define MAX_SLOTS       4096
#define MAX_LOST_RANGES 256
/* Progress lines (state changes) per target on stderr: a flapping server
 * must not make the probe flood its terminal. */
#define MAX_NOTES       64
#define MSG_MAX         64
#define UDP_LEN         32
#define UDP_MAGIC       0x72707564U     /* "rpud" */

/* Wait histogram: exact below 64 ns, then 64 sub-buckets per power of two
 * (under 1.6 % error), up to 2^40 ns; the maximum is kept exactly. */
#define H_SUB_BITS      6
#define H_SUB           (1 << H_SUB_BITS)
#define H_BUCKETS       (H_SUB + (40 - H_SUB_BITS) * H_SUB)

enum outcome { O_OK, O_REFUSED, O_RESET, O_TIMEOUT, O_CLOSED, O_WRONG, O_ERROR, O_N };

static const char *const outcome_name[O_N] = {
	"ok", "refused", "reset", "timeout", "closed", "wrong", "error",
};

struct hist {
	uint64_t n;
	uint64_t max;
	uint64_t b[H_BUCKETS];
};

/* Counts of one scope (the whole run, or the marked windows). For UDP,
 * n[O_TIMEOUT] holds the lost datagrams and n[O_REFUSED] the port
 * unreachable notices the socket reported. */
struct tally {
	uint64_t attempts;
	uint64_t n[O_N];
	struct hist h;
};

struct held_tally {
	uint64_t opened;        /* connections established */
	uint64_t echoes;        /* messages that came back whole */
	uint64_t closed;        /* EOF with nothing owed: a clean close */
	uint64_t cut;           /* EOF while an echo was owed */
	uint64_t reset;
	uint64_t timeout;       /* no echo (or no connect) within the timeout */
	uint64_t wrong;
	uint64_t refused;       /* reopening was refused */
	uint64_t error;
	uint64_t max_wait;      /* longest echo wait, ns */
};

struct lost_range {
	uint64_t lo, hi;        /* sequence numbers */
	uint64_t t_lo, t_hi;    /* their send times, ns since the start */
};

struct target {
	struct bench_addr addr;
	int idx;
	pthread_t tid;

	struct tally all, win;
	uint64_t skipped;       /* due, but no free slot: the probe fell behind */
	uint64_t retries;       /* unix: connects retried on a full backlog */
	uint64_t late;          /* udp: replies after their datagram was lost */
	int last_err;           /* errno of the last O_ERROR */
	struct held_tally held;
	struct lost_range lost[MAX_LOST_RANGES];
	unsigned n_lost;
	uint64_t lost_more;     /* lost datagrams beyond the ranges kept */

	enum outcome last_oc;   /* for the progress lines */
	uint64_t fail_run;
	unsigned notes;
	bool held_noted;        /* all held connections are open, and we said so */
};

struct opts {
	long rate;
	double secs;
	int held;
	uint64_t interval_ns;
	uint64_t timeout_ns;
	bool json;
	bool quiet;
};

static struct opts o = {
	.rate = 200, .secs = 10, .held = 2,
	.interval_ns = 100000000ULL, .timeout_ns = 3000000000ULL,
};
static struct target targets[MAX_TARGETS];
static int n_targets;
static uint32_t run_id;
static uint64_t t_begin;        /* all targets start here */
static uint64_t t_stop;         /* no new attempts from here */
static atomic_bool stop_now;
static atomic_int threads_done;

/* Marked windows, written by the main thread only; end 0 = still open. */
static _Atomic uint64_t mark_begin[MAX_MARKS], mark_end[MAX_MARKS];
static atomic_uint n_marks;

static void
usage(void)
{
	fputs("usage: restart_probe [options] TARGET...\n"
	      "  TARGET    tcp:HOST:PORT | unix:/path | unix:@name | udp:HOST:PORT,\n"
	      "            each an echo service\n"
	      "  -r RATE   new connections (udp: datagrams) per second per target [200]\n"
	      "  -d SECS   duration                                             [10]\n"
	      "  -H N      long-lived connections per stream target, 0..100     [2]\n"
	      "  -i MS     a long-lived connection sends a line every MS ms     [100]\n"
	      "  -t MS     timeout of a connect + echo, and of a udp reply      [3000]\n"
	      "  -j        one JSON line per target instead of the table\n"
	      "  -q        no progress lines on stderr\n"
	      "SIGUSR1 marks the start of a restart, SIGUSR2 its end; SIGINT or\n"
	      "SIGTERM ends the run early. Exit 0: every attempt ok; 1: anything\n"
	      "refused, reset, timed out, cut, lost or wrong; 64: usage.\n", stderr);
	exit(EXIT_USAGE);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("restart_probe: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_FAIL);
}

/* One progress line, written at once so threads do not interleave. */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
note(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	if (o.quiet)
		return;
	n = snprintf(line, sizeof(line), "restart_probe: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double
rel_s(uint64_t t)
{
	return t > t_begin ? (double)(t - t_begin) / 1e9 : 0.0;
}

/* ---- histogram */

static void
hist_add(struct hist *h, uint64_t v)
{
	unsigned idx;

	if (v > h->max)
		h->max = v;
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

/* The middle of the bucket holding the q-quantile, in ns, never above the
 * exact maximum. */
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
			double lo, width, mid;

			if (i < H_SUB)
				return i;
			k = (i - H_SUB) / H_SUB + H_SUB_BITS;
			sub = (i - H_SUB) % H_SUB;
			width = (double)(1ULL << (k - H_SUB_BITS));
			lo = (double)(1ULL << k) + sub * width;
			mid = lo + width / 2;
			return mid > (double)h->max ? (double)h->max : mid;
		}
	}
	return (double)h->max;
}

/* ---- marked windows */

/* Did [t0, t1] overlap a marked window? A window still open reaches to
 * the future. */
static bool
in_window(uint64_t t0, uint64_t t1)
{
	unsigned n = atomic_load_explicit(&n_marks, memory_order_acquire);

	for (unsigned i = 0; i < n; i++) {
		uint64_t b = atomic_load_explicit(&mark_begin[i], memory_order_relaxed);
		uint64_t e = atomic_load_explicit(&mark_end[i], memory_order_relaxed);

		if (b <= t1 && (e == 0 || e >= t0))
			return true;
	}
	return false;
}

static void
mark(int sig)
{
	unsigned n = atomic_load_explicit(&n_marks, memory_order_relaxed);
	bool open = n > 0 && atomic_load_explicit(&mark_end[n - 1], memory_order_relaxed) == 0;
	uint64_t t = now_ns();

	if (sig == SIGUSR1) {
		if (open || n >= MAX_MARKS)
			return;
		atomic_store_explicit(&mark_begin[n], t, memory_order_relaxed);
		atomic_store_explicit(&mark_end[n], 0, memory_order_relaxed);
		atomic_store_explicit(&n_marks, n + 1, memory_order_release);
		note("window %u begins at %.3f s", n + 1, rel_s(t));
	} else if (open) {
		atomic_store_explicit(&mark_end[n - 1], t, memory_order_release);
		note("window %u ends at %.3f s (%.3f s)", n, rel_s(t),
		     (double)(t - atomic_load_explicit(&mark_begin[n - 1], memory_order_relaxed)) / 1e9);
	}
}

/* ---- results */

/* May one more progress line about tg be written? */
static bool
note_budget(struct target *tg)
{
	if (tg->notes >= MAX_NOTES)
		return false;
	if (++tg->notes < MAX_NOTES)
		return true;
	note("%s: more changes, not shown", tg->addr.text);
	return false;
}

/* Progress lines: the first failure of each kind in a row, and the first
 * success after failures. Stream attempts come here as they end; datagrams
 * in the order they were sent, with t their send time, once their fate is
 * known (a loss is only known a timeout later). */
static void
transition(struct target *tg, enum outcome oc, uint64_t t)
{
	bool fail = oc != O_OK;

	if (fail)
		tg->fail_run++;
	if (oc == tg->last_oc)
		return;
	tg->last_oc = oc;
	if (!note_budget(tg)) {
		/* said enough */
	} else if (fail && tg->addr.socktype == SOCK_DGRAM) {
		note("%s: %s, from the datagram sent at %.3f s", tg->addr.text,
		     oc == O_TIMEOUT ? "lost" : outcome_name[oc], rel_s(t));
	} else if (fail) {
		note("%s: %s at %.3f s", tg->addr.text, outcome_name[oc], rel_s(t));
	} else if (tg->addr.socktype == SOCK_DGRAM) {
		note("%s: answered again, from the datagram sent at %.3f s, after %" PRIu64 " failed",
		     tg->addr.text, rel_s(t), tg->fail_run);
	} else {
		note("%s: ok again at %.3f s after %" PRIu64 " failed", tg->addr.text, rel_s(t), tg->fail_run);
	}
	if (!fail)
		tg->fail_run = 0;
}

/* Count an event that happened from t0 to t1: the end of an attempt, or
 * (attempt false) something that is not one, such as a stray datagram. */
static void
count(struct target *tg, enum outcome oc, uint64_t t0, uint64_t t1, bool attempt)
{
	tg->all.n[oc]++;
	tg->all.attempts += attempt;
	if (oc == O_OK)
		hist_add(&tg->all.h, t1 - t0);
	if (in_window(t0, t1)) {
		tg->win.n[oc]++;
		tg->win.attempts += attempt;
		if (oc == O_OK)
			hist_add(&tg->win.h, t1 - t0);
	}
	if (tg->addr.socktype != SOCK_DGRAM)
		transition(tg, oc, t1);
}

static void
record(struct target *tg, enum outcome oc, uint64_t t0, uint64_t t1)
{
	count(tg, oc, t0, t1, true);
}

static enum outcome
classify(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ENOENT:
		return O_REFUSED;
	case ECONNRESET:
	case EPIPE:
		return O_RESET;
	case ETIMEDOUT:
		return O_TIMEOUT;
	default:
		return O_ERROR;
	}
}

/* ---- addresses and sockets */

static int
sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

static int
new_socket(const struct target *tg)
{
	int fd, one = 1;

	fd = socket(tg->addr.family, tg->addr.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -errno;
	if (tg->addr.family != AF_UNIX && tg->addr.socktype == SOCK_STREAM)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* connect() on a non-blocking socket: 0 connected, 1 in progress, 2 a full
 * Unix backlog (try again), or a positive errno... as -errno. */
static int
try_connect(const struct target *tg, int fd)
{
	if (connect(fd, (const struct sockaddr *)&tg->addr.sa, tg->addr.len) == 0)
		return 0;
	if (errno == EINPROGRESS)
		return 1;
	if (errno == EAGAIN && tg->addr.family == AF_UNIX)
		return 2;
	return -errno;
}

static int
epoll_set(int ep, int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, op, fd, &ev) == -1 ? -errno : 0;
}

/* Milliseconds from now until t, rounded up, within 0..100. */
static int
wait_ms(uint64_t t, uint64_t now)
{
	if (t <= now)
		return 0;
	t = (t - now + 999999) / 1000000;
	return t > 100 ? 100 : (int)t;
}

/* Attempts due by t: one every 1/rate s from the start, up to the stop.
 * A thread that wakes late still starts all of them, late. */
static uint64_t
due(uint64_t t, uint64_t stop)
{
	if (t >= stop)
		return ((stop - t_begin) * (uint64_t)o.rate + 999999999ULL) / 1000000000ULL;
	return (t - t_begin) * (uint64_t)o.rate / 1000000000ULL + 1;
}

static uint64_t
due_time(uint64_t seq)
{
	return t_begin + seq * 1000000000ULL / (uint64_t)o.rate;
}

/* ---- stream targets */

enum { A_FREE, A_RETRY, A_CONNECTING, A_ECHO };
enum { H_DOWN, H_RETRY, H_CONNECTING, H_OPEN };

#define HELD_FLAG       (1ULL << 63)

struct attempt {
	int fd;
	int state;
	uint64_t seq;
	uint64_t t0;
	unsigned len, got;
	char tx[MSG_MAX], rx[MSG_MAX];
};

struct held {
	int fd;
	int state;
	uint64_t t_next;        /* next message, or next reopen */
	uint64_t t_open;        /* when the current connect began */
	uint64_t t_sent;        /* the owed echo's message went out; 0: none owed */
	uint64_t msgs;
	bool was_open;          /* since the last note about a refused reopen */
	unsigned len, got;
	char tx[MSG_MAX], rx[MSG_MAX];
};

struct stream {
	struct target *tg;
	int ep;
	struct attempt *slots;
	uint64_t n_slots;
	uint64_t head, next;    /* attempts [head, next) may be in flight */
	unsigned retrying;
	struct held held[MAX_HELD];
	bool held_stop;
};

static void
attempt_end(struct stream *s, struct attempt *a, enum outcome oc, uint64_t t)
{
	if (oc == O_ERROR)
		s->tg->last_err = errno;
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	if (a->state == A_RETRY)
		s->retrying--;
	a->state = A_FREE;
	record(s->tg, oc, a->t0, t);
}

static void
attempt_send(struct stream *s, struct attempt *a, uint64_t t)
{
	ssize_t n = send(a->fd, a->tx, a->len, MSG_NOSIGNAL);

	if (n == (ssize_t)a->len) {
		a->state = A_ECHO;
		if (epoll_set(s->ep, EPOLL_CTL_MOD, a->fd, EPOLLIN | EPOLLRDHUP, a - s->slots) < 0)
			attempt_end(s, a, O_ERROR, t);
		return;
	}
	/* A fresh socket takes a 44-byte line whole, or fails. */
	attempt_end(s, a, n < 0 ? classify(errno) : O_ERROR, t);
}

/* The connect finished (or a retry got through): send the line. */
static void
attempt_connected(struct stream *s, struct attempt *a, uint64_t t)
{
	if (a->state == A_RETRY) {
		s->retrying--;
		a->state = A_CONNECTING;
		if (epoll_set(s->ep, EPOLL_CTL_ADD, a->fd, EPOLLOUT, a - s->slots) < 0) {
			attempt_end(s, a, O_ERROR, t);
			return;
		}
	}
	attempt_send(s, a, t);
}

static void
attempt_start(struct stream *s, uint64_t seq, uint64_t t)
{
	struct attempt *a = &s->slots[seq % s->n_slots];
	int fd, r;

	if (a->state != A_FREE) {
		s->tg->skipped++;
		return;
	}
	a->seq = seq;
	a->t0 = t;
	a->got = 0;
	a->len = (unsigned)snprintf(a->tx, sizeof(a->tx), "restart_probe %08x %02d a%016" PRIx64 "\n",
				    run_id, s->tg->idx, seq);
	fd = new_socket(s->tg);
	if (fd < 0) {
		errno = -fd;
		a->fd = -1;
		record(s->tg, O_ERROR, t, t);
		s->tg->last_err = -fd;
		return;
	}
	a->fd = fd;
	a->state = A_CONNECTING;
	r = try_connect(s->tg, fd);
	if (r == 2) {
		a->state = A_RETRY;
		s->retrying++;
		s->tg->retries++;
		return;
	}
	if (r < 0) {
		errno = -r;
		attempt_end(s, a, classify(-r), t);
		return;
	}
	if (epoll_set(s->ep, EPOLL_CTL_ADD, fd, EPOLLOUT, a - s->slots) < 0) {
		attempt_end(s, a, O_ERROR, t);
		return;
	}
	if (r == 0)
		attempt_send(s, a, t);
}

static void
attempt_event(struct stream *s, struct attempt *a, uint32_t ev, uint64_t t)
{
	ssize_t n;

	if (a->state == A_CONNECTING) {
		int err = sock_error(a->fd);

		if (err) {
			errno = err;
			attempt_end(s, a, classify(err), t);
		} else if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
			attempt_send(s, a, t);
		}
		return;
	}
	if (a->state != A_ECHO)
		return;
	n = recv(a->fd, a->rx + a->got, sizeof(a->rx) - a->got, 0);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			attempt_end(s, a, classify(errno), t);
		return;
	}
	if (n == 0) {
		attempt_end(s, a, O_CLOSED, t);
		return;
	}
	a->got += (unsigned)n;
	if (a->got > a->len || memcmp(a->rx, a->tx, a->got) != 0)
		attempt_end(s, a, O_WRONG, t);
	else if (a->got == a->len)
		attempt_end(s, a, O_OK, t);
}

/* Time out attempts from the oldest: they started in order, so the first
 * one still in time ends the sweep. Also move head past finished ones. */
static void
attempts_sweep(struct stream *s, uint64_t t)
{
	for (uint64_t q = s->head; q < s->next; q++) {
		struct attempt *a = &s->slots[q % s->n_slots];

		if (a->state == A_FREE || a->seq != q) {
			if (q == s->head)
				s->head++;
			continue;
		}
		if (t - a->t0 < o.timeout_ns)
			break;
		attempt_end(s, a, O_TIMEOUT, t);
		if (q == s->head)
			s->head++;
	}
	if (s->retrying == 0)
		return;
	for (uint64_t q = s->head; q < s->next; q++) {
		struct attempt *a = &s->slots[q % s->n_slots];
		int r;

		if (a->state != A_RETRY || a->seq != q)
			continue;
		r = try_connect(s->tg, a->fd);
		if (r == 2) {
			s->tg->retries++;
			continue;
		}
		if (r < 0) {
			errno = -r;
			attempt_end(s, a, classify(-r), t);
		} else {
			attempt_connected(s, a, t);
		}
	}
}

static void
held_down(struct stream *s, struct held *h, uint64_t t)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->state = H_DOWN;
	s->tg->held_noted = false;
	h->t_sent = 0;
	h->t_next = t + o.interval_ns;
}

static void
held_note(struct stream *s, struct held *h, const char *what, uint64_t t)
{
	struct target *tg = s->tg;

	if (note_budget(tg))
		note("%s: held connection %d %s at %.3f s", tg->addr.text, (int)(h - s->held), what, rel_s(t));
}

static void
held_fail(struct stream *s, struct held *h, uint64_t *counter, uint64_t t)
{
	struct held_tally *ht = &s->tg->held;
	static const char *const what[] = { "cut", "reset", "timed out", "wrong", "error" };
	uint64_t *which[] = { &ht->cut, &ht->reset, &ht->timeout, &ht->wrong, &ht->error };

	(*counter)++;
	for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++)
		if (counter == which[i] && h->state == H_OPEN)
			held_note(s, h, what[i], t);
	held_down(s, h, t);
}

static void
held_opened(struct stream *s, struct held *h, uint64_t t)
{
	bool all = true;

	h->state = H_OPEN;
	h->was_open = true;
	h->t_next = t;
	s->tg->held.opened++;
	if (epoll_set(s->ep, EPOLL_CTL_MOD, h->fd, EPOLLIN | EPOLLRDHUP, HELD_FLAG | (uint64_t)(h - s->held)) < 0)
		held_fail(s, h, &s->tg->held.error, t);
	if (s->tg->held_noted)
		return;
	for (int i = 0; i < o.held; i++)
		all = all && s->held[i].state == H_OPEN;
	if (all) {
		s->tg->held_noted = true;
		if (note_budget(s->tg))
			note("%s: %d held connections open", s->tg->addr.text, o.held);
	}
}

static void
held_connect_failed(struct stream *s, struct held *h, int err, uint64_t t)
{
	enum outcome oc = classify(err);

	/* Refused reopens come every interval while the server is away:
	 * say so once per held connection and outage. */
	if (oc == O_REFUSED && h->was_open) {
		h->was_open = false;
		held_note(s, h, "reopen refused", t);
	}
	if (oc == O_REFUSED)
		held_fail(s, h, &s->tg->held.refused, t);
	else if (oc == O_RESET)
		held_fail(s, h, &s->tg->held.reset, t);
	else if (oc == O_TIMEOUT)
		held_fail(s, h, &s->tg->held.timeout, t);
	else
		held_fail(s, h, &s->tg->held.error, t);
}

static void
held_open(struct stream *s, struct held *h, uint64_t t)
{
	int fd = new_socket(s->tg), r;

	h->t_open = t;
	if (fd < 0) {
		held_fail(s, h, &s->tg->held.error, t);
		return;
	}
	h->fd = fd;
	r = try_connect(s->tg, fd);
	if (r == 2) {
		h->state = H_RETRY;
		return;
	}
	if (r < 0) {
		held_connect_failed(s, h, -r, t);
		return;
	}
	h->state = H_CONNECTING;
	if (epoll_set(s->ep, EPOLL_CTL_ADD, fd, EPOLLOUT, HELD_FLAG | (uint64_t)(h - s->held)) < 0) {
		held_fail(s, h, &s->tg->held.error, t);
		return;
	}
	if (r == 0)
		held_opened(s, h, t);
}

static void
held_send(struct stream *s, struct held *h, uint64_t t)
{
	ssize_t n;

	h->len = (unsigned)snprintf(h->tx, sizeof(h->tx), "restart_probe %08x %02d h%02d:%012" PRIu64 "\n",
				    run_id, s->tg->idx, (int)(h - s->held), h->msgs++);
	h->got = 0;
	n = send(h->fd, h->tx, h->len, MSG_NOSIGNAL);
	if (n == (ssize_t)h->len) {
		h->t_sent = t;
		h->t_next = t + o.interval_ns;
		return;
	}
	if (n >= 0 || errno == EAGAIN)
		held_fail(s, h, &s->tg->held.error, t);
	else if (classify(errno) == O_RESET)
		held_fail(s, h, &s->tg->held.reset, t);
	else
		held_fail(s, h, &s->tg->held.error, t);
}

static void
held_event(struct stream *s, struct held *h, uint64_t t)
{
	ssize_t n;

	if (h->state == H_CONNECTING) {
		int err = sock_error(h->fd);

		if (err)
			held_connect_failed(s, h, err, t);
		else
			held_opened(s, h, t);
		return;
	}
	if (h->state != H_OPEN)
		return;
	n = recv(h->fd, h->rx + h->got, sizeof(h->rx) - h->got, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (classify(errno) == O_RESET)
			held_fail(s, h, &s->tg->held.reset, t);
		else
			held_fail(s, h, &s->tg->held.error, t);
		return;
	}
	if (n == 0) {
		/* The server ended it: clean when it owed nothing. */
		if (h->t_sent) {
			held_fail(s, h, &s->tg->held.cut, t);
		} else {
			s->tg->held.closed++;
			held_note(s, h, "closed cleanly", t);
			held_down(s, h, t);
		}
		return;
	}
	h->got += (unsigned)n;
	if (!h->t_sent || h->got > h->len || memcmp(h->rx, h->tx, h->got) != 0) {
		held_fail(s, h, &s->tg->held.wrong, t);
		return;
	}
	if (h->got == h->len) {
		if (t - h->t_sent > s->tg->held.max_wait)
			s->tg->held.max_wait = t - h->t_sent;
		s->tg->held.echoes++;
		h->t_sent = 0;
	}
}

/* Timers of the held connections; returns the earliest next one. */
static uint64_t
held_tick(struct stream *s, uint64_t t)
{
	uint64_t next = UINT64_MAX;

	for (int i = 0; i < o.held; i++) {
		struct held *h = &s->held[i];

		switch (h->state) {
		case H_DOWN:
			if (s->held_stop)
				continue;
			if (t >= h->t_next)
				held_open(s, h, t);
			break;
		case H_RETRY: {
			int r = try_connect(s->tg, h->fd);

			if (r == 2 && t - h->t_open >= o.timeout_ns) {
				held_fail(s, h, &s->tg->held.timeout, t);
			} else if (r == 2) {
				if (t + 1000000 < next)
					next = t + 1000000;
				continue;
			} else if (r < 0) {
				held_connect_failed(s, h, -r, t);
			} else {
				h->state = H_CONNECTING;
				if (epoll_set(s->ep, EPOLL_CTL_ADD, h->fd, EPOLLOUT,
					      HELD_FLAG | (uint64_t)i) < 0)
					held_fail(s, h, &s->tg->held.error, t);
				else if (r == 0)
					held_opened(s, h, t);
			}
			break;
		}
		case H_CONNECTING:
			if (t - h->t_open >= o.timeout_ns)
				held_fail(s, h, &s->tg->held.timeout, t);
			break;
		case H_OPEN:
			if (h->t_sent && t - h->t_sent >= o.timeout_ns)
				held_fail(s, h, &s->tg->held.timeout, t);
			else if (!h->t_sent && !s->held_stop && t >= h->t_next)
				held_send(s, h, t);
			break;
		}
		if (h->state == H_DOWN && !s->held_stop && h->t_next < next)
			next = h->t_next;
		else if (h->state == H_OPEN && !h->t_sent && !s->held_stop && h->t_next < next)
			next = h->t_next;
		else if (h->state == H_OPEN && h->t_sent && h->t_sent + o.timeout_ns < next)
			next = h->t_sent + o.timeout_ns;
		else if (h->state == H_CONNECTING && h->t_open + o.timeout_ns < next)
			next = h->t_open + o.timeout_ns;
	}
	return next;
}

static bool
held_busy(const struct stream *s)
{
	for (int i = 0; i < o.held; i++) {
		const struct held *h = &s->held[i];

		if (h->state == H_CONNECTING || h->state == H_RETRY || (h->state == H_OPEN && h->t_sent))
			return true;
	}
	return false;
}

static void
run_stream(struct target *tg)
{
	struct stream s = { .tg = tg };
	struct epoll_event evs[MAX_EVENTS];
	uint64_t t, want, stop = t_stop;

	want = (uint64_t)o.rate * (o.timeout_ns / 1000000000ULL + 1) + 64;
	s.n_slots = want < MAX_SLOTS ? want : MAX_SLOTS;
	s.slots = calloc(s.n_slots, sizeof(*s.slots));
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!s.slots || s.ep == -1)
		die("%s: out of memory", tg->addr.text);
	for (uint64_t i = 0; i < s.n_slots; i++)
		s.slots[i].fd = -1;
	for (int i = 0; i < o.held; i++) {
		s.held[i].fd = -1;
		/* Spread the held connections' messages over the interval. */
		s.held[i].t_next = t_begin + o.interval_ns * (uint64_t)i / (uint64_t)o.held;
	}

	for (;;) {
		uint64_t next_t, h_next;
		int k, ms;

		t = now_ns();
		if (atomic_load_explicit(&stop_now, memory_order_relaxed) && t < stop)
			stop = t;
		if (t >= stop)
			s.held_stop = true;
		for (uint64_t d = due(t, stop); s.next < d; s.next++)
			attempt_start(&s, s.next, t);
		attempts_sweep(&s, t);
		h_next = held_tick(&s, t);
		if (t >= stop && s.head >= s.next && !held_busy(&s))
			break;
		next_t = t < stop ? due_time(s.next) : UINT64_MAX;
		if (h_next < next_t)
			next_t = h_next;
		if (s.head < s.next) {
			struct attempt *a = &s.slots[s.head % s.n_slots];

			if (a->t0 + o.timeout_ns < next_t)
				next_t = a->t0 + o.timeout_ns;
		}
		ms = wait_ms(next_t, t);
		if (s.retrying && ms > 1)
			ms = 1;
		k = epoll_wait(s.ep, evs, MAX_EVENTS, ms);
		if (k < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		t = now_ns();
		for (int i = 0; i < k; i++) {
			uint64_t d = evs[i].data.u64;

			if (d & HELD_FLAG)
				held_event(&s, &s.held[d & ~HELD_FLAG], t);
			else
				attempt_event(&s, &s.slots[d], evs[i].events, t);
		}
	}
	for (int i = 0; i < o.held; i++)
		if (s.held[i].fd >= 0)
			close(s.held[i].fd);
	close(s.ep);
	free(s.slots);
}

/* ---- udp targets */

struct dslot {
	uint64_t seq;
	uint64_t t_sent;
	bool pending;
	bool lost;
	enum outcome oc;        /* once not pending */
};

struct dgram_msg {
	uint32_t magic;
	uint32_t run;
	uint64_t seq;
	uint64_t t_sent;
	uint64_t check;
};

static uint64_t
dgram_check(uint64_t seq, uint64_t t_sent)
{
	return (seq * 0x9e3779b97f4a7c15ULL) ^ t_sent ^ run_id;
}

static void
lost_add(struct target *tg, uint64_t seq, uint64_t t_sent)
{
	struct lost_range *r = tg->n_lost ? &tg->lost[tg->n_lost - 1] : NULL;

	if (r && r->hi + 1 == seq) {
		r->hi = seq;
		r->t_hi = t_sent - t_begin;
	} else if (tg->n_lost < MAX_LOST_RANGES) {
		r = &tg->lost[tg->n_lost++];
		r->lo = r->hi = seq;
		r->t_lo = r->t_hi = t_sent - t_begin;
	} else {
		tg->lost_more++;
	}
}

static void
dgram_send(struct target *tg, int fd, struct dslot *sl, uint64_t seq, uint64_t t)
{
	struct dgram_msg m = { .magic = UDP_MAGIC, .run = run_id, .seq = seq, .t_sent = t };
	uint8_t buf[UDP_LEN];

	m.check = dgram_check(seq, t);
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &m, sizeof(m));
	sl->seq = seq;
	sl->t_sent = t;
	sl->lost = false;
	/* A port unreachable notice from an earlier datagram fails this send
	 * without sending it: count the notice and send again. */
	for (int tries = 0; tries < 2; tries++) {
		if (send(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf)) {
			sl->pending = true;
			return;
		}
		if (errno != ECONNREFUSED)
			break;
		count(tg, O_REFUSED, t, t, false);
	}
	sl->pending = false;
	sl->oc = O_ERROR;
	tg->last_err = errno;
	record(tg, O_ERROR, t, t);
}

static void
dgram_reply(struct target *tg, struct dslot *ring, uint64_t n_ring, const uint8_t *buf, ssize_t n,
	    uint64_t next, uint64_t t)
{
	struct dgram_msg m;
	struct dslot *sl;

	if (n != UDP_LEN)
		goto wrong;
	memcpy(&m, buf, sizeof(m));
	if (m.magic != UDP_MAGIC || m.run != run_id || m.seq >= next || m.check != dgram_check(m.seq, m.t_sent))
		goto wrong;
	for (size_t i = sizeof(m); i < UDP_LEN; i++)
		if (buf[i] != 0)
			goto wrong;
	sl = &ring[m.seq % n_ring];
	if (sl->seq != m.seq || !sl->pending) {
		/* Given up on already (or so old its slot was reused). */
		if (sl->seq != m.seq || sl->lost)
			tg->late++;
		else
			goto wrong;     /* a second reply */
		return;
	}
	if (sl->t_sent != m.t_sent)
		goto wrong;
	sl->pending = false;
	sl->oc = O_OK;
	record(tg, O_OK, sl->t_sent, t);
	return;
wrong:
	count(tg, O_WRONG, t, t, false);
}

static void
run_dgram(struct target *tg)
{
	struct epoll_event ev;
	struct dslot *ring;
	uint64_t n_ring = 64, head = 1, next = 1, t, stop = t_stop;
	uint8_t buf[2048];
	int fd, ep;

	while (n_ring < (uint64_t)o.rate * (o.timeout_ns / 1000000000ULL + 2) + 64)
		n_ring *= 2;
	ring = calloc(n_ring, sizeof(*ring));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!ring || ep == -1)
		die("%s: out of memory", tg->addr.text);
	fd = new_socket(tg);
	if (fd < 0)
		die("%s: socket: %s", tg->addr.text, strerror(-fd));
	if (connect(fd, (const struct sockaddr *)&tg->addr.sa, tg->addr.len) == -1)
		die("%s: connect: %s", tg->addr.text, strerror(errno));
	if (epoll_set(ep, EPOLL_CTL_ADD, fd, EPOLLIN, 0) < 0)
		die("epoll_ctl: %s", strerror(errno));

	for (;;) {
		uint64_t next_t;
		int k;

		t = now_ns();
		if (atomic_load_explicit(&stop_now, memory_order_relaxed) && t < stop)
			stop = t;
		/* Sequence numbers start at 1; the slot of seq is ring[seq % n_ring]. */
		for (uint64_t d = due(t, stop); next <= d; next++) {
			struct dslot *sl = &ring[next % n_ring];

			if (sl->pending && sl->seq + n_ring == next) {
				tg->skipped++;
				continue;
			}
			dgram_send(tg, fd, sl, next, t);
		}
		/* In the order sent: the answered ones, and the lost. */
		for (; head < next; head++) {
			struct dslot *sl = &ring[head % n_ring];

			if (sl->seq != head)
				continue;       /* skipped */
			if (sl->pending && t - sl->t_sent < o.timeout_ns)
				break;
			if (sl->pending) {
				sl->pending = false;
				sl->lost = true;
				sl->oc = O_TIMEOUT;
				lost_add(tg, head, sl->t_sent);
				record(tg, O_TIMEOUT, sl->t_sent, t);
			}
			transition(tg, sl->oc, sl->t_sent);
		}
		if (t >= stop && head >= next)
			break;
		next_t = t < stop ? due_time(next - 1) : UINT64_MAX;
		if (head < next && ring[head % n_ring].seq == head &&
		    ring[head % n_ring].t_sent + o.timeout_ns < next_t)
			next_t = ring[head % n_ring].t_sent + o.timeout_ns;
		k = epoll_wait(ep, &ev, 1, wait_ms(next_t, t));
		if (k < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		if (k <= 0)
			continue;
		for (int i = 0; i < 256; i++) {
			ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			t = now_ns();
			if (n < 0 && errno == ECONNREFUSED) {
				count(tg, O_REFUSED, t, t, false);
				continue;
			}
			if (n < 0)
				break;
			dgram_reply(tg, ring, n_ring, buf, n, next, t);
		}
	}
	close(fd);
	close(ep);
	free(ring);
}

static void *
thread_main(void *arg)
{
	struct target *tg = arg;

	if (tg->addr.socktype == SOCK_DGRAM)
		run_dgram(tg);
	else
		run_stream(tg);
	atomic_fetch_add(&threads_done, 1);
	return NULL;
}

/* ---- report */

static uint64_t
held_bad(const struct held_tally *h)
{
	return h->cut + h->reset + h->timeout + h->wrong + h->refused + h->error;
}

static bool
target_ok(const struct target *tg)
{
	if (tg->all.attempts == 0 || tg->skipped)
		return false;
	if (tg->addr.socktype == SOCK_DGRAM)
		return tg->all.n[O_OK] == tg->all.attempts && tg->all.n[O_WRONG] == 0 &&
		       tg->all.n[O_REFUSED] == 0 && tg->late == 0;
	return tg->all.n[O_OK] == tg->all.attempts && held_bad(&tg->held) == 0;
}

static bool
all_ok(void)
{
	for (int i = 0; i < n_targets; i++)
		if (!target_ok(&targets[i]))
			return false;
	return n_targets > 0;
}

static double
ms(double ns)
{
	return ns / 1e6;
}

/* The windows as marked; one still open at the end closes there. */
static unsigned
windows(uint64_t *b, uint64_t *e, uint64_t t_end, double *total)
{
	unsigned n = atomic_load(&n_marks);

	*total = 0;
	for (unsigned i = 0; i < n; i++) {
		b[i] = atomic_load(&mark_begin[i]);
		e[i] = atomic_load(&mark_end[i]);
		if (e[i] == 0)
			e[i] = t_end;
		*total += (double)(e[i] - b[i]) / 1e9;
	}
	return n;
}

static void
table_row(const struct target *tg, const char *first, const char *scope, const struct tally *ty, bool late)
{
	bool dg = tg->addr.socktype == SOCK_DGRAM;

	/* A long Unix path gets a line of its own, so the columns stay. */
	if (strlen(first) > 28) {
		printf("%s\n", first);
		first = "";
	}
	printf("%-28s %-7s %9" PRIu64 " %9" PRIu64, first, scope, ty->attempts, ty->n[O_OK]);
	if (dg) {
		printf(" %7" PRIu64, ty->n[O_TIMEOUT]);
		if (late)
			printf(" %6" PRIu64, tg->late);
		else
			printf(" %6s", "-");
		printf(" %6" PRIu64 " %7" PRIu64 " %6" PRIu64, ty->n[O_WRONG], ty->n[O_REFUSED], ty->n[O_ERROR]);
	} else {
		printf(" %7" PRIu64 " %6" PRIu64 " %7" PRIu64 " %6" PRIu64 " %6" PRIu64 " %6" PRIu64,
		       ty->n[O_REFUSED], ty->n[O_RESET], ty->n[O_TIMEOUT], ty->n[O_CLOSED],
		       ty->n[O_WRONG], ty->n[O_ERROR]);
	}
	if (ty->h.n)
		printf(" %9.3f %9.3f %9.3f\n", ms(hist_q(&ty->h, 0.50)), ms(hist_q(&ty->h, 0.99)),
		       ms((double)ty->h.max));
	else
		printf(" %9s %9s %9s\n", "-", "-", "-");
}

static void
print_table(uint64_t t_end)
{
	uint64_t b[MAX_MARKS], e[MAX_MARKS];
	double total;
	unsigned n = windows(b, e, t_end, &total);
	bool header_s = false, header_d = false;

	printf("restart_probe: %.3f s, %ld/s per target, %d held per stream target every %.0f ms, timeout %.0f ms\n",
	       rel_s(t_end), o.rate, o.held, ms((double)o.interval_ns), ms((double)o.timeout_ns));
	printf("marked windows: %u, %.3f s in all", n, total);
	for (unsigned i = 0; i < n && i < 20; i++)
		printf("%s%.3f-%.3f", i ? ", " : ": ", rel_s(b[i]), rel_s(e[i]));
	printf("%s\n", n > 20 ? ", ..." : "");
	printf("waits are connect-to-echo (udp: send-to-reply) of the ok attempts, in ms\n");
	for (int i = 0; i < n_targets; i++) {
		const struct target *tg = &targets[i];
		const struct held_tally *h = &tg->held;

		if (tg->addr.socktype == SOCK_DGRAM && !header_d) {
			printf("\n%-28s %-7s %9s %9s %7s %6s %6s %7s %6s %9s %9s %9s\n", "udp target", "scope",
			       "sent", "ok", "lost", "late", "wrong", "refused", "error", "p50", "p99", "max");
			header_d = true, header_s = false;
		} else if (tg->addr.socktype != SOCK_DGRAM && !header_s) {
			printf("\n%-28s %-7s %9s %9s %7s %6s %7s %6s %6s %6s %9s %9s %9s\n", "stream target", "scope",
			       "attempts", "ok", "refused", "reset", "timeout", "closed", "wrong", "error",
			       "p50", "p99", "max");
			header_s = true, header_d = false;
		}
		table_row(tg, tg->addr.text, "all", &tg->all, true);
		if (n)
			table_row(tg, "", "windows", &tg->win, false);
		if (tg->addr.socktype != SOCK_DGRAM && o.held)
			printf("  held: opened %" PRIu64 ", echoes %" PRIu64 ", closed cleanly %" PRIu64
			       ", cut %" PRIu64 ", reset %" PRIu64 ", timeout %" PRIu64 ", wrong %" PRIu64
			       ", reopen refused %" PRIu64 ", error %" PRIu64 "; longest echo %.3f ms\n",
			       h->opened, h->echoes, h->closed, h->cut, h->reset, h->timeout, h->wrong,
			       h->refused, h->error, ms((double)h->max_wait));
		if (tg->n_lost) {
			printf("  lost:");
			for (unsigned j = 0; j < tg->n_lost; j++) {
				const struct lost_range *r = &tg->lost[j];

				if (r->lo == r->hi)
					printf(" %" PRIu64 " (sent %.3f s)", r->lo, (double)r->t_lo / 1e9);
				else
					printf(" %" PRIu64 "-%" PRIu64 " (sent %.3f-%.3f s)", r->lo, r->hi,
					       (double)r->t_lo / 1e9, (double)r->t_hi / 1e9);
				if (j + 1 < tg->n_lost)
					putchar(',');
			}
			if (tg->lost_more)
				printf(", and %" PRIu64 " more", tg->lost_more);
			putchar('\n');
		}
		if (tg->all.n[O_ERROR])
			printf("  last error: %s\n", strerror(tg->last_err));
		if (tg->retries)
			printf("  connects retried on a full backlog: %" PRIu64 "\n", tg->retries);
		if (tg->skipped)
			printf("  skipped: %" PRIu64 " attempts found no free slot (the probe fell behind)\n",
			       tg->skipped);
	}
	putchar('\n');
	for (int i = 0; i < n_targets; i++)
		if (!target_ok(&targets[i]))
			printf("result: %s: FAIL\n", targets[i].addr.text);
	printf("result: %s\n", all_ok() ? "ok" : "FAIL");
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
json_tally(const struct target *tg, const struct tally *ty)
{
	bool dg = tg->addr.socktype == SOCK_DGRAM;

	printf("\"%s\":%" PRIu64 ",\"ok\":%" PRIu64, dg ? "sent" : "attempts", ty->attempts, ty->n[O_OK]);
	if (dg)
		printf(",\"lost\":%" PRIu64 ",\"wrong\":%" PRIu64 ",\"refused\":%" PRIu64 ",\"error\":%" PRIu64,
		       ty->n[O_TIMEOUT], ty->n[O_WRONG], ty->n[O_REFUSED], ty->n[O_ERROR]);
	else
		for (int i = O_REFUSED; i < O_N; i++)
			printf(",\"%s\":%" PRIu64, outcome_name[i], ty->n[i]);
	printf(",\"wait_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f}", ms(hist_q(&ty->h, 0.5)),
	       ms(hist_q(&ty->h, 0.99)), ms((double)ty->h.max));
}

static void
print_json(uint64_t t_end)
{
	uint64_t b[MAX_MARKS], e[MAX_MARKS];
	double total;
	unsigned n = windows(b, e, t_end, &total);

	for (int i = 0; i < n_targets; i++) {
		const struct target *tg = &targets[i];
		const struct held_tally *h = &tg->held;

		printf("{\"target\":");
		json_str(tg->addr.text);
		printf(",\"type\":\"%s\",\"rate\":%ld,\"secs\":%.3f,\"timeout_ms\":%.0f,",
		       tg->addr.socktype == SOCK_DGRAM ? "dgram" : "stream", o.rate, rel_s(t_end),
		       ms((double)o.timeout_ns));
		json_tally(tg, &tg->all);
		printf(",\"skipped\":%" PRIu64, tg->skipped);
		if (tg->addr.socktype == SOCK_DGRAM) {
			printf(",\"late\":%" PRIu64 ",\"lost_seq\":[", tg->late);
			for (unsigned j = 0; j < tg->n_lost; j++)
				printf("%s[%" PRIu64 ",%" PRIu64 ",%.3f,%.3f]", j ? "," : "", tg->lost[j].lo,
				       tg->lost[j].hi, ms((double)tg->lost[j].t_lo), ms((double)tg->lost[j].t_hi));
			printf("],\"lost_more\":%" PRIu64, tg->lost_more);
		} else {
			printf(",\"retries\":%" PRIu64 ",\"held\":{\"conns\":%d,\"opened\":%" PRIu64
			       ",\"echoes\":%" PRIu64 ",\"closed\":%" PRIu64 ",\"cut\":%" PRIu64
			       ",\"reset\":%" PRIu64 ",\"timeout\":%" PRIu64 ",\"wrong\":%" PRIu64
			       ",\"refused\":%" PRIu64 ",\"error\":%" PRIu64 ",\"wait_max_ms\":%.3f}",
			       tg->retries, o.held, h->opened, h->echoes, h->closed, h->cut, h->reset,
			       h->timeout, h->wrong, h->refused, h->error, ms((double)h->max_wait));
		}
		printf(",\"window\":{\"count\":%u,\"secs\":%.3f,", n, total);
		json_tally(tg, &tg->win);
		printf("},\"marks_ms\":[");
		for (unsigned j = 0; j < n; j++)
			printf("%s[%.3f,%.3f]", j ? "," : "", ms((double)(b[j] - t_begin)),
			       ms((double)(e[j] - t_begin)));
		printf("],\"pass\":%s}\n", target_ok(tg) ? "true" : "false");
	}
}

/* ---- main */

static double
num(const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		usage();
	return v;
}

int
main(int argc, char **argv)
{
	sigset_t set;
	struct rlimit rl;
	uint64_t t_end;
	int c;

	/* Before anything else: a restart script may signal us early. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	while ((c = getopt(argc, argv, "r:d:H:i:t:jq")) != -1) {
		switch (c) {
		case 'r':
			o.rate = (long)num(optarg, 1, 10000);
			break;
		case 'd':
			o.secs = num(optarg, 0.1, 86400);
			break;
		case 'H':
			o.held = (int)num(optarg, 0, MAX_HELD);
			break;
		case 'i':
			o.interval_ns = (uint64_t)(num(optarg, 10, 60000) * 1e6);
			break;
		case 't':
			o.timeout_ns = (uint64_t)(num(optarg, 10, 60000) * 1e6);
			break;
		case 'j':
			o.json = true;
			break;
		case 'q':
			o.quiet = true;
			break;
		default:
			usage();
		}
	}
	if (optind == argc || argc - optind > MAX_TARGETS)
		usage();
	for (int i = optind; i < argc; i++) {
		struct target *tg = &targets[n_targets];

		tg->idx = n_targets++;
		if (bench_addr_parse(argv[i], &tg->addr) < 0) {
			fprintf(stderr, "restart_probe: bad target '%s'\n", argv[i]);
			usage();
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	t_begin = now_ns();
	t_stop = t_begin + (uint64_t)(o.secs * 1e9);
	run_id = (uint32_t)(t_begin ^ ((uint64_t)getpid() << 16));
	for (int i = 0; i < n_targets; i++)
		if ((errno = pthread_create(&targets[i].tid, NULL, thread_main, &targets[i])) != 0)
			die("pthread_create: %s", strerror(errno));
	note("running: %d targets, %ld/s each, %.1f s", n_targets, o.rate, o.secs);

	/* The threads end by themselves; their last attempts time out at
	 * t_stop + timeout. The margin only guards against a bug. */
	while (atomic_load(&threads_done) < n_targets) {
		struct timespec ts = { 0, 100000000 };
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig == SIGUSR1 || sig == SIGUSR2)
			mark(sig);
		else if (sig == SIGINT || sig == SIGTERM)
			atomic_store(&stop_now, true);
		if (now_ns() > t_stop + o.timeout_ns + 60000000000ULL)
			die("the targets' threads did not end");
	}
	for (int i = 0; i < n_targets; i++)
		pthread_join(targets[i].tid, NULL);
	t_end = now_ns();

	if (o.json)
		print_json(t_end);
	else
		print_table(t_end);
	fflush(stdout);
	return all_ok() ? 0 : EXIT_FAIL;
}
