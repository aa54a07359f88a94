#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

#define MODE_MAX 0777

const struct cval *
cval_member(const struct cval *group, const char *name)
{
	if (group->type != CVAL_GROUP)
		return NULL;
	for (size_t i = 0; i < group->n; i++)
		if (group->elems[i].name && strcmp(group->elems[i].name, name) == 0)
			return &group->elems[i];
	return NULL;
}

/* ------------------------------------------------------------ errors */

static void key_verror(struct key_ctx *c, const char *file, int line, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));

static void
key_verror(struct key_ctx *c, const char *file, int line, const char *fmt, va_list ap)
{
	char *msg;

	c->errors++;
	msg = diag_vformat(fmt, ap);
	if (!msg) {
		c->nomem = true;
		return;
	}
	diag_add(c->d, file, line, "%s", msg);
	free(msg);
}

void
key_file_error(struct key_ctx *c, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	key_verror(c, file, line, fmt, ap);
	va_end(ap);
}

void
key_error(struct key_ctx *c, const struct cval *at, const char *fmt, ...)
{
	const char *file = c->path;
	int line = 0;
	va_list ap;

	if (at) {
		if (at->file)
			file = at->file;
		line = at->line;
	}
	va_start(ap, fmt);
	key_verror(c, file, line, fmt, ap);
	va_end(ap);
}

char *
key_strdup(struct key_ctx *c, const char *s)
{
	char *p = strdup(s);

	if (!p)
		c->nomem = true;
	return p;
}

static const char *
vname(const struct cval *v)
{
	return v->name ? v->name : "?";
}

/* ------------------------------------------------------------ sets */

const struct key *
key_find(const struct key_set *set, const char *name)
{
	for (const struct key *k = set->keys; k->name; k++)
		if (strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

/* A default is written as a value would be, and stored by the key's own
 * setter: the table says it once, and a bad one shows in the unit test. */
bool
key_set_defaults(const struct key_set *set, void *base)
{
	struct key_ctx c = { .path = "(default)" };
	struct diag d = { 0 };
	bool ok = true;

	c.d = &d;
	if (set->init)
		set->init(base);
	for (const struct key *k = set->keys; k->name && ok; k++) {
		struct cval v = { .name = k->name, .type = CVAL_STRING, .s = k->def };
		char *end;

		if (!k->def)
			continue;
		switch (k->type) {
		case KEY_INTEGER:
			v.type = CVAL_INT;
			v.i = strtoll(k->def, &end, 10);
			break;
		case KEY_NUMBER:
			v.type = CVAL_FLOAT;
			v.f = strtod(k->def, &end);
			break;
		case KEY_BOOLEAN:
			v.type = CVAL_BOOL;
			v.b = strcmp(k->def, "true") == 0;
			break;
		default:
			break;
		}
		ok = k->set(&c, k, &v, key_field(k, base)) && !c.nomem;
	}
	diag_free(&d);
	return ok;
}

void *
key_set_new(const struct key_set *set)
{
	void *base = calloc(1, set->size ? set->size : 1);

	if (base && !key_set_defaults(set, base)) {
		key_set_release(set, base);
		free(base);
		return NULL;
	}
	return base;
}

void
key_set_release(const struct key_set *set, void *base)
{
	if (!base)
		return;
	for (const struct key *k = set->keys; k->name; k++)
		if (k->release)
			k->release(k, base);
}

void
key_set_print(FILE *f, const char *indent, const struct key_set *set,
    const void *base, const void *outer)
{
	for (const struct key *k = set->keys; k->name; k++)
		if (k->print && (!k->shown || k->shown(base)))
			k->print(f, indent, k, base, outer);
}

const char *
key_type_name(enum key_type t)
{
	static const char *const names[] = {
		[KEY_INTEGER] = "integer", [KEY_NUMBER] = "number", [KEY_BOOLEAN] = "boolean",
		[KEY_STRING] = "string", [KEY_CHOICE] = "choice", [KEY_LIST] = "list",
		[KEY_ADDRESSES] = "address list", [KEY_ID] = "id", [KEY_OCTAL] = "octal",
		[KEY_GROUP] = "group", [KEY_GROUPS] = "list of groups",
	};

	return t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : "?";
}

static const char *
addrs_name(enum key_addrs a)
{
	switch (a) {
	case KEY_ADDRS_UNIX_PATH: return "unix path";
	case KEY_ADDRS_IP: return "tcp, udp";
	case KEY_ADDRS_TCP: return "tcp";
	case KEY_ADDRS_UNIX_CONN: return "unix, unix-seqpacket";
	case KEY_ADDRS_STREAM: return "stream";
	case KEY_ADDRS_TCP_ONLY: return "tcp only";
	default: return "any";
	}
}

void
key_set_list(FILE *f, const struct key_set *set, const char *services)
{
	for (const struct key *k = set->keys; k->name; k++) {
		fprintf(f, "%s\t%s\t%s\t", set->section, k->name, key_type_name(k->type));
		if (!k->def)
			fprintf(f, "(%s)", k->doc_def ? k->doc_def : "none");
		else if (k->type == KEY_STRING || k->type == KEY_CHOICE)
			key_dump_string(f, k->def);
		else
			fputs(k->def, f);
		fprintf(f, "\t%s\t%s\t", services, addrs_name(k->addrs));
		if (k->type == KEY_INTEGER || k->type == KEY_NUMBER)
			fprintf(f, "%.15g..%.15g", k->min, k->max);
		for (const struct key_choice *ch = k->choices; ch && ch->name; ch++)
			fprintf(f, "%s%s", ch == k->choices ? "" : "|", ch->name);
		fprintf(f, "\t%s\n", k->doc ? k->doc : "");
	}
}

/* ------------------------------------------------------------ setters */

void
key_type_error(struct key_ctx *c, const struct cval *v, const char *what)
{
	key_error(c, v, "'%s' must be %s", vname(v), what);
}

static bool
get_integer(struct key_ctx *c, const struct key *k, const struct cval *v, long long *out)
{
	long long min = (long long)k->min, max = (long long)k->max;

	if (v->type != CVAL_INT) {
		key_type_error(c, v, "an integer");
		return false;
	}
	if (v->i < min || v->i > max) {
		key_error(c, v, "'%s' must be between %lld and %lld", vname(v), min, max);
		return false;
	}
	*out = v->i;
	return true;
}

bool
key_set_int(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	long long x;

	if (!get_integer(c, k, v, &x))
		return false;
	*(int *)field = (int)x;
	return true;
}

bool
key_set_uint(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	long long x;

	if (!get_integer(c, k, v, &x))
		return false;
	*(unsigned *)field = (unsigned)x;
	return true;
}

bool
key_set_double(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	double x;

	switch (v->type) {
	case CVAL_INT:
		x = (double)v->i;
		break;
	case CVAL_FLOAT:
		x = v->f;
		break;
	default:
		key_type_error(c, v, "a number");
		return false;
	}
	if (!(x >= k->min && x <= k->max)) {
		key_error(c, v, "'%s' must be between %.15g and %.15g", vname(v), k->min, k->max);
		return false;
	}
	*(double *)field = x;
	return true;
}

bool
key_set_bool(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	if (v->type != CVAL_BOOL) {
		key_type_error(c, v, "a boolean (true or false)");
		return false;
	}
	*(bool *)field = v->b;
	return true;
}

bool
key_set_abs_path(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	if (v->s[0] != '/') {
		key_error(c, v, "'%s' must be an absolute path", k->name);
		return false;
	}
	return key_set_string(c, k, v, field);
}

bool
key_read_group(struct key_ctx *c, const struct key_set *set, const char *name,
    const struct cval *g, void *base)
{
	bool ok = true;

	for (size_t i = 0; i < g->n && !c->nomem; i++) {
		const struct cval *v = &g->elems[i];
		const struct key *k = key_find(set, v->name);

		if (!k) {
			key_error(c, v, "unknown key '%s' in %s", v->name, name);
			ok = false;
		} else if (!k->set(c, k, v, key_field(k, base))) {
			ok = false;
		}
	}
	for (const struct key *k = set->keys; k->name; k++)
		if (k->required && !cval_member(g, k->name)) {
			key_error(c, g, "%s needs '%s'", name, k->name);
			ok = false;
		}
	return ok && !c->nomem;
}

bool
key_set_string(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	char *s;

	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	if (!(s = key_strdup(c, v->s)))
		return false;
	free(*(char **)field);
	*(char **)field = s;
	return true;
}

bool
key_set_choice(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	char list[128];
	size_t used = 0;

	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	for (const struct key_choice *ch = k->choices; ch->name; ch++)
		if (strcmp(v->s, ch->name) == 0) {
			*(int *)field = ch->value;
			return true;
		}
	list[0] = '\0';
	for (const struct key_choice *ch = k->choices; ch->name && used < sizeof(list); ch++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
		    used ? ", " : "", ch->name);
	key_error(c, v, "unknown %s '%s' (%s)", vname(v), v->s, list);
	return false;
}

/* Modes are octal to everyone who sets them, but libconfig reads the
 * integer 0660 as decimal 660: so the digits of a decimal integer are
 * read as octal, as chmod does. A hex integer is taken at its value.
 * k->example is a typical value, for messages. */
bool
key_set_octal(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	const char *example = k->example ? k->example : "0660";
	unsigned long x = 0;
	const char *str;
	char buf[32];

	switch (v->type) {
	case CVAL_STRING:
		str = v->s;
		break;
	case CVAL_INT:
		if (v->i < 0) {
			key_error(c, v, "'%s' must be between 0 and 0%o", vname(v), MODE_MAX);
			return false;
		}
		if (v->hex)
			snprintf(buf, sizeof(buf), "%llo", (unsigned long long)v->i);
		else
			snprintf(buf, sizeof(buf), "%lld", v->i);
		str = buf;
		break;
	default:
		key_error(c, v, "'%s' must be an octal string like \"%s\" or an integer", vname(v), example);
		return false;
	}
	if (*str == '\0' || strspn(str, "01234567") != strlen(str)) {
		key_error(c, v, "invalid %s '%s' (octal digits expected, like \"%s\")",
		    vname(v), str, example);
		return false;
	}
	for (; *str && x <= MODE_MAX; str++)
		x = x * 8 + (unsigned long)(*str - '0');
	if (x > MODE_MAX) {
		key_error(c, v, "'%s' must be between 0 and 0%o", vname(v), MODE_MAX);
		return false;
	}
	*(int *)field = (int)x;
	return true;
}

/* ------------------------------------------------------------ printers */

void
key_print_int(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	fprintf(f, "%s%s = %d;\n", indent, k->name, *(const int *)key_cfield(k, base));
}

void
key_print_uint(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	fprintf(f, "%s%s = %u;\n", indent, k->name, *(const unsigned *)key_cfield(k, base));
}

void
key_print_double(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	key_dump_key_number(f, indent, k->name, *(const double *)key_cfield(k, base));
}

void
key_print_bool(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	fprintf(f, "%s%s = %s;\n", indent, k->name,
	    *(const bool *)key_cfield(k, base) ? "true" : "false");
}

void
key_print_string(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const char *s = *(char *const *)key_cfield(k, base);

	if (s)
		key_dump_key_string(f, indent, k->name, s);
}

void
key_print_choice(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	int v = *(const int *)key_cfield(k, base);

	for (const struct key_choice *ch = k->choices; ch->name; ch++)
		if (ch->value == v) {
			key_dump_key_string(f, indent, k->name, ch->name);
			return;
		}
}

void
key_print_octal(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	int v = *(const int *)key_cfield(k, base);

	if (v >= 0)
		fprintf(f, "%s%s = \"%04o\";\n", indent, k->name, (unsigned)v);
}

void
key_print_strv(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	char *const *v = *(char **const *)key_cfield(k, base);
	size_t n = 0;

	while (v && v[n])
		n++;
	key_dump_names(f, indent, k->name, v, n);
}

void
key_release_string(const struct key *k, void *base)
{
	char **p = key_field(k, base);

	free(*p);
	*p = NULL;
}

void
key_release_strv(const struct key *k, void *base)
{
	char ***p = key_field(k, base);

	for (char **s = *p; s && *s; s++)
		free(*s);
	free(*p);
	*p = NULL;
}

void
key_release_ptr(const struct key *k, void *base)
{
	void **p = key_field(k, base);

	free(*p);
	*p = NULL;
}

/* ------------------------------------------------------------ helpers */

const struct cval *
key_seq(struct key_ctx *c, const struct cval *v, const char *what, size_t *n)
{
	if (v->type == CVAL_STRING) {
		*n = 1;
		return v;
	}
	if (!cval_is_seq(v)) {
		key_error(c, v, "'%s' must be a string or a list of strings", vname(v));
		return NULL;
	}
	if (v->n == 0) {
		key_error(c, v, "'%s' must have at least one %s", vname(v), what);
		return NULL;
	}
	*n = v->n;
	return v->elems;
}

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
int
key_lookup_user(const char *name, uid_t *uid, gid_t *gid)
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

int
key_lookup_group(const char *name, gid_t *gid)
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

/* key_lookup_user() or _group() by name, answered from c->ids when the
 * load keeps them. */
static int
lookup_name(struct key_ctx *c, bool is_user, const char *name, uid_t *uid, gid_t *gid)
{
	struct key_ids *ids = c->ids;
	struct hmap *map = ids ? (is_user ? &ids->users : &ids->groups) : NULL;
	uid_t u = (uid_t)-1;
	gid_t g = (gid_t)-1;
	size_t *at;
	int r;

	if (map && (at = hmap_get(map, name, strlen(name)))) {
		u = ids->v[*at].uid;
		g = ids->v[*at].gid;
	} else {
		r = is_user ? key_lookup_user(name, &u, &g) : key_lookup_group(name, &g);
		if (r < 0)
			return r;
		/* Without room to keep it, the next one is looked up again. */
		if (map && ids->n == ids->cap) {
			size_t cap = ids->cap ? 2 * ids->cap : 8;
			struct key_id *v = realloc(ids->v, cap * sizeof(*v));

			if (v) {
				ids->v = v;
				ids->cap = cap;
			}
		}
		if (map && ids->n < ids->cap &&
		    hmap_add(map, name, strlen(name), ids->n) == 0)
			ids->v[ids->n++] = (struct key_id){ u, g };
	}
	if (uid)
		*uid = u;
	if (gid)
		*gid = g;
	return 0;
}

void
key_ids_free(struct key_ids *ids)
{
	hmap_free(&ids->users);
	hmap_free(&ids->groups);
	free(ids->v);
	memset(ids, 0, sizeof(*ids));
}

/* Report a failed user/group lookup; what says "user" or "group". */
void
key_lookup_error(struct key_ctx *c, const struct cval *v, const char *what,
    const char *name, int r)
{
	if (r == -ENOMEM)
		c->nomem = true;
	else if (r == -ENOENT)
		key_error(c, v, "unknown %s '%s'", what, name);
	else
		key_error(c, v, "cannot look up %s '%s': %s", what, name, strerror(-r));
}

/* A user or group written as text: a name, or a string of digits. */
bool
key_id_from_text(struct key_ctx *c, const struct cval *v, const char *what,
    bool is_user, const char *str, id_t *id)
{
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	long long x;
	int r;

	if (all_digits(str)) {
		errno = 0;
		x = strtoll(str, NULL, 10);
		if (errno == ERANGE || x > KEY_ID_MAX) {
			key_error(c, v, "'%s' must be between 0 and %lld", what, KEY_ID_MAX);
			return false;
		}
		*id = (id_t)x;
		return true;
	}
	r = lookup_name(c, is_user, str, is_user ? &uid : NULL, is_user ? NULL : &gid);
	if (r < 0) {
		key_lookup_error(c, v, is_user ? "user" : "group", str, r);
		return false;
	}
	*id = is_user ? uid : gid;
	return true;
}

int
key_resolve_id(struct key_ctx *c, const struct cval *v, const char *what,
    bool is_user, id_t *id, char **text)
{
	char buf[32];
	const char *str;

	switch (v->type) {
	case CVAL_INT:
		if (v->i < 0 || v->i > KEY_ID_MAX) {
			key_error(c, v, "'%s' must be between 0 and %lld", what, KEY_ID_MAX);
			return -1;
		}
		snprintf(buf, sizeof(buf), "%lld", v->i);
		str = buf;
		break;
	case CVAL_STRING:
		str = v->s;
		break;
	default:
		return 0;
	}
	if (!key_id_from_text(c, v, what, is_user, str, id))
		return -1;
	*text = key_strdup(c, str);
	return *text ? 1 : -1;
}

bool
key_parse_user(struct key_ctx *c, const struct cval *v, struct key_user *u)
{
	const char *key = vname(v);
	char buf[32], *text, *group;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	id_t id;
	int r;

	memset(u, 0, sizeof(*u));
	switch (v->type) {
	case CVAL_INT:
		if (v->i < 0 || v->i > KEY_ID_MAX) {
			key_error(c, v, "'%s' must be between 0 and %lld", key, KEY_ID_MAX);
			return false;
		}
		snprintf(buf, sizeof(buf), "%lld", v->i);
		text = key_strdup(c, buf);
		break;
	case CVAL_STRING:
		text = key_strdup(c, v->s);
		break;
	default:
		key_error(c, v, "'%s' must be a user name or a number, optionally followed by ':group'",
		    key);
		return false;
	}
	if (!text)
		return false;
	if ((group = strchr(text, ':')))
		*group++ = '\0';
	if (*text == '\0' || (group && (*group == '\0' || strchr(group, ':')))) {
		key_error(c, v, "invalid user '%s' (\"user\" or \"user:group\" expected)", v->s);
		goto out_free;
	}
	if (all_digits(text)) {
		if (!key_id_from_text(c, v, "user", true, text, &id))
			goto out_free;
		uid = (uid_t)id;
		if (!group) {
			r = key_lookup_user(NULL, &uid, &gid);
			if (r == -ENOMEM) {
				c->nomem = true;
				goto out_free;
			}
			if (r < 0) {
				key_error(c, v, "user id %s has no passwd entry: "
				    "give its group too, like \"%s:GID\"", text, text);
				goto out_free;
			}
		}
	} else {
		r = lookup_name(c, true, text, &uid, &gid);
		if (r < 0) {
			key_lookup_error(c, v, "user", text, r);
			goto out_free;
		}
	}
	if (group) {
		if (!key_id_from_text(c, v, "user", false, group, &id))
			goto out_free;
		gid = (gid_t)id;
		if (!(u->group = key_strdup(c, group)))
			goto out_free;
	}
	u->name = text;
	u->uid = uid;
	u->gid = gid;
	return true;

out_free:
	free(text);
	return false;
}

/* ------------------------------------------------------------ printing */

void
key_dump_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void
key_dump_key_string(FILE *f, const char *indent, const char *k, const char *v)
{
	fprintf(f, "%s%s = ", indent, k);
	key_dump_string(f, v);
	fputs(";\n", f);
}

/* The shortest form that reads back to the same double, since rounding
 * 0.0004 to 0 would mean "none"; libconfig reads "5" as an integer, so a
 * number always has '.' or 'e'. */
void
key_dump_key_number(FILE *f, const char *indent, const char *k, double v)
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
		if (!strpbrk(buf, ".e"))
			strncat(buf, ".0", sizeof(buf) - strlen(buf) - 1);
	}
	fprintf(f, "%s%s = %s;\n", indent, k, buf);
}

void
key_dump_names(FILE *f, const char *indent, const char *k, char *const *names, size_t n)
{
	if (n == 0)
		return;
	fprintf(f, "%s%s = [ ", indent, k);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		key_dump_string(f, names[i]);
	}
	fputs(" ];\n", f);
}
