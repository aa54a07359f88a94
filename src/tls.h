/* The TLS layer of a connection: OpenSSL contexts built from an endpoint's
 * tls = { } group (read at load, so a reload reads every file again), and a
 * non-blocking connection driven by the caller's event loop. The only file
 * besides tls_config.c that includes OpenSSL's headers. Never logs: errors
 * come back as text for the caller to log. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
struct tls_server;

enum tls_verify {
	TLS_VERIFY_NONE,
	TLS_VERIFY_OPTIONAL,            /* ask for a certificate; check one if sent */
	TLS_VERIFY_REQUIRE,
};

enum tls_unknown_sni {
	TLS_SNI_DEFAULT,                /* a name no sni entry has gets the default certificate */
	TLS_SNI_REFUSE,                 /* ... is refused (unrecognized_name alert) */
};

/* One sni = ( { ... } ) entry: names (exact, or "*.example.com" for one
 * label) and the certificates that answer them. NULL-terminated lists. */
struct tls_sni_options {
	char **server_name;
	char **certificate;
	char **key;
};

/* An endpoint's tls = { } group as configured (tls_config.c stores it). */
struct tls_options {
	char **certificate;             /* NULL-terminated; one chain file per key type */
	char **key;                     /* as many as certificate, pairwise */
	char *client_ca;
	char *crl;
	int verify_client;              /* enum tls_verify */
	int min_version;                /* TLS1_2_VERSION, TLS1_3_VERSION */
	char *ciphers;                  /* TLS 1.2 cipher list, or NULL: OpenSSL's default */
	char **alpn;                    /* protocols in our order of preference, or NULL */
	bool session_tickets;
	double ticket_rotation;         /* seconds a ticket key encrypts new tickets */
	double session_timeout;         /* seconds a session may be resumed */
	double handshake_timeout;
	struct tls_sni_options *sni;
	size_t n_sni;
	int unknown_sni;                /* enum tls_unknown_sni */
	bool ktls;                      /* ask for kernel TLS where the kernel has it */

	struct tls_server *server;      /* built by tls_server_new at load */
};

/* Reasons a handshake fails, for the counters (status and metrics). */
enum tls_fail {
	TLS_FAIL_PROTOCOL,              /* not TLS, a version or cipher we do not speak */
	TLS_FAIL_CERTIFICATE,           /* the client's certificate: missing, unverified */
	TLS_FAIL_SNI,                   /* unknown server name refused */
	TLS_FAIL_ALPN,                  /* no ALPN protocol in common */
	TLS_FAIL_TIMEOUT,               /* handshake_timeout */
	TLS_FAIL_CLOSED,                /* the client went away mid-handshake */
	TLS_FAIL_OTHER,
	TLS_FAIL_N,
};

extern const char *const tls_fail_names[TLS_FAIL_N];     /* "protocol", ... */

/* ------------------------------------------------------------ contexts */

/* Build the server contexts of o: read every certificate, key, CA and CRL
 * file, check that each key matches its certificate and that no
 * certificate has expired. 0, or -errno with err saying which file and
 * why. warn gets a warning that does not refuse it (a key file others may
 * read), or stays empty. */
int tls_server_new(const struct tls_options *o, const char *label, struct tls_server **out,
    char *err, size_t errlen, char *warn, size_t warnlen);
void tls_server_free(struct tls_server *s);     /* accepts NULL; open connections keep their contexts */

/* A client context (for originating TLS): verify against ca (a file, or
 * NULL: the system store) unless verify is false; certificate and key
 * (both or neither) for mTLS. NULL with err on failure; SSL_CTX_free it. */
SSL_CTX *tls_client_ctx_new(const char *ca, bool verify, const char *certificate,
    const char *key, int min_version, char *err, size_t errlen);

/* Once at start: whether the kernel offers the tls ULP
 * (/proc/sys/net/ipv4/tcp_available_ulp). */
bool tls_kernel_has_ktls(void);

/* ------------------------------------------------------------ connections */

struct tls_conn;

/* A server connection on fd (not owned: the caller closes it after
 * tls_conn_free). NULL when out of memory. */
struct tls_conn *tls_conn_server(struct tls_server *s, int fd);
/* A client connection on fd with ctx (tls_client_ctx_new); server_name,
 * if not NULL, is sent as SNI and checked against the certificate. */
struct tls_conn *tls_conn_client(SSL_CTX *ctx, int fd, const char *server_name);
void tls_conn_free(struct tls_conn *t);         /* accepts NULL */

/* Run the handshake as far as the socket lets it: 1 done, 0 not yet
 * (wait for tls_conn_events()), -EPROTO failed (tls_conn_error()). */
int tls_conn_handshake(struct tls_conn *t);

/* Plaintext in and out, like read/write on a non-blocking socket: bytes,
 * 0 at the peer's close_notify or EOF (read), -EAGAIN (wait for
 * tls_conn_events()), or -EPIPE/-ECONNRESET/-EIO. A write that returned
 * -EAGAIN must be repeated with at least the same bytes. */
ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t len);
ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t len);

/* Send close_notify, once; never waits for the peer's. 0 sent or not
 * needed, -EAGAIN to be tried again when writable. */
int tls_conn_shutdown(struct tls_conn *t);

/* The epoll events (EPOLLIN, EPOLLOUT) the last call that returned
 * -EAGAIN or 0 (handshake) waits for. */
uint32_t tls_conn_events(const struct tls_conn *t);

/* Plaintext already decrypted and waiting: epoll will not say so. */
bool tls_conn_pending(const struct tls_conn *t);

/* After a failed handshake: why, in OpenSSL's words, and its class. */
const char *tls_conn_error(const struct tls_conn *t);
enum tls_fail tls_conn_fail(const struct tls_conn *t);
bool tls_conn_resumed(const struct tls_conn *t);
SSL *tls_conn_ssl(struct tls_conn *t);

/* Whether records go through the kernel (kTLS) each way. */
bool tls_conn_ktls_send(const struct tls_conn *t);
bool tls_conn_ktls_recv(const struct tls_conn *t);

/* The environment an exec'd program gets, as stunnel and s6-tlsd give it:
 * "NAME=value" strings into v (up to max), each malloc'd. Returns how
 * many, or -ENOMEM. The names are TLS_ENV_NAMES. */
int tls_conn_env(struct tls_conn *t, char **v, size_t max);
#define TLS_ENV_MAX 10

/* ------------------------------------------------------------ pure helpers */

/* Does name match pattern: equal ignoring case, or pattern "*.rest" and
 * name one label followed by ".rest". */
bool tls_name_match(const char *pattern, const char *name);

/* ALPN names -> the wire format (length-prefixed). Bytes written, or
 * -EINVAL (an empty or over-long name, or out too small). */
ssize_t tls_alpn_wire(char *const *names, uint8_t *out, size_t cap);

/* Bytes as "AB:CD:..." (upper-case hex, colon-separated), always
 * NUL-terminated; out needs 3 * n bytes. */
void tls_hex_colon(const uint8_t *in, size_t n, char *out, size_t cap);

/* One NAME=value environment string, malloc'd, with control characters
 * in value replaced by '?'; NULL when out of memory. */
char *tls_env_string(const char *name, const char *value);
