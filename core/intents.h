/* intents.h — operations in flight, one per key: the per-key lock and the crash log.
 *
 * An intent is written before a write touches any shard and dropped once the index holds
 * the outcome. While its owner lives it is a lock: a second writer of the key gets -EBUSY.
 * When the owner has died, whoever meets the intent next takes it over and finishes or
 * undoes the work it describes (write.c: recovery).
 *
 * Where they live. Every intent is in the intent log, a small LMDB environment of its own
 * in INDEX/intents (private like the index: 0700, files 0600), shared by every process
 * using the index. It is written without syncs, so it costs no disk wait and survives any
 * process crash, but not an OS crash or power loss in one piece: it is trusted for one
 * boot only. The first process to open it after a restart (the boot id in the index's
 * KV_META differs) discards it and starts afresh.
 *
 * What must outlive a reboot has a second, durable copy in the index (KV_INTENTS,
 * committed and synced with the index's group commit): an intent in the COMMIT phase
 * that MOVEs uploads onto final paths (an update, a rename), because after such a MOVE
 * the index still describes the old value until the intent's record change is applied.
 * kv_intents_update writes that copy before returning, so it is on disk before the first
 * MOVE; kv_intents_commit removes it in the same transaction as the record change, and
 * kv_intents_release otherwise. The afresh log of a new boot starts with these copies
 * (owner: none, so dead), for recovery to finish. Everything else lost in a reboot —
 * intents of new keys, deletes, the PREPARE phase of any write — lists only files that
 * the index does not point at: orphans, which `tinykvd verify --repair` removes. The
 * index itself never points at a missing file.
 *
 * Order, so that within a boot the log is never behind its durable copy: the log is
 * written first and the copy second; the copy is removed first and the log entry last.
 *
 * Threads: every function may be called from any thread, at once; each change of the log
 * is a short LMDB write transaction of its own, which LMDB runs one at a time across
 * processes. Nothing here touches a shard. A call that writes or drops a durable copy
 * (update, commit, release) waits for the index's group commit and its sync.
 * Errors: negative errno with err set; LMDB's codes through kv_lmdb_errno.
 */
#ifndef KV_INTENTS_H
#define KV_INTENTS_H

#include <stddef.h>

#include "err.h"
#include "index.h"
#include "record.h"

struct kv_intents;

/*
 * Open the intent log of the open index idx (created on first use; started afresh, with
 * the durable copies, on the first open after a reboot). idx must stay open until
 * kv_intents_close. Errors: those of kv_private_dir for INDEX/intents and its files, of
 * reading the boot id, of LMDB.
 */
int kv_intents_open(struct kv_index *idx, struct kv_intents **out, struct kv_err *err);
/* Once no thread uses it (NULL: no-op); before kv_index_close. */
void kv_intents_close(struct kv_intents *ints);

/* What opening changed that a person should hear of (see kv_index_notes). */
const char *kv_intents_notes(const struct kv_intents *ints);

/*
 * Store in (whose owner fields are set to this process here) under key unless an intent
 * is already there. Returns 0; -EBUSY when a live owner holds the key; -EOWNERDEAD when its
 * owner is dead — *existing (if non-NULL) then holds that intent, for recovery.
 */
int kv_intents_acquire(struct kv_intents *ints, const char *key, size_t klen, struct kv_intent *in,
		       struct kv_intent *existing, struct kv_err *err);

/* Replace our own intent on key (a phase change; whose it is is not checked). A COMMIT intent with moves is also
 * stored durably (see above) before this returns: one synced index commit, shared with
 * concurrent writers. */
int kv_intents_update(struct kv_intents *ints, const char *key, size_t klen,
		      const struct kv_intent *in, struct kv_err *err);

/* Run fn as kv_index_update does, and in the same transaction drop the durable copy of
 * the intent on key, if any: for the record change that completes a COMMIT intent. */
int kv_intents_commit(struct kv_intents *ints, const char *key, size_t klen, kv_txn_fn fn,
		      void *arg, struct kv_err *err);

/* Drop the intent on key (its durable copy first, if one is left). Missing is not an
 * error. */
int kv_intents_release(struct kv_intents *ints, const char *key, size_t klen, struct kv_err *err);

/*
 * Claim a dead owner's intent on key: succeeds only if the stored intent still has the
 * owner recorded in *dead (nobody else claimed it meanwhile); the stored owner becomes
 * this process and *dead is updated to match. -EBUSY when it changed hands.
 */
int kv_intents_takeover(struct kv_intents *ints, const char *key, size_t klen,
			struct kv_intent *dead, struct kv_err *err);

/* Read the intent on key. -ENOENT when none. */
int kv_intents_get(struct kv_intents *ints, const char *key, size_t klen, struct kv_intent *in,
		   struct kv_err *err);

/*
 * Call fn for every intent whose owner is dead, in key order, with a copy of key and
 * intent (fn may call any function of this module). A negative return of fn stops the
 * walk and is returned; otherwise returns the number visited, or -errno.
 */
typedef int (*kv_intents_fn)(const char *key, size_t klen, struct kv_intent *in, void *arg);
int kv_intents_each_dead(struct kv_intents *ints, kv_intents_fn fn, void *arg, struct kv_err *err);

/*
 * Call fn for every intent, live owners' included, in key order, with a copy of key and
 * intent (fn may call any function of this module). fn returns 0 to go on; anything else
 * stops the walk and is returned. Returns 0 when every intent was visited, or -errno.
 */
int kv_intents_each(struct kv_intents *ints, kv_intents_fn fn, void *arg, struct kv_err *err);

/* Number of intents, live owners included. */
int kv_intents_count(struct kv_intents *ints, size_t *n, struct kv_err *err);

#endif
