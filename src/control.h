/* The control socket of sockctl(1): a Unix stream socket served from the
 * main thread's loop, off the workers' path. One request line in, one JSON
 * document out, then the connection closes (the protocol is in sockctl.1). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#define CONTROL_DEFAULT_PATH    "/run/sockd/control.sock"
#define CONTROL_REQUEST_MAX     4096    /* bytes of a request line, LF included */
#define CONTROL_TIMEOUT_MS      5000    /* to send the request, then to read the reply */
#define CONTROL_CLIENTS_MAX     16      /* served at once; more get a "busy" reply */
#define CONTROL_CHECK_MS        5000    /* a check runs in a child this long at most */

struct control;
struct sockd;

enum control_result {
	CONTROL_CONTINUE,
	CONTROL_STOP,           /* a client asked sockd to stop */
	CONTROL_FATAL,          /* a reload left sockd with nothing to serve */
	CONTROL_HANDED_OVER,    /* an upgrade: a new sockd serves, this one drains */
};

/* Bind and listen on path ("/abs/path" or "@abstract"): mode 0660, owner
 * uid and group gid ((uid_t)-1 / (gid_t)-1 = leave them). Call it before
 * dropping privileges. passed_fd (-1: none) is the socket the previous
 * sockd passed on in an upgrade: taken over (or closed) instead of binding
 * when it listens on path. Logs its errors. */
int control_open(const char *path, uid_t uid, gid_t gid, int passed_fd, struct control **out);

/* The listening socket, to pass on in an upgrade. */
int control_listen_fd(const struct control *ctl);

/* keep: the socket lives on in another process, so control_close()
 * leaves its file. Accepts NULL. */
void control_keep_file(struct control *ctl, bool keep);

/* An fd for the main loop's poll(): readable when control_dispatch() has
 * work (a client, a timeout). */
int control_fd(const struct control *ctl);

/* Serve what is ready without blocking: accept, read, reply, expire. */
enum control_result control_dispatch(struct control *ctl, struct sockd *d);

/* Close every client and the socket, remove the socket file. Accepts NULL. */
void control_close(struct control *ctl);
