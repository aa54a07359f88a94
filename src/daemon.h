/* The running daemon: config, listeners, queue, acceptor and workers. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "sockd.h"

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

	atomic_ulong active;            /* stream connections open, all endpoints */
	atomic_ulong served;            /* connections and datagrams answered, ever */
	unsigned long max_connections;

	/* acceptor */
	pthread_t acceptor;
	int acceptor_epfd;
	int acceptor_wakefd;            /* eventfd: room freed, or stop */
	atomic_bool acceptor_waiting;   /* paused on max_connections */
	atomic_bool acceptor_stop;
	bool acceptor_running;

	int exitfd;                     /* eventfd: a worker thread ended */
};

/* Start everything for cfg (takes ownership of cfg). */
int daemon_start(struct sockd *d, struct sockd_config *cfg);

/* Serve until SIGTERM/SIGINT; then shut down gracefully. Returns the exit code. */
int daemon_run(struct sockd *d);

void daemon_free(struct sockd *d);
