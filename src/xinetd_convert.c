/*
 * xinetd services (xinetd_parse.c's entries) into native endpoints. Pure:
 * the result, its comments and its warnings go into a struct conv_out.
 *
 * What does not translate is never dropped silently: it is named in a
 * comment with the file:line it was written on. Where the difference would
 * let in more than xinetd did (a no_access host name sockd cannot match),
 * the endpoint is written commented out instead.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acl.h"
#include "convert.h"
#include "xinetd_parse.h"

#define EXEC_INSTANCES_MAX 1000000      /* exec's instances */
#define PER_SOURCE_MAX 1000000          /* max_per_source */
#define RATE_MAX 1000000                /* rate, burst */

struct xc {
	struct conv_out *o;
	const struct xinetd_entry *e;
	struct conv_ep *ep;
	bool exec;
	bool internal;
	bool wait;              /* handoff "wait": the program takes the clients */
};

static void __attribute__((format(printf, 3, 4)))
comment(struct xc *x, struct xinetd_where w, const char *fmt, ...)
{
	char *msg;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0) {
		va_end(ap);
		x->o->nomem = true;
		return;
	}
	va_end(ap);
	if (w.file)
		conv_printf(x->o, &x->ep->comments, "%s:%u: %s", w.file, w.line, msg);
	else
		conv_printf(x->o, &x->ep->comments, "%s:%u: %s", x->e->file, x->e->line, msg);
	free(msg);
}

static struct xinetd_where
at(const struct xinetd_entry *e, const char *attr)
{
	return xinetd_where(e, attr);
}

/* The values as written, one space apart; *out NULL when out of memory. */
static void
join(struct conv_out *o, const struct strv *v, char **out)
{
	size_t len = 0;
	FILE *f = open_memstream(out, &len);

	if (!f) {
		o->nomem = true;
		*out = NULL;
		return;
	}
	for (size_t i = 0; i < v->n; i++)
		fprintf(f, "%s%s", i ? " " : "", v->v[i]);
	if (fclose(f) != 0) {
		o->nomem = true;
		free(*out);
		*out = NULL;
	}
}

/* ------------------------------------------------------------ addresses */

/* A rule text checked and made canonical by acl.c; false when acl.c
 * refuses it. */
static bool
push_rule(struct conv_out *o, struct strv *out, const char *text)
{
	struct acl_rule rule;
	const char *why;
	char buf[64];

	if (acl_rule_parse(text, &rule, &why) < 0)
		return false;
	acl_rule_format(&rule, buf, sizeof(buf));
	if (!strv_contains(out, buf) && strv_push(out, buf) < 0)
		o->nomem = true;
	return true;
}

/* An IPv4 address of four numbers where trailing zeros are wildcards. */
static bool
push_ipv4(struct conv_out *o, struct strv *out, const char *a)
{
	struct in_addr in;
	unsigned prefix = 32;
	uint32_t h;
	char buf[32];

	if (inet_pton(AF_INET, a, &in) != 1)
		return false;
	h = ntohl(in.s_addr);
	if (h == 0) {
		/* 0.0.0.0 matches every address, IPv6 ones too. */
		return push_rule(o, out, "0.0.0.0/0") && push_rule(o, out, "::/0");
	}
	while (prefix > 0 && (h & 0xffu) == 0) {
		h >>= 8;
		prefix -= 8;
	}
	snprintf(buf, sizeof(buf), "%s/%u", a, prefix);
	return push_rule(o, out, buf);
}

/* "addr/bits": acl.c refuses host bits beyond the prefix as a typo;
 * xinetd masks them away, and so does this. */
static int
push_prefix(struct conv_out *o, struct strv *out, const char *a)
{
	const char *slash = strchr(a, '/');
	int fam = strchr(a, ':') ? AF_INET6 : AF_INET;
	unsigned max = fam == AF_INET ? 32 : 128, bits;
	char host[INET6_ADDRSTRLEN + 8], buf[INET6_ADDRSTRLEN + 16];
	uint8_t addr[16];
	char *end;

	if (push_rule(o, out, a))
		return 1;
	if ((size_t)(slash - a) >= sizeof(host) || slash[1] < '0' || slash[1] > '9')
		return 0;
	snprintf(host, sizeof(host), "%.*s", (int)(slash - a), a);
	bits = (unsigned)strtoul(slash + 1, &end, 10);
	if (*end || bits > max || inet_pton(fam, host, addr) != 1)
		return 0;
	for (unsigned i = bits; i < max; i++)
		addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
	inet_ntop(fam, addr, host, sizeof(host));
	snprintf(buf, sizeof(buf), "%s/%u", host, bits);
	return push_rule(o, out, buf);
}

/* xinetd's address forms (xinetd.conf(5), only_from): 1 when translated
 * into rules, 0 when sockd cannot match it (a host or domain name). */
static int
xaddr(struct conv_out *o, const char *a, struct strv *out)
{
	const char *brace = strchr(a, '{');

	if (strcmp(a, "0") == 0)
		return push_ipv4(o, out, "0.0.0.0");
	if (brace) {
		/* "128.138.{10,11,12}": the last component factorised. */
		size_t plen = (size_t)(brace - a);
		const char *end = strchr(brace, '}');
		const char *p = brace + 1;
		int ok = 1;

		if (!end || end[1] != '\0' || plen == 0 || a[plen - 1] != '.')
			return 0;
		while (ok && p < end) {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			size_t n = (size_t)((comma ? comma : end) - p);
			char buf[64];

			if (n == 0 || plen + n >= sizeof(buf))
				return 0;
			snprintf(buf, sizeof(buf), "%.*s%.*s", (int)plen, a, (int)n, p);
			/* Each element is a whole address (no wildcard zeros). */
			ok = push_rule(o, out, buf);
			p += n + 1;
		}
		return ok;
	}
	if (strchr(a, '/'))
		return push_prefix(o, out, a);
	if (strchr(a, ':'))
		return push_rule(o, out, a);
	return push_ipv4(o, out, a);
}

/* only_from -> allow, no_access -> deny. Both decide the same way in
 * xinetd and sockd: the most specific match wins. */
static void
access_rules(struct xc *x)
{
	const struct xinetd_entry *e = x->e;
	struct strv allow = { 0 }, deny = { 0 };
	bool only_from_dropped = false;

	/* The program reads the clients off the socket: sockd never sees
	 * them to check (xinetd checked the one that woke the program). */
	if (x->wait && (e->has_only_from || e->no_access.n)) {
		comment(x, at(e, e->has_only_from ? "only_from" : "no_access"), "%s: not "
		    "translated: with handoff \"wait\" the program takes the clients, sockd "
		    "cannot check them; left commented out (a firewall rule can take its place)",
		    e->has_only_from ? "only_from" : "no_access");
		x->ep->off = true;
		return;
	}

	for (size_t i = 0; i < e->only_from.n; i++) {
		if (xaddr(x->o, e->only_from.v[i], &allow) == 0) {
			comment(x, at(e, "only_from"), "only_from %s: not translated: not an address or "
			    "prefix (sockd does not match host names); clients from it are refused", e->only_from.v[i]);
			only_from_dropped = true;
		}
	}
	for (size_t i = 0; i < e->no_access.n; i++) {
		if (xaddr(x->o, e->no_access.v[i], &deny) == 0) {
			comment(x, at(e, "no_access"), "no_access %s: not translated: not an address or "
			    "prefix (sockd does not match host names); left commented out, since "
			    "sockd would let it in",
			    e->no_access.v[i]);
			x->ep->off = true;
		}
	}
	/* An empty only_from lets nobody in; an empty allow list in sockd
	 * lets everybody in, so say it with deny. */
	if (e->has_only_from && allow.n == 0) {
		if (!only_from_dropped)
			comment(x, at(e, "only_from"), "only_from is empty: nobody is let in");
		strv_free(&deny);
		if (strv_push(&deny, "0.0.0.0/0") < 0 || strv_push(&deny, "::/0") < 0)
			x->o->nomem = true;
	}
	if (allow.n)
		conv_add_strings(x->o, &x->ep->g, "allow", allow.v, allow.n);
	if (deny.n)
		conv_add_strings(x->o, &x->ep->g, "deny", deny.v, deny.n);
	strv_free(&allow);
	strv_free(&deny);
}

/* ------------------------------------------------------------ listen */

static void
listen_address(struct xc *x)
{
	const struct xinetd_entry *e = x->e;
	const char *host = e->bind;
	char *addr;
	struct cval *a;

	/* Without IPv4, Debian's xinetd binds one IPv6 socket that takes
	 * IPv4 too (v6only = no): sockd's [::] with v6only false. */
	if (!host)
		host = e->flags & XINETD_FLAG_IPV4 && !(e->flags & XINETD_FLAG_IPV6) ?
		    "0.0.0.0" : "::";
	addr = conv_ip_address(e->protocol, host, e->port);
	if (!addr) {
		x->o->nomem = true;
		return;
	}
	a = conv_add(x->o, &x->ep->g, CVAL_ARRAY, "listen");
	if (a)
		conv_add_string(x->o, a, NULL, addr);
	free(addr);
	if (e->bind && (e->flags & (XINETD_FLAG_IPV4 | XINETD_FLAG_IPV6)))
		comment(x, at(e, "flags"), "flags IPv4/IPv6: the family of bind = %s is used",
		    e->bind);
}

/* ------------------------------------------------------------ the program */

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* false: the endpoint cannot run as xinetd ran it (it is then written
 * commented out, with the reason). */
static bool
program(struct xc *x)
{
	const struct xinetd_entry *e = x->e;
	struct strv cmd = { 0 };
	const char *argv0 = NULL;
	bool ok = true;

	if (strv_push(&cmd, e->server) < 0)
		x->o->nomem = true;
	if (e->flags & XINETD_FLAG_NAMEINARGS) {
		argv0 = e->server_args.v[0];
		for (size_t i = 1; i < e->server_args.n; i++)
			if (strv_push(&cmd, e->server_args.v[i]) < 0)
				x->o->nomem = true;
	} else {
		for (size_t i = 0; i < e->server_args.n; i++)
			if (strv_push(&cmd, e->server_args.v[i]) < 0)
				x->o->nomem = true;
	}
	conv_add_strings(x->o, &x->ep->g, "command", cmd.v, cmd.n);
	strv_free(&cmd);

	/* argv[0] matters to programs such as tcpd, which finds the daemon
	 * to run from it. */
	if (argv0 && strcmp(argv0, e->server) != 0) {
		if (conv_has_exec_key("argv0")) {
			conv_add_string(x->o, &x->ep->g, "argv0", argv0);
		} else if (strcmp(argv0, base_name(e->server)) != 0) {
			comment(x, at(e, "flags"), "NAMEINARGS: argv[0] '%s' differs from the "
			    "program, and this sockd cannot set argv[0]", argv0);
			ok = false;
		}
	}

	if (e->wait == 1 || e->socktype == SOCK_DGRAM) {
		if (!conv_has_exec_key("handoff")) {
			comment(x, at(e, e->wait == 1 ? "wait" : "socket_type"),
			    "%s: this sockd has no exec handoff \"wait\" to hand the program "
			    "its socket", e->wait == 1 ? "wait = yes" : "socket_type = dgram");
			ok = false;
		} else {
			conv_add_string(x->o, &x->ep->g, "handoff", "wait");
			x->wait = true;
			if (e->wait != 1)
				comment(x, at(e, "wait"), "wait = no on a datagram service: sockd "
				    "hands the program the socket (handoff \"wait\"), so datagrams "
				    "are served one program at a time");
		}
	}

	if (e->user) {
		char *u = NULL;

		if (e->group ? asprintf(&u, "%s:%s", e->user, e->group) < 0 :
		    !(u = strdup(e->user)))
			x->o->nomem = true;
		else
			conv_add_string(x->o, &x->ep->g, "user", u);
		free(u);
	} else if (e->group) {
		comment(x, at(e, "group"), "group = %s without user: not translated (sockd "
		    "switches the group with the user: user = \"name:group\")", e->group);
	}

	if (x->wait && e->instances > 1)
		comment(x, at(e, "instances"), "instances = %ld: not translated: with handoff "
		    "\"wait\" one program holds the socket at a time", e->instances);
	else if (e->instances >= 1 && e->instances <= EXEC_INSTANCES_MAX)
		conv_add_int(x->o, &x->ep->g, "instances", e->instances);
	else if (e->instances >= 0)
		comment(x, at(e, "instances"), "instances = %ld: not translated (1 to %d)",
		    e->instances, EXEC_INSTANCES_MAX);
	return ok;
}

/* env, and passenv. A program sockd starts gets sockd's variables (PROTO,
 * TCPREMOTEIP..., a default PATH) and env, never sockd's own
 * environment: what passenv passed has to be written out. */
static void
environment(struct xc *x)
{
	const struct xinetd_entry *e = x->e;
	struct strv env = { 0 };

	for (size_t i = 0; i < e->env.n; i++) {
		const char *v = e->env.v[i];
		size_t n = strcspn(v, "=");
		bool valid = n > 0 && !(v[0] >= '0' && v[0] <= '9');
		bool twice = false;

		for (size_t j = 0; j < n; j++)
			valid &= (v[j] >= 'A' && v[j] <= 'Z') || (v[j] >= 'a' && v[j] <= 'z') ||
			    (v[j] >= '0' && v[j] <= '9') || v[j] == '_';
		for (size_t j = 0; j < env.n; j++)
			twice |= strncmp(env.v[j], v, n + 1) == 0;
		if (!valid)
			comment(x, at(e, "env"), "env %s: not translated (a name of letters, "
			    "digits and '_')", v);
		else if (twice)
			comment(x, at(e, "env"), "env %s: not translated: set before, and a "
			    "program sees the first", v);
		else if (strv_push(&env, v) < 0)
			x->o->nomem = true;
	}
	if (env.n)
		conv_add_strings(x->o, &x->ep->g, "env", env.v, env.n);
	strv_free(&env);

	for (size_t i = 0; i < e->passenv.n; i++) {
		const char *n = e->passenv.v[i];

		if (strcmp(n, "PATH") == 0)
			comment(x, at(e, "passenv"), "passenv PATH: sockd gives programs a default "
			    "PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin); "
			    "set env = [ \"PATH=...\" ] for another");
		else
			comment(x, at(e, "passenv"), "passenv %s: not translated: sockd does not "
			    "pass its own environment on; write env = [ \"%s=value\" ]", n, n);
	}
}

/* ------------------------------------------------------------ the rest */

static void
log_flags(struct xc *x, const char *attr, unsigned mask)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ XINETD_LOG_PID, "PID" }, { XINETD_LOG_HOST, "HOST" },
		{ XINETD_LOG_USERID, "USERID" }, { XINETD_LOG_EXIT, "EXIT" },
		{ XINETD_LOG_DURATION, "DURATION" }, { XINETD_LOG_TRAFFIC, "TRAFFIC" },
		{ XINETD_LOG_ATTEMPT, "ATTEMPT" },
	};
	char buf[128] = "";
	size_t n = 0;
	struct xinetd_where w = at(x->e, attr);

	if (!w.file && mask == 0)
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && n < sizeof(buf); i++)
		if (mask & names[i].bit)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s", names[i].name);
	comment(x, w, "%s =%s: not translated: sockd logs each connection (endpoint, "
	    "peer, bytes, a program's exit status) at log_level info or debug", attr,
	    buf[0] ? buf : " (nothing)");
}

static void
limits(struct xc *x)
{
	const struct xinetd_entry *e = x->e;

	if (x->wait) {
		if (e->per_source >= 0)
			comment(x, at(e, "per_source"), "per_source = %ld: not translated: with "
			    "handoff \"wait\" the program takes the clients", e->per_source);
		if (e->has_cps)
			comment(x, at(e, "cps"), "cps = %u %u: not translated: with handoff "
			    "\"wait\" the program takes the clients", e->cps_max, e->cps_wait);
		return;
	}

	if (e->per_source >= 1 && e->per_source <= PER_SOURCE_MAX)
		conv_add_int(x->o, &x->ep->g, "max_per_source", e->per_source);
	else if (e->per_source >= 0)
		comment(x, at(e, "per_source"), "per_source = %ld: not translated (1 to %d)",
		    e->per_source, PER_SOURCE_MAX);
	if (!x->exec && e->instances >= 1 && e->instances <= 10000000)
		conv_add_int(x->o, &x->ep->g, "max_connections", e->instances);
	else if (!x->exec && e->instances >= 0)
		comment(x, at(e, "instances"), "instances = %ld: not translated", e->instances);
	if (e->has_cps) {
		if (e->cps_max >= 1 && e->cps_max <= RATE_MAX) {
			conv_add_float(x->o, &x->ep->g, "rate", (double)e->cps_max);
			conv_add_int(x->o, &x->ep->g, "burst", e->cps_max);
			comment(x, at(e, "cps"), "cps = %u %u: rate %u a second; past it sockd "
			    "leaves clients waiting in the backlog instead of closing the service "
			    "for %u s", e->cps_max, e->cps_wait, e->cps_max, e->cps_wait);
		} else {
			comment(x, at(e, "cps"), "cps = %u %u: not translated (1 to %d a second)",
			    e->cps_max, e->cps_wait, RATE_MAX);
		}
	}
}

static bool
yes_no(const struct xinetd_attr *a, bool *v)
{
	if (a->op != XINETD_SET || a->values.n != 1)
		return false;
	if (strcmp(a->values.v[0], "yes") == 0)
		*v = true;
	else if (strcmp(a->values.v[0], "no") == 0)
		*v = false;
	else
		return false;
	return true;
}

/* Whether the xinetd attribute name was translated into the group already. */
static bool
member_set(struct xc *x, const char *name)
{
	const char *key = strcmp(name, "v6only") == 0 || strcmp(name, "nice") == 0 ||
	    strcmp(name, "umask") == 0 ? name : NULL;
	const struct cval *rl = cval_member(&x->ep->g, "rlimit");

	if (key)
		return cval_member(&x->ep->g, key) != NULL;
	if (strncmp(name, "rlimit_", 7) != 0 || !rl)
		return false;
	name += 7;
	return cval_member(rl, strcmp(name, "files") == 0 ? "nofile" : name) != NULL;
}

/* xinetd's rlimit_* value: UNLIMITED, or a number, with K or M for the
 * sizes. -1: not one. */
static long long
rlimit_value(const char *v, bool size)
{
	unsigned long long n = 0, mult = 1;
	const char *p = v;

	if (strcmp(v, "UNLIMITED") == 0)
		return -2;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (unsigned long long)(*p - '0');
		if (n > (1ULL << 40))
			return -1;
	}
	if (p == v)
		return -1;
	if (size && (*p == 'K' || *p == 'k'))
		mult = 1024, p++;
	else if (size && (*p == 'M' || *p == 'm'))
		mult = 1024 * 1024, p++;
	return *p ? -1 : (long long)(n * mult);
}

/* rlimit_as = 64M -> rlimit = { as = 67108864; }: true when taken. */
static bool
rlimit(struct xc *x, size_t *at, const struct xinetd_attr *a)
{
	static const struct {
		const char *xinetd, *sockd;
		bool size;
	} map[] = {
		{ "rlimit_as", "as", true }, { "rlimit_cpu", "cpu", false },
		{ "rlimit_data", "data", true }, { "rlimit_stack", "stack", true },
		{ "rlimit_files", "nofile", false },
	};
	struct cval *group;
	long long v;
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(a->name, map[i].xinetd) == 0)
			break;
	if (i == sizeof(map) / sizeof(map[0]) || !x->exec || a->values.n != 1 ||
	    a->op != XINETD_SET || (v = rlimit_value(a->values.v[0], map[i].size)) == -1)
		return false;
	/* By index: adding other members moves the group. */
	if (*at == SIZE_MAX) {
		if (!conv_add(x->o, &x->ep->g, CVAL_GROUP, "rlimit"))
			return true;
		*at = x->ep->g.n - 1;
	}
	group = &x->ep->g.elems[*at];
	for (size_t j = 0; j < group->n; j++)
		if (strcmp(group->elems[j].name, map[i].sockd) == 0)
			return false;   /* given twice: the comment says so */
	if (v == -2)
		conv_add_string(x->o, group, map[i].sockd, "unlimited");
	else
		conv_add_int(x->o, group, map[i].sockd, v);
	return true;
}

/* Attributes the parser kept as written: the few with a sockd key, and a
 * comment for each of the others. */
static void
extras(struct xc *x)
{
	const struct xinetd_entry *e = x->e;
	size_t limits = SIZE_MAX;       /* where the rlimit group is, once there is one */

	for (size_t i = 0; i < e->n_extra; i++) {
		const struct xinetd_attr *a = &e->extra[i];
		struct xinetd_where w = { e->file, a->line };
		char *vals = NULL;
		bool b;

		/* xinetd takes an attribute's first line and ignores the
		 * others (the parser keeps them all for these). */
		if (member_set(x, a->name)) {
			join(x->o, &a->values, &vals);
			comment(x, w, "%s %s %s: given before; ignored, as xinetd does", a->name,
			    xinetd_op_name(a->op), vals ? vals : "");
			free(vals);
			continue;
		}
		if (strcmp(a->name, "v6only") == 0 && yes_no(a, &b)) {
			conv_add_bool(x->o, &x->ep->g, "v6only", b);
			continue;
		}
		if (rlimit(x, &limits, a))
			continue;
		if (strcmp(a->name, "umask") == 0 && x->exec && a->values.n == 1 &&
		    strlen(a->values.v[0]) <= 4 &&
		    strspn(a->values.v[0], "01234567") == strlen(a->values.v[0])) {
			conv_add_string(x->o, &x->ep->g, "umask", a->values.v[0]);
			continue;
		}
		if (strcmp(a->name, "nice") == 0 && x->exec && a->values.n == 1) {
			char *end;
			long n = strtol(a->values.v[0], &end, 10);

			if (*end == '\0' && n >= -20 && n <= 19) {
				conv_add_int(x->o, &x->ep->g, "nice", n);
				continue;
			}
		}
		if (strcmp(a->name, "flags") == 0) {
			/* NODELAY and KEEPALIVE are socket options sockd has;
			 * the rest (REUSE, IPv4, ...) were read above or mean
			 * nothing to sockd. */
			for (size_t j = 0; j < a->values.n; j++) {
				const char *f = a->values.v[j];
				const char *key = strcmp(f, "NODELAY") == 0 ? "nodelay" :
				    strcmp(f, "KEEPALIVE") == 0 ? "keepalive" : NULL;

				if (key && conv_has_endpoint_key(key) && !cval_member(&x->ep->g, key)) {
					conv_add_bool(x->o, &x->ep->g, key, true);
				} else {
					comment(x, w, "flags %s: not translated", f);
				}
			}
			continue;
		}
		join(x->o, &a->values, &vals);
		comment(x, w, "%s %s %s: not translated%s", a->name, xinetd_op_name(a->op),
		    vals ? vals : "", a->known ? "" : " (not an xinetd attribute either: "
		    "xinetd ignores it)");
		free(vals);
	}
}

static bool
service_key(struct xc *x)
{
	const struct xinetd_entry *e = x->e;

	if (e->type & XINETD_TYPE_INTERNAL) {
		x->internal = true;
		conv_add_string(x->o, &x->ep->g, "service", e->name);
		if (e->user || e->group)
			comment(x, at(e, e->user ? "user" : "group"), "user/group: not translated: "
			    "sockd serves its built-in services itself");
		if (e->server)
			comment(x, at(e, "server"), "server: not used by an INTERNAL service");
		return true;
	}
	if (e->redirect_host) {
		char *up = NULL;
		struct cval *a;
		char *end;
		unsigned long port = strtoul(e->redirect_port, &end, 10);

		conv_add_string(x->o, &x->ep->g, "service", "forward");
		if (e->user || e->server)
			comment(x, at(e, e->user ? "user" : "server"), "%s: not used by a redirect "
			    "(forward) service", e->user ? "user" : "server");
		if (*end || port < 1 || port > 65535) {
			comment(x, at(e, "redirect"), "redirect port '%s': not translated (give "
			    "the port number)", e->redirect_port);
			return false;
		}
		up = conv_ip_address("tcp", e->redirect_host, (unsigned)port);
		a = conv_add(x->o, &x->ep->g, CVAL_ARRAY, "upstream");
		if (!up)
			x->o->nomem = true;
		else if (a)
			conv_add_string(x->o, a, NULL, up);
		free(up);
		return true;
	}
	x->exec = true;
	conv_add_string(x->o, &x->ep->g, "service", "exec");
	return program(x);
}

static void
one_service(struct conv_out *o, const struct xinetd_entry *e)
{
	struct xc x = { .o = o, .e = e };
	char *name;
	bool ok;

	if (e->reason) {
		conv_printf(o, &o->head, "%s:%u: service %s: not converted: %s", e->file,
		    e->reason_line ? e->reason_line : e->line, e->name ? e->name : "?", e->reason);
		if (!e->disabled)
			conv_printf(o, &o->warnings, "%s:%u: service %s: %s, skipped", e->file,
			    e->reason_line ? e->reason_line : e->line, e->name ? e->name : "?",
			    e->reason);
		o->skipped++;
		return;
	}
	x.ep = conv_new_ep(o);
	if (!x.ep)
		return;
	conv_printf(o, &x.ep->comments, "%s:%u: service %s", e->file, e->line, e->name);
	name = conv_unique_name(o, e->id, e->protocol);
	if (!name)
		return;
	conv_add_string(o, &x.ep->g, "name", name);
	free(name);
	listen_address(&x);
	ok = service_key(&x);
	access_rules(&x);
	limits(&x);
	if (x.exec)
		environment(&x);
	log_flags(&x, "log_on_success", e->log_on_success);
	log_flags(&x, "log_on_failure", e->log_on_failure);
	extras(&x);
	for (size_t i = 0; i < e->n_notes; i++)
		conv_printf(o, &x.ep->comments, "%s:%u: %s", e->file, e->notes[i].line,
		    e->notes[i].msg);
	if (!ok)
		x.ep->off = true;
	if (e->disabled) {
		comment(&x, at(e, "disable"), "disabled: written commented out");
		x.ep->off = true;
	}
	if (!x.ep->off)
		o->converted++;
	else if (!e->disabled)
		conv_printf(o, &o->warnings, "%s:%u: service %s cannot run as xinetd ran it: "
		    "written commented out", e->file, e->line, e->name);
}

void
xinetd_convert(const struct xinetd_conf *c, struct conv_out *o)
{
	for (size_t i = 0; i < c->n && !o->nomem; i++) {
		const struct xinetd_entry *e = &c->entries[i];

		switch (e->kind) {
		case XINETD_SERVICE:
			one_service(o, e);
			break;
		case XINETD_DEFAULTS:
			if (e->reason)
				conv_printf(o, &o->head, "%s:%u: defaults: %s", e->file,
				    e->reason_line ? e->reason_line : e->line, e->reason);
			for (size_t j = 0; j < e->n_extra; j++) {
				char *vals = NULL;

				join(o, &e->extra[j].values, &vals);
				conv_printf(o, &o->head, "%s:%u: defaults: %s %s %s: not translated",
				    e->file, e->extra[j].line, e->extra[j].name,
				    xinetd_op_name(e->extra[j].op), vals ? vals : "");
				free(vals);
			}
			for (size_t j = 0; j < e->n_notes; j++)
				conv_printf(o, &o->head, "%s:%u: defaults: %s", e->file,
				    e->notes[j].line, e->notes[j].msg);
			break;
		case XINETD_INCLUDE:
		case XINETD_INCLUDEDIR:
			if (e->reason)
				conv_printf(o, &o->head, "%s:%u: %s", e->file, e->line, e->reason);
			break;
		case XINETD_BAD:
			conv_printf(o, &o->head, "%s:%u: not converted: %s", e->file,
			    e->reason_line ? e->reason_line : e->line, e->reason ? e->reason : "?");
			conv_printf(o, &o->warnings, "%s:%u: %s, skipped", e->file,
			    e->reason_line ? e->reason_line : e->line, e->reason ? e->reason : "?");
			o->skipped++;
			break;
		}
	}
}
