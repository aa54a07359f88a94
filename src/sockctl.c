/* sockctl: talk to a running sockd over its control socket, and probe echo
 * services. Exit codes follow sysexits(3); see sockctl(1). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "control.h"
#include "json.h"
#include "status.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,          /* the answer is no: reload refused, bad file, lost probes */
	EXIT_USAGE = 64,        /* EX_USAGE */
	EXIT_UNAVAILABLE = 69,  /* EX_UNAVAILABLE: sockd is not running, nothing answers */
	EXIT_TEMPFAIL = 75,     /* EX_TEMPFAIL: timeout, sockd busy */
	EXIT_PROTOCOL = 76,     /* EX_PROTOCOL: a reply sockctl does not understand */
	EXIT_NOPERM = 77,       /* EX_NOPERM: not allowed on the control socket */
};

#define REPLY_MAX               (64 << 20)
#define PROBE_SIZE_MAX          (16 << 20)
#define PROBE_DGRAM_MAX         65507
#define PROBE_DEFAULT_COUNT     5
#define PROBE_DEFAULT_SIZE      64
#define PROBE_DEFAULT_INTERVAL  0.2
#define PROBE_DEFAULT_TIMEOUT   2.0

static const char *arg_socket = CONTROL_DEFAULT_PATH;
static bool arg_json;
static double arg_timeout = 10.0;

static volatile sig_atomic_t interrupted;

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: sockctl [-S PATH] [--json] [-t SECS] COMMAND [ARGS] [OPTIONS]\n"
		"\n"
		"commands:\n"
		"  status               endpoints, addresses and counters of the running sockd\n"
		"  reload               reload the configuration (exit 1 and its errors when refused)\n"
		"  check [FILE]         check FILE (default: sockd's own) without applying it\n"
		"  stop                 stop sockd gracefully, as SIGTERM does\n"
		"  upgrade              start sockd's binary anew with the listening sockets;\n"
		"                       the old process drains (exit 1 and why when refused)\n"
		"  probe ADDRESS [-c COUNT] [-s SIZE] [-i SECS] [-W SECS]\n"
		"                       round trips to an echo service (tcp:, udp:, unix:, ...)\n"
		"\n"
		"options:\n"
		"  -S, --socket PATH    control socket (default %s; @name = abstract)\n"
		"  -j, --json           print the reply as JSON\n"
		"  -t, --timeout SECS   give up on sockd after SECS (default 10)\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n",
		CONTROL_DEFAULT_PATH);
}

static void complain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
complain(const char *fmt, ...)
{
	va_list ap;

	fputs("sockctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Milliseconds left until deadline, for poll(); 0 once it passed. */
static int
ms_left(double deadline)
{
	double left = deadline - now_mono();

	if (left <= 0)
		return 0;
	return left > INT_MAX / 1000 ? INT_MAX : (int)ceil(left * 1000);
}

static bool
parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 86400)
		return false;
	*out = v;
	return true;
}

static bool
parse_count(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* ------------------------------------------------------------ control */

static const struct option global_opts[] = {
	{ "socket", required_argument, NULL, 'S' },
	{ "json", no_argument, NULL, 'j' },
	{ "timeout", required_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* One of the options that may come before or after the command:
 * EXIT_OK when taken, EXIT_USAGE for a bad value, -1 when c is not one. */
static int
global_option(int c, const char *arg)
{
	switch (c) {
	case 'S':
		arg_socket = arg;
		return EXIT_OK;
	case 'j':
		arg_json = true;
		return EXIT_OK;
	case 't':
		if (!parse_seconds(arg, &arg_timeout) || arg_timeout <= 0) {
			complain("bad timeout '%s'", arg);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	default:
		return -1;
	}
}

/* The options after a command (`sockctl status --json`, as git and
 * systemctl take them), anywhere among its operands; "--" ends them.
 * Leaves the operands in argv[optind..]. -1 to go on, or the exit code
 * (after --help, or a usage error). */
static int
command_options(int argc, char **argv)
{
	int c, r;

	optind = 0;     /* glibc: start over, and permute this time */
	while ((c = getopt_long(argc, argv, "S:jt:h", global_opts, NULL)) != -1) {
		r = global_option(c, optarg);
		if (r == EXIT_OK)
			continue;
		if (r == -1 && c == 'h') {
			usage(stdout);
			return EXIT_OK;
		}
		if (r == -1)
			usage(stderr);
		return EXIT_USAGE;
	}
	return -1;
}

/* Connect to the control socket: an fd, or -1 with the exit code in *code
 * and the reason printed. */
static int
control_connect(int *code)
{
	struct timeval tv = { (time_t)arg_timeout, (long)((arg_timeout - floor(arg_timeout)) * 1e6) };
	char text[ADDR_STRLEN];
	const char *why = NULL;
	struct addr a;
	int fd;

	if ((size_t)snprintf(text, sizeof(text), "unix:%s", arg_socket) >= sizeof(text) ||
	    addr_parse(text, &a, &why) < 0 || a.type != ADDR_UNIX) {
		complain("bad control socket '%s': %s", arg_socket, why ? why : "not a Unix socket path");
		*code = EXIT_USAGE;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		complain("socket: %s", strerror(errno));
		*code = EXIT_FAIL;
		return -1;
	}
	/* A full listen backlog makes connect() wait; the send timeout
	 * bounds that wait on a Unix socket. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a.sa, a.len) == 0)
		return fd;
	switch (errno) {
	case ENOENT:
	case ECONNREFUSED:
		complain("sockd is not running (%s: %s)", arg_socket, strerror(errno));
		*code = EXIT_UNAVAILABLE;
		break;
	case EACCES:
	case EPERM:
		complain("permission denied on %s: root and members of its group may use it", arg_socket);
		*code = EXIT_NOPERM;
		break;
	case EAGAIN:
	case EINPROGRESS:
		complain("timeout: sockd did not accept within %g s (%s)", arg_timeout, arg_socket);
		*code = EXIT_TEMPFAIL;
		break;
	default:
		complain("cannot connect to %s: %s", arg_socket, strerror(errno));
		*code = EXIT_UNAVAILABLE;
		break;
	}
	close(fd);
	return -1;
}

/* Send one request line and read the JSON reply. 0 and *reply (the raw
 * text in *raw), or the exit code to leave with. */
static int
control_request(const char *request, struct json **reply, struct buf *raw)
{
	double deadline = now_mono() + arg_timeout;
	size_t len = strlen(request), off = 0, where = 0;
	int fd, code = EXIT_OK, r;

	fd = control_connect(&code);
	if (fd < 0)
		return code;
	while (off < len) {
		ssize_t n = send(fd, request + off, len - off, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		/* sockd answers a client it refuses (permission, busy) at
		 * once and closes: the reason is waiting to be read. */
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			break;
		if (n == -1) {
			complain("sending to %s: %s", arg_socket, strerror(errno));
			close(fd);
			return errno == EAGAIN ? EXIT_TEMPFAIL : EXIT_UNAVAILABLE;
		}
		off += (size_t)n;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char chunk[16384];
		ssize_t n;

		r = poll(&p, 1, ms_left(deadline));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0) {
			complain("timeout: no reply from sockd within %g s", arg_timeout);
			close(fd);
			return EXIT_TEMPFAIL;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		/* Closed with our request unread (a refusal): the reply came
		 * first, then the reset. */
		if (n == -1 && errno == ECONNRESET && raw->len > 0)
			break;
		if (n == -1) {
			complain("reading from %s: %s", arg_socket, strerror(errno));
			close(fd);
			return EXIT_UNAVAILABLE;
		}
		if (n == 0)
			break;
		buf_append(raw, chunk, (size_t)n);
		if (raw->len > REPLY_MAX || buf_status(raw) < 0) {
			complain("reply from sockd too large");
			close(fd);
			return EXIT_PROTOCOL;
		}
	}
	close(fd);
	if (raw->len == 0) {
		complain("sockd closed the connection without a reply");
		return EXIT_PROTOCOL;
	}
	r = json_parse(raw->data, raw->len, reply, &where);
	if (r < 0 || (*reply)->type != JSON_OBJECT) {
		if (r == 0)
			json_free(*reply);
		complain("cannot understand sockd's reply (byte %zu): %.80s", where, raw->data);
		return EXIT_PROTOCOL;
	}
	return EXIT_OK;
}

/* The exit code of a reply with "ok": false that is about the protocol,
 * not the command: permission, load. 0 when it is the command's own. */
static int
reply_failure(const struct json *reply)
{
	const char *err = json_get_string(reply, "error", "");

	if (json_get_bool(reply, "ok", false))
		return 0;
	if (strncmp(err, "permission denied", 17) == 0) {
		complain("%s", err);
		return EXIT_NOPERM;
	}
	if (strncmp(err, "busy", 4) == 0 || strncmp(err, "timeout", 7) == 0) {
		complain("%s", err);
		return EXIT_TEMPFAIL;
	}
	return 0;
}

/* The lines of reply's array key on stderr, each followed by suffix. */
static void
print_errors(const struct json *reply, const char *key, const char *suffix)
{
	const struct json *errs = json_get(reply, key);

	for (size_t i = 0; errs && errs->type == JSON_ARRAY && i < errs->n; i++)
		if (errs->items[i]->type == JSON_STRING)
			fprintf(stderr, "%s%s\n", errs->items[i]->string, suffix);
}

static int
run_command(const char *cmd, const char *arg)
{
	struct buf req = { 0 }, raw = { 0 }, out = { 0 };
	struct json *reply = NULL;
	struct status s;
	int code;

	buf_printf(&req, "%s%s%s\n", cmd, arg ? " " : "", arg ? arg : "");
	code = control_request(req.data, &reply, &raw);
	buf_free(&req);
	if (code != EXIT_OK)
		goto out;
	if (arg_json) {
		fwrite(raw.data, 1, raw.len, stdout);
		if (raw.data[raw.len - 1] != '\n')
			putchar('\n');
	}
	code = reply_failure(reply);
	if (code != EXIT_OK)
		goto out;
	if (!json_get_bool(reply, "ok", false)) {
		if (!arg_json) {
			complain("%s", json_get_string(reply, "error", "failed"));
			print_errors(reply, "errors", "");
		}
		code = EXIT_FAIL;
		goto out;
	}
	if (arg_json)
		goto out;

	if (strcmp(cmd, "status") == 0) {
		if (status_from_json(reply, &s) < 0) {
			complain("cannot understand sockd's status reply");
			code = EXIT_PROTOCOL;
			goto out;
		}
		status_table(&s, now_real(), &out);
		status_free(&s);
		fwrite(out.data, 1, out.len, stdout);
	} else if (strcmp(cmd, "reload") == 0) {
		printf("reloaded: %llu endpoints, %llu listeners, %llu workers\n",
		       json_get_uint(reply, "endpoints", 0), json_get_uint(reply, "listeners", 0),
		       json_get_uint(reply, "workers", 0));
	} else if (strcmp(cmd, "check") == 0) {
		print_errors(reply, "warnings", ", ignoring");
		printf("%s: ok (%llu endpoints)\n", json_get_string(reply, "file", "?"),
		       json_get_uint(reply, "endpoints", 0));
	} else if (strcmp(cmd, "stop") == 0) {
		printf("stopping\n");
	} else if (strcmp(cmd, "upgrade") == 0) {
		printf("upgraded: sockd pid %llu serves, pid %llu drains its connections\n",
		       json_get_uint(reply, "pid", 0), json_get_uint(reply, "old_pid", 0));
	}
out:
	json_free(reply);
	buf_free(&raw);
	buf_free(&out);
	return code;
}

/* sockd reads the file: make a relative name mean what it means here. */
static int
run_check(int argc, char **argv)
{
	char cwd[PATH_MAX];
	struct buf path = { 0 };
	int code;

	code = command_options(argc, argv);
	if (code >= 0)
		return code;
	argc -= optind - 1;
	argv += optind - 1;
	if (argc > 2) {
		complain("check takes at most one FILE");
		return EXIT_USAGE;
	}
	if (argc < 2)
		return run_command("check", NULL);
	if (argv[1][0] == '\0' || strchr(argv[1], '\n')) {
		complain("bad file name");
		return EXIT_USAGE;
	}
	if (argv[1][0] == '/') {
		buf_puts(&path, argv[1]);
	} else {
		if (!getcwd(cwd, sizeof(cwd))) {
			complain("getcwd: %s", strerror(errno));
			return EXIT_FAIL;
		}
		buf_printf(&path, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, argv[1]);
	}
	if (path.len + sizeof("check \n") > CONTROL_REQUEST_MAX) {
		complain("file name too long");
		buf_free(&path);
		return EXIT_USAGE;
	}
	code = run_command("check", path.data);
	buf_free(&path);
	return code;
}

/* ------------------------------------------------------------ probe */

struct probe {
	struct addr a;
	char text[ADDR_STRLEN];
	long count;
	long size;
	double interval;
	double timeout;
	bool stream;
	int fd;
	uint8_t *out;
	uint8_t *in;
	double *rtt;            /* ms, of the answered probes */
	long sent, received, errors;
};

static void
on_sigint(int sig)
{
	interrupted = 1;
}

/* The payload of probe seq: its number first, so a late datagram reply
 * is recognised, then a pattern that changes with seq. */
static void
fill_payload(uint8_t *p, long size, long seq)
{
	uint32_t s = (uint32_t)seq;

	for (long i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 31 + seq * 7 + (i >> 8));
	if (size >= 4)
		memcpy(p, &s, 4);
}

/* Connect with a deadline: 0, or -errno. */
static int
probe_connect(struct probe *pr)
{
	int fd = socket(addr_family(&pr->a), addr_socktype(&pr->a) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	double deadline = now_mono() + pr->timeout;
	socklen_t len;
	int err = 0;

	if (fd == -1)
		return -errno;
	if (pr->a.type == ADDR_UNIX_DGRAM) {
		/* Autobind an abstract name, so the echo has an address to
		 * answer (an unbound sender gets nothing). */
		sa_family_t fam = AF_UNIX;

		if (bind(fd, (struct sockaddr *)&fam, sizeof(fam)) == -1) {
			err = -errno;
			close(fd);
			return err;
		}
	}
	if (connect(fd, (struct sockaddr *)&pr->a.sa, pr->a.len) == -1) {
		if (errno != EINPROGRESS && errno != EAGAIN) {
			err = -errno;
			close(fd);
			return err;
		}
		for (;;) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int r = poll(&p, 1, ms_left(deadline));

			if (r == -1 && errno == EINTR && !interrupted)
				continue;
			if (r <= 0) {
				close(fd);
				return r == 0 ? -ETIMEDOUT : -EINTR;
			}
			break;
		}
		len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err) {
			close(fd);
			return -err;
		}
	}
	pr->fd = fd;
	return 0;
}

/* One round trip on a stream: write and read interleaved, so a large
 * payload cannot deadlock on full buffers. 0 or -errno (-EBADMSG: the
 * echo differs). */
static int
probe_stream_once(struct probe *pr, double deadline)
{
	long sent = 0, got = 0;

	while (got < pr->size) {
		struct pollfd p = { .fd = pr->fd, .events = POLLIN | (sent < pr->size ? POLLOUT : 0) };
		int r = poll(&p, 1, ms_left(deadline));
		ssize_t n;

		if (r == -1 && errno == EINTR && !interrupted)
			continue;
		if (r < 0)
			return -EINTR;
		if (r == 0)
			return -ETIMEDOUT;
		if ((p.revents & POLLOUT) && sent < pr->size) {
			n = send(pr->fd, pr->out + sent, (size_t)(pr->size - sent), MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				return -errno;
			if (n > 0)
				sent += n;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(pr->fd, pr->in + got, (size_t)(pr->size - got), 0);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				return -errno;
			if (n == 0)
				return -ECONNRESET;
			if (n > 0) {
				if (memcmp(pr->in + got, pr->out + got, (size_t)n) != 0)
					return -EBADMSG;
				got += n;
			}
		}
	}
	return 0;
}

/* One datagram and its reply; replies to earlier probes are skipped. */
static int
probe_dgram_once(struct probe *pr, double deadline)
{
	ssize_t n = send(pr->fd, pr->out, (size_t)pr->size, 0);

	if (n == -1)
		return -errno;
	for (;;) {
		struct pollfd p = { .fd = pr->fd, .events = POLLIN };
		int r = poll(&p, 1, ms_left(deadline));

		if (r == -1 && errno == EINTR && !interrupted)
			continue;
		if (r < 0)
			return -EINTR;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(pr->fd, pr->in, (size_t)pr->size + 1, 0);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1)
			return -errno;
		if (n == pr->size && memcmp(pr->in, pr->out, (size_t)n) == 0)
			return 0;
		if (pr->size >= 4 && n >= 4 && memcmp(pr->in, pr->out, 4) != 0)
			continue;       /* a late reply to an earlier probe */
		return -EBADMSG;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
probe_report(struct probe *pr, double elapsed)
{
	long lost = pr->sent - pr->received;
	double min = 0, max = 0, sum = 0, p99 = 0;

	if (pr->received > 0) {
		qsort(pr->rtt, (size_t)pr->received, sizeof(double), cmp_double);
		min = pr->rtt[0];
		max = pr->rtt[pr->received - 1];
		for (long i = 0; i < pr->received; i++)
			sum += pr->rtt[i];
		/* Nearest rank: the smallest value with 99 % at or below it. */
		p99 = pr->rtt[(long)ceil(0.99 * (double)pr->received) - 1];
	}
	if (arg_json) {
		struct buf b = { 0 };

		buf_puts(&b, "{\"address\":");
		buf_json_string(&b, pr->text);
		buf_printf(&b, ",\"size\":%ld,\"sent\":%ld,\"received\":%ld,\"errors\":%ld,\"time_ms\":%.3f",
			   pr->size, pr->sent, pr->received, pr->errors, elapsed * 1000);
		if (pr->received > 0)
			buf_printf(&b, ",\"rtt_ms\":{\"min\":%.3f,\"avg\":%.3f,\"max\":%.3f,\"p99\":%.3f}",
				   min, sum / (double)pr->received, max, p99);
		buf_puts(&b, "}\n");
		fwrite(b.data, 1, b.len, stdout);
		buf_free(&b);
		return;
	}
	printf("--- %s probe statistics ---\n", pr->text);
	printf("%ld sent, %ld received, %ld errors, %.0f%% loss, time %.0f ms\n", pr->sent, pr->received,
	       pr->errors, pr->sent ? 100.0 * (double)lost / (double)pr->sent : 0.0, elapsed * 1000);
	if (pr->received > 0)
		printf("rtt min/avg/max/p99 = %.3f/%.3f/%.3f/%.3f ms\n", min,
		       sum / (double)pr->received, max, p99);
}

static const char *
probe_strerror(int err)
{
	switch (-err) {
	case ETIMEDOUT:
		return "timeout";
	case EBADMSG:
		return "the reply differs from what was sent";
	case ECONNRESET:
		return "connection closed by the peer";
	default:
		return strerror(-err);
	}
}

static int
run_probe(int argc, char **argv)
{
	struct probe pr = {
		.count = PROBE_DEFAULT_COUNT, .size = PROBE_DEFAULT_SIZE,
		.interval = PROBE_DEFAULT_INTERVAL, .timeout = PROBE_DEFAULT_TIMEOUT, .fd = -1,
	};
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "json", no_argument, NULL, 'j' },     /* the global one, here too */
		{ NULL, 0, NULL, 0 },
	};
	const char *why = NULL, *address = NULL;
	double start, next;
	long cap;
	int c, code = EXIT_OK;

	optind = 0;     /* glibc: start over, forgetting main()'s "+" */
	/* glibc moves the operands behind the options: the address may come
	 * before or after them. */
	while ((c = getopt_long(argc, argv, "c:s:i:W:j", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			arg_json = true;
			break;
		case 'c':
			if (!parse_count(optarg, 0, 100000000, &pr.count)) {
				complain("probe: bad count '%s' (0 = until interrupted)", optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			if (!parse_count(optarg, 1, PROBE_SIZE_MAX, &pr.size)) {
				complain("probe: bad size '%s' (1..%d)", optarg, PROBE_SIZE_MAX);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			if (!parse_seconds(optarg, &pr.interval)) {
				complain("probe: bad interval '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'W':
			if (!parse_seconds(optarg, &pr.timeout) || pr.timeout <= 0) {
				complain("probe: bad timeout '%s'", optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		address = argv[optind++];
	if (optind < argc) {
		complain("probe: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (!address) {
		complain("probe: which ADDRESS? (tcp:HOST:PORT, udp:HOST:PORT, unix:/path, ...)");
		return EXIT_USAGE;
	}
	if (addr_parse(address, &pr.a, &why) < 0) {
		complain("probe: bad address '%s': %s", address, why);
		return EXIT_USAGE;
	}
	addr_format(&pr.a, pr.text, sizeof(pr.text));
	pr.stream = addr_is_stream(&pr.a);
	if (!pr.stream && pr.size > PROBE_DGRAM_MAX) {
		complain("probe: a datagram holds at most %d bytes", PROBE_DGRAM_MAX);
		return EXIT_USAGE;
	}
	cap = pr.count ? pr.count : 1024;
	pr.out = malloc((size_t)pr.size);
	pr.in = malloc((size_t)pr.size + 1);
	pr.rtt = malloc((size_t)cap * sizeof(double));
	if (!pr.out || !pr.in || !pr.rtt) {
		complain("out of memory");
		code = EXIT_FAIL;
		goto out;
	}
	signal(SIGINT, on_sigint);
	signal(SIGPIPE, SIG_IGN);

	if (!arg_json)
		printf("PROBE %s: %ld bytes%s\n", pr.text, pr.size, pr.stream ? ", one connection" : "");
	start = next = now_mono();
	for (long seq = 1; !interrupted && (pr.count == 0 || seq <= pr.count); seq++) {
		double t0, deadline;
		int r = 0;

		if (pr.fd < 0) {
			r = probe_connect(&pr);
			if (r < 0 && pr.sent == 0) {
				complain("cannot reach %s: %s", pr.text, probe_strerror(r));
				code = EXIT_UNAVAILABLE;
				goto out;
			}
		}
		fill_payload(pr.out, pr.size, seq);
		t0 = now_mono();
		deadline = t0 + pr.timeout;
		pr.sent++;
		if (r == 0)
			r = pr.stream ? probe_stream_once(&pr, deadline) : probe_dgram_once(&pr, deadline);
		if (interrupted && r == -EINTR) {
			pr.sent--;
			break;
		}
		if (r == 0) {
			double ms = (now_mono() - t0) * 1000;

			if (pr.received == cap) {
				double *v = realloc(pr.rtt, (size_t)cap * 2 * sizeof(double));

				if (!v) {
					complain("out of memory");
					code = EXIT_FAIL;
					goto out;
				}
				pr.rtt = v;
				cap *= 2;
			}
			pr.rtt[pr.received++] = ms;
			if (!arg_json)
				printf("%ld bytes from %s: seq=%ld time=%.3f ms\n", pr.size, pr.text,
				       seq, ms);
		} else {
			pr.errors++;
			if (!arg_json)
				printf("error from %s: seq=%ld: %s\n", pr.text, seq, probe_strerror(r));
			/* The stream's state is unknown now: start afresh. */
			if (pr.stream && pr.fd >= 0) {
				close(pr.fd);
				pr.fd = -1;
			}
		}
		fflush(stdout);
		next += pr.interval;
		if (pr.count && seq == pr.count)
			break;
		while (!interrupted && now_mono() < next) {
			double left = next - now_mono();
			struct timespec ts = { (time_t)left, (long)((left - floor(left)) * 1e9) };

			nanosleep(&ts, NULL);
		}
	}
	probe_report(&pr, now_mono() - start);
	code = pr.received == pr.sent && pr.sent > 0 ? EXIT_OK : EXIT_FAIL;
out:
	if (pr.fd >= 0)
		close(pr.fd);
	free(pr.out);
	free(pr.in);
	free(pr.rtt);
	return code;
}

/* ------------------------------------------------------------ main */

int
main(int argc, char **argv)
{
	const char *cmd;
	int c, code;

	/* "+": options end at the command, which reads the rest. */
	while ((c = getopt_long(argc, argv, "+S:jt:hV", global_opts, NULL)) != -1) {
		code = global_option(c, optarg);
		if (code == EXIT_USAGE)
			return code;
		if (code == EXIT_OK)
			continue;
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("sockctl %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		complain("no command given");
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	if (strcmp(cmd, "probe") == 0)
		return run_probe(argc, argv);
	if (strcmp(cmd, "check") == 0)
		return run_check(argc, argv);
	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "reload") == 0 || strcmp(cmd, "stop") == 0 ||
	    strcmp(cmd, "upgrade") == 0) {
		code = command_options(argc, argv);
		if (code >= 0)
			return code;
		if (optind < argc) {
			complain("%s takes no argument", cmd);
			return EXIT_USAGE;
		}
		return run_command(cmd, NULL);
	}
	complain("unknown command '%s' (status, reload, check, stop, upgrade, probe)", cmd);
	return EXIT_USAGE;
}
