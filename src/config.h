/* sockd.conf and its include_dir -> struct sockd_config (through the key tables), and back to text (sockd -nv). */
#pragma once

#include <stdio.h>

#include "diag.h"
#include "sockd.h"

/* Load and validate path, then every *.conf file in daemon.include_dir (in
 * strcmp order; names starting with '.' are skipped; a missing directory
 * is no error), each of which may only add endpoints. Returns 0 and *out,
 * or -EINVAL with every problem appended to d (at least one line; an
 * unreadable file is one too), or -ENOMEM. Never logs. */
int config_load(const char *path, struct sockd_config **out, struct diag *d);

void config_free(struct sockd_config *cfg);     /* accepts NULL */

/* Print cfg in libconfig syntax with every default spelled out, in the
 * order of the key tables, so that it loads again to the same text. */
void config_dump(const struct sockd_config *cfg, FILE *f);

/* Print every key of every table, one a line: section, name, type,
 * default, services, addresses, range or choices, description (tabs). */
void config_list_keys(FILE *f);
