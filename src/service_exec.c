/* service "exec": one program per connection, the socket on its stdin and
 * stdout (inetd's "nowait") or as fd 3 ("accept-fds", systemd's
 * Accept=yes), its stderr on ours (the journal). The modes where the
 * program takes the socket itself ("wait", "listen-fds") are started by
 * activator.c through exec_spawn_held(). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "keys.h"
#include "service.h"
#include "exec_options.h"
#include "service_exec.h"
#include "sockd.h"

#define CHILD_STACK (64 * 1024)

/* ThreadSanitizer intercepts clone() and takes every child for a forked
 * process: in it, it resets its own bookkeeping, which a CLONE_VM child
 * would share with us, breaking every happens-before of the parent. Under
 * it the child gets a copy of our memory instead, and reports back
 * through the stack mapping, which is shared either way. */
#if defined(__SANITIZE_THREAD__)
#define CHILD_CLONE_FLAGS (CLONE_VFORK | SIGCHLD)
#else
#define CHILD_CLONE_FLAGS (CLONE_VM | CLONE_VFORK | SIGCHLD)
#endif
#define ENV_VARS 16                     /* the connection's own variables, at most */
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A program whose client has hung up gets HANGUP_TERM_MS to end by itself
 * (most see EOF or EPIPE and do), then SIGTERM, then SIGKILL after
 * HANGUP_KILL_MS more. */
#define HANGUP_TERM_MS 1000
#define HANGUP_KILL_MS 5000
#define KILL_LOG_INTERVAL_MS 10000      /* at most one such SIGKILL logged per this */

/* TCP keepalive on a program's connection: the first probe after
 * KEEPIDLE_S without traffic, then every KEEPINTVL_S, given up after
 * KEEPCNT unanswered (about 100 s for a peer that vanished; a client
 * that closed normally shows as gone after 80 s or so: the first probe
 * still meets its FIN_WAIT2, the second a reset). */
#define KEEPIDLE_S 40
#define KEEPINTVL_S 10
#define KEEPCNT 6

struct exec_state {
	pid_t pid;
	uint64_t started_ms;
	uint64_t hangup_ms;             /* when the client hung up, 0 = not (seen) */
	bool term_sent;                 /* ... and SIGTERM went out since */
	char detail[48];                /* "pid=N status=S" for the connection's log line */
};

/* What the child needs; built before the clone, because the child shares
 * our memory and must not allocate. */
struct spawn {
	const struct endpoint *ep;
	char **argv;
	char **envp;
	int handoff;                    /* enum exec_handoff */
	int sock;                       /* nowait, wait: stdin and stdout; accept-fds: fd 3 */
	int fds[EXEC_FDS_MAX];          /* listen-fds: fds 3.. (accept-fds: fds[0] = sock) */
	int tmp[EXEC_FDS_MAX];          /* the child's scratch */
	size_t n_fds;
	char *listen_pid;               /* digits of LISTEN_PID go here, or NULL */
	bool switch_ids;                /* become the options' uid/gid */
	volatile int err;               /* set by the child when it cannot exec */
	const char *failed;             /* ... and what failed */
};

/* listen-fds, accept-fds: the sockets as fds 3.. as sd_listen_fds() wants
 * them (blocking, as systemd passes them by default), stdin on /dev/null
 * and stdout on our stderr, as systemd's defaults put them. First every
 * socket goes above the range it will take, so that no dup2() overwrites
 * one not yet placed; the copies are close-on-exec, the placed ones not.
 * Then the child's pid into LISTEN_PID, which only it knows. */
static int
place_fds(struct spawn *s)
{
	int base = 3 + (int)s->n_fds, null;
	pid_t pid;
	char *p;

	for (size_t i = 0; i < s->n_fds; i++) {
		s->tmp[i] = fcntl(s->fds[i], F_DUPFD_CLOEXEC, base);
		if (s->tmp[i] == -1) {
			s->failed = "dup";
			return -1;
		}
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null == -1 || dup2(null, STDIN_FILENO) == -1 || dup2(STDERR_FILENO, STDOUT_FILENO) == -1) {
		s->failed = "/dev/null";
		return -1;
	}
	for (size_t i = 0; i < s->n_fds; i++) {
		if (dup2(s->tmp[i], 3 + (int)i) == -1 || fcntl(3 + (int)i, F_SETFL, 0) == -1) {
			s->failed = "dup2";
			return -1;
		}
	}
	if (s->listen_pid) {
		pid = (pid_t)syscall(SYS_getpid);
		p = s->listen_pid + 11;
		*p = '\0';
		do {
			*--p = (char)('0' + pid % 10);
			pid /= 10;
		} while (pid > 0);
		memmove(s->listen_pid, p, strlen(p) + 1);
	}
	return 0;
}

/* Runs in a CLONE_VM|CLONE_VFORK child: only raw system calls. glibc's
 * set*id() wrappers would signal every thread of the parent, whose memory
 * (and thread list) this child shares, so the ids are set with syscall(). */
static int
child_main(void *arg)
{
	struct spawn *s = arg;
	const struct exec_options *eo = exec_options(s->ep);
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigset_t none;
	int sock = s->sock;

	/* sockd ignores SIGPIPE and blocks the signals it reads from a
	 * signalfd; the program starts with neither. */
	sigaction(SIGPIPE, &dfl, NULL);
	sigemptyset(&none);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(unsigned long));
	/* A session of its own: a terminal's ^C or a kill of sockd's process
	 * group is meant for sockd, which stops its programs itself. */
	if (syscall(SYS_setsid) == -1) {
		s->failed = "setsid";
		goto fail;
	}

	if (s->handoff == HANDOFF_NOWAIT || s->handoff == HANDOFF_WAIT) {
		if (sock < 3) {
			sock = fcntl(sock, F_DUPFD_CLOEXEC, 3);
			if (sock == -1) {
				s->failed = "dup";
				goto fail;
			}
		}
		/* Programs expect blocking stdio; the flag belongs to the
		 * socket's open file, which only the child keeps (for
		 * "wait", activator.c sets it again when the program is
		 * gone). O_NONBLOCK is the only status flag a socket of ours
		 * carries. */
		if (fcntl(sock, F_SETFL, 0) == -1) {
			s->failed = "fcntl";
			goto fail;
		}
		if (dup2(sock, STDIN_FILENO) == -1 || dup2(sock, STDOUT_FILENO) == -1) {
			s->failed = "dup2";
			goto fail;
		}
	} else if (place_fds(s) < 0) {
		goto fail;
	}
	if (s->switch_ids) {
		gid_t gid = eo->gid;

		if (syscall(SYS_setgroups, 1, &gid) == -1) {
			s->failed = "setgroups";
			goto fail;
		}
		if (syscall(SYS_setresgid, gid, gid, gid) == -1) {
			s->failed = "setgid";
			goto fail;
		}
		if (syscall(SYS_setresuid, eo->uid, eo->uid, eo->uid) == -1) {
			s->failed = "setuid";
			goto fail;
		}
	}
	if (eo->umask >= 0)
		umask((mode_t)eo->umask);
	if (eo->nice != NICE_UNSET && setpriority(PRIO_PROCESS, 0, eo->nice) == -1) {
		s->failed = "setpriority";
		goto fail;
	}
	for (size_t i = 0; i < eo->n_rlimits; i++) {
		struct rlimit rl = { eo->rlimits[i].soft, eo->rlimits[i].hard };

		if (setrlimit(eo->rlimits[i].resource, &rl) == -1) {
			s->failed = "setrlimit";
			goto fail;
		}
	}
	execve(eo->command[0], s->argv, s->envp);
	s->failed = "execve";
fail:
	s->err = errno;
	_exit(127);
}

/* Each worker keeps one child stack for good: a mapping per spawn cost a
 * shared-memory inode, page faults and, at munmap, a TLB shootdown across
 * the worker threads. Reusing it is safe because of CLONE_VFORK: the child
 * is done with it (exec'd or exited) before clone() returns. It is
 * MAP_SHARED for the ThreadSanitizer build, whose child is a copy. */
static pthread_key_t stack_key;
static pthread_once_t stack_once = PTHREAD_ONCE_INIT;

static void
stack_unmap(void *stack)
{
	munmap(stack, CHILD_STACK);
}

static void
stack_key_create(void)
{
	if (pthread_key_create(&stack_key, stack_unmap) != 0)
		abort();        /* only fails when out of keys: a bug */
}

static void *
child_stack(void)
{
	void *stack;

	pthread_once(&stack_once, stack_key_create);
	stack = pthread_getspecific(stack_key);
	if (stack)
		return stack;
	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return NULL;
	if (pthread_setspecific(stack_key, stack) != 0) {
		munmap(stack, CHILD_STACK);
		return NULL;
	}
	return stack;
}

static int
env_add(char **envp, size_t *n, char *buf, size_t *used, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static int
env_add(char **envp, size_t *n, char *buf, size_t *used, size_t size, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf + *used, size - *used, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= size - *used)
		return -ENOSPC;
	envp[(*n)++] = buf + *used;
	*used += (size_t)r + 1;
	return 0;
}

static void
ip_port(const struct sockaddr *sa, char *ip, size_t size, unsigned *port)
{
	struct sockaddr_in v4;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		*port = ntohs(s6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(&v4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
			inet_ntop(AF_INET, &v4.sin_addr, ip, (socklen_t)size);
		} else {
			inet_ntop(AF_INET6, &s6->sin6_addr, ip, (socklen_t)size);
		}
		return;
	}
	*port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, (socklen_t)size);
}

/* LISTEN_FDS, LISTEN_PID (its digits written by the child) and
 * LISTEN_FDNAMES: the endpoint's name for every fd, as systemd names a
 * socket unit's fds after the unit. */
static int
env_listen(char **envp, size_t *n, char *buf, size_t *used, size_t size, const char *name,
    size_t n_fds, struct spawn *sp)
{
	size_t len;

	if (env_add(envp, n, buf, used, size, "LISTEN_FDS=%zu", n_fds) < 0 ||
	    env_add(envp, n, buf, used, size, "LISTEN_PID=%11s", "") < 0)
		return -ENOSPC;
	sp->listen_pid = envp[*n - 1] + strlen("LISTEN_PID=");
	if (env_add(envp, n, buf, used, size, "LISTEN_FDNAMES=%s", name) < 0)
		return -ENOSPC;
	for (size_t i = 1; i < n_fds; i++) {
		len = strlen(name) + 1;
		if (*used + len >= size)
			return -ENOSPC;
		/* extend the last variable in place: it ends at *used - 1 */
		buf[*used - 1] = ':';
		memcpy(buf + *used, name, len);
		*used += len;
	}
	return 0;
}

/* The environment ucspi-tcp's tcpserver and systemd give a per-connection
 * program: who is on the other end, and where it connected to; and for
 * accept-fds, sd_listen_fds()'s variables. */
static char **
build_env(struct conn *c, char *buf, size_t size, struct spawn *sp)
{
	const struct exec_options *eo = exec_options(c->ep);
	size_t n_cfg = 0, n = 0, used = 0;
	bool have_path = false;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;
	char **envp;

	for (char **e = eo->env; e && *e; e++, n_cfg++)
		have_path |= strncmp(*e, "PATH=", 5) == 0;
	envp = calloc(n_cfg + ENV_VARS + 1, sizeof(*envp));
	if (!envp)
		return NULL;

	if (c->peer_len) {
		union {
			struct sockaddr sa;
			struct sockaddr_storage ss;
		} local;
		socklen_t llen = sizeof(local);

		env_add(envp, &n, buf, &used, size, "PROTO=TCP");
		ip_port(&c->peer.sa, ip, sizeof(ip), &port);
		env_add(envp, &n, buf, &used, size, "TCPREMOTEIP=%s", ip);
		env_add(envp, &n, buf, &used, size, "TCPREMOTEPORT=%u", port);
		env_add(envp, &n, buf, &used, size, "REMOTE_ADDR=%s", ip);
		env_add(envp, &n, buf, &used, size, "REMOTE_PORT=%u", port);
		if (c->local_len) {
			ip_port(&c->local.sa, ip, sizeof(ip), &port);
		} else if (getsockname(c->fd, &local.sa, &llen) == 0 &&
			   (local.sa.sa_family == AF_INET || local.sa.sa_family == AF_INET6)) {
			ip_port(&local.sa, ip, sizeof(ip), &port);
		} else {
			ip[0] = '\0';
			port = 0;
		}
		if (ip[0]) {
			env_add(envp, &n, buf, &used, size, "TCPLOCALIP=%s", ip);
			env_add(envp, &n, buf, &used, size, "TCPLOCALPORT=%u", port);
		}
	} else {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		env_add(envp, &n, buf, &used, size, "PROTO=UNIX");
		if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
			env_add(envp, &n, buf, &used, size, "UNIXREMOTEUID=%u", (unsigned)cred.uid);
			env_add(envp, &n, buf, &used, size, "UNIXREMOTEGID=%u", (unsigned)cred.gid);
			env_add(envp, &n, buf, &used, size, "UNIXREMOTEPID=%d", (int)cred.pid);
		}
	}
	if (sp->n_fds && env_listen(envp, &n, buf, &used, size, c->ep->name, sp->n_fds, sp) < 0) {
		free(envp);
		return NULL;
	}
	if (!have_path)
		env_add(envp, &n, buf, &used, size, DEFAULT_PATH);
	for (char **e = eo->env; e && *e; e++)
		envp[n++] = *e;
	envp[n] = NULL;
	return envp;
}

/* A client that closed its TCP socket normally sent a FIN, as one that
 * only half-closed did: nothing tells them apart until something reaches
 * the client's system, which resets the connection once the socket is
 * gone (its FIN_WAIT2 remains last tcp_fin_timeout, 60 s on Linux) and
 * answers while it is open. A program that never writes sends nothing:
 * keepalive probes do it instead, so the hang-up shows (exec_hangup) and
 * a dead peer is noticed too. The program may set its own values. */
static void
keepalive(int fd)
{
	int on = 1, idle = KEEPIDLE_S, intvl = KEEPINTVL_S, cnt = KEEPCNT;

	/* Unix sockets refuse these: nothing to do there, where a close
	 * is a hang-up at once. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) == -1)
		return;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
}

/* command, or a copy with argv0 in front: tcpd, for one, finds the
 * daemon to run from its own argv[0]. Free it with argv_free(). */
static char **
argv_build(const struct exec_options *eo)
{
	size_t n = 0;
	char **argv;

	if (!eo->argv0)
		return eo->command;
	while (eo->command[n])
		n++;
	argv = calloc(n + 1, sizeof(*argv));
	if (!argv)
		return NULL;
	memcpy(argv, eo->command, n * sizeof(*argv));
	argv[0] = eo->argv0;
	return argv;
}

static void
argv_free(const struct exec_options *eo, char **argv)
{
	if (argv != eo->command)
		free(argv);
}

/* Clone and exec the child sp describes. Returns its pid, or -errno after
 * logging why not. */
static pid_t
spawn_run(struct spawn *sp)
{
	const struct endpoint *ep = sp->ep;
	const struct exec_options *eo = exec_options(ep);
	struct spawn *shared;
	void *stack = child_stack();
	pid_t pid;

	if (!stack)
		return log_errno(ENOMEM, "endpoint %s: starting %s", ep->name, eo->command[0]);
	/* Already that user (sockd started by systemd with User=): nothing to switch. */
	sp->switch_ids = eo->uid != (uid_t)-1 &&
			 (eo->uid != geteuid() || eo->gid != getegid());

	/* CLONE_VFORK: we resume once the child has exec'd or given up, so
	 * its err is final when clone() returns. Its struct spawn is at the
	 * bottom of its stack mapping, which it shares with us. */
	shared = stack;
	memcpy(shared, sp, sizeof(*sp));
	pid = clone(child_main, (char *)stack + CHILD_STACK, CHILD_CLONE_FLAGS, shared);
	sp->err = shared->err;
	sp->failed = shared->failed;
	if (pid == -1)
		return log_errno(errno, "endpoint %s: cannot start %s", ep->name, eo->command[0]);
	if (sp->err) {
		log_errno(sp->err, "endpoint %s: %s %s", ep->name, sp->failed, eo->command[0]);
		waitpid(pid, NULL, 0);
		return -sp->err;
	}
	return pid;
}

static void
exec_start(struct conn *c)
{
	struct endpoint *ep = c->ep;
	const struct exec_options *eo = exec_options(ep);
	struct spawn sp = { .ep = ep, .sock = c->fd, .handoff = eo->handoff };
	struct exec_state *st;
	char envbuf[1024];
	int pidfd, r;
	pid_t pid;

	st = calloc(1, sizeof(*st));
	if (eo->handoff == HANDOFF_ACCEPT_FDS) {
		sp.fds[0] = c->fd;
		sp.n_fds = 1;
	}
	sp.envp = build_env(c, envbuf, sizeof(envbuf), &sp);
	sp.argv = argv_build(eo);
	if (!st || !sp.envp || !sp.argv) {
		log_err("endpoint %s: out of memory starting %s", ep->name, eo->command[0]);
		free(st);
		goto out_fail;
	}
	c->svc_state = st;
	if (c->peer_len)
		keepalive(c->fd);
	pid = spawn_run(&sp);
	if (pid < 0)
		goto out_fail;
	st->pid = pid;
	st->started_ms = conn_now_ms(c);

	snprintf(st->detail, sizeof(st->detail), "pid=%d", (int)pid);
	c->detail = st->detail;

	/* The child owns the connection now: our copy goes, so the client
	 * sees EOF as soon as the program closes its side, but a hang-up of
	 * the client is still heard of (conn_handoff). c lives on as the
	 * child's pidfd until it is reaped. */
	pidfd = pidfd_open(pid, 0);
	if (pidfd == -1) {
		r = -errno;
		log_errno(r, "endpoint %s: pidfd_open, killing pid %d", ep->name, (int)pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		st->pid = 0;
		goto out_fail;
	}
	/* pidfd_open() sets close-on-exec */
	if ((r = conn_handoff(c, pidfd)) < 0)
		log_warn_errno(-r, "endpoint %s: pid %d: cannot watch its client for a hang-up; "
			       "only lifetime bounds it, ignoring", ep->name, (int)pid);
	free(sp.envp);
	argv_free(eo, sp.argv);
	log_debug("endpoint %s: started pid %d: %s", ep->name, (int)pid, eo->command[0]);
	conn_want(c, EPOLLIN);
	return;

out_fail:
	atomic_fetch_add_explicit(&ep->stats.failed, 1, memory_order_relaxed);
	free(sp.envp);
	if (sp.argv)
		argv_free(eo, sp.argv);
	conn_close(c);
}

int
exec_spawn_held(const struct endpoint *ep, const int *fds, size_t n_fds, pid_t *pid_out,
    int *pidfd_out)
{
	const struct exec_options *eo = exec_options(ep);
	struct spawn sp = { .ep = ep, .handoff = eo->handoff, .sock = fds[0] };
	size_t n_cfg = 0, n = 0, used = 0;
	bool have_path = false;
	char envbuf[1024];
	int pidfd, r = -ENOMEM;
	pid_t pid;

	if (n_fds == 0 || n_fds > EXEC_FDS_MAX)
		return log_errno(EINVAL, "endpoint %s: %zu sockets to hand over", ep->name, n_fds);
	for (char **e = eo->env; e && *e; e++, n_cfg++)
		have_path |= strncmp(*e, "PATH=", 5) == 0;
	sp.envp = calloc(n_cfg + 5, sizeof(*sp.envp));
	sp.argv = argv_build(eo);
	if (!sp.envp || !sp.argv) {
		log_err("endpoint %s: out of memory starting %s", ep->name, eo->command[0]);
		goto out;
	}
	if (eo->handoff == HANDOFF_LISTEN_FDS) {
		memcpy(sp.fds, fds, n_fds * sizeof(*fds));
		sp.n_fds = n_fds;
		if (env_listen(sp.envp, &n, envbuf, &used, sizeof(envbuf), ep->name, n_fds, &sp) < 0) {
			r = log_errno(ENOSPC, "endpoint %s: environment too large", ep->name);
			goto out;
		}
	}
	if (!have_path)
		env_add(sp.envp, &n, envbuf, &used, sizeof(envbuf), DEFAULT_PATH);
	for (char **e = eo->env; e && *e; e++)
		sp.envp[n++] = *e;
	sp.envp[n] = NULL;

	pid = spawn_run(&sp);
	if (pid < 0) {
		r = pid;
		goto out;
	}
	pidfd = pidfd_open(pid, 0);
	if (pidfd == -1) {
		r = log_errno(errno, "endpoint %s: pidfd_open, killing pid %d", ep->name, (int)pid);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	*pid_out = pid;
	*pidfd_out = pidfd;
	r = 0;
out:
	free(sp.envp);
	if (sp.argv)
		argv_free(eo, sp.argv);
	return r;
}

/* Reap the child behind c's pidfd; true when it has exited. */
static bool
reap(struct conn *c, bool block)
{
	struct exec_state *st = c->svc_state;
	siginfo_t si = { 0 };
	double secs;

	if (!st || st->pid == 0)
		return true;
	if (waitid(P_PIDFD, (id_t)c->fd, &si, WEXITED | (block ? 0 : WNOHANG)) == -1 || si.si_pid == 0)
		return false;
	secs = (double)(conn_now_ms(c) - st->started_ms) / 1000.0;
	if (si.si_code == CLD_EXITED) {
		log_info("endpoint %s: pid %d exited with status %d after %.3fs",
			 c->ep->name, (int)st->pid, si.si_status, secs);
		snprintf(st->detail, sizeof(st->detail), "pid=%d status=%d", (int)st->pid, si.si_status);
	} else {
		log_info("endpoint %s: pid %d killed by SIG%s after %.3fs",
			 c->ep->name, (int)st->pid, sigabbrev_np(si.si_status) ?: "?", secs);
		snprintf(st->detail, sizeof(st->detail), "pid=%d signal=%s", (int)st->pid,
			 sigabbrev_np(si.si_status) ?: "?");
	}
	st->pid = 0;
	return true;
}

static void
exec_io(struct conn *c, uint32_t events)
{
	if (reap(c, false))
		conn_close(c);
}

/* The client is gone for good (reset, or closed both ways): nobody reads
 * what the program writes, and its instance slot is wanted. A client that
 * only half-closed (shutdown(SHUT_WR), `nc -N`) is not gone: it waits for
 * the answer, and its program runs on. Over TCP, a client that closed its
 * socket normally (FIN) shows as gone only once something sent to it is
 * reset: the program's output, or a keepalive probe (see keepalive()). */
static void
exec_hangup(struct conn *c)
{
	struct exec_state *st = c->svc_state;

	if (!st || st->pid == 0)
		return;
	st->hangup_ms = conn_now_ms(c);
	c->outcome = "client-gone";
	log_debug("endpoint %s: pid %d: its client hung up", c->ep->name, (int)st->pid);
	conn_set_timer(c, st->hangup_ms + HANGUP_TERM_MS);
}

/* One line per KILL_LOG_INTERVAL_MS at most, whatever the number of
 * workers and endpoints: clients can make programs linger at will. */
static bool
kill_log_allowed(uint64_t now_ms, unsigned long *missed)
{
	static _Atomic uint64_t next_ms;
	static atomic_ulong unlogged;
	uint64_t due = atomic_load_explicit(&next_ms, memory_order_relaxed);

	if (now_ms < due ||
	    !atomic_compare_exchange_strong(&next_ms, &due, now_ms + KILL_LOG_INTERVAL_MS)) {
		atomic_fetch_add_explicit(&unlogged, 1, memory_order_relaxed);
		return false;
	}
	*missed = atomic_exchange_explicit(&unlogged, 0, memory_order_relaxed);
	return true;
}

/* The deadlines after a hang-up: SIGTERM, then SIGKILL. */
static void
exec_timeout(struct conn *c)
{
	struct exec_state *st = c->svc_state;
	uint64_t now = conn_now_ms(c);
	unsigned long missed = 0;

	if (!st || st->pid == 0 || st->hangup_ms == 0)
		return;
	if (!st->term_sent) {
		st->term_sent = true;
		pidfd_send_signal(c->fd, SIGTERM, NULL, 0);
		conn_set_timer(c, now + HANGUP_KILL_MS);
		return;
	}
	if (kill_log_allowed(now, &missed) && missed == 0)
		log_warn("endpoint %s: pid %d still running %.1fs after its client hung up, "
			 "killing it (SIGKILL)", c->ep->name, (int)st->pid,
			 (double)(now - st->hangup_ms) / 1000.0);
	else if (missed > 0)
		log_warn("endpoint %s: pid %d still running %.1fs after its client hung up, "
			 "killing it (SIGKILL); %lu more since the last such line", c->ep->name,
			 (int)st->pid, (double)(now - st->hangup_ms) / 1000.0, missed);
	/* The pidfd says when it is gone: exec_io reaps it. */
	pidfd_send_signal(c->fd, SIGKILL, NULL, 0);
}

static void
exec_stop(struct conn *c, bool force)
{
	struct exec_state *st = c->svc_state;

	if (!st || st->pid == 0)
		return;
	pidfd_send_signal(c->fd, force ? SIGKILL : SIGTERM, NULL, 0);
	if (force)
		reap(c, true);
}

/* c is closing with the child still running (lifetime reached, or an
 * abort): the program goes with it. */
static void
exec_free(struct conn *c)
{
	struct exec_state *st = c->svc_state;

	if (st && st->pid) {
		pidfd_send_signal(c->fd, SIGKILL, NULL, 0);
		reap(c, true);
	}
}

/* ------------------------------------------------------------ keys */

#define INSTANCES_MAX   1000000
#define NICE_MIN        (-20)
#define NICE_MAX        19
#define X(field)        offsetof(struct exec_options, field)

/* command = [ "/path", "arg", ... ]: the program must be there now, so
 * that a typo shows at `sockd -n`, not as a failure per connection. */
static bool
set_command(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	const struct cval *first;
	struct stat sb;
	bool bad = false;
	char **argv;
	size_t n;

	if (!cval_is_seq(v)) {
		key_error(c, v, "'command' must be a list of strings, like [ \"/usr/bin/prog\", \"arg\" ]");
		return false;
	}
	n = v->n;
	if (n == 0) {
		key_error(c, v, "'command' must have at least the program's path");
		return false;
	}
	argv = calloc(n + 1, sizeof(*argv));
	if (!argv) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n && !c->nomem; i++) {
		if (v->elems[i].type != CVAL_STRING) {
			key_error(c, &v->elems[i], "'command' must contain only strings");
			bad = true;
			continue;
		}
		argv[i] = key_strdup(c, v->elems[i].s);
	}
	first = &v->elems[0];
	if (argv[0] && argv[0][0] != '/') {
		key_error(c, first, "'command' must start with an absolute path");
		bad = true;
	} else if (argv[0] && stat(argv[0], &sb) == -1) {
		if (errno == ENOMEM)
			c->nomem = true;
		else
			key_error(c, first, "command '%s': %s", argv[0], strerror(errno));
		bad = true;
	} else if (argv[0] && (!S_ISREG(sb.st_mode) || access(argv[0], X_OK) == -1)) {
		key_error(c, first, "command '%s' is not an executable file", argv[0]);
		bad = true;
	}
	if (bad || c->nomem) {
		for (size_t i = 0; i < n; i++)
			free(argv[i]);
		free(argv);
		return false;
	}
	*(char ***)field = argv;
	return true;
}

/* NAME=value, NAME as a shell would accept it. Returns NAME's length, or 0. */
static size_t
env_name_len(const char *s)
{
	size_t n = 0;

	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (; s[n] && s[n] != '='; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return 0;
	return s[n] == '=' ? n : 0;
}

static bool
set_env(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	const struct cval *e;
	size_t n, j = 0, len;
	char **env;

	if (!(e = key_seq(c, v, "variable", &n)))
		return false;
	env = calloc(n + 1, sizeof(*env));
	if (!env) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n && !c->nomem; i++) {
		bool twice = false;

		if (e[i].type != CVAL_STRING) {
			key_error(c, &e[i], "'env' must contain only strings");
			continue;
		}
		len = env_name_len(e[i].s);
		if (len == 0) {
			key_error(c, &e[i], "invalid env entry '%s' (NAME=value, NAME of letters, digits "
			    "and '_', not starting with a digit)", e[i].s);
			continue;
		}
		for (size_t m = 0; m < j && !twice; m++)
			twice = strncmp(env[m], e[i].s, len + 1) == 0;
		if (twice) {
			key_error(c, &e[i], "'env' sets '%.*s' twice", (int)len, e[i].s);
			continue;
		}
		if ((env[j] = key_strdup(c, e[i].s)))
			j++;
	}
	*(char ***)field = env;
	return true;
}

/* user: the program runs as that user, in that group or else the user's
 * primary one. Whether sockd can switch to it at all is a rule across
 * endpoints (config_check.c: daemon.user). */
static bool
set_user(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct exec_options *eo = (struct exec_options *)((char *)field - k->offset);
	struct key_user u;

	if (!key_parse_user(c, v, &u))
		return false;
	free(eo->user);
	free(eo->group);
	eo->user = u.name;
	eo->group = u.group;
	eo->uid = u.uid;
	eo->gid = u.gid;
	return true;
}

static void
print_user(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const struct exec_options *eo = base;
	char *s;

	if (!eo->user)
		return;
	fprintf(f, "%suser = ", indent);
	if (eo->group) {
		s = diag_format("%s:%s", eo->user, eo->group);
		key_dump_string(f, s ? s : eo->user);
		free(s);
	} else {
		key_dump_string(f, eo->user);
	}
	fputs(";\n", f);
}

static void
release_user(const struct key *k, void *base)
{
	struct exec_options *eo = base;

	free(eo->user);
	free(eo->group);
	eo->user = eo->group = NULL;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "as", RLIMIT_AS },
	{ "core", RLIMIT_CORE },
	{ "cpu", RLIMIT_CPU },
	{ "data", RLIMIT_DATA },
	{ "fsize", RLIMIT_FSIZE },
	{ "memlock", RLIMIT_MEMLOCK },
	{ "nofile", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC },
	{ "stack", RLIMIT_STACK },
};

#define N_RLIMITS (sizeof(rlimit_names) / sizeof(rlimit_names[0]))

/* rlimit = { nofile = 1024; core = 0; cpu = "unlimited"; }: soft and hard
 * limit alike. Kept in the order of rlimit_names, whatever the file's. */
static bool
set_rlimit(struct key_ctx *c, const struct key *k, const struct cval *g, void *field)
{
	struct exec_options *eo = (struct exec_options *)((char *)field - k->offset);
	unsigned long long value[N_RLIMITS];
	bool set[N_RLIMITS] = { false };
	size_t n = 0;

	if (g->type != CVAL_GROUP) {
		key_error(c, g, "'rlimit' must be a group ({ ... })");
		return false;
	}
	if (g->n == 0) {
		key_error(c, g, "'rlimit' must set at least one limit");
		return false;
	}
	for (size_t i = 0; i < g->n; i++) {
		const struct cval *s = &g->elems[i];
		size_t j;

		for (j = 0; j < N_RLIMITS; j++)
			if (strcmp(s->name, rlimit_names[j].name) == 0)
				break;
		if (j == N_RLIMITS) {
			key_error(c, s, "unknown key '%s' in rlimit "
			    "(as, core, cpu, data, fsize, memlock, nofile, nproc, stack)", s->name);
			continue;
		}
		if (s->type == CVAL_STRING && strcmp(s->s, "unlimited") == 0) {
			value[j] = RLIM_INFINITY;
		} else if (s->type == CVAL_INT && s->i >= 0) {
			value[j] = (unsigned long long)s->i;
		} else {
			key_error(c, s, "'%s' in rlimit must be an integer >= 0 or \"unlimited\"", s->name);
			continue;
		}
		set[j] = true;
		n++;
	}
	if (n == 0)
		return false;
	eo->rlimits = calloc(n, sizeof(*eo->rlimits));
	if (!eo->rlimits) {
		c->nomem = true;
		return false;
	}
	for (size_t j = 0; j < N_RLIMITS; j++) {
		if (!set[j])
			continue;
		eo->rlimits[eo->n_rlimits++] = (struct exec_rlimit){
			.resource = rlimit_names[j].resource,
			.soft = value[j],
			.hard = value[j],
		};
	}
	return true;
}

/* libconfig 1.5 reads a plain integer beyond 32 bits as a wrong value. */
static void
print_rlimit(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const struct exec_options *eo = base;

	if (eo->n_rlimits == 0)
		return;
	fprintf(f, "%srlimit = {", indent);
	for (size_t i = 0; i < eo->n_rlimits; i++) {
		unsigned long long v = eo->rlimits[i].soft;
		const char *name = "?";

		for (size_t j = 0; j < N_RLIMITS; j++)
			if (rlimit_names[j].resource == eo->rlimits[i].resource)
				name = rlimit_names[j].name;
		fprintf(f, " %s = ", name);
		if (v == RLIM_INFINITY)
			fputs("\"unlimited\"", f);
		else
			fprintf(f, v > 2147483647ULL ? "%lluL" : "%llu", v);
		fputc(';', f);
	}
	fputs(" };\n", f);
}

static void
print_nice(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	if (*(const int *)key_cfield(k, base) != NICE_UNSET)
		key_print_int(f, indent, k, base, outer);
}

static void
exec_init(void *base)
{
	struct exec_options *eo = base;

	eo->uid = (uid_t)-1;
	eo->gid = (gid_t)-1;
	eo->umask = -1;
	eo->nice = NICE_UNSET;
}

static const struct key_choice handoff_choices[] = {
	{ "nowait", HANDOFF_NOWAIT },
	{ "wait", HANDOFF_WAIT },
	{ "listen-fds", HANDOFF_LISTEN_FDS },
	{ "accept-fds", HANDOFF_ACCEPT_FDS },
	{ NULL, 0 },
};

static bool
shown_if_listen_fds(const void *base)
{
	return ((const struct exec_options *)base)->handoff == HANDOFF_LISTEN_FDS;
}

static const struct key exec_keys[] = {
	{ .name = "command", .type = KEY_LIST, .set = set_command, .print = key_print_strv,
	  .offset = X(command), .required = true, .doc_def = "required",
	  .release = key_release_strv, .doc = "the program and its arguments; an absolute path first" },
	{ .name = "argv0", .type = KEY_STRING, .set = key_set_string, .print = key_print_string,
	  .offset = X(argv0), .doc_def = "command's first element", .release = key_release_string,
	  .doc = "the program's argv[0], when it differs from its path (tcpd)" },
	{ .name = "handoff", .type = KEY_CHOICE, .set = key_set_choice, .print = key_print_choice,
	  .offset = X(handoff), .choices = handoff_choices, .def = "nowait",
	  .doc = "how the program gets its clients: nowait, wait, listen-fds, accept-fds" },
	{ .name = "start_at_launch", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = X(start_at_launch), .def = "false", .shown = shown_if_listen_fds,
	  .doc = "listen-fds: start the program when sockd opens the sockets, not at the first client" },
	{ .name = "env", .type = KEY_LIST, .set = set_env, .print = key_print_strv,
	  .offset = X(env), .doc_def = "none", .release = key_release_strv,
	  .doc = "NAME=value variables added to the program's environment" },
	{ .name = "user", .type = KEY_ID, .set = set_user, .print = print_user,
	  .offset = X(user), .doc_def = "the user sockd serves as", .release = release_user,
	  .doc = "run the program as user or user:group" },
	{ .name = "instances", .type = KEY_INTEGER, .set = key_set_uint, .print = key_print_uint,
	  .offset = X(instances), .min = 0, .max = INSTANCES_MAX, .def = "0",
	  .doc = "programs running at once; 0 = no own limit" },
	{ .name = "umask", .type = KEY_OCTAL, .set = key_set_octal, .print = key_print_octal,
	  .offset = X(umask), .doc_def = "sockd's", .example = "0022",
	  .doc = "the program's umask" },
	{ .name = "nice", .type = KEY_INTEGER, .set = key_set_int, .print = print_nice,
	  .offset = X(nice), .min = NICE_MIN, .max = NICE_MAX, .doc_def = "sockd's",
	  .doc = "the program's nice value" },
	{ .name = "rlimit", .type = KEY_GROUP, .set = set_rlimit, .print = print_rlimit,
	  .offset = X(rlimits), .doc_def = "sockd's", .release = key_release_ptr,
	  .doc = "resource limits: as, core, cpu, data, fsize, memlock, nofile, nproc, stack" },
	{ .name = NULL },
};

static const struct key_set exec_key_set = {
	.section = "exec",
	.keys = exec_keys,
	.size = sizeof(struct exec_options),
	.init = exec_init,
};

/* instances are counted when the acceptor accepts, so that a burst of
 * clients cannot start more programs than that (xinetd's bypass). */
static unsigned
exec_max_active(const struct endpoint *ep)
{
	return exec_options(ep)->instances;
}

const struct service service_exec = {
	.name = "exec",
	/* Datagram addresses only with handoff "wait" or "listen-fds"
	 * (config_check.c), whose sockets no worker serves. */
	.flags = SERVICE_STREAM | SERVICE_DGRAM | SERVICE_OPAQUE | SERVICE_LOG_INFO,
	.conn_start = exec_start,
	.conn_io = exec_io,
	.conn_hangup = exec_hangup,
	.conn_timeout = exec_timeout,
	.conn_stop = exec_stop,
	.conn_free = exec_free,
	.keys = &exec_key_set,
	.max_active = exec_max_active,
};
