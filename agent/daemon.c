/*
 * daemon.c: `fundwatch-agent run`, the agent's daemon, and daemon_nudge.
 *
 * One thread, one poll loop.  Between passes the loop polls two
 * descriptors: the self-pipe its signal handlers write to, and the
 * listening unix socket DATADIR/run.sock, where the subcommands nudge it
 * after a capture (connect, one byte, close: daemon_nudge).  Its timer is
 * the next pass: the sync interval after a good pass, the exponential
 * backoff with jitter (or the server's Retry-After) after a failed one, a
 * couple of seconds after a nudge (so that a burst of captures makes one
 * pass).  During a pass the same two descriptors are handed to net.c,
 * whose curl multi loop polls them beside the transfer's sockets: a nudge
 * is noted for after the pass, and SIGTERM/SIGINT abandon the transfer
 * (the server keeps the chunks it acknowledged, so the next start resumes
 * there) and the daemon exits 0.
 *
 * The store is opened afresh for every pass, so that an enrollment or a
 * revocation recorded by another process is seen.  A device not enrolled,
 * revoked or without a usable key makes no pass and says so once; an
 * `enroll` nudges the daemon when it is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "agent.h"

#define DAEMON_NUDGE_DELAY_MS	2000	/* a nudge syncs this soon */
#define DAEMON_MAX_SLEEP_MS	60000	/* longest single poll between passes */
#define DAEMON_ACCEPT_MAX	64	/* nudges taken per wakeup */

static volatile sig_atomic_t daemon_stop, daemon_hup;
static int daemon_sigpipe[2] = {-1, -1};

struct daemon {
	struct agent_config cfg;
	char datadir[4096];
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int lfd;
	int nudged;
	unsigned failures;
	int64_t next;			/* monotonic ms of the next pass */
	char idle[160];			/* why no pass is made, as last logged */
};

static int64_t
daemon_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000L;
}

static void
daemon_on_signal(int sig)
{
	int saved = errno;

	if (sig == SIGHUP)
		daemon_hup = 1;
	else
		daemon_stop = 1;
	if (daemon_sigpipe[1] != -1 && write(daemon_sigpipe[1], "s", 1) < 0) {
		/* the pipe is full: a wakeup is pending anyway */
	}
	errno = saved;
}

static fw_err
daemon_signals(void)
{
	struct sigaction sa;

	if (pipe2(daemon_sigpipe, O_CLOEXEC | O_NONBLOCK) == -1)
		return file_errno(errno, "signal pipe");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = daemon_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return FW_OK;
}

void
daemon_nudge(struct agent *a)
{
	struct sockaddr_un sun;
	int fd;

	if (a == NULL || a->sock_path == NULL ||
	    strlen(a->sock_path) >= sizeof sun.sun_path)
		return;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, a->sock_path, strlen(a->sock_path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0)
		(void)send(fd, "n", 1, MSG_NOSIGNAL);
	close(fd);
}

/* Listen on the nudge socket; refuse if another daemon answers there. */
static fw_err
daemon_listen(struct daemon *d)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, probe;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(d->sock) >= sizeof sun.sun_path)
		return fw_seterr(FW_ERR_CONFIG, "%s: path too long for a unix socket", d->sock);
	memcpy(sun.sun_path, d->sock, strlen(d->sock) + 1);
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return file_errno(errno, "socket");
	if (connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0) {
		close(probe);
		return fw_seterr(FW_ERR_EXISTS, "a daemon already runs on this data folder "
		    "(%s answers)", d->sock);
	}
	close(probe);
	if (unlink(d->sock) == -1 && errno != ENOENT)
		return file_errno(errno, d->sock);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return file_errno(errno, "socket");
	old = umask(077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		int err = errno;
		umask(old);
		close(fd);
		return file_errno(err, d->sock);
	}
	umask(old);
	if (listen(fd, 16) == -1) {
		int err = errno;
		close(fd);
		unlink(d->sock);
		return file_errno(err, d->sock);
	}
	d->lfd = fd;
	return FW_OK;
}

/* A descriptor of ours is ready (between passes, or from net.c's loop). */
static void
daemon_on_fd(void *ctx, int fd, short revents)
{
	struct daemon *d = ctx;
	char drain[64];

	(void)revents;
	if (fd == daemon_sigpipe[0]) {
		/* Bounded: the pipe holds little and is non-blocking. */
		for (int i = 0; i < 64 && read(fd, drain, sizeof drain) > 0; i++)
			;
		return;
	}
	if (fd == d->lfd) {
		for (int i = 0; i < DAEMON_ACCEPT_MAX; i++) {
			int c = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (c == -1)
				break;
			close(c);	/* the connection is the message */
			d->nudged = 1;
		}
	}
}

static void
daemon_set_idle(struct daemon *d, const char *why)
{
	if (strcmp(d->idle, why) == 0)
		return;
	snprintf(d->idle, sizeof d->idle, "%s", why);
	if (why[0] != '\0')
		log_warnx("no sync: %s", why);
}

static void
daemon_note_next(struct agent *a, int64_t delay_ms)
{
	struct store_sync_state st;

	if (store_sync_state_get(a, &st) != FW_OK)
		return;
	st.next_attempt = (int64_t)time(NULL) + (delay_ms + 999) / 1000;
	if (store_sync_state_put(a, &st) != FW_OK)
		log_debug("sync state: %s", fw_errmsg());
}

/* One pass, then the time until the next; -1 to stop the daemon. */
static int64_t
daemon_pass(struct daemon *d)
{
	int fds[2] = {daemon_sigpipe[0], d->lfd};
	struct sync_ctl ctl = {0};
	struct sync_report r;
	struct agent *a = NULL;
	uint32_t rnd = 0;
	int64_t interval = d->cfg.sync_interval > 0 ? d->cfg.sync_interval * 1000 : 300000;
	int64_t delay;
	fw_err e;

	if ((e = agent_open(d->datadir, &d->cfg, &a)) != FW_OK) {
		log_warnx("cannot open the store %s: %s", d->datadir, fw_errmsg());
		d->failures++;
		return sync_backoff_ms(d->failures, 0);
	}
	if (!a->enrolled)
		daemon_set_idle(d, "this device is not enrolled (fundwatch-agent enroll)");
	else if (a->revoked)
		daemon_set_idle(d, "this device was revoked by the office; enroll again "
		    "(--force) to sync, or use export-bundle");
	else if (a->key == NULL)
		daemon_set_idle(d, "the device key cannot be used");
	else
		daemon_set_idle(d, "");
	if (d->idle[0] != '\0') {
		agent_close(a);
		return interval;
	}
	ctl.stop = &daemon_stop;
	ctl.fds = fds;
	ctl.nfds = 2;
	ctl.on_fd = daemon_on_fd;
	ctl.fd_ctx = d;
	e = sync_pass(a, &ctl, &r);
	if (RAND_bytes((unsigned char *)&rnd, sizeof rnd) != 1)
		rnd = (uint32_t)time(NULL);
	if (daemon_stop) {
		if (e != FW_OK)
			log_info("sync abandoned: stopping");
		agent_close(a);
		return -1;
	}
	if (e == FW_OK) {
		d->failures = 0;
		delay = interval;
		if (r.bundles > 0 || r.feed > 0)
			log_info("sync: %zu bundles receipted (%zu observations), %zu blobs, "
			    "%" PRIu64 " bytes sent, %zu messages", r.bundles, r.observations,
			    r.blobs, r.bytes_sent, r.feed);
	} else if (r.revoked) {
		log_warnx("%s", r.msg);
		daemon_set_idle(d, "this device was revoked by the office");
		delay = interval;
	} else {
		d->failures++;
		delay = sync_backoff_ms(d->failures, rnd);
		if (!r.retryable && r.err != FW_ERR_EXISTS && delay < interval)
			delay = interval;	/* not a passing fault: no hurry */
		if (r.retry_after >= 0) {
			int64_t ra = (r.retry_after > SYNC_RETRY_AFTER_MAX ?
			    SYNC_RETRY_AFTER_MAX : r.retry_after) * 1000;
			if (ra > delay)
				delay = ra;
		}
		log_warnx("sync failed (%s): %s; next attempt in %" PRId64 " s",
		    fw_strerror(r.err), r.msg, (delay + 999) / 1000);
	}
	daemon_note_next(a, delay);
	agent_close(a);
	return delay;
}

/* No daemon, no next attempt: `status` must not promise one. */
static void
daemon_forget_next(struct daemon *d)
{
	struct store_sync_state st;
	struct agent *a = NULL;

	if (agent_open(d->datadir, &d->cfg, &a) != FW_OK)
		return;
	if (store_sync_state_get(a, &st) == FW_OK) {
		st.next_attempt = 0;
		(void)store_sync_state_put(a, &st);
	}
	agent_close(a);
}

static fw_err
daemon_loop(struct daemon *d)
{
	struct pollfd pfd[2];

	d->next = daemon_now_ms();	/* a pass at start-up */
	/* Runs until SIGTERM/SIGINT; every wait is bounded by
	 * DAEMON_MAX_SLEEP_MS and each pass by net.c's timeouts. */
	while (!daemon_stop) {
		int64_t now = daemon_now_ms(), wait;

		if (daemon_hup) {
			daemon_hup = 0;
			if (log_reopen() == -1)
				log_warn("log reopen");
		}
		if (d->nudged) {
			d->nudged = 0;
			if (d->next > now + DAEMON_NUDGE_DELAY_MS)
				d->next = now + DAEMON_NUDGE_DELAY_MS;
			/* A nudge is news: retry a failing link soon. */
			d->failures = d->failures > 1 ? 1 : d->failures;
		}
		if (now >= d->next) {
			int64_t delay = daemon_pass(d);
			if (delay < 0)
				break;
			d->next = daemon_now_ms() + delay;
			continue;
		}
		wait = d->next - now;
		if (wait > DAEMON_MAX_SLEEP_MS)
			wait = DAEMON_MAX_SLEEP_MS;
		pfd[0].fd = daemon_sigpipe[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = d->lfd;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		if (poll(pfd, 2, (int)wait) == -1) {
			if (errno == EINTR)
				continue;
			return file_errno(errno, "poll");
		}
		for (int i = 0; i < 2; i++)
			if (pfd[i].revents != 0)
				daemon_on_fd(d, pfd[i].fd, pfd[i].revents);
	}
	return FW_OK;
}

static const char daemon_usage[] =
    "usage: fundwatch-agent run [-d] [-v] [--config FILE] [--data DIR]\n"
    "The daemon: syncs at start, every sync_interval, soon after each capture\n"
    "(the subcommands nudge it through DATADIR/run.sock) and, after a failure,\n"
    "with exponential backoff.  -d stays in the foreground and logs to stderr;\n"
    "-v logs more.  SIGTERM or SIGINT stop it cleanly.\n";

int
daemon_main(const struct agent_opts *opts, int argc, char **argv)
{
	static const struct option lo[] = {
		{"config", required_argument, NULL, 'c'}, {"data", required_argument, NULL, 'D'},
		{"verbose", no_argument, NULL, 'v'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct agent_opts o = *opts;
	struct daemon d;
	int c, foreground = 0, rc = 1;
	fw_err e;

	optind = 0;
	while ((c = getopt_long(argc, argv, "dhv", lo, NULL)) != -1) {
		switch (c) {
		case 'd': foreground = 1; break;
		case 'v': o.verbose++; break;
		case 'c': o.config = optarg; break;
		case 'D': o.data = optarg; break;
		case 'j': o.json = 1; break;
		case 'h': printf("%s", daemon_usage); return 0;
		default: fprintf(stderr, "%s", daemon_usage); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "%s", daemon_usage);
		return 2;
	}
	memset(&d, 0, sizeof d);
	d.lfd = -1;
	if ((e = config_load(&d.cfg, config_path(o.config), NULL)) != FW_OK) {
		fprintf(stderr, "fundwatch-agent: run: %s\n", fw_errmsg());
		goto out;
	}
	/* Absolute: daemon(3) moves to "/". */
	if ((e = file_mkdirs(config_data_dir(&d.cfg, o.data), 0700)) != FW_OK ||
	    realpath(config_data_dir(&d.cfg, o.data), d.datadir) == NULL) {
		fprintf(stderr, "fundwatch-agent: run: %s: %s\n", config_data_dir(&d.cfg,
		    o.data), e != FW_OK ? fw_errmsg() : strerror(errno));
		goto out;
	}
	if (snprintf(d.sock, sizeof d.sock, "%s/run.sock", d.datadir) >= (int)sizeof d.sock) {
		fprintf(stderr, "fundwatch-agent: run: %s/run.sock: path too long for a unix "
		    "socket\n", d.datadir);
		goto out;
	}
	if ((e = daemon_listen(&d)) != FW_OK ||
	    (e = daemon_signals()) != FW_OK) {
		fprintf(stderr, "fundwatch-agent: run: %s\n", fw_errmsg());
		goto out;
	}
	log_init("fundwatch-agent", foreground, o.verbose);
	if (d.cfg.log_file != NULL && d.cfg.log_file[0] != '\0' &&
	    log_open(d.cfg.log_file) == -1)
		log_warn("log file %s", d.cfg.log_file);
	if (!foreground && daemon(0, 0) == -1) {
		log_warn("daemon");
		goto out;
	}
	log_info("started on %s (sync every %" PRId64 " s)", d.datadir, d.cfg.sync_interval);
	if ((e = daemon_loop(&d)) != FW_OK)
		log_warnx("stopped: %s", fw_errmsg());
	else
		log_info("stopped");
	daemon_forget_next(&d);
	rc = e == FW_OK ? 0 : 1;
out:
	if (d.lfd != -1) {
		close(d.lfd);
		unlink(d.sock);
	}
	config_free(&d.cfg);
	return rc;
}
