/* ring.h — a byte ring addressed by stream position.
 *
 * The one buffer between a producer and a consumer of a byte stream: a PUT's body on its
 * way from tinykvd's loop to a worker (mountd/writes.c), a file written in order going up
 * from the mount (fuse/stream.c), a value coming down ahead of the mount's reads
 * (fuse/prefetch.c). Bytes are named by their position in the stream (a file offset, or a
 * count from 0), so a reader may copy from anywhere in what is kept, not only its front.
 *
 * It is arithmetic and copies only: the caller owns the memory, holds its own lock around
 * every call and does its own waiting. A consumer may use the span it was given outside
 * that lock, since appends only write outside [start, end).
 */
#ifndef TINYKV_RING_H
#define TINYKV_RING_H

#include <stddef.h>
#include <stdint.h>

struct kv_ring {
	char *buf;
	size_t cap;
	uint64_t start; /* the oldest byte kept */
	uint64_t end;	/* one past the newest */
};

/* An empty ring over buf (cap bytes, owned by the caller) whose next byte is at pos. */
void kv_ring_init(struct kv_ring *r, void *buf, size_t cap, uint64_t pos);

/* Bytes kept, and room for more. */
size_t kv_ring_len(const struct kv_ring *r);
size_t kv_ring_room(const struct kv_ring *r);

/* Copy as much of src[0, n) as there is room for after end; returns the bytes taken. */
size_t kv_ring_append(struct kv_ring *r, const void *src, size_t n);

/* The bytes from pos (start <= pos <= end) that lie together in the buffer: up to end or
 * to where the buffer wraps, whichever is first. *n is 0 at end. */
const char *kv_ring_span(const struct kv_ring *r, uint64_t pos, size_t *n);

/* Copy up to n bytes from pos (start <= pos <= end) into dst; returns the bytes copied
 * (fewer than n when end comes first). */
size_t kv_ring_copy(const struct kv_ring *r, uint64_t pos, void *dst, size_t n);

/* Forget the bytes before pos (start <= pos <= end), making room. */
void kv_ring_drop(struct kv_ring *r, uint64_t pos);

#endif
