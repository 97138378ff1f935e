/* http.h — tinykvd's HTTP front: the seed's curl API (DESIGN §4) on libmicrohttpd. */
#ifndef TINYKVD_HTTP_H
#define TINYKVD_HTTP_H

#include "auth.h"
#include "err.h"
#include "store.h"

struct http_server;

/* Listen on addr:port and serve s, letting in whom auth lets in (both must outlive the
 * server). Access log lines go to stderr unless quiet. Starts every thread of the server
 * (libmicrohttpd's loops, the listers, the write workers and the reaper); called once,
 * by main. *out is stopped and freed by http_stop. -EINVAL for an address that is not an
 * IP address, -ENOMEM, -EAGAIN (threads), -EADDRINUSE (cannot listen). */
int http_start(struct kv_store *s, struct auth *auth, const char *addr, int port, int quiet,
	       struct http_server **out, struct kv_err *err);

/* Stop accepting, let requests in flight finish (up to grace_s seconds), then stop every
 * thread and free h (NULL: no-op). By main, on a signal. */
void http_stop(struct http_server *h, int grace_s);

#endif
