/* hasher.h — an md5 kept up to date on a thread of its own, beside the caller's work on the
 * same bytes: a put hands each piece to it, sends the piece to the shards meanwhile, and
 * waits for both, so a big value costs the longer of its md5 and its transfer, not their
 * sum.
 *
 * Threads: one caller thread at a time uses a struct kv_hasher (feed, wait, free); its
 * own thread only ever touches the md5 it was given, between a feed and the wait. */
#ifndef KV_HASHER_H
#define KV_HASHER_H

#include <stddef.h>

#include "hash.h"

struct kv_hasher;

/* A hasher that adds what it is fed to md5, which the caller owns and must not use from
 * kv_hasher_feed until kv_hasher_wait returns. 0, or -ENOMEM / -EAGAIN (no thread could
 * be started: the caller hashes the bytes itself). */
int kv_hasher_new(struct kv_md5 *md5, struct kv_hasher **out);

/* Start adding buf[0..len) to the md5 and return at once. buf must stay unchanged until
 * kv_hasher_wait returns; one piece at a time (the previous one waited for). */
void kv_hasher_feed(struct kv_hasher *h, const void *buf, size_t len);

/* Return once the piece fed last is all in the md5: what the thread has not begun of it
 * is hashed here, on the caller's thread, so a thread that gets no core delays nothing.
 * At once when no piece is under way. */
void kv_hasher_wait(struct kv_hasher *h);

/* Stop the thread and free h (after kv_hasher_wait, or before any feed); NULL is
 * ignored. */
void kv_hasher_free(struct kv_hasher *h);

#endif
