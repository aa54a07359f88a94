/* The converter's translations: xinetd services and inetd.conf lines into
 * endpoint groups, the comments that name what does not translate, and
 * printed output that the real loader accepts. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "convert.h"
#include "inetd_parse.h"
#include "xinetd_parse.h"

static int
lookup(const char *name, const char *proto, void *ctx)
{
	(void)ctx;
	(void)proto;
	if (strcmp(name, "echo") == 0)
		return 7;
	if (strcmp(name, "finger") == 0)
		return 79;
	if (strcmp(name, "tftp") == 0)
		return 69;
	return -ENOENT;
}

static void
xconvert(const char *text, struct conv_out *o)
{
	struct xinetd_conf c = { 0 };

	memset(o, 0, sizeof(*o));
	ck_assert_int_eq(xinetd_parse(&c, "svc", text, strlen(text)), 0);
	ck_assert_int_eq(xinetd_resolve(&c, lookup, NULL), 0);
	xinetd_convert(&c, o);
	xinetd_conf_free(&c);
	ck_assert(!o->nomem);
}

static const struct cval *
member(const struct conv_ep *ep, const char *name)
{
	return cval_member(&ep->g, name);
}

static const char *
string(const struct conv_ep *ep, const char *name)
{
	const struct cval *v = member(ep, name);

	ck_assert_msg(v && v->type == CVAL_STRING, "no string '%s'", name);
	return v->s;
}

/* The elements of an array of strings, joined by spaces. */
static const char *
strings(const struct conv_ep *ep, const char *name)
{
	static char buf[1024];
	const struct cval *v = member(ep, name);

	ck_assert_msg(v && v->type == CVAL_ARRAY, "no array '%s'", name);
	buf[0] = '\0';
	for (size_t i = 0; i < v->n; i++) {
		ck_assert_int_eq(v->elems[i].type, CVAL_STRING);
		if (i)
			strcat(buf, " ");
		strcat(buf, v->elems[i].s);
	}
	return buf;
}

/* A comment of ep that starts with prefix and holds what. */
static bool
has_comment(const struct conv_ep *ep, const char *prefix, const char *what)
{
	for (size_t i = 0; i < ep->comments.n; i++)
		if (strncmp(ep->comments.v[i], prefix, strlen(prefix)) == 0 &&
		    strstr(ep->comments.v[i], what))
			return true;
	return false;
}

START_TEST(access_forms)
{
	struct conv_out o;

	xconvert("service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n"
	    " only_from = 10.0.0.0 192.168.1.{5,6} 127.0.0.1/8 172.16.0.0/12 ::1 host.example\n"
	    " no_access = 10.1.0.0 2001:db8::/32\n}\n", &o);
	ck_assert_uint_eq(o.n, 1);
	ck_assert_str_eq(string(&o.eps[0], "service"), "echo");
	ck_assert_str_eq(strings(&o.eps[0], "listen"), "tcp:[::]:7");
	/* Trailing zeros are wildcards; host bits are masked as xinetd does. */
	ck_assert_str_eq(strings(&o.eps[0], "allow"),
	    "10.0.0.0/8 192.168.1.5/32 192.168.1.6/32 127.0.0.0/8 172.16.0.0/12 ::1/128");
	ck_assert_str_eq(strings(&o.eps[0], "deny"), "10.1.0.0/16 2001:db8::/32");
	ck_assert(has_comment(&o.eps[0], "svc:6: ", "only_from host.example: not translated"));
	/* A name left out of only_from lets fewer in: still served. */
	ck_assert(!o.eps[0].off);
	ck_assert_uint_eq(o.converted, 1);
	conv_free(&o);

	/* Debian's xinetd binds IPv6 taking IPv4 too unless told IPv4. */
	xconvert("service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n"
	    " flags = IPv4\n}\n", &o);
	ck_assert_str_eq(strings(&o.eps[0], "listen"), "tcp:0.0.0.0:7");
	conv_free(&o);
}
END_TEST

START_TEST(access_closed)
{
	struct conv_out o;

	/* An empty only_from lets nobody in; a name in no_access cannot be
	 * matched, so the endpoint would let more in: written off. */
	xconvert("service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n"
	    " only_from =\n}\n"
	    "service echo\n{\n type = INTERNAL\n id = echo2\n socket_type = stream\n wait = no\n"
	    " only_from = 0.0.0.0\n no_access = evil.example\n port = 7\n bind = ::1\n}\n", &o);
	ck_assert_uint_eq(o.n, 2);
	ck_assert_ptr_null(member(&o.eps[0], "allow"));
	ck_assert_str_eq(strings(&o.eps[0], "deny"), "0.0.0.0/0 ::/0");
	ck_assert(!o.eps[0].off);
	ck_assert_str_eq(string(&o.eps[1], "name"), "echo2");
	ck_assert_str_eq(strings(&o.eps[1], "listen"), "tcp:[::1]:7");
	ck_assert_str_eq(strings(&o.eps[1], "allow"), "0.0.0.0/0 ::/0");
	ck_assert(o.eps[1].off);
	ck_assert(has_comment(&o.eps[1], "svc:15: ", "no_access evil.example"));
	ck_assert_uint_eq(o.converted, 1);
	ck_assert_uint_eq(o.warnings.n, 1);
	conv_free(&o);
}
END_TEST

START_TEST(program)
{
	struct conv_out o;

	xconvert("service finger\n{\n socket_type = stream\n wait = no\n user = nobody\n"
	    " group = nogroup\n server = /usr/sbin/tcpd\n server_args = /usr/sbin/in.fingerd -w\n"
	    " flags = NAMEINARGS IPv6 REUSE\n instances = 30\n per_source = 4\n cps = 25 30\n"
	    " env = A=1 B=x=y A=2 9X=1\n passenv = PATH TZ\n log_on_success += PID HOST\n"
	    " banner = /etc/issue\n nonsense = 1\n}\n", &o);
	ck_assert_uint_eq(o.n, 1);
	ck_assert_str_eq(string(&o.eps[0], "service"), "exec");
	ck_assert_str_eq(strings(&o.eps[0], "listen"), "tcp:[::]:79");
	ck_assert_str_eq(strings(&o.eps[0], "command"), "/usr/sbin/tcpd -w");
	if (conv_has_exec_key("argv0")) {
		ck_assert_str_eq(string(&o.eps[0], "argv0"), "/usr/sbin/in.fingerd");
		ck_assert(!o.eps[0].off);
	} else {
		ck_assert(o.eps[0].off);
	}
	ck_assert_str_eq(string(&o.eps[0], "user"), "nobody:nogroup");
	ck_assert_int_eq(member(&o.eps[0], "instances")->i, 30);
	ck_assert_int_eq(member(&o.eps[0], "max_per_source")->i, 4);
	ck_assert(member(&o.eps[0], "rate")->f == 25.0);
	ck_assert_int_eq(member(&o.eps[0], "burst")->i, 25);
	ck_assert_str_eq(strings(&o.eps[0], "env"), "A=1 B=x=y");
	ck_assert(has_comment(&o.eps[0], "svc:13: ", "env A=2: not translated"));
	ck_assert(has_comment(&o.eps[0], "svc:13: ", "env 9X=1: not translated"));
	ck_assert(has_comment(&o.eps[0], "svc:14: ", "passenv TZ: not translated"));
	ck_assert(has_comment(&o.eps[0], "svc:14: ", "passenv PATH"));
	ck_assert(has_comment(&o.eps[0], "svc:15: ", "log_on_success = PID HOST"));
	ck_assert(has_comment(&o.eps[0], "svc:12: ", "cps = 25 30"));
	ck_assert(has_comment(&o.eps[0], "svc:16: ", "banner = /etc/issue: not translated"));
	ck_assert(has_comment(&o.eps[0], "svc:17: ", "nonsense = 1: not translated (not an xinetd"));
	conv_free(&o);
}
END_TEST

START_TEST(wait_and_disabled)
{
	struct conv_out o;

	xconvert("defaults\n{\n instances = 60\n log_on_failure = HOST\n}\n"
	    "service tftp\n{\n socket_type = dgram\n wait = yes\n user = nobody\n"
	    " server = /usr/sbin/in.tftpd\n server_args = -s /srv\n per_source = 3\n}\n"
	    "service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n disable = yes\n}\n"
	    "service tftp\n{\n id = tftp2\n socket_type = dgram\n wait = yes\n user = nobody\n"
	    " server = /usr/sbin/in.tftpd\n only_from = 127.0.0.1\n}\n",
	    &o);
	ck_assert_uint_eq(o.n, 3);
	ck_assert_str_eq(strings(&o.eps[0], "listen"), "udp:[::]:69");
	ck_assert_str_eq(strings(&o.eps[0], "command"), "/usr/sbin/in.tftpd -s /srv");
	ck_assert(has_comment(&o.eps[0], "svc:4: ", "log_on_failure = HOST"));
	ck_assert(conv_has_exec_key("handoff"));
	ck_assert_str_eq(string(&o.eps[0], "handoff"), "wait");
	/* One program holds the socket and takes the clients: the limits
	 * sockd applies to clients it accepts are comments, named where they
	 * were written (instances in the defaults). */
	ck_assert_ptr_null(member(&o.eps[0], "instances"));
	ck_assert_ptr_null(member(&o.eps[0], "max_per_source"));
	ck_assert(has_comment(&o.eps[0], "svc:3: ", "instances = 60: not translated"));
	ck_assert(has_comment(&o.eps[0], "svc:13: ", "per_source = 3: not translated"));
	ck_assert(!o.eps[0].off);
	ck_assert(o.eps[1].off);
	ck_assert(has_comment(&o.eps[1], "svc:20: ", "disabled"));
	/* only_from cannot be checked by sockd there: written off. */
	ck_assert(o.eps[2].off);
	ck_assert(has_comment(&o.eps[2], "svc:29: ", "only_from: not translated"));
	conv_free(&o);
}
END_TEST

START_TEST(broken_entries)
{
	struct conv_out o;

	xconvert("service rstatd\n{\n type = RPC\n socket_type = dgram\n wait = yes\n}\n"
	    "garbage here\n}\nservice nosuch\n{\n socket_type = stream\n wait = no\n"
	    " server = /bin/true\n user = root\n}\n", &o);
	ck_assert_uint_eq(o.n, 0);
	ck_assert_uint_eq(o.skipped, 3);
	ck_assert_uint_eq(o.head.n, 3);
	ck_assert_str_eq(o.head.v[0], "svc:3: service rstatd: not converted: RPC services are not "
	    "supported");
	ck_assert(strncmp(o.head.v[1], "svc:7: not converted: expected service", 38) == 0);
	ck_assert(strncmp(o.head.v[2], "svc:9: service nosuch: not converted: unknown service", 53) == 0);
	conv_free(&o);
}
END_TEST

START_TEST(unique_names)
{
	struct conv_out o = { 0 };
	char *a, *b, *c;
	struct conv_ep *ep;

	for (int i = 0; i < 3; i++) {
		ep = conv_new_ep(&o);
		ck_assert_ptr_nonnull(ep);
		a = conv_unique_name(&o, "echo stream!", "tcp");
		conv_add_string(&o, &ep->g, "name", a);
		free(a);
	}
	ck_assert_str_eq(string(&o.eps[0], "name"), "echo-stream-");
	ck_assert_str_eq(string(&o.eps[1], "name"), "echo-stream--tcp");
	ck_assert_str_eq(string(&o.eps[2], "name"), "echo-stream--3");
	b = conv_unique_name(&o, "", NULL);
	ck_assert_str_eq(b, "service");
	c = conv_unique_name(&o, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL);
	ck_assert_uint_le(strlen(c), 64);
	free(b);
	free(c);
	conv_free(&o);
}
END_TEST

/* Printed output goes through the real loader without an error. */
static void
loads(struct conv_out *o, size_t endpoints)
{
	char path[] = "/tmp/check_convert.XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct sockd_config *cfg = NULL;
	struct diag d = { 0 };
	int r;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(conv_print(f, o, "test \"title\"\n"), 0);
	fclose(f);
	r = config_load(path, &cfg, &d);
	for (size_t i = 0; i < d.n; i++)
		fprintf(stderr, "%s\n", d.lines[i]);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(cfg->n_endpoints, endpoints);
	config_free(cfg);
	diag_free(&d);
	unlink(path);
}

START_TEST(limits_and_umask)
{
	struct conv_out o;
	const struct cval *rl;

	xconvert("service x\n{\n type = UNLISTED\n port = 2999\n socket_type = stream\n"
	    " wait = no\n user = root\n server = /bin/true\n rlimit_as = 64M\n nice = 3\n"
	    " rlimit_cpu = UNLIMITED\n rlimit_files = 100\n rlimit_rss = 5M\n umask = 022\n"
	    " rlimit_stack = 8K\n rlimit_data = lots\n}\n", &o);
	ck_assert_uint_eq(o.n, 1);
	rl = member(&o.eps[0], "rlimit");
	ck_assert_ptr_nonnull(rl);
	ck_assert_int_eq(rl->type, CVAL_GROUP);
	ck_assert_uint_eq(rl->n, 4);
	ck_assert_int_eq(cval_member(rl, "as")->i, 64 << 20);
	ck_assert_str_eq(cval_member(rl, "cpu")->s, "unlimited");
	ck_assert_int_eq(cval_member(rl, "nofile")->i, 100);
	ck_assert_int_eq(cval_member(rl, "stack")->i, 8192);
	ck_assert_int_eq(member(&o.eps[0], "nice")->i, 3);
	ck_assert_str_eq(string(&o.eps[0], "umask"), "022");
	ck_assert(has_comment(&o.eps[0], "svc:13: ", "rlimit_rss = 5M: not translated"));
	ck_assert(has_comment(&o.eps[0], "svc:16: ", "rlimit_data = lots: not translated"));
	loads(&o, 1);
	conv_free(&o);

	/* Given twice: xinetd takes the first line; a second key would not
	 * load. */
	xconvert("service x\n{\n type = UNLISTED\n port = 2999\n socket_type = stream\n"
	    " wait = no\n user = root\n server = /bin/true\n nice = 3\n nice = 4\n"
	    " rlimit_files = 10\n rlimit_files = 20\n v6only = yes\n v6only = no\n"
	    " umask = 022\n umask = 077\n}\n", &o);
	ck_assert_int_eq(member(&o.eps[0], "nice")->i, 3);
	ck_assert_int_eq(cval_member(member(&o.eps[0], "rlimit"), "nofile")->i, 10);
	ck_assert(member(&o.eps[0], "v6only")->b);
	ck_assert_str_eq(string(&o.eps[0], "umask"), "022");
	ck_assert(has_comment(&o.eps[0], "svc:10: ", "nice = 4: given before; ignored"));
	ck_assert(has_comment(&o.eps[0], "svc:12: ", "rlimit_files = 20: given before"));
	ck_assert(has_comment(&o.eps[0], "svc:14: ", "v6only = no: given before"));
	ck_assert(has_comment(&o.eps[0], "svc:16: ", "umask = 077: given before"));
	loads(&o, 1);
	conv_free(&o);
}
END_TEST

START_TEST(redirect)
{
	struct conv_out o;

	xconvert("service web\n{\n type = UNLISTED\n port = 8080\n socket_type = stream\n"
	    " wait = no\n redirect = ::1 80\n user = nobody\n per_source = 3\n}\n"
	    "service web\n{\n type = UNLISTED\n id = web2\n port = 8081\n socket_type = stream\n"
	    " wait = no\n redirect = 10.0.0.1 http\n}\n", &o);
	ck_assert_uint_eq(o.n, 2);
	ck_assert_str_eq(string(&o.eps[0], "service"), "forward");
	ck_assert_str_eq(strings(&o.eps[0], "upstream"), "tcp:[::1]:80");
	ck_assert_int_eq(member(&o.eps[0], "max_per_source")->i, 3);
	ck_assert(has_comment(&o.eps[0], "svc:8: ", "user: not used by a redirect"));
	ck_assert(!o.eps[0].off);
	/* A port by name: left for the operator. */
	ck_assert(o.eps[1].off);
	ck_assert(has_comment(&o.eps[1], "svc:18: ", "redirect port 'http': not translated"));
	loads(&o, 1);
	conv_free(&o);
}
END_TEST

START_TEST(printed_loads)
{
	struct conv_out o;

	xconvert("service echo\n{\n type = INTERNAL\n socket_type = stream\n wait = no\n"
	    " bind = 127.0.0.1\n only_from = 127.0.0.1 10.0.0.0\n}\n"
	    "service echo\n{\n type = INTERNAL\n id = echo-dgram\n socket_type = dgram\n"
	    " wait = yes\n bind = 127.0.0.1\n}\n"
	    "service hello\n{\n type = UNLISTED\n port = 2001\n socket_type = stream\n wait = no\n"
	    " user = root\n server = /bin/sh\n server_args = -c echo\"$X\"\\\n"
	    " env = X=\"q\\\\\n bind = 127.0.0.1\n cps = 10 5\n}\n"
	    "service off\n{\n type = UNLISTED\n port = 2002\n socket_type = stream\n wait = no\n"
	    " user = root\n server = /bin/sh\n disable = yes\n}\n", &o);
	ck_assert_uint_eq(o.converted, 3);
	ck_assert_str_eq(strings(&o.eps[2], "env"), "X=\"q\\\\");
	loads(&o, 3);
	conv_free(&o);
}
END_TEST

START_TEST(inetd_lines)
{
	static const char text[] =
	    "echo\tstream\ttcp4\tnowait\troot\tinternal\n"
	    "127.0.0.1:2001\tstream\ttcp\tnowait.60\troot\t/bin/sh\tsh -c true\n"
	    "#<off># 127.0.0.1:2002\tstream\ttcp\tnowait\troot\t/bin/sh\tsh\n"
	    "bad\n";
	struct inetd_conf c = { 0 };
	struct conv_out o = { 0 };

	ck_assert_int_eq(inetd_parse(&c, "inetd.conf", text, sizeof(text) - 1), 0);
	ck_assert_int_eq(inetd_resolve(&c, lookup, NULL), 0);
	inetd_convert(&c, &o);
	inetd_conf_free(&c);
	ck_assert_uint_eq(o.n, 3);
	ck_assert_str_eq(string(&o.eps[0], "name"), "echo/tcp4");
	ck_assert_str_eq(strings(&o.eps[1], "command"), "/bin/sh -c true");
	ck_assert(o.eps[2].off);
	ck_assert(has_comment(&o.eps[2], "inetd.conf:3: ", "disabled"));
	ck_assert_uint_eq(o.skipped, 1);
	ck_assert(strncmp(o.head.v[0], "inetd.conf:4: not converted: ", 29) == 0);
	loads(&o, 2);
	conv_free(&o);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("convert");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, access_forms);
	tcase_add_test(tc, access_closed);
	tcase_add_test(tc, program);
	tcase_add_test(tc, limits_and_umask);
	tcase_add_test(tc, wait_and_disabled);
	tcase_add_test(tc, redirect);
	tcase_add_test(tc, broken_entries);
	tcase_add_test(tc, unique_names);
	tcase_add_test(tc, printed_loads);
	tcase_add_test(tc, inetd_lines);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
