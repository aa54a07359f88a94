#include <string.h>

#include "service.h"

const struct service *const service_table[] = {
	&service_echo,
	&service_discard,
	&service_chargen,
	&service_daytime,
	&service_time,
	&service_exec,
	&service_forward,
	&service_metrics,
	NULL,
};

const struct service *
service_lookup(const char *name)
{
	for (const struct service *const *s = service_table; *s; s++)
		if (strcmp((*s)->name, name) == 0)
			return *s;
	return NULL;
}
