/* prefetch.c — a sliding window over a value, filled by a streamed GET.
 *
 * The window holds file bytes [ring.start, ring.end) in a ring (core/ring.h), its
 * positions the file's offsets. The fetching thread appends while
 * there is room and waits on `room` otherwise; a reader takes from the window, waiting on
 * `data` for bytes not yet arrived, and slides `start` forward (keeping the last KEEP bytes,
 * for reads the kernel sends a little out of order). lock guards all of it; the GET runs
 * in the thread, outside the lock, handing bytes over through the sink.
 */
#include "prefetch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

#define WINDOW (8 << 20)
#define KEEP (1 << 20)	/* behind the last read, for reads that come late */
#define AHEAD (4 << 20) /* a read this far past what arrived waits for it */

struct prefetch {
	struct kv_store *s;
	char key[KV_KEY_MAX + 1];
	size_t klen;
	struct kv_record rec;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t data, room;
	struct kv_ring ring; /* file offsets [start, end) */
	int64_t need;	     /* a reader waits until ring.end reaches this (0: none) */
	int full;	     /* the fetch waits for room */
	int done, stop, rc;
	struct kv_err err;
};

static int sink(const void *buf, size_t len, void *arg)
{
	struct prefetch *p = arg;
	const char *b = buf;

	pthread_mutex_lock(&p->lock);
	while (len > 0 && !p->stop) {
		size_t n = kv_ring_append(&p->ring, b, len);

		if (n == 0) {
			p->full = 1;
			pthread_cond_wait(&p->room, &p->lock);
			p->full = 0;
			continue;
		}
		b += n;
		len -= n;
		/* Wake a reader only once what it waits for is here: a wake-up per piece
		 * costs more than the copy on a paravirtualised kernel. */
		if (p->need > 0 && (int64_t)p->ring.end >= p->need)
			pthread_cond_signal(&p->data);
	}
	pthread_mutex_unlock(&p->lock);
	return p->stop ? -ECANCELED : 0;
}

static void *fetch(void *arg)
{
	struct prefetch *p = arg;
	struct kv_err err;
	int rc = kv_store_read_stream(p->s, p->key, p->klen, &p->rec, (int64_t)p->ring.end, sink, p,
				      &err);

	pthread_mutex_lock(&p->lock);
	p->done = 1;
	p->rc = rc;
	if (rc < 0)
		p->err = err;
	pthread_cond_broadcast(&p->data);
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int prefetch_start(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		   int64_t off, struct prefetch **out, struct kv_err *err)
{
	struct prefetch *p = calloc(1, sizeof(*p));
	char *buf = malloc(WINDOW);

	*out = NULL;
	if (p == NULL || buf == NULL) {
		free(buf);
		free(p);
		return kv_err_set(err, -ENOMEM, "out of memory");
	}
	kv_ring_init(&p->ring, buf, WINDOW, (uint64_t)off);
	p->s = s;
	memcpy(p->key, key, klen);
	p->klen = klen;
	p->rec = *rec;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->data, NULL);
	pthread_cond_init(&p->room, NULL);
	if (pthread_create(&p->thread, NULL, fetch, p) != 0) {
		pthread_cond_destroy(&p->room);
		pthread_cond_destroy(&p->data);
		pthread_mutex_destroy(&p->lock);
		free(p->ring.buf);
		free(p);
		return kv_err_set(err, -EAGAIN, "cannot start a read-ahead thread");
	}
	*out = p;
	return 0;
}

int prefetch_read(struct prefetch *p, int64_t off, char *buf, size_t len, size_t *got,
		  struct kv_err *err)
{
	int64_t end = (int64_t)p->rec.size, want, start, filled;
	int rc = 0;

	*got = 0;
	if (off >= end)
		return 0;
	want = off + (int64_t)len < end ? off + (int64_t)len : end;
	pthread_mutex_lock(&p->lock);
	start = (int64_t)p->ring.start;
	filled = (int64_t)p->ring.end;
	if (off < start || off > filled + AHEAD) {
		pthread_mutex_unlock(&p->lock);
		return -ESPIPE;
	}
	/* Reading ahead of what was kept: let the window slide so the fetch can get there. */
	if (off - KEEP > start) {
		kv_ring_drop(&p->ring, (uint64_t)(off - KEEP < filled ? off - KEEP : filled));
		if (p->full && kv_ring_room(&p->ring) >= WINDOW / 4)
			pthread_cond_signal(&p->room);
	}
	while ((int64_t)p->ring.end < want && !p->done) {
		p->need = want;
		pthread_cond_wait(&p->data, &p->lock);
	}
	p->need = 0;
	filled = (int64_t)p->ring.end;
	if (filled < want && p->rc < 0) {
		rc = p->rc;
		*err = p->err;
	} else if (off < filled) {
		*got = kv_ring_copy(&p->ring, (uint64_t)off, buf, (size_t)(want - off));
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void prefetch_free(struct prefetch *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->room);
	pthread_mutex_unlock(&p->lock);
	(void)pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->data);
	pthread_mutex_destroy(&p->lock);
	free(p->ring.buf);
	free(p);
}
