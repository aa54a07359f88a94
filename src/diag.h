/* Diagnostics collected while loading a configuration: "file:line: message" lines (pure). */
#pragma once

#include <stdarg.h>
#include <stddef.h>

/* Each line is "file:line: message", or "file: message" when line <= 0, or
 * the bare message when file is NULL; control characters become '?'. */
struct diag {
	char **lines;
	size_t n;
	size_t cap;
};

/* Appends a line; out of memory, the line is lost (callers count their
 * errors and compare with n to tell). */
void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void diag_free(struct diag *d);         /* frees the lines, leaves d empty */

/* vasprintf() without _GNU_SOURCE; NULL when out of memory. */
char *diag_vformat(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
char *diag_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
