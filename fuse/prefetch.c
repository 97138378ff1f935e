/* prefetch.c — a sliding window over a value, filled by a streamed GET.
 *
 * The window holds file bytes [start, filled) in a ring. The fetching thread appends while
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
	char *ring;
	int64_t start, filled; /* file offsets; filled - start <= WINDOW */
	int64_t need;	       /* a reader waits until filled reaches this (0: none) */
	int full;	       /* the fetch waits for room */
	int done, stop, rc;
	struct kv_err err;
};

static int sink(const void *buf, size_t len, void *arg)
{
	struct prefetch *p = arg;
	const char *b = buf;

	pthread_mutex_lock(&p->lock);
	while (len > 0 && !p->stop) {
		size_t room = WINDOW - (size_t)(p->filled - p->start), at, n;

		if (room == 0) {
			p->full = 1;
			pthread_cond_wait(&p->room, &p->lock);
			p->full = 0;
			continue;
		}
		at = (size_t)(p->filled % WINDOW);
		n = WINDOW - at < room ? WINDOW - at : room;
		if (n > len)
			n = len;
		memcpy(p->ring + at, b, n);
		p->filled += (int64_t)n;
		b += n;
		len -= n;
		/* Wake a reader only once what it waits for is here: a wake-up per piece
		 * costs more than the copy on a paravirtualised kernel. */
		if (p->need > 0 && p->filled >= p->need)
			pthread_cond_signal(&p->data);
	}
	pthread_mutex_unlock(&p->lock);
	return p->stop ? -ECANCELED : 0;
}

static void *fetch(void *arg)
{
	struct prefetch *p = arg;
	struct kv_err err;
	int rc = kv_store_read_stream(p->s, p->key, p->klen, &p->rec, p->filled, sink, p, &err);

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

	*out = NULL;
	if (p == NULL || (p->ring = malloc(WINDOW)) == NULL) {
		free(p);
		return kv_err_set(err, -ENOMEM, "out of memory");
	}
	p->s = s;
	memcpy(p->key, key, klen);
	p->klen = klen;
	p->rec = *rec;
	p->start = p->filled = off;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->data, NULL);
	pthread_cond_init(&p->room, NULL);
	if (pthread_create(&p->thread, NULL, fetch, p) != 0) {
		pthread_cond_destroy(&p->room);
		pthread_cond_destroy(&p->data);
		pthread_mutex_destroy(&p->lock);
		free(p->ring);
		free(p);
		return kv_err_set(err, -EAGAIN, "cannot start a read-ahead thread");
	}
	*out = p;
	return 0;
}

int prefetch_read(struct prefetch *p, int64_t off, char *buf, size_t len, size_t *got,
		  struct kv_err *err)
{
	int64_t end = (int64_t)p->rec.size, want;
	size_t n = 0;
	int rc = 0;

	*got = 0;
	if (off >= end)
		return 0;
	want = off + (int64_t)len < end ? off + (int64_t)len : end;
	pthread_mutex_lock(&p->lock);
	if (off < p->start || off > p->filled + AHEAD) {
		pthread_mutex_unlock(&p->lock);
		return -ESPIPE;
	}
	/* Reading ahead of what was kept: let the window slide so the fetch can get there. */
	if (off - KEEP > p->start) {
		p->start = off - KEEP;
		if (p->full && WINDOW - (size_t)(p->filled - p->start) >= WINDOW / 4)
			pthread_cond_signal(&p->room);
	}
	while (p->filled < want && !p->done) {
		p->need = want;
		pthread_cond_wait(&p->data, &p->lock);
	}
	p->need = 0;
	if (p->filled < want && p->rc < 0) {
		rc = p->rc;
		*err = p->err;
	} else {
		int64_t upto = p->filled < want ? p->filled : want, at;

		while (off + (int64_t)n < upto) {
			size_t chunk;

			at = (off + (int64_t)n) % WINDOW;
			chunk = (size_t)(WINDOW - at);
			if ((int64_t)chunk > upto - off - (int64_t)n)
				chunk = (size_t)(upto - off - (int64_t)n);
			memcpy(buf + n, p->ring + at, chunk);
			n += chunk;
		}
		*got = n;
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
	free(p->ring);
	free(p);
}
