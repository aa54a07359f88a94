/* Logging to stderr: one line per message, one write(2) per line. */
#pragma once

#include <stdarg.h>
#include <stdatomic.h>
#include <syslog.h>

/* Messages above this LOG_* level are dropped. Atomic: a reload sets it
 * while workers read it. */
extern atomic_int log_max_level;

/* Detect whether stderr is the journal ($JOURNAL_STREAM) and pick the prefix. */
void log_init(const char *progname);
void log_set_level(int level);

/* LOG_ERR..LOG_DEBUG from a name ("err", "warning", ...); -1 when unknown. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Log "fmt: strerror(err)" and return -|err|, so callers can write
 * `return log_errno(r, "bind '%s'", name);`. */
int log_errno_msg(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_err(...)     log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)    log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)   do { if (log_max_level >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#define log_errno(err, ...)       log_errno_msg(LOG_ERR, (err), __VA_ARGS__)
#define log_warn_errno(err, ...)  log_errno_msg(LOG_WARNING, (err), __VA_ARGS__)
