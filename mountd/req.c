/* req.c — a request's life: made when its URI is seen, its key parsed, handed to a thread
 * of a pool (a worker, a lister, the reaper) and back with the answer, freed by whichever
 * side lets go of it last.
 *
 * Concurrency: r->lock guards the hand-over (worker, suspended, done, gone, the answer).
 * The loop thread suspends only while holding r->lock and only while a thread of a pool
 * holds the request; that thread reads `suspended` under the lock and resumes after
 * releasing it, so a resume can never come before its suspend (writes.c tells the rest).
 */
#include "req.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "answer.h"

struct req *req_new(struct http_server *h, const char *uri)
{
	struct req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->h = h;
	r->uri = h->quiet ? NULL : strdup(uri); /* for the access log alone */
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->more, NULL);
	return r;
}

void req_free(struct req *r)
{
	pthread_cond_destroy(&r->more);
	pthread_mutex_destroy(&r->lock);
	if (r->buf_mapped)
		(void)munmap(r->body.buf, r->body.cap);
	else
		free(r->body.buf);
	free(r->list);
	free(r->answer);
	free(r->uri);
	free(r);
}

/* The key is the request path after its first '/', percent-decoded. */
int req_parse_key(struct req *r, const char *url, struct kv_err *err)
{
	if (url[0] != '/')
		return kv_err_set(err, -EINVAL, "the request target must start with '/'");
	return kv_key_decode(url + 1, strlen(url + 1), r->key, KV_KEY_MAX, &r->klen, err);
}

void req_suspend(struct req *r)
{
	r->suspended = 1;
	MHD_suspend_connection(r->c);
}

void req_unlock_and_wake(struct req *r)
{
	int resume = r->suspended && !r->gone;

	r->suspended = 0;
	pthread_mutex_unlock(&r->lock);
	if (resume)
		MHD_resume_connection(r->c);
}

void req_hold(struct req *r)
{
	r->worker = 1;
	atomic_fetch_add(&r->h->busy, 1);
}

void req_let_go(struct req *r)
{
	r->worker = 0;
	atomic_fetch_sub(&r->h->busy, 1);
}

void req_finish(struct req *r, unsigned status, const char *type, char *body, size_t len)
{
	int gone;

	pthread_mutex_lock(&r->lock);
	r->answer_status = status;
	r->answer_type = type;
	r->answer = body;
	r->answer_len = len;
	r->done = 1;
	req_let_go(r);
	gone = r->gone;
	req_unlock_and_wake(r);
	if (gone)
		req_free(r);
}

enum MHD_Result req_answer(struct req *r, struct MHD_Connection *c)
{
	enum MHD_Result ok =
		answer_respond(r, c, r->answer_status,
			       r->answer_type != NULL ? r->answer_type :
							"text/plain; charset=utf-8",
			       r->answer != NULL ? r->answer : "", r->answer_len, NULL);

	free(r->answer);
	r->answer = NULL;
	return ok;
}

int req_hand_over(struct req *r, struct kv_pool *pool, const void *item, size_t len)
{
	int rc;

	req_hold(r);
	rc = kv_pool_try_submit(pool, item, len);
	if (rc < 0)
		req_let_go(r);
	return rc;
}
