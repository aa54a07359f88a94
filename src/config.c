/*
 * The sockd.conf source: libconfig syntax -> struct cval groups, handed to
 * config_build.c; then every *.conf file of daemon.include_dir, the same
 * way. config_load() is the whole load: this source, then the inetd.conf
 * source (config_inetd.c) when daemon.inetd_conf or inetd_dir is set, and
 * the rules across endpoints at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_source.h"

/* What this source keeps until the load ends: the parsed files (cvals
 * point into their strings) and the cval trees. */
struct lc_source {
	struct loader *l;
	config_t **files;
	size_t n_files;
	struct cval **trees;
	size_t n_trees;
	struct diag warnings;           /* handed to the config's warnings */
};

/* ------------------------------------------------------------ libconfig -> cval */

static bool
to_cval(struct lc_source *src, const config_setting_t *s, struct cval *v)
{
	v->name = config_setting_name(s);
	v->file = config_setting_source_file(s) ? config_setting_source_file(s) : src->l->kc.path;
	v->line = (int)config_setting_source_line(s);
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v->type = CVAL_INT;
		v->i = config_setting_get_int64(s);
		v->hex = config_setting_get_format(s) == CONFIG_FORMAT_HEX;
		return true;
	case CONFIG_TYPE_FLOAT:
		v->type = CVAL_FLOAT;
		v->f = config_setting_get_float(s);
		return true;
	case CONFIG_TYPE_BOOL:
		v->type = CVAL_BOOL;
		v->b = config_setting_get_bool(s);
		return true;
	case CONFIG_TYPE_STRING:
		v->type = CVAL_STRING;
		v->s = config_setting_get_string(s);
		return true;
	case CONFIG_TYPE_ARRAY:
		v->type = CVAL_ARRAY;
		break;
	case CONFIG_TYPE_LIST:
		v->type = CVAL_LIST;
		break;
	default:
		v->type = CVAL_GROUP;
		break;
	}
	v->n = (size_t)config_setting_length(s);
	if (v->n == 0)
		return true;
	v->elems = calloc(v->n, sizeof(*v->elems));
	if (!v->elems)
		return false;
	for (size_t i = 0; i < v->n; i++)
		if (!to_cval(src, config_setting_get_elem(s, (unsigned)i), &v->elems[i]))
			return false;
	return true;
}

static void
free_cval(struct cval *v)
{
	for (size_t i = 0; i < v->n && v->elems; i++)
		free_cval(&v->elems[i]);
	free(v->elems);
}

/* Parse path; the root group as a cval tree, or NULL after reporting. */
static const struct cval *
read_file(struct lc_source *src, const char *path)
{
	struct loader *l = src->l;
	config_t *lc, **files;
	struct cval *root, **trees;

	files = realloc(src->files, (src->n_files + 1) * sizeof(*files));
	if (files)
		src->files = files;
	trees = realloc(src->trees, (src->n_trees + 1) * sizeof(*trees));
	if (trees)
		src->trees = trees;
	lc = malloc(sizeof(*lc));
	root = calloc(1, sizeof(*root));
	if (!files || !trees || !lc || !root) {
		free(lc);
		free(root);
		l->kc.nomem = true;
		return NULL;
	}
	config_init(lc);
	if (!config_read_file(lc, path)) {
		key_file_error(&l->kc, config_error_file(lc) ? config_error_file(lc) : path,
		    config_error_line(lc), "%s", config_error_text(lc));
		config_destroy(lc);
		free(lc);
		free(root);
		return NULL;
	}
	src->files[src->n_files++] = lc;
	src->trees[src->n_trees++] = root;
	if (!to_cval(src, config_root_setting(lc), root)) {
		l->kc.nomem = true;
		return NULL;
	}
	return root;
}

static void
source_free(struct lc_source *src)
{
	for (size_t i = 0; i < src->n_trees; i++) {
		free_cval(src->trees[i]);
		free(src->trees[i]);
	}
	free(src->trees);
	for (size_t i = 0; i < src->n_files; i++) {
		config_destroy(src->files[i]);
		free(src->files[i]);
	}
	free(src->files);
}

/* ------------------------------------------------------------ structure */

static void
read_endpoints(struct loader *l, const struct cval *v)
{
	/* An empty "[]" is an array to libconfig; accept it like "()". */
	if (v->type != CVAL_LIST && !(v->type == CVAL_ARRAY && v->n == 0)) {
		key_error(&l->kc, v, "'endpoints' must be a list of groups: ( { ... }, { ... } )");
		return;
	}
	for (size_t i = 0; i < v->n && !l->kc.nomem; i++)
		loader_endpoint(l, &v->elems[i], (unsigned)i + 1);
}

static bool
set_daemon(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	loader_daemon(loader_of(c), v);
	return true;
}

static bool
set_endpoints(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	read_endpoints(loader_of(c), v);
	return true;
}

/* The top level of sockd.conf: its two groups hold the other tables. */
static const struct key root_key_table[] = {
	{ .name = "daemon", .type = KEY_GROUP, .set = set_daemon, .doc_def = "every default",
	  .doc = "settings of the whole daemon" },
	{ .name = "endpoints", .type = KEY_LIST, .set = set_endpoints, .doc_def = "required",
	  .doc = "the endpoints, a list of groups" },
	{ .name = NULL },
};

const struct key_set root_keys = {
	.section = "top",
	.keys = root_key_table,
};

static void
read_root(struct loader *l, const struct cval *root)
{
	bool have_endpoints = false;

	for (size_t i = 0; i < root->n && !l->kc.nomem; i++) {
		const struct cval *v = &root->elems[i];
		const struct key *k = key_find(&root_keys, v->name);

		if (!k) {
			key_error(&l->kc, v, "unknown top-level key '%s'", v->name);
			continue;
		}
		if (strcmp(k->name, "endpoints") == 0)
			have_endpoints = true;
		k->set(&l->kc, k, v, NULL);
	}
	if (!have_endpoints && !l->kc.nomem)
		key_error(&l->kc, NULL, "'endpoints' is missing (an empty list is \"endpoints = ();\")");
}

/* ------------------------------------------------------------ include_dir */

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
read_fragment(struct lc_source *src, const char *path)
{
	struct loader *l = src->l;
	const struct cval *root;
	char why[96];
	int r;

	/* Anything but a file to read is skipped with a warning, whatever it
	 * is: a directory, a FIFO or socket named *.conf, a symlink that
	 * leads nowhere (or to one of those). A file that cannot be read or
	 * is too large is an error. */
	r = check_readable(path, why, sizeof(why));
	if (r == -ENOMEM) {
		l->kc.nomem = true;
		return;
	}
	if (r == NOT_REGULAR || r == -EISDIR || r == -ENOENT || r == -ELOOP) {
		diag_add(&src->warnings, path, 0, "skipped: %s", r == -ENOENT ?
		    "a dangling symbolic link" : r == -EISDIR ? "a directory" : why);
		return;
	}
	if (r < 0) {
		key_file_error(&l->kc, path, 0, "%s", why);
		return;
	}
	if (!(root = read_file(src, path)))
		return;
	for (size_t i = 0; i < root->n && !l->kc.nomem; i++) {
		const struct cval *v = &root->elems[i];

		if (strcmp(v->name, "endpoints") == 0)
			read_endpoints(l, v);
		else
			key_error(&l->kc, v, "'%s' is not allowed in an include_dir file (only 'endpoints')",
			    v->name);
	}
}

static void
read_include_dir(struct lc_source *src, const char *dir)
{
	struct loader *l = src->l;
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
			l->kc.nomem = true;
		else
			key_error(&l->kc, l->include_dir, "cannot read include_dir '%s': %s",
			    dir, strerror(errno));
		return;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				key_error(&l->kc, l->include_dir, "cannot read include_dir '%s': %s",
				    dir, strerror(errno));
			break;
		}
		if (!fragment_name(de->d_name))
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

	/* strcmp is the C locale's byte order, whatever LC_COLLATE says. */
	if (n > 0)
		qsort(names, n, sizeof(*names), strcmp_ptr);
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	for (size_t i = 0; i < n && !l->kc.nomem; i++) {
		path = diag_format("%.*s/%s", (int)len, len == 1 ? "" : dir, names[i]);
		if (!path) {
			l->kc.nomem = true;
			break;
		}
		read_fragment(src, path);
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ------------------------------------------------------------ the load */

int
config_load(const char *path, struct sockd_config **out, struct diag *d)
{
	struct lc_source src = { 0 };
	struct inetd_files *inetd = NULL;
	struct loader l;
	const struct cval *root;
	size_t start = d->n;
	char why[96];
	int r;

	*out = NULL;
	r = check_readable(path, why, sizeof(why));
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		diag_add(d, path, 0, "%s", why);
		return d->n > start ? -EINVAL : -ENOMEM;
	}
	if (loader_begin(&l, path, d) < 0)
		return -ENOMEM;
	src.l = &l;

	/* A syntax error in the main file is the only line. */
	root = read_file(&src, path);
	if (root && !l.kc.nomem)
		read_root(&l, root);
	if (!l.kc.nomem && l.cfg->daemon.include_dir) {
		size_t n = l.cfg->n_endpoints;

		read_include_dir(&src, l.cfg->daemon.include_dir);
		l.cfg->n_included = l.cfg->n_endpoints - n;
	}
	if (!l.kc.nomem) {
		size_t n = l.cfg->n_endpoints;

		inetd = config_inetd_read(&l, &src.warnings);
		l.cfg->n_inetd = l.cfg->n_endpoints - n;
	}
	r = loader_end(&l, out);
	config_inetd_free(inetd);
	if (*out && (*out)->n_warnings == 0) {
		free((*out)->warnings);
		(*out)->warnings = src.warnings.lines;
		(*out)->n_warnings = src.warnings.n;
	} else if (*out && src.warnings.n) {
		/* The checks of the load warned too (a key file others may
		 * read): the reader's warnings go first. */
		struct sockd_config *cfg = *out;
		char **w = realloc(src.warnings.lines,
				   (src.warnings.n + cfg->n_warnings) * sizeof(*w));

		if (w) {
			memcpy(w + src.warnings.n, cfg->warnings, cfg->n_warnings * sizeof(*w));
			free(cfg->warnings);
			cfg->warnings = w;
			cfg->n_warnings += src.warnings.n;
		} else {
			diag_free(&src.warnings);
		}
	} else {
		diag_free(&src.warnings);
	}
	source_free(&src);
	return r;
}
