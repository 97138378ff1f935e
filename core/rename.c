/* rename.c — renaming keys and directories.
 *
 * A key's shard path depends on its name, so renaming a value means copying it to the new
 * key's placement (as temporary uploads), then one COMMIT intent on the destination key
 * that MOVEs them into place, writes the new record and removes the old one in a single
 * index transaction, and deletes the old files. The source key is held by a lock-only
 * intent meanwhile. A directory is renamed key by key (not atomic as a whole). The record
 * keeps its inode number (an older record without one gets the number its old name made),
 * and a file with no value (symlink, special file) is moved in the index alone.
 *
 * Hard links (links.c): a name of a linked file that is not its value key is renamed in
 * the index alone; the value key's value is copied as above and the new name becomes the
 * value key of every name. The unlink of a value key is the same copy onto another name
 * of the inode (kv__move_value_to), which becomes the value key. Both hold the value
 * key's lock, and their records go in the order old name out, new name in, so that the
 * index's storing under every name (index.h) never reaches the name that goes.
 *
 * Called on the mount's FUSE threads (through links.c's kv_store_rename, or its unlink of
 * a value key); a value's copy blocks on the shards, the key's lock held meanwhile.
 */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crash.h"
#include "sys.h"
#include "xattr.h"

struct rename_ctx {
	struct kv_store *s;
	const char *from, *to;
	size_t flen, tlen;
	unsigned flags;
	struct kv_intent *in;	/* on `to` */
	struct kv_intent *lock; /* on `from` */
	struct kv_record src, dst;
	int have_dst;
	int unlink;		 /* from goes; to, another name of its inode, takes the value */
	struct kv_intent *vlock; /* on src's value key, when another name's (held) */
	int vheld;
};

static int dir_exists(struct kv_store *s, const char *path, size_t plen)
{
	struct kv_record rec;

	return kv_store_dir_get(s, path, plen, &rec, NULL) == 0;
}

/* Upload the source value to temporary paths on the destination's placement. */
static int stage_copy(struct rename_ctx *c, struct kv_record *newrec, struct kv_err *err)
{
	const struct kv_shards *sh = &c->s->cfg.shards;
	int order[KV_MAX_REPLICAS], n, i, rc;
	char urls[KV_MAX_REPLICAS][KV_URL_MAX];
	const char *dst[KV_MAX_REPLICAS];
	uint64_t tmp = kv_new_gen();

	n = kv_place(sh, c->to, c->tlen, c->s->cfg.replicas, order);
	newrec->nrep = (uint8_t)n;
	for (i = 0; i < n; i++) {
		(void)snprintf(newrec->rep[i], sizeof(newrec->rep[i]), "%s", sh->v[order[i]].name);
		(void)kv_fileref_add(c->in->undo, &c->in->nundo, KV_INTENT_FILES, newrec->rep[i],
				     c->to, c->tlen, tmp);
		rc = kv__ref_url(c->s, &c->in->undo[i], urls[i], sizeof(urls[i]), err);
		if (rc < 0)
			return rc;
		dst[i] = urls[i];
	}
	rc = kv_intents_update(c->s->ints, c->to, c->tlen, c->in, err);
	if (rc == 0)
		rc = kv__copy_value(c->s, c->from, c->flen, &c->src, dst, n, err);
	kv_crash_point("rename.staged"); /* the copies are at temporary paths */
	return rc;
}

static void add_recop(struct kv_intent *in, const char *key, size_t klen, uint64_t gen,
		      const struct kv_record *rec)
{
	struct kv_recop *op = &in->recops[in->nrecops++];

	op->klen = (uint16_t)klen;
	memcpy(op->key, key, klen);
	op->expect_gen = gen;
	op->remove = rec == NULL;
	if (rec != NULL)
		op->rec = *rec;
}

/* The record the destination gets: src's, with a new name's link count and value key. */
static void renamed_record(struct rename_ctx *c, struct kv_record *newrec, int moves)
{
	*newrec = c->src;
	newrec->ino = kv_record_ino(&c->src, c->from, c->flen); /* a rename keeps st_ino */
	newrec->gen = kv_new_gen();
	newrec->ctime_ns = kv_now_ns();
	if (c->unlink)
		newrec->nlink = c->src.nlink - 1;
	if (newrec->nlink > 1 && moves) {
		memcpy(newrec->vkey, c->to, c->tlen);
		newrec->vkey_len = (uint16_t)c->tlen;
	} else if (newrec->nlink <= 1) {
		newrec->vkey_len = 0;
	}
	newrec->vkey[newrec->vkey_len] = '\0';
}

/* Files the old names held that the new record does not reference. */
static void rename_cleanup(struct rename_ctx *c, const struct kv_record *newrec, int moves)
{
	struct kv_intent *in = c->in;
	int i;

	for (i = 0; moves && i < c->src.nrep; i++)
		(void)kv_fileref_add(in->cleanup, &in->ncleanup, KV_INTENT_FILES, c->src.rep[i],
				     c->from, c->flen, 0);
	if (!c->have_dst || !kv_record_owns_value(&c->dst, c->to, c->tlen))
		return;
	for (i = 0; i < c->dst.nrep; i++)
		if (!kv_record_has_replica(newrec, c->dst.rep[i]) ||
		    !kv_record_owns_value(newrec, c->to, c->tlen))
			(void)kv_fileref_add(in->cleanup, &in->ncleanup, KV_INTENT_FILES,
					     c->dst.rep[i], c->to, c->tlen, 0);
}

static int rename_locked(struct rename_ctx *c, struct kv_err *err)
{
	struct kv_record newrec;
	struct kv_intent *in = c->in;
	int i, rc, moves;

	rc = kv_index_get(c->s->idx, KV_KEYS, c->from, c->flen, &c->src, err);
	if (rc == 0 && !c->unlink)
		rc = kv__lock_vkey(c->s, c->from, c->flen, &c->src, c->vlock, &c->vheld, err);
	if (rc < 0)
		return rc;
	rc = kv_index_get(c->s->idx, KV_KEYS, c->to, c->tlen, &c->dst, err);
	c->have_dst = rc == 0;
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (c->unlink && (!c->have_dst || c->dst.ino != c->src.ino || c->src.nlink < 2))
		return kv_err_set(err, -EAGAIN, "the names of '%.*s' changed", (int)c->flen,
				  c->from);
	if (c->have_dst && (c->flags & KV_RENAME_NOREPLACE))
		return kv_err_set(err, -EEXIST, "'%.*s' exists", (int)c->tlen, c->to);
	if (!c->have_dst && dir_exists(c->s, c->to, c->tlen))
		return kv_err_set(err, -EISDIR, "'%.*s' is a directory", (int)c->tlen, c->to);
	moves = c->src.type == KV_TYPE_REG && kv_record_owns_value(&c->src, c->from, c->flen);
	renamed_record(c, &newrec, moves);
	if (moves) {
		newrec.nrep = 0;
		rc = stage_copy(c, &newrec, err);
		if (rc < 0)
			return rc;
		for (i = 0; i < in->nundo; i++)
			in->moves[in->nmoves++] = in->undo[i];
	}
	in->phase = KV_PHASE_COMMIT;
	in->nundo = 0;
	if (c->src.nlink > 1) {
		add_recop(in, c->from, c->flen, c->src.gen, NULL);
		add_recop(in, c->to, c->tlen, c->have_dst ? c->dst.gen : 0, &newrec);
	} else {
		add_recop(in, c->to, c->tlen, c->have_dst ? c->dst.gen : 0, &newrec);
		add_recop(in, c->from, c->flen, c->src.gen, NULL);
	}
	rename_cleanup(c, &newrec, moves);
	rc = kv_intents_update(c->s->ints, c->to, c->tlen, in, err);
	if (rc < 0)
		return rc;
	return 1; /* committed below, by the caller */
}

/* Rename from to to with both names locked by the caller's intents (c->in on to). */
static int rename_run(struct rename_ctx *c, struct kv_err *err)
{
	int rc;

	kv_crash_point("rename.locked"); /* both keys held, nothing copied */
	rc = rename_locked(c, err);
	if (rc == 1)
		rc = kv__exec_commit(c->s, c->to, c->tlen, c->in, err);
	else
		(void)kv__exec_undo(c->s, c->to, c->tlen, c->in);
	kv__unlock_vkey(c->s, c->from, c->flen, &c->src, c->vheld);
	return rc;
}

static struct rename_ctx *rename_ctx_new(struct kv_store *s, const char *from, size_t flen,
					 const char *to, size_t tlen, unsigned flags)
{
	struct rename_ctx *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->in = calloc(3, sizeof(*c->in))) == NULL) {
		free(c);
		return NULL;
	}
	c->lock = c->in + 1;
	c->vlock = c->in + 2;
	c->s = s;
	c->from = from;
	c->flen = flen;
	c->to = to;
	c->tlen = tlen;
	c->flags = flags;
	c->in->op = KV_OP_RENAME;
	c->lock->op = KV_OP_LOCK;
	return c;
}

static void rename_ctx_free(struct rename_ctx *c)
{
	free(c->in);
	free(c);
}

static int rename_key(struct kv_store *s, const char *from, size_t flen, const char *to,
		      size_t tlen, unsigned flags, struct kv_err *err)
{
	struct rename_ctx *c = rename_ctx_new(s, from, flen, to, tlen, flags);
	int rc;

	if (c == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	rc = kv__acquire(s, to, tlen, c->in, err);
	if (rc < 0)
		goto out;
	rc = kv__acquire(s, from, flen, c->lock, err);
	if (rc < 0) {
		(void)kv_intents_release(s->ints, to, tlen, NULL);
		goto out;
	}
	rc = rename_run(c, err);
	(void)kv_intents_release(s->ints, from, flen, NULL);
out:
	rename_ctx_free(c);
	return rc;
}

int kv__move_value_to(struct kv_store *s, const char *from, size_t flen, const char *to,
		      size_t tlen, struct kv_err *err)
{
	struct rename_ctx *c = rename_ctx_new(s, from, flen, to, tlen, 0);
	int rc;

	if (c == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	c->unlink = 1;
	c->in->op = KV_OP_DELETE; /* recops: from goes, to is replaced (no rename's xattrs) */
	rc = kv__acquire(s, to, tlen, c->in, err);
	if (rc == 0)
		rc = rename_run(c, err);
	rename_ctx_free(c);
	return rc;
}

struct dirmove_arg {
	const char *from, *to;
	size_t flen, tlen;
	int top; /* the renamed directory itself, not one below it */
};

/* Move a KV_DIRS record (if there is one), and its extended attributes, in one
 * transaction; the renamed directory's change of name changes the directories it leaves
 * and enters. */
static int move_dirs_txn(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct dirmove_arg *a = arg;
	struct kv_record rec;
	int rc = kv_txn_get(txn, KV_DIRS, a->from, a->flen, &rec, err);

	if (rc == 0)
		rc = kv_xattr_move_txn(txn, a->from, a->flen, a->to, a->tlen, err);
	if (rc == 0) {
		rec.ino = kv_record_ino(&rec, a->from, a->flen); /* kept under the new name */
		rc = kv_txn_del(txn, KV_DIRS, a->from, a->flen, err);
		if (rc == 0 && a->top)
			rec.ctime_ns = kv_now_ns();
		if (rc == 0)
			rc = kv_txn_put(txn, KV_DIRS, a->to, a->tlen, &rec, err);
	}
	if (rc == -ENOENT)
		rc = 0;
	if (rc == 0 && a->top)
		rc = kv__dir_changed(txn, a->from, a->flen, err);
	if (rc == 0 && a->top)
		rc = kv__dir_changed(txn, a->to, a->tlen, err);
	return rc;
}

/* The first key (of table t) under prefix, into key; -ENOENT when none. */
static int first_under(struct kv_store *s, enum kv_table t, const char *prefix, size_t plen,
		       char *key, size_t *klen)
{
	struct kv_cursor *c;
	const char *k;
	size_t kl;
	int rc = kv_cursor_open(s->idx, t, &c, NULL);

	if (rc < 0)
		return rc;
	rc = kv_cursor_seek(c, prefix, plen, &k, &kl, NULL);
	if (rc == 0 && (kl < plen || memcmp(k, prefix, plen) != 0))
		rc = -ENOENT;
	if (rc == 0) {
		memcpy(key, k, kl);
		*klen = kl;
	}
	kv_cursor_close(c);
	return rc;
}

/* The length of the longest key (of table t) under prefix; 0 when there is none. */
static int longest_under(struct kv_store *s, enum kv_table t, const char *prefix, size_t plen,
			 size_t *longest)
{
	struct kv_cursor *c;
	const char *k;
	size_t kl;
	int rc = kv_cursor_open(s->idx, t, &c, NULL);

	*longest = 0;
	if (rc < 0)
		return rc;
	for (rc = kv_cursor_seek(c, prefix, plen, &k, &kl, NULL); rc == 0;
	     rc = kv_cursor_next(c, &k, &kl, NULL)) {
		if (kl < plen || memcmp(k, prefix, plen) != 0)
			break;
		if (kl > *longest)
			*longest = kl;
	}
	kv_cursor_close(c);
	return rc == -ENOENT ? 0 : rc;
}

/* May the tree under from/ be renamed to to/? Checked before anything moves, so that a
 * refusal leaves the tree whole rather than half renamed. */
static int rename_dir_check(struct kv_store *s, const char *from, size_t flen, const char *to,
			    size_t tlen, struct kv_err *err)
{
	char pfx[KV_KEY_MAX + 1], key[KV_KEY_MAX + 1];
	struct kv_record rec;
	size_t klen, lk, ld;
	int rc;

	if (tlen > flen && memcmp(to, from, flen) == 0 && to[flen] == '/')
		return kv_err_set(err, -EINVAL, "cannot move a directory into itself");
	if (kv_index_get(s->idx, KV_KEYS, to, tlen, &rec, NULL) == 0)
		return kv_err_set(err, -ENOTDIR, "'%.*s' is not a directory", (int)tlen, to);
	if (flen + 1 > KV_KEY_MAX || tlen + 1 > KV_KEY_MAX)
		return kv_err_set(err, -ENAMETOOLONG, "name too long");
	/* The destination may be an empty directory, never one with files or directories. */
	memcpy(pfx, to, tlen);
	pfx[tlen] = '/';
	if (first_under(s, KV_KEYS, pfx, tlen + 1, key, &klen) == 0 ||
	    first_under(s, KV_DIRS, pfx, tlen + 1, key, &klen) == 0)
		return kv_err_set(err, -ENOTEMPTY, "'%.*s' is not empty", (int)tlen, to);
	memcpy(pfx, from, flen);
	pfx[flen] = '/';
	rc = longest_under(s, KV_KEYS, pfx, flen + 1, &lk);
	if (rc == 0)
		rc = longest_under(s, KV_DIRS, pfx, flen + 1, &ld);
	if (rc < 0)
		return kv_err_set(err, rc, "listing '%.*s': %s", (int)flen, from, kv_strerror(rc));
	if (ld > lk)
		lk = ld;
	if (lk > 0 && lk - flen + tlen > KV_KEY_MAX)
		return kv_err_set(err, -ENAMETOOLONG, "a name under '%.*s' would become too long",
				  (int)tlen, to);
	return 0;
}

static int rename_dir(struct kv_store *s, const char *from, size_t flen, const char *to,
		      size_t tlen, struct kv_err *err)
{
	char pfx[KV_KEY_MAX + 1], key[KV_KEY_MAX + 1], dst[KV_KEY_MAX + 1];
	struct dirmove_arg a;
	size_t klen;
	int rc = rename_dir_check(s, from, flen, to, tlen, err);

	if (rc < 0)
		return rc;
	memcpy(pfx, from, flen);
	pfx[flen] = '/';
	/* Keys first, one at a time, always the first one left under the old name. The check
	 * above bounds every new name; a key added meanwhile is checked again here. */
	while ((rc = first_under(s, KV_KEYS, pfx, flen + 1, key, &klen)) == 0) {
		if (klen - flen + tlen > KV_KEY_MAX)
			return kv_err_set(err, -ENAMETOOLONG, "'%.*s' would become too long",
					  (int)klen, key);
		memcpy(dst, to, tlen);
		memcpy(dst + tlen, key + flen, klen - flen);
		rc = rename_key(s, key, klen, dst, tlen + klen - flen, 0, err);
		if (rc < 0)
			return rc;
	}
	if (rc != -ENOENT)
		return rc;
	kv_crash_point("rename_dir.keys"); /* every key moved, no directory record yet */
	/* Then the directory records: subdirectories, and the directory itself. */
	while (first_under(s, KV_DIRS, pfx, flen + 1, key, &klen) == 0) {
		struct dirmove_arg sub = { key, dst, klen, tlen + klen - flen, 0 };

		if (klen - flen + tlen > KV_KEY_MAX)
			return kv_err_set(err, -ENAMETOOLONG, "'%.*s' would become too long",
					  (int)klen, key);
		memcpy(dst, to, tlen);
		memcpy(dst + tlen, key + flen, klen - flen);
		rc = kv_index_update(s->idx, move_dirs_txn, &sub, err);
		if (rc < 0)
			return rc;
	}
	a.from = from;
	a.flen = flen;
	a.to = to;
	a.tlen = tlen;
	a.top = 1;
	return kv_index_update(s->idx, move_dirs_txn, &a, err);
}

int kv__rename(struct kv_store *s, const char *from, size_t flen, const char *to, size_t tlen,
	       unsigned flags, struct kv_err *err)
{
	struct kv_record rec;
	int rc = kv_key_check(from, flen, err);

	if (rc == 0)
		rc = kv_key_check_new(to, tlen, err); /* a new name: one the mount can show */
	if (rc < 0)
		return rc;
	if (flen == tlen && memcmp(from, to, flen) == 0)
		return 0;
	rc = kv_index_get(s->idx, KV_KEYS, from, flen, &rec, err);
	if (rc == 0)
		return rename_key(s, from, flen, to, tlen, flags, err);
	if (rc != -ENOENT)
		return rc;
	if (!dir_exists(s, from, flen))
		return kv_err_set(err, -ENOENT, "'%.*s' not found", (int)flen, from);
	if ((flags & KV_RENAME_NOREPLACE) &&
	    (dir_exists(s, to, tlen) || kv_index_get(s->idx, KV_KEYS, to, tlen, &rec, NULL) == 0))
		return kv_err_set(err, -EEXIST, "'%.*s' exists", (int)tlen, to);
	return rename_dir(s, from, flen, to, tlen, err);
}
