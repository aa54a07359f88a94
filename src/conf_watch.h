/* Watching inetd.conf and inetd_dir with inotify, so that update-inetd's
 * edits reach the running daemon: it only signals a process named inetd
 * (from /run/inetd.pid) or runs invoke-rc.d, neither of which finds sockd.
 * Used by the main thread only. */
#pragma once

#include <stdbool.h>

#include "sockd.h"

struct conf_watch;

/* An inotify instance; 0 or -errno. */
int conf_watch_new(struct conf_watch **out);
void conf_watch_free(struct conf_watch *w);     /* accepts NULL */

/* Watch what cfg reads: daemon.inetd_conf (through its directory, since
 * update-inetd writes a new file and renames it over the old one) and
 * daemon.inetd_dir; forget what it watched before. A directory that does
 * not exist is not watched (logged once at notice). */
void conf_watch_set(struct conf_watch *w, const struct sockd_config *cfg);

int conf_watch_fd(const struct conf_watch *w);  /* poll it for POLLIN */

/* Read the queued events; true when one concerns a watched file. Never
 * blocks. */
bool conf_watch_changed(struct conf_watch *w);
