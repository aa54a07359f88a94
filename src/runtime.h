/* struct sockd: the running daemon's state. The daemon (daemon.c) owns
 * and changes it; the acceptor, the workers, the control socket and the
 * monitor read what they are given of it, so they need this type but
 * never the daemon's functions. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "sockd.h"
#include "textconf.h"
#include "udp_relay.h"

struct activator;
struct conf_watch;
struct control;
struct listener;
struct queue;
struct worker;

struct sockd {
	struct sockd_config *cfg;
	struct listener **listeners;
	size_t n_listeners;
	struct queue *queue;
	struct worker **workers;
	unsigned n_workers;
	struct worker **retired;        /* left the pool on reload, finishing their connections */
	unsigned n_retired;
	const char *config_path;
	bool last_reload_ok;            /* for status: did the last reload take? */
	struct diag reload_errors;      /* its errors when it did not */
	uint64_t watchdog_usec;         /* 0 = no watchdog */
	char *dropped_to;               /* the user we switched to at start, or NULL */
	struct control *control;        /* the control socket, or NULL */
	struct conf_watch *watch;       /* inotify on the inetd.conf source, or NULL */
	struct activator *activator;    /* exec "wait" and "listen-fds" programs */
	double started_at;              /* unix time, for status */
	uint64_t started_usec;          /* CLOCK_MONOTONIC, for the uptime */
	double reload_at;               /* unix time of the last reload, 0 = none yet */

	atomic_ulong active;            /* stream connections open, all endpoints */
	atomic_ulong served;            /* connections and datagrams answered, ever */
	unsigned long max_connections;
	struct udp_budget udp_budget;   /* datagram forward sessions, all endpoints */
	/* Some endpoint runs programs (service exec), now or since start: a
	 * child between clone() and execve() holds a copy of every fd, so
	 * closing an fd no longer takes it out of the epoll sets. Set before
	 * such an endpoint accepts its first connection; never cleared. */
	atomic_bool spawns_children;

	/* acceptor */
	pthread_t acceptor;
	int acceptor_epfd;
	int acceptor_wakefd;            /* eventfd: room freed, or stop */
	atomic_bool acceptor_waiting;   /* paused on max_connections */
	atomic_bool acceptor_stop;
	bool acceptor_running;
	atomic_uint acceptor_pings;     /* watchdog: asked ... */
	atomic_uint acceptor_pongs;     /* ... and answered */

	int exitfd;                     /* eventfd: a worker thread ended */

	/* Called by a worker that closed a connection while the acceptor
	 * waited for room (acceptor_waiting): wakes the acceptor. Set by the
	 * daemon, which knows the acceptor; workers only call it. */
	void (*room_freed)(struct sockd *d);

	/* Called by the control socket's "reload" (main thread): the daemon's
	 * daemon_reload(), so control.c need not know the daemon. */
	int (*reload)(struct sockd *d);

	/* Called by the control socket's "upgrade" (main thread): start the
	 * new binary with the listening sockets and wait until it serves.
	 * Returns its pid, or <= 0 with why filled in. The caller then
	 * answers its client and lets daemon_run() hand over. */
	int (*upgrade)(struct sockd *d, char *why, size_t size);

	/* Binary upgrades (upgrade.c): what to start, and how it went. */
	char *exe;                      /* this binary's path, read at start */
	char **argv;                    /* the command line it was started with */
	pid_t successor;                /* the process that took over; 0 = none */
	char **fdstore;                 /* the names sockd put into systemd's fd store */
	size_t n_fdstore;
	/* Socket files of kept sockets this configuration no longer has:
	 * removed once the start succeeds (until then, the process that
	 * passed them on may still serve them). */
	struct strv stale_files;
};

