/* store.c — opening a store, and reading: records, redirects, ranges, listings. Which
 * replica a read or a redirect uses, and what a failure tells the health view, is
 * replicas.c's (kv__replicas_*); here are the reads' own rules: pinned to the value they
 * started from, and when to stop trying. Any thread: tinykvd's loop threads (get, locate)
 * and listers, the mount's FUSE threads and read-ahead threads; reads of bytes block on
 * the shards. */
#include "store_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "secret.h"
#include "sys.h"

int kv_store_open(const struct kv_config *cfg, struct kv_store **out, struct kv_err *err)
{
	struct kv_index_opts io = { cfg->map_size, cfg->sync, 0 };
	struct kv_dav_opts dop = { cfg->timeout, cfg->shard_secret };
	struct kv_store *s;
	uint64_t start;
	int32_t pid;
	int rc;

	*out = NULL;
	kv_self_owner(&pid, &start); /* now, not at a first write that may find no fd free */
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	s->cfg = *cfg;
	s->opened_ns = kv_now_ns();
	kv_record_new(&s->implied_dir, KV_TYPE_DIR, NULL);
	s->implied_dir.gen = 0; /* the mark of an implied directory */
	s->implied_dir.mtime_ns = s->implied_dir.ctime_ns = s->implied_dir.atime_ns = s->opened_ns;
	pthread_mutex_init(&s->ino_lock, NULL);
	rc = kv_index_open(cfg->index, &io, &s->idx, err);
	if (rc == 0)
		rc = kv_intents_open(s->idx, &s->ints, err);
	if (rc == 0) {
		/* The resolved path from here on; and what opening tightened, for the program. */
		(void)snprintf(s->cfg.index, sizeof(s->cfg.index), "%s", kv_index_dir(s->idx));
		(void)snprintf(s->notes, sizeof(s->notes), "%s%s", kv_index_notes(s->idx),
			       kv_intents_notes(s->ints));
	}
	if (rc == 0)
		rc = kv_dav_new(&dop, &s->dav, err);
	if (rc == 0 && (s->health = kv_health_new(&s->cfg.shards, cfg->down_time)) == NULL)
		rc = kv_err_set(err, -ENOMEM, "out of memory");
	if (rc < 0) {
		kv_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void kv_store_close(struct kv_store *s)
{
	if (s == NULL)
		return;
	kv_health_free(s->health); /* joins the probe, which uses dav */
	kv_dav_free(s->dav);
	kv_intents_close(s->ints);
	kv_index_close(s->idx);
	pthread_mutex_destroy(&s->ino_lock);
	free(s);
}

/* Inode numbers are taken from the index this many at a time: one commit per block, and
 * what a process leaves unused at its exit is simply never given. */
#define INO_BLOCK 256

struct ino_block {
	uint64_t first;
};

static int take_inos(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	struct ino_block *b = arg;

	return kv_txn_new_inos(txn, INO_BLOCK, &b->first, err);
}

int kv_store_new_ino(struct kv_store *s, uint64_t *ino, struct kv_err *err)
{
	struct ino_block b;
	int rc = 0;

	pthread_mutex_lock(&s->ino_lock);
	if (s->ino_next == s->ino_end) {
		rc = kv_index_update(s->idx, take_inos, &b, err);
		if (rc == 0) {
			s->ino_next = b.first;
			s->ino_end = b.first + INO_BLOCK;
		}
	}
	if (rc == 0)
		*ino = s->ino_next++;
	pthread_mutex_unlock(&s->ino_lock);
	return rc;
}

void kv_store_set_lock_wait(struct kv_store *s, int ms)
{
	s->lock_wait_ms = ms;
}

const struct kv_config *kv_store_config(const struct kv_store *s)
{
	return &s->cfg;
}

const char *kv_store_notes(const struct kv_store *s)
{
	return s->notes;
}

int kv_store_start_probe(struct kv_store *s, struct kv_err *err)
{
	if (kv_health_start_probe(s->health) < 0)
		return kv_err_set(err, -EAGAIN, "cannot start the shard probe thread");
	return 0;
}

struct kv_index *kv__index(struct kv_store *s)
{
	return s->idx;
}

struct kv_intents *kv__intents(struct kv_store *s)
{
	return s->ints;
}

struct kv_dav *kv__dav(struct kv_store *s)
{
	return s->dav;
}

int kv_store_get(struct kv_store *s, const char *key, size_t klen, struct kv_record *rec,
		 struct kv_err *err)
{
	int rc = kv_key_check(key, klen, err);

	if (rc < 0)
		return rc;
	rc = kv_index_get(s->idx, KV_KEYS, key, klen, rec, err);
	if (rc == -ENOENT)
		kv_err_set(err, rc, "no key '%.*s'", (int)klen, key);
	return rc;
}

/* The URL plain with a signature that expires read_link_ttl seconds from now
 * (sign_reads; the shards check it with --signed-reads), or plain itself. */
static int read_link(const struct kv_store *s, const char *key, size_t klen, const char *plain,
		     char *url, size_t cap, struct kv_err *err)
{
	size_t len = strlen(plain);
	int rc;

	if (!s->cfg.sign_reads) {
		if (len >= cap)
			return kv_err_set(err, -ENAMETOOLONG, "URL too long");
		memcpy(url, plain, len + 1);
		return 0;
	}
	rc = kv_sign_url(s->cfg.shard_secret, plain, (int64_t)time(NULL) + s->cfg.read_link_ttl,
			 url, cap);
	return rc < 0 ? kv_err_set(err, rc, "cannot sign the URL of '%.*s': %s", (int)klen, key,
				   kv_strerror(rc)) :
			0;
}

int kv_store_locate(struct kv_store *s, const char *key, size_t klen, char *url, size_t cap,
		    struct kv_record *rec, struct kv_err *err)
{
	struct kv_record local, *r = rec != NULL ? rec : &local;
	struct kv_replicas it;
	int rc;

	rc = kv_store_get(s, key, klen, r, err);
	if (rc < 0)
		return rc;
	if (r->type != KV_TYPE_REG)
		return kv_err_set(err, -ENOENT, "'%.*s' is a directory or a symlink, not a value",
				  (int)klen, key);
	kv__replicas_begin(&it, s, key, klen, r, KV_REPLICAS_ALL);
	rc = kv__replicas_next(&it, err); /* the best one: a redirect asks no shard */
	if (rc < 0)
		return rc;
	if (!it.up)
		return kv_err_set(err, -EIO, "every shard holding '%.*s' is down (%s%s)", (int)klen,
				  key, r->rep[0], r->nrep > 1 ? ", ..." : "");
	return read_link(s, key, klen, it.url, url, cap, err);
}

/* --- reads pinned to the value they started from --- */

/* Does the live record cur describe the same bytes as rec? A rename, a rebalance, a
 * repair or a metadata change gives a value a new record (and generation) but keeps its
 * size and md5 — or, when checksums are off, its size and mtime. */
static int same_value(const struct kv_record *rec, const struct kv_record *cur)
{
	static const uint8_t unknown[KV_MD5_LEN];

	if (cur->gen == rec->gen)
		return 1;
	if (cur->type != KV_TYPE_REG || cur->size != rec->size)
		return 0;
	if (memcmp(rec->md5, unknown, KV_MD5_LEN) != 0 &&
	    memcmp(cur->md5, unknown, KV_MD5_LEN) != 0)
		return memcmp(rec->md5, cur->md5, KV_MD5_LEN) == 0;
	return cur->mtime_ns == rec->mtime_ns;
}

/* Is a write about to MOVE another value onto one of rec's files? */
static int moving_onto(const struct kv_intent *in, const struct kv_record *rec)
{
	int i;

	if (in->phase != KV_PHASE_COMMIT)
		return 0; /* still uploading beside the value, or nothing to move */
	for (i = 0; i < in->nmoves; i++)
		if (kv_record_has_replica(rec, in->moves[i].shard))
			return 1;
	return 0;
}

/*
 * Why this is enough: a value's file is only ever replaced whole (a MOVE onto its path, or
 * a DELETE and a new upload), and a write moves files only while its COMMIT intent is
 * recorded, changing the record (to another value, or none) before it drops the intent.
 * So bytes read from a file that was no longer rec's value are followed, when we look,
 * by that intent or by the changed record — provided the intent is looked at first.
 */
int kv_store_current(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		     struct kv_record *cur, struct kv_err *err)
{
	struct kv_intent *in = malloc(sizeof(*in));
	struct kv_record live;
	int rc;

	if (in == NULL)
		return kv_err_set(err, -ENOMEM, "out of memory");
	rc = kv_intents_get(s->ints, key, klen, in, err);
	if (rc == 0 && moving_onto(in, rec))
		rc = kv_err_set(err, -ESTALE, "'%.*s' is being replaced", (int)klen, key);
	free(in);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = kv_index_get(s->idx, KV_KEYS, key, klen, &live, err);
	if (rc == -ENOENT)
		return kv_err_set(err, -ESTALE, "'%.*s' was removed", (int)klen, key);
	if (rc < 0)
		return rc;
	if (!same_value(rec, &live))
		return kv_err_set(err, -ESTALE, "'%.*s' was replaced", (int)klen, key);
	if (cur != NULL)
		*cur = live;
	return 0;
}

/* A sink in front of another that checks, when the first bytes of a GET arrive, that they
 * are rec's value. One GET reads one file (the shard opened it before answering), so a
 * check once it answers covers all of the GET's bytes. */
struct pinned {
	struct kv_store *s;
	const char *key;
	size_t klen;
	const struct kv_record *rec;
	kv_store_sink sink;
	void *arg;
	uint64_t n;	   /* bytes passed on */
	struct kv_err err; /* why the check failed */
};

static int pinned_sink(const void *buf, size_t len, void *arg)
{
	struct pinned *p = arg;

	if (p->n == 0 && len > 0) {
		int rc = kv_store_current(p->s, p->key, p->klen, p->rec, NULL, &p->err);

		if (rc < 0)
			return rc;
	}
	p->n += len;
	return p->sink(buf, len, p->arg);
}

/* GET [off, off+len) of key's replica at url through p (len -1: to the end). A failure
 * of the check is returned with its message; so is a GET that gave fewer bytes than rec
 * says are there, as -ESTALE when rec is no longer the value, else as -EIO. */
static int pinned_get(struct pinned *p, const char *shard, const char *url, int64_t off,
		      int64_t len, struct kv_err *err)
{
	uint64_t want = len >= 0 ? (uint64_t)len : p->rec->size - (uint64_t)off;
	int rc;

	p->n = 0;
	rc = kv_dav_get(p->s->dav, url, off, len, pinned_sink, p, err);
	if (rc == -ESTALE && p->n == 0)
		return kv_err_set(err, rc, "%s", p->err.msg);
	if (rc == -ENOENT || (rc == 0 && p->n < want)) {
		/* Gone, or shorter than it was: replaced meanwhile, or a damaged replica. */
		int cur = kv_store_current(p->s, p->key, p->klen, p->rec, NULL, err);

		if (cur < 0)
			return cur;
		if (rc == 0)
			rc = kv_err_set(err, -EIO,
					"replica of '%.*s' on %s has %llu bytes from %lld, not "
					"%llu",
					(int)p->klen, p->key, shard, (unsigned long long)p->n,
					(long long)off, (unsigned long long)want);
	}
	return rc;
}

struct membuf {
	char *p;
	size_t len, cap;
};

static int membuf_sink(const void *buf, size_t len, void *arg)
{
	struct membuf *m = arg;
	size_t take = len > m->cap - m->len ? m->cap - m->len : len;

	memcpy(m->p + m->len, buf, take);
	m->len += take;
	return 0;
}

/* Errors that end a read at once: the value is gone, or the caller's sink said stop. Any
 * other failure may be the replica's alone, and the next one is tried. */
static int read_ends(int rc, uint64_t delivered)
{
	return rc == -ESTALE || delivered > 0;
}

int kv_store_read(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		  int64_t off, void *buf, size_t len, size_t *got, struct kv_err *err)
{
	struct kv_replicas it;
	int rc;

	*got = 0;
	if (off < 0)
		return kv_err_set(err, -EINVAL, "negative offset");
	if ((uint64_t)off >= rec->size || len == 0)
		return 0;
	if (len > rec->size - (uint64_t)off)
		len = (size_t)(rec->size - (uint64_t)off);
	kv__replicas_begin(&it, s, key, klen, rec, KV_REPLICAS_ALL);
	while ((rc = kv__replicas_next(&it, err)) > 0) {
		struct membuf m = { buf, 0, len };
		struct pinned p = {
			s, key, klen, rec, membuf_sink, &m, 0, {0, ""}
		};

		rc = kv__replicas_tried(&it,
					pinned_get(&p, it.shard, it.url, off, (int64_t)len, err));
		if (rc == 0)
			*got = m.len;
		if (rc == 0 || rc == -ESTALE)
			return rc;
	}
	return rc;
}

struct fdsink {
	int fd;
	int64_t off;
};

static int fd_sink(const void *buf, size_t len, void *arg)
{
	struct fdsink *f = arg;
	const char *p = buf;

	while (len > 0) {
		ssize_t w = pwrite(f->fd, p, len, f->off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		len -= (size_t)w;
		f->off += w;
	}
	return 0;
}

int kv_store_read_stream(struct kv_store *s, const char *key, size_t klen,
			 const struct kv_record *rec, int64_t off, kv_store_sink sink, void *arg,
			 struct kv_err *err)
{
	struct pinned p = {
		s, key, klen, rec, sink, arg, 0, {0, ""}
	};
	struct kv_replicas it;
	int rc;

	if (off < 0 || (uint64_t)off >= rec->size)
		return 0;
	kv__replicas_begin(&it, s, key, klen, rec, KV_REPLICAS_ALL);
	while ((rc = kv__replicas_next(&it, err)) > 0) {
		rc = kv__replicas_tried(&it, pinned_get(&p, it.shard, it.url, off, -1, err));
		if (rc == 0 || read_ends(rc, p.n))
			return rc;
	}
	return rc;
}

int kv__get_to_fd(struct kv_store *s, const char *url, int fd, int64_t *got, struct kv_err *err)
{
	struct fdsink f = { fd, 0 };
	int rc = kv_dav_get(s->dav, url, 0, -1, fd_sink, &f, err);

	*got = f.off;
	return rc;
}

int kv_store_fetch_fd(struct kv_store *s, const char *key, size_t klen, const struct kv_record *rec,
		      int fd, struct kv_err *err)
{
	struct kv_replicas it;
	int rc;

	if (rec->size == 0)
		return 0;
	kv__replicas_begin(&it, s, key, klen, rec, KV_REPLICAS_ALL);
	while ((rc = kv__replicas_next(&it, err)) > 0) {
		struct fdsink f = { fd, 0 };
		struct pinned p = {
			s, key, klen, rec, fd_sink, &f, 0, {0, ""}
		};

		rc = pinned_get(&p, it.shard, it.url, 0, -1, err);
		if (rc == 0 && (uint64_t)f.off != rec->size)
			rc = kv_err_set(err, -EIO,
					"replica of '%.*s' on %s has %lld bytes, not %llu",
					(int)klen, key, it.shard, (long long)f.off,
					(unsigned long long)rec->size);
		rc = kv__replicas_tried(&it, rc);
		if (rc == 0 || rc == -ESTALE)
			return rc;
		if (ftruncate(fd, 0) < 0)
			return kv_err_set(err, -errno, "spool: %s", strerror(errno));
	}
	return rc;
}

/* Does a (alen bytes) sort before b in the index's order (bytes, then length)? A start
 * past every key of the prefix ("b" for "ab") must list nothing, not the prefix again. */
static int sorts_before(const char *a, size_t alen, const char *b, size_t blen)
{
	int cmp = memcmp(a, b, alen < blen ? alen : blen);

	return cmp < 0 || (cmp == 0 && alen < blen);
}

int kv_store_list(struct kv_store *s, const char *prefix, size_t plen, const char *start,
		  size_t slen, size_t limit, kv_list_fn fn, void *arg, char *next, size_t *nextlen,
		  struct kv_err *err)
{
	struct kv_cursor *c;
	struct kv_record rec;
	const char *k;
	size_t kl, seen = 0;
	int rc;

	*nextlen = 0;
	next[0] = '\0';
	if (start == NULL || sorts_before(start, slen, prefix, plen)) {
		start = prefix; /* nothing before the prefix can match */
		slen = plen;
	}
	rc = kv_cursor_open(s->idx, KV_KEYS, &c, err);
	if (rc < 0)
		return rc;
	for (rc = kv_cursor_seek(c, start, slen, &k, &kl, &rec); rc == 0;
	     rc = kv_cursor_next(c, &k, &kl, &rec)) {
		if (kl < plen || memcmp(k, prefix, plen) != 0)
			break;
		if (seen == limit || fn(k, kl, &rec, arg) != 0) {
			memcpy(next, k, kl);
			next[kl] = '\0';
			*nextlen = kl;
			break;
		}
		seen++;
	}
	kv_cursor_close(c);
	if (rc == -ENOENT)
		rc = 0;
	return rc < 0 ? kv_err_set(err, rc, "listing: %s", kv_strerror(rc)) : 0;
}

int kv_store_sync(struct kv_store *s, struct kv_err *err)
{
	return kv_index_sync(s->idx, err);
}

int kv_store_statfs(struct kv_store *s, struct kv_statfs *st, struct kv_err *err)
{
	struct statvfs vfs;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = kv_index_stats(s->idx, &st->keys, &st->dirs, &st->bytes, err);
	if (rc < 0)
		return rc;
	if (statvfs(s->cfg.cache, &vfs) == 0 || statvfs(s->cfg.index, &vfs) == 0) {
		st->free_bytes = (uint64_t)vfs.f_bavail * vfs.f_frsize;
		st->total_bytes = (uint64_t)vfs.f_blocks * vfs.f_frsize;
	}
	return 0;
}
