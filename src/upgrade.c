#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "upgrade.h"

extern char **environ;

#define PID_DIGITS 24

static bool
replaced_var(const char *e)
{
	static const char *const names[] = { "LISTEN_PID=", "LISTEN_FDS=", "LISTEN_FDNAMES=", UPGRADE_ENV "=" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(e, names[i], strlen(names[i])) == 0)
			return true;
	return false;
}

/* The environment of the child: ours, then the four variables of the
 * hand-over; envp[*pid_at] is "LISTEN_PID=" followed by room for the
 * digits, which only the child knows. */
static char **
child_env(const struct handoff_fd *fds, size_t n, int report_fd, size_t *pid_at)
{
	size_t count = 0, k = 0, base, names_len = sizeof("LISTEN_FDNAMES=");
	char **envp;

	for (char **e = environ; *e; e++)
		count++;
	for (size_t i = 0; i < n; i++)
		names_len += strlen(fds[i].name) + 1;
	envp = calloc(count + 5, sizeof(*envp));
	if (!envp)
		return NULL;
	for (char **e = environ; *e; e++)
		if (!replaced_var(*e))
			envp[k++] = *e;
	base = k;
	envp[k] = malloc(names_len);
	if (!envp[k])
		goto out_free;
	{
		/* names_len counted the prefix, each name and a ':' or the NUL */
		char *w = envp[k];
		size_t len = strlen("LISTEN_FDNAMES=");

		memcpy(w, "LISTEN_FDNAMES=", len);
		w += len;
		for (size_t i = 0; i < n; i++) {
			if (i)
				*w++ = ':';
			len = strlen(fds[i].name);
			memcpy(w, fds[i].name, len);
			w += len;
		}
		*w = '\0';
	}
	k++;
	if (asprintf(&envp[k], "LISTEN_FDS=%zu", n) < 0) {
		envp[k] = NULL;
		goto out_free;
	}
	k++;
	if (asprintf(&envp[k], UPGRADE_ENV "=%d", report_fd) < 0) {
		envp[k] = NULL;
		goto out_free;
	}
	k++;
	envp[k] = calloc(1, sizeof("LISTEN_PID=") + PID_DIGITS);
	if (!envp[k])
		goto out_free;
	memcpy(envp[k], "LISTEN_PID=", strlen("LISTEN_PID="));     /* calloc'd: NUL-terminated */
	*pid_at = k;
	return envp;

out_free:
	for (size_t i = base; i <= k; i++)
		free(envp[i]);
	free(envp);
	return NULL;
}

static void
child_env_free(char **envp, size_t pid_at)
{
	/* The last four are ours: names, LISTEN_FDS, UPGRADE_ENV, LISTEN_PID. */
	for (size_t i = pid_at - 3; i <= pid_at; i++)
		free(envp[i]);
	free(envp);
}

/* Between fork() and execve(): only async-signal-safe calls. */
static void __attribute__((noreturn))
child(const char *exe, char *const argv[], char **envp, size_t pid_at, const struct handoff_fd *fds,
      size_t n, int report_fd)
{
	int target = 3 + (int)n, tmp[n + 1];
	char *p = envp[pid_at] + strlen("LISTEN_PID="), digits[PID_DIGITS];
	long pid = (long)getpid();
	size_t nd = 0;

	do {
		digits[nd++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid && nd < sizeof(digits));
	while (nd)
		*p++ = digits[--nd];
	*p = '\0';

	/* First out of the way of 3 ... 3 + n, then into place; dup2()
	 * leaves the copies without close-on-exec, as they must be. */
	for (size_t i = 0; i < n; i++)
		if ((tmp[i] = fcntl(fds[i].fd, F_DUPFD_CLOEXEC, target + 1)) == -1)
			_exit(127);
	if ((tmp[n] = fcntl(report_fd, F_DUPFD_CLOEXEC, target + 1)) == -1)
		_exit(127);
	for (size_t i = 0; i <= n; i++)
		if (dup2(tmp[i], 3 + (int)i) == -1)
			_exit(127);
	execve(exe, argv, envp);
	_exit(127);
}

static long
ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static void
describe(int status, char *why, size_t size)
{
	if (WIFEXITED(status))
		snprintf(why, size, "the new sockd exited with status %d%s before it served", WEXITSTATUS(status),
			 WEXITSTATUS(status) == 78 ? " (configuration error)" :
			 WEXITSTATUS(status) == 127 ? " (could not run the binary)" : "");
	else if (WIFSIGNALED(status))
		snprintf(why, size, "the new sockd was killed by SIG%s before it served",
			 sigabbrev_np(WTERMSIG(status)) ?: "?");
	else
		snprintf(why, size, "the new sockd ended before it served");
}

/* Wait for the child to end (it said it failed, or closed its end), up
 * to the deadline; then kill it. */
static void
reap(pid_t pid, int pidfd, const struct timespec *deadline, char *why, size_t size)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int status = 0;
	long ms = ms_left(deadline);

	if (pidfd >= 0 && ms > 0)
		while (poll(&p, 1, (int)ms) == -1 && errno == EINTR)
			ms = ms_left(deadline) > 0 ? ms_left(deadline) : 0;
	if (waitpid(pid, &status, WNOHANG) == pid) {
		describe(status, why, size);
		return;
	}
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	snprintf(why, size, "the new sockd (pid %ld) did not serve in time and was killed", (long)pid);
}

pid_t
upgrade_spawn(const char *exe, char *const argv[], const struct handoff_fd *fds, size_t n,
	      int timeout_ms, char *why, size_t size)
{
	struct timespec deadline;
	struct pollfd p[2];
	size_t pid_at = 0;
	char **envp;
	int pipefd[2], pidfd, r;
	pid_t pid;
	char code;

	if (pipe2(pipefd, O_CLOEXEC) == -1) {
		r = -errno;
		snprintf(why, size, "pipe: %s", strerror(errno));
		return r;
	}
	envp = child_env(fds, n, 3 + (int)n, &pid_at);
	if (!envp) {
		snprintf(why, size, "out of memory");
		r = -ENOMEM;
		goto out_close;
	}
	pid = fork();
	if (pid == -1) {
		r = -errno;
		snprintf(why, size, "fork: %s", strerror(errno));
		goto out_free;
	}
	if (pid == 0)
		child(exe, argv, envp, pid_at, fds, n, pipefd[1]);
	close(pipefd[1]);
	pipefd[1] = -1;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	p[0] = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
	p[1] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	for (;;) {
		long ms = ms_left(&deadline);
		ssize_t got;

		if (ms <= 0) {
			reap(pid, pidfd, &deadline, why, size);
			r = -ETIMEDOUT;
			break;
		}
		if (poll(p, 2, (int)ms) == -1) {
			if (errno == EINTR)
				continue;
			r = -errno;
			snprintf(why, size, "poll: %s", strerror(errno));
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			break;
		}
		if (!p[0].revents && !p[1].revents)
			continue;
		got = read(pipefd[0], &code, 1);
		if (got == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got == 1 && code == 0) {
			r = pid;
			break;
		}
		/* It failed, or ended without a word: give it a moment to exit. */
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += 2;
		reap(pid, pidfd, &deadline, why, size);
		r = -ECHILD;
		break;
	}
	if (pidfd >= 0)
		close(pidfd);
out_free:
	child_env_free(envp, pid_at);
out_close:
	close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return r;
}

int
upgrade_report_fd(void)
{
	const char *e = getenv(UPGRADE_ENV);
	char *end;
	long fd;

	if (!e)
		return -1;
	errno = 0;
	fd = strtol(e, &end, 10);
	unsetenv(UPGRADE_ENV);
	if (errno || *end || fd < 3 || fd > INT_MAX || fcntl((int)fd, F_GETFD) == -1)
		return -1;
	return (int)fd;
}

char *
upgrade_exe_path(void)
{
	char buf[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	static const char deleted[] = " (deleted)";

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if ((size_t)n > strlen(deleted) && strcmp(buf + n - strlen(deleted), deleted) == 0)
		buf[n - strlen(deleted)] = '\0';
	return strdup(buf);
}
