/* writes.c — PUT and DELETE, whose work waits on shards, run on worker threads so that
 * libmicrohttpd's few event-loop threads never block and keep serving GETs.
 *
 * No client can hold the store (DESIGN §7): the loop threads hand work over with
 * kv_pool_try_submit (req_hand_over, req.c) and never wait for a worker; a new write
 * that finds no free worker is answered 503 with Retry-After at once. A request holds a
 * worker only while its bytes flow: the loop thread receives the body into the request's
 * ring (core/ring.h), and a worker is given the request when the ring holds bytes; it
 * takes them to the shards (the first piece begins the put: the key's lock, recovery of a dead
 * writer's intent, the uploads) and, once the ring is empty, lets go of the request
 * again ("parks" it, the uploads paused) until more bytes come. A body that stops
 * arriving is cut off by the connection's timeout, body_timeout while the body is due; a
 * parked put whose connection ended (cut off, closed, or the server stopping) is undone
 * by the reaper, a thread of its own that never takes new work, so that cleaning up
 * needs no free worker.
 *
 * The ring holds 128 KiB, 1 MiB for a body over 1 MiB or of unknown length (chunked).
 * A small PUT (a Content-Length up to SMALL) is collected on the loop thread and handed
 * to a worker whole. At the end of the body the connection is suspended until the
 * worker has committed and written the answer; resumed, the loop thread sends it. While
 * a worker streams, a full ring suspends the connection until the worker has made room.
 * A DELETE suspends its connection and runs whole on a worker.
 *
 * Concurrency: r->lock guards the ring, the flags, r->put and the answer. The loop thread
 * suspends only while holding r->lock and only while a worker holds the request; a worker
 * reads `suspended` under the lock and resumes after releasing it, so a resume can never
 * come before its suspend. A suspended connection cannot end, so resuming is safe; if
 * the connection ended while a worker (or the reaper) held the request (`gone`), that
 * thread frees it. h->busy counts the requests a worker or the reaper holds: what a
 * graceful stop waits for.
 */
#include "writes.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "answer.h"
#include "json.h"
#include "req.h"

#define RING (128 * 1024)
#define SMALL (64 * 1024) /* bodies up to this are collected, then written at once */
/* A body over BIG (or of unknown length) streams through a ring of BIG_RING: its worker
 * then takes pieces of about 340 KiB instead of 50 KiB, a seventh of the hand-overs
 * between the loop thread, the worker and the hasher (a 64 MiB PUT: 0.19 s -> 0.17 s). */
#define BIG (1024 * 1024)
#define BIG_RING (1024 * 1024)
#define LINGER_MS 5 /* a streaming worker waits this long for the next piece */

#define BUSY_TEXT "Service unavailable: every worker is busy; try again shortly.\n"

/* The worker is done with r: hand over the answer (text, malloc'd; may be NULL). */
static void finish(struct req *r, unsigned status, char *text, size_t len)
{
	req_finish(r, status, NULL, text, len);
}

static void finish_text(struct req *r, unsigned status, const char *msg)
{
	char *t = strdup(msg);

	finish(r, status, t, t != NULL ? strlen(t) : 0);
}

static void finish_failure(struct req *r, int rc, const struct kv_err *err)
{
	char text[ANSWER_MAX];
	size_t len;
	unsigned status = answer_failure(r, rc, err, text, sizeof(text), &len);

	finish(r, status, strndup(text, len), len);
}

/* Answer on the loop thread without a worker (the pool is full). Caller holds r->lock. */
static void refuse_locked(struct req *r, unsigned status, const char *msg)
{
	r->answer_status = status;
	r->answer = strdup(msg);
	r->answer_len = r->answer != NULL ? strlen(r->answer) : 0;
	r->done = 1;
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
		finish_text(r, MHD_HTTP_SERVICE_UNAVAILABLE,
			    "Service unavailable: out of memory\n");
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

/* The request ends without a value: undo the put (if begun) and answer status with msg,
 * or nothing (status 0: the client is gone). */
static void put_cancel(struct req *r, unsigned status, const char *msg)
{
	kv_put_free(r->put); /* the partial value goes */
	r->put = NULL;
	if (status == 0)
		finish(r, 0, NULL, 0);
	else
		finish_text(r, status, msg);
}

/* A body that flows fast comes in pieces a moment apart: wait that moment (LINGER_MS)
 * for the next one rather than hand the request back and forth; one that trickles is
 * let go. Caller holds r->lock. Returns whether bytes (or the end, or a reason to stop)
 * came. */
static int linger(struct req *r)
{
	struct timespec until;

	(void)clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += LINGER_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (kv_ring_len(&r->body) == 0 && !r->eof && !r->gone && !r->cancel)
		if (pthread_cond_timedwait(&r->more, &r->lock, &until) != 0)
			break;
	return kv_ring_len(&r->body) > 0 || r->eof || r->gone || r->cancel;
}

/* The worker's side of a streamed PUT: take what the ring holds to the shards; at the
 * end of the body commit; when the ring is empty before that, let go of the request. */
static void put_work(struct req *r)
{
	struct kv_meta owner;
	struct kv_err err;
	int rc = 0;

	for (;;) {
		const char *piece;
		size_t n;

		pthread_mutex_lock(&r->lock);
		if (r->gone || r->cancel) {
			unsigned status = r->gone ? 0 : r->cancel;

			pthread_mutex_unlock(&r->lock);
			put_cancel(r, status, r->cancel_text);
			return;
		}
		if (kv_ring_len(&r->body) == 0 && !r->eof && !linger(r)) {
			req_let_go(r); /* parked: the next bytes hand it to a worker again */
			pthread_mutex_unlock(&r->lock);
			return;
		}
		if (r->gone || r->cancel) {
			pthread_mutex_unlock(&r->lock);
			continue; /* the top handles it */
		}
		if (kv_ring_len(&r->body) == 0)
			break; /* with the lock held */
		piece = kv_ring_span(&r->body, r->body.start, &n);
		pthread_mutex_unlock(&r->lock);
		/* The loop thread only appends outside the span. */
		if (r->put == NULL) {
			auth_owner(&r->who, &owner);
			rc = kv_put_begin(r->h->s, r->key, r->klen, r->size, KV_PUT_EXCL, &owner,
					  &r->put, &err);
		}
		if (rc == 0)
			rc = kv_put_write(r->put, piece, n, &err);
		pthread_mutex_lock(&r->lock);
		kv_ring_drop(&r->body, r->body.start + n);
		if (rc < 0)
			break; /* with the lock held */
		req_unlock_and_wake(r);
	}
	pthread_mutex_unlock(&r->lock);
	if (rc < 0) {
		/* Undo before answering: once the client reads 503 the key is free again. */
		kv_put_free(r->put);
		r->put = NULL;
		finish_failure(r, rc, &err);
		return;
	}
	if (r->received == 0 || r->put == NULL) {
		put_cancel(r, MHD_HTTP_LENGTH_REQUIRED,
			   "Empty value: a PUT needs a body (the value to store).\n");
		return;
	}
	{
		struct kv_put *p = r->put;

		r->put = NULL;
		put_finish(r, p, 0, &err);
	}
}

enum job_kind { JOB_STREAM, JOB_SMALL, JOB_DELETE };

struct job {
	struct req *r;
	enum job_kind kind;
};

/* A whole small body in r->body (from position 0, never wrapped): lock the key, write,
 * commit. */
static void small_work(struct req *r)
{
	struct kv_put *p = NULL;
	struct kv_meta owner;
	struct kv_err err;
	size_t len = kv_ring_len(&r->body);
	int rc;

	auth_owner(&r->who, &owner);
	rc = kv_put_begin(r->h->s, r->key, r->klen, (int64_t)len, KV_PUT_EXCL, &owner, &p, &err);
	if (rc == 0)
		rc = kv_put_write(p, r->body.buf, len, &err);
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

/* Has the client gone while the job waited in the queue? Then nobody is left to answer. */
static int gone_before_start(struct req *r)
{
	int gone;

	pthread_mutex_lock(&r->lock);
	gone = r->gone;
	pthread_mutex_unlock(&r->lock);
	return gone;
}

/* A worker: item is a struct job, whose request the worker holds (req_hold). */
static void work(void *item, void *arg)
{
	const struct job *j = item;

	(void)arg;
	if (j->kind != JOB_STREAM && gone_before_start(j->r))
		finish(j->r, 0, NULL, 0);
	else if (j->kind == JOB_STREAM)
		put_work(j->r);
	else if (j->kind == JOB_SMALL)
		small_work(j->r);
	else
		delete_work(j->r);
}

static int submit(struct req *r, enum job_kind kind)
{
	struct job j = { r, kind };

	return req_hand_over(r, r->h->workers, &j, sizeof(j));
}

/* --- the reaper: undoes puts whose connection ended while no worker held them --- */

static void *reaper(void *arg)
{
	struct http_server *h = arg;
	struct req *r;

	pthread_mutex_lock(&h->reap_lock);
	for (;;) {
		while (h->reap_list == NULL && !h->reap_stop)
			pthread_cond_wait(&h->reap_more, &h->reap_lock);
		if ((r = h->reap_list) == NULL)
			break;
		h->reap_list = r->reap_next;
		pthread_mutex_unlock(&h->reap_lock);
		put_cancel(r, r->cancel, r->cancel_text); /* 0 when only gone */
		pthread_mutex_lock(&h->reap_lock);
	}
	pthread_mutex_unlock(&h->reap_lock);
	return NULL;
}

/* Give r (held by no worker, r->put begun; r->cancel says what to answer, 0 when r is
 * gone) to the reaper. Caller holds r->lock. */
static void reap(struct req *r)
{
	struct http_server *h = r->h;

	req_hold(r);
	pthread_mutex_lock(&h->reap_lock);
	r->reap_next = h->reap_list;
	h->reap_list = r;
	pthread_cond_signal(&h->reap_more);
	pthread_mutex_unlock(&h->reap_lock);
}

int writes_init(struct http_server *h, int nworkers)
{
	h->workers = kv_pool_new(nworkers, sizeof(struct job), work, h);
	if (h->workers == NULL)
		return -EAGAIN;
	pthread_mutex_init(&h->reap_lock, NULL);
	pthread_cond_init(&h->reap_more, NULL);
	if (pthread_create(&h->reaper, NULL, reaper, h) != 0) {
		pthread_cond_destroy(&h->reap_more);
		pthread_mutex_destroy(&h->reap_lock);
		kv_pool_finish(h->workers);
		return -EAGAIN;
	}
	return 0;
}

void writes_fini(struct http_server *h)
{
	kv_pool_finish(h->workers);
	pthread_mutex_lock(&h->reap_lock);
	h->reap_stop = 1;
	pthread_cond_signal(&h->reap_more);
	pthread_mutex_unlock(&h->reap_lock);
	(void)pthread_join(h->reaper, NULL);
	pthread_cond_destroy(&h->reap_more);
	pthread_mutex_destroy(&h->reap_lock);
}

/* --- the loop thread's side --- */

/* New work is refused at once, before any byte of its body, when every worker is taken
 * and as many jobs again wait for one: saturated, not just busy for a moment. */
static int saturated(struct http_server *h)
{
	return kv_pool_backlog(h->workers) >= kv_pool_threads(h->workers);
}

/* Answer "exists" at once if the index can tell (an index read: the worker checks again
 * under the key's lock), before the client sends its body in vain. */
static int exists_answered(struct req *r, struct MHD_Connection *c, enum MHD_Result *ok)
{
	struct kv_record rec;
	struct kv_err err;

	if (kv_store_get(r->h->s, r->key, r->klen, &rec, &err) != 0)
		return 0;
	*ok = answer_fail(r, c, -EEXIST, &err);
	return 1;
}

/* A small body: collect it. */
static enum MHD_Result small_start(struct req *r, struct MHD_Connection *c)
{
	char *buf = malloc((size_t)r->size);

	r->small = 1;
	kv_ring_init(&r->body, buf, buf != NULL ? (size_t)r->size : 0, 0);
	if (buf == NULL)
		return answer_plain(r, c, MHD_HTTP_SERVICE_UNAVAILABLE,
				    "Service unavailable: out of memory\n");
	return MHD_YES;
}

/* The body is complete: from now on the connection's idle timeout counts again. */
static void body_ended(struct req *r, struct MHD_Connection *c)
{
	if (!r->body_ended) {
		r->body_ended = 1;
		(void)MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
						(unsigned)r->h->idle_timeout);
	}
}

/* Collect a small body; at its end hand it to a worker. */
static enum MHD_Result small_data(struct req *r, struct MHD_Connection *c, const char *data,
				  size_t *size)
{
	if (*size > 0) {
		size_t len;

		atomic_fetch_add(&r->h->body_bytes, *size);
		(void)kv_ring_append(&r->body, data, *size); /* past Content-Length: dropped */
		len = kv_ring_len(&r->body);
		r->received = len;
		r->echo_len = len < ECHO_MAX ? len : ECHO_MAX;
		memcpy(r->echo, r->body.buf, r->echo_len);
		*size = 0;
		return MHD_YES;
	}
	body_ended(r, c);
	pthread_mutex_lock(&r->lock);
	if (!r->done && !r->worker && submit(r, JOB_SMALL) < 0)
		refuse_locked(r, MHD_HTTP_SERVICE_UNAVAILABLE, BUSY_TEXT);
	if (r->done) {
		pthread_mutex_unlock(&r->lock);
		return req_answer(r, c);
	}
	req_suspend(r);
	pthread_mutex_unlock(&r->lock);
	return MHD_YES;
}

/* How many Content-Length fields, and are they all the same? */
struct cl_count {
	int n, differ;
	const char *first;
};

static enum MHD_Result count_cl(void *cls, enum MHD_ValueKind kind, const char *key,
				const char *value)
{
	struct cl_count *cc = cls;

	(void)kind;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) != 0)
		return MHD_YES;
	if (cc->n++ == 0)
		cc->first = value;
	else if (value == NULL || cc->first == NULL || strcmp(value, cc->first) != 0)
		cc->differ = 1;
	return MHD_YES;
}

/* RFC 9112 §6: a message with both, with two different lengths, with a transfer coding
 * other than chunked, or with a length that is not a number is refused: whoever relays
 * it could read another body than we do (request smuggling). */
int writes_body_length(struct MHD_Connection *c, int64_t *size, const char **why)
{
	const char *te =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	struct cl_count cc = { 0, 0, NULL };
	char *end;

	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_cl, &cc);
	*size = -1;
	*why = NULL;
	if (te != NULL && cc.n > 0) {
		*why = "Bad request: Content-Length and Transfer-Encoding together "
		       "(RFC 9112 section 6.3).\n";
		return -EINVAL;
	}
	if (te != NULL && strcasecmp(te, "chunked") != 0) {
		*why = "Transfer-Encoding other than chunked is not supported.\n";
		return -ENOSYS;
	}
	if (cc.differ) {
		*why = "Bad request: more than one Content-Length.\n";
		return -EINVAL;
	}
	if (cc.n == 0)
		return te != NULL ? 0 : -ENODATA;
	errno = 0;
	*size = strtoll(cc.first, &end, 10);
	if (errno != 0 || end == cc.first || *end != '\0' || *size < 0 || cc.first[0] == '+' ||
	    cc.first[0] == ' ') {
		*why = "Bad Content-Length.\n";
		return -EINVAL;
	}
	return 0;
}

/* A big ring is mapped apart, so that its memory goes back to the system when the put
 * ends (req_free): from an arena, glibc would keep it (after three 64 MiB PUTs, 2.7 MiB
 * more resident than with the 128 KiB ring). NULL when memory is short. */
static char *map_ring(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

enum MHD_Result writes_put_start(struct req *r, struct MHD_Connection *c, const char *url)
{
	char text[ANSWER_MAX];
	struct kv_err err;
	enum MHD_Result ok;
	const char *why;
	size_t cap;
	char *buf;
	int rc = req_parse_key(r, url, &err);

	if (rc == 0 && (rc = auth_may(&r->who, r->h->s, AUTH_PUT, r->key, r->klen, &err)) < 0)
		return answer_deny(r, c, rc, &err);
	if (rc < 0)
		return answer_fail(r, c, rc, &err);
	rc = writes_body_length(c, &r->size, &why);
	if (rc == -ENODATA || (rc == 0 && r->size == 0))
		return answer_plain(r, c, MHD_HTTP_LENGTH_REQUIRED,
				    "Empty value: a PUT needs a body (the value to store).\n");
	if (rc < 0)
		return answer_plain(r, c,
				    rc == -ENOSYS ? MHD_HTTP_NOT_IMPLEMENTED : MHD_HTTP_BAD_REQUEST,
				    why);
	if (r->size > 0 && (uint64_t)r->size > r->h->max_value_size) {
		(void)snprintf(text, sizeof(text),
			       "Value too large: %lld bytes; this server "
			       "takes values up to %llu bytes (max_value_size).\n",
			       (long long)r->size, (unsigned long long)r->h->max_value_size);
		return answer_plain(r, c, MHD_HTTP_CONTENT_TOO_LARGE, text);
	}
	if (exists_answered(r, c, &ok))
		return ok;
	if (saturated(r->h))
		return answer_plain(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, BUSY_TEXT);
	(void)MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT,
					(unsigned)r->h->body_timeout);
	if (r->size > 0 && r->size <= SMALL)
		return small_start(r, c);
	cap = r->size >= 0 && r->size <= BIG ? RING : BIG_RING;
	buf = cap == BIG_RING ? map_ring(cap) : malloc(cap);
	kv_ring_init(&r->body, buf, buf != NULL ? cap : 0, 0);
	r->buf_mapped = buf != NULL && cap == BIG_RING;
	if (buf == NULL)
		return answer_plain(r, c, MHD_HTTP_SERVICE_UNAVAILABLE,
				    "Service unavailable: out of memory\n");
	return MHD_YES;
}

/* The body grew past max_value_size (chunked: its length was not known). Caller holds
 * r->lock. */
static void too_large_locked(struct req *r)
{
	r->cancel = MHD_HTTP_CONTENT_TOO_LARGE;
	(void)snprintf(r->cancel_text, sizeof(r->cancel_text),
		       "Value too large: this server "
		       "takes values up to %llu bytes (max_value_size).\n",
		       (unsigned long long)r->h->max_value_size);
	if (r->worker)
		return; /* it sees cancel */
	if (r->put != NULL)
		reap(r); /* the reaper answers... */
	else
		refuse_locked(r, r->cancel, r->cancel_text);
}

/* No worker could be had mid-body: the put is given up with 503. Caller holds r->lock. */
static void busy_locked(struct req *r)
{
	r->cancel = MHD_HTTP_SERVICE_UNAVAILABLE;
	(void)snprintf(r->cancel_text, sizeof(r->cancel_text), "%s", BUSY_TEXT);
}

/* A piece of the body (*size > 0), or its end (*size == 0). Loop thread. */
enum MHD_Result writes_put_data(struct req *r, struct MHD_Connection *c, const char *data,
				size_t *size)
{
	size_t n;

	if (r->small)
		return small_data(r, c, data, size);
	if (*size == 0)
		body_ended(r, c);
	else
		atomic_fetch_add(&r->h->body_bytes, *size);
	pthread_mutex_lock(&r->lock);
	if (r->done || r->cancel) {
		int done = r->done;

		pthread_mutex_unlock(&r->lock);
		if (*size > 0) { /* it failed: the rest of the body is not needed */
			*size = 0;
			return MHD_YES;
		}
		if (done)
			return req_answer(r, c);
		pthread_mutex_lock(&r->lock);
		if (!r->done)
			req_suspend(r); /* until the worker has undone the put */
		done = r->done;
		pthread_mutex_unlock(&r->lock);
		return done ? req_answer(r, c) : MHD_YES;
	}
	if (*size == 0) {
		r->eof = 1;
		if (!r->worker && submit(r, JOB_STREAM) < 0) {
			busy_locked(r);
			if (r->put != NULL) {
				reap(r); /* it undoes the put, then answers 503 */
			} else {
				refuse_locked(r, MHD_HTTP_SERVICE_UNAVAILABLE, BUSY_TEXT);
				pthread_mutex_unlock(&r->lock);
				return req_answer(r, c);
			}
		}
		pthread_cond_signal(&r->more);
		req_suspend(r); /* until the answer is ready */
		pthread_mutex_unlock(&r->lock);
		return MHD_YES;
	}
	if (r->received + *size > r->h->max_value_size) {
		too_large_locked(r);
		*size = 0;
		pthread_mutex_unlock(&r->lock);
		return MHD_YES;
	}
	if (r->echo_len < ECHO_MAX) {
		n = *size < ECHO_MAX - r->echo_len ? *size : ECHO_MAX - r->echo_len;
		memcpy(r->echo + r->echo_len, data, n);
		r->echo_len += n;
	}
	n = kv_ring_append(&r->body, data, *size);
	r->received += n;
	*size -= n;
	if (!r->worker && submit(r, JOB_STREAM) < 0) {
		/* Mid-body and every queue slot taken: give up on this one. */
		busy_locked(r);
		*size = 0;
		if (r->put != NULL)
			reap(r);
		else
			refuse_locked(r, r->cancel, r->cancel_text);
		pthread_mutex_unlock(&r->lock);
		return MHD_YES;
	}
	pthread_cond_signal(&r->more);
	if (*size > 0)
		req_suspend(r); /* the ring is full: until the worker makes room */
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
	struct kv_err err;
	int rc;

	pthread_mutex_lock(&r->lock);
	if (r->done) {
		pthread_mutex_unlock(&r->lock);
		return req_answer(r, c);
	}
	if (!r->worker) {
		rc = req_parse_key(r, url, &err);
		if (rc < 0) {
			pthread_mutex_unlock(&r->lock);
			return answer_fail(r, c, rc, &err);
		}
		if ((rc = delete_allowed(r, &err)) < 0) {
			pthread_mutex_unlock(&r->lock);
			return answer_deny(r, c, rc, &err);
		}
		if (saturated(r->h) || submit(r, JOB_DELETE) < 0) {
			pthread_mutex_unlock(&r->lock);
			return answer_plain(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, BUSY_TEXT);
		}
	}
	req_suspend(r);
	pthread_mutex_unlock(&r->lock);
	return MHD_YES;
}

int writes_release(struct req *r)
{
	int mine;

	pthread_mutex_lock(&r->lock);
	r->gone = 1;
	if (r->worker)
		pthread_cond_signal(&r->more);
	else if (r->put != NULL)
		reap(r); /* parked: the reaper undoes the put, then frees r */
	mine = !r->worker;
	pthread_mutex_unlock(&r->lock);
	return mine;
}
