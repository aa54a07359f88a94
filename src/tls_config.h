/* The keys of an endpoint's tls = { } group (tls_keys) and the endpoint
 * key that holds them: a struct tls_options, or NULL without TLS. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "keys.h"

struct tls_options;

extern const struct key_set tls_keys;

/* The setter, printer and release of the endpoint's "tls" key, whose
 * field is a struct tls_options *. */
key_set_fn tls_config_set;
key_print_fn tls_config_print;
void tls_config_release(const struct key *k, void *base);

void tls_options_free(struct tls_options *o);   /* with its contexts; accepts NULL */
