/* answer.c — tinykvd's answers: the HTTP status and the words of DESIGN §4 for each core
 * error and each refusal, and the response with the headers its status needs. Used by
 * the loop threads (http.c, writes.c) and, for answer_failure's text, by the workers.
 */
#include "answer.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_PLAIN "text/plain; charset=utf-8"

enum MHD_Result answer_respond(struct req *r, struct MHD_Connection *c, unsigned status,
			       const char *type, const char *body, size_t len, const char *location)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;

	resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (location != NULL)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, location);
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE) /* busy, or a shard failed */
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					      "GET, HEAD, PUT, DELETE");
	if (status == MHD_HTTP_UNAUTHORIZED) {
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					      "Bearer realm=\"tinykv\"");
		(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					      "Basic realm=\"tinykv\", charset=\"UTF-8\"");
	}
	ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	r->status = (int)status;
	r->resp_len = len;
	return ok;
}

enum MHD_Result answer_plain(struct req *r, struct MHD_Connection *c, unsigned status,
			     const char *msg)
{
	return answer_respond(r, c, status, TEXT_PLAIN, msg, strlen(msg), NULL);
}

enum MHD_Result answer_text(struct req *r, struct MHD_Connection *c, unsigned status,
			    const char *fmt, ...)
{
	char body[ANSWER_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(body) - 2)
		n = (int)sizeof(body) - 2;
	body[n++] = '\n';
	return answer_respond(r, c, status, TEXT_PLAIN, body, (size_t)n, NULL);
}

/* The one place a core error becomes an HTTP status. */
static unsigned status_of(int rc)
{
	switch (rc) {
	case -ENOENT: return MHD_HTTP_NOT_FOUND;
	case -EEXIST:
	case -EISDIR:
	case -ENOTDIR:
	case -EBUSY: return MHD_HTTP_CONFLICT;
	case -EILSEQ:
	case -EINVAL: return MHD_HTTP_BAD_REQUEST;
	case -ENAMETOOLONG: return MHD_HTTP_URI_TOO_LONG;
	default: return MHD_HTTP_SERVICE_UNAVAILABLE;
	}
}

/* "Key with value: 'KEY' not found.\n" (DESIGN §4) into out, joined by hand when it fits:
 * the answer to every GET of a missing key, where snprintf was a fifth of the answer's
 * own cost. Returns its length, or what snprintf returns. */
static int not_found_text(const struct req *r, char *out, size_t cap)
{
	static const char pre[] = "Key with value: '", post[] = "' not found.\n";
	size_t klen = strnlen(r->key, r->klen), n = sizeof(pre) - 1 + klen + sizeof(post) - 1;

	if (n >= cap)
		return snprintf(out, cap, "%s%.*s%s", pre, (int)klen, r->key, post);
	memcpy(out, pre, sizeof(pre) - 1);
	memcpy(out + sizeof(pre) - 1, r->key, klen);
	memcpy(out + sizeof(pre) - 1 + klen, post, sizeof(post));
	return (int)n;
}

unsigned answer_failure(const struct req *r, int rc, const struct kv_err *err, char *out,
			size_t cap, size_t *len)
{
	unsigned status = status_of(rc);
	int n;

	if (rc == -ENOENT)
		n = not_found_text(r, out, cap);
	else if (rc == -EEXIST)
		n = snprintf(out, cap, "Key '%.*s' already exists.\n", (int)r->klen, r->key);
	else if (status == MHD_HTTP_BAD_REQUEST || status == MHD_HTTP_URI_TOO_LONG)
		n = snprintf(out, cap, "Bad key: %s.\n", err->msg);
	else if (rc == -EISDIR || rc == -ENOTDIR) /* the key and the mount's tree */
		n = snprintf(out, cap, "Conflict: %s.\n", err->msg);
	else if (rc == -EBUSY)
		n = snprintf(out, cap,
			     "Key '%.*s' is being written by another request; "
			     "try again.\n",
			     (int)r->klen, r->key);
	else
		n = snprintf(out, cap, "Service unavailable: %s\n", err->msg);
	*len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
	if (*len > 0 && out[*len - 1] != '\n')
		out[*len - 1] = '\n'; /* cut short: still one line */
	return status;
}

enum MHD_Result answer_fail(struct req *r, struct MHD_Connection *c, int rc,
			    const struct kv_err *err)
{
	char text[ANSWER_MAX];
	size_t len;
	unsigned status = answer_failure(r, rc, err, text, sizeof(text), &len);

	return answer_respond(r, c, status, TEXT_PLAIN, text, len, NULL);
}

/* The one place an auth.c refusal becomes an HTTP status. */
enum MHD_Result answer_deny(struct req *r, struct MHD_Connection *c, int rc,
			    const struct kv_err *err)
{
	switch (rc) {
	case -EPERM: return answer_text(r, c, MHD_HTTP_UNAUTHORIZED, "Unauthorized: %s.", err->msg);
	case -EACCES: return answer_text(r, c, MHD_HTTP_FORBIDDEN, "Forbidden: %s.", err->msg);
	case -EHOSTUNREACH:
		return answer_text(r, c, MHD_HTTP_MISDIRECTED_REQUEST, "Misdirected request: %s.",
				   err->msg);
	default:
		return answer_text(r, c, MHD_HTTP_SERVICE_UNAVAILABLE, "Service unavailable: %s",
				   err->msg);
	}
}
