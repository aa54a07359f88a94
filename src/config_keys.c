/*
 * The keys of daemon = { ... } (struct daemon_config) and the keys every
 * endpoint has whatever its service (struct endpoint): listen addresses,
 * socket files, limits, access rules, PROXY protocol. A service's own keys
 * are declared by the service (service->keys).
 *
 * The order of each table is the order of `sockd -nv`.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "acl.h"
#include "addr.h"
#include "config_source.h"
#include "proxy_proto.h"
#include "service.h"
#include "sockopt.h"
#include "tls_config.h"

#define WORKERS_MAX             1024
#define QUEUE_MAX               1048576
#define MAX_CONNECTIONS_MAX     10000000
#define SHUTDOWN_TIMEOUT_MAX    3600
#define BACKLOG_MAX             65535
#define TCP_KEEP_MAX            32767           /* the kernel's MAX_TCP_KEEPIDLE/KEEPINTVL */
#define TCP_KEEPCNT_MAX         127
#define SOCKBUF_MAX             1073741824      /* the kernel doubles it into an int */
#define EP_MAX_CONNECTIONS_MAX  10000000
#define MAX_PER_SOURCE_MAX      1000000
#define RATE_MAX                1000000
#define BURST_MAX               1000000
#define TIMEOUT_MAX             31536000        /* a year, in seconds */
#define SHORT_TIMEOUT_MIN       0.1             /* proxy_timeout */
#define SHORT_TIMEOUT_MAX       3600

#define D(field) offsetof(struct daemon_config, field)
#define E(field) offsetof(struct endpoint, field)

/* ------------------------------------------------------------ daemon */

static const struct key_choice log_level_choices[] = {
	{ "err", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
	{ "info", LOG_INFO }, { "debug", LOG_DEBUG }, { NULL, 0 },
};

static bool
set_include_dir(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	if (v->s[0] != '/') {
		key_error(c, v, "'include_dir' must be an absolute path");
		return false;
	}
	loader_of(c)->include_dir = v;
	return key_set_string(c, k, v, field);
}

static bool
set_control(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	const char *s = v->s;

	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	/* sun_path holds 107 bytes and a NUL. */
	if ((s[0] != '/' && s[0] != '@') || s[1] == '\0' || strlen(s) > 107) {
		key_error(c, v, "'control' must be an absolute path or @name of at most 107 bytes");
		return false;
	}
	return key_set_string(c, k, v, field);
}

/* Read again, the directory would add its endpoints twice: when they are
 * printed below, the key is a comment. */
static void
print_include_dir(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	const struct sockd_config *cfg = outer;
	const char *dir = *(char *const *)key_cfield(k, base);

	if (!dir)
		return;
	if (cfg->n_included > 0) {
		fprintf(f, "%s# ", indent);
		key_dump_key_string(f, "", k->name, dir);
		fprintf(f, "%s# (already read: its endpoints are printed below)\n", indent);
	} else {
		key_dump_key_string(f, indent, k->name, dir);
	}
}

/* As include_dir: once its endpoints are printed, the key is a comment. */
static void
print_inetd_path(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	const struct sockd_config *cfg = outer;
	const char *path = *(char *const *)key_cfield(k, base);

	if (!path)
		return;
	if (cfg->n_inetd > 0) {
		fprintf(f, "%s# ", indent);
		key_dump_key_string(f, "", k->name, path);
		fprintf(f, "%s# (already read: its services are printed below)\n", indent);
	} else {
		key_dump_key_string(f, indent, k->name, path);
	}
}

/* Three decimals, as always: goldens and scripts read it so. */
static void
print_shutdown_timeout(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	fprintf(f, "%s%s = %.3f;\n", indent, k->name, *(const double *)key_cfield(k, base));
}

static void
daemon_init(void *base)
{
	struct daemon_config *dc = base;

	dc->uid = (uid_t)-1;
	dc->gid = (gid_t)-1;
}

static const struct key daemon_key_table[] = {
	{ .name = "workers", .type = KEY_INTEGER, .set = key_set_uint, .print = key_print_uint,
	  .offset = D(workers), .min = 0, .max = WORKERS_MAX, .def = "0",
	  .doc = "worker threads; 0 = one per CPU sockd may run on" },
	{ .name = "queue", .type = KEY_INTEGER, .set = key_set_uint, .print = key_print_uint,
	  .offset = D(queue), .min = 1, .max = QUEUE_MAX, .def = "4096",
	  .doc = "capacity of the acceptor -> worker queue" },
	{ .name = "max_connections", .type = KEY_INTEGER, .set = key_set_uint, .print = key_print_uint,
	  .offset = D(max_connections), .min = 1, .max = MAX_CONNECTIONS_MAX, .def = "65536",
	  .doc = "open stream connections over all endpoints" },
	{ .name = "shutdown_timeout", .type = KEY_NUMBER, .set = key_set_double,
	  .print = print_shutdown_timeout, .offset = D(shutdown_timeout),
	  .min = 0, .max = SHUTDOWN_TIMEOUT_MAX, .def = "10",
	  .doc = "seconds open connections get to finish after SIGTERM" },
	{ .name = "log_level", .type = KEY_CHOICE, .set = key_set_choice, .print = key_print_choice,
	  .offset = D(log_level), .choices = log_level_choices, .def = "info",
	  .doc = "the least important messages logged" },
	{ .name = "user", .type = KEY_STRING, .set = key_set_string, .print = key_print_string,
	  .offset = D(user), .doc_def = "none", .release = key_release_string,
	  .doc = "drop to this user after binding, when started as root" },
	{ .name = "group", .type = KEY_STRING, .set = key_set_string, .print = key_print_string,
	  .offset = D(group), .doc_def = "the primary group of user", .release = key_release_string,
	  .doc = "and to this group" },
	{ .name = "include_dir", .type = KEY_STRING, .set = set_include_dir,
	  .print = print_include_dir, .offset = D(include_dir), .doc_def = "none",
	  .release = key_release_string,
	  .doc = "a directory of *.conf files that add endpoints" },
	{ .name = "inetd_conf", .type = KEY_STRING, .set = key_set_abs_path,
	  .print = print_inetd_path, .offset = D(inetd_conf), .doc_def = "none",
	  .release = key_release_string,
	  .doc = "an inetd.conf whose services sockd serves too (/etc/inetd.conf)" },
	{ .name = "inetd_dir", .type = KEY_STRING, .set = key_set_abs_path,
	  .print = print_inetd_path, .offset = D(inetd_dir), .doc_def = "none",
	  .release = key_release_string,
	  .doc = "a directory of inetd.conf files whose services sockd serves too" },
	{ .name = "control", .type = KEY_STRING, .set = set_control, .print = key_print_string,
	  .offset = D(control), .doc_def = "none", .release = key_release_string,
	  .doc = "the control socket of sockctl: /path or @name" },
	{ .name = NULL },
};

const struct key_set daemon_keys = {
	.section = "daemon",
	.keys = daemon_key_table,
	.size = sizeof(struct daemon_config),
	.init = daemon_init,
};

/* ------------------------------------------------------------ endpoints */

static struct ep_state *
state(struct key_ctx *c)
{
	return loader_of(c)->ep;
}

bool
config_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > NAME_MAX_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-' || *s == '/'))
			return false;
	return true;
}


static bool
set_name(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct loader *l = loader_of(c);
	struct endpoint *ep = l->ep->ep;
	size_t self = l->cfg->n_endpoints - 1, *first;    /* ep is the last one */

	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	if (!config_name_valid(v->s)) {
		key_error(c, v, "invalid endpoint name '%s' (1 to %d letters, digits, '_', '.', '-' or '/')",
		    v->s, NAME_MAX_LEN);
		return false;
	}
	/* A second name in one group (libconfig refuses that, a source
	 * building groups might not) gives up the first. */
	if (ep->name && (first = hmap_get(&l->names, ep->name, strlen(ep->name))) &&
	    *first == self)
		hmap_del(&l->names, ep->name, strlen(ep->name));
	first = hmap_get(&l->names, v->s, strlen(v->s));
	if (first) {
		const struct endpoint *o = l->cfg->endpoints[*first];

		key_error(c, v, "endpoint name '%s' is already used (%s:%d)",
		    v->s, o->file, o->line);
	}
	if (!key_set_string(c, k, v, field))
		return false;
	if (!first && hmap_add(&l->names, v->s, strlen(v->s), self) == -ENOMEM)
		c->nomem = true;
	return true;
}

/* The first key of an endpoint opens its group: "  { name = ...;". */
static void
print_name(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const char *name = *(char *const *)key_cfield(k, base);

	fputs("  {", f);
	key_dump_key_string(f, " ", k->name, name ? name : "");
}

static void
set_one_addr(struct key_ctx *c, struct ep_state *st, const struct cval *e)
{
	struct loader *l = loader_of(c);
	struct endpoint *ep = st->ep;
	const char *why = "?";
	struct seen_addr *sa;
	struct addr a;
	unsigned char key[ADDR_KEYLEN];
	size_t klen, *at;

	if (e->type != CVAL_STRING) {
		key_error(c, e, "'listen' must contain only strings");
		st->listen_bad = true;
		return;
	}
	if (addr_parse(e->s, &a, &why) < 0) {
		key_error(c, e, "invalid address '%s': %s", e->s, why);
		st->listen_bad = true;
		return;
	}
	ep->listen[ep->n_listen] = a;
	st->listen_at[ep->n_listen++] = e;

	/* No two addresses in addrs collide, so at most one can collide
	 * with a. */
	klen = loader_addr_key(&a, key);
	if (klen > 0 && (at = hmap_get(&l->addr_index, key, klen))) {
		sa = &l->addrs[*at];
		key_error(c, e, "address '%s' is already used by endpoint %s (%s:%d)",
		    e->s, sa->label, sa->file, sa->line);
		return;
	}
	if (l->n_addrs == l->cap_addrs) {
		size_t cap = l->cap_addrs ? 2 * l->cap_addrs : 16;

		sa = realloc(l->addrs, cap * sizeof(*sa));
		if (!sa) {
			c->nomem = true;
			return;
		}
		l->addrs = sa;
		l->cap_addrs = cap;
	}
	sa = &l->addrs[l->n_addrs++];
	sa->addr = a;
	snprintf(sa->label, sizeof(sa->label), "%s", st->label);
	sa->file = e->file ? e->file : c->path;
	sa->line = e->line;
	if (klen > 0 && hmap_add(&l->addr_index, key, klen, l->n_addrs - 1) == -ENOMEM)
		c->nomem = true;
}

static bool
set_listen(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct ep_state *st = state(c);
	struct endpoint *ep = st->ep;
	const struct cval *e;
	size_t n;

	if (!(e = key_seq(c, v, "address", &n))) {
		st->listen_bad = true;
		return false;
	}
	ep->listen = calloc(n, sizeof(*ep->listen));
	st->listen_at = calloc(n, sizeof(*st->listen_at));
	if (!ep->listen || !st->listen_at) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n && !c->nomem; i++)
		set_one_addr(c, st, &e[i]);
	return !st->listen_bad;
}

static void
print_addrs(FILE *f, const char *indent, const char *name, const struct addr *a, size_t n)
{
	char buf[ADDR_STRLEN];

	fprintf(f, "%s%s = [ ", indent, name);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		key_dump_string(f, addr_format(&a[i], buf, sizeof(buf)));
	}
	fputs(" ];\n", f);
}

static void
print_listen(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const struct endpoint *ep = base;

	print_addrs(f, indent, k->name, ep->listen, ep->n_listen);
}

static bool
set_service(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	char names[256] = "";

	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	/* loader_endpoint() has looked it up already, to know where the
	 * service's own keys go. */
	if (*(const struct service **)field)
		return true;
	for (const struct service *const *p = service_table; *p; p++) {
		if (p != service_table)
			strncat(names, ", ", sizeof(names) - strlen(names) - 1);
		strncat(names, (*p)->name, sizeof(names) - strlen(names) - 1);
	}
	key_error(c, v, "unknown service '%s' (%s)", v->s, names);
	return false;
}

static void
print_service(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const struct endpoint *ep = base;

	key_dump_key_string(f, indent, k->name, ep->service ? ep->service->name : "");
}

/* owner/group of a socket file; the text is kept as written for -nv. */
static bool
set_file_id(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct endpoint *ep = state(c)->ep;
	bool is_user = strcmp(k->name, "owner") == 0;
	char *text;
	id_t id;
	int r;

	r = key_resolve_id(c, v, k->name, is_user, &id, &text);
	if (r == 0)
		key_error(c, v, "'%s' must be a %s name or a number", k->name,
		    is_user ? "user" : "group");
	if (r <= 0)
		return false;
	if (is_user) {
		free(ep->owner_name);
		ep->owner = id;
		ep->owner_name = text;
	} else {
		free(ep->group_name);
		ep->group = id;
		ep->group_name = text;
	}
	return true;
}

static void
print_file_id(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const struct endpoint *ep = base;
	const char *s = strcmp(k->name, "owner") == 0 ? ep->owner_name : ep->group_name;

	if (s)
		key_dump_key_string(f, indent, k->name, s);
}

static void
release_file_id(const struct key *k, void *base)
{
	struct endpoint *ep = base;

	if (strcmp(k->name, "owner") == 0) {
		free(ep->owner_name);
		ep->owner_name = NULL;
	} else {
		free(ep->group_name);
		ep->group_name = NULL;
	}
}

/* allow_uid/allow_gid: one user (group) or a list of them. */
static bool
set_id_list(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct endpoint *ep = state(c)->ep;
	bool is_user = strcmp(k->name, "allow_uid") == 0;
	const char *what = k->name, *kind = is_user ? "user" : "group";
	const struct cval *e;
	char **names;
	id_t *ids;
	size_t n, j = 0;

	switch (v->type) {
	case CVAL_INT:
	case CVAL_STRING:
		e = v;
		n = 1;
		break;
	case CVAL_ARRAY:
	case CVAL_LIST:
		e = v->elems;
		n = v->n;
		if (n == 0) {
			key_error(c, v, "'%s' must have at least one %s", what, kind);
			return false;
		}
		break;
	default:
		key_error(c, v, "'%s' must be a %s name or a number, or a list of them", what, kind);
		return false;
	}
	ids = calloc(n, sizeof(*ids));
	names = calloc(n, sizeof(*names));
	if (!ids || !names) {
		free(ids);
		free(names);
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n && !c->nomem; i++) {
		int r = key_resolve_id(c, &e[i], what, is_user, &ids[j], &names[j]);

		if (r == 0)
			key_error(c, &e[i], "'%s' must contain only %s names or numbers", what, kind);
		if (r > 0)
			j++;
	}
	/* uid_t and gid_t are both id_t on Linux; the arrays are used as is. */
	if (is_user) {
		ep->allow_uid = ids;
		ep->allow_uid_names = names;
		ep->n_allow_uid = j;
	} else {
		ep->allow_gid = ids;
		ep->allow_gid_names = names;
		ep->n_allow_gid = j;
	}
	return true;
}

static void
print_id_list(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const struct endpoint *ep = base;

	if (strcmp(k->name, "allow_uid") == 0)
		key_dump_names(f, indent, k->name, ep->allow_uid_names, ep->n_allow_uid);
	else
		key_dump_names(f, indent, k->name, ep->allow_gid_names, ep->n_allow_gid);
}

static void
release_id_list(const struct key *k, void *base)
{
	struct endpoint *ep = base;
	bool uid = strcmp(k->name, "allow_uid") == 0;
	char ***names = uid ? &ep->allow_uid_names : &ep->allow_gid_names;
	size_t *n = uid ? &ep->n_allow_uid : &ep->n_allow_gid;

	for (size_t i = 0; i < *n; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*n = 0;
	if (uid) {
		free(ep->allow_uid);
		ep->allow_uid = NULL;
	} else {
		free(ep->allow_gid);
		ep->allow_gid = NULL;
	}
}

/* allow, deny, proxy_from: CIDR rules, kept in the endpoint's state until
 * all keys are read (allow and deny make one acl). */
static int
rules_index(const struct key *k)
{
	return strcmp(k->name, "allow") == 0 ? 0 : strcmp(k->name, "deny") == 0 ? 1 : 2;
}

static bool
set_rules(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct ep_state *st = state(c);
	int which = rules_index(k);
	const struct cval *e;
	struct acl_rule *rules;
	const char *why;
	size_t n, j = 0;

	if (!(e = key_seq(c, v, "rule", &n)))
		return false;
	rules = calloc(n, sizeof(*rules));
	if (!rules) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (e[i].type != CVAL_STRING) {
			key_error(c, &e[i], "'%s' must contain only strings", k->name);
			continue;
		}
		why = "?";
		if (acl_rule_parse(e[i].s, &rules[j], &why) < 0)
			key_error(c, &e[i], "invalid address rule '%s' in '%s': %s", e[i].s, k->name, why);
		else
			j++;
	}
	free(st->rules[which]);
	st->rules[which] = rules;
	st->n_rules[which] = j;
	return true;
}

static void
print_rules(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const struct acl *acl = *(struct acl *const *)key_cfield(k, base);
	const struct acl_rule *r;
	size_t n;

	if (!acl)
		return;
	r = acl_rules(acl, rules_index(k) != 1, &n);
	if (n == 0)
		return;
	fprintf(f, "%s%s = [ ", indent, k->name);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		key_dump_string(f, acl_rule_format(&r[i], buf, sizeof(buf)));
	}
	fputs(" ];\n", f);
}

static void
release_acl(const struct key *k, void *base)
{
	struct acl **acl = key_field(k, base);

	acl_free(*acl);
	*acl = NULL;
}

static bool
proxy_set(const void *base)
{
	return ((const struct endpoint *)base)->proxy_protocol != 0;
}

/* Keys of tcp and udp sockets: -nv prints them only for endpoints that
 * have such an address, since the printed file must load again. */
static bool
has_ip(const void *base)
{
	const struct endpoint *ep = base;

	for (size_t i = 0; i < ep->n_listen; i++)
		if (addr_family(&ep->listen[i]) != AF_UNIX)
			return true;
	return false;
}

/* TCP options: only on endpoints whose addresses are all tcp. */
static bool
all_tcp(const void *base)
{
	const struct endpoint *ep = base;

	for (size_t i = 0; i < ep->n_listen; i++)
		if (!addr_is_tcp(&ep->listen[i]))
			return false;
	return ep->n_listen > 0;
}

static const struct key_choice overload_choices[] = {
	{ "wait", OVERLOAD_WAIT }, { "reject", OVERLOAD_REJECT }, { NULL, 0 },
};
static const struct key_choice proxy_protocol_choices[] = {
	{ "v1", PROXY_V1 }, { "v2", PROXY_V2 }, { "any", PROXY_ANY }, { NULL, 0 },
};

static void
endpoint_init(void *base)
{
	struct endpoint *ep = base;

	ep->mode = -1;
	ep->owner = (uid_t)-1;
	ep->group = (gid_t)-1;
}

static const struct key endpoint_key_table[] = {
	{ .name = "name", .type = KEY_STRING, .set = set_name, .print = print_name,
	  .offset = E(name), .doc_def = "required", .release = key_release_string,
	  .doc = "the endpoint's name, unique; systemd's FileDescriptorName" },
	{ .name = "listen", .type = KEY_ADDRESSES, .set = set_listen, .print = print_listen,
	  .offset = E(listen), .doc_def = "required", .release = key_release_ptr,
	  .doc = "the addresses it listens on" },
	{ .name = "service", .type = KEY_STRING, .set = set_service, .print = print_service,
	  .offset = E(service), .doc_def = "required",
	  .doc = "what it serves" },
	{ .name = "backlog", .type = KEY_INTEGER, .set = key_set_int, .print = key_print_int,
	  .offset = E(backlog), .min = 1, .max = BACKLOG_MAX, .def = "1024",
	  .doc = "listen(2) backlog" },
	{ .name = "v6only", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = E(v6only), .def = "false",
	  .doc = "IPV6_V6ONLY on IPv6 sockets" },
	{ .name = "reuseport", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = E(so.reuseport), .def = "false", .addrs = KEY_ADDRS_IP, .shown = has_ip,
	  .doc = "SO_REUSEPORT: other sockets (other sockd) may bind the same tcp/udp address" },
	{ .name = "rcvbuf", .type = KEY_INTEGER, .set = key_set_int, .print = key_print_int,
	  .offset = E(so.rcvbuf), .min = 0, .max = SOCKBUF_MAX, .def = "0",
	  .doc = "SO_RCVBUF bytes; 0 = the kernel's, autotuned" },
	{ .name = "sndbuf", .type = KEY_INTEGER, .set = key_set_int, .print = key_print_int,
	  .offset = E(so.sndbuf), .min = 0, .max = SOCKBUF_MAX, .def = "0",
	  .doc = "SO_SNDBUF bytes; 0 = the kernel's, autotuned" },
	{ .name = "freebind", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = E(so.freebind), .def = "false", .addrs = KEY_ADDRS_IP, .shown = has_ip,
	  .doc = "IP_FREEBIND: bind an address the host does not have (yet)" },
	{ .name = "transparent", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = E(so.transparent), .def = "false", .addrs = KEY_ADDRS_IP, .shown = has_ip,
	  .doc = "IP_TRANSPARENT, for TPROXY (needs CAP_NET_ADMIN)" },
	{ .name = "bind_to_device", .type = KEY_STRING, .set = sockopt_set_device,
	  .print = key_print_string, .offset = E(so.bind_to_device), .doc_def = "none",
	  .addrs = KEY_ADDRS_IP, .release = key_release_string,
	  .doc = "SO_BINDTODEVICE: serve only packets of this interface or VRF" },
	{ .name = "mark", .type = KEY_INTEGER, .set = key_set_uint, .print = key_print_uint,
	  .offset = E(so.mark), .min = 0, .max = 4294967295.0, .def = "0", .addrs = KEY_ADDRS_IP,
	  .shown = has_ip, .doc = "SO_MARK of the packets sent (needs CAP_NET_ADMIN); 0 = none" },
	{ .name = "tos", .type = KEY_INTEGER, .set = key_set_int, .print = key_print_int,
	  .offset = E(so.tos), .min = 0, .max = 255, .def = "0", .addrs = KEY_ADDRS_IP,
	  .shown = has_ip, .doc = "IP_TOS / IPV6_TCLASS byte of the packets sent" },
	{ .name = "keepalive", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = E(so.keepalive), .def = "false", .addrs = KEY_ADDRS_TCP_ONLY, .shown = all_tcp,
	  .doc = "SO_KEEPALIVE on accepted connections" },
	{ .name = "keepalive_time", .type = KEY_INTEGER, .set = key_set_int, .print = key_print_int,
	  .offset = E(so.keepalive_time), .min = 0, .max = TCP_KEEP_MAX, .def = "0",
	  .addrs = KEY_ADDRS_TCP_ONLY, .shown = all_tcp,
	  .doc = "TCP_KEEPIDLE seconds; 0 = net.ipv4.tcp_keepalive_time" },
	{ .name = "keepalive_interval", .type = KEY_INTEGER, .set = key_set_int,
	  .print = key_print_int, .offset = E(so.keepalive_interval), .min = 0,
	  .max = TCP_KEEP_MAX, .def = "0", .addrs = KEY_ADDRS_TCP_ONLY, .shown = all_tcp,
	  .doc = "TCP_KEEPINTVL seconds; 0 = net.ipv4.tcp_keepalive_intvl" },
	{ .name = "keepalive_count", .type = KEY_INTEGER, .set = key_set_int, .print = key_print_int,
	  .offset = E(so.keepalive_count), .min = 0, .max = TCP_KEEPCNT_MAX, .def = "0",
	  .addrs = KEY_ADDRS_TCP_ONLY, .shown = all_tcp,
	  .doc = "TCP_KEEPCNT probes; 0 = net.ipv4.tcp_keepalive_probes" },
	{ .name = "user_timeout", .type = KEY_INTEGER, .set = key_set_int, .print = key_print_int,
	  .offset = E(so.user_timeout), .min = 0, .max = INT_MAX, .def = "0",
	  .addrs = KEY_ADDRS_TCP_ONLY, .shown = all_tcp,
	  .doc = "TCP_USER_TIMEOUT ms for unacknowledged data; 0 = the kernel's" },
	{ .name = "nodelay", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = E(so.nodelay), .def = "false", .addrs = KEY_ADDRS_TCP_ONLY, .shown = all_tcp,
	  .doc = "TCP_NODELAY: no Nagle delay on accepted connections" },
	{ .name = "defer_accept", .type = KEY_INTEGER, .set = key_set_int, .print = key_print_int,
	  .offset = E(so.defer_accept), .min = 0, .max = TIMEOUT_MAX, .def = "0",
	  .addrs = KEY_ADDRS_TCP_ONLY, .shown = all_tcp,
	  .doc = "TCP_DEFER_ACCEPT seconds: accept only once data came; 0 = off" },
	{ .name = "fastopen", .type = KEY_INTEGER, .set = key_set_int, .print = key_print_int,
	  .offset = E(so.fastopen), .min = 0, .max = BACKLOG_MAX, .def = "0",
	  .addrs = KEY_ADDRS_TCP_ONLY, .shown = all_tcp,
	  .doc = "TCP_FASTOPEN queue length: data in the SYN; 0 = off" },
	{ .name = "congestion", .type = KEY_STRING, .set = sockopt_set_congestion,
	  .print = key_print_string, .offset = E(so.congestion), .doc_def = "none",
	  .addrs = KEY_ADDRS_TCP_ONLY, .release = key_release_string,
	  .doc = "TCP_CONGESTION algorithm; none = net.ipv4.tcp_congestion_control" },
	{ .name = "overload", .type = KEY_CHOICE, .set = key_set_choice, .print = key_print_choice,
	  .offset = E(overload), .choices = overload_choices, .def = "wait",
	  .doc = "at a limit: leave clients in the backlog, or accept and close" },
	{ .name = "udp_guard", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = E(udp_guard), .def = "true",
	  .doc = "drop datagrams from sources that reflect (ports < 1024, broadcast...)" },
	{ .name = "max_connections", .type = KEY_INTEGER, .set = key_set_uint, .print = key_print_uint,
	  .offset = E(max_connections), .min = 0, .max = EP_MAX_CONNECTIONS_MAX, .def = "0",
	  .doc = "open connections of this endpoint; 0 = no own limit" },
	{ .name = "max_per_source", .type = KEY_INTEGER, .set = key_set_uint, .print = key_print_uint,
	  .offset = E(max_per_source), .min = 0, .max = MAX_PER_SOURCE_MAX, .def = "0",
	  .doc = "open connections per client address; 0 = no limit" },
	{ .name = "rate", .type = KEY_NUMBER, .set = key_set_double, .print = key_print_double,
	  .offset = E(rate), .min = 0, .max = RATE_MAX, .def = "0",
	  .doc = "new connections per second; 0 = no limit" },
	{ .name = "burst", .type = KEY_INTEGER, .set = key_set_uint, .print = key_print_uint,
	  .offset = E(burst), .min = 1, .max = BURST_MAX, .doc_def = "rate rounded up, at least 1",
	  .doc = "connections at once above rate" },
	{ .name = "udp_rate", .type = KEY_NUMBER, .set = key_set_double, .print = key_print_double,
	  .offset = E(udp_rate), .min = 0, .max = RATE_MAX, .def = "20",
	  .doc = "datagram replies per second per source; 0 = no limit" },
	{ .name = "udp_burst", .type = KEY_INTEGER, .set = key_set_uint, .print = key_print_uint,
	  .offset = E(udp_burst), .min = 1, .max = BURST_MAX, .def = "40",
	  .doc = "datagram replies at once above udp_rate" },
	{ .name = "udp_rate_loopback", .type = KEY_BOOLEAN, .set = key_set_bool,
	  .print = key_print_bool, .offset = E(udp_rate_loopback), .def = "false",
	  .doc = "udp_rate applies to loopback sources too" },
	{ .name = "udp_sessions_per_source", .type = KEY_INTEGER, .set = key_set_uint,
	  .print = key_print_uint, .offset = E(udp_sessions_per_source), .min = 0,
	  .max = MAX_PER_SOURCE_MAX, .def = "256",
	  .doc = "datagram forward sessions per client address; 0 = no cap" },
	{ .name = "idle_timeout", .type = KEY_NUMBER, .set = key_set_double, .print = key_print_double,
	  .offset = E(idle_timeout), .min = 0, .max = TIMEOUT_MAX, .def = "300",
	  .doc = "seconds without a byte either way; 0 = none" },
	{ .name = "lifetime", .type = KEY_NUMBER, .set = key_set_double, .print = key_print_double,
	  .offset = E(lifetime), .min = 0, .max = TIMEOUT_MAX, .def = "0",
	  .doc = "seconds a connection may last; 0 = none" },
	{ .name = "allow", .type = KEY_LIST, .set = set_rules, .print = print_rules,
	  .offset = E(acl), .doc_def = "none", .addrs = KEY_ADDRS_IP, .release = release_acl,
	  .doc = "CIDR rules of clients allowed" },
	{ .name = "deny", .type = KEY_LIST, .set = set_rules, .print = print_rules,
	  .offset = E(acl), .doc_def = "none", .addrs = KEY_ADDRS_IP,
	  .doc = "CIDR rules of clients refused" },
	{ .name = "mode", .type = KEY_OCTAL, .set = key_set_octal, .print = key_print_octal,
	  .offset = E(mode), .doc_def = "as the umask gives", .example = "0660",
	  .addrs = KEY_ADDRS_UNIX_PATH, .doc = "file mode of the socket file" },
	{ .name = "owner", .type = KEY_ID, .set = set_file_id, .print = print_file_id,
	  .offset = E(owner), .doc_def = "the user sockd starts as", .addrs = KEY_ADDRS_UNIX_PATH,
	  .release = release_file_id, .doc = "owner of the socket file" },
	{ .name = "group", .type = KEY_ID, .set = set_file_id, .print = print_file_id,
	  .offset = E(group), .doc_def = "the group sockd starts as", .addrs = KEY_ADDRS_UNIX_PATH,
	  .release = release_file_id, .doc = "group of the socket file" },
	{ .name = "allow_uid", .type = KEY_ID, .set = set_id_list, .print = print_id_list,
	  .offset = E(allow_uid), .doc_def = "none", .addrs = KEY_ADDRS_UNIX_CONN,
	  .release = release_id_list, .doc = "Unix peers allowed by user (SO_PEERCRED)" },
	{ .name = "allow_gid", .type = KEY_ID, .set = set_id_list, .print = print_id_list,
	  .offset = E(allow_gid), .doc_def = "none", .addrs = KEY_ADDRS_UNIX_CONN,
	  .release = release_id_list, .doc = "Unix peers allowed by group (SO_PEERCRED)" },
	{ .name = "proxy_protocol", .type = KEY_CHOICE, .set = key_set_choice,
	  .print = key_print_choice, .offset = E(proxy_protocol), .choices = proxy_protocol_choices,
	  .doc_def = "none", .addrs = KEY_ADDRS_STREAM,
	  .doc = "expect a PROXY protocol header of this version" },
	{ .name = "proxy_timeout", .type = KEY_NUMBER, .set = key_set_double,
	  .print = key_print_double, .offset = E(proxy_timeout), .min = SHORT_TIMEOUT_MIN,
	  .max = SHORT_TIMEOUT_MAX, .def = "3", .shown = proxy_set,
	  .doc = "seconds for the whole PROXY header" },
	{ .name = "proxy_from", .type = KEY_LIST, .set = set_rules, .print = print_rules,
	  .offset = E(proxy_from), .doc_def = "any sender", .addrs = KEY_ADDRS_TCP,
	  .release = release_acl, .shown = proxy_set,
	  .doc = "CIDR rules of senders trusted to send the PROXY header" },
	{ .name = "tls", .type = KEY_GROUP, .set = tls_config_set, .print = tls_config_print,
	  .offset = E(tls), .doc_def = "none", .addrs = KEY_ADDRS_STREAM,
	  .release = tls_config_release,
	  .doc = "terminate TLS: { certificate; key; client_ca; verify_client; ... } (keys of section tls)" },
	{ .name = NULL },
};

const struct key_set endpoint_keys = {
	.section = "endpoint",
	.keys = endpoint_key_table,
	.init = endpoint_init,
};
