/*
 * The tls = { ... } group of an endpoint: its keys (tls_keys, listed by
 * --list-keys under "tls"), read into a struct tls_options. The files it
 * names are read by tls_server_new() when the endpoint is checked
 * (config_check.c), at every load: a reload reads every certificate again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "keys.h"
#include "tls.h"
#include "tls_config.h"

#define T(field) offsetof(struct tls_options, field)

static const struct key_choice verify_choices[] = {
	{ "none", TLS_VERIFY_NONE }, { "optional", TLS_VERIFY_OPTIONAL },
	{ "require", TLS_VERIFY_REQUIRE }, { NULL, 0 },
};
static const struct key_choice version_choices[] = {
	{ "1.2", TLS1_2_VERSION }, { "1.3", TLS1_3_VERSION }, { NULL, 0 },
};
static const struct key_choice unknown_sni_choices[] = {
	{ "default", TLS_SNI_DEFAULT }, { "refuse", TLS_SNI_REFUSE }, { NULL, 0 },
};

/* A string or a list of strings -> a NULL-terminated copy. */
static bool
set_strv(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	char ***out = field;
	const struct cval *e;
	char **sv;
	size_t n;

	if (!(e = key_seq(c, v, "name", &n)))
		return false;
	if (n == 0) {
		key_error(c, v, "'%s' must not be empty", k->name);
		return false;
	}
	if (!(sv = calloc(n + 1, sizeof(*sv)))) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (e[i].type != CVAL_STRING || e[i].s[0] == '\0') {
			key_error(c, &e[i], "'%s' must contain only non-empty strings", k->name);
			for (size_t j = 0; j < i; j++)
				free(sv[j]);
			free(sv);
			return false;
		}
		sv[i] = key_strdup(c, e[i].s);
	}
	for (char **p = *out; p && *p; p++)
		free(*p);
	free(*out);
	*out = sv;
	return !c->nomem;
}

static bool
set_paths(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	char **sv;

	if (!set_strv(c, k, v, field))
		return false;
	for (sv = *(char ***)field; *sv; sv++)
		if ((*sv)[0] != '/') {
			key_error(c, v, "'%s' must be absolute paths ('%s' is not)", k->name, *sv);
			return false;
		}
	return true;
}

static void
free_strv(char **sv)
{
	for (char **p = sv; p && *p; p++)
		free(*p);
	free(sv);
}

static void
release_sni(const struct key *k, void *base)
{
	struct tls_options *o = base;

	for (size_t i = 0; i < o->n_sni; i++) {
		free_strv(o->sni[i].server_name);
		free_strv(o->sni[i].certificate);
		free_strv(o->sni[i].key);
	}
	free(o->sni);
	o->sni = NULL;
	o->n_sni = 0;
}

/* sni = ( { server_name = [ "a.example", "*.example" ]; certificate = ...; key = ...; }, ... ) */
static bool
set_sni(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	static const struct key sub[] = {
		{ .name = "server_name", .set = set_strv },
		{ .name = "certificate", .set = set_paths },
		{ .name = "key", .set = set_paths },
	};
	struct tls_options *o = (struct tls_options *)((char *)field - T(sni));
	bool ok = true;

	if (v->type != CVAL_LIST || v->n == 0) {
		key_error(c, v, "'sni' must be a list of groups: ( { server_name = ...; certificate = ...; key = ...; } )");
		return false;
	}
	release_sni(k, o);
	if (!(o->sni = calloc(v->n, sizeof(*o->sni)))) {
		c->nomem = true;
		return false;
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct cval *g = &v->elems[i];
		struct tls_sni_options *s = &o->sni[o->n_sni++];
		char ***fields[3] = { &s->server_name, &s->certificate, &s->key };

		if (g->type != CVAL_GROUP) {
			key_error(c, g, "each 'sni' entry must be a group ({ ... })");
			ok = false;
			continue;
		}
		for (size_t j = 0; j < g->n; j++) {
			size_t m;

			for (m = 0; m < 3 && strcmp(sub[m].name, g->elems[j].name) != 0; m++)
				;
			if (m == 3) {
				key_error(c, &g->elems[j], "unknown key '%s' in an sni entry "
				    "(server_name, certificate, key)", g->elems[j].name);
				ok = false;
				continue;
			}
			if (!sub[m].set(c, &sub[m], &g->elems[j], fields[m]))
				ok = false;
		}
		for (size_t m = 0; m < 3; m++)
			if (!*fields[m]) {
				key_error(c, g, "an sni entry needs '%s'", sub[m].name);
				ok = false;
			}
	}
	return ok;
}

static void
print_sni(FILE *f, const char *indent, const struct key *k, const void *base, const void *outer)
{
	const struct tls_options *o = base;
	char in2[64];

	if (!o->n_sni)
		return;
	snprintf(in2, sizeof(in2), "%s    ", indent);
	fprintf(f, "%ssni = (\n", indent);
	for (size_t i = 0; i < o->n_sni; i++) {
		const struct tls_sni_options *s = &o->sni[i];
		size_t n;

		fprintf(f, "%s  {\n", indent);
		for (n = 0; s->server_name[n]; n++)
			;
		key_dump_names(f, in2, "server_name", s->server_name, n);
		for (n = 0; s->certificate[n]; n++)
			;
		key_dump_names(f, in2, "certificate", s->certificate, n);
		for (n = 0; s->key[n]; n++)
			;
		key_dump_names(f, in2, "key", s->key, n);
		fprintf(f, "%s  }%s\n", indent, i + 1 < o->n_sni ? "," : "");
	}
	fprintf(f, "%s);\n", indent);
}

static void
tls_options_init(void *base)
{
	struct tls_options *o = base;

	o->min_version = TLS1_2_VERSION;
}

static const struct key tls_key_table[] = {
	{ .name = "certificate", .type = KEY_LIST, .set = set_paths, .print = key_print_strv,
	  .offset = T(certificate), .doc_def = "required", .required = true,
	  .release = key_release_strv,
	  .doc = "PEM certificate chain files, one per key type (RSA, ECDSA)" },
	{ .name = "key", .type = KEY_LIST, .set = set_paths, .print = key_print_strv,
	  .offset = T(key), .doc_def = "required", .required = true, .release = key_release_strv,
	  .doc = "PEM private key files, one per certificate, in the same order" },
	{ .name = "client_ca", .type = KEY_STRING, .set = key_set_abs_path, .print = key_print_string,
	  .offset = T(client_ca), .doc_def = "none", .release = key_release_string,
	  .doc = "CA certificates that client certificates are checked against" },
	{ .name = "verify_client", .type = KEY_CHOICE, .set = key_set_choice,
	  .print = key_print_choice, .offset = T(verify_client), .choices = verify_choices,
	  .def = "none", .doc = "client certificates: not asked for, checked if sent, required" },
	{ .name = "crl", .type = KEY_STRING, .set = key_set_abs_path, .print = key_print_string,
	  .offset = T(crl), .doc_def = "none", .release = key_release_string,
	  .doc = "PEM certificate revocation lists for client certificates" },
	{ .name = "min_version", .type = KEY_CHOICE, .set = key_set_choice,
	  .print = key_print_choice, .offset = T(min_version), .choices = version_choices,
	  .def = "1.2", .doc = "the oldest TLS version accepted" },
	{ .name = "ciphers", .type = KEY_STRING, .set = key_set_string, .print = key_print_string,
	  .offset = T(ciphers), .doc_def = "OpenSSL's default", .release = key_release_string,
	  .doc = "TLS 1.2 cipher list (OpenSSL syntax)" },
	{ .name = "alpn", .type = KEY_LIST, .set = set_strv, .print = key_print_strv,
	  .offset = T(alpn), .doc_def = "none", .release = key_release_strv,
	  .doc = "ALPN protocols offered, in order of preference" },
	{ .name = "session_tickets", .type = KEY_BOOLEAN, .set = key_set_bool,
	  .print = key_print_bool, .offset = T(session_tickets), .def = "true",
	  .doc = "resume sessions with tickets (else with the server's session cache)" },
	{ .name = "ticket_rotation", .type = KEY_NUMBER, .set = key_set_double,
	  .print = key_print_double, .offset = T(ticket_rotation), .min = 1, .max = 604800,
	  .def = "3600", .doc = "seconds a ticket key seals new tickets before the next one" },
	{ .name = "session_timeout", .type = KEY_NUMBER, .set = key_set_double,
	  .print = key_print_double, .offset = T(session_timeout), .min = 1, .max = 604800,
	  .def = "7200", .doc = "seconds a session may be resumed" },
	{ .name = "handshake_timeout", .type = KEY_NUMBER, .set = key_set_double,
	  .print = key_print_double, .offset = T(handshake_timeout), .min = 0.1, .max = 3600,
	  .def = "10", .doc = "seconds a client has for the whole handshake" },
	{ .name = "sni", .type = KEY_LIST, .set = set_sni, .print = print_sni,
	  .offset = T(sni), .doc_def = "none", .release = release_sni,
	  .doc = "certificates by server name: ( { server_name; certificate; key; } )" },
	{ .name = "unknown_sni", .type = KEY_CHOICE, .set = key_set_choice,
	  .print = key_print_choice, .offset = T(unknown_sni), .choices = unknown_sni_choices,
	  .def = "default", .doc = "a server name no sni entry has: the default certificate, or refuse" },
	{ .name = "ktls", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = T(ktls), .def = "true",
	  .doc = "let the kernel do the records (kTLS) where it offers the tls ULP" },
	{ .name = NULL },
};

const struct key_set tls_keys = {
	.section = "tls",
	.keys = tls_key_table,
	.size = sizeof(struct tls_options),
	.init = tls_options_init,
};

void
tls_options_free(struct tls_options *o)
{
	if (!o)
		return;
	tls_server_free(o->server);
	key_set_release(&tls_keys, o);
	free(o);
}

bool
tls_config_set(struct key_ctx *c, const struct key *k, const struct cval *g, void *field)
{
	struct tls_options **out = field, *o;

	if (g->type != CVAL_GROUP) {
		key_error(c, g, "'tls' must be a group ({ certificate = ...; key = ...; })");
		return false;
	}
	if (!(o = key_set_new(&tls_keys))) {
		c->nomem = true;
		return false;
	}
	if (!key_read_group(c, &tls_keys, "tls", g, o)) {
		tls_options_free(o);
		return false;
	}
	tls_options_free(*out);
	*out = o;
	return true;
}

void
tls_config_print(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	const struct tls_options *o = *(struct tls_options *const *)key_cfield(k, base);
	char in2[64];

	if (!o)
		return;
	snprintf(in2, sizeof(in2), "%s  ", indent);
	fprintf(f, "%stls = {\n", indent);
	key_set_print(f, in2, &tls_keys, o, outer);
	fprintf(f, "%s};\n", indent);
}

void
tls_config_release(const struct key *k, void *base)
{
	struct tls_options **o = key_field(k, base);

	tls_options_free(*o);
	*o = NULL;
}
