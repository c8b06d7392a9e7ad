/*
 * net.c: the agent's HTTPS client (proto/PROTOCOL.md sections 1, 4, 10).
 *
 * One request at a time over libcurl's multi interface: net_request adds
 * one easy handle to the multi handle and runs the wait loop (curl_multi_poll)
 * until the answer is in, the transfer fails or the caller's stop flag is
 * set.  The loop also polls the caller's own descriptors (the daemon's
 * signal pipe and nudge socket) and calls back when one is ready, so the
 * daemon stays responsive during a transfer without a thread.  The multi
 * handle keeps the TLS connection between requests of a sync pass.
 *
 * TLS trusts the CA pinned at enrollment and nothing else: CURLOPT_CAINFO
 * is that file, the compiled-in CA path is switched off, peer and host are
 * verified, TLS 1.2 is the least version, https the only protocol, no
 * redirects, no proxy from the environment.  A certificate that does not
 * verify is an error naming the pinned file; there is no fallback.
 *
 * Every request after enrollment is signed (section 4): FW-Device, FW-Time
 * (device clock plus the offset learnt from the server), FW-Nonce (16
 * random bytes) and FW-Signature over the six-line signing string.  Answer
 * bodies are kept in a capped buffer; FW-Server-Time and Retry-After are
 * read from the headers.  Nothing secret is logged: not the key, not the
 * signature.
 *
 * libcurl is loaded (dlopen) when the first client is made, not when the
 * agent starts: the capture commands never touch the network, and linking
 * it would make each of them load it and the thirty-odd libraries it
 * brings (TLS, SSH, LDAP, Kerberos...), most of a capture's start-up.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CURL_DISABLE_TYPECHECK	/* calls go through the table below */
#include <curl/curl.h>
#include <openssl/rand.h>

#include "agent.h"

#define NET_MAX_EXTRA_FDS	8

struct net {
	CURLM *multi;
	CURL *easy;
	char *url;			/* base, no trailing '/' */
	size_t prefix;			/* length of "https://host[:port]" */
	char *ca_path;
	const struct ed25519_key *key;
	char device_id[ED25519_DEVICE_ID_LEN + 1];
	int64_t clock_offset;
	uint64_t max_send_speed;
	volatile sig_atomic_t *stop;
	struct curl_waitfd extra[NET_MAX_EXTRA_FDS];
	size_t nextra;
	net_fd_fn on_fd;
	void *fd_ctx;
	net_progress_fn progress;
	void *progress_ctx;
	char errbuf[CURL_ERROR_SIZE];
};

/* The libcurl functions the agent calls, from the loaded library. */
struct curl_api {
	void *so;
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLHcode (*easy_header)(CURL *, const char *, size_t, unsigned int, int,
	    struct curl_header **);
	const char *(*easy_strerror)(CURLcode);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int,
	    int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
};
static struct curl_api cu;

/* The library's soname (libcurl 7.16 and later, built for OpenSSL or not). */
#define NET_LIBCURL	"libcurl.so.4"

static fw_err
net_global_init(void)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define SYM(f) {"curl_" #f, offsetof(struct curl_api, f)}
		SYM(global_init), SYM(easy_init), SYM(easy_cleanup), SYM(easy_reset),
		SYM(easy_setopt), SYM(easy_getinfo), SYM(easy_header),
		SYM(easy_strerror), SYM(multi_init), SYM(multi_cleanup),
		SYM(multi_setopt), SYM(multi_add_handle), SYM(multi_remove_handle),
		SYM(multi_perform), SYM(multi_poll), SYM(multi_info_read),
		SYM(slist_append), SYM(slist_free_all),
#undef SYM
	};
	void *so;

	if (cu.so != NULL)
		return FW_OK;
	if ((so = dlopen(NET_LIBCURL, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return fw_seterr(FW_ERR_CONFIG, "libcurl: %s (install libcurl4)",
		    dlerror());
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		void *f = dlsym(so, syms[i].name);

		if (f == NULL) {
			dlclose(so);
			return fw_seterr(FW_ERR_CONFIG, "libcurl: %s has no %s (libcurl "
			    "7.83 or later is needed)", NET_LIBCURL, syms[i].name);
		}
		memcpy((char *)&cu + syms[i].off, &f, sizeof f);
	}
	if (cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		dlclose(so);
		return fw_seterr(FW_ERR_INTERNAL, "libcurl: global initialisation failed");
	}
	cu.so = so;		/* kept loaded until exit */
	return FW_OK;
}

fw_err
net_signing_string(const char *method, const char *target, const char *fwtime,
    const char *nonce, const void *body, size_t n, struct buf *out)
{
	char hash[SHA256_HEX + 1];
	fw_err e;

	if ((e = sha256_hex(body != NULL ? body : "", body != NULL ? n : 0, hash)) != FW_OK)
		return e;
	return buf_printf(out, "fundwatch-request-v1\n%s\n%s\n%s\n%s\n%s\n", method,
	    target, fwtime, nonce, hash);
}

/* Sign with the body's hash already known (lowercase hex). */
static fw_err
net_sign_hashed(const struct ed25519_key *k, const char *method, const char *target,
    int64_t t, const char *nonce, const char *hash, struct net_auth *out)
{
	uint8_t sig[ED25519_SIG_LEN];
	struct buf msg;
	fw_err e;

	if (nonce == NULL || !hex_is_lower(nonce, FW_NONCE_HEX))
		return fw_seterr(FW_ERR_INVALID, "request nonce must be %d lowercase hex",
		    FW_NONCE_HEX);
	if (t < 0)
		return fw_seterr(FW_ERR_INVALID, "request time %" PRId64 " is before 1970",
		    t);
	snprintf(out->time, sizeof out->time, "%" PRId64, t);
	snprintf(out->nonce, sizeof out->nonce, "%s", nonce);
	buf_init(&msg, 4096);
	if ((e = buf_printf(&msg, "fundwatch-request-v1\n%s\n%s\n%s\n%s\n%s\n", method,
	    target, out->time, out->nonce, hash)) == FW_OK &&
	    (e = ed25519_sign(k, msg.data, msg.len, sig)) == FW_OK)
		base64_encode(sig, sizeof sig, out->signature);
	buf_free(&msg);
	return e;
}

fw_err
net_sign(const struct ed25519_key *k, const char *method, const char *target,
    int64_t t, const char *nonce, const void *body, size_t n, struct net_auth *out)
{
	char hash[SHA256_HEX + 1];
	fw_err e;

	if ((e = sha256_hex(body != NULL ? body : "", body != NULL ? n : 0, hash)) != FW_OK)
		return e;
	return net_sign_hashed(k, method, target, t, nonce, hash, out);
}

fw_err
net_new(const struct net_opts *o, struct net **out)
{
	struct net *n;
	const char *host, *slash;
	size_t len;
	fw_err e;

	*out = NULL;
	if (o->url == NULL || strncmp(o->url, "https://", 8) != 0 || o->url[8] == '\0')
		return fw_seterr(FW_ERR_CONFIG, "server URL '%s' must start with https://",
		    o->url ? o->url : "");
	if (o->ca_path == NULL || o->ca_path[0] == '\0')
		return fw_seterr(FW_ERR_CONFIG, "no pinned CA certificate to verify the "
		    "server with");
	if (o->nfds > NET_MAX_EXTRA_FDS)
		return fw_seterr(FW_ERR_INTERNAL, "net: %zu extra descriptors, at most %d",
		    o->nfds, NET_MAX_EXTRA_FDS);
	if ((e = net_global_init()) != FW_OK)
		return e;
	if ((n = calloc(1, sizeof *n)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "net: out of memory");
	len = strlen(o->url);
	while (len > 8 && o->url[len - 1] == '/')
		len--;
	n->url = strndup(o->url, len);
	n->ca_path = strdup(o->ca_path);
	n->multi = cu.multi_init();
	n->easy = cu.easy_init();
	if (n->url == NULL || n->ca_path == NULL || n->multi == NULL || n->easy == NULL) {
		net_free(n);
		return fw_seterr(FW_ERR_NOMEM, "net: out of memory");
	}
	host = n->url + 8;
	slash = strchr(host, '/');
	n->prefix = slash ? (size_t)(slash - n->url) : strlen(n->url);
	if (strpbrk(n->url, "?#") != NULL || n->prefix == 8) {
		net_free(n);
		return fw_seterr(FW_ERR_CONFIG, "server URL '%s': expected https://HOST[:PORT]"
		    " with no query", o->url);
	}
	n->key = o->key;
	if (o->device_id != NULL)
		snprintf(n->device_id, sizeof n->device_id, "%s", o->device_id);
	n->clock_offset = o->clock_offset;
	n->max_send_speed = o->max_send_speed;
	n->stop = o->stop;
	for (size_t i = 0; i < o->nfds; i++) {
		n->extra[i].fd = o->fds[i];
		n->extra[i].events = CURL_WAIT_POLLIN;
	}
	n->nextra = o->nfds;
	n->on_fd = o->on_fd;
	n->fd_ctx = o->fd_ctx;
	/* Keep a few connections at most: there is one server. */
	cu.multi_setopt(n->multi, CURLMOPT_MAXCONNECTS, 2L);
	*out = n;
	return FW_OK;
}

void
net_free(struct net *n)
{
	if (n == NULL)
		return;
	if (n->easy != NULL)
		cu.easy_cleanup(n->easy);
	if (n->multi != NULL)
		cu.multi_cleanup(n->multi);
	free(n->url);
	free(n->ca_path);
	free(n);
}

void
net_set_key(struct net *n, const struct ed25519_key *k, const char *device_id)
{
	n->key = k;
	snprintf(n->device_id, sizeof n->device_id, "%s", device_id ? device_id : "");
}

void
net_set_clock_offset(struct net *n, int64_t off)
{
	n->clock_offset = off;
}

int64_t
net_clock_offset(const struct net *n)
{
	return n->clock_offset;
}

void
net_set_progress(struct net *n, net_progress_fn fn, void *ctx)
{
	n->progress = fn;
	n->progress_ctx = ctx;
}

void
net_answer_init(struct net_answer *a)
{
	memset(a, 0, sizeof *a);
	buf_init(&a->body, NET_ANSWER_MAX);
	a->retry_after = -1;
}

void
net_answer_clear(struct net_answer *a)
{
	json_decref(a->json);
	a->json = NULL;
	buf_free(&a->body);
	a->status = 0;
	a->err = FW_OK;
	a->msg[0] = '\0';
	a->server_time = 0;
	a->retry_after = -1;
	a->sent = 0;
	a->transport = a->tls = a->interrupted = 0;
}

int
net_retryable(const struct net_answer *a)
{
	if (a->interrupted || a->tls)
		return 0;
	if (a->transport)
		return a->err != FW_ERR_CONFIG && a->err != FW_ERR_NOMEM;
	if (a->status >= 500 || a->status == 429)
		return 1;
	switch (a->err) {
	case FW_ERR_NOMEM:
	case FW_ERR_IO:
	case FW_ERR_NOSPACE:
	case FW_ERR_UNAVAILABLE:
	case FW_ERR_RATE:
		return 1;
	default:
		return 0;
	}
}

static size_t
net_write_cb(char *p, size_t size, size_t nmemb, void *ctx)
{
	struct net_answer *a = ctx;
	size_t n = size * nmemb;

	if (buf_add(&a->body, p, n) != FW_OK) {
		a->truncated = 1;
		return 0;	/* aborts: CURLE_WRITE_ERROR */
	}
	return n;
}

struct net_xfer {
	struct net *n;
	uint64_t last;
};

static int
net_xferinfo_cb(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	struct net_xfer *x = ctx;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	if (x->n->stop != NULL && *x->n->stop)
		return 1;
	if (x->n->progress != NULL && ulnow >= 0 && (uint64_t)ulnow != x->last) {
		x->last = (uint64_t)ulnow;
		x->n->progress(x->n->progress_ctx, x->last);
	}
	return 0;
}

/* A transfer that ended without an HTTP answer: say what and why. */
static fw_err
net_transport_error(struct net *n, CURLcode rc, const char *target,
    struct net_answer *a)
{
	const char *why = n->errbuf[0] ? n->errbuf : cu.easy_strerror(rc);
	char host[256];

	snprintf(host, sizeof host, "%.*s", (int)(n->prefix - 8), n->url + 8);
	a->transport = 1;
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
		a->tls = 1;
		a->err = fw_seterr(FW_ERR_CRYPTO, "TLS: the certificate of %s does not "
		    "verify against the pinned CA %s (%s); refusing to talk to it", host,
		    n->ca_path, why);
		break;
	case CURLE_SSL_CACERT_BADFILE:
		a->tls = 1;
		a->err = fw_seterr(FW_ERR_CONFIG, "TLS: cannot use the pinned CA file %s: "
		    "%s", n->ca_path, why);
		break;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_USE_SSL_FAILED:
		/* Not a verdict on the certificate: a handshake cut by the
		 * network looks the same, so it is retried. */
		a->err = fw_seterr(FW_ERR_IO, "TLS handshake with %s failed: %s", host, why);
		break;
	case CURLE_ABORTED_BY_CALLBACK:
		a->interrupted = 1;
		a->err = fw_seterr(FW_ERR_UNAVAILABLE, "%s: interrupted", target);
		break;
	case CURLE_WRITE_ERROR:
		a->err = a->truncated ? fw_seterr(FW_ERR_LIMIT, "%s: answer over %u bytes",
		    target, NET_ANSWER_MAX) : fw_seterr(FW_ERR_IO, "%s: %s", target, why);
		break;
	case CURLE_OUT_OF_MEMORY:
		a->err = fw_seterr(FW_ERR_NOMEM, "%s: out of memory", target);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		a->err = fw_seterr(FW_ERR_CONFIG, "server URL %s: %s", n->url, why);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		a->err = fw_seterr(FW_ERR_IO, "%s %s: timed out: %s", host, target, why);
		break;
	default:
		a->err = fw_seterr(FW_ERR_IO, "%s %s: %s", host, target, why);
		break;
	}
	snprintf(a->msg, sizeof a->msg, "%s", fw_errmsg());
	return a->err;
}

/* Read the status, headers and JSON error of a finished transfer. */
static fw_err
net_answer_read(struct net *n, const char *method, const char *target,
    struct net_answer *a)
{
	struct curl_header *h;
	curl_off_t ra = -1;
	const char *code = NULL, *msg = NULL;
	long status = 0;

	cu.easy_getinfo(n->easy, CURLINFO_RESPONSE_CODE, &status);
	a->status = status;
	if (cu.easy_header(n->easy, "FW-Server-Time", 0, CURLH_HEADER, -1, &h) ==
	    CURLHE_OK && h->value != NULL) {
		char *end;
		long long v;
		errno = 0;
		v = strtoll(h->value, &end, 10);
		if (errno == 0 && end != h->value && *end == '\0' && v > 0)
			a->server_time = (int64_t)v;
	}
	/* libcurl says 0 for "no header" as well as for "Retry-After: 0". */
	if (cu.easy_getinfo(n->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
		a->retry_after = (int64_t)ra;
	/* Answers are JSON objects; an error page of a proxy or of evhttp
	 * (413) is not, and is then judged by its status alone. */
	if (a->body.len > 0 && jsonx_load(a->body.data, a->body.len, &a->json) == FW_OK &&
	    !json_is_object(a->json)) {
		json_decref(a->json);
		a->json = NULL;
	}
	fw_errclear();
	if (status >= 200 && status < 300) {
		a->err = FW_OK;
		return FW_OK;
	}
	if (a->json != NULL) {
		code = json_string_value(json_object_get(a->json, "error"));
		msg = json_string_value(json_object_get(a->json, "message"));
	}
	if (code != NULL && (strcmp(code, "internal") == 0 ||
	    fw_err_from_name(code) != FW_ERR_INTERNAL))
		a->err = fw_err_from_name(code);
	else if (status == 429)
		a->err = FW_ERR_RATE;
	else if (status == 507)
		a->err = FW_ERR_NOSPACE;
	else if (status >= 500)
		a->err = FW_ERR_UNAVAILABLE;
	else if (status == 413)
		a->err = FW_ERR_LIMIT;
	else if (status == 401)
		a->err = FW_ERR_AUTH;
	else if (status == 403)
		a->err = FW_ERR_FORBIDDEN;
	else if (status == 404)
		a->err = FW_ERR_NOT_FOUND;
	else if (status == 409)
		a->err = FW_ERR_CONFLICT;
	else
		a->err = FW_ERR_INVALID;
	/* The server's message comes from the network: bound and clean it. */
	{
		char clean[256];
		size_t i = 0;
		for (const char *p = msg ? msg : ""; *p != '\0' && i < sizeof clean - 1; p++)
			clean[i++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
		clean[i] = '\0';
		fw_seterr(a->err, "%s %s: server answered %ld %s%s%s", method, target, status,
		    code ? code : fw_strerror(a->err), clean[0] ? ": " : "", clean);
	}
	snprintf(a->msg, sizeof a->msg, "%s", fw_errmsg());
	return a->err;
}

/* Run the multi handle until the easy handle is done, the stop flag is
 * set or the deadline passes.  *rc gets the transfer's result. */
static fw_err
net_wait(struct net *n, time_t deadline, CURLcode *rc)
{
	struct curl_waitfd extra[NET_MAX_EXTRA_FDS];
	int running = 1, numfds, left;
	CURLMsg *m;

	/* Bounded: each round waits at most NET_WAIT_SLICE_MS, and the
	 * deadline ends it. */
	for (;;) {
		if (cu.multi_perform(n->multi, &running) != CURLM_OK)
			return fw_seterr(FW_ERR_INTERNAL, "libcurl: multi perform failed");
		while ((m = cu.multi_info_read(n->multi, &left)) != NULL) {
			if (m->msg == CURLMSG_DONE && m->easy_handle == n->easy) {
				*rc = m->data.result;
				return FW_OK;
			}
		}
		if (n->stop != NULL && *n->stop) {
			*rc = CURLE_ABORTED_BY_CALLBACK;
			return FW_OK;
		}
		if (time(NULL) > deadline) {
			*rc = CURLE_OPERATION_TIMEDOUT;
			snprintf(n->errbuf, sizeof n->errbuf, "no answer within %d s",
			    NET_MAX_TIME);
			return FW_OK;
		}
		memcpy(extra, n->extra, n->nextra * sizeof extra[0]);
		for (size_t i = 0; i < n->nextra; i++)
			extra[i].revents = 0;
		if (cu.multi_poll(n->multi, extra, (unsigned)n->nextra,
		    NET_WAIT_SLICE_MS, &numfds) != CURLM_OK)
			return fw_seterr(FW_ERR_INTERNAL, "libcurl: multi poll failed");
		for (size_t i = 0; i < n->nextra && n->on_fd != NULL; i++)
			if (extra[i].revents != 0)
				n->on_fd(n->fd_ctx, extra[i].fd, extra[i].revents);
	}
}

fw_err
net_sleep(struct net *n, int64_t ms)
{
	struct curl_waitfd extra[NET_MAX_EXTRA_FDS];
	struct timespec now, end;
	int numfds;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)(ms / 1000);
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	/* Bounded by the monotonic deadline. */
	for (;;) {
		int64_t left;
		if (n->stop != NULL && *n->stop)
			return fw_seterr(FW_ERR_UNAVAILABLE, "interrupted while waiting to "
			    "retry");
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (int64_t)(end.tv_sec - now.tv_sec) * 1000 +
		    (end.tv_nsec - now.tv_nsec) / 1000000L;
		if (left <= 0)
			return FW_OK;
		memcpy(extra, n->extra, n->nextra * sizeof extra[0]);
		for (size_t i = 0; i < n->nextra; i++)
			extra[i].revents = 0;
		if (cu.multi_poll(n->multi, extra, (unsigned)n->nextra,
		    left > NET_WAIT_SLICE_MS ? NET_WAIT_SLICE_MS : (int)left,
		    &numfds) != CURLM_OK)
			return fw_seterr(FW_ERR_INTERNAL, "libcurl: multi poll failed");
		for (size_t i = 0; i < n->nextra && n->on_fd != NULL; i++)
			if (extra[i].revents != 0)
				n->on_fd(n->fd_ctx, extra[i].fd, extra[i].revents);
	}
}

/* The options every request carries: TLS pinned, https only, bounds. */
static void
net_setopt_common(struct net *n, struct net_answer *a, struct net_xfer *x)
{
	CURL *c = n->easy;

	cu.easy_reset(c);
	n->errbuf[0] = '\0';
	cu.easy_setopt(c, CURLOPT_ERRORBUFFER, n->errbuf);
	cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cu.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	cu.easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	cu.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	cu.easy_setopt(c, CURLOPT_PROXY, "");	/* ignore *_proxy variables */
	cu.easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	cu.easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	cu.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	cu.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	cu.easy_setopt(c, CURLOPT_CAINFO, n->ca_path);
	cu.easy_setopt(c, CURLOPT_CAPATH, NULL);	/* no system trust store */
	cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)NET_CONNECT_TIMEOUT);
	cu.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, (long)NET_LOW_SPEED_LIMIT);
	cu.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)NET_LOW_SPEED_TIME);
	cu.easy_setopt(c, CURLOPT_TIMEOUT, (long)NET_MAX_TIME);
	if (n->max_send_speed > 0)
		cu.easy_setopt(c, CURLOPT_MAX_SEND_SPEED_LARGE,
		    (curl_off_t)n->max_send_speed);
	cu.easy_setopt(c, CURLOPT_USERAGENT, "fundwatch-agent/" FW_VERSION);
	cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, net_write_cb);
	cu.easy_setopt(c, CURLOPT_WRITEDATA, a);
	cu.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	cu.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, net_xferinfo_cb);
	cu.easy_setopt(c, CURLOPT_XFERINFODATA, x);
}

/* Add a header line "Name: value" to *list. */
static fw_err
net_header(struct curl_slist **list, const char *name, const char *value)
{
	char line[512];
	struct curl_slist *l;

	snprintf(line, sizeof line, "%s: %s", name, value);
	if ((l = cu.slist_append(*list, line)) == NULL)
		return fw_seterr(FW_ERR_NOMEM, "net: out of memory");
	*list = l;
	return FW_OK;
}

/* A request body: memory (fd -1), or len bytes of a file from off, read
 * as curl sends them so that a chunk is never held whole in memory. */
struct net_body {
	const void *p;
	int fd;
	uint64_t off, len, pos;
	int err;			/* errno of a failed read */
};

static size_t
net_read_cb(char *buf, size_t size, size_t nitems, void *ctx)
{
	struct net_body *b = ctx;
	size_t want = size * nitems;
	ssize_t r;

	if (want > b->len - b->pos)
		want = (size_t)(b->len - b->pos);
	if (want == 0)
		return 0;
	do
		r = pread(b->fd, buf, want, (off_t)(b->off + b->pos));
	while (r == -1 && errno == EINTR);
	if (r <= 0) {
		b->err = r == 0 ? EIO : errno;
		return CURL_READFUNC_ABORT;
	}
	b->pos += (uint64_t)r;
	return (size_t)r;
}

/* Lowercase hex SHA-256 of the body, streaming a file range. */
static fw_err
net_body_hash(const struct net_body *b, char hash[SHA256_HEX + 1])
{
	uint8_t tmp[16384], md[SHA256_LEN];
	struct sha256 *h;
	uint64_t done = 0;
	fw_err e;

	if (b->fd < 0)
		return sha256_hex(b->p != NULL ? b->p : "", b->p != NULL ? (size_t)b->len : 0,
		    hash);
	if ((e = sha256_new(&h)) != FW_OK)
		return e;
	while (e == FW_OK && done < b->len) {
		size_t want = b->len - done < sizeof tmp ? (size_t)(b->len - done) : sizeof tmp;
		ssize_t r = pread(b->fd, tmp, want, (off_t)(b->off + done));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			e = r == 0 ? fw_seterr(FW_ERR_TRUNCATED, "request body: the file ends "
			    "at %" PRIu64 ", expected %" PRIu64 " more bytes", b->off + done,
			    b->len - done) : file_errno(errno, "request body");
		else
			e = sha256_update(h, tmp, (size_t)r);
		done += r > 0 ? (uint64_t)r : 0;
	}
	if (e == FW_OK && (e = sha256_final(h, md)) == FW_OK)
		hex_encode(md, sizeof md, hash);
	sha256_free(h);
	return e;
}

static fw_err
net_perform(struct net *n, const char *method, const char *target,
    const char *content_type, struct net_body *body, struct net_answer *a)
{
	struct curl_slist *hdr = NULL;
	struct net_xfer x = {n, 0};
	struct net_auth auth;
	char *url = NULL, nonce[FW_NONCE_HEX + 1], hash[SHA256_HEX + 1];
	uint8_t rnd[FW_NONCE_HEX / 2];
	size_t tlen = strlen(n->url) - n->prefix;
	CURLcode rc = CURLE_OK;
	curl_off_t up = 0;
	fw_err e;

	net_answer_clear(a);
	buf_init(&a->body, NET_ANSWER_MAX);
	if (target[0] != '/')
		return a->err = fw_seterr(FW_ERR_INTERNAL, "net: target must start with /");
	if (asprintf(&url, "%s%s", n->url, target) < 0)
		return a->err = fw_seterr(FW_ERR_NOMEM, "net: out of memory");
	net_setopt_common(n, a, &x);
	cu.easy_setopt(n->easy, CURLOPT_URL, url);
	/* No "Expect: 100-continue" round trip before a body. */
	if ((hdr = cu.slist_append(NULL, "Expect:")) == NULL)
		e = fw_seterr(FW_ERR_NOMEM, "net: out of memory");
	else
		e = FW_OK;
	if (e == FW_OK && content_type != NULL)
		e = net_header(&hdr, "Content-Type", content_type);
	if (e == FW_OK && n->key != NULL) {
		/* The request target as sent: the URL's path prefix, then ours. */
		char *full = NULL;
		if (RAND_bytes(rnd, sizeof rnd) != 1) {
			e = fw_seterr(FW_ERR_CRYPTO, "net: no randomness for the nonce");
		} else if (asprintf(&full, "%.*s%s", (int)tlen, n->url + n->prefix,
		    target) < 0) {
			e = fw_seterr(FW_ERR_NOMEM, "net: out of memory");
		} else if ((e = net_body_hash(body, hash)) == FW_OK) {
			hex_encode(rnd, sizeof rnd, nonce);
			e = net_sign_hashed(n->key, method, full, (int64_t)time(NULL) +
			    n->clock_offset, nonce, hash, &auth);
		}
		free(full);
		if (e == FW_OK && (e = net_header(&hdr, "FW-Device", n->device_id)) == FW_OK &&
		    (e = net_header(&hdr, "FW-Time", auth.time)) == FW_OK &&
		    (e = net_header(&hdr, "FW-Nonce", auth.nonce)) == FW_OK)
			e = net_header(&hdr, "FW-Signature", auth.signature);
	}
	if (e != FW_OK)
		goto out;
	cu.easy_setopt(n->easy, CURLOPT_HTTPHEADER, hdr);
	if (strcmp(method, "GET") == 0) {
		cu.easy_setopt(n->easy, CURLOPT_HTTPGET, 1L);
	} else if (body->fd >= 0) {
		/* Streamed from the file as the socket takes it. */
		body->pos = 0;
		cu.easy_setopt(n->easy, CURLOPT_UPLOAD, 1L);
		cu.easy_setopt(n->easy, CURLOPT_READFUNCTION, net_read_cb);
		cu.easy_setopt(n->easy, CURLOPT_READDATA, body);
		cu.easy_setopt(n->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body->len);
		cu.easy_setopt(n->easy, CURLOPT_CUSTOMREQUEST, method);
	} else {
		/* The body is the caller's memory, not copied: it outlives the
		 * transfer, which ends before we return. */
		cu.easy_setopt(n->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
		cu.easy_setopt(n->easy, CURLOPT_POSTFIELDS, body->p != NULL ? body->p : "");
		if (strcmp(method, "POST") != 0)
			cu.easy_setopt(n->easy, CURLOPT_CUSTOMREQUEST, method);
	}
	if (cu.multi_add_handle(n->multi, n->easy) != CURLM_OK) {
		e = fw_seterr(FW_ERR_INTERNAL, "libcurl: cannot add the transfer");
		goto out;
	}
	e = net_wait(n, time(NULL) + NET_MAX_TIME + 5, &rc);
	if (cu.easy_getinfo(n->easy, CURLINFO_SIZE_UPLOAD_T, &up) == CURLE_OK && up > 0)
		a->sent = (uint64_t)up;
	/* Removing the handle abandons an unfinished transfer and closes its
	 * connection; a finished one leaves it in the cache. */
	cu.multi_remove_handle(n->multi, n->easy);
	if (e != FW_OK)
		goto out;
	if (rc == CURLE_ABORTED_BY_CALLBACK && body->err != 0) {
		e = a->err = file_errno(body->err, "request body");
		snprintf(a->msg, sizeof a->msg, "%s", fw_errmsg());
	} else if (rc != CURLE_OK) {
		e = net_transport_error(n, rc, target, a);
	} else {
		e = net_answer_read(n, method, target, a);
	}
	log_debug("%s %s: %ld %s (%zu bytes sent)", method, target, a->status,
	    fw_strerror(a->err), (size_t)a->sent);
out:
	if (e != FW_OK && a->err == FW_OK) {
		a->err = e;
		a->transport = 1;
		snprintf(a->msg, sizeof a->msg, "%s", fw_errmsg());
	}
	cu.slist_free_all(hdr);
	free(url);
	return e;
}

fw_err
net_request(struct net *n, const char *method, const char *target,
    const char *content_type, const void *body, size_t len, struct net_answer *a)
{
	struct net_body b = {body, -1, 0, body != NULL ? len : 0, 0, 0};

	return net_perform(n, method, target, content_type, &b, a);
}

fw_err
net_request_fd(struct net *n, const char *method, const char *target,
    const char *content_type, int fd, uint64_t off, uint64_t len,
    struct net_answer *a)
{
	struct net_body b = {NULL, fd, off, len, 0, 0};

	if (fd < 0)
		return a->err = fw_seterr(FW_ERR_INTERNAL, "net: no file to send");
	return net_perform(n, method, target, content_type, &b, a);
}
