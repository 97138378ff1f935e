/* Hard links in the record and the index (core/record.h: nlink and the value key;
 * core/index.h: KV_LINKS and kv_txn_put storing under every name): a version-3 record
 * round trips, a version-2 one reads as one name with its own value, a linked record
 * stored under one name shows under all, a name removed leaves the others and its row,
 * and a record back at one name drops its row. Against a real LMDB index. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "unit.h"

UNIT_TEST(record_v3_carries_the_link_count_and_value_key)
{
	struct kv_record r, back;
	uint8_t buf[KV_RECORD_MAX];
	size_t n;

	kv_record_new(&r, KV_TYPE_REG, NULL);
	CHECK(r.nlink == 1 && r.vkey_len == 0);
	CHECK(kv_record_owns_value(&r, "k", 1));
	r.nlink = 3;
	memcpy(r.vkey, "dir/first", 9);
	r.vkey_len = 9;
	n = kv_record_encode(&r, buf, sizeof(buf));
	CHECK(n > 0 && buf[0] == 3);
	CHECK(kv_record_decode(buf, n, &back) == 0);
	CHECK(back.nlink == 3 && back.vkey_len == 9 && strcmp(back.vkey, "dir/first") == 0);
	CHECK(kv_record_owns_value(&back, "dir/first", 9));
	CHECK(!kv_record_owns_value(&back, "second", 6));
	/* A version-2 record is what it was: one name, its value at its own key. */
	buf[0] = 2;
	CHECK(kv_record_decode(buf, n - 6 - 9, &back) == 0);
	CHECK(back.nlink == 1 && back.vkey_len == 0);
	/* A NUL inside the value key is damage. */
	r.vkey[3] = '\0';
	n = kv_record_encode(&r, buf, sizeof(buf));
	CHECK(kv_record_decode(buf, n, &back) == -KV_ECORRUPT);
}

struct link_put {
	const char *key;
	struct kv_record rec;
	int del;
};

static int put_or_del(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct link_put *a = arg;

	if (a->del)
		return kv_txn_del(txn, KV_KEYS, a->key, strlen(a->key), err);
	return kv_txn_put(txn, KV_KEYS, a->key, strlen(a->key), &a->rec, err);
}

static void apply(struct kv_index *idx, const char *key, const struct kv_record *rec)
{
	struct link_put a = { key, { 0 }, rec == NULL };
	struct kv_err err;

	if (rec != NULL)
		a.rec = *rec;
	CHECK(kv_index_update(idx, put_or_del, &a, &err) == 0);
}

static int count_row(const char *row, size_t rlen, const void *val, size_t len, void *arg)
{
	(void)row;
	(void)rlen;
	(void)val;
	(void)len;
	++*(int *)arg;
	return 0;
}

struct rows {
	uint64_t ino;
	int n;
};

static int rows_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct rows *r = arg;

	r->n = 0;
	return kv_txn_each_link(txn, r->ino, count_row, &r->n, err);
}

static int rows_of(struct kv_index *idx, uint64_t ino)
{
	struct rows r = { ino, -1 };
	struct kv_err err;

	CHECK(kv_index_view(idx, rows_txn, &r, &err) == 0);
	return r.n;
}

static uint32_t mode_of(struct kv_index *idx, const char *key, uint32_t *nlink)
{
	struct kv_record rec;
	struct kv_err err;

	if (kv_index_get(idx, KV_KEYS, key, strlen(key), &rec, &err) < 0)
		return 0;
	*nlink = rec.nlink;
	return rec.mode;
}

UNIT_TEST(index_stores_a_linked_record_under_every_name)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], cmd[PATH_MAX + 16];
	struct kv_index_opts o = { (uint64_t)64 << 20, 1, 0 };
	struct kv_index *idx = NULL;
	struct kv_record rec;
	struct kv_err err;
	uint32_t nlink = 0;

	CHECK(mkdtemp(dir) != NULL);
	(void)snprintf(path, sizeof(path), "%s/index", dir);
	CHECK(kv_index_open(path, &o, &idx, &err) == 0);
	kv_record_new(&rec, KV_TYPE_REG, NULL);
	rec.ino = 77;
	apply(idx, "a", &rec);
	CHECK(rows_of(idx, 77) == 0); /* one name: no row */
	/* link a b, as links.c does: the old name first, then the new one */
	rec.nlink = 2;
	memcpy(rec.vkey, "a", 2);
	rec.vkey_len = 1;
	apply(idx, "a", &rec);
	apply(idx, "b", &rec);
	CHECK(rows_of(idx, 77) == 2);
	/* a chmod through b shows through a */
	rec.mode = 0600;
	apply(idx, "b", &rec);
	CHECK(mode_of(idx, "a", &nlink) == 0600 && nlink == 2);
	/* a third name, then a change through the first */
	rec.nlink = 3;
	apply(idx, "c", &rec);
	rec.mode = 0640;
	apply(idx, "a", &rec);
	CHECK(mode_of(idx, "b", &nlink) == 0640 && nlink == 3);
	CHECK(mode_of(idx, "c", &nlink) == 0640 && nlink == 3);
	/* b goes: its row with it; the others count one less */
	apply(idx, "b", NULL);
	CHECK(rows_of(idx, 77) == 2);
	rec.nlink = 2;
	apply(idx, "c", &rec);
	CHECK(mode_of(idx, "a", &nlink) == 0640 && nlink == 2);
	CHECK(mode_of(idx, "b", &nlink) == 0);
	/* c goes: a is alone, its own value key again, and has no row left */
	apply(idx, "c", NULL);
	rec.nlink = 1;
	rec.vkey_len = 0;
	rec.vkey[0] = '\0';
	apply(idx, "a", &rec);
	CHECK(rows_of(idx, 77) == 0);
	CHECK(mode_of(idx, "a", &nlink) == 0640 && nlink == 1);
	kv_index_close(idx);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}
