/* Names of the sockets sockd hands to its next process: in systemd's fd
 * store (FDNAME=) and in a binary upgrade (LISTEN_FDNAMES). Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "addr.h"

/* systemd's limit on a name (sd_notify(3), FDNAME=), without the NUL. */
#define FDNAME_MAX 255

/* The control socket, passed on in a binary upgrade. */
#define FDNAME_CONTROL "sockd/control"

/* "sockd/ENDPOINT/ADDRESS", ADDRESS being addr_format()'s text with ':',
 * '%', control and non-ASCII bytes written as %XX (systemd refuses ':' and
 * control characters in a name). The same endpoint and address always give
 * the same name. Longer than FDNAME_MAX: cut, with a hash of the whole
 * name at the end, so that names stay distinct. out needs FDNAME_MAX + 1
 * bytes. */
void fdname_listener(const char *endpoint, const struct addr *a, char out[FDNAME_MAX + 1]);

/* A listener name made by fdname_listener() (of this or an older sockd),
 * rather than a FileDescriptorName= of a .socket unit. */
bool fdname_is_listener(const char *name);
