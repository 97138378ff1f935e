/* record.h — what the index stores per key, and the intents that make writes crash-safe.
 *
 * A record is versioned, little-endian binary: type, mode, owner, size, times, a
 * generation number, md5 of the value, the replica shard names (best first) and, for
 * symlinks, the target; since version 2 also the inode number and, for devices, rdev;
 * since version 3 the link count and the value key. Version-1 and -2 records still decode
 * (inode 0: none stored, rdev 0; nlink 1, no value key); every write is version 3.
 *
 * Hard links: every name of a linked file holds a full, identical record (same inode
 * number, metadata, generation), so reads of any name need no indirection. nlink counts
 * the names. vkey, the value key, is the one name whose shard path holds the value on the
 * record's replicas; empty means the record's own key (every file that never had a second
 * name). The index keeps vkey one of the inode's live names (index.h, KV_LINKS), so the
 * shards alone (rebuild) still name a real file, and only the record whose key is its
 * vkey owns files on the shards (kv_record_owns_value).
 *
 * An intent is the write-ahead note of an operation in flight on a key: who owns it (pid
 * + process start time), which phase it is in, and exactly what to undo or finish if the
 * owner dies (DESIGN §3; the protocol and recovery live in write.c). A new record
 * (kv_record_new) starts with this process's user as owner, the time now and a fresh
 * generation.
 *
 * Threads: everything here is pure or works on the caller's memory, so any thread; no
 * lock, no file or network I/O (kv_new_gen is atomic).
 */
#ifndef KV_RECORD_H
#define KV_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "err.h"
#include "hash.h"
#include "placement.h"

#define KV_TARGET_MAX 4095
#define KV_RECORD_MAX                                                                              \
	(128 + KV_MAX_REPLICAS * (KV_SHARD_NAME_MAX + 1) + KV_TARGET_MAX + 2 + 6 + KV_KEY_MAX)

/* Only regular files have a value on the shards; the others live in the index alone. */
enum kv_type {
	KV_TYPE_REG = 1,
	KV_TYPE_LNK = 2,
	KV_TYPE_DIR = 3,
	KV_TYPE_FIFO = 4, /* version 2 on: special files, made by mknod(2) */
	KV_TYPE_CHR = 5,
	KV_TYPE_BLK = 6,
	KV_TYPE_SOCK = 7
};
#define KV_TYPE_LAST KV_TYPE_SOCK

struct kv_record {
	uint8_t type;  /* enum kv_type */
	uint32_t mode; /* permission bits, 07777 */
	uint32_t uid, gid;
	uint64_t size;			      /* bytes of the value (of the target for symlinks) */
	int64_t mtime_ns, ctime_ns, atime_ns; /* since the epoch */
	uint64_t gen;			      /* new at every write: guards roll-forward */
	uint8_t md5[KV_MD5_LEN];	      /* of the value; all zero when unknown */
	uint8_t nrep;
	char rep[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1];
	uint16_t target_len;
	char target[KV_TARGET_MAX + 1]; /* symlinks only; NUL-terminated */
	uint64_t ino;			/* inode number; 0: none stored (version 1) */
	uint64_t rdev;			/* device number of KV_TYPE_CHR and _BLK, else 0 */
	uint32_t nlink;			/* version 3 on: names of this inode (0 counts as 1) */
	uint16_t vkey_len;		/* 0: the value is at the record's own key */
	char vkey[KV_KEY_MAX + 1];	/* the name whose shard path holds the value */
};

/* Serialise r into out (cap >= KV_RECORD_MAX). Returns the length, 0 when cap was too
 * small. */
size_t kv_record_encode(const struct kv_record *r, uint8_t *out, size_t cap);

/* Parse buf into r. Returns 0, or -KV_ECORRUPT for anything encode would not have made:
 * an unknown version or type, a length past the buffer or a field's limit, a NUL inside
 * a shard name or link target, bytes left over. */
int kv_record_decode(const uint8_t *buf, size_t len, struct kv_record *r);

/* The inode number of key's record r: the one stored, or for a record without one (version
 * 1, or a directory implied by keys below it) one made from md5 of the key, as before
 * inode numbers were stored. The root (klen 0) is always 1. */
uint64_t kv_record_ino(const struct kv_record *r, const char *key, size_t klen);

/* The key whose shard path holds the value of key's record r: r's vkey, or key itself.
 * *vk points into r or at key. */
void kv_record_vkey(const struct kv_record *r, const char *key, size_t klen, const char **vk,
		    size_t *vklen);

/* Is key's own shard path the one holding r's value (no vkey, or vkey == key)? Records of
 * a linked file's other names own no file on the shards. */
int kv_record_owns_value(const struct kv_record *r, const char *key, size_t klen);

/* Does r list shard name as a replica? */
int kv_record_has_replica(const struct kv_record *r, const char *shard);

/* Does r list exactly these n shards as its replicas, in this order? */
int kv_record_replicas_are(const struct kv_record *r, char shards[][KV_SHARD_NAME_MAX + 1], int n);

/* A file an intent may create, move or remove: the value of key on shard, or (tmp != 0) a
 * temporary upload beside it (see kv_tmp_path). */
struct kv_fileref {
	char shard[KV_SHARD_NAME_MAX + 1];
	uint16_t klen;
	char key[KV_KEY_MAX + 1];
	uint64_t tmp;
};

/* A change to one index record, applied only while the record's generation is still
 * expect_gen (0: the key must be absent). */
struct kv_recop {
	uint16_t klen;
	char key[KV_KEY_MAX + 1];
	uint64_t expect_gen;
	uint8_t remove; /* 1: delete the record; 0: store rec */
	struct kv_record rec;
};

enum kv_op {
	KV_OP_PUT = 1, /* create a key */
	KV_OP_UPDATE,  /* replace a value (temporary uploads, then MOVE) */
	KV_OP_DELETE,
	KV_OP_RENAME, /* the intent lives on the destination key */
	KV_OP_MOVE,   /* rebalance or repair: new replica set */
	KV_OP_LOCK,   /* lock only: the source key of a rename */
	KV_OP_META    /* metadata change only (chmod, utimens): nothing to recover */
};

enum kv_phase {
	KV_PHASE_PREPARE = 0, /* owner died here: delete undo files, drop the intent */
	KV_PHASE_COMMIT = 1   /* owner died here: moves, record ops, cleanup, then drop */
};

#define KV_INTENT_FILES (2 * KV_MAX_REPLICAS)

struct kv_intent {
	uint8_t op, phase;
	int32_t pid;
	uint64_t start; /* owner's process start time (clock ticks after boot) */
	int64_t since_ns;
	uint8_t nundo, nmoves, ncleanup, nrecops;
	struct kv_fileref undo[KV_INTENT_FILES];
	struct kv_fileref moves[KV_MAX_REPLICAS]; /* tmp → final of the same key */
	struct kv_fileref cleanup[KV_INTENT_FILES];
	struct kv_recop recops[2];
};

#define KV_INTENT_MAX                                                                              \
	(64 + (2 * KV_INTENT_FILES + KV_MAX_REPLICAS) * 800 + 2 * (KV_KEY_MAX + 16 + KV_RECORD_MAX))

/* Make in an intent of no files and no record changes: its scalars and counts zeroed,
 * the lists not (45 KiB; zeroing them cost puts 2% of tinykvd's CPU). Nothing reads a
 * list entry past its count, and an entry's every field is set before it is counted
 * (kv_fileref_add; a recop's klen, NUL-terminated key, expect_gen, remove and rec). */
void kv_intent_clear(struct kv_intent *in);

/* Serialise / parse an intent; as for records (cap >= KV_INTENT_MAX; a NUL inside a key
 * is damage too). */
size_t kv_intent_encode(const struct kv_intent *in, uint8_t *out, size_t cap);
int kv_intent_decode(const uint8_t *buf, size_t len, struct kv_intent *in);

/* Append a file reference to list (*n entries, room for max). Returns 0, or -ENOSPC when
 * the list is full or key or shard is too long. */
int kv_fileref_add(struct kv_fileref *list, uint8_t *n, int max, const char *shard, const char *key,
		   size_t klen, uint64_t tmp);

/* Path of a temporary upload for key: "/xx/yy/.../tmp.<16 hex>" in the directory of the
 * key's final path, so that a WebDAV MOVE onto the final path never needs a new parent.
 * The name can never be a value's ('.' is not in base64url), and it is not hidden: the
 * shards' PROPFIND (nginx dav-ext) leaves out names starting with '.', and verify must
 * see what a crash left. Returns the length or a negative errno. */
int kv_tmp_path(const char *key, size_t klen, uint64_t tmp, char *out, size_t cap);

/* The same upload's path as versions up to 0.1.0 named it: ".../.tmp-<16 hex>". An
 * intent an older version wrote names its files only by id, so recovery of a dead
 * owner's intent tries this one too (write.c). */
int kv_tmp_path_legacy(const char *key, size_t klen, uint64_t tmp, char *out, size_t cap);

/* Metadata a writer chooses; fields whose set_ flag is 0 keep defaults or old values.
 * set_ctime counts for a put only (kv_put_commit; else the time of the commit): a mount
 * storing a file at close keeps the ctime stat showed while it was open. */
struct kv_meta {
	int set_mode, set_owner, set_mtime, set_atime, set_ino, set_ctime;
	uint32_t mode, uid, gid; /* (uint32_t)-1: leave uid or gid as is */
	int64_t mtime_ns, atime_ns, ctime_ns;
	uint64_t ino; /* from kv_store_new_ino, for a file being created */
};

/* A fresh record of type (enum kv_type): mode 0644 (dirs 0755, symlinks 0777), owned by
 * this process's user, times now, a new generation; then the set parts of meta (may be
 * NULL) applied. */
void kv_record_new(struct kv_record *rec, uint8_t type, const struct kv_meta *meta);

/* Apply the parts of meta whose set_ flag is on to rec. */
void kv_meta_apply(struct kv_record *rec, const struct kv_meta *meta);

/* A fresh, non-zero generation number for a record about to be written. */
uint64_t kv_new_gen(void);

#endif
