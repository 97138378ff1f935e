/* walk.h — listing what a shard holds, by PROPFIND (Depth: 1, directory by directory).
 *
 * Used where the index cannot be trusted or must be checked: rebuild and verify. Each
 * file is reported as a value of a key, a temporary upload, or a stray that no key
 * explains (DESIGN §2 paths only). One directory's listing is in memory at a time.
 */
#ifndef KV_WALK_H
#define KV_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "dav.h"
#include "err.h"
#include "record.h"

enum kv_file_kind {
	KV_FILE_VALUE = 1,	/* the value of key */
	KV_FILE_TMP,		/* a temporary upload (.tmp-<id> beside a value path) */
	KV_FILE_STRAY		/* anything else: no key lives there */
};

struct kv_shard_file {
	enum kv_file_kind kind;
	const char *shard;		/* shard name */
	const char *path;		/* path on the shard, decoded, starting with '/' */
	int is_dir;			/* strays only: a directory tinykv did not make */
	char key[KV_KEY_MAX + 1];	/* VALUE */
	size_t klen;
	uint64_t tmp;			/* TMP: its id */
	int64_t size;			/* -1 when unknown */
	int64_t mtime;			/* seconds since the epoch, 0 when unknown */
};

/* One entry of a PROPFIND multistatus reply. href is percent-decoded. */
struct kv_dav_entry {
	const char *href;
	int is_dir;
	int64_t size;
	int64_t mtime;
};

/* PROPFIND url (Depth: 1) and call fn for each entry, the directory itself included.
 * Parsed with expat as it streams. fn returns 0 to go on, negative to stop with that. */
typedef int (*kv_dav_entry_fn)(const struct kv_dav_entry *e, void *arg);
int kv_propfind_list(struct kv_dav *dav, const char *url, kv_dav_entry_fn fn, void *arg,
		     struct kv_err *err);

/*
 * Walk every file of the shard at base (named name), calling fn for each. *dirs, when not
 * NULL, is incremented as top-level hash directories are finished and *total_dirs set
 * once their number is known (for progress). fn returns 0 to go on.
 */
typedef int (*kv_walk_fn)(const struct kv_shard_file *f, void *arg);
int kv_walk_shard(struct kv_dav *dav, const char *name, const char *base, kv_walk_fn fn,
		  void *arg, int *dirs, int *total_dirs, struct kv_err *err);

#endif
