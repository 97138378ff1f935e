/* placement.c — rendezvous hashing over the shard list. Pure: any thread. */
#include "placement.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "hash.h"

static int add_shard(struct kv_shards *out, const char *entry, size_t len, struct kv_err *err)
{
	const char *scheme = "http://", *name = entry;
	size_t nlen = len;
	struct kv_shard *sh;

	if (len > 8 && strncmp(entry, "https://", 8) == 0) {
		scheme = "https://";
		name += 8;
		nlen -= 8;
	} else if (len > 7 && strncmp(entry, "http://", 7) == 0) {
		name += 7;
		nlen -= 7;
	} else if (memmem(entry, len, "://", 3) != NULL) {
		return kv_err_set(err, -EINVAL,
				  "shard '%.*s': only http:// and https:// are "
				  "supported",
				  (int)len, entry);
	}
	/* user:password@host would show in every redirect, answer and log line, and be
	 * hashed into the shard's name (a new password would move every key). The message
	 * shows the entry without it. */
	if (memchr(name, '@', nlen) != NULL) {
		const char *at = memrchr(name, '@', nlen);
		size_t rest = nlen - (size_t)(at + 1 - name);

		return kv_err_set(err, -EINVAL,
				  "shard '%.*s...@%.*s': a user name or password in "
				  "a shard URL is refused (it would show in redirects and logs); "
				  "give the shards the cluster's secret with shard_secret_file",
				  (int)(name - entry), entry, (int)rest, at + 1);
	}
	while (nlen > 0 && name[nlen - 1] == '/')
		nlen--;
	if (nlen == 0 || memchr(name, '/', nlen) != NULL)
		return kv_err_set(err, -EINVAL, "shard '%.*s' must be host[:port] with no path",
				  (int)len, entry);
	if (nlen > KV_SHARD_NAME_MAX)
		return kv_err_set(err, -EINVAL, "shard name '%.*s...' is too long", 40, name);
	if (out->n == KV_MAX_SHARDS)
		return kv_err_set(err, -EINVAL, "more than %d shards", KV_MAX_SHARDS);
	sh = &out->v[out->n];
	memcpy(sh->name, name, nlen);
	sh->name[nlen] = '\0';
	if (kv_shards_find(out, sh->name) >= 0)
		return kv_err_set(err, -EINVAL, "shard '%s' is listed twice", sh->name);
	memcpy(sh->base, scheme, strlen(scheme));
	memcpy(sh->base + strlen(scheme), name, nlen);
	sh->base[strlen(scheme) + nlen] = '\0';
	out->n++;
	return 0;
}

int kv_shards_parse(const char *list, struct kv_shards *out, struct kv_err *err)
{
	const char *p = list;

	out->n = 0;
	while (*p != '\0') {
		size_t len;
		int rc;

		p += strspn(p, ", \t\r\n");
		len = strcspn(p, ", \t\r\n");
		if (len == 0)
			break;
		rc = add_shard(out, p, len, err);
		if (rc < 0)
			return rc;
		p += len;
	}
	if (out->n == 0)
		return kv_err_set(err, -EINVAL, "no shards given");
	return 0;
}

int kv_shards_find(const struct kv_shards *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return i;
	return -1;
}

int kv_place(const struct kv_shards *s, const char *key, size_t len, int r, int order[])
{
	uint8_t score[KV_MAX_SHARDS][KV_MD5_LEN];
	int i, j, n = 0;

	if (r > s->n)
		r = s->n;
	for (i = 0; i < s->n; i++) {
		kv_md5_2(s->v[i].name, strlen(s->v[i].name), key, len, score[i]);
		/* Insertion into the top r, highest first; memcmp on big-endian bytes
		 * compares the 128-bit numbers. Ties keep the configured order. */
		for (j = n; j > 0 && memcmp(score[order[j - 1]], score[i], KV_MD5_LEN) < 0; j--)
			if (j < r)
				order[j] = order[j - 1];
		if (j < r) {
			order[j] = i;
			if (n < r)
				n++;
		}
	}
	return n;
}

int kv_shard_url(const struct kv_shard *shard, const char *key, size_t len, char *out, size_t cap)
{
	char path[KV_PATH_MAX];
	int plen = kv_key_path(key, len, path, sizeof(path));
	int n;

	if (plen < 0)
		return plen;
	n = snprintf(out, cap, "%s%s", shard->base, path);
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : n;
}
