/* err.h — how errors travel in libtinykv.
 *
 * Every fallible function returns 0 on success or a negative errno, and fills a
 * caller-provided struct kv_err with a sentence a person can act on (which shard, which
 * HTTP status, which LMDB code). Only programs decide whether to log, answer or return it.
 * A function given err == NULL still returns the code. Read err only after a failure: a
 * success may leave it as it was, or holding the message of a step that was retried
 * (another replica). A struct kv_err is used by one thread at a time.
 */
#ifndef KV_ERR_H
#define KV_ERR_H

#include <stddef.h>

#define KV_ERR_MSG_MAX 512

/* Errors errno has no name for. */
enum {
	KV_EBASE = 10000,
	KV_ECORRUPT, /* an index record failed to decode */
	KV_ELAST
};

struct kv_err {
	int code; /* the negative code last returned with this error */
	char msg[KV_ERR_MSG_MAX];
};

/* Record code (negative) and a printf-style message in err (may be NULL); returns code so
 * callers can write `return kv_err_set(err, -EIO, "...")`. Truncates long messages. */
int kv_err_set(struct kv_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix err->msg with "prefix: " (keeps code). No-op when err is NULL. */
void kv_err_prefix(struct kv_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clear err to "no error" (NULL: no-op). */
void kv_err_clear(struct kv_err *err);

/* A static description of a negative code from this library or errno (its sign is
 * ignored); never NULL, any thread. */
const char *kv_strerror(int code);

#endif
