/* The RFC 862-868 services over streams and datagrams. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "builtin.h"
#include "conn.h"
#include "daytime_options.h"
#include "keys.h"
#include "service.h"
#include "sockd.h"

#define STREAM_CHUNK (64 * 1024)        /* per read or write on a byte stream */
#define IO_ROUNDS 4                     /* per wakeup, so one busy client cannot starve the others */
#define IO_BUDGET (1024 * 1024)         /* bytes per wakeup, same reason */
#define SHORT_READ (16 * 1024)          /* see stream_drained */

/* One chargen period followed by enough of the next that any offset
 * within the period starts a contiguous STREAM_CHUNK. */
static uint8_t chargen_pattern[CHARGEN_PERIOD + STREAM_CHUNK];
static pthread_once_t chargen_once = PTHREAD_ONCE_INIT;

static void
chargen_init(void)
{
	chargen_fill(chargen_pattern, sizeof(chargen_pattern), 0);
}

/* A short read on a byte stream took all there was: epoll says when more
 * comes, which spares a read that would only fail. Only for small reads
 * (requests, not a bulk transfer, where more arrives while we work), and
 * never for seqpacket (a record says nothing about the next one). */
static bool
stream_drained(const struct conn *c, size_t got, size_t asked)
{
	return got < asked && got < SHORT_READ && c->socktype != SOCK_SEQPACKET;
}

/* Where to read c's input, and how much at once: one chunk on a byte
 * stream (the kernel's copy into a buffer that stays in the cache costs
 * less than into all of the scratch), all of it for a seqpacket record,
 * which must be read whole or its tail is lost. */
static uint8_t *
read_buf(struct conn *c, size_t *size)
{
	uint8_t *buf = conn_scratch(c, size);

	if (c->socktype != SOCK_SEQPACKET && *size > STREAM_CHUNK)
		*size = STREAM_CHUNK;
	return buf;
}

/* ------------------------------------------------------------ echo */

static void
echo_start(struct conn *c)
{
	conn_want(c, EPOLLIN);
}

static void
echo_io(struct conn *c, uint32_t events)
{
	size_t size;
	uint8_t *buf = read_buf(c, &size);
	for (size_t moved = 0; moved < IO_BUDGET;) {
		ssize_t n = conn_read(c, buf, size);

		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n <= 0) {
			/* EOF (nothing is pending: conn_io only runs when all
			 * output went out) or an error. */
			conn_close(c);
			return;
		}
		if (conn_send(c, buf, (size_t)n) < 0)
			return;
		if (c->out)
			return;         /* the client is slow: stop reading until it catches up */
		if (stream_drained(c, (size_t)n, size))
			return;
		moved += (size_t)n;
	}
}

static ssize_t
echo_dgram(struct dgram_ctx *ctx, const uint8_t *in, size_t len, const uint8_t **out)
{
	*out = in;
	return (ssize_t)len;
}

const struct service service_echo = {
	.name = "echo",
	.flags = SERVICE_STREAM | SERVICE_DGRAM,
	.conn_start = echo_start,
	.conn_io = echo_io,
	.dgram_reply = echo_dgram,
};

/* ------------------------------------------------------------ discard */

/* Read and drop whatever is there; true when c was closed. On TCP the
 * kernel drops it without copying it into buf (conn_drop). */
static bool
drop_input(struct conn *c)
{
	size_t size;
	uint8_t *buf = read_buf(c, &size);

	for (size_t moved = 0; moved < IO_BUDGET;) {
		ssize_t n = conn_drop(c, buf, size);

		if (n == -EAGAIN || n == -EINTR)
			return false;
		if (n <= 0) {
			conn_close(c);
			return true;
		}
		if (stream_drained(c, (size_t)n, size))
			return false;
		moved += (size_t)n;
	}
	return false;
}

static void
discard_io(struct conn *c, uint32_t events)
{
	drop_input(c);
}

static ssize_t
no_reply(struct dgram_ctx *ctx, const uint8_t *in, size_t len, const uint8_t **out)
{
	return -1;
}

const struct service service_discard = {
	.name = "discard",
	.flags = SERVICE_STREAM | SERVICE_DGRAM,
	.conn_start = echo_start,
	.conn_io = discard_io,
	.dgram_reply = no_reply,
};

/* ------------------------------------------------------------ chargen */

static void
chargen_start(struct conn *c)
{
	pthread_once(&chargen_once, chargen_init);
	c->svc = 0;     /* position in the stream, modulo CHARGEN_PERIOD */
	conn_want(c, EPOLLIN | EPOLLOUT);
}

/* The client's input is thrown away; its EOF only means it sends no more
 * (it may well still read), so the stream goes on until a write fails. */
static void
chargen_drop_input(struct conn *c)
{
	size_t size;
	uint8_t *buf = conn_scratch(c, &size);

	for (int i = 0; i < IO_ROUNDS; i++) {
		ssize_t n = conn_read(c, buf, size);

		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n == 0) {
			conn_want(c, EPOLLOUT);
			return;
		}
		if (n < 0) {
			conn_close(c);
			return;
		}
	}
}

static void
chargen_io(struct conn *c, uint32_t events)
{
	if ((events & (EPOLLIN | EPOLLERR)) && (c->want & EPOLLIN)) {
		chargen_drop_input(c);
		if (c->closed)
			return;
	}
	if (!(events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		return;
	for (int i = 0; i < IO_ROUNDS; i++) {
		ssize_t n = conn_write(c, chargen_pattern + c->svc, STREAM_CHUNK);

		if (n == -EAGAIN || n == -EINTR)
			return;
		if (n < 0) {
			conn_close(c);
			return;
		}
		c->svc = (c->svc + (uint64_t)n) % CHARGEN_PERIOD;
	}
}

static ssize_t
chargen_dgram(struct dgram_ctx *ctx, const uint8_t *in, size_t len, const uint8_t **out)
{
	pthread_once(&chargen_once, chargen_init);
	*out = chargen_pattern;
	return (ssize_t)(xorshift_next(ctx->rand_state) % 513);
}

const struct service service_chargen = {
	.name = "chargen",
	.flags = SERVICE_STREAM | SERVICE_DGRAM,
	.conn_start = chargen_start,
	.conn_io = chargen_io,
	.dgram_reply = chargen_dgram,
};

/* ------------------------------------------------------------ daytime, time */

static void
say_and_finish(struct conn *c, const void *msg, size_t len)
{
	if (conn_send(c, msg, len) < 0)
		return;
	conn_finish(c);
}

static void
daytime_start(struct conn *c)
{
	char line[DGRAM_REPLY_MAX];
	size_t n = daytime_format(line, sizeof(line), daytime_options(c->ep)->format, time(NULL));

	if (n == 0) {
		conn_close(c);
		return;
	}
	say_and_finish(c, line, n);
}

static ssize_t
daytime_dgram(struct dgram_ctx *ctx, const uint8_t *in, size_t len, const uint8_t **out)
{
	size_t n = daytime_format((char *)ctx->buf, DGRAM_REPLY_MAX, daytime_options(ctx->ep)->format, time(NULL));

	if (n == 0)
		return -1;
	*out = ctx->buf;
	return (ssize_t)n;
}

/* Only lingering input reaches conn_io once the greeting is out. */
static void
ignore_io(struct conn *c, uint32_t events)
{
	drop_input(c);
}

/* daytime's one key: the format of its line. */
static bool
set_daytime_format(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	if (!daytime_format_valid(v->s)) {
		key_error(c, v, "invalid daytime_format '%s' (it must give one line of printable ASCII)", v->s);
		return false;
	}
	return key_set_string(c, k, v, field);
}

static const struct key daytime_keys[] = {
	{ .name = "daytime_format", .type = KEY_STRING, .set = set_daytime_format,
	  .print = key_print_string, .offset = offsetof(struct daytime_options, format),
	  .def = DAYTIME_DEFAULT_FORMAT, .release = key_release_string,
	  .doc = "strftime(3) format of the daytime line" },
	{ .name = NULL },
};

static const struct key_set daytime_key_set = {
	.section = "daytime",
	.keys = daytime_keys,
	.size = sizeof(struct daytime_options),
};

const struct service service_daytime = {
	.name = "daytime",
	.keys = &daytime_key_set,
	.flags = SERVICE_STREAM | SERVICE_DGRAM,
	.conn_start = daytime_start,
	.conn_io = ignore_io,
	.dgram_reply = daytime_dgram,
};

static void
time_start(struct conn *c)
{
	uint32_t be = htonl(rfc868_time(time(NULL)));

	say_and_finish(c, &be, sizeof(be));
}

static ssize_t
time_dgram(struct dgram_ctx *ctx, const uint8_t *in, size_t len, const uint8_t **out)
{
	uint32_t be = htonl(rfc868_time(time(NULL)));

	memcpy(ctx->buf, &be, sizeof(be));
	*out = ctx->buf;
	return sizeof(be);
}

const struct service service_time = {
	.name = "time",
	.flags = SERVICE_STREAM | SERVICE_DGRAM,
	.conn_start = time_start,
	.conn_io = ignore_io,
	.dgram_reply = time_dgram,
};
