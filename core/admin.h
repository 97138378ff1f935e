/* admin.h — keeping a cluster in shape: rebalance after the shard list changes, rebuild
 * a lost index from the shards, verify (and repair) index and shards against each other.
 *
 * All three stream: over the index in batches of keys, over the shards one directory
 * listing at a time; neither the key set nor the file set is ever held in memory. They may
 * run while tinykvd and mounts serve the same index: each key is changed under its own
 * lock (intent), readers keep a readable copy throughout. The library prints nothing:
 * progress and findings arrive through callbacks (called with a lock held, one at a time).
 *
 * Threads: each call runs on the caller's thread and starts up to o->jobs workers of its
 * own (rebalance also a cleaner), from which the callbacks may be called too; it returns
 * once they have stopped. It blocks on the shards for as long as the run takes.
 */
#ifndef KV_ADMIN_H
#define KV_ADMIN_H

#include <stdint.h>

#include "err.h"
#include "store.h"

struct kv_progress {
	const char *phase;    /* what is being counted */
	const char *unit;     /* "keys", "directories" */
	uint64_t done, total; /* total 0: not known yet */
	uint64_t hits;	      /* moved / found / problems so far */
};

struct kv_admin_opts {
	int jobs;		  /* parallel workers */
	int repair;		  /* verify: fix what is found */
	int deep;		  /* verify: read every replica whole (size and md5), not HEAD */
	const char *const *force; /* verify: shards whose missing data is gone for good */
	int nforce;
	int grace_ms; /* rebalance: keep old copies this long after the switch */
	void (*progress)(const struct kv_progress *p, void *arg);
	void (*report)(const char *line, void *arg); /* one finding or failure */
	void *arg;
};

struct kv_rebalance_result {
	uint64_t keys, moved, failed;
};

/* Give every key the replica set the current shard list places it on; only keys whose
 * set changed are touched. Finishes a previous, interrupted run. Returns 0 when every key
 * is where it belongs, -EIO when some could not be moved (reported). */
int kv_rebalance(struct kv_store *s, const struct kv_admin_opts *o, struct kv_rebalance_result *r,
		 struct kv_err *err);

struct kv_rebuild_result {
	uint64_t files, keys_added, replicas_added, conflicts, strays;
};

/* Add to the index every value found on the configured shards (keys, replicas, sizes,
 * mtimes); copies of one key on several shards become its replicas. Records already in
 * the index gain the replicas found. */
int kv_rebuild(struct kv_store *s, const struct kv_admin_opts *o, struct kv_rebuild_result *r,
	       struct kv_err *err);

struct kv_verify_result {
	uint64_t keys, files;
	uint64_t missing;      /* a replica the index lists is not on its shard */
	uint64_t wrong_size;   /* a replica of another size than the record's */
	uint64_t damaged;      /* deep: a replica whose md5 is not the record's */
	uint64_t no_md5;       /* deep: values whose record has no md5 (checked for size) */
	uint64_t misplaced;    /* replicas not where placement puts them (rebalance) */
	uint64_t lost;	       /* no good replica left at all (the record is kept) */
	uint64_t unchecked;    /* replicas or shards that could not be checked */
	uint64_t empty_shards; /* shards holding under half of the files they should */
	uint64_t left_alone;   /* keys with a problem on such a shard: not repaired */
	uint64_t orphans;      /* files of keys that do not list that shard, stale uploads */
	uint64_t strays;       /* files no key explains */
	uint64_t dead_intents; /* unfinished operations of dead processes */
	uint64_t repaired, unrepaired;
	uint64_t files_deleted, records_deleted; /* repair: each listed in the report */
};

/*
 * Check every record against the shards and every shard file against the index. A shard
 * that holds fewer than half of the files the index places on it is reported as missing
 * its data, and keys involving it are left alone (not repaired, not deleted) unless it is
 * named in o->force. With o->repair: finish dead operations; each key found wrong is
 * checked again and repaired under its lock, and only while its record is still the one
 * checked: missing or bad replicas copied from a good one, misplaced ones moved. A key with
 * no good replica is reported lost and kept, unless every shard it lists is forced (then
 * its record is deleted). A file no record or intent refers to is deleted once older than
 * orphan_grace (an orphan copy only while its key has a good copy elsewhere). Every
 * deletion is reported. Returns 0 when the cluster is (now) healthy, 1 when problems
 * remain, or a negative errno (-EINVAL: a forced name is not a configured shard).
 */
int kv_verify(struct kv_store *s, const struct kv_admin_opts *o, struct kv_verify_result *r,
	      struct kv_err *err);

#endif
