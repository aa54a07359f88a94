/* The running daemon: start, serve (signals, reload, watchdog, control
 * socket), graceful shutdown. The main thread calls these, nothing else. */
#pragma once

#include "runtime.h"

/* Start everything for cfg (takes ownership of cfg), loaded from path. */
int daemon_start(struct sockd *d, struct sockd_config *cfg, const char *path);

/* Serve until SIGTERM/SIGINT, reloading on SIGHUP; then shut down
 * gracefully. Returns the exit code. */
int daemon_run(struct sockd *d);

/* Load the configuration file again and apply it, or keep the running
 * one when it is invalid or cannot be applied. 0 when it took; otherwise
 * d->reload_errors says why, as "file:line: message" lines. */
int daemon_reload(struct sockd *d);

void daemon_free(struct sockd *d);
