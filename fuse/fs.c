/* fs.c — what every FUSE callback of the mount sits on (fs.h): the mount's settings, the
 * one mapping of core errors to errnos, keys of paths, the lookup that sees this mount's
 * open files before the index, the caller's mode and owner for what it creates, and a
 * hard-linked file's other names brought up to date when it changes (the kernel's caches
 * of them dropped, their open nodes' shared metadata read again).
 */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/* --- the other names of a hard-linked file --- */

static int add_name(const char *name, size_t nlen, void *arg)
{
	struct tk_names *nm = arg;
	char *grown = realloc(nm->buf, nm->len + nlen + 2);

	if (grown == NULL)
		return -ENOMEM;
	nm->buf = grown;
	nm->buf[nm->len++] = '/';
	memcpy(nm->buf + nm->len, name, nlen);
	nm->len += nlen;
	nm->buf[nm->len++] = '\0';
	return 0;
}

void tk_names_of(const char *key, size_t klen, struct tk_names *nm)
{
	nm->buf = NULL;
	nm->len = 0;
	(void)kv_store_other_names(tk_ctx()->store, key, klen, add_name, nm, NULL);
}

/* A name open in this mount shows its node's record (tk_lookup): what the names share
 * comes from the index again. Its size and times of its own bytes, if it has any not yet
 * stored, stay the node's. */
static void node_follow_names(const char *key, size_t klen)
{
	struct kv_record rec, now;
	struct node *n;
	int created, fresh;

	if (!node_snapshot(key, klen, &rec, &created) || created)
		return;
	n = node_get(key, klen, &rec, &fresh);
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->io);
	if (kv_store_get(tk_ctx()->store, key, klen, &now, NULL) == 0) {
		pthread_mutex_lock(&n->lock);
		n->rec.nlink = now.nlink;
		n->rec.mode = now.mode;
		n->rec.uid = now.uid;
		n->rec.gid = now.gid;
		n->rec.ctime_ns = now.ctime_ns;
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&n->io);
	(void)node_put(n);
}

void tk_names_changed(struct tk_names *nm)
{
	struct fuse *f = fuse_get_context()->fuse;
	size_t off, len;

	for (off = 0; off < nm->len; off += len + 1) {
		len = strlen(nm->buf + off);
		node_follow_names(nm->buf + off + 1, len - 1); /* "/name": key "name" */
		(void)fuse_invalidate_path(f, nm->buf + off);  /* -ENOENT: not cached */
	}
	free(nm->buf);
	nm->buf = NULL;
	nm->len = 0;
}

void tk_links_changed(const char *key, size_t klen)
{
	struct tk_names nm;

	tk_names_of(key, klen, &nm);
	tk_names_changed(&nm);
}
