/* xinetd.conf / xinetd.d parser: Debian's shipped files, hand-made files
 * with several services, '+=' and '-=', defaults, broken entries, hostile
 * bytes and the size bound. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "xinetd_parse.h"

static const char *
srcdir(void)
{
	const char *d = getenv("top_srcdir");

	/* make check exports top_srcdir; run by hand (or under valgrind by
	 * .ci/valgrind) the test still finds its files in the source tree. */
	return d && *d ? d : UNIT_TOP_SRCDIR;
}

static void
load(struct xinetd_conf *c, const char *name)
{
	char path[4096], *text;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/tests/unit/data/%s", srcdir(), name);
	r = textconf_read(path, &text, &len);
	ck_assert_msg(r == 0, "read %s: %s", path, strerror(-r));
	ck_assert_int_eq(xinetd_parse(c, name, text, len), 0);
	free(text);
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
add_list(char *buf, size_t size, const char *name, const struct strv *sv)
{
	add(buf, size, " %s=[", name);
	for (size_t i = 0; i < sv->n; i++)
		add(buf, size, "%s%s", i ? " " : "", sv->v[i]);
	add(buf, size, "]");
}

static void
add_limit(char *buf, size_t size, const char *name, long v)
{
	if (v == XINETD_UNLIMITED)
		add(buf, size, " %s=UNLIMITED", name);
	else if (v != XINETD_UNSET)
		add(buf, size, " %s=%ld", name, v);
}

static const char *const kinds[] = { "service", "defaults", "include", "includedir", "bad" };

/* One line per entry with every field the converter would use. */
static const char *
dump(const struct xinetd_entry *e)
{
	static char buf[8192];
	struct strv argv = { 0 };

	buf[0] = '\0';
	add(buf, sizeof(buf), "%s:%u-%u %s", e->file, e->line, e->end_line, kinds[e->kind]);
	if (e->name)
		add(buf, sizeof(buf), " %s", e->name);
	if (e->kind == XINETD_SERVICE)
		add(buf, sizeof(buf), " id=%s", e->id);
	if (e->disabled)
		add(buf, sizeof(buf), " off");
	if (e->reason)
		add(buf, sizeof(buf), " skip@%u: %s", e->reason_line, e->reason);
	for (size_t i = 0; i < e->n_notes; i++)
		add(buf, sizeof(buf), " note@%u: %s;", e->notes[i].line, e->notes[i].msg);
	for (size_t i = 0; i < e->n_extra; i++) {
		const struct xinetd_attr *a = &e->extra[i];

		add(buf, sizeof(buf), " extra@%u%s: %s %s", a->line, a->known ? "" : "(unknown)",
		    a->name, xinetd_op_name(a->op));
		for (size_t j = 0; j < a->values.n; j++)
			add(buf, sizeof(buf), " %s", a->values.v[j]);
		add(buf, sizeof(buf), ";");
	}
	if (e->reason || e->kind != XINETD_SERVICE) {
		if (e->kind == XINETD_DEFAULTS && !e->reason) {
			add_list(buf, sizeof(buf), "only_from", &e->only_from);
			add_list(buf, sizeof(buf), "disabled", &e->disabled_ids);
			add(buf, sizeof(buf), " los=%#x", e->log_on_success);
			add_limit(buf, sizeof(buf), "instances", e->instances);
		}
		return buf;
	}
	if (e->type)
		add(buf, sizeof(buf), " type=%#x", e->type);
	if (e->flags)
		add(buf, sizeof(buf), " flags=%#x", e->flags);
	add(buf, sizeof(buf), " %s/%s port=%u wait=%d", e->socktype == SOCK_STREAM ? "stream" :
	    "dgram", e->protocol, e->port, e->wait);
	if (e->user)
		add(buf, sizeof(buf), " user=%s", e->user);
	if (e->group)
		add(buf, sizeof(buf), " group=%s", e->group);
	if (e->server) {
		ck_assert_int_eq(xinetd_argv(e, &argv), 0);
		add(buf, sizeof(buf), " server=%s", e->server);
		add_list(buf, sizeof(buf), "argv", &argv);
		strv_free(&argv);
	}
	if (e->bind)
		add(buf, sizeof(buf), " bind=%s", e->bind);
	if (e->has_only_from)
		add_list(buf, sizeof(buf), "only_from", &e->only_from);
	if (e->no_access.n)
		add_list(buf, sizeof(buf), "no_access", &e->no_access);
	add_limit(buf, sizeof(buf), "instances", e->instances);
	add_limit(buf, sizeof(buf), "per_source", e->per_source);
	if (e->has_cps)
		add(buf, sizeof(buf), " cps=%u/%u", e->cps_max, e->cps_wait);
	if (e->env.n)
		add_list(buf, sizeof(buf), "env", &e->env);
	if (e->has_passenv)
		add_list(buf, sizeof(buf), "passenv", &e->passenv);
	if (e->log_on_success)
		add(buf, sizeof(buf), " los=%#x", e->log_on_success);
	if (e->log_on_failure)
		add(buf, sizeof(buf), " lof=%#x", e->log_on_failure);
	if (e->redirect_host)
		add(buf, sizeof(buf), " redirect=%s:%s", e->redirect_host, e->redirect_port);
	return buf;
}

static void
expect(const struct xinetd_conf *c, const char *const *want, size_t n)
{
	for (size_t i = 0; i < c->n && i < n; i++)
		ck_assert_msg(strcmp(dump(&c->entries[i]), want[i]) == 0,
			      "entry %zu:\n  got  %s\n  want %s", i, dump(&c->entries[i]), want[i]);
	ck_assert_uint_eq(c->n, n);
}

static int
fake_lookup(const char *name, const char *proto, void *ctx)
{
	static const struct {
		const char *name, *proto;
		int port;
	} tab[] = {
		{ "finger", "tcp", 79 }, { "tftp", "udp", 69 }, { "rsync", "tcp", 873 },
		{ "daytime", "tcp", 13 },
	};

	(void)ctx;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].name, name) == 0 && strcmp(tab[i].proto, proto) == 0)
			return tab[i].port;
	return -ENOENT;
}

START_TEST(hand_made)
{
	static const char *const want[] = {
		"xinetd-hand/xinetd.conf:2-15 defaults note@14: attribute 'nice' does not belong "
		"in defaults; ignored; extra@4: log_type = SYSLOG daemon info; only_from=[127.0.0.0/8 "
		"10.0.0.0/8] disabled=[rsync] los=0xb instances=30",
		"xinetd-hand/xinetd.conf:17-0 includedir /etc/xinetd.d",
		"xinetd-hand/xinetd.conf:18-0 include /etc/xinetd.extra",
		"xinetd-hand/services:3-24 service finger id=finger note@22: attribute 'user' "
		"already set; ignored; note@23: attribute 'wait' already set; ignored; extra@10: "
		"flags = KEEPALIVE; extra@20: nice = 10; extra@21(unknown): frobnicate = yes please; "
		"flags=0xb stream/tcp port=79 wait=0 user=nobody server=/usr/sbin/tcpd "
		"argv=[/usr/sbin/in.fingerd -w] bind=127.0.0.1 only_from=[127.0.0.0/8 192.168.0.0/16] "
		"instances=UNLIMITED per_source=5 cps=25/30 env=[LANG=C TZ=UTC HOME=/nonexistent] "
		"passenv=[] los=0x9 lof=0x42",
		"xinetd-hand/services:26-37 service tftp id=tftp dgram/udp port=69 wait=1 user=root "
		"server=/usr/sbin/in.tftpd argv=[in.tftpd -s /srv/tftp] bind=::1 "
		"only_from=[127.0.0.0/8 10.0.0.0/8] instances=30 per_source=11 cps=25/30 "
		"passenv=[PATH] los=0xb",
		"xinetd-hand/services:39-46 service rsync id=rsync off stream/tcp port=873 wait=0 "
		"user=root server=/usr/bin/rsync argv=[rsync --daemon] only_from=[127.0.0.0/8 "
		"10.0.0.0/8] instances=30 per_source=5 cps=25/30 passenv=[PATH] los=0xb",
		"xinetd-hand/services:48-57 service webfwd id=webfwd type=0x2 stream/tcp port=8080 "
		"wait=0 only_from=[127.0.0.0/8 10.0.0.0/8] no_access=[10.0.0.9] instances=30 "
		"per_source=5 cps=100/5 passenv=[PATH] los=0xb redirect=10.0.0.5:80",
		"xinetd-hand/services:59-65 service broken id=broken skip@62: bad value 'maybe' for "
		"wait (yes or no)",
		"xinetd-hand/services:67-70 service nospace id=nospace skip@69: attribute "
		"'socket_type' needs a blank before '='",
		"xinetd-hand/services:72-77 service rpcthing id=rpcthing skip@74: RPC services are "
		"not supported",
		"xinetd-hand/services:79-81 service echo id=echo skip@80: expected '{' alone on the "
		"line after 'service' note@79: words after 'service echo' ignored;",
		"xinetd-hand/services:83-87 bad skip@83: expected service, defaults, include or "
		"includedir, not 'stray' (lines up to the next '}' are skipped, as xinetd does)",
		"xinetd-hand/services:89-96 service unlisted-noport id=unlisted-noport skip@96: an "
		"UNLISTED service needs a port",
		"xinetd-hand/services:98-104 service daytime id=daytime skip@98: port 14 differs "
		"from 13, the port of 'daytime/tcp' in /etc/services",
		"xinetd-hand/services:106-0 service noclose id=noclose skip@106: no '}' before the "
		"end of the file",
	};
	struct xinetd_conf c = { 0 };

	load(&c, "xinetd-hand/xinetd.conf");
	load(&c, "xinetd-hand/services");
	ck_assert_int_eq(xinetd_resolve(&c, fake_lookup, NULL), 0);
	expect(&c, want, sizeof(want) / sizeof(want[0]));
	xinetd_conf_free(&c);
}
END_TEST

/* Debian's xinetd 2.3.15.3 package: xinetd.conf and every shipped
 * /etc/xinetd.d file, in xinetd's includedir order, resolved through the
 * host's /etc/services (netbase). */
START_TEST(debian_files)
{
	static const char *const files[] = {
		"xinetd.conf", "xinetd.d/chargen", "xinetd.d/chargen-udp", "xinetd.d/daytime",
		"xinetd.d/daytime-udp", "xinetd.d/discard", "xinetd.d/discard-udp",
		"xinetd.d/echo", "xinetd.d/echo-udp", "xinetd.d/servers", "xinetd.d/services",
		"xinetd.d/time", "xinetd.d/time-udp",
	};
	static const char *const want[] = {
		"xinetd-debian/xinetd.conf:5-12 defaults only_from=[] disabled=[] los=0",
		"xinetd-debian/xinetd.conf:14-0 includedir /etc/xinetd.d",
		"xinetd-debian/xinetd.d/chargen:7-16 service chargen id=chargen-stream off type=0x1 stream/tcp port=19 wait=0 user=root",
		"xinetd-debian/xinetd.d/chargen:19-28 service chargen id=chargen-dgram off type=0x1 dgram/udp port=19 wait=1 user=root",
		"xinetd-debian/xinetd.d/chargen-udp:4-14 service chargen id=chargen-dgram off type=0x3 dgram/udp port=19 wait=1 user=root",
		"xinetd-debian/xinetd.d/daytime:5-14 service daytime id=daytime-stream off type=0x1 stream/tcp port=13 wait=0 user=root",
		"xinetd-debian/xinetd.d/daytime:17-26 service daytime id=daytime-dgram off type=0x1 dgram/udp port=13 wait=1 user=root",
		"xinetd-debian/xinetd.d/daytime-udp:4-14 service daytime id=daytime-dgram off type=0x3 dgram/udp port=13 wait=1 user=root",
		"xinetd-debian/xinetd.d/discard:4-13 service discard id=discard-stream off type=0x1 stream/tcp port=9 wait=0 user=root",
		"xinetd-debian/xinetd.d/discard:16-25 service discard id=discard-dgram off type=0x1 dgram/udp port=9 wait=1 user=root",
		"xinetd-debian/xinetd.d/discard-udp:4-14 service discard id=discard-dgram off type=0x3 dgram/udp port=9 wait=1 user=root",
		"xinetd-debian/xinetd.d/echo:5-14 service echo id=echo-stream off type=0x1 stream/tcp port=7 wait=0 user=root",
		"xinetd-debian/xinetd.d/echo:17-26 service echo id=echo-dgram off type=0x1 dgram/udp port=7 wait=1 user=root",
		"xinetd-debian/xinetd.d/echo-udp:4-14 service echo id=echo-dgram off type=0x3 dgram/udp port=7 wait=1 user=root",
		"xinetd-debian/xinetd.d/servers:4-13 service servers id=servers off skip@13: no internal service 'servers' (echo, discard, chargen, daytime or time)",
		"xinetd-debian/xinetd.d/services:4-13 service services id=services off skip@13: no internal service 'services' (echo, discard, chargen, daytime or time)",
		"xinetd-debian/xinetd.d/time:7-16 service time id=time-stream off type=0x1 stream/tcp port=37 wait=0 user=root",
		"xinetd-debian/xinetd.d/time:19-28 service time id=time-dgram off type=0x1 dgram/udp port=37 wait=1 user=root",
		"xinetd-debian/xinetd.d/time-udp:4-14 service time id=time-dgram off type=0x3 dgram/udp port=37 wait=1 user=root",
	};
	struct xinetd_conf c = { 0 };
	char name[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(name, sizeof(name), "xinetd-debian/%s", files[i]);
		load(&c, name);
	}
	ck_assert_int_eq(xinetd_resolve(&c, NULL, NULL), 0);
	expect(&c, want, sizeof(want) / sizeof(want[0]));
	xinetd_conf_free(&c);
}
END_TEST

static void
parse_str(struct xinetd_conf *c, const char *text, size_t len)
{
	ck_assert_int_eq(xinetd_parse(c, "t", text, len), 0);
}

/* A defaults entry with a bad value leaves every later service unusable:
 * its access rules would be missing. A second defaults entry is ignored. */
START_TEST(broken_defaults)
{
	static const char text[] =
		"defaults\n{\n\tonly_from = 10.0.0.1,10.0.0.2\n\tfoo = bar\n}\n"
		"defaults\n{\n\tinstances = 5\n}\n"
		"service echo\n{\n\ttype = INTERNAL\n\tsocket_type = stream\n\twait = no\n}\n";
	static const char *const want[] = {
		"t:1-5 defaults skip@3: address '10.0.0.1,10.0.0.2' has a comma in it",
		"t:6-9 defaults skip@6: only one defaults entry is allowed (the first is at t:1); "
		"this one is ignored",
		"t:10-15 service echo id=echo skip@10: the defaults entry at t:1 is invalid",
	};
	struct xinetd_conf c = { 0 };

	parse_str(&c, text, sizeof(text) - 1);
	expect(&c, want, sizeof(want) / sizeof(want[0]));
	xinetd_conf_free(&c);
}
END_TEST

START_TEST(values_and_operators)
{
	static const char text[] =
		"service a\n{\n\tenv -= X=1\n}\n"
		"service b\n{\n\tlog_on_success = PID NOPE\n}\n"
		"service c\n{\n\tflags = NODELAY SPEEDY\n}\n"
		"service d\n{\n\tsocket_type = stream\n\twait = no\n\tserver = /bin/x\n}\n"
		"service e\n{\n\tsocket_type = stream\n\tprotocol = udp\n\twait = no\n}\n"
		"service f\n{\n\tsocket_type = stream\n\twait = no\n\tuser = u\n"
		"\tserver = /bin/x\n\tflags = NAMEINARGS\n\tcps = 5\n\tport = 0\n}\n"
		"includedir\n"
		"}\n";
	static const char *const want[] = {
		"t:1-4 service a id=a skip@3: operator '-=' is not supported for env",
		"t:5-8 service b id=b skip@7: bad log_on_success flag 'NOPE'",
		"t:9-12 service c id=c skip@11: bad service flag 'SPEEDY'",
		"t:13-18 service d id=d skip@18: user is missing",
		"t:19-24 service e id=e skip@24: protocol udp does not go with socket_type stream",
		"t:25-34 service f id=f skip@33: bad port '0' (1 to 65535) note@32: attribute "
		"'cps' expects 2 values, found 1; ignored;",
		"t:35-0 bad skip@35: 'includedir' needs a name",
		"t:36-0 bad skip@36: expected service, defaults, include or includedir, not '}' "
		"(lines up to the next '}' are skipped, as xinetd does)",
	};
	struct xinetd_conf c = { 0 };

	parse_str(&c, text, sizeof(text) - 1);
	expect(&c, want, sizeof(want) / sizeof(want[0]));
	xinetd_conf_free(&c);
}
END_TEST

START_TEST(hostile_bytes)
{
	static const char text[] =
		"service a\r\n{\r\n\tsocket_type = stream\0\n}\n"
		"# comment \x01\n"
		"junk\x7f\n"
		"service b\n{\n\ttype = INTERNAL\n}\n";
	static const char *const want[] = {
		"t:1-4 service a id=a skip@3: NUL byte in line",
		"t:6-10 bad skip@6: control character in line",
	};
	struct xinetd_conf c = { 0 };

	/* The broken line outside an entry skips up to the next '}' (the
	 * whole of service b), as xinetd's skip_entry does. */
	parse_str(&c, text, sizeof(text) - 1);
	expect(&c, want, sizeof(want) / sizeof(want[0]));
	xinetd_conf_free(&c);
}
END_TEST

START_TEST(bounds)
{
	char *text = malloc(TEXTCONF_FILE_MAX + 1);
	struct xinetd_conf c = { 0 };
	size_t len;

	memset(text, '#', TEXTCONF_FILE_MAX + 1);
	ck_assert_int_eq(xinetd_parse(&c, "big", text, TEXTCONF_FILE_MAX + 1), -EFBIG);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_uint_eq(c.n_files, 0);
	/* An overlong attribute line breaks its service, not the file. */
	len = (size_t)sprintf(text, "service a\n{\n\tserver_args = ");
	memset(text + len, 'x', TEXTCONF_LINE_MAX);
	len += TEXTCONF_LINE_MAX;
	len += (size_t)sprintf(text + len, "\n}\nservice echo\n{\n\ttype = INTERNAL\n"
			       "\tsocket_type = stream\n\twait = no\n}\n");
	parse_str(&c, text, len);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.entries[0].reason, "line longer than 4096 bytes");
	ck_assert_ptr_null(c.entries[1].reason);
	xinetd_conf_free(&c);
	free(text);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("xinetd_parse");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, hand_made);
	tcase_add_test(tc, debian_files);
	tcase_add_test(tc, broken_defaults);
	tcase_add_test(tc, values_and_operators);
	tcase_add_test(tc, hostile_bytes);
	tcase_add_test(tc, bounds);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
