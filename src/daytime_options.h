/* Options of service "daytime", set by its key (declared in service_builtin.c). Header only. */
#pragma once

#include "sockd.h"

struct daytime_options {
	char *format;                   /* strftime format; never NULL */
};

static inline const struct daytime_options *
daytime_options(const struct endpoint *ep)
{
	return ep->svc_opts;
}
