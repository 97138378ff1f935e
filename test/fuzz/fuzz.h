/* fuzz.h — what the libFuzzer targets in test/fuzz/ share: the entry point's prototype
 * and FUZZ_CHECK, which turns a broken property into a crash libFuzzer saves the input of.
 *
 * Each target feeds the bytes libFuzzer makes to one parser of untrusted bytes and checks
 * what must hold for any input: no sanitizer report, no leak, results within their limits,
 * and round trips that give back what went in. Targets are deterministic: no network,
 * threads, clocks or files.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: property broken: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* buf[0..len) as a C string: a copy in a block of exactly len + 1 bytes (so ASan sees
 * any read past its NUL); aborts when out of memory. Caller frees. (libFuzzer's own data
 * is already in a block of exactly its size.) */
static inline char *fuzz_dup(const uint8_t *buf, size_t len)
{
	char *p = malloc(len + 1);

	FUZZ_CHECK(p != NULL);
	for (size_t i = 0; i < len; i++)
		p[i] = (char)buf[i];
	p[len] = '\0';
	return p;
}

#endif
