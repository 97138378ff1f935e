/* http.h — tinykvd's HTTP front: the seed's curl API (DESIGN §4) on libmicrohttpd. */
#ifndef TINYKVD_HTTP_H
#define TINYKVD_HTTP_H

#include "auth.h"
#include "err.h"
#include "store.h"

struct http_server;

/* Listen on addr:port and serve s, letting in whom auth lets in (both must outlive the
 * server). Access log lines go to stderr unless quiet. */
int http_start(struct kv_store *s, struct auth *auth, const char *addr, int port, int quiet,
	       struct http_server **out, struct kv_err *err);

/* Stop accepting, let requests in flight finish (up to grace_s seconds), then stop. */
void http_stop(struct http_server *h, int grace_s);

#endif
