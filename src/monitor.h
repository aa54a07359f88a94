/* The daemon as observers see it (the control socket's status, the metrics
 * service). The main thread publishes a view of its endpoints and listen
 * addresses; any thread takes a snapshot of the latest view with the live
 * counters. Counters of an endpoint survive reloads: the endpoint a reload
 * replaced is summed in by name for as long as its connections run, and
 * its final counts after that. */
#pragma once

struct sockd;
struct status;

/* Main thread: publish d's current endpoints, listeners and reload state.
 * Call after start, after every reload and now and then (to let go of
 * replaced endpoints). Keeps the previous view on ENOMEM. */
int monitor_publish(struct sockd *d);

/* Any thread, never blocks for long: fill *out (status_free it). 0,
 * -ENOENT when nothing was published yet, or -ENOMEM. */
int monitor_snapshot(struct status *out);

/* Drop the published view (at exit, before d goes away). */
void monitor_clear(void);
