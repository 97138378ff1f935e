/* node.h — open files of the mount: one node per key with open handles.
 *
 * Writes go to a local spool file (an unlinked temporary file in the cache directory) and
 * are uploaded when the file is flushed (close, fsync) — close-to-open consistency, as on
 * NFS. Every handle of the same key shares its node, so a reader in this mount sees the
 * bytes a writer has not uploaded yet, and `ls -l` shows their size.
 *
 * Locking: table_lock guards the table (lookup, insert, remove, rename of keys); each
 * node's lock guards everything else in it. Order: table_lock before a node's lock.
 */
#ifndef TINYKV_NODE_H
#define TINYKV_NODE_H

#include <pthread.h>
#include <stdint.h>

#include "codec.h"
#include "record.h"
#include "store.h"

enum { HANDLE_FILE = 1, HANDLE_DIR = 2 };

/* What fi->fh points at for an open directory. */
struct dir_handle {
	int kind;			/* HANDLE_DIR */
	size_t klen;
	char key[KV_KEY_MAX + 1];
};

struct node {
	int kind;			/* HANDLE_FILE: the first field of every handle */
	char key[KV_KEY_MAX + 1];
	size_t klen;
	int refs;			/* open handles; guarded by table_lock */
	pthread_mutex_t lock;
	struct kv_record rec;		/* as last read or written; meta shown while open */
	int created;			/* new key: not in the index until first upload */
	int spool_fd;			/* -1: reads go to the shards */
	int dirty;			/* spool differs from what the shards hold */
	uint64_t size;			/* current length (spool when spooled) */
	struct kv_meta meta;		/* metadata set while dirty, applied at upload */
	int unlinked;			/* removed while open: never upload */
	char *ra;			/* read-ahead window of a value read from shards */
	int64_t ra_off;
	size_t ra_len, ra_cap, ra_next;	/* ra_next: window size for the next fetch */
	struct node *next;
};

/* The node of key with one more reference, made (from rec) if none is open; *fresh tells
 * which. Returns NULL when out of memory. */
struct node *node_get(const char *key, size_t klen, const struct kv_record *rec, int *fresh);
/* The node of key if one is open (no reference taken: use only under table_lock via
 * node_with, or for a snapshot of its attributes). */
int node_snapshot(const char *key, size_t klen, struct kv_record *rec, int *created);
/* Drop a reference; the last one frees the node (closing its spool). Returns 1 when it was
 * the last. */
int node_put(struct node *n);
/* Give an open node a new key after a rename. */
void node_rename(const char *from, size_t flen, const char *to, size_t tlen);
/* Mark the node of key (if open) as unlinked. */
void node_unlinked(const char *key, size_t klen);
/* Call fn for every created-but-not-uploaded key directly inside dir (dlen 0: root). */
void node_each_created_in(const char *dir, size_t dlen,
			  void (*fn)(const char *name, size_t nlen, const struct kv_record *rec,
				     void *arg), void *arg);

#endif
