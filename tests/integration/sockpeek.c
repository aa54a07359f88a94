/*
 * sockpeek PID PORT|/PATH: the socket options of another process's sockets,
 * read with getsockopt() on copies of its fds (pidfd_getfd(2), Linux 5.6:
 * it needs ptrace rights over PID). One line per socket of PID whose local
 * port is PORT (or whose Unix path is PATH):
 *
 *   listen tcp reuseport=1 rcvbuf=4608 ... congestion=cubic
 *   conn tcp ...
 *
 * An option the socket does not have (TCP options on UDP) prints as "-".
 * Exit status: 0 with at least one line, 1 when no socket matched, 77 when
 * the fds cannot be copied here (no pidfd_getfd, or not permitted), 2 on
 * bad usage.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static void
print_int(int fd, int level, int opt, const char *name)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, level, opt, &v, &len) == -1)
		printf(" %s=-", name);
	else
		printf(" %s=%d", name, v);
}

static void
print_str(int fd, int level, int opt, const char *name)
{
	char buf[64] = "";
	socklen_t len = sizeof(buf) - 1;

	if (getsockopt(fd, level, opt, buf, &len) == -1)
		printf(" %s=-", name);
	else
		printf(" %s=%s", name, buf[0] ? buf : "\"\"");
}

static void
peek(int fd, int listening)
{
	int family = 0, type = 0, proto = 0, ip6;
	socklen_t len = sizeof(int);

	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	len = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len);
	ip6 = family == AF_INET6;
	printf("%s %s", listening ? "listen" : "conn",
	    family == AF_UNIX ? "unix" : proto == IPPROTO_MPTCP ? "mptcp" :
	    type == SOCK_STREAM ? "tcp" : "udp");
	print_int(fd, SOL_SOCKET, SO_REUSEPORT, "reuseport");
	print_int(fd, SOL_SOCKET, SO_RCVBUF, "rcvbuf");
	print_int(fd, SOL_SOCKET, SO_SNDBUF, "sndbuf");
	print_int(fd, SOL_SOCKET, SO_KEEPALIVE, "keepalive");
	print_int(fd, SOL_SOCKET, SO_MARK, "mark");
	print_str(fd, SOL_SOCKET, SO_BINDTODEVICE, "bind_to_device");
	if (family != AF_UNIX) {
		print_int(fd, ip6 ? IPPROTO_IPV6 : IPPROTO_IP, ip6 ? IPV6_FREEBIND : IP_FREEBIND,
		    "freebind");
		print_int(fd, ip6 ? IPPROTO_IPV6 : IPPROTO_IP, ip6 ? IPV6_TRANSPARENT : IP_TRANSPARENT,
		    "transparent");
		print_int(fd, ip6 ? IPPROTO_IPV6 : IPPROTO_IP, ip6 ? IPV6_TCLASS : IP_TOS, "tos");
	}
	if (family != AF_UNIX && type == SOCK_STREAM) {
		print_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, "keepalive_time");
		print_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, "keepalive_interval");
		print_int(fd, IPPROTO_TCP, TCP_KEEPCNT, "keepalive_count");
		print_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, "user_timeout");
		print_int(fd, IPPROTO_TCP, TCP_NODELAY, "nodelay");
		print_int(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, "defer_accept");
		print_int(fd, IPPROTO_TCP, TCP_FASTOPEN, "fastopen");
		print_str(fd, IPPROTO_TCP, TCP_CONGESTION, "congestion");
	}
	putchar('\n');
}

static int
matches(int fd, const char *want)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (want[0] == '/') {
		const struct sockaddr_un *un = (const struct sockaddr_un *)&ss;

		return ss.ss_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path) &&
		    strcmp(un->sun_path, want) == 0;
	}
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port) == atoi(want);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == atoi(want);
	return 0;
}

int
main(int argc, char **argv)
{
	char dir[64];
	struct dirent *de;
	int pidfd, found = 0, tried = 0;
	DIR *d;

	if (argc != 3) {
		fprintf(stderr, "usage: sockpeek PID PORT|/PATH\n");
		return 2;
	}
	pidfd = (int)syscall(SYS_pidfd_open, atoi(argv[1]), 0);
	if (pidfd == -1) {
		fprintf(stderr, "sockpeek: pidfd_open %s: %s\n", argv[1], strerror(errno));
		return errno == ENOSYS ? 77 : 1;
	}
	snprintf(dir, sizeof(dir), "/proc/%s/fd", argv[1]);
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "sockpeek: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		int target, fd, listening = 0;
		socklen_t len = sizeof(listening);
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		target = atoi(de->d_name);
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
		if (fd == -1) {
			if (errno == EPERM || errno == ENOSYS) {
				fprintf(stderr, "sockpeek: pidfd_getfd: %s\n", strerror(errno));
				return 77;
			}
			continue;       /* closed meanwhile */
		}
		tried++;
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) && matches(fd, argv[2])) {
			getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
			peek(fd, listening);
			found++;
		}
		close(fd);
	}
	closedir(d);
	close(pidfd);
	return found ? 0 : 1;
}
