/* The source interface: a reader turns its file into struct cval groups and hands them here, to be checked key by key through the key tables. */
#pragma once

/*
 * A configuration source is a reader of one syntax: config.c reads
 * sockd.conf (libconfig), and an inetd.conf reader is a sibling file that
 * does the same. A source
 *
 *   1. loader_begin()s a load (or joins the one config_load() runs),
 *   2. builds, for each thing it read, a struct cval group whose members
 *      carry the file and line they were written on (an inetd.conf line
 *      becomes { name, listen, service, command, user, ... } with that
 *      line's number),
 *   3. hands each group to loader_daemon() or loader_endpoint(), which look
 *      every key up in the tables (config_keys.c for the daemon and the
 *      keys every endpoint has, service->keys for the service's own),
 *      store the values, fill the defaults and run the cross-key rules of
 *      config_check.c,
 *   4. keeps its cval trees alive until loader_end(), which runs the rules
 *      that span endpoints and returns the config or the errors.
 *
 * Errors go to the load's struct diag as "file:line: message", whichever
 * source found them.
 */

#include <stdbool.h>
#include <stddef.h>

#include "acl.h"
#include "addr.h"
#include "diag.h"
#include "hmap.h"
#include "keys.h"
#include "sockd.h"

#define NAME_MAX_LEN 64
#define CONFIG_MAX_KEY_SETS 16          /* service key sets; check_keys tests it */

/* Where a listen address was first claimed, to name it when it is claimed
 * again (possibly from another file). */
struct seen_addr {
	struct addr addr;
	char label[NAME_MAX_LEN + 8];   /* "'echo'" or "#3" */
	const char *file;               /* the source's; valid until loader_end */
	int line;
};

/* A key set in an endpoint, and where: the cross-key rules and their
 * messages need both. */
struct seen_key {
	const struct endpoint *ep;
	const struct key *k;
	const struct cval *v;
};

/* One endpoint being read. */
struct ep_state {
	struct endpoint *ep;
	const struct cval *group;
	char label[NAME_MAX_LEN + 8];   /* "'name'" or "#index", for messages */
	const struct cval **listen_at;  /* per address in ep->listen */
	bool listen_bad;                /* some listen value did not parse */
	struct acl_rule *rules[3];      /* allow, deny, proxy_from, until the acls are built */
	size_t n_rules[3];
};

/* One load in progress. */
struct loader {
	struct key_ctx kc;              /* first: setters get &loader.kc */
	struct sockd_config *cfg;
	size_t cap_endpoints;           /* room in cfg->endpoints */
	size_t diag_start;
	struct seen_addr *addrs;        /* every listen address so far */
	size_t n_addrs;
	size_t cap_addrs;
	struct seen_key *seen;          /* every endpoint key so far */
	size_t n_seen;
	size_t cap_seen;
	/* Lookups that would otherwise scan all of the above once per
	 * endpoint or address (quadratic in a large inetd.conf): */
	struct hmap addr_index;         /* addr_key(), tcp for mptcp -> index in addrs */
	struct hmap names;              /* endpoint name -> index in cfg->endpoints of
	                                 * the first endpoint of that name */
	struct hmap seen_from;          /* an endpoint's address -> where its keys
	                                 * start in seen (they follow each other) */
	struct key_ids ids;             /* kc.ids */
	struct ep_state *ep;            /* the endpoint being read, or NULL */
	const struct cval *include_dir; /* daemon.include_dir, once valid */
	size_t optional_from;           /* endpoints from here on came through
	                                 * loader_endpoint_optional(); SIZE_MAX: none */
};

static inline struct loader *
loader_of(struct key_ctx *c)
{
	return (struct loader *)c;
}

/* Returns 0, or -ENOMEM. The config starts with every daemon default. */
int loader_begin(struct loader *l, const char *path, struct diag *d);
void loader_daemon(struct loader *l, const struct cval *g);
/* idx numbers the endpoint in its list (from 1), for messages. */
void loader_endpoint(struct loader *l, const struct cval *g, unsigned idx);
/* The same for an endpoint that may be left out, as a line of inetd.conf:
 * when anything about it is wrong (its keys, an address or name already
 * taken, the rules across endpoints that concern it alone), it is not
 * added, nothing of it counts as an error, and its messages are appended
 * to skipped instead. Returns true when it was added. Call it after every
 * loader_endpoint() of the load. */
bool loader_endpoint_optional(struct loader *l, const struct cval *g, unsigned idx,
    struct diag *skipped);
/* Runs the rules across endpoints; frees l's own state. Returns 0 and
 * *out, -EINVAL (errors in d) or -ENOMEM. */
int loader_end(struct loader *l, struct sockd_config **out);

/* The key of a in l->addr_index: addr_key() with mptcp as tcp, since
 * tcp:X and mptcp:X are one TCP port that cannot be bound twice. 0 for an
 * address that collides with none. */
size_t loader_addr_key(const struct addr *a, unsigned char key[ADDR_KEYLEN]);

/* Where key name was set in ep, or NULL. */
const struct cval *loader_seen(const struct loader *l, const struct endpoint *ep,
    const char *name);

/* ---- the tables: the top level of sockd.conf (config.c), ... */
extern const struct key_set root_keys;
/* ... and config_keys.c's */
extern const struct key_set daemon_keys;        /* struct daemon_config */
extern const struct key_set endpoint_keys;      /* struct endpoint */
bool config_name_valid(const char *s);          /* an endpoint name */

/* ---- the cross-key rules of config_check.c */
void check_daemon(struct loader *l);            /* after the daemon group */
void check_endpoint(struct loader *l, struct ep_state *st);
void check_across(struct loader *l);            /* after every source */
void check_across_endpoint(struct loader *l, struct endpoint *ep);      /* its share of that */

/* ---- the inetd.conf source (config_inetd.c): daemon.inetd_conf and the
 * files of daemon.inetd_dir, each line an optional endpoint. Lines that
 * are not served, and why, go to warnings as "file:line: reason". What it
 * returns holds the values the loader points at: free it after
 * loader_end(). NULL when there is nothing to read (or out of memory:
 * then l->kc.nomem). */
struct inetd_files;
struct inetd_files *config_inetd_read(struct loader *l, struct diag *warnings);
void config_inetd_free(struct inetd_files *f);          /* accepts NULL */
