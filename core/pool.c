/* pool.c — workers and a bounded ring of items.
 *
 * Concurrency: lock guards the ring, the counters and `closing`; not_empty wakes workers,
 * not_full wakes the submitter. A worker runs fn without the lock.
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define ITEM_MAX 1024

struct item {
	size_t len;
	char data[ITEM_MAX];
};

struct kv_pool {
	pthread_mutex_t lock;
	pthread_cond_t not_empty, not_full;
	struct item *ring;
	size_t cap, head, count;
	int closing;
	int nthreads, idle;	/* idle: threads waiting for an item */
	pthread_t *threads;
	kv_pool_fn fn;
	void *arg;
};

static void *worker(void *arg)
{
	struct kv_pool *p = arg;
	struct item *it = malloc(sizeof(*it));

	if (it == NULL)
		return NULL;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		p->idle++;
		while (p->count == 0 && !p->closing)
			pthread_cond_wait(&p->not_empty, &p->lock);
		p->idle--;
		if (p->count == 0)
			break;
		*it = p->ring[p->head];
		p->head = (p->head + 1) % p->cap;
		p->count--;
		pthread_cond_signal(&p->not_full);
		pthread_mutex_unlock(&p->lock);
		p->fn(it->data, it->len, p->arg);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	free(it);
	return NULL;
}

struct kv_pool *kv_pool_new(int jobs, kv_pool_fn fn, void *arg)
{
	struct kv_pool *p = calloc(1, sizeof(*p));
	int i;

	if (p == NULL)
		return NULL;
	if (jobs < 1)
		jobs = 1;
	p->cap = (size_t)jobs * 4;
	p->ring = calloc(p->cap, sizeof(*p->ring));
	p->threads = calloc((size_t)jobs, sizeof(*p->threads));
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->not_empty, NULL);
	pthread_cond_init(&p->not_full, NULL);
	if (p->ring == NULL || p->threads == NULL) {
		kv_pool_finish(p);
		return NULL;
	}
	for (i = 0; i < jobs; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->nthreads++;
	}
	if (p->nthreads == 0) {
		kv_pool_finish(p);
		return NULL;
	}
	return p;
}

/* Caller holds p->lock and has made sure there is room. */
static void put_item(struct kv_pool *p, const char *item, size_t len)
{
	struct item *slot = &p->ring[(p->head + p->count) % p->cap];

	slot->len = len;
	memcpy(slot->data, item, len);
	p->count++;
	pthread_cond_signal(&p->not_empty);
}

int kv_pool_submit(struct kv_pool *p, const char *item, size_t len)
{
	if (len > ITEM_MAX)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	while (p->count == p->cap)
		pthread_cond_wait(&p->not_full, &p->lock);
	put_item(p, item, len);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int kv_pool_try_submit(struct kv_pool *p, const char *item, size_t len)
{
	int rc = 0;

	if (len > ITEM_MAX)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->count == p->cap)
		rc = -EAGAIN;
	else
		put_item(p, item, len);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int kv_pool_backlog(struct kv_pool *p)
{
	int n;

	pthread_mutex_lock(&p->lock);
	n = (int)p->count - p->idle;
	pthread_mutex_unlock(&p->lock);
	return n > 0 ? n : 0;
}

int kv_pool_threads(const struct kv_pool *p)
{
	return p->nthreads;	/* set before kv_pool_new returns, then constant */
}

void kv_pool_finish(struct kv_pool *p)
{
	int i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->closing = 1;
	pthread_cond_broadcast(&p->not_empty);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->nthreads; i++)
		(void)pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->not_full);
	pthread_cond_destroy(&p->not_empty);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->ring);
	free(p);
}
