/* sys.h — small operating-system helpers the core needs in several places. */
#ifndef KV_SYS_H
#define KV_SYS_H

#include <stdint.h>
#include <sys/types.h>

/* mkdir -p with mode for the directories it creates. Returns 0 or -errno. */
int kv_mkdir_p(const char *path, mode_t mode);

/* Wall-clock time in nanoseconds since the epoch. */
int64_t kv_now_ns(void);

/* Monotonic time in milliseconds. */
int64_t kv_mono_ms(void);

/* This process as the owner of an intent: pid and start time (clock ticks after boot,
 * /proc/PID/stat field 22) — together they survive pid reuse. */
void kv_self_owner(int32_t *pid, uint64_t *start);

/* Is the process (pid, start) still running? Unknown counts as alive. */
int kv_owner_alive(int32_t pid, uint64_t start);

#endif
