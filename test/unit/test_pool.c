/* kv_pool: a full pool says so instead of waiting (try_submit, backlog); items are typed:
 * each pool carries one item size, a submit copies the item whole, and an item of
 * another size is refused. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "pool.h"
#include "unit.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_open = PTHREAD_COND_INITIALIZER;
static int open_, ran, entered;

static void held(void *item, void *arg)
{
	(void)item;
	(void)arg;
	pthread_mutex_lock(&gate_lock);
	entered++;
	while (!open_)
		pthread_cond_wait(&gate_open, &gate_lock);
	ran++;
	pthread_mutex_unlock(&gate_lock);
}

UNIT_TEST(pool_try_submit_never_waits)
{
	struct kv_pool *p = kv_pool_new(1, 1, held, NULL);
	int i, n = 0, tries;

	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(kv_pool_threads(p) == 1);
	CHECK(kv_pool_backlog(p) == 0);
	CHECK(kv_pool_try_submit(p, "x", 1) == 0); /* the thread takes it, waits */
	for (tries = 0; tries < 5000; tries++) {
		pthread_mutex_lock(&gate_lock);
		i = entered;
		pthread_mutex_unlock(&gate_lock);
		if (i > 0)
			break;
		(void)usleep(1000);
	}
	for (i = 0; i < 100; i++)
		if (kv_pool_try_submit(p, "x", 1) == 0)
			n++;
	CHECK(n == 4); /* the queue: four items per thread, then -EAGAIN */
	CHECK(kv_pool_try_submit(p, "x", 1) == -EAGAIN);
	CHECK(kv_pool_backlog(p) == 4);
	CHECK(kv_pool_try_submit(p, "x", 2000) == -EINVAL);
	pthread_mutex_lock(&gate_lock);
	open_ = 1;
	pthread_cond_broadcast(&gate_open);
	pthread_mutex_unlock(&gate_lock);
	kv_pool_finish(p);
	CHECK(ran == 5);
}

/* An item bigger than the 1024 bytes the pool once took, with a double that must arrive
 * aligned and every byte intact. */
struct big_item {
	int n;
	double weight;
	unsigned char fill[3000];
};

struct tally {
	pthread_mutex_t lock;
	int seen[64], intact, aligned;
};

static void count_big(void *item, void *arg)
{
	const struct big_item *b = item;
	struct tally *t = arg;
	int ok = b->n >= 0 && b->n < 64 && b->weight == b->n * 0.5, i;

	for (i = 0; ok && i < (int)sizeof(b->fill); i++)
		ok = b->fill[i] == (unsigned char)(b->n + i);
	pthread_mutex_lock(&t->lock);
	if (b->n >= 0 && b->n < 64)
		t->seen[b->n]++;
	t->intact += ok;
	t->aligned += (uintptr_t)item % _Alignof(struct big_item) == 0;
	pthread_mutex_unlock(&t->lock);
}

UNIT_TEST(pool_typed_items_are_copied_whole)
{
	struct tally t = { PTHREAD_MUTEX_INITIALIZER, { 0 }, 0, 0 };
	struct kv_pool *p = kv_pool_new(3, sizeof(struct big_item), count_big, &t);
	struct big_item b;
	int i, j, once = 1;

	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(kv_pool_threads(p) == 3);
	for (i = 0; i < 64; i++) {
		b.n = i;
		b.weight = i * 0.5;
		for (j = 0; j < (int)sizeof(b.fill); j++)
			b.fill[j] = (unsigned char)(i + j);
		CHECK(kv_pool_submit(p, &b, sizeof(b)) == 0);
		b.n = -1; /* the caller's item is its own again at once */
		memset(b.fill, 0xee, sizeof(b.fill));
	}
	/* another type (a size other than the pool's) is refused, waiting or not */
	CHECK(kv_pool_submit(p, &b, sizeof(b) - 1) == -EINVAL);
	CHECK(kv_pool_try_submit(p, &b, sizeof(b) + 1) == -EINVAL);
	CHECK(kv_pool_submit(p, &b, 0) == -EINVAL);
	kv_pool_finish(p); /* waits for every queued item */
	for (i = 0; i < 64; i++)
		once &= t.seen[i] == 1;
	CHECK(once);
	CHECK(t.intact == 64);
	CHECK(t.aligned == 64);
}

static void nothing(void *item, void *arg)
{
	(void)item;
	(void)arg;
}

/* kv_pool_new takes all its memory before a thread starts: a pool it cannot make is
 * NULL, never one whose threads are missing. */
UNIT_TEST(pool_new_refuses_what_it_cannot_hold)
{
	struct kv_pool *p = kv_pool_new(2, sizeof(int), nothing, NULL);
	int i = 7;

	CHECK(kv_pool_new(1, 0, nothing, NULL) == NULL);
	CHECK(kv_pool_new(4, SIZE_MAX / 2, nothing, NULL) == NULL);
	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(kv_pool_threads(p) == 2);
	CHECK(kv_pool_submit(p, &i, sizeof(i)) == 0);
	kv_pool_finish(p);
	kv_pool_finish(NULL);
}
