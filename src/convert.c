/*
 * sockd --convert: the driver (reading inetd.conf, xinetd.conf and its
 * includes, or a xinetd.d directory), the builder of endpoint groups the
 * translations share, and the printer of the result as a sockd.conf.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "config_source.h"
#include "convert.h"
#include "cval_print.h"
#include "inetd_parse.h"
#include "service.h"
#include "xinetd_parse.h"

#define CONVERT_MAX_FILES 1024  /* files one xinetd conversion reads */

/* ------------------------------------------------------------ building */

struct conv_ep *
conv_new_ep(struct conv_out *o)
{
	struct conv_ep *ep;

	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 16;
		struct conv_ep *v = realloc(o->eps, cap * sizeof(*v));

		if (!v) {
			o->nomem = true;
			return NULL;
		}
		o->eps = v;
		o->cap = cap;
	}
	ep = &o->eps[o->n++];
	memset(ep, 0, sizeof(*ep));
	ep->g.type = CVAL_GROUP;
	return ep;
}

struct cval *
conv_add(struct conv_out *o, struct cval *parent, enum cval_type t, const char *name)
{
	struct cval *v = realloc(parent->elems, (parent->n + 1) * sizeof(*v));

	if (!v) {
		o->nomem = true;
		return NULL;
	}
	parent->elems = v;
	v = &v[parent->n++];
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->name = name;
	return v;
}

void
conv_add_string(struct conv_out *o, struct cval *parent, const char *name, const char *s)
{
	char *copy = strdup(s);
	struct cval *v;

	if (!copy) {
		o->nomem = true;
		return;
	}
	v = conv_add(o, parent, CVAL_STRING, name);
	if (!v) {
		free(copy);
		return;
	}
	v->s = copy;
}

void
conv_add_int(struct conv_out *o, struct cval *parent, const char *name, long long i)
{
	struct cval *v = conv_add(o, parent, CVAL_INT, name);

	if (v)
		v->i = i;
}

void
conv_add_float(struct conv_out *o, struct cval *parent, const char *name, double f)
{
	struct cval *v = conv_add(o, parent, CVAL_FLOAT, name);

	if (v)
		v->f = f;
}

void
conv_add_bool(struct conv_out *o, struct cval *parent, const char *name, bool b)
{
	struct cval *v = conv_add(o, parent, CVAL_BOOL, name);

	if (v)
		v->b = b;
}

void
conv_add_strings(struct conv_out *o, struct cval *parent, const char *name,
    char *const *v, size_t n)
{
	struct cval *a = conv_add(o, parent, CVAL_ARRAY, name);

	for (size_t i = 0; a && i < n; i++)
		conv_add_string(o, a, NULL, v[i]);
}

void
conv_vprintf(struct conv_out *o, struct strv *to, const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0) {
		o->nomem = true;
		return;
	}
	if (strv_push(to, s) < 0)
		o->nomem = true;
	free(s);
}

void
conv_printf(struct conv_out *o, struct strv *to, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conv_vprintf(o, to, fmt, ap);
	va_end(ap);
}

static bool
name_used(const struct conv_out *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++) {
		const struct cval *v = cval_member(&o->eps[i].g, "name");

		if (v && v->type == CVAL_STRING && strcmp(v->s, name) == 0)
			return true;
	}
	return false;
}

char *
conv_unique_name(struct conv_out *o, const char *want, const char *suffix)
{
	char base[NAME_MAX_LEN - 8], *s = NULL;
	size_t n = 0;

	for (const char *p = want; *p && n < sizeof(base) - 1; p++) {
		char c[2] = { *p, '\0' };

		/* Whatever characters the loader takes in a name. */
		base[n++] = config_name_valid(c) ? *p : '-';
	}
	base[n] = '\0';
	if (n == 0)
		snprintf(base, sizeof(base), "service");
	for (unsigned i = 1; i < 10000; i++) {
		int r;

		if (i == 1)
			r = asprintf(&s, "%s", base);
		else if (i == 2 && suffix)
			r = asprintf(&s, "%s-%s", base, suffix);
		else
			r = asprintf(&s, "%s-%u", base, i);
		if (r < 0) {
			o->nomem = true;
			return NULL;
		}
		if (!name_used(o, s))
			return s;
		free(s);
	}
	o->nomem = true;        /* ten thousand of one name: give up */
	return NULL;
}

bool
conv_has_endpoint_key(const char *name)
{
	return key_find(&endpoint_keys, name) != NULL;
}

bool
conv_has_exec_key(const char *name)
{
	const struct service *s = service_lookup("exec");

	return s && s->keys && key_find(s->keys, name) != NULL;
}

char *
conv_ip_address(const char *proto, const char *host, unsigned port)
{
	char *s;
	bool v6 = strchr(host, ':') != NULL;

	if (asprintf(&s, "%s:%s%s%s:%u", proto, v6 ? "[" : "", host, v6 ? "]" : "", port) < 0)
		return NULL;
	return s;
}

static void
free_cval(struct cval *v)
{
	for (size_t i = 0; i < v->n; i++)
		free_cval(&v->elems[i]);
	free(v->elems);
	if (v->type == CVAL_STRING)
		free((char *)v->s);
}

void
conv_free(struct conv_out *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free_cval(&o->eps[i].g);
		strv_free(&o->eps[i].comments);
	}
	free(o->eps);
	strv_free(&o->head);
	strv_free(&o->warnings);
	memset(o, 0, sizeof(*o));
}

/* ------------------------------------------------------------ printing */

/* A comment line: control bytes (none should come from the parsers) would
 * end it early, so they become '?'. */
static void
print_comment(FILE *f, const char *indent, const char *s)
{
	fprintf(f, "%s# ", indent);
	for (; *s; s++)
		fputc(*s == '\t' ? ' ' : (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
	fputc('\n', f);
}

static int
print_ep(FILE *f, const struct conv_ep *ep, bool last)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m;
	int r;

	for (size_t i = 0; i < ep->comments.n; i++)
		print_comment(f, "\t", ep->comments.v[i]);
	m = open_memstream(&text, &len);
	if (!m)
		return -ENOMEM;
	r = cval_print_members(m, "\t", &ep->g);
	if (fclose(m) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(text);
		return r;
	}
	if (ep->off) {
		/* Written out but commented, to enable by hand. */
		fputs("\t# {\n", f);
		for (char *line = text, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			fprintf(f, "\t#%.*s\n", (int)(nl - line), line);
		}
		fputs("\t# },\n", f);
	} else {
		fputs("\t{\n", f);
		for (char *line = text, *nl; *line; line = nl + 1) {
			nl = strchr(line, '\n');
			fprintf(f, "\t%.*s\n", (int)(nl - line), line);
		}
		fprintf(f, "\t}%s\n", last ? "" : ",");
	}
	free(text);
	return 0;
}

int
conv_print(FILE *f, const struct conv_out *o, const char *title)
{
	size_t last = 0;

	for (size_t i = 0; i < o->n; i++)
		if (!o->eps[i].off)
			last = i;
	print_comment(f, "", title);
	for (size_t i = 0; i < o->head.n; i++)
		print_comment(f, "", o->head.v[i]);
	fputs("endpoints = (\n", f);
	for (size_t i = 0; i < o->n; i++) {
		int r = print_ep(f, &o->eps[i], i == last);

		if (r < 0)
			return r;
	}
	fputs(");\n", f);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* ------------------------------------------------------------ checking */

/* The converted endpoints go through the loader sockd -n runs (the key
 * tables, the rules across keys and endpoints, programs and users that
 * must exist on this machine). One it refuses is written commented out,
 * with the loader's words, so the output as a whole always loads. Each
 * endpoint's values carry a made-up file name and its index as the line,
 * to tell which endpoint a message is about. */
#define CHECK_FILE "(converted endpoint)"

static void
mark(struct cval *v, int line)
{
	v->file = CHECK_FILE;
	v->line = line;
	for (size_t i = 0; i < v->n; i++)
		mark(&v->elems[i], line);
}

/* -1: no endpoint named (the message is about the whole load). */
static long
message_endpoint(const char *msg, const char **rest)
{
	size_t n = strlen(CHECK_FILE);
	char *end;
	long i;

	if (strncmp(msg, CHECK_FILE ":", n + 1) != 0)
		return -1;
	i = strtol(msg + n + 1, &end, 10);
	if (end == msg + n + 1 || strncmp(end, ": ", 2) != 0)
		return -1;
	*rest = end + 2;
	return i - 1;
}

static int
check_once(struct conv_out *o, bool *changed)
{
	struct sockd_config *cfg = NULL;
	struct diag d = { 0 };
	struct loader l;
	int r;

	*changed = false;
	if (loader_begin(&l, CHECK_FILE, &d) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < o->n && !l.kc.nomem; i++) {
		if (o->eps[i].off)
			continue;
		mark(&o->eps[i].g, (int)i + 1);
		loader_endpoint(&l, &o->eps[i].g, (unsigned)i + 1);
	}
	r = loader_end(&l, &cfg);
	config_free(cfg);
	if (r == -EINVAL) {
		r = 0;
		for (size_t k = 0; k < d.n; k++) {
			const char *rest = NULL;
			long i = message_endpoint(d.lines[k], &rest);

			if (i < 0 || (size_t)i >= o->n) {
				conv_printf(o, &o->head, "sockd -n: %s", d.lines[k]);
				r = -EINVAL;
				continue;
			}
			conv_printf(o, &o->eps[i].comments, "sockd -n: %s", rest);
			if (!o->eps[i].off) {
				const struct cval *name = cval_member(&o->eps[i].g, "name");

				conv_printf(o, &o->warnings, "endpoint %s: %s: written commented out",
				    name && name->type == CVAL_STRING ? name->s : "?", rest);
				o->eps[i].off = true;
				o->converted--;
				*changed = true;
			}
		}
	}
	diag_free(&d);
	return r;
}

/* 0, -EINVAL (a message about no endpoint in particular: in the head), or
 * -ENOMEM. */
static int
conv_check(struct conv_out *o)
{
	/* Commenting one endpoint out can only clear messages about others
	 * (an address claimed twice): a few rounds settle it. */
	for (int round = 0; round < 8; round++) {
		bool changed;
		int r = check_once(o, &changed);

		if (r < 0 || !changed)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------ reading */

static int
read_text(const char *path, char **text, size_t *len, FILE *err)
{
	int r = textconf_read(path, text, len);

	if (r < 0)
		fprintf(err, "sockd: --convert: %s: %s\n", path,
		    r == -EFBIG ? "larger than 1 MiB" :
		    r == -EINVAL ? "not a regular file" : strerror(-r));
	return r;
}

static int
convert_inetd(const char *path, struct conv_out *o, FILE *err)
{
	struct inetd_conf c = { 0 };
	size_t len;
	char *text;
	int r;

	r = read_text(path, &text, &len, err);
	if (r < 0)
		return r;
	r = inetd_parse(&c, path, text, len);
	free(text);
	if (r == 0)
		r = inetd_resolve(&c, NULL, NULL);
	if (r == 0)
		inetd_convert(&c, o);
	inetd_conf_free(&c);
	return r;
}

/* xinetd's includedir: files whose names have no '.' and do not end in
 * '~', in C-locale order (strcmp). */
static bool
includedir_name(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && !strchr(n, '.') && n[len - 1] != '~';
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct xreader {
	struct xinetd_conf c;
	struct strv read;       /* every path read, against include loops */
	FILE *err;
	unsigned failed;        /* files that could not be read */
};

static int
xread_file(struct xreader *x, const char *path)
{
	size_t len;
	char *text;
	int r;

	if (strv_contains(&x->read, path))
		return 0;
	if (x->read.n >= CONVERT_MAX_FILES) {
		fprintf(x->err, "sockd: --convert: %s: more than %d files, not read\n", path,
		    CONVERT_MAX_FILES);
		x->failed++;
		return 0;
	}
	if (strv_push(&x->read, path) < 0)
		return -ENOMEM;
	r = read_text(path, &text, &len, x->err);
	if (r < 0) {
		x->failed++;
		return r == -ENOMEM ? r : 0;
	}
	r = xinetd_parse(&x->c, path, text, len);
	free(text);
	return r;
}

static int
xread_dir(struct xreader *x, const char *dir, bool top)
{
	struct strv names = { 0 };
	struct dirent *de;
	DIR *d = opendir(dir);
	int r = 0;

	if (!d) {
		fprintf(x->err, "sockd: --convert: %s: %s\n", dir, strerror(errno));
		x->failed += top ? 1 : 0;
		return top ? -errno : 0;
	}
	while ((de = readdir(d))) {
		if (!includedir_name(de->d_name))
			continue;
		if (strv_push(&names, de->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	closedir(d);
	if (names.n > 1)
		qsort(names.v, names.n, sizeof(*names.v), cmp_names);
	for (size_t i = 0; r >= 0 && i < names.n; i++) {
		struct stat st;
		char *p;

		if (asprintf(&p, "%s/%s", dir, names.v[i]) < 0) {
			r = -ENOMEM;
			break;
		}
		/* Subdirectories and other non-files are not xinetd's either. */
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			r = xread_file(x, p);
		free(p);
	}
	strv_free(&names);
	return r;
}

static int
convert_xinetd(const char *path, struct conv_out *o, FILE *err)
{
	struct xreader x = { .err = err };
	struct stat st;
	int r;

	if (stat(path, &st) == -1) {
		r = -errno;
		fprintf(err, "sockd: --convert: %s: %s\n", path, strerror(errno));
		return r;
	}
	if (S_ISDIR(st.st_mode)) {
		r = xread_dir(&x, path, true);
	} else {
		r = xread_file(&x, path);
		if (r == 0 && x.failed)
			r = -EIO;
	}
	/* include and includedir entries add files at the end, which are
	 * then read in turn. */
	for (size_t i = 0; r >= 0 && i < x.c.n; i++) {
		const struct xinetd_entry *e = &x.c.entries[i];

		if (e->reason || !e->name)
			continue;
		if (e->kind == XINETD_INCLUDE)
			r = xread_file(&x, e->name);
		else if (e->kind == XINETD_INCLUDEDIR)
			r = xread_dir(&x, e->name, false);
	}
	if (r >= 0)
		r = xinetd_resolve(&x.c, NULL, NULL);
	if (r >= 0)
		xinetd_convert(&x.c, o);
	if (r >= 0 && x.failed)
		conv_printf(o, &o->head, "%u included file%s could not be read (see the messages)",
		    x.failed, x.failed == 1 ? "" : "s");
	xinetd_conf_free(&x.c);
	strv_free(&x.read);
	return r;
}

int
convert_run(const char *kind, const char *path, FILE *out, FILE *err)
{
	struct conv_out o = { 0 };
	char *title = NULL;
	int r, code = 0;

	if (strcmp(kind, "inetd") == 0) {
		r = convert_inetd(path, &o, err);
	} else if (strcmp(kind, "xinetd") == 0) {
		r = convert_xinetd(path, &o, err);
	} else {
		fprintf(err, "sockd: --convert: unknown kind '%s' (inetd or xinetd)\n", kind);
		return 64;
	}
	if (r == -ENOMEM || o.nomem) {
		fprintf(err, "sockd: --convert: out of memory\n");
		code = 1;
		goto out;
	}
	if (r < 0) {
		code = 1;
		goto out;
	}
	r = o.nomem ? -ENOMEM : conv_check(&o);
	if (r == -ENOMEM || o.nomem) {
		fprintf(err, "sockd: --convert: out of memory\n");
		code = 1;
		goto out;
	}
	if (r == -EINVAL) {
		/* Not one endpoint's fault: a bug, but say it rather than print
		 * what does not load. */
		fprintf(err, "sockd: --convert: the converted endpoints do not load; see the "
		    "comments at the top\n");
		code = 78;
	}
	for (size_t i = 0; i < o.warnings.n; i++)
		fprintf(err, "sockd: warning: %s\n", o.warnings.v[i]);
	if (o.n == 0 && o.skipped > 0) {
		fprintf(err, "sockd: --convert: %s: no %s service could be converted\n", path, kind);
		code = 78;
		goto out;
	}
	if (asprintf(&title, "sockd.conf endpoints converted by sockd --convert %s %s", kind,
	    path) < 0) {
		code = 1;
		goto out;
	}
	r = conv_print(out, &o, title);
	if (r < 0) {
		fprintf(err, "sockd: --convert: writing the output: %s\n", strerror(-r));
		code = 1;
	}
out:
	free(title);
	conv_free(&o);
	return code;
}
