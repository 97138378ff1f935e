/* prefetch.h — a value read ahead by a thread of its own while a file is read in order, so
 * that the transfer from the shard overlaps the reader's use of what came before. */
#ifndef TINYKV_PREFETCH_H
#define TINYKV_PREFETCH_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct prefetch;

/* Start reading key (as rec describes it) from offset off, on a thread of its own. rec is
 * copied; *out is the caller's (prefetch_free). -ENOMEM, or -EAGAIN when no thread can be
 * started. A prefetch is used by one reader thread at a time (callers hold n->io). */
int prefetch_start(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		   int64_t off, struct prefetch **out, struct kv_err *err);

/*
 * Copy up to len bytes at off into buf, waiting for them to arrive; *got is the count (0
 * at the end of the value). -ESPIPE when off is not near where this read-ahead is (start
 * another); the read-ahead's error when it failed.
 */
int prefetch_read(struct prefetch *p, int64_t off, char *buf, size_t len, size_t *got,
		  struct kv_err *err);

/* Stop the thread and free. NULL is fine. */
void prefetch_free(struct prefetch *p);

#endif
