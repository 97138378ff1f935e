/* kv_ring: bytes come out in the order and at the positions they went in, across the wrap
 * of the buffer, from any position kept; appends stop at the room there is; drops make
 * room. Checked against a plain array of the whole stream. */
#include <stdint.h>
#include <string.h>

#include "ring.h"
#include "unit.h"

UNIT_TEST(ring_append_span_drop_across_wraps)
{
	char buf[7], out[16];
	struct kv_ring r;
	size_t n;
	const char *s;

	kv_ring_init(&r, buf, sizeof(buf), 0);
	CHECK(kv_ring_len(&r) == 0 && kv_ring_room(&r) == 7);
	CHECK(kv_ring_append(&r, "abcdefghij", 10) == 7); /* only the room there is */
	CHECK(kv_ring_room(&r) == 0);
	CHECK(kv_ring_append(&r, "x", 1) == 0);
	s = kv_ring_span(&r, 0, &n);
	CHECK(n == 7 && memcmp(s, "abcdefg", 7) == 0);
	kv_ring_drop(&r, 5);
	CHECK(kv_ring_len(&r) == 2 && kv_ring_room(&r) == 5);
	CHECK(kv_ring_append(&r, "hijkl", 5) == 5); /* wraps: 'h' at the end, then the front */
	s = kv_ring_span(&r, 5, &n);
	CHECK(n == 2 && memcmp(s, "fg", 2) == 0); /* together only up to the wrap */
	s = kv_ring_span(&r, 7, &n);
	CHECK(n == 5 && memcmp(s, "hijkl", 5) == 0);
	CHECK(kv_ring_copy(&r, 5, out, sizeof(out)) == 7); /* fewer: end comes first */
	CHECK(memcmp(out, "fghijkl", 7) == 0);
	CHECK(kv_ring_copy(&r, 9, out, 2) == 2 && memcmp(out, "jk", 2) == 0);
	s = kv_ring_span(&r, 12, &n);
	CHECK(n == 0); /* at end */
	(void)s;
}

UNIT_TEST(ring_positions_start_anywhere)
{
	char buf[4096], stream[100000], out[3000];
	uint64_t base = (1ULL << 40) + 123; /* a file offset far into a value */
	struct kv_ring r;
	size_t i, put = 0, got = 0, step = 1;

	for (i = 0; i < sizeof(stream); i++)
		stream[i] = (char)(i * 7 + i / 251);
	kv_ring_init(&r, buf, sizeof(buf), base);
	while (got < sizeof(stream)) {
		size_t want = step * 37 % 2500 + 1, n;

		if (want > sizeof(stream) - put)
			want = sizeof(stream) - put;
		put += kv_ring_append(&r, stream + put, want);
		CHECK(r.end == base + put);
		n = kv_ring_copy(&r, base + got, out, step * 53 % 3000 + 1);
		CHECK(memcmp(out, stream + got, n) == 0);
		got += n;
		kv_ring_drop(&r, base + got);
		step++;
	}
	CHECK(got == sizeof(stream) && put == sizeof(stream));
}
