/*
 * log.c: stderr, syslog or file logging with OpenSMTPD's four verbs.
 *
 * Each message is formatted into one bounded line and written with one
 * write(2), so that lines from several processes do not interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static const char *log_progname = "fundwatch";
static int log_foreground = 1;
static int log_verbose;
static int log_fd = -1;
static char *log_path;

void
log_init(const char *progname, int foreground, int verbosity)
{
	log_progname = progname;
	log_foreground = foreground;
	log_verbose = verbosity;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_open(const char *path)
{
	char *copy = strdup(path);

	if (copy == NULL)
		return -1;
	free(log_path);
	log_path = copy;
	return log_reopen();
}

int
log_reopen(void)
{
	int fd;

	if (log_path == NULL)
		return 0;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	return 0;
}

void
log_setverbose(int verbosity)
{
	log_verbose = verbosity;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void log_emit(int, const char *, va_list, int)
    __attribute__((format(printf, 2, 0)));

static void
log_emit(int pri, const char *fmt, va_list ap, int with_errno)
{
	char line[LOG_LINE_MAX];
	int saved = errno, n = 0;
	size_t len;

	if (log_fd != -1 || log_foreground) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02dZ %s[%ld]: ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, log_progname, (long)getpid());
		if (n < 0)
			n = 0;
	}
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	len = strlen(line);
	if (with_errno && len + 3 < sizeof line)
		snprintf(line + len, sizeof line - len, ": %s", strerror(saved));
	len = strlen(line);
	if (log_fd == -1 && !log_foreground) {
		syslog(pri, "%s", line);
	} else {
		if (len + 1 < sizeof line)
			line[len++] = '\n';
		else
			line[len - 1] = '\n';
		if (write(log_fd != -1 ? log_fd : STDERR_FILENO, line, len) < 0) {
			/* nowhere left to report it */
		}
	}
	errno = saved;
}

#define LOG_VERB(name, pri, werr, cond)                 \
	void name(const char *fmt, ...)                 \
	{                                               \
		va_list ap;                             \
		if (!(cond))                            \
			return;                         \
		va_start(ap, fmt);                      \
		log_emit(pri, fmt, ap, werr);           \
		va_end(ap);                             \
	}

LOG_VERB(log_warn, LOG_WARNING, 1, 1)
LOG_VERB(log_warnx, LOG_WARNING, 0, 1)
LOG_VERB(log_info, LOG_INFO, 0, 1)
LOG_VERB(log_debug, LOG_DEBUG, 0, log_verbose > 0)

_Noreturn void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

_Noreturn void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
