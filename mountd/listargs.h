/* listargs.h — the parameters of GET /PREFIX?list[&start=K][&limit=N] (DESIGN §4), parsed
 * from the bytes a client sent, apart from the server so they can be tested (and fuzzed)
 * as a pure function. */
#ifndef TINYKVD_LISTARGS_H
#define TINYKVD_LISTARGS_H

#include <stddef.h>

#include "codec.h"
#include "err.h"

#define LIST_DEFAULT 1000 /* keys in one answer when no limit is given */
#define LIST_MAX 10000	  /* the largest limit accepted */

struct listargs {
	char prefix[KV_KEY_MAX + 1]; /* percent-decoded; may hold any byte, NUL too */
	size_t plen;
	char start[KV_KEY_MAX + 1]; /* inclusive first key; slen 0: from the prefix */
	size_t slen;
	size_t limit; /* 1..LIST_MAX */
};

/*
 * Parse a listing request: path is the request path (NUL-terminated, not yet decoded:
 * "/PREFIX"), start and limit the raw values of those query parameters (start_len and
 * limit_len bytes, not NUL-terminated; NULL when the parameter is absent; a parameter
 * given without '=' is an empty value). Fills *a and returns 0, or -EINVAL, -EILSEQ or
 * -ENAMETOOLONG with err->msg the whole sentence for the client ("Bad limit '0':
 * expected a number from 1 to 10000"), without the final full stop.
 * Reads nothing but its arguments; any thread.
 */
int listargs_parse(const char *path, const char *start, size_t start_len, const char *limit,
		   size_t limit_len, struct listargs *a, struct kv_err *err);

#endif
