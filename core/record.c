/* record.c — binary encoding of index records and intents.
 *
 * Little-endian fixed-width fields and length-prefixed strings behind a version byte, so
 * the format can grow without breaking existing indexes. Decoding trusts nothing: every
 * length is checked against the buffer and the field's limit. Version 2 appends the inode
 * number and rdev and allows the special file types; version 3 appends the link count and
 * the value key of a hard-linked file. Versions 1 and 2 still decode (the upgrade is
 * one-way: encode writes version 3 only). Pure: any thread.
 */
#include "record.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "sys.h"

#define RECORD_VERSION 3
#define RECORD_VERSION_2 2
#define RECORD_VERSION_1 1
#define INTENT_VERSION 1

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int overflow;
};

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static void put_bytes(struct wbuf *w, const void *b, size_t n)
{
	if (w->len + n > w->cap) {
		w->overflow = 1;
		return;
	}
	memcpy(w->p + w->len, b, n);
	w->len += n;
}

static void put_uint(struct wbuf *w, uint64_t v, int width)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < width; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(w, b, (size_t)width);
}

static void put_str8(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);

	put_uint(w, n, 1);
	put_bytes(w, s, n);
}

static void get_bytes(struct rbuf *r, void *b, size_t n)
{
	if (r->bad || r->off + n > r->len) {
		r->bad = 1;
		memset(b, 0, n);
		return;
	}
	memcpy(b, r->p + r->off, n);
	r->off += n;
}

static uint64_t get_uint(struct rbuf *r, int width)
{
	uint8_t b[8];
	uint64_t v = 0;
	int i;

	get_bytes(r, b, (size_t)width);
	for (i = width - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/* A length-prefixed string into out (capacity cap incl. NUL). Shard names, keys and link
 * targets never hold a NUL: one inside means damage (and would cut a name short). */
static size_t get_str(struct rbuf *r, int width, char *out, size_t cap)
{
	size_t n = (size_t)get_uint(r, width);

	if (n >= cap) {
		r->bad = 1;
		n = 0;
	}
	get_bytes(r, out, n);
	if (memchr(out, '\0', n) != NULL)
		r->bad = 1;
	out[n] = '\0';
	return n;
}

static void put_record(struct wbuf *w, const struct kv_record *r)
{
	int i;

	put_uint(w, RECORD_VERSION, 1);
	put_uint(w, r->type, 1);
	put_uint(w, r->mode, 4);
	put_uint(w, r->uid, 4);
	put_uint(w, r->gid, 4);
	put_uint(w, r->size, 8);
	put_uint(w, (uint64_t)r->mtime_ns, 8);
	put_uint(w, (uint64_t)r->ctime_ns, 8);
	put_uint(w, (uint64_t)r->atime_ns, 8);
	put_uint(w, r->gen, 8);
	put_bytes(w, r->md5, KV_MD5_LEN);
	put_uint(w, r->nrep, 1);
	for (i = 0; i < r->nrep; i++)
		put_str8(w, r->rep[i]);
	put_uint(w, r->target_len, 2);
	put_bytes(w, r->target, r->target_len);
	put_uint(w, r->ino, 8);
	put_uint(w, r->rdev, 8);
	put_uint(w, r->nlink, 4);
	put_uint(w, r->vkey_len, 2);
	put_bytes(w, r->vkey, r->vkey_len);
}

static void get_record(struct rbuf *b, struct kv_record *r)
{
	uint64_t version;
	int i;

	/* Not all of it: zeroing the strings' 6 KiB, most of it never used, was a GET's
	 * largest cost in user space after libmicrohttpd's pool. */
	memset(r, 0, offsetof(struct kv_record, rep));
	for (i = 0; i < KV_MAX_REPLICAS; i++)
		r->rep[i][0] = '\0';
	r->target_len = 0;
	r->target[0] = '\0';
	r->ino = 0; /* version 1 has neither */
	r->rdev = 0;
	r->nlink = 1; /* versions 1 and 2: one name, its own value */
	r->vkey_len = 0;
	r->vkey[0] = '\0';
	version = get_uint(b, 1);
	if (version != RECORD_VERSION && version != RECORD_VERSION_2 && version != RECORD_VERSION_1)
		b->bad = 1;
	r->type = (uint8_t)get_uint(b, 1);
	r->mode = (uint32_t)get_uint(b, 4);
	r->uid = (uint32_t)get_uint(b, 4);
	r->gid = (uint32_t)get_uint(b, 4);
	r->size = get_uint(b, 8);
	r->mtime_ns = (int64_t)get_uint(b, 8);
	r->ctime_ns = (int64_t)get_uint(b, 8);
	r->atime_ns = (int64_t)get_uint(b, 8);
	r->gen = get_uint(b, 8);
	get_bytes(b, r->md5, KV_MD5_LEN);
	r->nrep = (uint8_t)get_uint(b, 1);
	if (r->nrep > KV_MAX_REPLICAS || r->type < KV_TYPE_REG ||
	    r->type > (version == RECORD_VERSION_1 ? KV_TYPE_DIR : KV_TYPE_LAST))
		b->bad = 1;
	for (i = 0; !b->bad && i < r->nrep; i++)
		(void)get_str(b, 1, r->rep[i], sizeof(r->rep[i]));
	r->target_len = (uint16_t)get_str(b, 2, r->target, sizeof(r->target));
	if (version == RECORD_VERSION_1)
		return;
	r->ino = get_uint(b, 8);
	r->rdev = get_uint(b, 8);
	if (version == RECORD_VERSION_2)
		return;
	r->nlink = (uint32_t)get_uint(b, 4);
	r->vkey_len = (uint16_t)get_str(b, 2, r->vkey, sizeof(r->vkey));
}

size_t kv_record_encode(const struct kv_record *r, uint8_t *out, size_t cap)
{
	struct wbuf w = { out, 0, cap, 0 };

	put_record(&w, r);
	return w.overflow ? 0 : w.len;
}

int kv_record_decode(const uint8_t *buf, size_t len, struct kv_record *r)
{
	struct rbuf b = { buf, len, 0, 0 };

	get_record(&b, r);
	return b.bad || b.off != len ? -KV_ECORRUPT : 0;
}

uint64_t kv_record_ino(const struct kv_record *r, const char *key, size_t klen)
{
	uint8_t md[KV_MD5_LEN];
	uint64_t ino = 0;
	int i;

	if (klen == 0)
		return 1;
	if (r != NULL && r->ino != 0)
		return r->ino;
	kv_md5(key, klen, md);
	for (i = 0; i < 8; i++)
		ino = ino << 8 | md[i];
	return ino > 1 ? ino : ino + 2;
}

void kv_record_vkey(const struct kv_record *r, const char *key, size_t klen, const char **vk,
		    size_t *vklen)
{
	if (r->vkey_len > 0) {
		*vk = r->vkey;
		*vklen = r->vkey_len;
	} else {
		*vk = key;
		*vklen = klen;
	}
}

int kv_record_owns_value(const struct kv_record *r, const char *key, size_t klen)
{
	return r->vkey_len == 0 || (r->vkey_len == klen && memcmp(r->vkey, key, klen) == 0);
}

int kv_record_has_replica(const struct kv_record *r, const char *shard)
{
	int i;

	for (i = 0; i < r->nrep; i++)
		if (strcmp(r->rep[i], shard) == 0)
			return 1;
	return 0;
}

int kv_record_replicas_are(const struct kv_record *r, char shards[][KV_SHARD_NAME_MAX + 1], int n)
{
	int i;

	if (r->nrep != n)
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(r->rep[i], shards[i]) != 0)
			return 0;
	return 1;
}

static void put_files(struct wbuf *w, const struct kv_fileref *f, uint8_t n)
{
	int i;

	put_uint(w, n, 1);
	for (i = 0; i < n; i++) {
		put_str8(w, f[i].shard);
		put_uint(w, f[i].klen, 2);
		put_bytes(w, f[i].key, f[i].klen);
		put_uint(w, f[i].tmp, 8);
	}
}

static uint8_t get_files(struct rbuf *b, struct kv_fileref *f, int max)
{
	uint8_t n = (uint8_t)get_uint(b, 1);
	int i;

	if (n > max) {
		b->bad = 1;
		return 0;
	}
	for (i = 0; !b->bad && i < n; i++) {
		(void)get_str(b, 1, f[i].shard, sizeof(f[i].shard));
		f[i].klen = (uint16_t)get_str(b, 2, f[i].key, sizeof(f[i].key));
		f[i].tmp = get_uint(b, 8);
	}
	return n;
}

void kv_intent_clear(struct kv_intent *in)
{
	memset(in, 0, offsetof(struct kv_intent, undo));
}

size_t kv_intent_encode(const struct kv_intent *in, uint8_t *out, size_t cap)
{
	struct wbuf w = { out, 0, cap, 0 };
	int i;

	put_uint(&w, INTENT_VERSION, 1);
	put_uint(&w, in->op, 1);
	put_uint(&w, in->phase, 1);
	put_uint(&w, (uint32_t)in->pid, 4);
	put_uint(&w, in->start, 8);
	put_uint(&w, (uint64_t)in->since_ns, 8);
	put_files(&w, in->undo, in->nundo);
	put_files(&w, in->moves, in->nmoves);
	put_files(&w, in->cleanup, in->ncleanup);
	put_uint(&w, in->nrecops, 1);
	for (i = 0; i < in->nrecops; i++) {
		const struct kv_recop *op = &in->recops[i];

		put_uint(&w, op->klen, 2);
		put_bytes(&w, op->key, op->klen);
		put_uint(&w, op->expect_gen, 8);
		put_uint(&w, op->remove, 1);
		if (!op->remove)
			put_record(&w, &op->rec);
	}
	return w.overflow ? 0 : w.len;
}

int kv_intent_decode(const uint8_t *buf, size_t len, struct kv_intent *in)
{
	struct rbuf b = { buf, len, 0, 0 };
	int i;

	memset(in, 0, sizeof(*in));
	if (get_uint(&b, 1) != INTENT_VERSION)
		return -KV_ECORRUPT;
	in->op = (uint8_t)get_uint(&b, 1);
	in->phase = (uint8_t)get_uint(&b, 1);
	in->pid = (int32_t)get_uint(&b, 4);
	in->start = get_uint(&b, 8);
	in->since_ns = (int64_t)get_uint(&b, 8);
	in->nundo = get_files(&b, in->undo, KV_INTENT_FILES);
	in->nmoves = get_files(&b, in->moves, KV_MAX_REPLICAS);
	in->ncleanup = get_files(&b, in->cleanup, KV_INTENT_FILES);
	in->nrecops = (uint8_t)get_uint(&b, 1);
	if (in->nrecops > 2)
		return -KV_ECORRUPT;
	for (i = 0; !b.bad && i < in->nrecops; i++) {
		struct kv_recop *op = &in->recops[i];

		op->klen = (uint16_t)get_str(&b, 2, op->key, sizeof(op->key));
		op->expect_gen = get_uint(&b, 8);
		op->remove = (uint8_t)get_uint(&b, 1);
		if (!op->remove)
			get_record(&b, &op->rec);
	}
	return b.bad || b.off != len ? -KV_ECORRUPT : 0;
}

int kv_fileref_add(struct kv_fileref *list, uint8_t *n, int max, const char *shard, const char *key,
		   size_t klen, uint64_t tmp)
{
	struct kv_fileref *f;

	if (*n >= max || klen > KV_KEY_MAX || strlen(shard) > KV_SHARD_NAME_MAX)
		return -ENOSPC;
	f = &list[(*n)++];
	(void)snprintf(f->shard, sizeof(f->shard), "%s", shard);
	memcpy(f->key, key, klen);
	f->key[klen] = '\0';
	f->klen = (uint16_t)klen;
	f->tmp = tmp;
	return 0;
}

/* The key's path with its last segment replaced by prefix and tmp in 16 hex digits. */
static int tmp_path(const char *key, size_t klen, uint64_t tmp, const char *prefix, char *out,
		    size_t cap)
{
	char *slash;
	int n = kv_key_path(key, klen, out, cap);

	if (n < 0)
		return n;
	slash = strrchr(out, '/');
	n = (int)(slash - out);
	n += snprintf(out + n, cap - (size_t)n, "/%s%016llx", prefix, (unsigned long long)tmp);
	return (size_t)n >= cap ? -ENAMETOOLONG : n;
}

int kv_tmp_path(const char *key, size_t klen, uint64_t tmp, char *out, size_t cap)
{
	return tmp_path(key, klen, tmp, "tmp.", out, cap);
}

int kv_tmp_path_legacy(const char *key, size_t klen, uint64_t tmp, char *out, size_t cap)
{
	return tmp_path(key, klen, tmp, ".tmp-", out, cap);
}

void kv_record_new(struct kv_record *rec, uint8_t type, const struct kv_meta *meta)
{
	int64_t now = kv_now_ns();

	memset(rec, 0, sizeof(*rec));
	rec->type = type;
	rec->mode = type == KV_TYPE_DIR ? 0755 : type == KV_TYPE_LNK ? 0777 : 0644;
	rec->uid = (uint32_t)geteuid();
	rec->gid = (uint32_t)getegid();
	rec->mtime_ns = now;
	rec->ctime_ns = now;
	rec->atime_ns = now;
	rec->gen = kv_new_gen();
	rec->nlink = 1;
	if (meta != NULL)
		kv_meta_apply(rec, meta);
}

void kv_meta_apply(struct kv_record *rec, const struct kv_meta *meta)
{
	if (meta->set_mode)
		rec->mode = meta->mode & 07777;
	if (meta->set_owner) {
		if (meta->uid != (uint32_t)-1)
			rec->uid = meta->uid;
		if (meta->gid != (uint32_t)-1)
			rec->gid = meta->gid;
	}
	if (meta->set_mtime)
		rec->mtime_ns = meta->mtime_ns;
	if (meta->set_atime)
		rec->atime_ns = meta->atime_ns;
	if (meta->set_ino)
		rec->ino = meta->ino;
}

uint64_t kv_new_gen(void)
{
	static _Atomic uint64_t counter;
	uint64_t z;

	if (counter == 0) {
		uint64_t seed = 0;

		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			seed = (uint64_t)&seed ^ 0x9e3779b97f4a7c15ULL;
		counter = seed | 1;
	}
	/* splitmix64 of a counter: distinct per call in this process, random across them. */
	z = atomic_fetch_add(&counter, 0x9e3779b97f4a7c15ULL) + 0x9e3779b97f4a7c15ULL;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z != 0 ? z : 1;
}
