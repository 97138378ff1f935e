/* record.c — fuzzes the decoding of index records (core/record.c: kv_record_decode), the
 * bytes every reader takes from LMDB, which a damaged or foreign index may hold.
 *
 * Properties: what decodes is within the record's limits, encodes back to exactly the
 * bytes it came from (a version-2 record; a version-1 one encodes as version 2, its bytes
 * plus the inode number and rdev, both zero), and decodes again to the same record
 * (decode∘encode is the identity on everything decode accepts).
 */
#include <string.h>

#include "fuzz.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[KV_RECORD_MAX];
	struct kv_record r, back;
	size_t n;
	int i;

	memset(&r, 0x5a, sizeof(r));	/* decode must set every byte it leaves meaning in */
	if (kv_record_decode(data, size, &r) < 0)
		return 0;
	FUZZ_CHECK(r.type >= KV_TYPE_REG && r.type <= KV_TYPE_LAST);
	FUZZ_CHECK(data[0] == 2 || (r.type <= KV_TYPE_DIR && r.ino == 0 && r.rdev == 0));
	FUZZ_CHECK(r.nrep <= KV_MAX_REPLICAS && r.target_len <= KV_TARGET_MAX);
	for (i = 0; i < r.nrep; i++)
		FUZZ_CHECK(memchr(r.rep[i], '\0', sizeof(r.rep[i])) != NULL);
	FUZZ_CHECK(r.target[r.target_len] == '\0');

	n = kv_record_encode(&r, buf, sizeof(buf));
	if (data[0] == 2)
		FUZZ_CHECK(n == size && memcmp(buf, data, size) == 0);
	else
		FUZZ_CHECK(n == size + 16 && buf[0] == 2 && memcmp(buf + 1, data + 1, size - 1) == 0);
	memset(&back, 0xa5, sizeof(back));
	FUZZ_CHECK(kv_record_decode(buf, n, &back) == 0);
	FUZZ_CHECK(memcmp(&r, &back, sizeof(r)) == 0);
	return 0;
}
