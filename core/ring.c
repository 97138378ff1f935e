/* ring.c — the byte ring of ring.h: positions modulo the buffer's size. No locks, no
 * threads; callers hold theirs.
 */
#include "ring.h"

#include <string.h>

void kv_ring_init(struct kv_ring *r, void *buf, size_t cap, uint64_t pos)
{
	r->buf = buf;
	r->cap = cap;
	r->start = r->end = pos;
}

size_t kv_ring_len(const struct kv_ring *r)
{
	return (size_t)(r->end - r->start);
}

size_t kv_ring_room(const struct kv_ring *r)
{
	return r->cap - kv_ring_len(r);
}

size_t kv_ring_append(struct kv_ring *r, const void *src, size_t n)
{
	const char *p = src;
	size_t taken = 0;

	while (taken < n && kv_ring_room(r) > 0) {
		size_t at = (size_t)(r->end % r->cap), piece = r->cap - at;

		if (piece > kv_ring_room(r))
			piece = kv_ring_room(r);
		if (piece > n - taken)
			piece = n - taken;
		memcpy(r->buf + at, p + taken, piece);
		r->end += piece;
		taken += piece;
	}
	return taken;
}

const char *kv_ring_span(const struct kv_ring *r, uint64_t pos, size_t *n)
{
	size_t at = (size_t)(pos % r->cap), left = (size_t)(r->end - pos);

	*n = r->cap - at < left ? r->cap - at : left;
	return r->buf + at;
}

size_t kv_ring_copy(const struct kv_ring *r, uint64_t pos, void *dst, size_t n)
{
	char *d = dst;
	size_t done = 0;

	while (done < n && pos + done < r->end) {
		size_t piece;
		const char *src = kv_ring_span(r, pos + done, &piece);

		if (piece > n - done)
			piece = n - done;
		memcpy(d + done, src, piece);
		done += piece;
	}
	return done;
}

void kv_ring_drop(struct kv_ring *r, uint64_t pos)
{
	r->start = pos;
}
