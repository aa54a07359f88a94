#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct parser {
	const char *p;
	const char *end;
	const char *start;
	int error;              /* -EINVAL or -ENOMEM once something failed */
	const char *error_at;
};

static void
parse_fail(struct parser *ps, int err)
{
	if (!ps->error) {
		ps->error = err;
		ps->error_at = ps->p;
	}
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool
take_word(struct parser *ps, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
		return false;
	ps->p += n;
	return true;
}

static int
hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote. The decoded string is never longer than its
 * source, so one allocation of that size is enough. */
static char *
parse_string(struct parser *ps)
{
	const char *q;
	char *s, *o;

	ps->p++;
	for (q = ps->p; q < ps->end && *q != '"'; q++)
		if (*q == '\\')
			q++;
	if (q >= ps->end) {
		parse_fail(ps, -EINVAL);
		return NULL;
	}
	s = o = malloc((size_t)(q - ps->p) + 1);
	if (!s) {
		parse_fail(ps, -ENOMEM);
		return NULL;
	}
	while (*ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;
		uint32_t cp, lo;

		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			*o++ = (char)c;
			ps->p++;
			continue;
		}
		ps->p++;
		switch (*ps->p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (ps->end - ps->p < 4 || hex4(ps->p, &cp) < 0)
				goto bad;
			ps->p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
				    hex4(ps->p + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				ps->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				goto bad;
			}
			/* A 6- or 12-byte escape never decodes to more bytes. */
			o += utf8_put(o, cp);
			break;
		default:
			goto bad;
		}
	}
	ps->p++;
	*o = '\0';
	return s;

bad:
	free(s);
	parse_fail(ps, -EINVAL);
	return NULL;
}

static void
parse_number(struct parser *ps, struct json *j)
{
	const char *s = ps->p, *q = ps->p;
	char tmp[64];
	bool integer = true;

	if (q < ps->end && *q == '-')
		q++;
	if (q < ps->end && *q == '0')
		q++;
	else if (q < ps->end && *q >= '1' && *q <= '9')
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	else
		goto bad;
	if (q < ps->end && *q == '.') {
		integer = false;
		q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			goto bad;
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		integer = false;
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			goto bad;
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if ((size_t)(q - s) >= sizeof(tmp))
		goto bad;
	memcpy(tmp, s, (size_t)(q - s));
	tmp[q - s] = '\0';
	j->type = JSON_NUMBER;
	j->number = strtod(tmp, NULL);
	if (integer && tmp[0] != '-') {
		errno = 0;
		j->uint = strtoull(tmp, NULL, 10);
		j->is_uint = errno == 0;
	}
	ps->p = q;
	return;

bad:
	parse_fail(ps, -EINVAL);
}

static struct json *parse_value(struct parser *ps, int depth);

static bool
add_item(struct parser *ps, struct json *j, char *key, struct json *v)
{
	if ((j->n & (j->n - 1)) == 0) {         /* 0, 1, 2, 4, ...: grow */
		size_t cap = j->n ? 2 * j->n : 1;
		struct json **items = realloc(j->items, cap * sizeof(*items));
		char **keys;

		if (!items)
			goto nomem;
		j->items = items;
		if (j->type == JSON_OBJECT) {
			keys = realloc(j->keys, cap * sizeof(*keys));
			if (!keys)
				goto nomem;
			j->keys = keys;
		}
	}
	j->items[j->n] = v;
	if (j->type == JSON_OBJECT)
		j->keys[j->n] = key;
	j->n++;
	return true;

nomem:
	free(key);
	json_free(v);
	parse_fail(ps, -ENOMEM);
	return false;
}

static void
parse_container(struct parser *ps, struct json *j, int depth)
{
	char close = j->type == JSON_OBJECT ? '}' : ']';

	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return;
	}
	for (;;) {
		char *key = NULL;
		struct json *v;

		skip_ws(ps);
		if (j->type == JSON_OBJECT) {
			if (ps->p >= ps->end || *ps->p != '"') {
				parse_fail(ps, -EINVAL);
				return;
			}
			key = parse_string(ps);
			if (!key)
				return;
			skip_ws(ps);
			if (ps->p >= ps->end || *ps->p != ':') {
				free(key);
				parse_fail(ps, -EINVAL);
				return;
			}
			ps->p++;
		}
		v = parse_value(ps, depth + 1);
		if (!v) {
			free(key);
			return;
		}
		if (!add_item(ps, j, key, v))
			return;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == close) {
			ps->p++;
			return;
		}
		parse_fail(ps, -EINVAL);
		return;
	}
}

static struct json *
parse_value(struct parser *ps, int depth)
{
	struct json *j;

	skip_ws(ps);
	if (depth > JSON_DEPTH_MAX || ps->p >= ps->end) {
		parse_fail(ps, -EINVAL);
		return NULL;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		parse_fail(ps, -ENOMEM);
		return NULL;
	}
	switch (*ps->p) {
	case '{':
		j->type = JSON_OBJECT;
		parse_container(ps, j, depth);
		break;
	case '[':
		j->type = JSON_ARRAY;
		parse_container(ps, j, depth);
		break;
	case '"':
		j->type = JSON_STRING;
		j->string = parse_string(ps);
		break;
	case 't':
	case 'f':
		j->type = JSON_BOOL;
		j->boolean = *ps->p == 't';
		if (!take_word(ps, j->boolean ? "true" : "false"))
			parse_fail(ps, -EINVAL);
		break;
	case 'n':
		if (!take_word(ps, "null"))
			parse_fail(ps, -EINVAL);
		break;
	default:
		parse_number(ps, j);
		break;
	}
	if (ps->error) {
		json_free(j);
		return NULL;
	}
	return j;
}

int
json_parse(const char *text, size_t len, struct json **out, size_t *where)
{
	struct parser ps = { .p = text, .end = text + len, .start = text };
	struct json *j;

	j = parse_value(&ps, 0);
	if (j) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			parse_fail(&ps, -EINVAL);
	}
	if (ps.error) {
		json_free(j);
		if (where)
			*where = (size_t)(ps.error_at - ps.start);
		return ps.error;
	}
	*out = j;
	return 0;
}

void
json_free(struct json *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		json_free(j->items[i]);
		if (j->keys)
			free(j->keys[i]);
	}
	free(j->items);
	free(j->keys);
	free(j->string);
	free(j);
}

const struct json *
json_get(const struct json *j, const char *key)
{
	if (!j || j->type != JSON_OBJECT)
		return NULL;
	for (size_t i = j->n; i-- > 0;)
		if (strcmp(j->keys[i], key) == 0)
			return j->items[i];
	return NULL;
}

const char *
json_get_string(const struct json *j, const char *key, const char *dflt)
{
	const struct json *v = json_get(j, key);

	return v && v->type == JSON_STRING ? v->string : dflt;
}

unsigned long long
json_get_uint(const struct json *j, const char *key, unsigned long long dflt)
{
	const struct json *v = json_get(j, key);

	return v && v->type == JSON_NUMBER && v->is_uint ? v->uint : dflt;
}

double
json_get_number(const struct json *j, const char *key, double dflt)
{
	const struct json *v = json_get(j, key);

	return v && v->type == JSON_NUMBER && isfinite(v->number) ? v->number : dflt;
}

bool
json_get_bool(const struct json *j, const char *key, bool dflt)
{
	const struct json *v = json_get(j, key);

	return v && v->type == JSON_BOOL ? v->boolean : dflt;
}
