/* spool.c — where the bytes written to an open file wait, and how they are stored. Writes
 * go to a spool file (unnamed, 0600) in the private cache directory (kv_private_dir,
 * checked by main before mounting) and are stored at flush/fsync/close through the core's
 * put (close-to-open consistency, as on NFS). A file written from empty strictly in order
 * (cp, dd, a download) does not wait for close to go up: past STREAM_AT bytes its upload
 * starts and each later write is sent on as it comes, bypassing the spool (no local disk
 * write, so no write-back throttling), and close only finishes it. Anything out of order
 * (a write elsewhere, a truncate, a read through this mount) first copies what went up
 * back into the spool (spool_complete), and close then stores the spool. An upload that
 * fails is reported by that close() or fsync() and leaves the stored value as it was.
 * Every function here is called with n->io held (tk_flush_node takes it); n->lock is
 * taken for moments (node.h).
 */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"

#define STREAM_AT (1 << 20) /* smaller files go up whole at close */

/* --- the spool file --- */

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
	(void)node_event_locked(n, NODE_EV_SPOOL_OPENED);
	pthread_mutex_unlock(&n->lock);
	return 0;
}

/* --- streaming uploads --- */

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
		klen = node_key_copy(n, key);
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

/* A write at off: sent up as it comes while the file is written in order from empty
 * (stream_write), else left to the spool. */
int spool_send(struct node *n, const char *buf, size_t len, uint64_t off)
{
	if (n->appending && off == n->size)
		return stream_write(n, buf, len, off);
	if (off != n->size) /* not at the end: no longer in order */
		n->appending = 0;
	return 0;
}

/* Make the spool whole again when part of the file only went up: copy it back and give up
 * the upload. */
int spool_complete(struct node *n, struct kv_err *err)
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
	n->spool_fd = -1; /* the state follows in upload: stored, or forgotten */
	if (rc < 0)
		n->lost = 1;
	return rc;
}

/* Give n a spool holding its current value (empty when truncate). */
int spool_fill(struct node *n, int truncate, struct kv_err *err)
{
	char key[KV_KEY_MAX + 1];
	size_t klen = node_key_copy(n, key);
	int rc, empty;

	if (n->spool_fd >= 0) {
		if (truncate && ftruncate(n->spool_fd, 0) < 0)
			return kv_err_set(err, -errno, "spool: %s", strerror(errno));
		if (truncate)
			stream_restart(n);
		return 0;
	}
	rc = spool_open(n, err);
	empty = node_state_new(node_state(n)) || n->rec.size == 0; /* io held: rec stays */
	if (rc == 0 && (truncate || empty))
		stream_restart(n);
	if (rc < 0 || truncate || empty)
		return rc;
	rc = kv_store_fetch_fd(tk_ctx()->store, key, klen, &n->rec, n->spool_fd, err);
	if (rc < 0) {
		(void)close(n->spool_fd);
		n->spool_fd = -1;
		pthread_mutex_lock(&n->lock);
		(void)node_event_locked(n, NODE_EV_SPOOL_CLOSED);
		pthread_mutex_unlock(&n->lock);
	}
	return rc;
}

/* Mark the spool changed: size is its new length. */
void spool_changed(struct node *n, uint64_t size)
{
	pthread_mutex_lock(&n->lock);
	n->size = size;
	(void)node_event_locked(n, NODE_EV_CHANGED);
	n->meta.set_mtime = 0; /* a write after utimens: the time is now */
	n->rec.mtime_ns = n->rec.ctime_ns = kv_now_ns(); /* what stat shows until stored */
	pthread_mutex_unlock(&n->lock);
}

/* n cut or grown (with zeros) to size. */
int spool_truncate(struct node *n, off_t size, struct kv_err *err)
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
	n->size = n->rec.size;
	pthread_mutex_unlock(&n->lock);
	(void)node_event(n, NODE_EV_FORGOTTEN); /* a new file leaves the table */
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
	if (!node_state_unstored(n->state)) {
		pthread_mutex_unlock(&n->lock);
		stream_abort(n);
		return 0;
	}
	klen = n->klen;
	memcpy(key, n->key, klen);
	size = n->size;
	meta = n->meta;
	/* Stored with the times stat showed while it was open (spool_changed,
	 * tk_node_set_meta), not the moment of the store, which comes later (after close). */
	meta.set_mtime = 1;
	meta.mtime_ns = n->rec.mtime_ns;
	meta.set_ctime = 1;
	meta.ctime_ns = n->rec.ctime_ns;
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
	(void)node_event_locked(n, NODE_EV_STORED);
	if (n->spool_fd < 0) /* it went up as it was written: reads go to the shards */
		(void)node_event_locked(n, NODE_EV_SPOOL_CLOSED);
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
	skip = at_release && (n->state == NODE_FAILED || n->state == NODE_NEW_FAILED);
	pthread_mutex_unlock(&n->lock);
	if (skip)
		return 0;
	rc = upload(n, &err);
	if (rc == 0)
		return 0;
	pthread_mutex_lock(&n->lock);
	(void)node_event_locked(n, NODE_EV_STORE_FAILED);
	pthread_mutex_unlock(&n->lock);
	if (rc == -EBUSY || rc == -ENOENT)
		rc = -EIO; /* not what close() means by them */
	(void)node_key_copy(n, key);
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
