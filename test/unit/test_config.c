/* Config parsing: files, overrides, and errors that name the line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

UNIT_TEST(config_file_and_overrides)
{
	char path[] = "/tmp/tinykv-unit-XXXXXX";
	struct kv_config c;
	struct kv_err err;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	write_file(path,
		   "# comment\nshards   = localhost:3001, localhost:3002\n"
		   "index = /tmp/idx   # trailing comment\nreplicas=2\n\nport = 4000\n"
		   "sync = no\nchecksum = no\nmap_size = 1G\ntimeout = 3\nattr_timeout = 0.5\n");
	kv_config_defaults(&c);
	CHECK(c.port == 3000 && c.replicas == 1 && c.sync == 1 && c.checksum == 1);
	CHECK(kv_config_load(&c, path, &err) == 0);
	CHECK(c.shards.n == 2);
	CHECK_STR(c.shards.v[1].name, "localhost:3002");
	CHECK_STR(c.index, "/tmp/idx");
	CHECK(c.replicas == 2 && c.port == 4000 && c.sync == 0 && c.timeout == 3);
	CHECK(c.checksum == 0);
	CHECK(c.map_size == (uint64_t)1 << 30);
	CHECK(c.attr_timeout == 0.5);
	CHECK(kv_config_set(&c, "port", "5000", &err) == 0 && c.port == 5000);
	CHECK(kv_config_finish(&c, &err) == 0);
	CHECK(kv_config_set(&c, "replicas", "3", &err) == 0);
	CHECK(kv_config_finish(&c, &err) == -EINVAL);
	CHECK(strstr(err.msg, "replicas = 3") != NULL);
	unlink(path);
}

UNIT_TEST(config_errors_name_the_line)
{
	char path[] = "/tmp/tinykv-unit-XXXXXX";
	struct kv_config c;
	struct kv_err err;
	int fd = mkstemp(path);

	close(fd);
	write_file(path, "shards = a:1\nport = seventy\n");
	kv_config_defaults(&c);
	CHECK(kv_config_load(&c, path, &err) == -EINVAL);
	CHECK(strstr(err.msg, ":2: port") != NULL);
	write_file(path, "colour = blue\n");
	CHECK(kv_config_load(&c, path, &err) == -ENOENT);
	CHECK(strstr(err.msg, "unknown setting 'colour'") != NULL);
	write_file(path, "just words\n");
	CHECK(kv_config_load(&c, path, &err) == -EINVAL);
	unlink(path);
	CHECK(kv_config_load(&c, "/nonexistent/tinykv.conf", &err) == -ENOENT);
	kv_config_defaults(&c);
	CHECK(kv_config_finish(&c, &err) == -EINVAL); /* no shards */
	CHECK(kv_config_set(&c, "port", "70000", &err) == -EINVAL);
	CHECK(kv_config_set(&c, "map_size", "-1", &err) == -EINVAL);
	CHECK(kv_config_set(&c, "sync", "maybe", &err) == -EINVAL);
	CHECK(kv_config_set(&c, "checksum", "2", &err) == -EINVAL);
	CHECK(c.orphan_grace == 3600);
	CHECK(kv_config_set(&c, "orphan_grace", "0", &err) == 0 && c.orphan_grace == 0);
	CHECK(kv_config_set(&c, "orphan_grace", "-1", &err) == -EINVAL);
	CHECK(kv_config_set(&c, "orphan_grace", "1h", &err) == -EINVAL);
}

UNIT_TEST(config_access_control_settings)
{
	struct kv_config c;
	struct kv_err err;

	kv_config_defaults(&c);
	CHECK(c.auth_mode == KV_AUTH_UNSET && c.n_server_names == 0);
	CHECK(c.anonymous_uid == 65534 && c.anonymous_gid == 65534);
	CHECK(kv_config_set(&c, "shards", "a:1", &err) == 0);
	CHECK(kv_config_finish(&c, &err) == 0);
	CHECK(c.anonymous == (KV_RIGHT_READ | KV_RIGHT_WRITE)); /* no tokens: the seed's */
	kv_config_defaults(&c);
	CHECK(kv_config_set(&c, "shards", "a:1", &err) == 0);
	CHECK(kv_config_set(&c, "auth", "/etc/tinykv/tokens", &err) == 0);
	CHECK(c.auth_mode == KV_AUTH_FILE);
	CHECK_STR(c.auth, "/etc/tinykv/tokens");
	CHECK(kv_config_finish(&c, &err) == 0);
	CHECK(c.anonymous == KV_RIGHT_READ); /* with tokens, writing needs one */
	CHECK(kv_config_set(&c, "auth", "none", &err) == 0 && c.auth_mode == KV_AUTH_NONE);
	CHECK(kv_config_set(&c, "auth", "tokens.txt", &err) == -EINVAL);
	CHECK(strstr(err.msg, "absolute path") != NULL);
	CHECK(kv_config_set(&c, "auth", "", &err) == -EINVAL);

	CHECK(kv_config_set(&c, "server_name", "KV.Example.com, ::1 10.0.0.1:8080", &err) == 0);
	CHECK(c.n_server_names == 3);
	CHECK_STR(c.server_names[0], "kv.example.com");
	CHECK_STR(c.server_names[1], "[::1]");
	CHECK_STR(c.server_names[2], "10.0.0.1:8080");
	CHECK(kv_config_set(&c, "server_name", "bad/name", &err) == -EINVAL);
	CHECK(kv_config_set(&c, "server_name", " , ", &err) == -EINVAL);

	CHECK(kv_config_set(&c, "anonymous", "none", &err) == 0 && c.anonymous == 0);
	CHECK(kv_config_set(&c, "anonymous", "read, write", &err) == 0);
	CHECK(c.anonymous == (KV_RIGHT_READ | KV_RIGHT_WRITE));
	CHECK(kv_config_set(&c, "anonymous", "admin", &err) == -EINVAL);
	CHECK(kv_config_set(&c, "anonymous", ",", &err) == -EINVAL);

	CHECK(kv_config_set(&c, "anonymous_uid", "1234", &err) == 0 && c.anonymous_uid == 1234);
	CHECK(kv_config_set(&c, "anonymous_gid", "99", &err) == 0 && c.anonymous_gid == 99);
	CHECK(kv_config_set(&c, "anonymous_uid", "0", &err) == -EINVAL);
	CHECK(strstr(err.msg, "root") != NULL);
	CHECK(kv_config_set(&c, "anonymous_gid", "-1", &err) == -EINVAL);
	CHECK(kv_config_set(&c, "anonymous_uid", "4294967295", &err) == -EINVAL);
	CHECK(kv_config_is_key("auth") && kv_config_is_key("server_name"));
	CHECK(kv_config_is_key("body_timeout") && kv_config_is_key("max_value_size") &&
	      kv_config_is_key("max_client_connections") && kv_config_is_key("workers"));
}

/* What tinykvd gives one client, as tinykv.conf(5) documents it. */
UNIT_TEST(config_client_limits)
{
	struct kv_config c;
	struct kv_err err;

	kv_config_defaults(&c);
	CHECK(c.body_timeout == 30 && c.idle_timeout == 60 && c.workers == 64);
	CHECK(c.max_connections == 1000 && c.max_client_connections == 128);
	CHECK(c.max_value_size == (uint64_t)5 << 30);
	CHECK(kv_config_set(&c, "max_value_size", "1M", &err) == 0 && c.max_value_size == 1 << 20);
	CHECK(kv_config_set(&c, "body_timeout", "0", &err) == -EINVAL);
	CHECK(kv_config_set(&c, "max_client_connections", "2", &err) == 0 &&
	      c.max_client_connections == 2);
}

/* A line is a line whatever its length: a 6000-byte comment used to be read in 4095-byte
 * pieces, the rest of it parsed as a line of its own ("expected 'key = value'"). */
UNIT_TEST(config_long_lines_are_one_line)
{
	char path[] = "/tmp/tinykv-unit-XXXXXX", *text = malloc(8192);
	struct kv_config c;
	struct kv_err err;
	int fd = mkstemp(path);
	size_t n;

	CHECK(fd >= 0 && text != NULL);
	if (text == NULL)
		return;
	close(fd);
	n = (size_t)snprintf(text, 8192, "shards = a:1 # ");
	memset(text + n, 'x', 6000);
	(void)snprintf(text + n + 6000, 8192 - n - 6000, "\nport = 4001\n");
	write_file(path, text);
	kv_config_defaults(&c);
	CHECK(kv_config_load(&c, path, &err) == 0);
	CHECK(c.have_shards && c.shards.n == 1 && c.port == 4001);
	unlink(path);
	free(text);
}

UNIT_TEST(config_parse_from_a_buffer)
{
	static const char nul[] = "shards = a:1\nport = 30\0"
				  "00\n";
	struct kv_config c;
	struct kv_err err;

	kv_config_defaults(&c);
	/* not NUL-terminated, no final newline */
	CHECK(kv_config_parse(&c, "port = 4002\nreplicas = 2XYZ", 24, "buf", &err) == 0);
	CHECK(c.port == 4002 && c.replicas == 2);
	CHECK(kv_config_parse(&c, "", 0, "buf", &err) == 0);
	/* a NUL byte used to end the line there, silently: port = 30 */
	CHECK(kv_config_parse(&c, nul, sizeof(nul) - 1, "buf", &err) == -EINVAL);
	CHECK(strstr(err.msg, "buf:2: a NUL byte") != NULL);
	CHECK(c.port == 4002);
	CHECK(kv_config_parse(&c, "\n\n  # only\nport\n", 16, "buf", &err) == -EINVAL);
	CHECK_STR(err.msg, "buf:4: expected 'key = value'");
}

/* kv_config_read, the loader both programs call: defaults, the file, the settings in
 * order, the whole checked; a failure says whether a setting (and which) was at fault. */
UNIT_TEST(config_read_file_then_settings)
{
	char path[] = "/tmp/tinykv-unit-XXXXXX";
	const struct kv_config_setting ok[] = {
		{"port",	  "5000"},
		    { "replicas", "1"   },
		 { "port",	   "5001"}
	};
	const struct kv_config_setting bad[] = {
		{"port",	  "5000"},
		    { "nosuchkey", "1"   }
	};
	const struct kv_config_setting too_many[] = {
		{"replicas", "3"}
	};
	const struct kv_config_setting shards[] = {
		{"shards", "localhost:3009"}
	};
	struct kv_config c;
	struct kv_err err;
	int fd = mkstemp(path), which = 7;

	CHECK(fd >= 0);
	close(fd);
	write_file(path, "shards = localhost:3001, localhost:3002\nreplicas = 2\nport = 4000\n");
	c.port = 1; /* the defaults come first: nothing of what c held stays */
	CHECK(kv_config_read(&c, path, ok, 3, &which, &err) == 0);
	CHECK(which == -1);
	CHECK(c.shards.n == 2 && c.replicas == 1 && c.port == 5001 && c.sync == 1);

	CHECK(kv_config_read(&c, path, bad, 2, &which, &err) == -ENOENT);
	CHECK(which == 1); /* the second setting */
	CHECK(strstr(err.msg, "nosuchkey") != NULL);

	CHECK(kv_config_read(&c, path, too_many, 1, &which, &err) == -EINVAL);
	CHECK(which == -1); /* the whole is wrong, not the setting */
	CHECK(strstr(err.msg, "replicas = 3") != NULL);

	CHECK(kv_config_read(&c, NULL, NULL, 0, &which, &err) == -EINVAL); /* no shards */
	CHECK(which == -1);
	CHECK(kv_config_read(&c, NULL, shards, 1, NULL, &err) == 0);
	CHECK(c.shards.n == 1 && c.port == 3000);
	unlink(path);
	CHECK(kv_config_read(&c, path, shards, 1, &which, &err) == -ENOENT);
	CHECK(which == -1); /* the file is missing */
	CHECK(strstr(err.msg, path) != NULL);
}
