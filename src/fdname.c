#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fdname.h"

#define PREFIX "sockd/"

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

void
fdname_listener(const char *endpoint, const struct addr *a, char out[FDNAME_MAX + 1])
{
	static const char hex[] = "0123456789ABCDEF";
	char text[ADDR_STRLEN];
	/* Room for the whole escaped name before it is cut. */
	char full[sizeof(PREFIX) + 64 + 1 + 3 * ADDR_STRLEN];
	size_t n;

	n = (size_t)snprintf(full, sizeof(full), PREFIX "%s/", endpoint);
	if (n >= sizeof(full))
		n = sizeof(full) - 1;
	addr_format(a, text, sizeof(text));
	for (const char *p = text; *p && n + 4 < sizeof(full); p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || c == ':' || c == '%') {
			full[n++] = '%';
			full[n++] = hex[c >> 4];
			full[n++] = hex[c & 15];
		} else {
			full[n++] = (char)c;
		}
	}
	full[n] = '\0';
	if (n <= FDNAME_MAX) {
		memcpy(out, full, n + 1);
		return;
	}
	/* "#" and 16 hex digits at the end. */
	memcpy(out, full, FDNAME_MAX - 17);
	snprintf(out + FDNAME_MAX - 17, 18, "#%016llx", (unsigned long long)fnv1a(full));
}

bool
fdname_is_listener(const char *name)
{
	const char *ep;

	if (strncmp(name, PREFIX, sizeof(PREFIX) - 1) != 0)
		return false;
	ep = name + sizeof(PREFIX) - 1;
	return ep[0] != '\0' && ep[0] != '/' && strchr(ep, '/') != NULL && strcmp(name, FDNAME_CONTROL) != 0;
}
