/* replicas.c — where a key's files are on the shards (their URLs, kv__value_url the one
 * name of a value's file), and trying a value's replicas in turn (kv__replicas_*): the
 * one fail-over loop of reads, redirects and copies, which orders the replicas by the
 * health view and tells it which shards answered. Nothing here blocks on a shard. Any
 * thread; an iterator is its caller's. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int kv__shard(const struct kv_store *s, const char *name)
{
	return kv_shards_find(&s->cfg.shards, name);
}

void kv__shard_failed(struct kv_store *s, const char *name)
{
	kv_health_mark_down(s->health, kv__shard(s, name));
}

void kv__shard_answered(struct kv_store *s, const char *name)
{
	kv_health_mark_up(s->health, kv__shard(s, name));
}

int kv__shard_up(const struct kv_store *s, const char *name)
{
	int sh = kv__shard(s, name);

	return sh < 0 || kv_health_is_up(s->health, sh);
}

/* Base URL of a shard by name; a shard dropped from the configuration is still reachable
 * as http://NAME (its files must be found for rebalance and cleanup). */
/* The base URL of the shard called name: the configured one, or made in buf (cap). */
static const char *shard_base(const struct kv_store *s, const char *name, char *buf, size_t cap)
{
	int i = kv__shard(s, name);

	if (i >= 0)
		return s->cfg.shards.v[i].base;
	(void)snprintf(buf, cap, "http://%s", name);
	return buf;
}

int kv__key_url(const struct kv_store *s, const char *shard, const char *key, size_t klen,
		char *url, size_t cap, struct kv_err *err)
{
	char buf[KV_SHARD_BASE_MAX + 1], path[KV_PATH_MAX];
	const char *base = shard_base(s, shard, buf, sizeof(buf));
	size_t blen = strlen(base);
	int plen = kv_key_path(key, klen, path, sizeof(path));

	/* Joined by hand: every redirect is made here, and snprintf was a tenth of one. */
	if (plen < 0)
		return kv_err_set(err, -EINVAL, "invalid key");
	if (blen + (size_t)plen >= cap)
		return kv_err_set(err, -ENAMETOOLONG, "URL too long");
	memcpy(url, base, blen);
	memcpy(url + blen, path, (size_t)plen + 1);
	return 0;
}

int kv__value_url(const struct kv_store *s, const char *shard, const char *key, size_t klen,
		  const struct kv_record *rec, char *url, size_t cap, struct kv_err *err)
{
	const char *vk;
	size_t vklen;

	/* A hard-linked file's value sits at one of its names' path (record.h). */
	kv_record_vkey(rec, key, klen, &vk, &vklen);
	return kv__key_url(s, shard, vk, vklen, url, cap, err);
}

/* URL of a temporary upload, by today's name or (legacy) by an older version's. */
static int tmp_url(const struct kv_store *s, const struct kv_fileref *ref, int legacy, char *url,
		   size_t cap, struct kv_err *err)
{
	char buf[KV_SHARD_BASE_MAX + 1], path[KV_PATH_MAX];
	const char *base = shard_base(s, ref->shard, buf, sizeof(buf));
	int n;

	n = legacy ? kv_tmp_path_legacy(ref->key, ref->klen, ref->tmp, path, sizeof(path)) :
		     kv_tmp_path(ref->key, ref->klen, ref->tmp, path, sizeof(path));
	if (n < 0)
		return kv_err_set(err, -EINVAL, "invalid key");
	n = snprintf(url, cap, "%s%s", base, path);
	return n < 0 || (size_t)n >= cap ? kv_err_set(err, -ENAMETOOLONG, "URL too long") : 0;
}

int kv__ref_url(const struct kv_store *s, const struct kv_fileref *ref, char *url, size_t cap,
		struct kv_err *err)
{
	if (!ref->tmp)
		return kv__key_url(s, ref->shard, ref->key, ref->klen, url, cap, err);
	return tmp_url(s, ref, 0, url, cap, err);
}

int kv__legacy_tmp_url(const struct kv_store *s, const struct kv_fileref *ref, char *url,
		       size_t cap, struct kv_err *err)
{
	if (!ref->tmp)
		return kv_err_set(err, -EINVAL, "not a temporary upload");
	return tmp_url(s, ref, 1, url, cap, err);
}

/* --- trying a value's replicas in turn --- */

/* Append to it->order the replicas whose shard's health is up (want_up) or down. */
static void add_by_health(struct kv_replicas *it, int want_up)
{
	int i;

	for (i = 0; i < it->rec->nrep; i++)
		if (kv__shard_up(it->s, it->rec->rep[i]) == want_up)
			it->order[it->n++] = i;
}

/* Record order without the replicas on shards believed down, but the last one always:
 * a value whose shards all look down is still tried once. */
static void add_live_or_last(struct kv_replicas *it)
{
	int i;

	for (i = 0; i < it->rec->nrep; i++)
		if (i + 1 == it->rec->nrep || kv__shard_up(it->s, it->rec->rep[i]))
			it->order[it->n++] = i;
}

void kv__replicas_begin(struct kv_replicas *it, struct kv_store *s, const char *key, size_t klen,
			const struct kv_record *rec, enum kv_replicas_policy policy)
{
	it->s = s;
	it->key = key;
	it->klen = klen;
	it->rec = rec;
	it->n = it->next = it->tried = it->last = 0;
	it->shard = NULL;
	it->up = 0;
	if (policy == KV_REPLICAS_LIVE) {
		add_live_or_last(it);
		return;
	}
	add_by_health(it, 1);
	add_by_health(it, 0);
}

int kv__replicas_next(struct kv_replicas *it, struct kv_err *err)
{
	int rc;

	if (it->next == it->n) {
		if (it->tried)
			return it->last;
		return kv_err_set(err, -EIO, "key '%.*s' has no replica", (int)it->klen, it->key);
	}
	it->shard = it->rec->rep[it->order[it->next++]];
	it->up = kv__shard_up(it->s, it->shard);
	rc = kv__value_url(it->s, it->shard, it->key, it->klen, it->rec, it->url, sizeof(it->url),
			   err);
	return rc < 0 ? rc : 1;
}

int kv__replicas_tried(struct kv_replicas *it, int rc)
{
	it->tried = 1;
	it->last = rc;
	if (rc == 0)
		kv__shard_answered(it->s, it->shard);
	else if (rc == -EIO || rc == -ETIMEDOUT)
		kv__shard_failed(it->s, it->shard); /* the shard's fault, not a missing file */
	return rc;
}
