#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "status.h"

/* Every counter of an endpoint with its JSON path and Prometheus family.
 * The order of the Prometheus families is this order; rows of the same
 * family must be adjacent. */
static const struct counter_info {
	size_t offset;
	const char *json_group;         /* "refused", "dropped" or NULL (top level) */
	const char *json_key;
	const char *family;             /* sockd_endpoint_... */
	const char *type;               /* counter, gauge */
	const char *reason;             /* the reason label, or NULL */
	const char *help;
} counters[] = {
	{ offsetof(struct status_counters, active), NULL, "active",
	  "sockd_endpoint_connections_active", "gauge", NULL,
	  "Stream connections of the endpoint open now." },
	{ offsetof(struct status_counters, accepted), NULL, "accepted",
	  "sockd_endpoint_accepted_total", "counter", NULL,
	  "Stream connections accepted and handed to a worker." },
	{ offsetof(struct status_counters, refused_acl), "refused", "acl",
	  "sockd_endpoint_refused_total", "counter", "acl",
	  "Connections refused, by reason: acl (allow/deny, allow_uid/allow_gid), limit "
	  "(max_connections, max_per_source), rate, overload (overload = \"reject\"), "
	  "proxy (missing or bad PROXY header), sni (routes: no route for the server name, or no "
	  "usable TLS ClientHello), sessions (a new datagram forward client ignored: "
	  "the session budget was held by other endpoints)." },
	{ offsetof(struct status_counters, refused_limit), "refused", "limit",
	  "sockd_endpoint_refused_total", "counter", "limit", NULL },
	{ offsetof(struct status_counters, refused_rate), "refused", "rate",
	  "sockd_endpoint_refused_total", "counter", "rate", NULL },
	{ offsetof(struct status_counters, refused_overload), "refused", "overload",
	  "sockd_endpoint_refused_total", "counter", "overload", NULL },
	{ offsetof(struct status_counters, refused_proxy), "refused", "proxy",
	  "sockd_endpoint_refused_total", "counter", "proxy", NULL },
	{ offsetof(struct status_counters, refused_sni), "refused", "sni",
	  "sockd_endpoint_refused_total", "counter", "sni", NULL },
	{ offsetof(struct status_counters, refused_sessions), "refused", "sessions",
	  "sockd_endpoint_refused_total", "counter", "sessions", NULL },
	{ offsetof(struct status_counters, closed_idle), NULL, "closed_idle",
	  "sockd_endpoint_closed_idle_total", "counter", NULL,
	  "Connections closed by idle_timeout or lifetime." },
	{ offsetof(struct status_counters, failed), NULL, "failed",
	  "sockd_endpoint_failed_total", "counter", NULL,
	  "Connections the service could not serve (exec could not start, no upstream answered)." },
	{ offsetof(struct status_counters, bytes_in), NULL, "bytes_in",
	  "sockd_endpoint_received_bytes_total", "counter", NULL,
	  "Bytes received from clients (stream connections count when they close)." },
	{ offsetof(struct status_counters, bytes_out), NULL, "bytes_out",
	  "sockd_endpoint_sent_bytes_total", "counter", NULL,
	  "Bytes sent to clients (stream connections count when they close)." },
	{ offsetof(struct status_counters, datagrams_in), NULL, "datagrams_in",
	  "sockd_endpoint_received_datagrams_total", "counter", NULL,
	  "Datagrams received." },
	{ offsetof(struct status_counters, datagrams_out), NULL, "datagrams_out",
	  "sockd_endpoint_sent_datagrams_total", "counter", NULL,
	  "Datagrams sent in reply." },
	{ offsetof(struct status_counters, dropped_rate), "dropped", "rate",
	  "sockd_endpoint_dropped_datagrams_total", "counter", "rate",
	  "Datagrams left unanswered, by reason: rate (udp_rate), guard (udp_guard)." },
	{ offsetof(struct status_counters, dropped_guard), "dropped", "guard",
	  "sockd_endpoint_dropped_datagrams_total", "counter", "guard", NULL },
	{ offsetof(struct status_counters, udp_sessions), NULL, "udp_sessions",
	  "sockd_endpoint_udp_sessions", "gauge", NULL,
	  "Datagram forward sessions of the endpoint open now." },
	{ offsetof(struct status_counters, evicted_source), "evicted", "source",
	  "sockd_endpoint_udp_sessions_evicted_total", "counter", "source",
	  "Datagram forward sessions ended early to make room for a new client, by the limit "
	  "reached: source (udp_sessions_per_source), full (the socket's table), budget (the "
	  "session budget of the daemon)." },
	{ offsetof(struct status_counters, evicted_full), "evicted", "full",
	  "sockd_endpoint_udp_sessions_evicted_total", "counter", "full", NULL },
	{ offsetof(struct status_counters, evicted_budget), "evicted", "budget",
	  "sockd_endpoint_udp_sessions_evicted_total", "counter", "budget", NULL },
	{ offsetof(struct status_counters, tls_handshakes), "tls", "handshakes",
	  "sockd_endpoint_tls_handshakes_total", "counter", NULL,
	  "TLS handshakes completed (endpoints with tls)." },
	{ offsetof(struct status_counters, tls_resumed), "tls", "resumed",
	  "sockd_endpoint_tls_resumed_total", "counter", NULL,
	  "TLS handshakes that resumed a session (ticket or session cache)." },
	{ offsetof(struct status_counters, tls_failed_protocol), "tls_failed", "protocol",
	  "sockd_endpoint_tls_failed_total", "counter", "protocol",
	  "TLS handshakes that failed, by reason: protocol (not TLS, no version or cipher in "
	  "common, renegotiation), certificate (client certificate missing or not verified), "
	  "sni (unknown server name refused), alpn (no ALPN protocol in common), timeout "
	  "(handshake_timeout), closed (the client went away), other." },
	{ offsetof(struct status_counters, tls_failed_certificate), "tls_failed", "certificate",
	  "sockd_endpoint_tls_failed_total", "counter", "certificate", NULL },
	{ offsetof(struct status_counters, tls_failed_sni), "tls_failed", "sni",
	  "sockd_endpoint_tls_failed_total", "counter", "sni", NULL },
	{ offsetof(struct status_counters, tls_failed_alpn), "tls_failed", "alpn",
	  "sockd_endpoint_tls_failed_total", "counter", "alpn", NULL },
	{ offsetof(struct status_counters, tls_failed_timeout), "tls_failed", "timeout",
	  "sockd_endpoint_tls_failed_total", "counter", "timeout", NULL },
	{ offsetof(struct status_counters, tls_failed_closed), "tls_failed", "closed",
	  "sockd_endpoint_tls_failed_total", "counter", "closed", NULL },
	{ offsetof(struct status_counters, tls_failed_other), "tls_failed", "other",
	  "sockd_endpoint_tls_failed_total", "counter", "other", NULL },
	{ offsetof(struct status_counters, sni_routed), "sni", "routed",
	  "sockd_endpoint_sni_routed_total", "counter", "route",
	  "Connections of a forward with routes, by where the server name sent them: reason route "
	  "(the route naming it), default (no route matched: the endpoint's upstream)." },
	{ offsetof(struct status_counters, sni_default), "sni", "default",
	  "sockd_endpoint_sni_routed_total", "counter", "default", NULL },
};

#define N_COUNTERS (sizeof(counters) / sizeof(counters[0]))

static unsigned long long *
counter_at(struct status_counters *c, size_t i)
{
	return (unsigned long long *)((char *)c + counters[i].offset);
}

static unsigned long long
counter_get(const struct status_counters *c, size_t i)
{
	return *(const unsigned long long *)((const char *)c + counters[i].offset);
}

void
status_counters_add(struct status_counters *a, const struct status_counters *b)
{
	for (size_t i = 0; i < N_COUNTERS; i++)
		*counter_at(a, i) += counter_get(b, i);
}

unsigned long long
status_refused(const struct status_counters *c)
{
	return c->refused_acl + c->refused_limit + c->refused_rate + c->refused_overload + c->refused_proxy +
	       c->refused_sni + c->refused_sessions;
}

static unsigned long long
evicted(const struct status_counters *c)
{
	return c->evicted_source + c->evicted_full + c->evicted_budget;
}

static unsigned long long
tls_failed(const struct status_counters *c)
{
	return c->tls_failed_protocol + c->tls_failed_certificate + c->tls_failed_sni + c->tls_failed_alpn +
	       c->tls_failed_timeout + c->tls_failed_closed + c->tls_failed_other;
}

void
status_free(struct status *s)
{
	free(s->version);
	free(s->config_file);
	for (size_t i = 0; i < s->n_reload_errors; i++)
		free(s->reload_errors[i]);
	free(s->reload_errors);
	for (size_t i = 0; i < s->n_endpoints; i++) {
		struct status_endpoint *e = &s->endpoints[i];

		free(e->name);
		free(e->service);
		for (size_t k = 0; k < e->n_listen; k++)
			free(e->listen[k].address);
		free(e->listen);
	}
	free(s->endpoints);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------ JSON */

static void
json_key(struct buf *b, const char *k)
{
	buf_json_string(b, k);
	buf_append(b, ":", 1);
}

static void
json_str_member(struct buf *b, const char *k, const char *v, const char *sep)
{
	json_key(b, k);
	buf_json_string(b, v ? v : "");
	buf_puts(b, sep);
}

const char *
status_origin(const struct status_address *a)
{
	return a->from_systemd ? "systemd" : a->kept ? "kept" : "bound";
}

static void
endpoint_json(const struct status_endpoint *e, struct buf *b)
{
	const char *group = NULL;

	buf_puts(b, "{");
	json_str_member(b, "name", e->name, ",");
	json_str_member(b, "service", e->service, ",");
	json_key(b, "listen");
	buf_puts(b, "[");
	for (size_t k = 0; k < e->n_listen; k++) {
		buf_puts(b, k ? ",{" : "{");
		json_str_member(b, "address", e->listen[k].address, ",");
		json_str_member(b, "origin", status_origin(&e->listen[k]), "}");
	}
	buf_puts(b, "]");
	if (e->program_pid > 0)
		buf_printf(b, ",\"program_pid\":%ld", e->program_pid);
	for (size_t i = 0; i < N_COUNTERS; i++) {
		const struct counter_info *ci = &counters[i];
		bool first = false;

		if (group && (!ci->json_group || strcmp(group, ci->json_group) != 0)) {
			buf_puts(b, "}");
			group = NULL;
		}
		if (ci->json_group && !group) {
			group = ci->json_group;
			buf_puts(b, ",");
			json_key(b, group);
			buf_puts(b, "{");
			first = true;
		}
		if (!first)
			buf_puts(b, ",");
		json_key(b, ci->json_key);
		buf_printf(b, "%llu", counter_get(&e->c, i));
	}
	if (group)
		buf_puts(b, "}");
	buf_puts(b, "}");
}

void
status_json_members(const struct status *s, struct buf *b)
{
	json_str_member(b, "version", s->version, ",");
	buf_printf(b, "\"pid\":%ld,", s->pid);
	json_str_member(b, "config", s->config_file, ",");
	buf_printf(b, "\"started\":%.3f,\"uptime\":%.3f,", s->started, s->uptime);
	buf_printf(b, "\"reload\":{\"ok\":%s,\"time\":%.3f,\"errors\":[",
		   s->reload_ok ? "true" : "false", s->reload_time);
	for (size_t i = 0; i < s->n_reload_errors; i++) {
		if (i)
			buf_puts(b, ",");
		buf_json_string(b, s->reload_errors[i]);
	}
	buf_puts(b, "]},");
	buf_printf(b, "\"workers\":%u,\"queue\":{\"length\":%llu,\"capacity\":%llu},",
		   s->workers, s->queue_length, s->queue_capacity);
	buf_printf(b, "\"connections\":{\"active\":%llu,\"max\":%llu},\"served\":%llu,",
		   s->active, s->max_connections, s->served);
	buf_printf(b, "\"udp_sessions\":{\"open\":%llu,\"budget\":%llu},", s->udp_sessions,
		   s->udp_session_budget);
	buf_puts(b, "\"endpoints\":[");
	for (size_t i = 0; i < s->n_endpoints; i++) {
		if (i)
			buf_puts(b, ",");
		endpoint_json(&s->endpoints[i], b);
	}
	buf_puts(b, "]");
}

static char *
dup_json_string(const struct json *j, const char *key, int *err)
{
	char *s = strdup(json_get_string(j, key, ""));

	if (!s)
		*err = -ENOMEM;
	return s;
}

static int
endpoint_from_json(const struct json *j, struct status_endpoint *e)
{
	const struct json *l = json_get(j, "listen");
	int err = 0;

	if (!j || j->type != JSON_OBJECT)
		return -EINVAL;
	e->name = dup_json_string(j, "name", &err);
	e->service = dup_json_string(j, "service", &err);
	e->program_pid = (long)json_get_uint(j, "program_pid", 0);
	if (l && l->type == JSON_ARRAY && l->n > 0) {
		e->listen = calloc(l->n, sizeof(*e->listen));
		if (!e->listen)
			return -ENOMEM;
		for (size_t k = 0; k < l->n; k++) {
			const char *origin;

			e->listen[k].address = dup_json_string(l->items[k], "address", &err);
			origin = json_get_string(l->items[k], "origin", "");
			e->listen[k].from_systemd = strcmp(origin, "systemd") == 0;
			e->listen[k].kept = strcmp(origin, "kept") == 0;
			e->n_listen++;
		}
	}
	for (size_t i = 0; i < N_COUNTERS; i++) {
		const struct json *g = counters[i].json_group ? json_get(j, counters[i].json_group) : j;

		*counter_at(&e->c, i) = json_get_uint(g, counters[i].json_key, 0);
	}
	return err;
}

int
status_from_json(const struct json *j, struct status *s)
{
	const struct json *r = json_get(j, "reload"), *q = json_get(j, "queue");
	const struct json *c = json_get(j, "connections"), *eps = json_get(j, "endpoints");
	const struct json *us = json_get(j, "udp_sessions");
	const struct json *errs = json_get(r, "errors");
	int err = 0;

	memset(s, 0, sizeof(*s));
	if (!j || j->type != JSON_OBJECT || !json_get(j, "version"))
		return -EINVAL;
	s->version = dup_json_string(j, "version", &err);
	s->pid = (long)json_get_uint(j, "pid", 0);
	s->config_file = dup_json_string(j, "config", &err);
	s->started = json_get_number(j, "started", 0);
	s->uptime = json_get_number(j, "uptime", 0);
	s->reload_ok = json_get_bool(r, "ok", true);
	s->reload_time = json_get_number(r, "time", 0);
	if (errs && errs->type == JSON_ARRAY && errs->n > 0) {
		s->reload_errors = calloc(errs->n, sizeof(*s->reload_errors));
		if (!s->reload_errors)
			goto nomem;
		for (size_t i = 0; i < errs->n; i++) {
			const struct json *e = errs->items[i];

			s->reload_errors[i] = strdup(e->type == JSON_STRING ? e->string : "?");
			if (!s->reload_errors[i])
				err = -ENOMEM;
			s->n_reload_errors++;
		}
	}
	s->workers = (unsigned)json_get_uint(j, "workers", 0);
	s->queue_length = json_get_uint(q, "length", 0);
	s->queue_capacity = json_get_uint(q, "capacity", 0);
	s->active = json_get_uint(c, "active", 0);
	s->max_connections = json_get_uint(c, "max", 0);
	s->served = json_get_uint(j, "served", 0);
	s->udp_sessions = json_get_uint(us, "open", 0);
	s->udp_session_budget = json_get_uint(us, "budget", 0);
	if (eps && eps->type == JSON_ARRAY && eps->n > 0) {
		s->endpoints = calloc(eps->n, sizeof(*s->endpoints));
		if (!s->endpoints)
			goto nomem;
		for (size_t i = 0; i < eps->n; i++) {
			int r2 = endpoint_from_json(eps->items[i], &s->endpoints[i]);

			s->n_endpoints++;
			if (r2 < 0 && !err)
				err = r2;
		}
	}
	if (err < 0)
		status_free(s);
	return err;

nomem:
	status_free(s);
	return -ENOMEM;
}

/* ------------------------------------------------------------ Prometheus */

/* A label value: backslash, double quote and line feed are escaped. */
static void
prom_label(struct buf *b, const char *name, const char *v, bool first)
{
	buf_printf(b, "%s%s=\"", first ? "" : ",", name);
	for (; *v; v++) {
		if (*v == '\\')
			buf_puts(b, "\\\\");
		else if (*v == '"')
			buf_puts(b, "\\\"");
		else if (*v == '\n')
			buf_puts(b, "\\n");
		else
			buf_append(b, v, 1);
	}
	buf_puts(b, "\"");
}

static void
prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
prom_value(struct buf *b, const char *name, const char *type, const char *help, double v)
{
	prom_family(b, name, type, help);
	if (v > -1e15 && v < 1e15 && v == (double)(long long)v)
		buf_printf(b, "%s %.0f\n", name, v);
	else
		buf_printf(b, "%s %.3f\n", name, v);
}

void
status_prometheus(const struct status *s, struct buf *b)
{
	prom_family(b, "sockd_info", "gauge", "Always 1; the version of the running sockd as a label.");
	buf_puts(b, "sockd_info{");
	prom_label(b, "version", s->version ? s->version : "", true);
	buf_puts(b, "} 1\n");
	prom_value(b, "sockd_start_time_seconds", "gauge", "When sockd started, in seconds since the epoch.",
		   s->started);
	prom_value(b, "sockd_uptime_seconds", "gauge", "Seconds since sockd started.", s->uptime);
	prom_value(b, "sockd_config_last_reload_successful", "gauge",
		   "1 when the last reload took (or there was none), 0 when it was refused.",
		   s->reload_ok ? 1 : 0);
	prom_value(b, "sockd_config_last_reload_timestamp_seconds", "gauge",
		   "When the last reload was tried, in seconds since the epoch; 0 = none yet.",
		   s->reload_time);
	prom_value(b, "sockd_config_errors", "gauge",
		   "Errors found in the configuration by the last refused reload.",
		   (double)s->n_reload_errors);
	prom_value(b, "sockd_workers", "gauge", "Worker threads.", s->workers);
	prom_value(b, "sockd_queue_length", "gauge",
		   "Accepted connections waiting for a worker.", (double)s->queue_length);
	prom_value(b, "sockd_queue_capacity", "gauge", "Capacity of the queue (daemon.queue).",
		   (double)s->queue_capacity);
	prom_value(b, "sockd_connections_active", "gauge", "Stream connections open now, all endpoints.",
		   (double)s->active);
	prom_value(b, "sockd_connections_max", "gauge", "daemon.max_connections.",
		   (double)s->max_connections);
	prom_value(b, "sockd_udp_sessions", "gauge", "Datagram forward sessions open now, all endpoints.",
		   (double)s->udp_sessions);
	prom_value(b, "sockd_udp_sessions_max", "gauge",
		   "The session budget: the most datagram forward sessions open at once, all endpoints.",
		   (double)s->udp_session_budget);
	prom_family(b, "sockd_served_total", "counter", "Connections served and datagrams answered.");
	buf_printf(b, "sockd_served_total %llu\n", s->served);

	if (s->n_endpoints == 0)
		return;
	prom_family(b, "sockd_endpoint_info", "gauge", "Always 1; the service of each endpoint as a label.");
	for (size_t i = 0; i < s->n_endpoints; i++) {
		buf_puts(b, "sockd_endpoint_info{");
		prom_label(b, "endpoint", s->endpoints[i].name, true);
		prom_label(b, "service", s->endpoints[i].service, false);
		buf_puts(b, "} 1\n");
	}
	prom_family(b, "sockd_listener_info", "gauge",
		    "Always 1; each listen address of each endpoint, and where its socket came from "
		    "(bound by sockd or passed by systemd).");
	for (size_t i = 0; i < s->n_endpoints; i++)
		for (size_t k = 0; k < s->endpoints[i].n_listen; k++) {
			const struct status_address *a = &s->endpoints[i].listen[k];

			buf_puts(b, "sockd_listener_info{");
			prom_label(b, "endpoint", s->endpoints[i].name, true);
			prom_label(b, "address", a->address, false);
			prom_label(b, "origin", status_origin(a), false);
			buf_puts(b, "} 1\n");
		}
	for (size_t f = 0; f < N_COUNTERS;) {
		size_t end = f;

		while (end < N_COUNTERS && strcmp(counters[end].family, counters[f].family) == 0)
			end++;
		prom_family(b, counters[f].family, counters[f].type, counters[f].help);
		for (size_t i = 0; i < s->n_endpoints; i++)
			for (size_t k = f; k < end; k++) {
				buf_printf(b, "%s{", counters[k].family);
				prom_label(b, "endpoint", s->endpoints[i].name, true);
				if (counters[k].reason)
					prom_label(b, "reason", counters[k].reason, false);
				buf_printf(b, "} %llu\n", counter_get(&s->endpoints[i].c, k));
			}
		f = end;
	}
}

/* ------------------------------------------------------------ table */

char *
status_human(unsigned long long v, char *buf, size_t size)
{
	static const char units[] = "kMGTPE";
	double x = (double)v;
	int u = -1;

	if (v < 1000) {
		snprintf(buf, size, "%llu", v);
		return buf;
	}
	/* Move up a unit while the rounded figure would show 1000 or more. */
	while (u < 5 && x >= 999.5) {
		x /= 1000;
		u++;
	}
	if (x < 9.95)
		snprintf(buf, size, "%.1f%c", x, units[u]);
	else
		snprintf(buf, size, "%.0f%c", x, units[u]);
	return buf;
}

char *
status_duration(double seconds, char *buf, size_t size)
{
	/* The figures come from a reply: beyond the range of the type, the
	 * conversion would be undefined. */
	unsigned long long s = seconds >= 18446744073709551616.0 ? ULLONG_MAX :
			       seconds > 0 ? (unsigned long long)seconds : 0;

	if (s >= 86400)
		snprintf(buf, size, "%llud%lluh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%llum%02llus", s / 60, s % 60);
	else
		snprintf(buf, size, "%llus", s);
	return buf;
}

enum { COL_ENDPOINT, COL_SERVICE, COL_ADDRESS, COL_ORIGIN, COL_ACTIVE, COL_ACCEPTED, COL_REFUSED,
       COL_IN, COL_OUT, COL_DGRAMS, COL_FAILED, N_COLS };

static const char *const col_names[N_COLS] = {
	"ENDPOINT", "SERVICE", "ADDRESS", "ORIGIN", "ACTIVE", "ACCEPTED", "REFUSED",
	"BYTES IN", "BYTES OUT", "DGRAMS IN/OUT", "FAILED",
};

#define CELL_MAX 160

/* The cells of one row: the counters go on the endpoint's first row only. */
static void
row_cells(const struct status_endpoint *e, size_t k, char cells[N_COLS][CELL_MAX])
{
	char a[32], b2[32];

	for (int i = 0; i < N_COLS; i++)
		cells[i][0] = '\0';
	if (k < e->n_listen) {
		snprintf(cells[COL_ADDRESS], CELL_MAX, "%s", e->listen[k].address);
		snprintf(cells[COL_ORIGIN], CELL_MAX, "%s", status_origin(&e->listen[k]));
	} else {
		snprintf(cells[COL_ADDRESS], CELL_MAX, "-");
	}
	if (k > 0)
		return;
	snprintf(cells[COL_ENDPOINT], CELL_MAX, "%s", e->name);
	snprintf(cells[COL_SERVICE], CELL_MAX, "%s", e->service);
	status_human(e->c.active, cells[COL_ACTIVE], CELL_MAX);
	status_human(e->c.accepted, cells[COL_ACCEPTED], CELL_MAX);
	status_human(status_refused(&e->c), cells[COL_REFUSED], CELL_MAX);
	status_human(e->c.bytes_in, cells[COL_IN], CELL_MAX);
	status_human(e->c.bytes_out, cells[COL_OUT], CELL_MAX);
	snprintf(cells[COL_DGRAMS], CELL_MAX, "%s/%s", status_human(e->c.datagrams_in, a, sizeof(a)),
		 status_human(e->c.datagrams_out, b2, sizeof(b2)));
	status_human(e->c.failed, cells[COL_FAILED], CELL_MAX);
}

static bool
col_is_number(int i)
{
	return i >= COL_ACTIVE;
}

static void
table_row(struct buf *b, char cells[N_COLS][CELL_MAX], const size_t width[N_COLS])
{
	size_t start = b->len;

	for (int i = 0; i < N_COLS; i++) {
		const char *sep = i ? "  " : "";

		if (col_is_number(i))
			buf_printf(b, "%s%*s", sep, (int)width[i], cells[i]);
		else
			buf_printf(b, "%s%-*s", sep, (int)width[i], cells[i]);
	}
	while (b->len > start && b->data[b->len - 1] == ' ')
		b->data[--b->len] = '\0';
	buf_puts(b, "\n");
}

/* "acl 3, rate 2" for the non-zero counters of one group, or "". */
static void
details(struct buf *b, const struct status_endpoint *e, const char *group, const char *title)
{
	bool any = false;

	for (size_t i = 0; i < N_COUNTERS; i++) {
		if (!counters[i].json_group || strcmp(counters[i].json_group, group) != 0 ||
		    counter_get(&e->c, i) == 0)
			continue;
		buf_printf(b, "%s %s %llu", any ? "," : title, counters[i].json_key, counter_get(&e->c, i));
		any = true;
	}
}

/* Before each part of a details line but the first, a ";" (every part
 * begins with a space). */
static void
next_part(struct buf *b)
{
	if (b->len)
		buf_puts(b, ";");
}

/* The parts of an endpoint's details line that have something to say, or
 * nothing: " refused acl 3; closed idle 2; tls handshakes 5 (resumed 1)". */
static void
detail_parts(struct buf *b, const struct status_endpoint *e)
{
	if (e->program_pid > 0)
		buf_printf(b, " program pid %ld", e->program_pid);
	if (status_refused(&e->c)) {
		next_part(b);
		details(b, e, "refused", " refused");
	}
	if (e->c.closed_idle) {
		next_part(b);
		buf_printf(b, " closed idle %llu", e->c.closed_idle);
	}
	if (e->c.dropped_rate || e->c.dropped_guard) {
		next_part(b);
		details(b, e, "dropped", " dropped datagrams");
	}
	if (evicted(&e->c)) {
		next_part(b);
		details(b, e, "evicted", " sessions ended for new clients:");
	}
	if (e->c.tls_handshakes || tls_failed(&e->c)) {
		next_part(b);
		buf_printf(b, " tls handshakes %llu (resumed %llu)", e->c.tls_handshakes, e->c.tls_resumed);
		if (tls_failed(&e->c))
			details(b, e, "tls_failed", ", failed");
	}
	if (e->c.sni_routed || e->c.sni_default) {
		next_part(b);
		details(b, e, "sni", " sni");
	}
}

void
status_table(const struct status *s, double now, struct buf *b)
{
	char cells[N_COLS][CELL_MAX], h1[32];
	size_t width[N_COLS];
	bool any_details = false;

	buf_printf(b, "sockd %s (pid %ld), up %s, config %s\n", s->version ? s->version : "?", s->pid,
		   status_duration(s->uptime, h1, sizeof(h1)), s->config_file ? s->config_file : "?");
	if (s->reload_time <= 0)
		buf_puts(b, "last reload: none\n");
	else
		buf_printf(b, "last reload: %s, %s ago\n", s->reload_ok ? "ok" : "FAILED (still serving the "
			   "previous configuration)", status_duration(now - s->reload_time, h1, sizeof(h1)));
	for (size_t i = 0; i < s->n_reload_errors; i++)
		buf_printf(b, "  %s\n", s->reload_errors[i]);
	buf_printf(b, "workers %u, queue %llu/%llu, connections %llu/%llu, served %s\n", s->workers,
		   s->queue_length, s->queue_capacity, s->active, s->max_connections,
		   status_human(s->served, h1, sizeof(h1)));
	if (s->udp_sessions > 0)
		buf_printf(b, "datagram forward sessions %llu/%llu\n", s->udp_sessions, s->udp_session_budget);
	if (s->n_endpoints == 0) {
		buf_puts(b, "\nno endpoints\n");
		return;
	}

	for (int i = 0; i < N_COLS; i++)
		width[i] = strlen(col_names[i]);
	for (size_t i = 0; i < s->n_endpoints; i++) {
		const struct status_endpoint *e = &s->endpoints[i];

		for (size_t k = 0; k == 0 || k < e->n_listen; k++) {
			row_cells(e, k, cells);
			for (int c = 0; c < N_COLS; c++)
				if (strlen(cells[c]) > width[c])
					width[c] = strlen(cells[c]);
		}
	}
	buf_puts(b, "\n");
	for (int i = 0; i < N_COLS; i++)
		snprintf(cells[i], CELL_MAX, "%s", col_names[i]);
	table_row(b, cells, width);
	for (size_t i = 0; i < s->n_endpoints; i++) {
		const struct status_endpoint *e = &s->endpoints[i];

		for (size_t k = 0; k == 0 || k < e->n_listen; k++) {
			row_cells(e, k, cells);
			table_row(b, cells, width);
		}
	}

	for (size_t i = 0; i < s->n_endpoints; i++) {
		struct buf line = { 0 };

		detail_parts(&line, &s->endpoints[i]);
		if (line.len) {
			if (!any_details)
				buf_puts(b, "\n");
			any_details = true;
			buf_printf(b, "%s:%s\n", s->endpoints[i].name, line.data);
		}
		if (buf_status(&line) < 0)
			b->failed = true;
		buf_free(&line);
	}
}
