/* intents.h — operations in flight, one per key: the per-key lock and the crash log.
 *
 * An intent is written before a write touches any shard and dropped once the index holds
 * the outcome. While its owner lives it is a lock: a second writer of the key gets -EBUSY.
 * When the owner has died, whoever meets the intent next takes it over and finishes or
 * undoes the work it describes (store.c: recovery).
 *
 * Intents live in their own small LMDB environment on tmpfs (/dev/shm), shared by every
 * process using the same index: writing one costs no disk sync, it survives any process
 * crash, and a reboot — after which no owner can be alive — starts it empty. Files an
 * intent had created on shards are then only orphans, which `tinykvd verify --repair`
 * removes; the index itself never points at a missing file.
 */
#ifndef KV_INTENTS_H
#define KV_INTENTS_H

#include <stddef.h>

#include "err.h"
#include "record.h"

struct kv_intents;

/* Open the intent log belonging to the index in index_dir (created on first use). */
int kv_intents_open(const char *index_dir, struct kv_intents **out, struct kv_err *err);
void kv_intents_close(struct kv_intents *ints);

/*
 * Store in (whose owner fields are set to this process here) under key unless an intent
 * is already there. Returns 0; -EBUSY when a live owner holds the key; -EOWNERDEAD when its
 * owner is dead — *existing (if non-NULL) then holds that intent, for recovery.
 */
int kv_intents_acquire(struct kv_intents *ints, const char *key, size_t klen,
		       struct kv_intent *in, struct kv_intent *existing, struct kv_err *err);

/* Replace our own intent on key (a phase change). */
int kv_intents_update(struct kv_intents *ints, const char *key, size_t klen,
		      const struct kv_intent *in, struct kv_err *err);

/* Drop the intent on key. Missing is not an error. */
int kv_intents_release(struct kv_intents *ints, const char *key, size_t klen,
		       struct kv_err *err);

/*
 * Claim a dead owner's intent on key: succeeds only if the stored intent still has the
 * owner recorded in *dead (nobody else claimed it meanwhile); the stored owner becomes
 * this process and *dead is updated to match. -EBUSY when it changed hands.
 */
int kv_intents_takeover(struct kv_intents *ints, const char *key, size_t klen,
			struct kv_intent *dead, struct kv_err *err);

/* Read the intent on key. -ENOENT when none. */
int kv_intents_get(struct kv_intents *ints, const char *key, size_t klen,
		   struct kv_intent *in, struct kv_err *err);

/*
 * Call fn for every intent whose owner is dead, in key order, with a copy of key and
 * intent (fn may call any function of this module). Returns the number visited or -errno.
 */
typedef int (*kv_intents_fn)(const char *key, size_t klen, struct kv_intent *in, void *arg);
int kv_intents_each_dead(struct kv_intents *ints, kv_intents_fn fn, void *arg,
			 struct kv_err *err);

/*
 * Call fn for every intent, live owners' included, in key order, with a copy of key and
 * intent (fn may call any function of this module). fn returns 0 to go on; anything else
 * stops the walk and is returned. Returns 0 when every intent was visited, or -errno.
 */
int kv_intents_each(struct kv_intents *ints, kv_intents_fn fn, void *arg,
		    struct kv_err *err);

/* Number of intents, live owners included. */
int kv_intents_count(struct kv_intents *ints, size_t *n, struct kv_err *err);

#endif
