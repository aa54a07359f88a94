/* http_parse_request() reads what any client of a metrics endpoint sends.
 *
 * The input arrives as the metrics service sees it: in pieces (the first
 * byte sets the piece size), each call looking at everything received so
 * far in its 8 KiB buffer. Properties: the verdict never goes back (0 may
 * become 1 or -EINVAL, never the other way round), the parsed request
 * points inside the buffer at a token method and a target without
 * spaces, and the verdict at each step equals a fresh look at the same
 * bytes. */
#include <errno.h>
#include <stdbool.h>

#include "fuzz.h"
#include "http.h"

#define METRICS_REQUEST_MAX 8192        /* service_metrics.c */

static bool
is_tchar(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static void
check_request(const char *buf, size_t len, const struct http_request *rq)
{
	FUZZ_ASSERT(rq->method == buf);
	FUZZ_ASSERT(rq->method_len > 0 && rq->target_len > 0);
	FUZZ_ASSERT(rq->target > rq->method && rq->target + rq->target_len <= buf + len);
	FUZZ_ASSERT(rq->minor == 0 || rq->minor == 1);
	for (size_t i = 0; i < rq->method_len; i++)
		FUZZ_ASSERT(is_tchar(rq->method[i]));
	for (size_t i = 0; i < rq->target_len; i++)
		FUZZ_ASSERT(rq->target[i] != ' ' && rq->target[i] != '\r' && rq->target[i] != '\n');
	/* What serve() asks next must not read beyond the target. */
	(void)http_target_is(rq, "/metrics");
	(void)http_target_is(rq, "");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request rq, first = { 0 };
	size_t piece, have = 0;
	char *buf;
	int last = 0;

	if (size == 0)
		return 0;
	piece = data[0] ? data[0] : 4096;
	data++;
	size--;
	if (size > METRICS_REQUEST_MAX)
		size = METRICS_REQUEST_MAX;
	buf = malloc(size ? size : 1);
	memcpy(buf, data, size);

	while (have < size) {
		size_t n = size - have < piece ? size - have : piece;
		char *exact;
		int r;

		have += n;
		/* Exactly the bytes received so far, so ASan sees a read
		 * past them. */
		exact = malloc(have);
		memcpy(exact, buf, have);
		r = http_parse_request(exact, have, &rq);
		FUZZ_ASSERT(r == 1 || r == 0 || r == -EINVAL);
		if (last != 0)
			FUZZ_ASSERT(r == last);
		if (r == 1) {
			check_request(exact, have, &rq);
			if (last == 1) {
				FUZZ_ASSERT(rq.method_len == first.method_len);
				FUZZ_ASSERT(rq.target_len == first.target_len);
				FUZZ_ASSERT(rq.target - exact == first.target - first.method);
				FUZZ_ASSERT(rq.minor == first.minor);
			}
			first = rq;
			first.target = buf + (rq.target - exact);
			first.method = buf;
		}
		free(exact);
		last = r;
	}
	free(buf);
	return 0;
}
