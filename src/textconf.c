#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "textconf.h"

bool
textconf_next_line(const char *text, size_t len, size_t *pos, unsigned *no,
		   struct textconf_line *l)
{
	size_t start = *pos, end;
	const char *nl;

	if (start >= len)
		return false;
	nl = memchr(text + start, '\n', len - start);
	end = nl ? (size_t)(nl - text) : len;
	*pos = nl ? end + 1 : len;
	(*no)++;

	l->text = text + start;
	l->len = end - start;
	l->no = *no;
	l->bad = NULL;
	if (l->len > 0 && l->text[l->len - 1] == '\r')
		l->len--;
	if (l->len > TEXTCONF_LINE_MAX) {
		l->bad = "line longer than 4096 bytes";
		return true;
	}
	for (size_t i = 0; i < l->len; i++) {
		unsigned char c = (unsigned char)l->text[i];

		if (c == '\0') {
			l->bad = "NUL byte in line";
			break;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			l->bad = "control character in line";
			break;
		}
	}
	return true;
}

int
strv_pushn(struct strv *sv, const char *s, size_t len)
{
	char *copy;

	if (sv->n + 2 > sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 4;
		char **v = realloc(sv->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		sv->v = v;
		sv->cap = cap;
	}
	copy = strndup(s, len);
	if (!copy)
		return -ENOMEM;
	sv->v[sv->n++] = copy;
	sv->v[sv->n] = NULL;
	return 0;
}

int
strv_push(struct strv *sv, const char *s)
{
	return strv_pushn(sv, s, strlen(s));
}

size_t
strv_remove(struct strv *sv, const char *s)
{
	size_t kept = 0, removed = 0;

	for (size_t i = 0; i < sv->n; i++) {
		if (strcmp(sv->v[i], s) == 0) {
			free(sv->v[i]);
			removed++;
		} else {
			sv->v[kept++] = sv->v[i];
		}
	}
	sv->n = kept;
	if (sv->v)
		sv->v[kept] = NULL;
	return removed;
}

bool
strv_contains(const struct strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

int
strv_copy(struct strv *dst, const struct strv *src)
{
	strv_free(dst);
	for (size_t i = 0; i < src->n; i++)
		if (strv_push(dst, src->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

void
strv_free(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

int
textconf_words(const char *text, size_t len, struct strv *out)
{
	size_t i = 0;

	while (i < len) {
		size_t start;

		while (i < len && (text[i] == ' ' || text[i] == '\t'))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && text[i] != ' ' && text[i] != '\t')
			i++;
		if (strv_pushn(out, text + start, i - start) < 0)
			return -ENOMEM;
	}
	return 0;
}

int
textconf_read(const char *path, char **text, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd, r;

	/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is
	 * refused below, and a regular file reads the same either way. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return -errno;
	if (fstat(fd, &st) == -1) {
		r = -errno;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out_close;
	}
	/* One byte more than the bound tells a file that grew past it. */
	buf = malloc(TEXTCONF_FILE_MAX + 2);
	if (!buf) {
		r = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		ssize_t n = read(fd, buf + got, TEXTCONF_FILE_MAX + 1 - got);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out_free;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > TEXTCONF_FILE_MAX) {
			r = -EFBIG;
			goto out_free;
		}
	}
	buf[got] = '\0';
	*text = buf;
	*len = got;
	close(fd);
	return 0;

out_free:
	free(buf);
out_close:
	close(fd);
	return r;
}
