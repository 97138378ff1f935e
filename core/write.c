/* write.c — the write protocol (DESIGN §3): puts, deletes, and finishing or undoing
 * intents, for the living writer and for whoever recovers a dead one. Called from any
 * thread (tinykvd's workers and reaper, the mount's FUSE and upload threads, the admin
 * verbs' workers); a struct kv_put is one thread's at a time.
 *
 * Order of effects, for every writer:
 *   1. intent recorded (the key's lock; lists what to undo if we die now)
 *   2. new bytes written to shards: a new key directly at its final paths, a replacement
 *      to temporary paths beside them
 *   3. intent moved to COMMIT (lists the MOVEs, the index change, the files to clean up);
 *      one that MOVEs is also synced into the index before the first MOVE (intents.h),
 *      since from the MOVE until step 4 the index describes the old value
 *   4. temporary files MOVEd onto final paths; index updated and synced (and the
 *      intent's durable copy dropped in the same commit)
 *   5. files no longer referenced deleted; intent dropped
 * A file is only ever deleted when the index does not point at it, so a crash anywhere
 * leaves at worst an orphan file (found by verify), never a record without its file.
 *
 * A new name (a put of a new key, a rename's destination) must fit the tree: not a
 * directory, not below a file (kv__file_fits). That is checked in the index transaction
 * of step 4 itself, as mkdir and symlink check theirs; LMDB runs those one at a time,
 * so of two that clash (a put and a mkdir of one name, a put below a key and a put of
 * the key) the later fails and its uploads are removed as for any failed commit.
 */
#include "store_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "crash.h"
#include "hash.h"
#include "hasher.h"
#include "sys.h"
#include "xattr.h"

struct kv_put {
	struct kv_store *s;
	char key[KV_KEY_MAX + 1];
	size_t klen;
	struct kv_intent *in;
	struct kv_upload *up;
	struct kv_record old, rec;
	struct kv_meta meta;
	int has_meta;
	int update; /* replacing a value: uploads go to temporary paths */
	int n;
	struct kv_md5 *md5;
	struct kv_hasher *hasher; /* md5 beside the upload, for big pieces; NULL until one */
	int inline_md5;		  /* no hasher thread could be had: hash on this one */
	uint64_t written;
	int locked, committed;
	char vkey[KV_KEY_MAX + 1]; /* where the value goes: key, or a linked file's value key */
	size_t vklen;
	struct kv_intent *vlock; /* on vkey when it is not key (vheld); taken only then: an
				  * intent is 45 KiB, zeroed, and most puts are of unlinked files */
	int vheld;
	/* Not zeroed (half the struct, 16 KiB: zeroing it was 2% of tinykvd's CPU under small
	 * PUTs); put_urls writes urls[i] and up_urls[i] for every i < n before any is read. */
	char urls[KV_MAX_REPLICAS][KV_URL_MAX];	   /* final */
	char up_urls[KV_MAX_REPLICAS][KV_URL_MAX]; /* where the bytes go now */
};

/* --- taking a key --- */

static int exec_undo(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
		     int dead);
static int exec_commit(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
		       int dead, struct kv_err *err);

static int recover_one(struct kv_store *s, const char *key, size_t klen, struct kv_intent *dead,
		       struct kv_err *err)
{
	int rc = kv_intents_takeover(s->ints, key, klen, dead, err);

	if (rc < 0)
		return rc;
	if (dead->phase == KV_PHASE_COMMIT)
		return exec_commit(s, key, klen, dead, 1, err);
	return exec_undo(s, key, klen, dead, 1);
}

int kv__acquire(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
		struct kv_err *err)
{
	struct kv_intent *other = malloc(sizeof(*other));
	int64_t deadline = kv_mono_ms() + s->lock_wait_ms;
	int rc, pause_us = 200;

	if (other == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	for (;;) {
		rc = kv_intents_acquire(s->ints, key, klen, in, other, err);
		if (rc == -EOWNERDEAD) {
			rc = recover_one(s, key, klen, other, err);
			if (rc == 0 || rc == -EBUSY)
				continue;
			break;
		}
		if (rc != -EBUSY || kv_mono_ms() >= deadline)
			break;
		(void)usleep((useconds_t)pause_us);
		if (pause_us < 20000)
			pause_us *= 2;
	}
	free(other);
	return rc;
}

/* The value key's lock stands for a linked file's inode (links.c). */
int kv__lock_vkey(struct kv_store *s, const char *key, size_t klen, struct kv_record *rec,
		  struct kv_intent *lock, int *held, struct kv_err *err)
{
	int tries, rc;

	*held = 0;
	for (tries = 0; tries < 8; tries++) {
		char vk[KV_KEY_MAX + 1];
		const char *p;
		size_t vklen;

		if (rec->nlink <= 1 || kv_record_owns_value(rec, key, klen))
			return 0;
		kv_record_vkey(rec, key, klen, &p, &vklen);
		memcpy(vk, p, vklen);
		vk[vklen] = '\0';
		memset(lock, 0, sizeof(*lock));
		lock->op = KV_OP_LOCK;
		rc = kv__acquire(s, vk, vklen, lock, err);
		if (rc < 0)
			return rc;
		/* The value key may have moved before we held it: read again under it. */
		rc = kv_index_get(s->idx, KV_KEYS, key, klen, rec, err);
		if (rc < 0) {
			(void)kv_intents_release(s->ints, vk, vklen, NULL);
			return rc;
		}
		kv_record_vkey(rec, key, klen, &p, &vklen);
		if (rec->nlink > 1 && vklen == strlen(vk) && memcmp(p, vk, vklen) == 0) {
			*held = 1;
			return 0;
		}
		(void)kv_intents_release(s->ints, vk, strlen(vk), NULL);
		if (rec->nlink <= 1)
			return 0;
	}
	return kv_err_set(err, -EBUSY, "the names of '%.*s' keep changing", (int)klen, key);
}

void kv__unlock_vkey(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		     int held)
{
	const char *vk;
	size_t vklen;

	if (!held)
		return;
	kv_record_vkey(rec, key, klen, &vk, &vklen);
	(void)kv_intents_release(s->ints, vk, vklen, NULL);
}

/* --- finishing intents --- */

/* Does the index point at the file ref names? */
static int referenced(struct kv_store *s, const struct kv_fileref *ref)
{
	struct kv_record rec;

	if (ref->tmp)
		return 0;
	if (kv_index_get(s->idx, KV_KEYS, ref->key, ref->klen, &rec, NULL) < 0)
		return 0;
	return rec.type == KV_TYPE_REG && kv_record_has_replica(&rec, ref->shard) &&
	       kv_record_owns_value(&rec, ref->key, ref->klen);
}

/*
 * Intents of a dead owner may have been written by a version up to 0.1.0, which named a
 * temporary upload ".tmp-<id>" where we say "tmp.<id>" (kv_tmp_path_legacy): the intent
 * holds only the id. Recovery (dead != 0 below) therefore MOVEs from the old name when
 * the new one is not there, and deletes both. A living writer's own intent never names
 * an old file, so its writes cost no extra request.
 */

/* DELETE ref; and, for a dead owner's temporary upload, its old name too. */
static int delete_ref(struct kv_store *s, const struct kv_fileref *ref, int dead)
{
	char url[KV_URL_MAX];
	int rc = kv__ref_url(s, ref, url, sizeof(url), NULL);

	if (rc == 0)
		rc = kv_dav_delete(s->dav, url, NULL);
	if (rc == 0 && dead && ref->tmp) {
		rc = kv__legacy_tmp_url(s, ref, url, sizeof(url), NULL);
		if (rc == 0)
			rc = kv_dav_delete(s->dav, url, NULL);
	}
	return rc;
}

/* Delete files the index does not point at. Best effort: what cannot be deleted now is
 * an orphan for verify to find. A shard that has just failed is not even asked: waiting
 * out its timeout again would hold the key's lock (and the client's answer) for nothing.
 * Returns the first error. */
static int delete_unreferenced(struct kv_store *s, const struct kv_fileref *refs, int n, int dead)
{
	int i, first = 0;

	for (i = 0; i < n; i++) {
		int rc;

		if (referenced(s, &refs[i]))
			continue;
		if (!kv__shard_up(s, refs[i].shard)) {
			if (first == 0)
				first = -EIO;
			continue;
		}
		rc = delete_ref(s, &refs[i], dead);
		if (rc < 0) {
			kv__shard_failed(s, refs[i].shard);
			if (first == 0)
				first = rc;
		}
	}
	return first;
}

static int exec_undo(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
		     int dead)
{
	(void)delete_unreferenced(s, in->undo, in->nundo, dead);
	return kv_intents_release(s->ints, key, klen, NULL);
}

int kv__exec_undo(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in)
{
	return exec_undo(s, key, klen, in, 0);
}

static void drop_replica(struct kv_record *rec, const char *shard)
{
	int i, j;

	for (i = j = 0; i < rec->nrep; i++)
		if (strcmp(rec->rep[i], shard) != 0)
			memmove(rec->rep[j++], rec->rep[i], sizeof(rec->rep[i]));
	rec->nrep = (uint8_t)j;
}

static int apply_recops(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	const struct kv_intent *in = arg;
	int i, rc;

	for (i = 0; i < in->nrecops; i++) {
		const struct kv_recop *op = &in->recops[i];
		struct kv_record cur;

		rc = kv_txn_get(txn, KV_KEYS, op->key, op->klen, &cur, err);
		if (rc < 0 && rc != -ENOENT)
			return rc;
		if (op->expect_gen == 0 ? rc == 0 : rc < 0 || cur.gen != op->expect_gen)
			continue; /* changed since: another writer's outcome stands */
		/* A new name (a rename's destination) must fit the tree as it is now; if it
		 * does not, nothing of the operation applies. */
		if (op->expect_gen == 0 && !op->remove &&
		    (rc = kv__file_fits(txn, op->key, op->klen, err)) < 0)
			return rc;
		/* A rename's attributes go with the name (the other recop: its destination;
		 * first, or second when a linked name goes first, rename.c). */
		if (op->remove && rc == 0 && in->op == KV_OP_RENAME && in->nrecops == 2 &&
		    !in->recops[1 - i].remove &&
		    (rc = kv_xattr_move_txn(txn, op->key, op->klen, in->recops[1 - i].key,
					    in->recops[1 - i].klen, err)) < 0)
			return rc;
		/* A mode that changes with the value (a chmod while it was written): a stored
		 * access ACL follows, as after any chmod. */
		if (!op->remove && rc == 0 && cur.mode != op->rec.mode &&
		    (rc = kv_xattr_chmod_txn(txn, op->key, op->klen, op->rec.mode, err)) < 0)
			return rc;
		if (op->remove)
			rc = rc == 0 ? kv_txn_del(txn, KV_KEYS, op->key, op->klen, err) : 0;
		else
			rc = kv_txn_put(txn, KV_KEYS, op->key, op->klen, &op->rec, err);
		/* A name that comes or goes changes its directory (a rename's two sides);
		 * a value replaced in place does not. */
		if (rc == 0 && (op->remove || op->expect_gen == 0 || in->op == KV_OP_RENAME))
			rc = kv__dir_changed(txn, op->key, op->klen, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int kv__apply_recop(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	const struct kv_recop *op = arg;
	struct kv_record cur;
	int rc = kv_txn_get(txn, KV_KEYS, op->key, op->klen, &cur, err);

	if (rc < 0)
		return rc;
	if (cur.gen != op->expect_gen)
		return kv_err_set(err, -EAGAIN, "record of '%.*s' changed", (int)op->klen, op->key);
	if (op->remove)
		return kv_txn_del(txn, KV_KEYS, op->key, op->klen, err);
	return kv_txn_put(txn, KV_KEYS, op->key, op->klen, &op->rec, err);
}

/* MOVE ref's temporary upload onto dst; for a dead owner's, from its old name too. */
static int move_ref(struct kv_store *s, const struct kv_fileref *ref, const char *dst, int dead,
		    struct kv_err *err)
{
	char src[KV_URL_MAX];
	int rc = kv__ref_url(s, ref, src, sizeof(src), err);

	if (rc == 0)
		rc = kv_dav_move(s->dav, src, dst, err);
	if (rc == -ENOENT && dead && ref->tmp) {
		rc = kv__legacy_tmp_url(s, ref, src, sizeof(src), err);
		if (rc == 0)
			rc = kv_dav_move(s->dav, src, dst, err);
	}
	return rc;
}

/* MOVE temporary uploads onto their final paths. A move that fails takes its shard out of
 * the new record; returns how many succeeded, *first_err the first failure. */
static int do_moves(struct kv_store *s, struct kv_intent *in, int dead, int *first_err,
		    struct kv_err *err)
{
	int i, j, moved = 0;

	for (i = 0; i < in->nmoves; i++) {
		struct kv_fileref *m = &in->moves[i], final = *m;
		char dst[KV_URL_MAX];
		int rc;

		final.tmp = 0;
		rc = kv__ref_url(s, &final, dst, sizeof(dst), err);
		if (rc == 0)
			rc = move_ref(s, m, dst, dead, err);
		if (rc == 0 || rc == -ENOENT) {	       /* gone: moved before a crash */
			kv_crash_point("commit.move"); /* one more MOVE done */
			moved++;
			continue;
		}
		kv__shard_failed(s, m->shard);
		if (*first_err == 0)
			*first_err = rc;
		for (j = 0; j < in->nrecops; j++) {
			const char *vk;
			size_t vklen;

			if (in->recops[j].remove)
				continue;
			/* The record whose value this was: by its value key (a linked file's
			 * value may sit at another name's path). */
			kv_record_vkey(&in->recops[j].rec, in->recops[j].key, in->recops[j].klen,
				       &vk, &vklen);
			if (vklen == m->klen && memcmp(vk, m->key, m->klen) == 0)
				drop_replica(&in->recops[j].rec, m->shard);
		}
		/* Whatever that shard holds at the final path is not the new value. */
		(void)kv_fileref_add(in->cleanup, &in->ncleanup, KV_INTENT_FILES, final.shard,
				     final.key, final.klen, 0);
		(void)kv_fileref_add(in->cleanup, &in->ncleanup, KV_INTENT_FILES, m->shard, m->key,
				     m->klen, m->tmp);
	}
	return moved;
}

/* The record change was refused: what the moves put at final paths is unreferenced
 * unless the old record points there too (delete_unreferenced checks). */
static void add_moved_to_cleanup(struct kv_intent *in)
{
	int i;

	for (i = 0; i < in->nmoves; i++)
		(void)kv_fileref_add(in->cleanup, &in->ncleanup, KV_INTENT_FILES,
				     in->moves[i].shard, in->moves[i].key, in->moves[i].klen, 0);
}

static int exec_commit(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
		       int dead, struct kv_err *err)
{
	int first_err = 0, moved, rc = 0;

	kv_crash_point("commit.intent"); /* step 3 done: COMMIT recorded, nothing moved */
	moved = do_moves(s, in, dead, &first_err, err);
	kv_crash_point("commit.moved");
	if (in->nmoves > 0 && moved == 0) {
		/* Nothing reached a final path: the old state stands. */
		in->nrecops = 0;
		rc = first_err;
	} else if (in->nrecops > 0) {
		/* The outcome, and the end of the intent's durable copy, in one commit. */
		rc = kv_intents_commit(s->ints, key, klen, apply_recops, in, err);
		if (rc < 0)
			add_moved_to_cleanup(in);
	}
	kv_crash_point("commit.indexed");
	(void)delete_unreferenced(s, in->cleanup, in->ncleanup, dead);
	kv_crash_point("commit.cleaned");
	(void)kv_intents_release(s->ints, key, klen, NULL);
	return rc;
}

int kv__exec_commit(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
		    struct kv_err *err)
{
	return exec_commit(s, key, klen, in, 0, err);
}

static int recover_cb(const char *key, size_t klen, struct kv_intent *in, void *arg)
{
	struct kv_store *s = ((void **)arg)[0];
	int *done = ((void **)arg)[1];
	struct kv_err err;

	if (recover_one(s, key, klen, in, &err) == 0)
		(*done)++;
	return 0;
}

int kv_store_recover(struct kv_store *s, int *done, struct kv_err *err)
{
	int count = 0, rc;
	void *arg[2] = { s, &count };

	rc = kv_intents_each_dead(s->ints, recover_cb, arg, err);
	if (done != NULL)
		*done = count;
	return rc < 0 ? rc : 0;
}

/* --- put --- */

/* Pieces from this size up are hashed on a thread beside their upload (hasher.h). Smaller
 * ones are hashed inline: their md5 (under 200 us) is not worth two more thread wake-ups,
 * which on a busy machine cost more than they save (measured: pieces of 50 KiB on
 * average made a 64 MiB PUT slower beside than inline, 0.23 s against 0.19 s). */
#define BESIDE_MIN (128 * 1024)

static int put_prepare_intent(struct kv_put *p, const int order[])
{
	const struct kv_shards *sh = &p->s->cfg.shards;
	struct kv_intent *in = p->in;
	int i;

	in->op = p->update ? KV_OP_UPDATE : KV_OP_PUT;
	in->phase = KV_PHASE_PREPARE;
	in->nundo = 0;
	for (i = 0; i < p->n; i++) {
		const char *name = sh->v[order[i]].name;

		if (kv_fileref_add(in->undo, &in->nundo, KV_INTENT_FILES, name, p->vkey, p->vklen,
				   p->update ? p->rec.gen : 0) < 0)
			return -ENOSPC;
		(void)snprintf(p->rec.rep[i], sizeof(p->rec.rep[i]), "%s", name);
	}
	p->rec.nrep = (uint8_t)p->n;
	return 0;
}

static int put_urls(struct kv_put *p, struct kv_err *err)
{
	int i, rc = 0;

	for (i = 0; i < p->n && rc == 0; i++) {
		rc = kv__key_url(p->s, p->rec.rep[i], p->vkey, p->vklen, p->urls[i],
				 sizeof(p->urls[i]), err);
		if (rc == 0)
			rc = kv__ref_url(p->s, &p->in->undo[i], p->up_urls[i],
					 sizeof(p->up_urls[i]), err);
	}
	return rc;
}

/* A new key must not hide a directory or sit below a file (kv__file_fits). */
static int put_fits(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct kv_put *p = arg;

	return kv__file_fits(txn, p->key, p->klen, err);
}

/* A new value for one name of a linked file goes where the inode's value is: the value
 * key's path, on its placement, with the value key (the inode) locked too (links.c). */
static int put_linked(struct kv_put *p, int order[], struct kv_err *err)
{
	const char *vk;
	int rc;

	if (p->vlock == NULL && (p->vlock = calloc(1, sizeof(*p->vlock))) == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	rc = kv__lock_vkey(p->s, p->key, p->klen, &p->old, p->vlock, &p->vheld, err);
	if (rc < 0)
		return rc;
	kv_record_vkey(&p->old, p->key, p->klen, &vk, &p->vklen);
	memcpy(p->vkey, vk, p->vklen);
	p->vkey[p->vklen] = '\0';
	p->n = kv_place(&p->s->cfg.shards, p->vkey, p->vklen, p->s->cfg.replicas, order);
	return 0;
}

int kv_put_begin(struct kv_store *s, const char *key, size_t klen, int64_t size, unsigned flags,
		 const struct kv_meta *meta, struct kv_put **out, struct kv_err *err)
{
	const char *ptrs[KV_MAX_REPLICAS];
	int order[KV_MAX_REPLICAS], rc, i;
	struct kv_put *p;

	*out = NULL;
	rc = kv_key_check_new(key, klen, err);
	if (rc < 0)
		return rc;
	p = malloc(sizeof(*p));
	if (p != NULL)
		memset(p, 0, offsetof(struct kv_put, urls));
	if (p == NULL || (p->in = malloc(sizeof(*p->in))) == NULL ||
	    (s->cfg.checksum && (p->md5 = kv_md5_new()) == NULL)) {
		kv_put_free(p);
		return kv_err_set(err, -ENOMEM, "out of memory");
	}
	kv_intent_clear(p->in);
	p->s = s;
	memcpy(p->key, key, klen);
	p->klen = klen;
	memcpy(p->vkey, key, klen);
	p->vklen = klen;
	if (meta != NULL) {
		p->meta = *meta;
		p->has_meta = 1;
	}
	kv_record_new(&p->rec, KV_TYPE_REG, meta);
	p->n = kv_place(&s->cfg.shards, key, klen, s->cfg.replicas, order);
	rc = put_prepare_intent(p, order);
	if (rc == 0)
		rc = kv__acquire(s, key, klen, p->in, err);
	if (rc < 0)
		goto fail;
	p->locked = 1;
	rc = kv_index_get(s->idx, KV_KEYS, key, klen, &p->old, err);
	if (rc == 0 && (flags & KV_PUT_EXCL)) {
		rc = kv_err_set(err, -EEXIST, "key '%.*s' exists", (int)klen, key);
		goto fail;
	}
	if (rc == 0 && p->old.nlink > 1)
		rc = put_linked(p, order, err);
	if (rc == 0) {
		p->update = 1;
		rc = put_prepare_intent(p, order);
		if (rc < 0)
			kv_err_set(err, rc, "too many files in the intent of '%.*s'", (int)klen,
				   key);
		else
			rc = kv_intents_update(s->ints, key, klen, p->in, err);
	} else if (rc == -ENOENT) {
		/* Fail before any byte is sent; put_new_record checks again at commit. */
		rc = kv_index_view(s->idx, put_fits, p, err);
	}
	if (rc == 0)
		rc = put_urls(p, err);
	kv_crash_point("put.intent"); /* step 1 done: the intent lists what to undo */
	for (i = 0; i < p->n; i++)
		ptrs[i] = p->up_urls[i];
	if (rc == 0)
		rc = kv_upload_begin(s->dav, ptrs, p->n, size, &p->up, err);
	if (rc < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	kv_put_free(p);
	return rc;
}

static void put_failed(struct kv_put *p)
{
	int i = kv_upload_failed(p->up);

	if (i >= 0)
		kv__shard_failed(p->s, p->rec.rep[i]);
}

/* Hash this piece beside its upload? Only a big piece pays for the hand-over to the hasher
 * thread (two wake-ups); the thread is started with the first one. */
static int hash_beside(struct kv_put *p, size_t len)
{
	if (len < BESIDE_MIN || p->inline_md5)
		return 0;
	if (p->hasher == NULL && kv_hasher_new(p->md5, &p->hasher) < 0) {
		p->inline_md5 = 1;
		return 0;
	}
	return 1;
}

/* The md5 is of exactly the bytes sent, in their order: a piece is hashed (here or beside)
 * before the call returns and the caller may reuse buf. */
int kv_put_write(struct kv_put *p, const void *buf, size_t len, struct kv_err *err)
{
	int beside = p->md5 != NULL && hash_beside(p, len), rc;

	if (beside)
		kv_hasher_feed(p->hasher, buf, len);
	else if (p->md5 != NULL)
		kv_md5_update(p->md5, buf, len);
	p->written += len;
	rc = kv_upload_write(p->up, buf, len, err);
	if (beside)
		kv_hasher_wait(p->hasher);
	kv_crash_point("put.writing"); /* step 2 under way */
	if (rc < 0)
		put_failed(p);
	return rc;
}

static int put_new_record(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct kv_put *p = arg;
	int rc = put_fits(txn, p, err); /* a mkdir or a put of a parent meanwhile */

	if (rc == 0)
		rc = kv_txn_put(txn, KV_KEYS, p->key, p->klen, &p->rec, err);
	return rc < 0 ? rc : kv__dir_changed(txn, p->key, p->klen, err);
}

/* Replacement: MOVE the temporary uploads into place through a COMMIT intent. */
static int put_commit_update(struct kv_put *p, struct kv_err *err)
{
	struct kv_intent *in = p->in;
	struct kv_recop *op = &in->recops[0];
	int i, rc;

	in->phase = KV_PHASE_COMMIT;
	in->nmoves = 0;
	for (i = 0; i < in->nundo; i++)
		in->moves[in->nmoves++] = in->undo[i];
	in->nundo = 0;
	op->klen = (uint16_t)p->klen;
	memcpy(op->key, p->key, p->klen);
	op->key[p->klen] = '\0';
	op->expect_gen = p->old.gen;
	op->remove = 0;
	op->rec = p->rec;
	in->nrecops = 1;
	in->ncleanup = 0;
	for (i = 0; i < p->old.nrep; i++)
		if (!kv_record_has_replica(&p->rec, p->old.rep[i]))
			(void)kv_fileref_add(in->cleanup, &in->ncleanup, KV_INTENT_FILES,
					     p->old.rep[i], p->vkey, p->vklen, 0);
	rc = kv_intents_update(p->s->ints, p->key, p->klen, in, err);
	if (rc < 0)
		return rc;
	p->locked = 0; /* from here on, exec_commit finishes and drops the intent */
	rc = kv__exec_commit(p->s, p->key, p->klen, in, err);
	p->rec = op->rec; /* minus replicas whose move failed */
	return rc;
}

int kv_put_commit(struct kv_put *p, struct kv_record *rec, struct kv_err *err)
{
	int rc = kv_upload_end(p->up, err), i;
	int64_t now;

	if (rc < 0) {
		put_failed(p);
		return rc;
	}
	kv_crash_point("put.uploaded"); /* step 2 done */
	if (p->md5 != NULL)		/* else all zero: unknown */
		kv_md5_final(p->md5, p->rec.md5);
	p->rec.size = p->written;
	now = kv_now_ns();
	p->rec.ctime_ns = p->has_meta && p->meta.set_ctime ? p->meta.ctime_ns : now;
	if (!(p->has_meta && p->meta.set_mtime))
		p->rec.mtime_ns = now;
	if (!(p->has_meta && p->meta.set_atime))
		p->rec.atime_ns = p->update ? p->old.atime_ns : now;
	if (p->update) {
		p->rec.mode = p->old.mode;
		p->rec.uid = p->old.uid;
		p->rec.gid = p->old.gid;
		p->rec.nlink = p->old.nlink; /* the names stay; the index stores under each */
		memcpy(p->rec.vkey, p->old.vkey, (size_t)p->old.vkey_len + 1);
		p->rec.vkey_len = p->old.vkey_len;
		if (p->has_meta)
			kv_meta_apply(&p->rec, &p->meta);
		rc = put_commit_update(p, err);
	} else {
		rc = kv_index_update(p->s->idx, put_new_record, p, err);
		if (rc == 0) {
			kv_crash_point("put.indexed"); /* a new key: step 4 without an intent */
			(void)kv_intents_release(p->s->ints, p->key, p->klen, NULL);
			p->locked = 0;
		}
	}
	if (rc == 0) {
		p->committed = 1;
		for (i = 0; i < p->rec.nrep; i++)
			kv__shard_answered(p->s, p->rec.rep[i]);
		if (rec != NULL)
			*rec = p->rec;
	}
	return rc;
}

void kv_put_free(struct kv_put *p)
{
	if (p == NULL)
		return;
	kv_upload_free(p->up);
	if (p->locked && !p->committed)
		(void)kv__exec_undo(p->s, p->key, p->klen, p->in);
	kv_hasher_free(p->hasher);
	kv__unlock_vkey(p->s, p->key, p->klen, &p->old, p->vheld);
	kv_md5_free(p->md5);
	free(p->vlock);
	free(p->in);
	free(p);
}

int kv_put_spill(struct kv_put *p, int fd, struct kv_err *err)
{
	int64_t got = 0;
	int rc = kv_upload_end(p->up, err);

	if (rc < 0) {
		put_failed(p);
		return rc;
	}
	rc = kv__get_to_fd(p->s, p->up_urls[0], fd, &got, err);
	if (rc == 0 && (uint64_t)got != p->written)
		rc = kv_err_set(err, -EIO, "%s holds %lld bytes, not %llu", p->up_urls[0],
				(long long)got, (unsigned long long)p->written);
	return rc;
}

void kv_put_set_meta(struct kv_put *p, const struct kv_meta *meta)
{
	p->meta = *meta;
	p->has_meta = 1;
	if (!p->update)
		kv_meta_apply(&p->rec, meta); /* a new key's record was made at begin */
}

int kv_put_nurls(const struct kv_put *p)
{
	return p->n;
}

const char *kv_put_url(const struct kv_put *p, int i)
{
	return i >= 0 && i < p->n ? p->urls[i] : NULL;
}

int kv_store_put_fd(struct kv_store *s, const char *key, size_t klen, int fd, int64_t size,
		    unsigned flags, const struct kv_meta *meta, struct kv_record *rec,
		    struct kv_err *err)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	struct kv_put *p = NULL;
	int64_t off = 0;
	int rc;

	if (buf == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	rc = kv_put_begin(s, key, klen, size, flags, meta, &p, err);
	while (rc == 0 && off < size) {
		size_t want = size - off < (int64_t)cap ? (size_t)(size - off) : cap;
		ssize_t n = pread(fd, buf, want, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = kv_err_set(err, n < 0 ? -errno : -EIO, "spool read: %s",
					n < 0 ? strerror(errno) : "file shrank");
			break;
		}
		rc = kv_put_write(p, buf, (size_t)n, err);
		off += n;
	}
	if (rc == 0)
		rc = kv_put_commit(p, rec, err);
	kv_put_free(p);
	free(buf);
	return rc;
}

/* --- delete --- */

static int put_back(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	const struct kv_recop *op = arg;
	struct kv_record cur;
	int rc = kv_txn_get(txn, KV_KEYS, op->key, op->klen, &cur, err);

	if (rc != -ENOENT)
		return rc;
	return kv_txn_put(txn, KV_KEYS, op->key, op->klen, &op->rec, err);
}

/* The record of a key being deleted goes, and its directory changes with it. */
static int delete_record(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	const struct kv_recop *op = arg;
	int rc = kv__apply_recop(txn, arg, err);

	return rc < 0 ? rc : kv__dir_changed(txn, op->key, op->klen, err);
}

/* Delete every replica of rec; the record keeps the ones that failed. */
static int delete_replicas(struct kv_store *s, const char *key, size_t klen, struct kv_record *rec,
			   struct kv_err *err)
{
	struct kv_record left = *rec;
	int i, first = 0;

	left.nrep = 0;
	for (i = 0; i < rec->nrep; i++) {
		char url[KV_URL_MAX];
		int rc = kv__value_url(s, rec->rep[i], key, klen, rec, url, sizeof(url), err);

		if (rc == 0)
			rc = kv_dav_delete(s->dav, url, first == 0 ? err : NULL);
		if (rc < 0) {
			kv__shard_failed(s, rec->rep[i]);
			if (first == 0)
				first = rc;
			memcpy(left.rep[left.nrep++], rec->rep[i], sizeof(rec->rep[i]));
		} else {
			kv__shard_answered(s, rec->rep[i]);
		}
	}
	*rec = left;
	return first;
}

int kv__delete(struct kv_store *s, const char *key, size_t klen, struct kv_err *err)
{
	struct kv_intent *in = malloc(sizeof(*in));
	struct kv_recop *op;
	int rc, i;

	if (in == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	kv_intent_clear(in);
	op = &in->recops[0];
	in->op = KV_OP_DELETE;
	rc = kv_key_check(key, klen, err);
	if (rc == 0)
		rc = kv__acquire(s, key, klen, in, err);
	if (rc < 0)
		goto out;
	kv_crash_point("delete.locked");
	rc = kv_store_get(s, key, klen, &op->rec, err);
	if (rc == 0 && op->rec.nlink > 1)
		rc = 1; /* one name of several: the caller unlinks it (links.c) */
	if (rc != 0) {
		(void)kv_intents_release(s->ints, key, klen, NULL);
		goto out;
	}
	/* From here a crash rolls forward: the record goes, then its files. */
	in->phase = KV_PHASE_COMMIT;
	in->nrecops = 1;
	op->klen = (uint16_t)klen;
	memcpy(op->key, key, klen);
	op->key[klen] = '\0';
	op->expect_gen = op->rec.gen;
	op->remove = 1;
	for (i = 0; i < op->rec.nrep; i++)
		(void)kv_fileref_add(in->cleanup, &in->ncleanup, KV_INTENT_FILES, op->rec.rep[i],
				     key, klen, 0);
	rc = kv_intents_update(s->ints, key, klen, in, err);
	kv_crash_point("delete.intent");
	if (rc == 0)
		rc = kv_index_update(s->idx, delete_record, op, err);
	kv_crash_point("delete.indexed");
	if (rc == 0) {
		rc = delete_replicas(s, key, klen, &op->rec, err);
		kv_crash_point("delete.deleted");
		if (rc < 0 && op->rec.nrep > 0) {
			/* Put the key back with the replicas still there; a retry finishes. */
			op->rec.gen = kv_new_gen();
			(void)kv_index_update(s->idx, put_back, op, NULL);
		}
	}
	(void)kv_intents_release(s->ints, key, klen, NULL);
out:
	free(in);
	return rc;
}
