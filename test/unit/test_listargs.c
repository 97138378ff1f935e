/* tinykvd's ?list parameters (mountd/listargs.c): prefix, start, limit and their errors. */
#include <errno.h>
#include <string.h>

#include "listargs.h"
#include "unit.h"

static int parse(const char *path, const char *start, const char *limit, struct listargs *a,
		 struct kv_err *err)
{
	return listargs_parse(path, start, start != NULL ? strlen(start) : 0, limit,
			      limit != NULL ? strlen(limit) : 0, a, err);
}

UNIT_TEST(list_parameters)
{
	struct listargs a;
	struct kv_err err;

	CHECK(parse("/", NULL, NULL, &a, &err) == 0);
	CHECK(a.plen == 0 && a.slen == 0 && a.limit == LIST_DEFAULT);
	CHECK(parse("/caf%C3%A9", "a%2Fc", "10000", &a, &err) == 0);
	CHECK(a.plen == 5 && !memcmp(a.prefix, "caf\xc3\xa9", 5));
	CHECK(a.slen == 3 && !memcmp(a.start, "a/c", 3) && a.limit == 10000);
	CHECK(parse("/", "", "007", &a, &err) == 0 && a.slen == 0 && a.limit == 7);
	CHECK(parse("a", NULL, NULL, &a, &err) == -EINVAL);
	CHECK_STR(err.msg, "Bad prefix: must start with '/'");
	CHECK(parse("/%zz", NULL, NULL, &a, &err) == -EILSEQ);
	CHECK(strncmp(err.msg, "Bad prefix: malformed", 21) == 0);
	CHECK(parse("/", "%4", NULL, &a, &err) == -EILSEQ);
	CHECK(strncmp(err.msg, "Bad start: ", 11) == 0);
	CHECK(parse("/", NULL, "0", &a, &err) == -EINVAL);
	CHECK_STR(err.msg, "Bad limit '0': expected a number from 1 to 10000");
	CHECK(parse("/", NULL, "", &a, &err) == -EINVAL);
	CHECK(parse("/", NULL, "10001", &a, &err) == -EINVAL);
	CHECK(parse("/", NULL, "99999999999999999999999", &a, &err) == -EINVAL);
}

/* Found by fuzzing (test/fuzz/listargs): strtoull took "7%00junk" as 7 (the NUL ended the
 * number), and also " 5", "+5" and "-18446744073709551615" (which wraps to 1). A limit is
 * decimal digits and nothing else. */
UNIT_TEST(list_limit_is_digits_only)
{
	static const char *const bad[] = { "7%00junk", "%205", "+5",
					   "5%20",     "-1",   "-18446744073709551615",
					   "0x10",     NULL };
	struct listargs a;
	struct kv_err err;
	int i;

	for (i = 0; bad[i] != NULL; i++) {
		CHECK(parse("/", NULL, bad[i], &a, &err) == -EINVAL);
		CHECK(strstr(err.msg, "expected a number from 1 to 10000") != NULL);
	}
	CHECK(parse("/", NULL, "7%00junk", &a, &err) == -EINVAL);
	CHECK_STR(err.msg, "Bad limit '7?junk': expected a number from 1 to 10000");
}
