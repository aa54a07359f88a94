#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "queue.h"
#include "systemd.h"
#include "worker.h"

#define STATUS_INTERVAL_S 5

static unsigned
cpus_available(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) == -1)
		return 1;
	n = CPU_COUNT(&set);
	return n > 0 ? (unsigned)n : 1;
}

/* setgroups, setgid, setuid, in that order, and read the ids back: a
 * half-dropped process must not go on serving. */
static int
drop_privileges(const struct daemon_config *dc)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (!dc->user) {
		if (geteuid() == 0)
			log_warn("no daemon.user set: serving as root");
		return 0;
	}
	if (geteuid() != 0) {
		if (geteuid() != dc->uid)
			log_warn("not started as root: cannot switch to user '%s', "
				 "serving as uid %u, ignoring", dc->user, (unsigned)geteuid());
		return 0;
	}
	if (setgroups(1, &dc->gid) == -1)
		return log_errno(errno, "setgroups");
	if (setresgid(dc->gid, dc->gid, dc->gid) == -1)
		return log_errno(errno, "setgid %u", (unsigned)dc->gid);
	if (setresuid(dc->uid, dc->uid, dc->uid) == -1)
		return log_errno(errno, "setuid %u", (unsigned)dc->uid);
	if (getresuid(&ruid, &euid, &suid) == -1 || getresgid(&rgid, &egid, &sgid) == -1 ||
	    ruid != dc->uid || euid != dc->uid || suid != dc->uid ||
	    rgid != dc->gid || egid != dc->gid || sgid != dc->gid) {
		log_err("privilege drop to user '%s' did not take effect", dc->user);
		return -EPERM;
	}
	log_info("serving as user %s (uid %u, gid %u)", dc->user, (unsigned)dc->uid, (unsigned)dc->gid);
	return 0;
}

int
daemon_start(struct sockd *d, struct sockd_config *cfg)
{
	unsigned n_workers, w_dgram = 0;
	int r;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->acceptor_epfd = d->acceptor_wakefd = -1;
	d->max_connections = cfg->daemon.max_connections;
	d->exitfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->exitfd == -1)
		return log_errno(errno, "eventfd");

	r = listeners_open(cfg, &d->listeners, &d->n_listeners);
	if (r < 0)
		return r;
	r = drop_privileges(&cfg->daemon);
	if (r < 0)
		return r;

	r = queue_new(cfg->daemon.queue, &d->queue);
	if (r < 0)
		return log_errno(r, "queue");

	n_workers = cfg->daemon.workers ? cfg->daemon.workers : cpus_available();
	d->workers = calloc(n_workers, sizeof(*d->workers));
	if (!d->workers)
		return log_errno(ENOMEM, "workers");
	for (unsigned i = 0; i < n_workers; i++) {
		r = worker_start(d, i, &d->workers[i]);
		if (r < 0)
			return log_errno(r, "starting worker %u", i);
		d->n_workers++;
	}
	/* Each datagram socket belongs to one worker, spread round-robin. */
	for (size_t i = 0; i < d->n_listeners; i++) {
		struct listener *l = d->listeners[i];

		if (addr_is_stream(&l->addr))
			continue;
		r = worker_add_dgram(d->workers[w_dgram++ % d->n_workers], l);
		if (r < 0)
			return log_errno(r, "endpoint %s", l->ep->name);
	}
	r = acceptor_start(d);
	if (r < 0)
		return r;

	log_info("ready: %zu listeners, %u workers", d->n_listeners, d->n_workers);
	systemd_notify("READY=1\nSTATUS=%zu endpoints, %zu listeners, %u workers",
		       cfg->n_endpoints, d->n_listeners, d->n_workers);
	return 0;
}

static void
update_status(struct sockd *d)
{
	systemd_notify("STATUS=%zu endpoints, %lu active, %lu served",
		       d->cfg->n_endpoints, atomic_load(&d->active), atomic_load(&d->served));
}

/* Wait until every worker has left or the deadline passes. */
static bool
wait_workers(struct sockd *d, unsigned *left, const struct timespec *deadline)
{
	while (*left > 0) {
		struct timespec now;
		struct pollfd p = { .fd = d->exitfd, .events = POLLIN };
		long ms;
		uint64_t v;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return false;
		if (poll(&p, 1, (int)ms) == 1 && read(d->exitfd, &v, sizeof(v)) == sizeof(v))
			*left = v >= *left ? 0 : *left - (unsigned)v;
	}
	return true;
}

static void
shutdown_gracefully(struct sockd *d)
{
	double timeout = d->cfg->daemon.shutdown_timeout;
	unsigned left = d->n_workers;
	struct timespec deadline;

	systemd_notify("STOPPING=1");
	log_info("stopping");

	/* No new clients: stop the acceptor and close the stream listeners.
	 * Datagram sockets are released by their workers below. */
	acceptor_stop(d);
	for (size_t i = 0; i < d->n_listeners; i++)
		if (addr_is_stream(&d->listeners[i]->addr)) {
			listener_free(d->listeners[i]);
			d->listeners[i] = NULL;
		}

	for (unsigned i = 0; i < d->n_workers; i++)
		worker_drain(d->workers[i]);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)timeout;
	deadline.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	if (!wait_workers(d, &left, &deadline)) {
		log_notice("shutdown timeout (%.1fs) reached: closing %lu open connections",
			   timeout, atomic_load(&d->active));
		for (unsigned i = 0; i < d->n_workers; i++)
			worker_abort(d->workers[i]);
	}
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_join(d->workers[i]);
	d->n_workers = 0;
}

int
daemon_run(struct sockd *d)
{
	struct itimerspec its = { .it_interval.tv_sec = STATUS_INTERVAL_S, .it_value.tv_sec = STATUS_INTERVAL_S };
	struct pollfd p[2];
	sigset_t mask;
	int sfd, tfd, code = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (sfd == -1 || tfd == -1) {
		log_errno(errno, "signalfd/timerfd");
		code = 1;
		goto out;
	}
	timerfd_settime(tfd, 0, &its, NULL);
	p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = tfd, .events = POLLIN };

	for (;;) {
		struct signalfd_siginfo si;
		uint64_t v;

		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_errno(errno, "poll");
			code = 1;
			break;
		}
		if (p[1].revents & POLLIN) {
			(void)!read(tfd, &v, sizeof(v));
			update_status(d);
		}
		if (!(p[0].revents & POLLIN) || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			log_notice("SIGHUP: live reload is not implemented yet, ignoring");
			continue;
		}
		log_info("%s received", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	shutdown_gracefully(d);
out:
	if (sfd != -1)
		close(sfd);
	if (tfd != -1)
		close(tfd);
	return code;
}

void
daemon_free(struct sockd *d)
{
	acceptor_stop(d);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_abort(d->workers[i]);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_join(d->workers[i]);
	free(d->workers);
	for (size_t i = 0; i < d->n_listeners; i++)
		listener_free(d->listeners[i]);
	free(d->listeners);
	queue_free(d->queue);
	if (d->acceptor_epfd != -1)
		close(d->acceptor_epfd);
	if (d->acceptor_wakefd != -1)
		close(d->acceptor_wakefd);
	if (d->exitfd != -1)
		close(d->exitfd);
	config_free(d->cfg);
	memset(d, 0, sizeof(*d));
}
