/* intents.c — the intent log: a NOSYNC LMDB environment for this boot, in the index
 * directory, with durable copies of what must survive a reboot in the index itself.
 *
 * Every change of the log is a short write transaction of its own (no network I/O
 * inside), so the LMDB writer lock is held for microseconds; there is nothing to gain from
 * batching. The map is written in place (MDB_WRITEMAP: no write(2) per page) and never
 * synced: a process crash loses nothing (the pages are the kernel's), an OS crash may
 * leave it torn, which is why each boot starts it afresh (intents.h). The durable copies
 * go through the index's group commit (kv_index_update), so concurrent writers share one
 * sync.
 */
#include "intents.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"

struct kv_intents {
	MDB_env *env;
	MDB_dbi dbi;
	struct kv_index *idx; /* durable copies: its KV_INTENTS table */
	char dir[PATH_MAX];
	struct kv_notes notes;
};

/* KV_META: the boot the log was started in. */
static const char boot_key[] = "intents.boot";

static int fail(int rc, struct kv_err *err, const struct kv_intents *ints, const char *what)
{
	return kv_err_set(err, kv_lmdb_errno(rc), "intent log %s: %s: %s", ints->dir, what,
			  mdb_strerror(rc));
}

/* Open (creating) the LMDB environment in ints->dir. */
static int env_open(struct kv_intents *ints, struct kv_err *err)
{
	MDB_txn *txn = NULL;
	int rc, dead;

	if ((rc = mdb_env_create(&ints->env)) == 0 &&
	    (rc = mdb_env_set_maxreaders(ints->env, 1024)) == 0 &&
	    (rc = mdb_env_set_mapsize(ints->env, (size_t)1 << 30)) == 0 &&
	    (rc = mdb_env_open(ints->env, ints->dir,
			       MDB_NOTLS | MDB_NOSYNC | MDB_WRITEMAP | MDB_MAPASYNC, 0600)) == 0)
		rc = mdb_txn_begin(ints->env, NULL, 0, &txn);
	if (rc == 0) {
		(void)mdb_reader_check(ints->env, &dead);
		rc = mdb_dbi_open(txn, NULL, 0, &ints->dbi);
		if (rc == 0) {
			rc = mdb_txn_commit(txn);
			txn = NULL;
		}
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc == 0 ? 0 : fail(rc, err, ints, "open");
}

struct restart {
	struct kv_intents *ints;
	const char *boot;
	int dirfd;
	MDB_txn *txn; /* of the fresh log, while durable copies are imported */
};

/* One durable copy into the fresh log, owned by nobody (so dead: recovery finishes it).
 * A copy that does not decode is skipped (verify reports what it left behind). */
static int import_one(const char *key, size_t klen, const void *val, size_t len, void *arg)
{
	struct restart *r = arg;
	struct kv_intent *in = malloc(sizeof(*in));
	uint8_t *buf = malloc(KV_INTENT_MAX);
	MDB_val k = { klen, (void *)key }, v = { 0, buf };
	int rc = 0;

	if (in == NULL || buf == NULL) {
		rc = -ENOMEM;
	} else if (kv_intent_decode(val, len, in) == 0) {
		in->pid = 0;
		in->start = 0;
		v.mv_size = kv_intent_encode(in, buf, KV_INTENT_MAX);
		rc = v.mv_size > 0 ? mdb_put(r->txn, r->ints->dbi, &k, &v, 0) : 0;
		rc = kv_lmdb_errno(rc);
	}
	free(buf);
	free(in);
	return rc;
}

/*
 * Run inside an index write transaction (LMDB's writer lock orders every process):
 * unless another process has already done it for this boot, throw the old log away and
 * start a fresh one from the durable copies, then record the boot.
 */
static int restart_log(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct restart *r = arg;
	size_t len, blen = strlen(r->boot);
	const void *v;
	int rc = kv_txn_get_bytes(txn, KV_META, boot_key, sizeof(boot_key) - 1, &v, &len, err);

	if (rc == 0 && len == blen && memcmp(v, r->boot, len) == 0)
		return 0; /* another process of this boot was first */
	if (rc < 0 && rc != -ENOENT)
		return rc;
	/* From before the restart: no owner in it lives, and its pages may be torn. */
	if ((unlinkat(r->dirfd, "data.mdb", 0) < 0 && errno != ENOENT) ||
	    (unlinkat(r->dirfd, "lock.mdb", 0) < 0 && errno != ENOENT))
		return kv_err_set(err, -errno, "intent log %s: cannot remove the last boot's: %s",
				  r->ints->dir, strerror(errno));
	rc = env_open(r->ints, err);
	if (rc < 0)
		return rc;
	rc = mdb_txn_begin(r->ints->env, NULL, 0, &r->txn);
	if (rc != 0)
		return fail(rc, err, r->ints, "begin");
	rc = kv_txn_each(txn, KV_INTENTS, import_one, r, err);
	if (rc < 0)
		kv_err_set(err, rc, "intent log %s: cannot take over the durable intents: %s",
			   r->ints->dir, strerror(-rc));
	if (rc == 0 && (rc = mdb_txn_commit(r->txn)) != 0)
		rc = fail(rc, err, r->ints, "commit");
	else if (rc < 0)
		mdb_txn_abort(r->txn);
	r->txn = NULL;
	if (rc == 0)
		rc = kv_txn_put_bytes(txn, KV_META, boot_key, sizeof(boot_key) - 1, r->boot, blen,
				      err);
	return rc;
}

int kv_intents_open(struct kv_index *idx, struct kv_intents **out, struct kv_err *err)
{
	char path[PATH_MAX], boot[40], seen[40];
	struct kv_intents *ints;
	size_t len = 0;
	int dfd = -1, rc, n;

	*out = NULL;
	ints = calloc(1, sizeof(*ints));
	if (ints == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	ints->idx = idx;
	n = snprintf(path, sizeof(path), "%s/intents", kv_index_dir(idx));
	if (n < 0 || (size_t)n >= sizeof(path)) {
		rc = kv_err_set(err, -ENAMETOOLONG, "index %s: path too long", kv_index_dir(idx));
		goto out;
	}
	rc = dfd = kv_private_dir(path, "intent log", KV_PRIVATE_CREATE, ints->dir,
				  sizeof(ints->dir), &ints->notes, err);
	if (rc >= 0)
		rc = kv_private_file(dfd, ints->dir, "data.mdb", "intent log", &ints->notes, err);
	if (rc >= 0)
		rc = kv_private_file(dfd, ints->dir, "lock.mdb", "intent log", &ints->notes, err);
	if (rc >= 0)
		rc = kv_boot_id(boot, sizeof(boot), err);
	if (rc >= 0)
		rc = kv_index_get_bytes(idx, KV_META, boot_key, sizeof(boot_key) - 1, seen,
					sizeof(seen), &len, err);
	if (rc == 0 && len == strlen(boot) && memcmp(seen, boot, len) == 0) {
		rc = env_open(ints, err);
	} else if (rc == 0 || rc == -ENOENT || rc == -ENOSPC) {
		struct restart r = { ints, boot, dfd, NULL };

		rc = kv_index_update(idx, restart_log, &r, err);
		if (rc == 0 && ints->env == NULL)
			rc = env_open(ints, err);
	}
	if (rc < 0)
		goto out;
	*out = ints;
	rc = 0;
out:
	if (dfd >= 0)
		(void)close(dfd);
	if (rc != 0)
		kv_intents_close(ints);
	return rc;
}

void kv_intents_close(struct kv_intents *ints)
{
	if (ints == NULL)
		return;
	if (ints->env != NULL)
		mdb_env_close(ints->env);
	free(ints);
}

const char *kv_intents_notes(const struct kv_intents *ints)
{
	return ints->notes.text;
}

static int put(MDB_txn *txn, struct kv_intents *ints, const char *key, size_t klen,
	       const struct kv_intent *in, struct kv_err *err)
{
	uint8_t *buf = malloc(KV_INTENT_MAX);
	size_t n = buf != NULL ? kv_intent_encode(in, buf, KV_INTENT_MAX) : 0;
	MDB_val k = { klen, (void *)key }, v = { n, buf };
	int rc;

	if (n == 0) {
		free(buf);
		return kv_err_set(err, -ENOMEM, "intent of '%.*s' does not fit", (int)klen, key);
	}
	rc = mdb_put(txn, ints->dbi, &k, &v, 0);
	free(buf);
	return rc == 0 ? 0 : fail(rc, err, ints, "put");
}

static int get(MDB_txn *txn, struct kv_intents *ints, const char *key, size_t klen,
	       struct kv_intent *in, struct kv_err *err)
{
	MDB_val k = { klen, (void *)key }, v;
	int rc = mdb_get(txn, ints->dbi, &k, &v);

	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return fail(rc, err, ints, "get");
	if (in != NULL && kv_intent_decode(v.mv_data, v.mv_size, in) < 0)
		return kv_err_set(err, -KV_ECORRUPT, "intent of '%.*s' is corrupt", (int)klen, key);
	return 0;
}

static int finish(MDB_txn *txn, int rc, struct kv_intents *ints, struct kv_err *err)
{
	if (rc < 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	rc = mdb_txn_commit(txn);
	return rc == 0 ? 0 : fail(rc, err, ints, "commit");
}

int kv_intents_acquire(struct kv_intents *ints, const char *key, size_t klen, struct kv_intent *in,
		       struct kv_intent *existing, struct kv_err *err)
{
	struct kv_intent *old = existing;
	struct kv_intent *tmp = NULL;
	MDB_txn *txn;
	int rc;

	kv_self_owner(&in->pid, &in->start);
	in->since_ns = kv_now_ns();
	if (old == NULL) {
		tmp = malloc(sizeof(*tmp));
		if (tmp == NULL)
			return kv_err_set(err, -ENOMEM, "out of memory");
		old = tmp;
	}
	rc = mdb_txn_begin(ints->env, NULL, 0, &txn);
	if (rc != 0) {
		free(tmp);
		return fail(rc, err, ints, "begin");
	}
	rc = get(txn, ints, key, klen, old, err);
	if (rc == -ENOENT)
		rc = put(txn, ints, key, klen, in, err);
	else if (rc == 0)
		rc = kv_owner_alive(old->pid, old->start) ? -EBUSY : -EOWNERDEAD;
	if (rc == -EBUSY)
		kv_err_set(err, rc, "key '%.*s' is being written by another request", (int)klen,
			   key);
	else if (rc == -EOWNERDEAD)
		kv_err_set(err, rc, "key '%.*s' has an unfinished operation of process %d",
			   (int)klen, key, (int)old->pid);
	free(tmp);
	return finish(txn, rc, ints, err);
}

/* A durable copy to store or drop in the index (KV_INTENTS). */
struct copy {
	const char *key;
	size_t klen;
	const uint8_t *val; /* NULL: drop */
	size_t len;
	kv_txn_fn fn; /* kv_intents_commit: the record change first */
	void *arg;
};

static int copy_apply(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct copy *c = arg;
	int rc = c->fn != NULL ? c->fn(txn, c->arg, err) : 0;

	if (rc < 0)
		return rc;
	if (c->val != NULL)
		return kv_txn_put_bytes(txn, KV_INTENTS, c->key, c->klen, c->val, c->len, err);
	rc = kv_txn_del(txn, KV_INTENTS, c->key, c->klen, err);
	return rc == -ENOENT ? 0 : rc;
}

/* Must this intent survive a reboot? After its first MOVE the index describes the old
 * value until its record change is applied. */
static int durable(const struct kv_intent *in)
{
	return in->phase == KV_PHASE_COMMIT && in->nmoves > 0;
}

int kv_intents_update(struct kv_intents *ints, const char *key, size_t klen,
		      const struct kv_intent *in, struct kv_err *err)
{
	struct copy c = { key, klen, NULL, 0, NULL, NULL };
	uint8_t *buf;
	MDB_txn *txn;
	int rc = mdb_txn_begin(ints->env, NULL, 0, &txn);

	if (rc != 0)
		return fail(rc, err, ints, "begin");
	rc = finish(txn, put(txn, ints, key, klen, in, err), ints, err);
	if (rc < 0 || !durable(in))
		return rc;
	buf = malloc(KV_INTENT_MAX);
	c.len = buf != NULL ? kv_intent_encode(in, buf, KV_INTENT_MAX) : 0;
	c.val = buf;
	if (c.len == 0)
		rc = kv_err_set(err, -ENOMEM, "intent of '%.*s' does not fit", (int)klen, key);
	else
		rc = kv_index_update(ints->idx, copy_apply, &c, err);
	free(buf);
	return rc;
}

int kv_intents_commit(struct kv_intents *ints, const char *key, size_t klen, kv_txn_fn fn,
		      void *arg, struct kv_err *err)
{
	struct copy c = { key, klen, NULL, 0, fn, arg };

	return kv_index_update(ints->idx, copy_apply, &c, err);
}

int kv_intents_release(struct kv_intents *ints, const char *key, size_t klen, struct kv_err *err)
{
	struct copy c = { key, klen, NULL, 0, NULL, NULL };
	MDB_val k = { klen, (void *)key };
	MDB_txn *txn;
	int rc, first;

	/* The copy goes first: the log must never be behind it. Should dropping it fail,
	 * the log entry goes anyway (the key must not stay locked); a reboot would then
	 * finish the operation again, which its record change's generation check allows. */
	first = kv_index_has(ints->idx, KV_INTENTS, key, klen, err);
	if (first == 1)
		first = kv_index_update(ints->idx, copy_apply, &c, err);
	rc = mdb_txn_begin(ints->env, NULL, 0, &txn);
	if (rc != 0)
		return fail(rc, err, ints, "begin");
	rc = mdb_del(txn, ints->dbi, &k, NULL);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	rc = finish(txn, rc == 0 ? 0 : fail(rc, err, ints, "delete"), ints, err);
	return first < 0 ? first : rc;
}

int kv_intents_takeover(struct kv_intents *ints, const char *key, size_t klen,
			struct kv_intent *dead, struct kv_err *err)
{
	struct kv_intent *cur = malloc(sizeof(*cur));
	MDB_txn *txn;
	int rc;

	if (cur == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	rc = mdb_txn_begin(ints->env, NULL, 0, &txn);
	if (rc != 0) {
		free(cur);
		return fail(rc, err, ints, "begin");
	}
	rc = get(txn, ints, key, klen, cur, err);
	if (rc == 0 && (cur->pid != dead->pid || cur->start != dead->start))
		rc = kv_err_set(err, -EBUSY, "intent on '%.*s' changed hands", (int)klen, key);
	if (rc == 0) {
		kv_self_owner(&dead->pid, &dead->start);
		dead->since_ns = kv_now_ns();
		rc = put(txn, ints, key, klen, dead, err);
	}
	free(cur);
	return finish(txn, rc, ints, err);
}

int kv_intents_get(struct kv_intents *ints, const char *key, size_t klen, struct kv_intent *in,
		   struct kv_err *err)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(ints->env, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return fail(rc, err, ints, "begin");
	rc = get(txn, ints, key, klen, in, err);
	mdb_txn_abort(txn);
	return rc;
}

/* Find the first intent (dead-owned only, when dead_only) with key > after (or >= when
 * inclusive). */
static int next_intent(struct kv_intents *ints, char *key, size_t *klen, int inclusive,
		       int dead_only, struct kv_intent *in, struct kv_err *err)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k = { *klen, key }, v;
	MDB_cursor_op op = *klen > 0 ? MDB_SET_RANGE : MDB_FIRST;
	int rc = mdb_txn_begin(ints->env, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return fail(rc, err, ints, "begin");
	rc = mdb_cursor_open(txn, ints->dbi, &cur);
	while (rc == 0 && (rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (!inclusive && k.mv_size == *klen && memcmp(k.mv_data, key, *klen) == 0)
			continue;
		if (kv_intent_decode(v.mv_data, v.mv_size, in) < 0)
			continue; /* left for verify to report */
		if (!dead_only || !kv_owner_alive(in->pid, in->start))
			break;
	}
	if (rc == 0) {
		memcpy(key, k.mv_data, k.mv_size);
		*klen = k.mv_size;
	}
	if (cur != NULL)
		mdb_cursor_close(cur); /* a read-only txn's cursor outlives the txn */
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	return rc == 0 ? 0 : fail(rc, err, ints, "scan");
}

int kv_intents_each_dead(struct kv_intents *ints, kv_intents_fn fn, void *arg, struct kv_err *err)
{
	struct kv_intent *in = malloc(sizeof(*in));
	char key[KV_KEY_MAX + 1];
	size_t klen = 0;
	int rc, n = 0, inclusive = 1;

	if (in == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	while ((rc = next_intent(ints, key, &klen, inclusive, 1, in, err)) == 0) {
		inclusive = 0;
		n++;
		rc = fn(key, klen, in, arg);
		if (rc < 0)
			break;
	}
	free(in);
	return rc == -ENOENT ? n : rc;
}

int kv_intents_count(struct kv_intents *ints, size_t *n, struct kv_err *err)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc = mdb_txn_begin(ints->env, NULL, MDB_RDONLY, &txn);

	if (rc != 0)
		return fail(rc, err, ints, "begin");
	rc = mdb_stat(txn, ints->dbi, &st);
	mdb_txn_abort(txn);
	if (rc != 0)
		return fail(rc, err, ints, "stat");
	*n = st.ms_entries;
	return 0;
}

int kv_intents_each(struct kv_intents *ints, kv_intents_fn fn, void *arg, struct kv_err *err)
{
	struct kv_intent *in = malloc(sizeof(*in));
	char key[KV_KEY_MAX + 1];
	size_t klen = 0;
	int rc, inclusive = 1;

	if (in == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	while ((rc = next_intent(ints, key, &klen, inclusive, 0, in, err)) == 0) {
		inclusive = 0;
		rc = fn(key, klen, in, arg);
		if (rc != 0)
			break;
	}
	free(in);
	return rc == -ENOENT ? 0 : rc;
}
