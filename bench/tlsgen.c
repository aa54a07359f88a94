/* tlsgen: TLS load generator for bench/tls-run (issue 18's TLS bench).
 *
 *   tlsgen hs       -a ADDR [-c INFLIGHT] [-r] [-s SIGALGS] [-d SECS] [-w SECS]
 *            connections per second, each a full (or with -r resumed)
 *            handshake and one 1-byte echo round trip, INFLIGHT at a time;
 *            with -r each of the INFLIGHT slots resumes the session its
 *            previous connection left (OpenSSL's client uses a TLS 1.3
 *            session once: one session shared by all slots would be dead
 *            from the first resumption with it until the next connection
 *            finished, and the rest would be full handshakes)
 *   tlsgen pingpong -a ADDR [-c CONNS] [-z SIZE] [-d SECS] [-w SECS]
 *            round trips per second of SIZE bytes over CONNS connections
 *   tlsgen bulk     -a ADDR [-c CONNS] [-d SECS] [-w SECS]
 *            MB/s echoed back, each connection keeping 256 KiB in flight
 *   tlsgen idle     -a ADDR -n N [-h SECS]
 *            N connections, each with its handshake done; prints
 *            "held N" and holds them SECS (or until stdin closes)
 *
 * One thread, one epoll loop, non-blocking OpenSSL; certificates are not
 * verified (the servers use the same test certificates, and verification
 * costs the client the same for all of them). -s picks what the server
 * must sign with ("ECDSA+SHA256" or "RSA-PSS+SHA256:RSA+SHA256") when it
 * has both kinds. Prints one line "RESULT <figure>".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_addr.h"

enum mode { M_HS, M_PINGPONG, M_BULK, M_IDLE };
enum st { S_CONNECTING, S_HANDSHAKE, S_SEND, S_RECV, S_HELD };

struct tconn {
	int fd;
	SSL *ssl;
	enum st st;
	size_t off;             /* of the current send or receive */
	uint64_t inflight;      /* bulk: bytes sent and not yet echoed */
	SSL_SESSION *session;   /* -r: the one the next connection resumes */
};

static struct bench_addr addr;
static SSL_CTX *ctx;
static enum mode mode;
static bool resume;
static size_t size = 64;
static int epfd;
static uint64_t count, bytes;   /* completed units and echoed bytes */
static uint64_t resumed;
static bool measuring;
static uint8_t buf[1 << 16];

#define BULK_WINDOW (256 * 1024)

static void
die(const char *what)
{
	fprintf(stderr, "tlsgen: %s: %s\n", what, errno ? strerror(errno) : "failed");
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
watch(struct tconn *c, uint32_t ev, int op)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (epoll_ctl(epfd, op, c->fd, &e) == -1)
		die("epoll_ctl");
}

static void
conn_open(struct tconn *c)
{
	int one = 1;

	c->fd = socket(addr.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		die("socket");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ssl = NULL;
	c->st = S_CONNECTING;
	c->off = 0;
	c->inflight = 0;
	if (connect(c->fd, (struct sockaddr *)&addr.sa, addr.len) == -1 && errno != EINPROGRESS)
		die("connect");
	watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void
conn_drop(struct tconn *c)
{
	if (c->ssl) {
		/* A quiet shutdown sends nothing, but marks the connection as
		 * shut down: SSL_free() of one that is not would make its
		 * session unresumable. */
		SSL_set_quiet_shutdown(c->ssl, 1);
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->fd);
	c->fd = -1;
}

/* An SSL call said to wait: watch for what it needs. 0, or -1 on failure. */
static int
wait_ssl(struct tconn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		watch(c, EPOLLIN, EPOLL_CTL_MOD);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		watch(c, EPOLLOUT, EPOLL_CTL_MOD);
		return 0;
	default:
		return -1;
	}
}

static void step(struct tconn *c);

static void
restart(struct tconn *c)
{
	conn_drop(c);
	conn_open(c);
}

/* One connection's state machine, run until it has to wait. */
static void
step(struct tconn *c)
{
	int r;

	for (;;) {
		switch (c->st) {
		case S_CONNECTING: {
			int err = 0;
			socklen_t len = sizeof(err);

			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err) {
				errno = err;
				die("connect");
			}
			c->ssl = SSL_new(ctx);
			if (!c->ssl)
				die("SSL_new");
			SSL_set_fd(c->ssl, c->fd);
			if (resume && c->session)
				SSL_set_session(c->ssl, c->session);
			c->st = S_HANDSHAKE;
			break;
		}
		case S_HANDSHAKE:
			r = SSL_connect(c->ssl);
			if (r <= 0) {
				if (wait_ssl(c, r) < 0) {
					fprintf(stderr, "tlsgen: handshake failed\n");
					ERR_print_errors_fp(stderr);
					exit(1);
				}
				return;
			}
			if (mode == M_IDLE) {
				/* Held from here: an HTTP front (HAProxy's idle
				 * one) would not echo. */
				c->st = S_HELD;
				count++;
				watch(c, 0, EPOLL_CTL_MOD);
				return;
			}
			c->st = S_SEND;
			c->off = 0;
			break;
		case S_SEND: {
			size_t n = mode == M_BULK ? sizeof(buf) : mode == M_PINGPONG ? size : 1;

			if (mode == M_BULK && c->inflight >= BULK_WINDOW) {
				c->st = S_RECV;
				break;
			}
			r = SSL_write(c->ssl, buf + c->off, (int)(n - c->off));
			if (r <= 0) {
				if (wait_ssl(c, r) < 0)
					die("SSL_write");
				return;
			}
			c->off += (size_t)r;
			if (mode == M_BULK) {
				c->inflight += (uint64_t)r;
				if (c->off == n)
					c->off = 0;
				/* reading keeps up: the echo must not fill up */
				c->st = S_RECV;
				break;
			}
			if (c->off < n)
				break;
			c->off = 0;
			c->st = S_RECV;
			break;
		}
		case S_RECV: {
			size_t n = mode == M_PINGPONG ? size : 1;

			if (mode == M_BULK) {
				r = SSL_read(c->ssl, buf, sizeof(buf));
				if (r <= 0) {
					if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ &&
					    c->inflight < BULK_WINDOW) {
						c->st = S_SEND;
						break;
					}
					if (wait_ssl(c, r) < 0)
						die("SSL_read");
					return;
				}
				c->inflight -= (uint64_t)r;
				if (measuring)
					bytes += (uint64_t)r;
				c->st = S_SEND;
				break;
			}
			r = SSL_read(c->ssl, buf, (int)(n - c->off));
			if (r <= 0) {
				if (wait_ssl(c, r) < 0)
					die("SSL_read");
				return;
			}
			c->off += (size_t)r;
			if (c->off < n)
				break;
			c->off = 0;
			if (mode == M_PINGPONG) {
				if (measuring)
					count++;
				c->st = S_SEND;
				break;
			}
			if (mode == M_IDLE) {
				c->st = S_HELD;
				count++;
				watch(c, 0, EPOLL_CTL_MOD);
				return;
			}
			/* M_HS: one connection done. */
			if (measuring) {
				count++;
				if (SSL_session_reused(c->ssl))
					resumed++;
			}
			if (resume) {
				SSL_SESSION *s = SSL_get1_session(c->ssl);

				if (s) {
					SSL_SESSION_free(c->session);
					c->session = s;
				}
			}
			restart(c);
			return;
		}
		case S_HELD:
			return;
		}
	}
}

static void
run_loop(double until)
{
	struct epoll_event ev[256];

	while (now() < until) {
		int n = epoll_wait(epfd, ev, 256, 100);

		if (n == -1 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++)
			step(ev[i].data.ptr);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: tlsgen hs|pingpong|bulk|idle -a tcp:HOST:PORT [-c N] [-n N] [-r] "
		"[-s SIGALGS] [-z SIZE] [-d SECS] [-w SECS] [-h SECS]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	long conns = 16, held = 0;
	double secs = 3, warm = 1, hold = 3600;
	const char *sigalgs = NULL;
	struct tconn *cs;
	int opt;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "hs") == 0)
		mode = M_HS;
	else if (strcmp(argv[1], "pingpong") == 0)
		mode = M_PINGPONG, conns = 50;
	else if (strcmp(argv[1], "bulk") == 0)
		mode = M_BULK, conns = 4;
	else if (strcmp(argv[1], "idle") == 0)
		mode = M_IDLE;
	else
		usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "a:c:n:rs:z:d:w:h:")) != -1) {
		switch (opt) {
		case 'a':
			if (bench_addr_parse(optarg, &addr) < 0)
				usage();
			break;
		case 'c': conns = atol(optarg); break;
		case 'n': held = atol(optarg); break;
		case 'r': resume = true; break;
		case 's': sigalgs = optarg; break;
		case 'z': size = (size_t)atol(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'h': hold = atof(optarg); break;
		default: usage();
		}
	}
	if (!addr.text || conns < 1 || size < 1 || size > sizeof(buf))
		usage();
	if (mode == M_IDLE) {
		struct rlimit rl;

		conns = held;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	signal(SIGPIPE, SIG_IGN);
	memset(buf, 'x', sizeof(buf));
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			      SSL_MODE_RELEASE_BUFFERS);
	if (sigalgs && SSL_CTX_set1_sigalgs_list(ctx, sigalgs) != 1)
		die("sigalgs");
	if (resume)
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	cs = calloc((size_t)conns, sizeof(*cs));
	if (!cs || epfd == -1)
		die("setup");

	if (mode == M_IDLE) {
		double until = now() + 120;
		struct pollfd p = { .fd = 0, .events = POLLIN };

		/* At most 256 handshakes in flight: a burst of thousands of
		 * SYNs overflows the listen queue into retransmits. */
		for (long i = 0; i < conns && now() < until; i++) {
			while ((long)count + 256 <= i && now() < until)
				run_loop(now() + 0.01);
			conn_open(&cs[i]);
		}
		while ((long)count < conns && now() < until)
			run_loop(now() + 0.1);
		printf("held %lu\n", (unsigned long)count);
		fflush(stdout);
		poll(&p, 1, (int)(hold * 1000));
		return (long)count == conns ? 0 : 1;
	}

	for (long i = 0; i < conns; i++)
		conn_open(&cs[i]);
	run_loop(now() + warm);
	measuring = true;
	{
		double t0 = now(), t1;

		run_loop(t0 + secs);
		t1 = now();
		if (mode == M_BULK)
			printf("RESULT %.1f MB/s\n", (double)bytes / (t1 - t0) / 1e6);
		else if (mode == M_HS && resume)
			printf("RESULT %.0f /s (resumed %.0f%%)\n", (double)count / (t1 - t0),
			       count ? 100.0 * (double)resumed / (double)count : 0.0);
		else
			printf("RESULT %.0f /s\n", (double)count / (t1 - t0));
	}
	return 0;
}
