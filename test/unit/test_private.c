/* Private local state (core/sys.c, DESIGN §7): kv_private_dir creates 0700 directories,
 * tightens ours that are merely readable by others, and refuses symbolic links, other
 * owners, directories others may write, and places below a directory others could change
 * — creating nothing there; kv_private_file does the same for the files in them. The
 * tests that need another owner run as root only. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys.h"
#include "unit.h"

#define OTHER 65534 /* nobody */

static char base[64];

static void mkbase(void)
{
	snprintf(base, sizeof(base), "/tmp/kvunit-XXXXXX");
	CHECK(mkdtemp(base) != NULL);
}

static void rmbase(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	CHECK(system(cmd) == 0);
}

static const char *at(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", base, rel);
	return buf[i];
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 01000000;
}

static int open_dir(const char *path, unsigned flags, struct kv_notes *notes, struct kv_err *err)
{
	char real[PATH_MAX];
	int fd = kv_private_dir(path, "index", flags, real, sizeof(real), notes, err);

	if (fd >= 0)
		close(fd);
	return fd < 0 ? fd : 0;
}

UNIT_TEST(private_dir_created_and_tightened)
{
	struct kv_notes notes = { "" };
	struct kv_err err;
	char real[PATH_MAX];
	int fd;

	mkbase();
	/* Missing, with missing parents: made, the last one 0700. */
	fd = kv_private_dir(at("a/b/idx"), "index", KV_PRIVATE_CREATE, real, sizeof(real), &notes,
			    &err);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_STR(real, at("a/b/idx"));
	CHECK(mode_of(at("a/b/idx")) == 0700);
	CHECK(mode_of(at("a/b")) == 0755);
	CHECK_STR(notes.text, "");
	/* Without KV_PRIVATE_CREATE a missing one is -ENOENT. */
	CHECK(open_dir(at("none"), 0, NULL, &err) == -ENOENT);
	CHECK(mode_of(at("none")) == 01000000);
	/* Ours but 0755 (an older install): tightened, and said so. */
	CHECK(mkdir(at("old"), 0755) == 0 && chmod(at("old"), 0755) == 0);
	CHECK(open_dir(at("old"), KV_PRIVATE_CREATE, &notes, &err) == 0);
	CHECK(mode_of(at("old")) == 0700);
	CHECK(strstr(notes.text, "was open to others (mode 0755); it is 0700 now\n") != NULL);
	/* A relative path with trailing slashes: the same directory, resolved. */
	{
		char cwd[PATH_MAX];

		CHECK(getcwd(cwd, sizeof(cwd)) != NULL && chdir(base) == 0);
		fd = kv_private_dir("a/../a/b/idx//", "index", 0, real, sizeof(real), NULL, &err);
		CHECK(fd >= 0);
		if (fd >= 0)
			close(fd);
		CHECK_STR(real, at("a/b/idx"));
		CHECK(chdir(cwd) == 0);
	}
	rmbase();
}

UNIT_TEST(private_dir_refusals)
{
	struct kv_err err;
	int root = geteuid() == 0;

	mkbase();
	/* A symbolic link, even to a good directory of ours. */
	CHECK(mkdir(at("real"), 0700) == 0 && symlink(at("real"), at("link")) == 0);
	CHECK(open_dir(at("link"), KV_PRIVATE_CREATE, NULL, &err) == -ELOOP);
	CHECK(strstr(err.msg, "is a symbolic link") != NULL);
	/* Ours, but others may write it. */
	CHECK(mkdir(at("open"), 0700) == 0 && chmod(at("open"), 0777) == 0);
	CHECK(open_dir(at("open"), KV_PRIVATE_CREATE, NULL, &err) == -EPERM);
	CHECK(strstr(err.msg, "may be written by others (mode 0777)") != NULL);
	CHECK(mode_of(at("open")) == 0777); /* not "fixed" behind anyone's back */
	/* Not a directory. */
	CHECK(close(open(at("file"), O_CREAT | O_WRONLY, 0600)) == 0);
	CHECK(open_dir(at("file"), KV_PRIVATE_CREATE, NULL, &err) == -ENOTDIR);
	/* Below a directory others may write and that is not sticky: nothing is made. */
	CHECK(mkdir(at("pub"), 0777) == 0 && chmod(at("pub"), 0777) == 0);
	CHECK(open_dir(at("pub/idx"), KV_PRIVATE_CREATE, NULL, &err) == -EPERM);
	CHECK(strstr(err.msg, "pub may be written by others (mode 0777)") != NULL);
	CHECK(mode_of(at("pub/idx")) == 01000000);
	CHECK(open_dir(at("pub/x/y/idx"), KV_PRIVATE_CREATE, NULL, &err) == -EPERM);
	CHECK(mode_of(at("pub/x")) == 01000000);
	/* ... but a sticky one (as /tmp) is fine: others cannot move what is ours there. */
	CHECK(chmod(at("pub"), 01777) == 0);
	CHECK(open_dir(at("pub/idx"), KV_PRIVATE_CREATE, NULL, &err) == 0);
	CHECK(mode_of(at("pub/idx")) == 0700);
	if (root) {
		/* Someone else's, even private: refused, and the owner named. */
		CHECK(mkdir(at("theirs"), 0700) == 0 && chown(at("theirs"), OTHER, OTHER) == 0);
		CHECK(open_dir(at("theirs"), KV_PRIVATE_CREATE, NULL, &err) == -EPERM);
		CHECK(strstr(err.msg, "is owned by uid 65534") != NULL);
		/* Below someone else's directory: refused, nothing made in it. */
		CHECK(open_dir(at("theirs/a/idx"), KV_PRIVATE_CREATE, NULL, &err) == -EPERM);
		CHECK(strstr(err.msg, "theirs is owned by uid 65534") != NULL);
		CHECK(mode_of(at("theirs/a")) == 01000000);
	}
	rmbase();
}

UNIT_TEST(private_file_checks)
{
	struct kv_notes notes = { "" };
	struct kv_err err;
	int dfd, fd;

	mkbase();
	dfd = open(base, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	CHECK(kv_private_file(dfd, base, "missing", "index", &notes, &err) == 0);
	fd = open(at("ok"), O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0 && close(fd) == 0);
	CHECK(kv_private_file(dfd, base, "ok", "index", &notes, &err) == 0);
	CHECK_STR(notes.text, "");
	CHECK(chmod(at("ok"), 0644) == 0);
	CHECK(kv_private_file(dfd, base, "ok", "index", &notes, &err) == 0);
	CHECK(mode_of(at("ok")) == 0600);
	CHECK(strstr(notes.text, "ok was open to others (mode 0644); it is 0600 now\n") != NULL);
	CHECK(chmod(at("ok"), 0666) == 0);
	CHECK(kv_private_file(dfd, base, "ok", "index", NULL, &err) == -EPERM);
	CHECK(mode_of(at("ok")) == 0666);
	CHECK(chmod(at("ok"), 0600) == 0);
	CHECK(symlink(at("ok"), at("data.mdb")) == 0);
	CHECK(kv_private_file(dfd, base, "data.mdb", "index", NULL, &err) == -ELOOP);
	CHECK(strstr(err.msg, "data.mdb is a symbolic link") != NULL);
	CHECK(link(at("ok"), at("hard")) == 0);
	CHECK(kv_private_file(dfd, base, "hard", "index", NULL, &err) == -EPERM);
	CHECK(strstr(err.msg, "2 hard links") != NULL);
	CHECK(mkfifo(at("fifo"), 0600) == 0);
	CHECK(kv_private_file(dfd, base, "fifo", "index", NULL, &err) == -EINVAL);
	if (geteuid() == 0) {
		fd = open(at("theirs"), O_CREAT | O_WRONLY, 0600);
		CHECK(fd >= 0 && close(fd) == 0 && chown(at("theirs"), OTHER, OTHER) == 0);
		CHECK(kv_private_file(dfd, base, "theirs", "index", NULL, &err) == -EPERM);
		CHECK(strstr(err.msg, "is owned by uid 65534") != NULL);
	}
	close(dfd);
	rmbase();
}

UNIT_TEST(boot_id_read)
{
	char id[40];
	struct kv_err err;

	CHECK(kv_boot_id(id, sizeof(id), &err) == 0);
	CHECK(strlen(id) == 36 && id[8] == '-');
	CHECK(kv_boot_id(id, 20, &err) < 0);
}
