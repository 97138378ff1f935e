/* verbs.h — tinykvd's admin verbs: rebalance, rebuild, verify. */
#ifndef TINYKVD_VERBS_H
#define TINYKVD_VERBS_H

#include "store.h"

/* Run verb ("rebalance", "rebuild", "verify") with a progress display on stderr; returns
 * the process exit status. */
int admin_run(struct kv_store *s, const char *verb, int repair, int jobs);

#endif
