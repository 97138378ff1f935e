/* walk.c — every file on a shard, found by walking its hash directories with PROPFIND.
 * Called by rebuild's and verify's workers, one walk of one shard per thread. */
#include "walk.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "placement.h"

#define TMP_PREFIX "tmp." /* a temporary upload's name: kv_tmp_path in record.c */
#define TMP_PREFIX_LEN 4

struct entry {
	char *path; /* decoded, from the shard root, '/' first */
	int is_dir;
	int64_t size, mtime;
};

struct listing {
	const char *self; /* the directory listed; its own entry is left out */
	struct entry *v;
	size_t n, cap;
};

struct walk {
	struct kv_dav *dav;
	const char *name, *base;
	kv_walk_fn fn;
	void *arg;
	struct kv_err *err;
};

/* Servers may answer with absolute URLs; keep the path. */
static const char *href_path(const char *href)
{
	const char *p = strstr(href, "://");

	if (p == NULL)
		return href;
	p = strchr(p + 3, '/');
	return p != NULL ? p : "/";
}

static int collect(const struct kv_dav_entry *e, void *arg)
{
	struct listing *l = arg;
	const char *path = href_path(e->href);
	size_t len = strlen(path);

	if (len > 0 && path[len - 1] == '/')
		len--; /* directories as "/ab", files as "/ab/cd/x" */
	if (len == strlen(l->self) - 1 && strncmp(path, l->self, len) == 0)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct entry *v = realloc(l->v, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].path = strndup(path, len);
	if (l->v[l->n].path == NULL)
		return -ENOMEM;
	l->v[l->n].is_dir = e->is_dir;
	l->v[l->n].size = e->size;
	l->v[l->n].mtime = e->mtime;
	l->n++;
	return 0;
}

static void listing_free(struct listing *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
}

/* dir ends with '/'. */
static int list_dir(struct walk *w, const char *dir, struct listing *l)
{
	char url[KV_URL_MAX + 16];

	memset(l, 0, sizeof(*l));
	l->self = dir;
	(void)snprintf(url, sizeof(url), "%s%s", w->base, dir);
	return kv_propfind_list(w->dav, url, collect, l, w->err);
}

static const char *last_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

static int is_hex2(const char *name)
{
	return strlen(name) == 2 && isxdigit((unsigned char)name[0]) &&
	       isxdigit((unsigned char)name[1]) && !isupper((unsigned char)name[0]) &&
	       !isupper((unsigned char)name[1]);
}

static int report(struct walk *w, const struct entry *e, enum kv_file_kind kind)
{
	struct kv_shard_file f;

	memset(&f, 0, sizeof(f));
	f.kind = kind;
	f.shard = w->name;
	f.path = e->path;
	f.is_dir = e->is_dir;
	f.size = e->size;
	f.mtime = e->mtime;
	if (kind == KV_FILE_VALUE) {
		int n = kv_path_key(e->path, strlen(e->path), f.key, sizeof(f.key));

		if (n < 0) {
			f.kind = KV_FILE_STRAY;
		} else {
			f.klen = (size_t)n;
			f.key[n] = '\0';
		}
	} else if (kind == KV_FILE_TMP) {
		f.tmp = strtoull(last_name(e->path) + TMP_PREFIX_LEN, NULL, 16);
	}
	return w->fn(&f, w->arg);
}

/* Is name a temporary upload's, "tmp.<16 hex>" as kv_tmp_path makes it? (The ".tmp-<id>"
 * of versions up to 0.1.0 never shows: the shards' PROPFIND leaves dotfiles out.) */
static int tmp_name(const char *name)
{
	size_t i;

	if (strncmp(name, TMP_PREFIX, TMP_PREFIX_LEN) != 0 || strlen(name) != TMP_PREFIX_LEN + 16)
		return 0;
	for (i = TMP_PREFIX_LEN; name[i] != '\0'; i++)
		if (!isxdigit((unsigned char)name[i]) || isupper((unsigned char)name[i]))
			return 0;
	return 1;
}

/* A directory below /xx/yy: values, temporary uploads, and segments of long names. */
static int walk_values(struct walk *w, const char *dir, int depth)
{
	struct listing l;
	size_t i;
	int rc = list_dir(w, dir, &l);

	for (i = 0; rc == 0 && i < l.n; i++) {
		const struct entry *e = &l.v[i];
		char sub[KV_PATH_MAX + 2];

		if (!e->is_dir)
			rc = report(w, e,
				    tmp_name(last_name(e->path)) ? KV_FILE_TMP : KV_FILE_VALUE);
		else if (depth < 3 && strlen(e->path) + 2 < sizeof(sub)) {
			(void)snprintf(sub, sizeof(sub), "%s/", e->path);
			rc = walk_values(w, sub, depth + 1);
		} else
			rc = report(w, e, KV_FILE_STRAY);
	}
	listing_free(&l);
	return rc;
}

/* /xx/: the second level of hash directories. */
static int walk_level1(struct walk *w, const char *dir)
{
	struct listing l;
	size_t i;
	int rc = list_dir(w, dir, &l);

	for (i = 0; rc == 0 && i < l.n; i++) {
		const struct entry *e = &l.v[i];
		char sub[64];

		if (e->is_dir && is_hex2(last_name(e->path))) {
			(void)snprintf(sub, sizeof(sub), "%s/", e->path);
			rc = walk_values(w, sub, 0);
		} else {
			rc = report(w, e, KV_FILE_STRAY);
		}
	}
	listing_free(&l);
	return rc;
}

int kv_walk_shard(struct kv_dav *dav, const char *name, const char *base, kv_walk_fn fn, void *arg,
		  int *dirs, int *total_dirs, struct kv_err *err)
{
	struct walk w = { dav, name, base, fn, arg, err };
	struct listing top;
	size_t i;
	int rc = list_dir(&w, "/", &top), ndirs = 0;

	for (i = 0; rc == 0 && i < top.n; i++)
		ndirs += top.v[i].is_dir && is_hex2(last_name(top.v[i].path));
	if (total_dirs != NULL)
		__atomic_add_fetch(total_dirs, ndirs, __ATOMIC_RELAXED);
	for (i = 0; rc == 0 && i < top.n; i++) {
		const struct entry *e = &top.v[i];
		char sub[64];

		if (e->is_dir && is_hex2(last_name(e->path))) {
			(void)snprintf(sub, sizeof(sub), "%s/", e->path);
			rc = walk_level1(&w, sub);
			if (dirs != NULL)
				__atomic_add_fetch(dirs, 1, __ATOMIC_RELAXED);
		} else if (strcmp(last_name(e->path), ".nginx") != 0) {
			rc = report(&w, e, KV_FILE_STRAY); /* nginx's own state stays */
		}
	}
	listing_free(&top);
	return rc;
}
