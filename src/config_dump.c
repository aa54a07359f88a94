/*
 * config_dump() writes what config_load() made of the files (sockd -nv),
 * every key of the tables in their order with its effective value, so
 * that the output loads again to the same config and prints the same text:
 *
 *   daemon = {
 *     workers = 0;
 *     ...
 *   };
 *
 *   endpoints = (
 *     { name = "echo";
 *       listen = [ "tcp:127.0.0.1:7" ];
 *       ...                           # the keys every endpoint has
 *       command = [ "/usr/bin/prog" ];  # then the service's own keys
 *     }
 *   );
 *
 * A key that is unset and has no default value (mode, owner, allow, ...)
 * is left out. No endpoints at all is "endpoints = ();", and endpoints
 * from include_dir files and inetd.conf files are printed with the others,
 * in the order they were read, each file's behind a "# from" comment. config_list_keys()
 * prints the tables themselves (sockd --list-keys).
 */
#include <string.h>

#include "config.h"
#include "config_source.h"
#include "tls_config.h"
#include "upstream_tls.h"
#include "service.h"

static void
dump_endpoint(FILE *f, const struct endpoint *ep)
{
	const char *in = "    ";

	key_set_print(f, in, &endpoint_keys, ep, ep);
	if (ep->service && ep->service->keys && ep->svc_opts)
		key_set_print(f, in, ep->service->keys, ep->svc_opts, ep);
	fputs("  }", f);
}

void
config_dump(const struct sockd_config *cfg, FILE *f)
{
	fputs("daemon = {\n", f);
	key_set_print(f, "  ", &daemon_keys, &cfg->daemon, cfg);
	fputs("};\n\n", f);

	if (cfg->n_endpoints == 0) {
		fputs("endpoints = ();\n", f);
		return;
	}
	fputs("endpoints = (\n", f);
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const struct endpoint *ep = cfg->endpoints[i];

		if (i >= cfg->n_endpoints - cfg->n_included - cfg->n_inetd &&
		    (i == 0 || strcmp(ep->file, cfg->endpoints[i - 1]->file) != 0)) {
			fputs("  # from ", f);
			key_dump_string(f, ep->file);
			fputs("\n", f);
		}
		dump_endpoint(f, ep);
		fputs(i + 1 < cfg->n_endpoints ? ",\n" : "\n", f);
	}
	fputs(");\n", f);
}

void
config_list_keys(FILE *f)
{
	key_set_list(f, &root_keys, "-");
	key_set_list(f, &daemon_keys, "-");
	key_set_list(f, &endpoint_keys, "all");
	key_set_list(f, &tls_keys, "all");
	key_set_list(f, &upstream_tls_keys, "forward");
	for (const struct service *const *s = service_table; *s; s++) {
		char names[256] = "";
		bool first = true;

		/* A set is listed once, with every service that shares it. */
		if (!(*s)->keys)
			continue;
		for (const struct service *const *p = service_table; p < s; p++)
			if ((*p)->keys == (*s)->keys)
				first = false;
		if (!first)
			continue;
		for (const struct service *const *p = s; *p; p++) {
			if ((*p)->keys != (*s)->keys)
				continue;
			if (names[0])
				strncat(names, ",", sizeof(names) - strlen(names) - 1);
			strncat(names, (*p)->name, sizeof(names) - strlen(names) - 1);
		}
		key_set_list(f, (*s)->keys, names);
	}
}
