/*
 * http.c: the HTTPS front of `fundwatch-server run` (server.h, section
 * http.c), and the `run` subcommand itself.
 *
 * libevent's evhttp parses HTTP; each connection is an OpenSSL
 * bufferevent made in the bevcb.  A complete request becomes a struct
 * api_req of plain bytes for api_handle (api.c), whose answer goes back
 * with the protocol's headers.  Nothing here parses HTTP or touches the
 * store.
 *
 * What a hostile or broken client can cost is bounded here, where the
 * bytes come in:
 *   - bodies: evhttp reads at most http_max_body() bytes (more is 413,
 *     with evhttp's own HTML body: see server.h); headers at most
 *     HTTP_MAX_HEADERS (more is 400);
 *   - memory: evhttp holds a request's body whole until it is answered,
 *     so what all connections may hold is bounded too: each may hold
 *     HTTP_BODY_FREE bytes of input; one that needs more takes one of
 *     HTTP_BODY_SLOTS until its request is answered, or, when none is
 *     free, stops being read (its bytes wait in the kernel, its client's
 *     TCP window closes) until one is, first come first served.  A slot
 *     holder's request always fits its slot, so the wait always ends.
 *     At most max_connections x HTTP_BODY_FREE + HTTP_BODY_SLOTS x
 *     http_max_body() bytes of requests are held, whatever the load;
 *   - connections: at most cfg.max_connections are served; one over the
 *     cap is closed on the next turn of the loop, before its handshake;
 *   - time: evhttp drops a connection idle for cfg.timeout, and a sweep
 *     each second drops one whose request has taken longer than
 *     cfg.timeout plus one second per HTTP_MIN_RATE bytes it sent, so
 *     that a client trickling bytes (slowloris) cannot hold a slot.
 * Each connection's state lives in the SSL object's ex_data; OpenSSL
 * calls our free function when libevent frees the SSL, whichever way the
 * connection ended, so the count of connections cannot drift.
 *
 * Group commit: the database's commits are not synced one by one while
 * the loop runs (db_group); an answer given while a commit that wanted
 * durability is not on disk is held, and one WAL sync releases every
 * held answer when the loop has nothing else ready (http_flush).  So
 * the requests that arrive together share one sync, and no answer (no
 * receipt above all) leaves before the commit it reports is on disk.
 *
 * One worker thread checks request signatures (hashing the body, Ed25519:
 * about a sixth of a bundle's time) while the loop serves other requests;
 * everything else, the store above all, stays on the loop's thread.
 *
 * Streamed answers (api_resp.stream: evidence of any size) go out as a
 * chunked body, one HTTP_STREAM_CHUNK at a time: the next chunk is read
 * (and age-decrypted) only when evhttp's write callback says the last one
 * has left the bufferevent, so a connection holds at most a chunk or two
 * whatever the file's size and however slow the client.  While it
 * streams, the connection has a write timeout only (the client sends
 * nothing while it downloads); a failure part way closes the connection
 * without the chunked body's last chunk.
 *
 * SIGTERM: the listening socket is closed, s->draining is set, idle
 * connections are closed at once, and a request already under way is
 * carried out and answered, with "Connection: close"; the loop ends when none is left, or after HTTP_DRAIN_SECONDS.
 * SIGHUP reopens the log file.
 */
#include <sys/types.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "server.h"

#define HTTP_BACKLOG		511
#define HTTP_FD_SPARE		64	/* descriptors besides connections */
#define HTTP_MAX_HEADER_LINES	1024	/* a bound for walking the headers */
#define HTTP_ACCEPT_PAUSE	1	/* seconds without accept after EMFILE */
#define HTTP_STREAM_CHUNK	(64u << 10)	/* bytes of a streamed body at a time */
#define HTTP_STREAM_READS	16	/* reads one chunk may take (age header) */
#define HTTP_GROUP_MAX		64	/* answers held for one WAL sync, at most */
#define HTTP_GROUP_USEC		5000	/* and for at most this long */
#define HTTP_PRIORITIES		3	/* libevent's default is the middle one */
#define HTTP_PEER_MAX		(INET6_ADDRSTRLEN + 16)

enum http_phase {
	HTTP_READING,		/* handshake, or reading a request */
	HTTP_WRITING,		/* answered; the answer is being sent */
};

struct http;
struct http_conn;

/* An answer held until the WAL sync that covers it (group commit). */
struct http_held {
	struct http_held *next;
	struct evhttp_request *req;
	struct http_conn *c;		/* NULL once the connection is gone */
	int status;
	char ctype[64];
	struct buf body;
};

/* A request whose signature the worker checks (http_worker). */
struct http_job {
	struct http_job *next;
	struct evhttp_request *req;
	struct http_conn *c;		/* NULL once the connection is gone */
	struct api_req rq;
	char peer[HTTP_PEER_MAX];
	struct api_job job;
};

/* One connection, from the bevcb until OpenSSL frees its SSL. */
struct http_conn {
	struct http *h;
	struct http_conn *prev, *next;
	struct http_held *held;		/* its answer, if held */
	struct http_job *job;		/* its request, with the worker */
	struct http_conn *wnext;	/* in the queue for a body slot */
	struct bufferevent *bev;
	SSL *ssl;
	int slot;		/* holds a body slot until it is answered */
	int paused;		/* waits for a slot, reading disabled */
	enum http_phase phase;
	struct timespec start;	/* when the current request began */
	uint64_t mark;		/* bytes read from the socket by then */
	int handshaken;		/* the TLS handshake is done */
	int refused;		/* over the cap: closed at the next sweep */
	int killed;		/* a close has been asked for */
};

struct http {
	struct server *s;
	SSL_CTX *ctx;
	struct event_base *base;
	struct evhttp *evh;
	struct evhttp_bound_socket *bound;
	struct event *sweep_ev, *tick_ev, *resume_ev;
	struct event *flush_ev;		/* lowest priority: the loop is idle */
	struct event *flush_timer;	/* or HTTP_GROUP_USEC have passed */
	struct http_held *held, **held_tail;
	size_t nheld;
	struct timespec held_since;
	struct event *sig_term, *sig_int, *sig_hup;
	struct http_conn *conns;	/* every live connection */
	size_t nconns;			/* of which served (not refused) */
	size_t nrefused;
	size_t nlive;			/* list length, for bounded walks */
	size_t slots_free;		/* body slots (HTTP_BODY_SLOTS) */
	struct http_conn *wait_head, *wait_tail;
	int freeing;			/* http_free: resume nothing */
	/* The signature worker (http_worker). */
	pthread_t worker;
	int worker_on, stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct http_job *todo, **todo_tail;	/* under mu */
	struct http_job *done, **done_tail;	/* under mu */
	int pipe[2];			/* the worker says "done" */
	struct event *jobs_ev;
	int cap_logged;
	int draining;
	struct timespec drain_start;
	uint64_t max_body;
	char portfile[PATH_MAX], pidfile[PATH_MAX];
	int pidfd;
	time_t escalated;		/* last overdue-case sweep */
};

static int http_ssl_index = -1;

static void http_flush(struct http *h);

/* libevent's own messages (accept errors, bugs) into our log. */
static void
http_event_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

static void
http_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static int64_t
http_elapsed(const struct timespec *since)
{
	struct timespec now;

	http_now(&now);
	return (int64_t)(now.tv_sec - since->tv_sec);
}

/* Bytes read from the socket (TLS records) so far. */
static uint64_t
http_bytes_read(const struct http_conn *c)
{
	BIO *b = SSL_get_rbio(c->ssl);

	return b != NULL ? BIO_number_read(b) : 0;
}

uint64_t
http_max_body(const struct srv_config *cfg)
{
	uint64_t m = cfg->max_chunk > FW_MAX_BUNDLE ? cfg->max_chunk : FW_MAX_BUNDLE;

	return m + HTTP_BODY_SLACK;
}

/* ---- the listening address -------------------------------------------- */

static fw_err
http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *h = s, *p;
	size_t hl;
	unsigned long port = 0;

	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		if ((colon = strstr(s, "]:")) == NULL)
			return fw_seterr(FW_ERR_CONFIG, "listen '%s': expected "
			    "[IPv6]:port", s);
		h = s + 1;
		hl = (size_t)(colon - h);
		p = colon + 2;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return fw_seterr(FW_ERR_CONFIG, "listen '%s': expected "
			    "address:port, e.g. 127.0.0.1:8443", s);
		hl = (size_t)(colon - s);
		p = colon + 1;
	}
	if (hl == 0 || hl >= sizeof host)
		return fw_seterr(FW_ERR_CONFIG, "listen '%s': bad address", s);
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (*p == '\0' || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p) ||
	    (port = strtoul(p, NULL, 10)) > 65535)
		return fw_seterr(FW_ERR_CONFIG, "listen '%s': port '%s' is not "
		    "0..65535", s, p);
	if (s[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return fw_seterr(FW_ERR_CONFIG, "listen '%s': '%s' is not "
			    "an IPv6 address", s, host);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return fw_seterr(FW_ERR_CONFIG, "listen '%s': '%s' is not "
			    "an IPv4 address (IPv6 goes in brackets: [::1]:8443)",
			    s, host);
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		*len = sizeof *a;
	}
	return FW_OK;
}

fw_err
http_check_listen(const char *listen)
{
	struct sockaddr_storage ss;
	socklen_t len;

	return http_parse_listen(listen, &ss, &len);
}

/* A nonblocking listening socket on cfg.listen; *port gets the port. */
static fw_err
http_bind(const char *listen_s, int *fdp, unsigned *port)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int fd, one = 1;
	fw_err e;

	if ((e = http_parse_listen(listen_s, &ss, &len)) != FW_OK)
		return e;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return fw_seterr(FW_ERR_IO, "listen %s: socket: %s", listen_s,
		    strerror(errno));
	/* TCP_NODELAY is inherited by accepted sockets: evhttp writes an answer
	 * as head then body, and Nagle would hold the body for the client's
	 * delayed ACK (~40 ms a request). */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1 ||
	    (ss.ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof one) == -1))
		goto fail;
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, HTTP_BACKLOG) == -1)
		goto fail;
	len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		goto fail;
	*port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	*fdp = fd;
	return FW_OK;
fail:
	e = fw_seterr(FW_ERR_IO, "listen %s: %s", listen_s, strerror(errno));
	close(fd);
	return e;
}

/* ---- connections ------------------------------------------------------- */

/* Take c out of the queue for a body slot. */
static void
http_slot_unqueue(struct http_conn *c)
{
	struct http *h = c->h;
	struct http_conn **pp = &h->wait_head, *prev = NULL;

	for (size_t bound = h->nlive; *pp != NULL && bound > 0; bound--) {
		if (*pp == c) {
			*pp = c->wnext;
			if (h->wait_tail == c)
				h->wait_tail = prev;
			break;
		}
		prev = *pp;
		pp = &prev->wnext;
	}
	c->wnext = NULL;
	c->paused = 0;
}

/* c is done with its body slot (answered, or gone): the first connection
 * waiting takes it and is read again, its request's clock restarted. */
static void
http_slot_release(struct http_conn *c)
{
	struct http *h = c->h;
	struct http_conn *w;

	if (c->paused)
		http_slot_unqueue(c);
	if (!c->slot)
		return;
	c->slot = 0;
	h->slots_free++;
	if (h->freeing || (w = h->wait_head) == NULL)
		return;
	http_slot_unqueue(w);
	w->slot = 1;
	h->slots_free--;
	http_now(&w->start);
	w->mark = http_bytes_read(w);
	bufferevent_enable(w->bev, EV_READ);
}

/* The input of c's bufferevent changed.  Past HTTP_BODY_FREE bytes, c
 * needs a body slot: it takes a free one, or waits in the queue with
 * reading disabled (again, if evhttp enabled it to send 100 Continue). */
static void
http_input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct http_conn *c = arg;
	struct http *h = c->h;

	(void)info;
	if (c->slot || c->killed || evbuffer_get_length(buf) <= HTTP_BODY_FREE)
		return;
	if (!c->paused && h->slots_free > 0) {
		h->slots_free--;
		c->slot = 1;
		return;
	}
	bufferevent_disable(c->bev, EV_READ);
	if (c->paused)
		return;
	c->paused = 1;
	if (h->wait_tail != NULL)
		h->wait_tail->wnext = c;
	else
		h->wait_head = c;
	h->wait_tail = c;
}

static void
http_conn_unlink(struct http_conn *c)
{
	struct http *h = c->h;

	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->held != NULL)
		c->held->c = NULL;
	if (c->job != NULL)
		c->job->c = NULL;	/* (the worker touches only rq and job) */
	http_slot_release(c);
	h->nlive--;
	if (c->refused)
		h->nrefused--;
	else
		h->nconns--;
	if (h->nconns + 1 < (size_t)h->s->cfg.max_connections)
		h->cap_logged = 0;
	/* The last one gone while draining: end now, not at the next tick.
	 * (No sweep_ev once http_free has begun.) */
	if (h->draining && h->nlive == 0 && h->sweep_ev != NULL)
		event_active(h->sweep_ev, EV_TIMEOUT, 0);
}

/* OpenSSL's ex_data free callback: the SSL of a connection is being
 * freed, so the connection is gone.  Called for every SSL; ours carry a
 * non-NULL pointer. */
static void
http_conn_free_cb(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	struct http_conn *c = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (c == NULL)
		return;
	http_conn_unlink(c);
	free(c);
}

static struct http_conn *
http_conn_of(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	SSL *ssl;

	if (evcon == NULL || (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return NULL;
	return SSL_get_ex_data(ssl, http_ssl_index);
}

/*
 * Close c without an answer: shut its socket down, so that libevent reads
 * an end of file and evhttp frees the connection as it frees one whose
 * client left (and with it the SSL, and c).  The socket, not the
 * bufferevent: evhttp may have freed the bufferevent already, while its
 * SSL (and so c, and the descriptor, which libevent closes just before
 * the SSL) waits for libevent's deferred finalizer.
 */
static void
http_conn_kill(struct http_conn *c, const char *why)
{
	BIO *b = SSL_get_rbio(c->ssl);
	int fd = b != NULL ? (int)BIO_get_fd(b, NULL) : -1;

	if (c->killed || fd < 0)
		return;	/* no socket yet: the next sweep */
	c->killed = 1;
	log_debug("connection closed: %s", why);
	shutdown(fd, SHUT_RDWR);
	if (c->paused) {	/* read again, to see the end */
		http_slot_unqueue(c);
		bufferevent_enable(c->bev, EV_READ);
	}
}

/*
 * Why c should be closed now, or NULL.  A request has cfg.timeout, plus
 * a second per HTTP_MIN_RATE bytes it sent (counted up to the body cap):
 * a slow link uploading a chunk gets its time, a client trickling bytes
 * does not.  A body over the cap is read out so that evhttp can answer
 * 413 (lingering close), but past twice the cap the client is only
 * wasting bandwidth and is cut off without an answer.
 */
static const char *
http_conn_verdict(const struct http *h, const struct http_conn *c)
{
	uint64_t total, got, cap = h->max_body + HTTP_MAX_HEADERS;

	if (c->refused)
		return "over max_connections";
	if (c->paused)
		return NULL;	/* waits for a body slot, not for its client */
	total = http_bytes_read(c);
	got = total - c->mark;
	if (h->draining && (total == 0 || (c->handshaken && got == 0)))
		return "idle while shutting down";
	if (got > 2 * cap)
		return "request body far over the cap";
	if (got > cap)
		got = cap;
	if (http_elapsed(&c->start) > h->s->cfg.timeout + (int64_t)(got /
	    HTTP_MIN_RATE))
		return "request too slow";
	return NULL;
}

/* Cases past their deadlines go up to their unit leads while the server
 * runs, not only when someone lists them (at start, then every
 * HTTP_ESCALATE_SECONDS; 256 cases a turn). */
static void
http_escalate(struct http *h)
{
	time_t now = time(NULL);
	int64_t n = 0;

	if (h->escalated != 0 && now - h->escalated < HTTP_ESCALATE_SECONDS)
		return;
	h->escalated = now;
	if (case_escalate_overdue(h->s, calendar_china_day((int64_t)now), &n) != FW_OK)
		log_warnx("overdue cases: %s", fw_errmsg());
	else if (n > 0)
		log_info("%" PRId64 " overdue cases escalated to their unit leads", n);
	http_flush(h);
}

/*
 * Walk the connections once and close those http_conn_verdict condemns;
 * then end the loop if draining is done.  A kill only shuts a socket
 * down: libevent frees the connection later.
 */
static void
http_sweep(struct http *h)
{
	struct http_conn *c = h->conns;
	size_t bound = h->nlive;
	const char *why;

	for (; c != NULL && bound > 0; c = c->next, bound--) {
		if (c->killed || c->phase != HTTP_READING)
			continue;
		if ((why = http_conn_verdict(h, c)) != NULL)
			http_conn_kill(c, why);
	}
	if (!h->draining) {
		http_escalate(h);
		return;
	}
	if (h->nlive == 0) {
		log_info("all requests answered; exiting");
		event_base_loopbreak(h->base);
	} else if (http_elapsed(&h->drain_start) >= HTTP_DRAIN_SECONDS) {
		log_warnx("%zu connections still busy after %d s; closing them",
		    h->nlive, HTTP_DRAIN_SECONDS);
		event_base_loopbreak(h->base);
	}
}

static void
http_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_sweep(arg);
}

/* OpenSSL's info callback: at the end of the handshake, the bytes read
 * so far are the handshake's; the first request starts after them (a
 * connection that sent nothing more is idle). */
static void
http_info_cb(const SSL *ssl, int where, int ret)
{
	struct http_conn *c;

	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_DONE) == 0 ||
	    (c = SSL_get_ex_data(ssl, http_ssl_index)) == NULL || c->handshaken)
		return;
	c->handshaken = 1;
	c->mark = http_bytes_read(c);
}

/* evhttp's bevcb: a new connection.  Never returns NULL while it can
 * help it: evhttp would then serve the connection in plain text (and
 * http_request_cb refuses any request on a connection without TLS). */
static struct bufferevent *
http_bevcb(struct event_base *base, void *arg)
{
	struct http *h = arg;
	struct bufferevent *bev;
	struct http_conn *c;
	SSL *ssl;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	if ((ssl = SSL_new(h->ctx)) == NULL ||
	    !SSL_set_ex_data(ssl, http_ssl_index, c)) {
		ERR_clear_error();
		SSL_free(ssl);	/* c is not set on it, or not freed by it */
		free(c);
		return NULL;
	}
	c->h = h;
	c->ssl = ssl;
	http_now(&c->start);
	SSL_set_info_callback(ssl, http_info_cb);
	if (h->draining || h->nconns >= (size_t)h->s->cfg.max_connections) {
		c->refused = 1;
		h->nrefused++;
		if (!h->cap_logged && !h->draining) {
			log_warnx("max_connections (%" PRId64 ") reached: refusing "
			    "new connections", h->s->cfg.max_connections);
			h->cap_logged = 1;
		}
		event_active(h->sweep_ev, EV_TIMEOUT, 0);
	} else
		h->nconns++;
	c->next = h->conns;
	if (h->conns != NULL)
		h->conns->prev = c;
	h->conns = c;
	h->nlive++;
	/* From here the SSL owns c: freeing it (on failure below, inside
	 * libevent) unlinks and frees c through http_conn_free_cb. */
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;	/* c is freed already */
	c->bev = bev;
	if (evbuffer_add_cb(bufferevent_get_input(bev), http_input_cb, c) == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* The answer has gone out: the next request on the connection starts
 * its clock now. */
static void
http_complete_cb(struct evhttp_request *req, void *arg)
{
	struct http_conn *c = arg;

	(void)req;
	http_slot_release(c);
	c->phase = HTTP_READING;
	http_now(&c->start);
	c->mark = http_bytes_read(c);
	if (c->h->draining)
		event_active(c->h->sweep_ev, EV_TIMEOUT, 0);
}

/* ---- requests ---------------------------------------------------------- */

static const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	}
	return NULL;	/* evhttp's own table */
}

static const char *
http_method(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	case EVHTTP_REQ_PATCH: return "PATCH";
	}
	return "?";
}

/* Send status and body with the headers every answer carries. */
static void
http_send(struct http *h, struct evhttp_request *req, struct http_conn *c,
    int status, const char *ctype, const void *body, size_t len)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	char now[24];

	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "FW-Server-Time", now);
	evhttp_add_header(oh, "Cache-Control", "no-store");
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	if (h->draining || c == NULL)
		evhttp_add_header(oh, "Connection", "close");
	if (len > 0 && evbuffer_add(evhttp_request_get_output_buffer(req), body,
	    len) == -1) {
		log_warnx("out of memory for an answer of %zu bytes", len);
		evhttp_send_error(req, 503, NULL);
		return;
	}
	if (c != NULL) {
		c->phase = HTTP_WRITING;
		evhttp_request_set_on_complete_cb(req, http_complete_cb, c);
	}
	evhttp_send_reply(req, status, http_reason(status), NULL);
}

/* A JSON error of our own (section 10 of the protocol). */
static void
http_error(struct http *h, struct evhttp_request *req, struct http_conn *c,
    fw_err e, const char *msg)
{
	json_t *o = json_pack("{s:s, s:s}", "error", fw_strerror(e), "message", msg);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	if (text != NULL)
		http_send(h, req, c, fw_err_http_status(e), "application/json", text,
		    strlen(text));
	else
		evhttp_send_error(req, fw_err_http_status(e), NULL);
	free(text);
	json_decref(o);
}

/* ---- group commit -------------------------------------------------------- */

/*
 * An answer that follows a commit which wanted durability (db_unsynced)
 * is held until the one WAL sync (db_sync) that covers it and every
 * commit made meanwhile by the requests the loop goes on serving.  The
 * sync runs when no other callback is ready (flush_ev has the lowest
 * priority), or at once when HTTP_GROUP_MAX answers are held, or when
 * the oldest has waited HTTP_GROUP_USEC (flush_timer, at the default
 * priority: a busy loop, a long stream say, cannot starve it).  If it fails, no held answer goes
 * out as it was: each becomes the error (a receipt never leaves before
 * its commit is on disk; the device asks again and gets it then).
 */
static void
http_flush(struct http *h)
{
	char msg[FW_ERRMSG_MAX];
	struct http_held *x;
	fw_err e;

	if (h->held == NULL && !db_unsynced(h->s->db))
		return;
	if (h->flush_timer != NULL)
		evtimer_del(h->flush_timer);
	if ((e = db_sync(h->s->db)) != FW_OK) {
		snprintf(msg, sizeof msg, "%s", fw_errmsg());
		log_warnx("%s (%s): %zu answers withheld", msg, fw_strerror(e), h->nheld);
	}
	while ((x = h->held) != NULL) {
		h->held = x->next;
		if (x->c != NULL)
			x->c->held = NULL;
		if (e == FW_OK)
			http_send(h, x->req, x->c, x->status, x->ctype, x->body.data,
			    x->body.len);
		else
			http_error(h, x->req, x->c, e, msg);
		buf_free(&x->body);
		free(x);
	}
	h->held_tail = &h->held;
	h->nheld = 0;
}

static void
http_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_flush(arg);
}

/* Send rs now, or hold it for the WAL sync if a commit waits for one.
 * Takes rs->body. */
static void
http_answer(struct http *h, struct evhttp_request *req, struct http_conn *c,
    struct api_resp *rs)
{
	const char *ctype = rs->content_type != NULL ? rs->content_type :
	    "application/json";
	struct timeval tmo = {0, HTTP_GROUP_USEC};
	struct http_held *x;
	struct timespec now;

	if (!db_unsynced(h->s->db) || (x = calloc(1, sizeof *x)) == NULL) {
		http_flush(h);	/* (out of memory: sync now instead) */
		http_send(h, req, c, rs->status, ctype, rs->body.data, rs->body.len);
		buf_free(&rs->body);
		return;
	}
	x->req = req;
	x->c = c;
	x->status = rs->status;
	snprintf(x->ctype, sizeof x->ctype, "%s", ctype);
	x->body = rs->body;
	buf_init(&rs->body, HTTP_MAX_RESPONSE);
	if (c != NULL)
		c->held = x;
	if (h->held == NULL) {
		http_now(&h->held_since);
		evtimer_add(h->flush_timer, &tmo);
	}
	*h->held_tail = x;
	h->held_tail = &x->next;
	h->nheld++;
	http_now(&now);
	if (h->nheld >= HTTP_GROUP_MAX || (now.tv_sec - h->held_since.tv_sec) *
	    1000000 + (now.tv_nsec - h->held_since.tv_nsec) / 1000 >= HTTP_GROUP_USEC)
		http_flush(h);
	else
		event_active(h->flush_ev, EV_TIMEOUT, 0);
}

/*
 * The headers api.c reads, each at most once: two values of a header
 * that is signed over or chosen on would make the answer depend on which
 * one a component read.  Returns NULL, or the name of a repeated header.
 */
static const char *
http_headers(struct evhttp_request *req, struct api_req *rq)
{
	static const char *const names[] = {"FW-Device", "FW-Time", "FW-Nonce",
	    "FW-Signature", "Content-Type", "Authorization"};
	const char **slots[] = {&rq->fw_device, &rq->fw_time, &rq->fw_nonce,
	    &rq->fw_signature, &rq->content_type, &rq->authorization};
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	size_t n = 0;

	for (kv = ih->tqh_first; kv != NULL && n < HTTP_MAX_HEADER_LINES;
	    kv = kv->next.tqe_next, n++) {
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			if (strcasecmp(kv->key, names[i]) != 0)
				continue;
			if (*slots[i] != NULL)
				return names[i];
			*slots[i] = kv->value;
		}
	}
	return NULL;
}

/* The request target as it may go in a log line: printable ASCII only,
 * cut at outsz - 1 bytes (it is the client's to choose). */
static const char *
http_printable(const char *in, char *out, size_t outsz)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < outsz; i++)
		out[i] = in[i] > 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = '\0';
	return out;
}

static void
http_peer(struct evhttp_request *req, char *out, size_t outsz)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port = 0;

	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	if (addr == NULL)
		snprintf(out, outsz, "-");
	else if (strchr(addr, ':') != NULL)
		snprintf(out, outsz, "[%s]:%u", addr, (unsigned)port);
	else
		snprintf(out, outsz, "%s:%u", addr, (unsigned)port);
}

/* ---- streamed answers ---------------------------------------------------- */

/* One streamed answer; it lives from http_stream_start until it ends or
 * its connection goes (http_stream_closed), whichever is first. */
struct http_stream {
	struct http *h;
	struct http_conn *c;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	int fd;
	struct age_dec *dec;		/* NULL: the bytes go out as read */
	struct evbuffer *out;		/* the next chunk */
	uint8_t *in;			/* HTTP_STREAM_CHUNK bytes */
	uint64_t sent;
	int eof, failed;
	char what[256];			/* peer and target, for the log */
};

static void
http_stream_free(struct http_stream *st)
{
	if (st->evcon != NULL)
		evhttp_connection_set_closecb(st->evcon, NULL, NULL);
	if (st->fd != -1)
		close(st->fd);
	age_dec_free(st->dec);
	if (st->out != NULL)
		evbuffer_free(st->out);
	free(st->in);
	free(st);
}

/* age_dec's sink: plaintext (verified chunks only) into the next chunk. */
static fw_err
http_stream_sink(void *arg, const uint8_t *p, size_t n)
{
	struct http_stream *st = arg;

	if (evbuffer_add(st->out, p, n) == -1)
		return fw_seterr(FW_ERR_NOMEM, "stream: no memory for %zu bytes", n);
	return FW_OK;
}

/* Read on until st->out holds a chunk or the input ends (st->eof, after
 * the age stream's final check).  An age header and a payload chunk may
 * take a few reads before the first byte comes out: HTTP_STREAM_READS
 * bound that. */
static fw_err
http_stream_fill(struct http_stream *st)
{
	ssize_t n;
	fw_err e;

	for (int i = 0; i < HTTP_STREAM_READS && !st->eof &&
	    evbuffer_get_length(st->out) < HTTP_STREAM_CHUNK; i++) {
		if ((n = read(st->fd, st->in, HTTP_STREAM_CHUNK)) == -1) {
			if (errno == EINTR)
				continue;
			return fw_seterr(FW_ERR_IO, "stream: read: %s", strerror(errno));
		}
		if (n == 0) {
			st->eof = 1;
			return st->dec != NULL ? age_dec_final(st->dec) : FW_OK;
		}
		e = st->dec != NULL ? age_dec_update(st->dec, st->in, (size_t)n) :
		    http_stream_sink(st, st->in, (size_t)n);
		if (e != FW_OK)
			return e;
	}
	if (!st->eof && evbuffer_get_length(st->out) == 0)
		return fw_seterr(FW_ERR_AGE_PAYLOAD, "stream: nothing to send after %d "
		    "reads of %u bytes", HTTP_STREAM_READS, HTTP_STREAM_CHUNK);
	return FW_OK;
}

/* Every byte went out: end the chunked body; the request completes as
 * any other (http_complete_cb). */
static void
http_stream_end(struct http_stream *st)
{
	struct evhttp_request *req = st->req;
	struct timeval tmo = {(time_t)st->h->s->cfg.timeout, 0};

	log_debug("%s: streamed %" PRIu64 " bytes", st->what, st->sent);
	evhttp_connection_set_timeout_tv(st->evcon, &tmo);
	http_stream_free(st);
	evhttp_send_reply_end(req);
}

/* evhttp's write callback: the last chunk has left the bufferevent. */
static void
http_stream_next(struct evhttp_connection *evcon, void *arg)
{
	struct http_stream *st = arg;
	size_t len;
	fw_err e;

	(void)evcon;
	if (st->failed)
		return;
	if (st->eof) {
		http_stream_end(st);
		return;
	}
	if ((e = http_stream_fill(st)) != FW_OK) {
		/* The connection goes without the body's last chunk: the
		 * client cannot mistake the prefix for the whole.  It is
		 * freed, and st with it, by http_stream_closed. */
		log_warnx("%s: stream failed after %" PRIu64 " bytes: %s (%s)",
		    st->what, st->sent, fw_errmsg(), fw_strerror(e));
		st->failed = 1;
		http_conn_kill(st->c, "stream failed");
		return;
	}
	if ((len = evbuffer_get_length(st->out)) == 0) {
		http_stream_end(st);
		return;
	}
	st->sent += len;
	evhttp_send_reply_chunk_with_cb(st->req, st->out, http_stream_next, st);
}

/* The connection is going away before the stream ended (client gone,
 * timeout, a failed stream, shutdown).  If evhttp has detached the
 * request from it (a network failure while we still owned the answer),
 * freeing the request is ours. */
static void
http_stream_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_stream *st = arg;
	struct evhttp_request *req = st->req;

	(void)evcon;
	if (!st->failed)
		log_debug("%s: connection closed after %" PRIu64 " bytes streamed",
		    st->what, st->sent);
	st->evcon = NULL;	/* its close callback is being spent */
	http_stream_free(st);
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_send_reply_end(req);	/* frees a detached request */
}

/*
 * Send rs's stream: headers now, then chunks as the client takes them.
 * Takes rs->stream_fd (closed whatever happens).  Evidence is the
 * office's to look at, not a browser's to render: it goes as an
 * attachment in a sandbox.
 */
static void
http_stream_start(struct http *h, struct evhttp_request *req,
    struct http_conn *c, const struct api_resp *rs, const char *what)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct timeval tmo = {(time_t)h->s->cfg.timeout, 0};
	struct http_stream *st;
	char now[24];
	fw_err e = FW_OK;

	if ((st = calloc(1, sizeof *st)) == NULL) {
		close(rs->stream_fd);
		http_error(h, req, c, FW_ERR_NOMEM, "no memory for a stream");
		return;
	}
	st->h = h;
	st->c = c;
	st->req = req;
	st->fd = rs->stream_fd;
	snprintf(st->what, sizeof st->what, "%s", what);
	if ((st->out = evbuffer_new()) == NULL ||
	    (st->in = malloc(HTTP_STREAM_CHUNK)) == NULL)
		e = fw_seterr(FW_ERR_NOMEM, "no memory for a stream");
	else if (rs->decrypt)
		e = age_dec_new(&st->dec, (const uint8_t (*)[AGE_KEY_LEN])
		    &h->s->office_identity, 1, http_stream_sink, st);
	/* The first chunk before the status: a blob that is not an age
	 * file for our key gets a JSON error, not a 200 and a cut. */
	if (e == FW_OK && evcon == NULL)
		e = fw_seterr(FW_ERR_IO, "connection gone");
	if (e == FW_OK)
		e = http_stream_fill(st);
	if (e != FW_OK) {
		log_warnx("%s: cannot stream: %s (%s)", what, fw_errmsg(), fw_strerror(e));
		http_stream_free(st);
		http_error(h, req, c, e, fw_errmsg());
		return;
	}
	st->evcon = evcon;
	snprintf(now, sizeof now, "%lld", (long long)time(NULL));
	evhttp_add_header(oh, "Content-Type", rs->content_type != NULL ?
	    rs->content_type : "application/octet-stream");
	evhttp_add_header(oh, "Content-Disposition", "attachment");
	evhttp_add_header(oh, "Content-Security-Policy", "sandbox; default-src 'none'");
	evhttp_add_header(oh, "FW-Server-Time", now);
	evhttp_add_header(oh, "Cache-Control", "no-store");
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	if (h->draining)
		evhttp_add_header(oh, "Connection", "close");
	c->phase = HTTP_WRITING;
	evhttp_request_set_on_complete_cb(req, http_complete_cb, c);
	evhttp_connection_set_closecb(evcon, http_stream_closed, st);
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evcon), NULL, &tmo);
	evhttp_send_reply_start(req, rs->status, http_reason(rs->status));
	if (evbuffer_get_length(st->out) == 0) {
		http_stream_end(st);	/* an empty file */
		return;
	}
	st->sent = evbuffer_get_length(st->out);
	evhttp_send_reply_chunk_with_cb(req, st->out, http_stream_next, st);
}

/* Send api's answer rs to rq (stream, hold or send).  Takes rs. */
static void
http_respond(struct http *h, struct evhttp_request *req, struct http_conn *c,
    const struct api_req *rq, struct api_resp *rs)
{
	char target[128];

	if (rs->stream) {
		char what[HTTP_PEER_MAX + sizeof target + 16];

		buf_free(&rs->body);
		snprintf(what, sizeof what, "%s %s %s", rq->peer, rq->method,
		    http_printable(rq->target, target, sizeof target));
		log_debug("%s %zu -> %d (stream)", what, rq->bodylen, rs->status);
		http_flush(h);
		if (c == NULL) {	/* the connection is gone */
			close(rs->stream_fd);
			http_send(h, req, NULL, 503, "application/json", "", 0);
		} else
			http_stream_start(h, req, c, rs, what);
		return;
	}
	if (rs->status < 200 || rs->status > 599) {
		log_warnx("%s %s %s: api answered status %d", rq->peer, rq->method,
		    http_printable(rq->target, target, sizeof target), rs->status);
		buf_free(&rs->body);
		http_error(h, req, c, FW_ERR_INTERNAL, "no answer");
		return;
	}
	log_debug("%s %s %s %zu -> %d %zu", rq->peer, rq->method,
	    http_printable(rq->target, target, sizeof target), rq->bodylen, rs->status,
	    rs->body.len);
	http_answer(h, req, c, rs);
	buf_free(&rs->body);
}

/* ---- the signature worker ------------------------------------------------ */

/*
 * A request's signature check (api_verify: SHA-256 of the body, Ed25519)
 * runs on one worker thread while the loop serves other requests: the
 * loop does api_begin, posts a job, and finishes it with api_end when
 * the worker hands it back through a pipe (http_jobs_done).  The job
 * owns copies of what the request's api_req points to on the loop's
 * stack; the rest (headers, target, the body pulled up) belongs to the
 * evhttp request, which evhttp keeps until it is answered, even if its
 * connection goes.  Only the two queues are shared, under h->mu.
 */
static void *
http_worker(void *arg)
{
	struct http *h = arg;
	struct http_job *j;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);	/* signals are the loop's */
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->todo == NULL && !h->stop)
			pthread_cond_wait(&h->cv, &h->mu);
		if ((j = h->todo) == NULL)
			break;	/* stopped, and nothing left */
		if ((h->todo = j->next) == NULL)
			h->todo_tail = &h->todo;
		pthread_mutex_unlock(&h->mu);
		api_verify(&j->rq, &j->job);
		pthread_mutex_lock(&h->mu);
		j->next = NULL;
		*h->done_tail = j;
		h->done_tail = &j->next;
		if (h->done == j && write(h->pipe[1], "", 1) == -1 && errno != EAGAIN)
			log_warn("worker: pipe");
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* Hand rq's signature check to the worker; 0 if there is none (then
 * the caller checks it itself). */
static int
http_job_post(struct http *h, struct evhttp_request *req, struct http_conn *c,
    const struct api_req *rq, const struct api_job *job)
{
	struct http_job *j;

	if (!h->worker_on || (j = calloc(1, sizeof *j)) == NULL)
		return 0;
	j->req = req;
	j->c = c;
	j->rq = *rq;
	snprintf(j->peer, sizeof j->peer, "%s", rq->peer);
	j->rq.peer = j->peer;
	j->job = *job;	/* its query points into the request's target */
	c->job = j;
	pthread_mutex_lock(&h->mu);
	*h->todo_tail = j;
	h->todo_tail = &j->next;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return 1;
}

/* Finish the jobs the worker has handed back, in order. */
static void
http_jobs_done(struct http *h)
{
	struct http_job *j, *next;
	struct api_resp rs;
	char drain[64];

	while (read(h->pipe[0], drain, sizeof drain) > 0)
		;
	pthread_mutex_lock(&h->mu);
	j = h->done;
	h->done = NULL;
	h->done_tail = &h->done;
	pthread_mutex_unlock(&h->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		if (j->c != NULL)
			j->c->job = NULL;
		memset(&rs, 0, sizeof rs);
		rs.stream_fd = -1;
		buf_init(&rs.body, HTTP_MAX_RESPONSE);
		api_end(h->s, &j->rq, &j->job, &rs);
		http_respond(h, j->req, j->c, &j->rq, &rs);
		free(j);
	}
}

static void
http_jobs_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_jobs_done(arg);
}

/* Start the worker (without it, signatures are checked in the loop). */
static void
http_worker_start(struct http *h)
{
	if (pipe2(h->pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		log_warn("worker: pipe; checking signatures in the loop");
		h->pipe[0] = h->pipe[1] = -1;
		return;
	}
	if ((h->jobs_ev = event_new(h->base, h->pipe[0], EV_READ | EV_PERSIST,
	    http_jobs_cb, h)) == NULL || event_add(h->jobs_ev, NULL) == -1 ||
	    pthread_create(&h->worker, NULL, http_worker, h) != 0) {
		log_warnx("worker: cannot start; checking signatures in the loop");
		return;
	}
	h->worker_on = 1;
}

/* Let the worker finish what it has, stop it, and answer those jobs. */
static void
http_worker_stop(struct http *h)
{
	if (h->worker_on) {
		pthread_mutex_lock(&h->mu);
		h->stop = 1;
		pthread_cond_signal(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->worker, NULL);
		h->worker_on = 0;
		http_jobs_done(h);
	}
	if (h->jobs_ev != NULL)
		event_free(h->jobs_ev);
	h->jobs_ev = NULL;
	for (int i = 0; i < 2; i++)
		if (h->pipe[i] != -1)
			close(h->pipe[i]);
	h->pipe[0] = h->pipe[1] = -1;
}

/* evhttp's generic callback: one whole request, body included. */
static void
http_request_cb(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	struct http_conn *c = http_conn_of(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct api_req rq;
	struct api_resp rs;
	struct api_job job;
	struct evbuffer *in;
	char peer[HTTP_PEER_MAX], msg[128];
	const char *dup;
	size_t len;

	if (c == NULL) {
		/* No TLS on this connection (see http_bevcb): answer nothing
		 * of substance. */
		evhttp_send_error(req, 503, NULL);
		return;
	}
	memset(&rq, 0, sizeof rq);
	http_peer(req, peer, sizeof peer);
	rq.peer = peer;
	rq.method = http_method(cmd);
	if ((rq.target = evhttp_request_get_uri(req)) == NULL)
		rq.target = "";
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST &&
	    cmd != EVHTTP_REQ_PUT) {
		snprintf(msg, sizeof msg, "method %s is not allowed; expected GET, "
		    "POST or PUT", rq.method);
		http_error(h, req, c, FW_ERR_METHOD, msg);
		return;
	}
	if ((dup = http_headers(req, &rq)) != NULL) {
		snprintf(msg, sizeof msg, "header '%s' appears more than once", dup);
		http_error(h, req, c, strncmp(dup, "FW-", 3) == 0 ? FW_ERR_AUTH :
		    FW_ERR_INVALID, msg);
		return;
	}
	in = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(in);
	rq.body = (const uint8_t *)"";
	if (len > 0 && (rq.body = evbuffer_pullup(in, -1)) == NULL) {
		http_error(h, req, c, FW_ERR_NOMEM, "no memory for the request body");
		return;
	}
	rq.bodylen = len;

	memset(&rs, 0, sizeof rs);
	rs.stream_fd = -1;
	buf_init(&rs.body, HTTP_MAX_RESPONSE);
	if (api_begin(h->s, &rq, &job, &rs) && http_job_post(h, req, c, &rq, &job)) {
		buf_free(&rs.body);
		return;	/* the worker checks the signature: http_jobs_done */
	}
	if (job.verify) {	/* (no worker: here and now) */
		api_verify(&rq, &job);
		api_end(h->s, &rq, &job, &rs);
	}
	http_respond(h, req, c, &rq, &rs);
}

/* ---- signals, accept errors, the pid and port files --------------------- */

static void
http_term_cb(evutil_socket_t sig, short what, void *arg)
{
	struct http *h = arg;

	(void)what;
	if (h->draining)
		return;
	log_info("%s: no new connections; finishing %zu in progress",
	    sig == SIGINT ? "SIGINT" : "SIGTERM", h->nlive);
	h->draining = 1;
	h->s->draining = 1;
	http_now(&h->drain_start);
	if (h->bound != NULL) {
		evhttp_del_accept_socket(h->evh, h->bound);	/* closes it */
		h->bound = NULL;
	}
	event_del(h->resume_ev);
	http_sweep(h);
}

static void
http_hup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (log_reopen() == -1)
		log_warn("SIGHUP: cannot reopen the log file");
	else
		log_info("SIGHUP: log reopened");
}

static void
http_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;

	(void)fd;
	(void)what;
	if (h->bound != NULL)
		evconnlistener_enable(evhttp_bound_socket_get_listener(h->bound));
}

/* accept(2) failed.  Out of descriptors or memory, the socket would stay
 * readable and the loop spin: pause accepting for a second instead. */
static void
http_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct http *h = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {HTTP_ACCEPT_PAUSE, 0};

	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		log_warnx("accept: %s; pausing for %d s (%zu connections)",
		    strerror(err), HTTP_ACCEPT_PAUSE, h->nlive);
		evconnlistener_disable(lev);
		evtimer_add(h->resume_ev, &tv);
	} else
		log_debug("accept: %s", strerror(err));
}

/* Make sure max_connections descriptors are there to be had. */
static void
http_fd_limit(int64_t maxconn)
{
	rlim_t want = (rlim_t)maxconn + HTTP_FD_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ?
	    rl.rlim_max : want;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < want)
		log_warnx("open files limit %llu is below max_connections + %d; "
		    "accept will pause when it is reached",
		    (unsigned long long)rl.rlim_cur, HTTP_FD_SPARE);
}

/* Lock run/pid so that a second server on the same folder is refused. */
static fw_err
http_lock_pid(struct http *h)
{
	char old[32];
	ssize_t n;

	h->pidfd = open(h->pidfile, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (h->pidfd == -1)
		return file_errno(errno, h->pidfile);
	if (flock(h->pidfd, LOCK_EX | LOCK_NB) == -1) {
		n = errno == EWOULDBLOCK ? pread(h->pidfd, old, sizeof old - 1, 0) : -1;
		old[n > 0 ? n : 0] = '\0';
		old[strcspn(old, "\n")] = '\0';
		close(h->pidfd);
		h->pidfd = -1;
		return fw_seterr(FW_ERR_EXISTS, "%s: another server runs on this data "
		    "folder (pid %s)", h->pidfile, old[0] != '\0' ? old : "?");
	}
	return FW_OK;
}

static fw_err
http_write_pid(struct http *h)
{
	char text[32];
	int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
	fw_err e;

	if (ftruncate(h->pidfd, 0) == -1)
		return file_errno(errno, h->pidfile);
	if (pwrite(h->pidfd, text, (size_t)n, 0) != n)
		return file_errno(errno ? errno : EIO, h->pidfile);
	if ((e = file_fsync(h->pidfd, h->pidfile)) != FW_OK)
		return e;
	return file_fsync_dir(h->pidfile);
}

/* ---- the loop ----------------------------------------------------------- */

static void
http_free(struct http *h)
{
	/* evhttp first: freeing its connections frees their SSLs, whose
	 * callbacks still use h. */
	http_worker_stop(h);
	http_flush(h);
	h->freeing = 1;
	if (h->evh != NULL)
		evhttp_free(h->evh);
	if (h->flush_ev != NULL)
		event_free(h->flush_ev);
	if (h->flush_timer != NULL)
		event_free(h->flush_timer);
	h->flush_timer = NULL;
	if (h->sweep_ev != NULL)
		event_free(h->sweep_ev);
	h->sweep_ev = NULL;
	if (h->tick_ev != NULL)
		event_free(h->tick_ev);
	if (h->resume_ev != NULL)
		event_free(h->resume_ev);
	if (h->sig_term != NULL)
		event_free(h->sig_term);
	if (h->sig_int != NULL)
		event_free(h->sig_int);
	if (h->sig_hup != NULL)
		event_free(h->sig_hup);
	if (h->base != NULL)
		event_base_free(h->base);	/* runs pending finalizers */
	if (h->ctx != NULL)
		SSL_CTX_free(h->ctx);
	if (h->pidfd != -1)
		close(h->pidfd);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
}

static fw_err
http_setup(struct http *h, int fd)
{
	struct timeval tick = {1, 0}, tmo = {(time_t)h->s->cfg.timeout, 0};

	if ((h->base = event_base_new()) == NULL ||
	    event_base_priority_init(h->base, HTTP_PRIORITIES) == -1 ||
	    (h->flush_ev = event_new(h->base, -1, 0, http_flush_cb, h)) == NULL ||
	    event_priority_set(h->flush_ev, HTTP_PRIORITIES - 1) == -1 ||
	    (h->flush_timer = evtimer_new(h->base, http_flush_cb, h)) == NULL ||
	    (h->evh = evhttp_new(h->base)) == NULL ||
	    (h->sweep_ev = event_new(h->base, -1, 0, http_sweep_cb, h)) == NULL ||
	    (h->tick_ev = event_new(h->base, -1, EV_PERSIST, http_sweep_cb,
	    h)) == NULL ||
	    (h->resume_ev = evtimer_new(h->base, http_resume_cb, h)) == NULL ||
	    (h->sig_term = evsignal_new(h->base, SIGTERM, http_term_cb, h)) == NULL ||
	    (h->sig_int = evsignal_new(h->base, SIGINT, http_term_cb, h)) == NULL ||
	    (h->sig_hup = evsignal_new(h->base, SIGHUP, http_hup_cb, h)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "libevent: cannot set up the loop");
	if (event_add(h->tick_ev, &tick) == -1 ||
	    event_add(h->sig_term, NULL) == -1 || event_add(h->sig_int, NULL) == -1 ||
	    event_add(h->sig_hup, NULL) == -1)
		return fw_seterr(FW_ERR_INTERNAL, "libevent: cannot add events");
	evhttp_set_max_headers_size(h->evh, HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(h->evh, (ev_ssize_t)h->max_body);
	evhttp_set_timeout_tv(h->evh, &tmo);
	/* Every method evhttp knows reaches us, so that the wrong ones get
	 * a JSON 405 rather than evhttp's HTML 501. */
	evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_PUT | EVHTTP_REQ_HEAD | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	/* Read out (and drop) a body over the cap before answering 413, so
	 * that the client is not reset while still sending and sees it. */
	evhttp_set_flags(h->evh, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_bevcb(h->evh, http_bevcb, h);
	evhttp_set_gencb(h->evh, http_request_cb, h);
	if ((h->bound = evhttp_accept_socket_with_handle(h->evh, fd)) == NULL)
		return fw_seterr(FW_ERR_IO, "libevent: cannot accept on the socket");
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(h->bound),
	    http_accept_error_cb);
	return FW_OK;
}

/* The TLS context of tls/server.pem and tls/server.key. */
static fw_err
http_tls(struct server *s, SSL_CTX **ctx)
{
	char cert[PATH_MAX], key[PATH_MAX];

	server_path(s, "tls/server.pem", cert, sizeof cert);
	server_path(s, "tls/server.key", key, sizeof key);
	return tls_server_ctx(cert, key, ctx);
}

/* Leave the terminal: logs go to syslog or the configured file. */
static fw_err
http_detach(struct server *s)
{
	char path[PATH_MAX];
	int verbose = log_getverbose();

	if (daemon(1, 0) == -1)
		return fw_seterr(FW_ERR_IO, "daemon: %s", strerror(errno));
	log_init("fundwatch-server", 0, verbose);
	if (s->cfg.log_file != NULL && s->cfg.log_file[0] != '\0') {
		if (s->cfg.log_file[0] == '/')
			snprintf(path, sizeof path, "%s", s->cfg.log_file);
		else
			server_path(s, s->cfg.log_file, path, sizeof path);
		if (log_open(path) == -1)
			log_warn("log_file %s: cannot open; logging to syslog", path);
	}
	return FW_OK;
}

int
http_run(struct server *s, int foreground)
{
	struct http h;
	char text[16];
	unsigned port = 0;
	int fd = -1, n;
	fw_err e;

	memset(&h, 0, sizeof h);
	h.s = s;
	h.pidfd = -1;
	h.held_tail = &h.held;
	h.todo_tail = &h.todo;
	h.done_tail = &h.done;
	h.pipe[0] = h.pipe[1] = -1;
	pthread_mutex_init(&h.mu, NULL);
	pthread_cond_init(&h.cv, NULL);
	h.slots_free = HTTP_BODY_SLOTS;
	h.max_body = http_max_body(&s->cfg);
	server_path(s, "run/port", h.portfile, sizeof h.portfile);
	server_path(s, "run/pid", h.pidfile, sizeof h.pidfile);
	signal(SIGPIPE, SIG_IGN);
	event_set_log_callback(http_event_log);
	if (http_ssl_index == -1 && (http_ssl_index = SSL_get_ex_new_index(0,
	    "fundwatch connection", NULL, NULL, http_conn_free_cb)) == -1) {
		log_warnx("OpenSSL: no ex_data index");
		return 1;
	}
	if ((e = http_tls(s, &h.ctx)) != FW_OK ||
	    (e = http_lock_pid(&h)) != FW_OK)
		goto fail;
	/* A stale port file must not send a client to an old port. */
	if (unlink(h.portfile) == -1 && errno != ENOENT) {
		e = file_errno(errno, h.portfile);
		goto fail;
	}
	http_fd_limit(s->cfg.max_connections);
	if ((e = http_bind(s->cfg.listen, &fd, &port)) != FW_OK)
		goto fail;
	if (!foreground && (e = http_detach(s)) != FW_OK)
		goto fail;
	if ((e = http_setup(&h, fd)) != FW_OK)
		goto fail;
	fd = -1;	/* the listener owns it */
	db_cache(s->db, 1);
	if ((e = db_group(s->db, 1)) != FW_OK)
		goto fail;
	http_worker_start(&h);
	n = snprintf(text, sizeof text, "%u\n", port);
	if ((e = http_write_pid(&h)) != FW_OK ||
	    (e = file_write_durable(h.portfile, text, (size_t)n, 0644)) != FW_OK)
		goto fail;
	log_info("listening on %s (port %u), profile %s, max_connections %" PRId64
	    ", timeout %" PRId64 " s, body cap %" PRIu64 " bytes", s->cfg.listen,
	    port, s->profile != NULL ? s->profile->name : "?",
	    s->cfg.max_connections, s->cfg.timeout, h.max_body);
	if (event_base_dispatch(h.base) == -1) {
		e = fw_seterr(FW_ERR_INTERNAL, "libevent: the loop failed");
		goto fail;
	}
	unlink(h.portfile);
	unlink(h.pidfile);
	http_free(&h);
	db_cache(s->db, 0);
	if (db_group(s->db, 0) != FW_OK)
		log_warnx("%s", fw_errmsg());
	log_info("stopped");
	return 0;
fail:
	log_warnx("%s (%s)", fw_errmsg(), fw_strerror(e));
	if (fd != -1)
		close(fd);
	if (h.pidfd != -1) {
		/* Ours while we hold the lock. */
		unlink(h.portfile);
		unlink(h.pidfile);
	}
	http_free(&h);
	db_cache(s->db, 0);
	db_group(s->db, 0);
	return 1;
}

/* ---- `run` -------------------------------------------------------------- */

static void
run_usage(FILE *f)
{
	fprintf(f,
	    "usage: fundwatch-server run [--data DIR] [-d] [-v] [-n]\n"
	    "\n"
	    "Serve the devices' sync protocol over HTTPS from the data folder DIR\n"
	    "(default $FUNDWATCH_DATA, else /var/lib/fundwatch), made by `init`.\n"
	    "\n"
	    "  --data DIR   the data folder\n"
	    "  -d           stay in the foreground, log to stderr\n"
	    "  -v           log more (debug); twice for libevent's debug too\n"
	    "  -n           check the configuration, profile, keys and\n"
	    "               certificate, then exit: 0 if good, 1 with the error\n"
	    "  -h, --help   this text\n"
	    "\n"
	    "SIGTERM finishes the requests in progress and exits; SIGHUP reopens\n"
	    "the log file.  The bound port is written to DIR/run/port.\n");
}

/* -n: everything `run` would load, loaded. */
static fw_err
run_check(struct server *s)
{
	SSL_CTX *ctx;
	fw_err e;

	if ((e = http_check_listen(s->cfg.listen)) != FW_OK ||
	    (e = http_tls(s, &ctx)) != FW_OK)
		return e;
	SSL_CTX_free(ctx);
	return FW_OK;
}

int
run_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"data", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *data = NULL, *dir;
	int c, foreground = 0, verbose = 0, check = 0, rc;
	struct server *s;
	fw_err e;

	optind = 0;	/* glibc: start afresh, whatever ran before */
	while ((c = getopt_long(argc, argv, "dvnh", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			data = optarg;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'n':
			check = 1;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			run_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "run: unexpected argument '%s'\n", argv[optind]);
		run_usage(stderr);
		return 2;
	}
	dir = server_datadir(data);
	/* stderr until http_run detaches. */
	log_init("fundwatch-server", 1, verbose);
	if (verbose > 1)
		event_enable_debug_logging(EVENT_DBG_ALL);
	if ((e = server_open(dir, &s)) == FW_OK && check &&
	    (e = run_check(s)) != FW_OK)
		server_close(s);
	if (e != FW_OK) {
		fprintf(stderr, "fundwatch-server: %s: %s (%s)\n", dir, fw_errmsg(),
		    fw_strerror(e));
		return 1;
	}
	if (check) {
		printf("%s: configuration OK\n", dir);
		server_close(s);
		return 0;
	}
	rc = http_run(s, foreground);
	server_close(s);
	return rc;
}
