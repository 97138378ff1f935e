/* tree.c — the file-system view of the key space: directories, listings, metadata,
 * symlinks and special files (renames are rename.c's). Keys are paths; "a/b/c" makes
 * directories "a" and "a/b". Directories exist explicitly (KV_DIRS, made by mkdir) or
 * implicitly (a key below them). Every listing is an index range scan; no shard is asked.
 * Any thread (the mount's FUSE threads, tinykvd's permission checks).
 */
#include "store_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "xattr.h"

/* A directory nobody made, implied by the keys below it: gen 0, the times of the store's
 * opening, so repeated stats agree (made once, in kv_store_open). All of it but the link
 * target's 4 KiB, which a directory leaves empty: copying those was a third of the
 * root's check on every GET. */
static void implied_dir(struct kv_store *s, struct kv_record *rec)
{
	const size_t at = offsetof(struct kv_record, target), end = at + sizeof(rec->target);

	memcpy(rec, &s->implied_dir, at);
	rec->target[0] = '\0';
	memcpy((char *)rec + end, (const char *)&s->implied_dir + end, sizeof(*rec) - end);
}

static int has_children(struct kv_store *s, const char *prefix, size_t plen)
{
	struct kv_cursor *c;
	const char *k;
	size_t kl;
	int t, found = 0;

	for (t = KV_KEYS; t <= KV_DIRS && !found; t++) {
		if (kv_cursor_open(s->idx, (enum kv_table)t, &c, NULL) < 0)
			continue;
		if (kv_cursor_seek(c, prefix, plen, &k, &kl, NULL) == 0)
			found = kl >= plen && memcmp(k, prefix, plen) == 0;
		kv_cursor_close(c);
	}
	return found;
}

int kv_store_dir_get(struct kv_store *s, const char *path, size_t plen, struct kv_record *rec,
		     struct kv_err *err)
{
	char prefix[KV_KEY_MAX + 1];
	int n, rc;

	if (plen == 0) {
		rc = kv_index_get(s->idx, KV_DIRS, "/", 1, rec, NULL);
		if (rc < 0)
			implied_dir(s, rec);
		return 0;
	}
	rc = kv_index_get(s->idx, KV_DIRS, path, plen, rec, err);
	if (rc != -ENOENT)
		return rc;
	n = kv__with_slash(path, plen, prefix);
	if (n > 0 && has_children(s, prefix, (size_t)n)) {
		implied_dir(s, rec);
		return 0;
	}
	return kv_err_set(err, -ENOENT, "no directory '%.*s'", (int)plen, path);
}

int kv_store_subdirs(struct kv_store *s, const char *path, size_t plen, uint64_t max,
		     uint64_t *count, struct kv_err *err)
{
	char pfx[KV_KEY_MAX + 2], last[KV_KEY_MAX + 1];
	struct kv_cursor *c;
	const char *k;
	size_t kl, n = 0, lastlen = 0;
	int rc;

	*count = 0;
	if (plen > 0) {
		rc = kv__with_slash(path, plen, pfx);
		if (rc < 0)
			return 0; /* nothing can be below it */
		n = (size_t)rc;
	}
	rc = kv_cursor_open(s->idx, KV_DIRS, &c, err);
	if (rc < 0)
		return rc;
	rc = kv_cursor_seek(c, pfx, n, &k, &kl, NULL);
	while (rc == 0 && *count <= max && kl > n && memcmp(k, pfx, n) == 0) {
		const char *name = k + n, *slash = memchr(name, '/', kl - n);
		size_t nlen = slash != NULL ? (size_t)(slash - name) : kl - n;

		/* The names readdir shows, each once ("a", then "a/b" names "a" again). */
		if (nlen > 0 && !(nlen == 1 && name[0] == '.') &&
		    !(nlen == 2 && name[0] == '.' && name[1] == '.') &&
		    (nlen != lastlen || memcmp(name, last, nlen) != 0))
			(*count)++;
		memcpy(last, name, nlen);
		lastlen = nlen;
		if (slash == NULL) {
			rc = kv_cursor_next(c, &k, &kl, NULL);
		} else {
			/* Skip the subtree: after "pfx name /..." comes "pfx name 0". */
			char seek[KV_KEY_MAX + 2];

			memcpy(seek, k, n + nlen);
			seek[n + nlen] = '/' + 1;
			rc = kv_cursor_seek(c, seek, n + nlen + 1, &k, &kl, NULL);
		}
	}
	kv_cursor_close(c);
	if (rc == -ENOENT)
		rc = 0;
	return rc < 0 ? kv_err_set(err, rc, "counting the directories in '%.*s': %s", (int)plen,
				   path, kv_strerror(rc)) :
			0;
}

struct mkdir_arg {
	const char *path;
	size_t plen;
	struct kv_record rec;
};

/* 1 when path is a file or a directory (made, or implied by what is below it), 0 when not,
 * or a negative errno. */
static int exists_in_txn(struct kv_txn *txn, const char *path, size_t plen, struct kv_err *err)
{
	struct kv_record r;

	if (kv_txn_get(txn, KV_KEYS, path, plen, &r, NULL) == 0 ||
	    kv_txn_get(txn, KV_DIRS, path, plen, &r, NULL) == 0)
		return 1;
	return kv__has_entries(txn, path, plen, err);
}

static int mkdir_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct mkdir_arg *a = arg;
	int rc = kv__file_above(txn, a->path, a->plen, err);

	if (rc < 0)
		return rc;
	rc = exists_in_txn(txn, a->path, a->plen, err);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return kv_err_set(err, -EEXIST, "'%.*s' exists", (int)a->plen, a->path);
	rc = kv_txn_put(txn, KV_DIRS, a->path, a->plen, &a->rec, err);
	return rc < 0 ? rc : kv__dir_changed(txn, a->path, a->plen, err);
}

int kv_store_mkdir(struct kv_store *s, const char *path, size_t plen, const struct kv_meta *meta,
		   struct kv_err *err)
{
	struct mkdir_arg a = { path, plen, { 0 } };
	int rc = kv_key_check_new(path, plen, err);

	if (rc < 0)
		return rc;
	if (plen + 1 > KV_KEY_MAX) /* its entries could not have a name */
		return kv_err_set(err, -ENAMETOOLONG, "directory name too long");
	kv_record_new(&a.rec, KV_TYPE_DIR, meta);
	return kv_index_update(s->idx, mkdir_txn, &a, err);
}

static int rmdir_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct mkdir_arg *a = arg;
	int rc = kv__has_entries(txn, a->path, a->plen, err);

	if (rc < 0)
		return rc;
	if (rc > 0)
		return kv_err_set(err, -ENOTEMPTY, "'%.*s' is not empty", (int)a->plen, a->path);
	if (kv_txn_get(txn, KV_KEYS, a->path, a->plen, &a->rec, NULL) == 0)
		return kv_err_set(err, -ENOTDIR, "'%.*s' is not a directory", (int)a->plen,
				  a->path);
	rc = kv_txn_del(txn, KV_DIRS, a->path, a->plen, err);
	return rc < 0 ? rc : kv__dir_changed(txn, a->path, a->plen, err);
}

static int stop_at_first(const char *name, size_t nlen, const struct kv_record *rec, void *arg)
{
	(void)name;
	(void)nlen;
	(void)rec;
	*(int *)arg = 1;
	return 1;
}

/* rmdir found path not empty, yet a listing may show nothing: only keys an older version
 * stored against kv_key_check_new ("dir/", "dir//x") are there. Say so, naming one. */
static void explain_hidden(struct kv_store *s, const char *path, size_t plen, struct kv_err *err)
{
	char prefix[KV_KEY_MAX + 1];
	struct kv_cursor *c;
	const char *k;
	size_t kl;
	int n = kv__with_slash(path, plen, prefix), shown = 0;

	if (n < 0 || kv_store_readdir(s, path, plen, NULL, stop_at_first, &shown, NULL) < 0 ||
	    shown || kv_cursor_open(s->idx, KV_KEYS, &c, NULL) < 0)
		return;
	if (kv_cursor_seek(c, prefix, (size_t)n, &k, &kl, NULL) == 0 && kl >= (size_t)n &&
	    memcmp(k, prefix, (size_t)n) == 0)
		(void)kv_err_set(err, -ENOTEMPTY,
				 "'%.*s' holds keys the mount cannot show, such as "
				 "'%.*s': list them with GET /%.*s/?list and delete them over HTTP",
				 (int)plen, path, (int)kl, k, (int)plen, path);
	kv_cursor_close(c);
}

int kv_store_rmdir(struct kv_store *s, const char *path, size_t plen, struct kv_err *err)
{
	struct mkdir_arg a = { path, plen, { 0 } };
	int rc;

	if (plen == 0)
		return kv_err_set(err, -EBUSY, "cannot remove the root");
	rc = kv_index_update(s->idx, rmdir_txn, &a, err);
	if (rc == -ENOTEMPTY)
		explain_hidden(s, path, plen, err);
	return rc;
}

/* --- readdir: two ordered streams (keys, directories) merged by entry name --- */

struct dstream {
	struct kv_cursor *c;
	const char *pfx;
	size_t plen;
	char key[KV_KEY_MAX + 1]; /* the key the current entry comes from */
	size_t klen;
	char name[KV_KEY_MAX + 1];
	size_t nlen;
	struct kv_record rec;
	int sub; /* the entry is a directory implied by deeper keys */
	int valid;
};

/* Turn the cursor's current key into an entry, skipping names a file system cannot show. */
static int ds_load(struct dstream *d, int rc, const char *k, size_t kl)
{
	for (;;) {
		const char *rest, *slash;
		size_t rlen;

		if (rc == -ENOENT ||
		    (rc == 0 && (kl < d->plen || memcmp(k, d->pfx, d->plen) != 0))) {
			d->valid = 0;
			return 0;
		}
		if (rc < 0)
			return rc;
		rest = k + d->plen;
		rlen = kl - d->plen;
		slash = memchr(rest, '/', rlen);
		d->nlen = slash != NULL ? (size_t)(slash - rest) : rlen;
		d->sub = slash != NULL;
		memcpy(d->name, rest, d->nlen);
		d->name[d->nlen] = '\0';
		if (d->nlen > 0 && strcmp(d->name, ".") != 0 && strcmp(d->name, "..") != 0) {
			memcpy(d->key, k, kl);
			d->klen = kl;
			d->valid = 1;
			return 0;
		}
		rc = kv_cursor_next(d->c, &k, &kl, &d->rec);
	}
}

static int ds_advance(struct dstream *d)
{
	const char *k;
	size_t kl;
	int rc;

	if (d->sub) {
		/* Skip the subtree: the next key after "pfx name /" is "pfx name 0". */
		char seek[KV_KEY_MAX + 2];

		memcpy(seek, d->pfx, d->plen);
		memcpy(seek + d->plen, d->name, d->nlen);
		seek[d->plen + d->nlen] = '/' + 1;
		rc = kv_cursor_seek(d->c, seek, d->plen + d->nlen + 1, &k, &kl, &d->rec);
	} else {
		rc = kv_cursor_next(d->c, &k, &kl, &d->rec);
	}
	return ds_load(d, rc, k, kl);
}

/* Open a stream at key at (alen 0: at the prefix); none: the stream has nothing left. */
static int ds_open(struct kv_store *s, struct dstream *d, enum kv_table t, const char *pfx,
		   size_t plen, const char *at, size_t alen, int none, struct kv_err *err)
{
	const char *k = NULL;
	size_t kl = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	d->pfx = pfx;
	d->plen = plen;
	if (none)
		return 0;
	rc = kv_cursor_open(s->idx, t, &d->c, err);
	if (rc < 0)
		return rc;
	rc = alen > 0 ? kv_cursor_seek(d->c, at, alen, &k, &kl, &d->rec) :
			kv_cursor_seek(d->c, pfx, plen, &k, &kl, &d->rec);
	return ds_load(d, rc, k, kl);
}

static int name_cmp(const struct dstream *a, const struct dstream *b)
{
	size_t n = a->nlen < b->nlen ? a->nlen : b->nlen;
	int c = memcmp(a->name, b->name, n);

	return c != 0 ? c : (a->nlen > b->nlen) - (a->nlen < b->nlen);
}

int kv_store_readdir(struct kv_store *s, const char *dir, size_t dlen, struct kv_dirpos *pos,
		     kv_dirent_fn fn, void *arg, struct kv_err *err)
{
	char pfx[KV_KEY_MAX + 1];
	struct kv_dirpos *p = pos != NULL ? pos : calloc(1, sizeof(*p));
	struct dstream *ks = calloc(2, sizeof(*ks)), *ds; /* keys, explicit directories */
	size_t plen = 0;
	int rc = 0, resume;

	if (ks == NULL || p == NULL) {
		rc = kv_err_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	ds = ks + 1;
	resume = p->started;
	if (dlen > 0) {
		rc = kv__with_slash(dir, dlen, pfx);
		if (rc < 0)
			goto out;
		plen = (size_t)rc;
	}
	rc = ds_open(s, ks, KV_KEYS, pfx, plen, p->key, resume ? p->klen : 0, resume && !p->kvalid,
		     err);
	if (rc == 0)
		rc = ds_open(s, ds, KV_DIRS, pfx, plen, p->dkey, resume ? p->dlen : 0,
			     resume && !p->dvalid, err);
	p->started = 1;
	p->done = 0;
	while (rc == 0 && (ks->valid || ds->valid)) {
		struct dstream *d;
		struct kv_record rec;

		if (!ds->valid || (ks->valid && name_cmp(ks, ds) < 0))
			d = ks;
		else if (!ks->valid || name_cmp(ks, ds) > 0)
			d = ds;
		else
			d = ks->sub ? ds : ks; /* same name: a file, else the explicit dir */
		if (d->nlen != p->lastlen || memcmp(d->name, p->last, p->lastlen) != 0) {
			if (d->sub)
				implied_dir(s, &rec);
			else
				rec = d->rec;
			if (fn(d->name, d->nlen, &rec, arg) != 0)
				break;
			memcpy(p->last, d->name, d->nlen);
			p->lastlen = d->nlen;
		}
		rc = ds_advance(d);
	}
	/* Remember where each source stands: the entry not given yet. */
	p->kvalid = ks->valid;
	p->klen = ks->valid ? ks->klen : 0;
	memcpy(p->key, ks->key, p->klen);
	p->dvalid = ds->valid;
	p->dlen = ds->valid ? ds->klen : 0;
	memcpy(p->dkey, ds->key, p->dlen);
	p->done = rc == 0 && !ks->valid && !ds->valid;
out:
	if (ks != NULL) {
		kv_cursor_close(ks[0].c);
		kv_cursor_close(ks[1].c);
	}
	free(ks);
	if (p != pos)
		free(p);
	return rc;
}

/* --- metadata, symlinks, special files --- */

struct meta_arg {
	struct kv_store *s;
	const char *path;
	size_t plen;
	const struct kv_meta *meta;
	int root; /* the record of the root: "/" in KV_DIRS */
};

static int setmeta_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct meta_arg *a = arg;
	struct kv_record rec;
	enum kv_table t = a->root ? KV_DIRS : KV_KEYS;
	int rc = kv_txn_get(txn, t, a->path, a->plen, &rec, err);

	if (rc == -ENOENT && a->root) {
		implied_dir(a->s, &rec); /* the root's first chmod or utimens */
		rc = 0;
	}
	if (rc == -ENOENT) {
		t = KV_DIRS;
		rc = kv_txn_get(txn, t, a->path, a->plen, &rec, err);
	}
	if (rc == -ENOENT) {
		rc = kv__has_entries(txn, a->path, a->plen, err);
		if (rc > 0) {
			implied_dir(a->s, &rec); /* an implied directory becomes explicit */
			rec.ino = kv_record_ino(NULL, a->path, a->plen); /* as st_ino showed */
			rc = 0;
		} else if (rc == 0) {
			rc = -ENOENT; /* nothing below it either */
		}
	}
	if (rc == -ENOENT)
		return kv_err_set(err, rc, "'%.*s' not found", (int)a->plen, a->path);
	if (rc < 0)
		return rc;
	kv_meta_apply(&rec, a->meta);
	rec.ctime_ns = kv_now_ns();
	rec.gen = kv_new_gen();
	if (a->meta->set_mode && /* an access ACL follows the mode */
	    (rc = kv_xattr_chmod_txn(txn, a->path, a->plen, rec.mode, err)) < 0)
		return rc;
	return kv_txn_put(txn, t, a->path, a->plen, &rec, err);
}

int kv_store_setmeta(struct kv_store *s, const char *path, size_t plen, const struct kv_meta *meta,
		     struct kv_err *err)
{
	struct meta_arg a = { s, path, plen, meta, 0 };
	struct kv_intent in[2];
	struct kv_record rec;
	int rc, held = 0;

	if (plen == 0) {
		a.path = "/";
		a.plen = 1;
		a.root = 1;
		return kv_index_update(s->idx, setmeta_txn, &a, err);
	}
	memset(&in[0], 0, sizeof(in[0]));
	in[0].op = KV_OP_META;
	rc = kv__acquire(s, path, plen, &in[0], err); /* not while a writer holds the key */
	if (rc < 0)
		return rc;
	/* Nor while a writer holds another name of the same file (links.c). */
	if (kv_index_get(s->idx, KV_KEYS, path, plen, &rec, NULL) == 0)
		rc = kv__lock_vkey(s, path, plen, &rec, &in[1], &held, err);
	if (rc == 0)
		rc = kv_index_update(s->idx, setmeta_txn, &a, err);
	kv__unlock_vkey(s, path, plen, &rec, held);
	(void)kv_intents_release(s->ints, path, plen, NULL);
	return rc;
}

struct symlink_arg {
	const char *path;
	size_t plen;
	struct kv_record rec;
};

static int symlink_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct symlink_arg *a = arg;
	int rc = kv__file_above(txn, a->path, a->plen, err);

	if (rc < 0)
		return rc;
	rc = exists_in_txn(txn, a->path, a->plen, err);
	if (rc < 0)
		return rc;
	if (rc > 0)
		return kv_err_set(err, -EEXIST, "'%.*s' exists", (int)a->plen, a->path);
	rc = kv_txn_put(txn, KV_KEYS, a->path, a->plen, &a->rec, err);
	return rc < 0 ? rc : kv__dir_changed(txn, a->path, a->plen, err);
}

/* Store a->rec, a record with no value on any shard (a symlink or a special file), as the
 * new key a->path: under the key's lock, in one index transaction. */
static int store_valueless(struct kv_store *s, struct symlink_arg *a, struct kv_err *err)
{
	struct kv_intent in;
	int rc;

	memset(&in, 0, sizeof(in));
	in.op = KV_OP_PUT;
	rc = kv__acquire(s, a->path, a->plen, &in, err);
	if (rc < 0)
		return rc;
	rc = kv_index_update(s->idx, symlink_txn, a, err);
	(void)kv_intents_release(s->ints, a->path, a->plen, NULL);
	return rc;
}

int kv_store_symlink(struct kv_store *s, const char *path, size_t plen, const char *target,
		     const struct kv_meta *meta, struct kv_err *err)
{
	struct symlink_arg *a = calloc(1, sizeof(*a));
	size_t tlen = strlen(target);
	int rc = kv_key_check_new(path, plen, err);

	if (a == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	if (rc == 0 && tlen > KV_TARGET_MAX)
		rc = kv_err_set(err, -ENAMETOOLONG, "symlink target longer than %d bytes",
				KV_TARGET_MAX);
	if (rc < 0)
		goto out;
	a->path = path;
	a->plen = plen;
	kv_record_new(&a->rec, KV_TYPE_LNK, meta);
	a->rec.mode = 0777;
	a->rec.size = tlen;
	a->rec.target_len = (uint16_t)tlen;
	memcpy(a->rec.target, target, tlen + 1);
	rc = store_valueless(s, a, err);
out:
	free(a);
	return rc;
}

int kv_store_mknod(struct kv_store *s, const char *path, size_t plen, uint8_t type, uint64_t rdev,
		   const struct kv_meta *meta, struct kv_err *err)
{
	struct symlink_arg *a;
	int rc = kv_key_check_new(path, plen, err);

	if (rc < 0)
		return rc;
	if (type < KV_TYPE_FIFO || type > KV_TYPE_LAST)
		return kv_err_set(err, -EINVAL, "mknod makes special files only");
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	a->path = path;
	a->plen = plen;
	kv_record_new(&a->rec, type, meta);
	if (type == KV_TYPE_CHR || type == KV_TYPE_BLK)
		a->rec.rdev = rdev;
	rc = store_valueless(s, a, err);
	free(a);
	return rc;
}
