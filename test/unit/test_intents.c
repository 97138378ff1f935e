/* The intent log across a reboot (core/intents.h): within a boot every intent stays; the
 * first open in a new boot starts the log afresh, keeping only the COMMIT intents with
 * moves — whose durable copies are in the index — as intents of a dead owner; and the
 * record change that completes one removes its copy in the same commit. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index.h"
#include "intents.h"
#include "unit.h"

static const char boot_key[] = "intents.boot";

static int set_boot(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	return kv_txn_put_bytes(txn, KV_META, boot_key, sizeof(boot_key) - 1, arg,
				strlen(arg), err);
}

static int nothing(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	(void)txn;
	(void)arg;
	(void)err;
	return 0;
}

static int count_dead(const char *key, size_t klen, struct kv_intent *in, void *arg)
{
	int *n = arg;

	CHECK(klen == 3 && memcmp(key, "upd", 3) == 0);
	CHECK(in->pid == 0 && in->phase == KV_PHASE_COMMIT && in->nmoves == 1);
	(*n)++;
	return 0;
}

UNIT_TEST(intents_survive_a_reboot_only_when_durable)
{
	struct kv_index_opts o = { (uint64_t)64 << 20, 1, 0 };
	struct kv_intent *in = calloc(1, sizeof(*in)), *got = calloc(1, sizeof(*got));
	struct kv_index *idx = NULL;
	struct kv_intents *ints = NULL;
	struct kv_err err;
	char dir[64] = "/tmp/kvunit-XXXXXX", path[PATH_MAX], cmd[128];
	size_t n;
	int dead = 0;

	CHECK(in != NULL && got != NULL && mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/index", dir);
	CHECK(kv_index_open(path, &o, &idx, &err) == 0);
	CHECK(kv_intents_open(idx, &ints, &err) == 0);
	/* A new key's intent (PREPARE) and an update's at COMMIT, with a MOVE. */
	in->op = KV_OP_PUT;
	CHECK(kv_intents_acquire(ints, "new", 3, in, NULL, &err) == 0);
	CHECK(kv_index_has(idx, KV_INTENTS, "new", 3, &err) == 0);
	in->op = KV_OP_UPDATE;
	CHECK(kv_intents_acquire(ints, "upd", 3, in, NULL, &err) == 0);
	in->phase = KV_PHASE_COMMIT;
	CHECK(kv_fileref_add(in->moves, &in->nmoves, KV_MAX_REPLICAS, "localhost:1", "upd", 3,
			     42) == 0);
	CHECK(kv_intents_update(ints, "upd", 3, in, &err) == 0);
	CHECK(kv_index_has(idx, KV_INTENTS, "upd", 3, &err) == 1);
	/* Reopened in the same boot: both are still there. */
	kv_intents_close(ints);
	CHECK(kv_intents_open(idx, &ints, &err) == 0);
	CHECK(kv_intents_count(ints, &n, &err) == 0 && n == 2);
	/* A new boot: only the durable one, owned by nobody. */
	kv_intents_close(ints);
	CHECK(kv_index_update(idx, set_boot, "00000000-0000-0000-0000-000000000000", &err) == 0);
	CHECK(kv_intents_open(idx, &ints, &err) == 0);
	CHECK(kv_intents_count(ints, &n, &err) == 0 && n == 1);
	CHECK(kv_intents_get(ints, "new", 3, got, &err) == -ENOENT);
	CHECK(kv_intents_each_dead(ints, count_dead, &dead, &err) == 1 && dead == 1);
	/* Finishing it: the record change takes the durable copy with it. */
	CHECK(kv_intents_commit(ints, "upd", 3, nothing, NULL, &err) == 0);
	CHECK(kv_index_has(idx, KV_INTENTS, "upd", 3, &err) == 0);
	CHECK(kv_intents_release(ints, "upd", 3, &err) == 0);
	CHECK(kv_intents_count(ints, &n, &err) == 0 && n == 0);
	/* A release drops a durable copy that no record change took. */
	in->phase = KV_PHASE_PREPARE;
	in->nmoves = 0;
	CHECK(kv_intents_acquire(ints, "upd", 3, in, NULL, &err) == 0);
	in->phase = KV_PHASE_COMMIT;
	in->nmoves = 1;
	CHECK(kv_intents_update(ints, "upd", 3, in, &err) == 0);
	CHECK(kv_index_has(idx, KV_INTENTS, "upd", 3, &err) == 1);
	CHECK(kv_intents_release(ints, "upd", 3, &err) == 0);
	CHECK(kv_index_has(idx, KV_INTENTS, "upd", 3, &err) == 0);
	kv_intents_close(ints);
	kv_index_close(idx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	free(in);
	free(got);
}
