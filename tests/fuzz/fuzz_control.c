/* The control socket's request reader (src/control.c: client_read and
 * handle_request), fed the input as a client's bytes through a real socket
 * pair, then half-closed, as sockctl does.
 *
 * control.c is included so its static reader can be driven without the
 * daemon: daemon_reload, monitor_snapshot and config_load are stand-ins
 * below (a fuzzer must not reload a daemon or read any file a request
 * names), which answer from fixed data and echo the request's argument
 * into their messages, so the JSON writer sees hostile bytes too.
 *
 * Properties: a non-empty request gets exactly one reply line; the reply
 * is one JSON object with a boolean "ok" that json_parse accepts; a status
 * reply reads back with status_from_json (what sockctl does with it). */
/* Checks run here, not in a child process: see check_start(). */
#define CONTROL_CHECK_INLINE 1
#include "../../src/control.c"

#include "fuzz.h"
#include "json.h"

/* ---------------------------------------------------------------- stand-ins */

static const char status_template[] =
	"{\"version\":\"0.1.0\",\"pid\":42,\"config\":\"/etc/sockd/sockd.conf\",\"started\":1.5,"
	"\"uptime\":2,\"reload\":{\"ok\":false,\"time\":3,\"errors\":[\"f:1: \\\"x\\\"\\u0001\"]},"
	"\"workers\":2,\"queue\":{\"length\":0,\"capacity\":16},\"connections\":{\"active\":1,\"max\":9},"
	"\"served\":5,\"endpoints\":[{\"name\":\"e\\u00e9\",\"service\":\"echo\",\"listen\":"
	"[{\"address\":\"tcp:127.0.0.1:7\",\"origin\":\"systemd\"}],\"accepted\":3}]}";

static unsigned stub_turn;      /* varies the stand-ins' answers per input */
static struct sockd_config stub_cfg = { .n_endpoints = 2 };

/* Stands in for daemon_upgrade(), reached through d->upgrade: a fuzz
 * run starts no new binary, so every upgrade fails, with a reason. */
static int
stub_upgrade(struct sockd *d, char *why, size_t size)
{
	(void)d;
	snprintf(why, size, "upgrade failed: no new process in the fuzz harness; still serving");
	return -ENOEXEC;
}

/* Stands in for daemon_reload(), reached through d->reload. */
static int
stub_reload(struct sockd *d)
{
	diag_free(&d->reload_errors);
	switch (stub_turn % 3) {
	case 0:
		d->acceptor_running = true;
		return 0;
	case 1:
		d->acceptor_running = true;
		break;
	default:
		d->acceptor_running = false;
		break;
	}
	d->reload_errors.lines = calloc(2, sizeof(char *));
	d->reload_errors.lines[0] = strdup("/etc/sockd/sockd.conf:3: unknown key '\"\\\t\x01\xff'");
	d->reload_errors.lines[1] = strdup("/etc/sockd/sockd.conf:9: m\xc3\xa9tric");
	d->reload_errors.n = d->reload_errors.cap = 2;
	return -EINVAL;
}

int
monitor_snapshot(struct status *out)
{
	struct json *j = NULL;
	int r;

	if (stub_turn % 4 == 3)
		return -ENOENT;
	r = json_parse(status_template, sizeof(status_template) - 1, &j, NULL);
	FUZZ_ASSERT(r == 0);
	r = status_from_json(j, out);
	json_free(j);
	return r;
}

int
config_load(const char *path, struct sockd_config **out, struct diag *d)
{
	size_t n = strlen(path);

	*out = NULL;
	if (n >= 3 && strcmp(path + n - 3, ".ok") == 0) {
		*out = &stub_cfg;
		return 0;
	}
	if (stub_turn % 2)
		return -ENOENT;         /* no line: "cannot check the file" */
	d->lines = calloc(1, sizeof(char *));
	d->lines[0] = malloc(n + 16);
	snprintf(d->lines[0], n + 16, "%s:1: bad", path);
	d->n = d->cap = 1;
	return -EINVAL;
}

void
config_free(struct sockd_config *cfg)
{
	FUZZ_ASSERT(cfg == NULL || cfg == &stub_cfg);
}

void
diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
	d->lines = NULL;
	d->n = d->cap = 0;
}

/* ---------------------------------------------------------------- harness */

static struct control ctl = { .fd = -1, .epfd = -1, .timerfd = -1 };
static struct sockd daemon_state = { .cfg = &stub_cfg, .config_path = "/etc/sockd/sockd.conf",
				     .reload = stub_reload, .upgrade = stub_upgrade };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_max_level = -1;     /* the reader logs requests; nobody reads them here */
	ctl.epfd = epoll_create1(EPOLL_CLOEXEC);
	FUZZ_ASSERT(ctl.epfd >= 0);
	return 0;
}

static bool
client_alive(const struct client *c)
{
	for (const struct client *p = ctl.clients; p; p = p->next)
		if (p == c)
			return true;
	return false;
}

/* The request line, trimmed as handle_request() trims it, is "status". */
static bool
is_status_request(const uint8_t *data, size_t size)
{
	const uint8_t *lf = memchr(data, '\n', size);
	size_t b = 0, e = lf ? (size_t)(lf - data) : size;

	while (e > 0 && (data[e - 1] == '\r' || data[e - 1] == ' ' || data[e - 1] == '\t'))
		e--;
	while (b < e && (data[b] == ' ' || data[b] == '\t'))
		b++;
	return e - b == 6 && memcmp(data + b, "status", 6) == 0;
}

static void
check_reply(const char *reply, size_t len, bool status_request)
{
	const struct json *ok;
	struct json *j = NULL;
	struct status s;
	size_t where = 0;

	FUZZ_ASSERT(len > 0 && reply[len - 1] == '\n');
	FUZZ_ASSERT(memchr(reply, '\n', len - 1) == NULL);
	if (json_parse(reply, len - 1, &j, &where) != 0) {
		fprintf(stderr, "reply is not JSON (at byte %zu): %.*s\n", where, (int)len, reply);
		abort();
	}
	FUZZ_ASSERT(j->type == JSON_OBJECT);
	ok = json_get(j, "ok");
	FUZZ_ASSERT(ok != NULL && ok->type == JSON_BOOL);
	if (ok->boolean && status_request) {
		memset(&s, 0, sizeof(s));
		FUZZ_ASSERT(status_from_json(j, &s) == 0);
		FUZZ_ASSERT(s.n_endpoints == 1);
		status_free(&s);
	} else if (!ok->boolean) {
		FUZZ_ASSERT(json_get_string(j, "error", NULL) != NULL);
	}
	json_free(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct epoll_event ev = { .events = EPOLLIN };
	static char reply[1 << 18];
	size_t got = 0, sent = 0;
	struct client *c;
	enum control_result res;
	int sv[2];

	stub_turn = size;
	FUZZ_ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	c = calloc(1, sizeof(*c));
	c->fd = sv[0];
	c->next = ctl.clients;
	if (c->next)
		c->next->prev = c;
	ctl.clients = c;
	ctl.n_clients++;
	ev.data.ptr = c;
	FUZZ_ASSERT(epoll_ctl(ctl.epfd, EPOLL_CTL_ADD, c->fd, &ev) == 0);

	while (sent < size) {
		ssize_t n = write(sv[1], data + sent, size - sent);

		FUZZ_ASSERT(n > 0);     /* max_len stays far below the socket buffer */
		sent += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);

	res = client_read(&ctl, c, &daemon_state);
	if (client_alive(c)) {
		/* A reply bigger than the socket buffer would wait for
		 * EPOLLOUT; ours never are. */
		FUZZ_ASSERT(!c->replying);
		client_free(&ctl, c);
	}
	FUZZ_ASSERT(ctl.clients == NULL && ctl.n_clients == 0);

	for (;;) {
		ssize_t n = read(sv[1], reply + got, sizeof(reply) - got);

		if (n <= 0)
			break;
		got += (size_t)n;
		FUZZ_ASSERT(got < sizeof(reply));
	}
	close(sv[1]);

	if (size == 0) {
		FUZZ_ASSERT(got == 0);
		return 0;
	}
	check_reply(reply, got, is_status_request(data, size));
	if (res == CONTROL_STOP)
		FUZZ_ASSERT(strstr(reply, "\"stopping\":true") != NULL);
	return 0;
}
