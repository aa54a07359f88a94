/* forward's upstream_tls = { } group: TLS from sockd to the upstream
 * (stunnel's client mode). Its keys (upstream_tls_keys, listed by
 * --list-keys under "upstream_tls") and the client context built from
 * them at every load, so a reload reads the CA and certificate again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "keys.h"

typedef struct ssl_ctx_st SSL_CTX;

struct upstream_tls_options {
	char *ca;                       /* CA file, or NULL: the system store */
	char *server_name;              /* sent as SNI and checked, or NULL */
	char *certificate;              /* client certificate for mTLS, or NULL */
	char *key;
	bool verify;                    /* check the upstream's certificate and name */
	int min_version;                /* TLS1_2_VERSION, TLS1_3_VERSION */

	SSL_CTX *ctx;                   /* built by upstream_tls_build() */
};

extern const struct key_set upstream_tls_keys;

/* The setter, printer and release of forward's "upstream_tls" key, whose
 * field is a struct upstream_tls_options *. */
key_set_fn upstream_tls_set;
key_print_fn upstream_tls_print;
void upstream_tls_release(const struct key *k, void *base);

/* Check the keys together and build o->ctx, reading the files. False with
 * err saying what (and which file) when it cannot be used. */
bool upstream_tls_build(struct upstream_tls_options *o, char *err, size_t errlen);
