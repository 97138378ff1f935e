/* kv_hasher: pieces fed to the hashing thread, waited for one at a time, give the md5 of
 * their concatenation, the same as hashing inline: whether the thread hashed all of a
 * piece, part of it (the rest hashed by the waiter), or none, and mixed with inline
 * pieces. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "hasher.h"
#include "unit.h"

#define TOTAL (3 * 1024 * 1024 + 17)

UNIT_TEST(hasher_pieces_make_the_whole_md5)
{
	uint8_t want[KV_MD5_LEN], got[KV_MD5_LEN];
	unsigned char *buf = malloc(TOTAL);
	struct kv_md5 *md5 = kv_md5_new();
	struct kv_hasher *h = NULL;
	size_t off = 0, n = 1;
	int i = 0;

	CHECK(buf != NULL && md5 != NULL);
	if (buf == NULL || md5 == NULL)
		goto out;
	for (off = 0; off < TOTAL; off++)
		buf[off] = (unsigned char)(off * 2654435761u >> 13);
	kv_md5(buf, TOTAL, want);
	CHECK(kv_hasher_new(md5, &h) == 0);
	if (h == NULL)
		goto out;
	for (off = 0; off < TOTAL; off += n, n = n * 3 + 1, i++) {
		if (n > TOTAL - off)
			n = TOTAL - off;
		if (i % 3 == 2) { /* now and then a piece on this thread, as kv_put_write does */
			kv_md5_update(md5, buf + off, n);
			continue;
		}
		kv_hasher_feed(h, buf + off, n);
		if (i % 3 == 1)
			(void)usleep(2000); /* the thread has time for some or all of it */
		kv_hasher_wait(h);
	}
	kv_hasher_wait(h); /* none under way: returns at once */
	kv_md5_final(md5, got);
	CHECK(memcmp(want, got, KV_MD5_LEN) == 0);
out:
	kv_hasher_free(h);
	kv_hasher_free(NULL);
	kv_md5_free(md5);
	free(buf);
}
