/* replicate.c — copying a value between shards (kv__copy_value, from the first live
 * replica that answers: replicas.c's iterator), and giving a key a new replica set
 * (kv__set_replicas; kv__set_replicas_locked under a lock the caller holds), with the
 * cleanup a caller may defer (kv__finish_deferred). Used by rename.c, rebalance.c and
 * verify --repair (verify.c), on the caller's thread; every call asks the shards. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pipe_arg {
	struct kv_upload *up;
	struct kv_err *err;
	int upload_failed;
};

static int to_upload(const void *buf, size_t len, void *arg)
{
	struct pipe_arg *p = arg;
	int rc = kv_upload_write(p->up, buf, len, p->err);

	if (rc < 0)
		p->upload_failed = 1;
	return rc;
}

int kv__copy_value(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		   const char *const dst[], int n, struct kv_err *err)
{
	struct kv_replicas it;
	int rc;

	if (rec->nrep == 0)
		return kv_err_set(err, -EIO, "key '%.*s' has no replica to copy from", (int)klen,
				  key);
	kv__replicas_begin(&it, s, key, klen, rec, KV_REPLICAS_LIVE);
	while ((rc = kv__replicas_next(&it, err)) > 0) {
		struct pipe_arg p = { NULL, err, 0 };

		rc = kv_upload_begin(s->dav, dst, n, (int64_t)rec->size, &p.up, err);
		if (rc == 0)
			rc = kv_dav_get(s->dav, it.url, 0, -1, to_upload, &p, err);
		if (rc == 0)
			rc = kv_upload_end(p.up, err);
		if (rc < 0 && p.up != NULL && kv_upload_failed(p.up) >= 0)
			p.upload_failed = 1;
		kv_upload_free(p.up);
		if (p.upload_failed)
			return rc; /* a target failed: another source will not help */
		if (kv__replicas_tried(&it, rc) == 0)
			return 0;
	}
	return rc;
}

int kv__finish_deferred(struct kv_store *s, const char *key, size_t klen, struct kv_err *err)
{
	struct kv_intent *in = malloc(sizeof(*in));
	int rc;

	if (in == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	rc = kv_intents_get(s->ints, key, klen, in, err);
	if (rc == 0)
		rc = kv__exec_commit(s, key, klen, in, err);
	free(in);
	return rc == -ENOENT ? 0 : rc;
}

static int in_list(char list[][KV_SHARD_NAME_MAX + 1], int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/*
 * Give key exactly the replicas want[0..nwant), in that order: copy the value to shards
 * that lack it (and to those in `missing`, listed but found without a good copy), switch
 * the record, then delete copies no longer wanted. The caller holds the key's lock
 * through `in` and read `rec` under it; the switch is applied only while the record is
 * still that one (kv__apply_recop). Readers keep reading old replicas until the switch.
 */
int kv__set_replicas_locked(struct kv_store *s, const char *key, size_t klen, struct kv_intent *in,
			    const struct kv_record *rec, char want[][KV_SHARD_NAME_MAX + 1],
			    int nwant, char missing[][KV_SHARD_NAME_MAX + 1], int nmissing,
			    kv_defer_fn defer, void *defer_arg, int *changed, struct kv_err *err)
{
	const char *dst[KV_MAX_REPLICAS];
	char urls[KV_MAX_REPLICAS][KV_URL_MAX];
	struct kv_record have = *rec; /* the replicas that really hold the value */
	struct kv_recop *op;
	int i, j, k, ndst = 0, nundo, rc;

	*changed = 0;
	if (rec->type != KV_TYPE_REG || !kv_record_owns_value(rec, key, klen) ||
	    (kv_record_replicas_are(rec, want, nwant) && nmissing == 0))
		return kv_intents_release(s->ints, key, klen, err);
	for (i = 0; i < nmissing; i++) {
		for (j = k = 0; j < have.nrep; j++)
			if (strcmp(have.rep[j], missing[i]) != 0)
				memmove(have.rep[k++], have.rep[j], sizeof(have.rep[j]));
		have.nrep = (uint8_t)k;
	}
	in->op = KV_OP_MOVE;
	in->phase = KV_PHASE_PREPARE;
	in->nundo = in->nmoves = in->ncleanup = in->nrecops = 0;
	for (i = 0; i < nwant; i++) {
		if (kv_record_has_replica(&have, want[i]))
			continue;
		(void)kv_fileref_add(in->undo, &in->nundo, KV_INTENT_FILES, want[i], key, klen, 0);
		rc = kv__value_url(s, want[i], key, klen, rec, urls[ndst], sizeof(urls[ndst]), err);
		if (rc < 0)
			goto undo;
		dst[ndst] = urls[ndst];
		ndst++;
	}
	rc = kv_intents_update(s->ints, key, klen, in, err);
	if (rc == 0 && ndst > 0) {
		if (have.nrep == 0)
			rc = kv_err_set(err, -EIO, "key '%.*s': no shard holds its value",
					(int)klen, key);
		else
			rc = kv__copy_value(s, key, klen, &have, dst, ndst, err);
	}
	if (rc < 0)
		goto undo;
	/* Switch the record; a crash from here on rolls forward. */
	nundo = in->nundo;
	in->phase = KV_PHASE_COMMIT;
	in->nundo = 0;
	op = &in->recops[0];
	in->nrecops = 1;
	op->klen = (uint16_t)klen;
	memcpy(op->key, key, klen);
	op->expect_gen = rec->gen;
	op->remove = 0;
	op->rec = *rec;
	op->rec.gen = kv_new_gen();
	op->rec.nrep = (uint8_t)nwant;
	for (i = 0; i < nwant; i++)
		memcpy(op->rec.rep[i], want[i], sizeof(op->rec.rep[i]));
	for (i = 0; i < rec->nrep; i++) /* good or not: no longer wanted */
		if (!in_list(want, nwant, rec->rep[i]))
			(void)kv_fileref_add(in->cleanup, &in->ncleanup, KV_INTENT_FILES,
					     rec->rep[i], key, klen, 0);
	rc = kv_intents_update(s->ints, key, klen, in, err);
	if (rc == 0)
		rc = kv_index_update(s->idx, kv__apply_recop, op, err);
	if (rc < 0) {
		/* Not switched (the record changed, or the index failed): the new copies go. */
		in->phase = KV_PHASE_PREPARE;
		in->nundo = (uint8_t)nundo;
		in->nrecops = in->ncleanup = 0;
		(void)kv_intents_update(s->ints, key, klen, in, NULL);
		goto undo;
	}
	*changed = 1;
	/* The COMMIT intent keeps the old copies listed; its record change no longer
	 * matches and is skipped when it is finished. */
	if (defer != NULL)
		defer(key, klen, defer_arg);
	else
		(void)kv__exec_commit(s, key, klen, in, NULL);
	return 0;
undo:
	(void)kv__exec_undo(s, key, klen, in);
	return rc;
}

int kv__set_replicas(struct kv_store *s, const char *key, size_t klen,
		     char want[][KV_SHARD_NAME_MAX + 1], int nwant,
		     char missing[][KV_SHARD_NAME_MAX + 1], int nmissing, kv_defer_fn defer,
		     void *defer_arg, int *changed, struct kv_err *err)
{
	struct kv_intent *in = calloc(1, sizeof(*in));
	struct kv_record rec;
	int rc;

	*changed = 0;
	if (in == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	in->op = KV_OP_MOVE;
	rc = kv__acquire(s, key, klen, in, err);
	if (rc < 0)
		goto out;
	rc = kv_index_get(s->idx, KV_KEYS, key, klen, &rec, err);
	if (rc < 0) {
		(void)kv_intents_release(s->ints, key, klen, NULL);
		rc = rc == -ENOENT ? 0 : rc;
		goto out;
	}
	rc = kv__set_replicas_locked(s, key, klen, in, &rec, want, nwant, missing, nmissing, defer,
				     defer_arg, changed, err);
out:
	free(in);
	return rc;
}
