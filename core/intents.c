/* intents.c — the intent log: a NOSYNC LMDB environment on tmpfs.
 *
 * Every change is a short write transaction of its own (no network I/O inside), so the
 * LMDB writer lock is held for microseconds; there is nothing to gain from batching. The
 * map is written in place (MDB_WRITEMAP: no write(2) per page; on tmpfs nothing is lost
 * by that, and a stray write could at worst damage intents, never the index). The
 * environment's location is derived from the index directory's real path, so every
 * process opening the same index finds the same intents.
 */
#include "intents.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "sys.h"

struct kv_intents {
	MDB_env *env;
	MDB_dbi dbi;
	char dir[PATH_MAX];
};

static int fail(int rc, struct kv_err *err, const struct kv_intents *ints, const char *what)
{
	int code = rc == MDB_NOTFOUND ? -ENOENT : rc == MDB_MAP_FULL ? -ENOSPC :
		   rc > 0 ? -rc : -EIO;

	return kv_err_set(err, code, "intent log %s: %s: %s", ints->dir, what,
			  mdb_strerror(rc));
}

/* /dev/shm/tinykv-<md5 of the index's real path>, or DIR/intents without tmpfs. */
static int intents_dir(const char *index_dir, char *out, size_t cap)
{
	char real[PATH_MAX], hex[33];
	uint8_t md[KV_MD5_LEN];
	struct stat st;
	int n;

	if (realpath(index_dir, real) == NULL)
		return -errno;
	kv_md5(real, strlen(real), md);
	kv_hex(md, 8, hex);
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
		n = snprintf(out, cap, "/dev/shm/tinykv-%s", hex);
	else
		n = snprintf(out, cap, "%s/intents", real);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int kv_intents_open(const char *index_dir, struct kv_intents **out, struct kv_err *err)
{
	struct kv_intents *ints;
	MDB_txn *txn = NULL;
	int rc, dead;

	*out = NULL;
	ints = calloc(1, sizeof(*ints));
	if (ints == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	rc = intents_dir(index_dir, ints->dir, sizeof(ints->dir));
	if (rc == 0)
		rc = kv_mkdir_p(ints->dir, 0700);
	if (rc < 0) {
		kv_err_set(err, rc, "intent log for %s: %s", index_dir, strerror(-rc));
		goto out;
	}
	if ((rc = mdb_env_create(&ints->env)) == 0 &&
	    (rc = mdb_env_set_maxreaders(ints->env, 1024)) == 0 &&
	    (rc = mdb_env_set_mapsize(ints->env, (size_t)1 << 30)) == 0 &&
	    (rc = mdb_env_open(ints->env, ints->dir, MDB_NOTLS | MDB_NOSYNC | MDB_WRITEMAP | MDB_MAPASYNC, 0600)) == 0)
		rc = mdb_txn_begin(ints->env, NULL, 0, &txn);
	if (rc == 0) {
		(void)mdb_reader_check(ints->env, &dead);
		rc = mdb_dbi_open(txn, NULL, 0, &ints->dbi);
		if (rc == 0) {
			rc = mdb_txn_commit(txn);
			txn = NULL;
		}
	}
	if (rc != 0) {
		rc = fail(rc, err, ints, "open");
		goto out;
	}
	*out = ints;
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
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

int kv_intents_acquire(struct kv_intents *ints, const char *key, size_t klen,
		       struct kv_intent *in, struct kv_intent *existing, struct kv_err *err)
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

int kv_intents_update(struct kv_intents *ints, const char *key, size_t klen,
		      const struct kv_intent *in, struct kv_err *err)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(ints->env, NULL, 0, &txn);

	if (rc != 0)
		return fail(rc, err, ints, "begin");
	return finish(txn, put(txn, ints, key, klen, in, err), ints, err);
}

int kv_intents_release(struct kv_intents *ints, const char *key, size_t klen,
		       struct kv_err *err)
{
	MDB_val k = { klen, (void *)key };
	MDB_txn *txn;
	int rc = mdb_txn_begin(ints->env, NULL, 0, &txn);

	if (rc != 0)
		return fail(rc, err, ints, "begin");
	rc = mdb_del(txn, ints->dbi, &k, NULL);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	return finish(txn, rc == 0 ? 0 : fail(rc, err, ints, "delete"), ints, err);
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

int kv_intents_get(struct kv_intents *ints, const char *key, size_t klen,
		   struct kv_intent *in, struct kv_err *err)
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
			continue;	/* left for verify to report */
		if (!dead_only || !kv_owner_alive(in->pid, in->start))
			break;
	}
	if (rc == 0) {
		memcpy(key, k.mv_data, k.mv_size);
		*klen = k.mv_size;
	}
	if (cur != NULL)
		mdb_cursor_close(cur);	/* a read-only txn's cursor outlives the txn */
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	return rc == 0 ? 0 : fail(rc, err, ints, "scan");
}

int kv_intents_each_dead(struct kv_intents *ints, kv_intents_fn fn, void *arg,
			 struct kv_err *err)
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
	*n = st.ms_entries;
	return rc == 0 ? 0 : fail(rc, err, ints, "stat");
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
