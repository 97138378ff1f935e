/* options.h — the command line of the mount, `tinykv SOURCE MOUNTPOINT [-o OPTIONS]` (what
 * mount.fuse3 runs): which arguments are tinykv's (the config file, config keys given as
 * -o key=value, fstab options that mean nothing here) and which go on to libfuse. Apart
 * from main.c so that it is a pure function of the arguments, for tests and fuzzing. */
#ifndef TINYKV_OPTIONS_H
#define TINYKV_OPTIONS_H

#define FUSE_USE_VERSION 314
#include <fuse.h>

#include "config.h"
#include "err.h"

#define TK_OPTS_SET_MAX 32 /* config keys on one command line */

struct tk_opts {
	const char *source; /* the first non-option argument: points into the argv */
	int nonopts;	    /* non-option arguments seen */
	int nset;	    /* -o key=value settings, in order: malloc'd copies */
	char *set_key[TK_OPTS_SET_MAX], *set_val[TK_OPTS_SET_MAX];
	int show_version, show_help;
	int noacl;    /* -o noacl (the last of acl and noacl counts) */
	int too_many; /* more than TK_OPTS_SET_MAX settings */
};

/*
 * Sort the arguments in args (argv[0] is the program): tinykv's go into *o, the rest (the
 * mount point, -f/-d/-s, FUSE options) stay in args for fuse_parse_cmdline and fuse_new,
 * which args is rewritten to hold. -h/--help is noted and also left for libfuse. Returns 0;
 * -E2BIG for more than TK_OPTS_SET_MAX settings; -EINVAL when libfuse rejects the
 * arguments (it prints why) or memory runs out. Call tk_opts_free(o) afterwards in every
 * case. Reads nothing but its arguments; one thread.
 */
int tk_opts_parse(struct fuse_args *args, struct tk_opts *o, struct kv_err *err);

/* The -o settings of o into set[0..TK_OPTS_SET_MAX), in order, as kv_config_read takes
 * them (';' in a value stands for ',', which already separates options; the value is
 * changed in place; set points into o). Returns how many. */
int tk_opts_settings(struct tk_opts *o, struct kv_config_setting set[]);

/* Apply the -o settings of o, in order, onto cfg (';' in a value stands for ',', which
 * already separates options; the value is changed in place). Returns 0, or the first
 * kv_config_set error (its message names the key). */
int tk_opts_apply(struct tk_opts *o, struct kv_config *cfg, struct kv_err *err);

/* Free what tk_opts_parse allocated in o. */
void tk_opts_free(struct tk_opts *o);

#endif
