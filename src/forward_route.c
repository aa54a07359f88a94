/*
 * forward's upstream lists, and its SNI routes:
 *
 *   routes = ( { server_name = [ "a.example", "*.b.example" ];
 *                upstream = [ "tcp:10.0.0.1:443" ]; }, ... );
 *
 * A pattern is a DNS name or "*." and one (tls_hello_name_match()). Each
 * pattern may appear once in all the routes of an endpoint: two routes
 * for one name would make the order of the file decide silently.
 */
#include <stdlib.h>
#include <string.h>

#include "forward_route.h"
#include "tls_hello.h"

bool
forward_parse_addrs(struct key_ctx *c, const struct cval *v, const char *what,
    struct addr **out, size_t *n)
{
	const struct cval *e;
	struct addr *a;
	const char *why;
	size_t len;

	*out = NULL;
	*n = 0;
	if (!(e = key_seq(c, v, "address", &len)))
		return false;
	a = calloc(len, sizeof(*a));
	if (!a) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (e[i].type != CVAL_STRING) {
			key_error(c, &e[i], "'%s' must contain only strings", what);
			continue;
		}
		why = "?";
		if (addr_parse(e[i].s, &a[*n], &why) < 0) {
			key_error(c, &e[i], "invalid address '%s' in '%s': %s", e[i].s, what, why);
			continue;
		}
		(*n)++;
	}
	*out = a;
	return true;
}

void
forward_print_addrs(FILE *f, const char *indent, const char *key, const struct addr *a, size_t n)
{
	char buf[ADDR_STRLEN];

	fprintf(f, "%s%s = [ ", indent, key);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		key_dump_string(f, addr_format(&a[i], buf, sizeof(buf)));
	}
	fputs(" ];\n", f);
}

static void
route_free(struct fwd_route *r)
{
	for (size_t i = 0; i < r->n_names; i++)
		free(r->server_names[i]);
	free(r->server_names);
	free(r->upstream);
	memset(r, 0, sizeof(*r));
}

static void
routes_free(struct forward_options *fo)
{
	for (size_t i = 0; i < fo->n_routes; i++)
		route_free(&fo->routes[i]);
	free(fo->routes);
	fo->routes = NULL;
	fo->n_routes = 0;
}

void
forward_release_routes(const struct key *k, void *base)
{
	(void)k;
	routes_free(base);
}

/* Where each pattern was first written, to name it in the duplicate's
 * message. */
struct seen_name {
	const char *name;
	const struct cval *at;
};

static bool
route_names(struct key_ctx *c, const struct cval *v, struct fwd_route *r,
    struct seen_name **seen, size_t *n_seen)
{
	const struct cval *e;
	size_t n;

	if (!(e = key_seq(c, v, "server name", &n)))
		return false;
	r->server_names = calloc(n, sizeof(*r->server_names));
	if (!r->server_names) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		struct seen_name *s;
		char *p;

		if (e[i].type != CVAL_STRING) {
			key_error(c, &e[i], "'server_name' must contain only strings");
			continue;
		}
		if (!tls_hello_pattern_valid(e[i].s)) {
			key_error(c, &e[i], "invalid server name '%s' in 'server_name': a DNS name "
			    "(\"www.example.com\") or \"*.\" and one (\"*.example.com\", one label)",
			    e[i].s);
			continue;
		}
		if (!(p = key_strdup(c, e[i].s)))
			return false;
		for (char *q = p; *q; q++)
			if (*q >= 'A' && *q <= 'Z')
				*q = (char)(*q - 'A' + 'a');
		for (size_t j = 0; j < *n_seen; j++) {
			if (strcmp((*seen)[j].name, p) == 0) {
				key_error(c, &e[i], "server name '%s' is routed twice (also at line %d)",
				    e[i].s, (*seen)[j].at->line);
				free(p);
				p = NULL;
				break;
			}
		}
		if (!p)
			continue;
		r->server_names[r->n_names++] = p;
		s = realloc(*seen, (*n_seen + 1) * sizeof(**seen));
		if (!s) {
			c->nomem = true;
			return false;
		}
		*seen = s;
		s[(*n_seen)++] = (struct seen_name){ p, &e[i] };
	}
	return true;
}

bool
forward_set_routes(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct forward_options *fo = (struct forward_options *)((char *)field - k->offset);
	struct seen_name *seen = NULL;
	size_t n_seen = 0;
	bool ok = true;

	routes_free(fo);
	if (v->type != CVAL_LIST) {
		key_error(c, v, "'routes' must be a list of groups: "
		    "( { server_name = [ ... ]; upstream = [ ... ]; }, ... )");
		return false;
	}
	if (v->n == 0) {
		key_error(c, v, "'routes' must have at least one route");
		return false;
	}
	fo->routes = calloc(v->n, sizeof(*fo->routes));
	if (!fo->routes) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < v->n && !c->nomem; i++) {
		const struct cval *g = &v->elems[i];
		struct fwd_route *r = &fo->routes[fo->n_routes++];
		bool has_names = false, has_upstream = false;

		atomic_init(&r->rr_next, 0);
		if (g->type != CVAL_GROUP) {
			key_error(c, g, "route #%zu must be a group: "
			    "{ server_name = [ ... ]; upstream = [ ... ]; }", i + 1);
			ok = false;
			continue;
		}
		for (size_t j = 0; j < g->n && !c->nomem; j++) {
			const struct cval *m = &g->elems[j];

			if (strcmp(m->name, "server_name") == 0) {
				has_names = true;
				ok &= route_names(c, m, r, &seen, &n_seen);
			} else if (strcmp(m->name, "upstream") == 0) {
				has_upstream = true;
				ok &= forward_parse_addrs(c, m, "upstream", &r->upstream, &r->n_upstream);
			} else {
				key_error(c, m, "unknown key '%s' in route #%zu "
				    "(a route has server_name and upstream)", m->name, i + 1);
				ok = false;
			}
		}
		if (!has_names)
			key_error(c, g, "route #%zu has no 'server_name'", i + 1);
		if (!has_upstream)
			key_error(c, g, "route #%zu has no 'upstream'", i + 1);
		ok &= has_names && has_upstream;
	}
	free(seen);
	return ok;
}

void
forward_print_routes(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	const struct forward_options *fo = base;

	(void)outer;
	if (fo->n_routes == 0)
		return;
	fprintf(f, "%s%s = (\n", indent, k->name);
	for (size_t i = 0; i < fo->n_routes; i++) {
		const struct fwd_route *r = &fo->routes[i];
		char buf[ADDR_STRLEN];

		fprintf(f, "%s  { server_name = [ ", indent);
		for (size_t j = 0; j < r->n_names; j++) {
			if (j > 0)
				fputs(", ", f);
			key_dump_string(f, r->server_names[j]);
		}
		fputs(" ]; upstream = [ ", f);
		for (size_t j = 0; j < r->n_upstream; j++) {
			if (j > 0)
				fputs(", ", f);
			key_dump_string(f, addr_format(&r->upstream[j], buf, sizeof(buf)));
		}
		fprintf(f, " ]; }%s\n", i + 1 < fo->n_routes ? "," : "");
	}
	fprintf(f, "%s);\n", indent);
}

const struct fwd_route *
forward_route_find(const struct forward_options *fo, const char *name)
{
	const char *dot = strchr(name, '.');

	for (size_t i = 0; i < fo->n_routes; i++)
		for (size_t j = 0; j < fo->routes[i].n_names; j++)
			if (strcmp(fo->routes[i].server_names[j], name) == 0)
				return &fo->routes[i];
	/* "*.b.example" stands for one label: only the name's own parent
	 * can match, so compare what follows the first dot. */
	if (!dot)
		return NULL;
	for (size_t i = 0; i < fo->n_routes; i++)
		for (size_t j = 0; j < fo->routes[i].n_names; j++) {
			const char *p = fo->routes[i].server_names[j];

			if (p[0] == '*' && strcmp(p + 2, dot + 1) == 0)
				return &fo->routes[i];
		}
	return NULL;
}
