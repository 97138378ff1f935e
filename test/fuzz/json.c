/* json.c — fuzzes the JSON quoting of keys in listings (mountd/json.c:
 * sbuf_json_string), which must tell valid UTF-8 from any other bytes a key may hold.
 *
 * Properties: the output is one JSON string of valid UTF-8 with no raw control
 * character, and decoding it (with \udcXX read back as the byte XX, Python's
 * "surrogateescape") gives back exactly the key's bytes.
 */
#include <string.h>

#include "fuzz.h"
#include "json.h"

static int hex4(const char *s, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		char c = s[i];
		unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
			     c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;

		if (d == 16)
			return -1;
		*v = *v << 4 | d;
	}
	return 0;
}

/* The length of one well-formed UTF-8 character at s (RFC 3629), or 0. */
static size_t utf8_char(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		     (s[0] & 0xf8) == 0xf0 ? 4 : 0, i;
	uint32_t cp;

	if (len == 0 || len > n)
		return 0;
	cp = len == 1 ? s[0] : s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbuf b = { 0 };
	uint8_t *back = malloc(size + 1);
	size_t i, n = 0;

	FUZZ_CHECK(back != NULL);
	sbuf_json_string(&b, (const char *)data, size);
	FUZZ_CHECK(!b.oom && b.len >= 2 && b.p[0] == '"' && b.p[b.len - 1] == '"');
	FUZZ_CHECK(strlen(b.p) == b.len);
	for (i = 1; i < b.len - 1;) {
		const unsigned char *u = (const unsigned char *)b.p + i;
		unsigned v;

		if (u[0] == '\\') {
			FUZZ_CHECK(i + 1 < b.len - 1);
			if (u[1] == '"' || u[1] == '\\') {
				back[n++] = u[1];
				i += 2;
				continue;
			}
			FUZZ_CHECK(u[1] == 'u' && i + 5 < b.len - 1 && hex4(b.p + i + 2, &v) == 0);
			FUZZ_CHECK(v < 0x20 || v == 0x7f || (v >= 0xdc80 && v <= 0xdcff));
			back[n++] = (uint8_t)(v & 0xff);
			i += 6;
		} else {
			size_t len = utf8_char(u, b.len - 1 - i);

			FUZZ_CHECK(len > 0 && u[0] >= 0x20 && u[0] != '"' && u[0] != 0x7f);
			FUZZ_CHECK(n + len <= size);
			memcpy(back + n, u, len);
			n += len;
			i += len;
		}
		FUZZ_CHECK(n <= size);
	}
	FUZZ_CHECK(n == size && memcmp(back, data, size) == 0);
	sbuf_free(&b);
	free(back);
	return 0;
}
