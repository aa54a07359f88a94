#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "diag.h"

char *
diag_vformat(const char *fmt, va_list ap)
{
	va_list aq;
	char *s;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		return NULL;
	s = malloc((size_t)n + 1);
	if (s)
		vsnprintf(s, (size_t)n + 1, fmt, ap);
	return s;
}

char *
diag_format(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = diag_vformat(fmt, ap);
	va_end(ap);
	return s;
}

void
diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	char *msg, *s, **lines;
	va_list ap;

	va_start(ap, fmt);
	msg = diag_vformat(fmt, ap);
	va_end(ap);
	if (!msg)
		return;
	if (!file)
		s = diag_format("%s", msg);
	else if (line > 0)
		s = diag_format("%s:%d: %s", file, line, msg);
	else
		s = diag_format("%s: %s", file, msg);
	free(msg);
	if (!s)
		return;
	/* Values quoted from the file may hold "\n"; a diagnostic stays one line. */
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';

	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 8;

		lines = realloc(d->lines, cap * sizeof(*lines));
		if (!lines) {
			free(s);
			return;
		}
		d->lines = lines;
		d->cap = cap;
	}
	d->lines[d->n++] = s;
}

void
diag_free(struct diag *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->n = d->cap = 0;
}
