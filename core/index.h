/* index.h — the LMDB index: where every key lives, and its metadata.
 *
 * One LMDB environment in a directory, shared by every process on the host (DESIGN §3).
 * Tables: KV_KEYS (key → record of a live value, symlink or special file) and KV_DIRS
 * (directories made through the mount, so an empty one still lists) hold committed,
 * acknowledged state; operations in flight are intents (intents.h), of which those that
 * must outlive a reboot keep a copy in KV_INTENTS. KV_META holds small settings and
 * counters (bytes, the last inode number). KV_XATTRS holds the extended attributes of
 * keys and directories (xattr.h: its layout and rules); they live in the index only.
 * KV_LINKS lists the names of every hard-linked file (nlink > 1, record.h): key = the
 * inode number (8 bytes, big-endian) then sha256 of the name (LMDB keys are at most 511
 * bytes, as names are), value = the name. KV_INTENTS, KV_META, KV_XATTRS and KV_LINKS
 * hold bytes, not records: use the _bytes functions on them. Removing a key or directory
 * record (kv_txn_del on KV_KEYS or KV_DIRS) removes its extended attributes in the same
 * transaction, and a linked name's KV_LINKS row.
 *
 * Hard links are kept whole here, in the transaction of every change: storing a KV_KEYS
 * record whose nlink is above 1 gives its name a KV_LINKS row and stores the same record
 * under every other name of the inode (so metadata and value changes through one name
 * show through all, whichever code path made them); a record with nlink 1 drops its
 * name's row. Counting names and choosing the value key is the caller's (links.c).
 *
 * The directory is private (DESIGN §7): created 0700 with files 0600, and refused when a
 * symbolic link, someone else's, writable by others or below a directory others may
 * change (kv_private_dir in sys.h); an older install's 0755 / 0644 is tightened.
 *
 * Threads: every function may be called from any thread. Writes go through
 * kv_index_update, which batches concurrent callers of this process into one LMDB
 * transaction and one sync (group commit); LMDB serialises writers across processes.
 * The point reads (kv_index_get, _get_bytes, _has, _stats) of up to 64 threads each keep
 * an LMDB reader slot between calls, until the thread exits or the index is closed.
 */
#ifndef KV_INDEX_H
#define KV_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "record.h"

enum kv_table {
	KV_KEYS = 0,
	KV_DIRS = 1,
	KV_INTENTS = 2,
	KV_META = 3,
	KV_XATTRS = 4,
	KV_LINKS = 5
};

struct kv_index_opts {
	uint64_t map_size; /* bytes of address space for the map; grows the file lazily */
	int sync;	   /* 0: MDB_NOSYNC — a power failure may lose or corrupt commits */
	int readonly;
};

struct kv_index;

/* Open (creating if needed, unless readonly) the index in dir. *out is owned by the
 * caller; close it with kv_index_close. Errors name the directory and the LMDB or system
 * error, or say what is wrong with the directory and what to do (-ELOOP, -EPERM, ...). */
int kv_index_open(const char *dir, const struct kv_index_opts *o, struct kv_index **out,
		  struct kv_err *err);
/* Close idx once no thread uses it any more (the slots threads kept are given back).
 * NULL: no-op. */
void kv_index_close(struct kv_index *idx);

/* The index directory's resolved path (no symbolic links), valid while idx is open. */
const char *kv_index_dir(const struct kv_index *idx);

/* What opening changed that a person should hear of (sentences, each ending in a
 * newline; "" when nothing), valid while idx is open. */
const char *kv_index_notes(const struct kv_index *idx);

/* Everything committed so far on disk, also with sync off (an fsync of a directory, whose
 * entries are index records); 0 at once for a read-only index. 0 or -errno. */
int kv_index_sync(struct kv_index *idx, struct kv_err *err);

/* 1 when table t has key, 0 when not, or -errno. */
int kv_index_has(struct kv_index *idx, enum kv_table t, const char *key, size_t klen,
		 struct kv_err *err);

/* Copy the bytes stored under key in t into buf (cap bytes); *len is their length.
 * Returns 0, -ENOENT, -ENOSPC (longer than cap; *len set), -EIO. */
int kv_index_get_bytes(struct kv_index *idx, enum kv_table t, const char *key, size_t klen,
		       void *buf, size_t cap, size_t *len, struct kv_err *err);

/* Read the record of key from table into rec. Returns 0, -ENOENT, -KV_ECORRUPT, -EIO. */
int kv_index_get(struct kv_index *idx, enum kv_table t, const char *key, size_t klen,
		 struct kv_record *rec, struct kv_err *err);

/* Number of records in a table and the sum of value sizes in KV_KEYS. */
int kv_index_stats(struct kv_index *idx, uint64_t *keys, uint64_t *dirs, uint64_t *bytes,
		   struct kv_err *err);

/*
 * Ordered reads. A cursor holds one read snapshot until closed; long walks should close
 * and reopen every few thousand records so old pages can be reused. Keys returned through
 * *key are valid until the next call on the cursor. A cursor is used by one thread at a
 * time (any thread: the snapshot is not tied to the one that opened it). Seek and next
 * return 0, -ENOENT past the end, -KV_ECORRUPT for a record that does not decode, or
 * kv_lmdb_errno's code; they set no message.
 */
struct kv_cursor;
/* *out is the caller's, to close with kv_cursor_close (NULL: no-op). -ENOMEM or LMDB's
 * trouble, with err set. */
int kv_cursor_open(struct kv_index *idx, enum kv_table t, struct kv_cursor **out,
		   struct kv_err *err);
/* Position at the first record >= key (klen 0: the first record). -ENOENT past the end. */
int kv_cursor_seek(struct kv_cursor *c, const char *key, size_t klen, const char **k, size_t *kl,
		   struct kv_record *rec);
/* The record after the current one. -ENOENT past the end. rec may be NULL (keys only). */
int kv_cursor_next(struct kv_cursor *c, const char **k, size_t *kl, struct kv_record *rec);
void kv_cursor_close(struct kv_cursor *c);

/* A write transaction, handed to the callback of kv_index_update. */
struct kv_txn;

/*
 * Run fn(txn, arg, err) inside a write transaction and make it durable before returning.
 * fn's changes are applied only if it returns 0; a failure of fn undoes just its own
 * changes (a nested transaction), so batched callers never see each other's errors.
 * fn must not block on the network, take a lock a caller of kv_index_update may hold, or
 * call kv_index_update: it runs on whichever caller's thread leads the batch, in a
 * transaction it shares with other callers' requests. Returns fn's result, or a commit
 * error.
 */
typedef int (*kv_txn_fn)(struct kv_txn *txn, void *arg, struct kv_err *err);
int kv_index_update(struct kv_index *idx, kv_txn_fn fn, void *arg, struct kv_err *err);

/* Run fn(txn, arg, err) in a read-only transaction: one consistent snapshot for several
 * reads (the kv_txn_get family; writes fail). fn runs on the caller's thread. Returns
 * fn's result, or LMDB's trouble beginning the transaction. */
int kv_index_view(struct kv_index *idx, kv_txn_fn fn, void *arg, struct kv_err *err);

/* The record of key in t: 0, -ENOENT (no message set), -KV_ECORRUPT, or LMDB's trouble. */
int kv_txn_get(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
	       struct kv_record *rec, struct kv_err *err);
/* Store rec under key (replacing). Keeps the byte count of KV_KEYS current. A KV_KEYS or
 * KV_DIRS record with ino 0 is stored with an inode number: that of the record it
 * replaces (kv_record_ino), else the next of a counter in KV_META, in this transaction.
 * A KV_KEYS record with nlink > 1 is stored under every name of its inode too (above). */
int kv_txn_put(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
	       const struct kv_record *rec, struct kv_err *err);
/* Take count inode numbers from the counter: *first .. *first + count - 1 (never 0 or 1,
 * the root's; no number is given twice). */
int kv_txn_new_inos(struct kv_txn *txn, uint64_t count, uint64_t *first, struct kv_err *err);
/* Remove key; -ENOENT when absent. From KV_KEYS or KV_DIRS, its extended attributes go
 * too (kv_txn_drop_xattrs). */
int kv_txn_del(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
	       struct kv_err *err);
/* Bytes under key in t, valid until the transaction ends. 0, -ENOENT, -EIO. */
int kv_txn_get_bytes(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
		     const void **val, size_t *len, struct kv_err *err);
/* Store len bytes under key in t (replacing). Not for KV_KEYS (byte count). */
int kv_txn_put_bytes(struct kv_txn *txn, enum kv_table t, const char *key, size_t klen,
		     const void *val, size_t len, struct kv_err *err);
/* Call fn for every entry of t in key order, with pointers valid during the call only;
 * stops at fn's first non-zero result, which it returns. fn must not change t. */
typedef int (*kv_txn_each_fn)(const char *key, size_t klen, const void *val, size_t len, void *arg);
int kv_txn_each(struct kv_txn *txn, enum kv_table t, kv_txn_each_fn fn, void *arg,
		struct kv_err *err);

/* Call fn for every entry of t whose key starts with prefix (plen > 0), in key order, as
 * kv_txn_each does (same pointers' lifetime, same stop rule); fn must not change t. */
int kv_txn_each_prefix(struct kv_txn *txn, enum kv_table t, const char *prefix, size_t plen,
		       kv_txn_each_fn fn, void *arg, struct kv_err *err);

/* Length of a KV_LINKS key, and that key for name of inode ino. */
#define KV_LINK_ROW_LEN (8 + KV_SHA256_LEN)
void kv_link_row(uint64_t ino, const char *name, size_t nlen, char out[KV_LINK_ROW_LEN]);

/* Call fn for every KV_LINKS row of inode ino (val, len: a name), as kv_txn_each_prefix. */
int kv_txn_each_link(struct kv_txn *txn, uint64_t ino, kv_txn_each_fn fn, void *arg,
		     struct kv_err *err);

/* 1 when some key in table starts with prefix (plen > 0), 0 when none does, or a negative
 * errno (err set) when the table could not be read. */
int kv_txn_has_prefix(struct kv_txn *txn, enum kv_table t, const char *prefix, size_t plen,
		      struct kv_err *err);

/* The one place LMDB's error space becomes ours (index and intent log): 0 for 0,
 * MDB_NOTFOUND -ENOENT, MDB_MAP_FULL -ENOSPC, MDB_READERS_FULL -EAGAIN,
 * MDB_BAD_VALSIZE -ENAMETOOLONG, an errno as its negative, anything else -EIO. */
int kv_lmdb_errno(int rc);

/* The KV_XATTRS key prefix of path's attributes (an entry's key is this, then the
 * attribute's name): sha256 of the path, of "/" for the root (plen 0). */
void kv_xattr_prefix(const char *path, size_t plen, char out[KV_SHA256_LEN]);
/* In a write transaction: remove every attribute of path. 0 or -EIO/-ENOSPC. */
int kv_txn_drop_xattrs(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err);

#endif
