/* sockd.conf and its include_dir -> struct sockd_config (through the key tables), and back to text (sockd -nv). */
#pragma once

#include <stdio.h>

#include "diag.h"
#include "sockd.h"

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

/* Print cfg in libconfig syntax with every default spelled out, in the
 * order of the key tables, so that it loads again to the same text. */
void config_dump(const struct sockd_config *cfg, FILE *f);

/* Print every key of every table, one a line: section, name, type,
 * default, services, addresses, range or choices, description (tabs). */
void config_list_keys(FILE *f);
