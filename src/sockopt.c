/*
 * Socket options per endpoint. A new socket gets all of them before
 * bind(); a socket systemd passed or a reload kept is bound already, so the
 * options that only act at bind() (reuseport, freebind) are compared
 * instead: sockd cannot rebind such an address without a moment in which
 * it refuses clients, and a reload must not refuse anybody. The rest are
 * plain setsockopt()s on the listener, which the sockets it accepts
 * inherit (test 40 checks each on an accepted socket).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "sockopt.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define CC_AVAILABLE "/proc/sys/net/ipv4/tcp_available_congestion_control"

struct ctx {
	int fd;
	const char *text;
	enum sockopt_stage stage;
	bool mptcp;
	int err;                        /* the first failure, for a new socket */
};

static const char *
why_hint(const char *name, int e)
{
	if (e != EPERM)
		return "";
	if (strcmp(name, "mark") == 0 || strcmp(name, "transparent") == 0)
		return " (it needs CAP_NET_ADMIN or CAP_NET_RAW)";
	if (strcmp(name, "congestion") == 0)
		return " (without CAP_NET_ADMIN only net.ipv4.tcp_allowed_congestion_control)";
	return "";
}

static void
failed(struct ctx *c, const char *name, const char *value, int e)
{
	/* MPTCP sockets take a growing subset of the TCP options (each kernel
	 * release adds some); one this kernel lacks leaves the listener
	 * serving as it would without the key. */
	if (c->mptcp && e == ENOPROTOOPT)
		log_warn("%s: %s = %s: this kernel does not offer it on MPTCP sockets, ignoring",
		    c->text, name, value);
	else if (c->stage == SOCKOPT_NEW)
		c->err = log_errno(e, "%s: %s = %s%s", c->text, name, value, why_hint(name, e));
	else
		log_warn_errno(e, "%s: %s = %s%s, ignoring", c->text, name, value, why_hint(name, e));
}

/* One setsockopt(); a failure is an error for a new socket (the caller
 * gives up the bind) and a warning otherwise (the socket serves on with
 * what it had). */
static void
set_raw(struct ctx *c, int level, int opt, const char *name, const void *v, socklen_t len,
    const char *shown)
{
	if (c->err < 0)
		return;
	if (setsockopt(c->fd, level, opt, v, len) == -1)
		failed(c, name, shown, errno);
}

static void
set_int(struct ctx *c, int level, int opt, const char *name, int value)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", value);
	set_raw(c, level, opt, name, &value, sizeof(value), buf);
}

static bool
get_bool(int fd, int level, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	return getsockopt(fd, level, opt, &v, &len) == 0 && v != 0;
}

/* An option that acts at bind(), on a socket bound already. */
static void
bind_time(struct ctx *c, const char *name, bool want, bool had, const char *unit_key)
{
	if (want == had)
		return;
	if (c->stage == SOCKOPT_ADOPTED)
		log_warn("%s: '%s = %s' has no effect on a socket from systemd (set %s in "
		    "the .socket unit), ignoring", c->text, name, want ? "true" : "false", unit_key);
	else
		log_warn("%s: '%s' changed to %s: it applies when the address is bound again "
		    "(a restart, or a reload without it and one with it), ignoring",
		    c->text, name, want ? "true" : "false");
}

/* A number whose 0 means "the kernel's": set when given (new or adopted
 * socket) or changed (kept). restorable: 0 is also the kernel's own value,
 * so removing the key can be applied; otherwise it cannot, and says so. */
static void
num(struct ctx *c, int level, int opt, const char *name, int want, const int *had,
    bool restorable)
{
	if (!had) {
		if (want != 0)
			set_int(c, level, opt, name, want);
	} else if (want != *had) {
		if (want != 0 || restorable)
			set_int(c, level, opt, name, want);
		else
			log_warn("%s: '%s' removed: the socket keeps %d until it is bound again, "
			    "ignoring", c->text, name, *had);
	}
}

static void
flag(struct ctx *c, int level, int opt, const char *name, bool want, const bool *had)
{
	if (had ? want != *had : want)
		set_int(c, level, opt, name, want);
}

static bool
str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

static void
ip_opts(struct ctx *c, bool v6, const struct sockopts *so, const struct sockopts *old)
{
	int lvl = v6 ? IPPROTO_IPV6 : IPPROTO_IP;

	if (c->stage == SOCKOPT_NEW) {
		if (so->reuseport)
			set_int(c, SOL_SOCKET, SO_REUSEPORT, "reuseport", 1);
		if (so->freebind)
			set_int(c, lvl, v6 ? IPV6_FREEBIND : IP_FREEBIND, "freebind", 1);
	} else {
		bind_time(c, "reuseport", so->reuseport,
		    old ? old->reuseport : get_bool(c->fd, SOL_SOCKET, SO_REUSEPORT), "ReusePort=");
		bind_time(c, "freebind", so->freebind,
		    old ? old->freebind : get_bool(c->fd, lvl, v6 ? IPV6_FREEBIND : IP_FREEBIND),
		    "FreeBind=");
	}
	flag(c, lvl, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, "transparent", so->transparent,
	    old ? &old->transparent : NULL);
	if (old ? str_differs(so->bind_to_device, old->bind_to_device) : so->bind_to_device != NULL) {
		const char *dev = so->bind_to_device ? so->bind_to_device : "";

		set_raw(c, SOL_SOCKET, SO_BINDTODEVICE, "bind_to_device", dev, (socklen_t)strlen(dev),
		    so->bind_to_device ? so->bind_to_device : "(none)");
	}
	if (old ? so->mark != old->mark : so->mark != 0)
		set_int(c, SOL_SOCKET, SO_MARK, "mark", (int)so->mark);
	if (old ? so->tos != old->tos : so->tos != 0) {
		set_int(c, lvl, v6 ? IPV6_TCLASS : IP_TOS, "tos", so->tos);
		/* A [::] socket also serves IPv4 clients, whose packets take
		 * IP_TOS; an IPv6-only one refuses it, which is fine. */
		if (v6)
			(void)setsockopt(c->fd, IPPROTO_IP, IP_TOS, &so->tos, sizeof(so->tos));
	}
}

static void
tcp_opts(struct ctx *c, const struct sockopts *so, const struct sockopts *old)
{
	flag(c, SOL_SOCKET, SO_KEEPALIVE, "keepalive", so->keepalive, old ? &old->keepalive : NULL);
	num(c, IPPROTO_TCP, TCP_KEEPIDLE, "keepalive_time", so->keepalive_time,
	    old ? &old->keepalive_time : NULL, false);
	num(c, IPPROTO_TCP, TCP_KEEPINTVL, "keepalive_interval", so->keepalive_interval,
	    old ? &old->keepalive_interval : NULL, false);
	num(c, IPPROTO_TCP, TCP_KEEPCNT, "keepalive_count", so->keepalive_count,
	    old ? &old->keepalive_count : NULL, false);
	num(c, IPPROTO_TCP, TCP_USER_TIMEOUT, "user_timeout", so->user_timeout,
	    old ? &old->user_timeout : NULL, true);
	flag(c, IPPROTO_TCP, TCP_NODELAY, "nodelay", so->nodelay, old ? &old->nodelay : NULL);
	num(c, IPPROTO_TCP, TCP_DEFER_ACCEPT, "defer_accept", so->defer_accept,
	    old ? &old->defer_accept : NULL, true);
	num(c, IPPROTO_TCP, TCP_FASTOPEN, "fastopen", so->fastopen, old ? &old->fastopen : NULL, true);
	if (old ? str_differs(so->congestion, old->congestion) : so->congestion != NULL) {
		if (so->congestion)
			set_raw(c, IPPROTO_TCP, TCP_CONGESTION, "congestion", so->congestion,
			    (socklen_t)strlen(so->congestion), so->congestion);
		else
			log_warn("%s: 'congestion' removed: the socket keeps %s until it is bound "
			    "again, ignoring", c->text, old->congestion);
	}
}

int
sockopt_apply(int fd, const struct addr *a, const struct sockopts *so,
    const struct sockopts *old, enum sockopt_stage stage, const char *text)
{
	struct ctx c = { .fd = fd, .text = text, .stage = stage,
			 .mptcp = addr_protocol(a) == IPPROTO_MPTCP };
	bool ip = addr_family(a) != AF_UNIX;

	if (stage != SOCKOPT_KEPT)
		old = NULL;
	if (ip)
		ip_opts(&c, addr_family(a) == AF_INET6, so, old);
	/* Buffers set once are no longer sized by the kernel: removing the
	 * key cannot be applied to the socket. */
	num(&c, SOL_SOCKET, SO_RCVBUF, "rcvbuf", so->rcvbuf, old ? &old->rcvbuf : NULL, false);
	num(&c, SOL_SOCKET, SO_SNDBUF, "sndbuf", so->sndbuf, old ? &old->sndbuf : NULL, false);
	if (ip && addr_is_stream(a))
		tcp_opts(&c, so, old);
	return c.err;
}

int
sockopt_upstream(int fd, const struct addr *upstream, const struct upstream_sockopts *uo)
{
	int one = 1;

	if (addr_family(upstream) == AF_UNIX)
		return 0;
	if (uo->mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &uo->mark, sizeof(uo->mark)) == -1)
		return -errno;
	if (addr_is_stream(upstream)) {
		if (uo->keepalive && setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) == -1)
			return -errno;
		if (uo->nodelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
			return -errno;
	}
	if (uo->has_source && addr_family(&uo->source) == addr_family(upstream)) {
		/* Without it bind() picks a port at once, for any destination,
		 * and many upstream connections run out of ports. */
		if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)) == -1)
			return -errno;
		if (bind(fd, (const struct sockaddr *)&uo->source.sa, uo->source.len) == -1)
			return -errno;
	}
	return 0;
}

/* ------------------------------------------------------------ keys */

bool
sockopt_set_congestion(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	char list[512], words[512], *save = NULL;
	bool found = false;
	ssize_t n = -1;
	int fd;

	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	/* Checked here, where the error can name the line, rather than when
	 * a socket is made. A host without /proc is not checked. */
	fd = open(CC_AVAILABLE, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, list, sizeof(list) - 1);
		close(fd);
	}
	if (n <= 0)
		return key_set_string(c, k, v, field);
	list[n] = '\0';
	list[strcspn(list, "\n")] = '\0';
	memcpy(words, list, (size_t)n + 1);
	for (char *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
		found |= strcmp(w, v->s) == 0;
	if (!found) {
		key_error(c, v, "'congestion': '%s' is not an available TCP congestion control "
		    "(net.ipv4.tcp_available_congestion_control: %s)", v->s, list);
		return false;
	}
	return key_set_string(c, k, v, field);
}

bool
sockopt_set_device(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	size_t n;

	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	/* The kernel's own rule for interface names (dev_valid_name). */
	n = strlen(v->s);
	if (n == 0 || n >= IFNAMSIZ || strcmp(v->s, ".") == 0 || strcmp(v->s, "..") == 0 ||
	    strpbrk(v->s, "/: \t\n")) {
		key_error(c, v, "'bind_to_device': '%s' is not an interface name (1 to %d "
		    "characters, no '/', ':' or space)", v->s, IFNAMSIZ - 1);
		return false;
	}
	return key_set_string(c, k, v, field);
}

/* "192.0.2.1", "2001:db8::1" or "[2001:db8::1]": no name, no port (the
 * kernel picks one per connection). */
bool
sockopt_set_source(struct key_ctx *c, const struct key *k, const struct cval *v, void *field)
{
	struct upstream_sockopts *uo = field;
	struct sockaddr_in *sin = (struct sockaddr_in *)&uo->source.sa;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&uo->source.sa;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n;

	if (v->type != CVAL_STRING) {
		key_type_error(c, v, "a string");
		return false;
	}
	memset(&uo->source, 0, sizeof(uo->source));
	uo->source.type = ADDR_TCP;
	n = strlen(v->s);
	if (n >= 2 && n < sizeof(buf) && v->s[0] == '[' && v->s[n - 1] == ']') {
		memcpy(buf, v->s + 1, n - 2);
		buf[n - 2] = '\0';
	} else {
		snprintf(buf, sizeof(buf), "%s", v->s);
	}
	if (inet_pton(AF_INET, v->s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		uo->source.len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		uo->source.len = sizeof(*sin6);
	} else {
		key_error(c, v, "'%s': '%s' is not an IPv4 or IPv6 address (no name, no port)",
		    k->name, v->s);
		return false;
	}
	uo->has_source = true;
	return true;
}

void
sockopt_print_source(FILE *f, const char *indent, const struct key *k, const void *base,
    const void *outer)
{
	const struct upstream_sockopts *uo = key_cfield(k, base);
	char buf[INET6_ADDRSTRLEN];
	const void *ip = addr_family(&uo->source) == AF_INET ?
	    (const void *)&((const struct sockaddr_in *)&uo->source.sa)->sin_addr :
	    (const void *)&((const struct sockaddr_in6 *)&uo->source.sa)->sin6_addr;

	if (!uo->has_source)
		return;
	inet_ntop(addr_family(&uo->source), ip, buf, sizeof(buf));
	key_dump_key_string(f, indent, k->name, buf);
}
