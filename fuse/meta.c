/* meta.c — the metadata callbacks: chmod, chown and utimens. An open file of this mount
 * keeps the change with its bytes while they wait for upload (tk_node_set_meta,
 * file_write.c); anything else has it stored at once. The other names of a hard-linked
 * file show it too (tk_links_changed).
 */
#include "fs.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "sys.h"

static int set_meta_of(const char *path, struct fuse_file_info *fi, const struct kv_meta *m,
		       const char *op)
{
	struct node *n = tk_file_of(fi);
	struct kv_record rec;
	struct kv_err err;
	size_t klen;
	const char *key;
	int created, fresh, rc;

	if (n != NULL)
		return tk_node_set_meta(n, m, op);
	if (path == NULL && fi != NULL && fi->fh != 0)
		path = ((struct dir_handle *)(uintptr_t)fi->fh)->key; /* fchmod of a dir */
	if (path == NULL)
		return -ENOENT;
	key = tk_key(path, &klen);
	if (node_snapshot(key, klen, &rec, &created)) {
		n = node_get(key, klen, &rec, &fresh);
		if (n == NULL)
			return -ENOMEM;
		rc = tk_node_set_meta(n, m, op);
		node_put(n);
		return rc;
	}
	rc = kv_store_setmeta(tk_ctx()->store, key, klen, m, &err);
	return rc < 0 ? tk_errno(rc, &err, op, path) : 0;
}

/* A change through one name of a linked file shows through the others at once. */
static int set_meta(const char *path, struct fuse_file_info *fi, const struct kv_meta *m,
		    const char *op)
{
	int rc = set_meta_of(path, fi, m, op);
	size_t klen;
	const char *key;

	if (rc == 0 && path != NULL) {
		key = tk_key(path, &klen);
		tk_links_changed(key, klen);
	}
	return rc;
}

int tk_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct kv_meta m = { .set_mode = 1, .mode = (uint32_t)(mode & 07777) };

	return set_meta(path, fi, &m, "chmod");
}

int tk_set_mode(const char *path, mode_t mode)
{
	return tk_chmod(path, mode, NULL);
}

int tk_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct kv_meta m = { .set_owner = 1, .uid = uid, .gid = gid };

	return set_meta(path, fi, &m, "chown");
}

int tk_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	int64_t now = kv_now_ns();
	struct kv_meta m;
	int i;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < 2; i++) {
		int64_t t;

		if (tv == NULL || tv[i].tv_nsec == UTIME_NOW)
			t = now;
		else if (tv[i].tv_nsec == UTIME_OMIT)
			continue;
		else
			t = (int64_t)tv[i].tv_sec * 1000000000 + tv[i].tv_nsec;
		if (i == 0) {
			m.set_atime = 1;
			m.atime_ns = t;
		} else {
			m.set_mtime = 1;
			m.mtime_ns = t;
		}
	}
	if (!m.set_atime && !m.set_mtime)
		return 0;
	return set_meta(path, fi, &m, "utimens");
}
