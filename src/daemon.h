/* The running daemon: start, serve (signals, reload, watchdog, control
 * socket), graceful shutdown. The main thread calls these, nothing else. */
#pragma once

#include <signal.h>

#include "runtime.h"

/* The signals sockd handles, all read from a signalfd in daemon_run():
 * blocked in every thread from the first line of main() on. */
void daemon_signals(sigset_t *set);

/* Log a warning for what in cfg is risky as sockd runs now: a forward
 * to a Unix upstream as root (the upstream trusts uid 0). */
void daemon_warn_config(const struct sockd_config *cfg);

/* Start everything for cfg (takes ownership of cfg), loaded from path.
 * d->exe and d->argv (for upgrades) are the caller's to set afterwards;
 * d->exe is malloc'd and freed by daemon_free(). */
int daemon_start(struct sockd *d, struct sockd_config *cfg, const char *path);

/* Serve until SIGTERM/SIGINT/SIGQUIT, reloading on SIGHUP, logging a
 * summary on SIGUSR1, upgrading on SIGUSR2 (or sockctl upgrade: once the
 * new process serves, this one drains as on a stop); then shut down
 * gracefully. Returns the exit code. */
int daemon_run(struct sockd *d);

/* Load the configuration file again and apply it, or keep the running
 * one when it is invalid or cannot be applied. 0 when it took; otherwise
 * d->reload_errors says why, as "file:line: message" lines. */
int daemon_reload(struct sockd *d);

void daemon_free(struct sockd *d);
