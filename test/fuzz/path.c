/* path.c — fuzzes what turns a file found on a shard back into a key: kv_path_key (paths
 * from a PROPFIND reply, during rebuild and verify) and the base64url decoder beneath it
 * (kv_b64url_decode), with output buffers of every small size.
 *
 * Input: byte 0 picks the output capacity, the rest is the path (or base64 text).
 * Properties: a path maps to a key only if that key's own path is exactly this one; a
 * text decodes only if encoding the result gives the same text back.
 */
#include <errno.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in;
	size_t cap, len;
	uint8_t *out;
	int n;

	if (size < 1)
		return 0;
	cap = data[0] < 16 ? data[0] : data[0] < 128 ? (size_t)data[0] * 8 : KV_KEY_MAX + 1;
	in = (const char *)data + 1;
	len = size - 1;
	out = malloc(cap > 0 ? cap : 1);
	FUZZ_CHECK(out != NULL);

	n = kv_path_key(in, len, (char *)out, cap);
	FUZZ_CHECK(n == -EINVAL || (n >= 1 && n <= KV_KEY_MAX && (size_t)n <= cap));
	if (n > 0) {
		char path[KV_PATH_MAX];
		int plen = kv_key_path((const char *)out, (size_t)n, path, sizeof(path));

		FUZZ_CHECK(plen >= 0 && (size_t)plen == len && memcmp(path, in, len) == 0);
	}

	n = kv_b64url_decode(in, len, out, cap);
	FUZZ_CHECK(n == -EINVAL || (n >= 0 && (size_t)n <= cap && (size_t)n <= len / 4 * 3));
	if (n >= 0) {
		char *enc = malloc(len + 1);

		FUZZ_CHECK(enc != NULL);
		FUZZ_CHECK(kv_b64url_encode(out, (size_t)n, enc, len + 1) == (int)len);
		FUZZ_CHECK(memcmp(enc, in, len) == 0);
		free(enc);
	}
	free(out);
	return 0;
}
