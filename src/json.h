/* A small JSON reader for the control protocol's replies (pure). Strict
 * RFC 8259 syntax, nesting at most JSON_DEPTH_MAX deep; the writer side
 * is buf_json_string() in buf.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define JSON_DEPTH_MAX 32

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	bool boolean;
	double number;
	unsigned long long uint;        /* exact value of a non-negative integer number */
	bool is_uint;
	char *string;                   /* JSON_STRING: UTF-8, NUL-terminated (may hold \u0000 cut short) */
	struct json **items;            /* JSON_ARRAY and JSON_OBJECT values, in order */
	char **keys;                    /* JSON_OBJECT: the key of each item */
	size_t n;
};

/* Parse exactly one value from text[0..len), surrounded by whitespace only.
 * 0 and *out, -EINVAL on a syntax error (*where = its byte offset), or -ENOMEM. */
int json_parse(const char *text, size_t len, struct json **out, size_t *where);

void json_free(struct json *j);         /* accepts NULL */

/* The member key of object j (the last one if repeated); NULL when j is not
 * an object or has no such member. */
const struct json *json_get(const struct json *j, const char *key);

/* Typed lookups of member key of j, with a fallback when it is missing or
 * of another type. */
const char *json_get_string(const struct json *j, const char *key, const char *dflt);
unsigned long long json_get_uint(const struct json *j, const char *key, unsigned long long dflt);
double json_get_number(const struct json *j, const char *key, double dflt);
bool json_get_bool(const struct json *j, const char *key, bool dflt);
