/* Placement vectors: the seed's two examples and properties of rendezvous hashing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "placement.h"
#include "unit.h"

static void url_of(const char *shards, const char *key, char *out)
{
	struct kv_shards s;
	int order[KV_MAX_SHARDS];

	CHECK(kv_shards_parse(shards, &s, NULL) == 0);
	CHECK(kv_place(&s, key, strlen(key), 1, order) == 1);
	CHECK(kv_shard_url(&s.v[order[0]], key, strlen(key), out, KV_URL_MAX) > 0);
}

UNIT_TEST(seed_vectors)
{
	char url[KV_URL_MAX];

	url_of("localhost:3001,localhost:3002", "hello", url);
	CHECK_STR(url, "http://localhost:3001/5d/41/aGVsbG8=");
	url_of("localhost:3001,localhost:3002", "foo", url);
	CHECK_STR(url, "http://localhost:3002/ac/bd/Zm9v");
	/* the scheme is not part of the name */
	url_of("http://localhost:3001, http://localhost:3002/", "hello", url);
	CHECK_STR(url, "http://localhost:3001/5d/41/aGVsbG8=");
}

UNIT_TEST(replica_order_is_score_order)
{
	struct kv_shards s;
	int all[KV_MAX_SHARDS], two[KV_MAX_SHARDS], i;

	CHECK(kv_shards_parse("a:1 b:2 c:3 d:4 e:5", &s, NULL) == 0);
	for (i = 0; i < 200; i++) {
		char key[16];
		int n = snprintf(key, sizeof(key), "k%d", i);

		CHECK(kv_place(&s, key, (size_t)n, 5, all) == 5);
		CHECK(kv_place(&s, key, (size_t)n, 2, two) == 2);
		CHECK(all[0] == two[0] && all[1] == two[1]);
	}
	CHECK(kv_place(&s, "x", 1, 9, all) == 5); /* clamped to the shard count */
}

UNIT_TEST(adding_a_shard_moves_about_one_in_n)
{
	struct kv_shards two, three;
	int a[KV_MAX_SHARDS], b[KV_MAX_SHARDS], i, moved = 0;

	CHECK(kv_shards_parse("localhost:3001,localhost:3002", &two, NULL) == 0);
	CHECK(kv_shards_parse("localhost:3001,localhost:3002,localhost:3003", &three, NULL) == 0);
	for (i = 0; i < 3000; i++) {
		char key[16];
		int n = snprintf(key, sizeof(key), "key-%d", i);

		kv_place(&two, key, (size_t)n, 1, a);
		kv_place(&three, key, (size_t)n, 1, b);
		if (strcmp(two.v[a[0]].name, three.v[b[0]].name) != 0) {
			moved++;
			CHECK(b[0] == 2); /* only ever to the new shard */
		}
	}
	CHECK(moved > 800 && moved < 1200);
}

UNIT_TEST(shard_list_errors)
{
	struct kv_shards s;
	struct kv_err err;

	CHECK(kv_shards_parse("", &s, &err) == -EINVAL);
	CHECK(kv_shards_parse("ftp://x:1", &s, &err) == -EINVAL);
	CHECK(strstr(err.msg, "ftp://x:1") != NULL);
	CHECK(kv_shards_parse("h:1/path", &s, &err) == -EINVAL);
	CHECK(kv_shards_parse("h:1, http://h:1", &s, &err) == -EINVAL);
	CHECK(strstr(err.msg, "twice") != NULL);
	CHECK(kv_shards_parse("https://secure:443", &s, &err) == 0);
	CHECK_STR(s.v[0].name, "secure:443");
	CHECK_STR(s.v[0].base, "https://secure:443");
}
