/* The only door to libsystemd. Without systemd every call is a no-op. */
#pragma once

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

/* sd_notify() with printf formatting; failures are ignored. */
void systemd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
