/* json.c — text buffers and JSON quoting for listings. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sbuf_append(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_append(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0; /* overlong, surrogate or beyond U+10FFFF */
	return len;
}

void sbuf_json_string(struct sbuf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	sbuf_append(b, "\"", 1);
	while (i < n) {
		size_t run = utf8_len(u + i, n - i);
		char esc[8];

		if (u[i] == '"' || u[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)u[i];
			sbuf_append(b, esc, 2);
			i++;
		} else if (run == 0 || u[i] < 0x20 || u[i] == 0x7f) {
			/* A byte outside valid UTF-8 becomes a lone surrogate, U+DC00 + byte
			 * (Python's "surrogateescape"): no real character is written that
			 * way, so every key can be told apart and rebuilt byte for byte. */
			(void)snprintf(esc, sizeof(esc), "\\u%04x",
				       run == 0 ? 0xdc00 + u[i] : u[i]);
			sbuf_append(b, esc, 6);
			i++;
		} else {
			sbuf_append(b, s + i, run);
			i += run;
		}
	}
	sbuf_append(b, "\"", 1);
}

void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
