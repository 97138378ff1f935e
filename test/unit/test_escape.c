/* kv_escape: what reaches a log line or a terminal from a stranger. */
#include <string.h>

#include "admin_int.h"
#include "escape.h"
#include "unit.h"

static const char *esc(char *buf, size_t cap, const char *s, size_t len, char quote, unsigned flags)
{
	(void)kv_escape(buf, cap, s, len, quote, flags);
	return buf;
}

UNIT_TEST(escape_controls_and_bad_utf8)
{
	char b[256];

	CHECK_STR(esc(b, sizeof(b), "plain key/1", 11, 0, 0), "plain key/1");
	CHECK_STR(esc(b, sizeof(b), "a\033[2Jb\007", 7, 0, 0), "a\\x1b[2Jb\\x07");
	CHECK_STR(esc(b, sizeof(b), "nul\0x\177", 6, 0, 0), "nul\\x00x\\x7f");
	/* Valid UTF-8 stays; C1 controls, stray bytes, overlongs and surrogates do not. */
	CHECK_STR(esc(b, sizeof(b), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, 0, 0),
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	CHECK_STR(esc(b, sizeof(b),
		      "\xc2\x9b"
		      "2J",
		      4, 0, 0),
		  "\\xc2\\x9b2J");
	CHECK_STR(esc(b, sizeof(b), "\xff\xfe", 2, 0, 0), "\\xff\\xfe");
	CHECK_STR(esc(b, sizeof(b), "\xc0\xaf", 2, 0, 0), "\\xc0\\xaf");
	CHECK_STR(esc(b, sizeof(b), "\xed\xa0\x80", 3, 0, 0), "\\xed\\xa0\\x80");
	CHECK_STR(esc(b, sizeof(b), "\xf4\x90\x80\x80", 4, 0, 0), "\\xf4\\x90\\x80\\x80");
	CHECK_STR(esc(b, sizeof(b), "x\xe2\x82", 3, 0, 0), "x\\xe2\\x82");
	/* Quotes and backslashes only when asked. */
	CHECK_STR(esc(b, sizeof(b), "it's a\\b", 8, '\'', KV_ESC_BACKSLASH), "it\\'s a\\\\b");
	CHECK_STR(esc(b, sizeof(b), "it's a\\b", 8, 0, 0), "it's a\\b");
}

UNIT_TEST(escape_never_cuts_an_escape)
{
	char b[6];

	CHECK(kv_escape(b, sizeof(b), "ab\033cd", 5, 0, 0) == 2);
	CHECK_STR(b, "ab");
	CHECK(kv_escape(b, sizeof(b), "\xe2\x82\xac\xe2\x82\xac", 6, 0, 0) == 3);
	CHECK_STR(b, "\xe2\x82\xac");
	CHECK(kv_escape(b, 1, "abc", 3, 0, 0) == 0 && b[0] == '\0');
}

/* Reports (verify, rebalance) show keys through the same escaper. */
UNIT_TEST(escape_admin_key)
{
	char b[ADMIN_KEY_MAX];

	CHECK_STR(admin_key(b, sizeof(b), "it's\033\xff", 6), "'it\\'s\\x1b\\xff'");
	CHECK_STR(admin_key(b, 4, "abc", 3), "'a'");
}
