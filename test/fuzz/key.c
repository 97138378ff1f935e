/* key.c — fuzzes the key checks and percent-decoding of request paths and query values
 * (core/codec.c: kv_key_check, kv_key_check_new against a plain reference of the rule,
 * kv_key_decode, kv_url_decode), with output buffers of
 * every small size, and the shard path of every key they accept (kv_key_path, then
 * kv_path_key back to the same key).
 *
 * Input: byte 0 picks the output capacity, the rest is the raw (still encoded) text.
 */
#include <errno.h>
#include <string.h>

#include "codec.h"
#include "fuzz.h"

static size_t pick_cap(uint8_t b)
{
	static const size_t caps[] = { 0, 1, 2, 3, 7, KV_KEY_MAX - 1, KV_KEY_MAX,
				       KV_KEY_MAX + 1, 4096 };

	return b < sizeof(caps) / sizeof(caps[0]) ? caps[b] : (size_t)b;
}

/* Percent-encode every byte, the strictest spelling, and decode it again. */
static void reencode(const char *s, size_t n)
{
	char *enc = malloc(3 * n + 1), *back = malloc(n + 1);
	size_t i, blen = 0;

	FUZZ_CHECK(enc != NULL && back != NULL);
	for (i = 0; i < n; i++)
		(void)snprintf(enc + 3 * i, 4, "%%%02X", (unsigned char)s[i]);
	FUZZ_CHECK(kv_url_decode(enc, 3 * n, back, n + 1, &blen, NULL) == 0);
	FUZZ_CHECK(blen == n && memcmp(back, s, n) == 0);
	free(enc);
	free(back);
}

static void key_path_round_trip(const char *key, size_t len)
{
	char path[KV_PATH_MAX], back[KV_KEY_MAX + 1];
	int plen = kv_key_path(key, len, path, sizeof(path));

	FUZZ_CHECK(plen > 7 && plen < KV_PATH_MAX && (size_t)plen == strlen(path));
	FUZZ_CHECK(kv_path_key(path, (size_t)plen, back, sizeof(back)) == (int)len);
	FUZZ_CHECK(memcmp(back, key, len) == 0);
}

/* The rule of kv_key_check_new, spelled plainly: split at every '/', and no part may be
 * "", "." or "..". */
static int follows_rule(const char *key, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && key[i] != '/')
			continue;
		if (i - start == 0 || (i - start == 1 && key[start] == '.') ||
		    (i - start == 2 && key[start] == '.' && key[start + 1] == '.'))
			return 0;
		start = i + 1;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kv_err err;
	const char *raw;
	size_t cap, rawlen, n = 12345;
	char *out;
	int rc;

	if (size < 1)
		return 0;
	cap = pick_cap(data[0]);
	raw = (const char *)data + 1;
	rawlen = size - 1;
	out = malloc(cap > 0 ? cap : 1);
	FUZZ_CHECK(out != NULL);

	/* a raw key as it is */
	rc = kv_key_check(raw, rawlen, &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
	FUZZ_CHECK(rc == 0 ? rawlen >= 1 && rawlen <= KV_KEY_MAX && !memchr(raw, 0, rawlen) :
			     err.code == rc && memchr(err.msg, 0, sizeof(err.msg)) != NULL);
	if (rc == 0)
		key_path_round_trip(raw, rawlen);
	/* ... and as a new key */
	if (rc == 0 && !follows_rule(raw, rawlen))
		rc = -EINVAL;
	FUZZ_CHECK(kv_key_check_new(raw, rawlen, &err) == rc);

	/* a request path */
	rc = kv_key_decode(raw, rawlen, out, cap, &n, &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EILSEQ || rc == -ENAMETOOLONG);
	if (rc == 0) {
		FUZZ_CHECK(n <= cap && n <= rawlen && kv_key_check(out, n, NULL) == 0);
		key_path_round_trip(out, n);
		reencode(out, n);
	} else {
		FUZZ_CHECK(err.code == rc && err.msg[0] != '\0');
	}

	/* a query value */
	n = 12345;
	rc = kv_url_decode(raw, rawlen, out, cap, &n, &err);
	FUZZ_CHECK(rc == 0 || rc == -EILSEQ || rc == -ENAMETOOLONG);
	if (rc == 0) {
		FUZZ_CHECK(n <= cap && n <= rawlen);
		reencode(out, n);
		/* without '%' the text is its own decoding */
		if (memchr(raw, '%', rawlen) == NULL)
			FUZZ_CHECK(n == rawlen && memcmp(out, raw, n) == 0);
	}
	free(out);
	return 0;
}
