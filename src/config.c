#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "builtin.h"
#include "config.h"
#include "log.h"
#include "proxy_proto.h"
#include "service.h"

#define NAME_MAX_LEN            64
#define WORKERS_MAX             1024
#define QUEUE_MAX               1048576
#define MAX_CONNECTIONS_MAX     10000000
#define SHUTDOWN_TIMEOUT_MAX    3600
#define BACKLOG_MAX             65535
#define MODE_MAX                0777
#define ID_MAX                  4294967294LL    /* (uid_t)-1 means "unset" */
#define EP_MAX_CONNECTIONS_MAX  10000000
#define MAX_PER_SOURCE_MAX      1000000
#define RATE_MAX                1000000
#define BURST_MAX               1000000
#define TIMEOUT_MAX             31536000        /* a year, in seconds */
#define SHORT_TIMEOUT_MIN       0.1             /* proxy_timeout, connect_timeout */
#define SHORT_TIMEOUT_MAX       3600
#define INSTANCES_MAX           1000000
#define NICE_MIN                (-20)
#define NICE_MAX                19

/* Where a listen address was first claimed, to name it when it is claimed
 * again (possibly from an @include'd file). */
struct seen_addr {
	struct addr addr;
	char label[NAME_MAX_LEN + 8];   /* "'echo'" or "#3" */
	const char *file;               /* libconfig's; valid until config_destroy */
	int line;
};

/* One load in progress. */
struct loader {
	const char *path;
	struct diag *d;
	size_t errors;
	bool nomem;
	struct seen_addr *addrs;        /* every listen address so far */
	size_t n_addrs;
	size_t cap_addrs;
	const config_setting_t *include_dir;    /* daemon.include_dir, once valid */
	config_t **frags;               /* parsed include_dir files, kept until the
	                                 * end: seen_addr.file points into them */
	size_t n_frags;
	struct exec_user *exec_users;   /* checked against daemon.user at the end */
	size_t n_exec_users;
	struct diag warnings;           /* handed to the config's warnings */
};

/* An exec endpoint's resolved 'user', or a forward's 'upstream_user':
 * daemon.user may be read after it. */
struct exec_user {
	struct endpoint *ep;
	const config_setting_t *s;
};

/* What one endpoint needs for the checks that span several keys. */
struct ep_state {
	char label[NAME_MAX_LEN + 8];
	const config_setting_t *name;
	const config_setting_t *listen;
	const config_setting_t *service;
	const config_setting_t *mode;
	const config_setting_t *owner;
	const config_setting_t *group;
	const config_setting_t *daytime_format;
	const config_setting_t *allow;
	const config_setting_t *deny;
	const config_setting_t *allow_uid;
	const config_setting_t *allow_gid;
	const config_setting_t *burst;
	const config_setting_t *proxy_protocol;
	const config_setting_t *proxy_from;
	const config_setting_t *proxy_timeout;
	const config_setting_t *command;        /* service "exec" */
	const config_setting_t *env;
	const config_setting_t *user;
	const config_setting_t *instances;
	const config_setting_t *umask;
	const config_setting_t *nice;
	const config_setting_t *rlimit;
	const config_setting_t *upstream;       /* service "forward" */
	const config_setting_t *connect_timeout;
	const config_setting_t *balance;
	const config_setting_t *send_proxy;
	const config_setting_t *upstream_user;
	const config_setting_t **listen_at;      /* per address in ep->listen */
	const config_setting_t **upstream_at;    /* per address in ep->upstream */
	bool listen_bad;
	struct acl_rule *rules[3];      /* allow, deny, proxy_from */
	size_t n_rules[3];
};

/* vasprintf() without needing _GNU_SOURCE; NULL when out of memory. */
static char *vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

static char *
vformat(const char *fmt, va_list ap)
{
	va_list aq;
	char *s;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

static char *format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
format(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = vformat(fmt, ap);
	va_end(ap);
	return s;
}

void
diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	char *msg, *s, **lines;
	va_list ap;

	va_start(ap, fmt);
	msg = vformat(fmt, ap);
	va_end(ap);
	if (!msg)
		return;
	if (!file)
		s = format("%s", msg);
	else if (line > 0)
		s = format("%s:%d: %s", file, line, msg);
	else
		s = format("%s: %s", file, msg);
	free(msg);
	if (!s)
		return;
	/* Values quoted from the file may hold "\n"; a diagnostic stays one line. */
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';

	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 8;

		lines = realloc(d->lines, cap * sizeof(*lines));
		if (!lines) {
			free(s);
			return;
		}
		d->lines = lines;
		d->cap = cap;
	}
	d->lines[d->n++] = s;
}

void
diag_free(struct diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->n = d->cap = 0;
}

struct endpoint *
endpoint_ref(struct endpoint *ep)
{
	if (ep)
		atomic_fetch_add_explicit(&ep->refs, 1, memory_order_relaxed);
	return ep;
}

void
endpoint_unref(struct endpoint *ep)
{
	if (!ep)
		return;
	/* Release our writes (stats) to the last owner; it acquires them
	 * before freeing. */
	if (atomic_fetch_sub_explicit(&ep->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(ep->name);
	free(ep->file);
	free(ep->listen);
	free(ep->owner_name);
	free(ep->group_name);
	free(ep->daytime_format);
	acl_free(ep->acl);
	free(ep->allow_uid);
	free(ep->allow_gid);
	for (size_t i = 0; i < ep->n_allow_uid; i++)
		free(ep->allow_uid_names[i]);
	free(ep->allow_uid_names);
	for (size_t i = 0; i < ep->n_allow_gid; i++)
		free(ep->allow_gid_names[i]);
	free(ep->allow_gid_names);
	acl_free(ep->proxy_from);
	for (char **p = ep->command; p && *p; p++)
		free(*p);
	free(ep->command);
	for (char **p = ep->env; p && *p; p++)
		free(*p);
	free(ep->env);
	free(ep->exec_user);
	free(ep->exec_group);
	free(ep->upstream_user);
	free(ep->upstream_group);
	free(ep->rlimits);
	free(ep->upstream);
	source_table_free(ep->sources);
	free(ep);
}

void
config_free(struct sockd_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		endpoint_unref(cfg->endpoints[i]);
	free(cfg->endpoints);
	free(cfg->daemon.user);
	free(cfg->daemon.group);
	free(cfg->daemon.include_dir);
	free(cfg->daemon.control);
	free(cfg->file);
	for (size_t i = 0; i < cfg->n_warnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	free(cfg);
}

/* ------------------------------------------------------------ helpers */

static void loader_verror(struct loader *l, const char *file, int line, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));

static void
loader_verror(struct loader *l, const char *file, int line, const char *fmt, va_list ap)
{
	char *msg;

	l->errors++;
	msg = vformat(fmt, ap);
	if (!msg) {
		l->nomem = true;
		return;
	}
	diag_add(l->d, file, line, "%s", msg);
	free(msg);
}

/* An error about a whole file (line <= 0) or a place no setting marks. */
static void file_error(struct loader *l, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
file_error(struct loader *l, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	loader_verror(l, file, line, fmt, ap);
	va_end(ap);
}

static void conf_error(struct loader *l, const config_setting_t *s,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
conf_error(struct loader *l, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = l->path;
	va_list ap;
	int line = 0;

	if (s) {
		if (config_setting_source_file(s))
			file = config_setting_source_file(s);
		line = (int)config_setting_source_line(s);
	}
	va_start(ap, fmt);
	loader_verror(l, file, line, fmt, ap);
	va_end(ap);
}

static char *
loader_strdup(struct loader *l, const char *s)
{
	char *p = strdup(s);

	if (!p)
		l->nomem = true;
	return p;
}

static const char *
key(const config_setting_t *s)
{
	return config_setting_name(s) ? config_setting_name(s) : "?";
}

static bool
get_integer(struct loader *l, const config_setting_t *s, long long min,
    long long max, long long *out)
{
	long long v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		conf_error(l, s, "'%s' must be an integer", key(s));
		return false;
	}
	if (v < min || v > max) {
		conf_error(l, s, "'%s' must be between %lld and %lld", key(s), min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool
get_number(struct loader *l, const config_setting_t *s, double min,
    double max, double *out)
{
	double v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	default:
		conf_error(l, s, "'%s' must be a number", key(s));
		return false;
	}
	if (!(v >= min && v <= max)) {
		conf_error(l, s, "'%s' must be between %.15g and %.15g", key(s), min, max);
		return false;
	}
	*out = v;
	return true;
}

static bool
get_bool(struct loader *l, const config_setting_t *s, bool *out)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		conf_error(l, s, "'%s' must be a boolean (true or false)", key(s));
		return false;
	}
	*out = config_setting_get_bool(s);
	return true;
}

static const char *
get_string(struct loader *l, const config_setting_t *s)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_error(l, s, "'%s' must be a string", key(s));
		return NULL;
	}
	return config_setting_get_string(s);
}

/* A string key that names one of a few values. */
struct choice {
	const char *name;
	int value;
};

static bool
get_choice(struct loader *l, const config_setting_t *s, const struct choice *choices, int *out)
{
	const char *str = get_string(l, s);
	char list[128];
	size_t used = 0;

	if (!str)
		return false;
	for (const struct choice *c = choices; c->name; c++)
		if (strcmp(str, c->name) == 0) {
			*out = c->value;
			return true;
		}
	list[0] = '\0';
	for (const struct choice *c = choices; c->name && used < sizeof(list); c++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", c->name);
	conf_error(l, s, "unknown %s '%s' (%s)", key(s), str, list);
	return false;
}

static const struct choice overload_choices[] = {
	{ "wait", OVERLOAD_WAIT }, { "reject", OVERLOAD_REJECT }, { NULL, 0 },
};
static const struct choice proxy_protocol_choices[] = {
	{ "v1", PROXY_V1 }, { "v2", PROXY_V2 }, { "any", PROXY_ANY }, { NULL, 0 },
};
static const struct choice send_proxy_choices[] = {
	{ "v1", PROXY_V1 }, { "v2", PROXY_V2 }, { NULL, 0 },
};
static const struct choice balance_choices[] = {
	{ "first", BALANCE_FIRST }, { "roundrobin", BALANCE_ROUNDROBIN }, { NULL, 0 },
};

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* getpwnam_r/getgrnam_r want a buffer of unknown size: grow it on ERANGE.
 * With name NULL, the user is looked up by the number in *uid. */
static int
lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *res = NULL;
	size_t size = 1024;
	char *buf = NULL, *nbuf;
	int r;

	for (;;) {
		nbuf = realloc(buf, size);
		if (!nbuf) {
			free(buf);
			return -ENOMEM;
		}
		buf = nbuf;
		if (name)
			r = getpwnam_r(name, &pw, buf, size, &res);
		else
			r = getpwuid_r(*uid, &pw, buf, size, &res);
		if (r != ERANGE || size >= (1 << 20))
			break;
		size *= 2;
	}
	if (r == 0 && res) {
		*uid = pw.pw_uid;
		if (gid)
			*gid = pw.pw_gid;
	}
	free(buf);
	if (r > 0)
		return -r;
	return res ? 0 : -ENOENT;
}

static int
lookup_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	size_t size = 1024;
	char *buf = NULL, *nbuf;
	int r;

	for (;;) {
		nbuf = realloc(buf, size);
		if (!nbuf) {
			free(buf);
			return -ENOMEM;
		}
		buf = nbuf;
		r = getgrnam_r(name, &gr, buf, size, &res);
		if (r != ERANGE || size >= (1 << 20))
			break;
		size *= 2;
	}
	if (r == 0 && res)
		*gid = gr.gr_gid;
	free(buf);
	if (r > 0)
		return -r;
	return res ? 0 : -ENOENT;
}

/* Report a failed user/group lookup; what says "user" or "group". */
static void
lookup_error(struct loader *l, const config_setting_t *s, const char *what,
    const char *name, int r)
{
	if (r == -ENOMEM)
		l->nomem = true;
	else if (r == -ENOENT)
		conf_error(l, s, "unknown %s '%s'", what, name);
	else
		conf_error(l, s, "cannot look up %s '%s': %s", what, name, strerror(-r));
}

/* ------------------------------------------------------------ daemon */

static void
load_daemon(struct loader *l, struct sockd_config *cfg, const config_setting_t *g)
{
	struct daemon_config *dc = &cfg->daemon;
	const config_setting_t *user = NULL, *group = NULL;
	const char *str;
	long long v;
	double f;
	int level, r;

	if (!config_setting_is_group(g)) {
		conf_error(l, g, "'daemon' must be a group ({ ... })");
		return;
	}
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = key(s);

		if (strcmp(k, "workers") == 0) {
			if (get_integer(l, s, 0, WORKERS_MAX, &v))
				dc->workers = (unsigned)v;
		} else if (strcmp(k, "queue") == 0) {
			if (get_integer(l, s, 1, QUEUE_MAX, &v))
				dc->queue = (unsigned)v;
		} else if (strcmp(k, "max_connections") == 0) {
			if (get_integer(l, s, 1, MAX_CONNECTIONS_MAX, &v))
				dc->max_connections = (unsigned)v;
		} else if (strcmp(k, "shutdown_timeout") == 0) {
			if (get_number(l, s, 0, SHUTDOWN_TIMEOUT_MAX, &f))
				dc->shutdown_timeout = f;
		} else if (strcmp(k, "log_level") == 0) {
			if (!(str = get_string(l, s)))
				continue;
			level = log_level_from_string(str);
			if (level < 0)
				conf_error(l, s, "unknown log_level '%s' (err, warning, notice, info, debug)", str);
			else
				dc->log_level = level;
		} else if (strcmp(k, "user") == 0) {
			if ((str = get_string(l, s)))
				user = s;
		} else if (strcmp(k, "group") == 0) {
			if ((str = get_string(l, s)))
				group = s;
		} else if (strcmp(k, "include_dir") == 0) {
			if (!(str = get_string(l, s)))
				continue;
			if (str[0] != '/') {
				conf_error(l, s, "'include_dir' must be an absolute path");
				continue;
			}
			l->include_dir = s;
			dc->include_dir = loader_strdup(l, str);
		} else if (strcmp(k, "control") == 0) {
			if (!(str = get_string(l, s)))
				continue;
			/* sun_path holds 107 bytes and a NUL. */
			if ((str[0] != '/' && str[0] != '@') || str[1] == '\0' || strlen(str) > 107)
				conf_error(l, s, "'control' must be an absolute path or @name of at most 107 bytes");
			else
				dc->control = loader_strdup(l, str);
		} else {
			conf_error(l, s, "unknown key '%s' in daemon", k);
		}
	}

	if (group && !user) {
		conf_error(l, group, "'group' requires 'user'");
		return;
	}
	if (user) {
		str = config_setting_get_string(user);
		r = lookup_user(str, &dc->uid, &dc->gid);
		if (r < 0)
			lookup_error(l, user, "user", str, r);
		else
			dc->user = loader_strdup(l, str);
	}
	if (group) {
		str = config_setting_get_string(group);
		r = lookup_group(str, &dc->gid);
		if (r < 0)
			lookup_error(l, group, "group", str, r);
		else
			dc->group = loader_strdup(l, str);
	}
}

/* ------------------------------------------------------------ endpoints */

static bool
name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > NAME_MAX_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

static bool
service_serves(const struct service *svc, const struct addr *a)
{
	return svc->flags & (addr_is_stream(a) ? SERVICE_STREAM : SERVICE_DGRAM);
}

static void
load_name(struct loader *l, struct sockd_config *cfg, struct endpoint *ep,
    const config_setting_t *s)
{
	const char *str = get_string(l, s);

	if (!str)
		return;
	if (!name_valid(str)) {
		conf_error(l, s, "invalid endpoint name '%s' (1 to %d letters, digits, '_', '.' or '-')",
		    str, NAME_MAX_LEN);
		return;
	}
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const struct endpoint *o = cfg->endpoints[i];

		if (o != ep && o->name && strcmp(o->name, str) == 0) {
			conf_error(l, s, "endpoint name '%s' is already used (%s:%d)",
			    str, o->file, o->line);
			break;
		}
	}
	ep->name = loader_strdup(l, str);
}

static void
load_one_addr(struct loader *l, struct endpoint *ep, struct ep_state *st,
    const config_setting_t *e)
{
	const char *text, *why = "?";
	struct seen_addr *sa;
	struct addr a;

	if (config_setting_type(e) != CONFIG_TYPE_STRING) {
		conf_error(l, e, "'listen' must contain only strings");
		st->listen_bad = true;
		return;
	}
	text = config_setting_get_string(e);
	if (addr_parse(text, &a, &why) < 0) {
		conf_error(l, e, "invalid address '%s': %s", text, why);
		st->listen_bad = true;
		return;
	}
	ep->listen[ep->n_listen] = a;
	st->listen_at[ep->n_listen++] = e;

	for (size_t i = 0; i < l->n_addrs; i++) {
		if (addr_equal(&l->addrs[i].addr, &a)) {
			conf_error(l, e, "address '%s' is already used by endpoint %s (%s:%d)",
			    text, l->addrs[i].label, l->addrs[i].file, l->addrs[i].line);
			return;
		}
	}
	if (l->n_addrs == l->cap_addrs) {
		size_t cap = l->cap_addrs ? 2 * l->cap_addrs : 16;

		sa = realloc(l->addrs, cap * sizeof(*sa));
		if (!sa) {
			l->nomem = true;
			return;
		}
		l->addrs = sa;
		l->cap_addrs = cap;
	}
	sa = &l->addrs[l->n_addrs++];
	sa->addr = a;
	snprintf(sa->label, sizeof(sa->label), "%s", st->label);
	sa->file = config_setting_source_file(e) ? config_setting_source_file(e) : l->path;
	sa->line = (int)config_setting_source_line(e);
}

static void
load_listen(struct loader *l, struct endpoint *ep, struct ep_state *st,
    const config_setting_t *s)
{
	size_t n;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		n = 1;
	} else if (config_setting_is_array(s) || config_setting_is_list(s)) {
		n = (size_t)config_setting_length(s);
		if (n == 0) {
			conf_error(l, s, "'listen' must have at least one address");
			st->listen_bad = true;
			return;
		}
	} else {
		conf_error(l, s, "'listen' must be a string or a list of strings");
		st->listen_bad = true;
		return;
	}
	ep->listen = calloc(n, sizeof(*ep->listen));
	st->listen_at = calloc(n, sizeof(*st->listen_at));
	if (!ep->listen || !st->listen_at) {
		l->nomem = true;
		return;
	}
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		load_one_addr(l, ep, st, s);
	else
		for (size_t i = 0; i < n && !l->nomem; i++)
			load_one_addr(l, ep, st, config_setting_get_elem(s, (unsigned)i));
}

static void
load_service(struct loader *l, struct endpoint *ep, const config_setting_t *s)
{
	char names[256] = "";
	const char *str = get_string(l, s);

	if (!str)
		return;
	ep->service = service_lookup(str);
	if (ep->service)
		return;
	for (const struct service *const *p = service_table; *p; p++) {
		if (p != service_table)
			strncat(names, ", ", sizeof(names) - strlen(names) - 1);
		strncat(names, (*p)->name, sizeof(names) - strlen(names) - 1);
	}
	conf_error(l, s, "unknown service '%s' (%s)", str, names);
}

/* Modes are octal to everyone who sets them, but libconfig reads the
 * integer 0660 as decimal 660: so the digits of a decimal integer are
 * read as octal, as chmod does. A hex integer is taken at its value.
 * mode and umask; example is a typical value for messages. */
static bool
get_octal(struct loader *l, const config_setting_t *s, const char *example, int *out)
{
	char buf[32];
	const char *str;
	unsigned long v = 0;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		str = config_setting_get_string(s);
		break;
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		if (config_setting_get_int64(s) < 0) {
			conf_error(l, s, "'%s' must be between 0 and 0%o", key(s), MODE_MAX);
			return false;
		}
		if (config_setting_get_format(s) == CONFIG_FORMAT_HEX) {
			snprintf(buf, sizeof(buf), "%llo", (unsigned long long)config_setting_get_int64(s));
		} else {
			snprintf(buf, sizeof(buf), "%lld", config_setting_get_int64(s));
		}
		str = buf;
		break;
	default:
		conf_error(l, s, "'%s' must be an octal string like \"%s\" or an integer", key(s), example);
		return false;
	}
	if (*str == '\0' || strspn(str, "01234567") != strlen(str)) {
		conf_error(l, s, "invalid %s '%s' (octal digits expected, like \"%s\")",
		    key(s), str, example);
		return false;
	}
	for (; *str && v <= MODE_MAX; str++)
		v = v * 8 + (unsigned long)(*str - '0');
	if (v > MODE_MAX) {
		conf_error(l, s, "'%s' must be between 0 and 0%o", key(s), MODE_MAX);
		return false;
	}
	*out = (int)v;
	return true;
}

/* A user or group written as text: a name, or a string of digits. Returns
 * true with *id, or false after reporting an error on s; what names the
 * key in messages. */
static bool
id_from_text(struct loader *l, const config_setting_t *s, const char *what,
    bool is_user, const char *str, id_t *id)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	long long v;
	int r;

	if (all_digits(str)) {
		errno = 0;
		v = strtoll(str, NULL, 10);
		if (errno == ERANGE || v > ID_MAX) {
			conf_error(l, s, "'%s' must be between 0 and %lld", what, ID_MAX);
			return false;
		}
		*id = (id_t)v;
		return true;
	}
	r = is_user ? lookup_user(str, &uid, NULL) : lookup_group(str, &gid);
	if (r < 0) {
		lookup_error(l, s, is_user ? "user" : "group", str, r);
		return false;
	}
	*id = is_user ? uid : gid;
	return true;
}

/* A user or group: a name, or a number (an integer or a string of digits).
 * Returns 1 with *id and *text (as written, allocated), -1 after reporting
 * an error, or 0 when s is neither a string nor an integer (the caller
 * words that error). what names the key in messages. */
static int
resolve_id(struct loader *l, const config_setting_t *s, const char *what,
    bool is_user, id_t *id, char **text)
{
	char buf[32];
	const char *str;
	long long v;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		if (v < 0 || v > ID_MAX) {
			conf_error(l, s, "'%s' must be between 0 and %lld", what, ID_MAX);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%lld", v);
		str = buf;
		break;
	case CONFIG_TYPE_STRING:
		str = config_setting_get_string(s);
		break;
	default:
		return 0;
	}
	if (!id_from_text(l, s, what, is_user, str, id))
		return -1;
	*text = loader_strdup(l, str);
	return *text ? 1 : -1;
}

/* owner/group; the text is kept as written for config_dump. */
static void
load_id(struct loader *l, struct endpoint *ep, const config_setting_t *s, bool is_user)
{
	const char *what = is_user ? "owner" : "group";
	char *text;
	id_t id;
	int r;

	r = resolve_id(l, s, what, is_user, &id, &text);
	if (r == 0)
		conf_error(l, s, "'%s' must be a %s name or a number", what,
		    is_user ? "user" : "group");
	if (r <= 0)
		return;
	if (is_user) {
		ep->owner = id;
		ep->owner_name = text;
	} else {
		ep->group = id;
		ep->group_name = text;
	}
}

/* allow_uid/allow_gid: one user (group) or a list of them. */
static void
load_id_list(struct loader *l, struct endpoint *ep, const config_setting_t *s, bool is_user)
{
	const char *what = is_user ? "allow_uid" : "allow_gid";
	const char *kind = is_user ? "user" : "group";
	bool scalar = false;
	char **names;
	id_t *ids;
	size_t n, k = 0;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
	case CONFIG_TYPE_STRING:
		scalar = true;
		n = 1;
		break;
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		n = (size_t)config_setting_length(s);
		if (n == 0) {
			conf_error(l, s, "'%s' must have at least one %s", what, kind);
			return;
		}
		break;
	default:
		conf_error(l, s, "'%s' must be a %s name or a number, or a list of them", what, kind);
		return;
	}
	ids = calloc(n, sizeof(*ids));
	names = calloc(n, sizeof(*names));
	if (!ids || !names) {
		free(ids);
		free(names);
		l->nomem = true;
		return;
	}
	for (size_t i = 0; i < n && !l->nomem; i++) {
		const config_setting_t *e = scalar ? s : config_setting_get_elem(s, (unsigned)i);
		int r = resolve_id(l, e, what, is_user, &ids[k], &names[k]);

		if (r == 0)
			conf_error(l, e, "'%s' must contain only %s names or numbers", what, kind);
		if (r > 0)
			k++;
	}

	/* uid_t and gid_t are both id_t on Linux; the arrays are used as is. */
	if (is_user) {
		ep->allow_uid = ids;
		ep->allow_uid_names = names;
		ep->n_allow_uid = k;
	} else {
		ep->allow_gid = ids;
		ep->allow_gid_names = names;
		ep->n_allow_gid = k;
	}
}

/* allow/deny: one CIDR rule or a list of them, parsed into st->rules[which]
 * (0 allow, 1 deny); the endpoint's acl is built from both at the end. */
static void
load_rules(struct loader *l, struct ep_state *st, const config_setting_t *s, int which)
{
	const char *what = key(s), *text, *why;
	struct acl_rule *rules;
	bool scalar = config_setting_type(s) == CONFIG_TYPE_STRING;
	size_t n, k = 0;

	if (scalar) {
		n = 1;
	} else if (config_setting_is_array(s) || config_setting_is_list(s)) {
		n = (size_t)config_setting_length(s);
		if (n == 0) {
			conf_error(l, s, "'%s' must have at least one rule", what);
			return;
		}
	} else {
		conf_error(l, s, "'%s' must be a string or a list of strings", what);
		return;
	}
	rules = calloc(n, sizeof(*rules));
	if (!rules) {
		l->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = scalar ? s : config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_error(l, e, "'%s' must contain only strings", what);
			continue;
		}
		text = config_setting_get_string(e);
		why = "?";
		if (acl_rule_parse(text, &rules[k], &why) < 0)
			conf_error(l, e, "invalid address rule '%s' in '%s': %s", text, what, why);
		else
			k++;
	}
	st->rules[which] = rules;
	st->n_rules[which] = k;
}

static void
load_daytime_format(struct loader *l, struct endpoint *ep, const config_setting_t *s)
{
	const char *str = get_string(l, s);

	if (!str)
		return;
	if (!daytime_format_valid(str)) {
		conf_error(l, s, "invalid daytime_format '%s' (it must give one line of printable ASCII)", str);
		return;
	}
	free(ep->daytime_format);
	ep->daytime_format = loader_strdup(l, str);
}

/* ---- service "exec" */

/* command = [ "/path", "arg", ... ]: the program must be there now, so
 * that a typo shows at `sockd -n`, not as a failure per connection. */
static void
load_command(struct loader *l, struct endpoint *ep, const config_setting_t *s)
{
	const config_setting_t *first;
	struct stat sb;
	bool bad = false;
	char **argv;
	size_t n;

	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		conf_error(l, s, "'command' must be a list of strings, like [ \"/usr/bin/prog\", \"arg\" ]");
		return;
	}
	n = (size_t)config_setting_length(s);
	if (n == 0) {
		conf_error(l, s, "'command' must have at least the program's path");
		return;
	}
	argv = calloc(n + 1, sizeof(*argv));
	if (!argv) {
		l->nomem = true;
		return;
	}
	for (size_t i = 0; i < n && !l->nomem; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_error(l, e, "'command' must contain only strings");
			bad = true;
			continue;
		}
		argv[i] = loader_strdup(l, config_setting_get_string(e));
	}
	first = config_setting_get_elem(s, 0);
	if (argv[0] && argv[0][0] != '/') {
		conf_error(l, first, "'command' must start with an absolute path");
		bad = true;
	} else if (argv[0] && stat(argv[0], &sb) == -1) {
		if (errno == ENOMEM)
			l->nomem = true;
		else
			conf_error(l, first, "command '%s': %s", argv[0], strerror(errno));
		bad = true;
	} else if (argv[0] && (!S_ISREG(sb.st_mode) || access(argv[0], X_OK) == -1)) {
		conf_error(l, first, "command '%s' is not an executable file", argv[0]);
		bad = true;
	}
	if (bad || l->nomem) {
		for (size_t i = 0; i < n; i++)
			free(argv[i]);
		free(argv);
		return;
	}
	ep->command = argv;
}

/* NAME=value, NAME as a shell would accept it. Returns NAME's length, or 0. */
static size_t
env_name_len(const char *s)
{
	size_t n = 0;

	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (; s[n] && s[n] != '='; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
			return 0;
	return s[n] == '=' ? n : 0;
}

static void
load_env(struct loader *l, struct endpoint *ep, const config_setting_t *s)
{
	bool scalar = config_setting_type(s) == CONFIG_TYPE_STRING;
	const char *text;
	size_t n, k = 0, len;
	char **env;

	if (scalar) {
		n = 1;
	} else if (config_setting_is_array(s) || config_setting_is_list(s)) {
		n = (size_t)config_setting_length(s);
		if (n == 0) {
			conf_error(l, s, "'env' must have at least one variable");
			return;
		}
	} else {
		conf_error(l, s, "'env' must be a string or a list of strings");
		return;
	}
	env = calloc(n + 1, sizeof(*env));
	if (!env) {
		l->nomem = true;
		return;
	}
	for (size_t i = 0; i < n && !l->nomem; i++) {
		const config_setting_t *e = scalar ? s : config_setting_get_elem(s, (unsigned)i);
		bool twice = false;

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_error(l, e, "'env' must contain only strings");
			continue;
		}
		text = config_setting_get_string(e);
		len = env_name_len(text);
		if (len == 0) {
			conf_error(l, e, "invalid env entry '%s' (NAME=value, NAME of letters, digits "
			    "and '_', not starting with a digit)", text);
			continue;
		}
		for (size_t j = 0; j < k && !twice; j++)
			twice = strncmp(env[j], text, len + 1) == 0;
		if (twice) {
			conf_error(l, e, "'env' sets '%.*s' twice", (int)len, text);
			continue;
		}
		if ((env[k] = loader_strdup(l, text)))
			k++;
	}
	ep->env = env;
}

/* user = "name", "name:group", "uid" or "uid:gid" (or an integer uid): the
 * program runs as that user, in that group or else the user's primary one.
 * upstream_user, of a forward, is written the same way. */
static void
load_exec_user(struct loader *l, struct endpoint *ep, const config_setting_t *s)
{
	bool upstream = strcmp(key(s), "upstream_user") == 0;
	struct exec_user *eu;
	char buf[32], *text, *group, *group_copy = NULL;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	long long v;
	id_t id;
	int r;

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		if (v < 0 || v > ID_MAX) {
			conf_error(l, s, "'%s' must be between 0 and %lld", key(s), ID_MAX);
			return;
		}
		snprintf(buf, sizeof(buf), "%lld", v);
		text = loader_strdup(l, buf);
		break;
	case CONFIG_TYPE_STRING:
		text = loader_strdup(l, config_setting_get_string(s));
		break;
	default:
		conf_error(l, s, "'%s' must be a user name or a number, optionally followed by ':group'", key(s));
		return;
	}
	if (!text)
		return;
	if ((group = strchr(text, ':')))
		*group++ = '\0';
	if (*text == '\0' || (group && (*group == '\0' || strchr(group, ':')))) {
		conf_error(l, s, "invalid user '%s' (\"user\" or \"user:group\" expected)",
		    config_setting_get_string(s));
		goto out_free;
	}
	if (all_digits(text)) {
		if (!id_from_text(l, s, "user", true, text, &id))
			goto out_free;
		uid = (uid_t)id;
		if (!group) {
			r = lookup_user(NULL, &uid, &gid);
			if (r == -ENOMEM) {
				l->nomem = true;
				goto out_free;
			}
			if (r < 0) {
				conf_error(l, s, "user id %s has no passwd entry: "
				    "give its group too, like \"%s:GID\"", text, text);
				goto out_free;
			}
		}
	} else {
		r = lookup_user(text, &uid, &gid);
		if (r < 0) {
			lookup_error(l, s, "user", text, r);
			goto out_free;
		}
	}
	if (group) {
		if (!id_from_text(l, s, "user", false, group, &id))
			goto out_free;
		gid = (gid_t)id;
		if (!(group_copy = loader_strdup(l, group)))
			goto out_free;
	}
	eu = realloc(l->exec_users, (l->n_exec_users + 1) * sizeof(*eu));
	if (!eu) {
		l->nomem = true;
		goto out_free;
	}
	l->exec_users = eu;
	l->exec_users[l->n_exec_users++] = (struct exec_user){ ep, s };
	if (upstream) {
		ep->upstream_uid = uid;
		ep->upstream_gid = gid;
		ep->upstream_user = text;
		ep->upstream_group = group_copy;
	} else {
		ep->exec_uid = uid;
		ep->exec_gid = gid;
		ep->exec_user = text;
		ep->exec_group = group_copy;
	}
	return;

out_free:
	free(group_copy);
	free(text);
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "as", RLIMIT_AS },
	{ "core", RLIMIT_CORE },
	{ "cpu", RLIMIT_CPU },
	{ "data", RLIMIT_DATA },
	{ "fsize", RLIMIT_FSIZE },
	{ "memlock", RLIMIT_MEMLOCK },
	{ "nofile", RLIMIT_NOFILE },
	{ "nproc", RLIMIT_NPROC },
	{ "stack", RLIMIT_STACK },
};

#define N_RLIMITS (sizeof(rlimit_names) / sizeof(rlimit_names[0]))

/* rlimit = { nofile = 1024; core = 0; cpu = "unlimited"; }: soft and hard
 * limit alike. Kept in the order of rlimit_names, whatever the file's. */
static void
load_rlimit(struct loader *l, struct endpoint *ep, const config_setting_t *g)
{
	unsigned long long value[N_RLIMITS];
	bool set[N_RLIMITS] = { false };
	size_t n = 0;

	if (!config_setting_is_group(g)) {
		conf_error(l, g, "'rlimit' must be a group ({ ... })");
		return;
	}
	if (config_setting_length(g) == 0) {
		conf_error(l, g, "'rlimit' must set at least one limit");
		return;
	}
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = key(s);
		size_t j;

		for (j = 0; j < N_RLIMITS; j++)
			if (strcmp(k, rlimit_names[j].name) == 0)
				break;
		if (j == N_RLIMITS) {
			conf_error(l, s, "unknown key '%s' in rlimit "
			    "(as, core, cpu, data, fsize, memlock, nofile, nproc, stack)", k);
			continue;
		}
		if (config_setting_type(s) == CONFIG_TYPE_STRING &&
		    strcmp(config_setting_get_string(s), "unlimited") == 0) {
			value[j] = RLIM_INFINITY;
		} else if ((config_setting_type(s) == CONFIG_TYPE_INT ||
		    config_setting_type(s) == CONFIG_TYPE_INT64) && config_setting_get_int64(s) >= 0) {
			value[j] = (unsigned long long)config_setting_get_int64(s);
		} else {
			conf_error(l, s, "'%s' in rlimit must be an integer >= 0 or \"unlimited\"", k);
			continue;
		}
		set[j] = true;
		n++;
	}
	if (n == 0)
		return;
	ep->rlimits = calloc(n, sizeof(*ep->rlimits));
	if (!ep->rlimits) {
		l->nomem = true;
		return;
	}
	for (size_t j = 0; j < N_RLIMITS; j++) {
		if (!set[j])
			continue;
		ep->rlimits[ep->n_rlimits++] = (struct exec_rlimit){
			.resource = rlimit_names[j].resource,
			.soft = value[j],
			.hard = value[j],
		};
	}
}

/* ---- service "forward" */

static void
load_upstream(struct loader *l, struct endpoint *ep, struct ep_state *st,
    const config_setting_t *s)
{
	bool scalar = config_setting_type(s) == CONFIG_TYPE_STRING;
	const char *text, *why;
	size_t n;

	if (scalar) {
		n = 1;
	} else if (config_setting_is_array(s) || config_setting_is_list(s)) {
		n = (size_t)config_setting_length(s);
		if (n == 0) {
			conf_error(l, s, "'upstream' must have at least one address");
			return;
		}
	} else {
		conf_error(l, s, "'upstream' must be a string or a list of strings");
		return;
	}
	ep->upstream = calloc(n, sizeof(*ep->upstream));
	st->upstream_at = calloc(n, sizeof(*st->upstream_at));
	if (!ep->upstream || !st->upstream_at) {
		l->nomem = true;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const config_setting_t *e = scalar ? s : config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_error(l, e, "'upstream' must contain only strings");
			continue;
		}
		text = config_setting_get_string(e);
		why = "?";
		if (addr_parse(text, &ep->upstream[ep->n_upstream], &why) < 0) {
			conf_error(l, e, "invalid address '%s' in 'upstream': %s", text, why);
			continue;
		}
		st->upstream_at[ep->n_upstream++] = e;
	}
}

/* proxy_*; listen_ok: listen was read without error, so has_ip and
 * has_dgram are the whole truth. */
static void
check_proxy(struct loader *l, struct ep_state *st, bool listen_ok, bool has_ip, bool has_dgram)
{
	const config_setting_t *needs_proxy[] = { st->proxy_from, st->proxy_timeout };

	if (!st->proxy_protocol) {
		for (size_t i = 0; i < 2; i++)
			if (needs_proxy[i])
				conf_error(l, needs_proxy[i], "'%s' requires 'proxy_protocol'",
				    key(needs_proxy[i]));
		return;
	}
	if (listen_ok && has_dgram)
		conf_error(l, st->proxy_protocol, "'proxy_protocol' is only allowed on stream endpoints "
		    "(tcp, unix, unix-seqpacket addresses only)");
	/* CIDR rules never match Unix peers: the list would trust everyone. */
	if (listen_ok && st->proxy_from && !has_ip)
		conf_error(l, st->proxy_from, "'proxy_from' is only allowed on endpoints with tcp addresses "
		    "(allow_uid and allow_gid pick trusted Unix senders)");
}

/* The keys of one service on another, and what exec and forward need. */
static void
check_exec_forward(struct loader *l, struct endpoint *ep, struct ep_state *st,
    const config_setting_t *g, bool has_stream, bool has_dgram)
{
	const config_setting_t *exec_only[] = { st->command, st->env, st->user, st->instances,
		st->umask, st->nice, st->rlimit };
	const config_setting_t *forward_only[] = { st->upstream, st->connect_timeout, st->balance,
		st->send_proxy, st->upstream_user };
	bool listen_ok = st->listen && !st->listen_bad;
	char buf[ADDR_STRLEN];

	if (ep->service != &service_exec) {
		for (size_t i = 0; i < sizeof(exec_only) / sizeof(exec_only[0]); i++)
			if (exec_only[i])
				conf_error(l, exec_only[i], "'%s' is only allowed with service 'exec'",
				    key(exec_only[i]));
	} else if (!st->command) {
		conf_error(l, g, "endpoint %s has no 'command' (service 'exec' requires it)", st->label);
	}

	if (ep->service != &service_forward) {
		for (size_t i = 0; i < sizeof(forward_only) / sizeof(forward_only[0]); i++)
			if (forward_only[i])
				conf_error(l, forward_only[i], "'%s' is only allowed with service 'forward'",
				    key(forward_only[i]));
		return;
	}
	if (!st->upstream) {
		conf_error(l, g, "endpoint %s has no 'upstream' (service 'forward' requires it)", st->label);
		return;
	}
	if (!listen_ok)
		return;
	/* A stream client is relayed to a stream upstream, a datagram one to a
	 * datagram upstream; one endpoint cannot be both. Only said when the
	 * service serves both kinds: otherwise the address is wrong anyway. */
	if (has_stream && has_dgram) {
		if ((ep->service->flags & SERVICE_STREAM) && (ep->service->flags & SERVICE_DGRAM))
			conf_error(l, st->listen, "service 'forward' needs 'listen' addresses of one kind: "
			    "all stream (tcp, unix, unix-seqpacket) or all datagram (udp, unix-dgram)");
		return;
	}
	if (st->send_proxy && has_dgram)
		conf_error(l, st->send_proxy, "'send_proxy' is only allowed on stream endpoints "
		    "(tcp, unix, unix-seqpacket addresses only)");
	if (st->upstream_user) {
		bool unix_up = false;

		for (size_t i = 0; i < ep->n_upstream; i++)
			unix_up |= addr_family(&ep->upstream[i]) == AF_UNIX;
		if (has_dgram || !unix_up)
			conf_error(l, st->upstream_user, "'upstream_user' applies to Unix stream upstreams "
			    "(unix, unix-seqpacket), and endpoint %s has none", st->label);
	}
	/* Only the upstreams that parsed. */
	for (size_t i = 0; i < ep->n_upstream; i++) {
		const struct addr *u = &ep->upstream[i];

		addr_format(u, buf, sizeof(buf));
		if (has_stream && !addr_is_stream(u))
			conf_error(l, st->upstream_at[i], "upstream '%s' is a datagram address, "
			    "but endpoint %s listens on stream addresses (tcp, unix, unix-seqpacket)",
			    buf, st->label);
		else if (has_dgram && addr_is_stream(u))
			conf_error(l, st->upstream_at[i], "upstream '%s' is a stream address, "
			    "but endpoint %s listens on datagram addresses (udp, unix-dgram)",
			    buf, st->label);
		for (size_t j = 0; j < ep->n_listen; j++)
			if (addr_equal(u, &ep->listen[j]))
				conf_error(l, st->upstream_at[i],
				    "upstream '%s' is a listen address of endpoint %s itself",
				    buf, st->label);
	}
}

/* Checks that need more than one key, once all keys are read. */
static void
check_endpoint(struct loader *l, struct endpoint *ep, struct ep_state *st,
    const config_setting_t *g)
{
	bool has_path = false, has_ip = false, has_stream = false, has_dgram = false;
	bool has_unix_dgram = false;
	char buf[ADDR_STRLEN];

	if (!st->name)
		conf_error(l, g, "endpoint %s has no 'name'", st->label);
	if (!st->listen)
		conf_error(l, g, "endpoint %s has no 'listen'", st->label);
	if (!st->service)
		conf_error(l, g, "endpoint %s has no 'service'", st->label);

	for (size_t i = 0; i < ep->n_listen; i++) {
		if (addr_is_unix_path(&ep->listen[i]))
			has_path = true;
		if (addr_family(&ep->listen[i]) != AF_UNIX)
			has_ip = true;
		if (addr_is_stream(&ep->listen[i]))
			has_stream = true;
		else
			has_dgram = true;
		if (ep->listen[i].type == ADDR_UNIX_DGRAM)
			has_unix_dgram = true;
		if (ep->service && !service_serves(ep->service, &ep->listen[i])) {
			addr_format(&ep->listen[i], buf, sizeof(buf));
			conf_error(l, st->listen_at[i],
			    "service '%s' does not serve %s addresses like '%s'",
			    ep->service->name,
			    addr_is_stream(&ep->listen[i]) ? "stream" : "datagram", buf);
		}
	}

	/* With a bad address we cannot tell whether a Unix path was meant. */
	if (st->listen && !st->listen_bad && !has_path) {
		const config_setting_t *only_unix[] = { st->mode, st->owner, st->group };

		for (size_t i = 0; i < 3; i++)
			if (only_unix[i])
				conf_error(l, only_unix[i],
				    "'%s' is only allowed with a Unix socket path address",
				    key(only_unix[i]));
	}
	if (st->listen && !st->listen_bad) {
		/* Peer credentials exist only for Unix peers, and CIDR rules
		 * never match them: either list would silently allow all. */
		const config_setting_t *creds[] = { st->allow_uid, st->allow_gid };
		const config_setting_t *cidr[] = { st->allow, st->deny };

		for (size_t i = 0; i < 2; i++) {
			if (creds[i] && has_ip)
				conf_error(l, creds[i], "'%s' is only allowed on Unix socket endpoints",
				    key(creds[i]));
			/* SO_PEERCRED tells nothing about a datagram's sender. */
			else if (creds[i] && has_unix_dgram)
				conf_error(l, creds[i],
				    "'%s' is only allowed on Unix stream and seqpacket endpoints",
				    key(creds[i]));
			if (cidr[i] && !has_ip)
				conf_error(l, cidr[i],
				    "'%s' is only allowed on endpoints with tcp or udp addresses",
				    key(cidr[i]));
		}
	}

	if (st->daytime_format && ep->service && ep->service != service_lookup("daytime"))
		conf_error(l, st->daytime_format,
		    "'daytime_format' is only allowed with service 'daytime'");

	check_proxy(l, st, st->listen && !st->listen_bad, has_ip, has_dgram);
	if (ep->service)
		check_exec_forward(l, ep, st, g, has_stream, has_dgram);
}

static void
load_endpoint(struct loader *l, struct sockd_config *cfg,
    const config_setting_t *g, unsigned idx)
{
	struct ep_state st = { 0 };
	struct endpoint *ep, **eps;
	const config_setting_t *n;
	long long v;
	double f;
	bool b;
	int v32;

	if (!config_setting_is_group(g)) {
		conf_error(l, g, "endpoint #%u must be a group ({ ... })", idx);
		return;
	}

	eps = realloc(cfg->endpoints, (cfg->n_endpoints + 1) * sizeof(*eps));
	if (!eps) {
		l->nomem = true;
		return;
	}
	cfg->endpoints = eps;
	ep = calloc(1, sizeof(*ep));
	if (!ep) {
		l->nomem = true;
		return;
	}
	atomic_init(&ep->refs, 1);
	cfg->endpoints[cfg->n_endpoints++] = ep;
	ep->file = loader_strdup(l, config_setting_source_file(g) ?
	    config_setting_source_file(g) : l->path);
	ep->line = (int)config_setting_source_line(g);
	ep->backlog = CONFIG_DEFAULT_BACKLOG;
	ep->v6only = false;
	ep->overload = OVERLOAD_WAIT;
	ep->udp_guard = true;
	ep->mode = -1;
	ep->owner = (uid_t)-1;
	ep->group = (gid_t)-1;
	ep->daytime_format = loader_strdup(l, DAYTIME_DEFAULT_FORMAT);
	ep->udp_rate = CONFIG_DEFAULT_UDP_RATE;
	ep->udp_burst = CONFIG_DEFAULT_UDP_BURST;
	ep->udp_sessions_per_source = CONFIG_DEFAULT_UDP_SESSIONS_PER_SOURCE;
	ep->idle_timeout = CONFIG_DEFAULT_IDLE_TIMEOUT;
	ep->proxy_timeout = CONFIG_DEFAULT_PROXY_TIMEOUT;
	ep->exec_uid = (uid_t)-1;
	ep->exec_gid = (gid_t)-1;
	ep->upstream_uid = (uid_t)-1;
	ep->upstream_gid = (gid_t)-1;
	ep->umask = -1;
	ep->nice = NICE_UNSET;
	ep->connect_timeout = CONFIG_DEFAULT_CONNECT_TIMEOUT;
	ep->balance = BALANCE_FIRST;
	atomic_init(&ep->rr_next, 0);
	/* Always there, so that counting needs no check and reads the same
	 * whether max_per_source is set or not. */
	ep->sources = source_table_new();
	if (!ep->sources)
		l->nomem = true;
	if (l->nomem)
		return;

	/* Messages about this endpoint name it, when it has a usable name. */
	n = config_setting_get_member(g, "name");
	if (n && config_setting_type(n) == CONFIG_TYPE_STRING &&
	    name_valid(config_setting_get_string(n)))
		snprintf(st.label, sizeof(st.label), "'%s'", config_setting_get_string(n));
	else
		snprintf(st.label, sizeof(st.label), "#%u", idx);

	for (int i = 0; i < config_setting_length(g) && !l->nomem; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *k = key(s);

		if (strcmp(k, "name") == 0) {
			st.name = s;
			load_name(l, cfg, ep, s);
		} else if (strcmp(k, "listen") == 0) {
			st.listen = s;
			load_listen(l, ep, &st, s);
		} else if (strcmp(k, "service") == 0) {
			st.service = s;
			load_service(l, ep, s);
		} else if (strcmp(k, "backlog") == 0) {
			if (get_integer(l, s, 1, BACKLOG_MAX, &v))
				ep->backlog = (int)v;
		} else if (strcmp(k, "v6only") == 0) {
			if (get_bool(l, s, &b))
				ep->v6only = b;
		} else if (strcmp(k, "udp_guard") == 0) {
			if (get_bool(l, s, &b))
				ep->udp_guard = b;
		} else if (strcmp(k, "overload") == 0) {
			if (get_choice(l, s, overload_choices, &v32))
				ep->overload = (enum overload)v32;
		} else if (strcmp(k, "mode") == 0) {
			st.mode = s;
			get_octal(l, s, "0660", &ep->mode);
		} else if (strcmp(k, "owner") == 0) {
			st.owner = s;
			load_id(l, ep, s, true);
		} else if (strcmp(k, "group") == 0) {
			st.group = s;
			load_id(l, ep, s, false);
		} else if (strcmp(k, "daytime_format") == 0) {
			st.daytime_format = s;
			load_daytime_format(l, ep, s);
		} else if (strcmp(k, "allow") == 0) {
			st.allow = s;
			load_rules(l, &st, s, 0);
		} else if (strcmp(k, "deny") == 0) {
			st.deny = s;
			load_rules(l, &st, s, 1);
		} else if (strcmp(k, "allow_uid") == 0) {
			st.allow_uid = s;
			load_id_list(l, ep, s, true);
		} else if (strcmp(k, "allow_gid") == 0) {
			st.allow_gid = s;
			load_id_list(l, ep, s, false);
		} else if (strcmp(k, "max_connections") == 0) {
			if (get_integer(l, s, 0, EP_MAX_CONNECTIONS_MAX, &v))
				ep->max_connections = (unsigned)v;
		} else if (strcmp(k, "max_per_source") == 0) {
			if (get_integer(l, s, 0, MAX_PER_SOURCE_MAX, &v))
				ep->max_per_source = (unsigned)v;
		} else if (strcmp(k, "rate") == 0) {
			if (get_number(l, s, 0, RATE_MAX, &f))
				ep->rate = f;
		} else if (strcmp(k, "burst") == 0) {
			st.burst = s;
			if (get_integer(l, s, 1, BURST_MAX, &v))
				ep->burst = (unsigned)v;
		} else if (strcmp(k, "udp_rate") == 0) {
			if (get_number(l, s, 0, RATE_MAX, &f))
				ep->udp_rate = f;
		} else if (strcmp(k, "udp_burst") == 0) {
			if (get_integer(l, s, 1, BURST_MAX, &v))
				ep->udp_burst = (unsigned)v;
		} else if (strcmp(k, "udp_rate_loopback") == 0) {
			if (get_bool(l, s, &b))
				ep->udp_rate_loopback = b;
		} else if (strcmp(k, "udp_sessions_per_source") == 0) {
			if (get_integer(l, s, 0, MAX_PER_SOURCE_MAX, &v))
				ep->udp_sessions_per_source = (unsigned)v;
		} else if (strcmp(k, "idle_timeout") == 0) {
			if (get_number(l, s, 0, TIMEOUT_MAX, &f))
				ep->idle_timeout = f;
		} else if (strcmp(k, "lifetime") == 0) {
			if (get_number(l, s, 0, TIMEOUT_MAX, &f))
				ep->lifetime = f;
		} else if (strcmp(k, "proxy_protocol") == 0) {
			st.proxy_protocol = s;
			get_choice(l, s, proxy_protocol_choices, &ep->proxy_protocol);
		} else if (strcmp(k, "proxy_from") == 0) {
			st.proxy_from = s;
			load_rules(l, &st, s, 2);
		} else if (strcmp(k, "proxy_timeout") == 0) {
			st.proxy_timeout = s;
			if (get_number(l, s, SHORT_TIMEOUT_MIN, SHORT_TIMEOUT_MAX, &f))
				ep->proxy_timeout = f;
		} else if (strcmp(k, "command") == 0) {
			st.command = s;
			load_command(l, ep, s);
		} else if (strcmp(k, "env") == 0) {
			st.env = s;
			load_env(l, ep, s);
		} else if (strcmp(k, "user") == 0) {
			st.user = s;
			load_exec_user(l, ep, s);
		} else if (strcmp(k, "instances") == 0) {
			st.instances = s;
			if (get_integer(l, s, 0, INSTANCES_MAX, &v))
				ep->instances = (unsigned)v;
		} else if (strcmp(k, "umask") == 0) {
			st.umask = s;
			get_octal(l, s, "0022", &ep->umask);
		} else if (strcmp(k, "nice") == 0) {
			st.nice = s;
			if (get_integer(l, s, NICE_MIN, NICE_MAX, &v))
				ep->nice = (int)v;
		} else if (strcmp(k, "rlimit") == 0) {
			st.rlimit = s;
			load_rlimit(l, ep, s);
		} else if (strcmp(k, "upstream") == 0) {
			st.upstream = s;
			load_upstream(l, ep, &st, s);
		} else if (strcmp(k, "connect_timeout") == 0) {
			st.connect_timeout = s;
			if (get_number(l, s, SHORT_TIMEOUT_MIN, SHORT_TIMEOUT_MAX, &f))
				ep->connect_timeout = f;
		} else if (strcmp(k, "balance") == 0) {
			st.balance = s;
			if (get_choice(l, s, balance_choices, &v32))
				ep->balance = (enum balance)v32;
		} else if (strcmp(k, "send_proxy") == 0) {
			st.send_proxy = s;
			get_choice(l, s, send_proxy_choices, &ep->send_proxy);
		} else if (strcmp(k, "upstream_user") == 0) {
			st.upstream_user = s;
			load_exec_user(l, ep, s);
		} else {
			conf_error(l, s, "unknown key '%s' in endpoint %s", k, st.label);
		}
	}
	/* A bucket as deep as one second of rate: a client may open that
	 * many connections at once, then waits for refills. */
	if (!st.burst) {
		ep->burst = ep->rate > 1 ? (unsigned)ep->rate : 1;
		if (ep->burst < ep->rate)
			ep->burst++;
	}
	if ((st.allow || st.deny) && !l->nomem) {
		ep->acl = acl_new(st.rules[0], st.n_rules[0], st.rules[1], st.n_rules[1]);
		if (!ep->acl)
			l->nomem = true;
	}
	if (st.proxy_from && !l->nomem) {
		ep->proxy_from = acl_new(st.rules[2], st.n_rules[2], NULL, 0);
		if (!ep->proxy_from)
			l->nomem = true;
	}
	if (!l->nomem)
		check_endpoint(l, ep, &st, g);
	for (size_t i = 0; i < 3; i++)
		free(st.rules[i]);
	free(st.listen_at);
	free(st.upstream_at);
}

static void
load_endpoints(struct loader *l, struct sockd_config *cfg, const config_setting_t *s)
{
	/* An empty "[]" is an array to libconfig; accept it like "()". */
	if (!config_setting_is_list(s) &&
	    !(config_setting_is_array(s) && config_setting_length(s) == 0)) {
		conf_error(l, s, "'endpoints' must be a list of groups: ( { ... }, { ... } )");
		return;
	}
	for (int i = 0; i < config_setting_length(s) && !l->nomem; i++)
		load_endpoint(l, cfg, config_setting_get_elem(s, (unsigned)i), (unsigned)i + 1);
}

static void
load_root(struct loader *l, struct sockd_config *cfg, const config_setting_t *root)
{
	bool have_endpoints = false;

	for (int i = 0; i < config_setting_length(root) && !l->nomem; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *k = key(s);

		if (strcmp(k, "daemon") == 0) {
			load_daemon(l, cfg, s);
		} else if (strcmp(k, "endpoints") == 0) {
			have_endpoints = true;
			load_endpoints(l, cfg, s);
		} else {
			conf_error(l, s, "unknown top-level key '%s'", k);
		}
	}
	if (!have_endpoints && !l->nomem)
		conf_error(l, NULL, "'endpoints' is missing (an empty list is \"endpoints = ();\")");
}

/* Whether path is a regular file of at most CONFIG_FILE_MAX bytes, found
 * out without ever waiting on it: O_NONBLOCK keeps open() of a FIFO from
 * blocking until a writer comes, and nothing is read. libconfig then opens
 * the file again by name, which it needs for its diagnostics; a file
 * swapped for a FIFO in between is the business of whoever can write the
 * directory, and a check runs with a time limit anyway (control.c).
 * 0, or -errno with why set: NOT_REGULAR, -EISDIR, -EFBIG (too large),
 * -ENOENT, -EACCES, -ENOMEM ... */
#define NOT_REGULAR     (-ENODEV)

static int
check_readable(const char *path, char *why, size_t len)
{
	struct stat st;
	int fd, r = 0;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		r = -errno;
		/* open() of a socket file says "No such device or address". */
		if (r == -ENXIO)
			r = NOT_REGULAR;
	} else if (fstat(fd, &st) == -1) {
		r = -errno;
	} else if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
	} else if (!S_ISREG(st.st_mode)) {
		r = NOT_REGULAR;
	} else if (st.st_size > CONFIG_FILE_MAX) {
		snprintf(why, len, "too large (%lld bytes, limit %d)", (long long)st.st_size,
		    CONFIG_FILE_MAX);
		r = -EFBIG;
	}
	if (fd != -1)
		close(fd);
	if (r == NOT_REGULAR)
		snprintf(why, len, "not a regular file");
	else if (r < 0 && r != -EFBIG)
		snprintf(why, len, "%s", strerror(-r));
	return r;
}

/* A worker thread connects to a Unix upstream as upstream_user by
 * switching its own effective ids for the connect() (service_forward.c):
 * that takes root, kept for good, so no daemon.user. Being that user
 * already needs no switch. */
static void
check_upstream_user(struct loader *l, struct endpoint *ep, const config_setting_t *s,
    const struct daemon_config *dc)
{
	uid_t uid = dc->user ? dc->uid : geteuid();
	gid_t gid = dc->user ? dc->gid : getegid();

	if (ep->service != &service_forward)
		return;
	if (ep->upstream_uid == uid && ep->upstream_gid == gid) {
		ep->upstream_uid = (uid_t)-1;
		ep->upstream_gid = (gid_t)-1;
		return;
	}
	if (dc->user)
		conf_error(l, s, "'upstream_user' needs sockd to keep root, but it switches to "
		    "daemon.user '%s': remove daemon.user or connect as '%s%s%s'",
		    dc->user, dc->user, dc->group ? ":" : "", dc->group ? dc->group : "");
	else if (geteuid() != 0)
		conf_error(l, s, "'upstream_user' needs sockd to run as root (it runs as uid %u)",
		    (unsigned)geteuid());
}

/* After privilege drop sockd cannot switch users: an exec 'user' is only
 * possible with no daemon.user, or when it is daemon.user anyway. */
static void
check_exec_users(struct loader *l, const struct daemon_config *dc)
{
	for (size_t i = 0; i < l->n_exec_users; i++) {
		struct endpoint *ep = l->exec_users[i].ep;

		if (strcmp(key(l->exec_users[i].s), "upstream_user") == 0) {
			check_upstream_user(l, ep, l->exec_users[i].s, dc);
			continue;
		}
		if (!dc->user || ep->service != &service_exec)
			continue;
		if (ep->exec_uid == dc->uid && ep->exec_gid == dc->gid) {
			/* Already who the child is: setgroups() would fail. */
			ep->exec_uid = (uid_t)-1;
			ep->exec_gid = (gid_t)-1;
			continue;
		}
		conf_error(l, l->exec_users[i].s, "exec 'user' needs sockd to run as root: "
		    "remove daemon.user or run the program as '%s%s%s'",
		    dc->user, dc->group ? ":" : "", dc->group ? dc->group : "");
	}
}

/* ------------------------------------------------------------ include_dir */

/* Packagers and editors leave "x.conf.dpkg-old", "x.conf~", ".x.conf.swp"
 * next to the files that count: only "*.conf" not starting with '.' do. */
static bool
fragment_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

static int
strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A fragment only adds endpoints. */
static void
load_fragment_root(struct loader *l, struct sockd_config *cfg, const config_setting_t *root)
{
	for (int i = 0; i < config_setting_length(root) && !l->nomem; i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *k = key(s);

		if (strcmp(k, "endpoints") == 0)
			load_endpoints(l, cfg, s);
		else
			conf_error(l, s, "'%s' is not allowed in an include_dir file (only 'endpoints')", k);
	}
}

static void
load_fragment(struct loader *l, struct sockd_config *cfg, const char *path)
{
	config_t *lc, **frags;
	char why[96];
	int r;

	/* Anything but a file to read is skipped with a warning, whatever it
	 * is: a directory, a FIFO or socket named *.conf, a symlink that
	 * leads nowhere (or to one of those). A file that cannot be read or
	 * is too large is an error. */
	r = check_readable(path, why, sizeof(why));
	if (r == -ENOMEM) {
		l->nomem = true;
		return;
	}
	if (r == NOT_REGULAR || r == -EISDIR || r == -ENOENT || r == -ELOOP) {
		diag_add(&l->warnings, path, 0, "skipped: %s", r == -ENOENT ?
		    "a dangling symbolic link" : r == -EISDIR ? "a directory" : why);
		return;
	}
	if (r < 0) {
		file_error(l, path, 0, "%s", why);
		return;
	}

	frags = realloc(l->frags, (l->n_frags + 1) * sizeof(*frags));
	lc = malloc(sizeof(*lc));
	if (frags)
		l->frags = frags;
	if (!frags || !lc) {
		free(lc);
		l->nomem = true;
		return;
	}
	config_init(lc);
	if (!config_read_file(lc, path)) {
		file_error(l, config_error_file(lc) ? config_error_file(lc) : path,
		    config_error_line(lc), "%s", config_error_text(lc));
		config_destroy(lc);
		free(lc);
		return;
	}
	l->frags[l->n_frags++] = lc;
	load_fragment_root(l, cfg, config_root_setting(lc));
}

static void
load_include_dir(struct loader *l, struct sockd_config *cfg, const char *dir)
{
	char **names = NULL, **nn, *path;
	size_t n = 0, cap = 0, len;
	struct dirent *de;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		/* The packaged config names the directory; it need not exist. */
		if (errno == ENOENT)
			return;
		if (errno == ENOMEM)
			l->nomem = true;
		else
			conf_error(l, l->include_dir, "cannot read include_dir '%s': %s",
			    dir, strerror(errno));
		return;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				conf_error(l, l->include_dir, "cannot read include_dir '%s': %s",
				    dir, strerror(errno));
			break;
		}
		if (!fragment_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				l->nomem = true;
				break;
			}
			names = nn;
		}
		if (!(names[n] = loader_strdup(l, de->d_name)))
			break;
		n++;
	}
	closedir(d);

	/* strcmp is the C locale's byte order, whatever LC_COLLATE says. */
	if (n > 0)
		qsort(names, n, sizeof(*names), strcmp_ptr);
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	for (size_t i = 0; i < n && !l->nomem; i++) {
		path = format("%.*s/%s", (int)len, len == 1 ? "" : dir, names[i]);
		if (!path) {
			l->nomem = true;
			break;
		}
		load_fragment(l, cfg, path);
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
config_load(const char *path, struct sockd_config **out, struct diag *d)
{
	struct loader l = { .path = path, .d = d };
	struct sockd_config *cfg;
	size_t start = d->n;
	char why[96];
	config_t lc;
	int r;

	*out = NULL;
	r = check_readable(path, why, sizeof(why));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		diag_add(d, path, 0, "%s", why);
		return d->n > start ? -EINVAL : -ENOMEM;
	}

	config_init(&lc);
	if (!config_read_file(&lc, path)) {
		diag_add(d, config_error_file(&lc) ? config_error_file(&lc) : path,
		    config_error_line(&lc), "%s", config_error_text(&lc));
		config_destroy(&lc);
		return d->n > start ? -EINVAL : -ENOMEM;
	}

	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		config_destroy(&lc);
		return -ENOMEM;
	}
	cfg->daemon.workers = CONFIG_DEFAULT_WORKERS;
	cfg->daemon.queue = CONFIG_DEFAULT_QUEUE;
	cfg->daemon.max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	cfg->daemon.shutdown_timeout = CONFIG_DEFAULT_SHUTDOWN_TIMEOUT;
	cfg->daemon.log_level = CONFIG_DEFAULT_LOG_LEVEL;
	cfg->daemon.uid = (uid_t)-1;
	cfg->daemon.gid = (gid_t)-1;
	cfg->file = loader_strdup(&l, path);

	if (!l.nomem)
		load_root(&l, cfg, config_root_setting(&lc));
	if (!l.nomem && cfg->daemon.include_dir) {
		size_t n = cfg->n_endpoints;

		load_include_dir(&l, cfg, cfg->daemon.include_dir);
		cfg->n_included = cfg->n_endpoints - n;
	}
	if (!l.nomem)
		check_exec_users(&l, &cfg->daemon);

	config_destroy(&lc);
	for (size_t i = 0; i < l.n_frags; i++) {
		config_destroy(l.frags[i]);
		free(l.frags[i]);
	}
	free(l.frags);
	free(l.addrs);
	free(l.exec_users);
	cfg->warnings = l.warnings.lines;
	cfg->n_warnings = l.warnings.n;
	/* A diagnostic lost to a failed allocation must not pass as success. */
	if (l.nomem || d->n - start < l.errors) {
		config_free(cfg);
		return -ENOMEM;
	}
	if (l.errors > 0) {
		config_free(cfg);
		return -EINVAL;
	}
	*out = cfg;
	return 0;
}

/* ------------------------------------------------------------ dump */

/*
 * config_dump() writes what config_load() made of the file, in the order of
 * the schema, every key with its effective value, so that the output loads
 * again to the same config and dumps to the same text:
 *
 *   daemon = {
 *     workers = 0;
 *     queue = 4096;
 *     max_connections = 65536;
 *     shutdown_timeout = 10.000;
 *     log_level = "info";
 *     user = "sockd";                  # only when set
 *     group = "sockd";                 # only when set
 *     include_dir = "/etc/sockd/conf.d";       # only when set
 *     control = "/run/sockd/control.sock";     # only when set
 *   };
 *
 *   endpoints = (
 *     { name = "echo";
 *       listen = [ "tcp:127.0.0.1:7", "unix:/run/sockd/echo.sock" ];
 *       service = "echo";
 *       backlog = 1024;
 *       v6only = false;
 *       overload = "wait";
 *       udp_guard = true;
 *       max_connections = 0;
 *       max_per_source = 0;
 *       rate = 0.0;
 *       burst = 1;
 *       udp_rate = 20.0;
 *       udp_burst = 40;
 *       udp_rate_loopback = false;
 *       udp_sessions_per_source = 256;
 *       idle_timeout = 300.0;
 *       lifetime = 0.0;
 *       allow = [ "10.0.0.0/8" ];      # only when set, canonical rules
 *       deny = [ "10.1.0.0/16" ];      # only when set
 *       mode = "0660";                 # only when set
 *       owner = "root";                # only when set, as written
 *       group = "0";                   # only when set, as written
 *       allow_uid = [ "root", "0" ];   # only when set, as written
 *       allow_gid = [ "adm" ];         # only when set, as written
 *       proxy_protocol = "v2";         # only when set, then:
 *       proxy_timeout = 3.0;
 *       proxy_from = [ "10.0.0.0/8" ]; # only when set
 *     },
 *     { name = "daytime";
 *       ...
 *       daytime_format = "%A, %B %d, %Y %H:%M:%S-%Z";   # daytime only
 *     },
 *     { name = "prog";
 *       ...
 *       command = [ "/usr/bin/prog", "-x" ];           # exec only
 *       env = [ "LANG=C" ];            # only when set
 *       user = "nobody:nogroup";       # only when set, as written
 *       instances = 0;
 *       umask = "0022";                # only when set
 *       nice = 5;                      # only when set
 *       rlimit = { core = 0; nofile = 1024; };  # only when set
 *     },
 *     { name = "mysql";
 *       ...
 *       upstream = [ "unix:/run/mysqld/mysqld.sock" ];  # forward only
 *       connect_timeout = 5.0;
 *       balance = "first";
 *       send_proxy = "v2";             # only when set
 *     }
 *   );
 *
 * No endpoints at all is "endpoints = ();", and endpoints from include_dir
 * files are printed with the others, in the order they were read.
 * Addresses are in addr_format() form; strings are escaped as libconfig
 * reads them back; the new numbers print exactly (shortest form that reads
 * back to the same double), since rounding 0.0004 to 0 would mean "none".
 * rlimit values beyond 32 bits get libconfig's "L" suffix.
 */

static void
dump_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
dump_key_string(FILE *f, const char *indent, const char *k, const char *v)
{
	fprintf(f, "%s%s = ", indent, k);
	dump_string(f, v);
	fputs(";\n", f);
}

static void
dump_key_number(FILE *f, const char *indent, const char *k, double v)
{
	char buf[64];

	if (v < 1e15 && v > -1e15 && v == (double)(long long)v) {
		snprintf(buf, sizeof(buf), "%.1f", v);
	} else {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
		/* libconfig reads "5" as an integer; a float needs '.' or 'e' */
		if (!strpbrk(buf, ".e"))
			strncat(buf, ".0", sizeof(buf) - strlen(buf) - 1);
	}
	fprintf(f, "%s%s = %s;\n", indent, k, buf);
}

static void
dump_rules(FILE *f, const char *indent, const char *k, const struct acl *acl, bool allow)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const struct acl_rule *r;
	size_t n;

	r = acl_rules(acl, allow, &n);
	if (n == 0)
		return;
	fprintf(f, "%s%s = [ ", indent, k);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		dump_string(f, acl_rule_format(&r[i], buf, sizeof(buf)));
	}
	fputs(" ];\n", f);
}

static size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v[n])
		n++;
	return n;
}

static void
dump_names(FILE *f, const char *indent, const char *k, char *const *names, size_t n)
{
	if (n == 0)
		return;
	fprintf(f, "%s%s = [ ", indent, k);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		dump_string(f, names[i]);
	}
	fputs(" ];\n", f);
}

static const char *
proxy_version_name(int v)
{
	return v == PROXY_V1 ? "v1" : v == PROXY_V2 ? "v2" : "any";
}

/* libconfig 1.5 reads a plain integer beyond 32 bits as a wrong value. */
static void
dump_int64(FILE *f, unsigned long long v)
{
	fprintf(f, v > 2147483647ULL ? "%lluL" : "%llu", v);
}

static void
dump_exec(FILE *f, const char *indent, const struct endpoint *ep)
{
	dump_names(f, indent, "command", ep->command, ep->command ? strv_len(ep->command) : 0);
	dump_names(f, indent, "env", ep->env, ep->env ? strv_len(ep->env) : 0);
	if (ep->exec_user) {
		fprintf(f, "%suser = ", indent);
		if (ep->exec_group) {
			char *s = format("%s:%s", ep->exec_user, ep->exec_group);

			dump_string(f, s ? s : ep->exec_user);
			free(s);
		} else {
			dump_string(f, ep->exec_user);
		}
		fputs(";\n", f);
	}
	fprintf(f, "%sinstances = %u;\n", indent, ep->instances);
	if (ep->umask >= 0)
		fprintf(f, "%sumask = \"%04o\";\n", indent, (unsigned)ep->umask);
	if (ep->nice != NICE_UNSET)
		fprintf(f, "%snice = %d;\n", indent, ep->nice);
	if (ep->n_rlimits == 0)
		return;
	fprintf(f, "%srlimit = {", indent);
	for (size_t i = 0; i < ep->n_rlimits; i++) {
		const char *name = "?";

		for (size_t j = 0; j < N_RLIMITS; j++)
			if (rlimit_names[j].resource == ep->rlimits[i].resource)
				name = rlimit_names[j].name;
		fprintf(f, " %s = ", name);
		if (ep->rlimits[i].soft == RLIM_INFINITY)
			fputs("\"unlimited\"", f);
		else
			dump_int64(f, ep->rlimits[i].soft);
		fputc(';', f);
	}
	fputs(" };\n", f);
}

static void
dump_forward(FILE *f, const char *indent, const struct endpoint *ep)
{
	char buf[ADDR_STRLEN];

	fprintf(f, "%supstream = [ ", indent);
	for (size_t i = 0; i < ep->n_upstream; i++) {
		if (i > 0)
			fputs(", ", f);
		dump_string(f, addr_format(&ep->upstream[i], buf, sizeof(buf)));
	}
	fputs(" ];\n", f);
	dump_key_number(f, indent, "connect_timeout", ep->connect_timeout);
	dump_key_string(f, indent, "balance", ep->balance == BALANCE_ROUNDROBIN ? "roundrobin" : "first");
	if (ep->send_proxy)
		dump_key_string(f, indent, "send_proxy", proxy_version_name(ep->send_proxy));
	if (ep->upstream_user) {
		char *u = ep->upstream_group ? format("%s:%s", ep->upstream_user, ep->upstream_group) : NULL;

		dump_key_string(f, indent, "upstream_user", u ? u : ep->upstream_user);
		free(u);
	}
}

static void
dump_endpoint(FILE *f, const struct endpoint *ep)
{
	char buf[ADDR_STRLEN];
	const char *in = "    ";

	fputs("  { name = ", f);
	dump_string(f, ep->name ? ep->name : "");
	fputs(";\n", f);
	fprintf(f, "%slisten = [ ", in);
	for (size_t i = 0; i < ep->n_listen; i++) {
		if (i > 0)
			fputs(", ", f);
		dump_string(f, addr_format(&ep->listen[i], buf, sizeof(buf)));
	}
	fputs(" ];\n", f);
	dump_key_string(f, in, "service", ep->service ? ep->service->name : "");
	fprintf(f, "%sbacklog = %d;\n", in, ep->backlog);
	fprintf(f, "%sv6only = %s;\n", in, ep->v6only ? "true" : "false");
	dump_key_string(f, in, "overload", ep->overload == OVERLOAD_REJECT ? "reject" : "wait");
	fprintf(f, "%sudp_guard = %s;\n", in, ep->udp_guard ? "true" : "false");
	fprintf(f, "%smax_connections = %u;\n", in, ep->max_connections);
	fprintf(f, "%smax_per_source = %u;\n", in, ep->max_per_source);
	dump_key_number(f, in, "rate", ep->rate);
	fprintf(f, "%sburst = %u;\n", in, ep->burst);
	dump_key_number(f, in, "udp_rate", ep->udp_rate);
	fprintf(f, "%sudp_burst = %u;\n", in, ep->udp_burst);
	fprintf(f, "%sudp_rate_loopback = %s;\n", in, ep->udp_rate_loopback ? "true" : "false");
	fprintf(f, "%sudp_sessions_per_source = %u;\n", in, ep->udp_sessions_per_source);
	dump_key_number(f, in, "idle_timeout", ep->idle_timeout);
	dump_key_number(f, in, "lifetime", ep->lifetime);
	if (ep->acl) {
		dump_rules(f, in, "allow", ep->acl, true);
		dump_rules(f, in, "deny", ep->acl, false);
	}
	if (ep->mode >= 0)
		fprintf(f, "%smode = \"%04o\";\n", in, (unsigned)ep->mode);
	if (ep->owner_name)
		dump_key_string(f, in, "owner", ep->owner_name);
	if (ep->group_name)
		dump_key_string(f, in, "group", ep->group_name);
	dump_names(f, in, "allow_uid", ep->allow_uid_names, ep->n_allow_uid);
	dump_names(f, in, "allow_gid", ep->allow_gid_names, ep->n_allow_gid);
	if (ep->proxy_protocol) {
		dump_key_string(f, in, "proxy_protocol", proxy_version_name(ep->proxy_protocol));
		dump_key_number(f, in, "proxy_timeout", ep->proxy_timeout);
		if (ep->proxy_from)
			dump_rules(f, in, "proxy_from", ep->proxy_from, true);
	}
	if (ep->service && strcmp(ep->service->name, "daytime") == 0 && ep->daytime_format)
		dump_key_string(f, in, "daytime_format", ep->daytime_format);
	if (ep->service == &service_exec)
		dump_exec(f, in, ep);
	if (ep->service == &service_forward)
		dump_forward(f, in, ep);
	fputs("  }", f);
}

void
config_dump(const struct sockd_config *cfg, FILE *f)
{
	const struct daemon_config *dc = &cfg->daemon;

	fputs("daemon = {\n", f);
	fprintf(f, "  workers = %u;\n", dc->workers);
	fprintf(f, "  queue = %u;\n", dc->queue);
	fprintf(f, "  max_connections = %u;\n", dc->max_connections);
	fprintf(f, "  shutdown_timeout = %.3f;\n", dc->shutdown_timeout);
	dump_key_string(f, "  ", "log_level", log_level_to_string(dc->log_level));
	if (dc->user)
		dump_key_string(f, "  ", "user", dc->user);
	if (dc->group)
		dump_key_string(f, "  ", "group", dc->group);
	/* Endpoints read from include_dir are printed with the others; read
	 * again, the directory would add them twice. */
	if (dc->include_dir && cfg->n_included > 0) {
		fputs("  # ", f);
		dump_key_string(f, "", "include_dir", dc->include_dir);
		fputs("  # (already read: its endpoints are printed below)\n", f);
	} else if (dc->include_dir) {
		dump_key_string(f, "  ", "include_dir", dc->include_dir);
	}
	if (dc->control)
		dump_key_string(f, "  ", "control", dc->control);
	fputs("};\n\n", f);

	if (cfg->n_endpoints == 0) {
		fputs("endpoints = ();\n", f);
		return;
	}
	fputs("endpoints = (\n", f);
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const struct endpoint *ep = cfg->endpoints[i];

		if (i >= cfg->n_endpoints - cfg->n_included &&
		    (i == 0 || strcmp(ep->file, cfg->endpoints[i - 1]->file) != 0)) {
			fputs("  # from ", f);
			dump_string(f, ep->file);
			fputs("\n", f);
		}
		dump_endpoint(f, ep);
		fputs(i + 1 < cfg->n_endpoints ? ",\n" : "\n", f);
	}
	fputs(");\n", f);
}
