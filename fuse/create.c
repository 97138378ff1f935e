/* create.c — new files: the create callback (an open file of this mount, with its spool,
 * stored at its first flush) and mknod (a regular file through create, stored at once; a
 * special file as a record alone). Each takes its directory's default ACL (xattr.c), as
 * new directories do (tk_made, which mkdir calls too).
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

int tk_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct kv_meta m = tk_caller_meta(mode);
	struct kv_record rec;
	struct kv_err err;
	struct node *n;
	size_t klen;
	const char *key = tk_key(path, &klen);
	int fresh, rc = tk_new_name(key, klen);

	if (rc == 0)
		rc = kv_key_check(key, klen, &err);
	if (rc < 0)
		return rc;
	/* Its inode number now: stat shows the same one before and after it is stored. */
	rc = kv_store_new_ino(tk_ctx()->store, &m.ino, &err);
	if (rc < 0)
		return tk_errno(rc, &err, "create", path);
	m.set_ino = 1;
	kv_record_new(&rec, KV_TYPE_REG, &m);
	n = node_get(key, klen, &rec, &fresh);
	if (n == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&n->io);
	if (fresh) {
		rc = spool_open(n, &err);
		n->appending = 1;
		pthread_mutex_lock(&n->lock);
		if (rc == 0)
			(void)node_event_locked(n, NODE_EV_CREATED);
		n->meta = m;
		pthread_mutex_unlock(&n->lock);
	} else {
		rc = spool_fill(n, 1, &err); /* raced with another creator: O_TRUNC it */
		if (rc == 0)
			spool_changed(n, 0);
	}
	pthread_mutex_unlock(&n->io);
	if (rc < 0) {
		node_put(n);
		return tk_errno(rc, &err, "create", path);
	}
	rc = tk_xattr_inherit(path, mode, 0); /* before the handle: a failure leaves none */
	if (rc < 0) {
		node_put(n);
		return rc;
	}
	return handle_new(fi, n, 1);
}

int tk_made(int rc, const struct kv_err *err, const char *op, const char *path, mode_t mode,
	    int is_dir)
{
	return rc < 0 ? tk_errno(rc, err, op, path) : tk_xattr_inherit(path, mode, is_dir);
}

/* The record type mknod(2) makes for mode, or 0 (a regular file: tk_create's). */
static uint8_t special_type(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO: return KV_TYPE_FIFO;
	case S_IFCHR: return KV_TYPE_CHR;
	case S_IFBLK: return KV_TYPE_BLK;
	case S_IFSOCK: return KV_TYPE_SOCK;
	default: return 0;
	}
}

/* A special file (FIFO, device, a socket bind(2) makes) has no value: the core stores its
 * record alone. The kernel opens such files itself; they never reach tk_open. */
static int mknod_special(const char *path, mode_t mode, dev_t rdev, uint8_t type)
{
	struct kv_meta m = tk_caller_meta(mode);
	struct kv_err err;
	size_t klen;
	const char *key = tk_key(path, &klen);
	int rc = tk_new_name(key, klen);

	if (rc == 0)
		rc = kv_store_mknod(tk_ctx()->store, key, klen, type, (uint64_t)rdev, &m, &err);
	return tk_made(rc, &err, "mknod", path, mode, 0);
}

int tk_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct fuse_file_info fi;
	uint8_t type = special_type(mode);
	int rc;

	if (type != 0)
		return mknod_special(path, mode, rdev, type);
	if (!S_ISREG(mode))
		return -EINVAL;
	memset(&fi, 0, sizeof(fi));
	fi.flags = O_WRONLY | O_CREAT;
	rc = tk_create(path, mode, &fi);
	if (rc < 0)
		return rc;
	rc = tk_flush_node(node_of(&fi), "mknod", 0);
	handle_free(&fi);
	return rc;
}
