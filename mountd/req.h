/* req.h — one HTTP request of tinykvd and the server it belongs to: the state the loop
 * threads (http.c, writes.c) and the pools' threads share, the key parsed from the path,
 * and handing a request to a thread of a pool and back. Private to tinykvd. */
#ifndef TINYKVD_REQ_H
#define TINYKVD_REQ_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "auth.h"
#include "codec.h"
#include "err.h"
#include "listargs.h"
#include "pool.h"
#include "ring.h"
#include "store.h"

#define ECHO_MAX 100 /* longest value echoed back in a PUT answer */

/* The server (http.c makes it), seen by every request as r->h. */
struct http_server {
	struct MHD_Daemon *d;
	struct kv_store *s;
	struct kv_pool *workers;	 /* PUT and DELETE: they wait on shards */
	struct kv_pool *listers;	 /* ?list: a long listing is built there */
	atomic_int busy;		 /* requests a worker or the reaper holds */
	atomic_uint_fast64_t body_bytes; /* PUT body bytes received, all requests */
	int quiet;
	struct auth *auth;		/* who may ask what (auth.c) */
	int body_timeout, idle_timeout; /* seconds (tinykv.conf) */
	uint64_t max_value_size;
	/* The reaper (writes.c): reap_lock guards the list and reap_stop. */
	pthread_t reaper;
	pthread_mutex_t reap_lock;
	pthread_cond_t reap_more;
	struct req *reap_list;
	int reap_stop;
};

/*
 * One request. The connection's thread (libmicrohttpd's) owns it, except while a worker
 * runs its write: then `lock` guards everything from `buf` down, and the request is
 * freed by whichever of the two lets go of it last (see writes.c).
 */
struct req {
	struct http_server *h;
	struct MHD_Connection *c;
	char *uri; /* request target as sent, for the access log; NULL without one (-q) */
	char method[16], version[16];
	int started;
	char key[KV_KEY_MAX + 1];
	size_t klen;
	int64_t size; /* PUT: Content-Length, or -1 */
	int small;    /* PUT: the body is collected whole in buf first */
	int status;   /* answered, for the log */
	size_t resp_len;

	pthread_mutex_t lock;
	pthread_cond_t more; /* the worker waits for body bytes, or the end */
	struct kv_ring body; /* PUT body on its way to the worker (core/ring.h) */
	int buf_mapped;	     /* body.buf is mapped apart (a big ring): unmapped, not freed */
	uint64_t received;
	char echo[ECHO_MAX];
	size_t echo_len;
	int eof;	    /* the whole body is in the ring */
	int suspended;	    /* the connection waits for the worker */
	int worker;	    /* a worker is using this request */
	int done;	    /* the worker's answer is ready */
	int gone;	    /* the connection ended: the worker frees the request */
	int body_ended;	    /* the connection's idle timeout is back */
	struct kv_put *put; /* streamed PUT: begun by its first worker; the holder's */
	unsigned cancel;    /* give up the put, answer this status with cancel_text */
	char cancel_text[256];
	struct req *reap_next; /* in h->reap_list */
	struct listargs *list; /* ?list: what to list (malloc'd) */
	unsigned answer_status;
	const char *answer_type; /* static; NULL: text/plain */
	char *answer;		 /* malloc'd text */
	size_t answer_len;
	struct auth_who who; /* who asks: set when the headers are in */
};

/* A new request of h for the target uri (copied if h logs access): NULL when out of
 * memory. By the loop thread that saw the URI; freed with req_free. */
struct req *req_new(struct http_server *h, const char *uri);
void req_free(struct req *r);

/* The key into r->key: the request path after its first '/', percent-decoded. 0;
 * -EINVAL for a path without the '/', or kv_key_decode's errors (err says which). */
int req_parse_key(struct req *r, const char *url, struct kv_err *err);

/*
 * Handing a request to a thread of a pool and back (the rules in writes.c).
 * req_hand_over submits item (len bytes, the pool's item type, naming r: the pool copies
 * it) without waiting (-EAGAIN when pool is full) for a thread that then holds r; caller
 * holds r->lock, then suspends the connection with req_suspend before letting go of the
 * lock. That thread ends with req_finish (body malloc'd or NULL, taken over; type static
 * or NULL for text/plain), which resumes the connection or frees r if it is gone; then
 * the loop thread sends the answer with req_answer (r->done is set).
 */
int req_hand_over(struct req *r, struct kv_pool *pool, const void *item, size_t len);
void req_suspend(struct req *r);
void req_finish(struct req *r, unsigned status, const char *type, char *body, size_t len);
enum MHD_Result req_answer(struct req *r, struct MHD_Connection *c);

/* A worker (or the reaper) takes r, and lets go of it; both counted in h->busy. Caller
 * holds r->lock. */
void req_hold(struct req *r);
void req_let_go(struct req *r);

/* Release r->lock (which the caller holds), then resume the connection if it waits. */
void req_unlock_and_wake(struct req *r);

#endif
