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

/*
 * The life of a node: what its name and its bytes are to the index. Every change is an
 * event given to node_event or node_event_locked (node.c), whose next_state is the one
 * place that knows which event moves which state where; an event a state cannot have
 * leaves the state as it is, and is logged.
 *
 *   node_get (open, lookup)                create (its spool open)
 *        |                                      |
 *        v      spool opened                    v         store failed
 *   +--------+ -------------> +--------+     +-----+ ----------------> +------------+
 *   | STORED |                | COPIED |     | NEW |                   | NEW_FAILED |
 *   +--------+ <------------- +--------+     +-----+ <---------------- +------------+
 *        ^      spool closed    |   ^  ^        |          changed           |
 *        |                      |   |  |        |                            |
 *        |              changed |   |  +--------+---------- stored ----------+
 *        |                      |   | stored
 *        |                      v   |
 *        |                  +---------+   store failed   +--------+
 *        +--- forgotten --- | CHANGED | ---------------> | FAILED |
 *                           +---------+ <--------------- +--------+
 *                                            changed
 *
 * Not drawn: FAILED goes to COPIED when stored (an fsync or close that tries again) and
 * to STORED when forgotten, as CHANGED does; "stored" goes on to STORED at once when the
 * spool was dropped (a file that went up as it was written). From every state: unlinked
 * -> UNLINKED, hidden -> HIDDEN, and HIDDEN unhidden -> UNLINKED; NEW and NEW_FAILED
 * forgotten (bytes lost with their upload) -> UNLINKED: a new file vanishes. An UNLINKED
 * node is out of the table and never stored; events that change bytes leave it as it is.
 */
enum node_state {
	NODE_STORED,	 /* what the index holds; reads go to the shards */
	NODE_COPIED,	 /* the same, with a copy in the spool (opened to write, or kept
			  * for readers of a value about to go) */
	NODE_NEW,	 /* made by this mount's create; not in the index until stored */
	NODE_NEW_FAILED, /* NEW, and its store failed and was reported: release does not
			  * try again (only a change, fsync or close does) */
	NODE_CHANGED,	 /* written or truncated: the spool (and stream) differ from the
			  * index until stored */
	NODE_FAILED,	 /* CHANGED, and its store failed and was reported (as NEW_FAILED) */
	NODE_UNLINKED,	 /* its name went while open (unlink, a rename onto it, replaced
			  * through HTTP): out of the table, never stored */
	NODE_HIDDEN,	 /* UNLINKED, and in the table under a name of libfuse's
			  * (.fuse_hiddenXXXX) for the kernel's calls by path while open */
};

/* What happens to a node (node_event). */
enum node_event {
	NODE_EV_SPOOL_OPENED, /* spool_open */
	NODE_EV_SPOOL_CLOSED, /* its spool closed; reads go to the shards */
	NODE_EV_CREATED,      /* the create callback made it (its spool already open) */
	NODE_EV_CHANGED,      /* its bytes, size or times changed (spool_changed) */
	NODE_EV_STORED,	      /* an upload stored it (the spool kept: close it after) */
	NODE_EV_STORE_FAILED, /* an upload failed, and the caller is told */
	NODE_EV_FORGOTTEN,    /* bytes that only went up were lost: back to the index's */
	NODE_EV_UNLINKED,     /* its name went (node_unlinked, node_hide) */
	NODE_EV_HIDDEN,	      /* ... under libfuse's hiding name (node_hide) */
	NODE_EV_UNHIDDEN,     /* libfuse removed that name (node_unhide) */
};

struct node {
	char key[KV_KEY_MAX + 1]; /* table_lock+lock */
	size_t klen;
	int refs; /* table_lock */
	pthread_mutex_t io, lock;
	struct kv_record rec;  /* io+lock: as last read or written; shown while open */
	enum node_state state; /* lock (changed by node_event alone) */
	uint64_t size;	       /* io+lock: current length (spool's when spooled) */
	struct kv_meta meta;   /* io+lock: metadata set while unstored, for the upload */
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

/* Is a node in state s holding bytes the index has not got yet (NEW, CHANGED and their
 * FAILED)? Is it a new file (NEW, NEW_FAILED)? */
int node_state_unstored(enum node_state s);
int node_state_new(enum node_state s);
/* Give n the event ev (caller holds n->lock; node.c's table functions give the name
 * events). Returns the new state; an event the state cannot have leaves it, and is logged. */
enum node_state node_event_locked(struct node *n, enum node_event ev);
/* The same, taking the locks: table_lock, then n->lock. A node that becomes UNLINKED leaves
 * the table (a new file of its name starts afresh). */
enum node_state node_event(struct node *n, enum node_event ev);
/* n's state now (n->lock taken for the moment). */
enum node_state node_state(struct node *n);

/* The node of key with one more reference, made (from rec) if none is open; *fresh tells
 * which. Returns NULL when out of memory. */
struct node *node_get(const char *key, size_t klen, const struct kv_record *rec, int *fresh);
/* If key has an open node in the table (any state but UNLINKED; HIDDEN by its hidden name):
 * a copy of its record (size: the current one) and whether it is a new key not stored yet
 * (NEW, NEW_FAILED). No reference is taken. */
int node_snapshot(const char *key, size_t klen, struct kv_record *rec, int *created);
/* Like node_snapshot, but only for a node with bytes of its own (any state but STORED and
 * UNLINKED: what this mount shows of the key then differs from the index). */
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
 * a reference taken. *out gets a malloc'd array (the caller gives each node back with
 * node_put and frees the array; NULL when none). Returns the count or -ENOMEM. */
int node_grab_under(const char *dir, size_t dlen, struct node ***out);
/* After a directory rename: every open node under from/ moves to to/ (a name that would
 * exceed KV_KEY_MAX keeps the old one; callers check first with node_grab_under). */
void node_rename_tree(const char *from, size_t flen, const char *to, size_t tlen);
/* The node of key (if open) is UNLINKED, and out of the table. */
void node_unlinked(const char *key, size_t klen);
/* It is HIDDEN under the name libfuse hides it by (UNLINKED when that cannot be): lookups
 * by that name (only) find it until its handles close (node_snapshot, node_local). */
void node_hide(const char *key, size_t klen, const char *as, size_t alen);
/* If key names a hidden node: out of the table with it (libfuse unlinks the hidden name at
 * the last close). Returns 1 when it did. */
int node_unhide(const char *key, size_t klen);
/* Call fn for every new key not stored yet (NEW, NEW_FAILED) directly inside dir (dlen 0:
 * root). */
void node_each_created_in(const char *dir, size_t dlen,
			  void (*fn)(const char *name, size_t nlen, const struct kv_record *rec,
				     void *arg),
			  void *arg);

#endif
