/* hasher.c — an md5 updated on a thread of its own (hasher.h).
 *
 * A piece is hashed in chunks of CHUNK bytes, in order. The thread claims one chunk at a
 * time; kv_hasher_wait claims all that is left, waits for the chunk under way (if any)
 * and hashes the rest itself. So the md5 sees every byte once and in order, and when the
 * thread gets no core (a busy machine) the caller hashes the piece as if inline instead
 * of sleeping until the thread runs.
 *
 * Concurrency: lock guards piece, len, claimed, hashing, busy and stop. Only one of the
 * two threads updates the md5 at a time: the thread only while `hashing` (a chunk it
 * claimed), the caller only after it has claimed the rest and seen `hashing` clear. The
 * thread's stack is small: md5 needs little, and it allocates nothing.
 */
#include "hasher.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#define STACK_SIZE (128 * 1024)
#define CHUNK (64 * 1024)

struct kv_hasher {
	struct kv_md5 *md5;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	const char *piece;
	size_t len, claimed; /* piece[0..claimed) is hashed or being hashed */
	int hashing;	     /* the thread is hashing a chunk it claimed */
	int busy, stop;
};

/* Is there a chunk of the current piece left to claim? Caller holds h->lock. */
static int chunk_left(const struct kv_hasher *h)
{
	return h->busy && h->claimed < h->len;
}

static void *hash_pieces(void *arg)
{
	struct kv_hasher *h = arg;

	pthread_mutex_lock(&h->lock);
	for (;;) {
		size_t off, n;

		while (!chunk_left(h) && !h->stop)
			pthread_cond_wait(&h->work, &h->lock);
		if (!chunk_left(h))
			break;
		off = h->claimed;
		n = h->len - off < CHUNK ? h->len - off : CHUNK;
		h->claimed += n;
		h->hashing = 1;
		pthread_mutex_unlock(&h->lock);
		kv_md5_update(h->md5, h->piece + off, n);
		pthread_mutex_lock(&h->lock);
		h->hashing = 0;
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
	h->claimed = 0;
	h->busy = 1;
	pthread_cond_signal(&h->work);
	pthread_mutex_unlock(&h->lock);
}

void kv_hasher_wait(struct kv_hasher *h)
{
	size_t off;

	pthread_mutex_lock(&h->lock);
	off = h->claimed;
	h->claimed = h->len; /* the rest is ours: the thread claims no more */
	while (h->hashing)
		pthread_cond_wait(&h->done, &h->lock);
	h->busy = 0;
	pthread_mutex_unlock(&h->lock);
	if (off < h->len)
		kv_md5_update(h->md5, h->piece + off, h->len - off);
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
