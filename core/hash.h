/* hash.h — md5 and sha256 through OpenSSL's EVP interface: placement scores, shard paths,
 * value sums (md5); the index's fixed-length names of keys for extended attributes (sha256).
 * Should OpenSSL fail (it does not, short of memory), a digest comes out all zero: md5
 * zero reads as "unknown" in a record. */
#ifndef KV_HASH_H
#define KV_HASH_H

#include <stddef.h>
#include <stdint.h>

#define KV_MD5_LEN 16
#define KV_SHA256_LEN 32

/* md5 of buf[0..len) into out. Thread-safe; each calling thread keeps one OpenSSL
 * context until it exits. */
void kv_md5(const void *buf, size_t len, uint8_t out[KV_MD5_LEN]);

/* sha256 of buf[0..len) into out. Thread-safe. */
void kv_sha256(const void *buf, size_t len, uint8_t out[KV_SHA256_LEN]);

/* md5 of a ‖ b, without allocating for the common short case. Thread-safe. */
void kv_md5_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[KV_MD5_LEN]);

/* Incremental md5 of a value as it streams. Owned by the caller, one thread at a time;
 * free with kv_md5_free (NULL: no-op). No update after kv_md5_final. */
struct kv_md5;
struct kv_md5 *kv_md5_new(void); /* NULL on allocation failure */
void kv_md5_update(struct kv_md5 *h, const void *buf, size_t len);
void kv_md5_final(struct kv_md5 *h, uint8_t out[KV_MD5_LEN]); /* h stays allocated */
void kv_md5_free(struct kv_md5 *h);

#endif
