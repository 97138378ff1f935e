/* health.c — per-shard "down until" times, and the probe that clears them.
 *
 * Concurrency: each shard's state is one atomic time; readers and writers of it need no
 * lock. The probe thread only reads the shard list (immutable) and the atomics.
 */
#include "health.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "sys.h"

struct kv_health {
	const struct kv_shards *shards;
	int down_ms;
	_Atomic int64_t down_until[KV_MAX_SHARDS]; /* monotonic ms; 0: up */
	pthread_t probe;
	atomic_int probing; /* read by the probe thread and by every marker */
	atomic_int stop;
	struct kv_dav *dav;
};

struct kv_health *kv_health_new(const struct kv_shards *shards, int down_time)
{
	struct kv_health *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->shards = shards;
	h->down_ms = down_time * 1000;
	return h;
}

void kv_health_free(struct kv_health *h)
{
	if (h == NULL)
		return;
	if (h->probing) {
		h->stop = 1;
		(void)pthread_join(h->probe, NULL);
	}
	kv_dav_free(h->dav);
	free(h);
}

int kv_health_is_up(const struct kv_health *h, int shard)
{
	int64_t until;

	if (shard < 0 || shard >= h->shards->n)
		return 0;
	until = h->down_until[shard];
	return until == 0 || kv_mono_ms() >= until;
}

void kv_health_mark_down(struct kv_health *h, int shard)
{
	/* With a probe running, only the probe's answer brings the shard back. */
	if (shard >= 0 && shard < h->shards->n && h->down_ms > 0)
		h->down_until[shard] = h->probing ? INT64_MAX : kv_mono_ms() + h->down_ms;
}

void kv_health_mark_up(struct kv_health *h, int shard)
{
	if (shard >= 0 && shard < h->shards->n)
		h->down_until[shard] = 0;
}

static void *probe_main(void *arg)
{
	struct kv_health *h = arg;

	while (!h->stop) {
		int i;

		for (i = 0; i < h->shards->n && !h->stop; i++) {
			if (kv_dav_probe(h->dav, h->shards->v[i].base, NULL) == 0)
				kv_health_mark_up(h, i);
			else if (kv_health_is_up(h, i))
				kv_health_mark_down(h, i);
		}
		for (i = 0; i < 10 && !h->stop; i++)
			(void)usleep(100 * 1000);
	}
	return NULL;
}

int kv_health_start_probe(struct kv_health *h)
{
	/* a shard silent for a second counts as down; OPTIONS / needs no secret */
	struct kv_dav_opts o = { 1, NULL };

	if (h->probing)
		return 0;
	if (kv_dav_new(&o, &h->dav, NULL) < 0)
		return -1;
	/* Set before the thread starts: its first mark_down must already wait for the probe. */
	h->probing = 1;
	if (pthread_create(&h->probe, NULL, probe_main, h) != 0) {
		h->probing = 0;
		kv_dav_free(h->dav);
		h->dav = NULL;
		return -1;
	}
	return 0;
}
