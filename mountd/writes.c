/* writes.c — PUT and DELETE, whose work waits on shards, run on worker threads so that
 * libmicrohttpd's few event-loop threads never block and keep serving GETs.
 *
 * A small PUT (a Content-Length up to SMALL) is collected on the connection's thread and
 * handed to a worker whole: one hand-over per request. A larger one starts on the
 * connection's thread (checks, the key's lock, the uploads set up), then a worker streams
 * its body to the shards: the connection's thread copies each piece it receives into the
 * request's ring buffer and goes on; when the ring is full it suspends the connection
 * until the worker has made room. Either way, at the end of the body the connection is
 * suspended until the worker has committed and written the answer; resumed, the
 * connection's thread sends it. A DELETE suspends its connection and runs whole on a
 * worker.
 *
 * Concurrency: r->lock guards the ring, the flags and the answer. The connection's thread
 * suspends only while holding r->lock; a worker reads `suspended` under the lock and
 * resumes after releasing it, so a resume can never come before its suspend. A suspended
 * connection cannot end, so resuming is safe; if the connection ended while a worker held
 * the request (`gone`), the worker frees it.
 */
#include "http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define RING (128 * 1024)
#define SMALL (64 * 1024)	/* bodies up to this are collected, then written at once */

void req_free(struct req *r)
{
	pthread_cond_destroy(&r->more);
	pthread_mutex_destroy(&r->lock);
	free(r->buf);
	free(r->answer);
	free(r->uri);
	free(r);
}

/* Caller holds r->lock. */
static void suspend(struct req *r)
{
	r->suspended = 1;
	MHD_suspend_connection(r->c);
}

/* Caller holds r->lock, which this releases; then resumes the connection if it waits. */
static void unlock_and_wake(struct req *r)
{
	int resume = r->suspended && !r->gone;

	r->suspended = 0;
	pthread_mutex_unlock(&r->lock);
	if (resume)
		MHD_resume_connection(r->c);
}

/* The worker is done with r: hand over the answer (text, malloc'd; may be NULL). */
static void finish(struct req *r, unsigned status, char *text, size_t len)
{
	int gone;

	pthread_mutex_lock(&r->lock);
	r->answer_status = status;
	r->answer = text;
	r->answer_len = len;
	r->done = 1;
	r->worker = 0;
	gone = r->gone;
	unlock_and_wake(r);
	if (gone)
		req_free(r);
}

static void finish_text(struct req *r, unsigned status, const char *msg)
{
	char *t = strdup(msg);

	finish(r, status, t, t != NULL ? strlen(t) : 0);
}

static void finish_failure(struct req *r, int rc, const struct kv_err *err)
{
	char text[KV_ERR_MSG_MAX + 2 * KV_KEY_MAX + 256];
	size_t len;
	unsigned status = http_failure(r, rc, err, text, sizeof(text), &len);

	finish(r, status, strndup(text, len), len);
}

/* Send the worker's answer. Connection's thread. */
static enum MHD_Result answer(struct req *r, struct MHD_Connection *c)
{
	enum MHD_Result ok = http_respond(r, c, r->answer_status, "text/plain; charset=utf-8",
					  r->answer != NULL ? r->answer : "", r->answer_len,
					  NULL);

	free(r->answer);
	r->answer = NULL;
	return ok;
}

static int printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* "Transaction Successful. Value VALUE is stored at URL[, URL...]" */
static void put_succeeded(struct req *r, struct kv_put *p)
{
	struct sbuf b = { 0 };
	char what[64];
	int i;

	sbuf_puts(&b, "Transaction Successful. Value ");
	if (r->received <= ECHO_MAX && printable(r->echo, r->echo_len)) {
		sbuf_append(&b, r->echo, r->echo_len);
	} else {
		(void)snprintf(what, sizeof(what), "(%llu bytes)", (unsigned long long)r->received);
		sbuf_puts(&b, what);
	}
	sbuf_puts(&b, " is stored at ");
	for (i = 0; i < kv_put_nurls(p); i++) {
		if (i > 0)
			sbuf_puts(&b, ", ");
		sbuf_puts(&b, kv_put_url(p, i));
	}
	sbuf_puts(&b, "\n");
	if (b.oom) {
		sbuf_free(&b);
		finish_text(r, MHD_HTTP_SERVICE_UNAVAILABLE, "Service unavailable: out of memory\n");
		return;
	}
	finish(r, MHD_HTTP_CREATED, b.p, b.len);
}

/* Commit p unless rc is already a failure, answer 201 or the failure, and free p. A failed
 * put is undone before the answer: once the client reads 503 the key is free again. */
static void put_finish(struct req *r, struct kv_put *p, int rc, struct kv_err *err)
{
	if (rc == 0)
		rc = kv_put_commit(p, NULL, err);
	if (rc < 0) {
		kv_put_free(p);
		finish_failure(r, rc, err);
		return;
	}
	put_succeeded(r, p);
	kv_put_free(p);
}

/* The worker's side of a PUT: take what the ring holds to the shards, then commit. */
static void put_work(struct req *r, struct kv_put *p)
{
	struct kv_err err;
	int rc = 0, gone = 0;

	for (;;) {
		const char *piece;
		size_t n;

		pthread_mutex_lock(&r->lock);
		while (r->len == 0 && !r->eof && !r->gone)
			pthread_cond_wait(&r->more, &r->lock);
		gone = r->gone;
		if (gone || (r->len == 0 && r->eof)) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		piece = r->buf + r->head;
		n = r->len < r->cap - r->head ? r->len : r->cap - r->head;
		pthread_mutex_unlock(&r->lock);
		/* The connection's thread only writes outside [head, head+len). */
		rc = kv_put_write(p, piece, n, &err);
		pthread_mutex_lock(&r->lock);
		r->head = (r->head + n) % r->cap;
		r->len -= n;
		if (rc < 0)
			break;	/* with the lock held */
		unlock_and_wake(r);
	}
	if (rc < 0) {
		pthread_mutex_unlock(&r->lock);
		/* Undo before answering: once the client reads 503 the key is free again. */
		kv_put_free(p);
		finish_failure(r, rc, &err);
		return;
	}
	if (gone) {
		kv_put_free(p);	/* the client went away: its partial value goes */
		finish(r, 0, NULL, 0);
		return;
	}
	if (r->received == 0) {
		kv_put_free(p);
		finish_text(r, MHD_HTTP_LENGTH_REQUIRED,
			    "Empty value: a PUT needs a body (the value to store).\n");
		return;
	}
	put_finish(r, p, 0, &err);
}

enum job_kind { JOB_STREAM, JOB_SMALL, JOB_DELETE };

struct job {
	struct req *r;
	enum job_kind kind;
	struct kv_put *put;	/* JOB_STREAM: begun on the connection's thread */
};

/* A whole small body in r->buf: lock the key, write, commit. */
static void small_work(struct req *r)
{
	struct kv_put *p = NULL;
	struct kv_meta owner;
	struct kv_err err;
	int rc;

	auth_owner(&r->who, &owner);
	rc = kv_put_begin(r->h->s, r->key, r->klen, (int64_t)r->len, KV_PUT_EXCL, &owner, &p,
			  &err);
	if (rc == 0)
		rc = kv_put_write(p, r->buf, r->len, &err);
	put_finish(r, p, rc, &err);
}

static void delete_work(struct req *r)
{
	struct kv_err err;
	int rc = kv_store_delete(r->h->s, r->key, r->klen, &err);

	if (rc < 0)
		finish_failure(r, rc, &err);
	else
		finish_text(r, MHD_HTTP_OK, "Delete succeeded.\n");
}

void writes_work(const char *item, size_t len, void *arg)
{
	struct job j;

	(void)arg;
	if (len != sizeof(j))
		return;
	memcpy(&j, item, sizeof(j));
	if (j.kind == JOB_STREAM)
		put_work(j.r, j.put);
	else if (j.kind == JOB_SMALL)
		small_work(j.r);
	else
		delete_work(j.r);
}

static void submit(struct req *r, enum job_kind kind, struct kv_put *p)
{
	struct job j = { r, kind, p };

	(void)kv_pool_submit(r->h->workers, (const char *)&j, sizeof(j));
}

static enum MHD_Result early(struct req *r, struct MHD_Connection *c, unsigned status,
			     const char *msg)
{
	return http_respond(r, c, status, "text/plain; charset=utf-8", msg, strlen(msg), NULL);
}

/* A small body: answer "exists" at once if we can tell (the worker checks again under the
 * key's lock), else collect it. */
static enum MHD_Result small_start(struct req *r, struct MHD_Connection *c)
{
	char text[KV_ERR_MSG_MAX + 2 * KV_KEY_MAX + 256];
	struct kv_record rec;
	struct kv_err err;
	size_t len;

	if (kv_store_get(r->h->s, r->key, r->klen, &rec, &err) == 0) {
		unsigned status = http_failure(r, -EEXIST, &err, text, sizeof(text), &len);

		return http_respond(r, c, status, "text/plain; charset=utf-8", text, len, NULL);
	}
	r->small = 1;
	r->cap = (size_t)r->size;
	r->buf = malloc(r->cap);
	if (r->buf == NULL)
		return early(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, "Service unavailable: out of memory\n");
	return MHD_YES;
}

/* Connection's thread: collect a small body; at its end hand it to a worker. */
static enum MHD_Result small_data(struct req *r, struct MHD_Connection *c, const char *data,
				  size_t *size)
{
	size_t n = *size < r->cap - r->len ? *size : r->cap - r->len;

	if (*size > 0) {
		memcpy(r->buf + r->len, data, n);
		r->len += n;
		r->received = r->len;
		memcpy(r->echo, r->buf, r->len < ECHO_MAX ? r->len : ECHO_MAX);
		r->echo_len = r->len < ECHO_MAX ? r->len : ECHO_MAX;
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&r->lock);
	if (r->done) {
		pthread_mutex_unlock(&r->lock);
		return answer(r, c);
	}
	if (!r->worker) {
		r->worker = 1;
		suspend(r);
		pthread_mutex_unlock(&r->lock);
		submit(r, JOB_SMALL, NULL);
		return MHD_YES;
	}
	suspend(r);
	pthread_mutex_unlock(&r->lock);
	return MHD_YES;
}

enum MHD_Result writes_put_start(struct req *r, struct MHD_Connection *c, const char *url)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_TRANSFER_ENCODING);
	char text[KV_ERR_MSG_MAX + 2 * KV_KEY_MAX + 256];
	struct kv_put *p = NULL;
	struct kv_meta owner;
	struct kv_err err;
	size_t len;
	int rc = http_parse_key(r, url, &err);

	if (rc == 0 && (rc = auth_may(&r->who, r->h->s, AUTH_PUT, r->key, r->klen, &err)) < 0)
		return http_deny(r, c, rc, &err);
	r->size = -1;
	if (rc == 0 && cl != NULL) {
		char *end;

		errno = 0;
		r->size = strtoll(cl, &end, 10);
		if (errno != 0 || end == cl || *end != '\0' || r->size < 0)
			return early(r, c, MHD_HTTP_BAD_REQUEST, "Bad Content-Length.\n");
	}
	if (rc == 0 && (r->size == 0 || (cl == NULL && te == NULL)))
		return early(r, c, MHD_HTTP_LENGTH_REQUIRED,
			     "Empty value: a PUT needs a body (the value to store).\n");
	if (rc == 0 && r->size > 0 && r->size <= SMALL)
		return small_start(r, c);
	r->buf = rc == 0 ? malloc(RING) : NULL;
	if (rc == 0 && r->buf == NULL)
		rc = kv_err_set(&err, -ENOMEM, "out of memory");
	auth_owner(&r->who, &owner);
	if (rc == 0)
		rc = kv_put_begin(r->h->s, r->key, r->klen, r->size, KV_PUT_EXCL, &owner, &p,
				  &err);
	if (rc < 0) {
		unsigned status = http_failure(r, rc, &err, text, sizeof(text), &len);

		return http_respond(r, c, status, "text/plain; charset=utf-8", text, len, NULL);
	}
	r->cap = RING;
	r->worker = 1;
	submit(r, JOB_STREAM, p);
	return MHD_YES;
}

/* A piece of the body (*size > 0), or its end (*size == 0). Connection's thread. */
enum MHD_Result writes_put_data(struct req *r, struct MHD_Connection *c, const char *data,
				size_t *size)
{
	size_t n, room, at;

	if (r->small)
		return small_data(r, c, data, size);
	pthread_mutex_lock(&r->lock);
	if (r->done) {
		pthread_mutex_unlock(&r->lock);
		if (*size > 0) {	/* it failed: the rest of the body is not needed */
			*size = 0;
			return MHD_YES;
		}
		return answer(r, c);
	}
	if (*size == 0) {
		r->eof = 1;
		pthread_cond_signal(&r->more);
		suspend(r);	/* until the answer is ready */
		pthread_mutex_unlock(&r->lock);
		return MHD_YES;
	}
	if (r->echo_len < ECHO_MAX) {
		n = *size < ECHO_MAX - r->echo_len ? *size : ECHO_MAX - r->echo_len;
		memcpy(r->echo + r->echo_len, data, n);
		r->echo_len += n;
	}
	for (room = r->cap - r->len; room > 0 && *size > 0; room = r->cap - r->len) {
		at = (r->head + r->len) % r->cap;
		n = r->cap - at < room ? r->cap - at : room;
		if (n > *size)
			n = *size;
		memcpy(r->buf + at, data, n);
		r->len += n;
		r->received += n;
		data += n;
		*size -= n;
	}
	pthread_cond_signal(&r->more);
	if (*size > 0)
		suspend(r);	/* the ring is full: until the worker makes room */
	pthread_mutex_unlock(&r->lock);
	return MHD_YES;
}

/* May the caller delete r->key? A key that is not there is the worker's to answer (404).
 * The record can change between this check and the worker's delete (a chmod, a chown, or
 * a delete and a new value through the mount in that moment): kv_store_delete takes no
 * expected generation, so such a change counts from the next request. */
static int delete_allowed(struct req *r, struct kv_err *err)
{
	struct kv_record rec;
	int rc = auth_may(&r->who, r->h->s, AUTH_DELETE, r->key, r->klen, err);

	if (rc == 0 && kv_store_get(r->h->s, r->key, r->klen, &rec, NULL) == 0)
		rc = auth_may_key(&r->who, AUTH_DELETE, r->key, r->klen, &rec, err);
	return rc;
}

enum MHD_Result writes_delete(struct req *r, struct MHD_Connection *c, const char *url)
{
	char text[KV_ERR_MSG_MAX + 2 * KV_KEY_MAX + 256];
	struct kv_err err;
	size_t len;
	int rc, started;

	pthread_mutex_lock(&r->lock);
	if (r->done) {
		pthread_mutex_unlock(&r->lock);
		return answer(r, c);
	}
	started = r->worker;
	if (!started) {
		rc = http_parse_key(r, url, &err);
		if (rc < 0) {
			pthread_mutex_unlock(&r->lock);
			len = 0;
			return http_respond(r, c, http_failure(r, rc, &err, text, sizeof(text), &len),
					    "text/plain; charset=utf-8", text, len, NULL);
		}
		if ((rc = delete_allowed(r, &err)) < 0) {
			pthread_mutex_unlock(&r->lock);
			return http_deny(r, c, rc, &err);
		}
		r->worker = 1;
	}
	suspend(r);
	pthread_mutex_unlock(&r->lock);
	if (!started)
		submit(r, JOB_DELETE, NULL);
	return MHD_YES;
}

int writes_release(struct req *r)
{
	int worker;

	pthread_mutex_lock(&r->lock);
	worker = r->worker;
	if (worker) {
		r->gone = 1;
		pthread_cond_signal(&r->more);
	}
	pthread_mutex_unlock(&r->lock);
	return !worker;
}
