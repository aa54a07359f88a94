/* stress: the load and hostile-client generator of the sockd robustness
 * tests (21-26) and of the soak (tests/soak/run).
 *
 * Standalone, like tclient: nothing from src/, so a bug in sockd cannot be
 * mirrored here and cancel itself out. Every loop is bounded by a count or
 * a deadline (-t). Exit codes: 0 ok, 1 a verification or I/O failure (a
 * message on stderr, the summary line on stdout), 2 usage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
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

#define EXIT_VERIFY     1
#define EXIT_USAGE      2

/* Non-blocking connects in flight at once: more only overflows the listen
 * backlog and turns into SYN retransmits of a second or more. */
#define MAX_CONNECTING  256
#define MAX_MSG         (1 << 20)

struct taddr {
	const char *text;
	int family;
	int socktype;
	socklen_t len;
	struct sockaddr_storage sa;
};

struct opts {
	struct taddr addr;
	bool have_addr;
	const char *bind_host;          /* -B: local IP address for clients */
	long conns;                     /* -c */
	long n;                         /* -n */
	long max_size;                  /* -S */
	long size;                      /* -s */
	long rounds;                    /* -r: round trips per connection, 0 = no limit */
	long long bytes;                /* -b */
	double timeout;                 /* -t: the whole run */
	double stall;                   /* -T */
	double interval;                /* -i */
	double wait;                    /* -w */
	double duration;                /* -d */
	double rate;                    /* -R */
	const char *stop_file;          /* -u */
	const char *ports;              /* -p */
	const char *header_hex;         /* -H */
	const char *cut_mode;           /* -m */
	unsigned long long seed;        /* -x */
	int rcvbuf;                     /* -k */
	bool verbose;                   /* -v */
	bool control;                   /* -C */
};

static const char *mode = "stress";
static uint64_t seed_base;
static int sock_buf;                    /* -k: SO_SNDBUF and SO_RCVBUF of clients */
static volatile sig_atomic_t got_term;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "stress %s: ", mode);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_VERIFY);
}

static const char usage_text[] =
	"usage: stress MODE [options]\n"
	"  echo-rand    -a ADDR -c CONNS [-n ROUNDTRIPS] [-S MAXSIZE] [-r PERCONN] [-R PERSEC]\n"
	"               [-u STOPFILE] [-T STALLSECS] [-t SECS] [-x SEED]\n"
	"  latency      -a ADDR -n SAMPLES [-s SIZE] [-i SECS] [-t SECS]\n"
	"  noread-many  -a ADDR -n CONNS [-b BYTES] [-k SOCKBUF] [-t SECS]\n"
	"  slowloris    -a ADDR -n CONNS [-i SECS] [-B IP] [-u STOPFILE] [-v] [-t SECS]\n"
	"  udp-flood    -a ADDR -p PORT,PORT,... [-B IP] [-s SIZE] [-R PERSEC] [-d SECS] [-w SECS]\n"
	"  proxy-cut    -a ADDR -H HEX -m open|shut [-T SECS] [-C] [-t SECS]\n"
	"  churn        -a ADDR -c CONNS -u STOPFILE [-t SECS]\n"
	"  listen-noread -a tcp:IP:PORT [-k RCVBUF] [-t SECS]\n"
	"  push         -a ADDR [-b MAXBYTES] [-w STALLSECS] [-t SECS]\n"
	"ADDR: tcp:IPv4:PORT, tcp:[IPv6]:PORT, udp:..., unix:/path, unix:@name\n";

static void
usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "stress %s: ", mode);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_text);
	exit(EXIT_USAGE);
}

/* ---------------------------------------------------------------- time */

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
ms_until(double deadline, int cap_ms)
{
	double left = deadline - now();

	if (left <= 0)
		return 0;
	if (left * 1000 > cap_ms)
		return cap_ms;
	return (int)(left * 1000) + 1;
}

static void
sleep_secs(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !got_term)
		;
}

/* ---------------------------------------------------------------- random */

/* splitmix64: every connection gets its own stream from seed_base. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t
rng_below(uint64_t *s, uint64_t n)
{
	return rng_next(s) % n;
}

static void
rng_fill(uint64_t *s, uint8_t *buf, size_t len)
{
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t v = rng_next(s);

		memcpy(buf + i, &v, 8);
	}
	if (i < len) {
		uint64_t v = rng_next(s);

		memcpy(buf + i, &v, len - i);
	}
}

/* ---------------------------------------------------------------- addresses */

static int
parse_ip_port(const char *s, struct taddr *a)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s, *end;
	size_t hlen;
	char *ep;
	long port;

	if (*s == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -1;
		s++;
		hlen = (size_t)(end - s);
		port_s = end + 2;
	} else {
		end = strrchr(s, ':');
		if (!end)
			return -1;
		hlen = (size_t)(end - s);
		port_s = end + 1;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(port_s, &ep, 10);
	if (*port_s == '\0' || *ep != '\0' || errno || port < 0 || port > 65535)
		return -1;
	memset(&a->sa, 0, sizeof(a->sa));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&a->sa)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		a->family = AF_INET;
		a->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&a->sa)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		a->family = AF_INET6;
		a->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

static int
parse_unix(const char *s, struct taddr *a)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa;
	size_t n = strlen(s);

	memset(&a->sa, 0, sizeof(a->sa));
	sun->sun_family = AF_UNIX;
	a->family = AF_UNIX;
	if (n < 2 || n >= sizeof(sun->sun_path))
		return -1;
	if (s[0] == '@') {
		memcpy(sun->sun_path + 1, s + 1, n - 1);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		memcpy(sun->sun_path, s, n);
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

static int
parse_addr(const char *text, struct taddr *a)
{
	a->text = text;
	if (strncmp(text, "tcp:", 4) == 0) {
		a->socktype = SOCK_STREAM;
		return parse_ip_port(text + 4, a);
	}
	if (strncmp(text, "udp:", 4) == 0) {
		a->socktype = SOCK_DGRAM;
		return parse_ip_port(text + 4, a);
	}
	if (strncmp(text, "unix:", 5) == 0) {
		a->socktype = SOCK_STREAM;
		return parse_unix(text + 5, a);
	}
	return -1;
}

/* The local address for -B IP (port 0: the kernel picks one). */
static void
bind_host(int fd, const struct taddr *dst, const char *host, unsigned port)
{
	struct taddr b;
	char text[INET6_ADDRSTRLEN + 16];
	int one = 1;

	if (dst->family == AF_UNIX)
		usage("-B makes no sense for %s", dst->text);
	snprintf(text, sizeof(text), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	if (parse_ip_port(text, &b) < 0 || b.family != dst->family)
		usage("bad -B address '%s' for %s", host, dst->text);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&b.sa, b.len) == -1)
		die("bind %s: %s", text, strerror(errno));
}

/* ---------------------------------------------------------------- sockets */

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Start a non-blocking connect. Returns the fd (connected or in progress),
 * or -errno when the connect failed at once (EAGAIN: a full Unix backlog). */
static int
connect_start(const struct taddr *a, const char *host)
{
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r;

	if (fd == -1)
		die("socket: %s", strerror(errno));
	/* Before connect: the window is agreed on in the handshake. */
	if (sock_buf) {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sock_buf, sizeof(sock_buf));
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sock_buf, sizeof(sock_buf));
	}
	if (host)
		bind_host(fd, a, host, 0);
	if (connect(fd, (struct sockaddr *)&a->sa, a->len) == 0 || errno == EINPROGRESS)
		return fd;
	r = -errno;
	close(fd);
	return r;
}

static int
sock_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return errno;
	return err;
}

static short
wait_fd(int fd, short events, double deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int r = poll(&p, 1, ms_until(deadline, 3600 * 1000));

		if (r > 0)
			return p.revents;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			die("poll: %s", strerror(errno));
	}
}

/* Connect and wait; -errno on failure. A full Unix backlog is retried. */
static int
connect_wait(const struct taddr *a, const char *host, double deadline)
{
	for (;;) {
		int fd = connect_start(a, host), err;

		if (fd == -EAGAIN && a->family == AF_UNIX && now() < deadline) {
			sleep_secs(0.005);
			continue;
		}
		if (fd < 0)
			return fd;
		if (!(wait_fd(fd, POLLOUT, deadline) & (POLLOUT | POLLERR | POLLHUP))) {
			close(fd);
			return -ETIMEDOUT;
		}
		err = sock_error(fd);
		if (err) {
			close(fd);
			return -err;
		}
		return fd;
	}
}

static void
set_linger0(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static bool
stop_requested(const struct opts *o)
{
	struct stat st;

	return got_term || (o->stop_file && stat(o->stop_file, &st) == 0);
}

/* ---------------------------------------------------------------- options */

static long
num_arg(char opt, const char *s, long min)
{
	char *ep;
	long v;

	errno = 0;
	v = strtol(s, &ep, 10);
	if (*s == '\0' || *ep != '\0' || errno || v < min)
		usage("-%c: bad number '%s'", opt, s);
	return v;
}

static double
secs_arg(char opt, const char *s)
{
	char *ep;
	double v;

	errno = 0;
	v = strtod(s, &ep);
	if (*s == '\0' || *ep != '\0' || errno || v < 0)
		usage("-%c: bad number of seconds '%s'", opt, s);
	return v;
}

static void
parse_opts(int argc, char **argv, const char *allowed, struct opts *o)
{
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "a:B:c:n:S:s:r:b:t:T:i:w:d:R:u:p:H:m:x:k:vC")) != -1) {
		if (ch == '?' || !strchr(allowed, ch))
			usage("option -%c is not for this mode", ch == '?' ? optopt : ch);
		switch (ch) {
		case 'a':
			if (parse_addr(optarg, &o->addr) < 0)
				usage("bad address '%s'", optarg);
			o->have_addr = true;
			break;
		case 'B': o->bind_host = optarg; break;
		case 'c': o->conns = num_arg('c', optarg, 1); break;
		case 'n': o->n = num_arg('n', optarg, 0); break;
		case 'S': o->max_size = num_arg('S', optarg, 1); break;
		case 's': o->size = num_arg('s', optarg, 1); break;
		case 'r': o->rounds = num_arg('r', optarg, 0); break;
		case 'b': o->bytes = num_arg('b', optarg, 0); break;
		case 't': o->timeout = secs_arg('t', optarg); break;
		case 'T': o->stall = secs_arg('T', optarg); break;
		case 'i': o->interval = secs_arg('i', optarg); break;
		case 'w': o->wait = secs_arg('w', optarg); break;
		case 'd': o->duration = secs_arg('d', optarg); break;
		case 'R': o->rate = secs_arg('R', optarg); break;
		case 'u': o->stop_file = optarg; break;
		case 'p': o->ports = optarg; break;
		case 'H': o->header_hex = optarg; break;
		case 'm': o->cut_mode = optarg; break;
		case 'x': o->seed = (unsigned long long)num_arg('x', optarg, 0); break;
		case 'k': o->rcvbuf = sock_buf = (int)num_arg('k', optarg, 1); break;
		case 'v': o->verbose = true; break;
		case 'C': o->control = true; break;
		}
	}
	if (optind < argc)
		usage("stray argument '%s'", argv[optind]);
	if (!o->have_addr)
		usage("-a ADDR is required");
	if (o->seed)
		seed_base = o->seed;
}

static void
need_stream(const struct opts *o)
{
	if (o->addr.socktype != SOCK_STREAM)
		usage("%s needs a stream address", o->addr.text);
}

/* ---------------------------------------------------------------- echo-rand */

/* Round trips of random sizes on many connections at once, each message
 * random bytes that must come back exactly: one message in flight per
 * connection, so any byte lost, added, changed or out of order shows as a
 * mismatch; each connection ends with a half-close and must then see EOF
 * with nothing more. */

enum estate { E_IDLE, E_CONNECTING, E_RUN, E_SHUT };

struct econn {
	int fd;
	enum estate state;
	uint64_t rng;                   /* this connection's data and sizes */
	uint8_t *msg;
	size_t len, sent, got;
	long rounds;
	double progress;                /* last byte moved */
	uint32_t armed;
	bool paced;                     /* waiting for its turn under -R */
};

struct erun {
	const struct opts *o;
	int epfd;
	struct econn *c;
	long target;                    /* round trips to start in all; 0 = until stopped */
	long started, done;
	long connecting;
	double t0;                      /* for -R */
	unsigned long long bytes;
	unsigned long connections, refused, reset, corrupt, stalled;
	bool stopping;
	uint8_t *rbuf;
};

static void
e_arm(struct erun *r, struct econn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.u64 = (uint64_t)(c - r->c) };

	if (ev == c->armed)
		return;
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
	c->armed = ev;
}

static void
e_close(struct erun *r, struct econn *c)
{
	if (c->state == E_CONNECTING)
		r->connecting--;
	close(c->fd);
	c->fd = -1;
	c->state = E_IDLE;
}

static void e_next(struct erun *r, struct econn *c);

static void
e_connect(struct erun *r, struct econn *c)
{
	struct epoll_event e = { .events = EPOLLOUT, .data.u64 = (uint64_t)(c - r->c) };
	int fd;

	if (r->stopping || (r->target && r->started >= r->target))
		return;
	fd = connect_start(&r->o->addr, r->o->bind_host);
	if (fd < 0) {
		if (fd == -EAGAIN)
			return;         /* a full Unix backlog: tried again later */
		r->refused++;
		fprintf(stderr, "stress echo-rand: connect: %s\n", strerror(-fd));
		sleep_secs(0.01);       /* no busy loop of refusals */
		return;
	}
	c->fd = fd;
	c->state = E_CONNECTING;
	c->armed = EPOLLOUT;
	c->rounds = 0;
	c->progress = now();
	r->connecting++;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
}

/* Start the next message, or half-close when this connection is done. */
static void
e_next(struct erun *r, struct econn *c)
{
	const struct opts *o = r->o;

	if (r->stopping || (r->target && r->started >= r->target) ||
	    (o->rounds && c->rounds >= o->rounds)) {
		shutdown(c->fd, SHUT_WR);
		c->state = E_SHUT;
		e_arm(r, c, EPOLLIN);
		return;
	}
	if (o->rate > 0 && (double)r->started >= o->rate * (now() - r->t0)) {
		/* Over the rate: the main loop starts it later. Reading stays
		 * on, so that a stray byte from the server still shows. */
		c->paced = true;
		c->len = c->sent = c->got = 0;
		e_arm(r, c, EPOLLIN);
		return;
	}
	c->paced = false;
	r->started++;
	c->len = 1 + (size_t)rng_below(&c->rng, (uint64_t)o->max_size);
	c->sent = c->got = 0;
	rng_fill(&c->rng, c->msg, c->len);
	e_arm(r, c, EPOLLIN | EPOLLOUT);
}

static void
e_fail(struct erun *r, struct econn *c, unsigned long *counter, const char *what, int err)
{
	(*counter)++;
	fprintf(stderr, "stress echo-rand: connection %ld: %s%s%s (round %ld, %zu of %zu bytes back)\n",
		(long)(c - r->c), what, err ? ": " : "", err ? strerror(err) : "", c->rounds, c->got, c->len);
	e_close(r, c);
}

static void
e_io(struct erun *r, struct econn *c, uint32_t events)
{
	if (c->state == E_CONNECTING) {
		int err = sock_error(c->fd);

		if (err) {
			e_fail(r, c, &r->refused, "connect", err);
			return;
		}
		r->connecting--;
		r->connections++;
		c->state = E_RUN;
		c->progress = now();
		e_next(r, c);
		return;
	}
	if ((events & EPOLLOUT) && c->state == E_RUN && c->sent < c->len) {
		ssize_t n = send(c->fd, c->msg + c->sent, c->len - c->sent, MSG_NOSIGNAL);

		if (n > 0) {
			c->sent += (size_t)n;
			c->progress = now();
			if (c->sent == c->len)
				e_arm(r, c, EPOLLIN);
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			e_fail(r, c, &r->reset, "send", errno);
			return;
		}
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (int i = 0; i < 4; i++) {
			ssize_t n = recv(c->fd, r->rbuf, MAX_MSG, 0);

			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n == -1) {
				e_fail(r, c, &r->reset, "recv", errno);
				return;
			}
			if (n == 0) {
				if (c->state == E_SHUT) {
					e_close(r, c);
					e_connect(r, c);
				} else {
					e_fail(r, c, &r->reset, "EOF before the whole echo", 0);
				}
				return;
			}
			if (c->state == E_SHUT || (size_t)n > c->sent - c->got) {
				e_fail(r, c, &r->corrupt, "more bytes came back than were sent", 0);
				return;
			}
			if (memcmp(r->rbuf, c->msg + c->got, (size_t)n) != 0) {
				size_t k = 0;

				while (r->rbuf[k] == c->msg[c->got + k])
					k++;
				fprintf(stderr, "stress echo-rand: byte %zu of a %zu-byte message: sent 0x%02x, got 0x%02x\n",
					c->got + k, c->len, c->msg[c->got + k], r->rbuf[k]);
				e_fail(r, c, &r->corrupt, "corrupted echo", 0);
				return;
			}
			c->got += (size_t)n;
			r->bytes += (unsigned long long)n;
			c->progress = now();
			if (c->got == c->len) {
				c->rounds++;
				r->done++;
				e_next(r, c);
				return;
			}
		}
	}
}

static int
mode_echo_rand(int argc, char **argv)
{
	struct opts o = { .conns = 100, .max_size = 65536, .timeout = 600, .stall = 30 };
	bool paced = false;
	struct epoll_event ev[256];
	struct erun r = { .o = &o };
	double start, deadline, last_check = 0;
	long active;

	parse_opts(argc, argv, "aBcnSrRtTuvx", &o);
	need_stream(&o);
	if (o.n == 0 && !o.stop_file)
		usage("-n ROUNDTRIPS or -u STOPFILE is required");
	if (o.max_size > MAX_MSG)
		usage("-S: at most %d", MAX_MSG);
	raise_nofile();
	r.target = o.n;
	r.epfd = epoll_create1(EPOLL_CLOEXEC);
	r.c = calloc((size_t)o.conns, sizeof(*r.c));
	r.rbuf = malloc(MAX_MSG);
	if (r.epfd == -1 || !r.c || !r.rbuf)
		die("out of memory");
	for (long i = 0; i < o.conns; i++) {
		r.c[i].fd = -1;
		r.c[i].rng = seed_base ^ ((uint64_t)i * 0xD1B54A32D192ED03ull);
		r.c[i].msg = malloc((size_t)o.max_size);
		if (!r.c[i].msg)
			die("out of memory");
	}
	start = r.t0 = now();
	deadline = start + o.timeout;
	for (;;) {
		int k;
		double t;

		if (paced)
			for (long i = 0; i < o.conns; i++)
				if (r.c[i].state == E_RUN && r.c[i].paced)
					e_next(&r, &r.c[i]);
		active = 0;
		for (long i = 0; i < o.conns; i++) {
			if (r.c[i].state == E_IDLE && r.connecting < MAX_CONNECTING)
				e_connect(&r, &r.c[i]);
			active += r.c[i].state != E_IDLE;
		}
		if (active == 0 && (r.stopping || (r.target && r.started >= r.target)))
			break;
		paced = o.rate > 0;
		k = epoll_wait(r.epfd, ev, 256, ms_until(deadline, paced ? 5 : 100));
		if (k == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int j = 0; j < k; j++) {
			struct econn *c = &r.c[ev[j].data.u64];

			if (c->state != E_IDLE)
				e_io(&r, c, ev[j].events);
		}
		t = now();
		if (t - last_check >= 0.1) {
			last_check = t;
			if (!r.stopping && stop_requested(&o))
				r.stopping = true;
			for (long i = 0; i < o.conns; i++) {
				struct econn *c = &r.c[i];

				if (c->paced)
					c->progress = t;
				else if (c->state != E_IDLE && t - c->progress > o.stall)
					e_fail(&r, c, &r.stalled, "no progress", ETIMEDOUT);
			}
			if (t >= deadline) {
				fprintf(stderr, "stress echo-rand: stopped by the %g s timeout\n", o.timeout);
				r.stalled++;
				break;
			}
		}
	}
	printf("roundtrips=%ld bytes=%llu connections=%lu refused=%lu reset=%lu corrupt=%lu stalled=%lu seconds=%.1f\n",
	       r.done, r.bytes, r.connections, r.refused, r.reset, r.corrupt, r.stalled, now() - start);
	fflush(stdout);
	for (long i = 0; i < o.conns; i++) {
		if (r.c[i].fd >= 0)
			close(r.c[i].fd);
		free(r.c[i].msg);
	}
	free(r.c);
	free(r.rbuf);
	close(r.epfd);
	if (r.target && r.done != r.target && !r.stopping && r.refused + r.reset + r.corrupt + r.stalled == 0)
		die("%ld of %ld round trips done", r.done, r.target);
	return r.refused + r.reset + r.corrupt + r.stalled ? EXIT_VERIFY : 0;
}

/* ---------------------------------------------------------------- latency */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One new connection per sample: connect, SIZE bytes out and back
 * (verified), close; what an ordinary client of a loaded server sees. */
static int
mode_latency(int argc, char **argv)
{
	struct opts o = { .size = 100, .timeout = 60 };
	uint8_t *out, *in;
	double *lat, deadline;
	uint64_t rng;

	parse_opts(argc, argv, "aBnsitx", &o);
	need_stream(&o);
	if (o.n < 1)
		usage("-n SAMPLES is required");
	out = malloc((size_t)o.size);
	in = malloc((size_t)o.size);
	lat = calloc((size_t)o.n, sizeof(*lat));
	if (!out || !in || !lat)
		die("out of memory");
	rng = seed_base;
	deadline = now() + o.timeout;
	for (long i = 0; i < o.n; i++) {
		double t0 = now();
		size_t sent = 0, got = 0;
		int fd;

		rng_fill(&rng, out, (size_t)o.size);
		fd = connect_wait(&o.addr, o.bind_host, deadline);
		if (fd < 0)
			die("sample %ld: connect %s: %s", i, o.addr.text, strerror(-fd));
		while (got < (size_t)o.size) {
			short ev = wait_fd(fd, (short)(POLLIN | (sent < (size_t)o.size ? POLLOUT : 0)), deadline);
			ssize_t n;

			if (!ev)
				die("sample %ld: timed out with %zu of %ld bytes back", i, got, o.size);
			if ((ev & POLLOUT) && sent < (size_t)o.size) {
				n = send(fd, out + sent, (size_t)o.size - sent, MSG_NOSIGNAL);
				if (n == -1 && errno != EAGAIN && errno != EINTR)
					die("sample %ld: send: %s", i, strerror(errno));
				if (n > 0)
					sent += (size_t)n;
			}
			if (ev & (POLLIN | POLLHUP | POLLERR)) {
				n = recv(fd, in + got, (size_t)o.size - got, 0);
				if (n == 0)
					die("sample %ld: EOF after %zu of %ld bytes", i, got, o.size);
				if (n == -1 && errno != EAGAIN && errno != EINTR)
					die("sample %ld: recv: %s", i, strerror(errno));
				if (n > 0)
					got += (size_t)n;
			}
		}
		if (memcmp(in, out, (size_t)o.size) != 0)
			die("sample %ld: the echo differs from what was sent", i);
		close(fd);
		lat[i] = now() - t0;
		if (o.interval > 0)
			sleep_secs(o.interval);
	}
	qsort(lat, (size_t)o.n, sizeof(*lat), cmp_double);
	printf("samples=%ld p50_us=%.0f p99_us=%.0f max_us=%.0f\n", o.n,
	       lat[(o.n - 1) / 2] * 1e6, lat[(o.n * 99 + 99) / 100 - 1] * 1e6, lat[o.n - 1] * 1e6);
	free(out);
	free(in);
	free(lat);
	return 0;
}

/* ---------------------------------------------------------------- many */

/* Connections opened in bulk with a bounded number of connects in flight,
 * for noread-many and slowloris. */
enum mstate { M_NEW, M_CONNECTING, M_OPEN, M_CLOSED, M_FAILED };

struct mconn {
	int fd;
	enum mstate state;
	double opened;
	double next_send;
	long long sent;
	bool stuck;                     /* the last send would have blocked */
};

struct many {
	const struct opts *o;
	int epfd;
	struct mconn *c;
	long n, next, connecting, open, closed, failed;
	double min_life, max_life;
};

static void
many_init(struct many *m, const struct opts *o, long n)
{
	raise_nofile();
	m->o = o;
	m->n = n;
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->c = calloc((size_t)n, sizeof(*m->c));
	if (m->epfd == -1 || !m->c)
		die("out of memory");
	for (long i = 0; i < n; i++)
		m->c[i].fd = -1;
	m->min_life = -1;
}

static void
many_ctl(struct many *m, int op, long i, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.u64 = (uint64_t)i };

	if (epoll_ctl(m->epfd, op, m->c[i].fd, &e) == -1)
		die("epoll_ctl: %s", strerror(errno));
}

static void
many_start(struct many *m)
{
	while (m->next < m->n && m->connecting < MAX_CONNECTING) {
		long i = m->next++;
		int fd = connect_start(&m->o->addr, m->o->bind_host);

		if (fd == -EAGAIN) {
			m->next--;
			return;
		}
		if (fd < 0) {
			m->c[i].state = M_FAILED;
			m->failed++;
			continue;
		}
		m->c[i].fd = fd;
		m->c[i].state = M_CONNECTING;
		m->connecting++;
		many_ctl(m, EPOLL_CTL_ADD, i, EPOLLOUT);
	}
}

/* The server closed (or reset) an open connection, or refused a new one. */
static void
many_lost(struct many *m, long i)
{
	struct mconn *c = &m->c[i];

	if (c->state == M_CONNECTING) {
		m->connecting--;
		c->state = M_FAILED;
		m->failed++;
	} else {
		double life = now() - c->opened;

		m->open--;
		c->state = M_CLOSED;
		m->closed++;
		if (m->min_life < 0 || life < m->min_life)
			m->min_life = life;
		if (life > m->max_life)
			m->max_life = life;
	}
	close(c->fd);
	c->fd = -1;
}

/* A connect finished: true when it is open. */
static bool
many_connected(struct many *m, long i)
{
	struct mconn *c = &m->c[i];

	if (sock_error(c->fd)) {
		many_lost(m, i);
		return false;
	}
	m->connecting--;
	m->open++;
	c->state = M_OPEN;
	c->opened = now();
	return true;
}

static void
many_close_all(struct many *m)
{
	for (long i = 0; i < m->n; i++)
		if (m->c[i].fd >= 0)
			close(m->c[i].fd);
	free(m->c);
	m->c = NULL;
	close(m->epfd);
}

/* Whether stdin, a pipe or FIFO the test keeps open, was closed: the
 * signal to end a hold. A background job's /dev/null stdin is no such
 * signal. */
static int
stdin_watch_fd(void)
{
	struct stat st;

	if (fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return 0;
	return -1;
}

static bool
stdin_closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[256];

	if (fd < 0 || poll(&p, 1, 0) != 1)
		return false;
	return read(fd, b, sizeof(b)) <= 0;
}

/* ---------------------------------------------------------------- noread-many */

/* N connections that each send up to BYTES and never read: what a server
 * buffers for them is its own problem. Holds them until stdin closes,
 * SIGTERM or -t, then reports how many the server closed. */
static int
mode_noread_many(int argc, char **argv)
{
	struct opts o = { .bytes = 1 << 20, .timeout = 120 };
	static uint8_t buf[65536];
	struct epoll_event ev[256];
	struct many m = { 0 };
	double deadline, quiet_since;
	long long total = 0;
	bool reported = false;
	int in = stdin_watch_fd();
	uint64_t rng = seed_base;

	parse_opts(argc, argv, "aBnbkt", &o);
	need_stream(&o);
	if (o.n < 1)
		usage("-n CONNS is required");
	rng_fill(&rng, buf, sizeof(buf));
	many_init(&m, &o, o.n);
	deadline = now() + o.timeout;
	quiet_since = now();
	while (!got_term && now() < deadline && !stdin_closed(in)) {
		int k;

		many_start(&m);
		k = epoll_wait(m.epfd, ev, 256, ms_until(deadline, 200));
		if (k == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int j = 0; j < k; j++) {
			long i = (long)ev[j].data.u64;
			struct mconn *c = &m.c[i];

			if (c->state == M_CONNECTING && !many_connected(&m, i))
				continue;
			if (c->state != M_OPEN)
				continue;
			if (ev[j].events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
				many_lost(&m, i);
				continue;
			}
			while (c->sent < o.bytes) {
				size_t len = (size_t)(o.bytes - c->sent) < sizeof(buf) ? (size_t)(o.bytes - c->sent)
										: sizeof(buf);
				ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);

				if (n > 0) {
					c->sent += n;
					total += n;
					quiet_since = now();
					continue;
				}
				if (n == -1 && errno != EAGAIN && errno != EINTR)
					many_lost(&m, i);
				break;
			}
			if (c->state == M_OPEN)
				many_ctl(&m, EPOLL_CTL_MOD, i,
					 EPOLLRDHUP | (c->sent < o.bytes ? EPOLLOUT : 0));
		}
		/* All connected, and nothing more goes out for a second. */
		if (!reported && m.next == m.n && m.connecting == 0 && now() - quiet_since > 1.0) {
			printf("held open=%ld failed=%ld closed=%ld sent=%lld\n", m.open, m.failed, m.closed, total);
			fflush(stdout);
			reported = true;
		}
	}
	printf("end open=%ld failed=%ld closed=%ld sent=%lld\n", m.open, m.failed, m.closed, total);
	fflush(stdout);
	many_close_all(&m);
	return 0;
}

/* ---------------------------------------------------------------- slowloris */

/* N connections that each send one byte every -i seconds (spread over the
 * interval), never idle long enough for an idle timeout; the echo is read
 * and dropped. Runs until every connection is gone, stdin closes, the
 * stop file appears, or -t. -v: a status line every second. */
static int
mode_slowloris(int argc, char **argv)
{
	struct opts o = { .interval = 2, .timeout = 120 };
	struct epoll_event ev[256];
	struct many m = { 0 };
	double deadline, next_status;
	bool said_connected = false;
	int in = stdin_watch_fd();

	parse_opts(argc, argv, "aBnituv", &o);
	need_stream(&o);
	if (o.n < 1)
		usage("-n CONNS is required");
	if (o.interval <= 0)
		usage("-i must be more than 0");
	many_init(&m, &o, o.n);
	deadline = now() + o.timeout;
	next_status = now() + 1;
	while (!stop_requested(&o) && now() < deadline && !stdin_closed(in)) {
		double t;
		int k;

		many_start(&m);
		if (m.next == m.n && m.connecting == 0 && m.open == 0)
			break;
		k = epoll_wait(m.epfd, ev, 256, ms_until(deadline, 50));
		if (k == -1 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		t = now();
		for (int j = 0; j < k; j++) {
			long i = (long)ev[j].data.u64;
			struct mconn *c = &m.c[i];
			char b[4096];

			if (c->state == M_CONNECTING) {
				if (many_connected(&m, i)) {
					c->next_send = t + o.interval * (double)i / (double)o.n;
					many_ctl(&m, EPOLL_CTL_MOD, i, EPOLLIN | EPOLLRDHUP);
				}
				continue;
			}
			if (c->state != M_OPEN)
				continue;
			for (;;) {
				ssize_t n = recv(c->fd, b, sizeof(b), 0);

				if (n > 0)
					continue;
				if (n == -1 && (errno == EAGAIN || errno == EINTR))
					break;
				many_lost(&m, i);
				break;
			}
		}
		for (long i = 0; i < m.n; i++) {
			struct mconn *c = &m.c[i];

			if (c->state != M_OPEN || c->next_send > t)
				continue;
			if (send(c->fd, "x", 1, MSG_NOSIGNAL) == 1) {
				c->sent++;
			} else if (errno != EAGAIN && errno != EINTR) {
				many_lost(&m, i);
				continue;
			}
			c->next_send += o.interval;
			if (c->next_send < t)
				c->next_send = t + o.interval;
		}
		if (!said_connected && m.next == m.n && m.connecting == 0) {
			printf("connected open=%ld failed=%ld closed=%ld\n", m.open, m.failed, m.closed);
			fflush(stdout);
			said_connected = true;
		}
		if (o.verbose && t >= next_status) {
			printf("status open=%ld failed=%ld closed=%ld\n", m.open, m.failed, m.closed);
			fflush(stdout);
			next_status = t + 1;
		}
	}
	printf("end open=%ld failed=%ld closed=%ld min_life=%.2f max_life=%.2f\n", m.open, m.failed, m.closed,
	       m.min_life < 0 ? 0 : m.min_life, m.max_life);
	fflush(stdout);
	many_close_all(&m);
	return 0;
}

/* ---------------------------------------------------------------- udp-flood */

/* Datagrams from fixed source ports (the ones a reflection attack would
 * forge: echo, chargen, NFS...), as fast as -R allows for -d seconds;
 * replies are counted per port. */
static int
mode_udp_flood(int argc, char **argv)
{
	struct opts o = { .size = 64, .rate = 20000, .duration = 3, .wait = 1, .timeout = 120 };
	const char *host;
	unsigned ports[64];
	unsigned long replies[64] = { 0 }, sent = 0, total_replies = 0;
	int fds[64];
	size_t np = 0;
	uint8_t *buf;
	char *list, *tok, *save;
	double start, end, t;
	uint64_t rng = seed_base;

	parse_opts(argc, argv, "aBpsRdwt", &o);
	if (o.addr.socktype != SOCK_DGRAM)
		usage("%s is not a udp: address", o.addr.text);
	if (!o.ports)
		usage("-p PORTS is required");
	if (o.size > 65507)
		usage("-s: at most 65507");
	host = o.bind_host ? o.bind_host : (o.addr.family == AF_INET6 ? "::1" : "127.0.0.1");
	list = strdup(o.ports);
	buf = malloc((size_t)o.size);
	if (!list || !buf)
		die("out of memory");
	rng_fill(&rng, buf, (size_t)o.size);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		int sz = 4 << 20;

		if (np == sizeof(ports) / sizeof(ports[0]))
			usage("-p: at most 64 ports");
		ports[np] = (unsigned)num_arg('p', tok, 1);
		fds[np] = socket(o.addr.family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fds[np] == -1)
			die("socket: %s", strerror(errno));
		setsockopt(fds[np], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		bind_host(fds[np], &o.addr, host, ports[np]);
		if (connect(fds[np], (struct sockaddr *)&o.addr.sa, o.addr.len) == -1)
			die("connect %s: %s", o.addr.text, strerror(errno));
		np++;
	}
	start = now();
	end = start + (o.duration < o.timeout ? o.duration : o.timeout);
	while ((t = now()) < end + o.wait) {
		char rb[65536];

		/* Keep to the rate: send what is due by now, then look for
		 * replies. */
		while (t < end && (double)sent < (t - start) * o.rate) {
			size_t p = sent % np;

			if (send(fds[p], buf, (size_t)o.size, 0) == -1 && errno != EAGAIN &&
			    errno != ECONNREFUSED && errno != ENOBUFS)
				die("send from port %u: %s", ports[p], strerror(errno));
			sent++;
		}
		for (size_t p = 0; p < np; p++)
			while (recv(fds[p], rb, sizeof(rb), 0) >= 0) {
				replies[p]++;
				total_replies++;
			}
		sleep_secs(0.001);
	}
	for (size_t p = 0; p < np; p++)
		if (replies[p])
			printf("port=%u replies=%lu\n", ports[p], replies[p]);
	printf("sent=%lu replies=%lu seconds=%.1f\n", sent, total_replies, now() - start);
	for (size_t p = 0; p < np; p++)
		close(fds[p]);
	free(list);
	free(buf);
	return 0;
}

/* ---------------------------------------------------------------- proxy-cut */

static size_t
parse_hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (s[0] && s[1]) {
		unsigned v;

		if (n == cap || sscanf(s, "%2x", &v) != 1)
			usage("-H: bad hex at '%s'", s);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	if (*s)
		usage("-H: odd number of hex digits");
	return n;
}

/* The header cut at every length from 0 to all but its last byte, one
 * connection each, all at once. "open": the client keeps its write side
 * open, so the server cannot know the header will never complete and must
 * wait for its timeout; "shut": the client shuts down its write side after
 * the cut, so the server can close at once. Either way not one byte may
 * come back. -C adds a connection with the whole header and a line after
 * it, which must be served (get bytes back). */
static int
mode_proxy_cut(int argc, char **argv)
{
	struct opts o = { .stall = 30, .timeout = 120 };
	uint8_t hdr[1024];
	size_t len;
	long n, closed = 0, bad = 0;
	int *fds;
	double *at, *sent_at, start, deadline, min_wait = -1, max_wait = 0;
	long long *got;
	bool shut;

	parse_opts(argc, argv, "aHmTCt", &o);
	need_stream(&o);
	if (!o.header_hex || !o.cut_mode)
		usage("-H HEX and -m open|shut are required");
	if (strcmp(o.cut_mode, "open") != 0 && strcmp(o.cut_mode, "shut") != 0)
		usage("-m: open or shut");
	shut = strcmp(o.cut_mode, "shut") == 0;
	len = parse_hex(o.header_hex, hdr, sizeof(hdr) - 16);
	if (len < 2)
		usage("-H: the header is too short to cut");
	memcpy(hdr + len, "served?\n", 8);
	n = (long)len + (o.control ? 1 : 0);       /* cuts 0 .. len-1, then the control */
	fds = calloc((size_t)n, sizeof(*fds));
	at = calloc((size_t)n, sizeof(*at));
	got = calloc((size_t)n, sizeof(*got));
	sent_at = calloc((size_t)n, sizeof(*sent_at));
	if (!fds || !at || !got || !sent_at)
		die("out of memory");
	deadline = now() + o.timeout;
	for (long i = 0; i < n; i++) {
		size_t cut = i < (long)len ? (size_t)i : len + 8;
		int fd = connect_wait(&o.addr, NULL, deadline);
		ssize_t w;

		if (fd < 0)
			die("cut %ld: connect: %s", i, strerror(-fd));
		w = cut ? send(fd, hdr, cut, MSG_NOSIGNAL) : 0;
		if (w != (ssize_t)cut)
			die("cut %ld: send: %s", i, w < 0 ? strerror(errno) : "short");
		if (shut || i == (long)len)
			shutdown(fd, SHUT_WR);
		sent_at[i] = now();
		fds[i] = fd;
	}
	start = now();
	while (closed < n && now() < deadline && now() - start < o.stall) {
		struct pollfd p[2048];
		long map[2048], k = 0;
		int r;

		for (long i = 0; i < n && k < 2048; i++)
			if (fds[i] >= 0) {
				p[k] = (struct pollfd){ .fd = fds[i], .events = POLLIN | POLLRDHUP };
				map[k++] = i;
			}
		r = poll(p, (nfds_t)k, 100);
		if (r == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
		for (long j = 0; j < k; j++) {
			long i = map[j];
			char b[512];
			ssize_t m;

			if (!p[j].revents)
				continue;
			m = recv(fds[i], b, sizeof(b), MSG_DONTWAIT);
			if (m > 0) {
				got[i] += m;
				continue;
			}
			if (m == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			at[i] = now() - sent_at[i];
			close(fds[i]);
			fds[i] = -1;
			closed++;
		}
	}
	for (long i = 0; i < (long)len; i++) {
		if (got[i]) {
			fprintf(stderr, "stress proxy-cut: a header cut after %ld of %zu bytes was served (%lld bytes back)\n",
				i, len, got[i]);
			bad++;
		}
		if (fds[i] >= 0) {
			fprintf(stderr, "stress proxy-cut: a header cut after %ld of %zu bytes is still open after %g s\n",
				i, len, o.stall);
			bad++;
			continue;
		}
		if (min_wait < 0 || at[i] < min_wait)
			min_wait = at[i];
		if (at[i] > max_wait)
			max_wait = at[i];
	}
	if (o.control && got[len] == 0) {
		fprintf(stderr, "stress proxy-cut: the whole header was not served\n");
		bad++;
	}
	printf("cuts=%zu closed=%ld served=%ld min_wait=%.2f max_wait=%.2f control_bytes=%lld\n", len,
	       closed - (o.control && fds[len] < 0 ? 1 : 0), bad, min_wait < 0 ? 0 : min_wait, max_wait,
	       o.control ? got[len] : 0);
	for (long i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	free(at);
	free(got);
	free(sent_at);
	return bad ? EXIT_VERIFY : 0;
}

/* ---------------------------------------------------------------- churn */

/* Clients that connect, send some random bytes, and drop the connection
 * at a random moment in a random way (close, reset, or shut down and
 * close without reading), until the stop file appears. A refused connect
 * counts as a failure. */
static int
mode_churn(int argc, char **argv)
{
	struct opts o = { .conns = 10, .timeout = 600 };
	static uint8_t buf[65536];
	unsigned long cycles = 0, refused = 0;
	double deadline;
	uint64_t rng = seed_base ^ 0x5EED;

	parse_opts(argc, argv, "acBut", &o);
	need_stream(&o);
	if (!o.stop_file)
		usage("-u STOPFILE is required");
	rng_fill(&rng, buf, sizeof(buf));
	deadline = now() + o.timeout;
	/* One process, o.conns connections at a time, each in its own phase. */
	while (!stop_requested(&o) && now() < deadline) {
		int fds[64];
		long k = o.conns < 64 ? o.conns : 64;

		for (long i = 0; i < k; i++) {
			fds[i] = connect_wait(&o.addr, o.bind_host, deadline);
			if (fds[i] < 0) {
				refused++;
				fprintf(stderr, "stress churn: connect: %s\n", strerror(-fds[i]));
				continue;
			}
			(void)!send(fds[i], buf, 1 + (size_t)rng_below(&rng, sizeof(buf)), MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		sleep_secs((double)rng_below(&rng, 50) / 1000.0);
		for (long i = 0; i < k; i++) {
			char b[4096];

			if (fds[i] < 0)
				continue;
			switch (rng_below(&rng, 4)) {
			case 0:         /* reset, unread data or not */
				set_linger0(fds[i]);
				break;
			case 1:         /* read a little first */
				(void)!recv(fds[i], b, sizeof(b), MSG_DONTWAIT);
				break;
			case 2:         /* half-close, then go without reading */
				shutdown(fds[i], SHUT_WR);
				break;
			default:        /* just close */
				break;
			}
			close(fds[i]);
			cycles++;
		}
	}
	printf("cycles=%lu refused=%lu\n", cycles, refused);
	return refused ? EXIT_VERIFY : 0;
}

/* ---------------------------------------------------------------- listen-noread */

/* An upstream that accepts and never reads. Prints "accepted N" for each
 * connection and "closed N after S" when its peer goes away. */
static int
mode_listen_noread(int argc, char **argv)
{
	struct opts o = { .timeout = 120 };
	struct pollfd p[1025];
	double opened[1025];
	bool said[1025] = { false };
	nfds_t np = 1;
	int one = 1, lfd, in = stdin_watch_fd();
	double deadline;

	parse_opts(argc, argv, "akt", &o);
	need_stream(&o);
	if (o.addr.family == AF_UNIX)
		usage("listen-noread takes tcp: addresses");
	lfd = socket(o.addr.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd == -1)
		die("socket: %s", strerror(errno));
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Set on the listener, so accepted sockets start with it (the window
	 * is negotiated at the handshake). */
	if (o.rcvbuf)
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &o.rcvbuf, sizeof(o.rcvbuf));
	if (bind(lfd, (struct sockaddr *)&o.addr.sa, o.addr.len) == -1)
		die("bind %s: %s", o.addr.text, strerror(errno));
	if (listen(lfd, 128) == -1)
		die("listen: %s", strerror(errno));
	printf("listening\n");
	fflush(stdout);
	p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	deadline = now() + o.timeout;
	while (now() < deadline && !got_term && !stdin_closed(in)) {
		int r = poll(p, np, ms_until(deadline, 200));

		if (r == -1 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (fd >= 0 && np < sizeof(p) / sizeof(p[0])) {
				opened[np] = now();
				p[np++] = (struct pollfd){ .fd = fd, .events = POLLRDHUP };
				printf("accepted %lu\n", (unsigned long)np - 1);
				fflush(stdout);
			} else if (fd >= 0) {
				close(fd);
			}
		}
		for (nfds_t i = 1; i < np; i++) {
			if (said[i] || !(p[i].revents & (POLLRDHUP | POLLHUP | POLLERR)))
				continue;
			said[i] = true;
			p[i].events = 0;
			printf("closed %lu after %.2f\n", (unsigned long)i, now() - opened[i]);
			fflush(stdout);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- push */

/* Send until nothing more goes out for -w seconds (or -b bytes went), say
 * how much went ("sent N"), then wait, without reading, for the server to
 * close the connection ("closed after S"); still open at -t: exit 1. */
static int
mode_push(int argc, char **argv)
{
	struct opts o = { .bytes = 256LL << 20, .wait = 2, .timeout = 60 };
	static uint8_t buf[65536];
	long long sent = 0;
	double deadline, quiet_since, stalled;
	uint64_t rng = seed_base;
	int fd;

	parse_opts(argc, argv, "abwt", &o);
	need_stream(&o);
	rng_fill(&rng, buf, sizeof(buf));
	deadline = now() + o.timeout;
	fd = connect_wait(&o.addr, NULL, deadline);
	if (fd < 0)
		die("connect %s: %s", o.addr.text, strerror(-fd));
	quiet_since = now();
	while (sent < o.bytes && now() - quiet_since < o.wait && now() < deadline) {
		size_t len = (size_t)(o.bytes - sent) < sizeof(buf) ? (size_t)(o.bytes - sent) : sizeof(buf);
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			sent += n;
			quiet_since = now();
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			die("send after %lld bytes: %s", sent, strerror(errno));
		wait_fd(fd, POLLOUT, quiet_since + o.wait);
	}
	stalled = now();
	printf("sent %lld\n", sent);
	fflush(stdout);
	for (;;) {
		short ev = wait_fd(fd, POLLRDHUP | POLLIN, deadline);
		char b[4096];

		if (!ev)
			die("still open %.1f s after the last byte went out", now() - stalled);
		if (ev & POLLIN) {
			ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

			if (n > 0)
				continue;
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
		}
		break;
	}
	printf("closed after %.2f\n", now() - stalled);
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------- main */

static void
on_term(int sig)
{
	got_term = 1;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} modes[] = {
		{ "echo-rand", mode_echo_rand },
		{ "latency", mode_latency },
		{ "noread-many", mode_noread_many },
		{ "slowloris", mode_slowloris },
		{ "udp-flood", mode_udp_flood },
		{ "proxy-cut", mode_proxy_cut },
		{ "churn", mode_churn },
		{ "listen-noread", mode_listen_noread },
		{ "push", mode_push },
	};
	struct sigaction sa = { .sa_handler = on_term };
	struct timespec ts;

	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	seed_base = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_sec;
	if (argc < 2)
		usage("no mode given");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].name) == 0) {
			mode = modes[i].name;
			return modes[i].run(argc - 1, argv + 1);
		}
	}
	usage("unknown mode '%s'", argv[1]);
}
