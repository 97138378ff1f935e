/* crashdrive.c — the driver of write_crash.bats: one operation through the core library,
 * against the store a tinykv.conf describes, in a process of its own.
 *
 * Built as build/crashdrive with -DKV_CRASH_POINTS (Makefile), so that TINYKV_CRASH_AT
 * makes it die between two steps of the write protocol with status 99 (core/crash.h).
 * The other commands look at what such a death left: recover runs start-up recovery as
 * tinykvd serve and the mount do, get reads a value back through the index, reboot makes
 * the next open take the intent log for one of an earlier boot (core/intents.h).
 *
 *   crashdrive CONF put KEY FILE      write FILE's bytes as KEY's value
 *   crashdrive CONF delete KEY
 *   crashdrive CONF rename FROM TO    a key or a directory
 *   crashdrive CONF link FROM TO      a second name (hard link) of FROM
 *   crashdrive CONF mkdir DIR
 *   crashdrive CONF rebalance         give every key the replicas CONF places it on
 *   crashdrive CONF get KEY FILE      KEY's value into FILE; status 3 when there is no KEY
 *   crashdrive CONF recover           finish or undo what dead processes left
 *   crashdrive CONF reboot            forget this boot's intent log at the next open
 *
 * Exit status: 0 done, 1 failed (the core's message on stderr), 2 usage, 3 no such key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "config.h"
#include "store_int.h"

static int load(const char *path, struct kv_config *cfg, struct kv_err *err)
{
	int rc;

	kv_config_defaults(cfg);
	rc = kv_config_load(cfg, path, err);
	return rc < 0 ? rc : kv_config_finish(cfg, err);
}

static int put(struct kv_store *s, const char *key, const char *path, struct kv_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0 || fstat(fd, &st) < 0)
		return kv_err_set(err, -errno, "%s: %s", path, strerror(errno));
	rc = kv_store_put_fd(s, key, strlen(key), fd, st.st_size, 0, NULL, NULL, err);
	(void)close(fd);
	return rc;
}

static int get(struct kv_store *s, const char *key, const char *path, struct kv_err *err)
{
	struct kv_record rec;
	int fd, rc = kv_store_get(s, key, strlen(key), &rec, err);

	if (rc < 0)
		return rc;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return kv_err_set(err, -errno, "%s: %s", path, strerror(errno));
	rc = kv_store_fetch_fd(s, key, strlen(key), &rec, fd, err);
	(void)close(fd);
	return rc;
}

/* One worker and no grace: each key's old copies go right after its switch. */
static int rebalance(struct kv_store *s, struct kv_err *err)
{
	struct kv_admin_opts o = { .jobs = 1 };
	struct kv_rebalance_result r;
	int rc = kv_rebalance(s, &o, &r, err);

	if (rc == 0)
		printf("moved %llu\n", (unsigned long long)r.moved);
	return rc;
}

static int recover(struct kv_store *s, struct kv_err *err)
{
	int done = 0, rc = kv_store_recover(s, &done, err);

	if (rc == 0)
		printf("recovered %d\n", done);
	return rc;
}

/* The boot id the intent log was started in (intents.c's KV_META "intents.boot"),
 * replaced by one no machine has: the next open starts the log afresh. */
static int set_old_boot(struct kv_txn *txn, void *arg, struct kv_err *err)
{
	static const char key[] = "intents.boot", boot[] = "not-this-boot";

	(void)arg;
	return kv_txn_put_bytes(txn, KV_META, key, sizeof(key) - 1, boot, sizeof(boot) - 1, err);
}

static int run(struct kv_store *s, int argc, char **argv, struct kv_err *err)
{
	const char *cmd = argv[2];

	if (!strcmp(cmd, "put") && argc == 5)
		return put(s, argv[3], argv[4], err);
	if (!strcmp(cmd, "delete") && argc == 4)
		return kv_store_delete(s, argv[3], strlen(argv[3]), err);
	if (!strcmp(cmd, "rename") && argc == 5)
		return kv_store_rename(s, argv[3], strlen(argv[3]), argv[4], strlen(argv[4]), 0,
				       err);
	if (!strcmp(cmd, "link") && argc == 5)
		return kv_store_link(s, argv[3], strlen(argv[3]), argv[4], strlen(argv[4]), err);
	if (!strcmp(cmd, "mkdir") && argc == 4)
		return kv_store_mkdir(s, argv[3], strlen(argv[3]), NULL, err);
	if (!strcmp(cmd, "rebalance") && argc == 3)
		return rebalance(s, err);
	if (!strcmp(cmd, "get") && argc == 5)
		return get(s, argv[3], argv[4], err);
	if (!strcmp(cmd, "recover") && argc == 3)
		return recover(s, err);
	if (!strcmp(cmd, "reboot") && argc == 3)
		return kv_index_update(s->idx, set_old_boot, NULL, err);
	return 1;
}

int main(int argc, char **argv)
{
	struct kv_config cfg;
	struct kv_store *s;
	struct kv_err err;
	int rc;

	if (argc < 3) {
		fprintf(stderr, "usage: crashdrive CONF put|delete|rename|link|mkdir|rebalance|get|"
				"recover|reboot ARGS (see its opening comment)\n");
		return 2;
	}
	err.msg[0] = '\0';
	if (load(argv[1], &cfg, &err) < 0 || kv_store_open(&cfg, &s, &err) < 0) {
		fprintf(stderr, "crashdrive: %s\n", err.msg);
		return 1;
	}
	rc = run(s, argc, argv, &err);
	kv_store_close(s);
	if (rc == 1) {
		fprintf(stderr, "crashdrive: bad arguments for %s\n", argv[2]);
		return 2;
	}
	if (rc == -ENOENT && !strcmp(argv[2], "get"))
		return 3;
	if (rc < 0) {
		fprintf(stderr, "crashdrive: %s: %s\n", argv[2], err.msg);
		return 1;
	}
	return 0;
}
