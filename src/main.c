/* sockd: command line, start-up order, exit codes. */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"
#include "convert.h"
#include "daemon.h"
#include "log.h"
#include "upgrade.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 64,        /* EX_USAGE */
	EXIT_CONFIG = 78,       /* EX_CONFIG: systemd shows status=78/CONFIG */
};

static const char *arg_config = SYSCONFDIR "/sockd/sockd.conf";
static bool arg_foreground;
static bool arg_check;
static bool arg_verbose;
static const char *arg_convert;

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: sockd [-F] [-f FILE]\n"
		"       sockd -n [-v] [-f FILE]\n"
		"       sockd --convert inetd|xinetd PATH\n"
		"\n"
		"  -f, --config FILE   configuration file (default %s)\n"
		"  -F, --foreground    do not detach (use under systemd)\n"
		"  -n, --check         check the configuration and exit (0 ok, 78 invalid)\n"
		"  -v, --verbose       with -n: print the normalised configuration\n"
		"      --convert inetd FILE, --convert xinetd FILE|DIR\n"
		"                      print inetd.conf or xinetd services as sockd.conf\n"
		"                      endpoints (what does not translate in comments)\n"
		"      --list-keys     print every configuration key: section, name, type,\n"
		"                      default, services, addresses, range, description\n"
		"  -h, --help          show this help\n"
		"  -V, --version       show the version\n",
		SYSCONFDIR "/sockd/sockd.conf");
}

static int
parse_argv(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "foreground", no_argument, NULL, 'F' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "list-keys", no_argument, NULL, 'K' },
		{ "convert", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "f:FnvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			arg_config = optarg;
			break;
		case 'F':
			arg_foreground = true;
			break;
		case 'n':
			arg_check = true;
			break;
		case 'v':
			arg_verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			printf("sockd %s\n", PACKAGE_VERSION);
			exit(EXIT_OK);
		case 'C':
			arg_convert = optarg;
			break;
		case 'K':
			config_list_keys(stdout);
			exit(fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (arg_convert) {
		if (optind + 1 != argc || arg_check || arg_foreground) {
			fprintf(stderr, "sockd: --convert %s takes one file or directory\n",
			    arg_convert);
			usage(stderr);
			return -EINVAL;
		}
		return 0;
	}
	if (optind < argc) {
		fprintf(stderr, "sockd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	if (arg_verbose && !arg_check) {
		fprintf(stderr, "sockd: -v goes with -n\n");
		return -EINVAL;
	}
	return 0;
}

/* Load the configuration; on failure print every error and return NULL.
 * With -n the lines go out bare, as a checker's output; otherwise through
 * the log, so the journal keeps their priority. */
static struct sockd_config *
load_config(void)
{
	struct sockd_config *cfg = NULL;
	struct diag d = { 0 };
	int r;

	r = config_load(arg_config, &cfg, &d);
	if (r < 0) {
		for (size_t i = 0; i < d.n; i++) {
			if (arg_check)
				fprintf(stderr, "%s\n", d.lines[i]);
			else
				log_err("%s", d.lines[i]);
		}
		if (d.n == 0)
			log_errno(r, "%s", arg_config);
		diag_free(&d);
		return NULL;
	}
	diag_free(&d);
	for (size_t i = 0; i < cfg->n_warnings; i++) {
		if (arg_check)
			fprintf(stderr, "%s, ignoring\n", cfg->warnings[i]);
		else
			log_warn("%s, ignoring", cfg->warnings[i]);
	}
	return cfg;
}

/* Detach, but let the parent exit only once the child is serving (or has
 * failed), with the child's exit code, so `sockd && ...` means something. */
static int
detach(int *notify_fd)
{
	int p[2], null;
	pid_t pid;
	char code;

	if (pipe2(p, O_CLOEXEC) == -1)
		return log_errno(errno, "pipe");
	pid = fork();
	if (pid == -1)
		return log_errno(errno, "fork");
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &code, 1) != 1)
			_exit(EXIT_RUNTIME);
		_exit((unsigned char)code);
	}
	close(p[0]);
	if (setsid() == -1)
		return log_errno(errno, "setsid");
	if (chdir("/") == -1)
		return log_errno(errno, "chdir /");
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		close(null);
	}
	*notify_fd = p[1];
	return 0;
}

static void
tell_parent(int *fd, int code)
{
	char c = (char)code;

	if (*fd < 0)
		return;
	(void)!write(*fd, &c, 1);
	close(*fd);
	*fd = -1;
}

/* Every connection costs a file descriptor (a forwarded one two), and
 * the usual soft limit of 1024 is far below max_connections: take what
 * the hard limit allows. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn_errno(errno, "raising the open files limit, ignoring");
	}
}

/* A shell starts background jobs with SIGINT and SIGQUIT ignored, and an
 * ignored signal never reaches our signalfd (nor would the programs exec
 * endpoints run get their default behaviour back): start from defaults. */
static void
reset_ignored_signals(void)
{
	/* The kernel's own struct: glibc's sigaction() refuses the two
	 * signals it reserves (32, 33), and those are inherited too. */
	struct kernel_sigaction {
		void (*handler)(int);
		unsigned long flags;
		void (*restorer)(void);
		unsigned long mask;
	} sa, dfl = { .handler = SIG_DFL };

	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, NULL, &sa, sizeof(sa.mask)) == 0 && sa.handler == SIG_IGN)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	}
}

int
main(int argc, char **argv)
{
	struct sockd_config *cfg;
	struct sockd d;
	int parent_fd = -1, code;
	sigset_t mask, old_mask;

	/* First of all: a signal that comes while the configuration loads
	 * (a large one takes a noticeable fraction of a second) waits,
	 * pending, for the main loop's signalfd instead of killing us with
	 * the socket files left behind. Every thread inherits this mask. */
	daemon_signals(&mask);
	pthread_sigmask(SIG_BLOCK, &mask, &old_mask);

	log_init("sockd");
	if (parse_argv(argc, argv) < 0)
		return EXIT_USAGE;
	if (arg_convert) {
		pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
		return convert_run(arg_convert, argv[optind], stdout, stderr);
	}
	/* A check binds nothing: it stays killable as any command is. */
	if (arg_check)
		pthread_sigmask(SIG_SETMASK, &old_mask, NULL);

	/* Whatever fds our parent left open (beyond stdin, stdout, stderr)
	 * must not reach the programs exec endpoints start. Sockets systemd
	 * passes are marked close-on-exec too, and adopted later. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1)
		log_warn_errno(errno, "close_range, ignoring");
	raise_fd_limit();

	cfg = load_config();
	if (!cfg)
		return EXIT_CONFIG;
	if (arg_check) {
		daemon_warn_config(cfg);
		if (arg_verbose)
			config_dump(cfg, stdout);
		config_free(cfg);
		return EXIT_OK;
	}
	log_set_level(cfg->daemon.log_level);

	reset_ignored_signals();
	signal(SIGPIPE, SIG_IGN);

	/* Started by a running sockd (upgrade): it waits to hear how our
	 * start went, exactly as a detaching parent does, and we stay its
	 * child, in the session it made. */
	parent_fd = upgrade_report_fd();
	if (parent_fd >= 0)
		log_info("upgrade: taking over from sockd pid %ld", (long)getppid());
	else if (!arg_foreground && detach(&parent_fd) < 0) {
		config_free(cfg);
		return EXIT_RUNTIME;
	}

	if (daemon_start(&d, cfg, arg_config) < 0) {
		daemon_free(&d);
		tell_parent(&parent_fd, EXIT_RUNTIME);
		return EXIT_RUNTIME;
	}
	d.exe = upgrade_exe_path();
	d.argv = argv;
	tell_parent(&parent_fd, EXIT_OK);
	code = daemon_run(&d);
	daemon_free(&d);
	log_info("stopped");
	return code;
}
