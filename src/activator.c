/*
 * The activator: exec endpoints whose program takes the sockets themselves,
 * handoff "wait" (inetd's wait) and "listen-fds" (systemd's Accept=no).
 *
 * Who watches which socket. The acceptor (listener.c) accepts on stream
 * listeners and each datagram socket belongs to one worker (daemon.c
 * assign_dgrams); there is one socket per listen address. The listeners of
 * these endpoints go to neither (exec_holds_sockets()): one thread of their
 * own, this one, polls them, so no epoll set of sockd ever holds them while
 * a program reads them.
 *
 * A unit is what one program holds: one socket for "wait", every socket of
 * the endpoint for "listen-fds". An armed unit's sockets are in the poll
 * set; at the first connection or datagram the unit is disarmed, its
 * program starts with the sockets, and its pidfd is polled instead. When
 * the program is gone it is reaped, its status and run time logged, and
 * the unit armed again: a datagram or connection still queued starts the
 * next program at once.
 *
 * A program that leaves at once without taking what is queued would be
 * restarted in a loop. After THROTTLE_AFTER such quick exits in a row the
 * unit is armed again only after a delay that doubles up to BACKOFF_MAX_MS,
 * logged once per episode; the first run that lasts, or that took what was
 * queued, ends the episode. Nothing ever disables the unit for good.
 *
 * Reload stops this thread (activator_stop) while the daemon swaps the
 * listeners, and starts it on the new set (activator_start). A kept socket
 * keeps its fd number (the reload moves it), and a new one gets a number no
 * socket open before had, so a running program belongs to the new unit
 * that holds any of its fds: that unit stays disarmed until the program
 * exits, and the next program runs with the new configuration. A program
 * whose sockets no new unit holds (endpoint removed, its address gone, or
 * no longer "wait"/"listen-fds"), or whose unit's set of sockets changed,
 * gets SIGTERM, then SIGKILL after ORPHAN_KILL_MS.
 *
 * At stop every program gets SIGTERM, and SIGKILL once
 * daemon.shutdown_timeout has passed (activator_drain, activator_finish).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "activator.h"
#include "exec_options.h"
#include "log.h"
#include "runtime.h"
#include "service_exec.h"

#define FAST_RUN_MS 1000        /* a run shorter than this that left input queued is a quick exit */
#define THROTTLE_AFTER 3        /* quick exits in a row before the back-off starts */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define ORPHAN_KILL_MS 5000     /* SIGTERM to SIGKILL for a program a reload left without a unit */

struct act_child {
	pid_t pid;
	int pidfd;
	uint64_t started_ms;
	uint64_t kill_at_ms;            /* SIGTERM sent: SIGKILL then; 0 = not asked to stop */
	struct endpoint *ep;            /* a reference, for its log lines */
	int fds[EXEC_FDS_MAX];          /* the sockets it was given */
	size_t n_fds;
};

struct act_unit {
	struct endpoint *ep;            /* a reference */
	int fds[EXEC_FDS_MAX];
	size_t n_fds;
	struct act_child *child;        /* running now, or NULL */
	uint64_t arm_at_ms;             /* not armed before (back-off); 0 = at once */
	unsigned quick;                 /* quick exits in a row */
	bool throttled;                 /* this episode is logged */
};

struct activator {
	struct act_unit *units;
	size_t n_units;
	struct act_child **orphans;     /* programs without a unit, being stopped */
	size_t n_orphans;
	int wakefd;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	bool draining;                  /* no new programs; SIGTERM sent to all */
	struct sockd *d;
	int *known;                     /* fds of the units of the previous run */
	size_t n_known;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool
fd_in(int fd, const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

/* sockd's own sockets are non-blocking; the program had them blocking. */
static void
set_nonblock(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int fl = fcntl(fds[i], F_GETFL);

		if (fl != -1)
			fcntl(fds[i], F_SETFL, fl | O_NONBLOCK);
	}
}

static void
child_free(struct act_child *ch)
{
	if (!ch)
		return;
	if (ch->pidfd >= 0)
		close(ch->pidfd);
	endpoint_unref(ch->ep);
	free(ch);
}

/* Reap ch if it has exited; true then, after logging how. */
static bool
child_reap(struct act_child *ch, bool block, bool quiet)
{
	siginfo_t si = { 0 };
	double secs;

	if (waitid(P_PIDFD, (id_t)ch->pidfd, &si, WEXITED | (block ? 0 : WNOHANG)) == -1) {
		/* ECHILD: reaped already; nothing else can fail here. */
		return errno == ECHILD;
	}
	if (si.si_pid == 0)
		return false;
	secs = (double)(now_ms() - ch->started_ms) / 1000.0;
	if (si.si_code == CLD_EXITED)
		log_msg(quiet ? LOG_DEBUG : LOG_INFO, "endpoint %s: pid %d exited with status %d after %.3fs",
			 ch->ep->name, (int)ch->pid, si.si_status, secs);
	else
		log_msg(quiet ? LOG_DEBUG : LOG_INFO, "endpoint %s: pid %d killed by SIG%s after %.3fs",
			 ch->ep->name, (int)ch->pid, sigabbrev_np(si.si_status) ?: "?", secs);
	return true;
}

static void
child_term(struct act_child *ch, uint64_t kill_after_ms)
{
	if (ch->kill_at_ms)
		return;
	pidfd_send_signal(ch->pidfd, SIGTERM, NULL, 0);
	ch->kill_at_ms = now_ms() + kill_after_ms;
	if (ch->kill_at_ms == 0)
		ch->kill_at_ms = 1;
}

/* Is anything queued on the unit's sockets? */
static bool
unit_pending(const struct act_unit *u)
{
	struct pollfd p[EXEC_FDS_MAX];

	for (size_t i = 0; i < u->n_fds; i++)
		p[i] = (struct pollfd){ .fd = u->fds[i], .events = POLLIN };
	return poll(p, u->n_fds, 0) > 0;
}

/* After u->quick quick exits (or failed starts) in a row: when to arm u
 * again. Logged once per episode. */
static void
unit_backoff(struct act_unit *u, uint64_t now)
{
	unsigned shift;
	uint64_t delay;

	u->arm_at_ms = 0;
	if (u->quick < THROTTLE_AFTER)
		return;
	shift = u->quick - THROTTLE_AFTER;
	delay = shift >= 6 ? BACKOFF_MAX_MS : (uint64_t)BACKOFF_MIN_MS << shift;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	u->arm_at_ms = now + delay;
	if (!u->throttled) {
		log_warn("endpoint %s: its program (%s) ended or failed %u times in a row within %.1fs, "
			 "leaving input unread: restarting it at most every %.1fs until a run lasts",
			 u->ep->name, exec_options(u->ep)->command[0], u->quick,
			 FAST_RUN_MS / 1000.0, BACKOFF_MAX_MS / 1000.0);
		u->throttled = true;
	}
}

static void
unit_start(struct activator *a, struct act_unit *u)
{
	struct act_child *ch;
	uint64_t now = now_ms();
	int r;

	ch = calloc(1, sizeof(*ch));
	if (!ch) {
		log_errno(ENOMEM, "endpoint %s: starting its program", u->ep->name);
		u->arm_at_ms = now + BACKOFF_MAX_MS;
		return;
	}
	ch->pidfd = -1;
	r = exec_spawn_held(u->ep, u->fds, u->n_fds, &ch->pid, &ch->pidfd);
	if (r < 0) {
		/* Counted as a quick exit: the same back-off, so that a
		 * program deleted under sockd does not fail in a loop. */
		atomic_fetch_add_explicit(&u->ep->stats.failed, 1, memory_order_relaxed);
		set_nonblock(u->fds, u->n_fds);
		free(ch);
		u->quick++;
		unit_backoff(u, now);
		return;
	}
	ch->ep = endpoint_ref(u->ep);
	ch->started_ms = now;
	memcpy(ch->fds, u->fds, u->n_fds * sizeof(*u->fds));
	ch->n_fds = u->n_fds;
	u->child = ch;
	atomic_store_explicit(&u->ep->program_pid, (int)ch->pid, memory_order_relaxed);
	atomic_fetch_add_explicit(&u->ep->stats.accepted, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&u->ep->stats.active, 1, memory_order_relaxed);
	log_debug("endpoint %s: started pid %d with %zu socket%s", u->ep->name, (int)ch->pid,
		  u->n_fds, u->n_fds == 1 ? "" : "s");
}

/* pid no longer runs: status shows none, unless another program of ep
 * started since. */
static void
program_gone(struct endpoint *ep, pid_t pid)
{
	int expected = (int)pid;

	atomic_compare_exchange_strong(&ep->program_pid, &expected, 0);
}

/* u's program is gone: arm again, at once or after the back-off. */
static void
unit_exited(struct activator *a, struct act_unit *u)
{
	struct act_child *ch = u->child;
	uint64_t now = now_ms(), ran = now - ch->started_ms;

	u->child = NULL;
	program_gone(u->ep, ch->pid);
	atomic_fetch_sub_explicit(&u->ep->stats.active, 1, memory_order_relaxed);
	set_nonblock(u->fds, u->n_fds);
	child_free(ch);
	if (ran < FAST_RUN_MS && unit_pending(u)) {
		u->quick++;
	} else {
		if (u->throttled)
			log_info("endpoint %s: its program runs normally again; restarts no longer delayed",
				 u->ep->name);
		u->quick = 0;
		u->throttled = false;
	}
	unit_backoff(u, now);
}

static void
orphan_add(struct activator *a, struct act_child *ch)
{
	struct act_child **v = realloc(a->orphans, (a->n_orphans + 1) * sizeof(*v));

	child_term(ch, ORPHAN_KILL_MS);
	if (!v) {
		/* Cannot track it: make sure it goes, and wait for it. */
		pidfd_send_signal(ch->pidfd, SIGKILL, NULL, 0);
		child_reap(ch, true, false);
		child_free(ch);
		return;
	}
	a->orphans = v;
	a->orphans[a->n_orphans++] = ch;
}

/* SIGKILL whoever is past its deadline; the earliest deadline left. */
static uint64_t
kill_overdue(struct act_child *ch, uint64_t now, uint64_t next)
{
	if (!ch || !ch->kill_at_ms)
		return next;
	if (now >= ch->kill_at_ms) {
		pidfd_send_signal(ch->pidfd, SIGKILL, NULL, 0);
		return next;
	}
	return next == 0 || ch->kill_at_ms < next ? ch->kill_at_ms : next;
}

static void *
activator_main(void *arg)
{
	struct activator *a = arg;
	size_t cap = 1 + a->n_units * (EXEC_FDS_MAX + 1) + 16;
	struct pollfd *p = NULL;
	void **who = NULL;
	int *kind = NULL;

	pthread_setname_np(pthread_self(), "sockd-activator");
	while (!atomic_load(&a->stop)) {
		uint64_t now = now_ms(), next = 0;
		size_t n = 0;
		int timeout, r;

		if (cap < 1 + a->n_units * (EXEC_FDS_MAX + 1) + a->n_orphans || !p) {
			cap = 1 + a->n_units * (EXEC_FDS_MAX + 1) + a->n_orphans + 16;
			free(p);
			free(who);
			free(kind);
			p = calloc(cap, sizeof(*p));
			who = calloc(cap, sizeof(*who));
			kind = calloc(cap, sizeof(*kind));
			if (!p || !who || !kind) {
				log_errno(ENOMEM, "activator");
				break;
			}
		}
		p[n++] = (struct pollfd){ .fd = a->wakefd, .events = POLLIN };
		for (size_t i = 0; i < a->n_units; i++) {
			struct act_unit *u = &a->units[i];

			if (u->child) {
				next = kill_overdue(u->child, now, next);
				who[n] = u;
				kind[n] = 1;
				p[n++] = (struct pollfd){ .fd = u->child->pidfd, .events = POLLIN };
				continue;
			}
			if (a->draining)
				continue;
			if (u->arm_at_ms > now) {
				next = next == 0 || u->arm_at_ms < next ? u->arm_at_ms : next;
				continue;
			}
			for (size_t j = 0; j < u->n_fds; j++) {
				who[n] = u;
				kind[n] = 0;
				p[n++] = (struct pollfd){ .fd = u->fds[j], .events = POLLIN };
			}
		}
		for (size_t i = 0; i < a->n_orphans; i++) {
			next = kill_overdue(a->orphans[i], now, next);
			who[n] = a->orphans[i];
			kind[n] = 2;
			p[n++] = (struct pollfd){ .fd = a->orphans[i]->pidfd, .events = POLLIN };
		}
		timeout = next == 0 ? -1 : (int)(next - now) + 1;
		r = poll(p, n, timeout);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			log_errno(errno, "activator: poll");
			break;
		}
		if (p[0].revents & POLLIN) {
			uint64_t v;

			(void)!read(a->wakefd, &v, sizeof(v));
		}
		for (size_t i = 1; i < n && r > 0; i++) {
			struct act_unit *u = who[i];

			if (!p[i].revents)
				continue;
			if (kind[i] == 0 && !u->child && !a->draining && u->arm_at_ms <= now) {
				/* The first event disarms the unit: its other
				 * sockets' events this round are its program's. */
				unit_start(a, u);
			} else if (kind[i] == 1 && u->child && child_reap(u->child, false, u->quick >= THROTTLE_AFTER)) {
				unit_exited(a, u);
			} else if (kind[i] == 2) {
				struct act_child *ch = who[i];

				if (child_reap(ch, false, false)) {
					for (size_t k = 0; k < a->n_orphans; k++)
						if (a->orphans[k] == ch) {
							a->orphans[k] = a->orphans[--a->n_orphans];
							break;
						}
					child_free(ch);
				}
			}
		}
	}
	free(p);
	free(who);
	free(kind);
	return NULL;
}

bool
activator_owns(const struct listener *l)
{
	return exec_holds_sockets(l->ep);
}

int
activator_new(struct activator **out)
{
	struct activator *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->wakefd == -1) {
		free(a);
		return -errno;
	}
	*out = a;
	return 0;
}

static struct act_unit *
unit_for(struct activator *a, const struct listener *l)
{
	const struct exec_options *eo = exec_options(l->ep);
	struct act_unit *u;

	if (eo->handoff == HANDOFF_LISTEN_FDS)
		for (size_t i = 0; i < a->n_units; i++)
			if (a->units[i].ep == l->ep) {
				u = &a->units[i];
				if (u->n_fds == EXEC_FDS_MAX)
					return NULL;
				u->fds[u->n_fds++] = l->fd;
				return u;
			}
	u = &a->units[a->n_units++];
	memset(u, 0, sizeof(*u));
	u->ep = endpoint_ref(l->ep);
	u->fds[0] = l->fd;
	u->n_fds = 1;
	return u;
}

static bool
same_fds(const struct act_child *ch, const struct act_unit *u)
{
	if (ch->n_fds != u->n_fds)
		return false;
	for (size_t i = 0; i < ch->n_fds; i++)
		if (!fd_in(ch->fds[i], u->fds, u->n_fds))
			return false;
	return true;
}

/* A program from before the reload: to the unit that holds its sockets. */
static void
adopt(struct activator *a, struct act_child *ch, const struct sockd *d)
{
	for (size_t i = 0; i < a->n_units; i++) {
		struct act_unit *u = &a->units[i];
		bool match = false;

		for (size_t j = 0; j < ch->n_fds && !match; j++)
			match = fd_in(ch->fds[j], u->fds, u->n_fds);
		if (!match)
			continue;
		if (u->child) {
			orphan_add(a, ch);      /* cannot happen: one unit per socket */
			return;
		}
		u->child = ch;
		atomic_store_explicit(&u->ep->program_pid, (int)ch->pid, memory_order_relaxed);
		atomic_fetch_add_explicit(&u->ep->stats.active, 1, memory_order_relaxed);
		if (!same_fds(ch, u)) {
			log_info("endpoint %s: its sockets changed: stopping pid %d, the next program gets "
				 "the new set", u->ep->name, (int)ch->pid);
			child_term(ch, ORPHAN_KILL_MS);
		}
		return;
	}
	log_info("endpoint %s: pid %d holds sockets no longer handed to a program: stopping it",
		 ch->ep->name, (int)ch->pid);
	/* Those that stay open now go to the acceptor or a worker. */
	for (size_t j = 0; j < ch->n_fds; j++)
		for (size_t k = 0; k < d->n_listeners; k++)
			if (d->listeners[k]->fd == ch->fds[j])
				set_nonblock(&ch->fds[j], 1);
	orphan_add(a, ch);
}

int
activator_start(struct activator *a, struct sockd *d)
{
	struct act_child **carried = NULL;
	size_t n_carried = 0, n = 0;
	int r;

	for (size_t i = 0; i < d->n_listeners; i++)
		n += activator_owns(d->listeners[i]);
	/* The programs of the previous run are in the (stopped) old units. */
	if (a->n_units) {
		carried = calloc(a->n_units, sizeof(*carried));
		if (!carried)
			return log_errno(ENOMEM, "activator");
		for (size_t i = 0; i < a->n_units; i++) {
			if (a->units[i].child)
				carried[n_carried++] = a->units[i].child;
			endpoint_unref(a->units[i].ep);
		}
	}
	free(a->units);
	a->n_units = 0;
	a->units = calloc(n ? n : 1, sizeof(*a->units));
	if (!a->units) {
		for (size_t i = 0; i < n_carried; i++)
			orphan_add(a, carried[i]);
		free(carried);
		return log_errno(ENOMEM, "activator");
	}
	for (size_t i = 0; i < d->n_listeners; i++) {
		struct listener *l = d->listeners[i];

		if (!activator_owns(l))
			continue;
		if (!unit_for(a, l))
			log_err("endpoint %s: more than %d sockets for one program, ignoring %s", l->ep->name,
				EXEC_FDS_MAX, "the rest");
	}
	for (size_t i = 0; i < n_carried; i++)
		adopt(a, carried[i], d);
	free(carried);

	/* start_at_launch: a unit none of whose sockets was known before is
	 * new (sockd's start, or added by this reload). */
	for (size_t i = 0; i < a->n_units; i++) {
		struct act_unit *u = &a->units[i];
		bool known = false;

		for (size_t j = 0; j < u->n_fds && !known; j++)
			known = fd_in(u->fds[j], a->known, a->n_known);
		if (!known && !u->child && exec_options(u->ep)->start_at_launch)
			unit_start(a, u);
	}
	free(a->known);
	a->n_known = 0;
	a->known = calloc(n ? n : 1, sizeof(*a->known));
	for (size_t i = 0; a->known && i < a->n_units; i++)
		for (size_t j = 0; j < a->units[i].n_fds; j++)
			a->known[a->n_known++] = a->units[i].fds[j];

	a->d = d;
	atomic_store(&a->stop, false);
	r = pthread_create(&a->thread, NULL, activator_main, a);
	if (r != 0)
		return log_errno(r, "activator: pthread_create");
	a->running = true;
	return 0;
}

static void
wake(struct activator *a)
{
	uint64_t one = 1;

	(void)!write(a->wakefd, &one, sizeof(one));
}

void
activator_stop(struct activator *a)
{
	if (!a || !a->running)
		return;
	atomic_store(&a->stop, true);
	wake(a);
	pthread_join(a->thread, NULL);
	a->running = false;
}

void
activator_drain(struct activator *a)
{
	if (!a)
		return;
	activator_stop(a);
	a->draining = true;
	for (size_t i = 0; i < a->n_units; i++)
		if (a->units[i].child)
			pidfd_send_signal(a->units[i].child->pidfd, SIGTERM, NULL, 0);
	for (size_t i = 0; i < a->n_orphans; i++)
		pidfd_send_signal(a->orphans[i]->pidfd, SIGTERM, NULL, 0);
}

/* Every program still running, with its pollfd filled in. */
static size_t
running(struct activator *a, struct act_child **v, struct pollfd *p)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n_units; i++)
		if (a->units[i].child)
			v[n++] = a->units[i].child;
	for (size_t i = 0; i < a->n_orphans; i++)
		v[n++] = a->orphans[i];
	for (size_t i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = v[i]->pidfd, .events = POLLIN };
	return n;
}

void
activator_finish(struct activator *a, const struct timespec *deadline)
{
	size_t cap;
	struct act_child **v;
	struct pollfd *p;

	if (!a)
		return;
	activator_stop(a);
	cap = a->n_units + a->n_orphans;
	v = calloc(cap ? cap : 1, sizeof(*v));
	p = calloc(cap ? cap : 1, sizeof(*p));
	for (;;) {
		struct timespec now;
		long ms;
		size_t n;

		if (!v || !p || deadline == NULL)
			break;
		n = running(a, v, p);
		if (n == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			break;
		if (poll(p, n, (int)ms) <= 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (!(p[i].revents & POLLIN) || !child_reap(v[i], false, false))
				continue;
			for (size_t k = 0; k < a->n_units; k++)
				if (a->units[k].child == v[i]) {
					a->units[k].child = NULL;
					program_gone(a->units[k].ep, v[i]->pid);
					atomic_fetch_sub_explicit(&a->units[k].ep->stats.active, 1,
								  memory_order_relaxed);
				}
			for (size_t k = 0; k < a->n_orphans; k++)
				if (a->orphans[k] == v[i])
					a->orphans[k] = a->orphans[--a->n_orphans];
			child_free(v[i]);
		}
	}
	/* Past the deadline (or out of memory): SIGKILL and wait. */
	for (size_t i = 0; i < a->n_units; i++) {
		struct act_child *ch = a->units[i].child;

		if (!ch)
			continue;
		log_notice("endpoint %s: pid %d still running at the stop deadline, killing it (SIGKILL)",
			   ch->ep->name, (int)ch->pid);
		pidfd_send_signal(ch->pidfd, SIGKILL, NULL, 0);
		child_reap(ch, true, false);
		program_gone(a->units[i].ep, ch->pid);
		atomic_fetch_sub_explicit(&a->units[i].ep->stats.active, 1, memory_order_relaxed);
		child_free(ch);
		a->units[i].child = NULL;
	}
	for (size_t i = 0; i < a->n_orphans; i++) {
		pidfd_send_signal(a->orphans[i]->pidfd, SIGKILL, NULL, 0);
		child_reap(a->orphans[i], true, false);
		child_free(a->orphans[i]);
	}
	a->n_orphans = 0;
	free(v);
	free(p);
}

void
activator_free(struct activator *a)
{
	if (!a)
		return;
	activator_finish(a, NULL);
	for (size_t i = 0; i < a->n_units; i++)
		endpoint_unref(a->units[i].ep);
	free(a->units);
	free(a->orphans);
	free(a->known);
	close(a->wakefd);
	free(a);
}
