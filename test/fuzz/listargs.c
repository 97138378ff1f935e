/* listargs.c — fuzzes the parameters of GET /PREFIX?list&start=K&limit=N
 * (mountd/listargs.c), as libmicrohttpd hands them over: the request path, and the raw
 * values of start and limit, each possibly absent.
 *
 * Input: path '\n' start '\n' limit, where a missing part is an absent parameter and a
 * part that is exactly "-" is too (so absent and empty are both reached).
 * Properties: a parse either succeeds within the limits of DESIGN §4, with a limit that
 * was written as a decimal number, or fails with a message that says which parameter is
 * bad.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "listargs.h"

/* The next '\n'-separated part of data[*off..size), or NULL when there is none. */
static char *part(const uint8_t *data, size_t size, size_t *off, size_t *len)
{
	const uint8_t *p, *nl;

	if (*off > size)
		return NULL;
	p = data + *off;
	nl = memchr(p, '\n', size - *off);
	*len = nl != NULL ? (size_t)(nl - p) : size - *off;
	*off += *len + 1;
	if (*len == 1 && p[0] == '-')
		return NULL;
	return fuzz_dup(p, *len);
}

/* Is the percent-decoded raw[0..len) the decimal spelling of n, digits only? */
static int is_number(const char *raw, size_t len, size_t n)
{
	char text[64], want[32];
	size_t tlen, i;

	if (kv_url_decode(raw, len, text, sizeof(text) - 1, &tlen, NULL) < 0)
		return 0;
	for (i = 0; i < tlen; i++)
		if (text[i] < '0' || text[i] > '9')
			return 0;
	text[tlen] = '\0';
	while (text[0] == '0' && text[1] != '\0')
		memmove(text, text + 1, strlen(text));
	(void)snprintf(want, sizeof(want), "%zu", n);
	return strcmp(text, want) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0, plen = 0, slen = 0, llen = 0;
	char *path = part(data, size, &off, &plen);
	char *start = part(data, size, &off, &slen), *limit = part(data, size, &off, &llen);
	struct listargs a;
	struct kv_err err;
	int rc;

	rc = listargs_parse(path != NULL ? path : "", start, slen, limit, llen, &a, &err);
	if (rc == 0) {
		FUZZ_CHECK(a.plen <= KV_KEY_MAX && a.slen <= KV_KEY_MAX);
		FUZZ_CHECK(a.limit >= 1 && a.limit <= LIST_MAX);
		FUZZ_CHECK(limit != NULL || a.limit == LIST_DEFAULT);
		FUZZ_CHECK(start != NULL || a.slen == 0);
		if (limit != NULL)
			FUZZ_CHECK(is_number(limit, llen, a.limit));
	} else {
		FUZZ_CHECK(rc == -EINVAL || rc == -EILSEQ || rc == -ENAMETOOLONG);
		FUZZ_CHECK(err.code == rc && !strncmp(err.msg, "Bad ", 4));
		FUZZ_CHECK(memchr(err.msg, '\0', sizeof(err.msg)) != NULL);
	}
	free(path);
	free(start);
	free(limit);
	return 0;
}
