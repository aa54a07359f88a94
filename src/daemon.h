/* The running daemon: config, listeners, queue, acceptor and workers. */
#pragma once

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "sockd.h"
#include "udp_relay.h"

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
};

/* The signals sockd handles, all read from a signalfd in daemon_run():
 * blocked in every thread from the first line of main() on. */
void daemon_signals(sigset_t *set);

/* Log a warning for what in cfg is risky as sockd runs now: a forward
 * to a Unix upstream as root (the upstream trusts uid 0). */
void daemon_warn_config(const struct sockd_config *cfg);

/* Start everything for cfg (takes ownership of cfg), loaded from path. */
int daemon_start(struct sockd *d, struct sockd_config *cfg, const char *path);

/* Serve until SIGTERM/SIGINT/SIGQUIT, reloading on SIGHUP and logging a
 * summary on SIGUSR1; then shut down gracefully. Returns the exit code. */
int daemon_run(struct sockd *d);

/* Load the configuration file again and apply it, or keep the running
 * one when it is invalid or cannot be applied. 0 when it took; otherwise
 * d->reload_errors says why, as "file:line: message" lines. */
int daemon_reload(struct sockd *d);

void daemon_free(struct sockd *d);
