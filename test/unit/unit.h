/* unit.h — a minimal harness for the core's unit tests: CHECK records a failure with its
 * place and goes on; each test file registers its tests through UNIT_TEST. */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

extern int unit_failures;
extern int unit_checks;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		unit_checks++;                                                                     \
		if (!(cond)) {                                                                     \
			unit_failures++;                                                           \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		unit_checks++;                                                                     \
		if (strcmp(a_, b_) != 0) {                                                         \
			unit_failures++;                                                           \
			fprintf(stderr, "%s:%d: CHECK_STR failed: \"%s\" != \"%s\"\n", __FILE__,   \
				__LINE__, a_, b_);                                                 \
		}                                                                                  \
	} while (0)

struct unit_test {
	const char *name;
	void (*fn)(void);
	struct unit_test *next;
};

void unit_register(struct unit_test *t);

#define UNIT_TEST(name)                                                                            \
	static void name(void);                                                                    \
	static struct unit_test name##_reg = { #name, name, NULL };                                \
	__attribute__((constructor)) static void name##_ctor(void)                                 \
	{                                                                                          \
		unit_register(&name##_reg);                                                        \
	}                                                                                          \
	static void name(void)

#endif
