/* The replica fail-over iterator (core/replicas.c, store_int.h): which replicas it yields,
 * in what order, under each policy; what an attempt's result tells the health view; the
 * URL it gives is kv__value_url's; a record without replicas is -EIO. Against a real
 * store (an LMDB index in a temporary directory); no shard is asked. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "store_int.h"
#include "unit.h"

static struct kv_store *open_store(char *dir)
{
	struct kv_config c;
	struct kv_store *s = NULL;
	struct kv_err err;

	kv_config_defaults(&c);
	CHECK(kv_shards_parse("a:1 b:2 c:3", &c.shards, NULL) == 0);
	c.have_shards = 1;
	c.down_time = 60;
	c.sync = 0;
	CHECK(mkdtemp(dir) != NULL);
	(void)snprintf(c.index, sizeof(c.index), "%s/index", dir);
	(void)snprintf(c.cache, sizeof(c.cache), "%s", dir);
	CHECK(kv_store_open(&c, &s, &err) == 0);
	return s;
}

static void close_store(struct kv_store *s, const char *dir)
{
	char cmd[PATH_MAX + 16];

	kv_store_close(s);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
}

static void set_replicas(struct kv_record *rec, const char *a, const char *b, const char *c)
{
	const char *names[] = { a, b, c };
	int i;

	memset(rec, 0, sizeof(*rec));
	rec->type = KV_TYPE_REG;
	for (i = 0; i < 3 && names[i] != NULL; i++)
		(void)snprintf(rec->rep[rec->nrep++], sizeof(rec->rep[0]), "%s", names[i]);
}

/* The shards the iterator yields, space-separated, each attempt ending with rc. */
static void yielded(struct kv_store *s, const struct kv_record *rec, enum kv_replicas_policy p,
		    int rc, char *out, size_t cap)
{
	struct kv_replicas it;
	struct kv_err err;
	size_t len = 0;

	out[0] = '\0';
	kv__replicas_begin(&it, s, "k", 1, rec, p);
	while (kv__replicas_next(&it, &err) > 0 && len < cap) {
		len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "", it.shard);
		(void)kv__replicas_tried(&it, rc);
	}
}

UNIT_TEST(replicas_live_first_then_down_in_record_order)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", got[128];
	struct kv_store *s = open_store(dir);
	struct kv_record rec;

	set_replicas(&rec, "a:1", "b:2", "c:3");
	yielded(s, &rec, KV_REPLICAS_ALL, -ENOENT, got, sizeof(got));
	CHECK_STR(got, "a:1 b:2 c:3");
	kv__shard_failed(s, "a:1");
	yielded(s, &rec, KV_REPLICAS_ALL, -ENOENT, got, sizeof(got));
	CHECK_STR(got, "b:2 c:3 a:1");
	/* A copy skips a shard believed down, unless it is the record's last replica. */
	yielded(s, &rec, KV_REPLICAS_LIVE, -ENOENT, got, sizeof(got));
	CHECK_STR(got, "b:2 c:3");
	kv__shard_failed(s, "c:3");
	yielded(s, &rec, KV_REPLICAS_LIVE, -ENOENT, got, sizeof(got));
	CHECK_STR(got, "b:2 c:3");
	close_store(s, dir);
}

UNIT_TEST(replicas_attempts_tell_the_health_view)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", got[128];
	struct kv_store *s = open_store(dir);
	struct kv_record rec;

	set_replicas(&rec, "a:1", "b:2", NULL);
	yielded(s, &rec, KV_REPLICAS_ALL, -ENOENT, got, sizeof(got)); /* a missing file */
	CHECK(kv__shard_up(s, "a:1") && kv__shard_up(s, "b:2"));
	yielded(s, &rec, KV_REPLICAS_ALL, -ENOMEM, got, sizeof(got)); /* our own failure */
	CHECK(kv__shard_up(s, "a:1") && kv__shard_up(s, "b:2"));
	yielded(s, &rec, KV_REPLICAS_ALL, -ETIMEDOUT, got, sizeof(got));
	CHECK(!kv__shard_up(s, "a:1") && !kv__shard_up(s, "b:2"));
	yielded(s, &rec, KV_REPLICAS_ALL, 0, got, sizeof(got)); /* each answered */
	CHECK(kv__shard_up(s, "a:1") && kv__shard_up(s, "b:2"));
	close_store(s, dir);
}

UNIT_TEST(replicas_url_result_and_no_replica)
{
	char dir[64] = "/tmp/kvunit-XXXXXX", want[KV_URL_MAX];
	struct kv_store *s = open_store(dir);
	struct kv_replicas it;
	struct kv_record rec;
	struct kv_err err;

	set_replicas(&rec, "b:2", "zz:9", NULL); /* zz:9 is no longer configured */
	kv__replicas_begin(&it, s, "dir/k", 5, &rec, KV_REPLICAS_ALL);
	CHECK(kv__replicas_next(&it, &err) == 1);
	CHECK(kv__value_url(s, "b:2", "dir/k", 5, &rec, want, sizeof(want), &err) == 0);
	CHECK_STR(it.url, want);
	CHECK(strncmp(it.url, "http://b:2/", 11) == 0 && it.up);
	CHECK(kv__replicas_tried(&it, -EIO) == -EIO);
	CHECK(kv__replicas_next(&it, &err) == 1);
	CHECK(strncmp(it.url, "http://zz:9/", 12) == 0 && it.up);
	(void)kv__replicas_tried(&it, -ENOENT);
	CHECK(kv__replicas_next(&it, &err) == -ENOENT); /* the last attempt's result */
	rec.nrep = 0;
	kv__replicas_begin(&it, s, "dir/k", 5, &rec, KV_REPLICAS_ALL);
	CHECK(kv__replicas_next(&it, &err) == -EIO);
	CHECK(strstr(err.msg, "has no replica") != NULL);
	close_store(s, dir);
}
