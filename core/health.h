/* health.h — a cheap view of which shards are answering.
 *
 * Readers pick a replica without asking the shards first: a failed request marks its
 * shard down for down_time seconds, and an optional background probe (OPTIONS every
 * second) marks it up again as soon as it answers. Nothing here blocks.
 */
#ifndef KV_HEALTH_H
#define KV_HEALTH_H

#include "dav.h"
#include "placement.h"

struct kv_health;

/* shards must outlive the health view. */
struct kv_health *kv_health_new(const struct kv_shards *shards, int down_time);
void kv_health_free(struct kv_health *h);	/* stops the probe first */

int kv_health_is_up(const struct kv_health *h, int shard);
void kv_health_mark_down(struct kv_health *h, int shard);
void kv_health_mark_up(struct kv_health *h, int shard);

/* Start the probe thread (idempotent); it uses dav, which must outlive it. */
int kv_health_start_probe(struct kv_health *h, struct kv_dav *dav);

#endif
