/* codec.h — keys on the wire and on the shards.
 *
 * A key is a byte string of 1..KV_KEY_MAX bytes without NUL. On the HTTP side it arrives
 * percent-encoded; on a shard it is stored under /XX/YY/NAME where XX YY are the first two
 * bytes of md5(key) in hex and NAME is the key in URL-safe base64 with '=' padding, split
 * into 255-byte directory segments when longer (DESIGN §2).
 *
 * Every function is pure (the caller's buffers only): any thread, no I/O.
 */
#ifndef KV_CODEC_H
#define KV_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define KV_KEY_MAX 511	   /* LMDB's default key limit */
#define KV_SEGMENT_MAX 255 /* longest file name on common filesystems */
/* Longest shard path: "/xx/yy/" + base64 of KV_KEY_MAX bytes (684) + separators. */
#define KV_PATH_MAX 704

/* Check a raw key. Returns 0, -EINVAL (empty or contains NUL) or -ENAMETOOLONG. */
int kv_key_check(const char *key, size_t len, struct kv_err *err);

/*
 * kv_key_check, plus the rule for a key that may be newly stored: it must be a path the
 * mount can show, one or more names joined by single '/', none of them empty, "." or
 * "..". So no leading or trailing '/', and no "//". Returns 0, or -EINVAL with err
 * stating which part breaks the rule and the rule itself; -ENAMETOOLONG as kv_key_check.
 * Reading and deleting take any key kv_key_check allows (keys stored by older versions).
 */
int kv_key_check_new(const char *key, size_t len, struct kv_err *err);

/*
 * Percent-decode raw[0..rawlen) into out (capacity cap, not NUL-terminated; *outlen set)
 * and check the result is a valid key. Returns 0; -EILSEQ for a malformed escape ('%'
 * not followed by two hex digits); -EINVAL for an empty key or a NUL byte;
 * -ENAMETOOLONG when the decoded key exceeds KV_KEY_MAX or cap.
 */
int kv_key_decode(const char *raw, size_t rawlen, char *out, size_t cap, size_t *outlen,
		  struct kv_err *err);

/* Percent-decode a query parameter ('+' stays '+', as in paths); same errors as
 * kv_key_decode, but an empty result or a NUL is allowed, and any length up to cap. */
int kv_url_decode(const char *raw, size_t rawlen, char *out, size_t cap, size_t *outlen,
		  struct kv_err *err);

/* URL-safe base64 with '=' padding of in[0..len) into out (NUL-terminated). Returns the
 * encoded length, or -ENOSPC when cap is too small. */
int kv_b64url_encode(const void *in, size_t len, char *out, size_t cap);

/* Decode URL-safe base64 (padding required when the length is not a multiple of 4) into out
 * (capacity cap). Only the spelling kv_b64url_encode makes is accepted (unused bits before
 * the padding are zero). Returns the decoded length or -EINVAL. */
int kv_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* The shard path of key, "/xx/yy/NAME" with NAME split into 255-byte segments, into out
 * (cap >= KV_PATH_MAX). Returns its length, or a negative errno for an invalid key. */
int kv_key_path(const char *key, size_t len, char *out, size_t cap);

/*
 * The inverse of kv_key_path: given a path relative to the shard root, recover the key.
 * Returns the key length, -EINVAL when path is not the path of any key (a stray file, a
 * temporary upload, a hash directory that does not match the key).
 */
int kv_path_key(const char *path, size_t len, char *key, size_t cap);

/* Lower-case hex of in[0..len) into out (2*len+1 bytes). */
void kv_hex(const uint8_t *in, size_t len, char *out);

#endif
