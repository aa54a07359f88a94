/*
 * actprog: the programs of the exec handoff tests (32-35), written the way
 * a program for inetd's wait or systemd's socket activation is written.
 *
 *   actprog listen N        Accept=no: check LISTEN_PID == getpid(),
 *                           LISTEN_FDS and LISTEN_FDNAMES, then serve N
 *                           connections from fd 3 (stream) or N datagrams
 *                           (datagram socket), answering each with
 *                           "pid=P n=K fds=F names=NAMES line\n"; exit 0.
 *   actprog accept          Accept=yes: fd 3 is one connection; check the
 *                           variables, answer one line like the above.
 *   actprog wait N          inetd wait on a stream socket: accept N
 *                           connections on stdin, answering each as above
 *                           (fds=0, no variables expected).
 *   actprog udp-wait        inetd wait on a datagram socket (stdin):
 *                           answer each datagram with "pid=P " and the
 *                           datagram and a newline, until none came for
 *                           two seconds.
 *
 * Anything wrong goes to stderr (sockd's log) with exit status 2.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int
check_env(int want_fds)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");

	if (!pid || strtol(pid, NULL, 10) != (long)getpid()) {
		fprintf(stderr, "actprog: LISTEN_PID=%s, but my pid is %ld\n", pid ? pid : "(unset)",
			(long)getpid());
		return -1;
	}
	if (!fds || (want_fds > 0 && atoi(fds) != want_fds) || atoi(fds) < 1) {
		fprintf(stderr, "actprog: LISTEN_FDS=%s\n", fds ? fds : "(unset)");
		return -1;
	}
	if (!getenv("LISTEN_FDNAMES")) {
		fprintf(stderr, "actprog: no LISTEN_FDNAMES\n");
		return -1;
	}
	return atoi(fds);
}

static int
is_stream(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return -1;
	return type != SOCK_DGRAM;
}

/* One line from c (up to a newline or EOF), answered with a line. */
static int
answer(int c, long n, int nfds)
{
	char in[256], out[512];
	size_t used = 0;
	ssize_t r;
	int len;

	while (used < sizeof(in) - 1) {
		r = read(c, in + used, 1);
		if (r <= 0 || in[used] == '\n')
			break;
		used++;
	}
	in[used] = '\0';
	len = snprintf(out, sizeof(out), "pid=%ld n=%ld fds=%d names=%s %s\n", (long)getpid(), n, nfds,
		       getenv("LISTEN_FDNAMES") ? getenv("LISTEN_FDNAMES") : "", in);
	return write(c, out, (size_t)len) == len ? 0 : -1;
}

static int
serve_listen(long count, int base)
{
	int nfds = base == 0 ? 1 : check_env(0);
	struct pollfd p[16];

	if (nfds < 0)
		return 2;
	if (nfds > 16)
		nfds = 16;
	for (int i = 0; i < nfds; i++)
		p[i] = (struct pollfd){ .fd = base + i, .events = POLLIN };
	for (long k = 1; k <= count;) {
		if (poll(p, (nfds_t)nfds, 30000) <= 0) {
			fprintf(stderr, "actprog: nothing came for 30 s\n");
			return 2;
		}
		for (int i = 0; i < nfds && k <= count; i++) {
			if (!(p[i].revents & POLLIN))
				continue;
			if (is_stream(p[i].fd)) {
				int c = accept(p[i].fd, NULL, NULL);

				if (c == -1) {
					perror("actprog: accept");
					return 2;
				}
				answer(c, k++, nfds);
				close(c);
			} else {
				struct sockaddr_storage from;
				socklen_t flen = sizeof(from);
				char in[512], out[700];
				ssize_t r = recvfrom(p[i].fd, in, sizeof(in) - 1, 0, (struct sockaddr *)&from, &flen);
				int len;

				if (r < 0)
					continue;
				in[r] = '\0';
				len = snprintf(out, sizeof(out), "pid=%ld n=%ld fds=%d names=%s %s", (long)getpid(),
					       k++, nfds, getenv("LISTEN_FDNAMES"), in);
				sendto(p[i].fd, out, (size_t)len, 0, (struct sockaddr *)&from, flen);
			}
		}
	}
	return 0;
}

static int
serve_accept(void)
{
	if (check_env(1) < 0)
		return 2;
	if (is_stream(3) != 1) {
		fprintf(stderr, "actprog: fd 3 is not a connection\n");
		return 2;
	}
	return answer(3, 1, 1) == 0 ? 0 : 2;
}

static int
serve_udp_wait(void)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };

	while (poll(&p, 1, 2000) == 1) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		char in[512], out[600];
		ssize_t r = recvfrom(0, in, sizeof(in) - 1, 0, (struct sockaddr *)&from, &flen);
		int len;

		if (r < 0) {
			perror("actprog: recvfrom");
			return 2;
		}
		in[r] = '\0';
		len = snprintf(out, sizeof(out), "pid=%ld %s\n", (long)getpid(), in);
		sendto(0, out, (size_t)len, 0, (struct sockaddr *)&from, flen);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "listen") == 0)
		return serve_listen(strtol(argv[2], NULL, 10), 3);
	if (argc == 3 && strcmp(argv[1], "wait") == 0)
		return serve_listen(strtol(argv[2], NULL, 10), 0);
	if (argc == 2 && strcmp(argv[1], "accept") == 0)
		return serve_accept();
	if (argc == 2 && strcmp(argv[1], "udp-wait") == 0)
		return serve_udp_wait();
	fprintf(stderr, "usage: actprog listen N | wait N | accept | udp-wait\n");
	return 64;
}
