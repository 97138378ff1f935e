/* dav.h — the WebDAV client: every byte between tinykv and the shards goes through here.
 *
 * Built on libcurl. Connections are kept and reused: a pool of clients, each a curl multi
 * handle with its own connection cache, is lent to one operation at a time. Several
 * uploads of the same value (the replicas) run in parallel on one multi handle.
 *
 * Errors: curl failures and non-2xx answers become a negative errno and a message naming
 * the shard, the request and the cause (dav_fail in dav.c is the one translation point):
 * 404 → -ENOENT, 507 → -ENOSPC, 413 → -EFBIG, a shard silent for longer than the timeout
 * → -ETIMEDOUT, any other failure → -EIO. That includes a shard refusing the request:
 * a misconfigured store to the caller, never "you may not" (-EACCES is the frontends'
 * access control); the message says what to fix for a 401 (the shard wants the
 * cluster's secret) and a 421 (it does not answer to the name in the URL).
 *
 * Threads: a struct kv_dav may be shared by any number of threads. A struct kv_upload
 * belongs to the thread that began it. Every request blocks its caller on the network,
 * up to the timeout of silence (no overall limit on a transfer that keeps moving).
 */
#ifndef KV_DAV_H
#define KV_DAV_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct kv_dav_opts {
	int timeout;	    /* seconds to connect, and of silence before giving up */
	const char *secret; /* the cluster's shard secret, sent on every request in the
				 * KV_SECRET_HEADER header (secret.h); NULL or "": none.
				 * Copied: the caller may wipe its own. */
};

struct kv_dav;

/* *out is the caller's, to free with kv_dav_free. Connects to nothing yet. -EIO when
 * libcurl cannot be initialised, -ENOMEM. */
int kv_dav_new(const struct kv_dav_opts *o, struct kv_dav **out, struct kv_err *err);
/* Once no thread uses dav (NULL: no-op); the copy of the secret is wiped. */
void kv_dav_free(struct kv_dav *dav);

/*
 * Streaming upload of one value to n URLs at once (PUT). size is the value's length, or -1
 * when unknown (chunked encoding). Feed the bytes in order with kv_upload_write, then
 * kv_upload_end. Whatever happened, release it with kv_upload_free, which stops any
 * transfer still running (the shards then discard the partial upload). n is 1 to
 * KV_MAX_REPLICAS (-EINVAL otherwise); urls[i] must stay valid until kv_upload_free
 * (messages name them). *out is the caller's. Nothing is sent before the first write or
 * the end.
 */
struct kv_upload;
int kv_upload_begin(struct kv_dav *dav, const char *const urls[], int n, int64_t size,
		    struct kv_upload **out, struct kv_err *err);
/* Blocks until every target has taken buf[0..len). Fails as soon as one target fails. */
int kv_upload_write(struct kv_upload *up, const void *buf, size_t len, struct kv_err *err);
/* End the value and wait for every answer. Returns the first error. */
int kv_upload_end(struct kv_upload *up, struct kv_err *err);
/* Index (into urls) of the first target that failed, or -1. */
int kv_upload_failed(const struct kv_upload *up);
/* Has target i been stored (answered 2xx)? */
int kv_upload_stored(const struct kv_upload *up, int i);
void kv_upload_free(struct kv_upload *up);

/* Receives downloaded bytes; return 0 to go on or a negative errno to stop. */
typedef int (*kv_dav_sink)(const void *buf, size_t len, void *arg);

/* GET url, bytes [off, off+len) (len -1: to the end), into sink. A range wholly past the end
 * yields no bytes and success. */
int kv_dav_get(struct kv_dav *dav, const char *url, int64_t off, int64_t len, kv_dav_sink sink,
	       void *arg, struct kv_err *err);

/* DELETE url. A missing file counts as deleted. */
int kv_dav_delete(struct kv_dav *dav, const char *url, struct kv_err *err);

/* MOVE src onto dst (same shard), replacing it. */
int kv_dav_move(struct kv_dav *dav, const char *src, const char *dst, struct kv_err *err);

/* HEAD url: *size gets its length. -ENOENT when missing. */
int kv_dav_head(struct kv_dav *dav, const char *url, int64_t *size, struct kv_err *err);

/* PROPFIND url with Depth: 1; the multistatus body goes to sink as it arrives. */
int kv_dav_propfind(struct kv_dav *dav, const char *url, kv_dav_sink sink, void *arg,
		    struct kv_err *err);

/* OPTIONS on a shard's base URL: is it answering? */
int kv_dav_probe(struct kv_dav *dav, const char *base, struct kv_err *err);

#endif
