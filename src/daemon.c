#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "activator.h"
#include "conf_watch.h"
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "listener.h"
#include "sockopt.h"
#include "log.h"
#include "monitor.h"
#include "queue.h"
#include "service.h"
#include "tls.h"
#include "forward_options.h"
#include "status.h"
#include "systemd.h"
#include "upgrade.h"
#include "worker.h"

#define STATUS_INTERVAL_S 5
/* How long an upgrade waits for the new process to serve. The main
 * thread waits (the acceptor and the workers serve on); below sockctl's
 * default timeout of 10 s, so that its client hears the outcome. */
#define UPGRADE_READY_MS 8000

/* update-inetd and editors write a file in several steps (and a package
 * may call update-inetd several times in a row): reload once things have
 * been quiet this long. */
#define WATCH_SETTLE_MS 300

static uint64_t
monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static double
realtime_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static unsigned
workers_wanted(const struct sockd_config *cfg)
{
	return cfg->daemon.workers ? cfg->daemon.workers : cpus_available();
}

/* setgroups, setgid, setuid, in that order, and read the ids back: a
 * half-dropped process must not go on serving. */
static int
drop_privileges(struct sockd *d, const struct daemon_config *dc)
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
	d->dropped_to = strdup(dc->user);
	log_info("serving as user %s (uid %u, gid %u)", dc->user, (unsigned)dc->uid, (unsigned)dc->gid);
	return 0;
}

void
daemon_warn_config(const struct sockd_config *cfg)
{
	static bool ktls_told;
	char text[ADDR_STRLEN];

	/* Once per run, at the first configuration with TLS: whether the
	 * kernel can take the records over (kTLS, the "tls" ULP). */
	for (size_t i = 0; i < cfg->n_endpoints && !ktls_told; i++) {
		const struct tls_options *to = cfg->endpoints[i]->tls;

		if (!to || !to->ktls)
			continue;
		ktls_told = true;
		if (tls_kernel_has_ktls())
			log_notice("TLS: the kernel offers kTLS (tls ULP): records of TLS connections go "
				   "through the kernel where OpenSSL can hand them over");
		else
			log_notice("TLS: the kernel offers no kTLS (no \"tls\" in "
				   "/proc/sys/net/ipv4/tcp_available_ulp): sockd encrypts and decrypts "
				   "every record itself");
	}
	if (cfg->daemon.user || geteuid() != 0)
		return;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const struct endpoint *ep = cfg->endpoints[i];
		const struct forward_options *fo = forward_options(ep);

		if (ep->service != &service_forward || fo->upstream_user)
			continue;
		for (size_t j = 0; j < fo->n_upstream; j++) {
			if (addr_family(&fo->upstream[j]) != AF_UNIX || !addr_is_stream(&fo->upstream[j]))
				continue;
			log_warn("%s:%d: endpoint %s connects to %s as root: the upstream sees uid 0 "
				 "(SO_PEERCRED) for every client; set daemon.user or upstream_user",
				 ep->file, ep->line, ep->name,
				 addr_format(&fo->upstream[j], text, sizeof(text)));
			break;
		}
	}
}

/* Workers close fds more carefully once an endpoint of cfg runs programs
 * (see spawns_children). */
static void
note_children(struct sockd *d, const struct sockd_config *cfg)
{
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		if (cfg->endpoints[i]->service == &service_exec)
			atomic_store(&d->spawns_children, true);
}

/* Grow the pool to n workers, or retire the newest beyond n. */
static int
workers_resize(struct sockd *d, unsigned n)
{
	if (n > d->n_workers) {
		struct worker **v = realloc(d->workers, n * sizeof(*v));

		if (!v)
			return log_errno(ENOMEM, "workers");
		d->workers = v;
		while (d->n_workers < n) {
			int r = worker_start(d, d->n_workers, &d->workers[d->n_workers]);

			if (r < 0)
				return log_errno(r, "starting worker %u", d->n_workers);
			d->n_workers++;
		}
		return 0;
	}
	while (d->n_workers > n) {
		struct worker **v = realloc(d->retired, (d->n_retired + 1) * sizeof(*v));

		if (!v)
			return log_errno(ENOMEM, "workers");
		d->retired = v;
		d->n_workers--;
		worker_retire(d->workers[d->n_workers]);
		d->retired[d->n_retired++] = d->workers[d->n_workers];
	}
	return 0;
}

/* Join the retired workers that have finished their last connection. */
static void
workers_reap(struct sockd *d)
{
	unsigned k = 0;

	for (unsigned i = 0; i < d->n_retired; i++) {
		if (worker_exited(d->retired[i]))
			worker_join(d->retired[i]);
		else
			d->retired[k++] = d->retired[i];
	}
	d->n_retired = k;
}

/* Datagram forward sessions hold a socket each: they may take what the
 * open files limit leaves beside max_connections stream clients. Called
 * when the listeners are known and before the relays are made. */
static void
budget_update(struct sockd *d)
{
	unsigned long n = udp_budget_for_process(d->max_connections);
	size_t relays = 0;

	for (size_t i = 0; i < d->n_listeners; i++)
		relays += d->listeners[i]->ep->service == &service_forward &&
			  !addr_is_stream(&d->listeners[i]->addr);
	udp_budget_set(&d->udp_budget, n, relays);
	log_debug("datagram forward sessions: at most %lu at once, %lu for each of %zu sockets", n,
		  atomic_load(&d->udp_budget.share), relays);
}

/* Each datagram socket belongs to one worker, spread round-robin. */
static int
assign_dgrams(struct sockd *d)
{
	unsigned k = 0;

	for (size_t i = 0; i < d->n_listeners; i++) {
		struct listener *l = d->listeners[i];
		int r;

		if (addr_is_stream(&l->addr) || activator_owns(l))
			continue;
		r = worker_add_dgram(d->workers[k++ % d->n_workers], l);
		if (r < 0)
			return log_errno(r, "endpoint %s", l->ep->name);
	}
	return 0;
}

/* ------------------------------------------------------------ fd store */

static bool
names_have(char *const *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

/* Under systemd, keep the fd store equal to the listeners sockd bound
 * itself (or kept from its predecessor): a restart or a crash then finds
 * them there, still listening, and no client is refused in between.
 * Sockets of a .socket unit stay out: systemd holds those anyway. Names
 * stored before that no listener has now are removed first, so that a
 * socket whose name changed is stored again under the new one. */
static void
fdstore_sync(struct sockd *d)
{
	char **names = NULL;
	size_t n = 0;

	if (!systemd_fdstore_max())
		return;
	names = calloc(d->n_listeners ? d->n_listeners : 1, sizeof(*names));
	for (size_t i = 0; names && i < d->n_listeners; i++) {
		struct listener *l = d->listeners[i];

		if (l->from_systemd || l->fd < 0)
			continue;
		names[n] = strdup(l->fdname);
		if (!names[n])
			break;
		n++;
	}
	for (size_t i = 0; i < d->n_fdstore; i++) {
		if (!names || !names_have(names, n, d->fdstore[i]))
			systemd_fdstore_remove(d->fdstore[i]);
		free(d->fdstore[i]);
	}
	free(d->fdstore);
	d->fdstore = NULL;
	d->n_fdstore = 0;
	if (!names) {
		log_warn("fd store: out of memory, ignoring");
		return;
	}
	for (size_t i = 0; i < d->n_listeners; i++) {
		struct listener *l = d->listeners[i];
		int r;

		if (l->from_systemd || l->fd < 0)
			continue;
		r = systemd_fdstore(l->fd, l->fdname);
		if (r < 0) {
			log_warn_errno(r, "fd store: cannot store %s, ignoring", l->fdname);
			continue;
		}
		/* A restart takes the socket back from the store: its file
		 * must stay where it is when this process stops. */
		l->keep_file = true;
	}
	d->fdstore = names;
	d->n_fdstore = n;
	log_debug("fd store: %zu listening sockets kept there", n);
}

/* Names of the kept sockets as they came: a renamed one is removed from
 * the store by fdstore_sync(). */
static void
fdstore_note_inherited(struct sockd *d)
{
	d->fdstore = calloc(d->n_listeners ? d->n_listeners : 1, sizeof(*d->fdstore));
	if (!d->fdstore)
		return;
	for (size_t i = 0; i < d->n_listeners; i++)
		if (d->listeners[i]->inherited && strcmp(d->listeners[i]->prev_fdname, d->listeners[i]->fdname) != 0 &&
		    (d->fdstore[d->n_fdstore] = strdup(d->listeners[i]->prev_fdname)))
			d->n_fdstore++;
}

/* ------------------------------------------------------------ stale files */

/* The control socket the previous sockd passed on, when daemon.control
 * moved (or went): its file is stale once this start succeeds. */
static void
note_stale_control(int fd, const char *path, struct strv *stale)
{
	struct sockaddr_un un = { 0 };
	socklen_t len = sizeof(un);

	if (getsockname(fd, (struct sockaddr *)&un, &len) == -1 || un.sun_family != AF_UNIX ||
	    len <= offsetof(struct sockaddr_un, sun_path) || un.sun_path[0] == '\0')
		return;
	/* getsockname() need not NUL-terminate a path of the full length. */
	if (len >= sizeof(un))
		return;
	((char *)&un)[len] = '\0';
	if ((!path || strcmp(path, un.sun_path) != 0) && strv_push(stale, un.sun_path) < 0)
		log_warn("control socket %s: out of memory, its file stays", un.sun_path);
}

static bool
path_in_use(const struct sockd *d, const char *path)
{
	if (d->cfg->daemon.control && strcmp(d->cfg->daemon.control, path) == 0)
		return true;
	for (size_t i = 0; i < d->n_listeners; i++) {
		const struct addr *a = &d->listeners[i]->addr;

		if (addr_is_unix_path(a) && strcmp(((const struct sockaddr_un *)&a->sa)->sun_path, path) == 0)
			return true;
	}
	return false;
}

/* Remove the files of the previous sockd's sockets that this one does not
 * serve: nobody can reach them any more. A path this configuration bound
 * anew (another socket type, say) is its own. */
static void
remove_stale_files(struct sockd *d)
{
	for (size_t i = 0; i < d->stale_files.n; i++) {
		const char *path = d->stale_files.v[i];
		struct stat st;

		if (path_in_use(d, path) || lstat(path, &st) == -1 || !S_ISSOCK(st.st_mode))
			continue;
		if (unlink(path) == -1)
			log_warn_errno(errno, "%s: removing the previous sockd's socket file", path);
		else
			log_info("removed %s: the previous sockd's socket, no longer configured", path);
	}
	strv_free(&d->stale_files);
}

/* ------------------------------------------------------------ upgrade */

/* fork() gives the child a copy of every fd until it execs: from now on
 * workers must take an fd out of their epoll set before closing it (see
 * spawns_children). Every worker has seen the flag once it has come
 * round its loop after it was set. */
static int
children_from_now(struct sockd *d)
{
	struct timespec pause = { 0, 1000000 };

	if (atomic_load(&d->spawns_children))
		return 0;
	atomic_store(&d->spawns_children, true);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_ping(d->workers[i]);
	for (unsigned i = 0; i < d->n_retired; i++)
		worker_ping(d->retired[i]);
	for (int round = 0; round < 2000; round++) {
		bool all = true;

		for (unsigned i = 0; i < d->n_workers; i++)
			all &= worker_answered(d->workers[i]);
		for (unsigned i = 0; i < d->n_retired; i++)
			all &= worker_answered(d->retired[i]);
		if (all)
			return 0;
		nanosleep(&pause, NULL);
	}
	return -ETIMEDOUT;
}

/* Start the binary again with every listening socket and the control
 * socket, and wait until it serves. Returns its pid, or <= 0 with why. */
static int
daemon_upgrade(struct sockd *d, char *why, size_t size)
{
	struct handoff_fd *fds;
	size_t n = 0;
	pid_t pid;

	if (d->successor) {
		snprintf(why, size, "an upgrade already took place: pid %ld serves", (long)d->successor);
		return -EALREADY;
	}
	if (systemd_notifying()) {
		/* systemd would take the new process for a stray one and the
		 * old one's exit for the end of the service. */
		snprintf(why, size, "sockd runs under systemd: use 'systemctl restart', which keeps the "
			 "listening sockets in the fd store");
		log_warn("upgrade refused: %s", why);
		return -EPERM;
	}
	if (!d->exe || !d->argv) {
		snprintf(why, size, "the path of sockd's binary is unknown");
		log_err("upgrade refused: %s", why);
		return -ENOENT;
	}
	if (children_from_now(d) < 0) {
		snprintf(why, size, "a worker thread did not answer within 2 s");
		log_err("upgrade refused: %s", why);
		return -ETIMEDOUT;
	}
	fds = calloc(d->n_listeners + 1, sizeof(*fds));
	if (!fds) {
		snprintf(why, size, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->n_listeners; i++)
		if (d->listeners[i]->fd >= 0)
			fds[n++] = (struct handoff_fd){ d->listeners[i]->fd, d->listeners[i]->fdname };
	if (d->control)
		fds[n++] = (struct handoff_fd){ control_listen_fd(d->control), FDNAME_CONTROL };
	log_notice("upgrade: starting %s with %zu sockets", d->exe, n);
	pid = upgrade_spawn(d->exe, d->argv, fds, n, UPGRADE_READY_MS, why, size);
	free(fds);
	if (pid <= 0) {
		log_err("upgrade failed: %s; still serving", why);
		return pid < 0 ? pid : -ECHILD;
	}
	d->successor = pid;
	log_notice("upgrade: sockd pid %ld serves now; this one (pid %ld) stops accepting and drains",
		   (long)pid, (long)getpid());
	return pid;
}

int
daemon_start(struct sockd *d, struct sockd_config *cfg, const char *path)
{
	int r, control_fd = -1;

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->config_path = path;
	d->last_reload_ok = true;
	d->acceptor_epfd = -1;
	d->room_freed = acceptor_wake;
	d->reload = daemon_reload;
	d->upgrade = daemon_upgrade;
	d->max_connections = cfg->daemon.max_connections;
	d->started_at = realtime_now();
	d->started_usec = monotonic_usec();
	d->exitfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->acceptor_wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->exitfd == -1 || d->acceptor_wakefd == -1)
		return log_errno(errno, "eventfd");

	daemon_warn_config(cfg);
	if (systemd_fdstore_max())
		log_info("listening sockets go into systemd's fd store (at most %u)", systemd_fdstore_max());
	r = listeners_open(cfg, &d->listeners, &d->n_listeners, &control_fd, &d->stale_files);
	if (r < 0)
		return r;
	fdstore_note_inherited(d);
	if (control_fd >= 0)
		note_stale_control(control_fd, cfg->daemon.control, &d->stale_files);
	if (cfg->daemon.control) {
		/* Owned by the user and group sockd serves as, so that their
		 * members can use sockctl. */
		r = control_open(cfg->daemon.control, cfg->daemon.user ? cfg->daemon.uid : (uid_t)-1,
				 cfg->daemon.user ? cfg->daemon.gid : (gid_t)-1, control_fd, &d->control);
		if (r < 0)
			return r;
	} else if (control_fd >= 0) {
		close(control_fd);
	}
	r = drop_privileges(d, &cfg->daemon);
	if (r < 0)
		return r;
	if (cfg->daemon.inetd_conf || cfg->daemon.inetd_dir) {
		r = conf_watch_new(&d->watch);
		if (r < 0)
			log_warn("inotify: %s: changes to inetd.conf need a reload, ignoring",
				 strerror(-r));
		else
			conf_watch_set(d->watch, cfg);
	}

	r = queue_new(cfg->daemon.queue, &d->queue);
	if (r < 0)
		return log_errno(r, "queue");
	note_children(d, cfg);
	r = workers_resize(d, workers_wanted(cfg));
	if (r < 0)
		return r;
	budget_update(d);
	r = assign_dgrams(d);
	if (r < 0)
		return r;
	r = acceptor_start(d);
	if (r < 0)
		return r;
	r = activator_new(&d->activator);
	if (r < 0)
		return log_errno(r, "activator");
	r = activator_start(d->activator, d);
	if (r < 0)
		return r;

	/* The sockets (and their files) are ours now: until here, a start
	 * that failed left them to the process that passed them on. */
	for (size_t i = 0; i < d->n_listeners; i++)
		d->listeners[i]->keep_file = false;
	control_keep_file(d->control, false);
	remove_stale_files(d);
	fdstore_sync(d);
	d->watchdog_usec = systemd_watchdog_usec();
	monitor_publish(d);
	log_info("ready: %zu listeners, %u workers", d->n_listeners, d->n_workers);
	systemd_notify("READY=1\nSTATUS=%zu endpoints, %zu listeners, %u workers",
		       cfg->n_endpoints, d->n_listeners, d->n_workers);
	return 0;
}

/* ------------------------------------------------------------ reload */

static void
reload_failed(struct sockd *d, const char *why)
{
	log_err("reload failed (%s): still serving the previous configuration", why);
	d->last_reload_ok = false;
	systemd_notify("READY=1\nSTATUS=reload failed (%s), serving the previous configuration", why);
}

/* The running listener whose socket a new listen address can take over. */
static struct listener *
reload_match(struct sockd *d, bool *taken, const struct addr *a)
{
	for (size_t i = 0; i < d->n_listeners; i++)
		if (!taken[i] && addr_equal(&d->listeners[i]->addr, a)) {
			taken[i] = true;
			return d->listeners[i];
		}
	return NULL;
}

static int
reload(struct sockd *d)
{
	struct sockd_config *cfg = NULL, *old_cfg;
	struct listener **nl = NULL, **from = NULL;
	size_t nn = 0, cap = 0, kept = 0, bound = 0;
	struct diag dg = { 0 };
	bool *taken = NULL;
	char why[512] = "out of memory";
	const char *why_file = d->config_path;
	int why_line = 0;
	int r;

	systemd_notify("RELOADING=1\nMONOTONIC_USEC=%llu", (unsigned long long)monotonic_usec());
	log_info("reloading %s", d->config_path);

	r = config_load(d->config_path, &cfg, &dg);
	if (r < 0) {
		for (size_t i = 0; i < dg.n; i++)
			log_err("%s", dg.lines[i]);
		diag_free(&d->reload_errors);
		d->reload_errors = dg;
		reload_failed(d, dg.n == 1 ? "1 configuration error" : "configuration errors");
		return r;
	}
	diag_free(&dg);
	for (size_t i = 0; i < cfg->n_warnings; i++)
		log_warn("%s, ignoring", cfg->warnings[i]);
	daemon_warn_config(cfg);

	/* Stage the new listener set without touching the running one. */
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		cap += cfg->endpoints[i]->n_listen;
	cap += d->n_listeners;
	nl = calloc(cap ? cap : 1, sizeof(*nl));
	from = calloc(cap ? cap : 1, sizeof(*from));
	taken = calloc(d->n_listeners ? d->n_listeners : 1, sizeof(*taken));
	if (!nl || !from || !taken) {
		r = log_errno(ENOMEM, "reload");
		goto out_fail;
	}
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		struct endpoint *ep = cfg->endpoints[i];

		for (size_t j = 0; j < ep->n_listen; j++) {
			struct listener *old = reload_match(d, taken, &ep->listen[j]);

			if (old) {
				nl[nn] = listener_new(ep, &ep->listen[j], -1);
				if (!nl[nn]) {
					r = log_errno(ENOMEM, "reload");
					goto out_fail;
				}
				from[nn++] = old;
				kept++;
				continue;
			}
			r = listener_bind(ep, &ep->listen[j], &nl[nn]);
			if (r < 0 && r != -ENOMEM && ep->optional) {
				char text[ADDR_STRLEN];

				log_warn("%s:%d: endpoint %s is not served on %s: %s, ignoring",
					 ep->file, ep->line, ep->name,
					 addr_format(&ep->listen[j], text, sizeof(text)), strerror(-r));
				nl[nn] = NULL;
				continue;
			}
			if (r < 0) {
				char text[ADDR_STRLEN];

				snprintf(why, sizeof(why), "endpoint '%s': cannot bind %s: %s", ep->name,
					 addr_format(&ep->listen[j], text, sizeof(text)), strerror(-r));
				why_file = ep->file;
				why_line = ep->line;
				if (r == -EACCES && d->dropped_to)
					log_err("endpoint %s needs privileges sockd gave up when it switched "
						"to user '%s': restart sockd to bind it", ep->name, d->dropped_to);
				goto out_fail;
			}
			nn++;
			bound++;
		}
	}
	/* Sockets systemd passed stay with the endpoint of the same name even
	 * when they stand for no configured address. */
	for (size_t i = 0; i < d->n_listeners; i++) {
		struct listener *old = d->listeners[i];

		if (taken[i] || !old->from_systemd)
			continue;
		for (size_t k = 0; k < cfg->n_endpoints; k++) {
			struct endpoint *ep = cfg->endpoints[k];

			if (strcmp(ep->name, old->ep->name) != 0 ||
			    !(ep->service->flags & (addr_is_stream(&old->addr) ? SERVICE_STREAM : SERVICE_DGRAM)))
				continue;
			nl[nn] = listener_new(ep, &old->addr, -1);
			if (!nl[nn]) {
				r = log_errno(ENOMEM, "reload");
				goto out_fail;
			}
			from[nn++] = old;
			taken[i] = true;
			kept++;
			break;
		}
	}
	if (cfg->daemon.user && (!d->cfg->daemon.user || strcmp(cfg->daemon.user, d->cfg->daemon.user) != 0))
		log_warn("daemon.user changed: it takes effect at the next restart");
	if ((cfg->daemon.control == NULL) != (d->cfg->daemon.control == NULL) ||
	    (cfg->daemon.control && strcmp(cfg->daemon.control, d->cfg->daemon.control) != 0))
		log_warn("daemon.control changed: it takes effect at the next restart");

	/* Commit. The acceptor pauses for the swap (clients wait in the
	 * backlog of the sockets that stay open); workers let go of their
	 * datagram sockets and get the new ones. */
	acceptor_stop(d);
	/* Its programs run on; activator_start() below gives them to the
	 * new units (activator.c). */
	activator_stop(d->activator);
	/* Before the workers' handshake below, which makes every one of them
	 * see it before an exec endpoint can take a connection. */
	note_children(d, cfg);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_release_dgrams(d->workers[i]);
	for (unsigned i = 0; i < d->n_retired; i++)
		worker_release_dgrams(d->retired[i]);   /* they only answer */
	for (size_t i = 0; i < nn; i++) {
		char text[ADDR_STRLEN];

		if (!from[i])
			continue;
		nl[i]->fd = from[i]->fd;
		sockopt_apply(nl[i]->fd, &nl[i]->addr, &nl[i]->ep->so, &from[i]->ep->so, SOCKOPT_KEPT,
			      addr_format(&nl[i]->addr, text, sizeof(text)));
		nl[i]->from_systemd = from[i]->from_systemd;
		nl[i]->inherited = from[i]->inherited;
		nl[i]->unlink_on_close = from[i]->unlink_on_close;
		from[i]->fd = -1;
		from[i]->unlink_on_close = false;
	}
	for (size_t i = 0; i < d->n_listeners; i++) {
		if (!taken[i]) {
			char text[ADDR_STRLEN];

			log_info("closing %s (%s)", addr_format(&d->listeners[i]->addr, text, sizeof(text)),
				 d->listeners[i]->ep->name);
			/* Leaving the fd store below too: its file goes. */
			d->listeners[i]->keep_file = false;
		}
		listener_free(d->listeners[i]);
	}
	free(d->listeners);
	d->listeners = nl;
	d->n_listeners = nn;
	nl = NULL;

	old_cfg = d->cfg;
	d->cfg = cfg;
	config_free(old_cfg);   /* endpoints in use stay alive through their references */
	d->max_connections = cfg->daemon.max_connections;
	budget_update(d);
	log_set_level(cfg->daemon.log_level);
	fdstore_sync(d);

	r = workers_resize(d, workers_wanted(cfg));
	if (r < 0 && d->n_workers == 0)
		goto out_fatal;
	r = assign_dgrams(d);
	if (r < 0)
		goto out_fatal;
	r = acceptor_start(d);
	if (r < 0)
		goto out_fatal;
	r = activator_start(d->activator, d);
	if (r < 0)
		goto out_fatal;

	d->last_reload_ok = true;
	diag_free(&d->reload_errors);
	log_info("reloaded: %zu endpoints, %zu listeners (%zu kept, %zu new), %u workers",
		 cfg->n_endpoints, d->n_listeners, kept, bound, d->n_workers);
	systemd_notify("READY=1\nSTATUS=%zu endpoints, %zu listeners, %u workers",
		       cfg->n_endpoints, d->n_listeners, d->n_workers);
	free(from);
	free(taken);
	return 0;

out_fatal:
	free(from);
	free(taken);
	return r;

out_fail:
	for (size_t i = 0; i < nn; i++)
		listener_free(nl[i]);   /* staged takeovers hold fd -1 */
	free(nl);
	free(from);
	free(taken);
	/* why_file points into cfg: record it before cfg goes. */
	diag_free(&d->reload_errors);
	diag_add(&d->reload_errors, why_file, why_line, "%s", why);
	config_free(cfg);
	reload_failed(d, "cannot apply the new configuration");
	return r;
}

int
daemon_reload(struct sockd *d)
{
	int r;

	d->reload_at = realtime_now();
	r = reload(d);
	if (r == 0 && (d->cfg->daemon.inetd_conf || d->cfg->daemon.inetd_dir) && !d->watch &&
	    conf_watch_new(&d->watch) < 0)
		log_warn("inotify: changes to inetd.conf need a reload, ignoring");
	if (r == 0 && d->watch)
		conf_watch_set(d->watch, d->cfg);
	monitor_publish(d);
	return r;
}

/* ------------------------------------------------------------ run, stop */

static void
update_status(struct sockd *d)
{
	char active[32], served[32];

	/* Also lets the status view forget endpoints replaced by a reload
	 * once their last connection is gone. */
	monitor_publish(d);
	systemd_notify("STATUS=%zu endpoint%s, %s active, %s served%s",
		       d->cfg->n_endpoints, d->cfg->n_endpoints == 1 ? "" : "s",
		       status_human(atomic_load(&d->active), active, sizeof(active)),
		       status_human(atomic_load(&d->served), served, sizeof(served)),
		       d->last_reload_ok ? "" : "; last reload failed");
}

/* WATCHDOG=1 only while the acceptor and every worker answered the
 * previous round of pings: a stuck thread lets systemd restart us. */
static void
watchdog_tick(struct sockd *d)
{
	bool alive = acceptor_answered(d);

	for (unsigned i = 0; i < d->n_workers; i++)
		alive &= worker_answered(d->workers[i]);
	if (alive)
		systemd_notify("WATCHDOG=1");
	else
		log_warn("a thread did not answer the watchdog in time: not notifying systemd");
	acceptor_ping(d);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_ping(d->workers[i]);
}

static bool
all_exited(struct sockd *d)
{
	for (unsigned i = 0; i < d->n_workers; i++)
		if (!worker_exited(d->workers[i]))
			return false;
	for (unsigned i = 0; i < d->n_retired; i++)
		if (!worker_exited(d->retired[i]))
			return false;
	return true;
}

/* Wait until every worker has left or the deadline passes. */
static bool
wait_workers(struct sockd *d, const struct timespec *deadline)
{
	while (!all_exited(d)) {
		struct timespec now;
		struct pollfd p = { .fd = d->exitfd, .events = POLLIN };
		long ms;
		uint64_t v;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return false;
		if (poll(&p, 1, (int)ms) == 1)
			(void)!read(d->exitfd, &v, sizeof(v));
	}
	return true;
}

static void
deadline_after(struct timespec *deadline, double secs)
{
	clock_gettime(CLOCK_MONOTONIC, deadline);
	deadline->tv_sec += (time_t)secs;
	deadline->tv_nsec += (long)((secs - (double)(time_t)secs) * 1e9);
	if (deadline->tv_nsec >= 1000000000L) {
		deadline->tv_sec++;
		deadline->tv_nsec -= 1000000000L;
	}
}

/* Wait until no stream connection is open or the deadline passes. */
static void
wait_streams(struct sockd *d, const struct timespec *deadline)
{
	while (atomic_load(&d->active) > 0) {
		struct timespec now;
		struct pollfd p = { .fd = d->exitfd, .events = POLLIN };
		long ms;
		uint64_t v;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return;
		if (poll(&p, 1, ms < 20 ? (int)ms : 20) == 1)
			(void)!read(d->exitfd, &v, sizeof(v));
	}
}

static void
release_dgrams(struct sockd *d)
{
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_release_dgrams(d->workers[i]);
}

/* Stop accepting, let open connections finish, then leave. Datagram
 * sockets are answered until the streams are done (a stop under the fd
 * store: the next sockd reads them after us), except after a hand-over,
 * where the new process reads them already. */
static void
shutdown_gracefully(struct sockd *d)
{
	double timeout = d->cfg->daemon.shutdown_timeout;
	struct timespec deadline;

	systemd_notify("STOPPING=1");
	log_info("stopping");

	/* No new clients: stop the acceptor and close the stream listeners. */
	acceptor_stop(d);
	/* Programs holding sockets get SIGTERM now and the same time as
	 * connections to finish (activator_finish below). */
	activator_drain(d->activator);
	for (size_t i = 0; i < d->n_listeners; i++)
		if (addr_is_stream(&d->listeners[i]->addr)) {
			listener_free(d->listeners[i]);
			d->listeners[i] = NULL;
		}
	if (d->successor)
		release_dgrams(d);

	for (unsigned i = 0; i < d->n_workers; i++)
		worker_drain(d->workers[i]);
	deadline_after(&deadline, timeout);
	if (!d->successor) {
		wait_streams(d, &deadline);
		release_dgrams(d);
	}
	activator_finish(d->activator, &deadline);
	if (!wait_workers(d, &deadline)) {
		log_notice("shutdown timeout (%.1fs) reached: closing %lu open connections",
			   timeout, atomic_load(&d->active));
		for (unsigned i = 0; i < d->n_workers; i++)
			worker_abort(d->workers[i]);
		for (unsigned i = 0; i < d->n_retired; i++)
			worker_abort(d->retired[i]);
	}
}

/* Every signal whose default action would end sockd without a word, and
 * that no bug or resource limit raises (those keep their default):
 * handled, or ignored on purpose. Blocked signals reach exec programs as
 * an empty mask (the child resets it); ignoring with SIG_IGN instead
 * would pass the ignoring on through execve(). */
static const int handled_signals[] = {
	SIGHUP, SIGINT, SIGTERM, SIGQUIT,       /* reload; stop */
	SIGUSR1,                                /* log a state summary */
	SIGUSR2,                                /* binary upgrade */
	SIGALRM, SIGVTALRM, SIGPOLL, SIGPWR, SIGSTKFLT,     /* ignored */
};

void
daemon_signals(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
		sigaddset(set, handled_signals[i]);
}

/* SIGUSR1: what runs, in a few lines an operator can read in the journal
 * (xinetd dumps its state on the same signal). */
static void
log_summary(struct sockd *d)
{
	const struct sockd_config *cfg = d->cfg;
	char up[32];
	uint64_t secs = (monotonic_usec() - d->started_usec) / 1000000;

	snprintf(up, sizeof(up), "%llud%02lluh%02llum%02llus", (unsigned long long)(secs / 86400),
		 (unsigned long long)(secs / 3600 % 24), (unsigned long long)(secs / 60 % 60),
		 (unsigned long long)(secs % 60));
	log_notice("summary: up %s, %zu endpoints, %zu listeners, %u workers (%u retiring), "
		   "%lu active connections, %lu served, last reload %s",
		   up, cfg->n_endpoints, d->n_listeners, d->n_workers, d->n_retired,
		   atomic_load(&d->active), atomic_load(&d->served),
		   d->reload_at == 0 ? "none" : d->last_reload_ok ? "ok" : "failed");
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const struct endpoint *ep = cfg->endpoints[i];
		const struct endpoint_stats *st = &ep->stats;
		char addrs[256] = "", text[ADDR_STRLEN];
		size_t used = 0;

		for (size_t j = 0; j < ep->n_listen && used < sizeof(addrs); j++) {
			int n = snprintf(addrs + used, sizeof(addrs) - used, "%s%s", j ? "," : "",
					 addr_format(&ep->listen[j], text, sizeof(text)));

			if (n < 0)
				break;
			used += (size_t)n;
		}
		log_notice("summary: endpoint %s service=%s listen=%s active=%lu accepted=%lu "
			   "refused=%lu failed=%lu datagrams_in=%lu",
			   ep->name, ep->service->name, addrs,
			   atomic_load_explicit(&st->active, memory_order_relaxed),
			   atomic_load_explicit(&st->accepted, memory_order_relaxed),
			   atomic_load_explicit(&st->refused_overload, memory_order_relaxed) +
			   atomic_load_explicit(&st->refused_acl, memory_order_relaxed) +
			   atomic_load_explicit(&st->refused_limit, memory_order_relaxed) +
			   atomic_load_explicit(&st->refused_rate, memory_order_relaxed) +
			   atomic_load_explicit(&st->refused_proxy, memory_order_relaxed) +
			   atomic_load_explicit(&st->refused_sni, memory_order_relaxed),
			   atomic_load_explicit(&st->failed, memory_order_relaxed),
			   atomic_load_explicit(&st->datagrams_in, memory_order_relaxed));
	}
}

int
daemon_run(struct sockd *d)
{
	struct itimerspec its = { .it_interval.tv_sec = STATUS_INTERVAL_S, .it_value.tv_sec = STATUS_INTERVAL_S };
	struct pollfd p[7];
	sigset_t mask;
	int sfd, tfd, wfd = -1, settle = -1, code = 0;

	/* Signals that came during start-up are pending: read now, in order
	 * (a SIGHUP then reloads, a SIGTERM stops). */
	daemon_signals(&mask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (d->watchdog_usec)
		wfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	settle = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd == -1 || tfd == -1 || settle == -1 || (d->watchdog_usec && wfd == -1)) {
		log_errno(errno, "signalfd/timerfd");
		code = 1;
		goto out;
	}
	timerfd_settime(tfd, 0, &its, NULL);
	if (wfd != -1) {
		uint64_t half = d->watchdog_usec / 2;
		struct itimerspec w = {
			.it_interval = { (time_t)(half / 1000000), (long)(half % 1000000) * 1000 },
			.it_value = { (time_t)(half / 1000000), (long)(half % 1000000) * 1000 },
		};

		timerfd_settime(wfd, 0, &w, NULL);
		watchdog_tick(d);
	}
	p[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	p[2] = (struct pollfd){ .fd = d->exitfd, .events = POLLIN };
	p[3] = (struct pollfd){ .fd = wfd, .events = POLLIN };
	p[4] = (struct pollfd){ .fd = d->control ? control_fd(d->control) : -1, .events = POLLIN };
	p[6] = (struct pollfd){ .fd = settle, .events = POLLIN };

	for (;;) {
		struct signalfd_siginfo si;
		uint64_t v;

		/* A reload may have started watching. */
		p[5] = (struct pollfd){ .fd = d->watch ? conf_watch_fd(d->watch) : -1, .events = POLLIN };
		/* poll() skips the negative fds: no watchdog, no control socket. */
		if (poll(p, 7, -1) == -1) {
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
		if (p[2].revents & POLLIN) {
			(void)!read(d->exitfd, &v, sizeof(v));
			workers_reap(d);
		}
		if (wfd != -1 && (p[3].revents & POLLIN)) {
			(void)!read(wfd, &v, sizeof(v));
			watchdog_tick(d);
		}
		if (d->control && (p[4].revents & POLLIN)) {
			enum control_result cr = control_dispatch(d->control, d);

			if (cr == CONTROL_FATAL) {
				log_err("cannot serve after the reload, exiting");
				code = 1;
				break;
			}
			if (cr == CONTROL_STOP) {
				log_info("stop requested on the control socket");
				break;
			}
			if (cr == CONTROL_HANDED_OVER)
				goto handed_over;
		}
		if (d->watch && (p[5].revents & POLLIN) && conf_watch_changed(d->watch)) {
			struct itimerspec once = { .it_value.tv_nsec = WATCH_SETTLE_MS * 1000000L };

			timerfd_settime(settle, 0, &once, NULL);
		}
		if ((p[6].revents & POLLIN) && read(settle, &v, sizeof(v)) == sizeof(v)) {
			log_info("inetd.conf changed");
			if (daemon_reload(d) < 0 && !d->acceptor_running) {
				log_err("cannot serve after the reload, exiting");
				code = 1;
				goto stop;
			}
		}
		if (!(p[0].revents & POLLIN) || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		switch (si.ssi_signo) {
		case SIGHUP:
			if (daemon_reload(d) < 0 && !d->acceptor_running) {
				log_err("cannot serve after the reload, exiting");
				code = 1;
				goto stop;
			}
			continue;
		case SIGINT:
		case SIGTERM:
		case SIGQUIT:   /* nginx's graceful stop; never a core dump here */
			log_info("SIG%s received", sigabbrev_np((int)si.ssi_signo));
			goto stop;
		case SIGUSR1:
			log_summary(d);
			continue;
		case SIGUSR2: {
			char why[512];

			log_info("SIGUSR2 received: upgrading");
			if (daemon_upgrade(d, why, sizeof(why)) > 0)
				goto handed_over;
			continue;
		}
		default:
			log_debug("SIG%s received, ignoring", sigabbrev_np((int)si.ssi_signo) ?: "?");
			continue;
		}
	}
handed_over:
	/* The new process listens on the very same sockets (and control
	 * socket): their files stay. This one stops accepting and reading
	 * datagrams only now that the other serves, so that no client and
	 * no datagram finds nobody. */
	if (d->successor) {
		for (size_t i = 0; i < d->n_listeners; i++)
			d->listeners[i]->keep_file = true;
		control_keep_file(d->control, true);
	}
stop:
	/* Stopping: sockctl now finds no daemon rather than one that does
	 * not answer while connections drain. */
	control_close(d->control);
	d->control = NULL;
	shutdown_gracefully(d);
out:
	if (sfd != -1)
		close(sfd);
	if (tfd != -1)
		close(tfd);
	if (wfd != -1)
		close(wfd);
	if (settle != -1)
		close(settle);
	return code;
}

void
daemon_free(struct sockd *d)
{
	acceptor_stop(d);
	activator_free(d->activator);
	d->activator = NULL;
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_abort(d->workers[i]);
	for (unsigned i = 0; i < d->n_retired; i++)
		worker_abort(d->retired[i]);
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_join(d->workers[i]);
	for (unsigned i = 0; i < d->n_retired; i++)
		worker_join(d->retired[i]);
	free(d->workers);
	free(d->retired);
	monitor_clear();
	control_close(d->control);
	conf_watch_free(d->watch);
	for (size_t i = 0; i < d->n_listeners; i++)
		listener_free(d->listeners[i]);
	free(d->listeners);
	queue_free(d->queue);
	if (d->acceptor_wakefd > 0)
		close(d->acceptor_wakefd);
	if (d->exitfd > 0)
		close(d->exitfd);
	diag_free(&d->reload_errors);
	free(d->dropped_to);
	for (size_t i = 0; i < d->n_fdstore; i++)
		free(d->fdstore[i]);
	free(d->fdstore);
	strv_free(&d->stale_files);
	free(d->exe);
	config_free(d->cfg);
	memset(d, 0, sizeof(*d));
}
