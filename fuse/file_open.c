/* file_open.c — opening and closing files: the open callback (a node per key, refreshed
 * when the key changed through HTTP meanwhile, close-to-open), flush and fsync (the
 * upload, spool.c), release, and the end of the mount, which stores what open files
 * still hold. Locking: node.h.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* A new open of a key another handle keeps open: the key may have changed through HTTP
 * meanwhile, and an open sees the stored value (close-to-open), unless this mount holds
 * bytes of its own for it. The same value under a new record (renamed back, chmod) is
 * followed; another value is not forced on the handles that opened the old one: their
 * node leaves the table (they go on with the old value, or EIO), and 1 tells the caller
 * to open a node of its own. */
static int node_reopen_check(struct node *n, const char *key, size_t klen)
{
	struct kv_record rec, cur;
	int stale = 0;

	pthread_mutex_lock(&n->io);
	if (n->spool_fd < 0 && kv_store_get(tk_ctx()->store, key, klen, &rec, NULL) == 0 &&
	    rec.type == KV_TYPE_REG && rec.gen != n->rec.gen) {
		if (kv_store_current(tk_ctx()->store, key, klen, &n->rec, &cur, NULL) == 0) {
			pthread_mutex_lock(&n->lock);
			n->rec = cur;
			pthread_mutex_unlock(&n->lock);
		} else {
			stale = 1;
		}
	}
	pthread_mutex_unlock(&n->io);
	if (stale)
		node_unlinked(key, klen);
	return stale;
}

int tk_open(const char *path, struct fuse_file_info *fi)
{
	struct kv_record rec;
	struct kv_err err;
	struct node *n;
	size_t klen;
	const char *key = tk_key(path, &klen);
	int trunc = (fi->flags & O_TRUNC) != 0, fresh, rc = tk_lookup(key, klen, &rec, &err);

	/* The kernel opens only what its (cached) lookup found: gone now, deleted through
	 * HTTP meanwhile. ESTALE makes it look the name up afresh and retry the open once,
	 * so that `echo x > f` creates f instead of failing with ENOENT. */
	if (rc == -ENOENT)
		return -ESTALE;
	if (rc < 0)
		return tk_errno(rc, &err, "open", path);
	if (rec.type == KV_TYPE_DIR)
		return -EISDIR;
	n = node_get(key, klen, &rec, &fresh);
	if (n != NULL && !fresh && node_reopen_check(n, key, klen)) {
		node_put(n);
		n = node_get(key, klen, &rec, &fresh);
		/* One inode for both values: keep this one's pages out of the kernel's
		 * cache, where the old value's readers would find them. */
		fi->direct_io = 1;
	}
	if (n == NULL)
		return -ENOMEM;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || trunc) {
		pthread_mutex_lock(&n->io);
		rc = spool_fill(n, trunc, &err);
		if (rc == 0 && trunc && n->size > 0)
			spool_changed(n, 0);
		pthread_mutex_unlock(&n->io);
		if (rc < 0) {
			node_put(n);
			return tk_errno(rc, &err, "open", path);
		}
	}
	return handle_new(fi, n, 0);
}

int tk_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	/* The close of a reader does not store what a writer has not closed yet. */
	if (!handle_writable(fi))
		return 0;
	return tk_flush_node(node_of(fi), "close", 0);
}

int tk_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	return tk_flush_node(node_of(fi), "fsync", 0);
}

int tk_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	/* Writes that arrived after the last flush (mmap write-back): store them too. */
	if (handle_writable(fi))
		(void)tk_flush_node(node_of(fi), "release", 1);
	handle_free(fi);
	return 0;
}

/* The mount ends (a signal, or an unmount forced while files are open): store what open
 * files still hold, and say so where a file cannot be stored, so nothing written is lost
 * without a word. */
void tk_destroy(void *data)
{
	struct node **v;
	int count = node_grab_under("", 0, &v), i;

	(void)data;
	for (i = 0; i < count; i++) {
		char key[KV_KEY_MAX + 1];
		int rc = tk_flush_node(v[i], "unmount", 0);

		if (rc < 0) {
			(void)node_key_copy(v[i], key);
			syslog(LOG_ERR, "unmount: '%s' not stored: %s", key, strerror(-rc));
			fprintf(stderr, "tinykv: unmount: '%s' not stored: %s\n", key,
				strerror(-rc));
		}
		(void)node_put(v[i]);
	}
	free(v);
	handles_close_all(); /* no release will come for these */
}
