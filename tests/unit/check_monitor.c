/* monitor.c: what sockctl status and /metrics see across reloads. A reload
 * replaces every endpoint object; the view must keep counting by name,
 * include the replaced endpoint while its connections run, and keep its
 * final counts once they are gone, never counting anything twice. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "listener.h"
#include "monitor.h"
#include "queue.h"
#include "status.h"

static char conf_path[] = "/tmp/check_monitor.XXXXXX";

static struct sockd_config *
load(const char *text)
{
	struct sockd_config *cfg = NULL;
	struct diag d = { 0 };
	FILE *f = fopen(conf_path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	if (config_load(conf_path, &cfg, &d) < 0)
		ck_abort_msg("config: %s", d.n ? d.lines[0] : "?");
	diag_free(&d);
	return cfg;
}

static const char conf_two[] =
	"endpoints = (\n"
	"  { name = \"a\"; listen = [ \"tcp:127.0.0.1:7\", \"unix:@check-monitor\" ]; service = \"echo\"; },\n"
	"  { name = \"b\"; listen = \"udp:127.0.0.1:7\"; service = \"time\"; }\n"
	");\n";

static void
set_listeners(struct sockd *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_listeners; i++)
		listener_free(d->listeners[i]);
	free(d->listeners);
	for (size_t i = 0; i < d->cfg->n_endpoints; i++)
		n += d->cfg->endpoints[i]->n_listen;
	d->listeners = calloc(n, sizeof(*d->listeners));
	d->n_listeners = 0;
	for (size_t i = 0; i < d->cfg->n_endpoints; i++) {
		struct endpoint *ep = d->cfg->endpoints[i];

		for (size_t k = 0; k < ep->n_listen; k++) {
			struct listener *l = listener_new(ep, &ep->listen[k], -1);

			ck_assert_ptr_nonnull(l);
			l->from_systemd = k == 1;
			d->listeners[d->n_listeners++] = l;
		}
	}
}

/* A daemon as far as the monitor looks: config, listeners, totals. */
static void
fake_daemon(struct sockd *d, struct sockd_config *cfg)
{
	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->config_path = conf_path;
	d->last_reload_ok = true;
	d->n_workers = 3;
	d->max_connections = 100;
	d->started_at = 1000.0;
	ck_assert_int_eq(queue_new(16, &d->queue), 0);
	set_listeners(d);
}

static void
fake_free(struct sockd *d)
{
	monitor_clear();
	for (size_t i = 0; i < d->n_listeners; i++)
		listener_free(d->listeners[i]);
	free(d->listeners);
	queue_free(d->queue);
	config_free(d->cfg);
	diag_free(&d->reload_errors);
}

static const struct status_endpoint *
snap_ep(struct status *s, const char *name)
{
	status_free(s);
	ck_assert_int_eq(monitor_snapshot(s), 0);
	for (size_t i = 0; i < s->n_endpoints; i++)
		if (strcmp(s->endpoints[i].name, name) == 0)
			return &s->endpoints[i];
	return NULL;
}

static void
setup(void)
{
	int fd;

	strcpy(conf_path, "/tmp/check_monitor.XXXXXX");
	fd = mkstemp(conf_path);

	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void
teardown(void)
{
	unlink(conf_path);
}

START_TEST(test_nothing_published)
{
	struct status s;

	ck_assert_int_eq(monitor_snapshot(&s), -ENOENT);
}
END_TEST

START_TEST(test_snapshot)
{
	struct sockd d;
	struct status s = { 0 };
	const struct status_endpoint *e;

	fake_daemon(&d, load(conf_two));
	atomic_store(&d.active, 2);
	atomic_store(&d.served, 41);
	atomic_store(&d.cfg->endpoints[0]->stats.accepted, 5);
	atomic_store(&d.cfg->endpoints[0]->stats.refused_rate, 2);
	atomic_store(&d.cfg->endpoints[1]->stats.datagrams_out, 9);
	ck_assert_int_eq(monitor_publish(&d), 0);

	e = snap_ep(&s, "a");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(s.config_file, conf_path);
	ck_assert_uint_eq(s.workers, 3);
	ck_assert_uint_eq(s.queue_capacity, 16);
	ck_assert_uint_eq(s.max_connections, 100);
	ck_assert_uint_eq(s.active, 2);
	ck_assert_uint_eq(s.served, 41);
	ck_assert_int_eq(s.pid, getpid());
	ck_assert(s.reload_ok);
	ck_assert_uint_eq(s.n_endpoints, 2);
	ck_assert_str_eq(e->service, "echo");
	ck_assert_uint_eq(e->n_listen, 2);
	ck_assert_str_eq(e->listen[0].address, "tcp:127.0.0.1:7");
	ck_assert(!e->listen[0].from_systemd);
	ck_assert_str_eq(e->listen[1].address, "unix:@check-monitor");
	ck_assert(e->listen[1].from_systemd);
	ck_assert_uint_eq(e->c.accepted, 5);
	ck_assert_uint_eq(e->c.refused_rate, 2);
	/* Counters are read live, not when the view was published. */
	atomic_store(&d.cfg->endpoints[0]->stats.accepted, 6);
	e = snap_ep(&s, "a");
	ck_assert_uint_eq(e->c.accepted, 6);
	e = snap_ep(&s, "b");
	ck_assert_str_eq(e->service, "time");
	ck_assert_uint_eq(e->c.datagrams_out, 9);

	/* Reload errors go with the view. */
	d.last_reload_ok = false;
	d.reload_at = 2000.5;
	diag_add(&d.reload_errors, "x.conf", 3, "bad");
	ck_assert_int_eq(monitor_publish(&d), 0);
	snap_ep(&s, "a");
	ck_assert(!s.reload_ok);
	ck_assert_double_eq(s.reload_time, 2000.5);
	ck_assert_uint_eq(s.n_reload_errors, 1);
	ck_assert_str_eq(s.reload_errors[0], "x.conf:3: bad");
	status_free(&s);
	fake_free(&d);
}
END_TEST

START_TEST(test_reload_carries_counts)
{
	struct sockd d;
	struct status s = { 0 };
	const struct status_endpoint *e;
	struct endpoint *old_a;
	struct sockd_config *old;

	fake_daemon(&d, load(conf_two));
	old_a = endpoint_ref(d.cfg->endpoints[0]);      /* as an open connection would */
	atomic_store(&old_a->stats.accepted, 10);
	atomic_store(&old_a->stats.active, 1);
	atomic_store(&old_a->stats.bytes_in, 100);
	ck_assert_int_eq(monitor_publish(&d), 0);

	/* Reload: new endpoint objects; "b" is gone, "c" is new. */
	old = d.cfg;
	d.cfg = load("endpoints = (\n"
		     "  { name = \"c\"; listen = \"tcp:127.0.0.1:9\"; service = \"discard\"; },\n"
		     "  { name = \"a\"; listen = \"tcp:127.0.0.1:7\"; service = \"echo\"; }\n"
		     ");\n");
	set_listeners(&d);
	config_free(old);
	ck_assert_ptr_ne(d.cfg->endpoints[1], old_a);
	atomic_store(&d.cfg->endpoints[1]->stats.accepted, 3);
	atomic_store(&d.cfg->endpoints[1]->stats.active, 2);
	ck_assert_int_eq(monitor_publish(&d), 0);

	e = snap_ep(&s, "a");
	ck_assert_uint_eq(s.n_endpoints, 2);
	ck_assert_ptr_null(snap_ep(&s, "b"));
	e = snap_ep(&s, "a");
	ck_assert_uint_eq(e->n_listen, 1);
	ck_assert_uint_eq(e->c.accepted, 13);
	ck_assert_uint_eq(e->c.active, 3);
	ck_assert_uint_eq(e->c.bytes_in, 100);

	/* The old connection ends: its bytes arrive, then it is no longer active. */
	atomic_store(&old_a->stats.bytes_in, 150);
	atomic_store(&old_a->stats.active, 0);
	e = snap_ep(&s, "a");
	ck_assert_uint_eq(e->c.bytes_in, 150);
	ck_assert_uint_eq(e->c.active, 2);
	/* The next publish folds it in, once. */
	ck_assert_int_eq(monitor_publish(&d), 0);
	ck_assert_int_eq(monitor_publish(&d), 0);
	e = snap_ep(&s, "a");
	ck_assert_uint_eq(e->c.accepted, 13);
	ck_assert_uint_eq(e->c.bytes_in, 150);
	ck_assert_uint_eq(e->c.active, 2);
	/* ... and lets go of it: only our reference is left. */
	ck_assert_uint_eq(atomic_load(&old_a->refs), 1);
	endpoint_unref(old_a);

	/* A second reload keeps the folded history. */
	old = d.cfg;
	d.cfg = load(conf_two);
	set_listeners(&d);
	config_free(old);
	ck_assert_int_eq(monitor_publish(&d), 0);
	e = snap_ep(&s, "a");
	/* The replaced "a" still has active = 2: included, live. */
	ck_assert_uint_eq(e->c.accepted, 13);
	ck_assert_uint_eq(e->c.active, 2);
	e = snap_ep(&s, "b");
	ck_assert_uint_eq(e->c.accepted, 0);    /* a new "b": the old one's view is gone */
	status_free(&s);
	fake_free(&d);
}
END_TEST

static Suite *
monitor_suite(void)
{
	Suite *s = suite_create("monitor");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_nothing_published);
	tcase_add_test(tc, test_snapshot);
	tcase_add_test(tc, test_reload_carries_counts);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(monitor_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
