/* fs.h — what the FUSE callbacks share: fs.c (what every callback sits on), handles.c
 * (what fi->fh points at), spool.c (written bytes waiting, and their upload), file_read.c,
 * file_write.c, file_open.c (open and close), unlink.c (names going under open files),
 * sync.c (fsync of a directory, fallocate), links.c (hard links), meta.c (metadata),
 * xattr.c (attributes and ACLs), create.c (new files) and ops.c (names, directories, the
 * callback table), each file using only those listed before it. Private to them; main.c
 * uses ops.h.
 *
 * Every callback returns 0 (or a count) or a negative errno. Core errors already are
 * negative errnos; tk_errno is the one place that turns them into what the kernel sees.
 */
#ifndef TINYKV_FS_H
#define TINYKV_FS_H

#include <sys/types.h>

#include "node.h"
#include "ops.h"

/* --- fs.c --- */

/* The mount's settings and store (valid inside a callback). */
struct mount_ctx *tk_ctx(void);

/* rc (a core error, with err's message) as an errno for the kernel; logs shard trouble. */
int tk_errno(int rc, const struct kv_err *err, const char *op, const char *path);

/* The key a path names: path without its leading '/' ("" for the root). */
const char *tk_key(const char *path, size_t *klen);

/* The longest name (path component) the mount makes: NAME_MAX, as statfs says, and what
 * programs size their buffers for. Longer names stored through HTTP still open. */
#define TK_NAME_MAX 255

/* May key be made here (ENAMETOOLONG: its last name or the whole key too long)? */
int tk_new_name(const char *key, size_t klen);

/* What a key names: an open file of this mount, a stored key, or a directory. */
int tk_lookup(const char *key, size_t klen, struct kv_record *rec, struct kv_err *err);

/* Mode (less the umask) and owner for something the caller creates. */
struct kv_meta tk_caller_meta(mode_t mode);

/* The file node behind fi, or NULL (no handle, or a directory's). */
struct node *tk_file_of(const struct fuse_file_info *fi);

/* A hard-linked file's names are inodes of their own to the kernel (libfuse's
 * high-level API keeps a node per path), each with cached attributes and pages: after a
 * change through one name, the others' caches must go. The other names of key ("/name",
 * each NUL-terminated; none for a file with one name), taken before a change that may
 * remove key's record (unlink), or after it; then their caches dropped, the link count,
 * mode, owner and ctime of those open in this mount read again from the index, nm
 * freed. */
struct tk_names {
	char *buf;
	size_t len;
};
void tk_names_of(const char *key, size_t klen, struct tk_names *nm);
void tk_names_changed(struct tk_names *nm);
/* Both, after a change through key. */
void tk_links_changed(const char *key, size_t klen);

/* --- handles.c --- */

/* The node behind a file handle; a handle on n (whose reference it takes over) into fi,
 * created: the open made the file (so its close stores it, whatever the access mode);
 * closing it (drops the reference). handle_writable: does its close store the file?
 * handles_close_all: every handle still open, closed (the mount ends). */
struct node *node_of(const struct fuse_file_info *fi);
int handle_new(struct fuse_file_info *fi, struct node *n, int created);
void handle_free(struct fuse_file_info *fi);
int handle_writable(const struct fuse_file_info *fi);
void handles_close_all(void);

/* --- spool.c: callers hold n->io --- */

/* A new empty spool for n; a spool holding n's current value (empty when truncate); the
 * spool marked changed, size its new length. Return 0 or a core error. */
int spool_open(struct node *n, struct kv_err *err);
int spool_fill(struct node *n, int truncate, struct kv_err *err);
void spool_changed(struct node *n, uint64_t size);

/* A write of buf[0..len) at off, sent up as it comes when the file is being written in
 * order from empty: returns 1 (done: the caller marks it with spool_changed), or 0 (the
 * caller writes it to the spool, after spool_complete). */
int spool_send(struct node *n, const char *buf, size_t len, uint64_t off);

/* The spool made whole again when part of the file only went up (the upload given up):
 * before anything out of order. -EIO when such bytes were lost. */
int spool_complete(struct node *n, struct kv_err *err);

/* n cut or grown (with zeros) to size, in its spool. */
int spool_truncate(struct node *n, off_t size, struct kv_err *err);

/* Upload n if it is dirty; at_release: not again after a failure already reported. Caller
 * holds n->io (tk_flush_node takes it). Returns 0 or an errno for the kernel. */
int tk_flush_locked(struct node *n, const char *op, int at_release);
int tk_flush_node(struct node *n, const char *op, int at_release);

/* --- file_read.c --- */

int tk_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi);

/* --- file_write.c --- */

int tk_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi);
int tk_truncate(const char *path, off_t size, struct fuse_file_info *fi);

/* Change the metadata of an open file: kept with its bytes while they wait for upload,
 * else stored at once. Returns 0 or an errno for the kernel. */
int tk_node_set_meta(struct node *n, const struct kv_meta *m, const char *op);

/* --- file_open.c --- */

int tk_open(const char *path, struct fuse_file_info *fi);
int tk_flush(const char *path, struct fuse_file_info *fi);
int tk_fsync(const char *path, int datasync, struct fuse_file_info *fi);
int tk_release(const char *path, struct fuse_file_info *fi);

/* The .destroy callback: stores what files still open hold when the mount ends. */
void tk_destroy(void *data);

/* --- unlink.c --- */

int tk_unlink(const char *path);

/* key's stored value is about to be replaced (a rename onto it): handles open on it keep
 * reading that value whole, from a copy in their spool. */
void tk_keep_for_readers(const char *key, size_t klen);

/* libfuse hides the open file from (path: for messages) under the name as, because its
 * name goes: an unlink (the key is deleted now) or a rename onto it (which follows). The
 * handles keep the value and fstat works; as is never stored. */
int tk_hide(const char *from, size_t flen, const char *as, size_t alen, const char *path);

/* --- sync.c --- */

/* fsync of a directory: the index on disk (also with sync off). */
int tk_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi);

/* fallocate of an open file: mode 0 grows it with zeros to off + len; KEEP_SIZE has
 * nothing to reserve (0); holes and zero ranges: EOPNOTSUPP. */
int tk_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi);

/* --- links.c --- */

int tk_link(const char *from, const char *to);
/* The callbacks that change a file's names or bytes (tk_unlink, unlink.c; tk_flush,
 * tk_release, tk_fsync, file_open.c; tk_truncate, file_write.c), then dropping the
 * kernel's caches of its other names (tk_links_changed): what the callback table holds. */
int tk_unlink_name(const char *path);
int tk_flush_name(const char *path, struct fuse_file_info *fi);
int tk_release_name(const char *path, struct fuse_file_info *fi);
int tk_fsync_name(const char *path, int datasync, struct fuse_file_info *fi);
int tk_truncate_name(const char *path, off_t size, struct fuse_file_info *fi);

/* --- meta.c --- */

int tk_chmod(const char *path, mode_t mode, struct fuse_file_info *fi);
int tk_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi);
int tk_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi);

/* chmod of path (as the chmod callback does it), for a mode an ACL implies. */
int tk_set_mode(const char *path, mode_t mode);

/* --- xattr.c --- */

int tk_setxattr(const char *path, const char *name, const char *value, size_t size, int flags);
int tk_getxattr(const char *path, const char *name, char *value, size_t size);
int tk_listxattr(const char *path, char *list, size_t size);
int tk_removexattr(const char *path, const char *name);

/* From .init: ask for POSIX ACLs enforced by the kernel, the umask left to us. */
void tk_xattr_init(struct fuse_conn_info *conn);

/* After path was made with mode (as asked, before the umask): if its directory has a
 * default ACL, path gets it (an access ACL from it; a directory also as its default), and
 * the mode it implies. Returns 0 or an errno for the kernel. */
int tk_xattr_inherit(const char *path, mode_t mode, int is_dir);

/* --- create.c --- */

int tk_create(const char *path, mode_t mode, struct fuse_file_info *fi);
int tk_mknod(const char *path, mode_t mode, dev_t rdev);

/* After the core made path with mode (as asked, before the umask) and answered rc (err
 * its message): rc as an errno for the kernel, or, made, its directory's default ACL
 * inherited (tk_xattr_inherit). For every name made but regular files (tk_create). */
int tk_made(int rc, const struct kv_err *err, const char *op, const char *path, mode_t mode,
	    int is_dir);

/* --- ops.c --- */

/* Does key name one of libfuse's hiding places (.fuse_hidden and 16 hex digits)? A
 * rename of an open file onto such a name is taken for libfuse's hiding. */
int tk_hiding_name(const char *key, size_t klen);

#endif
