/* record.c — fuzzes the decoding of index records (core/record.c: kv_record_decode), the
 * bytes every reader takes from LMDB, which a damaged or foreign index may hold.
 *
 * Properties: what decodes is within the record's limits, encodes back to exactly the
 * bytes it came from (a version-3 record; a version-2 one encodes as version 3, its bytes
 * plus nlink 1 and an empty value key; a version-1 one also gains the inode number and
 * rdev, both zero), and decodes again to the same record
 * (decode∘encode is the identity on everything decode accepts).
 */
#include <stddef.h>
#include <string.h>

#include "fuzz.h"
#include "record.h"

/* Every byte that has a meaning is equal: the fixed fields, each string up to its NUL
 * (decoding leaves the bytes past a string's end as they were: zeroing them cost GETs). */
static int same_record(const struct kv_record *a, const struct kv_record *b)
{
	int i;

	if (memcmp(a, b, offsetof(struct kv_record, rep)) != 0)
		return 0;
	for (i = 0; i < a->nrep; i++)
		if (strcmp(a->rep[i], b->rep[i]) != 0)
			return 0;
	return a->target_len == b->target_len &&
	       memcmp(a->target, b->target, (size_t)a->target_len + 1) == 0 && a->ino == b->ino &&
	       a->rdev == b->rdev && a->nlink == b->nlink && a->vkey_len == b->vkey_len &&
	       memcmp(a->vkey, b->vkey, (size_t)a->vkey_len + 1) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[KV_RECORD_MAX];
	struct kv_record r, back;
	size_t n;
	int i;

	memset(&r, 0x5a, sizeof(r)); /* decode must set every byte it leaves meaning in */
	if (kv_record_decode(data, size, &r) < 0)
		return 0;
	FUZZ_CHECK(r.type >= KV_TYPE_REG && r.type <= KV_TYPE_LAST);
	FUZZ_CHECK(data[0] >= 2 || (r.type <= KV_TYPE_DIR && r.ino == 0 && r.rdev == 0));
	FUZZ_CHECK(data[0] == 3 || (r.nlink == 1 && r.vkey_len == 0));
	FUZZ_CHECK(r.vkey_len <= KV_KEY_MAX && r.vkey[r.vkey_len] == '\0');
	FUZZ_CHECK(r.nrep <= KV_MAX_REPLICAS && r.target_len <= KV_TARGET_MAX);
	for (i = 0; i < r.nrep; i++)
		FUZZ_CHECK(memchr(r.rep[i], '\0', sizeof(r.rep[i])) != NULL);
	FUZZ_CHECK(r.target[r.target_len] == '\0');

	n = kv_record_encode(&r, buf, sizeof(buf));
	if (data[0] == 3)
		FUZZ_CHECK(n == size && memcmp(buf, data, size) == 0);
	else
		FUZZ_CHECK(n == size + (data[0] == 1 ? 16 : 0) + 6 && buf[0] == 3 &&
			   memcmp(buf + 1, data + 1, size - 1) == 0);
	memset(&back, 0xa5, sizeof(back));
	FUZZ_CHECK(kv_record_decode(buf, n, &back) == 0);
	FUZZ_CHECK(same_record(&r, &back));
	return 0;
}
