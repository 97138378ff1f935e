/* config.c — fuzzes the config file parser (core/config.c: kv_config_parse, the text of
 * tinykv.conf(5), and through it kv_config_set and the shard list parser), then the
 * whole-config check kv_config_finish.
 *
 * Properties: whatever the text, every setting ends within its documented range (or
 * keeps its default), strings stay NUL-terminated in their buffers, and errors carry a
 * message naming the line.
 */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

static void check_str(const char *s, size_t cap)
{
	FUZZ_CHECK(memchr(s, '\0', cap) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kv_config c;
	struct kv_err err;
	int rc, i;

	kv_config_defaults(&c);
	rc = kv_config_parse(&c, (const char *)data, size, "fuzz.conf", &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT);
	if (rc < 0)
		FUZZ_CHECK(err.code == rc && !strncmp(err.msg, "fuzz.conf:", 10));
	FUZZ_CHECK(c.port >= 1 && c.port <= 65535);
	FUZZ_CHECK(c.replicas >= 1 && c.replicas <= KV_MAX_REPLICAS);
	FUZZ_CHECK(c.timeout >= 1 && c.timeout <= 3600);
	FUZZ_CHECK(c.down_time >= 0 && c.down_time <= 3600);
	FUZZ_CHECK((c.sync == 0 || c.sync == 1) && (c.checksum == 0 || c.checksum == 1));
	FUZZ_CHECK(c.map_size > 0 && c.max_size > 0);
	FUZZ_CHECK(c.attr_timeout >= 0 && c.attr_timeout <= 86400);
	FUZZ_CHECK(c.entry_timeout >= 0 && c.entry_timeout <= 86400);
	check_str(c.index, sizeof(c.index));
	check_str(c.cache, sizeof(c.cache));
	check_str(c.listen, sizeof(c.listen));
	FUZZ_CHECK(c.index[0] != '\0' && c.cache[0] != '\0' && c.listen[0] != '\0');
	if (c.have_shards) {
		FUZZ_CHECK(c.shards.n >= 1 && c.shards.n <= KV_MAX_SHARDS);
		for (i = 0; i < c.shards.n; i++) {
			const struct kv_shard *sh = &c.shards.v[i];

			check_str(sh->name, sizeof(sh->name));
			check_str(sh->base, sizeof(sh->base));
			FUZZ_CHECK(sh->name[0] != '\0' && strchr(sh->name, '/') == NULL);
			FUZZ_CHECK(strchr(sh->name, ',') == NULL && strchr(sh->name, ' ') == NULL);
			FUZZ_CHECK(!strncmp(sh->base, "http://", 7) || !strncmp(sh->base, "https://", 8));
			FUZZ_CHECK(kv_shards_find(&c.shards, sh->name) == i);
		}
	}
	FUZZ_CHECK(c.sign_reads == 0 || c.sign_reads == 1);
	FUZZ_CHECK(c.read_link_ttl >= 1 && c.read_link_ttl <= 7 * 86400);
	check_str(c.shard_secret_file, sizeof(c.shard_secret_file));
	rc = kv_config_finish(&c, &err);
	/* a shard_secret_file adds the errors of reading it (kv_secret_load) */
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || (c.shard_secret_file[0] != '\0' && err.code == rc));
	if (rc == 0 && c.shard_secret[0] != '\0')
		FUZZ_CHECK(strlen(c.shard_secret) >= KV_SECRET_MIN);
	if (rc == 0)
		FUZZ_CHECK(c.have_shards && c.replicas <= c.shards.n);
	return 0;
}
