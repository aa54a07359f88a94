/* One inetd.conf record -> one endpoint as a struct cval group, the form
 * every configuration source hands to the loader (pure: no I/O, no
 * logging, no loader). Used by the inetd.conf source (config_inetd.c) and
 * by the converter (sockd --convert inetd). */
#pragma once

#include "inetd_parse.h"
#include "keys.h"

/* What a record becomes. group is a CVAL_GROUP whose members (name,
 * listen, service, v6only, command, argv0, user, handoff, rate, burst,
 * sndbuf, rcvbuf: only those that apply) carry the record's file and line;
 * all of it lives until inetd_endpoint_free(). */
struct inetd_endpoint {
	struct cval group;
	/* Parts of the line that sockd does not apply, one line each, without
	 * "file:line: ": the source warns with them, the converter comments. */
	struct strv notes;
	struct strv strings;            /* storage of the values above */
};

/* The name an operator recognises: the service and the protocol as
 * written ("finger/tcp", "tftp/udp", "echo/tcp6"), or the socket file's
 * name for unix ("fcgi.sock/unix"). Characters a name cannot hold become
 * '_'; at most len - 1 bytes (len > 8). Callers make names unique. */
void inetd_endpoint_name(const struct inetd_rec *r, char *buf, size_t len);

/* Translate r, which inetd_resolve() has seen, into *out under the given
 * name (*out must be zeroed or freed). Returns 0; 1 with *reason (malloc'd,
 * one line, no "file:line: ") when sockd cannot serve the record (r's own
 * reason, or what the translation found); or -ENOMEM. A disabled record
 * is translated like any other: whether to serve it is the caller's
 * choice. On 1 and -ENOMEM, *out is left empty. */
int inetd_endpoint_make(const struct inetd_rec *r, const char *name,
    struct inetd_endpoint *out, char **reason);

void inetd_endpoint_free(struct inetd_endpoint *e);     /* leaves e empty */
