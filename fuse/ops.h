/* ops.h — the FUSE callbacks of the tinykv mount. */
#ifndef TINYKV_OPS_H
#define TINYKV_OPS_H

#define FUSE_USE_VERSION 314
#include <fuse.h>

#include "store.h"

/* Settings the callbacks read; filled by main before the loop starts. */
struct mount_ctx {
	struct kv_store *store;
	const struct kv_config *cfg;
	int debug;
	int cache_fd; /* the private spool directory (cfg->cache), opened by main */
	int noacl;    /* -o noacl: POSIX ACLs refused, the mode bits alone count (xattr.c) */
};

extern const struct fuse_operations tinykv_ops;

#endif
