/* kv_pool_try_submit and kv_pool_backlog: a full pool says so instead of waiting. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "pool.h"
#include "unit.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_open = PTHREAD_COND_INITIALIZER;
static int open_, ran, entered;

static void held(const char *item, size_t len, void *arg)
{
	(void)item;
	(void)len;
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
	struct kv_pool *p = kv_pool_new(1, held, NULL);
	int i, n = 0, tries;

	CHECK(p != NULL);
	if (p == NULL)
		return;
	CHECK(kv_pool_threads(p) == 1);
	CHECK(kv_pool_backlog(p) == 0);
	CHECK(kv_pool_try_submit(p, "x", 1) == 0);	/* the thread takes it, waits */
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
	CHECK(n == 4);			/* the queue: four items per thread, then -EAGAIN */
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
