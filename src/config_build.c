/*
 * Groups of values from any source -> struct daemon_config and endpoints,
 * through the key tables: look each key up, store it with its setter, fill
 * the defaults, then run the cross-key rules (config_check.c). Knows no
 * syntax: config.c (sockd.conf) and any other reader hand their groups in.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_source.h"
#include "service.h"

/* ------------------------------------------------------------ lifetime */

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
	key_set_release(&endpoint_keys, ep);
	if (ep->svc_opts && ep->service && ep->service->keys)
		key_set_release(ep->service->keys, ep->svc_opts);
	free(ep->svc_opts);
	free(ep->file);
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
	key_set_release(&daemon_keys, &cfg->daemon);
	free(cfg->file);
	for (size_t i = 0; i < cfg->n_warnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	free(cfg);
}

/* ------------------------------------------------------------ loads */

int
loader_begin(struct loader *l, const char *path, struct diag *d)
{
	memset(l, 0, sizeof(*l));
	l->kc.path = path;
	l->kc.d = d;
	l->kc.ids = &l->ids;
	l->optional_from = SIZE_MAX;
	l->diag_start = d->n;
	l->cfg = calloc(1, sizeof(*l->cfg));
	if (!l->cfg)
		return -ENOMEM;
	l->cfg->file = key_strdup(&l->kc, path);
	if (!key_set_defaults(&daemon_keys, &l->cfg->daemon))
		l->kc.nomem = true;
	if (l->kc.nomem) {
		config_free(l->cfg);
		l->cfg = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void
remember(struct loader *l, const struct endpoint *ep, const struct key *k, const struct cval *v)
{
	struct seen_key *s;

	if (l->n_seen == l->cap_seen) {
		size_t cap = l->cap_seen ? 2 * l->cap_seen : 64;

		s = realloc(l->seen, cap * sizeof(*s));
		if (!s) {
			l->kc.nomem = true;
			return;
		}
		l->seen = s;
		l->cap_seen = cap;
	}
	l->seen[l->n_seen++] = (struct seen_key){ ep, k, v };
}

const struct cval *
loader_seen(const struct loader *l, const struct endpoint *ep, const char *name)
{
	const size_t *at;
	size_t i;

	/* The daemon's keys (ep NULL) are few. An endpoint's follow each
	 * other from where seen_from says they begin. */
	if (!ep) {
		for (i = 0; i < l->n_seen; i++)
			if (!l->seen[i].ep && strcmp(l->seen[i].k->name, name) == 0)
				return l->seen[i].v;
		return NULL;
	}
	if (!(at = hmap_get(&l->seen_from, &ep, sizeof(ep))))
		return NULL;
	i = *at;
	for (; i < l->n_seen && l->seen[i].ep == ep; i++)
		if (strcmp(l->seen[i].k->name, name) == 0)
			return l->seen[i].v;
	return NULL;
}

size_t
loader_addr_key(const struct addr *a, unsigned char key[ADDR_KEYLEN])
{
	struct addr x = *a;

	if (addr_is_tcp(&x))
		x.type = ADDR_TCP;
	return addr_key(&x, key);
}

void
loader_daemon(struct loader *l, const struct cval *g)
{
	struct daemon_config *dc = &l->cfg->daemon;

	if (g->type != CVAL_GROUP) {
		key_error(&l->kc, g, "'daemon' must be a group ({ ... })");
		return;
	}
	for (size_t i = 0; i < g->n && !l->kc.nomem; i++) {
		const struct cval *v = &g->elems[i];
		const struct key *k = key_find(&daemon_keys, v->name);

		if (!k)
			key_error(&l->kc, v, "unknown key '%s' in daemon", v->name);
		else if (k->set(&l->kc, k, v, key_field(k, dc)))
			remember(l, NULL, k, v);
	}
	if (!l->kc.nomem)
		check_daemon(l);
}

/* The set that declares key name among the services', or NULL. */
static const struct key_set *
service_set_of(const char *name, const struct key **k)
{
	for (const struct service *const *s = service_table; *s; s++)
		if ((*s)->keys && (*k = key_find((*s)->keys, name)))
			return (*s)->keys;
	return NULL;
}

/* The keys of another service than the endpoint's are checked all the
 * same (config_check.c then says they do not belong), into a scratch
 * struct of their set that is thrown away. */
struct scratch {
	const struct key_set *set;
	void *base;
};

static void *
scratch_for(struct loader *l, struct scratch *sc, size_t *n, size_t cap,
    const struct key_set *set)
{
	for (size_t i = 0; i < *n; i++)
		if (sc[i].set == set)
			return sc[i].base;
	if (*n == cap)
		return NULL;
	sc[*n].set = set;
	sc[*n].base = key_set_new(set);
	if (!sc[*n].base)
		l->kc.nomem = true;
	return sc[(*n)++].base;
}

static void
read_keys(struct loader *l, struct ep_state *st)
{
	struct endpoint *ep = st->ep;
	const struct cval *g = st->group;
	struct scratch sc[CONFIG_MAX_KEY_SETS];
	size_t n_sc = 0;

	for (size_t i = 0; i < g->n && !l->kc.nomem; i++) {
		const struct cval *v = &g->elems[i];
		const struct key *k = key_find(&endpoint_keys, v->name);
		const struct key_set *set = &endpoint_keys;
		void *base;

		if (!k && !(set = service_set_of(v->name, &k))) {
			key_error(&l->kc, v, "unknown key '%s' in endpoint %s", v->name, st->label);
			continue;
		}
		remember(l, ep, k, v);
		if (set == &endpoint_keys)
			base = ep;
		else if (ep->service && set == ep->service->keys)
			base = ep->svc_opts;
		else
			base = scratch_for(l, sc, &n_sc, sizeof(sc) / sizeof(sc[0]), set);
		if (base)
			k->set(&l->kc, k, v, key_field(k, base));
	}
	for (size_t i = 0; i < n_sc; i++) {
		key_set_release(sc[i].set, sc[i].base);
		free(sc[i].base);
	}
}

/* Values that come from several keys, once all are read. */
static void
finish_endpoint(struct loader *l, struct ep_state *st)
{
	struct endpoint *ep = st->ep;

	/* A bucket as deep as one second of rate: a client may open that
	 * many connections at once, then waits for refills. */
	if (!loader_seen(l, ep, "burst")) {
		ep->burst = ep->rate > 1 ? (unsigned)ep->rate : 1;
		if (ep->burst < ep->rate)
			ep->burst++;
	}
	if ((loader_seen(l, ep, "allow") || loader_seen(l, ep, "deny")) && !l->kc.nomem) {
		ep->acl = acl_new(st->rules[0], st->n_rules[0], st->rules[1], st->n_rules[1]);
		if (!ep->acl)
			l->kc.nomem = true;
	}
	if (loader_seen(l, ep, "proxy_from") && !l->kc.nomem) {
		ep->proxy_from = acl_new(st->rules[2], st->n_rules[2], NULL, 0);
		if (!ep->proxy_from)
			l->kc.nomem = true;
	}
}

void
loader_endpoint(struct loader *l, const struct cval *g, unsigned idx)
{
	struct sockd_config *cfg = l->cfg;
	struct ep_state st = { 0 };
	struct endpoint *ep, **eps;
	const struct cval *n, *svc;

	if (g->type != CVAL_GROUP) {
		key_error(&l->kc, g, "endpoint #%u must be a group ({ ... })", idx);
		return;
	}
	if (cfg->n_endpoints == l->cap_endpoints) {
		size_t cap = l->cap_endpoints ? 2 * l->cap_endpoints : 16;

		eps = realloc(cfg->endpoints, cap * sizeof(*eps));
		if (!eps) {
			l->kc.nomem = true;
			return;
		}
		cfg->endpoints = eps;
		l->cap_endpoints = cap;
	}
	ep = calloc(1, sizeof(*ep));
	if (!ep) {
		l->kc.nomem = true;
		return;
	}
	atomic_init(&ep->refs, 1);
	cfg->endpoints[cfg->n_endpoints++] = ep;
	ep->file = key_strdup(&l->kc, g->file ? g->file : l->kc.path);
	ep->line = g->line;
	if (!key_set_defaults(&endpoint_keys, ep))
		l->kc.nomem = true;
	/* Always there, so that counting needs no check and reads the same
	 * whether max_per_source is set or not. */
	ep->sources = source_table_new();
	if (!ep->sources)
		l->kc.nomem = true;

	/* The service first: its own keys go into its options struct. */
	svc = cval_member(g, "service");
	if (svc && svc->type == CVAL_STRING)
		ep->service = service_lookup(svc->s);
	if (ep->service && ep->service->keys && !l->kc.nomem) {
		ep->svc_opts = key_set_new(ep->service->keys);
		if (!ep->svc_opts)
			l->kc.nomem = true;
	}
	if (l->kc.nomem)
		return;

	/* Messages about this endpoint name it, when it has a usable name. */
	n = cval_member(g, "name");
	if (n && n->type == CVAL_STRING && config_name_valid(n->s))
		snprintf(st.label, sizeof(st.label), "'%s'", n->s);
	else
		snprintf(st.label, sizeof(st.label), "#%u", idx);
	st.ep = ep;
	st.group = g;
	if (hmap_add(&l->seen_from, &ep, sizeof(ep), l->n_seen) == -ENOMEM) {
		l->kc.nomem = true;
		return;
	}
	l->ep = &st;

	read_keys(l, &st);
	if (!l->kc.nomem)
		finish_endpoint(l, &st);
	if (!l->kc.nomem)
		check_endpoint(l, &st);

	l->ep = NULL;
	for (size_t i = 0; i < 3; i++)
		free(st.rules[i]);
	free(st.listen_at);
}

/* Takes the endpoints from n_ep on and the addresses from n_addrs on out
 * of the load and out of the indexes. */
static void
forget(struct loader *l, size_t n_ep, size_t n_addrs)
{
	struct sockd_config *cfg = l->cfg;
	unsigned char key[ADDR_KEYLEN];
	size_t klen, *at;

	while (l->n_addrs > n_addrs) {
		klen = loader_addr_key(&l->addrs[--l->n_addrs].addr, key);
		if (klen > 0)
			hmap_del(&l->addr_index, key, klen);
	}
	while (cfg->n_endpoints > n_ep) {
		struct endpoint *ep = cfg->endpoints[--cfg->n_endpoints];

		/* Its name is in the index only if it was the first. */
		if (ep->name && (at = hmap_get(&l->names, ep->name, strlen(ep->name))) &&
		    *at == cfg->n_endpoints)
			hmap_del(&l->names, ep->name, strlen(ep->name));
		hmap_del(&l->seen_from, &ep, sizeof(ep));
		endpoint_unref(ep);
	}
}

bool
loader_endpoint_optional(struct loader *l, const struct cval *g, unsigned idx,
    struct diag *skipped)
{
	struct sockd_config *cfg = l->cfg;
	struct diag *d = l->kc.d;
	size_t errors = l->kc.errors, dn = d->n, n_addrs = l->n_addrs, n_seen = l->n_seen;
	size_t n_ep = cfg->n_endpoints;

	if (l->optional_from == SIZE_MAX)
		l->optional_from = n_ep;
	loader_endpoint(l, g, idx);
	if (!l->kc.nomem && cfg->n_endpoints > n_ep && l->kc.errors == errors)
		check_across_endpoint(l, cfg->endpoints[n_ep]);
	if (l->kc.nomem)
		return false;
	if (l->kc.errors == errors) {
		cfg->endpoints[n_ep]->optional = true;
		return true;
	}

	/* Take it back: its messages, its addresses and keys (which later
	 * endpoints must not collide with), and the endpoint itself. */
	for (size_t i = dn; i < d->n; i++) {
		diag_add(skipped, NULL, 0, "%s", d->lines[i]);
		free(d->lines[i]);
	}
	if (d->n == dn)
		l->kc.nomem = true;     /* an error whose line was lost */
	d->n = dn;
	l->kc.errors = errors;
	forget(l, n_ep, n_addrs);
	l->n_seen = n_seen;
	return false;
}

int
loader_end(struct loader *l, struct sockd_config **out)
{
	struct sockd_config *cfg = l->cfg;
	int r = 0;

	*out = NULL;
	if (!l->kc.nomem)
		check_across(l);
	free(l->addrs);
	free(l->seen);
	l->addrs = NULL;
	l->seen = NULL;
	hmap_free(&l->addr_index);
	hmap_free(&l->names);
	hmap_free(&l->seen_from);
	key_ids_free(&l->ids);
	l->kc.ids = NULL;
	l->cfg = NULL;
	/* A diagnostic lost to a failed allocation must not pass as success. */
	if (l->kc.nomem || l->kc.d->n - l->diag_start < l->kc.errors)
		r = -ENOMEM;
	else if (l->kc.errors > 0)
		r = -EINVAL;
	if (r < 0)
		config_free(cfg);
	else
		*out = cfg;
	return r;
}
