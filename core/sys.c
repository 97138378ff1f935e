/* sys.c — directories, clocks and process identity. */
#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int kv_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}

int64_t kv_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t kv_mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* State (field 3) and start time (field 22) of /proc/PID/stat; -1 when unreadable. The
 * command name (field 2) may hold spaces and parentheses, so parsing starts after its
 * last ')'. */
static int proc_stat(int32_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	FILE *f;
	size_t n;
	int field;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	*state = p[2];
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &st) != 1)
		return -1;
	*start = st;
	return 0;
}

void kv_self_owner(int32_t *pid, uint64_t *start)
{
	static int32_t cached_pid;
	static uint64_t cached_start;

	if (cached_pid != (int32_t)getpid()) {
		char state;

		if (proc_stat((int32_t)getpid(), &state, &cached_start) < 0)
			cached_start = 0;
		cached_pid = (int32_t)getpid();
	}
	*pid = cached_pid;
	*start = cached_start;
}

int kv_owner_alive(int32_t pid, uint64_t start)
{
	uint64_t now;
	char state;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	if (proc_stat(pid, &state, &now) < 0)	/* gone meanwhile, or no /proc */
		return access("/proc/self/stat", R_OK) == 0 ? 0 : 1;
	/* A zombie has ended; it only waits for its parent to collect it. */
	return now == start && state != 'Z' && state != 'X';
}
