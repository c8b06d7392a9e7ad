/*
 * log.h: the one logging module (after OpenSMTPD's log.c).
 *
 * Four verbs everywhere: log_warn (appends strerror(errno)), log_warnx,
 * log_info, log_debug; fatal/fatalx log and exit(1).  Before log_init the
 * messages go to stderr.  With `foreground` they go to stderr, otherwise to
 * syslog (or to the file given to log_open).  Callers never pass a secret:
 * key material, passwords and tokens are not formatted into any message.
 */
#ifndef FW_LOG_H
#define FW_LOG_H

#include <stdarg.h>

/* verbosity: 0 = warnings and info, 1 = + debug. */
void log_init(const char *progname, int foreground, int verbosity);
/* Log to the file at path (appended, 0640) instead; reopened by log_reopen
 * (SIGHUP).  Returns 0 or -1 with errno set. */
int log_open(const char *path);
int log_reopen(void);
void log_setverbose(int verbosity);
int log_getverbose(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
