/* spawn_floor: the ceiling of any process-per-connection server.
 *
 * Starts PROGRAM and waits for it, over and over, on one thread, with no
 * network at all: what is left is the kernel's cost of creating, exec'ing
 * and reaping a process, which every exec server (sockd, tcpserver, xinetd,
 * inetd) pays once per connection on top of its accept, handoff and close.
 * bench/run runs it pinned to the server CPU next to the exec workload.
 *
 *   spawn_floor [-d SECS] [-W WARMUP] PROGRAM [ARG...]
 *
 * The program's stdout is /dev/null. It prints one line of key=value like
 * the load generator: ops, rate (spawns/s), and cpu_ticks/hz, the CPU time
 * of itself and its children in the measured window. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
	struct rusage self, kids;

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	return (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec +
			kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) +
	       (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec +
			kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) / 1e6;
}

/* Spawn and reap until `until`; returns how many, or -1. */
static long
spawn_until(double until, posix_spawn_file_actions_t *fa, char **argv)
{
	long n = 0;

	while (now_s() < until) {
		pid_t pid;
		int status;

		if (posix_spawn(&pid, argv[0], fa, NULL, argv, environ) != 0)
			return -1;
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			return -1;
		n++;
	}
	return n;
}

int
main(int argc, char **argv)
{
	double secs = 3, warmup = 1, t0, t1, c0, c1;
	posix_spawn_file_actions_t fa;
	long n;
	int opt;

	while ((opt = getopt(argc, argv, "+d:W:")) != -1) {
		switch (opt) {
		case 'd': secs = atof(optarg); break;
		case 'W': warmup = atof(optarg); break;
		default: goto usage;
		}
	}
	if (optind >= argc || secs <= 0 || secs > 600 || warmup < 0 || warmup > 600)
		goto usage;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);

	if (spawn_until(now_s() + warmup, &fa, argv + optind) < 0)
		goto fail;
	t0 = now_s();
	c0 = cpu_s();
	n = spawn_until(t0 + secs, &fa, argv + optind);
	t1 = now_s();
	c1 = cpu_s();
	if (n < 0)
		goto fail;
	printf("workload=spawn secs=%.3f ops=%ld rate=%.1f cpu_ticks=%.0f hz=%ld errors=0 bad=0 ok=1\n",
	       t1 - t0, n, (double)n / (t1 - t0), (c1 - c0) * (double)sysconf(_SC_CLK_TCK),
	       sysconf(_SC_CLK_TCK));
	return 0;

fail:
	fprintf(stderr, "spawn_floor: %s did not start or did not exit with 0\n", argv[optind]);
	return 1;
usage:
	fprintf(stderr, "usage: spawn_floor [-d SECS] [-W WARMUP] PROGRAM [ARG...]\n");
	return 64;
}
