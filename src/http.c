#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "http.h"

static bool
is_tchar(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	const char *eol = memchr(buf, '\n', len), *sp1, *sp2, *end;

	/* Judge the request line as it arrives: a client speaking something
	 * else is told apart at its first bytes, not after 8 KiB. */
	for (size_t i = 0; i < len && buf + i != eol; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (i == 0 ? !is_tchar(buf[i]) : (ch != '\r' && (ch < 0x20 || ch >= 0x7f)))
			return -EINVAL;
	}
	if (!eol)
		return 0;
	end = eol > buf && eol[-1] == '\r' ? eol - 1 : eol;
	for (const char *q = buf; q < end; q++)
		if (*q == '\r')
			return -EINVAL;

	/* method SP request-target SP HTTP/1.x */
	sp1 = memchr(buf, ' ', (size_t)(end - buf));
	if (!sp1)
		return -EINVAL;
	for (const char *q = buf; q < sp1; q++)
		if (!is_tchar(*q))
			return -EINVAL;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(end - (sp1 + 1)));
	if (!sp2 || sp2 == sp1 + 1)
		return -EINVAL;
	if (end - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1'))
		return -EINVAL;

	/* The headers end with an empty line ("\r\n\r\n", or bare "\n\n"). */
	for (const char *q = eol;;) {
		const char *next = memchr(q + 1, '\n', len - (size_t)(q + 1 - buf));

		if (!next)
			return 0;
		if (next == q + 1 || (next == q + 2 && q[1] == '\r'))
			break;
		q = next;
	}
	req->method = buf;
	req->method_len = (size_t)(sp1 - buf);
	req->target = sp1 + 1;
	req->target_len = (size_t)(sp2 - (sp1 + 1));
	req->minor = sp2[8] - '0';
	return 1;
}

int
http_target_is(const struct http_request *req, const char *path)
{
	size_t n = strlen(path);

	return req->target_len >= n && memcmp(req->target, path, n) == 0 &&
	       (req->target_len == n || req->target[n] == '?');
}
