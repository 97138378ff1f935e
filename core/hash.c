/* hash.c — md5 and sha256 via OpenSSL EVP. Each implementation is fetched once per process:
 * an implicit fetch on every call costs more than hashing a short key; kv_md5 keeps a
 * context per thread for the same reason. */
#include "hash.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct kv_md5 {
	EVP_MD_CTX *ctx;
};

static EVP_MD *md5_impl;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;
static pthread_key_t md5_ctx_key; /* each thread's context for kv_md5, kept */
static int md5_have_key;

static void free_ctx(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void md5_fetch(void)
{
	md5_impl = EVP_MD_fetch(NULL, "MD5", NULL);
	md5_have_key = pthread_key_create(&md5_ctx_key, free_ctx) == 0;
}

static const EVP_MD *md5_md(void)
{
	(void)pthread_once(&md5_once, md5_fetch);
	return md5_impl != NULL ? md5_impl : EVP_md5();
}

/* This thread's md5 context, made at its first kv_md5 and freed at its exit: a context
 * per call (EVP_Digest) was a quarter of the md5 of a short key, which every redirect
 * takes. NULL when none can be had. */
static EVP_MD_CTX *thread_ctx(void)
{
	EVP_MD_CTX *ctx;

	if (!md5_have_key)
		return NULL;
	ctx = pthread_getspecific(md5_ctx_key);
	if (ctx == NULL && (ctx = EVP_MD_CTX_new()) != NULL &&
	    pthread_setspecific(md5_ctx_key, ctx) != 0) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

void kv_md5(const void *buf, size_t len, uint8_t out[KV_MD5_LEN])
{
	const EVP_MD *md = md5_md();
	EVP_MD_CTX *ctx = thread_ctx();
	unsigned int n = KV_MD5_LEN;
	int ok;

	if (ctx != NULL)
		ok = EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
		     EVP_DigestUpdate(ctx, buf, len) == 1 && EVP_DigestFinal_ex(ctx, out, &n) == 1;
	else
		ok = EVP_Digest(buf, len, out, &n, md, NULL) == 1;
	if (!ok)
		memset(out, 0, KV_MD5_LEN);
}

static EVP_MD *sha256_impl;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_impl = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void kv_sha256(const void *buf, size_t len, uint8_t out[KV_SHA256_LEN])
{
	unsigned int n = KV_SHA256_LEN;

	(void)pthread_once(&sha256_once, sha256_fetch);
	if (EVP_Digest(buf, len, out, &n, sha256_impl != NULL ? sha256_impl : EVP_sha256(), NULL) !=
	    1)
		memset(out, 0, KV_SHA256_LEN);
}

void kv_md5_2(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[KV_MD5_LEN])
{
	unsigned char stack[1024];
	struct kv_md5 *h;

	if (alen + blen <= sizeof(stack)) {
		memcpy(stack, a, alen);
		memcpy(stack + alen, b, blen);
		kv_md5(stack, alen + blen, out);
		return;
	}
	h = kv_md5_new();
	if (h == NULL) {
		memset(out, 0, KV_MD5_LEN);
		return;
	}
	kv_md5_update(h, a, alen);
	kv_md5_update(h, b, blen);
	kv_md5_final(h, out);
	kv_md5_free(h);
}

struct kv_md5 *kv_md5_new(void)
{
	struct kv_md5 *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (h->ctx == NULL || EVP_DigestInit_ex(h->ctx, md5_md(), NULL) != 1) {
		kv_md5_free(h);
		return NULL;
	}
	return h;
}

void kv_md5_update(struct kv_md5 *h, const void *buf, size_t len)
{
	(void)EVP_DigestUpdate(h->ctx, buf, len);
}

void kv_md5_final(struct kv_md5 *h, uint8_t out[KV_MD5_LEN])
{
	unsigned int n = KV_MD5_LEN;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1)
		memset(out, 0, KV_MD5_LEN);
}

void kv_md5_free(struct kv_md5 *h)
{
	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}
