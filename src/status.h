/* What `sockctl status` and the metrics service show: a plain snapshot of
 * the daemon and its endpoints (no pointers into live objects), and its
 * renderings as JSON (the control protocol), as a table (sockctl) and in
 * the Prometheus text format (service "metrics"). Pure: no I/O, no logs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct json;

struct status_counters {
	unsigned long long active;      /* gauge: stream connections open now */
	unsigned long long accepted;
	unsigned long long refused_acl;
	unsigned long long refused_limit;
	unsigned long long refused_rate;
	unsigned long long refused_overload;
	unsigned long long refused_proxy;
	unsigned long long closed_idle;
	unsigned long long failed;
	unsigned long long bytes_in;
	unsigned long long bytes_out;
	unsigned long long datagrams_in;
	unsigned long long datagrams_out;
	unsigned long long dropped_rate;
	unsigned long long dropped_guard;
	unsigned long long refused_sessions;
	unsigned long long udp_sessions;        /* gauge: datagram forward sessions open now */
	unsigned long long evicted_source;
	unsigned long long evicted_full;
	unsigned long long evicted_budget;
	unsigned long long tls_handshakes;      /* TLS handshakes completed */
	unsigned long long tls_resumed;         /* ... that resumed a session */
	unsigned long long tls_failed_protocol; /* failed handshakes, by reason */
	unsigned long long tls_failed_certificate;
	unsigned long long tls_failed_sni;
	unsigned long long tls_failed_alpn;
	unsigned long long tls_failed_timeout;
	unsigned long long tls_failed_closed;
	unsigned long long tls_failed_other;
	unsigned long long sni_routed;          /* routes: by the server name */
	unsigned long long sni_default;         /* routes: none matched, to upstream */
	unsigned long long refused_sni;
};

struct status_address {
	char *address;                  /* addr_format() text */
	bool from_systemd;              /* passed by a .socket unit */
	bool kept;                      /* from the previous sockd (fd store, upgrade) */
};

/* Where a listening socket came from, as status, metrics and the table
 * say it: "systemd", "kept" or "bound" (by this sockd). */
const char *status_origin(const struct status_address *a);

struct status_endpoint {
	char *name;
	char *service;
	struct status_address *listen;
	size_t n_listen;
	struct status_counters c;
	long program_pid;               /* exec wait, listen-fds: its program running now, 0 = none */
};

struct status {
	char *version;
	long pid;
	char *config_file;
	double started;                 /* unix time, seconds */
	double uptime;                  /* seconds */
	bool reload_ok;                 /* the last reload took (true before any) */
	double reload_time;             /* unix time of the last reload, 0 = none yet */
	char **reload_errors;           /* "file:line: message" of a refused reload */
	size_t n_reload_errors;
	unsigned workers;
	unsigned long long queue_length;
	unsigned long long queue_capacity;
	unsigned long long active;
	unsigned long long max_connections;
	unsigned long long served;
	unsigned long long udp_sessions;        /* datagram forward sessions open, all endpoints */
	unsigned long long udp_session_budget;  /* the most there may be */
	struct status_endpoint *endpoints;
	size_t n_endpoints;
};

void status_free(struct status *s);     /* frees what s holds, leaves it zeroed */

/* a += b, for every counter (active included). */
void status_counters_add(struct status_counters *a, const struct status_counters *b);
unsigned long long status_refused(const struct status_counters *c);   /* all reasons */

/* The JSON object of the control protocol's status reply, members only
 * (no braces), so the caller can add "ok": true around it. */
void status_json_members(const struct status *s, struct buf *b);

/* Read back what status_json_members wrote (inside braces). Unknown members
 * are ignored and missing ones stay 0, so older and newer sockd versions
 * still talk. 0, -EINVAL (not a status object) or -ENOMEM. */
int status_from_json(const struct json *j, struct status *s);

/* Prometheus text exposition format 0.0.4. */
void status_prometheus(const struct status *s, struct buf *b);

/* The human-readable report of `sockctl status`: a summary, then one row per
 * endpoint and listen address. now = unix time, for "2 min ago". */
void status_table(const struct status *s, double now, struct buf *b);

/* 999, 1.2k, 12k, 1.2M, 340M, 1.2G ... (SI, one decimal below 10). */
char *status_human(unsigned long long v, char *buf, size_t size);

/* "3d4h", "1h02m", "5m03s", "12s". */
char *status_duration(double seconds, char *buf, size_t size);
