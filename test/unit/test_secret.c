/* The shard secret: which files are refused and why, the signature nginx's secure_link
 * accepts, and shard URLs with a password in them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "placement.h"
#include "secret.h"
#include "unit.h"

#define GOOD "87afc51648b0338204f17fbc995ef9418a7f50b04d6fb13d5c8b8b340515c195"

static void put_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	(void)unlink(path);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
	CHECK(chmod(path, mode) == 0);
}

UNIT_TEST(secret_file_rules)
{
	char dir[] = "/tmp/tinykv-unit-XXXXXX", path[64], link[64], out[KV_SECRET_MAX + 1];
	struct kv_err err;

	CHECK(mkdtemp(dir) != NULL);
	(void)snprintf(path, sizeof(path), "%s/secret", dir);
	(void)snprintf(link, sizeof(link), "%s/link", dir);

	put_file(path, GOOD "\n", 0600);
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == 0);
	CHECK_STR(out, GOOD);
	put_file(path, GOOD, 0400); /* no newline, read-only: fine */
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == 0);

	put_file(path, GOOD "\n", 0640);
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == -EPERM);
	CHECK(strstr(err.msg, "mode 0640") != NULL && strstr(err.msg, "chmod 600") != NULL);
	CHECK(strstr(err.msg, GOOD) == NULL);
	put_file(path, GOOD "\n", 0604);
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == -EPERM);

	put_file(path, GOOD "\n", 0600);
	CHECK(symlink(path, link) == 0);
	CHECK(kv_secret_load(link, out, sizeof(out), &err) == -ELOOP);
	CHECK(strstr(err.msg, "symbolic link") != NULL);

	if (geteuid() == 0) { /* someone else's file, however private */
		CHECK(chown(path, 65534, 65534) == 0);
		CHECK(kv_secret_load(path, out, sizeof(out), &err) == -EPERM);
		CHECK(strstr(err.msg, "belongs to uid 65534") != NULL);
		CHECK(chown(path, 0, 0) == 0);
	}

	CHECK(chmod(dir, 0777) == 0); /* others could swap the file */
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == -EPERM);
	CHECK(strstr(err.msg, "chmod go-w") != NULL);
	CHECK(chmod(dir, 01777) == 0); /* sticky, as /tmp: they cannot */
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == 0);
	CHECK(chmod(dir, 0700) == 0);

	put_file(path, "short\n", 0600);
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == -EINVAL);
	CHECK(strstr(err.msg, "32 to 256") != NULL && strstr(err.msg, "short") == NULL);
	put_file(path, GOOD "\n" GOOD "\n", 0600);
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == -EINVAL);
	put_file(path, "87AFC51648B0338204F17FBC995EF9418A7F50B04D6FB13D5C8B8B340515C195\n", 0600);
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == -EINVAL); /* upper case */
	put_file(path, "87afc51648b0338204f17fbc 995ef9418a7f50b04d6fb13d5c8b8b340515c195\n", 0600);
	CHECK(kv_secret_load(path, out, sizeof(out), &err) == -EINVAL);
	CHECK(kv_secret_load(dir, out, sizeof(out), &err) == -EINVAL); /* a directory */
	CHECK(kv_secret_load("/nonexistent/secret", out, sizeof(out), &err) == -ENOENT);
	CHECK(strstr(err.msg, "/nonexistent/secret") != NULL);

	(void)unlink(link);
	(void)unlink(path);
	(void)rmdir(dir);
}

UNIT_TEST(signed_url_is_what_secure_link_checks)
{
	char out[KV_URL_MAX];

	/* Checked against nginx 1.22's secure_link with tinykv-shard --signed-reads, and
	 * `printf '%s%s %s' EXPIRES PATH SECRET | openssl md5 -binary | base64 | tr +/ -_` */
	CHECK(kv_sign_url(GOOD, "http://localhost:3001/5d/41/aGVsbG8=", 1796180861, out,
			  sizeof(out)) > 0);
	CHECK_STR(out, "http://localhost:3001/5d/41/aGVsbG8=?md5=0M5iJeUFNlArJ9oq3YVHgw"
		       "&expires=1796180861");
	CHECK(strstr(out, GOOD) == NULL);
	CHECK(kv_sign_url(GOOD, "http://localhost:3001", 1, out, sizeof(out)) == -EINVAL);
	CHECK(kv_sign_url(GOOD, "http://h:1/a?b", 1, out, sizeof(out)) == -EINVAL);
	CHECK(kv_sign_url(GOOD, "http://localhost:3001/5d/41/aGVsbG8=", 1, out, 40) ==
	      -ENAMETOOLONG);
}

UNIT_TEST(config_secret_and_signing)
{
	char dir[] = "/tmp/tinykv-unit-XXXXXX", path[64];
	struct kv_config c;
	struct kv_err err;

	CHECK(mkdtemp(dir) != NULL);
	(void)snprintf(path, sizeof(path), "%s/secret", dir);
	put_file(path, GOOD "\n", 0600);
	kv_config_defaults(&c);
	CHECK(c.sign_reads == 0 && c.read_link_ttl == 60 && c.shard_secret_file[0] == '\0');
	CHECK(kv_config_is_key("shard_secret_file") && kv_config_is_key("sign_reads") &&
	      kv_config_is_key("read_link_ttl"));
	CHECK(kv_config_set(&c, "shards", "localhost:3001", &err) == 0);
	CHECK(kv_config_finish(&c, &err) == 0 && c.shard_secret[0] == '\0');
	CHECK(kv_config_set(&c, "sign_reads", "yes", &err) == 0);
	CHECK(kv_config_finish(&c, &err) == -EINVAL);
	CHECK(strstr(err.msg, "sign_reads = yes needs shard_secret_file") != NULL);
	CHECK(kv_config_set(&c, "shard_secret_file", path, &err) == 0);
	CHECK(kv_config_finish(&c, &err) == 0);
	CHECK_STR(c.shard_secret, GOOD);
	CHECK(kv_config_set(&c, "read_link_ttl", "0", &err) == -EINVAL);
	CHECK(kv_config_set(&c, "read_link_ttl", "300", &err) == 0 && c.read_link_ttl == 300);
	CHECK(chmod(path, 0644) == 0);
	CHECK(kv_config_finish(&c, &err) == -EPERM);
	CHECK(strstr(err.msg, path) != NULL);
	(void)unlink(path);
	(void)rmdir(dir);
}

UNIT_TEST(password_in_shard_url_is_refused_unechoed)
{
	struct kv_shards s;
	struct kv_err err;

	CHECK(kv_shards_parse("localhost:3001, http://user:hunter2@localhost:3002", &s, &err) ==
	      -EINVAL);
	CHECK(strstr(err.msg, "hunter2") == NULL && strstr(err.msg, "user:") == NULL);
	CHECK(strstr(err.msg, "a user name or password") != NULL);
	CHECK(strstr(err.msg, "http://...@localhost:3002") != NULL);
	CHECK(strstr(err.msg, "shard_secret_file") != NULL);
	CHECK(kv_shards_parse("me@localhost:3001", &s, &err) == -EINVAL);
	CHECK(strstr(err.msg, "'...@localhost:3001'") != NULL);
	CHECK(kv_shards_parse("https://a:b@c@h:1", &s, &err) == -EINVAL);
	CHECK(strstr(err.msg, "a:b") == NULL && strstr(err.msg, "...@h:1") != NULL);
}
