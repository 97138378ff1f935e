/* config.h — tinykv.conf(5): the settings every program shares.
 *
 * A file of "key = value" lines ('#' starts a comment), then command-line overrides through
 * kv_config_set with the same keys, then kv_config_finish to validate the whole:
 * kv_config_read does the three, for both programs.
 *
 * Threads: the functions work on the caller's struct kv_config and touch no shared state,
 * so any thread, one per struct; only kv_config_load and kv_config_finish read files.
 */
#ifndef KV_CONFIG_H
#define KV_CONFIG_H

#include <limits.h>
#include <stdint.h>

#include "err.h"
#include "placement.h"
#include "secret.h"

#define KV_DEFAULT_CONF "/etc/tinykv/tinykv.conf"

/* auth = ...: not set (only loopback may write, only loopback may be listened on), none
 * (written out: listen anywhere, still only loopback may write), or a token file. */
enum { KV_AUTH_UNSET = 0, KV_AUTH_NONE, KV_AUTH_FILE };
/* Rights of a token or of anonymous requests. */
enum { KV_RIGHT_READ = 1, KV_RIGHT_WRITE = 2, KV_RIGHT_ADMIN = 4 };
#define KV_SERVER_NAMES_MAX 16
#define KV_SERVER_NAME_LEN 256 /* with the NUL; "[v6]:port" fits */

struct kv_config {
	struct kv_shards shards;
	int have_shards;
	char index[PATH_MAX]; /* LMDB environment directory */
	char cache[PATH_MAX]; /* FUSE write spool */
	char listen[64];      /* tinykvd bind address */
	int port;
	int replicas;
	int timeout;			    /* seconds a shard may stay silent */
	int sync;			    /* fsync index commits before acknowledging */
	int checksum;			    /* md5 of every value written, into its record */
	int down_time;			    /* seconds a failed shard is skipped by readers */
	uint64_t map_size;		    /* LMDB map size, bytes */
	uint64_t max_size;		    /* largest value the mount accepts, bytes */
	double attr_timeout, entry_timeout; /* FUSE kernel caches, seconds */
	/* tinykvd's access control (mountd/auth.c, tinykv.conf(5) "auth"): */
	int auth_mode;	     /* KV_AUTH_UNSET, KV_AUTH_NONE or KV_AUTH_FILE */
	char auth[PATH_MAX]; /* KV_AUTH_FILE: the token file (absolute path) */
	int n_server_names;  /* 0: the default names (localhost, listen, ...) */
	char server_names[KV_SERVER_NAMES_MAX][KV_SERVER_NAME_LEN]; /* lower case */
	int anonymous;			       /* KV_RIGHT_* of requests without a token; -1:
					 * the default (read, write without an auth file) */
	uint32_t anonymous_uid, anonymous_gid; /* who anonymous requests act as */
	int orphan_grace; /* seconds an unreferenced shard file is kept (verify) */
	/* The shards' side (DESIGN §7): the cluster's secret, sent to the shards on every
	 * request, and whether redirects carry signed, expiring URLs. */
	char shard_secret_file[PATH_MAX];     /* "" = none */
	char shard_secret[KV_SECRET_MAX + 1]; /* read by kv_config_finish; never printed */
	int sign_reads;
	int read_link_ttl; /* seconds a signed read URL stays valid */
	/* What tinykvd gives one client (DESIGN §7, "nothing hangs on a stranger"): */
	int workers;		    /* threads for writes (PUT, DELETE) and listings */
	int body_timeout;	    /* seconds a request body may stop arriving */
	int idle_timeout;	    /* seconds an idle connection is kept */
	int max_connections;	    /* connections at once, all clients */
	int max_client_connections; /* connections at once from one address */
	uint64_t max_value_size;    /* largest value tinykvd accepts, bytes */
};

/* Fill c with the documented defaults (no shards). */
void kv_config_defaults(struct kv_config *c);

/* Set one key from text. Returns 0, or -EINVAL/-ENOENT (unknown key) with a message. */
int kv_config_set(struct kv_config *c, const char *key, const char *value, struct kv_err *err);

/* Read a config file; errors name "FILE:LINE". -ENOENT when the file is missing, -EFBIG
 * past 1 MiB, otherwise as kv_config_parse. */
int kv_config_load(struct kv_config *c, const char *path, struct kv_err *err);

/*
 * Apply the config text text[0..len) (any bytes; need not be NUL-terminated) to c, line by
 * line, as kv_config_load does with a file's contents; name is what errors call it
 * ("NAME:LINE: ..."). Lines may be of any length. Returns 0; -EINVAL for a line that is
 * not "key = value" or holds a NUL byte, or a bad value; -ENOENT for an unknown key;
 * -ENOMEM. Settings before the bad line stay applied. Touches nothing but c.
 */
int kv_config_parse(struct kv_config *c, const char *text, size_t len, const char *name,
		    struct kv_err *err);

/* Check the whole: shards given, replicas <= number of shards; then fill in defaults that
 * depend on other settings (anonymous); and read the shard secret from shard_secret_file
 * (kv_secret_load: its errors), which sign_reads needs. */
int kv_config_finish(struct kv_config *c, struct kv_err *err);

/* One command-line override of a setting ("-o key=value", "--set key=value"). */
struct kv_config_setting {
	const char *key, *value;
};

/*
 * The one config loader of both programs: the defaults, then the file (NULL: none), then
 * the n settings in order, then kv_config_finish. Returns 0, or the first failure:
 * kv_config_load's errors for the file, kv_config_set's for a setting, kv_config_finish's
 * for the whole; *bad_setting (may be NULL) is then the index of the setting that failed,
 * -1 when it was none, so that a program can say which of its options was wrong.
 */
int kv_config_read(struct kv_config *c, const char *file, const struct kv_config_setting *settings,
		   int n, int *bad_setting, struct kv_err *err);

/* Is key one of ours (so a FUSE -o parser can tell config keys from mount options)? */
int kv_config_is_key(const char *key);

#endif
