/* verify_replicas.c — one key's replicas as verify sees them (pass 4 of verify.c, and
 * the check of a key before verify_shards.c deletes a copy of it): each asked with HEAD
 * or, deep, read whole and summed, and the replica set compared with placement. Runs on
 * verify's workers, one key per call; every call asks the shards.
 */
#include "verify_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
static int read_whole(struct verify *v, const char *url, int64_t *size, uint8_t md5[KV_MD5_LEN],
		      struct kv_err *err)
{
	struct sum sm = { kv_md5_new(), 0 };
	int rc;

	if (sm.h == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	rc = kv_dav_get(kv__dav(v->a.s), url, 0, -1, sum_sink, &sm, err);
	if (rc == 0) {
		kv_md5_final(sm.h, md5);
		*size = (int64_t)sm.n;
	}
	kv_md5_free(sm.h);
	return rc;
}

/* See verify_int.h. */
void verify_check_replicas(struct verify *v, const char *key, size_t klen,
			   const struct kv_record *rec, int deep, struct key_check *kc)
{
	int i;

	memset(kc, 0, sizeof(*kc));
	for (i = 0; i < rec->nrep; i++) {
		char url[KV_URL_MAX];
		struct kv_err err;
		int rc = kv__value_url(v->a.s, rec->rep[i], key, klen, rec, url, sizeof(url), &err);

		kc->size[i] = -1;
		if (rc == 0 && deep)
			rc = read_whole(v, url, &kc->size[i], kc->md5[i], &err);
		else if (rc == 0)
			rc = kv_dav_head(kv__dav(v->a.s), url, &kc->size[i], &err);
		if (rc == -ENOENT) {
			kc->state[i] = REP_MISSING;
		} else if (rc < 0) {
			kc->state[i] = REP_UNKNOWN;
			(void)snprintf(kc->why[i], sizeof(kc->why[i]), "%s", err.msg);
			kc->unknown = 1;
			continue;
		} else if (kc->size[i] != (int64_t)rec->size) {
			kc->state[i] = REP_SIZE;
		} else if (deep && verify_has_md5(rec) &&
			   memcmp(kc->md5[i], rec->md5, KV_MD5_LEN) != 0) {
			kc->state[i] = REP_DAMAGED;
		} else {
			continue;
		}
		memcpy(kc->bad[kc->nbad++], rec->rep[i], sizeof(kc->bad[0]));
	}
	kc->nwant = admin_placement(v->a.s, key, klen, kc->want);
	kc->misplaced = !kv_record_replicas_are(rec, kc->want, kc->nwant);
}
