/* main.c — tinykv: mount a tinykv store as a file system.
 *
 * Shape (after libfuse's examples): parse options and the config, check the index opens,
 * mount, daemonize, and only then open the store and start threads, then serve until
 * unmounted. mount.fuse3 runs us as `tinykv SOURCE MOUNTPOINT -o OPTIONS`.
 */
#include "ops.h"
#include "request.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config.h"
#include "options.h"
#include "release.h"
#include "sys.h"

static void usage(const char *prog)
{
	printf("usage: %s SOURCE MOUNTPOINT [-f] [-d] [-s] [-o OPTION[,OPTION...]]\n"
	       "\n"
	       "Mount the tinykv store described by the config file SOURCE (see tinykv.conf(5);\n"
	       "'none' for no file) at MOUNTPOINT. Keys are files; '/' in keys are directories.\n"
	       "\n"
	       "tinykv options (-o), each overriding the config file:\n"
	       "    -o shards=H:P[;H:P...]  shards (';' between them: ',' separates options)\n"
	       "    -o index=DIR            LMDB index directory (shared with tinykvd)\n"
	       "    -o replicas=N           copies of each value written\n"
	       "    -o cache=DIR            spool for files being written\n"
	       "    -o timeout=SECS         give up on a silent shard after SECS\n"
	       "    -o attr_timeout=SECS    kernel attribute cache (default 1)\n"
	       "    -o entry_timeout=SECS   kernel name cache (default 1)\n"
	       "    -o max_size=BYTES       largest file (default 1T; larger: EFBIG)\n"
	       "    -o sync=yes|no          sync the index before acknowledging (default yes)\n"
	       "    -o checksum=yes|no      record the md5 of each value written (default yes)\n"
	       "    -o shard_secret_file=FILE  the cluster's secret for the shards (mode 0600)\n"
	       "    -o noacl                refuse POSIX ACLs (EOPNOTSUPP): the mode bits alone\n"
	       "                            count, and ls -l asks nothing per file (default acl)\n"
	       "fstab/systemd options (_netdev, nofail, defaults, x-systemd.*) are accepted and\n"
	       "ignored. default_permissions is always on. See tinykv(8).\n"
	       "\n",
	       prog);
}

/* SOURCE ("none": no file), then the -o settings; an error names the -o it comes from. */
static int load_config(struct tk_opts *c, struct kv_config *cfg)
{
	struct kv_config_setting set[TK_OPTS_SET_MAX];
	const char *file = c->source != NULL && strcmp(c->source, "none") != 0 ? c->source : NULL;
	struct kv_err err;
	int n = tk_opts_settings(c, set), bad;

	if (kv_config_read(cfg, file, set, n, &bad, &err) < 0) {
		fprintf(stderr, "tinykv: %s%s\n", bad >= 0 ? "-o " : "", err.msg);
		return -1;
	}
	return 0;
}

/* Each sentence of notes (what opening tightened) as a line on stderr. */
static void print_notes(const char *notes)
{
	const char *p, *nl;

	for (p = notes; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		fprintf(stderr, "tinykv: note: %.*s\n", (int)(nl - p), p);
}

/* The spool directory, private like the index (DESIGN §7); cfg->cache becomes its
 * resolved path. Returns its descriptor, or -1 after saying why. */
static int open_cache(struct kv_config *cfg)
{
	char real[PATH_MAX];
	struct kv_notes notes = { "" };
	struct kv_err err;
	int fd = kv_private_dir(cfg->cache, "cache", KV_PRIVATE_CREATE, real, sizeof(real), &notes,
				&err);

	if (fd < 0) {
		fprintf(stderr, "tinykv: %s\n", err.msg);
		return -1;
	}
	print_notes(notes.text);
	(void)snprintf(cfg->cache, sizeof(cfg->cache), "%s", real);
	return fd;
}

/*
 * The kernel reads ahead only 128 KiB for a FUSE mount unless told otherwise, so a file
 * read in order arrives in 128 KiB requests; at 1 MiB (the most one FUSE request carries)
 * sequential reads go 25% faster. Root only (sysfs); the mount works either way. The
 * device number comes from mountinfo: a stat of the mount point would ask this very
 * process, which does not serve requests yet.
 */
static void raise_readahead(const char *mountpoint)
{
	char real[PATH_MAX], line[8192], dev[32] = "", path[PATH_MAX + 64];
	FILE *f;

	if (realpath(mountpoint, real) == NULL || (f = fopen("/proc/self/mountinfo", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char d[32], mnt[PATH_MAX];

		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*s %*s %31s %*s %4095s", d, mnt) == 2 && strcmp(mnt, real) == 0)
			(void)snprintf(dev, sizeof(dev), "%s", d);
	}
	(void)fclose(f);
	if (dev[0] == '\0')
		return;
	(void)snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	f = fopen(path, "w");
	if (f != NULL) {
		(void)fputs("1024\n", f);
		(void)fclose(f);
	}
}

static int serve(struct fuse *f, struct fuse_cmdline_opts *fo, struct mount_ctx *mc,
		 struct kv_config *cfg)
{
	struct fuse_loop_config *lc;
	struct kv_err err;
	int rc;

	if (fuse_mount(f, fo->mountpoint) != 0)
		return 1;
	if (tk_request_watch(f) != 0) /* then a removed open file's key goes at once */
		fprintf(stderr, "tinykv: cannot watch requests: an open file replaced by a "
				"rename is removed first\n");
	raise_readahead(fo->mountpoint);
	if (fuse_daemonize(fo->foreground) != 0) {
		fuse_unmount(f);
		return 1;
	}
	openlog("tinykv", LOG_PID, LOG_DAEMON);
	/* After the fork: the index and the threads belong to this process. */
	if (kv_store_open(cfg, &mc->store, &err) < 0) {
		syslog(LOG_ERR, "%s", err.msg);
		fprintf(stderr, "tinykv: %s\n", err.msg);
		fuse_unmount(f);
		return 1;
	}
	kv_store_set_lock_wait(mc->store, cfg->timeout * 1000);
	(void)kv_store_recover(mc->store, NULL, &err);
	(void)kv_store_start_probe(mc->store, &err);
	if (fuse_set_signal_handlers(fuse_get_session(f)) != 0) {
		fuse_unmount(f);
		return 1;
	}
	if (fo->singlethread) {
		rc = fuse_loop(f);
	} else {
		lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)fo->clone_fd);
		/* UINT_MAX is the "no limit" default, which libfuse 3.14 warns about if set */
		if (fo->max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, fo->max_idle_threads);
		fuse_loop_cfg_set_max_threads(lc, fo->max_threads);
		rc = fuse_loop_mt(f, lc);
		fuse_loop_cfg_destroy(lc);
	}
	fuse_remove_signal_handlers(fuse_get_session(f));
	fuse_unmount(f);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts fo;
	struct mount_ctx mc;
	struct kv_config cfg;
	struct kv_store *probe = NULL;
	struct kv_err err;
	struct tk_opts c;
	struct fuse *f = NULL;
	char fsname[4200];
	int rc = 1;

	memset(&fo, 0, sizeof(fo));
	memset(&mc, 0, sizeof(mc));
	mc.cache_fd = -1;
	if (tk_opts_parse(&args, &c, &err) < 0) {
		if (c.too_many)
			fprintf(stderr, "tinykv: %s\n", err.msg);
		rc = 2;
		goto out;
	}
	if (c.show_version) {
		printf("tinykv %s (libfuse %s)\n", TINYKV_VERSION, fuse_pkgversion());
		rc = 0;
		goto out;
	}
	if (fuse_parse_cmdline(&args, &fo) != 0)
		goto out;
	if (fo.show_help || c.show_help) {
		usage(argv[0]);
		fuse_cmdline_help();
		fuse_lib_help(&args);
		rc = 0;
		goto out;
	}
	if (c.source == NULL || fo.mountpoint == NULL) {
		fprintf(stderr, "usage: %s SOURCE MOUNTPOINT [-o OPTIONS] (try --help)\n", argv[0]);
		rc = 2;
		goto out;
	}
	if (load_config(&c, &cfg) < 0) {
		rc = 2;
		goto out;
	}
	/* Fail here, on the terminal, rather than in the daemon. */
	mc.cache_fd = open_cache(&cfg);
	if (mc.cache_fd < 0)
		goto out;
	if (kv_store_open(&cfg, &probe, &err) < 0) {
		fprintf(stderr, "tinykv: %s\n", err.msg);
		goto out;
	}
	print_notes(kv_store_notes(probe));
	/* The daemon works in /: it needs the resolved path. */
	(void)snprintf(cfg.index, sizeof(cfg.index), "%s", kv_store_config(probe)->index);
	kv_store_close(probe);
	(void)snprintf(fsname, sizeof(fsname), "-ofsname=%s,subtype=tinykv,default_permissions",
		       c.source);
	if (fuse_opt_add_arg(&args, fsname) != 0)
		goto out;
	mc.cfg = &cfg;
	mc.debug = fo.debug;
	mc.noacl = c.noacl;
	f = fuse_new(&args, &tinykv_ops, sizeof(tinykv_ops), &mc);
	if (f == NULL)
		goto out;
	rc = serve(f, &fo, &mc, &cfg);
out:
	if (f != NULL)
		fuse_destroy(f);
	kv_store_close(mc.store);
	if (mc.cache_fd >= 0)
		(void)close(mc.cache_fd);
	free(fo.mountpoint);
	fuse_opt_free_args(&args);
	tk_opts_free(&c);
	return rc;
}
