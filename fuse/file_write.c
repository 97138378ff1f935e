/* file_write.c — the callbacks that change an open file: write (into the spool, or sent
 * up as it comes, spool.c), truncate (of an open file, or by name: stored at once), and
 * metadata changes kept with the bytes while they wait for upload (tk_node_set_meta,
 * meta.c's callbacks call it). Locking: node.h.
 */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"

/* A write by a user without CAP_FSETID clears set-user-ID, and set-group-ID where the
 * group may execute (Linux's rule). The kernel does it for writes through its page cache;
 * write-only handles bypass it (direct_io), so their writes do it here. Root counts as
 * holding CAP_FSETID: a callback knows the caller's uid, not its capabilities. */
static void drop_privs_on_write(struct node *n)
{
	struct kv_meta m = { .set_mode = 1 };
	uint32_t mode;

	if (fuse_get_context()->uid == 0)
		return;
	pthread_mutex_lock(&n->lock);
	mode = n->rec.mode;
	pthread_mutex_unlock(&n->lock);
	m.mode = mode & ~(uint32_t)S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		m.mode &= ~(uint32_t)S_ISGID;
	if (m.mode != mode)
		(void)tk_node_set_meta(n, &m, "write");
}

int tk_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct node *n = node_of(fi);
	struct kv_err err;
	ssize_t w;
	int rc = 0;

	if ((uint64_t)off + size > tk_ctx()->cfg->max_size)
		return -EFBIG;
	pthread_mutex_lock(&n->io);
	if (n->spool_fd < 0)
		rc = spool_fill(n, 0, &err); /* a read-only open became writable (mmap) */
	if (rc < 0) {
		pthread_mutex_unlock(&n->io);
		return tk_errno(rc, &err, "write", path != NULL ? path : n->key);
	}
	if (spool_send(n, buf, size, (uint64_t)off)) {
		spool_changed(n, (uint64_t)off + size); /* sent up, not spooled */
		pthread_mutex_unlock(&n->io);
		drop_privs_on_write(n);
		return (int)size;
	}
	rc = spool_complete(n, &err);
	if (rc < 0) {
		pthread_mutex_unlock(&n->io);
		return tk_errno(rc, &err, "write", path != NULL ? path : n->key);
	}
	w = pwrite(n->spool_fd, buf, size, off);
	if (w < 0) {
		rc = -errno;
	} else {
		uint64_t end = (uint64_t)off + (uint64_t)w;

		rc = (int)w;
		spool_changed(n, end > n->size ? end : n->size);
	}
	pthread_mutex_unlock(&n->io);
	if (rc > 0)
		drop_privs_on_write(n);
	return rc;
}

int tk_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct node *n = tk_file_of(fi);
	struct kv_record rec;
	struct kv_err err;
	size_t klen;
	const char *key;
	int fresh, rc;

	if (size < 0)
		return -EINVAL;
	if ((uint64_t)size > tk_ctx()->cfg->max_size)
		return -EFBIG;
	if (n != NULL) {
		pthread_mutex_lock(&n->io);
		rc = spool_truncate(n, size, &err);
		pthread_mutex_unlock(&n->io);
		return rc < 0 ? tk_errno(rc, &err, "truncate", path != NULL ? path : n->key) : 0;
	}
	/* truncate(2) by name: no close follows, so the new value is stored now. */
	key = tk_key(path, &klen);
	rc = tk_lookup(key, klen, &rec, &err);
	if (rc < 0)
		return rc == -ENOENT ? rc : tk_errno(rc, &err, "truncate", path);
	if (rec.type == KV_TYPE_DIR)
		return -EISDIR;
	n = node_get(key, klen, &rec, &fresh);
	if (n == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&n->io);
	rc = spool_truncate(n, size, &err);
	rc = rc < 0 ? tk_errno(rc, &err, "truncate", path) : tk_flush_locked(n, "truncate", 0);
	pthread_mutex_unlock(&n->io);
	node_put(n);
	return rc;
}

/* The parts of m that are set, into the metadata an upload will apply. */
static void meta_merge(struct kv_meta *into, const struct kv_meta *m, const struct kv_record *rec)
{
	if (m->set_mode) {
		into->set_mode = 1;
		into->mode = rec->mode;
	}
	if (m->set_owner) {
		into->set_owner = 1;
		into->uid = rec->uid;
		into->gid = rec->gid;
	}
	if (m->set_mtime) {
		into->set_mtime = 1;
		into->mtime_ns = m->mtime_ns;
	}
	if (m->set_atime) {
		into->set_atime = 1;
		into->atime_ns = m->atime_ns;
	}
}

int tk_node_set_meta(struct node *n, const struct kv_meta *m, const char *op)
{
	char key[KV_KEY_MAX + 1];
	struct kv_record rec;
	struct kv_err err;
	size_t klen = node_key_copy(n, key);
	enum node_state state;
	int rc = 0;

	pthread_mutex_lock(&n->io); /* no upload in flight, none starts */
	pthread_mutex_lock(&n->lock);
	rec = n->rec;
	state = n->state;
	pthread_mutex_unlock(&n->lock);
	kv_meta_apply(&rec, m);
	rec.ctime_ns = kv_now_ns();
	/* Stored now when the index holds the file; kept for the upload while it holds
	 * bytes of its own; kept by the open handles alone once its name is gone. */
	if (state == NODE_STORED || state == NODE_COPIED)
		rc = kv_store_setmeta(tk_ctx()->store, key, klen, m, &err);
	if (rc == 0) {
		pthread_mutex_lock(&n->lock);
		n->rec = rec;
		if (node_state_unstored(state))
			meta_merge(&n->meta, m, &rec);
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&n->io);
	return rc < 0 ? tk_errno(rc, &err, op, key) : 0;
}
