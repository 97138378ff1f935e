/* tree_shape.c — the rules that keep the key space a tree, applied inside the index
 * transaction that changes it: a new file must not hide a directory or sit below a file
 * (kv__file_fits, kv__file_above), and a directory's times follow its entries
 * (kv__dir_changed). Shared by the writers (write.c, rename.c, links.c) and the tree's
 * own operations (tree.c), which sit above it. Every function runs inside a
 * kv_index_update callback, so on the thread leading that batch: index reads only.
 */
#include "store_int.h"

#include <errno.h>
#include <string.h>

#include "sys.h"

/* See store_int.h. */
int kv__with_slash(const char *path, size_t plen, char *buf)
{
	if (plen + 1 > KV_KEY_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, path, plen);
	buf[plen] = '/';
	return (int)plen + 1;
}

/* See store_int.h. */
int kv__has_entries(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err)
{
	char prefix[KV_KEY_MAX + 1];
	int n = kv__with_slash(path, plen, prefix), rc;

	if (n < 0)
		return 0;
	rc = kv_txn_has_prefix(txn, KV_KEYS, prefix, (size_t)n, err);
	return rc != 0 ? rc : kv_txn_has_prefix(txn, KV_DIRS, prefix, (size_t)n, err);
}

/* See store_int.h. */
int kv__file_above(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err)
{
	struct kv_record r;
	size_t i;
	int rc;

	for (i = 1; i < plen; i++) {
		if (path[i] != '/')
			continue;
		rc = kv_txn_get(txn, KV_KEYS, path, i, &r, err);
		if (rc == -ENOENT)
			continue;
		if (rc < 0 && rc != -KV_ECORRUPT)
			return rc;
		return kv_err_set(err, -ENOTDIR,
				  "key '%.*s' is a file, so there can be no key "
				  "'%.*s' below it",
				  (int)i, path, (int)plen, path);
	}
	return 0;
}

int kv__file_fits(struct kv_txn *txn, const char *key, size_t klen, struct kv_err *err)
{
	struct kv_record r;
	int rc = kv__file_above(txn, key, klen, err);

	if (rc < 0)
		return rc;
	rc = kv_txn_get(txn, KV_DIRS, key, klen, &r, err);
	if (rc == 0 || rc == -KV_ECORRUPT)
		return kv_err_set(err, -EISDIR,
				  "'%.*s' is a directory (made in the mount), so "
				  "it cannot be a key too",
				  (int)klen, key);
	if (rc != -ENOENT)
		return rc;
	rc = kv__has_entries(txn, key, klen, err);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return kv_err_set(err, -EISDIR,
				  "'%.*s' is a directory (there are keys below it, "
				  "starting with '%.*s/'), so it cannot be a key too",
				  (int)klen, key, (int)klen, key);
	return 0;
}

int kv__dir_changed(struct kv_txn *txn, const char *key, size_t klen, struct kv_err *err)
{
	const char *slash = memrchr(key, '/', klen);
	const char *dir = slash != NULL ? key : "/";
	size_t dlen = slash != NULL ? (size_t)(slash - key) : 1;
	struct kv_record rec;
	int rc = kv_txn_get(txn, KV_DIRS, dir, dlen, &rec, err);

	/* Implied (the root too until its first chmod): no times of its own, and none given
	 * here, as a record would make its mode count for tinykvd (mountd/perm.c). */
	if (rc == -ENOENT || rc == -KV_ECORRUPT)
		return 0;
	if (rc < 0)
		return rc;
	rec.mtime_ns = rec.ctime_ns = kv_now_ns();
	return kv_txn_put(txn, KV_DIRS, dir, dlen, &rec, err);
}
