/* inetd.conf -> records. The grammar is openbsd-inetd's getconfigent() as
 * Debian builds it (inetd(8)), with these deliberate differences, each for
 * a defined outcome where inetd guesses:
 *   - a field inetd would read loosely is checked ("nowiat" is not nowait,
 *     "nowait.x" is not 256, a relative server path is not executed);
 *   - "user:group" splits at the ':' when there is one, so "first.last:grp"
 *     is user first.last (inetd splits at the first '.');
 *   - a unix socket path may contain ':';
 *   - a line whose first non-blank byte is '#' is a comment even when it is
 *     indented (inetd would read it as a continuation);
 *   - more than INETD_ARGV_MAX arguments skip the line (inetd drops the rest).
 * As in inetd, a line starting with a blank continues the entry above it. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "inetd_parse.h"

/* What update-inetd (DebianNet.pm, $SEP) puts before a line it disables. */
#define OFF_MARK "#<off>#"

static const char *const builtins[] = { "echo", "discard", "chargen", "daytime", "time" };

struct parser {
	struct inetd_conf *c;
	struct strv default_hosts;      /* from the last bare "addr:" line */
	unsigned default_bad_line;      /* that line was invalid: 0 = it was fine */
	/* The entry being gathered: a line and its continuation lines. */
	char *entry;
	size_t entry_len;
	unsigned entry_line;
	bool entry_disabled;
	bool entry_too_long;
	bool have_entry;
};

static int __attribute__((format(printf, 2, 3)))
fail(struct inetd_rec *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->reason)
		return 0;
	va_start(ap, fmt);
	n = vasprintf(&r->reason, fmt, ap);
	va_end(ap);
	if (n < 0) {
		r->reason = NULL;
		return -ENOMEM;
	}
	return 0;
}

static struct inetd_rec *
new_rec(struct parser *p, unsigned line, bool disabled)
{
	struct inetd_conf *c = p->c;
	struct inetd_rec *r;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct inetd_rec *recs = realloc(c->recs, cap * sizeof(*recs));

		if (!recs)
			return NULL;
		c->recs = recs;
		c->cap = cap;
	}
	r = &c->recs[c->n++];
	memset(r, 0, sizeof(*r));
	r->file = c->file;
	r->line = line;
	r->disabled = disabled;
	return r;
}

static bool
all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* Decimal digits only, 1..max; -1 otherwise. */
static long
parse_count(const char *s, size_t n, long max)
{
	long v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max)
			return -1;
	}
	return v >= 1 ? v : -1;
}

/* One address of "a,b,[::1]": an IP literal or a host name, or "*". The
 * wiring resolves it; here only the bytes are checked. */
static bool
host_ok(const char *h)
{
	if (strcmp(h, "*") == 0)
		return true;
	if (!*h)
		return false;
	for (; *h; h++)
		if (!(isalnum((unsigned char)*h) || strchr(".-_:%", *h)))
			return false;
	return true;
}

/* Split "a,[::1],b" into out. NULL, or the first bad item as a reason. */
static int
parse_hosts(struct inetd_rec *r, const char *list, size_t len, struct strv *out)
{
	size_t i = 0;

	for (;;) {
		const char *item = list + i, *comma = memchr(item, ',', len - i);
		size_t n = comma ? (size_t)(comma - item) : len - i;
		char *h;
		int rc;

		if (n >= 2 && item[0] == '[' && item[n - 1] == ']')
			h = strndup(item + 1, n - 2);
		else
			h = strndup(item, n);
		if (!h)
			return -ENOMEM;
		if (!host_ok(h) || (h[0] == '*' && n != 1)) {
			rc = fail(r, "invalid address '%.*s' (an IP address, a host name or *)",
				  (int)n, item);
			free(h);
			return rc < 0 ? rc : 1;
		}
		rc = strv_push(out, h);
		free(h);
		if (rc < 0)
			return rc;
		if (!comma)
			return 0;
		i += n + 1;
	}
}

struct proto_name {
	const char *name;
	enum inetd_proto proto;
	enum inetd_family family;
};

static const struct proto_name protos[] = {
	{ "tcp", INETD_PROTO_TCP, INETD_FAMILY_ANY },
	{ "tcp4", INETD_PROTO_TCP, INETD_FAMILY_IPV4 },
	{ "tcp6", INETD_PROTO_TCP, INETD_FAMILY_IPV6 },
	{ "tcp46", INETD_PROTO_TCP, INETD_FAMILY_IPV46 },
	{ "udp", INETD_PROTO_UDP, INETD_FAMILY_ANY },
	{ "udp4", INETD_PROTO_UDP, INETD_FAMILY_IPV4 },
	{ "udp6", INETD_PROTO_UDP, INETD_FAMILY_IPV6 },
	{ "udp46", INETD_PROTO_UDP, INETD_FAMILY_IPV46 },
	{ "unix", INETD_PROTO_UNIX, INETD_FAMILY_UNIX },
};

/* "tcp,sndbuf=64k,rcvbuf=1m". 0, 1 (reason set) or -ENOMEM. */
static int
parse_protocol(struct inetd_rec *r, const char *field)
{
	const char *comma = strchr(field, ',');
	size_t n = comma ? (size_t)(comma - field) : strlen(field);
	const struct proto_name *pn = NULL;

	r->protocol = strndup(field, n);
	if (!r->protocol)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strcmp(protos[i].name, r->protocol) == 0)
			pn = &protos[i];
	if (!pn)
		return fail(r, "unknown protocol '%s' (tcp, udp, tcp4, tcp6, tcp46, "
			    "udp4, udp6, udp46 or unix)", r->protocol) ?: 1;
	r->proto = pn->proto;
	r->family = pn->family;

	while (comma) {
		const char *opt = comma + 1, *end;
		size_t len;
		int *slot;
		long v, scale = 1;

		comma = strchr(opt, ',');
		len = comma ? (size_t)(comma - opt) : strlen(opt);
		if (len > 7 && strncmp(opt, "sndbuf=", 7) == 0)
			slot = &r->sndbuf;
		else if (len > 7 && strncmp(opt, "rcvbuf=", 7) == 0)
			slot = &r->rcvbuf;
		else
			return fail(r, "unknown protocol option '%.*s' (sndbuf=N or rcvbuf=N)",
				    (int)len, opt) ?: 1;
		if (*slot)
			return fail(r, "%.6s given twice", opt) ?: 1;
		end = opt + len;
		if (end[-1] == 'k' || end[-1] == 'K')
			scale = 1024, end--;
		else if (end[-1] == 'm' || end[-1] == 'M')
			scale = 1024 * 1024, end--;
		v = parse_count(opt + 7, (size_t)(end - opt - 7), INT_MAX);
		if (v < 0 || v > INT_MAX / scale)
			return fail(r, "invalid buffer size '%.*s' (1 to %d bytes, "
				    "with k or m)", (int)(len - 7), opt + 7, INT_MAX) ?: 1;
		*slot = (int)(v * scale);
	}
	return 0;
}

static bool
is_tcpmux(const char *service)
{
	return strncasecmp(service, "tcpmux", 6) == 0 &&
	       (service[6] == '\0' || service[6] == '/');
}

/* The fields of one entry; words[0] is the first field. */
static int
parse_fields(struct parser *p, struct inetd_rec *r, struct strv *w)
{
	const char *first = w->v[0], *svc, *colon;
	size_t k = 1, nf, wait_len;
	bool explicit_host;
	const char *wait, *dot, *user, *sep, *server;
	int rc;

	/* "host:service", "host: service" (inetd's skip() reads on), or
	 * "service". Which part is the host waits for the protocol. */
	colon = strrchr(first, ':');
	explicit_host = colon != NULL;
	if (colon && colon[1] == '\0') {
		svc = w->v[1];
		k = 2;
	} else {
		svc = colon ? colon + 1 : first;
	}
	nf = w->n - k;

	/* Known unsupported kinds first: their reason says more than a
	 * field count would. */
	if (nf >= 2 && strncmp(w->v[k + 1], "rpc/", 4) == 0)
		return fail(r, "RPC services are not supported ('%s' '%s')", svc, w->v[k + 1]);
	if (is_tcpmux(svc))
		return fail(r, "tcpmux services are not supported ('%s')", svc);
	if (nf < 5)
		return fail(r, "expected at least 6 fields (service, socket type, protocol, "
			    "wait, user, server), found %zu", nf + 1);

	if (strcmp(w->v[k], "stream") == 0)
		r->socktype = SOCK_STREAM;
	else if (strcmp(w->v[k], "dgram") == 0)
		r->socktype = SOCK_DGRAM;
	else if (strcmp(w->v[k], "seqpacket") == 0)
		r->socktype = SOCK_SEQPACKET;
	else
		return fail(r, "socket type '%s' is not supported (stream, dgram or seqpacket)",
			    w->v[k]);

	rc = parse_protocol(r, w->v[k + 1]);
	if (rc != 0)
		return rc < 0 ? rc : 0;

	if (r->proto == INETD_PROTO_UNIX) {
		/* The whole first field is the path: inetd ignores any address. */
		r->service = strdup(k == 2 ? svc : first);
		if (!r->service)
			return -ENOMEM;
		if (r->service[0] != '/')
			return fail(r, "unix socket path '%s' is not absolute", r->service);
		if (strlen(r->service) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return fail(r, "unix socket path is longer than %zu bytes",
				    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	} else {
		r->service = strdup(svc);
		if (!r->service)
			return -ENOMEM;
		if (!*r->service)
			return fail(r, "no service name after '%s'", first);
		if (explicit_host) {
			rc = parse_hosts(r, first, (size_t)(colon - first), &r->hosts);
			if (rc != 0)
				return rc < 0 ? rc : 0;
		} else if (p->default_bad_line) {
			return fail(r, "the default address set at line %u is invalid",
				    p->default_bad_line);
		} else {
			if (strv_copy(&r->hosts, &p->default_hosts) < 0)
				return -ENOMEM;
			r->hosts_default = true;
		}
		if (all_digits(r->service)) {
			long port = parse_count(r->service, strlen(r->service), 65535);

			if (port < 0)
				return fail(r, "port '%s' is out of range (1 to 65535)", r->service);
			r->port = (uint16_t)port;
		}
	}

	if (r->proto == INETD_PROTO_TCP && r->socktype != SOCK_STREAM)
		return fail(r, "protocol '%s' needs socket type stream", r->protocol);
	if (r->proto == INETD_PROTO_UDP && r->socktype != SOCK_DGRAM)
		return fail(r, "protocol '%s' needs socket type dgram", r->protocol);

	wait = w->v[k + 2];
	dot = strchr(wait, '.');
	wait_len = dot ? (size_t)(dot - wait) : strlen(wait);
	if (wait_len == 4 && strncmp(wait, "wait", 4) == 0)
		r->wait = true;
	else if (wait_len == 6 && strncmp(wait, "nowait", 6) == 0)
		r->wait = false;
	else
		return fail(r, "expected wait or nowait[.max], not '%s'", wait);
	if (dot) {
		long max = parse_count(dot + 1, strlen(dot + 1), INT_MAX);

		if (max < 0)
			return fail(r, "invalid count '%s' after '%.*s.' (1 to %d)", dot + 1,
				    (int)wait_len, wait, INT_MAX);
		r->max = (unsigned)max;
	}

	user = w->v[k + 3];
	sep = strchr(user, ':');
	if (!sep)
		sep = strchr(user, '.');
	r->user = sep ? strndup(user, (size_t)(sep - user)) : strdup(user);
	if (!r->user)
		return -ENOMEM;
	if (sep) {
		r->group = strdup(sep + 1);
		if (!r->group)
			return -ENOMEM;
	}
	if (!*r->user || (r->group && !*r->group))
		return fail(r, "invalid user '%s' (user, user:group or user.group)", user);

	server = w->v[k + 4];
	if (strcmp(server, "internal") == 0) {
		bool known = false;

		if (r->proto == INETD_PROTO_UNIX)
			return fail(r, "internal services need tcp or udp, not unix");
		for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
			if (strcmp(builtins[i], r->service) == 0)
				known = true;
		if (!known)
			return fail(r, "no internal service '%s' (echo, discard, chargen, "
				    "daytime or time)", r->service);
		/* inetd ignores the wait field and anything after "internal". */
		r->internal = true;
		return 0;
	}
	if (server[0] != '/')
		return fail(r, "server program '%s' is not an absolute path", server);
	r->server = strdup(server);
	if (!r->server)
		return -ENOMEM;
	if (nf - 5 > INETD_ARGV_MAX)
		return fail(r, "more than %d arguments", INETD_ARGV_MAX);
	if (nf == 5)
		return strv_push(&r->argv, strrchr(server, '/') + 1);
	for (size_t i = k + 5; i < w->n; i++)
		if (strv_push(&r->argv, w->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* A bare "addr:" line: the default address of the lines after it. */
static int
set_default(struct parser *p, const char *field, unsigned line)
{
	struct inetd_rec scratch = { 0 };
	struct strv hosts = { 0 };
	int rc = parse_hosts(&scratch, field, strlen(field) - 1, &hosts);

	if (rc < 0)
		goto out;
	if (rc > 0) {
		struct inetd_rec *r = new_rec(p, line, false);

		if (!r) {
			rc = -ENOMEM;
			goto out;
		}
		r->reason = scratch.reason;
		scratch.reason = NULL;
		r->text = strdup(field);
		rc = r->text ? 0 : -ENOMEM;
		p->default_bad_line = line;
		goto out;
	}
	strv_free(&p->default_hosts);
	p->default_hosts = hosts;
	hosts = (struct strv){ 0 };
	p->default_bad_line = 0;
out:
	free(scratch.reason);
	strv_free(&hosts);
	return rc;
}

static int
flush_entry(struct parser *p)
{
	struct strv w = { 0 };
	struct inetd_rec *r;
	int rc;

	if (!p->have_entry)
		return 0;
	p->have_entry = false;
	rc = textconf_words(p->entry, p->entry_len, &w);
	if (rc < 0)
		goto out;
	if (w.n == 0)           /* "#<off>#" alone */
		goto out;
	if (w.n == 1 && w.v[0][strlen(w.v[0]) - 1] == ':') {
		/* A disabled "addr:" line changes nothing. */
		if (!p->entry_disabled)
			rc = set_default(p, w.v[0], p->entry_line);
		goto out;
	}
	r = new_rec(p, p->entry_line, p->entry_disabled);
	if (!r) {
		rc = -ENOMEM;
		goto out;
	}
	r->text = strndup(p->entry, p->entry_len);
	if (!r->text) {
		rc = -ENOMEM;
		goto out;
	}
	if (p->entry_too_long)
		rc = fail(r, "entry longer than %d bytes", TEXTCONF_LINE_MAX);
	else
		rc = parse_fields(p, r, &w);
out:
	strv_free(&w);
	return rc;
}

static int
start_entry(struct parser *p, const char *text, size_t len, unsigned line, bool disabled)
{
	int rc = flush_entry(p);

	if (rc < 0)
		return rc;
	p->entry_len = 0;
	p->entry_line = line;
	p->entry_disabled = disabled;
	p->entry_too_long = false;
	p->have_entry = true;
	memcpy(p->entry, text, len);
	p->entry_len = len;
	return 0;
}

/* The entry buffer holds at most TEXTCONF_LINE_MAX bytes; a longer
 * entry is remembered as too long, not grown. */
static void
continue_entry(struct parser *p, const char *text, size_t len)
{
	if (p->entry_len + 1 + len > TEXTCONF_LINE_MAX) {
		p->entry_too_long = true;
		return;
	}
	p->entry[p->entry_len++] = ' ';
	memcpy(p->entry + p->entry_len, text, len);
	p->entry_len += len;
}

static bool
blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static int
parse_lines(struct parser *p, const char *text, size_t len)
{
	struct textconf_line l;
	size_t pos = 0;
	unsigned no = 0;
	int rc;

	while (textconf_next_line(text, len, &pos, &no, &l)) {
		size_t i = 0;
		bool off = l.len >= strlen(OFF_MARK) &&
			   memcmp(l.text, OFF_MARK, strlen(OFF_MARK)) == 0;

		while (i < l.len && blank(l.text[i]))
			i++;
		/* Comments are not read further, whatever bytes they hold. */
		if (!off && i < l.len && l.text[i] == '#') {
			if ((rc = flush_entry(p)) < 0)
				return rc;
			continue;
		}
		if (l.bad) {
			struct inetd_rec *r;

			if ((rc = flush_entry(p)) < 0)
				return rc;
			r = new_rec(p, l.no, off);
			if (!r)
				return -ENOMEM;
			r->reason = strdup(l.bad);
			if (!r->reason)
				return -ENOMEM;
			continue;
		}
		if (off) {
			size_t j = strlen(OFF_MARK);

			while (j < l.len && blank(l.text[j]))
				j++;
			/* "#<off># # note" is a comment that was disabled too. */
			if (j < l.len && l.text[j] == '#')
				rc = flush_entry(p);
			else
				rc = start_entry(p, l.text + j, l.len - j, l.no, true);
		} else if (i == l.len) {
			rc = flush_entry(p);
		} else if (i > 0 && p->have_entry) {
			continue_entry(p, l.text + i, l.len - i);
			rc = 0;
		} else {
			rc = start_entry(p, l.text + i, l.len - i, l.no, false);
		}
		if (rc < 0)
			return rc;
	}
	return flush_entry(p);
}

int
inetd_parse(struct inetd_conf *c, const char *file, const char *text, size_t len)
{
	struct parser p = { .c = c };
	int rc;

	memset(c, 0, sizeof(*c));
	if (len > TEXTCONF_FILE_MAX)
		return -EFBIG;
	c->file = strdup(file);
	p.entry = malloc(TEXTCONF_LINE_MAX + 1);
	if (!c->file || !p.entry || strv_push(&p.default_hosts, "*") < 0) {
		rc = -ENOMEM;
		goto out;
	}
	rc = parse_lines(&p, text, len);
out:
	free(p.entry);
	strv_free(&p.default_hosts);
	if (rc < 0)
		inetd_conf_free(c);
	return rc;
}

int
inetd_lookup_services(const char *name, const char *proto, void *ctx)
{
	struct servent se, *res = NULL;
	char buf[4096];

	(void)ctx;
	if (getservbyname_r(name, proto, &se, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	if (ntohs((uint16_t)res->s_port) == 0)
		return -ENOENT;
	return ntohs((uint16_t)res->s_port);
}

int
inetd_resolve(struct inetd_conf *c, inetd_lookup_fn *lookup, void *ctx)
{
	if (!lookup)
		lookup = inetd_lookup_services;
	for (size_t i = 0; i < c->n; i++) {
		struct inetd_rec *r = &c->recs[i];
		const char *proto = r->proto == INETD_PROTO_TCP ? "tcp" : "udp";
		int port;

		if (r->reason || r->proto == INETD_PROTO_UNIX || r->port)
			continue;
		port = lookup(r->service, proto, ctx);
		if (port < 1 || port > 65535) {
			if (fail(r, "unknown service '%s/%s' (not in /etc/services)",
				 r->service, proto) < 0)
				return -ENOMEM;
			continue;
		}
		r->port = (uint16_t)port;
	}
	return 0;
}

void
inetd_conf_free(struct inetd_conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct inetd_rec *r = &c->recs[i];

		free(r->text);
		free(r->reason);
		free(r->service);
		strv_free(&r->hosts);
		free(r->protocol);
		free(r->user);
		free(r->group);
		free(r->server);
		strv_free(&r->argv);
	}
	free(c->recs);
	free(c->file);
	memset(c, 0, sizeof(*c));
}

const char *
inetd_socktype_name(int socktype)
{
	switch (socktype) {
	case SOCK_STREAM:
		return "stream";
	case SOCK_DGRAM:
		return "dgram";
	case SOCK_SEQPACKET:
		return "seqpacket";
	}
	return "?";
}
