/* store.h — the key-level API both frontends call (DESIGN §1).
 *
 * A store ties the configuration, the index, the intent log, the shard health view and
 * the WebDAV client together. Every write follows the protocol of DESIGN §3: an intent is
 * recorded first (and is the per-key lock), the shards are written, the index is updated
 * and synced, then the intent is dropped; a crash at any point is finished or undone by
 * kv_store_recover or by the next writer of the key.
 *
 * Threads: a store may be used by any number of threads at once; so may separate
 * processes opening the same index. A struct kv_put belongs to one thread.
 *
 * Blocking: the puts, the reads of bytes (kv_store_read, _read_stream, _fetch_fd),
 * kv_store_delete, kv_store_rename and kv_store_recover wait on shards (each request up
 * to the configured timeout). The rest read or commit the local index only; but every call
 * that takes a key's lock (a write, setmeta, link, delete) first finishes or undoes a dead
 * writer's intent it finds there, on the shards, and waits up to the lock wait (below)
 * for a live one.
 *
 * Errors (negative errno, message in err): -EINVAL/-ENAMETOOLONG bad key; -ENOENT no such
 * key; -EEXIST key exists; -EBUSY another writer holds the key; -EIO/-ETIMEDOUT/-ENOSPC a
 * shard failed (the message names it); -ENOTEMPTY, -ENOTDIR, -EISDIR for tree operations;
 * -ESTALE a read's value was replaced or removed meanwhile (reads are pinned, below).
 */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "record.h"

struct kv_store;

/* Open the index (creating it) and the intent log and prepare the shard client. cfg is
 * copied (its index as the resolved path). Local state must be private (DESIGN §7): an
 * index directory or file that is a symbolic link, someone else's, writable by others or
 * below a directory others may change is refused (-ELOOP, -EPERM, ... with err saying
 * what to fix); one merely readable by others is tightened (see kv_store_notes). Asks no
 * shard. *out is the caller's, to close with kv_store_close; -ENOMEM, or the errors of
 * kv_index_open and kv_intents_open. */
int kv_store_open(const struct kv_config *cfg, struct kv_store **out, struct kv_err *err);
/* Stop the probe and free s (NULL: no-op), once no other thread uses it. */
void kv_store_close(struct kv_store *s);

/* The store's copy of its configuration (index: the resolved path), valid while s is
 * open. */
const struct kv_config *kv_store_config(const struct kv_store *s);

/* What opening changed that a person should hear of: sentences, each ending in a
 * newline, or "" (e.g. "index /var/lib/tinykv/index was open to others (mode 0755); it is
 * 0700 now"). Valid while s is open. */
const char *kv_store_notes(const struct kv_store *s);

/* How long a writer waits for a key another writer holds before failing with -EBUSY
 * (default 0: at once, as the HTTP API wants; a file system waits). A plain field: set it
 * before other threads use s. */
void kv_store_set_lock_wait(struct kv_store *s, int ms);

/* Long-running programs: probe shards marked down so they come back quickly (a thread of
 * its own, kv_health_start_probe). 0, or -EAGAIN when the thread cannot be started.
 * Idempotent; call it before other threads use s. */
int kv_store_start_probe(struct kv_store *s, struct kv_err *err);

/* Finish or undo every operation whose process died (on the shards). *done counts them
 * (may be NULL). */
int kv_store_recover(struct kv_store *s, int *done, struct kv_err *err);

/* --- values --- */

enum {
	KV_PUT_EXCL = 1 /* fail with -EEXIST when the key already has a value */
};

/* An inode number for a file about to be created, given to no other record: for a writer
 * that shows the file before it is stored (set_ino in its kv_meta). A record stored
 * without one gets one in the transaction that stores it (kv_txn_put). Numbers are taken
 * from the index a block at a time (one commit per block, under a lock of s); any thread. */
int kv_store_new_ino(struct kv_store *s, uint64_t *ino, struct kv_err *err);

/*
 * Write a value in pieces: begin (takes the key's lock), write the bytes in order, commit.
 * size is the total length or -1 when unknown. Replacing an existing value (no KV_PUT_EXCL)
 * is atomic: until commit returns, readers get the old value, and a failure keeps it.
 * kv_put_free releases everything; if commit did not succeed, the partial value is removed.
 * A new key must follow kv_key_check_new (else -EINVAL) and fit the tree: -EISDIR where a
 * directory is, -ENOTDIR below a file or symlink (checked at begin, and again in the
 * commit's transaction, so a concurrent mkdir or put of a parent cannot slip in).
 */
struct kv_put;
int kv_put_begin(struct kv_store *s, const char *key, size_t klen, int64_t size, unsigned flags,
		 const struct kv_meta *meta, struct kv_put **out, struct kv_err *err);
int kv_put_write(struct kv_put *p, const void *buf, size_t len, struct kv_err *err);
/* On success *rec (may be NULL) is the stored record. */
int kv_put_commit(struct kv_put *p, struct kv_record *rec, struct kv_err *err);
void kv_put_free(struct kv_put *p);
/*
 * Give up writing in order, but keep the bytes: end the uploads and copy what they stored
 * back into fd (from offset 0). The put can then only be freed, which removes the copies.
 * For a writer that streamed a value and must now change it out of order.
 */
int kv_put_spill(struct kv_put *p, int fd, struct kv_err *err);

/* Replace the metadata the value is to be stored with (any time before commit). */
void kv_put_set_meta(struct kv_put *p, const struct kv_meta *meta);
/* Number of replicas and the URL of replica i (valid until kv_put_free; NULL when i is
 * out of range). */
int kv_put_nurls(const struct kv_put *p);
const char *kv_put_url(const struct kv_put *p, int i);

/* Write the whole content of fd (from offset 0, size bytes) as the value of key. */
int kv_store_put_fd(struct kv_store *s, const char *key, size_t klen, int fd, int64_t size,
		    unsigned flags, const struct kv_meta *meta, struct kv_record *rec,
		    struct kv_err *err);

/* The live record of key, from the index (no shard asked). -ENOENT when absent,
 * -EINVAL/-ENAMETOOLONG for a bad key, -KV_ECORRUPT/-EIO when the index fails. */
int kv_store_get(struct kv_store *s, const char *key, size_t klen, struct kv_record *rec,
		 struct kv_err *err);

/* URL of a replica of key on a shard believed up (for redirects), into url (cap >=
 * KV_URL_MAX). With sign_reads it carries a signature valid for read_link_ttl seconds
 * (kv_sign_url). rec may be NULL (else the record). No shard is asked: the best replica
 * by the health view. -ENOENT also when key is no regular file; -EIO when every shard
 * holding it is marked down. */
int kv_store_locate(struct kv_store *s, const char *key, size_t klen, char *url, size_t cap,
		    struct kv_record *rec, struct kv_err *err);

/*
 * Reads are pinned to the value rec describes: they return its bytes or fail, never bytes
 * of a value that replaced it (-ESTALE, the message saying "replaced" or "removed").
 */

/* Is the value rec describes still key's, with no write about to move another onto its
 * files? 0 (and the live record in *cur, may be NULL: the same bytes, perhaps under a new
 * record after a rename, rebalance or metadata change); -ESTALE when the key now holds
 * another value, none, or is being replaced; another error when the index fails. */
int kv_store_current(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		     struct kv_record *cur, struct kv_err *err);

/* Read up to len bytes at off of the value described by rec into buf; *got is the number
 * read (short only at the end of the value). Tries each replica in turn; -ESTALE as
 * above, -ENOENT when no replica has the file (though the key still holds the value). */
int kv_store_read(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		  int64_t off, void *buf, size_t len, size_t *got, struct kv_err *err);

/* Stream the value described by rec from offset off to its end through sink (which may
 * block: the shard is not timed meanwhile), from the first replica that answers. Once
 * bytes have been delivered a failure ends the stream with its error. Pinned (-ESTALE). */
typedef int (*kv_store_sink)(const void *buf, size_t len, void *arg);
int kv_store_read_stream(struct kv_store *s, const char *key, size_t klen,
			 const struct kv_record *rec, int64_t off, kv_store_sink sink, void *arg,
			 struct kv_err *err);

/* Download the whole value described by rec into fd at offset 0. Pinned (-ESTALE). */
int kv_store_fetch_fd(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		      int fd, struct kv_err *err);

/* Delete key and every replica. -ENOENT when absent. On a shard failure the key stays
 * (with the replicas that could not be deleted) and a retry finishes the job. For one
 * name of a hard-linked file, only that name goes (unlink): the value stays for the
 * others (moved to another name's path first when it sat at this one's). */
int kv_store_delete(struct kv_store *s, const char *key, size_t klen, struct kv_err *err);

/*
 * Keys starting with prefix, from start (inclusive; NULL/0: the first), at most limit of
 * them, in byte order: fn(key, klen, rec, arg) for each (return non-zero to stop). *next
 * (capacity KV_KEY_MAX+1) gets the first key not visited, or "" when the listing is
 * complete; *nextlen its length. One index snapshot; no shard is asked.
 */
typedef int (*kv_list_fn)(const char *key, size_t klen, const struct kv_record *rec, void *arg);
int kv_store_list(struct kv_store *s, const char *prefix, size_t plen, const char *start,
		  size_t slen, size_t limit, kv_list_fn fn, void *arg, char *next, size_t *nextlen,
		  struct kv_err *err);

/* --- the file-system view (keys with '/' are paths) --- */

/* Record of a directory: explicit (made by mkdir) or implied by keys beneath it (then
 * mode 0755, this process's owner, and gen 0: tinykvd's permission checks tell the two
 * apart by it). */
int kv_store_dir_get(struct kv_store *s, const char *path, size_t plen, struct kv_record *rec,
		     struct kv_err *err);

/* How many directories path (plen 0: the root) holds, counted up to max + 1 (then
 * *count is max + 1: "more than max"): those made by mkdir, and those implied by
 * directories made below them (not those only implied by keys: counting them would read
 * every key of the directory). One index seek per directory counted.
 * Returns 0 or a negative errno (LMDB's trouble). */
int kv_store_subdirs(struct kv_store *s, const char *path, size_t plen, uint64_t max,
		     uint64_t *count, struct kv_err *err);

/* mkdir: -EEXIST when path is a key or a directory, -ENOTDIR below a file or symlink,
 * -EINVAL for a name kv_key_check_new refuses. */
int kv_store_mkdir(struct kv_store *s, const char *path, size_t plen, const struct kv_meta *meta,
		   struct kv_err *err);
/* rmdir: -ENOTEMPTY when a key or directory is below path (err names a key the mount
 * cannot show, if that is all there is), -ENOTDIR when path is a key, -ENOENT when no
 * directory was made there, -EBUSY for the root. */
int kv_store_rmdir(struct kv_store *s, const char *path, size_t plen, struct kv_err *err);

/* Where a listing of a directory stopped, to go on from there; all zero: the start. */
struct kv_dirpos {
	int started, done;
	int kvalid, dvalid; /* each source has entries left, from these keys */
	size_t klen, dlen, lastlen;
	char key[KV_KEY_MAX + 1], dkey[KV_KEY_MAX + 1];
	char last[KV_KEY_MAX + 1]; /* the name given last (a name comes once) */
};

/*
 * Entries directly inside directory dir (dlen 0: the root): fn(name, nlen, rec, arg), one
 * per name, files and directories merged. When fn returns non-zero the listing stops
 * before that entry and *pos (if not NULL) records where; called again with it, the
 * listing goes on from that entry. pos->done tells that every entry was given.
 */
typedef int (*kv_dirent_fn)(const char *name, size_t nlen, const struct kv_record *rec, void *arg);
int kv_store_readdir(struct kv_store *s, const char *dir, size_t dlen, struct kv_dirpos *pos,
		     kv_dirent_fn fn, void *arg, struct kv_err *err);

/* Change metadata of a key or directory (whichever path names; plen 0: the root), under
 * the key's lock; an implied directory becomes explicit. A new mode is carried into a
 * stored access ACL (kv_xattr_chmod_txn). -ENOENT when path is neither. */
int kv_store_setmeta(struct kv_store *s, const char *path, size_t plen, const struct kv_meta *meta,
		     struct kv_err *err);

/* Create a symlink key holding target. -EEXIST when path exists, -ENOTDIR below a file or
 * symlink, -EINVAL for a name kv_key_check_new refuses. */
int kv_store_symlink(struct kv_store *s, const char *path, size_t plen, const char *target,
		     const struct kv_meta *meta, struct kv_err *err);

/* Create a special file (type KV_TYPE_FIFO, _CHR, _BLK or _SOCK; rdev for devices): a
 * record in the index alone, with no value on any shard, as symlinks are. Errors as for
 * kv_store_symlink; -EINVAL for another type. */
int kv_store_mknod(struct kv_store *s, const char *path, size_t plen, uint8_t type, uint64_t rdev,
		   const struct kv_meta *meta, struct kv_err *err);

/* Give the file from (not a directory: -EPERM) the new name to, a hard link: one inode
 * whose record (metadata, value, st_nlink) every name shares, the value kept until its
 * last name goes. -EEXIST when to exists (a key or a directory), -ENOENT when from does
 * not, -ENOTDIR when to would be below a file. No shard is asked. */
int kv_store_link(struct kv_store *s, const char *from, size_t flen, const char *to, size_t tlen,
		  struct kv_err *err);

/* Call fn(name, nlen, arg) for every other name of key's file when it has several (hard
 * links), from one snapshot of the index; stops at fn's first non-zero result, which it
 * returns. 0 (no call) for a file with one name, -ENOENT when key is no file. */
typedef int (*kv_store_name_fn)(const char *name, size_t nlen, void *arg);
int kv_store_other_names(struct kv_store *s, const char *key, size_t klen, kv_store_name_fn fn,
			 void *arg, struct kv_err *err);

enum { KV_RENAME_NOREPLACE = 1 };
/* Rename a key, or a directory with everything beneath it, replacing an existing
 * destination file unless KV_RENAME_NOREPLACE. A key's new name must fit the tree as
 * kv_put_begin's does (-EISDIR, -ENOTDIR; checked in the transaction that moves it). */
int kv_store_rename(struct kv_store *s, const char *from, size_t flen, const char *to, size_t tlen,
		    unsigned flags, struct kv_err *err);

struct kv_statfs {
	uint64_t keys, dirs, bytes;	  /* in the index */
	uint64_t free_bytes, total_bytes; /* of the spool's file system */
};
/* Counts from the index; free and total bytes of the cache directory's file system (the
 * index's when that cannot be asked; 0 when neither can). No shard is asked. */
int kv_store_statfs(struct kv_store *s, struct kv_statfs *st, struct kv_err *err);

/* Names, directories and metadata committed so far made durable on disk, even with sync
 * off in tinykv.conf(5) (with it on, every change already is before it returns). */
int kv_store_sync(struct kv_store *s, struct kv_err *err);

#endif
