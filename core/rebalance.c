/* rebalance.c — move exactly the keys whose replica set changed with the shard list.
 *
 * The index is walked in batches; keys already where placement wants them cost one
 * placement computation. The others go to a pool of workers, each of which copies the
 * value to its new shards, switches the record, and hands the key to the cleaner: old
 * copies are deleted grace_ms later, so a reader redirected just before the switch still
 * finds its copy. A run killed at any point leaves intents that the next run (or any
 * writer of the key) finishes: no copy is left behind and no key lost.
 */
#include "admin_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "sys.h"

struct deferred {
	int64_t due_ms;
	size_t klen;
	char key[KV_KEY_MAX + 1];
	struct deferred *next;
};

struct rebalance {
	struct admin_run a;
	struct kv_rebalance_result *r;
	/* the cleaner: deferred deletions in due order (FIFO: equal grace for all) */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct deferred *head, **tail;
	int closing;
	pthread_t cleaner;
};

static void defer_cleanup(const char *key, size_t klen, void *arg)
{
	struct rebalance *rb = arg;
	struct deferred *d = malloc(sizeof(*d));

	if (d == NULL) {
		(void)kv__finish_deferred(rb->a.s, key, klen, NULL);
		return;
	}
	d->due_ms = kv_mono_ms() + rb->a.o->grace_ms;
	d->klen = klen;
	memcpy(d->key, key, klen);
	d->next = NULL;
	pthread_mutex_lock(&rb->lock);
	*rb->tail = d;
	rb->tail = &d->next;
	pthread_cond_signal(&rb->wake);
	pthread_mutex_unlock(&rb->lock);
}

static void *cleaner_main(void *arg)
{
	struct rebalance *rb = arg;

	pthread_mutex_lock(&rb->lock);
	for (;;) {
		struct deferred *d = rb->head;
		int64_t wait;
		struct kv_err err;

		if (d == NULL) {
			if (rb->closing)
				break;
			pthread_cond_wait(&rb->wake, &rb->lock);
			continue;
		}
		wait = d->due_ms - kv_mono_ms();
		if (wait > 0) {
			pthread_mutex_unlock(&rb->lock);
			(void)usleep((useconds_t)(wait > 100 ? 100 : wait) * 1000);
			pthread_mutex_lock(&rb->lock);
			continue;
		}
		rb->head = d->next;
		if (rb->head == NULL)
			rb->tail = &rb->head;
		pthread_mutex_unlock(&rb->lock);
		if (kv__finish_deferred(rb->a.s, d->key, d->klen, &err) < 0)
			admin_report(&rb->a,
				     "%.*s: deleting old copies: %s (verify will find them)",
				     (int)d->klen, d->key, err.msg);
		free(d);
		pthread_mutex_lock(&rb->lock);
	}
	pthread_mutex_unlock(&rb->lock);
	return NULL;
}

/* A pool thread: move the key of item (struct admin_key_job) where placement wants it. */
static void move_key(void *item, void *arg)
{
	const struct admin_key_job *job = item;
	const char *key = job->key;
	size_t klen = job->klen;
	struct rebalance *rb = arg;
	char want[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1];
	struct kv_err err;
	int n = admin_placement(rb->a.s, key, klen, want), changed = 0, rc;

	rc = kv__set_replicas(rb->a.s, key, klen, want, n, NULL, 0, defer_cleanup, rb, &changed,
			      &err);
	if (rc < 0) {
		admin_report(&rb->a, "%.*s: not moved: %s", (int)klen, key, err.msg);
		__atomic_add_fetch(&rb->r->failed, 1, __ATOMIC_RELAXED);
	} else if (changed) {
		__atomic_add_fetch(&rb->r->moved, 1, __ATOMIC_RELAXED);
	}
	admin_tick(&rb->a, 1, changed);
}

static int placed_right(const struct kv_store *s, const char *key, size_t klen,
			const struct kv_record *rec)
{
	char want[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1];
	int n = admin_placement(s, key, klen, want);

	return kv_record_replicas_are(rec, want, n);
}

struct scan {
	struct rebalance *rb;
	struct kv_pool *pool;
};

static int scan_key(const char *key, size_t klen, const struct kv_record *rec, void *arg)
{
	struct scan *sc = arg;

	sc->rb->r->keys++;
	/* Another name of a linked file moves with its value key (index.h). */
	if (rec->type != KV_TYPE_REG || !kv_record_owns_value(rec, key, klen) ||
	    placed_right(sc->rb->a.s, key, klen, rec)) {
		admin_tick(&sc->rb->a, 1, 0);
		return 0;
	}
	return admin_submit_key(sc->pool, key, klen);
}

int kv_rebalance(struct kv_store *s, const struct kv_admin_opts *o, struct kv_rebalance_result *r,
		 struct kv_err *err)
{
	struct rebalance rb;
	struct scan sc = { &rb, NULL };
	uint64_t keys = 0, dirs, bytes;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&rb, 0, sizeof(rb));
	rb.r = r;
	rb.tail = &rb.head;
	pthread_mutex_init(&rb.lock, NULL);
	pthread_cond_init(&rb.wake, NULL);
	rc = kv_store_recover(s, NULL, err); /* a run killed half-way left intents */
	if (rc == 0)
		rc = kv_index_stats(s->idx, &keys, &dirs, &bytes, err);
	if (rc < 0)
		goto out;
	admin_init(&rb.a, s, o, "moving", "keys", keys);
	if (pthread_create(&rb.cleaner, NULL, cleaner_main, &rb) != 0) {
		rc = kv_err_set(err, -EAGAIN, "cannot start a thread");
		goto done;
	}
	sc.pool = kv_pool_new(o->jobs, sizeof(struct admin_key_job), move_key, &rb);
	if (sc.pool == NULL)
		rc = kv_err_set(err, -EAGAIN, "cannot start worker threads");
	else
		rc = admin_each_key(s, scan_key, &sc, err);
	kv_pool_finish(sc.pool);
	pthread_mutex_lock(&rb.lock);
	rb.closing = 1;
	pthread_cond_signal(&rb.wake);
	pthread_mutex_unlock(&rb.lock);
	(void)pthread_join(rb.cleaner, NULL);
	if (rc == 0 && r->failed > 0)
		rc = kv_err_set(err, -EIO, "%llu key%s could not be moved",
				(unsigned long long)r->failed, r->failed == 1 ? "" : "s");
done:
	admin_done(&rb.a);
out:
	pthread_cond_destroy(&rb.wake);
	pthread_mutex_destroy(&rb.lock);
	return rc;
}
