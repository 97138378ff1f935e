/* verify.c — index and shards checked against each other, and repaired without
 * destroying anything that might still be needed.
 *
 * Passes, in order:
 *   1. operations left unfinished by dead processes: reported; when repairing, finished
 *      or undone first, so the rest sees a settled state;
 *   2. the index, counted (local reads only): how many values it places on each shard;
 *   3. every file of every shard (walk.c: PROPFIND, a directory at a time): how many of
 *      the values placed on the shard are there, and which files nothing explains
 *      (orphans: copies of keys that do not list the shard, stale temporary uploads;
 *      strays: paths no key has). A shard that holds fewer than half of the files the
 *      index places on it is missing its data (a disk that did not mount, a wrong
 *      directory): nothing that involves it is repaired or deleted unless the operator
 *      names it with --force (o->force);
 *   4. every record: each replica asked with HEAD (present, of the recorded size) or,
 *      deep, read whole (size and md5); placement compared. A key that shows a problem is
 *      taken under its lock (an intent, kv__acquire), read and checked again, and repaired
 *      under that lock; the record switch applies only while the record is still the one
 *      checked (kv__apply_recop in kv__set_replicas_locked);
 *   5. when repairing: the shards on which pass 3 found orphans are walked again and
 *      each is deleted when no record or intent refers to it, it is older than
 *      orphan_grace and, for a copy of a key, the key (locked) has a good copy elsewhere.
 * Every deletion is reported, one line each (path or key, shard, why). A record is never
 * deleted because its value could not be found, unless every shard it lists is forced.
 *
 * Concurrency: passes 3 to 5 run on a pool of workers (o->jobs); counters are updated
 * atomically; findings go out through admin_report, one at a time. Memory is bounded:
 * the index is read in batches, shards one directory listing at a time, and nothing is
 * kept per key or per file.
 */
#include "admin_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "sys.h"
#include "walk.h"

enum shard_state {
	SHARD_OK = 0,
	SHARD_EMPTY,		/* holds under half of what the index places on it */
	SHARD_UNREAD		/* its walk failed: nothing known */
};

struct shard_info {
	uint64_t expected;	/* records that list it (pass 2) */
	uint64_t held;		/* of those, files found on it (pass 3) */
	uint64_t candidates;	/* orphans and strays found on it (pass 3) */
	uint64_t left;		/* keys left alone because of it (pass 4) */
	int state;		/* enum shard_state, set between passes 3 and 4 */
	int forced;
};

struct verify {
	struct admin_run a;
	struct kv_verify_result *r;
	int repair, deep;
	int64_t grace_s;
	struct shard_info sh[KV_MAX_SHARDS];
};

static void count(uint64_t *field, uint64_t n)
{
	__atomic_add_fetch(field, n, __ATOMIC_RELAXED);
}

/* Every key a report shows goes through here (a one-line change to another escaper). */
#define KEYTEXT(buf, key, klen) admin_key(buf, sizeof(buf), key, klen)

/* 1500 → "1,500" */
static const char *thousands(uint64_t n, char *buf, size_t cap)
{
	char digits[32];
	int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n), i;
	size_t o = 0;

	for (i = 0; i < len && o + 2 < cap; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

/* 7300 → "2 h" */
static const char *duration(int64_t s, char *buf, size_t cap)
{
	if (s < 120)
		(void)snprintf(buf, cap, "%lld s", (long long)s);
	else if (s < 7200)
		(void)snprintf(buf, cap, "%lld min", (long long)(s / 60));
	else if (s < 2 * 86400)
		(void)snprintf(buf, cap, "%lld h", (long long)(s / 3600));
	else
		(void)snprintf(buf, cap, "%lld days", (long long)(s / 86400));
	return buf;
}

static int shard_blocked(const struct verify *v, int sh)
{
	return sh >= 0 && v->sh[sh].state != SHARD_OK && !v->sh[sh].forced;
}

/* --- 1. unfinished operations --- */

static const char *op_name(int op)
{
	static const char *const names[] = {
		[KV_OP_PUT] = "put", [KV_OP_UPDATE] = "update", [KV_OP_DELETE] = "delete",
		[KV_OP_RENAME] = "rename", [KV_OP_MOVE] = "replica move", [KV_OP_LOCK] = "lock",
		[KV_OP_META] = "metadata change"
	};

	return op > 0 && op <= KV_OP_META ? names[op] : "operation";
}

/* The files finishing or undoing in may delete (those no record lists then). */
static void list_refs(char *out, size_t cap, const struct kv_fileref *refs, int n)
{
	size_t len = strlen(out);
	int i;

	for (i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s%s", i ? ", " : "",
					refs[i].tmp ? "an upload on " : "", refs[i].shard);
}

static int count_dead(const char *key, size_t klen, struct kv_intent *in, void *arg)
{
	struct verify *v = arg;
	char kt[ADMIN_KEY_MAX], files[1024] = "";
	int undo = in->phase == KV_PHASE_PREPARE;

	if (undo)
		list_refs(files, sizeof(files), in->undo, in->nundo);
	else
		list_refs(files, sizeof(files), in->cleanup, in->ncleanup);
	admin_report(&v->a, "unfinished: %s of %s by dead process %d%s%s%s%s", op_name(in->op),
		     KEYTEXT(kt, key, klen), (int)in->pid,
		     !v->repair ? "" : undo ? " (repair undoes it" : " (repair finishes it",
		     v->repair && files[0] != '\0' ? "; its files on " : "",
		     v->repair ? files : "", !v->repair ? "" : files[0] != '\0' ?
		     " are deleted unless a record lists them)" : ")");
	count(&v->r->dead_intents, 1);
	return 0;
}

static int check_intents(struct verify *v, struct kv_err *err)
{
	int done = 0, rc = kv_intents_each_dead(v->a.s->ints, count_dead, v, err);

	if (rc < 0 || !v->repair || v->r->dead_intents == 0)
		return rc < 0 ? rc : 0;
	rc = kv_store_recover(v->a.s, &done, err);
	count(&v->r->repaired, (uint64_t)done);
	count(&v->r->unrepaired, v->r->dead_intents - (uint64_t)done);
	return rc;
}

/* --- 2. what the index places on each shard --- */

static int count_record(const char *key, size_t klen, const struct kv_record *rec, void *arg)
{
	struct verify *v = arg;
	int i;

	(void)key;
	(void)klen;
	for (i = 0; rec->type == KV_TYPE_REG && i < rec->nrep; i++) {
		int sh = kv__shard(v->a.s, rec->rep[i]);

		if (sh >= 0)
			v->sh[sh].expected++;
	}
	admin_tick(&v->a, 1, 0);
	return 0;
}

static int count_records(struct verify *v, struct kv_err *err)
{
	uint64_t keys = 0, dirs, bytes;
	int rc = kv_index_stats(v->a.s->idx, &keys, &dirs, &bytes, err);

	if (rc < 0)
		return rc;
	admin_phase(&v->a, "counting records", "keys", keys);
	return admin_each_key(v->a.s, count_record, v, err);
}

/* --- what refers to a file --- */

struct ref_scan {
	const char *shard;
	const char *key;	/* NULL: a temporary upload, by id */
	size_t klen;
	uint64_t tmp;
};

static int ref_matches(const struct ref_scan *q, const struct kv_fileref *f)
{
	if (strcmp(f->shard, q->shard) != 0)
		return 0;
	if (q->key == NULL)
		return f->tmp == q->tmp;
	return f->tmp == 0 && f->klen == q->klen && memcmp(f->key, q->key, q->klen) == 0;
}

static int ref_in_intent(const char *ikey, size_t iklen, struct kv_intent *in, void *arg)
{
	const struct ref_scan *q = arg;
	int i;

	(void)ikey;
	(void)iklen;
	for (i = 0; i < in->nundo; i++)
		if (ref_matches(q, &in->undo[i]))
			return 1;
	for (i = 0; i < in->nmoves; i++)
		if (ref_matches(q, &in->moves[i]))
			return 1;
	for (i = 0; i < in->ncleanup; i++)
		if (ref_matches(q, &in->cleanup[i]))
			return 1;
	for (i = 0; q->key != NULL && i < in->nrecops; i++) {
		const struct kv_recop *op = &in->recops[i];

		if (!op->remove && op->klen == q->klen && memcmp(op->key, q->key, q->klen) == 0 &&
		    kv_record_has_replica(&op->rec, q->shard))
			return 1;
	}
	return 0;
}

/* Does any intent (of any key, live or dead) mention this file? An error counts as yes. */
static int intent_refers(struct verify *v, const char *shard, const char *key, size_t klen,
			 uint64_t tmp)
{
	struct ref_scan q = { shard, key, klen, tmp };

	return kv_intents_each(v->a.s->ints, ref_in_intent, &q, NULL) != 0;
}

/* --- 4. records --- */

enum rep_state { REP_OK = 0, REP_MISSING, REP_SIZE, REP_DAMAGED, REP_UNKNOWN };

struct key_check {
	int state[KV_MAX_REPLICAS];
	int64_t size[KV_MAX_REPLICAS];
	uint8_t md5[KV_MAX_REPLICAS][KV_MD5_LEN];
	char why[KV_MAX_REPLICAS][KV_ERR_MSG_MAX];
	char bad[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1];	/* missing, short, damaged */
	int nbad, unknown, misplaced;
	char want[KV_MAX_REPLICAS][KV_SHARD_NAME_MAX + 1];	/* placement, best first */
	int nwant;
};

static int has_md5(const struct kv_record *rec)
{
	static const uint8_t zero[KV_MD5_LEN];

	return memcmp(rec->md5, zero, KV_MD5_LEN) != 0;
}

struct sum {
	struct kv_md5 *h;
	uint64_t n;
};

static int sum_sink(const void *buf, size_t len, void *arg)
{
	struct sum *sm = arg;

	kv_md5_update(sm->h, buf, len);
	sm->n += len;
	return 0;
}

/* GET url whole: its length and md5. */
static int read_whole(struct verify *v, const char *url, int64_t *size,
		      uint8_t md5[KV_MD5_LEN], struct kv_err *err)
{
	struct sum sm = { kv_md5_new(), 0 };
	int rc;

	if (sm.h == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	rc = kv_dav_get(v->a.s->dav, url, 0, -1, sum_sink, &sm, err);
	if (rc == 0) {
		kv_md5_final(sm.h, md5);
		*size = (int64_t)sm.n;
	}
	kv_md5_free(sm.h);
	return rc;
}

/* Ask every replica of rec (deep: read it whole); compare with placement. */
static void check_replicas(struct verify *v, const char *key, size_t klen,
			   const struct kv_record *rec, int deep, struct key_check *kc)
{
	int i;

	memset(kc, 0, sizeof(*kc));
	for (i = 0; i < rec->nrep; i++) {
		char url[KV_URL_MAX];
		struct kv_err err;
		int rc = kv__key_url(v->a.s, rec->rep[i], key, klen, url, sizeof(url), &err);

		kc->size[i] = -1;
		if (rc == 0 && deep)
			rc = read_whole(v, url, &kc->size[i], kc->md5[i], &err);
		else if (rc == 0)
			rc = kv_dav_head(v->a.s->dav, url, &kc->size[i], &err);
		if (rc == -ENOENT) {
			kc->state[i] = REP_MISSING;
		} else if (rc < 0) {
			kc->state[i] = REP_UNKNOWN;
			(void)snprintf(kc->why[i], sizeof(kc->why[i]), "%s", err.msg);
			kc->unknown = 1;
			continue;
		} else if (kc->size[i] != (int64_t)rec->size) {
			kc->state[i] = REP_SIZE;
		} else if (deep && has_md5(rec) && memcmp(kc->md5[i], rec->md5, KV_MD5_LEN) != 0) {
			kc->state[i] = REP_DAMAGED;
		} else {
			continue;
		}
		memcpy(kc->bad[kc->nbad++], rec->rep[i], sizeof(kc->bad[0]));
	}
	kc->nwant = admin_placement(v->a.s, key, klen, kc->want);
	kc->misplaced = !kv_record_replicas_are(rec, kc->want, kc->nwant);
}

static int problem(const struct key_check *kc)
{
	return kc->nbad > 0 || kc->unknown || kc->misplaced;
}

/* A shard the key lists or placement wants that is missing its data (and not forced). */
static int blocker(const struct verify *v, const struct kv_record *rec,
		   const struct key_check *kc)
{
	int i, sh;

	for (i = 0; i < rec->nrep; i++)
		if (shard_blocked(v, sh = kv__shard(v->a.s, rec->rep[i])))
			return sh;
	for (i = 0; i < kc->nwant; i++)
		if (shard_blocked(v, sh = kv__shard(v->a.s, kc->want[i])))
			return sh;
	return -1;
}

/* "a, b, c" from n shard names stored one after the other from first (rep[0], want[0]). */
static void shard_list(char *out, size_t cap, const char *first, int n)
{
	size_t len = 0;
	int i;

	out[0] = '\0';
	for (i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? ", " : "",
					first + (size_t)i * (KV_SHARD_NAME_MAX + 1));
}

/* Count what kc found; with say, one line per finding. */
static void tell(struct verify *v, const char *key, size_t klen, const struct kv_record *rec,
		 const struct key_check *kc, int say)
{
	char kt[ADMIN_KEY_MAX], a[KV_MD5_LEN * 2 + 1], b[KV_MD5_LEN * 2 + 1];
	int i;

	if (say)
		(void)KEYTEXT(kt, key, klen);
	for (i = 0; i < rec->nrep; i++) {
		switch (kc->state[i]) {
		case REP_MISSING:
			count(&v->r->missing, 1);
			if (say)
				admin_report(&v->a, "missing: %s has no replica on %s", kt,
					     rec->rep[i]);
			break;
		case REP_SIZE:
			count(&v->r->wrong_size, 1);
			if (say)
				admin_report(&v->a, "wrong size: %s on %s has %lld bytes, not %llu",
					     kt, rec->rep[i], (long long)kc->size[i],
					     (unsigned long long)rec->size);
			break;
		case REP_DAMAGED:
			count(&v->r->damaged, 1);
			kv_hex(kc->md5[i], KV_MD5_LEN, a);
			kv_hex(rec->md5, KV_MD5_LEN, b);
			if (say)
				admin_report(&v->a, "damaged: %s on %s has md5 %s, its record says %s",
					     kt, rec->rep[i], a, b);
			break;
		case REP_UNKNOWN:
			count(&v->r->unchecked, 1);
			if (say)
				admin_report(&v->a, "unchecked: %s on %s: %s", kt, rec->rep[i],
					     kc->why[i]);
			break;
		default:
			break;
		}
	}
	if (kc->misplaced && kc->nbad == 0 && !kc->unknown) {
		char is[KV_MAX_REPLICAS * (KV_SHARD_NAME_MAX + 2)], want[sizeof(is)];

		count(&v->r->misplaced, 1);
		shard_list(is, sizeof(is), rec->rep[0], rec->nrep);
		shard_list(want, sizeof(want), kc->want[0], kc->nwant);
		if (say)
			admin_report(&v->a, "misplaced: %s is on %s; placement wants %s%s", kt, is,
				     want, v->repair ? "" : " (run tinykvd rebalance)");
	}
}

static int in_names(char names[][KV_SHARD_NAME_MAX + 1], int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* Every shard rec lists is forced: the operator said their missing data is gone. */
static int all_forced(const struct verify *v, const struct kv_record *rec)
{
	int i, sh;

	for (i = 0; i < rec->nrep; i++)
		if ((sh = kv__shard(v->a.s, rec->rep[i])) < 0 || !v->sh[sh].forced)
			return 0;
	return rec->nrep > 0;
}

/* No good copy of key is left. Locked. The record stays unless all its shards are
 * forced; then it goes, if it is still the record checked. */
static void lost_key(struct verify *v, const char *key, size_t klen,
		     const struct kv_record *rec)
{
	char kt[ADMIN_KEY_MAX], on[KV_MAX_REPLICAS * (KV_SHARD_NAME_MAX + 2)];
	struct kv_recop *op;
	struct kv_err err;
	int rc;

	(void)KEYTEXT(kt, key, klen);
	shard_list(on, sizeof(on), rec->rep[0], rec->nrep);
	if (!v->repair) {
		admin_report(&v->a, "lost: %s has no good copy on %s", kt, on);
		count(&v->r->lost, 1);
		return;
	}
	if (!all_forced(v, rec)) {
		admin_report(&v->a, "lost: %s has no good copy on %s; its record is kept (the "
			     "value may come back with a shard's data; delete the key if it is "
			     "gone for good, or repair with --force naming %s)", kt, on,
			     rec->nrep == 1 ? "that shard" : "those shards");
		count(&v->r->lost, 1);
		count(&v->r->unrepaired, 1);
		return;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		rc = kv_err_set(&err, -ENOMEM, "out of memory");
	} else {
		op->klen = (uint16_t)klen;
		memcpy(op->key, key, klen);
		op->expect_gen = rec->gen;
		op->remove = 1;
		rc = kv_index_update(v->a.s->idx, kv__apply_recop, op, &err);
		free(op);
	}
	if (rc == 0) {
		admin_report(&v->a, "deleted record: %s: no good copy on %s (forced: its data is "
			     "gone)", kt, on);
		count(&v->r->records_deleted, 1);
		count(&v->r->repaired, 1);
	} else {
		admin_report(&v->a, "not repaired: %s: %s", kt, err.msg);
		count(&v->r->unrepaired, 1);
	}
}

/* Give key good replicas where placement wants them. Locked through in (consumed). */
static void repair_key(struct verify *v, const char *key, size_t klen, struct kv_intent *in,
		       const struct kv_record *rec, struct key_check *kc)
{
	char kt[ADMIN_KEY_MAX], what[2048];
	struct kv_err err;
	size_t len = 0;
	int i, changed = 0, rc;

	(void)KEYTEXT(kt, key, klen);
	what[0] = '\0';
	for (i = 0; i < kc->nwant && len < sizeof(what); i++)
		if (!kv_record_has_replica(rec, kc->want[i]) ||
		    in_names(kc->bad, kc->nbad, kc->want[i]))
			len += (size_t)snprintf(what + len, sizeof(what) - len, "; copied to %s",
						kc->want[i]);
	rc = kv__set_replicas_locked(v->a.s, key, klen, in, rec, kc->want, kc->nwant, kc->bad,
				     kc->nbad, NULL, NULL, &changed, &err);
	if (rc < 0) {
		admin_report(&v->a, "not repaired: %s: %s", kt, err.msg);
		count(&v->r->unrepaired, 1);
		return;
	}
	/* Copies placement no longer wants were deleted with the switch: say which went. */
	for (i = 0; i < rec->nrep && len < sizeof(what); i++) {
		char url[KV_URL_MAX];
		int64_t size;
		int gone;

		if (in_names(kc->want, kc->nwant, rec->rep[i]))
			continue;
		gone = kv__key_url(v->a.s, rec->rep[i], key, klen, url, sizeof(url), NULL) == 0 &&
		       kv_dav_head(v->a.s->dav, url, &size, NULL) == -ENOENT;
		len += (size_t)snprintf(what + len, sizeof(what) - len, gone ?
					"; deleted its %scopy on %s (placement does not want it "
					"there)" : "; its %scopy on %s could not be deleted (an "
					"orphan now)", in_names(kc->bad, kc->nbad, rec->rep[i]) ?
					"bad " : "", rec->rep[i]);
	}
	admin_report(&v->a, "repaired: %s%s", kt, what);
	count(&v->r->repaired, 1);
}

/* A key with a problem: checked again under its lock, then repaired under it. */
static void recheck_key(struct verify *v, const char *key, size_t klen)
{
	struct kv_intent *in = calloc(1, sizeof(*in));
	struct key_check *kc = malloc(sizeof(*kc));
	char kt[ADMIN_KEY_MAX];
	struct kv_record rec;
	struct kv_err err;
	int rc, b;

	if (in == NULL || kc == NULL) {
		rc = kv_err_set(&err, -ENOMEM, "out of memory");
		goto unchecked;
	}
	/* Taking the lock would finish a dead process's operation: only when repairing. */
	if (!v->repair && kv_intents_get(v->a.s->ints, key, klen, in, NULL) == 0 &&
	    !kv_owner_alive(in->pid, in->start)) {
		rc = kv_err_set(&err, -EOWNERDEAD, "it has an unfinished operation (verify "
				"--repair finishes it first)");
		goto unchecked;
	}
	memset(in, 0, sizeof(*in));
	in->op = KV_OP_LOCK;
	rc = kv__acquire(v->a.s, key, klen, in, &err);
	if (rc < 0)
		goto unchecked;
	rc = kv_index_get(v->a.s->idx, KV_KEYS, key, klen, &rec, &err);
	if (rc < 0 || rec.type != KV_TYPE_REG)
		goto release;	/* gone meanwhile: nothing to check */
	check_replicas(v, key, klen, &rec, v->deep, kc);
	if (!problem(kc))
		goto release;	/* it was a write in flight */
	b = blocker(v, &rec, kc);
	tell(v, key, klen, &rec, kc, b < 0);
	if (b >= 0) {
		count(&v->r->left_alone, 1);
		count(&v->sh[b].left, 1);
		if (v->repair)
			count(&v->r->unrepaired, 1);
	} else if (kc->unknown) {
		if (v->repair)
			count(&v->r->unrepaired, 1);
	} else if (kc->nbad == rec.nrep) {
		lost_key(v, key, klen, &rec);
	} else if (v->repair) {
		repair_key(v, key, klen, in, &rec, kc);
		goto out;	/* the lock went with the repair */
	}
release:
	(void)kv_intents_release(v->a.s->ints, key, klen, NULL);
	goto out;
unchecked:
	admin_report(&v->a, "unchecked: %s: %s", KEYTEXT(kt, key, klen), err.msg);
	count(&v->r->unchecked, 1);
	if (v->repair)
		count(&v->r->unrepaired, 1);
out:
	free(kc);
	free(in);
}

static void check_key(const char *key, size_t klen, void *arg)
{
	struct verify *v = arg;
	struct key_check *kc = malloc(sizeof(*kc));
	struct kv_record rec;
	int b, bad = 0;

	if (kc == NULL) {
		recheck_key(v, key, klen);
		admin_tick(&v->a, 1, 1);
		return;
	}
	if (kv_index_get(v->a.s->idx, KV_KEYS, key, klen, &rec, NULL) < 0 ||
	    rec.type != KV_TYPE_REG)
		goto out;
	if (v->deep && !has_md5(&rec))
		count(&v->r->no_md5, 1);
	check_replicas(v, key, klen, &rec, v->deep, kc);
	if (!problem(kc))
		goto out;
	bad = 1;
	b = blocker(v, &rec, kc);
	if (b >= 0) {
		/* Nothing will be done to it: counted, not shown key by key. */
		tell(v, key, klen, &rec, kc, 0);
		count(&v->r->left_alone, 1);
		count(&v->sh[b].left, 1);
		if (v->repair)
			count(&v->r->unrepaired, 1);
		goto out;
	}
	recheck_key(v, key, klen);
out:
	free(kc);
	admin_tick(&v->a, 1, (uint64_t)bad);
}

struct feed {
	struct verify *v;
	struct kv_pool *pool;
};

static int feed_key(const char *key, size_t klen, const struct kv_record *rec, void *arg)
{
	struct feed *f = arg;

	(void)rec;
	count(&f->v->r->keys, 1);
	return kv_pool_submit(f->pool, key, klen);
}

static int check_records(struct verify *v, struct kv_err *err)
{
	uint64_t keys = 0, dirs, bytes;
	struct feed f = { v, NULL };
	int rc = kv_index_stats(v->a.s->idx, &keys, &dirs, &bytes, err);

	if (rc < 0)
		return rc;
	admin_phase(&v->a, v->deep ? "reading values" : "checking keys", "keys", keys);
	f.pool = kv_pool_new(v->a.o->jobs, check_key, v);
	if (f.pool == NULL)
		return kv_err_set(err, -EAGAIN, "cannot start worker threads");
	rc = admin_each_key(v->a.s, feed_key, &f, err);
	kv_pool_finish(f.pool);
	return rc;
}

/* --- 3 and 5. shard files --- */

struct walker {
	struct verify *v;
	int second;		/* pass 5: delete what is not needed */
	int dirs, total_dirs;
};

/* The URL of a shard file, its path percent-encoded where it is not plain. */
static void file_url(const struct verify *v, int sh, const struct kv_shard_file *f,
		     char *url, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	int n = snprintf(url, cap, "%s", v->a.s->cfg.shards.v[sh].base);
	size_t o = n > 0 ? (size_t)n : 0;
	const unsigned char *p;

	for (p = (const unsigned char *)f->path; *p != '\0' && o + 4 < cap; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-_.~=", *p) != NULL) {
			url[o++] = (char)*p;
		} else {
			url[o++] = '%';
			url[o++] = hex[*p >> 4];
			url[o++] = hex[*p & 15];
		}
	}
	if (f->is_dir && o + 1 < cap)
		url[o++] = '/';
	url[o] = '\0';
}

/* Is this file something nothing refers to? *why says what it is. On the first walk,
 * values the index places here are counted. A file of a key with an operation in flight
 * is left to that operation. */
static int unneeded(struct walker *w, int sh, const struct kv_shard_file *f,
		    const char **why)
{
	struct verify *v = w->v;
	struct kv_record rec;
	int in_flight;

	switch (f->kind) {
	case KV_FILE_TMP:
		*why = "orphan (temporary upload no operation refers to)";
		return !intent_refers(v, f->shard, NULL, 0, f->tmp);
	case KV_FILE_STRAY:
		*why = "stray (no key lives at this path)";
		return 1;
	default:
		break;
	}
	*why = "orphan (its key does not list this shard)";
	/* Intents first: a write that finishes between the two looks, is in the index. */
	in_flight = kv_intents_get(v->a.s->ints, f->key, f->klen, NULL, NULL) == 0;
	if (kv_index_get(v->a.s->idx, KV_KEYS, f->key, f->klen, &rec, NULL) == 0 &&
	    rec.type == KV_TYPE_REG && kv_record_has_replica(&rec, f->shard)) {
		if (!w->second)
			count(&v->sh[sh].held, 1);
		return 0;
	}
	return !in_flight;
}

/* Has key, whose record is rec, a good copy (right size) on a shard its record lists? */
static int has_good_copy(struct verify *v, const char *key, size_t klen,
			 const struct kv_record *rec)
{
	struct key_check *kc = malloc(sizeof(*kc));
	int good = 0, i;

	if (kc == NULL)
		return 0;
	check_replicas(v, key, klen, rec, 0, kc);
	for (i = 0; i < rec->nrep; i++)
		good |= kc->state[i] == REP_OK;
	free(kc);
	return good;
}

static void kept(struct verify *v, const char *url, const char *why)
{
	admin_report(&v->a, "kept: %s: %s", url, why);
	count(&v->r->unrepaired, 1);
}

/* Pass 5: delete an unneeded file, once everything says it is not needed. */
static int delete_file(struct walker *w, const struct kv_shard_file *f, const char *url,
		       const char *why)
{
	struct verify *v = w->v;
	int64_t age = f->mtime > 0 ? (int64_t)time(NULL) - f->mtime : -1;
	char kt[ADMIN_KEY_MAX], ago[32], grace[32], detail[ADMIN_KEY_MAX + 256];
	struct kv_intent *in = NULL;
	struct kv_record rec;
	struct kv_err err;
	int64_t size;
	int rc = 0;

	(void)duration(age, ago, sizeof(ago));
	(void)duration(v->grace_s, grace, sizeof(grace));
	if (age < 0) {
		(void)snprintf(detail, sizeof(detail), "%s, of unknown age (the shard gave no "
			       "getlastmodified)", why);
		kept(v, url, detail);
		return 0;
	}
	if (age < v->grace_s) {
		(void)snprintf(detail, sizeof(detail), "%s, %s old, younger than orphan_grace "
			       "(%s)", why, ago, grace);
		kept(v, url, detail);
		return 0;
	}
	if (f->kind == KV_FILE_VALUE) {
		(void)KEYTEXT(kt, f->key, f->klen);
		in = calloc(1, sizeof(*in));
		if (in == NULL)
			return -ENOMEM;
		in->op = KV_OP_LOCK;
		rc = kv__acquire(v->a.s, f->key, f->klen, in, &err);
		if (rc < 0) {
			free(in);
			kept(v, url, err.msg);
			return 0;
		}
		rc = kv_index_get(v->a.s->idx, KV_KEYS, f->key, f->klen, &rec, NULL);
		if ((rc < 0 && rc != -ENOENT) ||
		    (rc == 0 && rec.type == KV_TYPE_REG && kv_record_has_replica(&rec, f->shard)) ||
		    intent_refers(v, f->shard, f->key, f->klen, 0)) {
			rc = 1;		/* needed after all (or the index cannot tell) */
		} else if (rc == 0 && rec.type == KV_TYPE_REG &&
			   !has_good_copy(v, f->key, f->klen, &rec)) {
			(void)snprintf(detail, sizeof(detail), "it may be the only copy of %s, whose "
				       "record's replicas are missing or wrong", kt);
			kept(v, url, detail);
			rc = 1;
		} else {
			rc = 0;
		}
	} else if (f->kind == KV_FILE_TMP) {
		rc = intent_refers(v, f->shard, NULL, 0, f->tmp);
	}
	if (rc == 0 && !f->is_dir && kv_dav_head(v->a.s->dav, url, &size, NULL) == -ENOENT)
		rc = 1;		/* gone meanwhile */
	if (rc == 0) {
		rc = kv_dav_delete(v->a.s->dav, url, &err);
		if (rc == 0) {
			if (f->kind == KV_FILE_VALUE)
				admin_report(&v->a, "deleted: %s: %s, copy of %s on %s, %s old", url,
					     why, kt, f->shard, ago);
			else
				admin_report(&v->a, "deleted: %s: %s, on %s, %s old", url, why,
					     f->shard, ago);
			count(&v->r->files_deleted, 1);
			count(&v->r->repaired, 1);
		} else {
			admin_report(&v->a, "not deleted: %s: %s", url, err.msg);
			count(&v->r->unrepaired, 1);
		}
	}
	if (in != NULL)
		(void)kv_intents_release(v->a.s->ints, f->key, f->klen, NULL);
	free(in);
	return 0;
}

static int check_file(const struct kv_shard_file *f, void *arg)
{
	struct walker *w = arg;
	struct verify *v = w->v;
	char url[KV_URL_MAX * 3 + 8];
	const char *why;
	int sh = kv__shard(v->a.s, f->shard);

	if (sh < 0)
		return 0;
	if (!w->second)
		count(&v->r->files, 1);
	if (!unneeded(w, sh, f, &why))
		return 0;
	file_url(v, sh, f, url, sizeof(url));
	if (w->second)
		return delete_file(w, f, url, why);
	admin_report(&v->a, "%s: %s", why, url);
	count(f->kind == KV_FILE_STRAY ? &v->r->strays : &v->r->orphans, 1);
	count(&v->sh[sh].candidates, 1);
	return 0;
}

static void walk_shard(const char *item, size_t len, void *arg)
{
	struct walker *w = arg;
	const struct kv_shard *sh;
	struct kv_err err;
	int i;

	if (len != sizeof(int))
		return;
	memcpy(&i, item, sizeof(i));
	sh = &w->v->a.s->cfg.shards.v[i];
	if (kv_walk_shard(w->v->a.s->dav, sh->name, sh->base, check_file, w, &w->dirs,
			  &w->total_dirs, &err) < 0) {
		admin_report(&w->v->a, "unchecked: shard %s: %s", sh->name, err.msg);
		count(&w->v->r->unchecked, 1);
		if (w->v->repair)
			count(&w->v->r->unrepaired, 1);
		w->v->sh[i].state = SHARD_UNREAD;	/* only this walker writes it */
	}
	admin_set(&w->v->a, (uint64_t)__atomic_load_n(&w->dirs, __ATOMIC_RELAXED),
		  (uint64_t)__atomic_load_n(&w->total_dirs, __ATOMIC_RELAXED),
		  __atomic_load_n(&w->v->r->files, __ATOMIC_RELAXED));
}

static int walk_shards(struct verify *v, int second, struct kv_err *err)
{
	struct walker w = { v, second, 0, 0 };
	int n = v->a.s->cfg.shards.n, i, todo = 0;
	struct kv_pool *pool;

	for (i = 0; i < n; i++)
		todo += !second || (v->sh[i].candidates > 0 && !shard_blocked(v, i));
	if (todo == 0)
		return 0;
	admin_phase(&v->a, second ? "deleting orphans" : "checking shards", "directories", 0);
	pool = kv_pool_new(v->a.o->jobs < todo ? v->a.o->jobs : todo, walk_shard, &w);
	if (pool == NULL)
		return kv_err_set(err, -EAGAIN, "cannot start worker threads");
	for (i = 0; i < n; i++)
		if (!second || (v->sh[i].candidates > 0 && !shard_blocked(v, i)))
			(void)kv_pool_submit(pool, (const char *)&i, sizeof(i));
	kv_pool_finish(pool);
	return 0;
}

/* Between passes 3 and 4: which shards are missing their data? */
static void judge_shards(struct verify *v)
{
	int i;

	for (i = 0; i < v->a.s->cfg.shards.n; i++) {
		struct shard_info *si = &v->sh[i];
		const char *name = v->a.s->cfg.shards.v[i].name;
		char held[32], expected[32];

		if (si->state != SHARD_OK || si->expected == 0 || si->held * 2 >= si->expected)
			continue;
		si->state = SHARD_EMPTY;
		count(&v->r->empty_shards, 1);
		if (v->repair && !si->forced)
			count(&v->r->unrepaired, 1);
		(void)thousands(si->held, held, sizeof(held));
		(void)thousands(si->expected, expected, sizeof(expected));
		if (si->forced)
			admin_report(&v->a, "shard %s holds %s of the %s files the index places on "
				     "it: is its disk mounted? (--force: what it lacks is taken as "
				     "lost, and repaired from other replicas where there are any)",
				     name, held, expected);
		else
			admin_report(&v->a, "shard %s holds %s of the %s files the index places on "
				     "it: is its disk mounted? Keys on it are left alone until its "
				     "data is back (if that data is gone for good: verify --repair "
				     "--force %s)", name, held, expected, name);
	}
}

/* After pass 4: what was left alone, shard by shard; orphans not looked at again. */
static void tell_left(struct verify *v)
{
	int i;

	for (i = 0; i < v->a.s->cfg.shards.n; i++) {
		const struct shard_info *si = &v->sh[i];
		char n[32];

		if (si->left > 0)
			admin_report(&v->a, "left alone: %s key%s with a replica on %s, which %s",
				     thousands(si->left, n, sizeof(n)), si->left == 1 ? "" : "s",
				     v->a.s->cfg.shards.v[i].name, si->state == SHARD_EMPTY ?
				     "is missing its data" : "could not be read");
		if (v->repair && si->candidates > 0 && shard_blocked(v, i)) {
			admin_report(&v->a, "left alone: %s orphan or stray file%s on %s",
				     thousands(si->candidates, n, sizeof(n)),
				     si->candidates == 1 ? "" : "s", v->a.s->cfg.shards.v[i].name);
			count(&v->r->unrepaired, si->candidates);
		}
	}
}

/* "http://localhost:3001/" or "localhost:3001" → the configured shard's index. */
static int find_shard(const struct kv_store *s, const char *name)
{
	char buf[KV_SHARD_NAME_MAX + 1];
	const char *p = strstr(name, "://");
	size_t len;

	p = p != NULL ? p + 3 : name;
	len = strlen(p);
	while (len > 0 && p[len - 1] == '/')
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return kv__shard(s, buf);
}

int kv_verify(struct kv_store *s, const struct kv_admin_opts *o, struct kv_verify_result *r,
	      struct kv_err *err)
{
	struct verify *v = calloc(1, sizeof(*v));
	uint64_t problems;
	int rc = 0, i;

	memset(r, 0, sizeof(*r));
	if (v == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	v->r = r;
	v->repair = o->repair;
	v->deep = o->deep;
	v->grace_s = s->cfg.orphan_grace;
	for (i = 0; i < o->nforce && rc == 0; i++) {
		int sh = find_shard(s, o->force[i]);

		if (sh < 0)
			rc = kv_err_set(err, -EINVAL, "--force %s: not one of the configured shards",
					o->force[i]);
		else
			v->sh[sh].forced = 1;
	}
	if (rc < 0) {
		free(v);
		return rc;
	}
	admin_init(&v->a, s, o, "checking operations", "intents", 0);
	rc = check_intents(v, err);
	if (rc == 0)
		rc = count_records(v, err);
	if (rc == 0)
		rc = walk_shards(v, 0, err);
	if (rc == 0) {
		judge_shards(v);
		rc = check_records(v, err);
	}
	if (rc == 0 && v->repair)
		rc = walk_shards(v, 1, err);
	tell_left(v);
	admin_done(&v->a);
	free(v);
	if (rc < 0)
		return rc;
	problems = r->missing + r->wrong_size + r->damaged + r->misplaced + r->lost +
		   r->unchecked + r->empty_shards + r->left_alone + r->orphans + r->strays +
		   r->dead_intents;
	if (r->unrepaired > 0 || (problems > 0 && !o->repair))
		return 1;
	return 0;
}
