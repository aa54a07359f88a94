/*
 * inetd.conf records (inetd_parse.c) into native endpoints, for sockd
 * --convert inetd. Pure: the result goes into a struct conv_out.
 *
 * The smallest mapping of the records; the inetd.conf configuration source
 * (issue 16) makes the same endpoints and the two are to share one
 * translation.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "convert.h"
#include "inetd_parse.h"

static void __attribute__((format(printf, 3, 4)))
comment(struct conv_out *o, struct conv_ep *ep, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conv_vprintf(o, &ep->comments, fmt, ap);
	va_end(ap);
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static void
listen_addresses(struct conv_out *o, struct conv_ep *ep, const struct inetd_rec *r)
{
	struct cval *a = conv_add(o, &ep->g, CVAL_ARRAY, "listen");
	const char *proto = r->proto == INETD_PROTO_TCP ? "tcp" : "udp";

	if (!a)
		return;
	if (r->proto == INETD_PROTO_UNIX) {
		char *s;

		if (asprintf(&s, "%s:%s", r->socktype == SOCK_STREAM ? "unix" :
		    r->socktype == SOCK_DGRAM ? "unix-dgram" : "unix-seqpacket", r->service) < 0) {
			o->nomem = true;
			return;
		}
		conv_add_string(o, a, NULL, s);
		free(s);
		return;
	}
	for (size_t i = 0; i < r->hosts.n; i++) {
		const char *host = r->hosts.v[i];
		char *s;

		/* "tcp" is both families: one IPv6 socket taking IPv4 too
		 * (v6only is false by default), as tcp46 is. */
		if (strcmp(host, "*") == 0)
			host = r->family == INETD_FAMILY_IPV4 ? "0.0.0.0" : "::";
		s = conv_ip_address(proto, host, r->port);
		if (!s) {
			o->nomem = true;
			return;
		}
		conv_add_string(o, a, NULL, s);
		free(s);
		/* a may have moved: nothing is kept of it across additions */
	}
	if (r->family == INETD_FAMILY_IPV6)
		conv_add_bool(o, &ep->g, "v6only", true);
}

static void
one(struct conv_out *o, const struct inetd_rec *r)
{
	struct conv_ep *ep;
	char *name, *want;
	bool ok = true;

	if (r->reason) {
		conv_printf(o, &o->head, "%s:%u: not converted: %s%s%s", r->file, r->line,
		    r->reason, r->text ? ": " : "", r->text ? r->text : "");
		if (!r->disabled)
			conv_printf(o, &o->warnings, "%s:%u: %s, skipped", r->file, r->line,
			    r->reason);
		o->skipped++;
		return;
	}
	ep = conv_new_ep(o);
	if (!ep)
		return;
	comment(o, ep, "%s:%u: %s", r->file, r->line, r->text ? r->text : "");
	if (asprintf(&want, "%s-%s", r->proto == INETD_PROTO_UNIX ? base_name(r->service) :
	    r->service, r->protocol) < 0) {
		o->nomem = true;
		return;
	}
	name = conv_unique_name(o, want, NULL);
	free(want);
	if (!name)
		return;
	conv_add_string(o, &ep->g, "name", name);
	free(name);
	listen_addresses(o, ep, r);
	if (r->internal) {
		conv_add_string(o, &ep->g, "service", r->service);
	} else {
		const char *argv0 = r->argv.n ? r->argv.v[0] : NULL;
		struct strv cmd = { 0 };

		conv_add_string(o, &ep->g, "service", "exec");
		if (strv_push(&cmd, r->server) < 0)
			o->nomem = true;
		for (size_t i = 1; i < r->argv.n; i++)
			if (strv_push(&cmd, r->argv.v[i]) < 0)
				o->nomem = true;
		conv_add_strings(o, &ep->g, "command", cmd.v, cmd.n);
		strv_free(&cmd);
		if (argv0 && strcmp(argv0, r->server) != 0) {
			if (conv_has_exec_key("argv0")) {
				conv_add_string(o, &ep->g, "argv0", argv0);
			} else if (strcmp(argv0, base_name(r->server)) != 0) {
				comment(o, ep, "%s:%u: argv[0] '%s' differs from the program, and "
				    "this sockd cannot set argv[0]", r->file, r->line, argv0);
				ok = false;
			}
		}
		if (r->wait || r->socktype != SOCK_STREAM) {
			if (conv_has_exec_key("handoff")) {
				conv_add_string(o, &ep->g, "handoff", "wait");
			} else {
				comment(o, ep, "%s:%u: %s: this sockd has no exec handoff \"wait\"",
				    r->file, r->line, r->wait ? "wait" : "a datagram program");
				ok = false;
			}
		}
		if (r->user) {
			char *u;

			if (asprintf(&u, "%s%s%s", r->user, r->group ? ":" : "",
			    r->group ? r->group : "") < 0) {
				o->nomem = true;
			} else {
				conv_add_string(o, &ep->g, "user", u);
				free(u);
			}
		}
	}
	if (r->max) {
		/* nowait.N: N starts a minute. */
		conv_add_float(o, &ep->g, "rate", r->max / 60.0);
		conv_add_int(o, &ep->g, "burst", r->max);
	}
	if (r->sndbuf || r->rcvbuf) {
		if (conv_has_endpoint_key("sndbuf") && conv_has_endpoint_key("rcvbuf")) {
			if (r->sndbuf)
				conv_add_int(o, &ep->g, "sndbuf", r->sndbuf);
			if (r->rcvbuf)
				conv_add_int(o, &ep->g, "rcvbuf", r->rcvbuf);
		} else {
			comment(o, ep, "%s:%u: sndbuf/rcvbuf: not translated (this sockd has no "
			    "such keys)", r->file, r->line);
		}
	}
	if (!ok)
		ep->off = true;
	if (r->disabled) {
		comment(o, ep, "%s:%u: disabled by update-inetd (#<off>#): written commented out",
		    r->file, r->line);
		ep->off = true;
	}
	if (!ep->off)
		o->converted++;
	else if (!r->disabled)
		conv_printf(o, &o->warnings, "%s:%u: cannot run as inetd ran it: written "
		    "commented out", r->file, r->line);
}

void
inetd_convert(const struct inetd_conf *c, struct conv_out *o)
{
	for (size_t i = 0; i < c->n && !o->nomem; i++)
		one(o, &c->recs[i]);
}
