/* Owner liveness: a running process is alive; one that exited — even as a zombie its
 * parent has not collected — is not, and neither is a reused pid with another start.
 * The owner's own start time survives a moment without descriptors. */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys.h"
#include "unit.h"

UNIT_TEST(owner_alive_and_dead)
{
	int32_t me, child_pid;
	uint64_t my_start, child_start = 0;
	int fds[2];
	pid_t child;

	kv_self_owner(&me, &my_start);
	CHECK(me == (int32_t)getpid() && my_start > 0);
	CHECK(kv_owner_alive(me, my_start));
	CHECK(!kv_owner_alive(me, my_start + 1)); /* the pid, reused by another process */
	CHECK(!kv_owner_alive(0, 0));
	CHECK(pipe(fds) == 0);
	child = fork();
	if (child == 0) {
		kv_self_owner(&child_pid, &child_start);
		(void)!write(fds[1], &child_start, sizeof(child_start));
		_exit(0);
	}
	CHECK(read(fds[0], &child_start, sizeof(child_start)) == sizeof(child_start));
	usleep(100 * 1000); /* it has exited: a zombie until waited for */
	CHECK(!kv_owner_alive((int32_t)child, child_start));
	CHECK(waitpid(child, NULL, 0) == child);
	CHECK(!kv_owner_alive((int32_t)child, child_start));
	close(fds[0]);
	close(fds[1]);
}

/* A read of /proc that fails (no descriptor free) is not remembered: once descriptors are
 * free again, the owner has its real start time, in every thread. Run in a child, whose
 * cache starts empty (another pid). */
static void *owner_in_thread(void *arg)
{
	int32_t pid;

	kv_self_owner(&pid, arg);
	return NULL;
}

UNIT_TEST(owner_failed_read_is_not_kept)
{
	int fds[2];
	pid_t child;
	uint64_t got[3] = { 1, 0, 0 };

	CHECK(pipe(fds) == 0);
	child = fork();
	if (child == 0) {
		struct rlimit lim = { 64, 64 };
		int32_t pid;
		pthread_t t;
		int fd, first = -1, last = -1;

		(void)setrlimit(RLIMIT_NOFILE, &lim);
		while ((fd = open("/dev/null", O_RDONLY)) >= 0) {
			if (first < 0)
				first = fd;
			last = fd;
		}
		kv_self_owner(&pid, &got[0]); /* no descriptor: start 0 */
		for (fd = first; fd >= 0 && fd <= last; fd++)
			if (fd != fds[1])
				close(fd);
		kv_self_owner(&pid, &got[1]);
		if (pthread_create(&t, NULL, owner_in_thread, &got[2]) == 0)
			(void)pthread_join(t, NULL);
		(void)!write(fds[1], got, sizeof(got));
		_exit(0);
	}
	CHECK(read(fds[0], got, sizeof(got)) == sizeof(got));
	CHECK(waitpid(child, NULL, 0) == child);
	CHECK(got[0] == 0);
	CHECK(got[1] > 0 && got[2] == got[1]);
	close(fds[0]);
	close(fds[1]);
}
