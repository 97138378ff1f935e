/* pool.h — a fixed set of worker threads fed through a bounded queue: for the admin verbs
 * that stream over the index or the shards and work on many keys at once, and for
 * tinykvd's writes, which an event loop hands over without ever waiting (try_submit). */
#ifndef KV_POOL_H
#define KV_POOL_H

#include <stddef.h>

struct kv_pool;

/* fn(item, len, arg) runs on one of jobs threads for every submitted item. */
typedef void (*kv_pool_fn)(const char *item, size_t len, void *arg);

/* NULL when threads cannot be started. */
struct kv_pool *kv_pool_new(int jobs, kv_pool_fn fn, void *arg);

/* Queue a copy of item[0..len) (len <= 1024); blocks while the queue is full. */
int kv_pool_submit(struct kv_pool *p, const char *item, size_t len);

/* As kv_pool_submit, but never waits: -EAGAIN when the queue is full (it holds four
 * items per thread), -EINVAL when len > 1024. Any thread. */
int kv_pool_try_submit(struct kv_pool *p, const char *item, size_t len);

/* Queued items that no idle thread is about to take (0 when every item has a thread):
 * how much work waits for a thread to come free. A snapshot; any thread. */
int kv_pool_backlog(struct kv_pool *p);

/* The number of threads. Any thread. */
int kv_pool_threads(const struct kv_pool *p);

/* Wait until every item is done, stop the threads and free the pool. */
void kv_pool_finish(struct kv_pool *p);

#endif
