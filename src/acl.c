#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"

/* ------------------------------------------------------------ peers */

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int
acl_peer_key(const struct sockaddr *peer, socklen_t len, struct ip_key *k)
{
	if (!peer || len < sizeof(sa_family_t))
		return 0;
	switch (peer->sa_family) {
	case AF_INET: {
		struct sockaddr_in sin;

		if (len < sizeof(sin))
			return -EINVAL;
		memcpy(&sin, peer, sizeof(sin));
		memcpy(k->b, v4_mapped_prefix, 12);
		memcpy(k->b + 12, &sin.sin_addr, 4);
		return 1;
	}
	case AF_INET6: {
		struct sockaddr_in6 sin6;

		if (len < sizeof(sin6))
			return -EINVAL;
		memcpy(&sin6, peer, sizeof(sin6));
		memcpy(k->b, &sin6.sin6_addr, 16);
		return 1;
	}
	default:
		return 0;
	}
}

static bool
key_is_v4(const struct ip_key *k)
{
	return memcmp(k->b, v4_mapped_prefix, 12) == 0;
}

/* ------------------------------------------------------------ rules */

static int
parse_prefix(const char *s, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > 1000)
			return -ERANGE;
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool
host_bits_clear(const uint8_t *addr, unsigned prefix, unsigned bits)
{
	for (unsigned i = prefix; i < bits; i++)
		if (addr[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

int
acl_rule_parse(const char *text, struct acl_rule *rule, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *dummy;
	struct acl_rule r = { 0 };
	char *slash;
	unsigned bits;
	int k;

	if (!why)
		why = &dummy;
	if (!text || *text == '\0') {
		*why = "empty rule";
		return -EINVAL;
	}
	if (strlen(text) >= sizeof(buf)) {
		*why = "not an IP address or network";
		return -EINVAL;
	}
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';

	if (inet_pton(AF_INET, buf, r.addr) == 1) {
		r.family = AF_INET;
		bits = 32;
	} else if (inet_pton(AF_INET6, buf, r.addr) == 1) {
		r.family = AF_INET6;
		bits = 128;
	} else {
		*why = "not an IP address or network";
		return -EINVAL;
	}

	r.prefix = bits;
	if (slash) {
		k = parse_prefix(slash, bits, &r.prefix);
		if (k == -ERANGE) {
			*why = bits == 32 ? "prefix length longer than 32" : "prefix length longer than 128";
			return -EINVAL;
		}
		if (k < 0) {
			*why = "invalid prefix length";
			return -EINVAL;
		}
	}
	if (!host_bits_clear(r.addr, r.prefix, bits)) {
		*why = "host bits set";
		return -EINVAL;
	}

	/* Peers are matched as IPv4 when they are v4-mapped, so a v4-mapped
	 * rule says an IPv4 rule; shorter ones cover native IPv6 too and
	 * stay IPv6. */
	if (r.family == AF_INET6 && r.prefix >= 96 && memcmp(r.addr, v4_mapped_prefix, 12) == 0) {
		r.family = AF_INET;
		memmove(r.addr, r.addr + 12, 4);
		memset(r.addr + 4, 0, 12);
		r.prefix -= 96;
	}
	*rule = r;
	return 0;
}

char *
acl_rule_format(const struct acl_rule *rule, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(rule->family, rule->addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, size, "%s/%u", a, rule->prefix);
	return buf;
}

/* ------------------------------------------------------------ acl */

struct acl_entry {
	uint8_t addr[16];               /* the ip_key form */
	unsigned prefix;                /* in bits of addr: IPv4 rules + 96 */
	bool v4;
	bool allow;
};

struct acl {
	struct acl_rule *allow;         /* as given, for acl_rules() */
	size_t n_allow;
	struct acl_rule *deny;
	size_t n_deny;
	struct acl_entry *entries;      /* most specific first, deny before allow */
	size_t n_entries;
};

static void
entry_from_rule(const struct acl_rule *r, bool allow, struct acl_entry *e)
{
	if (r->family == AF_INET) {
		memcpy(e->addr, v4_mapped_prefix, 12);
		memcpy(e->addr + 12, r->addr, 4);
		e->prefix = r->prefix + 96;
		e->v4 = true;
	} else {
		memcpy(e->addr, r->addr, 16);
		e->prefix = r->prefix;
		e->v4 = false;
	}
	e->allow = allow;
}

static int
entry_order(const void *a, const void *b)
{
	const struct acl_entry *x = a, *y = b;

	if (x->prefix != y->prefix)
		return x->prefix > y->prefix ? -1 : 1;
	return (int)x->allow - (int)y->allow;
}

static struct acl_rule *
rules_dup(const struct acl_rule *r, size_t n)
{
	struct acl_rule *p = malloc(n ? n * sizeof(*p) : 1);

	if (p && n)
		memcpy(p, r, n * sizeof(*p));
	return p;
}

struct acl *
acl_new(const struct acl_rule *allow, size_t n_allow,
    const struct acl_rule *deny, size_t n_deny)
{
	struct acl *acl;
	size_t n = 0;

	if (n_allow > SIZE_MAX / 2 / sizeof(struct acl_entry) ||
	    n_deny > SIZE_MAX / 2 / sizeof(struct acl_entry))
		return NULL;
	acl = calloc(1, sizeof(*acl));
	if (!acl)
		return NULL;
	acl->allow = rules_dup(allow, n_allow);
	acl->deny = rules_dup(deny, n_deny);
	acl->entries = malloc((n_allow + n_deny) * sizeof(*acl->entries) + 1);
	if (!acl->allow || !acl->deny || !acl->entries) {
		acl_free(acl);
		return NULL;
	}
	acl->n_allow = n_allow;
	acl->n_deny = n_deny;
	for (size_t i = 0; i < n_allow; i++)
		entry_from_rule(&allow[i], true, &acl->entries[n++]);
	for (size_t i = 0; i < n_deny; i++)
		entry_from_rule(&deny[i], false, &acl->entries[n++]);
	acl->n_entries = n;
	qsort(acl->entries, n, sizeof(*acl->entries), entry_order);
	return acl;
}

void
acl_free(struct acl *acl)
{
	if (!acl)
		return;
	free(acl->allow);
	free(acl->deny);
	free(acl->entries);
	free(acl);
}

const struct acl_rule *
acl_rules(const struct acl *acl, bool allow, size_t *n)
{
	if (!acl) {
		*n = 0;
		return NULL;
	}
	*n = allow ? acl->n_allow : acl->n_deny;
	return allow ? acl->allow : acl->deny;
}

static bool
entry_matches(const struct acl_entry *e, const struct ip_key *k)
{
	unsigned full = e->prefix / 8, rest = e->prefix % 8;
	uint8_t mask;

	if (memcmp(e->addr, k->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (e->addr[full] & mask) == (k->b[full] & mask);
}

bool
acl_allows(const struct acl *acl, const struct sockaddr *peer, socklen_t len)
{
	struct ip_key k;
	bool v4;
	int r;

	if (!acl)
		return true;
	r = acl_peer_key(peer, len, &k);
	if (r == 0)
		return true;
	if (r < 0)
		return false;
	/* An IPv6 rule as short as ::/0 would cover the v4-mapped keys of
	 * IPv4 peers too: rules only match peers of their own family. */
	v4 = key_is_v4(&k);
	for (size_t i = 0; i < acl->n_entries; i++) {
		const struct acl_entry *e = &acl->entries[i];

		if (e->v4 == v4 && entry_matches(e, &k))
			return e->allow;
	}
	return acl->n_allow == 0;
}
