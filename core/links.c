/* links.c — hard links: a second name for a file (link), one name of a linked file going
 * (unlink) while the others keep the inode, and the store's delete and rename entries,
 * which know of links (a rename onto another name of the same file does nothing) and
 * leave the rest to write.c's kv__delete and rename.c's kv__rename.
 *
 * Every name of a linked file holds the same full record (record.h: nlink, vkey); the
 * index stores a change under one name under all of them (index.h, KV_LINKS). The value
 * stays on the shards at the path of one name, the value key. So link is an index
 * transaction alone, and so is the unlink of any name but the value key; unlinking the
 * value key moves the value to another name first (rename.c, kv__move_value_to), so the
 * value key stays a live name.
 *
 * Locks: the value key's lock stands for the inode. Whatever changes nlink, the value key
 * or the value (link, unlink, rename of a linked name, a put or setmeta through any name)
 * holds it besides its own names' locks (kv__lock_vkey, write.c), so those run one at a
 * time per inode and a writer's record of the inode never meets a changed link count.
 * Callers: the mount's FUSE threads (link, unlink, rename), tinykvd's workers (DELETE).
 */
#include "store_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"
#include "xattr.h"

/* Is rec a file with more than one name? */
static int linked(const struct kv_record *rec)
{
	return rec->nlink > 1;
}

/* --- link --- */

struct link_arg {
	const char *from, *to;
	size_t flen, tlen;
	struct kv_record rec; /* from's, as read under its locks */
};

static int link_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct link_arg *a = arg;
	struct kv_record cur;
	int rc = kv_txn_get(txn, KV_KEYS, a->to, a->tlen, &cur, NULL);

	if (rc == 0 || kv_txn_get(txn, KV_DIRS, a->to, a->tlen, &cur, NULL) == 0)
		return kv_err_set(err, -EEXIST, "'%.*s' exists", (int)a->tlen, a->to);
	rc = kv__file_fits(txn, a->to, a->tlen, err);
	if (rc == -EISDIR) /* a directory implied by keys below it */
		return kv_err_set(err, -EEXIST, "'%.*s' exists", (int)a->tlen, a->to);
	if (rc < 0)
		return rc;
	rc = kv_txn_get(txn, KV_KEYS, a->from, a->flen, &cur, err);
	if (rc < 0)
		return rc;
	cur.ino = kv_record_ino(&cur, a->from, a->flen); /* an old record's: kept, stored */
	cur.nlink = (cur.nlink > 0 ? cur.nlink : 1) + 1;
	cur.ctime_ns = kv_now_ns();
	if (cur.vkey_len == 0 && cur.type == KV_TYPE_REG) {
		memcpy(cur.vkey, a->from, a->flen);
		cur.vkey[a->flen] = '\0';
		cur.vkey_len = (uint16_t)a->flen;
	}
	/* The old name first (it gets its row), then the new one: stored under both. */
	rc = kv_txn_put(txn, KV_KEYS, a->from, a->flen, &cur, err);
	if (rc == 0)
		rc = kv_txn_put(txn, KV_KEYS, a->to, a->tlen, &cur, err);
	if (rc == 0) /* one inode, one set of attributes (an ACL among them) */
		rc = kv_xattr_share_txn(txn, a->from, a->flen, err);
	return rc < 0 ? rc : kv__dir_changed(txn, a->to, a->tlen, err);
}

/* With both names locked: from must be a file (not a directory), to must not exist. */
static int link_locked(struct kv_store *s, struct link_arg *a, struct kv_intent *vlock,
		       struct kv_err *err)
{
	struct kv_record dir;
	int rc = kv_index_get(s->idx, KV_KEYS, a->from, a->flen, &a->rec, err);
	int held;

	if (rc == -ENOENT && kv_store_dir_get(s, a->from, a->flen, &dir, NULL) == 0)
		return kv_err_set(err, -EPERM, "'%.*s' is a directory", (int)a->flen, a->from);
	if (rc == -ENOENT)
		return kv_err_set(err, -ENOENT, "'%.*s' not found", (int)a->flen, a->from);
	if (rc < 0)
		return rc;
	rc = kv__lock_vkey(s, a->from, a->flen, &a->rec, vlock, &held, err);
	if (rc < 0)
		return rc;
	rc = kv_index_update(s->idx, link_txn, a, err);
	kv__unlock_vkey(s, a->from, a->flen, &a->rec, held);
	return rc;
}

int kv_store_link(struct kv_store *s, const char *from, size_t flen, const char *to, size_t tlen,
		  struct kv_err *err)
{
	struct link_arg a = { from, to, flen, tlen, { 0 } };
	struct kv_intent *in;
	int rc = kv_key_check(from, flen, err);

	if (rc == 0)
		rc = kv_key_check_new(to, tlen, err);
	if (rc < 0)
		return rc;
	if (flen == tlen && memcmp(from, to, flen) == 0)
		return kv_err_set(err, -EEXIST, "'%.*s' exists", (int)tlen, to);
	in = calloc(3, sizeof(*in));
	if (in == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	in[0].op = KV_OP_LOCK;
	in[1].op = KV_OP_LOCK;
	rc = kv__acquire(s, to, tlen, &in[0], err); /* no put may make `to` meanwhile */
	if (rc < 0)
		goto out;
	rc = kv__acquire(s, from, flen, &in[1], err);
	if (rc == 0) {
		rc = link_locked(s, &a, &in[2], err);
		(void)kv_intents_release(s->ints, from, flen, NULL);
	}
	(void)kv_intents_release(s->ints, to, tlen, NULL);
out:
	free(in);
	return rc;
}

/* --- unlink --- */

struct unlink_arg {
	const char *key;
	size_t klen;
	char other[KV_KEY_MAX + 1]; /* another name of the inode */
	size_t olen;
};

static int other_name(const char *row, size_t rlen, const void *val, size_t len, void *arg)
{
	struct unlink_arg *a = arg;

	(void)row;
	(void)rlen;
	if (len == 0 || len > KV_KEY_MAX || (len == a->klen && memcmp(val, a->key, len) == 0))
		return 0;
	memcpy(a->other, val, len);
	a->other[len] = '\0';
	a->olen = len;
	return 1;
}

/* Find another name of key's inode (rec) into a->other; -ENOENT when the rows list none. */
static int find_other_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct unlink_arg *a = arg;
	struct kv_record rec;
	int rc = kv_txn_get(txn, KV_KEYS, a->key, a->klen, &rec, err);

	if (rc < 0)
		return rc;
	a->olen = 0;
	rc = kv_txn_each_link(txn, rec.ino, other_name, a, err);
	if (rc < 0)
		return rc;
	return a->olen > 0 ? 0 : -ENOENT;
}

/* A name that does not hold the value goes: the others count one name less. */
static int unlink_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct unlink_arg *a = arg;
	struct kv_record rec;
	int rc = find_other_txn(txn, a, err);

	if (rc == 0)
		rc = kv_txn_get(txn, KV_KEYS, a->key, a->klen, &rec, err);
	if (rc == 0)
		rc = kv_txn_del(txn, KV_KEYS, a->key, a->klen, err);
	if (rc < 0)
		return rc;
	rec.nlink--;
	rec.ctime_ns = kv_now_ns();
	if (rec.nlink <= 1)
		rec.vkey_len = 0; /* the last name is the value key: its own key again */
	rec.vkey[rec.vkey_len] = '\0';
	rc = kv_txn_put(txn, KV_KEYS, a->other, a->olen, &rec, err);
	return rc < 0 ? rc : kv__dir_changed(txn, a->key, a->klen, err);
}

/* Unlink key, one name of a linked file, with key's lock held and its record rec read
 * under it: the index alone, or for the value key the value moved to another name first.
 * 0, 1 when key turns out to be the file's only name now, or -errno. */
static int unlink_locked(struct kv_store *s, const char *key, size_t klen, struct kv_record *rec,
			 struct kv_err *err)
{
	struct unlink_arg a;
	struct kv_intent vlock;
	int held, rc;

	memset(&a, 0, sizeof(a));
	a.key = key;
	a.klen = klen;
	rc = kv__lock_vkey(s, key, klen, rec, &vlock, &held, err);
	if (rc < 0)
		return rc;
	if (!linked(rec)) {
		rc = 1; /* one name left since: a plain delete */
	} else if (rec->type != KV_TYPE_REG || !kv_record_owns_value(rec, key, klen)) {
		rc = kv_index_update(s->idx, unlink_txn, &a, err);
	} else {
		rc = kv_index_view(s->idx, find_other_txn, &a, err);
		if (rc == -ENOENT)
			rc = kv_err_set(err, -KV_ECORRUPT,
					"'%.*s' counts %u names, the index lists no other "
					"(run tinykvd verify)",
					(int)klen, key, rec->nlink);
		if (rc == 0)
			rc = kv__move_value_to(s, key, klen, a.other, a.olen, err);
	}
	kv__unlock_vkey(s, key, klen, rec, held);
	return rc;
}

/* --- the other names --- */

struct names_arg {
	const char *key;
	size_t klen;
	kv_store_name_fn fn;
	void *arg;
};

static int each_other(const char *row, size_t rlen, const void *val, size_t len, void *arg)
{
	struct names_arg *a = arg;

	(void)row;
	(void)rlen;
	if (len == a->klen && memcmp(val, a->key, len) == 0)
		return 0;
	return a->fn(val, len, a->arg);
}

static int names_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct names_arg *a = arg;
	struct kv_record rec;
	int rc = kv_txn_get(txn, KV_KEYS, a->key, a->klen, &rec, err);

	if (rc < 0 || rec.nlink <= 1)
		return rc;
	return kv_txn_each_link(txn, rec.ino, each_other, a, err);
}

int kv_store_other_names(struct kv_store *s, const char *key, size_t klen, kv_store_name_fn fn,
			 void *arg, struct kv_err *err)
{
	struct names_arg a = { key, klen, fn, arg };

	return kv_index_view(s->idx, names_txn, &a, err);
}

/* --- unlink and rename: the entries that know of links --- */

/* Unlink key if it is one name of a linked file: 0, 1 when it is not (any more), -errno. */
static int unlink_name(struct kv_store *s, const char *key, size_t klen, struct kv_err *err)
{
	struct kv_intent *in = calloc(1, sizeof(*in));
	struct kv_record rec;
	int rc;

	if (in == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	in->op = KV_OP_LOCK;
	rc = kv__acquire(s, key, klen, in, err);
	if (rc == 0) {
		rc = kv_index_get(s->idx, KV_KEYS, key, klen, &rec, err);
		if (rc == 0)
			rc = linked(&rec) ? unlink_locked(s, key, klen, &rec, err) : 1;
		(void)kv_intents_release(s->ints, key, klen, NULL);
	}
	free(in);
	return rc;
}

int kv_store_delete(struct kv_store *s, const char *key, size_t klen, struct kv_err *err)
{
	int tries, rc = 0;

	/* A key's names may change between the two looks: try again, a few times. */
	for (tries = 0; tries < 8; tries++) {
		rc = kv__delete(s, key, klen, err);
		if (rc != 1)
			return rc;
		rc = unlink_name(s, key, klen, err);
		if (rc != 1)
			return rc;
	}
	return kv_err_set(err, -EBUSY, "the names of '%.*s' keep changing", (int)klen, key);
}

int kv_store_rename(struct kv_store *s, const char *from, size_t flen, const char *to, size_t tlen,
		    unsigned flags, struct kv_err *err)
{
	struct kv_record src, dst;
	int rc = kv_key_check(from, flen, err);

	if (rc == 0)
		rc = kv_key_check_new(to, tlen, err);
	if (rc < 0 || (flen == tlen && memcmp(from, to, flen) == 0))
		return rc;
	if (kv_index_get(s->idx, KV_KEYS, from, flen, &src, NULL) == 0 &&
	    kv_index_get(s->idx, KV_KEYS, to, tlen, &dst, NULL) == 0) {
		if (flags & KV_RENAME_NOREPLACE)
			return kv_err_set(err, -EEXIST, "'%.*s' exists", (int)tlen, to);
		/* Two names of one file: nothing to do (POSIX). */
		if (linked(&src) && dst.ino == src.ino)
			return 0;
		/* Onto a name of another linked file: that name goes first (not atomically:
		 * a crash between the two leaves the source, and the destination gone). */
		if (linked(&dst) && (rc = unlink_name(s, to, tlen, err)) < 0 && rc != -ENOENT)
			return rc;
	}
	return kv__rename(s, from, flen, to, tlen, flags, err);
}
