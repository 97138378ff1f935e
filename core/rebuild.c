/* rebuild.c — an index from the shards alone.
 *
 * Every configured shard is walked (one worker per shard, up to jobs at once). Values
 * found are added to the index in batches, one transaction per batch: a key found on
 * several shards gets each as a replica, ordered as placement ranks them. Copies that
 * disagree in size cannot both be the value; the newest wins and the others are left for
 * verify to report as orphans. What only the index knew (symlinks, directories made by
 * mkdir, modes, owners, md5 sums) cannot come back.
 */
#include "admin_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "walk.h"

#define REBUILD_BATCH 256

struct found {
	char key[KV_KEY_MAX + 1];
	size_t klen;
	int64_t size, mtime;
};

struct rebuild {
	struct admin_run a;
	struct kv_rebuild_result *r;
	int dirs, total_dirs;
	int failed;
};

struct shard_walk {
	struct rebuild *rb;
	const char *shard;
	struct found batch[REBUILD_BATCH];
	int n;
	uint64_t added, replicas, conflicts;
};

/* Order rec's replicas as placement ranks the shards for key. */
static void sort_replicas(const struct kv_store *s, const char *key, size_t klen,
			  struct kv_record *rec)
{
	int order[KV_MAX_SHARDS], n = kv_place(&s->cfg.shards, key, klen, s->cfg.shards.n, order);
	char sorted[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1];
	int i, k = 0;

	for (i = 0; i < n; i++)
		if (kv_record_has_replica(rec, s->cfg.shards.v[order[i]].name))
			memcpy(sorted[k++], s->cfg.shards.v[order[i]].name, sizeof(sorted[0]));
	for (i = 0; i < rec->nrep; i++) /* shards no longer configured, last */
		if (kv__shard(s, rec->rep[i]) < 0)
			memcpy(sorted[k++], rec->rep[i], sizeof(sorted[0]));
	memcpy(rec->rep, sorted, sizeof(sorted[0]) * (size_t)k);
	rec->nrep = (uint8_t)k;
}

static int add_found(struct kv_txn *txn, struct shard_walk *w, const struct found *f,
		     struct kv_err *err)
{
	struct kv_store *s = w->rb->a.s;
	struct kv_record rec;
	int rc = kv_txn_get(txn, KV_KEYS, f->key, f->klen, &rec, err);
	int64_t mtime_ns = f->mtime * 1000000000LL;

	if (rc == -ENOENT) {
		kv_record_new(&rec, KV_TYPE_REG, NULL);
		rec.size = (uint64_t)f->size;
		rec.mtime_ns = rec.ctime_ns = rec.atime_ns = mtime_ns;
		rec.nrep = 0;
		w->added++;
	} else if (rc < 0) {
		return rc;
	} else if (rec.type != KV_TYPE_REG ||
		   (kv_record_has_replica(&rec, w->shard) && rec.size == (uint64_t)f->size)) {
		if (rec.type != KV_TYPE_REG)
			w->conflicts++;
		return 0;
	} else if (rec.size != (uint64_t)f->size) {
		w->conflicts++;
		if (mtime_ns <= rec.mtime_ns)
			return 0; /* an older, different copy: an orphan */
		rec.size = (uint64_t)f->size;
		rec.mtime_ns = rec.ctime_ns = mtime_ns;
		memset(rec.md5, 0, sizeof(rec.md5));
		rec.nrep = 0;
	} else {
		w->replicas++;
	}
	if (rec.nrep < KV_MAX_REPLICAS)
		(void)snprintf(rec.rep[rec.nrep++], sizeof(rec.rep[0]), "%s", w->shard);
	sort_replicas(s, f->key, f->klen, &rec);
	rec.gen = kv_new_gen();
	return kv_txn_put(txn, KV_KEYS, f->key, f->klen, &rec, err);
}

static int add_batch(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct shard_walk *w = arg;
	int i, rc = 0;

	w->added = w->replicas = w->conflicts = 0;
	for (i = 0; i < w->n && rc == 0; i++)
		rc = add_found(txn, w, &w->batch[i], err);
	return rc;
}

static int flush_batch(struct shard_walk *w, struct kv_err *err)
{
	int rc = w->n > 0 ? kv_index_update(w->rb->a.s->idx, add_batch, w, err) : 0;

	if (rc == 0) {
		__atomic_add_fetch(&w->rb->r->keys_added, w->added, __ATOMIC_RELAXED);
		__atomic_add_fetch(&w->rb->r->replicas_added, w->replicas, __ATOMIC_RELAXED);
		__atomic_add_fetch(&w->rb->r->conflicts, w->conflicts, __ATOMIC_RELAXED);
	}
	w->n = 0;
	return rc;
}

static void show(struct rebuild *rb)
{
	admin_set(&rb->a, (uint64_t)__atomic_load_n(&rb->dirs, __ATOMIC_RELAXED),
		  (uint64_t)__atomic_load_n(&rb->total_dirs, __ATOMIC_RELAXED),
		  __atomic_load_n(&rb->r->files, __ATOMIC_RELAXED));
}

static int on_file(const struct kv_shard_file *f, void *arg)
{
	struct shard_walk *w = arg;
	struct found *b;
	struct kv_err err;

	__atomic_add_fetch(&w->rb->r->files, 1, __ATOMIC_RELAXED);
	if (f->kind != KV_FILE_VALUE) {
		__atomic_add_fetch(&w->rb->r->strays, f->kind == KV_FILE_STRAY, __ATOMIC_RELAXED);
		return 0;
	}
	b = &w->batch[w->n++];
	memcpy(b->key, f->key, f->klen);
	b->klen = f->klen;
	b->size = f->size < 0 ? 0 : f->size;
	b->mtime = f->mtime;
	if (w->n < REBUILD_BATCH)
		return 0;
	if (flush_batch(w, &err) < 0) {
		admin_report(&w->rb->a, "%s: %s", w->shard, err.msg);
		return -EIO;
	}
	show(w->rb);
	return 0;
}

/* A pool thread: walk the shard whose index item points to. */
static void walk_one(void *item, void *arg)
{
	struct rebuild *rb = arg;
	struct shard_walk *w = calloc(1, sizeof(*w));
	const struct kv_shard *sh;
	struct kv_err err;
	int i = *(const int *)item, rc;

	if (w == NULL) {
		rb->failed = 1;
		return;
	}
	sh = &rb->a.s->cfg.shards.v[i];
	w->rb = rb;
	w->shard = sh->name;
	rc = kv_walk_shard(rb->a.s->dav, sh->name, sh->base, on_file, w, &rb->dirs, &rb->total_dirs,
			   &err);
	if (rc == 0)
		rc = flush_batch(w, &err);
	if (rc < 0) {
		admin_report(&rb->a, "shard %s: %s", sh->name, err.msg);
		rb->failed = 1;
	}
	free(w);
}

int kv_rebuild(struct kv_store *s, const struct kv_admin_opts *o, struct kv_rebuild_result *r,
	       struct kv_err *err)
{
	struct rebuild rb;
	struct kv_pool *pool;
	int i, rc = 0;

	memset(r, 0, sizeof(*r));
	memset(&rb, 0, sizeof(rb));
	rb.r = r;
	admin_init(&rb.a, s, o, "scanning shards", "directories", 0);
	pool = kv_pool_new(o->jobs < s->cfg.shards.n ? o->jobs : s->cfg.shards.n, sizeof(int),
			   walk_one, &rb);
	if (pool == NULL) {
		admin_done(&rb.a);
		return kv_err_set(err, -EAGAIN, "cannot start worker threads");
	}
	for (i = 0; i < s->cfg.shards.n; i++)
		(void)kv_pool_submit(pool, &i, sizeof(i));
	kv_pool_finish(pool);
	show(&rb);
	if (rb.failed)
		rc = kv_err_set(err, -EIO, "some shards could not be read completely");
	admin_done(&rb.a);
	return rc;
}
