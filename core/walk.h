/* walk.h — listing what a shard holds, by PROPFIND (Depth: 1, directory by directory).
 *
 * Used where the index cannot be trusted or must be checked: rebuild and verify. Each
 * file is reported as a value of a key, a temporary upload, or a stray that no key
 * explains (DESIGN §2 paths only). One directory's listing is in memory at a time.
 *
 * Threads: any thread; several walks (of one shard each) may share a struct kv_dav. Every
 * call blocks on the shard's answers (the WebDAV client's timeout of silence).
 */
#ifndef KV_WALK_H
#define KV_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "dav.h"
#include "err.h"
#include "record.h"

enum kv_file_kind {
	KV_FILE_VALUE = 1, /* the value of key */
	KV_FILE_TMP,	   /* a temporary upload (tmp.<id> beside a value path) */
	KV_FILE_STRAY	   /* anything else: no key lives there */
};

struct kv_shard_file {
	enum kv_file_kind kind;
	const char *shard;	  /* shard name */
	const char *path;	  /* path on the shard, decoded, starting with '/' */
	int is_dir;		  /* strays only: a directory tinykv did not make */
	char key[KV_KEY_MAX + 1]; /* VALUE */
	size_t klen;
	uint64_t tmp;  /* TMP: its id */
	int64_t size;  /* -1 when unknown */
	int64_t mtime; /* seconds since the epoch, 0 when unknown */
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
 * The same parser fed by hand, for replies from elsewhere (and for tests): _new makes one
 * that calls fn for each entry; kv_propfind_feed takes the reply's bytes in any pieces (it
 * is a kv_dav_sink: arg is the parser) and returns 0, fn's negative return, or -EPROTO for
 * bytes that are not XML; _finish ends the reply: pass the status of the transfer (0, or
 * the error that ended it) and what to name in messages (the URL); returns 0, -EPROTO for
 * a bad or truncated reply (err names it), or fn's negative return. _free frees (NULL is
 * fine). One parser per reply; it keeps no pointer to the bytes fed.
 */
struct kv_propfind;
int kv_propfind_new(kv_dav_entry_fn fn, void *arg, struct kv_propfind **out, struct kv_err *err);
int kv_propfind_feed(const void *buf, size_t len, void *arg);
int kv_propfind_finish(struct kv_propfind *p, int rc, const char *what, struct kv_err *err);
void kv_propfind_free(struct kv_propfind *p);

/*
 * Walk every file of the shard at base (named name), calling fn for each; f and the
 * strings it points to are valid during the call only. *dirs, when not NULL, is
 * incremented as top-level hash directories are finished, and their number is added to
 * *total_dirs once known (both atomically, so walks of several shards may share them: for
 * progress). fn returns 0 to go on; anything else stops the walk and is returned. Other
 * errors: kv_propfind_list's, for the directory that failed.
 */
typedef int (*kv_walk_fn)(const struct kv_shard_file *f, void *arg);
int kv_walk_shard(struct kv_dav *dav, const char *name, const char *base, kv_walk_fn fn, void *arg,
		  int *dirs, int *total_dirs, struct kv_err *err);

#endif
