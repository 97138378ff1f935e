/* The intent log (core/intents.h). As a lock: a live owner's key is refused to everyone
 * else (itself included), other keys are free, and a dead owner's intent is handed over
 * once, to one claimant. As a crash log: a process that dies holding intents (a child
 * that _exits with the log open, as a crash would leave it) leaves them, whole, to the
 * next process, which finishes one through kv_intents_commit (the record change and the
 * end of the durable copy in one transaction; a refused change keeps the copy) or drops
 * it. Across a reboot: within a boot every intent stays; the first open in a new boot
 * starts the log afresh, keeping only the COMMIT intents with moves — whose durable
 * copies are in the index — as intents of a dead owner. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "index.h"
#include "intents.h"
#include "unit.h"

static const char boot_key[] = "intents.boot";

static int set_boot(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	return kv_txn_put_bytes(txn, KV_META, boot_key, sizeof(boot_key) - 1, arg, strlen(arg),
				err);
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

static int open_log(const char *dir, struct kv_index **idx, struct kv_intents **ints)
{
	struct kv_index_opts o = { (uint64_t)64 << 20, 1, 0 };
	char path[PATH_MAX];
	struct kv_err err;

	snprintf(path, sizeof(path), "%s/index", dir);
	if (kv_index_open(path, &o, idx, &err) < 0)
		return -1;
	if (kv_intents_open(*idx, ints, &err) < 0) {
		kv_index_close(*idx);
		return -1;
	}
	return 0;
}

static void remove_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

/* A writer in a child process: it takes "held" (an update's PREPARE) and "moving" (a
 * COMMIT with a MOVE, so also durable), says so on ready, waits until go closes, and dies
 * without releasing or closing anything. Returns its pid. */
static pid_t crashing_writer(const char *dir, int ready[2], int go[2])
{
	pid_t pid = fork();
	struct kv_intent *in;
	struct kv_index *idx;
	struct kv_intents *ints;
	struct kv_err err;
	char c = 0;

	if (pid != 0)
		return pid;
	close(ready[0]);
	close(go[1]);
	in = calloc(1, sizeof(*in));
	if (in == NULL || open_log(dir, &idx, &ints) < 0)
		_exit(1);
	in->op = KV_OP_UPDATE;
	(void)kv_fileref_add(in->undo, &in->nundo, KV_INTENT_FILES, "localhost:1", "held", 4, 7);
	if (kv_intents_acquire(ints, "held", 4, in, NULL, &err) < 0)
		_exit(1);
	in->nundo = 0;
	if (kv_intents_acquire(ints, "moving", 6, in, NULL, &err) < 0)
		_exit(1);
	in->phase = KV_PHASE_COMMIT;
	(void)kv_fileref_add(in->moves, &in->nmoves, KV_MAX_REPLICAS, "localhost:1", "moving", 6,
			     9);
	if (kv_intents_update(ints, "moving", 6, in, &err) < 0)
		_exit(1);
	if (write(ready[1], &c, 1) != 1)
		_exit(1);
	(void)read(go[0], &c, 1); /* until the parent closes its end */
	_exit(0);
}

static int count_visit(const char *key, size_t klen, struct kv_intent *in, void *arg)
{
	(void)key;
	(void)klen;
	(void)in;
	(*(int *)arg)++;
	return 0;
}

UNIT_TEST(intents_lock_a_key_while_its_owner_lives)
{
	struct kv_intent *in = calloc(1, sizeof(*in)), *got = calloc(1, sizeof(*got));
	struct kv_intent *stale = calloc(1, sizeof(*stale));
	struct kv_index *idx = NULL;
	struct kv_intents *ints = NULL;
	struct kv_err err;
	char dir[64] = "/tmp/kvunit-XXXXXX", c;
	int ready[2], go[2], status, dead = 0;
	pid_t child;

	CHECK(in != NULL && got != NULL && stale != NULL && mkdtemp(dir) != NULL);
	CHECK(pipe(ready) == 0 && pipe(go) == 0);
	child = crashing_writer(dir, ready, go);
	CHECK(child > 0);
	close(ready[1]);
	close(go[0]);
	CHECK(read(ready[0], &c, 1) == 1);
	CHECK(open_log(dir, &idx, &ints) == 0);
	/* The child lives: its keys are refused, and its intent says whose they are. */
	in->op = KV_OP_PUT;
	CHECK(kv_intents_acquire(ints, "held", 4, in, got, &err) == -EBUSY);
	CHECK(got->pid == child && got->op == KV_OP_UPDATE && got->nundo == 1);
	CHECK(kv_intents_each_dead(ints, count_visit, &dead, &err) == 0 && dead == 0);
	/* Another key is free; taking it twice, even by its owner, is refused. */
	CHECK(kv_intents_acquire(ints, "mine", 4, in, NULL, &err) == 0);
	CHECK(kv_intents_acquire(ints, "mine", 4, in, NULL, &err) == -EBUSY);
	CHECK(kv_intents_get(ints, "mine", 4, got, &err) == 0 && got->pid == getpid());
	/* The child dies holding its keys: they are offered to whoever comes next. */
	close(go[1]);
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(kv_intents_acquire(ints, "held", 4, in, got, &err) == -EOWNERDEAD);
	CHECK(got->pid == child && got->op == KV_OP_UPDATE);
	CHECK(got->nundo == 1 && got->undo[0].tmp == 7);
	CHECK_STR(got->undo[0].shard, "localhost:1");
	*stale = *got;
	/* Handed over once: the second claimant of the same dead intent is refused. */
	CHECK(kv_intents_takeover(ints, "held", 4, got, &err) == 0 && got->pid == getpid());
	CHECK(kv_intents_takeover(ints, "held", 4, stale, &err) == -EBUSY);
	CHECK(kv_intents_acquire(ints, "held", 4, in, NULL, &err) == -EBUSY);
	CHECK(kv_intents_release(ints, "held", 4, &err) == 0);
	CHECK(kv_intents_release(ints, "held", 4, &err) == 0); /* missing: not an error */
	CHECK(kv_intents_acquire(ints, "held", 4, in, NULL, &err) == 0);
	kv_intents_close(ints);
	kv_index_close(idx);
	remove_dir(dir);
	free(in);
	free(got);
	free(stale);
}

struct put_rec {
	const char *key;
	int refuse; /* put the record, then fail: nothing may stay */
};

static int put_rec(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct put_rec *a = arg;
	struct kv_record rec;
	int rc;

	memset(&rec, 0, sizeof(rec));
	rec.type = KV_TYPE_REG;
	rec.mode = 0644;
	rec.gen = kv_new_gen();
	rc = kv_txn_put(txn, KV_KEYS, a->key, strlen(a->key), &rec, err);
	if (rc == 0 && a->refuse)
		return kv_err_set(err, -EAGAIN, "changed meanwhile");
	return rc;
}

UNIT_TEST(intents_of_a_crashed_process_are_left_whole_to_the_next)
{
	struct kv_intent *got = calloc(1, sizeof(*got));
	struct kv_index *idx = NULL;
	struct kv_intents *ints = NULL;
	struct kv_err err;
	struct put_rec refused = { "moving", 1 }, applied = { "moving", 0 };
	char dir[64] = "/tmp/kvunit-XXXXXX", c;
	int ready[2], go[2], status, dead = 0;
	size_t n;
	pid_t child;

	CHECK(got != NULL && mkdtemp(dir) != NULL);
	CHECK(pipe(ready) == 0 && pipe(go) == 0);
	child = crashing_writer(dir, ready, go);
	CHECK(child > 0);
	close(ready[1]);
	close(go[0]);
	CHECK(read(ready[0], &c, 1) == 1);
	close(go[1]);
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* Opened after the crash: both intents, as they were written, owned by the dead. */
	CHECK(open_log(dir, &idx, &ints) == 0);
	CHECK(kv_intents_count(ints, &n, &err) == 0 && n == 2);
	CHECK(kv_intents_each_dead(ints, count_visit, &dead, &err) == 2 && dead == 2);
	CHECK(kv_intents_get(ints, "moving", 6, got, &err) == 0);
	CHECK(got->pid == child && got->phase == KV_PHASE_COMMIT && got->nmoves == 1 &&
	      got->moves[0].tmp == 9);
	CHECK(kv_index_has(idx, KV_INTENTS, "moving", 6, &err) == 1);
	CHECK(kv_index_has(idx, KV_INTENTS, "held", 4, &err) == 0); /* PREPARE: log only */
	CHECK(kv_intents_takeover(ints, "moving", 6, got, &err) == 0);
	/* A refused record change changes nothing: no record, the durable copy stays. */
	CHECK(kv_intents_commit(ints, "moving", 6, put_rec, &refused, &err) == -EAGAIN);
	CHECK(kv_index_has(idx, KV_KEYS, "moving", 6, &err) == 0);
	CHECK(kv_index_has(idx, KV_INTENTS, "moving", 6, &err) == 1);
	/* The applied one takes the copy with it; the log entry stays until the release. */
	CHECK(kv_intents_commit(ints, "moving", 6, put_rec, &applied, &err) == 0);
	CHECK(kv_index_has(idx, KV_KEYS, "moving", 6, &err) == 1);
	CHECK(kv_index_has(idx, KV_INTENTS, "moving", 6, &err) == 0);
	CHECK(kv_intents_get(ints, "moving", 6, got, &err) == 0);
	CHECK(kv_intents_release(ints, "moving", 6, &err) == 0);
	/* Undone: dropped without a record change. */
	CHECK(kv_intents_release(ints, "held", 4, &err) == 0);
	CHECK(kv_intents_count(ints, &n, &err) == 0 && n == 0);
	CHECK(kv_index_has(idx, KV_KEYS, "held", 4, &err) == 0);
	kv_intents_close(ints);
	kv_index_close(idx);
	remove_dir(dir);
	free(got);
}
