/* ops.c — FUSE callbacks: paths are keys ("/a/b" is key "a/b"), metadata comes from the
 * index, reads stream from a replica with read-ahead, writes are spooled and uploaded at
 * flush/fsync/close. Every callback returns 0 or a negative errno; core errors already
 * are negative errnos (errno_of maps the few that are not). See tinykv(8).
 */
#include "ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "hash.h"
#include "node.h"
#include "sys.h"

#define RA_MIN (128 * 1024)
#define RA_MAX (8 * 1024 * 1024)

static struct mount_ctx *ctx(void)
{
	return fuse_get_context()->private_data;
}

/* The one mapping of core errors to what the kernel may see. */
static int errno_of(int rc, const struct kv_err *err, const char *op, const char *path)
{
	if (rc == -KV_ECORRUPT || rc == -EILSEQ || rc < -4095)
		rc = -EIO;
	if (rc == -EIO || rc == -ETIMEDOUT || rc == -ENOSPC || rc == -EBUSY)
		syslog(LOG_WARNING, "%s %s: %s", op, path, err != NULL ? err->msg : "");
	if (ctx()->debug && err != NULL)
		fprintf(stderr, "tinykv: %s %s: %s\n", op, path, err->msg);
	return rc;
}

static const char *key_of(const char *path, size_t *klen)
{
	while (*path == '/')
		path++;
	*klen = strlen(path);
	return path;
}

static ino_t ino_of(const char *key, size_t klen)
{
	uint8_t md[KV_MD5_LEN];
	ino_t ino = 0;
	int i;

	if (klen == 0)
		return 1;
	kv_md5(key, klen, md);
	for (i = 0; i < 8; i++)
		ino = ino << 8 | md[i];
	return ino > 1 ? ino : ino + 2;
}

static void ts(struct timespec *t, int64_t ns)
{
	t->tv_sec = (time_t)(ns / 1000000000);
	t->tv_nsec = (long)(ns % 1000000000);
	if (t->tv_nsec < 0) {
		t->tv_sec--;
		t->tv_nsec += 1000000000;
	}
}

static void fill_stat(struct stat *st, const char *key, size_t klen, const struct kv_record *rec)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino_of(key, klen);
	st->st_uid = rec->uid;
	st->st_gid = rec->gid;
	st->st_size = (off_t)rec->size;
	st->st_blksize = 1 << 20;	/* cp and friends copy in pieces of this size */
	st->st_blocks = (blkcnt_t)((rec->size + 511) / 512);
	ts(&st->st_mtim, rec->mtime_ns);
	ts(&st->st_ctim, rec->ctime_ns);
	ts(&st->st_atim, rec->atime_ns);
	switch (rec->type) {
	case KV_TYPE_DIR:
		st->st_mode = S_IFDIR | (rec->mode & 07777);
		st->st_nlink = 2;
		st->st_size = 4096;
		st->st_blocks = 8;
		break;
	case KV_TYPE_LNK:
		st->st_mode = S_IFLNK | 0777;
		st->st_nlink = 1;
		break;
	default:
		st->st_mode = S_IFREG | (rec->mode & 07777);
		st->st_nlink = 1;
		break;
	}
}

/* What path names: an open node, a key, or a directory. */
static int lookup(const char *key, size_t klen, struct kv_record *rec, struct kv_err *err)
{
	int created, rc;

	if (klen > KV_KEY_MAX)
		return kv_err_set(err, -ENAMETOOLONG, "name too long");
	if (klen > 0 && node_snapshot(key, klen, rec, &created))
		return 0;
	rc = klen > 0 ? kv_store_get(ctx()->store, key, klen, rec, err) : -ENOENT;
	if (rc == -ENOENT)
		rc = kv_store_dir_get(ctx()->store, key, klen, rec, err);
	return rc;
}

/* The file node behind fi, or NULL (no handle, or a directory's). */
static struct node *file_of(const struct fuse_file_info *fi)
{
	struct node *n = fi != NULL ? (struct node *)(uintptr_t)fi->fh : NULL;

	return n != NULL && n->kind == HANDLE_FILE ? n : NULL;
}

/* The node of a handle the kernel only ever gives for files (read, write, flush ...). */
static struct node *node_of(const struct fuse_file_info *fi)
{
	return (struct node *)(uintptr_t)fi->fh;
}

static int tk_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct kv_record rec;
	struct kv_err err;
	size_t klen;
	const char *key;
	int rc;

	if (path == NULL && fi != NULL && file_of(fi) == NULL) {
		struct dir_handle *d = (struct dir_handle *)(uintptr_t)fi->fh;

		path = d->key;	/* fstat of a directory: look it up by name */
	}
	if (file_of(fi) != NULL) {
		struct node *n = node_of(fi);

		pthread_mutex_lock(&n->lock);
		rec = n->rec;
		rec.size = n->size;
		fill_stat(st, n->key, n->klen, &rec);
		pthread_mutex_unlock(&n->lock);
		return 0;
	}
	if (path == NULL)
		return -ENOENT;
	key = key_of(path, &klen);
	rc = lookup(key, klen, &rec, &err);
	if (rc < 0)
		return rc == -ENOENT ? rc : errno_of(rc, &err, "getattr", path);
	fill_stat(st, key, klen, &rec);
	return 0;
}

static int tk_readlink(const char *path, char *buf, size_t size)
{
	struct kv_record rec;
	struct kv_err err;
	size_t klen, n;
	const char *key = key_of(path, &klen);
	int rc = kv_store_get(ctx()->store, key, klen, &rec, &err);

	if (rc < 0)
		return rc == -ENOENT ? rc : errno_of(rc, &err, "readlink", path);
	if (rec.type != KV_TYPE_LNK)
		return -EINVAL;
	n = rec.target_len < size - 1 ? rec.target_len : size - 1;
	memcpy(buf, rec.target, n);
	buf[n] = '\0';
	return 0;
}

struct dir_fill {
	void *buf;
	fuse_fill_dir_t filler;
	const char *dir;
	size_t dlen;
	int plus;
	int full;
};

static void fill_one(struct dir_fill *f, const char *name, size_t nlen,
		     const struct kv_record *rec)
{
	char nm[KV_KEY_MAX + 1], key[2 * KV_KEY_MAX + 2];
	struct stat st;
	size_t klen = 0;

	if (f->full)
		return;
	memcpy(nm, name, nlen);
	nm[nlen] = '\0';
	if (f->dlen > 0) {
		memcpy(key, f->dir, f->dlen);
		key[f->dlen] = '/';
		klen = f->dlen + 1;
	}
	memcpy(key + klen, name, nlen);
	klen += nlen;
	fill_stat(&st, key, klen, rec);
	if (f->filler(f->buf, nm, &st, 0, f->plus ? FUSE_FILL_DIR_PLUS : 0) != 0)
		f->full = 1;
}

static int dirent_cb(const char *name, size_t nlen, const struct kv_record *rec, void *arg)
{
	struct dir_fill *f = arg;

	fill_one(f, name, nlen, rec);
	return f->full;
}

static void created_cb(const char *name, size_t nlen, const struct kv_record *rec, void *arg)
{
	fill_one(arg, name, nlen, rec);
}

static int tk_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct dir_fill f = { buf, filler, NULL, 0, (flags & FUSE_READDIR_PLUS) != 0, 0 };
	struct kv_err err;
	int rc;

	(void)off;
	(void)path;
	f.dir = ((struct dir_handle *)(uintptr_t)fi->fh)->key;
	f.dlen = ((struct dir_handle *)(uintptr_t)fi->fh)->klen;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	rc = kv_store_readdir(ctx()->store, f.dir, f.dlen, dirent_cb, &f, &err);
	if (rc < 0)
		return errno_of(rc, &err, "readdir", path);
	/* new files of this mount that are still being written */
	node_each_created_in(f.dir, f.dlen, created_cb, &f);
	return 0;
}

static int tk_opendir(const char *path, struct fuse_file_info *fi)
{
	struct dir_handle *d = calloc(1, sizeof(*d));
	const char *key;

	if (d == NULL)
		return -ENOMEM;
	key = key_of(path, &d->klen);
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

static struct kv_meta caller_meta(mode_t mode)
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

static int tk_mkdir(const char *path, mode_t mode)
{
	struct kv_meta m = caller_meta(mode);
	struct kv_err err;
	size_t klen;
	const char *key = key_of(path, &klen);
	int rc = kv_store_mkdir(ctx()->store, key, klen, &m, &err);

	return rc < 0 ? errno_of(rc, &err, "mkdir", path) : 0;
}

static int tk_rmdir(const char *path)
{
	struct kv_err err;
	size_t klen;
	const char *key = key_of(path, &klen);
	int rc = kv_store_rmdir(ctx()->store, key, klen, &err);

	return rc < 0 ? errno_of(rc, &err, "rmdir", path) : 0;
}

static int tk_unlink(const char *path)
{
	struct kv_record rec;
	struct kv_err err;
	size_t klen;
	const char *key = key_of(path, &klen);
	int created = 0, rc;

	if (node_snapshot(key, klen, &rec, &created) && created) {
		node_unlinked(key, klen);	/* never uploaded: nothing else to remove */
		return 0;
	}
	rc = kv_store_delete(ctx()->store, key, klen, &err);
	if (rc == 0)
		node_unlinked(key, klen);
	return rc < 0 ? errno_of(rc, &err, "unlink", path) : 0;
}

static int tk_symlink(const char *target, const char *path)
{
	struct kv_meta m = caller_meta(0777);
	struct kv_err err;
	size_t klen;
	const char *key = key_of(path, &klen);
	int rc = kv_store_symlink(ctx()->store, key, klen, target, &m, &err);

	return rc < 0 ? errno_of(rc, &err, "symlink", path) : 0;
}

static int tk_link(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EPERM;	/* a value has exactly one key */
}

static int tk_mknod(const char *path, mode_t mode, dev_t rdev);

/* --- spooled writes --- */

static int spool_open(struct node *n, struct kv_err *err)
{
	const char *dir = ctx()->cfg->cache;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0 && (errno == ENOENT || errno == EISDIR) && kv_mkdir_p(dir, 0700) == 0)
		fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return kv_err_set(err, -errno, "spool in %s: %s", dir, strerror(errno));
	n->spool_fd = fd;
	return 0;
}

/* Give n a spool holding its current value (empty when truncate). Caller holds n->lock. */
static int spool_fill(struct node *n, int truncate, struct kv_err *err)
{
	int rc;

	if (n->spool_fd >= 0)
		return truncate && ftruncate(n->spool_fd, 0) < 0 ? -errno : 0;
	rc = spool_open(n, err);
	if (rc < 0 || truncate || n->created || n->rec.size == 0)
		return rc;
	rc = kv_store_fetch_fd(ctx()->store, n->key, n->klen, &n->rec, n->spool_fd, err);
	if (rc < 0) {
		(void)close(n->spool_fd);
		n->spool_fd = -1;
	}
	return rc;
}

/* Upload a dirty node. Caller holds n->lock. */
static int upload(struct node *n, struct kv_err *err)
{
	struct kv_record rec;
	int rc;

	if (!n->dirty || n->unlinked)
		return 0;
	rc = kv_store_put_fd(ctx()->store, n->key, n->klen, n->spool_fd, (int64_t)n->size, 0,
			     &n->meta, &rec, err);
	if (rc < 0)
		return rc;
	n->rec = rec;
	n->dirty = 0;
	n->created = 0;
	memset(&n->meta, 0, sizeof(n->meta));
	return 0;
}

static int tk_open(const char *path, struct fuse_file_info *fi)
{
	struct kv_record rec;
	struct kv_err err;
	struct node *n;
	size_t klen;
	const char *key = key_of(path, &klen);
	int fresh, rc = lookup(key, klen, &rec, &err);

	if (rc < 0)
		return rc == -ENOENT ? rc : errno_of(rc, &err, "open", path);
	if (rec.type == KV_TYPE_DIR)
		return -EISDIR;
	n = node_get(key, klen, &rec, &fresh);
	if (n == NULL)
		return -ENOMEM;
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		pthread_mutex_lock(&n->lock);
		rc = spool_fill(n, (fi->flags & O_TRUNC) != 0, &err);
		if (rc == 0 && (fi->flags & O_TRUNC) && n->size > 0) {
			n->size = 0;
			n->dirty = 1;
		}
		pthread_mutex_unlock(&n->lock);
		if (rc < 0) {
			node_put(n);
			return errno_of(rc, &err, "open", path);
		}
	}
	fi->fh = (uint64_t)(uintptr_t)n;
	return 0;
}

static int tk_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct kv_meta m = caller_meta(mode);
	struct kv_record rec;
	struct kv_err err;
	struct node *n;
	size_t klen;
	const char *key = key_of(path, &klen);
	int fresh, rc = kv_key_check(key, klen, &err);

	if (rc < 0)
		return rc;
	kv_record_new(&rec, KV_TYPE_REG, &m);
	n = node_get(key, klen, &rec, &fresh);
	if (n == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&n->lock);
	if (fresh) {
		n->created = 1;
		n->dirty = 1;
		n->meta = m;
		rc = spool_open(n, &err);
	} else {
		rc = spool_fill(n, 1, &err);	/* raced with another creator: O_TRUNC it */
		n->size = 0;
		n->dirty = 1;
	}
	pthread_mutex_unlock(&n->lock);
	if (rc < 0) {
		node_put(n);
		return errno_of(rc, &err, "create", path);
	}
	fi->fh = (uint64_t)(uintptr_t)n;
	return 0;
}

static int tk_mknod(const char *path, mode_t mode, dev_t rdev)
{
	struct fuse_file_info fi;
	int rc;

	(void)rdev;
	if (!S_ISREG(mode))
		return -EPERM;	/* only values exist here: no devices, FIFOs or sockets */
	memset(&fi, 0, sizeof(fi));
	fi.flags = O_WRONLY | O_CREAT;
	rc = tk_create(path, mode, &fi);
	if (rc == 0) {
		struct node *n = (struct node *)(uintptr_t)fi.fh;
		struct kv_err err;

		pthread_mutex_lock(&n->lock);
		rc = upload(n, &err);
		pthread_mutex_unlock(&n->lock);
		node_put(n);
		if (rc < 0)
			rc = errno_of(rc, &err, "mknod", path);
	}
	return rc;
}

/* Read from the shards through a window that grows while reads are sequential.
 * Caller holds n->lock. */
static int read_remote(struct node *n, char *buf, size_t size, off_t off, struct kv_err *err)
{
	size_t got = 0, window;
	int rc;

	if ((uint64_t)off >= n->rec.size)
		return 0;
	if (off >= n->ra_off && (uint64_t)off + size <= (uint64_t)n->ra_off + n->ra_len) {
		memcpy(buf, n->ra + (off - n->ra_off), size);
		return (int)size;
	}
	if (off == n->ra_off + (off_t)n->ra_len && n->ra_len > 0)
		n->ra_next = n->ra_next * 2 > RA_MAX ? RA_MAX : n->ra_next * 2;
	else
		n->ra_next = RA_MIN;
	window = n->ra_next > size ? n->ra_next : size;
	if (window > n->ra_cap) {
		char *p = realloc(n->ra, window);

		if (p == NULL)
			return -ENOMEM;
		n->ra = p;
		n->ra_cap = window;
	}
	rc = kv_store_read(ctx()->store, n->key, n->klen, &n->rec, off, n->ra, window, &got, err);
	if (rc < 0) {
		n->ra_len = 0;
		return rc;
	}
	n->ra_off = off;
	n->ra_len = got;
	if (got > size)
		got = size;
	memcpy(buf, n->ra, got);
	return (int)got;
}

static int tk_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct node *n = node_of(fi);
	struct kv_err err;
	int rc;

	pthread_mutex_lock(&n->lock);
	if (n->spool_fd >= 0) {
		ssize_t r = pread(n->spool_fd, buf, size, off);

		rc = r < 0 ? -errno : (int)r;
	} else {
		rc = read_remote(n, buf, size, off, &err);
		if (rc < 0)
			rc = errno_of(rc, &err, "read", path != NULL ? path : n->key);
	}
	pthread_mutex_unlock(&n->lock);
	return rc == -ENOENT ? -EIO : rc;	/* the value vanished under an open file */
}

static int tk_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct node *n = node_of(fi);
	struct kv_err err;
	ssize_t w;
	int rc = 0;

	(void)path;
	if ((uint64_t)off + size > ctx()->cfg->max_size)
		return -EFBIG;
	pthread_mutex_lock(&n->lock);
	if (n->spool_fd < 0)
		rc = spool_fill(n, 0, &err);	/* a read-only open became writable (mmap) */
	if (rc == 0) {
		w = pwrite(n->spool_fd, buf, size, off);
		if (w < 0) {
			rc = -errno;
		} else {
			rc = (int)w;
			n->dirty = 1;
			n->meta.set_mtime = 0;	/* writes after utimens: the time is now */
			if ((uint64_t)off + (uint64_t)w > n->size)
				n->size = (uint64_t)off + (uint64_t)w;
			n->rec.mtime_ns = kv_now_ns();
		}
	} else {
		rc = errno_of(rc, &err, "write", n->key);
	}
	pthread_mutex_unlock(&n->lock);
	return rc;
}

static int truncate_node(struct node *n, off_t size, struct kv_err *err)
{
	int rc = spool_fill(n, size == 0, err);

	if (rc == 0 && ftruncate(n->spool_fd, size) < 0)
		rc = kv_err_set(err, -errno, "spool: %s", strerror(errno));
	if (rc == 0 && (uint64_t)size != n->size) {
		n->size = (uint64_t)size;
		n->dirty = 1;
		n->meta.set_mtime = 0;
		n->rec.mtime_ns = kv_now_ns();
	}
	return rc;
}

static int tk_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct kv_record rec;
	struct kv_err err;
	struct node *n;
	size_t klen;
	const char *key;
	int fresh, rc;

	if (size < 0)
		return -EINVAL;
	if ((uint64_t)size > ctx()->cfg->max_size)
		return -EFBIG;
	if (file_of(fi) != NULL) {
		n = file_of(fi);
		pthread_mutex_lock(&n->lock);
		rc = truncate_node(n, size, &err);
		pthread_mutex_unlock(&n->lock);
		return rc < 0 ? errno_of(rc, &err, "truncate", n->key) : 0;
	}
	/* truncate(2) by name: no close follows, so the new value is stored now. */
	key = key_of(path, &klen);
	rc = lookup(key, klen, &rec, &err);
	if (rc < 0)
		return rc == -ENOENT ? rc : errno_of(rc, &err, "truncate", path);
	if (rec.type == KV_TYPE_DIR)
		return -EISDIR;
	n = node_get(key, klen, &rec, &fresh);
	if (n == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&n->lock);
	rc = truncate_node(n, size, &err);
	if (rc == 0)
		rc = upload(n, &err);
	pthread_mutex_unlock(&n->lock);
	node_put(n);
	return rc < 0 ? errno_of(rc, &err, "truncate", path) : 0;
}

static int flush_node(struct node *n, const char *op)
{
	struct kv_err err;
	int rc;

	pthread_mutex_lock(&n->lock);
	rc = upload(n, &err);
	pthread_mutex_unlock(&n->lock);
	if (rc == -EBUSY || rc == -ENOENT)
		rc = -EIO;
	return rc < 0 ? errno_of(rc, &err, op, n->key) : 0;
}

static int tk_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return flush_node(node_of(fi), "close");
}

static int tk_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)path;
	(void)datasync;
	return flush_node(node_of(fi), "fsync");
}

static int tk_release(const char *path, struct fuse_file_info *fi)
{
	struct node *n = node_of(fi);

	(void)path;
	/* Writes that arrived after the last flush (mmap write-back): store them too. */
	(void)flush_node(n, "release");
	node_put(n);
	return 0;
}

/* --- metadata --- */

/* Metadata of an open file: kept in its node, and stored at once unless the file has
 * bytes still to upload (then they travel together). Caller holds no lock. */
static int node_set_meta(struct node *n, const struct kv_meta *m, const char *op)
{
	struct kv_err err;
	int rc = 0;

	pthread_mutex_lock(&n->lock);
	kv_meta_apply(&n->rec, m);
	n->rec.ctime_ns = kv_now_ns();
	if (n->dirty) {
		if (m->set_mode) {
			n->meta.set_mode = 1;
			n->meta.mode = n->rec.mode;
		}
		if (m->set_owner) {
			n->meta.set_owner = 1;
			n->meta.uid = n->rec.uid;
			n->meta.gid = n->rec.gid;
		}
		if (m->set_mtime) {
			n->meta.set_mtime = 1;
			n->meta.mtime_ns = m->mtime_ns;
		}
		if (m->set_atime) {
			n->meta.set_atime = 1;
			n->meta.atime_ns = m->atime_ns;
		}
	} else {
		rc = kv_store_setmeta(ctx()->store, n->key, n->klen, m, &err);
	}
	pthread_mutex_unlock(&n->lock);
	return rc < 0 ? errno_of(rc, &err, op, n->key) : 0;
}

static int set_meta(const char *path, struct fuse_file_info *fi, const struct kv_meta *m,
		    const char *op)
{
	struct node *n = file_of(fi);
	struct kv_record rec;
	struct kv_err err;
	size_t klen;
	const char *key;
	int created, fresh, rc;

	if (n != NULL)
		return node_set_meta(n, m, op);
	if (path == NULL && fi != NULL)
		path = ((struct dir_handle *)(uintptr_t)fi->fh)->key;	/* fchmod of a dir */
	if (path == NULL)
		return -ENOENT;
	key = key_of(path, &klen);
	if (node_snapshot(key, klen, &rec, &created)) {
		n = node_get(key, klen, &rec, &fresh);
		if (n == NULL)
			return -ENOMEM;
		rc = node_set_meta(n, m, op);
		node_put(n);
		return rc;
	}
	rc = kv_store_setmeta(ctx()->store, key, klen, m, &err);
	return rc < 0 ? errno_of(rc, &err, op, path) : 0;
}

static int tk_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct kv_meta m = { .set_mode = 1, .mode = (uint32_t)(mode & 07777) };

	return set_meta(path, fi, &m, "chmod");
}

static int tk_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct kv_meta m = { .set_owner = 1, .uid = uid, .gid = gid };

	return set_meta(path, fi, &m, "chown");
}

static int tk_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
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

static int tk_rename(const char *from, const char *to, unsigned int flags)
{
	struct kv_record rec;
	struct kv_err err;
	size_t flen, tlen;
	const char *fkey = key_of(from, &flen), *tkey = key_of(to, &tlen);
	int created, fresh, rc;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL;	/* no atomic swap of two keys */
	if (tlen > KV_KEY_MAX)
		return -ENAMETOOLONG;
	if (node_snapshot(fkey, flen, &rec, &created)) {
		/* An open file is stored before it is renamed. */
		struct node *n = node_get(fkey, flen, &rec, &fresh);

		rc = n != NULL ? flush_node(n, "rename") : -ENOMEM;
		if (n != NULL)
			node_put(n);
		if (rc < 0)
			return rc;
	}
	rc = kv_store_rename(ctx()->store, fkey, flen, tkey, tlen,
			     (flags & RENAME_NOREPLACE) ? KV_RENAME_NOREPLACE : 0, &err);
	if (rc < 0)
		return errno_of(rc, &err, "rename", from);
	node_unlinked(tkey, tlen);
	node_rename(fkey, flen, tkey, tlen);
	return 0;
}

static int tk_statfs(const char *path, struct statvfs *sv)
{
	struct kv_statfs st;
	struct kv_err err;
	const unsigned long bs = 4096;
	int rc = kv_store_statfs(ctx()->store, &st, &err);

	(void)path;
	if (rc < 0)
		return errno_of(rc, &err, "statfs", "/");
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
	sv->f_namemax = 255;
	return 0;
}

static void *tk_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct mount_ctx *c = ctx();

	cfg->use_ino = 1;		/* stable inode numbers: a hash of the key */
	cfg->nullpath_ok = 1;
	cfg->hard_remove = 1;		/* no .fuse_hidden files: they would become keys */
	cfg->attr_timeout = c->cfg->attr_timeout;
	cfg->entry_timeout = c->cfg->entry_timeout;
	cfg->negative_timeout = 0;	/* a key PUT through HTTP shows at once */
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
	return c;
}

const struct fuse_operations tinykv_ops = {
	.init = tk_init,
	.getattr = tk_getattr,
	.readlink = tk_readlink,
	.opendir = tk_opendir,
	.readdir = tk_readdir,
	.releasedir = tk_releasedir,
	.mkdir = tk_mkdir,
	.rmdir = tk_rmdir,
	.unlink = tk_unlink,
	.symlink = tk_symlink,
	.link = tk_link,
	.mknod = tk_mknod,
	.rename = tk_rename,
	.open = tk_open,
	.create = tk_create,
	.read = tk_read,
	.write = tk_write,
	.truncate = tk_truncate,
	.flush = tk_flush,
	.fsync = tk_fsync,
	.release = tk_release,
	.chmod = tk_chmod,
	.chown = tk_chown,
	.utimens = tk_utimens,
	.statfs = tk_statfs,
};
