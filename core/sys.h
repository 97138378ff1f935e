/* sys.h — small operating-system helpers the core needs in several places.
 *
 * Threads: any thread; nothing here keeps state but kv_self_owner's cache of this
 * process's start time, and nothing touches the network. */
#ifndef KV_SYS_H
#define KV_SYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* mkdir -p with mode for the directories it creates (existing ones are not checked).
 * Returns 0 or -errno; -ENAMETOOLONG also for an empty path. */
int kv_mkdir_p(const char *path, mode_t mode);

/* Wall-clock time in nanoseconds since the epoch. */
int64_t kv_now_ns(void);

/* Monotonic time in milliseconds. */
int64_t kv_mono_ms(void);

/* This process as the owner of an intent: pid and start time (clock ticks after boot,
 * /proc/PID/stat field 22) — together they survive pid reuse. Read once per process
 * (again in a forked child; again after a failed read); start 0 when /proc cannot be
 * read. kv_store_open reads it, while descriptors are still free. */
void kv_self_owner(int32_t *pid, uint64_t *start);

/* Is the process (pid, start) still running? 0 for pid <= 0, no such process, a process
 * started at another time (the pid reused) or a zombie; unknown (no /proc) counts as
 * alive. */
int kv_owner_alive(int32_t pid, uint64_t start);

/*
 * Private local state (DESIGN §7): the index, the intent log and the mount's spool are
 * reachable by this process's user only, and a path someone else could have prepared is
 * refused rather than used.
 */

/* Sentences about what was changed on the way (a directory tightened), for the program to
 * show; each ends with a newline. Too many are cut, never overflowed. */
#define KV_NOTES_MAX 1024
struct kv_notes {
	char text[KV_NOTES_MAX];
};

enum {
	KV_PRIVATE_CREATE = 1 /* create what is missing (else -ENOENT) */
};

/*
 * Open path as a private directory, creating it (mode 0700) if it is missing and flags
 * has KV_PRIVATE_CREATE (missing parents are then made 0755).
 *
 * Trusted means: path's parent is resolved (realpath) and every directory from / down to
 * it is owned by root or by us and writable by nobody else unless sticky (as /tmp is), so
 * nobody can swap what was checked; path itself is a directory — not a symbolic link —
 * owned by the effective uid and writable by nobody else. A directory that is ours but
 * readable by others (an older install's 0755) is tightened to 0700 and a sentence saying
 * so is added to notes (may be NULL).
 *
 * what names the directory's role in messages ("index", "cache"). On success returns a
 * descriptor of the directory (O_RDONLY | O_DIRECTORY | O_CLOEXEC; the caller closes it)
 * and the resolved path in real (cap bytes; open things by it, not by path). Errors, with
 * err saying what is wrong and what to do: -ELOOP a symbolic link; -EPERM owned by someone
 * else, or writable by others (path or a parent); -ENOTDIR; -ENOENT missing without
 * KV_PRIVATE_CREATE; -ENAMETOOLONG; other -errno.
 */
int kv_private_dir(const char *path, const char *what, unsigned flags, char *real, size_t cap,
		   struct kv_notes *notes, struct kv_err *err);

/*
 * Check the file name in the private directory dirfd (whose resolved path is dir, for
 * messages) before a library opens it by name: a missing file is fine; one that exists
 * must be a regular file, not a symbolic link, with one link, owned by us and writable by
 * nobody else. Readable by others: tightened to 0600, with a note. Returns 0, or -ELOOP,
 * -EPERM, -EINVAL (not a regular file), other -errno with err set.
 */
int kv_private_file(int dirfd, const char *dir, const char *name, const char *what,
		    struct kv_notes *notes, struct kv_err *err);

/* This boot's identity (/proc/sys/kernel/random/boot_id, 36 characters and a NUL) in out
 * (cap >= 37). Returns 0, or -errno with err naming the file. */
int kv_boot_id(char *out, size_t cap, struct kv_err *err);

#endif
