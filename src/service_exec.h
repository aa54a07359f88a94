/* What service exec offers activator.c: starting a program that takes
 * the endpoint's sockets themselves (handoff "wait" or "listen-fds"). */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct endpoint;

/* Start ep's program with the sockets fds (n_fds, at most EXEC_FDS_MAX;
 * "wait" uses fds[0] only) in ep's handoff mode: "wait" puts fds[0] on
 * stdin and stdout, "listen-fds" puts them all at 3.. with LISTEN_FDS,
 * LISTEN_PID and LISTEN_FDNAMES. Clears O_NONBLOCK of the sockets' open
 * files (the caller sets it again when the program is gone). Returns 0
 * with the child's pid and a close-on-exec pidfd, or -errno after
 * logging. Does not block (the clone is a vfork). */
int exec_spawn_held(const struct endpoint *ep, const int *fds, size_t n_fds, pid_t *pid,
    int *pidfd);
