/* The head of an HTTP/1.0 or 1.1 request (pure): enough of RFC 9112 for
 * the metrics service, which answers one GET and closes. */
#pragma once

#include <stddef.h>

struct http_request {
	const char *method;             /* into the caller's buffer, not NUL-terminated */
	size_t method_len;
	const char *target;
	size_t target_len;
	int minor;                      /* HTTP/1.minor: 0 or 1 */
};

/* Look at the len bytes received so far. 1 when the request line and the
 * headers are complete (*req filled), 0 when more is needed, -EINVAL as
 * soon as it cannot be an HTTP/1.x request (binary, HTTP/2, a bad request
 * line). Header fields are not interpreted. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* req's target is path, or path followed by a query ("?..."). */
int http_target_is(const struct http_request *req, const char *path);
