/* escape.h — text from strangers (request targets, keys, shard messages) made safe for a
 * log line or a terminal: the one escaper that every log line and report goes through. */
#ifndef KV_ESCAPE_H
#define KV_ESCAPE_H

#include <stddef.h>

/* Room kv_escape needs for len bytes of input, with the NUL: every byte may become \xHH. */
#define KV_ESCAPE_CAP(len) (4 * (size_t)(len) + 1)

enum {
	KV_ESC_BACKSLASH = 1 /* also write '\' as "\\" (so that the text can be undone) */
};

/*
 * Copy s[0..len) (any bytes) into out as text that holds no control byte and only valid
 * UTF-8: C0 controls, DEL, C1 controls (U+0080..U+009F) and every byte that is not part of
 * a well-formed UTF-8 sequence (overlong forms, surrogates, past U+10FFFF, cut short)
 * become \xHH, one per byte; quote (when not 0) becomes \ and itself; '\' becomes "\\"
 * with KV_ESC_BACKSLASH. Other bytes stay as they are. out (cap bytes, cap >= 1) is
 * always NUL-terminated; when it is too small the text ends before the escape that would
 * not fit, never inside one. Returns the length written (without the NUL). Pure;
 * any thread.
 */
size_t kv_escape(char *out, size_t cap, const char *s, size_t len, char quote, unsigned flags);

#endif
