/* hasher.c — an md5 updated on a thread of its own (hasher.h).
 *
 * Concurrency: lock guards piece, len, busy and stop. A feed sets the piece and busy and
 * signals `work`; the thread hashes it without the lock (the feeder does not touch the md5
 * or the bytes until it has waited), clears busy and signals `done`. The thread's stack is
 * small: md5 needs little, and it allocates nothing.
 */
#include "hasher.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define STACK_SIZE (128 * 1024)

struct kv_hasher {
	struct kv_md5 *md5;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	const void *piece;
	size_t len;
	int busy, stop;
};

static void *hash_pieces(void *arg)
{
	struct kv_hasher *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		while (!h->busy && !h->stop)
			pthread_cond_wait(&h->work, &h->lock);
		if (!h->busy)
			break;
		pthread_mutex_unlock(&h->lock);
		kv_md5_update(h->md5, h->piece, h->len);
		pthread_mutex_lock(&h->lock);
		h->busy = 0;
		pthread_cond_signal(&h->done);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

int kv_hasher_new(struct kv_md5 *md5, struct kv_hasher **out)
{
	struct kv_hasher *h = calloc(1, sizeof(*h));
	pthread_attr_t attr;
	int rc;

	*out = NULL;
	if (h == NULL)
		return -ENOMEM;
	h->md5 = md5;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->work, NULL);
	pthread_cond_init(&h->done, NULL);
	rc = pthread_attr_init(&attr);
	if (rc == 0) {
		(void)pthread_attr_setstacksize(&attr, STACK_SIZE);
		rc = pthread_create(&h->thread, &attr, hash_pieces, h);
		(void)pthread_attr_destroy(&attr);
	}
	if (rc != 0) {
		pthread_cond_destroy(&h->done);
		pthread_cond_destroy(&h->work);
		pthread_mutex_destroy(&h->lock);
		free(h);
		return -EAGAIN;
	}
	*out = h;
	return 0;
}

void kv_hasher_feed(struct kv_hasher *h, const void *buf, size_t len)
{
	pthread_mutex_lock(&h->lock);
	h->piece = buf;
	h->len = len;
	h->busy = 1;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->lock);
}

void kv_hasher_wait(struct kv_hasher *h)
{
	pthread_mutex_lock(&h->lock);
	while (h->busy)
		pthread_cond_wait(&h->done, &h->lock);
	pthread_mutex_unlock(&h->lock);
}

void kv_hasher_free(struct kv_hasher *h)
{
	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = 1;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->lock);
	(void)pthread_join(h->thread, NULL);
	pthread_cond_destroy(&h->done);
	pthread_cond_destroy(&h->work);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
