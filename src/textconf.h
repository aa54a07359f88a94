/* The plain-text side of inetd.conf and xinetd.d files (pure): lines with
 * defined outcomes for hostile bytes, words, and string vectors. Only
 * textconf_read() touches the filesystem. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Bounds shared by the inetd and xinetd parsers. A file larger than
 * TEXTCONF_FILE_MAX is refused whole (-EFBIG); a line longer than
 * TEXTCONF_LINE_MAX bytes (without its newline) is refused alone. */
#define TEXTCONF_FILE_MAX (1024 * 1024)
#define TEXTCONF_LINE_MAX 4096

struct textconf_line {
	const char *text;       /* not NUL-terminated; no '\n', no final '\r' */
	size_t len;
	unsigned no;            /* 1-based line number */
	const char *bad;        /* non-NULL: why the line cannot be read at all */
};

/* Iterate over the lines of text[0..len). *pos starts at 0 and *no at 0.
 * Returns false at the end. A CRLF ending reads as LF; a NUL byte, any
 * other control byte but tab, or an overlong line sets l->bad. */
bool textconf_next_line(const char *text, size_t len, size_t *pos, unsigned *no,
			struct textconf_line *l);

struct strv {
	char **v;               /* NULL-terminated once n > 0 */
	size_t n;
	size_t cap;
};

/* Append a copy of s[0..len). 0 or -ENOMEM. */
int strv_pushn(struct strv *sv, const char *s, size_t len);
int strv_push(struct strv *sv, const char *s);
/* Remove every entry equal to s; returns how many. */
size_t strv_remove(struct strv *sv, const char *s);
bool strv_contains(const struct strv *sv, const char *s);
int strv_copy(struct strv *dst, const struct strv *src);  /* dst is emptied first */
void strv_free(struct strv *sv);                          /* leaves sv empty */

/* Split a line into words separated by blanks (space, tab). 0 or -ENOMEM;
 * words are appended to *out. */
int textconf_words(const char *text, size_t len, struct strv *out);

/* Read a whole regular file of at most TEXTCONF_FILE_MAX bytes into a
 * malloc'ed buffer (NUL-terminated after *len bytes). 0, -EFBIG, or the
 * -errno of open/read. */
int textconf_read(const char *path, char **text, size_t *len);
