/* Admission by load: open connections per source address and token-bucket
 * rate limits (per endpoint, per datagram source). Pure: no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* ---- open connections per source address (thread-safe) */

struct source_table;

struct source_table *source_table_new(void);   /* NULL on ENOMEM */
void source_table_free(struct source_table *t); /* accepts NULL */

/* Count one more connection from peer unless it already has limit open
 * (limit 0: no limit): 0, -EBUSY over the limit, -ENOMEM, -EINVAL for an
 * IP address cut short. Non-IP peers are not counted (0). */
int source_acquire(struct source_table *t, const struct sockaddr *peer, socklen_t len, unsigned limit);
/* One connection from peer ended (after a successful source_acquire). */
void source_release(struct source_table *t, const struct sockaddr *peer, socklen_t len);
size_t source_count(struct source_table *t, const struct sockaddr *peer, socklen_t len);

/* ---- token bucket (one thread) */

struct rate_limit {
	double rate;                    /* tokens per second; 0 = unlimited */
	double burst;                   /* bucket size */
	double tokens;
	uint64_t last_ms;
};

void rate_limit_init(struct rate_limit *rl, double rate, unsigned burst, uint64_t now_ms);
/* Take one token; false when the bucket is empty. */
bool rate_limit_take(struct rate_limit *rl, uint64_t now_ms);

/* ---- per-source token buckets for datagram replies (one thread) */

/* A bounded table: at most `slots` sources are tracked; when full, the
 * least recently seen source is forgotten. */
struct source_rates;
struct source_rates *source_rates_new(double rate, unsigned burst, size_t slots);
void source_rates_free(struct source_rates *r);
/* True when a reply to peer is within its rate. Non-IP peers: true. */
bool source_rates_take(struct source_rates *r, const struct sockaddr *peer, socklen_t len, uint64_t now_ms);
