/* load.h — what the file-system load generators (fsload.c, mdload.c) share: a monotonic
 * clock and the content of file i, the same in both so their reads can be checked. */
#ifndef BENCH_LOAD_H
#define BENCH_LOAD_H

#include <stddef.h>
#include <time.h>

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The content of file i: a pattern that differs from file to file. */
static inline void fill(char *buf, size_t size, long i)
{
	size_t k;

	for (k = 0; k < size; k++)
		buf[k] = (char)('a' + (k + (size_t)i) % 26);
}

#endif
