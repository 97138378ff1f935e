/* file_read.c — the read callback: an open file's bytes come from its spool when this
 * mount holds one, else from a replica on the shards, through a read-ahead window that
 * grows while reads are in order, and a read-ahead thread (prefetch.h) for big values.
 * A reader only ever gets bytes of the value it opened: one that merely moved is
 * followed, one replaced under it gives EIO. Callers hold n->io (node.h).
 */
#include "fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "sys.h"

#define PREFETCH_MIN (4 << 20) /* values read in order from this size on: read-ahead */
#define RA_MIN (128 * 1024)
#define RA_MAX (8 * 1024 * 1024)
/* A failed fetch answers the reads of the next moment itself: the kernel retries a failed
 * read-ahead page by page, and each retry would wait out the shard's timeout again. */
#define RA_ERR_MS 1000

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
		klen = node_key_copy(n, key);
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
	klen = node_key_copy(n, key);
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
	size_t klen = node_key_copy(n, key);
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

		(void)node_key_copy(n, key);
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
