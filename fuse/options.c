/* options.c — the mount's arguments: tinykv's own and fstab's, apart from libfuse's. */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* fstab and systemd options that mean nothing to a FUSE file system. */
static int ignored_option(const char *opt)
{
	static const char *const names[] = { "_netdev",	 "nofail", "noauto", "auto",
					     "defaults", "user",   "users",  "nouser",
					     "owner",	 "group",  "nodev",  "noexec",
					     "exec",	 "suid",   "nosuid", NULL };
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(opt, names[i]) == 0)
			return 1;
	return strncmp(opt, "x-", 2) == 0 || strncmp(opt, "comment=", 8) == 0;
}

/* fuse_opt_parse's callback: 0 to keep arg for tinykv, 1 to pass it on, -1 to fail. */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *out)
{
	struct tk_opts *o = data;
	const char *eq;

	(void)out;
	if (key == FUSE_OPT_KEY_NONOPT) {
		if (o->nonopts++ == 0) {
			o->source = arg;
			return 0;
		}
		return 1; /* the mount point, for fuse_parse_cmdline */
	}
	if (key != FUSE_OPT_KEY_OPT)
		return 1;
	if (!strcmp(arg, "-V") || !strcmp(arg, "--version")) {
		o->show_version = 1;
		return 0;
	}
	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		o->show_help = 1;
		return 1;
	}
	if (ignored_option(arg))
		return 0;
	if (!strcmp(arg, "acl") || !strcmp(arg, "noacl")) {
		o->noacl = arg[0] == 'n';
		return 0;
	}
	eq = strchr(arg, '=');
	if (eq != NULL) {
		char name[64];
		size_t n = (size_t)(eq - arg);

		if (n < sizeof(name)) {
			memcpy(name, arg, n);
			name[n] = '\0';
			if (kv_config_is_key(name)) {
				if (o->nset == TK_OPTS_SET_MAX) {
					o->too_many = 1;
					return -1;
				}
				o->set_key[o->nset] = strdup(name);
				o->set_val[o->nset] = strdup(eq + 1);
				if (o->set_key[o->nset] == NULL || o->set_val[o->nset] == NULL) {
					free(o->set_key[o->nset]);
					free(o->set_val[o->nset]);
					return -1;
				}
				o->nset++;
				return 0;
			}
		}
	}
	return 1;
}

int tk_opts_parse(struct fuse_args *args, struct tk_opts *o, struct kv_err *err)
{
	memset(o, 0, sizeof(*o));
	if (fuse_opt_parse(args, o, NULL, opt_proc) == 0)
		return 0;
	if (o->too_many)
		return kv_err_set(err, -E2BIG, "more than %d tinykv settings (-o KEY=VALUE)",
				  TK_OPTS_SET_MAX);
	return kv_err_set(err, -EINVAL, "bad arguments");
}

int tk_opts_settings(struct tk_opts *o, struct kv_config_setting set[])
{
	int i;

	for (i = 0; i < o->nset; i++) {
		char *p;

		for (p = o->set_val[i]; *p != '\0'; p++)
			if (*p == ';')
				*p = ',';
		set[i].key = o->set_key[i];
		set[i].value = o->set_val[i];
	}
	return o->nset;
}

int tk_opts_apply(struct tk_opts *o, struct kv_config *cfg, struct kv_err *err)
{
	struct kv_config_setting set[TK_OPTS_SET_MAX];
	int i, n = tk_opts_settings(o, set), rc;

	for (i = 0; i < n; i++) {
		rc = kv_config_set(cfg, set[i].key, set[i].value, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void tk_opts_free(struct tk_opts *o)
{
	int i;

	for (i = 0; i < o->nset; i++) {
		free(o->set_key[i]);
		free(o->set_val[i]);
	}
	o->nset = 0;
}
