/* populate.c — fill an index with N records quickly (batches of 10,000 per transaction),
 * for measuring how start-up time and memory behave as the index grows. The records
 * point at shards that need not hold anything: start-up never reads them.
 *
 *   populate INDEX_DIR N SHARD
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
#include "store.h"

struct batch {
	long from, to;
	const char *shard;
};

static int put_batch(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct batch *b = arg;
	struct kv_record rec;
	long i;

	kv_record_new(&rec, KV_TYPE_REG, NULL);
	rec.nrep = 1;
	snprintf(rec.rep[0], sizeof(rec.rep[0]), "%s", b->shard);
	for (i = b->from; i < b->to; i++) {
		char key[64];
		int n = snprintf(key, sizeof(key), "populate/%09ld", i);
		int rc;

		rec.size = (uint64_t)(i % 4096);
		rec.gen = kv_new_gen();
		rc = kv_txn_put(txn, KV_KEYS, key, (size_t)n, &rec, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct kv_index_opts o = { (uint64_t)16 << 30, 0, 0 };
	struct kv_index *idx;
	struct kv_err err;
	long n, i;

	if (argc != 4) {
		fprintf(stderr, "usage: populate INDEX_DIR N SHARD\n");
		return 2;
	}
	n = atol(argv[2]);
	if (kv_index_open(argv[1], &o, &idx, &err) < 0) {
		fprintf(stderr, "populate: %s\n", err.msg);
		return 1;
	}
	for (i = 0; i < n; i += 10000) {
		struct batch b = { i, i + 10000 < n ? i + 10000 : n, argv[3] };

		if (kv_index_update(idx, put_batch, &b, &err) < 0) {
			fprintf(stderr, "populate: %s\n", err.msg);
			return 1;
		}
	}
	kv_index_close(idx);
	return 0;
}
