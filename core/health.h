/* health.h — a cheap view of which shards are answering.
 *
 * Readers pick a replica without asking the shards first (tinykvd's redirects never touch
 * a shard). A failed request marks its shard down for down_time seconds; an optional
 * background probe asks every shard once a second (OPTIONS, with a one-second limit) and
 * marks it down or up by the answer, so a stopped or hung shard is avoided within about a
 * second even when nothing else talks to it. Nothing here blocks: only the probe's own
 * thread talks to shards.
 *
 * Threads: is_up, mark_down and mark_up may be called from any thread at once (one
 * atomic time per shard); new, start_probe and free from one thread, before and after
 * the others.
 */
#ifndef KV_HEALTH_H
#define KV_HEALTH_H

#include "dav.h"
#include "placement.h"

struct kv_health;

/* Every shard up. shards must outlive the health view. NULL when out of memory; the
 * caller frees it with kv_health_free. */
struct kv_health *kv_health_new(const struct kv_shards *shards, int down_time);
void kv_health_free(struct kv_health *h); /* stops the probe first; NULL: no-op */

/* Is shard (an index into shards->v) believed up? 0 for an index out of range. */
int kv_health_is_up(const struct kv_health *h, int shard);
/* Mark shard down for down_time seconds (with the probe running: until the probe hears
 * it answer). down_time 0 marks nothing. An index out of range is ignored. */
void kv_health_mark_down(struct kv_health *h, int shard);
/* Believe shard up again at once (a request to it succeeded; the probe heard it). */
void kv_health_mark_up(struct kv_health *h, int shard);

/* Start the probe thread (idempotent), with a WebDAV client of its own. 0, or -1 when the
 * client or the thread cannot be made. */
int kv_health_start_probe(struct kv_health *h);

#endif
