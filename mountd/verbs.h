/* verbs.h — tinykvd's admin verbs: rebalance, rebuild, verify. */
#ifndef TINYKVD_VERBS_H
#define TINYKVD_VERBS_H

#include "store.h"

#include "placement.h"

/* What the command line asked of a verb. */
struct verb_opts {
	int jobs;			  /* parallel workers */
	int repair, deep;		  /* verify --repair, --deep */
	const char *force[KV_MAX_SHARDS]; /* verify --force SHARD, each given */
	int nforce;
};

/* Run verb ("rebalance", "rebuild", "verify") with a progress display on stderr; returns
 * the process exit status (verify: 0 healthy, 1 problems remain, 2 a bad --force). */
int admin_run(struct kv_store *s, const char *verb, const struct verb_opts *vo);

#endif
