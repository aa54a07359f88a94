/* tclient: the test client of the sockd integration tests.
 *
 * Standalone on purpose (nothing from src/): a bug in sockd's address parser
 * or chargen generator must not be mirrored here and cancel itself out.
 *
 * Every loop is bounded by a count and by a deadline. Exit codes: 0 ok,
 * 1 verification or I/O failure (with a message on stderr), 2 usage,
 * 3 "no reply" (dgram mode only). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
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

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP   262
#endif
#define TCP_IS_MPTCP_OPT 43             /* TCP_IS_MPTCP, Linux 5.16; not in every libc */
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN    0x20000000
#endif

#define EXIT_VERIFY     1
#define EXIT_USAGE      2
#define EXIT_NOREPLY    3

/* RFC 864 as the RFC words it, written independently of src/builtin.c. */
#define CG_FIRST        0x20
#define CG_CHARS        95
#define CG_LINE         72
#define CG_DGRAM_MAX    512

/* How many non-blocking connects may be in flight at once: more only
 * overflows the listen backlog and turns into SYN retransmits (1 s, 3 s...). */
#define MAX_CONNECTING  512

struct taddr {
	const char *text;
	int family;
	int socktype;
	int protocol;                   /* IPPROTO_MPTCP for mptcp:, else 0 */
	socklen_t len;
	struct sockaddr_storage sa;
};

struct opts {
	struct taddr addr;
	bool have_addr;
	long n;
	long size;
	long rounds;
	long chunk;
	double timeout;
	double hold;
	long long bytes;
	const char *message;
	const char *bind;
	const char *path;
	bool hex;
	bool halfclose;
};

static const char *mode = "tclient";

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "tclient %s: ", mode);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_VERIFY);
}

static const char usage_text[] =
	"usage: tclient MODE [options]\n"
	"  echo-many -a ADDR -n N [-s SIZE] [-r ROUNDS] [-t SECS]\n"
	"  echo      -a ADDR [-s SIZE] [-c CHUNK] [-B BINDADDR] [-t SECS]\n"
	"  noread    -a ADDR [-b MAXBYTES] [-t SECS] [-h HOLDSECS]\n"
	"  chargen   -a ADDR [-b BYTES] [-H] [-B BINDADDR] [-t SECS]\n"
	"  hold      -a ADDR -n N [-t SECS]\n"
	"  notify    -p PATH [-t SECS]\n"
	"  dgram     -a ADDR [-m MESSAGE] [-B BINDADDR] [-r SENDS] [-t SECS] [-x]\n"
	"  connect-rst -a ADDR -n N [-t SECS] [-p FILE]   (-p: reset once FILE exists)\n"
	"  dgram-burst -a ADDR -n N [-s SIZE] [-t SECS]   (echo: N datagrams at once)\n"
	"  urgent    -a ADDR [-r ROUNDS] [-t SECS]   (echo over TCP with urgent bytes)\n"
	"  fastopen  -a ADDR [-s SIZE] [-r ROUNDS] [-t SECS]  (echo: data sent with MSG_FASTOPEN)\n"
	"  bulk-tail -a ADDR -s SIZE -n N [-t SECS]  (echo: SIZE bytes, then N sends of 16)\n"
	"  dgram-flood -a ADDR -n N [-B BINDADDR] [-t SECS]  (one datagram from each of N sockets)\n"
	"  dgram-keep -a ADDR -n N [-h INTERVAL] [-p STOPFILE] [-B BINDADDR] [-t SECS]\n"
	"            (echo: up to N datagrams from one socket, one per INTERVAL, 5 more once\n"
	"            STOPFILE exists; ok when the last 5 were answered)\n"
	"  tls-hello -a ADDR [-m SNI] [-s PAD] [-n RECSIZE] [-c CHUNK] [-h PAUSE] [-t SECS]\n"
	"            (a TLS 1.2 ClientHello, padded by PAD bytes, in records of RECSIZE,\n"
	"            written CHUNK bytes at a time PAUSE s apart; prints what came back:\n"
	"            \"reply type=T\" [\"alert=A\"], \"eof\", \"reset\" or \"timeout\")\n"
		"ADDR: tcp:HOST:PORT, mptcp:HOST:PORT (echo prints \"mptcp 1\" when MPTCP was\n"
	"      spoken end to end), udp:HOST:PORT (HOST IPv4 or [IPv6]), unix:/path,\n"
	"      unix:@abstract, unix-dgram:..., unix-seqpacket:...\n";

static void
usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "tclient %s: ", mode);
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
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Milliseconds left until deadline, for poll()/epoll_wait(); 0 when past. */
static int
ms_left(double deadline)
{
	double left = deadline - now();

	if (left <= 0)
		return 0;
	if (left > 3600)
		return 3600 * 1000;
	return (int)(left * 1000) + 1;
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
		hlen = end - s - 1;
		port_s = end + 2;
		s++;
	} else {
		end = strrchr(s, ':');
		if (!end)
			return -1;
		hlen = end - s;
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
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)&a->sa)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a->sa;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		a->family = AF_INET;
		a->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)&a->sa)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&a->sa;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		a->family = AF_INET6;
		a->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

/* "/path" or "@abstract"; the abstract length has no trailing padding,
 * which is how every Linux tool (socat, systemd) spells those names. */
static int
parse_unix(const char *s, struct taddr *a)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&a->sa;
	size_t n = strlen(s);

	memset(&a->sa, 0, sizeof(a->sa));
	sun->sun_family = AF_UNIX;
	a->family = AF_UNIX;
	if (s[0] == '@') {
		if (n < 2 || n > sizeof(sun->sun_path))
			return -1;
		memcpy(sun->sun_path + 1, s + 1, n - 1);
		a->len = offsetof(struct sockaddr_un, sun_path) + n;
		return 0;
	}
	if (n == 0 || n >= sizeof(sun->sun_path))
		return -1;
	memcpy(sun->sun_path, s, n);
	a->len = offsetof(struct sockaddr_un, sun_path) + n + 1;
	return 0;
}

static int
parse_addr(const char *text, struct taddr *a)
{
	static const struct {
		const char *prefix;
		int family;     /* 0 = IP */
		int socktype;
		int protocol;
	} types[] = {
		{ "tcp:", 0, SOCK_STREAM, 0 },
		{ "mptcp:", 0, SOCK_STREAM, IPPROTO_MPTCP },
		{ "udp:", 0, SOCK_DGRAM, 0 },
		{ "unix-dgram:", AF_UNIX, SOCK_DGRAM, 0 },
		{ "unix-seqpacket:", AF_UNIX, SOCK_SEQPACKET, 0 },
		{ "unix:", AF_UNIX, SOCK_STREAM, 0 },
	};

	a->text = text;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t pl = strlen(types[i].prefix);

		if (strncmp(text, types[i].prefix, pl) != 0)
			continue;
		a->socktype = types[i].socktype;
		a->protocol = types[i].protocol;
		if (types[i].family == AF_UNIX)
			return parse_unix(text + pl, a);
		return parse_ip_port(text + pl, a);
	}
	return -1;
}

/* A bind address for -B: the same forms as -a, or without the type prefix
 * ("127.0.0.1:1023", "[::1]:5000", "/path", "@name"); the type comes from
 * the destination. */
static void
parse_bind(const char *text, const struct taddr *dst, struct taddr *b)
{
	int r;

	if (parse_addr(text, b) == 0) {
		if (b->family == AF_UNIX ? dst->family != AF_UNIX : dst->family == AF_UNIX)
			usage("bind address '%s' does not match '%s'", text, dst->text);
		return;
	}
	b->text = text;
	b->socktype = dst->socktype;
	if (dst->family == AF_UNIX)
		r = parse_unix(text, b);
	else
		r = parse_ip_port(text, b);
	if (r < 0)
		usage("bad bind address '%s'", text);
}

static bool
is_stream(const struct taddr *a)
{
	return a->socktype != SOCK_DGRAM;
}

/* ---------------------------------------------------------------- sockets */

static int
new_socket(const struct taddr *a)
{
	int fd = socket(a->family, a->socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->protocol);

	if (fd == -1)
		fail("socket(%s): %s", a->text, strerror(errno));
	return fd;
}

/* Wait for events on one fd until deadline. Returns revents, 0 on timeout. */
static short
wait_fd(int fd, short events, double deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int r = poll(&p, 1, ms_left(deadline));

		if (r > 0)
			return p.revents;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			fail("poll: %s", strerror(errno));
	}
}

/* Connect one non-blocking socket, waiting until deadline. A Unix socket
 * whose backlog is full says EAGAIN instead of queueing us: retry. */
static int
connect_one(const struct taddr *a, double deadline)
{
	for (;;) {
		int fd = new_socket(a), err;
		socklen_t el = sizeof(err);

		if (connect(fd, (struct sockaddr *)&a->sa, a->len) == 0)
			return fd;
		if (errno == EAGAIN && a->family == AF_UNIX) {
			close(fd);
			if (now() >= deadline)
				fail("connect %s: backlog full until the timeout", a->text);
			usleep(10000);
			continue;
		}
		if (errno != EINPROGRESS)
			fail("connect %s: %s", a->text, strerror(errno));
		if (!(wait_fd(fd, POLLOUT, deadline) & (POLLOUT | POLLERR | POLLHUP)))
			fail("connect %s: timed out", a->text);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1)
			fail("getsockopt: %s", strerror(errno));
		if (err)
			fail("connect %s: %s", a->text, strerror(err));
		return fd;
	}
}

/* A datagram socket connected to a, bound first to bindaddr when given, or
 * (Unix, with autobind) to an abstract name of the kernel's choosing, so
 * the server has somewhere to reply. */
static int
dgram_socket(const struct taddr *a, const char *bindaddr, bool autobind)
{
	int fd = new_socket(a);

	if (bindaddr) {
		struct taddr b;
		int one = 1;

		parse_bind(bindaddr, a, &b);
		if (b.family == AF_UNIX) {
			struct sockaddr_un *sun = (struct sockaddr_un *)&b.sa;

			if (sun->sun_path[0] != '\0')
				unlink(sun->sun_path);
		} else {
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		}
		if (bind(fd, (struct sockaddr *)&b.sa, b.len) == -1)
			fail("bind %s: %s", bindaddr, strerror(errno));
	} else if (autobind && a->family == AF_UNIX) {
		sa_family_t fam = AF_UNIX;

		if (bind(fd, (struct sockaddr *)&fam, sizeof(fam)) == -1)
			fail("autobind: %s", strerror(errno));
	}
	if (connect(fd, (struct sockaddr *)&a->sa, a->len) == -1)
		fail("connect %s: %s", a->text, strerror(errno));
	return fd;
}

static void
unlink_bind(const char *bindaddr)
{
	if (bindaddr && (bindaddr[0] == '/' || strncmp(bindaddr, "unix-dgram:/", 12) == 0))
		unlink(bindaddr[0] == '/' ? bindaddr : bindaddr + 11);
}

/* Send all of buf on a non-blocking stream socket. */
static void
send_all(int fd, const void *buf, size_t len, double deadline, const char *what)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			len -= w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno != EAGAIN)
			fail("send %s: %s", what, strerror(errno));
		if (!wait_fd(fd, POLLOUT, deadline))
			fail("send %s: timed out with %zu bytes unsent", what, len);
	}
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* ---------------------------------------------------------------- patterns */

/* Byte j of message (conn, round) for echo-many: a hash of all three, so a
 * reply that went to the wrong connection, or came back shifted, shows. */
static uint8_t
pattern_byte(uint32_t conn, uint32_t round, uint32_t j)
{
	uint32_t h = conn * 0x9E3779B1u ^ (round + 1) * 0x85EBCA6Bu ^ j * 0xC2B2AE35u;

	h ^= h >> 16;
	h *= 0x7FEB352Du;
	h ^= h >> 15;
	h *= 0x846CA68Bu;
	h ^= h >> 16;
	return h & 0xff;
}

static uint64_t rng_state;

static void
rng_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	rng_state = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() << 32 ^ ts.tv_sec;
	if (rng_state == 0)
		rng_state = 1;
}

static uint64_t
rng_next(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void
random_fill(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = rng_next() >> 56;
}

/* Byte at offset off of the RFC 864 stream. */
static uint8_t
chargen_byte(uint64_t off)
{
	uint64_t line = off / (CG_LINE + 2);
	unsigned col = off % (CG_LINE + 2);

	if (col == CG_LINE)
		return '\r';
	if (col == CG_LINE + 1)
		return '\n';
	return CG_FIRST + (line + col) % CG_CHARS;
}

/* Report the first difference of got against want (at stream offset base). */
static void
compare(const uint8_t *got, const uint8_t *want, size_t len, uint64_t base, const char *what)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != want[i])
			fail("%s: byte %llu is 0x%02x, expected 0x%02x", what,
			     (unsigned long long)(base + i), got[i], want[i]);
}

/* ---------------------------------------------------------------- options */

static long
num_arg(const char *opt, const char *s, long min)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno || v < min)
		usage("bad value '%s' for %s", s, opt);
	return v;
}

static double
secs_arg(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno || !(v >= 0) || v > 1e6)
		usage("bad value '%s' for %s", s, opt);
	return v;
}

/* Parse argv after the mode; allowed lists the option letters this mode takes. */
static void
parse_opts(int argc, char **argv, const char *allowed, struct opts *o)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v;

		if (a[0] != '-' || a[1] == '\0' || a[2] != '\0' || !strchr(allowed, a[1]))
			usage("unexpected argument '%s'", a);
		if (a[1] == 'x') {
			o->hex = true;
			continue;
		}
		if (a[1] == 'H') {
			o->halfclose = true;
			continue;
		}
		if (i + 1 >= argc)
			usage("%s needs a value", a);
		v = argv[++i];
		switch (a[1]) {
		case 'a':
			if (parse_addr(v, &o->addr) < 0)
				usage("bad address '%s'", v);
			o->have_addr = true;
			break;
		case 'n':
			o->n = num_arg(a, v, 1);
			break;
		case 's':
			o->size = num_arg(a, v, 0);
			break;
		case 'r':
			o->rounds = num_arg(a, v, 1);
			break;
		case 'c':
			o->chunk = num_arg(a, v, 1);
			break;
		case 'b':
			o->bytes = num_arg(a, v, 0);
			break;
		case 't':
			o->timeout = secs_arg(a, v);
			break;
		case 'h':
			o->hold = secs_arg(a, v);
			break;
		case 'm':
			o->message = v;
			break;
		case 'B':
			o->bind = v;
			break;
		case 'p':
			o->path = v;
			break;
		}
	}
}

static void
need_addr(const struct opts *o, bool stream_only)
{
	if (!o->have_addr)
		usage("-a ADDR is required");
	if (stream_only && !is_stream(&o->addr))
		usage("'%s' is not a stream address", o->addr.text);
}

/* ---------------------------------------------------------------- many connections */

enum cstate {
	C_IDLE,                 /* not connected yet */
	C_CONNECTING,
	C_OPEN,                 /* connected, waiting for the others */
	C_ECHO,                 /* sending and reading back */
	C_DONE,
	C_CLOSED,               /* hold: the peer closed it */
};

struct tconn {
	int fd;
	enum cstate state;
	uint32_t round;
	size_t sent;
	size_t got;
};

struct many {
	const struct opts *o;
	struct tconn *c;
	long n;
	int epfd;
	long next;              /* next connection to start */
	long connecting;
	long open;              /* connected (C_OPEN and later) */
	long done;
	long peer_closed;
	double retry_at;        /* Unix backlog full: when to try again */
};

static void
many_ctl(struct many *m, int op, long i, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = (uint64_t)i };

	if (epoll_ctl(m->epfd, op, m->c[i].fd, &ev) == -1)
		fail("epoll_ctl: %s", strerror(errno));
}

static void
many_connected(struct many *m, long i)
{
	m->c[i].state = C_OPEN;
	m->open++;
	many_ctl(m, EPOLL_CTL_MOD, i, EPOLLIN | EPOLLRDHUP);
}

/* Start connects until MAX_CONNECTING are in flight or all have started. */
static void
many_start_connects(struct many *m)
{
	const struct taddr *a = &m->o->addr;

	if (m->retry_at > now())
		return;
	while (m->next < m->n && m->connecting < MAX_CONNECTING) {
		long i = m->next;
		int fd = new_socket(a);

		if (connect(fd, (struct sockaddr *)&a->sa, a->len) == 0) {
			m->c[i].fd = fd;
			many_ctl(m, EPOLL_CTL_ADD, i, EPOLLIN | EPOLLRDHUP);
			m->c[i].state = C_OPEN;
			m->open++;
		} else if (errno == EINPROGRESS) {
			m->c[i].fd = fd;
			m->c[i].state = C_CONNECTING;
			m->connecting++;
			many_ctl(m, EPOLL_CTL_ADD, i, EPOLLOUT);
		} else if (errno == EAGAIN && a->family == AF_UNIX) {
			close(fd);
			m->retry_at = now() + 0.01;
			return;
		} else {
			fail("connect %s (connection %ld of %ld): %s", a->text, i + 1, m->n,
			     strerror(errno));
		}
		m->next++;
	}
}

static void
many_connect_done(struct many *m, long i)
{
	int err = 0;
	socklen_t el = sizeof(err);

	if (getsockopt(m->c[i].fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1)
		fail("getsockopt: %s", strerror(errno));
	if (err)
		fail("connect %s (connection %ld of %ld): %s", m->o->addr.text, i + 1, m->n,
		     strerror(err));
	m->connecting--;
	many_connected(m, i);
}

/* Echo traffic on connection i: send what the socket takes, check what
 * came back, move on to the next round. */
static void
many_echo(struct many *m, long i)
{
	struct tconn *c = &m->c[i];
	size_t size = m->o->size;
	uint8_t buf[65536];

	while (c->sent < size) {
		size_t n = size - c->sent;
		ssize_t w;

		if (n > sizeof(buf))
			n = sizeof(buf);
		/* One send per round on seqpacket: a record is a message. */
		if (m->o->addr.socktype == SOCK_SEQPACKET)
			n = size;
		for (size_t j = 0; j < n && j < sizeof(buf); j++)
			buf[j] = pattern_byte(i, c->round, c->sent + j);
		w = send(c->fd, buf, n, MSG_NOSIGNAL);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (w == -1)
			fail("connection %ld: send: %s", i, strerror(errno));
		c->sent += w;
	}
	while (c->got < c->sent) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);

		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r == -1)
			fail("connection %ld round %u: recv: %s", i, c->round, strerror(errno));
		if (r == 0)
			fail("connection %ld round %u: closed by the server after %zu of %zu bytes",
			     i, c->round, c->got, size);
		if (c->got + r > size)
			fail("connection %ld round %u: %zu bytes back, only %zu sent", i,
			     c->round, c->got + r, size);
		for (ssize_t j = 0; j < r; j++) {
			uint8_t want = pattern_byte(i, c->round, c->got + j);

			if (buf[j] != want)
				fail("connection %ld round %u: byte %zu is 0x%02x, expected 0x%02x",
				     i, c->round, c->got + j, buf[j], want);
		}
		c->got += r;
	}
	if (c->got == size && c->sent == size) {
		c->round++;
		c->sent = c->got = 0;
		if (c->round == (uint32_t)m->o->rounds) {
			c->state = C_DONE;
			m->done++;
			many_ctl(m, EPOLL_CTL_MOD, i, EPOLLRDHUP);
			return;
		}
	}
	many_ctl(m, EPOLL_CTL_MOD, i, EPOLLIN | EPOLLRDHUP | (c->sent < size ? EPOLLOUT : 0));
}

/* A connection that should be quiet had an event: data or EOF. */
static void
many_unexpected(struct many *m, long i, bool hold)
{
	const char *when = m->c[i].state == C_DONE ? "after its echo rounds" :
		"before any data was sent";
	struct tconn *c = &m->c[i];
	char b[256];
	ssize_t r = recv(c->fd, b, sizeof(b), MSG_DONTWAIT);

	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r > 0 && !hold)
		fail("connection %ld: %zd unexpected bytes from the server", i, r);
	if (r > 0)
		return;
	if (!hold)
		fail("connection %ld: %s %s", i,
		     r == 0 ? "closed by the server" : strerror(errno), when);
	/* hold: the server closed it (overload = "reject", shutdown). */
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	c->state = C_CLOSED;
	m->peer_closed++;
}

static void
many_init(struct many *m, const struct opts *o)
{
	raise_nofile();
	memset(m, 0, sizeof(*m));
	m->o = o;
	m->n = o->n;
	m->c = calloc(o->n, sizeof(*m->c));
	if (!m->c)
		fail("out of memory");
	for (long i = 0; i < o->n; i++)
		m->c[i].fd = -1;
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (m->epfd == -1)
		fail("epoll_create1: %s", strerror(errno));
}

/* Connect all n; returns when every one is open. */
static void
many_connect_all(struct many *m, double deadline, bool hold)
{
	struct epoll_event ev[256];

	while (m->open < m->n) {
		int k, wait_ms;

		many_start_connects(m);
		if (m->open == m->n)
			break;
		if (now() >= deadline)
			fail("timeout: %ld of %ld connections to %s established (%ld in progress)",
			     m->open, m->n, m->o->addr.text, m->connecting);
		wait_ms = ms_left(deadline);
		if (m->retry_at > 0 && wait_ms > 10)
			wait_ms = 10;
		k = epoll_wait(m->epfd, ev, 256, wait_ms);
		if (k == -1 && errno != EINTR)
			fail("epoll_wait: %s", strerror(errno));
		for (int j = 0; j < k; j++) {
			long i = (long)ev[j].data.u64;

			if (m->c[i].state == C_CONNECTING)
				many_connect_done(m, i);
			else if (m->c[i].state == C_OPEN)
				many_unexpected(m, i, hold);
		}
	}
}

static void
many_close_all(struct many *m)
{
	for (long i = 0; i < m->n; i++)
		if (m->c[i].fd >= 0)
			close(m->c[i].fd);
	close(m->epfd);
	free(m->c);
}

static int
mode_echo_many(int argc, char **argv)
{
	struct opts o = { .size = 64, .rounds = 1, .timeout = 30 };
	struct epoll_event ev[256];
	struct many m;
	double deadline;

	parse_opts(argc, argv, "anrst", &o);
	need_addr(&o, true);
	if (o.n == 0)
		usage("-n N is required");
	if (o.size < 1)
		usage("-s must be at least 1");
	if (o.addr.socktype == SOCK_SEQPACKET && o.size > 65536)
		usage("-s at most 65536 on seqpacket");
	deadline = now() + o.timeout;
	many_init(&m, &o);
	many_connect_all(&m, deadline, false);

	/* All open at once: now every one echoes its rounds. */
	for (long i = 0; i < m.n; i++) {
		m.c[i].state = C_ECHO;
		many_ctl(&m, EPOLL_CTL_MOD, i, EPOLLIN | EPOLLOUT | EPOLLRDHUP);
	}
	while (m.done < m.n) {
		int k;

		if (now() >= deadline)
			fail("timeout: %ld of %ld connections to %s finished their %ld rounds",
			     m.done, m.n, o.addr.text, o.rounds);
		k = epoll_wait(m.epfd, ev, 256, ms_left(deadline));
		if (k == -1 && errno != EINTR)
			fail("epoll_wait: %s", strerror(errno));
		for (int j = 0; j < k; j++) {
			long i = (long)ev[j].data.u64;

			if (m.c[i].state == C_ECHO)
				many_echo(&m, i);
			else if (m.c[i].state == C_DONE)
				many_unexpected(&m, i, false);
		}
	}
	many_close_all(&m);
	printf("ok: %ld connections, %lld bytes verified\n", o.n, (long long)o.n * o.rounds * o.size);
	return 0;
}

static int
mode_hold(int argc, char **argv)
{
	struct opts o = { .timeout = 30 };
	struct pollfd pfd[2];
	struct many m;
	struct stat st;
	double deadline;
	bool watch_stdin;

	parse_opts(argc, argv, "ant", &o);
	need_addr(&o, true);
	if (o.n == 0)
		usage("-n N is required");
	deadline = now() + o.timeout;
	many_init(&m, &o);
	many_connect_all(&m, deadline, true);
	printf("held %ld\n", o.n);
	fflush(stdout);

	/* Only a pipe, socket or terminal can "close": a background job's
	 * stdin is /dev/null, which would end the hold at once. */
	watch_stdin = fstat(0, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ||
					     isatty(0));
	pfd[0] = (struct pollfd){ .fd = watch_stdin ? 0 : -1, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = m.epfd, .events = POLLIN };
	for (;;) {
		struct epoll_event ev[256];
		int r = poll(pfd, 2, ms_left(deadline));

		if (r == -1 && errno != EINTR)
			fail("poll: %s", strerror(errno));
		if (r == 0)
			break;
		if (pfd[0].revents) {
			char b[256];
			ssize_t n = read(0, b, sizeof(b));

			if (n <= 0)
				break;
		}
		if (pfd[1].revents) {
			int k = epoll_wait(m.epfd, ev, 256, 0);

			for (int j = 0; j < k; j++) {
				long i = (long)ev[j].data.u64;

				if (m.c[i].state == C_OPEN)
					many_unexpected(&m, i, true);
			}
		}
	}
	if (m.peer_closed)
		fprintf(stderr, "tclient hold: %ld of %ld connections were closed by the server\n",
			m.peer_closed, m.n);
	many_close_all(&m);
	return 0;
}

/* ---------------------------------------------------------------- echo */

static int
echo_stream(const struct opts *o, double deadline)
{
	size_t size = o->size;
	uint8_t *out = malloc(size + 1), *in = malloc(size + 1);
	size_t sent = 0, got = 0;
	bool shut = false;
	int fd;

	if (!out || !in)
		fail("out of memory");
	random_fill(out, size);
	fd = connect_one(&o->addr, deadline);
	for (;;) {
		short ev = POLLIN | (shut ? 0 : POLLOUT);
		short rev;

		if (sent == size && !shut) {
			if (shutdown(fd, SHUT_WR) == -1)
				fail("shutdown: %s", strerror(errno));
			shut = true;
			continue;
		}
		rev = wait_fd(fd, ev, deadline);
		if (!rev)
			fail("timeout: sent %zu of %zu bytes, got %zu back", sent, size, got);
		if ((rev & POLLOUT) && sent < size) {
			ssize_t w = send(fd, out + sent, size - sent, MSG_NOSIGNAL);

			if (w == -1 && errno != EAGAIN && errno != EINTR)
				fail("send after %zu bytes: %s", sent, strerror(errno));
			if (w > 0)
				sent += w;
		}
		if (rev & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, in + got, size + 1 - got, 0);

			if (r == -1 && errno != EAGAIN && errno != EINTR)
				fail("recv after %zu bytes: %s", got, strerror(errno));
			if (r == 0)
				break;
			if (r > 0) {
				if (got + r > size)
					fail("more bytes back than sent (%zu)", size);
				compare(in + got, out + got, r, got, "echo");
				got += r;
			}
		}
	}
	if (!shut)
		fail("closed by the server after %zu of %zu bytes sent", sent, size);
	if (got != size)
		fail("EOF after %zu of %zu bytes echoed", got, size);
	if (o->addr.protocol == IPPROTO_MPTCP) {
		/* 1 only when both ends spoke MPTCP (no fallback to TCP). */
		int is_mptcp = -1;
		socklen_t len = sizeof(is_mptcp);

		getsockopt(fd, IPPROTO_TCP, TCP_IS_MPTCP_OPT, &is_mptcp, &len);
		printf("mptcp %d\n", is_mptcp);
	}
	close(fd);
	free(in);
	free(out);
	return 0;
}

/* Seqpacket: records of chunk bytes (default: one record of size), each
 * must come back as one record of the same length: a server that merges or
 * splits records fails here. */
static int
echo_seqpacket(const struct opts *o, double deadline)
{
	size_t size = o->size, chunk = o->chunk ? (size_t)o->chunk : size;
	size_t nrec = chunk ? (size + chunk - 1) / chunk : 0, sent = 0, got = 0, rec = 0;
	uint8_t *out, *in;
	bool shut = false;
	int fd;

	if (chunk == 0)
		chunk = 1;
	if (size == 0)
		nrec = 0;
	out = malloc(size + 1);
	in = malloc(chunk + 1);
	if (!out || !in)
		fail("out of memory");
	random_fill(out, size);
	fd = connect_one(&o->addr, deadline);
	for (;;) {
		short rev;

		if (sent == size && !shut) {
			if (shutdown(fd, SHUT_WR) == -1)
				fail("shutdown: %s", strerror(errno));
			shut = true;
		}
		rev = wait_fd(fd, POLLIN | (shut ? 0 : POLLOUT), deadline);
		if (!rev)
			fail("timeout: sent %zu of %zu bytes, got %zu records of %zu back", sent,
			     size, rec, nrec);
		if ((rev & POLLOUT) && sent < size) {
			size_t n = size - sent < chunk ? size - sent : chunk;
			ssize_t w = send(fd, out + sent, n, MSG_NOSIGNAL);

			if (w == -1 && errno != EAGAIN && errno != EINTR)
				fail("send: %s", strerror(errno));
			if (w > 0 && (size_t)w != n)
				fail("short seqpacket send: %zd of %zu", w, n);
			if (w > 0)
				sent += w;
		}
		if (rev & (POLLIN | POLLHUP | POLLERR)) {
			size_t want = size - got < chunk ? size - got : chunk;
			ssize_t r = recv(fd, in, chunk + 1, MSG_TRUNC);

			if (r == -1 && errno != EAGAIN && errno != EINTR)
				fail("recv: %s", strerror(errno));
			if (r == 0)
				break;
			if (r > 0) {
				if (rec >= nrec)
					fail("record %zu of %zd bytes back, only %zu sent", rec + 1,
					     r, nrec);
				if ((size_t)r != want)
					fail("record %zu came back with %zd bytes, sent %zu "
					     "(message boundaries not kept)", rec + 1, r, want);
				compare(in, out + got, r, got, "seqpacket echo");
				got += r;
				rec++;
			}
		}
	}
	if (!shut)
		fail("closed by the server after %zu of %zu bytes sent", sent, size);
	if (rec != nrec)
		fail("EOF after %zu of %zu records echoed", rec, nrec);
	close(fd);
	free(in);
	free(out);
	return 0;
}

static int
echo_dgram(const struct opts *o, double deadline)
{
	size_t size = o->size;
	uint8_t *out = malloc(size + 1), *in = malloc(size + 1);
	int fd = dgram_socket(&o->addr, o->bind, true);

	if (!out || !in)
		fail("out of memory");
	random_fill(out, size);
	/* Resend once a second: loopback may still drop under load. */
	for (int attempt = 0;; attempt++) {
		double until = now() + 1.0;

		if (send(fd, out, size, 0) != (ssize_t)size)
			fail("send %zu bytes: %s", size, strerror(errno));
		if (until > deadline)
			until = deadline;
		while (wait_fd(fd, POLLIN, until)) {
			ssize_t r = recv(fd, in, size + 1, MSG_TRUNC | MSG_DONTWAIT);

			if (r == -1 && errno == EAGAIN)
				continue;
			if (r == -1)
				fail("recv: %s", strerror(errno));
			if ((size_t)r != size)
				fail("reply of %zd bytes to a datagram of %zu", r, size);
			compare(in, out, size, 0, "datagram echo");
			close(fd);
			unlink_bind(o->bind);
			free(in);
			free(out);
			return 0;
		}
		if (now() >= deadline)
			fail("no reply from %s after %d tries", o->addr.text, attempt + 1);
	}
}

static int
mode_echo(int argc, char **argv)
{
	struct opts o = { .size = 4096, .timeout = 30 };
	double deadline;
	int r;

	parse_opts(argc, argv, "ascBt", &o);
	need_addr(&o, false);
	deadline = now() + o.timeout;
	if (o.addr.socktype == SOCK_STREAM)
		r = echo_stream(&o, deadline);
	else if (o.addr.socktype == SOCK_SEQPACKET)
		r = echo_seqpacket(&o, deadline);
	else
		r = echo_dgram(&o, deadline);
	printf("ok\n");
	return r;
}

/* ---------------------------------------------------------------- fastopen */

/* ROUNDS connections, each sending SIZE bytes with sendto(MSG_FASTOPEN):
 * in the SYN once the client holds the server's cookie (from the first
 * round on), after the handshake otherwise; each must be echoed. Prints
 * "syn-data N": the rounds whose data the kernel put in the SYN. */
static int
mode_fastopen(int argc, char **argv)
{
	struct opts o = { .size = 64, .rounds = 2, .timeout = 20 };
	double deadline;
	long in_syn = 0;

	parse_opts(argc, argv, "asrt", &o);
	need_addr(&o, true);
	if (o.addr.family == AF_UNIX || o.size < 1 || o.size > 1000)
		usage("fastopen needs a tcp address and -s 1..1000");
	deadline = now() + o.timeout;
	for (long r = 0; r < o.rounds; r++) {
		char out[1000], in[1001];
		size_t got = 0, sent = 0;
		ssize_t w;
		int fd = new_socket(&o.addr);

		for (long j = 0; j < o.size; j++)
			out[j] = (char)('a' + (r + j) % 26);
		w = sendto(fd, out, (size_t)o.size, MSG_FASTOPEN | MSG_NOSIGNAL,
			   (struct sockaddr *)&o.addr.sa, o.addr.len);
		if (w > 0) {
			sent = (size_t)w;
			in_syn++;
		} else if (errno != EINPROGRESS) {
			fail("round %ld: sendto(MSG_FASTOPEN): %s", r, strerror(errno));
		}
		while (got < (size_t)o.size) {
			short rev = wait_fd(fd, POLLIN | (sent < (size_t)o.size ? POLLOUT : 0), deadline);
			ssize_t n;

			if (!rev)
				fail("round %ld: timeout, %zu of %ld bytes back", r, got, o.size);
			if ((rev & POLLOUT) && sent < (size_t)o.size) {
				w = send(fd, out + sent, (size_t)o.size - sent, MSG_NOSIGNAL);
				if (w == -1 && errno != EAGAIN)
					fail("round %ld: send: %s", r, strerror(errno));
				if (w > 0)
					sent += (size_t)w;
			}
			if (!(rev & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(fd, in + got, sizeof(in) - 1 - got, MSG_DONTWAIT);
			if (n == 0)
				fail("round %ld: EOF after %zu bytes", r, got);
			if (n < 0 && errno != EAGAIN)
				fail("round %ld: recv: %s", r, strerror(errno));
			if (n > 0)
				got += (size_t)n;
		}
		if (memcmp(in, out, (size_t)o.size) != 0)
			fail("round %ld: echo differs", r);
		close(fd);
	}
	printf("syn-data %ld\n", in_syn);
	return 0;
}

/* ---------------------------------------------------------------- urgent */

/* Per round, three quick sends: "a<round>-", one urgent byte (MSG_OOB),
 * "-b<round>". A relay's read stops short of the urgent mark with the
 * rest already queued behind it; the echo must still bring back both
 * ordinary parts (the urgent byte is out of band: it is not relayed). */
static int
mode_urgent(int argc, char **argv)
{
	struct opts o = { .rounds = 20, .timeout = 20 };
	double deadline;
	int fd, one = 1;

	parse_opts(argc, argv, "art", &o);
	need_addr(&o, true);
	if (o.addr.family == AF_UNIX)
		usage("urgent data needs TCP");
	deadline = now() + o.timeout;
	fd = connect_one(&o.addr, deadline);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (long r = 0; r < o.rounds; r++) {
		char a[32], b[32], want[64], got[64];
		size_t have = 0, len;

		snprintf(a, sizeof(a), "a%ld-", r);
		snprintf(b, sizeof(b), "-b%ld", r);
		len = (size_t)snprintf(want, sizeof(want), "%s%s", a, b);
		if (send(fd, a, strlen(a), MSG_NOSIGNAL) != (ssize_t)strlen(a) ||
		    send(fd, "!", 1, MSG_OOB | MSG_NOSIGNAL) != 1 ||
		    send(fd, b, strlen(b), MSG_NOSIGNAL) != (ssize_t)strlen(b))
			fail("round %ld: send: %s", r, strerror(errno));
		while (have < len) {
			ssize_t n;

			if (!(wait_fd(fd, POLLIN, deadline) & (POLLIN | POLLHUP | POLLERR)))
				fail("round %ld: %zu of %zu bytes back before the timeout (\"%.*s\")",
				     r, have, len, (int)have, got);
			n = recv(fd, got + have, len - have, MSG_DONTWAIT);
			if (n == 0)
				fail("round %ld: EOF after %zu of %zu bytes", r, have, len);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				fail("round %ld: recv: %s", r, strerror(errno));
			if (n > 0)
				have += (size_t)n;
		}
		if (memcmp(got, want, len) != 0)
			fail("round %ld: got \"%.*s\", want \"%s\"", r, (int)len, got, want);
	}
	close(fd);
	printf("ok\n");
	return 0;
}

/* ------------------------------------------------------------- bulk-tail */

/* SIZE bytes in large writes, then N messages of 16 bytes, one send each
 * (TCP_NODELAY: a segment each), all echoed back while the connection
 * stays open both ways. A relay that moved the bulk with splice and then
 * takes a short read for "nothing left" would strand the small messages
 * queued behind it (a splice read also stops when its pipe has no slot
 * left): no EOF comes to wake it. */
static int
mode_bulk_tail(int argc, char **argv)
{
	struct opts o = { .size = 1000000, .timeout = 30 };
	size_t total, bulk, sent = 0, got = 0;
	uint8_t *out, *in;
	double deadline;
	int fd, one = 1;

	parse_opts(argc, argv, "asnt", &o);
	need_addr(&o, true);
	if (o.n < 1 || o.n > 100000)
		usage("-n N (1..100000) is required");
	bulk = (size_t)o.size;
	total = bulk + (size_t)o.n * 16;
	out = malloc(total);
	in = malloc(total);
	if (!out || !in)
		fail("out of memory");
	random_fill(out, total);
	deadline = now() + o.timeout;
	fd = connect_one(&o.addr, deadline);
	if (o.addr.family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (got < total) {
		short rev = wait_fd(fd, POLLIN | (sent < total ? POLLOUT : 0), deadline);

		if (!rev)
			fail("timeout: sent %zu of %zu bytes (%zu of them bulk), got %zu back",
			     sent, total, bulk, got);
		if ((rev & POLLOUT) && sent < total) {
			size_t len = sent < bulk ? bulk - sent : 16;
			ssize_t w = send(fd, out + sent, len, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w == -1 && errno != EAGAIN && errno != EINTR)
				fail("send after %zu bytes: %s", sent, strerror(errno));
			if (w > 0)
				sent += (size_t)w;
		}
		if (rev & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, in + got, total - got, MSG_DONTWAIT);

			if (r == 0)
				fail("EOF after %zu of %zu bytes echoed", got, total);
			if (r == -1 && errno != EAGAIN && errno != EINTR)
				fail("recv after %zu bytes: %s", got, strerror(errno));
			if (r > 0) {
				compare(in + got, out + got, (size_t)r, got, "echo");
				got += (size_t)r;
			}
		}
	}
	close(fd);
	free(in);
	free(out);
	printf("ok\n");
	return 0;
}

/* ---------------------------------------------------------------- noread */

static int
mode_noread(int argc, char **argv)
{
	struct opts o = { .bytes = 256LL << 20, .timeout = 60 };
	static uint8_t buf[65536];
	long long sent = 0;
	double deadline;
	bool timed_out = false;
	int fd;

	parse_opts(argc, argv, "abth", &o);
	need_addr(&o, true);
	deadline = now() + o.timeout;
	random_fill(buf, sizeof(buf));
	fd = connect_one(&o.addr, deadline);
	while (sent < o.bytes) {
		size_t n = o.bytes - sent < (long long)sizeof(buf) ? (size_t)(o.bytes - sent) : sizeof(buf);
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		double until;

		if (w > 0) {
			sent += w;
			continue;
		}
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno != EAGAIN)
			fail("send after %lld bytes: %s", sent, strerror(errno));
		until = now() + 2.0;
		if (until > deadline)
			until = deadline;
		if (!wait_fd(fd, POLLOUT, until)) {
			timed_out = now() >= deadline;
			break;
		}
	}
	printf("sent %lld\n", sent);
	fflush(stdout);
	if (timed_out)
		fprintf(stderr, "tclient noread: stopped by the %g s timeout, still sending\n",
			o.timeout);
	if (o.hold > 0) {
		double end = now() + o.hold;

		while (now() < end)
			usleep(ms_left(end) > 100 ? 100000 : ms_left(end) * 1000);
	}
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------- chargen */

static int
chargen_stream(const struct opts *o, double deadline)
{
	uint8_t buf[65536], want[sizeof(buf)];
	long long got = 0;
	int fd = connect_one(&o->addr, deadline);

	/* -H: shut down our write side first; a half-close is not a close,
	 * so the stream must go on. */
	if (o->halfclose && shutdown(fd, SHUT_WR) == -1)
		fail("shutdown: %s", strerror(errno));
	while (got < o->bytes) {
		size_t n = o->bytes - got < (long long)sizeof(buf) ? (size_t)(o->bytes - got) : sizeof(buf);
		ssize_t r = recv(fd, buf, n, 0);

		if (r == -1 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_fd(fd, POLLIN, deadline))
				fail("timeout after %lld of %lld bytes", got, o->bytes);
			continue;
		}
		if (r == -1)
			fail("recv after %lld bytes: %s", got, strerror(errno));
		if (r == 0)
			fail("EOF after %lld of %lld bytes", got, o->bytes);
		for (ssize_t i = 0; i < r; i++)
			want[i] = chargen_byte(got + i);
		compare(buf, want, r, got, "chargen");
		got += r;
	}
	close(fd);
	printf("ok\n");
	return 0;
}

static int
chargen_dgram(const struct opts *o, double deadline)
{
	uint8_t buf[CG_DGRAM_MAX * 4], want[sizeof(buf)];
	int fd = dgram_socket(&o->addr, o->bind, true);
	long min = LONG_MAX, max = -1;

	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = chargen_byte(i);
	for (int k = 0; k < 20; k++) {
		ssize_t r = -1;

		/* One at a time; resend after a second of silence. */
		for (int attempt = 0; r < 0; attempt++) {
			double until = now() + 1.0;

			if (until > deadline)
				until = deadline;
			if (send(fd, "x", 1, 0) != 1)
				fail("send: %s", strerror(errno));
			while (r < 0 && wait_fd(fd, POLLIN, until)) {
				r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
				if (r == -1 && errno != EAGAIN)
					fail("recv: %s", strerror(errno));
			}
			if (r < 0 && now() >= deadline)
				fail("no reply to datagram %d after %d tries", k + 1, attempt + 1);
		}
		if (r > CG_DGRAM_MAX)
			fail("reply %d is %zd bytes, more than %d", k + 1, r, CG_DGRAM_MAX);
		compare(buf, want, r, 0, "chargen datagram");
		if (r < min)
			min = r;
		if (r > max)
			max = r;
	}
	close(fd);
	unlink_bind(o->bind);
	printf("ok lengths %ld..%ld\n", min, max);
	return 0;
}

static int
mode_chargen(int argc, char **argv)
{
	struct opts o = { .bytes = 65536, .timeout = 30 };

	parse_opts(argc, argv, "abBtH", &o);
	need_addr(&o, false);
	if (is_stream(&o.addr))
		return chargen_stream(&o, now() + o.timeout);
	return chargen_dgram(&o, now() + o.timeout);
}

/* ---------------------------------------------------------------- notify */

static int
mode_notify(int argc, char **argv)
{
	struct opts o = { .timeout = 60 };
	struct taddr a;
	double deadline, stop_at = 0;
	static char buf[65536];
	int fd;

	parse_opts(argc, argv, "pt", &o);
	if (!o.path)
		usage("-p PATH is required");
	if (parse_unix(o.path, &a) < 0)
		usage("bad path '%s'", o.path);
	a.text = o.path;
	a.socktype = SOCK_DGRAM;
	fd = new_socket(&a);
	if (o.path[0] != '@')
		unlink(o.path);
	if (bind(fd, (struct sockaddr *)&a.sa, a.len) == -1)
		fail("bind %s: %s", o.path, strerror(errno));
	deadline = now() + o.timeout;
	for (;;) {
		double until = stop_at > 0 && stop_at < deadline ? stop_at : deadline;
		ssize_t r;

		if (!wait_fd(fd, POLLIN, until))
			break;
		r = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r == -1)
			fail("recv: %s", strerror(errno));
		fwrite(buf, 1, r, stdout);
		fputc('\n', stdout);
		fflush(stdout);
		buf[r] = '\0';
		if (stop_at == 0 && (strncmp(buf, "STOPPING=1", 10) == 0 || strstr(buf, "\nSTOPPING=1")))
			stop_at = now() + 1.0;
	}
	close(fd);
	if (o.path[0] != '@')
		unlink(o.path);
	return 0;
}

/* ---------------------------------------------------------------- dgram */

static int
mode_dgram(int argc, char **argv)
{
	struct opts o = { .timeout = 2 };
	static uint8_t buf[65536];
	const char *msg;
	double deadline;
	ssize_t r = -1;
	int fd;

	parse_opts(argc, argv, "amBrtx", &o);
	need_addr(&o, false);
	if (is_stream(&o.addr))
		usage("'%s' is not a datagram address", o.addr.text);
	msg = o.message ? o.message : "";
	fd = dgram_socket(&o.addr, o.bind, false);
	deadline = now() + o.timeout;
	/* -r N: send up to N times, a second apart, as a real client
	 * retransmits a datagram the network (or a full socket buffer) lost. */
	for (long sent = 0; r < 0 && now() < deadline; sent++) {
		double wait_until = deadline;

		if (sent < (o.rounds > 0 ? o.rounds : 1)) {
			if (send(fd, msg, strlen(msg), 0) == -1)
				fail("send to %s: %s", o.addr.text, strerror(errno));
			if (sent + 1 < o.rounds && now() + 1 < deadline)
				wait_until = now() + 1;
		}
		while (r < 0 && wait_fd(fd, POLLIN, wait_until)) {
			r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r == -1 && errno != EAGAIN && errno != EINTR)
				fail("recv from %s: %s", o.addr.text, strerror(errno));
		}
	}
	close(fd);
	unlink_bind(o.bind);
	if (r < 0) {
		fprintf(stderr, "tclient dgram: no reply from %s within %g s\n", o.addr.text,
			o.timeout);
		return EXIT_NOREPLY;
	}
	if (o.hex) {
		for (ssize_t i = 0; i < r; i++)
			printf("%02x", buf[i]);
		printf("\n");
	} else {
		fwrite(buf, 1, r, stdout);
	}
	fflush(stdout);
	return 0;
}

/* ---------------------------------------------------------------- dgram-burst */

/* Datagram i of a burst: its index, then bytes that depend on it. Every
 * fifth is half as long, so equal-sized runs end in shorter ones. */
static size_t
burst_fill(uint8_t *buf, uint32_t i, size_t size)
{
	size_t len = i % 5 == 4 ? size / 2 : size;

	if (len < 4)
		len = 4;
	memcpy(buf, &i, 4);
	for (size_t k = 4; k < len; k++)
		buf[k] = (uint8_t)(i * 31 + k);
	return len;
}

/* Send N datagrams back to back from one socket to an echo endpoint, then
 * expect each back once, whole and separate, in any order: what a server
 * that batches its replies (sendmmsg, UDP_SEGMENT trains) must still do. */
static int
mode_dgram_burst(int argc, char **argv)
{
	struct opts o = { .timeout = 5, .size = 64 };
	static uint8_t buf[65536], want[65536];
	static bool seen[256];
	int fd, got = 0, rcvbuf = 1 << 20;
	double deadline;

	parse_opts(argc, argv, "anst", &o);
	need_addr(&o, false);
	if (is_stream(&o.addr))
		usage("'%s' is not a datagram address", o.addr.text);
	if (o.n > 256)
		usage("-n at most 256");
	if (o.size < 4 || o.size > 8192)
		usage("-s must be 4..8192");
	fd = dgram_socket(&o.addr, NULL, true);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	for (uint32_t i = 0; i < (uint32_t)o.n; i++) {
		size_t len = burst_fill(buf, i, (size_t)o.size);

		if (send(fd, buf, len, 0) != (ssize_t)len)
			fail("send %u to %s: %s", i, o.addr.text, strerror(errno));
	}
	deadline = now() + o.timeout;
	while (got < o.n && wait_fd(fd, POLLIN, deadline)) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		uint32_t i;
		size_t len;

		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 4)
			fail("reply %d from %s: %zd bytes (%s)", got, o.addr.text, r,
			     r < 0 ? strerror(errno) : "too short");
		memcpy(&i, buf, 4);
		if (i >= (uint32_t)o.n || seen[i])
			fail("reply %d: index %u is unknown or repeated", got, i);
		len = burst_fill(want, i, (size_t)o.size);
		if ((size_t)r != len)
			fail("reply to datagram %u: %zd bytes, expected %zu", i, r, len);
		compare(buf, want, len, 0, "dgram-burst reply");
		seen[i] = true;
		got++;
	}
	close(fd);
	if (got < o.n) {
		fprintf(stderr, "tclient dgram-burst: %d of %ld replies from %s within %g s\n", got, o.n,
			o.addr.text, o.timeout);
		return EXIT_NOREPLY;
	}
	printf("ok %d replies\n", got);
	return 0;
}

/* ---------------------------------------------------------------- dgram-flood */

#define FLOOD_MAX       4000
#define FLOOD_PACE      64      /* datagrams between short pauses, so the server's
				 * receive buffer is not what drops them */

/* One datagram from each of N sockets, so from N source ports, all open
 * at once (so the ports differ): what a session table sees from a flood. */
static int
mode_dgram_flood(int argc, char **argv)
{
	struct opts o = { .timeout = 30 };
	static int fds[FLOOD_MAX];
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	struct rlimit rl;
	double deadline;
	long sent = 0;

	parse_opts(argc, argv, "anBt", &o);
	need_addr(&o, false);
	if (is_stream(&o.addr))
		usage("'%s' is not a datagram address", o.addr.text);
	if (o.n < 1 || o.n > FLOOD_MAX)
		usage("-n must be 1..%d", FLOOD_MAX);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	deadline = now() + o.timeout;
	for (long i = 0; i < o.n; i++) {
		fds[i] = dgram_socket(&o.addr, o.bind, true);
		if (send(fds[i], "flood", 5, 0) == 5)
			sent++;
		if (i % FLOOD_PACE == FLOOD_PACE - 1)
			nanosleep(&pause, NULL);
		if (now() > deadline)
			fail("%ld of %ld datagrams sent within %g s", sent, o.n, o.timeout);
	}
	for (long i = 0; i < o.n; i++)
		close(fds[i]);
	printf("ok %ld sent\n", sent);
	return 0;
}

/* ---------------------------------------------------------------- dgram-keep */

#define KEEP_TAIL 5

/* A client that keeps using its session: one socket, datagram k every
 * INTERVAL, each answered (by an echo) within INTERVAL or counted lost.
 * Prints "port P" first, then one line per datagram. Once STOPFILE
 * exists, it sends KEEP_TAIL more and ends. */
static int
mode_dgram_keep(int argc, char **argv)
{
	struct opts o = { .timeout = 60, .hold = 0.2 };
	struct sockaddr_storage me;
	socklen_t me_len = sizeof(me);
	double deadline;
	long answered = 0, sent = 0, tail = 0, left = -1;
	int fd;

	parse_opts(argc, argv, "anhBtp", &o);
	need_addr(&o, false);
	if (is_stream(&o.addr) || o.addr.family == AF_UNIX)
		usage("'%s' is not a UDP address", o.addr.text);
	if (o.n < KEEP_TAIL || o.n > 100000)
		usage("-n must be %d..100000", KEEP_TAIL);
	fd = dgram_socket(&o.addr, o.bind, false);
	if (getsockname(fd, (struct sockaddr *)&me, &me_len) == -1)
		fail("getsockname: %s", strerror(errno));
	printf("port %u\n", ntohs(me.ss_family == AF_INET ? ((struct sockaddr_in *)&me)->sin_port :
				   ((struct sockaddr_in6 *)&me)->sin6_port));
	fflush(stdout);
	deadline = now() + o.timeout;
	for (long k = 0; k < o.n && left != 0 && now() < deadline; k++) {
		char msg[32], buf[64];
		double round_end = now() + o.hold;
		int len = snprintf(msg, sizeof(msg), "keep %ld", k);
		bool ok = false;

		if (send(fd, msg, (size_t)len, 0) != len && errno != ECONNREFUSED)
			fail("send to %s: %s", o.addr.text, strerror(errno));
		while (wait_fd(fd, POLLIN, round_end)) {
			ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

			if (r == len && memcmp(buf, msg, (size_t)len) == 0)
				ok = true;      /* earlier, late replies are skipped */
		}
		sent++;
		answered += ok;
		tail = ok ? tail + 1 : 0;
		if (left > 0)
			left--;
		else if (left < 0 && o.path && access(o.path, F_OK) == 0)
			left = KEEP_TAIL;
		printf("%ld %s\n", k, ok ? "ok" : "lost");
		fflush(stdout);
	}
	close(fd);
	printf("answered %ld of %ld\n", answered, sent);
	if (tail < KEEP_TAIL) {
		fprintf(stderr, "tclient dgram-keep: the last %d datagrams were not all answered\n", KEEP_TAIL);
		return EXIT_NOREPLY;
	}
	return 0;
}

/* ---------------------------------------------------------------- connect-rst */

static int
mode_connect_rst(int argc, char **argv)
{
	struct opts o = { .timeout = 30 };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	double deadline;

	parse_opts(argc, argv, "antp", &o);
	need_addr(&o, true);
	if (o.n == 0)
		usage("-n N is required");
	deadline = now() + o.timeout;
	for (long i = 0; i < o.n; i++) {
		int fd = connect_one(&o.addr, deadline);

		send_all(fd, "hello\r\n", 7, deadline, o.addr.text);
		/* -p FILE: say so, and reset only once FILE exists. */
		if (o.path) {
			printf("connected %ld\n", i + 1);
			fflush(stdout);
			while (access(o.path, F_OK) == -1) {
				struct timespec ts = { 0, 20 * 1000 * 1000 };

				if (now() > deadline)
					fail("%s did not appear within the time limit", o.path);
				nanosleep(&ts, NULL);
			}
		}
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == -1)
			fail("SO_LINGER: %s", strerror(errno));
		close(fd);
	}
	printf("ok: %ld resets\n", o.n);
	return 0;
}

/* ---------------------------------------------------------------- TLS ClientHello */

static size_t
put_be(uint8_t *p, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	return (size_t)bytes;
}

/* A TLS 1.2 ClientHello that OpenSSL's s_server answers with an ECDSA or
 * RSA certificate (ECDHE, AES-GCM), written from RFC 5246 and RFC 6066,
 * not from src/tls_hello.c. Returns the handshake message's length. */
static size_t
build_hello(uint8_t *m, size_t cap, const char *sni, size_t pad)
{
	static const uint8_t fixed_ext[] = {
		0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17,     /* groups x25519, P-256 */
		0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,                             /* point formats */
		0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, /* sigalgs */
		0xff, 0x01, 0x00, 0x01, 0x00,                                   /* renegotiation_info */
	};
	static const uint8_t suites[] = { 0x00, 0x06, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9c };
	size_t n = 4, ext_at, nlen = sni ? strlen(sni) : 0;

	if (cap < 4 + 2 + 32 + 1 + sizeof(suites) + 2 + 2 + 9 + nlen + sizeof(fixed_ext) + 4 + pad)
		fail("hello of %zu bytes padding does not fit", pad);
	n += put_be(m + n, 0x0303, 2);
	random_fill(m + n, 32);
	n += 32;
	m[n++] = 0;                             /* no session id */
	memcpy(m + n, suites, sizeof(suites));
	n += sizeof(suites);
	m[n++] = 1;                             /* compression: null */
	m[n++] = 0;
	ext_at = n;
	n += 2;
	if (sni) {
		n += put_be(m + n, 0, 2);
		n += put_be(m + n, (uint32_t)(nlen + 5), 2);
		n += put_be(m + n, (uint32_t)(nlen + 3), 2);
		m[n++] = 0;                     /* host_name */
		n += put_be(m + n, (uint32_t)nlen, 2);
		memcpy(m + n, sni, nlen);
		n += nlen;
	}
	memcpy(m + n, fixed_ext, sizeof(fixed_ext));
	n += sizeof(fixed_ext);
	if (pad > 0) {
		n += put_be(m + n, 0x0015, 2);  /* padding (RFC 7685) */
		n += put_be(m + n, (uint32_t)pad, 2);
		memset(m + n, 0, pad);
		n += pad;
	}
	put_be(m + ext_at, (uint32_t)(n - ext_at - 2), 2);
	m[0] = 1;                               /* client_hello */
	put_be(m + 1, (uint32_t)(n - 4), 3);
	return n;
}

static int
mode_tls_hello(int argc, char **argv)
{
	struct opts o = { .n = 16384, .chunk = 1 << 30, .timeout = 10 };
	static uint8_t msg[70000], wire[80000];
	size_t len, wlen = 0, off = 0;
	uint8_t reply[7];
	size_t got = 0;
	double deadline;
	int fd, one = 1;

	parse_opts(argc, argv, "amsncht", &o);
	need_addr(&o, true);
	if (o.n > 16384)
		usage("-n: a record holds at most 16384 bytes");
	deadline = now() + o.timeout;
	len = build_hello(msg, sizeof(msg), o.message, (size_t)o.size);
	while (off < len) {
		size_t r = len - off < (size_t)o.n ? len - off : (size_t)o.n;

		wire[wlen++] = 22;
		wlen += put_be(wire + wlen, 0x0301, 2);
		wlen += put_be(wire + wlen, (uint32_t)r, 2);
		memcpy(wire + wlen, msg + off, r);
		wlen += r;
		off += r;
	}
	fd = connect_one(&o.addr, deadline);
	if (o.addr.family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (off = 0; off < wlen;) {
		size_t c = wlen - off < (size_t)o.chunk ? wlen - off : (size_t)o.chunk;

		if (off > 0 && o.hold > 0)
			usleep((useconds_t)(o.hold * 1e6));
		send_all(fd, wire + off, c, deadline, "ClientHello");
		off += c;
	}
	while (got < sizeof(reply)) {
		ssize_t r;

		if (!wait_fd(fd, POLLIN, deadline)) {
			if (got == 0) {
				printf("timeout\n");
				close(fd);
				return 0;
			}
			break;
		}
		r = recv(fd, reply + got, sizeof(reply) - got, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == ECONNRESET && got == 0) {
			printf("reset\n");
			close(fd);
			return 0;
		}
		if (r == -1)
			fail("recv: %s", strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	if (got == 0)
		printf("eof\n");
	else if (reply[0] == 21 && got >= 7)
		printf("reply type=21 alert=%u\n", reply[6]);
	else
		printf("reply type=%u\n", reply[0]);
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------- main */

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} modes[] = {
		{ "echo-many", mode_echo_many },
		{ "echo", mode_echo },
		{ "noread", mode_noread },
		{ "chargen", mode_chargen },
		{ "hold", mode_hold },
		{ "notify", mode_notify },
		{ "dgram", mode_dgram },
		{ "connect-rst", mode_connect_rst },
		{ "dgram-burst", mode_dgram_burst },
		{ "urgent", mode_urgent },
		{ "fastopen", mode_fastopen },
		{ "bulk-tail", mode_bulk_tail },
		{ "dgram-flood", mode_dgram_flood },
		{ "dgram-keep", mode_dgram_keep },
		{ "tls-hello", mode_tls_hello },
	};

	signal(SIGPIPE, SIG_IGN);
	rng_seed();
	if (argc < 2)
		usage("no mode given");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].name) == 0) {
			mode = modes[i].name;
			return modes[i].run(argc - 2, argv + 2);
		}
	}
	usage("unknown mode '%s'", argv[1]);
}
