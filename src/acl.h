/* Who may use an endpoint: allow/deny CIDR rules, per-source connection
 * counts and token-bucket rate limits. Pure: no I/O, no logging. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* ---- allow/deny */

struct acl;

/* Parse "10.0.0.0/8", "192.0.2.1" (a host), "2001:db8::/32", "::1".
 * Returns 0, or -EINVAL with *why set to a static reason. Host bits set
 * beyond the prefix are an error ("host bits set"), as a typo guard.
 * A v4-mapped IPv6 rule of /96 or longer becomes the IPv4 rule
 * ("::ffff:10.0.0.0/104" is "10.0.0.0/8"). */
struct acl_rule {
	int family;                     /* AF_INET or AF_INET6 */
	uint8_t addr[16];               /* network byte order; IPv4 in the first 4 bytes */
	unsigned prefix;                /* 0..32 or 0..128 */
};
int acl_rule_parse(const char *text, struct acl_rule *rule, const char **why);

/* Canonical text of a rule ("10.0.0.0/8", "2001:db8::/32"). Returns buf. */
char *acl_rule_format(const struct acl_rule *rule, char *buf, size_t size);

/* Build an ACL from allow and deny rules (copied). NULL on ENOMEM. */
struct acl *acl_new(const struct acl_rule *allow, size_t n_allow,
		    const struct acl_rule *deny, size_t n_deny);
void acl_free(struct acl *acl);         /* accepts NULL */
/* The allow (or deny) rules acl_new() was given, in their order. */
const struct acl_rule *acl_rules(const struct acl *acl, bool allow, size_t *n);

/* The most specific matching rule decides; on a tie deny wins. No rule
 * matches: allowed when there are no allow rules, refused otherwise.
 * IPv4-mapped IPv6 peers are matched as IPv4. A NULL acl allows all;
 * non-IP peers (AF_UNIX) are always allowed. */
bool acl_allows(const struct acl *acl, const struct sockaddr *peer, socklen_t len);

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
