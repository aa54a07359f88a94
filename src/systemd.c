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
