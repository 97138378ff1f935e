/* answer.h — how tinykvd words its answers: the one place a core error or an auth.c
 * refusal becomes an HTTP status and a sentence (DESIGN §4's exact strings), and queuing
 * a response with the headers its status needs. Loop threads (the queuing functions);
 * answer_failure on any thread. Private to tinykvd. */
#ifndef TINYKVD_ANSWER_H
#define TINYKVD_ANSWER_H

#include <microhttpd.h>
#include <stddef.h>

#include "err.h"
#include "req.h"

/* Room for any answer_failure text. */
#define ANSWER_MAX (KV_ERR_MSG_MAX + 2 * KV_KEY_MAX + 256)

/* Queue an answer on c (body copied; type the Content-Type; location NULL or the
 * Location header), recording status and length in r for the access log. A 503 gets
 * Retry-After, a 405 Allow, a 401 its WWW-Authenticate challenges. MHD_NO when
 * libmicrohttpd cannot queue it. */
enum MHD_Result answer_respond(struct req *r, struct MHD_Connection *c, unsigned status,
			       const char *type, const char *body, size_t len,
			       const char *location);

/* A plain-text answer whose text (msg) already ends with its newline. */
enum MHD_Result answer_plain(struct req *r, struct MHD_Connection *c, unsigned status,
			     const char *msg);

/* A plain-text answer: printf-style, a newline appended, cut to one line if too long. */
enum MHD_Result answer_text(struct req *r, struct MHD_Connection *c, unsigned status,
			    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* The answer to a core error rc about r->key: returns the status; the text, ending with
 * a newline (cut to one line if cap is short), into out[0..*len). */
unsigned answer_failure(const struct req *r, int rc, const struct kv_err *err, char *out,
			size_t cap, size_t *len);

/* answer_failure's status and text, queued on c. */
enum MHD_Result answer_fail(struct req *r, struct MHD_Connection *c, int rc,
			    const struct kv_err *err);

/* The answer to an auth.c refusal: 401 (-EPERM), 403 (-EACCES), 421 (-EHOSTUNREACH);
 * 503 otherwise (an index failure). */
enum MHD_Result answer_deny(struct req *r, struct MHD_Connection *c, int rc,
			    const struct kv_err *err);

#endif
