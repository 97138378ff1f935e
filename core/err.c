/* err.c — error messages that carry their context back to the program. Any thread. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int kv_err_set(struct kv_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void kv_err_prefix(struct kv_err *err, const char *fmt, ...)
{
	char old[KV_ERR_MSG_MAX];
	size_t n;
	va_list ap;
	int len;

	if (err == NULL)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	len = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	n = len < 0 ? 0 : (size_t)len < sizeof(err->msg) ? (size_t)len : sizeof(err->msg) - 1;
	/* The old message follows "prefix: ", cut to what still fits. */
	if (n + 2 < sizeof(err->msg)) {
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		old[sizeof(old) - 1 - n] = '\0';
		memcpy(err->msg + n, old, strlen(old) + 1);
	}
}

void kv_err_clear(struct kv_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *kv_strerror(int code)
{
	switch (code) {
	case KV_ECORRUPT:
	case -KV_ECORRUPT: return "index record is corrupt";
	default: return strerror(code < 0 ? -code : code);
	}
}
