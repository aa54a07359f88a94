/*
 * inetd.conf records into native endpoints, for sockd --convert inetd:
 * inetd_source.c's translation (the one the inetd.conf configuration
 * source uses), with what it does not apply written as comments. Pure: the
 * result goes into a struct conv_out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config_source.h"
#include "convert.h"
#include "inetd_parse.h"
#include "inetd_source.h"

/* A copy of v into the converter's tree, which owns its strings; member
 * names are inetd_source.c's static ones. */
static void
copy_into(struct conv_out *o, struct cval *parent, const struct cval *v)
{
	struct cval *c;

	if (v->type == CVAL_STRING) {
		conv_add_string(o, parent, v->name, v->s);
		return;
	}
	c = conv_add(o, parent, v->type, v->name);
	if (!c)
		return;
	c->i = v->i;
	c->f = v->f;
	c->b = v->b;
	c->hex = v->hex;
	c->file = v->file;
	c->line = v->line;
	for (size_t i = 0; i < v->n; i++) {
		/* c is parent's last element until something else is added
		 * to parent, which nothing here does. */
		copy_into(o, c, &v->elems[i]);
	}
}

static void
one(struct conv_out *o, const struct inetd_rec *r)
{
	struct inetd_endpoint ie = { 0 };
	char want[NAME_MAX_LEN + 1], *name, *reason = NULL;
	struct conv_ep *ep;
	int rc;

	inetd_endpoint_name(r, want, sizeof(want));
	name = conv_unique_name(o, want, NULL);
	if (!name)
		return;
	rc = inetd_endpoint_make(r, name, &ie, &reason);
	free(name);
	if (rc < 0) {
		o->nomem = true;
		return;
	}
	if (rc == 1) {
		conv_printf(o, &o->head, "%s:%u: %snot converted: %s%s%s", r->file, r->line,
		    r->disabled ? "disabled, and " : "", reason, r->text ? ": " : "",
		    r->text ? r->text : "");
		if (!r->disabled)
			conv_printf(o, &o->warnings, "%s:%u: %s, skipped", r->file, r->line, reason);
		free(reason);
		o->skipped++;
		return;
	}
	ep = conv_new_ep(o);
	if (!ep) {
		inetd_endpoint_free(&ie);
		return;
	}
	conv_printf(o, &ep->comments, "%s:%u: %s", r->file, r->line, r->text ? r->text : "");
	for (size_t i = 0; i < ie.notes.n; i++)
		conv_printf(o, &ep->comments, "%s:%u: %s", r->file, r->line, ie.notes.v[i]);
	for (size_t i = 0; i < ie.group.n; i++)
		copy_into(o, &ep->g, &ie.group.elems[i]);
	inetd_endpoint_free(&ie);
	if (r->disabled) {
		conv_printf(o, &ep->comments, "%s:%u: disabled by update-inetd (#<off>#): "
		    "written commented out", r->file, r->line);
		ep->off = true;
	} else {
		o->converted++;
	}
}

void
inetd_convert(const struct inetd_conf *c, struct conv_out *o)
{
	for (size_t i = 0; i < c->n && !o->nomem; i++)
		one(o, &c->recs[i]);
}
