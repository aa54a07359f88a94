/* Configuration keys, declared once by the module that stores them: a table row per key drives loading, -nv and --list-keys. */
#pragma once

/*
 * The shape is nginx's command arrays and HAProxy's keyword lists: a module
 * declares the keys it owns in a struct key_set, each with a generic setter
 * (or its own) and an offset into the module's own options struct. The
 * readers (config.c for sockd.conf, later inetd_conf.c) turn their syntax
 * into struct cval trees and hand each group to the same table-driven code,
 * so a value is checked the same whatever file it came from, and every
 * error names the file and line the value was written on.
 *
 * A new scalar per-endpoint key is one row here or in its module's table,
 * one entry in sockd.conf(5), and the code that uses the value.
 *
 * Setters and printers do no I/O but user and group lookups (id keys) and
 * the read of the available TCP congestion controls in /proc (congestion).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "diag.h"
#include "hmap.h"

/* ------------------------------------------------------------ values */

enum cval_type {
	CVAL_INT,
	CVAL_FLOAT,
	CVAL_BOOL,
	CVAL_STRING,
	CVAL_ARRAY,                     /* [ a, b ]: scalars of one type */
	CVAL_LIST,                      /* ( a, b ): anything */
	CVAL_GROUP,                     /* { k = v; ... } */
};

/* One value as a source read it, and where. A source keeps a cval tree
 * and its strings alive until the load ends: messages point at them. */
struct cval {
	enum cval_type type;
	bool hex;                       /* CVAL_INT written as 0x...: mode, umask */
	const char *name;               /* the key, for a member of a group; else NULL */
	const char *file;
	int line;                       /* 0: the file as a whole */
	long long i;                    /* CVAL_INT */
	double f;                       /* CVAL_FLOAT */
	bool b;                         /* CVAL_BOOL */
	const char *s;                  /* CVAL_STRING */
	struct cval *elems;             /* CVAL_ARRAY, CVAL_LIST, CVAL_GROUP */
	size_t n;
};

static inline bool
cval_is_seq(const struct cval *v)
{
	return v->type == CVAL_ARRAY || v->type == CVAL_LIST;
}

const struct cval *cval_member(const struct cval *group, const char *name);   /* or NULL */

/* ------------------------------------------------------------ loading state */

/* Errors of one load. Readers embed it in their own state (first member),
 * so that a module's own setter reaches what it needs with key_ctx alone. */
struct key_ctx {
	const char *path;               /* the main file, for errors without a place */
	struct diag *d;
	size_t errors;                  /* reported, whether or not d kept them */
	bool nomem;
	struct key_ids *ids;            /* the load's user/group answers, or NULL */
};

/* The users and groups a load found by name, so that each name is looked
 * up once per load (every line of an inetd.conf names its user, and each
 * getpwnam() reads /etc/passwd again). Failures are not kept. A zeroed
 * struct is empty; the next load starts another, so a reload sees changed
 * users. */
struct key_ids {
	struct hmap users;              /* name -> index in v */
	struct hmap groups;
	struct key_id {
		uid_t uid;
		gid_t gid;
	} *v;
	size_t n, cap;
};
void key_ids_free(struct key_ids *ids);         /* leaves it empty */

void key_error(struct key_ctx *c, const struct cval *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void key_file_error(struct key_ctx *c, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
char *key_strdup(struct key_ctx *c, const char *s);     /* sets nomem on failure */

/* ------------------------------------------------------------ the table */

enum key_type {
	KEY_INTEGER,
	KEY_NUMBER,
	KEY_BOOLEAN,
	KEY_STRING,
	KEY_CHOICE,
	KEY_LIST,                       /* a string or a list of strings */
	KEY_ADDRESSES,                  /* an address or a list of them */
	KEY_ID,                         /* a user or group: a name or a number */
	KEY_OCTAL,                      /* a file mode: "0660" */
	KEY_GROUP,                      /* a group of its own keys */
	KEY_GROUPS,                     /* a list of such groups: ( { ... }, ... ) */
};

/* Which listen addresses a key makes sense with; config_check.c says so
 * when an endpoint has the others. */
enum key_addrs {
	KEY_ADDRS_ANY = 0,
	KEY_ADDRS_UNIX_PATH,            /* at least one Unix socket path */
	KEY_ADDRS_IP,                   /* at least one tcp or udp address */
	KEY_ADDRS_TCP,                  /* at least one tcp address (with streams only) */
	KEY_ADDRS_UNIX_CONN,            /* Unix stream or seqpacket only */
	KEY_ADDRS_STREAM,               /* stream addresses only */
	KEY_ADDRS_TCP_ONLY,             /* tcp (or mptcp) addresses only: TCP options */
};

struct key_choice {
	const char *name;
	int value;
};

struct key;

/* Stores v at field (base + offset); false after reporting why not. */
typedef bool key_set_fn(struct key_ctx *c, const struct key *k, const struct cval *v, void *field);
/* Prints "indent key = value;\n", or nothing when the value is unset.
 * base is the struct the offsets are into; outer is what holds it (the
 * whole config for daemon keys, the endpoint for its service's keys). */
typedef void key_print_fn(FILE *f, const char *indent, const struct key *k,
    const void *base, const void *outer);

struct key {
	const char *name;
	enum key_type type;
	key_set_fn *set;
	key_print_fn *print;
	size_t offset;                  /* into the set's struct */
	double min, max;                /* KEY_INTEGER, KEY_NUMBER */
	const struct key_choice *choices;       /* KEY_CHOICE; ends with { NULL } */
	const char *def;                /* the default as a value is written (set
	                                 * with the setter before loading), or NULL:
	                                 * then doc_def says what it is */
	const char *doc_def;            /* for --list-keys when def is NULL:
	                                 * "required", "none", or a phrase */
	bool required;                  /* a service's key it cannot do without */
	const char *example;            /* a typical value, for messages (KEY_OCTAL) */
	enum key_addrs addrs;
	void (*release)(const struct key *k, void *base);       /* frees what set stored */
	bool (*shown)(const void *base);        /* -nv prints it only then; NULL: always */
	const char *doc;                /* one line, for --list-keys */
};

/* The keys one module owns, stored in one struct of its own. */
struct key_set {
	const char *section;            /* "daemon", "endpoint", or a service name */
	const struct key *keys;         /* ends with { .name = NULL } */
	size_t size;                    /* bytes of its struct; 0: part of struct endpoint */
	void (*init)(void *base);       /* sentinels of keys without a def; may be NULL */
};

const struct key *key_find(const struct key_set *set, const char *name);

/* A fresh struct for set (size bytes): zeroed, init, then every def. NULL
 * when out of memory. key_set_defaults does the same on base in place. */
void *key_set_new(const struct key_set *set);
bool key_set_defaults(const struct key_set *set, void *base);
void key_set_release(const struct key_set *set, void *base);    /* frees what keys stored */
void key_set_print(FILE *f, const char *indent, const struct key_set *set,
    const void *base, const void *outer);

/* One line per key: section, name, type, default, addresses, doc (tabs). */
void key_set_list(FILE *f, const struct key_set *set, const char *services);
const char *key_type_name(enum key_type t);

/* ---- generic setters: the field is the C type named */
key_set_fn key_set_int;         /* int, integer in [min, max] */
key_set_fn key_set_uint;        /* unsigned, integer in [min, max] */
key_set_fn key_set_double;      /* double, number in [min, max] */
key_set_fn key_set_bool;        /* bool */
key_set_fn key_set_string;      /* char *, a copy */
key_set_fn key_set_abs_path;    /* char *, a copy of a string starting with '/' */
key_set_fn key_set_choice;      /* int (or an enum), one of choices */
key_set_fn key_set_octal;       /* int, 0 to 0777, digits read as octal */

/* ---- generic printers, for the same field types */
key_print_fn key_print_int;
key_print_fn key_print_uint;
key_print_fn key_print_double;  /* shortest text that reads back the same */
key_print_fn key_print_bool;
key_print_fn key_print_string;  /* nothing when NULL */
key_print_fn key_print_choice;  /* nothing when no choice has the value */
key_print_fn key_print_octal;   /* nothing when < 0 */
key_print_fn key_print_strv;    /* char **, NULL-terminated; nothing when empty */

void key_release_string(const struct key *k, void *base);      /* char * */
void key_release_strv(const struct key *k, void *base);        /* char **, NULL-terminated */
void key_release_ptr(const struct key *k, void *base);         /* any malloc'd pointer */

/* ---- helpers for modules' own setters and printers */

/* The error every key gives when a value has the wrong type. */
void key_type_error(struct key_ctx *c, const struct cval *v, const char *what);
/* A group key's members into base, each through its key of set; name is
 * the group as messages call it ("tls"). Every member is read, so that all
 * its errors are reported, then a required key the group lacks is one
 * more. False after any error, or when memory ran out. */
bool key_read_group(struct key_ctx *c, const struct key_set *set, const char *name,
    const struct cval *g, void *base);
/* A string or a list of strings: the n elements (n = 1 and the value itself
 * for a single string). NULL after reporting; what: "address", "rule"... */
const struct cval *key_seq(struct key_ctx *c, const struct cval *v, const char *what,
    size_t *n);

/* Users and groups: a name, or a number (an integer, or a string of
 * digits). Returns 1 with *id and *text (as written, allocated), -1 after
 * reporting, or 0 when v is neither a string nor an integer. */
int key_resolve_id(struct key_ctx *c, const struct cval *v, const char *what,
    bool is_user, id_t *id, char **text);
bool key_id_from_text(struct key_ctx *c, const struct cval *v, const char *what,
    bool is_user, const char *str, id_t *id);
int key_lookup_user(const char *name, uid_t *uid, gid_t *gid);  /* name NULL: by *uid */
int key_lookup_group(const char *name, gid_t *gid);
void key_lookup_error(struct key_ctx *c, const struct cval *v, const char *what,
    const char *name, int r);

#define KEY_ID_MAX 4294967294LL         /* (uid_t)-1 means "unset" */

/* Who a program runs as, or a connection is made as: "name", "name:group",
 * "uid" or "uid:gid" (or an integer uid); the group is the user's primary
 * one unless given. */
struct key_user {
	char *name;                     /* as written, without ":group" */
	char *group;                    /* as written, or NULL */
	uid_t uid;
	gid_t gid;
};

/* Parses v into *u (allocated strings), or reports why not. */
bool key_parse_user(struct key_ctx *c, const struct cval *v, struct key_user *u);

void key_dump_string(FILE *f, const char *s);   /* quoted as libconfig reads it */
void key_dump_key_string(FILE *f, const char *indent, const char *k, const char *v);
void key_dump_key_number(FILE *f, const char *indent, const char *k, double v);
void key_dump_names(FILE *f, const char *indent, const char *k, char *const *names, size_t n);

/* The field of k in base. */
static inline void *
key_field(const struct key *k, void *base)
{
	return (char *)base + k->offset;
}

static inline const void *
key_cfield(const struct key *k, const void *base)
{
	return (const char *)base + k->offset;
}
