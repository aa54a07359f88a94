/* Binary upgrade without systemd: start the new sockd with the listening
 * sockets of this one, and learn whether it serves. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#define UPGRADE_ENV "SOCKD_UPGRADE_FD"

struct handoff_fd {
	int fd;
	const char *name;               /* fdname.h */
};

/* Start exe with argv and this process's environment, plus the n fds as
 * fds 3, 4, ... named in LISTEN_FDNAMES, with LISTEN_FDS and LISTEN_PID
 * (the child's pid) set, as systemd passes sockets; and UPGRADE_ENV naming
 * a pipe on which the child writes one byte once it serves (0) or has
 * failed (its exit code). Blocks for at most timeout_ms. Returns the
 * child's pid once it serves; otherwise -errno, with why saying what
 * happened (the child reaped, or killed at the time limit). */
pid_t upgrade_spawn(const char *exe, char *const argv[], const struct handoff_fd *fds, size_t n,
		    int timeout_ms, char *why, size_t size);

/* In the new process: the fd to report the start on (then close it), or
 * -1 when this start is no upgrade. Unsets UPGRADE_ENV. */
int upgrade_report_fd(void);

/* This binary's path (/proc/self/exe), malloc'd, or NULL. A binary that
 * was replaced since it started reads as "PATH (deleted)": the path is
 * what counts, since the new file is there. */
char *upgrade_exe_path(void);
