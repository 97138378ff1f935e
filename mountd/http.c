/* http.c — the curl API of DESIGN §4 on libmicrohttpd: the server, request dispatch, and
 * the requests that only read the index (GET, HEAD, ?list).
 *
 * Threads: libmicrohttpd runs an epoll loop per CPU. No loop thread talks to a shard, but
 * they do read the index (LMDB, which may wait for the disk): GET and HEAD are answered
 * there, and a PUT or DELETE is checked there (rights, an existing key) before it goes to
 * a worker thread (writes.c); listings are built on lister threads. A loop thread hands
 * work over with kv_pool_try_submit, never waiting for a thread, and otherwise waits only
 * for a request's lock, which no thread holds across shard I/O.
 * The busy counter (atomic: requests a worker holds) and the flow of body bytes are what
 * a graceful stop waits on; uploads that trickle or stall are not waited for. What one
 * client may hold (connections, idle time, body time, value size) is set in
 * tinykv.conf(5). */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"
#include "escape.h"
#include "json.h"
#include "listargs.h"
#include "req.h"
#include "say.h"
#include "sys.h"
#include "writes.h"

#define LISTERS 2 /* listings at once; 8 more may wait, then 503 */
/* A stop waits for uploads while their bodies arrive at 16 KiB/s or more in all. */
#define STOP_WINDOW_MS 500
#define STOP_FLOW_BYTES (8 * 1024)
/* libmicrohttpd's memory per connection: it holds the request line and headers (longer
 * ones get 414 / 431), and libmicrohttpd zeroes all of it after every request, which at
 * 64 KiB was a fifth of a GET's CPU. 16 KiB still takes headers up to nginx's default. */
#define CONN_MEMORY (16 * 1024)

/* --- GET /PREFIX?list --- */

struct list_ctx {
	struct sbuf *b;
	int n;
	struct req *r;
	struct auth_listing seen; /* keys the caller may not read are left out */
};

static int list_one(const char *key, size_t klen, const struct kv_record *rec, void *arg)
{
	struct list_ctx *l = arg;

	if (!auth_may_list(&l->r->who, l->r->h->s, &l->seen, key, klen, rec))
		return 0;
	if (l->n++ > 0)
		sbuf_append(l->b, ", ", 2);
	sbuf_json_string(l->b, key, klen);
	return 0;
}

/* The raw value of query parameter name: NULL when absent, "" when given without '='. */
static const char *query_raw(struct MHD_Connection *c, const char *name, size_t *len)
{
	const char *v = NULL;

	*len = 0;
	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, len) !=
	    MHD_YES)
		return NULL;
	return v != NULL ? v : "";
}

#define BUSY_LISTING "Service unavailable: every listing thread is busy; try again shortly."

/* A lister thread: the keys of r->list into JSON, the answer handed back (req_finish). */
static void list_work(void *item, void *arg)
{
	char next[KV_KEY_MAX + 1], msg[KV_ERR_MSG_MAX + 64];
	size_t nextlen = 0;
	struct sbuf b = { 0 }, keys = { 0 };
	struct req *r;
	struct list_ctx l = { &keys, 0, NULL, { 0 } };
	const struct listargs *a;
	struct kv_err err;
	int rc;

	(void)arg;
	r = *(struct req **)item;
	l.r = r;
	a = r->list;
	rc = kv_store_list(r->h->s, a->prefix, a->plen, a->slen > 0 ? a->start : NULL, a->slen,
			   a->limit, list_one, &l, next, &nextlen, &err);
	if (rc < 0) {
		sbuf_free(&keys);
		(void)snprintf(msg, sizeof(msg), "Service unavailable: %s\n", err.msg);
		req_finish(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, strdup(msg), strlen(msg));
		return;
	}
	/* DESIGN §4 puts "next" first, but it is known only once the keys are listed. */
	sbuf_puts(&b, "{\"next\": ");
	sbuf_json_string(&b, next, nextlen);
	sbuf_puts(&b, ", \"keys\": [");
	sbuf_append(&b, keys.p != NULL ? keys.p : "", keys.len);
	sbuf_puts(&b, "]}\n");
	b.oom |= keys.oom;
	sbuf_free(&keys);
	if (b.oom) {
		sbuf_free(&b);
		(void)snprintf(msg, sizeof(msg), "Service unavailable: out of memory\n");
		req_finish(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, strdup(msg), strlen(msg));
		return;
	}
	req_finish(r, MHD_HTTP_OK, "application/json", b.p, b.len);
}

/* The checks here; the listing itself on a lister thread (10,000 keys of 511 bytes are
 * 30 MB of JSON: no event loop builds that). */
static enum MHD_Result handle_list(struct req *r, struct MHD_Connection *c, const char *url)
{
	size_t slen, llen;
	struct listargs a;
	struct kv_err err;
	const char *start = query_raw(c, "start", &slen), *limit = query_raw(c, "limit", &llen);
	int rc;

	if (listargs_parse(url, start, slen, limit, llen, &a, &err) < 0)
		return answer_text(r, c, MHD_HTTP_BAD_REQUEST, "%s.", err.msg);
	if ((rc = auth_list_prefix(&r->who, a.prefix, &a.plen, &err)) < 0)
		return answer_deny(r, c, rc, &err);
	r->list = malloc(sizeof(*r->list));
	if (r->list == NULL)
		return answer_text(r, c, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "Service unavailable: out of memory");
	*r->list = a;
	pthread_mutex_lock(&r->lock);
	if (req_hand_over(r, r->h->listers, &r, sizeof(r)) < 0) {
		pthread_mutex_unlock(&r->lock);
		return answer_text(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, BUSY_LISTING);
	}
	req_suspend(r);
	pthread_mutex_unlock(&r->lock);
	return MHD_YES;
}

/* --- GET, HEAD --- */

static enum MHD_Result handle_get(struct req *r, struct MHD_Connection *c, const char *url)
{
	char location[KV_URL_MAX];
	struct kv_record rec;
	struct kv_err err;
	const char *v;
	size_t vlen;
	int rc;

	if (MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, "list", 4, &v, &vlen) ==
	    MHD_YES)
		return handle_list(r, c, url);
	if (strcmp(url, "/") == 0)
		return answer_text(r, c, MHD_HTTP_BAD_REQUEST,
				   "Bad key: empty. Use /KEY, or /PREFIX?list to list keys.");
	rc = req_parse_key(r, url, &err);
	if (rc == 0 && (rc = auth_may(&r->who, r->h->s, AUTH_GET, r->key, r->klen, &err)) < 0)
		return answer_deny(r, c, rc, &err);
	if (rc == 0)
		rc = kv_store_locate(r->h->s, r->key, r->klen, location, sizeof(location), &rec,
				     &err);
	if (rc < 0)
		return answer_fail(r, c, rc, &err);
	if ((rc = auth_may_key(&r->who, AUTH_GET, r->key, r->klen, &rec, &err)) < 0)
		return answer_deny(r, c, rc, &err);
	return answer_respond(r, c, MHD_HTTP_FOUND, "text/plain; charset=utf-8", "", 0, location);
}

/* A request other than PUT: its body means nothing, but a framing that two parsers may
 * read differently is refused all the same (RFC 9112 §6.3), before the body is read. */
static enum MHD_Result check_framing(struct req *r, struct MHD_Connection *c)
{
	const char *why;
	int64_t size;
	int rc = writes_body_length(c, &size, &why);

	if (rc == -EINVAL)
		return answer_plain(r, c, MHD_HTTP_BAD_REQUEST, why);
	if (rc == -ENOSYS)
		return answer_plain(r, c, MHD_HTTP_NOT_IMPLEMENTED, why);
	return MHD_YES;
}

/* in, cut to fit cap bytes with its NUL (for the log): snprintf was 5% of a GET. */
static void copy_word(char *out, size_t cap, const char *in)
{
	size_t n = strnlen(in, cap - 1);

	memcpy(out, in, n);
	out[n] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct req *r = *con_cls;
	struct kv_err err;
	int rc;

	(void)cls;
	if (r == NULL)
		return MHD_NO;
	if (!r->started) {
		r->started = 1;
		copy_word(r->method, sizeof(r->method), method);
		copy_word(r->version, sizeof(r->version), version);
		/* A PUT starts at its headers, to stream its body; the others answer once
		 * the request is complete: an answer before that makes libmicrohttpd close
		 * the connection instead of keeping it alive. */
		r->c = c;
		if ((rc = auth_identify(r->h->auth, c, version, &r->who, &err)) < 0)
			return answer_deny(r, c, rc, &err);
		if (strcmp(method, MHD_HTTP_METHOD_PUT) != 0)
			return check_framing(r, c);
		return !strcmp(method, MHD_HTTP_METHOD_PUT) ? writes_put_start(r, c, url) : MHD_YES;
	}
	if (!strcmp(method, MHD_HTTP_METHOD_PUT))
		return writes_put_data(r, c, data, data_size);
	if (*data_size > 0) {
		*data_size = 0; /* a body on other methods means nothing */
		return MHD_YES;
	}
	if (r->done) /* a thread of a pool has answered (set before it resumed us) */
		return req_answer(r, c);
	if (!strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD))
		return handle_get(r, c, url);
	if (!strcmp(method, MHD_HTTP_METHOD_DELETE))
		return writes_delete(r, c, url);
	return answer_text(r, c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method %s not allowed.", method);
}

/* --- request lifetime: start (URI seen), completion, access log --- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	(void)c;
	return req_new(cls, uri);
}

static void access_log(struct req *r, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char addr[INET6_ADDRSTRLEN] = "-", when[64], line[3072];
	char target[KV_ESCAPE_CAP(600)], method[KV_ESCAPE_CAP(sizeof(r->method))];
	char version[KV_ESCAPE_CAP(sizeof(r->version))];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	if (ci != NULL && ci->client_addr != NULL) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
				  sizeof(addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
				  sizeof(addr));
	}
	(void)localtime_r(&now, &tm);
	(void)strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
	/* What the client sent is escaped: no control byte reaches a terminal or a log
	 * parser, and '"' cannot end the quoted request early. */
	(void)kv_escape(target, sizeof(target), r->uri != NULL ? r->uri : "-",
			r->uri != NULL ? strnlen(r->uri, 600) : 1, '"', KV_ESC_BACKSLASH);
	(void)kv_escape(method, sizeof(method), r->method, strlen(r->method), '"',
			KV_ESC_BACKSLASH);
	(void)kv_escape(version, sizeof(version), r->version, strlen(r->version), '"',
			KV_ESC_BACKSLASH);
	n = snprintf(line, sizeof(line), "%s - - [%s] \"%s %s %s\" %d %zu\n", addr, when, method,
		     target, version, r->status, r->resp_len);
	if (n > 0)
		(void)!write(STDERR_FILENO, line,
			     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct http_server *h = cls;
	struct req *r = *con_cls;

	(void)why;
	if (r == NULL)
		return;
	if (!h->quiet)
		access_log(r, c);
	if (writes_release(r)) /* else its worker frees it, undoing a PUT cut short */
		req_free(r);
	*con_cls = NULL;
}

/* Keep the path as sent: the handlers percent-decode keys themselves, so that a bad
 * escape is an error instead of a silently different key. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

/* libmicrohttpd's own messages (a connection refused at a limit, a malformed request):
 * escaped like every other line, and at most LOG_BURST a second, so that a flood of
 * connections cannot flood the log. */
#define LOG_BURST 20
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	static _Atomic int64_t window;
	static atomic_int in_window;
	char msg[1024];
	int64_t now = kv_mono_ms() / 1000, was = atomic_load(&window);
	size_t n;

	(void)cls;
	if (now != was && atomic_compare_exchange_strong(&window, &was, now))
		atomic_store(&in_window, 0);
	if (atomic_fetch_add(&in_window, 1) >= LOG_BURST)
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	say("libmicrohttpd: %s", msg);
}

static int make_addr(const char *addr, int port, struct sockaddr_storage *ss, struct kv_err *err)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!strcmp(addr, "localhost"))
		addr = "127.0.0.1";
	if (!strcmp(addr, "*"))
		addr = "0.0.0.0";
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return kv_err_set(err, -EINVAL, "listen address '%s' is not an IP address", addr);
}

int http_start(struct kv_store *s, struct auth *auth, const char *addr, int port, int quiet,
	       struct http_server **out, struct kv_err *err)
{
	struct sockaddr_storage ss;
	struct http_server *h;
	const struct kv_config *cfg = kv_store_config(s);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int rc = make_addr(addr, port, &ss, err);

	*out = NULL;
	if (rc < 0)
		return rc;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	h->s = s;
	h->quiet = quiet;
	h->auth = auth;
	h->body_timeout = cfg->body_timeout;
	h->idle_timeout = cfg->idle_timeout;
	h->max_value_size = cfg->max_value_size;
	h->listers = kv_pool_new(LISTERS, sizeof(struct req *), list_work, h);
	if (h->listers == NULL) {
		free(h);
		return kv_err_set(err, -EAGAIN, "cannot start worker threads");
	}
	if (writes_init(h, cfg->workers) < 0) {
		kv_pool_finish(h->listers);
		free(h);
		return kv_err_set(err, -EAGAIN, "cannot start worker threads");
	}
	/* The logger first: libmicrohttpd complains (on stderr, unescaped) otherwise. */
	h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
				(struct sockaddr *)&ss, MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
				MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				(unsigned)cfg->max_client_connections,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
				MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
				MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(cpus > 1 ? cpus : 1),
				MHD_OPTION_END);
	if (h->d == NULL) {
		kv_pool_finish(h->listers);
		writes_fini(h);
		free(h);
		return kv_err_set(err, -EADDRINUSE,
				  "cannot listen on %s:%d (in use, or not "
				  "an address of this host)",
				  addr, port);
	}
	*out = h;
	return 0;
}

/* Wait, until the deadline, while a worker holds a request or bodies arrive (at
 * STOP_FLOW_BYTES per STOP_WINDOW_MS or more, in all: a slow upload finishes, a hundred
 * that trickle a byte a second do not hold the stop). */
static void wait_in_flight(struct http_server *h, int64_t deadline)
{
	uint64_t seen = atomic_load(&h->body_bytes), now_bytes;
	int64_t sampled = kv_mono_ms(), now;
	int flowing = 1; /* until the first window says otherwise */

	for (;;) {
		now = kv_mono_ms();
		if (now >= deadline)
			return;
		if (now - sampled >= STOP_WINDOW_MS) {
			now_bytes = atomic_load(&h->body_bytes);
			flowing = now_bytes - seen >= STOP_FLOW_BYTES;
			seen = now_bytes;
			sampled = now;
		}
		if (atomic_load(&h->busy) == 0 && !flowing)
			return;
		(void)usleep(20 * 1000);
	}
}

void http_stop(struct http_server *h, int grace_s)
{
	MHD_socket listen_fd;

	if (h == NULL)
		return;
	listen_fd = MHD_quiesce_daemon(h->d);
	if (listen_fd != MHD_INVALID_SOCKET)
		(void)close(listen_fd);
	/* Uploads whose body is still arriving, slowly or not at all, do not hold the stop
	 * past that: stopping the daemon ends their connections, the reaper undoes them. */
	wait_in_flight(h, kv_mono_ms() + (int64_t)grace_s * 1000);
	MHD_stop_daemon(h->d);
	kv_pool_finish(h->listers);
	writes_fini(h); /* writes of clients that went away finish undoing */
	free(h);
}
