/* The thread that watches the sockets of exec endpoints with handoff
 * "wait" or "listen-fds" and runs their programs (design: activator.c). */
#pragma once

#include <stdbool.h>
#include <time.h>

struct activator;
struct endpoint;
struct listener;
struct sockd;

/* l belongs to the activator: neither the acceptor nor a worker serves it. */
bool activator_owns(const struct listener *l);

int activator_new(struct activator **out);             /* -errno */

/* Build the units from d->listeners, take over the programs of the
 * previous run (see the reload rules in activator.c), start the thread.
 * d->listeners must not change until activator_stop(). */
int activator_start(struct activator *a, struct sockd *d);

/* Join the thread; the programs keep running. Accepts NULL. */
void activator_stop(struct activator *a);

/* Stopping sockd: join the thread, SIGTERM to every program. */
void activator_drain(struct activator *a);

/* Wait for the programs until deadline, then SIGKILL and reap the rest
 * (deadline NULL: at once). Blocks. */
void activator_finish(struct activator *a, const struct timespec *deadline);

void activator_free(struct activator *a);              /* kills what runs; accepts NULL */
