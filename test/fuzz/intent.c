/* intent.c — fuzzes the decoding of intents (core/record.c: kv_intent_decode), the crash
 * log that recovery acts on: a decoded intent names files to delete or move on shards.
 *
 * Properties: what decodes is within the intent's limits, encodes back to the bytes it
 * came from (except that an older record inside is written as version 3: a version-2 one
 * 6 bytes longer, a version-1 one 22), and decodes again to the same intent, whose
 * encoding is then exactly stable.
 */
#include <string.h>

#include "fuzz.h"
#include "record.h"

static void check_files(const struct kv_fileref *f, int n, int max)
{
	int i;

	FUZZ_CHECK(n <= max);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(memchr(f[i].shard, '\0', sizeof(f[i].shard)) != NULL);
		FUZZ_CHECK(f[i].klen <= KV_KEY_MAX && f[i].key[f[i].klen] == '\0');
	}
}

/* Can grown bytes be what at most stored older records inside gained (6 or 22 each)? */
static int upgraded(size_t grown, size_t stored)
{
	size_t v1, v2;

	for (v1 = 0; v1 <= stored; v1++)
		for (v2 = 0; v1 + v2 <= stored; v2++)
			if (grown == 22 * v1 + 6 * v2)
				return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[KV_INTENT_MAX], again[KV_INTENT_MAX];
	static struct kv_intent in, back;
	size_t n, stored = 0;
	int i;

	if (kv_intent_decode(data, size, &in) < 0)
		return 0;
	check_files(in.undo, in.nundo, KV_INTENT_FILES);
	check_files(in.moves, in.nmoves, KV_MAX_REPLICAS);
	check_files(in.cleanup, in.ncleanup, KV_INTENT_FILES);
	FUZZ_CHECK(in.nrecops <= 2);
	for (i = 0; i < in.nrecops; i++) {
		FUZZ_CHECK(in.recops[i].klen <= KV_KEY_MAX &&
			   in.recops[i].key[in.recops[i].klen] == '\0');
		stored += !in.recops[i].remove;
	}

	n = kv_intent_encode(&in, buf, sizeof(buf));
	FUZZ_CHECK(n >= size && upgraded(n - size, stored));
	FUZZ_CHECK(n != size || memcmp(buf, data, size) == 0);
	FUZZ_CHECK(kv_intent_decode(buf, n, &back) == 0);
	FUZZ_CHECK(memcmp(&in, &back, sizeof(in)) == 0);
	FUZZ_CHECK(kv_intent_encode(&back, again, sizeof(again)) == n &&
		   memcmp(again, buf, n) == 0);
	return 0;
}
