/* dav.c — WebDAV over libcurl: a pool of multi handles, parallel streaming uploads.
 *
 * Concurrency: pool_lock guards only the free list of clients. A client (multi handle +
 * easy handles + the connections they keep open) is used by one thread at a time, so no
 * curl handle is ever shared between threads.
 *
 * Uploads stream: the caller pushes a buffer, every easy handle's read callback copies
 * from it at its own offset and pauses itself when it has taken all of it; the next push
 * unpauses them. So a value of any size passes through with one buffer of memory.
 * A small value pushed whole as the first buffer goes instead as the request's body
 * (CURLOPT_POSTFIELDS with method PUT), which curl sends in the same write as the headers:
 * one packet, and one wake-up of the shard instead of two.
 *
 * A client makes its easy handles (one per replica of an upload) as they are first needed.
 *
 * Failed transfers: an easy handle whose transfer failed is replaced rather than reset
 * and reused, because libcurl 7.88 carries some state of a failed request into the next
 * one on the same handle: after a connection reset it keeps a pending "rewind before
 * send", which curl_easy_reset does not clear and which fails the handle's next upload
 * ("necessary data rewind wasn't possible"). Uploads cannot rewind: the bytes already
 * sent are gone. Connections live in the multi handle and are not lost.
 */
#include "dav.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"
#include "secret.h"
#include "sys.h"

#define MAX_TARGETS KV_MAX_REPLICAS
#define BIG_VALUE (1 << 20)	/* transfers larger than this use BIG_BUFFER */
#define BIG_BUFFER (512 * 1024) /* curl's largest receive buffer */
#define INLINE_MAX (64 * 1024)	/* curl sends bodies up to this with the headers */

struct xfer {
	CURL *e;
	const char *url;
	const char *method;
	int done;
	CURLcode res;
	long status;
	char errbuf[CURL_ERROR_SIZE];
	/* upload */
	struct kv_upload *up;
	size_t taken; /* of the current chunk */
	int paused;
	/* download */
	kv_dav_sink sink;
	void *sink_arg;
	int sink_rc;
	/* stall detection: no byte either way for timeout_ms while not paused by us */
	int timeout_ms;
	int64_t last_ms;
	curl_off_t last_bytes;
	int stalled;
	int sent_secret; /* for the message of a 401 */
};

struct client {
	CURLM *multi;
	CURL *easy[MAX_TARGETS];
	struct client *next;
};

struct kv_dav {
	pthread_mutex_t pool_lock;
	struct client *pool;
	struct curl_slist *no_expect;
	struct curl_slist *inline_hdrs; /* no Expect, and no Content-Type curl adds to bodies */
	struct curl_slist *depth1;
	char *secret_hdr; /* "X-Tinykv-Secret: ..." or NULL; in every list above */
	int timeout;
};

struct kv_upload {
	struct kv_dav *dav;
	struct client *c;
	int n, added;
	int64_t size;
	struct xfer x[MAX_TARGETS];
	const char *chunk;
	size_t len;
	int eof;
	int failed;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Append the secret's header to *list (when there is a secret). curl copies it. */
static int add_secret(struct kv_dav *dav, struct curl_slist **list)
{
	struct curl_slist *l;

	if (dav->secret_hdr == NULL)
		return 0;
	l = curl_slist_append(*list, dav->secret_hdr);
	if (l == NULL)
		return -ENOMEM;
	*list = l;
	return 0;
}

int kv_dav_new(const struct kv_dav_opts *o, struct kv_dav **out, struct kv_err *err)
{
	struct kv_dav *dav;

	*out = NULL;
	(void)pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return kv_err_set(err, -EIO, "libcurl: %s", curl_easy_strerror(global_rc));
	dav = calloc(1, sizeof(*dav));
	if (dav == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&dav->pool_lock, NULL);
	dav->timeout = o->timeout > 0 ? o->timeout : 10;
	/* curl asks "Expect: 100-continue" before big or chunked bodies: a round trip
	 * nginx does not need. */
	if (o->secret != NULL && o->secret[0] != '\0' &&
	    asprintf(&dav->secret_hdr, "%s: %s", KV_SECRET_HEADER, o->secret) < 0)
		dav->secret_hdr = NULL;
	dav->no_expect = curl_slist_append(NULL, "Expect:");
	dav->inline_hdrs = curl_slist_append(NULL, "Expect:");
	if (dav->inline_hdrs != NULL)
		dav->inline_hdrs = curl_slist_append(dav->inline_hdrs, "Content-Type:");
	dav->depth1 = curl_slist_append(NULL, "Depth: 1");
	if (dav->no_expect == NULL || dav->inline_hdrs == NULL || dav->depth1 == NULL ||
	    (o->secret != NULL && o->secret[0] != '\0' &&
	     (dav->secret_hdr == NULL || add_secret(dav, &dav->no_expect) < 0 ||
	      add_secret(dav, &dav->inline_hdrs) < 0 || add_secret(dav, &dav->depth1) < 0))) {
		kv_dav_free(dav);
		return kv_err_set(err, -ENOMEM, "out of memory");
	}
	*out = dav;
	return 0;
}

static void client_free(struct client *c)
{
	int i;

	for (i = 0; i < MAX_TARGETS; i++)
		if (c->easy[i] != NULL)
			curl_easy_cleanup(c->easy[i]);
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	free(c);
}

void kv_dav_free(struct kv_dav *dav)
{
	struct client *c, *next;

	if (dav == NULL)
		return;
	for (c = dav->pool; c != NULL; c = next) {
		next = c->next;
		client_free(c);
	}
	curl_slist_free_all(dav->no_expect);
	curl_slist_free_all(dav->inline_hdrs);
	curl_slist_free_all(dav->depth1);
	if (dav->secret_hdr != NULL) {
		explicit_bzero(dav->secret_hdr, strlen(dav->secret_hdr));
		free(dav->secret_hdr);
	}
	pthread_mutex_destroy(&dav->pool_lock);
	free(dav);
}

static struct client *client_get(struct kv_dav *dav)
{
	struct client *c;

	pthread_mutex_lock(&dav->pool_lock);
	c = dav->pool;
	if (c != NULL)
		dav->pool = c->next;
	pthread_mutex_unlock(&dav->pool_lock);
	if (c != NULL)
		return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->multi = curl_multi_init();
	if (c->multi == NULL) {
		client_free(c);
		return NULL;
	}
	(void)curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 4L * KV_MAX_SHARDS);
	return c;
}

/* Easy handle i of c, made when first needed (NULL when it cannot be): most requests go
 * to one shard, and every handle is about 5 KiB (tinykvd pools a client per worker). */
static CURL *client_easy(struct client *c, int i)
{
	if (c->easy[i] == NULL)
		c->easy[i] = curl_easy_init();
	return c->easy[i];
}

static void client_put(struct kv_dav *dav, struct client *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&dav->pool_lock);
	c->next = dav->pool;
	dav->pool = c;
	pthread_mutex_unlock(&dav->pool_lock);
}

/* Drop easy handle i of c after a failed transfer (see the top of this file): the next
 * request that needs it gets a new one (client_easy). */
static void client_renew(struct client *c, int i)
{
	curl_easy_cleanup(c->easy[i]);
	c->easy[i] = NULL;
}

static size_t discard_cb(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static size_t sink_cb(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	if (x->status == 0)
		(void)curl_easy_getinfo(x->e, CURLINFO_RESPONSE_CODE, &x->status);
	if (x->status < 200 || x->status > 299)
		return size * n; /* an error page: not the value */
	x->sink_rc = x->sink(p, size * n, x->sink_arg);
	x->last_ms = kv_mono_ms(); /* time the sink took is not the shard's */
	return x->sink_rc < 0 ? 0 : size * n;
}

/* Give up on a transfer when nothing has moved for the timeout, unless we paused it
 * ourselves (the bytes to send have not arrived yet: not the shard's fault). */
static int stall_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	struct xfer *x = arg;
	int64_t now = kv_mono_ms();

	(void)dltotal;
	(void)ultotal;
	if (dlnow + ulnow != x->last_bytes || x->paused) {
		x->last_bytes = dlnow + ulnow;
		x->last_ms = now;
		return 0;
	}
	if (now - x->last_ms < x->timeout_ms)
		return 0;
	x->stalled = 1;
	return 1;
}

static void xfer_setup(struct kv_dav *dav, struct xfer *x, CURL *e, const char *method,
		       const char *url)
{
	memset(x, 0, sizeof(*x));
	x->e = e;
	x->url = url;
	x->method = method;
	curl_easy_reset(e);
	(void)curl_easy_setopt(e, CURLOPT_URL, url);
	(void)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)dav->timeout);
	/* Not LOW_SPEED_*: its average over several seconds counts the body just sent, so
	 * a shard that stops answering after a PUT body would be given up on late. */
	x->timeout_ms = dav->timeout * 1000;
	x->last_ms = kv_mono_ms();
	(void)curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	(void)curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, stall_cb);
	(void)curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	(void)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	(void)curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	(void)curl_easy_setopt(e, CURLOPT_HTTPHEADER, dav->no_expect);
	/* Our headers (the secret) go to the shard, never to a proxy's CONNECT. */
	(void)curl_easy_setopt(e, CURLOPT_HEADEROPT, CURLHEADER_SEPARATE);
	x->sent_secret = dav->secret_hdr != NULL;
	(void)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	if (strcmp(method, "GET") != 0 && strcmp(method, "PUT") != 0)
		(void)curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
}

/* The one translation of curl results and HTTP statuses into errno + message. */
static int dav_fail(const struct xfer *x, struct kv_err *err)
{
	const char *path = strstr(x->url, "://");
	size_t base_len;
	int code;

	path = path != NULL ? strchr(path + 3, '/') : NULL;
	if (path == NULL)
		path = x->url + strlen(x->url);
	base_len = (size_t)(path - x->url);
	if (x->sink_rc < 0)
		return x->sink_rc;
	if (x->stalled)
		return kv_err_set(err, -ETIMEDOUT, "shard %.*s: %s %s: no answer for %d s",
				  (int)base_len, x->url, x->method, *path != '\0' ? path : "/",
				  x->timeout_ms / 1000);
	if (x->res != CURLE_OK) {
		const char *why = x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(x->res);

		/* curl's wording for "the connection died and the upload cannot be resent" */
		if (x->res == CURLE_SEND_FAIL_REWIND)
			why = "the connection broke during the upload";
		code = x->res == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		return kv_err_set(err, code, "shard %.*s: %s %s: %s", (int)base_len, x->url,
				  x->method, *path != '\0' ? path : "/", why);
	}
	switch (x->status) {
	case 404: code = -ENOENT; break;
	case 507: code = -ENOSPC; break;
	case 413: code = -EFBIG; break;
	case 401:
		return kv_err_set(err, -EIO, "shard %.*s refused %s %s: %s", (int)base_len, x->url,
				  x->method, *path != '\0' ? path : "/",
				  x->sent_secret ?
					  "not the secret it was started with (make "
					  "shard_secret_file the file of its --secret-file)" :
					  "it wants the cluster's secret (set shard_secret_file to "
					  "the "
					  "file of its --secret-file)");
	case 421:
		return kv_err_set(err, -EIO,
				  "shard %.*s refused %s %s: it does not answer to "
				  "that name (start it with --server-name, or list it by a name "
				  "it has)",
				  (int)base_len, x->url, x->method, *path != '\0' ? path : "/");
	default: code = -EIO; break; /* 403 too: the shard's policy refused the core */
	}
	return kv_err_set(err, code, "shard %.*s answered %ld to %s %s", (int)base_len, x->url,
			  x->status, x->method, *path != '\0' ? path : "/");
}

static int xfer_ok(const struct xfer *x)
{
	return x->done && x->res == CURLE_OK && x->sink_rc == 0 && x->status >= 200 &&
	       x->status <= 299;
}

/* Collect finished transfers of the multi handle into their xfer. */
static void reap(struct client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct xfer *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x == NULL)
			continue;
		x->done = 1;
		x->res = m->data.result;
		(void)curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &x->status);
	}
}

/* Run the multi handle until until(arg) holds. */
static int drive(struct client *c, int (*until)(void *), void *arg, struct kv_err *err)
{
	for (;;) {
		int running = 0;
		CURLMcode mc = curl_multi_perform(c->multi, &running);

		reap(c);
		if (until(arg))
			return 0;
		if (mc == CURLM_OK)
			mc = curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
		if (mc != CURLM_OK)
			return kv_err_set(err, -EIO, "libcurl: %s", curl_multi_strerror(mc));
	}
}

static int single_done(void *arg)
{
	return ((struct xfer *)arg)->done;
}

/* Run one prepared transfer on client c to completion. */
static int run_one(struct client *c, struct xfer *x, struct kv_err *err)
{
	int rc;

	if (curl_multi_add_handle(c->multi, x->e) != CURLM_OK)
		return kv_err_set(err, -EIO, "libcurl: cannot add transfer");
	rc = drive(c, single_done, x, err);
	(void)curl_multi_remove_handle(c->multi, x->e);
	if (rc < 0)
		return rc;
	return xfer_ok(x) ? 0 : dav_fail(x, err);
}

/* --- uploads --- */

static size_t read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct kv_upload *up = x->up;
	size_t avail = up->len - x->taken, want = size * n;

	if (avail == 0) {
		if (up->eof)
			return 0;
		x->paused = 1;
		return CURL_READFUNC_PAUSE;
	}
	if (want > avail)
		want = avail;
	memcpy(buf, up->chunk + x->taken, want);
	x->taken += want;
	return want;
}

int kv_upload_begin(struct kv_dav *dav, const char *const urls[], int n, int64_t size,
		    struct kv_upload **out, struct kv_err *err)
{
	struct kv_upload *up;
	int i;

	*out = NULL;
	if (n < 1 || n > MAX_TARGETS)
		return kv_err_set(err, -EINVAL, "cannot upload to %d shards", n);
	up = calloc(1, sizeof(*up));
	if (up == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	up->dav = dav;
	up->n = n;
	up->size = size;
	up->failed = -1;
	up->c = client_get(dav);
	if (up->c == NULL) {
		free(up);
		return kv_err_set(err, -ENOMEM, "libcurl: cannot create a transfer");
	}
	for (i = 0; i < n; i++) {
		CURL *e = client_easy(up->c, i);

		if (e == NULL) {
			client_put(dav, up->c);
			free(up);
			return kv_err_set(err, -ENOMEM, "libcurl: cannot create a transfer");
		}
		xfer_setup(dav, &up->x[i], e, "PUT", urls[i]);
		up->x[i].up = up;
	}
	*out = up;
	return 0;
}

/* Start the transfers with the first buffer: as a whole body when it is all of a small
 * value, else streamed through read_cb. */
static int upload_start(struct kv_upload *up, const void *buf, size_t len, struct kv_err *err)
{
	int whole = buf != NULL && len > 0 && (int64_t)len == up->size && len <= INLINE_MAX, i;

	for (i = 0; i < up->n; i++) {
		CURL *e = up->x[i].e;

		if (whole) {
			(void)curl_easy_setopt(e, CURLOPT_POSTFIELDS, buf);
			(void)curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
			(void)curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
			(void)curl_easy_setopt(e, CURLOPT_HTTPHEADER, up->dav->inline_hdrs);
		} else {
			(void)curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
			(void)curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
			(void)curl_easy_setopt(e, CURLOPT_READDATA, &up->x[i]);
			if (up->size >= 0)
				(void)curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
						       (curl_off_t)up->size);
			/* Big values in big pieces: a third of the system calls of curl's
			 * 64 KiB. Small ones keep the default: it is allocated per transfer. */
			if (up->size < 0 || up->size > BIG_VALUE)
				(void)curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE,
						       (long)BIG_BUFFER);
		}
		if (curl_multi_add_handle(up->c->multi, e) != CURLM_OK)
			return kv_err_set(err, -EIO, "libcurl: cannot add transfer");
		up->added = i + 1;
	}
	return 0;
}

/* All targets took the chunk (or finished); a failure stops the wait at once. */
static int chunk_taken(void *arg)
{
	struct kv_upload *up = arg;
	int i, all = 1;

	for (i = 0; i < up->n; i++) {
		const struct xfer *x = &up->x[i];

		if (x->done && !xfer_ok(x)) {
			up->failed = i;
			return 1;
		}
		if (!x->done && (up->eof || x->taken < up->len))
			all = 0;
	}
	return all;
}

static void feed(struct kv_upload *up, const void *buf, size_t len, int eof)
{
	int i;

	up->chunk = buf;
	up->len = len;
	up->eof = eof;
	for (i = 0; i < up->n; i++) {
		struct xfer *x = &up->x[i];

		x->taken = 0;
		if (x->paused && !x->done) {
			x->paused = 0;
			x->last_ms = kv_mono_ms(); /* the shard's clock starts now */
			(void)curl_easy_pause(x->e, CURLPAUSE_CONT);
		}
	}
}

int kv_upload_write(struct kv_upload *up, const void *buf, size_t len, struct kv_err *err)
{
	int rc;

	if (up->failed >= 0)
		return dav_fail(&up->x[up->failed], err);
	if (len == 0)
		return 0;
	if (up->added == 0 && (rc = upload_start(up, buf, len, err)) < 0)
		return rc;
	feed(up, buf, len, 0);
	rc = drive(up->c, chunk_taken, up, err);
	if (rc == 0 && up->failed >= 0)
		rc = dav_fail(&up->x[up->failed], err);
	return rc;
}

int kv_upload_end(struct kv_upload *up, struct kv_err *err)
{
	int rc;

	if (up->failed >= 0)
		return dav_fail(&up->x[up->failed], err);
	if (up->added == 0 && (rc = upload_start(up, NULL, 0, err)) < 0)
		return rc;
	feed(up, NULL, 0, 1);
	rc = drive(up->c, chunk_taken, up, err);
	if (rc == 0 && up->failed >= 0)
		rc = dav_fail(&up->x[up->failed], err);
	return rc;
}

int kv_upload_failed(const struct kv_upload *up)
{
	return up->failed;
}

int kv_upload_stored(const struct kv_upload *up, int i)
{
	return i >= 0 && i < up->n && xfer_ok(&up->x[i]);
}

void kv_upload_free(struct kv_upload *up)
{
	int i;

	if (up == NULL)
		return;
	for (i = 0; i < up->added; i++) {
		(void)curl_multi_remove_handle(up->c->multi, up->x[i].e);
		if (!up->x[i].done || up->x[i].res != CURLE_OK)
			client_renew(up->c, i);
	}
	client_put(up->dav, up->c);
	free(up);
}

/* --- single requests --- */

/* One request. big: a large body is expected (bigger receive buffer). */
static int simple(struct kv_dav *dav, const char *method, const char *url,
		  struct curl_slist *headers, kv_dav_sink sink, void *arg, const char *range,
		  int64_t *length, int big, struct kv_err *err)
{
	struct client *c = client_get(dav);
	struct xfer x;
	int rc;

	if (c == NULL || client_easy(c, 0) == NULL) {
		client_put(dav, c);
		return kv_err_set(err, -ENOMEM, "libcurl: cannot create a transfer");
	}
	xfer_setup(dav, &x, c->easy[0], method, url);
	if (headers != NULL)
		(void)curl_easy_setopt(x.e, CURLOPT_HTTPHEADER, headers);
	if (strcmp(method, "HEAD") == 0)
		(void)curl_easy_setopt(x.e, CURLOPT_NOBODY, 1L);
	if (sink != NULL) {
		x.sink = sink;
		x.sink_arg = arg;
		(void)curl_easy_setopt(x.e, CURLOPT_WRITEFUNCTION, sink_cb);
		(void)curl_easy_setopt(x.e, CURLOPT_WRITEDATA, &x);
	}
	if (range != NULL)
		(void)curl_easy_setopt(x.e, CURLOPT_RANGE, range);
	if (big)
		(void)curl_easy_setopt(x.e, CURLOPT_BUFFERSIZE, (long)BIG_BUFFER);
	rc = run_one(c, &x, err);
	if (rc == 0 && length != NULL) {
		curl_off_t cl = -1;

		(void)curl_easy_getinfo(x.e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		*length = cl;
	}
	if (rc < 0 && range != NULL && x.done && x.res == CURLE_OK && x.status == 416)
		rc = 0; /* the range starts past the end: no bytes */
	if (!x.done || x.res != CURLE_OK)
		client_renew(c, 0);
	client_put(dav, c);
	return rc;
}

int kv_dav_get(struct kv_dav *dav, const char *url, int64_t off, int64_t len, kv_dav_sink sink,
	       void *arg, struct kv_err *err)
{
	char range[64];

	if (len == 0)
		return 0;
	if (off == 0 && len < 0)
		return simple(dav, "GET", url, NULL, sink, arg, NULL, NULL, 1, err);
	if (len < 0)
		(void)snprintf(range, sizeof(range), "%lld-", (long long)off);
	else
		(void)snprintf(range, sizeof(range), "%lld-%lld", (long long)off,
			       (long long)(off + len - 1));
	return simple(dav, "GET", url, NULL, sink, arg, range, NULL, len < 0 || len > BIG_VALUE,
		      err);
}

int kv_dav_delete(struct kv_dav *dav, const char *url, struct kv_err *err)
{
	int rc = simple(dav, "DELETE", url, NULL, NULL, NULL, NULL, NULL, 0, err);

	return rc == -ENOENT ? 0 : rc;
}

int kv_dav_move(struct kv_dav *dav, const char *src, const char *dst, struct kv_err *err)
{
	char dest[KV_URL_MAX + 32];
	struct curl_slist *h = NULL, *h2;
	int rc;

	(void)snprintf(dest, sizeof(dest), "Destination: %s", dst);
	h = curl_slist_append(NULL, "Expect:");
	h2 = h != NULL ? curl_slist_append(h, dest) : NULL;
	h2 = h2 != NULL ? curl_slist_append(h2, "Overwrite: T") : NULL;
	if (h2 != NULL && add_secret(dav, &h2) < 0)
		h2 = NULL;
	if (h2 == NULL) {
		curl_slist_free_all(h);
		return kv_err_set(err, -ENOMEM, "out of memory");
	}
	rc = simple(dav, "MOVE", src, h, NULL, NULL, NULL, NULL, 0, err);
	curl_slist_free_all(h);
	return rc;
}

int kv_dav_head(struct kv_dav *dav, const char *url, int64_t *size, struct kv_err *err)
{
	return simple(dav, "HEAD", url, NULL, NULL, NULL, NULL, size, 0, err);
}

int kv_dav_propfind(struct kv_dav *dav, const char *url, kv_dav_sink sink, void *arg,
		    struct kv_err *err)
{
	return simple(dav, "PROPFIND", url, dav->depth1, sink, arg, NULL, NULL, 0, err);
}

int kv_dav_probe(struct kv_dav *dav, const char *base, struct kv_err *err)
{
	char url[KV_URL_MAX];

	(void)snprintf(url, sizeof(url), "%s/", base);
	return simple(dav, "OPTIONS", url, NULL, NULL, NULL, NULL, NULL, 0, err);
}
