/* inetd.conf parser: every line form of Debian's openbsd-inetd, broken
 * lines, update-inetd's own output, hostile bytes and the size bounds. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "inetd_parse.h"

static const char *
srcdir(void)
{
	const char *d = getenv("top_srcdir");

	/* make check exports top_srcdir; run by hand (or under valgrind by
	 * .ci/valgrind) the test still finds its files in the source tree. */
	return d && *d ? d : UNIT_TOP_SRCDIR;
}

static void
load(struct inetd_conf *c, const char *name, char **text, size_t *len)
{
	char path[4096];
	int r;

	snprintf(path, sizeof(path), "%s/tests/unit/data/%s", srcdir(), name);
	r = textconf_read(path, text, len);
	ck_assert_msg(r == 0, "read %s: %s", path, strerror(-r));
	ck_assert_int_eq(inetd_parse(c, name, *text, *len), 0);
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

static const char *const families[] = { "any", "4", "6", "46", "unix" };

/* One line per record, every field a converter would use. */
static const char *
dump(const struct inetd_rec *r)
{
	static char buf[8192];

	buf[0] = '\0';
	add(buf, sizeof(buf), "%u%s", r->line, r->disabled ? " off" : "");
	if (r->reason) {
		add(buf, sizeof(buf), " skip: %s", r->reason);
		return buf;
	}
	add(buf, sizeof(buf), " %s port=%u", r->service, r->port);
	if (r->hosts.n) {
		add(buf, sizeof(buf), " hosts=");
		for (size_t i = 0; i < r->hosts.n; i++)
			add(buf, sizeof(buf), "%s%s", i ? "," : "", r->hosts.v[i]);
		if (r->hosts_default)
			add(buf, sizeof(buf), "(default)");
	}
	add(buf, sizeof(buf), " %s %s/%s", inetd_socktype_name(r->socktype), r->protocol,
	    families[r->family]);
	if (r->sndbuf)
		add(buf, sizeof(buf), " sndbuf=%d", r->sndbuf);
	if (r->rcvbuf)
		add(buf, sizeof(buf), " rcvbuf=%d", r->rcvbuf);
	add(buf, sizeof(buf), " %s", r->wait ? "wait" : "nowait");
	if (r->max)
		add(buf, sizeof(buf), ".%u", r->max);
	add(buf, sizeof(buf), " %s", r->user);
	if (r->group)
		add(buf, sizeof(buf), ":%s", r->group);
	if (r->internal) {
		add(buf, sizeof(buf), " internal");
		ck_assert_ptr_null(r->server);
		ck_assert_uint_eq(r->argv.n, 0);
	} else {
		add(buf, sizeof(buf), " %s [", r->server);
		for (size_t i = 0; i < r->argv.n; i++)
			add(buf, sizeof(buf), "%s%s", i ? " " : "", r->argv.v[i]);
		add(buf, sizeof(buf), "]");
		ck_assert_ptr_null(r->argv.v[r->argv.n]);
	}
	return buf;
}

static void
expect(const struct inetd_conf *c, const char *const *want, size_t n)
{
	for (size_t i = 0; i < c->n && i < n; i++)
		ck_assert_msg(strcmp(dump(&c->recs[i]), want[i]) == 0,
			      "record %zu:\n  got  %s\n  want %s", i, dump(&c->recs[i]), want[i]);
	ck_assert_uint_eq(c->n, n);
}

/* A fixed services table, so the test does not depend on the host's. */
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

	(*(int *)ctx)++;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(tab[i].name, name) == 0 && strcmp(tab[i].proto, proto) == 0)
			return tab[i].port;
	return -ENOENT;
}

START_TEST(every_line_form)
{
	static const char *const want[] = {
		"3 echo port=7 hosts=*(default) stream tcp/any nowait root internal",
		"4 echo port=7 hosts=*(default) dgram udp/any wait root internal",
		"5 discard port=9 hosts=*(default) stream tcp6/6 nowait root internal",
		"6 daytime port=13 hosts=*(default) stream tcp4/4 nowait root internal",
		"7 time port=37 hosts=*(default) dgram udp46/46 wait root internal",
		"8 chargen port=19 hosts=*(default) stream tcp46/46 nowait.50 root internal",
		"9 finger port=79 hosts=127.0.0.1 stream tcp/any nowait nobody "
		"/usr/sbin/tcpd [/usr/sbin/in.fingerd]",
		"10 2000 port=2000 hosts=::1 stream tcp6/6 sndbuf=65536 rcvbuf=1048576 "
		"nowait.10 nobody:nogroup /bin/cat [cat -u]",
		"12 5000 port=5000 hosts=127.0.0.2(default) stream tcp/any wait daemon:daemon "
		"/usr/bin/srv [srv]",
		"13 ident port=113 hosts=127.0.0.2(default) dgram udp/any rcvbuf=65536 wait "
		"nobody /usr/sbin/identd [identd -i]",
		"15 /run/sockd-test/echo.sock port=0 stream unix/unix nowait root /bin/cat [cat]",
		"16 /run/x:y.sock port=0 seqpacket unix/unix rcvbuf=4096 nowait root /bin/cat [cat]",
		"17 /run/dg.sock port=0 dgram unix/unix wait root /usr/sbin/dgsrv [dgsrv -v]",
		"18 7000 port=7000 hosts=127.0.0.1,::1,localhost stream tcp/any nowait root "
		"/bin/true [true]",
		"19 7001 port=7001 hosts=127.0.0.1 stream tcp/any nowait root /bin/true [true]",
		"20 tftp port=69 hosts=*(default) dgram udp4/4 wait root /usr/sbin/in.tftpd "
		"[in.tftpd -s /srv/tftp]",
		"21 continued port=4000 hosts=*(default) stream tcp/any nowait root /usr/bin/prog "
		"[prog -a -b]",
		"24 off telnet port=23 hosts=*(default) stream tcp/any nowait root /usr/sbin/tcpd "
		"[/usr/sbin/in.telnetd]",
		"30 skip: RPC services are not supported ('rstatd/1-3' 'rpc/udp')",
		"31 skip: tcpmux services are not supported ('tcpmux/+scanner')",
		"32 skip: tcpmux services are not supported ('tcpmux')",
		"33 skip: expected at least 6 fields (service, socket type, protocol, wait, "
		"user, server), found 5",
		"34 skip: socket type 'raw' is not supported (stream, dgram or seqpacket)",
		"35 skip: unknown protocol 'sctp' (tcp, udp, tcp4, tcp6, tcp46, udp4, udp6, "
		"udp46 or unix)",
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
		"52 daytime port=13 hosts=::1 stream tcp6/6 nowait root internal",
		"54 off skip: expected at least 6 fields (service, socket type, protocol, wait, "
		"user, server), found 3",
		"55 skip: unknown service 'no-such-service/tcp' (not in /etc/services)",
		"56 skip: more than 64 arguments",
		"57 7002 port=7002 hosts=*(default) stream tcp/any nowait first.last:staff "
		"/bin/true [true]",
	};
	struct inetd_conf c = { 0 };
	char *text;
	size_t len;
	int lookups = 0;

	load(&c, "inetd-forms.conf", &text, &len);
	ck_assert_str_eq(c.file, "inetd-forms.conf");
	ck_assert_int_eq(inetd_resolve(&c, fake_lookup, &lookups), 0);
	/* Numeric services and unix paths are not looked up. */
	ck_assert_int_eq(lookups, 13);
	expect(&c, want, sizeof(want) / sizeof(want[0]));
	/* The entry as written: continuation lines joined, the mark gone. */
	ck_assert_str_eq(c.recs[16].text, "continued\tstream\ttcp nowait\troot\t/usr/bin/prog\tprog -a -b");
	ck_assert_str_eq(c.recs[17].text,
			 "telnet\tstream\ttcp\tnowait\troot\t/usr/sbin/tcpd\t/usr/sbin/in.telnetd");
	for (size_t i = 0; i < c.n; i++)
		ck_assert_ptr_eq(c.recs[i].file, c.file);
	inetd_conf_free(&c);
	ck_assert_uint_eq(c.n, 0);
	free(text);
}
END_TEST

/* What update-inetd writes, resolved through the host's /etc/services
 * (netbase, always installed on Debian). */
START_TEST(debian_default_file)
{
	static const char *const want[] = {
		"28 off telnet port=23 hosts=*(default) stream tcp/any nowait root "
		"/usr/sbin/tcpd [/usr/sbin/in.telnetd]",
		"35 finger port=79 hosts=*(default) stream tcp/any nowait nobody "
		"/usr/sbin/tcpd [/usr/sbin/in.fingerd]",
		"39 tftp port=69 hosts=*(default) dgram udp/any wait root /usr/sbin/in.tftpd "
		"[in.tftpd -s /srv/tftp]",
	};
	struct inetd_conf c = { 0 };
	char *text;
	size_t len;

	load(&c, "inetd-debian.conf", &text, &len);
	ck_assert_int_eq(inetd_resolve(&c, NULL, NULL), 0);
	expect(&c, want, sizeof(want) / sizeof(want[0]));
	inetd_conf_free(&c);
	free(text);
}
END_TEST

static void
parse_str(struct inetd_conf *c, const char *text, size_t len)
{
	ck_assert_int_eq(inetd_parse(c, "t.conf", text, len), 0);
}

START_TEST(crlf_and_last_line)
{
	static const char text[] = "echo stream tcp nowait root internal\r\n"
				   "finger stream tcp nowait nobody /usr/sbin/tcpd in.fingerd\r";
	struct inetd_conf c = { 0 };

	parse_str(&c, text, sizeof(text) - 1);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_ptr_null(c.recs[0].reason);
	ck_assert_ptr_null(c.recs[1].reason);
	ck_assert_str_eq(c.recs[1].argv.v[0], "in.fingerd");
	ck_assert_uint_eq(c.recs[1].line, 2);
	inetd_conf_free(&c);
}
END_TEST

START_TEST(hostile_bytes)
{
	static const char text[] = "echo stream tcp nowait root internal\n"
				   "echo stream tcp\0 nowait root internal\n"
				   "echo stream tcp\x01 nowait root internal\n"
				   "# a comment may hold \x01 and \0\n"
				   "a\rb stream tcp nowait root internal\n"
				   "\tdaytime stream tcp nowait root internal\n";
	struct inetd_conf c = { 0 };

	parse_str(&c, text, sizeof(text) - 1);
	ck_assert_uint_eq(c.n, 5);
	ck_assert_ptr_null(c.recs[0].reason);
	ck_assert_str_eq(c.recs[1].reason, "NUL byte in line");
	ck_assert_ptr_null(c.recs[1].text);
	ck_assert_uint_eq(c.recs[1].line, 2);
	ck_assert_str_eq(c.recs[2].reason, "control character in line");
	ck_assert_uint_eq(c.recs[3].line, 5);
	ck_assert_str_eq(c.recs[3].reason, "control character in line");
	/* An indented line after a broken one starts an entry of its own. */
	ck_assert_uint_eq(c.recs[4].line, 6);
	ck_assert_ptr_null(c.recs[4].reason);
	ck_assert_str_eq(c.recs[4].service, "daytime");
	inetd_conf_free(&c);
}
END_TEST

START_TEST(long_lines)
{
	size_t n = TEXTCONF_LINE_MAX + 100, len;
	char *text = malloc(3 * n + 3 * 2002);
	struct inetd_conf c = { 0 };

	/* A line one byte over the bound, then one exactly at it (a valid
	 * entry padded with blanks), then an entry whose continuations grow
	 * past the bound. */
	len = (size_t)sprintf(text, "echo stream tcp nowait root internal");
	memset(text + len, ' ', TEXTCONF_LINE_MAX + 1 - len);
	len = TEXTCONF_LINE_MAX + 1;
	text[len++] = '\n';
	len += (size_t)sprintf(text + len, "echo stream tcp nowait root internal");
	memset(text + len, ' ', 2 * TEXTCONF_LINE_MAX + 1 - len);
	len = 2 * TEXTCONF_LINE_MAX + 1;
	text[len++] = '\n';
	len += (size_t)sprintf(text + len, "prog stream tcp nowait root /bin/prog prog\n");
	for (int i = 0; i < 3; i++) {
		text[len++] = '\t';
		memset(text + len, 'x', 2000);
		len += 2000;
		text[len++] = '\n';
	}
	parse_str(&c, text, len);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_str_eq(c.recs[0].reason, "line longer than 4096 bytes");
	ck_assert_ptr_null(c.recs[1].reason);
	ck_assert_str_eq(c.recs[2].reason, "entry longer than 4096 bytes");
	ck_assert_uint_eq(c.recs[2].line, 3);
	inetd_conf_free(&c);
	free(text);
}
END_TEST

START_TEST(size_bound)
{
	size_t line = strlen("echo stream tcp nowait root internal\n");
	size_t n = TEXTCONF_FILE_MAX / line, len = n * line;
	char *text = malloc(TEXTCONF_FILE_MAX + 1);
	struct inetd_conf c = { 0 };

	for (size_t i = 0; i < n; i++)
		memcpy(text + i * line, "echo stream tcp nowait root internal\n", line);
	/* Just under the bound: every line is a record. */
	parse_str(&c, text, len);
	ck_assert_uint_eq(c.n, n);
	ck_assert_uint_eq(c.recs[n - 1].line, n);
	inetd_conf_free(&c);
	/* Over it: refused whole, nothing kept. */
	memset(text + len, '#', TEXTCONF_FILE_MAX + 1 - len);
	ck_assert_int_eq(inetd_parse(&c, "big.conf", text, TEXTCONF_FILE_MAX + 1), -EFBIG);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_ptr_null(c.file);
	free(text);
}
END_TEST

START_TEST(read_bound)
{
	char path[] = "/tmp/check_inetd_parse.XXXXXX", *text = NULL;
	size_t len = 0;
	int fd = mkstemp(path);
	static char block[65536];

	ck_assert_int_ge(fd, 0);
	memset(block, '#', sizeof(block));
	for (int i = 0; i < TEXTCONF_FILE_MAX / (int)sizeof(block); i++)
		ck_assert_int_eq(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	ck_assert_int_eq(textconf_read(path, &text, &len), 0);
	ck_assert_uint_eq(len, TEXTCONF_FILE_MAX);
	free(text);
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	ck_assert_int_eq(textconf_read(path, &text, &len), -EFBIG);
	ck_assert_int_eq(textconf_read("/", &text, &len), -EISDIR);
	ck_assert_int_eq(textconf_read("/nonexistent/inetd.conf", &text, &len), -ENOENT);
	close(fd);
	unlink(path);
}
END_TEST

START_TEST(empty_and_comments_only)
{
	struct inetd_conf c = { 0 };

	parse_str(&c, "", 0);
	ck_assert_uint_eq(c.n, 0);
	inetd_conf_free(&c);
	parse_str(&c, "# nothing\n\n   \n\t\n#<off>#\n", 19);
	ck_assert_uint_eq(c.n, 0);
	inetd_conf_free(&c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("inetd_parse");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, every_line_form);
	tcase_add_test(tc, debian_default_file);
	tcase_add_test(tc, crlf_and_last_line);
	tcase_add_test(tc, hostile_bytes);
	tcase_add_test(tc, long_lines);
	tcase_add_test(tc, size_bound);
	tcase_add_test(tc, read_bound);
	tcase_add_test(tc, empty_and_comments_only);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
