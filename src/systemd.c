#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "systemd.h"

int
systemd_listen_fds(struct passed_fd **fds)
{
	char **names = NULL;
	struct passed_fd *v;
	int n;

	*fds = NULL;
	n = sd_listen_fds_with_names(1, &names);
	if (n <= 0)
		return n;

	v = calloc((size_t)n, sizeof(*v));
	if (!v) {
		for (int i = 0; i < n; i++)
			free(names ? names[i] : NULL);
		free(names);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		v[i].fd = SD_LISTEN_FDS_START + i;
		/* systemd names unnamed sockets "unknown"; so do we, when it
		 * passed no names at all (old-style LISTEN_FDS only). */
		v[i].name = names && names[i] ? names[i] : strdup("unknown");
	}
	free(names);
	for (int i = 0; i < n; i++)
		if (!v[i].name) {
			for (int j = 0; j < n; j++)
				free(v[j].name);
			free(v);
			return -ENOMEM;
		}
	*fds = v;
	return n;
}

uint64_t
systemd_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}

void
systemd_notify(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)sd_notify(0, msg);
}

bool
systemd_notifying(void)
{
	const char *e = getenv("NOTIFY_SOCKET");

	return e && *e;
}

/* systemd 254 and later set $FDSTORE to FileDescriptorStoreMax= when it
 * is not 0; sockd.service sets it by hand for older ones (252: Debian 12).
 * Without it, sockd cannot know whether systemd keeps what it sends, and
 * leaves the store alone. Read once, and unset: exec programs must not
 * take it for theirs. */
unsigned
systemd_fdstore_max(void)
{
	static int known = -1;
	const char *e;
	char *end;
	unsigned long v;

	if (known >= 0)
		return (unsigned)known;
	known = 0;
	e = getenv("FDSTORE");
	if (e) {
		errno = 0;
		v = strtoul(e, &end, 10);
		if (!errno && *end == '\0' && end != e && v <= 65536 && systemd_notifying())
			known = (int)v;
		unsetenv("FDSTORE");
	}
	return (unsigned)known;
}

int
systemd_fdstore(int fd, const char *name)
{
	char msg[64 + 256];
	int r;

	if (!systemd_fdstore_max())
		return 0;
	/* FDPOLL=0: a listening socket never reports a hang-up worth
	 * acting on, and systemd need not watch it for us. */
	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDPOLL=0\nFDNAME=%s", name);
	r = sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
	return r < 0 ? r : 0;
}

void
systemd_fdstore_remove(const char *name)
{
	char msg[64 + 256];

	if (!systemd_fdstore_max())
		return;
	snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
	(void)sd_notify(0, msg);
}
