/* xattr.c — the mount's extended attributes and POSIX ACLs: the FUSE callbacks
 * setxattr, getxattr, listxattr and removexattr over core/xattr.h, and what makes the
 * kernel enforce ACLs (FUSE_CAP_POSIX_ACL) while the mount keeps the mode and the ACL in
 * step and gives new files their directory's default ACL.
 *
 * With FUSE_CAP_POSIX_ACL the kernel checks access against the ACL it reads through
 * getxattr (and caches), refuses trusted.* to callers without CAP_SYS_ADMIN, and passes
 * system.posix_acl_* through setxattr, leaving the rest to the file system (libfuse's
 * fuse_common.h): the mode after an ACL is set (here, tk_setxattr), the ACL after a
 * chmod (the core, kv_xattr_chmod_txn) and default ACLs (tk_xattr_inherit). With
 * FUSE_CAP_DONT_MASK the kernel leaves the umask to us, since it must not apply below a
 * directory with a default ACL; tk_caller_meta applies it everywhere else.
 *
 * Under -o noacl the caller carries KV_XATTR_NO_ACLS: the core refuses the two ACL names
 * with EOPNOTSUPP and leaves them out of lists, as ext4's noacl does: the kernel checks the mode bits alone, ACLs stored before stay in the
 * index unused, and ls -l, told once that ACLs are not supported, asks nothing per file.
 *
 * A file this mount created and has not stored yet is stored before its first attribute
 * (attributes belong to keys of the index). Callbacks run on libfuse's threads; nothing
 * here holds a lock of its own.
 */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "xattr.h"

static int caller(void)
{
	return (fuse_get_context()->uid == 0 ? KV_XATTR_PRIVILEGED : 0) |
	       (tk_ctx()->noacl ? KV_XATTR_NO_ACLS : 0);
}

/* If key is a file of this mount not stored yet, store it now (empty, or what it holds). */
static int store_first(const char *key, size_t klen)
{
	struct kv_record rec;
	struct node *n;
	int created = 0, fresh, rc;

	if (klen == 0 || !node_snapshot(key, klen, &rec, &created) || !created)
		return 0;
	n = node_get(key, klen, &rec, &fresh);
	if (n == NULL)
		return -ENOMEM;
	rc = fresh ? 0 : tk_flush_node(n, "setxattr", 0);
	(void)node_put(n);
	return rc;
}

/* After an access ACL was set or removed: the mode's permission bits say what it grants. */
static int mode_follows_acl(const char *path, const char *key, size_t klen, const void *acl,
			    size_t len)
{
	struct kv_record rec;
	struct kv_err err;
	uint32_t bits;
	int rc = tk_lookup(key, klen, &rec, &err);

	if (rc < 0)
		return tk_errno(rc, &err, "setxattr", path);
	if (kv_acl_mode(acl, len, &bits) < 0)
		return -EINVAL;
	if ((rec.mode & 0777) == bits)
		return 0;
	return tk_set_mode(path, (mode_t)((rec.mode & 07000) | bits));
}

int tk_setxattr(const char *path, const char *name, const char *value, size_t size, int flags)
{
	struct kv_err err;
	size_t klen;
	const char *key = tk_key(path, &klen);
	int rc = store_first(key, klen);

	if (rc < 0)
		return rc;
	rc = kv_store_setxattr(tk_ctx()->store, key, klen, name, caller(), value, size, flags,
			       &err);
	if (rc < 0)
		return tk_errno(rc, &err, "setxattr", path);
	tk_links_changed(key, klen); /* the other names' cached ACLs */
	if (strcmp(name, KV_ACL_ACCESS) == 0)
		return mode_follows_acl(path, key, klen, value, size);
	return 0;
}

int tk_getxattr(const char *path, const char *name, char *value, size_t size)
{
	struct kv_err err;
	size_t klen, len = 0;
	const char *key = tk_key(path, &klen);
	int rc = kv_store_getxattr(tk_ctx()->store, key, klen, name, caller(), value, size, &len,
				   &err);

	if (rc == -ENODATA || rc == -ERANGE || rc == -EOPNOTSUPP)
		return rc; /* the everyday answers: not worth a log line */
	if (rc < 0)
		return tk_errno(rc, &err, "getxattr", path);
	return len > (size_t)INT32_MAX ? -E2BIG : (int)len;
}

int tk_listxattr(const char *path, char *list, size_t size)
{
	struct kv_err err;
	size_t klen, len = 0;
	const char *key = tk_key(path, &klen);
	int rc = kv_store_listxattr(tk_ctx()->store, key, klen, caller(), list, size, &len, &err);

	if (rc == -ERANGE)
		return rc;
	if (rc < 0)
		return tk_errno(rc, &err, "listxattr", path);
	return (int)len;
}

int tk_removexattr(const char *path, const char *name)
{
	struct kv_err err;
	size_t klen;
	const char *key = tk_key(path, &klen);
	int rc = kv_store_removexattr(tk_ctx()->store, key, klen, name, caller(), &err);

	if (rc == -ENODATA || rc == -EOPNOTSUPP)
		return rc;
	if (rc < 0)
		return tk_errno(rc, &err, "removexattr", path);
	tk_links_changed(key, klen);
	return 0;
}

void tk_xattr_init(struct fuse_conn_info *conn)
{
	if (tk_ctx()->noacl)
		return; /* the kernel checks the mode bits and applies the umask */
	if ((conn->capable & FUSE_CAP_POSIX_ACL) && (conn->capable & FUSE_CAP_DONT_MASK))
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
}

/* The directory key's parent: its length in *plen ("" for the root). */
static void parent_of(const char *key, size_t klen, size_t *plen)
{
	const char *slash = memrchr(key, '/', klen);

	*plen = slash != NULL ? (size_t)(slash - key) : 0;
}

int tk_xattr_inherit(const char *path, mode_t mode, int is_dir)
{
	struct kv_store *s = tk_ctx()->store;
	size_t klen, plen, dlen = 0, alen = 0;
	const char *key = tk_key(path, &klen);
	uint32_t m = (uint32_t)(mode & 07777);
	char *dflt = NULL, *acl = NULL;
	struct kv_err err;
	int rc;

	if (tk_ctx()->noacl)
		return 0; /* no ACL is inherited: the kernel applied the umask */
	parent_of(key, klen, &plen);
	rc = kv_store_getxattr(s, key, plen, KV_ACL_DEFAULT, 0, NULL, 0, &dlen, &err);
	if (rc == -ENODATA)
		return 0; /* no default ACL: the umask applied (tk_caller_meta) */
	if (rc == 0) {
		dflt = malloc(dlen);
		acl = malloc(dlen);
		rc = dflt == NULL || acl == NULL ? -ENOMEM :
						   kv_store_getxattr(s, key, plen, KV_ACL_DEFAULT,
								     0, dflt, dlen, &dlen, &err);
	}
	if (rc == 0)
		rc = kv_acl_inherit(dflt, dlen, &m, acl, dlen, &alen);
	if (rc == 0)
		rc = store_first(key, klen);
	if (rc == 0 && is_dir)
		rc = kv_store_setxattr(s, key, klen, KV_ACL_DEFAULT, 0, dflt, dlen, 0, &err);
	if (rc == 0 && alen > 0)
		rc = kv_store_setxattr(s, key, klen, KV_ACL_ACCESS, 0, acl, alen, 0, &err);
	free(dflt);
	free(acl);
	if (rc < 0)
		return tk_errno(rc, &err, "inherit ACL", path);
	return tk_set_mode(path, (mode_t)m); /* what the ACL grants, no umask */
}
