/* main.c — runs every registered unit test; prints "N passed, N failed" per test. */
#include <stdio.h>

#include "unit.h"

int unit_failures;
int unit_checks;
static struct unit_test *tests, **tail = &tests;

void unit_register(struct unit_test *t)
{
	*tail = t;
	tail = &t->next;
}

int main(void)
{
	struct unit_test *t;
	int passed = 0, failed = 0;

	for (t = tests; t != NULL; t = t->next) {
		int before = unit_failures;

		t->fn();
		if (unit_failures == before) {
			passed++;
			printf("ok - %s\n", t->name);
		} else {
			failed++;
			printf("not ok - %s\n", t->name);
		}
	}
	printf("unit: %d passed, %d failed (%d checks)\n", passed, failed, unit_checks);
	return failed == 0 ? 0 : 1;
}
