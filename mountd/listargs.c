/* listargs.c — GET /PREFIX?list parameters: prefix, start and limit, each checked. */
#include "listargs.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int listargs_parse(const char *path, const char *start, size_t start_len, const char *limit,
		   size_t limit_len, struct listargs *a, struct kv_err *err)
{
	char limit_s[32], *end;
	size_t llen = 0, i;
	unsigned long long n;
	int rc;

	a->plen = 0;
	a->slen = 0;
	a->limit = LIST_DEFAULT;
	if (path[0] != '/')
		return kv_err_set(err, -EINVAL, "Bad prefix: must start with '/'");
	rc = kv_url_decode(path + 1, strlen(path + 1), a->prefix, KV_KEY_MAX, &a->plen, err);
	if (rc < 0) {
		kv_err_prefix(err, "Bad prefix");
		return rc;
	}
	if (start != NULL) {
		rc = kv_url_decode(start, start_len, a->start, KV_KEY_MAX, &a->slen, err);
		if (rc < 0) {
			kv_err_prefix(err, "Bad start");
			return rc;
		}
	}
	if (limit == NULL)
		return 0;
	rc = kv_url_decode(limit, limit_len, limit_s, sizeof(limit_s) - 1, &llen, err);
	if (rc < 0) {
		kv_err_prefix(err, "Bad limit");
		return rc;
	}
	limit_s[llen] = '\0';
	/* Digits only: strtoull alone would also take " 5", "+5", "7" of "7\0junk" and
	 * "-18446744073709551615" (as 1). */
	for (i = 0; i < llen && limit_s[i] >= '0' && limit_s[i] <= '9'; i++)
		;
	errno = 0;
	n = strtoull(limit_s, &end, 10);
	if (llen == 0 || i < llen || errno != 0 || *end != '\0' || n < 1 || n > LIST_MAX) {
		for (i = 0; i < llen; i++) /* the message is one line of text */
			if (!isprint((unsigned char)limit_s[i]))
				limit_s[i] = '?';
		return kv_err_set(err, -EINVAL, "Bad limit '%s': expected a number from 1 to %d",
				  limit_s, LIST_MAX);
	}
	a->limit = (size_t)n;
	return 0;
}
