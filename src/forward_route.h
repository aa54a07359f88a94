/* forward's upstream lists and SNI routes: the keys that hold them
 * (upstream, routes) and the route lookup by server name. No I/O; the
 * setters report through struct key_ctx like every key. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "forward_options.h"
#include "keys.h"

/* An address or a list of them (the value of key `what`) into a fresh
 * array *out of *n; every bad element is reported with its line. False
 * when v is not a string or a list, or memory ran out. */
bool forward_parse_addrs(struct key_ctx *c, const struct cval *v, const char *what,
    struct addr **out, size_t *n);

/* ` key = [ "a", "b" ]` as -nv prints an address list. */
void forward_print_addrs(FILE *f, const char *indent, const char *key, const struct addr *a,
    size_t n);

/* Key routes: ( { server_name = NAMES; upstream = ADDRESSES; }, ... ). */
key_set_fn forward_set_routes;
key_print_fn forward_print_routes;
void forward_release_routes(const struct key *k, void *base);

/* The route for a server name the ClientHello carried (lower-case, as
 * tls_hello_parse() gives it): a route naming it exactly, else one whose
 * wildcard covers it, else NULL. A name matches at most one exact and one
 * wildcard pattern (the setter refuses duplicates, and "*." covers exactly
 * one label), so the order of the routes does not matter. */
const struct fwd_route *forward_route_find(const struct forward_options *fo, const char *name);
