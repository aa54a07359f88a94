/* status.c: the status snapshot as JSON (and back), as Prometheus text and
 * as sockctl's table. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "status.h"

static char *
dup(const char *s)
{
	char *p = strdup(s);

	ck_assert_ptr_nonnull(p);
	return p;
}

/* Two endpoints, every counter different, so a mix-up shows. */
static void
sample(struct status *s)
{
	struct status_endpoint *e;
	unsigned long long v = 1;

	memset(s, 0, sizeof(*s));
	s->version = dup("0.1.0");
	s->pid = 4242;
	s->config_file = dup("/etc/sockd/sock\"d.conf");
	s->started = 1700000000.5;
	s->uptime = 3723.25;
	s->reload_ok = false;
	s->reload_time = 1700003000.25;
	s->n_reload_errors = 2;
	s->reload_errors = calloc(2, sizeof(char *));
	s->reload_errors[0] = dup("/etc/sockd/sockd.conf:3: unknown key 'x' in daemon");
	s->reload_errors[1] = dup("/etc/sockd/sockd.conf:9: endpoint 'e' has no 'listen'");
	s->workers = 3;
	s->queue_length = 5;
	s->queue_capacity = 4096;
	s->active = 7;
	s->max_connections = 65536;
	s->served = 123456789012ULL;
	s->udp_sessions = 17;
	s->udp_session_budget = 5000;
	s->n_endpoints = 2;
	s->endpoints = calloc(2, sizeof(*s->endpoints));
	e = &s->endpoints[0];
	e->name = dup("echo");
	e->service = dup("echo");
	e->n_listen = 2;
	e->listen = calloc(2, sizeof(*e->listen));
	e->listen[0].address = dup("tcp:127.0.0.1:7");
	e->listen[1].address = dup("unix:/run/sockd/echo.sock");
	e->listen[1].from_systemd = true;
	for (unsigned long long *p = &e->c.active; p <= &e->c.refused_sni; p++)
		*p = v++;
	e = &s->endpoints[1];
	e->name = dup("metrics");
	e->service = dup("metrics");
	e->n_listen = 1;
	e->listen = calloc(1, sizeof(*e->listen));
	e->listen[0].address = dup("tcp:[::1]:9100");
	e->listen[0].kept = true;
	for (unsigned long long *p = &e->c.active; p <= &e->c.refused_sni; p++)
		*p = 1000 + v++;
	e->c.bytes_in = 18446744073709551615ULL;
}

START_TEST(test_json_round_trip)
{
	struct status s, t;
	struct buf b = { 0 };
	struct json *j;

	sample(&s);
	buf_puts(&b, "{\"ok\":true,");
	status_json_members(&s, &b);
	buf_puts(&b, "}");
	ck_assert_int_eq(buf_status(&b), 0);
	ck_assert_int_eq(json_parse(b.data, b.len, &j, NULL), 0);
	ck_assert(json_get_bool(j, "ok", false));
	ck_assert_int_eq(status_from_json(j, &t), 0);

	ck_assert_str_eq(t.version, "0.1.0");
	ck_assert_int_eq(t.pid, 4242);
	ck_assert_str_eq(t.config_file, "/etc/sockd/sock\"d.conf");
	ck_assert_double_eq_tol(t.started, 1700000000.5, 0.001);
	ck_assert_double_eq_tol(t.uptime, 3723.25, 0.001);
	ck_assert(!t.reload_ok);
	ck_assert_double_eq_tol(t.reload_time, 1700003000.25, 0.001);
	ck_assert_uint_eq(t.n_reload_errors, 2);
	ck_assert_str_eq(t.reload_errors[1], s.reload_errors[1]);
	ck_assert_uint_eq(t.workers, 3);
	ck_assert_uint_eq(t.queue_length, 5);
	ck_assert_uint_eq(t.queue_capacity, 4096);
	ck_assert_uint_eq(t.active, 7);
	ck_assert_uint_eq(t.max_connections, 65536);
	ck_assert_uint_eq(t.served, 123456789012ULL);
	ck_assert_uint_eq(t.udp_sessions, 17);
	ck_assert_uint_eq(t.udp_session_budget, 5000);
	ck_assert_uint_eq(t.n_endpoints, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_str_eq(t.endpoints[i].name, s.endpoints[i].name);
		ck_assert_str_eq(t.endpoints[i].service, s.endpoints[i].service);
		ck_assert_uint_eq(t.endpoints[i].n_listen, s.endpoints[i].n_listen);
		for (size_t k = 0; k < t.endpoints[i].n_listen; k++) {
			ck_assert_str_eq(t.endpoints[i].listen[k].address, s.endpoints[i].listen[k].address);
			ck_assert_int_eq(t.endpoints[i].listen[k].from_systemd, s.endpoints[i].listen[k].from_systemd);
			ck_assert_int_eq(t.endpoints[i].listen[k].kept, s.endpoints[i].listen[k].kept);
		}
		ck_assert_mem_eq(&t.endpoints[i].c, &s.endpoints[i].c, sizeof(struct status_counters));
	}
	/* The names scripts use. */
	ck_assert_uint_eq(json_get_uint(json_get(json_get(j, "endpoints")->items[0], "refused"), "rate", 0),
			  s.endpoints[0].c.refused_rate);
	ck_assert_uint_eq(json_get_uint(json_get(j, "endpoints")->items[0], "bytes_out", 0),
			  s.endpoints[0].c.bytes_out);
	json_free(j);
	status_free(&t);
	status_free(&s);
	buf_free(&b);
	ck_assert_ptr_null(s.endpoints);
}
END_TEST

START_TEST(test_from_json_rejects)
{
	const char *text;
	struct status t;
	struct json *j;

	ck_assert_int_eq(json_parse("{\"ok\":true}", 11, &j, NULL), 0);
	ck_assert_int_eq(status_from_json(j, &t), -EINVAL);
	json_free(j);
	ck_assert_int_eq(json_parse("[1]", 3, &j, NULL), 0);
	ck_assert_int_eq(status_from_json(j, &t), -EINVAL);
	json_free(j);
	/* Newer members are ignored, missing ones are 0. */
	text = "{\"version\":\"9\",\"future\":1,\"endpoints\":[{\"name\":\"a\"}]}";
	ck_assert_int_eq(json_parse(text, strlen(text), &j, NULL), 0);
	ck_assert_int_eq(status_from_json(j, &t), 0);
	ck_assert_uint_eq(t.n_endpoints, 1);
	ck_assert_str_eq(t.endpoints[0].name, "a");
	ck_assert_uint_eq(t.endpoints[0].c.accepted, 0);
	ck_assert(t.reload_ok);
	status_free(&t);
	json_free(j);
}
END_TEST

static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

START_TEST(test_prometheus)
{
	struct status s;
	struct buf b = { 0 };
	const char *line;

	sample(&s);
	status_prometheus(&s, &b);
	ck_assert_int_eq(buf_status(&b), 0);
	ck_assert_msg(has_line(b.data, "sockd_info{version=\"0.1.0\"} 1"), "%s", b.data);
	ck_assert(has_line(b.data, "# TYPE sockd_served_total counter"));
	ck_assert(has_line(b.data, "sockd_served_total 123456789012"));
	ck_assert(has_line(b.data, "sockd_config_last_reload_successful 0"));
	ck_assert(has_line(b.data, "sockd_config_errors 2"));
	ck_assert(has_line(b.data, "sockd_uptime_seconds 3723.250"));
	ck_assert(has_line(b.data, "sockd_queue_capacity 4096"));
	ck_assert(has_line(b.data, "sockd_endpoint_info{endpoint=\"metrics\",service=\"metrics\"} 1"));
	ck_assert(has_line(b.data,
			   "sockd_listener_info{endpoint=\"echo\",address=\"unix:/run/sockd/echo.sock\",origin=\"systemd\"} 1"));
	ck_assert(has_line(b.data, "sockd_listener_info{endpoint=\"echo\",address=\"tcp:127.0.0.1:7\",origin=\"bound\"} 1"));
	ck_assert(has_line(b.data, "sockd_listener_info{endpoint=\"metrics\",address=\"tcp:[::1]:9100\",origin=\"kept\"} 1"));
	ck_assert(has_line(b.data, "# TYPE sockd_endpoint_connections_active gauge"));
	ck_assert(has_line(b.data, "sockd_endpoint_connections_active{endpoint=\"echo\"} 1"));
	ck_assert(has_line(b.data, "sockd_endpoint_accepted_total{endpoint=\"echo\"} 2"));
	ck_assert(has_line(b.data, "sockd_endpoint_refused_total{endpoint=\"echo\",reason=\"acl\"} 3"));
	ck_assert(has_line(b.data, "sockd_endpoint_refused_total{endpoint=\"echo\",reason=\"proxy\"} 7"));
	ck_assert(has_line(b.data, "sockd_endpoint_refused_total{endpoint=\"echo\",reason=\"sessions\"} 16"));
	ck_assert(has_line(b.data, "sockd_endpoint_refused_total{endpoint=\"echo\",reason=\"sni\"} 32"));
	ck_assert(has_line(b.data, "sockd_endpoint_sni_routed_total{endpoint=\"echo\",reason=\"route\"} 30"));
	ck_assert(has_line(b.data, "sockd_endpoint_sni_routed_total{endpoint=\"echo\",reason=\"default\"} 31"));
	ck_assert(has_line(b.data, "sockd_endpoint_udp_sessions{endpoint=\"echo\"} 17"));
	ck_assert(has_line(b.data, "sockd_endpoint_udp_sessions_evicted_total{endpoint=\"echo\",reason=\"source\"} 18"));
	ck_assert(has_line(b.data, "sockd_endpoint_udp_sessions_evicted_total{endpoint=\"echo\",reason=\"full\"} 19"));
	ck_assert(has_line(b.data, "sockd_endpoint_udp_sessions_evicted_total{endpoint=\"echo\",reason=\"budget\"} 20"));
	ck_assert(has_line(b.data, "sockd_udp_sessions 17"));
	ck_assert(has_line(b.data, "sockd_udp_sessions_max 5000"));
	ck_assert(has_line(b.data, "sockd_endpoint_received_bytes_total{endpoint=\"metrics\"} 18446744073709551615"));
	ck_assert(has_line(b.data, "sockd_endpoint_dropped_datagrams_total{endpoint=\"echo\",reason=\"guard\"} 15"));

	/* Each family has one HELP and one TYPE, before its samples, and every
	 * sample belongs to the family declared last. */
	for (line = b.data; *line;) {
		const char *end = strchr(line, '\n');
		static char family[128];

		ck_assert_ptr_nonnull(end);
		if (strncmp(line, "# TYPE ", 7) == 0) {
			size_t n = strcspn(line + 7, " ");
			char needle[160];

			ck_assert_uint_lt(n, sizeof(family));
			memcpy(family, line + 7, n);
			family[n] = '\0';
			snprintf(needle, sizeof(needle), "# TYPE %s ", family);
			ck_assert_ptr_eq(strstr(b.data, needle), line);
		} else if (line[0] != '#') {
			ck_assert_msg(strncmp(line, family, strlen(family)) == 0 &&
				      (line[strlen(family)] == '{' || line[strlen(family)] == ' '),
				      "sample outside its family %s: %.*s", family, (int)(end - line), line);
		}
		line = end + 1;
	}
	status_free(&s);
	buf_free(&b);
}
END_TEST

START_TEST(test_prometheus_label_escaping)
{
	struct status s = { 0 };
	struct status_endpoint e = { 0 };
	struct buf b = { 0 };

	e.name = "a\"b\\c\nd";
	e.service = "echo";
	s.endpoints = &e;
	s.n_endpoints = 1;
	status_prometheus(&s, &b);
	ck_assert_msg(has_line(b.data, "sockd_endpoint_accepted_total{endpoint=\"a\\\"b\\\\c\\nd\"} 0"), "%s", b.data);
	buf_free(&b);
}
END_TEST

START_TEST(test_human)
{
	static const struct { unsigned long long v; const char *want; } cases[] = {
		{ 0, "0" }, { 999, "999" }, { 1000, "1.0k" }, { 1234, "1.2k" }, { 9949, "9.9k" },
		{ 9950, "10k" }, { 12345, "12k" }, { 999499, "999k" }, { 999500, "1.0M" },
		{ 1200000, "1.2M" }, { 340000000, "340M" }, { 1000000000000ULL, "1.0T" },
		{ ULLONG_MAX, "18E" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(status_human(cases[i].v, buf, sizeof(buf)), cases[i].want);
	ck_assert_str_eq(status_duration(0, buf, sizeof(buf)), "0s");
	ck_assert_str_eq(status_duration(59.9, buf, sizeof(buf)), "59s");
	ck_assert_str_eq(status_duration(303, buf, sizeof(buf)), "5m03s");
	ck_assert_str_eq(status_duration(3723, buf, sizeof(buf)), "1h02m");
	ck_assert_str_eq(status_duration(3 * 86400 + 4 * 3600 + 5, buf, sizeof(buf)), "3d4h");
	ck_assert_str_eq(status_duration(-5, buf, sizeof(buf)), "0s");
}
END_TEST

START_TEST(test_table)
{
	struct status s;
	struct buf b = { 0 };
	char *l1, *l2, *l3;

	sample(&s);
	status_table(&s, 1700003120.5, &b);
	ck_assert_int_eq(buf_status(&b), 0);
	ck_assert_msg(strstr(b.data, "sockd 0.1.0 (pid 4242), up 1h02m, config /etc/sockd/sock\"d.conf\n"), "%s", b.data);
	ck_assert(strstr(b.data, "last reload: FAILED (still serving the previous configuration), 2m00s ago\n"));
	ck_assert(strstr(b.data, "\n  /etc/sockd/sockd.conf:9: endpoint 'e' has no 'listen'\n"));
	ck_assert(strstr(b.data, "workers 3, queue 5/4096, connections 7/65536, served 123G\n"
			 "datagram forward sessions 17/5000\n"));

	/* One row per address; the counters on the first. */
	l1 = strstr(b.data, "\necho ");
	ck_assert_ptr_nonnull(l1);
	l2 = strchr(l1 + 1, '\n');
	l3 = strchr(l2 + 1, '\n');
	ck_assert_ptr_nonnull(l3);
	*l2 = *l3 = '\0';
	ck_assert_msg(strstr(l1, " tcp:127.0.0.1:7 ") && strstr(l1, " bound "), "%s", l1 + 1);
	/* active 1, accepted 2, refused 3+4+5+6+7+16+32, bytes 10/11, datagrams 12/13, failed 9 */
	ck_assert_msg(strstr(l1, " 1  ") && strstr(l1, " 73 ") && strstr(l1, " 12/13 ") &&
		      strcmp(l1 + strlen(l1) - 2, " 9") == 0, "%s", l1 + 1);
	ck_assert_msg(strstr(l2 + 1, "unix:/run/sockd/echo.sock  systemd") &&
		      strlen(l2 + 1) == strspn(l2 + 1, " ") + strlen("unix:/run/sockd/echo.sock  systemd"),
		      "'%s'", l2 + 1);
	*l2 = *l3 = '\n';
	ck_assert_msg(strstr(b.data, "\nmetrics   metrics  tcp:[::1]:9100 "), "%s", b.data);
	ck_assert_msg(strstr(b.data, "\necho: refused acl 3, limit 4, rate 5, overload 6, proxy 7, sni 32, sessions 16; "
			     "closed idle 8; dropped datagrams rate 14, guard 15; "
			     "sessions ended for new clients: source 18, full 19, budget 20; "), "%s", b.data);
	ck_assert_msg(strstr(b.data, ", other 29; sni routed 30, default 31\n"), "%s", b.data);
	status_free(&s);
	buf_free(&b);
}
END_TEST

START_TEST(test_counters_add)
{
	struct status_counters a = { .accepted = 1, .bytes_in = 10, .dropped_guard = 5 };
	struct status_counters b = { .accepted = 2, .bytes_in = 20, .active = 4, .dropped_guard = 1 };

	status_counters_add(&a, &b);
	ck_assert_uint_eq(a.accepted, 3);
	ck_assert_uint_eq(a.bytes_in, 30);
	ck_assert_uint_eq(a.active, 4);
	ck_assert_uint_eq(a.dropped_guard, 6);
	ck_assert_uint_eq(status_refused(&(struct status_counters){ .refused_acl = 1, .refused_proxy = 2 }), 3);
}
END_TEST

static Suite *
status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_json_round_trip);
	tcase_add_test(tc, test_from_json_rejects);
	tcase_add_test(tc, test_prometheus);
	tcase_add_test(tc, test_prometheus_label_escaping);
	tcase_add_test(tc, test_human);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_counters_add);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(status_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
