/*
 * upstream_tls = { ca = PATH; server_name = NAME; certificate = PATH;
 * key = PATH; verify = true; min_version = "1.2"; } on a forward: sockd
 * speaks TLS to the upstream. Without ca the system's CA store is used;
 * with verify (the default) the upstream must present a certificate that
 * chains to it and names server_name, which is therefore required.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "tls.h"
#include "tls_hello.h"
#include "upstream_tls.h"

#define U(field) offsetof(struct upstream_tls_options, field)

static const struct key_choice version_choices[] = {
	{ "1.2", TLS1_2_VERSION }, { "1.3", TLS1_3_VERSION }, { NULL, 0 },
};

static bool
set_name(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	if (!tls_hello_name_valid(v->s, strlen(v->s))) {
		key_error(c, v, "'%s' must be a DNS name ('%s' is not)", k->name, v->s);
		return false;
	}
	return key_set_string(c, k, v, field);
}

static void
upstream_tls_init(void *base)
{
	struct upstream_tls_options *o = base;

	o->min_version = TLS1_2_VERSION;
}

static const struct key upstream_tls_table[] = {
	{ .name = "ca", .type = KEY_STRING, .set = key_set_abs_path, .print = key_print_string,
	  .offset = U(ca), .doc_def = "the system's CA store", .release = key_release_string,
	  .doc = "CA certificates the upstream's certificate must chain to" },
	{ .name = "server_name", .type = KEY_STRING, .set = set_name, .print = key_print_string,
	  .offset = U(server_name), .doc_def = "required with verify", .release = key_release_string,
	  .doc = "the name sent as SNI, which the upstream's certificate must carry" },
	{ .name = "certificate", .type = KEY_STRING, .set = key_set_abs_path, .print = key_print_string,
	  .offset = U(certificate), .doc_def = "none", .release = key_release_string,
	  .doc = "PEM client certificate chain, for upstreams that require one (mTLS)" },
	{ .name = "key", .type = KEY_STRING, .set = key_set_abs_path, .print = key_print_string,
	  .offset = U(key), .doc_def = "none", .release = key_release_string,
	  .doc = "PEM private key of certificate" },
	{ .name = "verify", .type = KEY_BOOLEAN, .set = key_set_bool, .print = key_print_bool,
	  .offset = U(verify), .def = "true",
	  .doc = "check the upstream's certificate and name (false: encrypt only)" },
	{ .name = "min_version", .type = KEY_CHOICE, .set = key_set_choice,
	  .print = key_print_choice, .offset = U(min_version), .choices = version_choices,
	  .def = "1.2", .doc = "the oldest TLS version spoken to the upstream" },
	{ .name = NULL },
};

const struct key_set upstream_tls_keys = {
	.section = "upstream_tls",
	.keys = upstream_tls_table,
	.size = sizeof(struct upstream_tls_options),
	.init = upstream_tls_init,
};

static void
options_free(struct upstream_tls_options *o)
{
	if (!o)
		return;
	SSL_CTX_free(o->ctx);
	key_set_release(&upstream_tls_keys, o);
	free(o);
}

bool
upstream_tls_set(struct key_ctx *c, const struct key *k, const struct cval *g, void *field)
{
	struct upstream_tls_options **out = field, *o;

	(void)k;
	if (g->type != CVAL_GROUP) {
		key_error(c, g, "'upstream_tls' must be a group ({ ca = ...; server_name = ...; })");
		return false;
	}
	if (!(o = key_set_new(&upstream_tls_keys))) {
		c->nomem = true;
		return false;
	}
	if (!key_read_group(c, &upstream_tls_keys, "upstream_tls", g, o)) {
		options_free(o);
		return false;
	}
	options_free(*out);
	*out = o;
	return true;
}

void
upstream_tls_print(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	const struct upstream_tls_options *o =
	    *(struct upstream_tls_options *const *)key_cfield(k, base);
	char in2[64];

	if (!o)
		return;
	snprintf(in2, sizeof(in2), "%s  ", indent);
	fprintf(f, "%supstream_tls = {\n", indent);
	key_set_print(f, in2, &upstream_tls_keys, o, outer);
	fprintf(f, "%s};\n", indent);
}

void
upstream_tls_release(const struct key *k, void *base)
{
	struct upstream_tls_options **o = key_field(k, base);

	options_free(*o);
	*o = NULL;
}

bool
upstream_tls_build(struct upstream_tls_options *o, char *err, size_t errlen)
{
	if (o->verify && !o->server_name) {
		snprintf(err, errlen, "needs 'server_name' to check the upstream's certificate "
		    "against (or verify = false)");
		return false;
	}
	if (!o->certificate != !o->key) {
		snprintf(err, errlen, "'certificate' and 'key' go together");
		return false;
	}
	o->ctx = tls_client_ctx_new(o->ca, o->verify, o->certificate, o->key, o->min_version,
	    err, errlen);
	return o->ctx != NULL;
}
