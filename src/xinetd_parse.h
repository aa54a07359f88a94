/* xinetd.conf and xinetd.d service files as xinetd.conf(5) (Debian's
 * xinetd 2.3.15) reads them, turned into entries (pure: no lookups of users,
 * programs or names, no logging; xinetd_resolve() is the one step that may
 * consult /etc/services).
 *
 * Contract for the wiring (issue 16, "Migration"): nothing in the daemon
 * calls this yet. The converter (sockd --convert xinetd FILE|DIR) reads
 * xinetd.conf and each file its include/includedir entries name (includedir:
 * files without '.' or a final '~', in C-locale order, as xinetd does) with
 * textconf_read(), feeds them in that order to xinetd_parse() on one conf,
 * runs xinetd_resolve(), and writes one native endpoint per usable service
 * (reason == NULL and !disabled): listen from bind/port/protocol/flags
 * (IPv4, IPv6), service from type INTERNAL or exec with xinetd_argv(), user,
 * group, env/passenv, instances, per_source (max_per_source), cps (rate),
 * only_from/no_access (allow/deny), redirect (forward). Every entry of
 * extra[] is named in a comment with its file:line; so is every note[] and
 * every entry with a reason. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "inetd_parse.h"        /* inetd_lookup_fn */
#include "textconf.h"

enum xinetd_kind {
	XINETD_SERVICE,         /* service NAME { ... } */
	XINETD_DEFAULTS,        /* defaults { ... } */
	XINETD_INCLUDE,         /* include FILE: name is the path */
	XINETD_INCLUDEDIR,      /* includedir DIR: name is the path */
	XINETD_BAD,             /* lines that are none of these; reason says why */
};

enum xinetd_op {
	XINETD_SET,             /* = */
	XINETD_ADD,             /* += */
	XINETD_REMOVE,          /* -= */
};

/* An attribute line as written, for those sockd does not translate. */
struct xinetd_attr {
	char *name;
	enum xinetd_op op;
	struct strv values;
	unsigned line;
	bool known;             /* an xinetd attribute (nice, banner, ...); false:
				 * not one xinetd knows either (xinetd ignores it) */
};

/* Something xinetd ignores with a warning (an attribute given twice, '+='
 * where only '=' works, a wrong number of values); the entry stays usable. */
struct xinetd_note {
	unsigned line;
	char *msg;
};

#define XINETD_TYPE_INTERNAL    0x1u
#define XINETD_TYPE_UNLISTED    0x2u

#define XINETD_FLAG_REUSE       0x1u    /* accepted, and a no-op as in xinetd */
#define XINETD_FLAG_IPV4        0x2u
#define XINETD_FLAG_IPV6        0x4u
#define XINETD_FLAG_NAMEINARGS  0x8u    /* server_args[0] is argv[0] */

#define XINETD_LOG_PID          0x01u
#define XINETD_LOG_HOST         0x02u
#define XINETD_LOG_USERID       0x04u
#define XINETD_LOG_EXIT         0x08u
#define XINETD_LOG_DURATION     0x10u
#define XINETD_LOG_TRAFFIC      0x20u
#define XINETD_LOG_ATTEMPT      0x40u

#define XINETD_UNSET            (-2L)
#define XINETD_UNLIMITED        (-1L)

/* Where an attribute's value was written (in a service, or inherited from
 * the defaults entry). */
struct xinetd_where {
	const char *file;       /* owned by the conf; NULL: not given */
	unsigned line;
};

#define XINETD_N_ATTRS 32

struct xinetd_entry {
	enum xinetd_kind kind;
	const char *file;       /* owned by the conf */
	unsigned line;          /* the "service NAME" / "defaults" / "include" line */
	unsigned end_line;      /* the closing '}' (0: none before the end of file) */
	char *reason;           /* non-NULL: not usable, and why (one line) */
	unsigned reason_line;   /* the line the reason is about */

	char *name;             /* service name; include/includedir: the path */
	char *id;               /* the id attribute, else the name */
	bool disabled;          /* disable = yes, or the defaults' disabled/enabled */
	unsigned type;          /* XINETD_TYPE_* */
	unsigned flags;         /* XINETD_FLAG_* */
	int socktype;           /* SOCK_STREAM or SOCK_DGRAM; 0 = not given */
	char *protocol;         /* "tcp" or "udp"; after close, the socket type's
				 * default when not given */
	int wait;               /* 1 yes, 0 no, -1 not given */
	char *user;
	char *group;
	char *server;
	struct strv server_args;
	unsigned port;          /* the port attribute, or xinetd_resolve()'s; 0 = none */
	char *bind;             /* bind or interface; may come from defaults */
	struct strv only_from;
	bool has_only_from;     /* given: an empty list lets nobody in */
	struct strv no_access;
	long instances;         /* XINETD_UNSET, XINETD_UNLIMITED or a count */
	long per_source;
	bool has_cps;
	unsigned cps_max;       /* connections a second ... */
	unsigned cps_wait;      /* ... and the seconds of pause past it */
	struct strv env;        /* "NAME=value" */
	struct strv passenv;
	bool has_passenv;
	unsigned log_on_success;        /* XINETD_LOG_* */
	unsigned log_on_failure;
	char *redirect_host;
	char *redirect_port;    /* a number or a service name */
	struct strv disabled_ids;       /* defaults only */
	struct strv enabled_ids;        /* defaults only */
	bool has_enabled;

	struct xinetd_attr *extra;      /* attributes not translated, in file order */
	size_t n_extra;
	struct xinetd_note *notes;
	size_t n_notes;

	unsigned long long set_;        /* private: attributes given */
	struct xinetd_where at_[XINETD_N_ATTRS];        /* private: see xinetd_where() */
};

struct xinetd_conf {
	struct xinetd_entry *entries;
	size_t n;
	size_t cap;
	char **files;           /* every file name parsed, owned */
	size_t n_files;
	size_t defaults;        /* index of the defaults entry + 1; 0 = none */
};

/* Parse one file's text into *c (zeroed before the first call; call again
 * for each included file: a defaults entry applies to the services parsed
 * after it, as in xinetd). Returns 0, -EFBIG when len > TEXTCONF_FILE_MAX
 * (nothing added), or -ENOMEM (*c then holds what was parsed before). */
int xinetd_parse(struct xinetd_conf *c, const char *file, const char *text, size_t len);

/* Give each usable service that is not UNLISTED its port from
 * lookup(name, protocol) (NULL: /etc/services); a port attribute must then
 * agree with it, as xinetd demands. An unknown name without a port gives
 * the entry a reason. Returns 0 or -ENOMEM. */
int xinetd_resolve(struct xinetd_conf *c, inetd_lookup_fn *lookup, void *ctx);

/* The argv xinetd executes server with: server_args when NAMEINARGS, else
 * the basename of server and then server_args. 0, -EINVAL (no server, or
 * NAMEINARGS without server_args) or -ENOMEM; *argv is emptied first. */
int xinetd_argv(const struct xinetd_entry *e, struct strv *argv);

/* Where the value e uses for attribute name was written ("log_on_success",
 * "cps"...: the last line that set or changed it, in the service or in the
 * defaults entry it inherited from). file NULL: never given. */
struct xinetd_where xinetd_where(const struct xinetd_entry *e, const char *name);

void xinetd_conf_free(struct xinetd_conf *c);   /* leaves c empty */

const char *xinetd_op_name(enum xinetd_op op);  /* "=", "+=", "-=" */
