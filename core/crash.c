/* crash.c — crash points (crash.h): dying (or stopping) where TINYKV_CRASH_AT says, in the
 * test build only (-DKV_CRASH_POINTS). Compiled without it, this file is empty. Any thread
 * may pass a point; the count of passages is atomic. */
#include "crash.h"

#ifdef KV_CRASH_POINTS
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kv_crash_point(const char *name)
{
	static int passed;
	const char *at = getenv("TINYKV_CRASH_AT");
	size_t len = strlen(name);
	long nth = 1;

	if (at == NULL || strncmp(at, name, len) != 0 || (at[len] != '\0' && at[len] != ':'))
		return;
	if (at[len] == ':')
		nth = strtol(at + len + 1, NULL, 10);
	if (__atomic_add_fetch(&passed, 1, __ATOMIC_SEQ_CST) != nth)
		return;
	if (getenv("TINYKV_CRASH_STOP") != NULL)
		(void)raise(SIGSTOP); /* alive, holding its intents, until SIGCONT */
	else
		_exit(99);
}
#endif
