#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"
#include "queue.h"
#include "runtime.h"
#include "service.h"
#include "sockd.h"
#include "status.h"
#include "tls.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

struct mon_endpoint {
	struct endpoint *ep;            /* the current one; holds a reference */
	struct endpoint **prev;         /* replaced by reloads, connections still open; references */
	size_t n_prev;
	struct status_counters base;    /* final counts of replaced endpoints that are done */
	struct status_address *listen;  /* copies: listeners come and go */
	size_t n_listen;
};

/* Immutable once published, except for refs. */
struct mon_view {
	atomic_uint refs;
	struct sockd *d;                /* for the live totals; outlives every view */
	char *config_file;
	double started;
	uint64_t started_usec;          /* CLOCK_MONOTONIC */
	bool reload_ok;
	double reload_time;
	char **reload_errors;
	size_t n_reload_errors;
	unsigned workers;
	unsigned long long queue_capacity;
	unsigned long long max_connections;
	struct mon_endpoint *eps;
	size_t n_eps;
};

/* Held only to swap or take a reference on the current view: the main
 * thread never blocks a worker for longer than that. */
static pthread_mutex_t view_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mon_view *view_current;

static uint64_t
monotonic_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
view_free(struct mon_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n_eps; i++) {
		struct mon_endpoint *me = &v->eps[i];

		endpoint_unref(me->ep);
		for (size_t k = 0; k < me->n_prev; k++)
			endpoint_unref(me->prev[k]);
		free(me->prev);
		for (size_t k = 0; k < me->n_listen; k++)
			free(me->listen[k].address);
		free(me->listen);
	}
	free(v->eps);
	for (size_t i = 0; i < v->n_reload_errors; i++)
		free(v->reload_errors[i]);
	free(v->reload_errors);
	free(v->config_file);
	free(v);
}

static void
view_unref(struct mon_view *v)
{
	if (v && atomic_fetch_sub(&v->refs, 1) == 1)
		view_free(v);
}

static void
read_counters(const struct endpoint *ep, struct status_counters *c)
{
	const struct endpoint_stats *s = &ep->stats;

	c->active = atomic_load_explicit(&s->active, memory_order_relaxed);
	c->accepted = atomic_load_explicit(&s->accepted, memory_order_relaxed);
	c->refused_acl = atomic_load_explicit(&s->refused_acl, memory_order_relaxed);
	c->refused_limit = atomic_load_explicit(&s->refused_limit, memory_order_relaxed);
	c->refused_rate = atomic_load_explicit(&s->refused_rate, memory_order_relaxed);
	c->refused_overload = atomic_load_explicit(&s->refused_overload, memory_order_relaxed);
	c->refused_proxy = atomic_load_explicit(&s->refused_proxy, memory_order_relaxed);
	c->refused_sni = atomic_load_explicit(&s->refused_sni, memory_order_relaxed);
	c->sni_routed = atomic_load_explicit(&s->sni_routed, memory_order_relaxed);
	c->sni_default = atomic_load_explicit(&s->sni_default, memory_order_relaxed);
	c->closed_idle = atomic_load_explicit(&s->closed_idle, memory_order_relaxed);
	c->failed = atomic_load_explicit(&s->failed, memory_order_relaxed);
	c->bytes_in = atomic_load_explicit(&s->bytes_in, memory_order_relaxed);
	c->bytes_out = atomic_load_explicit(&s->bytes_out, memory_order_relaxed);
	c->datagrams_in = atomic_load_explicit(&s->datagrams_in, memory_order_relaxed);
	c->datagrams_out = atomic_load_explicit(&s->datagrams_out, memory_order_relaxed);
	c->dropped_rate = atomic_load_explicit(&s->dropped_rate, memory_order_relaxed);
	c->dropped_guard = atomic_load_explicit(&s->dropped_guard, memory_order_relaxed);
	c->refused_sessions = atomic_load_explicit(&s->refused_sessions, memory_order_relaxed);
	c->udp_sessions = atomic_load_explicit(&s->udp_sessions, memory_order_relaxed);
	c->evicted_source = atomic_load_explicit(&s->evicted_source, memory_order_relaxed);
	c->evicted_full = atomic_load_explicit(&s->evicted_full, memory_order_relaxed);
	c->evicted_budget = atomic_load_explicit(&s->evicted_budget, memory_order_relaxed);
	c->tls_handshakes = atomic_load_explicit(&s->tls_handshakes, memory_order_relaxed);
	c->tls_resumed = atomic_load_explicit(&s->tls_resumed, memory_order_relaxed);
	c->tls_failed_protocol = atomic_load_explicit(&s->tls_failed[TLS_FAIL_PROTOCOL], memory_order_relaxed);
	c->tls_failed_certificate = atomic_load_explicit(&s->tls_failed[TLS_FAIL_CERTIFICATE],
							 memory_order_relaxed);
	c->tls_failed_sni = atomic_load_explicit(&s->tls_failed[TLS_FAIL_SNI], memory_order_relaxed);
	c->tls_failed_alpn = atomic_load_explicit(&s->tls_failed[TLS_FAIL_ALPN], memory_order_relaxed);
	c->tls_failed_timeout = atomic_load_explicit(&s->tls_failed[TLS_FAIL_TIMEOUT], memory_order_relaxed);
	c->tls_failed_closed = atomic_load_explicit(&s->tls_failed[TLS_FAIL_CLOSED], memory_order_relaxed);
	c->tls_failed_other = atomic_load_explicit(&s->tls_failed[TLS_FAIL_OTHER], memory_order_relaxed);
}

static const struct mon_endpoint *
old_entry(const struct mon_view *old, const char *name)
{
	for (size_t i = 0; old && i < old->n_eps; i++)
		if (strcmp(old->eps[i].ep->name, name) == 0)
			return &old->eps[i];
	return NULL;
}

/* Carry the history of the endpoint called like me->ep over from the
 * previous view. A replaced endpoint with no connection left counts no
 * more (it has no listener either): its counts move into base. */
static int
carry_over(struct mon_endpoint *me, const struct mon_endpoint *o)
{
	size_t n = o->n_prev + 1;

	me->base = o->base;
	me->prev = calloc(n, sizeof(*me->prev));
	if (!me->prev)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		struct endpoint *p = k < o->n_prev ? o->prev[k] : o->ep;
		struct status_counters c;

		if (p == me->ep)
			continue;
		if (atomic_load(&p->stats.active) > 0) {
			me->prev[me->n_prev++] = endpoint_ref(p);
			continue;
		}
		read_counters(p, &c);
		status_counters_add(&me->base, &c);
	}
	me->base.active = 0;
	me->base.udp_sessions = 0;
	return 0;
}

static int
copy_listeners(struct mon_endpoint *me, struct sockd *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_listeners; i++)
		if (d->listeners[i] && d->listeners[i]->ep == me->ep)
			n++;
	if (n == 0)
		return 0;
	me->listen = calloc(n, sizeof(*me->listen));
	if (!me->listen)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_listeners; i++) {
		const struct listener *l = d->listeners[i];
		char text[ADDR_STRLEN];

		if (!l || l->ep != me->ep)
			continue;
		me->listen[me->n_listen].address = strdup(addr_format(&l->addr, text, sizeof(text)));
		if (!me->listen[me->n_listen].address)
			return -ENOMEM;
		me->listen[me->n_listen].from_systemd = l->from_systemd;
		me->listen[me->n_listen++].kept = l->inherited;
	}
	return 0;
}

int
monitor_publish(struct sockd *d)
{
	struct mon_view *old = view_current, *v;
	const struct sockd_config *cfg = d->cfg;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	atomic_init(&v->refs, 1);
	v->d = d;
	v->config_file = strdup(d->config_path ? d->config_path : "");
	v->started = d->started_at;
	v->started_usec = d->started_usec;
	v->reload_ok = d->last_reload_ok;
	v->reload_time = d->reload_at;
	v->workers = d->n_workers;
	v->queue_capacity = d->queue ? queue_capacity(d->queue) : 0;
	v->max_connections = d->max_connections;
	if (!v->config_file)
		goto nomem;
	if (d->reload_errors.n > 0) {
		v->reload_errors = calloc(d->reload_errors.n, sizeof(*v->reload_errors));
		if (!v->reload_errors)
			goto nomem;
		for (size_t i = 0; i < d->reload_errors.n; i++) {
			v->reload_errors[i] = strdup(d->reload_errors.lines[i]);
			if (!v->reload_errors[i])
				goto nomem;
			v->n_reload_errors++;
		}
	}
	if (cfg->n_endpoints > 0) {
		v->eps = calloc(cfg->n_endpoints, sizeof(*v->eps));
		if (!v->eps)
			goto nomem;
	}
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		struct mon_endpoint *me = &v->eps[i];
		const struct mon_endpoint *o;

		me->ep = endpoint_ref(cfg->endpoints[i]);
		v->n_eps++;
		o = old_entry(old, me->ep->name);
		if ((o && carry_over(me, o) < 0) || copy_listeners(me, d) < 0)
			goto nomem;
	}

	pthread_mutex_lock(&view_lock);
	view_current = v;
	pthread_mutex_unlock(&view_lock);
	view_unref(old);
	return 0;

nomem:
	view_free(v);
	return -ENOMEM;
}

void
monitor_clear(void)
{
	struct mon_view *old;

	pthread_mutex_lock(&view_lock);
	old = view_current;
	view_current = NULL;
	pthread_mutex_unlock(&view_lock);
	view_unref(old);
}

static int
fill(const struct mon_view *v, struct status *s)
{
	struct sockd *d = v->d;

	s->version = strdup(PACKAGE_VERSION);
	s->config_file = strdup(v->config_file);
	if (!s->version || !s->config_file)
		return -ENOMEM;
	s->pid = (long)getpid();
	s->started = v->started;
	s->uptime = (double)(monotonic_usec() - v->started_usec) / 1e6;
	s->reload_ok = v->reload_ok;
	s->reload_time = v->reload_time;
	if (v->n_reload_errors > 0) {
		s->reload_errors = calloc(v->n_reload_errors, sizeof(*s->reload_errors));
		if (!s->reload_errors)
			return -ENOMEM;
		for (size_t i = 0; i < v->n_reload_errors; i++) {
			s->reload_errors[i] = strdup(v->reload_errors[i]);
			if (!s->reload_errors[i])
				return -ENOMEM;
			s->n_reload_errors++;
		}
	}
	s->workers = v->workers;
	s->queue_length = d->queue ? queue_length(d->queue) : 0;
	s->queue_capacity = v->queue_capacity;
	s->active = atomic_load(&d->active);
	s->max_connections = v->max_connections;
	s->served = atomic_load(&d->served);
	s->udp_sessions = atomic_load(&d->udp_budget.open);
	s->udp_session_budget = atomic_load(&d->udp_budget.limit);
	if (v->n_eps == 0)
		return 0;
	s->endpoints = calloc(v->n_eps, sizeof(*s->endpoints));
	if (!s->endpoints)
		return -ENOMEM;
	for (size_t i = 0; i < v->n_eps; i++) {
		const struct mon_endpoint *me = &v->eps[i];
		struct status_endpoint *e = &s->endpoints[i];
		struct status_counters c;

		s->n_endpoints++;
		e->name = strdup(me->ep->name);
		e->service = strdup(me->ep->service->name);
		e->program_pid = atomic_load_explicit(&me->ep->program_pid, memory_order_relaxed);
		if (!e->name || !e->service)
			return -ENOMEM;
		if (me->n_listen > 0) {
			e->listen = calloc(me->n_listen, sizeof(*e->listen));
			if (!e->listen)
				return -ENOMEM;
		}
		for (size_t k = 0; k < me->n_listen; k++) {
			e->listen[k].address = strdup(me->listen[k].address);
			e->listen[k].from_systemd = me->listen[k].from_systemd;
			e->listen[k].kept = me->listen[k].kept;
			e->n_listen++;
			if (!e->listen[k].address)
				return -ENOMEM;
		}
		e->c = me->base;
		read_counters(me->ep, &c);
		status_counters_add(&e->c, &c);
		for (size_t k = 0; k < me->n_prev; k++) {
			read_counters(me->prev[k], &c);
			status_counters_add(&e->c, &c);
		}
	}
	return 0;
}

int
monitor_snapshot(struct status *out)
{
	struct mon_view *v;
	int r;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&view_lock);
	v = view_current;
	if (v)
		atomic_fetch_add(&v->refs, 1);
	pthread_mutex_unlock(&view_lock);
	if (!v)
		return -ENOENT;
	r = fill(v, out);
	view_unref(v);
	if (r < 0)
		status_free(out);
	return r;
}
