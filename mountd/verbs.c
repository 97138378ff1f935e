/* verbs.c — tinykvd rebalance, rebuild, verify: progress on stderr and the summary.
 *
 * On a terminal the progress is one line redrawn (bar, counts, rate, ETA) at most ten
 * times a second; otherwise a plain line every few seconds, so logs stay readable.
 */
#include "verbs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "escape.h"
#include "say.h"
#include "sys.h"

struct display {
	int tty;
	int64_t start_ms, last_ms;
	const char *phase;
	int drawn; /* a progress line is on screen */
	struct kv_progress last;
};

static void clear_line(struct display *d)
{
	if (d->tty && d->drawn) {
		fputs("\r\033[K", stderr);
		d->drawn = 0;
	}
}

static void draw(struct display *d, const struct kv_progress *p, int final)
{
	double secs = (double)(kv_mono_ms() - d->start_ms) / 1000.0;
	double rate = secs > 0 ? (double)p->done / secs : 0;
	char bar[32], eta[32] = "";
	int width = 24, fill, i;

	if (p->total > 0 && rate > 0 && p->done < p->total) {
		long left = (long)((double)(p->total - p->done) / rate);

		(void)snprintf(eta, sizeof(eta), "  ETA %ld:%02ld", left / 60, left % 60);
	}
	if (!d->tty) {
		say("%s: %llu/%llu %s, %llu found, %.0f %s/s%s", p->phase,
		    (unsigned long long)p->done, (unsigned long long)p->total, p->unit,
		    (unsigned long long)p->hits, rate, p->unit, eta);
		return;
	}
	fill = p->total > 0 ? (int)((double)width * (double)p->done / (double)p->total) : 0;
	for (i = 0; i < width; i++)
		bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
	bar[width] = '\0';
	fprintf(stderr, "\r\033[K%s [%s] %llu/%llu %s (%llu)  %.0f/s%s", p->phase, bar,
		(unsigned long long)p->done, (unsigned long long)p->total, p->unit,
		(unsigned long long)p->hits, rate, eta);
	d->drawn = 1;
	if (final)
		clear_line(d);
}

static void on_progress(const struct kv_progress *p, void *arg)
{
	struct display *d = arg;
	int64_t now = kv_mono_ms();

	if (d->phase != p->phase) {
		if (d->phase != NULL)
			draw(d, &d->last, 1);
		d->phase = p->phase;
		d->start_ms = now;
		d->last_ms = 0;
	}
	d->last = *p;
	if (now - d->last_ms < (d->tty ? 100 : 5000) && p->done != p->total)
		return;
	d->last_ms = now;
	draw(d, p, 0);
}

/* Findings may quote what others wrote (keys in error messages): control bytes and bytes
 * outside UTF-8 are shown as \xHH, never sent to the terminal (keys came through
 * admin_key already: their backslashes stay as they are). */
static void on_report(const char *line, void *arg)
{
	struct display *d = arg;
	size_t len = strlen(line);
	char *safe = malloc(KV_ESCAPE_CAP(len));

	clear_line(d);
	if (safe == NULL) {
		fputs("(a finding: out of memory)\n", stderr);
		return;
	}
	(void)kv_escape(safe, KV_ESCAPE_CAP(len), line, len, 0, 0);
	fprintf(stderr, "%s\n", safe);
	free(safe);
}

static void finish(struct display *d)
{
	if (d->phase != NULL)
		draw(d, &d->last, 1);
}

static int rebalance(struct kv_store *s, struct kv_admin_opts *o, struct display *d)
{
	struct kv_rebalance_result r;
	struct kv_err err;
	int rc = kv_rebalance(s, o, &r, &err);

	finish(d);
	printf("moved %llu of %llu keys\n", (unsigned long long)r.moved,
	       (unsigned long long)r.keys);
	if (rc < 0)
		say("rebalance: %s", err.msg);
	return rc < 0 ? 1 : 0;
}

static int rebuild(struct kv_store *s, struct kv_admin_opts *o, struct display *d)
{
	struct kv_rebuild_result r;
	struct kv_err err;
	int rc = kv_rebuild(s, o, &r, &err);

	finish(d);
	printf("rebuilt: %llu files seen, %llu keys added, %llu replicas added, %llu "
	       "conflicting copies, %llu stray files\n",
	       (unsigned long long)r.files, (unsigned long long)r.keys_added,
	       (unsigned long long)r.replicas_added, (unsigned long long)r.conflicts,
	       (unsigned long long)r.strays);
	if (rc < 0)
		say("rebuild: %s", err.msg);
	return rc < 0 ? 1 : 0;
}

static int verify(struct kv_store *s, struct kv_admin_opts *o, struct display *d)
{
	struct kv_verify_result r;
	struct kv_err err;
	int rc;

	kv_store_set_lock_wait(s, 5000); /* a key being written is waited for */
	rc = kv_verify(s, o, &r, &err);
	finish(d);
	if (rc < 0) {
		say("verify: %s", err.msg);
		return rc == -EINVAL ? 2 : 1;
	}
	printf("verified %llu keys and %llu files: %llu missing, %llu wrong size, ",
	       (unsigned long long)r.keys, (unsigned long long)r.files,
	       (unsigned long long)r.missing, (unsigned long long)r.wrong_size);
	if (o->deep)
		printf("%llu damaged, ", (unsigned long long)r.damaged);
	printf("%llu misplaced, %llu lost, %llu orphans, %llu strays, %llu unfinished "
	       "operations",
	       (unsigned long long)r.misplaced, (unsigned long long)r.lost,
	       (unsigned long long)r.orphans, (unsigned long long)r.strays,
	       (unsigned long long)r.dead_intents);
	if (r.unchecked > 0)
		printf(", %llu unchecked", (unsigned long long)r.unchecked);
	if (o->repair)
		printf("; %llu repaired, %llu not repaired, %llu orphan or stray files deleted, "
		       "%llu records deleted",
		       (unsigned long long)r.repaired, (unsigned long long)r.unrepaired,
		       (unsigned long long)r.files_deleted, (unsigned long long)r.records_deleted);
	printf("\n");
	if (r.empty_shards > 0)
		printf("%llu shard%s missing %s data: %llu key%s left alone\n",
		       (unsigned long long)r.empty_shards, r.empty_shards == 1 ? " is" : "s are",
		       r.empty_shards == 1 ? "its" : "their", (unsigned long long)r.left_alone,
		       r.left_alone == 1 ? "" : "s");
	if (o->deep && r.no_md5 > 0)
		printf("%llu value%s no md5 in %s record (written with checksum = no, or found "
		       "by rebuild): checked for size only\n",
		       (unsigned long long)r.no_md5, r.no_md5 == 1 ? " has" : "s have",
		       r.no_md5 == 1 ? "its" : "their");
	printf("%s\n", rc == 0 ? "healthy" : "problems remain");
	return rc == 0 ? 0 : 1;
}

int admin_run(struct kv_store *s, const char *verb, const struct verb_opts *vo)
{
	struct display d;
	struct kv_admin_opts o;

	memset(&d, 0, sizeof(d));
	d.tty = isatty(STDERR_FILENO);
	memset(&o, 0, sizeof(o));
	o.jobs = vo->jobs;
	o.repair = vo->repair;
	o.deep = vo->deep;
	o.force = vo->force;
	o.nforce = vo->nforce;
	o.grace_ms = 1000;
	o.progress = on_progress;
	o.report = on_report;
	o.arg = &d;
	if (!strcmp(verb, "rebalance"))
		return rebalance(s, &o, &d);
	if (!strcmp(verb, "rebuild"))
		return rebuild(s, &o, &d);
	return verify(s, &o, &d);
}
