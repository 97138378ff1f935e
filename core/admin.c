/* admin.c — progress bookkeeping, the batched index walk and the key jobs of the admin
 * verbs. Called from a verb's own thread and its workers: a->lock (admin_int.h) makes the
 * progress and report callbacks one at a time. */
#include "admin_int.h"
#include "escape.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define BATCH 512

void admin_init(struct admin_run *a, struct kv_store *s, const struct kv_admin_opts *o,
		const char *phase, const char *unit, uint64_t total)
{
	memset(a, 0, sizeof(*a));
	a->s = s;
	a->o = o;
	pthread_mutex_init(&a->lock, NULL);
	admin_phase(a, phase, unit, total);
}

void admin_phase(struct admin_run *a, const char *phase, const char *unit, uint64_t total)
{
	pthread_mutex_lock(&a->lock);
	a->prog.phase = phase;
	a->prog.unit = unit;
	a->prog.total = total;
	a->prog.done = 0;
	a->prog.hits = 0;
	if (a->o->progress != NULL)
		a->o->progress(&a->prog, a->o->arg);
	pthread_mutex_unlock(&a->lock);
}

void admin_tick(struct admin_run *a, uint64_t done, uint64_t hits)
{
	pthread_mutex_lock(&a->lock);
	a->prog.done += done;
	a->prog.hits += hits;
	if (a->o->progress != NULL)
		a->o->progress(&a->prog, a->o->arg);
	pthread_mutex_unlock(&a->lock);
}

void admin_set(struct admin_run *a, uint64_t done, uint64_t total, uint64_t hits)
{
	pthread_mutex_lock(&a->lock);
	a->prog.done = done;
	a->prog.total = total;
	a->prog.hits = hits;
	if (a->o->progress != NULL)
		a->o->progress(&a->prog, a->o->arg);
	pthread_mutex_unlock(&a->lock);
}

void admin_report(struct admin_run *a, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&a->lock);
	if (a->o->report != NULL)
		a->o->report(line, a->o->arg);
	pthread_mutex_unlock(&a->lock);
}

void admin_done(struct admin_run *a)
{
	pthread_mutex_destroy(&a->lock);
}

const char *admin_key(char *buf, size_t cap, const char *key, size_t klen)
{
	size_t n;

	if (cap < 3) {
		if (cap > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[0] = '\'';
	n = 1 + kv_escape(buf + 1, cap - 2, key, klen, '\'', KV_ESC_BACKSLASH);
	buf[n++] = '\'';
	buf[n] = '\0';
	return buf;
}

int admin_each_key(struct kv_store *s, admin_key_fn fn, void *arg, struct kv_err *err)
{
	char last[KV_KEY_MAX + 1];
	size_t lastlen = 0;
	int rc, first = 1;

	for (;;) {
		struct kv_cursor *c;
		struct kv_record rec;
		const char *k;
		size_t kl;
		int n = 0;

		rc = kv_cursor_open(s->idx, KV_KEYS, &c, err);
		if (rc < 0)
			return rc;
		rc = kv_cursor_seek(c, last, first ? 0 : lastlen, &k, &kl, &rec);
		if (rc == 0 && !first && kl == lastlen && memcmp(k, last, kl) == 0)
			rc = kv_cursor_next(c, &k, &kl, &rec); /* done in the last batch */
		for (; rc == 0 && n < BATCH; n++) {
			memcpy(last, k, kl);
			lastlen = kl;
			rc = fn(last, lastlen, &rec, arg);
			if (rc != 0)
				break;
			rc = kv_cursor_next(c, &k, &kl, &rec);
		}
		kv_cursor_close(c);
		first = 0;
		if (rc == -KV_ECORRUPT)
			return kv_err_set(err, rc, "index record after '%.*s' is corrupt",
					  (int)lastlen, last);
		if (rc == -ENOENT)
			return 0;
		if (rc != 0)
			return rc;
	}
}

int admin_placement(const struct kv_store *s, const char *key, size_t klen,
		    char want[][KV_SHARD_NAME_MAX + 1])
{
	int order[KV_MAX_REPLICAS], n, i;

	n = kv_place(&s->cfg.shards, key, klen, s->cfg.replicas, order);
	for (i = 0; i < n; i++)
		(void)snprintf(want[i], KV_SHARD_NAME_MAX + 1, "%s",
			       s->cfg.shards.v[order[i]].name);
	return n;
}

int admin_submit_key(struct kv_pool *pool, const char *key, size_t klen)
{
	struct admin_key_job job;

	if (klen > sizeof(job.key))
		return -EINVAL;
	job.klen = klen;
	memcpy(job.key, key, klen);
	return kv_pool_submit(pool, &job, sizeof(job));
}
