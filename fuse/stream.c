/* stream.c — a background upload fed through a ring buffer (core/ring.h).
 *
 * Concurrency: lock guards the ring and the flags. The writer copies into the ring and
 * waits on `room` when it is full; the sender thread takes from it, waiting on `data`,
 * and alone uses the put (its curl handles) until stream_finish has joined it — the put
 * is only ever used by one thread at a time.
 */
#include "stream.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define RING (4 << 20)

struct stream {
	struct kv_put *put;
	pthread_t thread;
	int running;
	pthread_mutex_t lock;
	pthread_cond_t data, room;
	struct kv_ring ring;
	int eof;
	int rc; /* the sender's first error */
	struct kv_err err;
};

static void *sender(void *arg)
{
	struct stream *st = arg;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		const char *piece;
		size_t n;
		int rc;

		while (kv_ring_len(&st->ring) == 0 && !st->eof)
			pthread_cond_wait(&st->data, &st->lock);
		if (kv_ring_len(&st->ring) == 0)
			break;
		piece = kv_ring_span(&st->ring, st->ring.start, &n);
		pthread_mutex_unlock(&st->lock);
		/* The writer only appends outside the span. */
		rc = st->rc == 0 ? kv_put_write(st->put, piece, n, &st->err) : 0;
		pthread_mutex_lock(&st->lock);
		if (rc < 0)
			st->rc = rc; /* later bytes are dropped: the upload is lost */
		kv_ring_drop(&st->ring, st->ring.start + n);
		pthread_cond_signal(&st->room);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

int stream_begin(struct kv_store *s, const char *key, size_t klen, const struct kv_meta *meta,
		 struct stream **out, struct kv_err *err)
{
	struct stream *st = calloc(1, sizeof(*st));
	char *buf = malloc(RING);
	int rc;

	*out = NULL;
	if (st == NULL || buf == NULL) {
		free(buf);
		free(st);
		return kv_err_set(err, -ENOMEM, "out of memory");
	}
	kv_ring_init(&st->ring, buf, RING, 0);
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->data, NULL);
	pthread_cond_init(&st->room, NULL);
	rc = kv_put_begin(s, key, klen, -1, 0, meta, &st->put, err);
	if (rc == 0 && pthread_create(&st->thread, NULL, sender, st) != 0)
		rc = kv_err_set(err, -EAGAIN, "cannot start an upload thread");
	if (rc < 0) {
		stream_free(st);
		return rc;
	}
	st->running = 1;
	*out = st;
	return 0;
}

int stream_push(struct stream *st, const void *buf, size_t len, struct kv_err *err)
{
	const char *p = buf;
	int rc;

	pthread_mutex_lock(&st->lock);
	while (len > 0 && st->rc == 0) {
		size_t n = kv_ring_append(&st->ring, p, len);

		if (n == 0) {
			pthread_cond_wait(&st->room, &st->lock);
			continue;
		}
		p += n;
		len -= n;
		pthread_cond_signal(&st->data);
	}
	rc = st->rc;
	if (rc < 0 && err != NULL)
		*err = st->err;
	pthread_mutex_unlock(&st->lock);
	return rc;
}

int stream_finish(struct stream *st, struct kv_err *err)
{
	if (st->running) {
		pthread_mutex_lock(&st->lock);
		st->eof = 1;
		pthread_cond_signal(&st->data);
		pthread_mutex_unlock(&st->lock);
		(void)pthread_join(st->thread, NULL);
		st->running = 0;
	}
	if (st->rc < 0 && err != NULL)
		*err = st->err;
	return st->rc;
}

struct kv_put *stream_put(struct stream *st)
{
	return st->put;
}

void stream_free(struct stream *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	if (st->rc == 0)
		st->rc = -ECANCELED; /* what is still queued need not go */
	pthread_mutex_unlock(&st->lock);
	(void)stream_finish(st, NULL);
	kv_put_free(st->put);
	pthread_cond_destroy(&st->room);
	pthread_cond_destroy(&st->data);
	pthread_mutex_destroy(&st->lock);
	free(st->ring.buf);
	free(st);
}
