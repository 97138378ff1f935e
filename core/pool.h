/* pool.h — a fixed set of worker threads fed through a bounded queue of typed items:
 * tinykvd's PUT and DELETE workers and its listers, which an event loop hands work over
 * to without ever waiting (kv_pool_try_submit), and the admin verbs (rebalance, rebuild,
 * verify), which stream keys or shards from one thread to many.
 *
 * Items: each pool carries one item type, of the size given to kv_pool_new. A submit
 * copies the item's bytes into the queue (the caller keeps its own, and may reuse it at
 * once); the thread that runs it gets its own copy, which fn may read and change until it
 * returns. What an item points to is not the pool's business: who owns that is the
 * caller's protocol (tinykvd's requests: req.h). All the pool's memory is taken by
 * kv_pool_new, before a thread starts; running an item allocates nothing. */
#ifndef KV_POOL_H
#define KV_POOL_H

#include <stddef.h>

struct kv_pool;

/* fn(item, arg) runs on one of the pool's threads for every submitted item: item is that
 * thread's copy (item_size bytes, aligned for any type), valid until fn returns. */
typedef void (*kv_pool_fn)(void *item, void *arg);

/* A pool of nthreads threads (at least 1; fewer when not all could be started) running
 * fn(item, arg) on items of item_size bytes. NULL when item_size is 0, memory is short or
 * no thread can be started. Free with kv_pool_finish. */
struct kv_pool *kv_pool_new(int nthreads, size_t item_size, kv_pool_fn fn, void *arg);

/* Queue a copy of item, whose size must be the pool's item_size (-EINVAL otherwise: the
 * item is of another type); blocks while the queue is full. 0. Any thread but the pool's
 * own (they could wait for themselves). */
int kv_pool_submit(struct kv_pool *p, const void *item, size_t size);

/* As kv_pool_submit, but never waits: -EAGAIN when the queue is full (it holds four
 * items per thread). Any thread. */
int kv_pool_try_submit(struct kv_pool *p, const void *item, size_t size);

/* Queued items that no idle thread is about to take (0 when every item has a thread):
 * how much work waits for a thread to come free. A snapshot; any thread. */
int kv_pool_backlog(struct kv_pool *p);

/* The number of threads. Any thread. */
int kv_pool_threads(const struct kv_pool *p);

/* Wait until every queued item is done, stop the threads and free the pool (NULL: no-op).
 * Not on one of the pool's threads. */
void kv_pool_finish(struct kv_pool *p);

#endif
