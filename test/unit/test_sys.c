/* Owner liveness: a running process is alive; one that exited — even as a zombie its
 * parent has not collected — is not, and neither is a reused pid with another start. */
#include <stdint.h>
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
