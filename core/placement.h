/* placement.h — which shards hold a key (DESIGN §2; byte-compatible with the seed).
 *
 * Rendezvous hashing: score(shard) = md5(shard_name ‖ key) read as a 128-bit big-endian
 * number; the R highest scores, in score order, hold the replicas. A shard's name is its
 * configured entry without the scheme, so "http://localhost:3001" and "localhost:3001"
 * place identically.
 *
 * Every function is pure (the caller's buffers only): any thread, no I/O.
 */
#ifndef KV_PLACEMENT_H
#define KV_PLACEMENT_H

#include <stddef.h>

#include "err.h"

#define KV_MAX_SHARDS 64
#define KV_MAX_REPLICAS 8
#define KV_SHARD_NAME_MAX 255
#define KV_SHARD_BASE_MAX (KV_SHARD_NAME_MAX + 9) /* "https://" + name */
/* base + KV_PATH_MAX + a read signature (KV_SIGNATURE_MAX, secret.h) */
#define KV_URL_MAX (KV_SHARD_BASE_MAX + 704 + 64)

struct kv_shard {
	char name[KV_SHARD_NAME_MAX + 1]; /* "host:port", what placement hashes */
	char base[KV_SHARD_BASE_MAX + 1]; /* "http://host:port", what requests use */
};

struct kv_shards {
	int n;
	struct kv_shard v[KV_MAX_SHARDS];
};

/*
 * Parse a list of shards separated by commas and/or spaces ("localhost:3001, http://h:3002",
 * "https://h"); a trailing '/' is dropped. Returns 0, or -EINVAL naming the bad entry
 * (empty list, unknown scheme, user:password@ (named without it), a path after the host,
 * duplicate, more than KV_MAX_SHARDS).
 */
int kv_shards_parse(const char *list, struct kv_shards *out, struct kv_err *err);

/* Index of the shard called name (without scheme), or -1. */
int kv_shards_find(const struct kv_shards *s, const char *name);

/*
 * The r highest-scoring shards for key, best first, as indexes into s->v, written to
 * order[0..r). r is clamped to s->n; returns the number written.
 */
int kv_place(const struct kv_shards *s, const char *key, size_t len, int r, int order[]);

/* "BASE/xx/yy/NAME" for key on shard into out (cap >= KV_URL_MAX). Returns the length or
 * a negative errno. */
int kv_shard_url(const struct kv_shard *shard, const char *key, size_t len, char *out, size_t cap);

#endif
