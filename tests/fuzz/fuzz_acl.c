/* acl_rule_parse() reads the allow, deny and proxy_from rules of the config;
 * acl_allows() and the per-source table then judge addresses that clients
 * pick.
 *
 * Text input: one rule per line, "!" in front for a deny rule. Each rule
 * that parses must format to text that parses to the same rule; the ACL
 * built from them must decide like a plain model of the documented policy
 * (acl.h: the most specific matching rule of the peer's family decides, deny
 * wins a tie, no match is allowed only without allow rules) for peers in,
 * at the edge of and just outside every rule, as IPv4 and as v4-mapped IPv6.
 *
 * An input starting with a NUL byte drives the per-source connection table
 * instead: bytes pick acquire or release for one of a few dozen peers (from
 * a tiny address space, so they collide in the hash table), with a limit,
 * and a model checks every count. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "acl.h"
#include "admit.h"
#include "fuzz.h"

#define MAX_RULES 64

static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

struct model_rule {
	uint8_t key[16];        /* IPv4 rules v4-mapped */
	unsigned bits;          /* prefix length in key */
	bool v4, allow;
};

static void
model_from_rule(const struct acl_rule *r, bool allow, struct model_rule *m)
{
	memset(m, 0, sizeof(*m));
	m->v4 = r->family == AF_INET;
	if (m->v4) {
		memcpy(m->key, mapped, 12);
		memcpy(m->key + 12, r->addr, 4);
		m->bits = 96 + r->prefix;
	} else {
		memcpy(m->key, r->addr, 16);
		m->bits = r->prefix;
	}
	m->allow = allow;
}

static bool
prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	for (unsigned i = 0; i < bits; i++)
		if ((a[i / 8] ^ b[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

static bool
model_allows(const struct model_rule *m, size_t n, bool any_allow, const uint8_t key[16])
{
	bool v4 = memcmp(key, mapped, 12) == 0, found = false, allow = false;
	unsigned best = 0;

	for (size_t i = 0; i < n; i++) {
		if (m[i].v4 != v4 || !prefix_equal(m[i].key, key, m[i].bits))
			continue;
		if (!found || m[i].bits > best) {
			found = true;
			best = m[i].bits;
			allow = m[i].allow;
		} else if (m[i].bits == best && !m[i].allow) {
			allow = false;
		}
	}
	return found ? allow : !any_allow;
}

static void
check_peer(const struct acl *acl, const struct model_rule *m, size_t n, bool any_allow, const uint8_t key[16])
{
	bool want = model_allows(m, n, any_allow, key);
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };

	memcpy(&sin6.sin6_addr, key, 16);
	FUZZ_ASSERT(acl_allows(acl, (struct sockaddr *)&sin6, sizeof(sin6)) == want);
	if (memcmp(key, mapped, 12) == 0) {
		memcpy(&sin.sin_addr, key + 12, 4);
		FUZZ_ASSERT(acl_allows(acl, (struct sockaddr *)&sin, sizeof(sin)) == want);
		/* Cut short: never allowed by accident (unless there is no ACL). */
		FUZZ_ASSERT(!acl_allows(acl, (struct sockaddr *)&sin, sizeof(sin) - 1));
	}
}

static void
check_rule_text(const char *line, const struct acl_rule *r)
{
	char text[INET6_ADDRSTRLEN + 8], again[INET6_ADDRSTRLEN + 8];
	struct acl_rule back;
	const char *why = NULL;

	FUZZ_ASSERT(r->family == AF_INET || r->family == AF_INET6);
	FUZZ_ASSERT(r->prefix <= (r->family == AF_INET ? 32u : 128u));
	acl_rule_format(r, text, sizeof(text));
	if (acl_rule_parse(text, &back, &why) != 0) {
		fprintf(stderr, "rule '%s' formats as '%s', which does not parse: %s\n", line, text, why);
		abort();
	}
	FUZZ_ASSERT(back.family == r->family && back.prefix == r->prefix);
	FUZZ_ASSERT(memcmp(back.addr, r->addr, r->family == AF_INET ? 4 : 16) == 0);
	acl_rule_format(&back, again, sizeof(again));
	FUZZ_ASSERT(strcmp(text, again) == 0);
}

static void
rules_mode(const uint8_t *data, size_t size)
{
	struct acl_rule allow[MAX_RULES], deny[MAX_RULES];
	struct model_rule model[2 * MAX_RULES];
	size_t n_allow = 0, n_deny = 0, n_model = 0;
	char *text = fuzz_strdup(data, size), *line, *save = NULL;
	struct acl *acl;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		bool is_deny = line[0] == '!';
		const char *why = NULL;
		struct acl_rule r;

		if (acl_rule_parse(line + is_deny, &r, &why) < 0) {
			FUZZ_ASSERT(why != NULL && *why != '\0');
			continue;
		}
		check_rule_text(line + is_deny, &r);
		if (is_deny && n_deny < MAX_RULES)
			deny[n_deny++] = r;
		else if (!is_deny && n_allow < MAX_RULES)
			allow[n_allow++] = r;
	}
	free(text);

	acl = acl_new(allow, n_allow, deny, n_deny);
	FUZZ_ASSERT(acl != NULL);
	for (size_t i = 0; i < n_allow; i++)
		model_from_rule(&allow[i], true, &model[n_model++]);
	for (size_t i = 0; i < n_deny; i++)
		model_from_rule(&deny[i], false, &model[n_model++]);

	for (size_t i = 0; i < n_model; i++) {
		const struct model_rule *m = &model[i];
		uint8_t k[16];

		/* The network, its last address, and the neighbours just
		 * outside on both sides. */
		memcpy(k, m->key, 16);
		check_peer(acl, model, n_model, n_allow > 0, k);
		for (unsigned b = m->bits; b < 128; b++)
			k[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		check_peer(acl, model, n_model, n_allow > 0, k);
		if (m->bits > (m->v4 ? 96u : 0u)) {
			unsigned b = m->bits - 1;

			memcpy(k, m->key, 16);
			k[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
			check_peer(acl, model, n_model, n_allow > 0, k);
		}
	}
	/* Some fixed peers, and the rule lists come back as given. */
	{
		uint8_t lo4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 };
		uint8_t lo6[16] = { [15] = 1 };
		const struct acl_rule *back;
		size_t n;

		check_peer(acl, model, n_model, n_allow > 0, lo4);
		check_peer(acl, model, n_model, n_allow > 0, lo6);
		back = acl_rules(acl, true, &n);
		FUZZ_ASSERT(n == n_allow && (n == 0 || memcmp(back, allow, n * sizeof(*back)) == 0));
		back = acl_rules(acl, false, &n);
		FUZZ_ASSERT(n == n_deny && (n == 0 || memcmp(back, deny, n * sizeof(*back)) == 0));
	}
	acl_free(acl);
}

/* ---------------------------------------------------------------- sources */

#define PEERS 48

static void
peer_addr(unsigned id, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (id % 3 == 0) {
		/* IPv4, and the same address again as v4-mapped IPv6 below. */
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(0x0a000000u | (id / 3 % 8));
		sin->sin_port = htons((uint16_t)id);
		*len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		if (id % 3 == 1) {
			memcpy(&sin6->sin6_addr, mapped, 12);
			sin6->sin6_addr.s6_addr[12] = 10;
			sin6->sin6_addr.s6_addr[15] = (uint8_t)(id / 3 % 8);
		} else {
			sin6->sin6_addr.s6_addr[0] = 0x20;
			sin6->sin6_addr.s6_addr[1] = 0x01;
			sin6->sin6_addr.s6_addr[15] = (uint8_t)(id % 16);
		}
		*len = sizeof(*sin6);
	}
}

/* Which model slot counts peer id: v4 and v4-mapped forms share one. */
static unsigned
peer_slot(unsigned id)
{
	if (id % 3 == 2)
		return 8 + id % 16;
	return id / 3 % 8;
}

static void
sources_mode(const uint8_t *data, size_t size)
{
	struct source_table *t = source_table_new();
	unsigned count[8 + 16] = { 0 };

	FUZZ_ASSERT(t != NULL);
	for (size_t i = 0; i + 1 < size; i += 2) {
		unsigned id = data[i] % PEERS, limit = data[i + 1] & 0x7f, slot = peer_slot(id);
		struct sockaddr_storage ss;
		socklen_t len;

		peer_addr(id, &ss, &len);
		if (data[i + 1] & 0x80) {
			if (count[slot] == 0)
				continue;       /* only after a successful acquire */
			source_release(t, (struct sockaddr *)&ss, len);
			count[slot]--;
		} else {
			int r = source_acquire(t, (struct sockaddr *)&ss, len, limit);

			if (limit == 0 || count[slot] < limit) {
				FUZZ_ASSERT(r == 0);
				count[slot]++;
			} else {
				FUZZ_ASSERT(r == -EBUSY);
			}
		}
		FUZZ_ASSERT(source_count(t, (struct sockaddr *)&ss, len) == count[slot]);
	}
	for (unsigned id = 0; id < PEERS; id++) {
		struct sockaddr_storage ss;
		socklen_t len;

		peer_addr(id, &ss, &len);
		FUZZ_ASSERT(source_count(t, (struct sockaddr *)&ss, len) == count[peer_slot(id)]);
	}
	source_table_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == '\0')
		sources_mode(data + 1, size - 1);
	else
		rules_mode(data, size);
	return 0;
}
