/* The pure parts of the TLS layer (server name matching, the ALPN wire
 * format, fingerprints, environment strings) and the tls = { } group of
 * the configuration: what it accepts, what it refuses and how it says so,
 * including the files it names (made here with OpenSSL); and chains of
 * resumed sessions against the server side over socketpairs. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "diag.h"
#include "sockd.h"
#include "tls.h"

START_TEST(name_match)
{
	ck_assert(tls_name_match("a.example", "a.example"));
	ck_assert(tls_name_match("A.Example", "a.EXAMPLE"));
	ck_assert(!tls_name_match("a.example", "b.example"));
	ck_assert(!tls_name_match("a.example", "a.example."));
	ck_assert(tls_name_match("*.example", "x.example"));
	ck_assert(tls_name_match("*.example", "X.EXAMPLE"));
	ck_assert(!tls_name_match("*.example", "example"));
	ck_assert(!tls_name_match("*.example", ".example"));
	ck_assert(!tls_name_match("*.example", "a.b.example"));
	ck_assert(!tls_name_match("*.example", "xexample"));
	ck_assert(!tls_name_match("*", "anything"));
	ck_assert(!tls_name_match(NULL, "a"));
	ck_assert(!tls_name_match("a", NULL));
}
END_TEST

START_TEST(alpn_wire)
{
	char *two[] = { "h2", "http/1.1", NULL };
	char *empty[] = { "", NULL };
	char long_name[300];
	char *too_long[] = { long_name, NULL };
	uint8_t out[64];

	ck_assert_int_eq(tls_alpn_wire(two, out, sizeof(out)), 12);
	ck_assert_mem_eq(out, "\002h2\010http/1.1", 12);
	ck_assert_int_eq(tls_alpn_wire(two, out, 11), -EINVAL);
	ck_assert_int_eq(tls_alpn_wire(empty, out, sizeof(out)), -EINVAL);
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	ck_assert_int_eq(tls_alpn_wire(too_long, out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(tls_alpn_wire(NULL, out, sizeof(out)), 0);
}
END_TEST

START_TEST(hex_colon)
{
	const uint8_t in[] = { 0x00, 0xab, 0x0f, 0xff };
	char out[16];

	tls_hex_colon(in, sizeof(in), out, sizeof(out));
	ck_assert_str_eq(out, "00:AB:0F:FF");
	tls_hex_colon(in, sizeof(in), out, 6);     /* "00:AB" fits, nothing after */
	ck_assert_str_eq(out, "00:AB");
	tls_hex_colon(in, 0, out, sizeof(out));
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(env_string)
{
	char *s = tls_env_string("SSL_CLIENT_S_DN", "CN=evil\n\x1b[31m,O=x");

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, "SSL_CLIENT_S_DN=CN=evil??[31m,O=x");
	free(s);
	s = tls_env_string("SSL_ALPN", "");
	ck_assert_str_eq(s, "SSL_ALPN=");
	free(s);
}
END_TEST

/* ------------------------------------------------------------ configuration */

static char dir[256];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "%s/check_tls.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A self-signed P-256 certificate valid from now for days (negative:
 * expired), into dir/name.pem and dir/name.key. */
static void
make_cert(const char *name, long days)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	char path[300];
	FILE *f;

	ck_assert_ptr_nonnull(k);
	ck_assert_ptr_nonnull(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), days < 0 ? 2 * days * 86400 : 0);
	X509_gmtime_adj(X509_getm_notAfter(x), days * 86400);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
	snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	PEM_write_X509(f, x);
	fclose(f);
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	chmod(path, 0600);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* Load an endpoint whose tls group is tls, with every '@' replaced by
 * dir. 0 or -EINVAL; the messages in d. */
static int
load_tls(const char *tls, struct sockd_config **cfg, struct diag *d)
{
	char path[300], group[2048];
	FILE *f;
	int r;

	size_t o = 0;

	for (const char *p = tls; *p && o + sizeof(dir) + 1 < sizeof(group); p++) {
		if (*p == '@') {
			memcpy(group + o, dir, strlen(dir));
			o += strlen(dir);
		} else {
			group[o++] = *p;
		}
	}
	group[o] = '\0';
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "endpoints = ( { name = \"e\"; listen = \"tcp:127.0.0.1:9\"; service = \"echo\";\n"
		   "  tls = { %s }; } );\n", group);
	fclose(f);
	*cfg = NULL;
	r = config_load(path, cfg, d);
	return r;
}

/* The load fails with a message that contains want. */
static void
expect_error(const char *tls, const char *want)
{
	struct sockd_config *cfg;
	struct diag d = { 0 };
	bool found = false;

	ck_assert_int_eq(load_tls(tls, &cfg, &d), -EINVAL);
	for (size_t i = 0; i < d.n; i++)
		if (strstr(d.lines[i], want))
			found = true;
	if (!found)
		ck_abort_msg("no error with \"%s\" for tls = { %s }: first: %s", want, tls,
			     d.n ? d.lines[0] : "(none)");
	diag_free(&d);
	config_free(cfg);
}

START_TEST(config_ok)
{
	struct sockd_config *cfg;
	struct diag d = { 0 };
	const struct tls_options *o;

	make_cert("a", 10);
	make_cert("b", 10);
	ck_assert_int_eq(load_tls("certificate = \"@/a.pem\"; key = \"@/a.key\"; alpn = [ \"h2\" ];"
				  " client_ca = \"@/b.pem\"; verify_client = \"require\"; min_version = \"1.3\";"
				  " sni = ( { server_name = [ \"b.test\", \"*.b.test\" ]; certificate = \"@/b.pem\";"
				  " key = \"@/b.key\"; } ); unknown_sni = \"refuse\"; handshake_timeout = 0.5;",
				  &cfg, &d), 0);
	ck_assert_uint_eq(cfg->n_endpoints, 1);
	o = cfg->endpoints[0]->tls;
	ck_assert_ptr_nonnull(o);
	ck_assert_ptr_nonnull(o->server);
	ck_assert_int_eq(o->verify_client, TLS_VERIFY_REQUIRE);
	ck_assert_int_eq(o->unknown_sni, TLS_SNI_REFUSE);
	ck_assert_uint_eq(o->n_sni, 1);
	ck_assert_str_eq(o->sni[0].server_name[1], "*.b.test");
	ck_assert(o->session_tickets);
	ck_assert(o->handshake_timeout == 0.5);
	ck_assert_uint_eq(cfg->n_warnings, 0);
	config_free(cfg);
	diag_free(&d);
}
END_TEST

START_TEST(config_errors)
{
	make_cert("a", 10);
	make_cert("b", 10);
	make_cert("old", -1);
	expect_error("certificate = \"@/a.pem\";", "tls needs 'key'");
	expect_error("key = \"@/a.key\";", "tls needs 'certificate'");
	expect_error("certificate = \"@/a.pem\"; key = \"@/a.key\"; colour = 1;", "unknown key 'colour' in tls");
	expect_error("certificate = \"@/a.pem\"; key = \"@/a.key\"; verify_client = \"maybe\";", "verify_client");
	expect_error("certificate = \"a.pem\"; key = \"a.key\";", "'certificate' must be absolute paths");
	expect_error("certificate = \"@/none.pem\"; key = \"@/a.key\";",
		     "certificate '/");
	expect_error("certificate = \"@/none.pem\"; key = \"@/a.key\";", "none.pem': No such file or directory");
	expect_error("certificate = \"@/a.pem\"; key = \"@/b.key\";", "b.key' does not match certificate '");
	expect_error("certificate = \"@/old.pem\"; key = \"@/old.key\";", "old.pem': expired");
	expect_error("certificate = [ \"@/a.pem\", \"@/b.pem\" ]; key = \"@/a.key\";",
		     "b.pem' has no key");
	expect_error("certificate = \"@/a.pem\"; key = \"@/a.key\"; client_ca = \"@/a.key\";",
		     "client_ca '");
	expect_error("certificate = \"@/a.pem\"; key = \"@/a.key\"; sni = ( { server_name = \"x\"; } );",
		     "an sni entry needs 'certificate'");
	expect_error("certificate = \"@/a.pem\"; key = \"@/a.key\"; alpn = [ \"\" ];",
		     "'alpn' must contain only non-empty strings");
	expect_error("certificate = \"@/a.pem\"; key = \"@/a.key\"; ciphers = \"NOTHING-AT-ALL\";",
		     "ciphers 'NOTHING-AT-ALL'");
}
END_TEST

START_TEST(config_readable_key)
{
	struct sockd_config *cfg;
	struct diag d = { 0 };
	char key[300];

	make_cert("a", 10);
	snprintf(key, sizeof(key), "%s/a.key", dir);
	chmod(key, 0644);
	ck_assert_int_eq(load_tls("certificate = \"@/a.pem\"; key = \"@/a.key\";", &cfg, &d), 0);
	ck_assert_uint_eq(cfg->n_warnings, 1);
	ck_assert_ptr_nonnull(strstr(cfg->warnings[0], "is readable by group or others"));
	config_free(cfg);
	diag_free(&d);
}
END_TEST

/* One connection over a socketpair: an OpenSSL client offering *sess
 * against sockd's server side, a 1-byte reply after the handshake (the
 * client reads the tickets before it), then *sess is the session the
 * client holds, as a client that keeps the newest one does. Whether the
 * connection resumed, or -1 on failure. */
static int
one_connection(struct tls_server *srv, SSL_CTX *cctx, SSL_SESSION **sess)
{
	int sv[2], r = -1, cdone = 0, sdone = 0, sent = 0;
	struct tls_conn *t;
	SSL *c;
	char b;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	ck_assert_ptr_nonnull(t = tls_conn_server(srv, sv[0]));
	ck_assert_ptr_nonnull(c = SSL_new(cctx));
	SSL_set_fd(c, sv[1]);
	if (*sess)
		SSL_set_session(c, *sess);
	/* Bounded: each turn moves one side on, or waits up to 20 ms. */
	for (int i = 0; i < 500 && r < 0; i++) {
		struct pollfd p[2] = { { .fd = sv[0], .events = POLLIN }, { .fd = sv[1], .events = POLLIN } };
		int k;

		if (!cdone && (k = SSL_connect(c)) == 1)
			cdone = 1;
		else if (!cdone && SSL_get_error(c, k) != SSL_ERROR_WANT_READ &&
		    SSL_get_error(c, k) != SSL_ERROR_WANT_WRITE)
			break;
		if (!sdone && (k = tls_conn_handshake(t)) == 1)
			sdone = 1;
		else if (!sdone && k < 0)
			break;
		if (sdone && !sent && tls_conn_write(t, "x", 1) == 1)
			sent = 1;
		if (cdone && sent) {
			if ((k = SSL_read(c, &b, 1)) == 1) {
				SSL_SESSION_free(*sess);
				*sess = SSL_get1_session(c);
				r = SSL_session_reused(c) == 1;
				ck_assert_int_eq(tls_conn_resumed(t), r);
				break;
			}
			if (SSL_get_error(c, k) != SSL_ERROR_WANT_READ)
				break;
		}
		poll(p, 2, 20);
	}
	SSL_set_quiet_shutdown(c, 1);
	SSL_shutdown(c);
	SSL_free(c);
	tls_conn_free(t);
	close(sv[0]);
	close(sv[1]);
	return r;
}

/* 20 connections in a row, each offering the session the one before
 * left: all resumed, in TLS 1.3 (a resumed connection needs a new
 * ticket for that) and in TLS 1.2. */
static void
resume_chain(int version)
{
	struct sockd_config *cfg;
	struct diag d = { 0 };
	SSL_CTX *cctx;
	SSL_SESSION *sess = NULL;

	make_cert("a", 10);
	ck_assert_int_eq(load_tls("certificate = \"@/a.pem\"; key = \"@/a.key\";", &cfg, &d), 0);
	ck_assert_ptr_nonnull(cctx = SSL_CTX_new(TLS_client_method()));
	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
	ck_assert_int_eq(one_connection(cfg->endpoints[0]->tls->server, cctx, &sess), 0);
	for (int i = 1; i <= 20; i++) {
		int r = one_connection(cfg->endpoints[0]->tls->server, cctx, &sess);

		if (r != 1)
			ck_abort_msg("TLS %s: connection %d of 20 %s", version == TLS1_3_VERSION ? "1.3" : "1.2",
				     i, r < 0 ? "failed" : "not resumed");
	}
	SSL_SESSION_free(sess);
	SSL_CTX_free(cctx);
	config_free(cfg);
	diag_free(&d);
}

START_TEST(resume_chain_13)
{
	resume_chain(TLS1_3_VERSION);
}
END_TEST

START_TEST(resume_chain_12)
{
	resume_chain(TLS1_2_VERSION);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("pure");
	TCase *cf = tcase_create("config");

	tcase_add_test(tc, name_match);
	tcase_add_test(tc, alpn_wire);
	tcase_add_test(tc, hex_colon);
	tcase_add_test(tc, env_string);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(cf, setup, teardown);
	tcase_set_timeout(cf, 30);
	tcase_add_test(cf, config_ok);
	tcase_add_test(cf, config_errors);
	tcase_add_test(cf, config_readable_key);
	tcase_add_test(cf, resume_chain_13);
	tcase_add_test(cf, resume_chain_12);
	suite_add_tcase(s, cf);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(tls_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
