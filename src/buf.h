/* A growable text buffer for replies and reports (pure). An allocation
 * failure is remembered instead of returned at every call: check
 * buf_failed() (or the result of buf_steal) once at the end. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;             /* NUL-terminated while len > 0 */
	size_t len;
	size_t cap;
	bool failed;            /* out of memory: the contents are incomplete */
};

void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* s as a JSON string, quotes included; bytes that are not printable
 * ASCII or valid UTF-8 are escaped or replaced, so the result is valid JSON. */
void buf_json_string(struct buf *b, const char *s);

/* 0, or -ENOMEM when an append failed. */
int buf_status(const struct buf *b);

void buf_free(struct buf *b);   /* leaves b empty and usable */
