/* The only door to libsystemd. Without systemd every call is a no-op. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct passed_fd {
	int fd;
	char *name;                     /* FileDescriptorName=, never NULL */
};

/* Take the sockets systemd passed (LISTEN_FDS), unsetting the environment.
 * Returns how many (0 when none) with *fds malloc'd, or -errno. */
int systemd_listen_fds(struct passed_fd **fds);

/* The watchdog interval systemd asked for (WatchdogSec=), in µs; 0 = none. */
uint64_t systemd_watchdog_usec(void);

/* Whether systemd asked to be told about us ($NOTIFY_SOCKET is set). */
bool systemd_notifying(void);

/* How many fds systemd's fd store takes ($FDSTORE, as systemd 254 sets it
 * from FileDescriptorStoreMax=; sockd.service sets it for 252); 0 = no
 * store, or not under systemd. The first call unsets $FDSTORE. */
unsigned systemd_fdstore_max(void);

/* Put a copy of fd into the service's fd store under name (FDSTORE=1,
 * FDNAME=); systemd ignores a socket it holds already. 0 when there is no
 * store; -errno when the message could not be sent. */
int systemd_fdstore(int fd, const char *name);

/* Drop every fd stored under name (FDSTOREREMOVE=1). */
void systemd_fdstore_remove(const char *name);

/* sd_notify() with printf formatting; failures are ignored. */
void systemd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
