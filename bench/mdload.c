/* mdload.c — a metadata benchmark in the manner of mdtest, one process, one phase per run,
 * so that the caller can time a peer until its uploads are on the server. Used by
 * bench/md.sh.
 *
 *   mdload create DIR N DIRS SIZE   N new files of SIZE bytes (open O_CREAT|O_EXCL, write,
 *                                   close; close errors count), spread evenly over DIRS
 *                                   subdirectories DIR/d00 ... (made first, untimed), or
 *                                   all in DIR itself when DIRS is 1
 *   mdload stat   DIR N DIRS SIZE   stat() each; the size must be SIZE
 *   mdload read   DIR N DIRS SIZE   open, read and check each whole, close
 *   mdload unlink DIR N DIRS SIZE   unlink each (then the subdirectories, untimed)
 *
 * Prints the seconds the timed part took; exits 1 at the first error, naming the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "load.h"

enum phase { CREATE, STAT, READ, UNLINK };

static const char *const phase_names[] = { "create", "stat", "read", "unlink" };

/* Directory d of DIRS below top (top itself when there is one). */
static int dir_path(char *out, size_t len, const char *top, long dirs, long d)
{
	int n = dirs == 1 ? snprintf(out, len, "%s", top) : snprintf(out, len, "%s/d%02ld", top, d);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int write_all(int fd, const char *buf, size_t size)
{
	size_t off = 0;

	while (off < size) {
		ssize_t n = write(fd, buf + off, size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

static int create_one(const char *path, const char *buf, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0)
		return -1;
	if (write_all(fd, buf, size) < 0) {
		(void)close(fd);
		return -1;
	}
	return close(fd);
}

static int stat_one(const char *path, size_t size)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size != size) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/* Read the whole file into got (SIZE + 1 bytes, to see a longer file) and compare. */
static int read_one(const char *path, const char *want, char *got, size_t size)
{
	int fd = open(path, O_RDONLY);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off <= size) {
		ssize_t n = read(fd, got + off, size + 1 - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			(void)close(fd);
			return -1;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	if (close(fd) < 0)
		return -1;
	if (off != size || memcmp(got, want, size) != 0) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

static int one(enum phase ph, const char *path, long i, char *buf, char *got, size_t size)
{
	switch (ph) {
	case CREATE: fill(buf, size, i); return create_one(path, buf, size);
	case STAT: return stat_one(path, size);
	case READ: fill(buf, size, i); return read_one(path, buf, got, size);
	default: return unlink(path);
	}
}

/* The untimed part: subdirectories made before a create, removed after an unlink. */
static int subdirs(enum phase ph, const char *top, long dirs)
{
	char path[4096];
	long d;

	if (dirs == 1 || (ph != CREATE && ph != UNLINK))
		return 0;
	for (d = 0; d < dirs; d++) {
		if (dir_path(path, sizeof(path), top, dirs, d) < 0)
			return -1;
		if ((ph == CREATE ? mkdir(path, 0755) : rmdir(path)) < 0) {
			fprintf(stderr, "mdload: %s %s: %s\n", ph == CREATE ? "mkdir" : "rmdir",
				path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static long number(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	return v;
}

int main(int argc, char **argv)
{
	char path[4096], dir[4096], *buf, *got;
	long n, dirs, size, i;
	int ph;
	double t0, t;

	for (ph = 0; argc == 6 && ph <= UNLINK; ph++)
		if (!strcmp(argv[1], phase_names[ph]))
			break;
	n = argc == 6 ? number(argv[3], 1, 100000000) : -1;
	dirs = argc == 6 ? number(argv[4], 1, 100) : -1;
	size = argc == 6 ? number(argv[5], 0, 1 << 20) : -1;
	if (argc != 6 || ph > UNLINK || n < 0 || dirs < 0 || size < 0) {
		fprintf(stderr, "usage: mdload create|stat|read|unlink DIR N DIRS(1-100) SIZE\n");
		return 2;
	}
	buf = malloc((size_t)size + 1);
	got = malloc((size_t)size + 1);
	if (buf == NULL || got == NULL)
		return 1;
	if (ph == CREATE && subdirs(CREATE, argv[2], dirs) < 0)
		return 1;
	t0 = now();
	for (i = 0; i < n; i++) {
		if (dir_path(dir, sizeof(dir), argv[2], dirs, i % dirs) < 0 ||
		    snprintf(path, sizeof(path), "%s/f%08ld", dir, i) >= (int)sizeof(path)) {
			fprintf(stderr, "mdload: %s: path too long\n", argv[2]);
			return 1;
		}
		if (one((enum phase)ph, path, i, buf, got, (size_t)size) < 0) {
			fprintf(stderr, "mdload: %s %s: %s\n", argv[1], path,
				errno == EBADMSG ? "wrong type, size or content" : strerror(errno));
			return 1;
		}
	}
	t = now() - t0;
	if (ph == UNLINK && subdirs(UNLINK, argv[2], dirs) < 0)
		return 1;
	printf("%.6f\n", t);
	free(buf);
	free(got);
	return 0;
}
