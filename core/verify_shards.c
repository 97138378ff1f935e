/* verify_shards.c — verify's side of the shards (passes 3 and 5 of verify.c): every file
 * checked against the index and the intents, what nothing refers to deleted once it is
 * old enough and, in between, the shards found missing their data.
 *
 * A file is deleted only after all of: no record lists its shard for its key, no intent
 * (of any key, live or dead) mentions it, it is older than orphan_grace by the shard's
 * getlastmodified, it still exists, and — for a copy of a key — the key is locked and
 * has a good copy elsewhere. Each deletion, and each file kept, is a report line. The
 * shards are walked on a pool of workers, one shard each (verify.c: concurrency).
 */
#include "verify_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "sys.h"
#include "walk.h"

/* 1500 → "1,500" */
static const char *thousands(uint64_t n, char *buf, size_t cap)
{
	char digits[32];
	int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n), i;
	size_t o = 0;

	for (i = 0; i < len && o + 2 < cap; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* 7300 → "2 h" */
static const char *duration(int64_t s, char *buf, size_t cap)
{
	if (s < 120)
		(void)snprintf(buf, cap, "%lld s", (long long)s);
	else if (s < 7200)
		(void)snprintf(buf, cap, "%lld min", (long long)(s / 60));
	else if (s < 2 * 86400)
		(void)snprintf(buf, cap, "%lld h", (long long)(s / 3600));
	else
		(void)snprintf(buf, cap, "%lld days", (long long)(s / 86400));
	return buf;
}

/* --- what refers to a file --- */

struct ref_scan {
	const char *shard;
	const char *key; /* NULL: a temporary upload, by id */
	size_t klen;
	uint64_t tmp;
};

static int ref_matches(const struct ref_scan *q, const struct kv_fileref *f)
{
	if (strcmp(f->shard, q->shard) != 0)
		return 0;
	if (q->key == NULL)
		return f->tmp == q->tmp;
	return f->tmp == 0 && f->klen == q->klen && memcmp(f->key, q->key, q->klen) == 0;
}

static int ref_in_intent(const char *ikey, size_t iklen, struct kv_intent *in, void *arg)
{
	const struct ref_scan *q = arg;
	int i;

	(void)ikey;
	(void)iklen;
	for (i = 0; i < in->nundo; i++)
		if (ref_matches(q, &in->undo[i]))
			return 1;
	for (i = 0; i < in->nmoves; i++)
		if (ref_matches(q, &in->moves[i]))
			return 1;
	for (i = 0; i < in->ncleanup; i++)
		if (ref_matches(q, &in->cleanup[i]))
			return 1;
	for (i = 0; q->key != NULL && i < in->nrecops; i++) {
		const struct kv_recop *op = &in->recops[i];

		if (!op->remove && op->klen == q->klen && memcmp(op->key, q->key, q->klen) == 0 &&
		    kv_record_has_replica(&op->rec, q->shard))
			return 1;
	}
	return 0;
}

/* Does any intent (of any key, live or dead) mention this file? An error counts as yes. */
static int intent_refers(struct verify *v, const char *shard, const char *key, size_t klen,
			 uint64_t tmp)
{
	struct ref_scan q = { shard, key, klen, tmp };

	return kv_intents_each(kv__intents(v->a.s), ref_in_intent, &q, NULL) != 0;
}

/* --- passes 3 and 5: shard files --- */

struct walker {
	struct verify *v;
	int second; /* pass 5: delete what is not needed */
	int dirs, total_dirs;
};

/* The URL of a shard file, its path percent-encoded where it is not plain. */
static void file_url(const struct verify *v, int sh, const struct kv_shard_file *f, char *url,
		     size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	int n = snprintf(url, cap, "%s", kv_store_config(v->a.s)->shards.v[sh].base);
	size_t o = n > 0 ? (size_t)n : 0;
	const unsigned char *p;

	for (p = (const unsigned char *)f->path; *p != '\0' && o + 4 < cap; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-_.~=", *p) != NULL) {
			url[o++] = (char)*p;
		} else {
			url[o++] = '%';
			url[o++] = hex[*p >> 4];
			url[o++] = hex[*p & 15];
		}
	}
	if (f->is_dir && o + 1 < cap)
		url[o++] = '/';
	url[o] = '\0';
}

/* Has key an operation in flight, other than this verify's own deletion of another copy
 * of it? The walkers of two shards meet on the same key: one's lock must not make the
 * other leave its copy as if a write were under way (delete_file waits for that lock and
 * checks again under it). An error reading the intent counts as in flight. */
static int write_in_flight(struct verify *v, const char *key, size_t klen)
{
	struct kv_intent *in;
	int32_t pid;
	uint64_t start;
	int rc, ours;

	if (kv_intents_get(kv__intents(v->a.s), key, klen, NULL, NULL) == -ENOENT)
		return 0;
	in = malloc(sizeof(*in));
	if (in == NULL)
		return 1;
	rc = kv_intents_get(kv__intents(v->a.s), key, klen, in, NULL);
	kv_self_owner(&pid, &start);
	ours = rc == 0 && in->op == KV_OP_LOCK && in->pid == pid && in->start == start;
	free(in);
	return rc != -ENOENT && !ours;
}

/* Is this file something nothing refers to? *why says what it is. On the first walk,
 * values the index places here are counted. A file of a key with an operation in flight
 * is left to that operation. */
static int unneeded(struct walker *w, int sh, const struct kv_shard_file *f, const char **why)
{
	struct verify *v = w->v;
	struct kv_record rec;
	int in_flight;

	switch (f->kind) {
	case KV_FILE_TMP:
		*why = "orphan (temporary upload no operation refers to)";
		return !intent_refers(v, f->shard, NULL, 0, f->tmp);
	case KV_FILE_STRAY: *why = "stray (no key lives at this path)"; return 1;
	default: break;
	}
	*why = "orphan (its key does not list this shard)";
	/* Intents first: a write that finishes between the two looks, is in the index. */
	in_flight = write_in_flight(v, f->key, f->klen);
	if (kv_index_get(kv__index(v->a.s), KV_KEYS, f->key, f->klen, &rec, NULL) == 0 &&
	    rec.type == KV_TYPE_REG && kv_record_has_replica(&rec, f->shard) &&
	    kv_record_owns_value(&rec, f->key, f->klen)) {
		if (!w->second)
			verify_add(&v->sh[sh].held, 1);
		return 0;
	}
	return !in_flight;
}

/* Has key, whose record is rec, a good copy (right size) on a shard its record lists? */
static int has_good_copy(struct verify *v, const char *key, size_t klen,
			 const struct kv_record *rec)
{
	struct key_check *kc = malloc(sizeof(*kc));
	int good = 0, i;

	if (kc == NULL)
		return 0;
	verify_check_replicas(v, key, klen, rec, 0, kc);
	for (i = 0; i < rec->nrep; i++)
		good |= kc->state[i] == REP_OK;
	free(kc);
	return good;
}

static void kept(struct verify *v, const char *url, const char *why)
{
	admin_report(&v->a, "kept: %s: %s", url, why);
	verify_add(&v->r->unrepaired, 1);
}

/* Pass 5: delete an unneeded file, once everything says it is not needed. */
static int delete_file(struct walker *w, const struct kv_shard_file *f, const char *url,
		       const char *why)
{
	struct verify *v = w->v;
	int64_t age = f->mtime > 0 ? (int64_t)time(NULL) - f->mtime : -1;
	char kt[ADMIN_KEY_MAX], ago[32], grace[32], detail[ADMIN_KEY_MAX + 256];
	struct kv_intent *in = NULL;
	struct kv_record rec;
	struct kv_err err;
	int64_t size;
	int rc = 0;

	(void)duration(age, ago, sizeof(ago));
	(void)duration(v->grace_s, grace, sizeof(grace));
	if (age < 0) {
		(void)snprintf(detail, sizeof(detail),
			       "%s, of unknown age (the shard gave no "
			       "getlastmodified)",
			       why);
		kept(v, url, detail);
		return 0;
	}
	if (age < v->grace_s) {
		(void)snprintf(detail, sizeof(detail),
			       "%s, %s old, younger than orphan_grace "
			       "(%s)",
			       why, ago, grace);
		kept(v, url, detail);
		return 0;
	}
	if (f->kind == KV_FILE_VALUE) {
		(void)KEYTEXT(kt, f->key, f->klen);
		in = calloc(1, sizeof(*in));
		if (in == NULL) {
			kept(v, url, "out of memory");
			return 0;
		}
		in->op = KV_OP_LOCK;
		rc = kv__acquire(v->a.s, f->key, f->klen, in, &err);
		if (rc < 0) {
			free(in);
			kept(v, url, err.msg);
			return 0;
		}
		rc = kv_index_get(kv__index(v->a.s), KV_KEYS, f->key, f->klen, &rec, NULL);
		if ((rc < 0 && rc != -ENOENT) ||
		    (rc == 0 && rec.type == KV_TYPE_REG && kv_record_has_replica(&rec, f->shard) &&
		     kv_record_owns_value(&rec, f->key, f->klen)) ||
		    intent_refers(v, f->shard, f->key, f->klen, 0)) {
			rc = 1; /* needed after all (or the index cannot tell) */
		} else if (rc == 0 && rec.type == KV_TYPE_REG &&
			   kv_record_owns_value(&rec, f->key, f->klen) &&
			   !has_good_copy(v, f->key, f->klen, &rec)) {
			(void)snprintf(detail, sizeof(detail),
				       "it may be the only copy of %s, whose "
				       "record's replicas are missing or wrong",
				       kt);
			kept(v, url, detail);
			rc = 1;
		} else {
			rc = 0;
		}
	} else if (f->kind == KV_FILE_TMP) {
		rc = intent_refers(v, f->shard, NULL, 0, f->tmp);
	}
	if (rc == 0 && !f->is_dir && kv_dav_head(kv__dav(v->a.s), url, &size, NULL) == -ENOENT)
		rc = 1; /* gone meanwhile */
	if (rc == 0) {
		rc = kv_dav_delete(kv__dav(v->a.s), url, &err);
		if (rc == 0) {
			if (f->kind == KV_FILE_VALUE)
				admin_report(&v->a, "deleted: %s: %s, copy of %s on %s, %s old",
					     url, why, kt, f->shard, ago);
			else
				admin_report(&v->a, "deleted: %s: %s, on %s, %s old", url, why,
					     f->shard, ago);
			verify_add(&v->r->files_deleted, 1);
			verify_add(&v->r->repaired, 1);
		} else {
			admin_report(&v->a, "not deleted: %s: %s", url, err.msg);
			verify_add(&v->r->unrepaired, 1);
		}
	}
	if (in != NULL)
		(void)kv_intents_release(kv__intents(v->a.s), f->key, f->klen, NULL);
	free(in);
	return 0;
}

static int check_file(const struct kv_shard_file *f, void *arg)
{
	struct walker *w = arg;
	struct verify *v = w->v;
	char url[KV_URL_MAX * 3 + 8];
	const char *why;
	int sh = kv__shard(v->a.s, f->shard);

	if (sh < 0)
		return 0;
	if (!w->second)
		verify_add(&v->r->files, 1);
	if (!unneeded(w, sh, f, &why))
		return 0;
	file_url(v, sh, f, url, sizeof(url));
	if (w->second)
		return delete_file(w, f, url, why);
	admin_report(&v->a, "%s: %s", why, url);
	verify_add(f->kind == KV_FILE_STRAY ? &v->r->strays : &v->r->orphans, 1);
	verify_add(&v->sh[sh].candidates, 1);
	return 0;
}

/* A pool thread: walk the shard whose index item points to. */
static void walk_shard(void *item, void *arg)
{
	struct walker *w = arg;
	const struct kv_shard *sh;
	struct kv_err err;
	int i = *(const int *)item;

	sh = &kv_store_config(w->v->a.s)->shards.v[i];
	if (kv_walk_shard(kv__dav(w->v->a.s), sh->name, sh->base, check_file, w, &w->dirs,
			  &w->total_dirs, &err) < 0) {
		admin_report(&w->v->a, "unchecked: shard %s: %s", sh->name, err.msg);
		verify_add(&w->v->r->unchecked, 1);
		if (w->v->repair)
			verify_add(&w->v->r->unrepaired, 1);
		w->v->sh[i].state = SHARD_UNREAD; /* only this walker writes it */
	}
	admin_set(&w->v->a, (uint64_t)__atomic_load_n(&w->dirs, __ATOMIC_RELAXED),
		  (uint64_t)__atomic_load_n(&w->total_dirs, __ATOMIC_RELAXED),
		  __atomic_load_n(&w->v->r->files, __ATOMIC_RELAXED));
}

int verify_walk_shards(struct verify *v, int second, struct kv_err *err)
{
	struct walker w = { v, second, 0, 0 };
	int n = kv_store_config(v->a.s)->shards.n, i, todo = 0;
	struct kv_pool *pool;

	for (i = 0; i < n; i++)
		todo += !second || (v->sh[i].candidates > 0 && !verify_blocked(v, i));
	if (todo == 0)
		return 0;
	admin_phase(&v->a, second ? "deleting orphans" : "checking shards", "directories", 0);
	pool = kv_pool_new(v->a.o->jobs < todo ? v->a.o->jobs : todo, sizeof(int), walk_shard, &w);
	if (pool == NULL)
		return kv_err_set(err, -EAGAIN, "cannot start worker threads");
	for (i = 0; i < n; i++)
		if (!second || (v->sh[i].candidates > 0 && !verify_blocked(v, i)))
			(void)kv_pool_submit(pool, &i, sizeof(i));
	kv_pool_finish(pool);
	return 0;
}

/* Between passes 3 and 4: which shards are missing their data? */
void verify_judge_shards(struct verify *v)
{
	int i;

	for (i = 0; i < kv_store_config(v->a.s)->shards.n; i++) {
		struct shard_info *si = &v->sh[i];
		const char *name = kv_store_config(v->a.s)->shards.v[i].name;
		char held[32], expected[32];

		if (si->state != SHARD_OK || si->expected == 0 || si->held * 2 >= si->expected)
			continue;
		si->state = SHARD_EMPTY;
		verify_add(&v->r->empty_shards, 1);
		if (v->repair && !si->forced)
			verify_add(&v->r->unrepaired, 1);
		(void)thousands(si->held, held, sizeof(held));
		(void)thousands(si->expected, expected, sizeof(expected));
		if (si->forced)
			admin_report(&v->a,
				     "shard %s holds %s of the %s files the index places on "
				     "it: is its disk mounted? (--force: what it lacks is taken as "
				     "lost, and repaired from other replicas where there are any)",
				     name, held, expected);
		else
			admin_report(&v->a,
				     "shard %s holds %s of the %s files the index places on "
				     "it: is its disk mounted? Keys on it are left alone until its "
				     "data is back (if that data is gone for good: verify --repair "
				     "--force %s)",
				     name, held, expected, name);
	}
}

/* After pass 4: what was left alone, shard by shard; orphans not looked at again. */
void verify_tell_left(struct verify *v)
{
	int i;

	for (i = 0; i < kv_store_config(v->a.s)->shards.n; i++) {
		const struct shard_info *si = &v->sh[i];
		char n[32];

		if (si->left > 0)
			admin_report(&v->a, "left alone: %s key%s with a replica on %s, which %s",
				     thousands(si->left, n, sizeof(n)), si->left == 1 ? "" : "s",
				     kv_store_config(v->a.s)->shards.v[i].name,
				     si->state == SHARD_EMPTY ? "is missing its data" :
								"could not be read");
		if (v->repair && si->candidates > 0 && verify_blocked(v, i)) {
			admin_report(&v->a, "left alone: %s orphan or stray file%s on %s",
				     thousands(si->candidates, n, sizeof(n)),
				     si->candidates == 1 ? "" : "s",
				     kv_store_config(v->a.s)->shards.v[i].name);
			verify_add(&v->r->unrepaired, si->candidates);
		}
	}
}
