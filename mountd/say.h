/* say.h — tinykvd's messages on stderr, escaped: they may quote keys, request targets or
 * what a shard answered, and no byte of a stranger's reaches a terminal or a log raw. */
#ifndef TINYKVD_SAY_H
#define TINYKVD_SAY_H

/* "tinykvd: " + the printf-style message (without a newline) + "\n" on stderr, the
 * message through kv_escape (control bytes and bytes outside UTF-8 as \xHH; a backslash
 * stays, so keys that reports already escaped are not escaped twice). At most 4 KiB of
 * message; any thread. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
