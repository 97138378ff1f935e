/* store_int.h — what the store's files (store.c, write.c, tree.c, tree_shape.c, rename.c,
 * links.c, replicas.c, replicate.c, xattr.c, the admin code) share: struct kv_store, the
 * URLs of a key's files and the one replica fail-over iterator (replicas.c), locks and
 * intents (write.c), replica sets (replicate.c), the tree's shape (tree_shape.c), hard
 * links. Not installed, not for frontends. Threads as in store.h: any, at once. */
#ifndef KV_STORE_INT_H
#define KV_STORE_INT_H

#include <pthread.h>

#include "dav.h"
#include "health.h"
#include "index.h"
#include "intents.h"
#include "store.h"
#include "sys.h"

struct kv_store {
	struct kv_config cfg;
	struct kv_index *idx;
	struct kv_intents *ints;
	struct kv_dav *dav;
	struct kv_health *health;
	int lock_wait_ms; /* how long a writer waits for a busy key before -EBUSY */
	int64_t opened_ns;
	/* What a directory nobody made looks like (tree.c), made once at opening: a GET
	 * checks the root's every time, and making it anew took two syscalls. */
	struct kv_record implied_dir;
	pthread_mutex_t ino_lock;     /* guards ino_next, ino_end */
	uint64_t ino_next, ino_end;   /* inode numbers taken, not given out yet */
	char notes[2 * KV_NOTES_MAX]; /* kv_store_notes */
};

/* --- replicas.c: where a key's files are, and trying a value's replicas --- */

/* Index of a shard by name in the configuration, or -1 (a shard no longer configured). */
int kv__shard(const struct kv_store *s, const char *name);

/* Is the shard called name believed up? (A shard no longer configured counts as up.) */
int kv__shard_up(const struct kv_store *s, const char *name);

/* A request to the shard called name failed for the shard's own reason (no answer, an
 * error of its own): readers avoid it for a while. */
void kv__shard_failed(struct kv_store *s, const char *name);

/* A request to the shard called name just succeeded: readers may use it again at once,
 * rather than after the probe's next round. */
void kv__shard_answered(struct kv_store *s, const char *name);

/* URL of a file reference (a final value path, or a temporary upload when ref->tmp). */
int kv__ref_url(const struct kv_store *s, const struct kv_fileref *ref, char *url, size_t cap,
		struct kv_err *err);

/* URL of a temporary upload (ref->tmp != 0) under the name versions up to 0.1.0 gave it
 * (kv_tmp_path_legacy): for recovering their intents. -EINVAL for a final path. */
int kv__legacy_tmp_url(const struct kv_store *s, const struct kv_fileref *ref, char *url,
		       size_t cap, struct kv_err *err);

/* URL of key's path on the shard called name (a shard no longer configured: http://NAME).
 * -EINVAL for an invalid key, -ENAMETOOLONG when cap is too small. */
int kv__key_url(const struct kv_store *s, const char *shard, const char *key, size_t klen,
		char *url, size_t cap, struct kv_err *err);

/* URL of the value that rec (key's record) describes, on shard: the one function that
 * names a value's file, for every read, copy, check and delete of it. That is key's path,
 * or for a hard-linked file the path of its value key (record.h). Errors as
 * kv__key_url. */
int kv__value_url(const struct kv_store *s, const char *shard, const char *key, size_t klen,
		  const struct kv_record *rec, char *url, size_t cap, struct kv_err *err);

/* Which of a value's replicas are tried, in what order. */
enum kv_replicas_policy {
	KV_REPLICAS_ALL,  /* every one: those on shards believed up first, each group in
			   * record order (reads: a shard marked down may be back) */
	KV_REPLICAS_LIVE, /* record order, skipping those on shards believed down except the
			   * record's last (copies: a whole value from a hung shard is slow) */
};

/*
 * The fail-over loop over a value's replicas, once for every caller:
 *
 *	kv__replicas_begin(&it, s, key, klen, rec, KV_REPLICAS_ALL);
 *	while ((rc = kv__replicas_next(&it, err)) > 0) {
 *		rc = kv__replicas_tried(&it, try(it.shard, it.url));
 *		if (rc == 0 || the caller's reason to stop)
 *			return rc;
 *	}
 *	return rc;
 *
 * The caller owns the struct (on its stack; no cleanup); key and rec must outlive it. It
 * is one thread's. Nothing here asks a shard: the caller's attempt does.
 */
struct kv_replicas {
	struct kv_store *s;
	const char *key;
	size_t klen;
	const struct kv_record *rec;
	int order[KV_MAX_REPLICAS]; /* indexes of rec->rep, in the order they are tried */
	int n, next;		    /* how many; the next to yield */
	int tried, last;	    /* whether kv__replicas_tried was called; its last rc */
	const char *shard;	    /* the replica last yielded: its shard, */
	int up;			    /* whether that shard was believed up then, */
	char url[KV_URL_MAX];	    /* and the URL of the value there (kv__value_url) */
};

void kv__replicas_begin(struct kv_replicas *it, struct kv_store *s, const char *key, size_t klen,
			const struct kv_record *rec, enum kv_replicas_policy policy);

/* 1: it->shard, it->up and it->url describe the next replica to try. Otherwise the loop
 * is over, with the rc last given to kv__replicas_tried (err holding its message), or
 * -EIO "no replica" when none was tried, or kv__value_url's error. */
int kv__replicas_next(struct kv_replicas *it, struct kv_err *err);

/* The attempt on the replica last yielded ended with rc: 0 marks its shard up, -EIO and
 * -ETIMEDOUT mark it down (anything else — a missing file, the caller's own failure — is
 * no news about the shard). Returns rc. */
int kv__replicas_tried(struct kv_replicas *it, int rc);

/* --- store.c: the store's state, for the admin code --- */

/* The store's index, intents and WebDAV client (owned by the store). */
struct kv_index *kv__index(struct kv_store *s);
struct kv_intents *kv__intents(struct kv_store *s);
struct kv_dav *kv__dav(struct kv_store *s);

/* --- write.c: locks and intents --- */

/* Take the lock of key by storing intent in; recovers a dead owner's intent on the way and
 * waits up to s->lock_wait_ms for a live one. */
int kv__acquire(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
		struct kv_err *err);

/* An index update (kv_index_update) doing one struct kv_recop *arg if the record is still
 * of the generation it expects; -EAGAIN when another writer changed it since. */
int kv__apply_recop(struct kv_txn *txn, void *arg, struct kv_err *err);

/* Carry out an intent (ours, stored under key): PREPARE → undo, COMMIT → finish. Drops
 * it. Both ask the shards. */
int kv__exec_undo(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in);
int kv__exec_commit(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
		    struct kv_err *err);

/* --- replicate.c: copies and replica sets --- */

/* Stream the value described by rec (of key) from a live replica to dst[0..n). */
int kv__copy_value(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		   const char *const dst[], int n, struct kv_err *err);

/* Finish later what set_replicas leaves: called with the key once its record points at
 * the new replicas; the intent (phase COMMIT, holding the key) still lists the old copies
 * to delete — kv__finish_deferred does that and drops it. */
typedef void (*kv_defer_fn)(const char *key, size_t klen, void *arg);

/* Give key the replica set want[] (best first), copying to shards that lack the value or
 * are listed in missing[] (recorded but without their file), then deleting the copies no
 * longer wanted — at once, or through defer (non-NULL) so that readers redirected to an
 * old copy just before the switch still find it. *changed: whether the record changed.
 * A key that no longer exists is not an error. */
int kv__set_replicas(struct kv_store *s, const char *key, size_t klen,
		     char want[][KV_SHARD_NAME_MAX + 1], int nwant,
		     char missing[][KV_SHARD_NAME_MAX + 1], int nmissing, kv_defer_fn defer,
		     void *defer_arg, int *changed, struct kv_err *err);

/* kv__set_replicas for a caller that already holds key's lock through in (kv__acquire)
 * and has read rec under it: the switch applies only while the record is still rec
 * (its generation), else -EAGAIN and the copies made are removed. Copies on shards in
 * missing[] that are not wanted are deleted with the other unwanted ones. Consumes the
 * lock: on return the intent is dropped, or with defer left for kv__finish_deferred. */
int kv__set_replicas_locked(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
			    const struct kv_record *rec, char want[][KV_SHARD_NAME_MAX + 1],
			    int nwant, char missing[][KV_SHARD_NAME_MAX + 1], int nmissing,
			    kv_defer_fn defer, void *defer_arg, int *changed, struct kv_err *err);

/* The deferred half of kv__set_replicas: delete the old copies, drop the intent. */
int kv__finish_deferred(struct kv_store *s, const char *key, size_t klen, struct kv_err *err);

/* --- store.c --- */

/* GET url whole into fd from offset 0; *got: bytes written. */
int kv__get_to_fd(struct kv_store *s, const char *url, int fd, int64_t *got, struct kv_err *err);

/* --- tree_shape.c: the keys stay a tree --- */

/*
 * May a new file or symlink be stored as key without hiding part of the tree? Not where a
 * directory is (made by mkdir, or implied by keys below it): -EISDIR; not below a file or
 * symlink ("a/b" when "a" is one): -ENOTDIR; err names the clash. Called in the
 * transaction that stores the key (and may be called earlier in a kv_index_view to fail
 * fast), so that no concurrent mkdir or put can slip in between the check and the store.
 */
int kv__file_fits(struct kv_txn *txn, const char *key, size_t klen, struct kv_err *err);

/* An entry of the directory holding key came or went (in txn, with that change): the
 * directory's mtime and ctime become now. Only a directory with a record keeps times (one
 * made by mkdir or chmod); an implied one shows the store's opening. Its generation stays:
 * a time is no reason for a rename's or chmod's check of it to fail. */
int kv__dir_changed(struct kv_txn *txn, const char *key, size_t klen, struct kv_err *err);

/* -ENOTDIR when an ancestor of path ("a", then "a/b", of "a/b/c") is a file or symlink:
 * nothing can be stored below it. */
int kv__file_above(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err);

/* "path/" into buf; returns its length or -ENAMETOOLONG. */
int kv__with_slash(const char *path, size_t plen, char *buf);

/* 1 when some file or directory sits below path (a key starting "path/"), 0 when none
 * does (also when "path/" is too long to be a key's start), or a negative errno when the
 * index could not be read: a caller must not take an unreadable index for an empty
 * directory. */
int kv__has_entries(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err);

/* --- hard links --- */

/* write.c. The caller holds key's lock and has read its record rec. When rec is linked
 * and key is not its value key, take the value key's lock too (lock: its intent), the
 * inode's lock (links.c), and read rec again under it; *held says whether it was taken. */
int kv__lock_vkey(struct kv_store *s, const char *key, size_t klen, struct kv_record *rec,
		  struct kv_intent *lock, int *held, struct kv_err *err);
/* Release what kv__lock_vkey took (held), by rec's value key. */
void kv__unlock_vkey(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		     int held);

/* write.c: kv_store_delete of a key with one name; 1 (nothing done) when key is one name
 * of a linked file, which links.c's kv_store_delete unlinks. */
int kv__delete(struct kv_store *s, const char *key, size_t klen, struct kv_err *err);

/* rename.c: kv_store_rename without what links.c's adds for hard links (a rename onto
 * another name of the same file, or onto a name of another linked file). */
int kv__rename(struct kv_store *s, const char *from, size_t flen, const char *to, size_t tlen,
	       unsigned flags, struct kv_err *err);

/* rename.c: from, a linked file's value key (its lock held by the caller), goes; its value
 * is copied to to, another name of the inode, which becomes the value key of all that
 * remain — one COMMIT intent on to, as a rename's. */
int kv__move_value_to(struct kv_store *s, const char *from, size_t flen, const char *to,
		      size_t tlen, struct kv_err *err);

#endif
