/* ref_server: the reference of the sockd benchmark suite.
 *
 * The least a server can do and still be an echo/discard/daytime/time
 * server: one epoll loop per thread, no limits, no timers, no access
 * control, no logging, no handoff between threads. TCP and UDP listeners are
 * bound once per thread with SO_REUSEPORT, so the kernel spreads clients over
 * the threads; a Unix listener is shared with EPOLLEXCLUSIVE. UDP echo uses
 * one recvfrom/sendto per datagram, as a simple server would. It is the
 * practical limit of this kernel on this core, and sockd is measured as a
 * ratio to it.
 *
 * "forward" is the same for a TCP proxy, the floor of the forward group:
 * one thread accepts, connects to the upstream and copies both ways with
 * recv/send, each socket registered once (edge-triggered), and the first
 * EOF or error on either side closes both: no half-close, no splice, no
 * fairness budget, no timeouts, no logging. No real proxy can be cheaper
 * per connection or per message.
 *
 *   ref_server [-t THREADS] [-r ROUNDS] SERVICE=ADDR...
 *     SERVICE: echo | discard | daytime | time | forward
 *     ADDR:    tcp:HOST:PORT | udp:HOST:PORT | unix:/path   (udp: echo only)
 *              forward: LISTEN-ADDR,UPSTREAM-ADDR (both stream)
 *     THREADS: default one per CPU it may run on
 *     ROUNDS:  echo/discard reads per wakeup (default 4, as sockd)
 *
 * It prints "ref_server: ready" on stderr once every socket is bound and
 * runs until killed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_SPECS       32
#define MAX_THREADS     64
#define BUF_SIZE        (64 * 1024)
#define ACCEPT_BATCH    64
#define BACKLOG         4096

enum svc { S_ECHO, S_DISCARD, S_DAYTIME, S_TIME, S_FORWARD };
enum kind { K_LISTEN, K_UDP, K_CONN, K_PEER };

struct addr {
	int family;
	int socktype;
	socklen_t len;
	struct sockaddr_storage sa;
};

struct spec {
	enum svc svc;
	struct addr a;
	struct addr up;         /* forward: where to */
	int shared_fd;          /* Unix listeners: one fd for all threads */
};

/* What an epoll event points at; a connection embeds it first. */
struct obj {
	enum kind kind;
	enum svc svc;
	int fd;
	const struct spec *spec;        /* listeners */
};

struct conn {
	struct obj obj;
	uint8_t *pend;          /* echo output the socket did not take yet */
	size_t pend_len, pend_off;
};

/* forward: a client and its upstream. Side 0 is the client, 1 the
 * upstream; pend[d] holds what was read from side d and not yet taken by
 * the other side. rd/wr: what epoll last said, until a syscall disagrees. */
struct peer {
	struct obj obj;         /* kind K_PEER */
	struct pair *p;
	int side;
};

struct pair {
	struct peer s[2];
	bool rd[2], wr[2], eof[2];      /* eof: EPOLLRDHUP/HUP seen: read to the end */
	bool connected, closed;
	uint8_t *pend[2];
	size_t pend_len[2], pend_off[2];
	struct pair *next_dead;
};

struct thr {
	pthread_t tid;
	int ep;
	struct pair *dead;      /* closed pairs, freed after the batch */
	uint8_t buf[BUF_SIZE];
	time_t day_sec;         /* the daytime line of this second, kept */
	char day[80];
	size_t day_len;
};

static struct spec specs[MAX_SPECS];
static int nspecs;
static int arg_rounds = 4;      /* -r: reads per wakeup after a short one */

static void __attribute__((noreturn))
die(const char *what)
{
	fprintf(stderr, "ref_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void __attribute__((noreturn))
usage(void)
{
	fputs("usage: ref_server [-t THREADS] [-r ROUNDS] SERVICE=ADDR...\n"
	      "  SERVICE: echo | discard | daytime | time | forward\n"
	      "  ADDR: tcp:HOST:PORT | udp:HOST:PORT | unix:/path\n"
	      "        forward: LISTEN-ADDR,UPSTREAM-ADDR\n", stderr);
	exit(2);
}

/* ADDR (up to end) into a; stream only unless dgram_ok. */
static int
parse_addr(const char *a, const char *end, struct addr *ad, bool dgram_ok)
{
	char text[256], host[128];
	const char *colon;
	size_t len = (size_t)(end - a);

	memset(ad, 0, sizeof(*ad));
	if (len >= sizeof(text))
		return -1;
	memcpy(text, a, len);
	text[len] = '\0';
	a = text;
	if (strncmp(a, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ad->sa;
		size_t n = strlen(a + 5);

		if (n == 0 || n >= sizeof(un->sun_path))
			return -1;
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, a + 5, n);
		ad->family = AF_UNIX;
		ad->socktype = SOCK_STREAM;
		ad->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
		return 0;
	}
	if (strncmp(a, "tcp:", 4) == 0)
		ad->socktype = SOCK_STREAM;
	else if (strncmp(a, "udp:", 4) == 0 && dgram_ok)
		ad->socktype = SOCK_DGRAM;
	else
		return -1;
	a += 4;
	if (*a == '[') {
		const char *close_br = strchr(a, ']');

		if (!close_br || close_br[1] != ':' || (size_t)(close_br - a - 1) >= sizeof(host))
			return -1;
		memcpy(host, a + 1, (size_t)(close_br - a - 1));
		host[close_br - a - 1] = '\0';
		colon = close_br + 1;
	} else {
		colon = strrchr(a, ':');
		if (!colon || (size_t)(colon - a) >= sizeof(host))
			return -1;
		memcpy(host, a, (size_t)(colon - a));
		host[colon - a] = '\0';
	}
	int port = atoi(colon + 1);

	if (port <= 0 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&ad->sa)->sin_addr) == 1) {
		((struct sockaddr_in *)&ad->sa)->sin_family = AF_INET;
		((struct sockaddr_in *)&ad->sa)->sin_port = htons((uint16_t)port);
		ad->family = AF_INET;
		ad->len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&ad->sa)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ad->sa)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ad->sa)->sin6_port = htons((uint16_t)port);
		ad->family = AF_INET6;
		ad->len = sizeof(struct sockaddr_in6);
	} else {
		return -1;
	}
	return 0;
}

static int
parse_spec(const char *arg, struct spec *s)
{
	static const char *const names[] = { "echo", "discard", "daytime", "time", "forward" };
	const char *eq = strchr(arg, '='), *a, *comma;

	memset(s, 0, sizeof(*s));
	s->shared_fd = -1;
	if (!eq)
		return -1;
	for (s->svc = S_ECHO; s->svc <= S_FORWARD; s->svc++)
		if ((size_t)(eq - arg) == strlen(names[s->svc]) && strncmp(arg, names[s->svc], (size_t)(eq - arg)) == 0)
			break;
	if (s->svc > S_FORWARD)
		return -1;
	a = eq + 1;
	if (s->svc != S_FORWARD)
		return parse_addr(a, a + strlen(a), &s->a, s->svc == S_ECHO);
	comma = strchr(a, ',');
	if (!comma)
		return -1;
	if (parse_addr(a, comma, &s->a, false) < 0)
		return -1;
	return parse_addr(comma + 1, comma + 1 + strlen(comma + 1), &s->up, false);
}

static int
bind_spec(const struct spec *s)
{
	int fd, one = 1;

	fd = socket(s->a.family, s->a.socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		die("socket");
	if (s->a.family == AF_UNIX) {
		unlink(((const struct sockaddr_un *)&s->a.sa)->sun_path);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&s->a.sa, s->a.len) == -1)
		die("bind");
	if (s->a.socktype == SOCK_STREAM && listen(fd, BACKLOG) == -1)
		die("listen");
	return fd;
}

static void
watch(struct thr *t, struct obj *ob, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.ptr = ob };

	if (epoll_ctl(t->ep, op, ob->fd, &ev) == -1)
		die("epoll_ctl");
}

static void
conn_close(struct conn *c)
{
	close(c->obj.fd);
	free(c->pend);
	free(c);
}

/* Send what echo has pending; true when all of it is gone. */
static bool
flush(struct conn *c)
{
	while (c->pend_off < c->pend_len) {
		ssize_t n = write(c->obj.fd, c->pend + c->pend_off, c->pend_len - c->pend_off);

		if (n < 0)
			return false;
		c->pend_off += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	c->pend_len = c->pend_off = 0;
	return true;
}

static void
on_conn(struct thr *t, struct conn *c, uint32_t events)
{
	ssize_t n, w;
	int rounds = 0;

	if (c->pend) {
		if (!flush(c)) {
			if (errno != EAGAIN)
				conn_close(c);
			return;
		}
		watch(t, &c->obj, EPOLLIN, EPOLL_CTL_MOD);
	}
	for (;;) {
		n = read(c->obj.fd, t->buf, BUF_SIZE);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN)
				return;
			/* EOF or error: nothing is pending (reads stop while
			 * output waits), so the echo is complete. */
			conn_close(c);
			return;
		}
		if (c->obj.svc == S_DISCARD) {
			if (n < BUF_SIZE)
				return;
			continue;
		}
		w = write(c->obj.fd, t->buf, (size_t)n);
		if (w < 0) {
			if (errno != EAGAIN) {
				conn_close(c);
				return;
			}
			w = 0;
		}
		if (w < n) {
			c->pend = malloc((size_t)(n - w));
			if (!c->pend) {
				conn_close(c);
				return;
			}
			memcpy(c->pend, t->buf + w, (size_t)(n - w));
			c->pend_len = (size_t)(n - w);
			c->pend_off = 0;
			watch(t, &c->obj, EPOLLOUT, EPOLL_CTL_MOD);
			return;
		}
		/* A short read usually means the socket is drained, but on
		 * loopback the client's next message often arrives while our
		 * write returns: reading again saves an epoll round. Bounded,
		 * so one busy client cannot starve the others. */
		if (n < BUF_SIZE && ++rounds >= arg_rounds)
			return;
	}
}

/* ---- forward */

static void
pair_close(struct thr *t, struct pair *p)
{
	if (p->closed)
		return;
	p->closed = true;
	close(p->s[0].obj.fd);
	close(p->s[1].obj.fd);
	p->next_dead = t->dead;
	t->dead = p;
}

/* Move what side d has to the other side, as far as rd/wr allow. False
 * when the pair is done (EOF or error on either side). */
static bool
pump(struct thr *t, struct pair *p, int d)
{
	int src = p->s[d].obj.fd, dst = p->s[!d].obj.fd;

	for (;;) {
		ssize_t n, w;

		while (p->pend[d]) {
			if (!p->wr[!d])
				return true;
			w = send(dst, p->pend[d] + p->pend_off[d], p->pend_len[d] - p->pend_off[d],
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0) {
				if (errno != EAGAIN)
					return false;
				p->wr[!d] = false;
				return true;
			}
			p->pend_off[d] += (size_t)w;
			if (p->pend_off[d] == p->pend_len[d]) {
				free(p->pend[d]);
				p->pend[d] = NULL;
			}
		}
		if (!p->rd[d])
			return true;
		n = recv(src, t->buf, BUF_SIZE, MSG_DONTWAIT);
		if (n <= 0) {
			if (n < 0 && errno == EAGAIN) {
				p->rd[d] = false;
				return true;
			}
			return false;
		}
		w = send(dst, t->buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno != EAGAIN)
				return false;
			w = 0;
		}
		if (w < n) {
			p->pend[d] = malloc((size_t)(n - w));
			if (!p->pend[d])
				return false;
			memcpy(p->pend[d], t->buf + w, (size_t)(n - w));
			p->pend_len[d] = (size_t)(n - w);
			p->pend_off[d] = 0;
			p->wr[!d] = false;
		}
		/* A short read emptied the socket, unless EOF is behind it. */
		if (n < BUF_SIZE && !p->eof[d])
			p->rd[d] = false;
	}
}

static void
on_peer(struct thr *t, struct peer *pe, uint32_t events)
{
	struct pair *p = pe->p;
	int d = pe->side;

	if (p->closed)
		return;
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		p->rd[d] = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		p->wr[d] = true;
	if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		p->eof[d] = true;
	if (!p->connected) {
		if (d == 0)
			return;         /* remembered until the upstream is there */
		if (events & (EPOLLERR | EPOLLHUP)) {
			pair_close(t, p);
			return;
		}
		p->connected = true;
	}
	if (!pump(t, p, 0) || !pump(t, p, 1))
		pair_close(t, p);
}

static void
forward_accepted(struct thr *t, int fd, const struct spec *sp)
{
	struct pair *p = calloc(1, sizeof(*p));
	int up;

	if (!p) {
		close(fd);
		return;
	}
	up = socket(sp->up.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (up == -1 || (connect(up, (const struct sockaddr *)&sp->up.sa, sp->up.len) == -1 &&
			 errno != EINPROGRESS)) {
		if (up != -1)
			close(up);
		close(fd);
		free(p);
		return;
	}
	for (int d = 0; d < 2; d++) {
		p->s[d].obj.kind = K_PEER;
		p->s[d].obj.fd = d == 0 ? fd : up;
		p->s[d].p = p;
		p->s[d].side = d;
		/* Once, for good: edge-triggered, both directions. */
		watch(t, &p->s[d].obj, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, EPOLL_CTL_ADD);
	}
}

static void
daytime_line(struct thr *t)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now == t->day_sec && t->day_len)
		return;
	localtime_r(&now, &tm);
	t->day_len = strftime(t->day, sizeof(t->day) - 2, "%A, %B %d, %Y %H:%M:%S-%Z", &tm);
	memcpy(t->day + t->day_len, "\r\n", 2);
	t->day_len += 2;
	t->day_sec = now;
}

static void
on_listen(struct thr *t, struct obj *l)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1)
			return;
		if (l->svc == S_FORWARD) {
			forward_accepted(t, fd, l->spec);
			continue;
		}
		if (l->svc == S_DAYTIME || l->svc == S_TIME) {
			/* One write into an empty socket buffer, then close: no
			 * reason to involve epoll. */
			if (l->svc == S_DAYTIME) {
				daytime_line(t);
				if (write(fd, t->day, t->day_len) < 0) {
					/* the client is gone already */
				}
			} else {
				uint32_t v = htonl((uint32_t)((uint64_t)time(NULL) + 2208988800ULL));

				if (write(fd, &v, 4) < 0) {
					/* the client is gone already */
				}
			}
			close(fd);
			continue;
		}
		struct conn *c = calloc(1, sizeof(*c));

		if (!c) {
			close(fd);
			continue;
		}
		c->obj.kind = K_CONN;
		c->obj.svc = l->svc;
		c->obj.fd = fd;
		watch(t, &c->obj, EPOLLIN, EPOLL_CTL_ADD);
	}
}

static void
on_udp(struct thr *t, struct obj *u)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(u->fd, t->buf, BUF_SIZE, 0, (struct sockaddr *)&from, &flen);

		if (n < 0)
			return;
		if (sendto(u->fd, t->buf, (size_t)n, 0, (struct sockaddr *)&from, flen) < 0) {
			/* dropped, as UDP may */
		}
	}
}

static void *
run(void *arg)
{
	struct thr *t = arg;
	struct epoll_event evs[256];

	for (;;) {
		int n = epoll_wait(t->ep, evs, 256, -1);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct obj *ob = evs[i].data.ptr;

			switch (ob->kind) {
			case K_LISTEN:
				on_listen(t, ob);
				break;
			case K_UDP:
				on_udp(t, ob);
				break;
			case K_CONN:
				on_conn(t, (struct conn *)ob, evs[i].events);
				break;
			case K_PEER:
				on_peer(t, (struct peer *)ob, evs[i].events);
				break;
			}
		}
		while (t->dead) {
			struct pair *p = t->dead;

			t->dead = p->next_dead;
			free(p->pend[0]);
			free(p->pend[1]);
			free(p);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct thr *thr;
	struct rlimit rl;
	cpu_set_t cpus;
	int nthreads = 0, c;

	while ((c = getopt(argc, argv, "t:r:")) != -1) {
		if (c == 't') {
			nthreads = atoi(optarg);
			if (nthreads < 1 || nthreads > MAX_THREADS)
				usage();
		} else if (c == 'r') {
			arg_rounds = atoi(optarg);
			if (arg_rounds < 1 || arg_rounds > 1024)
				usage();
		} else {
			usage();
		}
	}
	if (optind == argc)
		usage();
	for (int i = optind; i < argc; i++) {
		if (nspecs == MAX_SPECS || parse_spec(argv[i], &specs[nspecs]) < 0)
			usage();
		nspecs++;
	}
	if (nthreads == 0) {
		nthreads = 1;
		if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
			nthreads = CPU_COUNT(&cpus);
		if (nthreads > MAX_THREADS)
			nthreads = MAX_THREADS;
	}
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	thr = calloc((size_t)nthreads, sizeof(*thr));
	if (!thr)
		die("calloc");
	for (int i = 0; i < nspecs; i++)
		if (specs[i].a.family == AF_UNIX)
			specs[i].shared_fd = bind_spec(&specs[i]);
	for (int i = 0; i < nthreads; i++) {
		thr[i].ep = epoll_create1(EPOLL_CLOEXEC);
		if (thr[i].ep == -1)
			die("epoll_create1");
		for (int j = 0; j < nspecs; j++) {
			struct obj *ob = calloc(1, sizeof(*ob));

			if (!ob)
				die("calloc");
			ob->svc = specs[j].svc;
			ob->spec = &specs[j];
			ob->kind = specs[j].a.socktype == SOCK_DGRAM ? K_UDP : K_LISTEN;
			ob->fd = specs[j].shared_fd >= 0 ? specs[j].shared_fd : bind_spec(&specs[j]);
			watch(&thr[i], ob, EPOLLIN | (specs[j].shared_fd >= 0 ? EPOLLEXCLUSIVE : 0),
			      EPOLL_CTL_ADD);
		}
	}
	fprintf(stderr, "ref_server: ready (%d threads)\n", nthreads);
	for (int i = 1; i < nthreads; i++)
		if (pthread_create(&thr[i].tid, NULL, run, &thr[i]) != 0)
			die("pthread_create");
	run(&thr[0]);
	return 0;
}
