#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "conn.h"
#include "dgram.h"
#include "log.h"
#include "queue.h"
#include "runtime.h"
#include "service.h"
#include "sockd.h"
#include "udp_relay.h"
#include "worker.h"

#define EVENTS_PER_WAIT 256
#define CONNS_PER_POP 8  /* small, so that idle workers get a share */

struct worker {
	struct sockd *d;
	unsigned id;
	pthread_t thread;
	int mailfd;                     /* eventfd: look at the mailbox */

	pthread_mutex_t mail_lock;
	struct dgram_sock *mail_dgrams; /* handed over, not yet in epoll */
	bool mail_drain;
	bool mail_abort;
	bool mail_retire;
	bool mail_release;
	sem_t released;                 /* posted when mail_release was done */
	atomic_uint pings;              /* watchdog: asked ... */
	atomic_uint pongs;              /* ... and answered */
	atomic_bool exited;

	struct conn_loop loop;          /* the connections, their epoll set (loop.epfd) and timers */
	uint64_t relay_due;             /* next datagram session expiry, 0 = none */

	bool draining;                  /* shutdown: finish what is open and queued */
	bool retiring;                  /* reload: finish what is open, take nothing new */
	struct dgram_sock *dgrams;

	struct dgram_batch *batch;      /* allocated with the first datagram socket */
	uint64_t rand;

	struct watch queue_watch;
	struct watch mail_watch;
};

static void
worker_take_conns(struct worker *w)
{
	void *items[CONNS_PER_POP];
	size_t n = queue_pop(w->d->queue, items, CONNS_PER_POP);

	for (size_t i = 0; i < n; i++)
		conn_adopt(&w->loop, items[i]);
}

/* ------------------------------------------------------------ datagrams */

int
worker_add_dgram(struct worker *w, struct listener *l)
{
	struct dgram_sock *ds = dgram_sock_new(l, w->loop.epfd, &w->d->udp_budget);
	uint64_t one = 1;

	if (!ds)
		return -ENOMEM;
	pthread_mutex_lock(&w->mail_lock);
	ds->next = w->mail_dgrams;
	w->mail_dgrams = ds;
	pthread_mutex_unlock(&w->mail_lock);
	(void)!write(w->mailfd, &one, sizeof(one));
	return 0;
}

static void
worker_close_dgrams(struct worker *w)
{
	while (w->dgrams) {
		struct dgram_sock *ds = w->dgrams;

		w->dgrams = ds->next;
		epoll_ctl(w->loop.epfd, EPOLL_CTL_DEL, ds->l->fd, NULL);
		dgram_sock_free(ds);
	}
}

/* ------------------------------------------------------------ the loop */

static void
worker_mail(struct worker *w, bool *abort_now)
{
	struct dgram_sock *list;
	bool drain, abrt, retire, release;
	uint64_t v;

	(void)!read(w->mailfd, &v, sizeof(v));
	pthread_mutex_lock(&w->mail_lock);
	list = w->mail_dgrams;
	w->mail_dgrams = NULL;
	drain = w->mail_drain;
	abrt = w->mail_abort;
	retire = w->mail_retire;
	release = w->mail_release;
	w->mail_release = false;
	pthread_mutex_unlock(&w->mail_lock);

	if (release) {
		worker_close_dgrams(w);
		sem_post(&w->released);
	}
	if (retire && !w->retiring) {
		w->retiring = true;
		epoll_ctl(w->loop.epfd, EPOLL_CTL_DEL, queue_fd(w->d->queue), NULL);
		queue_pass_on(w->d->queue);     /* the last wake-up may have been ours */
		worker_close_dgrams(w);
	}

	while (list) {
		struct dgram_sock *ds = list;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &ds->watch };

		list = ds->next;
		if (!w->batch)
			w->batch = dgram_batch_new();
		if (!w->batch || epoll_ctl(w->loop.epfd, EPOLL_CTL_ADD, ds->l->fd, &ev) == -1) {
			log_err("worker %u: cannot serve datagram endpoint %s: %s", w->id,
				ds->l->ep->name, w->batch ? strerror(errno) : "out of memory");
			dgram_sock_free(ds);
			continue;
		}
		ds->next = w->dgrams;
		w->dgrams = ds;
	}
	if (drain && !w->draining) {
		/* Datagram sockets stay served until the daemon releases
		 * them (worker_release_dgrams), once the streams are done. */
		w->draining = true;
		/* Children of exec connections are told to finish now. */
		for (struct conn *c = w->loop.conns; c; c = c->next)
			if (c->ep->service->conn_stop)
				c->ep->service->conn_stop(c, false);
	}
	if (abrt)
		*abort_now = true;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[EVENTS_PER_WAIT];
	bool abort_now = false;
	uint64_t one = 1;
	char name[16];

	snprintf(name, sizeof(name), "sockd-worker%u", w->id);
	pthread_setname_np(pthread_self(), name);
	w->loop.now_ms = timer_now_ms();
	while (!abort_now) {
		bool mail = false;
		int timeout = -1, n;

		/* Answering here, once per round, proves the loop is not stuck. */
		atomic_store(&w->pongs, atomic_load(&w->pings));
		if (w->retiring && w->loop.n_conns == 0)
			break;
		if (w->draining && w->loop.n_conns == 0 && queue_length(w->d->queue) == 0 && !w->dgrams)
			break;
		if (w->loop.again) {
			timeout = 0;
		} else if (timer_first(&w->loop.timers) || w->relay_due) {
			struct timer *t = timer_first(&w->loop.timers);
			uint64_t due = t ? t->deadline_ms : UINT64_MAX;

			if (w->relay_due && w->relay_due < due)
				due = w->relay_due;
			timeout = due <= w->loop.now_ms ? 0 : (int)(due - w->loop.now_ms);
		}
		n = epoll_wait(w->loop.epfd, evs, EVENTS_PER_WAIT, timeout);
		if (n == -1 && errno != EINTR) {
			log_errno(errno, "worker %u: epoll_wait", w->id);
			break;
		}
		w->loop.now_ms = timer_now_ms();
		for (int i = 0; i < n; i++) {
			struct watch *wt = evs[i].data.ptr;

			if (evs[i].data.u64 & CONN_HANDOFF_TAG) {
				conn_handoff_event(&w->loop, evs[i].data.u64);
				continue;
			}
			switch (wt->kind) {
			case WATCH_CONN:
				if (!((struct conn *)wt)->closed)
					conn_dispatch((struct conn *)wt, evs[i].events);
				break;
			case WATCH_AUX: {
				struct conn_aux *aux = (struct conn_aux *)wt;

				if (!aux->c->closed)
					aux->c->ep->service->conn_aux_io(aux->c, aux, evs[i].events);
				break;
			}
			case WATCH_DGRAM:
				dgram_serve((struct dgram_sock *)wt, w->batch, &w->rand, w->loop.now_ms, &w->d->served);
				break;
			case WATCH_UDPSESS:
				udp_relay_upstream((struct udp_session *)wt, w->loop.now_ms);
				break;
			case WATCH_QUEUE:
				worker_take_conns(w);
				break;
			case WATCH_MAIL:
				/* After the batch: mail may free datagram
				 * sockets that later events of it point to. */
				mail = true;
				break;
			}
		}
		if (mail)
			worker_mail(w, &abort_now);
		conn_loop_run_again(&w->loop);
		conn_loop_expire(&w->loop);
		conn_loop_bury(&w->loop);
		w->relay_due = 0;
		for (struct dgram_sock *ds = w->dgrams; ds; ds = ds->next) {
			uint64_t due = dgram_expire(ds, w->loop.now_ms);

			if (due && (!w->relay_due || due < w->relay_due))
				w->relay_due = due;
		}
	}

	/* Leaving: close whatever is still open (after an abort). */
	while (w->loop.conns) {
		struct conn *c = w->loop.conns;

		if (c->ep->service->conn_stop)
			c->ep->service->conn_stop(c, true);
		if (!c->outcome)
			c->outcome = "aborted";
		conn_close(c);
	}
	for (struct conn *c = w->loop.again; c; c = c->again_next)
		c->again = false;
	w->loop.again = NULL;
	conn_loop_bury(&w->loop);
	if (abort_now) {
		void *item;

		while (queue_pop(w->d->queue, &item, 1) == 1)
			conn_discard(w->d, item);
	}
	worker_close_dgrams(w);
	pthread_mutex_lock(&w->mail_lock);
	atomic_store(&w->exited, true);
	if (w->mail_release) {
		w->mail_release = false;
		sem_post(&w->released);
	}
	pthread_mutex_unlock(&w->mail_lock);
	(void)!write(w->d->exitfd, &one, sizeof(one));
	return NULL;
}

int
worker_start(struct sockd *d, unsigned id, struct worker **out)
{
	struct epoll_event ev;
	struct worker *w;
	int r;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->d = d;
	w->id = id;
	w->mailfd = -1;
	w->queue_watch.kind = WATCH_QUEUE;
	w->mail_watch.kind = WATCH_MAIL;
	pthread_mutex_init(&w->mail_lock, NULL);
	sem_init(&w->released, 0, 0);
	if (getrandom(&w->rand, sizeof(w->rand), 0) != sizeof(w->rand) || w->rand == 0)
		w->rand = 0x9e3779b97f4a7c15ULL ^ (uint64_t)id;

	r = conn_loop_init(&w->loop, d, id);    /* loop.epfd = -1 from here on */
	if (r < 0)
		goto out_free;
	w->loop.epfd = epoll_create1(EPOLL_CLOEXEC);
	w->mailfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->loop.epfd == -1 || w->mailfd == -1) {
		r = -errno;
		goto out_free;
	}
	/* EPOLLEXCLUSIVE: a new connection wakes one idle worker, not all;
	 * EPOLLET: the queue's eventfd is never drained (queue.h). */
	ev = (struct epoll_event){ .events = EPOLLIN | EPOLLET | EPOLLEXCLUSIVE, .data.ptr = &w->queue_watch };
	if (epoll_ctl(w->loop.epfd, EPOLL_CTL_ADD, queue_fd(d->queue), &ev) == -1) {
		r = -errno;
		goto out_free;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = &w->mail_watch };
	if (epoll_ctl(w->loop.epfd, EPOLL_CTL_ADD, w->mailfd, &ev) == -1) {
		r = -errno;
		goto out_free;
	}
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	if (r < 0)
		goto out_free;
	*out = w;
	return 0;

out_free:
	if (w->loop.epfd != -1)
		close(w->loop.epfd);
	if (w->mailfd != -1)
		close(w->mailfd);
	pthread_mutex_destroy(&w->mail_lock);
	sem_destroy(&w->released);
	conn_loop_free(&w->loop);
	free(w);
	return r;
}

enum mail { MAIL_DRAIN, MAIL_ABORT, MAIL_RETIRE, MAIL_PING };

static void
worker_post(struct worker *w, enum mail m)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->mail_lock);
	switch (m) {
	case MAIL_DRAIN:
		w->mail_drain = true;
		break;
	case MAIL_ABORT:
		w->mail_abort = true;
		break;
	case MAIL_RETIRE:
		w->mail_retire = true;
		break;
	case MAIL_PING:
		break;
	}
	pthread_mutex_unlock(&w->mail_lock);
	(void)!write(w->mailfd, &one, sizeof(one));
}

void
worker_drain(struct worker *w)
{
	worker_post(w, MAIL_DRAIN);
}

void
worker_abort(struct worker *w)
{
	worker_post(w, MAIL_ABORT);
}

void
worker_retire(struct worker *w)
{
	worker_post(w, MAIL_RETIRE);
}

void
worker_release_dgrams(struct worker *w)
{
	uint64_t one = 1;

	pthread_mutex_lock(&w->mail_lock);
	if (atomic_load(&w->exited)) {
		pthread_mutex_unlock(&w->mail_lock);
		return;
	}
	w->mail_release = true;
	pthread_mutex_unlock(&w->mail_lock);
	(void)!write(w->mailfd, &one, sizeof(one));
	/* The loop answers between two batches and never blocks otherwise;
	 * a worker that leaves first answers on its way out. */
	while (sem_wait(&w->released) == -1 && errno == EINTR)
		;
}

bool
worker_exited(struct worker *w)
{
	return atomic_load(&w->exited);
}

void
worker_ping(struct worker *w)
{
	atomic_fetch_add(&w->pings, 1);
	worker_post(w, MAIL_PING);
}

bool
worker_answered(struct worker *w)
{
	return atomic_load(&w->pongs) == atomic_load(&w->pings) || atomic_load(&w->exited);
}

void
worker_join(struct worker *w)
{
	if (!w)
		return;
	pthread_join(w->thread, NULL);
	while (w->mail_dgrams) {
		struct dgram_sock *ds = w->mail_dgrams;

		w->mail_dgrams = ds->next;
		dgram_sock_free(ds);
	}
	close(w->loop.epfd);
	close(w->mailfd);
	pthread_mutex_destroy(&w->mail_lock);
	sem_destroy(&w->released);
	conn_loop_free(&w->loop);
	free(w->batch);
	free(w);
}
