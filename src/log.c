#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

atomic_int log_max_level = LOG_INFO;

static const char *log_progname = "sockd";
static bool log_to_journal;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg",
	[LOG_ALERT] = "alert",
	[LOG_CRIT] = "crit",
	[LOG_ERR] = "err",
	[LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

/* systemd sets $JOURNAL_STREAM to "dev:ino" of the stream it connected to
 * our stderr; only when they still match is stderr the journal. */
static bool
stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void
log_init(const char *progname)
{
	if (progname)
		log_progname = progname;
	log_to_journal = stderr_is_journal();
}

void
log_set_level(int level)
{
	log_max_level = level;
}

int
log_level_from_string(const char *s)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *
log_level_to_string(int level)
{
	if (level < 0 || level > LOG_DEBUG)
		return "?";
	return level_names[level];
}

void
log_vmsg(int level, const char *fmt, va_list ap)
{
	char line[2048];
	int saved_errno = errno;
	size_t n;
	int r;

	if (level > log_max_level)
		return;

	if (log_to_journal)
		r = snprintf(line, sizeof(line), "<%d>", level);
	else if (level == LOG_INFO || level == LOG_NOTICE)
		r = snprintf(line, sizeof(line), "%s: ", log_progname);
	else
		r = snprintf(line, sizeof(line), "%s: %s: ", log_progname,
			     level <= LOG_ERR ? "error" : level_names[level]);
	n = r > 0 ? (size_t)r : 0;

	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;   /* truncated: still end the line */
	line[n++] = '\n';

	/* One write(2) per line, so lines from different threads never mix. */
	while (write(STDERR_FILENO, line, n) == -1 && errno == EINTR)
		;
	errno = saved_errno;
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

int
log_errno_msg(int level, int err, const char *fmt, ...)
{
	char msg[1024], ebuf[128];
	va_list ap;

	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(level, "%s: %s", msg, strerror_r(err, ebuf, sizeof(ebuf)));
	return -err;
}
