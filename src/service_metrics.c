/* service "metrics": GET /metrics over HTTP/1.0 and 1.1, in the Prometheus
 * text exposition format, from the status the main thread publishes
 * (monitor.h). One request per connection (Connection: close). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "buf.h"
#include "conn.h"
#include "http.h"
#include "monitor.h"
#include "service.h"
#include "status.h"

#define METRICS_REQUEST_MAX     8192    /* request line and headers */
#define METRICS_REQUEST_MS      10000   /* to send them */

struct request {
	size_t len;
	char buf[METRICS_REQUEST_MAX];
};

/* The whole response in one buffer: conn_send keeps what the socket does
 * not take, and a second send must not overtake it. */
static void
respond(struct conn *c, const struct http_request *rq, const char *status, const char *extra,
	const char *type, const struct buf *body)
{
	bool head = rq->method_len == 4 && memcmp(rq->method, "HEAD", 4) == 0;
	struct buf b = { 0 };

	buf_printf(&b, "HTTP/1.%d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		   "%sConnection: close\r\n\r\n", rq->minor, status, type, body->len, extra);
	if (!head)
		buf_append(&b, body->data, body->len);
	if (buf_status(&b) < 0 || conn_send(c, b.data, b.len) == 0)
		conn_finish(c);
	buf_free(&b);
}

static void
respond_text(struct conn *c, const struct http_request *rq, const char *status, const char *extra,
	     const char *text)
{
	struct buf body = { 0 };

	buf_puts(&body, text);
	respond(c, rq, status, extra, "text/plain; charset=utf-8", &body);
	buf_free(&body);
}

static void
serve(struct conn *c, const struct http_request *rq)
{
	struct status s;
	struct buf body = { 0 };

	if (!(rq->method_len == 3 && memcmp(rq->method, "GET", 3) == 0) &&
	    !(rq->method_len == 4 && memcmp(rq->method, "HEAD", 4) == 0)) {
		respond_text(c, rq, "405 Method Not Allowed", "Allow: GET, HEAD\r\n", "method not allowed\n");
		return;
	}
	if (!http_target_is(rq, "/metrics")) {
		respond_text(c, rq, "404 Not Found", "", "not found: try /metrics\n");
		return;
	}
	if (monitor_snapshot(&s) < 0) {
		respond_text(c, rq, "503 Service Unavailable", "", "no status yet\n");
		return;
	}
	status_prometheus(&s, &body);
	status_free(&s);
	if (buf_status(&body) < 0)
		respond_text(c, rq, "503 Service Unavailable", "", "out of memory\n");
	else
		respond(c, rq, "200 OK", "", "text/plain; version=0.0.4; charset=utf-8", &body);
	buf_free(&body);
}

static void
metrics_start(struct conn *c)
{
	struct request *rq = malloc(sizeof(*rq));

	if (!rq) {
		conn_close(c);
		return;
	}
	rq->len = 0;
	c->svc_state = rq;
	/* A client that trickles its request gets ten seconds, not the
	 * endpoint's idle_timeout. */
	conn_set_timer(c, conn_now_ms(c) + METRICS_REQUEST_MS);
	if (!c->closed)
		conn_want(c, EPOLLIN);
}

static void
metrics_io(struct conn *c, uint32_t events)
{
	struct request *rq = c->svc_state;
	struct http_request req;
	ssize_t n;
	int r;

	n = conn_read(c, rq->buf + rq->len, METRICS_REQUEST_MAX - rq->len);
	if (n == -EAGAIN || n == -EINTR)
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	rq->len += (size_t)n;
	r = http_parse_request(rq->buf, rq->len, &req);
	if (r < 0 || (r == 0 && rq->len == METRICS_REQUEST_MAX)) {
		/* Garbage, or more head than any scraper sends. */
		c->outcome = "bad-request";
		conn_close(c);
		return;
	}
	if (r == 0)
		return;
	/* One request per connection: a pipelined second one is dropped
	 * with the lingering input. */
	conn_set_timer(c, 0);
	conn_want(c, 0);
	serve(c, &req);
}

const struct service service_metrics = {
	.name = "metrics",
	.flags = SERVICE_STREAM,
	.conn_start = metrics_start,
	.conn_io = metrics_io,
};
