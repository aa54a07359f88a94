/* sockd --convert: inetd.conf and xinetd.d services turned into native
 * sockd.conf endpoints. The translations (xinetd_convert.c, inetd_convert.c)
 * are pure: they build struct cval endpoint groups and comment lines into a
 * struct conv_out; convert_run() reads the files, runs one, and prints. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "keys.h"
#include "textconf.h"

/* One endpoint: a group with the keys of an endpoints entry. Member names
 * are static strings; string values are owned (freed with the tree). */
struct conv_ep {
	struct cval g;
	struct strv comments;   /* "file:line: ..." lines printed before it */
	bool off;               /* printed commented out (disabled, or not servable) */
};

struct conv_out {
	struct conv_ep *eps;
	size_t n;
	size_t cap;
	struct strv head;       /* comments printed before the list */
	struct strv warnings;   /* "file:line: ..." for stderr: entries left out */
	size_t converted;       /* endpoints written to be served */
	size_t skipped;         /* entries that gave no endpoint at all */
	bool nomem;
};

/* A new endpoint, or NULL (out of memory: o->nomem). The pointer holds
 * until the next conv_new_ep(). */
struct conv_ep *conv_new_ep(struct conv_out *o);

/* Add a member to group parent (an element when parent is an array or a
 * list: name NULL). NULL when out of memory (o->nomem). The result holds
 * until the next addition to parent. */
struct cval *conv_add(struct conv_out *o, struct cval *parent, enum cval_type t,
    const char *name);
void conv_add_string(struct conv_out *o, struct cval *parent, const char *name, const char *s);
void conv_add_int(struct conv_out *o, struct cval *parent, const char *name, long long i);
void conv_add_float(struct conv_out *o, struct cval *parent, const char *name, double f);
void conv_add_bool(struct conv_out *o, struct cval *parent, const char *name, bool b);
/* name = [ "a", "b" ] from n strings. */
void conv_add_strings(struct conv_out *o, struct cval *parent, const char *name,
    char *const *v, size_t n);

void conv_vprintf(struct conv_out *o, struct strv *to, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void conv_printf(struct conv_out *o, struct strv *to, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* An endpoint name for want (invalid characters made '-', cut to length),
 * unique among the endpoints of o so far. Returns a malloc'ed string. */
char *conv_unique_name(struct conv_out *o, const char *want, const char *suffix);

/* Whether this sockd has the key: the converter writes a key another
 * branch adds only once the key table has it. */
bool conv_has_endpoint_key(const char *name);
bool conv_has_exec_key(const char *name);

/* The whole output as sockd.conf text. 0 or -EINVAL (a tree the printer
 * refuses; a bug) or -EIO. */
int conv_print(FILE *f, const struct conv_out *o, const char *title);
void conv_free(struct conv_out *o);

/* "tcp:HOST:PORT" with IPv6 literals in brackets. malloc'ed. */
char *conv_ip_address(const char *proto, const char *host, unsigned port);

/* The command line's --convert KIND PATH: prints to out, messages to err.
 * Returns the exit status: 0, 1 (a file could not be read), 64 (unknown
 * kind), 78 (nothing in the input could be converted). */
int convert_run(const char *kind, const char *path, FILE *out, FILE *err);

/* ---- the translations */
struct xinetd_conf;
struct inetd_conf;
/* Every entry of c (after xinetd_resolve) into o. */
void xinetd_convert(const struct xinetd_conf *c, struct conv_out *o);
/* Every record of c (after inetd_resolve) into o. */
void inetd_convert(const struct inetd_conf *c, struct conv_out *o);
