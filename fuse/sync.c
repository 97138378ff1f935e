/* sync.c — what programs ask of a file system beyond reads and writes: fsync of a
 * directory (its entries are index records: made durable), and fallocate (a file grown
 * with zeros; nothing can be reserved on WebDAV shards, holes cannot be punched).
 * No state of its own; the open file's bytes and locking stay file_write.c's (tk_truncate).
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>

int tk_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct kv_err err;
	int rc;

	(void)datasync;
	(void)fi;
	/* With sync on (tinykv.conf(5)) each change was synced before it returned; with it
	 * off this is where a program that asks gets its directory on disk. */
	rc = kv_store_sync(tk_ctx()->store, &err);
	return rc < 0 ? tk_errno(rc, &err, "fsync (directory)", path) : 0;
}

int tk_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi)
{
	struct node *n = tk_file_of(fi);
	uint64_t size;

	/* The kernel refuses COLLAPSE_RANGE and INSERT_RANGE itself; PUNCH_HOLE and
	 * ZERO_RANGE would rewrite the value on the shards: not offered. */
	if ((mode & ~FALLOC_FL_KEEP_SIZE) != 0)
		return -EOPNOTSUPP;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (n == NULL)
		return -EBADF;
	if (off > INT64_MAX - len)
		return -EFBIG;
	/* KEEP_SIZE reserves room for later writes: shards have no such thing, and the spool
	 * takes its room as the writes come; the size stays, so there is nothing to do. */
	if (mode & FALLOC_FL_KEEP_SIZE)
		return 0;
	/* The kernel holds the inode lock across fallocate, as across writes and truncates
	 * of this mount: the size read here is still the size when the file is extended. */
	pthread_mutex_lock(&n->lock);
	size = n->size;
	pthread_mutex_unlock(&n->lock);
	if ((uint64_t)(off + len) <= size)
		return 0; /* already that long: its bytes are there */
	return tk_truncate(path, off + len, fi);
}
