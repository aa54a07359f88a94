#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "dgram.h"
#include "dgram_src.h"
#include "log.h"
#include "service.h"
#include "sockd.h"
#include "udp_guard.h"
#include "udp_relay.h"

#define DGRAM_BATCH 32
#define DGRAM_MAX (64 * 1024)
#define DGRAM_ROUNDS 8          /* batches per wakeup before serving others */
#define GSO_SEG_MAX 1200        /* largest reply sent in a UDP_SEGMENT train (fits any MTU >= 1280) */
#define GSO_TRAIN_MAX 60000     /* bytes in one train: under the 64 KiB of one UDP packet */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define UDP_RATE_SOURCES 4096   /* sources tracked per datagram socket for udp_rate */
#define RATE_LOG_MS 10000       /* at most one line about udp_rate drops per socket this often */
#define UDP_SESSIONS 4096       /* datagram forward sessions per socket, unless max_connections says */

struct dgram_batch {
	struct mmsghdr in[DGRAM_BATCH];
	struct iovec in_iov[DGRAM_BATCH];
	struct sockaddr_storage from[DGRAM_BATCH];
	union dgram_src_buf in_cmsg[DGRAM_BATCH];
	struct mmsghdr out[DGRAM_BATCH];
	struct iovec out_iov[DGRAM_BATCH];
	struct dgram_src out_src[DGRAM_BATCH];
	/* what is handed to sendmmsg: replies, or trains of them */
	struct mmsghdr send[DGRAM_BATCH];
	unsigned first[DGRAM_BATCH];    /* send[k] starts at out[first[k]], one reply per iovec */
	union {
		char buf[DGRAM_SRC_SPACE + CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cmsg[DGRAM_BATCH];
	uint8_t reply[DGRAM_BATCH][DGRAM_REPLY_MAX];
	uint8_t data[DGRAM_BATCH][DGRAM_MAX];
};

struct dgram_sock *
dgram_sock_new(struct listener *l, int epfd, struct udp_budget *budget)
{
	struct dgram_sock *ds = calloc(1, sizeof(*ds));

	if (!ds)
		return NULL;
	ds->watch.kind = WATCH_DGRAM;
	ds->l = l;
	if (dgram_src_needed((const struct sockaddr *)&l->addr.sa, l->addr.len)) {
		int r = dgram_src_enable(l->fd, addr_family(&l->addr));

		if (r < 0)
			log_warn_errno(-r, "endpoint %s: cannot learn where datagrams arrive; "
				       "replies leave from the address the route picks", l->ep->name);
		ds->reply_src = r == 0;
	}
	if (l->ep->service == &service_forward) {
		ds->relay = udp_relay_new(l, epfd, l->ep->max_connections ? l->ep->max_connections : UDP_SESSIONS,
					  l->ep->udp_sessions_per_source, budget);
		if (!ds->relay) {
			free(ds);
			return NULL;
		}
	} else if (l->ep->udp_rate > 0 && addr_family(&l->addr) != AF_UNIX) {
		ds->rates = source_rates_new(l->ep->udp_rate, l->ep->udp_burst, UDP_RATE_SOURCES);
		if (!ds->rates) {
			free(ds);
			return NULL;
		}
	}
	return ds;
}

/* How many replies from out[i] on can travel as one UDP_SEGMENT train:
 * same peer, same size (the last may be shorter), small enough for any
 * path MTU. The kernel cuts the train into the same datagrams again, but
 * routes and queues it once. */
static unsigned
gso_train(const struct dgram_batch *b, unsigned i, unsigned nout)
{
	const struct msghdr *h = &b->out[i].msg_hdr;
	size_t seg = b->out_iov[i].iov_len, total = seg;
	unsigned j = i + 1;

	if (seg == 0 || seg > GSO_SEG_MAX)
		return 1;
	for (; j < nout; j++) {
		const struct msghdr *o = &b->out[j].msg_hdr;
		size_t len = b->out_iov[j].iov_len;

		if (len == 0 || len > seg || total + len > GSO_TRAIN_MAX ||
		    o->msg_namelen != h->msg_namelen || memcmp(o->msg_name, h->msg_name, h->msg_namelen) != 0 ||
		    !dgram_src_equal(&b->out_src[j], &b->out_src[i]))
			break;
		total += len;
		if (len < seg) {
			j++;
			break;
		}
	}
	return j - i;
}

/* Group out[from..nout) into send[]; returns how many messages. */
static unsigned
dgram_group(struct dgram_batch *b, unsigned from, unsigned nout, bool gso)
{
	unsigned k = 0;

	for (unsigned i = from; i < nout; k++) {
		unsigned cnt = gso ? gso_train(b, i, nout) : 1;
		struct msghdr *h = &b->send[k].msg_hdr;

		size_t used = dgram_src_put(&b->out_src[i], b->cmsg[k].buf);

		*h = b->out[i].msg_hdr;
		h->msg_iovlen = cnt;
		if (cnt > 1) {
			/* CMSG_SPACE keeps the next header aligned. */
			struct cmsghdr *cm = (struct cmsghdr *)(void *)(b->cmsg[k].buf + used);
			uint16_t seg = (uint16_t)b->out_iov[i].iov_len;

			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
			used += CMSG_SPACE(sizeof(seg));
		}
		if (used) {
			h->msg_control = b->cmsg[k].buf;
			h->msg_controllen = used;
		}
		b->first[k] = i;
		i += cnt;
	}
	return k;
}

/* Send the replies out[0..nout): trains where the socket allows them. */
static void
dgram_send(struct dgram_sock *ds, struct dgram_batch *b, unsigned nout, atomic_ulong *served)
{
	struct endpoint *ep = ds->l->ep;
	bool gso = !ds->no_gso && addr_family(&ds->l->addr) != AF_UNIX;
	unsigned done = 0;

	while (done < nout) {
		unsigned nsend = dgram_group(b, done, nout, gso), sent = 0;

		while (sent < nsend) {
			int m = sendmmsg(ds->l->fd, b->send + sent, nsend - sent, MSG_DONTWAIT);

			if (m == -1 && errno == EINTR)
				continue;
			if (m <= 0) {
				int err = m == -1 ? errno : 0;

				/* A device that cannot segment (EIO), or a
				 * kernel without UDP_SEGMENT: one by one from
				 * here on, starting with this train. */
				if (b->send[sent].msg_hdr.msg_iovlen > 1 && (err == EIO || err == EINVAL || err == ENOPROTOOPT ||
							   err == EOPNOTSUPP)) {
					log_info("endpoint %s: sending replies one by one (UDP_SEGMENT: %s)",
						 ep->name, strerror(err));
					ds->no_gso = true;
					gso = false;
					break;
				}
				/* A full send buffer or an unreachable peer loses
				 * this reply (or train), as datagrams may be lost;
				 * the error belongs to the first unsent one. */
				sent++;
				continue;
			}
			for (int k = 0; k < m; k++) {
				const struct mmsghdr *mh = &b->send[sent + k];

				atomic_fetch_add_explicit(&ep->stats.bytes_out, mh->msg_len, memory_order_relaxed);
				atomic_fetch_add_explicit(&ep->stats.datagrams_out, mh->msg_hdr.msg_iovlen,
							  memory_order_relaxed);
				atomic_fetch_add_explicit(served, mh->msg_hdr.msg_iovlen, memory_order_relaxed);
			}
			sent += (unsigned)m;
		}
		done = sent < nsend ? b->first[sent] : nout;
	}
}

/* Replies stop for a source over udp_rate: say so, so that whoever wonders
 * why sees it, but at most once per RATE_LOG_MS per socket. */
static void
rate_drop_log(struct dgram_sock *ds, const struct sockaddr *peer, socklen_t len, uint64_t now_ms)
{
	const struct endpoint *ep = ds->l->ep;
	char text[ADDR_STRLEN];

	if (ds->rate_logged_ms && now_ms - ds->rate_logged_ms < RATE_LOG_MS) {
		ds->rate_unlogged++;
		return;
	}
	log_notice("endpoint %s: not answering %s beyond udp_rate (%g replies/s, burst %u) "
		   "(%lu more dropped since the last such line)", ep->name,
		   addr_format_peer(peer, len, text, sizeof(text)), ep->udp_rate, ep->udp_burst, ds->rate_unlogged);
	ds->rate_logged_ms = now_ms ? now_ms : 1;
	ds->rate_unlogged = 0;
}

void
dgram_serve(struct dgram_sock *ds, struct dgram_batch *b, uint64_t *rand_state, uint64_t now_ms,
	    atomic_ulong *served)
{
	struct listener *l = ds->l;
	struct endpoint *ep = l->ep;
	struct dgram_ctx ctx = { .ep = ep, .rand_state = rand_state };
	bool is_unix = addr_family(&l->addr) == AF_UNIX;

	for (int round = 0; round < DGRAM_ROUNDS; round++) {
		unsigned nout = 0;
		int n;

		for (int i = 0; i < DGRAM_BATCH; i++) {
			b->in_iov[i] = (struct iovec){ b->data[i], DGRAM_MAX };
			b->in[i].msg_hdr = (struct msghdr){
				.msg_name = &b->from[i],
				.msg_namelen = sizeof(b->from[i]),
				.msg_iov = &b->in_iov[i],
				.msg_iovlen = 1,
			};
			if (ds->reply_src) {
				b->in[i].msg_hdr.msg_control = b->in_cmsg[i].buf;
				b->in[i].msg_hdr.msg_controllen = sizeof(b->in_cmsg[i].buf);
			}
		}
		n = recvmmsg(l->fd, b->in, DGRAM_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				log_warn_errno(errno, "endpoint %s: recvmmsg, ignoring", ep->name);
			return;
		}
		atomic_fetch_add_explicit(&ep->stats.datagrams_in, (unsigned long)n, memory_order_relaxed);

		for (int i = 0; i < n; i++) {
			struct msghdr *h = &b->in[i].msg_hdr;
			const uint8_t *reply;
			struct dgram_src src = { 0 };
			ssize_t len;

			if (ds->reply_src)
				dgram_src_from_msg(h, &src);      /* where the reply leaves from */
			atomic_fetch_add_explicit(&ep->stats.bytes_in, b->in[i].msg_len, memory_order_relaxed);
			if (h->msg_flags & MSG_TRUNC)
				continue;       /* larger than any datagram we answer */
			if (is_unix) {
				/* An unbound sender has no address to answer. */
				if (h->msg_namelen <= offsetof(struct sockaddr_un, sun_path))
					continue;
			} else if (ep->udp_guard &&
				   !udp_guard_allow(h->msg_name, h->msg_namelen, l->local_is_loopback, NULL)) {
				atomic_fetch_add_explicit(&ep->stats.dropped_guard, 1, memory_order_relaxed);
				continue;
			} else if (!acl_allows(ep->acl, h->msg_name, h->msg_namelen)) {
				atomic_fetch_add_explicit(&ep->stats.refused_acl, 1, memory_order_relaxed);
				continue;
			} else if (ds->relay) {
				/* Replies come from the upstream, not from us:
				 * udp_rate does not apply. */
				udp_relay_input(ds->relay, h->msg_name, h->msg_namelen, &src, b->data[i],
						b->in[i].msg_len, now_ms);
				continue;
			} else if (ds->rates &&
				   (ep->udp_rate_loopback || !udp_guard_is_loopback(h->msg_name, h->msg_namelen)) &&
				   !source_rates_take(ds->rates, h->msg_name, h->msg_namelen, now_ms)) {
				/* Loopback sources are exempt unless udp_rate_loopback:
				 * the limit keeps us from being aimed at a spoofed
				 * source, and a loopback source cannot come from
				 * outside the host. */
				atomic_fetch_add_explicit(&ep->stats.dropped_rate, 1, memory_order_relaxed);
				rate_drop_log(ds, h->msg_name, h->msg_namelen, now_ms);
				continue;
			}
			ctx.buf = b->reply[nout];
			len = ep->service->dgram_reply(&ctx, b->data[i], b->in[i].msg_len, &reply);
			if (len < 0)
				continue;
			b->out_src[nout] = src;
			b->out_iov[nout] = (struct iovec){ (void *)reply, (size_t)len };
			b->out[nout].msg_hdr = (struct msghdr){
				.msg_name = h->msg_name,
				.msg_namelen = h->msg_namelen,
				.msg_iov = &b->out_iov[nout],
				.msg_iovlen = 1,
			};
			nout++;
		}

		dgram_send(ds, b, nout, served);
		if (n < DGRAM_BATCH)
			return;         /* drained */
	}
}

void
dgram_sock_free(struct dgram_sock *ds)
{
	udp_relay_free(ds->relay);
	source_rates_free(ds->rates);
	free(ds);
}

uint64_t
dgram_expire(struct dgram_sock *ds, uint64_t now_ms)
{
	return ds->relay ? udp_relay_expire(ds->relay, now_ms) : 0;
}

struct dgram_batch *
dgram_batch_new(void)
{
	return malloc(sizeof(struct dgram_batch));
}
