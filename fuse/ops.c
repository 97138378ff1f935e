/* ops.c — FUSE callbacks for names and directories, and the table of every callback:
 * paths are keys ("/a/b" is key "a/b"). Attributes and listings come from the index, never
 * from a shard (only a rename copies values, in the core). Open files are file_open.c's
 * (their bytes: file_read.c, file_write.c, spool.c), unlink unlink.c's, hard links
 * links.c's, new files create.c's, chmod, chown and utimens meta.c's. Every callback
 * returns 0 or a negative errno; core errors already are negative errnos (tk_errno maps
 * the few that are not). See tinykv(8).
 */
#include "fs.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "node.h"
#include "sys.h"

static void ts(struct timespec *t, int64_t ns)
{
	t->tv_sec = (time_t)(ns / 1000000000);
	t->tv_nsec = (long)(ns % 1000000000);
	if (t->tv_nsec < 0) {
		t->tv_sec--;
		t->tv_nsec += 1000000000;
	}
}

/* The S_IF* bits of a special file's record type. */
static mode_t special_mode(uint8_t type)
{
	switch (type) {
	case KV_TYPE_FIFO: return S_IFIFO;
	case KV_TYPE_CHR: return S_IFCHR;
	case KV_TYPE_BLK: return S_IFBLK;
	default: return S_IFSOCK;
	}
}

/* Subdirectories counted for a directory's link count: each costs an index seek (about
 * 0.15 us of CPU) in every stat of the directory, and the kernel's lookups stat each
 * directory on a path again once its entry_timeout has passed. */
#define TK_LINKS_COUNTED 1000

/* A directory's links: its own name, its ".", and the ".." of each directory in it; 1
 * past TK_LINKS_COUNTED, which find(1) and fts(3) read as "not counted" (as on file
 * systems that keep no count). */
static nlink_t dir_links(const char *key, size_t klen)
{
	uint64_t subdirs = 0;

	if (kv_store_subdirs(tk_ctx()->store, key, klen, TK_LINKS_COUNTED, &subdirs, NULL) < 0)
		subdirs = 0; /* a count is no reason to fail a stat */
	return subdirs > TK_LINKS_COUNTED ? 1 : (nlink_t)(2 + subdirs);
}

/* A file's links: its names (hard links share one record, core/links.c). */
static nlink_t file_links(const struct kv_record *rec)
{
	return rec->nlink > 0 ? (nlink_t)rec->nlink : 1;
}

static void fill_stat(struct stat *st, const char *key, size_t klen, const struct kv_record *rec)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = (ino_t)kv_record_ino(rec, key, klen); /* kept across renames */
	st->st_uid = rec->uid;
	st->st_gid = rec->gid;
	st->st_size = (off_t)rec->size;
	st->st_blksize = 1 << 20; /* cp and friends copy in pieces of this size */
	st->st_blocks = (blkcnt_t)((rec->size + 511) / 512);
	ts(&st->st_mtim, rec->mtime_ns);
	ts(&st->st_ctim, rec->ctime_ns);
	ts(&st->st_atim, rec->atime_ns);
	switch (rec->type) {
	case KV_TYPE_DIR:
		st->st_mode = S_IFDIR | (rec->mode & 07777);
		st->st_nlink = dir_links(key, klen);
		st->st_size = 4096;
		st->st_blocks = 8;
		break;
	case KV_TYPE_LNK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = file_links(rec);
		break;
	case KV_TYPE_FIFO:
	case KV_TYPE_CHR:
	case KV_TYPE_BLK:
	case KV_TYPE_SOCK:
		st->st_mode = special_mode(rec->type) | (rec->mode & 07777);
		st->st_rdev = (dev_t)rec->rdev;
		st->st_nlink = file_links(rec);
		break;
	default:
		st->st_mode = S_IFREG | (rec->mode & 07777);
		st->st_nlink = file_links(rec);
		break;
	}
}

int tk_hiding_name(const char *key, size_t klen)
{
	static const char hidden[] = ".fuse_hidden"; /* then 16 hex digits (libfuse) */
	const size_t hlen = sizeof(hidden) - 1;
	const char *slash = memrchr(key, '/', klen), *name = slash != NULL ? slash + 1 : key;
	size_t nlen = klen - (size_t)(name - key), i;

	if (nlen != hlen + 16 || memcmp(name, hidden, hlen) != 0)
		return 0;
	for (i = hlen; i < nlen; i++)
		if (!isxdigit((unsigned char)name[i]))
			return 0;
	return 1;
}

static int tk_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct kv_record rec;
	struct kv_err err;
	size_t klen;
	const char *key;
	int rc;

	if (path == NULL && fi != NULL && fi->fh != 0 && tk_file_of(fi) == NULL) {
		struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;

		path = d->key; /* fstat of a directory: look it up by name */
	}
	if (tk_file_of(fi) != NULL) {
		struct node *n = tk_file_of(fi);

		pthread_mutex_lock(&n->lock);
		rec = n->rec;
		rec.size = n->size;
		fill_stat(st, n->key, n->klen, &rec);
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	if (path == NULL)
		return -ENOENT;
	key = tk_key(path, &klen);
	rc = tk_lookup(key, klen, &rec, &err);
	/* A name over NAME_MAX that is not there: POSIX's ENAMETOOLONG (a longer one PUT
	 * over HTTP is there, and opens). */
	if (rc == -ENOENT && tk_new_name(key, klen) < 0)
		return -ENAMETOOLONG;
	if (rc < 0)
		return rc == -ENOENT ? rc : tk_errno(rc, &err, "getattr", path);
	fill_stat(st, key, klen, &rec);
	return 0;
}

static int tk_readlink(const char *path, char *buf, size_t size)
{
	struct kv_record rec;
	struct kv_err err;
	size_t klen, n;
	const char *key = tk_key(path, &klen);
	int rc = kv_store_get(tk_ctx()->store, key, klen, &rec, &err);

	if (rc < 0)
		return rc == -ENOENT ? rc : tk_errno(rc, &err, "readlink", path);
	if (rec.type != KV_TYPE_LNK)
		return -EINVAL;
	n = rec.target_len < size - 1 ? rec.target_len : size - 1;
	memcpy(buf, rec.target, n);
	buf[n] = '\0';
	return 0;
}

/* One readdir call's state. Entries carry offsets (the position after them), which is what
 * lets libfuse hand the kernel each entry's attributes with its name (readdirplus): the
 * kernel then needs no lookup per file, so `ls -l` of a big directory is one request per
 * buffer full. */
struct dir_fill {
	void *buf;
	fuse_fill_dir_t filler;
	struct dir_handle *d;
	int plus;
	off_t skip;	     /* a seek back: entries before this offset are not given */
	size_t created_seen; /* new files of this mount met in this call */
	int full;
};

/* Give one entry; returns 1 (and gives nothing) when the kernel's buffer is full. */
static int fill_one(struct dir_fill *f, const char *name, size_t nlen, const struct kv_record *rec)
{
	char nm[KV_KEY_MAX + 1], key[2 * KV_KEY_MAX + 2];
	struct dir_handle *d = f->d;
	struct stat st;
	size_t klen = 0;

	if (d->next < f->skip) {
		d->next++;
		return 0;
	}
	memcpy(nm, name, nlen);
	nm[nlen] = '\0';
	if (d->klen > 0) {
		memcpy(key, d->key, d->klen);
		key[d->klen] = '/';
		klen = d->klen + 1;
	}
	memcpy(key + klen, name, nlen);
	klen += nlen;
	fill_stat(&st, key, klen, rec);
	if (f->filler(f->buf, nm, &st, d->next + 1, f->plus ? FUSE_FILL_DIR_PLUS : 0) != 0) {
		f->full = 1;
		return 1;
	}
	d->next++;
	return 0;
}

static int dirent_cb(const char *name, size_t nlen, const struct kv_record *rec, void *arg)
{
	return fill_one(arg, name, nlen, rec);
}

static void created_cb(const char *name, size_t nlen, const struct kv_record *rec, void *arg)
{
	struct dir_fill *f = arg;

	if (f->full || f->created_seen++ < f->d->created_given)
		return; /* the buffer is full, or given in an earlier call */
	if (fill_one(f, name, nlen, rec) == 0)
		f->d->created_given++;
}

static int tk_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;
	struct dir_fill f = { buf, filler, d, (flags & FUSE_READDIR_PLUS) != 0, 0, 0, 0 };
	struct kv_err err;
	int rc;

	if (off != d->next || off == 0) { /* the start, or a seek: list from the top */
		memset(&d->pos, 0, sizeof(d->pos));
		d->next = 0;
		d->created_given = 0;
		f.skip = off;
	}
	if (d->next == 0) {
		if (filler(buf, ".", NULL, 1, 0) != 0)
			return 0;
		d->next = 1;
	}
	if (d->next == 1) {
		if (filler(buf, "..", NULL, 2, 0) != 0)
			return 0;
		d->next = 2;
	}
	if (!d->pos.done) {
		rc = kv_store_readdir(tk_ctx()->store, d->key, d->klen, &d->pos, dirent_cb, &f,
				      &err);
		if (rc < 0)
			return tk_errno(rc, &err, "readdir", path != NULL ? path : d->key);
	}
	if (d->pos.done && !f.full) /* new files of this mount still being written */
		node_each_created_in(d->key, d->klen, created_cb, &f);
	return 0;
}

static int tk_opendir(const char *path, struct fuse_file_info *fi)
{
	struct dir_handle *d = calloc(1, sizeof(*d));
	const char *key;

	if (d == NULL)
		return -ENOMEM;
	key = tk_key(path, &d->klen);
	if (d->klen > KV_KEY_MAX) {
		free(d);
		return -ENAMETOOLONG;
	}
	d->kind = HANDLE_DIR;
	memcpy(d->key, key, d->klen);
	fi->fh = (uint64_t)(uintptr_t)d;
	return 0;
}

static int tk_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	free((struct dir_handle *)(uintptr_t)fi->fh);
	return 0;
}

static int tk_mkdir(const char *path, mode_t mode)
{
	struct kv_meta m = tk_caller_meta(mode);
	struct kv_err err;
	size_t klen;
	const char *key = tk_key(path, &klen);
	int rc = tk_new_name(key, klen);

	if (rc == 0)
		rc = kv_store_mkdir(tk_ctx()->store, key, klen, &m, &err);
	return tk_made(rc, &err, "mkdir", path, mode, 1);
}

/* Does a directory hold files of this mount not stored yet (so it is not empty)? */
static int has_open_files(const char *dir, size_t dlen)
{
	struct node **v;
	int count = node_grab_under(dir, dlen, &v), i;

	for (i = 0; i < count; i++)
		node_put(v[i]);
	free(v);
	return count != 0;
}

static int tk_rmdir(const char *path)
{
	struct kv_err err;
	size_t klen;
	const char *key = tk_key(path, &klen);
	int rc;

	if (klen > 0 && has_open_files(key, klen))
		return -ENOTEMPTY; /* a new file inside, not stored yet */
	rc = kv_store_rmdir(tk_ctx()->store, key, klen, &err);
	return rc < 0 ? tk_errno(rc, &err, "rmdir", path) : 0;
}

static int tk_symlink(const char *target, const char *path)
{
	struct kv_meta m = tk_caller_meta(0777);
	struct kv_err err;
	size_t klen;
	const char *key = tk_key(path, &klen);
	int rc = tk_new_name(key, klen);

	if (rc == 0)
		rc = kv_store_symlink(tk_ctx()->store, key, klen, target, &m, &err);
	return rc < 0 ? tk_errno(rc, &err, "symlink", path) : 0;
}

/* Files open beneath a directory about to be renamed: stored first (the rename moves what
 * the index holds), and checked to fit under their new name. */
static int flush_tree(const char *dir, size_t dlen, size_t tlen)
{
	struct node **v;
	int count = node_grab_under(dir, dlen, &v), i, rc = 0;

	if (count < 0)
		return count;
	for (i = 0; i < count; i++) {
		size_t klen;

		pthread_mutex_lock(&v[i]->lock);
		klen = v[i]->klen;
		pthread_mutex_unlock(&v[i]->lock);
		if (rc == 0 && klen - dlen + tlen > KV_KEY_MAX)
			rc = -ENAMETOOLONG;
		if (rc == 0)
			rc = tk_flush_node(v[i], "rename", 0);
		node_put(v[i]);
	}
	free(v);
	return rc;
}

/* Rename an open file: stored first, then renamed, its io lock held throughout so that
 * no upload under the old name slips in between. */
static int rename_open(const char *fkey, size_t flen, const char *tkey, size_t tlen,
		       const struct kv_record *rec, unsigned int flags)
{
	struct kv_err err;
	struct node *n = node_get(fkey, flen, rec, &(int){ 0 });
	int rc;

	if (n == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&n->io);
	rc = tk_flush_locked(n, "rename", 0);
	if (rc == 0) {
		rc = kv_store_rename(tk_ctx()->store, fkey, flen, tkey, tlen, flags, &err);
		if (rc < 0)
			rc = tk_errno(rc, &err, "rename", fkey);
	}
	if (rc == 0) {
		node_unlinked(tkey, tlen);
		node_rename(fkey, flen, tkey, tlen);
	}
	pthread_mutex_unlock(&n->io);
	node_put(n);
	return rc;
}

static int tk_rename(const char *from, const char *to, unsigned int flags)
{
	struct kv_record rec;
	struct kv_err err;
	size_t flen, tlen;
	const char *fkey = tk_key(from, &flen), *tkey = tk_key(to, &tlen);
	unsigned int kflags = (flags & RENAME_NOREPLACE) ? KV_RENAME_NOREPLACE : 0;
	int created, rc;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL; /* no atomic swap of two keys */
	/* libfuse hiding an open file whose name goes (fs.h) */
	if (tk_hiding_name(tkey, tlen) && node_snapshot(fkey, flen, &rec, &created))
		return tk_hide(fkey, flen, tkey, tlen, from);
	if (tk_new_name(tkey, tlen) < 0)
		return -ENAMETOOLONG;
	if (flen != tlen || memcmp(fkey, tkey, flen) != 0)
		tk_keep_for_readers(tkey, tlen); /* readers of the old value read on */
	if (node_snapshot(fkey, flen, &rec, &created))
		return rename_open(fkey, flen, tkey, tlen, &rec, kflags);
	if (flen > 0 && tlen > 0) {
		/* Perhaps a directory: what is open beneath it moves with it. */
		rc = flush_tree(fkey, flen, tlen);
		if (rc == 0 && has_open_files(tkey, tlen))
			rc = -ENOTEMPTY;
		if (rc < 0)
			return rc;
	}
	rc = kv_store_rename(tk_ctx()->store, fkey, flen, tkey, tlen, kflags, &err);
	if (rc < 0)
		return tk_errno(rc, &err, "rename", from);
	node_unlinked(tkey, tlen);
	node_rename_tree(fkey, flen, tkey, tlen);
	return 0;
}

static int tk_statfs(const char *path, struct statvfs *sv)
{
	struct kv_statfs st;
	struct kv_err err;
	const unsigned long bs = 4096;
	int rc = kv_store_statfs(tk_ctx()->store, &st, &err);

	(void)path;
	if (rc < 0)
		return tk_errno(rc, &err, "statfs", "/");
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = bs;
	sv->f_frsize = bs;
	/* Used: the bytes of every value; available: what the spool (every upload passes
	 * through it) can still take. */
	sv->f_bfree = st.free_bytes / bs;
	sv->f_bavail = sv->f_bfree;
	sv->f_blocks = (st.bytes + bs - 1) / bs + sv->f_bfree;
	sv->f_files = st.keys + st.dirs + 1000000;
	sv->f_ffree = 1000000;
	sv->f_favail = sv->f_ffree;
	sv->f_namemax = TK_NAME_MAX;
	return 0;
}

static void *tk_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct mount_ctx *c = tk_ctx();

	cfg->use_ino = 1; /* st_ino is the record's (kv_record_ino) */
	cfg->nullpath_ok = 1;
	cfg->hard_remove = 0; /* .fuse_hidden names keep fstat working on a removed
					 * open file; they never become keys (tk_hide) */
	cfg->attr_timeout = c->cfg->attr_timeout;
	cfg->entry_timeout = c->cfg->entry_timeout;
	cfg->negative_timeout = 0; /* a key PUT through HTTP shows at once */
	/* The kernel clears set-user-ID and set-group-ID on truncate, chown and cached writes
	 * by Linux's rules (it knows who holds CAP_FSETID; a callback does not), unless the
	 * file system claims the job: never (libfuse documents the claim as its default).
	 * Writes that bypass the cache do it in file_write.c. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
	tk_xattr_init(conn);
	return c;
}

const struct fuse_operations tinykv_ops = {
	.init = tk_init,
	.destroy = tk_destroy,
	.getattr = tk_getattr,
	.readlink = tk_readlink,
	.opendir = tk_opendir,
	.readdir = tk_readdir,
	.releasedir = tk_releasedir,
	.mkdir = tk_mkdir,
	.rmdir = tk_rmdir,
	.unlink = tk_unlink_name,
	.symlink = tk_symlink,
	.link = tk_link,
	.mknod = tk_mknod,
	.rename = tk_rename,
	.open = tk_open,
	.create = tk_create,
	.read = tk_read,
	.write = tk_write,
	.truncate = tk_truncate_name,
	.flush = tk_flush_name,
	.fsync = tk_fsync_name,
	.fsyncdir = tk_fsyncdir,
	.fallocate = tk_fallocate,
	.release = tk_release_name,
	.chmod = tk_chmod,
	.chown = tk_chown,
	.utimens = tk_utimens,
	.statfs = tk_statfs,
	.setxattr = tk_setxattr,
	.getxattr = tk_getxattr,
	.listxattr = tk_listxattr,
	.removexattr = tk_removexattr,
};
