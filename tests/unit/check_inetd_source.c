/* inetd.conf records -> endpoint groups (inetd_source.c): every line form
 * of tests/unit/data/inetd-forms.conf, as the loader will see it. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inetd_source.h"

static const char *
srcdir(void)
{
	const char *d = getenv("top_srcdir");

	return d && *d ? d : UNIT_TOP_SRCDIR;
}

static void __attribute__((format(printf, 3, 4)))
add(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

static void
dump_value(char *buf, size_t size, const struct cval *v)
{
	switch (v->type) {
	case CVAL_STRING:
		add(buf, size, "'%s'", v->s);
		break;
	case CVAL_INT:
		add(buf, size, "%lld", v->i);
		break;
	case CVAL_FLOAT:
		add(buf, size, "%.4f", v->f);
		break;
	case CVAL_BOOL:
		add(buf, size, "%s", v->b ? "true" : "false");
		break;
	default:
		add(buf, size, "[");
		for (size_t i = 0; i < v->n; i++) {
			add(buf, size, "%s", i ? "," : "");
			dump_value(buf, size, &v->elems[i]);
		}
		add(buf, size, "]");
		break;
	}
}

/* One line per record: its line, then each key, or why it is skipped. */
static const char *
dump(const struct inetd_rec *r)
{
	static char buf[8192];
	struct inetd_endpoint e = { 0 };
	char name[65], *reason = NULL;
	int rc;

	buf[0] = '\0';
	inetd_endpoint_name(r, name, sizeof(name));
	rc = inetd_endpoint_make(r, name, &e, &reason);
	ck_assert_int_ge(rc, 0);
	add(buf, sizeof(buf), "%u", r->line);
	if (rc == 1) {
		ck_assert_ptr_nonnull(reason);
		ck_assert_uint_eq(e.group.n, 0);
		add(buf, sizeof(buf), " skip: %s", reason);
		free(reason);
		return buf;
	}
	ck_assert_ptr_null(reason);
	ck_assert_int_eq(e.group.type, CVAL_GROUP);
	for (size_t i = 0; i < e.group.n; i++) {
		const struct cval *v = &e.group.elems[i];

		/* Every value carries the record's place, for file:line errors. */
		ck_assert_str_eq(v->file, r->file);
		ck_assert_int_eq(v->line, (int)r->line);
		add(buf, sizeof(buf), " %s=", v->name);
		dump_value(buf, sizeof(buf), v);
	}
	for (size_t i = 0; i < e.notes.n; i++)
		add(buf, sizeof(buf), " (note: %s)", e.notes.v[i]);
	inetd_endpoint_free(&e);
	ck_assert_uint_eq(e.group.n, 0);
	return buf;
}

static int
fake_lookup(const char *name, const char *proto, void *ctx)
{
	static const struct {
		const char *name, *proto;
		int port;
	} tab[] = {
		{ "echo", "tcp", 7 }, { "echo", "udp", 7 }, { "discard", "tcp", 9 },
		{ "daytime", "tcp", 13 }, { "time", "udp", 37 }, { "chargen", "tcp", 19 },
		{ "finger", "tcp", 79 }, { "ident", "udp", 113 }, { "tftp", "udp", 69 },
		{ "continued", "tcp", 4000 }, { "telnet", "tcp", 23 },
	};

	(void)ctx;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].name, name) == 0 && strcmp(tab[i].proto, proto) == 0)
			return tab[i].port;
	return -ENOENT;
}

static void
load(struct inetd_conf *c, const char *name, char **text)
{
	char path[4096];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/tests/unit/data/%s", srcdir(), name);
	r = textconf_read(path, text, &len);
	ck_assert_msg(r == 0, "read %s: %s", path, strerror(-r));
	ck_assert_int_eq(inetd_parse(c, name, *text, len), 0);
	ck_assert_int_eq(inetd_resolve(c, fake_lookup, NULL), 0);
}

/* Without the exec-modes and socket-option keys in this build: see
 * HAVE_EXEC_MODES and HAVE_SOCKBUF in inetd_source.c. */
static const char *const want[] = {
	"3 name='echo/tcp' listen=['tcp:0.0.0.0:7','tcp:[::]:7'] v6only=true service='echo'",
	"4 name='echo/udp' listen=['udp:0.0.0.0:7','udp:[::]:7'] v6only=true service='echo'",
	"5 name='discard/tcp6' listen=['tcp:[::]:9'] v6only=true service='discard'",
	"6 name='daytime/tcp4' listen=['tcp:0.0.0.0:13'] service='daytime'",
	"7 name='time/udp46' listen=['udp:[::]:37'] service='time'",
	"8 name='chargen/tcp46' listen=['tcp:[::]:19'] service='chargen' rate=0.8333 burst=50",
	"9 skip: argv[0] '/usr/sbin/in.fingerd' apart from the program '/usr/sbin/tcpd' is "
	"not supported by this sockd",
	"10 name='2000/tcp6' listen=['tcp:[::1]:2000'] v6only=true service='exec' "
	"command=['/bin/cat','-u'] user='nobody:nogroup' rate=0.1667 burst=10 (note: "
	"sndbuf=65536 is not supported by this sockd, ignored) (note: rcvbuf=1048576 is not "
	"supported by this sockd, ignored)",
	"12 skip: wait services are not supported by this sockd",
	"13 skip: wait services are not supported by this sockd",
	"15 name='echo.sock/unix' listen=['unix:/run/sockd-test/echo.sock'] service='exec' "
	"command=['/bin/cat'] user='root'",
	"16 name='x_y.sock/unix' listen=['unix-seqpacket:/run/x:y.sock'] service='exec' "
	"command=['/bin/cat'] user='root' (note: rcvbuf=4096 is not supported by this sockd, "
	"ignored)",
	"17 skip: wait services are not supported by this sockd",
	"18 name='7000/tcp' "
	"listen=['tcp:127.0.0.1:7000','tcp:[::1]:7000','tcp:localhost:7000'] v6only=true "
	"service='exec' command=['/bin/true'] user='root'",
	"19 name='7001/tcp' listen=['tcp:127.0.0.1:7001'] service='exec' "
	"command=['/bin/true'] user='root'",
	"20 skip: wait services are not supported by this sockd",
	"21 name='continued/tcp' listen=['tcp:0.0.0.0:4000','tcp:[::]:4000'] v6only=true "
	"service='exec' command=['/usr/bin/prog','-a','-b'] user='root'",
	"24 skip: argv[0] '/usr/sbin/in.telnetd' apart from the program '/usr/sbin/tcpd' is "
	"not supported by this sockd",
	"30 skip: RPC services are not supported ('rstatd/1-3' 'rpc/udp')",
	"31 skip: tcpmux services are not supported ('tcpmux/+scanner')",
	"32 skip: tcpmux services are not supported ('tcpmux')",
	"33 skip: expected at least 6 fields (service, socket type, protocol, wait, user, "
	"server), found 5",
	"34 skip: socket type 'raw' is not supported (stream, dgram or seqpacket)",
	"35 skip: unknown protocol 'sctp' (tcp, udp, tcp4, tcp6, tcp46, udp4, udp6, udp46 or "
	"unix)",
	"36 skip: protocol 'tcp' needs socket type stream",
	"37 skip: invalid buffer size '0' (1 to 2147483647 bytes, with k or m)",
	"38 skip: sndbuf given twice",
	"39 skip: unknown protocol option 'nodelay' (sndbuf=N or rcvbuf=N)",
	"40 skip: expected wait or nowait[.max], not 'nowiat'",
	"41 skip: invalid count '0' after 'nowait.' (1 to 2147483647)",
	"42 skip: invalid user 'root:' (user, user:group or user.group)",
	"43 skip: server program 'in.fingerd' is not an absolute path",
	"44 skip: no internal service 'whois' (echo, discard, chargen, daytime or time)",
	"45 skip: port '0' is out of range (1 to 65535)",
	"46 skip: port '65536' is out of range (1 to 65535)",
	"47 skip: unix socket path 'relative.sock' is not absolute",
	"48 skip: internal services need tcp or udp, not unix",
	"49 skip: invalid address '' (an IP address, a host name or *)",
	"50 skip: invalid address 'bad/host' (an IP address, a host name or *)",
	"51 skip: the default address set at line 50 is invalid",
	"52 name='daytime/tcp6' listen=['tcp:[::1]:13'] v6only=true service='daytime'",
	"54 skip: expected at least 6 fields (service, socket type, protocol, wait, user, "
	"server), found 3",
	"55 skip: unknown service 'no-such-service/tcp' (not in /etc/services)",
	"56 skip: more than 64 arguments",
	"57 name='7002/tcp' listen=['tcp:0.0.0.0:7002','tcp:[::]:7002'] v6only=true "
	"service='exec' command=['/bin/true'] user='first.last:staff'",
};

START_TEST(every_line_form)
{
	struct inetd_conf c = { 0 };
	char *text;

	load(&c, "inetd-forms.conf", &text);
	for (size_t i = 0; i < c.n && i < sizeof(want) / sizeof(want[0]); i++) {
		if (getenv("DUMP"))
			printf("\t\"%s\",\n", dump(&c.recs[i]));
		else
			ck_assert_msg(strcmp(dump(&c.recs[i]), want[i]) == 0,
			    "record %zu:\n  got  %s\n  want %s", i, dump(&c.recs[i]), want[i]);
	}
	ck_assert_uint_eq(c.n, sizeof(want) / sizeof(want[0]));
	inetd_conf_free(&c);
	free(text);
}
END_TEST

START_TEST(names)
{
	struct inetd_rec r = { .service = "finger", .protocol = "tcp", .proto = INETD_PROTO_TCP };
	char buf[65];

	inetd_endpoint_name(&r, buf, sizeof(buf));
	ck_assert_str_eq(buf, "finger/tcp");
	r.service = "/run/sockd/my app.sock";
	r.protocol = "unix";
	r.proto = INETD_PROTO_UNIX;
	inetd_endpoint_name(&r, buf, sizeof(buf));
	ck_assert_str_eq(buf, "my_app.sock/unix");
	/* A long service name gives way to the protocol. */
	r.service = "a123456789b123456789c123456789d123456789e123456789f123456789g123456789";
	r.protocol = "tcp46";
	r.proto = INETD_PROTO_TCP;
	inetd_endpoint_name(&r, buf, sizeof(buf));
	ck_assert_uint_le(strlen(buf), 64);
	ck_assert_str_eq(buf + strlen(buf) - 6, "/tcp46");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("inetd_source");
	TCase *tc = tcase_create("translate");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, every_line_form);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
