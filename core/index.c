/* index.c — the LMDB index, with group commit.
 *
 * Concurrency: LMDB allows one write transaction per environment at a time across all
 * processes. Rather than each thread committing (and syncing) on its own, callers of
 * kv_index_update queue a request; when no batch is being committed, the caller leads:
 * it takes the whole queue (its own request included), runs every request in a nested
 * transaction of one write transaction, commits once (one sync for the batch), and then
 * hands leadership to the head of the queue that formed meanwhile, if any, before it
 * wakes exactly the requests it ran, each told it is done. The others sleep until told
 * they are done or that they lead. A lone writer thus commits on its own thread, with no
 * hand-over to another thread and back (measured: a create through the mount, 1 in
 * flight, two context switches fewer).
 * gc_lock guards the queue and the leading flag, which stays set while leadership passes
 * from one thread to the next, so that no newcomer can take a queued request from the
 * thread told to lead it. Each request is woken exactly once, by a post of its own
 * semaphore, outside gc_lock: a woken thread never sleeps again on a lock its waker holds
 * (with a condition variable, 2.4 of the 5.3% of tinykvd's samples spent waiting here
 * under 64 PUTs in flight were that second sleep), and a done one returns without the
 * lock. The LMDB write transaction is only touched by the
 * leader, begun and committed on its thread (LMDB's writer lock is a mutex).
 * Read transactions (MDB_NOTLS) are per call or per cursor and never block writers. A
 * point read (kv_index_get and its kin) renews the reset transaction its thread kept from
 * the last one instead of beginning one: no allocation, no lock of LMDB's reader table.
 * Up to READERS_KEPT threads keep one (a reader slot each, of the 1024 every process
 * using the index shares); readers_lock guards the list, which a thread's exit and
 * kv_index_close empty.
 */
#include "index.h"

#include <errno.h>
#include <limits.h>
#include <lmdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"
#include "hash.h"

struct gc_req {
	kv_txn_fn fn;
	void *arg;
	struct kv_err *err;
	int rc;
	atomic_int state; /* enum gc_state, set before wake is posted */
	sem_t wake;	  /* posted once: when done, or when told to lead */
	struct gc_req *next;
};

enum gc_state { GC_WAITING, GC_LEAD, GC_DONE };

#define NTABLES 6
#define READERS_KEPT 64 /* threads that keep a reset read transaction between reads */

/* A reset read transaction kept by one thread (idx->reader_key) for its next point read. */
struct reader {
	struct kv_index *idx;
	MDB_txn *txn;
	struct reader *next, **prev; /* in idx->readers */
};

struct kv_index {
	MDB_env *env;
	MDB_dbi dbi[NTABLES]; /* by enum kv_table */
	int have[NTABLES];    /* a read-only index made by an older version lacks KV_INTENTS,
				 * KV_XATTRS or KV_LINKS */
	char dir[PATH_MAX];   /* resolved */
	struct kv_notes notes;
	pthread_mutex_t gc_lock;
	struct gc_req *queue, **queue_tail;
	int leading;		  /* a caller is running a batch */
	pthread_key_t reader_key; /* this thread's struct reader, if it kept one */
	int have_reader_key;
	pthread_mutex_t readers_lock; /* guards readers, nreaders */
	struct reader *readers;
	int nreaders;
};

struct kv_txn {
	struct kv_index *idx;
	MDB_txn *txn;
};

struct kv_cursor {
	struct kv_index *idx;
	MDB_txn *txn;
	MDB_cursor *cur;
};

static const char bytes_key[] = "bytes";
static const char ino_key[] = "ino"; /* KV_META: the last inode number given out */

int kv_lmdb_errno(int rc)
{
	switch (rc) {
	case 0: return 0;
	case MDB_NOTFOUND: return -ENOENT;
	case MDB_MAP_FULL: return -ENOSPC;
	case MDB_READERS_FULL: return -EAGAIN;
	case MDB_BAD_VALSIZE: return -ENAMETOOLONG;
	default: return rc > 0 ? -rc : -EIO;
	}
}

static int mdb_fail(int rc, struct kv_err *err, const struct kv_index *idx, const char *what)
{
	int code = kv_lmdb_errno(rc);

	if (rc == MDB_MAP_FULL)
		return kv_err_set(err, code, "index %s is full: raise map_size in tinykv.conf",
				  idx->dir);
	return kv_err_set(err, code, "index %s: %s: %s", idx->dir, what, mdb_strerror(rc));
}

static int txn_begin(struct kv_index *idx, MDB_txn *parent, unsigned flags, MDB_txn **txn,
		     struct kv_err *err)
{
	int rc = mdb_txn_begin(idx->env, parent, flags, txn);

	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map; adopt its size and retry. */
		(void)mdb_env_set_mapsize(idx->env, 0);
		rc = mdb_txn_begin(idx->env, parent, flags, txn);
	}
	return rc == 0 ? 0 : mdb_fail(rc, err, idx, "begin transaction");
}

/* Forget r: out of the list, its transaction (and reader slot) given back. */
static void reader_drop(struct reader *r)
{
	struct kv_index *idx = r->idx;

	pthread_mutex_lock(&idx->readers_lock);
	*r->prev = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	idx->nreaders--;
	pthread_mutex_unlock(&idx->readers_lock);
	mdb_txn_abort(r->txn);
	free(r);
}

static void reader_exit(void *r) /* the reader_key destructor: its thread exits */
{
	reader_drop(r);
}

/* A read transaction for one point read: this thread's kept one, renewed, or a new one.
 * End it with read_end. */
static int read_begin(struct kv_index *idx, MDB_txn **txn, struct kv_err *err)
{
	struct reader *r = idx->have_reader_key ? pthread_getspecific(idx->reader_key) : NULL;

	if (r != NULL) {
		if (mdb_txn_renew(r->txn) == 0) {
			*txn = r->txn;
			return 0;
		}
		/* The map grew, or the slot went bad: start over the ordinary way. */
		(void)pthread_setspecific(idx->reader_key, NULL);
		reader_drop(r);
	}
	return txn_begin(idx, NULL, MDB_RDONLY, txn, err);
}

/* Keep txn (reset) as this thread's, if there is room; 1 if kept. */
static int reader_keep(struct kv_index *idx, MDB_txn *txn)
{
	struct reader *r;

	if (!idx->have_reader_key)
		return 0;
	pthread_mutex_lock(&idx->readers_lock);
	r = idx->nreaders < READERS_KEPT ? malloc(sizeof(*r)) : NULL;
	if (r != NULL && pthread_setspecific(idx->reader_key, r) != 0) {
		free(r);
		r = NULL;
	}
	if (r != NULL) {
		r->idx = idx;
		r->txn = txn;
		r->next = idx->readers;
		r->prev = &idx->readers;
		if (idx->readers != NULL)
			idx->readers->prev = &r->next;
		idx->readers = r;
		idx->nreaders++;
	}
	pthread_mutex_unlock(&idx->readers_lock);
	if (r != NULL)
		mdb_txn_reset(txn);
	return r != NULL;
}

static void read_end(struct kv_index *idx, MDB_txn *txn)
{
	struct reader *r = idx->have_reader_key ? pthread_getspecific(idx->reader_key) : NULL;

	if (r != NULL && r->txn == txn)
		mdb_txn_reset(txn);
	else if (r != NULL || !reader_keep(idx, txn))
		mdb_txn_abort(txn);
}

static int open_tables(struct kv_index *idx, int readonly, struct kv_err *err)
{
	static const char *const names[NTABLES] = { "keys", "dirs",   "intents",
						    "meta", "xattrs", "links" };
	unsigned flags = readonly ? 0 : MDB_CREATE;
	MDB_txn *txn;
	int rc = 0, i;

	rc = txn_begin(idx, NULL, readonly ? MDB_RDONLY : 0, &txn, err);
	if (rc < 0)
		return rc;
	for (i = 0; i < NTABLES && rc == 0; i++) {
		rc = mdb_dbi_open(txn, names[i], flags, &idx->dbi[i]);
		if (rc == MDB_NOTFOUND && (i == KV_INTENTS || i == KV_XATTRS || i == KV_LINKS))
			rc = 0; /* read-only and older: none */
		else
			idx->have[i] = rc == 0;
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return mdb_fail(rc, err, idx, "open tables");
	}
	rc = mdb_txn_commit(txn);
	return rc == 0 ? 0 : mdb_fail(rc, err, idx, "open tables");
}

int kv_index_open(const char *dir, const struct kv_index_opts *o, struct kv_index **out,
		  struct kv_err *err)
{
	unsigned flags = MDB_NOTLS | (o->sync ? 0 : MDB_NOSYNC) | (o->readonly ? MDB_RDONLY : 0);
	struct kv_index *idx;
	int rc, dead, dfd;

	*out = NULL;
	idx = calloc(1, sizeof(*idx));
	if (idx == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&idx->gc_lock, NULL);
	pthread_mutex_init(&idx->readers_lock, NULL);
	idx->have_reader_key = pthread_key_create(&idx->reader_key, reader_exit) == 0;
	idx->queue_tail = &idx->queue;
	/* Checked and tightened before LMDB opens anything by name in it; once it is ours
	 * and private, nobody else can put anything there. */
	dfd = kv_private_dir(dir, "index", o->readonly ? 0 : KV_PRIVATE_CREATE, idx->dir,
			     sizeof(idx->dir), &idx->notes, err);
	if (dfd < 0) {
		rc = dfd;
		goto fail;
	}
	rc = kv_private_file(dfd, idx->dir, "data.mdb", "index", &idx->notes, err);
	if (rc == 0)
		rc = kv_private_file(dfd, idx->dir, "lock.mdb", "index", &idx->notes, err);
	(void)close(dfd);
	if (rc < 0)
		goto fail;
	rc = mdb_env_create(&idx->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(idx->env, NTABLES);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(idx->env, 1024);
	if (rc == 0)
		rc = mdb_env_set_mapsize(idx->env, o->map_size);
	if (rc == 0)
		rc = mdb_env_open(idx->env, idx->dir, flags, 0600);
	if (rc != 0) {
		rc = mdb_fail(rc, err, idx, "open");
		goto fail;
	}
	(void)mdb_reader_check(idx->env, &dead); /* slots of killed processes */
	rc = open_tables(idx, o->readonly, err);
	if (rc < 0)
		goto fail;
	*out = idx;
	return 0;
fail:
	kv_index_close(idx);
	return rc;
}

void kv_index_close(struct kv_index *idx)
{
	if (idx == NULL)
		return;
	/* No thread reads or writes any more (the caller's promise): kept transactions go. */
	if (idx->have_reader_key)
		(void)pthread_key_delete(idx->reader_key);
	while (idx->readers != NULL)
		reader_drop(idx->readers);
	if (idx->env != NULL)
		mdb_env_close(idx->env);
	pthread_mutex_destroy(&idx->readers_lock);
	pthread_mutex_destroy(&idx->gc_lock);
	free(idx);
}

const char *kv_index_dir(const struct kv_index *idx)
{
	return idx->dir;
}

const char *kv_index_notes(const struct kv_index *idx)
{
	return idx->notes.text;
}

int kv_index_sync(struct kv_index *idx, struct kv_err *err)
{
	unsigned flags = 0;
	int rc;

	if (mdb_env_get_flags(idx->env, &flags) == 0 && (flags & MDB_RDONLY))
		return 0;		/* nothing of ours to sync (LMDB would say EACCES) */
	rc = mdb_env_sync(idx->env, 1); /* forced: also when opened MDB_NOSYNC */
	return rc != 0 ? mdb_fail(rc, err, idx, "sync") : 0;
}

static MDB_val mval(const void *p, size_t n)
{
	MDB_val v = { n, (void *)p };

	return v;
}

int kv_index_has(struct kv_index *idx, enum kv_table t, const char *key, size_t klen,
		 struct kv_err *err)
{
	size_t len;
	int rc = kv_index_get_bytes(idx, t, key, klen, NULL, 0, &len, err);

	return rc == 0 || rc == -ENOSPC ? 1 : rc == -ENOENT ? 0 : rc;
}

int kv_index_get_bytes(struct kv_index *idx, enum kv_table t, const char *key, size_t klen,
		       void *buf, size_t cap, size_t *len, struct kv_err *err)
{
	MDB_txn *txn;
	MDB_val k = mval(key, klen), v;
	int rc;

	if (!idx->have[t])
		return -ENOENT;
	rc = read_begin(idx, &txn, err);
	if (rc < 0)
		return rc;
	rc = mdb_get(txn, idx->dbi[t], &k, &v);
	if (rc == 0) {
		*len = v.mv_size;
		if (v.mv_size > cap)
			rc = -ENOSPC;
		else if (v.mv_size > 0)
			memcpy(buf, v.mv_data, v.mv_size);
	} else {
		rc = rc == MDB_NOTFOUND ? -ENOENT : mdb_fail(rc, err, idx, "get");
	}
	read_end(idx, txn);
	return rc;
}

static int decode(const MDB_val *v, struct kv_record *rec, struct kv_err *err, const char *key,
		  size_t klen)
{
	if (kv_record_decode(v->mv_data, v->mv_size, rec) == 0)
		return 0;
	return kv_err_set(err, -KV_ECORRUPT,
			  "index record of '%.*s' is corrupt "
			  "(run tinykvd verify)",
			  (int)klen, key);
}

int kv_index_get(struct kv_index *idx, enum kv_table t, const char *key, size_t klen,
		 struct kv_record *rec, struct kv_err *err)
{
	MDB_txn *txn;
	MDB_val k = mval(key, klen), v;
	int rc = read_begin(idx, &txn, err);

	if (rc < 0)
		return rc;
	rc = mdb_get(txn, idx->dbi[t], &k, &v);
	if (rc == 0)
		rc = decode(&v, rec, err, key, klen);
	else if (rc == MDB_NOTFOUND)
		rc = -ENOENT;
	else
		rc = mdb_fail(rc, err, idx, "get");
	read_end(idx, txn);
	return rc;
}

static uint64_t get_u64(const MDB_val *v)
{
	uint64_t n = 0;
	int i;

	if (v->mv_size != 8)
		return 0;
	for (i = 7; i >= 0; i--)
		n = n << 8 | ((const uint8_t *)v->mv_data)[i];
	return n;
}

int kv_index_stats(struct kv_index *idx, uint64_t *keys, uint64_t *dirs, uint64_t *bytes,
		   struct kv_err *err)
{
	MDB_txn *txn;
	MDB_stat st;
	MDB_val k = mval(bytes_key, sizeof(bytes_key) - 1), v;
	int rc = read_begin(idx, &txn, err);

	if (rc < 0)
		return rc;
	if ((rc = mdb_stat(txn, idx->dbi[KV_KEYS], &st)) == 0) {
		*keys = st.ms_entries;
		if ((rc = mdb_stat(txn, idx->dbi[KV_DIRS], &st)) == 0)
			*dirs = st.ms_entries;
	}
	if (rc == 0)
		*bytes = mdb_get(txn, idx->dbi[KV_META], &k, &v) == 0 ? get_u64(&v) : 0;
	read_end(idx, txn);
	return rc == 0 ? 0 : mdb_fail(rc, err, idx, "stat");
}

int kv_cursor_open(struct kv_index *idx, enum kv_table t, struct kv_cursor **out,
		   struct kv_err *err)
{
	struct kv_cursor *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (c == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	c->idx = idx;
	rc = txn_begin(idx, NULL, MDB_RDONLY, &c->txn, err);
	if (rc == 0 && (rc = mdb_cursor_open(c->txn, idx->dbi[t], &c->cur)) != 0)
		rc = mdb_fail(rc, err, idx, "open cursor");
	if (rc < 0) {
		kv_cursor_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int cursor_get(struct kv_cursor *c, MDB_val *k, MDB_cursor_op op, const char **key,
		      size_t *kl, struct kv_record *rec)
{
	MDB_val v;
	int rc = mdb_cursor_get(c->cur, k, &v, op);

	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return mdb_fail(rc, NULL, c->idx, "cursor");
	*key = k->mv_data;
	*kl = k->mv_size;
	if (rec != NULL && kv_record_decode(v.mv_data, v.mv_size, rec) < 0)
		return -KV_ECORRUPT;
	return 0;
}

int kv_cursor_seek(struct kv_cursor *c, const char *key, size_t klen, const char **k, size_t *kl,
		   struct kv_record *rec)
{
	MDB_val mk = mval(key, klen);

	return cursor_get(c, &mk, klen > 0 ? MDB_SET_RANGE : MDB_FIRST, k, kl, rec);
}

int kv_cursor_next(struct kv_cursor *c, const char **k, size_t *kl, struct kv_record *rec)
{
	MDB_val mk;

	return cursor_get(c, &mk, MDB_NEXT, k, kl, rec);
}

void kv_cursor_close(struct kv_cursor *c)
{
	if (c == NULL)
		return;
	if (c->cur != NULL)
		mdb_cursor_close(c->cur);
	if (c->txn != NULL)
		mdb_txn_abort(c->txn);
	free(c);
}

int kv_index_view(struct kv_index *idx, kv_txn_fn fn, void *arg, struct kv_err *err)
{
	struct kv_txn txn = { idx, NULL };
	int rc = txn_begin(idx, NULL, MDB_RDONLY, &txn.txn, err);

	if (rc < 0)
		return rc;
	rc = fn(&txn, arg, err);
	mdb_txn_abort(txn.txn);
	return rc;
}

int kv_txn_get(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
	       struct kv_record *rec, struct kv_err *err)
{
	MDB_val k = mval(key, klen), v;
	int rc = mdb_get(txn->txn, txn->idx->dbi[t], &k, &v);

	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "get");
	return decode(&v, rec, err, key, klen);
}

/* Add delta to the KV_KEYS byte count kept in the meta table. */
static int add_bytes(struct kv_txn *txn, int64_t delta, struct kv_err *err)
{
	MDB_val k = mval(bytes_key, sizeof(bytes_key) - 1), v;
	uint8_t buf[8];
	uint64_t n = 0;
	int i, rc;

	if (delta == 0)
		return 0;
	if (mdb_get(txn->txn, txn->idx->dbi[KV_META], &k, &v) == 0)
		n = get_u64(&v);
	n = delta < 0 && (uint64_t)-delta > n ? 0 : n + (uint64_t)delta;
	for (i = 0; i < 8; i++)
		buf[i] = (uint8_t)(n >> (8 * i));
	v = mval(buf, 8);
	rc = mdb_put(txn->txn, txn->idx->dbi[KV_META], &k, &v, 0);
	return rc == 0 ? 0 : mdb_fail(rc, err, txn->idx, "put");
}

/* Size of the value a stored KV_KEYS record describes, without a full decode. */
static int64_t stored_size(const MDB_val *v)
{
	struct kv_record rec;

	if (kv_record_decode(v->mv_data, v->mv_size, &rec) < 0 || rec.type != KV_TYPE_REG)
		return 0;
	return (int64_t)rec.size;
}

int kv_txn_new_inos(struct kv_txn *txn, uint64_t count, uint64_t *first, struct kv_err *err)
{
	MDB_val k = mval(ino_key, sizeof(ino_key) - 1), v;
	uint8_t buf[8];
	uint64_t last = 1; /* 2 comes first: 1 is the root's */
	int i, rc;

	if (mdb_get(txn->txn, txn->idx->dbi[KV_META], &k, &v) == 0 && v.mv_size == 8)
		last = get_u64(&v);
	if (last < 1)
		last = 1;
	*first = last + 1;
	last += count;
	for (i = 0; i < 8; i++)
		buf[i] = (uint8_t)(last >> (8 * i));
	v = mval(buf, 8);
	rc = mdb_put(txn->txn, txn->idx->dbi[KV_META], &k, &v, 0);
	return rc == 0 ? 0 : mdb_fail(rc, err, txn->idx, "put");
}

/* A file or directory record without an inode number gets one as it is stored: the one
 * of the record it replaces under the same key (a replaced value is the same file; an
 * older record's is the number made from its key, which st_ino showed), else a new one
 * from the counter, in the transaction that stores it, so no two records share one. */
static int give_ino(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
		    struct kv_record *rec, struct kv_err *err)
{
	MDB_val k = mval(key, klen), old;
	struct kv_record was;

	if (mdb_get(txn->txn, txn->idx->dbi[t], &k, &old) == 0 &&
	    kv_record_decode(old.mv_data, old.mv_size, &was) == 0) {
		rec->ino = kv_record_ino(&was, key, klen);
		return 0;
	}
	return kv_txn_new_inos(txn, 1, &rec->ino, err);
}

void kv_link_row(uint64_t ino, const char *name, size_t nlen, char out[KV_LINK_ROW_LEN])
{
	int i;

	for (i = 0; i < 8; i++)
		out[i] = (char)(ino >> (8 * (7 - i)));
	kv_sha256(name, nlen, (uint8_t *)out + 8);
}

/* Store an encoded record under a sibling name that has one, keeping the byte count. */
static int put_sibling(struct kv_txn *txn, const char *name, size_t nlen, const uint8_t *buf,
		       size_t n, int64_t size, struct kv_err *err)
{
	MDB_val k = mval(name, nlen), v, old;
	int rc = mdb_get(txn->txn, txn->idx->dbi[KV_KEYS], &k, &old);

	if (rc == MDB_NOTFOUND)
		return 0; /* a stale row; the names that exist are what counts */
	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "get");
	size -= stored_size(&old);
	v = mval(buf, n);
	rc = mdb_put(txn->txn, txn->idx->dbi[KV_KEYS], &k, &v, 0);
	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "put");
	return add_bytes(txn, size, err);
}

/*
 * The names of a linked inode share one record: key's new record (encoded in buf) goes to
 * every other name listed in KV_LINKS under its inode, in this transaction, so a chmod,
 * utimes or write through any name shows through all. A record with one name leaves (or
 * never has) a row; one with more has a row for key.
 */
static int links_follow(struct kv_txn *txn, const char *key, size_t klen,
			const struct kv_record *rec, const uint8_t *buf, size_t n,
			struct kv_err *err)
{
	char row[KV_LINK_ROW_LEN];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, prc = 0;

	if (!txn->idx->have[KV_LINKS])
		return 0;
	kv_link_row(rec->ino, key, klen, row);
	k = mval(row, sizeof(row));
	if (rec->nlink <= 1) {
		rc = mdb_del(txn->txn, txn->idx->dbi[KV_LINKS], &k, NULL);
		return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_fail(rc, err, txn->idx, "delete");
	}
	v = mval(key, klen);
	rc = mdb_put(txn->txn, txn->idx->dbi[KV_LINKS], &k, &v, 0);
	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "put");
	rc = mdb_cursor_open(txn->txn, txn->idx->dbi[KV_LINKS], &cur);
	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "open cursor");
	k = mval(row, 8);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != KV_LINK_ROW_LEN || memcmp(k.mv_data, row, 8) != 0)
			break;
		if (v.mv_size == klen && memcmp(v.mv_data, key, klen) == 0)
			continue;
		prc = put_sibling(txn, v.mv_data, v.mv_size, buf, n,
				  rec->type == KV_TYPE_REG ? (int64_t)rec->size : 0, err);
		if (prc < 0)
			break;
	}
	mdb_cursor_close(cur);
	if (prc < 0)
		return prc;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_fail(rc, err, txn->idx, "cursor");
}

/* key's record (stored bytes old) goes: so does its row in KV_LINKS, if it has one. */
static int links_forget(struct kv_txn *txn, const char *key, size_t klen, const MDB_val *old,
			struct kv_err *err)
{
	char row[KV_LINK_ROW_LEN];
	struct kv_record rec;
	MDB_val k;
	int rc;

	if (!txn->idx->have[KV_LINKS] || kv_record_decode(old->mv_data, old->mv_size, &rec) < 0 ||
	    rec.nlink <= 1)
		return 0;
	kv_link_row(rec.ino, key, klen, row);
	k = mval(row, sizeof(row));
	rc = mdb_del(txn->txn, txn->idx->dbi[KV_LINKS], &k, NULL);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_fail(rc, err, txn->idx, "delete");
}

int kv_txn_put(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
	       const struct kv_record *rec, struct kv_err *err)
{
	uint8_t buf[KV_RECORD_MAX];
	struct kv_record *own = NULL;
	size_t n;
	MDB_val k = mval(key, klen), v, old;
	int64_t delta = 0;
	int rc;

	if (rec->ino == 0 && (t == KV_KEYS || t == KV_DIRS)) {
		own = malloc(sizeof(*own));
		if (own == NULL)
			return kv_err_set(err, -ENOMEM, "out of memory");
		*own = *rec;
		rc = give_ino(txn, t, key, klen, own, err);
		if (rc < 0) {
			free(own);
			return rc;
		}
		rec = own;
	}
	n = kv_record_encode(rec, buf, sizeof(buf));
	if (t == KV_KEYS)
		delta = rec->type == KV_TYPE_REG ? (int64_t)rec->size : 0;
	if (n == 0) {
		rc = kv_err_set(err, -EINVAL, "record of '%.*s' does not fit", (int)klen, key);
		goto out;
	}
	if (t == KV_KEYS && mdb_get(txn->txn, txn->idx->dbi[t], &k, &old) == 0)
		delta -= stored_size(&old);
	v = mval(buf, n);
	rc = mdb_put(txn->txn, txn->idx->dbi[t], &k, &v, 0);
	if (rc != 0) {
		rc = mdb_fail(rc, err, txn->idx, "put");
		goto out;
	}
	rc = add_bytes(txn, delta, err);
	if (rc == 0 && t == KV_KEYS)
		rc = links_follow(txn, key, klen, rec, buf, n, err);
out:
	free(own);
	return rc;
}

int kv_txn_del(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
	       struct kv_err *err)
{
	MDB_val k = mval(key, klen), old;
	int64_t size = 0;
	int rc;

	rc = mdb_get(txn->txn, txn->idx->dbi[t], &k, &old);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc == 0 && t == KV_KEYS) {
		size = stored_size(&old);
		rc = links_forget(txn, key, klen, &old, err);
		if (rc < 0)
			return rc;
	}
	if (rc == 0)
		rc = mdb_del(txn->txn, txn->idx->dbi[t], &k, NULL);
	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "delete");
	if (t == KV_KEYS || t == KV_DIRS) {
		/* Here, so that no way of removing a name can leave its attributes behind. */
		rc = kv_txn_drop_xattrs(txn, key, klen, err);
		if (rc < 0)
			return rc;
	}
	return add_bytes(txn, -size, err);
}

int kv_txn_get_bytes(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
		     const void **val, size_t *len, struct kv_err *err)
{
	MDB_val k = mval(key, klen), v;
	int rc;

	if (!txn->idx->have[t])
		return -ENOENT; /* a read-only index of an older version: no such table */
	rc = mdb_get(txn->txn, txn->idx->dbi[t], &k, &v);
	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "get");
	*val = v.mv_data;
	*len = v.mv_size;
	return 0;
}

int kv_txn_put_bytes(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
		     const void *val, size_t len, struct kv_err *err)
{
	MDB_val k = mval(key, klen), v = mval(val, len);
	int rc;

	if (t == KV_KEYS)
		return kv_err_set(err, -EINVAL, "raw bytes cannot go into the keys table");
	rc = mdb_put(txn->txn, txn->idx->dbi[t], &k, &v, 0);
	return rc == 0 ? 0 : mdb_fail(rc, err, txn->idx, "put");
}

int kv_txn_each(struct kv_txn *txn, enum kv_table t, kv_txn_each_fn fn, void *arg,
		struct kv_err *err)
{
	return kv_txn_each_prefix(txn, t, NULL, 0, fn, arg, err);
}

int kv_txn_each_prefix(struct kv_txn *txn, enum kv_table t, const char *prefix, size_t plen,
		       kv_txn_each_fn fn, void *arg, struct kv_err *err)
{
	MDB_cursor *cur;
	MDB_val k = mval(prefix, plen), v;
	int rc, frc = 0;

	if (!txn->idx->have[t])
		return 0;
	rc = mdb_cursor_open(txn->txn, txn->idx->dbi[t], &cur);
	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "open cursor");
	/* LMDB seeks to no empty key: the whole table starts at its first. */
	for (rc = mdb_cursor_get(cur, &k, &v, plen == 0 ? MDB_FIRST : MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < plen || (plen > 0 && memcmp(k.mv_data, prefix, plen) != 0))
			break;
		frc = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
		if (frc != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (frc != 0)
		return frc;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_fail(rc, err, txn->idx, "cursor");
}

int kv_txn_each_link(struct kv_txn *txn, uint64_t ino, kv_txn_each_fn fn, void *arg,
		     struct kv_err *err)
{
	char prefix[8];
	int i;

	for (i = 0; i < 8; i++)
		prefix[i] = (char)(ino >> (8 * (7 - i)));
	return kv_txn_each_prefix(txn, KV_LINKS, prefix, sizeof(prefix), fn, arg, err);
}

int kv_txn_has_prefix(struct kv_txn *txn, enum kv_table t, const char *prefix, size_t plen,
		      struct kv_err *err)
{
	MDB_cursor *cur;
	MDB_val k = mval(prefix, plen), v;
	int rc = mdb_cursor_open(txn->txn, txn->idx->dbi[t], &cur), found = 0;

	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "open a cursor");
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	if (rc == 0)
		found = k.mv_size >= plen && memcmp(k.mv_data, prefix, plen) == 0;
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return mdb_fail(rc, err, txn->idx, "read");
	return found;
}

/* Run a batch of requests in one write transaction; each in its own nested one. */
static void run_batch(struct kv_index *idx, struct gc_req *batch)
{
	struct kv_err commit_err;
	struct gc_req *r;
	MDB_txn *parent;
	int rc;

	rc = txn_begin(idx, NULL, 0, &parent, &commit_err);
	for (r = batch; rc == 0 && r != NULL; r = r->next) {
		struct kv_txn txn = { idx, NULL };

		r->rc = txn_begin(idx, parent, 0, &txn.txn, r->err);
		if (r->rc < 0)
			continue;
		r->rc = r->fn(&txn, r->arg, r->err);
		if (r->rc == 0) {
			int crc = mdb_txn_commit(txn.txn);

			if (crc != 0)
				r->rc = mdb_fail(crc, r->err, idx, "commit");
		} else {
			mdb_txn_abort(txn.txn);
		}
	}
	if (rc == 0 && (rc = mdb_txn_commit(parent)) != 0)
		rc = mdb_fail(rc, &commit_err, idx, "commit");
	for (r = batch; r != NULL; r = r->next) {
		if (rc < 0 && r->rc == 0) {
			r->rc = rc;
			if (r->err != NULL)
				*r->err = commit_err;
		}
	}
}

/* Wake r with state, once; r may vanish as soon as it is posted. */
static void gc_wake(struct gc_req *r, enum gc_state state)
{
	atomic_store_explicit(&r->state, state, memory_order_release);
	sem_post(&r->wake);
}

/* Lead one batch: the whole queue, whose head is the caller's own request (a thread
 * leads only when it found the queue empty, or as the heir, the head, with `leading`
 * kept set since). Called with `leading` set, without gc_lock. */
static void lead_batch(struct kv_index *idx)
{
	struct gc_req *batch, *r, *next, *heir;

	pthread_mutex_lock(&idx->gc_lock);
	batch = idx->queue;
	idx->queue = NULL;
	idx->queue_tail = &idx->queue;
	pthread_mutex_unlock(&idx->gc_lock);
	run_batch(idx, batch);
	pthread_mutex_lock(&idx->gc_lock);
	heir = idx->queue; /* came meanwhile: its first leads the next batch */
	if (heir == NULL)
		idx->leading = 0;
	pthread_mutex_unlock(&idx->gc_lock);
	if (heir != NULL)
		gc_wake(heir, GC_LEAD);
	for (r = batch->next; r != NULL; r = next) { /* batch itself is the caller's */
		next = r->next;
		gc_wake(r, GC_DONE);
	}
}

/* Sleep until r is woken; what it was told. */
static enum gc_state gc_sleep(struct gc_req *r)
{
	while (sem_wait(&r->wake) != 0) /* EINTR: Linux's only failure of a valid one */
		;
	return atomic_load_explicit(&r->state, memory_order_acquire);
}

int kv_index_update(struct kv_index *idx, kv_txn_fn fn, void *arg, struct kv_err *err)
{
	struct gc_req req = { .fn = fn, .arg = arg, .err = err, .state = GC_WAITING };
	int lead;

	sem_init(&req.wake, 0, 0);
	pthread_mutex_lock(&idx->gc_lock);
	*idx->queue_tail = &req;
	idx->queue_tail = &req.next;
	lead = !idx->leading;
	idx->leading = 1;
	pthread_mutex_unlock(&idx->gc_lock);
	if (lead || gc_sleep(&req) == GC_LEAD)
		lead_batch(idx);
	sem_destroy(&req.wake);
	return req.rc;
}

void kv_xattr_prefix(const char *path, size_t plen, char out[KV_SHA256_LEN])
{
	if (plen == 0) { /* the root's attributes are kept under "/" */
		path = "/";
		plen = 1;
	}
	kv_sha256(path, plen, (uint8_t *)out);
}

int kv_txn_drop_xattrs(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err)
{
	char prefix[KV_SHA256_LEN];
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if (!txn->idx->have[KV_XATTRS])
		return 0;
	kv_xattr_prefix(path, plen, prefix);
	rc = mdb_cursor_open(txn->txn, txn->idx->dbi[KV_XATTRS], &cur);
	if (rc != 0)
		return mdb_fail(rc, err, txn->idx, "open cursor");
	/* Seek again after each delete: where a cursor stands after mdb_cursor_del differs
	 * between LMDB versions at the end of the table. */
	for (;;) {
		k = mval(prefix, sizeof(prefix));
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc != 0 || k.mv_size < sizeof(prefix) ||
		    memcmp(k.mv_data, prefix, sizeof(prefix)) != 0)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : mdb_fail(rc, err, txn->idx, "delete");
}
