/* fsload.c — many small files through a file system, one process for all of them (a
 * fork per file would swamp what is measured). Used by bench/fuse.sh.
 *
 *   fsload create DIR N SIZE   write N new files DIR/f00000 ... of SIZE bytes each
 *                              (open O_CREAT|O_EXCL, write, close; close errors count)
 *   fsload read DIR N SIZE     read them back, checking every size and byte
 *
 * Prints the seconds taken; exits 1 at the first error, naming the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "load.h"

static int create_one(const char *path, const char *buf, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t n = write(fd, buf + off, size - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			(void)close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return close(fd);
}

static int read_one(const char *path, const char *want, char *got, size_t size)
{
	int fd = open(path, O_RDONLY);
	size_t off = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n = read(fd, got + off, size + 1 - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			(void)close(fd);
			if (n < 0)
				return -1;
			break;
		}
		off += (size_t)n;
		if (off > size)
			break;
	}
	if (off != size || memcmp(got, want, size) != 0) {
		(void)close(fd);
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char path[4096], *buf, *got;
	size_t size;
	long n, i;
	int create;
	double t0;

	if (argc != 5 || (strcmp(argv[1], "create") && strcmp(argv[1], "read"))) {
		fprintf(stderr, "usage: fsload create|read DIR N SIZE\n");
		return 2;
	}
	create = !strcmp(argv[1], "create");
	n = atol(argv[3]);
	size = (size_t)atol(argv[4]);
	buf = malloc(size + 1);
	got = malloc(size + 1);
	if (buf == NULL || got == NULL)
		return 1;
	t0 = now();
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/f%05ld", argv[2], i);
		fill(buf, size, i);
		if ((create ? create_one(path, buf, size) : read_one(path, buf, got, size)) < 0) {
			fprintf(stderr, "fsload: %s %s: %s\n", argv[1], path,
				errno == EBADMSG ? "wrong size or content" : strerror(errno));
			return 1;
		}
	}
	printf("%.6f\n", now() - t0);
	return 0;
}
