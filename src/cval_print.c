/*
 * The one writer of cval trees as libconfig text, for the converter
 * (sockd --convert). A string is quoted so that libconfig 1.5's scanner
 * gives back the same bytes: '"' and '\' are escaped, control bytes are
 * written as \xNN (1.5 reads \f \n \r \t and \xNN), bytes >= 0x80 pass
 * as they are.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cval_print.h"

bool
cval_name_valid(const char *name)
{
	const char *s = name;

	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '*'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '*'))
			return false;
	return true;
}

static bool
is_scalar(const struct cval *v)
{
	return v->type != CVAL_ARRAY && v->type != CVAL_LIST && v->type != CVAL_GROUP;
}

/* The shortest text that reads back to the same double; libconfig reads a
 * number without '.' or an exponent as an integer. */
static void
print_float(FILE *f, double d)
{
	char buf[64];

	if (d < 1e15 && d > -1e15 && d == (double)(long long)d) {
		snprintf(buf, sizeof(buf), "%.1f", d);
		fputs(buf, f);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (!strpbrk(buf, ".e")) {
		size_t n = strlen(buf);

		snprintf(buf + n, sizeof(buf) - n, ".0");
	}
	fputs(buf, f);
}

static void
print_int(FILE *f, const struct cval *v)
{
	/* libconfig reads an integer outside 32 bits only with the L suffix
	 * (and a hex one as its two's complement int). */
	bool wide = v->i < INT32_MIN || v->i > INT32_MAX;

	if (v->hex && v->i >= 0)
		fprintf(f, "0x%llX%s", (unsigned long long)v->i, v->i > INT32_MAX ? "L" : "");
	else
		fprintf(f, "%lld%s", v->i, wide ? "L" : "");
}

/* Checks the whole tree first, so that a bad tree prints nothing. */
static int
check(const struct cval *v, bool member)
{
	if (member && !cval_name_valid(v->name))
		return -EINVAL;
	switch (v->type) {
	case CVAL_FLOAT:
		return isfinite(v->f) ? 0 : -EINVAL;
	case CVAL_STRING:
		return v->s ? 0 : -EINVAL;
	case CVAL_INT:
	case CVAL_BOOL:
		return 0;
	case CVAL_ARRAY:
		for (size_t i = 0; i < v->n; i++)
			if (!is_scalar(&v->elems[i]) || v->elems[i].type != v->elems[0].type)
				return -EINVAL;
		/* fall through */
	case CVAL_LIST:
	case CVAL_GROUP:
		for (size_t i = 0; i < v->n; i++) {
			int r = check(&v->elems[i], v->type == CVAL_GROUP);

			if (r < 0)
				return r;
		}
		return 0;
	}
	return -EINVAL;
}

static void print_members(FILE *f, const char *indent, const struct cval *g);

static void
print_value(FILE *f, const char *indent, const struct cval *v)
{
	switch (v->type) {
	case CVAL_INT:
		print_int(f, v);
		return;
	case CVAL_FLOAT:
		print_float(f, v->f);
		return;
	case CVAL_BOOL:
		fputs(v->b ? "true" : "false", f);
		return;
	case CVAL_STRING:
		key_dump_string(f, v->s);
		return;
	case CVAL_ARRAY:
	case CVAL_LIST:
		fputs(v->type == CVAL_ARRAY ? "[ " : "( ", f);
		for (size_t i = 0; i < v->n; i++) {
			if (i > 0)
				fputs(", ", f);
			print_value(f, indent, &v->elems[i]);
		}
		fputs(v->type == CVAL_ARRAY ? " ]" : " )", f);
		return;
	case CVAL_GROUP: {
		size_t len = strlen(indent);
		char *inner = malloc(len + 2);

		fputs("{\n", f);
		if (inner) {
			memcpy(inner, indent, len);
			inner[len] = '\t';
			inner[len + 1] = '\0';
		}
		print_members(f, inner ? inner : indent, v);
		free(inner);
		fprintf(f, "%s}", indent);
		return;
	}
	}
}

static void
print_members(FILE *f, const char *indent, const struct cval *g)
{
	for (size_t i = 0; i < g->n; i++) {
		fprintf(f, "%s%s = ", indent, g->elems[i].name);
		print_value(f, indent, &g->elems[i]);
		fputs(";\n", f);
	}
}

int
cval_print_members(FILE *f, const char *indent, const struct cval *g)
{
	int r;

	if (g->type != CVAL_GROUP)
		return -EINVAL;
	r = check(g, false);
	if (r < 0)
		return r;
	print_members(f, indent, g);
	return 0;
}

int
cval_print_value(FILE *f, const char *indent, const struct cval *v)
{
	int r = check(v, false);

	if (r < 0)
		return r;
	print_value(f, indent, v);
	return 0;
}
