/* verify_int.h — what verify.c (the index side: operations, records), verify_replicas.c
 * (one key's replicas) and verify_shards.c (the shard side: files, orphans, shards
 * missing their data) share. */
#ifndef KV_VERIFY_INT_H
#define KV_VERIFY_INT_H

#include <string.h>

#include "admin_int.h"

enum shard_state {
	SHARD_OK = 0,
	SHARD_EMPTY, /* holds under half of what the index places on it */
	SHARD_UNREAD /* its walk failed: nothing known */
};

struct shard_info {
	uint64_t expected;   /* records that list it (pass 2) */
	uint64_t held;	     /* of those, files found on it (pass 3) */
	uint64_t candidates; /* orphans and strays found on it (pass 3) */
	uint64_t left;	     /* keys left alone because of it (pass 4) */
	int state;	     /* enum shard_state, set between passes 3 and 4 */
	int forced;
};

struct verify {
	struct admin_run a;
	struct kv_verify_result *r;
	int repair, deep;
	int64_t grace_s;
	struct shard_info sh[KV_MAX_SHARDS];
};

/* Add n to a counter of the result or of a shard (any thread). */
static inline void verify_add(uint64_t *field, uint64_t n)
{
	__atomic_add_fetch(field, n, __ATOMIC_RELAXED);
}

/* Is shard sh (an index, or -1) one whose data is missing and that is not forced? */
static inline int verify_blocked(const struct verify *v, int sh)
{
	return sh >= 0 && v->sh[sh].state != SHARD_OK && !v->sh[sh].forced;
}

/* Every key a report shows goes through here (a one-line change to another escaper). */
#define KEYTEXT(buf, key, klen) admin_key(buf, sizeof(buf), key, klen)

enum rep_state { REP_OK = 0, REP_MISSING, REP_SIZE, REP_DAMAGED, REP_UNKNOWN };

struct key_check {
	int state[KV_MAX_REPLICAS];
	int64_t size[KV_MAX_REPLICAS];
	uint8_t md5[KV_MAX_REPLICAS][KV_MD5_LEN];
	char why[KV_MAX_REPLICAS][KV_ERR_MSG_MAX];
	char bad[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1]; /* missing, short, damaged */
	int nbad, unknown, misplaced;
	char want[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1]; /* placement, best first */
	int nwant;
};

/* Does rec hold the md5 of its value (not all zeros)? */
static inline int verify_has_md5(const struct kv_record *rec)
{
	static const uint8_t zero[KV_MD5_LEN];

	return memcmp(rec->md5, zero, KV_MD5_LEN) != 0;
}

/* Ask every replica of rec (deep: read it whole) into kc; compare with placement. */
void verify_check_replicas(struct verify *v, const char *key, size_t klen,
			   const struct kv_record *rec, int deep, struct key_check *kc);

/* Passes 3 (second = 0: count, report) and 5 (second = 1: delete what is not needed, on
 * shards that had candidates and are not blocked). */
int verify_walk_shards(struct verify *v, int second, struct kv_err *err);

/* Between passes 3 and 4: mark and report the shards missing their data. */
void verify_judge_shards(struct verify *v);

/* At the end: what was left alone, shard by shard. */
void verify_tell_left(struct verify *v);

#endif
