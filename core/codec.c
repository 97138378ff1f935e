/* codec.c — key validation, percent-decoding, base64url and the shard path of a key.
 * Pure: any thread. */
#include "codec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hash.h"

int kv_key_check(const char *key, size_t len, struct kv_err *err)
{
	if (len == 0)
		return kv_err_set(err, -EINVAL, "empty key");
	if (len > KV_KEY_MAX)
		return kv_err_set(err, -ENAMETOOLONG, "key is %zu bytes; the limit is %d", len,
				  KV_KEY_MAX);
	if (memchr(key, '\0', len) != NULL)
		return kv_err_set(err, -EINVAL, "key contains a NUL byte");
	return 0;
}

#define KEY_RULE "(a key is names joined by single '/'s, none of them empty, '.' or '..')"

int kv_key_check_new(const char *key, size_t len, struct kv_err *err)
{
	size_t start, end;
	int rc = kv_key_check(key, len, err);

	if (rc < 0)
		return rc;
	if (key[0] == '/')
		return kv_err_set(err, -EINVAL, "key starts with '/' " KEY_RULE);
	if (key[len - 1] == '/')
		return kv_err_set(err, -EINVAL, "key ends with '/' " KEY_RULE);
	for (start = 0; start < len; start = end + 1) {
		const char *slash = memchr(key + start, '/', len - start);
		size_t n;

		end = slash != NULL ? (size_t)(slash - key) : len;
		n = end - start;
		if (n == 0)
			return kv_err_set(err, -EINVAL, "key has an empty name ('//') " KEY_RULE);
		if ((n == 1 || n == 2) && memcmp(key + start, "..", n) == 0)
			return kv_err_set(err, -EINVAL, "key has a '%.*s' name " KEY_RULE, (int)n,
					  key + start);
	}
	return 0;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int percent_decode(const char *raw, size_t rawlen, char *out, size_t cap, size_t *outlen,
			  struct kv_err *err)
{
	size_t i, n = 0;

	for (i = 0; i < rawlen; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c == '%') {
			int hi = i + 2 < rawlen ? hexval((unsigned char)raw[i + 1]) : -1;
			int lo = i + 2 < rawlen ? hexval((unsigned char)raw[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				return kv_err_set(err, -EILSEQ,
						  "malformed percent-encoding at byte %zu", i + 1);
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (n == cap)
			return kv_err_set(err, -ENAMETOOLONG, "longer than %zu bytes", cap);
		out[n++] = (char)c;
	}
	*outlen = n;
	return 0;
}

int kv_key_decode(const char *raw, size_t rawlen, char *out, size_t cap, size_t *outlen,
		  struct kv_err *err)
{
	int rc = percent_decode(raw, rawlen, out, cap, outlen, err);

	if (rc == -ENAMETOOLONG)
		return kv_err_set(err, rc, "key is longer than %d bytes", KV_KEY_MAX);
	if (rc < 0)
		return rc;
	return kv_key_check(out, *outlen, err);
}

int kv_url_decode(const char *raw, size_t rawlen, char *out, size_t cap, size_t *outlen,
		  struct kv_err *err)
{
	return percent_decode(raw, rawlen, out, cap, outlen, err);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int kv_b64url_encode(const void *in, size_t len, char *out, size_t cap)
{
	const uint8_t *p = in;
	size_t need = (len + 2) / 3 * 4, i, o = 0;

	if (need + 1 > cap)
		return -ENOSPC;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = i + 1 < len ? b64url[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int b64val(char c)
{
	const char *p = c != '\0' ? strchr(b64url, c) : NULL;

	return p != NULL ? (int)(p - b64url) : -1;
}

int kv_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	size_t i, o = 0;

	if (len % 4 != 0)
		return -EINVAL;
	for (i = 0; i < len; i += 4) {
		int v[4], pad = 0, k;
		uint32_t w = 0;

		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad > 0 || (v[k] = b64val(in[i + k])) < 0) {
				return -EINVAL;
			}
			w = w << 6 | (uint32_t)v[k];
		}
		/* the bits below the last byte must be zero: one spelling per byte string */
		if ((pad == 1 && (w & 0xff) != 0) || (pad == 2 && (w & 0xffff) != 0))
			return -EINVAL;
		if (o + 3 - (size_t)pad > cap)
			return -EINVAL;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	return (int)o;
}

void kv_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* "/xx", the byte b in lowercase hex, at out + *o. */
static void put_hex_dir(char *out, int *o, uint8_t b)
{
	static const char hex[] = "0123456789abcdef";

	out[(*o)++] = '/';
	out[(*o)++] = hex[b >> 4];
	out[(*o)++] = hex[b & 15];
}

int kv_key_path(const char *key, size_t len, char *out, size_t cap)
{
	char name[KV_PATH_MAX];
	uint8_t md[16];
	int nlen, seg, o;

	if (kv_key_check(key, len, NULL) < 0)
		return -EINVAL;
	if (cap < KV_PATH_MAX)
		return -ENOSPC;
	kv_md5(key, len, md);
	nlen = kv_b64url_encode(key, len, name, sizeof(name));
	if (nlen < 0)
		return nlen;
	o = 0;
	put_hex_dir(out, &o, md[0]); /* by hand: snprintf cost as much as the md5 */
	put_hex_dir(out, &o, md[1]);
	for (seg = 0; seg < nlen; seg += KV_SEGMENT_MAX) {
		int take = nlen - seg < KV_SEGMENT_MAX ? nlen - seg : KV_SEGMENT_MAX;

		out[o++] = '/';
		memcpy(out + o, name + seg, (size_t)take);
		o += take;
	}
	out[o] = '\0';
	return o;
}

int kv_path_key(const char *path, size_t len, char *key, size_t cap)
{
	char name[KV_PATH_MAX], check[KV_PATH_MAX];
	size_t i, n = 0;
	int klen;

	if (len < 8 || len >= KV_PATH_MAX || path[0] != '/' || path[3] != '/' || path[6] != '/')
		return -EINVAL;
	for (i = 7; i < len; i++) {
		if (path[i] == '/')
			continue; /* segment boundary; checked by the round trip below */
		name[n++] = path[i];
	}
	klen = kv_b64url_decode(name, n, (uint8_t *)key, cap);
	if (klen <= 0 || kv_key_path(key, (size_t)klen, check, sizeof(check)) != (int)len ||
	    memcmp(check, path, len) != 0)
		return -EINVAL;
	return klen;
}
