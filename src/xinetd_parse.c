/* xinetd's configuration grammar (parse.c, parsesup.c, parsers.c of
 * xinetd 2.3.15), re-implemented for conversion. Where xinetd disables a
 * service for a value it cannot parse, the entry gets a reason; where it
 * ignores a line with a warning, the entry gets a note; an attribute it
 * does not know is kept in extra[]. Like xinetd, a broken entry skips
 * everything up to the next line holding only '}'. Unlike xinetd, a broken
 * defaults entry does not stop everything: it makes every service parsed
 * after it unusable, since their access rules would be missing. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "xinetd_parse.h"

enum attr_id {
	A_ID, A_TYPE, A_FLAGS, A_DISABLE, A_SOCKET_TYPE, A_PROTOCOL, A_WAIT,
	A_USER, A_GROUP, A_SERVER, A_SERVER_ARGS, A_PORT, A_BIND, A_ONLY_FROM,
	A_NO_ACCESS, A_INSTANCES, A_PER_SOURCE, A_CPS, A_ENV, A_PASSENV,
	A_LOG_ON_SUCCESS, A_LOG_ON_FAILURE, A_REDIRECT, A_DISABLED, A_ENABLED,
	A_OTHER,                /* known to xinetd, not translated: kept in extra[] */
};

_Static_assert(A_OTHER < XINETD_N_ATTRS, "xinetd_entry.at_ holds every attribute");

#define ANY (-1)                /* zero or more values, '=' only */
#define MOD (-2)                /* zero or more values, '=', '+=' and '-=' */

struct attr {
	const char *name;
	enum attr_id id;
	int nvalues;
};

/* xinetd's service_attributes[] and default_attributes[]. */
static const struct attr service_attrs[] = {
	{ "socket_type", A_SOCKET_TYPE, 1 }, { "protocol", A_PROTOCOL, 1 },
	{ "wait", A_WAIT, 1 }, { "user", A_USER, 1 }, { "group", A_GROUP, 1 },
	{ "server", A_SERVER, 1 }, { "server_args", A_SERVER_ARGS, ANY },
	{ "instances", A_INSTANCES, 1 }, { "log_on_success", A_LOG_ON_SUCCESS, MOD },
	{ "log_on_failure", A_LOG_ON_FAILURE, MOD }, { "log_type", A_OTHER, ANY },
	{ "only_from", A_ONLY_FROM, MOD }, { "no_access", A_NO_ACCESS, MOD },
	{ "access_times", A_OTHER, ANY }, { "type", A_TYPE, ANY },
	{ "rpc_version", A_OTHER, 1 }, { "rpc_number", A_OTHER, 1 }, { "id", A_ID, 1 },
	{ "env", A_ENV, MOD }, { "port", A_PORT, 1 }, { "passenv", A_PASSENV, MOD },
	{ "flags", A_FLAGS, ANY }, { "nice", A_OTHER, 1 }, { "redirect", A_REDIRECT, 2 },
	{ "banner", A_OTHER, 1 }, { "bind", A_BIND, 1 }, { "interface", A_BIND, 1 },
	{ "per_source", A_PER_SOURCE, 1 }, { "groups", A_OTHER, 1 },
	{ "banner_success", A_OTHER, 1 }, { "banner_fail", A_OTHER, 1 },
	{ "cps", A_CPS, 2 }, { "disable", A_DISABLE, 1 }, { "max_load", A_OTHER, 1 },
	{ "rlimit_as", A_OTHER, 1 }, { "rlimit_cpu", A_OTHER, 1 },
	{ "rlimit_data", A_OTHER, 1 }, { "rlimit_rss", A_OTHER, 1 },
	{ "rlimit_stack", A_OTHER, 1 }, { "rlimit_files", A_OTHER, 1 },
	{ "v6only", A_OTHER, 1 }, { "deny_time", A_OTHER, 1 }, { "umask", A_OTHER, 1 },
	{ "mdns", A_OTHER, 1 }, { "libwrap", A_OTHER, 1 },
	{ NULL, 0, 0 },
};

static const struct attr default_attrs[] = {
	{ "log_type", A_OTHER, MOD }, { "log_on_success", A_LOG_ON_SUCCESS, MOD },
	{ "log_on_failure", A_LOG_ON_FAILURE, MOD }, { "disabled", A_DISABLED, MOD },
	{ "no_access", A_NO_ACCESS, MOD }, { "only_from", A_ONLY_FROM, MOD },
	{ "instances", A_INSTANCES, 1 }, { "passenv", A_PASSENV, MOD },
	{ "banner", A_OTHER, 1 }, { "bind", A_BIND, 1 }, { "interface", A_BIND, 1 },
	{ "per_source", A_PER_SOURCE, 1 }, { "groups", A_OTHER, 1 },
	{ "banner_success", A_OTHER, 1 }, { "banner_fail", A_OTHER, 1 },
	{ "cps", A_CPS, 2 }, { "enabled", A_ENABLED, MOD }, { "max_load", A_OTHER, 1 },
	{ "v6only", A_OTHER, 1 }, { "umask", A_OTHER, 1 }, { "mdns", A_OTHER, 1 },
	{ NULL, 0, 0 },
};

struct name_bit {
	const char *name;
	unsigned bit;           /* 0: valid in xinetd, not translated */
};

static const struct name_bit flag_names[] = {
	{ "REUSE", XINETD_FLAG_REUSE }, { "IPv4", XINETD_FLAG_IPV4 },
	{ "IPv6", XINETD_FLAG_IPV6 }, { "NAMEINARGS", XINETD_FLAG_NAMEINARGS },
	{ "INTERCEPT", 0 }, { "NORETRY", 0 }, { "IDONLY", 0 }, { "NODELAY", 0 },
	{ "KEEPALIVE", 0 }, { "NOLIBWRAP", 0 }, { "SENSOR", 0 }, { "LABELED", 0 },
	{ NULL, 0 },
};

static const struct name_bit success_names[] = {
	{ "PID", XINETD_LOG_PID }, { "HOST", XINETD_LOG_HOST },
	{ "USERID", XINETD_LOG_USERID }, { "EXIT", XINETD_LOG_EXIT },
	{ "DURATION", XINETD_LOG_DURATION }, { "TRAFFIC", XINETD_LOG_TRAFFIC },
	{ NULL, 0 },
};

static const struct name_bit failure_names[] = {
	{ "HOST", XINETD_LOG_HOST }, { "USERID", XINETD_LOG_USERID },
	{ "ATTEMPT", XINETD_LOG_ATTEMPT }, { NULL, 0 },
};

static const char *const builtins[] = { "echo", "discard", "chargen", "daytime", "time" };

enum state { TOP, EXPECT_OPEN, IN_ENTRY, SKIP_TO_CLOSE };

struct parser {
	struct xinetd_conf *c;
	const char *file;
	enum state state;
	size_t cur;             /* index of the open entry */
};

static int __attribute__((format(printf, 3, 4)))
fail(struct xinetd_entry *e, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (e->reason)
		return 0;
	va_start(ap, fmt);
	n = vasprintf(&e->reason, fmt, ap);
	va_end(ap);
	if (n < 0) {
		e->reason = NULL;
		return -ENOMEM;
	}
	e->reason_line = line;
	return 0;
}

static int __attribute__((format(printf, 3, 4)))
note(struct xinetd_entry *e, unsigned line, const char *fmt, ...)
{
	struct xinetd_note *notes = realloc(e->notes, (e->n_notes + 1) * sizeof(*notes));
	va_list ap;
	int n;

	if (!notes)
		return -ENOMEM;
	e->notes = notes;
	va_start(ap, fmt);
	n = vasprintf(&notes[e->n_notes].msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	notes[e->n_notes++].line = line;
	return 0;
}

static struct xinetd_entry *
new_entry(struct parser *p, enum xinetd_kind kind, unsigned line)
{
	struct xinetd_conf *c = p->c;
	struct xinetd_entry *e;

	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct xinetd_entry *v = realloc(c->entries, cap * sizeof(*v));

		if (!v)
			return NULL;
		c->entries = v;
		c->cap = cap;
	}
	p->cur = c->n;
	e = &c->entries[c->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->file = p->file;
	e->line = line;
	e->wait = -1;
	e->instances = XINETD_UNSET;
	e->per_source = XINETD_UNSET;
	return e;
}

static struct xinetd_entry *
defaults_of(struct xinetd_conf *c)
{
	return c->defaults ? &c->entries[c->defaults - 1] : NULL;
}

/* A line holding one ch and blanks only (xinetd's line_has_only_1_char). */
static bool
only_char(const struct textconf_line *l, char ch)
{
	bool seen = false;

	for (size_t i = 0; i < l->len; i++) {
		if (l->text[i] == ch && !seen)
			seen = true;
		else if (l->text[i] != ' ' && l->text[i] != '\t')
			return false;
	}
	return seen;
}

static long
parse_number(const char *s, long max)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	return v;
}

static int
parse_bits(struct xinetd_entry *e, unsigned line, const struct strv *values,
	   const struct name_bit *names, unsigned *mask, enum xinetd_op op,
	   const char *what)
{
	if (op == XINETD_SET)
		*mask = 0;
	for (size_t i = 0; i < values->n; i++) {
		const struct name_bit *nb = names;

		while (nb->name && strcmp(nb->name, values->v[i]) != 0)
			nb++;
		if (!nb->name)
			return fail(e, line, "bad %s '%s'", what, values->v[i]);
		if (op == XINETD_REMOVE)
			*mask &= ~nb->bit;
		else
			*mask |= nb->bit;
	}
	return 0;
}

/* '=' replaces, '+=' adds what is not there yet, '-=' removes. */
static int
apply_list(struct strv *list, const struct strv *values, enum xinetd_op op)
{
	if (op == XINETD_SET)
		strv_free(list);
	for (size_t i = 0; i < values->n; i++) {
		if (op == XINETD_REMOVE)
			strv_remove(list, values->v[i]);
		else if (!strv_contains(list, values->v[i]) && strv_push(list, values->v[i]) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
set_string(char **slot, const char *value)
{
	free(*slot);
	*slot = strdup(value);
	return *slot ? 0 : -ENOMEM;
}

static int
keep_extra(struct xinetd_entry *e, const char *name, enum xinetd_op op,
	   const struct strv *values, unsigned line, bool known)
{
	struct xinetd_attr *v = realloc(e->extra, (e->n_extra + 1) * sizeof(*v));
	struct xinetd_attr *a;

	if (!v)
		return -ENOMEM;
	e->extra = v;
	a = &v[e->n_extra++];
	memset(a, 0, sizeof(*a));
	a->op = op;
	a->line = line;
	a->known = known;
	a->name = strdup(name);
	if (!a->name || strv_copy(&a->values, values) < 0)
		return -ENOMEM;
	return 0;
}

static int
parse_yes_no(struct xinetd_entry *e, unsigned line, const char *name, const char *v, int *out)
{
	if (strcmp(v, "yes") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0)
		*out = 0;
	else
		return fail(e, line, "bad value '%s' for %s (yes or no)", v, name);
	return 0;
}

static int
parse_limit(struct xinetd_entry *e, unsigned line, const char *name, const char *v, long *out)
{
	long n;

	if (strcmp(v, "UNLIMITED") == 0) {
		*out = XINETD_UNLIMITED;
		return 0;
	}
	n = parse_number(v, INT_MAX);
	if (n < 0)
		return fail(e, line, "bad value '%s' for %s (a number or UNLIMITED)", v, name);
	*out = n;
	return 0;
}

/* The typed value of one attribute line; a bad value sets the reason. */
static int
apply(struct xinetd_entry *e, enum attr_id id, const char *name, enum xinetd_op op,
      const struct strv *values, unsigned line)
{
	/* The caller checked the count; "" keeps a miscount a bad value. */
	const char *v0 = values->n > 0 ? values->v[0] : "";
	const char *v1 = values->n > 1 ? values->v[1] : "";
	int wait = 0, rc;
	long n;

	switch (id) {
	case A_ID:
		return set_string(&e->id, v0);
	case A_TYPE:
		if (values->n == 0)
			return fail(e, line, "type needs a value");
		for (size_t i = 0; i < values->n; i++) {
			const char *t = values->v[i];

			if (strcmp(t, "INTERNAL") == 0)
				e->type |= XINETD_TYPE_INTERNAL;
			else if (strcmp(t, "UNLISTED") == 0)
				e->type |= XINETD_TYPE_UNLISTED;
			else if (strcmp(t, "RPC") == 0)
				return fail(e, line, "RPC services are not supported");
			else if (strcmp(t, "TCPMUX") == 0 || strcmp(t, "TCPMUXPLUS") == 0)
				return fail(e, line, "TCPMUX services are not supported");
			else if (strcmp(t, "SPECIAL") == 0)
				return fail(e, line, "SPECIAL (xinetd's own) services are not supported");
			else
				return fail(e, line, "bad service type '%s'", t);
		}
		return 0;
	case A_FLAGS: {
		struct strv untranslated = { 0 };

		if (values->n == 0)
			return fail(e, line, "flags needs a value");
		for (size_t i = 0; i < values->n; i++) {
			const struct name_bit *nb = flag_names;

			while (nb->name && strcmp(nb->name, values->v[i]) != 0)
				nb++;
			if (!nb->name) {
				strv_free(&untranslated);
				return fail(e, line, "bad service flag '%s'", values->v[i]);
			}
			e->flags |= nb->bit;
			if (!nb->bit && strv_push(&untranslated, nb->name) < 0) {
				strv_free(&untranslated);
				return -ENOMEM;
			}
		}
		rc = untranslated.n ? keep_extra(e, name, op, &untranslated, line, true) : 0;
		strv_free(&untranslated);
		return rc;
	}
	case A_DISABLE:
		rc = parse_yes_no(e, line, name, v0, &wait);
		if (rc == 0 && !e->reason)
			e->disabled = wait == 1;
		return rc;
	case A_SOCKET_TYPE:
		if (strcmp(v0, "stream") == 0)
			e->socktype = SOCK_STREAM;
		else if (strcmp(v0, "dgram") == 0)
			e->socktype = SOCK_DGRAM;
		else if (strcmp(v0, "raw") == 0 || strcmp(v0, "seqpacket") == 0)
			return fail(e, line, "socket type %s is not supported (stream or dgram)", v0);
		else
			return fail(e, line, "bad socket type '%s'", v0);
		return 0;
	case A_PROTOCOL:
		if (strcasecmp(v0, "tcp") == 0)
			return set_string(&e->protocol, "tcp");
		if (strcasecmp(v0, "udp") == 0)
			return set_string(&e->protocol, "udp");
		return fail(e, line, "protocol '%s' is not supported (tcp or udp)", v0);
	case A_WAIT:
		return parse_yes_no(e, line, name, v0, &e->wait);
	case A_USER:
		return set_string(&e->user, v0);
	case A_GROUP:
		return set_string(&e->group, v0);
	case A_SERVER:
		if (v0[0] != '/')
			return fail(e, line, "server '%s' is not an absolute path", v0);
		return set_string(&e->server, v0);
	case A_SERVER_ARGS:
		if (values->n == 0)
			return fail(e, line, "server_args needs a value");
		return strv_copy(&e->server_args, values);
	case A_PORT:
		n = parse_number(v0, 65535);
		if (n < 1)
			return fail(e, line, "bad port '%s' (1 to 65535)", v0);
		e->port = (unsigned)n;
		return 0;
	case A_BIND:
		return set_string(&e->bind, v0);
	case A_ONLY_FROM:
	case A_NO_ACCESS:
		for (size_t i = 0; i < values->n; i++)
			if (strchr(values->v[i], ',') && !strchr(values->v[i], '{'))
				return fail(e, line, "address '%s' has a comma in it", values->v[i]);
		if (id == A_ONLY_FROM)
			e->has_only_from = true;
		return apply_list(id == A_ONLY_FROM ? &e->only_from : &e->no_access, values, op);
	case A_INSTANCES:
		return parse_limit(e, line, name, v0, &e->instances);
	case A_PER_SOURCE:
		return parse_limit(e, line, name, v0, &e->per_source);
	case A_CPS: {
		long max = parse_number(v0, INT_MAX);
		long wait_s = parse_number(v1, INT_MAX);

		if (max < 0 || wait_s < 0)
			return fail(e, line, "bad cps '%s %s' (connections a second, "
				    "seconds of pause)", v0, v1);
		e->has_cps = true;
		e->cps_max = (unsigned)max;
		e->cps_wait = (unsigned)wait_s;
		return 0;
	}
	case A_ENV:
		if (op == XINETD_REMOVE)
			return fail(e, line, "operator '-=' is not supported for env");
		for (size_t i = 0; i < values->n; i++)
			if (!strchr(values->v[i], '=') || values->v[i][0] == '=')
				return fail(e, line, "env '%s' is not NAME=value", values->v[i]);
		if (op == XINETD_SET)
			strv_free(&e->env);
		for (size_t i = 0; i < values->n; i++)
			if (strv_push(&e->env, values->v[i]) < 0)
				return -ENOMEM;
		return 0;
	case A_PASSENV:
		e->has_passenv = true;
		return apply_list(&e->passenv, values, op);
	case A_LOG_ON_SUCCESS:
		return parse_bits(e, line, values, success_names, &e->log_on_success, op,
				  "log_on_success flag");
	case A_LOG_ON_FAILURE:
		return parse_bits(e, line, values, failure_names, &e->log_on_failure, op,
				  "log_on_failure flag");
	case A_REDIRECT:
		if (!*v1 || parse_number(v1, 65535) == 0)
			return fail(e, line, "bad redirect port '%s'", v1);
		if (set_string(&e->redirect_host, v0) < 0)
			return -ENOMEM;
		return set_string(&e->redirect_port, v1);
	case A_DISABLED:
		return apply_list(&e->disabled_ids, values, op);
	case A_ENABLED:
		e->has_enabled = true;
		return apply_list(&e->enabled_ids, values, op);
	case A_OTHER:
		return keep_extra(e, name, op, values, line, true);
	}
	return 0;
}

static const char *const op_names[] = { "=", "+=", "-=" };

const char *
xinetd_op_name(enum xinetd_op op)
{
	return op <= XINETD_REMOVE ? op_names[op] : "?";
}

/* "name OP value ..." (xinetd's get_attr_op and parse_line). */
static int
attribute_line(struct parser *p, struct xinetd_entry *e, const struct textconf_line *l)
{
	const struct attr *table = e->kind == XINETD_DEFAULTS ? default_attrs : service_attrs;
	const struct attr *a;
	struct strv values = { 0 };
	enum xinetd_op op;
	size_t i = 0, name_start, name_len;
	char *name = NULL;
	int rc = 0;

	while (i < l->len && (l->text[i] == ' ' || l->text[i] == '\t'))
		i++;
	name_start = i;
	while (i < l->len && l->text[i] != ' ' && l->text[i] != '\t' && l->text[i] != '=')
		i++;
	name_len = i - name_start;
	if (i < l->len && l->text[i] == '=')
		return fail(e, l->no, "attribute '%.*s' needs a blank before '='",
			    (int)name_len, l->text + name_start);
	while (i < l->len && (l->text[i] == ' ' || l->text[i] == '\t'))
		i++;
	if (i == l->len)
		return fail(e, l->no, "nothing after attribute '%.*s'", (int)name_len,
			    l->text + name_start);
	if (l->text[i] == '=') {
		op = XINETD_SET;
		i += 1;
	} else if ((l->text[i] == '+' || l->text[i] == '-') && i + 1 < l->len &&
		   l->text[i + 1] == '=') {
		op = l->text[i] == '+' ? XINETD_ADD : XINETD_REMOVE;
		i += 2;
	} else {
		return fail(e, l->no, "bad operator after attribute '%.*s' (=, += or -=)",
			    (int)name_len, l->text + name_start);
	}
	name = strndup(l->text + name_start, name_len);
	if (!name || textconf_words(l->text + i, l->len - i, &values) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	/* A broken entry only waits for its '}'. */
	if (e->reason)
		goto out;

	for (a = table; a->name && strcmp(a->name, name) != 0; a++)
		;
	if (!a->name) {
		const struct attr *s = service_attrs;

		while (s->name && strcmp(s->name, name) != 0)
			s++;
		if (e->kind == XINETD_DEFAULTS && s->name)
			rc = note(e, l->no, "attribute '%s' does not belong in defaults; ignored",
				  name);
		else
			rc = keep_extra(e, name, op, &values, l->no, false);
		goto out;
	}
	if (a->nvalues != MOD) {
		if (e->set_ & (1ull << a->id) && a->id != A_OTHER) {
			rc = note(e, l->no, "attribute '%s' already set; ignored", name);
			goto out;
		}
		if (op != XINETD_SET) {
			rc = note(e, l->no, "operator '%s' cannot be used for '%s'; ignored",
				  xinetd_op_name(op), name);
			goto out;
		}
	} else if (e->kind == XINETD_DEFAULTS && op == XINETD_SET && a->id != A_OTHER) {
		op = XINETD_ADD;        /* defaults accumulate */
	}
	if (a->nvalues > 0 && (size_t)a->nvalues != values.n) {
		rc = note(e, l->no, "attribute '%s' expects %d value%s, found %zu; ignored",
			  name, a->nvalues, a->nvalues == 1 ? "" : "s", values.n);
		goto out;
	}
	rc = apply(e, a->id, name, op, &values, l->no);
	if (rc == 0) {
		e->set_ |= 1ull << a->id;
		e->at_[a->id] = (struct xinetd_where){ p->file, l->no };
	}
out:
	free(name);
	strv_free(&values);
	return rc;
}

static bool
builtin(const char *name)
{
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
		if (strcmp(builtins[i], name) == 0)
			return true;
	return false;
}

/* xinetd copies the defaults' modifiable lists into a service before its
 * own lines ('=' then replaces them, '+=' adds). */
static int
open_service(struct xinetd_conf *c, struct xinetd_entry *e)
{
	struct xinetd_entry *d = defaults_of(c);

	if (!d || d->reason)
		return 0;
	memcpy(e->at_, d->at_, sizeof(e->at_));
	if (d->set_ & (1ull << A_ONLY_FROM)) {
		e->has_only_from = true;
		if (strv_copy(&e->only_from, &d->only_from) < 0)
			return -ENOMEM;
	}
	if (strv_copy(&e->no_access, &d->no_access) < 0)
		return -ENOMEM;
	if (d->set_ & (1ull << A_PASSENV)) {
		e->has_passenv = true;
		if (strv_copy(&e->passenv, &d->passenv) < 0)
			return -ENOMEM;
	}
	e->log_on_success = d->log_on_success;
	e->log_on_failure = d->log_on_failure;
	return 0;
}

static int
close_service(struct xinetd_conf *c, struct xinetd_entry *e)
{
	struct xinetd_entry *d = defaults_of(c);
	unsigned at = e->end_line ? e->end_line : e->line;

	if (!e->id && set_string(&e->id, e->name) < 0)
		return -ENOMEM;
	if (d && d->reason)
		return fail(e, e->line, "the defaults entry at %s:%u is invalid", d->file, d->line);
	if (d) {
		if (!(e->set_ & (1ull << A_INSTANCES)))
			e->instances = d->instances;
		if (!(e->set_ & (1ull << A_PER_SOURCE)))
			e->per_source = d->per_source;
		if (!(e->set_ & (1ull << A_BIND)) && d->bind && set_string(&e->bind, d->bind) < 0)
			return -ENOMEM;
		if (!(e->set_ & (1ull << A_CPS)) && d->has_cps) {
			e->has_cps = true;
			e->cps_max = d->cps_max;
			e->cps_wait = d->cps_wait;
		}
		if (strv_contains(&d->disabled_ids, e->id) ||
		    (d->has_enabled && !strv_contains(&d->enabled_ids, e->id)))
			e->disabled = true;
	}
	if (e->reason)
		return 0;

	/* xinetd's required attributes (xinetd.conf(5)). */
	if (!e->socktype)
		return fail(e, at, "socket_type is missing");
	if (e->wait < 0)
		return fail(e, at, "wait is missing");
	if (!e->protocol &&
	    set_string(&e->protocol, e->socktype == SOCK_STREAM ? "tcp" : "udp") < 0)
		return -ENOMEM;
	if ((e->socktype == SOCK_STREAM) != (strcmp(e->protocol, "tcp") == 0))
		return fail(e, at, "protocol %s does not go with socket_type %s", e->protocol,
			    e->socktype == SOCK_STREAM ? "stream" : "dgram");
	if (e->type & XINETD_TYPE_UNLISTED && !e->port)
		return fail(e, at, "an UNLISTED service needs a port");
	if (e->type & XINETD_TYPE_INTERNAL) {
		if (!builtin(e->name))
			return fail(e, at, "no internal service '%s' (echo, discard, chargen, "
				    "daytime or time)", e->name);
		return 0;
	}
	if (e->redirect_host) {
		if (e->socktype != SOCK_STREAM)
			return fail(e, at, "redirect needs a stream service");
		return 0;
	}
	if (!e->server)
		return fail(e, at, "server is missing");
	if (!e->user)
		return fail(e, at, "user is missing");
	if (e->flags & XINETD_FLAG_NAMEINARGS && e->server_args.n == 0)
		return fail(e, at, "NAMEINARGS needs server_args (argv[0] first)");
	return 0;
}

static int
open_entry(struct parser *p, const struct textconf_line *l, const struct strv *w)
{
	struct xinetd_conf *c = p->c;
	struct xinetd_entry *e;
	const char *kw = w->v[0];

	if (strcmp(kw, "service") == 0 || strcmp(kw, "include") == 0 ||
	    strcmp(kw, "includedir") == 0) {
		enum xinetd_kind kind = kw[1] == 'e' ? XINETD_SERVICE :
					kw[7] == 'd' ? XINETD_INCLUDEDIR : XINETD_INCLUDE;

		e = new_entry(p, kind, l->no);
		if (!e)
			return -ENOMEM;
		if (w->n < 2) {
			e->kind = XINETD_BAD;
			p->state = kind == XINETD_SERVICE ? SKIP_TO_CLOSE : TOP;
			return fail(e, l->no, "'%s' needs a name", kw);
		}
		if (set_string(&e->name, w->v[1]) < 0)
			return -ENOMEM;
		if (w->n > 2 && note(e, l->no, "words after '%s %s' ignored", kw, w->v[1]) < 0)
			return -ENOMEM;
		if (kind != XINETD_SERVICE) {
			p->state = TOP;
			return 0;
		}
		p->state = EXPECT_OPEN;
		return open_service(c, e);
	}
	if (strcmp(kw, "defaults") == 0) {
		e = new_entry(p, XINETD_DEFAULTS, l->no);
		if (!e)
			return -ENOMEM;
		p->state = EXPECT_OPEN;
		if (c->defaults) {
			struct xinetd_entry *d = defaults_of(c);

			return fail(e, l->no, "only one defaults entry is allowed (the first "
				    "is at %s:%u); this one is ignored", d->file, d->line);
		}
		c->defaults = c->n;
		return 0;
	}
	e = new_entry(p, XINETD_BAD, l->no);
	if (!e)
		return -ENOMEM;
	p->state = SKIP_TO_CLOSE;
	return fail(e, l->no, "expected service, defaults, include or includedir, not '%s' "
		    "(lines up to the next '}' are skipped, as xinetd does)", kw);
}

static int
parse_lines(struct parser *p, const char *text, size_t len)
{
	struct textconf_line l;
	size_t pos = 0;
	unsigned no = 0;
	int rc = 0;

	while (rc >= 0 && textconf_next_line(text, len, &pos, &no, &l)) {
		struct xinetd_entry *e = p->state == TOP ? NULL : &p->c->entries[p->cur];
		struct strv w = { 0 };
		size_t i = 0;

		while (i < l.len && (l.text[i] == ' ' || l.text[i] == '\t'))
			i++;
		if (i == l.len || l.text[i] == '#')
			continue;       /* blank or comment, whatever it holds */
		if (l.bad) {
			if (!e) {
				e = new_entry(p, XINETD_BAD, l.no);
				if (!e)
					return -ENOMEM;
				p->state = SKIP_TO_CLOSE;
			}
			rc = fail(e, l.no, "%s", l.bad);
			if (p->state == EXPECT_OPEN)
				p->state = SKIP_TO_CLOSE;
			continue;
		}
		switch (p->state) {
		case TOP:
			rc = textconf_words(l.text, l.len, &w);
			if (rc == 0)
				rc = open_entry(p, &l, &w);
			strv_free(&w);
			break;
		case EXPECT_OPEN:
			if (only_char(&l, '{')) {
				p->state = IN_ENTRY;
				break;
			}
			p->state = SKIP_TO_CLOSE;
			rc = fail(e, l.no, "expected '{' alone on the line after '%s'",
				  e->kind == XINETD_DEFAULTS ? "defaults" : "service");
			if (rc == 0 && only_char(&l, '}'))
				goto close;
			break;
		case IN_ENTRY:
			if (!only_char(&l, '}')) {
				rc = attribute_line(p, e, &l);
				break;
			}
			/* fall through */
		case SKIP_TO_CLOSE:
			if (!only_char(&l, '}'))
				break;
close:
			e->end_line = l.no;
			p->state = TOP;
			if (e->kind == XINETD_SERVICE)
				rc = close_service(p->c, e);
			break;
		}
	}
	if (rc < 0)
		return rc;
	if (p->state != TOP) {
		struct xinetd_entry *e = &p->c->entries[p->cur];

		rc = fail(e, e->line, "no '}' before the end of the file");
		if (rc == 0 && e->kind == XINETD_SERVICE && !e->id)
			rc = set_string(&e->id, e->name);
	}
	return rc;
}

int
xinetd_parse(struct xinetd_conf *c, const char *file, const char *text, size_t len)
{
	struct parser p = { .c = c, .state = TOP };
	char **files;

	if (len > TEXTCONF_FILE_MAX)
		return -EFBIG;
	files = realloc(c->files, (c->n_files + 1) * sizeof(*files));
	if (!files)
		return -ENOMEM;
	c->files = files;
	files[c->n_files] = strdup(file);
	if (!files[c->n_files])
		return -ENOMEM;
	p.file = files[c->n_files++];
	return parse_lines(&p, text, len);
}

int
xinetd_resolve(struct xinetd_conf *c, inetd_lookup_fn *lookup, void *ctx)
{
	if (!lookup)
		lookup = inetd_lookup_services;
	for (size_t i = 0; i < c->n; i++) {
		struct xinetd_entry *e = &c->entries[i];
		int port;

		if (e->kind != XINETD_SERVICE || e->reason || e->type & XINETD_TYPE_UNLISTED)
			continue;
		port = lookup(e->name, e->protocol, ctx);
		if (port < 1 || port > 65535) {
			if (e->port)
				continue;
			if (fail(e, e->line, "unknown service '%s/%s' (not in /etc/services: "
				 "give type = UNLISTED and a port)", e->name, e->protocol) < 0)
				return -ENOMEM;
			continue;
		}
		if (e->port && e->port != (unsigned)port) {
			if (fail(e, e->line, "port %u differs from %d, the port of '%s/%s' in "
				 "/etc/services", e->port, port, e->name, e->protocol) < 0)
				return -ENOMEM;
			continue;
		}
		e->port = (unsigned)port;
	}
	return 0;
}

struct xinetd_where
xinetd_where(const struct xinetd_entry *e, const char *name)
{
	for (const struct attr *a = service_attrs; a->name; a++)
		if (strcmp(a->name, name) == 0 && a->id != A_OTHER)
			return e->at_[a->id];
	for (const struct attr *a = default_attrs; a->name; a++)
		if (strcmp(a->name, name) == 0 && a->id != A_OTHER)
			return e->at_[a->id];
	return (struct xinetd_where){ NULL, 0 };
}

int
xinetd_argv(const struct xinetd_entry *e, struct strv *argv)
{
	const char *base;

	strv_free(argv);
	if (!e->server)
		return -EINVAL;
	if (e->flags & XINETD_FLAG_NAMEINARGS) {
		if (e->server_args.n == 0)
			return -EINVAL;
		return strv_copy(argv, &e->server_args);
	}
	base = strrchr(e->server, '/');
	if (strv_push(argv, base ? base + 1 : e->server) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < e->server_args.n; i++)
		if (strv_push(argv, e->server_args.v[i]) < 0)
			return -ENOMEM;
	return 0;
}

void
xinetd_conf_free(struct xinetd_conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct xinetd_entry *e = &c->entries[i];

		free(e->reason);
		free(e->name);
		free(e->id);
		free(e->protocol);
		free(e->user);
		free(e->group);
		free(e->server);
		strv_free(&e->server_args);
		free(e->bind);
		strv_free(&e->only_from);
		strv_free(&e->no_access);
		strv_free(&e->env);
		strv_free(&e->passenv);
		free(e->redirect_host);
		free(e->redirect_port);
		strv_free(&e->disabled_ids);
		strv_free(&e->enabled_ids);
		for (size_t j = 0; j < e->n_extra; j++) {
			free(e->extra[j].name);
			strv_free(&e->extra[j].values);
		}
		free(e->extra);
		for (size_t j = 0; j < e->n_notes; j++)
			free(e->notes[j].msg);
		free(e->notes);
	}
	free(c->entries);
	for (size_t i = 0; i < c->n_files; i++)
		free(c->files[i]);
	free(c->files);
	memset(c, 0, sizeof(*c));
}
