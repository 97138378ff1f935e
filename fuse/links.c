/* links.c — hard links in the mount: the link callback, and the callbacks that change a
 * linked file's names or bytes, which then drop what the kernel caches of its other names
 * (fs.h: libfuse gives each name an inode of its own). The names themselves are the
 * core's (core/links.c: one record under every name, the value kept until the last name
 * goes).
 */
#include "fs.h"

#include <errno.h>
#include <string.h>

/* A file open in this mount may not be stored yet (created, or written and not closed):
 * store it before it gets a second name, its io lock held so no upload slips in. */
static int link_open(const char *fkey, size_t flen, const char *tkey, size_t tlen,
		     const struct kv_record *rec, struct kv_err *err)
{
	struct node *n = node_get(fkey, flen, rec, &(int){ 0 });
	int rc;

	if (n == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&n->io);
	rc = tk_flush_locked(n, "link", 0);
	if (rc == 0)
		rc = kv_store_link(tk_ctx()->store, fkey, flen, tkey, tlen, err);
	pthread_mutex_unlock(&n->io);
	node_put(n);
	return rc;
}

int tk_link(const char *from, const char *to)
{
	struct kv_record rec;
	struct kv_err err;
	size_t flen, tlen;
	const char *fkey = tk_key(from, &flen), *tkey = tk_key(to, &tlen);
	int created, rc = tk_new_name(tkey, tlen);

	err.code = 0;
	err.msg[0] = '\0';
	if (rc < 0)
		return rc;
	if (node_snapshot(fkey, flen, &rec, &created))
		rc = link_open(fkey, flen, tkey, tlen, &rec, &err);
	else
		rc = kv_store_link(tk_ctx()->store, fkey, flen, tkey, tlen, &err);
	if (rc < 0)
		return tk_errno(rc, &err, "link", from);
	tk_links_changed(tkey, tlen); /* from among them: its link count */
	return 0;
}

int tk_unlink_name(const char *path)
{
	struct tk_names nm;
	size_t klen;
	const char *key = tk_key(path, &klen);
	int rc;

	tk_names_of(key, klen, &nm); /* before: the name's record goes */
	rc = tk_unlink(path);
	tk_names_changed(&nm);
	return rc;
}

/* The name an open file's handle stands for now (path is NULL for calls by handle:
 * nullpath_ok), into key; 0 when there is none. */
static size_t handle_key(const char *path, struct fuse_file_info *fi, char *key)
{
	struct node *n = tk_file_of(fi);
	const char *k;
	size_t klen = 0;

	if (path != NULL) {
		k = tk_key(path, &klen);
		memcpy(key, k, klen);
	} else if (n != NULL) {
		pthread_mutex_lock(&n->lock);
		klen = n->state == NODE_UNLINKED || n->state == NODE_HIDDEN ? 0 : n->klen;
		memcpy(key, n->key, klen);
		pthread_mutex_unlock(&n->lock);
	}
	return klen;
}

int tk_flush_name(const char *path, struct fuse_file_info *fi)
{
	char key[KV_KEY_MAX + 1];
	size_t klen = handle_key(path, fi, key);
	int rc = tk_flush(path, fi);

	if (rc == 0 && klen > 0)
		tk_links_changed(key, klen);
	return rc;
}

int tk_release_name(const char *path, struct fuse_file_info *fi)
{
	char key[KV_KEY_MAX + 1];
	size_t klen = handle_key(path, fi, key);
	int rc = tk_release(path, fi);

	if (rc == 0 && klen > 0)
		tk_links_changed(key, klen);
	return rc;
}

int tk_fsync_name(const char *path, int datasync, struct fuse_file_info *fi)
{
	char key[KV_KEY_MAX + 1];
	size_t klen = handle_key(path, fi, key);
	int rc = tk_fsync(path, datasync, fi);

	if (rc == 0 && klen > 0)
		tk_links_changed(key, klen);
	return rc;
}

int tk_truncate_name(const char *path, off_t size, struct fuse_file_info *fi)
{
	char key[KV_KEY_MAX + 1];
	size_t klen = handle_key(path, fi, key);
	int rc = tk_truncate(path, size, fi);

	if (rc == 0 && klen > 0)
		tk_links_changed(key, klen);
	return rc;
}
