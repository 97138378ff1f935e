/* stream.h — a value uploaded by a thread of its own while the file is being written, so
 * that the writer's next write overlaps the upload of the last one. */
#ifndef TINYKV_STREAM_H
#define TINYKV_STREAM_H

#include <stddef.h>

#include "store.h"

struct stream;

/* Begin uploading a new value of key (the key's lock is taken here). */
int stream_begin(struct kv_store *s, const char *key, size_t klen, const struct kv_meta *meta,
		 struct stream **out, struct kv_err *err);

/* Queue buf[0..len) (copied; waits while the queue is full). Fails once the upload has. */
int stream_push(struct stream *st, const void *buf, size_t len, struct kv_err *err);

/* Wait until everything queued is sent and stop the thread. Returns the upload's first
 * error. Then the put (stream_put) is the caller's to commit or spill. */
int stream_finish(struct stream *st, struct kv_err *err);
struct kv_put *stream_put(struct stream *st);

/* Stop and give up: what went up is removed. NULL is fine. */
void stream_free(struct stream *st);

#endif
