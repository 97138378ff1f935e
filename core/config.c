/* config.c — parse tinykv.conf and overrides into struct kv_config. Called by each
 * program's main thread as it starts (kv_config_read), before any other thread. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void kv_config_defaults(struct kv_config *c)
{
	memset(c, 0, sizeof(*c));
	(void)snprintf(c->index, sizeof(c->index), "/var/lib/tinykv/index");
	(void)snprintf(c->cache, sizeof(c->cache), "/var/cache/tinykv");
	(void)snprintf(c->listen, sizeof(c->listen), "127.0.0.1");
	c->port = 3000;
	c->replicas = 1;
	c->timeout = 10;
	c->sync = 1;
	c->checksum = 1;
	c->down_time = 5;
	c->map_size = (uint64_t)16 << 30;
	c->max_size = (uint64_t)1 << 40;
	c->attr_timeout = 1.0;
	c->entry_timeout = 1.0;
	c->auth_mode = KV_AUTH_UNSET;
	c->anonymous = -1;
	c->anonymous_uid = 65534;
	c->anonymous_gid = 65534;
	c->orphan_grace = 3600;
	c->read_link_ttl = 60;
	c->workers = 64;
	c->body_timeout = 30;
	c->idle_timeout = 60;
	c->max_connections = 1000;
	c->max_client_connections = 128;
	c->max_value_size = (uint64_t)5 << 30;
}

static int parse_int(const char *key, const char *v, long lo, long hi, int *out, struct kv_err *err)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi)
		return kv_err_set(err, -EINVAL, "%s: '%s' is not a whole number from %ld to %ld",
				  key, v, lo, hi);
	*out = (int)n;
	return 0;
}

/* "16G", "512M", "4096" → bytes. */
static int parse_size(const char *key, const char *v, uint64_t *out, struct kv_err *err)
{
	unsigned long long n;
	char *end;
	int shift = 0;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno == 0 && end != v && v[0] != '-') {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			shift = 10;
			end++;
			break;
		case 'M':
			shift = 20;
			end++;
			break;
		case 'G':
			shift = 30;
			end++;
			break;
		case 'T':
			shift = 40;
			end++;
			break;
		default: break;
		}
		if (*end == '\0' && n > 0 && n <= (UINT64_MAX >> shift)) {
			*out = (uint64_t)n << shift;
			return 0;
		}
	}
	return kv_err_set(err, -EINVAL, "%s: '%s' is not a size (like 4096, 512M, 16G)", key, v);
}

static int parse_bool(const char *key, const char *v, int *out, struct kv_err *err)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0")) {
		*out = 0;
		return 0;
	}
	return kv_err_set(err, -EINVAL, "%s: '%s' is not yes or no", key, v);
}

static int parse_seconds(const char *key, const char *v, double *out, struct kv_err *err)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || !(d >= 0 && d <= 86400))
		return kv_err_set(err, -EINVAL, "%s: '%s' is not a number of seconds", key, v);
	*out = d;
	return 0;
}

static int parse_path(const char *key, const char *v, char *out, size_t cap, struct kv_err *err)
{
	if (v[0] == '\0' || strlen(v) >= cap)
		return kv_err_set(err, -EINVAL, "%s: path is empty or too long", key);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/* auth = none | /absolute/path/of/the/token/file */
static int parse_auth(struct kv_config *c, const char *v, struct kv_err *err)
{
	if (!strcmp(v, "none")) {
		c->auth_mode = KV_AUTH_NONE;
		c->auth[0] = '\0';
		return 0;
	}
	if (v[0] != '/')
		return kv_err_set(err, -EINVAL,
				  "auth: '%s' is neither none nor an absolute path "
				  "of a token file",
				  v);
	if (parse_path("auth", v, c->auth, sizeof(c->auth), err) < 0)
		return -EINVAL;
	c->auth_mode = KV_AUTH_FILE;
	return 0;
}

/* server_name = name[, name...]: host names, IPv4 or IPv6 addresses, each optionally with
 * ":port". Stored lower case, IPv6 addresses in brackets. */
static int parse_server_names(struct kv_config *c, const char *v, struct kv_err *err)
{
	const char *p = v;
	int n = 0;

	while (*p != '\0') {
		size_t len = strcspn(p, ", \t"), colons = 0, i, at = 0;
		char *out;
		int bracket;

		if (len == 0) {
			p++;
			continue;
		}
		if (n == KV_SERVER_NAMES_MAX)
			return kv_err_set(err, -EINVAL, "server_name: more than %d names",
					  KV_SERVER_NAMES_MAX);
		for (i = 0; i < len; i++) {
			unsigned char ch = (unsigned char)p[i];

			colons += ch == ':';
			if (!isalnum(ch) && !strchr(".-_:[]", ch))
				return kv_err_set(err, -EINVAL,
						  "server_name: '%.*s' is not a host "
						  "name or address",
						  (int)len, p);
		}
		bracket = colons > 1 && p[0] != '['; /* a bare IPv6 address */
		if (len + 2 * (size_t)bracket >= KV_SERVER_NAME_LEN)
			return kv_err_set(err, -EINVAL, "server_name: '%.*s' is too long", (int)len,
					  p);
		out = c->server_names[n];
		if (bracket)
			out[at++] = '[';
		for (i = 0; i < len; i++)
			out[at++] = (char)tolower((unsigned char)p[i]);
		if (bracket)
			out[at++] = ']';
		out[at] = '\0';
		n++;
		p += len;
	}
	if (n == 0)
		return kv_err_set(err, -EINVAL, "server_name: no name given");
	c->n_server_names = n;
	return 0;
}

/* anonymous = none | read | write | read, write */
static int parse_rights(const char *key, const char *v, int *out, struct kv_err *err)
{
	const char *p = v;
	int rights = 0;

	if (!strcmp(v, "none")) {
		*out = 0;
		return 0;
	}
	while (*p != '\0') {
		size_t len = strcspn(p, ", \t");

		if (len == 4 && !strncmp(p, "read", 4))
			rights |= KV_RIGHT_READ;
		else if (len == 5 && !strncmp(p, "write", 5))
			rights |= KV_RIGHT_WRITE;
		else if (len > 0)
			return kv_err_set(err, -EINVAL,
					  "%s: '%.*s' is not a right (none, read, "
					  "write)",
					  key, (int)len, p);
		p += len + (p[len] != '\0');
	}
	if (rights == 0)
		return kv_err_set(err, -EINVAL, "%s: no right given (none, read, write)", key);
	*out = rights;
	return 0;
}

/* A uid or gid anonymous requests act as: not root's, which would bypass the bits. */
static int parse_id(const char *key, const char *v, uint32_t *out, struct kv_err *err)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n > 4294967294ULL)
		return kv_err_set(err, -EINVAL, "%s: '%s' is not a number from 1 to 4294967294",
				  key, v);
	if (n == 0)
		return kv_err_set(err, -EINVAL,
				  "%s: 0 is root's; anonymous requests must not "
				  "act as root",
				  key);
	*out = (uint32_t)n;
	return 0;
}

static const char *const known_keys[] = { "shards",
					  "index",
					  "cache",
					  "listen",
					  "port",
					  "replicas",
					  "timeout",
					  "sync",
					  "checksum",
					  "down_time",
					  "map_size",
					  "max_size",
					  "attr_timeout",
					  "entry_timeout",
					  "auth",
					  "server_name",
					  "anonymous",
					  "anonymous_uid",
					  "anonymous_gid",
					  "orphan_grace",
					  "shard_secret_file",
					  "sign_reads",
					  "read_link_ttl",
					  "workers",
					  "body_timeout",
					  "idle_timeout",
					  "max_connections",
					  "max_client_connections",
					  "max_value_size",
					  NULL };

int kv_config_is_key(const char *key)
{
	int i;

	for (i = 0; known_keys[i] != NULL; i++)
		if (strcmp(known_keys[i], key) == 0)
			return 1;
	return 0;
}

int kv_config_set(struct kv_config *c, const char *key, const char *v, struct kv_err *err)
{
	if (!strcmp(key, "shards")) {
		int rc = kv_shards_parse(v, &c->shards, err);

		c->have_shards = rc == 0;
		return rc;
	}
	if (!strcmp(key, "index"))
		return parse_path(key, v, c->index, sizeof(c->index), err);
	if (!strcmp(key, "cache"))
		return parse_path(key, v, c->cache, sizeof(c->cache), err);
	if (!strcmp(key, "listen"))
		return parse_path(key, v, c->listen, sizeof(c->listen), err);
	if (!strcmp(key, "port"))
		return parse_int(key, v, 1, 65535, &c->port, err);
	if (!strcmp(key, "replicas"))
		return parse_int(key, v, 1, KV_MAX_REPLICAS, &c->replicas, err);
	if (!strcmp(key, "timeout"))
		return parse_int(key, v, 1, 3600, &c->timeout, err);
	if (!strcmp(key, "down_time"))
		return parse_int(key, v, 0, 3600, &c->down_time, err);
	if (!strcmp(key, "sync"))
		return parse_bool(key, v, &c->sync, err);
	if (!strcmp(key, "checksum"))
		return parse_bool(key, v, &c->checksum, err);
	if (!strcmp(key, "map_size"))
		return parse_size(key, v, &c->map_size, err);
	if (!strcmp(key, "max_size"))
		return parse_size(key, v, &c->max_size, err);
	if (!strcmp(key, "attr_timeout"))
		return parse_seconds(key, v, &c->attr_timeout, err);
	if (!strcmp(key, "entry_timeout"))
		return parse_seconds(key, v, &c->entry_timeout, err);
	if (!strcmp(key, "auth"))
		return parse_auth(c, v, err);
	if (!strcmp(key, "server_name"))
		return parse_server_names(c, v, err);
	if (!strcmp(key, "anonymous"))
		return parse_rights(key, v, &c->anonymous, err);
	if (!strcmp(key, "anonymous_uid"))
		return parse_id(key, v, &c->anonymous_uid, err);
	if (!strcmp(key, "anonymous_gid"))
		return parse_id(key, v, &c->anonymous_gid, err);
	if (!strcmp(key, "orphan_grace"))
		return parse_int(key, v, 0, 365 * 86400, &c->orphan_grace, err);
	if (!strcmp(key, "shard_secret_file"))
		return parse_path(key, v, c->shard_secret_file, sizeof(c->shard_secret_file), err);
	if (!strcmp(key, "sign_reads"))
		return parse_bool(key, v, &c->sign_reads, err);
	if (!strcmp(key, "read_link_ttl"))
		return parse_int(key, v, 1, 7 * 86400, &c->read_link_ttl, err);
	if (!strcmp(key, "workers"))
		return parse_int(key, v, 1, 1024, &c->workers, err);
	if (!strcmp(key, "body_timeout"))
		return parse_int(key, v, 1, 3600, &c->body_timeout, err);
	if (!strcmp(key, "idle_timeout"))
		return parse_int(key, v, 1, 86400, &c->idle_timeout, err);
	if (!strcmp(key, "max_connections"))
		return parse_int(key, v, 1, 1000000, &c->max_connections, err);
	if (!strcmp(key, "max_client_connections"))
		return parse_int(key, v, 1, 1000000, &c->max_client_connections, err);
	if (!strcmp(key, "max_value_size"))
		return parse_size(key, v, &c->max_value_size, err);
	return kv_err_set(err, -ENOENT, "unknown setting '%s'", key);
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int kv_config_parse(struct kv_config *c, const char *text, size_t len, const char *name,
		    struct kv_err *err)
{
	char *copy = malloc(len + 1), *line, *end;
	int lineno = 0, rc = 0;

	if (copy == NULL)
		return kv_err_set(err, -ENOMEM, "%s: out of memory", name);
	memcpy(copy, text, len);
	copy[len] = '\0';
	end = copy + len;
	for (line = copy; rc == 0 && line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		char *stop = nl != NULL ? nl : end, *hash, *eq, *key, *val;

		lineno++;
		*stop = '\0';
		if (memchr(line, '\0', (size_t)(stop - line)) != NULL) {
			rc = kv_err_set(err, -EINVAL, "%s:%d: a NUL byte (is it a text file?)",
					name, lineno);
			break;
		}
		hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		key = trim(line);
		line = stop + 1;
		if (*key == '\0')
			continue;
		eq = strchr(key, '=');
		if (eq == NULL) {
			rc = kv_err_set(err, -EINVAL, "%s:%d: expected 'key = value'", name,
					lineno);
			break;
		}
		*eq = '\0';
		key = trim(key);
		val = trim(eq + 1);
		rc = kv_config_set(c, key, val, err);
		if (rc < 0)
			kv_err_prefix(err, "%s:%d", name, lineno);
	}
	free(copy);
	return rc;
}

#define CONF_FILE_MAX (1 << 20)

int kv_config_load(struct kv_config *c, const char *path, struct kv_err *err)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len;
	int rc;

	if (f == NULL)
		return kv_err_set(err, -errno, "%s: %s", path, strerror(errno));
	buf = malloc(CONF_FILE_MAX + 1);
	if (buf == NULL) {
		rc = kv_err_set(err, -ENOMEM, "%s: out of memory", path);
		goto out;
	}
	errno = 0;
	len = fread(buf, 1, CONF_FILE_MAX + 1, f);
	if (ferror(f))
		rc = kv_err_set(err, errno != 0 ? -errno : -EIO, "%s: read error: %s", path,
				strerror(errno != 0 ? errno : EIO));
	else if (len > CONF_FILE_MAX)
		rc = kv_err_set(err, -EFBIG, "%s: larger than %d KiB: not a config file?", path,
				CONF_FILE_MAX >> 10);
	else
		rc = kv_config_parse(c, buf, len, path, err);
out:
	free(buf);
	(void)fclose(f);
	return rc;
}

int kv_config_finish(struct kv_config *c, struct kv_err *err)
{
	if (!c->have_shards)
		return kv_err_set(err, -EINVAL, "no shards configured (shards = host:port, ...)");
	if (c->replicas > c->shards.n)
		return kv_err_set(err, -EINVAL, "replicas = %d but only %d shard%s configured",
				  c->replicas, c->shards.n, c->shards.n == 1 ? " is" : "s are");
	if (c->anonymous < 0) /* with tokens, writing needs one */
		c->anonymous = KV_RIGHT_READ | (c->auth_mode == KV_AUTH_FILE ? 0 : KV_RIGHT_WRITE);
	c->shard_secret[0] = '\0';
	if (c->shard_secret_file[0] != '\0') {
		int rc = kv_secret_load(c->shard_secret_file, c->shard_secret,
					sizeof(c->shard_secret), err);

		if (rc < 0)
			return rc;
	}
	if (c->sign_reads && c->shard_secret[0] == '\0')
		return kv_err_set(err, -EINVAL,
				  "sign_reads = yes needs shard_secret_file (the "
				  "secret signs the links)");
	return 0;
}

int kv_config_read(struct kv_config *c, const char *file, const struct kv_config_setting *settings,
		   int n, int *bad_setting, struct kv_err *err)
{
	int i, rc;

	if (bad_setting != NULL)
		*bad_setting = -1;
	kv_config_defaults(c);
	if (file != NULL && (rc = kv_config_load(c, file, err)) < 0)
		return rc;
	for (i = 0; i < n; i++) {
		rc = kv_config_set(c, settings[i].key, settings[i].value, err);
		if (rc < 0) {
			if (bad_setting != NULL)
				*bad_setting = i;
			return rc;
		}
	}
	return kv_config_finish(c, err);
}
