/* Inode numbers in the index (core/index.h, kv_txn_put and kv_txn_new_inos): a record
 * stored without one gets a number no other record has, a replacement keeps the number of
 * what it replaces (an older, version-1 record's being the md5-of-the-key one), a number
 * given stays, and the counter outlives a reopen. Against a real LMDB index. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "unit.h"

struct ino_put {
	enum kv_table t;
	const char *key;
	uint64_t ino;  /* what the record brings (0: none) */
	uint64_t took; /* kv_txn_new_inos: how many, and the first */
	uint64_t first;
};

static int put_rec(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct ino_put *a = arg;
	struct kv_record rec;

	memset(&rec, 0, sizeof(rec));
	rec.type = a->t == KV_DIRS ? KV_TYPE_DIR : KV_TYPE_FIFO;
	rec.mode = 0644;
	rec.ino = a->ino;
	rec.gen = kv_new_gen();
	return kv_txn_put(txn, a->t, a->key, strlen(a->key), &rec, err);
}

static int take(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct ino_put *a = arg;

	return kv_txn_new_inos(txn, a->took, &a->first, err);
}

/* A directory record as a tinykv before record version 2 wrote it: no inode number. */
static int put_v1_dir(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	static const uint8_t v1[] = {
		1, KV_TYPE_DIR, 0xed, 0x01, 0, 0,		    /* version, type, mode 0755 */
		0, 0,		0,    0,    0, 0, 0, 0,		    /* uid, gid */
		0, 0,		0,    0,    0, 0, 0, 0,		    /* size */
		0, 0,		0,    0,    0, 0, 0, 0, 0, 0, 0, 0, /* mtime, ctime, atime */
		0, 0,		0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0,
		0, 0,		0,    0,					/* gen */
		0, 0,		0,    0,    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* md5 */
		0, 0,		0 /* no replicas, no target */
	};

	return kv_txn_put_bytes(txn, KV_DIRS, arg, strlen(arg), v1, sizeof(v1), err);
}

static uint64_t ino_of(struct kv_index *idx, enum kv_table t, const char *key)
{
	struct kv_record rec;
	struct kv_err err;

	if (kv_index_get(idx, t, key, strlen(key), &rec, &err) < 0)
		return 0;
	return rec.ino;
}

static void put(struct kv_index *idx, enum kv_table t, const char *key, uint64_t ino)
{
	struct ino_put a = { t, key, ino, 0, 0 };
	struct kv_err err;

	CHECK(kv_index_update(idx, put_rec, &a, &err) == 0);
}

UNIT_TEST(index_gives_each_record_its_own_inode_number)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], cmd[PATH_MAX + 16];
	struct kv_index_opts o = { (uint64_t)64 << 20, 1, 0 };
	struct kv_index *idx = NULL;
	struct ino_put block = { KV_KEYS, NULL, 0, 256, 0 };
	struct kv_record rec;
	struct kv_err err;
	uint64_t a, b, d, v1;

	CHECK(mkdtemp(dir) != NULL);
	(void)snprintf(path, sizeof(path), "%s/index", dir);
	CHECK(kv_index_open(path, &o, &idx, &err) == 0);
	put(idx, KV_KEYS, "a", 0);
	put(idx, KV_KEYS, "b", 0);
	put(idx, KV_DIRS, "d", 0);
	a = ino_of(idx, KV_KEYS, "a");
	b = ino_of(idx, KV_KEYS, "b");
	d = ino_of(idx, KV_DIRS, "d");
	CHECK(a == 2 && b == 3 && d == 4); /* from 2 on: 1 is the root's */
	put(idx, KV_KEYS, "a", 0);	   /* a replacement keeps the number */
	CHECK(ino_of(idx, KV_KEYS, "a") == a);
	put(idx, KV_KEYS, "b", a); /* one brought along (a rename) stays */
	CHECK(ino_of(idx, KV_KEYS, "b") == a);
	CHECK(kv_index_update(idx, take, &block, &err) == 0); /* a writer's block */
	CHECK(block.first == 5);
	put(idx, KV_KEYS, "c", 0);
	CHECK(ino_of(idx, KV_KEYS, "c") == 5 + 256);

	/* An older record has none: written again, it keeps the number its key made. */
	CHECK(kv_index_update(idx, put_v1_dir, "old", &err) == 0);
	CHECK(kv_index_get(idx, KV_DIRS, "old", 3, &rec, &err) == 0 && rec.ino == 0);
	v1 = kv_record_ino(&rec, "old", 3);
	put(idx, KV_DIRS, "old", 0);
	CHECK(ino_of(idx, KV_DIRS, "old") == v1);
	kv_index_close(idx);

	/* The counter is in the index: after a reopen no number comes twice. */
	CHECK(kv_index_open(path, &o, &idx, &err) == 0);
	put(idx, KV_KEYS, "e", 0);
	CHECK(ino_of(idx, KV_KEYS, "e") == 5 + 256 + 1);
	kv_index_close(idx);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}
