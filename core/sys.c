/* sys.c — directories (private ones too: DESIGN §7), clocks, process and boot identity.
 * Any thread; the private checks run while the index, the intent log and the spool open. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int kv_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path), i;

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = i < len ? '/' : '\0';
	}
	return 0;
}

int64_t kv_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t kv_mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* State (field 3) and start time (field 22) of /proc/PID/stat; -1 when unreadable. The
 * command name (field 2) may hold spaces and parentheses, so parsing starts after its
 * last ')'. */
static int proc_stat(int32_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024], *p;
	unsigned long long st = 0;
	FILE *f;
	size_t n;
	int field;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	*state = p[2];
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &st) != 1)
		return -1;
	*start = st;
	return 0;
}

/* One cache for the process, filled by the first successful read of /proc; pid stored
 * after start, so a thread that sees this process's pid sees its start. After fork() the
 * pid differs and the child reads its own. A failed read (no descriptor free, say) is not
 * kept: the next call tries again. */
static _Atomic int32_t owner_pid;
static _Atomic uint64_t owner_start;

void kv_self_owner(int32_t *pid, uint64_t *start)
{
	int32_t me = (int32_t)getpid();
	uint64_t st;
	char state;

	*pid = me;
	if (atomic_load(&owner_pid) == me) {
		*start = atomic_load(&owner_start);
		return;
	}
	if (proc_stat(me, &state, &st) < 0) {
		*start = 0;
		return;
	}
	atomic_store(&owner_start, st);
	atomic_store(&owner_pid, me);
	*start = st;
}

int kv_owner_alive(int32_t pid, uint64_t start)
{
	uint64_t now;
	char state;

	if (pid <= 0)
		return 0;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	if (proc_stat(pid, &state, &now) < 0) /* gone meanwhile, or no /proc */
		return access("/proc/self/stat", R_OK) == 0 ? 0 : 1;
	/* A zombie has ended; it only waits for its parent to collect it. */
	return now == start && state != 'Z' && state != 'X';
}

/* --- private directories and files --- */

static void note_add(struct kv_notes *notes, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Append one sentence and a newline to notes, or nothing if it does not fit whole. */
static void note_add(struct kv_notes *notes, const char *fmt, ...)
{
	size_t len, room;
	va_list ap;
	int n;

	if (notes == NULL)
		return;
	len = strnlen(notes->text, sizeof(notes->text) - 1);
	room = sizeof(notes->text) - len;
	va_start(ap, fmt);
	n = vsnprintf(notes->text + len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 > room) {
		notes->text[len] = '\0';
		return;
	}
	notes->text[len + (size_t)n] = '\n';
	notes->text[len + (size_t)n + 1] = '\0';
}

/* "uid 65534 (nobody)", or "uid 65534" when the name is unknown. */
static const char *who(uid_t uid, char *buf, size_t cap)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res != NULL)
		(void)snprintf(buf, cap, "uid %u (%s)", (unsigned)uid, pw.pw_name);
	else
		(void)snprintf(buf, cap, "uid %u", (unsigned)uid);
	return buf;
}

/* May the directory open as fd (shown as dir) hold something we trust? Only root or we
 * may own it, and nobody else write it unless it is sticky (then others cannot rename or
 * remove what is ours in it). */
static int trusted_parent(int fd, const char *dir, const char *what, const char *path,
			  struct kv_err *err)
{
	char owner[128];
	struct stat st;

	if (fstat(fd, &st) < 0)
		return kv_err_set(err, -errno, "%s %s: %s: %s", what, path, dir, strerror(errno));
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return kv_err_set(err, -EPERM,
				  "%s %s: %s is owned by %s, who could replace what "
				  "is in it: choose a place whose parent directories belong to "
				  "root or to you",
				  what, path, dir, who(st.st_uid, owner, sizeof(owner)));
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))
		return kv_err_set(err, -EPERM,
				  "%s %s: %s may be written by others (mode %04o), "
				  "who could replace what is in it: chmod go-w %s (or chmod +t), "
				  "or choose another place",
				  what, path, dir, (unsigned)(st.st_mode & 07777), dir);
	return 0;
}

/* Open the directory dir (a resolved, absolute path) component by component from /,
 * never following a symbolic link, checking each with trusted_parent. Returns an O_PATH
 * descriptor of dir or -errno. */
static int open_trusted(const char *dir, const char *what, const char *path, struct kv_err *err)
{
	char buf[PATH_MAX];
	char *p, *next;
	size_t len = strlen(dir);
	int fd, nfd, rc;

	if (dir[0] != '/' || len >= sizeof(buf))
		return kv_err_set(err, -EINVAL, "%s %s: cannot resolve its parent", what, path);
	memcpy(buf, dir, len + 1);
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kv_err_set(err, -errno, "%s %s: /: %s", what, path, strerror(errno));
	rc = trusted_parent(fd, "/", what, path, err);
	for (p = buf + 1; rc == 0 && *p != '\0'; p = next + 1) {
		next = strchr(p, '/');
		if (next != NULL)
			*next = '\0';
		if (*p != '\0') {
			nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0) {
				rc = kv_err_set(err, -errno,
						"%s %s: %s: %s (did it change "
						"meanwhile?)",
						what, path, buf, strerror(errno));
				break;
			}
			(void)close(fd);
			fd = nfd;
			rc = trusted_parent(fd, buf, what, path, err);
		}
		if (next == NULL)
			break;
		*next = '/';
	}
	if (rc < 0) {
		(void)close(fd);
		return rc;
	}
	return fd;
}

/* Open path's parent directory (parent, as given) trusted from / down, resolved into
 * rparent (cap bytes). With KV_PRIVATE_CREATE, missing directories are made (0755) one
 * by one below the deepest one that exists, after it was found trusted, so nothing is
 * ever created where someone else could interfere. Returns an O_PATH descriptor. */
static int open_parent(const char *parent, unsigned flags, char *rparent, size_t cap,
		       const char *what, const char *path, struct kv_err *err)
{
	char have[PATH_MAX], rest[PATH_MAX];
	char *p, *next, *cut;
	size_t len;
	int fd, nfd, rc, n;

	if (realpath(parent, rparent) != NULL)
		return open_trusted(rparent, what, path, err);
	if (errno != ENOENT || !(flags & KV_PRIVATE_CREATE))
		return kv_err_set(err, -errno, "%s %s: %s: %s", what, path, parent,
				  strerror(errno));
	/* The deepest directory of parent that exists; the rest is made below it. */
	len = strlen(parent);
	if (len >= sizeof(have))
		return kv_err_set(err, -ENAMETOOLONG, "%s %s: the path is too long", what, path);
	memcpy(have, parent, len + 1);
	rest[0] = '\0';
	for (;;) {
		cut = strrchr(have, '/');
		if (cut == NULL) {
			(void)snprintf(rest, sizeof(rest), "%s", parent);
			(void)snprintf(have, sizeof(have), ".");
		} else {
			(void)snprintf(rest, sizeof(rest), "%s", parent + (cut - have) + 1);
			if (cut == have)
				cut[1] = '\0';
			else
				*cut = '\0';
		}
		if (realpath(have, rparent) != NULL)
			break;
		if (errno != ENOENT || cut == NULL || strcmp(have, "/") == 0)
			return kv_err_set(err, -errno, "%s %s: %s: %s", what, path, have,
					  strerror(errno));
	}
	fd = open_trusted(rparent, what, path, err);
	for (p = rest; fd >= 0 && *p != '\0'; p = next + 1) {
		next = strchr(p, '/');
		if (next != NULL)
			*next = '\0';
		if (*p != '\0') {
			if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
				rc = kv_err_set(err, -EINVAL,
						"%s %s: no . or .. after a missing "
						"directory, please",
						what, path);
				goto fail;
			}
			len = strlen(rparent);
			n = snprintf(rparent + len, cap - len, "%s%s",
				     strcmp(rparent, "/") == 0 ? "" : "/", p);
			if (n < 0 || (size_t)n >= cap - len) {
				rc = kv_err_set(err, -ENAMETOOLONG, "%s %s: the path is too long",
						what, path);
				goto fail;
			}
			if (mkdirat(fd, p, 0755) < 0 && errno != EEXIST) {
				rc = kv_err_set(err, -errno, "%s %s: cannot create %s: %s", what,
						path, rparent, strerror(errno));
				goto fail;
			}
			nfd = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (nfd < 0) {
				rc = kv_err_set(err, -errno, "%s %s: %s: %s", what, path, rparent,
						strerror(errno));
				goto fail;
			}
			(void)close(fd);
			fd = nfd;
			rc = trusted_parent(fd, rparent, what, path, err);
			if (rc < 0)
				goto fail;
		}
		if (next == NULL)
			break;
	}
	return fd;
fail:
	(void)close(fd);
	return rc;
}

int kv_private_dir(const char *path, const char *what, unsigned flags, char *real, size_t cap,
		   struct kv_notes *notes, struct kv_err *err)
{
	char buf[PATH_MAX], rparent[PATH_MAX], owner[128], me[128];
	const char *parent, *base;
	char *slash;
	size_t len = strlen(path);
	struct stat st;
	int pfd = -1, fd = -1, rc, n;

	if (len == 0 || len >= sizeof(buf))
		return kv_err_set(err, -ENAMETOOLONG, "%s: the path is empty or too long", what);
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL) {
		parent = ".";
		base = buf;
	} else if (slash == buf) {
		parent = "/";
		base = buf + 1;
	} else {
		*slash = '\0';
		parent = buf;
		base = slash + 1;
	}
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return kv_err_set(err, -EINVAL,
				  "%s %s: name a directory of its own, not /, . or ..", what, path);
	pfd = open_parent(parent, flags, rparent, sizeof(rparent), what, path, err);
	if (pfd < 0)
		return pfd;
	if ((flags & KV_PRIVATE_CREATE) && mkdirat(pfd, base, 0700) < 0 && errno != EEXIST) {
		rc = kv_err_set(err, -errno, "%s %s: cannot create it: %s", what, path,
				strerror(errno));
		goto out;
	}
	fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			rc = kv_err_set(err, -ELOOP,
					"%s %s is a symbolic link: give the directory "
					"itself (a link can be pointed elsewhere by whoever owns "
					"it)",
					what, path);
		else if (e == ENOTDIR)
			rc = kv_err_set(err, -ENOTDIR, "%s %s is not a directory", what, path);
		else
			rc = kv_err_set(err, -e, "%s %s: %s", what, path, strerror(e));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = kv_err_set(err, -errno, "%s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (st.st_uid != geteuid()) {
		rc = kv_err_set(err, -EPERM,
				"%s %s is owned by %s, not by %s who runs this: "
				"remove it (or, if it is yours, chown %u it)",
				what, path, who(st.st_uid, owner, sizeof(owner)),
				who(geteuid(), me, sizeof(me)), (unsigned)geteuid());
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		rc = kv_err_set(err, -EPERM,
				"%s %s may be written by others (mode %04o): check "
				"what is in it, then chmod 700 %s",
				what, path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		if (fchmod(fd, 0700) < 0) {
			rc = kv_err_set(err, -errno, "%s %s: chmod 700: %s", what, path,
					strerror(errno));
			goto out;
		}
		note_add(notes, "%s %s was open to others (mode %04o); it is 0700 now", what, path,
			 (unsigned)(st.st_mode & 07777));
	}
	n = snprintf(real, cap, "%s/%s", strcmp(rparent, "/") == 0 ? "" : rparent, base);
	if (n < 0 || (size_t)n >= cap) {
		rc = kv_err_set(err, -ENAMETOOLONG, "%s %s: the path is too long", what, path);
		goto out;
	}
	rc = fd;
	fd = -1;
out:
	if (fd >= 0)
		(void)close(fd);
	(void)close(pfd);
	return rc;
}

int kv_private_file(int dirfd, const char *dir, const char *name, const char *what,
		    struct kv_notes *notes, struct kv_err *err)
{
	char owner[128], me[128];
	struct stat st;
	int fd, rc = 0;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP)
			return kv_err_set(err, -ELOOP,
					  "%s %s/%s is a symbolic link: remove it (it "
					  "would be written through)",
					  what, dir, name);
		return kv_err_set(err, -errno, "%s %s/%s: %s", what, dir, name, strerror(errno));
	}
	if (fstat(fd, &st) < 0)
		rc = kv_err_set(err, -errno, "%s %s/%s: %s", what, dir, name, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		rc = kv_err_set(err, -EINVAL, "%s %s/%s is not a regular file: remove it", what,
				dir, name);
	else if (st.st_uid != geteuid())
		rc = kv_err_set(err, -EPERM,
				"%s %s/%s is owned by %s, not by %s who runs this: "
				"remove it if you did not put it there",
				what, dir, name, who(st.st_uid, owner, sizeof(owner)),
				who(geteuid(), me, sizeof(me)));
	else if (st.st_nlink != 1)
		rc = kv_err_set(err, -EPERM,
				"%s %s/%s has %lu hard links (another name could be "
				"another file's): copy it to a file of its own",
				what, dir, name, (unsigned long)st.st_nlink);
	else if (st.st_mode & (S_IWGRP | S_IWOTH))
		rc = kv_err_set(err, -EPERM,
				"%s %s/%s may be written by others (mode %04o): "
				"check it, then chmod 600 it",
				what, dir, name, (unsigned)(st.st_mode & 07777));
	else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		if (fchmod(fd, 0600) < 0)
			rc = kv_err_set(err, -errno, "%s %s/%s: chmod 600: %s", what, dir, name,
					strerror(errno));
		else
			note_add(notes, "%s %s/%s was open to others (mode %04o); it is 0600 now",
				 what, dir, name, (unsigned)(st.st_mode & 07777));
	}
	(void)close(fd);
	return rc;
}

int kv_boot_id(char *out, size_t cap, struct kv_err *err)
{
	static const char path[] = "/proc/sys/kernel/random/boot_id";
	char buf[64];
	size_t n;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return kv_err_set(err, -errno, "%s: %s (is /proc mounted?)", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	(void)fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	if (n != 36 || cap < n + 1)
		return kv_err_set(err, -EIO, "%s: unexpected content '%s'", path, buf);
	memcpy(out, buf, n + 1);
	return 0;
}
