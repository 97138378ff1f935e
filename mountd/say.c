/* say.c — tinykvd's messages through the core's one escaper (kv_escape). */
#include "say.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

#define SAY_MAX 4096

void say(const char *fmt, ...)
{
	char raw[SAY_MAX], safe[KV_ESCAPE_CAP(SAY_MAX)];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	(void)kv_escape(safe, sizeof(safe), raw, strlen(raw), 0, 0);
	fprintf(stderr, "tinykvd: %s\n", safe);
}
