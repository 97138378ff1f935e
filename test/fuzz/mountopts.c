/* mountopts.c — fuzzes the mount's command line (fuse/options.c: tk_opts_parse, through
 * libfuse's fuse_opt_parse, which splits -o lists and their escapes; then tk_opts_apply
 * onto a config), as mount.fuse3 or a user would give it.
 *
 * Input: the arguments after "tinykv", separated by NUL bytes (at most 16).
 * Properties: every tinykv setting found is a known config key with a value; applying
 * them leaves a config within its ranges or fails with a message; nothing leaks.
 */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "options.h"

#define ARGS_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kv_config cfg;
	char *copy = fuzz_dup(data, size), *argv[ARGS_MAX + 2];
	struct fuse_args args;
	struct tk_opts o;
	struct kv_err err;
	size_t off = 0;
	int argc = 0, i, rc;

	argv[argc++] = "tinykv";
	while (argc <= ARGS_MAX && off <= size) {
		argv[argc++] = copy + off;
		off += strlen(copy + off) + 1;
	}
	argv[argc] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);

	rc = tk_opts_parse(&args, &o, &err);
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -E2BIG);
	FUZZ_CHECK((rc == -E2BIG) == (o.too_many == 1));
	FUZZ_CHECK(o.nset >= 0 && o.nset <= TK_OPTS_SET_MAX);
	for (i = 0; i < o.nset; i++)
		FUZZ_CHECK(kv_config_is_key(o.set_key[i]) && o.set_val[i] != NULL);
	FUZZ_CHECK(o.source == NULL || o.nonopts >= 1);
	if (rc == 0) {
		kv_config_defaults(&cfg);
		rc = tk_opts_apply(&o, &cfg, &err);
		FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT);
		FUZZ_CHECK(rc == 0 || err.msg[0] != '\0');
		FUZZ_CHECK(cfg.port >= 1 && cfg.port <= 65535);
		FUZZ_CHECK(cfg.replicas >= 1 && cfg.replicas <= KV_MAX_REPLICAS);
		FUZZ_CHECK(!cfg.have_shards || (cfg.shards.n >= 1 && cfg.shards.n <= KV_MAX_SHARDS));
	}
	tk_opts_free(&o);
	fuse_opt_free_args(&args);
	free(copy);
	return 0;
}
