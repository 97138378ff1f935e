/* node.h — open files of the mount: one node per key with open handles.
 *
 * Writes go to a local spool file (an unlinked temporary file in the cache directory) and
 * are uploaded when the file is flushed (close, fsync) — close-to-open consistency, as on
 * NFS — except a file written from empty strictly in order: past STREAM_AT bytes its
 * writes go up as they come (node->stream, stream.h), bypassing the spool, and close
 * only finishes that upload; anything out of order first brings them back into the spool
 * (spool.c). Every handle of the same key shares its node, so a reader in this mount sees
 * the bytes a writer has not uploaded yet, and `ls -l` shows their size.
 *
 * Locking, in this order:
 *   io          (per node) serialises what touches the node's bytes: spool writes and
 *               truncates, fetches from the shards, uploads, reads. It is held across
 *               network I/O, so only callers working on this very file ever wait for it.
 *   table_lock  guards the table (lookup, insert, remove, rename of keys) and refs.
 *   lock        (per node) guards the fields; held only for moments, never across I/O,
 *               so that a lookup (node_snapshot, under table_lock) never waits for a
 *               shard, whatever another thread is uploading.
 * Fields marked "io+lock" are written with both held and may be read with either.
 */
#ifndef TINYKV_NODE_H
#define TINYKV_NODE_H

#include <pthread.h>
#include <sys/types.h>
#include <stdint.h>

#include "codec.h"
#include "record.h"
#include "store.h"
#include "prefetch.h"
#include "stream.h"

enum { HANDLE_FILE = 1, HANDLE_DIR = 2 };

struct node;

/* What fi->fh points at for an open file: one per open(2), sharing the key's node. */
struct open_file {
	int kind;     /* HANDLE_FILE: the first field of every handle */
	int writable; /* opened for writing, or created by this
					 * open (whatever the access mode): its
					 * close uploads */
	struct node *node;
	struct open_file *prev, *next; /* every open handle; see handles.c */
};

/* What fi->fh points at for an open directory. */
struct dir_handle {
	int kind; /* HANDLE_DIR */
	size_t klen;
	char key[KV_KEY_MAX + 1];
	/* A listing in progress (the kernel reads a directory in several calls): */
	struct kv_dirpos pos; /* where the stored entries stopped */
	off_t next;	      /* offset of the next entry to give */
	size_t created_given; /* new files of this mount given so far */
};

struct node {
	char key[KV_KEY_MAX + 1]; /* table_lock+lock */
	size_t klen;
	int refs; /* table_lock */
	pthread_mutex_t io, lock;
	struct kv_record rec;  /* io+lock: as last read or written; shown while open */
	int created;	       /* io+lock: new key, not in the index until uploaded */
	int dirty;	       /* io+lock: spool differs from what the shards hold */
	uint64_t size;	       /* io+lock: current length (spool's when spooled) */
	struct kv_meta meta;   /* io+lock: metadata set while dirty, for the upload */
	int failed;	       /* io+lock: the last upload failed and the caller was
					 * told; no change since (release does not retry it) */
	int spooled;	       /* io+lock: spool_fd is open (this mount's own view) */
	int unlinked;	       /* lock: removed while open, never upload */
	int hidden;	       /* lock: ... and in the table under a name of
					 * libfuse's (.fuse_hiddenXXXX) for the kernel's
					 * calls by path while it stays open */
	int spool_fd;	       /* io: -1 while reads go to the shards */
	int appending;	       /* io: every write since the spool was empty extended
					 * it at its end (so the value can go up as it is
					 * written) */
	struct stream *stream; /* io: the value going up while it is written */
	uint64_t streamed;     /* io: bytes stream has sent */
	uint64_t spooled_to;   /* io: while streaming, the spool holds only
					 * [0, spooled_to): the rest went up directly */
	int lost;	       /* io: a streamed upload failed: the bytes since
					 * spooled_to are gone; close reports it */
	char *ra;	       /* io: read-ahead window of a value read from shards */
	int64_t ra_off;
	size_t ra_len, ra_cap, ra_next; /* ra_next: window size for the next fetch */
	struct prefetch *pf;		/* io: read-ahead thread of a value read in order */
	int64_t read_end;		/* io: where the last read from the shards ended */
	int replaced;			/* io: a read found the value replaced (HTTP, another
					 * mount): every read from the shards fails since */
	int ra_err;			/* io: last fetch's error, and when (monotonic ms): */
	int64_t ra_err_ms;		/* the kernel's retry of a failed read gets it at once */
	struct node *next;		/* table_lock */
};

/* The node of key with one more reference, made (from rec) if none is open; *fresh tells
 * which. Returns NULL when out of memory. */
struct node *node_get(const char *key, size_t klen, const struct kv_record *rec, int *fresh);
/* If key has an open node (not unlinked, or hidden): a copy of its record (size: the current one)
 * and whether it is a new key not stored yet. No reference is taken. */
int node_snapshot(const char *key, size_t klen, struct kv_record *rec, int *created);
/* Like node_snapshot, but only for a node with bytes of its own (new, changed or
 * spooled: what this mount shows of the key then differs from the index). */
int node_local(const char *key, size_t klen, struct kv_record *rec);
/* A copy of n's key (NUL-terminated, key holds KV_KEY_MAX + 1 bytes), for calls made
 * without n->lock; returns its length. */
size_t node_key_copy(struct node *n, char *key);
/* Drop a reference; the last one frees the node (closing its spool). Returns 1 when it was
 * the last. */
int node_put(struct node *n);
/* Give an open node a new key after a rename. */
void node_rename(const char *from, size_t flen, const char *to, size_t tlen);
/* Every open node under dir/ (at any depth; dlen 0: all; hidden ones are not), each with
 * a reference taken.
 * *out gets a malloc'd array (caller frees it and node_puts each node; NULL when none).
 * Returns the count or -ENOMEM. */
int node_grab_under(const char *dir, size_t dlen, struct node ***out);
/* After a directory rename: every open node under from/ moves to to/ (a name that would
 * exceed KV_KEY_MAX keeps the old one; callers check first with node_grab_under). */
void node_rename_tree(const char *from, size_t flen, const char *to, size_t tlen);
/* Mark the node of key (if open) as unlinked. */
void node_unlinked(const char *key, size_t klen);
/* Mark it unlinked, and give it the name libfuse hides it under: lookups by that name
 * (only) find it until its handles close (node_snapshot, node_local). */
void node_hide(const char *key, size_t klen, const char *as, size_t alen);
/* If key names a hidden node: out of the table with it (libfuse unlinks the hidden name at
 * the last close). Returns 1 when it did. */
int node_unhide(const char *key, size_t klen);
/* Call fn for every created-but-not-uploaded key directly inside dir (dlen 0: root). */
void node_each_created_in(const char *dir, size_t dlen,
			  void (*fn)(const char *name, size_t nlen, const struct kv_record *rec,
				     void *arg),
			  void *arg);

#endif
