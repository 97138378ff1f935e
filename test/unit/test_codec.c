/* Key codec: percent-decoding, limits, base64url, shard paths and their inverse. */
#include <errno.h>
#include <string.h>

#include "codec.h"
#include "unit.h"

static int decode(const char *raw, char *out, size_t *len)
{
	return kv_key_decode(raw, strlen(raw), out, KV_KEY_MAX + 1, len, NULL);
}

UNIT_TEST(percent_decoding)
{
	char out[KV_KEY_MAX + 1];
	size_t len;

	CHECK(decode("hello", out, &len) == 0 && len == 5 && !memcmp(out, "hello", 5));
	CHECK(decode("a%20b%2Fc", out, &len) == 0 && len == 5 && !memcmp(out, "a b/c", 5));
	CHECK(decode("a+b", out, &len) == 0 &&
	      !memcmp(out, "a+b", 3)); /* '+' is literal in paths */
	CHECK(decode("%e2%82%AC", out, &len) == 0 && len == 3);
	CHECK(decode("bad%", out, &len) == -EILSEQ);
	CHECK(decode("bad%2", out, &len) == -EILSEQ);
	CHECK(decode("bad%zz", out, &len) == -EILSEQ);
	CHECK(decode("nul%00", out, &len) == -EINVAL);
	CHECK(decode("", out, &len) == -EINVAL);
}

UNIT_TEST(key_length_limit)
{
	char raw[3 * 600], out[KV_KEY_MAX + 1];
	size_t len;

	memset(raw, 'k', 511);
	raw[511] = '\0';
	CHECK(decode(raw, out, &len) == 0 && len == 511);
	raw[511] = 'k';
	raw[512] = '\0';
	CHECK(decode(raw, out, &len) == -ENAMETOOLONG);
	/* 511 bytes spelled as escapes are fine: the limit is on the decoded key */
	for (len = 0; len < 511; len++)
		memcpy(raw + 3 * len, "%41", 3);
	raw[3 * 511] = '\0';
	CHECK(decode(raw, out, &len) == 0 && len == 511);
}

UNIT_TEST(base64url_round_trip)
{
	unsigned char in[256], back[256];
	char enc[400];
	int n, i;

	for (i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	for (i = 0; i <= 256; i += 1) {
		n = kv_b64url_encode(in, (size_t)i, enc, sizeof(enc));
		CHECK(n == (i + 2) / 3 * 4);
		CHECK(strchr(enc, '+') == NULL && strchr(enc, '/') == NULL);
		CHECK(kv_b64url_decode(enc, (size_t)n, back, sizeof(back)) == i);
		CHECK(memcmp(in, back, (size_t)i) == 0);
	}
	CHECK(kv_b64url_decode("Zm9v=", 5, back, sizeof(back)) == -EINVAL);
	CHECK(kv_b64url_decode("Zm=v", 4, back, sizeof(back)) == -EINVAL);
}

UNIT_TEST(long_keys_split_into_segments)
{
	char key[KV_KEY_MAX], path[KV_PATH_MAX], back[KV_KEY_MAX + 1];
	const char *p, *seg;
	int n;

	memset(key, 'x', sizeof(key));
	n = kv_key_path(key, sizeof(key), path, sizeof(path));
	CHECK(n > 0 && n < KV_PATH_MAX);
	/* "/xx/yy/" then 684 base64 characters in segments of at most 255 */
	for (seg = path + 7; (p = strchr(seg, '/')) != NULL; seg = p + 1)
		CHECK(p - seg == 255);
	CHECK(strlen(seg) == 684 - 2 * 255);
	CHECK(kv_path_key(path, (size_t)n, back, sizeof(back)) == KV_KEY_MAX);
	CHECK(memcmp(back, key, KV_KEY_MAX) == 0);
}

UNIT_TEST(path_to_key_rejects_strays)
{
	char key[KV_KEY_MAX + 1];

	CHECK(kv_path_key("/5d/41/aGVsbG8=", 15, key, sizeof(key)) == 5);
	CHECK(memcmp(key, "hello", 5) == 0);
	CHECK(kv_path_key("/00/00/aGVsbG8=", 15, key, sizeof(key)) == -EINVAL);
	CHECK(kv_path_key("/5d/41/.tmp-0000000000000001", 28, key, sizeof(key)) == -EINVAL);
	CHECK(kv_path_key("/5d/41/tmp.0000000000000001", 27, key, sizeof(key)) == -EINVAL);
	CHECK(kv_path_key("/5d/41/", 7, key, sizeof(key)) == -EINVAL);
}

/* Found by fuzzing (test/fuzz/path): "QU==" decoded to "A" as "QQ==" does. One spelling
 * per byte string: the bits below the last decoded byte must be zero. */
UNIT_TEST(base64url_accepts_only_the_canonical_spelling)
{
	uint8_t back[8];

	CHECK(kv_b64url_decode("QQ==", 4, back, sizeof(back)) == 1 && back[0] == 'A');
	CHECK(kv_b64url_decode("QU==", 4, back, sizeof(back)) == -EINVAL);
	CHECK(kv_b64url_decode("QUI=", 4, back, sizeof(back)) == 2);
	CHECK(kv_b64url_decode("QUJ=", 4, back, sizeof(back)) == -EINVAL);
	CHECK(kv_b64url_decode("QUJD", 4, back, sizeof(back)) == 3);
}

static int check_new(const char *key)
{
	return kv_key_check_new(key, strlen(key), NULL);
}

UNIT_TEST(new_keys_are_paths_the_mount_can_show)
{
	struct kv_err err;

	CHECK(check_new("hello") == 0);
	CHECK(check_new("a/b/c") == 0);
	CHECK(check_new("a.b/.hidden/..x/x..") == 0);
	CHECK(check_new("...") == 0);
	CHECK(check_new("dir/") == -EINVAL);
	CHECK(check_new("/a") == -EINVAL);
	CHECK(check_new("/") == -EINVAL);
	CHECK(check_new("a//b") == -EINVAL);
	CHECK(check_new(".") == -EINVAL);
	CHECK(check_new("..") == -EINVAL);
	CHECK(check_new("a/./b") == -EINVAL);
	CHECK(check_new("a/..") == -EINVAL);
	CHECK(check_new("../a") == -EINVAL);
	CHECK(check_new("") == -EINVAL);
	CHECK(kv_key_check_new("a\0b", 3, NULL) == -EINVAL);
	/* the message names the broken part and states the rule */
	CHECK(kv_key_check_new("a//b", 4, &err) == -EINVAL);
	CHECK(strstr(err.msg, "empty") != NULL && strstr(err.msg, "'..'") != NULL);
	CHECK(kv_key_check_new("a/../b", 6, &err) == -EINVAL && strstr(err.msg, "'..' name"));
	/* older keys stay readable and deletable: the plain check still takes them */
	CHECK(kv_key_check("dir/", 4, NULL) == 0 && kv_key_check("a//b", 4, NULL) == 0);
}
