/* Who may use an endpoint by address: allow/deny CIDR rules. Pure: no I/O,
 * no logging, no state beyond the rules. */
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

/* ---- peers as keys (for admit.c's per-source tables too) */

/* Every IP address as 16 bytes: IPv4 in its v4-mapped IPv6 form. A native
 * IPv6 peer never has a v4-mapped address, so the two cannot be confused,
 * and a v4-mapped peer is the same key as the IPv4 one. */
struct ip_key {
	uint8_t b[16];
};

/* 1 for an IP peer (key filled), 0 for a non-IP peer, -EINVAL for an IP
 * family whose address is cut short. */
int acl_peer_key(const struct sockaddr *peer, socklen_t len, struct ip_key *k);
