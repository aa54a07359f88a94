#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define ALPN_WIRE_MAX 512

const char *const tls_fail_names[TLS_FAIL_N] = {
	[TLS_FAIL_PROTOCOL] = "protocol",
	[TLS_FAIL_CERTIFICATE] = "certificate",
	[TLS_FAIL_SNI] = "sni",
	[TLS_FAIL_ALPN] = "alpn",
	[TLS_FAIL_TIMEOUT] = "timeout",
	[TLS_FAIL_CLOSED] = "closed",
	[TLS_FAIL_OTHER] = "other",
};

/* A session ticket key: tickets name the key that sealed them. */
struct ticket_key {
	uint8_t name[16];
	uint8_t aes[32];
	uint8_t hmac[32];
	uint64_t born_ms;
};

struct sni_ctx {
	char **names;                   /* the options' own strings */
	SSL_CTX *ctx;
};

struct tls_server {
	SSL_CTX *ctx;                   /* the default certificates */
	struct sni_ctx *sni;
	size_t n_sni;
	int unknown_sni;
	uint8_t alpn[ALPN_WIRE_MAX];
	size_t alpn_len;

	/* Ticket keys, shared by every worker: the current one seals new
	 * tickets for ticket_rotation_ms, then becomes the previous one,
	 * which still opens tickets (and has them renewed) for as long again. */
	pthread_mutex_t lock;
	struct ticket_key keys[2];      /* [0] current, [1] previous */
	bool have_previous;
	uint64_t rotation_ms;
};

struct tls_conn {
	SSL *ssl;
	struct tls_server *srv;         /* server side; NULL for a client */
	uint32_t events;
	bool done;                      /* the handshake completed */
	bool dead;                      /* a fatal error: no close_notify any more */
	bool shut;                      /* close_notify sent */
	enum tls_fail fail;
	bool fail_set;                  /* a callback already knew why */
	char err[160];
};

static int app_index = -1;              /* SSL ex_data: the struct tls_conn */
static pthread_once_t app_once = PTHREAD_ONCE_INIT;

static void
app_index_init(void)
{
	app_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* OpenSSL's reason for the first error queued, or what. */
static const char *
ssl_reason(const char *what)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : what;
}

/* ------------------------------------------------------------ pure helpers */

bool
tls_name_match(const char *pattern, const char *name)
{
	const char *dot;

	if (!pattern || !name)
		return false;
	if (pattern[0] == '*' && pattern[1] == '.') {
		dot = strchr(name, '.');
		/* One label, not empty, for the star: "*.example.com" matches
		 * "a.example.com", not "example.com" nor "a.b.example.com". */
		return dot && dot != name && strcasecmp(dot + 1, pattern + 2) == 0;
	}
	return strcasecmp(pattern, name) == 0;
}

ssize_t
tls_alpn_wire(char *const *names, uint8_t *out, size_t cap)
{
	size_t n = 0;

	for (; names && *names; names++) {
		size_t len = strlen(*names);

		if (len == 0 || len > 255 || n + 1 + len > cap)
			return -EINVAL;
		out[n++] = (uint8_t)len;
		memcpy(out + n, *names, len);
		n += len;
	}
	return (ssize_t)n;
}

void
tls_hex_colon(const uint8_t *in, size_t n, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < n && o + 3 <= cap; i++) {
		if (i > 0)
			out[o++] = ':';
		if (o + 2 >= cap)
			break;
		out[o++] = hex[in[i] >> 4];
		out[o++] = hex[in[i] & 15];
	}
	out[o] = '\0';
}

char *
tls_env_string(const char *name, const char *value)
{
	size_t ln = strlen(name), lv = strlen(value);
	char *s = malloc(ln + 1 + lv + 1);

	if (!s)
		return NULL;
	memcpy(s, name, ln);
	s[ln] = '=';
	memcpy(s + ln + 1, value, lv);
	s[ln + 1 + lv] = '\0';
	/* A subject is the client's to choose: no newline or escape
	 * reaches a program that may log it. */
	for (char *p = s + ln + 1; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return s;
}

/* ------------------------------------------------------------ contexts */

static int
fail_file(char *err, size_t errlen, const char *key, const char *file, const char *why)
{
	snprintf(err, errlen, "%s '%s': %s", key, file, why);
	ERR_clear_error();
	return -EINVAL;
}

/* Readable by us? OpenSSL's own message for a missing file is "system lib". */
static int
check_readable(char *err, size_t errlen, const char *key, const char *file)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return fail_file(err, errlen, key, file, strerror(errno));
	close(fd);
	return 0;
}

static void __attribute__((format(printf, 3, 4)))
add_warning(char *warn, size_t warnlen, const char *fmt, ...)
{
	va_list ap;

	size_t used = strlen(warn);

	if (used && used + 2 < warnlen) {
		memcpy(warn + used, "; ", 3);
		used += 2;
	}
	if (used < warnlen) {
		va_start(ap, fmt);
		vsnprintf(warn + used, warnlen - used, fmt, ap);
		va_end(ap);
	}
}

static int
use_pair(SSL_CTX *ctx, const char *cert, const char *key, char *err, size_t errlen,
    char *warn, size_t warnlen)
{
	struct stat st;
	X509 *x;
	int r;

	if ((r = check_readable(err, errlen, "certificate", cert)) < 0)
		return r;
	if ((r = check_readable(err, errlen, "key", key)) < 0)
		return r;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return fail_file(err, errlen, "certificate", cert, ssl_reason("not a PEM certificate"));
	x = SSL_CTX_get0_certificate(ctx);
	if (x && X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		return fail_file(err, errlen, "certificate", cert, "expired");
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
			snprintf(err, errlen, "key '%s' does not match certificate '%s'", key, cert);
			ERR_clear_error();
			return -EINVAL;
		}
		return fail_file(err, errlen, "key", key, ssl_reason("not a PEM private key"));
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "key '%s' does not match certificate '%s'", key, cert);
		ERR_clear_error();
		return -EINVAL;
	}
	if (stat(key, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
		add_warning(warn, warnlen, "key file '%s' is readable by group or others (make it 0600 or 0400)", key);
	return 0;
}

static int
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	struct tls_server *s = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct ticket_key k;
	OSSL_PARAM params[3];
	uint64_t now = mono_ms();
	int r = 1;

	if (!s)
		return -1;
	pthread_mutex_lock(&s->lock);
	if (now - s->keys[0].born_ms >= s->rotation_ms) {
		struct ticket_key fresh = { .born_ms = now };

		if (RAND_bytes(fresh.name, sizeof(fresh.name)) == 1 &&
		    RAND_bytes(fresh.aes, sizeof(fresh.aes)) == 1 &&
		    RAND_bytes(fresh.hmac, sizeof(fresh.hmac)) == 1) {
			s->keys[1] = s->keys[0];
			s->have_previous = true;
			s->keys[0] = fresh;
		}
		OPENSSL_cleanse(&fresh, sizeof(fresh));
	}
	if (enc || memcmp(name, s->keys[0].name, 16) == 0) {
		k = s->keys[0];
	} else if (s->have_previous && memcmp(name, s->keys[1].name, 16) == 0 &&
	    now - s->keys[1].born_ms < 2 * s->rotation_ms) {
		k = s->keys[1];
		r = 2;          /* good, but sealed with the old key: issue a new ticket */
	} else {
		pthread_mutex_unlock(&s->lock);
		return 0;       /* unknown or retired key: a full handshake */
	}
	pthread_mutex_unlock(&s->lock);
	/* TLS 1.3: OpenSSL sends a resumed connection a new ticket only if
	 * this says "renew", and its client holds a session that resumed
	 * without one as not resumable (RFC 8446, C.4: a ticket once), so
	 * the client's next connection would be a full handshake. A TLS 1.2
	 * client offers the same ticket again. */
	if (!enc && SSL_version(ssl) >= TLS1_3_VERSION)
		r = 2;

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (enc) {
		memcpy(name, k.name, 16);
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1 ||
		    EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
			r = -1;
	} else if (EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1) {
		r = -1;
	}
	if (r > 0 && EVP_MAC_CTX_set_params(hctx, params) != 1)
		r = -1;
	OPENSSL_cleanse(&k, sizeof(k));
	return r;
}

static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
    unsigned int inlen, void *arg)
{
	struct tls_server *s = arg;
	struct tls_conn *t = SSL_get_ex_data(ssl, app_index);
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, s->alpn, (unsigned)s->alpn_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED) {
		/* RFC 7301: no protocol in common is a no_application_protocol alert. */
		if (t) {
			t->fail = TLS_FAIL_ALPN;
			t->fail_set = true;
			snprintf(t->err, sizeof(t->err), "no ALPN protocol in common");
		}
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static int
servername_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *s = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	struct tls_conn *t;

	if (!name)
		return SSL_TLSEXT_ERR_OK;       /* no name: the default certificate */
	for (size_t i = 0; i < s->n_sni; i++)
		for (char **p = s->sni[i].names; p && *p; p++)
			if (tls_name_match(*p, name)) {
				SSL_set_SSL_CTX(ssl, s->sni[i].ctx);
				return SSL_TLSEXT_ERR_OK;
			}
	if (s->unknown_sni != TLS_SNI_REFUSE)
		return SSL_TLSEXT_ERR_OK;
	if ((t = SSL_get_ex_data(ssl, app_index))) {
		t->fail = TLS_FAIL_SNI;
		t->fail_set = true;
		snprintf(t->err, sizeof(t->err), "unknown server name '%.64s' refused", name);
	}
	*alert = SSL_AD_UNRECOGNIZED_NAME;
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* What every context of a server shares, whatever its certificates. */
static SSL_CTX *
server_ctx(const struct tls_options *o, struct tls_server *s, const char *label,
    char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	unsigned char sid[SSL_MAX_SID_CTX_LENGTH];
	size_t lsid = strlen(label);
	int mode = SSL_VERIFY_NONE;

	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context: %s", ssl_reason("out of memory"));
		return NULL;
	}
	SSL_CTX_set_app_data(ctx, s);
	SSL_CTX_set_min_proto_version(ctx, o->min_version);
	/* Renegotiation is refused (a client could make us do handshakes for
	 * free), and a TCP close without close_notify is an ordinary EOF, as
	 * for the plaintext services. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
				 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	if (o->ktls && tls_kernel_has_ktls())
		SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (o->ciphers && SSL_CTX_set_cipher_list(ctx, o->ciphers) != 1) {
		snprintf(err, errlen, "ciphers '%s': %s", o->ciphers, ssl_reason("no cipher matches"));
		goto fail;
	}
	if (lsid > sizeof(sid))
		lsid = sizeof(sid);
	memcpy(sid, label, lsid);
	SSL_CTX_set_session_id_context(ctx, sid, (unsigned)lsid);
	SSL_CTX_set_timeout(ctx, (long)o->session_timeout);
	if (o->session_tickets)
		SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
	else
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);

	if (o->client_ca) {
		STACK_OF(X509_NAME) *names;

		if (check_readable(err, errlen, "client_ca", o->client_ca) < 0)
			goto fail;
		if (SSL_CTX_load_verify_locations(ctx, o->client_ca, NULL) != 1) {
			fail_file(err, errlen, "client_ca", o->client_ca, ssl_reason("no CA certificate in it"));
			goto fail;
		}
		if ((names = SSL_load_client_CA_file(o->client_ca)))
			SSL_CTX_set_client_CA_list(ctx, names);
	}
	if (o->crl) {
		X509_STORE *store = SSL_CTX_get_cert_store(ctx);
		X509_LOOKUP *lk = X509_STORE_add_lookup(store, X509_LOOKUP_file());

		if (check_readable(err, errlen, "crl", o->crl) < 0)
			goto fail;
		if (!lk || X509_load_crl_file(lk, o->crl, X509_FILETYPE_PEM) <= 0) {
			fail_file(err, errlen, "crl", o->crl, ssl_reason("no CRL in it"));
			goto fail;
		}
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	}
	if (o->verify_client == TLS_VERIFY_OPTIONAL)
		mode = SSL_VERIFY_PEER;
	else if (o->verify_client == TLS_VERIFY_REQUIRE)
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	if (s->alpn_len)
		SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, s);
	return ctx;

fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static int
use_pairs(SSL_CTX *ctx, char *const *certs, char *const *keys, char *err, size_t errlen,
    char *warn, size_t warnlen)
{
	size_t i;
	int r;

	for (i = 0; certs && certs[i]; i++) {
		if (!keys || !keys[i]) {
			snprintf(err, errlen, "certificate '%s' has no key (one key per certificate, in order)",
			    certs[i]);
			return -EINVAL;
		}
		if ((r = use_pair(ctx, certs[i], keys[i], err, errlen, warn, warnlen)) < 0)
			return r;
	}
	if (keys && keys[i]) {
		snprintf(err, errlen, "key '%s' has no certificate (one key per certificate, in order)", keys[i]);
		return -EINVAL;
	}
	if (i == 0) {
		snprintf(err, errlen, "no certificate");
		return -EINVAL;
	}
	return 0;
}

void
tls_server_free(struct tls_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_sni; i++)
		SSL_CTX_free(s->sni[i].ctx);
	free(s->sni);
	SSL_CTX_free(s->ctx);
	OPENSSL_cleanse(s->keys, sizeof(s->keys));
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int
tls_server_new(const struct tls_options *o, const char *label, struct tls_server **out,
    char *err, size_t errlen, char *warn, size_t warnlen)
{
	struct tls_server *s = calloc(1, sizeof(*s));
	ssize_t n;

	*out = NULL;
	if (warnlen)
		warn[0] = '\0';
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->unknown_sni = o->unknown_sni;
	s->rotation_ms = (uint64_t)(o->ticket_rotation * 1000.0);
	if (s->rotation_ms == 0)
		s->rotation_ms = 1;
	/* Born a period ago: the first ticket makes a key. */
	s->keys[0].born_ms = mono_ms() - s->rotation_ms;
	if (o->alpn) {
		if ((n = tls_alpn_wire(o->alpn, s->alpn, sizeof(s->alpn))) < 0) {
			snprintf(err, errlen, "alpn: names must be 1 to 255 bytes, %d in all", ALPN_WIRE_MAX);
			goto fail;
		}
		s->alpn_len = (size_t)n;
	}
	if (!(s->ctx = server_ctx(o, s, label, err, errlen)))
		goto fail;
	if (use_pairs(s->ctx, o->certificate, o->key, err, errlen, warn, warnlen) < 0)
		goto fail;
	if (o->n_sni) {
		s->sni = calloc(o->n_sni, sizeof(*s->sni));
		if (!s->sni) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	for (size_t i = 0; i < o->n_sni; i++) {
		s->sni[i].names = o->sni[i].server_name;
		if (!(s->sni[i].ctx = server_ctx(o, s, label, err, errlen)))
			goto fail;
		s->n_sni++;
		if (use_pairs(s->sni[i].ctx, o->sni[i].certificate, o->sni[i].key, err, errlen,
		    warn, warnlen) < 0)
			goto fail;
	}
	if (o->n_sni || o->unknown_sni == TLS_SNI_REFUSE)
		SSL_CTX_set_tlsext_servername_callback(s->ctx, servername_cb);
	SSL_CTX_set_tlsext_servername_arg(s->ctx, s);
	*out = s;
	return 0;

fail:
	tls_server_free(s);
	ERR_clear_error();
	return -EINVAL;
}

SSL_CTX *
tls_client_ctx_new(const char *ca, bool verify, const char *certificate, const char *key,
    int min_version, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char warn[8];

	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context: %s", ssl_reason("out of memory"));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, min_version);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
				 SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
			      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (verify) {
		if (ca) {
			if (check_readable(err, errlen, "ca", ca) < 0)
				goto fail;
			if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
				fail_file(err, errlen, "ca", ca, ssl_reason("no CA certificate in it"));
				goto fail;
			}
		} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			snprintf(err, errlen, "the system's CA store: %s", ssl_reason("cannot be read"));
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	if (certificate && key && use_pair(ctx, certificate, key, err, errlen, warn, sizeof(warn)) < 0)
		goto fail;
	return ctx;

fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

bool
tls_kernel_has_ktls(void)
{
	static int has = -1;
	char buf[256];
	ssize_t n;
	int fd;

	if (has >= 0)
		return has;
	has = 0;
	fd = open("/proc/sys/net/ipv4/tcp_available_ulp", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		char *save = NULL;

		for (char *w = strtok_r(buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
			if (strcmp(w, "tls") == 0)
				has = 1;
	}
	return has;
}

/* ------------------------------------------------------------ connections */

static struct tls_conn *
conn_new(SSL_CTX *ctx, int fd)
{
	static const int one = 1;
	struct tls_conn *t;

	/* OpenSSL writes each record as soon as it is made, so a flight of
	 * several (a handshake's, or a reply and a session ticket) would wait
	 * under Nagle's algorithm for the peer's delayed ACK, about 40 ms a
	 * time. Whole records are no tinygrams: TLS over TCP always runs with
	 * TCP_NODELAY, as HAProxy and stunnel do. A Unix socket refuses it,
	 * which changes nothing. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

	pthread_once(&app_once, app_index_init);
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	if (!(t->ssl = SSL_new(ctx)) || SSL_set_fd(t->ssl, fd) != 1 ||
	    !SSL_set_ex_data(t->ssl, app_index, t)) {
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		return NULL;
	}
	t->events = EPOLLIN;
	return t;
}

struct tls_conn *
tls_conn_server(struct tls_server *s, int fd)
{
	struct tls_conn *t = conn_new(s->ctx, fd);

	if (!t)
		return NULL;
	t->srv = s;
	SSL_set_accept_state(t->ssl);
	return t;
}

struct tls_conn *
tls_conn_client(SSL_CTX *ctx, int fd, const char *server_name)
{
	struct tls_conn *t = conn_new(ctx, fd);

	if (!t)
		return NULL;
	if (server_name && (SSL_set_tlsext_host_name(t->ssl, server_name) != 1 ||
	    SSL_set1_host(t->ssl, server_name) != 1)) {
		tls_conn_free(t);
		ERR_clear_error();
		return NULL;
	}
	SSL_set_connect_state(t->ssl);
	return t;
}

void
tls_conn_free(struct tls_conn *t)
{
	if (!t)
		return;
	SSL_free(t->ssl);
	free(t);
}

SSL *
tls_conn_ssl(struct tls_conn *t)
{
	return t->ssl;
}

uint32_t
tls_conn_events(const struct tls_conn *t)
{
	return t->events;
}

bool
tls_conn_pending(const struct tls_conn *t)
{
	return SSL_pending(t->ssl) > 0;
}

const char *
tls_conn_error(const struct tls_conn *t)
{
	return t->err[0] ? t->err : "unknown error";
}

enum tls_fail
tls_conn_fail(const struct tls_conn *t)
{
	return t->fail;
}

bool
tls_conn_resumed(const struct tls_conn *t)
{
	return SSL_session_reused(t->ssl) == 1;
}

bool
tls_conn_ktls_send(const struct tls_conn *t)
{
	return BIO_get_ktls_send(SSL_get_wbio(t->ssl)) > 0;
}

bool
tls_conn_ktls_recv(const struct tls_conn *t)
{
	return BIO_get_ktls_recv(SSL_get_rbio(t->ssl)) > 0;
}

/* After SSL_do_handshake failed for good: why, and of what kind. */
static void
handshake_failed(struct tls_conn *t, int e, int saved_errno)
{
	unsigned long code = ERR_peek_last_error();
	int reason = ERR_GET_REASON(code);

	t->dead = true;
	if (t->fail_set)
		return;
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !code) ||
	    reason == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		t->fail = TLS_FAIL_CLOSED;
		snprintf(t->err, sizeof(t->err), "closed by the client during the handshake%s%s",
		    saved_errno && e == SSL_ERROR_SYSCALL ? ": " : "",
		    saved_errno && e == SSL_ERROR_SYSCALL ? strerror(saved_errno) : "");
		return;
	}
	if (ERR_GET_LIB(code) != ERR_LIB_SSL) {
		t->fail = TLS_FAIL_OTHER;
	} else {
		switch (reason) {
		case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		case SSL_R_CERTIFICATE_VERIFY_FAILED:
		case SSL_R_NO_CERTIFICATES_RETURNED:
			t->fail = TLS_FAIL_CERTIFICATE;
			break;
		default:
			t->fail = TLS_FAIL_PROTOCOL;
		}
	}
	if (t->fail == TLS_FAIL_CERTIFICATE && SSL_get_verify_result(t->ssl) != X509_V_OK)
		snprintf(t->err, sizeof(t->err), "%s: %s", ssl_reason("certificate"),
		    X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
	else
		snprintf(t->err, sizeof(t->err), "%s", ssl_reason("handshake failed"));
}

int
tls_conn_handshake(struct tls_conn *t)
{
	int r, e;

	if (t->done)
		return 1;
	if (t->dead)
		return -EPROTO;
	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->done = true;
		return 1;
	}
	e = SSL_get_error(t->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		t->events = EPOLLIN;
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		t->events = EPOLLOUT;
		return 0;
	}
	handshake_failed(t, e, errno);
	ERR_clear_error();
	return -EPROTO;
}

/* A read or write that did not move bytes: what to tell the caller. */
static ssize_t
io_result(struct tls_conn *t, int r, int saved_errno)
{
	int e = SSL_get_error(t->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		t->events = EPOLLIN;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		t->events = EPOLLOUT;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		t->dead = true;
		ERR_clear_error();
		return saved_errno ? -saved_errno : -ECONNRESET;
	default:
		t->dead = true;
		snprintf(t->err, sizeof(t->err), "%s", ssl_reason("TLS error"));
		ERR_clear_error();
		return -EIO;
	}
}

ssize_t
tls_conn_read(struct tls_conn *t, void *buf, size_t len)
{
	int r;

	if (t->dead)
		return -EIO;
	if (len > INT32_MAX)
		len = INT32_MAX;
	ERR_clear_error();
	errno = 0;
	r = SSL_read(t->ssl, buf, (int)len);
	if (r > 0)
		return r;
	return io_result(t, r, errno);
}

ssize_t
tls_conn_write(struct tls_conn *t, const void *buf, size_t len)
{
	int r;

	if (t->dead)
		return -EPIPE;
	if (len == 0)
		return 0;
	if (len > INT32_MAX)
		len = INT32_MAX;
	ERR_clear_error();
	errno = 0;
	r = SSL_write(t->ssl, buf, (int)len);
	if (r > 0)
		return r;
	r = (int)io_result(t, r, errno);
	return r == 0 ? -EPIPE : r;
}

int
tls_conn_shutdown(struct tls_conn *t)
{
	int r;

	if (t->shut || t->dead || !t->done)
		return 0;
	ERR_clear_error();
	r = SSL_shutdown(t->ssl);
	if (r >= 0) {
		t->shut = true;
		return 0;
	}
	if (SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_WRITE) {
		t->events = EPOLLOUT;
		return -EAGAIN;
	}
	t->shut = true;
	ERR_clear_error();
	return 0;
}

/* ------------------------------------------------------------ environment */

static char *
name_text(const X509_NAME *n)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s = NULL;
	long len;

	if (!b)
		return NULL;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (len = BIO_get_mem_data(b, &data)) >= 0 && (s = malloc((size_t)len + 1))) {
		memcpy(s, data, (size_t)len);
		s[len] = '\0';
	}
	BIO_free(b);
	return s;
}

static int
env_add(char **v, size_t max, int *n, const char *name, const char *value)
{
	if (!value || (size_t)*n >= max)
		return 0;
	if (!(v[*n] = tls_env_string(name, value)))
		return -ENOMEM;
	(*n)++;
	return 0;
}

int
tls_conn_env(struct tls_conn *t, char **v, size_t max)
{
	SSL *ssl = t->ssl;
	const unsigned char *alpn = NULL;
	unsigned alpn_len = 0;
	char buf[256];
	X509 *x;
	int n = 0, r = 0;

	r |= env_add(v, max, &n, "SSL_PROTOCOL", SSL_get_version(ssl));
	r |= env_add(v, max, &n, "SSL_CIPHER", SSL_get_cipher_name(ssl));
	r |= env_add(v, max, &n, "SSL_SESSION_RESUMED", SSL_session_reused(ssl) ? "yes" : "no");
	r |= env_add(v, max, &n, "SSL_SERVER_NAME", SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
	SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	if (alpn_len) {
		snprintf(buf, sizeof(buf), "%.*s", (int)alpn_len, (const char *)alpn);
		r |= env_add(v, max, &n, "SSL_ALPN", buf);
	}
	x = SSL_get0_peer_certificate(ssl);
	if (!x) {
		r |= env_add(v, max, &n, "SSL_CLIENT_VERIFY", "NONE");
	} else {
		long vr = SSL_get_verify_result(ssl);
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		char *s;
		BIGNUM *bn;

		if ((s = name_text(X509_get_subject_name(x)))) {
			r |= env_add(v, max, &n, "SSL_CLIENT_S_DN", s);
			free(s);
		}
		if ((s = name_text(X509_get_issuer_name(x)))) {
			r |= env_add(v, max, &n, "SSL_CLIENT_I_DN", s);
			free(s);
		}
		if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL))) {
			char *hex = BN_bn2hex(bn);

			r |= env_add(v, max, &n, "SSL_CLIENT_M_SERIAL", hex);
			OPENSSL_free(hex);
			BN_free(bn);
		}
		if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1) {
			char fp[3 * EVP_MAX_MD_SIZE];

			tls_hex_colon(md, mdlen, fp, sizeof(fp));
			r |= env_add(v, max, &n, "SSL_CLIENT_FINGERPRINT", fp);
		}
		if (vr == X509_V_OK)
			snprintf(buf, sizeof(buf), "SUCCESS");
		else
			snprintf(buf, sizeof(buf), "FAILED:%s", X509_verify_cert_error_string(vr));
		r |= env_add(v, max, &n, "SSL_CLIENT_VERIFY", buf);
	}
	ERR_clear_error();
	if (r) {
		while (n > 0)
			free(v[--n]);
		return -ENOMEM;
	}
	return n;
}
