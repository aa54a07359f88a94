/* inetd_parse() and xinetd_parse() read /etc/inetd.conf and xinetd.d files
 * that packages and operators write; a broken file must give records with
 * reasons, never a crash, a hang or a record that lies.
 *
 * Properties (inetd): every record has a line within the input, in file
 * order; a reason is one printable line; a usable record is complete and
 * consistent (protocol and family, hosts for IP only, an absolute server
 * or internal, argv[0] present); after inetd_resolve() with a fixed table
 * every usable IP record has a port; and the text of a usable record with
 * explicit hosts, parsed again alone, gives the same record.
 * (xinetd): every entry's lines are within the input and its closing line
 * after its opening one; a reason is one printable line; a usable service
 * has a socket type, a protocol that goes with it, a wait value and an id,
 * and xinetd_argv() works for it when it has a server.
 * (convert, both): whatever the input, the converter's translation prints
 * as text libconfig reads back, with one endpoint group for each endpoint
 * not written commented out. */
#include <errno.h>
#include <libconfig.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "convert.h"
#include "fuzz.h"
#include "inetd_parse.h"
#include "xinetd_parse.h"

static unsigned
count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 0;

	for (size_t i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size > 0 && data[size - 1] != '\n');
}

static bool
one_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static int
fixed_lookup(const char *name, const char *proto, void *ctx)
{
	(void)ctx;
	if (strcmp(name, "echo") == 0 || strcmp(name, "finger") == 0)
		return strcmp(proto, "tcp") == 0 ? 7 : 9;
	return -ENOENT;
}

static bool
strv_equal(const struct strv *a, const struct strv *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

static bool
str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void
check_inetd_rec(const struct inetd_rec *r, unsigned lines)
{
	FUZZ_ASSERT(r->line >= 1 && r->line <= lines);
	FUZZ_ASSERT(r->text == NULL || strchr(r->text, '\n') == NULL);
	if (r->reason) {
		FUZZ_ASSERT(*r->reason && one_line(r->reason));
		return;
	}
	FUZZ_ASSERT(r->text && r->service && *r->service && r->protocol && r->user && *r->user);
	FUZZ_ASSERT(r->group == NULL || *r->group);
	FUZZ_ASSERT(r->socktype == SOCK_STREAM || r->socktype == SOCK_DGRAM ||
		    r->socktype == SOCK_SEQPACKET);
	FUZZ_ASSERT(r->sndbuf >= 0 && r->rcvbuf >= 0);
	if (r->proto == INETD_PROTO_UNIX) {
		FUZZ_ASSERT(r->family == INETD_FAMILY_UNIX && r->hosts.n == 0);
		FUZZ_ASSERT(r->service[0] == '/' && !r->internal);
	} else {
		FUZZ_ASSERT(r->family != INETD_FAMILY_UNIX && r->hosts.n >= 1);
		FUZZ_ASSERT(r->socktype == (r->proto == INETD_PROTO_TCP ? SOCK_STREAM : SOCK_DGRAM));
		for (size_t i = 0; i < r->hosts.n; i++)
			FUZZ_ASSERT(*r->hosts.v[i]);
	}
	if (r->internal) {
		FUZZ_ASSERT(r->server == NULL && r->argv.n == 0);
	} else {
		FUZZ_ASSERT(r->server && r->server[0] == '/');
		FUZZ_ASSERT(r->argv.n >= 1 && r->argv.n <= INETD_ARGV_MAX + 1);
		FUZZ_ASSERT(r->argv.v[r->argv.n] == NULL);
	}
}

/* The record's own text, alone, reads back the same. */
static void
check_round_trip(const struct inetd_rec *r)
{
	struct inetd_conf again = { 0 };
	const struct inetd_rec *q;

	if (r->reason || (r->hosts_default && !(r->hosts.n == 1 &&
	    strcmp(r->hosts.v[0], "*") == 0)))
		return;
	FUZZ_ASSERT(inetd_parse(&again, "again", r->text, strlen(r->text)) == 0);
	FUZZ_ASSERT(again.n == 1);
	q = &again.recs[0];
	if (q->reason) {
		fprintf(stderr, "'%s' parsed, but alone: %s\n", r->text, q->reason);
		abort();
	}
	FUZZ_ASSERT(strcmp(q->service, r->service) == 0 && strv_equal(&q->hosts, &r->hosts));
	FUZZ_ASSERT(q->socktype == r->socktype && q->proto == r->proto && q->family == r->family);
	FUZZ_ASSERT(q->sndbuf == r->sndbuf && q->rcvbuf == r->rcvbuf);
	FUZZ_ASSERT(q->wait == r->wait && q->max == r->max && q->internal == r->internal);
	FUZZ_ASSERT(strcmp(q->user, r->user) == 0 && str_equal(q->group, r->group));
	FUZZ_ASSERT(str_equal(q->server, r->server) && strv_equal(&q->argv, &r->argv));
	inetd_conf_free(&again);
}

/* The converter's output of o reads back through libconfig. */
static void
check_converted(struct conv_out *o)
{
	size_t len = 0, on = 0;
	char *out = NULL;
	FILE *f = open_memstream(&out, &len);
	const config_setting_t *eps;
	config_t lc;

	FUZZ_ASSERT(!o->nomem && f);
	FUZZ_ASSERT(conv_print(f, o, "fuzz\ntitle") == 0);
	fclose(f);
	for (size_t i = 0; i < o->n; i++)
		on += !o->eps[i].off;
	config_init(&lc);
	if (!config_read_string(&lc, out)) {
		fprintf(stderr, "line %d: %s\n%s\n", config_error_line(&lc), config_error_text(&lc), out);
		abort();
	}
	eps = config_lookup(&lc, "endpoints");
	FUZZ_ASSERT(eps && config_setting_length(eps) == (int)on);
	config_destroy(&lc);
	free(out);
	conv_free(o);
}

static void
fuzz_inetd(const char *text, size_t size, unsigned lines)
{
	struct inetd_conf c = { 0 };

	FUZZ_ASSERT(inetd_parse(&c, "fuzz.conf", text, size) == 0);
	for (size_t i = 0; i < c.n; i++) {
		check_inetd_rec(&c.recs[i], lines);
		if (i > 0)
			FUZZ_ASSERT(c.recs[i].line > c.recs[i - 1].line);
		check_round_trip(&c.recs[i]);
	}
	FUZZ_ASSERT(inetd_resolve(&c, fixed_lookup, NULL) == 0);
	for (size_t i = 0; i < c.n; i++) {
		const struct inetd_rec *r = &c.recs[i];

		check_inetd_rec(r, lines);
		if (!r->reason && r->proto != INETD_PROTO_UNIX)
			FUZZ_ASSERT(r->port >= 1);
	}
	{
		struct conv_out o = { 0 };

		inetd_convert(&c, &o);
		check_converted(&o);
	}
	inetd_conf_free(&c);
	FUZZ_ASSERT(c.n == 0 && c.recs == NULL);
}

static void
fuzz_xinetd(const char *text, size_t size, unsigned lines)
{
	struct xinetd_conf c = { 0 };
	struct strv argv = { 0 };

	FUZZ_ASSERT(xinetd_parse(&c, "fuzz.d", text, size) == 0);
	FUZZ_ASSERT(xinetd_resolve(&c, fixed_lookup, NULL) == 0);
	for (size_t i = 0; i < c.n; i++) {
		const struct xinetd_entry *e = &c.entries[i];

		FUZZ_ASSERT(e->line >= 1 && e->line <= lines);
		FUZZ_ASSERT(e->end_line == 0 || (e->end_line >= e->line && e->end_line <= lines));
		for (size_t j = 0; j < e->n_notes; j++)
			FUZZ_ASSERT(one_line(e->notes[j].msg));
		for (size_t j = 0; j < e->n_extra; j++)
			FUZZ_ASSERT(e->extra[j].line > e->line && e->extra[j].line <= lines);
		if (e->reason) {
			FUZZ_ASSERT(*e->reason && one_line(e->reason));
			FUZZ_ASSERT(e->reason_line >= 1 && e->reason_line <= lines);
			continue;
		}
		if (e->kind != XINETD_SERVICE)
			continue;
		FUZZ_ASSERT(e->name && e->id && e->wait >= 0 && e->protocol);
		FUZZ_ASSERT((e->socktype == SOCK_STREAM && strcmp(e->protocol, "tcp") == 0) ||
			    (e->socktype == SOCK_DGRAM && strcmp(e->protocol, "udp") == 0));
		if (!(e->type & XINETD_TYPE_UNLISTED) || e->port)
			FUZZ_ASSERT(e->port >= 1 && e->port <= 65535);
		if (e->server)
			FUZZ_ASSERT(xinetd_argv(e, &argv) == 0 && argv.n >= 1);
		else
			FUZZ_ASSERT(xinetd_argv(e, &argv) == -EINVAL);
	}
	strv_free(&argv);
	{
		struct conv_out o = { 0 };

		xinetd_convert(&c, &o);
		check_converted(&o);
	}
	xinetd_conf_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly size bytes: the parsers take a length, not a string. */
	char *text = malloc(size ? size : 1);
	unsigned lines = count_lines(data, size);

	memcpy(text, data, size);
	fuzz_inetd(text, size, lines);
	fuzz_xinetd(text, size, lines);
	free(text);
	return 0;
}
