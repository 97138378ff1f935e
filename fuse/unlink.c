/* unlink.c — names going away under open files: unlink, libfuse's hiding of an open file
 * (.fuse_hidden names, never stored), and a value about to be replaced by a rename. The
 * handles open on the file keep reading the value it had, from a copy in their spool, as
 * on a local disk. Locking: node.h.
 */
#include "fs.h"

#include <errno.h>
#include <pthread.h>

#include "request.h"

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
	created = node_state_new(n->state);
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
		created = node_state_new(n->state);
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
