/* sockd.conf (libconfig syntax) -> struct sockd_config: parse, validate,
 * fill defaults, and print the normalised form (sockd -nv). */
#pragma once

#include <stdio.h>
#include <syslog.h>

#include "sockd.h"

/* Diagnostics collected while loading: each line is "file:line: message",
 * or "file: message" when line <= 0; control characters become '?'. */
struct diag {
	char **lines;
	size_t n;
	size_t cap;
};

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void diag_free(struct diag *d);         /* frees the lines, leaves d empty */

/* Defaults, in one place. */
#define CONFIG_DEFAULT_WORKERS          0
#define CONFIG_DEFAULT_QUEUE            4096
#define CONFIG_DEFAULT_MAX_CONNECTIONS  65536
#define CONFIG_DEFAULT_SHUTDOWN_TIMEOUT 10.0
#define CONFIG_DEFAULT_LOG_LEVEL        LOG_INFO
#define CONFIG_DEFAULT_BACKLOG          1024
#define CONFIG_DEFAULT_UDP_RATE         20.0    /* replies per second per source */
#define CONFIG_DEFAULT_UDP_BURST        40
#define CONFIG_DEFAULT_UDP_SESSIONS_PER_SOURCE 256  /* datagram forward sessions per client address */
#define CONFIG_DEFAULT_IDLE_TIMEOUT     300.0   /* seconds */
#define CONFIG_DEFAULT_PROXY_TIMEOUT    3.0     /* seconds for a whole PROXY header */
#define CONFIG_DEFAULT_CONNECT_TIMEOUT  5.0     /* seconds per upstream attempt */
/* Endpoint max_connections, max_per_source, rate and lifetime default to
 * 0 (no limit); burst defaults to rate rounded up, at least 1. exec
 * instances default to 0 (no limit), umask to -1 and nice to NICE_UNSET
 * (inherited); forward balance to BALANCE_FIRST. */

/* Bytes of one configuration file or include_dir fragment. libconfig 1.5
 * parses ordinary files in linear time (1 MiB of endpoints: about 0.4 s
 * here), but some shapes in quadratic time (one 1 MiB line: 4 s; 128 KiB
 * of keys in one group: 3 s): the size limit bounds the ordinary case, the
 * time limit of a check (control.c) the rest. */
#define CONFIG_FILE_MAX                 (1 << 20)

/* Load and validate path, then every *.conf file in daemon.include_dir (in
 * strcmp order; names starting with '.' are skipped; a missing directory
 * is no error), each of which may only add endpoints. Returns 0 and *out,
 * or -EINVAL with every problem appended to d (at least one line; an
 * unreadable file is one too), or -ENOMEM. A file that is not a regular
 * file or is larger than CONFIG_FILE_MAX is refused without being read
 * (never waiting on a FIFO); an include_dir entry that is not a regular
 * file (a directory, FIFO, socket, dangling symlink) is skipped and named
 * in (*out)->warnings. Never logs. */
int config_load(const char *path, struct sockd_config **out, struct diag *d);

void config_free(struct sockd_config *cfg);     /* accepts NULL */

/* Print cfg in libconfig syntax with every default spelled out. */
void config_dump(const struct sockd_config *cfg, FILE *f);
