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
 * This file does passes 1, 2 and 4; verify_shards.c does 3 and 5; verify_replicas.c asks
 * one key's replicas, for 4 and 5.
 *
 * Concurrency: passes 3 to 5 run on a pool of workers (o->jobs); counters are updated
 * atomically; findings go out through admin_report, one at a time. Memory is bounded:
 * the index is read in batches, shards one directory listing at a time, and nothing is
 * kept per key or per file.
 */
#include "verify_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "sys.h"

/* --- 1. unfinished operations --- */

static const char *op_name(int op)
{
	static const char *const names[] = { [KV_OP_PUT] = "put",
					     [KV_OP_UPDATE] = "update",
					     [KV_OP_DELETE] = "delete",
					     [KV_OP_RENAME] = "rename",
					     [KV_OP_MOVE] = "replica move",
					     [KV_OP_LOCK] = "lock",
					     [KV_OP_META] = "metadata change" };

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
		     !v->repair ? "" :
		     undo	? " (repair undoes it" :
				  " (repair finishes it",
		     v->repair && files[0] != '\0' ? "; its files on " : "", v->repair ? files : "",
		     !v->repair	      ? "" :
		     files[0] != '\0' ? " are deleted unless a record lists them)" :
					")");
	verify_add(&v->r->dead_intents, 1);
	return 0;
}

static int check_intents(struct verify *v, struct kv_err *err)
{
	int done = 0, rc = kv_intents_each_dead(kv__intents(v->a.s), count_dead, v, err);

	if (rc < 0 || !v->repair || v->r->dead_intents == 0)
		return rc < 0 ? rc : 0;
	rc = kv_store_recover(v->a.s, &done, err);
	verify_add(&v->r->repaired, (uint64_t)done);
	verify_add(&v->r->unrepaired, v->r->dead_intents - (uint64_t)done);
	return rc;
}

/* --- 2. what the index places on each shard --- */

static int count_record(const char *key, size_t klen, const struct kv_record *rec, void *arg)
{
	struct verify *v = arg;
	int i;

	/* Another name of a linked file: its value is counted under its value key. */
	for (i = 0;
	     rec->type == KV_TYPE_REG && kv_record_owns_value(rec, key, klen) && i < rec->nrep;
	     i++) {
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
	int rc = kv_index_stats(kv__index(v->a.s), &keys, &dirs, &bytes, err);

	if (rc < 0)
		return rc;
	admin_phase(&v->a, "counting records", "keys", keys);
	return admin_each_key(v->a.s, count_record, v, err);
}

/* --- 4. records --- */

static int problem(const struct key_check *kc)
{
	return kc->nbad > 0 || kc->unknown || kc->misplaced;
}

/* A shard the key lists or placement wants that is missing its data (and not forced). */
static int blocker(const struct verify *v, const struct kv_record *rec, const struct key_check *kc)
{
	int i, sh;

	for (i = 0; i < rec->nrep; i++)
		if (verify_blocked(v, sh = kv__shard(v->a.s, rec->rep[i])))
			return sh;
	for (i = 0; i < kc->nwant; i++)
		if (verify_blocked(v, sh = kv__shard(v->a.s, kc->want[i])))
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
			verify_add(&v->r->missing, 1);
			if (say)
				admin_report(&v->a, "missing: %s has no replica on %s", kt,
					     rec->rep[i]);
			break;
		case REP_SIZE:
			verify_add(&v->r->wrong_size, 1);
			if (say)
				admin_report(&v->a, "wrong size: %s on %s has %lld bytes, not %llu",
					     kt, rec->rep[i], (long long)kc->size[i],
					     (unsigned long long)rec->size);
			break;
		case REP_DAMAGED:
			verify_add(&v->r->damaged, 1);
			kv_hex(kc->md5[i], KV_MD5_LEN, a);
			kv_hex(rec->md5, KV_MD5_LEN, b);
			if (say)
				admin_report(&v->a,
					     "damaged: %s on %s has md5 %s, its record says %s", kt,
					     rec->rep[i], a, b);
			break;
		case REP_UNKNOWN:
			verify_add(&v->r->unchecked, 1);
			if (say)
				admin_report(&v->a, "unchecked: %s on %s: %s", kt, rec->rep[i],
					     kc->why[i]);
			break;
		default: break;
		}
	}
	if (kc->misplaced && kc->nbad == 0 && !kc->unknown) {
		char is[KV_MAX_REPLICAS * (KV_SHARD_NAME_MAX + 2)], want[sizeof(is)];

		verify_add(&v->r->misplaced, 1);
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
static void lost_key(struct verify *v, const char *key, size_t klen, const struct kv_record *rec)
{
	char kt[ADMIN_KEY_MAX], on[KV_MAX_REPLICAS * (KV_SHARD_NAME_MAX + 2)];
	struct kv_recop *op;
	struct kv_err err;
	int rc;

	(void)KEYTEXT(kt, key, klen);
	shard_list(on, sizeof(on), rec->rep[0], rec->nrep);
	if (!v->repair) {
		admin_report(&v->a, "lost: %s has no good copy on %s", kt, on);
		verify_add(&v->r->lost, 1);
		return;
	}
	if (!all_forced(v, rec)) {
		admin_report(&v->a,
			     "lost: %s has no good copy on %s; its record is kept (the "
			     "value may come back with a shard's data; delete the key if it is "
			     "gone for good, or repair with --force naming %s)",
			     kt, on, rec->nrep == 1 ? "that shard" : "those shards");
		verify_add(&v->r->lost, 1);
		verify_add(&v->r->unrepaired, 1);
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
		rc = kv_index_update(kv__index(v->a.s), kv__apply_recop, op, &err);
		free(op);
	}
	if (rc == 0) {
		admin_report(&v->a,
			     "deleted record: %s: no good copy on %s (forced: its data is "
			     "gone)",
			     kt, on);
		verify_add(&v->r->records_deleted, 1);
		verify_add(&v->r->repaired, 1);
	} else {
		admin_report(&v->a, "not repaired: %s: %s", kt, err.msg);
		verify_add(&v->r->unrepaired, 1);
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
		verify_add(&v->r->unrepaired, 1);
		return;
	}
	/* Copies placement no longer wants were deleted with the switch: say which went. */
	for (i = 0; i < rec->nrep && len < sizeof(what); i++) {
		char url[KV_URL_MAX];
		int64_t size;
		int gone;

		if (in_names(kc->want, kc->nwant, rec->rep[i]))
			continue;
		gone = kv__value_url(v->a.s, rec->rep[i], key, klen, rec, url, sizeof(url), NULL) ==
			       0 &&
		       kv_dav_head(kv__dav(v->a.s), url, &size, NULL) == -ENOENT;
		len += (size_t)
			snprintf(what + len, sizeof(what) - len,
				 gone ? "; deleted its %scopy on %s (placement does not want it "
					"there)" :
					"; its %scopy on %s could not be deleted (an "
					"orphan now)",
				 in_names(kc->bad, kc->nbad, rec->rep[i]) ? "bad " : "",
				 rec->rep[i]);
	}
	admin_report(&v->a, "repaired: %s%s", kt, what);
	verify_add(&v->r->repaired, 1);
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
	if (!v->repair && kv_intents_get(kv__intents(v->a.s), key, klen, in, NULL) == 0 &&
	    !kv_owner_alive(in->pid, in->start)) {
		rc = kv_err_set(&err, -EOWNERDEAD,
				"it has an unfinished operation (verify "
				"--repair finishes it first)");
		goto unchecked;
	}
	memset(in, 0, sizeof(*in));
	in->op = KV_OP_LOCK;
	rc = kv__acquire(v->a.s, key, klen, in, &err);
	if (rc < 0)
		goto unchecked;
	rc = kv_index_get(kv__index(v->a.s), KV_KEYS, key, klen, &rec, &err);
	if (rc < 0 || rec.type != KV_TYPE_REG || !kv_record_owns_value(&rec, key, klen))
		goto release; /* gone meanwhile: nothing to check */
	verify_check_replicas(v, key, klen, &rec, v->deep, kc);
	if (!problem(kc))
		goto release; /* it was a write in flight */
	b = blocker(v, &rec, kc);
	tell(v, key, klen, &rec, kc, b < 0);
	if (b >= 0) {
		verify_add(&v->r->left_alone, 1);
		verify_add(&v->sh[b].left, 1);
		if (v->repair)
			verify_add(&v->r->unrepaired, 1);
	} else if (kc->unknown) {
		if (v->repair)
			verify_add(&v->r->unrepaired, 1);
	} else if (kc->nbad == rec.nrep) {
		lost_key(v, key, klen, &rec);
	} else if (v->repair) {
		repair_key(v, key, klen, in, &rec, kc);
		goto out; /* the lock went with the repair */
	}
release:
	(void)kv_intents_release(kv__intents(v->a.s), key, klen, NULL);
	goto out;
unchecked:
	admin_report(&v->a, "unchecked: %s: %s", KEYTEXT(kt, key, klen), err.msg);
	verify_add(&v->r->unchecked, 1);
	if (v->repair)
		verify_add(&v->r->unrepaired, 1);
out:
	free(kc);
	free(in);
}

/* A pool thread: check the key of item (struct admin_key_job). */
static void check_key(void *item, void *arg)
{
	const struct admin_key_job *job = item;
	const char *key = job->key;
	size_t klen = job->klen;
	struct verify *v = arg;
	struct key_check *kc = malloc(sizeof(*kc));
	struct kv_record rec;
	int b, bad = 0;

	if (kc == NULL) {
		recheck_key(v, key, klen);
		admin_tick(&v->a, 1, 1);
		return;
	}
	if (kv_index_get(kv__index(v->a.s), KV_KEYS, key, klen, &rec, NULL) < 0 ||
	    rec.type != KV_TYPE_REG || !kv_record_owns_value(&rec, key, klen))
		goto out; /* no value, or a linked file's checked under its value key */
	if (v->deep && !verify_has_md5(&rec))
		verify_add(&v->r->no_md5, 1);
	verify_check_replicas(v, key, klen, &rec, v->deep, kc);
	if (!problem(kc))
		goto out;
	bad = 1;
	b = blocker(v, &rec, kc);
	if (b >= 0) {
		/* Nothing will be done to it: counted, not shown key by key. */
		tell(v, key, klen, &rec, kc, 0);
		verify_add(&v->r->left_alone, 1);
		verify_add(&v->sh[b].left, 1);
		if (v->repair)
			verify_add(&v->r->unrepaired, 1);
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
	verify_add(&f->v->r->keys, 1);
	return admin_submit_key(f->pool, key, klen);
}

static int check_records(struct verify *v, struct kv_err *err)
{
	uint64_t keys = 0, dirs, bytes;
	struct feed f = { v, NULL };
	int rc = kv_index_stats(kv__index(v->a.s), &keys, &dirs, &bytes, err);

	if (rc < 0)
		return rc;
	admin_phase(&v->a, v->deep ? "reading values" : "checking keys", "keys", keys);
	f.pool = kv_pool_new(v->a.o->jobs, sizeof(struct admin_key_job), check_key, v);
	if (f.pool == NULL)
		return kv_err_set(err, -EAGAIN, "cannot start worker threads");
	rc = admin_each_key(v->a.s, feed_key, &f, err);
	kv_pool_finish(f.pool);
	return rc;
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
	v->grace_s = kv_store_config(s)->orphan_grace;
	for (i = 0; i < o->nforce && rc == 0; i++) {
		int sh = find_shard(s, o->force[i]);

		if (sh < 0)
			rc = kv_err_set(err, -EINVAL,
					"--force %s: not one of the configured shards",
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
		rc = verify_walk_shards(v, 0, err);
	if (rc == 0) {
		verify_judge_shards(v);
		rc = check_records(v, err);
	}
	if (rc == 0 && v->repair)
		rc = verify_walk_shards(v, 1, err);
	verify_tell_left(v);
	admin_done(&v->a);
	free(v);
	if (rc < 0)
		return rc;
	problems = r->missing + r->wrong_size + r->damaged + r->misplaced + r->lost + r->unchecked +
		   r->empty_shards + r->left_alone + r->orphans + r->strays + r->dead_intents;
	if (r->unrepaired > 0 || (problems > 0 && !o->repair))
		return 1;
	return 0;
}
