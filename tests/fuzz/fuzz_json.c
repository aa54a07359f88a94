/* json_parse() reads the control socket's replies in sockctl(1), and
 * status_from_json() turns a status reply into what sockctl prints: a
 * reply from a confused or hostile peer must not break the client.
 *
 * Properties: a parsed document is a well-formed tree (counts, keys,
 * strings), and lookups, status_from_json(), the status table and the
 * Prometheus rendering work on anything that parses. The writer side is
 * checked against the reader: the input as a C string, written with
 * buf_json_string() (what sockd uses for every string it sends), must
 * parse as one JSON string; equal to the input when that is valid UTF-8,
 * valid UTF-8 itself otherwise; and likewise as an object key. */
#include <errno.h>
#include <stdbool.h>

#include "buf.h"
#include "fuzz.h"
#include "json.h"
#include "status.h"

/* RFC 3629: no overlong forms, no surrogates, nothing beyond U+10FFFF. */
static bool
valid_utf8(const unsigned char *s)
{
	while (*s) {
		unsigned n, cp;

		if (s[0] < 0x80) {
			s++;
			continue;
		}
		if (s[0] >= 0xc2 && s[0] <= 0xdf)
			n = 1, cp = s[0] & 0x1fu;
		else if (s[0] >= 0xe0 && s[0] <= 0xef)
			n = 2, cp = s[0] & 0x0fu;
		else if (s[0] >= 0xf0 && s[0] <= 0xf4)
			n = 3, cp = s[0] & 0x07u;
		else
			return false;
		for (unsigned i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

static void
check_tree(const struct json *j, int depth)
{
	FUZZ_ASSERT(depth <= JSON_DEPTH_MAX);
	switch (j->type) {
	case JSON_STRING:
		FUZZ_ASSERT(j->string != NULL);
		break;
	case JSON_OBJECT:
		FUZZ_ASSERT(j->n == 0 || j->keys != NULL);
		for (size_t i = 0; i < j->n; i++) {
			FUZZ_ASSERT(j->keys[i] != NULL);
			/* The last of repeated keys wins. */
			FUZZ_ASSERT(json_get(j, j->keys[i]) != NULL);
		}
		/* fall through */
	case JSON_ARRAY:
		FUZZ_ASSERT(j->n == 0 || j->items != NULL);
		for (size_t i = 0; i < j->n; i++) {
			FUZZ_ASSERT(j->items[i] != NULL);
			check_tree(j->items[i], depth + 1);
		}
		break;
	case JSON_NULL:
	case JSON_BOOL:
	case JSON_NUMBER:
		FUZZ_ASSERT(j->n == 0 && j->items == NULL && j->string == NULL);
		break;
	default:
		FUZZ_ASSERT(!"unknown JSON type");
	}
}

/* What sockctl does with a reply. */
static void
use_reply(const struct json *j)
{
	struct status s;
	struct buf b = { 0 };

	(void)json_get_bool(j, "ok", false);
	(void)json_get_string(j, "error", "");
	(void)json_get_uint(j, "endpoints", 0);
	(void)json_get_number(j, "uptime", 0);
	(void)json_get(j, "errors");
	memset(&s, 0, sizeof(s));
	if (status_from_json(j, &s) == 0) {
		status_table(&s, 1700000000.0, &b);
		status_prometheus(&s, &b);
		FUZZ_ASSERT(buf_status(&b) == 0);
		status_free(&s);
	}
	buf_free(&b);
}

static void
writer_round_trip(const char *s)
{
	struct buf b = { 0 };
	struct json *j = NULL;
	size_t where = 0;
	int r;

	buf_json_string(&b, s);
	FUZZ_ASSERT(buf_status(&b) == 0);
	r = json_parse(b.data, b.len, &j, &where);
	if (r != 0) {
		fprintf(stderr, "buf_json_string wrote %s, which does not parse (at %zu)\n", b.data, where);
		abort();
	}
	FUZZ_ASSERT(j->type == JSON_STRING);
	/* The whole writer output is printable ASCII or UTF-8: one line. */
	FUZZ_ASSERT(memchr(b.data, '\n', b.len) == NULL);
	if (valid_utf8((const unsigned char *)s))
		FUZZ_ASSERT(strcmp(j->string, s) == 0);
	else
		FUZZ_ASSERT(valid_utf8((const unsigned char *)j->string));
	json_free(j);

	/* As a key of an object, as status_json_members writes names. */
	b.len = 0;
	buf_puts(&b, "{");
	buf_json_string(&b, s);
	buf_puts(&b, ":1}");
	FUZZ_ASSERT(buf_status(&b) == 0);
	j = NULL;
	FUZZ_ASSERT(json_parse(b.data, b.len, &j, NULL) == 0);
	FUZZ_ASSERT(j->type == JSON_OBJECT && j->n == 1);
	if (valid_utf8((const unsigned char *)s))
		FUZZ_ASSERT(json_get_uint(j, s, 0) == 1);
	json_free(j);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly size bytes and no NUL after them: json_parse must not
	 * look beyond len. */
	char *text = malloc(size ? size : 1), *s;
	struct json *j = NULL;
	size_t where = (size_t)-1;
	int r;

	memcpy(text, data, size);
	r = json_parse(text, size, &j, &where);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r == 0) {
		FUZZ_ASSERT(j != NULL);
		check_tree(j, 0);
		use_reply(j);
		json_free(j);
	} else {
		FUZZ_ASSERT(where <= size);
	}
	free(text);

	s = fuzz_strdup(data, size);
	writer_round_trip(s);
	free(s);
	return 0;
}
