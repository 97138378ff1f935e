/* escape.c — kv_escape: control bytes and bytes outside UTF-8 as \xHH. Pure: any thread
 * (tinykvd's messages, the admin verbs' reports). */
#include "escape.h"

/* Length of the well-formed UTF-8 sequence at s[0..len) that is not a C1 control, or 0
 * (RFC 3629 §4: the second byte's range depends on the first). */
static size_t utf8_len(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (s[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* past U+10FFFF */
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	if (s[0] == 0xc2 && s[1] <= 0x9f)
		return 0; /* C1 controls: some terminals act on them */
	return n;
}

size_t kv_escape(char *out, size_t cap, const char *s, size_t len, char quote, unsigned flags)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, n;

	if (cap == 0)
		return 0;
	while (i < len) {
		unsigned char c = u[i];

		n = c < 0x20 || c == 0x7f ? 0 : utf8_len(u + i, len - i);
		if (n == 0) {
			if (o + 4 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
			i++;
		} else if ((quote != 0 && c == (unsigned char)quote) ||
			   (c == '\\' && (flags & KV_ESC_BACKSLASH))) {
			if (o + 2 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = (char)c;
			i++;
		} else {
			if (o + n >= cap)
				break;
			while (n-- > 0)
				out[o++] = (char)u[i++];
		}
	}
	out[o] = '\0';
	return o;
}
