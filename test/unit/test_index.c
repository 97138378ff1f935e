/* The index's contract (core/index.h): group commit keeps each caller's changes its own
 * (one failing callback undoes only itself, also when batched with others from several
 * threads), the byte count of KV_KEYS follows puts, replacements and deletes, cursors
 * walk in key order from where they are put, and what was committed is there after a
 * reopen, also read-only, which refuses to write; an index opened without sync syncs
 * when asked. A lone writer's callback runs on its own thread; writers that come while a
 * batch commits are committed together in the next, led by one of them. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"
#include "unit.h"

struct put_arg {
	const char *key;
	uint64_t size;
	int fail; /* put, then fail: the put must not stay */
};

static int put_one(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct put_arg *a = arg;
	struct kv_record rec;
	int rc;

	memset(&rec, 0, sizeof(rec));
	rec.type = KV_TYPE_REG;
	rec.mode = 0644;
	rec.size = a->size;
	rec.gen = kv_new_gen();
	rc = kv_txn_put(txn, KV_KEYS, a->key, strlen(a->key), &rec, err);
	if (rc == 0 && a->fail)
		return kv_err_set(err, -EEXIST, "refused after the put");
	return rc;
}

static int del_one(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	const char *key = arg;

	return kv_txn_del(txn, KV_KEYS, key, strlen(key), err);
}

static int has_prefix(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	int *found = arg;

	found[0] = kv_txn_has_prefix(txn, KV_KEYS, "dir/", 4, err);
	found[1] = kv_txn_has_prefix(txn, KV_KEYS, "dis", 3, err);
	found[2] = kv_txn_has_prefix(txn, KV_KEYS, "zzz", 3, err);
	return 0;
}

static int put_meta(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	return kv_txn_put_bytes(txn, KV_META, "note", 4, arg, strlen(arg), err);
}

static uint64_t stat_keys(struct kv_index *idx, uint64_t *bytes)
{
	uint64_t keys = 0, dirs = 0;
	struct kv_err err;

	CHECK(kv_index_stats(idx, &keys, &dirs, bytes, &err) == 0);
	return keys;
}

static int open_index_sync(const char *dir, int sync, int readonly, struct kv_index **idx)
{
	struct kv_index_opts o = { (uint64_t)64 << 20, sync, readonly };
	struct kv_err err;

	return kv_index_open(dir, &o, idx, &err);
}

static int open_index(const char *dir, int readonly, struct kv_index **idx)
{
	return open_index_sync(dir, 1, readonly, idx);
}

static void make_dir(char *dir, size_t cap, char *index)
{
	CHECK(mkdtemp(dir) != NULL);
	snprintf(index, cap, "%s/index", dir);
}

static void remove_dir(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

UNIT_TEST(index_failed_callback_undoes_only_itself)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX];
	struct put_arg good = { "good", 10, 0 }, bad = { "bad", 1000, 1 };
	struct kv_index *idx = NULL;
	struct kv_record rec;
	struct kv_err err;
	uint64_t bytes = 0;

	make_dir(dir, sizeof(path), path);
	CHECK(open_index(path, 0, &idx) == 0);
	CHECK(kv_index_update(idx, put_one, &good, &err) == 0);
	CHECK(kv_index_update(idx, put_one, &bad, &err) == -EEXIST);
	CHECK_STR(err.msg, "refused after the put");
	CHECK(kv_index_get(idx, KV_KEYS, "good", 4, &rec, &err) == 0 && rec.size == 10);
	CHECK(kv_index_get(idx, KV_KEYS, "bad", 3, &rec, &err) == -ENOENT);
	CHECK(stat_keys(idx, &bytes) == 1 && bytes == 10);
	kv_index_close(idx);
	remove_dir(dir);
}

UNIT_TEST(index_bytes_follow_puts_replacements_and_deletes)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX];
	struct put_arg a = { "a", 100, 0 }, b = { "b", 5, 0 }, a2 = { "a", 7, 0 };
	struct kv_index *idx = NULL;
	struct kv_err err;
	uint64_t bytes = 0;

	make_dir(dir, sizeof(path), path);
	CHECK(open_index(path, 0, &idx) == 0);
	CHECK(kv_index_update(idx, put_one, &a, &err) == 0);
	CHECK(kv_index_update(idx, put_one, &b, &err) == 0);
	CHECK(stat_keys(idx, &bytes) == 2 && bytes == 105);
	CHECK(kv_index_update(idx, put_one, &a2, &err) == 0); /* replaced: 100 → 7 */
	CHECK(stat_keys(idx, &bytes) == 2 && bytes == 12);
	CHECK(kv_index_update(idx, del_one, "b", &err) == 0);
	CHECK(stat_keys(idx, &bytes) == 1 && bytes == 7);
	CHECK(kv_index_update(idx, del_one, "b", &err) == -ENOENT);
	CHECK(stat_keys(idx, &bytes) == 1 && bytes == 7);
	kv_index_close(idx);
	remove_dir(dir);
}

UNIT_TEST(index_cursor_walks_in_key_order_from_a_seek)
{
	static const char *const keys[] = { "dir/b", "a", "dir/a", "c", "dis" };
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], seen[64] = "";
	struct kv_index *idx = NULL;
	struct kv_cursor *c = NULL;
	struct kv_record rec;
	struct kv_err err;
	const char *k;
	size_t kl, i;
	int found[3], rc;

	make_dir(dir, sizeof(path), path);
	CHECK(open_index(path, 0, &idx) == 0);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct put_arg a = { keys[i], i, 0 };

		CHECK(kv_index_update(idx, put_one, &a, &err) == 0);
	}
	CHECK(kv_cursor_open(idx, KV_KEYS, &c, &err) == 0);
	for (rc = kv_cursor_seek(c, "b", 1, &k, &kl, &rec); rc == 0;
	     rc = kv_cursor_next(c, &k, &kl, &rec)) {
		strncat(seen, k, kl);
		strcat(seen, " ");
	}
	CHECK(rc == -ENOENT);
	CHECK_STR(seen, "c dir/a dir/b dis ");
	CHECK(kv_cursor_seek(c, "zz", 2, &k, &kl, &rec) == -ENOENT);
	CHECK(kv_cursor_seek(c, NULL, 0, &k, &kl, &rec) == 0 && kl == 1 && k[0] == 'a');
	kv_cursor_close(c);
	CHECK(kv_index_update(idx, has_prefix, found, &err) == 0);
	CHECK(found[0] == 1 && found[1] == 1 && found[2] == 0);
	kv_index_close(idx);
	remove_dir(dir);
}

UNIT_TEST(index_get_bytes_reports_what_does_not_fit)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], buf[4];
	struct kv_index *idx = NULL;
	struct kv_err err;
	size_t len = 0;

	make_dir(dir, sizeof(path), path);
	CHECK(open_index(path, 0, &idx) == 0);
	CHECK(kv_index_get_bytes(idx, KV_META, "note", 4, buf, sizeof(buf), &len, &err) == -ENOENT);
	CHECK(kv_index_update(idx, put_meta, "abc", &err) == 0);
	CHECK(kv_index_get_bytes(idx, KV_META, "note", 4, buf, sizeof(buf), &len, &err) == 0);
	CHECK(len == 3 && memcmp(buf, "abc", 3) == 0);
	CHECK(kv_index_update(idx, put_meta, "longer", &err) == 0);
	CHECK(kv_index_get_bytes(idx, KV_META, "note", 4, buf, sizeof(buf), &len, &err) == -ENOSPC);
	CHECK(len == 6);
	kv_index_close(idx);
	remove_dir(dir);
}

struct writer {
	struct kv_index *idx;
	int id, rc;
};

enum { WRITERS = 16, PUTS = 50 }; /* 16: batches form and leadership passes often */

/* Each thread puts its own keys, every third of them failing: batched into shared
 * commits, the failures must take away exactly their own keys. */
static void *write_many(void *arg)
{
	struct writer *w = arg;
	struct kv_err err;
	char key[32];
	int i;

	for (i = 0; i < PUTS; i++) {
		struct put_arg a = { key, 1, i % 3 == 0 };
		int rc;

		snprintf(key, sizeof(key), "t%d/%03d", w->id, i);
		rc = kv_index_update(w->idx, put_one, &a, &err);
		if (rc != (a.fail ? -EEXIST : 0))
			w->rc = rc == 0 ? -1 : rc;
	}
	return NULL;
}

UNIT_TEST(index_group_commit_keeps_each_callers_outcome)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], key[32];
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	struct kv_index *idx = NULL;
	struct kv_record rec;
	struct kv_err err;
	uint64_t bytes = 0, want = 0;
	int i, j, bad = 0;

	make_dir(dir, sizeof(path), path);
	CHECK(open_index(path, 0, &idx) == 0);
	for (i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){ idx, i, 0 };
		CHECK(pthread_create(&th[i], NULL, write_many, &w[i]) == 0);
	}
	for (i = 0; i < WRITERS; i++) {
		CHECK(pthread_join(th[i], NULL) == 0);
		CHECK(w[i].rc == 0);
	}
	for (i = 0; i < WRITERS; i++)
		for (j = 0; j < PUTS; j++) {
			int rc;

			snprintf(key, sizeof(key), "t%d/%03d", i, j);
			rc = kv_index_get(idx, KV_KEYS, key, strlen(key), &rec, &err);
			bad += rc != (j % 3 == 0 ? -ENOENT : 0);
			want += j % 3 != 0;
		}
	CHECK(bad == 0);
	CHECK(stat_keys(idx, &bytes) == want && bytes == want);
	kv_index_close(idx);
	remove_dir(dir);
}

/* A full index (the map's end, as a full disk would be) under concurrent writers: every
 * caller hears 0 or -ENOSPC, none hangs, and exactly the keys reported written are there. */
enum { FULL_PUTS = 60 };

struct filler {
	struct kv_index *idx;
	int id, rc[FULL_PUTS];
};

static void full_key(char *key, size_t cap, int id, int i)
{
	snprintf(key, cap, "f%02d/%03d/%0300d", id, i, 0); /* long keys fill pages fast */
}

static void *fill(void *arg)
{
	struct filler *f = arg;
	struct kv_err err;
	char key[400];
	int i;

	for (i = 0; i < FULL_PUTS; i++) {
		struct put_arg a = { key, 1, 0 };

		full_key(key, sizeof(key), f->id, i);
		f->rc[i] = kv_index_update(f->idx, put_one, &a, &err);
	}
	return NULL;
}

UNIT_TEST(index_full_under_concurrent_writers_reports_each_outcome_truly)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], key[400];
	struct kv_index_opts o = { (uint64_t)256 << 10, 1, 0 };
	struct filler f[WRITERS];
	pthread_t th[WRITERS];
	struct kv_index *idx = NULL;
	struct kv_record rec;
	struct kv_err err;
	int i, j, bad = 0, ok = 0, full = 0;

	make_dir(dir, sizeof(path), path);
	CHECK(kv_index_open(path, &o, &idx, &err) == 0);
	for (i = 0; i < WRITERS; i++) {
		f[i].idx = idx;
		f[i].id = i;
		CHECK(pthread_create(&th[i], NULL, fill, &f[i]) == 0);
	}
	for (i = 0; i < WRITERS; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	for (i = 0; i < WRITERS; i++)
		for (j = 0; j < FULL_PUTS; j++) {
			int rc = f[i].rc[j];

			full_key(key, sizeof(key), i, j);
			ok += rc == 0;
			full += rc == -ENOSPC;
			bad += rc != 0 && rc != -ENOSPC;
			bad += kv_index_get(idx, KV_KEYS, key, strlen(key), &rec, &err) !=
			       (rc == 0 ? 0 : -ENOENT);
		}
	CHECK(bad == 0);
	CHECK(ok > 0 && full > 0); /* it did fill, and not at once */
	kv_index_close(idx);
	remove_dir(dir);
}

/* A callback that notes the thread it ran on, and may dawdle (holding the batch). */
struct where_arg {
	struct put_arg put;
	pthread_t ran_on;
	unsigned pause_us;
};

static int put_noting_thread(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct where_arg *a = arg;

	a->ran_on = pthread_self();
	if (a->pause_us > 0)
		(void)usleep(a->pause_us);
	return put_one(txn, &a->put, err);
}

struct late_writer {
	struct kv_index *idx;
	struct where_arg a;
	int rc;
};

static void *write_noting_thread(void *arg)
{
	struct late_writer *w = arg;
	struct kv_err err;

	w->rc = kv_index_update(w->idx, put_noting_thread, &w->a, &err);
	return NULL;
}

enum { LATE = 3 };

UNIT_TEST(index_lone_writer_leads_and_late_writers_share_a_batch)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], keys[LATE + 1][16];
	struct late_writer w[LATE + 1];
	pthread_t th[LATE + 1];
	struct kv_index *idx = NULL;
	struct kv_record rec;
	struct kv_err err;
	int i, same = 0;

	make_dir(dir, sizeof(path), path);
	CHECK(open_index(path, 0, &idx) == 0);
	for (i = 0; i <= LATE; i++) {
		snprintf(keys[i], sizeof(keys[i]), "late%d", i);
		memset(&w[i], 0, sizeof(w[i]));
		w[i].idx = idx;
		w[i].a.put = (struct put_arg){ keys[i], 1, 0 };
	}
	/* Alone: the callback runs on the caller's thread. */
	CHECK(kv_index_update(idx, put_noting_thread, &w[0].a, &err) == 0);
	CHECK(pthread_equal(w[0].a.ran_on, pthread_self()));
	/* One slow batch; three writers come meanwhile and wait for the next. */
	snprintf(keys[0], sizeof(keys[0]), "slow");
	w[0].a.pause_us = 300000;
	CHECK(pthread_create(&th[0], NULL, write_noting_thread, &w[0]) == 0);
	(void)usleep(50000);
	for (i = 1; i <= LATE; i++)
		CHECK(pthread_create(&th[i], NULL, write_noting_thread, &w[i]) == 0);
	for (i = 0; i <= LATE; i++) {
		CHECK(pthread_join(th[i], NULL) == 0);
		CHECK(w[i].rc == 0);
		CHECK(kv_index_get(idx, KV_KEYS, keys[i], strlen(keys[i]), &rec, &err) == 0);
	}
	CHECK(pthread_equal(w[0].a.ran_on, th[0]));
	for (i = 2; i <= LATE; i++)
		same += pthread_equal(w[i].a.ran_on, w[1].a.ran_on) != 0;
	CHECK(same == LATE - 1); /* one batch, on one of theirs */
	for (i = 1; i <= LATE && !pthread_equal(th[i], w[1].a.ran_on); i++)
		;
	CHECK(i <= LATE);
	kv_index_close(idx);
	remove_dir(dir);
}

UNIT_TEST(index_commits_survive_a_reopen_and_readonly_refuses_writes)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX];
	struct put_arg a = { "kept", 3, 0 }, b = { "never", 1, 0 };
	struct kv_index *idx = NULL;
	struct kv_record rec;
	struct kv_err err;

	make_dir(dir, sizeof(path), path);
	CHECK(open_index(path, 0, &idx) == 0);
	CHECK(kv_index_update(idx, put_one, &a, &err) == 0);
	kv_index_close(idx);
	idx = NULL;
	CHECK(open_index(path, 1, &idx) == 0);
	CHECK(kv_index_get(idx, KV_KEYS, "kept", 4, &rec, &err) == 0 && rec.size == 3);
	CHECK(kv_index_update(idx, put_one, &b, &err) < 0);
	CHECK(kv_index_get(idx, KV_KEYS, "never", 5, &rec, &err) == -ENOENT);
	kv_index_close(idx);
	remove_dir(dir);
}

UNIT_TEST(index_without_sync_syncs_when_asked)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX];
	struct put_arg a = { "synced", 4, 0 };
	struct kv_index *idx = NULL;
	struct kv_record rec;
	struct kv_err err;

	make_dir(dir, sizeof(path), path);
	CHECK(open_index_sync(path, 0, 0, &idx) == 0);
	CHECK(kv_index_update(idx, put_one, &a, &err) == 0);
	CHECK(kv_index_sync(idx, &err) == 0);
	kv_index_close(idx);
	idx = NULL;
	CHECK(open_index(path, 1, &idx) == 0);
	CHECK(kv_index_sync(idx, &err) == 0); /* read-only: nothing to sync, not EACCES */
	CHECK(kv_index_get(idx, KV_KEYS, "synced", 6, &rec, &err) == 0 && rec.size == 4);
	kv_index_close(idx);
	remove_dir(dir);
}

/* Point reads renew the transaction their thread kept: each sees the latest commit, also
 * from threads beyond those that keep one, in rounds of threads that come and go (their
 * exits give theirs back; under ASan, a slip there shows as a leak or a use after free). */
#define READ_THREADS 80 /* more than the index keeps (READERS_KEPT) */

struct reader_arg {
	struct kv_index *idx;
	uint64_t want;
	int ok;
};

static void *read_twice(void *p)
{
	struct reader_arg *a = p;
	struct kv_record rec;
	struct kv_err err;

	a->ok = kv_index_get(a->idx, KV_KEYS, "k", 1, &rec, &err) == 0 && rec.size == a->want &&
		kv_index_get(a->idx, KV_KEYS, "nope", 4, &rec, &err) == -ENOENT &&
		kv_index_get(a->idx, KV_KEYS, "k", 1, &rec, &err) == 0 && rec.size == a->want;
	return NULL;
}

static int readers_see(struct kv_index *idx, uint64_t want)
{
	static struct reader_arg args[READ_THREADS];
	pthread_t t[READ_THREADS];
	int i, ok = 1;

	for (i = 0; i < READ_THREADS; i++) {
		args[i] = (struct reader_arg){ idx, want, 0 };
		CHECK(pthread_create(&t[i], NULL, read_twice, &args[i]) == 0);
	}
	for (i = 0; i < READ_THREADS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		ok &= args[i].ok;
	}
	return ok;
}

UNIT_TEST(index_point_reads_see_each_commit_from_any_thread)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX];
	struct put_arg one = { "k", 1, 0 }, two = { "k", 2, 0 };
	struct kv_index *idx = NULL;
	struct kv_record rec;
	struct kv_err err;
	uint64_t bytes = 0;
	int round;

	make_dir(dir, sizeof(path), path);
	CHECK(open_index(path, 0, &idx) == 0);
	CHECK(kv_index_update(idx, put_one, &one, &err) == 0);
	CHECK(kv_index_get(idx, KV_KEYS, "k", 1, &rec, &err) == 0 && rec.size == 1);
	CHECK(kv_index_update(idx, put_one, &two, &err) == 0);
	CHECK(kv_index_get(idx, KV_KEYS, "k", 1, &rec, &err) == 0 && rec.size == 2);
	CHECK(stat_keys(idx, &bytes) == 1 && bytes == 2);
	for (round = 0; round < 3; round++) { /* new threads each round */
		CHECK(readers_see(idx, round == 0 ? 2 : 1));
		CHECK(kv_index_update(idx, put_one, &one, &err) == 0);
	}
	CHECK(kv_index_get(idx, KV_KEYS, "k", 1, &rec, &err) == 0 && rec.size == 1);
	kv_index_close(idx); /* with this thread's kept transaction */
	remove_dir(dir);
}
