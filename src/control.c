#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "monitor.h"
#include "runtime.h"
#include "status.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59        /* Linux 4.13; older C libraries lack the name */
#endif

#define ACCEPTS_PER_DISPATCH    32      /* then let the main loop look at signals */
#define REFUSAL_LOG_MS          10000   /* at most one "refused" warning per 10 s */
#define ACCEPT_PAUSE_MS         1000    /* out of file descriptors: try again later */
#define DRAIN_MS                2000    /* a refused request's rest: read this long ... */
#define DRAIN_MAX               (1 << 20)       /* ... or this much, then close */

struct client {
	int fd;
	uid_t uid;
	pid_t pid;
	bool checking;                  /* waiting for the checker child's reply */
	bool replying;                  /* the request is in; sending the reply */
	bool drain;                     /* after the reply, read what the client still sends */
	bool draining;                  /* replied and shut down; reading until EOF */
	size_t drained;
	uint64_t deadline_ms;
	char in[CONTROL_REQUEST_MAX + 1];
	size_t in_len;
	struct buf out;
	size_t out_off;
	struct client *prev, *next;
};

/* "check FILE" runs config_load() in a child process: a file can take
 * libconfig seconds (quadratic shapes), and an @include can name a FIFO or
 * a hung mount. The main thread only waits on the child's pipe, next to
 * its signals, and kills the child at the time limit. One at a time. */
struct checker {
	pid_t pid;                      /* 0 = none running */
	int fd;                         /* the reply comes through this pipe */
	struct client *c;               /* who asked; NULL once gone */
	struct buf out;
	pid_t unreaped;                 /* killed, not yet reaped */
};

struct control {
	int fd;
	int epfd;
	int timerfd;
	struct addr addr;
	bool unlink_on_close;
	bool keep_file;                 /* another process holds the socket too */
	dev_t dev;                      /* the socket file we made, so we */
	ino_t ino;                      /* never remove another one */
	gid_t gid;                      /* members of this group may connect */
	struct client *clients;
	unsigned n_clients;
	uint64_t accept_paused_until;   /* 0 = accepting */
	uint64_t refusal_logged_ms;
	unsigned long refusals_unlogged;
	struct checker check;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ socket */

static int
clear_stale(const struct control *ctl, const char *path)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : log_errno(errno, "control socket %s: stat", path);
	if (!S_ISSOCK(st.st_mode)) {
		log_err("control socket %s: exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return log_errno(errno, "control socket %s: socket", path);
	r = connect(fd, (const struct sockaddr *)&ctl->addr.sa, ctl->addr.len);
	close(fd);
	if (r == 0) {
		log_err("control socket %s: another sockd is listening there", path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED)
		return log_errno(errno, "control socket %s: probing it", path);
	if (unlink(path) == -1 && errno != ENOENT)
		return log_errno(errno, "control socket %s: removing the stale socket", path);
	return 0;
}

/* The control socket the previous sockd passed on in an upgrade: it must
 * be a listening Unix stream socket bound to path. */
static int
adopt(struct control *ctl, int fd, const char *path)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), olen;
	int type = 0, listening = 0, flags;
	struct addr a;
	struct stat st;

	olen = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &olen) == -1 || type != SOCK_STREAM ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) == -1 ||
	    addr_from_sockaddr(type, (struct sockaddr *)&ss, len, &a) < 0 || !addr_equal(&a, &ctl->addr)) {
		log_warn("control socket %s: the one passed on is another socket, binding anew", path);
		return -EINVAL;
	}
	olen = sizeof(listening);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &olen) == -1 || !listening) {
		log_warn("control socket %s: the one passed on does not listen, binding anew", path);
		return -EINVAL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return log_errno(errno, "control socket %s: O_NONBLOCK", path);
	ctl->fd = fd;
	/* Until this start succeeds (daemon_start). */
	ctl->keep_file = true;
	if (addr_is_unix_path(&ctl->addr) && lstat(path, &st) == 0) {
		ctl->unlink_on_close = true;
		ctl->dev = st.st_dev;
		ctl->ino = st.st_ino;
		ctl->gid = st.st_gid;
	}
	return 0;
}

int
control_open(const char *path, uid_t uid, gid_t gid, int passed_fd, struct control **out)
{
	struct epoll_event ev;
	struct control *ctl;
	const char *why = NULL;
	char text[ADDR_STRLEN];
	struct stat st;
	int r;

	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return log_errno(ENOMEM, "control socket");
	ctl->fd = ctl->epfd = ctl->timerfd = ctl->check.fd = -1;
	if ((size_t)snprintf(text, sizeof(text), "unix:%s", path) >= sizeof(text) ||
	    addr_parse(text, &ctl->addr, &why) < 0 || ctl->addr.type != ADDR_UNIX) {
		log_err("control socket %s: %s", path, why ? why : "not a Unix socket path");
		r = -EINVAL;
		goto out_close;
	}
	ctl->gid = gid != (gid_t)-1 ? gid : getegid();

	if (passed_fd >= 0) {
		r = adopt(ctl, passed_fd, path);
		if (r == 0)
			goto out_listening;
		close(passed_fd);
	}
	if (addr_is_unix_path(&ctl->addr)) {
		r = clear_stale(ctl, path);
		if (r < 0)
			goto out_close;
	}
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->fd == -1) {
		r = log_errno(errno, "control socket %s: socket", path);
		goto out_close;
	}
	if (bind(ctl->fd, (const struct sockaddr *)&ctl->addr.sa, ctl->addr.len) == -1) {
		r = log_errno(errno, "control socket %s: bind", path);
		goto out_close;
	}
	if (addr_is_unix_path(&ctl->addr)) {
		if (stat(path, &st) == 0) {
			ctl->unlink_on_close = true;
			ctl->dev = st.st_dev;
			ctl->ino = st.st_ino;
		}
		/* Permissions before listen(): nobody connects through a wider mode. */
		if (chmod(path, 0660) == -1) {
			r = log_errno(errno, "control socket %s: chmod 0660", path);
			goto out_close;
		}
		if (geteuid() == 0 && chown(path, uid, gid) == -1) {
			r = log_errno(errno, "control socket %s: chown", path);
			goto out_close;
		}
		/* The group whose members may connect is the file's. */
		if (stat(path, &st) == 0)
			ctl->gid = st.st_gid;
	}
	if (listen(ctl->fd, CONTROL_CLIENTS_MAX) == -1) {
		r = log_errno(errno, "control socket %s: listen", path);
		goto out_close;
	}
out_listening:
	ctl->epfd = epoll_create1(EPOLL_CLOEXEC);
	ctl->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (ctl->epfd == -1 || ctl->timerfd == -1) {
		r = log_errno(errno, "control socket: epoll/timerfd");
		goto out_close;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = ctl };
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->fd, &ev) == -1) {
		r = log_errno(errno, "control socket: epoll_ctl");
		goto out_close;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &ctl->timerfd };
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->timerfd, &ev) == -1) {
		r = log_errno(errno, "control socket: epoll_ctl");
		goto out_close;
	}
	log_info("control socket on %s%s", path, passed_fd >= 0 && ctl->fd == passed_fd ?
		 " (kept from the previous sockd)" : "");
	*out = ctl;
	return 0;

out_close:
	control_close(ctl);
	return r;
}

int
control_listen_fd(const struct control *ctl)
{
	return ctl->fd;
}

void
control_keep_file(struct control *ctl, bool keep)
{
	if (ctl)
		ctl->keep_file = keep;
}

int
control_fd(const struct control *ctl)
{
	return ctl->epfd;
}

/* ------------------------------------------------------------ clients */

static void check_cancel(struct control *ctl);
static void client_reply(struct control *ctl, struct client *c);

static void
client_free(struct control *ctl, struct client *c)
{
	if (c->checking)
		check_cancel(ctl);
	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->n_clients--;
	/* Not close() alone: an exec child between clone() and execve()
	 * holds a copy of the fd, and with it the registration. */
	epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	buf_free(&c->out);
	free(c);
}

/* Best effort, for a client we are about to close anyway. */
static void
say_and_close(int fd, const char *reply)
{
	(void)!send(fd, reply, strlen(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static bool
in_group_list(int fd, gid_t gid)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool found = false;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1) {
		if (errno != ERANGE)
			return false;
		groups = malloc(len);
		if (!groups || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1) {
			free(groups);
			return false;
		}
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			found = true;
	if (groups != small)
		free(groups);
	return found;
}

/* The file mode keeps strangers out of a socket file; this keeps them out
 * of an abstract socket, and out of a file someone chmod'ed wider. */
static bool
peer_allowed(const struct control *ctl, int fd, const struct ucred *uc)
{
	return uc->uid == 0 || uc->uid == geteuid() || uc->gid == ctl->gid || in_group_list(fd, ctl->gid);
}

static void
log_refusal(struct control *ctl, const struct ucred *uc)
{
	uint64_t now = now_ms();

	if (ctl->refusal_logged_ms && now - ctl->refusal_logged_ms < REFUSAL_LOG_MS) {
		ctl->refusals_unlogged++;
		return;
	}
	log_warn("control socket: refused uid %u (pid %ld): not root, not sockd's user and not in group %u%s",
		 (unsigned)uc->uid, (long)uc->pid, (unsigned)ctl->gid,
		 ctl->refusals_unlogged ? " (and more refusals since the last message)" : "");
	ctl->refusal_logged_ms = now;
	ctl->refusals_unlogged = 0;
}

static void
control_accept(struct control *ctl)
{
	for (int i = 0; i < ACCEPTS_PER_DISPATCH; i++) {
		struct epoll_event ev;
		struct client *c;
		struct ucred uc;
		socklen_t len = sizeof(uc);
		char reply[256];
		int fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn_errno(errno, "control socket: accept, pausing for a second");
				epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, ctl->fd, NULL);
				ctl->accept_paused_until = now_ms() + ACCEPT_PAUSE_MS;
			}
			return;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1) {
			close(fd);
			continue;
		}
		if (!peer_allowed(ctl, fd, &uc)) {
			log_refusal(ctl, &uc);
			snprintf(reply, sizeof(reply),
				 "{\"ok\":false,\"error\":\"permission denied: uid %u is not root, "
				 "not sockd's user and not in group %u\"}\n",
				 (unsigned)uc.uid, (unsigned)ctl->gid);
			say_and_close(fd, reply);
			continue;
		}
		if (ctl->n_clients >= CONTROL_CLIENTS_MAX) {
			say_and_close(fd, "{\"ok\":false,\"error\":\"busy: too many control clients, "
				      "try again\"}\n");
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->uid = uc.uid;
		c->pid = uc.pid;
		c->deadline_ms = now_ms() + CONTROL_TIMEOUT_MS;
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = c };
		if (epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			free(c);
			continue;
		}
		c->next = ctl->clients;
		if (ctl->clients)
			ctl->clients->prev = c;
		ctl->clients = c;
		ctl->n_clients++;
	}
}

/* ------------------------------------------------------------ requests */

/* An error reply, left open for more members. */
static void
error_start(struct buf *b, const char *msg)
{
	buf_puts(b, "{\"ok\":false,\"error\":");
	buf_json_string(b, msg);
}

static void
reply_error(struct buf *b, const char *msg)
{
	error_start(b, msg);
	buf_puts(b, "}");
}

static void
json_lines(struct buf *b, const char *key, char *const *lines, size_t n)
{
	buf_printf(b, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_puts(b, ",");
		buf_json_string(b, lines[i]);
	}
	buf_puts(b, "]");
}

static void
cmd_status(struct buf *b)
{
	struct status s;
	int r = monitor_snapshot(&s);

	if (r < 0) {
		reply_error(b, r == -ENOMEM ? "out of memory" : "no status yet");
		return;
	}
	buf_puts(b, "{\"ok\":true,");
	status_json_members(&s, b);
	buf_puts(b, "}");
	status_free(&s);
}

static enum control_result
cmd_reload(struct buf *b, struct sockd *d, const struct client *c)
{
	char msg[128];
	int r;

	log_info("control: reload requested (uid %u, pid %ld)", (unsigned)c->uid, (long)c->pid);
	r = d->reload(d);
	if (r == 0) {
		buf_printf(b, "{\"ok\":true,\"reloaded\":true,\"endpoints\":%zu,\"listeners\":%zu,"
			   "\"workers\":%u}", d->cfg->n_endpoints, d->n_listeners, d->n_workers);
		return CONTROL_CONTINUE;
	}
	if (!d->acceptor_running) {
		reply_error(b, "reload failed and left nothing to serve: sockd is exiting");
		return CONTROL_FATAL;
	}
	snprintf(msg, sizeof(msg), "reload refused (%zu error%s): still serving the previous configuration",
		 d->reload_errors.n, d->reload_errors.n == 1 ? "" : "s");
	error_start(b, msg);
	json_lines(b, "errors", d->reload_errors.lines, d->reload_errors.n);
	buf_puts(b, "}");
	return CONTROL_CONTINUE;
}

/* The reply to "check PATH", from config_load(); run in the checker child. */
static void
check_answer(struct buf *b, const char *path)
{
	struct sockd_config *cfg = NULL;
	struct diag dg = { 0 };
	char msg[128];
	int r;

	r = config_load(path, &cfg, &dg);
	if (r == 0) {
		buf_puts(b, "{\"ok\":true,\"file\":");
		buf_json_string(b, path);
		buf_printf(b, ",\"endpoints\":%zu", cfg->n_endpoints);
		json_lines(b, "warnings", cfg->warnings, cfg->n_warnings);
		buf_puts(b, "}\n");
		config_free(cfg);
		diag_free(&dg);
		return;
	}
	if (dg.n == 0)
		snprintf(msg, sizeof(msg), "cannot check the file: %s", strerror(-r));
	else
		snprintf(msg, sizeof(msg), "%zu error%s", dg.n, dg.n == 1 ? "" : "s");
	error_start(b, msg);
	buf_puts(b, ",\"file\":");
	buf_json_string(b, path);
	json_lines(b, "errors", dg.lines, dg.n);
	buf_puts(b, "}\n");
	diag_free(&dg);
}

#ifdef CONTROL_CHECK_INLINE
/* The fuzz harness checks in its own process, with a stand-in config_load. */
static bool
check_start(struct control *ctl, struct client *c, const char *path)
{
	(void)ctl;
	check_answer(&c->out, path);
	return false;
}
#else
/* Never returns: config_load() in the child, its reply into the pipe. */
static void __attribute__((noreturn))
check_child(int fd, const char *path, pid_t parent)
{
	struct buf b = { 0 };
	size_t off = 0;

	/* Not a moment longer than sockd, even one killed with SIGKILL. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	/* Let go of sockd's sockets at once, so that a connection a worker
	 * closes meanwhile closes for its peer too. */
	if (fd > 3)
		close_range(3, (unsigned)fd - 1, 0);
	close_range((unsigned)fd + 1, ~0U, 0);
	check_answer(&b, path);
	if (buf_status(&b) < 0)
		_exit(2);
	while (off < b.len) {
		ssize_t n = write(fd, b.data + off, b.len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(1);
		off += (size_t)n;
	}
	_exit(0);
}

/* Start checking path for c: true when the reply will come from the
 * child; false with the reply (an error) already in c->out. */
static bool
check_start(struct control *ctl, struct client *c, const char *path)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ctl->check };
	pid_t parent = getpid(), pid;
	char msg[128];
	int p[2], err;

	if (ctl->check.pid || ctl->check.unreaped) {
		reply_error(&c->out, "busy: another check is running, try again");
		buf_puts(&c->out, "\n");
		return false;
	}
	if (pipe2(p, O_CLOEXEC) == -1)
		goto out_fail;
	/* The read end only: the child may block on a full pipe. */
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1 ||
	    epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, p[0], &ev) == -1)
		goto out_close;
	/* The child of a threaded process may only do what is safe after
	 * fork(); config_load() allocates, reads files and looks up names,
	 * which glibc supports there, and the time limit covers the rest. */
	pid = fork();
	if (pid == -1) {
		epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, p[0], NULL);
		goto out_close;
	}
	if (pid == 0) {
		close(p[0]);
		check_child(p[1], path, parent);
	}
	close(p[1]);
	ctl->check.pid = pid;
	ctl->check.fd = p[0];
	ctl->check.c = c;
	c->checking = true;
	c->deadline_ms = now_ms() + CONTROL_CHECK_MS;
	/* Nothing more to read from c; a hang-up still shows (EPOLLHUP). */
	ev = (struct epoll_event){ .events = 0, .data.ptr = c };
	epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	return true;

out_close:
	err = errno;
	close(p[0]);
	close(p[1]);
	errno = err;
out_fail:
	snprintf(msg, sizeof(msg), "cannot start the check: %s", strerror(errno));
	reply_error(&c->out, msg);
	buf_puts(&c->out, "\n");
	return false;
}
#endif

/* Stop the checker (killed, reaped when it can be) and forget its client. */
static void
check_cancel(struct control *ctl)
{
	struct checker *k = &ctl->check;

	if (k->pid) {
		kill(k->pid, SIGKILL);
		/* Dead at once, unless stuck in the kernel: then later. */
		if (waitpid(k->pid, NULL, WNOHANG) == 0)
			k->unreaped = k->pid;
		k->pid = 0;
	}
	if (k->fd >= 0) {
		epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, k->fd, NULL);
		close(k->fd);
		k->fd = -1;
	}
	if (k->c)
		k->c->checking = false;
	k->c = NULL;
	buf_free(&k->out);
}

/* Read what the checker sent; true once it is all there (EOF) or the
 * pipe failed, and the child is reaped. */
static bool
check_read(struct control *ctl)
{
	struct checker *k = &ctl->check;
	char chunk[16384];
	ssize_t n;

	if (k->fd < 0)
		return false;           /* cancelled earlier in this batch */
	for (;;) {
		n = read(k->fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return false;
		if (n <= 0)
			break;
		buf_append(&k->out, chunk, (size_t)n);
	}
	return true;
}

/* The checker is done: its reply (or why there is none) goes to its client. */
static void
check_finish(struct control *ctl)
{
	struct checker *k = &ctl->check;
	struct client *c = k->c;
	char msg[128];
	int st = 0;

	epoll_ctl(ctl->epfd, EPOLL_CTL_DEL, k->fd, NULL);
	close(k->fd);
	k->fd = -1;
	/* It closed the pipe by exiting: this wait is short. */
	while (waitpid(k->pid, &st, 0) == -1 && errno == EINTR)
		;
	k->pid = 0;
	k->c = NULL;
	if (!c)
		goto out;
	c->checking = false;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && buf_status(&k->out) == 0 &&
	    k->out.len > 0 && k->out.data[k->out.len - 1] == '\n') {
		buf_append(&c->out, k->out.data, k->out.len);
	} else {
		if (WIFSIGNALED(st))
			snprintf(msg, sizeof(msg), "check failed: the checker was killed by signal %d",
				 WTERMSIG(st));
		else
			snprintf(msg, sizeof(msg), "check failed: the checker exited with status %d",
				 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		reply_error(&c->out, msg);
		buf_puts(&c->out, "\n");
	}
	client_reply(ctl, c);
out:
	buf_free(&k->out);
}

/* The new process is started and waited for right here (for at most
 * UPGRADE_READY_MS, daemon.c): the reply says how it went. */
static enum control_result
cmd_upgrade(struct buf *b, struct sockd *d, const struct client *c)
{
	char why[512];
	int r;

	log_info("control: upgrade requested (uid %u, pid %ld)", (unsigned)c->uid, (long)c->pid);
	r = d->upgrade(d, why, sizeof(why));
	if (r <= 0) {
		reply_error(b, why);
		return CONTROL_CONTINUE;
	}
	buf_printf(b, "{\"ok\":true,\"pid\":%d,\"old_pid\":%d}", r, (int)getpid());
	return CONTROL_HANDED_OVER;
}

/* Returns true when the request is being handled in the background (a
 * check) and the reply will come later. */
static bool
cmd_check(struct control *ctl, struct client *c, const struct sockd *d, const char *path)
{
	/* sockd's cwd is not the client's: only its own file may be relative. */
	if (!path) {
		path = d->config_path;
	} else if (path[0] != '/') {
		reply_error(&c->out, "check needs an absolute path");
		buf_puts(&c->out, "\n");
		return false;
	}
	return check_start(ctl, c, path);
}

/* Answer line into c->out; *pending when the answer comes later (a check). */
static enum control_result
handle_request(struct control *ctl, struct client *c, struct sockd *d, char *line, bool *pending)
{
	enum control_result res = CONTROL_CONTINUE;
	struct buf *b = &c->out;
	char *arg, msg[160];
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	while (*line == ' ' || *line == '\t')
		line++;
	arg = strpbrk(line, " \t");
	if (arg) {
		*arg++ = '\0';
		arg += strspn(arg, " \t");
		if (*arg == '\0')
			arg = NULL;
	}
	for (const char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
			reply_error(b, "bad request: not a command");
			goto out;
		}
	log_debug("control: '%s' from uid %u (pid %ld)", line, (unsigned)c->uid, (long)c->pid);

	if (strcmp(line, "check") == 0) {
		*pending = cmd_check(ctl, c, d, arg);
		return res;
	}
	if (arg && (strcmp(line, "status") == 0 || strcmp(line, "reload") == 0 ||
		    strcmp(line, "stop") == 0 || strcmp(line, "upgrade") == 0 || strcmp(line, "help") == 0)) {
		snprintf(msg, sizeof(msg), "'%.16s' takes no argument", line);
		reply_error(b, msg);
	} else if (strcmp(line, "status") == 0) {
		cmd_status(b);
	} else if (strcmp(line, "reload") == 0) {
		res = cmd_reload(b, d, c);
	} else if (strcmp(line, "stop") == 0) {
		log_info("control: stop requested (uid %u, pid %ld)", (unsigned)c->uid, (long)c->pid);
		buf_puts(b, "{\"ok\":true,\"stopping\":true}");
		res = CONTROL_STOP;
	} else if (strcmp(line, "upgrade") == 0) {
		res = cmd_upgrade(b, d, c);
	} else if (strcmp(line, "help") == 0) {
		buf_puts(b, "{\"ok\":true,\"commands\":[\"status\",\"reload\",\"check [FILE]\","
			 "\"stop\",\"upgrade\",\"help\"]}");
	} else if (*line == '\0') {
		reply_error(b, "empty request (commands: status, reload, check [FILE], stop, upgrade, help)");
	} else {
		snprintf(msg, sizeof(msg), "unknown command '%.64s' (commands: status, reload, check [FILE], "
			 "stop, upgrade, help)", line);
		reply_error(b, msg);
	}
out:
	buf_puts(b, "\n");
	return res;
}

/* Read and drop what a refused client still sends; true when c is done
 * with (and freed). Closing a socket with input unread makes the peer's
 * next write fail (EPIPE, or a reset over TCP), and a client that is
 * still writing its request gives up before it reads why. */
static bool
client_drain(struct control *ctl, struct client *c)
{
	char scratch[16384];

	while (c->drained < DRAIN_MAX) {
		ssize_t n = read(c->fd, scratch, sizeof(scratch));

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return false;
		if (n <= 0)
			break;
		c->drained += (size_t)n;
	}
	client_free(ctl, c);
	return true;
}

/* Send what the socket takes; true when c is done with (and freed). */
static bool
client_flush(struct control *ctl, struct client *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return false;
		if (n <= 0)
			goto out_free;
		c->out_off += (size_t)n;
	}
	if (c->drain && !c->draining) {
		/* The reply is out: say so with EOF, then read until the
		 * client's EOF, for a bounded time and size. */
		c->draining = true;
		c->deadline_ms = now_ms() + DRAIN_MS;
		if (shutdown(c->fd, SHUT_WR) == 0 &&
		    epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
			return client_drain(ctl, c);
	}
out_free:
	client_free(ctl, c);
	return true;
}

static void
client_reply(struct control *ctl, struct client *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };

	if (buf_status(&c->out) < 0) {
		buf_free(&c->out);
		buf_puts(&c->out, "{\"ok\":false,\"error\":\"out of memory\"}\n");
	}
	c->replying = true;
	c->deadline_ms = now_ms() + CONTROL_TIMEOUT_MS;
	if (client_flush(ctl, c))
		return;
	if (epoll_ctl(ctl->epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		client_free(ctl, c);
}

static enum control_result
client_read(struct control *ctl, struct client *c, struct sockd *d)
{
	enum control_result res;
	bool pending = false;

	for (;;) {
		ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
		char *lf;

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return CONTROL_CONTINUE;
		if (n < 0 || (n == 0 && c->in_len == 0)) {
			client_free(ctl, c);
			return CONTROL_CONTINUE;
		}
		c->in_len += (size_t)n;
		c->in[c->in_len] = '\0';
		lf = memchr(c->in, '\n', c->in_len);
		if (lf || n == 0) {
			/* A client that half-closes without a line feed
			 * sent its request all the same. */
			if (lf)
				*lf = '\0';
			if (strlen(c->in) != (lf ? (size_t)(lf - c->in) : c->in_len)) {
				reply_error(&c->out, "bad request: NUL byte");
				buf_puts(&c->out, "\n");
				res = CONTROL_CONTINUE;
			} else {
				res = handle_request(ctl, c, d, c->in, &pending);
			}
			if (!pending)
				client_reply(ctl, c);
			return res;
		}
		if (c->in_len == CONTROL_REQUEST_MAX) {
			reply_error(&c->out, "bad request: longer than 4096 bytes");
			buf_puts(&c->out, "\n");
			c->drain = true;
			client_reply(ctl, c);
			return CONTROL_CONTINUE;
		}
	}
}

static void
expire(struct control *ctl, uint64_t now)
{
	struct client *c = ctl->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->deadline_ms > now)
			continue;
		if (c->checking) {
			check_cancel(ctl);
			log_warn("control: check stopped after %d s (uid %u, pid %ld)",
				 CONTROL_CHECK_MS / 1000, (unsigned)c->uid, (long)c->pid);
			buf_printf(&c->out, "{\"ok\":false,\"error\":\"check stopped after %d s: "
				   "the file, an @include or a name lookup takes too long\"}\n",
				   CONTROL_CHECK_MS / 1000);
			client_reply(ctl, c);
			continue;
		}
		if (!c->replying) {
			static const char msg[] = "{\"ok\":false,\"error\":\"timeout: no complete request "
						  "line within 5 s\"}\n";

			(void)!send(c->fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		client_free(ctl, c);
	}
	if (ctl->check.unreaped && waitpid(ctl->check.unreaped, NULL, WNOHANG) != 0)
		ctl->check.unreaped = 0;
	if (ctl->accept_paused_until && ctl->accept_paused_until <= now) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ctl };

		ctl->accept_paused_until = 0;
		epoll_ctl(ctl->epfd, EPOLL_CTL_ADD, ctl->fd, &ev);
	}
}

static void
arm_timer(struct control *ctl)
{
	struct itimerspec its = { 0 };
	uint64_t due = ctl->accept_paused_until;

	/* A killed checker stuck in the kernel: look again in a second. */
	if (ctl->check.unreaped && (!due || now_ms() + 1000 < due))
		due = now_ms() + 1000;

	for (struct client *c = ctl->clients; c; c = c->next)
		if (!due || c->deadline_ms < due)
			due = c->deadline_ms;
	if (due) {
		its.it_value.tv_sec = (time_t)(due / 1000);
		its.it_value.tv_nsec = (long)(due % 1000) * 1000000;
	}
	timerfd_settime(ctl->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

enum control_result
control_dispatch(struct control *ctl, struct sockd *d)
{
	enum control_result res = CONTROL_CONTINUE;
	struct epoll_event evs[CONTROL_CLIENTS_MAX + 3];
	int n = epoll_wait(ctl->epfd, evs, (int)(sizeof(evs) / sizeof(evs[0])), 0);
	bool check_done = false;

	for (int i = 0; i < n; i++) {
		void *p = evs[i].data.ptr;
		uint64_t v;

		if (p == ctl) {
			control_accept(ctl);
		} else if (p == &ctl->timerfd) {
			(void)!read(ctl->timerfd, &v, sizeof(v));
		} else if (p == &ctl->check) {
			/* Replied to after the batch: the reply may free
			 * its client, whose event may come later in it. */
			if (check_read(ctl))
				check_done = true;
		} else {
			struct client *c = p;
			enum control_result r;

			/* One event per fd per batch: c is still alive here. */
			if (c->checking) {
				/* Gone before its answer (EPOLLHUP). */
				client_free(ctl, c);
				continue;
			}
			if (c->draining) {
				client_drain(ctl, c);
				continue;
			}
			if (c->replying) {
				client_flush(ctl, c);
				continue;
			}
			r = client_read(ctl, c, d);
			if (r != CONTROL_CONTINUE)
				res = r;
		}
	}
	if (check_done && ctl->check.fd >= 0)
		check_finish(ctl);
	expire(ctl, now_ms());
	arm_timer(ctl);
	return res;
}

void
control_close(struct control *ctl)
{
	struct stat st;

	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl, ctl->clients);
	check_cancel(ctl);
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->unlink_on_close && !ctl->keep_file) {
		const char *path = ((const struct sockaddr_un *)&ctl->addr.sa)->sun_path;

		if (lstat(path, &st) == 0 && st.st_dev == ctl->dev && st.st_ino == ctl->ino)
			unlink(path);
	}
	if (ctl->epfd >= 0)
		close(ctl->epfd);
	if (ctl->timerfd >= 0)
		close(ctl->timerfd);
	free(ctl);
}
