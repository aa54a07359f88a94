/* Options of service "exec", set by its keys (declared in service_exec.c); read by service_exec.c. Header only: no module includes back. */
#pragma once

#include <sys/types.h>

#include "sockd.h"

#define NICE_UNSET (-100)

struct exec_rlimit {
	int resource;                   /* RLIMIT_* */
	unsigned long long soft, hard;  /* RLIM_INFINITY for "unlimited" */
};

struct exec_options {
	char **command;                 /* argv, NULL-terminated; command[0] is absolute */
	char **env;                     /* "NAME=value", NULL-terminated; NULL = none */
	char *user;                     /* run the program as this user, or NULL */
	char *group;                    /* ... in this group, or NULL: the user's */
	uid_t uid;                      /* (uid_t)-1 = as sockd */
	gid_t gid;
	unsigned instances;             /* children at once; 0 = no own limit */
	int umask;                      /* -1 = inherit */
	int nice;                       /* NICE_UNSET = inherit */
	struct exec_rlimit *rlimits;
	size_t n_rlimits;
};

static inline const struct exec_options *
exec_options(const struct endpoint *ep)
{
	return ep->svc_opts;
}
