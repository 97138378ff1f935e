/* file.c — the bytes of open files. Reads stream from a replica through a read-ahead
 * window; writes go to a spool file (unnamed, 0600) in the private cache directory
 * (kv_private_dir, checked by main before mounting) and are stored at
 * flush/fsync/close through the core's put (close-to-open consistency, as on NFS). A file
 * written from empty strictly in order (cp, dd, a download) does not wait for close to
 * go up: past STREAM_AT bytes its upload starts and each later write is sent on as it
 * comes, bypassing the spool (no local disk write, so no write-back throttling), and close
 * only finishes it. Anything out of order (a write elsewhere, a truncate, a read through
 * this mount) first copies what went up back into the spool (kv_put_spill), and close
 * then stores the spool. An upload that fails is reported by that close() or fsync() and leaves the
 * stored value as it was. Locking (node->io around I/O, node->lock for moments): node.h.
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "request.h"
#include "sys.h"

#define STREAM_AT (1 << 20)    /* smaller files go up whole at close */
#define PREFETCH_MIN (4 << 20) /* values read in order from this size on: read-ahead */
#define RA_MIN (128 * 1024)
#define RA_MAX (8 * 1024 * 1024)
/* A failed fetch answers the reads of the next moment itself: the kernel retries a failed
 * read-ahead page by page, and each retry would wait out the shard's timeout again. */
#define RA_ERR_MS 1000

/* The handle the kernel only ever gives for files (read, write, flush ...). */
static struct open_file *handle_of(const struct fuse_file_info *fi)
{
	return (struct open_file *)(uintptr_t)fi->fh;
}

struct node *node_of(const struct fuse_file_info *fi)
{
	return handle_of(fi)->node;
}

/* Every open handle, so that an unmount with files still open (the kernel then sends
 * no release) can close them. handles_lock guards the list links. */
static pthread_mutex_t handles_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_file *handles;

/* A handle on n (whose reference it takes over) into fi; -ENOMEM drops the reference.
 * created: the open made the file, so its close stores it even on a read-only descriptor
 * (open(O_CREAT | O_RDONLY) must leave a file behind, as touch and pjdfstest expect). */
int handle_new(struct fuse_file_info *fi, struct node *n, int created)
{
	struct open_file *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		(void)node_put(n);
		return -ENOMEM;
	}
	h->kind = HANDLE_FILE;
	h->writable = created || (fi->flags & O_ACCMODE) != O_RDONLY;
	h->node = n;
	/* A write-only handle (cp, dd, a shell's >) cannot be mapped, so its writes may skip
	 * the kernel's page cache: the bytes come to us in one copy instead of two. */
	if ((fi->flags & O_ACCMODE) == O_WRONLY)
		fi->direct_io = 1;
	/* The close of a reader stores nothing (tk_flush), so spare it the round trip; a
	 * creator's close stores the new file and reports there if that fails. */
	if (!h->writable)
		fi->noflush = 1;
	pthread_mutex_lock(&handles_lock);
	h->next = handles;
	if (handles != NULL)
		handles->prev = h;
	handles = h;
	pthread_mutex_unlock(&handles_lock);
	fi->fh = (uint64_t)(uintptr_t)h;
	return 0;
}

/* Close a handle: drops its node reference. */
static void handle_close(struct open_file *h)
{
	pthread_mutex_lock(&handles_lock);
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		handles = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&handles_lock);
	(void)node_put(h->node);
	free(h);
}

void handle_free(struct fuse_file_info *fi)
{
	handle_close(handle_of(fi));
}

/* A copy of n's key, for calls made without n->lock. */
static size_t key_copy(struct node *n, char *key)
{
	size_t klen;

	pthread_mutex_lock(&n->lock);
	klen = n->klen;
	memcpy(key, n->key, klen);
	key[klen] = '\0';
	pthread_mutex_unlock(&n->lock);
	return klen;
}

/* --- the spool; callers hold n->io --- */

/* An unnamed file in the directory dirfd: nothing to clean up after a crash, and no name
 * anyone could have prepared. */
static int tmpfile_in(int dirfd)
{
	char name[32];
	uint64_t r;
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), i;

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd;
	/* A file system without O_TMPFILE (EISDIR from older kernels): a new name, never
	 * an existing file or a link, unlinked at once. */
	for (i = 0; i < 100; i++) {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return -1;
		(void)snprintf(name, sizeof(name), ".spool-%016llx", (unsigned long long)r);
		fd = openat(dirfd, name, O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			(void)unlinkat(dirfd, name, 0);
			return fd;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

static pthread_mutex_t cache_remake = PTHREAD_MUTEX_INITIALIZER;

/* Has the directory open as fd been removed? (Creating in it then fails, with EPERM for
 * O_TMPFILE.) */
static int dir_gone(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && st.st_nlink == 0;
}

int spool_open(struct node *n, struct kv_err *err)
{
	struct mount_ctx *mc = tk_ctx();
	int fd = tmpfile_in(mc->cache_fd);

	if (fd < 0 && dir_gone(mc->cache_fd)) {
		/* The cache directory went away: make it again, checked as at mount time, and
		 * put it in place of the old descriptor (dup3: other threads' use stays valid). */
		char real[PATH_MAX];
		int cfd;

		pthread_mutex_lock(&cache_remake);
		fd = tmpfile_in(mc->cache_fd);
		if (fd < 0 && dir_gone(mc->cache_fd)) {
			cfd = kv_private_dir(mc->cfg->cache, "cache", KV_PRIVATE_CREATE, real,
					     sizeof(real), NULL, err);
			if (cfd < 0) {
				pthread_mutex_unlock(&cache_remake);
				return cfd;
			}
			if (dup3(cfd, mc->cache_fd, O_CLOEXEC) >= 0)
				fd = tmpfile_in(mc->cache_fd);
			(void)close(cfd);
		}
		pthread_mutex_unlock(&cache_remake);
	}
	if (fd < 0)
		return kv_err_set(err, -errno, "spool in %s: %s", mc->cfg->cache, strerror(errno));
	n->spool_fd = fd;
	pthread_mutex_lock(&n->lock);
	n->spooled = 1;
	pthread_mutex_unlock(&n->lock);
	return 0;
}

/* --- streaming uploads; callers hold n->io --- */

/* Give up the upload under way, if any (what reached the shards is removed). */
static void stream_abort(struct node *n)
{
	stream_free(n->stream);
	n->stream = NULL;
	n->streamed = 0;
}

/* The spool is empty again: a value written in order from here may stream. */
static void stream_restart(struct node *n)
{
	stream_abort(n);
	n->appending = 1;
	n->lost = 0;
}

/* Send spool bytes [from, to) on the stream. */
static int stream_spool(struct node *n, uint64_t from, uint64_t to, struct kv_err *err)
{
	char buf[64 * 1024];

	while (from < to) {
		size_t want = to - from < sizeof(buf) ? (size_t)(to - from) : sizeof(buf);
		ssize_t r = pread(n->spool_fd, buf, want, (off_t)from);
		int rc;

		if (r <= 0)
			return kv_err_set(err, r < 0 ? -errno : -EIO, "spool read");
		rc = stream_push(n->stream, buf, (size_t)r, err);
		if (rc < 0)
			return rc;
		from += (uint64_t)r;
	}
	return 0;
}

/*
 * A write of buf[0..len) at the end of the file, which has been written in order from
 * empty: send it up instead of spooling it (returns 1), or leave it to the spool
 * (returns 0: the file is still small, or its upload could not start). A failure once
 * bytes bypassed the spool loses them: the write still succeeds, and close reports it.
 */
static int stream_write(struct node *n, const char *buf, size_t len, uint64_t off)
{
	char key[KV_KEY_MAX + 1];
	struct kv_meta meta;
	struct kv_err err;
	size_t klen;
	int rc;

	if (n->lost)
		return 1;
	if (n->stream == NULL) {
		if (off + len < STREAM_AT)
			return 0;
		klen = key_copy(n, key);
		pthread_mutex_lock(&n->lock);
		meta = n->meta;
		pthread_mutex_unlock(&n->lock);
		rc = stream_begin(tk_ctx()->store, key, klen, &meta, &n->stream, &err);
		if (rc == 0)
			rc = stream_spool(n, 0, off, &err);
		if (rc < 0) {
			stream_abort(n);
			n->appending = 0;
			return 0; /* the spool has it all; close stores it, or says why not */
		}
		n->spooled_to = off;
	}
	rc = stream_push(n->stream, buf, len, &err); /* sent by the stream's thread */
	if (rc < 0) {
		(void)tk_errno(rc, &err, "write", n->key);
		stream_abort(n);
		n->appending = 0;
		n->lost = 1;
		return 1;
	}
	n->streamed = off + len;
	return 1;
}

/* Make the spool whole again when part of the file only went up: copy it back and give up
 * the upload. */
static int spool_complete(struct node *n, struct kv_err *err)
{
	int rc;

	if (n->lost)
		return kv_err_set(err, -EIO, "an earlier upload of this file failed");
	if (n->stream == NULL)
		return 0;
	rc = stream_finish(n->stream, err);
	if (rc == 0)
		rc = kv_put_spill(stream_put(n->stream), n->spool_fd, err);
	stream_abort(n);
	n->appending = 0;
	if (rc < 0)
		n->lost = 1;
	return rc;
}

/* Finish the upload of a file that went up whole as it was written. The spool holds only
 * its beginning: drop it; reads go to the shards now. */
static int stream_commit(struct node *n, const struct kv_meta *meta, struct kv_record *rec,
			 struct kv_err *err)
{
	int rc;

	rc = stream_finish(n->stream, err);
	if (rc == 0) {
		kv_put_set_meta(stream_put(n->stream), meta);
		rc = kv_put_commit(stream_put(n->stream), rec, err);
	}
	stream_abort(n);
	n->appending = 0;
	(void)close(n->spool_fd);
	n->spool_fd = -1;
	pthread_mutex_lock(&n->lock);
	n->spooled = 0;
	pthread_mutex_unlock(&n->lock);
	if (rc < 0)
		n->lost = 1;
	return rc;
}

/* Give n a spool holding its current value (empty when truncate). */
int spool_fill(struct node *n, int truncate, struct kv_err *err)
{
	char key[KV_KEY_MAX + 1];
	size_t klen = key_copy(n, key);
	int rc, empty;

	if (n->spool_fd >= 0) {
		if (truncate && ftruncate(n->spool_fd, 0) < 0)
			return kv_err_set(err, -errno, "spool: %s", strerror(errno));
		if (truncate)
			stream_restart(n);
		return 0;
	}
	rc = spool_open(n, err);
	empty = n->created || n->rec.size == 0; /* io held: rec cannot change */
	if (rc == 0 && (truncate || empty))
		stream_restart(n);
	if (rc < 0 || truncate || empty)
		return rc;
	rc = kv_store_fetch_fd(tk_ctx()->store, key, klen, &n->rec, n->spool_fd, err);
	if (rc < 0) {
		(void)close(n->spool_fd);
		n->spool_fd = -1;
		pthread_mutex_lock(&n->lock);
		n->spooled = 0;
		pthread_mutex_unlock(&n->lock);
	}
	return rc;
}

/* Mark the spool changed: size is its new length. */
void spool_changed(struct node *n, uint64_t size)
{
	pthread_mutex_lock(&n->lock);
	n->size = size;
	n->dirty = 1;
	n->failed = 0;
	n->meta.set_mtime = 0; /* a write after utimens: the time is now */
	n->rec.mtime_ns = n->rec.ctime_ns = kv_now_ns(); /* what stat shows until stored */
	pthread_mutex_unlock(&n->lock);
}

/* Bytes that only went up are lost with their upload: the file is what is stored again
 * (a new one vanishes), and the caller reports the loss. */
static void forget(struct node *n)
{
	stream_abort(n);
	n->lost = 0;
	n->appending = 0;
	if (n->spool_fd >= 0)
		(void)close(n->spool_fd);
	n->spool_fd = -1;
	pthread_mutex_lock(&n->lock);
	n->spooled = 0;
	n->dirty = 0;
	n->size = n->rec.size;
	if (n->created)
		n->unlinked = 1;
	pthread_mutex_unlock(&n->lock);
}

/* Store the spool as the key's value, if it changed. */
static int upload(struct node *n, struct kv_err *err)
{
	char key[KV_KEY_MAX + 1];
	struct kv_record rec;
	struct kv_meta meta;
	uint64_t size;
	size_t klen;
	int rc;

	pthread_mutex_lock(&n->lock);
	if (!n->dirty || n->unlinked) {
		pthread_mutex_unlock(&n->lock);
		stream_abort(n);
		return 0;
	}
	klen = n->klen;
	memcpy(key, n->key, klen);
	size = n->size;
	meta = n->meta;
	pthread_mutex_unlock(&n->lock);
	/* Only n->io is held: lookups of this file go on meanwhile, writes to it wait. */
	if (n->lost) {
		forget(n);
		return kv_err_set(err, -EIO, "the upload failed while the file was written");
	}
	if (n->stream != NULL && n->streamed == size) {
		rc = stream_commit(n, &meta, &rec, err);
	} else {
		rc = spool_complete(n, err);
		if (rc == 0)
			rc = kv_store_put_fd(tk_ctx()->store, key, klen, n->spool_fd, (int64_t)size,
					     0, &meta, &rec, err);
	}
	if (rc < 0) {
		if (n->lost)
			forget(n);
		return rc;
	}
	pthread_mutex_lock(&n->lock);
	n->rec = rec;
	n->dirty = 0;
	n->created = 0;
	memset(&n->meta, 0, sizeof(n->meta));
	pthread_mutex_unlock(&n->lock);
	return 0;
}

int tk_flush_locked(struct node *n, const char *op, int at_release)
{
	char key[KV_KEY_MAX + 1];
	struct kv_err err;
	int rc = 0, skip;

	pthread_mutex_lock(&n->lock);
	/* At release nobody waits for the answer: an upload that failed and was reported,
	 * with nothing changed since, is not tried again, so that a value the caller was
	 * told is not stored does not appear later behind its back. */
	skip = at_release && n->failed;
	pthread_mutex_unlock(&n->lock);
	if (skip)
		return 0;
	rc = upload(n, &err);
	pthread_mutex_lock(&n->lock);
	n->failed = rc < 0;
	pthread_mutex_unlock(&n->lock);
	if (rc == 0)
		return 0;
	if (rc == -EBUSY || rc == -ENOENT)
		rc = -EIO; /* not what close() means by them */
	(void)key_copy(n, key);
	return tk_errno(rc, &err, op, key);
}

int tk_flush_node(struct node *n, const char *op, int at_release)
{
	int rc;

	pthread_mutex_lock(&n->io);
	rc = tk_flush_locked(n, op, at_release);
	pthread_mutex_unlock(&n->io);
	return rc;
}

/* --- opening --- */

/* A new open of a key another handle keeps open: the key may have changed through HTTP
 * meanwhile, and an open sees the stored value (close-to-open), unless this mount holds
 * bytes of its own for it. The same value under a new record (renamed back, chmod) is
 * followed; another value is not forced on the handles that opened the old one: their
 * node leaves the table (they go on with the old value, or EIO), and 1 tells the caller
 * to open a node of its own. */
static int node_refresh(struct node *n, const char *key, size_t klen)
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
	if (n != NULL && !fresh && node_refresh(n, key, klen)) {
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

/* --- reading --- */

/* Read through the read-ahead thread: started for a big value read from its start or
 * where the last read ended, dropped when reads jump away. Returns -ESPIPE when it does
 * not apply. Caller holds n->io. */
static int read_ahead(struct node *n, char *buf, size_t size, off_t off, struct kv_err *err)
{
	char key[KV_KEY_MAX + 1];
	size_t got = 0, klen;
	int rc = -ESPIPE;

	if (n->pf != NULL)
		rc = prefetch_read(n->pf, off, buf, size, &got, err);
	if (rc == -ESPIPE && n->rec.size >= PREFETCH_MIN && off == n->read_end) {
		prefetch_free(n->pf);
		klen = key_copy(n, key);
		rc = prefetch_start(tk_ctx()->store, key, klen, &n->rec, off, &n->pf, err);
		if (rc == 0)
			rc = prefetch_read(n->pf, off, buf, size, &got, err);
	}
	if (rc < 0 && rc != -ESPIPE) {
		prefetch_free(n->pf); /* failed: the next read starts afresh */
		n->pf = NULL;
	}
	if (rc < 0)
		return rc;
	n->read_end = off + (off_t)got;
	return (int)got;
}

/* Read from the shards through a window that grows while reads are sequential. Caller
 * holds n->io (which guards the window, and keeps rec from changing). */
static int read_remote(struct node *n, char *buf, size_t size, off_t off, struct kv_err *err)
{
	char key[KV_KEY_MAX + 1];
	size_t klen, got = 0, window;
	int rc;

	if ((uint64_t)off >= n->rec.size)
		return 0;
	if (n->replaced)
		return kv_err_set(err, -ESTALE, "replaced while open");
	if (n->ra_err < 0 && kv_mono_ms() - n->ra_err_ms < RA_ERR_MS)
		return kv_err_set(err, n->ra_err, "%s (a moment ago)", kv_strerror(n->ra_err));
	rc = read_ahead(n, buf, size, off, err);
	if (rc != -ESPIPE) {
		if (rc < 0) {
			n->ra_err = rc;
			n->ra_err_ms = kv_mono_ms();
		}
		return rc;
	}
	n->read_end = off + (off_t)size;
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
	klen = key_copy(n, key);
	rc = kv_store_read(tk_ctx()->store, key, klen, &n->rec, off, n->ra, window, &got, err);
	if (rc < 0) {
		n->ra_len = 0;
		n->ra_err = rc;
		n->ra_err_ms = kv_mono_ms();
		return rc;
	}
	n->ra_err = 0;
	n->ra_off = off;
	n->ra_len = got;
	if (got > size)
		got = size;
	memcpy(buf, n->ra, got);
	return (int)got;
}

/* A read found no file, or not the value n opened: if that value merely moved (a rename,
 * a rebalance) or got a new record (chmod), follow it; 0 then, for a retry. Caller holds
 * n->io. */
static int follow_value(struct node *n)
{
	char key[KV_KEY_MAX + 1];
	size_t klen = key_copy(n, key);
	struct kv_record cur;
	int rc = kv_store_current(tk_ctx()->store, key, klen, &n->rec, &cur, NULL);

	if (rc < 0)
		return rc;
	if (cur.gen == n->rec.gen)
		return -ENOENT; /* where it should be, and missing: nothing to follow */
	pthread_mutex_lock(&n->lock);
	n->rec = cur;
	pthread_mutex_unlock(&n->lock);
	n->ra_err = 0;
	prefetch_free(n->pf);
	n->pf = NULL;
	return 0;
}

/* Read from the shards what n opened, or fail: never bytes of a value that replaced it.
 * Caller holds n->io. */
static int read_pinned(struct node *n, char *buf, size_t size, off_t off, const char *path)
{
	struct kv_err err;
	int rc = read_remote(n, buf, size, off, &err);

	if ((rc == -ENOENT || rc == -ESTALE) && !n->replaced && follow_value(n) == 0)
		rc = read_remote(n, buf, size, off, &err);
	if (rc == -ESTALE && !n->replaced) {
		char key[KV_KEY_MAX + 1];

		(void)key_copy(n, key);
		n->replaced = 1;
		syslog(LOG_NOTICE,
		       "read %s: %s while open: its readers get EIO (reopen for the "
		       "new value)",
		       key, err.msg);
	}
	if (rc == -ENOENT || rc == -ESTALE)
		return -EIO; /* the value vanished under an open file */
	return rc < 0 ? tk_errno(rc, &err, "read", path != NULL ? path : n->key) : rc;
}

int tk_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct node *n = node_of(fi);
	struct kv_err err;
	int rc;

	pthread_mutex_lock(&n->io);
	if (n->spool_fd >= 0) {
		ssize_t r;

		rc = spool_complete(n, &err);
		if (rc < 0) {
			pthread_mutex_unlock(&n->io);
			return tk_errno(rc, &err, "read", path != NULL ? path : n->key);
		}
		r = pread(n->spool_fd, buf, size, off);
		rc = r < 0 ? -errno : (int)r;
	} else {
		rc = read_pinned(n, buf, size, off, path);
	}
	pthread_mutex_unlock(&n->io);
	return rc;
}

/* --- writing --- */

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
	if (n->appending && (uint64_t)off == n->size && stream_write(n, buf, size, n->size)) {
		spool_changed(n, (uint64_t)off + size); /* sent up, not spooled */
		pthread_mutex_unlock(&n->io);
		drop_privs_on_write(n);
		return (int)size;
	}
	if ((uint64_t)off != n->size) /* not at the end: no longer in order */
		n->appending = 0;
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

/* Caller holds n->io. */
static int truncate_node(struct node *n, off_t size, struct kv_err *err)
{
	int rc = size == 0 ? 0 : spool_complete(n, err);

	if (rc == 0)
		rc = spool_fill(n, size == 0, err);
	if (rc == 0 && size != 0)
		n->appending = 0;
	if (rc == 0 && ftruncate(n->spool_fd, size) < 0)
		rc = kv_err_set(err, -errno, "spool: %s", strerror(errno));
	if (rc == 0 && (uint64_t)size != n->size)
		spool_changed(n, (uint64_t)size);
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
		rc = truncate_node(n, size, &err);
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
	rc = truncate_node(n, size, &err);
	rc = rc < 0 ? tk_errno(rc, &err, "truncate", path) : tk_flush_locked(n, "truncate", 0);
	pthread_mutex_unlock(&n->io);
	node_put(n);
	return rc;
}

int tk_flush(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	/* The close of a reader does not store what a writer has not closed yet. */
	if (!handle_of(fi)->writable)
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
	if (handle_of(fi)->writable)
		(void)tk_flush_node(node_of(fi), "release", 1);
	handle_free(fi);
	return 0;
}

/* --- removing, metadata --- */

/* Open descriptors keep reading a file whose value goes away (removed, or replaced by a
 * rename onto it), as on a local disk: bring n's value into its spool before the shards
 * drop it. An upload under way holds the key: bring its bytes back, let go of it. Caller
 * holds n->io; a failure is logged (the handles then read the shards, pinned: EIO). */
static void keep_value(struct node *n, const char *op, const char *path)
{
	struct kv_err err;
	int created;

	if (n->stream != NULL && spool_complete(n, &err) < 0)
		(void)tk_errno(-EIO, &err, op, path);
	pthread_mutex_lock(&n->lock);
	created = n->created;
	pthread_mutex_unlock(&n->lock);
	if (!created && !n->replaced && n->spool_fd < 0) {
		if (spool_fill(n, 0, &err) < 0)
			(void)tk_errno(-EIO, &err, op, path);
		prefetch_free(n->pf); /* reads come from the spool now */
		n->pf = NULL;
	}
}

void tk_keep_for_readers(const char *key, size_t klen)
{
	struct kv_record rec;
	struct node *n;
	int created, fresh;

	if (!node_snapshot(key, klen, &rec, &created))
		return;
	n = node_get(key, klen, &rec, &fresh);
	if (n == NULL)
		return;
	pthread_mutex_lock(&n->io);
	if (!fresh)
		keep_value(n, "rename (keeping the old value for open files)", key);
	pthread_mutex_unlock(&n->io);
	node_put(n);
}

/* Remove key and its stored value; handles open on it keep the value (keep_value). The
 * node then leaves the table, or with hide_as (alen > 0) goes under the name libfuse hides
 * the open file by. */
static int unlink_key(const char *key, size_t klen, const char *hide_as, size_t alen,
		      const char *path)
{
	struct kv_record rec;
	struct kv_err err;
	struct node *n = NULL;
	int created = 0, fresh, rc = 0;

	if (node_snapshot(key, klen, &rec, &created)) {
		/* Wait for an upload in flight: it decides whether there is a key to delete. */
		n = node_get(key, klen, &rec, &fresh);
		if (n == NULL)
			return -ENOMEM;
		pthread_mutex_lock(&n->io);
		if (!fresh)
			keep_value(n, "unlink (keeping it for open files)", path);
		pthread_mutex_lock(&n->lock);
		created = n->created;
		pthread_mutex_unlock(&n->lock);
	}
	if (!created) /* else never uploaded: nothing stored to remove */
		rc = kv_store_delete(tk_ctx()->store, key, klen, &err);
	if (rc == 0 && alen > 0)
		node_hide(key, klen, hide_as, alen);
	else if (rc == 0)
		node_unlinked(key, klen);
	if (n != NULL) {
		pthread_mutex_unlock(&n->io);
		node_put(n);
	}
	return rc < 0 ? tk_errno(rc, &err, "unlink", path) : 0;
}

int tk_unlink(const char *path)
{
	size_t klen;
	const char *key = tk_key(path, &klen);

	/* libfuse removing the name it hid an open file under, at its last close: nothing
	 * is stored under that name. */
	if (node_unhide(key, klen))
		return 0;
	return unlink_key(key, klen, NULL, 0, path);
}

int tk_hide(const char *from, size_t flen, const char *as, size_t alen, const char *path)
{
	if (tk_request_renames()) {
		/* A rename replaces the key next, atomically, or fails and leaves it: only
		 * the open handles' view changes here. */
		tk_keep_for_readers(from, flen);
		node_hide(from, flen, as, alen);
		return 0;
	}
	return unlink_key(from, flen, as, alen, path);
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
	size_t klen = key_copy(n, key);
	int rc = 0, dirty;

	pthread_mutex_lock(&n->io); /* no upload in flight, none starts */
	pthread_mutex_lock(&n->lock);
	rec = n->rec;
	dirty = n->dirty;
	pthread_mutex_unlock(&n->lock);
	kv_meta_apply(&rec, m);
	rec.ctime_ns = kv_now_ns();
	if (!dirty)
		rc = kv_store_setmeta(tk_ctx()->store, key, klen, m, &err);
	if (rc == 0) {
		pthread_mutex_lock(&n->lock);
		n->rec = rec;
		if (dirty)
			meta_merge(&n->meta, m, &rec);
		pthread_mutex_unlock(&n->lock);
	}
	pthread_mutex_unlock(&n->io);
	return rc < 0 ? tk_errno(rc, &err, op, key) : 0;
}

/* --- the end of the mount --- */

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
			(void)key_copy(v[i], key);
			syslog(LOG_ERR, "unmount: '%s' not stored: %s", key, strerror(-rc));
			fprintf(stderr, "tinykv: unmount: '%s' not stored: %s\n", key,
				strerror(-rc));
		}
		(void)node_put(v[i]);
	}
	free(v);
	while (handles != NULL) /* no release will come for these */
		handle_close(handles);
}
