/* admin_int.h — what rebalance.c, rebuild.c and verify.c share: progress bookkeeping and
 * the walk over the index in batches. The progress functions may be called from any of a
 * run's threads; each calls its callback under a->lock. */
#ifndef KV_ADMIN_INT_H
#define KV_ADMIN_INT_H

#include <pthread.h>

#include "admin.h"
#include "pool.h"
#include "store_int.h"

struct admin_run {
	struct kv_store *s;
	const struct kv_admin_opts *o;
	pthread_mutex_t lock; /* guards prog and the callbacks */
	struct kv_progress prog;
};

/* Start a run (a's lock made; the first phase told), on the verb's thread before its
 * workers start; admin_done, after they stopped, frees the lock. o must outlive the run. */
void admin_init(struct admin_run *a, struct kv_store *s, const struct kv_admin_opts *o,
		const char *phase, const char *unit, uint64_t total);
/* A new phase: counters back to zero, then told. phase and unit must stay valid (static
 * text). */
void admin_phase(struct admin_run *a, const char *phase, const char *unit, uint64_t total);
/* Add to the counters and tell the progress callback. */
void admin_tick(struct admin_run *a, uint64_t done, uint64_t hits);
/* Set the counters (for work whose progress is measured elsewhere). */
void admin_set(struct admin_run *a, uint64_t done, uint64_t total, uint64_t hits);
/* A finding or failure for the report callback (printf-style). */
void admin_report(struct admin_run *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void admin_done(struct admin_run *a);

/* key as reports show it, in quotes, through kv_escape: control bytes and bytes outside
 * UTF-8 as \xHH, quotes and backslashes as \' and \\, into buf (cap >= 4 * KV_KEY_MAX + 3
 * holds any key); returns buf. Every key a report prints goes through here. */
#define ADMIN_KEY_MAX (4 * KV_KEY_MAX + 3)
const char *admin_key(char *buf, size_t cap, const char *key, size_t klen);

/* Call fn for every record of KV_KEYS, in order, reading in short snapshots so a long walk
 * does not pin old pages. fn returns 0 to go on. */
typedef int (*admin_key_fn)(const char *key, size_t klen, const struct kv_record *rec, void *arg);
int admin_each_key(struct kv_store *s, admin_key_fn fn, void *arg, struct kv_err *err);

/* A key as an item of a kv_pool (rebalance's and verify's workers). */
struct admin_key_job {
	size_t klen;
	char key[KV_KEY_MAX];
};

/* Queue a copy of key for pool, a pool of struct admin_key_job items; blocks while the
 * queue is full. 0, or -EINVAL when klen is beyond KV_KEY_MAX or the pool's items are of
 * another type. */
int admin_submit_key(struct kv_pool *pool, const char *key, size_t klen);

/* The shards placement wants for key, best first: names into want; returns how many. */
int admin_placement(const struct kv_store *s, const char *key, size_t klen,
		    char want[][KV_SHARD_NAME_MAX + 1]);

#endif
