/* writes.h — PUT and DELETE (writes.c): the loop thread's side of each, the workers'
 * function, and the reaper that undoes puts whose client went away. Private to tinykvd. */
#ifndef TINYKVD_WRITES_H
#define TINYKVD_WRITES_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

#include "req.h"

/* Start h->workers (nworkers threads) and the reaper: 0, or -EAGAIN. */
int writes_init(struct http_server *h, int nworkers);
/* Let the workers finish (writes of clients that went away finish undoing), then stop
 * them and the reaper. After the server has stopped. */
void writes_fini(struct http_server *h);

/* The length of the request's body (RFC 9112 §6.3) into *size: -1 when chunked. 0; or
 * -ENODATA when the request says nothing of a body; -EINVAL for Content-Length with
 * Transfer-Encoding, two different lengths or a bad one; -ENOSYS for a transfer coding
 * other than chunked; *why then says so, as an answer's text. */
int writes_body_length(struct MHD_Connection *c, int64_t *size, const char **why);

/* A PUT's headers are in; then each piece of its body (*size > 0) and its end (0). */
enum MHD_Result writes_put_start(struct req *r, struct MHD_Connection *c, const char *url);
enum MHD_Result writes_put_data(struct req *r, struct MHD_Connection *c, const char *data,
				size_t *size);

/* A DELETE, complete (called again when its worker has answered). */
enum MHD_Result writes_delete(struct req *r, struct MHD_Connection *c, const char *url);

/* The connection ended. Returns 1 when the caller may free r, 0 when a worker will. */
int writes_release(struct req *r);

#endif
