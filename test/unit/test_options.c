/* The mount's command line (fuse/options.c): tinykv's settings, fstab's options, the rest
 * left for libfuse. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "unit.h"

UNIT_TEST(mount_options_sorted)
{
	char *argv[] = {
		"tinykv",
		"/etc/tinykv/tinykv.conf",
		"/mnt/kv",
		"-o",
		"rw,_netdev,noacl,shards=a:1;b:2,x-systemd.automount,replicas=2,allow_other",
		"-f",
		NULL
	};
	struct fuse_args args = FUSE_ARGS_INIT(6, argv);
	struct kv_config cfg;
	struct kv_err err;
	struct tk_opts o;
	int i, rest_has_shards = 0;

	CHECK(tk_opts_parse(&args, &o, &err) == 0);
	CHECK(o.source != NULL && !strcmp(o.source, "/etc/tinykv/tinykv.conf"));
	CHECK(o.nset == 2 && !o.show_help && !o.show_version);
	for (i = 0; i < args.argc; i++)
		rest_has_shards |= strstr(args.argv[i], "shards") != NULL ||
				   strstr(args.argv[i], "_netdev") != NULL ||
				   strstr(args.argv[i], "acl") != NULL;
	CHECK(!rest_has_shards);
	CHECK(o.noacl);
	kv_config_defaults(&cfg);
	CHECK(tk_opts_apply(&o, &cfg, &err) == 0);
	CHECK(cfg.shards.n == 2 && cfg.replicas == 2);
	tk_opts_free(&o);
	fuse_opt_free_args(&args);
}

/* The 33rd setting used to go on to libfuse, whose "unknown option `-o port=1'" said
 * nothing of the limit; now the parse fails and says so. */
UNIT_TEST(mount_options_too_many_settings)
{
	char list[64 * 8] = "", *argv[] = { "tinykv", "none", "/mnt/kv", "-o", list, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(5, argv);
	struct kv_err err;
	struct tk_opts o;
	size_t n = 0;
	int i;

	for (i = 0; i <= TK_OPTS_SET_MAX; i++)
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%sport=%d", i ? "," : "", i + 1);
	CHECK(tk_opts_parse(&args, &o, &err) == -E2BIG);
	CHECK(strstr(err.msg, "more than 32") != NULL);
	tk_opts_free(&o);
	fuse_opt_free_args(&args);
}
