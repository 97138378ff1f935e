/* fs.c — what every FUSE callback of the mount sits on (fs.h): the mount's settings, the
 * one mapping of core errors to errnos, keys of paths, the lookup that sees this mount's
 * open files before the index, and the caller's mode and owner for what it creates.
 */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

struct mount_ctx *tk_ctx(void)
{
	return fuse_get_context()->private_data;
}

/* The one mapping of core errors to what the kernel may see. */
int tk_errno(int rc, const struct kv_err *err, const char *op, const char *path)
{
	if (rc == -KV_ECORRUPT || rc == -EILSEQ || rc < -4095)
		rc = -EIO;
	if (rc == -EIO || rc == -ETIMEDOUT || rc == -ENOSPC || rc == -EBUSY)
		syslog(LOG_WARNING, "%s %s: %s", op, path, err != NULL ? err->msg : "");
	if (tk_ctx()->debug && err != NULL)
		fprintf(stderr, "tinykv: %s %s: %s\n", op, path, err->msg);
	return rc;
}

const char *tk_key(const char *path, size_t *klen)
{
	while (*path == '/')
		path++;
	*klen = strlen(path);
	return path;
}

int tk_new_name(const char *key, size_t klen)
{
	const char *slash = memrchr(key, '/', klen);
	size_t nlen = slash != NULL ? klen - (size_t)(slash + 1 - key) : klen;

	return klen > KV_KEY_MAX || nlen > TK_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* What path names: a file this mount is writing, a key, or a directory. */
int tk_lookup(const char *key, size_t klen, struct kv_record *rec, struct kv_err *err)
{
	int rc;

	if (klen > KV_KEY_MAX)
		return kv_err_set(err, -ENAMETOOLONG, "name too long");
	if (klen > 0 && node_local(key, klen, rec))
		return 0;
	rc = klen > 0 ? kv_store_get(tk_ctx()->store, key, klen, rec, err) : -ENOENT;
	if (rc == -ENOENT)
		rc = kv_store_dir_get(tk_ctx()->store, key, klen, rec, err);
	return rc;
}

/* The file node behind fi, or NULL (no handle, or a directory's). */
struct node *tk_file_of(const struct fuse_file_info *fi)
{
	const struct open_file *h = fi != NULL ? (void *)(uintptr_t)fi->fh : NULL;

	return h != NULL && h->kind == HANDLE_FILE ? h->node : NULL;
}

struct kv_meta tk_caller_meta(mode_t mode)
{
	struct fuse_context *fc = fuse_get_context();
	struct kv_meta m;

	memset(&m, 0, sizeof(m));
	m.set_mode = 1;
	m.mode = (uint32_t)(mode & ~fc->umask & 07777);
	m.set_owner = 1;
	m.uid = fc->uid;
	m.gid = fc->gid;
	return m;
}
