/* json.h — the growable text buffer behind tinykvd's responses, and JSON string quoting.
 * A struct sbuf starts all zero, is one thread's at a time and is always NUL-terminated
 * once anything was appended; an append that cannot get memory sets oom and the later
 * ones do nothing, so a caller checks oom once, at the end. */
#ifndef TINYKVD_JSON_H
#define TINYKVD_JSON_H

#include <stddef.h>

struct sbuf {
	char *p;
	size_t len, cap;
	int oom; /* an append failed: the content is incomplete */
};

void sbuf_append(struct sbuf *b, const char *s, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
/* s[0..n) as a JSON string with quotes. Valid UTF-8 passes through, control characters
 * become \u00XX, and bytes that are not part of valid UTF-8 \udcXX (lone surrogates,
 * which no character encodes to: keys stay distinct and recoverable). */
void sbuf_json_string(struct sbuf *b, const char *s, size_t n);
/* Free the text; b is empty again (oom stays as it was). */
void sbuf_free(struct sbuf *b);

#endif
