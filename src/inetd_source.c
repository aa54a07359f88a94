/*
 * inetd.conf records -> endpoint groups. What each field becomes:
 *
 *   service/protocol   name "service/protocol" (the caller makes it unique)
 *   [host:]service     listen addresses, one per host and family: "tcp" and
 *                      "udp" are an IPv4 and an IPv6 (v6only) socket as in
 *                      Debian's openbsd-inetd, tcp4/udp4 IPv4 only, tcp6/
 *                      udp6 IPv6 only, tcp46/udp46 one IPv6 socket that also
 *                      takes IPv4; unix: the path, as unix, unix-dgram or
 *                      unix-seqpacket after the socket type
 *   internal           service echo, discard, chargen, daytime or time
 *                      (inetd ignores wait and user for these, and so do we)
 *   server, arguments  service exec, command = [ server, arguments... ],
 *                      argv0 = the first argument as written
 *   wait / nowait      handoff = "wait" / "nowait"
 *   nowait.N           rate = N / 60 and burst = N: inetd's "N a minute",
 *                      as a bucket that refuses the connection over the
 *                      limit instead of suspending the service for ten
 *                      minutes; stream sockets only
 *   user[:.]group      user = "user" or "user:group" (exec only)
 *   ,sndbuf= ,rcvbuf=  sndbuf, rcvbuf
 *
 * Keys that this build of sockd lacks are not generated: what depends on
 * them either becomes a note (sndbuf, rcvbuf) or a reason to skip the line
 * (argv[0] apart from the program, wait).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inetd_source.h"

/* The exec keys argv0 and handoff (exec modes), and the endpoint keys
 * sndbuf and rcvbuf (socket options). */
#define HAVE_EXEC_MODES 0
#define HAVE_SOCKBUF 0

#define MAX_MEMBERS 16
#define BURST_LIMIT 1000000     /* config_keys.c's BURST_MAX */

struct build {
	const struct inetd_rec *r;
	struct inetd_endpoint *e;
	struct cval *members;
	char *reason;
	bool nomem;
};

static const char *
keep(struct build *b, const char *s)
{
	if (b->nomem || strv_push(&b->e->strings, s) < 0) {
		b->nomem = true;
		return NULL;
	}
	return b->e->strings.v[b->e->strings.n - 1];
}

static const char * __attribute__((format(printf, 2, 3)))
keepf(struct build *b, const char *fmt, ...)
{
	char buf[TEXTCONF_LINE_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return keep(b, buf);
}

static void __attribute__((format(printf, 2, 3)))
skip(struct build *b, const char *fmt, ...)
{
	va_list ap;

	if (b->reason || b->nomem)
		return;
	va_start(ap, fmt);
	if (vasprintf(&b->reason, fmt, ap) < 0) {
		b->reason = NULL;
		b->nomem = true;
	}
	va_end(ap);
}

static void __attribute__((format(printf, 2, 3)))
note(struct build *b, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!b->nomem && strv_push(&b->e->notes, buf) < 0)
		b->nomem = true;
}

static struct cval *
member(struct build *b, const char *name, enum cval_type type)
{
	struct cval *g = &b->e->group, *v;

	if (g->n == MAX_MEMBERS) {
		b->nomem = true;        /* a bug: MAX_MEMBERS is too small */
		return NULL;
	}
	v = &b->members[g->n++];
	memset(v, 0, sizeof(*v));
	v->type = type;
	v->name = name;
	v->file = b->r->file;
	v->line = (int)b->r->line;
	return v;
}

static void
member_string(struct build *b, const char *name, const char *s)
{
	struct cval *v;

	if (!s || !(v = member(b, name, CVAL_STRING)))
		return;
	v->s = s;
}

static void
member_int(struct build *b, const char *name, long long i)
{
	struct cval *v = member(b, name, CVAL_INT);

	if (v)
		v->i = i;
}

/* An array of n strings, filled by the caller. */
static struct cval *
member_array(struct build *b, const char *name, size_t n)
{
	struct cval *v = member(b, name, CVAL_ARRAY);

	if (!v)
		return NULL;
	v->elems = calloc(n, sizeof(*v->elems));
	if (!v->elems) {
		b->nomem = true;
		b->e->group.n--;
		return NULL;
	}
	v->n = 0;
	return v;
}

static void
array_push(struct build *b, struct cval *a, const char *s)
{
	struct cval *e;

	if (!a || !s)
		return;
	e = &a->elems[a->n++];
	e->type = CVAL_STRING;
	e->file = b->r->file;
	e->line = (int)b->r->line;
	e->s = s;
}

void
inetd_endpoint_name(const struct inetd_rec *r, char *buf, size_t len)
{
	const char *svc = r->service ? r->service : "?";
	const char *proto = r->protocol ? r->protocol : "?";
	size_t n;

	if (r->proto == INETD_PROTO_UNIX && r->service && strrchr(r->service, '/'))
		svc = strrchr(r->service, '/') + 1;
	/* The protocol is short ("tcp46" at most); the service gives way. */
	snprintf(buf, len, "%.*s/%s", (int)(len - 8), svc, proto);
	n = strlen(buf);
	for (size_t i = 0; i < n; i++) {
		char ch = buf[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-' || ch == '/'))
			buf[i] = '_';
	}
}

/* The listen addresses of an IP record. */
static void
ip_listen(struct build *b, struct cval *listen, bool *v6only)
{
	const struct inetd_rec *r = b->r;
	const char *kind = r->proto == INETD_PROTO_TCP ? "tcp" : "udp";
	unsigned char buf[sizeof(struct in6_addr)];

	*v6only = false;
	for (size_t i = 0; i < r->hosts.n && !b->reason; i++) {
		const char *h = r->hosts.v[i];
		bool v4 = inet_pton(AF_INET, h, buf) == 1;
		bool v6 = !v4 && inet_pton(AF_INET6, h, buf) == 1;

		if (strcmp(h, "*") == 0) {
			if (r->family == INETD_FAMILY_ANY || r->family == INETD_FAMILY_IPV4)
				array_push(b, listen, keepf(b, "%s:0.0.0.0:%u", kind, r->port));
			if (r->family != INETD_FAMILY_IPV4)
				array_push(b, listen, keepf(b, "%s:[::]:%u", kind, r->port));
			v6 = r->family != INETD_FAMILY_IPV4;
		} else if (v4 && r->family != INETD_FAMILY_ANY && r->family != INETD_FAMILY_IPV4) {
			skip(b, "address '%s' is IPv4, but protocol '%s' is IPv6", h, r->protocol);
		} else if (v6 && r->family == INETD_FAMILY_IPV4) {
			skip(b, "address '%s' is IPv6, but protocol '%s' is IPv4", h, r->protocol);
		} else if (v6) {
			array_push(b, listen, keepf(b, "%s:[%s]:%u", kind, h, r->port));
		} else {
			/* An IPv4 literal, or a host name that the address
			 * parser resolves as in sockd.conf. */
			array_push(b, listen, keepf(b, "%s:%s:%u", kind, h, r->port));
		}
		/* "tcp" is two sockets, so the IPv6 one must leave IPv4 to
		 * the other; "tcp6" is IPv6 only. */
		if (v6 && r->family != INETD_FAMILY_IPV46)
			*v6only = true;
	}
}

static void
unix_listen(struct build *b, struct cval *listen)
{
	const struct inetd_rec *r = b->r;
	const char *kind = r->socktype == SOCK_DGRAM ? "unix-dgram" :
	    r->socktype == SOCK_SEQPACKET ? "unix-seqpacket" : "unix";

	array_push(b, listen, keepf(b, "%s:%s", kind, r->service));
}

static void
exec_keys(struct build *b)
{
	const struct inetd_rec *r = b->r;
	const char *base = strrchr(r->server, '/') + 1;
	const char *argv0 = r->argv.n > 0 ? r->argv.v[0] : base;
	struct cval *cmd;

	member_string(b, "service", "exec");
	cmd = member_array(b, "command", r->argv.n > 0 ? r->argv.n : 1);
	array_push(b, cmd, r->server);
	for (size_t i = 1; i < r->argv.n; i++)
		array_push(b, cmd, r->argv.v[i]);
#if HAVE_EXEC_MODES
	if (strcmp(argv0, r->server) != 0)
		member_string(b, "argv0", argv0);
	member_string(b, "handoff", r->wait ? "wait" : "nowait");
#else
	if (strcmp(argv0, r->server) != 0 && strcmp(argv0, base) != 0)
		skip(b, "argv[0] '%s' apart from the program '%s' is not supported by this sockd",
		    argv0, r->server);
	if (r->wait)
		skip(b, "wait services are not supported by this sockd");
#endif
	if (r->group)
		member_string(b, "user", keepf(b, "%s:%s", r->user, r->group));
	else
		member_string(b, "user", r->user);
}

int
inetd_endpoint_make(const struct inetd_rec *r, const char *name,
    struct inetd_endpoint *out, char **reason)
{
	struct build b = { .r = r, .e = out };
	struct cval *listen;
	bool v6only = false;

	memset(out, 0, sizeof(*out));
	*reason = NULL;
	if (r->reason) {
		if (!(*reason = strdup(r->reason)))
			return -ENOMEM;
		return 1;
	}
	b.members = calloc(MAX_MEMBERS, sizeof(*b.members));
	if (!b.members)
		return -ENOMEM;
	out->group.type = CVAL_GROUP;
	out->group.file = r->file;
	out->group.line = (int)r->line;
	out->group.elems = b.members;

	member_string(&b, "name", keep(&b, name));
	listen = member_array(&b, "listen", r->proto == INETD_PROTO_UNIX || r->hosts.n == 0 ? 1 :
	    2 * r->hosts.n);
	if (r->proto == INETD_PROTO_UNIX)
		unix_listen(&b, listen);
	else if (r->port == 0)
		skip(&b, "service '%s' has no port (inetd_resolve() was not run)", r->service);
	else
		ip_listen(&b, listen, &v6only);
	if (v6only) {
		struct cval *v = member(&b, "v6only", CVAL_BOOL);

		if (v)
			v->b = true;
	}

	if (r->internal)
		member_string(&b, "service", r->service);
	else
		exec_keys(&b);

	if (r->max && r->socktype != SOCK_DGRAM && !r->wait) {
		unsigned burst = r->max > BURST_LIMIT ? BURST_LIMIT : r->max;
		struct cval *v = member(&b, "rate", CVAL_FLOAT);

		if (v)
			v->f = burst / 60.0;
		member_int(&b, "burst", burst);
	} else if (r->max) {
		note(&b, "the count of '%s.%u' is not applied on %s sockets", r->wait ? "wait" : "nowait",
		    r->max, r->wait ? "wait" : "datagram");
	}

#if HAVE_SOCKBUF
	if (r->sndbuf)
		member_int(&b, "sndbuf", r->sndbuf);
	if (r->rcvbuf)
		member_int(&b, "rcvbuf", r->rcvbuf);
#else
	if (r->sndbuf)
		note(&b, "sndbuf=%d is not supported by this sockd, ignored", r->sndbuf);
	if (r->rcvbuf)
		note(&b, "rcvbuf=%d is not supported by this sockd, ignored", r->rcvbuf);
#endif

	if (b.nomem || b.reason) {
		inetd_endpoint_free(out);
		if (b.nomem) {
			free(b.reason);
			return -ENOMEM;
		}
		*reason = b.reason;
		return 1;
	}
	return 0;
}

void
inetd_endpoint_free(struct inetd_endpoint *e)
{
	for (size_t i = 0; i < e->group.n; i++)
		free(e->group.elems[i].elems);
	free(e->group.elems);
	strv_free(&e->notes);
	strv_free(&e->strings);
	memset(e, 0, sizeof(*e));
}
