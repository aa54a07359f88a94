/*
 * The inetd.conf source: daemon.inetd_conf, then the files of
 * daemon.inetd_dir in C-locale order, each parsed (inetd_parse.c), its
 * services looked up in /etc/services, and each line translated
 * (inetd_source.c) into an endpoint group for the loader.
 *
 * Unlike sockd.conf, which an administrator writes and checks, inetd.conf
 * is edited by packages (update-inetd) at any time. So nothing in it stops
 * the load: a line sockd cannot serve, or whose endpoint the loader
 * refuses (an address sockd.conf already has, an exec user sockd cannot
 * switch to, ...), is left out with a "file:line: why" warning, and so is
 * a file that cannot be read. Lines update-inetd disabled ("#<off># ")
 * are not served and not mentioned.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_source.h"
#include "inetd_source.h"

struct inetd_files {
	struct inetd_conf *confs;       /* the records' strings are the cvals' */
	size_t n;
	char **texts;
	struct inetd_endpoint *eps;     /* the groups handed to the loader */
	size_t n_eps;
	size_t cap_eps;
	struct hmap bases;              /* names given so far, without suffix ->
	                                 * the suffix to try next */
};

/* An endpoint name not in use yet: "finger/tcp", else "finger/tcp-2"... */
static bool
name_taken(const struct loader *l, const char *name)
{
	return hmap_get(&l->names, name, strlen(name)) != NULL;
}

/* Many lines of one service (on several addresses) must not make this
 * quadratic in the lines: each base name remembers where its suffixes
 * stopped. */
static void
unique_name(struct loader *l, struct inetd_files *f, const struct inetd_rec *r, char *buf,
    size_t len)
{
	char base[NAME_MAX_LEN + 1];
	size_t k = 2, *next;

	inetd_endpoint_name(r, base, sizeof(base));
	snprintf(buf, len, "%s", base);
	if (!(next = hmap_get(&f->bases, base, strlen(base)))) {
		if (hmap_add(&f->bases, base, strlen(base), 2) < 0 ||
		    !(next = hmap_get(&f->bases, base, strlen(base)))) {
			l->kc.nomem = true;
			return;
		}
	}
	if (*next == 2 && !name_taken(l, buf))
		return;
	for (k = *next; k < 1000000; k++) {
		char suffix[24];
		int n = snprintf(suffix, sizeof(suffix), "-%zu", k);

		snprintf(buf, len, "%.*s%s", (int)(NAME_MAX_LEN - (size_t)n), base, suffix);
		if (!name_taken(l, buf))
			break;
	}
	*next = k + 1;
}

static void
serve_conf(struct loader *l, struct inetd_files *f, struct inetd_conf *c,
    struct diag *warnings, unsigned *idx)
{
	for (size_t i = 0; i < c->n && !l->kc.nomem; i++) {
		const struct inetd_rec *r = &c->recs[i];
		struct inetd_endpoint *e;
		char name[NAME_MAX_LEN + 1], *reason = NULL;
		int rc;

		if (r->disabled)
			continue;
		if (f->n_eps == f->cap_eps) {
			size_t cap = f->cap_eps ? 2 * f->cap_eps : 16;
			struct inetd_endpoint *eps = realloc(f->eps, cap * sizeof(*eps));

			if (!eps) {
				l->kc.nomem = true;
				return;
			}
			f->eps = eps;
			f->cap_eps = cap;
		}
		e = &f->eps[f->n_eps];
		unique_name(l, f, r, name, sizeof(name));
		rc = inetd_endpoint_make(r, name, e, &reason);
		if (rc < 0) {
			l->kc.nomem = true;
			return;
		}
		if (rc > 0) {
			diag_add(warnings, r->file, (int)r->line, "%s", reason);
			free(reason);
			continue;
		}
		f->n_eps++;
		for (size_t k = 0; k < e->notes.n; k++)
			diag_add(warnings, r->file, (int)r->line, "%s", e->notes.v[k]);
		loader_endpoint_optional(l, &e->group, ++*idx, warnings);
	}
}

/* Read and parse one file into f; a warning when it cannot be read. */
static struct inetd_conf *
read_one(struct loader *l, struct inetd_files *f, const char *path, struct diag *warnings)
{
	struct inetd_conf *confs, *c;
	char **texts, *text = NULL;
	size_t len;
	int r;

	confs = realloc(f->confs, (f->n + 1) * sizeof(*confs));
	if (confs)
		f->confs = confs;
	texts = realloc(f->texts, (f->n + 1) * sizeof(*texts));
	if (texts)
		f->texts = texts;
	if (!confs || !texts) {
		l->kc.nomem = true;
		return NULL;
	}
	r = textconf_read(path, &text, &len);
	if (r == -ENOMEM) {
		l->kc.nomem = true;
		return NULL;
	}
	if (r < 0) {
		diag_add(warnings, path, 0, "cannot read: %s", r == -EFBIG ? "larger than 1 MiB" :
		    r == -EINVAL ? "not a regular file" : strerror(-r));
		return NULL;
	}
	c = &f->confs[f->n];
	r = inetd_parse(c, path, text, len);
	if (r == 0)
		r = inetd_resolve(c, NULL, NULL);
	if (r < 0) {
		inetd_conf_free(c);
		free(text);
		l->kc.nomem = true;
		return NULL;
	}
	f->texts[f->n++] = text;
	return c;
}

/* inetutils' inetd reads every file of /etc/inetd.d; packaging leftovers
 * and editor files are not services. */
static bool
fragment_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && name[n - 1] != '~' && !strstr(name, ".dpkg-") &&
	    !strstr(name, ".ucf-");
}

static int
strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
read_dir(struct loader *l, struct inetd_files *f, const char *dir, struct diag *warnings,
    unsigned *idx)
{
	char **names = NULL, **nn;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		if (errno == ENOMEM)
			l->kc.nomem = true;
		else if (errno != ENOENT)       /* the directory need not exist */
			diag_add(warnings, dir, 0, "cannot read: %s", strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		if (!fragment_name(de->d_name) || de->d_type == DT_DIR)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			nn = realloc(names, cap * sizeof(*names));
			if (!nn) {
				l->kc.nomem = true;
				break;
			}
			names = nn;
		}
		if (!(names[n] = key_strdup(&l->kc, de->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), strcmp_ptr);
	for (size_t i = 0; i < n && !l->kc.nomem; i++) {
		char *path = diag_format("%s/%s", dir, names[i]);
		struct inetd_conf *c;

		if (!path) {
			l->kc.nomem = true;
			break;
		}
		if ((c = read_one(l, f, path, warnings)))
			serve_conf(l, f, c, warnings, idx);
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

struct inetd_files *
config_inetd_read(struct loader *l, struct diag *warnings)
{
	const struct daemon_config *dc = &l->cfg->daemon;
	struct inetd_files *f;
	struct inetd_conf *c;
	unsigned idx = 0;

	if (!dc->inetd_conf && !dc->inetd_dir)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		l->kc.nomem = true;
		return NULL;
	}
	if (dc->inetd_conf && (c = read_one(l, f, dc->inetd_conf, warnings)))
		serve_conf(l, f, c, warnings, &idx);
	if (dc->inetd_dir && !l->kc.nomem)
		read_dir(l, f, dc->inetd_dir, warnings, &idx);
	return f;
}

void
config_inetd_free(struct inetd_files *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		inetd_conf_free(&f->confs[i]);
		free(f->texts[i]);
	}
	for (size_t i = 0; i < f->n_eps; i++)
		inetd_endpoint_free(&f->eps[i]);
	free(f->eps);
	hmap_free(&f->bases);
	free(f->confs);
	free(f->texts);
	free(f);
}
