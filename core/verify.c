/* verify.c — index and shards checked against each other, and repaired.
 *
 * Three passes: unfinished operations of dead processes (finished first when repairing,
 * so the rest sees a settled state); every record, each replica asked with HEAD (present,
 * right size, on the shard placement wants); every file of every shard, looked up in the
 * index (orphans: values of keys that do not list that shard, stale temporary uploads;
 * strays: files no key explains). A file is deleted only under its key's lock and only
 * while the index still does not point at it.
 */
#include "admin_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "sys.h"
#include "walk.h"

#define TMP_STALE_S 60	/* a temporary upload is MOVEd within moments of being written */

struct verify {
	struct admin_run a;
	struct kv_verify_result *r;
	int repair;
};

static void count(uint64_t *field, uint64_t n)
{
	__atomic_add_fetch(field, n, __ATOMIC_RELAXED);
}

static int count_dead(const char *key, size_t klen, struct kv_intent *in, void *arg)
{
	struct verify *v = arg;

	admin_report(&v->a, "unfinished: operation %d on '%.*s' by dead process %d", in->op,
		     (int)klen, key, (int)in->pid);
	count(&v->r->dead_intents, 1);
	return 0;
}

static int check_intents(struct verify *v, struct kv_err *err)
{
	int done = 0, rc = kv_intents_each_dead(v->a.s->ints, count_dead, v, err);

	if (rc < 0 || !v->repair || v->r->dead_intents == 0)
		return rc < 0 ? rc : 0;
	rc = kv_store_recover(v->a.s, &done, err);
	count(&v->r->repaired, (uint64_t)done);
	count(&v->r->unrepaired, v->r->dead_intents - (uint64_t)done);
	return rc;
}

/* --- records --- */

struct key_check {
	char bad[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1];
	int nbad, unknown;
	int misplaced;
};

static void check_replicas(struct verify *v, const char *key, size_t klen,
			   const struct kv_record *rec, struct key_check *kc)
{
	int i;

	for (i = 0; i < rec->nrep; i++) {
		char url[KV_URL_MAX];
		struct kv_err err;
		int64_t size = -1;
		int rc = kv__key_url(v->a.s, rec->rep[i], key, klen, url, sizeof(url), &err);

		if (rc == 0)
			rc = kv_dav_head(v->a.s->dav, url, &size, &err);
		if (rc == -ENOENT) {
			admin_report(&v->a, "missing: '%.*s' has no replica on %s", (int)klen, key,
				     rec->rep[i]);
			count(&v->r->missing, 1);
		} else if (rc < 0) {
			admin_report(&v->a, "unchecked: '%.*s' on %s: %s", (int)klen, key,
				     rec->rep[i], err.msg);
			kc->unknown = 1;
			continue;
		} else if (size != (int64_t)rec->size) {
			admin_report(&v->a, "wrong size: '%.*s' on %s has %lld bytes, not %llu",
				     (int)klen, key, rec->rep[i], (long long)size,
				     (unsigned long long)rec->size);
			count(&v->r->wrong_size, 1);
		} else {
			continue;
		}
		memcpy(kc->bad[kc->nbad++], rec->rep[i], sizeof(kc->bad[0]));
	}
}

static void repair_key(struct verify *v, const char *key, size_t klen,
		       const struct kv_record *rec, struct key_check *kc)
{
	char want[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1];
	struct kv_err err;
	int n = admin_placement(v->a.s, key, klen, want), changed, rc;

	if (kc->nbad == rec->nrep) {
		admin_report(&v->a, "lost: '%.*s' has no good replica left", (int)klen, key);
		count(&v->r->lost, 1);
		if (!v->repair)
			return;
		rc = kv_store_delete(v->a.s, key, klen, &err);	/* its record lies */
	} else {
		rc = kv__set_replicas(v->a.s, key, klen, want, n, kc->bad, kc->nbad, NULL, NULL,
				      &changed, &err);
	}
	if (rc == 0)
		admin_report(&v->a, "repaired: '%.*s'", (int)klen, key);
	else
		admin_report(&v->a, "not repaired: '%.*s': %s", (int)klen, key, err.msg);
	count(rc == 0 ? &v->r->repaired : &v->r->unrepaired, 1);
}

static void check_key(const char *key, size_t klen, void *arg)
{
	struct verify *v = arg;
	char want[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1];
	struct key_check kc;
	struct kv_record rec;
	int n, i, problem;

	memset(&kc, 0, sizeof(kc));
	if (kv_index_get(v->a.s->idx, KV_KEYS, key, klen, &rec, NULL) < 0 ||
	    rec.type != KV_TYPE_REG) {
		admin_tick(&v->a, 1, 0);
		return;
	}
	check_replicas(v, key, klen, &rec, &kc);
	n = admin_placement(v->a.s, key, klen, want);
	kc.misplaced = rec.nrep != n;
	for (i = 0; i < n && !kc.misplaced; i++)
		kc.misplaced = strcmp(rec.rep[i], want[i]) != 0;
	if (kc.misplaced && kc.nbad == 0) {
		admin_report(&v->a, "misplaced: '%.*s' is not on the shards placement wants "
			     "(run tinykvd rebalance)", (int)klen, key);
		count(&v->r->misplaced, 1);
	}
	problem = kc.nbad > 0 || kc.misplaced;
	if (kc.unknown)
		count(&v->r->unrepaired, 1);
	else if (problem && (v->repair || kc.nbad == rec.nrep))
		repair_key(v, key, klen, &rec, &kc);
	admin_tick(&v->a, 1, (uint64_t)problem);
}

struct feed {
	struct verify *v;
	struct kv_pool *pool;
};

static int feed_key(const char *key, size_t klen, const struct kv_record *rec, void *arg)
{
	struct feed *f = arg;

	(void)rec;
	count(&f->v->r->keys, 1);
	return kv_pool_submit(f->pool, key, klen);
}

static int check_records(struct verify *v, struct kv_err *err)
{
	uint64_t keys = 0, dirs, bytes;
	struct feed f = { v, NULL };
	int rc = kv_index_stats(v->a.s->idx, &keys, &dirs, &bytes, err);

	if (rc < 0)
		return rc;
	admin_phase(&v->a, "checking keys", "keys", keys);
	f.pool = kv_pool_new(v->a.o->jobs, check_key, v);
	if (f.pool == NULL)
		return kv_err_set(err, -EAGAIN, "cannot start worker threads");
	rc = admin_each_key(v->a.s, feed_key, &f, err);
	kv_pool_finish(f.pool);
	return rc;
}

/* --- shard files --- */

struct shard_walk {
	struct verify *v;
	int dirs, total_dirs;
};

/* Delete a file tinykv does not need, under the key's lock, if the index still agrees. */
static int delete_orphan(struct verify *v, const struct kv_shard_file *f, const char *url)
{
	struct kv_intent *in = NULL;
	struct kv_record rec;
	struct kv_err err;
	int rc = 0;

	if (f->kind == KV_FILE_VALUE) {
		in = calloc(1, sizeof(*in));
		if (in == NULL)
			return -ENOMEM;
		in->op = KV_OP_LOCK;
		rc = kv__acquire(v->a.s, f->key, f->klen, in, &err);
		if (rc == 0 && kv_index_get(v->a.s->idx, KV_KEYS, f->key, f->klen, &rec, NULL) == 0 &&
		    kv_record_has_replica(&rec, f->shard))
			rc = -EEXIST;	/* written meanwhile: no longer an orphan */
	}
	if (rc == 0)
		rc = kv_dav_delete(v->a.s->dav, url, &err);
	if (in != NULL && rc != -EBUSY)
		(void)kv_intents_release(v->a.s->ints, f->key, f->klen, NULL);
	free(in);
	if (rc == -EEXIST || rc == -EBUSY)
		return 0;	/* a writer has it: not an orphan after all */
	if (rc == 0)
		admin_report(&v->a, "repaired: deleted %s", url);
	else
		admin_report(&v->a, "not repaired: %s: %s", url, err.msg);
	count(rc == 0 ? &v->r->repaired : &v->r->unrepaired, 1);
	return 0;
}

/* Is this file something the cluster does not need? Files of keys with an operation in
 * flight are left alone: the operation knows about them. */
static int unneeded(struct verify *v, const struct kv_shard_file *f, const char **why)
{
	struct kv_record rec;

	switch (f->kind) {
	case KV_FILE_TMP:
		*why = "orphan (stale temporary upload)";
		return f->mtime > 0 && f->mtime < (int64_t)time(NULL) - TMP_STALE_S;
	case KV_FILE_STRAY:
		*why = "stray (no key lives at this path)";
		return 1;
	default:
		break;
	}
	*why = "orphan (its key does not list this shard)";
	if (kv_intents_get(v->a.s->ints, f->key, f->klen, NULL, NULL) == 0)
		return 0;
	return kv_index_get(v->a.s->idx, KV_KEYS, f->key, f->klen, &rec, NULL) != 0 ||
	       rec.type != KV_TYPE_REG || !kv_record_has_replica(&rec, f->shard);
}

static int check_file(const struct kv_shard_file *f, void *arg)
{
	struct shard_walk *w = arg;
	struct verify *v = w->v;
	char url[KV_URL_MAX + 8];
	const char *why;
	int sh = kv__shard(v->a.s, f->shard);

	count(&v->r->files, 1);
	if (!unneeded(v, f, &why))
		return 0;
	(void)snprintf(url, sizeof(url), "%s%s%s", v->a.s->cfg.shards.v[sh].base, f->path,
		       f->is_dir ? "/" : "");
	admin_report(&v->a, "%s: %s", why, url);
	count(f->kind == KV_FILE_STRAY ? &v->r->strays : &v->r->orphans, 1);
	return v->repair ? delete_orphan(v, f, url) : 0;
}

static void walk_shard(const char *item, size_t len, void *arg)
{
	struct shard_walk *w = arg;
	const struct kv_shard *sh;
	struct kv_err err;
	int i;

	if (len != sizeof(int))
		return;
	memcpy(&i, item, sizeof(i));
	sh = &w->v->a.s->cfg.shards.v[i];
	if (kv_walk_shard(w->v->a.s->dav, sh->name, sh->base, check_file, w, &w->dirs,
			  &w->total_dirs, &err) < 0) {
		admin_report(&w->v->a, "unchecked: shard %s: %s", sh->name, err.msg);
		count(&w->v->r->unrepaired, 1);
	}
	admin_set(&w->v->a, (uint64_t)w->dirs, (uint64_t)w->total_dirs, w->v->r->files);
}

static int check_shards(struct verify *v, struct kv_err *err)
{
	struct shard_walk w = { v, 0, 0 };
	int n = v->a.s->cfg.shards.n, i;
	struct kv_pool *pool;

	admin_phase(&v->a, "checking shards", "directories", 0);
	pool = kv_pool_new(v->a.o->jobs < n ? v->a.o->jobs : n, walk_shard, &w);
	if (pool == NULL)
		return kv_err_set(err, -EAGAIN, "cannot start worker threads");
	for (i = 0; i < n; i++)
		(void)kv_pool_submit(pool, (const char *)&i, sizeof(i));
	kv_pool_finish(pool);
	return 0;
}

int kv_verify(struct kv_store *s, const struct kv_admin_opts *o, struct kv_verify_result *r,
	      struct kv_err *err)
{
	struct verify v;
	uint64_t problems;
	int rc;

	memset(r, 0, sizeof(*r));
	memset(&v, 0, sizeof(v));
	v.r = r;
	v.repair = o->repair;
	admin_init(&v.a, s, o, "checking operations", "intents", 0);
	rc = check_intents(&v, err);
	if (rc == 0)
		rc = check_records(&v, err);
	if (rc == 0)
		rc = check_shards(&v, err);
	admin_done(&v.a);
	if (rc < 0)
		return rc;
	problems = r->missing + r->wrong_size + r->misplaced + r->lost + r->orphans +
		   r->strays + r->dead_intents;
	if (r->unrepaired > 0 || (problems > 0 && !o->repair))
		return 1;
	return 0;
}
