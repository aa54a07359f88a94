/* Included, not linked, so the static service_serves() can be tested; the
 * test then needs nothing from the config_check.o in libsockd.a. */
#include "config_check.c"

#include <arpa/inet.h>
#include <check.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include "builtin.h"
#include "config.h"
#include "keys.h"
#include "proxy_proto.h"
#include "daytime_options.h"

static char tmp_dir[256];
static char conf_path[sizeof(tmp_dir) + 16];    /* tmp_dir/t.conf */

static void
setup(void)
{
	snprintf(tmp_dir, sizeof(tmp_dir), "%s/check_config.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
	snprintf(conf_path, sizeof(conf_path), "%s/t.conf", tmp_dir);
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		chmod(path, 0700);
	return remove(path) == 0 ? 0 : -1;
}

static void
teardown(void)
{
	ck_assert_int_eq(nftw(tmp_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static int
load_text(const char *text, struct sockd_config **cfg, struct diag *d)
{
	write_file(conf_path, text);
	return config_load(conf_path, cfg, d);
}

static struct sockd_config *
load_ok(const char *text)
{
	struct diag d = { 0 };
	struct sockd_config *cfg = NULL;
	int r = load_text(text, &cfg, &d);

	if (r != 0 || d.n != 0)
		ck_abort_msg("load failed (%d): %s", r, d.n ? d.lines[0] : "no diagnostic");
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

static char *
dump_to_string(const struct sockd_config *cfg)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	ck_assert_ptr_nonnull(f);
	config_dump(cfg, f);
	ck_assert_int_eq(fclose(f), 0);
	return buf;
}

/* "@" in an expected message stands for conf_path, "@@" for "@". */
static char *
expand(const char *msg)
{
	static char out[4096];
	size_t n = 0;

	for (const char *p = msg; *p && n + sizeof(conf_path) < sizeof(out); p++) {
		if (p[0] == '@' && p[1] == '@')
			out[n++] = *p++;
		else if (*p == '@')
			n += (size_t)snprintf(out + n, sizeof(out) - n, "%s", conf_path);
		else
			out[n++] = *p;
	}
	out[n] = '\0';
	return out;
}

static void
assert_line(const struct diag *d, size_t i, int line, const char *msg)
{
	char want[sizeof(conf_path) + 4096 + 32];

	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", conf_path, line, expand(msg));
	else
		snprintf(want, sizeof(want), "%s: %s", conf_path, expand(msg));
	ck_assert_uint_gt(d->n, i);
	ck_assert_str_eq(d->lines[i], want);
}

#define EP_HEAD "endpoints = (\n  { name = \"e\";\n    listen = [ \"tcp:127.0.0.1:7007\" ];\n    service = \"echo\";\n"
#define EP_TAIL "  }\n);\n"
#define EP(extra) EP_HEAD extra EP_TAIL         /* extra starts on line 5 */
#define UNIX_HEAD "endpoints = (\n  { name = \"u\";\n    listen = [ \"unix:/tmp/check-config.sock\" ];\n    service = \"echo\";\n"
#define UNIX_EP(extra) UNIX_HEAD extra EP_TAIL
#define NO_USER "no-such-user-sockd-check"
#define NO_GROUP "no-such-group-sockd-check"
#define SERVICES "echo, discard, chargen, daytime, time, exec, forward, metrics"
/* extra starts on line 6 */
#define EXEC_HEAD "endpoints = (\n  { name = \"x\";\n    listen = [ \"tcp:127.0.0.1:7008\" ];\n    service = \"exec\";\n    command = [ \"/bin/cat\" ];\n"
#define EXEC_EP(extra) EXEC_HEAD extra EP_TAIL
#define FWD_HEAD "endpoints = (\n  { name = \"f\";\n    listen = [ \"tcp:127.0.0.1:3307\" ];\n    service = \"forward\";\n    upstream = \"unix:/run/mysqld/mysqld.sock\";\n"
#define FWD_EP(extra) FWD_HEAD extra EP_TAIL
#define STREAM_ONLY "(tcp, unix, unix-seqpacket addresses only)"
#define RLIMITS "(as, core, cpu, data, fsize, memlock, nofile, nproc, stack)"
/* command (upstream) on line 3 */
#define CMD(c) "endpoints = (\n  { name = \"x\"; listen = \"tcp:127.0.0.1:7\"; service = \"exec\";\n    command = " c "; }\n);\n"
#define UP(u) "endpoints = (\n  { name = \"f\"; listen = \"tcp:127.0.0.1:3307\"; service = \"forward\";\n    upstream = " u "; }\n);\n"
#define ENV_MSG "(NAME=value, NAME of letters, digits and '_', not starting with a digit)"
#define USER_MSG "(\"user\" or \"user:group\" expected)"

/* ------------------------------------------------------------ defaults */

START_TEST(test_defaults)
{
	struct sockd_config *cfg = load_ok("endpoints = ();\n");

	ck_assert_str_eq(cfg->file, conf_path);
	ck_assert_uint_eq(cfg->daemon.workers, 0);
	ck_assert_uint_eq(cfg->daemon.queue, 4096);
	ck_assert_uint_eq(cfg->daemon.max_connections, 65536);
	ck_assert_double_eq(cfg->daemon.shutdown_timeout, 10.0);
	ck_assert_int_eq(cfg->daemon.log_level, LOG_INFO);
	ck_assert_ptr_null(cfg->daemon.user);
	ck_assert_ptr_null(cfg->daemon.group);
	ck_assert_uint_eq(cfg->daemon.uid, (uid_t)-1);
	ck_assert_uint_eq(cfg->daemon.gid, (gid_t)-1);
	ck_assert_uint_eq(cfg->n_endpoints, 0);
	config_free(cfg);

	/* "[]" is libconfig's empty array; it means no endpoints too. */
	cfg = load_ok("daemon = { };\nendpoints = [];\n");
	ck_assert_uint_eq(cfg->n_endpoints, 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_endpoint_defaults)
{
	struct sockd_config *cfg = load_ok("# comment\n" EP(""));
	struct endpoint *ep;
	char buf[ADDR_STRLEN];

	ck_assert_uint_eq(cfg->n_endpoints, 1);
	ep = cfg->endpoints[0];
	ck_assert_str_eq(ep->name, "e");
	ck_assert_str_eq(ep->file, conf_path);
	ck_assert_int_eq(ep->line, 3);
	ck_assert_ptr_eq(ep->service, &service_echo);
	ck_assert_uint_eq(ep->n_listen, 1);
	ck_assert_str_eq(addr_format(&ep->listen[0], buf, sizeof(buf)), "tcp:127.0.0.1:7007");
	ck_assert_int_eq(ep->backlog, 1024);
	ck_assert(!ep->v6only);
	ck_assert_int_eq(ep->overload, OVERLOAD_WAIT);
	ck_assert(ep->udp_guard);
	ck_assert_int_eq(ep->mode, -1);
	ck_assert_uint_eq(ep->owner, (uid_t)-1);
	ck_assert_uint_eq(ep->group, (gid_t)-1);
	ck_assert_ptr_null(ep->owner_name);
	ck_assert_ptr_null(ep->group_name);
	/* echo has no keys of its own */
	ck_assert_ptr_null(ep->svc_opts);
	ck_assert_ptr_null(ep->acl);
	ck_assert_uint_eq(ep->n_allow_uid, 0);
	ck_assert_uint_eq(ep->n_allow_gid, 0);
	ck_assert_uint_eq(ep->max_connections, 0);
	ck_assert_uint_eq(ep->max_per_source, 0);
	ck_assert_double_eq(ep->rate, 0);
	ck_assert_uint_eq(ep->burst, 1);
	ck_assert_double_eq(ep->udp_rate, 20);
	ck_assert_uint_eq(ep->udp_burst, 40);
	ck_assert(!ep->udp_rate_loopback);
	ck_assert_uint_eq(ep->udp_sessions_per_source, 256);
	ck_assert_double_eq(ep->idle_timeout, 300);
	ck_assert_double_eq(ep->lifetime, 0);
	ck_assert_ptr_nonnull(ep->sources);
	ck_assert_int_eq(ep->proxy_protocol, 0);
	ck_assert_ptr_null(ep->proxy_from);
	ck_assert_double_eq(ep->proxy_timeout, 3);
	ck_assert_uint_eq(atomic_load(&ep->refs), 1);
	ck_assert_ptr_null(cfg->daemon.include_dir);
	ck_assert_uint_eq(cfg->n_included, 0);
	config_free(cfg);
}
END_TEST

/* ------------------------------------------------------------ every key */

/* A connection from addr would pass the endpoint's allow/deny rules. */
static bool
peer_allowed(const struct endpoint *ep, const char *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1)
		return acl_allows(ep->acl, (struct sockaddr *)&sin, sizeof(sin));
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	return acl_allows(ep->acl, (struct sockaddr *)&sin6, sizeof(sin6));
}


static const char full_conf[] =
	"daemon = {\n"
	"  workers = 3;\n"
	"  queue = 17;\n"
	"  max_connections = 1000;\n"
	"  shutdown_timeout = 2.5;\n"
	"  log_level = \"debug\";\n"
	"  user = \"root\";\n"
	"  group = \"root\";\n"
	"  include_dir = \"/nonexistent/sockd-check.d\"; control = \"@sockd-check\";\n"
	"};\n"
	"endpoints = (\n"
	"  { name = \"echo-1.x_Y\";\n"
	"    listen = ( \"tcp:127.0.0.1:7\", \"udp:[::1]:07\", \"unix:/run/sockd/echo.sock\",\n"
	"               \"unix-dgram:/tmp/d.sock\", \"unix-seqpacket:/tmp/s.sock\", \"unix:@abs\" );\n"
	"    service = \"echo\";\n"
	"    backlog = 65535;\n"
	"    v6only = true;\n"
	"    overload = \"reject\";\n"
	"    udp_guard = false;\n"
	"    mode = \"0640\";\n"
	"    owner = \"root\";\n"
	"    group = 0;\n"
	"    allow = [ \"127.0.0.0/8\", \"::1\" ];\n"
	"    deny = \"127.0.0.2\";\n"
	"    max_connections = 10; max_per_source = 2; rate = 0.5; burst = 4;\n"
	"    udp_rate = 0; udp_burst = 1; idle_timeout = 0.25; lifetime = 3600;"
	" udp_rate_loopback = true; udp_sessions_per_source = 3;\n"
	"  },\n"
	"  { name = \"dt\"; listen = \"tcp:[::1]:13\"; service = \"daytime\";\n"
	"    daytime_format = \"%Y-%m-%d %H:%M:%S\"; backlog = 1; },\n"
	"  { name = \"t\"; listen = [ \"tcp:0.0.0.0:37\" ]; service = \"time\"; },\n"
	"  { name = \"c\"; listen = [ \"udp:127.0.0.1:19\" ]; service = \"chargen\"; },\n"
	"  { name = \"d\"; listen = [ \"unix:/tmp/dd.sock\" ]; service = \"discard\";\n"
	"    mode = 0660; owner = \"0\"; group = \"root\";\n"
	"    allow_uid = ( \"root\", 1 ); allow_gid = [ \"0\", \"root\" ]; }\n"
	");\n";

START_TEST(test_every_key)
{
	struct sockd_config *cfg = load_ok(full_conf);
	const char *want[] = { "tcp:127.0.0.1:7", "udp:[::1]:7", "unix:/run/sockd/echo.sock",
		"unix-dgram:/tmp/d.sock", "unix-seqpacket:/tmp/s.sock", "unix:@abs" };
	char buf[ADDR_STRLEN];
	struct endpoint *ep;

	ck_assert_uint_eq(cfg->daemon.workers, 3);
	ck_assert_uint_eq(cfg->daemon.queue, 17);
	ck_assert_uint_eq(cfg->daemon.max_connections, 1000);
	ck_assert_double_eq(cfg->daemon.shutdown_timeout, 2.5);
	ck_assert_int_eq(cfg->daemon.log_level, LOG_DEBUG);
	ck_assert_str_eq(cfg->daemon.user, "root");
	ck_assert_str_eq(cfg->daemon.group, "root");
	ck_assert_uint_eq(cfg->daemon.uid, 0);
	ck_assert_uint_eq(cfg->daemon.gid, 0);
	ck_assert_str_eq(cfg->daemon.include_dir, "/nonexistent/sockd-check.d");
	ck_assert_str_eq(cfg->daemon.control, "@sockd-check");
	ck_assert_uint_eq(cfg->n_endpoints, 5);
	ck_assert_uint_eq(cfg->n_included, 0);

	ep = cfg->endpoints[0];
	ck_assert_str_eq(ep->name, "echo-1.x_Y");
	ck_assert_int_eq(ep->line, 12);
	ck_assert_uint_eq(ep->n_listen, 6);
	for (size_t i = 0; i < 6; i++)
		ck_assert_str_eq(addr_format(&ep->listen[i], buf, sizeof(buf)), want[i]);
	ck_assert_ptr_eq(ep->service, &service_echo);
	ck_assert_int_eq(ep->backlog, 65535);
	ck_assert(ep->v6only);
	ck_assert_int_eq(ep->overload, OVERLOAD_REJECT);
	ck_assert(!ep->udp_guard);
	ck_assert_int_eq(ep->mode, 0640);
	ck_assert_uint_eq(ep->owner, 0);
	ck_assert_str_eq(ep->owner_name, "root");
	ck_assert_uint_eq(ep->group, 0);
	ck_assert_str_eq(ep->group_name, "0");
	ck_assert_ptr_nonnull(ep->acl);
	ck_assert(peer_allowed(ep, "127.0.0.1"));
	ck_assert(!peer_allowed(ep, "127.0.0.2"));
	ck_assert(peer_allowed(ep, "::1"));
	ck_assert(!peer_allowed(ep, "192.0.2.1"));
	ck_assert_uint_eq(ep->max_connections, 10);
	ck_assert_uint_eq(ep->max_per_source, 2);
	ck_assert_double_eq(ep->rate, 0.5);
	ck_assert_uint_eq(ep->burst, 4);
	ck_assert_double_eq(ep->udp_rate, 0);
	ck_assert_uint_eq(ep->udp_burst, 1);
	ck_assert(ep->udp_rate_loopback);
	ck_assert_uint_eq(ep->udp_sessions_per_source, 3);
	ck_assert_double_eq(ep->idle_timeout, 0.25);
	ck_assert_double_eq(ep->lifetime, 3600);
	ck_assert_uint_eq(ep->n_allow_uid, 0);

	ep = cfg->endpoints[1];
	ck_assert_str_eq(ep->name, "dt");
	ck_assert_int_eq(ep->line, 28);
	ck_assert_ptr_eq(ep->service, &service_daytime);
	ck_assert_uint_eq(ep->n_listen, 1);
	ck_assert_str_eq(daytime_options(ep)->format, "%Y-%m-%d %H:%M:%S");
	ck_assert_int_eq(ep->backlog, 1);

	ck_assert_ptr_eq(cfg->endpoints[2]->service, &service_time);
	ck_assert_ptr_eq(cfg->endpoints[3]->service, &service_chargen);
	ep = cfg->endpoints[4];
	ck_assert_ptr_eq(ep->service, &service_discard);
	/* libconfig reads 0660 as decimal 660; sockd reads its digits as octal */
	ck_assert_int_eq(ep->mode, 0660);
	ck_assert_uint_eq(ep->owner, 0);
	ck_assert_str_eq(ep->owner_name, "0");
	ck_assert_str_eq(ep->group_name, "root");
	ck_assert_ptr_null(ep->acl);
	ck_assert_uint_eq(ep->n_allow_uid, 2);
	ck_assert_uint_eq(ep->allow_uid[0], 0);
	ck_assert_uint_eq(ep->allow_uid[1], 1);
	ck_assert_str_eq(ep->allow_uid_names[0], "root");
	ck_assert_str_eq(ep->allow_uid_names[1], "1");
	ck_assert_uint_eq(ep->n_allow_gid, 2);
	ck_assert_uint_eq(ep->allow_gid[0], 0);
	ck_assert_uint_eq(ep->allow_gid[1], 0);
	ck_assert_str_eq(ep->allow_gid_names[0], "0");
	ck_assert_str_eq(ep->allow_gid_names[1], "root");
	config_free(cfg);
}
END_TEST

START_TEST(test_access_rules)
{
	struct sockd_config *cfg = load_ok(
	    "endpoints = (\n"
	    "  { name = \"a\"; listen = [ \"tcp:[::]:7007\", \"udp:[::]:7007\" ]; service = \"echo\";\n"
	    "    allow = ( \"10.0.0.0/8\", \"2001:db8::/32\" );\n"
	    "    deny = [ \"10.1.0.0/16\", \"::ffff:10.2.0.0/112\" ]; },\n"
	    "  { name = \"d\"; listen = \"udp:127.0.0.1:7009\"; service = \"discard\";\n"
	    "    deny = \"192.0.2.0/24\"; }\n"
	    ");\n");
	const struct endpoint *a = cfg->endpoints[0], *d = cfg->endpoints[1];

	/* the most specific rule wins; v4-mapped peers and rules are IPv4 */
	ck_assert(peer_allowed(a, "10.9.9.9"));
	ck_assert(!peer_allowed(a, "10.1.2.3"));
	ck_assert(!peer_allowed(a, "::ffff:10.1.2.3"));
	ck_assert(!peer_allowed(a, "10.2.0.1"));
	ck_assert(peer_allowed(a, "2001:db8::7"));
	ck_assert(!peer_allowed(a, "192.0.2.1"));
	ck_assert(!peer_allowed(a, "::1"));
	/* only deny rules: everyone else is allowed */
	ck_assert(peer_allowed(d, "127.0.0.1"));
	ck_assert(peer_allowed(d, "2001:db8::7"));
	ck_assert(!peer_allowed(d, "192.0.2.200"));
	config_free(cfg);
}
END_TEST

START_TEST(test_burst_default)
{
	struct { const char *text; unsigned burst; } cases[] = {
		{ "", 1 },
		{ "    rate = 0;\n", 1 },
		{ "    rate = 0.001;\n", 1 },
		{ "    rate = 1;\n", 1 },
		{ "    rate = 2.5;\n", 3 },
		{ "    rate = 10;\n", 10 },
		{ "    rate = 10.01;\n", 11 },
		{ "    rate = 1000000;\n", 1000000 },
		{ "    rate = 10; burst = 2;\n", 2 },
		{ "    burst = 50;\n", 50 },
	};
	char text[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockd_config *cfg;

		snprintf(text, sizeof(text), EP_HEAD "%s" EP_TAIL, cases[i].text);
		cfg = load_ok(text);
		ck_assert_msg(cfg->endpoints[0]->burst == cases[i].burst, "'%s' gave %u",
		    cases[i].text, cfg->endpoints[0]->burst);
		config_free(cfg);
	}
}
END_TEST

START_TEST(test_source_table_per_endpoint)
{
	struct sockd_config *cfg = load_ok(
	    "endpoints = (\n"
	    "  { name = \"a\"; listen = \"tcp:127.0.0.1:7007\"; service = \"echo\"; max_per_source = 1; },\n"
	    "  { name = \"b\"; listen = \"tcp:127.0.0.1:7009\"; service = \"discard\"; }\n"
	    ");\n");
	struct sockaddr_in peer = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	struct endpoint **ep = cfg->endpoints;

	/* Each endpoint counts its own sources. */
	ck_assert_ptr_nonnull(ep[0]->sources);
	ck_assert_ptr_nonnull(ep[1]->sources);
	ck_assert_ptr_ne(ep[0]->sources, ep[1]->sources);
	ck_assert_int_eq(source_acquire(ep[0]->sources, (struct sockaddr *)&peer, sizeof(peer), ep[0]->max_per_source), 0);
	ck_assert_int_eq(source_acquire(ep[0]->sources, (struct sockaddr *)&peer, sizeof(peer), ep[0]->max_per_source), -EBUSY);
	ck_assert_int_eq(source_acquire(ep[1]->sources, (struct sockaddr *)&peer, sizeof(peer), ep[1]->max_per_source), 0);
	ck_assert_uint_eq(source_count(ep[1]->sources, (struct sockaddr *)&peer, sizeof(peer)), 1);
	config_free(cfg);
}
END_TEST

START_TEST(test_mode_forms)
{
	struct { const char *text; int mode; } cases[] = {
		{ "mode = \"0660\";\n", 0660 },
		{ "mode = \"600\";\n", 0600 },
		{ "mode = \"0\";\n", 0 },
		{ "mode = 0777;\n", 0777 },
		{ "mode = 640;\n", 0640 },
		{ "mode = 0x1A0;\n", 0640 },
	};
	char text[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockd_config *cfg;

		snprintf(text, sizeof(text), UNIX_HEAD "    %s" EP_TAIL, cases[i].text);
		cfg = load_ok(text);
		ck_assert_msg(cfg->endpoints[0]->mode == cases[i].mode, "%s gave 0%o",
		    cases[i].text, (unsigned)cfg->endpoints[0]->mode);
		config_free(cfg);
	}
}
END_TEST

START_TEST(test_daemon_user_without_group)
{
	struct sockd_config *cfg = load_ok("daemon = { user = \"root\"; };\nendpoints = ();\n");

	ck_assert_str_eq(cfg->daemon.user, "root");
	ck_assert_ptr_null(cfg->daemon.group);
	ck_assert_uint_eq(cfg->daemon.uid, 0);
	ck_assert_uint_eq(cfg->daemon.gid, 0);  /* root's primary group */
	config_free(cfg);
}
END_TEST

START_TEST(test_shutdown_timeout_int)
{
	struct sockd_config *cfg = load_ok("daemon = { shutdown_timeout = 0; };\nendpoints = ();\n");

	ck_assert_double_eq(cfg->daemon.shutdown_timeout, 0.0);
	config_free(cfg);
}
END_TEST

/* ------------------------------------------------------------ exec, forward, PROXY */

static void
user_ids(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(name);

	ck_assert_msg(pw != NULL, "no user %s on this system", name);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
}

static gid_t
group_id(const char *name)
{
	struct group *gr = getgrnam(name);

	ck_assert_msg(gr != NULL, "no group %s on this system", name);
	return gr->gr_gid;
}

static bool
acl_allows_text(const struct acl *acl, const char *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1)
		return acl_allows(acl, (struct sockaddr *)&sin, sizeof(sin));
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	return acl_allows(acl, (struct sockaddr *)&sin6, sizeof(sin6));
}

START_TEST(test_exec_keys)
{
	struct sockd_config *cfg = load_ok(
	    "endpoints = (\n"
	    "  { name = \"prog\"; service = \"exec\";\n"
	    "    listen = [ \"tcp:127.0.0.1:7008\", \"unix:/tmp/check-prog.sock\", \"unix-seqpacket:@prog\" ];\n"
	    "    command = ( \"/bin/sh\", \"-c\", \"echo \\\"$GREETING\\\"\", \"\" );\n"
	    "    env = [ \"GREETING=hello world\", \"_x1=\", \"PATH=/usr/bin\" ];\n"
	    "    user = \"nobody:nogroup\";\n"
	    "    instances = 1000000;\n"
	    "    umask = \"077\";\n"
	    "    nice = -20;\n"
	    "    rlimit = { stack = 8388608; core = 0; nofile = \"unlimited\"; as = 17179869184L; };\n"
	    "  },\n"
	    "  { name = \"cat\"; listen = \"tcp:127.0.0.1:7009\"; service = \"exec\"; command = [ \"/bin/cat\" ];\n"
	    "    user = 0; umask = 22; nice = 19; env = \"A=B\"; instances = 0; }\n"
	    ");\n");
	const struct endpoint *ep = cfg->endpoints[0];
	uid_t nobody;
	gid_t nobody_gid;

	user_ids("nobody", &nobody, &nobody_gid);
	ck_assert_ptr_eq(ep->service, &service_exec);
	ck_assert_str_eq(exec_options(ep)->command[0], "/bin/sh");
	ck_assert_str_eq(exec_options(ep)->command[1], "-c");
	ck_assert_str_eq(exec_options(ep)->command[2], "echo \"$GREETING\"");
	ck_assert_str_eq(exec_options(ep)->command[3], "");
	ck_assert_ptr_null(exec_options(ep)->command[4]);
	ck_assert_str_eq(exec_options(ep)->env[0], "GREETING=hello world");
	ck_assert_str_eq(exec_options(ep)->env[1], "_x1=");
	ck_assert_str_eq(exec_options(ep)->env[2], "PATH=/usr/bin");
	ck_assert_ptr_null(exec_options(ep)->env[3]);
	ck_assert_str_eq(exec_options(ep)->user, "nobody");
	ck_assert_str_eq(exec_options(ep)->group, "nogroup");
	ck_assert_uint_eq(exec_options(ep)->uid, nobody);
	ck_assert_uint_eq(exec_options(ep)->gid, group_id("nogroup"));
	ck_assert_uint_eq(exec_options(ep)->instances, 1000000);
	ck_assert_int_eq(exec_options(ep)->umask, 077);
	ck_assert_int_eq(exec_options(ep)->nice, -20);
	/* in a fixed order, whatever the file's */
	ck_assert_uint_eq(exec_options(ep)->n_rlimits, 4);
	ck_assert_int_eq(exec_options(ep)->rlimits[0].resource, RLIMIT_AS);
	ck_assert_uint_eq(exec_options(ep)->rlimits[0].soft, 17179869184ULL);
	ck_assert_uint_eq(exec_options(ep)->rlimits[0].hard, 17179869184ULL);
	ck_assert_int_eq(exec_options(ep)->rlimits[1].resource, RLIMIT_CORE);
	ck_assert_uint_eq(exec_options(ep)->rlimits[1].soft, 0);
	ck_assert_uint_eq(exec_options(ep)->rlimits[1].hard, 0);
	ck_assert_int_eq(exec_options(ep)->rlimits[2].resource, RLIMIT_NOFILE);
	ck_assert(exec_options(ep)->rlimits[2].soft == RLIM_INFINITY);
	ck_assert(exec_options(ep)->rlimits[2].hard == RLIM_INFINITY);
	ck_assert_int_eq(exec_options(ep)->rlimits[3].resource, RLIMIT_STACK);
	ck_assert_uint_eq(exec_options(ep)->rlimits[3].soft, 8388608);
	/* nothing of the other services: its options are exec's */
	ck_assert_int_eq(ep->proxy_protocol, 0);
	ck_assert_ptr_eq(ep->service->keys, service_exec.keys);

	ep = cfg->endpoints[1];
	ck_assert_str_eq(exec_options(ep)->command[0], "/bin/cat");
	ck_assert_ptr_null(exec_options(ep)->command[1]);
	ck_assert_str_eq(exec_options(ep)->env[0], "A=B");
	ck_assert_ptr_null(exec_options(ep)->env[1]);
	ck_assert_str_eq(exec_options(ep)->user, "0");
	ck_assert_ptr_null(exec_options(ep)->group);
	ck_assert_uint_eq(exec_options(ep)->uid, 0);
	ck_assert_uint_eq(exec_options(ep)->gid, 0);     /* root's primary group */
	ck_assert_int_eq(exec_options(ep)->umask, 022);       /* the digits of 22, as for mode */
	ck_assert_int_eq(exec_options(ep)->nice, 19);
	ck_assert_uint_eq(exec_options(ep)->instances, 0);
	ck_assert_uint_eq(exec_options(ep)->n_rlimits, 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_exec_user_forms)
{
	uid_t nobody;
	gid_t nobody_gid;

	user_ids("nobody", &nobody, &nobody_gid);
	struct {
		const char *text;
		uid_t uid;
		gid_t gid;
		const char *user, *group;
	} cases[] = {
		{ "\"root\"", 0, 0, "root", NULL },
		{ "\"0\"", 0, 0, "0", NULL },
		{ "0", 0, 0, "0", NULL },
		{ "\"root:nogroup\"", 0, group_id("nogroup"), "root", "nogroup" },
		{ "\"0:0\"", 0, 0, "0", "0" },
		{ "\"nobody\"", nobody, nobody_gid, "nobody", NULL },
		{ "\"nobody:root\"", nobody, 0, "nobody", "root" },
		/* no passwd entry needed when the group is given */
		{ "\"4000000000:4000000001\"", 4000000000U, 4000000001U, "4000000000", "4000000001" },
	};
	char text[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockd_config *cfg;
		const struct endpoint *ep;

		snprintf(text, sizeof(text), EXEC_HEAD "    user = %s;\n" EP_TAIL, cases[i].text);
		cfg = load_ok(text);
		ep = cfg->endpoints[0];
		ck_assert_msg(exec_options(ep)->uid == cases[i].uid && exec_options(ep)->gid == cases[i].gid,
		    "%s gave %u:%u", cases[i].text, (unsigned)exec_options(ep)->uid, (unsigned)exec_options(ep)->gid);
		ck_assert_str_eq(exec_options(ep)->user, cases[i].user);
		if (cases[i].group)
			ck_assert_str_eq(exec_options(ep)->group, cases[i].group);
		else
			ck_assert_ptr_null(exec_options(ep)->group);
		config_free(cfg);
	}
}
END_TEST

START_TEST(test_exec_user_daemon_user)
{
	struct sockd_config *cfg;
	struct diag d = { 0 };

	/* The user sockd drops to anyway: the child stays as it is. */
	cfg = load_ok("daemon = { user = \"root\"; };\n" EXEC_HEAD "    user = \"root\";\n" EP_TAIL);
	ck_assert_str_eq(exec_options(cfg->endpoints[0])->user, "root");
	ck_assert_uint_eq(exec_options(cfg->endpoints[0])->uid, (uid_t)-1);
	ck_assert_uint_eq(exec_options(cfg->endpoints[0])->gid, (gid_t)-1);
	config_free(cfg);
	cfg = load_ok(EXEC_HEAD "    user = \"0:0\";\n" EP_TAIL "daemon = { user = \"root\"; group = \"root\"; };\n");
	ck_assert_uint_eq(exec_options(cfg->endpoints[0])->uid, (uid_t)-1);
	config_free(cfg);

	/* Another user (or group) needs root; daemon may come after the endpoint. */
	ck_assert_int_eq(load_text(EXEC_HEAD "    user = \"nobody\";\n" EP_TAIL
	    "daemon = { user = \"root\"; };\n", &cfg, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	assert_line(&d, 0, 6, "exec 'user' needs sockd to run as root: "
	    "remove daemon.user or run the program as 'root'");
	diag_free(&d);
	ck_assert_int_eq(load_text("daemon = {\n  user = \"nobody\";\n  group = \"root\";\n};\n"
	    EXEC_HEAD "    user = \"nobody\";\n" EP_TAIL, &cfg, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	assert_line(&d, 0, 10, "exec 'user' needs sockd to run as root: "
	    "remove daemon.user or run the program as 'nobody:root'");
	diag_free(&d);
}
END_TEST

START_TEST(test_forward_keys)
{
	struct sockd_config *cfg = load_ok(
	    "endpoints = (\n"
	    "  { name = \"mysql\"; listen = \"tcp:127.0.0.1:3307\"; service = \"forward\";\n"
	    "    upstream = \"unix:/run/mysqld/mysqld.sock\"; },\n"
	    "  { name = \"rev\"; listen = [ \"unix:/tmp/check-rev.sock\", \"tcp:[::1]:3308\" ]; service = \"forward\";\n"
	    "    upstream = ( \"tcp:127.0.0.1:3306\", \"tcp:[::1]:3306\", \"unix-seqpacket:@up\" );\n"
	    "    connect_timeout = 0.1; balance = \"roundrobin\"; send_proxy = \"v1\"; },\n"
	    "  { name = \"dns\"; listen = \"udp:127.0.0.1:5353\"; service = \"forward\";\n"
	    "    upstream = [ \"udp:127.0.0.1:53\", \"unix-dgram:/tmp/up.sock\" ];\n"
	    "    connect_timeout = 3600; balance = \"first\"; },\n"
	    "  { name = \"v2\"; listen = \"unix-seqpacket:@in\"; service = \"forward\";\n"
	    "    upstream = \"tcp:127.0.0.1:25\"; send_proxy = \"v2\"; }\n"
	    ");\n");
	const char *rev[] = { "tcp:127.0.0.1:3306", "tcp:[::1]:3306", "unix-seqpacket:@up" };
	const struct endpoint *ep = cfg->endpoints[0];
	char buf[ADDR_STRLEN];

	ck_assert_ptr_eq(ep->service, &service_forward);
	ck_assert_uint_eq(forward_options(ep)->n_upstream, 1);
	ck_assert_str_eq(addr_format(&forward_options(ep)->upstream[0], buf, sizeof(buf)), "unix:/run/mysqld/mysqld.sock");
	ck_assert_double_eq(forward_options(ep)->connect_timeout, 5);
	ck_assert_int_eq(forward_options(ep)->balance, BALANCE_FIRST);
	ck_assert_int_eq(forward_options(ep)->send_proxy, 0);
	ck_assert_ptr_eq(ep->service->keys, service_forward.keys);

	ep = cfg->endpoints[1];
	ck_assert_uint_eq(forward_options(ep)->n_upstream, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(addr_format(&forward_options(ep)->upstream[i], buf, sizeof(buf)), rev[i]);
	ck_assert_double_eq(forward_options(ep)->connect_timeout, 0.1);
	ck_assert_int_eq(forward_options(ep)->balance, BALANCE_ROUNDROBIN);
	ck_assert_int_eq(forward_options(ep)->send_proxy, PROXY_V1);

	ep = cfg->endpoints[2];
	ck_assert_uint_eq(forward_options(ep)->n_upstream, 2);
	ck_assert_int_eq(forward_options(ep)->upstream[0].type, ADDR_UDP);
	ck_assert_int_eq(forward_options(ep)->upstream[1].type, ADDR_UNIX_DGRAM);
	ck_assert_double_eq(forward_options(ep)->connect_timeout, 3600);
	ck_assert_int_eq(forward_options(ep)->balance, BALANCE_FIRST);

	ck_assert_int_eq(forward_options(cfg->endpoints[3])->send_proxy, PROXY_V2);
	config_free(cfg);
}
END_TEST

START_TEST(test_proxy_keys)
{
	struct sockd_config *cfg = load_ok(
	    "endpoints = (\n"
	    "  { name = \"p\"; listen = [ \"tcp:[::]:7010\", \"unix:@p\" ]; service = \"echo\";\n"
	    "    proxy_protocol = \"v2\"; proxy_from = [ \"10.0.0.0/8\", \"::1\" ]; proxy_timeout = 0.5;\n"
	    "    allow = \"192.0.2.0/24\"; },\n"
	    "  { name = \"q\"; listen = \"tcp:127.0.0.1:7011\"; service = \"exec\"; command = [ \"/bin/cat\" ];\n"
	    "    proxy_protocol = \"v1\"; },\n"
	    "  { name = \"r\"; listen = \"unix:/tmp/check-r.sock\"; service = \"forward\";\n"
	    "    upstream = \"tcp:127.0.0.1:25\"; proxy_protocol = \"any\"; allow_uid = \"root\"; }\n"
	    ");\n");
	const struct endpoint *ep = cfg->endpoints[0];

	ck_assert_int_eq(ep->proxy_protocol, PROXY_V2);
	ck_assert_double_eq(ep->proxy_timeout, 0.5);
	/* proxy_from trusts senders; allow/deny judge the clients they speak for */
	ck_assert_ptr_nonnull(ep->proxy_from);
	ck_assert(acl_allows_text(ep->proxy_from, "10.1.2.3"));
	ck_assert(acl_allows_text(ep->proxy_from, "::ffff:10.1.2.3"));
	ck_assert(acl_allows_text(ep->proxy_from, "::1"));
	ck_assert(!acl_allows_text(ep->proxy_from, "192.0.2.1"));
	ck_assert(!acl_allows_text(ep->proxy_from, "127.0.0.1"));
	ck_assert(acl_allows_text(ep->acl, "192.0.2.1"));
	ck_assert(!acl_allows_text(ep->acl, "10.1.2.3"));

	ep = cfg->endpoints[1];
	ck_assert_int_eq(ep->proxy_protocol, PROXY_V1);
	ck_assert_ptr_null(ep->proxy_from);     /* any sender */
	ck_assert_double_eq(ep->proxy_timeout, 3);

	ep = cfg->endpoints[2];
	ck_assert_int_eq(ep->proxy_protocol, PROXY_ANY);
	ck_assert_uint_eq(ep->n_allow_uid, 1);
	config_free(cfg);
}
END_TEST

/* ------------------------------------------------------------ one error each */

struct error_case {
	const char *text;
	int line;               /* 0: the message has no line number */
	const char *msg;        /* '@' stands for the config's path */
};

static const struct error_case error_cases[] = {
	/* daemon */
	{ "daemon = {\n  workers = 1025;\n};\nendpoints = ();\n", 2, "'workers' must be between 0 and 1024" },
	{ "daemon = {\n  workers = -1;\n};\nendpoints = ();\n", 2, "'workers' must be between 0 and 1024" },
	{ "daemon = {\n  workers = 1.0;\n};\nendpoints = ();\n", 2, "'workers' must be an integer" },
	{ "daemon = {\n  queue = 0;\n};\nendpoints = ();\n", 2, "'queue' must be between 1 and 1048576" },
	{ "daemon = {\n  queue = 1048577;\n};\nendpoints = ();\n", 2, "'queue' must be between 1 and 1048576" },
	{ "daemon = {\n\n  queue = \"4096\";\n};\nendpoints = ();\n", 3, "'queue' must be an integer" },
	{ "daemon = {\n  max_connections = 10000001;\n};\nendpoints = ();\n", 2, "'max_connections' must be between 1 and 10000000" },
	{ "daemon = {\n  max_connections = 0;\n};\nendpoints = ();\n", 2, "'max_connections' must be between 1 and 10000000" },
	{ "daemon = {\n  shutdown_timeout = 3600.5;\n};\nendpoints = ();\n", 2, "'shutdown_timeout' must be between 0 and 3600" },
	{ "daemon = {\n  shutdown_timeout = -0.1;\n};\nendpoints = ();\n", 2, "'shutdown_timeout' must be between 0 and 3600" },
	{ "daemon = {\n  shutdown_timeout = \"10\";\n};\nendpoints = ();\n", 2, "'shutdown_timeout' must be a number" },
	{ "daemon = {\n  log_level = \"verbose\";\n};\nendpoints = ();\n", 2, "unknown log_level 'verbose' (err, warning, notice, info, debug)" },
	{ "daemon = {\n  log_level = 7;\n};\nendpoints = ();\n", 2, "'log_level' must be a string" },
	{ "daemon = {\n  control = \"control.sock\";\n};\nendpoints = ();\n", 2, "'control' must be an absolute path or @@name of at most 107 bytes" },
	{ "daemon = {\n  control = \"@\";\n};\nendpoints = ();\n", 2, "'control' must be an absolute path or @@name of at most 107 bytes" },
	{ "daemon = {\n  control = 1;\n};\nendpoints = ();\n", 2, "'control' must be a string" },
	{ "daemon = {\n  include_dir = \"conf.d\";\n};\nendpoints = ();\n", 2, "'include_dir' must be an absolute path" },
	{ "daemon = {\n  include_dir = \"\";\n};\nendpoints = ();\n", 2, "'include_dir' must be an absolute path" },
	{ "daemon = {\n  include_dir = [ \"/etc\" ];\n};\nendpoints = ();\n", 2, "'include_dir' must be a string" },
	{ "daemon = {\n  include_dir = \"/dev/null\";\n};\nendpoints = ();\n", 2, "cannot read include_dir '/dev/null': Not a directory" },
	{ "daemon = {\n  worker = 1;\n};\nendpoints = ();\n", 2, "unknown key 'worker' in daemon" },
	{ "daemon = {\n  user = \"" NO_USER "\";\n};\nendpoints = ();\n", 2, "unknown user '" NO_USER "'" },
	{ "daemon = {\n  user = 0;\n};\nendpoints = ();\n", 2, "'user' must be a string" },
	{ "daemon = {\n  user = \"root\";\n  group = \"" NO_GROUP "\";\n};\nendpoints = ();\n", 3, "unknown group '" NO_GROUP "'" },
	{ "daemon = {\n  group = \"root\";\n};\nendpoints = ();\n", 2, "'group' requires 'user'" },
	{ "\ndaemon = 1;\nendpoints = ();\n", 2, "'daemon' must be a group ({ ... })" },
	/* top level */
	{ "endpoints = ();\nendpoint = ();\n", 2, "unknown top-level key 'endpoint'" },
	{ "daemon = { };\n", 0, "'endpoints' is missing (an empty list is \"endpoints = ();\")" },
	{ "\nendpoints = \"echo\";\n", 2, "'endpoints' must be a list of groups: ( { ... }, { ... } )" },
	{ "endpoints = (\n  \"echo\" );\n", 2, "endpoint #1 must be a group ({ ... })" },
	/* libconfig itself */
	{ "daemon = {\n  workers = 1;\n  queue = = 2;\n};\n", 3, "syntax error" },
	{ "daemon = {\n  workers = 1;\n  workers = 2;\n};\n", 3, "duplicate setting name" },
	/* endpoint: required keys */
	{ "endpoints = (\n  { listen = \"tcp:127.0.0.1:7\";\n    service = \"echo\"; }\n);\n", 2, "endpoint #1 has no 'name'" },
	{ "endpoints = (\n  { name = \"e\";\n    service = \"echo\"; }\n);\n", 2, "endpoint 'e' has no 'listen'" },
	{ "endpoints = (\n  { name = \"e\";\n    listen = \"tcp:127.0.0.1:7\"; }\n);\n", 2, "endpoint 'e' has no 'service'" },
	/* name */
	{ "endpoints = (\n  { name = 1; listen = \"tcp:127.0.0.1:7\"; service = \"echo\"; }\n);\n", 2, "'name' must be a string" },
	{ "endpoints = (\n  { listen = \"tcp:127.0.0.1:7\"; service = \"echo\";\n    name = \"a b\"; }\n);\n", 3,
	  "invalid endpoint name 'a b' (1 to 64 letters, digits, '_', '.', '-' or '/')" },
	{ "endpoints = (\n  { listen = \"tcp:127.0.0.1:7\"; service = \"echo\";\n    name = \"\"; }\n);\n", 3,
	  "invalid endpoint name '' (1 to 64 letters, digits, '_', '.', '-' or '/')" },
	{ "endpoints = (\n  { listen = \"tcp:127.0.0.1:7\"; service = \"echo\";\n"
	  "    name = \"x1234567890123456789012345678901234567890123456789012345678901234\"; }\n);\n", 3,
	  "invalid endpoint name 'x1234567890123456789012345678901234567890123456789012345678901234' (1 to 64 letters, digits, '_', '.', '-' or '/')" },
	{ EP_HEAD "  },\n  { name = \"e\"; listen = \"tcp:127.0.0.1:7\"; service = \"echo\"; }\n);\n", 6,
	  "endpoint name 'e' is already used (@:2)" },
	/* listen */
	{ EP("    listen2 = 1;\n"), 5, "unknown key 'listen2' in endpoint 'e'" },
	{ "endpoints = (\n  { name = \"e\"; service = \"echo\";\n    listen = [];\n  }\n);\n", 3, "'listen' must have at least one address" },
	{ "endpoints = (\n  { name = \"e\"; service = \"echo\";\n    listen = 7;\n  }\n);\n", 3, "'listen' must be a string or a list of strings" },
	{ "endpoints = (\n  { name = \"e\"; service = \"echo\";\n    listen = ( \"tcp:127.0.0.1:7\",\n      7 );\n  }\n);\n", 4, "'listen' must contain only strings" },
	{ "endpoints = (\n  { name = \"e\"; service = \"echo\";\n    listen = [ \"tcp:127.0.0.1:7\",\n      \"tcp:127.0.0.1\" ];\n  }\n);\n", 4,
	  "invalid address 'tcp:127.0.0.1': missing port" },
	{ "endpoints = (\n  { name = \"e\"; service = \"echo\";\n    listen = [ \"tcp:127.0.0.1:7\",\n      \"tcp:127.0.0.1:07\" ];\n  }\n);\n", 4,
	  "address 'tcp:127.0.0.1:07' is already used by endpoint 'e' (@:3)" },
	{ EP_HEAD "  },\n  { name = \"f\"; service = \"discard\";\n    listen = \"tcp:127.0.0.1:7007\"; }\n);\n", 7,
	  "address 'tcp:127.0.0.1:7007' is already used by endpoint 'e' (@:3)" },
	/* service */
	{ "endpoints = (\n  { name = \"e\"; listen = \"tcp:127.0.0.1:7\";\n    service = \"qotd\"; }\n);\n", 3,
	  "unknown service 'qotd' (" SERVICES ")" },
	{ "endpoints = (\n  { name = \"e\"; listen = \"tcp:127.0.0.1:7\";\n    service = [ \"echo\" ]; }\n);\n", 3, "'service' must be a string" },
	/* plain options */
	{ EP("    backlog = 0;\n"), 5, "'backlog' must be between 1 and 65535" },
	{ EP("    backlog = 65536;\n"), 5, "'backlog' must be between 1 and 65535" },
	{ EP("    backlog = \"128\";\n"), 5, "'backlog' must be an integer" },
	{ EP("    v6only = 1;\n"), 5, "'v6only' must be a boolean (true or false)" },
	{ EP("    udp_guard = \"yes\";\n"), 5, "'udp_guard' must be a boolean (true or false)" },
	{ EP("    overload = \"drop\";\n"), 5, "unknown overload 'drop' (wait, reject)" },
	{ EP("    overload = true;\n"), 5, "'overload' must be a string" },
	/* Unix socket file options */
	{ EP("    mode = \"0660\";\n"), 5, "'mode' is only allowed with a Unix socket path address" },
	{ EP("    owner = \"root\";\n"), 5, "'owner' is only allowed with a Unix socket path address" },
	{ EP("    group = \"root\";\n"), 5, "'group' is only allowed with a Unix socket path address" },
	{ "endpoints = (\n  { name = \"e\"; listen = \"unix:@abstract\"; service = \"echo\";\n    mode = \"0600\"; }\n);\n", 3,
	  "'mode' is only allowed with a Unix socket path address" },
	{ UNIX_EP("    mode = \"0668\";\n"), 5, "invalid mode '0668' (octal digits expected, like \"0660\")" },
	{ UNIX_EP("    mode = \"\";\n"), 5, "invalid mode '' (octal digits expected, like \"0660\")" },
	{ UNIX_EP("    mode = \"rw-r--r--\";\n"), 5, "invalid mode 'rw-r--r--' (octal digits expected, like \"0660\")" },
	{ UNIX_EP("    mode = 0680;\n"), 5, "invalid mode '680' (octal digits expected, like \"0660\")" },
	{ UNIX_EP("    mode = \"1777\";\n"), 5, "'mode' must be between 0 and 0777" },
	{ UNIX_EP("    mode = -1;\n"), 5, "'mode' must be between 0 and 0777" },
	{ UNIX_EP("    mode = 0x200;\n"), 5, "'mode' must be between 0 and 0777" },
	{ UNIX_EP("    mode = 6.6;\n"), 5, "'mode' must be an octal string like \"0660\" or an integer" },
	{ UNIX_EP("    owner = \"" NO_USER "\";\n"), 5, "unknown user '" NO_USER "'" },
	{ UNIX_EP("    owner = -2;\n"), 5, "'owner' must be between 0 and 4294967294" },
	{ UNIX_EP("    owner = \"4294967295\";\n"), 5, "'owner' must be between 0 and 4294967294" },
	{ UNIX_EP("    owner = true;\n"), 5, "'owner' must be a user name or a number" },
	{ UNIX_EP("    group = \"" NO_GROUP "\";\n"), 5, "unknown group '" NO_GROUP "'" },
	{ UNIX_EP("    group = 1.5;\n"), 5, "'group' must be a group name or a number" },
	/* daytime_format */
	{ EP("    daytime_format = \"%H:%M\";\n"), 5, "'daytime_format' is only allowed with service 'daytime'" },
	{ "endpoints = (\n  { name = \"d\"; listen = \"tcp:127.0.0.1:13\"; service = \"daytime\";\n    daytime_format = \"\"; }\n);\n", 3,
	  "invalid daytime_format '' (it must give one line of printable ASCII)" },
	{ "endpoints = (\n  { name = \"d\"; listen = \"tcp:127.0.0.1:13\"; service = \"daytime\";\n    daytime_format = \"%H\\n%M\"; }\n);\n", 3,
	  "invalid daytime_format '%H?%M' (it must give one line of printable ASCII)" },
	{ "endpoints = (\n  { name = \"d\"; listen = \"tcp:127.0.0.1:13\"; service = \"daytime\";\n    daytime_format = 1; }\n);\n", 3,
	  "'daytime_format' must be a string" },
	{ EP("    zz = 1;\n"), 5, "unknown key 'zz' in endpoint 'e'" },
	/* allow/deny */
	{ EP("    allow = [ \"10.0.0.0/8\",\n      \"10.0.0.1/8\" ];\n"), 6,
	  "invalid address rule '10.0.0.1/8' in 'allow': host bits set" },
	{ EP("    deny = \"10.0.0.0/33\";\n"), 5, "invalid address rule '10.0.0.0/33' in 'deny': prefix length longer than 32" },
	{ EP("    deny = \"::/200\";\n"), 5, "invalid address rule '::/200' in 'deny': prefix length longer than 128" },
	{ EP("    allow = \"10.0.0.0/x\";\n"), 5, "invalid address rule '10.0.0.0/x' in 'allow': invalid prefix length" },
	{ EP("    allow = \"localhost\";\n"), 5, "invalid address rule 'localhost' in 'allow': not an IP address or network" },
	{ EP("    allow = ( \"\" );\n"), 5, "invalid address rule '' in 'allow': empty rule" },
	{ EP("    allow = 10;\n"), 5, "'allow' must be a string or a list of strings" },
	{ EP("    deny = ( \"10.0.0.0/8\",\n      8 );\n"), 6, "'deny' must contain only strings" },
	{ EP("    allow = [];\n"), 5, "'allow' must have at least one rule" },
	{ EP("    deny = ();\n"), 5, "'deny' must have at least one rule" },
	{ UNIX_EP("    allow = \"10.0.0.0/8\";\n"), 5, "'allow' is only allowed on endpoints with tcp or udp addresses" },
	{ UNIX_EP("    deny = \"0.0.0.0/0\";\n"), 5, "'deny' is only allowed on endpoints with tcp or udp addresses" },
	/* allow_uid/allow_gid */
	{ EP("    allow_uid = \"root\";\n"), 5, "'allow_uid' is only allowed on Unix socket endpoints" },
	{ EP("    allow_gid = [ 0 ];\n"), 5, "'allow_gid' is only allowed on Unix socket endpoints" },
	{ "endpoints = (\n  { name = \"u\"; listen = [ \"unix:@u\", \"udp:127.0.0.1:7\" ]; service = \"echo\";\n"
	  "    allow_uid = 0; }\n);\n", 3, "'allow_uid' is only allowed on Unix socket endpoints" },
	{ UNIX_EP("    allow_uid = [];\n"), 5, "'allow_uid' must have at least one user" },
	{ UNIX_EP("    allow_gid = ();\n"), 5, "'allow_gid' must have at least one group" },
	{ UNIX_EP("    allow_uid = true;\n"), 5, "'allow_uid' must be a user name or a number, or a list of them" },
	{ UNIX_EP("    allow_gid = { x = 1; };\n"), 5, "'allow_gid' must be a group name or a number, or a list of them" },
	{ UNIX_EP("    allow_uid = ( \"root\",\n      1.5 );\n"), 6, "'allow_uid' must contain only user names or numbers" },
	{ UNIX_EP("    allow_gid = ( [ 1 ] );\n"), 5, "'allow_gid' must contain only group names or numbers" },
	{ UNIX_EP("    allow_uid = ( \"root\",\n      \"" NO_USER "\" );\n"), 6, "unknown user '" NO_USER "'" },
	{ UNIX_EP("    allow_gid = \"" NO_GROUP "\";\n"), 5, "unknown group '" NO_GROUP "'" },
	{ UNIX_EP("    allow_uid = -1;\n"), 5, "'allow_uid' must be between 0 and 4294967294" },
	{ UNIX_EP("    allow_gid = [ \"4294967295\" ];\n"), 5, "'allow_gid' must be between 0 and 4294967294" },
	/* limits and timeouts */
	{ EP("    max_connections = -1;\n"), 5, "'max_connections' must be between 0 and 10000000" },
	{ EP("    max_connections = 10000001;\n"), 5, "'max_connections' must be between 0 and 10000000" },
	{ EP("    max_connections = \"5\";\n"), 5, "'max_connections' must be an integer" },
	{ EP("    max_per_source = 1000001;\n"), 5, "'max_per_source' must be between 0 and 1000000" },
	{ EP("    max_per_source = 1.0;\n"), 5, "'max_per_source' must be an integer" },
	{ EP("    rate = -0.5;\n"), 5, "'rate' must be between 0 and 1000000" },
	{ EP("    rate = 1000000.5;\n"), 5, "'rate' must be between 0 and 1000000" },
	{ EP("    rate = \"10/s\";\n"), 5, "'rate' must be a number" },
	{ EP("    burst = 0;\n"), 5, "'burst' must be between 1 and 1000000" },
	{ EP("    burst = 1000001;\n"), 5, "'burst' must be between 1 and 1000000" },
	{ EP("    burst = 2.0;\n"), 5, "'burst' must be an integer" },
	{ EP("    udp_rate = -1;\n"), 5, "'udp_rate' must be between 0 and 1000000" },
	{ EP("    udp_rate = false;\n"), 5, "'udp_rate' must be a number" },
	{ EP("    udp_burst = 0;\n"), 5, "'udp_burst' must be between 1 and 1000000" },
	{ EP("    udp_burst = \"40\";\n"), 5, "'udp_burst' must be an integer" },
	{ EP("    udp_rate_loopback = 1;\n"), 5, "'udp_rate_loopback' must be a boolean (true or false)" },
	{ EP("    udp_sessions_per_source = -1;\n"), 5, "'udp_sessions_per_source' must be between 0 and 1000000" },
	{ EP("    udp_sessions_per_source = 1000001;\n"), 5,
	  "'udp_sessions_per_source' must be between 0 and 1000000" },
	{ EP("    udp_sessions_per_source = 2.5;\n"), 5, "'udp_sessions_per_source' must be an integer" },
	{ EP("    idle_timeout = -1;\n"), 5, "'idle_timeout' must be between 0 and 31536000" },
	{ EP("    idle_timeout = \"5m\";\n"), 5, "'idle_timeout' must be a number" },
	{ EP("    lifetime = 31536000.5;\n"), 5, "'lifetime' must be between 0 and 31536000" },
	{ EP("    lifetime = [ 1 ];\n"), 5, "'lifetime' must be a number" },
	/* allow_uid/allow_gid on datagram Unix sockets */
	{ "endpoints = (\n  { name = \"u\"; listen = [ \"unix:@u\", \"unix-dgram:@u\" ]; service = \"echo\";\n"
	  "    allow_uid = 0; }\n);\n", 3, "'allow_uid' is only allowed on Unix stream and seqpacket endpoints" },
	{ "endpoints = (\n  { name = \"u\"; listen = \"unix-dgram:/tmp/d.sock\"; service = \"echo\";\n"
	  "    allow_gid = \"root\"; }\n);\n", 3, "'allow_gid' is only allowed on Unix stream and seqpacket endpoints" },
	/* PROXY protocol */
	{ EP("    proxy_protocol = \"v3\";\n"), 5, "unknown proxy_protocol 'v3' (v1, v2, any)" },
	{ EP("    proxy_protocol = 2;\n"), 5, "'proxy_protocol' must be a string" },
	{ "endpoints = (\n  { name = \"e\"; listen = [ \"tcp:127.0.0.1:7\", \"udp:127.0.0.1:7\" ]; service = \"echo\";\n"
	  "    proxy_protocol = \"v1\"; }\n);\n", 3, "'proxy_protocol' is only allowed on stream endpoints " STREAM_ONLY },
	{ "endpoints = (\n  { name = \"e\"; listen = \"unix-dgram:@e\"; service = \"echo\";\n"
	  "    proxy_protocol = \"any\"; }\n);\n", 3, "'proxy_protocol' is only allowed on stream endpoints " STREAM_ONLY },
	{ EP("    proxy_from = \"10.0.0.0/8\";\n"), 5, "'proxy_from' requires 'proxy_protocol'" },
	{ EP("    proxy_timeout = 5;\n"), 5, "'proxy_timeout' requires 'proxy_protocol'" },
	{ EP("    proxy_protocol = \"v2\";\n    proxy_timeout = 0.05;\n"), 6, "'proxy_timeout' must be between 0.1 and 3600" },
	{ EP("    proxy_protocol = \"v2\";\n    proxy_timeout = 3601;\n"), 6, "'proxy_timeout' must be between 0.1 and 3600" },
	{ EP("    proxy_protocol = \"v2\";\n    proxy_timeout = \"3s\";\n"), 6, "'proxy_timeout' must be a number" },
	{ EP("    proxy_protocol = \"v2\";\n    proxy_from = \"10.0.0.1/8\";\n"), 6,
	  "invalid address rule '10.0.0.1/8' in 'proxy_from': host bits set" },
	{ EP("    proxy_protocol = \"v2\";\n    proxy_from = [];\n"), 6, "'proxy_from' must have at least one rule" },
	{ EP("    proxy_protocol = \"v2\";\n    proxy_from = 10;\n"), 6, "'proxy_from' must be a string or a list of strings" },
	{ UNIX_EP("    proxy_protocol = \"v2\";\n    proxy_from = \"10.0.0.0/8\";\n"), 6,
	  "'proxy_from' is only allowed on endpoints with tcp addresses (allow_uid and allow_gid pick trusted Unix senders)" },
	/* exec: keys of its own */
	{ EP("    command = [ \"/bin/cat\" ];\n"), 5, "'command' is only allowed with service 'exec'" },
	{ EP("    env = \"A=1\";\n"), 5, "'env' is only allowed with service 'exec'" },
	{ EP("    user = \"root\";\n"), 5, "'user' is only allowed with service 'exec'" },
	{ EP("    instances = 1;\n"), 5, "'instances' is only allowed with service 'exec'" },
	{ EP("    umask = \"022\";\n"), 5, "'umask' is only allowed with service 'exec'" },
	{ EP("    nice = 1;\n"), 5, "'nice' is only allowed with service 'exec'" },
	{ EP("    rlimit = { core = 0; };\n"), 5, "'rlimit' is only allowed with service 'exec'" },
	{ FWD_EP("    command = [ \"/bin/cat\" ];\n"), 6, "'command' is only allowed with service 'exec'" },
	{ "endpoints = (\n  { name = \"x\"; listen = \"tcp:127.0.0.1:7\";\n    service = \"exec\"; }\n);\n", 2,
	  "endpoint 'x' has no 'command' (service 'exec' requires it)" },
	{ "endpoints = (\n  { name = \"x\"; service = \"exec\"; command = [ \"/bin/cat\" ];\n"
	  "    listen = [ \"tcp:127.0.0.1:7\",\n      \"udp:127.0.0.1:7\" ]; }\n);\n", 4,
	  "service 'exec' does not serve datagram addresses like 'udp:127.0.0.1:7'" },
	{ "endpoints = (\n  { name = \"x\"; service = \"exec\"; command = [ \"/bin/cat\" ];\n"
	  "    listen = \"unix-dgram:/tmp/x.sock\"; }\n);\n", 3,
	  "service 'exec' does not serve datagram addresses like 'unix-dgram:/tmp/x.sock'" },
	/* command */
	{ CMD("\"/bin/cat\""), 3, "'command' must be a list of strings, like [ \"/usr/bin/prog\", \"arg\" ]" },
	{ CMD("[]"), 3, "'command' must have at least the program's path" },
	{ CMD("( \"/bin/cat\",\n      1 )"), 4, "'command' must contain only strings" },
	{ CMD("( 1, \"/bin/cat\" )"), 3, "'command' must contain only strings" },
	{ CMD("[ \"cat\" ]"), 3, "'command' must start with an absolute path" },
	{ CMD("[ \"\" ]"), 3, "'command' must start with an absolute path" },
	{ CMD("[ \"/nonexistent/sockd-check\", \"-x\" ]"), 3, "command '/nonexistent/sockd-check': No such file or directory" },
	{ CMD("[ \"/etc/passwd/x\" ]"), 3, "command '/etc/passwd/x': Not a directory" },
	{ CMD("[ \"/etc/passwd\" ]"), 3, "command '/etc/passwd' is not an executable file" },
	{ CMD("[ \"/bin\" ]"), 3, "command '/bin' is not an executable file" },
	/* env */
	{ EXEC_EP("    env = [ \"A=1\",\n      \"1A=2\" ];\n"), 7, "invalid env entry '1A=2' " ENV_MSG },
	{ EXEC_EP("    env = \"A\";\n"), 6, "invalid env entry 'A' " ENV_MSG },
	{ EXEC_EP("    env = \"=x\";\n"), 6, "invalid env entry '=x' " ENV_MSG },
	{ EXEC_EP("    env = \"A-B=x\";\n"), 6, "invalid env entry 'A-B=x' " ENV_MSG },
	{ EXEC_EP("    env = [ \"A=1\", \"AB=2\",\n      \"A=3\" ];\n"), 7, "'env' sets 'A' twice" },
	{ EXEC_EP("    env = [];\n"), 6, "'env' must have at least one variable" },
	{ EXEC_EP("    env = 1;\n"), 6, "'env' must be a string or a list of strings" },
	{ EXEC_EP("    env = ( \"A=1\", 2 );\n"), 6, "'env' must contain only strings" },
	/* user */
	{ EXEC_EP("    user = \"" NO_USER "\";\n"), 6, "unknown user '" NO_USER "'" },
	{ EXEC_EP("    user = \"root:" NO_GROUP "\";\n"), 6, "unknown group '" NO_GROUP "'" },
	{ EXEC_EP("    user = \"root:\";\n"), 6, "invalid user 'root:' " USER_MSG },
	{ EXEC_EP("    user = \":root\";\n"), 6, "invalid user ':root' " USER_MSG },
	{ EXEC_EP("    user = \"root:root:root\";\n"), 6, "invalid user 'root:root:root' " USER_MSG },
	{ EXEC_EP("    user = \"\";\n"), 6, "invalid user '' " USER_MSG },
	{ EXEC_EP("    user = -1;\n"), 6, "'user' must be between 0 and 4294967294" },
	{ EXEC_EP("    user = \"4294967295\";\n"), 6, "'user' must be between 0 and 4294967294" },
	{ EXEC_EP("    user = \"0:4294967295\";\n"), 6, "'user' must be between 0 and 4294967294" },
	{ EXEC_EP("    user = \"4000000000\";\n"), 6,
	  "user id 4000000000 has no passwd entry: give its group too, like \"4000000000:GID\"" },
	{ EXEC_EP("    user = true;\n"), 6, "'user' must be a user name or a number, optionally followed by ':group'" },
	/* instances, umask, nice */
	{ EXEC_EP("    instances = -1;\n"), 6, "'instances' must be between 0 and 1000000" },
	{ EXEC_EP("    instances = 1000001;\n"), 6, "'instances' must be between 0 and 1000000" },
	{ EXEC_EP("    instances = \"5\";\n"), 6, "'instances' must be an integer" },
	{ EXEC_EP("    umask = \"0099\";\n"), 6, "invalid umask '0099' (octal digits expected, like \"0022\")" },
	{ EXEC_EP("    umask = 18;\n"), 6, "invalid umask '18' (octal digits expected, like \"0022\")" },
	{ EXEC_EP("    umask = 1000;\n"), 6, "'umask' must be between 0 and 0777" },
	{ EXEC_EP("    umask = -2;\n"), 6, "'umask' must be between 0 and 0777" },
	{ EXEC_EP("    umask = 0.5;\n"), 6, "'umask' must be an octal string like \"0022\" or an integer" },
	{ EXEC_EP("    nice = -21;\n"), 6, "'nice' must be between -20 and 19" },
	{ EXEC_EP("    nice = 20;\n"), 6, "'nice' must be between -20 and 19" },
	{ EXEC_EP("    nice = \"low\";\n"), 6, "'nice' must be an integer" },
	/* rlimit */
	{ EXEC_EP("    rlimit = 5;\n"), 6, "'rlimit' must be a group ({ ... })" },
	{ EXEC_EP("    rlimit = [ 5 ];\n"), 6, "'rlimit' must be a group ({ ... })" },
	{ EXEC_EP("    rlimit = { };\n"), 6, "'rlimit' must set at least one limit" },
	{ EXEC_EP("    rlimit = { nofile = 1024;\n      rss = 1; };\n"), 7, "unknown key 'rss' in rlimit " RLIMITS },
	{ EXEC_EP("    rlimit = { nofile = -1; };\n"), 6, "'nofile' in rlimit must be an integer >= 0 or \"unlimited\"" },
	{ EXEC_EP("    rlimit = { core = \"infinity\"; };\n"), 6, "'core' in rlimit must be an integer >= 0 or \"unlimited\"" },
	{ EXEC_EP("    rlimit = { cpu = 1.5; };\n"), 6, "'cpu' in rlimit must be an integer >= 0 or \"unlimited\"" },
	/* forward: keys of its own */
	{ EP("    upstream = \"tcp:127.0.0.1:1\";\n"), 5, "'upstream' is only allowed with service 'forward'" },
	{ EP("    connect_timeout = 1;\n"), 5, "'connect_timeout' is only allowed with service 'forward'" },
	{ EP("    balance = \"first\";\n"), 5, "'balance' is only allowed with service 'forward'" },
	{ EP("    send_proxy = \"v1\";\n"), 5, "'send_proxy' is only allowed with service 'forward'" },
	{ EXEC_EP("    upstream = \"tcp:127.0.0.1:1\";\n"), 6, "'upstream' is only allowed with service 'forward'" },
	{ "endpoints = (\n  { name = \"f\"; listen = \"tcp:127.0.0.1:7\";\n    service = \"forward\"; }\n);\n", 2,
	  "endpoint 'f' has no 'upstream' (service 'forward' requires it)" },
	/* upstream */
	{ UP("[]"), 3, "'upstream' must have at least one address" },
	{ UP("7"), 3, "'upstream' must be a string or a list of strings" },
	{ UP("( \"tcp:127.0.0.1:1\",\n      7 )"), 4, "'upstream' must contain only strings" },
	{ UP("[ \"tcp:127.0.0.1\" ]"), 3, "invalid address 'tcp:127.0.0.1' in 'upstream': missing port" },
	{ UP("\"bogus:1\""), 3,
	  "invalid address 'bogus:1' in 'upstream': unknown address type (tcp, udp, unix, unix-dgram, unix-seqpacket)" },
	{ UP("[ \"tcp:127.0.0.1:1\",\n      \"udp:127.0.0.1:53\" ]"), 4,
	  "upstream 'udp:127.0.0.1:53' is a datagram address, but endpoint 'f' listens on stream addresses (tcp, unix, unix-seqpacket)" },
	{ UP("\"unix-dgram:/tmp/x.sock\""), 3,
	  "upstream 'unix-dgram:/tmp/x.sock' is a datagram address, but endpoint 'f' listens on stream addresses (tcp, unix, unix-seqpacket)" },
	{ UP("\"tcp:127.0.0.1:3307\""), 3, "upstream 'tcp:127.0.0.1:3307' is a listen address of endpoint 'f' itself" },
	{ "endpoints = (\n  { name = \"f\"; listen = \"udp:127.0.0.1:5353\"; service = \"forward\";\n"
	  "    upstream = \"tcp:127.0.0.1:53\"; }\n);\n", 3,
	  "upstream 'tcp:127.0.0.1:53' is a stream address, but endpoint 'f' listens on datagram addresses (udp, unix-dgram)" },
	{ "endpoints = (\n  { name = \"f\"; service = \"forward\"; upstream = \"tcp:127.0.0.1:53\";\n"
	  "    listen = [ \"tcp:127.0.0.1:5353\", \"udp:127.0.0.1:5353\" ]; }\n);\n", 3,
	  "service 'forward' needs 'listen' addresses of one kind: all stream (tcp, unix, unix-seqpacket) "
	  "or all datagram (udp, unix-dgram)" },
	/* connect_timeout, balance, send_proxy */
	{ FWD_EP("    connect_timeout = 0;\n"), 6, "'connect_timeout' must be between 0.1 and 3600" },
	{ FWD_EP("    connect_timeout = 3600.5;\n"), 6, "'connect_timeout' must be between 0.1 and 3600" },
	{ FWD_EP("    connect_timeout = \"5s\";\n"), 6, "'connect_timeout' must be a number" },
	{ FWD_EP("    balance = \"random\";\n"), 6, "unknown balance 'random' (first, roundrobin)" },
	{ FWD_EP("    balance = 1;\n"), 6, "'balance' must be a string" },
	{ FWD_EP("    send_proxy = \"any\";\n"), 6, "unknown send_proxy 'any' (v1, v2)" },
	{ FWD_EP("    send_proxy = true;\n"), 6, "'send_proxy' must be a string" },
	{ "endpoints = (\n  { name = \"f\"; listen = \"udp:127.0.0.1:5353\"; service = \"forward\"; upstream = \"udp:127.0.0.1:53\";\n"
	  "    send_proxy = \"v2\"; }\n);\n", 3, "'send_proxy' is only allowed on stream endpoints " STREAM_ONLY },
};

START_TEST(test_error)
{
	const struct error_case *c = &error_cases[_i];
	struct diag d = { 0 };
	struct sockd_config *cfg = (void *)1;
	int r = load_text(c->text, &cfg, &d);

	ck_assert_int_eq(r, -EINVAL);
	ck_assert_ptr_null(cfg);
	if (d.n != 1)
		ck_abort_msg("%zu lines, first: %s", d.n, d.n ? d.lines[0] : "-");
	assert_line(&d, 0, c->line, c->msg);
	diag_free(&d);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_ptr_null(d.lines);
}
END_TEST

START_TEST(test_missing_file)
{
	struct diag d = { 0 };
	struct sockd_config *cfg;

	ck_assert_int_eq(config_load(conf_path, &cfg, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	assert_line(&d, 0, 0, "No such file or directory");
	diag_free(&d);

	ck_assert_int_eq(config_load(tmp_dir, &cfg, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.lines[0] + strlen(tmp_dir), ": Is a directory");
	diag_free(&d);

	/* A FIFO is refused at once: opening it to read would wait for a
	 * writer (CK_FORK's timeout would end this test). */
	ck_assert_int_eq(mkfifo(conf_path, 0600), 0);
	ck_assert_int_eq(config_load(conf_path, &cfg, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	assert_line(&d, 0, 0, "not a regular file");
	diag_free(&d);
	unlink(conf_path);
}
END_TEST

/* Larger than CONFIG_FILE_MAX: refused unread, with the size. */
START_TEST(test_file_too_large)
{
	struct diag d = { 0 };
	struct sockd_config *cfg;
	char want[96];
	FILE *f;

	f = fopen(conf_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("endpoints = ();\n", f);
	for (int i = 0; i < CONFIG_FILE_MAX; i += 64)
		fputs("# a comment line of exactly sixty-four bytes, newline included.\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(config_load(conf_path, &cfg, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	snprintf(want, sizeof(want), "too large (%d bytes, limit %d)", CONFIG_FILE_MAX + 16, CONFIG_FILE_MAX);
	assert_line(&d, 0, 0, want);
	diag_free(&d);
	unlink(conf_path);
}
END_TEST

START_TEST(test_error_in_include)
{
	char inc[sizeof(tmp_dir) + 16], text[sizeof(inc) + 64], want[sizeof(inc) + 64];
	struct diag d = { 0 };
	struct sockd_config *cfg;

	snprintf(inc, sizeof(inc), "%s/inc.conf", tmp_dir);
	write_file(inc, "\nbogus = 1;\n");
	snprintf(text, sizeof(text), "endpoints = ();\n@include \"%s\"\n", inc);
	ck_assert_int_eq(load_text(text, &cfg, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1);
	snprintf(want, sizeof(want), "%s:2: unknown top-level key 'bogus'", inc);
	ck_assert_str_eq(d.lines[0], want);
	diag_free(&d);
}
END_TEST

/* ------------------------------------------------------------ many errors at once */

START_TEST(test_errors_collected)
{
	static const char text[] =
		"daemon = {\n"                                          /* 1 */
		"  workers = 5000;\n"                                   /* 2 */
		"  log_level = \"loud\";\n"                             /* 3 */
		"  control = \"run/x\";\n"                              /* 4 */
		"};\n"                                                  /* 5 */
		"endpoints = (\n"                                       /* 6 */
		"  { name = \"a\";\n"                                   /* 7 */
		"    listen = [ \"tcp:127.0.0.1:7\", \"bogus:1\" ];\n"  /* 8 */
		"    service = \"echo\";\n"                             /* 9 */
		"    colour = \"red\";\n"                               /* 10 */
		"  },\n"                                                /* 11 */
		"  { listen = [ \"tcp:127.0.0.1:7\" ];\n"               /* 12 */
		"    service = \"nope\";\n"                             /* 13 */
		"    backlog = 0;\n"                                    /* 14 */
		"  },\n"                                                /* 15 */
		"  { name = \"a\"; listen = \"udp:127.0.0.1:7\"; service = \"echo\"; }\n"  /* 16 */
		");\n"                                                  /* 17 */
		"extra = 1;\n";                                         /* 18 */
	struct diag d = { 0 };
	struct sockd_config *cfg;

	/* A line already in d stays first: config_load appends. */
	diag_add(&d, "earlier", 1, "kept");
	ck_assert_int_eq(load_text(text, &cfg, &d), -EINVAL);
	ck_assert_uint_eq(d.n, 1 + 11);
	ck_assert_str_eq(d.lines[0], "earlier:1: kept");
	assert_line(&d, 1, 2, "'workers' must be between 0 and 1024");
	assert_line(&d, 2, 3, "unknown log_level 'loud' (err, warning, notice, info, debug)");
	assert_line(&d, 3, 4, "'control' must be an absolute path or @@name of at most 107 bytes");
	assert_line(&d, 4, 8, "invalid address 'bogus:1': unknown address type (tcp, udp, unix, unix-dgram, unix-seqpacket)");
	assert_line(&d, 5, 10, "unknown key 'colour' in endpoint 'a'");
	assert_line(&d, 6, 12, "address 'tcp:127.0.0.1:7' is already used by endpoint 'a' (@:8)");
	assert_line(&d, 7, 13, "unknown service 'nope' (" SERVICES ")");
	assert_line(&d, 8, 14, "'backlog' must be between 1 and 65535");
	assert_line(&d, 9, 12, "endpoint #2 has no 'name'");
	assert_line(&d, 10, 16, "endpoint name 'a' is already used (@:7)");
	assert_line(&d, 11, 18, "unknown top-level key 'extra'");
	diag_free(&d);
}
END_TEST

START_TEST(test_diag_format)
{
	struct diag d = { 0 };

	diag_add(&d, "f.conf", 3, "x %d", 1);
	diag_add(&d, "f.conf", 0, "no line");
	diag_add(&d, "f.conf", -1, "negative");
	diag_add(&d, "f.conf", 2, "two\nlines\t");
	ck_assert_uint_eq(d.n, 4);
	ck_assert_str_eq(d.lines[0], "f.conf:3: x 1");
	ck_assert_str_eq(d.lines[1], "f.conf: no line");
	ck_assert_str_eq(d.lines[2], "f.conf: negative");
	ck_assert_str_eq(d.lines[3], "f.conf:2: two?lines?");
	diag_free(&d);
	ck_assert_uint_eq(d.n, 0);
	diag_free(&d);
}
END_TEST

/* ------------------------------------------------------------ generic service check */

START_TEST(test_service_serves)
{
	const struct service stream_only = { .name = "s", .flags = SERVICE_STREAM };
	const struct service dgram_only = { .name = "d", .flags = SERVICE_DGRAM };
	const char *streams[] = { "tcp:127.0.0.1:1", "unix:/x", "unix-seqpacket:/x", "unix:@x" };
	const char *dgrams[] = { "udp:127.0.0.1:1", "unix-dgram:/x" };
	struct addr a;

	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(addr_parse(streams[i], &a, NULL), 0);
		ck_assert(service_serves(&stream_only, &a));
		ck_assert(!service_serves(&dgram_only, &a));
		ck_assert(service_serves(&service_echo, &a));
	}
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(addr_parse(dgrams[i], &a, NULL), 0);
		ck_assert(!service_serves(&stream_only, &a));
		ck_assert(service_serves(&dgram_only, &a));
		ck_assert(service_serves(&service_echo, &a));
	}
}
END_TEST

/* ------------------------------------------------------------ dump */

START_TEST(test_dump_exact)
{
	struct sockd_config *cfg = load_ok(
	    "endpoints = (\n"
	    "  { name = \"u\"; listen = [ \"unix:/tmp/a\\\"b.sock\", \"udp:[0:0::1]:7\" ];\n"
	    "    service = \"echo\"; mode = 432; owner = 0; allow = \"::1\"; deny = ( \"::ffff:127.0.0.1\" );\n"
	    "    rate = 1.25; max_per_source = 5; idle_timeout = 0.0004; lifetime = 1e7; },\n"
	    "  { name = \"dt\"; listen = \"tcp:127.0.0.1:13\"; service = \"daytime\"; },\n"
	    "  { name = \"x\"; listen = \"unix-seqpacket:/x\"; service = \"echo\";\n"
	    "    allow_gid = \"root\"; allow_uid = ( 0, \"root\" ); udp_rate = 1e-3; udp_burst = 7; }\n"
	    ");\n");
	char *s = dump_to_string(cfg);

	ck_assert_str_eq(s,
	    "daemon = {\n"
	    "  workers = 0;\n"
	    "  queue = 4096;\n"
	    "  max_connections = 65536;\n"
	    "  shutdown_timeout = 10.000;\n"
	    "  log_level = \"info\";\n"
	    "};\n"
	    "\n"
	    "endpoints = (\n"
	    "  { name = \"u\";\n"
	    "    listen = [ \"unix:/tmp/a\\\"b.sock\", \"udp:[::1]:7\" ];\n"
	    "    service = \"echo\";\n"
	    "    backlog = 1024;\n"
	    "    v6only = false;\n"
	    "    overload = \"wait\";\n"
	    "    udp_guard = true;\n"
	    "    max_connections = 0;\n"
	    "    max_per_source = 5;\n"
	    "    rate = 1.25;\n"
	    "    burst = 2;\n"
	    "    udp_rate = 20.0;\n"
	    "    udp_burst = 40;\n"
	    "    udp_rate_loopback = false;\n"
	    "    udp_sessions_per_source = 256;\n"
	    "    idle_timeout = 0.0004;\n"
	    "    lifetime = 10000000.0;\n"
	    "    allow = [ \"::1/128\" ];\n"
	    "    deny = [ \"127.0.0.1/32\" ];\n"
	    "    mode = \"0432\";\n"
	    "    owner = \"0\";\n"
	    "  },\n"
	    "  { name = \"dt\";\n"
	    "    listen = [ \"tcp:127.0.0.1:13\" ];\n"
	    "    service = \"daytime\";\n"
	    "    backlog = 1024;\n"
	    "    v6only = false;\n"
	    "    overload = \"wait\";\n"
	    "    udp_guard = true;\n"
	    "    max_connections = 0;\n"
	    "    max_per_source = 0;\n"
	    "    rate = 0.0;\n"
	    "    burst = 1;\n"
	    "    udp_rate = 20.0;\n"
	    "    udp_burst = 40;\n"
	    "    udp_rate_loopback = false;\n"
	    "    udp_sessions_per_source = 256;\n"
	    "    idle_timeout = 300.0;\n"
	    "    lifetime = 0.0;\n"
	    "    daytime_format = \"%A, %B %d, %Y %H:%M:%S-%Z\";\n"
	    "  },\n"
	    "  { name = \"x\";\n"
	    "    listen = [ \"unix-seqpacket:/x\" ];\n"
	    "    service = \"echo\";\n"
	    "    backlog = 1024;\n"
	    "    v6only = false;\n"
	    "    overload = \"wait\";\n"
	    "    udp_guard = true;\n"
	    "    max_connections = 0;\n"
	    "    max_per_source = 0;\n"
	    "    rate = 0.0;\n"
	    "    burst = 1;\n"
	    "    udp_rate = 0.001;\n"
	    "    udp_burst = 7;\n"
	    "    udp_rate_loopback = false;\n"
	    "    udp_sessions_per_source = 256;\n"
	    "    idle_timeout = 300.0;\n"
	    "    lifetime = 0.0;\n"
	    "    allow_uid = [ \"0\", \"root\" ];\n"
	    "    allow_gid = [ \"root\" ];\n"
	    "  }\n"
	    ");\n");
	free(s);
	config_free(cfg);

	cfg = load_ok("endpoints = ();\n");
	s = dump_to_string(cfg);
	ck_assert_ptr_nonnull(strstr(s, "};\n\nendpoints = ();\n"));
	free(s);
	config_free(cfg);
}
END_TEST

static const char services_conf[] =
	"endpoints = (\n"
	"  { name = \"prog\"; listen = \"unix-seqpacket:@prog\"; service = \"exec\";\n"
	"    command = [ \"/bin/sh\", \"-c\", \"echo \\\"$X\\\"\" ]; env = \"X=a\\\\b\"; user = \"root:0\"; umask = \"027\";\n"
	"    instances = 3; nice = -5;\n"
	"    rlimit = { nofile = 4096; as = \"unlimited\"; fsize = 4294967296L; cpu = 2147483647; };\n"
	"    proxy_protocol = \"v1\"; },\n"
	"  { name = \"fw\"; listen = \"tcp:127.0.0.1:3307\"; service = \"forward\";\n"
	"    upstream = [ \"unix:/run/mysqld/mysqld.sock\", \"tcp:[::1]:3306\" ]; balance = \"roundrobin\";\n"
	"    connect_timeout = 0.25; send_proxy = \"v2\";\n"
	"    proxy_protocol = \"any\"; proxy_from = ( \"10.0.0.0/8\", \"::ffff:192.0.2.1\" ); proxy_timeout = 10; },\n"
	"  { name = \"cat\"; listen = \"tcp:127.0.0.1:7009\"; service = \"exec\"; command = [ \"/bin/cat\" ]; },\n"
	"  { name = \"dns\"; listen = \"udp:127.0.0.1:5353\"; service = \"forward\";\n"
	"    upstream = \"udp:127.0.0.1:53\"; connect_timeout = 0.1; }\n"
	");\n";

/* Each service's keys, and only those; proxy keys only with proxy_protocol. */
START_TEST(test_dump_services)
{
	struct sockd_config *cfg = load_ok(services_conf);
	char *s = dump_to_string(cfg);
	const char *common =
	    "    backlog = 1024;\n"
	    "    v6only = false;\n"
	    "    overload = \"wait\";\n"
	    "    udp_guard = true;\n"
	    "    max_connections = 0;\n"
	    "    max_per_source = 0;\n"
	    "    rate = 0.0;\n"
	    "    burst = 1;\n"
	    "    udp_rate = 20.0;\n"
	    "    udp_burst = 40;\n"
	    "    udp_rate_loopback = false;\n"
	    "    udp_sessions_per_source = 256;\n"
	    "    idle_timeout = 300.0;\n"
	    "    lifetime = 0.0;\n";
	char want[4096];

	snprintf(want, sizeof(want),
	    "endpoints = (\n"
	    "  { name = \"prog\";\n"
	    "    listen = [ \"unix-seqpacket:@prog\" ];\n"
	    "    service = \"exec\";\n"
	    "%s"
	    "    proxy_protocol = \"v1\";\n"
	    "    proxy_timeout = 3.0;\n"
	    "    command = [ \"/bin/sh\", \"-c\", \"echo \\\"$X\\\"\" ];\n"
	    "    env = [ \"X=a\\\\b\" ];\n"
	    "    user = \"root:0\";\n"
	    "    instances = 3;\n"
	    "    umask = \"0027\";\n"
	    "    nice = -5;\n"
	    "    rlimit = { as = \"unlimited\"; cpu = 2147483647; fsize = 4294967296L; nofile = 4096; };\n"
	    "  },\n"
	    "  { name = \"fw\";\n"
	    "    listen = [ \"tcp:127.0.0.1:3307\" ];\n"
	    "    service = \"forward\";\n"
	    "%s"
	    "    proxy_protocol = \"any\";\n"
	    "    proxy_timeout = 10.0;\n"
	    "    proxy_from = [ \"10.0.0.0/8\", \"192.0.2.1/32\" ];\n"
	    "    upstream = [ \"unix:/run/mysqld/mysqld.sock\", \"tcp:[::1]:3306\" ];\n"
	    "    connect_timeout = 0.25;\n"
	    "    balance = \"roundrobin\";\n"
	    "    send_proxy = \"v2\";\n"
	    "  },\n"
	    "  { name = \"cat\";\n"
	    "    listen = [ \"tcp:127.0.0.1:7009\" ];\n"
	    "    service = \"exec\";\n"
	    "%s"
	    "    command = [ \"/bin/cat\" ];\n"
	    "    instances = 0;\n"
	    "  },\n"
	    "  { name = \"dns\";\n"
	    "    listen = [ \"udp:127.0.0.1:5353\" ];\n"
	    "    service = \"forward\";\n"
	    "%s"
	    "    upstream = [ \"udp:127.0.0.1:53\" ];\n"
	    "    connect_timeout = 0.1;\n"
	    "    balance = \"first\";\n"
	    "  }\n"
	    ");\n", common, common, common, common);
	ck_assert_ptr_nonnull(strstr(s, "endpoints = ("));
	ck_assert_str_eq(strstr(s, "endpoints = ("), want);
	free(s);
	config_free(cfg);
}
END_TEST

static void
assert_round_trip(const char *text)
{
	char path[sizeof(tmp_dir) + 16];
	struct sockd_config *cfg = load_ok(text), *cfg2;
	struct diag d = { 0 };
	char *first = dump_to_string(cfg), *second;

	snprintf(path, sizeof(path), "%s/dump1.conf", tmp_dir);
	write_file(path, first);
	if (config_load(path, &cfg2, &d) != 0)
		ck_abort_msg("dump does not load: %s\n%s", d.n ? d.lines[0] : "?", first);
	second = dump_to_string(cfg2);
	ck_assert_str_eq(first, second);
	/* Same text could still hide a rounded value: compare the values. */
	ck_assert_uint_eq(cfg->n_endpoints, cfg2->n_endpoints);
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const struct endpoint *a = cfg->endpoints[i], *b = cfg2->endpoints[i];

		ck_assert(a->rate == b->rate);
		ck_assert(a->udp_rate == b->udp_rate);
		ck_assert(a->idle_timeout == b->idle_timeout);
		ck_assert(a->lifetime == b->lifetime);
		ck_assert_uint_eq(a->burst, b->burst);
		ck_assert_uint_eq(a->n_allow_uid, b->n_allow_uid);
		for (size_t j = 0; j < a->n_allow_uid; j++)
			ck_assert_uint_eq(a->allow_uid[j], b->allow_uid[j]);
		ck_assert_int_eq(a->proxy_protocol, b->proxy_protocol);
		ck_assert(a->proxy_timeout == b->proxy_timeout);
		ck_assert_ptr_eq(a->service, b->service);
		if (a->service == &service_forward) {
			const struct forward_options *x = forward_options(a), *y = forward_options(b);

			ck_assert(x->connect_timeout == y->connect_timeout);
			ck_assert_uint_eq(x->n_upstream, y->n_upstream);
			for (size_t j = 0; j < x->n_upstream; j++)
				ck_assert(addr_equal(&x->upstream[j], &y->upstream[j]));
		}
		if (a->service == &service_exec) {
			const struct exec_options *x = exec_options(a), *y = exec_options(b);

			ck_assert_uint_eq(x->uid, y->uid);
			ck_assert_uint_eq(x->gid, y->gid);
			ck_assert_int_eq(x->umask, y->umask);
			ck_assert_int_eq(x->nice, y->nice);
			ck_assert_uint_eq(x->n_rlimits, y->n_rlimits);
			for (size_t j = 0; j < x->n_rlimits; j++) {
				ck_assert_int_eq(x->rlimits[j].resource, y->rlimits[j].resource);
				ck_assert(x->rlimits[j].soft == y->rlimits[j].soft);
			}
		}
	}
	free(first);
	free(second);
	config_free(cfg);
	config_free(cfg2);
}

START_TEST(test_dump_round_trip)
{
	assert_round_trip(full_conf);
	assert_round_trip("endpoints = ();\n");
	assert_round_trip("daemon = { shutdown_timeout = 0.1234; user = \"root\"; };\n"
	    "endpoints = ( { name = \"d\"; listen = \"udp:127.0.0.1:13\"; service = \"daytime\";\n"
	    "  daytime_format = \"\\\"%H\\\\%M\\\"\"; } );\n");
	/* Numbers that rounding would change, or turn into "none". */
	assert_round_trip("endpoints = ( { name = \"n\"; listen = \"udp:127.0.0.1:13\"; service = \"echo\";\n"
	    "  rate = 0.1; udp_rate = 0.0001; idle_timeout = 0.00049; lifetime = 31535999.999;\n"
	    "  allow = [ \"::ffff:10.0.0.0/104\", \"fe80::/10\" ]; deny = \"10.0.0.1\"; } );\n");
	assert_round_trip(services_conf);
	assert_round_trip("endpoints = ( { name = \"x\"; listen = \"tcp:127.0.0.1:7\"; service = \"exec\";\n"
	    "  command = [ \"/bin/cat\" ]; user = 65534; umask = 0; nice = 0;\n"
	    "  rlimit = { core = 0; memlock = 2147483648L; stack = \"unlimited\"; };\n"
	    "  proxy_protocol = \"v2\"; proxy_timeout = 0.1234567; } );\n");
}
END_TEST

/* ------------------------------------------------------------ include_dir */

static char inc_dir[sizeof(tmp_dir) + 16];      /* tmp_dir/conf.d */

/* Write tmp_dir/conf.d/name. */
static void
write_frag(const char *name, const char *text)
{
	char path[sizeof(inc_dir) + 64];

	snprintf(path, sizeof(path), "%s/%s", inc_dir, name);
	write_file(path, text);
}

static void
make_inc_dir(void)
{
	snprintf(inc_dir, sizeof(inc_dir), "%s/conf.d", tmp_dir);
	ck_assert_int_eq(mkdir(inc_dir, 0700), 0);
}

/* "main.conf" text that includes inc_dir (with a trailing '/') and has one
 * endpoint "main" on line 2. */
static char *
main_text(void)
{
	static char text[sizeof(inc_dir) + 256];

	snprintf(text, sizeof(text),
	    "endpoints = (\n"
	    "  { name = \"main\"; listen = \"tcp:127.0.0.1:7000\"; service = \"echo\"; }\n"
	    ");\n"
	    "daemon = { include_dir = \"%s/\"; };\n", inc_dir);
	return text;
}

#define FRAG(name, port) \
	"# " name "\n" \
	"endpoints = (\n" \
	"  { name = \"" name "\"; listen = \"tcp:127.0.0.1:" port "\"; service = \"echo\"; }\n" \
	");\n"

START_TEST(test_include_dir)
{
	const char *want[] = { "main", "05-link", "10-a", "20-b", "20-b2", "B", "a" };
	char path[sizeof(inc_dir) + 64], target[sizeof(tmp_dir) + 32];
	struct sockd_config *cfg, *cfg2;
	struct diag d = { 0 };
	char *first, *second, *p, *q;

	make_inc_dir();
	write_frag("20-b.conf", "endpoints = (\n"
	    "  { name = \"20-b\"; listen = \"tcp:127.0.0.1:7020\"; service = \"echo\"; },\n"
	    "  { name = \"20-b2\"; listen = \"tcp:127.0.0.1:7021\"; service = \"echo\"; }\n"
	    ");\n");
	write_frag("10-a.conf", FRAG("10-a", "7010"));
	/* C-locale order: digits, then upper case, then lower case */
	write_frag("a.conf", FRAG("a", "7030"));
	write_frag("B.conf", FRAG("B", "7031"));
	/* a fragment without endpoints, and one with an empty list */
	write_frag("00-empty.conf", "# nothing here\n");
	write_frag("01-none.conf", "endpoints = ();\n");
	/* a symlink to a file counts */
	snprintf(target, sizeof(target), "%s/linked.txt", tmp_dir);
	write_file(target, FRAG("05-link", "7005"));
	snprintf(path, sizeof(path), "%s/05-link.conf", inc_dir);
	ck_assert_int_eq(symlink(target, path), 0);
	/* everything else is ignored, even when it would not load */
	write_frag("x.conf.dpkg-old", "bogus");
	write_frag("x.conf.dpkg-dist", "bogus");
	write_frag(".hidden.conf", "bogus");
	write_frag("backup.conf~", "bogus");
	write_frag(".10-a.conf.swp", "bogus");
	write_frag("README", "bogus");
	write_frag(".conf", "bogus");
	/* A directory, a FIFO and a dangling symlink named *.conf are
	 * skipped alike, each with a warning (and a FIFO never blocks). */
	snprintf(path, sizeof(path), "%s/dir.conf", inc_dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/fifo.conf", inc_dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/gone.conf", inc_dir);
	ck_assert_int_eq(symlink("/nonexistent/sockd-check.conf", path), 0);

	cfg = load_ok(main_text());
	ck_assert_uint_eq(cfg->n_warnings, 3);
	snprintf(path, sizeof(path), "%s/dir.conf: skipped: a directory", inc_dir);
	ck_assert_str_eq(cfg->warnings[0], path);
	snprintf(path, sizeof(path), "%s/fifo.conf: skipped: not a regular file", inc_dir);
	ck_assert_str_eq(cfg->warnings[1], path);
	snprintf(path, sizeof(path), "%s/gone.conf: skipped: a dangling symbolic link", inc_dir);
	ck_assert_str_eq(cfg->warnings[2], path);
	ck_assert_uint_eq(cfg->n_endpoints, sizeof(want) / sizeof(want[0]));
	ck_assert_uint_eq(cfg->n_included, cfg->n_endpoints - 1);
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		ck_assert_str_eq(cfg->endpoints[i]->name, want[i]);
	/* Fragments' endpoints name their own file, with no "//". */
	ck_assert_str_eq(cfg->endpoints[0]->file, conf_path);
	snprintf(path, sizeof(path), "%s/10-a.conf", inc_dir);
	ck_assert_str_eq(cfg->endpoints[2]->file, path);
	ck_assert_int_eq(cfg->endpoints[2]->line, 3);
	snprintf(path, sizeof(path), "%s/20-b.conf", inc_dir);
	ck_assert_str_eq(cfg->endpoints[4]->file, path);
	ck_assert_int_eq(cfg->endpoints[4]->line, 3);
	snprintf(path, sizeof(path), "%s/", inc_dir);
	ck_assert_str_eq(cfg->daemon.include_dir, path);

	/* The dump holds every endpoint and leaves include_dir as a comment,
	 * so it loads again on its own, to the same endpoints. */
	first = dump_to_string(cfg);
	snprintf(path, sizeof(path), "  # include_dir = \"%s/\";\n", inc_dir);
	ck_assert_ptr_nonnull(strstr(first, path));
	snprintf(path, sizeof(path), "  # from \"%s/20-b.conf\"\n  { name = \"20-b\";", inc_dir);
	ck_assert_ptr_nonnull(strstr(first, path));
	snprintf(path, sizeof(path), "%s/dump1.conf", tmp_dir);
	write_file(path, first);
	if (config_load(path, &cfg2, &d) != 0)
		ck_abort_msg("dump does not load: %s\n%s", d.n ? d.lines[0] : "?", first);
	ck_assert_uint_eq(cfg2->n_endpoints, cfg->n_endpoints);
	ck_assert_uint_eq(cfg2->n_included, 0);
	ck_assert_ptr_null(cfg2->daemon.include_dir);
	second = dump_to_string(cfg2);
	/* ... and prints the same but for the comment lines. */
	for (p = q = first; *p; ) {
		char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);

		if (strncmp(p, "  # ", 4) != 0) {
			memmove(q, p, n);
			q += n;
		}
		p += n;
	}
	*q = '\0';
	ck_assert_str_eq(first, second);
	free(first);
	free(second);
	config_free(cfg);
	config_free(cfg2);
}
END_TEST

START_TEST(test_include_dir_missing)
{
	struct sockd_config *cfg;
	char *s;

	/* The directory need not exist. */
	snprintf(inc_dir, sizeof(inc_dir), "%s/conf.d", tmp_dir);
	cfg = load_ok(main_text());
	ck_assert_uint_eq(cfg->n_endpoints, 1);
	ck_assert_uint_eq(cfg->n_included, 0);
	s = dump_to_string(cfg);
	/* With nothing read, include_dir is printed as a setting. */
	ck_assert_ptr_nonnull(strstr(s, "\n  include_dir = \""));
	free(s);
	config_free(cfg);

	/* An empty one is fine too. */
	make_inc_dir();
	cfg = load_ok(main_text());
	ck_assert_uint_eq(cfg->n_endpoints, 1);
	config_free(cfg);
}
END_TEST

/* "%" in an expected message stands for inc_dir. */
static void
assert_inc_line(const struct diag *d, size_t i, const char *msg)
{
	char want[4096];
	size_t n = 0;

	for (const char *p = msg; *p && n + sizeof(inc_dir) + sizeof(conf_path) < sizeof(want); p++) {
		if (*p == '%')
			n += (size_t)snprintf(want + n, sizeof(want) - n, "%s", inc_dir);
		else if (*p == '@')
			n += (size_t)snprintf(want + n, sizeof(want) - n, "%s", conf_path);
		else
			want[n++] = *p;
	}
	want[n] = '\0';
	ck_assert_uint_gt(d->n, i);
	ck_assert_str_eq(d->lines[i], want);
}

START_TEST(test_include_dir_errors)
{
	char path[sizeof(inc_dir) + 64];
	struct sockd_config *cfg = (void *)1;
	struct diag d = { 0 };

	make_inc_dir();
	/* an endpoint name already used in the main file, and an address
	 * already used in an earlier fragment */
	write_frag("10-a.conf", "endpoints = (\n"
	    "  { name = \"a\"; listen = \"tcp:127.0.0.1:7010\"; service = \"echo\"; },\n"
	    "  { name = \"main\"; listen = \"tcp:127.0.0.1:7011\"; service = \"echo\"; }\n"
	    ");\n");
	/* an error inside a fragment, with the fragment's own line */
	write_frag("20-b.conf", "endpoints = (\n"
	    "  { name = \"b\"; listen = \"tcp:127.0.0.1:7010\"; service = \"echo\";\n"
	    "    backlog = 0; }\n"
	    ");\n");
	/* only endpoints in a fragment */
	write_frag("30-c.conf", "endpoints = ();\n\ndaemon = { workers = 2; };\nfoo = 1;\n");
	/* a syntax error stops that file only */
	write_frag("40-d.conf", "endpoints = (\n  { name = \"d\" \n);\n");
	write_frag("50-e.conf", "endpoints = (\n  { name = \"a\"; listen = \"tcp:127.0.0.1:7050\"; service = \"echo\"; }\n);\n");
	/* a dangling symlink: skipped with a warning, not an error */
	snprintf(path, sizeof(path), "%s/60-gone.conf", inc_dir);
	ck_assert_int_eq(symlink("/nonexistent/sockd-check.conf", path), 0);

	ck_assert_int_eq(load_text(main_text(), &cfg, &d), -EINVAL);
	ck_assert_ptr_null(cfg);
	if (d.n != 7)
		ck_abort_msg("%zu lines, first: %s", d.n, d.n ? d.lines[0] : "-");
	assert_inc_line(&d, 0, "%/10-a.conf:3: endpoint name 'main' is already used (@:2)");
	assert_inc_line(&d, 1, "%/20-b.conf:2: address 'tcp:127.0.0.1:7010' is already used by endpoint 'a' (%/10-a.conf:2)");
	assert_inc_line(&d, 2, "%/20-b.conf:3: 'backlog' must be between 1 and 65535");
	assert_inc_line(&d, 3, "%/30-c.conf:3: 'daemon' is not allowed in an include_dir file (only 'endpoints')");
	assert_inc_line(&d, 4, "%/30-c.conf:4: 'foo' is not allowed in an include_dir file (only 'endpoints')");
	assert_inc_line(&d, 5, "%/40-d.conf:3: syntax error");
	assert_inc_line(&d, 6, "%/50-e.conf:2: endpoint name 'a' is already used (%/10-a.conf:2)");
	diag_free(&d);
}
END_TEST

START_TEST(test_include_dir_not_dir)
{
	struct sockd_config *cfg = (void *)1;
	struct diag d = { 0 };

	/* include_dir names a file */
	snprintf(inc_dir, sizeof(inc_dir), "%s/conf.d", tmp_dir);
	write_file(inc_dir, "endpoints = ();\n");
	ck_assert_int_eq(load_text(main_text(), &cfg, &d), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(d.n, 1);
	assert_inc_line(&d, 0, "@:4: cannot read include_dir '%/': Not a directory");
	diag_free(&d);
	unlink(inc_dir);

	/* Errors in the main file do not hide those of the fragments. */
	make_inc_dir();
	write_frag("a.conf", "endpoints = ( { name = \"a\"; listen = \"tcp:127.0.0.1:1\"; service = \"x\"; } );\n");
	write_file(conf_path, "");
	{
		char text[sizeof(inc_dir) + 128];

		snprintf(text, sizeof(text), "daemon = { workers = -1; include_dir = \"%s\"; };\nendpoints = ();\n", inc_dir);
		ck_assert_int_eq(load_text(text, &cfg, &d), -EINVAL);
	}
	ck_assert_uint_eq(d.n, 2);
	assert_inc_line(&d, 0, "@:1: 'workers' must be between 0 and 1024");
	assert_inc_line(&d, 1, "%/a.conf:1: unknown service 'x' (" SERVICES ")");
	diag_free(&d);

	/* Without permission to read it (not testable as root). */
	if (geteuid() != 0) {
		ck_assert_int_eq(chmod(inc_dir, 0), 0);
		ck_assert_int_eq(load_text(main_text(), &cfg, &d), -EINVAL);
		assert_inc_line(&d, 0, "@:4: cannot read include_dir '%/': Permission denied");
		diag_free(&d);
	}
}
END_TEST

/* ------------------------------------------------------------ references */

START_TEST(test_endpoint_ref)
{
	struct sockd_config *cfg = load_ok(EP(""));
	struct endpoint *ep = cfg->endpoints[0];

	ck_assert_uint_eq(atomic_load(&ep->refs), 1);
	ck_assert_ptr_eq(endpoint_ref(ep), ep);
	ck_assert_uint_eq(atomic_load(&ep->refs), 2);
	endpoint_ref(ep);
	endpoint_unref(ep);
	ck_assert_uint_eq(atomic_load(&ep->refs), 2);

	/* The endpoint outlives the config that declared it. */
	config_free(cfg);
	ck_assert_uint_eq(atomic_load(&ep->refs), 1);
	ck_assert_str_eq(ep->name, "e");
	ck_assert_str_eq(ep->file, conf_path);
	ck_assert_ptr_eq(ep->service, &service_echo);
	endpoint_unref(ep);

	ck_assert_ptr_null(endpoint_ref(NULL));
	endpoint_unref(NULL);
	config_free(NULL);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_endpoint_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_test(tc, test_mode_forms);
	tcase_add_test(tc, test_daemon_user_without_group);
	tcase_add_test(tc, test_shutdown_timeout_int);
	tcase_add_test(tc, test_access_rules);
	tcase_add_test(tc, test_burst_default);
	tcase_add_test(tc, test_source_table_per_endpoint);
	tcase_add_test(tc, test_exec_keys);
	tcase_add_test(tc, test_exec_user_forms);
	tcase_add_test(tc, test_exec_user_daemon_user);
	tcase_add_test(tc, test_forward_keys);
	tcase_add_test(tc, test_proxy_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("include_dir");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_include_dir);
	tcase_add_test(tc, test_include_dir_missing);
	tcase_add_test(tc, test_include_dir_errors);
	tcase_add_test(tc, test_include_dir_not_dir);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_error, 0, (int)(sizeof(error_cases) / sizeof(error_cases[0])));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_file_too_large);
	tcase_add_test(tc, test_error_in_include);
	tcase_add_test(tc, test_errors_collected);
	tcase_add_test(tc, test_diag_format);
	tcase_add_test(tc, test_service_serves);
	suite_add_tcase(s, tc);

	tc = tcase_create("dump");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dump_exact);
	tcase_add_test(tc, test_dump_services);
	tcase_add_test(tc, test_dump_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("refs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_endpoint_ref);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
