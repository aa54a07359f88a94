/* The key tables (keys.c, config_keys.c, the services' own) and the source
 * interface (config_source.h) without libconfig: a hand-built source. */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_source.h"
#include "keys.h"
#include "service.h"
#include "exec_options.h"
#include "forward_options.h"

/* Every set a key can be in, with the services that own it. */
static const struct key_set *
set_at(size_t i)
{
	static const struct key_set *fixed[] = { &root_keys, &daemon_keys, &endpoint_keys };
	size_t j = 3;

	if (i < 3)
		return fixed[i];
	for (const struct service *const *s = service_table; *s; s++)
		if ((*s)->keys && j++ == i)
			return (*s)->keys;
	return NULL;
}

START_TEST(test_tables_well_formed)
{
	size_t n_sets = 0, n_keys = 0;

	for (const struct key_set *set; (set = set_at(n_sets)); n_sets++) {
		ck_assert_ptr_nonnull(set->section);
		for (const struct key *k = set->keys; k->name; k++, n_keys++) {
			ck_assert_msg(k->set, "%s.%s has no setter", set->section, k->name);
			ck_assert_msg(k->doc && *k->doc, "%s.%s has no description", set->section, k->name);
			ck_assert_msg(!!k->def != !!k->doc_def,
			    "%s.%s: a default value or words for it, exactly one", set->section, k->name);
			if (set != &root_keys)
				ck_assert_msg(k->print, "%s.%s is not printed by -nv", set->section, k->name);
			if (k->type == KEY_INTEGER || k->type == KEY_NUMBER)
				ck_assert_msg(k->min <= k->max, "%s.%s: empty range", set->section, k->name);
			if (k->type == KEY_CHOICE)
				ck_assert_ptr_nonnull(k->choices);
			/* A name once per set. */
			for (const struct key *o = set->keys; o < k; o++)
				ck_assert_msg(strcmp(o->name, k->name) != 0, "%s.%s twice",
				    set->section, k->name);
		}
	}
	ck_assert_uint_ge(n_sets, 6);
	/* config_build.c keeps a scratch struct per foreign set. */
	ck_assert_uint_le(n_sets - 3, CONFIG_MAX_KEY_SETS);
	ck_assert_uint_ge(n_keys, 45);
}
END_TEST

/* A service's key must not hide a key every endpoint has, nor another
 * service's: in an endpoint group a name means one key. */
START_TEST(test_endpoint_names_unique)
{
	for (size_t i = 3; set_at(i); i++) {
		for (const struct key *k = set_at(i)->keys; k->name; k++) {
			ck_assert_msg(!key_find(&endpoint_keys, k->name),
			    "%s.%s hides the endpoint key", set_at(i)->section, k->name);
			for (size_t j = 3; j < i; j++)
				ck_assert_msg(!key_find(set_at(j), k->name), "%s.%s is also %s's",
				    set_at(i)->section, k->name, set_at(j)->section);
		}
	}
}
END_TEST

/* Every default is a value its own setter takes, and it lands where the
 * code reads it. */
START_TEST(test_defaults_apply)
{
	struct exec_options *eo;
	struct forward_options *fo;

	for (size_t i = 3; set_at(i); i++) {
		void *base = key_set_new(set_at(i));

		ck_assert_msg(base != NULL, "defaults of %s do not load", set_at(i)->section);
		key_set_release(set_at(i), base);
		free(base);
	}
	eo = key_set_new(service_exec.keys);
	ck_assert_ptr_nonnull(eo);
	ck_assert_ptr_null(eo->command);
	ck_assert_uint_eq(eo->uid, (uid_t)-1);
	ck_assert_int_eq(eo->umask, -1);
	ck_assert_int_eq(eo->nice, NICE_UNSET);
	ck_assert_uint_eq(eo->instances, 0);
	key_set_release(service_exec.keys, eo);
	free(eo);
	fo = key_set_new(service_forward.keys);
	ck_assert_ptr_nonnull(fo);
	ck_assert_double_eq(fo->connect_timeout, 5);
	ck_assert_int_eq(fo->balance, BALANCE_FIRST);
	key_set_release(service_forward.keys, fo);
	free(fo);
}
END_TEST

/* A load looks each user and group name up once (c->ids); failures are
 * looked up, and reported, every time. */
static bool
parse_user(struct key_ctx *c, const char *text, struct key_user *u)
{
	struct cval v = { .type = CVAL_STRING, .name = "user", .file = "x.conf", .line = 3,
	    .s = (char *)text };
	bool ok = key_parse_user(c, &v, u);

	if (ok) {
		free(u->name);
		free(u->group);
	}
	return ok;
}

START_TEST(test_user_lookups_kept)
{
	struct diag d = { 0 };
	struct key_ids ids = { 0 };
	struct key_ctx c = { .path = "x.conf", .d = &d, .ids = &ids };
	struct key_user u;
	size_t *at;

	ck_assert(parse_user(&c, "root", &u));
	ck_assert_uint_eq(u.uid, 0);
	ck_assert_uint_eq(u.gid, 0);
	ck_assert_uint_eq(ids.n, 1);
	ck_assert(parse_user(&c, "root", &u));
	ck_assert_uint_eq(ids.n, 1);
	ck_assert(parse_user(&c, "root:root", &u));
	ck_assert_uint_eq(u.gid, 0);
	ck_assert_uint_eq(ids.n, 2);
	ck_assert_ptr_nonnull(hmap_get(&ids.groups, "root", 4));

	/* The second time, the answer is the one kept. */
	ck_assert_ptr_nonnull(at = hmap_get(&ids.users, "root", 4));
	ids.v[*at].uid = 4242;
	ids.v[*at].gid = 4343;
	ck_assert(parse_user(&c, "root", &u));
	ck_assert_uint_eq(u.uid, 4242);
	ck_assert_uint_eq(u.gid, 4343);

	ck_assert(!parse_user(&c, "no-such-user-sockd", &u));
	ck_assert(!parse_user(&c, "no-such-user-sockd", &u));
	ck_assert_uint_eq(d.n, 2);
	ck_assert_str_eq(d.lines[0], "x.conf:3: unknown user 'no-such-user-sockd'");
	ck_assert_str_eq(d.lines[1], d.lines[0]);
	ck_assert_uint_eq(ids.n, 2);

	/* Without ids, every name is looked up. */
	c.ids = NULL;
	ck_assert(parse_user(&c, "root", &u));
	ck_assert_uint_eq(u.uid, 0);
	key_ids_free(&ids);
	ck_assert_uint_eq(ids.n, 0);
	diag_free(&d);
}
END_TEST

START_TEST(test_generic_setters)
{
	struct diag d = { 0 };
	struct key_ctx c = { .path = "x.conf", .d = &d };
	const struct key kint = { .name = "n", .type = KEY_INTEGER, .min = 1, .max = 10 };
	const struct key koct = { .name = "mode", .type = KEY_OCTAL, .example = "0660" };
	struct cval v = { .type = CVAL_INT, .name = "n", .file = "x.conf", .line = 7, .i = 11 };
	unsigned u = 0;
	double f = 0;
	int m = -1;

	ck_assert(!key_set_uint(&c, &kint, &v, &u));
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.lines[0], "x.conf:7: 'n' must be between 1 and 10");
	v.i = 10;
	ck_assert(key_set_uint(&c, &kint, &v, &u));
	ck_assert_uint_eq(u, 10);
	/* An integer is a number too. */
	ck_assert(key_set_double(&c, &kint, &v, &f));
	ck_assert_double_eq(f, 10);

	/* Mode digits are octal, decimal or string; hex is taken at its value. */
	v.name = "mode";
	v.i = 660;
	ck_assert(key_set_octal(&c, &koct, &v, &m));
	ck_assert_int_eq(m, 0660);
	v.i = 0x1b6;
	v.hex = true;
	ck_assert(key_set_octal(&c, &koct, &v, &m));
	ck_assert_int_eq(m, 0666);
	v.type = CVAL_STRING;
	v.s = "0698";
	ck_assert(!key_set_octal(&c, &koct, &v, &m));
	ck_assert_str_eq(d.lines[d.n - 1],
	    "x.conf:7: invalid mode '0698' (octal digits expected, like \"0660\")");
	ck_assert_uint_eq(c.errors, 2);
	diag_free(&d);
}
END_TEST

/* key_read_group and key_set_abs_path: a small group of its own. */
struct grp {
	char *path;
	unsigned n;
};

static const struct key grp_table[] = {
	{ .name = "path", .type = KEY_STRING, .set = key_set_abs_path, .release = key_release_string,
	  .offset = offsetof(struct grp, path), .required = true },
	{ .name = "n", .type = KEY_INTEGER, .set = key_set_uint, .min = 1, .max = 9,
	  .offset = offsetof(struct grp, n), .def = "1" },
	{ .name = NULL },
};
static const struct key_set grp_keys = { .section = "grp", .keys = grp_table, .size = sizeof(struct grp) };

START_TEST(test_read_group)
{
	struct diag d = { 0 };
	struct key_ctx c = { .path = "x.conf", .d = &d };
	struct cval m[] = {
		{ .type = CVAL_STRING, .name = "path", .s = "/a", .file = "x.conf", .line = 2 },
		{ .type = CVAL_INT, .name = "n", .i = 3, .file = "x.conf", .line = 3 },
		{ .type = CVAL_STRING, .name = "nope", .s = "x", .file = "x.conf", .line = 4 },
	};
	struct cval g = { .type = CVAL_GROUP, .name = "grp", .elems = m, .n = 2, .file = "x.conf", .line = 1 };
	struct grp *o = key_set_new(&grp_keys);

	ck_assert_ptr_nonnull(o);
	ck_assert(key_read_group(&c, &grp_keys, "grp", &g, o));
	ck_assert_str_eq(o->path, "/a");
	ck_assert_uint_eq(o->n, 3);
	ck_assert_uint_eq(d.n, 0);

	/* Every member is read: an unknown key and a relative path are both
	 * reported, and the lack of the required one as well. */
	m[0].s = "a";
	g.n = 3;
	ck_assert(!key_read_group(&c, &grp_keys, "grp", &g, o));
	ck_assert_uint_eq(d.n, 2);
	ck_assert_str_eq(d.lines[0], "x.conf:2: 'path' must be an absolute path");
	ck_assert_str_eq(d.lines[1], "x.conf:4: unknown key 'nope' in grp");
	g.elems = m + 1;
	g.n = 1;
	ck_assert(!key_read_group(&c, &grp_keys, "grp", &g, o));
	ck_assert_str_eq(d.lines[d.n - 1], "x.conf:1: grp needs 'path'");
	m[0].type = CVAL_INT;
	ck_assert(!key_set_abs_path(&c, &grp_table[0], &m[0], &o->path));
	ck_assert_str_eq(d.lines[d.n - 1], "x.conf:2: 'path' must be a string");
	ck_assert_str_eq(o->path, "/a");
	key_set_release(&grp_keys, o);
	free(o);
	diag_free(&d);
}
END_TEST

/* ---- a source without libconfig: what an inetd.conf reader does */

#define MEMBER_S(n, v, ln) { .type = CVAL_STRING, .name = n, .s = v, .file = "inetd.conf", .line = ln }

START_TEST(test_other_source)
{
	struct cval list_ok[] = { MEMBER_S(NULL, "tcp:127.0.0.1:7999", 3) };
	struct cval cmd[] = { MEMBER_S(NULL, "/bin/cat", 3) };
	struct cval ok[] = {
		MEMBER_S("name", "cat", 3),
		{ .type = CVAL_LIST, .name = "listen", .elems = list_ok, .n = 1,
		  .file = "inetd.conf", .line = 3 },
		MEMBER_S("service", "exec", 3),
		{ .type = CVAL_LIST, .name = "command", .elems = cmd, .n = 1,
		  .file = "inetd.conf", .line = 3 },
	};
	struct cval bad[] = {
		MEMBER_S("name", "x", 5),
		MEMBER_S("listen", "tcp:127.0.0.1:7999", 5),
		MEMBER_S("service", "echo", 5),
		MEMBER_S("user", "nobody", 5),
	};
	struct cval g_ok = { .type = CVAL_GROUP, .elems = ok, .n = 4, .file = "inetd.conf", .line = 3 };
	struct cval g_bad = { .type = CVAL_GROUP, .elems = bad, .n = 4, .file = "inetd.conf", .line = 5 };
	struct sockd_config *cfg;
	struct diag d = { 0 };
	struct loader l;

	/* A good line: the same endpoint sockd.conf would give. */
	ck_assert_int_eq(loader_begin(&l, "inetd.conf", &d), 0);
	loader_endpoint(&l, &g_ok, 1);
	ck_assert_int_eq(loader_end(&l, &cfg), 0);
	ck_assert_uint_eq(cfg->n_endpoints, 1);
	ck_assert_str_eq(cfg->endpoints[0]->file, "inetd.conf");
	ck_assert_int_eq(cfg->endpoints[0]->line, 3);
	ck_assert_str_eq(exec_options(cfg->endpoints[0])->command[0], "/bin/cat");
	ck_assert_uint_eq(cfg->endpoints[0]->backlog, 1024);
	config_free(cfg);

	/* The same rules, with the source's own file and line. */
	ck_assert_int_eq(loader_begin(&l, "inetd.conf", &d), 0);
	loader_endpoint(&l, &g_ok, 1);
	loader_endpoint(&l, &g_bad, 2);
	ck_assert_int_eq(loader_end(&l, &cfg), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_str_eq(d.lines[0], "inetd.conf:5: address 'tcp:127.0.0.1:7999' is already used "
	    "by endpoint 'cat' (inetd.conf:3)");
	ck_assert_str_eq(d.lines[1], "inetd.conf:5: 'user' is only allowed with service 'exec'");
	diag_free(&d);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("keys");
	TCase *tc = tcase_create("keys");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_tables_well_formed);
	tcase_add_test(tc, test_endpoint_names_unique);
	tcase_add_test(tc, test_defaults_apply);
	tcase_add_test(tc, test_generic_setters);
	tcase_add_test(tc, test_read_group);
	tcase_add_test(tc, test_user_lookups_kept);
	tcase_add_test(tc, test_other_source);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
